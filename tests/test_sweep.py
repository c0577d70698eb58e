"""``sclab sweep``: a grid of parameter values times replicates, run as Dask tasks, every run
audited and gathered into ``sweep.duckdb``; the grid file refused before any run; a
failed run reported while the others are gathered; the same tables whatever the number
of workers, on a local cluster or at a scheduler's address."""

from __future__ import annotations

import doctest
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from tests.test_bad_input import invoke, snapshot

import sclab
from sclab.api.sweeps import open_sweep

#: The demo's world with two systems that harm people even at 2,000 (the court list's
#: warm start and Rongcheng's points): every run has something to gather.
POLICIES = [
    {"use": "pack", "params": {"pack": "court-defaulters"}},
    {"use": "pack", "params": {"pack": "rongcheng"}},
]
#: A 2 x 2 grid: a number (DOUBLE) and an integer (BIGINT).
GRID = "records.misattribution_rate: [0.002, 0.05]\ndays: [12, 20]\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load(sclab.Scenario.load("demo").to_yaml())
    doc["policies"] = POLICIES
    doc["population"]["size"] = 2_000
    where = tmp_path_factory.mktemp("world")
    (where / "grid.yaml").write_text(GRID)
    path = where / "world.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def scheduler() -> Any:
    """A local cluster of two worker processes, reached by its address."""
    import logging

    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        memory_limit=0,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def _sweep_cli(world: Path, out: Path, *options: str | Path) -> Any:
    return invoke(
        "sweep", world, "--grid", world.parent / "grid.yaml", "--replicates", "2", "--out", out,
        *options,
    )  # fmt: skip


@pytest.fixture(scope="module")
def swept(world: Path, scheduler: str) -> tuple[Path, Any]:
    """The 2 x 2 grid, two replicates, at the scheduler's two workers."""
    out = world.parent / "sweep"
    return out, _sweep_cli(world, out, "--scheduler", scheduler)


def _rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path / "sweep.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def test_a_sweep_gathers_every_run_and_replicate(swept: tuple[Path, Any], world: Path) -> None:
    out, outcome = swept
    assert outcome.code == 0, outcome.stderr
    assert "Sweep: 8 runs (8 ran)" in outcome.stdout
    assert "8 runs on the Dask scheduler at tcp://" in outcome.stdout
    types = dict(_rows(out, "SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'metrics'"))  # fmt: skip
    assert types["records.misattribution_rate"] == "DOUBLE" and types["days"] == "BIGINT"
    runs = _rows(
        out,
        'SELECT run, directory, "records.misattribution_rate", days, replicate, seed, status '
        "FROM runs ORDER BY run",
    )
    assert [r[0] for r in runs] == list(range(1, 9))
    combos = {(rate, days, rep) for _, _, rate, days, rep, _, _ in runs}
    assert combos == {(a, d, r) for a in (0.002, 0.05) for d in (12, 20) for r in (1, 2)}
    for _, directory, rate, days, rep, seed, status in runs:
        assert status == "ran" and seed == 20190708 + rep - 1
        run = sclab.open(out / directory)  # an ordinary run directory, audited
        spec = run.scenario.spec
        records = next(s for s in spec.sensors if s.use == "records")
        assert (spec.days, spec.seed, records.params["misattribution_rate"]) == (days, seed, rate)
        assert (out / directory / "audit.duckdb").is_file()
    # Every run has every metric once, with its parameters beside it.
    per_run = _rows(out, "SELECT run, count(*), count(DISTINCT metric) FROM metrics GROUP BY run")
    assert len(per_run) == 8 and len({n for _, n, _ in per_run}) == 1
    assert all(n == d for _, n, d in per_run)
    mismatched = _rows(
        out,
        'SELECT count(*) FROM metrics m JOIN runs r USING (run) WHERE m."days" <> r."days" '
        "OR m.seed <> r.seed OR m.replicate <> r.replicate",
    )
    assert mismatched == [(0,)]
    # Linking 25 times as many records to a namesake names more people wrongly, at each
    # length and replicate (thousands of records: the difference is far above noise).
    error = dict(
        ((rate, days, rep), v)
        for rate, days, rep, v in _rows(
            out,
            'SELECT "records.misattribution_rate", days, replicate, value FROM metrics '
            "WHERE metric = 'class.error.people'",
        )
    )
    for days in (12, 20):
        for rep in (1, 2):
            assert error[(0.05, days, rep)] > error[(0.002, days, rep)]


