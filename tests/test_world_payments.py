"""The payments source: bills, consumer loans and purchases reproduce their configured rates.

Statistical tolerance: unless stated otherwise a count with expectation E is accepted within
5 standard errors (5·sqrt(E) for Poisson counts, 5·sqrt(n·p·(1-p)) for binomial ones). A
correct implementation fails one such check with probability below 1e-6 (normal
approximation), while the checks on halved or doubled rates move the expectation by tens of
standard errors, so a missing effect cannot pass.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.engine import Simulation
from sclab.engine.acts import Acts
from sclab.engine.ages import ages
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_scenario
from sclab.world.payments import (
    DEFAULT_PURCHASES,
    PaymentsParams,
    PaymentsSource,
    instalment_due_day,
)
from sclab.world.sampling import RateClasses

N = 40_000
START = dt.date(2019, 7, 1)
BILL_DAYS = 59  # 1 July .. 28 August: every due day (1-28) comes exactly twice
LOAN_DAYS = 150
Z = 5.0

# Loans that resolve quickly, at high rates, so that a short run has hundreds of defaults.
FAST_LOANS: dict[str, Any] = {
    "loan_yearly_share": 1.0,
    "loan_term_months": {3: 1.0},
    "loan_decile_weight": [1.0] * 10,
    "instalment_miss_decile_risk": [1.0] * 10,
    "instalment_miss_probability": 0.2,
    "repeat_miss_probability": 0.5,
    "purchases": {},
}


def build(tmp: Path, params: dict[str, Any], days: int, size: int = N, seed: int = 7):
    from tests.conftest import small_scenario

    doc = small_scenario(
        seed=seed,
        days=days,
        start_date=START.isoformat(),
        population={"size": size},
        # The run's own acts: no warm start (tested in tests/test_warm_start.py).
        sources=[
            {
                "use": "payments",
                "params": {"bill_history_days": 0, "loan_history_days": 0, **params},
            }
        ],
    )
    path = tmp / f"payments-{seed}-{abs(hash(repr(params))) % 10**8}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    pop = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), pop)


def run(sim: Simulation, days: int) -> list[Acts]:
    """Step ``days`` days and keep every day's acts (the act log forgets them)."""
    seen: list[Acts] = []
    end_day = sim.acts.end_day

    def keep() -> None:
        seen.extend(sim.acts.today)
        end_day()

    sim.acts.end_day = keep  # type: ignore[method-assign]
    for _ in range(days):
        sim.step()
    return seen


def gather(seen: list[Acts], kind: str) -> dict[str, np.ndarray]:
    """Actors, days and extras of all acts of ``kind``, concatenated."""
    batches = [a for a in seen if a.kind == kind]
    if not batches:
        return {"actor": np.empty(0, np.int64), "day": np.empty(0, np.int64)}
    out = {
        "actor": np.concatenate([a.actor for a in batches]),
        "day": np.concatenate([np.full(len(a), a.day) for a in batches]),
    }
    for key in batches[0].extra:
        out[key] = np.concatenate([a.extra[key] for a in batches])
    return out


def counts(sim: Simulation, kind: str) -> np.ndarray:
    got = sim.aggregates.counts.get(("person", kind))
    return np.zeros(len(sim.population.citizens), np.int64) if got is None else got.astype(np.int64)


def component(sim: Simulation) -> PaymentsSource:
    return next(c for _, c in sim.components if isinstance(c, PaymentsSource))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    sim = build(tmp_path_factory.mktemp("base"), {}, BILL_DAYS)
    return sim, run(sim, BILL_DAYS)


@pytest.fixture(scope="module")
def halved(tmp_path_factory):
    """Default purchases and bills, fast loans with independent misses, propensities set."""
    params = {**FAST_LOANS, "repeat_miss_probability": 0.2}
    params.pop("purchases")
    sim = build(tmp_path_factory.mktemp("half"), params, BILL_DAYS)
    for kind in ("bill_late", "loan_instalment_missed", "purchase_video_games"):
        update_propensity(sim, kind, 0.5)
    taking = set_propensity(sim, "loan_taken")
    taking[1::2] = 0.5  # odd ids at half the rate
    taking[::2] = 0.0  # even ids never borrow
    update_propensity(sim, "purchase_alcohol", 2.0)
    even = np.arange(0, len(sim.population.citizens), 2)
    update_propensity(sim, "purchase_books", 0.0, even)  # even ids never buy books
    return sim, run(sim, BILL_DAYS)


