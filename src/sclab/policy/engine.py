"""The policy engine: one compiled policy pack, run as a component of the simulation.

Core objects:
    :class:`PackParams`: ``{pack: NAME_OR_FILE}``, how a scenario names a policy.
    :class:`PolicyEngine`: compiles a :class:`~sclab.policy.schema.Policy` to arrays in
        ``setup`` and, each day, consumes what the system recorded (never the truth):
        counters, points and factor scores, rules and their effects, lists with terms,
        deletion on performance and due process, and joint measures at resource moments.

The engine is split by concern: factor-score assessments live in
:mod:`sclab.policy.factors`, decisions at resource moments in :mod:`sclab.policy.joint`,
and the per-entity state (counters, list books, score arrays) in :mod:`sclab.policy.state`.

Several engines run side by side when a scenario names several packs (national, municipal,
commercial); each has its own random stream (``policy:<id>``) and its own state, and they
meet in the :class:`~sclab.engine.feedback.SystemView` (the worst standing, any listing) and
at resource moments (a blocked moment stays blocked).

Provenance: every score change, list entry and sanction row names its rule and the recorded
event it rests on (``decision_events`` lists all the events behind a threshold decision).
``wrongful`` (see ``docs/policies.md``): an event is erroneous when its attributed entity is
not its true actor, it has no true actor, or it carries a record error. A decision resting
on one event is wrongful when that event is erroneous; a threshold decision is wrongful
when, without the erroneous events in its window, the threshold would not have been
crossed (but-for); a grade-based measure is wrongful when the grade without the erroneous
deductions would not trigger it; a measure resting on a list entry inherits its flag.

Records made before the run (a source's warm start, delivered on day 0 with their past
``recorded_day``): a list entry resting on one starts on that past day, so its term runs
from the real listing; its due process (objection, appeal, repair) is timed from that day
too, and an expiring term may have been extended (``extension_probability``) in the past.
Entries that would have ended before today are not opened. One-off sanctions of such a
record (a notice) were served before the run and are not issued again, and the people are
not reported to behaviour as caught today; score deltas and counters apply as usual,
counted from the day the engine receives the record (``docs/policies.md``, "Warm start").

Cost model per day: O(recorded events + resource moments + entries opened or closed), plus
O(open entries) for expiry checks; factor scores cost O(people + ties) on update days only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from sclab.arrays import union_sorted
from sclab.columns import constant_labels, nullable
from sclab.engine.ages import ages
from sclab.engine.events import NO_ENTITY, EventBatch
from sclab.engine.registry import register
from sclab.parallel import map_blocks
from sclab.policy.factors import FactorScoring
from sclab.policy.joint import JointMeasures
from sclab.policy.loader import load_policy
from sclab.policy.schema import (
    SANCTION_KINDS,
    Effect,
    EventFilter,
    FactorScore,
    ListSpec,
    PointsDelta,
    PointsScore,
    Policy,
    Rule,
)
from sclab.policy.state import (
    END_REASONS,
    NO_END,
    FactorState,
    ListBook,
    PointsState,
    WindowCounter,
    grade_of,
    latest_event,
)

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

# Recorded kinds that stand for an act of another name (what behaviour learns about).
ACT_OF_RECORD = {"jaywalk_identified": "jaywalk", "judgment_lost": "non_performance"}
# Perceived severity of each effect, in [0, 1] (Assumption; feeds deterrence only).
SEVERITY = {"list": 1.0, "public_display": 0.6, "notice": 0.2, "downgrade": 0.5, "warning": 0.1}


class PackParams(BaseModel):
    """Which policy to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pack: str = Field(min_length=1, description="A built-in pack name or a policy YAML file.")


