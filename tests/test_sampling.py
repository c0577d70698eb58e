"""Sparse and lazy sampling (sclab.world.sampling) and the aggregates they feed.

Statistical tolerance: a count with expectation E (a sum of independent Poisson or
Bernoulli draws) is accepted within 5 standard errors, sqrt(E) for Poisson and
sqrt(sum p(1-p)) for Bernoulli sums, plus 1 for the integer grid. A correct sampler fails
one such check with probability below 1e-6 (normal approximation), so the few hundred
checks hypothesis makes here fail by chance with probability below 1e-3; a rate off by a
factor (a lost thinning factor, a wrong class) moves the count by many standard errors.
Where a law is exact (sums, ranges, order, distinctness), it is checked exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.draws import bernoulli_sparse
from sclab.engine.acts import Aggregates
from sclab.world import sampling
from sclab.world.sampling import (
    BucketedSearch,
    IdSorter,
    LazyPoisson,
    RateClasses,
    binomial,
    bound_of,
    draw_with_multiplier,
    lognormal_amounts,
    lognormal_sums,
    multinomial_split,
    poisson,
    thin,
    thinned,
)

Z = 5.0
SEEDS = st.integers(0, 2**32 - 1)
PROBS = st.floats(0.0, 1.0, allow_nan=False)


def near(observed: float, expected: float, var: float) -> bool:
    """Within Z standard errors (plus one for integer counts)."""
    return abs(observed - expected) <= Z * np.sqrt(var) + 1.0


def pmf_pvalue(draws: np.ndarray, pmf: Any) -> float:
    """Chi-square p-value of integer ``draws`` against ``pmf(k)``: one cell per count
    expected at least 5 times, every other count (the tails) pooled in one cell."""
    from scipy import stats

    k = np.arange(int(draws.max()) + 1)
    expected = pmf(k) * len(draws)
    cells = expected >= 5
    observed = np.bincount(draws, minlength=len(k))
    obs = np.r_[observed[cells], observed[~cells].sum()]
    exp = np.r_[expected[cells], len(draws) - expected[cells].sum()]
    keep = exp > 0
    return float(stats.chisquare(obs[keep], exp[keep]).pvalue)


def classes_from(
    sizes: list[int], shuffle_seed: int, outsiders: int = 0
) -> tuple[RateClasses, np.ndarray]:
    """Classes of the given sizes over shuffled ids, then ``outsiders`` people in no class.

    Also returns each member's class (ids 0..sum(sizes)-1).
    """
    n = int(sum(sizes))
    ids = np.random.default_rng(shuffle_seed).permutation(n)
    class_of = np.repeat(np.arange(len(sizes)), sizes)[np.argsort(ids)]
    if not outsiders:
        return RateClasses.of(class_of, len(sizes)), class_of
    full = RateClasses.of(class_of, len(sizes))  # keeps empty classes in the numbering
    return RateClasses(full.members, full.offsets, n + outsiders), class_of


# ------------------------------------------------------------------ Bernoulli draws


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 5000), p=PROBS, seed=SEEDS)
def test_bernoulli_sparse_indices_sorted_distinct_and_count(n: int, p: float, seed: int) -> None:
    who = bernoulli_sparse(np.random.default_rng(seed), n, p)
    assert who.dtype == np.int64
    assert np.all(np.diff(who) > 0)  # sorted and distinct
    assert len(who) == 0 or (who[0] >= 0 and who[-1] < n)
    assert near(len(who), n * p, n * p * (1 - p))


def test_bernoulli_sparse_rejects_bad_probabilities() -> None:
    with pytest.raises(ValueError):
        bernoulli_sparse(np.random.default_rng(0), 10, 1.5)


@settings(max_examples=40, deadline=None)
@given(
    p=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8),
    slack=st.floats(0.0, 1.0),
    seed=SEEDS,
)
def test_thinned_is_exact_for_any_bound_at_least_max_p(
    p: list[float], slack: float, seed: int
) -> None:
    probs = np.array(p)
    bound = float(probs.max()) + slack * (1.0 - float(probs.max()))  # max(p) <= bound <= 1
    rng = np.random.default_rng(seed)
    draws = 1500
    got = np.zeros(len(probs))
    for _ in range(draws):
        who = thinned(rng, probs, bound)
        assert np.all(np.diff(who) > 0)
        got += np.bincount(who, minlength=len(probs))
    assert np.all(got[probs == 0] == 0)
    for observed, q in zip(got, probs, strict=True):
        assert near(observed, draws * q, draws * q * (1 - q)), (observed, q, bound)


@settings(max_examples=30, deadline=None)
@given(
    p=st.floats(0.0, 0.5),
    mult=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=6),
    seed=SEEDS,
)
def test_draw_with_multiplier_law_and_pool_order(p: float, mult: list[float], seed: int) -> None:
    m = np.array(mult, dtype=np.float32)
    pool = np.arange(len(m))[::-1].copy()  # reversed: the result keeps the pool's order
    rng = np.random.default_rng(seed)
    draws = 1500
    got = np.zeros(len(m))
    for _ in range(draws):
        who = draw_with_multiplier(rng, pool, p, m, float(m.max()))
        assert np.all(np.diff(who) < 0)
        got += np.bincount(who, minlength=len(m))
    q = np.minimum(1.0, p * m.astype(np.float64))
    assert np.all(np.abs(got - draws * q) <= Z * np.sqrt(draws * q * (1 - q)) + 1.0)


def test_draw_with_multiplier_caps_multipliers_at_the_bound() -> None:
    rng = np.random.default_rng(1)
    mult = np.array([1.0, 10.0], dtype=np.float32)
    draws, p = 20_000, 0.05
    got = np.zeros(2)
    for _ in range(draws // 100):
        for _ in range(100):
            got += np.bincount(draw_with_multiplier(rng, np.arange(2), p, mult, 2.0), minlength=2)
    # The second multiplier acts as the bound 2: probability 0.1, not 0.5.
    assert near(got[1], draws * 0.1, draws * 0.1 * 0.9)
    assert near(got[0], draws * 0.05, draws * 0.05 * 0.95)


def test_thin_and_bound_of() -> None:
    rng = np.random.default_rng(3)
    who = np.arange(10)
    kept, mask = thin(rng, who, np.r_[np.zeros(5), np.ones(5)])
    assert np.array_equal(kept, np.arange(5, 10)) and np.array_equal(who[mask], kept)
    assert bound_of(None) == 1.0
    assert bound_of(np.array([0.5, 2.0], np.float32)) == 2.0
    assert bound_of(np.empty(0)) == 0.0


@pytest.mark.parametrize("mean", [0.02, 0.4, 1.0, 2.5, 3.99, 4.0, 7.5, 30.0])
def test_poisson_matches_the_poisson_law(mean: float) -> None:
    """Each count's frequency against the Poisson pmf (chi-square over the cells expected
    to hold at least 5 draws, the tail pooled): a wrong CDF term or a count off by one
    moves it by far more than the 1e-6 quantile allows."""
    from scipy import stats

    draws = poisson(np.random.default_rng(5), np.full(200_000, mean))
    assert draws.dtype == np.int32 and draws.min() >= 0
    assert pmf_pvalue(draws, lambda k: stats.poisson.pmf(k, mean)) > 1e-6


@settings(max_examples=60, deadline=None)
@given(
    means=st.lists(st.one_of(st.just(0.0), st.floats(0.0, 4.5), st.floats(4.5, 1e4)), max_size=300),
    seed=SEEDS,
)
def test_poisson_mixed_means(means: list[float], seed: int) -> None:
    lam = np.array(means, dtype=np.float64)
    a = poisson(np.random.default_rng(seed), lam)
    b = poisson(np.random.default_rng(seed), lam)
    assert a.shape == lam.shape and a.dtype == np.int32 and np.array_equal(a, b)
    assert np.all(a >= 0) and np.all(a[lam == 0] == 0)
    assert near(a.sum(), lam.sum(), lam.sum())


@settings(max_examples=40, deadline=None)
@given(
    means=st.lists(st.floats(0.0, 4.5), max_size=300),
    trials=st.integers(0, 40),
    size=st.integers(1, 64),
    seed=SEEDS,
)
def test_inversion_in_slices_draws_what_one_pass_draws(
    means: list[float], trials: int, size: int, seed: int
) -> None:
    """The inversion searches in cache-sized slices; each count depends on its own uniform
    only, so any slice size gives the same draws as one slice holding every entry."""
    lam = np.array(means, dtype=np.float64)
    n = np.full(len(means), trials, dtype=np.int64)

    def draws() -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        return poisson(rng, lam), binomial(rng, n, 0.1)

    whole = draws()
    default = sampling._INVERSION_SLICE
    sampling._INVERSION_SLICE = size
    try:
        sliced = draws()
    finally:
        sampling._INVERSION_SLICE = default
    assert all(np.array_equal(a, b) for a, b in zip(whole, sliced, strict=True))


@pytest.mark.parametrize(
    ("trials", "p"), [(1, 0.3), (12, 0.05), (40, 0.09), (5, 0.7), (3, 0.99), (200, 0.1)]
)
def test_binomial_matches_the_binomial_law(trials: int, p: float) -> None:
    """As for Poisson: frequencies against the pmf, by inversion (mean below 4) and by
    NumPy's sampler (mean 20)."""
    from scipy import stats

    draws = binomial(np.random.default_rng(6), np.full(200_000, trials), p)
    assert draws.dtype == np.int64 and draws.min() >= 0 and draws.max() <= trials
    assert pmf_pvalue(draws, lambda k: stats.binom.pmf(k, trials, p)) > 1e-6


