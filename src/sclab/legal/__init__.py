"""The law, rule by rule: what each rule of a policy would meet under named clauses.

Core objects:
    :class:`Verdict`: one rule × clause: the verdict (prohibited, needs review, permitted,
        not applicable) and the reason in one sentence.
    :func:`assess`: the verdicts of one policy, read against a catalogue of kinds.
    :func:`assess_run`: the ``law_verdicts`` table of a finished run, from its
        ``policies`` (the YAML texts compiled) and ``kinds`` tables.
    :func:`worst`: the most serious verdict among some.

Verdicts are findings about a design, not errors: a valid policy is valid whatever they
say. The clauses are data (:mod:`sclab.legal.clauses`), the facts of each rule are read
from the policy and the catalogue (:mod:`sclab.legal.decisions`), and each clause's
verdict is a pure function of those (:mod:`sclab.legal.verdicts`). The policy fields they
read (``purpose``, ``legal_basis``, ``human_review``) are metadata the simulation never
reads; missing means "not stated". ``docs/legal.md`` documents it clause by clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from sclab.engine.catalogue import Catalogue, Entry, Kind
from sclab.legal.clauses import CLAUSES, VERDICTS
from sclab.legal.decisions import decisions
from sclab.legal.verdicts import RULES
from sclab.policy.loader import PolicyError
from sclab.policy.schema import Policy
from sclab.yamlfile import load_yaml, validate

if TYPE_CHECKING:
    import duckdb

__all__ = ["CLAUSES", "VERDICTS", "Verdict", "assess", "assess_run", "worst"]


@dataclass(frozen=True)
class Verdict:
    """One rule of one policy under one clause."""

    policy_id: str
    rule_id: str
    clause: str
    verdict: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def assess(policy: Policy, catalogue: Catalogue, others: Sequence[Policy] = ()) -> list[Verdict]:
    """Every rule, points delta (on events or on another system's list) and joint measure
    of ``policy`` under every clause, in the order of the policy, then of
    :data:`~sclab.legal.clauses.CLAUSES`. ``others``: the policies whose public lists
    ``policy`` may read (a list delta rests on what puts entities on the list); a list
    published by none of them has unknown facts ("needs review")."""
    out = []
    for d in decisions(policy, catalogue, others):
        for c in CLAUSES:
            verdict, reason = RULES[c.id](d)
            out.append(Verdict(policy.id, d.rule_id, c.id, verdict, reason))
    return out


def worst(verdicts: list[Verdict]) -> str | None:
    """The most serious verdict among ``verdicts`` (None if there are none)."""
    found = {v.verdict for v in verdicts}
    return next((v for v in VERDICTS if v in found), None)


#: The columns of ``law_verdicts``, with their meaning.
COLUMNS = {
    "policy_id": "the policy's id",
    "rule_id": "a rule, points delta (its rule id; on events or on another system's "
    "list) or joint measure of the policy",
    "clause": "the clause (`docs/legal.md`)",
    "verdict": "prohibited, needs review, permitted or not applicable",
    "reason": "what the verdict turns on, in one sentence",
}


def verdict_table(verdicts: list[Verdict]) -> pa.Table:
    """Verdicts as an Arrow table with :data:`COLUMNS`."""
    return pa.table(
        {name: pa.array([getattr(v, name) for v in verdicts], pa.string()) for name in COLUMNS}
    )


def catalogue_from_rows(rows: list[dict[str, Any]]) -> Catalogue:
    """A catalogue rebuilt from the rows of a run's ``kinds`` table."""
    entries = []
    for r in rows:
        kind = Kind(
            name=r["name"],
            category=r["category"],
            entity=r["entity"],
            domain=r["domain"],
            lawful=bool(r["lawful"]),
            meaning=r["meaning"],
            biometric=bool(r["biometric"]),
            realtime=bool(r["realtime"]),
            of_act=r["of_act"],
            kept=r["kept"],
        )
        entries.append(Entry(kind, r["produced_by"], str(r["produced_by"]).split(":")[-1]))
    return Catalogue(entries)


def assess_run(con: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    """The ``law_verdicts`` table of a run: every policy that ran (its recorded YAML
    text, compiled again for its structure only) against the run's own catalogue.

    Raises:
        PolicyError: a recorded text no longer validates (a run made by another version).
    """
    cursor = con.execute("SELECT * FROM kinds")
    columns = [c[0] for c in cursor.description or ()]
    catalogue = catalogue_from_rows([dict(zip(columns, r, strict=True)) for r in cursor.fetchall()])
    policies = []
    for source, text in con.execute(
        "SELECT source, yaml FROM policies ORDER BY policy_id"
    ).fetchall():
        doc = load_yaml(text, f"{source} (recorded in the run's policies table)", PolicyError)
        policies.append(validate(doc, Policy, PolicyError))
    verdicts = [v for p in policies for v in assess(p, catalogue, policies)]
    return {"law_verdicts": verdict_table(verdicts)}
