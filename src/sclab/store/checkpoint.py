"""Checkpoints: a run that survives being killed, resumed from its last complete one.

Core objects:
    :class:`Resumable`: the hidden directory ``.NAME.resumable`` beside a run's target
        ``NAME``, where a run with checkpoints is built: ``run/`` (the staging directory,
        moved into place as ``NAME`` at the end), ``checkpoint.json`` (the record of the
        last complete checkpoint), ``state-DAY.pickle`` (the simulation's state it names)
        and ``lock`` (held by the process that runs or resumes it).
    :class:`CheckpointRecord`: what a checkpoint records: the day, the state file with its
        size and SHA-256, every table's row count, and what a resume checks first (sclab
        version, scenario and policy texts, seed, population).
    :class:`StatePickler`: writes the state (``cloudpickle``, read-only arrays kept
        writeable in the file).
    :func:`durable_row_counts`: the database made durable at a day boundary, and the row
        count of each table then.
    :func:`truncate_to`: a reopened database cut back to a checkpoint's row counts.
    :class:`ResumeError`: why a run cannot be resumed (one line, exit 2).
    :func:`fault_point`: a named moment where the tests of resume kill the process.

Why a record written last: a checkpoint is complete only once ``checkpoint.json`` names
it. The state is written to a temporary name, synced and renamed into place, then the
record is written the same way; a kill at any moment leaves the previous record naming
its own (complete) state file, and the previous state file is removed only after the new
record is in place. No half-written file ever replaces a good one.

Why row counts: during the days the database's tables only grow, and DuckDB numbers a
table's rows in insertion order (``rowid``), so a table at a checkpoint is its first
``n`` rows. A resume drops the rows after them (the days after the checkpoint, and any
end-of-run rows) and continues; a ``CHECKPOINT`` after the delete makes DuckDB drop the
deleted tail, so the next rows are numbered from ``n`` again (checked, and rebuilt in
order if not).

The state file is a pickle (``cloudpickle``, which also handles the closures components
keep): loading a pickle runs code, so a checkpoint must only be resumed from a run
directory one trusts. It is sclab's own file: its SHA-256 is checked against the record
before it is loaded, and a damaged or truncated file is refused without deleting it.

Cost model: a checkpoint waits for the database writer, runs DuckDB's ``CHECKPOINT``
(the rows since the last one), counts each table's rows (metadata) and writes the state
once, hashing it as it goes: O(state bytes) of I/O, once every ``--checkpoint-every``
days; a run without checkpoints does none of it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import cloudpickle
import duckdb
import numpy as np

from sclab.errors import SclabError

#: The record's format name and version.
FORMAT = "sclab-checkpoint"
FORMAT_VERSION = 1
#: The record of the last complete checkpoint, in a :class:`Resumable` directory.
RECORD = "checkpoint.json"
#: The staging directory of the run inside a :class:`Resumable` directory.
RUN = "run"
#: Suffix of files being written (never read; removed by the next checkpoint or resume).
TEMPORARY = ".tmp"
#: Environment variable naming a :func:`fault_point` where the process kills itself.
KILL_AT = "SCLAB_KILL_AT"
#: Bytes read at a time when a state file is hashed.
_CHUNK = 1 << 24


class ResumeError(SclabError):
    """A run that cannot be resumed: no complete checkpoint, a damaged one, or a scenario,
    policy file or sclab version that changed since it was written."""


def fault_point(name: str) -> None:
    """Kill this process with SIGKILL if :data:`KILL_AT` names this moment.

    A test hook: the tests of resume name a moment (``day-12``, ``checkpoint-10-pickle``,
    ``end-manifest``...) to kill a real run exactly there. Unset, it is a dictionary
    look-up at a handful of moments per checkpoint.
    """
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def resumable_path(target: Path) -> Path:
    """``.NAME.resumable`` beside the target directory ``NAME``."""
    parent = target.parent if str(target.parent) else Path(".")
    return parent / f".{target.name}.resumable"


@dataclass
class CheckpointRecord:
    """What ``checkpoint.json`` holds (JSON values only).

    Attributes:
        day: The last day whose steps and rows the checkpoint holds (0-based).
        state: ``{"file", "bytes", "sha256"}`` of the state file.
        row_counts: Table → rows at the checkpoint.
        sclab_version: The sclab that wrote it (a resume needs the same).
        scenario: The resolved scenario (``model_dump(mode="json")``) and its SHA-256.
        policies: Policy source (pack or file) → SHA-256 of the text the run compiled.
        origin: How the scenario was loaded (target, keyword options, overrides,
            policies), so that a resume can load it again and see whether its file
            changed; None when the run was given a scenario model directly.
        run: What the run was asked (``target``, ``force``, ``check_memory``,
            ``checkpoint_every``, ``created_utc``).
    """

    day: int
    state: dict[str, Any]
    row_counts: dict[str, int]
    sclab_version: str
    scenario: dict[str, Any]
    scenario_sha256: str
    seed: int
    population: int
    policies: dict[str, str]
    origin: dict[str, Any] | None
    run: dict[str, Any]
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}, indent=1
        )

    @classmethod
    def from_json(cls, text: str, where: str) -> CheckpointRecord:
        """Parse a record.

        Raises:
            ResumeError: not a checkpoint record this sclab reads.
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResumeError(f"{RECORD} is not valid JSON ({exc})", source=where) from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ResumeError(f"{RECORD} is not an sclab checkpoint record", source=where)
        if data.get("format_version") != FORMAT_VERSION:
            raise ResumeError(
                f"{RECORD} has format_version {data.get('format_version')!r}; this sclab "
                f"reads {FORMAT_VERSION}",
                source=where,
            )
        fields = {k: v for k, v in data.items() if k not in ("format", "format_version")}
        try:
            return cls(**fields)
        except TypeError as exc:
            raise ResumeError(f"{RECORD} is incomplete ({exc})", source=where) from None


