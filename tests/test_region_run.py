"""A region's run: the same tables in one process and on 1, 2 and 4 Dask workers, news
that crosses city lines, and the command line's one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from conftest import run_cli
from sclab.api import run_region
from sclab.engine.events import EventLog
from sclab.errors import ScenarioError

# Four cities of the demo world (three Nanjing districts, then three cities as one
# district each); half of the companies are represented from another city, so that the
# court's warm start lists some of them before the run and the news crosses on day 0; in
# 90 days some of their representatives try to buy what the listing bars.
REGION = """\
name: four
seed: 11
days: 90
population: 6000
world: demo
national:
  - {use: pack, params: {pack: court-defaulters}}
  - {use: pack, params: {pack: corporate}}
cross_city: {legal_representatives: 0.5}
cities:
  - {code: 320100, name: Nanjing, population: 9314685, districts_from: demo}
  - {code: 320200, name: Wuxi, population: 7462135, urban_share: 0.763}
  - {code: 320500, name: Suzhou, population: 12748262, urban_share: 0.761}
  - {code: 321300, name: Suqian, population: 4986192, urban_share: 0.600}
"""


def _tables(directory: Path) -> dict[tuple[str, str], str]:
    """Every city's table hashes (run_info's creation time aside: it is the clock's)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    out: dict[tuple[str, str], str] = {}
    for city in manifest["cities"]:
        run = directory / city["directory"]
        tables = json.loads((run / "manifest.json").read_text())["files"]["run.duckdb"]["tables"]
        for table, entry in tables.items():
            if table != "run_info":
                out[(city["name"], table)] = entry["sha256"]
        con = duckdb.connect(str(run / "run.duckdb"), read_only=True)
        info = con.execute("SELECT * EXCLUDE (created_utc) FROM run_info").fetchall()
        out[(city["name"], "run_info")] = repr(info)
    return out


@pytest.fixture(scope="module")
def region_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("region") / "four.yaml"
    path.write_text(REGION)
    return path


@pytest.fixture(scope="module")
def one_process(region_file: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one") / "run"
    run_region(str(region_file), out=out)
    return out


@pytest.fixture(scope="module")
def month_in_one_process(region_file: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("month") / "run"
    run_region(str(region_file), out=out, days=30)
    return out


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_tables_do_not_depend_on_the_workers(
    region_file: Path, month_in_one_process: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "run"
    result = run_region(str(region_file), out=out, days=30, cluster=workers)
    assert result.workers == f"Dask LocalCluster, {workers} worker(s)"
    assert result.exchanged > 0  # the warm start's listings cross from day 0
    expected = _tables(month_in_one_process)
    assert len(expected) > 4 * 15
    assert _tables(out) == expected


def test_a_company_listed_in_one_city_restricts_its_representative_in_another(
    one_process: Path,
) -> None:
    manifest = json.loads((one_process / "manifest.json").read_text())
    assert manifest["exchanged"] > 0
    crossed = 0
    for city in manifest["cities"]:
        con = duckdb.connect(str(one_process / city["directory"] / "run.duckdb"), read_only=True)
        # Sanctions of this city resting on an event recorded in another city: only a
        # representative's, for a company listed there.
        rules = con.execute(
            "SELECT DISTINCT rule_id FROM sanctions WHERE event_id // ? <> ?",
            [EventLog.CITY_ID_STRIDE, city["index"]],
        ).fetchall()
        assert {r for (r,) in rules} <= {
            "representatives",
            "representatives_rail",
            "legal_representative",
            "legal_representative_rail",
        }
        crossed += len(rules)
        # A company represented from elsewhere has nobody here.
        none, total = con.execute(
            "SELECT count(*) FILTER (legal_rep_person_id IS NULL), count(*) FROM companies"
        ).fetchall()[0]
        assert 0 < none < total
    assert crossed > 0


def test_each_city_is_an_ordinary_run_directory(one_process: Path) -> None:
    from sclab.api import open_run

    manifest = json.loads((one_process / "manifest.json").read_text())
    assert [c["name"] for c in manifest["cities"]] == [
        "four.nanjing", "four.wuxi", "four.suzhou", "four.suqian",
    ]  # fmt: skip
    assert sum(c["people"] for c in manifest["cities"]) == 6000
    run = open_run(one_process / manifest["cities"][1]["directory"])
    people = run.sql("SELECT count(*) AS n FROM citizens").column("n")[0].as_py()
    assert people == manifest["cities"][1]["people"]


def test_the_command_line_runs_a_region_and_refuses_what_does_not_apply(
    region_file: Path, tmp_path: Path
) -> None:
    done = run_cli("run", region_file, "--days", "3", "--out", tmp_path / "r", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "4 cities" in done.stdout and "Output:" in done.stdout
    for args, message in [
        (("demo", "--cluster", "2"), "is one city"),
        ((region_file, "--cluster", "two"), "expected a number of workers"),
    ]:
        bad = run_cli("run", *args, "--out", tmp_path / "x", "--quiet")
        assert bad.returncode == 2, bad.stderr
        assert message in bad.stderr and "Traceback" not in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [({"days": 0}, "--days"), ({"population": 3}, "--population"), ({"cluster": 0}, "--cluster")],
)
def test_a_bad_option_is_refused_before_anything_runs(
    region_file: Path, tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        run_region(str(region_file), out=tmp_path / "x", **options)
    assert message in err.value.one_line()
    assert not (tmp_path / "x").exists()
