"""The policy language: scoring systems as data.

Core objects:
    :class:`Policy`: one policy file (a "pack"): who takes part, what is counted and scored,
        which lists exist, which rules turn records into decisions, which joint punishments
        and rewards follow, and what due process there is.
    :class:`EventFilter`: which recorded events a counter, score or rule consumes.
    :class:`Counter`, :class:`PointsScore`, :class:`FactorScore`: what is tallied per entity.
    :class:`ListSpec`: a blacklist or redlist with grounds, terms, extension and deletion.
    :class:`Rule`: a condition on records, counters, scores or grades, and its effects.
    :class:`JointMeasure`: which list, grade or score band blocks, prices or favours which
        resource moment, for the entity itself or for linked entities.
    :class:`DueProcess`: notice, objection, review, appeal and credit repair.

Policies are validated, then compiled to array operations (``sclab.policy.engine``); they
are never evaluated as code. Every cross-reference (a rule naming a counter, a measure
naming a grade) is checked here, so that a typo is an error with its line, not a silent
no-op. The names of what can happen (event, moment and platform kinds, sources,
attributes) depend on the components that run, not on the schema: they are checked in a
separate step against the catalogue (:mod:`sclab.policy.vocabulary`).
``docs/policies.md`` explains each construct with examples.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

Share = Annotated[float, Field(ge=0.0, le=1.0)]
#: Scores, points and their bounds. Scores are held as float32, whose integers are exact up
#: to 2**24 (16.7M) and whose steps are 1/16 at a million: a million points either way
#: leaves every published scale (Sesame 350-950, Rongcheng's 1,000 base) far inside and
#: a fractional delta still visible. Infinities and NaN are refused everywhere (Strict).
Points = Annotated[float, Field(ge=-1e6, le=1e6)]
#: Weights of factor inputs: relative, so any finite size works; bounded like Points.
Weight = Annotated[float, Field(ge=-1e6, le=1e6)]
Ident = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
EntityType = Literal["person", "company"]

#: Who looks at a decision before or after it takes effect (``sclab.legal``, GDPR Art. 22):
#: ``none`` (solely automated, no route to a person), ``on_objection`` (automated; a person
#: looks when the entity objects), ``before`` (a person reviews each decision before it
#: takes effect). Omitted means not stated, and a verdict that needs it says "needs review".
HumanReview = Literal["none", "on_objection", "before"]
#: What a policy is for, as its operator states it: ``law_enforcement`` (police and the
#: punishment of offences), ``judicial_enforcement`` (enforcing court judgments),
#: ``administration`` (other public authorities), ``commercial`` (a private company's
#: service). Omitted means not stated.
Purpose = Literal["law_enforcement", "judicial_enforcement", "administration", "commercial"]
#: The law or regulation a rule or measure rests on, cited in one string. Omitted (or
#: null) means none is stated: metadata only, never read by the simulation.
LegalBasis = Annotated[str, Field(min_length=1, max_length=600)]


class FieldError(ValueError):
    """A validation error that knows which field (below the model) it is about.

    ``sclab.yamlfile.validate`` appends ``loc`` to the model's location, so that a
    cross-reference error points at the referencing field's line, not at the top of the file.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.loc = loc


class Strict(BaseModel):
    # allow_inf_nan=False: an infinite delta turns scores into NaN, and a NaN compares
    # false with every grade bound, so it would silently land in the top grade.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EventFilter(Strict):
    """Which recorded events count. All given conditions must hold."""

    kinds: list[Ident] = Field(min_length=1, description="Recorded event kinds.")
    sources: list[Ident] = Field(default_factory=list, description="Only from these sources.")
    min_amount: float | None = Field(
        None, ge=0, le=1e12, description="Only events of at least this sum."
    )
    grounds: list[int] = Field(
        default_factory=list, description="Court non-performance grounds (1-6) that qualify."
    )
    min_match_score: float | None = Field(
        None, ge=0, le=1, description="Only records linked with at least this confidence."
    )


