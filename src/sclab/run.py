"""Running a scenario end to end: population, daily simulation, database, manifest.

Core objects:
    :func:`run_scenario`: the whole job behind ``sclab run``, usable from a notebook.
    :class:`StagedRun`: the same job a stage at a time (made, each day, the end), for
        runs stepped side by side (the cities of a region) and for resumed runs.
    :class:`RunResult`: where the output went, row counts, timings and memory.
    :class:`Reporter`: how progress is shown (the CLI passes a Rich one; the default is
        silent).
    :data:`BUILTIN_COMPONENTS`, :func:`load_builtin_components`: sclab's own sources,
        sensors, policies and behaviour, imported so that they register with the engine.
    :func:`resume_run`: ``sclab resume``: a run with checkpoints (``checkpoint_every``),
        killed at any moment, continued from its last complete checkpoint.
    :class:`Checkpoints`: writes them (:mod:`sclab.store.checkpoint` holds the files).

Everything is written into a staging directory and moved into place at the end
(:class:`~sclab.store.output.OutputDirectory`): an error, Ctrl-C or SIGTERM leaves any
earlier run in the target directory exactly as it was. A run with checkpoints keeps its
staging directory and last checkpoint instead, for ``sclab resume``. A run describes itself
(``run_info``, ``policies``: see :mod:`sclab.store.description`), so that its directory is
enough to audit it and to run it again (:mod:`sclab.rerun`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import pickle
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from sclab.calibration.inert import Inert, find_inert, inert_columns
from sclab.engine.registry import REGISTRY, Registry
from sclab.engine.simulation import Simulation
from sclab.errors import ScenarioError, SclabError
from sclab.feasibility import check_feasibility
from sclab.population import generate_population
from sclab.scenario.schema import Scenario
from sclab.store.checkpoint import (
    KILL_AT,
    CheckpointRecord,
    Resumable,
    ResumeError,
    StatePickler,
    discard_log,
    durable_row_counts,
    fault_point,
    truncate_to,
)
from sclab.store.database import RunDatabase
from sclab.store.description import (
    policies_columns,
    policy_sources,
    run_info_columns,
    sha256_text,
)
from sclab.store.manifest import MANIFEST, Manifest
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
    checkpoint_every: int | None = None,
    origin: Mapping[str, Any] | None = None,
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
        checkpoint_every: Write a checkpoint after every this many days, so that a run
            killed at any moment can be resumed (:func:`resume_run`); None: none.
        origin: How the scenario was loaded (target, keyword options, overrides,
            policies; JSON values), recorded in each checkpoint so that a resume can load
            it again and refuse if its file changed.

    Returns:
        A :class:`RunResult`.

    Raises:
        ScenarioError: the run cannot fit (resident IDs, or memory), before any work.
        OutputError: ``out`` exists without ``force``, holds files sclab did not write,
            or cannot be written.
    """
    run = StagedRun.start(
        scenario, out, force=force, reporter=reporter, check_memory=check_memory,
        policy_texts=policy_texts, checkpoint_every=checkpoint_every, origin=origin,
    )  # fmt: skip
    return run.to_the_end()


