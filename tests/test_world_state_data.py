"""The state-data source: court pipeline, arrears, tickets, penalties, commendations.

Statistical tolerance: counts of independent rare events are binomial (or sums of
binomials), so a count's standard deviation is at most sqrt(expected). Every rate check
allows 5 standard deviations, which a correct model exceeds with probability below 1e-6
per check, while a wrong rate (off by 20 % or more at these sample sizes) fails.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from tests.conftest import run_keeping_acts

from sclab.engine import Simulation
from sclab.engine.acts import Acts
from sclab.engine.ages import ages
from sclab.engine.propensity import set_propensity
from sclab.engine.simulation import DAYS_PER_MONTH, DAYS_PER_YEAR
from sclab.population.citizens import OCCUPATIONS
from sclab.world.state_data import GROUNDS, STREAMS, CaseBook, StateDataParams

NO_COURT = [s for s in STREAMS if s != "court"]


def build(write_scenario, size: int, days: int, seed: int = 7, **params: Any) -> Simulation:
    from tests.conftest import build_simulation, small_scenario

    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": size},
        # The run's own acts: no warm start of the simple streams (tests/test_warm_start.py).
        sources=[{"use": "state_data", "params": {"history_since": None, **params}}],
    )
    return build_simulation(write_scenario(doc))


run = run_keeping_acts  # shared helper (tests/conftest.py)


def table(acts: list[Acts], kind: str) -> dict[str, np.ndarray]:
    """One kind's acts as columns: day, actor and every extra."""
    batches = [a for a in acts if a.kind == kind]
    out: dict[str, np.ndarray] = {
        "day": np.concatenate([np.full(len(a), a.day) for a in batches] or [np.empty(0, int)]),
        "actor": np.concatenate([a.actor for a in batches] or [np.empty(0, np.int64)]),
    }
    for key in batches[0].extra if batches else ():
        out[key] = np.concatenate([a.extra[key] for a in batches])
    return out


def within(observed: float, expected: float, sds: float = 5.0) -> bool:
    return abs(observed - expected) <= sds * np.sqrt(max(expected, 1.0))


def pools(sim: Simulation) -> dict[str, np.ndarray]:
    c = sim.population.citizens
    adult = ages(sim) >= 18
    return {
        "adult": adult,
        "self_employed": adult & (c.occupation == OCCUPATIONS.index("self_employed")),
        "driver": c.driver_licence,
    }


def test_arrival_streams_match_configured_rates_and_pools(write_scenario) -> None:
    days = 60
    rates = {
        "tax_arrears_per_self_employed_year": 3.0,
        "utility_arrears_per_adult_month": 0.3,
        "traffic_tickets_per_driver_year": 5.0,
        "administrative_penalty_per_adult_year": 1.0,
        "heroic_acts_per_adult_year": 0.5,
    }
    sim = build(write_scenario, 50_000, days, enabled_streams=NO_COURT, **rates)
    acts = run(sim)
    pool = pools(sim)
    daily = {
        "tax_arrears": ("self_employed", rates["tax_arrears_per_self_employed_year"] / 365),
        "utility_arrears": ("adult", rates["utility_arrears_per_adult_month"] / DAYS_PER_MONTH),
        "traffic_ticket": ("driver", rates["traffic_tickets_per_driver_year"] / DAYS_PER_YEAR),
        "administrative_penalty": (
            "adult",
            rates["administrative_penalty_per_adult_year"] / DAYS_PER_YEAR,
        ),
        "heroic_act": ("adult", rates["heroic_acts_per_adult_year"] / DAYS_PER_YEAR),
    }
    for kind, (who, p) in daily.items():
        t = table(acts, kind)
        expected = pool[who].sum() * p * days
        assert expected > 1000, kind  # large enough to tell a 20 % error
        assert within(len(t["actor"]), expected), (kind, len(t["actor"]), expected)
        assert pool[who][t["actor"]].all(), f"{kind} outside its pool"
        assert all(a.entity_type == "person" and a.source == "state_data" for a in acts)
        if kind == "heroic_act":
            assert "amount" not in t
        else:
            assert (t["amount"] > 0).all(), kind
    fines = table(acts, "traffic_ticket")["amount"]
    assert fines.min() >= 20 and fines.max() <= 200
    assert not [a for a in acts if a.kind in ("sued", "judgment_lost")]


