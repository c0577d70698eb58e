"""The ``sclab`` command line: a thin layer over the Python API.

Core objects:
    :data:`app`: the Typer application (``sclab run``, ``sclab rerun``, ``sclab explain``,
        ``sclab scenarios``, ``sclab bench``...).
    :func:`main`: the console entry point. It turns every :class:`~sclab.errors.SclabError`,
        every usage error and every ``OSError`` on a path into one line on stderr with exit
        code 2, and Ctrl-C (SIGINT) or SIGTERM into one line and exit code 130 or 143,
        without a traceback; an unfinished run is removed first. Messages are printed as
        plain text: file names and values in them may contain Rich markup brackets.
"""

from __future__ import annotations

import inspect
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from sclab import api
from sclab.api.sweeps import RunOutcome, SweepObserver
from sclab.calibration import CalibrationRow
from sclab.errors import SclabError
from sclab.explain import Story, summary
from sclab.legal import Verdict
from sclab.policy.schema import Policy
from sclab.run import Reporter, RunResult
from sclab.version import __version__

if TYPE_CHECKING:
    from sclab.api.grid import PlannedRun
    from sclab.scenario.schema import Scenario as ScenarioSpec

app = typer.Typer(
    name="sclab",
    help="Simulate social-scoring systems on synthetic populations and audit what they do.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out_console = Console()
# Rich reads "[...]" in strings as markup: every piece of user text (file names, titles,
# paths, messages quoting values) goes through escape() or a Text, never raw.


def _show_version(value: bool) -> None:
    if value:
        out_console.print(f"sclab {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Simulate social-scoring systems on synthetic populations and audit what they do."""


class _Rate(ProgressColumn):
    """Agents per second for the simulation phase, items per second otherwise."""

    def __init__(self, agents: int) -> None:
        super().__init__()
        self.agents = agents

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") != "days" or not task.elapsed:
            return Text("")
        rate = task.completed * self.agents / task.elapsed
        return Text(f"{rate / 1e6:,.1f}M agent-days/s", style="cyan")


class _Done(ProgressColumn):
    """ "12/60 days" for the simulation, a percentage for the other phases."""

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "days":
            return Text(f"{task.completed:>4.0f}/{task.total:.0f} days")
        return Text(f"{task.percentage:>5.1f}%")


class RichReporter(Reporter):
    """Shows each phase of a run as a Rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def phase(self, name: str, total: float | None = None, unit: str = "") -> None:
        self.tasks[name] = self.progress.add_task(name, total=total, unit=unit)

    def advance(self, name: str, done: float) -> None:
        self.progress.update(self.tasks[name], completed=done)

    def end_phase(self, name: str) -> None:
        task = self.tasks[name]
        total = self.progress.tasks[task].total
        self.progress.update(task, completed=total)

    def note(self, message: str) -> None:
        self.progress.console.print(f"note: {message}", highlight=False, soft_wrap=True)


def _summary(result: RunResult, wall: float) -> None:
    s = result.scenario
    counts = result.row_counts
    table = Table(title=f"sclab run: {escape(s.name)}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "population", f"{s.population.size:,} people in {len(s.geography.districts)} districts"
    )
    table.add_row("companies", f"{counts.get('companies', 0):,}")
    table.add_row("social ties", f"{counts.get('ties', 0):,}")
    table.add_row("days", f"{s.days} from {s.start_date.isoformat()}  (seed {s.seed})")
    components = result.extra.get("components") or ["none (population only)"]
    table.add_row("components", escape(", ".join(components)))
    table.add_row(
        "recorded",
        f"{counts.get('events', 0):,} events, {counts.get('score_changes', 0):,} score changes, "
        f"{counts.get('list_entries', 0):,} list entries, {counts.get('sanctions', 0):,} sanctions",
    )
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in result.timings.items())
    table.add_row("time", f"{wall:.1f}s ({timing})")
    table.add_row(
        "memory",
        f"peak {result.peak_rss_bytes / 2**20:,.0f} MiB "
        f"({result.peak_rss_bytes / s.population.size:,.0f} B per citizen)",
    )
    table.add_row("database", escape(str(result.database)))
    table.add_row("manifest", escape(str(result.out / "manifest.json")))
    out_console.print(table)
    _never_fired(result.extra.get("inert", []))


def _never_fired(lines: list[str]) -> None:
    """The switched-on mechanisms that did nothing (the run's ``inert`` table)."""
    if not lines:
        return
    out_console.print(Text(f"Never fired ({len(lines)}):", style="bold yellow"))
    for line in lines:
        out_console.print(Text(f"  {line}"), highlight=False, soft_wrap=True)


@app.command()
def run(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A built-in scenario or scenario file, or a policy pack or policy file "
            "(run on the Nanjing world)."
        ),
    ],
    population: Annotated[int | None, typer.Option(help="Override population.size.")] = None,
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: runs/NAME).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier run in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    skip_memory_check: Annotated[
        bool,
        typer.Option(
            "--skip-memory-check",
            help="Run even if the estimated peak memory exceeds what is available "
            "(for machines with swap).",
        ),
    ] = False,
    twin: Annotated[
        str | None,
        typer.Option(
            help="Also run a twin on the same random numbers into OUT/twin: 'none' (no "
            "policy), a policy pack or a policy file (the baseline); effects go to "
            "OUT/effects.duckdb (docs/effects.md)."
        ),
    ] = None,
    replicates: Annotated[
        int,
        typer.Option(
            min=1,
            help="Run K seeds (seed, seed + 1, ...) into OUT/replicate-1 ... OUT/replicate-K, "
            "each with its twin.",
        ),
    ] = 1,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="For a region (several cities, e.g. 'jiangsu'): run its cities on N local "
            "Dask workers, or on the Dask scheduler at ADDRESS (tcp://host:port); the "
            "tables are the same as in one process (docs/scale.md)."
        ),
    ] = None,
    checkpoint_every: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Write a checkpoint after every DAYS days: a run stopped or killed at any "
            "moment continues with 'sclab resume OUT'.",
            metavar="DAYS",
        ),
    ] = None,
) -> None:
    """Generate a population, simulate the scenario and write run.duckdb + manifest.json;
    for a region, each city's run into OUT/cities/ (docs/scale.md)."""
    if api.is_region(scenario):
        for option, given in (
            ("--twin", twin is not None),
            ("--replicates", replicates != 1),
            ("--checkpoint-every", checkpoint_every is not None),
        ):
            if given:
                raise SclabError(
                    f"a region runs once, without checkpoints: {option} applies to one "
                    "city's scenario",
                    field=option,
                )
        _run_region(scenario, population, days, seed, out, force, quiet, skip_memory_check, cluster)
        return
    if cluster is not None:
        raise SclabError(
            f"'{scenario}' is one city: --cluster spreads the cities of a region over "
            "workers (e.g. sclab run jiangsu --cluster 2)",
            field="--cluster",
        )
    spec = api.Scenario.load(scenario, population=population, days=days, seed=seed)
    spec.run(
        out,
        twin=twin,
        replicates=replicates,
        force=force,
        check_memory=not skip_memory_check,
        observer=_RichObserver(quiet),
        checkpoint_every=checkpoint_every,
    )


