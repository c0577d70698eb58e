"""Points scores (Rongcheng style): deltas on recorded events, restoration, grades.

Core objects:
    :class:`Points`: changes points scores: a delta per matching recorded event (or per
        rule effect), applied step by step per entity within the bounds, with a row per
        change, the deductions resting on erroneous events kept aside (``wrong``, for the
        but-for test), deductions restored after ``restore_after_days`` and the grade rules
        fired for those whose grade or score moved.
    :func:`delta_rule_id`: the rule id a points delta's changes carry.
"""

from __future__ import annotations

import numpy as np

from sclab.policy.grades import GradeRules, capped_deltas
from sclab.policy.publish import Standings, report_caught
from sclab.policy.routing import Picked, Route
from sclab.policy.rows import Rows
from sclab.policy.schema import PointsDelta
from sclab.policy.state import PointsState, grade_of, is_sorted, run_ends, run_starts
from sclab.policy.today import Today


def add_wrong(wrong: np.ndarray, entity: np.ndarray, delta: np.ndarray, bad: np.ndarray) -> None:
    """Add to ``wrong`` (per entity) the changes ``delta`` that rest on erroneous events
    (``bad``): only those rows are read, the few a day's changes hold."""
    at = bad.nonzero()[0]
    if len(at):
        np.add.at(wrong, entity[at], delta[at].astype(np.float32))


def _whole(delta: float) -> bool:
    """Whether ``delta`` is a whole number that float32 holds exactly: sums of it in
    float64 are then exact, whatever their order."""
    return float(delta).is_integer() and abs(delta) < 2**24


def delta_rule_id(score_id: str, delta: PointsDelta) -> str:
    """The rule id a points delta's changes carry: its own, or '<score id>:<first kind>'."""
    return delta.rule_id or f"{score_id}:{delta.events.kinds[0]}"


