"""Streets: intersections, cameras, crossings and jaywalks.

Statistical tolerances: every count tested is a Poisson (or binomial) total, so it is
compared with its expectation within 5 standard errors (sqrt of the expected count, or the
binomial/delta-method SE for shares and ratios). A correct model fails such a check with
probability below 1e-6 per assertion; a rate off by 10% on these volumes (hundreds of
thousands of crossings) fails it with near certainty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.conftest import small_scenario

import sclab.world.streets  # registers the component
from sclab.engine import Simulation, register
from sclab.population import generate_population
from sclab.population.citizens import OCCUPATIONS
from sclab.rng import Streams
from sclab.scenario import load_scenario
from sclab.world.base import set_propensity
from sclab.world.streets import (
    Streets,
    alias_tables,
    cumulative_weights,
    land,
    land_alias,
    streets_of,
)

N_PEOPLE = 40_000
DAYS = 30


@register("sensors", "test-streets-collector")
class ActCollector:
    """Test sensor: keeps a copy of each day's jaywalk acts (ActLog forgets them daily)."""

    def __init__(self, name: str, params: Any) -> None:
        self.name = name
        self.batches: list[dict[str, np.ndarray]] = []

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        for acts in sim.acts.of_kind("jaywalk"):
            self.batches.append({"actor": acts.actor.copy(), **acts.extra})

    def finish(self, sim: Simulation) -> None:
        pass

    def joined(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.batches]) for k in self.batches[0]}


def build(tmp: Path, n: int = N_PEOPLE, days: int = DAYS, seed: int = 7, **params: Any):
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": n},
        sources=[{"use": "streets", "params": params}],
        sensors=[{"use": "test-streets-collector"}],
    )
    path = tmp / f"scenario-{seed}-{n}-{days}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    population = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), population)


def collector(sim: Simulation) -> ActCollector:
    return next(c for _, c in sim.components if isinstance(c, ActCollector))


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Simulation:
    sim = build(tmp_path_factory.mktemp("streets"))
    sim.run()
    return sim


def _within(observed: float, expected: float, se: float, label: str) -> None:
    assert abs(observed - expected) < 5 * se, f"{label}: {observed} vs {expected} ± 5×{se:.3g}"


def test_intersections_per_district_weights_and_busiest_get_cameras(run: Simulation) -> None:
    st_ = streets_of(run)
    places = st_.intersections
    p = st_.params
    residents = np.bincount(run.population.citizens.district)
    per_district = np.bincount(places.district, minlength=len(residents))
    expected = np.maximum(1, np.round(residents / p.residents_per_intersection))
    assert per_district.tolist() == expected.astype(int).tolist()
    assert np.array_equal(np.diff(places.first), per_district)
    assert places.district.dtype == np.uint8 and places.has_camera.dtype == bool
    assert places.weight.dtype == np.float32
    assert np.array_equal(places["district"], places.district)
    for d in range(len(residents)):
        block = places.district == d
        w, cam = places.weight[block], places.has_camera[block]
        assert w.sum() == pytest.approx(1.0, rel=1e-5)
        assert cam.sum() == round(p.camera_share * block.sum())
        if cam.any() and (~cam).any():
            assert w[cam].min() > w[~cam].max()  # cameras on the busiest


def test_district_overrides_and_unknown_codes(tmp_path: Path) -> None:
    sim = build(
        tmp_path,
        n=5000,
        days=1,
        intersections_by_district={320106: 20, 320118: 0},
        camera_share=0.5,
        camera_share_by_district={320106: 0.25},
    )
    places = streets_of(sim).intersections
    assert np.bincount(places.district, minlength=3).tolist() == [20, 1, 0]
    assert int(places.has_camera[places.district == 0].sum()) == 5
    assert int(places.has_camera[places.district == 1].sum()) == round(0.5 * 1)
    sim.run()
    gaochun = np.flatnonzero(sim.population.citizens.district == 2)
    assert sim.aggregates.counts[("person", "crossing")][gaochun].sum() == 0
    with pytest.raises(ValueError, match="999999"):
        build(tmp_path, n=3000, days=1, intersections_by_district={999999: 3})


def test_streets_of_requires_the_component(tmp_path: Path) -> None:
    doc = small_scenario(days=1)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    scenario = load_scenario(str(path))
    sim = Simulation.build(
        scenario, Streams(1), generate_population(scenario, Streams(scenario.seed))
    )
    with pytest.raises(LookupError, match="streets"):
        streets_of(sim)


