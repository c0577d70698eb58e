"""The audit: what a scoring system did to whom, computed from a finished run's records.

Core objects:
    :func:`audit`: a run directory → its :class:`Audit`, computed from ``run.duckdb``
        (read only, never altered) by the parts in :data:`PARTS`.
    :class:`Audit`: the audit's tables by name, read when asked for (``harm_*``:
        :mod:`sclab.audit.harm`; ``redress_*``: :mod:`sclab.audit.redress`; ``fairness_*``:
        :mod:`sclab.audit.fairness`; ``law_verdicts``: :mod:`sclab.legal`;
        ``calibration``: :mod:`sclab.calibration`; ``audit_info``), with a small
        vocabulary: :attr:`Audit.harm` (the overview by harm class),
        :meth:`Audit.by_group` (the harm counts by class, system, kind or domain),
        :meth:`Audit.summary` (the headline figures, as plain data),
        :meth:`Audit.save` (``audit.duckdb`` beside the run, in its manifest) and
        :meth:`Audit.load` (a stored audit).
    :func:`effects`: the effects of runs against their twins (paired differences with
        intervals over replicates: :mod:`sclab.audit.effects`, ``docs/effects.md``).

Each part is a module with ``compute(con) -> dict[str, pyarrow.Table]`` over a read-only
connection to the run; a table with a row per decision is given instead as a
:class:`sclab.audit.storage.Query` on that connection, which DuckDB writes into the audit
database without passing it through Python. The audit is computed after the run, from the
recorded history, never inside a simulation step, into a staging directory beside the run
(:class:`sclab.audit.storage.Staging`), with DuckDB's memory limited and spilling to disk
beyond it. Computing it twice gives identical tables.

Cost: every part is SQL grouped inside DuckDB; Python holds tables of groups (classes,
systems, kinds, decisions × groups), never one row per person or per decision, so its
memory does not grow with the population.

From a notebook::

    from sclab.audit import audit
    a = audit("runs/composite")
    a.harm                  # decisions, people and companies by harm class
    a.by_group("domain")    # ... by flights, rail, school places, list entries...
    a.save()                # runs/composite/audit.duckdb
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from sclab.audit import fairness, harm, redress
from sclab.audit.policies import AuditError
from sclab.audit.storage import Query, Staging, StoredTables, open_run, read_audit, write_audit
from sclab.store.manifest import Manifest, NotARunError
from sclab.version import __version__

__all__ = ["PARTS", "Audit", "AuditError", "audit", "effects"]


def effects(pairs: list[tuple[Path | str, Path | str]], level: float = 0.95) -> dict[str, pa.Table]:
    """The effects of (run, twin) directory pairs, one pair per replicate: the tables
    ``effects`` (per effect, group and replicate) and ``effects_summary`` (mean and the t
    interval at ``level`` over the paired differences). Refuses pairs that are not the
    same world (:class:`sclab.audit.effects.NotComparableError`)."""
    from sclab.audit.effects import paired_effects

    return paired_effects([(Path(a), Path(b)) for a, b in pairs], level)


def _law(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """``law_verdicts``: each stored policy's rules against the law (:mod:`sclab.legal`)."""
    from sclab.legal import assess_run

    return assess_run(con)


