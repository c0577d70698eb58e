"""Event routing: which recorded events each part of a policy reads.

Core objects:
    :class:`Route`: one consumer's reading of the day's events: an event filter, the entity
        type it is about (or any), whether it reads participants' events only, and what it
        does with the events it picks.
    :class:`Picked`: the events of one batch that a route picked, with their attributed
        entities, ids and erroneous flags.
    :class:`EventRouter`: hands each of the day's batches to the routes in the order they
        were given, each with its own selection: the events its filter matches, attributed
        to someone, and (for most routes) to a participant.
    :func:`matches`: the mask of a batch's events that a filter accepts.
    :func:`made_before_today`: the days the records of a warm-start batch were made.

The order of the routes is the order of the policy's decisions within a batch (counters,
factor inputs, points deltas, rules on single events, deletion on performance): decisions
draw from the day's random stream, so the order is part of the result.
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
        ok &= (np.asarray(amount) >= f.min_amount) if amount is not None else False
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
    made = batch.extra.get("recorded_day")
    if made is None or batch.day >= day:
        return None
    made = np.asarray(made)
    return np.minimum(made, day) if (made < day).any() else None


@dataclass(frozen=True)
class Picked:
    """The events of ``batch`` at positions ``at`` that a route picked."""

    batch: EventBatch
    at: np.ndarray
    entity: np.ndarray  # attributed entity per picked event
    event_id: np.ndarray
    erroneous: np.ndarray  # see provenance.erroneous

    def extra(self, name: str) -> np.ndarray | None:
        """The picked events' values of an extra column (None: the batch has none)."""
        values = self.batch.extra.get(name)
        return None if values is None else np.asarray(values)[self.at]


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
        # Most of a day's batches are of kinds no filter accepts (for most packs).
        self.kinds = {k for r in self.routes for k in r.events.kinds}

    def deliver(self, today: Today, batch: EventBatch) -> None:
        """Give each route the events of ``batch`` it reads, route after route."""
        if batch.entity_type not in self.members or len(batch) == 0:
            return
        if batch.kind not in self.kinds:
            return
        members = self.members[batch.entity_type]
        named = batch.attributed_to != NO_ENTITY
        bad = erroneous(batch)
        for route in self.routes:
            if route.entity is not None and route.entity != batch.entity_type:
                continue
            ok = matches(route.events, batch)
            if ok is None:
                continue
            # The one selection every consumer shares: matched and attributed to someone,
            # and (unless the route says otherwise) to a participant.
            at = np.flatnonzero(ok & named)
            if route.participants_only:
                at = at[members[batch.attributed_to[at]]]
            if len(at):
                picked = Picked(batch, at, batch.attributed_to[at], batch.event_id[at], bad[at])
                route.take(today, picked)
