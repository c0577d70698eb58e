"""The base layer's array helpers against NumPy's own (hypothesis properties)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sclab.arrays import lex_order, stable_order, union_positions, union_sorted

_ints = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16])


@settings(max_examples=200, deadline=None)
@given(st.data(), st.integers(0, 60), st.integers(1, 4))
def test_lex_order_is_lexsort(data: st.DataObject, n: int, k: int) -> None:
    """Same order as ``np.lexsort`` (stable, last key primary), whether the keys pack into
    one int64 or not (wide keys fall back to lexsort)."""
    keys = []
    for _ in range(k):
        dtype = data.draw(_ints)
        info = np.iinfo(dtype)
        wide = data.draw(st.booleans())
        lo, hi = (int(info.min), int(info.max)) if wide else (-3, 5)
        lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
        keys.append(data.draw(hnp.arrays(dtype, n, elements=st.integers(lo, hi))))
    assert (lex_order(*keys) == np.lexsort(keys)).all()


@given(st.lists(st.lists(st.integers(-50, 50), max_size=30), max_size=5))
def test_union_sorted_is_union1d(parts: list[list[int]]) -> None:
    arrays = [np.array(p, dtype=np.int64) for p in parts]
    expected = np.unique(np.concatenate(arrays)) if arrays else np.empty(0, np.int64)
    assert (union_sorted(*arrays) == expected).all()


@given(
    st.sets(st.integers(-200, 200), max_size=20),
    st.sets(st.integers(-50, 50), max_size=60),
    st.sampled_from([np.int8, np.int32, np.int64]),
)
def test_union_positions_is_union_and_its_searches(
    few: set[int], many: set[int], dtype: type
) -> None:
    """The union of two sorted sets (overlapping or not, either empty) and where each
    element of both lands in it, as union_sorted and np.searchsorted give them, whether
    ``few`` fits in the type of ``many`` or not."""
    a = np.array(sorted(few), dtype=np.int64)
    b = np.array(sorted(many), dtype=dtype)
    union, a_at, b_at = union_positions(a, b)
    expected = union_sorted(a, b)
    assert union.dtype == np.int64 and (union == expected).all()
    assert (a_at == np.searchsorted(expected, a)).all()
    assert (b_at == np.searchsorted(expected, b)).all()


@settings(max_examples=150, deadline=None)
@given(
    high=st.sampled_from([1, 7, 256, 300, 65536, 70000, 2**40]),
    shift=st.sampled_from([0, -3, -3000]),
    dtype=st.sampled_from([np.int64, np.int32, np.uint32, np.uint16, np.uint64]),
    k=st.integers(0, 3000),
    seed=st.integers(0, 2**32 - 1),
)
def test_stable_order_is_the_stable_argsort(
    high: int, shift: int, dtype: type, k: int, seed: int
) -> None:
    """The same order as NumPy's stable argsort, whether the keys span little (sorted as
    narrow offsets from their minimum, negative minimums included) or much."""
    rng = np.random.default_rng(seed)
    key = rng.integers(0, high, k) + shift
    if np.dtype(dtype).kind == "u":
        key = np.abs(key)
    key = key.astype(dtype) if np.iinfo(dtype).max >= high else key
    assert np.array_equal(stable_order(key), np.argsort(key, kind="stable"))