def _cluster(value: str | None) -> int | str | None:
    """``--cluster``: a number of local workers, or a scheduler's address."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    if "://" in value or ":" in value:
        return value
    raise SclabError(
        f"expected a number of workers (2) or a scheduler address (tcp://host:8786), got {value!r}",
        field="--cluster",
    )


def _run_region(
    target: str,
    population: int | None,
    days: int | None,
    seed: int | None,
    out: Path | None,
    force: bool,
    quiet: bool,
    skip_memory_check: bool,
    cluster: str | None,
) -> None:
    """``sclab run REGION``: the cities side by side, then a table of them."""
    import time

    started = time.perf_counter()
    with _progress(population or 1_000_000, quiet) as progress:
        result = api.run_region(
            target, population=population, days=days, seed=seed, out=out,
            cluster=_cluster(cluster), force=force, check_memory=not skip_memory_check,
            reporter=RichReporter(progress),
        )  # fmt: skip
    table = Table(title=f"Region {result.region} ({result.workers})", title_justify="left")
    _columns(table, ("city", "people", "events", "sanctions", "listing-days from other cities"))
    for c in result.cities:
        table.add_row(
            escape(c.name.rsplit(".", 1)[-1]),
            f"{c.people:,}",
            f"{c.row_counts.get('events', 0):,}",
            f"{c.row_counts.get('sanctions', 0):,}",
            f"{c.received:,}",
        )
    out_console.print(table)
    seconds = time.perf_counter() - started
    out_console.print(
        f"{result.people:,} people in {len(result.cities)} cities in {seconds:.1f} s; "
        f"{result.exchanged:,} listing-days crossed city lines"
    )
    out_console.print(f"Output: {escape(str(result.out.resolve()))}")


@app.command()
def resume(
    run_dir: Annotated[Path, typer.Argument(help="The run's directory (what --out was).")],
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Continue a run with checkpoints (sclab run --checkpoint-every) that was stopped or
    killed, from its last complete checkpoint: its tables come out as if it never stopped.
    Refused if the scenario, a policy file or the sclab version changed since."""
    api.resume(run_dir, observer=_RichObserver(quiet))


