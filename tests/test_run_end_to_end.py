"""``sclab run`` end to end on small populations: outputs, schema, determinism, atomicity."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from tests.conftest import run_cli

from sclab.ids import is_valid_resident_id, is_valid_uscc
from sclab.store.hashes import table_hashes
from sclab.store.schema import DESCRIPTIVE_TABLES, TABLES

POP = "6000"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "demo"
    proc = run_cli("run", "demo", "--population", POP, "--days", "20", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert str(out.resolve()) in proc.stdout  # tells the user where the output is
    return out


def table_digest(db: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent content hash per table (those that say when and
    on what a run was made aside)."""
    return {t: tuple(h) for t, h in table_hashes(db).items() if t not in DESCRIPTIVE_TABLES}


def test_outputs_and_schema(demo_run: Path) -> None:
    assert sorted(p.name for p in demo_run.iterdir()) == ["manifest.json", "run.duckdb"]
    con = duckdb.connect(str(demo_run / "run.duckdb"), read_only=True)
    try:
        for table, cols in TABLES.items():
            got = [r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()]
            assert got == [c.name for c in cols], table
        assert con.execute("SELECT count(*) FROM citizens").fetchone()[0] == int(POP)
        ids = [r[0] for r in con.execute("SELECT resident_id FROM citizens").fetchall()]
        assert len(set(ids)) == len(ids) and all(map(is_valid_resident_id, ids))
        codes = [r[0] for r in con.execute("SELECT uscc FROM companies").fetchall()]
        assert codes and len(set(codes)) == len(codes) and all(map(is_valid_uscc, codes))
        # the resident ID encodes birth date and sex as stored
        bad = con.execute(
            "SELECT count(*) FROM citizens"
            " WHERE substr(resident_id, 7, 8) <> strftime(birth_date, '%Y%m%d')"
            " OR (CAST(substr(resident_id, 17, 1) AS INT) % 2 = 1) <> (sex = 'male')"
        ).fetchone()[0]
        assert bad == 0
        # ties are stored once each, a < b, between existing people
        row = con.execute(
            "SELECT count(*) FILTER (WHERE person_a >= person_b), max(person_b) FROM ties"
        ).fetchone()
        assert row[0] == 0 and row[1] < int(POP)
        # legal representatives exist and are adults
        orphans = con.execute(
            "SELECT count(*) FROM companies c"
            " LEFT JOIN citizens p ON p.person_id = c.legal_rep_person_id"
            " WHERE p.person_id IS NULL OR p.age < 18"
        ).fetchone()[0]
        assert orphans == 0
        comment = con.execute(
            "SELECT comment FROM duckdb_columns()"
            " WHERE table_name='events' AND column_name='true_actor'"
        ).fetchone()[0]
        assert "really" in comment
    finally:
        con.close()


def test_manifest(demo_run: Path) -> None:
    manifest = json.loads((demo_run / "manifest.json").read_text())
    assert manifest["seed"] == 20190708
    assert manifest["population"] == int(POP)
    assert manifest["scenario"]["name"] == "demo"
    assert manifest["scenario"]["population"]["size"] == int(POP)
    assert manifest["row_counts"]["citizens"] == int(POP)
    assert set(manifest["row_counts"]) == set(TABLES)
    assert {"population", "write_population", "simulate"} <= set(manifest["timings_seconds"])
    assert manifest["memory"]["peak_rss_bytes"] > 0
    assert manifest["sclab_version"]
    assert (manifest["format"], manifest["format_version"]) == ("sclab-run", 1)
    assert set(manifest["files"]) == {"manifest.json", "run.duckdb"}
    database = manifest["files"]["run.duckdb"]
    assert database["bytes"] == (demo_run / "run.duckdb").stat().st_size
    hashes = table_hashes(demo_run / "run.duckdb")
    assert database["tables"] == {t: {"rows": n, "sha256": h} for t, (n, h) in hashes.items()}