class _HashingWriter:
    """A file's ``write`` that also hashes and counts what passes (and calls ``then``
    once, after the first write: where the tests kill a checkpoint mid-write)."""

    def __init__(self, file: IO[bytes], then: Callable[[], None]) -> None:
        self.file = file
        self.sha256 = hashlib.sha256()
        self.bytes = 0
        self._then: Callable[[], None] | None = then

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.file.write(view)
        self.sha256.update(view)
        self.bytes += view.nbytes
        if self._then is not None:
            then, self._then = self._then, None
            then()
        return view.nbytes


class StatePickler(cloudpickle.Pickler):
    """Pickles a run's state: ``cloudpickle`` (closures and lambdas by value) with
    protocol 5 (NumPy arrays written from their own memory, no copy).

    Read-only arrays (the state arrays that watchers guard, see
    :meth:`sclab.engine.simulation.State.watch`) are made writeable while they are
    written, so that they load into writeable memory, and marked read-only again on
    both sides: pickled as they are, they would load over immutable bytes that
    :meth:`~sclab.engine.simulation.State.write` could never write again.
    """

    def __init__(self, file: Any) -> None:
        super().__init__(file, protocol=5)
        self._guarded: list[np.ndarray] = []

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is np.ndarray and not obj.flags.writeable:
            try:
                obj.flags.writeable = True
            except ValueError:  # read-only memory (a broadcast view...): as it is
                return super().reducer_override(obj)
            self._guarded.append(obj)
            return (_read_only, obj.__reduce_ex__(5)[:3])
        return super().reducer_override(obj)

    def dump_state(self, state: Any) -> None:
        """Write ``state``; read-only arrays are read-only again afterwards."""
        try:
            self.dump(state)
        finally:
            for array in self._guarded:
                array.flags.writeable = False
            self._guarded.clear()


def _read_only(rebuild: Callable[..., np.ndarray], args: tuple[Any, ...], *state: Any) -> Any:
    """An array rebuilt from its reduction, then marked read-only (see StatePickler)."""
    array = rebuild(*args)
    if state:
        array.__setstate__(state[0])
    array.flags.writeable = False
    return array


def _fsync_directory(path: Path) -> None:
    """Make a rename in ``path`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_replacing(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` under a temporary name, sync it, rename it into place, sync the
    directory: ``path`` is either its old contents or the complete new ones."""
    tmp = path.with_name(path.name + TEMPORARY)
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_directory(path.parent)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in large chunks."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