class _RichObserver(api.RunObserver):
    """Progress bars while a run runs, its summary when done, the effects as a table."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    @contextmanager
    def progress(self, scenario: ScenarioSpec) -> Iterator[Reporter]:
        with _progress(scenario.population.size, self.quiet) as progress:
            yield RichReporter(progress)

    def finished(self, result: RunResult, seconds: float, twin: str | None) -> None:
        if twin is None:
            _summary(result, seconds)
            out_console.print(f"Output: {escape(str(result.out.resolve()))}")
        else:
            out_console.print(f"Twin ({escape(str(twin))}): {escape(str(result.out.resolve()))}")

    def effects(self, tables: dict[str, Any], path: Path) -> None:
        out_console.print(_effects_table(tables["effects_summary"]))
        out_console.print(f"Effects: {escape(str(path.resolve()))}")


def _effects_table(summary: Any) -> Table:
    """The effects' means and intervals as a table."""
    table = Table(title="Effects (run − twin, signed as named)", title_justify="left")
    _columns(table, ("effect", "group", "K", "mean", "interval"), text=("effect", "group"))
    for row in summary.to_pylist():
        low, high = row["low"], row["high"]
        interval = "-" if low != low else f"[{_signed(low)}, {_signed(high)}]"
        table.add_row(
            row["effect"], row["group"], str(row["replicates"]), _signed(row["mean"]), interval
        )
    return table


def _signed(x: float) -> str:
    if x != x:
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


@app.command()
def sweep(
    scenario: Annotated[
        str,
        typer.Argument(
            help="A built-in scenario or scenario file, or a policy pack or policy file "
            "(run on the Nanjing world)."
        ),
    ],
    grid: Annotated[
        Path,
        typer.Option(
            help="A YAML file of parameter paths (those of the API's overrides: "
            "cameras.capture_preset, population.size...) to lists of values (docs/sweep.md)."
        ),
    ],
    replicates: Annotated[
        int, typer.Option(min=1, help="Runs per grid point; replicate r runs seed + r - 1.")
    ] = 1,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="A Dask scheduler's address (tcp://host:8786); its workers need this sclab "
            "and --out at the same path. Default: a local cluster."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="The sweep's directory (default: sweeps/NAME). The same sweep run again "
            "into it reuses the runs that finished."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Processes of the local cluster (default: one per two cores, fewer if "
            "memory holds fewer runs at once)."
        ),
    ] = None,
    population: Annotated[int | None, typer.Option(help="Override population.size.")] = None,
    days: Annotated[int | None, typer.Option(help="Override the number of days.")] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    skip_memory_check: Annotated[
        bool,
        typer.Option(
            "--skip-memory-check",
            help="Run even if the estimated peak memory exceeds what is available "
            "(for machines with swap).",
        ),
    ] = False,
) -> None:
    """Run a scenario at every point of a grid of parameter values, K replicates each, as
    Dask tasks; audit every run and gather their headline metrics into OUT/sweep.duckdb.
    Exit 1 if a run failed (the others are gathered)."""
    done = api.sweep(
        scenario,
        grid,
        replicates=replicates,
        out=out,
        scheduler=scheduler,
        workers=workers,
        population=population,
        days=days,
        seed=seed,
        check_memory=not skip_memory_check,
        observer=_RichSweepObserver(quiet),
    )
    counts = {
        r["status"]: r["n"]
        for r in done.sql("SELECT status, count(*) AS n FROM runs GROUP BY ALL").to_pylist()
    }
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    where = done.directory.resolve() / "sweep.duckdb"
    _say(f"Sweep: {sum(counts.values())} runs ({tally}): {where}")
    if counts.get("failed"):
        raise typer.Exit(1)


