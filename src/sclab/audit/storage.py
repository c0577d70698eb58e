"""Reading a finished run for the audit, and keeping the audit beside it.

Core objects:
    :func:`open_run`: a read-only DuckDB connection to a run's ``run.duckdb``, after
        checking that the directory is a run (its manifest) and that the tables the audit
        reads are there.
    :class:`Staging`: where an audit is computed: a hidden directory in the run directory
        holding the audit's own ``audit.duckdb`` (the tables are written into it as they
        are computed, the row-level ones straight from DuckDB, never through Python) and
        the directory DuckDB spills to beyond its memory limit
        (:func:`memory_limit_bytes`). :meth:`Staging.commit` moves the database into place.
    :class:`Query`: a table a part of the audit gives as a query over the run's connection,
        written into the audit database by DuckDB.
    :class:`StoredTables`: the tables of an audit database, each read into Arrow only when
        asked for.
    :func:`write_audit`: tables into ``audit.duckdb`` beside ``run.duckdb``: written to a
        temporary file and renamed (a reader sees the old audit or the new one),
        registered in ``manifest.json``. ``run.duckdb`` is only ever read.
    :func:`read_audit`: the tables of a stored ``audit.duckdb``.

Memory: the audit's DuckDB connection gets :func:`memory_limit_bytes` (from the run's
population and the memory available) and spills to the staging directory beyond it, so
the audit of a run whose decisions outgrow the memory slows down rather than dies; the
Python side holds group-level tables only (the row-level tables are written by DuckDB).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from sclab.audit.policies import AuditError
from sclab.store.manifest import Manifest
from sclab.store.output import HOST, remove_stale_staging

#: The run's database and the audit's, in a run directory.
RUN_DB = "run.duckdb"
AUDIT_DB = "audit.duckdb"

#: The tables of ``run.duckdb`` the audit reads.
REQUIRED_TABLES = (
    "run_info", "policies", "kinds", "events", "score_changes", "list_entries", "sanctions",
    "decision_events",
)  # fmt: skip

#: Share of the memory available when the audit starts that its DuckDB connection may use
#: at most (:func:`memory_limit_bytes`): the rest is the machine's (other processes, the
#: kernel's cache of the run file DuckDB reads through) and the audit's Python side
#: (interpreter, Arrow, pandas and Fairlearn over group-level cells: about 0.3 GB).
MEMORY_SHARE = 0.25
#: DuckDB's memory per person of the run: the audit's working set (decisions, flags,
#: events joined) grows with the population. Measured on the composite year at 1M
#: people: 512 MiB gives the same time as 4 GiB, with 0.8 GB of peak memory in all
#: (BENCHMARKS.md).
BYTES_PER_PERSON = 512
#: The least memory limit, however small the run or the memory available: DuckDB needs
#: some room per thread and operator (the audit of a 20,000-person run fails under 48 MiB).
MIN_MEMORY_LIMIT = 256 * 2**20
#: The most: on the composite year at 9.3M people 2 GiB (2.5 GB of peak memory in all)
#: runs as fast as 4 GiB, and 6 GiB saves about a third of the time for 6.5 GB of peak
#: memory (BENCHMARKS.md): the audit is not worth most of a shared machine.
MAX_MEMORY_LIMIT = 2 * 2**30


def available_memory() -> int:
    """Bytes of memory available to a new process now: ``MemAvailable`` of
    ``/proc/meminfo`` (free memory plus the caches the kernel can drop), or the physical
    memory where there is no ``/proc``."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def memory_limit_bytes(people: int, available: int | None = None) -> int:
    """The audit's DuckDB memory limit for a run of ``people``: :data:`BYTES_PER_PERSON`
    per person, but no more than :data:`MEMORY_SHARE` of the memory ``available`` (now,
    by default) nor :data:`MAX_MEMORY_LIMIT`, and no less than :data:`MIN_MEMORY_LIMIT`.

    Why the memory available and not the physical memory (DuckDB's own default is 80 % of
    the physical memory): other processes hold the rest. Why a limit at all: beyond it
    DuckDB spills to the staging directory instead of growing until the kernel kills the
    process; the tables do not depend on it.
    """
    free = available_memory() if available is None else available
    want = min(people * BYTES_PER_PERSON, free * MEMORY_SHARE, MAX_MEMORY_LIMIT)
    return int(max(MIN_MEMORY_LIMIT, want))


