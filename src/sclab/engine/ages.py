"""Ages of the simulated people, computed once per run and shared through the state.

Core objects:
    :func:`ages`: completed years of age on day 0, per person.
    :data:`AGE`: the declaration of its array in the state.

Several stages read ages (sources draw by age class, the camera sensor by age band,
policies by age factor); date arithmetic over the whole population is O(n), so the first
reader computes it into ``sim.state`` (``population/age``) and the others reuse it.
Nobody changes age class during a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.statearrays import StateArray

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

AGE = StateArray(
    "population/age",
    "person",
    np.dtype(np.int16),
    0,
    "Completed years of age on day 0: the first reader computes them "
    "(sclab.engine.ages.ages), the others reuse them.",
)
AGE_KEY = AGE.name


def ages(sim: Simulation) -> np.ndarray:
    """Completed years of age on day 0 (int16, cached on the simulation state)."""
    if AGE_KEY not in sim.state:
        arr = sim.state.add(AGE_KEY)
        arr[:] = sim.population.citizens.age(sim.scenario.start_date)
    return sim.state[AGE_KEY]
