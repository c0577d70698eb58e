"""What the report compares with: the effects of a run against its twin (or another run).

Core objects:
    :class:`Effects`: the two effects tables as plain rows (``effects``: effect, group,
        replicate, value; ``effects_summary``: effect, group, replicates, mean, low, high,
        interval), with what the run was compared with.
    :func:`find_effects`: the effects stored beside a run: ``DIR/effects.duckdb`` (a run
        with its twin) or, for ``DIR`` = ``OUT/replicate-k``, ``OUT/effects.duckdb`` (every
        replicate's pair, with intervals).
    :func:`run_of`: the run a directory of replicates is reported through (its first).

The report computes no effect: they are differences of two runs' tables that
``sclab run --twin`` stores (and ``sclab report --compare`` computes with the audit's
code, outside this package); here they are only read. NaN (an effect that is not
defined, such as a price when nothing was prevented) becomes None, as the page prints it.

COST MODEL: a few hundred rows at most (effects x groups x replicates).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from sclab.report.data import ReportError
from sclab.store.manifest import Manifest

#: The effects file beside a run with a twin, and in a directory of replicates.
EFFECTS_DB = "effects.duckdb"
#: The name of each replicate's run directory in a directory of replicates.
REPLICATE = "replicate-"


@dataclass(frozen=True)
class Effects:
    """A run's effects against another run of the same world.

    Attributes:
        against: What the run was compared with (its twin's directory, or another run's).
        baseline: The twin's policies as ``sclab run --twin`` was given them (``none``, a
            pack, a file), when known.
        source: Where the numbers come from, for the reader.
        rows: The ``effects`` table: one row per effect, group and replicate.
        summary: The ``effects_summary`` table: per effect and group, the mean over the
            replicates and its interval (None bounds with one replicate).
    """

    against: str
    baseline: str | None
    source: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    @property
    def replicates(self) -> int:
        """The number of (run, twin) pairs the effects are measured over."""
        return max((int(r["replicates"]) for r in self.summary), default=0)

    def of(self, effect: str) -> list[dict[str, Any]]:
        """The summary rows of one effect, by group."""
        return [r for r in self.summary if r["effect"] == effect]

    def values(self, effect: str) -> list[dict[str, Any]]:
        """The per-replicate rows of one effect."""
        return [r for r in self.rows if r["effect"] == effect]

    @classmethod
    def from_tables(
        cls,
        tables: Mapping[str, Any],
        *,
        against: str,
        baseline: str | None = None,
        source: str,
    ) -> Effects:
        """From the tables :func:`sclab.audit.effects` returns (Arrow tables)."""
        return cls(
            against,
            baseline,
            source,
            [_clean(r) for r in tables["effects"].to_pylist()],
            [_clean(r) for r in tables["effects_summary"].to_pylist()],
        )


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}


def read_effects(path: Path, *, against: str, baseline: str | None) -> Effects:
    """The effects stored in ``path`` (an ``effects.duckdb``).

    Raises:
        ReportError: it cannot be opened or lacks the effects tables.
    """
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(f"cannot open ({str(exc).splitlines()[0]})", source=str(path)) from None
    try:
        tables = {}
        for name, order in (
            ("effects", 'effect, "group", replicate'),
            ("effects_summary", 'effect, "group"'),
        ):
            try:
                cur = con.execute(f"SELECT * FROM {name} ORDER BY {order}")
            except duckdb.Error:
                raise ReportError(
                    f"has no table {name}: not an sclab effects file", source=str(path)
                ) from None
            names = [d[0] for d in cur.description or []]
            tables[name] = [_clean(dict(zip(names, r, strict=True))) for r in cur.fetchall()]
    finally:
        con.close()
    return Effects(against, baseline, str(path), tables["effects"], tables["effects_summary"])


def run_of(directory: Path) -> Path:
    """The run to report for ``directory``: itself, or for a directory of replicates
    (``sclab run --replicates K``: no run of its own, ``replicate-1`` ... and
    ``effects.duckdb``), its first replicate."""
    first = directory / f"{REPLICATE}1"
    if not (directory / "manifest.json").exists() and (first / "manifest.json").is_file():
        return first
    return directory


def find_effects(run_dir: Path) -> Effects | None:
    """The effects stored for the run in ``run_dir``, None when it has none.

    A replicate of a directory of replicates (``OUT/replicate-k``) takes ``OUT``'s
    effects (all K pairs, with intervals); a run with a twin, its own ``effects.duckdb``.
    """
    run_dir = Path(run_dir)
    manifest = Manifest.read(run_dir)
    twins = [(name, e) for name, e in manifest.files.items() if e.get("kind") == "twin"]
    baseline = str(twins[0][1].get("baseline")) if twins else None
    parent = run_dir.parent / EFFECTS_DB
    if run_dir.name.startswith(REPLICATE) and parent.is_file():
        return read_effects(
            parent, against=f"each replicate's twin ({run_dir.parent}/{REPLICATE}k/twin)",
            baseline=baseline,
        )  # fmt: skip
    own = [n for n, e in manifest.files.items() if e.get("kind") == "effects"]
    if own and (run_dir / own[0]).is_file():
        against = str(run_dir / twins[0][0]) if twins else "its twin"
        return read_effects(run_dir / own[0], against=against, baseline=baseline)
    return None
