"""Provenance: the events a decision rests on, and whether it is wrongful.

Core objects:
    :func:`erroneous`: per recorded event, whether it is erroneous: attributed to someone
        other than its true actor, without a true actor, or carrying a record error.
    :class:`Targets`: the entities a rule fires for, each with the recorded event the
        decision rests on and its wrongful flag.
    :class:`Provenance`: the ``wrongful`` test of decisions that rest on more than one
        event (``docs/policies.md``): a threshold decision is wrongful when, without the
        erroneous events in its window, the threshold would not have been crossed
        (but-for); a grade or score measure when the score without its erroneous
        deductions would not trigger it; a factor score when an erroneous event is in its
        windows or it is on another system's list by a wrongful entry. Also the latest event
        behind a points score, which such decisions name.

A decision resting on one event is wrongful when that event is erroneous (the parts pass
:func:`erroneous` along); a measure resting on a list entry inherits the entry's flag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sclab.engine.events import NO_ENTITY, EventBatch
from sclab.policy.scores import Scores
from sclab.policy.state import WindowCounter, grade_of


def erroneous(batch: EventBatch) -> np.ndarray:
    """Per recorded event: misattributed, without a true actor, or with a record error."""
    bad = batch.attributed_to != batch.true_actor
    bad |= batch.true_actor == NO_ENTITY
    error = batch.extra.get("error")
    if error is not None:
        if isinstance(error, pa.Array):
            if error.null_count < len(error):  # (most batches hold no record error)
                bad[present(error)] = True
        else:
            bad |= np.array([e is not None for e in error], dtype=bool)
    return bad


def present(values: pa.Array) -> np.ndarray:
    """Positions of the entries of ``values`` that are not null, in order.

    Read from the validity bitmap a byte (eight entries) at a time: record errors are a
    few in a thousand, so only the bytes holding one are spread into bits, where a
    bool per entry would be written and read for every event.
    """
    n, start = len(values), values.offset
    bitmap = values.buffers()[0]
    if bitmap is None:  # (no entry is null)
        return np.arange(n)
    first = start // 8
    byte = np.frombuffer(bitmap, np.uint8)[first : (start + n + 7) // 8]
    some = np.flatnonzero(byte)
    row, bit = np.nonzero(np.unpackbits(byte[some], bitorder="little").reshape(-1, 8))
    at = (some[row] + first) * 8 + bit - start
    return at[(at >= 0) & (at < n)]


@dataclass(frozen=True)
class Targets:
    """Entities of type ``entity_type`` a rule fires for; per entity, the event the decision
    rests on (-1: none) and whether it is wrongful. From a single record, also its
    ``ground`` (court cases) and ``made``: the day the record was made, when some were made
    before today (a warm start's records)."""

    entity_type: str
    entity: np.ndarray
    event_id: np.ndarray
    wrongful: np.ndarray
    ground: np.ndarray | None = None
    made: np.ndarray | None = None

    def only(self, keep: np.ndarray) -> Targets:
        """The targets where ``keep`` holds."""
        return Targets(
            self.entity_type, self.entity[keep], self.event_id[keep], self.wrongful[keep],
            None if self.ground is None else self.ground[keep],
            None if self.made is None else self.made[keep],
        )  # fmt: skip


class Provenance:
    """Wrongful flags and latest events of decisions that rest on the policy's scores."""

    def __init__(self, scores: Scores) -> None:
        self.scores = scores

    @staticmethod
    def threshold_wrongful(counter: WindowCounter, who: np.ndarray, above: int) -> np.ndarray:
        """But-for: without its erroneous events, each count would not exceed ``above``."""
        honest = counter.count[who].astype(np.int64) - counter.bad[who]
        return honest <= above

    def last_event(self, sid: str, who: np.ndarray) -> np.ndarray:
        """The latest recorded event that moved a points score (-1 for factor scores)."""
        pts = self.scores.points.get(sid)
        if pts is None:
            return np.full(len(who), -1, np.int64)
        return pts.last_event[who].astype(np.int64)

    def grade_wrongful(self, sid: str, who: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Without erroneous deductions, each entity's grade would not be in ``target``."""
        pts = self.scores.points.get(sid)
        if pts is None:
            return self.factor_wrongful(sid, who)
        honest = grade_of(pts.spec.grades, pts.value[who] - pts.wrong[who])
        in_target = np.zeros(256, bool)  # grades are uint8: a lookup, not np.isin
        in_target[target] = True
        return ~in_target[honest]

    def score_wrongful(self, sid: str, who: np.ndarray, below: float) -> np.ndarray:
        """Without erroneous deductions, each entity's score would not be below ``below``."""
        pts = self.scores.points.get(sid)
        if pts is None:
            return self.factor_wrongful(sid, who)
        return (pts.value[who] - pts.wrong[who]) >= below

    def factor_wrongful(
        self, sid: str, who: np.ndarray, at: np.ndarray | None = None
    ) -> np.ndarray:
        """Whether each entity's factor score rests on an erroneous event in its windows
        (False for entities that do not take part in the score). ``at``: the entities'
        participant positions, when every one takes part and they are known."""
        f = self.scores.factors[sid]
        bad = np.zeros(len(who), bool)
        inside = None
        if at is None:
            at, inside = f.lookup(who)
        for h in f.hidden:
            if h is not None:
                bad |= h.bad[at] > 0
        for wrong in f.on_list_wrong:
            if wrong is not None:  # on another system's list by a wrongful entry
                bad |= wrong[at]
        return bad if inside is None else bad & inside

    def affected_by_errors(self, sid: str, who: np.ndarray) -> np.ndarray:
        """Whether each entity's final score owes something to erroneous events."""
        pts = self.scores.points.get(sid)
        if pts is None:
            return self.factor_wrongful(sid, who)
        return pts.wrong[who] != 0