# ---------------------------------------------------------------- bills


def test_every_adult_app_user_has_one_bill_a_month(baseline) -> None:
    sim, seen = baseline
    c = sim.population.citizens
    bills = counts(sim, "bill_paid_on_time") + np.bincount(
        gather(seen, "bill_late")["actor"], minlength=len(c)
    )
    payer = c.payment_app & (ages(sim) >= 18)
    assert payer.sum() > 20_000
    assert np.all(bills[payer] == 2)  # two full cycles of due days 1..28
    assert np.all(bills[~payer] == 0)


def test_late_share_overall_and_by_decile(baseline) -> None:
    sim, seen = baseline
    params = PaymentsParams()
    late = gather(seen, "bill_late")
    on_time = counts(sim, "bill_paid_on_time")
    decile = sim.population.citizens.income_decile
    n_late, n_bills = len(late["actor"]), len(late["actor"]) + int(on_time.sum())
    p = params.bill_late_share
    assert abs(n_late - n_bills * p) < Z * np.sqrt(n_bills * p * (1 - p))

    # Per decile: share × relative risk / mean risk over bill payers (the normalisation).
    payer = sim.population.citizens.payment_app & (ages(sim) >= 18)
    risk = np.asarray(params.bill_late_decile_risk)
    p_decile = p * risk / risk[decile[payer]].mean()
    late_d = np.bincount(decile[late["actor"]], minlength=10)
    bills_d = late_d + np.bincount(decile, weights=on_time, minlength=10)
    for d in range(10):
        sd = np.sqrt(bills_d[d] * p_decile[d] * (1 - p_decile[d]))
        assert abs(late_d[d] - bills_d[d] * p_decile[d]) < Z * sd, d
    assert late_d[0] / bills_d[0] > 2.5 * late_d[9] / bills_d[9]


def test_late_bill_extras(baseline) -> None:
    _, seen = baseline
    late = gather(seen, "bill_late")
    assert np.all(late["amount"] > 0) and np.all(late["days_late"] >= 1)
    # Geometric with mean m: sd = sqrt(m(m-1)).
    m = PaymentsParams().bill_days_late_mean
    n = len(late["days_late"])
    assert abs(late["days_late"].mean() - m) < Z * np.sqrt(m * (m - 1) / n)


# ---------------------------------------------------------------- purchases


def expected_purchases(sim: Simulation, spec, days: int, factor: float = 1.0) -> np.ndarray:
    c = sim.population.citizens
    rate = spec.rate(ages(sim).astype(np.int64), c.male, c.income_decile) * factor
    return np.where(c.payment_app, rate * days, 0.0)


def test_purchase_rates_per_category_and_class(baseline) -> None:
    sim, _ = baseline
    c = sim.population.citizens
    for name, spec in DEFAULT_PURCHASES.items():
        got = counts(sim, f"purchase_{name}")
        assert np.all(got[~c.payment_app] == 0), name
        expected = expected_purchases(sim, spec, BILL_DAYS)
        assert abs(got.sum() - expected.sum()) < Z * np.sqrt(expected.sum()), name
        # Each class of people with the same rate (age band × sex × decile) on its own.
        classes, inverse = np.unique(np.round(expected, 9), return_inverse=True)
        exp_c = np.bincount(inverse, weights=expected)
        got_c = np.bincount(inverse, weights=got)
        big = exp_c >= 30  # Poisson close enough to normal for a 5 SE bound
        assert big.sum() >= 2, name
        assert np.all(np.abs(got_c[big] - exp_c[big]) < Z * np.sqrt(exp_c[big])), name
        small_exp, small_got = exp_c[~big].sum(), got_c[~big].sum()  # pooled rare classes
        assert abs(small_got - small_exp) < Z * np.sqrt(max(small_exp, 30.0)), name
        assert np.all(got_c[classes == 0] == 0), name


