"""Work spread over the cores gives the same numbers as on one core."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sclab.parallel as parallel
from sclab.parallel import BLOCK, blocks, map_blocks, parallel_map
from sclab.world.sampling import RateClasses, binomial_blocks, lognormal_sums


@given(n=st.integers(0, 5 * BLOCK), block=st.integers(1, 2 * BLOCK))
@settings(max_examples=100, deadline=None)
def test_blocks_cover_the_range_once_in_order(n: int, block: int) -> None:
    parts = blocks(n, block)
    assert [lo for lo, _ in parts] == list(range(0, n, block))
    assert all(hi - lo == block for lo, hi in parts[:-1])
    assert sum(hi - lo for lo, hi in parts) == n


def test_map_blocks_returns_results_in_block_order() -> None:
    n = 3 * BLOCK + 17
    assert map_blocks(lambda i, lo, hi: (i, lo, hi), n) == [
        (i, lo, hi) for i, (lo, hi) in enumerate(blocks(n))
    ]
    # Nested calls run serially inside a worker instead of waiting on the pool.
    assert parallel_map(lambda i: sum(parallel_map(lambda j: j, 3)) + i, 4) == [3, 4, 5, 6]


def test_errors_in_a_block_reach_the_caller() -> None:
    def fail(i: int, lo: int, hi: int) -> None:
        if i == 2:
            raise ValueError("block 2")

    with pytest.raises(ValueError, match="block 2"):
        map_blocks(fail, 4 * BLOCK)


def draws(seed: int) -> tuple[np.ndarray, ...]:
    n = 3 * BLOCK + 1000
    rng = np.random.default_rng(seed)
    key = rng.integers(0, 5, n)
    classes = RateClasses.group(np.arange(n), key, n)
    weight = rng.uniform(0.5, 2.0, n).astype(np.float32)
    gen = np.random.default_rng(seed + 1)
    counts = classes.totals(gen, np.linspace(1.0, 3.0, 5), weight)
    sums = lognormal_sums(gen, counts, 20.0, 0.8, 2)
    who, got = binomial_blocks(gen, counts * 5, 0.3)
    return counts, sums, who, got


def test_results_do_not_depend_on_the_number_of_cores(monkeypatch) -> None:
    spread = draws(11)
    monkeypatch.setattr(parallel, "workers", lambda: 1)
    serial = draws(11)
    for a, b in zip(spread, serial, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws(12)[0], serial[0])


def test_block_draws_keep_their_law() -> None:
    counts, sums, who, drawn = draws(5)
    n = len(counts)
    # Draws come for the entries with trials only, in order; the others drew 0.
    np.testing.assert_array_equal(who, np.flatnonzero(counts))
    got = np.zeros(n, np.int64)
    got[who] = drawn
    # Poisson(mean rate x weight): mean rate 2, mean weight 1.25, so mean 2.5 and the
    # variance of the mixture is 2.5 + var(rate x weight). Tolerance: 5 standard errors.
    assert abs(counts.mean() - 2.5) < 5 * np.sqrt(4.0 / n)
    # Binomial(5 x count, 0.3): mean 1.5 x mean count.
    assert abs(got.mean() - 1.5 * counts.mean()) < 5 * np.sqrt(8.0 / n)
    # Log-normal sums: mean amount median x exp(sigma^2 / 2) per purchase.
    per = sums.sum() / counts.sum()
    assert abs(per / (20.0 * np.exp(0.32)) - 1) < 0.01


def test_idle_is_clear_during_a_pass_and_set_after_even_on_failure(monkeypatch) -> None:
    monkeypatch.setattr(parallel, "workers", lambda: 2)  # a real pass even on one core
    seen = parallel_map(lambda i: parallel.IDLE.is_set(), 4)
    assert seen == [False] * 4 and parallel.IDLE.is_set()

    def fail(i: int) -> None:
        raise RuntimeError("block failed")

    with pytest.raises(RuntimeError, match="block failed"):
        parallel_map(fail, 3)
    assert parallel.IDLE.is_set()
