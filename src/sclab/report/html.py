"""The page: escaped HTML fragments, and the one self-contained document around them.

Core objects:
    :class:`Page`: sections built from text, tables, definition lists and charts. Every
        piece of text goes through :func:`html.escape` here, and nowhere else: a policy
        titled ``<script>...`` shows as text. The only markup is this module's own.
    :func:`Page.document`: the whole file: styles, the Vega, Vega-Lite and Vega-Embed
        JavaScript (vl-convert's offline bundle), the chart specs as JSON, and a content
        security policy that forbids the page to fetch anything.

Offline by construction: the document names no external script, style, font or image; its
content security policy (``default-src 'none'``) makes the browser refuse any request a
chart or a library might attempt; the specs' data is inline. Vega compiles its
expressions with ``Function``, hence ``'unsafe-eval'``; the scripts are inline, hence
``'unsafe-inline'``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape
from typing import Any

from sclab.report.charts import Chart

#: What marks an HTML file as an sclab report (in the first few hundred bytes).
SIGNATURE = '<meta name="generator" content="sclab report">'
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)

STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 980px; margin: 0 auto; padding: 1em 2em 4em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
.lede { font-size: 1.1em; }
.notice { background: #fff6d6; border-left: 4px solid #e0b000; padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.flag td { background: #fff0f0; }
caption { text-align: left; font-weight: 600; padding: 0.3em 0; }
figure.chart { margin: 1.2em 0; }
figcaption { font-size: 0.95em; color: #444; margin-bottom: 0.3em; }
details { margin: 0.4em 0; }
summary { cursor: pointer; color: #1f4e8c; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
code, .hash { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85em;
              overflow-wrap: anywhere; }
.big { font-size: 1.25em; }
nav ol { columns: 2; }
.cite { background: #f4f4f4; padding: 0.8em 1em; white-space: pre-wrap; }
"""

EMBED = """
(function () {
  var specs = JSON.parse(document.getElementById("sclab-specs").textContent);
  var options = {renderer: "svg", actions: {export: true, source: false, compiled: false,
                 editor: false}};
  var jobs = Object.keys(specs).map(function (id) {
    return vegaEmbed(document.getElementById(id), specs[id], options).catch(function (e) {
      console.error("chart " + id + " failed: " + e);
      throw e;
    });
  });
  Promise.allSettled(jobs).then(function (results) {
    var ok = results.filter(function (r) { return r.status === "fulfilled"; }).length;
    document.body.setAttribute("data-charts-rendered", String(ok));
    document.body.setAttribute("data-charts-failed", String(results.length - ok));
  });
})();
"""


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` can end it or
    open a comment, and the line separators JavaScript once rejected are escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    for raw, safe in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, safe)
    return text


def script_text(code: str) -> str:
    """JavaScript source safe inside a ``<script>`` element."""
    return code.replace("</script", "<\\/script").replace("<!--", "<\\!--")


@dataclass
class Section:
    """One section: an anchor id, a title and its HTML (built by :class:`Page`)."""

    id: str
    title: str
    parts: list[str] = field(default_factory=list)


@dataclass
class Page:
    """The report being built: sections in order, and every chart in them."""

    title: str
    sections: list[Section] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    # ---------------------------------------------------------------- building blocks

    def section(self, id: str, title: str) -> Section:
        s = Section(id, title)
        self.sections.append(s)
        return s

    @property
    def _current(self) -> Section:
        return self.sections[-1]

    def heading(self, text: str) -> None:
        self._current.parts.append(f"<h3>{escape(text)}</h3>")

    def p(self, text: str, css: str = "") -> None:
        cls = f' class="{css}"' if css else ""
        self._current.parts.append(f"<p{cls}>{escape(text)}</p>")

    def bullets(self, items: list[str]) -> None:
        if items:
            lis = "".join(f"<li>{escape(i)}</li>" for i in items)
            self._current.parts.append(f"<ul>{lis}</ul>")

    def facts(self, pairs: list[tuple[str, Any]]) -> None:
        body = "".join(f"<dt>{escape(k)}</dt><dd>{_cell(v)}</dd>" for k, v in pairs)
        self._current.parts.append(f'<dl class="facts">{body}</dl>')

    def table(
        self,
        columns: list[tuple[str, str]],
        rows: list[dict[str, Any]],
        caption: str = "",
        *,
        flag: str | None = None,
        collapsed: str | None = None,
    ) -> None:
        """A table of ``rows`` (``columns``: key, heading); rows whose ``flag`` field is
        true are highlighted; with ``collapsed``, the table sits in a closed
        ``<details>`` whose summary is that text."""
        html = _table(columns, rows, caption, flag)
        if collapsed is not None:
            html = f"<details><summary>{escape(collapsed)}</summary>{html}</details>"
        self._current.parts.append(html)

    def chart(self, chart: Chart) -> None:
        """A chart: its caption, its container, and its numbers in a closed ``<details>``."""
        self.charts.append(chart)
        table = _table(chart.columns, chart.rows, "", None)
        self._current.parts.append(
            f'<figure class="chart"><figcaption>{escape(chart.caption)}</figcaption>'
            f'<div class="vega" id="{escape(chart.id)}" role="img" '
            f'aria-label="{escape(chart.caption)}"></div>'
            f"<details><summary>The numbers in this chart</summary>{table}</details></figure>"
        )

    # ---------------------------------------------------------------- the document

    def document(self, javascript: str) -> str:
        """The whole HTML file, with ``javascript`` (the charting libraries) inline."""
        toc = "".join(
            f'<li><a href="#{escape(s.id)}">{escape(s.title)}</a></li>' for s in self.sections
        )
        body = "".join(
            f'<section id="{escape(s.id)}"><h2>{escape(s.title)}</h2>{"".join(s.parts)}</section>'
            for s in self.sections
        )
        specs = {c.id: c.spec for c in self.charts}
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{escape(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"{SIGNATURE}"
            f"<title>{escape(self.title)}</title><style>{STYLE}</style></head>\n"
            f"<body><header><h1>{escape(self.title)}</h1></header>"
            f"<nav><strong>Contents</strong><ol>{toc}</ol></nav>\n{body}\n"
            f'<script type="application/json" id="sclab-specs">{script_json(specs)}</script>\n'
            f"<script>{script_text(javascript)}</script>\n"
            f"<script>{EMBED}</script>\n</body></html>\n"
        )


def _table(
    columns: list[tuple[str, str]], rows: list[dict[str, Any]], caption: str, flag: str | None
) -> str:
    head = "".join(
        f'<th{_num_class(rows, k)} scope="col">{escape(label)}</th>' for k, label in columns
    )
    body = []
    for r in rows:
        cls = ' class="flag"' if flag and r.get(flag) else ""
        cells = "".join(f"<td{_num_class([r], k)}>{_cell(r.get(k))}</td>" for k, _ in columns)
        body.append(f"<tr{cls}>{cells}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _num_class(rows: list[dict[str, Any]], key: str) -> str:
    values = [r.get(key) for r in rows if r.get(key) is not None]
    numeric = values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    return ' class="n"' if numeric else ""


def _cell(value: Any) -> str:
    """A value as escaped text: numbers with separators, None as a dash."""
    return escape(fmt(value))


def fmt(value: Any) -> str:
    """A value as the report prints it: integers with thousands separators, small
    numbers with three significant digits, None as a dash, booleans as yes/no."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        if value == int(value) and abs(value) >= 1:
            return f"{int(value):,}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage (``0.0123`` → ``1.2%``)."""
    if x is None:
        return "-"
    return f"{100 * x:.{digits}f}%"
