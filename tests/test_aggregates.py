"""Aggregate counters: narrow storage that never wraps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.engine.acts import Aggregates
from sclab.world.sampling import LazyPoisson, RateClasses

N = 6
additions = st.lists(
    st.one_of(
        # per-act entries (repeats count repeatedly)
        st.tuples(st.just("acts"), st.lists(st.integers(0, N - 1), max_size=40)),
        # per-entity totals over everyone, small or near the uint16 range
        st.tuples(
            st.just("totals"),
            st.lists(st.sampled_from([0, 1, 7, 30_000, 65_535]), min_size=N, max_size=N),
        ),
        # per-entity totals for distinct entities
        st.tuples(
            st.just("some"),
            st.dictionaries(st.integers(0, N - 1), st.integers(0, 70_000), max_size=N),
        ),
    ),
    max_size=12,
)


@given(steps=additions)
@settings(max_examples=300, deadline=None)
def test_counts_equal_exact_sums_whatever_the_storage(steps) -> None:
    agg = Aggregates({"person": N})
    expected = np.zeros(N, np.int64)
    for how, what in steps:
        if how == "acts":
            agg.add("k", np.array(what, np.int64))
            np.add.at(expected, np.array(what, np.int64), 1)
        elif how == "totals":
            agg.add_counts("k", np.array(what, np.int64))
            expected += np.array(what)
        else:
            people = np.array(sorted(what), np.int64)
            agg.add_counts("k", np.array([what[p] for p in people], np.int64), people=people)
            expected[people] += np.array([what[p] for p in people], np.int64)
    got = agg.counts.get(("person", "k"))
    if got is None:
        assert not expected.any()
        return
    np.testing.assert_array_equal(got.astype(np.int64), expected)
    assert got.dtype in (np.uint16, np.uint32)


def test_counters_start_narrow_and_widen_before_passing_65535() -> None:
    agg = Aggregates({"person": 3})
    agg.add_counts("k", np.array([60_000, 1, 0]))
    assert agg.counts[("person", "k")].dtype == np.uint16
    agg.add("k", np.array([1, 1, 2]))
    assert agg.counts[("person", "k")].dtype == np.uint16
    agg.add_counts("k", np.array([6_000, 0, 0]))
    counts = agg.counts[("person", "k")]
    assert counts.dtype == np.uint32
    assert counts.tolist() == [66_000, 3, 1]


def test_a_loose_bound_is_rechecked_before_widening() -> None:
    agg = Aggregates({"person": 4})
    for i in range(100):  # the running bound grows by 700 a call, each count every 4th
        agg.add_counts("k", np.roll(np.array([700, 0, 0, 0]), i))
    counts = agg.counts[("person", "k")]
    assert counts.dtype == np.uint16  # largest count 17,500 although the bound passed 65,535
    assert counts.tolist() == [17_500] * 4


def test_focused_reads_draw_the_focus_group_alone_where_the_source_can() -> None:
    # A lazy source of one kind (every entity one act a day), drawn per group; and a
    # source without focus support, which a focused read settles whole.
    n = 8
    agg = Aggregates({"person": n})
    classes = RateClasses(np.arange(n), np.array([0, n]), n)
    lazy = LazyPoisson(classes, np.array([1e3]))  # so many acts that a count is never 0
    calls: list[str] = []

    def settle(focus_only: bool = False) -> None:
        if not (lazy.focus_days if focus_only else lazy.pending):
            return
        calls.append("focus" if focus_only else "all")
        rng = np.random.default_rng(len(calls))
        agg.add_counts("posts", lazy.draw_focus(rng) if focus_only else lazy.draw(rng))

    plain: list[int] = []
    agg.defer(["posts"], settle, on_focus=lazy.set_focus)
    agg.defer(["crossings"], lambda: plain.append(1))
    with pytest.raises(ValueError, match="focus mask has 3 entries for 8"):
        agg.focus("person", np.ones(3, bool))
    focus = np.arange(n) < 3
    agg.focus("person", focus)
    assert lazy.focus is focus  # handed to the source that can use it
    for _ in range(2):
        lazy.accrue()
    got = agg.counts.focused(("person", "posts")).copy()
    assert calls == ["focus"] and got[focus].all() and not got[~focus].any()
    before = len(plain)
    agg.counts.focused(("person", "crossings"))
    assert len(plain) == before + 1  # no focus support: settled whole
    full = agg.counts[("person", "posts")]
    assert calls == ["focus", "all"] and full.all()
    # A second group joins the first; whatever was pending is drawn before.
    lazy.accrue()
    agg.focus("person", np.arange(n) == 7)
    assert calls[-1] == "all" and list(np.flatnonzero(lazy.focus)) == [0, 1, 2, 7]
