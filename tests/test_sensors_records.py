"""The records sensor: capture, delays, stale copies and same-name / ID-typo linkage errors.

Statistical checks compare counts with their expectation and allow 5 standard errors of
the binomial (or Poisson-binomial) count: a correct implementation fails such a check
with probability below 1e-6, while the effects tested (capture 0.5 vs 0.3, error rates
that differ several-fold between common and rare surnames) are many standard errors
wide.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError
from tests.conftest import small_scenario

import sclab.sensors.records as records
from sclab.draws import bernoulli_sparse
from sclab.engine import Simulation, register
from sclab.engine.catalogue import Kind
from sclab.engine.events import NO_ENTITY
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.run import run_scenario
from sclab.sensors.records import RecordsParams, draw_other, same_name_rates
from sclab.targets import load_scenario

SE = 5.0  # tolerance in standard errors (see module docstring)


class ToyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    person_rate: float = 0.0
    payment_rate: float = 0.0
    court_rate: float = 0.0
    company_rate: float = 0.0
    unidentified_per_day: int = 0


# (kind, source, entity type, rate field)
TOY_KINDS = (
    ("toy_offence", "toy", "person", "person_rate"),
    ("toy_purchase", "payments", "person", "payment_rate"),
    ("toy_judgment", "courts", "person", "court_rate"),
    ("toy_filing", "toy", "company", "company_rate"),
)


@register("sources", "test-records-toy", ToyParams)
class ToySource:
    """Test source: each entity acts with a fixed daily probability per kind; logs the truth."""

    def __init__(self, name: str, params: ToyParams) -> None:
        self.name, self.params = name, params
        self.log: list[tuple[int, str, np.ndarray]] = []

    def labels(self) -> dict[str, set[str]]:
        # The acts name other sources than this component (payment acts are thin-filed).
        return {"source": {source for _, source, *_ in TOY_KINDS}}

    def kinds(self) -> list[Kind]:
        return [
            Kind.act(kind, "civic", True, f"test act {kind}", entity=entity)
            for kind, _, entity, _ in TOY_KINDS
        ]

    def setup(self, sim: Simulation) -> None:
        self.log = []

    def step(self, sim: Simulation, day: int) -> None:
        for kind, source, entity_type, field in TOY_KINDS:
            rate = getattr(self.params, field)
            extra_nobody = self.params.unidentified_per_day if kind == "toy_offence" else 0
            if rate == 0 and not extra_nobody:
                continue
            rng = sim.rng(f"{self.name}/{kind}", day)
            who = bernoulli_sparse(rng, sim.state.sizes[entity_type], rate)
            if extra_nobody:
                who = np.concatenate([who, np.full(extra_nobody, NO_ENTITY, np.int64)])
            extra: dict[str, np.ndarray] = {}
            if kind == "toy_purchase":
                extra["amount"] = rng.gamma(2.0, 50.0, len(who))
            sim.acts.add(day, source, kind, who, entity_type, **extra)
            self.log.append((day, kind, who))

    def finish(self, sim: Simulation) -> None:
        pass


def _scenario(write_scenario, *, size: int, days: int, seed: int, toy: dict, rec: dict):
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": size},
        sources=[{"use": "test-records-toy", "params": toy}],
        sensors=[{"use": "records", "params": rec}],
    )
    return load_scenario(str(write_scenario(doc)))


class Run:
    """A finished in-memory run: the simulation, the toy truth and every recorded event."""

    def __init__(self, sim: Simulation, batches: list[tuple[int, Any]]) -> None:
        self.sim = sim
        self.toy: ToySource = next(c for s, c in sim.components if s == "sources")  # type: ignore[assignment]
        cols: dict[str, list[np.ndarray]] = defaultdict(list)
        for released_on, b in batches:
            n = len(b)
            cols["released_on"].append(np.full(n, released_on, np.int64))
            cols["day"].append(np.full(n, b.day, np.int64))
            cols["kind"].append(np.full(n, b.kind, dtype=object))
            cols["entity_type"].append(np.full(n, b.entity_type, dtype=object))
            cols["true_actor"].append(b.true_actor)
            cols["attributed_to"].append(b.attributed_to)
            cols["recorded_day"].append(b.extra["recorded_day"].astype(np.int64))
            cols["error"].append(np.asarray(b.extra["error"], dtype=object))
            cols["match_score"].append(b.extra.get("match_score", np.full(n, np.nan)))
            cols["district_code"].append(b.extra.get("district_code", np.full(n, -1)))
        self.ev = {k: np.concatenate(v) for k, v in cols.items()}

    def of(self, kind: str, *, stale: bool = False) -> dict[str, np.ndarray]:
        """Events of a kind: originals (default) or stale copies."""
        is_stale = self.ev["error"] == "stale"
        m = (self.ev["kind"] == kind) & (is_stale if stale else ~is_stale)
        return {k: v[m] for k, v in self.ev.items()}

    def acts(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(day, actor) of every true act of a kind."""
        parts = [(np.full(len(w), d), w) for d, k, w in self.toy.log if k == kind]
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def simulate(
    write_scenario,
    *,
    toy: dict,
    rec: dict,
    size: int = 50_000,
    days: int = 30,
    seed: int = 7,
) -> Run:
    scenario = _scenario(write_scenario, size=size, days=days, seed=seed, toy=toy, rec=rec)
    batches: list[tuple[int, Any]] = []
    holder: dict[str, Simulation] = {}
    population = generate_population(scenario, Streams(scenario.seed))
    sim = Simulation.build(
        scenario,
        Streams(scenario.seed),
        population,
        sink=lambda b: batches.append((holder["sim"].day, b)),
    )
    holder["sim"] = sim
    sim.run()
    return Run(sim, batches)


