"""A region: several cities of one province run side by side, sharing what is national.

Core objects:
    :class:`Region`: the region file's schema: the cities, the world every city runs (a
        scenario's sources, sensors and behaviour), the national policies every city runs
        as one system, the links across cities.
    :class:`RegionCity`: one city: its GB/T 2260 code, published population, its own
        districts (from a scenario file) or itself as one district, its local policies.
    :class:`CrossCity`: what crosses city lines (companies represented from another city).

Each city becomes an ordinary :class:`~sclab.scenario.schema.Scenario` (see
:mod:`sclab.region.cities`), with the region's seed, days and start date, and its
:class:`~sclab.scenario.schema.CityKey`: its code keys its random streams, so a city
draws the same numbers whichever worker runs it.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, model_validator

from sclab.scenario.schema import ComponentSpec, Share, Strict, _field_error


class RegionCity(Strict):
    """One city of a region."""

    code: int = Field(
        ge=110000,
        le=829999,
        description="GB/T 2260 code of the prefecture-level city (ends in 00).",
    )
    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z][A-Za-z0-9 '-]*$")
    population: int = Field(gt=0, description="Published resident count; the city's weight.")
    urban_share: Share = Field(1.0, description="Share of residents in urban areas.")
    districts_from: str | None = Field(
        None,
        description=(
            "A built-in scenario or file whose geography is this city's districts (their codes "
            "start with the city's four digits); without one the city is one district."
        ),
    )
    policies: list[ComponentSpec] = Field(
        default_factory=list, description="Local policies: run in this city only."
    )

    @model_validator(mode="after")
    def _prefecture_code(self) -> RegionCity:
        if self.code % 100:
            raise ValueError(
                f"expected a prefecture-level code ending in 00 (e.g. {self.code // 100 * 100}), "
                f"got {self.code}"
            )
        return self


class CrossCity(Strict):
    """Links between the cities of a region."""

    legal_representatives: Share = Field(
        0.05,
        description=(
            "Assumption (plausible 0.01-0.15): share of a city's companies whose legal "
            "representative lives in another city of the region; a company listed in one "
            "city then restricts a person in another."
        ),
    )


class Region(Strict):
    """One region file: the root of a partitioned run's configuration."""

    name: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = Field("", description="One paragraph shown by `sclab scenarios`.")
    source: str = Field("", description="Citation for the cities' figures.")
    seed: int = Field(ge=0, le=2**63 - 1, description="Same seed and region: same results.")
    days: int = Field(365, ge=1, le=3650, description="Simulated days.")
    start_date: dt.date = Field(dt.date(2019, 7, 8), description="Day 0 in every city.")
    population: int = Field(
        gt=0,
        le=2_000_000_000,
        description=(
            "Synthetic people in all cities together, shared by published population (each "
            "city at most what one partition holds: population.size of a scenario)."
        ),
    )
    world: str = Field(
        min_length=1,
        description=(
            "A built-in scenario or file whose sources, sensors and behaviour (with their "
            "parameters, companies and social graph) every city runs; its geography, "
            "population size and policies are replaced."
        ),
    )
    national: list[ComponentSpec] = Field(
        default_factory=list,
        description="Policies every city runs as one national system (lists, scores).",
    )
    cross_city: CrossCity = Field(default_factory=CrossCity)
    cities: list[RegionCity] = Field(min_length=1, description="The cities, each a partition.")

    @model_validator(mode="after")
    def _distinct_cities(self) -> Region:
        seen: dict[int, int] = {}
        for i, city in enumerate(self.cities):
            if city.code in seen:
                raise _field_error(
                    f"city {city.code} is listed twice (cities {seen[city.code]} and {i}); "
                    "expected each city once",
                    ("cities", i, "code"),
                )
            seen[city.code] = i
        return self
