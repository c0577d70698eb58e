"""Factor scores (Sesame style): periodic assessment from events, platform totals,
attributes and ties.

Core objects:
    :class:`FactorScores`: recomputes each factor score every ``update_every_days``: each
        input is mapped to [0, 1] (counts saturate as 1 - exp(-count/saturation); negative
        weights count 1 - x), inputs are averaged within a factor, factors are weighted
        onto the range; rows for the changes that matter, with every event in the score's
        windows linked to them; then the grade rules for those whose grade or score moved.
        Its ``events`` inputs count recorded events through their routes.
    :func:`ties_mean`: the ties input, each participant's mean standing of their ties.
    :func:`window_events`: the recorded events inside a score's event windows.

Cost model: O(participants) per input per assessment (a voluntary score scores, and keeps
the platform inputs' state of, those who joined it only), plus O(participants' ties) for
a ties input (the mean standing of each participant's active ties: one gather of a byte
per tie end and row sums, in fixed blocks spread over the cores by
:mod:`sclab.parallel`; switched-off ties are found a byte of flags at a time and taken
out), plus the reads of the platform totals (which settle the lazy streams behind them:
for a voluntary score the participants' alone, declared as the aggregates' focus group
when the score's state is made, :mod:`sclab.policy.scores`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sclab.arrays import lex_order
from sclab.engine.ages import ages
from sclab.parallel import map_blocks
from sclab.policy.grades import GradeRules
from sclab.policy.provenance import Provenance
from sclab.policy.publish import Standings
from sclab.policy.routing import Picked, Route
from sclab.policy.rows import Rows
from sclab.policy.state import (
    FactorState,
    WindowCounter,
    grade_of,
    run_ends,
    run_starts,
    search_sorted,
)
from sclab.policy.today import Today
from sclab.population.bits import PackedBools

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

#: Citizen attributes a factor input may read (``from: attribute``), each mapped to [0, 1]:
#: age over 18-80, the income decile and the education level by rank, yes-or-no attributes
#: as 0 or 1 (tests keep the list equal to the citizens' yes-or-no columns plus the three).
ATTRIBUTES = (
    "age", "income_decile", "education", "male", "migrant", "residence_permit", "urban",
    "smartphone", "payment_app", "social_media", "driver_licence", "in_id_photo_db",
    "in_driver_db",
)  # fmt: skip
FACTOR_RECORD_MIN_CHANGE = 10.0  # factor-score changes smaller than this are not rows
TIE_STEPS = 254  # resolution of a tie's standing in the ties input (see ties_mean)


class FactorScores:
    """Assesses the factor scores ``states`` (by score id)."""

    def __init__(
        self,
        states: dict[str, FactorState],
        rows: Rows,
        standings: Standings,
        grade_rules: GradeRules,
        provenance: Provenance,
    ) -> None:
        self.states = states
        self.rows = rows
        self.standings = standings
        self.grade_rules = grade_rules
        self.provenance = provenance

    def expire(self, day: int) -> None:
        """Drop the events that leave the ``events`` inputs' windows today."""
        for f in self.states.values():
            for h in f.hidden:
                if h is not None:
                    h.expire(day)

    def routes(self) -> list[Route]:
        """One route per ``events`` input: its events are counted by participant."""
        routes = []
        for f in self.states.values():
            inputs = [i for fac in f.spec.factors for i in fac.inputs]
            for inp, hidden in zip(inputs, f.hidden, strict=True):
                if hidden is None or inp.events is None:
                    continue

                def take(
                    today: Today, p: Picked, f: FactorState = f, h: WindowCounter = hidden
                ) -> None:
                    h.add(today.day, f.positions(p.entity), p.erroneous, p.event_id, p.made)

                routes.append(Route(inp.events, f.spec.entity, take))
        return routes

    def assess_due(self, today: Today) -> None:
        """Assess the scores whose update day is today."""
        for sid, f in self.states.items():
            if today.day % f.spec.update_every_days == 0:
                self.assess(today, sid, f)

    def assess(self, today: Today, sid: str, f: FactorState) -> None:
        """Score every participant anew."""
        sim = today.sim
        spec = f.spec
        n = len(f.value)
        total_w = sum(fac.weight for fac in spec.factors)
        inputs = [inp for fac in spec.factors for inp in fac.inputs]
        elapsed = today.day - f.last_update if f.last_update >= 0 else 0
        # Whole-population reads first, in the calling thread: reading platform totals
        # settles the lazy streams behind them (their draws are parallel themselves), and
        # the ties input is one pass over every tie end.
        read = sim.aggregates.counts.get if f.who is None else sim.aggregates.counts.focused
        # (Up to date for the participants, who are the focus group: see sclab.policy.scores.)
        totals = [
            read((spec.entity, inp.kind))
            if inp.source in ("platform", "posts") and inp.kind is not None  # schema: required
            else None
            for inp in inputs
        ]
        for k, now in enumerate(totals):
            last = f.last_total[k]
            if now is not None and last is not None and last.dtype != now.dtype:
                # The platform's counter was widened past uint16 (some count would pass
                # 65,535); last totals follow. Exact: they were below 65,536 until now.
                f.last_total[k] = last.astype(now.dtype)
        ties = ties_mean(sim, f) if any(inp.source == "ties" for inp in inputs) else None
        if any(inp.source == "attribute" and inp.attribute == "age" for inp in inputs):
            ages(sim)  # cached on the state: create it here, not inside the blocks
        lo_range, hi_range = spec.range
        scores = np.empty(f.participants, np.float32)  # per participant

        # Blocks of participants: non-participants are never scored, so a voluntary score
        # costs in proportion to those who joined it.
        def block(_: int, lo: int, hi: int) -> None:
            rows = f.rows(lo, hi)
            score = scores[lo:hi]
            score[:] = 0.0
            k = 0
            for fac in spec.factors:
                acc = np.zeros(hi - lo, np.float32)
                wsum = 0.0
                for inp in fac.inputs:
                    x = _input(sim, inp, f, k, lo, hi, rows, elapsed, totals[k], ties)
                    w = np.float32(abs(inp.weight))
                    if inp.weight < 0:
                        np.subtract(1.0, x, out=x)
                    x *= w
                    acc += x
                    wsum += float(w)
                    k += 1
                acc *= np.float32(fac.weight / total_w / max(wsum, 1e-12))
                score += acc
            score *= np.float32(hi_range - lo_range)
            score += np.float32(lo_range)

        map_blocks(block, f.participants)

        def entities(mask: np.ndarray) -> np.ndarray:
            """Entity ids of the participants where ``mask`` (per participant) holds."""
            return np.flatnonzero(mask) if f.who is None else f.who[mask]

        # Everything below is per participant; non-participants stay unscored (NaN) in the
        # lowest grade.
        old, new = f.value, np.full(n, np.nan, np.float32)
        new_grade = np.full(n, grade_of(spec.grades, np.array([lo_range]))[0], np.uint8)
        grades = np.empty(f.participants, np.uint8)
        before = np.empty(f.participants, np.uint8)
        old_scores = np.empty(f.participants, np.float32)
        # Per participant: a change that matters (a row), a move the grade rules see.
        changed_mask = np.empty(f.participants, bool)
        moved_mask = np.empty(f.participants, bool)

        def publish(_: int, lo: int, hi: int) -> None:
            # Participant blocks on the cores: each touches its own participants' rows.
            rows = f.rows(lo, hi)
            grades[lo:hi] = grade_of(spec.grades, scores[lo:hi])
            new[rows] = scores[lo:hi]
            new_grade[rows] = grades[lo:hi]
            before[lo:hi] = f.grade[rows]
            old_scores[lo:hi] = old[rows]
            regraded = grades[lo:hi] != before[lo:hi]
            changed = np.abs(scores[lo:hi] - old_scores[lo:hi]) >= FACTOR_RECORD_MIN_CHANGE
            changed |= regraded
            changed &= ~np.isnan(old_scores[lo:hi])  # (a first score is no change)
            changed_mask[lo:hi] = changed
            np.logical_or(regraded, changed, out=moved_mask[lo:hi])

        map_blocks(publish, f.participants)
        first = f.last_update < 0
        f.last_update = today.day
        f.value, f.grade = new, new_grade
        self.standings.reassessed(sid)
        at = np.flatnonzero(changed_mask)  # (participant positions, sorted like entities)
        who = at if f.who is None else f.who[at]
        if len(who):
            row, ev = window_events(f, at)
            change_ids = self.rows.score_changes(
                today, who, score=sid, rule_id=f"{sid}:assessment", delta=new[who] - old[who],
                value=new[who], event_id=_latest(len(who), row, ev),
                wrongful=self.provenance.factor_wrongful(sid, who, at), entity_type=spec.entity,
            )  # fmt: skip
            # Every recorded event inside the score's event windows, per changed row.
            self.rows.decision_events(today, "score_changes", change_ids[row], ev)
        if not first:
            moved = entities(moved_mask)
            self.grade_rules.fire(
                today, sid, moved, before[moved_mask], grades[moved_mask], old[moved], new[moved]
            )