@settings(max_examples=60, deadline=None)
@given(
    trials=st.lists(st.integers(0, 500), max_size=300),
    p=st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)),
    seed=SEEDS,
)
def test_binomial_mixed_trials(trials: list[int], p: float, seed: int) -> None:
    n = np.array(trials, dtype=np.int64)
    a = binomial(np.random.default_rng(seed), n, p)
    assert a.shape == n.shape and np.array_equal(a, binomial(np.random.default_rng(seed), n, p))
    assert np.all(a >= 0) and np.all(a <= n) and np.all(a[n == 0] == 0)
    if p in (0.0, 1.0):
        assert np.array_equal(a, n * int(p))
    assert near(a.sum(), n.sum() * p, n.sum() * p * (1 - p))
    with pytest.raises(ValueError, match="p must be in"):
        binomial(np.random.default_rng(seed), n, 1.5)


# ------------------------------------------------------------------ rate classes


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=5),
    rate=st.floats(0.05, 2.0),
    with_mult=st.booleans(),
    with_accept=st.booleans(),
    seed=SEEDS,
)
def test_rate_class_events_law(
    sizes: list[int], rate: float, with_mult: bool, with_accept: bool, seed: int
) -> None:
    classes, class_of = classes_from(sizes, seed)
    n = len(class_of)
    rng = np.random.default_rng(seed)
    rates = rate * (1 + np.arange(len(sizes)))
    mult = rng.uniform(0.0, 2.0, n).astype(np.float32) if with_mult else None
    if with_accept:
        classes.accept = rng.uniform(0.0, 1.0, n).astype(np.float32)
    draws = 300
    got = np.zeros(n)
    for _ in range(draws):
        who, cls = classes.events(rng, rates, mult)
        assert np.array_equal(cls, class_of[who])  # each event reports its class
        got += np.bincount(who, minlength=n)
    expected = rates[class_of] * draws
    if with_accept:
        expected = expected * classes.accept
    if mult is not None:
        expected = expected * mult
    assert np.all(np.abs(got - expected) <= Z * np.sqrt(expected) + 1.0)


