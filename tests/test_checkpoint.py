"""Checkpoints and ``sclab resume``: real runs killed with SIGKILL at chosen moments
(mid-day, mid-checkpoint, mid-write, during the end's writes), resumed, compared table by
table with a run that was never stopped; and every refusal (a changed scenario, policy
file or version, a finished run, no checkpoint, a damaged checkpoint) as one line, exit 2,
with nothing lost.

The moments are hit exactly with ``SCLAB_KILL_AT`` (:func:`sclab.store.checkpoint.
fault_point`): the process kills itself there with SIGKILL, as the kernel would.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import run_cli

import sclab
from sclab.errors import SclabError
from sclab.run import Reporter
from sclab.store.checkpoint import KILL_AT, RECORD, Resumable, ResumeError, truncate_to
from sclab.store.hashes import table_hashes
from sclab.store.schema import DESCRIPTIVE_TABLES

#: The composite bundle (every source, sensor, behaviour and system) at a small size.
RUN = ("composite", "--population", "2000", "--days", "30", "--seed", "3", "--quiet")
EVERY = ("--checkpoint-every", "5")  # checkpoints after days 4, 9, 14, 19, 24
SIGKILLED = -signal.SIGKILL


def sclab_cli(*args: str | Path, kill_at: str | None = None, cwd: Path | None = None):
    """Run ``sclab`` in a subprocess; ``kill_at`` names the moment it kills itself."""
    env = {k: v for k, v in os.environ.items() if k != KILL_AT}
    if kill_at is not None:
        env[KILL_AT] = kill_at
    return run_cli(*args, cwd=cwd, env=env)


def killed(out: Path, at: str, *args: str) -> None:
    """A run with checkpoints, killed with SIGKILL at moment ``at``."""
    proc = sclab_cli("run", *(args or RUN), *EVERY, "--out", out, kill_at=at)
    assert proc.returncode in (SIGKILLED, 128 + signal.SIGKILL), proc.stderr
    assert Resumable(out).exists()


def resumed(out: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return sclab_cli("resume", out, "--quiet", kill_at=kill_at)


def contents(run_dir: Path) -> dict[str, object]:
    """Every table's content hash, the descriptive ones (when it was made) aside."""
    hashes = table_hashes(run_dir / "run.duckdb")
    return {t: h for t, h in hashes.items() if t not in DESCRIPTIVE_TABLES}


