"""The worked examples of docs/extending.md: they run, and they do what the text says.

1. The ``blood_donation`` source (``docs/examples/blood_donation.py``), registered from
   outside sclab's packages and run with the records sensor and a policy rewarding it.
2. The policy effect ``lift``: a rule ends an open list entry (end reason ``lifted``).
3. An audit metric (``docs/examples/listing_delays.py``) computed with SQL over a run.

The doc includes each example file verbatim: a test keeps its code blocks equal to them.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from sclab.errors import SclabError
from sclab.policy.loader import load_policy
from test_policy_engine import run_policy

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "extending.md"
EXAMPLES = ROOT / "docs" / "examples"

# A block in the doc that shows a file: the marker line, then a fenced block.
INCLUDE = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)


def _load(name: str) -> ModuleType:
    """An example module by file name, without registering anything twice (the blood
    donation source registers only in the subprocess that runs it)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_shows_every_example_file_verbatim() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = {name: block for name, block in INCLUDE.findall(text)}
    # Notebooks are examples of the Python API, run by tests/test_api.py, not of this doc.
    files = {
        f"docs/examples/{p.name}"
        for p in EXAMPLES.iterdir()
        if p.is_file() and p.suffix != ".ipynb"
    }
    assert set(shown) == files, "every example file is shown once, and only those"
    for name, block in shown.items():
        assert block == (ROOT / name).read_text(encoding="utf-8"), f"{name} differs from the doc"


# -- 1. a new source ---------------------------------------------------------------------

PEOPLE, DAYS, PER_1000 = 20_000, 365, 11.2


