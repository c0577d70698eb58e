"""The law, rule by rule: the built-in packs' verdicts, the verdicts' response to what a
policy states, the run's law_verdicts table, check-policy's output and exit codes, and
docs/legal.md."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import run_cli
from tests.test_layers import SRC, lint_imports
from tests.test_scenario_errors import assert_one_line_error

from sclab.legal import CLAUSES, VERDICTS, Verdict, assess, assess_run
from sclab.legal.docs import markdown
from sclab.policy.loader import builtin_packs, is_bundle, load_policy, pack_text
from sclab.policy.schema import Policy
from sclab.store.hashes import table_hashes
from sclab.targets import builtin_catalogue

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = builtin_catalogue()
PACKS = [n for n in builtin_packs() if not is_bundle(n)]


def verdicts_of(policy: Policy | str) -> dict[tuple[str, str], Verdict]:
    p = load_policy(policy) if isinstance(policy, str) else policy
    return {(v.rule_id, v.clause): v for v in assess(p, CATALOGUE)}


def test_every_rule_gets_every_clause_once() -> None:
    for name in PACKS:
        policy = load_policy(name)
        verdicts = assess(policy, CATALOGUE)
        rules = {v.rule_id for v in verdicts}
        assert len(verdicts) == len(rules) * len(CLAUSES)
        assert {v.verdict for v in verdicts} <= set(VERDICTS)
        assert all(v.reason and "\n" not in v.reason for v in verdicts)
        assert {r.id for r in policy.rules} | {j.id for j in policy.joint} <= rules


def test_nanjing_street_cameras_are_prohibited_real_time_identification() -> None:
    v = verdicts_of("nanjing")
    # Every decision of the pack rests on identifications by roadside cameras.
    for rule in ("display", "discredited", "loans", "insurance", "jobs"):
        assert v[(rule, "eu-ai-act-5-1-h")].verdict == "prohibited"
        assert "law enforcement" in v[(rule, "eu-ai-act-5-1-h")].reason
        assert v[(rule, "gdpr-9")].verdict == "prohibited"  # no consent, no basis stated
    # A jaywalking count used to refuse loans: data from traffic, detriment in finance.
    assert v[("loans", "eu-ai-act-5-1-c-i")].verdict == "prohibited"
    assert "traffic" in v[("loans", "eu-ai-act-5-1-c-i")].reason
    assert v[("loans", "eu-ai-act-5-1-c-ii")].verdict == "prohibited"  # minor conduct
    assert v[("discredited", "cn-2020-49-proportion")].verdict == "prohibited"


def test_real_time_identification_needs_a_stated_purpose() -> None:
    nanjing = load_policy("nanjing")
    unstated = verdicts_of(nanjing.model_copy(update={"purpose": None}))
    assert unstated[("display", "eu-ai-act-5-1-h")].verdict == "needs review"
    commercial = verdicts_of(nanjing.model_copy(update={"purpose": "commercial"}))
    assert commercial[("display", "eu-ai-act-5-1-h")].verdict == "not applicable"


def test_sesame_lending_on_purchases_and_ties_is_unrelated_context() -> None:
    v = verdicts_of("sesame")
    loans = v[("low_score_loans", "eu-ai-act-5-1-c-i")]
    assert loans.verdict == "prohibited"
    assert "consumption" in loans.reason and "relationships" in loans.reason
    assert v[("low_score_loans", "eu-ai-act-5-1-c-ii")].verdict == "prohibited"
    # Perks favour; they treat no one detrimentally.
    for perk in ("perks_600", "perks_650", "visa_700", "visa_750"):
        assert {v[(perk, c.id)].verdict for c in CLAUSES} == {"not applicable"}
    # A commercial score is outside China's opinions on public credit punishment.
    assert v[("low_score_loans", "cn-2020-49-legality")].verdict == "not applicable"


def _with_deletion_delay(days: int) -> Policy:
    court = load_policy("court-defaulters")
    lists = [x.model_copy(update={"deletion_delay_working_days": days}) for x in court.lists]
    return court.model_copy(update={"lists": lists})


@given(days=st.integers(min_value=0, max_value=365))
@settings(max_examples=25, deadline=None)
def test_spc_deletion_within_three_working_days(days: int) -> None:
    v = verdicts_of(_with_deletion_delay(days))[("listing", "spc-2017-defaulters")]
    assert v.verdict == ("permitted" if days <= 3 else "prohibited")
    if days > 3:
        assert f"{days} working days" in v.reason


def test_court_defaulters_as_published() -> None:
    v = verdicts_of("court-defaulters")
    assert v[("listing", "spc-2017-defaulters")].verdict == "permitted"
    assert v[("listing", "gdpr-22")].verdict == "permitted"  # the court decides each listing
    assert v[("flights", "cn-2020-49-legality")].verdict == "permitted"
    assert "2015" in v[("flights", "cn-2020-49-legality")].reason
    # Only listing rules are read against the SPC provisions.
    assert v[("flights", "spc-2017-defaulters")].verdict == "not applicable"
    # A child's school place for the parent's debt: someone else's conduct.
    assert v[("private_schools", "eu-ai-act-5-1-c-ii")].verdict == "prohibited"
    assert "parent" in v[("private_schools", "eu-ai-act-5-1-c-ii")].reason
    # No published basis for pricing up every insurance policy: left unstated.
    assert v[("insurance", "cn-2020-49-legality")].verdict == "needs review"


def test_spc_minors_and_terms() -> None:
    court = load_policy("court-defaulters")
    everyone = court.model_copy(
        update={"participation": court.participation.model_copy(update={"requires": []})}
    )
    assert "minors" in verdicts_of(everyone)[("listing", "spc-2017-defaulters")].reason
    longer = [x.model_copy(update={"term_days_by_ground": {2: 1000}}) for x in court.lists]
    v = verdicts_of(court.model_copy(update={"lists": longer}))
    assert v[("listing", "spc-2017-defaulters")].verdict == "prohibited"
    assert "two years" in v[("listing", "spc-2017-defaulters")].reason


SEVERITY = {"prohibited": 3, "needs review": 2, "permitted": 1, "not applicable": 0}


def _state(policy: Policy, basis: bool, reviews: list[str | None], with_basis: bool) -> Policy:
    """``policy`` with every rule and measure's legal basis set (or removed) and the
    given human reviews."""
    text = "Example Law of the test, Art. 1" if with_basis else None
    rules = [
        r.model_copy(update={"legal_basis": text, "human_review": reviews[i % len(reviews)]})
        for i, r in enumerate(policy.rules)
    ]
    joint = [
        m.model_copy(update={"legal_basis": text, "human_review": reviews[i % len(reviews)]})
        for i, m in enumerate(policy.joint)
    ]
    return policy.model_copy(
        update={"rules": rules, "joint": joint, "legal_basis": text if basis else None}
    )


@given(
    pack=st.sampled_from(PACKS),
    policy_basis=st.booleans(),
    reviews=st.lists(st.sampled_from([None, "none", "on_objection", "before"]), min_size=1),
)
@settings(max_examples=40, deadline=None)
def test_removing_a_legal_basis_never_makes_a_verdict_milder(
    pack: str, policy_basis: bool, reviews: list[str | None]
) -> None:
    policy = load_policy(pack)
    stated = verdicts_of(_state(policy, policy_basis, reviews, with_basis=True))
    removed = verdicts_of(_state(policy, False, reviews, with_basis=False))
    assert stated.keys() == removed.keys()
    for key, v in stated.items():
        after = removed[key].verdict
        assert SEVERITY[after] >= SEVERITY[v.verdict] or v.verdict == "not applicable", key
        if v.verdict == "needs review":
            assert after != "permitted", key


@given(pack=st.sampled_from(PACKS), review=st.sampled_from(["none", "on_objection", "before"]))
@settings(max_examples=20, deadline=None)
def test_unstated_review_or_purpose_is_never_permitted_where_stating_was_not(
    pack: str, review: str
) -> None:
    policy = load_policy(pack)
    stated = verdicts_of(policy.model_copy(update={"human_review": review}))
    plain = policy.model_copy(
        update={
            "human_review": None,
            "purpose": None,
            "rules": [r.model_copy(update={"human_review": None}) for r in policy.rules],
            "joint": [m.model_copy(update={"human_review": None}) for m in policy.joint],
        }
    )
    removed = verdicts_of(plain)
    for key, v in stated.items():
        if v.verdict in ("needs review", "prohibited"):
            assert removed[key].verdict != "permitted", key


def _run_like_tables(names: list[str]) -> duckdb.DuckDBPyConnection:
    """A database with a run's ``policies`` and ``kinds`` tables, as a run writes them."""
    con = duckdb.connect()
    policies = pa.table(
        {
            "policy_id": names,
            "source": names,
            "yaml": [pack_text(n) for n in names],
        }
    )
    kinds = pa.table(CATALOGUE.columns())
    con.register("policies_arrow", policies)
    con.register("kinds_arrow", kinds)
    con.execute("CREATE TABLE policies AS SELECT * FROM policies_arrow")
    con.execute("CREATE TABLE kinds AS SELECT * FROM kinds_arrow")
    return con


