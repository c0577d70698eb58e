"""The catalogue of what can happen, and the names policies and parameters are checked by.

Misspelt names in every place a policy names a kind (and in components' parameters) are
one-line errors with the nearest valid name; a kind sclab knows but the scenario does not
produce names its producer; the built-in packs name only what the default scenario
produces; facts of a few kinds; components and policies listed twice are refused; the
``kinds`` table of a run is the run's catalogue; ``docs/catalogue.md`` is generated.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.conftest import run_cli, small_scenario
from tests.test_scenario_errors import assert_one_line_error

from sclab.engine import register
from sclab.engine.catalogue import Catalogue, Kind, gather, markdown
from sclab.errors import ScenarioError
from sclab.policy.factors import ATTRIBUTES
from sclab.policy.loader import PolicyError, load_bundle, read_policy
from sclab.policy.schema import FactorScore
from sclab.policy.vocabulary import _filters, check_names
from sclab.run import run_scenario
from sclab.targets import builtin_catalogue, load_checked_policies, load_scenario
from sclab.targets import scenario_catalogue as catalogue_of
from sclab.world.payments import DEFAULT_PURCHASES

PACKS = ("court-defaulters", "corporate", "nanjing", "rongcheng", "sesame")

# A policy naming a kind in every place a policy can: each case below misspells one.
EVERY_PLACE = """\
id: probe
title: every place a policy names a kind
counters:
  - id: late
    events: {kinds: [bill_late]}
    window_days: 30
scores:
  - id: points
    type: points
    base: 1000
    deltas:
      - events: {kinds: [loan_default]}
        delta: -20
      - events: {kinds: [traffic_ticket]}
        delta: -5
  - id: factors
    type: factors
    range: [350, 950]
    factors:
      - name: all
        weight: 1
        inputs:
          - {from: events, events: {kinds: [loan_instalment_missed]}, window_days: 365}
          - {from: platform, kind: purchase_books, half_life_days: 90}
          - {from: posts, kind: post_critical, half_life_days: 90, weight: -1}
          - {from: attribute, attribute: income_decile}
lists:
  - id: debtors
    delete_on: {kinds: [judgment_performed]}
rules:
  - id: default
    when: {events: {kinds: [non_performance], sources: [state_data]}}
    effects:
      - list: {list: debtors}
joint:
  - id: flights
    when: {list: debtors}
    moments: [flight_ticket]
    effect: blocked
  - id: rail
    when: {list: debtors}
    moments: [rail_ticket]
    classes: [g_second]
    effect: blocked
"""


@pytest.fixture(scope="module")
def demo() -> Catalogue:
    """What the default scenario's components produce (it runs every built-in pack)."""
    return catalogue_of(load_scenario("demo"))


