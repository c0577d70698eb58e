"""The state of a policy's scores, made from their specs and looked up by score id.

Core object:
    :class:`Scores`: every points score's :class:`~sclab.policy.state.PointsState` and
        every factor score's :class:`~sclab.policy.state.FactorState`, sized for their
        entity type and set up for its participants (non-participants are never scored:
        NaN). The parts that change scores (:mod:`sclab.policy.points`,
        :mod:`sclab.policy.factors`) and those that read them (grade rules, provenance,
        standings, joint measures) share these states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sclab.policy.schema import FactorScore, PointsScore
from sclab.policy.state import FactorState, PointsState, WindowCounter, grade_of

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation


class Scores:
    """Score states by id: ``points`` and ``factors`` (each in the policy's order)."""

    def __init__(
        self,
        specs: Sequence[PointsScore | FactorScore],
        members: dict[str, np.ndarray],
        sim: Simulation,
    ) -> None:
        self.points: dict[str, PointsState] = {}
        self.factors: dict[str, FactorState] = {}
        for s in specs:
            if isinstance(s, PointsScore):
                self.points[s.id] = _points_state(s, members[s.entity])
            else:
                self.factors[s.id] = _factor_state(s, members[s.entity], sim)

    def state(self, sid: str) -> PointsState | FactorState:
        return self.points.get(sid) or self.factors[sid]

    def entity_of(self, sid: str) -> str:
        return self.state(sid).spec.entity

    def items(self) -> list[tuple[str, PointsState | FactorState]]:
        """Every score, points scores first (the order rows and views follow)."""
        return [*self.points.items(), *self.factors.items()]


def _points_state(s: PointsScore, members: np.ndarray) -> PointsState:
    n = len(members)
    value = np.where(members, s.base, np.nan).astype(np.float32)
    return PointsState(
        s, value, np.zeros(n, np.float32), grade_of(s.grades, value), np.full(n, -1, np.int32), {}
    )


def _factor_state(s: FactorScore, members: np.ndarray, sim: Simulation) -> FactorState:
    n = len(members)
    who = None
    if not members.all():
        who = np.flatnonzero(members).astype(np.int32 if n < 2**31 else np.int64)
    m = n if who is None else len(who)
    hidden = [
        WindowCounter(m, i.window_days, end=sim.scenario.days)
        if i.source == "events" and i.window_days is not None  # the schema requires it
        else None
        for f in s.factors for i in f.inputs
    ]  # fmt: skip
    platform = [i.source in ("platform", "posts") for f in s.factors for i in f.inputs]
    state = FactorState(
        s,
        np.full(n, np.nan, np.float32),
        np.zeros(n, np.uint8),
        who,
        hidden,
        [np.zeros(m, np.float32) if q else None for q in platform],
        # uint16 like the platform counters they follow (widened with them).
        [np.zeros(m, np.uint16) if q else None for q in platform],
    )
    listed = [i.source == "list" for f in s.factors for i in f.inputs]
    state.on_list = [np.zeros(m, bool) if q else None for q in listed]
    state.on_list_wrong = [np.zeros(m, bool) if q else None for q in listed]
    state.on_list_event = [np.full(m, -1, np.int64) if q else None for q in listed]
    if who is not None and any(platform):
        # Participants' platform totals are read every assessment, the others' never: their
        # sources draw the participants' alone until the end.
        sim.aggregates.focus(s.entity, members)
    return state
