"""What the report reads: a run directory's manifest, ``run.duckdb`` and ``audit.duckdb``.

Core objects:
    :class:`RunData`: one read-only DuckDB connection with the run's database as the
        main catalogue and the audit's attached as ``audit``; :meth:`RunData.rows` runs an
        aggregate query and returns its rows as dicts.
    :class:`ReportError`: a directory the report cannot read (one line, exit code 2).
    :func:`open_run_data`: checks that a directory is a finished, audited run and opens it.

The report never computes anything per person in Python: every query here is an
aggregate in DuckDB (GROUP BY a day, a bin, a group), so what reaches the report is as
large as its charts, whatever the population.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from sclab.errors import SclabError
from sclab.store.manifest import Manifest

#: The run's database and the audit's, in a run directory (as ``sclab run`` and
#: ``sclab audit`` write them).
RUN_DB = "run.duckdb"
AUDIT_DB = "audit.duckdb"

#: Tables the report cannot do without, in each database.
RUN_TABLES = ("run_info", "policies")
AUDIT_TABLES = ("audit_info", "harm_by_class", "harm_decisions")


class ReportError(SclabError):
    """A run directory the report cannot read, or an output it must not write."""


class MissingAuditError(ReportError):
    """A run without a stored audit (``sclab audit DIR`` makes one)."""


@dataclass
class RunData:
    """A finished run and its audit, opened read-only.

    Attributes:
        run_dir: The run directory.
        manifest: Its ``manifest.json``.
        con: A connection to ``run.duckdb`` (read-only) with ``audit.duckdb`` attached
            read-only as ``audit``.
        info: The run's one ``run_info`` row.
    """

    run_dir: Path
    manifest: Manifest
    con: duckdb.DuckDBPyConnection
    info: dict[str, Any]

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """The rows of an (aggregate) query as dicts, column name to value."""
        cur = self.con.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def value(self, sql: str, params: list[Any] | None = None) -> Any:
        """The first column of the first row of a query (None without rows)."""
        got = self.con.execute(sql, params or []).fetchall()
        return got[0][0] if got else None

    def has(self, table: str, database: str = "run") -> bool:
        """Whether ``table`` exists in the run's database (``run``) or the audit's."""
        catalog = {"run": _catalog_of(self.con), "audit": "audit"}[database]
        return bool(
            self.value(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                "AND schema_name = 'main' AND table_name = ?",
                [catalog, table],
            )
        )

    def count(self, table: str, database: str = "run") -> int:
        """Rows of a table, 0 when it does not exist."""
        if not self.has(table, database):
            return 0
        prefix = "audit." if database == "audit" else ""
        return int(self.value(f'SELECT count(*) FROM {prefix}"{table}"'))

    def close(self) -> None:
        self.con.close()


def _catalog_of(con: duckdb.DuckDBPyConnection) -> str:
    return str(con.execute("SELECT current_database()").fetchall()[0][0])


def open_run_data(run_dir: Path) -> RunData:
    """Open the finished, audited run in ``run_dir`` for reading.

    Raises:
        NotARunError: ``run_dir`` is not an sclab run (no manifest).
        MissingAuditError: it has no ``audit.duckdb`` that sclab wrote.
        ReportError: a database is missing, unreadable or lacks the tables reported.
    """
    run_dir = Path(run_dir)
    where = str(run_dir)
    if not run_dir.exists():
        raise ReportError("no such directory", source=where)
    if not run_dir.is_dir():
        raise ReportError(
            "is not a directory; give a run directory (sclab run --out)", source=where
        )
    manifest = Manifest.read(run_dir)
    run_db = run_dir / RUN_DB
    if RUN_DB not in manifest.files or not run_db.is_file():
        raise ReportError(f"has no {RUN_DB}: not a finished run", source=where)
    audit_db = run_dir / AUDIT_DB
    if AUDIT_DB not in manifest.files or not audit_db.is_file():
        raise MissingAuditError(f"has no audit; `sclab audit {run_dir}` makes one", source=where)
    try:
        con = duckdb.connect(str(run_db), read_only=True, config={"threads": 2})
    except duckdb.Error as exc:
        raise ReportError(f"cannot open {RUN_DB} ({_first_line(exc)})", source=where) from None
    try:
        con.execute(f"ATTACH '{_sql_text(str(audit_db))}' AS audit (READ_ONLY)")
    except duckdb.Error as exc:
        con.close()
        raise ReportError(f"cannot open {AUDIT_DB} ({_first_line(exc)})", source=where) from None
    data = RunData(run_dir, manifest, con, {})
    for database, tables in (("run", RUN_TABLES), ("audit", AUDIT_TABLES)):
        missing = [t for t in tables if not data.has(t, database)]
        if missing:
            con.close()
            name = RUN_DB if database == "run" else AUDIT_DB
            raise ReportError(
                f"{name} has no table {', '.join(missing)}: not a finished sclab "
                f"{'run' if database == 'run' else 'audit'}",
                source=where,
            )
    data.info = data.rows("SELECT * FROM run_info LIMIT 1")[0]
    return data


def _first_line(exc: Exception) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _sql_text(s: str) -> str:
    """A string inside single quotes in SQL."""
    return s.replace("'", "''")