def _line_of(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


def _write(tmp_path: Path, text: str, name: str = "policy.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _check_error(path: Path) -> str:
    with pytest.raises(PolicyError) as info:
        load_checked_policies(str(path))
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_the_policy_naming_every_place_is_valid(tmp_path: Path) -> None:
    _, (policy,) = load_checked_policies(str(_write(tmp_path, EVERY_PLACE)))
    assert policy.id == "probe"


MISSPELT = [
    # (old, new, field, message)
    ("[bill_late]", "[bill_laet]", "counters[0].events.kinds[0]",
     "unknown event kind 'bill_laet'; did you mean 'bill_late'?"),
    ("[loan_default]", "[loan_defualt]", "scores[0].deltas[0].events.kinds[0]",
     "unknown event kind 'loan_defualt'; did you mean 'loan_default'?"),
    ("[traffic_ticket]", "[trafic_ticket]", "scores[0].deltas[1].events.kinds[0]",
     "unknown event kind 'trafic_ticket'; did you mean 'traffic_ticket'?"),
    ("[loan_instalment_missed]", "[loan_installment_missed]",
     "scores[1].factors[0].inputs[0].events.kinds[0]",
     "unknown event kind 'loan_installment_missed'; did you mean 'loan_instalment_missed'?"),
    ("kind: purchase_books", "kind: purchase_book", "scores[1].factors[0].inputs[1].kind",
     "unknown act kind 'purchase_book'; did you mean 'purchase_books'?"),
    ("kind: post_critical", "kind: post_critic", "scores[1].factors[0].inputs[2].kind",
     "unknown act kind 'post_critic'; did you mean 'post_critical'?"),
    ("attribute: income_decile", "attribute: income_decil",
     "scores[1].factors[0].inputs[3].attribute",
     "unknown attribute 'income_decil'; did you mean 'income_decile'?"),
    ("[judgment_performed]", "[judgement_performed]", "lists[0].delete_on.kinds[0]",
     "unknown event kind 'judgement_performed'; did you mean 'judgment_performed'?"),
    ("[non_performance]", "[non_perfomance]", "rules[0].when.events.kinds[0]",
     "unknown event kind 'non_perfomance'; did you mean 'non_performance'?"),
    ("[state_data]", "[state_dta]", "rules[0].when.events.sources[0]",
     "unknown event source 'state_dta'; did you mean 'state_data'?"),
    ("[flight_ticket]", "[flight_tiket]", "joint[0].moments[0]",
     "unknown moment kind 'flight_tiket'; did you mean 'flight_ticket'?"),
    ("[g_second]", "[g_secnd]", "joint[1].classes[0]",
     "unknown class 'g_secnd' of moment kind 'rail_ticket' (its classes: g_first, "
     "g_second, dc_first, dc_second, soft_sleeper, hard_seat_sleeper); did you mean "
     "'g_second'?"),
    # Right name, wrong place.
    ("[bill_late]", "[jaywalk]", "counters[0].events.kinds[0]",
     "'jaywalk' is an act kind, not an event kind; did you mean 'jaywalk_identified' "
     "(which stands for it)?"),
    ("[flight_ticket]", "[bill_late]", "joint[0].moments[0]",
     "'bill_late' is an act kind, not a moment kind"),
    ("[bill_late]", "[contract_breach]", "counters[0].events.kinds[0]",
     "event kind 'contract_breach' is about companies, but this is read for people"),
    ("kind: purchase_books", "kind: bill_late", "scores[1].factors[0].inputs[1].kind",
     "act kind 'bill_late' is kept one by one in this scenario, not as the per-person "
     "totals that a 'platform' input reads"),
    ("kind: post_critical", "kind: purchase_books", "scores[1].factors[0].inputs[2].kind",
     "'purchase_books' is not a post kind (its domain is consumption)"),
    ("[state_data]", "[payments]", "rules[0].when.events.sources[0]",
     "no event of the kinds non_performance comes from 'payments' (they come from state_data)"),
]  # fmt: skip


@pytest.mark.parametrize(("old", "new", "field", "message"), MISSPELT, ids=[c[2] for c in MISSPELT])
def test_a_wrong_name_is_one_line_with_its_place(
    tmp_path: Path, old: str, new: str, field: str, message: str
) -> None:
    assert old in EVERY_PLACE
    text = EVERY_PLACE.replace(old, new, 1)
    path = _write(tmp_path, text)
    msg = _check_error(path)
    line = next(  # the line that changed
        i + 1
        for i, (a, b) in enumerate(zip(text.splitlines(), EVERY_PLACE.splitlines(), strict=True))
        if a != b
    )
    assert msg.startswith(f"{path}:{line}: {field}: {message}"), msg


def test_check_policy_and_run_report_a_misspelt_kind(tmp_path: Path) -> None:
    text = EVERY_PLACE.replace("[loan_default]", "[loan_defualt]")
    path = _write(tmp_path, text)
    line = _line_of(text, "loan_defualt")
    expected = (
        f"{path}:{line}: scores[0].deltas[0].events.kinds[0]: unknown event kind "
        "'loan_defualt'; did you mean 'loan_default'?"
    )
    assert assert_one_line_error(run_cli("check-policy", path)).endswith(expected)
    out = tmp_path / "out"
    proc = run_cli("run", path, "--population", "500", "--days", "2", "--out", out)
    assert assert_one_line_error(proc).endswith(expected)
    assert not out.exists()


def test_a_kind_the_scenario_does_not_produce_names_its_producer(
    tmp_path: Path, write_scenario
) -> None:
    # The nanjing pack counts camera identifications; this world has no cameras.
    doc = small_scenario(
        sources=[{"use": "streets"}, {"use": "resources"}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": "nanjing"}}],
    )
    path = write_scenario(doc)
    pack_line = _line_of(_pack("nanjing"), "kinds: [jaywalk_identified]")
    proc = run_cli("run", path, "--out", tmp_path / "out")
    assert_one_line_error(
        proc,
        f"nanjing (built-in pack):{pack_line}: counters[0].events.kinds[0]: event kind "
        "'jaywalk_identified' is produced by sensors:cameras, which this scenario does not run",
    )


def _pack(name: str) -> str:
    from sclab.policy.loader import pack_text

    return pack_text(name)


@pytest.mark.parametrize(
    ("sources", "sensors", "message"),
    [
        # the records sensor runs, but no source of court acts
        (["payments", "company_conduct", "resources"], ["records"],
         "event kind 'judgment_performed' is produced by sensors:records from the acts of "
         "sources:state_data; this scenario does not run sources:state_data"),
        # court acts, but nothing records them
        (["state_data", "company_conduct", "resources"], [],
         "event kind 'judgment_performed' is produced by sensors:records from the acts of "
         "sources:state_data; this scenario does not run sensors:records"),
        # everything runs, but the court stream is switched off
        ([{"use": "state_data", "params": {"enabled_streams": ["tax_arrears"]}},
          "company_conduct", "resources"], ["records"],
         "event kind 'judgment_performed' is produced by sensors:records from the acts of "
         "sources:state_data, which this scenario runs with parameters that do not produce it"),
        # the events exist, the moments of the measures do not
        (["state_data", "company_conduct"], ["records"],
         "moment kind 'flight_ticket' is produced by sources:resources, which this scenario "
         "does not run"),
        # people's court acts, but no company debtors for the company list
        (["state_data", "resources"], ["records"],
         "event kind 'company_judgment_performed' is produced by sensors:records from the "
         "acts of sources:company_conduct; this scenario does not run "
         "sources:company_conduct"),
    ],
)  # fmt: skip
def test_why_a_known_kind_is_missing(
    write_scenario, sources: list[Any], sensors: list[str], message: str
) -> None:
    doc = small_scenario(
        sources=[s if isinstance(s, dict) else {"use": s} for s in sources],
        sensors=[{"use": s} for s in sensors],
        policies=[{"use": "pack", "params": {"pack": "court-defaulters"}}],
    )
    with pytest.raises(PolicyError) as info:
        load_scenario(str(write_scenario(doc)))
    assert str(info.value).startswith("court-defaulters (built-in pack):"), str(info.value)
    assert str(info.value).endswith(message), str(info.value)


@pytest.mark.parametrize(
    ("stage", "use", "params", "needle", "field", "message"),
    [
        ("behaviour", "deterrence", {"kinds": ["jaywalk", "bill_lat"]}, "- bill_lat",
         "kinds[1]", "unknown act kind 'bill_lat'; did you mean 'bill_late'?"),
        ("behaviour", "deterrence", {"elasticity_by_kind": {"jaywalk_identified": 0.5}},
         "jaywalk_identified:", "elasticity_by_kind.jaywalk_identified",
         "'jaywalk_identified' is an event kind, not an act kind; did you mean 'jaywalk' "
         "(the act it stands for)?"),
        ("behaviour", "purchase_shifting", {"categories": ["video_game"]}, "- video_game",
         "categories[0]",
         "unknown act kind 'purchase_video_game'; did you mean 'purchase_video_games'?"),
        ("sensors", "records", {"kinds": {"judgement_lost": {"delay_days_mean": 5}}},
         "judgement_lost:", "kinds.judgement_lost",
         "unknown act kind 'judgement_lost'; did you mean 'judgment_lost'?"),
        ("sensors", "records", {"ignore": ["jaywalks"]}, "- jaywalks", "ignore[0]",
         "unknown act kind 'jaywalks'; did you mean 'jaywalk'?"),
    ],
)  # fmt: skip
def test_component_parameters_naming_kinds_are_checked(
    write_scenario, stage: str, use: str, params: dict, needle: str, field: str, message: str
) -> None:
    doc = small_scenario(**{stage: [{"use": use, "params": params}]})
    path = write_scenario(doc)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    line = _line_of(path.read_text(), needle)
    assert str(info.value) == f"{path}:{line}: {stage}[0].params.{field}: {message}"


# -- the built-in packs and the default scenario -------------------------------------------


def _references(name: str) -> list[tuple[str, str]]:
    """Every (kind, category) a pack names."""
    policy, _ = read_policy(name)
    refs = [(k, "event") for f, _, _ in _filters(policy) for k in f.kinds]
    for score in policy.scores:
        if isinstance(score, FactorScore):
            refs += [
                (i.kind, "act")
                for f in score.factors
                for i in f.inputs
                if i.source in ("platform", "posts") and i.kind
            ]
    refs += [(m, "moment") for j in policy.joint for m in j.moments]
    return refs


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_every_kind_a_builtin_pack_names_is_in_the_default_catalogue(
    demo: Catalogue, data: st.DataObject
) -> None:
    pack = data.draw(st.sampled_from(PACKS))
    name, category = data.draw(st.sampled_from(_references(pack)))
    entry = demo.entry(name, category)
    assert entry is not None, (pack, name, category)
    assert entry.produced_by in demo.running


@pytest.mark.parametrize("name", PACKS)
def test_builtin_packs_pass_the_check_against_the_default_scenario(
    demo: Catalogue, name: str
) -> None:
    policy, doc = read_policy(name)
    check_names(policy, doc, demo)


_LETTERS = "abcdefghijklmnopqrstuvwxyz_"


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_one_slip_of_the_keyboard_suggests_a_valid_kind(
    demo: Catalogue, data: st.DataObject
) -> None:
    """Any single-letter insertion, deletion or substitution in an event kind's name is
    an unknown kind whose suggestion is a valid event kind (the original, or a closer)."""
    name = data.draw(st.sampled_from(demo.names("event")))
    at = data.draw(st.integers(0, len(name)))
    letter = data.draw(st.sampled_from(_LETTERS))
    how = data.draw(st.sampled_from(["insert", "delete", "replace"]))
    if how == "insert":
        typo = name[:at] + letter + name[at:]
    elif how == "delete":
        typo = name[: max(at - 1, 0)] + name[max(at, 1) :]
    else:
        typo = name[: min(at, len(name) - 1)] + letter + name[min(at, len(name) - 1) + 1 :]
    assume(typo and not any(demo.has(typo, c) for c in ("act", "event", "moment")))
    message = demo.problem(typo, "event")
    assert message is not None and message.startswith(f"unknown event kind '{typo}'")
    suggested = message.split("did you mean '")[1].rstrip("'?")
    assert demo.has(suggested, "event")


# -- facts ---------------------------------------------------------------------------------


def test_facts_of_a_few_kinds(demo: Catalogue) -> None:
    identified = demo.get("jaywalk_identified", "event")
    assert identified is not None
    assert identified.biometric and identified.realtime
    assert identified.of_act == "jaywalk" and not identified.lawful
    assert demo.entry("jaywalk_identified", "event").produced_by == "sensors:cameras"
    for post in ("post_critical", "post_positive_energy", "post_neutral"):
        kind = demo.get(post, "act")
        assert kind is not None and kind.lawful and kind.domain == "speech"
    for purchase in ("purchase_video_games", "purchase_alcohol", "purchase_books"):
        assert demo.get(purchase, "act").lawful
    flight = demo.get("flight_ticket", "moment")
    assert flight is not None and flight.category == "moment" and flight.of_act is None
    assert not demo.has("flight_ticket", "act") and not demo.has("flight_ticket", "event")
    # A breach of contract is not lawful; being sued is.
    assert not demo.get("bill_late", "event").lawful
    assert not demo.get("contract_breach", "act").lawful
    assert demo.get("contract_breach", "act").entity == "company"
    assert demo.get("sued", "event").lawful
    # A recorded event has the facts of its act; a lost judgment stands for not performing.
    assert demo.get("judgment_lost", "event").of_act == "non_performance"
    assert demo.act_of("judgment_lost") == "non_performance"
    assert demo.act_of("jaywalk_identified") == "jaywalk"
    assert demo.act_of("bill_late") == "bill_late"
    assert demo.entry("bill_late", "event").produced_by == "sensors:records"
    assert demo.entry("bill_late", "event").source == "payments"
    # Only biometric identification rests on a face; no record of payments does.
    biometric = {k.name for k in demo.kinds("event") if k.biometric}
    assert biometric == {"jaywalk_identified"}


def test_kinds_that_components_name_as_constants_are_in_the_catalogue(demo: Catalogue) -> None:
    """Components that act on another component's kinds name them (chilling scales posts,
    the cameras watch the streets' jaywalk places): the names are the catalogue's."""
    from sclab.behaviour import chilling
    from sclab.sensors import cameras

    for name in (chilling.CRITICAL, chilling.POSITIVE, cameras.ACT):
        assert demo.has(name, "act"), name


def test_purchase_kinds_come_from_the_payments_parameters() -> None:
    from sclab.world.payments import PaymentsParams, PaymentsSource

    params = PaymentsParams(purchases={"tea": DEFAULT_PURCHASES["books"]})
    kinds = {k.name for k in PaymentsSource("payments", params).kinds()}
    assert "purchase_tea" in kinds and "purchase_books" not in kinds


def test_records_follow_the_records_sensor_parameters() -> None:
    from sclab.sensors.records import RecordsParams, RecordsSensor
    from sclab.world.state_data import StateData, StateDataParams

    source = StateData("state_data", StateDataParams())
    only = RecordsSensor("records", RecordsParams(only_listed=True, kinds={"sued": {}}))
    cat = gather([("sources", source), ("sensors", only)])
    assert cat.names("event") == ["sued"]
    ignoring = RecordsSensor("records", RecordsParams(ignore=("sued",)))
    cat = gather([("sources", source), ("sensors", ignoring)])
    assert "sued" not in cat.names("event") and "judgment_lost" in cat.names("event")
    # Without a source before it, a recording sensor records nothing.
    assert gather([("sensors", ignoring)]).names("event") == []


def test_a_kind_is_declared_once_and_kinds_are_not_labels() -> None:
    class Twin:
        def __init__(self, name: str) -> None:
            self.name = name

        def kinds(self) -> list[Kind]:
            return [Kind.act("bill_late", "finance", False, "late")]

    with pytest.raises(ValueError, match="'bill_late' is declared by both sources:a and"):
        gather([("sources", Twin("a")), ("sources", Twin("b"))])

    class Labelled(Twin):
        def labels(self) -> dict[str, tuple[str, ...]]:
            return {"act_kind": ("bill_late",)}

    from sclab.engine.simulation import Simulation

    sim = Simulation.__new__(Simulation)
    sim.components = [("sources", Labelled("a"))]
    sim._catalogue = None
    with pytest.raises(ValueError, match="declared once, with kinds"):
        sim.labels()


@register("sources", "test-late-bills")
class LateBills:
    """Test source that claims a kind the payments source declares."""

    def __init__(self, name: str, params: object) -> None:
        self.name = name

    def kinds(self) -> list[Kind]:
        return [Kind.act("bill_late", "finance", False, "late")]


def test_two_components_of_a_scenario_declaring_one_kind_are_refused(write_scenario) -> None:
    path = write_scenario(small_scenario(sources=[{"use": "payments"}, {"use": "test-late-bills"}]))
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert str(info.value) == (
        f"{path}: act kind 'bill_late' is declared by both sources:payments and "
        "sources:test-late-bills; each kind is declared once, by the component that produces it"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"category": "act", "biometric": True}, "only events rest on identification"),
        ({"category": "event", "of_act": "x", "realtime": True}, "real-time applies"),
        ({"category": "event"}, "must say which act it records"),
        ({"category": "moment", "of_act": "x"}, "stands for no act"),
        ({"category": "act", "domain": "sports"}, "unknown domain 'sports'"),
        ({"category": "event", "of_act": "x", "kept": "totals"}, "only acts are kept"),
    ],
)
def test_facts_are_consistent(kwargs: dict[str, Any], message: str) -> None:
    facts: dict[str, Any] = {"entity": "person", "domain": "finance", "lawful": True}
    facts.update(kwargs)
    with pytest.raises(ValueError, match=message):
        Kind("x", meaning="m", **facts)


