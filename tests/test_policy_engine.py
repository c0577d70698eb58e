"""The policy engine on controlled inputs: published rules, provenance and ``wrongful``.

A scripted recorder stands in for the sensors: it records exactly the events a test lists
(day, kind, who is named, who really acted, ground), so each rule can be checked on inputs
whose right answer is known.
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

from sclab.engine import register
from sclab.engine.catalogue import Kind
from sclab.engine.simulation import Simulation
from sclab.run import run_scenario
from sclab.targets import builtin_catalogue, load_scenario


class Scripted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[dict[str, Any]] = []
    moments: list[dict[str, Any]] = []


@register("sensors", "test-scripted", Scripted)
class ScriptedRecorder:
    """Test sensor: records the listed events and resource moments on their days.

    It stands in for every component: it declares each event and moment kind sclab
    knows, with its facts (a lost judgment still stands for non-performance), so that any
    pack can run on it alone.
    """

    def __init__(self, name: str, params: Scripted) -> None:
        self.name, self.params = name, params

    def labels(self) -> dict[str, set[str]]:
        return {"source": {"test"}}

    def kinds(self) -> list[Kind]:
        known = builtin_catalogue()
        return [*known.kinds("event"), *known.kinds("moment")]

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        for e in self.params.events:
            if e["day"] != day:
                continue
            named = e["person"]
            true = e.get("true", named)
            extra: dict[str, Any] = {}
            if "ground" in e:
                extra["ground"] = np.array([e["ground"]], np.int8)
            sim.events.record(
                day, "test", e["kind"], np.array([true]), np.array([named]),
                entity_type=e.get("entity", "person"), **extra,
            )  # fmt: skip
        for m in self.params.moments:
            if m["day"] == day:
                child = m.get("for")
                classes = builtin_catalogue().get(m["kind"], "moment").classes
                cls = None if "class" not in m else np.array([classes.index(m["class"])])
                sim.moments.add(
                    day, "test", m["kind"], np.array([m["person"]]),
                    beneficiary=None if child is None else np.array([child]),
                    cls=cls, classes=classes,
                )  # fmt: skip

    def finish(self, sim: Simulation) -> None:
        pass


def run_policy(
    tmp_path: Path, policy: dict[str, Any] | str, events: list[dict], days: int,
    moments: list[dict] | None = None, start: dt.date = dt.date(2019, 7, 8),
) -> duckdb.DuckDBPyConnection:  # fmt: skip
    if isinstance(policy, dict):
        path = tmp_path / "policy.yaml"
        path.write_text(yaml.safe_dump(policy, sort_keys=False))
        pack = str(path)
    else:
        pack = policy
    doc = {
        "name": "policy-test",
        "seed": 3,
        "days": days,
        "start_date": start.isoformat(),
        "geography": {"name": "g", "districts": [{"code": 320106, "name": "a", "population": 1}]},
        "population": {"size": 300},
        "sensors": [
            {"use": "test-scripted", "params": {"events": events, "moments": moments or []}}
        ],
        "policies": [{"use": "pack", "params": {"pack": pack}}],
    }
    scenario_path = tmp_path / "scenario.yaml"
    scenario_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run_scenario(load_scenario(str(scenario_path)), tmp_path / "run")
    return duckdb.connect(str(result.database), read_only=True)


NANJING_LIKE = {
    "id": "jaywalk-test",
    "title": "six identifications in 365 days",
    "counters": [
        {"id": "ids", "events": {"kinds": ["jaywalk_identified"]}, "window_days": 365}
    ],
    "lists": [{"id": "discredited", "term_days": 365}],
    "rules": [
        {"id": "discredit", "when": {"counter": "ids", "above": 5},
         "effects": [{"list": {"list": "discredited"}}]},
        {"id": "display", "when": {"events": {"kinds": ["jaywalk_identified"]}},
         "effects": [{"sanction": {"kind": "public_display", "domain": "roadside_screen"}}]},
    ],
    "joint": [
        {"id": "loans", "when": {"list": "discredited"}, "moments": ["loan_application"],
         "effect": "blocked"}
    ],
    "due_process": {"enabled": False},
}  # fmt: skip


def ids(person: int, days: list[int], true: int | None = None) -> list[dict]:
    return [
        {
            "day": d,
            "kind": "jaywalk_identified",
            "person": person,
            "true": person if true is None else true,
        }
        for d in days
    ]


def test_sixth_identification_in_a_year_discredits_the_fifth_does_not(tmp_path: Path) -> None:
    events = ids(1, [0, 10, 20, 30, 40]) + ids(2, [0, 10, 20, 30, 40, 50])
    con = run_policy(tmp_path, NANJING_LIKE, events, days=60)
    listed = con.execute("SELECT entity_id, start_day FROM list_entries").fetchall()
    assert listed == [(2, 50)]
    displays = con.execute("SELECT count(*) FROM sanctions WHERE kind='public_display'").fetchone()
    assert displays[0] == 11


def test_an_identification_that_left_the_window_no_longer_counts(tmp_path: Path) -> None:
    # person 3: first identification on day 0 leaves the 365-day window on day 365;
    # the sixth arrives on day 365, when only four others are in the window.
    events = ids(3, [0, 100, 200, 300, 360, 365]) + ids(4, [0, 100, 200, 300, 360, 364])
    con = run_policy(tmp_path, NANJING_LIKE, events, days=366)
    assert con.execute("SELECT entity_id, start_day FROM list_entries").fetchall() == [(4, 364)]


def test_wrongful_is_but_for_and_provenance_is_complete(tmp_path: Path) -> None:
    # person 5: six identifications, one of them really someone else's -> wrongful
    # person 6: seven identifications, one misattributed -> still six true ones: rightful
    events = ids(5, [0, 1, 2, 3, 4]) + ids(5, [5], true=99)
    events += ids(6, [0, 1, 2, 3, 4, 5]) + ids(6, [6], true=98)
    moments = [{"day": 20, "kind": "loan_application", "person": p} for p in (5, 6, 7)]
    con = run_policy(tmp_path, NANJING_LIKE, events, days=30, moments=moments)
    rows = dict(con.execute("SELECT entity_id, wrongful FROM list_entries").fetchall())
    assert rows == {5: True, 6: False}
    # person 6 crossed on day 5 with six true identifications; the 7th changes nothing
    assert con.execute("SELECT start_day FROM list_entries WHERE entity_id=6").fetchone() == (5,)
    # every list entry links all the events in its window
    links = con.execute(
        "SELECT l.entity_id, count(*) FROM decision_events d JOIN list_entries l"
        " ON d.decision_key = l.entry_id GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert links == [(5, 6), (6, 6)]
    # no decision without a rule and an event
    for table in ("list_entries", "sanctions"):
        missing = con.execute(
            f"SELECT count(*) FROM {table} WHERE rule_id IS NULL OR event_id IS NULL"
        ).fetchone()[0]
        assert missing == 0, table
    # displays are wrongful exactly for the misattributed identifications
    bad = con.execute(
        "SELECT count(*) FROM sanctions s JOIN events e USING (event_id)"
        " WHERE s.kind='public_display' AND s.wrongful <> (e.attributed_to <> e.true_actor)"
    ).fetchone()[0]
    assert bad == 0
    # joint punishment: blocked loans for the listed, wrongful inherited from the entry
    blocked = dict(
        con.execute(
            "SELECT entity_id, wrongful FROM sanctions"
            " WHERE kind='blocked' AND domain='loan_application'"
        ).fetchall()
    )
    assert blocked == {5: True, 6: False}
    # Decided attempts are rows; the one that went ahead is counted only.
    outcomes = dict(con.execute("SELECT actor, outcome FROM resource_moments").fetchall())
    assert outcomes == {5: "blocked", 6: "blocked"}
    counted = con.execute(
        "SELECT outcome::VARCHAR, sum(attempts) FROM moment_counts GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert counted == [("allowed", 1), ("blocked", 2)]


COURT_LIKE = {
    "id": "court-test",
    "title": "defaulters",
    "lists": [{
        "id": "dishonest", "term_days_by_ground": {2: 730, 3: 730, 4: 730, 5: 730, 6: 730},
        "delete_on": {"kinds": ["judgment_performed"]}, "deletion_delay_working_days": 3,
    }],
    "rules": [{"id": "list-defaulter", "when": {"events": {"kinds": ["non_performance"]}},
               "effects": [{"list": {"list": "dishonest"}}]}],
    "due_process": {"enabled": False},
}  # fmt: skip


def test_defaulter_who_performs_is_deleted_within_three_working_days(tmp_path: Path) -> None:
    # 2019-07-08 is a Monday. Person 1 performs on day 11 (Friday 19 July): three working
    # days later is Wednesday 24 July = day 16. Person 2 (ground 4) never performs.
    events = [
        {"day": 2, "kind": "non_performance", "person": 1, "ground": 1},
        {"day": 2, "kind": "non_performance", "person": 2, "ground": 4},
        {"day": 11, "kind": "judgment_performed", "person": 1},
    ]
    con = run_policy(tmp_path, COURT_LIKE, events, days=40)
    rows = con.execute(
        "SELECT entity_id, start_day, end_day, end_reason FROM list_entries ORDER BY 1"
    ).fetchall()
    assert rows == [(1, 2, 16, "performed"), (2, 2, None, None)]


def test_ground_sets_the_term(tmp_path: Path) -> None:
    events = [{"day": 0, "kind": "non_performance", "person": 9, "ground": 3}]
    con = run_policy(tmp_path, COURT_LIKE, events, days=731)
    assert con.execute("SELECT end_day, end_reason FROM list_entries").fetchall() == [
        (730, "expired")
    ]


RONGCHENG_LIKE = {
    "id": "points-test",
    "title": "points",
    "scores": [{
        "id": "points", "type": "points", "base": 1000,
        "deltas": [
            {"events": {"kinds": ["heroic_act"]}, "delta": 30},
            {"events": {"kinds": ["traffic_ticket"]}, "delta": -5},
            {"events": {"kinds": ["judgment_lost"]}, "delta": -50},
        ],
        "grades": [
            {"name": "AAA", "min": 1050}, {"name": "AA", "min": 1030}, {"name": "A", "min": 960},
            {"name": "B", "min": 850}, {"name": "C", "min": 600}, {"name": "D"},
        ],
    }],
    "due_process": {"enabled": False},
}  # fmt: skip


@pytest.mark.parametrize(
    ("events", "value", "grade"),
    [
        ([], 1000, "A"),
        ([("heroic_act", 1)], 1030, "AA"),
        ([("heroic_act", 1), ("traffic_ticket", 1)], 1025, "A"),
        ([("heroic_act", 2)], 1060, "AAA"),
        ([("judgment_lost", 1)], 950, "B"),
        ([("judgment_lost", 3)], 850, "B"),
        ([("judgment_lost", 3), ("traffic_ticket", 1)], 845, "C"),
        ([("judgment_lost", 8)], 600, "C"),
        ([("judgment_lost", 8), ("traffic_ticket", 1)], 595, "D"),
    ],
)
def test_points_and_grade_boundaries(tmp_path: Path, events, value, grade) -> None:
    script = [
        {"day": i, "kind": kind, "person": 4}
        for i, kind in enumerate(k for k, times in events for _ in range(times))
    ]
    con = run_policy(tmp_path, RONGCHENG_LIKE, script, days=max(1, len(script)))
    row = con.execute("SELECT value, grade FROM final_scores WHERE entity_id = 4").fetchone()
    assert row == (value, grade)
    changes = con.execute(
        "SELECT count(*), count(rule_id), count(event_id) FROM score_changes"
    ).fetchone()
    assert changes == (len(script),) * 3


def test_a_listed_parent_blocks_the_childs_school_place(tmp_path: Path) -> None:
    policy = {
        **COURT_LIKE,
        "joint": [
            {"id": "schools", "when": {"list": "dishonest"}, "moments": ["school_place"],
             "effect": "blocked", "applies_to": ["parent"]}
        ],
    }  # fmt: skip
    events = [{"day": 1, "kind": "non_performance", "person": 10, "ground": 1}]
    moments = [
        {"day": 5, "kind": "school_place", "person": 10, "for": 200},
        {"day": 5, "kind": "school_place", "person": 11, "for": 201},
    ]
    con = run_policy(tmp_path, policy, events, days=10, moments=moments)
    sanctions = con.execute("SELECT entity_id, domain, kind, rule_id FROM sanctions").fetchall()
    assert sanctions == [(200, "school_place", "blocked", "schools")]
    outcomes = dict(con.execute("SELECT beneficiary, outcome FROM resource_moments").fetchall())
    assert outcomes == {200: "blocked"}  # the allowed one is counted (moment_counts) only
