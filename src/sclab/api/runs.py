"""A finished run as an object: its records, its tables, and every analysis of it.

Core objects:
    :func:`open_run` (``sclab.open``): a run directory (or a directory of replicates: its
        first replicate) to a :class:`Run`.
    :class:`Run`: the resolved scenario and policies, the manifest, SQL over the run's
        and its audit's tables (Arrow, pandas or Polars), :meth:`Run.export`, and the
        analyses: :meth:`Run.audit`, :meth:`Run.fairness`, :meth:`Run.explain`,
        :meth:`Run.calibrate`, :meth:`Run.compare`, :meth:`Run.report`,
        :meth:`Run.charts`, :meth:`Run.rerun`.
    :class:`Analysis`: what every analysis returns: its result (the audit, the story,
        the calibration table...), its tables by name and the report's own charts of it
        (Altair objects, drawn inline by Jupyter, made only when first asked for).

Each command of the command line (``sclab audit``, ``fairness`` aside, ``explain``,
``calibrate``, ``compare``, ``report``, ``export``, ``rerun``) is one of these methods
printed. A :class:`Run` holds no open connection: each query opens the databases read
only and closes them, so that an analysis may write ``audit.duckdb`` meanwhile. Cost: an
analysis costs what its module says (:mod:`sclab.audit`, :mod:`sclab.explain`...); the
charts of an analysis read the audit's aggregates only (small, whatever the population).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from sclab.api.frames import FrameKind, as_frame
from sclab.errors import SclabError
from sclab.store.manifest import Manifest
from sclab.version import __version__

if TYPE_CHECKING:
    from sclab.api.scenario import RunObserver, Scenario
    from sclab.calibration import Figure
    from sclab.policy.schema import Policy
    from sclab.report import ComponentParam, MatcherFacts
    from sclab.rerun import RerunResult

RUN_DB = "run.duckdb"
AUDIT_DB = "audit.duckdb"


class UnknownTableError(SclabError):
    """A table name the run and its audit do not have."""


@dataclass(frozen=True)
class Analysis:
    """The result of an analysis of a run: data, tables and the report's charts of it.

    Attributes:
        name: Which analysis (``audit``, ``fairness``, ``explain``, ``calibrate``,
            ``compare``).
        result: The analysis's own object: an :class:`sclab.audit.Audit`, a
            :class:`sclab.explain.Story`, a :class:`sclab.calibration.CalibrationTable`,
            the effects tables, the fairness groups as a pandas frame.
        tables: Its tables by name, as Arrow tables.

    In a notebook, an analysis shows its charts; :attr:`charts` gives them one by one.
    """

    name: str
    result: Any
    tables: Mapping[str, pa.Table]
    make_charts: Callable[[], dict[str, Any]] = field(repr=False, default=dict)

    @cached_property
    def charts(self) -> dict[str, Any]:
        """The report's charts of this analysis by id (Altair charts; ``.save("x.svg")``
        exports one, ``.to_dict()`` gives its Vega-Lite spec)."""
        return self.make_charts()

    def table(self, name: str | None = None, as_: FrameKind = "arrow") -> Any:
        """One of :attr:`tables` (default: the first) as Arrow, pandas or Polars.

        Raises:
            UnknownTableError: no such table in this analysis.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> c = run.calibrate()
            >>> c.table(as_="pandas").shape[0] == c.table("calibration").num_rows
            True
        """
        key = name if name is not None else next(iter(self.tables))
        if key not in self.tables:
            raise UnknownTableError(
                f"no table '{key}' in this {self.name}; expected one of: {', '.join(self.tables)}"
            )
        return as_frame(self.tables[key], as_)

    def __repr__(self) -> str:
        return f"Analysis({self.name!r}, tables: {', '.join(self.tables) or 'none'})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """In Jupyter: the charts one above the other, else the first table."""
        from sclab.api.charts import stacked

        chart = stacked(list(self.charts.values()))
        if chart is not None:
            return chart._repr_mimebundle_(include, exclude)
        if not self.tables:
            return {"text/plain": repr(self)}
        frame = self.table(as_="pandas")
        return {"text/plain": repr(frame), "text/html": frame._repr_html_()}


def open_run(directory: str | Path, *, check: bool = True) -> Run:
    """Open a finished run (``sclab run --out DIR``) for reading and analysis.

    A directory of replicates (``--replicates K``) opens as its first replicate, whose
    effects cover all K (:meth:`Run.report`).

    Args:
        directory: The run directory.
        check: Refuse now a directory that is not a run (else each method refuses it
            when it reads the run, with its own message).

    Raises:
        NotARunError: not a run directory (with ``check``).

    Example:
        >>> import sclab, tempfile
        >>> out = f"{tempfile.mkdtemp()}/demo"
        >>> _ = sclab.simulate("demo", population=2_000, days=5, out=out)
        >>> run = sclab.open(out)
        >>> run.scenario.population, run.sql("SELECT count(*) AS n FROM citizens")["n"][0].as_py()
        (2000, 2000)
    """
    path = Path(directory)
    if not (path / "manifest.json").exists():
        from sclab.report.effects import run_of

        path = run_of(path)
    run = Run(path)
    if check:
        from sclab.store.manifest import NotARunError

        if not path.is_dir():
            what = "is not a directory" if path.exists() else "no such directory"
            raise NotARunError(what, source=str(path))
        manifest = Manifest.read(path)
        if RUN_DB not in manifest.files or not (path / RUN_DB).is_file():
            raise NotARunError(f"has no {RUN_DB}: not a finished run", source=str(path))
    return run


class Run:
    """A finished run in ``directory``: read it, query it, analyse it.

    Use :func:`sclab.open` (which checks the directory) rather than the class itself.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"Run({str(self.directory)!r})"

    # ------------------------------------------------------------------ what it records

    @property
    def manifest(self) -> Manifest:
        """The run's ``manifest.json`` (read now: analyses add files to it)."""
        return Manifest.read(self.directory)

    @cached_property
    def scenario(self) -> Scenario:
        """The scenario as run (recorded in the run, with its policies' recorded texts).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> run.scenario.name, run.scenario.days
            ('demo', 5)
        """
        from sclab.api.scenario import Scenario
        from sclab.rerun import read_recorded_run

        return Scenario(read_recorded_run(self.directory).scenario)

    @cached_property
    def policies(self) -> dict[str, Policy]:
        """System name → the policy the run compiled (from its recorded text).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("rongcheng", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/r")
            >>> sorted(run.policies)
            ['court-defaulters', 'rongcheng']
        """
        from sclab.audit.policies import read_policies

        with self._connect() as con:
            return read_policies(con)

    @property
    def tables(self) -> list[str]:
        """The names of the run's tables, then its audit's (when audited).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> "citizens" in run.tables and "harm_by_class" not in run.tables
            True
        """
        return [name for name, _ in self._table_places()]

    # ------------------------------------------------------------------ queries

    def sql(self, query: str, params: Sequence[Any] | None = None, as_: FrameKind = "arrow") -> Any:
        """The result of a read-only SQL query over ``run.duckdb`` (its tables by name)
        and ``audit.duckdb`` (as ``audit.TABLE``, when the run is audited).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> df = run.sql("SELECT sex, count(*) AS n FROM citizens GROUP BY sex "
            ...              "ORDER BY sex", as_="pandas")
            >>> int(df["n"].sum())
            2000
        """
        with self._connect() as con:
            table = con.sql(query, params=list(params or [])).to_arrow_table()
        return as_frame(table, as_)

    def table(self, name: str, as_: FrameKind = "arrow") -> Any:
        """One table of the run or its audit, whole, as Arrow, pandas or Polars.

        Raises:
            UnknownTableError: no such table (the message lists them).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> run.table("run_info", as_="pandas")["population"].tolist()
            [2000]
        """
        places = dict(self._table_places())
        if name not in places:
            raise UnknownTableError(
                f"no table '{name}'; expected one of: {', '.join(places)}",
                source=str(self.directory),
            )
        return self.sql(f'SELECT * FROM {places[name]}"{name}"', as_=as_)

    def export(
        self,
        to: str | Path,
        format: str = "parquet",
        tables: Iterable[str] | None = None,
        *,
        force: bool = False,
    ) -> list[Path]:
        """Write tables of the run and its audit to ``to`` as Parquet or CSV files, one
        per table, with a manifest of what was written (:mod:`sclab.api.export`).

        Raises:
            UnknownTableError: a table the run does not have.
            OutputError: ``to`` holds files sclab did not write, or exists without
                ``force``.

        Example:
            >>> import sclab, tempfile
            >>> tmp = tempfile.mkdtemp()
            >>> run = sclab.simulate("demo", population=2_000, days=5, out=f"{tmp}/demo")
            >>> [p.name for p in run.export(f"{tmp}/csv", "csv", ["citizens", "run_info"])]
            ['citizens.csv', 'run_info.csv']
        """
        from sclab.api.export import export_tables

        places = dict(self._table_places())
        chosen = list(places) if tables is None else list(tables)
        unknown = [t for t in chosen if t not in places]
        if unknown:
            raise UnknownTableError(
                f"no table '{unknown[0]}'; expected one of: {', '.join(places)}",
                source=str(self.directory),
            )
        with self._connect() as con:
            return export_tables(
                con, {t: places[t] for t in chosen}, Path(to), format, force, self.directory
            )

    # ------------------------------------------------------------------ analyses

    def audit(self, *, recompute: bool = False) -> Analysis:
        """Who was harmed, how and for what (docs/audit.md): the stored audit, else one
        computed now and saved as ``audit.duckdb`` in the run.

        Args:
            recompute: Compute (and save) it again even if the run has one.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("composite", population=2_000, days=10, seed=1,
            ...                      out=f"{tempfile.mkdtemp()}/c")
            >>> a = run.audit()
            >>> sorted(a.result.summary()["classes"])
            ['design', 'error', 'other_conduct', 'rightful']
            >>> list(a.charts)
            ['chart-headline', 'chart-law']
        """
        from sclab.audit import Audit
        from sclab.audit import audit as compute

        if not recompute and self._audited():
            found = Audit.load(self.directory)
        else:
            found = compute(self.directory)
            found.save()
        return Analysis("audit", found, found.tables, lambda: self._section_charts("audit"))

    def fairness(self, by: str | Sequence[str] = "sex") -> Analysis:
        """Rates and false-positive rates of every decision by group (docs/fairness.md):
        one attribute, or two for their intersection (``by=["sex", "migrant"]``).

        Attributes are ``sex``, ``ethnic_group``, ``age_band``, ``district``,
        ``migrant`` and ``income_decile``. Audits the run first if needed.

        Raises:
            SclabError: an unknown attribute (the message lists them), or more than two.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("composite", population=2_000, days=10, seed=1,
            ...                      out=f"{tempfile.mkdtemp()}/c")
            >>> f = run.fairness(by=["sex", "migrant"])
            >>> sorted(set(f.result["grouping"]))
            ['sex x migrant']
            >>> len(f.charts) > 0
            True
        """
        from sclab.api.charts import fairness_charts, grouping

        cols = grouping(by)
        name = " x ".join(cols)
        tables = self.audit().tables
        out = {
            t: tables[t].filter(pa.compute.equal(tables[t]["grouping"], name))
            for t in ("fairness_groups", "fairness_summary")
        }
        out["fairness_decisions"] = tables["fairness_decisions"]
        return Analysis(
            "fairness",
            out["fairness_groups"].to_pandas(),
            out,
            lambda: fairness_charts(out["fairness_groups"], tables["fairness_decisions"], cols),
        )

    def explain(
        self,
        person: str | int | None = None,
        *,
        company: str | int | None = None,
        reproduce_acts: bool = True,
    ) -> Analysis:
        """One person's (or company's) story (docs/explain.md): true acts (reproduced by
        running the recorded scenario again in memory), records, decisions with their
        rules, events and harm classes; their scores day by day (table ``scores``, and
        a chart when a score of theirs changed).

        Raises:
            UnknownEntityError: no such person or company.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> story = run.explain(person=1)
            >>> story.result.entity_id, story.result.faithful
            (1, True)
            >>> list(story.tables)
            ['story', 'scores']
        """
        from sclab.api.charts import score_charts
        from sclab.explain import explain

        story = explain(
            self.directory, person=person, company=company, reproduce_acts=reproduce_acts
        )
        rows = [{**asdict(r), "events": list(r.events)} for r in story.rows]
        schema = pa.schema(
            [("day", pa.int64()), ("date", pa.date32()), ("what", pa.string()),
             ("kind", pa.string()), ("detail", pa.string()), ("rule", pa.string()),
             ("events", pa.list_(pa.int64())), ("wrong", pa.bool_()), ("harm", pa.string())]
        )  # fmt: skip
        entity = "company" if company is not None else "person"
        scores = self.sql(
            "SELECT day, system::VARCHAR || ': ' || score::VARCHAR AS score, value, delta, "
            "rule_id::VARCHAR AS rule, wrongful FROM score_changes "
            "WHERE entity_type = ? AND entity_id = ? ORDER BY day, change_id",
            [entity, story.entity_id],
        )
        tables = {"story": pa.Table.from_pylist(rows, schema), "scores": scores}
        return Analysis("explain", story, tables, lambda: score_charts(scores, story.entity_id))

    def calibrate(self, figures: str | Path | list[Figure] | None = None) -> Analysis:
        """The run beside the published figures (docs/calibration.md): simulated (scaled
        to each figure's population and period), published, their ratio and a verdict.

        Args:
            figures: A figures file of the form of sclab's ``figures.yaml``, or figures
                already loaded (default: sclab's own).

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> c = run.calibrate()
            >>> {r.role for r in c.result.rows} >= {"calibration", "validation"}
            True
        """
        from sclab.api.charts import calibration_charts
        from sclab.calibration import calibrate, load_figures

        chosen = load_figures(Path(figures)) if isinstance(figures, str | Path) else figures
        table = calibrate(self.directory, chosen)
        arrow = table.arrow()
        return Analysis(
            "calibrate", table, {"calibration": arrow}, lambda: calibration_charts(arrow)
        )

    def compare(self, other: str | Path | Run) -> Analysis:
        """The effects of this run against another run of the same world (the same
        population, seed and scenario apart from policies: refused otherwise) as paired
        differences this − other (docs/effects.md).

        Example:
            >>> import sclab, tempfile
            >>> tmp = tempfile.mkdtemp()
            >>> s = sclab.Scenario.load("composite", population=2_000, days=10, seed=1)
            >>> a, b = s.run(f"{tmp}/a"), s.with_policies("rongcheng").run(f"{tmp}/b")
            >>> e = a.compare(b)
            >>> {"chilling", "deterrence"} <= set(e.table(as_="pandas")["effect"])
            True
        """
        from sclab.api.charts import comparison_charts
        from sclab.audit.effects import paired_effects

        b = other.directory if isinstance(other, Run) else Path(other)
        tables = paired_effects([(self.directory, b)])
        return Analysis(
            "compare",
            tables,
            {"effects_summary": tables["effects_summary"], "effects": tables["effects"]},
            lambda: comparison_charts(tables, str(b), f"{self.directory} against {b}"),
        )

    def report(
        self,
        path: str | Path | None = None,
        *,
        compare: str | Path | Run | None = None,
        note: Callable[[str], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> Path:
        """Write the run's offline HTML report (docs/report.md), auditing it first if it
        has no audit, and return its path.

        Args:
            path: The HTML file (default ``DIR/report.html``).
            compare: Another run of the same world to show the effects against (default:
                the run's twin, when it has one).
            note: Receives a line when the run is audited first.
            warn: Receives each warning of the comparison (runs of different sclab
                versions); default: Python's ``warnings``.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("demo", population=2_000, days=5,
            ...                      out=f"{tempfile.mkdtemp()}/demo")
            >>> run.report().name
            'report.html'
        """
        from sclab.legal.clauses import CLAUSES
        from sclab.report import ClauseFacts, Effects, MissingAuditError, write_report
        from sclab.report.data import open_run_data

        effects = None
        if compare is not None:
            from sclab.audit.effects import paired_effects

            b = compare.directory if isinstance(compare, Run) else Path(compare)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                tables = paired_effects([(self.directory, b)])  # refuses another world
            for w in caught:
                if warn is None:
                    warnings.warn(str(w.message), stacklevel=2)
                else:
                    warn(str(w.message))
            effects = Effects.from_tables(
                tables,
                against=str(b),
                source=f"computed by sclab report from {self.directory} and {b} (as sclab compare)",
            )
        try:
            open_run_data(self.directory).close()
        except MissingAuditError:
            if note is not None:
                note(
                    f"{self.directory} has no audit yet: auditing it first "
                    f"(sclab audit {self.directory})"
                )
            self.audit(recompute=True)
        return write_report(
            self.directory,
            path,
            effects=effects,
            matcher=recorded_matcher(self.directory),
            components=component_defaults(),
            clauses=[ClauseFacts(c.id, c.label, c.title) for c in CLAUSES],
        )

    def charts(self, section: str | None = None) -> dict[str, Any]:
        """Every chart of the run's report by id (Altair charts), or those of one
        section: ``headline``, ``scores``, ``stock``, ``flows``, ``domains``,
        ``camera``, ``fairness``, ``law``, ``calibration``, ``effects``. Audits the run
        first if needed.

        Example:
            >>> import sclab, tempfile
            >>> run = sclab.simulate("composite", population=2_000, days=10, seed=1,
            ...                      out=f"{tempfile.mkdtemp()}/c")
            >>> list(run.charts("headline"))
            ['chart-headline']
        """
        from sclab.api.charts import to_altair
        from sclab.legal.clauses import CLAUSES
        from sclab.report import ClauseFacts, build_report

        self.audit()
        page = build_report(
            self.directory,
            matcher=recorded_matcher(self.directory),
            components=component_defaults(),
            clauses=[ClauseFacts(c.id, c.label, c.title) for c in CLAUSES],
        )
        prefix = f"chart-{section}" if section else "chart-"
        return {
            c.id: to_altair(c.spec)
            for c in page.charts
            if c.id == prefix or c.id.startswith(prefix if not section else f"{prefix}-")
        }

    def rerun(
        self, out: str | Path, *, force: bool = False, observer: RunObserver | None = None
    ) -> RerunResult:
        """Run this run again from its own records into ``out`` and compare every table
        (:mod:`sclab.rerun`): ``.differing`` names the tables that came out different.

        Example:
            >>> import sclab, tempfile
            >>> tmp = tempfile.mkdtemp()
            >>> run = sclab.simulate("demo", population=2_000, days=5, out=f"{tmp}/a")
            >>> again = run.rerun(f"{tmp}/b")
            >>> again.differing, len(again.compared) > 10
            ([], True)
        """
        import time

        from sclab.api.scenario import RunObserver
        from sclab.rerun import read_recorded_run, rerun

        watch = observer or RunObserver()
        recorded = read_recorded_run(self.directory)
        if recorded.sclab_version != __version__:
            warnings.warn(
                f"{self.directory} was made by sclab {recorded.sclab_version}, this is "
                f"sclab {__version__}: its tables may come out different",
                stacklevel=2,
            )
        start = time.perf_counter()
        with watch.progress(recorded.scenario) as reporter:
            outcome = rerun(recorded, Path(out), force=force, reporter=reporter)
        watch.finished(outcome.result, time.perf_counter() - start, None)
        return outcome

    # ------------------------------------------------------------------ internals

    def _audited(self) -> bool:
        return AUDIT_DB in self.manifest.files and (self.directory / AUDIT_DB).is_file()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to ``run.duckdb``, with the audit attached as ``audit``."""
        from sclab.audit.storage import open_run

        con = open_run(self.directory)
        if self._audited():
            where = str(self.directory / AUDIT_DB).replace("'", "''")
            con.execute(f"ATTACH '{where}' AS audit (READ_ONLY)")
        return con

    def _table_places(self) -> list[tuple[str, str]]:
        """(table, prefix in SQL) of the run's tables, then its audit's."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT database_name, table_name FROM duckdb_tables() "
                "WHERE schema_name = 'main' ORDER BY database_name = 'audit', table_name"
            ).fetchall()
        return [(t, "audit." if db == "audit" else "") for db, t in rows]

    def _section_charts(self, analysis: str) -> dict[str, Any]:
        """The report's charts of an analysis, from its own section functions."""
        from sclab.api.charts import to_altair
        from sclab.legal.clauses import CLAUSES
        from sclab.report import ClauseFacts, sections
        from sclab.report.data import open_run_data
        from sclab.report.html import Page

        page = Page("")
        data = open_run_data(self.directory)
        try:
            if analysis == "audit":
                sections.headline(page, data)
                sections.law(page, data, [ClauseFacts(c.id, c.label, c.title) for c in CLAUSES])
        finally:
            data.close()
        return {c.id: to_altair(c.spec) for c in page.charts}


# ---------------------------------------------------------------------- report facts


def component_defaults() -> list[ComponentParam]:
    """Every built-in component's parameters with their defaults and documentation (a
    nested model's fields one level down: ``matcher.fmr``), for the report.

    Example:
        >>> from sclab.api.runs import component_defaults
        >>> any(p.component == "sensors.cameras" and p.param == "capture"
        ...     for p in component_defaults())
        True
    """
    from pydantic import BaseModel

    from sclab.engine.registry import STAGES
    from sclab.report import ComponentParam
    from sclab.run import load_builtin_components

    registry = load_builtin_components()
    out: list[ComponentParam] = []

    def add(component: str, prefix: str, model: type[BaseModel]) -> None:
        for name, info in model.model_fields.items():
            ann = info.annotation
            if prefix == "" and isinstance(ann, type) and issubclass(ann, BaseModel):
                add(component, f"{name}.", ann)
                continue
            default = None if info.is_required() else info.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            elif isinstance(default, tuple):
                default = list(default)
            out.append(ComponentParam(component, prefix + name, default, info.description or ""))

    for stage in STAGES:
        for name in registry.available(stage):
            add(f"{stage}.{name}", "", registry.entry(stage, name).params)
    return out


def recorded_matcher(run_dir: Path) -> MatcherFacts | None:
    """The face matcher's settings as the run's recorded scenario set them (None without
    cameras), resolved by the matcher's own model so that the report need not import it."""
    from pydantic import ValidationError

    from sclab.report import MatcherFacts
    from sclab.report.data import open_run_data
    from sclab.report.settings import scenario_document
    from sclab.sensors import face_recognition as fr

    data = open_run_data(run_dir)
    try:
        text = data.info.get("scenario_yaml")
    finally:
        data.close()
    doc = scenario_document(str(text or ""))
    cameras = [
        s
        for s in doc.get("sensors") or []
        if isinstance(s, dict) and s.get("use") == "cameras" and s.get("enabled", True)
    ]
    if not cameras:
        return None
    params = (cameras[0].get("params") or {}).get("matcher") or {}
    try:
        matcher = fr.MatcherParams.model_validate(params)
    except ValidationError:
        return None  # made by another sclab: the report says the expected rate is not drawn
    s = matcher.settings()
    return MatcherFacts(
        preset=matcher.preset,
        fmr=s.fmr,
        fnir=s.fnir,
        female_fmr=s.female_fmr,
        age_fmr=dict(s.age_fmr),
        ethnic_fmr=dict(s.ethnic_fmr),
        other_ethnic_fmr=s.other_ethnic_fmr,
        condition_fmr={
            "night": s.night[0],
            "helmet": s.helmet[0],
            "sunglasses": s.sunglasses[0],
            "mask": s.mask[0],
        },
        source=fr.PRESETS[matcher.preset].source,
    )
