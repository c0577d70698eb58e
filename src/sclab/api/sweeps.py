"""Sweeps: a scenario over a grid of parameter values and replicates, each run a Dask task,
every run's audit gathered into one database.

Core objects:
    :func:`sweep`: read and check the grid (:mod:`sclab.api.grid`), build every run's
        scenario, run them on a Dask cluster (a ``distributed.LocalCluster`` of
        ``workers`` processes, or the scheduler at ``scheduler``), audit each, and gather
        their headline metrics into ``DIR/sweep.duckdb``; returns the :class:`Sweep`.
    :func:`open_sweep`: a finished sweep's directory to a :class:`Sweep`: its tables
        (``metrics``, ``runs``, ``sweep``), any run as a :class:`~sclab.api.runs.Run`, a
        metric's mean and interval over replicates at each point, and its chart.
    :func:`run_metrics`: the headline metrics of one audited run, as ``(metric, value)``.
    :func:`execute_run`: the task a worker runs for one run (a plain function, so that
        it pickles): run (or reuse a finished run), audit, measure.
    :class:`SweepObserver`: what a caller sees of a sweep as it runs (nothing by default;
        the command line shows a progress bar and one line per failure).

The layout of a sweep's directory (docs/sweep.md)::

    DIR/sweep.json      what the sweep is (scenario, grid, replicates, sclab version)
    DIR/sweep.duckdb    the gathered tables, written once every run has ended
    DIR/runs/INDEX-KEY/ one ordinary run directory per run (run.duckdb, audit.duckdb...)

Every check is made before the first run starts, and nothing is written before they pass:
the grid, every grid point's scenario, the directory (a rerun of the same sweep reuses the
runs that finished and runs the rest; anything else in the way is refused), and on the
local cluster the memory of ``workers`` runs at once. A run that fails is reported and
recorded (``runs.status``); the others are still gathered.

Determinism: a run's tables depend only on its scenario and seed, never on the worker
that ran it, and the gathered rows are sorted, so ``sweep.duckdb``'s metrics are the same
whatever the number of workers (only ``runs.seconds`` and ``runs.status`` tell how the
sweep went).

Cost: the runs and their audits, in parallel on the workers; the client holds one small
row per run and metric (hundreds per run), never a run's tables.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from sclab.api.frames import FrameKind, as_frame
from sclab.api.grid import Grid, PlannedRun, Value, plan, read_grid
from sclab.errors import OutputError, ScenarioError, SclabError
from sclab.version import __version__

if TYPE_CHECKING:
    from sclab.api.runs import Run
    from sclab.scenario.schema import Scenario as ScenarioSpec

#: What a sweep's directory holds (see the module's docstring).
SWEEP_JSON = "sweep.json"
SWEEP_DB = "sweep.duckdb"
RUNS = "runs"
#: ``sweep.json``'s format name.
FORMAT = "sclab-sweep"

#: The count columns of the audit's ``harm_by_system``, ``harm_by_kind`` and
#: ``harm_by_domain`` tables gathered per group: decisions, distinct people and companies,
#: in all and in each harm class (docs/audit.md).
GROUP_COUNTS = (
    "decisions", "error", "other_conduct", "design", "rightful",
    "people", "people_error", "people_other_conduct", "people_design", "people_rightful",
    "companies", "companies_error", "companies_other_conduct", "companies_design",
    "companies_rightful",
)  # fmt: skip
#: The count columns of ``redress_overview`` gathered per list.
REDRESS_COUNTS = (
    "entries", "wrongful_entries", "wrongful_corrected", "wrongful_expired",
    "wrongful_still_listed", "wrongful_late",
)  # fmt: skip
#: Metrics whose absence in a run means "not comparable", not zero.
NOT_COUNTS = ("calibration.",)


class NotASweepError(SclabError):
    """A directory that holds no finished sweep."""


class UnknownMetricError(SclabError):
    """A metric or parameter name the sweep does not have."""


# ---------------------------------------------------------------------- one run, on a worker


def run_metrics(run: Run) -> list[tuple[str, float | None]]:
    """The headline metrics of an audited run, as ``(metric, value)`` sorted by name.

    The names (docs/sweep.md):
        ``harmed.people``, ``harmed.companies``, ``harmed.decisions``: who received at
            least one adverse decision, and how many decisions (the report's headline);
        ``class.CLASS.decisions|people|companies``: per harm class;
        ``system.SYSTEM.COUNT``, ``kind.SYSTEM.TABLE.KIND.COUNT``, ``domain.DOMAIN.COUNT``:
            the counts of :data:`GROUP_COUNTS` per system, decision kind and domain
            (``kind.nanjing.sanctions.public_display.people_error``: people shown on a
            roadside screen for a jaywalk that was not theirs at least once);
        ``list_days.CLASS``: days on lists, by harm class;
        ``redress.SYSTEM.LIST.COUNT``: the counts of :data:`REDRESS_COUNTS` per list;
        ``calibration.FIGURE``: the simulated value beside each published figure (None
        where the run cannot be compared: ``calibration.nanjing_discredited``...).

    Example:
        >>> import sclab, tempfile
        >>> from sclab.api.sweeps import run_metrics
        >>> run = sclab.simulate("nanjing", population=2_000, days=5,
        ...                      out=f"{tempfile.mkdtemp()}/nanjing")
        >>> _ = run.audit()
        >>> rows = dict(run_metrics(run))
        >>> rows["harmed.people"] >= rows["class.error.people"]
        True
    """
    summary = run.audit().result.summary()
    rows: dict[str, float | None] = {}
    harmed = run.sql(
        "SELECT count(DISTINCT entity) FILTER (WHERE entity_type = 'person') AS people, "
        "count(DISTINCT entity) FILTER (WHERE entity_type = 'company') AS companies, "
        "count(*) AS decisions FROM audit.harm_decisions"
    ).to_pylist()[0]
    for name, value in harmed.items():
        rows[f"harmed.{name}"] = float(value)
    for name, c in summary["classes"].items():
        for k in ("decisions", "people", "companies"):
            rows[f"class.{name}.{k}"] = float(c[k])
    for name, days in summary["list_days_by_class"].items():
        rows[f"list_days.{name}"] = float(days)
    for table, keys in (
        ("harm_by_system", ("system",)),
        ("harm_by_kind", ("system", "decision_table", "kind")),
        ("harm_by_domain", ("domain",)),
    ):
        prefix = table.removeprefix("harm_by_")
        for r in run.table(table).to_pylist():
            group = ".".join(str(r[k]) for k in keys)
            for k in GROUP_COUNTS:
                rows[f"{prefix}.{group}.{k}"] = float(r[k] or 0)
    for r in run.table("redress_overview").to_pylist():
        for k in REDRESS_COUNTS:
            rows[f"redress.{r['system']}.{r['list']}.{k}"] = float(r[k] or 0)
    for r in run.table("calibration").to_pylist():
        value = r["simulated"]
        rows[f"calibration.{r['figure']}"] = None if value is None else float(value)
    return sorted(rows.items())


@dataclass(frozen=True)
class RunOutcome:
    """What one run of a sweep came to.

    Attributes:
        status: ``ran``, ``reused`` (a finished run of an earlier attempt at the same
            sweep) or ``failed``.
        seconds: Wall time of the task (run, audit and metrics).
        metrics: ``(metric, value)`` (:func:`run_metrics`); empty when failed.
        error: One line saying why it failed.
        detail: The traceback of a failure that is not an sclab error (a bug to report).
    """

    status: str
    seconds: float
    metrics: list[tuple[str, float | None]] = field(default_factory=list)
    error: str | None = None
    detail: str | None = None


def finished_run(directory: Path) -> bool:
    """Whether ``directory`` holds a finished run (a manifest listing its database)."""
    from sclab.api.runs import RUN_DB
    from sclab.store.manifest import Manifest, NotARunError

    if not (directory / "manifest.json").is_file():
        return False
    try:
        return RUN_DB in Manifest.read(directory).files and (directory / RUN_DB).is_file()
    except NotARunError:
        return False


def execute_run(spec: ScenarioSpec, directory: str, check_memory: bool = True) -> RunOutcome:
    """One run of a sweep, as a worker runs it: the run (unless ``directory`` holds it
    finished already), its audit (:meth:`Run.audit`) and its metrics.

    Errors are returned, not raised, so that one failure leaves the other runs going.

    Example:
        >>> import sclab, tempfile
        >>> from sclab.api.sweeps import execute_run
        >>> spec = sclab.Scenario.load("nanjing", population=2_000, days=5).spec
        >>> out = f"{tempfile.mkdtemp()}/run"
        >>> first, again = execute_run(spec, out), execute_run(spec, out)
        >>> first.status, again.status, first.metrics == again.metrics
        ('ran', 'reused', True)
    """
    from sclab.api.runs import open_run
    from sclab.api.scenario import Scenario

    start = time.perf_counter()
    path = Path(directory)
    try:
        if finished_run(path):
            status, run = "reused", open_run(path)
        else:
            status, run = "ran", Scenario(spec).run(path, check_memory=check_memory)
        metrics = run_metrics(run)
    except SclabError as exc:
        return RunOutcome("failed", time.perf_counter() - start, error=exc.one_line())
    except Exception as exc:
        return RunOutcome(
            "failed",
            time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}".replace("\n", " "),
            detail=traceback.format_exc(),
        )
    return RunOutcome(status, time.perf_counter() - start, metrics)


# ---------------------------------------------------------------------- the sweep


class SweepObserver:
    """What a caller sees of :func:`sweep`. Every method is an optional no-op.

    Example:
        >>> from sclab.api.sweeps import SweepObserver
        >>> class Say(SweepObserver):
        ...     def finished(self, run, outcome):
        ...         print(run.name, outcome.status)
    """

    def started(self, runs: list[PlannedRun], cluster: str) -> None:
        """The runs are about to be submitted to ``cluster`` (a description)."""

    def finished(self, run: PlannedRun, outcome: RunOutcome) -> None:
        """A run ended (in the order they end, not their order)."""

    def stopped(self) -> None:
        """Every run has ended (or the sweep was interrupted)."""


def default_workers() -> int:
    """Worker processes of the local cluster: one per two cores (at least one).

    Each run spreads its population-wide passes over every core it may use
    (:mod:`sclab.parallel`) and overlaps its database writer with the simulation, so a run
    alone keeps about two cores busy; more processes than that only share the cores.
    """
    from sclab.parallel import workers

    return max(1, workers() // 2)


def sweep(
    scenario: str | Path,
    grid: str | Path,
    *,
    replicates: int = 1,
    out: str | Path | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    population: int | None = None,
    days: int | None = None,
    seed: int | None = None,
    check_memory: bool = True,
    observer: SweepObserver | None = None,
) -> Sweep:
    """Run ``scenario`` at every point of ``grid`` and each of ``replicates`` seeds as
    Dask tasks, audit every run and gather their metrics into ``OUT/sweep.duckdb``.

    Args:
        scenario: What ``sclab run`` takes: a built-in scenario, a scenario file, a pack.
        grid: A YAML file of parameter paths (those of ``overrides``) to lists of values.
        replicates: Runs per grid point; replicate r runs seed ``seed + r - 1``.
        out: The sweep's directory (default ``sweeps/NAME``). Running the same sweep
            into it again reuses the runs that finished and runs the rest.
        scheduler: A Dask scheduler's address (``tcp://host:8786``); its workers must
            have this sclab and see ``out`` at the same path. Default: a local cluster.
        workers: Processes of the local cluster (default :func:`default_workers`, fewer
            if memory allows fewer runs at once); not with ``scheduler``.
        population, days, seed: Keyword overrides of the scenario, as ``sclab run``'s.
        check_memory: Refuse runs estimated not to fit in available memory (on the local
            cluster, ``workers`` of them at once).
        observer: Progress as the runs end (default: silent).

    Returns:
        The :class:`Sweep`, its tables written (failed runs in ``runs`` with their error).

    Raises:
        ScenarioError: the scenario, the grid file or a grid point's value (file, line,
            path, what was expected), before any run.
        OutputError: ``out`` holds something other than this sweep, before any run.

    Example:
        >>> import sclab, tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
        >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
        ...                  population=2_000, days=5, out=tmp / "sweep")
        >>> sw.table("runs", as_="pandas")[["run", "cameras.capture", "replicate", "seed"]]
           run  cameras.capture  replicate      seed
        0    1            0.005          1  20190708
        1    2            0.005          2  20190709
        2    3            0.020          1  20190708
        3    4            0.020          2  20190709
    """
    from sclab.api.scenario import Scenario

    base = Scenario.load(scenario, population=population, days=days, seed=seed).spec
    checked = read_grid(grid, base)
    runs = plan(checked, base, replicates)
    target = Path(out) if out is not None else Path("sweeps") / base.name
    if scheduler is not None and workers is not None:
        raise ScenarioError(
            "the local cluster's option; a scheduler's cluster has its own workers",
            field="--workers",
        )
    if workers is not None and workers < 1:
        raise ScenarioError(f"expected at least 1 (got {workers})", field="--workers")
    identity = _identity(base, checked, replicates)
    reused = _check_directory(target, identity, runs)
    todo = len(runs) - len(reused)
    if scheduler is None:
        count = _local_workers(runs, workers, todo, check_memory)
    watch = observer or SweepObserver()
    started = False
    try:
        with _client(scheduler, None if scheduler else count) as (client, where):
            _write_identity(target, identity)
            (target / RUNS).mkdir(exist_ok=True)
            watch.started(runs, where)
            started = True
            outcomes = _execute(client, runs, target, check_memory, watch)
    finally:
        if started:
            watch.stopped()
    _gather(target, checked, runs, outcomes, base, replicates)
    return Sweep(target)


def _identity(base: ScenarioSpec, grid: Grid, replicates: int) -> dict[str, Any]:
    """What makes two sweeps the same: the scenario, the grid, the replicates, sclab."""
    return {
        "format": FORMAT,
        "sclab_version": __version__,
        "scenario": base.model_dump(mode="json"),
        "grid": grid.to_json(),
        "replicates": replicates,
    }


def _check_directory(target: Path, identity: dict[str, Any], runs: list[PlannedRun]) -> set[int]:
    """The runs an earlier attempt at the same sweep finished (by index); refuses a
    directory in the way (another sweep, files sclab did not write)."""
    where = str(target)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputError("exists and is not a directory; choose another --out", source=where)
    if not target.exists() or not any(target.iterdir()):
        return set()
    marker = target / SWEEP_JSON
    try:
        recorded = json.loads(marker.read_text())
    except FileNotFoundError:
        raise OutputError(
            f"already exists and is not a sweep (no {SWEEP_JSON}); choose another --out",
            source=where,
        ) from None
    except (OSError, ValueError) as exc:
        raise OutputError(
            f"cannot read {SWEEP_JSON} ({exc}); choose another --out", source=where
        ) from None
    if recorded != identity:
        if not isinstance(recorded, dict):
            recorded = {}
        differ = [k for k in identity if recorded.get(k) != identity[k]] or ["format"]
        raise OutputError(
            f"holds another sweep (a different {', '.join(differ)}); sclab reruns a sweep "
            "only into its own directory: choose another --out",
            source=where,
        )
    done: set[int] = set()
    for r in runs:
        path = target / RUNS / r.name
        if finished_run(path):
            done.add(r.index)
        elif path.is_symlink() or (path.exists() and (not path.is_dir() or any(path.iterdir()))):
            raise OutputError(
                "is in the way of a run of this sweep and is not a finished run; move it "
                "out and run the sweep again",
                source=str(path),
            )
    return done


def _local_workers(runs: list[PlannedRun], asked: int | None, todo: int, check: bool) -> int:
    """The local cluster's processes: as asked or the default, refused (asked) or
    lowered (default) to what memory holds at once."""
    from sclab.feasibility import available_memory_bytes, estimate_peak_bytes

    count = asked if asked is not None else min(default_workers(), max(1, todo))
    available = available_memory_bytes() if check else None
    if available is None or not runs:
        return count
    biggest = max(runs, key=lambda r: estimate_peak_bytes(r.spec))
    need = estimate_peak_bytes(biggest.spec)
    gib = 2**30
    if need > available:
        raise ScenarioError(
            f"the largest run ({biggest.spec.population.size:,} people) needs about "
            f"{need / gib:,.1f} GiB of memory at its peak, but this machine has "
            f"{available / gib:,.1f} GiB available; lower it, or pass --skip-memory-check "
            "if swap can make up the difference",
            field="population.size",
        )
    fits = max(1, available // need)
    if asked is None:
        return int(min(count, fits))
    if asked > fits:
        raise ScenarioError(
            f"{asked} runs at once need about {asked * need / gib:,.1f} GiB of memory, but "
            f"this machine has {available / gib:,.1f} GiB available: at most {fits} fit",
            field="--workers",
        )
    return count


class _client:
    """A Dask client: to the scheduler at ``address``, or to a new local cluster of
    ``workers`` processes (closed on exit)."""

    def __init__(self, address: str | None, workers: int | None) -> None:
        self.address = address
        self.workers = workers
        self.cluster: Any = None
        self.client: Any = None

    def __enter__(self) -> tuple[Any, str]:
        from distributed import Client, LocalCluster

        if self.address is not None:
            try:
                self.client = Client(self.address, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ScenarioError(
                    f"cannot reach a Dask scheduler at {self.address} ({exc})",
                    field="--scheduler",
                ) from None
            return self.client, f"the Dask scheduler at {self.address}"
        # One thread a process: a run's own threads (sclab.parallel) use the cores.
        # No memory limit: Dask's would pause or restart a worker in the middle of a
        # large run; the sweep checked the runs' memory before starting them. The
        # scheduler's HTTP server (always started) on a free port of this machine only.
        self.cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=0,
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
        self.client = Client(self.cluster)
        plural = "es" if self.workers != 1 else ""
        return self.client, f"a local Dask cluster of {self.workers} process{plural}"

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _write_identity(target: Path, identity: dict[str, Any]) -> None:
    target.mkdir(parents=True, exist_ok=True)
    _atomic_write(target / SWEEP_JSON, json.dumps(identity, indent=1, sort_keys=True) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text)
    os.replace(partial, path)


def _execute(
    client: Any,
    runs: list[PlannedRun],
    target: Path,
    check_memory: bool,
    watch: SweepObserver,
) -> dict[int, RunOutcome]:
    """Submit every run in order and collect the outcomes as they end."""
    from distributed import as_completed

    tag = uuid.uuid4().hex[:8]
    futures: dict[str, PlannedRun] = {}
    submitted = []
    for r in runs:
        future = client.submit(
            execute_run,
            r.spec,
            str((target / RUNS / r.name).absolute()),
            check_memory,
            key=f"sclab-run-{r.index}-{tag}",
            pure=False,
        )
        futures[future.key] = r
        submitted.append(future)
    outcomes: dict[int, RunOutcome] = {}
    for future in as_completed(submitted):
        r = futures[future.key]
        try:
            outcome = future.result()
        except Exception as exc:  # the worker died (killed, out of memory) or vanished
            outcome = RunOutcome("failed", math.nan, error=f"{type(exc).__name__}: {exc}")
        outcomes[r.index] = outcome
        watch.finished(r, outcome)
    return outcomes


# ---------------------------------------------------------------------- gathering


def _column_type(values: Sequence[Value]) -> tuple[pa.DataType, str]:
    """A parameter column's Arrow and SQL types: the narrowest that holds every value."""
    given = [v for v in values if v is not None]
    if given and all(isinstance(v, bool) for v in given):
        return pa.bool_(), "BOOLEAN"
    if given and all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        return pa.int64(), "BIGINT"
    if given and all(isinstance(v, int | float) and not isinstance(v, bool) for v in given):
        return pa.float64(), "DOUBLE"
    return pa.string(), "VARCHAR"


