"""The company-conduct source: rates by sector and size, legal representatives, hooks.

Statistical tolerance: each count is a sum of independent Bernoulli draws, so its standard
deviation is at most sqrt(expected); checks allow 5 standard deviations (false alarm below
1e-6 per check), which still catches a rate off by 20 % at these sample sizes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from tests.conftest import run_keeping_acts

from sclab.engine import Simulation
from sclab.engine.acts import Acts
from sclab.engine.propensity import propensity_company_key
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.population.companies import SIZES
from sclab.world.company_conduct import (
    COMPANY_NON_PERFORMANCE,
    COMPANY_PERFORMED,
    KINDS,
    CompanyConductParams,
)


def build(
    write_scenario,
    size: int,
    per_1000: float,
    days: int,
    seed: int = 7,
    reader: str | None = None,
    **params: Any,
) -> Simulation:
    """A run of company conduct alone; with ``reader`` (a policy file) also the records
    sensor and that policy, so that the past records it reads are emitted."""
    from tests.conftest import build_simulation, small_scenario

    readers = {} if reader is None else {
        "sensors": [{"use": "records"}],
        "policies": [{"use": "pack", "params": {"pack": reader}}],
    }  # fmt: skip
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": size},
        companies={"per_1000_people": per_1000},
        # The run's own acts: no warm start (tested in tests/test_warm_start.py).
        sources=[{"use": "company_conduct", "params": {"history_days": 0, **params}}],
        **readers,
    )
    return build_simulation(write_scenario(doc))


run = run_keeping_acts  # shared helper (tests/conftest.py)


def actors(acts: list[Acts], kind: str) -> np.ndarray:
    return np.concatenate([a.actor for a in acts if a.kind == kind] or [np.empty(0, np.int64)])


def within(observed: float, expected: float, sds: float = 5.0) -> bool:
    return abs(observed - expected) <= sds * np.sqrt(max(expected, 1.0))


def expected_per_company(sim: Simulation, params: CompanyConductParams, kind: str) -> np.ndarray:
    """Configured daily probability of ``kind`` for every company, written out independently."""
    companies = sim.population.companies
    sectors = list(sim.scenario.companies.sectors)
    by_sector = params.sector_multipliers.get(kind, {})
    sector_mult = np.array([by_sector.get(s, 1.0) for s in sectors])[companies.sector]
    size_factors = params.size_multipliers[kind]
    size_mult = np.array([getattr(size_factors, s) for s in SIZES])[companies.size]
    base = getattr(params, f"{kind}_per_year") * params.rate_multiplier / DAYS_PER_YEAR
    return base * sector_mult * size_mult


def test_rates_by_kind_sector_and_size_match_config(write_scenario) -> None:
    days = 60
    params = {f"{k}_per_year": 2.0 for k in KINDS}
    sim = build(write_scenario, 50_000, 500, days, **params)
    acts = run(sim)
    p = CompanyConductParams.model_validate(params)
    companies = sim.population.companies
    sectors = list(sim.scenario.companies.sectors)
    assert len(companies) == 25_000
    for kind in KINDS:
        rate = expected_per_company(sim, p, kind) * days
        who = actors(acts, kind)
        assert within(len(who), rate.sum()), kind
        for s in range(len(sectors)):
            in_s = companies.sector == s
            got = int(in_s[who].sum())
            assert within(got, rate[in_s].sum()), (kind, sectors[s], got, rate[in_s].sum())
        for z in range(len(SIZES)):
            in_z = companies.size == z
            assert within(int(in_z[who].sum()), rate[in_z].sum()), (kind, SIZES[z])
    # Environmental violations concentrate in manufacturing and construction.
    env = actors(acts, "environmental_violation")
    per_company = np.bincount(companies.sector[env], minlength=len(sectors)) / np.bincount(
        companies.sector, minlength=len(sectors)
    )
    dirty = [sectors.index("manufacturing"), sectors.index("construction")]
    clean = [sectors.index(s) for s in ("information_technology", "finance", "wholesale_retail")]
    assert per_company[dirty].min() > 3 * per_company[clean].max()


def test_defaults_have_the_documented_order_of_magnitude(write_scenario) -> None:
    days = 120
    sim = build(write_scenario, 100_000, 200, days)
    acts = run(sim)
    p = CompanyConductParams()
    for kind in KINDS:
        expected = expected_per_company(sim, p, kind).sum() * days
        assert expected > 10, kind
        assert within(len(actors(acts, kind)), expected), kind
    # Environmental violations average about 0.0042 per enterprise-year (MEE 2019).
    env_yearly = expected_per_company(sim, p, "environmental_violation").mean() * DAYS_PER_YEAR
    assert 0.003 < env_yearly < 0.006


def test_acts_name_companies_and_their_legal_representatives(write_scenario) -> None:
    sim = build(write_scenario, 20_000, 300, 20, **{f"{k}_per_year": 3.0 for k in KINDS})
    acts = run(sim)
    companies = sim.population.companies
    assert {a.kind for a in acts} == set(KINDS) | {COMPANY_NON_PERFORMANCE, COMPANY_PERFORMED}
    for a in acts:
        assert a.entity_type == "company" and a.source == "company_conduct"
        assert (a.actor < len(companies)).all()
        assert np.array_equal(a.extra["legal_rep"], companies.legal_rep[a.actor])
        assert a.kind == COMPANY_PERFORMED or (a.extra["amount"] > 0).all()
    # Larger firms owe more (amounts scale with size class).
    amount = np.concatenate([a.extra["amount"] for a in acts if a.kind == "contract_breach"])
    size = companies.size[actors(acts, "contract_breach")]
    assert np.median(amount[size == 0]) < np.median(amount[size >= 1])


def test_company_propensity_state_multiplies_the_rate(write_scenario) -> None:
    days = 40
    params = {f"{k}_per_year": 0.0 for k in KINDS} | {"contract_breach_per_year": 3.0}
    sim = build(write_scenario, 40_000, 500, days, **params)
    mult = sim.state.add(propensity_company_key("contract_breach"), "company", np.float32, 1.0)
    ids = np.arange(len(mult))
    mult[ids % 3 == 0] = 0.0
    mult[ids % 3 == 1] = 2.5
    mult[ids % 3 == 2] = 40.0  # above max_propensity (10): counts as 10
    who = actors(run(sim), "contract_breach")
    rate = expected_per_company(sim, CompanyConductParams.model_validate(params), "contract_breach")
    assert not (who % 3 == 0).any()
    for r, m in ((1, 2.5), (2, 10.0)):
        expected = rate[ids % 3 == r].sum() * m * days
        assert within(int((who % 3 == r).sum()), expected), (r, expected)


def test_multipliers_given_in_a_scenario_merge_into_the_defaults() -> None:
    p = CompanyConductParams.model_validate(
        {
            "sector_multipliers": {"environmental_violation": {"manufacturing": 8.0}},
            "size_multipliers": {"contract_breach": {"large": 5.0}},
        }
    )
    env = p.sector_multipliers["environmental_violation"]
    assert env["manufacturing"] == 8.0 and env["construction"] == 4.0
    assert p.sector_multipliers["contract_breach"]["construction"] == 2.0
    assert p.size_multipliers["contract_breach"].large == 5.0
    assert p.size_multipliers["contract_breach"].medium == 2.0
    assert p.size_multipliers["environmental_violation"].large == 3.0


def test_zero_rate_silences_a_kind(write_scenario) -> None:
    rates = {f"{k}_per_year": 2.0 for k in KINDS} | {"product_quality_violation_per_year": 0.0}
    acts = run(build(write_scenario, 10_000, 300, 10, **rates))
    kinds = {a.kind for a in acts}
    assert "product_quality_violation" not in kinds and "contract_breach" in kinds


def test_same_seed_same_acts_and_different_seed_different(write_scenario) -> None:
    def fingerprint(seed: int) -> list[tuple[Any, ...]]:
        acts = run(
            build(write_scenario, 10_000, 300, 20, seed=seed, **{f"{k}_per_year": 2 for k in KINDS})
        )
        return [
            (a.day, a.kind, a.actor.tolist(), a.extra.get("amount", np.empty(0)).tolist())
            for a in acts
        ]

    a, b, c = fingerprint(7), fingerprint(7), fingerprint(8)
    assert a == b and len(a) > 20
    assert a != c


def test_company_debtors_arrive_perform_and_start_warm(write_scenario, tmp_path: Path) -> None:
    days = 60
    rate, hazard = 0.05, 0.01
    # A policy reads the debtors' records, so their history is emitted (a past no policy
    # reads is not: world/history.py).
    reader = tmp_path / "reader.yaml"
    reader.write_text(
        "id: reader\ntitle: reads\ncounters:\n  - {id: c, entity: company, "
        "events: {kinds: [company_non_performance]}, window_days: 3650}\n",
        encoding="utf-8",
    )
    sim = build(
        write_scenario, 40_000, 500, days, reader=str(reader),
        company_non_performance_per_year=rate, company_performance_hazard_per_day=hazard,
        company_court_history_days=400,
    )  # fmt: skip
    acts = run(sim)
    n = len(sim.population.companies)
    daily = rate / DAYS_PER_YEAR
    # The warm start: unresolved on day 0 with probability f (1 - (1 - h)^H) / h, acts of
    # their true past day (occurred_day < 0), on the first day.
    history = [a for a in acts if "occurred_day" in a.extra]
    assert len(history) == 1 and history[0].day == 0
    past = history[0].extra["occurred_day"]
    assert (past < 0).all() and (past >= -400).all()
    expected_stock = n * daily * (1 - (1 - hazard) ** 400) / hazard
    assert within(len(past), expected_stock)
    # Later defaults at the daily rate (those already unresolved do not default again).
    new = actors([a for a in acts if "occurred_day" not in a.extra], COMPANY_NON_PERFORMANCE)
    assert within(len(new), n * daily * days)
    # Performances at the hazard, by debtors only (one who performed may default again).
    performed = actors(acts, COMPANY_PERFORMED)
    assert np.isin(performed, np.concatenate([history[0].actor, new])).all()
    assert within(len(performed), expected_stock * (1 - (1 - hazard) ** (days - 1)), 6)


@pytest.mark.parametrize(
    "bad",
    [
        {"jaywalking_per_year": 1.0},
        {"contract_breach_per_year": -1.0},
        {"sector_multipliers": {"jaywalking": {"finance": 2.0}}},
        {"sector_multipliers": {"contract_breach": {"finance": -2.0}}},
        {"size_multipliers": {"contract_breach": {"huge": 2.0}}},
        {"contract_breach_median_cny": 0.0},
        {"speed": 3},
    ],
)
def test_invalid_params_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        CompanyConductParams.model_validate(bad)
