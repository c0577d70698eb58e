"""Exporting a run's tables as Parquet or CSV files: ``sclab export DIR --to OUT``.

Core objects:
    :func:`export_tables`: tables of an open run (and its audit) to one file each in a new
        directory, with a ``manifest.json`` listing them.

The directory is built aside and moved into place whole, like a run
(:class:`sclab.store.output.OutputDirectory`): an existing one is replaced only with
``force``, and only if every file in it is one its manifest lists (an earlier export),
so a file sclab did not write is never overwritten. Cost: DuckDB writes each table once
(``COPY``), streaming it; memory stays that of DuckDB's buffers, not the table's size.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from sclab.errors import SclabError
from sclab.store.manifest import Manifest
from sclab.store.output import OutputDirectory

FORMATS = {"parquet": "(FORMAT parquet)", "csv": "(FORMAT csv, HEADER)"}


class ExportError(SclabError):
    """A format sclab does not export to."""


def export_tables(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, str],
    to: Path,
    format: str,
    force: bool,
    run_dir: Path,
) -> list[Path]:
    """Write ``tables`` (name → its prefix in SQL on ``con``: ``""`` or ``"audit."``) to
    ``to/NAME.FORMAT``; return the files' paths, in the order given.

    Raises:
        ExportError: another format.
        OutputError: ``to`` may not be written or replaced.
    """
    if format not in FORMATS:
        raise ExportError(f"expected parquet or csv (got {format!r})", field="format")
    output = OutputDirectory(to, force)
    try:
        names = []
        for name, prefix in tables.items():
            file = output.staging / f"{name}.{format}"
            where = str(file).replace("'", "''")
            con.execute(f"COPY (SELECT * FROM {prefix}\"{name}\") TO '{where}' {FORMATS[format]}")
            names.append(file.name)
        manifest = Manifest(output.staging)
        manifest.info = {"export_of": str(run_dir), "export_format": format}
        for n in names:
            manifest.add_file(output.staging / n, f"{format} table")
        manifest.write()
        output.commit()
    except BaseException:
        output.abort()
        raise
    return [to / n for n in names]