def test_rate_class_events_use_scalar_draws_for_big_classes() -> None:
    # Two classes far above BIG_CLASS events a day and a small one: per-class totals hold.
    sizes = [50, 3, 400]
    classes, class_of = classes_from(sizes, 5)
    rng = np.random.default_rng(5)
    rates = np.array([200.0, 2.0, 30.0])
    got = np.zeros(len(class_of))
    days = 20
    for _ in range(days):
        who, _ = classes.events(rng, rates)
        got += np.bincount(who, minlength=len(class_of))
    for c, size in enumerate(sizes):
        e = rates[c] * size * days
        assert near(got[class_of == c].sum(), e, e), c
    per_person = got[class_of == 0]  # 4000 expected each: within 5 sd
    assert np.all(np.abs(per_person - 4000) <= Z * np.sqrt(4000))


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    p=st.floats(0.0, 0.6),
    seed=SEEDS,
)
def test_rate_class_bernoulli_law(sizes: list[int], p: float, seed: int) -> None:
    classes, class_of = classes_from(sizes, seed)
    n = len(class_of)
    rng = np.random.default_rng(seed)
    probs = p * np.linspace(0.5, 1.0, len(sizes))
    mult = rng.uniform(0.0, 3.0, n).astype(np.float32)
    draws = 1000
    got = np.zeros(n)
    for _ in range(draws):
        who = classes.bernoulli(rng, probs, mult)
        assert len(np.unique(who)) == len(who)  # at most one event each
        got += np.bincount(who, minlength=n)
    q = np.minimum(1.0, probs[class_of] * mult)
    assert np.all(np.abs(got - draws * q) <= Z * np.sqrt(draws * q * (1 - q)) + 1.0)


