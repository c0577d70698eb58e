"""``sclab audit`` end to end on a small real run: tables, summary, recomputation."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from tests.conftest import run_cli

from sclab.audit import Audit
from sclab.audit.harm import CLASSES
from sclab.store.hashes import table_hashes
from sclab.store.manifest import Manifest


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "demo"
    proc = run_cli("run", "demo", "--population", "5000", "--days", "30", "--out", out,
                   "--quiet")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out


def test_audit_command_end_to_end(demo_run: Path) -> None:
    run_hashes = table_hashes(demo_run / "run.duckdb")
    proc = run_cli("audit", demo_run)
    assert proc.returncode == 0, proc.stderr
    assert "rightful" in proc.stdout and str((demo_run / "audit.duckdb").resolve()) in proc.stdout
    # Printed to a pipe (80 columns), no list name or number is cut short.
    assert "…" not in proc.stdout
    assert table_hashes(demo_run / "run.duckdb") == run_hashes  # the run is only read
    first = table_hashes(demo_run / "audit.duckdb")
    assert Manifest.read(demo_run).files["audit.duckdb"]["tables"].keys() == first.keys()

    proc = run_cli("audit", demo_run, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert table_hashes(demo_run / "audit.duckdb") == first  # recomputed: the same tables
    assert list(summary["classes"]) == list(CLASSES)

    # The decisions add up to the run's adverse rows, each counted once.
    con = duckdb.connect(str(demo_run / "run.duckdb"), read_only=True)
    try:
        adverse = con.execute(
            "SELECT (SELECT count(*) FROM sanctions WHERE kind <> 'reward')"
            " + (SELECT count(*) FROM list_entries)"
            " + (SELECT count(*) FROM score_changes WHERE delta < 0)"
        ).fetchall()[0][0]
        wrongful = con.execute(
            "SELECT (SELECT count(*) FROM sanctions WHERE wrongful AND kind <> 'reward')"
            " + (SELECT count(*) FROM list_entries WHERE wrongful)"
            " + (SELECT count(*) FROM score_changes WHERE wrongful AND delta < 0)"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert adverse > 0
    assert sum(c["decisions"] for c in summary["classes"].values()) == adverse
    assert summary["classes"]["error"]["decisions"] == wrongful
    assert sum(d["decisions"] for d in summary["by_domain"]) == adverse
    stored = Audit.load(demo_run)
    assert stored.tables["harm_decisions"].num_rows == adverse
