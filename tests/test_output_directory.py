"""The output directory: ``--force`` never deletes a file sclab did not write; staging
directories of interrupted or killed runs never stay behind (real subprocesses, signals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import run_cli

from sclab.errors import OutputError
from sclab.store.manifest import Manifest
from sclab.store.output import HOST, STAGING_NAME, OutputDirectory

SMALL = ("run", "demo", "--population", "500", "--days", "2", "--quiet")
#: Long enough that a signal sent once the database exists lands while the days run.
LONG = ("run", "demo", "--population", "300000", "--days", "365", "--quiet")


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` with its bytes."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def staging_dirs(parent: Path) -> list[Path]:
    return sorted(p for p in parent.iterdir() if STAGING_NAME.match(p.name))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "run"
    proc = run_cli(*SMALL, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


def copy_run(run: Path, where: Path) -> Path:
    out = where / run.name
    out.mkdir()
    for name, data in snapshot(run).items():
        (out / name).write_bytes(data)
    return out


def test_force_refuses_a_directory_of_user_files_and_keeps_them(tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    (out / "figures").mkdir(parents=True)
    (out / "thesis.txt").write_text("precious")
    (out / "figures" / "f1.svg").write_text("<svg/>")
    (out / "run.duckdb").write_text("not a database")  # a name sclab uses is not enough
    before = snapshot(out)
    proc = run_cli(*SMALL, "--out", out, "--force")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "not an sclab run" in line and "thesis.txt" in line and "figures/" in line
    assert snapshot(out) == before
    assert staging_dirs(tmp_path) == []


def test_force_refuses_a_run_with_an_added_notebook_and_keeps_it(
    small_run: Path, tmp_path: Path
) -> None:
    out = copy_run(small_run, tmp_path)
    (out / "notes.ipynb").write_text("{}")
    before = snapshot(out)
    proc = run_cli(*SMALL, "--out", out, "--force")
    assert proc.returncode == 2
    line = one_line(proc.stderr)
    assert "notes.ipynb" in line and "did not write" in line
    assert "run.duckdb" not in line and "manifest.json" not in line
    assert snapshot(out) == before


def test_force_refuses_a_manifest_of_another_format(small_run: Path, tmp_path: Path) -> None:
    out = copy_run(small_run, tmp_path)
    (out / "manifest.json").write_text('{"files": {"run.duckdb": {}}}')
    before = snapshot(out)
    proc = run_cli(*SMALL, "--out", out, "--force")
    assert proc.returncode == 2
    assert "not an sclab run manifest" in one_line(proc.stderr)
    assert snapshot(out) == before


def test_force_replaces_a_run_and_the_directories_it_registered(
    small_run: Path, tmp_path: Path
) -> None:
    out = copy_run(small_run, tmp_path)
    (out / "report").mkdir()
    (out / "report" / "index.html").write_text("<html/>")
    manifest = Manifest.read(out)
    manifest.add_file(out / "report", "report")
    manifest.write()
    # A file put into a registered directory afterwards is the user's.
    (out / "report" / "mine.txt").write_text("mine")
    proc = run_cli(*SMALL, "--out", out, "--force")
    assert proc.returncode == 2
    assert "report/mine.txt" in one_line(proc.stderr)
    (out / "report" / "mine.txt").unlink()
    proc = run_cli(*SMALL, "--seed", "3", "--out", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "run.duckdb"]
    assert Manifest.read(out).info["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_an_empty_directory_is_used_without_force(tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    proc = run_cli(*SMALL, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert (out / "manifest.json").is_file()


def test_a_file_added_while_the_run_is_computed_is_kept(small_run: Path, tmp_path: Path) -> None:
    out = copy_run(small_run, tmp_path)
    staged = OutputDirectory(out, force=True)
    (staged.staging / "run.duckdb").write_text("the new run")
    (out / "draft.md").write_text("written while the run computed")
    with pytest.raises(OutputError, match=r"draft\.md"):
        staged.commit()
    staged.abort()
    assert (out / "draft.md").read_text() == "written while the run computed"
    assert snapshot(out)["run.duckdb"] == (small_run / "run.duckdb").read_bytes()
    assert staging_dirs(tmp_path) == []


def start(args: tuple[str, ...], out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sclab.cli", *args, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_database(proc: subprocess.Popen[str], parent: Path) -> Path:
    """The staging directory of ``proc`` once its database exists (the run is under way)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for d in staging_dirs(parent):
            if f"-{proc.pid}@" in d.name and (d / "run.duckdb").exists():
                return d
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the run never created its database")


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_removes_the_unfinished_run_and_keeps_the_earlier_one(
    small_run: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = copy_run(small_run, tmp_path)
    before = snapshot(out)
    proc = start((*LONG, "--force"), out)
    wait_for_database(proc, tmp_path)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code
    line = one_line(stderr)
    assert sig.name in line and "interrupted" in line
    assert staging_dirs(tmp_path) == []
    assert snapshot(out) == before


def test_a_killed_run_leaves_a_staging_directory_the_next_run_removes(tmp_path: Path) -> None:
    proc = start(LONG, tmp_path / "killed")
    staging = wait_for_database(proc, tmp_path)
    proc.kill()
    proc.wait()
    assert staging.is_dir()
    assert not (tmp_path / "killed").exists()
    # Staging directories of a live process and of another machine are not stale.
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        alive = tmp_path / f".other.partial-{sleeper.pid}@{HOST}-abcd1234"
        elsewhere = tmp_path / f".other.partial-{proc.pid}@not-{HOST}-abcd1234"
        alive.mkdir()
        elsewhere.mkdir()
        proc2 = run_cli(*SMALL, "--out", tmp_path / "next")
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc2.returncode == 0, proc2.stderr
    line = one_line(proc2.stderr)
    assert line.startswith("note: removed") and staging.name in line and str(proc.pid) in line
    assert not staging.exists()
    assert alive.is_dir() and elsewhere.is_dir()


def test_a_run_moved_aside_by_a_killed_process_is_put_back(small_run: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    aside = copy_run(small_run, tmp_path)
    moved = tmp_path / f".run.replaced-{dead.pid}@{HOST}-abcd1234"
    os.replace(aside, moved)
    before = snapshot(moved)
    proc = run_cli(*SMALL, "--out", tmp_path / "other")
    assert proc.returncode == 0, proc.stderr
    assert "restored" in one_line(proc.stderr)
    assert snapshot(tmp_path / "run") == before
    assert staging_dirs(tmp_path) == []


def test_force_replaces_a_run_made_before_manifests_had_a_format(
    small_run: Path, tmp_path: Path
) -> None:
    out = copy_run(small_run, tmp_path)
    legacy = Manifest.read(out).info  # what such a manifest held: no format, no files
    (out / "manifest.json").write_text(json.dumps(legacy))
    proc = run_cli(*SMALL, "--seed", "4", "--out", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert Manifest.read(out).info["seed"] == 4
    # With a file sclab never wrote beside it, it is refused.
    (out / "manifest.json").write_text(json.dumps(legacy))
    (out / "notes.txt").write_text("mine")
    proc = run_cli(*SMALL, "--out", out, "--force")
    assert proc.returncode == 2
    assert "notes.txt" in one_line(proc.stderr)
    assert (out / "notes.txt").read_text() == "mine"
