"""Event routing: which recorded events each part of a policy reads.

Core objects:
    :class:`Route`: one consumer's reading of the day's events: an event filter, the entity
        type it is about (or any), whether it reads participants' events only, and what it
        does with the events it picks.
    :class:`Picked`: the events of one batch that a route picked, with their attributed
        entities, ids, erroneous flags and (for a warm start's records) the days they were
        made. Read-only: when a route picks every event of a batch they are the batch's
        own columns, not copies.
    :class:`EventRouter`: hands each of the day's batches to the routes in the order they
        were given, each with its own selection: the events its filter matches, attributed
        to someone, and (for most routes) to a participant.
    :func:`matches`: the mask of a batch's events that a filter accepts.
    :func:`made_before_today`: the days the records of a warm-start batch were made.

The order of the routes is the order of the policy's decisions within a batch (counters,
factor inputs, points deltas, rules on single events, deletion on performance): decisions
draw from the day's random stream, so the order is part of the result.

Cost model per batch of a kind some route reads: O(events) for the erroneous flags, and per
route that reads it O(events) for its filter plus O(picked) for its selection.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from sclab.engine.events import NO_ENTITY, EventBatch
from sclab.policy.provenance import erroneous
from sclab.policy.schema import EventFilter
from sclab.policy.today import Today


def matches(f: EventFilter, batch: EventBatch) -> np.ndarray | None:
    """Mask of events in ``batch`` that the filter accepts (None: none can match)."""
    if batch.kind not in f.kinds or (f.sources and batch.source not in f.sources):
        return None
    ok = batch.attributed_to != NO_ENTITY
    if f.min_amount is not None:
        amount = batch.extra.get("amount")
        # Compared in float64 (a history's amounts are float32: the threshold is not
        # rounded to their precision).
        ok &= (np.asarray(amount, np.float64) >= f.min_amount) if amount is not None else False
    if f.grounds:
        ground = batch.extra.get("ground")
        ok &= np.isin(np.asarray(ground), f.grounds) if ground is not None else False
    if f.min_match_score is not None:
        score = batch.extra.get("match_score")
        if score is not None:
            ok &= np.nan_to_num(np.asarray(score, dtype=float), nan=1.0) >= f.min_match_score
    return ok


def made_before_today(batch: EventBatch, day: int) -> np.ndarray | None:
    """Per event, the day its record was made, if some were made before ``day``, else None.

    Only records of acts from before the run (delivered on day 0) are: a record made in
    the run is delivered on its recording day.
    """
    made = _recorded_day(batch, day)
    return None if made is None else np.minimum(made, day)


def _recorded_day(batch: EventBatch, day: int) -> np.ndarray | None:
    """The batch's ``recorded_day`` column if some of its records were made before ``day``
    (the test of :func:`made_before_today`, without the copy), else None."""
    made = batch.extra.get("recorded_day")
    if made is None or batch.day >= day:
        return None
    made = np.asarray(made)
    return made if (made < day).any() else None


def _until(made: np.ndarray, day: int) -> np.ndarray:
    """``np.minimum(made, day)``: ``made`` itself when every record was made before
    ``day`` (a warm start's history), as callers only read it."""
    return made if len(made) and made.max() < day else np.minimum(made, day)


@dataclass(frozen=True)
class Picked:
    """The events of ``batch`` at positions ``at`` that a route picked; ``made``: per
    picked event, the day its record was made, when some records of the batch were made
    before today (a warm start's, see :func:`made_before_today`), else None. The arrays
    are read-only (they may be the batch's own columns)."""

    batch: EventBatch
    where: np.ndarray | None  # per event of the batch, whether it is picked (None: all are)
    entity: np.ndarray  # attributed entity per picked event
    event_id: np.ndarray
    erroneous: np.ndarray  # see provenance.erroneous
    made: np.ndarray | None = None

    @property
    def at(self) -> np.ndarray:
        """Positions in the batch of the picked events."""
        return np.arange(len(self.batch)) if self.where is None else np.flatnonzero(self.where)

    def extra(self, name: str) -> np.ndarray | None:
        """The picked events' values of an extra column (None: the batch has none)."""
        values = self.batch.extra.get(name)
        if values is None:
            return None
        return np.asarray(values) if self.where is None else np.asarray(values)[self.where]


@dataclass(frozen=True)
class Route:
    """What one consumer reads: events ``events`` accepts about entities of type
    ``entity`` (None: any type), of participants only unless ``participants_only`` is
    False; ``take(today, picked)`` is called when a batch has some."""

    events: EventFilter
    entity: str | None
    take: Callable[[Today, Picked], None]
    participants_only: bool = True


class EventRouter:
    """Hands recorded events to routes; ``members`` holds each entity type's participants."""

    def __init__(self, members: dict[str, np.ndarray], routes: Sequence[Route]) -> None:
        self.members = members
        self.routes = list(routes)
        # Per kind, the routes whose filter names it, in the routes' order (most of a
        # day's batches are of kinds no filter accepts, for most packs).
        self.by_kind: dict[str, list[Route]] = {}
        for r in self.routes:
            for k in dict.fromkeys(r.events.kinds):
                self.by_kind.setdefault(k, []).append(r)
        # Entity types whose every entity takes part: their routes need no participant test.
        self.everyone = {t: bool(m.all()) for t, m in members.items()}

    def deliver(self, today: Today, batch: EventBatch) -> None:
        """Give each route the events of ``batch`` it reads, route after route."""
        if batch.entity_type not in self.members or len(batch) == 0:
            return
        routes = self.by_kind.get(batch.kind)
        if routes is None:
            return
        members = self.members[batch.entity_type]
        everyone = self.everyone[batch.entity_type]
        # Per batch, computed once when a route first picks something.
        bad: np.ndarray | None = None
        recorded: np.ndarray | None = None
        every: Picked | None = None  # every event, as the routes that pick all see them
        for route in routes:
            if route.entity is not None and route.entity != batch.entity_type:
                continue
            ok = matches(route.events, batch)
            if ok is None:
                continue
            # The one selection every consumer shares: matched and attributed to someone
            # (``matches`` requires both), and (unless the route says otherwise) to a
            # participant. (An unattributed event, -1, reads the last entity's flag here;
            # ``ok`` is false there.)
            if route.participants_only and not everyone:
                ok &= members[batch.attributed_to]
            picks = int(np.count_nonzero(ok))
            if picks == 0:
                continue
            if bad is None:
                bad = erroneous(batch)
                if "recorded_day" in batch.extra:  # (the day is read for those only)
                    recorded = _recorded_day(batch, today.day)
            # A route picking every event reads the batch's own columns: the consumers
            # never write to what they are given. The others get the picked events' values,
            # taken by the mask (no positions are made unless a consumer asks for them).
            if picks == len(batch):
                if every is None:
                    made = None if recorded is None else _until(recorded, today.day)
                    every = Picked(batch, None, batch.attributed_to, batch.event_id, bad, made)
                picked = every
            else:
                made = None if recorded is None else _until(recorded[ok], today.day)
                picked = Picked(
                    batch, ok, batch.attributed_to[ok], batch.event_id[ok], bad[ok], made
                )
            route.take(today, picked)
