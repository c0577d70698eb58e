"""The built-in policy packs and the policy schema's error messages.

Checks that every pack validates, that each pack says what its sources publish (the numbers
are read back from the validated models, so a typo in a pack fails here), that `composite`
is exactly the union of the single packs, and that a bad policy file gives one line naming
file, line and field.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sclab.engine.catalogue import Catalogue
from sclab.policy.loader import (
    PolicyError,
    builtin_packs,
    load_bundle,
    load_policy,
    pack_text,
)
from sclab.policy.schema import (
    EventFilter,
    FactorScore,
    Grade,
    PointsScore,
    Policy,
)
from sclab.targets import load_checked_policies, load_scenario, scenario_catalogue

SINGLE = ("court-defaulters", "corporate", "nanjing", "rongcheng", "sesame")
PACKS = SINGLE


@pytest.fixture(scope="module")
def demo() -> Catalogue:
    """What the default scenario's components produce (it runs every built-in pack)."""
    return scenario_catalogue(load_scenario("demo"))


@pytest.fixture(scope="module")
def packs() -> dict[str, Policy]:
    return {name: load_policy(name) for name in PACKS}


def band(grades: list[Grade], value: float) -> str:
    """The grade of ``value``: grades listed highest first, each from its min upwards."""
    for g in grades:
        if g.min is None or value >= g.min:
            return g.name
    raise AssertionError(f"no grade for {value}")


def filters(p: Policy) -> list[EventFilter]:
    """Every event filter in a policy."""
    out = [c.events for c in p.counters]
    out += [r.when.events for r in p.rules if r.when.events is not None]
    out += [x.delete_on for x in p.lists if x.delete_on is not None]
    for s in p.scores:
        if isinstance(s, PointsScore):
            out += [d.events for d in s.deltas]
        else:
            out += [i.events for f in s.factors for i in f.inputs if i.events is not None]
    return out


# -- every pack ------------------------------------------------------------------------


def test_the_six_packs_are_shipped() -> None:
    assert set(builtin_packs()) == {*PACKS, "composite"}
    assert all(builtin_packs().values()), "every pack has a title"


@pytest.mark.parametrize("name", PACKS)
def test_pack_validates_and_cites_sources(packs: dict[str, Policy], name: str) -> None:
    p = packs[name]
    assert p.id == name
    assert p.sources, "a pack cites its sources"
    # the citations are also next to the rules, as YAML comments
    assert pack_text(name).count("#") >= 5


@pytest.mark.parametrize("name", PACKS)
def test_company_kinds_only_on_company_entities(
    demo: Catalogue, packs: dict[str, Policy], name: str
) -> None:
    p = packs[name]

    def company(kinds: list[str]) -> set[bool]:
        return {demo.get(k, "event").entity == "company" for k in kinds}

    for c in p.counters:
        assert company(c.events.kinds) == {c.entity == "company"}, c.id
    for r in p.rules:
        if r.when.events is not None and True in company(r.when.events.kinds):
            assert all(p.lists[[x.id for x in p.lists].index(e.list.list)].entity == "company"
                       for e in r.effects if e.list)  # fmt: skip


# -- published numbers -----------------------------------------------------------------


def test_rongcheng_base_grades_and_deductions(packs: dict[str, Policy]) -> None:
    p = packs["rongcheng"]
    (score,) = p.scores
    assert isinstance(score, PointsScore)
    assert score.base == 1000
    assert [(g.name, g.min) for g in score.grades] == [
        ("AAA", 1050), ("AA", 1030), ("A", 960), ("B", 850), ("C", 600), ("D", None),
    ]  # fmt: skip
    # AAA >= 1050, AA 1030-1049, A 960-1029, B 850-959, C 600-849, D <= 599
    for value, grade in [
        (1200, "AAA"), (1050, "AAA"), (1049, "AA"), (1030, "AA"), (1029, "A"), (1000, "A"),
        (960, "A"), (959, "B"), (850, "B"), (849, "C"), (600, "C"), (599, "D"), (0, "D"),
    ]:  # fmt: skip
        assert band(score.grades, value) == grade, value
    deltas = {d.events.kinds[0]: d.delta for d in score.deltas}
    assert deltas["judgment_lost"] == -50  # sued and lost
    assert deltas["loan_instalment_missed"] == -10  # bank arrears, per monthly cycle
    assert deltas["utility_arrears"] == -20  # late utility fees
    assert deltas["traffic_ticket"] == -5
    assert deltas["loan_default"] == -20  # failure to perform a lending contract
    assert deltas["heroic_act"] == 30
    assert p.participation.mode == "mandatory" and "adult" in p.participation.requires


