"""Warm start of the court pipeline: cases, debtors and list entries that exist on day 0.

Statistical tolerance: every stock checked is a sum of independent binomial counts (one
per past day and income decile), so its variance is at most its expectation; each check
allows 5 standard deviations (sqrt(expected)), which a correct model exceeds with
probability below 1e-6, while a stock off by 20 % or more at these sizes fails.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict
from tests.conftest import build_simulation, small_scenario

from sclab.engine import register
from sclab.engine.acts import ALLOWED, BLOCKED, Acts, Moments
from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.simulation import DAYS_PER_YEAR, Simulation
from sclab.policy.state import END_REASONS, NO_END
from sclab.run import run_scenario
from sclab.targets import load_scenario
from sclab.world.resources import MOMENT_KINDS
from sclab.world.state_data import (
    AWAITING,
    COURT_KINDS,
    PENDING,
    UNRESOLVED,
    StateData,
    StateDataParams,
)

EPOCH = dt.date(1970, 1, 1)


def within(observed: float, expected: float, sds: float = 5.0) -> bool:
    return abs(observed - expected) <= sds * np.sqrt(max(expected, 1.0))


def scenario(tmp: Path, size: int, days: int, seed: int = 11, **doc: Any) -> Path:
    path = tmp / f"scenario-{seed}-{size}-{days}.yaml"
    path.write_text(
        yaml.safe_dump(small_scenario(seed=seed, days=days, population={"size": size}, **doc))
    )
    return path


def source(sim: Simulation) -> StateData:
    return next(c for _, c in sim.components if isinstance(c, StateData))


def court(**params: Any) -> list[dict[str, Any]]:
    return [{"use": "state_data", "params": {"enabled_streams": ["court"], **params}}]


def adult_days(sim: Simulation, adults: np.ndarray, history: int) -> np.ndarray:
    """Per adult, on how many of the past days -1..-history they were already 18.

    Computed with Python dates (independently of the source's vectorised version).
    """
    start = sim.scenario.start_date
    out = np.empty(len(adults), np.int64)
    for i, bd in enumerate(sim.population.citizens.birth_day[adults].tolist()):
        born = EPOCH + dt.timedelta(days=int(bd))
        try:
            adult = born.replace(year=born.year + 18)
        except ValueError:  # 29 February
            adult = dt.date(born.year + 18, 3, 1)
        out[i] = min(history, (start - adult).days)
    return np.maximum(out, 0)


# -- stocks on day 0 ------------------------------------------------------------------


def test_day0_stocks_match_the_pipelines_steady_state(tmp_path: Path) -> None:
    sim = build_simulation(scenario(tmp_path, 100_000, 1, sources=court()))
    src, p = source(sim), StateDataParams()
    history = src.history_days(sim.scenario.start_date)
    assert history == (dt.date(2019, 7, 8) - dt.date(2013, 10, 1)).days == 2106
    book = src.cases
    stage = book.stage[: book.n]
    adults = src.adults
    m = adult_days(sim, adults, history)

    s = p.sued_per_adult_year / DAYS_PER_YEAR
    money = s * p.lose_share * p.money_judgment_share
    h = p.performance_hazard_per_day
    # Unresolved: per adult, flow x sum over the days they were adult of (1 - h)^(a - 1).
    fail = np.asarray(p.nonperform_by_decile)[sim.population.citizens.income_decile[adults]]
    expected = float((money * fail * (1 - (1 - h) ** m) / h).sum())
    unresolved = np.flatnonzero(stage == UNRESOLVED)
    assert expected > 400
    assert within(len(unresolved), expected), (len(unresolved), expected)
    # The age profile follows the survival law: those older than the 730-day term.
    m_old = np.maximum(m - 730, 0)
    old = float((money * fail * (1 - h) ** 730 * (1 - (1 - h) ** m_old) / h).sum())
    got_old = int((book.since[unresolved] < -730).sum())
    assert within(got_old, old), (got_old, old)
    assert (book.since[unresolved] >= -history).all() and (book.since[unresolved] < 0).all()
    assert (book.amount[unresolved] > 0).all()

    # Pending and awaiting: inflow x remaining delay, over the adults of each past day.
    def stock(daily: float, lo: int, hi: int) -> float:
        a = np.arange(1, hi + 1)
        still = (hi - np.maximum(a, lo) + 1) / (hi - lo + 1)
        eligible = (m[:, None] >= a[None, :]).sum(axis=0)
        return float((daily * still * eligible).sum())

    pending = np.flatnonzero(stage == PENDING)
    awaiting = np.flatnonzero(stage == AWAITING)
    e_pending = stock(s, p.judgment_delay_min_days, p.judgment_delay_max_days)
    e_awaiting = stock(money, p.deadline_min_days, p.deadline_max_days)
    assert e_pending > 100 and e_awaiting > 25
    assert within(len(pending), e_pending), (len(pending), e_pending)
    assert within(len(awaiting), e_awaiting), (len(awaiting), e_awaiting)
    assert book.due[pending].min() >= 0 and book.due[pending].max() < p.judgment_delay_max_days
    assert book.due[awaiting].min() >= 0 and book.due[awaiting].max() < p.deadline_max_days
    assert (book.amount[awaiting] > 0).all()
    assert np.isin(book.person[: book.n], adults).all()


def test_flow_into_judgment_and_non_performance_is_steady_from_day_0(tmp_path: Path) -> None:
    # 60 times the default suing rate so that a 30-day window tells; without a warm start
    # nothing is judged before day 60 (the shortest judgment delay) and nobody defaults
    # before day 90, so both counts would be 0.
    days, mult = 30, 60.0
    sim = build_simulation(scenario(tmp_path, 100_000, days, sources=court(rate_multiplier=mult)))
    kept: list[Acts] = []
    end_day = sim.acts.end_day

    def keep() -> None:
        kept.extend(sim.acts.today)
        end_day()

    sim.acts.end_day = keep  # type: ignore[method-assign]
    sim.run()
    p, src = StateDataParams(), source(sim)
    adults = src.adults
    s = p.sued_per_adult_year * mult / DAYS_PER_YEAR
    fail = np.asarray(p.nonperform_by_decile)[sim.population.citizens.income_decile[adults]]
    lost = sum(len(a) for a in kept if a.kind == "judgment_lost")
    fresh = [a for a in kept if a.kind == "non_performance" and "occurred_day" not in a.extra]
    new_np = sum(len(a) for a in fresh)
    e_lost = len(adults) * s * p.lose_share * days
    e_np = float(fail.sum()) * s * p.lose_share * p.money_judgment_share * days
    assert e_np > 500
    # Over the whole window and over its first half alike (no ramp).
    assert within(lost, e_lost), (lost, e_lost)
    assert within(new_np, e_np), (new_np, e_np)
    first = sum(len(a) for a in fresh if a.day < days // 2)
    assert within(first, e_np / 2), (first, e_np / 2)


def test_history_days_zero_is_the_old_empty_start(tmp_path: Path) -> None:
    sim = build_simulation(
        scenario(tmp_path, 20_000, 3,
                 sources=[*court(court_history_days=0), {"use": "company_conduct"},
                          {"use": "test-flight-probe"}],
                 sensors=[{"use": "records"}],
                 policies=[{"use": "pack", "params": {"pack": "court-defaulters"}}])
    )  # fmt: skip
    src = source(sim)
    assert src.cases.n == 0 and len(src._past) == 0
    sim.step()
    engine = next(c for _, c in sim.components if c.name.startswith("policy:"))
    assert len(engine.lists.book("dishonest_debtors").open_slots()) == 0
    assert not sim.view.listed.any()
    # The default is the span from the list's launch to the start date, 0 before it.
    assert src.history_days(dt.date(2013, 10, 1)) == 0
    assert src.history_days(dt.date(2012, 1, 1)) == 0
    assert StateData("x", StateDataParams()).history_days(dt.date(2014, 10, 1)) == 365
    assert (
        StateData("x", StateDataParams(court_history_days=9)).history_days(dt.date(2019, 7, 8)) == 9
    )


def fingerprint(sim: Simulation) -> tuple[Any, ...]:
    src = source(sim)
    b, past = src.cases, src._past._acts
    assert len(past) == 1  # the court stream's non-performances alone
    h = past[0]
    return (
        b.person[: b.n].tolist(), b.due[: b.n].tolist(), b.stage[: b.n].tolist(),
        b.since[: b.n].tolist(), b.amount[: b.n].tolist(),
        sorted((k, v.tolist()) for k, v in h.extra.items()), h.actor.tolist(),
    )  # fmt: skip


def test_same_seed_same_history_and_different_seed_different(tmp_path: Path) -> None:
    a = fingerprint(build_simulation(scenario(tmp_path, 10_000, 1, sources=court())))
    b = fingerprint(build_simulation(scenario(tmp_path, 10_000, 1, sources=court())))
    c = fingerprint(build_simulation(scenario(tmp_path, 10_000, 1, seed=12, sources=court())))
    assert a == b
    assert a != c


# -- one run with records and the court pack ------------------------------------------


class ProbeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register("sources", "test-flight-probe", ProbeParams)
class FlightProbe:
    """Test source standing in for ``resources`` (it declares the same moment kinds, which
    the court pack's measures name): on day 1, the people in ``targets`` try to buy a
    flight ticket."""

    def __init__(self, name: str, params: ProbeParams) -> None:
        self.name = name
        self.targets = np.empty(0, np.int64)
        self.moments: Moments | None = None

    def labels(self) -> dict[str, tuple[str, ...]]:
        return {"source": ("test",)}

    def kinds(self) -> tuple[Kind, ...]:
        return MOMENT_KINDS

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        if day == 1 and len(self.targets):
            self.moments = sim.moments.add(day, "test", "flight_ticket", self.targets)

    def finish(self, sim: Simulation) -> None:
        pass


@pytest.fixture(scope="module")
def court_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """60k people, 40 days: the court pipeline (fast later performance in the run, the
    default hazard for the history), the records sensor and the court-defaulters pack."""
    tmp = tmp_path_factory.mktemp("court")
    days = 40
    sim = build_simulation(
        scenario(
            tmp, 60_000, days,
            sources=[*court(performance_hazard_per_day=0.01,
                            court_history_hazard_per_day=3.5e-4),
                     {"use": "company_conduct"}, {"use": "test-flight-probe"}],
            sensors=[{"use": "records"}],
            policies=[{"use": "pack", "params": {"pack": "court-defaulters"}}],
        )
    )  # fmt: skip
    events: list = []
    decisions: list[tuple[str, dict]] = []
    acts: list[Acts] = []
    sim.events.sink = events.append
    sim.decisions.sink = lambda table, cols: decisions.append((table, cols))
    end_day = sim.acts.end_day

    def keep() -> None:
        acts.extend(sim.acts.today)
        end_day()

    sim.acts.end_day = keep  # type: ignore[method-assign]
    sim.step()  # day 0
    engine = next(c for _, c in sim.components if c.name.startswith("policy:"))
    book = engine.lists.book("dishonest_debtors")
    slots = book.open_slots()
    day0 = {
        name: getattr(book, name)[slots].copy()
        for name in ("entity", "start", "end", "reason", "event", "extended", "wrongful")
    }
    probe = next(c for _, c in sim.components if isinstance(c, FlightProbe))
    listed_past = day0["entity"][day0["start"] < 0]
    unlisted = np.setdiff1d(source(sim).adults[:200], day0["entity"])[:20]
    probe.targets = np.concatenate([listed_past[:20], unlisted])
    sim.run()
    return {
        "sim": sim, "days": days, "day0": day0, "events": events, "decisions": decisions,
        "acts": acts, "probe": probe, "n_listed_past": len(listed_past),
    }  # fmt: skip


def event_table(events: list) -> dict[str, np.ndarray]:
    """Columns of all recorded events: event id, kind, day, recorded day, ground, people."""
    cols: dict[str, list] = {k: [] for k in ("id", "kind", "day", "rec", "ground", "to", "true")}
    for b in events:
        n = len(b)
        cols["id"].append(b.event_id)
        cols["kind"].append(np.full(n, b.kind))
        cols["day"].append(np.full(n, b.day))
        cols["rec"].append(np.asarray(b.extra["recorded_day"]))
        g = b.extra.get("ground")
        cols["ground"].append(np.zeros(n, int) if g is None else np.asarray(g, int))
        cols["to"].append(b.attributed_to)
        cols["true"].append(b.true_actor)
    return {k: np.concatenate(v) for k, v in cols.items()}


def test_day0_entries_start_in_the_past_with_the_term_of_their_ground(court_run) -> None:
    d0, ev = court_run["day0"], event_table(court_run["events"])
    past = d0["start"] < 0
    assert past.sum() > 200  # about 0.5 % of 48k adults
    assert (d0["end"] > 0).all(), "an entry that ended before day 0 was opened"
    pos = np.searchsorted(ev["id"], d0["event"])
    assert (ev["id"][pos] == d0["event"]).all()
    ground, rec, day = ev["ground"][pos], ev["rec"][pos], ev["day"][pos]
    # The entry starts on the day the record was made, after the act's (past) day.
    assert (d0["start"][past] == rec[past]).all()
    assert (day[past] < 0).all() and (day[past] <= rec[past]).all()
    expired = d0["reason"] == END_REASONS.index("expired")
    length = d0["end"].astype(np.int64) - d0["start"]
    g1, g26 = past & (ground == 1), past & (ground >= 2)
    assert g1.sum() > 50 and g26.sum() > 50
    # Ground 1 has no term: open until performance (or due process).
    assert (d0["end"][g1 & expired] == NO_END).all()
    assert (g1 & expired).sum() > 0.9 * g1.sum()
    # Grounds 2-6: 730 days from the listing, or an extension of 365-1095 days on top.
    plain = g26 & expired & ~d0["extended"]
    ext = g26 & expired & d0["extended"]
    assert (length[plain] == 730).all()
    assert ((length[ext] >= 730 + 365) & (length[ext] <= 730 + 1095)).all()
    assert plain.sum() > 50
    # Some terms ran out before day 0 and were extended (10 % of expiries), and only
    # entries whose term ran out are extended.
    assert ext.sum() > 0
    assert (d0["start"][ext] <= -730).all()
    assert (d0["start"][plain] > -730).all()
    # Older grounds 2-6 records exist (unresolved debtors), yet none of their unextended
    # entries is on the list.
    np_past = (ev["kind"] == "non_performance") & (ev["day"] < 0) & (ev["ground"] >= 2)
    assert (np_past & (ev["rec"] <= -730)).sum() > 20


def test_historic_events_keep_their_true_day_and_usual_errors(court_run) -> None:
    ev = event_table(court_run["events"])
    hist = (ev["kind"] == "non_performance") & (ev["day"] < 0)
    assert hist.sum() > 200
    assert (ev["rec"][hist] >= ev["day"][hist]).all()
    assert (ev["rec"][hist] < 0).mean() > 0.9
    # Acts of the last days before the run are recorded during it.
    assert ((ev["rec"] >= 0) & hist).sum() > 0
    acts = court_run["acts"]
    history = [a for a in acts if "occurred_day" in a.extra and a.kind == "non_performance"]
    assert len(history) == 1 and history[0].day == 0
    assert len(history[0]) >= hist.sum() * 0.9
    # The run's true-act totals count only the run.
    in_run = sum(len(a) for a in acts if a.kind == "non_performance" and a not in history)
    assert court_run["sim"].acts.totals.get("non_performance", 0) == in_run
    # Linkage errors apply as to any record (0.2 % same-name + 0.05 % typos + stale
    # copies): the wrong people listed from history are flagged wrongful.
    wrong = hist & (ev["to"] != ev["true"])
    d0 = court_run["day0"]
    bad_entries = np.isin(d0["event"], ev["id"][wrong])
    assert (d0["wrongful"][bad_entries]).all()


def test_warm_start_debtors_perform_and_are_deleted_within_3_working_days(court_run) -> None:
    ev, days = event_table(court_run["events"]), court_run["days"]
    history = next(
        a for a in court_run["acts"] if "occurred_day" in a.extra and a.kind == "non_performance"
    )
    historic_cases = set(history.extra["case_id"].tolist())
    performed = [
        (int(p), int(a.day))
        for a in court_run["acts"] if a.kind == "judgment_performed"
        for p, c in zip(a.actor, a.extra["case_id"], strict=True) if int(c) in historic_cases
    ]  # fmt: skip
    # About 400 warm-start debtors at a 1 % daily hazard over 40 days: about 130.
    assert len(performed) > 60
    entries = {}
    for table, cols in court_run["decisions"]:
        if table == "list_entries":
            for e, s, end, r in zip(
                np.asarray(cols["entity_id"]), np.asarray(cols["start_day"]),
                cols["end_day"].to_pylist(), cols["end_reason"].to_pylist(), strict=True,
            ):  # fmt: skip
                entries[int(e)] = (int(s), end, r)
    deleted = 0
    sim = court_run["sim"]
    ok = (ev["kind"] == "judgment_performed") & (ev["to"] == ev["true"])
    for person, _ in performed:
        if person not in entries or entries[person][0] >= 0:
            continue
        _, end, reason = entries[person]
        recs = ev["rec"][ok & (ev["to"] == person)]
        if not len(recs):
            continue  # performed but not (yet) recorded
        rec = int(recs.min())
        if end is not None and end < rec:
            continue  # the term ended before the performance was recorded
        latest = np.busday_offset(np.datetime64(sim.date(rec)), 3, roll="forward")
        due = rec + int((latest - np.datetime64(sim.date(rec))).astype(int))
        if due >= days:
            continue
        assert reason == "performed" and rec <= end <= due, (person, rec, end, reason)
        deleted += 1
    # Those recorded early enough to be deleted within the run (recording delay: mean 10).
    assert deleted > 20


def _first(column: Any) -> str:
    """The first label of a label column (an array, or one label repeated)."""
    return str(column.to_pylist()[0] if hasattr(column, "to_pylist") else column[0])


def test_flights_are_blocked_for_warm_start_listings_from_day_1(court_run) -> None:
    probe = court_run["probe"]
    assert court_run["n_listed_past"] >= 20
    m = probe.moments
    assert m is not None and m.day == 1
    assert (m.outcome[:20] == BLOCKED).all()
    assert (m.outcome[20:] == ALLOWED).all() and len(m) > 30
    blocks = [
        cols for table, cols in court_run["decisions"]
        if table == "sanctions" and cols["day"][0] == 1
        and cols["domain"].to_pylist()[0] == "flight_ticket"
    ]  # fmt: skip
    assert sum(len(c["entity_id"]) for c in blocks) == 20
    # No notice is re-issued on day 0 for listings made before the run.
    notices = [
        cols for table, cols in court_run["decisions"]
        if table == "sanctions" and cols["day"][0] == 0 and _first(cols["kind"]) == "notice"
    ]  # fmt: skip
    n0 = sum(len(c["entity_id"]) for c in notices)
    assert n0 < 0.1 * court_run["n_listed_past"]


# -- a scripted history through the records sensor into the database -------------------


class HistoryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: list[int]
    grounds: list[int]


@register("sources", "test-history", HistoryParams)
class ScriptedHistory:
    """Test source standing in for ``state_data``'s court stream (it declares the same
    kinds, which the court pack names): non-performances from before the run by the first
    adults, on day 0."""

    def __init__(self, name: str, params: HistoryParams) -> None:
        self.name, self.params = name, params

    def kinds(self) -> tuple[Kind, ...]:
        return COURT_KINDS

    def setup(self, sim: Simulation) -> None:
        self.people = np.flatnonzero(ages(sim) >= 18)[: len(self.params.days)]

    def step(self, sim: Simulation, day: int) -> None:
        if day == 0:
            p = self.params
            n = len(p.days)
            sim.acts.add(
                day, self.name, "non_performance", self.people,
                amount=np.full(n, 1000.0), ground=np.array(p.grounds, np.uint8),
                occurred_day=np.array(p.days, np.int32),
            )  # fmt: skip

    def finish(self, sim: Simulation) -> None:
        pass


def scripted_run(tmp: Path, extension: float, days: int = 40) -> duckdb.DuckDBPyConnection:
    pack = yaml.safe_load(
        (Path(__file__).parents[1] / "src/sclab/policy/packs/court-defaulters.yaml").read_text()
    )
    pack["lists"][0]["extension_probability"] = extension
    # People only: the company list and its measures need company_conduct's debtors.
    pack["lists"] = [x for x in pack["lists"] if x["entity"] != "company"]
    pack["rules"] = [r for r in pack["rules"] if r["id"] != "listing_companies"]
    pack["joint"] = [j for j in pack["joint"] if j["when"] != {"list": "dishonest_companies"}]
    pack["due_process"] = {"enabled": False}
    (tmp / "pack.yaml").write_text(yaml.safe_dump(pack))
    # Ground 2 listed 700 days before the run; ground 2, 800 days (term over 70 days
    # before day 0); ground 1, 2000 days; ground 4, 5 days before the run.
    history = {"days": [-700, -800, -2000, -5], "grounds": [2, 2, 1, 4]}
    doc = small_scenario(
        seed=5, days=days, population={"size": 500},
        sources=[{"use": "test-history", "params": history}, {"use": "test-flight-probe"}],
        sensors=[{"use": "records", "params": {
            "kinds": {"non_performance": {"delay_days_mean": 0}},
            "misattribution_rate": 0, "id_typo_rate": 0, "stale_rate": 0,
            "thin_file": {"migrant_capture": 1.0}}}],
        policies=[{"use": "pack", "params": {"pack": str(tmp / "pack.yaml")}}],
    )  # fmt: skip
    path = tmp / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run_scenario(load_scenario(str(path)), tmp / "run")
    return duckdb.connect(str(result.database), read_only=True)


def test_a_listing_700_days_old_expires_30_days_into_the_run(tmp_path: Path) -> None:
    con = scripted_run(tmp_path, extension=0.0)
    rows = con.execute(
        "SELECT day, recorded_day, ground, attributed_to = true_actor FROM events "
        "WHERE kind = 'non_performance' ORDER BY day"
    ).fetchall()
    # Recorded on day 0 as of their past days.
    assert rows == [(-2000, -2000, 1, True), (-800, -800, 2, True), (-700, -700, 2, True),
                    (-5, -5, 4, True)]  # fmt: skip
    entries = con.execute(
        "SELECT e.day, l.start_day, l.end_day, l.end_reason, l.wrongful FROM list_entries l "
        "JOIN events e USING (event_id) ORDER BY l.start_day"
    ).fetchall()
    # The 800-day-old ground 2 term ended before the run: no entry. The 700-day-old one
    # expires on day 30 = -700 + 730; ground 1 has no term.
    assert entries == [
        (-2000, -2000, None, None, False),
        (-700, -700, 30, "expired", False),
        (-5, -5, None, None, False),
    ]
    # Joint punishment and the day-0 notices: none re-issued for these past listings.
    assert con.execute("SELECT count(*) FROM sanctions WHERE kind = 'notice'").fetchone() == (0,)


def test_an_expired_past_term_may_have_been_extended(tmp_path: Path) -> None:
    con = scripted_run(tmp_path, extension=1.0, days=5)
    start, end = con.execute(
        "SELECT start_day, end_day FROM list_entries WHERE start_day = -800"
    ).fetchone()
    # Listed on day -800, term over on day -70, extended then by 365-1095 days: still
    # listed when the run ends (day 4), so end_day is NULL.
    assert start == -800 and end is None
    n = con.execute("SELECT count(*) FROM list_entries").fetchone()
    assert n == (4,)
