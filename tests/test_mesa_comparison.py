"""The Mesa version of the Nanjing model (benchmarks/mesa_nanjing.py) agrees with sclab.

benchmarks/compare_mesa.py times sclab against the same model written the Mesa 3 way;
the timing means something only while the two are the same model. Here both run on the
same 10,000 people and intersections for 60 days, with a high capture and a lenient
matcher so that every part of the model (captures, false matches, the more-than-five
rule, wrongful listings) has counts to compare, and every output must agree within 4
standard deviations of the difference between two independent runs of one model
(sqrt(2 n var) of the per-person counts, compare_mesa.agreement): two runs of one model
pass with probability above 99.9 % per output. What the check catches: a Mesa model
without the rank rule, the matcher's demographic multipliers or the non-residents fails
it (each moves false identifications or probes by 6 to 25 sd); a shift of the threshold
from 5 to 6 or flat jaywalking by sex does not, at this size.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import compare_mesa as cm  # noqa: E402
import mesa_nanjing as mn  # noqa: E402

PEOPLE, DAYS = 10_000, 60
#: Enough cameras, captures and false matches in a small run (see the module docstring).
OVERRIDES = {
    "streets.residents_per_intersection": 20,
    "cameras.capture": 0.2,
    "cameras.matcher.fmr": 1e-4,
}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, object]:
    tmp = tmp_path_factory.mktemp("mesa")
    scenario = cm.nanjing_alone(PEOPLE, DAYS, overrides=OVERRIDES, policy_dir=tmp)
    ours = cm.run_sclab(scenario, tmp / "sclab")
    theirs = cm.run_mesa(scenario, cm.sclab_places(scenario), seed=7)
    return ours, theirs, scenario


def test_outputs_agree_within_four_sd(both) -> None:
    ours, theirs, _ = both
    rows = cm.agreement(ours["outputs"], theirs["outputs"], theirs["per_person"])
    outside = [r for r in rows if abs(r["z"]) > 4]
    assert not outside, outside
    # The comparison has power: every part of the model produced counts.
    got = ours["outputs"]
    assert got["resident_probes"] > 2_000 and got["non_resident_probes"] > 200
    assert got["false_identifications"] > 1_000 and got["list_entries"] > 20
    assert got["wrongful_entries"] > 10


def test_rates_agree(both) -> None:
    """Jaywalks per person-day within 3 %, identifications per jaywalk within 10 %, the
    false share of identifications within 5 points (each several sd of its run-to-run
    spread at this size)."""
    ours, theirs, _ = both
    a, b = ours["outputs"], theirs["outputs"]
    agent_days = PEOPLE * DAYS
    assert a["jaywalks"] / agent_days == pytest.approx(b["jaywalks"] / agent_days, rel=0.03)
    per_jaywalk = [x["identifications"] / x["jaywalks"] for x in (a, b)]
    assert per_jaywalk[0] == pytest.approx(per_jaywalk[1], rel=0.10)
    false_share = [x["false_identifications"] / x["identifications"] for x in (a, b)]
    assert false_share[0] == pytest.approx(false_share[1], abs=0.05)
    # Both hit the published share of crossings against the red light.
    for x in (a, b):
        assert x["jaywalks"] / x["crossings"] == pytest.approx(0.1854, rel=0.03)


def test_own_intersections_follow_sclab(both) -> None:
    """Drawn by the Mesa model, the city has sclab's number of intersections per district,
    and where it has as many cameras, they carry the same share of the flow."""
    _, _, scenario = both
    theirs = cm.sclab_places(scenario)
    params = mn.NanjingParams.from_scenario(scenario)
    people = mn.people_of(scenario)
    model = mn.NanjingModel(people, params, seed=3)
    ours = [
        [(x.weight, x.camera is not None) for x in places] for places, _ in model.district_places
    ]
    assert [len(d) for d in ours] == [len(d) for d in theirs]
    same = 0
    for a, b in zip(ours, theirs, strict=True):
        if sum(c for _, c in a) == sum(c for _, c in b) and 0 < sum(c for _, c in a) < len(a):
            same += 1
            w_a = sum(w for w, c in a if c)
            w_b = sum(w for w, c in b if c)
            assert w_a == pytest.approx(w_b, rel=1e-5)
        assert sum(w for w, _ in a) == pytest.approx(1.0)
    assert same > 0


def test_refuses_what_it_does_not_model(tmp_path: Path) -> None:
    scenario = cm.nanjing_alone(
        PEOPLE, DAYS, overrides={"streets.record_every_event": True}, policy_dir=tmp_path
    )
    with pytest.raises(ValueError, match="record_every_event"):
        mn.NanjingParams.from_scenario(scenario)
