"""The audit on a hand-built run whose right answers are known: every harm class, several
domains, person-days on lists, redress against the deadlines, storage and refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import run_cli

from sclab.audit import Audit, AuditError, audit
from sclab.audit.harm import classify
from sclab.store.hashes import table_hashes
from sclab.store.manifest import Manifest, NotARunError
from sclab.store.schema import FIXED_LABELS, TABLES, create_statements, label_columns
from sclab.targets import builtin_catalogue

COURT = """
id: court
title: A court list with joint punishment
lists:
  - id: debtors
    term_days: 730
    delete_on: {kinds: [judgment_performed]}
    deletion_delay_working_days: 3
rules:
  - id: listing
    when: {events: {kinds: [non_performance]}}
    effects: [{list: {list: debtors}}]
joint:
  - {id: flights, when: {list: debtors}, moments: [flight_ticket], effect: blocked}
  - id: schools
    when: {list: debtors}
    moments: [school_place]
    effect: blocked
    applies_to: [parent]
  - id: tie_loans
    when: {list: debtors}
    moments: [loan_application]
    effect: blocked
    applies_to: [ties]
due_process: {review_days: 15, appeal_days: 90}
"""
FIRMS = """
id: firms
title: Companies listed, their legal representatives barred
lists: [{id: serious, entity: company, term_days: 1095}]
rules:
  - id: tax
    when: {events: {kinds: [company_tax_arrears]}}
    effects: [{list: {list: serious}}]
joint:
  - id: rep_flights
    when: {list: serious}
    moments: [flight_ticket]
    effect: blocked
    applies_to: [legal_representative]
"""
POINTS = """
id: points
title: Points with grades, and a display rule
scores:
  - id: credit_points
    type: points
    base: 1000
    deltas:
      - {events: {kinds: [traffic_ticket]}, delta: -50, rule_id: traffic}
      - {events: {kinds: [sued]}, delta: -10, rule_id: sued}
    grades: [{name: A, min: 960}, {name: B}]
rules:
  - id: display
    when: {events: {kinds: [jaywalk_identified]}}
    effects:
      - {sanction: {kind: public_display, domain: roadside_screen}}
      - {sanction: {kind: notice, domain: sms}}
"""
FACTORS = """
id: sesame
title: A factor score on defaults and purchases
scores:
  - id: credit_score
    type: factors
    range: [350, 950]
    factors:
      - name: history
        weight: 1
        inputs:
          - {from: events, events: {kinds: [loan_default]}, window_days: 1825, weight: -1}
          - {from: platform, kind: purchase_video_games, half_life_days: 90, weight: -1}
    grades: [{name: good, min: 600}, {name: poor}]
joint:
  - id: low_loans
    when: {score: credit_score, below: 550}
    moments: [loan_application]
    effect: priced_up
    price_factor: 1.3
  - {id: perks, when: {score: credit_score, at_least: 600}, moments: [bike_rental],
     effect: favoured}
