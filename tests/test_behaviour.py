"""Behaviour components on controlled toy settings: the view is set by hand, no policy runs.

Statistical tolerances are 5 standard errors of the quantity tested: with a handful of
such checks the chance of a false failure is below 1e-5, while the effects tested (a
configured rate, a sign) are many standard errors away from the alternatives.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import small_scenario

import sclab.behaviour.chilling
import sclab.behaviour.deterrence
import sclab.behaviour.purchases
import sclab.behaviour.repayment
import sclab.behaviour.ties  # the imports register the components
from sclab.behaviour.deterrence import Deterrence, DeterrenceParams
from sclab.behaviour.repayment import (
    LIST_SPAN_YEARS,
    SPC_REPAID_SHARE_2018,
    VOLUNTARY_HAZARD_PER_DAY,
    RepaymentParams,
    cumulative_multiplier,
    expected_repaid_share,
    listed_multiplier,
)
from sclab.behaviour.ties import TiePruning, reverse_positions
from sclab.engine import Simulation
from sclab.engine.propensity import propensity
from sclab.engine.ties import TieReader, tie_changes_of, tie_positions
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.scenario.loader import read_scenario
from sclab.targets import builtin_catalogue, load_scenario

# Every rate a behaviour may scale: each act kind sclab knows, and the later-performance
# hazard of judgment debtors (a rate of the court stream that is not an act of its own).
ALL_KINDS = (*builtin_catalogue().names("act"), "perform_judgment")
ALL_BEHAVIOUR = [
    {"use": "deterrence"},
    {"use": "chilling"},
    {"use": "tie_pruning"},
    {"use": "purchase_shifting"},
    {"use": "repay_when_listed"},
]


def build(write_scenario, behaviour: list[dict[str, Any]], size: int = 3000, seed: int = 7):
    doc = small_scenario(seed=seed, days=30, population={"size": size}, behaviour=behaviour)
    scenario = load_scenario(str(write_scenario(doc)))
    streams = Streams(scenario.seed)
    return Simulation.build(scenario, streams, generate_population(scenario, streams))


def component(sim: Simulation, cls: type) -> Any:
    return next(c for _, c in sim.components if isinstance(c, cls))


def with_ties(sim: Simulation, k: int) -> np.ndarray:
    """k people with at least 3 ties, no two of them tied or sharing a neighbour."""
    graph = sim.population.graph
    chosen: list[int] = []
    blocked: set[int] = set()
    for i in np.flatnonzero(graph.degree() >= 3):
        reach = {int(i), *graph.neighbours(int(i)).tolist()}
        second = set().union(*(set(graph.neighbours(j).tolist()) for j in reach - {int(i)}))
        if reach & blocked or second & blocked:
            continue
        chosen.append(int(i))
        blocked |= reach | second
        if len(chosen) == k:
            break
    return np.array(chosen, dtype=np.int64)


# --- neutral view ------------------------------------------------------------------------


def test_neutral_view_leaves_every_rate_alone(write_scenario) -> None:
    sim = build(write_scenario, ALL_BEHAVIOUR)
    for _ in range(15):  # crosses the weekly updates of pruning and repayment
        sim.step()
    for kind in ALL_KINDS:
        mult = propensity(sim, kind)
        assert mult is None or np.all(mult == 1.0), kind
    assert sim.ties_active is None


def test_being_caught_without_a_sanction_changes_no_multiplier(write_scenario) -> None:
    sim = build(write_scenario, [{"use": "deterrence"}])
    sim.view.caught("jaywalk", np.arange(0, 3000, 3))
    sim.step()
    q = component(sim, Deterrence).q["jaywalk"]
    assert q[0] > 0.05  # people learnt...
    assert propensity(sim, "jaywalk") is None  # ...but nothing is at stake, rates untouched


# --- deterrence --------------------------------------------------------------------------


def test_caught_person_and_ties_learn_with_the_formula(write_scenario) -> None:
    params = {"prior": 0.05, "alpha_own": 0.2, "alpha_ties": 0.05, "elasticity": 1.5}
    sim = build(write_scenario, [{"use": "deterrence", "params": params}])
    det = component(sim, Deterrence)
    caught = with_ties(sim, 5)
    graph = sim.population.graph
    ties = np.concatenate([graph.neighbours(int(i)) for i in caught]).astype(np.int64)
    others = np.setdiff1d(np.arange(3000), np.concatenate([caught, ties]))
    severity = 0.6
    sim.view.severity["jaywalk"] = severity
    sim.view.caught("jaywalk", caught)
    sim.view.caught("jaywalk", caught[:1])  # caught twice today: two experiences
    sim.step()

    q_once = 1 - (1 - 0.05) * (1 - 0.2)
    q_twice = 1 - (1 - 0.05) * (1 - 0.2) ** 2
    q_tie = 1 - (1 - 0.05) * (1 - 0.05)
    q = det.q["jaywalk"]
    # q is stored in float16 by default: rounding to it is within 2^-11 relative.
    tol = 2.0**-11
    np.testing.assert_allclose(q[caught[1:]], q_once, rtol=tol)
    np.testing.assert_allclose(q[caught[0]], q_twice, rtol=tol)
    np.testing.assert_allclose(q[ties], q_tie, rtol=tol)
    np.testing.assert_allclose(q[others], 0.05, rtol=tol)

    m = propensity(sim, "jaywalk")
    assert m is not None
    np.testing.assert_allclose(m[caught[1:]], 1 - 1.5 * q_once * severity, rtol=tol)
    np.testing.assert_allclose(m[ties], 1 - 1.5 * q_tie * severity, rtol=tol)
    np.testing.assert_allclose(m[others], 1 - 1.5 * 0.05 * severity, rtol=tol)
    assert m[caught].max() < m[ties].min() < m[others].min() < 1.0
    # Kinds nobody sanctions keep their base rates.
    assert propensity(sim, "bill_late") is None

    sim.view.severity["jaywalk"] = 0.0  # the sanction is lifted: back to exactly 1
    sim.step()
    assert np.all(m == 1.0)


def test_people_caught_without_an_active_tie_learn_alone(write_scenario) -> None:
    """A day where nobody caught has an active tie (here: every tie switched off) updates
    their own perceived risk and nobody else's (it used to fail on the empty tie list)."""
    sim = build(write_scenario, [{"use": "deterrence", "params": {"alpha_own": 0.2}}])
    det = component(sim, Deterrence)
    sim.ties_active = np.zeros(len(sim.population.graph.indices), bool)
    caught = with_ties(sim, 3)
    sim.view.caught("jaywalk", caught)
    sim.step()
    q = det.q["jaywalk"]
    np.testing.assert_allclose(q[caught], 1 - (1 - 0.05) * (1 - 0.2), rtol=2.0**-11)
    assert np.all(np.delete(q, caught) == q.dtype.type(0.05))