def test_nanjing_counter_threshold_display_and_measures(packs: dict[str, Policy]) -> None:
    p = packs["nanjing"]
    (counter,) = p.counters
    assert counter.events.kinds == ["jaywalk_identified"]
    assert counter.window_days == 365
    rules = {r.id: r for r in p.rules}
    listing = rules["discredited"]
    assert listing.when.counter == counter.id
    assert listing.when.above == 5  # more than five: the sixth identification
    assert [e.list.list for e in listing.effects if e.list] == ["discredited"]
    (lst,) = p.lists
    assert lst.id == "discredited" and lst.term_days == 365
    display = rules["display"]
    assert display.when.events is not None
    assert display.when.events.kinds == ["jaywalk_identified"]
    sanctions = {(e.sanction.kind, e.sanction.domain) for e in display.effects if e.sanction}
    assert sanctions == {("public_display", "roadside_screen"), ("notice", "sms")}
    measured = {mo: m.effect for m in p.joint for mo in m.moments}
    assert measured == {
        "loan_application": "blocked",
        "insurance_purchase": "priced_up",
        "job_application": "priced_up",
    }
    assert all(m.when.on_list == "discredited" for m in p.joint)


def test_court_defaulters_terms_deletion_review_and_measures(packs: dict[str, Policy]) -> None:
    p = packs["court-defaulters"]
    lst, companies = p.lists
    assert lst.id == "dishonest_debtors" and lst.public
    assert companies.id == "dishonest_companies" and companies.entity == "company"
    assert companies.delete_on is not None
    assert companies.delete_on.kinds == ["company_judgment_performed"]
    assert lst.term_days_by_ground == {g: 730 for g in (2, 3, 4, 5, 6)}  # two years
    assert lst.term_days is None and 1 not in lst.term_days_by_ground  # until performance
    assert lst.extension_days == (365, 1095)  # extendable by one to three years
    assert 0 < lst.extension_probability < 1
    assert lst.delete_on is not None and lst.delete_on.kinds == ["judgment_performed"]
    assert lst.deletion_delay_working_days == 3
    assert p.due_process.review_days == 15
    assert p.due_process.appeal_days == 10 + 15
    rule, company_rule = p.rules
    assert rule.when.events is not None and rule.when.events.kinds == ["non_performance"]
    assert sorted(rule.when.events.grounds) == [1, 2, 3, 4, 5, 6]
    assert any(e.list and e.list.list == "dishonest_debtors" for e in rule.effects)
    assert company_rule.when.events is not None
    assert company_rule.when.events.kinds == ["company_non_performance"]
    people = [m for m in p.joint if m.when.on_list != "dishonest_companies"]
    measured = {mo: (m.effect, tuple(m.applies_to)) for m in people for mo in m.moments}
    for moment in ("flight_ticket", "rail_ticket", "luxury_hotel", "travel_abroad",
                   "loan_application", "job_application"):  # fmt: skip
        assert measured[moment] == ("blocked", ("self",)), moment
    # Art. 3: every G-series seat, first class on D/C trains, soft sleepers; the same
    # travel for a listed company's legal representative.
    rail = {tuple(m.classes) for m in people if "rail_ticket" in m.moments}
    assert rail == {("g_first", "g_second", "dc_first"), ("soft_sleeper",)}
    reps = [m for m in p.joint if m.when.on_list == "dishonest_companies"]
    assert {mo for m in reps for mo in m.moments} == {
        "flight_ticket",
        "rail_ticket",
        "luxury_hotel",
        "travel_abroad",
    }
    assert all(m.applies_to == ["legal_representative"] for m in reps)
    assert measured["school_place"] == ("blocked", ("parent",))
    assert measured["insurance_purchase"][0] == "priced_up"
    text = pack_text("court-defaulters")
    for figure in ("6.73", "6.15", "2.22", "12.88", "17.46", "5.47", "3.51", "44"):
        assert figure in text, figure


