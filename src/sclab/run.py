"""Running a scenario end to end: population, daily simulation, database, manifest.

Core objects:
    :func:`run_scenario`: the whole job behind ``sclab run``, usable from a notebook.
    :class:`StagedRun`: the same job a stage at a time (made, each day, the end), for
        runs stepped side by side (the cities of a region).
    :class:`RunResult`: where the output went, row counts, timings and memory.
    :class:`Reporter`: how progress is shown (the CLI passes a Rich one; the default is
        silent).
    :data:`BUILTIN_COMPONENTS`, :func:`load_builtin_components`: sclab's own sources,
        sensors, policies and behaviour, imported so that they register with the engine.

Everything is written into a staging directory and moved into place at the end
(:class:`~sclab.store.output.OutputDirectory`): an error, Ctrl-C or SIGTERM leaves any
earlier run in the target directory exactly as it was. A run describes itself
(``run_info``, ``policies``: see :mod:`sclab.store.description`), so that its directory is
enough to audit it and to run it again (:mod:`sclab.rerun`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import platform
import resource
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from sclab.calibration.inert import Inert, find_inert, inert_columns
from sclab.engine.registry import REGISTRY, Registry
from sclab.engine.simulation import Simulation
from sclab.feasibility import check_feasibility
from sclab.population import generate_population
from sclab.scenario.schema import Scenario
from sclab.store.database import RunDatabase
from sclab.store.description import policies_columns, policy_sources, run_info_columns
from sclab.store.manifest import Manifest
from sclab.store.output import OutputDirectory
from sclab.store.population import population_labels, write_population
from sclab.store.summaries import write_daily_stats
from sclab.version import __version__

if TYPE_CHECKING:
    from sclab.policy.histograms import ScoreHistograms

BUILTIN_COMPONENTS = ("sclab.world", "sclab.sensors", "sclab.policy", "sclab.behaviour")
"""The packages of sclab's own components; each one's ``__init__`` imports its modules,
and importing a component's module registers it (``@register``). The engine names none
of them: the import arrows go from the components to the engine, never back."""


def load_builtin_components() -> Registry:
    """Import sclab's own components so that they register; return the filled registry.

    Idempotent (Python imports a module once). Called by whatever needs the registry
    filled: :func:`run_scenario`, the scenario checks of :mod:`sclab.targets`, the command
    line, the docs generator, the tests.
    """
    for package in BUILTIN_COMPONENTS:
        importlib.import_module(package)
    return REGISTRY


class Reporter:
    """Receives progress; subclass to display it. All methods are optional no-ops."""

    def phase(self, name: str, total: float | None = None, unit: str = "") -> None:
        """A new phase of work begins (``total`` steps of ``unit``, if known)."""

    def advance(self, name: str, done: float) -> None:
        """The phase ``name`` has reached ``done`` (fraction or count, as announced)."""

    def end_phase(self, name: str) -> None:
        """The phase is complete."""

    def note(self, message: str) -> None:
        """A one-line remark for the user (e.g. a stale staging directory was removed)."""


@dataclass
class RunResult:
    """What a run produced."""

    out: Path
    scenario: Scenario
    row_counts: dict[str, int]
    timings: dict[str, float]
    peak_rss_bytes: int
    state_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        return self.out / "run.duckdb"

    @property
    def agent_days_per_second(self) -> float:
        sim = self.timings.get("simulate", 0.0)
        n = self.scenario.population.size * self.scenario.days
        return n / sim if sim > 0 else float("inf")


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def run_scenario(
    scenario: Scenario,
    out: Path,
    *,
    force: bool = False,
    reporter: Reporter | None = None,
    check_memory: bool = True,
    policy_texts: Mapping[str, str] | None = None,
) -> RunResult:
    """Generate, simulate and store one scenario.

    Args:
        scenario: A validated scenario (see :func:`sclab.targets.load_scenario`).
        out: Output directory; receives ``run.duckdb`` and ``manifest.json``.
        force: Replace an earlier run in ``out`` (only a run directory holding nothing but
            what sclab wrote: see :func:`sclab.store.output.check_replaceable`).
        reporter: Progress display.
        check_memory: Refuse a run whose estimated peak memory exceeds what this machine
            has available (:func:`sclab.feasibility.check_feasibility`).
        policy_texts: The YAML to compile for each policy source (pack name or file path)
            the scenario names; by default each is read from its pack or file now.

    Returns:
        A :class:`RunResult`.

    Raises:
        ScenarioError: the run cannot fit (resident IDs, or memory), before any work.
        OutputError: ``out`` exists without ``force``, holds files sclab did not write,
            or cannot be written.
    """
    run = StagedRun(
        scenario, out, force=force, reporter=reporter, check_memory=check_memory,
        policy_texts=policy_texts,
    )  # fmt: skip
    with run.aborting():
        while not run.days_done:
            run.step()
        return run.end()


class StagedRun:
    """One run, a stage at a time: made (population, components, database, set-up), then
    :meth:`step` day by day, then :meth:`end` (settle, write the results, the manifest,
    commit the directory). :func:`run_scenario` is all three; a region steps its cities'
    runs side by side, day by day (:mod:`sclab.region`).

    Whatever fails, inside :meth:`aborting`, leaves the output directory as it was before.
    The arguments are those of :func:`run_scenario`.
    """

    def __init__(
        self,
        scenario: Scenario,
        out: Path,
        *,
        force: bool = False,
        reporter: Reporter | None = None,
        check_memory: bool = True,
        policy_texts: Mapping[str, str] | None = None,
    ) -> None:
        # Component modules are imported here, not at the top: `import sclab` leaves the
        # registry to whoever fills it (tests/test_layers.py).
        from sclab.policy.histograms import ScoreHistograms
        from sclab.policy.loader import pinned_policy_texts

        load_builtin_components()
        check_feasibility(scenario, memory=check_memory)
        self.scenario = scenario
        self.out = Path(out)
        self.rep = rep = reporter or Reporter()
        self.created = dt.datetime.now(dt.UTC)  # for the reader only; never feeds randomness
        # Each policy's text is read once: the run compiles exactly the text it records.
        texts = dict(policy_texts) if policy_texts is not None else read_policy_texts(scenario)
        self.output = OutputDirectory(self.out, force, note=rep.note)
        self.timings: dict[str, float] = {}
        self.db: RunDatabase | None = None
        with self.aborting():
            streams = scenario.streams()
            t0 = time.perf_counter()
            rep.phase("population", 1.0)
            population = generate_population(
                scenario, streams, lambda stage, done: rep.advance("population", done)
            )
            rep.end_phase("population")
            self.timings["population"] = time.perf_counter() - t0

            def append(table: str, columns: Mapping[str, Any]) -> None:
                """The simulation's sinks: called from the first day on, once ``db`` exists."""
                assert self.db is not None
                self.db.append(table, columns, buffered=True)

            # The components first (without their state): the database's label columns are
            # ENUMs of the labels they declare.
            with pinned_policy_texts(texts):
                sim = Simulation.assemble(
                    scenario,
                    streams,
                    population,
                    sink=lambda b: append("events", b.columns()),
                    moment_sink=lambda m, first: append("resource_moments", m.columns(first)),
                    decision_sink=append,
                )
            self.sim = sim
            self.db = db = RunDatabase(
                self.output.staging / "run.duckdb",
                {**population_labels(scenario), **sim.labels()},
            )
            describe_run(db, scenario, sim, texts, self.created)
            db.append("kinds", sim.catalogue().columns())  # what can happen in this run
            t0 = time.perf_counter()
            rep.phase("write population", 1.0)
            write_population(
                db, scenario, population, lambda stage, done: rep.advance("write population", done)
            )
            rep.end_phase("write population")
            self.timings["write_population"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            sim.setup()
            self.timings["setup_components"] = time.perf_counter() - t0
            self.histograms = ScoreHistograms(sim)
            self._simulating = 0.0

    @property
    def days_done(self) -> bool:
        """Whether every day of the scenario has been stepped."""
        return self.sim.day + 1 >= self.scenario.days

    def step(self) -> int:
        """Simulate the next day; returns its number."""
        assert self.db is not None
        t0 = time.perf_counter()
        if self.sim.day < 0:
            self.rep.phase("simulate", self.scenario.days, "days")
            self.db.set_threads(1)  # the writer overlaps the simulation: one core each
            self.db.set_memory_limit(self.db.RUN_MEMORY_LIMIT)  # the state needs the room
        self.sim.step()
        day = self.sim.day
        self.rep.advance("simulate", day + 1)
        self.histograms.observe(day)  # after the day's steps: the month's last scores
        self._simulating += time.perf_counter() - t0
        return day

    def end(self) -> RunResult:
        """After the last day: settle, write the results and summaries, close the
        database, write the manifest and move the directory into place."""
        sim, db, scenario, timings = self.sim, self.db, self.scenario, self.timings
        assert db is not None and self.days_done
        population = sim.population
        t0 = time.perf_counter()
        state_bytes = population.nbytes + sim.state.nbytes
        sim.release_ties()  # the end's settles and writes must not sit on top of the ties
        sim.finish()
        db.set_threads(2)
        db.set_memory_limit(db.end_memory_limit(len(population.citizens)))
        self.rep.end_phase("simulate")
        timings["simulate"] = self._simulating + time.perf_counter() - t0
        t0 = time.perf_counter()
        db.flush()  # the days' rows first: their buffers go before the end's bulk inserts
        for batch in sim.aggregates.rows():
            db.append("aggregates", batch)
        db.append("moment_counts", sim.moments.count_columns())
        kinds = sorted(sim.acts.totals)
        db.append(
            "true_act_totals",
            {"kind": kinds, "acts": [sim.acts.totals[k] for k in kinds]},
        )
        db.flush()
        timings["write_results"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        summarise_run(db, scenario, self.histograms)
        inert = record_inert(db)
        counts = db.row_counts()
        timings["summarise"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        db.close()
        self.db = None
        timings["close_database"] = time.perf_counter() - t0
        result = RunResult(
            out=self.out,
            scenario=scenario,
            row_counts=counts,
            timings=timings,
            peak_rss_bytes=peak_rss_bytes(),
            state_bytes=state_bytes,
            extra={
                "components": [f"{stage}:{c.name}" for stage, c in sim.components],
                "component_seconds": {k: round(v, 4) for k, v in sorted(sim.seconds.items())},
                "inert": [i.line() for i in inert],
            },
        )
        t0 = time.perf_counter()
        write_manifest(self.output.staging, result, self.created)
        result.timings["manifest"] = time.perf_counter() - t0
        self.output.commit()
        return result

    @contextlib.contextmanager
    def aborting(self) -> Iterator[None]:
        """Whatever escapes (an error, Ctrl-C) aborts the run: the database is dropped and
        the output directory left as it was before."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what this run wrote (idempotent)."""
        if self.db is not None:
            self.db.abort()
            self.db = None
        self.output.abort()


def describe_run(
    db: RunDatabase,
    scenario: Scenario,
    sim: Simulation,
    texts: Mapping[str, str],
    created: dt.datetime,
) -> None:
    """``run_info`` and ``policies``: the scenario as run, the policies' compiled texts and
    the software it ran on (see :mod:`sclab.store.description`)."""
    db.append("run_info", run_info_columns(scenario, created))
    db.append("policies", policies_columns(scenario, sim.components, texts))


def summarise_run(db: RunDatabase, scenario: Scenario, histograms: ScoreHistograms) -> None:
    """``daily_stats`` from the recorded tables, and the monthly ``score_histograms``."""
    db.append("score_histograms", histograms.columns())
    write_daily_stats(db, scenario.days)


def record_inert(db: RunDatabase) -> list[Inert]:
    """The ``inert`` table: switched-on components that produced nothing, rules that
    never fired, joint measures that never applied, found by SQL over the tables just
    written (:mod:`sclab.calibration.inert`)."""
    db.flush()  # every row in before the queries read the tables
    items = find_inert(db.con)
    db.append("inert", inert_columns(items))
    db.flush()
    return items


def write_manifest(directory: Path, result: RunResult, created: dt.datetime) -> Manifest:
    """``manifest.json``: the run's format and files (the database with the content hash
    of every table), and for the reader the resolved scenario, versions, timings, row
    counts and memory."""
    scenario = result.scenario
    manifest = Manifest(directory)
    manifest.info = {
        "sclab_version": __version__,
        "scenario": scenario.model_dump(mode="json"),
        "seed": scenario.seed,
        "population": scenario.population.size,
        "days": scenario.days,
        "components": result.extra.get("components", []),
        "row_counts": result.row_counts,
        "timings_seconds": {k: round(v, 4) for k, v in result.timings.items()},
        "component_seconds": result.extra.get("component_seconds", {}),
        "never_fired": result.extra.get("inert", []),
        "memory": {
            "peak_rss_bytes": result.peak_rss_bytes,
            "peak_rss_bytes_per_citizen": round(
                result.peak_rss_bytes / scenario.population.size, 1
            ),
            "state_bytes": result.state_bytes,
            "state_bytes_per_citizen": round(result.state_bytes / scenario.population.size, 1),
        },
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "duckdb": duckdb.__version__,
            "platform": platform.platform(),
        },
        # Wall-clock time is recorded for the reader only; it never feeds randomness.
        "created_utc": created.isoformat(timespec="seconds"),
    }
    manifest.add_file(directory / "run.duckdb", "database")
    manifest.write()
    return manifest


def read_policy_texts(scenario: Scenario) -> dict[str, str]:
    """Source → YAML text of every policy the scenario names (read now, once).

    Raises:
        PolicyError: a pack that does not exist or a file that cannot be read.
    """
    from sclab.policy.loader import policy_text

    return {source: policy_text(source) for source in policy_sources(scenario)}
