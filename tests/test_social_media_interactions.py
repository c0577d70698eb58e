"""Online interactions on common random numbers, and the law they keep.

Two runs of the same world that differ only in who reads the totals, when, or in other
people's behaviour give every person whose posting multiplier stayed 1 and whose online
degree never changed the same interactions at the end, exactly. The law stays one
Binomial(degree, interaction_probability) per post, checked on controlled inputs.

Statistical tolerance: 5 standard errors (normal approximation), plus 2 counts for the
cells of a distribution whose expected count is tiny; a correct implementation fails one
such check with probability below about 1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from tests.test_world_social_media import build, build_pruned, counts, online_degree, source

import sclab.world.sampling as sampling
from sclab.engine import Simulation
from sclab.engine.propensity import update_propensity
from sclab.world.sampling import binomial_inverted, hypergeometric
from sclab.world.social_media import INTERACTIONS, STANCES

Z = 5.0


def _check_pmf(draws: np.ndarray, pmf: np.ndarray, what: object) -> None:
    """Every cell's count within Z standard errors (plus 2) of n × pmf, nothing outside."""
    n = len(draws)
    got = np.bincount(draws, minlength=len(pmf))
    assert len(got) == len(pmf), (what, "a count outside the support")
    expected = n * pmf
    assert np.all(np.abs(got - expected) <= Z * np.sqrt(expected * (1 - pmf)) + 2), what


# --- the samplers ---------------------------------------------------------------------------

HYPERGEOMETRIC = [  # (good, bad, sample): inversion, NumPy's sampler, the edges
    (5, 30, 10),
    (3, 3, 3),
    (40, 1000, 20),
    (2, 1000, 900),
    (30, 40, 50),  # sample > bad: NumPy's sampler
    (200, 300, 250),  # mean far above SMALL_MEAN
    (9, 1, 1),
    (0, 5, 3),
    (4, 4, 8),  # everything drawn
    (7, 0, 0),
]


def test_hypergeometric_law_in_one_mixed_call() -> None:
    # All the cases interleaved in one call, so the slices and both paths mix.
    per = 60_000
    cases = np.repeat(np.arange(len(HYPERGEOMETRIC)), per)
    np.random.default_rng(1).shuffle(cases)
    good, bad, sample = (np.array(HYPERGEOMETRIC)[cases, j] for j in range(3))
    draws = hypergeometric(np.random.default_rng(2), good, bad, sample)
    for c, (g, b, s) in enumerate(HYPERGEOMETRIC):
        support = np.arange(min(g, s) + 1)
        _check_pmf(draws[cases == c], stats.hypergeom(g + b, g, s).pmf(support), (g, b, s))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 400), st.integers(0, 460))))
def test_hypergeometric_counts_stay_in_their_support(cases) -> None:
    good = np.array([g for g, _, _ in cases], np.int64)
    bad = np.array([b for _, b, _ in cases], np.int64)
    sample = np.minimum([s for _, _, s in cases], good + bad).astype(np.int64)
    got = hypergeometric(np.random.default_rng(0), good, bad, sample)
    assert np.all(got >= np.maximum(0, sample - bad)) and np.all(got <= np.minimum(good, sample))
    assert np.array_equal(got[sample == good + bad], good[sample == good + bad])


BINOMIAL = [(10, 0.05), (300, 0.3), (50, 0.9), (3, 0.5), (0, 0.2), (40, 0.02)]


def test_binomial_inverted_law_in_one_mixed_call() -> None:
    per = 60_000
    cases = np.repeat(np.arange(len(BINOMIAL)), per)
    np.random.default_rng(3).shuffle(cases)
    trials = np.array([t for t, _ in BINOMIAL])[cases]
    for p in sorted({p for _, p in BINOMIAL}):
        draws = binomial_inverted(np.random.default_rng(4), trials, p)
        for c, (t, p_case) in enumerate(BINOMIAL):
            if p_case == p:
                _check_pmf(draws[cases == c], stats.binom(t, p).pmf(np.arange(t + 1)), (t, p))
    # Past the inversion's range (P(K = 0) underflows): NumPy's sampler, same law.
    big = binomial_inverted(np.random.default_rng(5), np.full(20_000, 3000), 0.5)
    assert abs(big.mean() - 1500) < Z * np.sqrt(750 / 20_000)


def test_binomial_inverted_draws_do_not_move_with_other_entries() -> None:
    # What record_every_event relies on: a candidate's likes depend on its own uniform and
    # trials alone, whatever the other candidates' degrees are.
    rng = np.random.default_rng(6)
    trials = rng.integers(0, 200, 50_000)
    other = trials.copy()
    changed = rng.random(len(trials)) < 0.3
    other[changed] = rng.integers(0, 200, int(changed.sum()))
    a = binomial_inverted(np.random.default_rng(7), trials, 0.05)
    b = binomial_inverted(np.random.default_rng(7), other, 0.05)
    assert np.array_equal(a[~changed], b[~changed])
    assert not np.array_equal(a[changed], b[changed])