class StagedRun:
    """One run a stage at a time: made (:meth:`start`: population, components, database,
    set-up; or from a checkpoint, :func:`resume_run`), then :meth:`step` day by day, then
    :meth:`end` (settle, write the results and the manifest, move the directory into
    place). :func:`run_scenario` is :meth:`start` then :meth:`to_the_end`; a region steps
    its cities' runs side by side, day by day, exchanging news between them
    (:mod:`sclab.region`).

    Whatever escapes :meth:`step` or :meth:`end` inside :meth:`aborting` (an error,
    Ctrl-C) aborts the run: the output directory is left as it was, or, with a complete
    checkpoint, kept for ``sclab resume``.
    """

    def __init__(
        self,
        sim: Simulation,
        db: RunDatabase,
        output: OutputDirectory,
        histograms: ScoreHistograms,
        timings: dict[str, float],
        rep: Reporter,
        created: dt.datetime,
        checkpoints: Checkpoints | None,
    ) -> None:
        self.sim = sim
        self.db: RunDatabase | None = db
        self.output = output
        self.histograms = histograms
        self.timings = timings
        self.rep = rep
        self.created = created
        self.checkpoints = checkpoints
        self.scenario = sim.scenario
        self._mid_day = _mid_day_fault()
        self._simulating = 0.0
        self._stepping = False

    @classmethod
    def start(
        cls,
        scenario: Scenario,
        out: Path,
        *,
        force: bool = False,
        reporter: Reporter | None = None,
        check_memory: bool = True,
        policy_texts: Mapping[str, str] | None = None,
        checkpoint_every: int | None = None,
        origin: Mapping[str, Any] | None = None,
    ) -> StagedRun:
        """Generate the population, assemble the components, open the database, set up:
        a run ready for its first day (the arguments are :func:`run_scenario`'s)."""
        # Component modules are imported here, not at the top: `import sclab` leaves the
        # registry to whoever fills it (tests/test_layers.py).
        from sclab.policy.histograms import ScoreHistograms
        from sclab.policy.loader import pinned_policy_texts

        if checkpoint_every is not None and checkpoint_every < 1:
            raise ScenarioError(
                f"expected a number of days, at least 1 (got {checkpoint_every})",
                field="checkpoint_every",
            )
        load_builtin_components()
        check_feasibility(scenario, memory=check_memory)
        rep = reporter or Reporter()
        created = dt.datetime.now(dt.UTC)  # for the reader only; never feeds randomness
        # Each policy's text is read once: the run compiles exactly the text it records.
        texts = dict(policy_texts) if policy_texts is not None else read_policy_texts(scenario)
        output = OutputDirectory(
            Path(out), force, note=rep.note, resumable=checkpoint_every is not None
        )
        timings: dict[str, float] = {}
        db: RunDatabase | None = None
        checkpoints: Checkpoints | None = None
        try:
            streams = scenario.streams()
            t0 = time.perf_counter()
            rep.phase("population", 1.0)
            population = generate_population(
                scenario, streams, lambda stage, done: rep.advance("population", done)
            )
            rep.end_phase("population")
            timings["population"] = time.perf_counter() - t0

            # The components first (without their state): the database's label columns
            # are ENUMs of the labels they declare.
            with pinned_policy_texts(texts):
                sim = Simulation.assemble(scenario, streams, population)
            db = RunDatabase(
                output.staging / "run.duckdb", {**population_labels(scenario), **sim.labels()}
            )
            connect_sinks(sim, db)
            describe_run(db, scenario, sim, texts, created)
            db.append("kinds", sim.catalogue().columns())  # what can happen in this run
            t0 = time.perf_counter()
            rep.phase("write population", 1.0)
            write_population(
                db, scenario, population, lambda stage, done: rep.advance("write population", done)
            )
            rep.end_phase("write population")
            timings["write_population"] = time.perf_counter() - t0

            t0 = time.perf_counter()
            sim.setup()
            timings["setup_components"] = time.perf_counter() - t0
            if output.resumable is not None and checkpoint_every is not None:
                checkpoints = Checkpoints(
                    output.resumable,
                    checkpoint_every,
                    scenario.days,
                    checkpoint_facts(scenario, texts, origin)
                    | {"run": run_facts(Path(out), force, check_memory, checkpoint_every, created)},
                )
            return cls(sim, db, output, ScoreHistograms(sim), timings, rep, created, checkpoints)
        except BaseException:
            _abort(db, output, checkpoints, rep)
            raise

    @property
    def days_done(self) -> bool:
        """Whether every day of the scenario has been stepped."""
        return self.sim.day + 1 >= self.scenario.days

    def step(self) -> int:
        """Simulate the next day (then write its checkpoint, when one is due); returns
        the day's number."""
        db = self.db
        assert db is not None
        t0 = time.perf_counter()
        if not self._stepping:
            self._stepping = True
            self.rep.phase("simulate", self.scenario.days, "days")
            if self.sim.day >= 0:
                self.rep.advance("simulate", self.sim.day + 1)  # resumed
            db.set_threads(1)  # the writer overlaps the simulation: one core each
            db.set_memory_limit(db.RUN_MEMORY_LIMIT)  # the simulation's state needs the room
        self.sim.step(self._mid_day)
        day = self.sim.day
        self.rep.advance("simulate", day + 1)
        self.histograms.observe(day)  # after the day's steps: the month's last scores
        if self.checkpoints is not None and self.checkpoints.due(day):
            self.checkpoints.write(day, self.sim, self.histograms, db)
        self._simulating += time.perf_counter() - t0
        return day

    def to_the_end(self) -> RunResult:
        """Every day left, then :meth:`end`."""
        with self.aborting():
            while not self.days_done:
                self.step()
            return self.end()

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
        fault_point("end-results")
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
        extra: dict[str, Any] = {
            "components": [f"{stage}:{c.name}" for stage, c in sim.components],
            "component_seconds": {k: round(v, 4) for k, v in sorted(sim.seconds.items())},
            "inert": [i.line() for i in inert],
        }
        if self.checkpoints is not None:
            extra["checkpoints"] = self.checkpoints.summary()
        result = RunResult(
            out=self.output.target,
            scenario=scenario,
            row_counts=counts,
            timings=timings,
            peak_rss_bytes=peak_rss_bytes(),
            state_bytes=state_bytes,
            extra=extra,
        )
        t0 = time.perf_counter()
        write_manifest(self.output.staging, result, self.created)
        result.timings["manifest"] = time.perf_counter() - t0
        fault_point("end-manifest")
        self.output.commit()
        return result

    @contextlib.contextmanager
    def aborting(self) -> Iterator[None]:
        """Whatever escapes aborts the run (see the class)."""
        try:
            yield
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Close the database; remove the unfinished run unless a checkpoint keeps it."""
        _abort(self.db, self.output, self.checkpoints, self.rep)
        self.db = None


class Checkpoints:
    """Writes a checkpoint after every ``every`` days (not after the last day: the end of
    the run follows at once) into a :class:`~sclab.store.checkpoint.Resumable` directory.

    A checkpoint holds, after day d's steps and rows: the database made durable with each
    table's row count, and the simulation with the run's score histograms, pickled with
    the sinks to the database detached (docs/architecture.md, "Checkpoints").

    Args:
        resumable: Where the run is built.
        every: Days between checkpoints.
        days: The scenario's days.
        facts: The record's fields that do not change from one checkpoint to the next
            (see :func:`checkpoint_facts`).
    """

    def __init__(
        self,
        resumable: Resumable,
        every: int,
        days: int,
        facts: Mapping[str, Any],
    ) -> None:
        self.resumable = resumable
        self.every = every
        self.days = days
        self.facts = dict(facts)
        self.written: list[dict[str, Any]] = []

    def due(self, day: int) -> bool:
        """Whether a checkpoint follows day ``day``."""
        return (day + 1) % self.every == 0 and day + 1 < self.days

    def write(
        self, day: int, sim: Simulation, histograms: ScoreHistograms, db: RunDatabase
    ) -> None:
        """Write the checkpoint of day ``day`` (after its steps and its rows)."""
        t0 = time.perf_counter()
        fault_point(f"checkpoint-{day}-start")
        db.flush()  # every row of days 0..day committed, the writer idle
        counts = durable_row_counts(db.con)
        fault_point(f"checkpoint-{day}-database")
        with sinks_detached(sim):
            state = self.resumable.write_state(
                day, lambda f: StatePickler(f).dump_state((sim, histograms))
            )
        fault_point(f"checkpoint-{day}-record")
        seconds = time.perf_counter() - t0
        record = CheckpointRecord(
            day=day, state=state, row_counts=counts, seconds=round(seconds, 3), **self.facts
        )
        self.resumable.write_record(record)
        self.written.append({"day": day, "seconds": round(seconds, 3), "bytes": state["bytes"]})
        fault_point(f"checkpoint-{day}-done")

    def summary(self) -> dict[str, Any]:
        """For the manifest: how often, what each cost, where a resume started."""
        return {
            "every": self.every,
            "written": self.written,
            "resumed_from_day": self.facts.get("extra", {}).get("resumed_from_day"),
        }


def connect_sinks(sim: Simulation, db: RunDatabase) -> None:
    """Point the simulation's event, moment and decision logs at the database (each
    day's rows are appended, buffered, as the day ends)."""

    def append(table: str, columns: Mapping[str, Any]) -> None:
        db.append(table, columns, buffered=True)

    sim.events.sink = lambda b: append("events", b.columns())
    sim.moments.sink = lambda m, first: append("resource_moments", m.columns(first))
    sim.decisions.sink = append


