"""Rules on scores: entering a grade, falling below a score; deltas capped at a grade.

Core objects:
    :class:`GradeRules`: after the scores of some entities moved (a points change, a
        factor assessment), fires the rules whose ``when`` names a set of grades (for the
        entities that entered it) or a score and ``below`` (for those that crossed it), with
        the wrongful flag of :class:`~sclab.policy.provenance.Provenance` and the latest
        event behind the score.
    :func:`grade_ceiling`: the highest value inside a grade (one point below the next
        higher grade's min).
    :func:`capped_deltas`: a points delta's change per record, where the delta has a
        ``grade_cap`` (a record that puts the entity directly in a grade). Cost: O(records)
        (one ``np.unique`` over the day's matching records).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from sclab.policy.provenance import Provenance, Targets
from sclab.policy.schema import Grade, PointsDelta, Rule
from sclab.policy.scores import Scores
from sclab.policy.today import Today

if TYPE_CHECKING:
    from sclab.policy.effects import Effects


def grade_ceiling(grades: Sequence[Grade], name: str) -> float:
    """The highest value in grade ``name``: one point below the next higher grade's min
    (points are whole numbers in every pack; a grade applies from its min up to that)."""
    names = [g.name for g in grades]
    above = grades[names.index(name) - 1].min
    assert above is not None  # only the lowest grade omits min, and it is not above another
    return float(above) - 1.0


def capped_deltas(
    grades: Sequence[Grade], delta: PointsDelta, entity: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """The change each record of ``entity`` makes under ``delta`` (float32, one per record).

    Without ``grade_cap``: ``delta.delta`` each. With it, an entity's first record takes
    its score (``value``, indexed by entity) straight to at most the grade's ceiling
    (:func:`grade_ceiling`), or by ``delta.delta`` if that goes lower, and its further
    records that day by ``delta.delta`` (<= 0, so the score stays in the grade or below).
    """
    out = np.full(len(entity), delta.delta, np.float32)
    if delta.grade_cap is None or len(entity) == 0:
        return out
    ceiling = grade_ceiling(grades, delta.grade_cap)
    _, first = np.unique(entity, return_index=True)
    current = value[entity[first]].astype(np.float64)
    out[first] = np.minimum(delta.delta, ceiling - current).astype(np.float32)
    return out


class GradeRules:
    """The policy's rules on grades and scores. ``effects`` is set once the engine has made
    it: rule effects change points, and points changes fire these rules again."""

    def __init__(self, rules: Sequence[Rule], scores: Scores, provenance: Provenance) -> None:
        self.rules = [r for r in rules if r.when.grade or r.when.score is not None]
        self.scores = scores
        self.provenance = provenance
        self.effects: Effects | None = None
        # Per (rule, score), whether each grade index is in the rule's set (None: the rule
        # names a grade the score does not have): a lookup instead of two np.isin a call.
        self._in_set: dict[tuple[int, str], np.ndarray | None] = {}

    def _grade_set(self, k: int, rule: Rule, sid: str) -> np.ndarray | None:
        key = (k, sid)
        if key not in self._in_set:
            names = [g.name for g in self.scores.state(sid).spec.grades]
            table = None
            if all(g in names for g in rule.when.grade):
                table = np.zeros(len(names), bool)
                table[[names.index(g) for g in rule.when.grade]] = True
            self._in_set[key] = table
        return self._in_set[key]

    def fire(
        self,
        today: Today,
        sid: str,
        people: np.ndarray,
        before: np.ndarray,
        after: np.ndarray,
        before_value: np.ndarray | None = None,
        after_value: np.ndarray | None = None,
    ) -> None:
        """Fire grade rules for entities entering a grade set, and score rules on crossing.

        ``before``/``after``: the grades of ``people`` before and after the move; the values
        likewise (score rules fire only when ``before_value`` is given).
        """
        assert self.effects is not None
        spec = self.scores.state(sid).spec
        prov = self.provenance
        # Most moves (a few points) change nobody's grade: then no grade rule can fire.
        regraded = bool((after != before).any())
        for k, rule in enumerate(self.rules):
            in_set = self._grade_set(k, rule, sid) if rule.when.grade and regraded else None
            if in_set is not None:
                entered = in_set[after] & ~in_set[before]
                if entered.any():
                    target = np.flatnonzero(in_set)
                    who = people[entered]
                    bad = prov.grade_wrongful(sid, who, target)
                    found = Targets(spec.entity, who, prov.last_event(sid, who), bad)
                    self.effects.apply(today, rule, found, None)
            if rule.when.score == sid and rule.when.below is not None and before_value is not None:
                now = after_value if after_value is not None else before_value
                crossed = (now < rule.when.below) & ~(before_value < rule.when.below)
                if crossed.any():
                    who = people[crossed]
                    bad = prov.score_wrongful(sid, who, rule.when.below)
                    found = Targets(spec.entity, who, prov.last_event(sid, who), bad)
                    self.effects.apply(today, rule, found, None)
