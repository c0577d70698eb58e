"""Joint punishment as the 2015 Provisions write it: train and seat classes, learning,
legal representatives.

Controlled inputs: a scripted recorder (``tests.test_policy_engine``) lists people and
companies and makes single attempts of a known class; the class shares of the resources
source and the learning of ``learn_when_blocked`` are checked statistically.

Statistical tolerances: shares are binomial, compared with their expectation within 5
standard errors (a correct model fails one such check with probability below 1e-6); the
number of refusals before a person learns is geometric, its mean compared within 5
standard errors of the mean over the people refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from tests.conftest import small_scenario

from sclab.engine import register
from sclab.engine.avoidance import avoid
from sclab.engine.catalogue import Kind
from sclab.engine.simulation import Simulation
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.run import run_scenario
from sclab.targets import builtin_catalogue, load_scenario
from sclab.world.resources import PURPOSES, RAIL_CLASSES, RailChoice

# Imported by the names pytest gives the test modules (their directory is on the path),
# so that the test components they register are registered once.
from test_catalogue import EVERY_PLACE, _check_error, _line_of, _write
from test_policy_engine import run_policy
from test_world_resources import collector, resources

BARRED = ("g_first", "g_second", "dc_first", "soft_sleeper")
PERMITTED = ("dc_second", "hard_seat_sleeper")

ART3 = {
    "id": "art3-test",
    "title": "Art. 3 on trains",
    "lists": [{"id": "debtors", "delete_on": {"kinds": ["judgment_performed"]}},
              {"id": "companies", "entity": "company"}],
    "rules": [
        {"id": "list", "when": {"events": {"kinds": ["non_performance"]}},
         "effects": [{"list": {"list": "debtors"}}]},
        {"id": "list-companies", "when": {"events": {"kinds": ["company_non_performance"]}},
         "effects": [{"list": {"list": "companies"}}]},
    ],
    "joint": [
        {"id": "g_and_first", "when": {"list": "debtors"}, "moments": ["rail_ticket"],
         "classes": ["g_first", "g_second", "dc_first"], "effect": "blocked"},
        {"id": "soft_sleepers", "when": {"list": "debtors"}, "moments": ["rail_ticket"],
         "classes": ["soft_sleeper"], "effect": "blocked"},
        {"id": "flights", "when": {"list": "debtors"}, "moments": ["flight_ticket"],
         "effect": "blocked"},
        {"id": "representatives", "when": {"list": "companies"},
         "moments": ["flight_ticket"], "effect": "blocked",
         "applies_to": ["legal_representative"]},
        {"id": "representatives_rail", "when": {"list": "companies"},
         "moments": ["rail_ticket"], "classes": list(BARRED), "effect": "blocked",
         "applies_to": ["legal_representative"]},
    ],
    "due_process": {"enabled": False},
}  # fmt: skip


def test_a_listed_person_is_barred_from_g_seats_first_class_and_soft_sleepers(
    tmp_path: Path,
) -> None:
    events = [{"day": 0, "kind": "non_performance", "person": 5, "ground": 1}]
    moments = [
        {"day": 1, "kind": "rail_ticket", "person": p, "class": c}
        for p in (5, 6)
        for c in RAIL_CLASSES
    ] + [{"day": 1, "kind": "flight_ticket", "person": p} for p in (5, 6)]
    con = run_policy(tmp_path, ART3, events, days=3, moments=moments)
    rows = con.execute(
        "SELECT actor, kind, class, outcome FROM resource_moments ORDER BY moment_id"
    ).fetchall()
    outcome = {(a, k, c): o for a, k, c, o in rows}
    for c in BARRED:
        assert outcome[(5, "rail_ticket", c)] == "blocked", c
    for c in PERMITTED:
        assert outcome[(5, "rail_ticket", c)] == "allowed", c
    assert outcome[(5, "flight_ticket", None)] == "blocked"
    # The person who is not listed buys any seat: no measure watched those attempts, so
    # they are counted, not stored one by one.
    assert {a for (a, _, _) in outcome} == {5}
    counted = con.execute(
        "SELECT outcome::VARCHAR, sum(attempts) FROM moment_counts GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert counted == [("allowed", 2 * len(RAIL_CLASSES) + 2 - 5), ("blocked", 5)]
    blocked = con.execute(
        "SELECT rule_id, count(*) FROM sanctions WHERE kind = 'blocked' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert blocked == [("flights", 1), ("g_and_first", 3), ("soft_sleepers", 1)]


def _representative_blocked(con: Any) -> tuple[int, list[tuple[Any, ...]]]:
    """Company 0's legal representative, and every (actor, kind, class) blocked."""
    (rep,) = con.execute(
        "SELECT legal_rep_person_id FROM companies WHERE company_id = 0"
    ).fetchall()[0]
    blocked = con.execute(
        "SELECT DISTINCT actor, kind, class FROM resource_moments WHERE outcome = 'blocked'"
    ).fetchall()
    return rep, blocked