class Counter(Strict):
    """Recorded events per entity over a sliding window (e.g. identified jaywalks in 365 days)."""

    id: Ident
    entity: EntityType = "person"
    events: EventFilter
    window_days: int = Field(ge=1, le=3650)


class Grade(Strict):
    """A grade band: the grade applies from ``min`` (inclusive) up to the next grade's min."""

    name: Annotated[str, Field(min_length=1, max_length=20)]
    min: Points | None = Field(None, description="Lower bound; omit for the lowest grade.")


class PointsDelta(Strict):
    """Points added (or deducted, if negative) for each matching recorded event."""

    events: EventFilter
    delta: Points
    rule_id: Ident | None = Field(None, description="Defaults to '<score id>:<first kind>'.")
    grade_cap: Annotated[str, Field(min_length=1, max_length=20)] | None = Field(
        None,
        description="A grade of the score: the record puts the entity directly in this "
        "grade or below it (the score drops at once to at most one point below the next "
        "higher grade's min, then by delta for any further record). Needs a delta <= 0 and "
        "a grade with a grade above it.",
    )


#: A list another policy of the run publishes, named ``<system>.<list id>`` (e.g.
#: ``court-defaulters.dishonest_debtors``). Which lists exist depends on the run's
#: policies: a reference is checked against them before the run
#: (:func:`sclab.policy.vocabulary.check_list_references`).
ListRef = Annotated[
    str, Field(min_length=3, max_length=121, pattern=r"^[a-z0-9][a-z0-9_.-]*\.[a-z0-9_-]+$")
]


class ListDelta(Strict):
    """Points added (or deducted) once for each entry another system makes on a public list
    it publishes (``listed_on``), read as of the end of the previous day."""

    listed_on: ListRef
    delta: Points
    rule_id: Ident | None = Field(None, description="Defaults to '<score id>:<list>'.")


class PointsScore(Strict):
    """Points with a base, deltas per recorded event and grade bands (Rongcheng style)."""

    id: Ident
    type: Literal["points"]
    entity: EntityType = "person"
    base: Points
    minimum: Points | None = None
    maximum: Points | None = None
    deltas: list[PointsDelta] = Field(min_length=1)
    list_deltas: list[ListDelta] = Field(
        default_factory=list, description="Deltas for entries on other systems' public lists."
    )
    grades: list[Grade] = Field(default_factory=list)
    restore_after_days: int | None = Field(
        None, ge=1, le=3650, description="A deduction lapses after this many days (credit repair)."
    )

    @model_validator(mode="after")
    def _grades_ordered(self) -> PointsScore:
        _check_grades(self.grades)
        names = [g.name for g in self.grades]
        for j, d in enumerate(self.deltas):
            if d.grade_cap is None:
                continue
            loc = ("deltas", j, "grade_cap")
            if d.grade_cap not in names:
                have = ", ".join(names) or "none defined"
                raise FieldError(
                    f"grade_cap names unknown grade '{d.grade_cap}' (grades: {have})", loc
                )
            if names.index(d.grade_cap) == 0:
                raise FieldError(
                    f"grade_cap '{d.grade_cap}' is the top grade: it has no upper bound to cap at",
                    loc,
                )
            if d.delta > 0:
                raise FieldError("grade_cap needs a delta of 0 or less (a deduction)", loc)
        return self


