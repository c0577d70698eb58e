"""Classes people no longer attempt: how behaviour steers the class of an attempt.

Core objects:
    :data:`AVOIDED`: the declared family ``avoided_classes/<moment kind>``: per person one
        byte of bits, bit ``c`` set when the person no longer attempts class ``c`` of the
        kind (its classes in the catalogue, :attr:`sclab.engine.catalogue.Kind.classes`;
        a kind without classes has one, bit 0: the kind itself).
    :func:`avoided`: a kind's array, or None while nobody avoids anything of it.
    :func:`avoid`, :func:`forget`: how behaviour sets and clears bits.
    :func:`all_classes`: the bits of every class of a kind.

This is the engine's contract between behaviour (which learns, from blocks it is told of
through the :class:`~sclab.engine.feedback.SystemView`, which classes a person is barred
from) and the source of the moments (which draws each attempt's class, and for a person
with bits set draws it among the classes they still attempt, in proportion to their usual
shares, or gives the attempt up when every class it could take is avoided). Neither
imports the other. Only the people who learnt something have bits set; the array is made
when the first bit is set, so a run in which nobody is blocked never holds it.

Cost: one byte per person per kind once made; setting or clearing bits costs
O(people changed); a source reads it at its attempts only (O(attempts) a day).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.statearrays import StateFamily

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

AVOIDED = StateFamily(
    "avoided_classes",
    "moment kind",
    "person",
    np.dtype(np.uint8),
    0,
    "Bits of the classes of the moment kind (catalogue order; bit 0 alone for a kind "
    "without classes) the person no longer attempts, having learnt they are barred: "
    "behaviour sets them (avoid), the kind's source draws the person's attempts among the "
    "other classes, or gives an attempt up when none is left.",
)


def avoided_key(kind: str) -> str:
    """Name of the array of ``kind`` in ``sim.state``."""
    return AVOIDED.key(kind)


def all_classes(n_classes: int) -> int:
    """The bits of every class of a kind with ``n_classes`` classes (0: one, the kind)."""
    return (1 << max(n_classes, 1)) - 1


def avoided(sim: Simulation, kind: str) -> np.ndarray | None:
    """Per person, the bits of the classes of ``kind`` they avoid (None: nobody avoids any)."""
    return sim.state.get(avoided_key(kind))


def avoid(sim: Simulation, kind: str, people: np.ndarray, bits: np.ndarray | int) -> None:
    """Add ``bits`` (one value, or one per person) to what ``people`` avoid of ``kind``."""
    if not len(people):
        return
    arr = sim.state.add(avoided_key(kind))
    people = np.asarray(people, dtype=np.int64)
    new = arr[people] | np.asarray(bits, dtype=np.uint8)
    sim.state.write(avoided_key(kind), new, people)


def forget(sim: Simulation, kind: str, people: np.ndarray) -> None:
    """``people`` attempt every class of ``kind`` again."""
    if len(people) and avoided(sim, kind) is not None:
        sim.state.write(avoided_key(kind), np.uint8(0), np.asarray(people, dtype=np.int64))
