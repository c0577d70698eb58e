"""Rule effects: score deltas, list entries, lifts and sanctions, and who behaviour hears
was caught.

Core object:
    :class:`Effects`: applies a fired rule's effects to its
        :class:`~sclab.policy.provenance.Targets`, in the rule's order: a score delta
        through :class:`~sclab.policy.points.Points`, a list entry through
        :class:`~sclab.policy.lists.Lists`, a lift (an open entry ended today) through
        :class:`~sclab.policy.lists.Lists` with a ``lift`` row in ``sanctions``, a sanction
        as a row (a public display also shown to behaviour); then reports the people
        caught (:meth:`Effects.mark_caught`). It also holds the routes of the rules on
        single recorded events.

Records made before today (a warm start's): a one-off sanction of such a record was served
back then and is not issued again, and its people are not reported as caught today; a lift
acts on today's records only (an entry open today was not lifted back then).

A lift's ``wrongful`` follows the but-for definition like every decision: it is wrongful
when the record it rests on is erroneous (a commended act of someone else, linked to the
listed person), since without that record the entry would still be open.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sclab.policy.lists import Lists
from sclab.policy.points import Points
from sclab.policy.provenance import Targets
from sclab.policy.publish import report_caught
from sclab.policy.routing import Picked, Route
from sclab.policy.rows import Rows
from sclab.policy.schema import Effect, Rule
from sclab.policy.today import Today


class Effects:
    """Applies rule effects for one policy."""

    def __init__(self, points: Points, lists: Lists, rows: Rows) -> None:
        self.points = points
        self.lists = lists
        self.rows = rows

    def routes(self, rules: Sequence[Rule]) -> list[Route]:
        """The rules on single recorded events: each matching event fires the rule for its
        entity (of any type), resting on that event alone."""
        routes = []
        for rule in rules:
            if rule.when.events is None:
                continue

            def take(today: Today, p: Picked, rule: Rule = rule) -> None:
                found = Targets(
                    p.batch.entity_type, p.entity, p.event_id, p.erroneous, p.extra("ground"),
                    p.made,
                )  # fmt: skip
                self.apply(today, rule, found, p.batch.kind)

            routes.append(Route(rule.when.events, None, take))
        return routes

    def apply(self, today: Today, rule: Rule, t: Targets, record_kind: str | None) -> None:
        """Apply ``rule``'s effects to ``t``; ``record_kind``: the kind of the records the
        decision rests on (None: it rests on a score)."""
        for eff in rule.effects:
            self._apply_one(today, eff, rule, t)
        self.mark_caught(today, rule, t, record_kind)

    def mark_caught(self, today: Today, rule: Rule, t: Targets, record_kind: str | None) -> None:
        """Report to behaviour the people a rule on their records caught today.

        A rule deters when it lists or changes a score, and also when it shows the person
        publicly or notifies them (a roadside screen, an SMS): once per person each time
        the rule applies, however many effects it has. One resting on a score (no record
        kind) says nothing about an act.
        """
        deterrent = any(
            e.list
            or e.score_delta
            or (e.sanction is not None and e.sanction.kind in ("public_display", "notice"))
            for e in rule.effects
        )
        if record_kind is not None and deterrent and t.entity_type == "person":
            # Records made before today tell behaviour nothing new about today.
            now = t.entity if t.made is None else t.entity[t.made >= today.day]
            report_caught(today.sim, record_kind, now)

    def _apply_one(self, today: Today, eff: Effect, rule: Rule, t: Targets) -> None:
        if (eff.sanction is not None or eff.lift is not None) and t.made is not None:
            # A one-off sanction of a record made before the run was served back then; an
            # entry still open today was not lifted by it.
            t = t.only(t.made >= today.day)
            if len(t.entity) == 0:
                return
        if eff.score_delta is not None:
            n = len(t.entity)
            self.points.change(
                today, eff.score_delta.score, t.entity,
                np.full(n, eff.score_delta.delta, np.float32), rule.id, t.event_id,
                t.wrongful, None,
            )  # fmt: skip
        elif eff.list is not None:
            self.lists.enter(today, eff.list.list, rule, t)
        elif eff.lift is not None:
            self._lift(today, eff.lift.list, eff.lift.domain, rule, t)
        elif eff.sanction is not None:
            self.rows.sanction(
                today, t.entity, domain=eff.sanction.domain, kind=eff.sanction.kind,
                rule_id=rule.id, event_id=t.event_id, wrongful=t.wrongful,
                entity_type=t.entity_type,
            )  # fmt: skip
            if eff.sanction.kind == "public_display" and t.entity_type == "person":
                view = today.sim.view
                view.visible_sanctions_today = np.concatenate(
                    [view.visible_sanctions_today, t.entity.astype(np.int64)]
                )

    def _lift(self, today: Today, lid: str, domain: str, rule: Rule, t: Targets) -> None:
        """End the listed targets' entries on ``lid`` and record each lift as a row of kind
        ``lift``, resting on the first of today's records that fired it for the entity."""
        if t.entity_type != self.lists.entity_of(lid):
            return  # records of people lift nothing on a list of companies, and vice versa
        entity, first = np.unique(t.entity, return_index=True)
        lifted = self.lists.lift(today, lid, entity)
        if not lifted.any():
            return
        at = first[lifted]
        self.rows.sanction(
            today, entity[lifted], domain=domain, kind="lift", rule_id=rule.id,
            event_id=t.event_id[at], wrongful=t.wrongful[at], entity_type=t.entity_type,
        )  # fmt: skip