def test_only_drivers_get_traffic_tickets(write_scenario) -> None:
    sim = build(
        write_scenario, 20_000, 30, enabled_streams=["traffic_ticket"],
        traffic_tickets_per_driver_year=20.0,
    )  # fmt: skip
    t = table(run(sim), "traffic_ticket")
    drivers = sim.population.citizens.driver_licence
    assert len(t["actor"]) > 5000
    assert drivers[t["actor"]].all()
    # Many drivers got one, so the check is not vacuous.
    assert len(np.unique(t["actor"])) > 0.5 * drivers.sum()


def test_defaults_have_the_documented_order_of_magnitude(write_scenario) -> None:
    days = 120
    sim = build(write_scenario, 100_000, days)
    acts = run(sim)
    p = StateDataParams()
    pool = pools(sim)
    # Defaults as documented: ~0.6 % of adults sued a year (10-13 million cases, 60 % with a
    # person defendant, 1.14 billion adults), a few % of drivers' tickets a month, etc.
    assert 0.004 < p.sued_per_adult_year < 0.01
    expected = {
        "sued": pool["adult"].sum() * p.sued_per_adult_year / DAYS_PER_YEAR * days,
        "tax_arrears": pool["self_employed"].sum()
        * p.tax_arrears_per_self_employed_year
        / DAYS_PER_YEAR
        * days,
        "utility_arrears": pool["adult"].sum()
        * p.utility_arrears_per_adult_month
        / DAYS_PER_MONTH
        * days,
        "traffic_ticket": pool["driver"].sum()
        * p.traffic_tickets_per_driver_year
        / DAYS_PER_YEAR
        * days,
        "administrative_penalty": pool["adult"].sum()
        * p.administrative_penalty_per_adult_year
        / DAYS_PER_YEAR
        * days,
    }
    for kind, e in expected.items():
        n = len(table(acts, kind)["actor"])
        assert e > 30, kind
        assert within(n, e), (kind, n, e)
    # Heroic acts are very rare: about 0.3 expected here, so at most a handful.
    assert len(table(acts, "heroic_act")["actor"]) <= 5
    # The warm start leaves cases pending judgment on day 0 (court_history_days), so
    # judgments arrive from day 0 at the steady daily rate, adults x sued x lose share,
    # rather than only after the 60-day minimum delay as from an empty court.
    lost = table(acts, "judgment_lost")
    e_lost = pool["adult"].sum() * p.sued_per_adult_year / DAYS_PER_YEAR * p.lose_share * days
    assert within(len(lost["day"]), e_lost), (len(lost["day"]), e_lost)
    assert lost["day"].min() < 60


def test_without_warm_start_no_judgment_before_the_shortest_delay(write_scenario) -> None:
    sim = build(write_scenario, 100_000, 120, enabled_streams=["court"], court_history_days=0)
    lost = table(run(sim), "judgment_lost")
    # 60-180 days to judgment: a few judgments after 120 days, but none before day 60.
    assert len(lost["day"]) > 0 and lost["day"].min() >= 60


def fast_court(**overrides: Any) -> dict[str, Any]:
    """Court-only parameters with short delays and a high suing rate, from empty courts.

    The pipeline's flows are checked case by case from day 0, so without the warm start
    (tests/test_court_warm_start.py covers it).
    """
    params: dict[str, Any] = {
        "enabled_streams": ["court"],
        "court_history_days": 0,
        "sued_per_adult_year": 3.0,
        "judgment_delay_min_days": 3,
        "judgment_delay_max_days": 8,
        "deadline_min_days": 2,
        "deadline_max_days": 6,
        "performance_hazard_per_day": 0.02,
    }
    params.update(overrides)
    return params