def test_group_keys_and_class_of() -> None:
    people = np.array([2, 5, 7, 9])
    key = np.array([30, 10, 30, 20])
    classes = RateClasses.group(people, key, 12)
    assert classes.members.tolist() == [5, 9, 2, 7]  # by key, ids increasing within
    assert classes.keys(np.bincount(people, weights=key, minlength=12)).tolist() == [10, 20, 30]
    class_of = classes.class_of()
    assert class_of[[5, 9, 2, 7]].tolist() == [0, 1, 2, 2]
    assert np.all(np.delete(class_of, people) == classes.n_classes)


@pytest.mark.parametrize("days", [1, 40])  # sparse placement, then one draw per person
@pytest.mark.parametrize("with_weight", [False, True])
def test_rate_class_totals_are_poisson_per_person(days: int, with_weight: bool) -> None:
    sizes = [3000, 0, 2000]
    classes, class_of = classes_from(sizes, 11, outsiders=500)  # 500 people in no class
    n_people = len(class_of) + 500
    rng = np.random.default_rng(11)
    accept = np.r_[rng.uniform(0.2, 1.0, len(class_of)), np.zeros(500)].astype(np.float32)
    classes.accept = accept
    rate = np.array([0.03, 5.0, 0.005]) * days
    weight = None
    lam = rate[np.r_[class_of, np.zeros(500, int)]] * accept
    if with_weight:
        weight = rng.uniform(0.0, 2.0, n_people).astype(np.float32)
        lam = lam * weight
    reps = 20
    got = np.zeros(n_people)
    sq = np.zeros(n_people)
    for _ in range(reps):
        counts = classes.totals(rng, rate, weight)
        assert counts.shape == (n_people,)
        assert counts.dtype == (np.int64 if days == 1 else np.int32)  # sparse, then dense
        assert np.all(counts[len(class_of) :] == 0)
        got += counts
        sq += counts.astype(np.float64) ** 2
    assert near(got.sum(), lam.sum() * reps, lam.sum() * reps)
    for c in (0, 2):
        m = np.r_[class_of == c, np.zeros(500, bool)]
        assert near(got[m].sum(), lam[m].sum() * reps, lam[m].sum() * reps), c
    # Poisson: the pooled variance equals the pooled mean (checked loosely: 10 %).
    var = (sq / reps - (got / reps) ** 2).sum() * reps / (reps - 1)
    assert var == pytest.approx(lam.sum(), rel=0.1)


def test_lazy_poisson_mixes_plain_days_and_multiplier_days() -> None:
    sizes = [4000, 6000]
    classes, class_of = classes_from(sizes, 2)
    n = len(class_of)
    rate = np.array([0.2, 0.05])
    lazy = LazyPoisson(classes, rate)
    assert not lazy.pending
    mult = np.zeros(n, np.float32)
    mult[::2] = 1.5  # even ids at 1.5, odd ids stop
    for day in range(30):
        lazy.accrue(None if day < 10 else mult)  # a behaviour starts on day 10
    assert lazy.pending
    counts = lazy.draw(np.random.default_rng(2))
    assert not lazy.pending and lazy.days == 0 and lazy.offset is None
    exposure = 10 + 20 * mult.astype(np.float64)
    lam = rate[class_of] * exposure
    for parity in (0, 1):
        e = lam[parity::2].sum()
        assert near(counts[parity::2].sum(), e, e), parity
    # Nothing pending: the next draw is all zeros.
    assert not lazy.draw(np.random.default_rng(3)).any()


# A multiplier write after some days: (days accrued before it, who: None for everyone,
# the new value), for 40 people.
WRITE = (
    st.integers(0, 3),
    st.one_of(st.none(), st.lists(st.integers(0, 39), min_size=1, max_size=10)),
    st.floats(0, 3, width=32),
)


@given(
    changes=st.lists(st.tuples(*WRITE), max_size=8),
    tail=st.integers(0, 3),
)
@settings(max_examples=150, deadline=None)
def test_lazy_poisson_exposure_follows_watched_writes(changes, tail) -> None:
    """Days cost O(1) and writes are credited: the exposure is the sum of each day's
    multiplier, whatever the days and writes (everyone's or some people's)."""
    from sclab.engine.simulation import State

    classes, _ = classes_from([40], 1)
    state = State({"person": 40})
    lazy = LazyPoisson(classes, np.array([0.1]))
    lazy.follow(state, "propensity/m")
    expected = np.zeros(40)
    current = np.ones(40, np.float32)  # None means 1 until the array exists
    mult = None
    for days, people, value in changes:
        for _ in range(days):
            lazy.accrue(mult)
            expected += current
        if mult is None:
            mult = state.add("propensity/m", "person", np.float32, fill=1.0)
        who = None if people is None else np.unique(people)
        state.write("propensity/m", np.float32(value), who)
        current[slice(None) if who is None else who] = np.float32(value)
    for _ in range(tail):
        lazy.accrue(mult)
        expected += current
    np.testing.assert_allclose(lazy.exposure(np.arange(40)), expected, rtol=1e-5, atol=1e-5)
    assert lazy.pending == (expected.size > 0 and lazy.days > 0)


