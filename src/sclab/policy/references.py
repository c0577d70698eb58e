"""Other systems' lists a policy reads: points for a listing, a factor input "is listed".

Core object:
    :class:`ListReferences`: the policy's references to public lists that other policies
        of the run publish (``<system>.<list>``: a points score's ``list_deltas``, a
        factor score's ``from: list`` inputs), resolved at the first step against the
        :class:`~sclab.engine.feedback.ListJournal` each publisher shares through the
        system view. Every day it reads what the lists did *yesterday*: a points delta for
        each participant entered (once per entry), and the "is listed" state of the factor
        inputs (on at entry, off when the entry ends).

Why yesterday: policies step one after another within a day, so reading a list as it
stands today would make the result depend on the order of the packs. As of the end of the
previous day it does not (an entry made on day d is read on day d + 1, a warm start's
entries, opened on day 0, on day 1).

Provenance: a decision on an entry rests on the entry's own record (``event_id``) and is
wrongful exactly when the entry is; the audit's harm classes therefore mark a deduction for
a wrongful listing as wrongful (error), like the listing itself.

Cost model: O(entries opened and closed yesterday) per day, per reference; nothing per
entity. A factor input holds 10 bytes per participant (whether listed, whether wrongfully,
the entry's record, which the assessment rows link in ``decision_events``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.feedback import ListJournal
from sclab.policy.points import Points
from sclab.policy.schema import FactorScore, ListDelta, Policy
from sclab.policy.scores import Scores
from sclab.policy.today import Today

if TYPE_CHECKING:
    from sclab.engine.feedback import SystemView


def list_delta_rule_id(score_id: str, delta: ListDelta) -> str:
    """The rule id a list delta's changes carry: its own, or '<score id>:<list>'."""
    return delta.rule_id or f"{score_id}:{delta.listed_on}"


class ListReferences:
    """The references of ``policy`` to other systems' lists (see the module docstring)."""

    def __init__(
        self, policy: Policy, scores: Scores, members: dict[str, np.ndarray], points: Points
    ) -> None:
        self.points = points
        self.members = members
        self.scores = scores
        # (list name, score id, delta) and (list name, score id, input index)
        self.deltas = [
            (d.listed_on, sid, d)
            for sid, pts in scores.points.items()
            for d in pts.spec.list_deltas
        ]
        self.inputs: list[tuple[str, str, int]] = []
        for s in policy.scores:
            if isinstance(s, FactorScore):
                inputs = [i for f in s.factors for i in f.inputs]
                self.inputs += [(i.listed_on, s.id, k) for k, i in enumerate(inputs) if i.listed_on]
        self.names = sorted({n for n, _, _ in self.deltas} | {n for n, _, _ in self.inputs})
        self.journals: dict[str, ListJournal] | None = None

    def resolve(self, view: SystemView) -> None:
        """Find each referenced list's journal (every policy has set up by now).

        Raises:
            ValueError: a referenced list that no policy of the run publishes (the run's
                checks refuse such a policy before this, with its line).
        """
        journals = {}
        for name in self.names:
            journal = view.journal(name)
            if journal is None:
                known = ", ".join(view.journals()) or "none"
                raise ValueError(
                    f"no policy of this run publishes the list '{name}' (public lists: {known})"
                )
            journals[name] = journal
        self.journals = journals

    def catch_up(self, today: Today) -> None:
        """Apply what the referenced lists did yesterday."""
        if not self.names:
            return
        if self.journals is None:
            self.resolve(today.sim.view)
        assert self.journals is not None
        seen = {name: journal.day(today.day - 1) for name, journal in self.journals.items()}
        for name, sid, d in self.deltas:
            entity, event_id, wrongful, start, _ = seen[name]
            pts = self.points.states[sid]
            if len(entity) == 0 or self.journals[name].entity_type != pts.spec.entity:
                continue
            keep = self.members[pts.spec.entity][entity]
            # An entry that started before the day it was made (a warm start's, listed
            # before the run) was deducted for then: its change is dated by its start, as a
            # warm start's records are (restoration runs from there; no grade rules fire).
            past = start[keep] < today.day - 1
            restore = pts.spec.restore_after_days
            if restore and d.delta < 0:
                # A deduction that would have lapsed by today is not made at all.
                keep[np.flatnonzero(keep)[past & (start[keep] + restore <= today.day)]] = False
                past = start[keep] < today.day - 1
            for when in (~past, past):
                at = np.flatnonzero(keep)[when]
                if len(at) == 0:
                    continue
                self.points.change(
                    today, sid, entity[at], np.full(len(at), d.delta, np.float32),
                    list_delta_rule_id(sid, d), event_id[at], wrongful[at], None,
                    start[at] if when is past else None,
                )  # fmt: skip
        for name, sid, k in self.inputs:
            entity, event_id, wrongful, _, left = seen[name]
            f = self.scores.factors[sid]
            on, wrong, event = f.on_list[k], f.on_list_wrong[k], f.on_list_event[k]
            assert on is not None and wrong is not None and event is not None
            if self.journals[name].entity_type != f.spec.entity:
                continue
            at, inside = f.lookup(entity)
            on[at[inside]] = True
            wrong[at[inside]] = wrongful[inside]
            event[at[inside]] = event_id[inside]
            at, inside = f.lookup(left)
            on[at[inside]] = False
            wrong[at[inside]] = False
            event[at[inside]] = -1
