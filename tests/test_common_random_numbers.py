"""Common random numbers: two runs that differ only in their policies draw the same world.

The demo world runs twice on the same seed and population: once with its five policy
packs (Sesame reads platform totals monthly for its participants, the court and corporate
packs read records), once with none. Without behaviour nothing a policy decides reaches
the sources, so every true act must be identical: the act totals, and every person's
aggregated totals (posts, purchases, rentals, crossings, online interactions...), although
one run read its lazy streams monthly and the other only at the end. With behaviour, the
streams no behaviour adjusts stay identical too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml

from sclab.run import run_scenario
from sclab.targets import load_scenario
from sclab.world.social_media import STANCES

DEMO = Path(__file__).parent.parent / "src" / "sclab" / "scenario" / "builtin" / "demo.yaml"


def _run(tmp: Path, name: str, edit: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    doc = yaml.safe_load(DEMO.read_text())
    doc["population"]["size"] = 4000
    doc["days"] = 45
    doc.update(edit)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    out = tmp / name
    run_scenario(load_scenario(str(path)), out)
    return duckdb.connect(str(out / "run.duckdb"), read_only=True)


def _totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute("SELECT kind::VARCHAR, acts FROM true_act_totals").fetchall()
    return dict(rows)


def _aggregates(con: duckdb.DuckDBPyConnection) -> dict[str, set[tuple[int, int]]]:
    out: dict[str, set[tuple[int, int]]] = {}
    sql = "SELECT kind::VARCHAR, entity_type::VARCHAR, entity_id, count FROM aggregates"
    for kind, etype, who, count in con.execute(sql).fetchall():
        out.setdefault(f"{etype}:{kind}", set()).add((who, count))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, duckdb.DuckDBPyConnection]:
    tmp = tmp_path_factory.mktemp("crn")
    return {
        "policies": _run(tmp, "policies", {"behaviour": []}),
        "none": _run(tmp, "none", {"behaviour": [], "policies": []}),
        "behaviour": _run(tmp, "behaviour", {}),
        "behaviour_none": _run(tmp, "behaviour_none", {"policies": []}),
    }


def test_policies_that_only_read_leave_every_true_act_unchanged(runs) -> None:
    with_policies, without = runs["policies"], runs["none"]
    # The policies read: Sesame's participants are its focus group, read monthly.
    reads = with_policies.execute("SELECT count(*) FROM score_changes").fetchall()[0][0]
    assert reads > 0
    assert _totals(with_policies) == _totals(without)
    got, base = _aggregates(with_policies), _aggregates(without)
    assert set(got) == set(base)
    # Every kind is the same draw, online interactions included: Sesame reads them (and
    # positive posts) monthly for its participants, the other run only at the end.
    for kind in base:
        assert got[kind] == base[kind], kind  # every person's total, kind by kind
    assert "person:online_interactions" in base
    assert any(k.startswith("person:post_") for k in base)
    assert any(k.startswith("person:purchase_") for k in base)


def test_streams_no_behaviour_adjusts_stay_identical(runs) -> None:
    # With behaviour, the policies change some rates (chilled critical posts, deterred
    # jaywalks, shifted purchases); the kinds no behaviour component adjusts keep every
    # person's total. Which kinds moved is read from the runs, and some must not have.
    got, base = _aggregates(runs["behaviour"]), _aggregates(runs["behaviour_none"])
    same = [k for k in base if got.get(k) == base[k]]
    moved = [k for k in base if got.get(k) != base[k]]
    assert "person:jaywalk" in moved  # deterrence: an effect a twin exists to show
    for kind in ("person:post_neutral", "person:post_critical", "person:bill_paid_on_time"):
        assert kind in same, (kind, moved)
    # Online interactions: the same draw for everyone whose posts and online degree the
    # policies left alone; among the people whose posts are the same in both runs, only
    # the few whose ties were pruned differ (their interactions come from their trials
    # when read). Drawn whenever read, as they were, most authors would differ.
    posts = [
        (dict(got.get(f"person:{k}", ())), dict(base[f"person:{k}"])) for k in STANCES.values()
    ]
    mine, twin = dict(got["person:online_interactions"]), dict(base["person:online_interactions"])
    alike = [p for p in twin if all(a.get(p, 0) == b.get(p, 0) for a, b in posts)]
    assert len(alike) > 0.9 * len(twin)
    differ = [p for p in alike if mine.get(p, 0) != twin[p]]
    assert len(differ) < 0.02 * len(alike), len(differ)