"""

# (kind, entity, lawful) of the recorded kinds
KINDS = [
    ("non_performance", "person", False), ("judgment_performed", "person", True),
    ("company_tax_arrears", "company", False), ("traffic_ticket", "person", False),
    ("jaywalk_identified", "person", False), ("loan_default", "person", False),
    ("sued", "person", True),
]  # fmt: skip

# event_id: (recorded_day, kind, entity_type, true_actor, attributed_to, error)
EVENTS = {
    1: (0, "non_performance", "person", 1, 1, None),
    2: (15, "judgment_performed", "person", 1, 1, None),
    3: (0, "non_performance", "person", 3, 2, "same_name"),
    4: (2, "company_tax_arrears", "company", 0, 0, None),
    5: (3, "jaywalk_identified", "person", 6, 6, None),
    6: (4, "jaywalk_identified", "person", None, 9, "false_match"),
    7: (20, "loan_default", "person", 0, 0, None),
    8: (10, "non_performance", "person", 4, 4, None),
    9: (9, "non_performance", "person", 5, 4, "id_typo"),
    10: (3, "traffic_ticket", "person", 1, 1, None),
    11: (4, "sued", "person", 2, 2, None),
    12: (5, "traffic_ticket", "person", 4, 3, "same_name"),
    13: (-100, "non_performance", "person", 0, 0, None),
    14: (5, "non_performance", "person", 2, 9, "id_typo"),
    15: (-720, "non_performance", "person", 8, 8, "stale"),
    16: (15, "judgment_performed", "person", 0, 0, None),
}
# sanction_id: (system, rule_id, kind, domain, entity, day, event_id, wrongful) -> class
SANCTIONS = {
    0: (("court", "flights", "blocked", "flight_ticket", 1, 5, 1, False), "rightful"),
    1: (("court", "flights", "blocked", "flight_ticket", 2, 6, 3, True), "error"),
    2: (("court", "schools", "blocked", "school_place", 7, 7, 1, False), "other_conduct"),
    3: (("court", "schools", "blocked", "school_place", 8, 7, 3, True), "error"),
    4: (("court", "tie_loans", "blocked", "loan_application", 4, 8, 1, False), "other_conduct"),
    5: (("firms", "rep_flights", "blocked", "flight_ticket", 5, 9, 4, False), "other_conduct"),
    6: (("points", "display", "public_display", "roadside_screen", 6, 3, 5, False), "rightful"),
    7: (("points", "display", "notice", "sms", 6, 3, 5, False), "rightful"),
    8: (("points", "display", "public_display", "roadside_screen", 9, 4, 6, True), "error"),
    9: (("sesame", "low_loans", "priced_up", "loan_application", 3, 40, None, False), "design"),
    10: (("sesame", "low_loans", "priced_up", "loan_application", 0, 40, None, False),
         "rightful"),
    11: (("sesame", "perks", "reward", "bike_rental", 6, 40, None, False), None),
    12: (("court", "tie_loans", "blocked", "loan_application", 0, 12, 8, False), "other_conduct"),
    # a lift off a list does the person good: no harm class, like a reward
    13: (("court", "repair", "lift", "dishonest_debtors", 8, 20, 16, False), None),
}  # fmt: skip
# entry_id: (system, list, entity_type, entity, start, end, end_reason, event_id, wrongful)
ENTRIES = {
    0: (("court", "debtors", "person", 1, 0, 18, "performed", 1, False), "rightful"),
    1: (("court", "debtors", "person", 2, 0, 15, "objection_upheld", 3, True), "error"),
    2: (("court", "debtors", "person", 0, -100, 22, "performed", 13, False), "rightful"),
    3: (("court", "debtors", "person", 4, 10, None, None, 8, False), "rightful"),
    4: (("firms", "serious", "company", 0, 2, None, None, 4, False), "rightful"),
    6: (("court", "debtors", "person", 9, 5, None, None, 14, True), "error"),
    7: (("court", "debtors", "person", 8, -720, 10, "expired", 15, True), "error"),
}  # fmt: skip
# change_id: (system, score, rule_id, entity, day, delta, value, event_id, wrongful)
CHANGES = {
    0: (("points", "credit_points", "traffic", 1, 3, -50, 950, 10, False), "rightful"),
    1: (("points", "credit_points", "sued", 2, 4, -10, 990, 11, False), "design"),
    2: (("points", "credit_points", "traffic", 3, 5, -50, 950, 12, True), "error"),
    3: (("sesame", "credit_score", "credit_score:assessment", 3, 30, -40, 540, None, False),
        "design"),
    4: (("sesame", "credit_score", "credit_score:assessment", 0, 30, -100, 500, 7, False),
        "rightful"),
    5: (("sesame", "credit_score", "credit_score:assessment", 6, 30, 20, 640, None, False),
        None),
}  # fmt: skip
# (decision_table, key, event_id)
LINKS = [("list_entries", 3, 8), ("list_entries", 3, 9), ("score_changes", 4, 7)]
DAYS = 60


def _labels() -> dict[str, tuple[str, ...]]:
    used: dict[str, set[str]] = {name: {"none"} for name in label_columns()}
    used["act_kind"] |= {k for k, _, _ in KINDS}
    used["system"] |= {"court", "firms", "points", "sesame"}
    used["source"] |= {"records"}
    used["record_error"] |= {"same_name", "false_match", "id_typo", "stale"}
    used["domain"] |= {s[0][3] for s in SANCTIONS.values()}
    used["sanction_kind"] |= {s[0][2] for s in SANCTIONS.values()}
    used["rule_id"] |= {s[0][1] for s in SANCTIONS.values()} | {"listing", "tax"}
    used["rule_id"] |= {c[0][2] for c in CHANGES.values()}
    used["list_name"] |= {"debtors", "serious"}
    used["end_reason"] |= {"performed", "objection_upheld", "expired"}
    used["score"] |= {"credit_points", "credit_score"}
    labels = {k: tuple(sorted(v)) for k, v in used.items()}
    labels.update(FIXED_LABELS)
    return labels


def _insert(con: duckdb.DuckDBPyConnection, table: str, row: dict[str, Any]) -> None:
    cols = [c.name for c in TABLES[table]]
    unknown = set(row) - set(cols)
    assert not unknown, unknown
    marks = ", ".join("?" for _ in cols)
    con.execute(f'INSERT INTO "{table}" VALUES ({marks})', [row.get(c) for c in cols])


def build_run(directory: Path) -> Path:
    """A run directory with a hand-built ``run.duckdb`` and its manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "run.duckdb"
    con = duckdb.connect(str(db))
    for statement in create_statements(_labels()):
        con.execute(statement)
    _insert(con, "run_info", {
        "sclab_version": "test", "scenario": "hand-built", "seed": 1, "population": 10,
        "days": DAYS, "start_date": "2019-07-08",  # a Monday
    })  # fmt: skip
    for system, text in (("court", COURT), ("firms", FIRMS), ("points", POINTS),
                         ("sesame", FACTORS)):  # fmt: skip
        _insert(con, "policies", {"policy_id": system, "system": system, "yaml": text,
                                  "component": "pack", "source": system})  # fmt: skip
    # The kinds' facts as sclab's own catalogue has them, with the entity and lawfulness
    # this hand-built run needs.
    known = builtin_catalogue().columns()
    at = {(n, c): i for i, (n, c) in enumerate(zip(known["name"], known["category"], strict=True))}
    for name, entity, lawful in KINDS:
        row = {column: values[at[(name, "event")]] for column, values in known.items()}
        _insert(con, "kinds", {**row, "entity": entity, "lawful": lawful})
    for eid, (day, kind, etype, actor, attributed, error) in EVENTS.items():
        _insert(con, "events", {
            "event_id": eid, "day": day, "recorded_day": day, "source": "records",
            "kind": kind, "entity_type": etype, "true_actor": actor,
            "attributed_to": attributed, "error": error,
        })  # fmt: skip
    for sid, ((system, rule, kind, domain, who, day, eid, bad), _) in SANCTIONS.items():
        _insert(con, "sanctions", {
            "sanction_id": sid, "entity_id": who, "entity_type": "person", "system": system,
            "day": day, "domain": domain, "kind": kind, "rule_id": rule, "event_id": eid,
            "wrongful": bad,
        })  # fmt: skip
    for key, ((system, lst, etype, who, start, end, reason, eid, bad), _) in ENTRIES.items():
        _insert(con, "list_entries", {
            "entry_id": key, "entity_id": who, "entity_type": etype, "system": system,
            "list": lst, "start_day": start, "end_day": end, "end_reason": reason,
            "rule_id": "tax" if system == "firms" else "listing", "event_id": eid,
            "wrongful": bad,
        })  # fmt: skip
    for key, ((system, score, rule, who, day, delta, value, eid, bad), _) in CHANGES.items():
        _insert(con, "score_changes", {
            "change_id": key, "entity_id": who, "entity_type": "person", "system": system,
            "score": score, "day": day, "delta": delta, "value": value, "rule_id": rule,
            "event_id": eid, "wrongful": bad,
        })  # fmt: skip
    for table, key, eid in LINKS:
        _insert(con, "decision_events",
                {"decision_table": table, "decision_key": key, "event_id": eid})  # fmt: skip
    con.close()
    manifest = Manifest(directory)
    manifest.add_file(db, "database")
    manifest.write()
    return directory


