"""The standings a policy publishes to behaviour stay equal to its scores.

The engine refreshes the published standing only for entities whose points changed that
day (and for everyone after a factor assessment, or when many changed, as on a warm
start's first day); these tests compare it, day by day, with a full recomputation from
the scores themselves.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import build_simulation, small_scenario

from sclab.engine.feedback import SystemView
from sclab.parallel import BLOCK
from sclab.policy.engine import PolicyEngine
from sclab.policy.publish import standing


def test_published_standings_match_the_scores_every_day(write_scenario) -> None:
    doc = small_scenario(
        days=40,
        population={"size": 6000},
        sources=[{"use": "payments"}, {"use": "state_data", "params": {"rate_multiplier": 30}},
                 {"use": "social_media"}, {"use": "resources"}, {"use": "company_conduct"}],
        sensors=[{"use": "records"}],
        policies=[{"use": "pack", "params": {"pack": "court-defaulters"}},
                  {"use": "pack", "params": {"pack": "rongcheng"}},
                  {"use": "pack", "params": {"pack": "sesame"}}],
    )  # fmt: skip
    sim = build_simulation(write_scenario(doc))
    engines = [c for _, c in sim.components if isinstance(c, PolicyEngine)]
    changed = 0
    for _ in range(doc["days"]):
        before = {
            (e.system, sid): arr.copy()
            for e in engines
            for sid, arr in e.standings.published.items()
        }
        sim.step()
        for e in engines:
            for sid, arr in e.standings.published.items():
                src = e.scores.state(sid)
                np.testing.assert_array_equal(arr, standing(src).astype(np.float32))
                changed += int(np.sum(~np.isclose(arr, before[(e.system, sid)], equal_nan=True)))
    assert changed > 100  # the standings did move: the comparison is not vacuous


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 3), st.booleans())
def test_listing_days_of_some_people_match_the_whole_array(
    seed: int, lists: int, own: bool
) -> None:
    """``listed_since_of(people)`` is ``listed_since[people]`` for any lists, any people."""
    rng = np.random.default_rng(seed)
    n = 200
    view = SystemView(n)
    for k in range(lists):
        view.publish_list(
            f"list{k}", rng.random(n) < 0.3, rng.integers(-900, 300, n).astype(np.int32)
        )
    if own:
        view.listed = rng.random(n) < 0.2
        view.listed_since = rng.integers(-50, 50, n)
    people = rng.integers(0, n, rng.integers(0, 60))
    np.testing.assert_array_equal(view.listed_since_of(people), view.listed_since[people])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    scores=st.integers(0, 3),
    own=st.booleans(),
    threshold=st.floats(0.0, 1.0, width=32),
)
def test_score_below_matches_the_lowest_standing(
    seed: int, scores: int, own: bool, threshold: float
) -> None:
    """``score_below(t)`` is ``score < t`` (unscored never below) for any published scores,
    across block boundaries."""
    rng = np.random.default_rng(seed)
    n = 2 * BLOCK + 1234  # three blocks of the parallel pass, the last one short
    view = SystemView(n)
    for k in range(scores):
        standing = rng.random(n).astype(np.float32)
        standing[rng.random(n) < 0.4] = np.nan  # not taking part
        view.publish_score(f"system{k}", standing)
    if own:
        view.score = np.where(rng.random(n) < 0.5, rng.random(n), np.nan)
    np.testing.assert_array_equal(view.score_below(threshold), view.score < threshold)
