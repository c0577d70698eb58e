"""Links across the cities of a region: companies represented from another city.

Core objects:
    :class:`Represented`: the companies of one city whose legal representative lives in
        another city (company, the home city, and a uniform that picks the person there).
    :func:`represented_elsewhere`: those of every city of a region, from keyed streams.
    :func:`representatives_here`: the people of one city who represent a company of
        another (local person, the company's region-wide id).

Law: each company of city A has, with probability ``represented_elsewhere`` (the
region's ``cross_city.legal_representatives``), its representative in another city B,
chosen in proportion to the cities' synthetic populations; there the representative is
the eligible adult (of the legal representatives' ages on day 0) at rank ⌊u · eligible⌋
in person order, for a uniform u.

Why this shape: every city draws every city's links by itself, from the region's figures
in its :class:`~sclab.scenario.schema.CityKey` (sizes and company counts, known without
generating anyone), and all agree: city A's draws come from A's own stream (keyed by its
code), and only the home city, which knows its people, turns u into a person. Nothing
about a city's people crosses to draw them. Cost O(companies of the region) once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sclab.draws import bernoulli_sparse
from sclab.rng import Streams
from sclab.scenario.schema import CityKey


@dataclass(frozen=True)
class Represented:
    """Companies of one city (local ids, ascending) represented from another city."""

    company: np.ndarray  # int64, local company id in its city
    home: np.ndarray  # int64, index of the representative's city in the region
    u: np.ndarray  # float64 in [0, 1): picks the person in the home city


def represented_elsewhere(key: CityKey, seed: int) -> list[Represented]:
    """Per city of ``key``'s region (in its order), its companies represented from
    another city; the same lists whichever city of the region asks."""
    sizes = np.array([c.people for c in key.cities], dtype=np.float64)
    out: list[Represented] = []
    for a, city in enumerate(key.cities):
        others = np.flatnonzero(np.arange(len(key.cities)) != a)
        share = key.represented_elsewhere
        if share <= 0 or city.companies == 0 or not len(others):
            none = np.empty(0, np.int64)
            out.append(Represented(none, none.copy(), np.empty(0, np.float64)))
            continue
        rng = Streams(seed, city=city.code).get("region/legal-representatives")
        company = bernoulli_sparse(rng, city.companies, share)
        weight = sizes[others] / sizes[others].sum()
        home = others[rng.choice(len(others), size=len(company), p=weight)].astype(np.int64)
        out.append(Represented(company, home, rng.random(len(company))))
    return out


def representatives_here(
    key: CityKey, links: list[Represented], eligible: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The people of ``key``'s city who represent a company of another city.

    Args:
        key: The city's place in its region.
        links: :func:`represented_elsewhere` of the region.
        eligible: The city's people who may represent a company (ids, ascending).

    Returns:
        (local person id, the company's region-wide id), by company id.

    Raises:
        ValueError: a company is represented here, but nobody here is of age to.
    """
    people: list[np.ndarray] = []
    companies: list[np.ndarray] = []
    offset = 0
    for a, link in enumerate(links):
        mine = link.home == key.index
        if mine.any():
            if not len(eligible):
                raise ValueError(
                    f"city {key.code} has nobody of a legal representative's age to represent "
                    "another city's company; expected a larger population"
                )
            rank = np.minimum((link.u[mine] * len(eligible)).astype(np.int64), len(eligible) - 1)
            people.append(eligible[rank].astype(np.int64))
            companies.append(link.company[mine] + offset)
        offset += key.cities[a].companies
    if not people:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(people), np.concatenate(companies)  # companies ascend by city
