"""The gravest records and what they do: convictions and drunk driving as true acts, a
points delta's ``grade_cap`` (a record that puts a person directly in a grade), and
Rongcheng's grade D reached for the reasons its measures give.

Statistical tolerance: counts of independent rare events are binomial, so a count's
standard deviation is at most sqrt(expected); every rate check allows 5 standard
deviations (a correct model fails one with probability below 1e-6), while a rate off by
20 % or a share off by 5 points fails at these sample sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import build_simulation, run_cli, run_keeping_acts, small_scenario
from tests.test_scenario_errors import assert_one_line_error

from sclab.engine.ages import ages
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.policy.grades import capped_deltas, grade_ceiling
from sclab.policy.schema import Grade, PointsDelta
from test_policy_engine import run_policy

GRADES = [Grade(name="A", min=960), Grade(name="B", min=850), Grade(name="C", min=600),
          Grade(name="D")]  # fmt: skip


CAPPED: dict[str, Any] = {
    "id": "capped",
    "title": "a conviction puts the person in D",
    "scores": [{
        "id": "points", "type": "points", "base": 1000,
        "deltas": [
            {"events": {"kinds": ["criminal_conviction"]}, "delta": -100, "grade_cap": "D",
             "rule_id": "conviction"},
            {"events": {"kinds": ["heroic_act"]}, "delta": 30},
        ],
        "grades": [{"name": "A", "min": 960}, {"name": "B", "min": 850},
                   {"name": "C", "min": 600}, {"name": "D"}],
    }],
    "rules": [{"id": "warning", "when": {"grade": ["D"]},
               "effects": [{"sanction": {"kind": "warning", "domain": "credit_notice"}}]}],
    "joint": [{"id": "d_loans", "when": {"grade": ["D"]}, "moments": ["loan_application"],
               "effect": "blocked"}],
    "due_process": {"enabled": False},
}  # fmt: skip


def _acts_of(acts: list, kind: str) -> np.ndarray:
    return np.concatenate([a.actor for a in acts if a.kind == kind] or [np.empty(0, np.int64)])


def test_convictions_and_drunk_driving_at_their_rates_and_sex_shares(write_scenario) -> None:
    days, size = 60, 30_000
    params: dict[str, Any] = {
        "enabled_streams": ["criminal_conviction", "drunk_driving"],
        "history_since": None,
        "criminal_convictions_per_adult_year": 0.5,
        "criminal_conviction_male_share": 0.8,
        "drunk_driving_per_driver_year": 0.5,
        "drunk_driving_male_share": 0.95,
    }
    doc = small_scenario(days=days, population={"size": size},
                         sources=[{"use": "state_data", "params": params}])  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    acts = run_keeping_acts(sim)
    c = sim.population.citizens
    adult = ages(sim) >= 18
    for kind, pool, rate, share in (
        ("criminal_conviction", adult, 0.5, 0.8),
        ("drunk_driving", c.driver_licence, 0.5, 0.95),
    ):
        who = _acts_of(acts, kind)
        expected = pool.sum() * rate / DAYS_PER_YEAR * days  # about 1,000-2,000
        assert abs(len(who) - expected) < 5 * np.sqrt(expected), kind
        assert pool[who].all(), f"{kind} outside its pool"
        men = c.male[who].mean()
        assert abs(men - share) < 5 * np.sqrt(share * (1 - share) / len(who)), (kind, men)


def test_convictions_have_a_warm_start(write_scenario, tmp_path: Path) -> None:
    """Convictions before day 0 reach a points policy as past records: the history's count
    is the rate times the adults' past days (to 5 s.d., plus 1 % for the people counted
    as adults of day 0 who turned 18 within the year)."""
    import yaml

    policy = tmp_path / "capped.yaml"
    score = {**CAPPED["scores"][0], "deltas": CAPPED["scores"][0]["deltas"][:1]}
    reader = {**CAPPED, "scores": [score], "joint": []}
    policy.write_text(yaml.safe_dump(reader, sort_keys=False), encoding="utf-8")
    history = 365
    doc = small_scenario(
        days=1,
        population={"size": 20_000},
        sources=[{"use": "state_data", "params": {
            "enabled_streams": ["criminal_conviction"], "history_days": history,
            "criminal_convictions_per_adult_year": 0.2,
        }}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": str(policy)}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    kept: list = []
    sim.step(before_day_ends=lambda s: kept.extend(s.acts.today))
    past = [a for a in kept if "occurred_day" in a.extra]
    assert {a.kind for a in past} == {"criminal_conviction"}
    n = sum(len(a) for a in past)
    adults = int((ages(sim) >= 18).sum())
    expected = adults * 0.2 / DAYS_PER_YEAR * history  # about 3,300
    assert abs(n - expected) < 5 * np.sqrt(expected) + 0.01 * expected


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.integers(300, 1100), min_size=1, max_size=8),
    repeats=st.lists(st.integers(1, 3), min_size=8, max_size=8),
    delta=st.integers(-200, 0),
    cap=st.sampled_from(["B", "C", "D"]),
)
def test_a_grade_cap_drops_a_score_into_the_grade_at_once(
    values: list[int], repeats: list[int], delta: int, cap: str
) -> None:
    """Applied in order, an entity's records under a capped delta leave its score at
    min(value + delta, ceiling) + (k - 1) delta for k records: in the grade or below,
    never raised, and further records deduct only the delta."""
    value = np.array(values, np.float32)
    entity = np.repeat(np.arange(len(values)), repeats[: len(values)])
    rng = np.random.default_rng(len(entity))
    entity = entity[rng.permutation(len(entity))]  # records in any order
    d = PointsDelta(events={"kinds": ["criminal_conviction"]}, delta=delta, grade_cap=cap)
    change = capped_deltas(GRADES, d, entity, value)
    after = value.astype(np.float64).copy()
    np.add.at(after, entity, change.astype(np.float64))
    ceiling = grade_ceiling(GRADES, cap)
    k = np.bincount(entity, minlength=len(values))
    want = np.minimum(value + delta, ceiling) + (k - 1) * delta
    assert np.allclose(after, want)
    assert (after <= ceiling).all() and (after <= value).all()
    names = [g.name for g in GRADES]
    for v in after:  # the grade of the result is the cap's or a lower one
        grade = next(g.name for g in GRADES if g.min is None or v >= g.min)
        assert names.index(grade) >= names.index(cap)
    plain = PointsDelta(events={"kinds": ["criminal_conviction"]}, delta=delta)
    assert (capped_deltas(GRADES, plain, entity, value) == delta).all()


def test_a_conviction_puts_the_person_in_grade_d_and_its_measures_fire(tmp_path: Path) -> None:
    events = [
        {"day": 0, "kind": "heroic_act", "person": 1},
        {"day": 1, "kind": "criminal_conviction", "person": 1},  # 1030 -> 599
        {"day": 2, "kind": "criminal_conviction", "person": 1},  # 599 -> 499
        {"day": 1, "kind": "criminal_conviction", "person": 2},  # 1000 -> 599
    ]
    moments = [{"day": 3, "kind": "loan_application", "person": p} for p in (1, 2, 3)]
    con = run_policy(tmp_path, CAPPED, events, days=4, moments=moments)
    scores = dict(con.execute("SELECT entity_id, value FROM final_scores "
                              "WHERE entity_id IN (1, 2, 3)").fetchall())  # fmt: skip
    assert scores == {1: 499.0, 2: 599.0, 3: 1000.0}
    changes = con.execute(
        "SELECT entity_id, day, delta FROM score_changes WHERE rule_id = 'conviction' "
        "ORDER BY entity_id, day"
    ).fetchall()
    assert changes == [(1, 1, -431.0), (1, 2, -100.0), (2, 1, -401.0)]
    warned = con.execute("SELECT entity_id FROM sanctions WHERE rule_id = 'warning' "
                         "ORDER BY 1").fetchall()  # fmt: skip
    assert warned == [(1,), (2,)]  # once each: on entering D
    blocked = con.execute(
        "SELECT actor FROM resource_moments WHERE outcome = 'blocked' ORDER BY 1"
    ).fetchall()
    assert blocked == [(1,), (2,)]


@pytest.mark.parametrize(
    ("cap", "delta", "message"),
    [
        ("E", -100, "grade_cap names unknown grade 'E'"),
        ("A", -100, "is the top grade"),
        ("D", 5, "needs a delta of 0 or less"),
    ],
)
def test_a_bad_grade_cap_is_one_line_with_its_field(
    tmp_path: Path, cap: str, delta: int, message: str
) -> None:
    import yaml

    bad = {"events": {"kinds": ["criminal_conviction"]}, "delta": delta, "grade_cap": cap}
    policy = {**CAPPED, "scores": [{**CAPPED["scores"][0], "deltas": [bad]}]}
    path = tmp_path / "capped.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    assert_one_line_error(run_cli("check-policy", path), message, "grade_cap", "capped.yaml")
