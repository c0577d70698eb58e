"""Tie pruning: people drop online ties to low scorers when ties count in the score.

Core objects:
    :class:`TiePruningParams`: the score threshold and the weekly pruning probability.
    :class:`TiePruning`: the ``("behaviour", "tie_pruning")`` component.
    :class:`TieChanges`: the record of what pruning switched off, kept on the component:
        a version that grows by one per pruning round, and the tie ends of the last round.
    :class:`TieReader`: where a reader of ``sim.ties_active`` stands; :meth:`TieReader.changes`
        says which tie ends were switched off since it last looked (or that it must
        recount), so a source can keep per-person counts of active ties up to date in
        O(dropped ties) instead of O(ties).
    :func:`tie_changes_of`: the simulation's :class:`TieChanges` (None without pruning).
    :func:`tie_positions`, :func:`active_neighbours`, :func:`reverse_positions`,
        :func:`union_sorted`: small vectorised helpers over the CSR tie graph, shared with
        the other behaviour components (neighbours of a set of people, the position of the
        other direction of a stored tie, a sorted set union).

Mechanism. When a policy makes one's contacts' scores count in one's own score
(``SystemView.scores_ties``), keeping low scorers as contacts costs points. Sesame
Credit's managers said in 2015 that friends' scores could matter; whether and how much
people actually unfriended is not measured, so the rate is an assumption. Once a week
(days 6, 13, 20, ...), every active online tie with at least one endpoint whose score is
below ``threshold`` is dropped with probability ``p_prune``. A tie between two low scorers
is one tie and is drawn once. Unscored people (score NaN) never trigger pruning; offline
ties (family, neighbours, colleagues) are kept unless ``online_only`` is false.

Pruning is written to ``sim.ties_active`` (one bit per stored CSR entry, a
:class:`~sclab.population.bits.PackedBools` created all-True when the first tie is
dropped), always for both stored directions of a tie so that the active graph stays
symmetric. Without a policy that scores ties, ``sim.ties_active`` stays
``None`` and nothing is drawn.

Change record. Each pruning round that drops ties goes through :meth:`TieChanges.switch_off`:
it writes ``sim.ties_active`` and records the round (version + 1, the positions switched
off, and which array they were switched off in). Readers that derive something from the
active ties (social media keeps everyone's active online degree) hold a :class:`TieReader`
and apply only the last round's positions; a reader more than one round behind, or one
that finds ``sim.ties_active`` replaced by an array the record does not know (a test or
another component assigning it), is told to recount. Ties are therefore switched off
either through :meth:`TieChanges.switch_off` or by assigning a new array, never by
writing into the current ``sim.ties_active`` in place behind the record's back.

Cost model: one day in seven, an O(n) vectorised comparison to find low scorers, then
O(ties of low scorers) to gather and draw their ties, plus O(k log d) for the k dropped
ties (a vectorised binary search in each neighbour's sorted row, d = its degree), plus
O(k log k) to record them (a sort of the 2k positions). The other six days cost nothing.
A reader's :meth:`TieReader.changes` is O(1) when nothing changed. Memory: one bit per
stored tie end once pruning starts, plus 8 bytes per tie end dropped in the last round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.engine.registry import register
from sclab.population.bits import PackedBools

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation
    from sclab.population.graph import SocialGraph

PRUNE_EVERY_DAYS = 7
_NO_POSITIONS = np.empty(0, dtype=np.int64)


class TieChanges:
    """What has been switched off in ``sim.ties_active``, round by round.

    Attributes:
        version: Rounds recorded so far (0: none); grows by one per round that dropped ties.
    """

    def __init__(self) -> None:
        self.version = 0
        # The last round: the ties_active object before it (None: every tie active) and
        # after it, and the positions it switched off (sorted, each active before).
        self._before: np.ndarray | None = None
        self._after: np.ndarray | None = None
        self._positions = _NO_POSITIONS

    def switch_off(self, sim: Simulation, positions: np.ndarray) -> int:
        """Switch the stored tie ends ``positions`` off and record the round.

        ``positions`` should hold both directions of each tie (the caller keeps the active
        graph symmetric); ends already off and repeats are ignored. Creates
        ``sim.ties_active`` (all active) on first use. Returns how many ends were switched
        off; a round that switches nothing off is not recorded. Cost O(k log k).
        """
        before = sim.ties_active
        pos = union_sorted(positions)
        if before is not None:
            pos = pos[before[pos]]
        if not len(pos):
            return 0
        if before is None:
            sim.ties_active = PackedBools.full(len(sim.population.graph.indices), True)
        after = sim.ties_active
        after[pos] = False
        self._before, self._after, self._positions = before, after, pos
        self.version += 1
        return len(pos)

    def last_round(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
        """(array before, array after, positions switched off) of the last round."""
        return self._before, self._after, self._positions


def tie_changes_of(sim: Simulation) -> TieChanges | None:
    """The change record of the simulation's tie pruning, or None when nothing prunes ties."""
    for _, component in sim.components:
        if isinstance(component, TiePruning):
            return component.changes
    return None


