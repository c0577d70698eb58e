"""A listed company's legal representative: looking them up among a day's attempts.

``one_per_representative`` folds the triggering companies into one row per person (the
first company's event; wrongful only if every listing behind it is), and
``representatives_among`` finds those people among a batch of attempts, by either of
its two searches. Both are checked against a plain dictionary on any input.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.policy.joint import one_per_representative, representatives_among

companies = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 10**6), st.booleans()), max_size=30
)


@settings(max_examples=200, deadline=None)
@given(companies)
def test_one_row_per_representative_wrongful_only_if_every_listing_is(rows) -> None:
    reps = np.array([r for r, _, _ in rows], np.int64)
    event = np.array([e for _, e, _ in rows], np.int64)
    bad = np.array([b for _, _, b in rows], bool)
    got_reps, got_event, got_bad = one_per_representative(reps, event, bad)
    expected: dict[int, tuple[int, bool]] = {}
    for r, e, b in rows:
        first, all_bad = expected.get(r, (e, True))
        expected[r] = (first, all_bad and b)
    assert list(got_reps) == sorted(expected)
    assert [(int(e), bool(b)) for e, b in zip(got_event, got_bad, strict=True)] == [
        expected[r] for r in sorted(expected)
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.sets(st.integers(0, 60), max_size=12),
    st.lists(st.integers(0, 60), max_size=200),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_both_searches_find_the_same_representatives(reps_set, people, in_order, rnd) -> None:
    reps = np.array(sorted(reps_set), np.int64)
    event = np.array([rnd.randrange(10**6) for _ in reps], np.int64)
    bad = np.array([rnd.random() < 0.5 for _ in reps], bool)
    person = np.array(sorted(people) if in_order else people, np.int64)
    hit, found, wrongful = representatives_among(reps, event, bad, person)
    by_rep = {int(r): (int(e), bool(b)) for r, e, b in zip(reps, event, bad, strict=True)}
    for i, p in enumerate(person):
        e, b = by_rep.get(int(p), (-1, False))
        assert (bool(hit[i]), int(found[i]), bool(wrongful[i])) == (int(p) in by_rep, e, b)


def test_a_long_batch_in_order_takes_the_search_of_the_representatives() -> None:
    """The case the day's rail tickets are: many attempts in actor order, with repeats."""
    rng = np.random.default_rng(3)
    person = np.sort(rng.integers(0, 5_000, 20_000))
    reps = np.unique(rng.integers(0, 5_000, 300))
    event = rng.integers(0, 10**9, len(reps))
    bad = rng.random(len(reps)) < 0.3
    hit, found, wrongful = representatives_among(reps, event, bad, person)
    pos = np.minimum(np.searchsorted(reps, person), len(reps) - 1)
    expected = reps[pos] == person
    assert hit.sum() > 1_000
    np.testing.assert_array_equal(hit, expected)
    np.testing.assert_array_equal(found, np.where(expected, event[pos], -1))
    np.testing.assert_array_equal(wrongful, expected & bad[pos])