class Notes(sclab.RunObserver):
    """Keeps the notes a run's reporter is given (stale directories removed...)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def progress(self, scenario: object) -> contextlib.AbstractContextManager[Reporter]:
        lines = self.lines

        class Keep(Reporter):
            def note(self, message: str) -> None:
                lines.append(message)

        return contextlib.nullcontext(Keep())


def one_line_refusal(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def uninterrupted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run never stopped (and without checkpoints)."""
    out = tmp_path_factory.mktemp("base") / "run"
    proc = sclab_cli("run", *RUN, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def uninterrupted(uninterrupted_run: Path) -> dict[str, object]:
    """Its tables' content hashes."""
    return contents(uninterrupted_run)


def test_a_run_killed_as_its_run_ends_is_in_place_and_what_it_left_is_removed(
    uninterrupted: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    killed(out, "end-commit")  # the run moved into place, its checkpoint not yet removed
    one_line_refusal(resumed(out), "is a finished run", "nothing to resume")
    assert not Resumable(out).exists()
    assert contents(out) == uninterrupted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing left beside it


def test_a_run_killed_at_every_kind_of_moment_resumes_each_time_to_identical_tables(
    uninterrupted: dict[str, object], tmp_path: Path
) -> None:
    """Killed, resumed and killed again at each kind of moment, then left to finish."""
    out = tmp_path / "run"
    resumable = Resumable(out)
    killed(out, "day-7")  # mid-day (its steps done, its rows not stored), after day 4's
    # Each moment, and the last complete checkpoint it leaves.
    moments = [
        ("checkpoint-9-record", 4),  # the new state in place, its record not yet
        ("checkpoint-14-pickle", 9),  # mid-write of the state file
        ("checkpoint-19-database", 14),  # the database checkpointed, no state written
        ("end-results", 24),  # the end's rows written
    ]
    for moment, last in moments:
        proc = resumed(out, kill_at=moment)
        assert proc.returncode == SIGKILLED, proc.stderr
        record = resumable.read_record()
        assert record is not None and record.day == last, moment
        assert (resumable.path / f"state-{last}.pickle").is_file()
        if moment == "checkpoint-9-record":  # complete, but no record names it
            assert (resumable.path / "state-9.pickle").is_file()
        if moment == "checkpoint-14-pickle":  # a half-written file never replaced a good one
            assert (resumable.path / "state-14.pickle.tmp").is_file()
    proc = resumed(out)
    assert proc.returncode == 0, proc.stderr
    assert contents(out) == uninterrupted
    assert not resumable.exists()
    manifest = json.loads((out / "manifest.json").read_text())
    # The last resume started from day 24's checkpoint, the last one before the end.
    assert manifest["checkpoints"]["resumed_from_day"] == 24
    assert manifest["checkpoints"]["written"] == []


def test_checkpoints_change_no_table_and_the_api_resumes(
    uninterrupted: dict[str, object], tmp_path: Path
) -> None:
    run = sclab.simulate(
        "composite", population=2000, days=30, seed=3, out=tmp_path / "api", checkpoint_every=7
    )
    assert contents(run.directory) == uninterrupted
    assert [c["day"] for c in run.manifest.info["checkpoints"]["written"]] == [6, 13, 20, 27]
    with pytest.raises(SclabError, match="is a finished run"):
        sclab.resume(run.directory)


def test_checkpoints_are_for_one_run_not_twins_or_replicates(tmp_path: Path) -> None:
    scenario = sclab.Scenario.load("composite", population=2000, days=5)
    for kind in ({"twin": "none"}, {"replicates": 2}):
        with pytest.raises(SclabError, match="checkpoints cover one run"):
            scenario.run(tmp_path / "t", checkpoint_every=2, **kind)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_a_run_stopped_before_its_first_checkpoint_cannot_resume_and_is_cleared(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    killed(out, "day-2")
    one_line_refusal(resumed(out), "before its first checkpoint")
    notes = Notes()
    sclab.simulate("composite", population=2000, days=3, out=out, observer=notes)
    assert any("stopped before its first checkpoint" in n for n in notes.lines)
    assert not Resumable(out).exists()


def test_resume_with_nothing_to_resume_is_one_line(uninterrupted_run: Path, tmp_path: Path) -> None:
    one_line_refusal(resumed(tmp_path / "never"), "has no checkpoint to resume")
    one_line_refusal(resumed(uninterrupted_run), "is a finished run", "nothing to resume")


def test_sigterm_keeps_the_checkpoint_and_resume_finishes(
    uninterrupted: dict[str, object], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sclab.cli", "run", *RUN, "--checkpoint-every", "2", "--out", out],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != KILL_AT},
    )
    record = Resumable(out).record_path
    deadline = time.monotonic() + 300
    while not record.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "sclab resume" in err
    assert not out.exists() and Resumable(out).exists()
    done = resumed(out)
    assert done.returncode == 0, done.stderr
    assert contents(out) == uninterrupted


# Refusals, on copies of one killed run started from a scenario file naming a policy file.


@pytest.fixture(scope="module")
def killed_from_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``scenario.yaml`` (composite with the Nanjing rule from
    ``mine.yaml``, a copy of its pack) and ``.run.resumable``, killed after day 7."""
    where = tmp_path_factory.mktemp("files")
    (where / "mine.yaml").write_text(sclab.pack_text("nanjing"), encoding="utf-8")
    doc = yaml.safe_load(sclab.Scenario.load("composite", population=2000, days=30).to_yaml())
    for policy in doc["policies"]:
        if policy["params"]["pack"] == "nanjing":
            policy["params"]["pack"] = "mine.yaml"  # relative: read from the run's directory
    (where / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    proc = sclab_cli(
        "run", "scenario.yaml", *EVERY, "--seed", "5", "--out", "run", kill_at="day-7", cwd=where
    )
    assert proc.returncode == SIGKILLED, proc.stderr
    return where


@pytest.fixture
def files_run(killed_from_files: Path, tmp_path: Path) -> Path:
    """A fresh copy of :func:`killed_from_files`. Its record still names the original's
    files (the scenario by its absolute name, the policy file from the directory the run
    started in): tests that edit them edit the original's, and put them back."""
    copy = tmp_path / "copy"
    shutil.copytree(killed_from_files, copy)
    return copy


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "lock"
    }


@pytest.mark.parametrize(
    ("edited", "change", "said"),
    [
        ("scenario.yaml", ("days: 30", "days: 31"), "days: 30 in the checkpoint, now 31"),
        ("mine.yaml", ("\nrules:", "\n# edited\nrules:"), "policy mine.yaml changed"),
    ],
)
def test_a_changed_scenario_or_policy_file_is_refused_until_restored(
    killed_from_files: Path, files_run: Path, edited: str, change: tuple[str, str], said: str
) -> None:
    path = killed_from_files / edited
    original = path.read_text(encoding="utf-8")
    assert change[0] in original
    before = snapshot(files_run)
    try:
        path.write_text(original.replace(change[0], change[1], 1), encoding="utf-8")
        line = one_line_refusal(sclab_cli("resume", "run", cwd=files_run), edited, said)
        assert "restore it" in line
        assert snapshot(files_run) == before  # nothing changed on disk
    finally:
        path.write_text(original, encoding="utf-8")
    if edited == "scenario.yaml":  # restored, it resumes
        proc = sclab_cli("resume", "run", "--quiet", cwd=files_run)
        assert proc.returncode == 0, proc.stderr


def test_another_sclab_version_is_refused(files_run: Path) -> None:
    record_path = files_run / ".run.resumable" / RECORD
    record = json.loads(record_path.read_text())
    record["sclab_version"] = "0.0.1"
    record_path.write_text(json.dumps(record))
    with pytest.raises(ResumeError, match=r"written by sclab 0\.0\.1") as err:
        sclab.resume(files_run / "run")
    assert f"this is sclab {sclab.__version__}" in str(err.value)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_state_file_is_refused_and_nothing_is_lost(files_run: Path, damage: str) -> None:
    resumable = Resumable(files_run / "run")
    record = resumable.read_record()
    assert record is not None
    state = resumable.path / record.state["file"]
    good = state.read_bytes()
    if damage == "flip":
        bad = bytearray(good)
        bad[len(bad) // 2] ^= 0xFF
        state.write_bytes(bytes(bad))
    else:
        state.write_bytes(good[: len(good) // 3])
    before = snapshot(files_run)
    if damage == "flip":
        refused = sclab_cli("resume", "run", cwd=files_run)
        one_line_refusal(refused, record.state["file"], "damaged")
    else:
        with pytest.raises(ResumeError, match="does not match its record"):
            sclab.resume(files_run / "run")
    assert snapshot(files_run) == before
    if damage == "flip":
        state.write_bytes(good)  # put back: the checkpoint was never lost
        proc = sclab_cli("resume", "run", "--quiet", cwd=files_run)
        assert proc.returncode == 0, proc.stderr
        assert (files_run / "run" / "manifest.json").is_file()


def test_a_new_run_over_an_unfinished_one_needs_force(files_run: Path) -> None:
    out = files_run / "run"
    with pytest.raises(SclabError) as err:
        sclab.simulate("composite", population=2000, days=3, out=out)
    line = str(err.value)
    for said in ("unfinished run", "checkpoint of day 4", f"sclab resume {out}", "--force"):
        assert said in line
    assert Resumable(out).exists()
    notes = Notes()
    sclab.simulate("composite", population=2000, days=3, out=out, force=True, observer=notes)
    assert any("as --force asks" in n for n in notes.lines)
    assert not Resumable(out).exists()


# The database side: cutting tables back to a checkpoint's row counts.


@settings(max_examples=25, deadline=None)
@given(
    before=st.lists(st.integers(1, 3000), min_size=1, max_size=4),
    after=st.lists(st.integers(1, 3000), max_size=4),
    gap=st.booleans(),
    more=st.integers(0, 2000),
)
def test_truncate_to_keeps_exactly_the_first_rows_and_numbers_new_ones_after(
    before: list[int], after: list[int], gap: bool, more: int
) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a BIGINT)")
    n = 0

    def insert(k: int) -> None:
        nonlocal n
        con.from_arrow(pa.table({"a": np.arange(n, n + k)})).insert_into("t")
        n += k

    for k in before:
        insert(k)
    kept = n
    con.execute("CHECKPOINT")
    if gap:  # rows already deleted and not checkpointed: later rows numbered past them
        insert(50)
        con.execute("DELETE FROM t WHERE a >= ?", [kept])
    for k in after:
        insert(k)
    truncate_to(con, {"t": kept}, "test")
    n = kept
    insert(more)
    rows = con.execute("SELECT a, rowid FROM t ORDER BY rowid").fetchall()
    assert [a for a, _ in rows] == list(range(kept + more))
    assert [r for _, r in rows] == list(range(kept + more))


def test_truncate_to_refuses_a_table_shorter_than_its_checkpoint() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (a BIGINT)")
    con.execute("INSERT INTO t SELECT range FROM range(10)")
    with pytest.raises(ResumeError, match="fewer than the 20"):
        truncate_to(con, {"t": 20}, "test")
    assert con.execute("SELECT count(*) FROM t").fetchall() == [(10,)]


def test_watched_state_arrays_load_writeable_behind_their_guard() -> None:
    """A watched array is read-only outside State.write; in a checkpoint it must come
    back guarded the same way, and writeable through State.write."""
    import io
    import pickle

    from sclab.engine.ages import AGE_KEY
    from sclab.engine.simulation import State
    from sclab.store.checkpoint import StatePickler

    state = State({"person": 300_000})
    ages = state.add(AGE_KEY)
    seen: list[int] = []
    state.watch(AGE_KEY, lambda arr, who, old: seen.append(len(old)))
    state.write(AGE_KEY, 30.0, np.arange(10))
    buffer = io.BytesIO()
    StatePickler(buffer).dump_state((state, seen))
    assert not ages.flags.writeable  # still guarded here
    loaded, loaded_seen = pickle.loads(buffer.getvalue())
    again = loaded[AGE_KEY]
    assert not again.flags.writeable
    with pytest.raises(ValueError):
        again[0] = 1.0
    loaded.write(AGE_KEY, 40.0, np.arange(5))
    assert again[:6].tolist() == [40.0] * 5 + [30.0]
    assert loaded_seen == [10, 5]  # the watcher came along, with its list


def test_a_scenario_loads_again_from_its_origin_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a resume compares: the scenario loaded again from its recorded origin equals
    the one the run started with, for a policy file, overrides and changed policies."""
    from sclab.api.scenario import load_origin

    monkeypatch.chdir(tmp_path)
    Path("mine.yaml").write_text(sclab.pack_text("rongcheng"), encoding="utf-8")
    made = [
        sclab.Scenario.load("mine.yaml", population=2000, days=9),
        sclab.Scenario.load("demo", seed=4, overrides={"cameras.capture": 0.02}),
        sclab.Scenario.load("composite").with_overrides(days=12).with_policies("mine.yaml"),
    ]
    for scenario in made:
        origin = json.loads(json.dumps(scenario.origin))  # as a checkpoint records it
        assert load_origin(origin) == scenario.spec
