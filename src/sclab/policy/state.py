"""Per-entity state that a compiled policy keeps: sliding-window counters and list books.

Core objects:
    :class:`WindowCounter`: recorded events per entity over a sliding window, with the
        number of erroneous ones beside it (for the but-for ``wrongful`` test) and the event
        ids still inside the window (for provenance).
    :class:`ListBook`: the open entries of one blacklist or redlist as compact arrays sized
        to the number of open entries (not to the population), with a slot per entity.

Cost model: a counter costs O(events added + events expiring) per day and 4 bytes per
entity (two uint16 arrays); a list book costs O(entries opened + closed) per day, O(open
entries) for the daily expiry check, and 4 bytes per entity (the slot array).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sclab.arrays import stable_order
from sclab.policy.schema import FactorScore, PointsScore


def search_sorted(
    haystack: np.ndarray, needles: np.ndarray, side: Literal["left", "right"] = "left"
) -> np.ndarray:
    """``np.searchsorted(haystack, needles, side)`` without widening a narrow haystack.

    NumPy searches in the common type of both arrays, so int64 needles in an int32 haystack
    copy the whole haystack to int64 on every call (about 2 ms for 3.9M ids, eight times
    the search itself). Needles that fit the haystack's type are narrowed instead: O(k).
    """
    needles = np.asarray(needles)
    if (
        len(needles)
        and needles.dtype != haystack.dtype
        and needles.dtype.kind in "iu"
        and haystack.dtype.kind in "iu"
    ):
        info = np.iinfo(haystack.dtype)
        if info.min <= needles.min() and needles.max() <= info.max:
            needles = needles.astype(haystack.dtype)
    return np.searchsorted(haystack, needles, side=side)


def count_by_entity(
    entity: np.ndarray,
    n: int,
    flags: np.ndarray | None = None,
    weight: np.ndarray | None = None,
    where: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(unique entities, events per entity, flagged events per entity), O(k log k) for
    ``k`` rows, O(k + n) by a table of the ``n`` entities when the rows are that many.

    ``weight``: per row, how many events it stands for (default 1). ``where``: per row,
    whether it is counted at all (default: every row).
    """
    if len(entity) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    if where is not None and (4 * len(entity) < n or weight is not None):
        entity = entity[where]
        flags = None if flags is None else flags[where]
        weight = None if weight is None else weight[where]
        where = None
    if 4 * len(entity) < n:
        return _count_sorted(entity, flags, weight)
    # Many rows (a warm start's history): a count per entity beats any sort. Rows left
    # out (records already out of a window) are usually the fewer, so they are counted to
    # be taken off rather than the others copied; flagged rows (erroneous records) are
    # few, and counted alone. Weighted counts in float64 are exact (far below 2**53).
    if weight is None:
        present = np.bincount(entity, minlength=n)
        if where is not None:
            present -= np.bincount(entity[~where], minlength=n)
        people = present.nonzero()[0]
        counts = present[people]
    else:
        people = np.bincount(entity, minlength=n).nonzero()[0]
        counts = np.bincount(entity, weights=weight, minlength=n)[people].astype(np.int64)
    if flags is None:
        flagged = np.zeros(len(people), np.int64)
    else:
        marked = np.flatnonzero(flags if where is None else flags & where)
        flagged = np.bincount(
            entity[marked], weights=None if weight is None else weight[marked], minlength=n
        )[people].astype(np.int64, copy=False)
    return people.astype(entity.dtype, copy=False), counts, flagged


