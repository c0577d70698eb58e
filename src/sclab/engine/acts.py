"""Ground truth and the moments where the system bites.

Core objects:
    :class:`Acts`: a batch of true acts of one kind on one day (who really did what).
    :class:`ActLog`: today's true acts, for sensors to record (with errors) and for
        behaviour to learn from; running totals for calibration.
    :class:`Moments`: a batch of resource moments (buying a flight ticket, applying for a
        school place...), each with an outcome the policy stage may change.
    :class:`MomentLog`: today's moments; written to ``resource_moments`` at the end of day.
    :class:`Aggregates`: per-entity counters for high-volume streams (posts, purchases) that
        are stored as totals rather than one row per event.

True acts never go to the database as such: what the database holds is what the system
recorded (``events``) with the truth beside it. Acts live for one day, in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Outcomes of a resource moment, decided by the policy stage (default: allowed).
ALLOWED, BLOCKED, PRICED_UP, FAVOURED = 0, 1, 2, 3
OUTCOMES = ("allowed", "blocked", "priced_up", "favoured")


@dataclass
class Acts:
    """True acts of one kind on one day."""

    day: int
    source: str
    kind: str
    actor: np.ndarray  # int64 person_id or company_id
    entity_type: str = "person"
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.actor.shape[0])


class ActLog:
    """Today's true acts, by kind, plus totals over the run."""

    def __init__(self) -> None:
        self.today: list[Acts] = []
        self.totals: dict[str, int] = {}

    def add(
        self,
        day: int,
        source: str,
        kind: str,
        actor: np.ndarray,
        entity_type: str = "person",
        **extra: np.ndarray,
    ) -> Acts:
        """Add a batch of true acts."""
        acts = Acts(
            day, source, kind, np.asarray(actor, dtype=np.int64), entity_type,
            {k: np.asarray(v) for k, v in extra.items()},
        )  # fmt: skip
        self.today.append(acts)
        self.totals[kind] = self.totals.get(kind, 0) + len(acts)
        return acts

    def of_kind(self, *kinds: str) -> Iterator[Acts]:
        """Today's batches of the given kinds (all kinds if none given)."""
        for acts in self.today:
            if not kinds or acts.kind in kinds:
                yield acts

    def end_day(self) -> None:
        self.today = []


@dataclass
class Moments:
    """Resource moments of one kind on one day, with outcomes the policy stage may set."""

    day: int
    source: str
    kind: str
    actor: np.ndarray  # int64 person_id (or company_id)
    entity_type: str = "person"
    outcome: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint8))
    price_factor: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))
    decided_by: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.actor.shape[0])

    def columns(self, first_id: int) -> dict[str, Any]:
        """Columns for the ``resource_moments`` table."""
        import pyarrow as pa

        n = len(self)
        return {
            "moment_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "day": np.full(n, self.day, np.int32),
            "kind": pa.array([self.kind] * n).dictionary_encode(),
            "entity_type": pa.array([self.entity_type] * n).dictionary_encode(),
            "actor": self.actor,
            "outcome": pa.DictionaryArray.from_arrays(
                pa.array(self.outcome.astype(np.int32)), pa.array(list(OUTCOMES))
            ),
            "price_factor": self.price_factor,
        }


class MomentLog:
    """Today's resource moments; handed to a sink at the end of the day.

    Args:
        sink: Called with each day's batches (e.g. a database append).
        record_kinds: Kinds stored one row per moment; other kinds are only counted
            (bike and car rentals happen daily for millions of people).
    """

    def __init__(
        self,
        sink: Callable[[Moments, int], None] | None = None,
        record_kinds: set[str] | None = None,
    ) -> None:
        self.sink = sink
        self.record_kinds = record_kinds
        self.today: list[Moments] = []
        self.next_id = 0
        self.totals: dict[tuple[str, str], int] = {}

    def add(
        self, day: int, source: str, kind: str, actor: np.ndarray, entity_type: str = "person"
    ) -> Moments:
        """Add attempts; each starts allowed at price factor 1."""
        actor = np.asarray(actor, dtype=np.int64)
        m = Moments(
            day, source, kind, actor, entity_type,
            np.zeros(len(actor), np.uint8), np.ones(len(actor), np.float32),
        )  # fmt: skip
        self.today.append(m)
        return m

    def of_kind(self, *kinds: str) -> Iterator[Moments]:
        for m in self.today:
            if not kinds or m.kind in kinds:
                yield m

    def end_day(self) -> None:
        for m in self.today:
            for code, label in enumerate(OUTCOMES):
                k = int((m.outcome == code).sum())
                if k:
                    self.totals[(m.kind, label)] = self.totals.get((m.kind, label), 0) + k
            stored = self.record_kinds is None or m.kind in self.record_kinds
            if self.sink is not None and len(m) and stored:
                self.sink(m, self.next_id)
                self.next_id += len(m)
        self.today = []


class Aggregates:
    """Per-entity counters and amounts for high-volume act kinds.

    Args:
        sizes: Entities per type, e.g. ``{"person": n}``.
    """

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.counts: dict[tuple[str, str], np.ndarray] = {}
        self.amounts: dict[tuple[str, str], np.ndarray] = {}

    def add(
        self,
        kind: str,
        who: np.ndarray,
        amount: np.ndarray | None = None,
        entity_type: str = "person",
    ) -> None:
        """Count one act per entry of ``who`` (repeats count repeatedly).

        Cost O(k log k) for k entries: only the people concerned are touched, never the
        whole population.
        """
        n = self.sizes[entity_type]
        key = (entity_type, kind)
        if key not in self.counts:
            self.counts[key] = np.zeros(n, np.uint32)
        who = np.asarray(who, dtype=np.int64)
        if len(who) == 0:
            if amount is not None and key not in self.amounts:
                self.amounts[key] = np.zeros(n, np.float64)
            return
        order = np.argsort(who, kind="stable")
        sorted_who = who[order]
        starts = np.flatnonzero(np.r_[True, sorted_who[1:] != sorted_who[:-1]])
        people = sorted_who[starts]
        self.counts[key][people] += np.diff(np.r_[starts, len(who)]).astype(np.uint32)
        if amount is not None:
            if key not in self.amounts:
                self.amounts[key] = np.zeros(n, np.float64)
            sums = np.add.reduceat(np.asarray(amount, dtype=np.float64)[order], starts)
            self.amounts[key][people] += sums

    def rows(self) -> Iterator[dict[str, Any]]:
        """Non-zero aggregates as column batches for the ``aggregates`` table."""
        import pyarrow as pa

        for (entity_type, kind), counts in self.counts.items():
            who = np.flatnonzero(counts)
            amounts = self.amounts.get((entity_type, kind))
            yield {
                "entity_id": who.astype(np.int64),
                "entity_type": pa.array([entity_type] * len(who)).dictionary_encode(),
                "kind": pa.array([kind] * len(who)).dictionary_encode(),
                "count": counts[who].astype(np.int64),
                "amount": amounts[who] if amounts is not None else pa.nulls(len(who)),
            }
