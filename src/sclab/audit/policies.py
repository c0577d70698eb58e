"""What the audit needs to know of the policies a run compiled, read from their stored text.

Core objects:
    :func:`read_policies`: the ``policies`` table's YAML texts, validated again with the
        policy schema (its defaults included), by system.
    :func:`policy_facts`: the facts the audit joins on, as Arrow tables: joint measures
        (whose moments they decide: ``applies_to``; what triggers them), lists (blacklist
        or redlist, deletion delay, the kinds that delete an entry) with each system's
        due-process deadlines, and the grade bands of every score.

Why the stored text and not the installed packs: a run records the exact policy it ran
(``policies.yaml``), and a pack may have changed since.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from sclab.errors import SclabError
from sclab.policy.loader import PolicyError
from sclab.policy.schema import FactorScore, Policy
from sclab.yamlfile import load_yaml, validate


class AuditError(SclabError):
    """A directory or database the audit cannot read as a finished run."""


def read_policies(con: duckdb.DuckDBPyConnection) -> dict[str, Policy]:
    """System name → the policy that ran under it (from ``policies.yaml``)."""
    out: dict[str, Policy] = {}
    for system, source, text in con.execute(
        "SELECT system::VARCHAR, source, yaml FROM policies ORDER BY system"
    ).fetchall():
        try:
            doc = load_yaml(text, f"policies[{system}] ({source})", PolicyError)
            out[system] = validate(doc, Policy, PolicyError)
        except PolicyError as exc:
            raise AuditError(f"the recorded policy does not validate: {exc.one_line()}") from None
    return out


def policy_facts(policies: dict[str, Policy]) -> dict[str, pa.Table]:
    """The facts of ``policies`` as tables (``audit_measures``, ``audit_lists``,
    ``audit_grades``), to register on a connection and join in SQL."""
    measures: dict[str, list[object]] = {
        k: [] for k in ("system", "measure", "applies_to", "self", "factor_trigger")
    }
    lists: dict[str, list[object]] = {
        k: []
        for k in (
            "system",
            "list",
            "redlist",
            "deletion_delay_working_days",
            "delete_on",
            "notice_delay_days",
            "review_days",
            "appeal_days",
            "repair_after_days",
        )
    }
    grades: dict[str, list[object]] = {k: [] for k in ("system", "score", "rank", "grade", "min")}
    for system, p in sorted(policies.items()):
        factor_scores = {s.id for s in p.scores if isinstance(s, FactorScore)}
        factor_grades = {g.name for s in p.scores if isinstance(s, FactorScore) for g in s.grades}
        for j in p.joint:
            measures["system"].append(system)
            measures["measure"].append(j.id)
            measures["applies_to"].append(",".join(j.applies_to))
            measures["self"].append("self" in j.applies_to)
            measures["factor_trigger"].append(
                j.when.score in factor_scores or bool(set(j.when.grade) & factor_grades)
            )
        dp = p.due_process
        for lst in p.lists:
            lists["system"].append(system)
            lists["list"].append(lst.id)
            lists["redlist"].append(lst.kind == "redlist")
            lists["deletion_delay_working_days"].append(lst.deletion_delay_working_days)
            lists["delete_on"].append(list(lst.delete_on.kinds) if lst.delete_on else [])
            lists["notice_delay_days"].append(dp.notice_delay_days)
            lists["review_days"].append(dp.review_days)
            lists["appeal_days"].append(dp.appeal_days)
            lists["repair_after_days"].append(dp.repair_after_days)
        for s in p.scores:
            # Rank 0 is the highest grade; the lowest has no min (everything below).
            for rank, g in enumerate(s.grades):
                grades["system"].append(system)
                grades["score"].append(s.id)
                grades["rank"].append(rank)
                grades["grade"].append(g.name)
                grades["min"].append(g.min)
    return {
        "audit_measures": pa.table(
            measures,
            schema=pa.schema(
                [
                    ("system", pa.string()),
                    ("measure", pa.string()),
                    ("applies_to", pa.string()),
                    ("self", pa.bool_()),
                    ("factor_trigger", pa.bool_()),
                ]
            ),
        ),
        "audit_lists": pa.table(
            lists,
            schema=pa.schema(
                [
                    ("system", pa.string()),
                    ("list", pa.string()),
                    ("redlist", pa.bool_()),
                    ("deletion_delay_working_days", pa.int32()),
                    ("delete_on", pa.list_(pa.string())),
                    ("notice_delay_days", pa.int32()),
                    ("review_days", pa.int32()),
                    ("appeal_days", pa.int32()),
                    ("repair_after_days", pa.int32()),
                ]
            ),
        ),
        "audit_grades": pa.table(
            grades,
            schema=pa.schema(
                [
                    ("system", pa.string()),
                    ("score", pa.string()),
                    ("rank", pa.int32()),
                    ("grade", pa.string()),
                    ("min", pa.float64()),
                ]
            ),
        ),
    }


def register_facts(con: duckdb.DuckDBPyConnection) -> None:
    """Register :func:`policy_facts` of the run's policies on ``con`` (once)."""
    known = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = 'audit_measures'"
    ).fetchall()[0][0]
    if known:
        return
    for name, table in policy_facts(read_policies(con)).items():
        con.register(name, table)
