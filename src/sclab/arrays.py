"""Array helpers shared by components of every stage (base layer, NumPy only).

Core object:
    :func:`union_sorted`: the sorted distinct values of several int64 arrays (sets of
        people, of tie positions), cheaper than ``np.union1d`` for the mostly sorted parts
        the simulation joins.
"""

from __future__ import annotations

import numpy as np


def union_sorted(*parts: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values of all ``parts`` (a sort, cheaper than np.union1d's hash).

    Parts are usually sorted already (people touched today, the exposed so far): the
    stable sort (timsort for int64) merges such runs in about linear time, where the
    default introsort re-sorts everything (3M exposed people and one day's 50,000: 6
    against 150 ms). Unsorted parts cost it about a quarter more than the default.
    """
    if not parts:
        return np.empty(0, dtype=np.int64)
    joined = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    joined.sort(kind="stable")
    if len(joined) < 2:
        return joined
    return joined[np.concatenate([[True], joined[1:] != joined[:-1]])]