class FactorInput(Strict):
    """One input of a factor, scaled to [0, 1] before weighting.

    ``from`` says where the input comes from:
        ``events``: recorded events of ``events.kinds`` per entity over ``window_days``;
        ``platform``: the scorer's own platform totals (e.g. purchases by category), which a
            payment platform observes directly, decayed with ``half_life_days``;
        ``attribute``: a population attribute (e.g. ``smartphone``, ``income_decile``);
        ``ties``: the mean score of the entity's (active) ties;
        ``posts``: platform counts of posts of a stance, decayed with ``half_life_days``;
        ``list``: 1 while the entity is on ``listed_on``, a public list another system of
            the run publishes (as of the end of the previous day), else 0.
    """

    source: Literal["events", "platform", "attribute", "ties", "posts", "list"] = Field(
        alias="from"
    )
    events: EventFilter | None = None
    kind: str | None = Field(None, description="platform/posts kind, e.g. purchase_books.")
    attribute: str | None = None
    listed_on: ListRef | None = None
    window_days: int | None = Field(None, ge=1, le=3650)
    half_life_days: float | None = Field(None, gt=0, le=3650)
    saturation: float = Field(
        1.0, gt=0, le=1e6, description="Counts are mapped to [0, 1] as 1 - exp(-count/saturation)."
    )
    weight: Weight = Field(1.0, description="Negative: more of it lowers the factor.")

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _complete(self) -> FactorInput:
        needs = {
            "events": ("events", "window_days"),
            "platform": ("kind", "half_life_days"),
            "posts": ("kind", "half_life_days"),
            "attribute": ("attribute",),
            "ties": (),
            "list": ("listed_on",),
        }[self.source]
        missing = [f for f in needs if getattr(self, f) is None]
        if missing:
            raise ValueError(f"an input from '{self.source}' needs {', '.join(missing)}")
        return self


class Factor(Strict):
    """A named factor: the weighted mean of its inputs, in [0, 1]."""

    name: Ident
    weight: Weight = Field(gt=0)
    inputs: list[FactorInput] = Field(min_length=1)


class FactorScore(Strict):
    """A factor-weighted score on a range (Sesame style), recomputed periodically."""

    id: Ident
    type: Literal["factors"]
    entity: EntityType = "person"
    range: tuple[Points, Points]
    update_every_days: int = Field(30, ge=1, le=365)
    factors: list[Factor] = Field(min_length=1)
    grades: list[Grade] = Field(default_factory=list)

    @model_validator(mode="after")
    def _range(self) -> FactorScore:
        if self.range[0] >= self.range[1]:
            raise ValueError("range must be [low, high] with low < high")
        _check_grades(self.grades)
        return self


Score = Annotated[PointsScore | FactorScore, Field(discriminator="type")]


def _check_grades(grades: list[Grade]) -> None:
    for i, g in enumerate(grades[:-1]):
        if g.min is None:
            raise FieldError("only the last (lowest) grade may omit min", ("grades", i, "name"))
    bounded = [(i, g.min) for i, g in enumerate(grades) if g.min is not None]
    for (_, a), (j, b) in itertools.pairwise(bounded):
        if a <= b:
            raise FieldError(
                "grades must be listed from highest to lowest min", ("grades", j, "min")
            )
    seen: set[str] = set()
    for i, g in enumerate(grades):
        if g.name in seen:
            raise FieldError(f"grade name '{g.name}' is used twice", ("grades", i, "name"))
        seen.add(g.name)


class ListSpec(Strict):
    """A blacklist or redlist."""

    id: Ident
    kind: Literal["blacklist", "redlist"] = "blacklist"
    entity: EntityType = "person"
    term_days: int | None = Field(
        None, ge=1, le=36500, description="Default term; omit for 'until deleted'."
    )
    term_days_by_ground: dict[int, int] = Field(
        default_factory=dict, description="Term per court ground (1-6) of the entering event."
    )
    extension_days: tuple[int, int] | None = Field(
        None, description="Range of one extension (e.g. 1-3 years), drawn at expiry."
    )
    extension_probability: Share = Field(0.0, description="Share of expiring entries extended.")
    delete_on: EventFilter | None = Field(
        None, description="Recorded events (e.g. performance) that end the listing early."
    )
    deletion_delay_working_days: int = Field(3, ge=0, le=365)
    public: bool = Field(True, description="Entries are published (public shaming).")


