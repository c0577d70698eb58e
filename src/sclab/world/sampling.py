"""Sampling rare events sparsely: cost proportional to events, not to people × days.

Core objects:
    :func:`bernoulli_sparse`: who, among n people, has an event today at a common rate.
    :func:`thinned`: the same with per-person probabilities, by thinning from a bound.
    :func:`poisson_counts_sparse`: how many events each person has today, sparsely.

Cost model: a day with expected k events among n people costs O(k) random draws plus
O(k log k) to sort them, independent of n, when rates are common; with per-person rates
p_i bounded by p_max it costs O(n · p_max) candidates, so bounds should be tight (group
people by rate class and call once per class when rates are very uneven).
"""

from __future__ import annotations

import numpy as np


def bernoulli_sparse(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Indices (sorted, distinct) of people with an event, each independently with prob p.

    Draws the number of events from Binomial(n, p), then which people uniformly without
    replacement: the same law as one Bernoulli draw per person, at O(k) cost.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {p}")
    if n == 0 or p == 0.0:
        return np.empty(0, dtype=np.int64)
    k = int(rng.binomial(n, p))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    who = rng.choice(n, size=k, replace=False)
    who.sort()
    return who.astype(np.int64)


def thinned(rng: np.random.Generator, p: np.ndarray, p_max: float | None = None) -> np.ndarray:
    """Indices with an event, person i independently with probability ``p[i]``.

    Candidates are drawn at the bound ``p_max`` (default: max of p) and kept with
    probability p[i] / p_max, which is exact for any bound ≥ max(p).
    """
    p = np.asarray(p)
    bound = float(p.max()) if p_max is None and len(p) else float(p_max or 0.0)
    if len(p) == 0 or bound <= 0.0:
        return np.empty(0, dtype=np.int64)
    if bound > 1.0:
        raise ValueError(f"probabilities must be at most 1, got {bound}")
    cand = bernoulli_sparse(rng, len(p), bound)
    keep = rng.random(len(cand)) * bound < p[cand]
    return cand[keep]


def poisson_counts_sparse(
    rng: np.random.Generator, n: int, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """(people, counts) of people with at least one event; counts ~ Poisson(rate) each.

    The total is Poisson(n · rate) and each event lands on a uniform person, which is the
    same law as independent Poisson counts per person.
    """
    if rate < 0:
        raise ValueError(f"rate must be >= 0, got {rate}")
    total = int(rng.poisson(n * rate)) if n else 0
    if total == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    people, counts = np.unique(rng.integers(0, n, total), return_counts=True)
    return people.astype(np.int64), counts.astype(np.int64)