def test_deterrence_floor_pruned_ties_and_forgetting(write_scenario) -> None:
    params = {"alpha_own": 0.9, "elasticity": 5.0, "floor": 0.4, "decay_every": 10}
    params |= {"forgetting": 0.01}
    sim = build(write_scenario, [{"use": "deterrence", "params": params}])
    det = component(sim, Deterrence)
    caught = with_ties(sim, 2)
    graph = sim.population.graph
    # Cut every tie of the second person: their contacts no longer hear of it.
    sim.ties_active = np.ones(len(graph.indices), dtype=bool)
    _, pos = tie_positions(graph.indptr, caught[1:])
    sim.ties_active[pos] = False
    sim.view.severity["tax_arrears"] = 1.0
    sim.view.caught("tax_arrears", caught)
    sim.step()
    q, m = det.q["tax_arrears"], propensity(sim, "tax_arrears")
    assert m is not None
    assert np.all(m[caught] == np.float32(0.4))  # 1 - 5 * 0.905 < floor
    prior = q.dtype.type(0.05)  # the prior as stored (float16 by default)
    assert np.all(q[graph.neighbours(int(caught[1]))] == prior)
    assert np.all(q[graph.neighbours(int(caught[0]))] > prior)

    before = q[caught].astype(np.float64)
    for _ in range(10):  # day 10 is a forgetting day
        sim.step()
    expected = 0.05 + (before - 0.05) * (1 - 0.01) ** 10
    # float16 storage of q: within 2^-11 relative (the prior itself is rounded too).
    np.testing.assert_allclose(q[caught], expected, rtol=2.0**-11)
    np.testing.assert_allclose(m[caught], np.maximum(0.4, 1 - 5 * expected), rtol=2.0**-10)


