"""Listed people learn what they are barred from: they switch class or stop trying.

Core objects:
    :class:`LearnWhenBlockedParams`: the moment kinds, the shares who learn, who knew
        already when the run starts and who is told on listing.
    :class:`LearnWhenBlocked`: the ``("behaviour", "learn_when_blocked")`` component.

Model. A person refused a ticket learns of the restriction at the counter (debtors
commonly discover the ban when a ticket purchase is refused: China Daily, "'Naming and
shaming' forces defaulters to honor rulings", 19 July 2018, tells of a debtor who paid
after a travel agency refused him flight tickets). Each blocked attempt
(``SystemView.blocked_today``) teaches its person, with a probability, the classes that
the policies bar on that kind (``SystemView.barred_classes``): all of them at once, since
the refusal names the restriction, not the seat. Where some class is still permitted (a
rail ticket: a second-class seat on a D- or C-series train, or an ordinary train's hard
seat or sleeper) the person switches to it (``switch_share`` per refusal); where none is
(a flight) the person stops trying (``give_up_share`` per refusal) or keeps trying, to be
refused again. What is learnt is written as the classes avoided
(:mod:`sclab.engine.avoidance`), which the source reads when it draws the class of the
person's next attempts.

Others learn without a refusal, and then act on it as after one (switch with
``switch_share``, give up with ``give_up_share``):

* people listed before the run (a negative listing day) and the legal representatives of
  companies listed before it, with probability ``known_at_start``: the run starts in the
  steady state of years of refusals, not with everyone about to discover the ban;
* people told of their listing by the decision served on them (a listing reports them as
  caught for ``non_performance``, ``SystemView.caught_today``), with ``told_share``.

Forgetting: every ``recheck_days`` the people who learnt something and are neither on a
published list nor the legal representative of a company on one attempt every class
again (a deleted debtor may fly).

Each moment kind's avoided classes are owned by this component.

Cost model: O(blocks and listings of the day + people who learnt) on a day with a block
(the learners are merged into a sorted array); once, on the first day, one O(n) read of
who is listed (the warm start's debtors); every ``recheck_days`` O(companies) for the
representatives of listed companies and O(people who learnt x lists). Memory: one byte
per person per kind once someone has learnt (the avoided classes), and the sorted ids
of the people who learnt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.arrays import union_sorted
from sclab.engine.avoidance import all_classes, avoid, forget
from sclab.engine.catalogue import Catalogue, KindError
from sclab.engine.registry import register

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

#: The act a listing reports people caught for (the court list's records of it).
LISTED_FOR = "non_performance"


class LearnWhenBlockedParams(BaseModel):
    """Parameters of learning from refused attempts."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kinds: tuple[str, ...] = Field(
        ("flight_ticket", "rail_ticket"),
        description="Resource-moment kinds whose refusals teach (the travel bans, whose "
        "refusals at the counter were widely reported).",
    )
    switch_share: float = Field(
        0.9,
        ge=0,
        le=1,
        description="Per refused attempt on a kind with a permitted class (rail), the "
        "probability that the person learns the barred classes and switches to permitted "
        "ones. Calibrated (range 0.5-1): with it the run's blocked rail tickets meet the "
        "SPC's end-2018 count (docs/calibration.md); no published share was found.",
    )
    give_up_share: float = Field(
        0.15,
        ge=0,
        le=1,
        description="Per refused attempt on a kind with no permitted class (flights), the "
        "probability that the person stops trying. Calibrated (range 0.05-0.6): the SPC "
        "counted 17.46 million refused flight purchases for 12.88 million listings by "
        "end-2018, more than one refusal per listing, so many debtors try again; no "
        "published share was found.",
    )
    known_at_start: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Share of the people listed before the run (and of the legal "
        "representatives of companies listed before it) who know what is barred (refused "
        "before, or told). Calibrated with switch_share and give_up_share to the SPC's "
        "end-2018 block counts (range 0.5-0.99); no published share was found.",
    )
    told_share: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Share of newly listed people who learn what is barred from the "
        "decision served on them (2017 Provisions Art. 5), before any refusal; the others "
        "discover it at the counter. Calibrated with the others (range 0.2-0.95); no "
        "published share was found.",
    )
    recheck_days: int = Field(
        30,
        ge=1,
        le=365,
        description="Days between checks of who is still listed or represents a listed "
        "company (cost knob).",
    )