def _cell(value: Value, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == pa.float64():
        return float(value)
    if kind == pa.string() and not isinstance(value, str):
        return json.dumps(value)
    return value


def _gather(
    target: Path,
    grid: Grid,
    runs: list[PlannedRun],
    outcomes: dict[int, RunOutcome],
    base: ScenarioSpec,
    replicates: int,
) -> None:
    """Write ``sweep.duckdb`` (aside, then moved into place): ``metrics``, ``runs`` and
    ``sweep``, rows sorted so that the content does not depend on the order runs ended."""
    kinds = {p: _column_type(grid.values[p]) for p in grid.paths}
    # A count a run does not have (no decision of that kind) is zero in that run.
    counted = sorted(
        {
            name
            for o in outcomes.values()
            for name, _ in o.metrics
            if not name.startswith(NOT_COUNTS)
        }
    )
    metric_rows: dict[str, list[Any]] = {k: [] for k in ("run", *grid.paths, "replicate")}
    metric_rows.update(seed=[], metric=[], value=[])
    run_rows: dict[str, list[Any]] = {k: [] for k in ("run", "directory", *grid.paths)}
    run_rows.update(replicate=[], seed=[], status=[], seconds=[], error=[], detail=[])
    for r in runs:
        outcome = outcomes.get(r.index) or RunOutcome("failed", math.nan, error="not run")
        values = dict(outcome.metrics)
        if outcome.status != "failed":
            values = {**dict.fromkeys(counted, 0.0), **values}
        for name in sorted(values):
            metric_rows["run"].append(r.index)
            for p in grid.paths:
                metric_rows[p].append(_cell(r.point[p], kinds[p][0]))
            metric_rows["replicate"].append(r.replicate)
            metric_rows["seed"].append(r.seed)
            metric_rows["metric"].append(name)
            metric_rows["value"].append(values[name])
        run_rows["run"].append(r.index)
        run_rows["directory"].append(f"{RUNS}/{r.name}")
        for p in grid.paths:
            run_rows[p].append(_cell(r.point[p], kinds[p][0]))
        run_rows["replicate"].append(r.replicate)
        run_rows["seed"].append(r.seed)
        run_rows["status"].append(outcome.status)
        run_rows["seconds"].append(None if math.isnan(outcome.seconds) else outcome.seconds)
        run_rows["error"].append(outcome.error)
        run_rows["detail"].append(outcome.detail)
    params = [(p, kinds[p][0]) for p in grid.paths]
    metrics = pa.table(
        metric_rows,
        schema=pa.schema(
            [("run", pa.int64()), *params, ("replicate", pa.int64()), ("seed", pa.int64()),
             ("metric", pa.string()), ("value", pa.float64())]
        ),
    )  # fmt: skip
    runs_table = pa.table(
        run_rows,
        schema=pa.schema(
            [("run", pa.int64()), ("directory", pa.string()), *params,
             ("replicate", pa.int64()), ("seed", pa.int64()), ("status", pa.string()),
             ("seconds", pa.float64()), ("error", pa.string()), ("detail", pa.string())]
        ),
    )  # fmt: skip
    info = pa.table(
        {
            "scenario": [base.name],
            "population": [base.population.size],
            "days": [base.days],
            "seed": [base.seed],
            "replicates": [replicates],
            "runs": [len(runs)],
            "parameters": [list(grid.paths)],
            "grid": [json.dumps(grid.to_json())],
            "sclab_version": [__version__],
        }
    )
    path = target / SWEEP_DB
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(partial)) as con:
            for name, table in (("metrics", metrics), ("runs", runs_table), ("sweep", info)):
                con.register("incoming", table)
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM incoming')
                con.unregister("incoming")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