class _RichSweepObserver(SweepObserver):
    """A progress bar of runs ended out of all, and one line per failed run."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def started(self, runs: list[PlannedRun], cluster: str) -> None:
        _say(f"{len(runs)} runs on {cluster}")
        self.bar = Progress(
            TextColumn("[bold]runs"),
            BarColumn(),
            TextColumn("{task.completed:.0f}/{task.total:.0f}"),
            TimeElapsedColumn(),
            console=console,
            disable=self.quiet or not console.is_terminal,
        )
        self.bar.start()
        self.task = self.bar.add_task("runs", total=len(runs))

    def finished(self, run: PlannedRun, outcome: RunOutcome) -> None:
        if outcome.status == "failed":
            line = Text("failed:", style="red")
            line.append(f" {run.name}: {outcome.error}")
            console.print(line, highlight=False, soft_wrap=True)
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task)

    def stopped(self) -> None:
        if self.bar is not None:
            self.bar.stop()


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="A run directory (the system).")],
    b: Annotated[Path, typer.Argument(help="A run directory of the same world (the twin).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the effects as JSON.")] = False,
) -> None:
    """Effects of A against B: two runs of the same population, seed and scenario apart
    from its policies (refused otherwise), as paired differences A − B."""
    import json
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tables = api.open_run(a, check=False).compare(b).result
    for w in caught:
        console.print(f"warning: {escape(str(w.message))}")
    if as_json:
        rows = tables["effects"].to_pylist()
        sys.stdout.write(json.dumps({"a": str(a), "b": str(b), "effects": rows}, indent=2) + "\n")
        return
    out_console.print(_effects_table(tables["effects_summary"]))


@app.command()
def calibrate(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (sclab run --out).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tables as JSON.")] = False,
    figures: Annotated[
        Path | None,
        typer.Option(help="A figures file of the same form (default: sclab's figures.yaml)."),
    ] = None,
) -> None:
    """Compare a run with the published figures: simulated (scaled to each figure's
    population and period) beside published, their ratio and a verdict; the calibration
    figures (tuned to), the validation figures (not tuned to) and the informational rows
    (no published figure) in separate tables."""
    import json

    table = api.open_run(run_dir, check=False).calibrate(figures).result
    if as_json:
        sys.stdout.write(json.dumps(table.to_dict(), indent=2) + "\n")
        return
    run = table.run
    _say(f"{run_dir}: {run.scenario}, {run.population:,} people, {run.days} days")
    for role, title in (
        ("calibration", "Calibration (figures the defaults were tuned to)"),
        ("validation", "Validation (figures nothing was tuned to)"),
        ("informational", "For information (nothing published to compare with)"),
    ):
        rows = table.role(role)
        if rows:
            out_console.print(_calibration_table(title, rows))


def _calibration_table(title: str, rows: list[CalibrationRow]) -> Table:
    table = Table(title=escape(title), title_justify="left", show_header=True)
    why = "unit / why not comparable"
    _columns(
        table, ("figure", "published", "simulated", "ratio", "verdict", why),
        text=("figure", "verdict", why),
    )  # fmt: skip
    table.columns[0].style = "bold"
    styles = {"matches": "green", "too high": "red", "too low": "red"}
    for r in rows:
        table.add_row(
            escape(r.figure),
            "-" if r.published is None else _number(r.published),
            "-" if r.simulated is None else _number(r.simulated),
            "-" if r.ratio is None else f"{r.ratio:.2f}",
            Text(r.verdict, style=styles.get(r.verdict, "dim")),
            escape(r.unit if r.simulated is not None else r.note),
        )
    return table


def _columns(table: Table, names: tuple[str, ...], text: tuple[str, ...] | None = None) -> None:
    """Add a table's columns: ``text`` ones (default: the first) left-aligned and folded
    when narrow, the others numbers, right-aligned and never cut. On a narrow terminal, or
    in a file (80 columns), names and words wrap and every number keeps its digits: a
    number cut to "17,460…", or a list's name to "court-defaulter…", would say nothing."""
    text = names[:1] if text is None else text
    for name in names:
        if name in text:
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right", no_wrap=True)