def test_a_sweep_opens_as_tables_runs_summaries_and_charts(swept: tuple[Path, Any]) -> None:
    out, _ = swept
    sw = sclab.open_sweep(out)
    assert sw.parameters == ["records.misattribution_rate", "days"]
    summary = sw.summary("class.error.people").to_pylist()
    assert len(summary) == 4 and all(r["replicates"] == 2 for r in summary)
    assert all(r["low"] <= r["mean"] <= r["high"] for r in summary)
    values = {
        (r[0], r[1]): r[2]
        for r in _rows(out, 'SELECT "records.misattribution_rate", days, avg(value) FROM '
                            "metrics WHERE metric = 'class.error.people' GROUP BY ALL")
    }  # fmt: skip
    for r in summary:
        assert r["mean"] == pytest.approx(values[(r["records.misattribution_rate"], r["days"])])
    assert sw.run(3).directory == out / sw.runs[2]
    spec = sw.chart("class.error.people").to_dict()
    assert spec["layer"][0]["encoding"]["x"]["title"] == "records.misattribution_rate"
    with pytest.raises(sclab.api.sweeps.UnknownMetricError, match="did you mean"):
        sw.summary("class.eror.people")


def test_a_sweep_reports_its_headline_across_the_grid(
    swept: tuple[Path, Any], tmp_path: Path
) -> None:
    from sclab.report import ReportError
    from sclab.report.html import SIGNATURE

    out, _ = swept
    sw = sclab.open_sweep(out)
    done = invoke("report", out)
    assert done.code == 0, done.stderr
    path = out / "report.html"
    text = path.read_text()
    assert SIGNATURE in text and "chart-sweep-class-error-people" in text
    # Every grid point in the charts' numbers, every run in the runs' table.
    assert text.count("records.misattribution_rate=0.05, days=20") >= 2
    assert all(f'<td class="n">{n}</td>' in text for n in range(1, 9))
    assert sw.report() == path  # its own report is replaced
    foreign = tmp_path / "mine.html"
    foreign.write_text("<html>mine</html>")
    with pytest.raises(ReportError, match="not an sclab report"):
        sw.report(foreign)
    assert foreign.read_text() == "<html>mine</html>"
    bad = invoke("report", out, "--compare", out / sw.runs[0])
    assert bad.code == 2 and "--compare" in bad.error_line()


def test_a_rerun_reuses_the_finished_runs_and_refuses_another_sweep(
    swept: tuple[Path, Any], world: Path, scheduler: str
) -> None:
    out, _ = swept
    before = _rows(out, "SELECT * FROM metrics ORDER BY run, metric")
    files = {p for p in snapshot(out) if "sweep." not in p}
    again = _sweep_cli(world, out, "--scheduler", scheduler)
    assert again.code == 0, again.stderr
    assert "Sweep: 8 runs (8 reused)" in again.stdout
    assert _rows(out, "SELECT * FROM metrics ORDER BY run, metric") == before
    assert {p for p in snapshot(out) if "sweep." not in p} == files
    # Another grid (or replicates) into the same directory: refused, nothing touched.
    other = world.parent / "other.yaml"
    other.write_text("days: [12, 20]\n")
    state = snapshot(out)
    refused = invoke("sweep", world, "--grid", other, "--out", out)
    assert refused.code == 2
    assert "holds another sweep (a different grid" in refused.error_line()
    assert snapshot(out) == state