# ---------------------------------------------------------------------- reading a sweep


def open_sweep(directory: str | Path) -> Sweep:
    """Open a finished sweep (``sclab sweep --out DIR``).

    Raises:
        NotASweepError: ``directory`` has no ``sweep.duckdb``.

    Example:
        >>> import sclab, tempfile, pathlib
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
        >>> _ = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
        ...                 population=2_000, days=5, out=tmp / "sweep")
        >>> sw = sclab.open_sweep(tmp / "sweep")
        >>> sw.parameters, len(sw.runs)
        (['cameras.capture'], 4)
    """
    path = Path(directory)
    if not (path / SWEEP_DB).is_file():
        what = "no such directory" if not path.exists() else f"has no {SWEEP_DB}"
        raise NotASweepError(f"{what}: not a finished sweep", source=str(path))
    return Sweep(path)


@dataclass(frozen=True)
class Sweep:
    """A finished sweep in ``directory``: its gathered tables and its runs.

    Tables (``sweep.duckdb``; docs/sweep.md): ``metrics`` (one row per run and metric,
    the varied parameters as columns, the replicate and seed), ``runs`` (one row per run:
    its directory, parameters, status, seconds, error) and ``sweep`` (what was swept).
    Use :func:`sclab.open_sweep`.
    """

    directory: Path

    def __repr__(self) -> str:
        return f"Sweep({str(self.directory)!r})"

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.directory / SWEEP_DB), read_only=True)

    @property
    def parameters(self) -> list[str]:
        """The varied parameter paths, in the grid's order (the tables' columns)."""
        with self._connect() as con:
            return list(con.execute("SELECT parameters FROM sweep").fetchall()[0][0])

    @property
    def runs(self) -> list[str]:
        """The runs' directories, relative to the sweep's, in run order."""
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT directory FROM runs ORDER BY run").fetchall()]

    def sql(self, query: str, params: Sequence[Any] | None = None, as_: FrameKind = "arrow") -> Any:
        """A read-only SQL query over ``sweep.duckdb`` (tables ``metrics``, ``runs``,
        ``sweep``; parameter columns by their paths in double quotes).

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> sw.sql('SELECT "cameras.capture", count(*) AS runs FROM runs '
            ...        'GROUP BY ALL ORDER BY 1', as_="pandas")
               cameras.capture  runs
            0            0.005     2
            1            0.020     2
        """
        with self._connect() as con:
            table = con.sql(query, params=list(params or [])).to_arrow_table()
        return as_frame(table, as_)

    def table(self, name: str = "metrics", as_: FrameKind = "arrow") -> Any:
        """One table of the sweep, whole: ``metrics``, ``runs`` or ``sweep``.

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> m = sw.table(as_="pandas")
            >>> sorted(set(m["run"])), "harmed.people" in set(m["metric"])
            ([1, 2, 3, 4], True)
        """
        if name not in ("metrics", "runs", "sweep"):
            raise UnknownMetricError(
                f"no table '{name}'; expected one of: metrics, runs, sweep",
                source=str(self.directory),
            )
        return self.sql(f'SELECT * FROM "{name}"', as_=as_)

    def run(self, which: int | str) -> Run:
        """A run of the sweep as a :class:`~sclab.api.runs.Run`: by its number (the
        ``run`` column) or its directory's name.

        Raises:
            UnknownMetricError: no such run; NotARunError: it failed (no run there).

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> run = sw.run(3)
            >>> run.directory.name, run.scenario.seed
            ('3-0.02_r1', 20190708)
        """
        from sclab.api.runs import open_run

        rows = self.sql("SELECT run, directory FROM runs ORDER BY run").to_pylist()
        found = [
            r["directory"]
            for r in rows
            if r["run"] == which or (isinstance(which, str) and Path(r["directory"]).name == which)
        ]
        if not found:
            names = ", ".join(Path(r["directory"]).name for r in rows[:5])
            raise UnknownMetricError(
                f"no run {which!r}; expected a number from 1 to {len(rows)} or a name ({names}...)",
                source=str(self.directory),
            )
        return open_run(self.directory / found[0])

    def metrics(self) -> list[str]:
        """The metric names gathered (docs/sweep.md, :func:`run_metrics`).

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> "calibration.nanjing_discredited" in sw.metrics()
            True
        """
        rows = self.sql("SELECT DISTINCT metric FROM metrics ORDER BY metric").to_pylist()
        return [r["metric"] for r in rows]

    def summary(self, metric: str, level: float = 0.95, as_: FrameKind = "arrow") -> Any:
        """A metric at each grid point: the parameters, the replicates, their mean and
        Student's t interval at ``level`` (NaN bounds with one replicate).

        Raises:
            UnknownMetricError: no such metric (the message suggests close names).

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> s = sw.summary("harmed.people", as_="pandas")
            >>> list(s.columns), s["replicates"].tolist()
            (['cameras.capture', 'replicates', 'mean', 'low', 'high'], [2, 2])
        """
        from sclab.audit.effects import t_interval

        self._check_metric(metric)
        params = self.parameters
        quoted = ", ".join(f'"{p}"' for p in params)
        rows = self.sql(
            f"SELECT {quoted}, value FROM metrics WHERE metric = ? ORDER BY run", [metric]
        ).to_pylist()
        points: dict[tuple[Any, ...], list[float]] = {}
        for r in rows:
            value = r["value"]
            points.setdefault(tuple(r[p] for p in params), []).append(
                math.nan if value is None else float(value)
            )
        out: dict[str, list[Any]] = {p: [] for p in params}
        out.update(replicates=[], mean=[], low=[], high=[])
        for point, values in points.items():
            mean, low, high = t_interval(values, level)
            for p, v in zip(params, point, strict=True):
                out[p].append(v)
            out["replicates"].append(len(values))
            out["mean"].append(mean)
            out["low"].append(low)
            out["high"].append(high)
        schema = self.sql(f"SELECT {quoted} FROM metrics LIMIT 0").schema
        fields = [*schema, pa.field("replicates", pa.int64())]
        fields += [pa.field(k, pa.float64()) for k in ("mean", "low", "high")]
        return as_frame(pa.table(out, schema=pa.schema(fields)), as_)

    def chart(self, metric: str, x: str | None = None, colour: str | None = None) -> Any:
        """A metric against one varied parameter (``x``), a line per value of another
        (``colour``), the mean over replicates with its 95% interval (an Altair chart).

        With one or two varied parameters they are the defaults; other parameters must
        be named (a chart shows at most two).

        Raises:
            UnknownMetricError: an unknown metric or parameter, or a third parameter.

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> spec = sw.chart("harmed.people").to_dict()
            >>> spec["layer"][0]["encoding"]["x"]["title"]
            'cameras.capture'
        """
        import altair as alt

        params = self.parameters
        x = x or params[0]
        rest = [p for p in params if p != x]
        colour = colour if colour is not None else (rest[0] if len(rest) == 1 else None)
        for name in (x, colour):
            if name is not None and name not in params:
                raise UnknownMetricError(
                    f"'{name}' is not a varied parameter; expected one of: {', '.join(params)}",
                    source=str(self.directory),
                )
        extra = [p for p in rest if p != colour]
        if extra:
            raise UnknownMetricError(
                f"a chart shows two parameters at most (x and colour); {', '.join(extra)} "
                "also varies: draw it from summary() filtered to one value",
                source=str(self.directory),
            )
        table = self.summary(metric)
        kind = table.schema.field(x).type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind)
        frame = table.to_pandas()
        # Field names with dots are paths to Vega-Lite: renamed for the chart.
        names = {x: "x", **({colour: "colour"} if colour else {})}
        frame = frame.rename(columns=names)
        xenc = alt.X("x:Q" if numeric else "x:N", title=x)
        base = alt.Chart(frame)
        enc: dict[str, Any] = {"x": xenc}
        if colour:
            enc["color"] = alt.Color("colour:N", title=colour)
        tooltip = [alt.Tooltip("x", title=x), "mean:Q", "low:Q", "high:Q", "replicates:Q"]
        if colour:
            tooltip.insert(1, alt.Tooltip("colour", title=colour))
        line = base.mark_line(point=True).encode(
            y=alt.Y("mean:Q", title=f"{metric} (mean over replicates)"), tooltip=tooltip, **enc
        )
        bars = base.mark_errorbar().encode(y=alt.Y("low:Q", title=""), y2="high:Q", **enc)
        return (line + bars).properties(
            title=f"{metric}: mean and 95% interval over replicates", width=420, height=260
        )

    def report(self, path: str | Path | None = None) -> Path:
        """Write the sweep's offline HTML report (default ``DIR/report.html``): what was
        swept, the headline measures at every grid point with their intervals over
        replicates, and the runs (docs/sweep.md). Each run has its own report
        (``sw.run(n).report()``).

        Raises:
            ReportError: ``path`` is a directory, or a file sclab did not write.

        Example:
            >>> import sclab, tempfile, pathlib
            >>> tmp = pathlib.Path(tempfile.mkdtemp())
            >>> _ = (tmp / "grid.yaml").write_text("cameras.capture: [0.005, 0.02]\\n")
            >>> sw = sclab.sweep("nanjing", tmp / "grid.yaml", replicates=2,
            ...                  population=2_000, days=5, out=tmp / "sweep")
            >>> sw.report().name
            'report.html'
        """
        from sclab.report import write_page
        from sclab.report.sweep import HEADLINES, sweep_page

        params = self.parameters
        info = self.sql("SELECT * FROM sweep").to_pylist()[0]
        info["values"] = {
            p: [r[p] for r in self.sql(f'SELECT DISTINCT "{p}" FROM runs ORDER BY 1').to_pylist()]
            for p in params
        }
        held = set(self.metrics())
        summaries = {m: self.summary(m).to_pylist() for m in HEADLINES if m in held}
        quoted = ", ".join(f'"{p}"' for p in params)
        runs = self.sql(
            f"SELECT run, {quoted}, replicate, seed, status, seconds, status = 'failed' "
            "AS failed FROM runs ORDER BY run"
        ).to_pylist()
        target = Path(path) if path is not None else self.directory / "report.html"
        return write_page(sweep_page(info, summaries, runs), target, check=True)

    def _check_metric(self, metric: str) -> None:
        import difflib

        names = self.metrics()
        if metric not in names:
            close = difflib.get_close_matches(metric, names, n=5, cutoff=0.5)
            hint = f"; did you mean: {', '.join(close)}" if close else ""
            raise UnknownMetricError(
                f"no metric '{metric}' in this sweep{hint} (Sweep.metrics() lists them)",
                source=str(self.directory),
            )
