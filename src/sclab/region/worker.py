"""One city of a region, run a day at a time wherever it is placed.

Core object:
    :class:`CityWorker`: a city's :class:`~sclab.run.StagedRun` with the region's exchange
        around each day: what the other cities published the day before goes into the
        city's system view, the day is simulated, and what the others need of it comes
        out. In one process it is an ordinary object; on a Dask cluster it is an actor,
        one per city, living on a worker for the whole run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sclab.region.exchange import Outbox, deliver, outbox
from sclab.run import StagedRun
from sclab.scenario.schema import Scenario


@dataclass(frozen=True)
class CitySummary:
    """What a finished city reports to the region: enough for its manifest."""

    index: int
    name: str
    directory: str
    people: int
    row_counts: dict[str, int]
    timings: dict[str, float]
    peak_rss_bytes: int
    received: int  # listings from other cities received over the run


class CityWorker:
    """A city's run, stepped by the region.

    Args:
        scenario: The city's scenario (with its :class:`~sclab.scenario.schema.CityKey`).
        out: The city's run directory (inside the region's).
        policy_texts: The YAML of each policy source, read once for the whole region.
    """

    def __init__(self, scenario: Scenario, out: str, policy_texts: dict[str, str]) -> None:
        if scenario.city is None:
            raise ValueError("a city worker runs a city of a region (scenario.city is None)")
        self.key = scenario.city
        # The region checked the memory of the whole: a worker holds some of its cities.
        self.run = StagedRun.start(
            scenario, Path(out), check_memory=False, policy_texts=policy_texts
        )
        # This city's companies represented from elsewhere, and where each one's
        # representative lives (drawn with the population).
        population = self.run.sim.population
        elsewhere, representing = population.represented_from, population.representing
        assert elsewhere is not None and representing is not None  # a city of a region
        self.represented_elsewhere, self.home = elsewhere.company, elsewhere.home
        # The people here who represent another city's companies, by company.
        self.representing = representing
        self.received = 0

    def news(self) -> Outbox:
        """What the other cities need of this one as it stands now (after set-up: the
        listings from before the run; after a day: that day's)."""
        return outbox(self.key, self.run.sim.view, self.represented_elsewhere, self.home)

    def step(self, news: list[Outbox]) -> Outbox:
        """Take in the other cities' news of yesterday for this city
        (:func:`~sclab.region.exchange.route`), simulate the next day, and return this
        city's news of today."""
        view = self.run.sim.view
        for name, entries in deliver(self.key, self.representing, news).items():
            view.receive_listed_elsewhere(name, entries)
            self.received += len(entries.person)
        with self.run.aborting():
            self.run.step()
        return self.news()

    def end(self) -> CitySummary:
        """Finish the city's run (settle, write, commit its directory)."""
        with self.run.aborting():
            result = self.run.end()
        return CitySummary(
            index=self.key.index,
            name=self.run.scenario.name,
            directory=str(result.out),
            people=self.run.scenario.population.size,
            row_counts=dict(result.row_counts),
            timings={k: round(v, 4) for k, v in result.timings.items()},
            peak_rss_bytes=result.peak_rss_bytes,
            received=self.received,
        )

    def abort(self) -> None:
        """Drop what the city wrote."""
        self.run.abort()