@given(
    steps=st.lists(st.tuples(*WRITE, st.sampled_from(["write", "focus draw", "draw"])), max_size=8),
    tail=st.integers(0, 3),
)
@settings(max_examples=150, deadline=None)
def test_lazy_poisson_focus_draws_keep_each_groups_exposure(steps, tail) -> None:
    """With a focus group drawn alone now and then, each person's exposure is the sum of
    the day's multipliers since their own group's last draw, whatever the writes."""
    from sclab.engine.simulation import State

    classes, _ = classes_from([40], 1)
    state = State({"person": 40})
    lazy = LazyPoisson(classes, np.array([0.1]))
    lazy.follow(state, "propensity/m")
    focus = np.zeros(40, bool)
    focus[::3] = True
    lazy.set_focus(focus)
    expected = np.zeros(40)
    current = np.ones(40, np.float32)
    mult = None
    rng = np.random.default_rng(0)
    for days, people, value, action in steps:
        for _ in range(days):
            lazy.accrue(mult)
            expected += current
        if action == "write":
            if mult is None:
                mult = state.add("propensity/m", "person", np.float32, fill=1.0)
            who = None if people is None else np.unique(people)
            state.write("propensity/m", np.float32(value), who)
            current[slice(None) if who is None else who] = np.float32(value)
        elif action == "focus draw":
            got = lazy.draw_focus(rng)
            assert not got[~focus].any()  # the others are not drawn...
            expected[focus] = 0.0  # ...and keep their exposure
        else:
            lazy.draw(rng)
            expected[:] = 0.0
    for _ in range(tail):
        lazy.accrue(mult)
        expected += current
    np.testing.assert_allclose(lazy.exposure(np.arange(40)), expected, rtol=1e-5, atol=1e-4)
    assert lazy.pending == (lazy.days > 0 or lazy.focus_days > 0)


def test_lazy_poisson_focus_draws_then_the_rest_follow_the_poisson_law() -> None:
    # Monthly draws of a focus group and one of everyone at the end: every person's total
    # is Poisson with their whole exposure (multiplier changes included).
    from sclab.engine.simulation import State

    sizes = [30_000, 50_000]
    classes, class_of = classes_from(sizes, 2)
    n = len(class_of)
    rate = np.array([0.02, 0.005])
    state = State({"person": n})
    lazy = LazyPoisson(classes, rate)
    lazy.follow(state, "propensity/m")
    mult = state.add("propensity/m", "person", np.float32, fill=1.0)
    focus = np.random.default_rng(4).random(n) < 0.4
    lazy.set_focus(focus)
    rng = np.random.default_rng(5)
    total = np.zeros(n, np.int64)
    changed = np.arange(0, n, 7)
    for day in range(90):
        if day == 45:
            state.write("propensity/m", np.float32(0.25), changed)  # a behaviour change mid-run
        lazy.accrue(mult)
        if day % 30 == 29:
            got = lazy.draw_focus(rng)
            assert not got[~focus].any()
            total += got
    assert lazy.pending and lazy.focus_days == 0 and lazy.days == 90
    total += lazy.draw(rng)
    assert not lazy.pending
    exposure = np.full(n, 90.0)
    exposure[changed] = 45 + 45 * 0.25
    lam = rate[class_of] * exposure
    for group in (focus, ~focus):
        for c in (0, 1):
            m = group & (class_of == c)
            assert near(total[m].sum(), lam[m].sum(), lam[m].sum()), c


def test_lazy_poisson_focus_needs_a_group_and_a_clean_slate() -> None:
    classes, _ = classes_from([10], 1)
    lazy = LazyPoisson(classes, np.array([0.1]))
    with pytest.raises(RuntimeError, match="set_focus"):
        lazy.draw_focus(np.random.default_rng(0))
    focus = np.arange(10) < 5
    lazy.accrue()
    lazy.set_focus(focus)  # a first group shares everyone's days
    lazy.draw_focus(np.random.default_rng(0))
    lazy.accrue()
    with pytest.raises(RuntimeError, match="draw everyone first"):
        lazy.set_focus(~focus)


def test_watched_arrays_change_by_write_only() -> None:
    from sclab.engine.simulation import State

    state = State({"person": 5})
    state.watch("propensity/m", lambda arr, who, old: None)
    arr = state.add("propensity/m", "person", np.float32, fill=1.0)
    with pytest.raises(ValueError, match="read-only"):
        arr[0] = 2.0
    state.write("propensity/m", 2.0, np.array([0]))
    assert arr[0] == 2.0 and not arr.flags.writeable


