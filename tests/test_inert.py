"""No mechanism silently inert: the ``inert`` table and the "Never fired" block."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import yaml
from tests.conftest import run_cli, small_scenario

from sclab.calibration import find_inert
from sclab.run import run_scenario
from sclab.targets import load_run_target

# A rule on traffic tickets fires on every recorded ticket; a rule on the eleventh ticket
# of one person within a year is on a kind the scenario produces, but far too rarely for
# 5 days (a ticket is a few per hundred adults a year), and so is the joint measure on
# its list.
RARE_POLICY = """\
id: rare
title: Traffic tickets, counted
participation: {mode: mandatory}
counters:
  - id: tickets
    entity: person
    events: {kinds: [traffic_ticket]}
    window_days: 365
lists:
  - id: repeat_offenders
    kind: blacklist
    entity: person
    term_days: 365
rules:
  - id: every_ticket
    when:
      events: {kinds: [traffic_ticket]}
    effects:
      - sanction: {kind: notice, domain: sms}
  - id: eleventh_ticket
    when: {counter: tickets, above: 10}
    effects:
      - list: {list: repeat_offenders}
joint:
  - id: no_flights
    when: {list: repeat_offenders}
    moments: [flight_ticket]
    effect: blocked
    domain: high_consumption
"""


def rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def quiet_cameras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cameras at busy intersections that capture nobody, under the Nanjing rule, and the
    rare-ticket policy; run through the command line."""
    tmp = tmp_path_factory.mktemp("inert")
    (tmp / "rare.yaml").write_text(RARE_POLICY, encoding="utf-8")
    doc = small_scenario(
        sources=[{"use": "streets"}, {"use": "state_data"}, {"use": "resources"}],
        sensors=[{"use": "records"}, {"use": "cameras", "params": {"capture": 0.0}}],
        policies=[
            {"use": "pack", "params": {"pack": "nanjing"}},
            {"use": "pack", "params": {"pack": str(tmp / "rare.yaml")}},
        ],
    )
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    out = tmp / "run"
    proc = run_cli("run", path, "--out", out, "--quiet")
    assert proc.returncode == 0, proc.stderr
    (tmp / "stdout.txt").write_text(proc.stdout, encoding="utf-8")
    return out


def test_cameras_that_capture_nobody_are_named(quiet_cameras: Path) -> None:
    db = quiet_cameras / "run.duckdb"
    assert rows(db, "SELECT count(*) FROM identifications") == [(0,)]
    inert = rows(db, "SELECT component, item_type, item, detail FROM inert")
    assert ("sensors:cameras", "component", "sensors:cameras") in [r[:3] for r in inert]
    [detail] = [r[3] for r in inert if r[0] == "sensors:cameras"]
    assert "no probe captured" in detail
    # The Nanjing rules hang on identifications: none fired.
    assert ("policy:nanjing", "rule", "display") in [r[:3] for r in inert]
    assert ("policy:nanjing", "rule", "discredited") in [r[:3] for r in inert]
    # Sources that acted are not named.
    assert not any(r[0] in ("sources:streets", "sources:state_data") for r in inert)


def test_a_rule_on_a_produced_kind_that_never_fires(quiet_cameras: Path) -> None:
    db = quiet_cameras / "run.duckdb"
    assert rows(db, "SELECT count(*) > 0 FROM events WHERE kind = 'traffic_ticket'") == [(True,)]
    inert = {r[:3] for r in rows(db, "SELECT component, item_type, item FROM inert")}
    assert ("policy:rare", "rule", "eleventh_ticket") in inert
    assert ("policy:rare", "joint_measure", "no_flights") in inert
    assert ("policy:rare", "rule", "every_ticket") not in inert
    assert rows(db, "SELECT count(*) > 0 FROM sanctions WHERE rule_id = 'every_ticket'") == [
        (True,)
    ]


