"""Calibration as data: the published figures, their simulated counterparts, verdicts and
``sclab calibrate``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import run_cli
from tests.test_scenario_errors import assert_one_line_error

from sclab.calibration import METRICS, calibrate, load_figures
from sclab.calibration.figures import package_figures_path
from sclab.calibration.table import RunFacts, scale, verdict
from sclab.cli import _number
from sclab.errors import SclabError
from sclab.run import run_scenario
from sclab.targets import load_run_target


def test_every_figure_has_a_source_a_population_and_an_existing_metric() -> None:
    figures = load_figures()
    assert len({f.id for f in figures}) == len(figures)
    assert {f.role for f in figures} == {"calibration", "validation", "informational"}
    for f in figures:
        assert f.source.publication.strip() and f.source.date <= f.date.replace(
            year=f.date.year + 2
        )
        assert f.compare.metric in METRICS
        if f.role == "informational":  # nothing published: no value, no population
            assert f.value is None and f.compare.scaling == "as_is"
            continue
        assert f.population is not None
        assert f.population.description.strip() and f.population.size > 0
        if f.compare.scaling.endswith("_period"):
            assert f.period is not None and f.period.days >= 1


def test_the_figures_the_sources_cite_are_there() -> None:
    values = {f.id: f.value for f in load_figures()}
    assert values["spc_2018_flight_blocks"] == 17_460_000
    assert values["spc_2018_rail_blocks"] == 5_470_000
    assert values["spc_2018_listings"] == 12_880_000
    assert values["spc_2018_performed"] == 3_510_000
    assert values["shenzhen_2018_first_day"] == 58


def _figure_file(tmp_path: Path, edit) -> Path:
    doc = yaml.safe_load(package_figures_path().read_text(encoding="utf-8"))
    edit(doc["figures"][1])
    path = tmp_path / "figures.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (lambda f: f["compare"].update(metric="nope"), ["figures[1].compare.metric", "nope"]),
        (lambda f: f.pop("source"), ["figures[1]", "source"]),
        (lambda f: f["compare"].update(scaling="per_dog"), ["scaling", "per_capita"]),
        (lambda f: f.update(tolerance=[2, 3]), ["tolerance"]),
        (lambda f: f.update(period={"start": "2018-01-02", "end": "2018-01-01"}), ["period"]),
    ],
)
def test_a_bad_figure_is_one_line_with_its_place(tmp_path: Path, edit, needles) -> None:
    path = _figure_file(tmp_path, edit)
    with pytest.raises(SclabError) as err:
        load_figures(path)
    line = err.value.one_line()
    assert line.startswith(f"{path}:") and "\n" not in line
    for needle in needles:
        assert needle in line, line


@given(
    raw=st.floats(0, 1e7),
    people=st.integers(1_000, 10_000_000),
    days=st.integers(1, 3650),
    k=st.integers(2, 10),
)
def test_flows_scale_with_the_population_and_period(raw, people, days, k) -> None:
    figure = next(f for f in load_figures() if f.compare.scaling == "per_capita_period")
    one = scale(raw, figure, RunFacts("x", people, days))
    # The same count in k times the people over k times the days is 1/k^2 of the rate.
    assert scale(raw, figure, RunFacts("x", people * k, days * k)) == pytest.approx(one / k**2)
    assert scale(raw * k, figure, RunFacts("x", people, days)) == pytest.approx(one * k)


@given(
    ratio=st.floats(0, 100, allow_nan=False),
    low=st.floats(0.01, 1),
    high=st.floats(1, 20),
)
def test_verdict_is_the_tolerance_band(ratio, low, high) -> None:
    got = verdict(ratio, (low, high))
    assert got == ("too low" if ratio < low else "too high" if ratio > high else "matches")
    assert verdict(None, (low, high)) == "not comparable"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five systems over 4,000 people for 30 days, cameras dense enough to capture."""
    scenario = load_run_target("demo", {"--population": 4000, "--days": 30, "--seed": 3})
    out = tmp_path_factory.mktemp("runs") / "demo"
    run_scenario(scenario, out)
    return out