@dataclass(frozen=True)
class Query:
    """A table of the audit given as a query over the run's connection (which may read the
    connection's temporary tables): DuckDB writes its rows into the audit database, so a
    table with a row per decision never passes through Python.

    Attributes:
        sql: The SELECT.
    """

    sql: str


def open_run(run_dir: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the run in ``run_dir``.

    Raises:
        NotARunError: ``run_dir`` has no sclab run manifest.
        AuditError: no ``run.duckdb``, one DuckDB cannot open, or one without the tables
            the audit reads (an unfinished run, or another file).
    """
    run_dir = Path(run_dir)
    Manifest.read(run_dir)
    path = run_dir / RUN_DB
    if not path.is_file():
        raise AuditError(f"has no {RUN_DB}: not a finished run", source=str(run_dir))
    try:
        # Two threads: the machine budget the run itself keeps to.
        con = duckdb.connect(str(path), read_only=True, config={"threads": 2})
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AuditError(f"cannot open {RUN_DB} ({first})", source=str(run_dir)) from None
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
    }
    missing = [t for t in REQUIRED_TABLES if t not in present]
    if missing:
        con.close()
        raise AuditError(
            f"{RUN_DB} has no table {', '.join(missing)}: not a finished sclab run",
            source=str(run_dir),
        )
    return con


class Staging:
    """Where the audit of the run in ``run_dir`` is computed: the hidden directory
    ``.audit.duckdb.partial-PID@HOST-XXXXXXXX`` in the run directory (named like a run's
    staging directory, so that one left by a killed audit is removed by the next), holding

    - ``audit.duckdb``: the audit's tables, written as they are computed;
    - ``spill``: DuckDB's temporary files beyond its memory limit.

    Stale staging directories of audits whose process has ended are removed first. A run
    directory that cannot be written (a run read from someone else's files) is audited in
    the system's temporary directory instead; saving it there fails as it always did.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        prefix = f".{AUDIT_DB}.partial-{os.getpid()}@{HOST}-"
        try:
            remove_stale_staging(self.run_dir, lambda _: None)
            self.directory = Path(tempfile.mkdtemp(prefix=prefix, dir=self.run_dir))
        except OSError:
            try:
                self.directory = Path(tempfile.mkdtemp(prefix=prefix))
            except OSError as exc:
                raise AuditError(
                    f"cannot write the audit anywhere ({exc.strerror or exc})",
                    source=str(self.run_dir),
                ) from None
        self.database = self.directory / AUDIT_DB
        self.spill = self.directory / "spill"
        self.names: list[str] = []

    def attach(self, con: duckdb.DuckDBPyConnection, memory_limit: int | None = None) -> None:
        """Give ``con`` (a connection from :func:`open_run`) the memory limit
        (:func:`memory_limit_bytes` of the run's population by default) and the spill
        directory, and attach the audit database to it as ``audit_out``."""
        if memory_limit is None:
            people = con.execute("SELECT max(population) FROM run_info").fetchall()[0][0]
            memory_limit = memory_limit_bytes(int(people or 0))
        limit = memory_limit
        con.execute(f"SET memory_limit = '{int(limit)}B'")
        con.execute(f"SET temp_directory = '{_quoted(self.spill)}'")
        con.execute(f"ATTACH '{_quoted(self.database)}' AS audit_out (READ_WRITE)")

    def put(self, con: duckdb.DuckDBPyConnection, name: str, table: pa.Table | Query) -> None:
        """Write one table into the audit database through ``con`` (attached)."""
        if isinstance(table, Query):
            con.execute(f'CREATE TABLE audit_out."{name}" AS {table.sql}')
        else:
            con.register("audit_table", table)
            try:
                con.execute(f'CREATE TABLE audit_out."{name}" AS SELECT * FROM audit_table')
            finally:
                con.unregister("audit_table")
        self.names.append(name)

    def tables(self) -> StoredTables:
        """The tables written (the connection closed), until :meth:`commit` read from the
        staging directory, which is removed when they are no longer referenced."""
        tables = StoredTables(self.database, self.names)
        tables.staging = self
        weakref.finalize(tables, shutil.rmtree, str(self.directory), True)
        return tables

    def commit(self) -> Path:
        """Move the audit database into place (replacing an earlier audit), register it in
        the run's manifest and remove the staging directory.

        Raises:
            AuditError: an ``audit.duckdb`` is there that sclab did not write.
        """
        manifest = Manifest.read(self.run_dir)
        target = _replaceable(self.run_dir, manifest)
        if self.directory.parent.resolve() == self.run_dir.resolve():
            os.replace(self.database, target)
        else:  # staged elsewhere: copied, then renamed in place
            write_audit(self.run_dir, StoredTables(self.database, self.names))
            self.remove()
            return target
        manifest.add_file(target, "audit")
        manifest.write()
        self.remove()
        return target

    def remove(self) -> None:
        """Remove the staging directory (and what is left in it)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _replaceable(run_dir: Path, manifest: Manifest) -> Path:
    target = run_dir / AUDIT_DB
    if target.exists() and AUDIT_DB not in manifest.files:
        raise AuditError(
            f"{AUDIT_DB} is there but the manifest does not list it (sclab did not write "
            "it); move it away to audit this run",
            source=str(run_dir),
        )
    return target


class StoredTables(Mapping[str, pa.Table]):
    """The tables of an audit database by name, each read into Arrow when asked for (and
    not kept: the row-level tables hold a row per decision).

    Attributes:
        path: The database (a staging directory's until the audit is saved, then the run
            directory's ``audit.duckdb``).
        staging: The :class:`Staging` it was computed in, until saved; else None.
    """

    def __init__(self, path: Path, names: list[str]) -> None:
        self.path = Path(path)
        self._names = list(names)
        self.staging: Staging | None = None

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._names:
            raise KeyError(name)
        # A small buffer pool: reading one table streams it into Arrow.
        con = duckdb.connect(
            str(self.path), read_only=True, config={"threads": 2, "memory_limit": "256MB"}
        )
        try:
            return con.sql(f'SELECT * FROM "{name}"').to_arrow_table()
        finally:
            con.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def save(self, run_dir: Path) -> Path:
        """Put these tables in ``run_dir/audit.duckdb``: the staged database moved into
        place, nothing to do if they are read from there already, else copied table by
        table (:func:`write_audit`)."""
        if self.staging is not None and self.staging.run_dir.resolve() == run_dir.resolve():
            self.path = self.staging.commit()
            self.staging = None
            return self.path
        target = run_dir / AUDIT_DB
        if self.staging is None and target.exists() and self.path.resolve() == target.resolve():
            manifest = Manifest.read(run_dir)
            if AUDIT_DB in manifest.files:
                return target
        return write_audit(run_dir, self)


def write_audit(run_dir: Path, tables: Mapping[str, pa.Table]) -> Path:
    """Write ``tables`` to ``run_dir/audit.duckdb`` (replacing an earlier audit) and
    register it in the run's manifest.

    Raises:
        AuditError: an ``audit.duckdb`` is there that sclab did not write (never
            overwritten).
    """
    run_dir = Path(run_dir)
    manifest = Manifest.read(run_dir)
    target = _replaceable(run_dir, manifest)
    tmp = run_dir / f".{AUDIT_DB}.writing"
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp), config={"threads": 2})
    try:
        for name in tables:
            con.register("audit_table", tables[name])
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM audit_table')
            con.unregister("audit_table")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    manifest.add_file(target, "audit")
    manifest.write()
    return target


def read_audit(run_dir: Path) -> StoredTables:
    """The tables of ``run_dir/audit.duckdb``, by name (read when asked for).

    Raises:
        NotARunError: ``run_dir`` is not a run.
        AuditError: the run has no stored audit (``sclab audit DIR`` makes one).
    """
    run_dir = Path(run_dir)
    manifest = Manifest.read(run_dir)
    path = run_dir / AUDIT_DB
    if AUDIT_DB not in manifest.files or not path.is_file():
        raise AuditError(f"has no audit; `sclab audit {run_dir}` makes one", source=str(run_dir))
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() ORDER BY table_name"
            ).fetchall()
        ]
    finally:
        con.close()
    return StoredTables(path, names)
