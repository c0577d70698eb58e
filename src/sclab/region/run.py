"""Running a region: its cities side by side, day by day, in one process or on Dask.

Core objects:
    :func:`run_region`: the whole job behind ``sclab run REGION``: the cities' runs into
        ``DIR/cities/NN-name/`` (each an ordinary run directory), the region's manifest
        into ``DIR/manifest.json``.
    :class:`RegionResult`: where everything went, each city's summary, the exchange's
        volume, the timings.
    :class:`InProcess`, :class:`OnDask`: where the cities live (this process; one Dask
        actor per city on a cluster's workers).

The day loop: every city publishes its news after set-up (listings from before the run);
then, each day, every city takes in its share of the cities' news of the day before
(:func:`~sclab.region.exchange.route`), simulates its day and publishes its own. A
city's day depends on its own state and on yesterday's news alone, so the cities of a
day run in any order and on any worker, and the result does not depend on the number of
workers: with one process, or with any number of Dask workers, every city's tables are
the same (``tests/test_region_run.py``).

Cost: the news is the listed companies represented from another city (tens of entries a
day for a region of millions); each day costs one round trip to every worker, about a
millisecond on a local cluster, against seconds of simulation per city-day at scale.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sclab.feasibility import check_feasibility
from sclab.region.exchange import Outbox, route
from sclab.region.schema import Region
from sclab.region.worker import CitySummary, CityWorker
from sclab.run import Reporter, read_policy_texts
from sclab.scenario.schema import Scenario
from sclab.store.manifest import Manifest
from sclab.store.output import OutputDirectory
from sclab.version import __version__


@dataclass
class RegionResult:
    """What a region's run produced."""

    out: Path
    region: str
    cities: list[CitySummary]
    workers: str  # "one process", or the cluster's description
    exchanged: int  # listings sent between cities over the run
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def people(self) -> int:
        return sum(c.people for c in self.cities)


class Placement(Protocol):
    """Where a region's cities live and how their days are run."""

    description: str

    def start(self, cities: list[Scenario], dirs: list[Path], texts: dict[str, str]) -> None: ...

    def news(self) -> list[Outbox]: ...

    def step(self, news: list[Outbox]) -> list[Outbox]: ...

    def end(self) -> list[CitySummary]: ...

    def abort(self) -> None: ...


class InProcess:
    """Every city in this process, stepped one after another."""

    description = "one process"

    def __init__(self) -> None:
        self.workers: list[CityWorker] = []

    def start(self, cities: list[Scenario], dirs: list[Path], texts: dict[str, str]) -> None:
        for city, d in zip(cities, dirs, strict=True):
            self.workers.append(CityWorker(city, str(d), texts))

    def news(self) -> list[Outbox]:
        return [w.news() for w in self.workers]

    def step(self, news: list[Outbox]) -> list[Outbox]:
        return [w.step(mine) for w, mine in zip(self.workers, route(news), strict=True)]

    def end(self) -> list[CitySummary]:
        return [w.end() for w in self.workers]

    def abort(self) -> None:
        for w in self.workers:
            w.abort()


class OnDask:
    """One Dask actor per city on a cluster: ``cluster`` local workers (a
    ``LocalCluster`` of that many processes) or a running scheduler's address."""

    def __init__(self, cluster: int | str) -> None:
        from distributed import Client, LocalCluster

        self._local: Any = None
        if isinstance(cluster, int):
            # Processes, not threads: each city's simulation holds the interpreter while it
            # runs Python between its array operations. No memory limit: the region's
            # feasibility check covers the whole, and a worker must not be paused mid-day.
            self._local = LocalCluster(
                n_workers=cluster, threads_per_worker=1, processes=True,
                memory_limit=0, dashboard_address=None,
            )  # fmt: skip
            self.client = Client(self._local)
            self.description = f"Dask LocalCluster, {cluster} worker(s)"
        else:
            self.client = Client(cluster)
            self.description = f"Dask scheduler {cluster}"
        self.actors: list[Any] = []

    def start(self, cities: list[Scenario], dirs: list[Path], texts: dict[str, str]) -> None:
        workers = sorted(self.client.scheduler_info()["workers"])
        futures = [
            # Cities go round the workers in the region's order: where a city runs never
            # changes what it draws (its streams are keyed by its code).
            self.client.submit(
                CityWorker, city, str(d), texts, actor=True, workers=[workers[i % len(workers)]]
            )
            for i, (city, d) in enumerate(zip(cities, dirs, strict=True))
        ]
        self.actors = [f.result() for f in futures]

    def _all(self, method: str, *args: Any) -> list[Any]:
        calls = [getattr(a, method)(*args) for a in self.actors]
        return [c.result() for c in calls]

    def news(self) -> list[Outbox]:
        return self._all("news")

    def step(self, news: list[Outbox]) -> list[Outbox]:
        calls = [a.step(mine) for a, mine in zip(self.actors, route(news), strict=True)]
        return [c.result() for c in calls]

    def end(self) -> list[CitySummary]:
        return self._all("end")

    def abort(self) -> None:
        for a in self.actors:
            # A worker already gone has nothing left to drop.
            with contextlib.suppress(Exception):
                a.abort().result()

    def close(self) -> None:
        self.client.close()
        if self._local is not None:
            self._local.close()