def test_assess_run_reads_the_recorded_texts_and_kinds() -> None:
    con = _run_like_tables(["nanjing", "court-defaulters"])
    table = assess_run(con)["law_verdicts"]
    assert table.column_names == ["policy_id", "rule_id", "clause", "verdict", "reason"]
    expected = [
        v.as_dict()
        for n in ("court-defaulters", "nanjing")
        for v in assess(load_policy(n), CATALOGUE)
    ]
    assert table.to_pylist() == expected


def test_assess_run_uses_the_runs_own_catalogue() -> None:
    """A run whose camera records were not biometric (a catalogue without that fact)
    gets no 5(1)(h) verdict: the verdicts follow the run's kinds table, not kind names."""
    con = _run_like_tables(["nanjing"])
    con.execute("UPDATE kinds SET biometric = false, realtime = false")
    table = assess_run(con)["law_verdicts"].to_pylist()
    assert {r["verdict"] for r in table if r["clause"] == "eu-ai-act-5-1-h"} == {"not applicable"}


def test_check_policy_prints_the_matrix_and_reasons() -> None:
    proc = run_cli("check-policy", "nanjing")
    assert proc.returncode == 0, proc.stderr
    assert "valid" in proc.stdout
    assert "the law, rule by rule" in proc.stdout
    assert "AI 5(1)(h)" in proc.stdout and "prohibited" in proc.stdout
    # In a pipe (80 columns) no rule id, kind or reason is cut short: Rongcheng has the
    # longest rule ids of the packs.
    assert "…" not in run_cli("check-policy", "rongcheng").stdout