def expected_same_name(surname: np.ndarray, base: float, elasticity: float, cap: float):
    """Independent statement of the law: base × (share / mean share)^e, capped."""
    counts = np.bincount(surname).astype(float)
    share = counts / counts.sum()
    mean_share = np.sum(share[surname]) / len(surname)  # mean over people of own share
    p = np.zeros(len(counts))
    seen = counts > 0
    p[seen] = np.minimum(base * (share[seen] / mean_share) ** elasticity, cap)
    p[counts < 2] = 0.0
    return p


NO_ERRORS = {"misattribution_rate": 0.0, "id_typo_rate": 0.0, "stale_rate": 0.0}


# -- linkage errors ----------------------------------------------------------------------


def test_misattribution_overall_rate_and_labels(write_scenario) -> None:
    base, typo = 0.02, 0.005
    rec = {
        "misattribution_rate": base,
        "id_typo_rate": typo,
        "misattribution_cap": 0.5,
        "stale_rate": 0.0,
        "thin_file": {"migrant_capture": 1.0},
    }
    run = simulate(write_scenario, toy={"person_rate": 0.1}, rec=rec)
    ev = run.of("toy_offence")
    n = len(ev["true_actor"])
    _, acts = run.acts("toy_offence")
    assert n == len(acts) > 100_000  # capture 1, no delay: every act recorded

    surname = run.sim.population.citizens.surname
    p = expected_same_name(surname, base, 1.0, 0.5)[surname[ev["true_actor"]]]
    # With elasticity 1 the people-average rate is the base rate (acts are uniform over
    # people, so the record average is close to it too).
    assert abs(p.mean() - base) < 0.1 * base

    same = ev["error"] == "same_name"
    got_same = int(same.sum())
    assert abs(got_same - p.sum()) < SE * np.sqrt(np.sum(p * (1 - p)))
    got_typo = int((ev["error"] == "id_typo").sum())
    assert abs(got_typo - n * typo) < SE * np.sqrt(n * typo * (1 - typo))

    wrong = ev["attributed_to"] != ev["true_actor"]
    has_error = np.array([e is not None for e in ev["error"]])
    assert np.array_equal(wrong, has_error)  # every wrong link is labelled, and only those
    overall = base + typo
    assert abs(wrong.sum() - n * overall) < SE * np.sqrt(n * overall * (1 - overall))