@pytest.fixture
def hand_run(tmp_path: Path) -> Path:
    return build_run(tmp_path / "run")


def expected_classes() -> dict[tuple[str, int], str]:
    out = {}
    for table, rows in (("sanctions", SANCTIONS), ("list_entries", ENTRIES),
                        ("score_changes", CHANGES)):  # fmt: skip
        out.update({(table, k): cls for k, (_, cls) in rows.items() if cls is not None})
    return out


def test_every_adverse_decision_gets_its_class(hand_run: Path) -> None:
    con = duckdb.connect(str(hand_run / "run.duckdb"), read_only=True)
    try:
        rows = classify(con).to_pylist()
    finally:
        con.close()
    got = {(r["decision_table"], r["decision_key"]): r["class"] for r in rows}
    assert got == expected_classes()  # rewards and score gains are not adverse decisions
    by_key = {(r["decision_table"], r["decision_key"]): r for r in rows}
    # a child's school place on a wrongly listed parent: an error, and a spill-over
    assert by_key[("sanctions", 3)]["spillover"] and by_key[("sanctions", 3)]["erroneous_flag"]
    assert by_key[("sanctions", 2)]["spillover"] and not by_key[("sanctions", 2)]["erroneous_flag"]
    # an entry resting on an erroneous record that the but-for test clears: rightful, flagged
    assert by_key[("list_entries", 3)]["class"] == "rightful"
    assert by_key[("list_entries", 3)]["erroneous_flag"]
    assert by_key[("sanctions", 0)]["domain"] == "flights"
    assert by_key[("sanctions", 7)]["domain"] == "SMS"
    assert by_key[("sanctions", 6)]["domain"] == "display"
    kinds = {k: by_key[("score_changes", k)]["kind"] for k in range(5)}
    assert kinds == {0: "grade_downgrade", 1: "score_loss", 2: "grade_downgrade",
                     3: "score_loss", 4: "grade_downgrade"}  # fmt: skip


