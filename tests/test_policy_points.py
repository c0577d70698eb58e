"""Points changes: each row's running sum within its entity's run is the running sum of
all rows less the one before the run (bit for bit, whatever the deltas), and a bundle of
records of a whole-number delta changes the score by its number of records times it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.policy.points import _steps, _whole
from sclab.policy.state import run_ends, run_starts


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_steps_are_the_running_sums_within_each_run(data: st.DataObject) -> None:
    k = data.draw(st.integers(1, 50))
    entity = np.sort(np.array(data.draw(st.lists(st.integers(0, 9), min_size=k, max_size=k))))
    floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    delta = np.array(data.draw(st.lists(floats, min_size=k, max_size=k)), np.float32)
    starts = run_starts(entity)
    ends = run_ends(starts, k)
    # The running sums of all rows less the sum before each run, repeated over its rows.
    step = np.cumsum(delta, dtype=np.float64)
    want = step - (step[starts] - delta[starts]).repeat(ends - starts)
    np.testing.assert_array_equal(_steps(delta, starts), want)


@given(delta=st.integers(-(2**23), 2**23), records=st.integers(1, 2000))
def test_a_bundle_of_whole_deltas_sums_to_their_number_times_the_delta(
    delta: int, records: int
) -> None:
    assert _whole(float(delta))
    one_by_one = np.add.reduce(np.full(records, delta, np.float32), dtype=np.float64)
    assert one_by_one == records * np.float64(delta)
    assert not _whole(0.5) and not _whole(2.0**24 + 2)
