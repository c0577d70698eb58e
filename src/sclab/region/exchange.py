"""What the cities of a region tell one another at day boundaries.

Core objects:
    :class:`Outbox`: what one city publishes at the end of a day for the others: per
        company blacklist, its listed companies whose legal representative lives in
        another city (region-wide company id, entry day, event, wrongful flag).
    :func:`outbox`: a city's outbox, read from its system view.
    :func:`route`: each city's share of the day's news (the entries whose representative
        lives there).
    :func:`deliver`: a city's share, as what its view receives before its next day
        (:class:`~sclab.engine.feedback.ListedElsewhere` per list).

Everything crosses with one day's lag: a city's day reads what the others published at
the end of the day before, never what they do the same day. So a day of every city can
run in any order, on any worker, and the region's result does not depend on how the
cities are spread over workers. The volume is the listed companies represented from
another city, each sent to the one city where its representative lives: about 66 entries
a day per million people (docs/scale.md), some 30 bytes each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sclab.engine.feedback import ListedElsewhere, SystemView
from sclab.scenario.schema import CityKey


@dataclass(frozen=True)
class Outbox:
    """One city's news for the others, at the end of one day."""

    city: int  # the city's index in the region
    # list name -> (region-wide company id, entry day, event id, wrongful, the index of
    # the city where the company's representative lives), by company
    listed: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Entries carried (for the exchange's volume)."""
        return sum(len(v[0]) for v in self.listed.values())

    def to(self, city: int) -> Outbox:
        """The news for ``city`` alone: the entries of companies represented there."""
        return Outbox(
            self.city,
            {name: tuple(a[v[4] == city] for a in v) for name, v in self.listed.items()},
        )


def outbox(
    key: CityKey, view: SystemView, represented_elsewhere: np.ndarray, home: np.ndarray
) -> Outbox:
    """What the city ``key`` tells the others: of its companies represented from another
    city (``represented_elsewhere``, local ids ascending, with the ``home`` city of each
    one's representative), those on each company list now.
    """
    listed: dict[str, tuple[np.ndarray, ...]] = {}
    for name in view.company_lists():
        company, since, event, wrongful = view.company_listings(name, represented_elsewhere)
        where = home[np.searchsorted(represented_elsewhere, company)]
        listed[name] = (company + key.company_offset, since, event, wrongful, where)
    return Outbox(key.index, listed)


def route(news: list[Outbox]) -> list[list[Outbox]]:
    """Each city's share of the day's news (by city index): only the entries of companies
    whose representative lives there, so that the volume a city receives is what concerns
    it, not the region's."""
    return [[box.to(city) for box in news if box.city != city] for city in range(len(news))]


def deliver(
    key: CityKey, representing: tuple[np.ndarray, np.ndarray], outboxes: list[Outbox]
) -> dict[str, ListedElsewhere]:
    """What city ``key`` receives: per list, the people here (``representing``: local
    person, region-wide company, by company) whose company stands on it elsewhere.

    Lists that no city published are absent; a list some city published comes with its
    entries (possibly none), so that yesterday's entries are replaced, not kept.
    """
    person, company = representing
    out: dict[str, ListedElsewhere] = {}
    names = sorted({name for box in outboxes if box.city != key.index for name in box.listed})
    for name in names:
        parts = [
            box.listed[name] for box in outboxes if box.city != key.index and name in box.listed
        ]
        got = tuple(np.concatenate([p[i] for p in parts]) for i in range(4))
        listed_company, since, event, wrongful = got
        # Companies are region-wide ids; ``representing`` is sorted by them.
        pos = np.searchsorted(company, listed_company)
        pos_c = np.minimum(pos, max(len(company) - 1, 0))
        mine = (
            (pos < len(company)) & (company[pos_c] == listed_company)
            if len(company)
            else (np.zeros(len(listed_company), bool))
        )
        at = pos_c[mine]
        order = np.argsort(person[at], kind="stable")
        out[name] = ListedElsewhere(
            person=person[at][order].astype(np.int64),
            company=listed_company[mine][order].astype(np.int64),
            since=since[mine][order].astype(np.int32),
            event=event[mine][order].astype(np.int64),
            wrongful=wrongful[mine][order].astype(bool),
        )
    return out