def test_court_pipeline_conserves_cases(write_scenario) -> None:
    days = 60
    sim = build(write_scenario, 30_000, days, **fast_court())
    acts = run(sim)
    sued, lost = table(acts, "sued"), table(acts, "judgment_lost")
    nonperf, performed = table(acts, "non_performance"), table(acts, "judgment_performed")
    for t in (sued, lost, nonperf, performed):
        assert len(np.unique(t["case_id"])) == len(t["case_id"]), "a case acted twice"
    sued_by = dict(
        zip(sued["case_id"].tolist(), zip(sued["actor"], sued["day"], strict=True), strict=True)
    )
    lost_by = {
        c: (a, d, m)
        for c, a, d, m in zip(
            lost["case_id"], lost["actor"], lost["day"], lost["amount"], strict=True
        )
    }
    np_by = {
        c: (a, d, m)
        for c, a, d, m in zip(nonperf["case_id"], nonperf["actor"], nonperf["day"],
                              nonperf["amount"], strict=True)
    }  # fmt: skip
    assert len(sued_by) > 10_000 and len(lost_by) > 3000 and len(np_by) > 500
    for c, (person, day, _) in lost_by.items():
        s_person, s_day = sued_by[c]
        assert person == s_person and 3 <= day - s_day <= 8
    for c, (person, day, amount) in np_by.items():
        l_person, l_day, l_amount = lost_by[c]
        assert person == l_person and 2 <= day - l_day <= 6
        assert amount == l_amount and amount > 0
    late = performed["late"]
    for c, person, day, amount, is_late in zip(
        performed["case_id"],
        performed["actor"],
        performed["day"],
        performed["amount"],
        late,
        strict=True,
    ):
        if is_late:
            np_person, np_day, np_amount = np_by[c]
            assert person == np_person and day > np_day and amount == np_amount
        else:
            l_person, l_day, l_amount = lost_by[c]
            assert c not in np_by and person == l_person and 2 <= day - l_day <= 6
            assert amount == l_amount and amount > 0
    # Performed cases never exceed the cases that could be performed.
    assert late.sum() <= len(np_by)
    assert len(performed["case_id"]) <= len(np_by) + (~late).sum()
    # Non-monetary lost judgments end there.
    ended = {c for c, (_, _, m) in lost_by.items() if m == 0}
    assert ended and not ended & (set(np_by) | set(performed["case_id"].tolist()))

    # Shares among cases old enough to be decided (filed before the last possible delay).
    decided = sued["day"] < days - 8
    n_decided = int(decided.sum())
    n_lost = int(np.isin(sued["case_id"][decided], lost["case_id"]).sum())
    assert within(n_lost, 0.6 * n_decided)
    money = lost["amount"] > 0
    assert within(int(money.sum()), 0.85 * len(money))


def test_ground_shares_match_config(write_scenario) -> None:
    shares = (0.1, 0.2, 0.3, 0.1, 0.25, 0.05)
    sim = build(
        write_scenario, 30_000, 40,
        **fast_court(lose_share=1.0, money_judgment_share=1.0,
                     nonperform_by_decile=[1.0] * 10, ground_shares=list(shares)),
    )  # fmt: skip
    ground = table(run(sim), "non_performance")["ground"]
    n = len(ground)
    assert n > 5000 and ground.dtype == np.uint8
    assert set(np.unique(ground)) <= set(range(1, len(GROUNDS) + 1))
    counts = np.bincount(ground, minlength=7)[1:]
    for got, share in zip(counts, shares, strict=True):
        assert within(int(got), n * share), (counts, shares)


