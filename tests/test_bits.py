"""Tests for sclab.population.bits: packed flags read and write like a bool array."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.population.bits import PackedBools

bools = st.lists(st.booleans(), min_size=0, max_size=200).map(lambda v: np.array(v, dtype=bool))


@settings(max_examples=200, deadline=None)
@given(values=bools, data=st.data())
def test_reads_and_writes_like_a_bool_array(values: np.ndarray, data: st.DataObject) -> None:
    flags = PackedBools.from_bools(values)
    n = len(values)
    assert len(flags) == n and flags.nbytes == (n + 7) // 8
    assert np.array_equal(np.asarray(flags), values) and flags.count() == values.sum()
    a = data.draw(st.integers(0, n))
    b = data.draw(st.integers(0, n))
    assert np.array_equal(flags[a:b], values[a:b])
    assert flags[a:b].dtype == np.bool_
    if n:
        pos = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=50)), dtype=np.int64)
        assert np.array_equal(flags[pos], values[pos])
        assert np.array_equal(flags[pos.astype(np.int32)], values[pos])
        i = data.draw(st.integers(0, n - 1))
        assert flags[i] is bool(values[i])
        value = data.draw(st.booleans())
        copy, before = flags.copy(), values.copy()
        flags[pos] = value
        values[pos] = value
        assert np.array_equal(np.asarray(flags), values)
        assert np.array_equal(np.asarray(copy), before)  # the copy is independent


def test_full_sets_every_flag_and_writes_change_single_bits() -> None:
    on = PackedBools.full(13, True)
    assert on.count() == 13 and np.asarray(on).all()
    on[np.array([0, 7, 8, 12])] = False
    assert np.flatnonzero(~np.asarray(on)).tolist() == [0, 7, 8, 12]
    on[5] = False
    assert not on[5] and on.count() == 8
    off = PackedBools.full(9, False)
    off[np.array([3, 3, 8])] = True  # repeated positions are fine
    assert np.flatnonzero(np.asarray(off)).tolist() == [3, 8]


def test_bad_uses_raise() -> None:
    flags = PackedBools.full(10, True)
    with pytest.raises(IndexError):
        flags[10]
    with pytest.raises(IndexError):
        flags[0:10:2]
    with pytest.raises(IndexError):
        flags[np.array([0.5])]
    with pytest.raises(IndexError):
        flags[np.array([10])] = False
    with pytest.raises(ValueError, match="copy"):
        np.asarray(flags, copy=False)  # unpacking always makes a new array
    with pytest.raises(ValueError, match="cannot hold"):
        PackedBools(np.zeros(1, np.uint8), 9)
    with pytest.raises(ValueError, match="uint8"):
        PackedBools(np.zeros(2, np.int8), 9)
    flags.freeze()
    with pytest.raises(ValueError, match="read-only"):
        flags[np.array([1])] = False