def _number(x: float) -> str:
    """Counts with thousands separators; small numbers with three significant digits."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _progress(agents: int, quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<17}"),
        BarColumn(),
        _Done(),
        TimeElapsedColumn(),
        _Rate(agents),
        console=console,
        transient=False,
        disable=quiet or not console.is_terminal,
    )


@app.command()
def rerun(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (sclab run --out).")],
    out: Annotated[Path, typer.Option(help="Output directory for the new run.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier run in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Run a run again from its own directory (its recorded scenario and policy texts) and
    check that every table comes out the same; exit 1 if some table differs."""
    import warnings

    def show(message: Warning | str, *_: object, **__: object) -> None:
        # Printed as they come (before the run's progress), not after the run.
        console.print(Text(f"warning: {message}"), highlight=False, soft_wrap=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        outcome = api.open_run(run_dir, check=False).rerun(
            out, force=force, observer=_RichObserver(quiet)
        )
    if not outcome.compared:
        _say(f"Not compared: {run_dir}'s table hashes were made with another DuckDB version.")
    elif outcome.differing:
        _say(
            f"Differs from {run_dir}: {', '.join(outcome.differing)} "
            f"({len(outcome.differing)} of {len(outcome.compared)} tables)."
        )
        raise typer.Exit(1)
    else:
        _say(
            f"Identical to {run_dir}: all {len(outcome.compared)} tables "
            "(run_info, which says when and on what each run was made, aside)."
        )


@app.command()
def explain(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (sclab run --out).")],
    person: Annotated[
        str | None, typer.Option(help="Person id or 18-character resident ID.")
    ] = None,
    company: Annotated[str | None, typer.Option(help="Company id or 18-character USCC.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the story as JSON.")] = False,
) -> None:
    """One person's (or company's) story: true acts (reproduced by running the recorded
    scenario again in memory), records, score changes, list entries and exits, sanctions
    and attempts, each decision with its rule, events and harm class."""
    import json

    story = api.open_run(run_dir, check=False).explain(person, company=company).result
    if as_json:
        sys.stdout.write(json.dumps(story.to_json(), indent=1) + "\n")
        return
    _show_story(story)


def _show_story(story: Story) -> None:
    who = Table(
        title=f"{story.entity_type} {story.entity_id} in {escape(str(story.run_dir))}",
        show_header=False,
        title_justify="left",
    )
    who.add_column(style="bold")
    who.add_column()
    for name, value in story.attributes.items():
        who.add_row(escape(name), escape(str(value)))
    out_console.print(who)
    out_console.print(_story_table(story, wide=out_console.width >= STORY_WIDE_COLUMNS))
    _say(summary(story))
    if not story.faithful:
        _say(
            f"warning: {len(story.unmatched)} of their recorded acts have no reproduced act "
            "(the run was made by another sclab?): event ids "
            + ", ".join(str(u[0]) for u in story.unmatched[:10])
        )


#: Terminal columns from which a story is one table column per field; below, a row's
#: rule, events, wrongness and harm join its detail, so that the detail keeps its width
#: (nine narrow columns at 80 would fold every word).
STORY_WIDE_COLUMNS = 140


def _story_table(story: Story, wide: bool) -> Table:
    """The rows of a story: one column per field, or (``wide`` False) day, what and
    detail, each row's other fields after its detail."""
    table = Table(show_header=True)
    if wide:
        for name in ("day", "date", "what", "kind", "detail", "rule", "events", "wrong", "harm"):
            table.add_column(name, overflow="fold")
    else:
        table.add_column("day", no_wrap=True)
        table.add_column("what", overflow="fold", max_width=24)
        table.add_column("detail", overflow="fold", ratio=1)
        table.expand = True
    for r in story.rows:
        events = ", ".join(map(str, r.events[:6])) + (" ..." if len(r.events) > 6 else "")
        day = "" if r.day is None else str(r.day)
        date = "" if r.date is None else r.date.isoformat()
        wrong = {None: "", True: "yes", False: "no"}[r.wrong]
        if wide:
            table.add_row(
                day, date, escape(r.what), escape(r.kind), escape(r.detail),
                escape(r.rule or ""), events, wrong, escape(r.harm or ""),
            )  # fmt: skip
            continue
        extra = [
            f"{name}: {value}"
            for name, value in (
                ("rule", r.rule), ("events", events), ("wrong", wrong), ("harm", r.harm)
            )
            if value
        ]  # fmt: skip
        detail = r.detail + ("" if not extra else " [" + "; ".join(extra) + "]")
        table.add_row(f"{day}\n{date}", escape(f"{r.what}\n{r.kind}"), escape(detail))
    return table


@app.command("audit")
def audit_run(
    run_dir: Annotated[Path, typer.Argument(help="A finished run's directory (sclab run --out).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")
    ] = False,
) -> None:
    """Audit a finished run: harm by class (error, someone else's conduct, design), by
    system, kind and domain, and redress of list entries; stored in DIR/audit.duckdb."""
    import json

    result = api.open_run(run_dir, check=False).audit(recompute=True).result
    path = Path(run_dir) / "audit.duckdb"
    summary = result.summary()
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    run = summary["run"]
    title = (
        f"{run['scenario']}: {run['population']:,} people, {run['days']} days (adverse decisions)"
    )
    classes = Table(title=escape(title), title_justify="left")
    _columns(classes, ("class", "decisions", "people", "companies", "share", "days on lists"))
    for name, c in summary["classes"].items():
        classes.add_row(
            name, f"{c['decisions']:,}", f"{c['people']:,}", f"{c['companies']:,}",
            f"{c['share']:.1%}", f"{summary['list_days_by_class'][name]:,}",
        )  # fmt: skip
    out_console.print(classes)
    domains = Table(title="By domain", title_justify="left")
    _columns(domains, ("domain", "decisions", "error", "other_conduct", "design", "rightful"))
    for d in summary["by_domain"]:
        domains.add_row(
            escape(d["domain"]),
            *(f"{d[k]:,}" for k in ("decisions", "error", "other_conduct", "design", "rightful")),
        )
    out_console.print(domains)
    redress = Table(title="Wrongful list entries: redress", title_justify="left")
    _columns(redress, ("list", "entries", "corrected", "median\ndays", "expired", "open", "late"))
    for r in summary["redress"]:
        median = r["wrongful_median_days_to_correction"]
        redress.add_row(
            escape(f"{r['system']}: {r['list']}"), f"{r['wrongful_entries']:,}",
            f"{r['wrongful_corrected']:,}", "-" if median is None else f"{median:g}",
            f"{r['wrongful_expired']:,}", f"{r['wrongful_still_listed']:,}",
            f"{r['wrongful_late']:,}",
        )  # fmt: skip
    out_console.print(redress)
    _say(f"Audit: {path.resolve()}")


@app.command("report")
def report_run(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A finished run's directory (sclab run --out), or a directory of "
            "replicates (its first replicate is reported with the effects of all)."
        ),
    ],
    compare: Annotated[
        Path | None,
        typer.Option(
            help="Another run of the same world (same population, seed and scenario apart "
            "from its policies): the effects of this run against it. Default: the run's "
            "twin, when it has one."
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="The HTML file to write (default: DIR/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML report of a run (offline: scripts, styles and data
    inline): what it is, the headline harm, what ran, each system, the cameras, fairness,
    the law, calibration and, against its twin or --compare, what the system changed.
    A run without an audit is audited first (DIR/audit.duckdb). For a sweep's directory
    (sclab sweep --out): the headline measures across its grid, with their intervals
    over replicates, and its runs (docs/sweep.md)."""
    if (run_dir / "sweep.duckdb").is_file():
        if compare is not None:
            raise SclabError(
                "--compare compares two runs; a sweep's report draws its own runs "
                "(compare two of them: sclab compare DIR/runs/A DIR/runs/B)",
                field="--compare",
            )
        path = api.open_sweep(run_dir).report(out)
        size = path.stat().st_size / 2**20
        _say(f"Report: {path.resolve()} ({size:,.1f} MiB; open it in a browser)")
        return
    reported = api.open_run(run_dir, check=False)
    if reported.directory != run_dir:
        _say(
            f"{run_dir} holds replicates: reporting {reported.directory} with the effects of "
            "all of them"
        )
    path = reported.report(
        out, compare=compare, note=_say, warn=lambda w: console.print(f"warning: {escape(w)}")
    )
    _say(f"Report: {path.resolve()} ({path.stat().st_size / 2**20:,.1f} MiB; open it in a browser)")


def _say(message: str) -> None:
    """One line on stdout, printed as it is: no markup, no wrapping (paths can be long)."""
    out_console.print(Text(message), highlight=False, soft_wrap=True)


@app.command("scenarios")
def scenarios_command() -> None:
    """List the built-in scenarios and regions."""
    table = Table(show_header=True)
    table.add_column("name", style="bold")
    table.add_column("description")
    for name, desc in api.scenarios().items():
        table.add_row(escape(name), escape(desc))
    for name, desc in api.regions().items():
        table.add_row(escape(name), escape(f"Region: {desc}"))
    out_console.print(table)
    packs = ", ".join(api.packs())
    out_console.print(
        escape(f"Each policy pack also runs on the Nanjing world (sclab run NAME): {packs}; "
               "sclab packs describes them."),
        highlight=False,
    )  # fmt: skip


packs_app = typer.Typer(
    help="List the built-in policy packs, or show one (sclab packs show NAME).",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(packs_app, name="packs")


@packs_app.callback()
def packs_command(ctx: typer.Context) -> None:
    """List the built-in policy packs with one-line descriptions."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table(show_header=True)
    table.add_column("pack", style="bold")
    table.add_column("what it models")
    for name, title in api.packs().items():
        table.add_row(escape(name), escape(title))
    out_console.print(table)


@packs_app.command("show")
def packs_show(name: Annotated[str, typer.Argument(help="Pack name.")]) -> None:
    """Print a pack's YAML (copy it to a file, edit it, run it with sclab run FILE)."""
    sys.stdout.write(api.pack_text(name))


@app.command("check-policy")
def check_policy(
    policy: Annotated[str, typer.Argument(help="A policy YAML file or a built-in pack name.")],
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a verdict is this serious: prohibited, or needs-review "
            "(which includes prohibited).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the verdicts as JSON instead of tables.")
    ] = False,
) -> None:
    """Validate a policy (its kinds against sclab's own components), print what it
    defines and each rule's verdict under each clause (docs/legal.md), or one line saying
    what is wrong.

    Exit codes: 0 valid (whatever the verdicts say); 1 valid, but a verdict is as serious
    as --fail-on; 2 not valid (one line: file, line, field).
    """
    import json

    if fail_on is not None and fail_on not in ("prohibited", "needs-review"):
        raise typer.BadParameter(
            f"'{fail_on}'; expected prohibited or needs-review", param_hint="--fail-on"
        )
    check = api.check_policy(policy)
    if as_json:
        sys.stdout.write(json.dumps(check.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        if check.bundle is not None:
            out_console.print(f"{escape(check.bundle.id)}: {escape(check.bundle.title)}")
        for p in check.policies:
            _describe_policy(p)
            _print_verdicts(p, [v for v in check.verdicts if v.policy_id == p.id])
    if fail_on is not None and check.fails(fail_on):
        raise typer.Exit(1)


_VERDICT_STYLE = {
    "prohibited": "bold red",
    "needs review": "yellow",
    "permitted": "green",
    "not applicable": "dim",
}
_VERDICT_MARK = {"prohibited": "✗", "needs review": "?", "permitted": "✓", "not applicable": "·"}


def _print_verdicts(p: Policy, verdicts: list[Verdict]) -> None:
    """A matrix of rules × clauses, then the reason of every verdict that applies."""
    from sclab.legal import CLAUSES

    if not verdicts:
        out_console.print("no rules or measures to assess")
        return
    matrix = Table(title=f"{escape(p.id)}: the law, rule by rule", title_justify="left")
    matrix.add_column("rule", style="bold", overflow="fold")  # a rule id is never cut
    for c in CLAUSES:
        matrix.add_column(escape(c.short), justify="center")
    by_rule: dict[str, dict[str, Verdict]] = {}
    for v in verdicts:
        by_rule.setdefault(v.rule_id, {})[v.clause] = v
    for rule_id, row in by_rule.items():
        cells = [
            Text(_VERDICT_MARK[row[c.id].verdict], style=_VERDICT_STYLE[row[c.id].verdict])
            for c in CLAUSES
        ]
        matrix.add_row(escape(rule_id), *cells)
    out_console.print(matrix)
    legend = ", ".join(f"{_VERDICT_MARK[v]} {v}" for v in _VERDICT_MARK)
    columns = "; ".join(f"{c.short}: {c.label}" for c in CLAUSES)
    out_console.print(escape(f"{legend}. Columns: {columns} (docs/legal.md)."))
    reasons = Table(title="reasons", title_justify="left")
    for name in ("rule", "clause", "verdict", "reason"):
        reasons.add_column(name, overflow="fold")
    labels = {c.id: c.label for c in CLAUSES}
    for v in verdicts:
        if v.verdict != "not applicable":
            reasons.add_row(
                escape(v.rule_id),
                escape(labels[v.clause]),
                Text(v.verdict, style=_VERDICT_STYLE[v.verdict]),
                escape(v.reason),
            )
    out_console.print(reasons)


def _describe_policy(p: Policy) -> None:
    table = Table(
        title=f"{escape(p.id)}: {escape(p.title)}", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "participation", escape(f"{p.participation.mode} (share {p.participation.share})")
    )
    table.add_row("counters", escape(", ".join(c.id for c in p.counters) or "-"))
    table.add_row("scores", escape(", ".join(f"{s.id} ({s.type})" for s in p.scores) or "-"))
    table.add_row("lists", escape(", ".join(x.id for x in p.lists) or "-"))
    table.add_row("rules", escape(", ".join(r.id for r in p.rules) or "-"))
    table.add_row("joint measures", escape(", ".join(j.id for j in p.joint) or "-"))
    table.add_row("due process", "on" if p.due_process.enabled else "off")
    table.add_row("sources", str(len(p.sources)))
    out_console.print(table)
    out_console.print("valid")


@app.command()
def components() -> None:
    """List the sources, sensors, policies and behaviour a scenario can name."""
    table = Table(show_header=True)
    table.add_column("stage", style="bold")
    table.add_column("name", style="bold")
    table.add_column("what it does")
    for stage, named in api.components().items():
        for name, what in named.items():
            table.add_row(stage, escape(name), escape(what))
    out_console.print(table)


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="A run directory (sclab run --out).")],
    to: Annotated[Path, typer.Option("--to", help="The directory to write (a new one).")],
    format: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    tables: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated tables (default: every table of the run and its audit)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an earlier export in --to.")
    ] = False,
) -> None:
    """Write the tables of a run (and of its audit) as one Parquet or CSV file each, with
    a manifest.json listing them; never over a file sclab did not write."""
    chosen = [t.strip() for t in tables.split(",") if t.strip()] if tables else None
    paths = api.open_run(run_dir).export(to, format, chosen, force=force)
    _say(f"Exported {len(paths)} tables ({format}) to {to.resolve()}")


