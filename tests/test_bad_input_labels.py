"""Labels in SQL are input too: a label that does not exist silently matches nothing.

``docs/database.md`` lists the exact labels of the built-in components (generated from
their declarations); these tests keep every example label in the column descriptions
among them, and the listed labels equal to what a run declares to its database.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from sclab.reference import builtin_labels, builtin_scenario
from sclab.store.schema import TABLES

DOCS = Path(__file__).resolve().parents[1] / "docs" / "database.md"


def example_labels(doc: str) -> set[str]:
    """The labels a column description gives as examples: quoted ones, or the items of a
    plain list such as ``expired, performed, objection_upheld, repaired...``."""
    quoted = set(re.findall(r"'([^']+)'", doc))
    if quoted:
        return quoted
    items = re.split(r",\s*|\s+or\s+", re.sub(r"\([^)]*\)|\.\.\.", "", doc))
    words = [item.strip() for item in items]
    if len(words) < 2 or not all(re.fullmatch(r"[a-z][a-z_]*", w) for w in words):
        return set()  # prose, not a list of labels
    return set(words)


def test_column_descriptions_give_real_labels() -> None:
    labels = builtin_labels()
    checked = 0
    for table, columns in TABLES.items():
        for column in columns:
            if not column.labels:
                continue
            examples = example_labels(column.doc)
            unknown = examples - set(labels[column.labels])
            assert not unknown, (table, column.name, sorted(unknown))
            checked += bool(examples)
    assert checked >= 12


def test_the_sanction_domains_are_the_stored_ones() -> None:
    domains = builtin_labels()["domain"]
    assert "flight_ticket" in domains and "flights" not in domains
    assert "| `domain` | `sanctions.domain` |" in DOCS.read_text(encoding="utf-8")


def test_a_run_declares_exactly_the_documented_labels(tmp_path: Path) -> None:
    """The run database's ENUM types of a run of the built-in components hold the labels
    the reference lists."""
    from sclab.run import run_scenario

    scenario = builtin_scenario()
    result = run_scenario(scenario, tmp_path / "run")
    with duckdb.connect(str(result.database), read_only=True) as con:
        for name, labels in builtin_labels().items():
            (declared,) = con.execute(f'SELECT enum_range(NULL::"{name}")').fetchall()[0]
            assert sorted(declared) == list(labels), name
