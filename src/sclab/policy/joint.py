"""Joint punishment and reward: deciding resource moments from lists, grades and scores.

Core object:
    :class:`JointMeasures`: for each resource moment of the day (a ticket, a booking, an
        application), finds the measures that apply to whose record (the actor's own, a
        parent's for a child's school place, a represented company's for its legal
        representative, or a tie's), sets the moment's outcome (blocked beats priced up
        beats favoured; price factors multiply across systems) and writes one decision row
        per affected moment, carrying the triggering entry's event and ``wrongful`` flag.
        A measure naming ``classes`` decides only the attempts of those classes (a
        G-series seat, a first-class seat on another bullet train); the others pass.
        Each block is reported to the :class:`~sclab.engine.feedback.SystemView`
        (``blocked``: who, on which kind and class), whence behaviour learns it.

Cost model: O(moments of the kinds a measure names), plus O(companies) a day for
legal-representative measures and O(sum of the actors' degrees) for tie measures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.acts import ALLOWED, BLOCKED, FAVOURED, PRICED_UP, Moments
from sclab.engine.feedback import SystemView
from sclab.policy.lists import Lists
from sclab.policy.provenance import Provenance
from sclab.policy.rows import Rows
from sclab.policy.schema import JointMeasure, Trigger
from sclab.policy.scores import Scores
from sclab.policy.today import Today

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


class JointMeasures:
    """Decides resource moments by the measures ``joint``, on the records of ``lists`` and
    ``scores`` of the participants ``members`` (by entity type)."""

    def __init__(
        self,
        joint: Sequence[JointMeasure],
        members: dict[str, np.ndarray],
        lists: Lists,
        scores: Scores,
        provenance: Provenance,
        rows: Rows,
        system: str = "",
    ) -> None:
        self.joint = list(joint)
        self.system = system
        self.members = members
        self.lists = lists
        self.scores = scores
        self.provenance = provenance
        self.rows = rows
        #: The day and, per trigger (by its text: measures on the same list share it), the
        #: legal representatives it triggers that day.
        self._represented_today: tuple[int, dict[str, tuple[np.ndarray, ...]]] | None = None
        self._trigger_text: dict[int, str] = {}
        self._by_kind: dict[str, list[JointMeasure]] = {}  # see _measures

    def publish(self, view: SystemView) -> None:
        """Tell behaviour which classes of which moment kinds the measures block."""
        for j in self.joint:
            if j.effect == "blocked":
                for kind in j.moments:
                    view.bar(kind, j.classes)

    def decide(self, today: Today, moments: Sequence[Moments]) -> None:
        """Decide the day's resource moments, batch after batch."""
        for m in moments:
            self._decide(today, m)

    def _measures(self, kind: str) -> list[JointMeasure]:
        """The measures on moments of ``kind``, blocks first, then prices, then rewards."""
        measures = self._by_kind.get(kind)
        if measures is None:
            order = {"blocked": 0, "priced_up": 1, "favoured": 2}
            mine = [j for j in self.joint if kind in j.moments]
            measures = self._by_kind[kind] = sorted(mine, key=lambda x: order[x.effect])
        return measures

    def _decide(self, today: Today, m: Moments) -> None:
        # Measures with the same trigger and target on this batch (a list's measures on
        # several classes of one kind) share one lookup: it reads no outcome.
        found: dict[tuple[str, str], tuple[np.ndarray, ...]] = {}
        for j in self._measures(m.kind):
            named = self._named_classes(j, m)
            for target in j.applies_to:
                key = (self._text(j.when), target)
                if key not in found:
                    found[key] = self._hits(today, j, target, m)
                hit, entity, event, bad = found[key]
                # Every attempt the trigger holds for is watched, those of the classes a
                # measure permits too (a listed person buying a second-class D seat).
                m.watch(hit)
                # A list holds few of the day's actors: the rest of the work is on the
                # moments the trigger holds for, not on the batch.
                idx = np.flatnonzero(hit)
                if named is not None and len(idx):
                    # A measure on some classes decides the attempts of those classes only.
                    idx = idx[named[m.cls[idx]]] if m.cls is not None else idx[:0]
                idx = idx[m.outcome[idx] != BLOCKED]  # an earlier block stands
                if not len(idx):
                    continue
                entity, event, bad = entity[idx], event[idx], bad[idx]
                if j.effect == "blocked":
                    m.outcome[idx] = BLOCKED
                    kind = "blocked"
                    today.sim.view.blocked(
                        m.kind, m.actor[idx], None if m.cls is None else m.cls[idx]
                    )
                elif j.effect == "priced_up":
                    m.outcome[idx] = PRICED_UP
                    m.price_factor[idx] *= j.price_factor
                    kind = "priced_up"
                else:
                    fav = idx[m.outcome[idx] == ALLOWED]
                    m.outcome[fav] = FAVOURED
                    m.price_factor[idx] *= j.price_factor
                    kind = "reward"
                m.decided_by.append(f"{self.rows.system}:{j.id}")
                self.rows.sanction(
                    today, entity, domain=m.kind, kind=kind, rule_id=j.id,
                    event_id=event, wrongful=bad & (kind != "reward"),
                    entity_type=m.entity_type if target != "parent" else "person",
                )  # fmt: skip

    @staticmethod
    def _named_classes(j: JointMeasure, m: Moments) -> np.ndarray | None:
        """Per class code (uint8), whether ``j`` names the class (None: ``j`` names none,
        so it decides every attempt)."""
        if not j.classes:
            return None
        named = np.zeros(256, bool)
        if m.classes:
            named[[m.classes.index(c) for c in j.classes if c in m.classes]] = True
        return named

    def _hits(
        self, today: Today, j: JointMeasure, target: str, m: Moments
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each moment: does the measure apply, to whom, on which event, wrongfully?"""
        sim = today.sim
        n = len(m)
        actor = m.actor
        entity = actor  # read only: whom each decision row names
        trig_type = self._trigger_entity(j.when)
        if target == "self":
            if trig_type != m.entity_type:
                return np.zeros(n, bool), entity, np.full(n, -1, np.int64), np.zeros(n, bool)
            subject = actor
        elif target == "parent":
            # The child's school place is decided on the parent's record (the actor).
            if m.kind != "school_place" or trig_type != "person":
                return np.zeros(n, bool), entity, np.full(n, -1, np.int64), np.zeros(n, bool)
            if m.beneficiary is not None:
                entity = m.beneficiary
            subject = actor
        elif target == "legal_representative":
            if trig_type != "company" or m.entity_type != "person":
                return np.zeros(n, bool), entity, np.full(n, -1, np.int64), np.zeros(n, bool)
            hit, event, bad = self._represented(today, j.when, actor)
            return hit, entity, event, bad
        else:  # ties
            if trig_type != "person" or m.entity_type != "person":
                return np.zeros(n, bool), entity, np.full(n, -1, np.int64), np.zeros(n, bool)
            return (*self._tie_hits(sim, j.when, actor, entity),)
        hit, event, bad = self._trigger(j.when, subject)
        # Only participants are scored and listed; their moments are the ones decided.
        # Looked up where the trigger holds only: a list holds few of the day's actors,
        # and every lookup in a table of everyone is a cache miss.
        at = np.flatnonzero(hit)
        hit[at] = self.members[trig_type][subject[at]]
        return hit, entity, event, bad

    def _trigger_entity(self, t: Trigger) -> str:
        if t.on_list is not None:
            return self.lists.entity_of(t.on_list)
        sid = t.score
        if sid is None:
            for _, s in self.scores.items():
                if any(g.name in t.grade for g in s.spec.grades):
                    return s.spec.entity
            return "person"
        return self.scores.entity_of(sid)

    def _trigger(
        self, t: Trigger, subject: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per subject: does ``t`` hold, on which event (-1: none), wrongfully?

        Whether it holds is one gather per subject; the event and the wrongful flag are
        looked up for the subjects it holds for only (most moments meet no measure).
        """
        n = len(subject)
        event = np.full(n, -1, np.int64)
        bad = np.zeros(n, bool)
        if t.on_list is not None:
            book = self.lists.book(t.on_list)
            slot = book.slot[subject]
            hit = slot >= 0
            at = np.flatnonzero(hit)
            if len(at):
                event[at] = book.event[slot[at]]
                bad[at] = book.wrongful[slot[at]]
            return hit, event, bad
        if t.grade:
            for sid, s in self.scores.items():
                names = [g.name for g in s.spec.grades]
                if all(g in names for g in t.grade):
                    target = np.array([names.index(g) for g in t.grade])
                    in_grade = np.zeros(256, bool)  # grades are uint8
                    in_grade[target] = True
                    hit = in_grade[s.grade[subject]]
                    # Unscored entities sit in the lowest grade: never a hit (their score
                    # is looked up where the grade matches only).
                    at = np.flatnonzero(hit)
                    hit[at] = ~np.isnan(s.value[subject[at]])
                    at = at[hit[at]]
                    if len(at):
                        who = subject[at]
                        bad[at] = self.provenance.grade_wrongful(sid, who, target)
                        event[at] = self.provenance.last_event(sid, who)
                    return hit, event, bad
            return np.zeros(n, bool), event, bad
        assert t.score is not None
        s = self.scores.state(t.score)
        value = s.value[subject]
        # NaN (not taking part) compares False either way: never a hit.
        hit = value < t.below if t.below is not None else value >= (t.at_least or 0)
        at = np.flatnonzero(hit)
        if len(at):
            who = subject[at]
            if t.below is not None:
                bad[at] = self.provenance.score_wrongful(t.score, who, t.below)
            event[at] = self.provenance.last_event(t.score, who)
        return hit, event, bad

    def _represented(
        self, today: Today, t: Trigger, person: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Every company's trigger, once a day per trigger: the day's moment batches of
        # each kind ask again, and nothing a trigger reads changes while moments are
        # decided.
        cache = self._represented_today
        if cache is None or cache[0] != today.day:
            cache = self._represented_today = (today.day, {})
        key = self._text(t)
        found = cache[1].get(key)
        if found is None:
            found = cache[1][key] = self._representatives(today.sim, t)
        reps, event, wrongful = found
        return representatives_among(reps, event, wrongful, person)

    def _text(self, t: Trigger) -> str:
        """The text of a trigger, by which measures on the same list or grade share it.

        A pydantic repr, made once per trigger: the policy holds its triggers for the
        whole run."""
        key = self._trigger_text.get(id(t))
        if key is None:
            key = self._trigger_text[id(t)] = repr(t)
        return key

    def _representatives(self, sim: Simulation, t: Trigger) -> tuple[np.ndarray, ...]:
        """Legal representatives of the companies ``t`` triggers (sorted, distinct), with
        the event of their first such company and whether all of them are wrongful:
        companies here, then (in a region of several cities) companies of other cities on
        the same list as of yesterday."""
        companies = sim.population.companies
        # A list's trigger holds for its members only: look up those, not every company.
        who = (
            np.flatnonzero(self.lists.book(t.on_list).listed)
            if t.on_list is not None
            else np.arange(len(companies))
        )
        hit_c, event_c, bad_c = self._trigger(t, who)
        reps = companies.legal_rep[who[hit_c]].astype(np.int64)
        event, bad = event_c[hit_c], bad_c[hit_c]
        here = reps >= 0  # a company represented from another city has nobody here
        reps, event, bad = reps[here], event[here], bad[here]
        elsewhere = (
            None if t.on_list is None else sim.view.listed_elsewhere(f"{self.system}.{t.on_list}")
        )
        if elsewhere is not None and len(elsewhere.person):
            reps = np.concatenate([reps, elsewhere.person])
            event = np.concatenate([event, elsewhere.event])
            bad = np.concatenate([bad, elsewhere.wrongful])
        return one_per_representative(reps, event, bad)

    def _tie_hits(
        self, sim: Simulation, t: Trigger, actor: np.ndarray, entity: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        g = sim.population.graph
        starts, ends = g.indptr[actor], g.indptr[actor + 1]
        deg = (ends - starts).astype(np.int64)
        owner = np.repeat(np.arange(len(actor)), deg)
        pos = np.repeat(starts - np.r_[0, np.cumsum(deg)[:-1]], deg) + np.arange(deg.sum())
        nb = g.indices[pos].astype(np.int64)
        if sim.ties_active is not None:
            keep = sim.ties_active[pos]
            nb, owner = nb[keep], owner[keep]
        hit_nb, ev_nb, bad_nb = self._trigger(t, nb)
        n = len(actor)
        hit = np.zeros(n, bool)
        hit[owner[hit_nb]] = True
        event = np.full(n, -1, np.int64)
        event[owner[hit_nb]] = ev_nb[hit_nb]
        bad = np.zeros(n, bool)
        bad[owner[hit_nb & bad_nb]] = True
        return hit, entity, event, bad


def one_per_representative(
    reps: np.ndarray, event: np.ndarray, wrongful: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The triggering companies' (representative, event, wrongful) rows, one per
    representative, sorted: the event of their first company in the given order, and
    wrongful only if every listing behind the representative is (one rightful listing
    is reason enough for the measure)."""
    order = np.argsort(reps, kind="stable")
    reps, event, wrongful = reps[order], event[order], wrongful[order]
    if not len(reps):
        return reps, event, wrongful
    starts = np.flatnonzero(np.r_[True, reps[1:] != reps[:-1]])
    return reps[starts], event[starts], np.logical_and.reduceat(wrongful, starts)


def representatives_among(
    reps: np.ndarray, event: np.ndarray, wrongful: np.ndarray, person: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per attempt by ``person``: is the person one of ``reps`` (sorted, distinct), on
    which event (-1: none), wrongfully?"""
    n = len(person)
    if not len(reps):
        return np.zeros(n, bool), np.full(n, -1, np.int64), np.zeros(n, bool)
    if n > 8 * len(reps) and not (person[1:] < person[:-1]).any():
        # Attempts in actor order (a source's draws are) and far fewer representatives
        # than attempts (a day's rail tickets are tens of thousands, the representatives
        # of listed companies a few thousand): each representative is searched among the
        # attempts, instead of each attempt among the representatives.
        first = np.searchsorted(person, reps)
        count = np.searchsorted(person, reps, side="right") - first
        rows = np.flatnonzero(count)
        count = count[rows]
        which = np.repeat(rows, count)  # the representative of each hit, in order
        at = np.arange(len(which)) + np.repeat(first[rows] - (np.cumsum(count) - count), count)
        hit = np.zeros(n, bool)
        hit[at] = True
        found = np.full(n, -1, np.int64)
        found[at] = event[which]
        bad = np.zeros(n, bool)
        bad[at] = wrongful[which]
        return hit, found, bad
    pos = np.minimum(np.searchsorted(reps, person), len(reps) - 1)
    hit = reps[pos] == person
    return hit, np.where(hit, event[pos], -1), hit & wrongful[pos]
