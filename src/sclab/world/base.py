"""Conventions shared by every source of true acts.

Core objects:
    :class:`SourceParams`: base of every source's parameter model (unknown fields are
        errors; ``record_every_event`` switches high-volume streams from per-person totals
        to one act per event).
    :func:`propensity`: the behaviour-controlled multiplier on a person's rate for an act
        kind, or ``None`` while no behaviour component adjusts that kind.
    :func:`set_propensity`, :func:`update_propensity`: how behaviour components create and
        change those multipliers.
    :func:`ages`, :func:`district_codes`: small conveniences over the population.

How a source works (each source's parameters, defaults and the defaults' sources:
``docs/components.md``):
    1. ``setup(sim)``: read the population, precompute per-person rate classes.
    2. ``step(sim, day)``: draw today's acts sparsely (:mod:`sclab.world.sampling`) from
       ``sim.rng(self.name, day)``, multiplying base rates by :func:`propensity` where a
       behaviour may act; add them with ``sim.acts.add(...)``; add resource moments with
       ``sim.moments.add(...)``; add high-volume streams to ``sim.aggregates``.
    3. Never write records: what the system records is the sensors' job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

DAYS_PER_YEAR = 365.0
DAYS_PER_MONTH = 365.0 / 12


class SourceParams(BaseModel):
    """Parameters common to all sources."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rate_multiplier: float = Field(
        1.0, ge=0, le=100, description="Scales every rate of the source (sensitivity runs)."
    )
    record_every_event: bool = Field(
        False,
        description="High-volume streams (posts, purchases) as one act per event instead of "
        "per-person totals.",
    )


def propensity_key(kind: str) -> str:
    return f"propensity/{kind}"


def propensity(sim: Simulation, kind: str) -> np.ndarray | None:
    """Per-person multiplier of the rate of ``kind`` (None: no behaviour adjusts it)."""
    key = propensity_key(kind)
    return sim.state.get(key)


def set_propensity(sim: Simulation, kind: str) -> np.ndarray:
    """Create (once) and return the multiplier array for ``kind``, initially all 1.

    float32, not float16: sources add or compare a multiplier array over the whole
    population every day, and NumPy converts float16 value by value, several times the
    cost of a float32 pass; that time outweighs the 2 bytes per person and kind float16
    would save (``docs/performance.md``).
    """
    return sim.state.add(propensity_key(kind), "person", np.float32, fill=1.0)


def update_propensity(
    sim: Simulation, kind: str, values: np.ndarray | float, people: np.ndarray | None = None
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


def per_person_rate(sim: Simulation, kind: str, base: np.ndarray | float) -> np.ndarray:
    """Base per-person probability times the behaviour multiplier, clipped to [0, 1]."""
    mult = propensity(sim, kind)
    base_arr = np.broadcast_to(np.asarray(base, dtype=np.float64), (len(sim.population.citizens),))
    if mult is None:
        return np.clip(base_arr, 0.0, 1.0)
    return np.clip(base_arr * mult, 0.0, 1.0)


def ages(sim: Simulation) -> np.ndarray:
    """Completed years of age on day 0 (cached on the simulation state)."""
    key = "population/age"
    if key not in sim.state:
        arr = sim.state.add(key, "person", np.int16)
        arr[:] = sim.population.citizens.age(sim.scenario.start_date)
    return sim.state[key]


def district_codes(sim: Simulation) -> np.ndarray:
    """GB/T 2260 code per district index."""
    return np.array([d.code for d in sim.scenario.geography.districts], dtype=np.int32)
