"""``sclab rerun DIR --out NEW`` end to end: identical tables from the run's own records,
even after the policy file it ran was edited; one-line refusals."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from tests.conftest import run_cli, small_scenario

from sclab.policy.loader import pack_text
from sclab.store.hashes import table_hashes
from sclab.store.manifest import Manifest
from sclab.store.schema import DESCRIPTIVE_TABLES


def one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def compared(db: Path) -> dict:
    return {t: h for t, h in table_hashes(db).items() if t not in DESCRIPTIVE_TABLES}


@pytest.fixture(scope="module")
def file_policy_run(tmp_path_factory) -> Path:
    """A run of a scenario whose policies are a file next to it and a built-in pack."""
    where = tmp_path_factory.mktemp("rerun")
    (where / "points.yaml").write_text(pack_text("rongcheng"), encoding="utf-8")
    doc = small_scenario(
        days=40,
        sources=[
            {"use": "state_data"},
            {"use": "company_conduct"},
            {"use": "payments"},
            {"use": "resources"},
        ],
        sensors=[{"use": "records"}],
        policies=[
            {"use": "pack", "params": {"pack": "points.yaml"}},
            {"use": "pack", "params": {"pack": "court-defaulters"}},
        ],
    )
    (where / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_cli("run", "scenario.yaml", "--days", "35", "--out", "first", cwd=where)
    assert proc.returncode == 0, proc.stderr
    return where / "first"


def test_rerun_gives_identical_tables(file_policy_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    proc = run_cli("rerun", file_policy_run, "--out", again)
    assert proc.returncode == 0, proc.stderr
    assert "Identical" in proc.stdout
    first, second = compared(file_policy_run / "run.duckdb"), compared(again / "run.duckdb")
    assert first == second
    assert first["score_changes"].rows > 0 and first["events"].rows > 0
    # The manifests agree with the databases.
    assert Manifest.read(again).table_hashes() == {
        t: h.sha256 for t, h in table_hashes(again / "run.duckdb").items()
    }
    con = duckdb.connect(str(again / "run.duckdb"), read_only=True)
    try:
        # The --days override was part of the scenario as run.
        assert con.execute("SELECT days FROM run_info").fetchall() == [(35,)]
    finally:
        con.close()


def test_rerun_compiles_the_recorded_policy_not_the_edited_file(
    file_policy_run: Path, tmp_path: Path
) -> None:
    policy = file_policy_run.parent / "points.yaml"
    original = policy.read_text(encoding="utf-8")
    edited = original.replace("delta: -5\n", "delta: -40\n")
    assert edited != original
    try:
        policy.write_text(edited, encoding="utf-8")
        # Run from another directory: the file's relative path does not resolve there.
        proc = run_cli("rerun", file_policy_run.resolve(), "--out", tmp_path / "again")
        assert proc.returncode == 0, proc.stderr
        # A fresh run of the edited file does change the results.
        fresh = run_cli(
            "run", "scenario.yaml", "--days", "35", "--out", tmp_path / "fresh",
            cwd=policy.parent,
        )  # fmt: skip
        assert fresh.returncode == 0, fresh.stderr
    finally:
        policy.write_text(original, encoding="utf-8")
    first = compared(file_policy_run / "run.duckdb")
    assert compared(tmp_path / "again" / "run.duckdb") == first
    changed = compared(tmp_path / "fresh" / "run.duckdb")
    assert changed["policies"] != first["policies"]
    assert changed["score_changes"] != first["score_changes"]


def _made_by_an_older_sclab(run: Path, tmp_path: Path) -> Path:
    """A copy of ``run`` whose run_info says it was made by sclab 0.0.1."""
    old = tmp_path / "old"
    old.mkdir()
    for name in ("run.duckdb", "manifest.json"):
        (old / name).write_bytes((run / name).read_bytes())
    con = duckdb.connect(str(old / "run.duckdb"))
    con.execute("UPDATE run_info SET sclab_version = '0.0.1'")
    con.close()
    return old


def test_rerun_warns_about_another_sclab_version(file_policy_run: Path, tmp_path: Path) -> None:
    old = _made_by_an_older_sclab(file_policy_run, tmp_path)
    proc = run_cli("rerun", old, "--out", tmp_path / "new", "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning:") and "0.0.1" in lines[0]


def test_rerun_refuses_its_own_directory(file_policy_run: Path) -> None:
    before = Manifest.read(file_policy_run).files
    for out in (file_policy_run, file_policy_run / ".." / file_policy_run.name):
        line = one_line_error(run_cli("rerun", file_policy_run, "--out", out, "--force"))
        assert "is the run being rerun" in line
    assert Manifest.read(file_policy_run).files == before


def test_rerun_of_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    line = one_line_error(run_cli("rerun", tmp_path, "--out", tmp_path / "new"))
    assert "not an sclab run" in line and str(tmp_path) in line
    assert not (tmp_path / "new").exists()


def test_rerun_of_an_edited_scenario_text_is_refused(file_policy_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("run.duckdb", "manifest.json"):
        (copy / name).write_bytes((file_policy_run / name).read_bytes())
    con = duckdb.connect(str(copy / "run.duckdb"))
    con.execute("UPDATE run_info SET scenario_yaml = replace(scenario_yaml, 'days: 35', 'days: 3')")
    con.close()
    line = one_line_error(run_cli("rerun", copy, "--out", tmp_path / "new"))
    assert "scenario_sha256" in line


def test_a_rerun_that_differs_names_the_tables_and_exits_1(
    file_policy_run: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("run.duckdb", "manifest.json"):
        (copy / name).write_bytes((file_policy_run / name).read_bytes())
    manifest = Manifest.read(copy)  # as if the original's events had come out otherwise
    manifest.files["run.duckdb"]["tables"]["events"]["sha256"] = "0" * 64
    manifest.write()
    proc = run_cli("rerun", copy, "--out", tmp_path / "new", "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert "Differs from" in proc.stdout and "events (1 of" in proc.stdout


def test_rerun_from_python_warns_about_another_sclab_version(
    file_policy_run: Path, tmp_path: Path
) -> None:
    import sclab

    old = _made_by_an_older_sclab(file_policy_run, tmp_path)
    with pytest.warns(UserWarning, match=r"made by sclab 0\.0\.1"):
        sclab.open(old, check=False).rerun(tmp_path / "new")
