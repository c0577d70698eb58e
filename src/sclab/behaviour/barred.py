"""Listed people learn what they are barred from: they switch class or stop trying.

Core objects:
    :class:`LearnWhenBlockedParams`: the moment kinds, the shares who learn, the share who
        knew already when the run starts.
    :class:`LearnWhenBlocked`: the ``("behaviour", "learn_when_blocked")`` component.

Model. A person refused a ticket learns of the restriction at the counter (debtors
commonly discover the ban when a ticket purchase is refused: the listing notice does not
always reach them). Each blocked attempt (``SystemView.blocked_today``) teaches its
person, with a probability, the classes that the policies bar on that kind
(``SystemView.barred_classes``): all the barred classes at once, since the refusal names
the restriction, not the seat. Where some class is still permitted (a rail ticket: a
second-class seat on a D- or C-series train, or an ordinary train's hard seat or
sleeper) the person switches to it (``switch_share`` per block); where none is (a flight)
the person stops trying (``give_up_share`` per block) or keeps trying, to be blocked
again. What is learnt is written as the classes avoided
(:mod:`sclab.engine.avoidance`), which the source reads when it draws the class of the
person's next attempts. A person listed before the run (a negative listing day) knew of
the restriction already with probability ``known_at_start``: the run starts in the
steady state of years of refusals, not with everyone about to discover the ban.

Forgetting: every ``recheck_days`` the people who learnt while they were listed and are
on no published list any more attempt every class again (a deleted debtor may fly). A
legal representative is barred for a listed company, not listed personally, and is not
told when the company is deleted: they try again ``memory_days`` after they learnt, and
learn again if still refused.

Each moment kind's avoided classes are owned by this component.

Cost model: O(blocks of the day + people who learnt) per day with a block (the learners
are merged into a sorted array); once, on the first day, one O(n) read of who is listed
(the warm start's debtors); every ``recheck_days`` O(people who learnt x lists). Memory:
one byte per person per kind once someone has learnt (the avoided classes), and 13 bytes
per person who learnt (id, day, whether listed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sclab.engine.avoidance import all_classes, avoid, forget
from sclab.engine.catalogue import Catalogue, KindError
from sclab.engine.registry import register

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


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
        0.3,
        ge=0,
        le=1,
        description="Per refused attempt on a kind with no permitted class (flights), the "
        "probability that the person stops trying. Calibrated (range 0.1-0.6): the SPC "
        "counted 17.46 million refused flight purchases for 12.88 million listings by "
        "end-2018, more than one refusal per listing, so many debtors try again; no "
        "published share was found.",
    )
    known_at_start: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Assumption (0.5-0.95): share of the people listed before the run "
        "who already avoid what is barred (refused before, or told by the notice).",
    )
    recheck_days: int = Field(
        30, ge=1, le=365, description="Days between checks of who is still listed (cost knob)."
    )
    memory_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="Assumption (180-730): days after which someone who learnt while not "
        "listed (a company's legal representative) tries the barred classes again.",
    )


@register("behaviour", "learn_when_blocked", LearnWhenBlockedParams)
class LearnWhenBlocked:
    """Refused travellers avoid the barred classes next time, or stop trying."""

    def __init__(self, name: str, params: LearnWhenBlockedParams) -> None:
        self.name, self.params = name, params
        #: Per kind: who learnt (sorted ids), on which day, and whether they were listed.
        self.learnt: dict[str, np.ndarray] = {}
        self._day: dict[str, np.ndarray] = {}
        self._own: dict[str, np.ndarray] = {}
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
            self._day[kind] = np.empty(0, np.int32)
            self._own[kind] = np.empty(0, bool)

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
        """Per refusal, the probability of learning: switching when a class is left."""
        full = bits == all_classes(len(self._classes[kind]))
        return self.params.give_up_share if full else self.params.switch_share

    def step(self, sim: Simulation, day: int) -> None:
        if not self._started:
            self._started = True
            self._known_at_start(sim)
        rng = sim.rng(self.name, day)
        for kind in self.params.kinds:
            people, _ = sim.view.blocked_today(kind)
            bits = self.barred_bits(sim, kind)
            if not len(people) or not bits:
                continue
            learn = np.unique(people[rng.random(len(people)) < self.share(kind, bits)])
            self._learn(sim, day, kind, learn, bits)
        if day > 0 and day % self.params.recheck_days == 0:
            self._forget(sim, day)

    def _learn(self, sim: Simulation, day: int, kind: str, people: np.ndarray, bits: int) -> None:
        """``people`` (sorted, unique) avoid ``bits`` of ``kind`` from now on."""
        if not len(people):
            return
        avoid(sim, kind, people, bits)
        old = ~np.isin(self.learnt[kind], people, assume_unique=True)
        ids = np.concatenate([self.learnt[kind][old], people])
        order = np.argsort(ids, kind="stable")
        self.learnt[kind] = ids[order]
        self._day[kind] = np.concatenate(
            [self._day[kind][old], np.full(len(people), day, np.int32)]
        )[order]
        self._own[kind] = np.concatenate([self._own[kind][old], sim.view.listed_of(people)])[order]

    def _known_at_start(self, sim: Simulation) -> None:
        """People listed before the run avoid what is barred with ``known_at_start``."""
        listed = np.flatnonzero(sim.view.listed)
        if not len(listed):
            return
        before = listed[sim.view.listed_since_of(listed) < 0]
        rng = sim.rng(f"{self.name}/known_at_start")
        knew = before[rng.random(len(before)) < self.params.known_at_start]
        for kind in self.params.kinds:
            bits = self.barred_bits(sim, kind)
            if bits:
                # Knowing is not yet giving up: of those who know, the kind's share acts
                # on it, as at a refusal.
                acts = knew[rng.random(len(knew)) < self.share(kind, bits)]
                self._learn(sim, 0, kind, acts, bits)

    def _forget(self, sim: Simulation, day: int) -> None:
        """Those deleted from their list, and those past ``memory_days`` who learnt while
        not listed, try every class again."""
        for kind, people in self.learnt.items():
            if not len(people):
                continue
            own = self._own[kind]
            gone = np.where(
                own,
                ~sim.view.listed_of(people),
                day - self._day[kind] >= self.params.memory_days,
            )
            forget(sim, kind, people[gone])
            self.learnt[kind] = people[~gone]
            self._day[kind] = self._day[kind][~gone]
            self._own[kind] = own[~gone]

    def finish(self, sim: Simulation) -> None:
        pass