def test_forgetting_over_learners_equals_forgetting_everyone(write_scenario, monkeypatch) -> None:
    """Forgetting touches only people who learnt something; the result is the dense one."""
    params = {"alpha_own": 0.5, "alpha_ties": 0.2, "decay_every": 5, "forgetting": 0.05}

    def run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sim = build(write_scenario, [{"use": "deterrence", "params": params}])
        det = component(sim, Deterrence)
        sim.view.severity["jaywalk"] = 0.8
        rng = np.random.default_rng(3)
        for _ in range(21):  # four forgetting days
            sim.view.caught("jaywalk", rng.choice(3000, 40, replace=False))
            sim.step()
        m = propensity(sim, "jaywalk")
        assert m is not None
        return det.q["jaywalk"].copy(), m.copy(), det.learnt("jaywalk")

    q, m, learnt = run()
    # Learners are exactly the people away from the prior: the caught and their ties.
    assert len(learnt) > 100
    away = np.flatnonzero(q != q.dtype.type(0.05))
    np.testing.assert_array_equal(learnt, away)
    # Everyone's multiplier is the formula of their own q, learnt or not.
    np.testing.assert_array_equal(
        m, Deterrence("d", DeterrenceParams(**params)).multiplier("jaywalk", q, 0.8)
    )
    # The same run with forgetting applied to everyone gives the same state.
    monkeypatch.setattr(Deterrence, "learnt", lambda self, kind: np.arange(len(self.q[kind])))
    q_dense, m_dense, _ = run()
    np.testing.assert_array_equal(q, q_dense)
    np.testing.assert_array_equal(m, m_dense)


def test_float16_tables_are_the_arithmetic(monkeypatch) -> None:
    """Many people's float16 probabilities are forgotten and priced through tables of every
    float16 value; the results are those of the arithmetic itself, bit for bit."""
    import sclab.behaviour.deterrence as deterrence

    params = DeterrenceParams(forgetting=0.01, decay_every=30, elasticity=1.7, floor=0.2)
    every = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    q = every[np.isfinite(every) & (every >= 0) & (every <= 1)]
    q = np.tile(q, 1 + 3 * deterrence._TABLE_FROM // len(q))
    people = np.random.default_rng(5).permutation(len(q))[: 2 * deterrence._TABLE_FROM]

    def forgotten_and_priced() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        det = Deterrence("d", params)
        det.q = {"jaywalk": q.copy()}
        _, forgot = det._forget("jaywalk", det.q["jaywalk"])
        everyone = det.multiplier("jaywalk", det.q["jaywalk"], 0.6)
        some = det.multiplier("jaywalk", det.q["jaywalk"], 0.6, people)
        return forgot, det.q["jaywalk"], everyone, some

    tables = forgotten_and_priced()
    monkeypatch.setattr(deterrence, "_TABLE_FROM", 1 << 40)  # never a table
    direct = forgotten_and_priced()
    for a, b in zip(tables, direct, strict=True):
        np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))


@given(
    q=st.floats(0, 1, width=32),
    severity=st.floats(0, 1),
    elasticity=st.floats(0, 100),
    floor=st.floats(0, 1),
)
@settings(max_examples=200, deadline=None)
def test_deterrence_multiplier_bounds(q, severity, elasticity, floor) -> None:
    det = Deterrence("d", DeterrenceParams(elasticity=elasticity, floor=floor))
    m = det.multiplier("jaywalk", np.array([q], np.float32), severity)[0]
    assert m.dtype == np.float32
    assert np.float32(floor) <= m <= 1.0
    if severity == 0.0:
        assert m == 1.0