def test_attributes_are_the_citizens_yes_or_no_columns_and_three_scales() -> None:
    from sclab.population.citizens import Citizens

    notes = {name: line for name, line in _field_comments(Citizens).items()}
    yes_no = {name for name, note in notes.items() if note.startswith("bool")}
    assert set(ATTRIBUTES) == yes_no | {"age", "income_decile", "education"}


def _field_comments(cls: type) -> dict[str, str]:
    """Each dataclass field's trailing comment (``# bool: ...``), which gives its type."""
    import inspect

    out = {}
    for line in inspect.getsource(cls).splitlines():
        head, _, note = line.partition("#")
        name = head.strip().split(":")[0]
        if name in getattr(cls, "__dataclass_fields__", {}):
            out[name] = note.strip()
    return out


# -- listed twice --------------------------------------------------------------------------


def test_a_component_listed_twice_is_refused(write_scenario) -> None:
    doc = small_scenario(sources=[{"use": "payments"}, {"use": "streets"}, {"use": "payments"}])
    path = write_scenario(doc)
    text = path.read_text()
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    first = _line_of(text, "use: payments")
    second = [i + 1 for i, ln in enumerate(text.splitlines()) if "use: payments" in ln][1]
    assert str(info.value) == (
        f"{path}:{second}: sources[2].use: sources component 'payments' is listed twice: "
        f"here and at sources[0].use (line {first}); it would run twice and double its rows"
    )