def test_check_policy_json_and_fail_on() -> None:
    proc = run_cli("check-policy", "sesame", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["valid"] is True and doc["policies"] == ["sesame"]
    assert {"rule_id": "low_score_loans", "clause": "eu-ai-act-5-1-c-i"}.items() <= next(
        v.items()
        for v in doc["verdicts"]
        if v["rule_id"] == "low_score_loans" and v["clause"] == "eu-ai-act-5-1-c-i"
    )
    assert run_cli("check-policy", "nanjing", "--fail-on", "prohibited").returncode == 1
    # A bundle: its packs are assessed together.
    assert run_cli("check-policy", "composite", "--fail-on", "prohibited").returncode == 1
    assert_one_line_error(
        run_cli("check-policy", "nanjing", "--fail-on", "sometimes"), "--fail-on", "sometimes"
    )


def test_fail_on_needs_review_and_a_harmless_policy(tmp_path: Path) -> None:
    rewards = tmp_path / "rewards.yaml"
    rewards.write_text(
        "id: rewards\ntitle: Commendations only\n"
        "rules:\n  - id: commend\n    when: {events: {kinds: [heroic_act]}}\n"
        "    effects: [{sanction: {kind: reward, domain: honour_board}}]\n",
        encoding="utf-8",
    )
    assert run_cli("check-policy", rewards, "--fail-on", "needs-review").returncode == 0
    # The same record used to refuse loans with nothing stated: needs review at least.
    refusals = tmp_path / "refusals.yaml"
    refusals.write_text(
        "id: refusals\ntitle: Refusals\nlists: [{id: bad}]\n"
        "rules:\n  - id: listing\n    when: {events: {kinds: [loan_default]}}\n"
        "    effects: [{list: {list: bad}}]\n"
        "joint:\n  - id: loans\n    when: {list: bad}\n    moments: [loan_application]\n"
        "    effect: blocked\n",
        encoding="utf-8",
    )
    assert run_cli("check-policy", refusals, "--fail-on", "needs-review").returncode == 1
    assert run_cli("check-policy", refusals, "--fail-on", "prohibited").returncode == 0
    assert run_cli("check-policy", refusals).returncode == 0


def test_a_bad_legal_field_is_one_line_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\ntitle: t\nrules:\n  - id: r\n    when: {events: {kinds: [heroic_act]}}\n"
        "    effects: [{sanction: {kind: reward, domain: board}}]\n"
        "    human_review: sometimes\n",
        encoding="utf-8",
    )
    line = assert_one_line_error(run_cli("check-policy", bad), str(bad), "human_review")
    assert f"{bad}:7:" in line


