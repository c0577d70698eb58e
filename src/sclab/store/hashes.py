"""Content hashes of a database's tables: equal contents give equal hashes.

Core objects:
    :func:`table_hashes`: table name → :class:`TableHash` (rows and a hex digest).
    :data:`METHOD`: how the hashes are made (the manifest stores it beside them).

A table's hash depends on its column names, their types and the multiset of its rows,
never on the order of the rows or on how DuckDB lays out the file (row groups,
compression, checkpoints). Each row hashes to 64 bits with DuckDB's ``hash()`` of its
columns; a label column (an ENUM) enters as the hash of its label's text, looked up by the
label's code, so that a run's list of declared labels does not matter, only the labels its
rows hold. The table's digest is SHA-256 of its columns, its row count and the sum of its
row hashes: a sum is order-independent and, unlike an XOR, does not let two equal rows
cancel. Native values are hashed, not their text: casting the label columns of the
aggregates (6.3M rows at 1M people) to text tripled the time to hash them.

DuckDB's ``hash()`` may change between DuckDB versions, so hashes compare runs made with
the same DuckDB version; :data:`METHOD` names it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import duckdb

#: The hashing scheme and the DuckDB version whose ``hash()`` it uses.
METHOD = f"sum of DuckDB hash() per row, labels by text, SHA-256 (duckdb {duckdb.__version__})"


class TableHash(NamedTuple):
    """One table's row count and content digest (64 hex digits)."""

    rows: int
    sha256: str


def table_hashes(
    database: Path | duckdb.DuckDBPyConnection, tables: Iterable[str] | None = None
) -> dict[str, TableHash]:
    """The content hash of every table (or of ``tables``), by name, in name order.

    Args:
        database: A database file (opened read-only) or an open connection.
        tables: Tables to hash; all tables of the main schema by default.
    """
    if isinstance(database, duckdb.DuckDBPyConnection):
        return _hashes(database, tables)
    # Two threads: the machine budget; a small buffer pool, since the aggregates stream.
    con = duckdb.connect(
        str(database), read_only=True, config={"threads": 2, "memory_limit": "256MB"}
    )
    try:
        return _hashes(con, tables)
    finally:
        con.close()


def _hashes(con: duckdb.DuckDBPyConnection, tables: Iterable[str] | None) -> dict[str, TableHash]:
    # Per table, (column, type as signed, SQL of the value hashed).
    columns: dict[str, list[tuple[str, str, str]]] = {}
    label_hashes: dict[str, str] = {}
    for table, column, data_type in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND NOT internal ORDER BY table_name, column_index"
    ).fetchall():
        value = f'"{column}"'
        if data_type.startswith("ENUM("):
            # The hash of each label's text, in the ENUM's order, indexed by code.
            if data_type == "ENUM()":  # a label set nobody declared: every value is NULL
                label_hashes[data_type] = "[NULL::UBIGINT]"
            elif data_type not in label_hashes:
                hashes = con.execute(
                    f"SELECT [hash(x) FOR x IN enum_range(NULL::{data_type})]"
                ).fetchall()[0][0]
                label_hashes[data_type] = "[" + ", ".join(f"{h}::UBIGINT" for h in hashes) + "]"
            value = f"{label_hashes[data_type]}[enum_code({value}) + 1]"
            data_type = "LABEL"
        columns.setdefault(table, []).append((column, data_type, value))
    wanted = sorted(columns) if tables is None else sorted(tables)
    out = {}
    for table in wanted:
        if table not in columns:
            raise KeyError(f"no table {table!r} in the database")
        cols = columns[table]
        values = ", ".join(value for _, _, value in cols)
        rows, total = con.execute(
            f'SELECT count(*), coalesce(sum(hash({values})), 0) FROM "{table}"'
        ).fetchall()[0]
        signature = ",".join(f"{name} {kind}" for name, kind, _ in cols)
        digest = hashlib.sha256(f"{signature}\n{rows}\n{int(total)}".encode()).hexdigest()
        out[table] = TableHash(int(rows), digest)
    return out