def test_purchase_patterns_follow_their_assumed_shapes(baseline) -> None:
    sim, _ = baseline
    c = sim.population.citizens
    age = ages(sim)
    app = c.payment_app

    def rate(kind: str, who: np.ndarray) -> float:
        return counts(sim, f"purchase_{kind}")[who & app].sum() / (who & app).sum()

    young = (age >= 12) & (age <= 24)
    assert rate("video_games", young & c.male) > 2.0 * rate("video_games", young & ~c.male)
    assert rate("video_games", young) > 4.0 * rate("video_games", age >= 45)
    assert rate("diapers", (age >= 22) & (age <= 40)) > 3.0 * rate("diapers", age > 40)
    assert rate("diapers", age < 18) == 0 and rate("alcohol", age < 18) == 0
    luxury = counts(sim, "purchase_luxury_goods")
    assert luxury[c.income_decile >= 8].sum() > 0.8 * luxury.sum()
    groceries = sum(counts(sim, f"purchase_{k}").sum() for k in DEFAULT_PURCHASES)
    assert counts(sim, "purchase_groceries").sum() > 0.7 * groceries


def test_purchase_amounts(baseline) -> None:
    sim, _ = baseline
    for name in ("groceries", "books"):
        spec = DEFAULT_PURCHASES[name]
        key = ("person", f"purchase_{name}")
        n = int(sim.aggregates.counts[key].sum())
        mean = sim.aggregates.amounts[key].sum() / n
        # Lognormal: mean = median·exp(σ²/2), sd = mean·sqrt(exp(σ²) - 1).
        mu = spec.amount_median_yuan * np.exp(spec.amount_sigma**2 / 2)
        sd = mu * np.sqrt(np.expm1(spec.amount_sigma**2))
        assert abs(mean - mu) < Z * sd / np.sqrt(n), name


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 4), min_size=1, max_size=5),
    rate=st.floats(0.5, 3.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_poisson_events_by_class_reaches_every_member(sizes, rate, seed) -> None:
    # The purchase sampler (sclab.world.sampling.RateClasses.events) on tiny classes.
    offsets = np.r_[0, np.cumsum(sizes)]
    members = np.arange(offsets[-1], dtype=np.int64) * 10  # ids unlike positions
    classes = RateClasses(members, offsets, int(members.max(initial=0)) + 1)
    rates = rate * (1 + np.arange(len(sizes)))  # class c at (c + 1) × rate
    draws = 400
    rng = np.random.default_rng(seed)  # the sampler under test takes any generator
    got = np.zeros(len(members))
    for _ in range(draws):
        got += np.bincount(classes.events(rng, rates)[0] // 10, minlength=len(members))
    expected = np.repeat(rates, sizes) * draws
    assert np.all(np.abs(got - expected) < Z * np.sqrt(expected))


# ---------------------------------------------------------------- loans


def default_probability(dues: int, n_inst: int, q: float, r: float, threshold: int) -> float:
    """Chance that a loan defaults within ``dues`` due dates (exact Markov chain)."""
    state = {(0, 0): 1.0}  # (instalments paid, missed in a row) -> probability
    defaulted = 0.0
    for _ in range(dues):
        nxt: dict[tuple[int, int], float] = {}
        for (paid, run_), prob in state.items():
            miss = q if run_ == 0 else r
            if paid + 1 < n_inst:
                nxt[(paid + 1, 0)] = nxt.get((paid + 1, 0), 0.0) + prob * (1 - miss)
            if run_ + 1 >= threshold:
                defaulted += prob * miss
            else:
                nxt[(paid, run_ + 1)] = nxt.get((paid, run_ + 1), 0.0) + prob * miss
        state = nxt
    return defaulted


@pytest.fixture(scope="module")
def loans(tmp_path_factory):
    sim = build(tmp_path_factory.mktemp("loans"), FAST_LOANS, LOAN_DAYS)
    return sim, run(sim, LOAN_DAYS)


def test_loan_take_up_rate(loans) -> None:
    sim, seen = loans
    taken = gather(seen, "loan_taken")
    age = ages(sim)
    eligible = int(((age >= 18) & (age <= 65)).sum())
    expected = eligible * FAST_LOANS["loan_yearly_share"] / 365.0 * LOAN_DAYS
    assert abs(len(taken["actor"]) - expected) < Z * np.sqrt(expected)
    assert np.all((age[taken["actor"]] >= 18) & (age[taken["actor"]] <= 65))
    assert np.all(taken["term_months"] == 3) and np.all(taken["amount"] > 0)
    assert len(np.unique(taken["loan_id"])) == len(taken["loan_id"])


def test_loan_defaults_match_the_instalment_miss_chain(loans) -> None:
    _, seen = loans
    taken = gather(seen, "loan_taken")
    default = gather(seen, "loan_default")
    q, r = FAST_LOANS["instalment_miss_probability"], FAST_LOANS["repeat_miss_probability"]
    early = taken["day"] < 40  # loans with at least 3 due dates inside the run
    probs = []
    for t in taken["day"][early]:
        dues = sum(1 for k in range(40) if instalment_due_day(t, k) < LOAN_DAYS)
        probs.append(default_probability(dues, 3, q, r, 3))
    probs_arr = np.array(probs)
    got = np.isin(default["loan_id"], taken["loan_id"][early]).sum()
    assert probs_arr.sum() > 200
    assert abs(got - probs_arr.sum()) < Z * np.sqrt((probs_arr * (1 - probs_arr)).sum())


def test_loan_acts_are_consistent(loans) -> None:
    sim, seen = loans
    taken = gather(seen, "loan_taken")
    missed = gather(seen, "loan_instalment_missed")
    default = gather(seen, "loan_default")
    repaid = gather(seen, "loan_repaid_in_full")
    # A default is the third miss in a row, and closes the loan.
    assert len(default["loan_id"]) == int((missed["missed_in_a_row"] == 3).sum())
    assert missed["missed_in_a_row"].max() == 3
    assert not np.intersect1d(default["loan_id"], repaid["loan_id"]).size
    # Repaid loans repay their principal; defaults owe at most the principal.
    principal = dict(zip(taken["loan_id"].tolist(), taken["amount"].tolist(), strict=True))
    borrower = dict(zip(taken["loan_id"].tolist(), taken["actor"].tolist(), strict=True))
    for lid, amount, who in zip(repaid["loan_id"], repaid["amount"], repaid["actor"], strict=True):
        assert amount == principal[int(lid)] and who == borrower[int(lid)]
    for lid, amount in zip(default["loan_id"], default["amount"], strict=True):
        assert 0 < amount <= principal[int(lid)] + 0.02
    # Every repaid loan paid its 3 instalments; nobody pays more than 3.
    paid = int(counts(sim, "loan_instalment_paid").sum())
    assert 3 * len(repaid["loan_id"]) <= paid <= 3 * len(taken["loan_id"])
    assert component(sim).open_loans == len(taken["loan_id"]) - len(repaid["loan_id"]) - len(
        default["loan_id"]
    )
    # The book's count of open loans, kept as loans come and close, is its open rows.
    book = component(sim)._book
    assert book.n_open == int((book["next_due"][: book.n] >= 0).sum())


# ---------------------------------------------------------------- behaviour hooks


def test_propensity_scales_each_kind(baseline, halved) -> None:
    sim, seen = halved
    c = sim.population.citizens
    # Bills: late share halves.
    late = len(gather(seen, "bill_late")["actor"])
    n_bills = late + int(counts(sim, "bill_paid_on_time").sum())
    p = PaymentsParams().bill_late_share * 0.5
    assert abs(late - n_bills * p) < Z * np.sqrt(n_bills * p * (1 - p))
    # Purchases: video games halve, alcohol doubles, groceries stay, books only odd ids.
    for name, factor in (("video_games", 0.5), ("alcohol", 2.0), ("groceries", 1.0)):
        expected = expected_purchases(sim, DEFAULT_PURCHASES[name], BILL_DAYS, factor).sum()
        got = counts(sim, f"purchase_{name}").sum()
        assert abs(got - expected) < Z * np.sqrt(expected), name
    books = counts(sim, "purchase_books")
    assert books[::2].sum() == 0
    odd = np.zeros(len(c), bool)
    odd[1::2] = True
    expected = expected_purchases(sim, DEFAULT_PURCHASES["books"], BILL_DAYS)[odd].sum()
    assert abs(books[1::2].sum() - expected) < Z * np.sqrt(expected)
    # Loans: take-up halves for odd ids, none for even; independent misses (q = r) halve.
    age = ages(sim)
    eligible = (age >= 18) & (age <= 65)
    expected = eligible[1::2].sum() * 1.0 / 365.0 * BILL_DAYS * 0.5
    takers = gather(seen, "loan_taken")["actor"]
    assert abs(len(takers) - expected) < Z * np.sqrt(expected)
    assert np.all(takers % 2 == 1)
    missed = len(gather(seen, "loan_instalment_missed")["actor"])
    dues = missed + int(counts(sim, "loan_instalment_paid").sum())
    assert dues > 400  # 0.2 vs 0.1 then differ by more than 8 standard errors
    assert abs(missed - 0.1 * dues) < Z * np.sqrt(dues * 0.1 * 0.9)


# ---------------------------------------------------------------- modes and determinism


def test_record_every_event_switches_aggregates_to_acts(tmp_path, baseline) -> None:
    base, _ = baseline
    sim = build(tmp_path, {"record_every_event": True}, BILL_DAYS)
    seen = run(sim, BILL_DAYS)
    kinds = ["bill_paid_on_time", "loan_instalment_paid"]
    kinds += [f"purchase_{k}" for k in DEFAULT_PURCHASES]
    for kind in kinds:
        assert ("person", kind) not in sim.aggregates.counts, kind
        acts = gather(seen, kind)
        a, b = len(acts["actor"]), int(counts(base, kind).sum())
        # Two independent counts of equal expectation: difference within 5·sqrt(a + b).
        assert abs(a - b) <= Z * np.sqrt(a + b) + 1, kind
        if a:
            assert np.all(acts["amount"] > 0), kind
    groceries = gather(seen, "purchase_groceries")
    base_amount = base.aggregates.amounts[("person", "purchase_groceries")].sum()
    assert groceries["amount"].sum() == pytest.approx(base_amount, rel=0.02)


def _fingerprint(sim: Simulation, seen: list[Acts]) -> list[Any]:
    out: list[Any] = [(a.kind, a.day, a.actor.tolist()) for a in seen]
    for key in sorted(sim.aggregates.counts):
        out.append((key, sim.aggregates.counts[key].tolist()))
        if key in sim.aggregates.amounts:
            out.append(sim.aggregates.amounts[key].tolist())
    return out


def test_same_seed_same_results_other_seed_other_results(tmp_path) -> None:
    params = {**FAST_LOANS, "purchases": {"books": DEFAULT_PURCHASES["books"].model_dump()}}
    prints = []
    for seed in (7, 7, 8):
        sim = build(tmp_path, params, 40, size=5000, seed=seed)
        prints.append(_fingerprint(sim, run(sim, 40)))
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


@pytest.mark.parametrize(
    "bad",
    [
        {"loan_term_months": {3: 0.5, 6: 0.4}},
        {"purchases": {"x": {"daily_rate": 0.1, "amount_median_yuan": 5,
                             "age_multiplier": {"0-20": 1, "18-30": 2}}}},
        {"purchases": {"Bad-Name": {"daily_rate": 0.1, "amount_median_yuan": 5}}},
        {"bill_late_decile_risk": [1.0] * 9},
        {"bill_late_share": 1.5},
        {"loan_min_age": 40, "loan_max_age": 30},
        {"speed": 3},
    ],
)  # fmt: skip
def test_bad_params_are_rejected(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        PaymentsParams.model_validate(bad)


def test_paid_bills_are_exact_whenever_they_are_read(tmp_path) -> None:
    # Reading mid-run settles the bills due so far; the end of the run adds the rest.
    sim = build(tmp_path, {"purchases": {}}, BILL_DAYS, size=5000)
    payer = sim.population.citizens.payment_app & (ages(sim) >= 18)
    seen = run(sim, 28)  # 1-28 July: every bill due once
    late = np.bincount(gather(seen, "bill_late")["actor"], minlength=len(payer))
    assert late.sum() > 0
    assert np.all((counts(sim, "bill_paid_on_time") + late)[payer] == 1)
    # Amounts are priced from the counts when read: each paid bill at the person's bill.
    key = ("person", "bill_paid_on_time")
    first = sim.aggregates.amounts[key].copy()
    paid_once = counts(sim, "bill_paid_on_time") == 1
    assert np.all(first[paid_once] > 0) and np.all(first[~paid_once] == 0)
    for _ in range(BILL_DAYS - 28):
        sim.step()  # run()'s hook keeps collecting into `seen`
    acts = gather(seen, "bill_late")
    late = np.bincount(acts["actor"], minlength=len(payer))
    assert np.all((counts(sim, "bill_paid_on_time") + late)[payer] == 2)
    assert np.all(counts(sim, "bill_paid_on_time")[~payer] == 0)
    amounts = sim.aggregates.amounts[key]
    twice = counts(sim, "bill_paid_on_time") == 2
    np.testing.assert_allclose(amounts[twice & paid_once], 2 * first[twice & paid_once])
    bill = np.zeros(len(payer))
    bill[acts["actor"]] = acts["amount"]  # a late bill carries the person's bill amount
    late_once = (late == 1) & paid_once
    assert late_once.sum() > 0 and np.all(counts(sim, "bill_paid_on_time")[late_once] == 1)
    np.testing.assert_allclose(amounts[late_once], bill[late_once], rtol=1e-6)


# ---------------------------------------------------------------- warm start of the loans

# Loans that reach their steady state within a year, at rates that give thousands open.
STEADY_LOANS: dict[str, Any] = {
    **FAST_LOANS,
    "loan_term_months": {3: 0.5, 6: 0.5},
    "instalment_miss_probability": 0.1,
}


def test_the_loan_book_opens_at_its_steady_state(tmp_path) -> None:
    """Open loans form an M/G/inf queue, whose stationary count is Poisson: the warm
    start's book on day 0 and a cold run's book a year in (its mean over 60 days, no more
    variable) agree to 5 s.d. of the difference, sqrt(2 E); so do the instalments missed in
    the first 30 days of the warm run and in 30 days of the cold run's steady state. The
    cold run's first month, by contrast, misses under a fifth as many."""
    history = 400
    warm = build(tmp_path, {**STEADY_LOANS, "loan_history_days": history}, 30, size=20_000)
    cold = build(tmp_path, STEADY_LOANS, 360, size=20_000)
    open_day0 = component(warm).open_loans
    warm_seen = run(warm, 30)
    stock = []
    end_day = cold.acts.end_day
    cold_seen: list[Acts] = []

    def keep() -> None:
        cold_seen.extend(cold.acts.today)
        stock.append(component(cold).open_loans)
        end_day()

    cold.acts.end_day = keep  # type: ignore[method-assign]
    for _ in range(360):
        cold.step()
    steady = float(np.mean(stock[300:360]))
    assert steady > 3000
    assert abs(open_day0 - steady) < 5 * np.sqrt(2 * steady), (open_day0, steady)

    def missed(seen: list[Acts], lo: int, hi: int) -> int:
        return sum(
            len(a) for a in seen
            if a.kind == "loan_instalment_missed" and "occurred_day" not in a.extra
            and lo <= a.day < hi
        )  # fmt: skip

    first, later = missed(warm_seen, 0, 30), missed(cold_seen, 300, 330)
    assert later > 300
    assert abs(first - later) < 5 * np.sqrt(2 * later), (first, later)
    assert missed(cold_seen, 0, 30) < later / 5


def test_the_loans_open_on_day_0_carry_their_past_arrears(tmp_path) -> None:
    """A loan open on day 0 with k misses in a row has a past missed instalment of its own,
    its latest, with missed_in_a_row k; a past default closed its loan after
    default_after_missed misses in a row; every past act lies in the history window."""
    history = 400
    sim = build(tmp_path, {**STEADY_LOANS, "loan_history_days": history}, 1, size=20_000)
    book = component(sim)._book
    ids = book["loan_id"][: book.n].copy()
    in_a_row = book["missed_in_a_row"][: book.n].copy()
    assert (book["next_due"][: book.n] >= 0).all()
    assert book.n_open == book.n
    past = component(sim)._past._acts  # drawn at setup (emitted if a policy reads them)
    day = np.concatenate([a.extra["occurred_day"] for a in past])
    assert day.min() >= -history and day.max() < 0
    latest: dict[int, int] = {}
    for a in sorted((a for a in past if a.kind == "loan_instalment_missed"), key=lambda a: 0):
        order = np.argsort(a.extra["occurred_day"], kind="stable")
        for lid, k in zip(a.extra["loan_id"][order], a.extra["missed_in_a_row"][order],
                          strict=True):  # fmt: skip
            latest[int(lid)] = int(k)
    arrears = np.flatnonzero(in_a_row > 0)
    assert len(arrears) > 50
    assert all(latest.get(int(ids[i])) == int(in_a_row[i]) for i in arrears)
    dead = np.concatenate([a.extra["loan_id"] for a in past if a.kind == "loan_default"])
    assert len(dead) > 20 and not np.isin(dead, ids).any()
    assert all(latest[int(lid)] == 3 for lid in dead)  # default_after_missed