def _calibration(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """``calibration``: the run beside the published figures (:mod:`sclab.calibration`)."""
    from sclab.calibration.table import compare

    return {"calibration": compare(con, "run.duckdb").arrow()}


#: The parts of the audit, in order: each computes its tables from the run's connection.
PARTS: tuple[Callable[[duckdb.DuckDBPyConnection], Mapping[str, pa.Table | Query]], ...] = (
    harm.compute,
    redress.compute,
    fairness.compute,
    _law,
    _calibration,
)

#: :meth:`Audit.by_group` groups → the harm table that holds them.
GROUPS = {
    "class": "harm_by_class",
    "system": "harm_by_system",
    "kind": "harm_by_kind",
    "domain": "harm_by_domain",
}


@dataclass(frozen=True)
class Audit:
    """The audit of the run in ``run_dir``: its tables by name (a mapping that reads each
    table from the audit's database when asked for: :class:`StoredTables`, or any
    mapping of Arrow tables)."""

    run_dir: Path
    tables: Mapping[str, pa.Table]

    @property
    def harm(self) -> pa.Table:
        """Adverse decisions, distinct people and companies, and share, by harm class."""
        return self.tables["harm_by_class"]

    def by_group(self, by: str) -> pa.Table:
        """Harm counts by ``class``, ``system``, ``kind`` (per system and decision table)
        or ``domain``.

        Raises:
            KeyError: another group.
        """
        if by not in GROUPS:
            raise KeyError(f"no group {by!r}; expected one of: {', '.join(GROUPS)}")
        return self.tables[GROUPS[by]]

    def summary(self) -> dict[str, Any]:
        """The headline figures as plain data (numbers, text, lists, dicts): the run, the
        harm classes, harm by domain, by system and by kind (with the share of each kind
        that is an error), days on lists by class, and redress
        of wrongful list entries."""
        info = self.tables["audit_info"].to_pylist()[0]
        days: dict[str, int] = {}
        for r in self.tables["harm_list_days"].to_pylist():
            days[r["class"]] = days.get(r["class"], 0) + int(r["days_listed"])
        keep = ("decisions", *harm.CLASSES, "people", "companies", "harm_share")
        return {
            "run": {k: info[k] for k in ("scenario", "seed", "population", "days")},
            "classes": {
                r["class"]: {k: r[k] for k in ("decisions", "people", "companies", "share")}
                for r in self.harm.to_pylist()
            },
            "by_domain": [
                {"domain": r["domain"], **{k: r[k] for k in keep}}
                for r in self.tables["harm_by_domain"].to_pylist()
            ],
            "by_system": [
                {"system": r["system"], **{k: r[k] for k in keep}}
                for r in self.tables["harm_by_system"].to_pylist()
            ],
            "by_kind": [
                {k: r[k] for k in ("system", "decision_table", "kind", *keep, "error_share")}
                for r in self.tables["harm_by_kind"].to_pylist()
            ],
            "list_days_by_class": {c: days.get(c, 0) for c in harm.CLASSES},
            "redress": [
                {
                    k: r[k]
                    for k in (
                        "system",
                        "list",
                        "wrongful_entries",
                        "wrongful_corrected",
                        "wrongful_corrected_share",
                        "wrongful_median_days_to_correction",
                        "wrongful_expired",
                        "wrongful_still_listed",
                        "wrongful_late",
                        "rightful_late",
                    )
                }
                for r in self.tables["redress_overview"].to_pylist()
            ],
        }

    def save(self) -> Path:
        """Write the tables to ``audit.duckdb`` in the run directory (atomically, registered
        in its manifest) and return its path."""
        if isinstance(self.tables, StoredTables):
            return self.tables.save(self.run_dir)
        return write_audit(self.run_dir, self.tables)

    @classmethod
    def load(cls, run_dir: Path | str) -> Audit:
        """The audit stored in ``run_dir`` by :meth:`save`."""
        return cls(Path(run_dir), read_audit(Path(run_dir)))


def audit(run_dir: Path | str, *, memory_limit: int | None = None) -> Audit:
    """Compute the audit of the finished run in ``run_dir``: its tables go to a staging
    directory in the run directory, removed unless :meth:`Audit.save` moves them into
    place (the run's own files are never written).

    Args:
        run_dir: The run directory.
        memory_limit: Bytes of memory DuckDB may use before it spills to disk (default:
            :func:`sclab.audit.storage.memory_limit_bytes`: from the run's population and
            the memory available).
            The tables do not depend on it.

    Raises:
        NotARunError: ``run_dir`` is not a run.
        AuditError: its database is missing, unreadable or lacks the tables audited.
    """
    run_dir = Path(run_dir)
    con = open_run(run_dir)
    staging: Staging | None = None
    try:
        staging = Staging(run_dir)
        staging.attach(con, memory_limit)
        staging.put(con, "audit_info", _info(con, run_dir))
        for compute in PARTS:
            for name, table in compute(con).items():
                staging.put(con, name, table)
        con.close()
        return Audit(run_dir, staging.tables())
    except BaseException:
        con.close()
        if staging is not None:
            staging.remove()
        raise


def _info(con: duckdb.DuckDBPyConnection, run_dir: Path) -> pa.Table:
    """One row: the sclab that audited, the run audited and a digest of its tables' hashes
    as its manifest records them (the same run gives the same row)."""
    try:
        hashes = Manifest.read(run_dir).table_hashes()
        digest: str | None = hashlib.sha256(
            "\n".join(f"{t} {h}" for t, h in sorted(hashes.items())).encode()
        ).hexdigest()
    except NotARunError:  # a manifest made before it kept table hashes
        digest = None
    return con.sql(
        "SELECT ? AS sclab_version, scenario, seed, population, days, start_date, "
        "? AS run_tables_sha256 FROM run_info",
        params=[__version__, digest],
    ).to_arrow_table()