def test_same_seed_identical_different_seed_different(demo_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    proc = run_cli("run", "demo", "--population", POP, "--days", "20", "--out", again)
    assert proc.returncode == 0, proc.stderr
    first, second = table_digest(demo_run / "run.duckdb"), table_digest(again / "run.duckdb")
    assert first == second
    other = tmp_path / "other"
    proc = run_cli(
        "run", "demo", "--population", POP, "--days", "20", "--seed", "8", "--out", other
    )
    assert proc.returncode == 0, proc.stderr
    third = table_digest(other / "run.duckdb")
    assert third["citizens"][0] == first["citizens"][0]
    assert third["citizens"][1] != first["citizens"][1]
    assert third["ties"] != first["ties"]


def test_force_replaces_a_run_and_no_partial_directories_remain(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        run_cli("run", "demo", "--population", "800", "--days", "1", "--out", out).returncode == 0
    )
    proc = run_cli("run", "demo", "--population", "900", "--days", "1", "--out", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text())["population"] == 900
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_failed_run_leaves_the_previous_one(tmp_path: Path, monkeypatch) -> None:
    """An error mid-run (here: while simulating) keeps the earlier run intact."""
    from sclab import run as run_module
    from sclab.targets import load_scenario

    out = tmp_path / "run"
    scenario = load_scenario("demo", {"--population": 600, "--days": 2})
    run_module.run_scenario(scenario, out)
    before = (out / "manifest.json").read_text()

    def boom(self, before_day_ends=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module.Simulation, "step", boom)
    with pytest.raises(KeyboardInterrupt):
        run_module.run_scenario(scenario, out, force=True)
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    duckdb.connect(str(out / "run.duckdb"), read_only=True).close()


def test_scenarios_command_lists_builtins() -> None:
    proc = run_cli("scenarios")
    assert proc.returncode == 0
    assert "demo" in proc.stdout and "nanjing" in proc.stdout and "jiangsu" in proc.stdout
    # The packs that run as targets are named too (sclab run composite).
    assert "composite" in proc.stdout and "court-defaulters" in proc.stdout


def test_demo_runs_every_world_stage(demo_run: Path) -> None:
    """The default scenario turns every source on: its truths and records reach the database."""
    con = duckdb.connect(str(demo_run / "run.duckdb"), read_only=True)
    try:
        sources = {r[0] for r in con.execute("SELECT DISTINCT source FROM events").fetchall()}
        assert {"payments", "state_data"} <= sources  # companies: too few in 20 days
        # every recorded event keeps its truth; company events are linked by USCC
        row = con.execute(
            "SELECT count(*) FILTER (WHERE true_actor IS NULL),"
            " count(*) FILTER (WHERE entity_type = 'company' AND attributed_to <> true_actor),"
            " count(*) FILTER (WHERE recorded_day < day) FROM events"
        ).fetchone()
        assert row == (0, 0, 0)
        kinds = {r[0] for r in con.execute("SELECT kind FROM true_act_totals").fetchall()}
        assert {"jaywalk", "bill_late", "loan_taken"} <= kinds
        # jaywalks are true acts but only cameras record them
        assert con.execute("SELECT count(*) FROM events WHERE kind = 'jaywalk'").fetchone()[0] == 0
        agg = {r[0] for r in con.execute("SELECT DISTINCT kind FROM aggregates").fetchall()}
        assert {"post_neutral", "purchase_groceries", "crossing", "bike_rental"} <= agg
        moments = {
            r[0] for r in con.execute("SELECT DISTINCT kind FROM resource_moments").fetchall()
        }
        assert {"rail_ticket", "flight_ticket"} <= moments
        # every moment a policy decided has its decision row (school places are decided on
        # the parent but recorded against the child)
        undocumented = con.execute(
            "SELECT count(*) FROM resource_moments m WHERE outcome <> 'allowed'"
            " AND kind <> 'school_place' AND NOT EXISTS (SELECT 1 FROM sanctions s"
            " WHERE s.day = m.day AND s.domain = m.kind AND s.entity_id = m.actor)"
        ).fetchone()[0]
        assert undocumented == 0
        systems = {r[0] for r in con.execute("SELECT DISTINCT system FROM sanctions").fetchall()}
        assert "sesame" in systems  # perks at resource moments; nanjing needs more cameras
        # Sanctions are decisions of the policy packs only (sensors record, never decide).
        assert systems <= {"court-defaulters", "corporate", "nanjing", "rongcheng", "sesame"}
    finally:
        con.close()
