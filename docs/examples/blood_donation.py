"""Voluntary blood donation by adults: a source of true acts, written as an example.

Core objects:
    :class:`BloodDonationParams`: the eligible ages and the population-wide donation rate,
        every default with its source.
    :class:`BloodDonation`: the ``("sources", "blood_donation")`` component.

Acts (entity_type "person", actor = person_id, no extra columns): ``blood_donation``, one
donation of blood by a person aged ``min_age`` to ``max_age`` on day 0.

Calibration: the published figure is per head of the whole population (11.2 donations a
year per 1,000 people), but only the eligible ages donate. So each eligible person donates
with the yearly rate ``donations_per_1000_people / 1000 × people / eligible people``, and
the whole population's donations come to the published rate whatever its age structure.

COST MODEL: setup finds the eligible people once (O(n)). A day draws the donors among them
sparsely (:func:`sclab.world.sampling.draw_with_multiplier`: geometric gaps between
donors, O(donors) without a behaviour multiplier); nothing is done per person per day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from sclab.engine.ages import ages
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity
from sclab.engine.registry import register
from sclab.engine.simulation import DAYS_PER_YEAR
from sclab.world.base import SourceParams
from sclab.world.sampling import draw_with_multiplier

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

#: The act kind this source writes: donating blood breaks no duty, and the state commends
#: it (domain "civic", beside heroic acts).
BLOOD_DONATION = Kind.act(
    "blood_donation", "civic", True, "a voluntary donation of blood", entity="person"
)


class BloodDonationParams(SourceParams):
    """Who may donate, and how often the whole population donates."""

    min_age: int = Field(
        18,
        ge=0,
        le=120,
        description="Youngest donors: the Blood Donation Law of the PRC (1998), art. 2, "
        "advocates voluntary donation by healthy citizens aged 18 to 55.",
    )
    max_age: int = Field(
        55,
        ge=0,
        le=120,
        description="Oldest donors (completed years on day 0): the Blood Donation Law of the "
        "PRC (1998), art. 2, 18 to 55.",
    )
    donations_per_1000_people: float = Field(
        11.2,
        ge=0,
        le=1000,
        description="Donations per 1,000 people (everyone, not only the eligible) per year: "
        "National Health Commission via Xinhua, 25 May 2019, 14.99 million voluntary "
        'donations in 2018, "nearly 11.2 blood donors in every 1,000 people".',
    )
    max_propensity: float = Field(
        10.0,
        ge=1.0,
        le=1000.0,
        description="Bound on behaviour multipliers used for thinning; larger multipliers "
        "count as this bound (bookkeeping, not a rate).",
    )

    @model_validator(mode="after")
    def _ages_in_order(self) -> BloodDonationParams:
        if self.min_age > self.max_age:
            raise ValueError(f"min_age {self.min_age} is above max_age {self.max_age}")
        return self


@register("sources", "blood_donation", BloodDonationParams)
class BloodDonation:
    """Voluntary blood donation by adults of donor age."""

    def __init__(self, name: str, params: BloodDonationParams) -> None:
        self.name = name
        self.params = params
        self.eligible = np.empty(0, np.int64)
        self.daily = 0.0

    def kinds(self) -> tuple[Kind, ...]:
        """The act kind this source writes (the records sensor records it as an event of
        the same name, with the same facts)."""
        return (BLOOD_DONATION,)

    def setup(self, sim: Simulation) -> None:
        p = self.params
        age = ages(sim)
        self.eligible = np.flatnonzero((age >= p.min_age) & (age <= p.max_age))
        if len(self.eligible) == 0:
            return  # nobody of donor age: no donations
        # The published rate is per head of everyone; only the eligible donate.
        per_person_year = p.donations_per_1000_people / 1000 * len(age) / len(self.eligible)
        self.daily = per_person_year * p.rate_multiplier / DAYS_PER_YEAR

    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        # Its own stream, keyed by the component's name and the day: switching another
        # component on or off changes none of these draws.
        rng = sim.rng(f"{self.name}/blood_donation", day)
        who = draw_with_multiplier(
            rng, self.eligible, self.daily, propensity(sim, "blood_donation"), p.max_propensity
        )
        if len(who):
            sim.acts.add(day, self.name, "blood_donation", who)

    def finish(self, sim: Simulation) -> None:
        pass