def test_crossing_rates_by_group(run: Simulation) -> None:
    c = run.population.citizens
    p = streets_of(run).params
    age = c.age(run.scenario.start_date)
    crossings = run.aggregates.counts[("person", "crossing")].astype(np.int64)
    jobs = ("civil_servant", "state_enterprise", "private", "self_employed")
    working = np.isin(c.occupation, [OCCUPATIONS.index(o) for o in jobs])
    mid = (age >= 30) & (age <= 59)
    groups = {
        "urban commuters 30-59": (mid & c.urban & working, p.commuter_multiplier),
        "rural commuters 30-59": (
            mid & ~c.urban & working,
            p.commuter_multiplier * p.rural_multiplier,
        ),
        "urban non-commuters 60+": (
            (age >= 60) & c.urban & ~working,
            p.crossing_age["60+"],
        ),
        "urban children 6-17": ((age >= 6) & (age <= 17) & c.urban, p.crossing_age["6-17"]),
    }
    for label, (mask, mult) in groups.items():
        expected = mask.sum() * DAYS * p.crossings_per_day * mult
        assert expected > 2000, label
        _within(crossings[mask].sum(), expected, np.sqrt(expected), label)


def test_person_and_intersection_totals_agree(run: Simulation) -> None:
    st_ = streets_of(run)
    crossings = run.aggregates.counts[("person", "crossing")]
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    jay = collector(run).joined()
    assert len(jay["actor"]) == st_.jaywalks_total.sum() == run.acts.totals["jaywalk"]
    # Nobody jaywalks more often than they cross.
    assert np.all(np.bincount(jay["actor"], minlength=len(crossings)) <= crossings)


def test_jaywalk_share_and_sex_ratio(run: Simulation) -> None:
    st_ = streets_of(run)
    c = run.population.citizens
    p = st_.params
    jay_total = st_.jaywalks_total.sum()
    crossings = run.aggregates.counts[("person", "crossing")].astype(np.int64)
    n_cross = crossings.sum()
    share = p.jaywalk_share
    _within(jay_total / n_cross, share, np.sqrt(share * (1 - share) / n_cross), "share")

    # Same age band and residence: the per-crossing jaywalk share of men over women is the
    # configured multiplier. SE of the log ratio by the delta method.
    actor = collector(run).joined()["actor"]
    jays = np.bincount(actor, minlength=len(c))
    age = c.age(run.scenario.start_date)
    band = (age >= 30) & (age <= 59) & c.urban
    shares, var_log = [], 0.0
    for male in (True, False):
        m = band & (c.male == male)
        k, n = jays[m].sum(), crossings[m].sum()
        shares.append(k / n)
        var_log += (1 - k / n) / k
    ratio = np.log(shares[0] / shares[1])
    _within(ratio, np.log(p.jaywalk_male_multiplier), np.sqrt(var_log), "male/female")


def test_jaywalks_happen_in_own_district_at_real_intersections(run: Simulation) -> None:
    places = streets_of(run).intersections
    jay = collector(run).joined()
    c = run.population.citizens
    assert jay["place_id"].dtype == np.int32 and jay["district"].dtype == np.uint8
    assert jay["camera"].dtype == bool
    assert jay["place_id"].min() >= 0 and jay["place_id"].max() < len(places)
    assert np.array_equal(jay["district"], c.district[jay["actor"]])
    assert np.array_equal(places.district[jay["place_id"]], jay["district"])
    assert np.array_equal(jay["camera"], places.has_camera[jay["place_id"]])


def test_jaywalks_and_lawful_crossings_follow_intersection_weights(run: Simulation) -> None:
    st_ = streets_of(run)
    places = st_.intersections
    for counts in (st_.jaywalks_total, st_.lawful_total):
        for d in range(int(places.district.max()) + 1):
            block = places.district == d
            if block.sum() < 2:
                continue
            observed = counts[block]
            expected = places.weight[block].astype(np.float64) * observed.sum()
            expected *= observed.sum() / expected.sum()
            assert stats.chisquare(observed, expected).pvalue > 1e-6


def test_propensity_scales_jaywalking_not_crossing(tmp_path: Path) -> None:
    days = 20
    results = {}
    for level in (1.0, 0.5, 0.0):
        sim = build(tmp_path, n=20_000, days=days)
        if level != 1.0:
            set_propensity(sim, "jaywalk")[:] = level
        sim.run()
        st_ = streets_of(sim)
        results[level] = (int(st_.jaywalks_total.sum()), int(st_.lawful_total.sum()))
        crossings = sim.aggregates.counts[("person", "crossing")]
        assert crossings.sum() == sum(results[level])
    jay1, lawful1 = results[1.0]
    assert results[0.0][0] == 0  # no jaywalks at all when deterred completely
    _within(results[0.5][0], jay1 / 2, np.sqrt(jay1), "half propensity")
    total1 = jay1 + lawful1
    for level in (0.5, 0.0):
        total = sum(results[level])
        _within(total, total1, np.sqrt(2 * total1), f"crossings at propensity {level}")