class TieReader:
    """Where one reader of ``sim.ties_active`` stands: the array it last saw, at what version.

    A reader that keeps something derived from the active ties (a count per person) calls
    :meth:`changes` before using it, applies the positions returned, or recounts from
    ``sim.ties_active`` when told to. It holds a reference to the array it saw, so an
    array replaced by another is never mistaken for it.
    """

    def __init__(self) -> None:
        self.seen: np.ndarray | None = None  # None: every tie active
        self.version = 0

    def changes(self, sim: Simulation) -> np.ndarray | None:
        """Tie ends switched off since the last call, then move to the present.

        Returns the positions (sorted int64, both directions of each tie; empty when
        nothing changed, in O(1)), or None when they are not known: the reader must then
        recount from ``sim.ties_active`` (it was replaced, or more than one pruning round
        passed since the last call).
        """
        log = tie_changes_of(sim)
        active = sim.ties_active
        version = log.version if log is not None else 0
        if active is self.seen and version == self.version:
            return _NO_POSITIONS
        known = None
        if log is not None and version == self.version + 1:
            before, after, positions = log.last_round()
            if before is self.seen and after is active:
                known = positions
        self.seen, self.version = active, version
        return known


def tie_positions(indptr: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of every stored CSR entry in the rows of ``people``.

    ``owner[k]`` repeats the person whose row holds entry ``position[k]``. Cost O(sum of
    the degrees of ``people``).
    """
    people = np.asarray(people, dtype=np.int64)
    starts = indptr[people]
    lens = indptr[people + 1] - starts
    total = int(lens.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    owner = np.repeat(people, lens)
    row_first = np.repeat(np.cumsum(lens) - lens, lens)
    pos = np.repeat(starts, lens) + (np.arange(total, dtype=np.int64) - row_first)
    return owner, pos


def union_sorted(*parts: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values of all ``parts`` (a sort, cheaper than np.union1d's hash).

    Parts are usually sorted already (people touched today, the exposed so far): the
    stable sort (timsort for int64) merges such runs in about linear time, where the
    default introsort re-sorts everything (3M exposed people and one day's 50,000: 6
    against 150 ms). Unsorted parts cost it about a quarter more than the default.
    """
    if not parts:
        return np.empty(0, dtype=np.int64)
    joined = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    joined.sort(kind="stable")
    if len(joined) < 2:
        return joined
    return joined[np.concatenate([[True], joined[1:] != joined[:-1]])]


def active_neighbours(sim: Simulation, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, neighbour) for the active ties of ``people`` (repeats kept).

    Ties pruned in ``sim.ties_active`` are left out: a dropped contact no longer hears of
    one's sanctions.
    """
    graph = sim.population.graph
    owner, pos = tie_positions(graph.indptr, people)
    if sim.ties_active is not None and len(pos):
        keep = sim.ties_active[pos]
        owner, pos = owner[keep], pos[keep]
    return owner, graph.indices[pos].astype(np.int64)


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
        self.changes = TieChanges()

    def setup(self, sim: Simulation) -> None:
        # Several pruning components share one record: readers look at the first only.
        shared = tie_changes_of(sim)
        if shared is not None:
            self.changes = shared

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
        neighbour = graph.indices[pos].astype(np.int64)
        keep = np.ones(len(pos), dtype=bool)
        if self.params.online_only:
            keep &= graph.online[pos]
        if sim.ties_active is not None:
            keep &= sim.ties_active[pos]
        # A tie between two low scorers appears in both rows; draw it once.
        keep &= ~low[neighbour] | (owner < neighbour)
        owner, pos, neighbour = owner[keep], pos[keep], neighbour[keep]
        if not len(pos):
            return
        rng = sim.rng(self.name, day)
        drop = rng.random(len(pos)) < self.params.p_prune
        if not drop.any():
            return
        owner, pos, neighbour = owner[drop], pos[drop], neighbour[drop]
        both = np.concatenate([pos, reverse_positions(graph, owner, neighbour)])
        self.changes.switch_off(sim, both)
        self.pruned_ties += len(pos)

    def finish(self, sim: Simulation) -> None:
        pass
