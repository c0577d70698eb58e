"""Monthly histograms of every policy's scores: rows for ``score_histograms``.

Core objects:
    :class:`ScoreHistograms`: every policy's scores at the end of each calendar month (and
        of the run's last day), counted in fixed bins.
    :func:`bin_width`: the bin width of a score's histograms.

Why they are not computed from the tables like ``daily_stats``: ``score_changes`` holds a
factor score's change only when it moves 10 points or changes grade, and the first
assessment not at all, so a month's scores cannot be rebuilt from it. The run reads them
from the policies' score states after the last day of each month, outside the day's
steps; reading changes nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from sclab.parallel import map_blocks
from sclab.policy.engine import PolicyEngine
from sclab.policy.schema import FactorScore, PointsScore

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


def _nice_floor(x: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten that is at most ``x`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(x))
    return max(m * power for m in (1, 2, 5) if m * power <= x * (1 + 1e-12))


def bin_width(spec: FactorScore | PointsScore) -> float:
    """Histogram bin width of a score: its range / 500 for a factor score, its smallest
    points change for a points score, rounded down to 1, 2 or 5 times a power of ten.

    Assumption: fine enough that a report can merge bins as it likes; anything from 100
    to 1,000 bins over a factor score's range would serve (500 over Sesame's 350-950 are
    1 point wide). A points score's bins are as wide as its smallest step (Rongcheng: 5
    points), so that each bin holds values one step apart at most.
    """
    if isinstance(spec, FactorScore):
        low, high = spec.range
        return _nice_floor((high - low) / 500)
    steps = [abs(d.delta) for d in spec.deltas if d.delta]
    return _nice_floor(min(steps)) if steps else 1.0


class ScoreHistograms:
    """Every policy's scores counted in bins at the end of each calendar month and of the
    run's last day; rows for ``score_histograms``.

    Args:
        sim: The simulation (assembled; the scores are read after :meth:`observe`'s days).
    """

    #: Bins a block counts with one bincount at most; a wider spread of values is counted
    #: with a sort instead (a points score without bounds may spread far).
    MAX_DENSE_BINS = 1 << 20

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self._rows: dict[str, list[Any]] = {
            k: [] for k in ("month", "day", "system", "score", "entity_type", "lower", "upper")
        }
        self._counts: list[np.ndarray] = []

    def observe(self, day: int) -> None:
        """Count the scores if ``day`` is the last simulated day of its month."""
        date = self.sim.date(day)
        if day == self.sim.scenario.days - 1 or self.sim.date(day + 1).month != date.month:
            self.snapshot(day, date.replace(day=1))

    def snapshot(self, day: int, month: dt.date) -> None:
        """Count every policy's scores as they are now, as the snapshot of ``month``."""
        for _, component in self.sim.components:
            if not isinstance(component, PolicyEngine):
                continue
            for states in (component.scores.points, component.scores.factors):
                for sid, state in states.items():
                    self._count(day, month, component.system, sid, state.spec, state.value)

    def _count(
        self,
        day: int,
        month: dt.date,
        system: str,
        score: str,
        spec: FactorScore | PointsScore,
        values: np.ndarray,
    ) -> None:
        width = bin_width(spec)

        def block(_: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
            """(bin, entities) of the occupied bins of one block of entities."""
            x = values[lo:hi]
            x = x[~np.isnan(x)].astype(np.float64)  # NaN: not a participant, not yet scored
            bins = np.floor(x / width).astype(np.int64)
            if not len(bins):
                return bins, bins
            low = int(bins.min())
            if int(bins.max()) - low >= self.MAX_DENSE_BINS:
                return np.unique(bins, return_counts=True)
            counts = np.bincount(bins - low)
            used = np.flatnonzero(counts)
            return used + low, counts[used]

        # In blocks on the cores: a month's count over millions of scores is a
        # population-wide pass like the others (docs/performance.md).
        parts = map_blocks(block, len(values))
        if not any(len(b) for b, _ in parts):
            return
        index, inverse = np.unique(np.concatenate([b for b, _ in parts]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([c for _, c in parts]))
        n = len(index)
        rows = self._rows
        rows["month"] += [month] * n
        rows["day"] += [day] * n
        rows["system"] += [system] * n
        rows["score"] += [score] * n
        rows["entity_type"] += [spec.entity] * n
        rows["lower"] += (index * width).tolist()
        rows["upper"] += ((index + 1) * width).tolist()
        self._counts.append(counts.astype(np.int64))

    def columns(self) -> dict[str, Any]:
        """The rows counted so far, as columns for ``score_histograms``."""
        counts = np.concatenate(self._counts) if self._counts else np.empty(0, np.int64)
        return {**self._rows, "count": counts}