class ScoreDeltaEffect(Strict):
    score: Ident
    delta: Points


class ListEffect(Strict):
    list: Ident


class SanctionEffect(Strict):
    kind: Literal["public_display", "notice", "downgrade", "reward", "warning"]
    domain: Annotated[str, Field(min_length=1, max_length=40)]


class LiftEffect(Strict):
    """Ends the entity's open entry on ``list`` today (end reason ``lifted``), as credit
    repair by a commended act would; a ``sanctions`` row of kind ``lift`` in ``domain``
    records the decision with the record it rests on."""

    list: Ident
    domain: Annotated[str, Field(min_length=1, max_length=40)] = "credit_repair"


#: The effects a rule may have, in the order their fields are listed in error messages.
EFFECT_FIELDS = ("score_delta", "list", "sanction", "lift")


class Effect(Strict):
    """One effect of a rule; exactly one of the fields is given."""

    score_delta: ScoreDeltaEffect | None = None
    list: ListEffect | None = None
    sanction: SanctionEffect | None = None
    lift: LiftEffect | None = None

    @model_validator(mode="after")
    def _one(self) -> Effect:
        given = [k for k in EFFECT_FIELDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"an effect needs exactly one of {', '.join(EFFECT_FIELDS)}")
        return self


class Condition(Strict):
    """When a rule fires; exactly one of ``events``, ``counter``, ``score``, ``grade``."""

    events: EventFilter | None = Field(None, description="Every matching recorded event.")
    counter: Ident | None = Field(None, description="A counter crossing ``above``.")
    above: int | None = Field(None, ge=0, description="Fires when the counter exceeds this.")
    score: Ident | None = Field(None, description="A score falling below ``below``.")
    below: Points | None = None
    grade: list[str] = Field(default_factory=list, description="Entering one of these grades.")

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = [k for k in ("events", "counter", "score") if getattr(self, k) is not None] + (
            ["grade"] if self.grade else []
        )
        if len(given) != 1:
            raise ValueError("a condition needs exactly one of events, counter, score, grade")
        if self.counter is not None and self.above is None:
            raise ValueError("a counter condition needs 'above'")
        if self.score is not None and self.below is None:
            raise ValueError("a score condition needs 'below'")
        return self


class Rule(Strict):
    """A condition and its effects."""

    id: Ident
    when: Condition
    effects: list[Effect] = Field(min_length=1)
    description: str = ""
    legal_basis: LegalBasis | None = Field(
        None, description="Law or regulation the rule rests on; omitted: the policy's."
    )
    human_review: HumanReview | None = Field(
        None, description="Who reviews its decisions; omitted: the policy's."
    )