def test_propensity_zero_gives_no_acts(tmp_path: Path) -> None:
    sim = build(tmp_path, n=5000, days=5)
    set_propensity(sim, "jaywalk")[:] = 0.0
    sim.run()
    assert sim.acts.totals.get("jaywalk", 0) == 0
    assert all(len(b["actor"]) == 0 for b in collector(sim).batches)


def test_same_seed_same_acts_other_seed_different(tmp_path: Path) -> None:
    def acts(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sim = build(tmp_path, n=5000, days=5, seed=seed)
        sim.run()
        jay = collector(sim).joined()
        return jay["actor"], jay["place_id"], sim.aggregates.counts[("person", "crossing")]

    a, b, c = acts(3), acts(3), acts(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_land_stays_in_the_district_block(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    weight = rng.lognormal(0, 2, int(first[-1])).astype(np.float32)
    cum = cumulative_weights(first, weight)
    inhabited = np.flatnonzero(np.diff(first) > 0)
    if len(inhabited) == 0:
        return
    district = rng.choice(inhabited, 500)
    u = np.concatenate([rng.random(498), [0.0, np.nextafter(1.0, 0.0)]])
    place = land(cum, district, u)
    assert np.all(place >= first[district]) and np.all(place < first[district + 1])


def test_component_is_registered_as_a_source() -> None:
    from sclab.engine import REGISTRY

    assert "streets" in REGISTRY.available("sources")
    assert REGISTRY.entry("sources", "streets").factory is Streets
    assert sclab.world.streets.JAYWALK == "jaywalk"


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_alias_landing_stays_in_block_and_follows_weights(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    weight = rng.lognormal(0, 2, int(first[-1])).astype(np.float32)
    keep, alias = alias_tables(first, weight)
    inhabited = np.flatnonzero(np.diff(first) > 0)
    if len(inhabited) == 0:
        return
    district = rng.choice(inhabited, 20_000)
    u = np.concatenate([rng.random(19_998), [0.0, np.nextafter(1.0, 0.0)]])
    place = land_alias(first, keep, alias, district, u)
    assert place.dtype == np.int32
    assert np.all(place >= first[district]) and np.all(place < first[district + 1])
    # Exact probabilities of the tables: slot share keep/k plus what aliases send.
    for d in inhabited:
        lo, hi = int(first[d]), int(first[d + 1])
        k = hi - lo
        prob = keep[lo:hi] / k
        np.add.at(prob, alias[lo:hi] - lo, (1.0 - keep[lo:hi]) / k)
        w = weight[lo:hi].astype(np.float64)
        assert np.allclose(prob, w / w.sum(), atol=1e-9)
        n_d = int((district == d).sum())
        got = np.bincount(place[district == d] - lo, minlength=k)
        # Multinomial counts: each within 5 binomial standard errors.
        sd = np.sqrt(n_d * prob * (1 - prob))
        assert np.all(np.abs(got - n_d * prob) <= 5 * sd + 1)


def test_propensity_changing_mid_run_moves_jaywalks_and_lawful_crossings(tmp_path: Path) -> None:
    n, days, switch = 20_000, 20, 10
    sim = build(tmp_path, n=n, days=days)
    mult = set_propensity(sim, "jaywalk")  # all 1: the tracker starts from the base flow
    st_ = streets_of(sim)
    even_jaywalks_after = 0
    for day in range(days):
        if day == switch:
            mult[::2] = 0.0  # even ids stop jaywalking: all their crossings become lawful
        sim.step()
        if day >= switch:
            acts = collector(sim).batches[-1]  # today's jaywalks
            even_jaywalks_after += int((acts["actor"] % 2 == 0).sum())
    crossings = sim.aggregates.counts[("person", "crossing")].astype(np.int64)
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    assert even_jaywalks_after == 0
    # Expected lawful crossings per person: cross·(1 - s) before the switch, then cross for
    # even ids and cross·(1 - s) for odd ones.
    cls = st_._class_of
    cross = st_.crossing_rate[cls]
    share = st_.jaywalk_prob[cls]
    even = np.arange(n) % 2 == 0
    lawful_exp = cross * (1 - share) * switch + np.where(even, cross, cross * (1 - share)) * (
        days - switch
    )
    jay = np.bincount(collector(sim).joined()["actor"], minlength=n)
    lawful = crossings - jay
    for label, m in (("even", even), ("odd", ~even)):
        e = lawful_exp[m].sum()
        _within(lawful[m].sum(), e, np.sqrt(e), f"lawful crossings, {label} ids")
    e = lawful_exp.sum()
    _within(st_.lawful_total.sum(), e, np.sqrt(e), "lawful crossings at intersections")
