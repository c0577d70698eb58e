"""Active ties: how a component switches ties off, and how the others follow.

Core objects:
    :class:`TieChanges`: the record of what was switched off in ``sim.ties_active``: a
        version that grows by one per round, and the tie ends of the last round.
    :func:`tie_changes_of`: the simulation's :class:`TieChanges` (None while no component
        switches ties off).
    :class:`TieReader`: where a reader of ``sim.ties_active`` stands; :meth:`TieReader.changes`
        says which tie ends were switched off since it last looked (or that it must
        recount), so a source can keep per-person counts of active ties up to date in
        O(dropped ties) instead of O(ties).
    :func:`tie_positions`, :func:`active_neighbours`: small vectorised helpers over the CSR
        tie graph (the stored entries in some people's rows; their active neighbours).

This is part of the engine's contract, not of any one component: a behaviour component
(tie pruning) writes ``sim.ties_active``, sources and other behaviour read it.
``sim.ties_active`` holds one bit per stored CSR entry (a
:class:`~sclab.population.bits.PackedBools` created all-True when the first tie is
switched off); ``None`` means every tie is active. Both stored directions of a tie are
always switched off together, so that the active graph stays symmetric.

Change record. A component that switches ties off keeps a :class:`TieChanges` as its
``tie_changes`` attribute and writes only through :meth:`TieChanges.switch_off`, which
writes ``sim.ties_active`` and records the round (version + 1, the positions switched
off, and which array they were switched off in). Readers that derive something from the
active ties (social media keeps everyone's active online degree) hold a
:class:`TieReader` and apply only the last round's positions; a reader more than one
round behind, or one that finds ``sim.ties_active`` replaced by an array the record does
not know (a test or another component assigning it), is told to recount. Ties are
therefore switched off either through :meth:`TieChanges.switch_off` or by assigning a new
array, never by writing into the current ``sim.ties_active`` in place behind the record's
back.

Cost model: a reader's :meth:`TieReader.changes` is O(1) when nothing changed; a round of
k positions costs O(k log k) to record (a sort). Memory: one bit per stored tie end once
a tie is switched off, plus 8 bytes per tie end switched off in the last round.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.arrays import union_sorted
from sclab.population.bits import PackedBools

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

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
        self._before: PackedBools | np.ndarray | None = None
        self._after: PackedBools | np.ndarray | None = None
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
        after = before
        if after is None:
            after = sim.ties_active = PackedBools.full(len(sim.population.graph.indices), True)
        after[pos] = False
        self._before, self._after, self._positions = before, after, pos
        self.version += 1
        return len(pos)

    def last_round(
        self,
    ) -> tuple[PackedBools | np.ndarray | None, PackedBools | np.ndarray | None, np.ndarray]:
        """(array before, array after, positions switched off) of the last round."""
        return self._before, self._after, self._positions


def tie_changes_of(sim: Simulation) -> TieChanges | None:
    """The change record of the first component that switches ties off (its
    ``tie_changes``), or None when none does."""
    for _, component in sim.components:
        changes = getattr(component, "tie_changes", None)
        if isinstance(changes, TieChanges):
            return changes
    return None


class TieReader:
    """Where one reader of ``sim.ties_active`` stands: the array it last saw, at what version.

    A reader that keeps something derived from the active ties (a count per person) calls
    :meth:`changes` before using it, applies the positions returned, or recounts from
    ``sim.ties_active`` when told to. It holds a reference to the array it saw, so an
    array replaced by another is never mistaken for it.
    """

    def __init__(self) -> None:
        self.seen: PackedBools | np.ndarray | None = None  # None: every tie active
        self.version = 0

    def changes(self, sim: Simulation) -> np.ndarray | None:
        """Tie ends switched off since the last call, then move to the present.

        Returns the positions (sorted int64, both directions of each tie; empty when
        nothing changed, in O(1)), or None when they are not known: the reader must then
        recount from ``sim.ties_active`` (it was replaced, or more than one round passed
        since the last call).
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


def _row_positions(indptr: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of every stored CSR entry in the rows of ``people``, each row's length)."""
    starts = indptr[people]
    lens = indptr[people + 1] - starts
    total = int(lens.sum())
    # Entry k of the output is entry k - (where its row begins in the output) of its row:
    # one repeat of each row's shift, then a running count (no repeat of the starts and
    # of the output offsets apart).
    pos = np.repeat(starts - (np.cumsum(lens) - lens), lens)
    pos += np.arange(total, dtype=np.int64)
    return pos, lens


def tie_positions(indptr: np.ndarray, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of every stored CSR entry in the rows of ``people``.

    ``owner[k]`` repeats the person whose row holds entry ``position[k]``. Cost O(sum of
    the degrees of ``people``).
    """
    people = np.asarray(people, dtype=np.int64)
    pos, lens = _row_positions(indptr, people)
    return np.repeat(people, lens), pos


def active_neighbours(sim: Simulation, people: np.ndarray) -> np.ndarray:
    """The neighbours at the other end of the active ties of ``people`` (repeats kept),
    in the graph's index type (int32 below 2**31 people: half the bytes to sort).

    Ties switched off in ``sim.ties_active`` are left out: a dropped contact no longer
    hears of one's sanctions. Cost O(sum of the degrees of ``people``).
    """
    graph = sim.population.graph
    pos, _ = _row_positions(graph.indptr, np.asarray(people, dtype=np.int64))
    if sim.ties_active is not None and len(pos):
        pos = pos[sim.ties_active[pos]]
    return graph.indices[pos]