class Trigger(Strict):
    """What puts an entity under a joint measure; exactly one field is given."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
    # "list" in YAML; named on_list here because a field called list would shadow the
    # builtin in the annotations below.
    on_list: Ident | None = Field(None, alias="list")
    grade: list[str] = Field(default_factory=list)
    score: Ident | None = None
    below: Points | None = None
    at_least: Points | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        given = [k for k in ("on_list", "score") if getattr(self, k) is not None]
        given += ["grade"] if self.grade else []
        if len(given) != 1:
            raise ValueError("a trigger needs exactly one of list, grade, score")
        if self.score is not None and (self.below is None) == (self.at_least is None):
            raise ValueError("a score trigger needs exactly one of below, at_least")
        return self


#: Whose moments a joint measure affects.
AppliesTo = Literal["self", "legal_representative", "parent", "ties"]


class JointMeasure(Strict):
    """Joint punishment or reward at resource moments."""

    id: Ident
    when: Trigger
    moments: list[Ident] = Field(min_length=1, description="Resource moment kinds.")
    classes: list[Ident] = Field(
        default_factory=list,
        description="Only attempts of these classes of the moment kinds (a train and seat "
        "class: `kinds.classes`, docs/catalogue.md); empty: every attempt.",
    )
    effect: Literal["blocked", "priced_up", "favoured"]
    price_factor: float = Field(1.0, gt=0, le=100)
    applies_to: list[AppliesTo] = Field(
        default_factory=lambda: list[AppliesTo](["self"]),
        description="Whose moments are affected: the entity's own, or linked people's.",
    )
    domain: Annotated[str, Field(min_length=1, max_length=40)] = "resources"
    legal_basis: LegalBasis | None = Field(
        None, description="Law or regulation the measure rests on; omitted: the policy's."
    )
    human_review: HumanReview | None = Field(
        None, description="Who reviews its decisions; omitted: the policy's."
    )


class DueProcess(Strict):
    """Notice, objection, review, appeal and credit repair. Switch off with enabled: false."""

    enabled: bool = True
    notice_delay_days: int = Field(0, ge=0, le=365)
    objection_share_if_wrongful: Share = Field(
        0.3, description="Assumption: share of wrongly listed people who object."
    )
    objection_share_if_rightful: Share = Field(
        0.05, description="Assumption: share of rightly listed people who object."
    )
    review_days: int = Field(15, ge=0, le=365, description="2017 provisions: within 15 days.")
    success_if_wrongful: Share = Field(0.7, description="Assumption.")
    success_if_rightful: Share = Field(0.02, description="Assumption.")
    appeal_share: Share = Field(0.2, description="Assumption: failed objections appealed.")
    appeal_days: int = Field(90, ge=0, le=3650)
    appeal_success_if_wrongful: Share = Field(0.5, description="Assumption.")
    repair_after_days: int | None = Field(
        None, ge=1, le=3650, description="Credit repair: early removal after this many days."
    )
    repair_share: Share = Field(0.0, description="Share who complete credit repair.")


class Participation(Strict):
    """Who is subject to the policy."""

    mode: Literal["mandatory", "voluntary"] = "mandatory"
    share: Share = Field(1.0, description="Voluntary: share who opt in.")
    requires: list[Literal["payment_app", "smartphone", "social_media", "adult"]] = Field(
        default_factory=list
    )
    prefer_good_records: float = Field(
        0.0, ge=0, le=10, description="Opt-in odds multiplier per unit of a clean record."
    )


#: Every kind of sanction a policy writes: those of rules' effects and of joint measures
#: (blocked, priced up, and a favoured moment's reward).
SANCTION_KINDS = (
    *get_args(SanctionEffect.model_fields["kind"].annotation),
    "blocked",
    "priced_up",
    "lift",
)

#: The sanction kinds that do the entity good: a reward, and a lift off a list (recorded
#: as a sanction row so that it keeps its rule, record and ``wrongful``). Every other
#: kind is adverse; the audit counts harm, and fairness ranks groups, by this split.
BENEFICIAL_SANCTION_KINDS = frozenset({"reward", "lift"})


class Policy(Strict):
    """One policy pack: a scoring system as data."""

    id: Ident
    title: str = Field(min_length=1)
    description: str = ""
    sources: list[str] = Field(default_factory=list, description="Citations for the rules.")
    system: Ident | None = Field(None, description="Name in the database (defaults to id).")
    participation: Participation = Field(default_factory=Participation)
    counters: list[Counter] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    lists: list[ListSpec] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    joint: list[JointMeasure] = Field(default_factory=list)
    due_process: DueProcess = Field(default_factory=DueProcess)
    # Metadata for the legal assessment (sclab.legal); the simulation never reads them.
    purpose: Purpose | None = Field(None, description="What the policy is for; omitted: unknown.")
    legal_basis: LegalBasis | None = Field(
        None, description="Law or regulation every rule and measure rests on, unless its own."
    )
    human_review: HumanReview | None = Field(
        None, description="Who reviews decisions, unless a rule or measure says otherwise."
    )

    @model_validator(mode="after")
    def _references(self) -> Policy:
        for kind, section, items in (
            ("counter", "counters", self.counters), ("score", "scores", self.scores),
            ("list", "lists", self.lists), ("rule", "rules", self.rules),
            ("joint measure", "joint", self.joint),
        ):  # fmt: skip
            seen: set[str] = set()
            for i, item in enumerate(items):
                if item.id in seen:
                    raise FieldError(f"{kind} id '{item.id}' is used twice", (section, i, "id"))
                seen.add(item.id)
        counters = {c.id for c in self.counters}
        scores = {s.id: s for s in self.scores}
        lists = {x.id for x in self.lists}
        grades = {g.name for s in self.scores for g in s.grades}

        def need(
            name: str | None, known: set[str] | dict, what: str, where: str,
            loc: tuple[str | int, ...],
        ) -> None:  # fmt: skip
            if name is not None and name not in known:
                have = ", ".join(sorted(known)) or "none defined"
                raise FieldError(f"{where} names unknown {what} '{name}' (defined: {have})", loc)

        at: tuple[str | int, ...]  # where in the document: a rule's, then a measure's
        for r, rule in enumerate(self.rules):
            where, at = f"rule '{rule.id}'", ("rules", r)
            need(rule.when.counter, counters, "counter", where, (*at, "when", "counter"))
            need(rule.when.score, scores, "score", where, (*at, "when", "score"))
            for k, g in enumerate(rule.when.grade):
                need(g, grades, "grade", where, (*at, "when", "grade", k))
            for e, eff in enumerate(rule.effects):
                if eff.score_delta:
                    loc = (*at, "effects", e, "score_delta", "score")
                    need(eff.score_delta.score, scores, "score", where, loc)
                    if not isinstance(scores[eff.score_delta.score], PointsScore):
                        raise FieldError(
                            f"{where}: score_delta needs a points score "
                            f"('{eff.score_delta.score}' is a factor score)",
                            loc,
                        )
                if eff.list:
                    need(eff.list.list, lists, "list", where, (*at, "effects", e, "list", "list"))
                if eff.lift:
                    need(eff.lift.list, lists, "list", where, (*at, "effects", e, "lift", "list"))
        for j, m in enumerate(self.joint):
            where, at = f"joint measure '{m.id}'", ("joint", j, "when")
            need(m.when.on_list, lists, "list", where, (*at, "list"))
            need(m.when.score, scores, "score", where, (*at, "score"))
            for k, g in enumerate(m.when.grade):
                need(g, grades, "grade", where, (*at, "grade", k))
        return self

    @property
    def system_name(self) -> str:
        return self.system or self.id

    def list_references(self) -> list[tuple[str, tuple[str | int, ...], EntityType]]:
        """Every other system's list this policy reads: (``<system>.<list>``, where in the
        document, the entity type it is read for)."""
        refs: list[tuple[str, tuple[str | int, ...], EntityType]] = []
        for i, score in enumerate(self.scores):
            if isinstance(score, PointsScore):
                for j, d in enumerate(score.list_deltas):
                    refs.append((d.listed_on, ("scores", i, "list_deltas", j, "listed_on"),
                                 score.entity))  # fmt: skip
                continue
            for fi, factor in enumerate(score.factors):
                for ii, inp in enumerate(factor.inputs):
                    if inp.listed_on is not None:
                        loc = ("scores", i, "factors", fi, "inputs", ii, "listed_on")
                        refs.append((inp.listed_on, loc, score.entity))
        return refs


class Bundle(Strict):
    """Several packs run side by side, each with its own participation, due process and
    system name, meeting at resource moments and in what people see (``composite``)."""

    id: Ident
    title: str = Field(min_length=1)
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    packs: list[Ident] = Field(min_length=2, description="Built-in packs or policy files.")

    @model_validator(mode="after")
    def _distinct(self) -> Bundle:
        if len(set(self.packs)) != len(self.packs):
            raise ValueError("a bundle names each pack once")
        return self