def test_sesame_range_factors_grades_and_perks(packs: dict[str, Policy]) -> None:
    p = packs["sesame"]
    (score,) = p.scores
    assert isinstance(score, FactorScore)
    assert score.range == (350, 950)
    assert [f.name for f in score.factors] == [
        "credit_history", "fulfilment_capacity", "personal_characteristics",
        "behaviour_preference", "interpersonal_relationships",
    ]  # fmt: skip
    purchases = {
        i.kind: i.weight
        for f in score.factors
        for i in f.inputs
        if i.kind and i.kind.startswith("purchase_")
    }
    assert purchases["purchase_video_games"] < 0 < purchases["purchase_diapers"]
    relations = next(f for f in score.factors if f.name == "interpersonal_relationships")
    assert {i.source for i in relations.inputs} >= {"ties", "posts"}
    for value, grade in [(350, "poor"), (549, "poor"), (550, "fair"), (599, "fair"),
                         (600, "good"), (649, "good"), (650, "very_good"), (699, "very_good"),
                         (700, "excellent"), (950, "excellent")]:  # fmt: skip
        assert band(score.grades, value) == grade, value
    perks = {
        m.when.at_least: set(m.moments)
        for m in p.joint
        if m.when.at_least is not None and m.effect == "favoured"
    }
    assert perks == {
        600: {"bike_rental", "loan_application"},
        650: {"car_rental", "hotel_booking"},
        700: {"travel_abroad"},
        750: {"travel_abroad"},
    }
    low = [m for m in p.joint if m.when.below is not None]
    assert [(m.when.below, m.moments, m.effect) for m in low] == [
        (550, ["loan_application"], "priced_up")
    ]
    part = p.participation
    assert part.mode == "voluntary" and part.requires == ["payment_app"]
    assert 0 < part.share < 1 and part.prefer_good_records > 0


def test_corporate_company_list_and_spill_over(demo: Catalogue, packs: dict[str, Policy]) -> None:
    p = packs["corporate"]
    (lst,) = p.lists
    assert lst.id == "serious_dishonesty" and lst.entity == "company"
    assert all(c.entity == "company" for c in p.counters)
    kinds = {k for f in filters(p) for k in f.kinds}
    company_events = {k.name for k in demo.kinds("event") if k.entity == "company"}
    # The company court events belong to the court list (court-defaulters).
    company_events -= {"company_non_performance", "company_judgment_performed"}
    assert kinds == company_events == {
        "company_tax_arrears", "environmental_violation", "product_quality_violation",
        "contract_breach",
    }  # fmt: skip
    assert all(e.list.list == "serious_dishonesty" for r in p.rules for e in r.effects if e.list)
    tax = next(r for r in p.rules if r.when.events is not None)
    assert tax.when.events is not None and tax.when.events.min_amount == 100_000
    spill = [m for m in p.joint if m.when.on_list == "serious_dishonesty"]
    # No company moments exist to bar (procurement, subsidies): the spill-over alone, on
    # what the SPC's Art. 3 bars a listed company's representative (the court pack's
    # representatives and representatives_rail): flights, hotels, travel abroad and the
    # higher classes of train.
    assert {tuple(m.applies_to) for m in spill} == {("legal_representative",)}
    assert all(m.effect == "blocked" for m in spill)
    barred = {(k, c) for m in spill for k in m.moments for c in (m.classes or [None])}
    court = load_policy("court-defaulters")
    by_court = {
        (k, c)
        for m in court.joint
        if m.id in ("representatives", "representatives_rail")
        for k in m.moments
        for c in (m.classes or [None])
    }
    assert barred == by_court


# -- composite -------------------------------------------------------------------------


def test_composite_bundles_the_five_packs_side_by_side() -> None:
    bundle, members = load_bundle("composite")
    assert bundle.packs == list(SINGLE)
    assert [p.id for p in members] == list(SINGLE)
    # each keeps its own participation and due process
    by_id = {p.id: p for p in members}
    assert by_id["sesame"].participation.mode == "voluntary"
    assert by_id["court-defaulters"].due_process.review_days == 15
    # system names (and so database rows) stay distinct
    assert len({p.system_name for p in members}) == len(members)