@app.command()
def bench(
    population: Annotated[
        list[int] | None, typer.Option(help="Population size(s) to measure (default: 9314700).")
    ] = None,
    days: Annotated[int, typer.Option(help="Days to simulate in each measurement.")] = 30,
    out: Annotated[Path, typer.Option(help="Where to put benchmark runs.")] = Path("bench-out"),
    repeat: Annotated[int, typer.Option(min=1, help="Repetitions per size.")] = 1,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Scenario(s) or pack(s) to run (default: nanjing and composite)."),
    ] = None,
    skip_memory_check: Annotated[
        bool,
        typer.Option(
            "--skip-memory-check",
            help="Measure even sizes estimated not to fit in available memory.",
        ),
    ] = False,
) -> None:
    """Measure time and peak memory of population generation and runs (see BENCHMARKS.md)."""
    from sclab.bench import run_benchmarks

    targets = tuple(scenario or ["nanjing", "composite"])
    sizes = population or [9_314_700]
    run_benchmarks(sizes, days, out, repeat, out_console, targets, not skip_memory_check)


def _click_exceptions() -> ModuleType:
    """Click's exception module: vendored inside recent Typer, a dependency of older ones."""
    try:
        from typer._click import exceptions
    except ImportError:  # Typer < 0.2x depends on click itself
        from click import exceptions  # type: ignore[no-redef]  # the same module, elsewhere
    return exceptions


