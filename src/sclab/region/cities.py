"""From a region file to one validated scenario per city.

Core objects:
    :func:`read_region`: a region file (or built-in name) to a validated
        :class:`~sclab.region.schema.Region` and its document.
    :func:`city_scenarios`: the region's cities as ordinary scenarios, each with its
        :class:`~sclab.scenario.schema.CityKey` (code, place, id offsets).

A city's scenario is the world scenario with the city's geography (its districts from
``districts_from``, or the city as one district), its share of the region's synthetic
people (largest remainder, by published population, as districts are shared within a
city), the region's seed, days and start date, and the policies: the national ones first
(the same text in every city), then the city's own. Errors point at the region file's
line: a city whose scenario does not validate is reported at its entry.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from sclab.errors import ScenarioError, SclabError
from sclab.population import company_count
from sclab.population.geography import apportion
from sclab.region.schema import Region, RegionCity
from sclab.scenario.loader import read_scenario
from sclab.scenario.schema import CityKey, RegionMember, Scenario
from sclab.yamlfile import LocatedYAML, dotted, load_yaml, read_yaml, validate

BUILTIN_PACKAGE = "sclab.region.builtin"


def builtin_regions() -> list[str]:
    """Names of the built-in regions."""
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in resources.files(BUILTIN_PACKAGE).iterdir()
        if entry.name.endswith(".yaml")
    )


def region_descriptions() -> dict[str, str]:
    """The built-in regions' names and one-line descriptions."""
    return {name: " ".join(read_region(name)[0].description.split()) for name in builtin_regions()}


def is_region(name_or_path: str) -> bool:
    """Whether ``name_or_path`` names a region (a built-in one, or a file with ``cities``)."""
    if name_or_path in builtin_regions():
        return True
    path = Path(name_or_path)
    if not path.is_file() or path.suffix not in (".yaml", ".yml"):
        return False
    try:
        doc = read_yaml(path, ScenarioError)
    except SclabError:
        return False  # not readable as YAML: whoever reads it as a scenario says why
    return isinstance(doc.data, dict) and "cities" in doc.data


def read_region(name_or_path: str) -> tuple[Region, LocatedYAML]:
    """Read and validate a region file (the schema only; the cities: :func:`city_scenarios`).

    Raises:
        ScenarioError: with file, line, field and what was expected.
    """
    if name_or_path in builtin_regions():
        entry = resources.files(BUILTIN_PACKAGE) / f"{name_or_path}.yaml"
        doc = load_yaml(entry.read_text(encoding="utf-8"), f"{name_or_path} (built-in)")
    else:
        doc = read_yaml(Path(name_or_path), ScenarioError)
    return validate(doc, Region, ScenarioError), doc


def _resolve(name: str, doc: LocatedYAML) -> str:
    """A file named in a region file is relative to that file (a built-in name is kept)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and not path.is_absolute():
        base = Path(doc.source)
        if base.is_file():
            return str(base.parent / path)
    return name


def city_scenarios(
    region: Region, doc: LocatedYAML, population: int | None = None
) -> list[Scenario]:
    """One scenario per city of ``region``, in the region's order.

    Args:
        region: The validated region.
        doc: Its document (errors name its lines).
        population: The synthetic people of all cities together, instead of the region's.

    Raises:
        ScenarioError: the world scenario, a city's districts or a city's scenario does not
            validate (pointing at the region file's line that names it).
    """
    world, _ = _read_named(region.world, doc, ("world",))
    total = region.population if population is None else population
    sizes = apportion(total, np.array([float(c.population) for c in region.cities]))
    drafts: list[dict[str, Any]] = []
    members: list[RegionMember] = []
    for i, (city, size) in enumerate(zip(region.cities, sizes, strict=True)):
        at = ("cities", i)
        if size < 1:
            raise ScenarioError(
                f"the region's {total:,} people leave none for {city.name}; expected a "
                "larger population (every city needs at least one person)",
                source=doc.source, line=doc.line_of(("population",)), field="population",
            )  # fmt: skip
        data: dict[str, Any] = world.model_dump()
        data.update(
            name=f"{region.name}.{city.name.lower().replace(' ', '-')}",
            description=f"{city.name}, one city of the region {region.name}.",
            seed=region.seed,
            days=region.days,
            start_date=region.start_date,
            geography=_geography(region, city, doc, at),
            policies=[p.model_dump() for p in (*region.national, *city.policies)],
        )
        data["population"]["size"] = int(size)
        drafts.append(data)
        members.append(
            RegionMember(
                code=city.code,
                people=int(size),
                companies=company_count(int(size), world.companies.per_1000_people),
            )
        )
    out: list[Scenario] = []
    for i, data in enumerate(drafts):
        data["city"] = CityKey(
            region=region.name,
            index=i,
            cities=members,
            represented_elsewhere=region.cross_city.legal_representatives,
        ).model_dump()
        try:
            out.append(Scenario.model_validate(data))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = dotted(tuple(err["loc"]))
            raise ScenarioError(
                f"{region.cities[i].name}'s scenario: {where}: {err['msg']}",
                source=doc.source, line=doc.line_of(("cities", i)), field=dotted(("cities", i)),
            ) from None  # fmt: skip
    return out


def _read_named(name: str, doc: LocatedYAML, at: tuple[str | int, ...]) -> tuple[Scenario, Any]:
    """A scenario the region file names (errors in the named file point there; a name that
    finds nothing points at the region's line)."""
    try:
        return read_scenario(_resolve(name, doc))
    except ScenarioError as exc:
        if exc.line is not None:
            raise
        raise ScenarioError(
            exc.message, source=doc.source, line=doc.line_of(at), field=dotted(at)
        ) from None


def _geography(
    region: Region, city: RegionCity, doc: LocatedYAML, at: tuple[str | int, ...]
) -> dict[str, Any]:
    """The city's districts: those of ``districts_from`` (their codes must be the city's),
    else the city as one district."""
    if city.districts_from is None:
        return {
            "name": city.name,
            "source": region.source,
            "districts": [
                {
                    "code": city.code,
                    "name": city.name,
                    "population": city.population,
                    "urban_share": city.urban_share,
                }
            ],
        }
    named, _ = _read_named(city.districts_from, doc, (*at, "districts_from"))
    foreign = [d.code for d in named.geography.districts if d.code // 100 != city.code // 100]
    if foreign:
        raise ScenarioError(
            f"district {foreign[0]} of '{city.districts_from}' is not in city {city.code}; "
            f"expected districts whose codes start with {city.code // 100}",
            source=doc.source,
            line=doc.line_of((*at, "districts_from")),
            field=dotted((*at, "districts_from")),
        )
    return named.geography.model_dump()


def city_document(doc: LocatedYAML, region: Region, index: int) -> LocatedYAML:
    """City ``index``'s scenario as a document of the region file: its policies at the
    lines of the region's ``national`` and the city's ``policies`` entries, everything
    else at the ``world`` line (the world file itself was checked on its own), so that a
    component's check (:func:`sclab.targets.check_components`) names the region's line."""
    lines: dict[tuple[str | int, ...], int] = {}
    world = doc.line_of(("world",))
    for stage in ("sources", "sensors", "behaviour"):
        if world is not None:
            lines[(stage,)] = world
    sources = [("national", i) for i in range(len(region.national))] + [
        ("cities", index, "policies", j) for j in range(len(region.cities[index].policies))
    ]
    for k, at in enumerate(sources):
        for path, line in doc.lines.items():
            if path[: len(at)] == at:
                lines[("policies", k, *path[len(at) :])] = line
    return LocatedYAML(data=None, source=doc.source, lines=lines)
