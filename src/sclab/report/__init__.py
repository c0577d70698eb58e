"""The report: one offline HTML file that shows what a run did, for a reader who did not
run it (a journalist, a regulator, a student).

Core objects:
    :func:`build_report`: a finished, audited run directory → the report's
        :class:`~sclab.report.html.Page` (sections, tables and chart specs as data).
    :func:`write_report`: the page as one self-contained HTML file (default
        ``DIR/report.html``), written atomically, never over a file sclab did not write,
        and registered in the run's manifest when it lies inside the run directory.
    :func:`write_page`: any page so (a sweep's: :mod:`sclab.report.sweep`).
    :class:`MatcherFacts`, :class:`ComponentParam`, :class:`ClauseFacts`: the face
        matcher's settings, the components' parameter defaults and the legal clauses'
        labels, which ``sclab report`` resolves from the scenario as run, the component
        registry and ``sclab.legal`` (the report itself imports none of them).
    :class:`Effects`: the run's effects against its twin or another run of the same
        world (read from ``effects.duckdb``; ``sclab report --compare`` computes them).
    :class:`ReportError`, :class:`MissingAuditError`: one-line refusals (exit code 2).

The report reads the run's manifest, ``run.duckdb``, ``audit.duckdb`` and the effects
tables (``effects.duckdb``, beside the run or its directory of replicates) only (an
import-linter contract keeps the engine, the components and the audit's code out of it):
``sclab report`` runs the audit first when the run has none. The file holds the charting
libraries (Vega, Vega-Lite, Vega-Embed from vl-convert's offline bundle: about 0.9 MB)
and aggregates only, so its size depends on the number of days, lists, scores and
decisions, not on the population. ``docs/report.md`` describes each section.

From a notebook::

    from sclab.report import build_report, write_report
    page = build_report("runs/demo")
    [c.spec for c in page.charts]          # Vega-Lite specs (vl_convert exports them)
    write_report("runs/demo")              # runs/demo/report.html
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path

from sclab.report import comparison, sections
from sclab.report.camera import MatcherFacts
from sclab.report.data import MissingAuditError, ReportError, open_run_data
from sclab.report.effects import Effects, find_effects, run_of
from sclab.report.html import SIGNATURE, Page
from sclab.report.sections import ClauseFacts
from sclab.report.settings import ComponentParam
from sclab.store.manifest import Manifest

__all__ = [
    "REPORT",
    "ClauseFacts",
    "ComponentParam",
    "Effects",
    "MatcherFacts",
    "MissingAuditError",
    "ReportError",
    "build_report",
    "write_page",
    "write_report",
]

#: The report's default file name in the run directory.
REPORT = "report.html"


#: The bundle's entry: the libraries as globals for the page's own script.
GLOBALS = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"


@functools.cache
def javascript() -> str:
    """Vega, Vega-Lite and Vega-Embed as one script (vl-convert's bundle, offline)."""
    import vl_convert

    return str(vl_convert.javascript_bundle(GLOBALS))


def build_report(
    run_dir: Path | str,
    *,
    effects: Effects | None = None,
    matcher: MatcherFacts | None = None,
    components: list[ComponentParam] | None = None,
    clauses: list[ClauseFacts] | None = None,
) -> Page:
    """The report of the audited run in ``run_dir`` (a directory of replicates: its
    first), with the comparison sections when it has effects: ``effects`` if given
    (another run's, from :func:`sclab.audit.effects`), else those stored beside it
    (:func:`~sclab.report.effects.find_effects`: its twin's, or its replicates'). ``matcher``,
    ``components`` and ``clauses`` are what the run's tables do not hold: the face
    matcher's resolved settings, the components' parameter defaults and the legal
    clauses' labels (``sclab report`` passes all three).

    Raises:
        NotARunError, MissingAuditError, ReportError: see :func:`open_run_data`.
    """
    run_dir = run_of(Path(run_dir))
    data = open_run_data(run_dir)
    try:
        if effects is None:
            effects = find_effects(run_dir)
        title = f"sclab report: {data.info.get('scenario')}"
        page = Page(title)
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        sections.about(page, data, matcher, components)
        sections.headline(page, data)
        if effects is not None:
            comparison.summary_line(page, effects)
        sections.what_ran(page, data)
        sections.systems(page, data)
        sections.cameras(page, data, matcher)
        sections.fairness(page, data)
        sections.law(page, data, clauses)
        sections.calibration(page, data)
        if effects is not None:
            comparison.comparison(page, effects)
        sections.cite(page, data, created)
        return page
    finally:
        data.close()


def write_report(
    run_dir: Path | str,
    out: Path | str | None = None,
    *,
    effects: Effects | None = None,
    matcher: MatcherFacts | None = None,
    components: list[ComponentParam] | None = None,
    clauses: list[ClauseFacts] | None = None,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``; for a
    directory of replicates, its first replicate's); see :func:`build_report`.

    The file is written beside its target and renamed into place (a reader sees the old
    report or the new one). An existing ``out`` is replaced only if sclab wrote it: inside
    the run directory, when the run's manifest lists it; elsewhere, when it is an sclab
    report (its first bytes carry the report's generator tag).

    Raises:
        ReportError: ``out`` is a directory, or a file sclab did not write.
    """
    run_dir = run_of(Path(run_dir))
    target = Path(out) if out is not None else run_dir / REPORT
    manifest = Manifest.read(run_dir)
    inside = _inside(target, run_dir)
    _check_target(target, run_dir, manifest, inside)
    page = build_report(
        run_dir, effects=effects, matcher=matcher, components=components, clauses=clauses
    )
    write_page(page, target)
    if inside:
        manifest = Manifest.read(run_dir)  # the latest, should the audit have just run
        manifest.add_file(target, "report")
        manifest.write()
    return target


def write_page(page: Page, target: Path, *, check: bool = False) -> Path:
    """Write ``page`` as one self-contained HTML file at ``target``, beside it first and
    renamed into place (a reader sees the old file or the new one).

    ``check``: refuse a target that is a directory, a symbolic link, or a file that is
    not an sclab report (its first bytes carry the report's generator tag); a run's
    report is checked against its manifest instead (:func:`write_report`).

    Raises:
        ReportError: with ``check``, a target sclab may not write.
    """
    if check:
        _check_target(target, target.parent, Manifest(target.parent), inside=False)
    text = page.document(javascript())
    tmp = target.with_name(f".{target.name}.writing-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _inside(target: Path, run_dir: Path) -> bool:
    try:
        target.resolve().relative_to(run_dir.resolve())
    except ValueError:
        return False
    return True


def _check_target(target: Path, run_dir: Path, manifest: Manifest, inside: bool) -> None:
    where = str(target)
    if target.is_dir():
        raise ReportError("is a directory; give a file name for --out", source=where)
    if not target.parent.is_dir():
        raise ReportError("its directory does not exist", source=where)
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink():
        raise ReportError("is a symbolic link; refusing to write through it", source=where)
    if inside:
        name = target.resolve().relative_to(run_dir.resolve()).as_posix()
        if manifest.files.get(name, {}).get("kind") == "report":
            return
        raise ReportError(
            "exists and the run's manifest does not list it as a report (sclab did not "
            "write it); move it away or choose another --out",
            source=where,
        )
    with target.open("rb") as f:
        head = f.read(2048)
    if SIGNATURE.encode() not in head:
        raise ReportError(
            "exists and is not an sclab report; refusing to replace it; choose another --out",
            source=where,
        )
