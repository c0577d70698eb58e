"""Counters: recorded events per entity over sliding windows, and the rules on thresholds.

Core object:
    :class:`Counters`: the policy's :class:`~sclab.policy.state.WindowCounter` per counter,
        fed by their routes, and the rules ``when: {counter, above}``: after the day's
        events, each entity whose count went up and now exceeds ``above`` fires the rule
        once (not again while under its list entry), resting on the latest event in its
        window, wrongful by the but-for test; every event in the window is linked to the
        list entries it led to (``decision_events``).

Events are time-stamped with the act's day but known only from the recording day: windows
are counted from the recording day, when the system can act on them. A record made before
the run (a warm start's, delivered on day 0) counts from the day it was made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sclab.arrays import union_sorted
from sclab.policy.effects import Effects
from sclab.policy.lists import Lists
from sclab.policy.provenance import Provenance, Targets
from sclab.policy.routing import Picked, Route
from sclab.policy.rows import Rows
from sclab.policy.schema import Counter, Rule
from sclab.policy.state import WindowCounter, latest_event
from sclab.policy.today import Today


class Counters:
    """The counters ``specs`` (by id) and the rules on them."""

    def __init__(
        self,
        specs: Sequence[Counter],
        rules: Sequence[Rule],
        sizes: dict[str, int],
        lists: Lists,
        effects: Effects,
        rows: Rows,
    ) -> None:
        self.counters = {c.id: (c, WindowCounter(sizes[c.entity], c.window_days)) for c in specs}
        self.rules = {cid: [r for r in rules if r.when.counter == cid] for cid in self.counters}
        self.lists = lists
        self.effects = effects
        self.rows = rows
        # Per counter, the entities whose count went up today (read by fire_rules).
        self._rose: dict[str, list[np.ndarray]] = {cid: [] for cid in self.counters}

    def expire(self, day: int) -> None:
        """Drop the events that leave their windows today."""
        for _, counter in self.counters.values():
            counter.expire(day)

    def routes(self) -> list[Route]:
        """One route per counter: its events are counted for their participants."""
        routes = []
        for cid, (spec, counter) in self.counters.items():

            def take(today: Today, p: Picked, cid: str = cid, c: WindowCounter = counter) -> None:
                self._rose[cid].append(c.add(today.day, p.entity, p.erroneous, p.event_id, p.made))

            routes.append(Route(spec.events, spec.entity, take))
        return routes

    def fire_rules(self, today: Today) -> None:
        """Fire the threshold rules for the entities counted today, counter by counter."""
        for cid, parts in self._rose.items():
            if parts:
                self._fire(today, cid, union_sorted(*parts))
            parts.clear()

    def _fire(self, today: Today, cid: str, people: np.ndarray) -> None:
        spec, counter = self.counters[cid]
        for rule in self.rules[cid]:
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
                    fresh &= ~self.lists.listed(eff.list.list, who)
            who = who[fresh]
            if len(who) == 0:
                continue
            wrongful = Provenance.threshold_wrongful(counter, who, above)
            ent, ev = counter.events_of(who)
            # the latest event in the window stands for the decision; all go to the link table
            event_id = latest_event(who, ent, ev)
            found = Targets(spec.entity, who, event_id, wrongful)
            self.effects.apply(today, rule, found, spec.events.kinds[0])
            for eff in rule.effects:
                if eff.list is None or len(ent) == 0:
                    continue
                keep, entries = self.lists.entry_ids(eff.list.list, ent)
                self.rows.decision_events(today, "list_entries", entries, ev[keep])