def run_region(
    region: Region,
    cities: list[Scenario],
    out: Path,
    *,
    cluster: int | str | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
    check_memory: bool = True,
) -> RegionResult:
    """Run the cities of ``region`` side by side, exchanging their news each day.

    Args:
        region: The validated region (for its manifest).
        cities: Its cities' scenarios (:func:`sclab.region.cities.city_scenarios`).
        out: The region's directory.
        cluster: None: every city in this process; a number: that many local Dask
            workers; a string: a Dask scheduler's address.
        force: Replace an earlier region run in ``out`` (never files sclab did not write).
        reporter: Progress display.
        check_memory: Refuse a region whose largest city cannot fit in memory.

    Raises:
        ScenarioError: a city cannot fit, before any work.
        OutputError: ``out`` cannot be written.
    """
    rep = reporter or Reporter()
    created = dt.datetime.now(dt.UTC)  # for the reader only
    if check_memory:
        check_feasibility(max(cities, key=lambda c: c.population.size), memory=True)
    texts: dict[str, str] = {}
    for city in cities:
        texts.update(read_policy_texts(city))
    output = OutputDirectory(Path(out), force, note=rep.note)
    place: Placement = InProcess() if cluster is None else OnDask(cluster)
    timings: dict[str, float] = {}
    days = cities[0].days
    try:
        t0 = time.perf_counter()
        rep.phase("cities", 1.0)
        root = output.staging / "cities"
        dirs = [root / f"{i:02d}-{c.name.rsplit('.', 1)[-1]}" for i, c in enumerate(cities)]
        place.start(cities, dirs, texts)
        news = place.news()
        rep.end_phase("cities")
        timings["start"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        exchanged = 0
        rep.phase("simulate", days, "days")
        for day in range(days):
            exchanged += sum(box.size for box in news)
            news = place.step(news)
            rep.advance("simulate", day + 1)
        rep.end_phase("simulate")
        timings["simulate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        summaries = place.end()
        timings["end"] = time.perf_counter() - t0
        result = RegionResult(
            out=Path(out), region=region.name, cities=summaries,
            workers=place.description, exchanged=exchanged, timings=timings,
        )  # fmt: skip
        _write_manifest(output.staging, region, cities, result, created)
        output.commit()
        return result
    except BaseException:
        place.abort()
        output.abort()
        raise
    finally:
        if isinstance(place, OnDask):
            place.close()


def _write_manifest(
    directory: Path,
    region: Region,
    cities: list[Scenario],
    result: RegionResult,
    created: dt.datetime,
) -> None:
    manifest = Manifest(directory)
    manifest.add_file(directory / "cities", "cities")
    manifest.info.update(
        sclab_version=__version__,
        region=region.model_dump(mode="json"),
        people=result.people,
        days=cities[0].days,
        seed=cities[0].seed,
        cities=[
            {
                "index": s.index,
                "name": s.name,
                "code": c.city.code if c.city is not None else None,
                "directory": f"cities/{Path(s.directory).name}",
                "people": s.people,
                "person_offset": c.city.person_offset if c.city is not None else 0,
                "company_offset": c.city.company_offset if c.city is not None else 0,
                "received_from_other_cities": s.received,
            }
            for s, c in zip(result.cities, cities, strict=True)
        ],
        workers=result.workers,
        exchanged=result.exchanged,
        timings_seconds={k: round(v, 4) for k, v in result.timings.items()},
        created_utc=created.isoformat(timespec="seconds"),
    )
    manifest.write()
