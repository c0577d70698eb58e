"""One system reading another's public list: points for a listing, a factor input.

A publishing policy lists people on recorded traffic tickets (with many misattributed
records, so that some entries are wrongful); a reading policy deducts points for each
entry. The deduction comes the day after the entry, rests on the entry's record and is
wrongful exactly when the entry is; the result does not depend on the order of the
packs; a reference to a list no policy of the run publishes (or a private one) is one
line at load time. Sesame's "is listed" input follows the court's list as of yesterday.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import yaml
from tests.conftest import build_simulation, run_cli, small_scenario

from sclab.errors import SclabError
from sclab.policy.engine import PolicyEngine
from sclab.run import run_scenario
from sclab.targets import load_scenario

PUBLISHER: dict[str, Any] = {
    "id": "pub", "title": "lists ticketed drivers",
    "lists": [{"id": "flagged", "term_days": 10}],
    "rules": [{"id": "flag", "when": {"events": {"kinds": ["traffic_ticket"]}},
               "effects": [{"list": {"list": "flagged"}}]}],
}  # fmt: skip
READER: dict[str, Any] = {
    "id": "reader", "title": "deducts for a listing elsewhere",
    "participation": {"requires": ["adult"]},
    "scores": [{
        "id": "pts", "type": "points", "base": 100,
        "deltas": [{"events": {"kinds": ["heroic_act"]}, "delta": 1}],
        "list_deltas": [{"listed_on": "pub.flagged", "delta": -7, "rule_id": "listed"}],
    }],
}  # fmt: skip


def _write(tmp: Path, name: str, doc: dict[str, Any]) -> str:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return str(path)


def _scenario(tmp: Path, order: list[str], days: int = 20, reader: dict | None = None) -> Path:
    packs = {
        "pub": _write(tmp, "pub", PUBLISHER),
        "reader": _write(tmp, "reader", reader or READER),
    }
    doc = small_scenario(
        days=days,
        population={"size": 4000},
        sources=[{"use": "state_data", "params": {
            "enabled_streams": ["traffic_ticket", "heroic_act"], "history_since": None,
            "traffic_tickets_per_driver_year": 20,
        }}],
        sensors=[{"use": "records", "params": {"misattribution_rate": 0.3}}],
        policies=[{"use": "pack", "params": {"pack": packs[p]}} for p in order],
    )  # fmt: skip
    path = tmp / f"scenario-{'-'.join(order)}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, duckdb.DuckDBPyConnection]:
    out = {}
    for order in (["pub", "reader"], ["reader", "pub"]):
        tmp = tmp_path_factory.mktemp("-".join(order))
        result = run_scenario(load_scenario(str(_scenario(tmp, order))), tmp / "run")
        out["-".join(order)] = duckdb.connect(str(result.database), read_only=True)
    return out


def test_each_entry_costs_points_the_next_day_on_its_own_record(runs) -> None:
    con = runs["pub-reader"]
    rows = con.execute("""
        SELECT s.day, l.start_day, s.delta, s.event_id = l.event_id, s.wrongful, l.wrongful
        FROM score_changes s JOIN list_entries l
          ON l.entity_id = s.entity_id AND l.system = 'pub' AND l.event_id = s.event_id
        WHERE s.system = 'reader' AND s.rule_id = 'listed'
    """).fetchall()  # fmt: skip
    n_changes = con.execute(
        "SELECT count(*) FROM score_changes WHERE system = 'reader' AND rule_id = 'listed'"
    ).fetchone()[0]
    # Every entry opened before the last day on an adult (the reader's participants).
    n_entries = con.execute("""
        SELECT count(*) FROM list_entries l JOIN citizens c ON c.person_id = l.entity_id
        WHERE l.system = 'pub' AND l.start_day < 19 AND c.age >= 18
    """).fetchone()[0]  # fmt: skip
    assert len(rows) == n_changes == n_entries > 50
    assert all(day == start + 1 and delta == -7 and same for day, start, delta, same, _, _ in rows)
    # Wrongful exactly when the entry is; misattributed tickets make some of each.
    assert all(w == lw for *_, w, lw in rows)
    assert 0 < sum(w for *_, w, _ in rows) < len(rows)


def test_the_order_of_the_packs_does_not_matter(runs) -> None:
    query = (
        "SELECT entity_id, day, delta, value, rule_id::VARCHAR, event_id, wrongful "
        "FROM score_changes WHERE system = 'reader' ORDER BY ALL"
    )
    a = runs["pub-reader"].execute(query).fetchall()
    b = runs["reader-pub"].execute(query).fetchall()
    assert a == b and len(a) > 50


def test_wrongful_deductions_are_harm_by_error(runs) -> None:
    from sclab.audit.harm import classify

    con = runs["pub-reader"]
    harm = classify(con).to_pylist()
    listed = [r for r in harm if r["system"] == "reader" and r["rule_id"] == "listed"]
    wrongful = dict(
        con.execute(
            "SELECT change_id, wrongful FROM score_changes "
            "WHERE system = 'reader' AND rule_id = 'listed'"
        ).fetchall()
    )
    assert len(listed) == len(wrongful) > 0
    assert all((r["class"] == "error") == wrongful[r["decision_key"]] for r in listed)
    assert any(r["class"] == "error" for r in listed)


def test_a_list_no_policy_publishes_is_one_line_with_the_nearest(tmp_path: Path) -> None:
    reader = {**READER, "scores": [{**READER["scores"][0], "list_deltas": [
        {"listed_on": "pub.flaged", "delta": -7}]}]}  # fmt: skip
    with pytest.raises(SclabError) as info:
        load_scenario(str(_scenario(tmp_path, ["pub", "reader"], reader=reader)))
    msg = info.value.one_line()
    assert "reader.yaml:" in msg and "scores[0].list_deltas[0].listed_on" in msg, msg
    assert "no policy of this run publishes the list 'pub.flaged'" in msg, msg
    assert "did you mean 'pub.flagged'?" in msg, msg
    # Without the publisher at all.
    with pytest.raises(SclabError) as info:
        load_scenario(str(_scenario(tmp_path, ["reader"])))
    assert "publishes the list 'pub.flagged'" in info.value.one_line()


def test_a_private_list_or_another_entity_type_is_refused(tmp_path: Path) -> None:
    private = {**PUBLISHER, "lists": [{"id": "flagged", "term_days": 10, "public": False}]}
    (tmp_path / "x").mkdir()
    path = _scenario(tmp_path / "x", ["pub", "reader"])
    _write(tmp_path / "x", "pub", private)
    with pytest.raises(SclabError) as info:
        load_scenario(str(path))
    assert "list 'pub.flagged' is not public" in info.value.one_line()
    companies = {**PUBLISHER, "lists": [{"id": "flagged", "entity": "company"}],
                 "rules": [{"id": "flag",
                            "when": {"events": {"kinds": ["contract_breach"]}},
                            "effects": [{"list": {"list": "flagged"}}]}]}  # fmt: skip
    _write(tmp_path / "x", "pub", companies)
    with pytest.raises(SclabError) as info:
        load_scenario(str(path))
    assert "lists companies, but it is read here for people" in info.value.one_line()


def test_check_policy_names_the_nearest_list(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "src/sclab/policy/packs/rongcheng.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("court-defaulters.dishonest_debtors", "court-defaulters.debtors"))
    proc = run_cli("check-policy", bad)
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "bad.yaml:" in line, line
    assert "did you mean 'court-defaulters.dishonest_debtors'?" in line, line
    assert run_cli("check-policy", "rongcheng").returncode == 0


def test_sesame_sees_the_court_list_as_of_yesterday(write_scenario) -> None:
    doc = small_scenario(
        days=40,
        population={"size": 20_000},
        sources=[{"use": "payments"}, {"use": "social_media"}, {"use": "resources"},
                 {"use": "state_data", "params": {"rate_multiplier": 5, "history_since": None}},
                 {"use": "company_conduct"}],
        sensors=[{"use": "records", "params": {"misattribution_rate": 0.2}}],
        policies=[{"use": "pack", "params": {"pack": "sesame"}},
                  {"use": "pack", "params": {"pack": "court-defaulters"}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    engines = {c.system: c for _, c in sim.components if isinstance(c, PolicyEngine)}
    court, sesame = engines["court-defaulters"], engines["sesame"]
    f = sesame.scores.factors["credit_score"]
    k = next(i for i, on in enumerate(f.on_list) if on is not None)
    book = court.lists.book("dishonest_debtors")
    yesterday = book.listed.copy()
    wrong_yesterday = np.zeros(len(yesterday), bool)
    checked = 0
    for _ in range(doc["days"]):
        sim.step()
        people = f.who
        assert people is not None
        assert np.array_equal(f.on_list[k], yesterday[people])
        on = yesterday[people]
        assert np.array_equal(f.on_list_wrong[k][on], wrong_yesterday[people][on])
        checked += int(on.sum())
        yesterday = book.listed.copy()
        wrong_yesterday = np.zeros(len(yesterday), bool)
        listed = np.flatnonzero(book.slot >= 0)
        wrong_yesterday[listed] = book.wrongful[book.slot[listed]]
    assert checked > 0