def test_poorer_debtors_fail_to_perform_more_often(write_scenario) -> None:
    # Defaults for the probabilities by decile; everything else fast so that many
    # deadlines fall inside the run.
    sim = build(
        write_scenario, 40_000, 40,
        **fast_court(lose_share=1.0, money_judgment_share=1.0, performance_hazard_per_day=0.0),
    )  # fmt: skip
    acts = run(sim)
    decile = sim.population.citizens.income_decile
    bad = np.bincount(decile[table(acts, "non_performance")["actor"]], minlength=10)
    good = np.bincount(decile[table(acts, "judgment_performed")["actor"]], minlength=10)
    deadlines = bad + good
    assert deadlines.min() > 300
    configured = np.array(StateDataParams().nonperform_by_decile)
    for d in range(10):
        assert within(int(bad[d]), deadlines[d] * configured[d]), (d, bad[d], deadlines[d])
    rate = bad / deadlines
    assert rate[:3].mean() > rate[-3:].mean() + 0.2


def test_non_performance_propensity_scales_the_probability(write_scenario) -> None:
    sim = build(
        write_scenario, 30_000, 40,
        **fast_court(lose_share=1.0, money_judgment_share=1.0, performance_hazard_per_day=0.0,
                     nonperform_by_decile=[0.4] * 10),
    )  # fmt: skip
    mult = set_propensity(sim, "non_performance")
    mult[::2] = 0.0  # even ids always perform, odd ids at the base probability
    acts = run(sim)
    bad = table(acts, "non_performance")["actor"]
    good = table(acts, "judgment_performed")["actor"]
    assert not (bad % 2 == 0).any()
    odd_deadlines = int((bad % 2 == 1).sum() + (good % 2 == 1).sum())
    assert within(len(bad), 0.4 * odd_deadlines)


def test_perform_judgment_propensity_of_3_triples_later_performance(write_scenario) -> None:
    days, hazard = 60, 0.01
    sim = build(
        write_scenario, 50_000, days,
        **fast_court(lose_share=1.0, money_judgment_share=1.0,
                     nonperform_by_decile=[1.0] * 10, performance_hazard_per_day=hazard),
    )  # fmt: skip
    set_propensity(sim, "perform_judgment")[::2] = 3.0
    acts = run(sim)
    nonperf, performed = table(acts, "non_performance"), table(acts, "judgment_performed")
    assert performed["late"].all()
    end = dict.fromkeys(nonperf["case_id"].tolist(), days)  # censored at the end of the run
    end.update(zip(performed["case_id"].tolist(), (performed["day"] + 1).tolist(), strict=True))
    # Days at risk: from the day after non-performance up to and including the performance.
    exposure = np.array([end[c] for c in nonperf["case_id"].tolist()]) - nonperf["day"] - 1
    group = nonperf["actor"] % 2  # 0: propensity 3, 1: propensity 1
    events = np.array([(performed["actor"] % 2 == g).sum() for g in (0, 1)])
    at_risk = np.array([exposure[group == g].sum() for g in (0, 1)])
    assert events.min() > 1000
    for g, h in ((0, 3 * hazard), (1, hazard)):
        assert within(int(events[g]), at_risk[g] * h), (g, events[g], at_risk[g] * h)
    ratio = (events[0] / at_risk[0]) / (events[1] / at_risk[1])
    # log-ratio s.e. = sqrt(1/e0 + 1/e1) < 0.04, so 5 s.e. is within a factor exp(0.2).
    assert 3 * np.exp(-0.2) < ratio < 3 * np.exp(0.2)


