"""Mechanisms of a run that never did anything, found in its recorded tables.

Core objects:
    :class:`Inert`: one switched-on mechanism that produced nothing: a component, a
        policy rule or a joint measure, with what was looked for.
    :func:`find_inert`: every such mechanism of the run in a database connection.
    :func:`inert_columns`: the rows of the ``inert`` table.

Why: a mechanism that is switched on but silent (cameras that capture nobody, a rule on a
kind the run never records, a joint measure on a moment nobody attempts) makes a run look
as though it models something it does not. The run says so at its end instead of leaving
a reader to notice an empty table.

What counts as produced, per component (from the ``kinds`` table, which names the
component that produces each kind of the run):

- a source: an act of one of its kinds (``true_act_totals`` or ``aggregates``);
- a sensor: a record of one of its kinds in ``events`` (for the cameras, an
  identification that named someone);
- a source of resource moments: an attempt in ``moment_counts``.

A policy rule has fired when its id is on a score change, list entry or sanction of its
system; a joint measure has applied when a sanction of its system carries its id on one
of its moments. Behaviour components declare no kinds and are not checked here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import yaml

ItemType = Literal["component", "rule", "joint_measure"]


@dataclass(frozen=True)
class Inert:
    """One mechanism that was switched on and produced nothing."""

    component: str  # stage:name (sources:streets) or the policy's component
    item_type: ItemType
    item: str  # the component itself, or the rule's or joint measure's id
    detail: str  # what was looked for and not found

    def line(self) -> str:
        """One line for a summary."""
        what = {"component": "component", "rule": "rule", "joint_measure": "joint measure"}
        if self.item_type == "component":
            return f"{self.component}: {self.detail}"
        return f"{self.component}: {what[self.item_type]} '{self.item}' {self.detail}"


def find_inert(con: duckdb.DuckDBPyConnection) -> list[Inert]:
    """Every switched-on component, rule and joint measure that produced nothing, in the
    run whose tables ``con`` holds (components first, then each policy's rules and joint
    measures in the order the policy declares them)."""
    return _silent_components(con) + _silent_policy_parts(con)


def inert_columns(items: list[Inert]) -> dict[str, list[str]]:
    """The ``inert`` table's columns."""
    return {
        "component": [i.component for i in items],
        "item_type": [i.item_type for i in items],
        "item": [i.item for i in items],
        "detail": [i.detail for i in items],
    }


def _names(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    return {str(r[0]) for r in con.execute(sql).fetchall()}


def _silent_components(con: duckdb.DuckDBPyConnection) -> list[Inert]:
    seen = {
        "act": _names(con, "SELECT kind FROM true_act_totals WHERE acts > 0")
        | _names(con, "SELECT DISTINCT kind FROM aggregates WHERE count > 0"),
        "event": _names(con, "SELECT DISTINCT kind FROM events"),
        "moment": _names(con, "SELECT DISTINCT kind FROM moment_counts WHERE attempts > 0"),
    }
    produces: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    rows = con.execute(
        "SELECT produced_by, category, name FROM kinds WHERE produced_by IS NOT NULL "
        "ORDER BY produced_by, category, name"
    ).fetchall()
    for component, category, name in rows:
        produces[str(component)][str(category)].append(str(name))
    out = []
    for component, by_category in produces.items():
        if any(set(names) & seen.get(cat, set()) for cat, names in by_category.items()):
            continue
        out.append(Inert(component, "component", component, _nothing(con, by_category)))
    return out


def _nothing(con: duckdb.DuckDBPyConnection, by_category: dict[str, list[str]]) -> str:
    """What a silent component was expected to produce."""
    parts = []
    for category, names in sorted(by_category.items()):
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        parts.append(f"no {category}s ({shown})")
    if "jaywalk_identified" in by_category.get("event", []):
        # The cameras record every probe, named or not: say which step came up empty.
        probes = con.execute("SELECT count(*) FROM identifications").fetchall()[0][0]
        parts.append(
            f"{probes:,} probes, none matched to anyone" if probes else "no probe captured"
        )
    return "; ".join(parts)


def _silent_policy_parts(con: duckdb.DuckDBPyConnection) -> list[Inert]:
    # Rule ids on each system's decision rows; sanctions also carry their domain, which
    # for a joint measure is the moment it decided (a rule and a joint measure may share
    # an id, e.g. 'loans').
    decided: dict[str, set[str]] = defaultdict(set)
    for table in ("score_changes", "list_entries"):
        for system, rule in con.execute(
            f"SELECT DISTINCT system::VARCHAR, rule_id::VARCHAR FROM {table}"
        ).fetchall():
            decided[system].add(rule)
    sanctioned: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for system, rule, domain in con.execute(
        "SELECT DISTINCT system::VARCHAR, rule_id::VARCHAR, domain::VARCHAR FROM sanctions"
    ).fetchall():
        sanctioned[system].add((rule, domain))
    out = []
    for system, component, text in con.execute(
        "SELECT system::VARCHAR, component, yaml FROM policies"
    ).fetchall():
        policy: dict[str, Any] = yaml.safe_load(text) or {}
        joint = {
            str(j["id"]): {str(m) for m in j.get("moments", [])} for j in policy.get("joint") or []
        }
        for rule in policy.get("rules") or []:
            rid = str(rule["id"])
            by_rule = {d for r, d in sanctioned[system] if r == rid} - joint.get(rid, set())
            if rid not in decided[system] and not by_rule:
                out.append(Inert(component, "rule", rid, "never fired"))
        for jid, moments in joint.items():
            if not any(r == jid and d in moments for r, d in sanctioned[system]):
                shown = ", ".join(sorted(moments))
                out.append(Inert(component, "joint_measure", jid, f"never applied (to {shown})"))
    return out
