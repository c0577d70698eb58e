"""The report of a sweep: one offline HTML page of a scenario's headline measures across
a grid of parameter values, with their spread over replicates.

Core objects:
    :data:`HEADLINES`: the measures the page draws (those the sweep holds), in order.
    :func:`sweep_page`: the page, from plain data (the sweep's description, each measure's
        mean and interval per grid point, the runs); :meth:`sclab.Sweep.report` reads the
        sweep's database, computes the intervals and writes the file.

Like the run's report, the page reads nothing but what it is given: the sweep's database
is read by the API, whose summaries (Student's t intervals over replicates) it draws.
"""

from __future__ import annotations

from typing import Any

from sclab.report import charts
from sclab.report.html import Page

#: Measure name → what the page calls it. Each sweep run's audit gives these (docs/sweep.md).
HEADLINES: dict[str, str] = {
    "harmed.people": "people with at least one adverse decision",
    "class.error.people": "people harmed by an error (a record about someone else, a false match)",
    "class.other_conduct.people": "people harmed for someone else's conduct",
    "class.design.people": "people harmed by the design (lawful conduct penalised)",
    "harmed.decisions": "adverse decisions",
    "class.error.decisions": "adverse decisions resting on an error",
}


def point_label(parameters: list[str], row: dict[str, Any]) -> str:
    """A grid point as the page names it: ``path=value, path=value``."""
    return ", ".join(f"{p}={row[p]}" for p in parameters)


def sweep_page(
    info: dict[str, Any],
    summaries: dict[str, list[dict[str, Any]]],
    runs: list[dict[str, Any]],
) -> Page:
    """The sweep's page.

    Args:
        info: ``scenario``, ``population``, ``days``, ``seed``, ``replicates`` and
            ``parameters`` (the varied paths, in the grid's order) with ``values`` (each
            path's values).
        summaries: Measure → per grid point, the parameters' values and ``replicates``,
            ``mean``, ``low``, ``high`` (the interval's bounds, NaN with one replicate).
        runs: One row per run: ``run``, the parameters, ``replicate``, ``seed``,
            ``status``, ``seconds`` and ``failed`` (highlighted in the table).
    """
    params: list[str] = list(info["parameters"])
    page = Page(f"sclab sweep: {info['scenario']}")
    page.section("about", "What was swept")
    page.p(
        f"The scenario {info['scenario']} ({info['population']:,} synthetic people, "
        f"{info['days']} days) at every point of a grid of parameter values, each point "
        f"run {info['replicates']} time(s) on seeds {info['seed']} onwards; every run is an "
        "ordinary run directory (runs/), audited, with its own report."
    )
    page.facts([(p, ", ".join(str(v) for v in info["values"][p])) for p in params])
    failed = [r for r in runs if r["status"] == "failed"]
    page.p(
        f"{len(runs)} runs, {len(runs) - len(failed)} finished"
        + (f", {len(failed)} failed (listed below)." if failed else ".")
    )

    page.section("headline", "The headline across the grid")
    page.p(
        "Each measure's mean over the replicates at each grid point, with Student's t 95% "
        "interval (none with one replicate). Replicates differ in their seed only: the "
        "interval is the spread a new synthetic city would show at that point."
    )
    for metric, caption in HEADLINES.items():
        rows = summaries.get(metric)
        if not rows:
            continue
        points = [
            {
                "point": point_label(params, r),
                "mean": r["mean"],
                "low": r["low"] if r["low"] == r["low"] else r["mean"],
                "high": r["high"] if r["high"] == r["high"] else r["mean"],
                "replicates": r["replicates"],
                "measure": metric,
            }
            for r in rows
        ]
        page.chart(
            charts.intervals(
                f"chart-sweep-{metric.replace('.', '-')}",
                f"{caption[0].upper()}{caption[1:]} ({metric}), by grid point.",
                points,
                category=("point", "grid point"),
                value=("mean", "mean over replicates"),
                lower="low",
                upper="high",
                series=("measure", "measure"),
                columns=[
                    ("point", "grid point"),
                    ("mean", "mean"),
                    ("low", "low"),
                    ("high", "high"),
                    ("replicates", "replicates"),
                ],
            )
        )

    page.section("runs", "The runs")
    page.table(
        [("run", "run"), *((p, p) for p in params), ("replicate", "replicate"),
         ("seed", "seed"), ("status", "status"), ("seconds", "seconds")],
        runs,
        flag="failed",
    )  # fmt: skip
    return page
