"""Tie pruning: people drop online ties to low scorers when ties count in the score.

Core objects:
    :class:`TiePruningParams`: the score threshold and the weekly pruning probability.
    :class:`TiePruning`: the ``("behaviour", "tie_pruning")`` component; it switches ties
        off through the engine's change record (:mod:`sclab.engine.ties`), kept as its
        ``tie_changes``, so that readers of ``sim.ties_active`` follow in O(dropped ties).
    :func:`reverse_positions`: the position of the other direction of each stored tie.

Mechanism. When a policy makes one's contacts' scores count in one's own score
(``SystemView.scores_ties``), keeping low scorers as contacts costs points. Sesame
Credit's managers said in 2015 that friends' scores could matter; whether and how much
people actually unfriended is not measured, so the rate is an assumption. Once a week
(days 6, 13, 20, ...), every active online tie with at least one endpoint whose score is
below ``threshold`` is dropped with probability ``p_prune``. A tie between two low scorers
is one tie and is drawn once. Unscored people (score NaN) never trigger pruning; offline
ties (family, neighbours, colleagues) are kept unless ``online_only`` is false.

Pruning is written to ``sim.ties_active`` (see :mod:`sclab.engine.ties`), always for both
stored directions of a tie so that the active graph stays symmetric. Without a policy that
scores ties, ``sim.ties_active`` stays ``None`` and nothing is drawn.

Cost model: one day in seven, an O(n) vectorised comparison to find low scorers, then
O(ties of low scorers) to gather and draw their ties, plus O(k log d) for the k dropped
ties (a vectorised binary search in each neighbour's sorted row, d = its degree), plus
O(k log k) to record them (a sort of the 2k positions). The other six days cost nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.engine.registry import register
from sclab.engine.ties import TieChanges, tie_changes_of, tie_positions

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation
    from sclab.population.graph import SocialGraph

PRUNE_EVERY_DAYS = 7


def reverse_positions(graph: SocialGraph, owner: np.ndarray, neighbour: np.ndarray) -> np.ndarray:
    """Position of ``neighbour -> owner`` for each stored tie ``owner -> neighbour``.

    A vectorised binary search in each neighbour's row, which is sorted ascending: the
    same as ``indptr[j] + searchsorted(indices[indptr[j]:indptr[j + 1]], i)`` tie by tie,
    in O(k log d) array operations instead of k Python calls.
    """
    owner = np.asarray(owner, dtype=np.int64)
    neighbour = np.asarray(neighbour, dtype=np.int64)
    lo = graph.indptr[neighbour].astype(np.int64)  # int64: lo + hi must not overflow
    hi = graph.indptr[neighbour + 1].astype(np.int64)
    todo = np.flatnonzero(lo < hi)
    while todo.size:
        mid = (lo[todo] + hi[todo]) // 2
        less = graph.indices[mid] < owner[todo]
        lo[todo[less]] = mid[less] + 1
        hi[todo[~less]] = mid[~less]
        todo = todo[lo[todo] < hi[todo]]
    if len(lo) and not np.array_equal(graph.indices[np.minimum(lo, len(graph.indices) - 1)], owner):
        raise ValueError("tie graph is not symmetric: a reverse tie is missing")
    return lo


class TiePruningParams(BaseModel):
    """Parameters of tie pruning."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    threshold: float = Field(
        1 / 3,
        ge=0,
        le=1,
        description="Assumption: a contact is 'low' below this score (0-1 scale). 1/3 is "
        "the top of Sesame Credit's lowest band (350-549 'poor') mapped onto 0-1: "
        "(550 - 350) / (950 - 350).",
    )
    p_prune: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: probability per week that an online tie to a low scorer is "
        "dropped while ties count in the score (no published measurement exists).",
    )
    online_only: bool = Field(
        True,
        description="Assumption: only online ties (contact lists in apps) are pruned; "
        "family and workplace ties are kept.",
    )


@register("behaviour", "tie_pruning", TiePruningParams)
class TiePruning:
    """Drop online ties to low scorers weekly while ties count in one's score."""

    def __init__(self, name: str, params: TiePruningParams) -> None:
        self.name, self.params = name, params
        self.pruned_ties = 0  # undirected ties dropped so far (diagnostic)
        #: What this component switched off (readers find it with :func:`tie_changes_of`).
        self.tie_changes = TieChanges()

    def setup(self, sim: Simulation) -> None:
        # Several pruning components share one record: readers look at the first only.
        shared = tie_changes_of(sim)
        if shared is not None:
            self.tie_changes = shared

    def step(self, sim: Simulation, day: int) -> None:
        view = sim.view
        if not view.scores_ties or day % PRUNE_EVERY_DAYS != PRUNE_EVERY_DAYS - 1:
            return
        if self.params.p_prune == 0.0:
            return
        low = view.score_below(self.params.threshold)  # unscored: never low
        low_people = np.flatnonzero(low)
        if not len(low_people):
            return
        graph = sim.population.graph
        owner, pos = tie_positions(graph.indptr, low_people)
        if not len(pos):
            return
        # The tie's own flags first, each read for the ties still kept: most ties are
        # offline (the order of the ties, hence of the draws, is unchanged).
        if self.params.online_only:
            online = graph.online[pos]
            owner, pos = owner[online], pos[online]
        if sim.ties_active is not None:
            active = sim.ties_active[pos]
            owner, pos = owner[active], pos[active]
        neighbour = graph.indices[pos].astype(np.int64)
        # A tie between two low scorers appears in both rows; draw it once.
        once = ~low[neighbour] | (owner < neighbour)
        owner, pos, neighbour = owner[once], pos[once], neighbour[once]
        if not len(pos):
            return
        rng = sim.rng(self.name, day)
        drop = rng.random(len(pos)) < self.params.p_prune
        if not drop.any():
            return
        owner, pos, neighbour = owner[drop], pos[drop], neighbour[drop]
        both = np.concatenate([pos, reverse_positions(graph, owner, neighbour)])
        self.tie_changes.switch_off(sim, both)
        self.pruned_ties += len(pos)

    def finish(self, sim: Simulation) -> None:
        pass
