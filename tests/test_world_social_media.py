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

import sclab.world.social_media as social_media
from sclab.behaviour.ties import reverse_positions
from sclab.engine import Simulation
from sclab.engine.acts import Acts
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.engine.ties import tie_changes_of
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_scenario
from sclab.world.social_media import (
    INTERACTIONS,
    STANCES,
    SocialMediaParams,
    SocialMediaSource,
    posts_per_user_day,
)

N = 40_000
DAYS = 60
Z = 5.0
SHARES = SocialMediaParams().stance_shares
P_INTERACT = SocialMediaParams().interaction_probability


def build(
    tmp: Path,
    params: dict[str, Any],
    days: int = DAYS,
    size: int = N,
    seed: int = 7,
    behaviour: list[dict[str, Any]] | None = None,
):
    from tests.conftest import small_scenario

    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": size},
        sources=[{"use": "social_media", "params": params}],
        behaviour=behaviour or [],
    )
    path = tmp / f"social-{seed}-{abs(hash(repr((params, behaviour)))) % 10**8}.yaml"
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


def source(sim: Simulation) -> SocialMediaSource:
    return next(c for _, c in sim.components if isinstance(c, SocialMediaSource))


def activity(sim: Simulation) -> np.ndarray:
    return source(sim).activity


def online_degree(sim: Simulation, active: np.ndarray | None = None) -> np.ndarray:
    g = sim.population.graph
    online = np.asarray(g.online)
    live = online if active is None else online & np.asarray(active)
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
    update_propensity(sim, "post_critical", 0.5)
    update_propensity(sim, "post_positive_energy", 2.0)
    run(sim)
    act = activity(sim)
    for stance, factor in (("critical", 0.5), ("positive_energy", 2.0), ("neutral", 1.0)):
        expected = act.sum() * SHARES[stance] * DAYS * factor
        got = counts(sim, STANCES[stance]).sum()
        assert abs(got - expected) < Z * np.sqrt(expected), stance
    # The measuring helper sees the fall.
    users = sim.population.citizens.social_media.sum()
    rate = act.sum() * SHARES["critical"] / users
    assert posts_per_user_day(base, STANCES["critical"]) == pytest.approx(
        rate, rel=Z / np.sqrt(rate * users * DAYS)
    )
    assert posts_per_user_day(sim, STANCES["critical"]) == pytest.approx(
        rate / 2, rel=Z / np.sqrt(rate * users * DAYS)
    )


def test_propensity_acts_per_person(tmp_path) -> None:
    sim = build(tmp_path, {}, days=30)
    n = len(sim.population.citizens)
    update_propensity(sim, "post_critical", 0.0, np.arange(0, n, 2))  # even ids self-censor
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
            update_propensity(sim, "post_critical", 0.5)  # ...then halves critical posting
        sim.step()
        if day % 10 == 9:
            rates.append(posts_per_user_day(sim, STANCES["critical"]))
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
    assert np.all(got <= trials)  # no post draws more interactions than its author's ties


# --- pruned ties: the source stays lazy, epoch by epoch ------------------------------------

P_PRUNE = 0.3  # high, so that degrees fall a long way within a few weeks


def build_pruned(
    tmp: Path,
    days: int = DAYS,
    size: int = N,
    seed: int = 7,
    params: dict[str, Any] | None = None,
) -> Simulation:
    """Social media with tie pruning, 30 % of people scored low (ties count in the score)."""
    sim = build(
        tmp,
        params or {},
        days=days,
        size=size,
        seed=seed,
        behaviour=[{"use": "tie_pruning", "params": {"p_prune": P_PRUNE}}],
    )
    u = np.random.default_rng(seed).random(size)
    sim.view.score[:] = np.where(u < 0.3, 0.1, 0.9).astype(np.float32)
    sim.view.scores_ties = True
    return sim