BAD_GRIDS = [
    ("unknown-path", "cameras.captur: [0.1]\n", "grid.yaml:1: cameras.captur: unknown parameter"),
    ("wrong-type", "days: [12, twelve]\n", "grid.yaml:1: days: expected a valid integer"),
    ("empty-list", "days: []\n", "grid.yaml:1: days: expected at least one value"),
    ("not-a-mapping", "- days\n- 12\n", "grid.yaml:1: expected a mapping of parameter paths"),
    ("not-a-list", "days: 12\n", "grid.yaml:1: days: expected a list of values, e.g. [12]"),
    ("a-mapping-value", "days:\n  - {a: 1}\n", "grid.yaml:2: days: expected a number"),
    ("seed", "seed: [1, 2]\n", "grid.yaml:1: seed: seeds are not a grid parameter"),
    (
        "last-point-refused",
        "records.misattribution_rate: [0.002, 0.01]\ndays:\n  - 12\n  - 0\n",
        "grid.yaml:4: days: expected",
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), BAD_GRIDS, ids=[b[0] for b in BAD_GRIDS])
def test_a_bad_grid_is_one_line_and_starts_no_run(
    name: str, text: str, expected: str, world: Path, tmp_path: Path
) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text(text)
    outcome = invoke("sweep", world, "--grid", grid, "--out", tmp_path / "out", cwd=tmp_path)
    assert outcome.code == 2
    line = outcome.error_line()
    assert line.startswith("error: ") and expected in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers: the local cluster's"),
        (["--workers", "64", "--population", "2000000"], "--workers: 64 runs at once need"),
    ],
    ids=["workers-with-a-scheduler", "more-workers-than-memory-holds"],
)
def test_cluster_options_are_refused_before_any_run(
    options: list[str], expected: str, world: Path, tmp_path: Path
) -> None:
    from sclab.feasibility import available_memory_bytes

    if "64" in options and (available_memory_bytes() or 0) > 64 * 2**30:
        pytest.skip("this machine could hold 64 runs of 2,000,000 people at once")
    outcome = invoke(
        "sweep", world, "--grid", world.parent / "grid.yaml", "--out", tmp_path / "out", *options
    )
    assert outcome.code == 2
    assert expected in outcome.error_line()
    assert not (tmp_path / "out").exists()


def test_one_local_worker_gives_the_runs_two_workers_gave(
    swept: tuple[Path, Any], world: Path
) -> None:
    """The same runs (a part of the grid) on a local cluster of one process: the same
    metrics, to the last digit."""
    out, _ = swept
    grid = world.parent / "part.yaml"
    grid.write_text("records.misattribution_rate: [0.002, 0.05]\ndays: [12]\n")
    alone = sclab.sweep(world, grid, out=world.parent / "one-worker", workers=1)
    assert _rows(alone.directory, "SELECT DISTINCT status FROM runs") == [("ran",)]
    point = '"records.misattribution_rate", days, replicate, seed'
    mine = _rows(alone.directory, f"SELECT {point}, metric, value FROM metrics ORDER BY ALL")
    theirs = _rows(
        out,
        f"SELECT {point}, metric, value FROM metrics WHERE days = 12 AND replicate = 1 "
        "ORDER BY ALL",
    )
    assert len(mine) > 100
    # The two-worker sweep also has the metrics only its 20-day runs produced: zeros here.
    names = {m[4] for m in mine}
    assert [t for t in theirs if t[4] in names] == mine
    assert all(t[5] == 0 for t in theirs if t[4] not in names)