def test_a_disabled_copy_is_not_a_second_run(write_scenario) -> None:
    doc = small_scenario(sources=[{"use": "payments", "enabled": False}, {"use": "payments"}])
    assert load_scenario(str(write_scenario(doc))).sources[1].enabled


def test_a_pack_twice_in_a_scenario_is_refused(tmp_path: Path, write_scenario) -> None:
    # Another file with the sesame pack's id runs as the same policy.
    copy = tmp_path / "my-sesame.yaml"
    copy.write_text(_pack("sesame").replace("title: ", "title: My ", 1), encoding="utf-8")
    doc = small_scenario(
        policies=[{"use": "pack", "params": {"pack": "sesame"}},
                  {"use": "pack", "params": {"pack": str(copy)}}],
    )  # fmt: skip
    path = write_scenario(doc)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    msg = str(info.value)
    assert "policies[1].params.pack: policy id 'sesame' is listed twice" in msg, msg
    assert "here and at policies[0].params.pack (line " in msg and "double its rows" in msg


def test_a_bundle_with_one_policy_twice_is_refused(tmp_path: Path, monkeypatch) -> None:
    # A bundle names packs, or policy files beside where it is run.
    (tmp_path / "my-nanjing.yaml").write_text(_pack("nanjing"), encoding="utf-8")
    bundle = _write(
        tmp_path, "id: twice\ntitle: t\npacks:\n  - nanjing\n  - sesame\n  - my-nanjing.yaml\n",
        "bundle.yaml",
    )  # fmt: skip
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as info:
        load_bundle(str(bundle))
    assert str(info.value) == (
        f"{bundle}:6: packs[2]: pack 'my-nanjing.yaml' has the policy id 'nanjing' of "
        "packs[0] 'nanjing' (line 4); they would run twice and double their rows"
    )
    proc = run_cli("check-policy", bundle, cwd=tmp_path)
    assert_one_line_error(proc, "packs[2]", "policy id 'nanjing'")


