"""What a policy tells behaviour through the system view.

Core objects:
    :class:`Standings`: the standing in [0, 1] (NaN: not scored) of every person under each
        of the policy's person scores, published to the
        :class:`~sclab.engine.feedback.SystemView` by reference and refreshed after each
        day's changes.
    :func:`standing`: a score's values as standings.
    :func:`publish_incentives`: what each recorded act risks under the policy (its
        severity) and which conduct the policy scores (ties, speech, purchases).
    :func:`report_caught`: people a decision about an act reached today.
    :data:`SEVERITY`: the perceived severity of each effect.

A decision on a record tells behaviour about the act the record stands for: the kind's
``of_act`` in the run's catalogue (:mod:`sclab.engine.catalogue`; ``jaywalk_identified``
stands for ``jaywalk``, a lost judgment for ``non_performance``).

Behaviour reads only the view, never a policy's own state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sclab.arrays import union_sorted
from sclab.engine.catalogue import Catalogue
from sclab.engine.feedback import SystemView
from sclab.parallel import map_blocks
from sclab.policy.schema import Policy
from sclab.policy.scores import Scores
from sclab.policy.state import FactorState, PointsState

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

# Perceived severity of each effect, in [0, 1] (Assumption; feeds deterrence only).
SEVERITY = {"list": 1.0, "public_display": 0.6, "notice": 0.2, "downgrade": 0.5, "warning": 0.1}


def report_caught(sim: Simulation, record_kind: str, people: np.ndarray) -> None:
    """Tell behaviour that a decision on a record of ``record_kind`` reached ``people``
    (as caught for the act the record stands for)."""
    sim.view.caught(sim.catalogue().act_of(record_kind), people)


def standing(f: FactorState | PointsState, who: np.ndarray | slice | None = None) -> np.ndarray:
    """Standing in [0, 1] (NaN: not scored) of everyone, or of the entities ``who`` (an
    index array or a slice).

    A factor score maps its range; a points score its bounds, else the span of its grade
    thresholds, else its base +- 500.
    """
    value = f.value if who is None else f.value[who]
    if isinstance(f, FactorState):
        lo, hi = f.spec.range
        return (value - lo) / (hi - lo)
    mins = [g.min for g in f.spec.grades if g.min is not None]
    lo = (
        f.spec.minimum if f.spec.minimum is not None else (min(mins) if mins else f.spec.base - 500)
    )
    hi = (
        f.spec.maximum if f.spec.maximum is not None else (max(mins) if mins else f.spec.base + 500)
    )
    span = max(hi - lo, 1e-9)
    return np.clip((value - lo) / span, 0, 1)


class Standings:
    """Published standings of the person scores of ``scores`` (``published``: by score id).

    Only the entities whose points changed since the last refresh are recomputed (a day's
    events touch a few thousand people, the view holds everyone); a factor assessment
    marks the whole score, and so do changes of one entity in :data:`WHOLE_REFRESH` or
    more (a warm start's).
    """

    def __init__(self, scores: Scores, system: str, view: SystemView) -> None:
        self.scores = scores
        self.published: dict[str, np.ndarray] = {}
        for sid, s in scores.items():
            if s.spec.entity == "person":
                self.published[sid] = np.full(len(s.value), np.nan, np.float32)
                view.publish_score(f"{system}.{sid}", self.published[sid])
        self._changed: dict[str, list[np.ndarray]] = {}  # points changed since the refresh
        self._reassessed: set[str] = set()  # scores reassessed as a whole

    def changed(self, sid: str, people: np.ndarray) -> None:
        """The points of ``people`` under ``sid`` changed."""
        if sid in self.published:
            self._changed.setdefault(sid, []).append(people)

    def reassessed(self, sid: str) -> None:
        """Score ``sid`` was assessed anew for everyone."""
        self._reassessed.add(sid)

    def refresh(self, everyone: bool = False) -> None:
        """Copy score changes into the published standings."""
        for sid, arr in self.published.items():
            dirty = self._changed.pop(sid, None)
            src = self.scores.state(sid)
            # A reassessed score is read whole (9.3M people), and so is one whose changes
            # touch many (a warm start's): in blocks on the cores, which for those not
            # changed writes the standing they have, rather than sorting the changed.
            if (
                everyone
                or sid in self._reassessed
                or (dirty and WHOLE_REFRESH * sum(len(d) for d in dirty) >= len(arr))
            ):

                def refresh(
                    _: int,
                    lo: int,
                    hi: int,
                    arr: np.ndarray = arr,
                    src: PointsState | FactorState = src,
                ) -> None:
                    arr[lo:hi] = standing(src, slice(lo, hi))

                map_blocks(refresh, len(arr))
            elif dirty:
                who = union_sorted(*dirty)
                arr[who] = standing(src, who)
        self._reassessed.clear()


#: A score's standings are refreshed whole once the changes since the last refresh
#: number at least one in this many of its entities.
WHOLE_REFRESH = 8


def publish_incentives(
    policy: Policy, scores: Scores, view: SystemView, catalogue: Catalogue
) -> None:
    """Tell behaviour what each act risks (the acts the policy's records stand for in
    ``catalogue``), and which conduct is scored."""

    def bump(kind: str, severity: float) -> None:
        act = catalogue.act_of(kind)
        view.severity[act] = max(view.severity.get(act, 0.0), min(1.0, severity))

    counters = {c.id: c for c in policy.counters}
    list_rules = {r.id for r in policy.rules if any(e.list for e in r.effects)}
    for r in policy.rules:
        sev = max(
            [SEVERITY["list"] if e.list else 0.0 for e in r.effects]
            + [SEVERITY.get(e.sanction.kind, 0.0) for e in r.effects if e.sanction]
            + [min(1.0, abs(e.score_delta.delta) / 100) for e in r.effects if e.score_delta]
        )
        if r.when.events is not None:
            for k in r.when.events.kinds:
                bump(k, sev)
        elif r.when.counter is not None and r.when.above is not None and r.id in list_rules:
            for k in counters[r.when.counter].events.kinds:
                bump(k, sev / (r.when.above + 1))
    for pts in scores.points.values():
        for d in pts.spec.deltas:
            if d.delta < 0 or d.grade_cap is not None:
                # A record that drops the score into a grade at once is as grave as a
                # deduction gets.
                sev = 1.0 if d.grade_cap is not None else abs(d.delta) / 100
                for k in d.events.kinds:
                    bump(k, sev)
    for f in scores.factors.values():
        for factor in f.spec.factors:
            for i in factor.inputs:
                if i.source == "ties":
                    view.scores_ties = True
                if i.source == "posts" and i.kind == "post_critical" and i.weight < 0:
                    view.scores_speech = True
                if i.source == "platform" and i.kind and i.kind.startswith("purchase_"):
                    cat = i.kind.removeprefix("purchase_")
                    view.scored_purchases[cat] = view.scored_purchases.get(cat, 0.0) + float(
                        np.sign(i.weight)
                    )


def publish_record_horizons(policy: Policy, view: SystemView) -> None:
    """Tell the view how long after a record is made the policy can still act on it, per
    recorded kind: a counter's or a factor input's window, a deduction's
    ``restore_after_days``, and without end for points that never lapse and for rules
    whose records open list entries or change points. Warm starts read it: the records of
    a past that no policy can see are not made (:mod:`sclab.world.history`)."""
    from sclab.engine.feedback import FOREVER
    from sclab.policy.schema import FactorScore

    def reads(kinds: list[str], days: int, one_by_one: bool = False) -> None:
        for kind in kinds:
            view.reads_records(kind, days, one_by_one=one_by_one)

    for c in policy.counters:
        reads(c.events.kinds, c.window_days, one_by_one=True)
    for score in policy.scores:
        if isinstance(score, FactorScore):
            for factor in score.factors:
                for i in factor.inputs:
                    if i.events is not None and i.window_days is not None:
                        reads(i.events.kinds, i.window_days)
            continue
        for d in score.deltas:
            lapse = score.restore_after_days if d.delta < 0 else None
            reads(d.events.kinds, lapse or FOREVER)
    for r in policy.rules:
        # Sanctions and lifts are not decided on records made before the run.
        if r.when.events is not None and any(e.list or e.score_delta for e in r.effects):
            reads(r.when.events.kinds, FOREVER, one_by_one=True)
    for spec in policy.lists:
        if spec.delete_on is not None:
            reads(spec.delete_on.kinds, FOREVER, one_by_one=True)