def test_the_legal_representative_of_a_listed_company_carries_its_restrictions(
    tmp_path: Path,
) -> None:
    everyone = range(300)
    events = [{"day": 0, "kind": "company_non_performance", "person": 0, "entity": "company"}]
    moments = [{"day": 1, "kind": "flight_ticket", "person": p} for p in everyone]
    moments += [{"day": 2, "kind": "rail_ticket", "person": p, "class": "g_second"}
                for p in everyone]  # fmt: skip
    moments += [{"day": 2, "kind": "rail_ticket", "person": p, "class": "dc_second"}
                for p in everyone]  # fmt: skip
    con = run_policy(tmp_path, ART3, events, days=3, moments=moments)
    rep, blocked = _representative_blocked(con)
    assert sorted(blocked, key=str) == [
        (rep, "flight_ticket", None),
        (rep, "rail_ticket", "g_second"),
    ]
    rows = con.execute(
        "SELECT DISTINCT entity_id, entity_type, rule_id FROM sanctions WHERE kind = 'blocked'"
    ).fetchall()
    assert sorted(rows) == [
        (rep, "person", "representatives"),
        (rep, "person", "representatives_rail"),
    ]


def test_a_class_on_a_kind_without_classes_is_one_line_at_its_place(tmp_path: Path) -> None:
    text = EVERY_PLACE.replace("moments: [rail_ticket]", "moments: [flight_ticket]")
    path = _write(tmp_path, text)
    msg = _check_error(path)
    line = _line_of(text, "classes: [g_second]")
    assert msg == (
        f"{path}:{line}: joint[1].classes[0]: moment kind 'flight_ticket' has no classes; "
        "leave out classes to bar it all"
    )


def test_the_catalogue_declares_the_rail_classes() -> None:
    kind = builtin_catalogue().get("rail_ticket", "moment")
    assert kind is not None and kind.classes == RAIL_CLASSES
    assert builtin_catalogue().get("flight_ticket", "moment").classes == ()
    with pytest.raises(ValueError, match="only moments have classes"):
        Kind("x", "act", "person", "travel", True, "m", classes=("a",))


# -- the classes people try to buy ---------------------------------------------------------


@register("sensors", "test-rail-classes")
class RailClasses:
    """Test sensor: copies each day's rail attempts with their classes."""

    def __init__(self, name: str, params: Any) -> None:
        self.name = name
        self.rows: list[tuple[np.ndarray, np.ndarray]] = []

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        for m in sim.moments.of_kind("rail_ticket"):
            assert m.cls is not None and m.classes == RAIL_CLASSES
            self.rows.append((m.actor.copy(), m.cls.copy()))

    def finish(self, sim: Simulation) -> None:
        pass


@pytest.fixture(scope="module")
def rail_attempts(tmp_path_factory) -> tuple[Simulation, np.ndarray, np.ndarray]:
    tmp = tmp_path_factory.mktemp("rail-classes")
    doc = small_scenario(
        seed=5, days=20, population={"size": 20_000},
        sources=[{"use": "resources", "params": {
            "rail_ticket": {"per_year": 60.0}, "flight_ticket": {"per_year": 20.0}}}],
        sensors=[{"use": "test-rail-classes"}, {"use": "test-resources-collector"}],
    )  # fmt: skip
    path = tmp / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    population = generate_population(scenario, Streams(scenario.seed))
    sim = Simulation.build(scenario, Streams(scenario.seed), population)  # and sets it up
    bits = sum(1 << RAIL_CLASSES.index(c) for c in BARRED)
    avoid(sim, "rail_ticket", np.arange(1000), bits)
    avoid(sim, "flight_ticket", np.arange(1000, 2000), 1)
    sim.run()
    rec = next(c for _, c in sim.components if isinstance(c, RailClasses))
    actor = np.concatenate([a for a, _ in rec.rows])
    cls = np.concatenate([c for _, c in rec.rows])
    return sim, actor, cls


def _share_within(k: int, n: int, p: float, label: str) -> None:
    se = np.sqrt(p * (1 - p) / n)
    assert abs(k / n - p) < 5 * se, f"{label}: {k}/{n} = {k / n:.4f} vs {p:.4f} ± 5×{se:.2g}"


