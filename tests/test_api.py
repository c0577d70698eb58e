"""The Python API (docs/api.md): scenarios with overrides, runs as objects, the analyses,
export, and the command line as a layer over it."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.conftest import run_cli

import sclab
from sclab.api import OverrideError, Scenario
from sclab.api.frames import FrameError
from sclab.api.runs import UnknownTableError
from sclab.errors import OutputError, ScenarioError, SclabError
from sclab.store.manifest import Manifest
from sclab.store.schema import DESCRIPTIVE_TABLES

SMALL = {"population": 2_000, "days": 10, "seed": 3}


@pytest.fixture(scope="module")
def composite(tmp_path_factory: pytest.TempPathFactory) -> sclab.Run:
    """A small composite run with its twin, made through the API."""
    out = tmp_path_factory.mktemp("api") / "composite"
    return sclab.simulate("composite", **SMALL, out=out, twin="none")


# ----------------------------------------------------------------------------- overrides


def test_path_overrides_reach_fields_and_component_parameters() -> None:
    s = Scenario.load(
        "demo",
        population=2_000,
        overrides={
            "cameras.capture": 0.01,
            "social_graph.degree.mean": 8,
            "cameras.matcher.preset": "surveillance-grade",
        },
    )
    cameras = next(c for c in s.spec.sensors if c.use == "cameras")
    assert cameras.params["capture"] == 0.01
    assert cameras.params["matcher"]["preset"] == "surveillance-grade"
    assert s.spec.social_graph.degree.mean == 8
    assert s.population == 2_000
    # Untouched fields stay the very objects they were (no redrawn shares).
    base = Scenario.load("demo", population=2_000)
    assert s.spec.geography == base.spec.geography
    assert s.spec.population == base.spec.population


@pytest.mark.parametrize(
    ("path", "value", "names"),
    [
        ("cameras.captur", 0.1, ["cameras.captur", "unknown parameter 'captur'", "capture"]),
        ("camerass.capture", 0.1, ["camerass.capture", "no component 'camerass'", "cameras"]),
        ("population.sise", 10, ["population.sise", "unknown parameter 'sise'", "size"]),
        ("cameras.capture", 2.0, ["cameras.capture", "1"]),
        ("population.size", -5, ["population.size", "0"]),
        ("pack.pack", "sesame", ["pack.pack", "listed 5 times", "policies.0.params"]),
        ("cameras", 1, ["cameras", "expected one of", "capture"]),
    ],
)
def test_a_bad_override_is_one_exception_naming_its_path(
    path: str, value: object, names: list[str]
) -> None:
    with pytest.raises(OverrideError) as caught:
        Scenario.load("composite", population=2_000, overrides={path: value})
    line = str(caught.value)
    assert "\n" not in line and line.startswith(f"overrides: {path}: ")
    for name in names:
        assert name in line, line
    assert caught.value.field == path


def test_keyword_overrides_are_refused_as_the_command_line_refuses_them() -> None:
    with pytest.raises(ScenarioError) as caught:
        Scenario.load("demo", population=0)
    done = run_cli("run", "demo", "--population", "0")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {caught.value.one_line()}"


def test_other_policies_keep_the_world() -> None:
    s = Scenario.load("demo", population=2_000)
    other = s.with_policies("rongcheng")
    assert other.policies[0] == "rongcheng" and "court-defaulters" in other.policies
    assert other.spec.population is s.spec.population
    assert s.with_policies().policies == []
    with pytest.raises(SclabError, match="expected a policy pack or a policy file"):
        s.with_policies("atlantis")


# ----------------------------------------------------------------------------- a run


def test_the_api_and_the_command_line_make_identical_tables(
    composite: sclab.Run, tmp_path: Path
) -> None:
    out = tmp_path / "cli"
    done = run_cli("run", "composite", "--population", "2000", "--days", "10", "--seed", "3",
                   "--twin", "none", "--out", out, "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for sub in ("", "twin"):
        api_hashes = Manifest.read(composite.directory / sub).table_hashes()
        cli_hashes = Manifest.read(out / sub).table_hashes()
        # run_info says when each was made: every other table holds the same rows.
        for name in DESCRIPTIVE_TABLES:
            api_hashes.pop(name), cli_hashes.pop(name)
        assert api_hashes == cli_hashes and len(api_hashes) > 15
    for name in ("effects", "effects_summary"):
        a = duckdb.connect(str(composite.directory / "effects.duckdb"), read_only=True)
        b = duckdb.connect(str(out / "effects.duckdb"), read_only=True)
        query = f"SELECT * FROM {name} ORDER BY ALL"
        # repr: the intervals of one replicate are NaN, which equals nothing.
        assert repr(a.execute(query).fetchall()) == repr(b.execute(query).fetchall())
        a.close()
        b.close()


def test_a_run_reads_as_tables_and_sql(composite: sclab.Run) -> None:
    run = sclab.open(composite.directory)
    assert run.scenario.name == "composite" and run.scenario.population == 2_000
    assert set(run.policies) >= {"sesame", "rongcheng", "court-defaulters"}
    assert run.manifest.info["population"] == 2_000
    people = run.table("citizens")
    assert people.num_rows == 2_000
    frame = run.table("citizens", as_="pandas")
    assert list(frame.columns) == people.column_names
    counted = run.sql("SELECT count(*) AS n FROM citizens WHERE sex = ?", ["F"], as_="pandas")
    assert int(counted["n"][0]) == int((frame["sex"] == "F").sum())
    with pytest.raises(UnknownTableError, match=r"expected one of: .*citizens"):
        run.table("citizen")
    with pytest.raises(FrameError, match=r"pip install polars|expected one of"):
        run.table("run_info", as_="polars" if "polars" not in sys.modules else "excel")


def test_polars_is_asked_for_in_one_line_when_missing(
    composite: sclab.Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "polars", None)  # as if not installed
    with pytest.raises(FrameError) as caught:
        composite.table("run_info", as_="polars")
    assert caught.value.one_line() == (
        "as_: Polars is not installed; `pip install polars` to get Polars frames"
    )


def test_open_refuses_what_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(SclabError, match="no such directory"):
        sclab.open(tmp_path / "nowhere")
    with pytest.raises(SclabError, match="is not an sclab run"):
        sclab.open(tmp_path)


def test_the_analyses_return_data_and_the_reports_charts(composite: sclab.Run) -> None:
    audit = composite.audit()
    assert audit.result.harm.num_rows == 4
    assert (composite.directory / "audit.duckdb").is_file()  # saved, in the manifest
    assert "audit.duckdb" in composite.manifest.files
    assert list(audit.charts) == ["chart-headline", "chart-law"]
    spec = audit.charts["chart-headline"].to_dict()
    assert spec["mark"]["type"] == "bar" if isinstance(spec["mark"], dict) else spec["mark"]
    assert "harm_by_class" in composite.tables
    classes = composite.sql("SELECT class, people FROM audit.harm_by_class", as_="pandas")
    assert classes["people"].sum() > 0

    fair = composite.fairness(by=["migrant", "sex"])
    assert set(fair.result["grouping"]) == {"sex x migrant"}
    decisions = fair.table("fairness_decisions").to_pylist()
    named = [d for d in decisions if d["recipients"]]
    assert len(fair.charts) == len(named) > 0
    first = fair.charts["chart-fairness-0"].to_dict()
    (values,) = first["datasets"].values()  # Altair moves inline data here
    groups = {r["group"] for r in values}
    assert groups and all(g.startswith("sex: ") and " / migrant: " in g for g in groups)
    with pytest.raises(SclabError, match="expected one or two distinct attributes"):
        composite.fairness(by="gender")

    calibration = composite.calibrate()
    assert calibration.table().num_rows == len(calibration.result.rows)
    assert set(calibration.charts) <= {"chart-calibration"}

    effects = composite.compare(composite.directory / "twin")
    assert {"chilling", "deterrence"} <= set(effects.table(as_="pandas")["effect"])
    assert all(c.startswith("chart-effects-") for c in effects.charts)
    bundle = effects._repr_mimebundle_()
    assert bundle  # drawn by Altair in a notebook


def test_explain_tells_the_story_of_the_command_line(composite: sclab.Run) -> None:
    story = composite.explain(person=1)
    assert story.result.entity_id == 1 and story.result.faithful
    assert story.table().num_rows == len(story.result.rows)
    done = run_cli("explain", composite.directory, "--person", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(story.result.to_json()))


def test_a_story_charts_the_scores_it_tables(composite: sclab.Run) -> None:
    changed = composite.sql(
        "SELECT entity_id, count(*) AS n FROM score_changes WHERE entity_type = 'person' "
        "GROUP BY ALL ORDER BY n DESC, entity_id LIMIT 1"
    ).to_pylist()[0]
    story = composite.explain(person=changed["entity_id"], reproduce_acts=False)
    scores = story.table("scores").to_pylist()
    assert len(scores) == changed["n"]
    assert [r["delta"] for r in scores if r["delta"] is not None]
    (chart,) = story.charts.values()
    (values,) = chart.to_dict()["datasets"].values()
    assert [(v["day"], v["value"]) for v in values] == [(r["day"], r["value"]) for r in scores]
    nobody = composite.explain(company=1, reproduce_acts=False)
    if nobody.table("scores").num_rows == 0:
        assert nobody.charts == {}
        assert "text/html" in nobody._repr_mimebundle_()  # its story, as a table


def test_the_command_line_audit_is_the_apis(composite: sclab.Run) -> None:
    done = run_cli("audit", composite.directory, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == composite.audit().result.summary()


def test_report_and_charts_of_a_run(composite: sclab.Run) -> None:
    path = composite.report()
    assert path == composite.directory / "report.html" and path.stat().st_size > 100_000
    charts = composite.charts()
    assert "chart-headline" in charts and any(c.startswith("chart-effects-") for c in charts)
    assert list(composite.charts("law")) == ["chart-law"]


# ----------------------------------------------------------------------------- export


def test_export_writes_each_table_and_the_cli_does_the_same(
    composite: sclab.Run, tmp_path: Path
) -> None:
    composite.audit()
    paths = composite.export(tmp_path / "pq", tables=["citizens", "harm_by_class"])
    assert [p.name for p in paths] == ["citizens.parquet", "harm_by_class.parquet"]
    assert pq.read_table(paths[0]).num_rows == 2_000
    assert pq.read_table(paths[1]).to_pylist() == composite.table("harm_by_class").to_pylist()
    done = run_cli("export", composite.directory, "--to", tmp_path / "csv", "--format", "csv",
                   "--tables", "citizens,run_info")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "citizens.csv", "manifest.json", "run_info.csv"
    ]  # fmt: skip
    header = (tmp_path / "csv" / "citizens.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == composite.table("citizens").column_names
    # Again: refused without --force, replaced with it.
    again = run_cli("export", composite.directory, "--to", tmp_path / "csv", "--format", "csv")
    assert again.returncode == 2 and "--force" in again.stderr
    forced = composite.export(tmp_path / "csv", "csv", ["run_info"], force=True)
    assert [p.name for p in (tmp_path / "csv").iterdir() if p.suffix == ".csv"] == ["run_info.csv"]
    assert forced == [tmp_path / "csv" / "run_info.csv"]


def test_export_never_writes_over_a_file_sclab_did_not_write(
    composite: sclab.Run, tmp_path: Path
) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "thesis.txt").write_text("three years of work", encoding="utf-8")
    with pytest.raises(OutputError, match=r"thesis\.txt"):
        composite.export(target, tables=["run_info"], force=True)
    assert (target / "thesis.txt").read_text(encoding="utf-8") == "three years of work"
    assert sorted(p.name for p in target.iterdir()) == ["thesis.txt"]


def test_export_refuses_unknown_tables_and_formats(composite: sclab.Run, tmp_path: Path) -> None:
    with pytest.raises(UnknownTableError, match="no table 'citizen'"):
        composite.export(tmp_path / "x", tables=["citizen"])
    done = run_cli("export", composite.directory, "--to", tmp_path / "y", "--format", "xlsx")
    assert done.returncode == 2
    assert done.stderr.strip() == "error: format: expected parquet or csv (got 'xlsx')"
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# ----------------------------------------------------------------------------- policies


def test_check_policy_is_what_the_command_line_prints() -> None:
    check = sclab.check_policy("nanjing")
    done = run_cli("check-policy", "nanjing", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(json.dumps(check.to_json(), ensure_ascii=False))
    assert check.fails("needs-review") == (check.worst in ("prohibited", "needs review"))


# ----------------------------------------------------------------------------- docstrings

API_MODULES = [
    "scenario",
    "runs",
    "frames",
    "charts",
    "catalogue",
    "overrides",
    "export",
    "region",
]


def _public_callables() -> list[tuple[str, object]]:
    """Every public function of the API and every public method of its classes."""
    import inspect

    import sclab.api

    out = []
    for name in sclab.api.__all__:
        obj = getattr(sclab.api, name)
        if inspect.isfunction(obj):
            out.append((name, obj))
        elif inspect.isclass(obj) and not issubclass(obj, Exception):
            if obj is sclab.api.RunObserver:
                out.append((name, obj))  # its methods are hooks to override
                continue
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and (
                    inspect.isfunction(member) or isinstance(member, classmethod)
                ):
                    out.append((f"{name}.{attr}", member))
    return out


def test_every_public_function_has_a_runnable_example() -> None:
    missing = [name for name, obj in _public_callables() if ">>>" not in (obj.__doc__ or "")]
    assert missing == []


#: Runs the examples made, by their arguments: an example that asks for a run made
#: already gets a copy of it (the same inputs give the same tables), so that the
#: examples cost a few runs, not one each.
_MADE: dict[str, Path] = {}


def _simulate_once(simulate: Callable[..., sclab.Run], made_in: Path) -> Callable[..., sclab.Run]:
    import shutil

    def simulate_or_copy(name: str, *, out: str | Path, **kwargs: Any) -> sclab.Run:
        key = repr((name, sorted(kwargs.items())))
        if key not in _MADE:
            _MADE[key] = simulate(name, out=made_in / f"run-{len(_MADE)}", **kwargs).directory
        shutil.copytree(_MADE[key], out)
        return sclab.open(out)

    return simulate_or_copy


@pytest.mark.parametrize("module", API_MODULES)
def test_the_examples_in_the_docstrings_run(
    module: str,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import doctest
    import importlib
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # their runs land here
    monkeypatch.chdir(tmp_path)
    made_in = tmp_path_factory.getbasetemp() / "examples-made"
    made_in.mkdir(exist_ok=True)
    monkeypatch.setattr(sclab, "simulate", _simulate_once(sclab.api.simulate, made_in))
    mod = importlib.import_module(f"sclab.api.{module}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, optionflags=flags, verbose=False, report=True)
    assert result.failed == 0


# ----------------------------------------------------------------------------- notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "first-look.ipynb"


def run_notebook(path: Path, replace: dict[str, str]) -> dict[str, object]:
    """Run a notebook's code cells in order in one namespace, as Jupyter would: the value
    of a cell's last expression is displayed (its rich representation is made)."""
    import ast

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict[str, object] = {"__name__": "__main__"}
    shown = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        for old, new in replace.items():
            source = source.replace(old, new)
        tree = ast.parse(source)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            exec(compile(ast.Module(tree.body[:-1], []), str(path), "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), str(path), "eval"), namespace)
            for display in ("_repr_mimebundle_", "_repr_html_"):
                if hasattr(value, display):
                    assert getattr(value, display)()
                    break
            shown.append(value)
        else:
            exec(compile(tree, str(path), "exec"), namespace)
    namespace["_shown"] = shown
    return namespace


def test_the_example_notebook_runs_top_to_bottom(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    small = {"POPULATION = 20_000": "POPULATION = 3_000", "DAYS = 60": "DAYS = 15"}
    assert all(old in text for old in small)  # the test runs what the notebook says
    monkeypatch.chdir(tmp_path)
    ns = run_notebook(NOTEBOOK, small)
    run, changed = ns["run"], ns["changed"]
    assert isinstance(run, sclab.Run) and isinstance(changed, sclab.Run)
    assert run.scenario.population == 3_000
    assert (tmp_path / "runs/first-look/composite/report.html").is_file()
    # The edited rule ran in place of the built-in one, on the same world.
    assert any("nanjing-stricter.yaml" in p for p in changed.scenario.policies)
    assert ns["effects"].table().num_rows > 0  # type: ignore[attr-defined]