# --- chilling ----------------------------------------------------------------------------


def test_scored_speech_chills_critical_posts(write_scenario) -> None:
    params = {"speech_scoring_effect": 0.25, "positive_shift": 0.2}
    sim = build(write_scenario, [{"use": "chilling", "params": params}])
    sim.view.scores_speech = True
    sim.step()
    crit, pos = propensity(sim, "post_critical"), propensity(sim, "post_positive_energy")
    assert crit is not None and pos is not None
    assert np.all(crit == np.float32(0.75))
    assert np.all(pos == np.float32(1.2))
    sim.view.scores_speech = False
    sim.step()
    assert np.all(crit == 1.0) and np.all(pos == 1.0)


def test_seen_sanctions_chill_and_fade(write_scenario) -> None:
    params = {
        "own_sanction_effect": 0.3,
        "sanction_exposure_effect": 0.1,
        "recovery": 0.05,
        "recover_every": 7,
    }
    sim = build(write_scenario, [{"use": "chilling", "params": params}])
    shamed = with_ties(sim, 3)
    graph = sim.population.graph
    ties = np.concatenate([graph.neighbours(int(i)) for i in shamed]).astype(np.int64)
    sim.view.visible_sanctions_today = shamed
    sim.step()
    crit = propensity(sim, "post_critical")
    assert crit is not None
    np.testing.assert_allclose(crit[shamed], 0.7, rtol=1e-6)
    np.testing.assert_allclose(crit[ties], 0.9, rtol=1e-6)
    rest = np.setdiff1d(np.arange(3000), np.concatenate([shamed, ties]))
    assert np.all(crit[rest] == 1.0)

    for _ in range(7):  # day 7: one recovery pass
        sim.step()
    fade = (1 - 0.05) ** 7
    np.testing.assert_allclose(crit[shamed], 1 - 0.3 * fade, rtol=1e-5)
    np.testing.assert_allclose(crit[ties], 1 - 0.1 * fade, rtol=1e-5)

    sim.view.scores_speech = True  # both sources of chill combine multiplicatively
    sim.step()
    np.testing.assert_allclose(crit[shamed], 0.8 * (1 - 0.3 * fade), rtol=1e-5)
    assert np.all(crit[rest] == np.float32(0.8))


# --- tie pruning -------------------------------------------------------------------------


def scored_population(sim: Simulation, seed: int = 1) -> np.ndarray:
    """30 % low (0.1), 60 % high (0.9), 10 % unscored; returns the low flags."""
    u = np.random.default_rng(seed).random(len(sim.population.citizens))
    score = np.where(u < 0.3, 0.1, 0.9).astype(np.float32)
    score[u > 0.9] = np.nan
    sim.view.score[:] = score
    sim.view.scores_ties = True
    return u < 0.3


def test_tie_pruning_rate_symmetry_and_targets(write_scenario) -> None:
    p = 0.2
    sim = build(write_scenario, [{"use": "tie_pruning", "params": {"p_prune": p}}], size=20_000)
    low = scored_population(sim)
    graph = sim.population.graph
    n = len(low)
    row = np.repeat(np.arange(n), graph.degree())
    col = graph.indices.astype(np.int64)
    eligible = np.asarray(graph.online) & (low[row] | low[col])

    for _ in range(6):
        sim.step()
    assert sim.ties_active is None  # nothing before the end of the first week
    sim.step()
    assert sim.ties_active is not None
    active = np.asarray(sim.ties_active)

    rev = reverse_positions(graph, row, col)
    assert np.array_equal(active, active[rev])  # both directions together
    assert active[~eligible].all()  # offline ties and high/unscored pairs kept

    # One draw per undirected eligible tie: count each tie once (row < col).
    once = eligible & (row < col)
    k = int(once.sum())
    dropped = int((~active[once]).sum())
    se = math.sqrt(k * p * (1 - p))
    assert k > 5000
    assert abs(dropped - k * p) < 5 * se, (dropped, k * p, se)

    for _ in range(7):  # second week: the survivors are drawn again
        sim.step()
    dropped2 = int((~np.asarray(sim.ties_active)[once]).sum())
    p2 = 1 - (1 - p) ** 2
    assert abs(dropped2 - k * p2) < 5 * math.sqrt(k * p2 * (1 - p2))
    assert np.array_equal(sim.ties_active, sim.ties_active[rev])


