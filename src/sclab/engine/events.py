"""The event log: what the system recorded, with the truth beside it.

Core object:
    :class:`EventLog`: components append columnar batches of recorded events; the log
        numbers them, keeps the current day's batches in memory for the policy stage to
        consume, and hands full batches to a sink (the run database) as it goes.

Event ids are assigned in the order components record within a day, and components run in
the order the scenario lists them, so ids are reproducible from seed and scenario alone.

Readers that handle events kind by kind (the policy engine) read :meth:`EventLog.by_kind`:
today's batches with those of one kind from one source joined. A sensor delivers records
of acts from several past days as one batch per act day (the ``day`` column keeps each
act's day): about 30 batches of one or two events a day at 9.3M people, and some 2,100 on
the first day of a court warm start. Every batch costs a reader a few dozen array calls
whatever its size, so joined they cost it once per kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from sclab.columns import constant_labels, nullable

NO_ENTITY = -1
"""Stored for ``true_actor``/``attributed_to`` when there is no one (NULL in the database)."""


@dataclass
class EventBatch:
    """Recorded events of one kind from one component, as parallel arrays.

    ``day`` is the day of the acts; a batch of records of acts from before the run (a
    warm start's, delivered on day 0) may instead carry each record's own act day in the
    extra column ``act_day`` (int32, stored as the ``day`` column), with ``day`` the
    earliest of them: one batch for a whole history instead of one per past day.
    """

    day: int
    source: str
    kind: str
    entity_type: str
    true_actor: np.ndarray  # int64 (int32 for a history), NO_ENTITY for none
    attributed_to: np.ndarray  # int64 (int32 for a history), NO_ENTITY for none
    event_id: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    # The first row of each bundle (records sharing one event id and one stored row, see
    # EventLog.record); None: every row is its own event.
    bundle_starts: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.true_actor.shape[0])

    def columns(self) -> dict[str, Any]:
        """Columns for the ``events`` table (NO_ENTITY becomes NULL): one row per event,
        a bundle's row standing for its records (see :meth:`EventLog.record`)."""
        if self.bundle_starts is not None:
            return self._bundle_columns(self.bundle_starts)
        n = len(self)
        act_day = self.extra.get("act_day")
        cols: dict[str, Any] = {
            "event_id": self.event_id,
            "day": np.full(n, self.day, np.int32) if act_day is None else act_day,
            "recorded_day": _day_column(self, "recorded_day"),
            "source": constant_labels(self.source, n),
            "kind": constant_labels(self.kind, n),
            "entity_type": constant_labels(self.entity_type, n),
            "true_actor": nullable(self.true_actor, n),  # NO_ENTITY (-1) is NULL
            "attributed_to": nullable(self.attributed_to, n),
            "records": np.ones(n, np.int32),  # one record a row
        }
        for name, values in self.extra.items():
            if name not in ("recorded_day", "act_day"):
                cols[name] = values
        return cols

    def _bundle_columns(self, starts: np.ndarray) -> dict[str, Any]:
        """One row per bundle: its first act day and last (rows are in act-day order
        within a bundle), its earliest recording day, its records' total amount and
        lowest match score; the other columns are equal within a bundle."""
        n = len(self)
        k = len(starts)
        ends = np.empty(k, np.int64)
        np.subtract(starts[1:], 1, out=ends[:-1])
        ends[-1:] = n - 1
        act_day = _day_column(self, "act_day")
        made = _day_column(self, "recorded_day")
        first_day = act_day[starts]
        cols: dict[str, Any] = {
            "event_id": self.event_id[starts],
            "day": first_day,
            # Records made on their act day (the one array holds both columns: a history
            # recorded without delay) were made earliest on the first act day; others
            # are searched for their earliest.
            "recorded_day": first_day if made is act_day else np.minimum.reduceat(made, starts),
            "source": constant_labels(self.source, k),
            "kind": constant_labels(self.kind, k),
            "entity_type": constant_labels(self.entity_type, k),
            "true_actor": nullable(self.true_actor[starts], k),
            "attributed_to": nullable(self.attributed_to[starts], k),
            "records": np.diff(starts, append=n).astype(np.int32),
            "last_day": act_day[ends],
        }
        for name, values in self.extra.items():
            if name in ("recorded_day", "act_day"):
                continue
            if isinstance(values, pa.Array):
                cols[name] = values.take(pa.array(starts))
            elif name == "amount":
                cols[name] = np.add.reduceat(np.asarray(values, np.float64), starts)
            elif name == "match_score":
                cols[name] = np.minimum.reduceat(values, starts)
            else:
                cols[name] = np.asarray(values)[starts]
        return cols


class EventLog:
    """Numbers recorded events and streams them to a sink.

    Args:
        sink: Called with each batch once its day is over (e.g. a database append).
        first_id: The first event id (a region's city: its index times
            :attr:`CITY_ID_STRIDE`).
    """

    #: Event ids of a region's city start at its index times this.
    CITY_ID_STRIDE = 1 << 40

    def __init__(self, sink: Callable[[EventBatch], None] | None = None, first_id: int = 0) -> None:
        self.sink = sink
        self.next_id = first_id
        self.today: list[EventBatch] = []
        self.counts: dict[tuple[str, str], int] = {}
        self._joined: tuple[int, list[EventBatch]] = (0, [])  # (batches seen, by_kind())

    def record(
        self,
        day: int,
        source: str,
        kind: str,
        true_actor: np.ndarray,
        attributed_to: np.ndarray,
        entity_type: str = "person",
        bundle_starts: np.ndarray | None = None,
        **extra: np.ndarray | pa.Array,
    ) -> EventBatch:
        """Record a batch of events; returns it with ``event_id`` filled in.

        ``bundle_starts``: the first row of each run of rows that are one *bundle*: records
        that no reader tells apart (a person's records of one kind from before the run,
        none of which leaves any policy's sight during the run). A bundle is one event:
        its rows share one id, the readers of the day's batches see each record, and the
        events table stores one row for it with its number of ``records`` (see
        :meth:`EventBatch.columns`). Rows of a bundle are in act-day order.
        """
        true_actor, attributed_to = _entity_ids(true_actor), _entity_ids(attributed_to)
        if true_actor.shape != attributed_to.shape:
            raise ValueError("true_actor and attributed_to must have the same length")
        n = len(true_actor)
        if bundle_starts is None:
            ids = np.arange(self.next_id, self.next_id + n, dtype=np.int64)
            k = n
        else:
            # int32 while rows are fewer than 2**31 (a history's tens of millions of rows
            # are held until the day ends; half the bytes of int64).
            bundle_starts = np.asarray(bundle_starts).astype(
                np.int32 if n <= np.iinfo(np.int32).max else np.int64, copy=False
            )
            k = len(bundle_starts)
            # (Compared as neighbours: a difference would be an int64 array of k rows.)
            if n and (
                k == 0 or bundle_starts[0] != 0 or (bundle_starts[1:] <= bundle_starts[:-1]).any()
            ):
                raise ValueError("bundle_starts must start at 0 and increase")
            # Each row's id, counted up from the first at every start (a history's tens
            # of millions of rows: several times faster than np.repeat over the bundles).
            ids = np.zeros(n, dtype=np.int64)
            ids[bundle_starts[1:]] = 1
            ids[:1] = self.next_id
            np.cumsum(ids, out=ids)
        batch = EventBatch(
            day=day,
            source=source,
            kind=kind,
            entity_type=entity_type,
            true_actor=true_actor,
            attributed_to=attributed_to,
            event_id=ids,
            # Arrow arrays (e.g. nullable strings) pass through unconverted.
            extra={k: v if isinstance(v, pa.Array) else np.asarray(v) for k, v in extra.items()},
            bundle_starts=bundle_starts,
        )
        self.next_id += k
        self.counts[(source, kind)] = self.counts.get((source, kind), 0) + n
        self.today.append(batch)
        return batch

    def by_kind(self) -> list[EventBatch]:
        """Today's batches, those of one kind from one source joined into one.

        Batches join when they share source, kind, entity type and extra columns (names
        and array types); the joined batch keeps the rows in recording order, its ``day``
        is the earliest act day among them, and each row's recording day is in the extra
        ``recorded_day`` (filled with the act day where a batch had none, as the events
        table stores it). A batch of records of acts from before the run (with an
        ``act_day`` column: a warm start's history, delivered on day 0) is never joined:
        it is one batch already, and it holds most of day 0's records, which a join would
        copy once more at the day's peak of memory. Groups come in the order of their
        first batch. Computed once per day and kept until another batch is recorded.
        Cost O(events today, histories aside).
        """
        seen, joined = self._joined
        if seen != len(self.today):
            groups: dict[Any, list[EventBatch]] = {}
            for i, batch in enumerate(self.today):
                key = i if "act_day" in batch.extra else _join_key(batch)
                groups.setdefault(key, []).append(batch)
            joined = [parts[0] if len(parts) == 1 else _join(parts) for parts in groups.values()]
            self._joined = (len(self.today), joined)
        return joined

    def end_day(self) -> None:
        """Hand today's batches to the sink and start a new day.

        Each batch is let go once it is handed over, so that its arrays are freed as soon
        as the sink no longer needs them: a day 0 holds a warm start's whole history, and
        the sink's rows (a bundle's row per event) would otherwise be built while every
        batch is still held, which is the run's peak of memory.
        """
        batches, self.today = self.today, []
        self._joined = (0, [])
        if self.sink is None:
            return
        batches.reverse()  # popped from the end: handed over in recording order
        while batches:
            batch = batches.pop()
            if len(batch):
                self.sink(batch)


def _entity_ids(ids: np.ndarray) -> np.ndarray:
    """Entity ids as signed integers: int32 as given (a warm start's history, most of day
    0's records, is kept half as wide), anything else as int64."""
    ids = np.asarray(ids)
    return ids if ids.dtype == np.int32 else ids.astype(np.int64, copy=False)


def _join_key(batch: EventBatch) -> tuple[Any, ...]:
    columns = tuple(
        # Types themselves (hashable), not their names: str(dtype) costs a microsecond,
        # and a day joins over a hundred batches.
        (name, type(v), v.type if isinstance(v, pa.Array) else v.dtype)
        for name, v in sorted(batch.extra.items())
        if name not in ("recorded_day", "act_day")
    )
    return (batch.source, batch.kind, batch.entity_type, columns)


def _day_column(batch: EventBatch, name: str) -> np.ndarray:
    """The batch's day column ``name`` as int32, its ``day`` on every row where it has none
    (made only then: a day's history holds tens of millions of rows)."""
    values = batch.extra.get(name)
    if values is None:
        return np.full(len(batch), batch.day, np.int32)
    # The array itself when it is int32 already (np.asarray(values, np.int32) may make a
    # new view of it, and a bundle's columns test whether two columns are one array).
    values = np.asarray(values)
    return values if values.dtype == np.int32 else values.astype(np.int32)


def _join(parts: list[EventBatch]) -> EventBatch:
    """One batch holding the rows of ``parts`` (same key, see :func:`_join_key`) in order."""
    first = parts[0]
    extra: dict[str, Any] = {}
    for name, value in first.extra.items():
        if name in ("recorded_day", "act_day"):
            continue  # below: some parts may have none
        values = [p.extra[name] for p in parts]
        if isinstance(value, pa.Array):
            extra[name] = pa.concat_arrays(values)
        else:
            extra[name] = np.concatenate(values)
    extra["recorded_day"] = np.concatenate([_day_column(p, "recorded_day") for p in parts])
    if any("act_day" in p.extra for p in parts):
        extra["act_day"] = np.concatenate([_day_column(p, "act_day") for p in parts])
    return EventBatch(
        day=min(p.day for p in parts),
        source=first.source,
        kind=first.kind,
        entity_type=first.entity_type,
        true_actor=np.concatenate([p.true_actor for p in parts]),
        attributed_to=np.concatenate([p.attributed_to for p in parts]),
        event_id=np.concatenate([p.event_id for p in parts]),
        extra=extra,
    )
