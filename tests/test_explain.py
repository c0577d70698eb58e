"""``sclab explain``: one person's story from a run.

A small run with a face-recognition camera network that makes many false matches, and a
records sensor that misattributes a fifth of its records to namesakes, so that people are
wrongly identified, displayed and listed; Sesame's factor score also moves with lawful
conduct and ties. The stories are checked against the run's own
tables (what the story says was recorded and decided) and against the truth the rerun
reproduces (every record of a person's true act has that act).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from tests.conftest import run_cli, small_scenario

from sclab.audit.harm import classify
from sclab.explain import NOT_ADVERSE, Story, _Tables, explain
from sclab.run import run_scenario
from sclab.targets import load_scenario


@pytest.fixture(scope="module")
def story_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("explain")
    doc = small_scenario(
        seed=11,
        days=35,  # past day 30: Sesame's first monthly assessment
        population={"size": 20_000},
        sources=[
            {"use": "state_data"},
            {"use": "streets", "params": {"camera_share": 0.5}},
            {"use": "resources"},
            {"use": "payments"},
            {"use": "company_conduct"},
            {"use": "social_media"},
        ],
        sensors=[
            {"use": "records", "params": {"misattribution_rate": 0.2}},
            # A small gallery with a permissive matcher: false matches are common.
            {"use": "cameras", "params": {"capture": 0.5, "matcher": {"fmr": 1.0e-5}}},
        ],
        policies=[
            {"use": "pack", "params": {"pack": "court-defaulters"}},
            {"use": "pack", "params": {"pack": "nanjing"}},
            {"use": "pack", "params": {"pack": "rongcheng"}},
            {"use": "pack", "params": {"pack": "corporate"}},
            {"use": "pack", "params": {"pack": "sesame"}},
        ],
    )
    path = where / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    run_scenario(load_scenario(str(path)), where / "run")
    return where / "run"


def query(run: Path, sql: str, *params: Any) -> list[tuple]:
    con = duckdb.connect(str(run / "run.duckdb"), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def wrongly_listed(story_run: Path) -> tuple[int, Story]:
    """A person listed on a false match, and their story."""
    (pid,) = query(
        story_run,
        "SELECT entity_id FROM list_entries WHERE wrongful AND system = 'nanjing' "
        "ORDER BY entry_id LIMIT 1",
    )[0]
    return int(pid), explain(story_run, person=pid)


def test_wrongful_listing_is_told_with_its_records_rule_and_harm(
    story_run: Path, wrongly_listed: tuple[int, Story]
) -> None:
    pid, story = wrongly_listed
    assert story.entity_type == "person" and story.entity_id == pid
    assert story.attributes["person_id"] == pid
    entries = [r for r in story.rows if r.what == "list entry" and r.wrong]
    assert entries, story.rows
    entry = entries[0]
    key, start, end, reason = query(
        story_run,
        "SELECT entry_id, start_day, end_day, end_reason::VARCHAR FROM list_entries "
        "WHERE entity_id = ? AND wrongful AND system = 'nanjing' ORDER BY entry_id LIMIT 1",
        pid,
    )[0]
    linked = {
        e
        for (e,) in query(
            story_run,
            "SELECT event_id FROM decision_events WHERE decision_table = 'list_entries' "
            "AND decision_key = ?",
            key,
        )
    }
    assert entry.day == start and entry.rule == "nanjing:discredited"
    assert entry.kind == "nanjing:discredited" and entry.harm == "error"
    assert set(entry.events) == linked and len(linked) > 1
    # Each event the listing rests on is a record in their name; the false matches among
    # them are told as wrong records, naming the true actor.
    records = {r.events[0]: r for r in story.rows if r.what == "record"}
    assert linked <= set(records)
    truth = dict(
        query(
            story_run,
            "SELECT event_id, true_actor IS DISTINCT FROM attributed_to OR error IS NOT NULL "
            "FROM events WHERE event_id IN (SELECT unnest(?))",
            sorted(linked),
        )
    )
    assert {e: records[e].wrong for e in linked} == truth
    assert any(truth.values())
    for e, wrong in truth.items():
        assert ("their own act" in records[e].detail) != wrong
    # Its exit, if it ended.
    exits = [r for r in story.rows if r.what == "list exit" and r.events == entry.events]
    if end is None:
        assert not exits
    else:
        assert [(r.day, r.harm) for r in exits] == [(end, None)]
        assert reason in exits[0].detail


def test_every_decision_about_them_is_a_row(
    story_run: Path, wrongly_listed: tuple[int, Story]
) -> None:
    pid, story = wrongly_listed
    counts = {
        what: query(story_run, f"SELECT count(*) FROM {table} WHERE entity_id = ?", pid)[0][0]
        for what, table in (
            ("sanction", "sanctions"),
            ("score change", "score_changes"),
            ("list entry", "list_entries"),
        )
    }
    assert {w: sum(r.what == w for r in story.rows) for w in counts} == counts
    wrongful = query(
        story_run,
        "SELECT day, rule_id::VARCHAR, kind::VARCHAR, wrongful FROM sanctions "
        "WHERE entity_id = ? ORDER BY ALL",
        pid,
    )
    told = sorted(
        (r.day, r.rule.split(":")[1], r.kind, r.wrong) for r in story.rows if r.what == "sanction"
    )  # type: ignore[union-attr]
    assert told == sorted(wrongful)
    for r in story.decisions():
        # A wrongful adverse decision is an error; these packs penalise unlawful conduct
        # (jaywalks, debts), so the rest about this person is rightful or not adverse.
        if r.harm != NOT_ADVERSE:
            assert r.harm == ("error" if r.wrong else "rightful"), r


def test_timeline_is_in_day_order_with_dates(
    story_run: Path, wrongly_listed: tuple[int, Story]
) -> None:
    _, story = wrongly_listed
    (start,) = query(story_run, "SELECT start_date FROM run_info")[0]
    days = [r.day for r in story.rows if r.day is not None]
    assert days == sorted(days)
    for r in story.rows:
        if r.day is None:
            assert r.what == "totals" and r.date is None
        else:
            assert r.date == start + dt.timedelta(days=r.day)
    # Totals come last, one per aggregated kind, with the table's counts.
    totals = {r.kind: r.detail for r in story.rows if r.what == "totals"}
    stored = query(
        story_run,
        "SELECT kind::VARCHAR, count FROM aggregates WHERE entity_type = 'person' "
        "AND entity_id = ?",
        story.entity_id,
    )
    assert {k: int(totals[k].split()[0]) for k in totals} == dict(stored)
    assert story.rows[-len(totals) :] == [r for r in story.rows if r.what == "totals"]


def people_with_true_records(run: Path) -> list[int]:
    """People whose acts were recorded: wrongly (in another's name, or stale), from before
    the run (warm start), identified by camera, and a plain one."""
    picks = [
        "SELECT true_actor FROM events WHERE entity_type = 'person' AND "
        "attributed_to IS DISTINCT FROM true_actor AND true_actor IS NOT NULL "
        "AND kind = 'jaywalk_identified' ORDER BY event_id LIMIT 1",
        "SELECT true_actor FROM events WHERE entity_type = 'person' AND error = 'same_name' "
        "ORDER BY event_id LIMIT 1",
        "SELECT true_actor FROM events WHERE entity_type = 'person' AND day < 0 "
        "ORDER BY event_id LIMIT 1",
        "SELECT true_actor FROM events WHERE entity_type = 'person' AND error = 'stale' "
        "ORDER BY event_id LIMIT 1",
        "SELECT true_actor FROM events WHERE entity_type = 'person' AND kind = 'bill_late' "
        "AND error IS NULL ORDER BY event_id LIMIT 1",
    ]
    return [int(query(run, sql)[0][0]) for sql in picks]


def test_reproduced_acts_explain_every_true_record(story_run: Path) -> None:
    for pid in people_with_true_records(story_run):
        story = explain(story_run, person=pid)
        assert story.faithful, (pid, story.unmatched)
        true_records = query(
            story_run,
            "SELECT day, kind::VARCHAR FROM events WHERE true_actor = ? AND entity_type = 'person'",
            pid,
        )
        assert true_records
        acts = {(a.day, a.kind) for a in story.acts}
        for day, kind in true_records:
            act_kind = "jaywalk" if kind == "jaywalk_identified" else kind
            assert (day, act_kind) in acts
        # Their records in another's name are told as such, and wrong.
        elsewhere = query(
            story_run,
            "SELECT event_id FROM events WHERE true_actor = ? AND entity_type = 'person' "
            "AND attributed_to IS DISTINCT FROM true_actor",
            pid,
        )
        told = {r.events[0] for r in story.rows if r.what == "record elsewhere"}
        assert told == {e for (e,) in elsewhere}
        assert all(r.wrong for r in story.rows if r.what == "record elsewhere")


def test_reproduced_attempts_are_the_stored_moments(story_run: Path) -> None:
    (pid,) = query(
        story_run,
        "SELECT actor FROM resource_moments WHERE outcome <> 'allowed' ORDER BY moment_id LIMIT 1",
    )[0]
    story = explain(story_run, person=pid)
    stored = query(
        story_run,
        "SELECT day, kind::VARCHAR, outcome::VARCHAR, price_factor FROM resource_moments "
        "WHERE entity_type = 'person' AND (actor = ? OR beneficiary = ?)",
        pid,
        pid,
    )
    (kinds,) = query(story_run, "SELECT list(DISTINCT kind::VARCHAR) FROM resource_moments")[0]
    reproduced = [
        (m.day, m.kind, m.outcome, pytest.approx(m.price_factor))
        for m in story.attempts
        if m.kind in kinds
    ]
    assert sorted(reproduced, key=str) == sorted(stored, key=str)
    assert any(o != "allowed" for _, _, o, _ in stored)
    # A decided attempt names the measures that decided it, as the sanctions do.
    sanctions = query(
        story_run,
        "SELECT day, domain::VARCHAR, system::VARCHAR || ':' || rule_id::VARCHAR, wrongful "
        "FROM sanctions WHERE entity_id = ? AND kind IN ('blocked', 'priced_up', 'reward')",
        pid,
    )
    decided = [r for r in story.rows if r.what == "attempt" and not r.detail.startswith("allowed")]
    assert decided
    for r in decided:
        mine = [s for s in sanctions if s[:2] == (r.day, r.kind)]
        assert r.rule == ", ".join(sorted({s[2] for s in mine}))
        assert r.wrong == any(s[3] for s in mine)
    assert all(r.rule is None for r in story.rows if r.detail.startswith("allowed"))


def test_the_check_finds_records_without_their_act(
    story_run: Path, wrongly_listed: tuple[int, Story]
) -> None:
    """Without the reproduced acts (or with acts a day off), every true record is unmatched."""
    pid, story = wrongly_listed
    con = duckdb.connect(str(story_run / "run.duckdb"), read_only=True)
    try:
        tables = _Tables(con, "person", pid, dt.date(2019, 7, 8))
        own = [e for e in tables.own_events() if e["true_actor"] == pid]
        assert own
        assert len(tables.unmatched([])) == len(own)
        shifted = [type(a)(a.day + 1, a.kind, a.source, a.details) for a in story.acts]
        assert tables.unmatched(shifted)
        assert tables.unmatched(story.acts) == []
    finally:
        con.close()


def test_company_story_by_uscc(story_run: Path) -> None:
    cid, uscc = query(
        story_run,
        "SELECT c.company_id, c.uscc FROM companies c JOIN events e "
        "ON e.entity_type = 'company' AND e.attributed_to = c.company_id "
        "ORDER BY e.event_id LIMIT 1",
    )[0]
    story = explain(story_run, company=uscc.lower())
    assert story.entity_type == "company" and story.entity_id == cid
    assert story.faithful
    assert any(r.what == "record" for r in story.rows)
    assert any(r.what == "act" for r in story.rows)
    by_id = explain(story_run, company=str(cid), reproduce_acts=False)
    assert by_id.entity_id == cid and by_id.acts == []
    kept = ("record", "record elsewhere", "score change", "list entry", "list exit", "sanction")
    assert [r for r in by_id.rows if r.what in kept] == [r for r in story.rows if r.what in kept]


def test_a_score_lowered_by_lawful_conduct_and_ties_is_design(story_run: Path) -> None:
    """A Sesame assessment that lowered a score on no recorded event (platform totals,
    attributes and ties only) penalises lawful conduct: design."""
    pid, delta = query(
        story_run,
        "SELECT entity_id, delta FROM score_changes WHERE system = 'sesame' AND delta < 0 "
        "AND event_id IS NULL AND NOT wrongful ORDER BY change_id LIMIT 1",
    )[0]
    story = explain(story_run, person=pid, reproduce_acts=False)
    (row,) = [r for r in story.rows if r.what == "score change" and r.kind == "sesame:credit_score"]
    assert row.events == () and row.rule == "sesame:credit_score:assessment"
    assert row.harm == "design" and row.wrong is False
    assert float(row.detail.split()[0]) == pytest.approx(delta, rel=1e-5) and delta < 0
    # Sesame's rewards (joint measures favouring high scores) are never harm.
    (rewarded,) = query(
        story_run, "SELECT entity_id FROM sanctions WHERE kind = 'reward' ORDER BY ALL LIMIT 1"
    )[0]
    rewards = explain(story_run, person=rewarded, reproduce_acts=False)
    assert {r.harm for r in rewards.rows if r.kind == "reward"} == {NOT_ADVERSE}


# -- harm classes ---------------------------------------------------------------------------


def audit_rows(run: Path) -> list[dict[str, Any]]:
    """The audit's classification of every adverse decision of the run."""
    con = duckdb.connect(str(run / "run.duckdb"), read_only=True)
    try:
        return classify(con).to_pylist()
    finally:
        con.close()


_TABLES = {"score change": "score_changes", "list entry": "list_entries", "sanction": "sanctions"}


def test_story_classes_are_the_audits(story_run: Path) -> None:
    """Each decision row carries the audit's class for that decision (error, other_conduct,
    design, rightful); every decision the audit leaves out is not adverse."""
    audited = audit_rows(story_run)
    first: dict[str, tuple[str, int]] = {}
    for d in audited:
        first.setdefault(d["class"], (d["entity_type"], d["entity"]))
    assert set(first) >= {"error", "design", "rightful"}, first
    (rewarded,) = query(
        story_run, "SELECT entity_id FROM sanctions WHERE kind = 'reward' ORDER BY ALL LIMIT 1"
    )[0]
    for entity_type, entity in sorted({*first.values(), ("person", int(rewarded))}):
        story = explain(story_run, reproduce_acts=False, **{entity_type: entity})
        expected = sorted(
            (d["decision_table"], d["day"], d["class"])
            for d in audited
            if (d["entity_type"], d["entity"]) == (entity_type, entity)
        )
        decisions = story.decisions()
        told = sorted((_TABLES[r.what], r.day, r.harm) for r in decisions if r.harm != NOT_ADVERSE)
        assert told == expected, (entity_type, entity)
        assert len(decisions) == sum(r.what in _TABLES for r in story.rows)
        # Rewards and score rises are never adverse.
        for r in decisions:
            if r.kind == "reward" or (r.what == "score change" and r.detail.startswith("+")):
                assert r.harm == NOT_ADVERSE, r


# -- command line ---------------------------------------------------------------------------


def one_line_error(proc: Any) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_cli_json_is_the_story(story_run: Path, wrongly_listed: tuple[int, Story]) -> None:
    pid, story = wrongly_listed
    (resident,) = query(story_run, "SELECT resident_id FROM citizens WHERE person_id = ?", pid)[0]
    proc = run_cli("explain", story_run, "--person", resident, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["entity_id"] == pid and data["faithful"] is True
    assert data == json.loads(json.dumps(story.to_json()))
    assert {r["harm"] for r in data["rows"]} >= {"error", None}


def test_cli_table(
    story_run: Path, wrongly_listed: tuple[int, Story], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, _ = wrongly_listed
    monkeypatch.setenv("COLUMNS", "250")  # wide enough that no cell is folded
    proc = run_cli("explain", story_run, "--person", str(pid))
    assert proc.returncode == 0, proc.stderr
    assert "nanjing:discredited" in proc.stdout and "error" in proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"\d+ true acts, \d+ records \(\d+ wrong\), \d+ decisions \(.*error.*\)", last
    )


def test_cli_table_on_a_narrow_terminal(
    story_run: Path, wrongly_listed: tuple[int, Story], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 80 columns a row's rule, events, wrongness and harm follow its detail, which
    keeps its width: the words of the detail are not folded letter by letter."""
    pid, story = wrongly_listed
    monkeypatch.setenv("COLUMNS", "80")
    proc = run_cli("explain", story_run, "--person", str(pid))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "nanjing:discredited" in proc.stdout and "harm: error" in proc.stdout
    # Every date is whole on its line (the wide table folded them at this width).
    for row in story.rows:
        if row.date is not None:
            assert row.date.isoformat() in proc.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--person", "99999999"), "no person '99999999' in this run"),
        (("--person", "123456789012345678901"), "no person '123456789012345678901'"),
        (("--company", "123456789012345678"), "no company '123456789012345678'"),
        (("--person", "Zhang"), "expected a person_id (a number) or an 18-character"),
        ((), "give one of --person"),
        (("--person", "1", "--company", "1"), "give one of --person"),
    ],
)
def test_cli_unknown_entity(story_run: Path, args: tuple[str, ...], expected: str) -> None:
    assert expected in one_line_error(run_cli("explain", story_run, *args))


def test_cli_not_a_run(tmp_path: Path) -> None:
    assert "is not an sclab run" in one_line_error(run_cli("explain", tmp_path, "--person", "1"))
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    assert "not an sclab run manifest" in one_line_error(
        run_cli("explain", tmp_path, "--person", "1")
    )
