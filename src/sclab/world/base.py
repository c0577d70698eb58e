"""Conventions shared by every source of true acts.

Core object:
    :class:`SourceParams`: base of every source's parameter model (unknown fields are
        errors; ``record_every_event`` switches high-volume streams from per-person totals
        to one act per event).

How a source works (each source's parameters, defaults and the defaults' sources:
``docs/components.md``):
    1. ``setup(sim)``: read the population, precompute per-person rate classes (ages on
       day 0: :func:`sclab.engine.ages.ages`).
    2. ``step(sim, day)``: draw today's acts sparsely (:mod:`sclab.world.sampling`) from
       ``sim.rng(self.name, day)``, multiplying base rates by
       :func:`sclab.engine.propensity.propensity` where a behaviour may act; add them with
       ``sim.acts.add(...)``; add resource moments with ``sim.moments.add(...)``; add
       high-volume streams to ``sim.aggregates``. Yearly rates become daily ones through
       :data:`sclab.engine.simulation.DAYS_PER_YEAR`.
    3. Never write records: what the system records is the sensors' job.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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