def erroneous(batch: EventBatch) -> np.ndarray:
    """Per recorded event: misattributed, without a true actor, or with a record error."""
    bad = (batch.attributed_to != batch.true_actor) | (batch.true_actor == NO_ENTITY)
    error = batch.extra.get("error")
    if error is not None:
        if isinstance(error, pa.Array):
            bad |= np.asarray(error.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        else:
            bad |= np.array([e is not None for e in error], dtype=bool)
    return bad


def matches(f: EventFilter, batch: EventBatch) -> np.ndarray | None:
    """Mask of events in ``batch`` that the filter accepts (None: none can match)."""
    if batch.kind not in f.kinds or (f.sources and batch.source not in f.sources):
        return None
    ok = batch.attributed_to != NO_ENTITY
    if f.min_amount is not None:
        amount = batch.extra.get("amount")
        ok &= (np.asarray(amount) >= f.min_amount) if amount is not None else False
    if f.grounds:
        ground = batch.extra.get("ground")
        ok &= np.isin(np.asarray(ground), f.grounds) if ground is not None else False
    if f.min_match_score is not None:
        score = batch.extra.get("match_score")
        if score is not None:
            ok &= np.nan_to_num(np.asarray(score, dtype=float), nan=1.0) >= f.min_match_score
    return ok


def _delta_rule_id(score_id: str, delta: PointsDelta) -> str:
    """The rule id a points delta's changes carry: its own, or '<score id>:<first kind>'."""
    return delta.rule_id or f"{score_id}:{delta.events.kinds[0]}"


@register("policies", "pack", PackParams)
class PolicyEngine(FactorScoring, JointMeasures):
    """Runs one policy pack: counters, scores, lists, rules, joint measures, due process."""

    @staticmethod
    def check_params(params: PackParams) -> None:
        """Validate the named pack or file before a run starts (one-line errors)."""
        load_policy(params.pack)

    def __init__(self, name: str, params: PackParams) -> None:
        self.policy: Policy = load_policy(params.pack)
        self.system = self.policy.system_name
        self.name = f"policy:{self.system}"

    def labels(self) -> dict[str, set[str]]:
        """Every label this policy may write: its system, scores, rule ids, lists, grades,
        sanction domains and kinds, and the reasons list entries end."""
        pol = self.policy
        rules = {r.id for r in pol.rules} | {j.id for j in pol.joint}
        domains = {j.domain for j in pol.joint} | {m for j in pol.joint for m in j.moments}
        grades: set[str] = set()
        for score in pol.scores:
            grades |= {g.name for g in score.grades}
            if isinstance(score, FactorScore):
                rules.add(f"{score.id}:assessment")
            else:
                rules.add(f"{score.id}:restored")
                rules |= {_delta_rule_id(score.id, d) for d in score.deltas}
        for rule in pol.rules:
            domains |= {e.sanction.domain for e in rule.effects if e.sanction is not None}
        return {
            "system": {self.system},
            "score": {score.id for score in pol.scores},
            "rule_id": rules,
            "list_name": {spec.id for spec in pol.lists},
            "end_reason": set(END_REASONS),
            "domain": domains,
            "sanction_kind": set(SANCTION_KINDS),
            "grade": grades,
        }

    # -- setup ---------------------------------------------------------------------------

    def setup(self, sim: Simulation) -> None:
        p = self.policy
        self.sizes = {
            "person": len(sim.population.citizens),
            "company": len(sim.population.companies),
        }
        rng = sim.rng(f"{self.name}/setup")
        self.members = {t: self._participants(sim, t, rng) for t in ("person", "company")}
        self.counters = {
            c.id: (c, WindowCounter(self.sizes[c.entity], c.window_days)) for c in p.counters
        }
        self.points: dict[str, PointsState] = {}
        self.factors: dict[str, FactorState] = {}
        for s in p.scores:
            n = self.sizes[s.entity]
            if isinstance(s, PointsScore):
                value = np.where(self.members[s.entity], s.base, np.nan).astype(np.float32)
                self.points[s.id] = PointsState(
                    s, value, np.zeros(n, np.float32), grade_of(s.grades, value),
                    np.full(n, -1, np.int32), {},
                )  # fmt: skip
            else:
                members = self.members[s.entity]
                who = None
                if not members.all():
                    who = np.flatnonzero(members).astype(np.int32 if n < 2**31 else np.int64)
                m = n if who is None else len(who)
                hidden = [
                    WindowCounter(m, i.window_days) if i.source == "events" else None
                    for f in s.factors for i in f.inputs
                ]  # fmt: skip
                platform = [i.source in ("platform", "posts") for f in s.factors for i in f.inputs]
                self.factors[s.id] = FactorState(
                    s,
                    np.full(n, np.nan, np.float32),
                    np.zeros(n, np.uint8),
                    who,
                    hidden,
                    [np.zeros(m, np.float32) if q else None for q in platform],
                    # uint16 like the platform counters they follow (widened with them).
                    [np.zeros(m, np.uint16) if q else None for q in platform],
                )
                if who is not None and any(platform):
                    # Participants' platform totals are read every assessment, the others'
                    # never: their sources draw the participants' alone until the end.
                    sim.aggregates.focus(s.entity, members)
        self.lists = {x.id: (x, ListBook(self.sizes[x.entity])) for x in p.lists}
        self.rule_index = {r.id: i for i, r in enumerate(p.rules)}
        self.event_rules = [r for r in p.rules if r.when.events is not None]
        self._kinds_read = self._event_kinds_read()
        self._score_views: dict[str, np.ndarray] = {}
        for sid in list(self.points) + list(self.factors):
            if self._entity_of_score(sid) == "person":
                self._score_views[sid] = np.full(self.sizes["person"], np.nan, np.float32)
                sim.view.publish_score(f"{self.system}.{sid}", self._score_views[sid])
        for lid, (spec, book) in self.lists.items():
            if spec.kind == "blacklist" and spec.entity == "person":
                sim.view.publish_list(f"{self.system}.{lid}", book.listed, book.since)
        self._publish_incentives(sim)
        self._dirty: dict[str, list[np.ndarray]] = {}  # points changed since the refresh
        self._all_dirty: set[str] = set()  # scores reassessed as a whole
        self._refresh_views(everyone=True)

    def _participants(self, sim: Simulation, entity: str, rng: np.random.Generator) -> np.ndarray:
        n = self.sizes[entity]
        part = self.policy.participation
        if entity == "company":
            return np.ones(n, bool)
        c = sim.population.citizens
        eligible = np.ones(n, bool)
        age = ages(sim)  # computed once per run and shared: it is O(n) date arithmetic
        for need in part.requires:
            eligible &= (age >= 18) if need == "adult" else getattr(c, need)
        if part.mode == "mandatory":
            return eligible
        # Voluntary: opt-in odds rise with a clean standing. No records exist on day 0, so
        # income decile stands in for it (Assumption, docs/policies.md).
        weight = np.exp(part.prefer_good_records * (c.income_decile / 9.0 - 0.5))
        p = (
            np.clip(part.share * weight / weight[eligible].mean(), 0, 1)
            if eligible.any()
            else weight
        )
        return eligible & (rng.random(n) < p)

    def _entity_of_score(self, sid: str) -> str:
        s = self.points.get(sid) or self.factors[sid]
        return s.spec.entity

    def _publish_incentives(self, sim: Simulation) -> None:
        """Tell behaviour what each act risks, and which conduct is scored."""
        view = sim.view

        def bump(kind: str, severity: float) -> None:
            act = ACT_OF_RECORD.get(kind, kind)
            view.severity[act] = max(view.severity.get(act, 0.0), min(1.0, severity))

        list_rules = {r.id for r in self.policy.rules if any(e.list for e in r.effects)}
        for r in self.policy.rules:
            sev = max(
                [SEVERITY["list"] if e.list else 0.0 for e in r.effects]
                + [SEVERITY.get(e.sanction.kind, 0.0) for e in r.effects if e.sanction]
                + [min(1.0, abs(e.score_delta.delta) / 100) for e in r.effects if e.score_delta]
            )
            if r.when.events is not None:
                for k in r.when.events.kinds:
                    bump(k, sev)
            elif r.when.counter is not None and r.id in list_rules:
                spec = self.counters[r.when.counter][0]
                for k in spec.events.kinds:
                    bump(k, sev / (r.when.above + 1))
        for pts in self.points.values():
            for d in pts.spec.deltas:
                if d.delta < 0:
                    for k in d.events.kinds:
                        bump(k, abs(d.delta) / 100)
        for f in self.factors.values():
            for factor in f.spec.factors:
                for i in factor.inputs:
                    if i.source == "ties":
                        view.scores_ties = True
                    if i.source == "posts" and i.kind == "post_critical" and i.weight < 0:
                        view.scores_speech = True
                    if i.source == "platform" and i.kind and i.kind.startswith("purchase_"):
                        cat = i.kind.removeprefix("purchase_")
                        view.scored_purchases[cat] = view.scored_purchases.get(cat, 0.0) + float(
                            np.sign(i.weight)
                        )

    # -- daily step ----------------------------------------------------------------------

    def step(self, sim: Simulation, day: int) -> None:
        self._rng = sim.rng(self.name, day)
        self._day = day
        self._sim = sim
        for _, counter in self.counters.values():
            counter.expire(day)
        for f in self.factors.values():
            for h in f.hidden:
                if h is not None:
                    h.expire(day)
        self._close_due(day)
        self._restore_points(day)
        touched: dict[str, list[np.ndarray]] = {cid: [] for cid in self.counters}
        for batch in sim.events.by_kind():
            self._consume(batch, touched)
        for cid, parts in touched.items():
            if parts:
                self._counter_rules(cid, union_sorted(*parts))
        for sid, f in self.factors.items():
            if day % f.spec.update_every_days == 0:
                self._assess(sim, sid, f)
        for m in sim.moments.today:
            self._decide(sim, m)
        self._refresh_views()

    def _event_kinds_read(self) -> set[str]:
        """Every recorded event kind that some filter of this policy accepts."""
        filters = [spec.events for spec, _ in self.counters.values()]
        filters += [
            i.events for f in self.factors.values() for fac in f.spec.factors for i in fac.inputs
        ]
        filters += [d.events for pts in self.points.values() for d in pts.spec.deltas]
        filters += [r.when.events for r in self.event_rules]
        filters += [spec.delete_on for spec, _ in self.lists.values()]
        return {k for f in filters if f is not None for k in f.kinds}

    def _consume(self, batch: EventBatch, touched: dict[str, list[np.ndarray]]) -> None:
        if batch.entity_type not in self.members or len(batch) == 0:
            return
        if batch.kind not in self._kinds_read:
            return  # a batch no filter accepts (most of a day's batches for most packs)
        members = self.members[batch.entity_type]
        named = batch.attributed_to != NO_ENTITY
        bad = erroneous(batch)
        # Events time-stamped with the act's day, but known only from the recording day:
        # windows are counted from the recording day, when the system can act on them.
        for cid, (spec, counter) in self.counters.items():
            if spec.entity != batch.entity_type:
                continue
            ok = matches(spec.events, batch)
            if ok is None:
                continue
            sel = np.flatnonzero(ok & named)
            sel = sel[members[batch.attributed_to[sel]]]
            if len(sel):
                touched[cid].append(
                    counter.add(self._day, batch.attributed_to[sel], bad[sel], batch.event_id[sel])
                )
        for f in self.factors.values():
            if f.spec.entity != batch.entity_type:
                continue
            inputs = [i for fac in f.spec.factors for i in fac.inputs]
            for inp, hidden in zip(inputs, f.hidden, strict=True):
                if hidden is None or inp.events is None:
                    continue
                ok = matches(inp.events, batch)
                if ok is not None:
                    sel = np.flatnonzero(ok & named)
                    sel = sel[members[batch.attributed_to[sel]]]  # counted by participant
                    if len(sel):
                        at = f.positions(batch.attributed_to[sel])
                        hidden.add(self._day, at, bad[sel], batch.event_id[sel])
        for sid, pts in self.points.items():
            if pts.spec.entity != batch.entity_type:
                continue
            for d in pts.spec.deltas:
                ok = matches(d.events, batch)
                if ok is None:
                    continue
                sel = np.flatnonzero(ok & named)
                sel = sel[members[batch.attributed_to[sel]]]
                if len(sel):
                    rule_id = _delta_rule_id(sid, d)
                    self._change_points(
                        sid, batch.attributed_to[sel], np.full(len(sel), d.delta, np.float32),
                        rule_id, batch.event_id[sel], bad[sel], batch.kind,
                    )  # fmt: skip
        for rule in self.event_rules:
            assert rule.when.events is not None
            ok = matches(rule.when.events, batch)
            if ok is None:
                continue
            sel = np.flatnonzero(ok & named)
            sel = sel[members[batch.attributed_to[sel]]]
            if len(sel):
                ground = batch.extra.get("ground")
                made = self._made_before_today(batch)
                self._effects(
                    rule, batch.entity_type, batch.attributed_to[sel], batch.event_id[sel],
                    bad[sel], batch.kind,
                    None if ground is None else np.asarray(ground)[sel],
                    None if made is None else made[sel],
                )  # fmt: skip
        for lid, (spec, book) in self.lists.items():
            if spec.delete_on is None or spec.entity != batch.entity_type:
                continue
            ok = matches(spec.delete_on, batch)
            if ok is None:
                continue
            who = batch.attributed_to[np.flatnonzero(ok & named)]
            who = who[book.slot[who] >= 0]
            if len(who):
                when = self._working_days_later(self._day, spec.deletion_delay_working_days)
                book.reschedule(
                    who, np.full(len(who), when, np.int32), END_REASONS.index("performed")
                )
                if when <= self._day:
                    self._close_due(self._day, only=lid)

    def _made_before_today(self, batch: EventBatch) -> np.ndarray | None:
        """Per event, the day its record was made, if some were made before today, else None.

        Only records of acts from before the run (delivered on day 0) are: a record made in
        the run is delivered on its recording day.
        """
        made = batch.extra.get("recorded_day")
        if made is None or batch.day >= self._day:
            return None
        made = np.asarray(made)
        return np.minimum(made, self._day) if (made < self._day).any() else None

    def _working_days_later(self, day: int, n: int) -> int:
        start = np.datetime64(self._sim.date(day))
        later = np.busday_offset(start, n, roll="forward")
        return day + int((later - start).astype(int))

    # -- effects -------------------------------------------------------------------------

    def _effects(
        self,
        rule: Rule,
        entity_type: str,
        entity: np.ndarray,
        event_id: np.ndarray,
        wrongful: np.ndarray,
        record_kind: str | None,
        ground: np.ndarray | None = None,
        made: np.ndarray | None = None,
    ) -> None:
        """Apply a rule's effects; ``made``: per entity, the day its record was made."""
        sim = self._sim
        for eff in rule.effects:
            self._effect(eff, rule, entity_type, entity, event_id, wrongful, ground, made)
        # A person learns they were caught when a rule lists them or changes their points,
        # and also when it shows them publicly or notifies them (a roadside screen, an
        # SMS): once per person each time the rule applies, however many effects it has.
        deterrent = any(
            e.list
            or e.score_delta
            or (e.sanction is not None and e.sanction.kind in ("public_display", "notice"))
            for e in rule.effects
        )
        if record_kind is not None and deterrent and entity_type == "person":
            # Records made before today tell behaviour nothing new about today.
            now = entity if made is None else entity[made >= self._day]
            sim.view.caught(ACT_OF_RECORD.get(record_kind, record_kind), now)

    def _effect(
        self,
        eff: Effect,
        rule: Rule,
        entity_type: str,
        entity: np.ndarray,
        event_id: np.ndarray,
        wrongful: np.ndarray,
        ground: np.ndarray | None,
        made: np.ndarray | None = None,
    ) -> None:
        sim, day = self._sim, self._day
        if eff.sanction is not None and made is not None:
            # A one-off sanction of a record made before the run was served back then.
            now = made >= day
            entity, event_id, wrongful = entity[now], event_id[now], wrongful[now]
            if len(entity) == 0:
                return
        if eff.score_delta is not None:
            n = len(entity)
            self._change_points(
                eff.score_delta.score, entity, np.full(n, eff.score_delta.delta, np.float32),
                rule.id, event_id, wrongful, None,
            )  # fmt: skip
        elif eff.list is not None:
            self._enter(eff.list.list, rule, entity, event_id, wrongful, ground, made)
        elif eff.sanction is not None:
            sim.decisions.sanction(
                day, entity, system=self.system, domain=eff.sanction.domain,
                kind=eff.sanction.kind, rule_id=rule.id, event_id=event_id,
                wrongful=wrongful, entity_type=entity_type,
            )  # fmt: skip
            if eff.sanction.kind == "public_display" and entity_type == "person":
                sim.view.visible_sanctions_today = np.concatenate(
                    [sim.view.visible_sanctions_today, entity.astype(np.int64)]
                )

    def _change_points(
        self,
        sid: str,
        entity: np.ndarray,
        delta: np.ndarray,
        rule_id: str,
        event_id: np.ndarray | None,
        wrongful: np.ndarray,
        record_kind: str | None,
    ) -> None:
        pts = self.points[sid]
        spec = pts.spec
        order = np.argsort(entity, kind="stable")
        entity, delta, wrongful = entity[order], delta[order], wrongful[order]
        event_id = None if event_id is None else event_id[order]
        # Running value per row: an entity with several events today changes step by step.
        starts = np.flatnonzero(np.r_[True, entity[1:] != entity[:-1]])
        csum = np.cumsum(delta.astype(np.float64))
        base = np.repeat(csum[starts] - delta[starts], np.diff(np.r_[starts, len(entity)]))
        running = pts.value[entity].astype(np.float64) + (csum - base)
        lo = -np.inf if spec.minimum is None else spec.minimum
        hi = np.inf if spec.maximum is None else spec.maximum
        running = np.clip(running, lo, hi)
        last = np.r_[starts[1:] - 1, len(entity) - 1]
        people = entity[last]
        before_grade = pts.grade[people].copy()
        before_value = pts.value[people].copy()
        pts.value[people] = running[last]
        self._dirty.setdefault(sid, []).append(people)
        if event_id is not None:
            latest = event_id[last]
            if len(latest) and latest.max() > np.iinfo(pts.last_event.dtype).max:
                pts.last_event = pts.last_event.astype(np.int64)  # ids past 2**31: widen
            pts.last_event[people] = latest
        np.add.at(pts.wrong, entity, np.where(wrongful, delta, 0).astype(np.float32))
        pts.grade[people] = grade_of(spec.grades, pts.value[people])
        self._sim.decisions.score_changes(
            self._day, entity, system=self.system, score=sid, rule_id=rule_id,
            delta=delta, value=running, event_id=event_id, wrongful=wrongful,
            entity_type=spec.entity,
        )  # fmt: skip
        if spec.restore_after_days and event_id is not None:
            neg = delta < 0
            if neg.any():
                self._queue_restore(sid, entity[neg], delta[neg], event_id[neg], wrongful[neg])
        if record_kind is not None and spec.entity == "person":
            hurt = entity[delta < 0]
            if len(hurt):
                self._sim.view.caught(ACT_OF_RECORD.get(record_kind, record_kind), hurt)
        self._grade_rules(
            sid, people, before_grade, pts.grade[people], before_value, pts.value[people]
        )

    def _queue_restore(
        self, sid: str, entity: np.ndarray, delta: np.ndarray, event: np.ndarray, bad: np.ndarray
    ) -> None:
        pts = self.points[sid]
        due = self._day + int(pts.spec.restore_after_days or 0)
        pts.restore.setdefault(due, []).append((entity, -delta, event, bad))

    def _restore_points(self, day: int) -> None:
        for sid, pts in self.points.items():
            for entity, delta, event, bad in pts.restore.pop(day, []):
                # The lapse of a deduction is credit repair, not a new judgment: it carries
                # the original event for provenance but is never wrongful itself.
                np.add.at(pts.wrong, entity, np.where(bad, delta, 0).astype(np.float32))
                self._change_points(
                    sid, entity, delta.astype(np.float32), f"{sid}:restored", event,
                    np.zeros(len(entity), bool), None,
                )  # fmt: skip

    def _grade_rules(
        self,
        sid: str,
        people: np.ndarray,
        before: np.ndarray,
        after: np.ndarray,
        before_value: np.ndarray | None = None,
        after_value: np.ndarray | None = None,
    ) -> None:
        """Fire grade rules for entities entering a grade set, and score rules on crossing."""
        spec = (self.points.get(sid) or self.factors[sid]).spec
        names = [g.name for g in spec.grades]
        for rule in self.policy.rules:
            if rule.when.grade and all(g in names for g in rule.when.grade):
                target = np.array([names.index(g) for g in rule.when.grade])
                entered = np.isin(after, target) & ~np.isin(before, target)
                if entered.any():
                    who = people[entered]
                    bad = self._grade_wrongful(sid, who, target)
                    self._effects(rule, spec.entity, who, self._last_event(sid, who), bad, None)
            if rule.when.score == sid and rule.when.below is not None and before_value is not None:
                now = after_value if after_value is not None else before_value
                crossed = (now < rule.when.below) & ~(before_value < rule.when.below)
                if crossed.any():
                    who = people[crossed]
                    bad = self._score_wrongful(sid, who, rule.when.below)
                    self._effects(rule, spec.entity, who, self._last_event(sid, who), bad, None)

    def _last_event(self, sid: str, who: np.ndarray) -> np.ndarray:
        """The latest recorded event that moved a points score (-1 for factor scores)."""
        pts = self.points.get(sid)
        if pts is None:
            return np.full(len(who), -1, np.int64)
        return pts.last_event[who].astype(np.int64)

    def _grade_wrongful(self, sid: str, who: np.ndarray, target: np.ndarray) -> np.ndarray:
        pts = self.points.get(sid)
        if pts is None:
            return self._factor_wrongful(sid, who)
        honest = grade_of(pts.spec.grades, pts.value[who] - pts.wrong[who])
        return ~np.isin(honest, target)

    def _score_wrongful(self, sid: str, who: np.ndarray, below: float) -> np.ndarray:
        pts = self.points.get(sid)
        if pts is None:
            return self._factor_wrongful(sid, who)
        return (pts.value[who] - pts.wrong[who]) >= below

    def _factor_wrongful(self, sid: str, who: np.ndarray) -> np.ndarray:
        """Whether each entity's factor score rests on an erroneous event in its windows
        (False for entities that do not take part in the score)."""
        f = self.factors[sid]
        bad = np.zeros(len(who), bool)
        at, inside = f.lookup(who)
        for h in f.hidden:
            if h is not None:
                bad |= h.bad[at] > 0
        return bad & inside

    def _counter_rules(self, cid: str, people: np.ndarray) -> None:
        spec, counter = self.counters[cid]
        for rule in self.policy.rules:
            if rule.when.counter != cid:
                continue
            above = rule.when.above or 0
            now = counter.count[people]
            over = now > above
            if not over.any():
                continue
            who = people[over]
            # Fire once per crossing: skip entities already under this rule's list effects
            # (a 7th identification while discredited does not list anyone again).
            fresh = np.ones(len(who), bool)
            for eff in rule.effects:
                if eff.list is not None:
                    fresh &= self.lists[eff.list.list][1].slot[who] < 0
            who = who[fresh]
            if len(who) == 0:
                continue
            honest = counter.count[who].astype(np.int64) - counter.bad[who]
            wrongful = honest <= above
            ent, ev = counter.events_of(who)
            # the latest event in the window stands for the decision; all go to the link table
            event_id = latest_event(who, ent, ev)
            self._effects(rule, spec.entity, who, event_id, wrongful, spec.events.kinds[0])
            for eff in rule.effects:
                if eff.list is None or len(ent) == 0:
                    continue
                book = self.lists[eff.list.list][1]
                slot = book.slot[ent]
                keep = slot >= 0
                self._sim.decisions.rows(
                    "decision_events",
                    {
                        "decision_table": constant_labels("list_entries", int(keep.sum())),
                        "decision_key": book.entry[slot[keep]],
                        "event_id": ev[keep],
                    },
                )

    # -- lists ---------------------------------------------------------------------------

    def _enter(
        self,
        lid: str,
        rule: Rule,
        entity: np.ndarray,
        event_id: np.ndarray,
        wrongful: np.ndarray,
        ground: np.ndarray | None,
        made: np.ndarray | None = None,
    ) -> None:
        """Open entries; ``made`` (records made before today): each entry starts then."""
        spec, book = self.lists[lid]
        entity, idx = np.unique(entity, return_index=True)
        event_id, wrongful = event_id[idx], wrongful[idx]
        ground = None if ground is None else ground[idx]
        start: int | np.ndarray = self._day if made is None else made[idx].astype(np.int64)
        n = len(entity)
        term = np.full(n, spec.term_days if spec.term_days else -1, np.int64)
        if ground is not None and spec.term_days_by_ground:
            for g, days in spec.term_days_by_ground.items():
                term[ground == g] = days
        end = np.where(term > 0, start + term, NO_END).astype(np.int64)
        reason = np.full(n, END_REASONS.index("expired"), np.uint8)
        end, reason = self._due_process(spec, end, reason, wrongful, start)
        extended = None
        if made is not None:
            end, extended, keep = self._ended_before_today(spec, end, reason)
            entity, event_id, wrongful = entity[keep], event_id[keep], wrongful[keep]
            end, reason, extended = end[keep], reason[keep], extended[keep]
            start = np.asarray(start)[keep]
        first = self._sim.decisions.next_entry_id
        opened = book.open(
            start, entity, end.astype(np.int32), reason, self.rule_index[rule.id],
            event_id, wrongful, first,
        )  # fmt: skip
        self._sim.decisions.next_entry_id += int(opened.sum())
        if extended is not None:
            book.extended[book.slot[entity[opened & extended]]] = True

    def _ended_before_today(
        self, spec: ListSpec, end: np.ndarray, reason: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For entries starting in the past: (end, extended, still open today).

        An entry whose term ran out by today had its extension decided at expiry, as
        :meth:`_close_due` does; one that still ended by today, or left through due process
        by today, is not opened.
        """
        end = end.copy()
        extended = np.zeros(len(end), bool)
        past = end <= self._day
        expiring = np.flatnonzero(past & (reason == END_REASONS.index("expired")))
        if spec.extension_days and spec.extension_probability > 0 and len(expiring):
            ext = expiring[self._rng.random(len(expiring)) < spec.extension_probability]
            lo, hi = spec.extension_days
            end[ext] += self._rng.integers(lo, hi + 1, len(ext))
            extended[ext] = True
        return end, extended, end > self._day

    def _due_process(
        self,
        spec: ListSpec,
        end: np.ndarray,
        reason: np.ndarray,
        wrongful: np.ndarray,
        start: int | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw each entry's objection, appeal and repair now; keep the earliest exit.

        Times run from ``start`` (default today), the entry's first day.
        """
        dp = self.policy.due_process
        if not dp.enabled or spec.kind != "blacklist":
            return end, reason
        rng, n = self._rng, len(end)
        day = self._day if start is None else start
        objects = rng.random(n) < np.where(
            wrongful, dp.objection_share_if_wrongful, dp.objection_share_if_rightful
        )
        upheld = objects & (
            rng.random(n) < np.where(wrongful, dp.success_if_wrongful, dp.success_if_rightful)
        )
        decided = day + dp.notice_delay_days + dp.review_days
        appeal = objects & ~upheld & (rng.random(n) < dp.appeal_share)
        won = appeal & wrongful & (rng.random(n) < dp.appeal_success_if_wrongful)
        for mask, when, why in (
            (upheld, decided, "objection_upheld"),
            (won, decided + dp.appeal_days, "appeal_upheld"),
        ):
            earlier = mask & (when < end)
            end = np.where(earlier, when, end)
            reason = np.where(earlier, END_REASONS.index(why), reason).astype(np.uint8)
        if dp.repair_after_days and dp.repair_share > 0:
            repaired = rng.random(n) < dp.repair_share
            when = day + dp.repair_after_days
            earlier = repaired & (when < end)
            end = np.where(earlier, when, end)
            reason = np.where(earlier, END_REASONS.index("repaired"), reason).astype(np.uint8)
        return end, reason

    def _close_due(self, day: int, only: str | None = None) -> None:
        for lid, (spec, book) in self.lists.items():
            if only is not None and lid != only:
                continue
            slots = book.due(day)
            if len(slots) == 0:
                continue
            # Extensions (e.g. 1-3 more years for grounds 2-6) are decided at expiry.
            expiring = slots[
                (book.reason[slots] == END_REASONS.index("expired")) & ~book.extended[slots]
            ]
            if spec.extension_days and spec.extension_probability > 0 and len(expiring):
                ext = expiring[self._rng.random(len(expiring)) < spec.extension_probability]
                lo, hi = spec.extension_days
                book.end[ext] = day + self._rng.integers(lo, hi + 1, len(ext))
                book.extended[ext] = True
                slots = np.setdiff1d(slots, ext)
            self._write_entries(lid, spec, book, slots, day)
            book.close(slots)

    def _write_entries(
        self, lid: str, spec: ListSpec, book: ListBook, slots: np.ndarray, end_day: int | None
    ) -> None:
        n = len(slots)
        if n == 0:
            return
        rules = [r.id for r in self.policy.rules]
        reasons = pa.DictionaryArray.from_arrays(
            pa.array(book.reason[slots].astype(np.int32), mask=np.full(n, end_day is None)),
            pa.array(list(END_REASONS)),
        )
        self._sim.decisions.rows(
            "list_entries",
            {
                "entry_id": book.entry[slots],
                "entity_id": book.entity[slots],
                "entity_type": constant_labels(spec.entity, n),
                "system": constant_labels(self.system, n),
                "list": constant_labels(lid, n),
                "start_day": book.start[slots],
                "end_day": pa.array(
                    np.full(n, end_day or 0, np.int32), mask=np.full(n, end_day is None)
                ),
                "end_reason": reasons,
                "rule_id": pa.DictionaryArray.from_arrays(
                    pa.array(book.rule[slots].astype(np.int32)), pa.array(rules)
                ),
                "event_id": nullable(book.event[slots], n),
                "wrongful": book.wrongful[slots],
            },
        )

    def _normalised(
        self, f: FactorState | PointsState, who: np.ndarray | slice | None = None
    ) -> np.ndarray:
        """Standing in [0, 1] (NaN: not scored) of everyone, or of the entities ``who``
        (an index array or a slice)."""
        value = f.value if who is None else f.value[who]
        if isinstance(f, FactorState):
            lo, hi = f.spec.range
            return (value - lo) / (hi - lo)
        mins = [g.min for g in f.spec.grades if g.min is not None]
        lo = (
            f.spec.minimum
            if f.spec.minimum is not None
            else (min(mins) if mins else f.spec.base - 500)
        )
        hi = (
            f.spec.maximum
            if f.spec.maximum is not None
            else (max(mins) if mins else f.spec.base + 500)
        )
        span = max(hi - lo, 1e-9)
        return np.clip((value - lo) / span, 0, 1)

    def _refresh_views(self, everyone: bool = False) -> None:
        """Copy score changes into the published standings.

        Only the entities whose points changed since the last refresh are recomputed
        (a day's events touch a few thousand people, the view holds everyone); a factor
        assessment marks the whole score.
        """
        for sid, arr in self._score_views.items():
            dirty = self._dirty.pop(sid, None)
            src = self.points.get(sid) or self.factors[sid]
            if everyone or sid in self._all_dirty:
                # In blocks on the cores (a reassessed score is read whole: 9.3M people).
                def refresh(_: int, lo: int, hi: int, arr=arr, src=src) -> None:
                    arr[lo:hi] = self._normalised(src, slice(lo, hi))

                map_blocks(refresh, len(arr))
            elif dirty:
                who = union_sorted(*dirty)
                arr[who] = self._normalised(src, who)
        self._all_dirty.clear()

    # -- end of run ----------------------------------------------------------------------

    def finish(self, sim: Simulation) -> None:
        self._sim = sim
        for lid, (spec, book) in self.lists.items():
            self._write_entries(lid, spec, book, book.open_slots(), None)
        for sid in list(self.points) + list(self.factors):
            s = self.points.get(sid) or self.factors[sid]
            members = np.flatnonzero(~np.isnan(s.value))
            names = [g.name for g in s.spec.grades]
            wrong = (
                self.points[sid].wrong[members] != 0
                if sid in self.points
                else self._factor_wrongful(sid, members)
            )
            sim.decisions.rows(
                "final_scores",
                {
                    "entity_id": members.astype(np.int64),
                    "entity_type": constant_labels(s.spec.entity, len(members)),
                    "system": constant_labels(self.system, len(members)),
                    "score": constant_labels(sid, len(members)),
                    "value": s.value[members].astype(np.float64),
                    "grade": pa.DictionaryArray.from_arrays(
                        pa.array(s.grade[members].astype(np.int32)), pa.array(names)
                    )
                    if names
                    else pa.nulls(len(members), pa.string()),  # a score without grades
                    "affected_by_errors": wrong,
                },
            )
        sim.decisions.end_day()
