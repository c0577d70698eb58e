"""Who takes part in a policy.

Core object:
    :func:`participants`: per entity of a type, whether it takes part: every company; the
        people who meet the policy's requirements (adult, a payment app, a smartphone...) and, for a
        voluntary policy, opted in, with odds that rise with a clean standing.

Only participants' records are counted, scored and listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.ages import ages
from sclab.policy.schema import Participation

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


def participants(
    sim: Simulation, part: Participation, entity: str, rng: np.random.Generator
) -> np.ndarray:
    """Mask of the entities of type ``entity`` that take part (draws from ``rng`` for
    voluntary person schemes only)."""
    if entity == "company":
        return np.ones(len(sim.population.companies), bool)
    c = sim.population.citizens
    n = len(c)
    eligible = np.ones(n, bool)
    age = ages(sim)  # computed once per run and shared: it is O(n) date arithmetic
    for need in part.requires:
        eligible &= (age >= 18) if need == "adult" else getattr(c, need)
    if part.mode == "mandatory":
        return eligible
    # Voluntary: opt-in odds rise with a clean standing. No records exist on day 0, so
    # income decile stands in for it (Assumption, docs/policies.md).
    weight = np.exp(part.prefer_good_records * (c.income_decile / 9.0 - 0.5))
    p = np.clip(part.share * weight / weight[eligible].mean(), 0, 1) if eligible.any() else weight
    return eligible & (rng.random(n) < p)