@contextlib.contextmanager
def sinks_detached(sim: Simulation) -> Iterator[None]:
    """The simulation without its sinks (closures over the open database, which a
    checkpoint must not pickle); put back on the way out."""
    events, moments, decisions = sim.events.sink, sim.moments.sink, sim.decisions.sink
    sim.events.sink = sim.moments.sink = sim.decisions.sink = None
    try:
        yield
    finally:
        sim.events.sink, sim.moments.sink, sim.decisions.sink = events, moments, decisions


def checkpoint_facts(
    scenario: Scenario, texts: Mapping[str, str], origin: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The fields of a checkpoint record that identify the run (what a resume checks)."""
    dumped = scenario.model_dump(mode="json")
    return {
        "sclab_version": __version__,
        "scenario": dumped,
        "scenario_sha256": sha256_text(json.dumps(dumped, sort_keys=True)),
        "seed": scenario.seed,
        "population": scenario.population.size,
        "policies": {source: sha256_text(text) for source, text in sorted(texts.items())},
        "origin": None if origin is None else dict(origin),
    }


def run_facts(
    out: Path, force: bool, check_memory: bool, every: int, created: dt.datetime
) -> dict[str, Any]:
    """What the run was asked, as a checkpoint records it (a resume does the same)."""
    return {
        "target": str(out),
        "cwd": os.getcwd(),  # where relative policy file names are read from
        "force": force,
        "check_memory": check_memory,
        "checkpoint_every": every,
        "created_utc": created.isoformat(),
    }


def _mid_day_fault() -> Callable[[Simulation], None] | None:
    """The test hook that kills a run in the middle of a day (after the day's steps,
    before its rows are stored), only when :data:`~sclab.store.checkpoint.KILL_AT` is
    set: otherwise no hook at all."""
    if not os.environ.get(KILL_AT):
        return None
    return lambda sim: fault_point(f"day-{sim.day}")


def _abort(
    db: RunDatabase | None,
    output: OutputDirectory,
    checkpoints: Checkpoints | None,
    rep: Reporter,
) -> None:
    """Clean up after an error or a signal: the database closed, the unfinished run
    removed, unless it has a complete checkpoint to resume from (as found on disk: a
    signal may come between a record's rename and the code that follows it)."""
    if db is not None:
        db.abort()
    last = None
    if checkpoints is not None:
        try:
            last = checkpoints.resumable.read_record()
        except ResumeError:
            last = None
    output.abort(keep_checkpoint=last is not None)
    if last is not None:
        rep.note(
            f"kept the unfinished run's checkpoint of day {last.day}: "
            f"sclab resume {output.target} continues it"
        )


#: The fields of a checkpoint record that each checkpoint writes anew.
PER_CHECKPOINT = ("day", "state", "row_counts", "seconds", "extra")


def resume_run(
    target: Path,
    *,
    load_again: Callable[[Mapping[str, Any]], Scenario] | None = None,
    reporter: Reporter | None = None,
) -> RunResult:
    """Resume a run with checkpoints (``sclab resume DIR``) from its last complete
    checkpoint, to the same tables as a run that was never stopped.

    Args:
        target: The run's target directory (what ``--out`` was).
        load_again: Loads the scenario again from the origin the checkpoint records
            (see :func:`run_scenario`); the resume is refused if it now differs from the
            scenario the run started with. None: not checked (policy texts still are).
        reporter: Progress display.

    Raises:
        ResumeError: nothing to resume (a finished run, no checkpoint), a damaged
            checkpoint, or a scenario, policy file or sclab version that changed since
            the run started. Nothing is changed on disk then.
    """
    load_builtin_components()
    rep = reporter or Reporter()
    target = Path(target)
    where = str(target)
    resumable = Resumable(target)
    if not resumable.exists():
        if (target / MANIFEST).is_file():
            raise ResumeError("is a finished run; nothing to resume", source=where)
        raise ResumeError(
            "has no checkpoint to resume (sclab run --checkpoint-every DAYS writes them)",
            source=where,
        )
    resumable.lock()
    try:
        if not resumable.run_dir.is_dir():
            resumable.remove()  # moved into place; only its checkpoint was left
            raise ResumeError("is a finished run; nothing to resume", source=where)
        record = resumable.read_record()
        if record is None:
            raise ResumeError(
                "stopped before its first checkpoint; nothing to resume: start it again "
                "with sclab run",
                source=where,
            )
        check_unchanged(record, load_again, where)
        state_path = resumable.verified_state(record)
    except BaseException:
        resumable.unlock()
        raise
    output = OutputDirectory.reopen(resumable, force=bool(record.run.get("force")))
    # The next checkpoints record what this one does, and where the resume started.
    unchanged = {k: v for k, v in vars(record).items() if k not in PER_CHECKPOINT}
    unchanged["extra"] = {**record.extra, "resumed_from_day": record.day}
    checkpoints = Checkpoints(
        resumable, int(record.run["checkpoint_every"]), int(record.scenario["days"]), unchanged
    )
    db: RunDatabase | None = None
    try:
        check_feasibility(
            Scenario.model_validate(record.scenario), memory=bool(record.run["check_memory"])
        )
        resumable.tidy(keep=record.state["file"])
        timings: dict[str, float] = {}
        rep.note(f"resuming {where} after day {record.day} of {record.scenario['days']}")
        t0 = time.perf_counter()
        rep.phase("load checkpoint", 1.0)
        with open(state_path, "rb") as f:
            sim, histograms = pickle.load(f)  # sclab's own file, its SHA-256 checked
        rep.end_phase("load checkpoint")
        timings["load_checkpoint"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        path = output.staging / "run.duckdb"
        discard_log(path)
        labels = {**population_labels(sim.scenario), **sim.labels()}
        db = RunDatabase(path, labels, existing=True)
        truncate_to(db.con, record.row_counts, where)
        connect_sinks(sim, db)
        timings["reopen_database"] = time.perf_counter() - t0
        created = dt.datetime.fromisoformat(str(record.run["created_utc"]))
    except BaseException:
        _abort(db, output, checkpoints, rep)
        raise
    return StagedRun(sim, db, output, histograms, timings, rep, created, checkpoints).to_the_end()


def check_unchanged(
    record: CheckpointRecord,
    load_again: Callable[[Mapping[str, Any]], Scenario] | None,
    where: str,
) -> None:
    """Refuse a resume whose sclab version, scenario or policy texts differ from the
    checkpoint's (one line saying what changed and how to fix it).

    Raises:
        ResumeError: the first difference found.
    """
    again = "start the run again with sclab run ... --force"
    if record.sclab_version != __version__:
        raise ResumeError(
            f"the checkpoint was written by sclab {record.sclab_version}, this is sclab "
            f"{__version__}; resume it with sclab {record.sclab_version}, or {again}",
            source=where,
        )
    cwd = Path(str(record.run.get("cwd") or "."))
    if load_again is not None and record.origin is not None:
        source = record.origin.get("target", "the scenario")
        try:
            # From the directory the run started in: the scenario may name policy files
            # by relative names, as the run read them.
            with contextlib.chdir(cwd if cwd.is_dir() else Path(".")):
                scenario_now = load_again(record.origin)
        except SclabError as exc:
            raise ResumeError(
                f"cannot load {source} again ({exc.one_line()}); restore it, or {again}",
                source=where,
            ) from None
        now = json.loads(json.dumps(scenario_now.model_dump(mode="json")))
        if now != record.scenario:
            changed = _first_difference(record.scenario, now)
            raise ResumeError(
                f"{source} changed since the run started ({changed}); restore it, or {again}",
                source=where,
            )
    for source, sha in record.policies.items():
        try:
            text = _policy_text_now(source, cwd)
        except SclabError as exc:
            raise ResumeError(
                f"cannot read policy {source} the run compiled ({exc.message}); restore "
                f"it, or {again}",
                source=where,
            ) from None
        if sha256_text(text) != sha:
            raise ResumeError(
                f"policy {source} changed since the run started (its text is not the one "
                f"the run compiled); restore it, or {again}",
                source=where,
            )


def _policy_text_now(source: str, cwd: Path) -> str:
    """The text a policy source has now (a relative file name read from the directory
    the run was started in)."""
    from sclab.policy.loader import policy_text

    path = Path(source)
    if not path.is_absolute() and (cwd / path).is_file():
        return policy_text(str(cwd / path))
    return policy_text(source)


def _first_difference(old: Any, new: Any, path: str = "") -> str:
    """``population.size: 3000 in the checkpoint, now 4000`` for the first difference."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}".strip("."))
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{path}.{i}".strip("."))
    shown = [json.dumps(v)[:40] for v in (old, new)]
    return f"{path or 'scenario'}: {shown[0]} in the checkpoint, now {shown[1]}"


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
        **({"checkpoints": result.extra["checkpoints"]} if "checkpoints" in result.extra else {}),
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
