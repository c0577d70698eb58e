"""Rate multipliers: how behaviour changes the rates at which sources draw acts.

Core objects:
    :func:`propensity`: the per-person multiplier on the rate of an act kind, or ``None``
        while no behaviour component adjusts that kind (sources then skip it).
    :func:`set_propensity`, :func:`update_propensity`: how behaviour components create and
        change those multipliers.
    :func:`propensity_key`: the name of a kind's multiplier array in ``sim.state``.
    :data:`PROPENSITY`, :data:`COMPANY_PROPENSITY`: the declared families of multipliers
        (per person, per company), one array per act kind.

This is the engine's contract between two stages that never import each other: behaviour
writes a multiplier per person and act kind, sources read it the next day. With no policy
every multiplier stays exactly 1. A multiplier changes only through
:func:`update_propensity` (:meth:`~sclab.engine.simulation.State.write`): a source that
accrues a kind lazily watches its array (:meth:`~sclab.engine.simulation.State.watch`) and
credits each change for the people it concerns, so its days cost O(1) however many people
hold a multiplier. Watched arrays are read-only, so a write that goes around the watchers
fails instead of silently changing the law.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.statearrays import StateFamily

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

# float32, not float16: sources add or compare a multiplier array over the whole
# population every day, and NumPy converts float16 value by value, several times the
# cost of a float32 pass; that time outweighs the 2 bytes per person and kind float16
# would save (docs/performance.md).
PROPENSITY = StateFamily(
    "propensity",
    "act kind",
    "person",
    np.dtype(np.float32),
    1.0,
    "Multiplier of the person's daily rate of the act kind: behaviour writes it "
    "(update_propensity), the kind's source applies it the next day. Created when a "
    "behaviour component first adjusts the kind; until then the source skips it.",
)
COMPANY_PROPENSITY = StateFamily(
    "propensity_company",
    "act kind",
    "company",
    np.dtype(np.float32),
    1.0,
    "Multiplier of the company's daily rate of the act kind, applied by the source of "
    "company acts (up to its cap); absent: 1 for every company.",
)


def propensity_key(kind: str) -> str:
    """Name of the multiplier array of ``kind`` in ``sim.state``."""
    return PROPENSITY.key(kind)


def propensity_company_key(kind: str) -> str:
    """Name of the company-level multiplier array of ``kind`` in ``sim.state``."""
    return COMPANY_PROPENSITY.key(kind)


def propensity(sim: Simulation, kind: str) -> np.ndarray | None:
    """Per-person multiplier of the rate of ``kind`` (None: no behaviour adjusts it)."""
    return sim.state.get(propensity_key(kind))


def set_propensity(sim: Simulation, kind: str) -> np.ndarray:
    """Create (once) and return the multiplier array for ``kind``, initially all 1
    (float32, see :data:`PROPENSITY`)."""
    return sim.state.add(propensity_key(kind))


def update_propensity(
    sim: Simulation,
    kind: str,
    values: np.ndarray | float | np.floating,
    people: np.ndarray | None = None,
) -> np.ndarray:
    """Set the multiplier of ``kind`` for ``people`` (everyone if None); return the array.

    The only way to change a multiplier (the arrays are read-only once a source follows
    them): sources that accrue a kind lazily are told of each change
    (:meth:`sclab.world.sampling.LazyPoisson.follow`), so their days cost O(1) and a change
    O(people changed).
    """
    mult = set_propensity(sim, kind)
    sim.state.write(propensity_key(kind), values, people)
    return mult