@register("behaviour", "learn_when_blocked", LearnWhenBlockedParams)
class LearnWhenBlocked:
    """Refused travellers avoid the barred classes next time, or stop trying."""

    def __init__(self, name: str, params: LearnWhenBlockedParams) -> None:
        self.name, self.params = name, params
        #: Per kind, the people who avoid something of it (sorted ids).
        self.learnt: dict[str, np.ndarray] = {}
        self._classes: dict[str, tuple[str, ...]] = {}
        self._started = False

    def check_kinds(self, catalogue: Catalogue) -> None:
        """Every kind must be a resource-moment kind sclab knows.

        Raises:
            KindError: naming the parameter and the nearest valid name.
        """
        for i, kind in enumerate(self.params.kinds):
            problem = catalogue.unknown(kind, "moment")
            if problem:
                raise KindError(problem, ("kinds", i))

    def setup(self, sim: Simulation) -> None:
        catalogue = sim.catalogue()
        for kind in self.params.kinds:
            k = catalogue.get(kind, "moment")
            self._classes[kind] = k.classes if k is not None else ()
            self.learnt[kind] = np.empty(0, np.int64)

    def barred_bits(self, sim: Simulation, kind: str) -> int:
        """The bits of the classes of ``kind`` that the policies bar (0: none)."""
        if kind not in sim.view.barred_classes:
            return 0
        classes = self._classes[kind]
        barred = sim.view.barred_classes[kind]
        if barred is None or not classes:
            return all_classes(len(classes))
        return sum(1 << i for i, c in enumerate(classes) if c in barred)

    def share(self, kind: str, bits: int) -> float:
        """The probability of acting on what one learnt: switching when a class is left,
        else giving up."""
        full = bits == all_classes(len(self._classes[kind]))
        return self.params.give_up_share if full else self.params.switch_share

    def step(self, sim: Simulation, day: int) -> None:
        rng = sim.rng(self.name, day)
        if not self._started:
            self._started = True
            self._known_at_start(sim)
        told = sim.view.caught_today(LISTED_FOR)
        if len(told):
            told = np.unique(told[rng.random(len(told)) < self.params.told_share])
        for kind in self.params.kinds:
            bits = self.barred_bits(sim, kind)
            if not bits:
                continue
            share = self.share(kind, bits)
            people, _ = sim.view.blocked_today(kind)
            learn = people[rng.random(len(people)) < share]
            learn = np.concatenate([learn, told[rng.random(len(told)) < share]])
            self._learn(sim, kind, np.unique(learn), bits)
        if day > 0 and day % self.params.recheck_days == 0:
            self._forget(sim)

    def _learn(self, sim: Simulation, kind: str, people: np.ndarray, bits: int) -> None:
        """``people`` (sorted, unique) avoid ``bits`` of ``kind`` from now on."""
        if len(people):
            avoid(sim, kind, people, bits)
            self.learnt[kind] = union_sorted(self.learnt[kind], people)

    def _known_at_start(self, sim: Simulation) -> None:
        """People (and companies' representatives) listed before the run knew with
        ``known_at_start``, and act on it with the kind's share."""
        listed = np.flatnonzero(sim.view.listed)
        before = listed[sim.view.listed_since_of(listed) < 0]
        reps, since = sim.view.listed_representatives(sim.population.companies.legal_rep)
        before = np.union1d(before, reps[since < 0])
        if not len(before):
            return
        rng = sim.rng(f"{self.name}/known_at_start")
        knew = before[rng.random(len(before)) < self.params.known_at_start]
        for kind in self.params.kinds:
            bits = self.barred_bits(sim, kind)
            if bits:
                acts = knew[rng.random(len(knew)) < self.share(kind, bits)]
                self._learn(sim, kind, acts, bits)

    def _forget(self, sim: Simulation) -> None:
        """Those no longer listed, nor representing a listed company, try every class."""
        reps, _ = sim.view.listed_representatives(sim.population.companies.legal_rep)
        for kind, people in self.learnt.items():
            if not len(people):
                continue
            gone = ~sim.view.listed_of(people) & ~np.isin(people, reps)
            forget(sim, kind, people[gone])
            self.learnt[kind] = people[~gone]

    def finish(self, sim: Simulation) -> None:
        pass