# --- common random numbers ------------------------------------------------------------------


def _read(sim: Simulation, focused: bool, kinds: list[str]) -> None:
    for kind in kinds:
        key = ("person", kind)
        if focused:
            sim.aggregates.counts.focused(key)
        else:
            sim.aggregates.counts[key]


def _pair(tmp: Path, make) -> tuple[Simulation, Simulation]:
    """Two simulations of the same world, built by ``make(directory)``."""
    sims = []
    for name in ("a", "b"):
        (tmp / name).mkdir()
        sims.append(make(tmp / name))
    return sims[0], sims[1]


def _finish(sim: Simulation) -> None:
    for _, component in sim.components:
        component.finish(sim)


def _posts(sim: Simulation) -> np.ndarray:
    return sum(counts(sim, k) for k in STANCES.values())


def test_interactions_do_not_depend_on_reads_or_on_others_behaviour(tmp_path) -> None:
    # Both runs prune the same ties (same scores, same streams). One of them reads posts
    # and interactions every few days, some of them for a focus group, and chills or
    # boosts the posting of a third of the people; the other reads nothing until the end.
    days, size = 40, 12_000
    reader, quiet = _pair(tmp_path, lambda d: build_pruned(d, days=days, size=size))
    n = len(reader.population.citizens)
    pick = np.random.default_rng(5).random(n)
    chilled, boosted = np.flatnonzero(pick < 0.2), np.flatnonzero(pick > 0.85)
    reader.aggregates.focus("person", np.random.default_rng(6).random(n) < 0.5)
    first = online_degree(reader).astype(np.int64)
    for day in range(days):
        if day == 6:
            update_propensity(reader, "post_critical", 0.4, chilled)
            update_propensity(reader, "post_positive_energy", 2.5, boosted)
        reader.step()
        quiet.step()
        if day % 7 == 3:
            _read(reader, True, [STANCES["positive_energy"], INTERACTIONS])
        if day % 9 == 5:
            _read(reader, False, [STANCES["neutral"], INTERACTIONS])
    _finish(reader)
    _finish(quiet)
    last = online_degree(reader, reader.ties_active).astype(np.int64)
    assert np.array_equal(last, online_degree(quiet, quiet.ties_active))  # same pruning
    same = (first == last) & (pick >= 0.2) & (pick <= 0.85)
    users = reader.population.citizens.social_media
    assert (same & users & (first > 0)).sum() > 1000
    for kind in [*STANCES.values(), INTERACTIONS]:
        a, b = counts(reader, kind), counts(quiet, kind)
        assert np.array_equal(a[same], b[same]), kind
    # The runs really differ elsewhere: the chilled, the boosted and the pruned.
    a, b = counts(reader, INTERACTIONS), counts(quiet, INTERACTIONS)
    for group in (pick < 0.2, pick > 0.85, first != last):
        assert not np.array_equal(a[group], b[group])
    assert (first != last).sum() > 500


def test_interactions_exact_across_periods(tmp_path, monkeypatch) -> None:
    # Periods of 7 days, reads that straddle their ends: each period's draw is whole.
    monkeypatch.setattr(sampling, "PERIOD_DAYS", 7)
    days = 30
    reader, quiet = _pair(tmp_path, lambda d: build(d, {}, days=days, size=6000))
    n = len(reader.population.citizens)
    chilled = np.flatnonzero(np.random.default_rng(8).random(n) < 0.3)
    for day in range(days):
        if day == 2:
            update_propensity(reader, "post_neutral", 0.5, chilled)
        reader.step()
        quiet.step()
        if day in (1, 9, 10, 19, 26):  # days 2, 10, 11, 20, 27 read: across period ends
            _read(reader, False, [STANCES["critical"], INTERACTIONS])
        if day == 15:
            _read(reader, False, [STANCES["positive_energy"]])
    _finish(reader)
    _finish(quiet)
    comp = source(reader)
    assert not comp._ledger  # every period handed out whole
    same = np.ones(n, bool)
    same[chilled] = False
    for kind in [*STANCES.values(), INTERACTIONS]:
        assert np.array_equal(counts(reader, kind)[same], counts(quiet, kind)[same]), kind
    a, b = counts(reader, INTERACTIONS), counts(quiet, INTERACTIONS)
    assert not np.array_equal(a[chilled], b[chilled])


