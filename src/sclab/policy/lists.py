"""Blacklists and redlists: entries with terms, extensions, deletion and due process.

Core object:
    :class:`Lists`: the policy's :class:`~sclab.policy.state.ListBook` per list, and what
        happens to entries: opened by rule effects (one open entry per entity) with a term
        (per court ground where the list says so) and the exits of
        :class:`~sclab.policy.due_process.DueProcess`; extended at expiry with the list's
        ``extension_probability``; rescheduled to end a few working days after a recorded
        performance (``delete_on``); ended at once by a rule's ``lift`` effect (end reason
        ``lifted``); closed when their day comes, with a ``list_entries`` row each
        (entries still open at the end of the run get one without an end).

Warm start: an entry resting on a record made before the run starts on the day the record
was made; its due process is timed from then, an expiring term may have been extended in
the past, and an entry that would have ended by today is not opened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.engine.feedback import ListJournal, SystemView
from sclab.policy.due_process import DueProcess
from sclab.policy.provenance import Targets
from sclab.policy.routing import Picked, Route
from sclab.policy.rows import Rows
from sclab.policy.schema import ListSpec, Policy, Rule
from sclab.policy.state import END_REASONS, NO_END, ListBook
from sclab.policy.today import Today

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


class Lists:
    """The lists of ``policy``; ``sizes``: entities per type."""

    def __init__(self, policy: Policy, sizes: dict[str, int], rows: Rows) -> None:
        self.books = {x.id: (x, ListBook(sizes[x.entity])) for x in policy.lists}
        self.rule_index = {r.id: i for i, r in enumerate(policy.rules)}
        self.due_process = DueProcess(policy.due_process)
        self.rows = rows
        # The journals of the public lists, which other policies may read (one per list).
        self.journals = {x.id: ListJournal(x.entity) for x in policy.lists if x.public}

    def book(self, lid: str) -> ListBook:
        return self.books[lid][1]

    def entity_of(self, lid: str) -> str:
        return self.books[lid][0].entity

    def publish(self, view: SystemView, system: str) -> None:
        """Share the blacklists' membership with behaviour (companies' apart: whose legal
        representatives are barred), and the journal of every public list with other
        policies."""
        for lid, (spec, book) in self.books.items():
            if spec.kind == "blacklist" and spec.entity == "person":
                view.publish_list(f"{system}.{lid}", book.listed, book.since)
            elif spec.kind == "blacklist" and spec.entity == "company":
                view.publish_company_list(
                    f"{system}.{lid}", book.listed, book.since, book.provenance
                )
        for lid, journal in self.journals.items():
            view.publish_journal(f"{system}.{lid}", journal)

    def _close(self, today: Today, lid: str, slots: np.ndarray) -> None:
        """Close entries (their rows are written), and note it in the list's journal."""
        book = self.book(lid)
        journal = self.journals.get(lid)
        if journal is not None:
            journal.closed(today.day, book.entity[slots])
        book.close(slots)

    def listed(self, lid: str, who: np.ndarray) -> np.ndarray:
        """Whether each entity has an open entry on list ``lid``."""
        return self.book(lid).slot[who] >= 0

    def entry_ids(self, lid: str, entity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(listed: mask over ``entity``, the entry ids of the listed ones)."""
        book = self.book(lid)
        slot = book.slot[entity]
        keep = slot >= 0
        return keep, book.entry[slot[keep]]

    # -- entering ------------------------------------------------------------------------

    def enter(self, today: Today, lid: str, rule: Rule, t: Targets) -> None:
        """Open entries for ``t`` not listed yet; an entry resting on a record made before
        today (``t.made``) starts on that day."""
        spec, book = self.books[lid]
        entity, idx = np.unique(t.entity, return_index=True)
        event_id, wrongful = t.event_id[idx], t.wrongful[idx]
        ground = None if t.ground is None else t.ground[idx]
        made = t.made
        start: int | np.ndarray = today.day if made is None else made[idx].astype(np.int64)
        n = len(entity)
        term = np.full(n, spec.term_days if spec.term_days else -1, np.int64)
        if ground is not None and spec.term_days_by_ground:
            for g, days in spec.term_days_by_ground.items():
                term[ground == g] = days
        end = np.where(term > 0, start + term, NO_END).astype(np.int64)
        reason = np.full(n, END_REASONS.index("expired"), np.uint8)
        end, reason = self.due_process.exits(today, spec, end, reason, wrongful, start)
        extended = None
        if made is not None:
            end, extended, keep = self._ended_before_today(today, spec, end, reason)
            entity, event_id, wrongful = entity[keep], event_id[keep], wrongful[keep]
            end, reason, extended = end[keep], reason[keep], extended[keep]
            start = np.asarray(start)[keep]
        first = self.rows.next_entry_id(today.sim)
        opened = book.open(
            start, entity, end.astype(np.int32), reason, self.rule_index[rule.id],
            event_id, wrongful, first,
        )  # fmt: skip
        self.rows.entries_numbered(today.sim, int(opened.sum()))
        journal = self.journals.get(lid)
        if journal is not None:
            starts = np.broadcast_to(np.asarray(start, np.int64), (len(entity),))
            journal.opened(
                today.day, entity[opened], event_id[opened], wrongful[opened], starts[opened]
            )
        if extended is not None:
            book.extended[book.slot[entity[opened & extended]]] = True

    def _ended_before_today(
        self, today: Today, spec: ListSpec, end: np.ndarray, reason: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For entries starting in the past: (end, extended, still open today).

        An entry whose term ran out by today had its extension decided at expiry, as
        :meth:`close_due` does; one that still ended by today, or left through due process
        by today, is not opened.
        """
        end = end.copy()
        extended = np.zeros(len(end), bool)
        past = end <= today.day
        expiring = np.flatnonzero(past & (reason == END_REASONS.index("expired")))
        ext = _extensions(today, spec, expiring)
        if ext is not None:
            end[ext[0]] += ext[1]
            extended[ext[0]] = True
        return end, extended, end > today.day

    # -- leaving -------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """Deletion on performance: a recorded performance reschedules the entry's end."""
        routes = []
        for lid, (spec, _) in self.books.items():
            if spec.delete_on is None:
                continue

            def take(today: Today, p: Picked, lid: str = lid) -> None:
                self.performed(today, lid, p.entity)

            # Every named entity's performance is read: only listed ones have an entry.
            routes.append(Route(spec.delete_on, spec.entity, take, participants_only=False))
        return routes

    def performed(self, today: Today, lid: str, who: np.ndarray) -> None:
        """``who`` performed: their entries end ``deletion_delay_working_days`` later."""
        spec, book = self.books[lid]
        who = who[book.slot[who] >= 0]
        if len(who):
            when = today.working_days_later(spec.deletion_delay_working_days)
            book.reschedule(who, np.full(len(who), when, np.int32), END_REASONS.index("performed"))
            if when <= today.day:
                self.close_due(today, only=lid)

    def lift(self, today: Today, lid: str, who: np.ndarray) -> np.ndarray:
        """End the open entries of ``who`` on list ``lid`` today, with end reason
        ``lifted`` (a rule's ``lift`` effect); returns the mask over ``who`` of those
        lifted. ``who`` holds each entity once."""
        spec, book = self.books[lid]
        slot = book.slot[who]
        lifted = slot >= 0
        slots = slot[lifted]
        if len(slots):
            # Whatever end was scheduled (expiry, performance, an upheld objection), the
            # entry ends now and for this reason.
            book.reason[slots] = END_REASONS.index("lifted")
            self.rows.list_entries(today.sim, lid, spec, book, slots, today.day)
            self._close(today, lid, slots)
        return lifted

    def close_due(self, today: Today, only: str | None = None) -> None:
        """Close the entries (of every list, or of list ``only``) whose end is today,
        unless their term is extended now."""
        day = today.day
        for lid, (spec, book) in self.books.items():
            if only is not None and lid != only:
                continue
            slots = book.due(day)
            if len(slots) == 0:
                continue
            # Extensions (e.g. 1-3 more years for grounds 2-6) are decided at expiry.
            expiring = slots[
                (book.reason[slots] == END_REASONS.index("expired")) & ~book.extended[slots]
            ]
            ext = _extensions(today, spec, expiring)
            if ext is not None:
                book.end[ext[0]] = day + ext[1]
                book.extended[ext[0]] = True
                slots = np.setdiff1d(slots, ext[0])
            self.rows.list_entries(today.sim, lid, spec, book, slots, day)
            self._close(today, lid, slots)

    def write_open(self, sim: Simulation) -> None:
        """Rows of the entries still open at the end of the run."""
        for lid, (spec, book) in self.books.items():
            self.rows.list_entries(sim, lid, spec, book, book.open_slots(), None)


def _extensions(
    today: Today, spec: ListSpec, expiring: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Which of the ``expiring`` entries get one extension, and how many days each (None:
    the list extends no entry, or none expires)."""
    if not (spec.extension_days and spec.extension_probability > 0 and len(expiring)):
        return None
    ext = expiring[today.rng.random(len(expiring)) < spec.extension_probability]
    lo, hi = spec.extension_days
    return ext, today.rng.integers(lo, hi + 1, len(ext))