@pytest.fixture(scope="module")
def blood_run(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """The doc's scenario, run by the doc's script, as a user would (its own process, so
    that the source registers there and nowhere else)."""
    out = tmp_path_factory.mktemp("blood") / "run"
    done = subprocess.run(
        [
            sys.executable, str(EXAMPLES / "run_blood_donation.py"),
            "docs/examples/blood_donation_scenario.yaml", str(out),
        ],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return duckdb.connect(str(out / "run.duckdb"), read_only=True)


def test_blood_donations_come_to_the_published_rate(blood_run: duckdb.DuckDBPyConnection) -> None:
    con = blood_run
    assert con.execute("SELECT count(*) FROM citizens").fetchall() == [(PEOPLE,)]
    (acts,) = con.execute(
        "SELECT acts FROM true_act_totals WHERE kind = 'blood_donation'"
    ).fetchall()[0]
    expected = PER_1000 / 1000 * PEOPLE * DAYS / 365
    # The count is a sum of independent Bernoulli draws, at most Poisson-dispersed: four
    # standard deviations (sqrt(224) ~ 15 donations, 0.75 per 1,000) fail by chance about
    # once in 16,000 seeds.
    assert abs(acts - expected) <= 4 * math.sqrt(expected)
    assert abs(acts / PEOPLE * 1000 - PER_1000) <= 4 * math.sqrt(expected) / PEOPLE * 1000


def test_blood_donors_are_of_donor_age_and_recorded_with_the_acts_facts(
    blood_run: duckdb.DuckDBPyConnection,
) -> None:
    con = blood_run
    ages = con.execute(
        "SELECT min(c.age), max(c.age), count(*) FROM events e"
        " JOIN citizens c ON c.person_id = e.true_actor WHERE e.kind = 'blood_donation'"
    ).fetchall()[0]
    assert ages[0] >= 18 and ages[1] <= 55 and ages[2] > 100
    kinds = con.execute(
        "SELECT category, entity::VARCHAR, domain, lawful, produced_by FROM kinds"
        " WHERE name = 'blood_donation' ORDER BY category"
    ).fetchall()
    assert kinds == [
        ("act", "person", "civic", True, "sources:blood_donation"),
        ("event", "person", "civic", True, "sensors:records"),
    ]


def test_the_policy_rewards_each_recorded_donation(blood_run: duckdb.DuckDBPyConnection) -> None:
    con = blood_run
    changes = con.execute(
        "SELECT count(*), min(s.delta), max(s.delta), count(DISTINCT e.kind),"
        " sum((s.wrongful <> (e.error IS NOT NULL))::INT)"
        " FROM score_changes s JOIN events e USING (event_id)"
        " WHERE s.system = 'blood-donation-points' AND s.rule_id = 'blood_donation'"
    ).fetchall()[0]
    n, low, high, kinds, wrongful_mismatch = changes
    assert n > 100 and low == high == 5 and kinds == 1 and wrongful_mismatch == 0
    # Every recorded donation attributed to an adult (a participant) moved their points.
    rewarded = con.execute(
        "SELECT count(*) FROM events e JOIN citizens c ON c.person_id = e.attributed_to"
        " WHERE e.kind = 'blood_donation' AND c.age >= 18"
    ).fetchall()[0][0]
    assert n == rewarded


def test_the_docs_sql_runs_on_the_run(blood_run: duckdb.DuckDBPyConnection) -> None:
    text = DOC.read_text(encoding="utf-8")
    queries = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert queries
    for sql in queries:
        for statement in filter(str.strip, sql.split(";")):
            blood_run.execute(statement).fetchall()


# -- 2. a new policy effect: lift --------------------------------------------------------

REDEMPTION = {
    "id": "lift-test",
    "title": "listed for a ticket, lifted by a heroic act",
    "lists": [{"id": "blacklisted", "term_days": 365}],
    "rules": [
        {"id": "list-ticket", "when": {"events": {"kinds": ["traffic_ticket"]}},
         "effects": [{"list": {"list": "blacklisted"}}]},
        {"id": "redeemed", "when": {"events": {"kinds": ["heroic_act"]}},
         "effects": [{"lift": {"list": "blacklisted"}}]},
    ],
    "due_process": {"enabled": False},
}  # fmt: skip


def test_a_commended_act_lifts_a_listed_person_on_that_day(tmp_path: Path) -> None:
    events = [
        {"day": 2, "kind": "traffic_ticket", "person": 1},
        {"day": 10, "kind": "heroic_act", "person": 1},
        {"day": 2, "kind": "traffic_ticket", "person": 2},
        # someone else's heroic act, linked to person 2: a wrongful lift
        {"day": 12, "kind": "heroic_act", "person": 2, "true": 99},
        {"day": 5, "kind": "heroic_act", "person": 3},  # not listed: nothing to lift
        {"day": 2, "kind": "traffic_ticket", "person": 4},
        {"day": 6, "kind": "heroic_act", "person": 4},
        {"day": 8, "kind": "traffic_ticket", "person": 4},  # listed again after the lift
    ]
    con = run_policy(tmp_path, REDEMPTION, events, days=30)
    entries = con.execute(
        "SELECT entity_id, start_day, end_day, end_reason::VARCHAR, rule_id::VARCHAR"
        " FROM list_entries ORDER BY entity_id, start_day"
    ).fetchall()
    assert entries == [
        (1, 2, 10, "lifted", "list-ticket"),
        (2, 2, 12, "lifted", "list-ticket"),
        (4, 2, 6, "lifted", "list-ticket"),
        (4, 8, None, None, "list-ticket"),
    ]
    lifts = con.execute(
        "SELECT s.entity_id, s.day, s.domain::VARCHAR, s.rule_id::VARCHAR, s.wrongful,"
        " e.kind::VARCHAR, e.true_actor FROM sanctions s JOIN events e USING (event_id)"
        " WHERE s.kind = 'lift' ORDER BY s.entity_id"
    ).fetchall()
    assert lifts == [
        (1, 10, "credit_repair", "redeemed", False, "heroic_act", 1),
        (2, 12, "credit_repair", "redeemed", True, "heroic_act", 99),
        (4, 6, "credit_repair", "redeemed", False, "heroic_act", 4),
    ]


def test_records_of_people_lift_nothing_on_a_list_of_companies(tmp_path: Path) -> None:
    policy = {
        "id": "lift-companies",
        "title": "a company list, and a lift rule on people's records",
        "lists": [{"id": "serious", "entity": "company", "term_days": 365}],
        "rules": [
            {"id": "list-breach", "when": {"events": {"kinds": ["contract_breach"]}},
             "effects": [{"list": {"list": "serious"}}]},
            {"id": "redeemed", "when": {"events": {"kinds": ["heroic_act"]}},
             "effects": [{"lift": {"list": "serious"}}]},
        ],
        "due_process": {"enabled": False},
    }  # fmt: skip
    events = [
        {"day": 1, "kind": "contract_breach", "person": 3, "entity": "company"},
        {"day": 4, "kind": "heroic_act", "person": 3},  # person 3, not company 3
    ]
    con = run_policy(tmp_path, policy, events, days=10)
    rows = con.execute("SELECT entity_type::VARCHAR, entity_id, end_day FROM list_entries")
    assert rows.fetchall() == [("company", 3, None)]
    assert con.execute("SELECT count(*) FROM sanctions").fetchall() == [(0,)]


def test_a_lift_naming_an_unknown_list_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "id: p\ntitle: t\nlists: [{id: blacklisted}]\nrules:\n"
        "  - id: r\n    when: {events: {kinds: [heroic_act]}}\n"
        "    effects: [{lift: {list: blacklist}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SclabError) as err:
        load_policy(str(path))
    message = str(err.value)
    assert "\n" not in message and "policy.yaml:7: rules[0].effects[0].lift.list:" in message
    assert "unknown list 'blacklist'" in message and "blacklisted" in message


def test_an_effect_with_lift_and_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "id: p\ntitle: t\nlists: [{id: x}]\nrules:\n"
        "  - id: r\n    when: {events: {kinds: [heroic_act]}}\n"
        "    effects: [{lift: {list: x}, list: {list: x}}]\n",
        encoding="utf-8",
    )
    with pytest.raises(SclabError, match="exactly one of score_delta, list, sanction, lift"):
        load_policy(str(path))


# -- 3. an audit metric ------------------------------------------------------------------

CORRECTED = {
    "id": "objection-test",
    "title": "every wrongful listing objected to and corrected after review",
    "lists": [{"id": "blacklisted", "term_days": 365}],
    "rules": [
        {"id": "list-ticket", "when": {"events": {"kinds": ["traffic_ticket"]}},
         "effects": [{"list": {"list": "blacklisted"}}]},
    ],
    "due_process": {
        "notice_delay_days": 5, "review_days": 15,
        "objection_share_if_wrongful": 1.0, "success_if_wrongful": 1.0,
        "objection_share_if_rightful": 0.0, "appeal_share": 0.0,
    },
}  # fmt: skip


def test_listing_delays_measure_days_to_correction(tmp_path: Path) -> None:
    events = [
        {"day": 3, "kind": "traffic_ticket", "person": 5, "true": 50},  # wrongful
        {"day": 4, "kind": "traffic_ticket", "person": 6, "true": 60},  # wrongful
        {"day": 4, "kind": "traffic_ticket", "person": 7},  # rightful: not counted
        {"day": 40, "kind": "traffic_ticket", "person": 8, "true": 80},  # open at the end
    ]
    con = run_policy(tmp_path, CORRECTED, events, days=50)
    table = _load("listing_delays").compute(con)["listing_delays"]
    assert table.to_pylist() == [
        {
            "system": "objection-test", "list": "blacklisted", "entity_type": "person",
            "district_code": 320106, "district": "a", "wrongful_entries": 3,
            "corrected": 2, "still_listed": 1,
            "mean_days_to_correction": 20.0, "median_days_to_correction": 20.0,
        }
    ]  # fmt: skip


def test_listing_delays_of_a_run_without_lists_is_empty(
    blood_run: duckdb.DuckDBPyConnection,
) -> None:
    table = _load("listing_delays").compute(blood_run)["listing_delays"]
    assert table.num_rows == 0 and "median_days_to_correction" in table.column_names