def test_tie_pruning_is_deterministic(write_scenario) -> None:
    runs = []
    for seed in (7, 7, 8):
        sim = build(write_scenario, [{"use": "tie_pruning"}], size=5000, seed=seed)
        scored_population(sim)
        for _ in range(7):
            sim.step()
        runs.append(np.flatnonzero(~np.asarray(sim.ties_active)))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_tie_pruning_records_each_round_for_readers(write_scenario) -> None:
    sim = build(write_scenario, [{"use": "tie_pruning", "params": {"p_prune": 0.2}}], size=5000)
    scored_population(sim)
    record = tie_changes_of(sim)
    assert record is component(sim, TiePruning).tie_changes
    reader, late = TieReader(), TieReader()
    assert len(reader.changes(sim)) == 0 and record.version == 0
    for _ in range(7):
        sim.step()
    assert record.version == 1
    # The first round: every end now off, both directions, sorted.
    first = reader.changes(sim)
    assert np.array_equal(first, np.flatnonzero(~np.asarray(sim.ties_active)))
    assert len(reader.changes(sim)) == 0  # nothing since
    before = sim.ties_active.copy()
    for _ in range(7):
        sim.step()
    assert record.version == 2
    now_off = np.asarray(before) & ~np.asarray(sim.ties_active)
    assert np.array_equal(reader.changes(sim), np.flatnonzero(now_off))
    assert late.changes(sim) is None  # two rounds behind: must recount
    assert len(late.changes(sim)) == 0
    sim.ties_active = sim.ties_active.copy()  # replaced outside the record
    assert reader.changes(sim) is None
    # Ends already off and repeats are not recorded again; an empty round is no round.
    off = np.flatnonzero(~np.asarray(sim.ties_active))
    assert record.switch_off(sim, np.r_[off, off]) == 0 and record.version == 2
    on = np.flatnonzero(np.asarray(sim.ties_active))[:3]
    assert record.switch_off(sim, np.r_[on, on, off[:5]]) == 3 and record.version == 3
    assert np.array_equal(reader.changes(sim), on)


def test_tie_pruning_components_share_one_record(write_scenario) -> None:
    # A scenario may not list a component twice (it would run twice): two pruning
    # components are assembled here below the scenario check, as another behaviour
    # that switches ties off would be.
    doc = small_scenario(population={"size": 1000})
    doc["behaviour"] = [{"use": "tie_pruning"}, {"use": "tie_pruning"}]
    scenario, _ = read_scenario(str(write_scenario(doc)))
    streams = Streams(scenario.seed)
    sim = Simulation.build(scenario, streams, generate_population(scenario, streams))
    first, second = (c for _, c in sim.components if isinstance(c, TiePruning))
    assert first.tie_changes is second.tie_changes is tie_changes_of(sim)


# --- purchase shifting -------------------------------------------------------------------


def test_purchase_shifting_follows_weights(write_scenario) -> None:
    params = {"aware_share": 0.4, "responsiveness": 0.5, "floor": 0.6, "cap": 1.5}
    sim = build(write_scenario, [{"use": "purchase_shifting", "params": params}], size=20_000)
    shifting = component(sim, sclab.behaviour.purchases.PurchaseShifting)
    app = sim.population.citizens.payment_app
    aware = np.zeros(len(app), dtype=bool)
    aware[shifting.aware] = True
    assert not (aware & ~app).any()
    k, share = int(app.sum()), 0.4
    assert abs(aware.sum() - k * share) < 5 * math.sqrt(k * share * (1 - share))

    weights = {"video_games": -1.0, "alcohol": -0.5, "diapers": 0.4, "books": 3.0}
    sim.view.scored_purchases = dict(weights)
    sim.step()
    expected = {"video_games": 0.6, "alcohol": 0.75, "diapers": 1.2, "books": 1.5}
    for category, value in expected.items():
        m = propensity(sim, f"purchase_{category}")
        assert m is not None
        assert np.all(m[aware] == np.float32(value)), category
        assert np.all(m[~aware] == 1.0)
        assert (value < 1) == (weights[category] < 0)
    for category in ("luxury_goods", "groceries"):  # not weighed: untouched
        assert propensity(sim, f"purchase_{category}") is None

    sim.view.scored_purchases = {}
    sim.step()
    for category in expected:
        assert np.all(propensity(sim, f"purchase_{category}") == 1.0)