def test_a_bundle_is_not_a_policy() -> None:
    with pytest.raises(PolicyError, match="bundle of packs"):
        load_policy("composite")


# -- errors: one line naming file, line and field ----------------------------------------

VALID = """\
id: demo
title: A small valid policy
counters:
  - id: jaywalks
    events: {kinds: [jaywalk_identified]}
    window_days: 365
scores:
  - id: points
    type: points
    base: 1000
    deltas:
      - events: {kinds: [traffic_ticket]}
        delta: -5
    grades:
      - {name: A, min: 960}
      - {name: B}
  - id: factors
    type: factors
    range: [350, 950]
    factors:
      - name: history
        weight: 1
        inputs:
          - {from: attribute, attribute: income_decile}
lists:
  - id: discredited
    term_days: 365
rules:
  - id: discredited
    when: {counter: jaywalks, above: 5}
    effects:
      - list: {list: discredited}
joint:
  - id: loans
    when: {list: discredited}
    moments: [loan_application]
    effect: blocked
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth - 1]


def _error(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_policy(str(path))
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_the_valid_example_validates(tmp_path: Path) -> None:
    p = load_policy(str(_write(tmp_path, VALID)))
    assert [r.id for r in p.rules] == ["discredited"]


FIELD_CASES = [
    pytest.param(
        "unknown field",
        "    window_days: 365\n",
        "    window_days: 365\n    colour: red\n",
        "colour: red",
        "counters[0].colour",
        ["unknown field 'colour'", "expected one of: id, entity, events, window_days"],
    ),
    pytest.param(
        "misspelt field",
        "    window_days: 365\n",
        "    window: 365\n",
        "window: 365",
        "counters[0].window",
        ["unknown field 'window'", "window_days"],
    ),
    pytest.param(
        "effect with two kinds",
        "      - list: {list: discredited}\n",
        "      - list: {list: discredited}\n        sanction: {kind: notice, domain: sms}\n",
        "- list: {list: discredited}",
        "rules[0].effects[0]",
        ["exactly one of score_delta, list, sanction"],
    ),
    pytest.param(
        "counter condition without above",
        "when: {counter: jaywalks, above: 5}",
        "when: {counter: jaywalks}",
        "when: {counter: jaywalks}",
        "rules[0].when",
        ["needs 'above'"],
    ),
    pytest.param(
        "factor input missing its fields",
        "- {from: attribute, attribute: income_decile}",
        "- {from: events, events: {kinds: [bill_late]}}",
        "- {from: events",
        "scores[1].factors[0].inputs[0]",
        ["needs window_days"],
    ),
    pytest.param(
        "out-of-range window",
        "    window_days: 365\n",
        "    window_days: 0\n",
        "window_days: 0",
        "counters[0].window_days",
        ["greater than or equal to 1", "(got 0)"],
    ),
    pytest.param(
        "unknown counter referenced by a rule",
        "when: {counter: jaywalks, above: 5}",
        "when: {counter: jaywalk, above: 5}",
        "when: {counter: jaywalk,",
        "rules[0].when.counter",
        ["unknown counter 'jaywalk'", "defined: jaywalks"],
    ),
    pytest.param(
        "duplicate ids",
        "lists:\n",
        "  - id: jaywalks\n    events: {kinds: [sued]}\n    window_days: 30\nlists:\n",
        "  - id: jaywalks",
        "counters[1].id",
        ["counter id 'jaywalks' is used twice"],
    ),
    pytest.param(
        "score_delta on a factor score",
        "      - list: {list: discredited}\n",
        "      - score_delta: {score: factors, delta: -10}\n",
        "score_delta: {score: factors",
        "rules[0].effects[0].score_delta.score",
        ["score_delta needs a points score"],
    ),
    pytest.param(
        "infinite delta",
        "        delta: -5\n",
        "        delta: -.inf\n",
        "delta: -.inf",
        "scores[0].deltas[0].delta",
        ["finite number"],
    ),
    pytest.param(
        "infinite base",
        "    base: 1000\n",
        "    base: .inf\n",
        "base: .inf",
        "scores[0].base",
        ["finite number"],
    ),
    pytest.param(
        "not-a-number grade bound",
        "{name: A, min: 960}",
        "{name: A, min: .nan}",
        "{name: A, min: .nan}",
        "scores[0].grades[0].min",
        ["finite number"],
    ),
    pytest.param(
        "points beyond float32's exact range",
        "        delta: -5\n",
        "        delta: -1e12\n",
        "delta: -1e12",
        "scores[0].deltas[0].delta",
        ["greater than or equal to -1000000"],
    ),
    pytest.param(
        "infinite factor weight",
        "        weight: 1\n",
        "        weight: .inf\n",
        "weight: .inf",
        "scores[1].factors[0].weight",
        ["finite number"],
    ),
    pytest.param(
        "unknown list named by a joint measure",
        "when: {list: discredited}",
        "when: {list: discredit}",
        "when: {list: discredit}",
        "joint[0].when.list",
        ["unknown list 'discredit'"],
    ),
]


@pytest.mark.parametrize(
    ("case", "old", "new", "needle", "field", "words"),
    [pytest.param(*c.values, marks=c.marks, id=str(c.values[0])) for c in FIELD_CASES],
)
def test_field_errors_name_file_line_and_field(
    tmp_path: Path, case: str, old: str, new: str, needle: str, field: str, words: list[str]
) -> None:
    if case == "duplicate ids":  # a second counter with the same id, before `lists:`
        text = VALID.replace("scores:\n", new.replace("lists:\n", "") + "scores:\n", 1)
        line = _line_of(text, needle, 2)
    else:
        assert old in VALID, case
        text = VALID.replace(old, new, 1)
        line = _line_of(text, needle)
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:{line}: {field}: "), msg
    for w in words:
        assert w in msg, msg


def test_grades_out_of_order(tmp_path: Path) -> None:
    text = VALID.replace("{name: A, min: 960}", "{name: A, min: 850}").replace(
        "{name: B}", "{name: B, min: 960}"
    )
    path = _write(tmp_path, text)
    msg = _error(path)
    # The line is the score's (or, with located errors, the offending grade's).
    lines = {_line_of(text, "- id: points"), _line_of(text, "{name: B, min: 960}")}
    assert any(msg.startswith(f"{path}:{n}: scores[0]") for n in lines), msg
    assert "grades must be listed from highest to lowest min" in msg


def test_grade_rule_naming_an_unknown_grade(tmp_path: Path) -> None:
    text = VALID.replace("when: {list: discredited}", "when: {grade: [AA]}")
    msg = _error(_write(tmp_path, text))
    assert "unknown grade 'AA'" in msg and "policy.yaml:" in msg


def test_malformed_yaml(tmp_path: Path) -> None:
    text = VALID.replace("moments: [loan_application]", "moments: [loan_application")
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:"), msg
    assert "malformed YAML" in msg
    line = int(msg.removeprefix(f"{path}:").split(":")[0])
    assert _line_of(text, "moments: [loan_application") <= line <= len(text.splitlines()) + 1


def test_duplicate_key(tmp_path: Path) -> None:
    text = VALID.replace("    window_days: 365\n", "    window_days: 365\n    window_days: 30\n")
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:{_line_of(text, 'window_days: 30')}: counters[0].window_days:")
    assert "duplicate key" in msg


def test_missing_required_field(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("title: A small valid policy\n", ""))
    assert "title: missing required field" in _error(path)


def test_unknown_pack_name() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy("nanjin")
    assert "no built-in pack 'nanjin'" in str(info.value)
    assert "nanjing" in str(info.value)


def test_the_minimal_policy_in_the_docs_validates(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "policies.md"
    blocks = docs.read_text(encoding="utf-8").split("```yaml\n")[1:]
    complete = [b.split("```")[0] for b in blocks if b.startswith("id: ")]
    assert complete, "docs/policies.md shows a complete policy"
    for i, text in enumerate(complete):
        path = tmp_path / f"doc{i}.yaml"
        path.write_text(text, encoding="utf-8")
        _, (policy,) = load_checked_policies(str(path))  # its kinds too
        assert policy.rules