@pytest.mark.parametrize("elasticity", [0.0, 1.0])
def test_common_surnames_are_confused_more_often(write_scenario, elasticity: float) -> None:
    base = 0.05
    rec = {**NO_ERRORS, "misattribution_rate": base, "misattribution_cap": 0.5}
    rec["surname_elasticity"] = elasticity
    run = simulate(write_scenario, toy={"person_rate": 0.1}, rec=rec)
    ev = run.of("toy_offence")
    surname = run.sim.population.citizens.surname
    s = surname[ev["true_actor"]]
    p = expected_same_name(surname, base, elasticity, 0.5)[s]
    wrong = ev["error"] == "same_name"
    top3, tail = s < 3, s >= 20  # SURNAMES is in rank order; ranks 21+ are the tail

    got = wrong[top3].mean() / wrong[tail].mean()
    want = p[top3].mean() / p[tail].mean()
    # Delta method: se(log ratio) ≈ sqrt(1/x1 + 1/x2) for binomial counts x1, x2.
    se = np.sqrt(1 / wrong[top3].sum() + 1 / wrong[tail].sum())
    assert abs(np.log(got) - np.log(want)) < SE * se
    if elasticity == 0:
        assert want == pytest.approx(1.0)
    else:
        assert want > 5  # the test can tell a gradient from none


