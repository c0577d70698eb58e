"""What the cities of a region tell one another at day boundaries.

Core objects:
    :class:`Outbox`: what one city publishes at the end of a day for the others: per
        company blacklist, its listed companies whose legal representative lives in
        another city (region-wide company id, entry day, event, wrongful flag).
    :func:`outbox`: a city's outbox, read from its system view.
    :func:`deliver`: the outboxes of every city, as what one city's view receives before
        its next day (:class:`~sclab.engine.feedback.ListedElsewhere` per list).

Everything crosses with one day's lag: a city's day reads what the others published at
the end of the day before, never what they do the same day. So a day of every city can
run in any order, on any worker, and the region's result does not depend on how the
cities are spread over workers. The volume is the listed companies represented from
another city: tens a day in a region of millions of people.
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
    # list name -> (region-wide company id, entry day, event id, wrongful), by company
    listed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )

    @property
    def size(self) -> int:
        """Entries carried (for the exchange's volume)."""
        return sum(len(v[0]) for v in self.listed.values())


def outbox(key: CityKey, view: SystemView, represented_elsewhere: np.ndarray) -> Outbox:
    """What the city ``key`` tells the others: of its companies represented from another
    city (``represented_elsewhere``, local ids ascending), those on each company list now.
    """
    listed: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for name in view.company_lists():
        company, since, event, wrongful = view.company_listings(name, represented_elsewhere)
        listed[name] = (company + key.company_offset, since, event, wrongful)
    return Outbox(key.index, listed)


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
