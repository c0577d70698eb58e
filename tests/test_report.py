"""``sclab report``: one self-contained HTML file, its sections, its safety with hostile
text, its size, and its refusals (the browser test is tests/test_report_browser.py)."""

from __future__ import annotations

import json
import math
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import HOSTILE_RULE, HOSTILE_SCENARIO, HOSTILE_TITLE, run_cli, small_scenario
from tests.test_layers import ROOT, SRC, lint_imports

from sclab import load_scenario, run_scenario
from sclab.api.runs import recorded_matcher as _recorded_matcher
from sclab.audit import audit
from sclab.audit.fairness import wilson_interval
from sclab.report import (
    REPORT,
    MissingAuditError,
    ReportError,
    build_report,
    camera,
    sections,
    write_report,
)
from sclab.report import settings as settings_module
from sclab.report.data import RunData, open_run_data
from sclab.report.html import Page, fmt, script_json
from sclab.scenario import read_scenario
from sclab.sensors.face_recognition import expected_fpir
from sclab.store.manifest import Manifest, NotARunError

#: Every section the report has on a run of the default scenario with its twin.
SECTIONS = ("about", "headline", "ran", "systems", "cameras", "fairness", "law",
            "calibration", "effects", "cite")  # fmt: skip
#: The comparison's charts: chart id → the effects they draw.
EFFECT_CHARTS = {
    "chart-effects-chilling": {"chilling"},
    "chart-effects-chilling-groups": {"chilling_by_group"},
    "chart-effects-network": {"network"},
    "chart-effects-deterrence": {"deterrence", "debts_repaid"},
    "chart-effects-purchases": {"purchase_shifting"},
    "chart-effects-innocent": {"innocent_sanctioned"},
    "chart-effects-price": {"price"},
}
#: The tags the report's own markup uses; anything else came from the input unescaped.
OWN_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "nav",
    "strong", "ol", "li", "a", "section", "p", "ul", "dl", "dt", "dd", "table", "caption",
    "thead", "tbody", "tr", "th", "td", "details", "summary", "figure", "figcaption", "div",
    "script",
}  # fmt: skip
#: Attributes that make a browser fetch something.
FETCHING = {"src", "href", "action", "formaction", "poster", "srcset", "data", "background"}


class Parsed(HTMLParser):
    """Tags, attributes, text and script bodies of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment in the report: {data[:80]}")

    @property
    def plain(self) -> str:
        return "".join(self.text)


def _assert_safe(doc: Parsed, scripts: int) -> None:
    """Only the report's own tags, no event handler, nothing fetched, ``scripts`` scripts."""
    assert {t for t, _ in doc.tags} <= OWN_TAGS
    assert sum(1 for t, _ in doc.tags if t == "script") == scripts
    for tag, attrs in doc.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        for name in FETCHING & attrs.keys():
            value = (attrs[name] or "").strip().lower()
            assert value.startswith("#"), (tag, name, value)  # in-page anchors only


# ------------------------------------------------------------------ end to end


def test_report_command_audits_first_and_registers_the_report(hostile_run) -> None:
    run_dir, proc = hostile_run
    assert "has no audit yet: auditing it first" in proc.stdout
    target = run_dir / REPORT
    assert f"Report: {target.resolve()}" in proc.stdout
    files = Manifest.read(run_dir).files
    assert files["audit.duckdb"]["kind"] == "audit"
    assert files[REPORT]["kind"] == "report"
    assert files[REPORT]["bytes"] == target.stat().st_size
    assert not list(run_dir.glob(".report.html.writing*"))  # written aside, then renamed


