"""Decisions the system takes about people and companies, with their provenance.

Core objects:
    :class:`DecisionLog`: collects rows for the ``sanctions``, ``score_changes`` and
        ``list_entries`` tables as columnar batches and hands them to a sink (the run
        database) at the end of each day. Every row names the rule (or component) behind
        it and the recorded event it rests on, and whether it is wrongful.

``wrongful`` is decided by whoever records the decision, from the events it rests on: true
when any of them is attributed to someone other than its true actor, has no true actor
(e.g. a face on a bus advertisement), or carries a record error (``events.error``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

Sink = Callable[[str, dict[str, Any]], None]


@functools.lru_cache(maxsize=4096)
def _one_label(value: str) -> pa.Array:
    # Building a one-word Arrow dictionary costs far more than the rows it labels; a run
    # uses a few hundred distinct labels, so they are made once.
    return pa.array([value])


def constant_labels(value: str, n: int) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), _one_label(value))


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
        event = (
            pa.nulls(n, pa.int64())
            if event_id is None
            else pa.array(np.asarray(event_id, np.int64), mask=np.asarray(event_id) < 0)
        )
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
                    "event_id": event,
                    "wrongful": np.asarray(wrongful, dtype=bool),
                },
            )
        )
        key = (system, domain, kind)
        self.totals[key] = self.totals.get(key, 0) + n
        return ids

    def rows(self, table: str, columns: dict[str, Any]) -> np.ndarray | None:
        """Record a batch for ``score_changes``, ``list_entries`` or ``decision_events``.

        ``score_changes`` rows get their ``change_id`` here (run-wide, in order), which
        is returned so that the caller can link the rows to their events in
        ``decision_events``; other tables return None.
        """
        n = len(next(iter(columns.values())))
        ids = None
        if table == "score_changes":
            ids = np.arange(self.next_change_id, self.next_change_id + n, dtype=np.int64)
            self.next_change_id += n
            columns = {"change_id": ids, **columns}
        if n:
            self._today.append((table, columns))
        return ids

    def end_day(self) -> None:
        if self.sink is not None:
            for table, columns in self._today:
                self.sink(table, columns)
        self._today = []