# -- the run's catalogue in the database, and the docs ---------------------------------------


def test_the_kinds_table_is_the_runs_catalogue(tmp_path: Path, write_scenario) -> None:
    doc = yaml.safe_load(_scenario_text("demo"))
    doc.update(population={"size": 4000}, days=8)
    # One purchase category more than the default ones: its kind comes from the params.
    purchases = {k: v.model_dump() for k, v in DEFAULT_PURCHASES.items()}
    purchases["tea"] = {"daily_rate": 0.1, "amount_median_yuan": 30.0}
    doc["sources"][0] = {"use": "payments", "params": {"purchases": purchases}}
    scenario = load_scenario(str(write_scenario(doc)))
    result = run_scenario(scenario, tmp_path / "run")
    expected = catalogue_of(scenario).columns()
    con = duckdb.connect(str(result.database), read_only=True)
    try:
        cols = list(expected)
        rows = con.execute(
            f"SELECT {', '.join(cols)} FROM kinds ORDER BY category, name"
        ).fetchall()
        stray = con.execute("""
            SELECT count(*) FROM (
                SELECT kind, 'event' AS category FROM events
                UNION ALL SELECT kind, 'act' FROM aggregates
                UNION ALL SELECT kind, 'act' FROM true_act_totals
                UNION ALL SELECT kind, 'moment' FROM resource_moments
            ) x ANTI JOIN kinds k ON k.name = x.kind AND k.category = x.category
        """).fetchone()[0]  # fmt: skip
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()
    order = {"act": 0, "event": 1, "moment": 2}
    want = sorted(zip(*expected.values(), strict=True), key=lambda r: (order[r[1]], r[0]))
    got = sorted(rows, key=lambda r: (order[r[1]], r[0]))
    assert got == want
    assert ("purchase_tea", "act") in {(r[0], r[1]) for r in got}
    assert events > 0 and stray == 0  # every kind written is in the catalogue


def _scenario_text(name: str) -> str:
    from importlib import resources

    return (resources.files("sclab.scenario.builtin") / f"{name}.yaml").read_text()


def test_catalogue_docs_match_the_code() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "catalogue.md"
    assert docs.read_text(encoding="utf-8") == markdown(builtin_catalogue()), (
        "regenerate docs/catalogue.md (make docs)"
    )
