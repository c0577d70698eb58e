"""Random draws shared by components of every stage (base layer, NumPy only).

Core object:
    :func:`bernoulli_sparse`: which of n independent trials at one probability succeed,
        at a cost in proportion to the successes (sources draw rare events with it, the
        records sensor its linkage errors).
"""

from __future__ import annotations

import numpy as np


def bernoulli_sparse(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """Indices (sorted, distinct) of people with an event, each independently with prob p.

    The gaps between successive people with an event are Geometric(p), drawn in chunks
    of about the expected count and summed: the same law as one Bernoulli draw per
    person, at O(k) cost for k events, sorted by construction (no sort, no hash set;
    3-10 times faster than choosing k of n without replacement once k is in the
    thousands).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {p}")
    if n == 0 or p == 0.0:
        return np.empty(0, dtype=np.int64)
    expected = n * p
    if expected < 32:
        # Few events: their number is Binomial(n, p) and, given it, the set is uniform
        # (also keeps the geometric gaps of a tiny p within int64).
        k = int(rng.binomial(n, p))
        who = rng.choice(n, size=k, replace=False, shuffle=False) if k else np.empty(0, int)
        who.sort()
        return who.astype(np.int64)
    chunk = int(expected + 4.0 * np.sqrt(expected) + 16)  # rarely a second chunk
    parts = []
    last = -1  # index of the last event so far
    while True:
        at = np.cumsum(rng.geometric(p, chunk))
        at += last
        if at[-1] >= n:
            parts.append(at[: np.searchsorted(at, n)])
            break
        parts.append(at)
        last = int(at[-1])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