def test_counts_by_class_domain_and_list_days(hand_run: Path) -> None:
    a = audit(hand_run)
    classes = {r["class"]: r for r in a.harm.to_pylist()}
    assert {c: r["decisions"] for c, r in classes.items()} == {
        "error": 7, "other_conduct": 4, "design": 3, "rightful": 10}  # fmt: skip
    assert {c: r["people"] for c, r in classes.items()} == {
        "error": 4, "other_conduct": 4, "design": 2, "rightful": 4}  # fmt: skip
    assert classes["rightful"]["companies"] == 1
    assert classes["error"]["share"] == pytest.approx(7 / 24, abs=1e-6)
    domains = {r["domain"]: r for r in a.by_group("domain").to_pylist()}
    assert {d: r["decisions"] for d, r in domains.items()} == {
        "flights": 3, "school places": 2, "loans": 4, "display": 2, "SMS": 1,
        "list entries": 7, "grade and score losses": 5,
    }  # fmt: skip
    assert (domains["flights"]["error"], domains["flights"]["other_conduct"]) == (1, 1)
    assert domains["loans"]["design"] == 1 and domains["loans"]["other_conduct"] == 2
    kinds = {(r["system"], r["kind"]): r for r in a.by_group("kind").to_pylist()}
    assert kinds[("court", "blocked")]["decisions"] == 6
    assert kinds[("court", "blocked")]["error_share"] == pytest.approx(2 / 6, abs=1e-6)
    assert kinds[("court", "blocked")]["error_spillover"] == 1
    systems = {r["system"]: r["decisions"] for r in a.by_group("system").to_pylist()}
    assert systems == {"court": 12, "firms": 2, "points": 6, "sesame": 4}
    days = {
        (r["list"], r["class"]): r["days_listed"] for r in a.tables["harm_list_days"].to_pylist()
    }
    assert days == {("debtors", "rightful"): 18 + 22 + 50, ("debtors", "error"): 15 + 55 + 10,
                    ("serious", "rightful"): 58}  # fmt: skip
    with pytest.raises(KeyError):
        a.by_group("colour")