def test_summary_and_manifest_show_never_fired(quiet_cameras: Path) -> None:
    stdout = (quiet_cameras.parent / "stdout.txt").read_text(encoding="utf-8")
    assert "Never fired" in stdout
    assert "rule 'eleventh_ticket' never fired" in stdout
    manifest = json.loads((quiet_cameras / "manifest.json").read_text())
    assert "policy:rare: rule 'eleventh_ticket' never fired" in manifest["never_fired"]
    assert "inert" in manifest["files"]["run.duckdb"]["tables"]  # hashed with the others


@pytest.fixture(scope="module")
def composite_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scenario = load_run_target("demo", {"--population": 3000, "--days": 20, "--seed": 5})
    out = tmp_path_factory.mktemp("runs") / "demo"
    run_scenario(scenario, out)
    return out / "run.duckdb"


def test_reported_exactly_when_no_row_names_it(composite_run: Path) -> None:
    """Every rule of every policy is reported if and only if no decision row of its
    system carries its id (joint measures: no sanction on one of their moments)."""
    con = duckdb.connect(str(composite_run), read_only=True)
    try:
        reported = {(i.component, i.item_type, i.item) for i in find_inert(con)}
        stored = set(con.execute("SELECT component, item_type, item FROM inert").fetchall())
        assert reported == stored
        for system, component, text in con.execute(
            "SELECT system::VARCHAR, component, yaml FROM policies"
        ).fetchall():
            policy = yaml.safe_load(text)
            for rule in policy.get("rules") or []:
                n = con.execute(
                    "SELECT (SELECT count(*) FROM score_changes WHERE system::VARCHAR = $s "
                    "AND rule_id::VARCHAR = $r) + (SELECT count(*) FROM list_entries WHERE "
                    "system::VARCHAR = $s AND rule_id::VARCHAR = $r) + (SELECT count(*) "
                    "FROM sanctions WHERE system::VARCHAR = $s AND rule_id::VARCHAR = $r "
                    "AND domain::VARCHAR NOT IN (SELECT unnest($m::VARCHAR[])))",
                    {"s": system, "r": rule["id"], "m": _moments(policy, rule["id"])},
                ).fetchall()[0][0]
                assert ((component, "rule", rule["id"]) in reported) == (n == 0), rule["id"]
            for j in policy.get("joint") or []:
                n = con.execute(
                    "SELECT count(*) FROM sanctions WHERE system::VARCHAR = $s AND "
                    "rule_id::VARCHAR = $r AND domain::VARCHAR IN (SELECT unnest($m::VARCHAR[]))",
                    {"s": system, "r": j["id"], "m": [str(m) for m in j["moments"]]},
                ).fetchall()[0][0]
                assert ((component, "joint_measure", j["id"]) in reported) == (n == 0), j["id"]
    finally:
        con.close()


def _moments(policy: dict, rule_id: str) -> list[str]:
    """The moments of a joint measure that shares the rule's id (none: an empty list)."""
    return [str(m) for j in policy.get("joint") or [] if j["id"] == rule_id for m in j["moments"]]


def test_components_reported_exactly_when_none_of_their_kinds_occur(composite_run: Path) -> None:
    con = duckdb.connect(str(composite_run), read_only=True)
    try:
        reported = {i.component for i in find_inert(con) if i.item_type == "component"}
        for (component,) in con.execute("SELECT DISTINCT produced_by FROM kinds").fetchall():
            n = con.execute(
                "SELECT (SELECT count(*) FROM true_act_totals t JOIN kinds k ON t.kind::VARCHAR "
                "= k.name AND k.category = 'act' WHERE k.produced_by = $c AND t.acts > 0) + "
                "(SELECT count(*) FROM aggregates a JOIN kinds k ON a.kind::VARCHAR = k.name "
                "AND k.category = 'act' WHERE k.produced_by = $c AND a.count > 0) + "
                "(SELECT count(*) FROM events e JOIN kinds k ON e.kind::VARCHAR = k.name "
                "AND k.category = 'event' WHERE k.produced_by = $c) + "
                "(SELECT count(*) FROM resource_moments m JOIN kinds k ON m.kind::VARCHAR = "
                "k.name AND k.category = 'moment' WHERE k.produced_by = $c)",
                {"c": component},
            ).fetchall()[0][0]
            assert (component in reported) == (n == 0), component
    finally:
        con.close()