def test_a_failed_run_is_reported_and_the_others_gathered(tmp_path: Path, scheduler: str) -> None:
    from sclab.feasibility import available_memory_bytes, estimate_peak_bytes

    # A run the memory check refuses on its worker (the client checks memory only for a
    # local cluster: a scheduler's workers are other machines).
    huge = 50_000_000
    need = estimate_peak_bytes(sclab.Scenario.load("court-defaulters", population=huge).spec)
    available = available_memory_bytes()
    if available is None or need < 1.5 * available:
        pytest.skip("this machine could hold the run meant to be refused")
    grid = tmp_path / "grid.yaml"
    grid.write_text(f"pack.pack: [court-defaulters, nanjing]\npopulation.size: [2000, {huge}]\n")
    out = tmp_path / "sweep"
    outcome = invoke(
        "sweep", "court-defaulters", "--grid", grid, "--days", "10", "--out", out,
        "--scheduler", scheduler,
    )  # fmt: skip
    assert outcome.code == 1, outcome.stderr
    failures = [ln for ln in outcome.stderr.splitlines() if ln.startswith("failed:")]
    assert len(failures) == 2 and all("memory" in ln for ln in failures), outcome.stderr
    assert "Traceback" not in outcome.stderr
    runs = _rows(out, 'SELECT run, "pack.pack", "population.size", status, error FROM runs')
    assert [(r[0], r[3]) for r in sorted(runs)] == [
        (1, "ran"), (2, "failed"), (3, "ran"), (4, "failed")
    ]  # fmt: skip
    assert all("population.size" in r[4] for r in runs if r[3] == "failed")
    assert _rows(out, "SELECT DISTINCT run FROM metrics ORDER BY run") == [(1,), (3,)]
    assert not any((out / d).exists() for (d,) in _rows(
        out, "SELECT directory FROM runs WHERE status = 'failed'"
    ))  # fmt: skip
    # Runs of the same world under other policies: sclab compare reads them as any runs.
    a, b = (out / d for (d,) in _rows(out, "SELECT directory FROM runs WHERE run IN (1, 3) "
                                           "ORDER BY run"))  # fmt: skip
    compared = invoke("compare", a, b, "--json")
    assert compared.code == 0, compared.stderr
    assert '"effects"' in compared.stdout


def test_open_sweep_refuses_a_directory_without_a_sweep(tmp_path: Path) -> None:
    with pytest.raises(sclab.api.sweeps.NotASweepError, match="not a finished sweep"):
        open_sweep(tmp_path)


# ----------------------------------------------------------------------------- docstrings

_MADE: dict[str, Path] = {}


def test_the_examples_in_the_docstrings_run(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module's examples; a sweep (or run) asked for again is a copy of the first."""
    import importlib
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made_in = tmp_path_factory.getbasetemp() / "sweep-examples"
    made_in.mkdir(exist_ok=True)
    real_sweep, real_simulate = sclab.sweep, sclab.simulate

    def sweep_once(scenario: Any, grid: Any, *, out: Any, **kwargs: Any) -> sclab.Sweep:
        key = repr(("sweep", scenario, Path(grid).read_text(), sorted(kwargs.items())))
        if key not in _MADE:
            _MADE[key] = real_sweep(
                scenario, grid, out=made_in / f"made-{len(_MADE)}", **kwargs
            ).directory
        shutil.copytree(_MADE[key], out)
        return sclab.open_sweep(out)

    def simulate_once(name: str, *, out: Any, **kwargs: Any) -> sclab.Run:
        key = repr(("run", name, sorted(kwargs.items())))
        if key not in _MADE:
            _MADE[key] = real_simulate(name, out=made_in / f"made-{len(_MADE)}", **kwargs).directory
        shutil.copytree(_MADE[key], out)
        return sclab.open(out)

    monkeypatch.setattr(sclab, "sweep", sweep_once)
    monkeypatch.setattr(sclab, "simulate", simulate_once)
    for module in ("sclab.api.sweeps", "sclab.api.grid"):
        mod = importlib.import_module(module)
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        result = doctest.testmod(mod, optionflags=flags, verbose=False, report=True)
        assert result.failed == 0


def test_the_grid_of_the_docs_plans_its_24_runs() -> None:
    """docs/sweep.md's sensitivity example: 2 capture x 4 matcher presets x 3 replicates,
    every point's scenario valid (nothing run)."""
    from sclab.api.grid import plan, read_grid

    base = sclab.Scenario.load("nanjing", population=500_000).spec
    grid = Path(__file__).resolve().parents[1] / "docs" / "grids" / "nanjing-presets.yaml"
    runs = plan(read_grid(grid, base), base, 3)
    assert len(runs) == 24 and runs[-1].name == "24-shenzhen-first-day_mugshot-grade_r3"
    cameras = [next(s for s in r.spec.sensors if s.use == "cameras").params for r in runs]
    assert {(c["capture_preset"], c["matcher"]["preset"]) for c in cameras} == {
        (capture, matcher)
        for capture in ("futian-busiest", "shenzhen-first-day")
        for matcher in (
            "field-south-wales-2017", "field-met-2019", "surveillance-nist-2019", "mugshot-grade"
        )
    }  # fmt: skip