def _count_sorted(
    entity: np.ndarray, flags: np.ndarray | None, weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`count_by_entity` by runs of equal entities, sorting the rows first if they
    are not in order."""
    if len(entity) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    # The rows mostly come sorted by entity (a day's records, a warm start's history):
    # the stable sort (timsort) merges such runs in about linear time, and none is needed
    # when they are sorted already.
    order = None if is_sorted(entity) else np.argsort(entity, kind="stable")
    e = entity if order is None else entity[order]
    starts = run_starts(e)
    if weight is None:
        counts = run_ends(starts, len(e)) - starts
        w = None
    else:
        w = (weight if order is None else weight[order]).astype(np.int64)
        counts = np.add.reduceat(w, starts)
    if flags is None:
        flagged = np.zeros(len(starts), np.int64)
    else:
        f = flags if order is None else flags[order]
        flagged = (
            np.add.reduceat(f, starts, dtype=np.int64)
            if w is None
            else np.add.reduceat(f.astype(np.int64) * w, starts)
        )
    return e[starts], counts, flagged


def is_sorted(values: np.ndarray) -> bool:
    """Whether ``values`` never decrease (one pass, no copy of the values)."""
    return len(values) < 2 or bool(np.all(values[1:] >= values[:-1]))


def run_starts(values: np.ndarray) -> np.ndarray:
    """Positions of the rows that start a run of equal values (the first row always does)."""
    first = np.empty(len(values), bool)
    first[:1] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return first.nonzero()[0]


def run_ends(starts: np.ndarray, n: int) -> np.ndarray:
    """Where each run of :func:`run_starts` ``starts`` of ``n`` rows ends (exclusive)."""
    ends = np.empty(len(starts), np.int64)
    ends[:-1] = starts[1:]
    ends[-1:] = n
    return ends


def _runs(
    entity: np.ndarray,
    wrongful: np.ndarray,
    event_id: np.ndarray,
    where: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """The rows (those where ``where`` holds, default all) with consecutive rows of one
    (entity, event id, flag) as one row with a weight: the records of a bundle (one event
    id, consecutive, see sclab.engine.events) are kept once. Weight None: every row is its
    own. (The rows are kept as given when every row is its own: nothing writes to them
    once queued.)

    With ``where``, the runs are found among all the rows and the rows picked once per
    run, instead of picking every row first. The runs are the same as long as ``where``
    takes or leaves a bundle's rows together, as a window does: they leave it on one day
    (sclab.sensors.records bundles records that stay in sight for the whole run, or
    were made on one day).
    """
    wrongful = wrongful.astype(bool, copy=False)
    if where is None and len(entity) < 2:
        return entity, wrongful, event_id, None
    same = entity[1:] == entity[:-1]
    same &= event_id[1:] == event_id[:-1]
    same &= wrongful[1:] == wrongful[:-1]
    if where is None:
        if not same.any():
            return entity, wrongful, event_id, None
        starts = np.concatenate(([0], (~same).nonzero()[0] + 1))
        weight = (run_ends(starts, len(entity)) - starts).astype(np.uint32)
    else:
        # Row r + 1 goes on with row r's run if both are picked and the same; a picked
        # row that does not go on with the one before starts a run, and one that the
        # next does not go on with ends it.
        same &= where[:-1]
        same &= where[1:]
        first = where.copy()
        first[1:] &= ~same
        starts = np.flatnonzero(first)
        if len(starts) == np.count_nonzero(where):
            weight = None
        else:
            last = where.copy()
            last[:-1] &= ~same
            weight = (np.flatnonzero(last) - starts + 1).astype(np.uint32)
    return entity[starts], wrongful[starts], event_id[starts], weight


@dataclass
class WindowCounter:
    """Events per entity within the last ``window`` days.

    ``end``: the run's last day + 1, if known: events that leave the window only then or
    later are kept together (they never expire in the run), so that a person's bundled
    records from before the run are one row whatever days they were made on.
    """

    n: int
    window: int
    end: int | None = None
    count: np.ndarray = field(init=False)
    bad: np.ndarray = field(init=False)
    # expiry day -> (entities, wrongful flags, event ids, weights or None) added on
    # day - window; the records of a bundle are one row with their number as its weight
    _queue: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]]] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.count = np.zeros(self.n, np.uint16)
        self.bad = np.zeros(self.n, np.uint16)

    def add(
        self,
        day: int,
        entity: np.ndarray,
        wrongful: np.ndarray,
        event_id: np.ndarray,
        made: np.ndarray | None = None,
    ) -> np.ndarray:
        """Count events (an event dated ``day`` leaves the window on ``day + window``).

        ``made``: per event, the day its record was made, for records made before ``day``
        (a warm start's, delivered on day 0): each counts from its own day, so one made
        ``window`` days or more before ``day`` is not counted at all and the others leave
        the window on ``made + window``. Returns the distinct entities touched.
        """
        if made is not None:
            return self._add_dated(day, entity, wrongful, event_id, made)
        people, counts, bad = count_by_entity(entity, self.n, wrongful)
        if len(people) == 0:
            return people
        # Saturating add: a uint16 counter stops at 65535 rather than wrapping.
        self.count[people] = np.minimum(self.count[people].astype(np.int64) + counts, 65535)
        self.bad[people] = np.minimum(self.bad[people].astype(np.int64) + bad, 65535)
        self._queue.setdefault(day + self.window, []).append(_runs(entity, wrongful, event_id))
        return people

    def _add_dated(
        self,
        day: int,
        entity: np.ndarray,
        wrongful: np.ndarray,
        event_id: np.ndarray,
        made: np.ndarray,
    ) -> np.ndarray:
        """:meth:`add` for records made on past days ``made`` (grouped by expiry day)."""
        # (In ``made``'s own type: days fit int32, half the bytes of int64 per record.)
        leave = made + self.window
        if self.end is not None:
            np.minimum(leave, self.end, out=leave)
        inside = leave > day  # (those made ``window`` days or more ago are not counted)
        n_inside = int(np.count_nonzero(inside))
        if n_inside == 0:
            return np.empty(0, np.int64)
        whole = n_inside == len(leave)
        people, counts, bad = count_by_entity(
            entity, self.n, wrongful, where=None if whole else inside
        )
        self.count[people] = np.minimum(self.count[people].astype(np.int64) + counts, 65535)
        self.bad[people] = np.minimum(self.bad[people].astype(np.int64) + bad, 65535)
        # Queued by the day each record leaves, those days in order, each day's records in
        # their order. Most records of a long window stay until the end of the run: they
        # are taken by a mask in their order, and only the others are sorted by day.
        stays = inside & (leave >= self.end) if self.end is not None else None
        goes = inside if stays is None else inside & ~stays
        at = np.flatnonzero(goes)
        if len(at):
            at = at[stable_order(leave[at])]
            when = leave[at]
            ent, wrong, ev = entity[at], wrongful[at], event_id[at]
            cuts = run_starts(when)
            for lo, hi in zip(cuts, run_ends(cuts, len(at)), strict=True):
                self._queue.setdefault(int(when[lo]), []).append(
                    _runs(ent[lo:hi], wrong[lo:hi], ev[lo:hi])
                )
        if stays is not None and stays.any():
            assert self.end is not None
            self._queue.setdefault(self.end, []).append(
                _runs(entity, wrongful, event_id, where=stays)
            )
        return people

    def expire(self, day: int) -> None:
        """Drop the events that leave the window on ``day``."""
        for entity, wrongful, _, weight in self._queue.pop(day, []):
            people, counts, bad = count_by_entity(entity, self.n, wrongful, weight)
            self.count[people] -= counts.astype(np.uint16)
            self.bad[people] -= bad.astype(np.uint16)

    def events_of(self, entities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entity, event id) pairs of all events in the window of the given entities
        (a bundle's records, one event, are one pair), in the order they are queued."""
        parts_e, parts_id = [], []
        # Many entities (an assessment): one n-byte mask, then a lookup per queued event,
        # O(n + events in the window). Few (a threshold crossed today): a sorted search.
        few = len(entities) * 64 < self.n
        if not few:
            mask = np.zeros(self.n, bool)
            mask[entities] = True
        for entity, event_id in self._queued():
            hit = np.isin(entity, entities) if few else mask[entity]
            if hit.any():
                parts_e.append(entity[hit])
                parts_id.append(event_id[hit])
        if not parts_e:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(parts_e), np.concatenate(parts_id)

    #: Rows of queued batches that :meth:`_queued` joins into one before they are read.
    JOIN_ROWS = 1 << 16

    def _queued(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The queued events' (entities, event ids), in the queue's order, consecutive
        batches joined up to :attr:`JOIN_ROWS` rows: a long window holds a batch for
        every day of the run, most of a few hundred rows, and reading each alone costs
        a few array calls apiece (a batch of more rows comes alone)."""
        entity: list[np.ndarray] = []
        event_id: list[np.ndarray] = []
        rows = 0
        for batches in self._queue.values():
            for e, _, ev, _ in batches:
                if entity and rows + len(e) > self.JOIN_ROWS:
                    yield _joined(entity), _joined(event_id)
                    entity, event_id, rows = [], [], 0
                entity.append(e)
                event_id.append(ev)
                rows += len(e)
        if entity:
            yield _joined(entity), _joined(event_id)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    """The parts as one array (the part itself when alone)."""
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# Why an entry ended (list_entries.end_reason); "lifted": a rule's ``lift`` effect.
END_REASONS = (
    "expired", "performed", "objection_upheld", "appeal_upheld", "repaired", "still_listed",
    "lifted",
)  # fmt: skip
NO_END = np.iinfo(np.int32).max


@dataclass
class ListBook:
    """Open entries of one list."""

    n: int
    slot: np.ndarray = field(init=False)  # int32 per entity, -1 if not listed
    listed: np.ndarray = field(init=False)  # bool per entity (published to the view)
    # int32 per entity: start of the current entry (may be negative: a listing from before
    # the run), -1 if not listed; read it where ``listed`` is true
    since: np.ndarray = field(init=False)
    cap: int = 1024

    def __post_init__(self) -> None:
        self.slot = np.full(self.n, -1, np.int32)
        self.listed = np.zeros(self.n, bool)
        self.since = np.full(self.n, -1, np.int32)
        self.entity = np.full(self.cap, -1, np.int64)
        self.start = np.zeros(self.cap, np.int32)
        self.end = np.full(self.cap, NO_END, np.int32)  # scheduled end day
        self.reason = np.zeros(self.cap, np.uint8)  # END_REASONS index for the scheduled end
        self.rule = np.zeros(self.cap, np.int16)
        self.event = np.full(self.cap, -1, np.int64)
        self.wrongful = np.zeros(self.cap, bool)
        self.extended = np.zeros(self.cap, bool)
        self.entry = np.full(self.cap, -1, np.int64)  # list_entries.entry_id
        self.free = list(range(self.cap - 1, -1, -1))

    def provenance(self, entities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For listed ``entities``: the event behind each one's entry, and whether the
        entry is wrongful (what a company's listing tells another city of a region)."""
        slot = self.slot[entities]
        return self.event[slot], self.wrongful[slot]

    def _grow(self, need: int) -> None:
        while len(self.free) < need:
            old = self.cap
            self.cap *= 2
            for name, fill in (
                ("entity", -1), ("start", 0), ("end", NO_END), ("reason", 0), ("rule", 0),
                ("event", -1), ("wrongful", False), ("extended", False), ("entry", -1),
            ):  # fmt: skip
                arr = getattr(self, name)
                new = np.full(self.cap, fill, arr.dtype)
                new[:old] = arr
                setattr(self, name, new)
            self.free = list(range(self.cap - 1, old - 1, -1)) + self.free

    def open(
        self,
        day: int | np.ndarray,
        entity: np.ndarray,
        end: np.ndarray,
        reason: np.ndarray,
        rule: int,
        event: np.ndarray,
        wrongful: np.ndarray,
        first_entry_id: int,
    ) -> np.ndarray:
        """Open entries for entities not listed yet; returns the mask of those opened.

        ``day`` is the start day, one for all or one per entity (entries resting on records
        made before the run start on a past, negative day). Opened entries get entry ids
        ``first_entry_id, first_entry_id + 1, ...`` in order.
        """
        fresh = self.slot[entity] < 0
        entity = entity[fresh]
        if len(entity) == 0:
            return fresh
        if np.ndim(day):
            day = np.asarray(day, np.int32)[fresh]
        self._grow(len(entity))
        slots = np.array([self.free.pop() for _ in range(len(entity))], dtype=np.int32)
        self.slot[entity] = slots
        self.listed[entity] = True
        self.since[entity] = day
        self.entity[slots] = entity
        self.start[slots] = day
        self.end[slots] = end[fresh]
        self.reason[slots] = reason[fresh]
        self.rule[slots] = rule
        self.event[slots] = event[fresh]
        self.wrongful[slots] = wrongful[fresh]
        self.extended[slots] = False
        self.entry[slots] = np.arange(first_entry_id, first_entry_id + len(slots))
        return fresh

    def reschedule(self, entity: np.ndarray, day: np.ndarray, reason: int) -> None:
        """Move the scheduled end of listed entities earlier (never later)."""
        slots = self.slot[entity]
        ok = slots >= 0
        slots, day = slots[ok], day[ok]
        earlier = day < self.end[slots]
        self.end[slots[earlier]] = day[earlier]
        self.reason[slots[earlier]] = reason

    def due(self, day: int) -> np.ndarray:
        """Slots whose scheduled end is ``day`` (a free slot's end is ``NO_END``)."""
        return np.flatnonzero(self.end == day)

    def close(self, slots: np.ndarray) -> None:
        entity = self.entity[slots]
        self.slot[entity] = -1
        self.listed[entity] = False
        self.since[entity] = -1
        self.entity[slots] = -1
        self.end[slots] = NO_END
        self.free.extend(int(s) for s in slots)

    def open_slots(self) -> np.ndarray:
        return np.flatnonzero(self.entity >= 0)


@dataclass
class PointsState:
    spec: PointsScore
    value: np.ndarray  # float32
    wrong: np.ndarray  # float32: sum of deltas resting on erroneous events
    grade: np.ndarray  # uint8 index into spec.grades (0 = highest)
    # Latest event that changed the value (provenance), -1 if none: int32 (4 bytes per
    # entity), widened to int64 if event ids ever pass 2**31 - 1.
    last_event: np.ndarray
    restore: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]]


@dataclass
class FactorState:
    """A factor score's values and the inputs it carries between assessments.

    The inputs' running state is kept for participants only (a voluntary score joined by
    four people in ten would otherwise hold 4 to 8 bytes per input for everyone): the
    window counters of events inputs count participant positions, and ``decayed[k][j]``
    and ``last_total[k][j]`` belong to entity ``who[j]``.
    """

    spec: FactorScore
    value: np.ndarray  # float32 per entity, NaN until the first assessment
    grade: np.ndarray  # uint8 per entity
    #: Participating entities, sorted (None: every entity participates).
    who: np.ndarray | None
    hidden: list[WindowCounter | None]  # per input (events inputs only), per participant
    decayed: list[np.ndarray | None]  # per input (platform/posts inputs), per participant
    last_total: list[np.ndarray | None]  # per input (platform/posts inputs), per participant
    last_update: int = -1
    # Per input (``list`` inputs only), per participant: on the other system's list as of
    # the end of yesterday, and whether that entry is wrongful (provenance).
    on_list: list[np.ndarray | None] = field(default_factory=list)
    on_list_wrong: list[np.ndarray | None] = field(default_factory=list)
    on_list_event: list[np.ndarray | None] = field(default_factory=list)  # the entry's record

    @property
    def participants(self) -> int:
        return len(self.value) if self.who is None else len(self.who)

    def positions(self, entities: np.ndarray) -> np.ndarray:
        """Participant positions of ``entities`` (any order), which must all participate.

        A binary search among the participants per entity; for many entities (a warm
        start's history) a table of everyone's position instead, made for the call:
        O(entities + n) without the search's cache misses, and int32 positions (fewer
        than 2**31 participants), half the bytes of the search's.
        """
        if self.who is None:
            return entities
        if 8 * len(entities) < len(self.value):
            return search_sorted(self.who, entities)
        table = np.zeros(len(self.value), np.int32)
        table[self.who] = np.arange(len(self.who), dtype=np.int32)
        return table[entities]

    def lookup(self, entities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions, participates) of any ``entities``: a position is only meaningful where
        the entity participates (elsewhere it is 0)."""
        if self.who is None:
            return entities, np.ones(len(entities), bool)
        at = search_sorted(self.who, entities)
        at[at >= len(self.who)] = 0
        inside = self.who[at] == entities
        at[~inside] = 0
        return at, inside

    def rows(self, lo: int, hi: int) -> slice | np.ndarray:
        """Entity indices of participants ``[lo, hi)`` (a slice when everyone takes part)."""
        return slice(lo, hi) if self.who is None else self.who[lo:hi]


def grade_of(grades: list, value: np.ndarray) -> np.ndarray:
    """Index of the grade band of each value (0 = highest grade)."""
    if not grades:
        return np.zeros(len(value), np.uint8)
    # Grades run high to low: the index is the number of bands whose min the value does
    # not reach (compared in float64; NaN reaches every min: band 0). For many values and
    # the few mins of a policy's grades, one comparison per min: several times faster than
    # a binary search, which also copies float32 values to float64 first. For a few values
    # (a day's changes) the search makes fewer array calls.
    mins = _sorted_mins(tuple(g.min for g in grades if g.min is not None))
    value = np.asarray(value)
    if len(mins) > _FEW_MINS or value.size < _MANY_VALUES:
        idx = len(mins) - np.searchsorted(mins, value, side="right")
        return np.minimum(idx, len(grades) - 1).astype(np.uint8)
    idx = np.zeros(value.shape, np.uint8)
    for m in mins:  # (float64 scalars: the comparison is in float64)
        idx += value < m
    return np.minimum(idx, len(grades) - 1, out=idx)


# grade_of compares many values with up to _FEW_MINS mins, else searches among the mins.
_FEW_MINS = 16
_MANY_VALUES = 4096


@functools.lru_cache(maxsize=256)
def _sorted_mins(mins: tuple[float, ...]) -> np.ndarray:
    """The grades' mins as a sorted float64 array (made once per set of grades; shared,
    so read-only)."""
    out = np.sort(np.array(mins, np.float64))
    out.flags.writeable = False
    return out


def latest_event(who: np.ndarray, entity: np.ndarray, event_id: np.ndarray) -> np.ndarray:
    """Per entity of sorted, distinct ``who``: the latest (largest) of its event ids, or -1.

    ``entity``/``event_id`` are pairs, e.g. from :meth:`WindowCounter.events_of`; event ids
    grow with the day an event was recorded, so the largest is the latest. O(pairs).
    """
    out = np.full(len(who), -1, np.int64)
    if len(entity):
        row = search_sorted(who, entity)
        np.maximum.at(out, row, np.asarray(event_id, np.int64))
    return out