# ------------------------------------------------------------------ amounts, splits, order


@settings(max_examples=20, deadline=None)
@given(median=st.floats(1.0, 1e4), sigma=st.floats(0.1, 1.5), seed=SEEDS)
def test_lognormal_amounts_law(median: float, sigma: float, seed: int) -> None:
    n = 4000
    x = lognormal_amounts(np.random.default_rng(seed), n, median, sigma, decimals=2)
    assert np.all(x >= 0) and np.allclose(x, np.round(x, 2))
    logs = np.log(np.maximum(x, 0.005))
    # Rounding to cents moves log values by at most 0.005 / x: negligible at x >= 1/2.
    assert abs(np.median(logs) - np.log(median)) < Z * 1.253 * sigma / np.sqrt(n) + 0.01


def test_lognormal_sums_are_exact_sums_and_chunk(monkeypatch: Any) -> None:
    counts = np.array([0, 3, 1, 0, 7, 2])
    # sigma 0: every amount is the median rounded, so sums are exact.
    got = lognormal_sums(np.random.default_rng(0), counts, 12.25, 0.0, decimals=2)
    assert np.allclose(got, counts * 12.25)
    monkeypatch.setattr(sampling, "CHUNK", 4)  # chunks cut across and inside entries
    got = lognormal_sums(np.random.default_rng(0), counts, 12.25, 0.0, decimals=0)
    assert np.allclose(got, counts * 12.0)
    # Law of the sum: mean count × median × exp(σ²/2) within 5 standard errors.
    many = np.full(2000, 5)
    s = lognormal_sums(np.random.default_rng(1), many, 40.0, 0.6, decimals=2)
    mu = 5 * 40.0 * np.exp(0.18)
    sd = np.sqrt(5) * 40.0 * np.exp(0.18) * np.sqrt(np.expm1(0.36))
    assert abs(s.mean() - mu) < Z * sd / np.sqrt(len(many))


@settings(max_examples=40, deadline=None)
@given(
    total=st.integers(0, 10**6),
    weight=st.lists(st.floats(0.0, 10.0), min_size=1, max_size=30),
    seed=SEEDS,
)
def test_multinomial_split_sums_exactly_and_follows_weights(
    total: int, weight: list[float], seed: int
) -> None:
    w = np.array(weight)
    got = multinomial_split(np.random.default_rng(seed), total, w)
    if w.sum() <= 0:
        assert not got.any()
        return
    assert got.sum() == total and np.all(got >= 0)
    assert np.all(got[w == 0] == 0)
    p = w / w.sum()
    assert np.all(np.abs(got - total * p) <= Z * np.sqrt(total * p * (1 - p)) + 1.0)


def test_multinomial_split_variance_matches_the_multinomial() -> None:
    rng = np.random.default_rng(4)
    w = np.array([1.0, 2.0, 7.0])
    draws = np.array([multinomial_split(rng, 400, w) for _ in range(3000)])
    p = w / w.sum()
    var = 400 * p * (1 - p)
    # Sample variance of 3000 draws: relative sd about sqrt(2 / 3000) = 2.6 %.
    assert np.allclose(draws.var(axis=0), var, rtol=Z * np.sqrt(2 / 3000))
    # Negative covariance of the multinomial: -n p_i p_j.
    cov = np.cov(draws[:, 0], draws[:, 2])[0, 1]
    assert cov == pytest.approx(-400 * p[0] * p[2], rel=0.25)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), k=st.integers(0, 4000), seed=SEEDS)
def test_id_sorter_matches_a_sort(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    sorter = IdSorter(n)
    for _ in range(3):  # the reused buffers must come back clean
        who = rng.integers(0, n, k)
        got = sorter(who)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.sort(who))


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 400),
    span=st.integers(1, 12),
    grid=st.sampled_from([0, 4, 4096]),
    seed=SEEDS,
)
def test_bucketed_search_matches_searchsorted(m: int, span: int, grid: int, seed: int) -> None:
    """Exactly np.searchsorted(side="right"), also for keys on an edge, a hair either
    side of one, outside [lo, hi) and NaN; edges may repeat (a grid puts many on bucket
    boundaries)."""
    rng = np.random.default_rng(seed)
    edges = np.sort(rng.random(m) * span)
    if grid:
        edges = np.round(edges * grid) / grid
    search = BucketedSearch(edges, 0.0, float(span))
    keys = np.concatenate([
        rng.integers(0, span, 3000) + rng.random(3000),
        edges, np.nextafter(edges, -np.inf), np.nextafter(edges, np.inf),
        [-1.0, 0.0, float(span), np.nextafter(float(span), 0.0), span + 5.0, np.nan],
    ])  # fmt: skip
    assert np.array_equal(search(keys), np.searchsorted(edges, keys, side="right"))


