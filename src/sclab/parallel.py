"""Whole-population array work split into fixed blocks and spread over the machine's cores.

Core objects:
    :func:`map_blocks`: apply a function to the fixed blocks ``[lo, hi)`` of a range on a
        small thread pool; results come back in block order.
    :func:`parallel_map`: the same for ``count`` numbered tasks.
    :func:`block_generators`: one independent random generator per block, spawned from the
        caller's generator.
    :data:`BLOCK`: the block length.
    :data:`IDLE`: set while no pass runs on the pool; background work (the database
        writer) waits on it, so that a pass gets both cores.

Why threads: NumPy releases the GIL inside its array loops (arithmetic, gathers,
``reduceat``, and the random distributions), so two threads on two cores run the heavy
part of a population-wide pass about twice as fast, without copying arrays between
processes.

Why fixed blocks: results must not depend on the number of cores. Blocks are cut at
multiples of :data:`BLOCK` whatever the pool size, and a block that draws random numbers
draws them from its own generator (:func:`block_generators`), so the same seed gives the
same numbers on one core or on eight.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

#: Entities per block: large enough that a block's NumPy calls dwarf the thread hand-off
#: (tens of microseconds), small enough that a block's float32 temporaries (1 MiB) stay
#: in a core's cache and that two cores get even shares at a million people.
BLOCK = 1 << 18

#: Set while no parallel pass runs. A pass wants every core; a background thread that
#: waits for this between its own units of work (the database writer, between inserts)
#: leaves them to it and catches up during the serial work in between.
IDLE = threading.Event()
IDLE.set()

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_in_worker = threading.local()


def workers() -> int:
    """Threads in the pool: the cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without affinity masks
        return max(1, os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=workers(), thread_name_prefix="sclab-block", initializer=_mark
            )
        return _pool


def _mark() -> None:
    _in_worker.active = True


def blocks(n: int, block: int = BLOCK) -> list[tuple[int, int]]:
    """The fixed blocks ``(lo, hi)`` covering ``range(n)``."""
    return [(lo, min(lo + block, n)) for lo in range(0, n, block)]


def map_blocks(fn: Callable[[int, int, int], T], n: int, block: int = BLOCK) -> list[T]:
    """``[fn(i, lo, hi) for each block i = [lo, hi) of range(n)]``, blocks run concurrently.

    ``fn`` must only write to its own block of any shared output (or return its result),
    and must take its randomness from its block's generator.
    """
    parts = blocks(n, block)
    return parallel_map(lambda i: fn(i, *parts[i]), len(parts))


def parallel_map(fn: Callable[[int], T], count: int) -> list[T]:
    """``[fn(i) for i in range(count)]``, the calls spread over the pool, in order.

    Called from inside a pool thread (nested), with one task, or on one core, it runs
    serially in the calling thread.
    """
    if count <= 1 or workers() == 1 or getattr(_in_worker, "active", False):
        return [fn(i) for i in range(count)]
    IDLE.clear()
    try:
        futures = [_executor().submit(fn, i) for i in range(count)]
        return [f.result() for f in futures]
    finally:
        IDLE.set()


def block_generators(rng: np.random.Generator, n: int, block: int = BLOCK) -> list:
    """One generator per block of ``range(n)``, spawned from ``rng`` (its stream unused).

    Spawning depends only on ``rng``'s seed sequence and on how many spawns it made
    before, so the generators are the same for the same key whatever the thread count.
    """
    return rng.spawn(len(blocks(n, block)))
