"""Resource moments: rates per kind, their shape, rentals as counts, school places.

Statistical tolerances: a kind's total over the run is a Poisson count (a sum of
independent per-person Poisson counts), so it is compared with its expectation within 5
standard errors (sqrt of the expected count); ratios use the delta-method SE of their log.
A correct model fails one such check with probability below 1e-6; the volumes here make a
10% error in a rate fail it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import ValidationError
from tests.conftest import small_scenario

from sclab.engine import Simulation, register
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_scenario
from sclab.world.resources import (
    AGE_BANDS,
    KINDS,
    RENTAL_KINDS,
    MomentRate,
    Resources,
    ResourcesParams,
    income_multiplier,
)

N_PEOPLE = 40_000
DAYS = 60


@register("sensors", "test-resources-collector")
class MomentCollector:
    """Test sensor: copies each day's moments and school applicants (logs forget daily)."""

    def __init__(self, name: str, params: Any) -> None:
        self.name = name
        self.actors: dict[str, list[np.ndarray]] = {}
        self.school: list[tuple[int, np.ndarray, np.ndarray]] = []

    def setup(self, sim: Simulation) -> None:
        self.resources = next(c for _, c in sim.components if isinstance(c, Resources))

    def step(self, sim: Simulation, day: int) -> None:
        for m in sim.moments.today:
            self.actors.setdefault(m.kind, []).append(m.actor.copy())
            if m.kind == "school_place":
                self.school.append((day, m.actor.copy(), m.beneficiary.copy()))

    def finish(self, sim: Simulation) -> None:
        pass

    def of(self, kind: str) -> np.ndarray:
        parts = self.actors.get(kind, [])
        return np.concatenate(parts) if parts else np.empty(0, np.int64)


def build(
    tmp: Path,
    n: int = N_PEOPLE,
    days: int = DAYS,
    seed: int = 7,
    start: dt.date | None = None,
    **params: Any,
) -> Simulation:
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": n},
        sources=[{"use": "resources", "params": params}],
        sensors=[{"use": "test-resources-collector"}],
    )
    if start is not None:
        doc["start_date"] = start.isoformat()
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    population = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), population)


def collector(sim: Simulation) -> MomentCollector:
    return next(c for _, c in sim.components if isinstance(c, MomentCollector))


def resources(sim: Simulation) -> Resources:
    return next(c for _, c in sim.components if isinstance(c, Resources))


def _within(observed: float, expected: float, se: float, label: str) -> None:
    assert abs(observed - expected) < 5 * se, f"{label}: {observed} vs {expected} ± 5×{se:.3g}"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Simulation:
    sim = build(tmp_path_factory.mktemp("resources"))
    sim.run()
    return sim


def test_each_kind_at_its_configured_rate(run: Simulation) -> None:
    params = resources(run).params
    n = len(run.population.citizens)
    for kind in KINDS:
        expected = getattr(params, kind).per_year * n * DAYS / DAYS_PER_YEAR
        if kind in RENTAL_KINDS:
            observed = int(run.aggregates.counts[("person", kind)].sum())
        else:
            observed = int(sum(v for (k, _), v in run.moments.totals.items() if k == kind))
            assert observed == len(collector(run).of(kind))
        assert expected > 100, kind
        _within(observed, expected, np.sqrt(expected), kind)


def test_published_per_capita_defaults() -> None:
    p = ResourcesParams()
    assert p.flight_ticket.per_year == pytest.approx(659.93 / 1400.05)
    assert p.rail_ticket.per_year == pytest.approx(3570 / 1400.05)
    assert p.travel_abroad.per_year == pytest.approx(155 / 1400.05)
    assert p.bike_rental.per_year == pytest.approx(45 * 365 / 1400.05)


def test_rentals_are_counted_not_recorded_by_default(run: Simulation) -> None:
    for kind in RENTAL_KINDS:
        assert not collector(run).of(kind).size
        assert not any(k == kind for k, _ in run.moments.totals)
        assert run.aggregates.counts[("person", kind)].sum() > 0


def test_rentals_recorded_on_request(tmp_path: Path) -> None:
    sim = build(tmp_path, n=10_000, days=10, record_rentals=True)
    sim.run()
    for kind in RENTAL_KINDS:
        assert collector(sim).of(kind).size > 0
        assert ("person", kind) not in sim.aggregates.counts


def test_minors_and_non_drivers_never_attempt_what_they_cannot(run: Simulation) -> None:
    c = run.population.citizens
    age = c.age(run.scenario.start_date)
    minors = age < 18
    for kind in ("hotel_booking", "luxury_hotel", "loan_application", "job_application"):
        assert not minors[collector(run).of(kind)].any(), kind
    assert run.aggregates.counts[("person", "car_rental")][~c.driver_licence].sum() == 0
    assert run.aggregates.counts[("person", "bike_rental")][age < 6].sum() == 0


