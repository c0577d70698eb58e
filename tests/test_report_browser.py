"""The report in a real browser: headless Chromium, cut off the network, loads the file
and renders every chart, with no console error, no request leaving the file, and the
markup planted in a policy and a scenario shown as text and never run; the run has a
twin, so the comparison's charts are among them.

Chromium comes from the system (Debian's ``chromium``; ``.ci/run`` installs it). Outside
CI a machine without it skips this test, saying why; in CI (``CI`` set) it fails instead.
A screenshot of the whole page is kept in ``runs/report-browser/`` for a person to look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.cdp import Browser, find_chromium
from tests.conftest import HOSTILE_RULE, HOSTILE_SCENARIO, HOSTILE_TITLE

from sclab.report import REPORT

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT = ROOT / "runs" / "report-browser" / "screenshot.png"

#: True once every chart has been embedded (or has failed): set by the page's own script.
READY = "document.body && document.body.hasAttribute('data-charts-rendered')"

#: Per chart container: its id, whether Vega drew an SVG, how many marks it holds (the
#: items of every data mark group), and the "Save as SVG / PNG" links of its menu.
CHARTS = """JSON.stringify(Array.from(document.querySelectorAll('div.vega')).map(el => ({
  id: el.id,
  svg: el.querySelector('svg') !== null,
  marks: el.querySelectorAll('svg g.role-mark > *').length,
  saves: Array.from(el.querySelectorAll('.vega-actions a')).map(a => a.textContent)
})))"""


@pytest.fixture(scope="module")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        message = (
            "no Chromium on PATH: install it (Debian: apt-get install -y chromium) to run "
            "the report's browser test"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_report_renders_offline_in_chromium(hostile_run, chromium: str) -> None:
    run_dir, _ = hostile_run
    browser = Browser(chromium)
    try:
        browser.offline()
        browser.load(run_dir / REPORT, READY)
        charts = json.loads(browser.evaluate(CHARTS))
        rendered = browser.evaluate("document.body.getAttribute('data-charts-rendered')")
        failed = browser.evaluate("document.body.getAttribute('data-charts-failed')")
        pwned = browser.evaluate("typeof window.__pwned")
        text = browser.evaluate("document.body.innerText")
        frames = browser.evaluate("document.querySelectorAll('iframe, img, object').length")
        browser.screenshot(SCREENSHOT)
        browser.drain()
        errors, requests = browser.errors(), browser.requests()
    finally:
        browser.close()

    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:", "blob:"))] == []
    assert len(charts) >= 10
    # With its twin: the comparison's charts are drawn as well.
    assert {"chart-effects-deterrence", "chart-effects-price"} <= {c["id"] for c in charts}
    assert (int(rendered), int(failed)) == (len(charts), 0)
    for chart in charts:
        assert chart["svg"] and chart["marks"] > 0, chart
        assert {"Save as SVG", "Save as PNG"} <= set(chart["saves"]), chart
    assert pwned == "undefined" and frames == 0
    flat = " ".join(text.split())
    for hostile in (HOSTILE_TITLE, HOSTILE_RULE, HOSTILE_SCENARIO):
        assert " ".join(hostile.split()) in flat
    assert SCREENSHOT.stat().st_size > 10_000