# ------------------------------------------------------------------ aggregates


def test_aggregates_add_and_add_counts() -> None:
    agg = Aggregates({"person": 6})
    agg.add("k", np.array([1, 3, 1, 1]), np.array([1.0, 2.0, 3.0, 4.0]))
    agg.add_counts("k", np.array([2, 1]), np.array([0.5, 0.25]), people=np.array([0, 3]))
    agg.add_counts("k", np.ones(6, np.int64), np.ones(6))
    assert agg.counts[("person", "k")].tolist() == [3, 4, 1, 3, 1, 1]
    assert agg.amounts[("person", "k")].tolist() == [1.5, 9.0, 1.0, 3.25, 1.0, 1.0]
    agg.add("empty", np.empty(0, np.int64))
    assert ("person", "empty") in agg.counts and not agg.counts[("person", "empty")].any()


@given(
    counts=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    block=st.integers(1, 50),
)
@settings(max_examples=50, deadline=None)
def test_aggregate_rows_are_the_same_whatever_the_block(counts: list[int], block: int) -> None:
    agg = Aggregates({"person": len(counts)})
    agg.add_counts("k", np.array(counts), np.arange(len(counts), dtype=np.float64) / 4)

    def rows(block_size: int) -> list[tuple[int, int, float]]:
        agg.ROWS_BLOCK = block_size
        out = []
        for b in agg.rows():
            out += zip(
                b["entity_id"].tolist(), b["count"].tolist(), b["amount"].tolist(), strict=True
            )
        return out

    whole = rows(10**6)
    assert rows(block) == whole
    assert [e for e, _, _ in whole] == [i for i, c in enumerate(counts) if c]


def test_aggregates_settle_deferred_kinds_on_read_only() -> None:
    agg = Aggregates({"person": 4})
    calls: list[str] = []

    def settle() -> None:
        calls.append("drawn")
        agg.add_counts("a", np.array([1, 0, 2, 0]))
        agg.add_counts("b", np.array([0, 5, 0, 0]))

    agg.defer(["a", "b"], settle)
    agg.add("c", np.array([0]))
    assert ("person", "a") in agg.counts and len(agg.counts) == 3 and not calls
    assert sorted(agg.counts) == [("person", "a"), ("person", "b"), ("person", "c")]
    assert agg.counts[("person", "c")].tolist() == [1, 0, 0, 0] and not calls
    assert agg.counts.get(("person", "a")).tolist() == [1, 0, 2, 0]  # one settle: both kinds
    assert agg._counts[("person", "b")].tolist() == [0, 5, 0, 0] and calls == ["drawn"]
    assert agg.counts.get(("person", "zzz")) is None
    rows = {r["kind"].to_pylist()[0]: r for r in agg.rows()}  # rows settle everything again
    assert calls == ["drawn", "drawn"]
    assert rows["a"]["entity_id"].tolist() == [0, 2] and rows["a"]["count"].tolist() == [2, 4]
    assert rows["b"]["entity_type"].to_pylist() == ["person"]


def test_deferred_kinds_hold_no_arrays_until_settled_or_read() -> None:
    # A kind nobody reads during a run costs no memory until its first settle; a read of a
    # kind with nothing to add gives zeros of the right shapes, amounts included.
    agg = Aggregates({"person": 3})
    pending = {"spent": False}

    def settle() -> None:
        if pending["spent"]:
            agg.add_counts("spent", np.array([0, 2, 0]), np.array([0.0, 9.5, 0.0]))
            pending["spent"] = False

    agg.defer(["spent"], settle, amounts=True)
    agg.defer(["quiet"], lambda: None)
    assert not agg._counts and not agg._amounts
    assert list(agg.counts) == [("person", "spent"), ("person", "quiet")]
    assert list(agg.amounts) == [("person", "spent")]
    assert agg.counts[("person", "quiet")].tolist() == [0, 0, 0]
    assert ("person", "spent") not in agg._counts
    assert list(agg.rows()) == []  # nothing ever happened: no rows, no error
    pending["spent"] = True
    assert agg.amounts[("person", "spent")].tolist() == [0.0, 9.5, 0.0]
    assert agg.counts[("person", "spent")].tolist() == [0, 2, 0]
    with pytest.raises(KeyError):
        agg.amounts[("person", "quiet")]


