"""Watched places: where a source's acts happen, and the sensors that watch them.

Core objects:
    :class:`WatchedPlaces`: the places of one act kind (busy intersections for
        ``jaywalk``) that a source publishes in its ``setup``: per place its district and
        whether a camera watches it, today's count of acts there, the capture
        probability a sensor registers (:meth:`WatchedPlaces.watch`), and a draw of
        actors who look like those of the acts at camera places
        (:meth:`WatchedPlaces.draw_watched_actors`).
    :class:`PlaceBoard`: the places published in a run, by act kind (``sim.places``).

Why a contract: a camera sensor needs to know where the acts happen and how many there
are, and the source needs to know what the sensor captures, so that it draws as per-person
acts exactly the captured ones (Poisson splitting) and only counts the rest. Neither needs
the other's class: the source publishes, the sensor watches. Components set up in stage
order, sources before sensors, so a sensor finds the places published when its own
``setup`` runs, and registers its capture probability before day 0.

The acts themselves still travel through :class:`~sclab.engine.acts.ActLog`: the source
adds them with the extras ``place_id`` (the place's index here) and ``camera`` (a camera
watches that place).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class WatchedPlaces:
    """The places where a source's acts of one kind happen; the index is the place id.

    Args:
        kind: The act kind (e.g. ``jaywalk``).
        source: The name of the publishing component.
        district: Per place, the index of its district in the scenario's districts.
        camera: Per place, whether a camera watches it.
        on_watch: The source's answer to :meth:`watch`: given the capture probability,
            True if from now on its acts of ``kind`` are exactly the captured ones, False
            if it draws every act (the sensor then captures from them itself). It raises
            ValueError or RuntimeError when it cannot serve the watcher.
        draw_like_watched: ``(rng, k)`` → ``k`` actors (int64) drawn independently, each
            in proportion to their expected acts at camera places today, with draws from
            ``rng`` (the caller's stream).

    Attributes:
        today: int32 per place, today's acts there, drawn as acts or only counted (the
            source rebinds it each day, in its step).
    """

    def __init__(
        self,
        kind: str,
        source: str,
        district: np.ndarray,
        camera: np.ndarray,
        on_watch: Callable[[float], bool],
        draw_like_watched: Callable[[np.random.Generator, int], np.ndarray],
    ) -> None:
        if len(district) != len(camera):
            raise ValueError(f"{source}: {len(district)} districts for {len(camera)} camera flags")
        self.kind, self.source = kind, source
        self.district = _read_only(district)
        self.camera = _read_only(np.asarray(camera, dtype=bool))
        self.today = np.zeros(len(district), np.int32)
        self._on_watch = on_watch
        self._draw = draw_like_watched

    def __len__(self) -> int:
        return int(self.district.shape[0])

    def watch(self, capture: float) -> bool:
        """A sensor captures each act at a camera place with probability ``capture``.

        Call it in the sensor's ``setup``. Returns True if the source's acts are then
        exactly the captured ones (the sensor must not thin them again), False if every
        act is drawn (the sensor captures from the acts at camera places itself).
        """
        if not 0.0 <= capture <= 1.0:
            raise ValueError(f"{self.source}: capture must be in [0, 1], got {capture}")
        return bool(self._on_watch(float(capture)))

    def draw_watched_actors(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """``k`` actors, each drawn like the actor of a uniformly chosen act at a camera
        place today (what a sensor mimics for actors it cannot see, such as visitors)."""
        return self._draw(rng, k)


class PlaceBoard:
    """The places published in a run, by act kind: one publishing source per kind."""

    def __init__(self) -> None:
        self._by_kind: dict[str, WatchedPlaces] = {}

    def publish(self, places: WatchedPlaces) -> None:
        """A source publishes the places of its acts (in its ``setup``)."""
        held = self._by_kind.get(places.kind)
        if held is not None:
            raise ValueError(
                f"{places.source}: the places of '{places.kind}' acts are already published "
                f"by {held.source}; one source per act kind"
            )
        self._by_kind[places.kind] = places

    def of(self, kind: str) -> WatchedPlaces:
        """The places of ``kind`` acts; LookupError if no source published them."""
        try:
            return self._by_kind[kind]
        except KeyError:
            have = ", ".join(sorted(self._by_kind)) or "none"
            raise LookupError(
                f"no source publishes the places of '{kind}' acts (published: {have})"
            ) from None

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view: watchers read the places, only the source defines them."""
    view = np.asarray(a).view()
    view.flags.writeable = False
    return view