def no_daily_path(sim: Simulation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every O(ties) recount and every daily draw of posts fail from now on."""

    def recount(*_: Any) -> np.ndarray:
        raise AssertionError("active online degrees recounted from the tie lists")

    def daily(*_: Any, **__: Any) -> Any:
        raise AssertionError("posts drawn day by day")

    monkeypatch.setattr(social_media, "_row_counts", recount)
    monkeypatch.setattr(source(sim)._classes, "events", daily)


@pytest.fixture(scope="module", params=["split", "settle", "read", "focus"])
def pruned(request, tmp_path_factory):
    """A pruned run, with every settle's posts, interactions and degrees written down.

    ``split``: nothing is drawn before the end, the posts of authors whose degree changed
    are split over their epochs then. ``settle``: every round first draws all pending posts
    (``epoch_cap`` 0, what a full note record does). ``read``: as ``split``, but positive
    energy posts are read every 5 days (what a factor score does), which draws that stance
    alone and leaves its later rounds pending for it. ``focus``: as ``read``, but four
    people in ten are the aggregates' focus group and every read is focused (positive
    posts, then the interactions: what a voluntary score does), which draws that group's
    posts of every stance and leaves the others' rounds pending. Every day the source's degrees are
    checked against a full recount of the ties as they were when the day's posts were made
    (before that day's pruning): exact equality.
    """
    sim = build_pruned(tmp_path_factory.mktemp("pruned"))
    comp = source(sim)
    comp.epoch_cap = 0 if request.param == "settle" else 10**12
    settles: list[dict[str, np.ndarray]] = []
    add_counts = sim.aggregates.add_counts
    settle = comp._settle

    def spy_add_counts(kind, counts, amount=None, people=None, entity_type="person"):
        full = np.zeros(len(sim.population.citizens), np.int64)
        full[slice(None) if people is None else people] = counts
        # Interactions come stance by stance: one settle's are their sum.
        settles[-1][kind] = settles[-1].get(kind, 0) + full
        add_counts(kind, counts, amount, people, entity_type)

    def spy_settle(
        s: Simulation,
        kinds: tuple[str, ...] | None = None,
        focus_only: bool = False,
        interactions: bool = False,
    ) -> None:
        settles.append({"degree": comp.active_degree.astype(np.int64), "day": np.array(s.day)})
        settle(s, kinds, focus_only, interactions)
        if len(settles[-1]) == 2:  # nothing was pending: no draw
            settles.pop()

    sim.aggregates.add_counts = spy_add_counts  # type: ignore[method-assign]
    comp._settle = spy_settle  # type: ignore[method-assign]
    daily: list[np.ndarray] = []  # per day, the recounted degrees the day's posts had
    if request.param == "focus":
        focus = np.random.default_rng(11).random(len(sim.population.citizens)) < 0.4
        sim.aggregates.focus("person", focus)
    with pytest.MonkeyPatch.context() as mp:
        no_daily_path(sim, mp)
        for _ in range(DAYS):
            expected = online_degree(sim, sim.ties_active).astype(np.int64)
            sim.step()
            assert np.array_equal(comp.active_degree, expected), sim.day
            daily.append(expected)
            if request.param == "read" and sim.day % 5 == 4:
                sim.aggregates.counts[("person", STANCES["positive_energy"])]
            if request.param == "focus" and sim.day % 5 == 4:
                sim.aggregates.counts.focused(("person", STANCES["positive_energy"]))
                sim.aggregates.counts.focused(("person", INTERACTIONS))
        for _, component in sim.components:
            component.finish(sim)
    return sim, settles, np.array(daily), request.param


def test_pruned_ties_keep_degrees_exact_without_recounting(pruned) -> None:
    sim, settles, daily, mode = pruned
    assert len(daily) == DAYS  # degrees equal to a full recount on every day
    dropped = int((~np.asarray(sim.ties_active)).sum())
    assert dropped > 0.05 * len(sim.ties_active)  # pruning really happened, repeatedly
    assert tie_changes_of(sim).version == (DAYS + 1) // 7  # a round every week
    assert not np.array_equal(daily[0], daily[-1])
    if mode == "split":  # one draw, at the end
        assert [int(s["day"]) for s in settles] == [DAYS - 1]
        return
    if mode == "read":  # positive energy alone on the read days, everything at the end
        read_days = [d for d in range(DAYS) if d % 5 == 4]
        assert [int(s["day"]) for s in settles] == [*read_days, DAYS - 1]
        positive = STANCES["positive_energy"]
        for s in settles[:-1]:  # interactions wait for a read of them, or the end
            assert set(s) == {"degree", "day", positive}
        assert {STANCES["neutral"], STANCES["critical"]} <= set(settles[-1])
        return
    if mode == "focus":  # the group's posts on the read days, everyone's at the end
        focus = sim.aggregates._focus["person"]
        read_days = [d for d in range(DAYS) if d % 5 == 4]
        assert sorted({int(s["day"]) for s in settles}) == sorted({*read_days, DAYS - 1})
        for s in settles[:-1]:
            for key, got in s.items():
                if key not in ("degree", "day"):
                    assert not got[~focus].any(), key  # nobody outside the group drawn
        assert set(STANCES.values()) <= set(settles[-1])
        assert settles[-1][STANCES["neutral"]][~focus].sum() > 0
        return
    # One settle on the first day after each round (posts of the previous epoch), one at the
    # end; each with the degrees of its epoch (checked daily in the fixture).
    rounds = (DAYS + 1) // 7
    assert [int(s["day"]) for s in settles] == [7 * r for r in range(1, rounds + 1)] + [DAYS - 1]
    for s in settles[:-1]:  # settled at the start of day d: posts of days up to d - 1
        assert np.array_equal(s["degree"], daily[int(s["day"]) - 1]), int(s["day"])
    assert np.array_equal(settles[-1]["degree"], daily[-1])


def test_pruned_ties_post_totals_per_stance(pruned) -> None:
    sim, settles, _, _ = pruned
    act = activity(sim)
    for stance, kind in STANCES.items():
        got = counts(sim, kind)
        assert got.sum() == sum(s[kind].sum() for s in settles if kind in s), kind
        expected = act.sum() * SHARES[stance] * DAYS
        assert abs(got.sum() - expected) < Z * np.sqrt(expected), kind


def test_pruned_ties_interactions_use_the_degree_of_each_epoch(pruned) -> None:
    sim, settles, daily, mode = pruned
    lost = daily[0] > daily[-1]  # authors whose online ties were dropped
    assert lost.sum() > 1000
    got = counts(sim, INTERACTIONS)
    assert got.sum() == sum(s[INTERACTIONS].sum() for s in settles if INTERACTIONS in s)
    # From the model alone: person i posts Poisson(activity_i) a day, each post drawing
    # Binomial(degree_i(d), p) interactions with that day's degree. Summed over days that
    # is compound Poisson, mean Σ_d a·deg·p and variance Σ_d a·(deg·p(1-p) + deg²p²).
    act = activity(sim).astype(np.float64)[lost]
    deg = daily[:, lost].astype(np.float64)
    mean = float((act * deg.sum(0)).sum()) * P_INTERACT
    var = float((act * (deg.sum(0) * P_INTERACT * (1 - P_INTERACT))).sum()) + float(
        (act * (deg**2).sum(0)).sum() * P_INTERACT**2
    )
    assert abs(got[lost].sum() - mean) < Z * np.sqrt(var)
    # Power: the degrees of the first or of the last day throughout would be far off.
    for wrong in (daily[0], daily[-1]):
        wrong_mean = float((act * wrong[lost] * DAYS).sum()) * P_INTERACT
        assert abs(wrong_mean - mean) > 20 * np.sqrt(var)
    if mode != "settle":
        return
    # Posts settled at every round, their interactions drawn once at the end: given each
    # epoch's posts, the interactions are Binomial(Σ over epochs of posts x degree, p).
    assert all(INTERACTIONS not in s for s in settles[:-1])
    trials = np.zeros(len(got), np.int64)
    for s in settles:
        trials += sum(s[k] for k in STANCES.values() if k in s) * s["degree"]
    expected = int(trials[lost].sum()) * P_INTERACT
    sd = np.sqrt(expected * (1 - P_INTERACT))
    assert abs(got[lost].sum() - expected) < Z * sd
    assert np.all(got[trials == 0] == 0)


def test_split_over_epochs_follows_behaviour_multipliers(tmp_path) -> None:
    # Neutral posting triples for three weeks then stops, while ties are pruned weekly:
    # most posts belong to the early epochs, with the higher degrees. Drawn once, at the
    # end, so the split over epochs has to weigh each epoch by its exposure, not its days.
    days = 42
    sim = build_pruned(tmp_path, days=days, size=20_000)
    comp = source(sim)
    comp.epoch_cap = 10**12
    weight, daily = [], []
    for day in range(days):
        m = 3.0 if day < 21 else 0.0
        update_propensity(sim, "post_neutral", m)
        weight.append(1 - SHARES["neutral"] + SHARES["neutral"] * m)
        daily.append(online_degree(sim, sim.ties_active))
        sim.step()
    comp.finish(sim)
    w = np.array(weight)[:, None]
    deg = np.array(daily)
    lost = deg[0] > deg[-1]
    act = activity(sim).astype(np.float64)[lost]
    deg = deg[:, lost]
    # Compound Poisson as in the test above, with the day's posting rate a·w_d.
    mean = float((act * (w * deg).sum(0)).sum()) * P_INTERACT
    var = (
        float((act * (w * deg).sum(0)).sum()) * P_INTERACT * (1 - P_INTERACT)
        + float((act * (w * deg**2).sum(0)).sum()) * P_INTERACT**2
    )
    got = counts(sim, INTERACTIONS)[lost].sum()
    assert abs(got - mean) < Z * np.sqrt(var)
    # Power: splitting the same posts evenly over the days would be far off.
    even = float((act * w.sum() * deg.mean(0)).sum()) * P_INTERACT
    assert abs(even - mean) > 10 * np.sqrt(var)


def test_ties_switched_off_through_the_record_on_chosen_days(tmp_path, monkeypatch) -> None:
    # Tie pruning is present but never scores (scores_ties stays False): the ties are
    # switched off by hand, through its change record, on days of the test's choosing.
    days = 30
    sim = build(tmp_path, {}, days=days, size=20_000, behaviour=[{"use": "tie_pruning"}])
    comp = source(sim)
    record = tie_changes_of(sim)
    assert record is not None
    g = sim.population.graph
    owner = np.repeat(np.arange(g.n), np.diff(g.indptr))
    pick = np.random.default_rng(3)
    recounts = []
    row_counts = social_media._row_counts
    monkeypatch.setattr(
        social_media, "_row_counts", lambda *a: recounts.append(sim.day) or row_counts(*a)
    )
    degrees = []
    for day in range(days):
        sim.step()
        degrees.append(comp.active_degree.copy())
        if day in (3, 9, 10, 20):
            # Any ties, online or not, some already off; both directions, as pruning does.
            pos = pick.choice(len(g.indices), 20_000)
            both = np.concatenate([pos, reverse_positions(g, owner[pos], g.indices[pos])])
            record.switch_off(sim, both)
        if day == 20:
            record.switch_off(sim, pick.choice(len(g.indices), 10))  # two rounds in one day
    # Incremental after one round a day; one recount (day 21) when two rounds came at once.
    assert recounts == [21]
    assert np.array_equal(comp.active_degree, online_degree(sim, sim.ties_active))
    for day in (4, 10, 11, 21):
        assert not np.array_equal(degrees[day - 1], degrees[day]), day
    posts = sum(counts(sim, k) for k in STANCES.values())
    assert posts.sum() > 0


def test_assigned_ties_are_recounted_once_then_lazy(tmp_path, monkeypatch) -> None:
    sim = build(tmp_path, {}, days=10, size=5000)
    g = sim.population.graph
    sim.ties_active = np.arange(len(g.indices)) % 2 == 0  # assigned, not recorded
    sim.step()
    assert np.array_equal(source(sim).active_degree, online_degree(sim, sim.ties_active))
    no_daily_path(sim, monkeypatch)
    for _ in range(9):
        sim.step()
    posts = sum(counts(sim, k) for k in STANCES.values())
    assert posts.sum() > 0


def test_record_every_event_follows_pruned_ties(tmp_path) -> None:
    days = 21
    sim = build_pruned(tmp_path, days=days, size=10_000, params={"record_every_event": True})
    today: list[Acts] = []
    end_day = sim.acts.end_day

    def keep() -> None:
        today[:] = sim.acts.today
        end_day()

    sim.acts.end_day = keep  # type: ignore[method-assign]
    got, trials = 0, 0
    for _ in range(days):
        degree = online_degree(sim, sim.ties_active)  # before today's pruning
        sim.step()
        assert np.array_equal(source(sim).active_degree, degree)
        for a in today:
            if a.kind in STANCES.values():
                assert np.all(a.extra["interactions"] <= degree[a.actor])
                trials += int(degree[a.actor].sum())
                got += int(a.extra["interactions"].sum())
    assert tie_changes_of(sim).version == days // 7
    # One Binomial(degree, p) per post: the sum is within 5 standard errors of trials·p.
    expected = trials * P_INTERACT
    assert abs(got - expected) < Z * np.sqrt(expected * (1 - P_INTERACT))
    assert got == counts(sim, INTERACTIONS).sum()


def test_pruned_runs_are_deterministic(tmp_path) -> None:
    prints = []
    for seed in (7, 7, 8):
        sim = build_pruned(tmp_path, days=21, size=5000, seed=seed)
        for _ in range(21):
            sim.step()
        prints.append(
            (
                [counts(sim, k).tolist() for k in [*STANCES.values(), INTERACTIONS]],
                np.flatnonzero(~np.asarray(sim.ties_active)).tolist(),
            )
        )
    assert prints[0] == prints[1]
    assert prints[0][0] != prints[2][0]