def test_amounts_priced_from_counts_are_drawn_for_new_acts_only() -> None:
    # A kind priced from its counts holds no amount array while it runs; each read prices
    # the acts counted since the last one, and rows() prices the rest, once.
    agg = Aggregates({"person": 4})
    pending: list[np.ndarray] = []
    priced: list[list[int]] = []

    def settle() -> None:
        while pending:
            agg.add_counts("bought", pending.pop())

    def price(kind: str, counts: np.ndarray) -> np.ndarray:
        assert kind == "bought"
        priced.append(counts.tolist())
        return counts * 2.5  # every act costs 2.5

    agg.defer(["bought"], settle, amount_of=price)
    pending.append(np.array([1, 0, 3, 0]))
    assert agg.counts[("person", "bought")].tolist() == [1, 0, 3, 0]
    assert not agg._amounts and priced == []  # counts read: nothing priced
    assert list(agg.amounts) == [("person", "bought")]
    assert agg.amounts[("person", "bought")].tolist() == [2.5, 0.0, 7.5, 0.0]
    pending.append(np.array([0, 2, 1, 0]))
    rows = {r["kind"].to_pylist()[0]: r for r in agg.rows()}
    assert priced == [[1, 0, 3, 0], [0, 2, 1, 0]]  # the second pricing: new acts only
    assert rows["bought"]["count"].tolist() == [1, 2, 4]
    assert rows["bought"]["amount"].tolist() == [2.5, 5.0, 10.0]
    assert agg.amounts[("person", "bought")].tolist() == [2.5, 5.0, 10.0, 0.0]
    assert len(priced) == 2  # priced for the results: never again
    with pytest.raises(RuntimeError, match="after its amounts were priced"):
        agg.add("bought", np.array([3]))


def test_id_sorter_many_repeats_of_one_id() -> None:
    # 300 repeats overflow the one-byte repeat counter: the sorter must notice.
    sorter = IdSorter(10)
    who = np.r_[np.full(300, 3), [9, 1, 3]]
    assert np.array_equal(sorter(who), np.sort(who))
    assert np.array_equal(sorter(np.array([5, 5, 2] * 10)), np.sort([5, 5, 2] * 10))


def test_float16_multipliers_draw_as_their_float32_copies() -> None:
    # Multipliers of any float type are accepted. A Python float times a float16 array
    # stays float16 in NumPy, so the acceptance p x mult would be rounded to 3 digits (and
    # flushed to zero below 3e-8): the draws must compute it in float32, giving the same
    # people as a float32 copy of the same multipliers.
    n = 1_000_000
    mult16 = np.random.default_rng(1).uniform(1.0, 40_000.0, n).astype(np.float16)
    pool = np.arange(n, dtype=np.int32)
    args = (pool, 2e-5)
    got16 = draw_with_multiplier(np.random.default_rng(2), *args, mult16, 50_000.0)
    got32 = draw_with_multiplier(
        np.random.default_rng(2), *args, mult16.astype(np.float32), 50_000.0
    )
    assert len(got16) > 100_000 and np.array_equal(got16, got32)
    classes = RateClasses.of(np.zeros(n, np.int64), 1)
    rate = np.array([0.5])
    small16 = np.random.default_rng(4).uniform(0.5, 2.0, n).astype(np.float16)
    small32 = small16.astype(np.float32)
    who16, _ = classes.events(np.random.default_rng(3), rate, small16, 2.0)
    who32, _ = classes.events(np.random.default_rng(3), rate, small32, 2.0)
    assert len(who16) > 100_000 and np.array_equal(who16, who32)


def test_binomial_each_follows_each_entrys_law() -> None:
    # Means below and above SMALL_MEAN, per-entry probabilities: each entry's sample mean
    # and variance over 4,000 draws within 5 standard errors of its law's.
    from sclab.world.sampling import binomial_each

    trials = np.array([0, 1, 3, 10, 40, 200, 7])
    p = np.array([0.5, 0.9, 0.2, 0.05, 0.3, 0.01, 0.0])
    rng = np.random.default_rng(12)
    draws = np.stack([binomial_each(rng, trials, p) for _ in range(4000)])
    mean, var = trials * p, trials * p * (1 - p)
    assert np.all(draws <= trials) and np.all(draws >= 0)
    se = np.sqrt(var / 4000) + 1e-12
    assert np.all(np.abs(draws.mean(0) - mean) <= 5 * se)
    assert draws[:, 0].max() == 0 and draws[:, 6].max() == 0
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        binomial_each(rng, trials[:1], np.array([1.0]))