def _tree_digest(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_calibrate_scales_what_the_run_recorded(demo_run: Path) -> None:
    before = _tree_digest(demo_run)
    table = calibrate(demo_run)
    assert _tree_digest(demo_run) == before  # reads only
    rows = {r.figure: r for r in table.rows}
    con = duckdb.connect(str(demo_run / "run.duckdb"), read_only=True)
    try:
        blocks = con.execute(
            "SELECT count(*) FROM resource_moments m WHERE kind = 'flight_ticket' "
            "AND outcome = 'blocked'"
        ).fetchall()[0][0]
    finally:
        con.close()
    flights = rows["spc_2018_flight_blocks"]
    figure = next(f for f in load_figures() if f.id == flights.figure)
    assert figure.period is not None
    # Only the court list blocks flights in the five systems' default packs.
    expected = blocks * 1_395_380_000 / 4000 * figure.period.days / 30
    assert flights.raw == blocks and flights.simulated == pytest.approx(expected)
    assert flights.ratio == pytest.approx(expected / 17_460_000)
    assert flights.verdict == verdict(flights.ratio, figure.tolerance)
    # Every figure is comparable, but the ratio of flight to rail blocks where the run
    # blocked no rail ticket (few listed people over 30 days).
    ratios = {r.figure for r in table.rows if r.figure.endswith("flight_to_rail")}
    assert ratios == {"spc_2018_flight_to_rail", "spc_2017_flight_to_rail"}
    assert {r.verdict for r in table.rows if r.figure not in ratios} <= {
        "matches",
        "too high",
        "too low",
        "no published figure",
    }
    assert {r.role for r in table.role("validation")} == {"validation"}


def test_a_run_without_the_mechanism_is_not_comparable(tmp_path: Path) -> None:
    scenario = load_run_target("nanjing", {"--population": 2000, "--days": 3, "--seed": 1})
    run_scenario(scenario, tmp_path / "nj")
    rows = {r.figure: r for r in calibrate(tmp_path / "nj").rows}
    court = rows["spc_2018_listings"]
    assert court.verdict == "not comparable" and court.simulated is None
    assert "court-defaulters" in court.note


def test_cli_prints_both_tables_and_json(demo_run: Path) -> None:
    proc = run_cli("calibrate", demo_run)
    assert proc.returncode == 0, proc.stderr
    assert "Calibration" in proc.stdout and "Validation" in proc.stdout
    assert proc.stdout.index("Calibration") < proc.stdout.index("Validation")
    js = run_cli("calibrate", demo_run, "--json")
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert data["run"] == {"scenario": "demo", "population": 4000, "days": 30}
    # Printed to a pipe (80 columns), nothing is cut: every published figure is there whole.
    assert "…" not in proc.stdout
    for r in data["calibration"] + data["validation"]:
        if r["published"] is not None:
            assert _number(r["published"]) in proc.stdout
    ids = [r["figure"] for r in data["calibration"] + data["validation"] + data["informational"]]
    assert sorted(ids) == sorted(f.id for f in load_figures())
    assert all(r["published"] is None for r in data["informational"])
    assert all(r["role"] == "validation" for r in data["validation"])


def test_cli_on_something_that_is_not_a_run(tmp_path: Path) -> None:
    assert_one_line_error(run_cli("calibrate", tmp_path / "nowhere"), "run.duckdb")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "run.duckdb").write_text("not a database", encoding="utf-8")
    assert_one_line_error(run_cli("calibrate", tmp_path / "fake"), "run.duckdb")


def test_cli_with_another_figures_file(demo_run: Path, tmp_path: Path) -> None:
    path = _figure_file(tmp_path, lambda f: f.update(id="my_figure", value=1.0))
    js = run_cli("calibrate", demo_run, "--json", "--figures", path)
    assert js.returncode == 0, js.stderr
    data = json.loads(js.stdout)
    assert "my_figure" in [r["figure"] for r in data["calibration"] + data["validation"]]
    bad = _figure_file(tmp_path, lambda f: f["compare"].update(metric="nope"))
    assert_one_line_error(run_cli("calibrate", demo_run, "--figures", bad), str(bad), "nope")
