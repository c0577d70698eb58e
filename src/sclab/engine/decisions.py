"""Decisions the system takes about people and companies, with their provenance.

Core object:
    :class:`DecisionLog`: collects rows for the ``sanctions``, ``score_changes`` and
        ``list_entries`` tables as columnar batches and hands them to a sink (the run
        database) at the end of each day. Every row names the rule (or component) behind
        it and the recorded event it rests on, and whether it is wrongful.

``wrongful`` is decided by whoever records the decision, from the events it rests on: true
when any of them is attributed to someone other than its true actor, has no true actor
(e.g. a face on a bus advertisement), or carries a record error (``events.error``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sclab.columns import constant_labels, nullable

Sink = Callable[[str, dict[str, Any]], None]


class DecisionLog:
    """Sanctions, score changes and list entries, streamed to a sink.

    Args:
        sink: Called as ``sink(table, columns)`` for each batch at the end of the day.
    """

    def __init__(self, sink: Sink | None = None) -> None:
        self.sink = sink
        self._today: list[tuple[str, dict[str, Any]]] = []
        self.next_sanction_id = 0
        self.next_entry_id = 0  # list_entries.entry_id, shared by all policies of a run
        self.next_change_id = 0  # score_changes.change_id
        self.totals: dict[tuple[str, str, str], int] = {}

    def sanction(
        self,
        day: int,
        entity_id: np.ndarray,
        *,
        system: str,
        domain: str,
        kind: str,
        rule_id: str,
        event_id: np.ndarray | None,
        wrongful: np.ndarray,
        entity_type: str = "person",
    ) -> np.ndarray:
        """Record one sanction per entity; returns their sanction ids."""
        entity_id = np.asarray(entity_id, dtype=np.int64)
        n = len(entity_id)
        ids = np.arange(self.next_sanction_id, self.next_sanction_id + n, dtype=np.int64)
        self.next_sanction_id += n
        if n == 0:
            return ids
        self._today.append(
            (
                "sanctions",
                {
                    "sanction_id": ids,
                    "entity_id": entity_id,
                    "entity_type": constant_labels(entity_type, n),
                    "system": constant_labels(system, n),
                    "day": np.full(n, day, np.int32),
                    "domain": constant_labels(domain, n),
                    "kind": constant_labels(kind, n),
                    "rule_id": constant_labels(rule_id, n),
                    "event_id": nullable(event_id, n),
                    "wrongful": np.asarray(wrongful, dtype=bool),
                },
            )
        )
        key = (system, domain, kind)
        self.totals[key] = self.totals.get(key, 0) + n
        return ids

    def score_changes(
        self,
        day: int,
        entity_id: np.ndarray,
        *,
        system: str,
        score: str,
        rule_id: str,
        delta: np.ndarray,
        value: np.ndarray,
        event_id: np.ndarray | None,
        wrongful: np.ndarray,
        entity_type: str = "person",
    ) -> np.ndarray:
        """Record one score change per entity; returns their change ids.

        ``event_id`` < 0 (or None) means the change rests on no single recorded event.
        """
        entity_id = np.asarray(entity_id, dtype=np.int64)
        n = len(entity_id)
        ids = np.arange(self.next_change_id, self.next_change_id + n, dtype=np.int64)
        self.next_change_id += n
        if n == 0:
            return ids
        self._today.append(
            (
                "score_changes",
                {
                    "change_id": ids,
                    "entity_id": entity_id,
                    "entity_type": constant_labels(entity_type, n),
                    "system": constant_labels(system, n),
                    "score": constant_labels(score, n),
                    "day": np.full(n, day, np.int32),
                    "delta": np.asarray(delta, np.float64),
                    "value": np.asarray(value, np.float64),
                    "rule_id": constant_labels(rule_id, n),
                    "event_id": nullable(event_id, n),
                    "wrongful": np.asarray(wrongful, dtype=bool),
                },
            )
        )
        return ids

    def rows(self, table: str, columns: dict[str, Any]) -> None:
        """Record a batch for ``list_entries`` or ``decision_events``."""
        if len(next(iter(columns.values()))):
            self._today.append((table, columns))

    def end_day(self) -> None:
        if self.sink is not None:
            for table, columns in self._today:
                self.sink(table, columns)
        self._today = []