def test_redress_against_the_deadlines(hand_run: Path) -> None:
    a = audit(hand_run)
    entries = {r["entry_id"]: r for r in a.tables["redress_entries"].to_pylist()}
    # performance recorded on Tuesday day 15: deleted Friday (3 working days), Tuesday (5)
    assert (entries[0]["delay"], entries[0]["within_deadline"]) == (3, True)
    assert (entries[2]["delay"], entries[2]["within_deadline"]) == (5, False)
    assert (entries[1]["delay"], entries[1]["deadline"], entries[1]["within_deadline"]) == (
        15, 15, True)  # fmt: skip
    assert entries[6]["end_reason"] == "still_listed" and not entries[6]["corrected"]
    overview = {r["list"]: r for r in a.tables["redress_overview"].to_pylist()}
    court = overview["debtors"]
    assert (court["wrongful_entries"], court["wrongful_corrected"]) == (3, 1)
    assert court["wrongful_corrected_share"] == pytest.approx(1 / 3, abs=1e-6)
    assert court["wrongful_median_days_to_correction"] == 15
    assert (court["wrongful_expired"], court["wrongful_still_listed"]) == (1, 1)
    assert (court["rightful_corrected"], court["rightful_late"], court["wrongful_late"]) == (
        2, 1, 0)  # fmt: skip
    summary = a.summary()
    json.dumps(summary)  # plain data
    blocked = [k for k in summary["by_kind"] if (k["system"], k["kind"]) == ("court", "blocked")]
    assert blocked[0]["error_share"] == pytest.approx(2 / 6, abs=1e-6)
    assert summary["list_days_by_class"] == {"error": 80, "other_conduct": 0, "design": 0,
                                             "rightful": 148}  # fmt: skip


def test_stored_twice_identical_and_the_run_untouched(hand_run: Path) -> None:
    run_db = hand_run / "run.duckdb"
    before = table_hashes(run_db)
    first = audit(hand_run).save()
    hashes = table_hashes(first)
    loaded = Audit.load(hand_run)
    assert set(loaded.tables) == set(hashes)
    assert loaded.harm.equals(audit(hand_run).harm)
    audit(hand_run).save()
    assert table_hashes(hand_run / "audit.duckdb") == hashes
    assert table_hashes(run_db) == before
    manifest = Manifest.read(hand_run)
    assert manifest.files["audit.duckdb"]["kind"] == "audit"
    assert manifest.foreign_paths() == []  # no temporary file left behind


def test_refusals(hand_run: Path, tmp_path: Path) -> None:
    with pytest.raises(NotARunError):
        audit(tmp_path / "nowhere")
    with pytest.raises(AuditError, match="has no audit"):
        Audit.load(hand_run)
    # an audit.duckdb sclab did not write is never overwritten
    (hand_run / "audit.duckdb").write_text("mine")
    with pytest.raises(AuditError, match="did not write"):
        audit(hand_run).save()
    assert (hand_run / "audit.duckdb").read_text() == "mine"
    os.remove(hand_run / "audit.duckdb")
    # a run whose tables are missing
    con = duckdb.connect(str(hand_run / "run.duckdb"))
    con.execute("DROP TABLE decision_events")
    con.close()
    with pytest.raises(AuditError, match="no table decision_events"):
        audit(hand_run)


@pytest.mark.parametrize("case", ["not_a_run", "missing_table", "missing_db"])
def test_cli_refuses_in_one_line(tmp_path: Path, case: str) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    if case != "not_a_run":
        build_run(target)
    if case == "missing_table":
        con = duckdb.connect(str(target / "run.duckdb"))
        con.execute("DROP TABLE sanctions")
        con.close()
    if case == "missing_db":
        os.remove(target / "run.duckdb")
    proc = run_cli("audit", target)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