def test_arrival_propensity_multiplies_the_rate_up_to_the_bound(write_scenario) -> None:
    days, rate = 40, 2.0
    sim = build(
        write_scenario, 40_000, days, enabled_streams=["traffic_ticket"],
        traffic_tickets_per_driver_year=rate, max_propensity=4.0,
    )  # fmt: skip
    mult = set_propensity(sim, "traffic_ticket")
    ids = np.arange(len(mult))
    mult[ids % 3 == 1] = 2.5
    mult[ids % 3 == 2] = 9.0  # above max_propensity: counts as 4
    tickets = table(run(sim), "traffic_ticket")["actor"]
    drivers = sim.population.citizens.driver_licence
    for r, m in ((0, 1.0), (1, 2.5), (2, 4.0)):
        pool = int((drivers & (ids % 3 == r)).sum())
        got = int((tickets % 3 == r).sum())
        assert within(got, pool * m * rate / DAYS_PER_YEAR * days), (r, got)


def test_streams_switch_off_independently(write_scenario) -> None:
    rates = {"traffic_tickets_per_driver_year": 5.0, "utility_arrears_per_adult_month": 0.2}
    both = run(build(write_scenario, 10_000, 10, **rates))
    only = run(build(write_scenario, 10_000, 10, enabled_streams=["traffic_ticket"], **rates))
    zero = run(build(write_scenario, 10_000, 10, **{**rates, "utility_arrears_per_adult_month": 0}))
    assert {a.kind for a in only} == {"traffic_ticket"}
    assert not [a for a in zero if a.kind == "utility_arrears"]
    # Each stream has its own random stream: switching one off leaves the others' draws.
    for other in (only, zero):
        assert np.array_equal(
            table(both, "traffic_ticket")["actor"], table(other, "traffic_ticket")["actor"]
        )


def fingerprint(acts: list[Acts]) -> list[tuple[Any, ...]]:
    return [
        (a.day, a.kind, a.actor.tolist(), sorted((k, v.tolist()) for k, v in a.extra.items()))
        for a in acts
    ]


def test_same_seed_same_acts_and_different_seed_different(write_scenario) -> None:
    params = fast_court(enabled_streams=list(STREAMS), traffic_tickets_per_driver_year=3.0)
    a = fingerprint(run(build(write_scenario, 8_000, 25, **params)))
    b = fingerprint(run(build(write_scenario, 8_000, 25, **params)))
    c = fingerprint(run(build(write_scenario, 8_000, 25, seed=8, **params)))
    assert a == b
    assert a != c
    assert {x[1] for x in a} >= {"sued", "judgment_lost", "non_performance", "traffic_ticket"}


@pytest.mark.parametrize(
    "bad",
    [
        {"ground_shares": [0.5, 0.5]},
        {"ground_shares": [0.5, 0.5, 0.5, 0.0, 0.0, 0.0]},
        {"nonperform_by_decile": [0.5] * 9},
        {"nonperform_by_decile": [1.5] * 10},
        {"judgment_delay_min_days": 90, "judgment_delay_max_days": 30},
        {"enabled_streams": ["court", "weather"]},
        {"enabled_streams": ["court", "court"]},
        {"sued_per_adult_year": -1},
        {"speed": 3},
    ],
)
def test_invalid_params_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        StateDataParams.model_validate(bad)


@settings(max_examples=60, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2**16)), max_size=40))
def test_case_book_keeps_exactly_the_open_cases(ops: list[tuple[int, int]]) -> None:
    book = CaseBook(capacity=4)
    live: dict[int, int] = {}  # case id -> person
    for k, seed in ops:
        rng = np.random.default_rng(seed)
        people = rng.integers(0, 1000, k)
        ids = book.open(people, np.full(k, 5, np.int32))
        live.update(zip(ids.tolist(), people.tolist(), strict=True))
        open_slots = np.flatnonzero(book.stage[: book.n] != 255)
        shut = open_slots[rng.random(len(open_slots)) < 0.5]
        for c in book.case_id[shut].tolist():
            del live[c]
        book.close(shut)
        book.compact()
        alive = book.stage[: book.n] != 255
        got = dict(
            zip(
                book.case_id[: book.n][alive].tolist(),
                book.person[: book.n][alive].tolist(),
                strict=True,
            )
        )
        assert got == live
    assert book.next_id == sum(k for k, _ in ops)
