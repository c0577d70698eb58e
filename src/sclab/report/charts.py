"""Charts as data: Vega-Lite specifications built with Altair, each with its numbers.

Core objects:
    :class:`Chart`: one chart: an id, a one-line caption, the Vega-Lite spec (a plain
        dict, data inline) and the table of the numbers it draws (the text alternative
        the page shows in a ``<details>`` element).
    :func:`bars`, :func:`lines`, :func:`heatmap`, :func:`intervals`, :func:`ratios`:
        the few chart forms the report uses.

A spec is data: tests inspect it, and the same spec exports to SVG or PNG offline
(``vl_convert.vegalite_to_svg``), as the page's "Save as" links do in the browser.
Every chart's data is an aggregate (a few hundred rows at most); Altair's own limit
(5,000 rows) stays on as a guard against shipping per-person rows by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import altair as alt

#: Colours of the harm classes (docs/audit.md), the same in every chart.
CLASS_COLOURS = {
    "error": "#d62728",
    "other_conduct": "#ff7f0e",
    "design": "#9467bd",
    "rightful": "#7f7f7f",
}
WIDTH = 560


@dataclass(frozen=True)
class Chart:
    """One chart and its text alternative.

    Attributes:
        id: Unique within the page (letters, digits and ``-``).
        caption: One line: what the chart shows.
        spec: The Vega-Lite specification (data inline).
        columns: The columns of :attr:`rows`, in order: (key, label).
        rows: The numbers the chart draws.
    """

    id: str
    caption: str
    spec: dict[str, Any]
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _chart(rows: list[dict[str, Any]]) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows))


def _finish(
    chart_id: str,
    caption: str,
    chart: Any,
    rows: list[dict[str, Any]],
    columns: list[tuple[str, str]],
) -> Chart:
    spec = chart.properties(width=WIDTH).to_dict()
    return Chart(chart_id, caption, spec, columns, rows)


def bars(
    chart_id: str,
    caption: str,
    rows: list[dict[str, Any]],
    *,
    category: tuple[str, str],
    value: tuple[str, str],
    colour: tuple[str, str] | None = None,
    colours: dict[str, str] | None = None,
    columns: list[tuple[str, str]] | None = None,
    normalise: bool = False,
) -> Chart:
    """Horizontal bars of ``value`` per ``category``, stacked by ``colour`` if given."""
    cat, cat_label = category
    val, val_label = value
    stack: Any = "normalize" if normalise else "zero"
    x = alt.X(f"{val}:Q", title=val_label, stack=stack)
    enc: dict[str, Any] = {
        "y": alt.Y(f"{cat}:N", title=cat_label, sort=None),
        "x": x,
        "tooltip": [
            alt.Tooltip(f"{k}:N" if k != val else f"{k}:Q", title=t)
            for k, t in (columns or [category, value])
        ],
    }
    if colour is not None:
        key, label = colour
        scale = (
            alt.Scale(domain=list(colours), range=list(colours.values()))
            if colours
            else alt.Undefined
        )
        enc["color"] = alt.Color(f"{key}:N", title=label, scale=scale, sort=None)
        if rows and "order" in rows[0]:
            enc["order"] = alt.Order("order:Q")  # stack in the order of the classes
    height = max(60, 22 * len({r[cat] for r in rows}))
    chart = _chart(rows).mark_bar().encode(**enc).properties(height=height)
    cols = columns or [category, *([colour] if colour else []), value]
    return _finish(chart_id, caption, chart, rows, cols)


def lines(
    chart_id: str,
    caption: str,
    rows: list[dict[str, Any]],
    *,
    x: tuple[str, str],
    y: tuple[str, str],
    series: tuple[str, str],
    columns: list[tuple[str, str]] | None = None,
    step: bool = False,
) -> Chart:
    """Lines of ``y`` over ``x``, one per ``series``."""
    (xk, xl), (yk, yl), (sk, sl) = x, y, series
    chart = (
        _chart(rows)
        .mark_line(interpolate="step-after" if step else "linear", point=len(rows) < 60)
        .encode(
            x=alt.X(f"{xk}:Q", title=xl),
            y=alt.Y(f"{yk}:Q", title=yl),
            color=alt.Color(f"{sk}:N", title=sl),
            tooltip=[alt.Tooltip(f"{k}:N", title=t) for k, t in (columns or [x, series, y])],
        )
        .properties(height=220)
    )
    return _finish(chart_id, caption, chart, rows, columns or [x, series, y])


def heatmap(
    chart_id: str,
    caption: str,
    rows: list[dict[str, Any]],
    *,
    x: tuple[str, str],
    y: tuple[str, str],
    colour: tuple[str, str],
    columns: list[tuple[str, str]] | None = None,
) -> Chart:
    """A grid: ``x`` (ordered bins) across, ``y`` down, ``colour`` the value."""
    (xk, xl), (yk, yl), (ck, cl) = x, y, colour
    chart = (
        _chart(rows)
        .mark_rect()
        .encode(
            x=alt.X(f"{xk}:O", title=xl, sort=None),
            y=alt.Y(f"{yk}:O", title=yl, sort=None),
            color=alt.Color(f"{ck}:Q", title=cl, scale=alt.Scale(scheme="blues")),
            tooltip=[alt.Tooltip(f"{k}:N", title=t) for k, t in (columns or [x, y, colour])],
        )
        .properties(height=max(60, 18 * len({r[yk] for r in rows})))
    )
    return _finish(chart_id, caption, chart, rows, columns or [x, y, colour])


def intervals(
    chart_id: str,
    caption: str,
    rows: list[dict[str, Any]],
    *,
    category: tuple[str, str],
    value: tuple[str, str],
    lower: str,
    upper: str,
    series: tuple[str, str],
    columns: list[tuple[str, str]],
    faint: str | None = None,
) -> Chart:
    """A point per ``category`` (and ``series``) with a line from ``lower`` to ``upper``;
    rows whose ``faint`` field is true are drawn lighter (groups too small to judge)."""
    (ck, cl), (vk, vl), (sk, sl) = category, value, series
    base = _chart(rows).encode(
        y=alt.Y(f"{ck}:N", title=cl, sort=None),
        yOffset=alt.YOffset(f"{sk}:N", sort=None),
        color=alt.Color(f"{sk}:N", title=sl, sort=None),
        tooltip=[alt.Tooltip(f"{k}:N", title=t) for k, t in columns],
    )
    opacity: Any = (
        alt.condition(f"datum.{faint}", alt.value(0.35), alt.value(1.0))
        if faint
        else alt.value(1.0)
    )
    rule = base.mark_rule().encode(
        x=alt.X(f"{lower}:Q", title=vl), x2=alt.X2(f"{upper}:Q"), opacity=opacity
    )
    point = base.mark_point(filled=True).encode(x=alt.X(f"{vk}:Q"), opacity=opacity)
    n = len({r[ck] for r in rows})
    chart = alt.layer(rule, point).properties(height=max(60, 20 * n))
    return _finish(chart_id, caption, chart, rows, columns)


def ratios(
    chart_id: str,
    caption: str,
    rows: list[dict[str, Any]],
    *,
    category: tuple[str, str],
    columns: list[tuple[str, str]],
) -> Chart:
    """Simulated / published on a log scale, a point per figure beside its tolerance band
    (``ratio``, ``tolerance_low``, ``tolerance_high`` in each row)."""
    ck, cl = category
    base = _chart(rows).encode(
        y=alt.Y(f"{ck}:N", title=cl, sort=None),
        tooltip=[alt.Tooltip(f"{k}:N", title=t) for k, t in columns],
    )
    log = alt.Scale(type="log")
    band = base.mark_rule(size=8, opacity=0.25, color="#2ca02c").encode(
        x=alt.X("tolerance_low:Q", scale=log, title="simulated / published (log scale)"),
        x2="tolerance_high:Q",
    )
    point = base.mark_point(filled=True, size=70).encode(
        x=alt.X("ratio:Q", scale=log),
        color=alt.Color("verdict:N", title="verdict"),
    )
    one = _chart([{"one": 1}]).mark_rule(strokeDash=[4, 3]).encode(x=alt.X("one:Q", scale=log))
    n = len({r[ck] for r in rows})
    chart = alt.layer(band, point, one).properties(height=max(60, 24 * n))
    return _finish(chart_id, caption, chart, rows, columns)


def curve(
    chart_id: str,
    caption: str,
    curve_rows: list[dict[str, Any]],
    point_rows: list[dict[str, Any]],
    *,
    columns: list[tuple[str, str]],
) -> Chart:
    """Expected rate by gallery size (``gallery_size``, ``rate``, ``series`` per row of
    ``curve_rows``, log-log) with simulated points and intervals (``point_rows``: also
    ``lower``, ``upper``)."""
    logx = alt.Scale(type="log")
    lines_ = (
        _chart(curve_rows)
        .mark_line()
        .encode(
            x=alt.X("gallery_size:Q", scale=logx, title="people in the gallery (log scale)"),
            y=alt.Y("rate:Q", title="false-match rate per search of someone not enrolled"),
            color=alt.Color("series:N", title=""),
        )
    )
    pts = _chart(point_rows).encode(
        x=alt.X("gallery_size:Q", scale=logx),
        tooltip=[alt.Tooltip(f"{k}:N", title=t) for k, t in columns],
    )
    rule = pts.mark_rule(color="black").encode(y="lower:Q", y2="upper:Q")
    dot = pts.mark_point(filled=True, color="black", size=60).encode(y="rate:Q")
    chart = alt.layer(lines_, rule, dot).properties(height=260)
    return _finish(chart_id, caption, chart, curve_rows + point_rows, columns)
