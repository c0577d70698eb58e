"""The report's charts as Altair objects, for a notebook.

Core objects:
    :func:`to_altair`: a chart's Vega-Lite spec (as the report builds it,
        :mod:`sclab.report.charts`) to the Altair chart Jupyter draws inline.
    :func:`fairness_charts`, :func:`calibration_charts`, :func:`comparison_charts`,
        :func:`score_charts`: the charts of an analysis, drawn by the report's own chart
        functions from the analysis's tables (a fairness grouping of two attributes, a
        figures file of the user's, one person's scores: what the report does not draw).
    :func:`stacked`: several charts one above the other (how an analysis shows itself).
    :func:`grouping`: a fairness grouping checked and put in the audit's order.

Cost: a chart holds aggregates only (a few hundred rows at most); turning a spec into an
Altair object validates it against the Vega-Lite schema (tens of milliseconds).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from sclab.errors import SclabError

#: Vega-Lite's compound forms → the Altair class that reads them.
_COMPOUND = {
    "layer": "LayerChart",
    "vconcat": "VConcatChart",
    "hconcat": "HConcatChart",
    "concat": "ConcatChart",
    "facet": "FacetChart",
    "repeat": "RepeatChart",
}


class GroupingError(SclabError):
    """A fairness grouping that is not one or two of the audit's attributes."""


def to_altair(spec: dict[str, Any]) -> Any:
    """The Altair chart of a Vega-Lite spec.

    Example:
        >>> from sclab.api.charts import to_altair
        >>> spec = {"data": {"values": [{"a": 1}]}, "mark": "bar",
        ...         "encoding": {"x": {"field": "a", "type": "quantitative"}}}
        >>> type(to_altair(spec)).__name__
        'Chart'
    """
    import altair as alt

    kind = next((k for k in _COMPOUND if k in spec), None)
    cls = alt.Chart if kind is None else getattr(alt, _COMPOUND[kind])
    return cls.from_dict(spec)


def stacked(charts: list[Any]) -> Any:
    """The charts one above the other (the first one's configuration for all), the chart
    itself when there is one, None when there are none."""
    if not charts:
        return None
    if len(charts) == 1:
        return charts[0]
    import altair as alt

    parts = []
    for c in charts:
        part = c.copy(deep=True)
        part.config = alt.Undefined
        part["$schema"] = alt.Undefined
        parts.append(part)
    out = alt.vconcat(*parts)
    out.config = charts[0].config
    return out


def grouping(by: str | Sequence[str]) -> tuple[str, ...]:
    """One attribute or two of :data:`sclab.audit.fairness.GROUP_ATTRIBUTES`, in the
    audit's order (its tables name ``sex x migrant``, never ``migrant x sex``).

    Raises:
        GroupingError: an unknown attribute, the same twice, none or more than two.

    Example:
        >>> from sclab.api.charts import grouping
        >>> grouping(["migrant", "sex"])
        ('sex', 'migrant')
    """
    from sclab.audit.fairness import GROUP_ATTRIBUTES

    cols = (by,) if isinstance(by, str) else tuple(by)
    unknown = [c for c in cols if c not in GROUP_ATTRIBUTES]
    if unknown or not 1 <= len(cols) <= 2 or len(set(cols)) != len(cols):
        raise GroupingError(
            f"expected one or two distinct attributes of {', '.join(GROUP_ATTRIBUTES)} "
            f"(got {', '.join(map(str, cols)) or 'none'})",
            field="by",
        )
    return tuple(sorted(cols, key=GROUP_ATTRIBUTES.index))


def fairness_charts(groups: pa.Table, decisions: pa.Table, cols: Sequence[str]) -> dict[str, Any]:
    """Per decision that named someone: rate and false-positive rate by group with 95%
    intervals, faint where the group is too small to judge (the report's fairness chart,
    for this grouping)."""
    from sclab.report.sections import fairness_chart, fairness_rows

    out: dict[str, Any] = {}
    rows_of = groups.to_pylist()
    for k, d in enumerate(r for r in decisions.to_pylist() if r["recipients"]):
        mine = [r for r in rows_of if r["decision"] == d["decision"]]
        labels = [
            " / ".join(f"{c}: {g[f'group_{i + 1}']}" for i, c in enumerate(cols)) for g in mine
        ]
        rows = fairness_rows(mine, labels, d.get("wrongly_received") is not None)
        chart = fairness_chart(k, d["decision"], rows, " x ".join(cols))
        out[chart.id] = to_altair(chart.spec)
    return out


def score_charts(scores: pa.Table, entity_id: int) -> dict[str, Any]:
    """One entity's scores after each change, as steps over the days (the report's line
    chart); none when no score of theirs changed."""
    from sclab.report import charts

    rows = [{k: r[k] for k in ("day", "score", "value", "rule")} for r in scores.to_pylist()]
    if not rows:
        return {}
    chart = charts.lines(
        "chart-story-scores",
        f"The scores of {entity_id} after each change, by day.",
        rows,
        x=("day", "day"),
        y=("value", "score"),
        series=("score", "system: score"),
        columns=[("day", "day"), ("score", "system: score"), ("value", "score"), ("rule", "rule")],
        step=True,
    )
    return {chart.id: to_altair(chart.spec)}


def calibration_charts(table: pa.Table) -> dict[str, Any]:
    """Simulated / published for each comparable figure on a log scale, beside its
    tolerance band (the report's calibration chart)."""
    from sclab.report.sections import calibration_chart

    rows = sorted(
        (r for r in table.to_pylist() if (r["ratio"] or 0) > 0),
        key=lambda r: (r["role"], r["figure"]),
    )
    if not rows:
        return {}
    chart = calibration_chart(rows)
    return {chart.id: to_altair(chart.spec)}


def comparison_charts(tables: dict[str, pa.Table], against: str, source: str) -> dict[str, Any]:
    """Each effect as the report's comparison section draws it."""
    from sclab.report import Effects, comparison
    from sclab.report.html import Page

    page = Page("")
    comparison.comparison(page, Effects.from_tables(tables, against=against, source=source))
    return {c.id: to_altair(c.spec) for c in page.charts}
