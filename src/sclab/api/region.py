"""Regions from Python: several cities run as partitions, in one process or on Dask.

Core objects:
    :func:`is_region`: whether a name or file is a region (``sclab run`` runs either).
    :func:`run_region`: load a region (with its overrides), check every city's
        components, run the cities side by side (``cluster``: Dask workers), and return
        the :class:`~sclab.region.run.RegionResult`.

A region's directory holds ``manifest.json`` and ``cities/NN-name/``, each an ordinary
run directory that ``sclab.open``, ``sclab audit`` and ``sclab report`` read as any run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from sclab.errors import ScenarioError
from sclab.region.cities import (
    city_document,
    city_scenarios,
    read_region,
    region_descriptions,
)
from sclab.region.cities import is_region as _is_region
from sclab.region.run import RegionResult
from sclab.region.run import run_region as _run_region
from sclab.region.schema import Region
from sclab.run import Reporter
from sclab.targets import check_components

__all__ = ["RegionResult", "is_region", "regions", "run_region"]


def is_region(name_or_path: str) -> bool:
    """Whether ``name_or_path`` is a region: a built-in one, or a YAML file with ``cities``.

    Example:
        >>> import sclab
        >>> sclab.api.is_region("jiangsu"), sclab.api.is_region("demo")
        (True, False)
    """
    return _is_region(name_or_path)


def regions() -> dict[str, str]:
    """The built-in regions' names and one-line descriptions.

    Example:
        >>> import sclab
        >>> list(sclab.api.regions())
        ['jiangsu']
    """
    return region_descriptions()


def run_region(
    name_or_path: str,
    *,
    population: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    cluster: int | str | None = None,
    force: bool = False,
    check_memory: bool = True,
    reporter: Reporter | None = None,
) -> RegionResult:
    """Run a region's cities side by side.

    Args:
        name_or_path: A built-in region (``jiangsu``) or a region file.
        population: People in all cities together (shared by census population).
        days: Days to simulate.
        seed: The seed (each city's streams are keyed by it and the city's code).
        out: The region's directory (default ``runs/NAME``).
        cluster: None: one process; N: N local Dask workers; ``"tcp://host:port"``: a
            running Dask scheduler. The tables do not depend on it.
        force: Replace an earlier region run in ``out`` (only what sclab wrote).
        check_memory: Refuse a region whose largest city cannot fit in memory.
        reporter: Progress display.

    Raises:
        ScenarioError, OutputError: one line, before any work.

    Example:
        >>> import sclab, tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     result = sclab.run_region("jiangsu", population=13_000, days=1, out=d + "/r")
        >>> len(result.cities), result.people
        (13, 13000)
    """
    region, doc = read_region(name_or_path)
    changes = {k: v for k, v in (("days", days), ("seed", seed)) if v is not None}
    if changes:
        try:
            region = Region.model_validate({**region.model_dump(), **changes})
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            option = f"--{err['loc'][0]}"
            msg = err["msg"].replace("Input should be ", "expected ")
            raise ScenarioError(
                f"{msg} (got {changes[str(err['loc'][0])]!r})", source=option
            ) from None
    if population is not None and population < len(region.cities):
        raise ScenarioError(
            f"expected at least one person per city ({len(region.cities)}), got {population}",
            source="--population",
        )
    cities = city_scenarios(region, doc, population)
    for i, city in enumerate(cities):
        check_components(city, city_document(doc, region, i))
    if isinstance(cluster, int) and cluster < 1:
        raise ScenarioError(f"expected at least 1 worker, got {cluster}", source="--cluster")
    target = Path(out) if out is not None else Path("runs") / region.name
    return _run_region(
        region, cities, target, cluster=cluster, force=force, reporter=reporter,
        check_memory=check_memory,
    )  # fmt: skip