def test_class_shares_of_attempts_are_the_published_ones(rail_attempts) -> None:
    _, actor, cls = rail_attempts
    free = actor >= 1000  # people who avoid nothing
    c = cls[free]
    n = len(c)
    assert n > 50_000
    p = RailChoice()
    emu = np.isin(c, [0, 1, 2, 3])
    _share_within(int(emu.sum()), n, p.emu_share, "EMU share (2.29 of 3.57 bn, 2019)")
    g = np.isin(c[emu], [0, 1])
    _share_within(int(g.sum()), int(emu.sum()), p.g_share_of_emu, "G share of EMU")
    first = np.isin(c[emu], [0, 2])
    _share_within(int(first.sum()), int(emu.sum()), p.first_share_of_emu, "first of EMU")
    soft = c[~emu] == 4
    _share_within(int(soft.sum()), int((~emu).sum()), p.soft_sleeper_share, "soft sleeper")


def test_richer_travellers_buy_faster_trains_and_better_seats(rail_attempts) -> None:
    sim, actor, cls = rail_attempts
    free = actor >= 1000
    decile = sim.population.citizens.income_decile[actor[free]]
    c = cls[free]
    table = resources(sim).rail_table  # P(purpose, class | decile)
    for d in (0, 9):
        mine = c[decile == d]
        expected = table[d].sum(axis=0)  # P(class | decile)
        for code, name in enumerate(RAIL_CLASSES):
            _share_within(
                int((mine == code).sum()), len(mine), float(expected[code]), f"{name} d{d}"
            )
    # the gradient itself: the top decile takes G and first class far more often
    top, bottom = table[9].sum(axis=0), table[0].sum(axis=0)
    assert top[0] > 5 * bottom[0] and top[1] > 1.5 * bottom[1] and top[5] < bottom[5] / 2
    assert table.shape == (10, len(PURPOSES), len(RAIL_CLASSES))
    np.testing.assert_allclose(table.sum(axis=(1, 2)), 1.0)


def test_people_who_know_switch_to_permitted_seats_or_stop_flying(rail_attempts) -> None:
    sim, actor, cls = rail_attempts
    knowing = actor < 1000
    # never a barred class, and (switching, not giving up) about as many trips as others
    assert len(cls[knowing]) > 1000
    assert set(np.unique(cls[knowing])) <= {RAIL_CLASSES.index(c) for c in PERMITTED}
    rate = resources(sim).rates["rail_ticket"][resources(sim).classes.class_of()]
    expected = rate[:1000].sum() * sim.scenario.days
    assert abs(knowing.sum() - expected) < 5 * np.sqrt(expected)
    flights = collector(sim).of("flight_ticket")
    assert not np.isin(flights, np.arange(1000, 2000)).any()
    assert np.isin(flights, np.arange(2000, 3000)).sum() > 50


# -- learning from refusals -------------------------------------------------------------


class Listing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    people: list[int] = []


@register("sensors", "test-listing", Listing)
class ListingRecorder:
    """Test sensor: records a non-performance of each listed person on day 0."""

    def __init__(self, name: str, params: Listing) -> None:
        self.name, self.params = name, params

    def labels(self) -> dict[str, set[str]]:
        return {"source": {"test"}}

    def kinds(self) -> list[Kind]:
        return [k for k in builtin_catalogue().kinds("event") if k.name == "non_performance"]

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        if day == 0:
            who = np.array(self.params.people, np.int64)
            sim.events.record(
                day, "test", "non_performance", who, who, ground=np.ones(len(who), np.int8)
            )

    def finish(self, sim: Simulation) -> None:
        pass


LEARN_POLICY = {
    "id": "learn-test",
    "title": "rail bar",
    "lists": [{"id": "debtors"}],
    "rules": [{"id": "list", "when": {"events": {"kinds": ["non_performance"]}},
               "effects": [{"list": {"list": "debtors"}}]}],
    "joint": [{"id": "rail", "when": {"list": "debtors"}, "moments": ["rail_ticket"],
               "classes": list(BARRED), "effect": "blocked"}],
    "due_process": {"enabled": False},
}  # fmt: skip


def _learning_run(tmp_path: Path, **learn: float) -> duckdb.DuckDBPyConnection:
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(LEARN_POLICY, sort_keys=False))
    doc = small_scenario(
        seed=9, days=40, population={"size": 3000},
        sources=[{"use": "resources", "params": {"rail_ticket": {"per_year": 730.0}}}],
        sensors=[{"use": "test-listing", "params": {"people": list(range(0, 3000, 5))}}],
        policies=[{"use": "pack", "params": {"pack": str(policy)}}],
        behaviour=[{"use": "learn_when_blocked", "params": learn}],
    )  # fmt: skip
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = run_scenario(load_scenario(str(path)), tmp_path / "run")
    return duckdb.connect(str(result.database), read_only=True)