def test_wrong_person_is_a_namesake_never_oneself(write_scenario) -> None:
    rec = {**NO_ERRORS, "misattribution_rate": 0.05, "id_typo_rate": 0.01}
    rec["misattribution_cap"] = 0.5
    run = simulate(write_scenario, toy={"person_rate": 0.05}, rec=rec, days=20)
    cit = run.sim.population.citizens
    ev = run.of("toy_offence")
    true, attr = ev["true_actor"], ev["attributed_to"]

    same = ev["error"] == "same_name"
    assert same.sum() > 1000
    assert np.all(attr[same] != true[same])
    assert np.all(cit.surname[attr[same]] == cit.surname[true[same]])
    key = cit.surname.astype(np.int64) * 65536 + cit.given_name
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    has_namesake = counts[inverse[true]] >= 2
    # Full namesakes whenever one exists; the rest share the surname only (checked above).
    assert np.all(key[attr[same & has_namesake]] == key[true[same & has_namesake]])
    assert (same & has_namesake).sum() > 100 and (same & ~has_namesake).sum() > 100

    typo = ev["error"] == "id_typo"
    assert typo.sum() > 200
    assert np.all(attr[typo] != true[typo])
    assert np.all(cit.district[attr[typo]] == cit.district[true[typo]])


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(2, 12), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
    identity=st.booleans(),
)
def test_draw_other_stays_in_the_group_and_skips_oneself(
    sizes: list[int], seed: int, identity: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    order = None if identity else rng.permutation(n).astype(np.int32)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    group = np.repeat(np.arange(len(sizes)), sizes)
    members = np.arange(n) if order is None else order
    who = np.repeat(members, 20)  # each member draws 20 times
    g = np.repeat(group, 20)
    got = draw_other(rng, order, starts[g], np.array(sizes)[g], who)
    assert np.all(got != who)
    pos_of = np.empty(n, np.int64)
    pos_of[members] = np.arange(n)
    assert np.all(group[pos_of[got]] == g)


def test_draw_other_is_uniform_over_the_others() -> None:
    rng = np.random.default_rng(1)
    order = np.array([4, 2, 0, 3, 1], dtype=np.int32)
    k = 100_000
    for who in range(5):
        got = draw_other(rng, order, np.zeros(k), np.full(k, 5), np.full(k, who))
        freq = np.bincount(got, minlength=5) / k
        assert freq[who] == 0
        others = np.delete(freq, who)
        assert np.all(np.abs(others - 0.25) < SE * np.sqrt(0.25 * 0.75 / k))


def test_same_name_rates_law() -> None:
    surname = np.array([0] * 6 + [1] * 3 + [2] * 1)
    p = same_name_rates(surname, base=0.1, elasticity=1.0, cap=0.12)
    mean_share = (0.6 * 6 + 0.3 * 3 + 0.1 * 1) / 10  # mean over people of own share
    assert 0.1 * 0.6 / mean_share > 0.12 and p[0] == pytest.approx(0.12)  # capped
    assert p[1] == pytest.approx(0.1 * 0.3 / mean_share)
    assert p[2] == 0.0  # nobody to confuse with
    flat = same_name_rates(surname, base=0.1, elasticity=0.0, cap=1.0)
    assert flat[:2] == pytest.approx([0.1, 0.1])


# -- capture, thin files, delays, staleness ----------------------------------------------


def test_capture_and_thin_files(write_scenario) -> None:
    rec = {
        **NO_ERRORS,
        "kinds": {"toy_offence": {"capture": 0.5}},
        "thin_file": {"migrant_capture": 0.6, "no_payment_app_capture": 0.0},
    }
    run = simulate(write_scenario, toy={"person_rate": 0.05, "payment_rate": 0.05}, rec=rec)
    cit = run.sim.population.citizens

    def rate_check(kind: str, mask_of, p: float) -> None:
        _, acts = run.acts(kind)
        rec_actor = run.of(kind)["true_actor"]
        n_acts = int(mask_of(acts).sum())
        n_rec = int(mask_of(rec_actor).sum())
        assert n_acts > 2000
        assert abs(n_rec - n_acts * p) < SE * np.sqrt(n_acts * p * (1 - p)) + 1e-9, (kind, p)

    rate_check("toy_offence", lambda a: ~cit.migrant[a], 0.5)
    rate_check("toy_offence", lambda a: cit.migrant[a], 0.5 * 0.6)
    rate_check("toy_purchase", lambda a: cit.payment_app[a] & ~cit.migrant[a], 1.0)
    rate_check("toy_purchase", lambda a: cit.payment_app[a] & cit.migrant[a], 0.6)
    no_app = ~cit.payment_app[run.of("toy_purchase")["true_actor"]]
    assert not no_app.any()  # no records at all for people without a payment app
    _, acts = run.acts("toy_purchase")
    assert (~cit.payment_app[acts]).sum() > 1000  # ... although they do buy

    # The published detection is the mean capture probability over the last day's acts.
    last = run.sim.scenario.days - 1
    who = next(w for d, k, w in run.toy.log if d == last and k == "toy_offence")
    q = 0.5 * np.where(cit.migrant[who], 0.6, 1.0)
    assert run.sim.view.detection["toy_offence"] == pytest.approx(q.mean())
    assert run.sim.view.detection["toy_purchase"] < 1.0


@pytest.mark.parametrize("law", ["geometric", "poisson"])
def test_delays(write_scenario, law: str) -> None:
    mean, days = 5.0, 60
    rec = {
        **NO_ERRORS,
        "delay_law": law,
        "kinds": {"toy_offence": {"delay_days_mean": mean}},
        "by_source": {"courts": {"delay_days_mean": 10.0}},
    }
    run = simulate(
        write_scenario, toy={"person_rate": 0.02, "court_rate": 0.01}, rec=rec, days=days
    )
    ev = run.of("toy_offence")
    delay = ev["recorded_day"] - ev["day"]
    assert np.all(delay >= 0)
    assert np.all(ev["recorded_day"] <= days - 1)  # nothing after the last day
    assert np.all(run.ev["recorded_day"] == run.ev["released_on"])  # recorded when due

    # Acts early enough that truncation at the end of the run is negligible
    # (geometric: P(delay > 45) < 3e-4).
    early = ev["day"] < 15
    sd = np.sqrt(mean * (1 + mean)) if law == "geometric" else np.sqrt(mean)
    assert abs(delay[early].mean() - mean) < SE * sd / np.sqrt(early.sum())
    var = delay[early].var()
    assert abs(var - sd**2) < 0.25 * sd**2  # tells the two laws apart (variance 30 vs 5)

    # Acts on the last day are recorded only if their delay is 0.
    p0 = 1 / (1 + mean) if law == "geometric" else np.exp(-mean)
    acts_day, _ = run.acts("toy_offence")
    n_last = int((acts_day == days - 1).sum())
    got = int((ev["day"] == days - 1).sum())
    assert abs(got - n_last * p0) < SE * np.sqrt(n_last * p0 * (1 - p0)) + 1

    # A source-wide setting applies to every kind of that source (by_source).
    court = run.of("toy_judgment")
    early = court["day"] < 5
    d = court["recorded_day"][early] - court["day"][early]
    sd = np.sqrt(10 * 11) if law == "geometric" else np.sqrt(10)
    assert abs(d.mean() - 10) < SE * sd / np.sqrt(len(d))


def test_stale_records(write_scenario) -> None:
    rate, after, days = 0.1, 10, 40
    rec = {
        "stale_rate": rate,
        "stale_after_days": after,
        "misattribution_rate": 0.02,
        "misattribution_cap": 0.5,
    }
    run = simulate(
        write_scenario, toy={"person_rate": 0.02, "company_rate": 0.05}, rec=rec, days=days
    )
    for kind in ("toy_offence", "toy_filing"):
        orig, stale = run.of(kind), run.of(kind, stale=True)
        assert len(stale["true_actor"]) > 100
        assert np.array_equal(stale["attributed_to"], stale["true_actor"])
        assert np.all(stale["recorded_day"] - stale["day"] == after)  # no delay configured
        eligible = int((orig["recorded_day"] <= days - 1 - after).sum())
        got = len(stale["true_actor"])
        assert abs(got - eligible * rate) < SE * np.sqrt(eligible * rate * (1 - rate))
        # each stale record copies an act that was recorded
        orig_keys = set(zip(orig["day"].tolist(), orig["true_actor"].tolist(), strict=True))
        stale_keys = zip(stale["day"].tolist(), stale["true_actor"].tolist(), strict=True)
        assert all(k in orig_keys for k in stale_keys)
    misattributed = run.of("toy_offence")
    assert (misattributed["attributed_to"] != misattributed["true_actor"]).sum() > 50


def test_company_acts_are_never_misattributed(write_scenario) -> None:
    rec = {
        "misattribution_rate": 1.0,
        "misattribution_cap": 1.0,
        "surname_elasticity": 0.0,
        "id_typo_rate": 0.5,
        "stale_rate": 0.0,
    }
    run = simulate(write_scenario, toy={"person_rate": 0.01, "company_rate": 0.1}, rec=rec, days=10)
    comp = run.of("toy_filing")
    assert len(comp["true_actor"]) > 1000
    assert np.array_equal(comp["attributed_to"], comp["true_actor"])
    assert all(e is None for e in comp["error"])
    assert np.all(comp["match_score"] == 1.0)
    assert set(comp["entity_type"]) == {"company"}
    codes = np.array([d.code for d in run.sim.scenario.geography.districts])
    companies = run.sim.population.companies
    assert np.array_equal(comp["district_code"], codes[companies.district[comp["true_actor"]]])
    people = run.of("toy_offence")  # the same settings wreck every person record
    assert np.all(people["attributed_to"] != people["true_actor"])
    # match scores: high for right links, lower for wrong ones
    assert people["match_score"].mean() < 0.85


def test_match_scores_overlap_but_separate_on_average(write_scenario) -> None:
    rec = {**NO_ERRORS, "misattribution_rate": 0.2, "misattribution_cap": 0.9}
    run = simulate(write_scenario, toy={"person_rate": 0.05}, rec=rec, size=20_000, days=10)
    ev = run.of("toy_offence")
    wrong = ev["error"] == "same_name"
    s = ev["match_score"]
    assert np.all((s > 0) & (s <= 1))
    assert abs(s[~wrong].mean() - 20 / 21) < 0.01 and abs(s[wrong].mean() - 0.75) < 0.01
    assert (s[wrong] > 0.9).mean() > 0.1  # overlap: some wrong links look confident


# -- kinds selection, determinism, database ----------------------------------------------


def test_ignore_and_only_listed(write_scenario) -> None:
    toy = {"person_rate": 0.01, "payment_rate": 0.01, "company_rate": 0.05}
    run = simulate(write_scenario, toy=toy, rec={"ignore": ["toy_purchase"]}, size=5000, days=3)
    assert set(run.ev["kind"]) == {"toy_offence", "toy_filing"}
    assert "toy_purchase" not in run.sim.view.detection
    rec = {"only_listed": True, "kinds": {"toy_filing": {}}}
    run = simulate(write_scenario, toy=toy, rec=rec, size=5000, days=3)
    assert set(run.ev["kind"]) == {"toy_filing"}


def _digest(run: Run, kind: str | None = None) -> list[np.ndarray]:
    m = slice(None) if kind is None else run.ev["kind"] == kind
    return [run.ev[k][m] for k in sorted(run.ev)]


def test_determinism_and_independent_kind_streams(write_scenario) -> None:
    toy = {"person_rate": 0.02, "payment_rate": 0.02, "company_rate": 0.02}
    rec = {"misattribution_rate": 0.05, "stale_rate": 0.2, "stale_after_days": 2}
    rec["kinds"] = {"toy_offence": {"delay_days_mean": 2.0}}
    kw: dict[str, Any] = {"size": 20_000, "days": 10}
    a = simulate(write_scenario, toy=toy, rec=rec, **kw)
    b = simulate(write_scenario, toy=toy, rec=rec, **kw)
    c = simulate(write_scenario, toy=toy, rec=rec, seed=8, **kw)
    for x, y in zip(_digest(a), _digest(b), strict=True):
        assert np.array_equal(x, y)
    assert len(c.ev["day"]) != len(a.ev["day"]) or not np.array_equal(
        c.ev["attributed_to"], a.ev["attributed_to"]
    )
    # Switching another kind off leaves this kind's records unchanged.
    d = simulate(write_scenario, toy={**toy, "payment_rate": 0.0}, rec=rec, **kw)
    for x, y in zip(_digest(a, "toy_offence"), _digest(d, "toy_offence"), strict=True):
        assert np.array_equal(x, y)


def test_events_reach_duckdb_with_their_columns(write_scenario, tmp_path: Path) -> None:
    days, nobody = 6, 3
    toy = {
        "person_rate": 0.02,
        "payment_rate": 0.02,
        "company_rate": 0.05,
        "unidentified_per_day": nobody,
    }
    rec = {
        "misattribution_rate": 0.05,
        "id_typo_rate": 0.01,
        "misattribution_cap": 0.5,
        "stale_rate": 0.2,
        "stale_after_days": 2,
        "kinds": {"toy_purchase": {"delay_days_mean": 1.0}},
    }
    scenario = _scenario(write_scenario, size=5000, days=days, seed=3, toy=toy, rec=rec)
    result = run_scenario(scenario, tmp_path / "r")
    con = duckdb.connect(str(result.database), read_only=True)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    try:
        n = q("SELECT count(*) FROM events")[0][0]
        assert n == result.row_counts["events"] > 800  # about 1,000 expected
        errors = dict(q("SELECT coalesce(error, '<null>'), count(*) FROM events GROUP BY 1"))
        assert set(errors) == {"<null>", "same_name", "id_typo", "stale"}
        assert errors["<null>"] > 0.5 * n  # correct records have NULL, not a 'None' string
        # Error labels agree with the truth beside them.
        bad = q(
            "SELECT count(*) FROM events WHERE"
            " (error IS NULL AND attributed_to IS DISTINCT FROM true_actor)"
            " OR (error IN ('same_name', 'id_typo') AND attributed_to = true_actor)"
            " OR (error = 'stale' AND attributed_to IS DISTINCT FROM true_actor)"
        )[0][0]
        assert bad == 0
        # Days: recorded on or after the act, never after the run.
        lo, hi, delayed = q(
            "SELECT min(recorded_day - day), max(recorded_day),"
            " count(*) FILTER (WHERE recorded_day > day AND error IS NULL) FROM events"
        )[0]
        assert lo == 0 and hi <= days - 1 and delayed > 0
        # Unidentified acts: NULL actor, attribution, score and district; nothing else NULL.
        rows = q(
            "SELECT count(*), count(attributed_to), count(match_score), count(district_code),"
            " count(error) FROM events WHERE true_actor IS NULL"
        )[0]
        assert rows[0] == nobody * days and rows[1:] == (0, 0, 0, 0)
        assert q(
            "SELECT count(*) FROM events WHERE true_actor IS NOT NULL"
            " AND (attributed_to IS NULL OR match_score IS NULL OR district_code IS NULL)"
        )[0] == (0,)
        assert q(
            "SELECT min(match_score) > 0 AND max(match_score) <= 1 FROM events"
            " WHERE match_score IS NOT NULL"
        )[0] == (True,)
        # District codes are where the true actor lives (or is registered).
        assert q(
            "SELECT count(*) FROM events e JOIN citizens c ON e.true_actor = c.person_id"
            " WHERE e.entity_type = 'person' AND e.district_code <> c.district_code"
        )[0] == (0,)
        assert q(
            "SELECT count(*) FROM events e JOIN companies c ON e.true_actor = c.company_id"
            " WHERE e.entity_type = 'company' AND e.district_code <> c.district_code"
        )[0] == (0,)
        # Amounts pass through for payment records only.
        amounts = dict(q("SELECT kind, count(amount) > 0 FROM events GROUP BY kind"))
        assert amounts == {"toy_offence": False, "toy_purchase": True, "toy_filing": False}
        # The error is a label column: an ENUM of the declared record errors.
        assert q("SELECT typeof(error), typeof(recorded_day) FROM events LIMIT 1")[0] == (
            "ENUM('id_typo', 'same_name', 'stale')",
            "INTEGER",
        )
    finally:
        con.close()


def test_params_are_validated() -> None:
    with pytest.raises(ValidationError):
        RecordsParams.model_validate({"misattribution_rate": -0.1})
    with pytest.raises(ValidationError):
        RecordsParams.model_validate({"kinds": {"x": {"capture": 2}}})
    with pytest.raises(ValidationError):
        RecordsParams.model_validate({"speed": 1})
    p = RecordsParams()
    assert p.kinds["non_performance"].delay_days_mean == 10.0
    assert p.kinds["tax_arrears"].delay_days_mean == 30.0
    assert "jaywalk" in p.ignore
    for name, field in RecordsParams.model_fields.items():
        assert field.description, name
    assert records.ERRORS == ("same_name", "id_typo", "stale")


@given(st.lists(st.integers(0, len(records.ERRORS)), max_size=300))
def test_error_column_labels_each_error_and_leaves_the_rest_null(codes: list[int]) -> None:
    """Code c > 0 reads as ERRORS[c - 1], code 0 as NULL, whatever the mix (none, all,
    some errors; any length, including a partial last byte of validity bits)."""
    column = records.error_column(np.array(codes, dtype=np.uint8))
    column.validate(full=True)
    assert column.null_count == codes.count(records.NO_ERROR)
    assert column.to_pylist() == [records.ERRORS[c - 1] if c else None for c in codes]


@pytest.mark.parametrize(("a", "b"), [(20.0, 1.0), (1.0, 3.0), (6.0, 2.0)])
def test_beta_draws_follow_the_beta_law(a: float, b: float) -> None:
    """The shortcut laws (Beta(a, 1), Beta(1, b)) and the general sampler agree with the
    Beta CDF: Kolmogorov-Smirnov over 20,000 draws, p above 0.001."""
    from scipy import stats

    from sclab.sensors.records import beta_draws

    x = beta_draws(np.random.default_rng(5), a, b, 20_000)
    assert x.dtype == np.float32
    assert stats.kstest(x, stats.beta(a, b).cdf).pvalue > 1e-3