def _steps(delta: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``delta`` from the start of its run (``starts``: the first row
    of each run) to the row, in float64: a running sum of all rows less the running sum
    before the run's first row.

    The runs of several rows are few (an entity with more than one change at once), so
    the running sum before each run's first row is taken at the first rows and copied to
    the few others, instead of being repeated over every row.
    """
    step = np.cumsum(delta, dtype=np.float64)
    before = step - delta  # (the running sum before each row; float64)
    if len(starts) < len(delta):
        later = np.ones(len(delta), bool)
        later[starts] = False
        at = np.flatnonzero(later)
        before[at] = before[starts[np.searchsorted(starts, at, side="right") - 1]]
    return np.subtract(step, before, out=step)


class Points:
    """Changes the points scores ``states`` (by score id)."""

    def __init__(
        self,
        states: dict[str, PointsState],
        rows: Rows,
        standings: Standings,
        grade_rules: GradeRules,
    ) -> None:
        self.states = states
        self.rows = rows
        self.standings = standings
        self.grade_rules = grade_rules

    def routes(self) -> list[Route]:
        """One route per delta: its events change the participant's score."""
        routes = []
        for sid, pts in self.states.items():
            for d in pts.spec.deltas:

                def take(today: Today, p: Picked, sid: str = sid, d: PointsDelta = d) -> None:
                    pts = self.states[sid]
                    if p.made is None:
                        self.change(
                            today, sid, p.entity,
                            capped_deltas(pts.spec.grades, d, p.entity, pts.value),
                            delta_rule_id(sid, d), p.event_id, p.erroneous, p.batch.kind,
                        )  # fmt: skip
                        return
                    # Records made before the run (a warm start): a deduction lapses
                    # ``restore_after_days`` after its record was made, so one that has
                    # already lapsed is not applied; nobody is reported caught today.
                    entity, event, bad, made = p.entity, p.event_id, p.erroneous, p.made
                    restore = self.states[sid].spec.restore_after_days
                    if restore and d.delta < 0:
                        keep = made + restore > today.day
                        if not keep.any():
                            return
                        if not keep.all():
                            entity, event, bad, made = (a[keep] for a in (entity, event, bad, made))
                    # One change per event: the records of a bundle (one event id, in
                    # consecutive rows, see sclab.engine.events) change the score together,
                    # by the sum of their records' changes.
                    first = run_starts(event)
                    if d.grade_cap is None and _whole(d.delta):
                        # Each record's change is the delta: a bundle's sum is its number
                        # of records times it, exactly (whole numbers).
                        delta = (run_ends(first, len(event)) - first) * np.float64(d.delta)
                    else:
                        delta = capped_deltas(pts.spec.grades, d, entity, pts.value)
                        if len(first) < len(event):
                            delta = np.add.reduceat(delta, first, dtype=np.float64)
                    if len(first) < len(event):  # (else each record is its own change)
                        entity, event, bad, made = (a[first] for a in (entity, event, bad, made))
                    self.change(
                        today, sid, entity, delta.astype(np.float32, copy=False),
                        delta_rule_id(sid, d), event, bad, None, made,
                    )  # fmt: skip

                routes.append(Route(d.events, pts.spec.entity, take))
        return routes

    def change(
        self,
        today: Today,
        sid: str,
        entity: np.ndarray,
        delta: np.ndarray,
        rule_id: str,
        event_id: np.ndarray | None,
        wrongful: np.ndarray,
        record_kind: str | None,
        made: np.ndarray | None = None,
    ) -> None:
        """Add ``delta`` to each entity's score (one row per change, in entity order).

        ``record_kind``: the kind of the records behind the changes, if a deduction on them
        tells behaviour the person was caught. ``made``: per change, the day its record
        was made, when before today (a warm start's): restoration runs from that day.
        """
        pts = self.states[sid]
        spec = pts.spec
        # Rows in entity order (stable). Most batches come sorted by entity already (a
        # warm start's history, a rule's targets): then they are used as they are.
        if not is_sorted(entity):
            order = np.argsort(entity, kind="stable")
            entity, delta, wrongful = entity[order], delta[order], wrongful[order]
            event_id = None if event_id is None else event_id[order]
            made = None if made is None else made[order]
        # Running value per row: an entity with several events today changes step by step.
        starts = run_starts(entity)
        distinct = len(starts) == len(entity)  # (most days, and a warm start's bundles)
        last = starts if distinct else run_ends(starts, len(entity)) - 1
        people = entity if distinct else entity[last]
        running = pts.value[entity].astype(np.float64)
        running += _steps(delta, starts)
        if spec.minimum is not None or spec.maximum is not None:
            lo = -np.inf if spec.minimum is None else spec.minimum
            hi = np.inf if spec.maximum is None else spec.maximum
            np.clip(running, lo, hi, out=running)
        # (Copies: fancy indexing. Read by the rules on grades, which records made before
        # the run do not fire.)
        before_grade = pts.grade[people] if made is None else None
        before_value = pts.value[people] if made is None else None
        value = (running if distinct else running[last]).astype(np.float32)
        pts.value[people] = value
        self.standings.changed(sid, people)
        if event_id is not None:
            latest = event_id if distinct else event_id[last]
            if len(latest) and latest.max() > np.iinfo(pts.last_event.dtype).max:
                pts.last_event = pts.last_event.astype(np.int64)  # ids past 2**31: widen
            pts.last_event[people] = latest
        add_wrong(pts.wrong, entity, delta, wrongful)
        pts.grade[people] = grade_of(spec.grades, value)
        self.rows.score_changes(
            today, entity, score=sid, rule_id=rule_id, delta=delta, value=running,
            event_id=event_id, wrongful=wrongful, entity_type=spec.entity,
        )  # fmt: skip
        if spec.restore_after_days and event_id is not None:
            neg = (delta < 0).nonzero()[0]
            if len(neg):
                back = int(spec.restore_after_days)
                made = None if made is None else np.asarray(made, np.int64)
                if made is None:
                    groups = [(today.day + back, neg)]
                else:
                    # By the day each lapses, in row order within a day.
                    due = made[neg] + back
                    neg = neg[np.argsort(due, kind="stable")]
                    due = made[neg] + back
                    cuts = run_starts(due)
                    ends = run_ends(cuts, len(neg))
                    groups = [(int(due[c]), neg[c:e]) for c, e in zip(cuts, ends, strict=True)]
                for when, at in groups:
                    pts.restore.setdefault(when, []).append(
                        (entity[at], -delta[at], event_id[at], wrongful[at])
                    )
        if record_kind is not None and spec.entity == "person":
            hurt = entity[delta < 0]
            if len(hurt):
                report_caught(today.sim, record_kind, hurt)
        if before_grade is not None:
            # Records made before the run moved the score before the run too: its warnings
            # and honours for them were given then (as one-off sanctions of such records
            # are not issued again), so rules on grades fire on the run's changes only.
            self.grade_rules.fire(
                today, sid, people, before_grade, pts.grade[people], before_value,
                pts.value[people],
            )  # fmt: skip

    def restore(self, today: Today) -> None:
        """Give back the deductions whose ``restore_after_days`` end today."""
        for sid, pts in self.states.items():
            for entity, delta, event, bad in pts.restore.pop(today.day, []):
                # The lapse of a deduction is credit repair, not a new judgment: it carries
                # the original event for provenance but is never wrongful itself.
                add_wrong(pts.wrong, entity, delta.astype(np.float32), bad)
                self.change(
                    today, sid, entity, delta.astype(np.float32), f"{sid}:restored", event,
                    np.zeros(len(entity), bool), None,
                )  # fmt: skip