def test_rate_per_person_follows_age_income_residence_and_migrant(tmp_path: Path) -> None:
    days = 30
    sim = build(tmp_path, n=N_PEOPLE, days=days, flight_ticket={"per_year": 20.0})
    sim.run()
    c = sim.population.citizens
    age = c.age(sim.scenario.start_date)
    r = resources(sim).params.flight_ticket
    assert r.income_ratio == 10.0  # the partial override kept the default shape
    # Independent restatement of the documented model: multipliers renormalised to mean 1.
    band = np.searchsorted([0, 6, 18, 25, 35, 50, 60, 70], age, side="right") - 1
    mult = (
        np.array([r.age.get(b, 1.0) for b in AGE_BANDS])[band]
        * r.income_ratio ** ((c.income_decile - 4.5) / 9)
        * np.where(c.urban, 1.0, r.rural)
        * np.where(c.migrant, r.migrant, 1.0)
    )
    expected = r.per_year * days / DAYS_PER_YEAR * mult / mult.mean()
    observed = np.bincount(collector(sim).of("flight_ticket"), minlength=len(c))
    for label, group in (
        ("income decile", c.income_decile),
        ("age band", band),
        ("urban", c.urban.astype(int)),
        ("migrant", c.migrant.astype(int)),
    ):
        for g in np.unique(group):
            m = group == g
            e = expected[m].sum()
            _within(observed[m].sum(), e, np.sqrt(e), f"{label} {g}")


def test_propensity_scales_attempts(tmp_path: Path) -> None:
    days, n = 30, 20_000
    sim = build(tmp_path, n=n, days=days)
    update_propensity(sim, "rail_ticket", 0.5)
    set_propensity(sim, "flight_ticket")[:] = 0.0
    blocked_half = set_propensity(sim, "hotel_booking")
    blocked_half[: n // 2] = 0.0  # the first half stopped trying
    sim.run()
    p = resources(sim).params
    col = collector(sim)
    assert col.of("flight_ticket").size == 0
    expected = 0.5 * p.rail_ticket.per_year * n * days / DAYS_PER_YEAR
    _within(col.of("rail_ticket").size, expected, np.sqrt(expected), "rail at half propensity")
    assert (col.of("hotel_booking") >= n // 2).all() and col.of("hotel_booking").size > 0


def test_partial_kind_override_keeps_other_defaults() -> None:
    p = ResourcesParams.model_validate({"flight_ticket": {"per_year": 2.0}})
    assert p.flight_ticket.per_year == 2.0
    assert p.flight_ticket.income_ratio == ResourcesParams().flight_ticket.income_ratio
    with pytest.raises(ValidationError):
        ResourcesParams.model_validate({"flight_ticket": {"per_year": -1}})
    with pytest.raises(ValidationError, match="unknown age bands"):
        MomentRate(per_year=1, age={"12-15": 2.0})
    with pytest.raises(ValidationError):
        ResourcesParams.model_validate({"train_ticket": {"per_year": 1}})


def test_school_place_applications(tmp_path: Path) -> None:
    # Day 130 of 2019 is 10 May; start on 1 May so the application day is day 9.
    start = dt.date(2019, 5, 1)
    sim = build(
        tmp_path, n=100_000, days=15, start=start, school_apply_share=0.5, school_income_ratio=1.5
    )
    sim.run()
    c = sim.population.citizens
    res = resources(sim)
    p = res.params
    when = dt.date(2019, 5, 10)
    assert [day for day, _, _ in collector(sim).school] == [(when - start).days]
    _, parents, children = collector(sim).school[0]
    assert len(parents) == len(children) > 0
    assert np.array_equal(parents, res.parent_of_child[children])
    assert np.isin(c.age(when)[children], p.school_entry_ages).all()
    parent_age = c.age(start)[parents]
    assert ((parent_age >= p.parent_age_min) & (parent_age <= p.parent_age_max)).all()
    assert np.array_equal(c.district[parents], c.district[children])
    # Every eligible child has a parent; the count matches the expected applications.
    eligible = np.flatnonzero(np.isin(c.age(when), p.school_entry_ages))
    assert (res.parent_of_child[eligible] >= 0).all()
    decile = c.income_decile[res.parent_of_child[eligible]]
    norm = income_multiplier(np.arange(10), p.school_income_ratio).mean()
    prob = p.school_apply_share * income_multiplier(decile, p.school_income_ratio) / norm
    _within(len(children), prob.sum(), np.sqrt((prob * (1 - prob)).sum()), "applications")
    others = np.setdiff1d(np.arange(len(c)), eligible)
    assert (res.parent_of_child[others] == -1).all()


def test_no_school_applications_outside_the_application_day(run: Simulation) -> None:
    # The module run starts on 8 July for 60 days: no application day inside it.
    assert collector(run).school == []
    assert (resources(run).parent_of_child == -1).all()


def test_same_seed_same_moments_other_seed_different(tmp_path: Path) -> None:
    def moments(seed: int) -> list[np.ndarray]:
        sim = build(tmp_path, n=5000, days=10, seed=seed)
        sim.run()
        col = collector(sim)
        return [col.of(k) for k in KINDS if k not in RENTAL_KINDS] + [
            sim.aggregates.counts[("person", "bike_rental")]
        ]

    a, b, c = moments(3), moments(3), moments(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
