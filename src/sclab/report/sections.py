"""The report's sections, in the order a reader asks: what is this, what happened, what
ran, then each system, the cameras, fairness, the law, calibration, and how to cite it.

Core objects: one function per section, each ``(page, data, ...) -> None`` adding a
section to the :class:`~sclab.report.html.Page` from a :class:`~sclab.report.data.RunData`
(:mod:`sclab.report.comparison` has the sections of a comparison). Every number comes
from an aggregate query over the run's tables or the audit's (``docs/report.md`` says
which); every piece of text read from the run (scenario, policies, reasons) reaches the
page through the page's escaping.

COST MODEL: each query groups the run's decision or daily tables (O(rows) in DuckDB, the
largest being ``harm_decisions``); what comes back is bounded by days x lists, months x
bins, groups x decisions, never by the population.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import yaml

from sclab.errors import SclabError
from sclab.report import charts
from sclab.report.camera import (
    CONDITIONS,
    MatcherFacts,
    condition_mix,
    curve,
    expected_vs_simulated,
    gallery_mix,
)
from sclab.report.data import RunData
from sclab.report.html import Page, fmt, pct
from sclab.report.settings import (
    ComponentParam,
    assumptions,
    component_assumptions,
    differences,
    scenario_document,
)
from sclab.yamlfile import load_yaml

#: Harm classes in the audit's order, with the words the report uses for them.
CLASSES = {
    "error": "by error (a record that named the wrong person, or was wrong)",
    "other_conduct": "for someone else's conduct (a parent's, a company's, a tie's)",
    "design": "by design (correct records of lawful conduct)",
    "rightful": "as the rule says, for a correct record of unlawful conduct",
}
#: Bins a score histogram is merged into, at most.
SCORE_BINS = 40
#: Runs longer than this many days are drawn by week in the daily charts.
DAILY_UP_TO = 120


def _class_order(name: str) -> int:
    return list(CLASSES).index(name) if name in CLASSES else len(CLASSES)


# ------------------------------------------------------------------------ what this is


def about(
    page: Page,
    data: RunData,
    matcher: MatcherFacts | None,
    components: list[ComponentParam] | None = None,
) -> None:
    info = data.info
    page.section("about", "What this is")
    page.p(
        f"This is a simulation. The {info['population']:,} people in it do not exist: they "
        "were drawn from published aggregate figures (district sizes, age and sex shares, "
        "migrant shares...). No record about a real person was used, no face was ever "
        "compared, and nothing here was published or enforced. What it shows is what the "
        "modelled scoring systems would do to a population like this one, under the "
        "assumptions below.",
        "lede notice",
    )
    page.p(
        "sclab runs the rules of published social-scoring systems on these people, records "
        "every decision beside the truth it rests on, then audits who was scored down, "
        "listed, shamed or blocked, and how many of them did nothing wrong."
    )
    page.heading("The assumptions behind the headline figures")
    page.bullets(
        [
            "Harm classes (docs/audit.md): each adverse decision counts once, in the first "
            "class that fits: error, someone else's conduct, design, rightful.",
            "A factor score mixes its inputs: an assessment with one record of unlawful "
            "conduct among them counts as rightful, so 'by design' is a lower bound for "
            "factor scores, and their 'by error' (any erroneous record in the window) an "
            "upper bound.",
            "Acts that were never recorded are not in the run's tables: among people who "
            "received no decision, a few unrecorded actors count as non-doers, which "
            "lowers the false-positive rates a little.",
            "Record errors and camera errors follow the components' parameters "
            "(docs/components.md gives each default, its source or its range as an "
            "Assumption); the settings this run changed are flagged below.",
        ]
    )
    if matcher is not None:
        page.p(
            f"Face matcher: operating point '{matcher.preset}', a false-match rate of "
            f"{matcher.fmr:.3g} per comparison for a reference gallery member and a miss "
            f"rate of {matcher.fnir:.3g} in good conditions. Its source and range: "
            f"{matcher.source}"
        )
    if data.has("fairness_rules", "audit"):
        rules = data.rows("SELECT name, value, meaning FROM audit.fairness_rules")
        page.table(
            [("name", "rule"), ("value", "value"), ("meaning", "meaning")],
            rules,
            collapsed="The fairness audit's rules (group sizes, intervals, age bands)",
        )
    doc = scenario_document(str(info.get("scenario_yaml") or ""))
    if components:
        rows = component_assumptions(doc, components)
        columns = [
            ("component", "component"),
            ("setting", "parameter"),
            ("value", "value in this run"),
            ("why", "the assumption and its range"),
        ]
        sensing = [r for r in rows if r["component"].startswith("sensors.")]
        if sensing:
            page.table(
                columns,
                sensing,
                "What the 'by error' figures rest on: the sensors' parameters that are "
                "assumptions (record linkage, cameras)",
            )
        page.table(
            columns,
            [r for r in rows if not r["component"].startswith("sensors.")],
            collapsed="The other components' parameters that are assumptions rather than "
            "published figures (sources of acts, behaviour, policies)",
        )
    page.table(
        [("setting", "setting"), ("value", "value in this run"), ("why", "the assumption")],
        assumptions(doc),
        collapsed="Scenario values that are assumptions rather than published figures",
    )
    page.heading("Settings that differ from the defaults")
    diffs = [d.row() | {"flag": True} for d in differences(doc, components)]
    if diffs:
        page.p(
            f"{len(diffs)} settings of this run are not the defaults (highlighted): the "
            "scenario schema's defaults, the built-in scenario of the same name, and the "
            "components' own defaults."
        )
        page.table(
            [
                ("setting", "setting"),
                ("value", "this run"),
                ("default", "default"),
                ("against", "compared with"),
                ("note", "note"),
            ],
            diffs,
            flag="flag",
        )
    else:
        page.p("Every setting of this run is the default.")


# ------------------------------------------------------------------------ the headline


def headline(page: Page, data: RunData) -> None:
    page.section("headline", "The headline")
    population = int(data.info["population"])
    classes = {r["class"]: r for r in data.rows("SELECT * FROM audit.harm_by_class")}
    harmed = data.value(
        "SELECT count(DISTINCT entity) FROM audit.harm_decisions WHERE entity_type = 'person'"
    )
    companies = data.value(
        "SELECT count(DISTINCT entity) FROM audit.harm_decisions WHERE entity_type = 'company'"
    )
    decisions = sum(int(r["decisions"]) for r in classes.values())
    page.p(
        f"Of {population:,} people, {harmed:,} ({pct(harmed / population if population else 0)}) "
        f"received at least one adverse decision over {data.info['days']} days: a "
        "sanction, a blacklist entry or a score loss "
        f"({decisions:,} decisions in all, {companies:,} companies among those named).",
        "big",
    )
    lines = []
    for name, words in CLASSES.items():
        r = classes.get(name, {})
        lines.append(
            f"{int(r.get('people') or 0):,} people were harmed {words} at least once "
            f"({int(r.get('decisions') or 0):,} decisions, "
            f"{pct(r.get('share') or 0)} of all adverse decisions)."
        )
    page.bullets(lines)
    rows = [
        {
            "class": name,
            "people": int(classes.get(name, {}).get("people") or 0),
            "companies": int(classes.get(name, {}).get("companies") or 0),
            "decisions": int(classes.get(name, {}).get("decisions") or 0),
            "order": _class_order(name),
        }
        for name in CLASSES
    ]
    page.chart(
        charts.bars(
            "chart-headline",
            "People who received at least one adverse decision of each harm class "
            "(a person can be in several).",
            rows,
            category=("class", "harm class"),
            value=("people", "people"),
            colour=("class", "harm class"),
            colours=charts.CLASS_COLOURS,
            columns=[
                ("class", "harm class"),
                ("people", "people"),
                ("companies", "companies"),
                ("decisions", "decisions"),
            ],
        )
    )
    if data.has("redress_overview", "audit"):
        _redress(page, data)


def _redress(page: Page, data: RunData) -> None:
    rows = data.rows("SELECT * FROM audit.redress_overview ORDER BY system, list")
    page.heading("Redress of wrongful list entries")
    wrongful = sum(int(r["wrongful_entries"]) for r in rows)
    if not rows:
        page.p("No blacklist entry was made in this run.")
        return
    corrected = sum(int(r["wrongful_corrected"]) for r in rows)
    still = sum(int(r["wrongful_still_listed"]) for r in rows)
    late = sum(int(r["wrongful_late"]) for r in rows)
    page.p(
        f"{wrongful:,} blacklist entries rested on an erroneous record; {corrected:,} were "
        f"corrected (removed by objection, appeal, repair or performance), {late:,} of them "
        f"later than the rule's own deadline, and {still:,} were still on the list when the "
        "run ended."
    )
    page.table(
        [
            ("system", "system"),
            ("list", "list"),
            ("entries", "entries"),
            ("wrongful_entries", "wrongful"),
            ("wrongful_corrected", "corrected"),
            ("wrongful_median_days_to_correction", "median days to correction"),
            ("wrongful_expired", "expired uncorrected"),
            ("wrongful_still_listed", "still listed"),
            ("wrongful_late", "corrected late"),
            ("rightful_late", "rightful corrected late"),
        ],
        rows,
        "Blacklist entries and their redress, per list (audit: redress_overview)",
    )


# ------------------------------------------------------------------------ what ran


def what_ran(page: Page, data: RunData) -> None:
    info = data.info
    page.section("ran", "What ran")
    start = info.get("start_date")
    days = int(info["days"])
    end = start + dt.timedelta(days=days - 1) if isinstance(start, dt.date) else None
    doc = scenario_document(str(info.get("scenario_yaml") or ""))
    components = data.manifest.info.get("components")
    page.facts(
        [
            ("scenario", info.get("scenario")),
            ("description", " ".join(str(doc.get("description") or "").split()) or None),
            ("population", int(info["population"])),
            ("days", f"{days:,}, from {start} to {end}"),
            ("seed", str(info.get("seed"))),
            ("components", ", ".join(map(str, components)) if components else None),
            ("sclab version", info.get("sclab_version")),
            ("run started (UTC)", info.get("created_utc")),
            ("Python", info.get("python")),
            ("platform", info.get("platform")),
        ]
    )
    policies = data.rows(
        "SELECT policy_id, system::VARCHAR AS system, component, source, sha256, yaml "
        "FROM policies ORDER BY policy_id"
    )
    page.heading("Policies and their rules")
    if not policies:
        page.p("No policy ran: the run simulated acts and records only.")
    for p in policies:
        doc = _policy_doc(p["yaml"])
        page.p(f"{p['policy_id']}: {doc.get('title') or '(no title)'}")
        page.facts(
            [
                ("system", p["system"]),
                ("source", p["source"]),
                ("what it models", " ".join(str(doc.get("description") or "").split()) or None),
                ("SHA-256 of its text", p["sha256"]),
            ]
        )
        rules = [
            {
                "what": what,
                "id": r.get("id"),
                "definition": _definition(r),
                "description": " ".join(str(r.get("description") or "").split()) or None,
            }
            for what, key in (("rule", "rules"), ("joint measure", "joint"))
            for r in (doc.get(key) or [])
            if isinstance(r, dict)
        ]
        page.table(
            [
                ("what", ""),
                ("id", "id"),
                ("definition", "definition"),
                ("description", "what it does, and its source"),
            ],
            rules,
            f"{p['policy_id']}: rules and joint measures",
        )
    page.heading("Inputs and their hashes")
    page.table(
        [("input", "input"), ("sha256", "SHA-256")],
        _hashes(data),
        "The scenario as run and each policy text (run_info, policies); the digest of the "
        "run's tables (audit_info)",
    )
    packages = info.get("packages")
    if packages:
        page.table(
            [("packages", "installed packages (name: version)")],
            [{"packages": str(packages)}],
            collapsed="Software versions",
        )


def _policy_doc(text: str) -> dict[str, Any]:
    try:
        doc = load_yaml(text or "{}", "policies.yaml", SclabError).data
    except SclabError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _definition(entry: dict[str, Any], limit: int = 400) -> str:
    """A rule's or measure's mechanics as compact YAML (``when: {...}; effects: [...]``)."""
    parts = []
    for key, value in entry.items():
        if key in ("id", "description"):
            continue
        text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
        parts.append(f"{key}: {text.removesuffix('...').strip()}")
    out = "; ".join(parts)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _hashes(data: RunData) -> list[dict[str, Any]]:
    rows = [
        {"input": "scenario (run_info.scenario_yaml)", "sha256": data.info.get("scenario_sha256")}
    ]
    for p in data.rows("SELECT policy_id, sha256 FROM policies ORDER BY policy_id"):
        rows.append({"input": f"policy {p['policy_id']}", "sha256": p["sha256"]})
    digest = data.value("SELECT run_tables_sha256 FROM audit.audit_info")
    rows.append({"input": "the run's tables (audit_info.run_tables_sha256)", "sha256": digest})
    return rows


# ------------------------------------------------------------------------ per system


def systems(page: Page, data: RunData) -> None:
    page.section("systems", "System by system")
    names = [
        r["system"]
        for r in data.rows(
            "SELECT DISTINCT system::VARCHAR AS system FROM policies ORDER BY system"
        )
    ]
    if not names:
        page.p("No scoring system ran.")
    for n, system in enumerate(names):
        page.heading(system)
        totals = data.rows("SELECT * FROM audit.harm_by_system WHERE system::VARCHAR = ?", [system])
        if totals:
            t = totals[0]
            page.p(
                f"{int(t['decisions']):,} adverse decisions: {int(t['error']):,} by error, "
                f"{int(t['other_conduct']):,} for someone else's conduct, "
                f"{int(t['design']):,} by design, {int(t['rightful']):,} rightful; "
                f"{int(t['people']):,} people and {int(t['companies']):,} companies named."
            )
        else:
            page.p("No adverse decision.")
        _scores(page, data, system, n)
        _lists(page, data, system, n)
        _domains(page, data, system, n)


def _nice_width(span: float, bins: int) -> float:
    """The smallest 1, 2 or 5 times a power of ten that covers ``span`` in ``bins``."""
    raw = max(span / bins, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _scores(page: Page, data: RunData, system: str, n: int) -> None:
    if not data.has("score_histograms"):
        return
    scores = data.rows(
        "SELECT score::VARCHAR AS score, entity_type::VARCHAR AS entity_type, "
        "min(lower) AS lo, max(upper) AS hi FROM score_histograms "
        "WHERE system::VARCHAR = ? GROUP BY ALL ORDER BY ALL",
        [system],
    )
    for k, s in enumerate(scores):
        width = _nice_width(float(s["hi"]) - float(s["lo"]), SCORE_BINS)
        rows = data.rows(
            "WITH h AS (SELECT strftime(month, '%Y-%m') AS month, day, "
            "  floor(lower / ?) * ? AS bin, count FROM score_histograms "
            "  WHERE system::VARCHAR = ? AND score::VARCHAR = ? AND entity_type::VARCHAR = ?) "
            "SELECT month, any_value(day) AS day, bin, sum(count)::BIGINT AS entities, "
            "  sum(count) / sum(sum(count)) OVER (PARTITION BY month) AS share "
            "FROM h GROUP BY month, bin ORDER BY month, bin",
            [width, width, system, s["score"], s["entity_type"]],
        )
        for r in rows:
            r["bin"] = fmt(float(r["bin"]))
            r["share"] = round(float(r["share"]), 5)
        page.chart(
            charts.heatmap(
                f"chart-scores-{n}-{k}",
                f"{system}: distribution of {s['entity_type']}s' {s['score']} at the end of "
                f"each month (bins of {fmt(width)}; darker: a larger share of those scored).",
                rows,
                x=("bin", f"{s['score']} (bin start)"),
                y=("month", "month"),
                colour=("share", "share of those scored"),
                columns=[
                    ("month", "month"),
                    ("day", "day"),
                    ("bin", "bin start"),
                    ("entities", "entities"),
                    ("share", "share"),
                ],
            )
        )


def _period(days: int) -> int:
    return 1 if days <= DAILY_UP_TO else 7


def _lists(page: Page, data: RunData, system: str, n: int) -> None:
    if not data.has("daily_stats"):
        return
    days = int(data.info["days"])
    p = _period(days)
    unit = "day" if p == 1 else "week"
    stock = data.rows(
        "SELECT item AS list, day, count AS listed, wrongful FROM daily_stats "
        "WHERE system::VARCHAR = ? AND measure::VARCHAR = 'listed' "
        "AND ((day + 1) % ? = 0 OR day = ?) ORDER BY item, day",
        [system, p, days - 1],
    )
    if not stock:
        return
    rows = []
    for r in stock:
        rows.append(
            {
                "list": r["list"],
                "day": r["day"],
                "series": f"{r['list']}: listed",
                "entities": r["listed"],
            }
        )
        rows.append(
            {
                "list": r["list"],
                "day": r["day"],
                "series": f"{r['list']}: listed by a wrongful entry",
                "entities": r["wrongful"],
            }
        )
    page.chart(
        charts.lines(
            f"chart-stock-{n}",
            f"{system}: entities on each list at the end of each {unit}, and those listed "
            "by a wrongful entry (entries made before the run included).",
            rows,
            x=("day", "day"),
            y=("entities", "entities listed"),
            series=("series", "list"),
            columns=[("day", "day"), ("series", "list"), ("entities", "entities")],
            step=True,
        )
    )
    flows = data.rows(
        "SELECT item AS list, measure::VARCHAR AS measure, (day // ?) * ? AS day, "
        "sum(count)::BIGINT AS n, sum(wrongful)::BIGINT AS wrongful FROM daily_stats "
        "WHERE system::VARCHAR = ? AND measure::VARCHAR IN ('list_entries', 'list_exits') "
        "GROUP BY ALL ORDER BY list, measure, day",
        [p, p, system],
    )
    rows = []
    words = {"list_entries": "entries", "list_exits": "exits"}
    for r in flows:
        rows.append(
            {"day": r["day"], "series": f"{r['list']}: {words[r['measure']]}", "count": r["n"]}
        )
        if r["measure"] == "list_entries":
            rows.append(
                {
                    "day": r["day"],
                    "series": f"{r['list']}: wrongful entries",
                    "count": r["wrongful"],
                }
            )
    if rows:
        page.chart(
            charts.lines(
                f"chart-flows-{n}",
                f"{system}: entries onto and exits from each list per {unit} "
                f"(from the {unit} starting on the day shown), wrongful entries apart.",
                rows,
                x=("day", f"{unit} starting on day"),
                y=("count", f"per {unit}"),
                series=("series", "flow"),
                columns=[("day", "day"), ("series", "flow"), ("count", "count")],
            )
        )


def _domains(page: Page, data: RunData, system: str, n: int) -> None:
    rows = data.rows(
        "SELECT domain, class, count(*) AS decisions, "
        "count(DISTINCT entity) FILTER (WHERE entity_type = 'person') AS people "
        "FROM audit.harm_decisions WHERE system::VARCHAR = ? GROUP BY ALL",
        [system],
    )
    if not rows:
        return
    for r in rows:
        r["order"] = _class_order(r["class"])
    rows.sort(key=lambda r: (str(r["domain"]), r["order"]))
    page.chart(
        charts.bars(
            f"chart-domains-{n}",
            f"{system}: adverse decisions by domain of life, wrongful (by error, for "
            "others' conduct, by design) beside rightful.",
            rows,
            category=("domain", "domain"),
            value=("decisions", "decisions"),
            colour=("class", "harm class"),
            colours=charts.CLASS_COLOURS,
            columns=[
                ("domain", "domain"),
                ("class", "harm class"),
                ("decisions", "decisions"),
                ("people", "people"),
            ],
        )
    )


# ------------------------------------------------------------------------ cameras


def cameras(page: Page, data: RunData, matcher: MatcherFacts | None) -> None:
    page.section("cameras", "The camera network")
    if data.count("identifications") == 0:
        page.p("No camera identification was attempted in this run (no camera network).")
        return
    totals = data.rows(
        "SELECT probe_subject::VARCHAR AS subject, outcome::VARCHAR AS outcome, "
        "count(*) AS searches FROM identifications GROUP BY ALL ORDER BY ALL"
    )
    n = sum(r["searches"] for r in totals)
    by = {
        o: sum(r["searches"] for r in totals if r["outcome"] == o)
        for o in ("correct", "false_match", "miss")
    }
    page.p(
        f"{n:,} faces were searched against the gallery: {by['correct']:,} named the right "
        f"person, {by['false_match']:,} named someone else (a false match) and "
        f"{by['miss']:,} named nobody (a miss: a jaywalker not enrolled, or not recognised)."
    )
    for r in totals:
        r["order"] = ("correct", "false_match", "miss").index(r["outcome"])
    page.chart(
        charts.bars(
            "chart-camera-outcomes",
            "Identifications by who stood in front of the camera and what the matcher named.",
            totals,
            category=("subject", "who was in front of the camera"),
            value=("searches", "searches"),
            colour=("outcome", "outcome"),
            colours={"correct": "#2ca02c", "false_match": "#d62728", "miss": "#bbbbbb"},
        )
    )
    cond = data.rows(
        " UNION ALL ".join(
            f"SELECT '{c}: ' || CASE WHEN {c} THEN 'yes' ELSE 'no' END AS condition, "
            f"outcome::VARCHAR AS outcome, count(*) AS searches FROM identifications "
            f"GROUP BY ALL"
            for c in CONDITIONS
        )
        + " ORDER BY condition, outcome"
    )
    for r in cond:
        r["order"] = ("correct", "false_match", "miss").index(r["outcome"])
    page.chart(
        charts.bars(
            "chart-camera-conditions",
            "Share of each outcome by capture condition (night, helmet, sunglasses, mask).",
            cond,
            category=("condition", "condition"),
            value=("searches", "share of searches"),
            colour=("outcome", "outcome"),
            colours={"correct": "#2ca02c", "false_match": "#d62728", "miss": "#bbbbbb"},
            normalise=True,
        )
    )
    _named_by_group(page, data)
    _expected(page, data, matcher)


def _named_by_group(page: Page, data: RunData) -> None:
    rows = data.rows(
        "WITH g AS (SELECT sex::VARCHAR AS sex, least(age // 10, 9) AS band, count(*) AS members "
        "  FROM citizens WHERE in_id_photo_db OR in_driver_db GROUP BY ALL), "
        "f AS (SELECT c.sex::VARCHAR AS sex, least(c.age // 10, 9) AS band, "
        "  count(*) AS false_namings FROM identifications i JOIN events e USING (event_id) "
        "  JOIN citizens c ON c.person_id = e.attributed_to "
        "  WHERE i.outcome = 'false_match' AND e.entity_type = 'person' GROUP BY ALL) "
        "SELECT g.sex, g.band, g.members, coalesce(f.false_namings, 0) AS false_namings "
        "FROM g LEFT JOIN f USING (sex, band) ORDER BY g.sex, g.band"
    )
    for r in rows:
        band = int(r.pop("band"))
        r["group"] = f"{r['sex']} {10 * band}-{10 * band + 9}" if band < 9 else f"{r['sex']} 90+"
        r["per_100k"] = round(1e5 * r["false_namings"] / r["members"], 3) if r["members"] else 0
    page.chart(
        charts.bars(
            "chart-camera-groups",
            "False namings per 100,000 gallery members, by the wrongly named person's sex and "
            "age band (misses name nobody, so cannot be placed in a group).",
            rows,
            category=("group", "sex and age band"),
            value=("per_100k", "false namings per 100,000 members"),
            colour=("sex", "sex"),
            columns=[
                ("group", "group"),
                ("members", "gallery members"),
                ("false_namings", "false namings"),
                ("per_100k", "per 100,000 members"),
            ],
        )
    )


def _expected(page: Page, data: RunData, matcher: MatcherFacts | None) -> None:
    page.heading("Expected false matches by gallery size, beside the simulated ones")
    if matcher is None:
        page.p(
            "The matcher's settings were not given to the report (the `sclab report` "
            "command resolves them from the scenario as run), so the expected rate is not "
            "drawn. Each false match above is a simulated one."
        )
        return
    points = expected_vs_simulated(data, matcher)
    if not points:
        page.p(
            "Every face searched was enrolled in the gallery: no search of someone not "
            "enrolled to compare with the expected rate."
        )
        return
    gallery = gallery_mix(data, matcher)
    largest = max(p["gallery_size"] for p in points)
    rows = curve(matcher, gallery, condition_mix(data, matcher), largest)
    simulated = [p | {"series": "simulated (95% interval)"} for p in points]
    page.p(
        "A search of someone not enrolled names somebody with probability "
        "1 - (1 - FMR x m)^N for a gallery of N people: false matches grow with the gallery. "
        f"Here FMR = {matcher.fmr:.3g} per comparison (preset '{matcher.preset}'); m, the "
        "demographic multiplier of the probe's lookalikes (people of its sex and 10-year age "
        f"band), averages {gallery.mean_multiplier:.3g} over the {gallery.size:,} gallery "
        "members, and the recorded capture conditions multiply it further. The expected "
        "rate averages over the sexes and ages of the residents the cameras identified "
        "(the run records no one's sex or age for the others)."
    )
    page.chart(
        charts.curve(
            "chart-camera-expected",
            "False-match rate per search of someone not enrolled: expected by gallery size "
            "(lines) and simulated in this run (points with 95% intervals).",
            rows,
            simulated,
            columns=[
                ("gallery_size", "gallery size"),
                ("series", "series"),
                ("rate", "rate"),
                ("lower", "lower"),
                ("upper", "upper"),
                ("searches", "searches"),
                ("false_matches", "false matches"),
            ],
        )
    )
    page.table(
        [
            ("gallery_size", "gallery size"),
            ("searches", "searches of people not enrolled"),
            ("false_matches", "false matches"),
            ("rate", "simulated rate"),
            ("lower", "95% lower"),
            ("upper", "95% upper"),
            ("expected", "expected rate"),
        ],
        points,
        "Simulated beside expected at the run's gallery size",
    )


# ------------------------------------------------------------------------ fairness


def fairness(page: Page, data: RunData) -> None:
    page.section("fairness", "Fairness by group")
    if not data.has("fairness_groups", "audit"):
        page.p("This audit has no fairness tables (made by an older sclab).")
        return
    page.p(
        "For each decision on people: the share of each group who received it (rate) and, "
        "among those who did not commit the act it answers, the share who received it all "
        "the same (false-positive rate), with 95% intervals and the group's size. Faint "
        "points are groups too small to judge (docs/fairness.md); they are shown, never "
        "hidden. Groups of two attributes at once are in audit.duckdb (fairness_groups)."
    )
    decisions = data.rows(
        "SELECT * FROM audit.fairness_decisions WHERE recipients > 0 ORDER BY system, decision"
    )
    if not decisions:
        page.p("No decision named a person in this run.")
    for k, d in enumerate(decisions):
        groups = data.rows(
            "SELECT attribute_1 AS attribute, group_1 AS grp, people, recipients, rate, "
            "rate_lower, rate_upper, rate_small, rate_small_reason, non_doers, "
            "false_positives, fpr, fpr_lower, fpr_upper, fpr_small "
            "FROM audit.fairness_groups WHERE decision = ? AND attribute_2 IS NULL "
            "ORDER BY attribute_1, group_1",
            [d["decision"]],
        )
        truth = d.get("wrongly_received") is not None
        rows = fairness_rows(groups, [f"{g['attribute']}: {g['grp']}" for g in groups], truth)
        what = "a reward" if d.get("beneficial") else "an adverse decision"
        wrong = (
            f"; {int(d['wrongly_received']):,} of them had not committed the act it answers"
            if truth
            else "; no recorded act stands behind it, so it has no false-positive rate"
        )
        page.heading(d["decision"])
        page.p(f"{what.capitalize()}: {int(d['recipients']):,} people received it{wrong}.")
        page.chart(fairness_chart(k, d["decision"], rows, "group"))


def fairness_rows(
    groups: list[dict[str, Any]], labels: list[str], truth: bool
) -> list[dict[str, Any]]:
    """The fairness chart's rows: per group (``labels``, one a group), its rate and, where
    the decision answers an act (``truth``), its false-positive rate, each with its
    interval, denominator and small-group flag."""
    rows: list[dict[str, Any]] = []
    for g, label in zip(groups, labels, strict=True):
        rows.append(
            {"group": label, "measure": "rate", "value": g["rate"],
             "lower": g["rate_lower"], "upper": g["rate_upper"], "people": g["people"],
             "received": g["recipients"], "small": bool(g["rate_small"])}
        )  # fmt: skip
        if truth and g["fpr"] is not None:
            rows.append(
                {"group": label, "measure": "false-positive rate", "value": g["fpr"],
                 "lower": g["fpr_lower"], "upper": g["fpr_upper"],
                 "people": g["non_doers"], "received": g["false_positives"],
                 "small": bool(g["fpr_small"])}
            )  # fmt: skip
    return rows


def fairness_chart(k: int, decision: str, rows: list[dict[str, Any]], by: str) -> charts.Chart:
    """Decision ``k``'s rate and false-positive rate by group (``by`` names the grouping
    in the caption), with 95% intervals, faint where a group is too small to judge."""
    return charts.intervals(
        f"chart-fairness-{k}",
        f"{decision}: rate and false-positive rate by {by}, with 95% intervals "
        "(faint: too small to judge).",
        rows,
        category=("group", "group"),
        value=("value", "share of the group"),
        lower="lower",
        upper="upper",
        series=("measure", "measure"),
        faint="small",
        columns=[
            ("group", "group"),
            ("measure", "measure"),
            ("people", "people (denominator)"),
            ("received", "received"),
            ("value", "rate"),
            ("lower", "95% lower"),
            ("upper", "95% upper"),
            ("small", "too small to judge"),
        ],
    )


# ------------------------------------------------------------------------ the law


VERDICT_MARKS = {
    "prohibited": "✗ prohibited",
    "needs review": "? needs review",
    "permitted": "✓ permitted",
    "not applicable": "·",
}


@dataclass(frozen=True)
class ClauseFacts:
    """A legal clause as the report names it (``sclab report`` passes them from
    ``sclab.legal.clauses``, which the report does not import).

    Attributes:
        id: The ``clause`` column of ``law_verdicts``.
        label: Its short name (``AI 5(1)(c)(i)``).
        title: Its subject in a few words.
    """

    id: str
    label: str
    title: str


def _clause_name(clause: str, known: dict[str, ClauseFacts]) -> str:
    """``label: title (id)`` for a known clause, the id alone otherwise."""
    c = known.get(clause)
    return f"{c.label}: {c.title} ({clause})" if c else clause


def law(page: Page, data: RunData, clauses: list[ClauseFacts] | None = None) -> None:
    page.section("law", "Each rule against the law")
    if not data.has("law_verdicts", "audit"):
        page.p("This audit has no legal verdicts (made by an older sclab).")
        return
    verdicts = data.rows(
        "SELECT policy_id, rule_id, clause, verdict, reason FROM audit.law_verdicts "
        "ORDER BY policy_id, rule_id, clause"
    )
    if not verdicts:
        page.p("No rule or measure to assess.")
        return
    page.p(
        "Each rule and joint measure of the policies that ran, under each clause: the EU AI "
        "Act's prohibitions, the GDPR's articles on biometric data and automated decisions, "
        "and China's own provisions (docs/legal.md says how each verdict is reached). A "
        "verdict is sclab's reading of the rule's text, not a court's."
    )
    known = {c.id: c for c in clauses or []}
    counts: dict[tuple[str, str], int] = {}
    for v in verdicts:
        counts[(v["clause"], v["verdict"])] = counts.get((v["clause"], v["verdict"]), 0) + 1
    order = list(VERDICT_MARKS)
    rows = [
        {
            "clause": known[c].label if c in known else c,
            "id": c,
            "title": known[c].title if c in known else None,
            "verdict": v,
            "rules": n,
            "order": order.index(v) if v in order else 9,
        }
        for (c, v), n in sorted(counts.items())
    ]
    page.chart(
        charts.bars(
            "chart-law",
            "Rules and measures by verdict under each clause.",
            rows,
            category=("clause", "clause"),
            value=("rules", "rules and measures"),
            colour=("verdict", "verdict"),
            colours={
                "prohibited": "#d62728",
                "needs review": "#e0b000",
                "permitted": "#2ca02c",
                "not applicable": "#dddddd",
            },
            columns=[
                ("clause", "clause"),
                ("title", "what it is about"),
                ("id", "clause id"),
                ("verdict", "verdict"),
                ("rules", "rules and measures"),
            ],
        )
    )
    ids = sorted({v["clause"] for v in verdicts})
    if known:
        page.table(
            [("label", "clause"), ("title", "what it is about"), ("id", "clause id")],
            [
                {"label": known[c].label, "title": known[c].title, "id": c}
                if c in known
                else {"label": c, "title": None, "id": c}
                for c in ids
            ],
            "The clauses (docs/legal.md gives what each says and how its verdict is reached)",
        )
    matrix: dict[tuple[str, str], dict[str, Any]] = {}
    for v in verdicts:
        row = matrix.setdefault(
            (v["policy_id"], v["rule_id"]), {"policy": v["policy_id"], "rule": v["rule_id"]}
        )
        row[v["clause"]] = VERDICT_MARKS.get(v["verdict"], v["verdict"])
        if v["verdict"] == "prohibited":
            row["flag"] = True
    page.table(
        [
            ("policy", "policy"),
            ("rule", "rule"),
            *((c, known[c].label if c in known else c) for c in ids),
        ],
        list(matrix.values()),
        "Verdicts, rule by rule (highlighted: a prohibition applies)",
        flag="flag",
    )
    page.table(
        [
            ("policy_id", "policy"),
            ("rule_id", "rule"),
            ("clause", "clause"),
            ("verdict", "verdict"),
            ("reason", "reason"),
        ],
        [
            v | {"clause": _clause_name(v["clause"], known)}
            for v in verdicts
            if v["verdict"] != "not applicable"
        ],
        collapsed="The reason of every verdict that applies",
    )


# ------------------------------------------------------------------------ calibration


def calibration(page: Page, data: RunData) -> None:
    page.section("calibration", "Calibration and validation")
    if not data.has("calibration", "audit"):
        page.p("This audit has no calibration table (made by an older sclab).")
        return
    rows = data.rows("SELECT * FROM audit.calibration ORDER BY role, figure")
    page.p(
        "Published figures beside the run's simulated counterparts, scaled to each figure's "
        "population and period. Calibration figures are those the defaults were tuned to; "
        "validation figures were not tuned to, so they test the model. A verdict 'matches' "
        "when simulated / published lies within the figure's tolerance band."
    )
    comparable = [r for r in rows if r.get("ratio") is not None and r["ratio"] > 0]
    if comparable:
        page.chart(calibration_chart(comparable))
    for role in sorted({str(r["role"]) for r in rows}):
        page.table(
            [
                ("figure", "figure"),
                ("description", "what"),
                ("published", "published"),
                ("simulated", "simulated"),
                ("ratio", "ratio"),
                ("verdict", "verdict"),
                ("unit", "unit"),
                ("note", "note"),
                ("source", "source"),
            ],
            [r for r in rows if r["role"] == role],
            f"{role.capitalize()} figures",
        )


# ------------------------------------------------------------------------ cite


#: The columns of the calibration chart's rows (and of its table of numbers).
CALIBRATION_COLUMNS = ("figure", "role", "ratio", "tolerance_low", "tolerance_high", "verdict")


def calibration_chart(comparable: list[dict[str, Any]]) -> charts.Chart:
    """Simulated / published for each comparable figure (rows of ``audit.calibration``
    with a positive ratio) on a log scale, beside its tolerance band."""
    return charts.ratios(
        "chart-calibration",
        "Simulated / published for each comparable figure (log scale), beside its "
        "tolerance band (green); the dashed line is equality.",
        [{k: r[k] for k in CALIBRATION_COLUMNS} for r in comparable],
        category=("figure", "figure"),
        columns=[
            ("figure", "figure"),
            ("role", "role"),
            ("ratio", "ratio"),
            ("tolerance_low", "band low"),
            ("tolerance_high", "band high"),
            ("verdict", "verdict"),
        ],
    )


def cite(page: Page, data: RunData, created: str) -> None:
    info = data.info
    page.section("cite", "Cite this run")
    policies = data.rows("SELECT policy_id, sha256 FROM policies ORDER BY policy_id")
    digest = data.value("SELECT run_tables_sha256 FROM audit.audit_info")
    lines = [
        f"sclab {info.get('sclab_version')}, simulated run '{info.get('scenario')}': "
        f"{int(info['population']):,} synthetic people, {info['days']} days from "
        f"{info.get('start_date')}, seed {info.get('seed')}; run made {info.get('created_utc')}, "
        f"report made {created}.",
        f"Scenario SHA-256: {info.get('scenario_sha256')}",
        *(f"Policy {p['policy_id']} SHA-256: {p['sha256']}" for p in policies),
        f"Run tables digest (SHA-256): {digest}",
        "Reproduce: sclab rerun RUN_DIR --out NEW (the same seed and inputs give identical "
        "tables).",
    ]
    page.p("\n".join(lines), "cite")
