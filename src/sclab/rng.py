"""Named, seeded random streams: the only source of randomness in sclab.

Core objects:
    :class:`Streams`: hands out :class:`numpy.random.Generator` objects keyed by a
        component name, an optional partition (a district) and an optional day.
    :class:`StreamKey`: one stream of one component, whose generators are keyed by
        (component, stream, district, period): the key layout every draw follows.

The key layout, defined once: a generator is keyed by the *component* (its registered
name), the *stream* within it (an act kind, a purpose such as ``totals``), the *district*
(the partition a scale-out would give one worker; None for citywide draws) and the
*period* (a day, or the index of a fixed block of days). The district and period slots
never count draws: a draw's key must not depend on how often, or when, someone read the
stream before, so that two runs that differ only in who reads draw the same numbers.
``Streams.get(name, partition=..., day=...)`` is the same layout with ``name`` =
``component/stream``, ``partition`` = district and ``day`` = period.

A region of several cities (a partitioned run, :mod:`sclab.region`) adds one slot in front:
the *city* (its GB/T 2260 prefecture code). Each city's simulation draws from
``Streams(seed, city=code)``, so a city draws the same numbers whichever worker runs it
and whichever other cities run beside it. A run of one city has no city slot: its draws
are those it always had.

Why keyed streams rather than one generator passed around: a component's draws must not
shift when another component is switched on, and a district's draws must not depend on
which worker computes it or in which order. Each key maps to its own
``SeedSequence(seed, spawn_key=...)``, so the stream for ("payments", district 3, day 41)
is the same in a one-process run and in a run split over any number of workers. Names are
hashed with a fixed function (BLAKE2), never Python's salted ``hash()``.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> int:
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class Streams:
    """Independent random generators derived from one seed.

    Args:
        seed: The scenario seed (a non-negative integer).

    Example:
        >>> s = Streams(42)
        >>> a = s.get("population", partition=0).integers(0, 100, 3)
        >>> b = Streams(42).get("population", partition=0).integers(0, 100, 3)
        >>> bool((a == b).all())
        True
    """

    def __init__(self, seed: int, city: int | None = None) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        if city is not None and city < 0:
            raise ValueError(f"city must be a non-negative code, got {city}")
        self.seed = int(seed)
        #: The city slot (a region's city code), or None for a run of one city.
        self.city = None if city is None else int(city)

    def seed_sequence(
        self, name: str, *, partition: int | None = None, day: int | None = None
    ) -> np.random.SeedSequence:
        """The SeedSequence behind :meth:`get` (for spawning or for a worker process)."""
        # +1 keeps "no partition"/"no day" (0) distinct from partition 0 / day 0.
        key: tuple[int, ...] = (
            _name_key(name),
            0 if partition is None else partition + 1,
            0 if day is None else day + 1,
        )
        if self.city is not None:
            # A key one longer than any one-city key: never equal to one of them.
            key = (self.city, *key)
        return np.random.SeedSequence(self.seed, spawn_key=key)

    def get(
        self, name: str, *, partition: int | None = None, day: int | None = None
    ) -> np.random.Generator:
        """A fresh generator for (name, partition, day); equal keys give equal streams."""
        return np.random.Generator(
            np.random.PCG64(self.seed_sequence(name, partition=partition, day=day))
        )


class StreamKey:
    """The generators of one stream of one component, keyed by (district, period).

    Args:
        streams: The run's :class:`Streams`.
        component: The component's registered name (``social_media``).
        stream: The stream within it (``post_critical``).
        days: The run's number of days, if known: a stream drawn by periods of days ends
            its last period with the run (see :class:`sclab.world.sampling.LazyPoisson`).

    Example:
        >>> key = StreamKey(Streams(7), "social_media", "post_critical")
        >>> a = key.rng("candidates", period=0).random()
        >>> b = Streams(7).get("social_media/post_critical/candidates", day=0).random()
        >>> a == b
        True
    """

    def __init__(
        self, streams: Streams, component: str, stream: str, days: int | None = None
    ) -> None:
        self.streams = streams
        self.component = component
        self.stream = stream
        self.days = days

    def rng(
        self, purpose: str, *, period: int | None = None, district: int | None = None
    ) -> np.random.Generator:
        """The generator of (component, stream/purpose, district, period)."""
        return self.streams.get(
            f"{self.component}/{self.stream}/{purpose}", partition=district, day=period
        )
