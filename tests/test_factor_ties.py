"""The ties input of a factor score: each participant's mean tie standing, checked
against a direct computation on random graphs, participant sets and switched-off ties."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.policy.factors import TIE_STEPS, _consecutive_runs, ties_mean
from sclab.policy.state import FactorState
from sclab.population.bits import PackedBools


def _graph(n: int, pairs: list[tuple[int, int]]) -> SimpleNamespace:
    """A symmetric CSR graph (both directions stored, rows sorted) from tie pairs."""
    ties = {(min(a, b), max(a, b)) for a, b in pairs if a != b}
    rows = [
        sorted({b for a, b in ties if a == r} | {a for a, b in ties if b == r}) for r in range(n)
    ]
    indptr = np.zeros(n + 1, np.int32)
    indptr[1:] = np.cumsum([len(r) for r in rows])
    indices = np.array([j for r in rows for j in r], np.int32)
    return SimpleNamespace(indptr=indptr, indices=indices)


def _state(
    value: np.ndarray, score_range: tuple[int, int], who: np.ndarray | None, last_update: int
) -> FactorState:
    """A factor score's state holding only what the ties input reads."""
    return FactorState(
        spec=SimpleNamespace(range=score_range),  # type: ignore[arg-type]
        value=value,
        grade=np.zeros(len(value), np.uint8),
        who=who,
        hidden=[],
        decayed=[],
        last_total=[],
        last_update=last_update,
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_ties_mean_is_the_mean_standing_of_active_ties(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 40))
    pairs = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=120)
    )
    graph = _graph(n, pairs)
    lo, hi = 350, 950
    value = np.array(
        data.draw(st.lists(st.one_of(st.none(), st.floats(lo, hi)), min_size=n, max_size=n)),
        dtype=object,
    )
    value = np.array([np.nan if v is None else v for v in value], np.float32)
    everyone = data.draw(st.booleans())
    who = (
        None
        if everyone
        else np.flatnonzero(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    )
    ends = len(graph.indices)
    off = np.array(data.draw(st.lists(st.booleans(), min_size=ends, max_size=ends)), bool)
    kind = data.draw(st.sampled_from(["none", "array", "packed"]))
    active = {"none": None, "array": ~off, "packed": PackedBools.from_bools(~off)}[kind]
    if kind == "none":
        off[:] = False
    sim = SimpleNamespace(population=SimpleNamespace(graph=graph), ties_active=active)
    rows = np.arange(n) if who is None else who
    f = _state(value, (lo, hi), who, last_update=0)

    got = ties_mean(sim, f)  # type: ignore[arg-type]

    standing = np.where(np.isnan(value), np.float32(0.5), (value - lo) / (hi - lo))
    steps = np.rint(standing.astype(np.float32) * np.float32(TIE_STEPS))
    assert got.dtype == np.float32 and len(got) == len(rows)
    for k, r in enumerate(rows):
        at = np.arange(graph.indptr[r], graph.indptr[r + 1])
        at = at[~off[at]]
        expected = 0.5 if not len(at) else steps[graph.indices[at]].sum() / (len(at) * TIE_STEPS)
        assert abs(float(got[k]) - expected) < 1e-6


def test_ties_mean_is_neutral_before_the_first_assessment() -> None:
    graph = _graph(3, [(0, 1), (1, 2)])
    sim = SimpleNamespace(population=SimpleNamespace(graph=graph), ties_active=None)
    f = _state(np.full(3, np.nan, np.float32), (350, 950), np.array([0, 2]), last_update=-1)
    assert np.array_equal(ties_mean(sim, f), [0.5, 0.5])  # type: ignore[arg-type]


def test_ties_mean_of_a_last_row_with_several_ties_before_isolated_people() -> None:
    # Found by the property above: the last people with ties hold the last tie ends and
    # everyone after them has none, so the row sums must run to the end of the tie ends.
    n = 33
    graph = _graph(n, [(0, 2), (1, 2)])  # person 2's two ties are the last tie ends
    value = np.full(n, np.nan, np.float32)
    value[0], value[1] = 950.0, 650.0  # standings 1 and 0.5
    sim = SimpleNamespace(population=SimpleNamespace(graph=graph), ties_active=None)
    f = _state(value, (350, 950), None, last_update=0)
    got = ties_mean(sim, f)  # type: ignore[arg-type]
    assert got[2] == np.float32(0.75)  # (254 + 127) / (2 x 254)
    assert got[0] == got[1] == np.float32(0.5)  # one unscored tie each: neutral
    assert np.all(got[3:] == np.float32(0.5))  # no ties: neutral


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 4)), min_size=1, max_size=30).filter(
        lambda rows: any(length for _, length in rows)
    )
)
def test_consecutive_runs_lists_each_rows_positions_in_turn(rows: list[tuple[int, int]]) -> None:
    # Rows may be empty (anywhere, first and last too), overlap or go backwards.
    first = np.array([f for f, _ in rows], np.int32)
    length = np.array([n for _, n in rows], np.int32)
    ends = np.zeros(len(rows) + 1, np.int32)
    np.cumsum(length, out=ends[1:])
    want = [f + i for f, n in rows for i in range(n)]
    got = _consecutive_runs(first, length, ends)
    assert got.dtype == np.int32
    assert got.tolist() == want
