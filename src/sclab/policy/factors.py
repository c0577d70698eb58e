"""Factor scores (Sesame style): periodic assessment from events, platform totals,
attributes and ties.

Core object:
    :class:`FactorScoring`: the part of :class:`~sclab.policy.engine.PolicyEngine` that
        recomputes a factor score every ``update_every_days``: each input is mapped to
        [0, 1] (counts saturate as 1 - exp(-count/saturation); negative weights count
        1 - x), inputs are averaged within a factor, factors are weighted onto the range.

Cost model: O(people) per input per assessment, plus O(ties) for a ties input (the mean
standing of each person's active ties, summed block by block with ``reduceat``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sclab.engine.decisions import constant_labels
from sclab.policy.state import FactorState, grade_of, latest_event
from sclab.world.base import ages

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

FACTOR_RECORD_MIN_CHANGE = 10.0  # factor-score changes smaller than this are not rows


class FactorScoring:
    """Mixin of :class:`~sclab.policy.engine.PolicyEngine`: factor-score assessments."""

    def _assess(self, sim: Simulation, sid: str, f: FactorState) -> None:
        spec = f.spec
        n = self.sizes[spec.entity]
        members = self.members[spec.entity]
        total_w = sum(fac.weight for fac in spec.factors)
        score = np.zeros(n, np.float32)
        k = 0
        elapsed = self._day - f.last_update if f.last_update >= 0 else 0
        for fac in spec.factors:
            acc = np.zeros(n, np.float32)
            wsum = 0.0
            for inp in fac.inputs:
                x = self._input(sim, inp, f, k, n, elapsed)
                w = abs(inp.weight)
                acc += w * (x if inp.weight >= 0 else 1.0 - x)
                wsum += w
                k += 1
            score += (fac.weight / total_w) * acc / max(wsum, 1e-12)
        lo, hi = spec.range
        new = np.where(members, lo + (hi - lo) * score, np.nan).astype(np.float32)
        old = f.value
        new_grade = grade_of(spec.grades, np.nan_to_num(new, nan=lo))
        first = f.last_update < 0
        f.last_update = self._day
        changed = (
            members
            & ~np.isnan(old)
            & ((np.abs(new - old) >= FACTOR_RECORD_MIN_CHANGE) | (new_grade != f.grade))
        )
        before_grade = f.grade.copy()
        f.value, f.grade = new, new_grade
        self._all_dirty.add(sid)
        who = np.flatnonzero(changed)
        if len(who):
            ent, ev = self._window_events(f, who)
            change_ids = self._sim.decisions.score_changes(
                self._day, who, system=self.system, score=sid, rule_id=f"{sid}:assessment",
                delta=new[who] - old[who], value=new[who], event_id=latest_event(who, ent, ev),
                wrongful=self._factor_wrongful(sid, who), entity_type=spec.entity,
            )  # fmt: skip
            # Every recorded event inside the score's event windows, per changed row.
            self._sim.decisions.rows(
                "decision_events",
                {
                    "decision_table": constant_labels("score_changes", len(ent)),
                    "decision_key": change_ids[np.searchsorted(who, ent)],
                    "event_id": ev,
                },
            )
        if not first:
            moved = np.flatnonzero(members & ((before_grade != new_grade) | changed))
            self._grade_rules(
                sid, moved, before_grade[moved], new_grade[moved], old[moved], new[moved]
            )

    @staticmethod
    def _window_events(f: FactorState, who: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entity, event id) of every recorded event in the ``events`` inputs' windows."""
        parts = [h.events_of(who) for h in f.hidden if h is not None]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        ent = np.concatenate([e for e, _ in parts])
        ev = np.concatenate([v for _, v in parts])
        # One link per (row, event): an event may feed several inputs of the score.
        pairs = np.unique(np.stack([ent, ev]), axis=1)
        return pairs[0], pairs[1]

    def _input(
        self, sim: Simulation, inp: Any, f: FactorState, k: int, n: int, elapsed: int
    ) -> np.ndarray:
        if inp.source == "events":
            counter = f.hidden[k]
            assert counter is not None
            return 1.0 - np.exp(-counter.count.astype(np.float32) / inp.saturation)
        if inp.source in ("platform", "posts"):
            totals = sim.aggregates.counts.get((f.spec.entity, inp.kind))
            decayed, last = f.decayed[k], f.last_total[k]
            assert decayed is not None and last is not None
            if totals is not None:
                decayed *= np.float32(0.5 ** (elapsed / inp.half_life_days))
                # Counts only grow, so the uint32 difference is exact (no int64 copies).
                decayed += totals - last
                last[:] = totals
            x = np.divide(decayed, -inp.saturation)
            np.exp(x, out=x)
            return np.subtract(1.0, x, out=x)
        if inp.source == "attribute":
            return self._attribute(sim, inp.attribute, n)
        # ties: mean standing of one's active ties (unscored ties count as neutral 0.5)
        return self._ties_mean(sim, self._normalised(f), n)

    def _attribute(self, sim: Simulation, name: str, n: int) -> np.ndarray:
        c = sim.population.citizens
        if name == "age":
            age = ages(sim).astype(np.float32)  # computed once per run, then cached
            return np.clip((age - 18) / 62, 0, 1)
        if name == "income_decile":
            return c.income_decile.astype(np.float32) / 9
        if name == "education":
            return c.education.astype(np.float32) / 4
        values = getattr(c, name, None)
        if values is None or values.dtype != bool:
            raise ValueError(f"attribute '{name}' is not a known citizen attribute")
        return values.astype(np.float32)

    def _ties_mean(self, sim: Simulation, standing: np.ndarray, n: int) -> np.ndarray:
        g = sim.population.graph
        out = np.full(n, 0.5, np.float32)
        if np.isnan(standing).all():
            # Nobody scored yet: every tie counts as neutral 0.5, so every mean is 0.5.
            return out
        vals = np.nan_to_num(standing, nan=0.5).astype(np.float32)
        active = sim.ties_active
        block = 1 << 18  # people per block: bounds the temporary edge arrays
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            indptr = g.indptr[lo : hi + 1]
            a, b = int(indptr[0]), int(indptr[-1])
            if b == a:
                continue
            v = vals[g.indices[a:b]]
            if active is not None:
                v[~active[a:b]] = 0
            # Per-row sums in tie order and in float64 (as a weighted bincount adds them)
            # by reduceat over the starts of the rows that have ties: rows without ties
            # hold no elements, so consecutive such starts bound exactly one row each.
            has = np.flatnonzero(indptr[1:] > indptr[:-1])
            starts = indptr[has] - a
            sums = np.add.reduceat(v, starts, dtype=np.float64)
            if active is None:
                cnt = (indptr[has + 1] - indptr[has]).astype(np.float64)
            else:
                cnt = np.add.reduceat(active[a:b], starts, dtype=np.float64)
                keep = cnt > 0
                has, sums, cnt = has[keep], sums[keep], cnt[keep]
            out[lo + has] = (sums / cnt).astype(np.float32)
        return out
