"""What each rule of a policy decides, on what, and where its effects reach.

Core objects:
    :class:`Evidence`: one thing a decision rests on: a recorded event kind, a platform or
        post total, a citizen attribute, or the scores of a person's ties, with the facts
        the clauses turn on (domain, lawful, biometric, real-time, minor, whether more or
        less of it can lower the standing).
    :class:`Decision`: one row of the verdict tables: a rule, a points delta (on recorded
        events, or on another system's list: ``list_deltas``) or a joint measure, with the
        evidence it rests on, its effects, the contexts they reach, whom it treats and its
        stated legal basis and human review.
    :func:`decisions`: the decisions of a policy, read against a catalogue of kinds and
        the other policies whose lists it reads.

A rule's reach follows the policy's own references: a rule that lists an entity reaches
the joint measures on that list (a listing means its measures). A points delta for an
entry on another system's list rests on what puts entities on that list (the publishing
policy's listing rules, when it is among the policies given; otherwise on the list alone,
whose facts are unknown). A score change is one
contribution to a score among many: the measures on the score and its grades are judged
on their own rows, with everything the score rests on. The facts of kinds come from the
catalogue (:mod:`sclab.engine.catalogue`), so a verdict rests on what the run's
components declare, never on a kind's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sclab.engine.catalogue import Catalogue
from sclab.legal.clauses import MINOR_CONDUCT
from sclab.policy.schema import (
    EventFilter,
    FactorScore,
    HumanReview,
    JointMeasure,
    ListDelta,
    ListSpec,
    PointsDelta,
    PointsScore,
    Policy,
    Rule,
)

#: The domain of data that is not conduct: attributes, and the scores of one's ties.
CHARACTERISTICS = "characteristics"
RELATIONSHIPS = "relationships"
#: Attributes whose context is a catalogue domain (the income decile is financial).
ATTRIBUTE_DOMAINS = {"income_decile": "finance"}

#: Effects that treat the entity detrimentally (a score falling, a blacklisting...).
DETRIMENTAL = frozenset(
    {"blocked", "priced_up", "public_display", "downgrade", "warning", "blacklist", "score_down"}
)
#: Effects with legal or similarly significant effect (GDPR Art. 22).
SIGNIFICANT = frozenset({"blocked", "priced_up", "public_display", "downgrade", "blacklist"})


@dataclass(frozen=True)
class Evidence:
    """One thing a decision rests on.

    Attributes:
        name: The kind, ``attribute:<name>`` or ``ties``.
        domain: The catalogue domain, ``characteristics``, ``relationships``, or None for
            a kind the catalogue lacks.
        lawful: The catalogue's ``lawful`` (attributes and ties: True, they are no duty
            broken); None if unknown.
        biometric: A record made by matching a face.
        realtime: Matched as the act happens.
        minor: The act is in :data:`~sclab.legal.clauses.MINOR_CONDUCT`.
        lowers: More (or for a positively weighted factor input, less) of it can lower the
            entity's standing: a negative points delta does, a positive one does not.
    """

    name: str
    domain: str | None
    lawful: bool | None
    biometric: bool = False
    realtime: bool = False
    minor: bool = False
    lowers: bool = True


@dataclass(frozen=True)
class Decision:
    """One rule, points delta or joint measure, as the clauses see it."""

    policy: Policy
    rule_id: str
    part: str  # "rule", "points" or "joint"
    entity: str  # whose records the decision reads: person or company
    treated: tuple[str, ...]  # whose standing or moments: self, parent, ties...
    evidence: tuple[Evidence, ...]
    over_time: bool  # rests on a counter, score or grade, not on single records
    effects: frozenset[str]
    contexts: tuple[str, ...]  # catalogue domains of the moments its effects reach
    lists: tuple[ListSpec, ...]  # the lists it enters
    legal_basis: str | None
    human_review: HumanReview | None
    on_list: ListSpec | None = None  # a joint measure's triggering list

    @property
    def detrimental(self) -> bool:
        return bool(self.effects & DETRIMENTAL)

    @property
    def significant(self) -> bool:
        return bool(self.effects & SIGNIFICANT)

    @property
    def treats_people(self) -> bool:
        """Natural persons bear the effect: a person's own records, or a company's
        legal representative (or any linked person)."""
        return self.entity == "person" or any(t != "self" for t in self.treated)

    def lowering(self) -> list[Evidence]:
        return [e for e in self.evidence if e.lowers]


def decisions(
    policy: Policy, catalogue: Catalogue, others: Sequence[Policy] = ()
) -> list[Decision]:
    """The decisions of ``policy``: its rules, then its points deltas (each score's deltas
    on events, then its list deltas), then its joint measures, in the order written.
    ``others``: policies whose public lists ``policy`` may read (``list_deltas``)."""
    reader = _Reader(policy, catalogue, others)
    out = [reader.rule(r) for r in policy.rules]
    for s in policy.scores:
        if isinstance(s, PointsScore):
            for d in s.deltas:
                out.append(reader.delta(s, d.rule_id or f"{s.id}:{d.events.kinds[0]}", d))
            for ld in s.list_deltas:
                out.append(reader.list_delta(s, ld.rule_id or f"{s.id}:{ld.listed_on}", ld))
    out += [reader.joint(m) for m in policy.joint]
    return out


class _Reader:
    """Follows a policy's references to the evidence and the reach of each decision."""

    def __init__(self, policy: Policy, catalogue: Catalogue, others: Sequence[Policy] = ()) -> None:
        self.policy = policy
        self.catalogue = catalogue
        # Public lists of the other policies, by the name a list delta reads them by.
        self.published = {
            f"{o.system_name}.{x.id}": (o, x.id)
            for o in others
            if o.id != policy.id
            for x in o.lists
            if x.public
        }
        self.counters = {c.id: c for c in policy.counters}
        self.scores = {s.id: s for s in policy.scores}
        self.lists = {x.id: x for x in policy.lists}
        self.grade_of = {g.name: s.id for s in policy.scores for g in s.grades}

    # -- evidence ------------------------------------------------------------------------

    def _kind(self, name: str, category: str, lowers: bool) -> Evidence:
        kind = self.catalogue.get(name, category)
        if kind is None:
            return Evidence(name, None, None, lowers=lowers)
        act = self.catalogue.act_of(name) if category == "event" else name
        return Evidence(
            name,
            kind.domain,
            kind.lawful,
            kind.biometric,
            kind.realtime,
            minor=act in MINOR_CONDUCT,
            lowers=lowers,
        )

    def _events(self, f: EventFilter, lowers: bool = True) -> list[Evidence]:
        return [self._kind(k, "event", lowers) for k in f.kinds]

    def score_evidence(self, score_id: str) -> list[Evidence]:
        score = self.scores[score_id]
        if isinstance(score, PointsScore):
            events = [e for d in score.deltas for e in self._events(d.events, d.delta < 0)]
            return events + [e for d in score.list_deltas for e in self.listed_evidence(d)]
        assert isinstance(score, FactorScore)
        out: list[Evidence] = []
        for factor in score.factors:
            for inp in factor.inputs:
                # Any input can lower a factor score: a negative weight by having more of
                # it, a positive one by having less than others.
                if inp.source == "events" and inp.events is not None:
                    out += self._events(inp.events)
                elif inp.source in ("platform", "posts") and inp.kind is not None:
                    out.append(self._kind(inp.kind, "act", True))
                elif inp.source == "attribute":
                    name = str(inp.attribute)
                    domain = ATTRIBUTE_DOMAINS.get(name, CHARACTERISTICS)
                    out.append(Evidence(f"attribute:{name}", domain, True))
                elif inp.source == "ties":
                    out.append(Evidence("ties", RELATIONSHIPS, True))
        return out

    def listed_evidence(self, d: ListDelta) -> list[Evidence]:
        """What a list delta rests on: what puts entities on the other system's list (its
        publishing policy's listing rules), or, that policy not given, the list itself
        with unknown facts (domain None)."""
        found = self.published.get(d.listed_on)
        if found is None:
            return [Evidence(f"list {d.listed_on}", None, None, lowers=d.delta < 0)]
        other, list_id = found
        evidence, _ = _Reader(other, self.catalogue).list_evidence(list_id)
        return [replace(e, lowers=d.delta < 0) for e in evidence]

    def list_evidence(self, list_id: str) -> tuple[list[Evidence], bool]:
        """What puts entities on a list, and whether any of it is an evaluation over time."""
        out: list[Evidence] = []
        over_time = False
        for r in self.policy.rules:
            if any(e.list is not None and e.list.list == list_id for e in r.effects):
                evidence, timed = self.condition(r)
                out += evidence
                over_time = over_time or timed
        return out, over_time

    def condition(self, rule: Rule) -> tuple[list[Evidence], bool]:
        when = rule.when
        if when.events is not None:
            return self._events(when.events), False
        if when.counter is not None:
            return self._events(self.counters[when.counter].events), True
        score = when.score or self.grade_of[when.grade[0]]
        return self.score_evidence(score), True

    # -- reach -----------------------------------------------------------------------------

    def measures_on_list(self, list_id: str) -> list[JointMeasure]:
        return [m for m in self.policy.joint if m.when.on_list == list_id]

    def measures_on_score(self, score_id: str) -> list[JointMeasure]:
        return [
            m
            for m in self.policy.joint
            if m.when.score == score_id or any(self.grade_of[g] == score_id for g in m.when.grade)
        ]

    def moment_domains(self, measures: list[JointMeasure]) -> list[str]:
        out = []
        for m in measures:
            if m.effect == "favoured":
                continue
            for moment in m.moments:
                kind = self.catalogue.get(moment, "moment")
                out.append(kind.domain if kind is not None else "unknown")
        return out

    def stated(
        self, legal_basis: str | None, review: HumanReview | None
    ) -> tuple[str | None, HumanReview | None]:
        """A rule's or measure's own legal basis and review, else the policy's."""
        return legal_basis or self.policy.legal_basis, review or self.policy.human_review

    def rule(self, rule: Rule) -> Decision:
        evidence, over_time = self.condition(rule)
        basis, review = self.stated(rule.legal_basis, rule.human_review)
        effects: set[str] = set()
        reached: list[JointMeasure] = []
        lists: list[ListSpec] = []
        entity = "person"
        if rule.when.events is not None:
            kinds = [self.catalogue.get(k, "event") for k in rule.when.events.kinds]
            if kinds and all(k is not None and k.entity == "company" for k in kinds):
                entity = "company"
        elif rule.when.counter is not None:
            entity = self.counters[rule.when.counter].entity
        elif rule.when.score is not None or rule.when.grade:
            entity = self.scores[rule.when.score or self.grade_of[rule.when.grade[0]]].entity
        for eff in rule.effects:
            if eff.sanction is not None:
                effects.add(eff.sanction.kind)
            elif eff.list is not None:
                spec = self.lists[eff.list.list]
                lists.append(spec)
                entity = spec.entity
                effects.add(spec.kind)
                reached += self.measures_on_list(spec.id)
            elif eff.score_delta is not None:
                # One contribution to a score: the measures on the score are judged on
                # their own rows, with everything the score rests on.
                effects.add("score_down" if eff.score_delta.delta < 0 else "score_up")
        effects |= {m.effect for m in reached}
        return Decision(
            policy=self.policy,
            rule_id=rule.id,
            part="rule",
            entity=entity,
            treated=tuple(sorted({t for m in reached for t in m.applies_to} | {"self"})),
            evidence=tuple(evidence),
            over_time=over_time,
            effects=frozenset(effects),
            contexts=tuple(sorted(set(self.moment_domains(reached)))),
            lists=tuple(lists),
            legal_basis=basis,
            human_review=review,
        )

    def delta(self, score: PointsScore, rule_id: str, d: PointsDelta) -> Decision:
        # Like a rule's score change: the measures on the score have their own rows.
        return self._points(score, rule_id, tuple(self._events(d.events, d.delta < 0)), d.delta)

    def list_delta(self, score: PointsScore, rule_id: str, d: ListDelta) -> Decision:
        # A score change like an event delta's, resting on the conduct behind the listing.
        return self._points(score, rule_id, tuple(self.listed_evidence(d)), d.delta)

    def _points(
        self, score: PointsScore, rule_id: str, evidence: tuple[Evidence, ...], delta: float
    ) -> Decision:
        """A points change of ``delta`` resting on ``evidence``."""
        basis, review = self.stated(None, None)
        return Decision(
            policy=self.policy,
            rule_id=rule_id,
            part="points",
            entity=score.entity,
            treated=("self",),
            evidence=evidence,
            over_time=True,
            effects=frozenset({"score_down" if delta < 0 else "score_up"}),
            contexts=(),
            lists=(),
            legal_basis=basis,
            human_review=review,
        )

    def joint(self, m: JointMeasure) -> Decision:
        basis, review = self.stated(m.legal_basis, m.human_review)
        if m.when.on_list is not None:
            evidence, over_time = self.list_evidence(m.when.on_list)
            entity = self.lists[m.when.on_list].entity
        else:
            score = m.when.score or self.grade_of[m.when.grade[0]]
            evidence, over_time = self.score_evidence(score), True
            entity = self.scores[score].entity
        return Decision(
            policy=self.policy,
            rule_id=m.id,
            part="joint",
            entity=entity,
            treated=tuple(m.applies_to),
            evidence=tuple(evidence),
            over_time=over_time,
            effects=frozenset({m.effect}),
            contexts=tuple(sorted(set(self.moment_domains([m])))),
            lists=(),
            legal_basis=basis,
            human_review=review,
            on_list=self.lists[m.when.on_list] if m.when.on_list is not None else None,
        )
