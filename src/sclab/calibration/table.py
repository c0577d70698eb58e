"""Simulated beside published: the calibration and validation tables of one run.

Core objects:
    :func:`calibrate`: read a run directory's ``run.duckdb`` and compare it with every
        published figure (:mod:`sclab.calibration.figures`).
    :class:`CalibrationTable`: the run (scenario, population, days) and one
        :class:`CalibrationRow` per figure, split by role.
    :class:`CalibrationRow`: figure, published value, simulated value scaled to the
        figure's population and period, their ratio and a verdict.

Verdicts: ``matches`` when simulated / published lies within the figure's tolerance band,
``too high`` or ``too low`` outside it, ``not comparable`` when the run lacks the
mechanism the figure describes (no court policy, no cameras); ``no published figure`` for
the informational rows (a metric shown for itself: nothing was published to compare it
with).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa

from sclab.calibration.figures import Figure, load_figures
from sclab.calibration.metrics import METRICS, measure
from sclab.errors import SclabError

Verdict = Literal["matches", "too high", "too low", "not comparable", "no published figure"]


@dataclass(frozen=True)
class RunFacts:
    """What scaling needs to know of the run (from ``run_info``)."""

    scenario: str
    population: int
    days: int


@dataclass(frozen=True)
class CalibrationRow:
    """One figure, published beside simulated."""

    figure: str
    description: str
    role: str
    unit: str
    published: float | None  # None: an informational row
    simulated: float | None  # scaled to the figure's population and period
    raw: float | None  # the metric in the run, before scaling
    ratio: float | None
    verdict: Verdict
    tolerance: tuple[float, float]
    metric: str
    scaling: str
    note: str  # why not comparable, else the figure's note
    source: str


@dataclass(frozen=True)
class CalibrationTable:
    """Every figure compared with one run."""

    run: RunFacts
    rows: list[CalibrationRow]

    def role(self, role: str) -> list[CalibrationRow]:
        """The rows of one role (``calibration``, ``validation`` or ``informational``)."""
        return [r for r in self.rows if r.role == role]

    def arrow(self) -> pa.Table:
        """Every row as a table (``calibration`` in the audit)."""
        rows = [asdict(r) for r in self.rows]
        for r in rows:
            low, high = r.pop("tolerance")
            r["tolerance_low"], r["tolerance_high"] = low, high
        return pa.Table.from_pylist(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--json``)."""
        return {
            "run": asdict(self.run),
            "calibration": [asdict(r) for r in self.role("calibration")],
            "validation": [asdict(r) for r in self.role("validation")],
            "informational": [asdict(r) for r in self.role("informational")],
        }


def scale(raw: float, figure: Figure, run: RunFacts) -> float:
    """The run's ``raw`` metric carried over to the figure's population and period."""
    rule = figure.compare.scaling
    if rule == "as_is":
        return raw
    assert figure.population is not None  # checked when the figures are loaded
    size = figure.population.size
    if rule == "per_unit_period":
        assert figure.period is not None  # checked when the figures are loaded
        return raw * size * figure.period.days
    per_capita = raw * size / run.population
    if rule == "per_capita":
        return per_capita
    assert figure.period is not None
    return per_capita * figure.period.days / run.days


def verdict(ratio: float | None, tolerance: tuple[float, float]) -> Verdict:
    """Within the band: matches; otherwise too high or too low."""
    if ratio is None:
        return "not comparable"
    low, high = tolerance
    if ratio > high:
        return "too high"
    if ratio < low:
        return "too low"
    return "matches"


def open_run(run_dir: Path) -> duckdb.DuckDBPyConnection:
    """The run's database, read-only.

    Raises:
        SclabError: ``run_dir`` holds no ``run.duckdb`` or it cannot be read as one.
    """
    path = Path(run_dir) / "run.duckdb"
    if not path.is_file():
        raise SclabError(
            "expected a run directory holding run.duckdb (made by sclab run --out DIR)",
            source=str(run_dir),
        )
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise SclabError(f"cannot open as a DuckDB database: {exc}", source=str(path)) from None


def run_facts(con: duckdb.DuckDBPyConnection, source: str) -> RunFacts:
    """Scenario, population and days from ``run_info``."""
    try:
        rows = con.execute("SELECT scenario, population, days FROM run_info").fetchall()
    except duckdb.Error:
        rows = []
    if len(rows) != 1:
        raise SclabError("the run has no run_info row (not a complete sclab run)", source=source)
    scenario, population, days = rows[0]
    return RunFacts(str(scenario), int(population), int(days))


def compare(
    con: duckdb.DuckDBPyConnection, source: str, figures: list[Figure] | None = None
) -> CalibrationTable:
    """Compare the run open on ``con`` with every published figure (default: the package's
    ``figures.yaml``); ``source`` names the run in errors."""
    figures = load_figures() if figures is None else figures
    run = run_facts(con, source)
    return CalibrationTable(run, [_row(f, con, run) for f in figures])


def calibrate(run_dir: Path, figures: list[Figure] | None = None) -> CalibrationTable:
    """Compare the run in ``run_dir`` with every published figure.

    Args:
        run_dir: A run directory (``sclab run --out DIR``).
        figures: The figures to compare with (default: the package's ``figures.yaml``).

    Raises:
        SclabError: ``run_dir`` is not a readable run.
    """
    con = open_run(run_dir)
    try:
        return compare(con, str(run_dir), figures)
    finally:
        con.close()


def _row(figure: Figure, con: duckdb.DuckDBPyConnection, run: RunFacts) -> CalibrationRow:
    metric = METRICS[figure.compare.metric]
    raw, why = measure(metric, con)
    simulated = None if raw is None else scale(raw, figure, run)
    published = figure.value
    ratio = None if simulated is None or published is None else simulated / published
    return CalibrationRow(
        figure=figure.id,
        description=" ".join(figure.description.split()),
        role=figure.role,
        unit=figure.unit,
        published=published,
        simulated=simulated,
        raw=raw,
        ratio=ratio,
        verdict=(
            "no published figure"
            if published is None and raw is not None
            else verdict(ratio, figure.tolerance)
        ),
        tolerance=figure.tolerance,
        metric=metric.name,
        scaling=figure.compare.scaling,
        note=why or " ".join(figure.note.split()),
        source=" ".join(figure.source.publication.split()),
    )