def test_purchase_awareness_is_deterministic(write_scenario) -> None:
    aware = [
        component(
            build(write_scenario, [{"use": "purchase_shifting"}], seed=s),
            sclab.behaviour.purchases.PurchaseShifting,
        ).aware
        for s in (3, 3, 4)
    ]
    assert np.array_equal(aware[0], aware[1])
    assert not np.array_equal(aware[0], aware[2])


# --- repayment ---------------------------------------------------------------------------


def test_repayment_multiplier_only_for_listed_and_capped(write_scenario) -> None:
    sim = build(write_scenario, [{"use": "repay_when_listed"}])
    rep = component(sim, sclab.behaviour.repayment.RepayWhenListed)
    params = rep.params
    listed = np.arange(0, 3000, 10)
    sim.view.listed[listed] = True
    sim.view.listed_since[listed] = 0
    rep.step(sim, 0)
    m = propensity(sim, "perform_judgment")
    assert m is not None
    assert np.all(m[listed] == np.float32(params.listed_effect))
    unlisted = np.ones(3000, dtype=bool)
    unlisted[listed] = False
    assert np.all(m[unlisted] == 1.0)

    rep.step(sim, 364)  # 364 is an update day (every 7)
    np.testing.assert_allclose(
        m[listed], params.listed_effect + params.growth_per_year * 364 / 365.0, rtol=1e-6
    )
    rep.step(sim, 7 * 1000)  # about 19 years listed: capped
    assert np.all(m[listed] == np.float32(params.cap))

    sim.view.listed[listed[:5]] = False  # delisted after performing: back to 1
    sim.view.listed_since[listed[:5]] = -1
    rep.step(sim, 7 * 1001)
    assert np.all(m[listed[:5]] == 1.0) and np.all(m[listed[5:]] == np.float32(params.cap))


def test_repayment_calibration_matches_spc_share() -> None:
    params = RepaymentParams()
    assert abs(SPC_REPAID_SHARE_2018 - 0.2725) < 1e-4
    assert expected_repaid_share(params) == pytest.approx(SPC_REPAID_SHARE_2018, abs=0.003)
    # The closed form agrees with the daily multipliers the component writes: survival
    # after d days listed is exp(-h0 * sum of the first d daily multipliers), averaged
    # over listing ages spread evenly across the 5.25 years.
    days = round(LIST_SPAN_YEARS * 365)
    daily = listed_multiplier(params, np.arange(days) / 365.0).astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(daily)])
    by_day = 1 - np.exp(-VOLUNTARY_HAZARD_PER_DAY * cum).mean()
    assert by_day == pytest.approx(expected_repaid_share(params), abs=2e-3)
    # Without any listing effect the voluntary hazard alone falls well short of 27 %;
    # the source's all-in hazard (3.5e-4 a day) alone reaches it.
    neutral = RepaymentParams(listed_effect=1.0, growth_per_year=0.0)
    assert expected_repaid_share(neutral) < 0.16
    assert expected_repaid_share(neutral, 3.5e-4) == pytest.approx(0.27, abs=0.005)
    # Past the cap the integral grows at the cap.
    capped = RepaymentParams(listed_effect=1.0, growth_per_year=1.0, cap=2.0)
    assert cumulative_multiplier(capped, np.array([3.0]))[0] == pytest.approx(5.5)