def test_docs_legal_md_is_generated_from_the_code() -> None:
    expected = markdown([load_policy(n) for n in PACKS], CATALOGUE)
    docs = (ROOT / "docs" / "legal.md").read_text(encoding="utf-8")
    assert docs == expected, "docs/legal.md is stale: run `make docs`"
    for c in CLAUSES:
        assert c.label in docs and c.citation in docs


def test_the_law_never_imports_a_run_or_a_component(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(SRC, src / "sclab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "sclab" / "legal" / "verdicts.py"
    target.write_text(target.read_text(encoding="utf-8") + "\nimport sclab.world\n", "utf-8")
    proc = lint_imports(tmp_path, src)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [line for line in proc.stdout.splitlines() if " BROKEN" in line]
    assert any("the law reads policies and the catalogue" in line for line in broken)


def _strip_legal_fields(doc: dict) -> dict:
    for key in ("purpose", "legal_basis", "human_review"):
        doc.pop(key, None)
    for section in ("rules", "joint"):
        for item in doc.get(section, []):
            item.pop("legal_basis", None)
            item.pop("human_review", None)
    return doc


def test_the_legal_fields_change_no_result(tmp_path: Path) -> None:
    """The new fields are metadata: the court pack with and without them gives the same
    tables, apart from the recorded policy text (and run_info, which records when)."""
    stated = tmp_path / "court-defaulters.yaml"
    stated.write_text(pack_text("court-defaulters"), encoding="utf-8")
    plain = tmp_path / "plain" / "court-defaulters.yaml"
    plain.parent.mkdir()
    doc = _strip_legal_fields(yaml.safe_load(pack_text("court-defaulters")))
    assert "legal_basis" not in yaml.safe_dump(doc)
    plain.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    hashes = []
    for i, policy in enumerate((stated, plain)):
        out = tmp_path / f"run{i}"
        proc = run_cli("run", policy, "--population", "3000", "--days", "30", "--out", out)
        assert proc.returncode == 0, proc.stderr
        hashes.append(table_hashes(out / "run.duckdb"))
    for table in ("policies", "run_info"):
        hashes[0].pop(table), hashes[1].pop(table)
    assert hashes[0] == hashes[1]


def test_a_list_delta_rests_on_what_puts_people_on_the_list() -> None:
    """Rongcheng's deduction for a court listing is judged like its event deltas, on the
    conduct behind the listing (the court pack's rule: non-performance); without the
    publishing policy its facts are unknown, which is never permitted."""
    rongcheng, court = load_policy("rongcheng"), load_policy("court-defaulters")
    alone = {(v.rule_id, v.clause): v for v in assess(rongcheng, CATALOGUE)}
    read = {(v.rule_id, v.clause): v for v in assess(rongcheng, CATALOGUE, [court])}
    rule = "court_defaulter_listed"
    for clause in ("eu-ai-act-5-1-c-ii", "cn-2020-49-proportion"):
        assert read[(rule, clause)].verdict == "permitted"
        assert "non_performance" in read[(rule, clause)].reason
        assert alone[(rule, clause)].verdict == "needs review"
        assert "court-defaulters.dishonest_debtors" in alone[(rule, clause)].reason
    # The measures on Rongcheng's grades rest on the listing's conduct too.
    assert "non_performance" not in alone[("grade_d_loans", "eu-ai-act-5-1-c-i")].reason
    assert {c.id for c in CLAUSES} == {c for (r, c) in read if r == rule}


def test_check_policy_reads_the_built_in_lists() -> None:
    out = run_cli("check-policy", "rongcheng", "--json")
    assert out.returncode == 0, out.stderr
    verdicts = json.loads(out.stdout)["verdicts"]
    listed = [v for v in verdicts if v["rule_id"] == "court_defaulter_listed"]
    assert len(listed) == len(CLAUSES)
    assert any("non_performance" in v["reason"] for v in listed)