def test_record_every_event_likes_are_exact_for_unchanged_people(tmp_path) -> None:
    # Recorded posts: the same candidates in both runs (the multipliers' bound stays 1),
    # every candidate's likes from its own uniform, so chilling some people leaves
    # everyone else's posts and likes as they were.
    days = 15
    runs = _pair(tmp_path, lambda d: build(d, {"record_every_event": True}, days=days, size=8000))
    n = len(runs[0].population.citizens)
    chilled = np.flatnonzero(np.random.default_rng(9).random(n) < 0.3)
    update_propensity(runs[0], "post_critical", 0.3, chilled)
    totals = []
    for sim in runs:
        per_person = {kind: np.zeros(n, np.int64) for kind in STANCES.values()}
        end_day = sim.acts.end_day

        def keep(sim: Simulation = sim, per_person=per_person, end_day=end_day) -> None:
            for acts in sim.acts.today:
                if acts.kind in per_person:
                    per_person[acts.kind] += np.bincount(acts.actor, minlength=n)
            end_day()

        sim.acts.end_day = keep  # type: ignore[method-assign]
        for _ in range(days):
            sim.step()
        totals.append({**per_person, INTERACTIONS: counts(sim, INTERACTIONS)})
    same = np.ones(n, bool)
    same[chilled] = False
    for kind, got in totals[0].items():
        assert np.array_equal(got[same], totals[1][kind][same]), kind
    assert totals[0]["post_critical"][chilled].sum() < totals[1]["post_critical"][chilled].sum()


# --- the law --------------------------------------------------------------------------------


def _binomial_fit(interactions: np.ndarray, trials: np.ndarray, p: float) -> None:
    """Given per-person trials, interactions ~ Binomial(trials, p), independently: their
    sum within Z standard errors of its mean, and the summed squared standardised
    deviations (mean 1 each, variance 2 + (1 - 6pq) / (trials pq)) within Z of theirs."""
    at = trials > 0
    assert np.all(interactions[~at] == 0)
    t, x = trials[at].astype(np.float64), interactions[at].astype(np.float64)
    pq = p * (1 - p)
    assert abs((x - p * t).sum()) < Z * np.sqrt((t * pq).sum())
    dispersion = ((x - p * t) ** 2 / (t * pq)).sum()
    var = (2 + (1 - 6 * pq) / (t * pq)).sum()
    assert abs(dispersion - len(t)) < Z * np.sqrt(var)


def test_interactions_are_one_binomial_per_post_however_read_and_thinned(tmp_path) -> None:
    # Controlled inputs: everyone posts at 1 a day, interactions at p = 0.5 (where a
    # binomial thinning of the period's draw, instead of the hypergeometric split, would
    # be far off in dispersion); degrees constant. Reads for a focus group on some days,
    # for everyone on others; a fifth of people chilled to 0.3 of their critical posts, a
    # fifth boosted to 3 times their positive posts (acts above multiplier 1).
    p, days, size = 0.5, 24, 20_000
    params = {
        "activity_sigma": 0.0,
        "activity_median_posts_per_day": 1.0,
        "interaction_probability": p,
    }
    sim = build(tmp_path, params, days=days, size=size)
    n = len(sim.population.citizens)
    pick = np.random.default_rng(10).random(n)
    focus = np.random.default_rng(11).random(n) < 0.5
    sim.aggregates.focus("person", focus)
    degree = online_degree(sim).astype(np.int64)
    mid = None
    for day in range(days):
        if day == 3:
            update_propensity(sim, "post_critical", 0.3, np.flatnonzero(pick < 0.2))
            update_propensity(sim, "post_positive_energy", 3.0, np.flatnonzero(pick > 0.8))
        sim.step()
        if day in (4, 9, 15):
            _read(sim, True, [STANCES["positive_energy"], INTERACTIONS])
        if day == 12:
            _read(sim, False, [STANCES["critical"], INTERACTIONS])
        if day == 15:  # the focus group's posts and interactions so far
            posts = sum(sim.aggregates.counts.focused(("person", k)) for k in STANCES.values())
            got = sim.aggregates.counts.focused(("person", INTERACTIONS))
            mid = (posts[focus].astype(np.int64), got[focus].astype(np.int64))
    _finish(sim)
    assert np.array_equal(online_degree(sim, sim.ties_active), degree)
    assert mid is not None
    _binomial_fit(mid[1], mid[0] * degree[focus], p)
    _binomial_fit(counts(sim, INTERACTIONS), _posts(sim) * degree, p)
    for group in (pick < 0.2, pick > 0.8):  # the thinned, and those with extra posts
        _binomial_fit(counts(sim, INTERACTIONS)[group], (_posts(sim) * degree)[group], p)