class Resumable:
    """The directory ``.NAME.resumable`` of a run with checkpoints (see the module).

    Args:
        target: The run's target directory (``--out``).
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = resumable_path(target)
        self._lock: int | None = None

    @property
    def run_dir(self) -> Path:
        """The run's staging directory (its database, then its manifest)."""
        return self.path / RUN

    @property
    def record_path(self) -> Path:
        return self.path / RECORD

    def exists(self) -> bool:
        return self.path.is_dir() and not self.path.is_symlink()

    def create(self) -> None:
        """Make the directory (it must not exist) and take its lock."""
        self.path.mkdir()
        self.lock()
        self.run_dir.mkdir()

    def lock(self) -> None:
        """Take the lock that says this process runs the run (released when the process
        ends, however it ends).

        Raises:
            ResumeError: another live process holds it.
        """
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ResumeError(
                f"is being run by process {holder} (with checkpoints); wait for it to end",
                source=str(self.target),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock = fd

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    def remove(self) -> None:
        """Remove the whole directory (the run was committed, or is discarded)."""
        self.unlock()
        shutil.rmtree(self.path, ignore_errors=True)

    def read_record(self) -> CheckpointRecord | None:
        """The last complete checkpoint's record; None if there is none yet.

        Raises:
            ResumeError: the record cannot be read or parsed.
        """
        try:
            text = self.record_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise ResumeError(f"cannot read {RECORD} ({exc})", source=str(self.path)) from None
        return CheckpointRecord.from_json(text, str(self.path))

    def write_state(self, day: int, dump: Callable[[Any], None]) -> dict[str, Any]:
        """Write the state of day ``day`` with ``dump(file)`` (under a temporary name,
        then renamed into place); return its ``{"file", "bytes", "sha256"}``."""
        name = f"state-{day}.pickle"
        entry: dict[str, Any] = {"file": name}

        def write(f: IO[bytes]) -> None:
            hashing = _HashingWriter(f, lambda: fault_point(f"checkpoint-{day}-pickle"))
            dump(hashing)
            entry["bytes"] = hashing.bytes
            entry["sha256"] = hashing.sha256.hexdigest()

        _write_replacing(self.path / name, write)
        return entry

    def write_record(self, record: CheckpointRecord) -> None:
        """Make ``record`` the last complete checkpoint, then remove every other state
        file and temporary file (the older checkpoint is no longer needed)."""
        text = record.to_json().encode()

        def write(f: IO[bytes]) -> None:
            f.write(text)

        _write_replacing(self.record_path, write)
        self.tidy(keep=record.state["file"])

    def tidy(self, keep: str | None) -> None:
        """Remove temporary files and state files other than ``keep``."""
        for entry in self.path.iterdir():
            name = entry.name
            stale_state = name.startswith("state-") and name != keep
            if (stale_state or name.endswith(TEMPORARY)) and entry.is_file():
                entry.unlink(missing_ok=True)

    def verified_state(self, record: CheckpointRecord) -> Path:
        """The state file ``record`` names, after checking its size and SHA-256.

        Raises:
            ResumeError: the file is missing, truncated or damaged (nothing is removed).
        """
        path = self.path / str(record.state.get("file", ""))
        fix = "start the run again with sclab run ... --force"
        if not path.is_file():
            raise ResumeError(
                f"the checkpoint's state file {path.name} is missing; {fix}",
                source=str(self.target),
            )
        size = path.stat().st_size
        if size != record.state.get("bytes") or file_sha256(path) != record.state.get("sha256"):
            raise ResumeError(
                f"the checkpoint's state file {path.name} does not match its record "
                f"(truncated or damaged: {size:,} bytes); {fix}",
                source=str(self.target),
            )
        return path


def durable_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Run DuckDB's ``CHECKPOINT`` (every committed row into the database file) and count
    each table's rows. The caller has waited for the writer: nothing is in flight."""
    con.execute("CHECKPOINT")
    return _counts(con)


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    return {t: int(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0]) for t in names}


def discard_log(database: Path) -> None:
    """Remove the database's write-ahead log and spill directory left by a killed run.

    Everything up to the checkpoint is in the database file itself (the checkpoint ran
    ``CHECKPOINT``); the log holds only rows committed after it, which a resume drops
    anyway, and its last entry may be torn by the kill.
    """
    for suffix in (".wal", ".wal.checkpoint"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    spill = database.with_name(database.name + ".tmp")
    if spill.is_dir():
        shutil.rmtree(spill, ignore_errors=True)


def truncate_to(con: duckdb.DuckDBPyConnection, counts: Mapping[str, int], where: str) -> None:
    """Cut every table back to its first ``counts[table]`` rows (insertion order).

    Raises:
        ResumeError: a table has fewer rows than the checkpoint recorded, or is missing
            (checked for every table before any row is deleted).
    """
    have = _counts(con)
    for table, n in counts.items():
        if have.get(table, -1) < n:
            raise ResumeError(
                f"table {table} holds {have.get(table, 0):,} rows, fewer than the {n:,} its "
                "checkpoint recorded (the database was damaged); start the run again with "
                "sclab run ... --force",
                source=where,
            )
    cut = [t for t, n in counts.items() if have[t] > n]
    for table in cut:
        con.execute(f'DELETE FROM "{table}" WHERE rowid >= ?', [counts[table]])
    # A checkpoint drops the deleted tail, so that the next rows are numbered from n.
    con.execute("CHECKPOINT")
    for table in cut:
        n = counts[table]
        rows, last = con.execute(f'SELECT count(*), max(rowid) FROM "{table}"').fetchall()[0]
        if rows == n and (n == 0 or last == n - 1):
            continue
        _renumber(con, table)


def _renumber(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Rewrite a table's rows in their order, numbered 0..n-1 again."""
    con.execute(f'CREATE TEMP TABLE _sclab_keep AS SELECT * FROM "{table}" ORDER BY rowid')
    con.execute(f'DELETE FROM "{table}"')
    con.execute("CHECKPOINT")
    con.execute(f'INSERT INTO "{table}" SELECT * FROM _sclab_keep')
    con.execute("DROP TABLE _sclab_keep")
    con.execute("CHECKPOINT")