def _error(message: str) -> None:
    """One line on stderr: ``error: message``, the message printed as it is (no markup)."""
    line = Text("error:", style="red")
    line.append(" " + " ".join(message.split()))
    console.print(line, highlight=False, soft_wrap=True)


class _Stopped(BaseException):
    """A signal (SIGINT, SIGTERM) asked sclab to stop.

    A BaseException, like KeyboardInterrupt, so that only cleanup code (``finally``,
    ``except BaseException`` that re-raises) sees it on its way to :func:`main`; not a
    KeyboardInterrupt, which Typer turns into a silent exit code.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The signals received (the first one decides the exit code).
_RECEIVED: list[int] = []


def _stop(signum: int, frame: object) -> None:
    # Later SIGINTs and SIGTERMs are ignored: the cleanup the first one started (removing
    # the unfinished run) must finish. SIGKILL still ends the process; the next run in
    # the same directory then removes what it left (sclab.store.output).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    _RECEIVED.append(signum)
    raise _Stopped(signum)


def _stopped(signum: int) -> None:
    name = signal.Signals(signum).name
    console.print(
        f"interrupted by {name}; an unfinished run was removed (one with a checkpoint "
        "is kept for sclab resume), any earlier one kept",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(128 + signum)


def _one_line_summaries(*apps: typer.Typer) -> None:
    """Give every command its docstring's first paragraph on one line as its summary.

    The commands list shows that paragraph, and in Typer's rich mode with its line breaks
    kept: docstrings wrapped at the code's width printed as ragged half-lines. A command's
    own ``--help`` is unchanged (Typer joins its lines there)."""
    for typer_app in apps:
        for info in typer_app.registered_commands:
            if info.short_help is None and info.help is None and info.callback is not None:
                first = inspect.cleandoc(info.callback.__doc__ or "").split("\n\n")[0]
                info.short_help = " ".join(first.split()) or None


_one_line_summaries(app, packs_app)


def main() -> None:
    """Console entry point: one line and exit 2 for bad input, 128 + the signal's number
    (130 for Ctrl-C, 143 for SIGTERM) when stopped by a signal."""
    click_errors = _click_exceptions()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        code = app(standalone_mode=False)
    except _Stopped as exc:
        _stopped(exc.signum)
    except SclabError as exc:
        _error(exc.one_line())
        sys.exit(exc.exit_code)
    except click_errors.NoArgsIsHelpError as exc:
        # Bare `sclab` (or a group without its command): the help is the answer, not an
        # error. Typer's Rich help has printed itself already; plain help is the message.
        message = exc.format_message()
        if message.strip():
            sys.stderr.write(message.rstrip() + "\n")
        sys.exit(0)
    except click_errors.UsageError as exc:
        _error(exc.format_message())
        sys.exit(2)
    except OSError as exc:
        # The operating system refusing a path the user gave (a name too long for the
        # file system, a read-only or vanished directory): their environment, not a bug.
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"{where}{exc.strerror or exc}")
        sys.exit(2)
    except (getattr(click_errors, "Abort", typer.Abort), typer.Abort):
        console.print("interrupted; nothing was written")
        sys.exit(130)
    except BaseException:
        # A library that met the signal inside its own code (DuckDB checks for signals
        # while it runs a query) may raise its own error instead of ours.
        if _RECEIVED:
            _stopped(_RECEIVED[0])
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