def test_every_section_and_every_chart_with_caption_and_numbers(hostile_run) -> None:
    run_dir, _ = hostile_run
    doc = Parsed((run_dir / REPORT).read_text(encoding="utf-8"))
    ids = [a.get("id") for t, a in doc.tags if t == "section"]
    assert ids == list(SECTIONS)
    specs = json.loads(doc.scripts[0])  # the chart specs come first
    containers = [a["id"] for t, a in doc.tags if t == "div" and a.get("class") == "vega"]
    assert containers == list(specs) and len(containers) >= 10
    # Each chart: a figure with a caption, its container, and its numbers in <details>.
    text = (run_dir / REPORT).read_text(encoding="utf-8")
    for chart_id in containers:
        figure = text.split(f'id="{chart_id}"')[0].rsplit("<figure", 1)[1]
        assert "<figcaption>" in figure
        after = text.split(f'id="{chart_id}"')[1].split("</figure>")[0]
        assert "<details><summary>The numbers in this chart</summary><table>" in after


def test_nothing_is_fetched_and_markup_from_the_inputs_is_text(hostile_run) -> None:
    run_dir, _ = hostile_run
    text = (run_dir / REPORT).read_text(encoding="utf-8")
    doc = Parsed(text)
    _assert_safe(doc, scripts=3)  # the specs (JSON), the libraries, the embedding
    csp = [a["content"] for t, a in doc.tags if a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in (csp[0] or "")
    for hostile in (HOSTILE_TITLE, HOSTILE_RULE, HOSTILE_SCENARIO):
        assert hostile not in text  # never raw...
        assert hostile in doc.plain  # ...always shown, as text
    assert "</script" not in doc.scripts[0].lower() and "<" not in doc.scripts[0]


def test_chart_specs_are_inline_data_that_export_to_svg(hostile_run) -> None:
    import vl_convert

    run_dir, _ = hostile_run
    page = build_report(run_dir)
    assert len({c.id for c in page.charts}) == len(page.charts)
    for chart in page.charts:
        dumped = json.dumps(chart.spec)
        assert '"url"' not in dumped  # no data loaded from anywhere
        assert chart.caption and chart.columns and chart.rows
        assert len(chart.rows) <= 5000
    for chart in page.charts[:: max(1, len(page.charts) // 6)]:
        assert vl_convert.vegalite_to_svg(chart.spec).lstrip().startswith("<svg")


def test_headline_numbers_are_the_audits(hostile_run) -> None:
    run_dir, _ = hostile_run
    con = duckdb.connect(str(run_dir / "audit.duckdb"), read_only=True)
    try:
        people = con.execute(
            "SELECT count(DISTINCT entity) FROM harm_decisions WHERE entity_type = 'person'"
        ).fetchall()[0][0]
        error = con.execute("SELECT people FROM harm_by_class WHERE class = 'error'").fetchall()
    finally:
        con.close()
    page = build_report(run_dir)
    headline = next(s for s in page.sections if s.id == "headline")
    assert any(f"{people:,} (" in part for part in headline.parts)
    assert any(f"{error[0][0]:,} people were harmed by error" in p for p in headline.parts)
    chart = next(c for c in page.charts if c.id == "chart-headline")
    assert {r["class"]: r["people"] for r in chart.rows}["error"] == error[0][0]


# ------------------------------------------------------------------ refusals


def _one_line_error(proc: Any) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_refusals_are_one_line_and_write_nothing(hostile_run, tmp_path: Path) -> None:
    run_dir, _ = hostile_run
    assert "no such directory" in _one_line_error(run_cli("report", tmp_path / "missing"))
    (tmp_path / "notes").mkdir()
    line = _one_line_error(run_cli("report", run_dir, "--compare", tmp_path / "notes"))
    assert "is not a run directory" in line
    foreign = tmp_path / "thesis.html"
    foreign.write_text("<p>my thesis</p>", encoding="utf-8")
    line = _one_line_error(run_cli("report", run_dir, "--out", foreign))
    assert "not an sclab report" in line
    assert foreign.read_text(encoding="utf-8") == "<p>my thesis</p>"


def test_the_api_refuses_what_the_command_line_refuses(hostile_run, tmp_path: Path) -> None:
    run_dir, _ = hostile_run
    with pytest.raises(NotARunError, match="is not an sclab run"):
        write_report(tmp_path)
    inside = run_dir / "notes.html"
    inside.write_text("mine", encoding="utf-8")
    try:
        with pytest.raises(ReportError, match="manifest does not list it"):
            write_report(run_dir, inside)
        assert inside.read_text() == "mine"
    finally:
        inside.unlink()
    with pytest.raises(ReportError, match="is a directory"):
        write_report(run_dir, tmp_path)
    with pytest.raises(ReportError, match="its directory does not exist"):
        write_report(run_dir, tmp_path / "no" / "such.html")
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "run.duckdb").write_bytes(b"not a database")
    with pytest.raises(ReportError, match=r"cannot open run\.duckdb"):
        write_report(copy)
    (copy / "audit.duckdb").unlink()
    with pytest.raises(MissingAuditError, match="has no audit"):
        build_report(copy)


def test_out_elsewhere_and_again(hostile_run, tmp_path: Path) -> None:
    run_dir, _ = hostile_run
    out = tmp_path / "elsewhere.html"
    for _ in range(2):  # the second time replaces the first, an sclab report
        assert write_report(run_dir, out) == out
    assert REPORT in Manifest.read(run_dir).files  # the run's own report stays listed
    assert "elsewhere.html" not in Manifest.read(run_dir).files
    assert out.stat().st_size > 500_000


# ------------------------------------------------------------------ size and comparison


@pytest.fixture(scope="module")
def two_sizes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for size in (1000, 10000):
        run_dir = tmp_path_factory.mktemp("sizes") / f"demo-{size}"
        scenario = load_scenario("demo", {"--population": size, "--days": 10})
        run_scenario(scenario, run_dir)
        audit(run_dir).save()
        out[size] = run_dir
    return out


def test_size_does_not_grow_with_the_population(two_sizes: dict[int, Path]) -> None:
    sizes = {}
    for n, run_dir in two_sizes.items():
        sizes[n] = write_report(run_dir).stat().st_size
    # Ten times the people, the same charts: within a quarter (the libraries are 0.9 MB).
    assert sizes[10000] < 1.25 * sizes[1000], sizes
    assert max(sizes.values()) < 5 * 2**20


def test_compare_refuses_another_world_in_one_line(
    two_sizes: dict[int, Path], tmp_path: Path
) -> None:
    a, b = two_sizes[1000], two_sizes[10000]
    out = tmp_path / "compare.html"
    line = _one_line_error(run_cli("report", a, "--compare", b, "--out", out))
    assert "different population (1000 against 10000)" in line
    assert not out.exists()


# ------------------------------------------------------------------ comparison


def _summary(path: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(effect, group) → (replicates, mean, low, high), NaN as None, from effects.duckdb."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            'SELECT effect, "group", replicates, mean, low, high FROM effects_summary'
        ).fetchall()
    nan = lambda x: None if isinstance(x, float) and math.isnan(x) else x  # noqa: E731
    return {(e, g): (k, nan(m), nan(lo), nan(hi)) for e, g, k, m, lo, hi in rows}


def _drawn(charts: list[Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
    """What the comparison's charts draw, read back from their specs' inline data."""
    out = {}
    for chart in charts:
        if chart.id not in EFFECT_CHARTS:
            continue
        values = chart.spec["data"]["values"]
        assert {v["effect_id"] for v in values} == EFFECT_CHARTS[chart.id]
        for v in values:
            out[(v["effect_id"], v["group_id"])] = (v["replicates"], v["mean"], v["low"], v["high"])
    return out


def test_the_comparison_with_the_twin_draws_the_effects_tables(hostile_run) -> None:
    run_dir, _ = hostile_run
    stored = _summary(run_dir / "effects.duckdb")
    page = build_report(run_dir)  # the twin's effects by default
    assert {c.id for c in page.charts} >= EFFECT_CHARTS.keys()
    drawn = _drawn(page.charts)
    assert drawn == {k: v for k, v in stored.items() if k[0] != "tie_pruning"}
    assert stored[("deterrence", "jaywalk")][1] > 0  # the cameras deter: not all zeros
    section = "".join(next(s for s in page.sections if s.id == "effects").parts)
    assert f"<dd>{run_dir / 'twin'}</dd>" in section and "<dd>none</dd>" in section
    lost = stored[("tie_pruning", "interactions_lost")][1]
    assert f'<td>interactions_lost</td><td class="n">{fmt(lost)}</td>' in section
    prevented = sum(v[1] for k, v in stored.items() if k[0] == "deterrence")
    innocent = sum(v[1] for k, v in stored.items() if k[0] == "innocent_sanctioned")
    headline = "".join(next(s for s in page.sections if s.id == "headline").parts)
    assert f"{fmt(round(prevented, 1))} violations prevented, {fmt(innocent)} more" in headline
    # No interval from one pair: bars, and no table of replicates.
    assert all(c.spec.get("mark", {}).get("type") == "bar" for c in page.charts
               if c.id in EFFECT_CHARTS)  # fmt: skip
    assert "Each replicate" not in section


def test_compare_with_any_run_of_the_same_world(hostile_run, tmp_path: Path) -> None:
    run_dir, _ = hostile_run
    out = tmp_path / "against-itself.html"
    done = run_cli("report", run_dir, "--compare", run_dir, "--out", out)
    assert done.returncode == 0, done.stderr
    doc = Parsed(out.read_text(encoding="utf-8"))
    specs = json.loads(doc.scripts[0])
    values = [v for cid in EFFECT_CHARTS if cid in specs for v in specs[cid]["data"]["values"]]
    # A run against itself: every effect is exactly 0 (the price too: nobody added).
    assert values and all(v["mean"] == 0 for v in values)
    assert f"another run of the same world ({run_dir})" in doc.plain


@pytest.fixture(scope="module")
def replicates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replicates") / "reps"
    args = ("--population", "1500", "--days", "15", "--quiet", "--twin", "none")
    done = run_cli("run", "demo", *args, "--replicates", "2", "--out", out)
    assert done.returncode == 0, done.stderr
    return out


def test_replicates_are_reported_with_their_intervals(replicates: Path) -> None:
    done = run_cli("report", replicates)
    assert done.returncode == 0, done.stderr
    first = replicates / "replicate-1"
    assert f"reporting {first} with the effects of all of them" in done.stdout
    assert (first / REPORT).is_file() and not (replicates / REPORT).exists()
    stored = _summary(replicates / "effects.duckdb")
    page = build_report(replicates)
    drawn = _drawn(page.charts)
    assert drawn == {k: v for k, v in stored.items() if k[0] != "tie_pruning"}
    assert all(v[0] == 2 for v in drawn.values())
    jay = drawn[("deterrence", "jaywalk")]
    assert jay[2] is not None and jay[2] <= jay[1] <= jay[3]
    import vl_convert

    intervals = next(c for c in page.charts if c.id == "chart-effects-deterrence")
    assert "layer" in intervals.spec  # a point and its interval per group
    assert vl_convert.vegalite_to_svg(intervals.spec).lstrip().startswith("<svg")
    section = "".join(next(s for s in page.sections if s.id == "effects").parts)
    assert "Each replicate&#x27;s paired difference (deterrence)" in section
    with duckdb.connect(str(replicates / "effects.duckdb"), read_only=True) as con:
        second = con.execute(
            "SELECT value FROM effects WHERE effect = 'deterrence' AND \"group\" = 'jaywalk' "
            "AND replicate = 1"
        ).fetchall()[0][0]
    assert f'<td>prevented: jaywalks</td><td class="n">2</td><td class="n">{fmt(second)}</td>' in (
        section
    )


def test_the_law_names_each_clause(hostile_run) -> None:
    from sclab.legal.clauses import CLAUSES

    run_dir, _ = hostile_run
    text = Parsed((run_dir / REPORT).read_text(encoding="utf-8")).plain
    law = text.split("Each rule against the law", 2)[-1].split("Calibration and validation")[0]
    for c in CLAUSES:
        assert c.label in law and c.title in law and c.id in law, c.id
    page = build_report(run_dir)  # from Python without the clauses: ids alone
    chart = next(c for c in page.charts if c.id == "chart-law")
    assert {r["clause"] for r in chart.rows} == {c.id for c in CLAUSES}


# ------------------------------------------------------------------ properties


markup = st.text(
    alphabet=st.sampled_from(list("<>&\"'/=! abcscriptimgonerror-\u2028")), max_size=40
)


@pytest.fixture(scope="module")
def writable_copy(hostile_run, tmp_path_factory: pytest.TempPathFactory) -> RunData:
    """The hostile run's databases copied, opened for writing (to plant policy texts)."""
    run_dir, _ = hostile_run
    copy = tmp_path_factory.mktemp("planted") / "run"
    shutil.copytree(run_dir, copy)
    data = open_run_data(copy)
    data.close()
    con = duckdb.connect(str(copy / "run.duckdb"))
    con.execute(f"ATTACH '{copy / 'audit.duckdb'}' AS audit (READ_ONLY)")
    data.con = con
    return data


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(title=markup, rule_id=markup, description=markup)
def test_any_policy_text_is_shown_as_text(
    writable_copy: RunData, title: str, rule_id: str, description: str
) -> None:
    text = yaml.safe_dump(
        {"id": "x", "title": title, "rules": [{"id": rule_id, "description": description}]}
    )
    writable_copy.con.execute("UPDATE policies SET yaml = ?", [text])
    page = Page(title)
    sections.what_ran(page, writable_copy)
    doc = Parsed(page.document("/* libraries */"))
    _assert_safe(doc, scripts=3)
    for value in (title, rule_id, " ".join(description.split())):
        assert value in doc.plain


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, min_size=1, max_size=3) | st.dictionaries(
        st.text(), children, min_size=1, max_size=3
    )


@given(st.recursive(st.text() | st.integers() | st.none(), _containers, max_leaves=10))
def test_script_json_round_trips_and_cannot_close_its_script(value: Any) -> None:
    text = script_json(value)
    assert json.loads(text) == value
    assert "<" not in text and ">" not in text and "\u2028" not in text


@settings(deadline=None)
@given(
    fmr=st.floats(0, 1e-3),
    size=st.integers(0, 10**9),
    mult=st.floats(0, 50),
)
def test_expected_rate_is_the_matchers_closed_form(fmr: float, size: int, mult: float) -> None:
    ours = camera.expected_fpir(fmr, size, mult)
    assert math.isclose(ours, float(expected_fpir(fmr, size, mult)), rel_tol=1e-9, abs_tol=1e-15)


@settings(deadline=None)
@given(n=st.integers(1, 10**6), k_share=st.floats(0, 1))
def test_wilson_is_the_fairness_audits(n: int, k_share: float) -> None:
    k = round(k_share * n)
    lo, hi = camera.wilson(k, n)
    ref = wilson_interval(np.array([k]), np.array([n]))
    assert math.isclose(lo or 0.0, float(ref[0][0]), abs_tol=1e-12)
    assert math.isclose(hi or 0.0, float(ref[1][0]), abs_tol=1e-12)


@pytest.fixture(scope="module")
def busy_cameras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Cameras only, with a lenient matcher (FMR 1e-4) on a small gallery: many searches
    of people not enrolled (half the jaywalkers are visitors), a third of them falsely
    matched."""
    doc = small_scenario(
        days=10,
        sources=[{"use": "streets", "params": {"camera_share": 1.0}}],
        sensors=[{"use": "cameras", "params": {"capture": 0.5, "non_resident_share": 0.5,
                                               "matcher": {"fmr": 1e-4}}}],
    )  # fmt: skip
    base = tmp_path_factory.mktemp("cameras")
    path = base / "cameras.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out = base / "run"
    run_scenario(load_scenario(str(path)), out)
    audit(out).save()
    return out


def test_expected_false_matches_agree_with_the_simulation(busy_cameras: Path) -> None:
    """At the run's gallery, the simulated false-match share of searches of people not
    enrolled is near the expected one (the expected one averages over the identified
    residents' sexes and ages, an estimate of all probes'), and the expected curve rises
    with the gallery to near certainty."""
    matcher = _recorded_matcher(busy_cameras)
    assert matcher is not None and matcher.fmr == 1e-4
    data = open_run_data(busy_cameras)
    try:
        points = camera.expected_vs_simulated(data, matcher)
        gallery = camera.gallery_mix(data, matcher)
        curve = camera.curve(matcher, gallery, camera.condition_mix(data, matcher), 1e6)
    finally:
        data.close()
    assert len(points) == 1 and points[0]["gallery_size"] == gallery.size
    p = points[0]
    assert p["searches"] > 1000 and 0.2 < p["rate"] < 0.6, p
    sd = math.sqrt(p["expected"] * (1 - p["expected"]) / p["searches"])
    assert abs(p["rate"] - p["expected"]) <= 0.1 * p["expected"] + 3 * sd, p
    for series in {r["series"] for r in curve}:
        rates = [r["rate"] for r in curve if r["series"] == series]
        assert rates == sorted(rates) and rates[-1] > 0.99
    # A run without policies (nor twin) still has every section but the comparison,
    # saying what it lacks.
    page = build_report(busy_cameras, matcher=matcher)
    assert [s.id for s in page.sections] == [s for s in SECTIONS if s != "effects"]
    ran = "".join(next(s for s in page.sections if s.id == "ran").parts)
    assert "No policy ran" in ran
    assert any(c.id == "chart-camera-expected" for c in page.charts)


def test_settings_are_compared_with_each_default() -> None:
    """Schema defaults, the built-in scenario of the same name (an override shows) and the
    components' defaults (a parameter set to its default is not flagged)."""
    doc = read_scenario("demo", {"--population": 1234})[0].model_dump(mode="json")
    doc["sensors"] = [
        {"use": "cameras", "enabled": True, "params": {"capture": 0.5, "night_share": 0.3}},
        {"use": "records", "enabled": False, "params": {}},
    ]
    known = [
        settings_module.ComponentParam("sensors.cameras", "capture", 0.0012, "Calibrated."),
        settings_module.ComponentParam("sensors.cameras", "night_share", 0.3, "Assumption: x."),
    ]
    found = {d.setting: d for d in settings_module.differences(doc, known)}
    assert found["days"].default == "365" and found["days"].against == "schema default"
    size = found["population.size"]
    assert (size.value, size.default) == ("1234", "20000") and "built-in" in size.against
    assert found["sensors.cameras.params.capture"].default == "0.0012"
    assert "sensors.cameras.params.night_share" not in found  # set to its default
    assert found["sensors.records.enabled"].value == "false"
    assert "sensors" in found  # a different set of components than the built-in's
    rows = settings_module.component_assumptions(doc, known)
    assert rows == [{"component": "sensors.cameras", "setting": "night_share", "value": "0.3",
                     "why": "Assumption: x."}]  # fmt: skip
    # Without the components' defaults, every parameter set is flagged, with a pointer.
    bare = {d.setting: d for d in settings_module.differences(doc)}
    assert "docs/components.md" in bare["sensors.cameras.params.night_share"].default


def test_the_report_contract_breaks_on_a_component_import(tmp_path: Path) -> None:
    """The report reads the run's tables only: importing a component (here the matcher
    the camera section describes) from the report breaks its import contract."""
    src = tmp_path / "src"
    shutil.copytree(SRC, src / "sclab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "sclab" / "report" / "camera.py"
    target.write_text(
        target.read_text(encoding="utf-8") + "\nimport sclab.sensors.face_recognition\n",
        encoding="utf-8",
    )
    proc = lint_imports(tmp_path, src)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [line for line in proc.stdout.splitlines() if " BROKEN" in line]
    assert any("the report reads a run and its audit" in line for line in broken), proc.stdout
    assert "sclab.report.camera" in proc.stdout