def test_refused_people_learn_at_the_stated_share(tmp_path: Path) -> None:
    share = 0.4
    con = _learning_run(tmp_path, switch_share=share, told_share=0.0, known_at_start=0.0)
    # Learning happens at the end of the day, on the day's refusals: of the people whose
    # first refused day had a single refusal, a share 1 - `share` did not learn and try
    # a barred seat again later (a listed person tries one about 0.4-1.2 times a day, so
    # 20 days or more leave nobody untried: probability above 1 - 1e-3).
    rows = con.execute(
        "WITH d AS (SELECT entity_id, day, count(*) AS n FROM sanctions "
        "WHERE kind = 'blocked' GROUP BY ALL), "
        "f AS (SELECT entity_id, min(day) AS first FROM d GROUP BY ALL) "
        "SELECT f.entity_id, (SELECT n FROM d WHERE d.entity_id = f.entity_id AND "
        "d.day = f.first), (SELECT count(*) FROM d WHERE d.entity_id = f.entity_id AND "
        "d.day > f.first) > 0 FROM f WHERE f.first < 20"
    ).fetchall()
    again = [later for _, n, later in rows if n == 1]
    assert len(again) > 150
    _share_within(sum(again), len(again), 1 - share, "refused again after one refusal")
    # Once learnt, no barred attempt: in the last ten days barred attempts are a few
    # per cent of the first ten days' (the few who rarely travel have not learnt yet),
    # while the listed keep travelling on permitted seats.
    barred = "('g_first', 'g_second', 'dc_first', 'soft_sleeper')"
    early, late, travelling = con.execute(
        f"SELECT count(*) FILTER (WHERE day < 10 AND class IN {barred}), "
        f"count(*) FILTER (WHERE day >= 30 AND class IN {barred}), "
        "count(*) FILTER (WHERE day >= 30) FROM resource_moments "
        "WHERE kind = 'rail_ticket' AND actor % 5 = 0"
    ).fetchall()[0]
    assert early > 1000 and late < 0.03 * early and travelling > 5000, (early, late)


def test_people_told_on_listing_are_never_refused_after_the_first_day(tmp_path: Path) -> None:
    con = _learning_run(tmp_path, switch_share=1.0, told_share=1.0, known_at_start=0.0)
    days = con.execute("SELECT DISTINCT day FROM sanctions WHERE kind = 'blocked'").fetchall()
    assert days == [(0,)]


@settings(max_examples=40, deadline=None)
@given(
    weight=st.lists(st.floats(0.01, 100.0), min_size=10, max_size=10),
    emu=st.floats(0.05, 0.95),
    g=st.floats(0.05, 0.95),
    first=st.floats(0.01, 0.5),
    ratio=st.floats(0.2, 20.0),
)
def test_the_class_table_meets_its_shares_for_any_attempt_weights(
    weight: list[float], emu: float, g: float, first: float, ratio: float
) -> None:
    choice = RailChoice(
        emu_share=emu, g_share_of_emu=g, first_share_of_emu=first, emu_income_ratio=ratio
    )
    w = np.array(weight)
    table = choice.table(w)
    np.testing.assert_allclose(table.sum(axis=(1, 2)), 1.0, atol=1e-12)
    by_class = (w[:, None] * table.sum(axis=1)).sum(axis=0) / w.sum()
    assert by_class[:4].sum() == pytest.approx(emu, abs=1e-9)
    assert by_class[:2].sum() / by_class[:4].sum() == pytest.approx(g, abs=1e-9)
    assert (by_class[0] + by_class[2]) / by_class[:4].sum() == pytest.approx(first, abs=1e-9)
    by_purpose = (w[:, None] * table.sum(axis=2)).sum(axis=0) / w.sum()
    assert by_purpose[0] == pytest.approx(choice.business_share, abs=1e-9)


def test_the_corporate_list_bars_its_representatives_trains_as_the_court_does(
    tmp_path: Path,
) -> None:
    """A company listed for serious dishonesty (a second environmental violation within a
    year) bars its legal representative from a G-series seat, and no other passenger; a
    second-class seat on a D-series train stays open (Fagai Caijin [2018] No. 384)."""
    everyone = range(300)
    events = [{"day": d, "kind": "environmental_violation", "person": 0, "entity": "company"}
              for d in (0, 1)]  # fmt: skip
    moments = [{"day": 3, "kind": "rail_ticket", "person": p, "class": "g_second"}
               for p in everyone]  # fmt: skip
    moments += [{"day": 3, "kind": "rail_ticket", "person": p, "class": "dc_second"}
                for p in everyone]  # fmt: skip
    con = run_policy(tmp_path, "corporate", events, days=4, moments=moments)
    rep, blocked = _representative_blocked(con)
    assert blocked == [(rep, "rail_ticket", "g_second")]
