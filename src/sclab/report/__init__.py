"""The report: one offline HTML file that shows what a run did, for a reader who did not
run it (a journalist, a regulator, a student).

Core objects:
    :func:`build_report`: a finished, audited run directory → the report's
        :class:`~sclab.report.html.Page` (sections, tables and chart specs as data).
    :func:`write_report`: the page as one self-contained HTML file (default
        ``DIR/report.html``), written atomically, never over a file sclab did not write,
        and registered in the run's manifest when it lies inside the run directory.
    :class:`MatcherFacts`, :class:`ComponentParam`: the face matcher's settings and the
        components' parameter defaults, which ``sclab report`` resolves from the scenario
        as run and the component registry (the report itself imports no component).
    :class:`ReportError`, :class:`MissingAuditError`: one-line refusals (exit code 2).

The report reads the run's manifest, ``run.duckdb`` and ``audit.duckdb`` only (an
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

from sclab.report import sections
from sclab.report.camera import MatcherFacts
from sclab.report.data import MissingAuditError, ReportError, RunData, open_run_data
from sclab.report.html import SIGNATURE, Page
from sclab.report.settings import ComponentParam
from sclab.store.manifest import Manifest

__all__ = [
    "REPORT",
    "ComponentParam",
    "MatcherFacts",
    "MissingAuditError",
    "ReportError",
    "build_report",
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
    compare: Path | str | None = None,
    matcher: MatcherFacts | None = None,
    components: list[ComponentParam] | None = None,
) -> Page:
    """The report of the audited run in ``run_dir`` (and, with ``compare``, its headline
    numbers beside another audited run's). ``matcher`` and ``components`` are what the
    run's tables do not hold: the face matcher's resolved settings and the components'
    parameter defaults (``sclab report`` passes both).

    Raises:
        NotARunError, MissingAuditError, ReportError: see :func:`open_run_data`.
    """
    data = open_run_data(Path(run_dir))
    other: RunData | None = None
    try:
        if compare is not None:
            other = open_run_data(Path(compare))
        title = f"sclab report: {data.info.get('scenario')}"
        page = Page(title)
        created = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        sections.about(page, data, matcher, components)
        sections.headline(page, data)
        if other is not None:
            sections.compare(page, data, other)
        sections.what_ran(page, data)
        sections.systems(page, data)
        sections.cameras(page, data, matcher)
        sections.fairness(page, data)
        sections.law(page, data)
        sections.calibration(page, data)
        sections.cite(page, data, created)
        return page
    finally:
        data.close()
        if other is not None:
            other.close()


def write_report(
    run_dir: Path | str,
    out: Path | str | None = None,
    *,
    compare: Path | str | None = None,
    matcher: MatcherFacts | None = None,
    components: list[ComponentParam] | None = None,
) -> Path:
    """Write the report of ``run_dir`` to ``out`` (default ``run_dir/report.html``).

    The file is written beside its target and renamed into place (a reader sees the old
    report or the new one). An existing ``out`` is replaced only if sclab wrote it: inside
    the run directory, when the run's manifest lists it; elsewhere, when it is an sclab
    report (its first bytes carry the report's generator tag).

    Raises:
        ReportError: ``out`` is a directory, or a file sclab did not write.
    """
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / REPORT
    manifest = Manifest.read(run_dir)
    inside = _inside(target, run_dir)
    _check_target(target, run_dir, manifest, inside)
    page = build_report(run_dir, compare=compare, matcher=matcher, components=components)
    text = page.document(javascript())
    tmp = target.with_name(f".{target.name}.writing-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if inside:
        manifest = Manifest.read(run_dir)  # the latest, should the audit have just run
        manifest.add_file(target, "report")
        manifest.write()
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
