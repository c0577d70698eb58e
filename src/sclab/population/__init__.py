"""The synthetic population: citizens, companies and the social graph of one run.

Core objects:
    :class:`Population`: everything generated before day 0 (struct-of-arrays).
    :func:`generate_population`: build it from a scenario and its random streams.

Generation is partitioned by district. Each district draws from its own stream, so a
district's people do not change when another district is added, removed or built by a
different worker. Two steps are citywide by nature and use streams of their own: resident
ID sequence numbers (migrants from one origin county live in many districts and their
IDs must still be unique) and the social graph (ties cross districts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from sclab.feasibility import sequence_overflow
from sclab.ids import assign_sequence_numbers
from sclab.population.citizens import Citizens, generate_district
from sclab.population.citizens import concat as concat_citizens
from sclab.population.companies import Companies, generate_district_companies
from sclab.population.companies import concat as concat_companies
from sclab.population.geography import apportion, day_number
from sclab.population.graph import (
    DegreeDistribution,
    DegreeSpec,
    GraphSpec,
    SocialGraph,
    build_social_graph,
)
from sclab.population.regional import Represented, representatives_here, represented_elsewhere
from sclab.rng import Streams
from sclab.scenario.schema import Scenario, SocialGraphSpec

__all__ = [
    "NO_REPRESENTATIVE",
    "Citizens",
    "Companies",
    "Population",
    "SocialGraph",
    "company_count",
    "generate_population",
]

Progress = Callable[[str, float], None]

#: ``Companies.legal_rep`` of a company whose legal representative lives in another city.
NO_REPRESENTATIVE = -1


@dataclass
class Population:
    """The people, companies and ties of a run, plus where each district's block starts."""

    citizens: Citizens
    companies: Companies
    graph: SocialGraph
    district_sizes: np.ndarray  # int64, people per district in scenario order
    #: In a region of several cities (:mod:`sclab.population.regional`): the people here
    #: who represent a company of another city (local person id) and that company's
    #: region-wide id, by company. A company here represented from elsewhere has
    #: ``legal_rep`` -1 (:data:`NO_REPRESENTATIVE`).
    representing: tuple[np.ndarray, np.ndarray] | None = None
    #: In a region: this city's companies represented from another city, with the index
    #: of the city where each one's representative lives.
    represented_from: Represented | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by all population arrays."""
        return self.citizens.nbytes + self.companies.nbytes + self.graph.nbytes


def company_count(people: int, per_1000_people: float) -> int:
    """How many companies a population of ``people`` has (shared among its districts)."""
    return round(people * per_1000_people / 1000)


def graph_spec(spec: SocialGraphSpec) -> GraphSpec:
    """The scenario's social-graph section as the generator's spec."""
    d = spec.degree
    return GraphSpec(
        degree=DegreeSpec(
            # A str to the scenario schema (its pattern allows these names); DegreeSpec
            # checks the name again.
            distribution=cast(DegreeDistribution, d.distribution),
            mean=d.mean,
            dispersion=d.dispersion,
            max_degree=d.max_degree,
        ),
        same_district=spec.same_district,
        age_band_years=spec.age_band_years,
        age_homophily=spec.age_homophily,
        income_homophily=spec.income_homophily,
        online_share=spec.online_share,
    )


def generate_population(
    scenario: Scenario, streams: Streams, progress: Progress | None = None
) -> Population:
    """Generate citizens, companies and ties for ``scenario``.

    Args:
        scenario: The validated scenario.
        streams: The run's random streams.
        progress: Called as ``progress(stage, fraction_done)`` while working.
    """
    report = progress or (lambda stage, done: None)
    districts = scenario.geography.districts
    sizes = apportion(scenario.population.size, np.array([d.population for d in districts]))
    start = scenario.start_date

    parts: list[Citizens] = []
    for i, (district, n) in enumerate(zip(districts, sizes, strict=True)):
        rng = streams.get("population", partition=i)
        parts.append(generate_district(i, district, int(n), scenario.population, start, rng))
        report("citizens", (i + 1) / len(districts))
    citizens = concat_citizens(parts)
    del parts

    # Sequence numbers are unique per (ID region, birth date, sex) across the whole city.
    group = citizens.id_region.astype(np.int64) * 1_000_000 + (citizens.birth_day + 200_000)
    try:
        citizens.id_sequence = assign_sequence_numbers(
            group, citizens.male, streams.get("resident-id-sequence")
        )
    except ValueError:
        overflow = sequence_overflow(group, citizens.male, scenario.population.size)
        if overflow is None:
            raise
        raise overflow from None
    report("resident IDs", 1.0)

    age = citizens.age(start)
    n_companies = apportion(
        company_count(scenario.population.size, scenario.companies.per_1000_people),
        sizes.astype(float),
    )
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    company_parts: list[Companies] = []
    for i, district in enumerate(districts):
        block = slice(int(offsets[i]), int(offsets[i + 1]))
        company_parts.append(
            generate_district_companies(
                i,
                district.code,
                int(n_companies[i]),
                scenario.companies,
                int(offsets[i]),
                age[block],
                citizens.income_decile[block],
                day_number(start),
                streams.get("companies", partition=i),
            )
        )
    companies = concat_companies(company_parts)
    report("companies", 1.0)

    graph = build_social_graph(
        citizens.district,
        age,
        citizens.income_decile,
        graph_spec(scenario.social_graph),
        streams.get("social-graph"),
    )
    report("social graph", 1.0)
    representing = represented_from = None
    if scenario.city is not None:
        representing, represented_from = _regional_links(scenario, companies, age)
        report("links across cities", 1.0)
    return Population(
        citizens=citizens,
        companies=companies,
        graph=graph,
        district_sizes=sizes,
        representing=representing,
        represented_from=represented_from,
    )


def _regional_links(
    scenario: Scenario, companies: Companies, age: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], Represented]:
    """Apply the region's links to this city: its companies represented from elsewhere
    lose their local representative. Returns the people here who represent another
    city's companies and this city's companies represented from elsewhere (see
    :attr:`Population.representing`, :attr:`Population.represented_from`)."""
    key = scenario.city
    assert key is not None
    links = represented_elsewhere(key, scenario.seed)
    mine = links[key.index]
    companies.legal_rep[mine.company] = NO_REPRESENTATIVE
    spec = scenario.companies
    eligible = np.flatnonzero((age >= spec.legal_rep_min_age) & (age <= spec.legal_rep_max_age))
    return representatives_here(key, links, eligible), mine
