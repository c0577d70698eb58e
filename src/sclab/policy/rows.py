"""The rows a policy writes to the store, through the run's decision log.

Core object:
    :class:`Rows`: one policy's ``sanctions``, ``score_changes``, ``list_entries``,
        ``decision_events`` and ``final_scores`` rows, each labelled with the policy's
        system, handed to ``sim.decisions`` (:class:`~sclab.engine.decisions.DecisionLog`),
        which numbers sanctions and score changes and streams the rows to the database.
        A rule's ``lift`` effect writes two rows: the lifted entry's ``list_entries`` row
        (end reason ``lifted``) and a ``sanctions`` row of kind ``lift`` naming the rule,
        the record it rests on and whether that is wrongful (a decision's provenance, which
        the entry's own row, about the listing, cannot hold).
        List entries are numbered across every policy of a run (``entry_id``): the log
        keeps the next number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from sclab.columns import constant_labels, nullable
from sclab.policy.schema import ListSpec
from sclab.policy.state import END_REASONS, FactorState, ListBook, PointsState
from sclab.policy.today import Today

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


class Rows:
    """Writes one policy's decisions; ``rule_ids``: the policy's rules, in order (a list
    book stores a rule as its index)."""

    def __init__(self, system: str, rule_ids: list[str]) -> None:
        self.system = system
        self.rule_ids = rule_ids

    def sanction(
        self,
        today: Today,
        entity: np.ndarray,
        *,
        domain: str,
        kind: str,
        rule_id: str,
        event_id: np.ndarray,
        wrongful: np.ndarray,
        entity_type: str,
    ) -> None:
        today.sim.decisions.sanction(
            today.day, entity, system=self.system, domain=domain, kind=kind, rule_id=rule_id,
            event_id=event_id, wrongful=wrongful, entity_type=entity_type,
        )  # fmt: skip

    def score_changes(
        self,
        today: Today,
        entity: np.ndarray,
        *,
        score: str,
        rule_id: str,
        delta: np.ndarray,
        value: np.ndarray,
        event_id: np.ndarray | None,
        wrongful: np.ndarray,
        entity_type: str,
    ) -> np.ndarray:
        """One row per change; returns their change ids."""
        return today.sim.decisions.score_changes(
            today.day, entity, system=self.system, score=score, rule_id=rule_id, delta=delta,
            value=value, event_id=event_id, wrongful=wrongful, entity_type=entity_type,
        )  # fmt: skip

    def decision_events(
        self, today: Today, table: str, key: np.ndarray, event_id: np.ndarray
    ) -> None:
        """Link rows of ``table`` (by their ``key``) to every event they rest on."""
        today.sim.decisions.rows(
            "decision_events",
            {
                "decision_table": constant_labels(table, len(key)),
                "decision_key": key,
                "event_id": event_id,
            },
        )

    @staticmethod
    def next_entry_id(sim: Simulation) -> int:
        """The ``entry_id`` the next list entry of the run gets."""
        return sim.decisions.next_entry_id

    @staticmethod
    def entries_numbered(sim: Simulation, n: int) -> None:
        """``n`` list entries took the next entry ids."""
        sim.decisions.next_entry_id += n

    def list_entries(
        self,
        sim: Simulation,
        lid: str,
        spec: ListSpec,
        book: ListBook,
        slots: np.ndarray,
        end_day: int | None,
    ) -> None:
        """Rows of the entries in ``slots``, ended on ``end_day`` (None: still open at the
        end of the run, no end day or reason)."""
        n = len(slots)
        if n == 0:
            return
        reasons = pa.DictionaryArray.from_arrays(
            pa.array(book.reason[slots].astype(np.int32), mask=np.full(n, end_day is None)),
            pa.array(list(END_REASONS)),
        )
        sim.decisions.rows(
            "list_entries",
            {
                "entry_id": book.entry[slots],
                "entity_id": book.entity[slots],
                "entity_type": constant_labels(spec.entity, n),
                "system": constant_labels(self.system, n),
                "list": constant_labels(lid, n),
                "start_day": book.start[slots],
                "end_day": pa.array(
                    np.full(n, end_day or 0, np.int32), mask=np.full(n, end_day is None)
                ),
                "end_reason": reasons,
                "rule_id": pa.DictionaryArray.from_arrays(
                    pa.array(book.rule[slots].astype(np.int32)), pa.array(self.rule_ids)
                ),
                "event_id": nullable(book.event[slots], n),
                "wrongful": book.wrongful[slots],
            },
        )

    def final_scores(
        self,
        sim: Simulation,
        sid: str,
        s: PointsState | FactorState,
        members: np.ndarray,
        affected: np.ndarray,
    ) -> None:
        """The end-of-run value and grade of score ``sid`` for the entities ``members``."""
        names = [g.name for g in s.spec.grades]
        sim.decisions.rows(
            "final_scores",
            {
                "entity_id": members.astype(np.int64),
                "entity_type": constant_labels(s.spec.entity, len(members)),
                "system": constant_labels(self.system, len(members)),
                "score": constant_labels(sid, len(members)),
                "value": s.value[members].astype(np.float64),
                "grade": pa.DictionaryArray.from_arrays(
                    pa.array(s.grade[members].astype(np.int32)), pa.array(names)
                )
                if names
                else pa.nulls(len(members), pa.string()),  # a score without grades
                "affected_by_errors": affected,
            },
        )