def window_events(f: FactorState, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, event id) of every recorded event in the ``events`` inputs' windows of the
    participants at positions ``at`` (sorted, distinct), and of the entry of each ``list``
    input they are on; ``row`` indexes ``at``. Sorted by row, then event, each pair once
    (an event may feed several inputs of the score)."""
    parts = [h.events_of(at) for h in f.hidden if h is not None]
    for event in f.on_list_event:
        if event is not None:  # the record of the entry that puts one on another's list
            ev = event[at]
            listed = ev >= 0
            parts.append((at[listed], ev[listed]))
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pos = np.concatenate([p for p, _ in parts])
    ev = np.concatenate([v for _, v in parts])
    order = lex_order(ev, pos)
    pos, ev = pos[order], ev[order]
    first = np.ones(len(pos), bool)
    first[1:] = (pos[1:] != pos[:-1]) | (ev[1:] != ev[:-1])
    pos, ev = pos[first], ev[first]
    return search_sorted(at, pos), ev


def _latest(n: int, row: np.ndarray, event_id: np.ndarray) -> np.ndarray:
    """Per row ``0 .. n - 1``, its latest (largest) event id, or -1: the last of its pairs
    (``row``, ``event_id``), sorted by row then event (:func:`window_events`)."""
    out = np.full(n, -1, np.int64)
    if len(row):
        last = run_ends(run_starts(row), len(row)) - 1
        out[row[last]] = event_id[last]
    return out


def _input(
    sim: Simulation,
    inp: Any,
    f: FactorState,
    k: int,
    lo: int,
    hi: int,
    rows: slice | np.ndarray,
    elapsed: int,
    totals: np.ndarray | None,
    ties: np.ndarray | None,
) -> np.ndarray:
    """Input ``k`` in [0, 1] for participants ``[lo, hi)``, entities ``rows`` (a fresh
    float32 array)."""
    if inp.source == "events":
        counter = f.hidden[k]
        assert counter is not None
        x = counter.count[lo:hi].astype(np.float32)  # counted by participant position
        x *= np.float32(-1.0 / inp.saturation)
    elif inp.source in ("platform", "posts"):
        full_decayed, full_last = f.decayed[k], f.last_total[k]
        assert full_decayed is not None and full_last is not None
        decayed, last = full_decayed[lo:hi], full_last[lo:hi]
        if totals is not None:
            decayed *= np.float32(0.5 ** (elapsed / inp.half_life_days))
            now = totals[rows]
            # Counts only grow, so the unsigned difference is exact (no int64 copies);
            # both are uint16 until the platform's counter is widened (see FactorScores.assess).
            decayed += now - last
            last[:] = now
        x = np.multiply(decayed, np.float32(-1.0 / inp.saturation))
    elif inp.source == "attribute":
        return _attribute(sim, inp.attribute, rows)
    elif inp.source == "list":  # on another system's list (as of yesterday): 1, else 0
        on = f.on_list[k]
        assert on is not None
        return on[lo:hi].astype(np.float32)
    else:  # ties: mean standing of one's active ties (unscored ties count as 0.5)
        assert ties is not None
        return ties[lo:hi].copy()  # per participant position
    # Counts saturate as 1 - exp(-count / saturation).
    np.exp(x, out=x)
    return np.subtract(1.0, x, out=x)


def _attribute(sim: Simulation, name: str, rows: slice | np.ndarray) -> np.ndarray:
    """Citizen attribute ``name`` of the entities ``rows``, in [0, 1]."""
    c = sim.population.citizens
    if name == "age":
        age = ages(sim)[rows].astype(np.float32)  # computed once per run, then cached
        return np.clip((age - 18) / 62, 0, 1)
    if name == "income_decile":
        return c.income_decile[rows].astype(np.float32) / 9
    if name == "education":
        return c.education[rows].astype(np.float32) / 4
    values = getattr(c, name, None) if name in ATTRIBUTES else None
    if values is None or values.dtype != bool:
        raise ValueError(f"attribute '{name}' is not a known citizen attribute")
    return values[rows].astype(np.float32)


def ties_mean(sim: Simulation, f: FactorState) -> np.ndarray:
    """Per participant, the mean standing of their active ties (0.5 for those with
    none), from the scores of the last assessment.

    Only participants' tie ends are read: a voluntary score joined by four people in
    ten reads four tie ends in ten (the gather of the ties' standings, random reads
    over a table of a byte per person, is the cost of this input).
    """
    g = sim.population.graph
    who = f.who
    out = np.full(f.participants, 0.5, np.float32)
    if f.last_update < 0 or not f.participants:
        # Nobody scored yet: every tie counts as neutral 0.5, so every mean is 0.5.
        return out
    # Each tie's standing in steps of 1/254 (0.5 exactly 127): one byte per person
    # keeps the gather over all tie ends (the cost of this input) in cache, and integer
    # sums are exact. The mean moves by at most 0.002, a factor score by at most
    # 0.002 x the input's share of the range (0.02 points of Sesame's 600).
    lo_range, hi_range = f.spec.range
    vals = np.empty(len(f.value), np.uint8)

    def quantise(_: int, lo: int, hi: int) -> None:
        standing = (f.value[lo:hi] - lo_range) / (hi_range - lo_range)
        standing[np.isnan(standing)] = 0.5  # unscored ties count as neutral
        standing *= np.float32(TIE_STEPS)
        vals[lo:hi] = np.rint(standing, out=standing)

    map_blocks(quantise, len(vals))
    active = sim.ties_active

    def block(_: int, lo: int, hi: int) -> None:
        if who is None:
            first_row, stop_row = lo, hi
            indptr = g.indptr[lo : hi + 1]
            a = int(indptr[0])
            ends = indptr - a  # row r's ties are [ends[r], ends[r + 1]) of the block
            at: slice | np.ndarray = slice(a, int(indptr[-1]))
        else:
            # The participants' tie ends, row after row (below): positions in the tie
            # arrays, in indptr's type (int32 below 2**31 tie ends: half the bytes of int64).
            rows = who[lo:hi]
            first_row, stop_row = int(rows[0]), int(rows[-1]) + 1
            first = g.indptr[rows]
            degree = g.indptr[rows + 1] - first
            ends = np.zeros(hi - lo + 1, g.indptr.dtype)
            np.cumsum(degree, out=ends[1:])
        if ends[-1] == 0:
            return
        if who is not None:
            at = _consecutive_runs(first, degree, ends)
        v = np.take(vals, g.indices[at])  # take: about 40 % faster than v[idx] here
        # Row sums in one pass (reduceat: a third faster than differences of a running
        # sum, which writes 4 bytes per tie end). Rows starting at the end of ``v``
        # are empty and left at 0 (reduceat cannot index there); an empty row inside
        # gets the next row's first value from reduceat, and is set to 0 too.
        cnt = np.diff(ends).astype(np.uint32)
        starts = ends[:-1]
        inside = int(np.searchsorted(starts, len(v)))
        sums = np.zeros(len(cnt), np.uint32)
        sums[:inside] = np.add.reduceat(v, starts[:inside], dtype=np.uint32)
        sums[cnt == 0] = 0
        if active is not None:
            # The few tie ends switched off (pruned ties) come out of the sums and
            # counts: O(ends / 8) to find them instead of a read per tie end.
            span = int(g.indptr[first_row]), int(g.indptr[stop_row])
            if isinstance(active, PackedBools):
                off = active.false_positions(*span)
            else:
                off = np.flatnonzero(~active[span[0] : span[1]]) + span[0]
            if len(off):
                # (int64 positions in the int32 indptr would copy it whole per block)
                owner = search_sorted(g.indptr, off, side="right") - 1
                at_owner, takes_part = f.lookup(owner)  # non-participants' ends drop
                row, off = at_owner[takes_part] - lo, off[takes_part]
                weights = vals[g.indices[off]]
                sums -= np.bincount(row, weights=weights, minlength=len(sums)).astype(np.uint32)
                cnt -= np.bincount(row, minlength=len(cnt)).astype(np.uint32)
        # People with no (active) tie keep the neutral 0.5.
        np.divide(sums, cnt * np.float32(TIE_STEPS), out=out[lo:hi], where=cnt > 0)

    map_blocks(block, f.participants)
    return out


def _consecutive_runs(first: np.ndarray, length: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions ``first[r], ..., first[r] + length[r] - 1`` of every row ``r`` in
    turn (``ends``: the running sum of ``length`` from 0; some length positive).

    A running sum of ones with a jump at each row's start, in ``first``'s type: about
    half the time of repeating the starts and adding a range, which writes and reads
    the positions twice over.
    """
    at = np.ones(int(ends[-1]), first.dtype)
    rows = np.flatnonzero(length)  # empty rows have no start of their own
    start = first[rows]
    jump = np.empty(len(rows), first.dtype)
    jump[0] = start[0]
    # From the last position of the previous non-empty row to this row's first.
    jump[1:] = start[1:] - (start[:-1] + length[rows[:-1]] - 1)
    at[ends[rows]] = jump
    return np.cumsum(at, out=at)
