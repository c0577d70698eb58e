"""Warm starts of the simple streams, the payments' adverse records and company conduct.

Statistics on controlled inputs, each with its tolerance: the law of
:func:`sclab.world.history.past_events`, the stock of a stream's past records (rate ×
window), a points warm start against the compound-Poisson formula, the expected misses
and defaults of a loan against a Monte Carlo, and that records made before the run count
in windows from the day they were made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from tests.conftest import build_simulation, small_scenario

from sclab.arrays import lex_order
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.policy.engine import PolicyEngine
from sclab.policy.state import WindowCounter
from sclab.world.history import adult_on, by_person_then_day, days_since, past_events
from sclab.world.payments import loan_outcomes

NO_ERRORS = {
    "misattribution_rate": 0.0,
    "id_typo_rate": 0.0,
    "stale_rate": 0.0,
    "thin_file": {"migrant_capture": 1.0},
}


def test_past_events_law() -> None:
    rng = np.random.default_rng(3)
    pool = np.arange(5_000, 25_000)
    p, days = 0.001, 800
    who, day = past_events(rng, pool, p, days)
    mean = len(pool) * p * days  # 16,000; s.d. about 126
    assert abs(len(who) - mean) < 5 * np.sqrt(mean)
    assert day.min() >= -days and day.max() <= -1
    assert np.isin(who, pool).all()
    # By person, then oldest first; every past day about equally often (chi-square, 799
    # degrees of freedom: mean 799, s.d. 40).
    assert ((np.diff(who) > 0) | ((np.diff(who) == 0) & (np.diff(day) >= 0))).all()
    per_day = np.bincount(-day, minlength=days + 1)[1:]
    chi2 = float((((per_day - mean / days) ** 2) / (mean / days)).sum())
    assert chi2 < days + 6 * np.sqrt(2 * days)
    assert past_events(rng, pool, 0.0, days)[0].size == 0
    assert past_events(rng, pool, p, 0)[0].size == 0


@pytest.mark.parametrize("who_high, day_span", [(1, 1), (50, 3), (10**7, 2000), (2**40, 2**30)])
def test_by_person_then_day_is_the_sorted_pairs(who_high: int, day_span: int) -> None:
    """The pairs in lex_order(day, who), with their dtypes; repeats kept; the last case
    does not fit one int64 and takes the fallback."""
    rng = np.random.default_rng(who_high)
    for k in (0, 1, 5000):
        who = rng.integers(0, who_high, k).astype(np.int64)
        day = (-rng.integers(1, day_span + 1, k)).astype(np.int32)
        order = lex_order(day, who)
        got_who, got_day = by_person_then_day(who.copy(), day.copy())
        assert got_who.dtype == np.int64 and got_day.dtype == np.int32
        assert np.array_equal(got_who, who[order]) and np.array_equal(got_day, day[order])


def test_days_since() -> None:
    import datetime as dt

    start = dt.date(2019, 7, 8)
    assert days_since(start, dt.date(2016, 1, 5), None) == 1280
    assert days_since(start, dt.date(2016, 1, 5), 30) == 30
    assert days_since(start, None, None) == 0
    assert days_since(start, dt.date(2020, 1, 1), None) == 0


@pytest.mark.parametrize(
    ("term", "first", "repeat", "after"), [(12, 0.03, 0.35, 3), (3, 0.5, 0.5, 2)]
)
def test_loan_outcomes_match_the_chain(term: int, first: float, repeat: float, after: int) -> None:
    misses, default = loan_outcomes(term, first, repeat, after)
    rng = np.random.default_rng(1)
    n, got_m, got_d = 100_000, 0, 0
    for _ in range(n):
        paid = run = 0
        while paid < term:
            if rng.random() < (first if run == 0 else repeat):
                run += 1
                got_m += 1
                if run == after:
                    got_d += 1
                    break
            else:
                paid, run = paid + 1, 0
    # Standard errors of the means are below 0.01 for both settings.
    assert abs(got_m / n - misses) < 0.03
    assert abs(got_d / n - default) < 0.005
    assert loan_outcomes(term, 0.0, repeat, after) == (0.0, 0.0)


def _first_day_acts(sim: Any) -> list:
    kept: list = []
    sim.step(before_day_ends=lambda s: kept.extend(s.acts.today))
    return kept


def _reader(tmp: Path, kinds: list[str], entity: str = "person", window: int = 3650) -> str:
    """A policy that counts ``kinds`` in a window (so that their history is recorded)."""
    doc = {
        "id": "reader",
        "title": "reads",
        "counters": [
            {"id": "c", "entity": entity, "events": {"kinds": kinds}, "window_days": window}
        ],
    }
    path = tmp / "reader.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return str(path)


def test_stock_of_past_records_is_rate_times_window(write_scenario, tmp_path: Path) -> None:
    history = 730
    rate_month = 0.02
    doc = small_scenario(
        days=1,
        population={"size": 20_000},
        sources=[{"use": "state_data", "params": {
            "enabled_streams": ["utility_arrears"], "history_days": history,
            "utility_arrears_per_adult_month": rate_month,
        }}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": _reader(tmp_path, ["utility_arrears"])}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    acts = [a for a in _first_day_acts(sim) if "occurred_day" in a.extra]
    assert {a.kind for a in acts} == {"utility_arrears"}
    who = np.concatenate([a.actor for a in acts])
    day = np.concatenate([a.extra["occurred_day"] for a in acts])
    assert day.min() >= -history and day.max() < 0
    # Expected: the daily probability times, per adult, the past days on which they were
    # already adult (computed day by day, independently of the source's draw).
    src = next(c for _, c in sim.components if c.name == "state_data")
    adults = src.adults.astype(np.int64)
    adult_days = (
        sum(
            int(adult_on(sim, adults, np.full(len(adults), -a), 18).sum())
            for a in range(1, history + 1, 7)
        )
        * 7
    )  # every 7th day, times 7: exact to well below the tolerance
    expected = rate_month / (365.25 / 12) * adult_days  # about 9,600
    assert abs(len(who) - expected) < 5 * np.sqrt(expected)
    # Nobody acted before turning 18.
    assert adult_on(sim, who, day, 18).all()


def _points_policy(tmp: Path) -> Path:
    policy = {
        "id": "pts", "title": "points",
        "scores": [{
            "id": "p", "type": "points", "base": 1000,
            "deltas": [
                {"events": {"kinds": ["traffic_ticket"]}, "delta": -5},
                {"events": {"kinds": ["volunteer_service"]}, "delta": 2},
            ],
        }],
    }  # fmt: skip
    path = tmp / "pts.yaml"
    path.write_text(yaml.safe_dump(policy), encoding="utf-8")
    return path


def test_points_warm_start_is_compound_poisson(write_scenario, tmp_path: Path) -> None:
    history = 1000
    tickets, sessions = 1.0, 6.0  # a year
    doc = small_scenario(
        days=1,
        population={"size": 30_000},
        sources=[{"use": "state_data", "params": {
            "enabled_streams": ["traffic_ticket", "volunteer_service"],
            "history_days": history, "traffic_tickets_per_driver_year": tickets,
            "volunteer_share_of_adults": 0.5, "volunteer_sessions_per_year": sessions,
        }}],
        sensors=[{"use": "records", "params": NO_ERRORS}],
        policies=[{"use": "pack", "params": {"pack": str(_points_policy(tmp_path))}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    sim.step()
    src = next(c for _, c in sim.components if c.name == "state_data")
    engine = next(c for _, c in sim.components if isinstance(c, PolicyEngine))
    value = engine.scores.points["p"].value
    # People adult for the whole history: drivers who volunteer, and drivers who do not.
    n = len(value)
    old = np.zeros(n, bool)
    old[src.adults] = True
    old &= adult_on(sim, np.arange(n), np.full(n, -history), 18)
    driver = np.zeros(n, bool)
    driver[src.drivers] = True
    volunteer = np.zeros(n, bool)
    volunteer[src.volunteers] = True
    for group, lam in (
        (old & driver & volunteer, {-5: tickets, 2: sessions}),
        (old & driver & ~volunteer, {-5: tickets}),
    ):
        v = value[group].astype(np.float64)
        # Compound Poisson: mean base + sum d λ, variance sum d² λ (λ over the history).
        mean = 1000 + sum(d * r * history / DAYS_PER_YEAR for d, r in lam.items())
        var = sum(d * d * r * history / DAYS_PER_YEAR for d, r in lam.items())
        k = len(v)
        assert k > 1000
        assert abs(v.mean() - mean) < 5 * np.sqrt(var / k), (v.mean(), mean)
        # The sample variance's s.d. is about var * sqrt(2 / k) for these near-normal sums.
        assert abs(v.var() - var) < 5 * var * np.sqrt(2 / k), (v.var(), var)


def test_windows_count_past_records_from_the_day_they_were_made() -> None:
    c = WindowCounter(10, 100)
    entity = np.array([1, 2, 3, 3])
    made = np.array([-150, -100, -99, -1])
    c.add(0, entity, np.array([False, False, True, False]), np.arange(4), made)
    # -150 and -100 have left a 100-day window by day 0; -99 leaves on day 1, -1 on day 99.
    assert c.count.tolist()[1:4] == [0, 0, 2] and c.bad[3] == 1
    c.expire(1)
    assert c.count[3] == 1 and c.bad[3] == 0
    c.expire(99)
    assert c.count[3] == 0


def test_company_conduct_history_stock(write_scenario, tmp_path: Path) -> None:
    reader = _reader(tmp_path, ["contract_breach"], "company", window=100)
    doc = small_scenario(
        days=1,
        population={"size": 20_000},
        companies={"per_1000_people": 200},
        sources=[{"use": "company_conduct", "params": {
            "history_days": 400, "contract_breach_per_year": 1.0,
            "company_tax_arrears_per_year": 0.0, "environmental_violation_per_year": 0.0,
            "product_quality_violation_per_year": 0.0,
        }}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": reader}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    src = next(c for _, c in sim.components if c.name == "company_conduct")
    expected = float(src.daily["contract_breach"] @ src.classes.size) * 400
    acts = [a for a in _first_day_acts(sim) if "occurred_day" in a.extra]
    got = sum(len(a) for a in acts)
    assert {a.entity_type for a in acts} == {"company"}
    assert abs(got - expected) < 5 * np.sqrt(expected)


def test_only_what_a_policy_can_see_is_recorded(write_scenario, tmp_path: Path) -> None:
    """A 100-day window sees records made in the last 100 days: the acts of the year
    before that (the recording margin) are recorded too, older ones are not, and a kind
    no policy reads has no history at all (its draws are made all the same)."""
    from sclab.world.history import RECORDING_MARGIN_DAYS

    doc = small_scenario(
        days=1,
        population={"size": 5000},
        companies={"per_1000_people": 200},
        # Without the company court stream, whose debtors from before the run are the
        # court's warm start (world/company_conduct.py), not this history.
        sources=[{"use": "company_conduct", "params": {
            "history_days": 1000, "company_non_performance_per_year": 0}}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {
            "pack": _reader(tmp_path, ["contract_breach"], "company", window=100)}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    src = next(c for _, c in sim.components if c.name == "company_conduct")
    drawn = {a.kind: a.extra["occurred_day"].copy() for a in src._past._acts}
    assert set(drawn) == {
        "contract_breach", "company_tax_arrears", "environmental_violation",
        "product_quality_violation",
    }  # fmt: skip
    acts = [a for a in _first_day_acts(sim) if "occurred_day" in a.extra]
    assert {a.kind for a in acts} == {"contract_breach"}
    day = np.concatenate([a.extra["occurred_day"] for a in acts])
    cut = -(100 + RECORDING_MARGIN_DAYS)
    assert np.array_equal(
        np.sort(day), np.sort(drawn["contract_breach"][drawn["contract_breach"] > cut])
    )
    assert (drawn["contract_breach"] <= cut).any()


def test_every_rongcheng_grade_is_populated_and_its_measures_fire(
    write_scenario, tmp_path: Path
) -> None:
    """With recorded conduct sixteen times as frequent as the defaults (a small population
    then spans the tails that millions of people reach), the warm start spreads
    Rongcheng's points over every grade, AAA to D, and each grade's measures decide
    resource moments."""
    import duckdb

    from sclab.run import run_scenario
    from sclab.targets import load_scenario

    doc = small_scenario(
        days=20,
        population={"size": 20_000},
        sources=[
            {"use": "state_data", "params": {"rate_multiplier": 16}},
            {"use": "payments", "params": {"rate_multiplier": 2}},
            {"use": "resources", "params": {"rate_multiplier": 5}},
            {"use": "company_conduct"},  # the court pack lists company debtors too
        ],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": "court-defaulters"}},
                  {"use": "pack", "params": {"pack": "rongcheng"}}],
    )  # fmt: skip
    result = run_scenario(load_scenario(str(write_scenario(doc))), tmp_path / "run")
    con = duckdb.connect(str(result.database), read_only=True)
    grades = dict(
        con.execute(
            "SELECT grade::VARCHAR, count(*) FROM final_scores WHERE system = 'rongcheng' "
            "GROUP BY 1"
        ).fetchall()
    )
    assert set(grades) == {"AAA", "AA", "A", "B", "C", "D"}, grades
    fired = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT rule_id::VARCHAR FROM sanctions WHERE system = 'rongcheng'"
        ).fetchall()
    }
    measures = {"top_grade_loans", "top_grade_services", "grade_c_restrictions",
                "grade_d_loans", "grade_d_insurance"}  # fmt: skip
    assert measures <= fired, measures - fired
    # Day 0's points rest on records made before the run, dated in the past.
    past = con.execute(
        "SELECT count(*) FROM score_changes s JOIN events e USING (event_id) "
        "WHERE s.system = 'rongcheng' AND s.day = 0 AND e.day < 0"
    ).fetchone()[0]
    assert past > 1000


def test_late_bill_history_is_each_payers_dues_times_their_late_share(
    write_scenario, tmp_path: Path
) -> None:
    history = 400
    doc = small_scenario(
        days=1,
        population={"size": 20_000},
        sources=[{"use": "payments", "params": {
            "bill_history_days": history, "loan_history_days": 0, "bill_late_share": 0.2,
        }}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": _reader(tmp_path, ["bill_late"])}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    src = next(c for _, c in sim.components if c.name == "payments")
    acts = [a for a in _first_day_acts(sim) if "occurred_day" in a.extra]
    assert {a.kind for a in acts} == {"bill_late"}
    who = np.concatenate([a.actor for a in acts])
    day = np.concatenate([a.extra["occurred_day"] for a in acts])
    # Each late bill fell due that day: the payer's day of the month is the day's.
    slot_of = np.full(len(sim.population.citizens), -1)
    slot_of[src._bill_people] = np.arange(len(src._bill_people))
    due_dom = np.searchsorted(src._bill_offsets, slot_of[who], side="right")
    dates = np.datetime64(sim.scenario.start_date, "D") + day.astype("timedelta64[D]")
    assert np.array_equal(due_dom, (dates - dates.astype("datetime64[M]")).astype(int) + 1)
    # Expected count, payer by payer: dues in the window (while adult) times the late share.
    people = src._bill_people.astype(np.int64)
    dom = np.searchsorted(src._bill_offsets, np.arange(len(people)), side="right")
    past = np.datetime64(sim.scenario.start_date, "D") - np.arange(1, history + 1).astype(
        "timedelta64[D]"
    )
    past_dom = (past - past.astype("datetime64[M]")).astype(int) + 1
    expected = 0.0
    for d in range(1, 29):
        backs = -np.arange(1, history + 1)[past_dom == d]
        at = np.flatnonzero(dom == d)
        for b in backs:
            adult = adult_on(sim, people[at], np.full(len(at), b), 18)
            expected += float(src._p_late[src._decile[people[at]]][adult].sum())
    assert abs(len(who) - expected) < 5 * np.sqrt(expected), (len(who), expected)


def test_bundles_store_fewer_rows_and_change_no_decision(write_scenario, tmp_path: Path) -> None:
    """A person's past records that no policy tells apart are one events row (a bundle);
    with bundles off every record is a row. The decisions are the same either way: final
    scores, list entries, sanctions and the records counted (sum of ``records``)."""
    import duckdb

    from sclab.run import run_scenario
    from sclab.targets import load_scenario

    def run(bundle: bool) -> duckdb.DuckDBPyConnection:
        doc = small_scenario(
            days=40,
            population={"size": 8_000},
            sources=[
                {"use": "state_data", "params": {"rate_multiplier": 8}},
                {"use": "payments", "params": {"rate_multiplier": 2}},
                {"use": "resources"},
                {"use": "company_conduct"},
                {"use": "social_media"},
            ],
            sensors=[{"use": "records", "params": {"bundle_past_records": bundle}}],
            policies=[{"use": "pack", "params": {"pack": p}}
                      for p in ("court-defaulters", "rongcheng", "sesame")],
        )  # fmt: skip
        path = write_scenario(doc, f"bundle-{bundle}.yaml")
        result = run_scenario(load_scenario(str(path)), tmp_path / f"run-{bundle}")
        return duckdb.connect(str(result.database), read_only=True)

    on, off = run(True), run(False)
    same = [
        "SELECT system, score, entity_id, value, grade FROM final_scores ORDER BY ALL",
        "SELECT entity_id, list, start_day, end_day, wrongful FROM list_entries ORDER BY ALL",
        "SELECT entity_id, day, kind, domain, wrongful FROM sanctions ORDER BY ALL",
        "SELECT kind, sum(records), count(*) FILTER (WHERE error IS NOT NULL) > 0, "
        "round(sum(amount), 2) FROM events GROUP BY kind ORDER BY kind",
    ]
    for sql in same[:3]:
        assert on.execute(sql).fetchall() == off.execute(sql).fetchall(), sql
    # Records per kind and their amounts are kept; only the number of rows differs.
    assert on.execute(same[3]).fetchall() == off.execute(same[3]).fetchall()
    rows_on = on.execute("SELECT count(*), sum(records) FROM events").fetchall()[0]
    rows_off = off.execute("SELECT count(*), sum(records) FROM events").fetchall()[0]
    assert rows_off[0] == rows_off[1] == rows_on[1]
    assert rows_on[0] < 0.8 * rows_off[0], (rows_on, rows_off)
    # A bundle holds one person's records of one kind with one truth, in act-day order.
    bad = on.execute(
        "SELECT count(*) FROM events WHERE records > 1 AND (day > last_day OR day >= 0)"
    ).fetchall()[0][0]
    assert bad == 0
    # Every record in a bundle is also in the run without bundles, for the same person.
    per_person = (
        "SELECT attributed_to, true_actor, kind, error, sum(records) FROM events "
        "WHERE day < 0 GROUP BY ALL ORDER BY ALL"
    )
    assert on.execute(per_person).fetchall() == off.execute(per_person).fetchall()


def test_every_history_comes_by_person_then_oldest_first(
    write_scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The records sensor finds bundles as runs of a history in the order it comes in
    (no sort): every source must hand its past acts over by entity, then oldest first."""
    from sclab.run import run_scenario
    from sclab.targets import load_scenario
    from sclab.world import history

    seen: dict[str, tuple[int, bool]] = {}
    add = history.PastActs.add

    def checked(self: Any, kind: str, who: Any, day: Any, *args: Any, **kwargs: Any) -> None:
        w, d = np.asarray(who), np.asarray(day)
        ordered = (np.diff(w) > 0) | ((np.diff(w) == 0) & (np.diff(d) >= 0))
        seen[kind] = (len(w), bool(ordered.all()))
        add(self, kind, who, day, *args, **kwargs)

    monkeypatch.setattr(history.PastActs, "add", checked)
    doc = small_scenario(
        days=2,
        population={"size": 5_000},
        sources=[
            {"use": "state_data", "params": {"rate_multiplier": 8}},
            {"use": "payments"},
            {"use": "resources"},
            {"use": "company_conduct"},
            {"use": "social_media"},
        ],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": p}}
                  for p in ("court-defaulters", "rongcheng", "sesame", "corporate")],
    )  # fmt: skip
    run_scenario(load_scenario(str(write_scenario(doc))), tmp_path / "run")
    assert {"bill_late", "traffic_ticket", "non_performance", "company_tax_arrears"} <= set(seen)
    assert all(ok for _, ok in seen.values()), seen
    assert sum(n for n, _ in seen.values()) > 10_000
