"""The social-media source: posting rates, stance shares, interactions and the chilling hook.

Statistical tolerance: a count with expectation E is accepted within 5 standard errors
(5·sqrt(E) for Poisson counts, the binomial or multinomial standard error for shares). A
correct implementation fails one such check with probability below 1e-6 (normal
approximation); halving or doubling a rate moves the expectation by tens of standard
errors, so a missing effect cannot pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from sclab.engine import Simulation
from sclab.engine.acts import Acts
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.scenario import load_scenario
from sclab.world.base import set_propensity
from sclab.world.social_media import (
    INTERACTIONS,
    STANCES,
    SocialMediaParams,
    SocialMediaSource,
    critical_post_rate,
    posts_per_user_day,
)

N = 40_000
DAYS = 60
Z = 5.0
SHARES = SocialMediaParams().stance_shares
P_INTERACT = SocialMediaParams().interaction_probability


def build(tmp: Path, params: dict[str, Any], days: int = DAYS, size: int = N, seed: int = 7):
    from tests.conftest import small_scenario

    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": size},
        sources=[{"use": "social_media", "params": params}],
    )
    path = tmp / f"social-{seed}-{abs(hash(repr(params))) % 10**8}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    pop = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), pop)


def run(sim: Simulation, days: int = DAYS) -> list[Acts]:
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


def counts(sim: Simulation, kind: str) -> np.ndarray:
    got = sim.aggregates.counts.get(("person", kind))
    return np.zeros(len(sim.population.citizens), np.int64) if got is None else got.astype(np.int64)


def activity(sim: Simulation) -> np.ndarray:
    return next(c for _, c in sim.components if isinstance(c, SocialMediaSource)).activity


def online_degree(sim: Simulation, active: np.ndarray | None = None) -> np.ndarray:
    g = sim.population.graph
    live = g.online if active is None else g.online & active
    owner = np.repeat(np.arange(g.n), np.diff(g.indptr))
    return np.bincount(owner, weights=live, minlength=g.n)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    sim = build(tmp_path_factory.mktemp("base"), {})
    return sim, run(sim)


def test_posting_rates_per_stance_and_activity_class(baseline) -> None:
    sim, _ = baseline
    act = activity(sim)
    users = sim.population.citizens.social_media
    assert np.all(act[~users] == 0) and np.all(act[users] > 0)
    # Activity deciles among users, so the heavy tail is checked, not just the mean.
    cut = np.quantile(act[users], np.linspace(0, 1, 11))
    group = np.clip(np.searchsorted(cut, act, side="right") - 1, 0, 9)
    for stance, kind in STANCES.items():
        got = counts(sim, kind)
        assert np.all(got[~users] == 0), kind
        expected = act * SHARES[stance] * DAYS
        assert abs(got.sum() - expected.sum()) < Z * np.sqrt(expected.sum()), kind
        exp_g = np.bincount(group[users], weights=expected[users], minlength=10)
        got_g = np.bincount(group[users], weights=got[users], minlength=10)
        assert np.all(np.abs(got_g - exp_g) < Z * np.sqrt(exp_g)), kind


def test_equal_activity_gives_every_user_poisson_counts(tmp_path) -> None:
    params = {"activity_sigma": 0.0, "activity_median_posts_per_day": 1.0}
    sim = build(tmp_path, params, days=30, size=5000)
    run(sim, 30)
    users = sim.population.citizens.social_media
    posts = sum(counts(sim, k) for k in STANCES.values())[users]
    assert posts.min() > 0  # Poisson(30) is 0 with probability 1e-13: everyone is reachable
    # Poisson: variance equals the mean (30); sample variance has sd ~ 30·sqrt(2/n).
    assert abs(posts.mean() - 30) < Z * np.sqrt(30 / len(posts))
    assert abs(posts.var() - 30) < Z * 30 * np.sqrt(2 / len(posts) + 1 / (30 * len(posts)))


def test_stance_shares(baseline) -> None:
    sim, _ = baseline
    totals = {s: counts(sim, k).sum() for s, k in STANCES.items()}
    n = sum(totals.values())
    for stance, share in SHARES.items():
        assert abs(totals[stance] / n - share) < Z * np.sqrt(share * (1 - share) / n), stance


def test_activity_is_lognormal_and_heavy_tailed(baseline) -> None:
    sim, _ = baseline
    p = SocialMediaParams()
    log_act = np.log(activity(sim)[sim.population.citizens.social_media])
    n = len(log_act)
    assert abs(log_act.mean() - np.log(p.activity_median_posts_per_day)) < Z * p.activity_sigma / (
        np.sqrt(n)
    )
    # Sample sd of a normal: standard error sigma / sqrt(2n).
    assert abs(log_act.std() - p.activity_sigma) < Z * p.activity_sigma / np.sqrt(2 * n)
    posts = sum(counts(sim, k) for k in STANCES.values())
    top = np.sort(posts)[::-1][: n // 100].sum()
    assert top > 0.08 * posts.sum()  # lognormal σ = 1.2: top 1 % of users hold ~13 % of rate


def test_interactions_over_online_ties(baseline) -> None:
    sim, _ = baseline
    posts = sum(counts(sim, k) for k in STANCES.values())
    trials = posts * online_degree(sim)
    got = counts(sim, INTERACTIONS)
    expected = trials.sum() * P_INTERACT
    assert abs(got.sum() - expected) < Z * np.sqrt(expected * (1 - P_INTERACT))
    assert np.all(got[trials == 0] == 0)  # only authors with online ties get any


def test_switched_off_ties_carry_no_interactions(tmp_path) -> None:
    sim = build(tmp_path, {}, days=30)
    g = sim.population.graph
    active = np.arange(len(g.indices)) % 3 != 0  # a third of tie ends switched off
    sim.ties_active = active
    run(sim, 30)
    posts = sum(counts(sim, k) for k in STANCES.values())
    trials = posts * online_degree(sim, active)
    expected = trials.sum() * P_INTERACT
    got = counts(sim, INTERACTIONS)
    assert abs(got.sum() - expected) < Z * np.sqrt(expected)
    assert np.all(got[trials == 0] == 0)


def test_propensity_halves_critical_posts_only(tmp_path, baseline) -> None:
    base, _ = baseline
    sim = build(tmp_path, {})
    set_propensity(sim, "post_critical")[:] = 0.5
    set_propensity(sim, "post_positive_energy")[:] = 2.0
    run(sim)
    act = activity(sim)
    for stance, factor in (("critical", 0.5), ("positive_energy", 2.0), ("neutral", 1.0)):
        expected = act.sum() * SHARES[stance] * DAYS * factor
        got = counts(sim, STANCES[stance]).sum()
        assert abs(got - expected) < Z * np.sqrt(expected), stance
    # The measuring helper sees the fall.
    users = sim.population.citizens.social_media.sum()
    rate = act.sum() * SHARES["critical"] / users
    assert critical_post_rate(base) == pytest.approx(rate, rel=Z / np.sqrt(rate * users * DAYS))
    assert critical_post_rate(sim) == pytest.approx(rate / 2, rel=Z / np.sqrt(rate * users * DAYS))


def test_propensity_acts_per_person(tmp_path) -> None:
    sim = build(tmp_path, {}, days=30)
    prop = set_propensity(sim, "post_critical")
    prop[::2] = 0.0  # even ids self-censor completely
    run(sim, 30)
    got = counts(sim, "post_critical")
    assert got[::2].sum() == 0
    act = activity(sim)
    expected = act[1::2].sum() * SHARES["critical"] * 30
    assert abs(got[1::2].sum() - expected) < Z * np.sqrt(expected)


def test_record_every_event_switches_posts_to_acts(tmp_path, baseline) -> None:
    base, _ = baseline
    sim = build(tmp_path, {"record_every_event": True})
    seen = run(sim)
    interactions = 0
    for kind in STANCES.values():
        assert ("person", kind) not in sim.aggregates.counts
        batches = [a for a in seen if a.kind == kind]
        a = sum(len(b) for b in batches)
        b = int(counts(base, kind).sum())
        # Two independent counts of equal expectation: difference within 5·sqrt(a + b).
        assert abs(a - b) <= Z * np.sqrt(a + b), kind
        interactions += sum(int(x.extra["interactions"].sum()) for x in batches)
        assert sim.acts.totals[kind] == a
    # Per-post interactions add up to the per-author aggregate, same expectation as before.
    assert interactions == counts(sim, INTERACTIONS).sum()
    b = counts(base, INTERACTIONS).sum()
    assert abs(interactions - b) <= Z * np.sqrt(interactions + b)
    assert posts_per_user_day(sim, "post_neutral") == pytest.approx(
        posts_per_user_day(base, "post_neutral"), rel=0.02
    )


def test_same_seed_same_results_other_seed_other_results(tmp_path) -> None:
    prints = []
    for seed in (7, 7, 8):
        sim = build(tmp_path, {}, days=20, size=5000, seed=seed)
        run(sim, 20)
        prints.append([counts(sim, k).tolist() for k in [*STANCES.values(), INTERACTIONS]])
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


@pytest.mark.parametrize(
    "bad",
    [
        {"stance_shares": {"positive_energy": 0.5, "neutral": 0.4, "critical": 0.2}},
        {"stance_shares": {"neutral": 0.9, "critical": 0.1}},
        {"interaction_probability": 1.5},
        {"activity_median_posts_per_day": 0},
        {"speed": 3},
    ],
)
def test_bad_params_are_rejected(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SocialMediaParams.model_validate(bad)


def test_reading_mid_run_draws_what_is_pending_and_keeps_the_rates(tmp_path) -> None:
    # Posts are drawn when read; reading every 10 days splits the draws, same law.
    days = 30
    sim = build(tmp_path, {}, days=days, size=20_000)
    set_propensity(sim, "post_critical")  # a multiplier that stays 1...
    rates = []
    for day in range(days):
        if day == 15:
            propensity_array = sim.state["propensity/post_critical"]
            propensity_array[:] = 0.5  # ...then halves critical posting
        sim.step()
        if day % 10 == 9:
            rates.append(critical_post_rate(sim))
    act = activity(sim)
    users = sim.population.citizens.social_media.sum()
    per_day = act.sum() * SHARES["critical"] / users
    # Cumulative rates per user-day at days 10, 20, 30 (the halving from day 15 on).
    for when, rate in zip((10, 20, 30), rates, strict=True):
        halved_days = max(0, when - 15)
        expected = per_day * (when - halved_days / 2) / when
        n_expected = expected * users * when
        assert rate == pytest.approx(expected, rel=Z / np.sqrt(n_expected)), when
    # The totals drawn in three reads add up to the counts, with interactions for all.
    posts = sum(counts(sim, k) for k in STANCES.values())
    trials = posts * online_degree(sim)
    got = counts(sim, INTERACTIONS)
    expected = trials.sum() * P_INTERACT
    assert abs(got.sum() - expected) < Z * np.sqrt(expected)
