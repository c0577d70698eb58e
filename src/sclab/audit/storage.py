"""Reading a finished run for the audit, and keeping the audit beside it.

Core objects:
    :func:`open_run`: a read-only DuckDB connection to a run's ``run.duckdb``, after
        checking that the directory is a run (its manifest) and that the tables the audit
        reads are there.
    :func:`write_audit`: the audit tables into ``audit.duckdb`` beside ``run.duckdb``:
        written to a temporary file and renamed (a reader sees the old audit or the new
        one), registered in ``manifest.json``. ``run.duckdb`` is only ever read.
    :func:`read_audit`: the tables of a stored ``audit.duckdb``.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from sclab.audit.policies import AuditError
from sclab.store.manifest import Manifest

#: The run's database and the audit's, in a run directory.
RUN_DB = "run.duckdb"
AUDIT_DB = "audit.duckdb"

#: The tables of ``run.duckdb`` the audit reads.
REQUIRED_TABLES = (
    "run_info", "policies", "kinds", "events", "score_changes", "list_entries", "sanctions",
    "decision_events",
)  # fmt: skip


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


def write_audit(run_dir: Path, tables: dict[str, pa.Table]) -> Path:
    """Write ``tables`` to ``run_dir/audit.duckdb`` (replacing an earlier audit) and
    register it in the run's manifest.

    Raises:
        AuditError: an ``audit.duckdb`` is there that sclab did not write (never
            overwritten).
    """
    run_dir = Path(run_dir)
    manifest = Manifest.read(run_dir)
    target = run_dir / AUDIT_DB
    if target.exists() and AUDIT_DB not in manifest.files:
        raise AuditError(
            f"{AUDIT_DB} is there but the manifest does not list it (sclab did not write "
            "it); move it away to audit this run",
            source=str(run_dir),
        )
    tmp = run_dir / f".{AUDIT_DB}.writing"
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp), config={"threads": 2})
    try:
        for name, table in tables.items():
            con.register("audit_table", table)
            con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM audit_table')
            con.unregister("audit_table")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, target)
    manifest.add_file(target, "audit")
    manifest.write()
    return target


def read_audit(run_dir: Path) -> dict[str, pa.Table]:
    """The tables of ``run_dir/audit.duckdb``, by name.

    Raises:
        NotARunError: ``run_dir`` is not a run.
        AuditError: the run has no stored audit (``sclab audit DIR`` makes it).
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
        return {n: con.sql(f'SELECT * FROM "{n}"').to_arrow_table() for n in names}
    finally:
        con.close()
