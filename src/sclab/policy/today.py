"""The day a policy engine decides: the context handed to each of its parts.

Core object:
    :class:`Today`: the simulation, the day's number and the policy's random stream for
        that day. The engine makes one at the start of each step and passes it to every
        part it calls. No part keeps it: what carries over from one day to the next is the
        parts' own state (counters, books, scores), never the day itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


@dataclass(frozen=True)
class Today:
    """One policy's day: ``sim``, ``day`` and ``rng``, the day's generator of the policy's
    stream ``stream`` (``policy:<id>``): every part draws from this one generator, in the
    order the engine calls them."""

    sim: Simulation
    day: int
    stream: str

    @functools.cached_property
    def rng(self) -> np.random.Generator:
        """The day's generator, made when first drawn from (on most days a policy draws
        nothing, and making one costs as much as a day's array calls of a part)."""
        return self.sim.rng(self.stream, self.day)

    def working_days_later(self, n: int) -> int:
        """The day ``n`` working days (Monday to Friday) after today: from a Saturday or a
        Sunday the first working day is Monday, so "within 3 working days" of a weekend
        ends on Wednesday. (Rolling a weekend forward to Monday first would count Monday
        twice and end on Thursday, a day late.) ``n = 0`` is today."""
        start = np.datetime64(self.sim.date(self.day))
        later = np.busday_offset(start, n, roll="backward")
        return self.day + max(0, int((later - start).astype(int)))
