"""Social media: posts by stance and the likes and shares they draw over online ties.

Every person and every post here is synthetic; no text is generated, only counts.

Core objects:
    :class:`SocialMediaParams`: activity distribution, stance shares, interaction chance.
    :class:`SocialMediaSource`: the registered source ``social_media``.
    :data:`STANCES`: the act kinds, one per stance.
    :func:`posts_per_user_day`, :func:`critical_post_rate`: per-user daily posting rates
        since day 0, read back from the aggregates and act totals (for measuring chilling).

Model:
    Each social-media user gets in setup an activity level, posts per day, drawn lognormal
    (median ``activity_median_posts_per_day``, log-sd ``activity_sigma``, capped at
    ``max_posts_per_day``): heavy-tailed, so a few people post a great deal. Posts of
    stance s by person i form a Poisson stream of rate ``activity_i × share_s ×
    propensity_s[i]`` (``share_s`` from ``stance_shares``; propensity kinds
    ``post_positive_energy``, ``post_neutral``, ``post_critical``). A propensity below 1
    therefore means posts of that stance are not written at all (self-censorship), not
    rewritten in another stance: halving ``post_critical`` halves critical posts and
    leaves the others as they were.

    Each post reaches each of the author's active online ties (``graph.online``, and
    ``sim.ties_active`` when a component has switched ties off) and draws a like or share
    from it with probability ``interaction_probability``. What is counted is the
    interactions a person's posts receive: aggregate ``online_interactions`` per author.

    By default posts go to ``sim.aggregates`` (kinds ``post_positive_energy``,
    ``post_neutral``, ``post_critical``, no amount). With ``record_every_event`` they are
    acts instead, one per post, with extra ``interactions`` (int32: likes and shares that
    post received); ``online_interactions`` stays an aggregate in both modes.

Cost model (U social-media users, P posts today, D_on the mean online degree of posters):
    Setup is O(U log U) (activity classes) plus O(ties) once for the online degrees. A day
    costs, per stance, O(classes + P_s) with about 4 classes per doubling of activity
    (a few dozen), thinning from each class's highest rate so that at least 84 % of
    candidates are kept; plus one O(n) maximum of each propensity array a behaviour has
    created; plus O(P) binomial draws for interactions, or O(P × D_on) when some ties are
    switched off (the posters' tie lists are read). Each aggregated kind costs the engine's
    ``Aggregates.add`` (a bincount over n) once a day.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, field_validator

from sclab.engine.registry import register
from sclab.world.base import SourceParams, propensity

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

__all__ = [
    "STANCES",
    "SocialMediaParams",
    "SocialMediaSource",
    "critical_post_rate",
    "posts_per_user_day",
]

#: Stance -> act kind.
STANCES: dict[str, str] = {
    "positive_energy": "post_positive_energy",
    "neutral": "post_neutral",
    "critical": "post_critical",
}
INTERACTIONS = "online_interactions"
#: Activity classes per doubling of the rate: thinning keeps >= 2**-0.25 ≈ 84 % of draws.
_CLASSES_PER_DOUBLING = 4


class SocialMediaParams(SourceParams):
    """Parameters of the ``social_media`` source."""

    activity_median_posts_per_day: float = Field(
        0.1,
        gt=0,
        le=50,
        description="Assumption: median posts per user per day (one every ten days).",
    )
    activity_sigma: float = Field(
        1.2,
        ge=0,
        le=4,
        description="Assumption: log-sd of activity; 1.2 puts the mean at about twice the "
        "median and gives the top 1 % of users about 10 % of posts.",
    )
    max_posts_per_day: float = Field(
        30.0, gt=0, le=1000, description="Assumption: cap on a person's activity level."
    )
    stance_shares: dict[str, float] = Field(
        default_factory=lambda: {"positive_energy": 0.15, "neutral": 0.78, "critical": 0.07},
        description="Assumption: share of posts by stance (positive_energy, neutral, "
        "critical; sums to 1) without any scoring system.",
    )
    interaction_probability: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Assumption: chance that one online tie likes or shares one post.",
    )

    @field_validator("stance_shares")
    @classmethod
    def _shares(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(STANCES):
            raise ValueError(f"stance_shares needs exactly the stances {', '.join(STANCES)}")
        if any(not 0.0 <= s <= 1.0 for s in v.values()) or abs(sum(v.values()) - 1.0) > 1e-6:
            raise ValueError(f"stance_shares must be in [0, 1] and sum to 1, got {v}")
        return v


def _total(sim: Simulation, kind: str) -> int:
    counts = sim.aggregates.counts.get(("person", kind))
    from_aggregates = int(counts.sum(dtype=np.int64)) if counts is not None else 0
    return from_aggregates + sim.acts.totals.get(kind, 0)


def posts_per_user_day(sim: Simulation, kind: str) -> float:
    """Posts of ``kind`` per social-media user per day, from day 0 to the current day.

    Reads both the aggregates and the act totals, so it works whether or not the source
    records every event. NaN before the first day or without social-media users.
    """
    users = int(sim.population.citizens.social_media.sum())
    days = sim.day + 1
    if users == 0 or days <= 0:
        return float("nan")
    return _total(sim, kind) / (users * days)


def critical_post_rate(sim: Simulation) -> float:
    """Critical posts per social-media user per day so far (chilling shows as a fall)."""
    return posts_per_user_day(sim, STANCES["critical"])


@register("sources", "social_media", SocialMediaParams)
class SocialMediaSource:
    """Posts by stance, with a heavy-tailed activity level, and interactions over online ties."""

    def __init__(self, name: str, params: SocialMediaParams) -> None:
        self.name = name
        self.params = params

    def setup(self, sim: Simulation) -> None:
        p = self.params
        c = sim.population.citizens
        rng = sim.rng(f"{self.name}/setup")
        users = np.flatnonzero(c.social_media)
        rate = p.activity_median_posts_per_day * np.exp(
            p.activity_sigma * rng.standard_normal(len(users))
        )
        rate = np.minimum(rate, p.max_posts_per_day).astype(np.float32)
        #: Activity (posts per day) of every person, 0 for non-users (for tests, analyses).
        self.activity = np.zeros(len(c), dtype=np.float32)
        self.activity[users] = rate

        # Log-spaced activity classes; thinning from the class maximum keeps >= 84 %.
        cls = np.floor(np.log2(rate / p.max_posts_per_day) * _CLASSES_PER_DOUBLING)
        order = np.argsort(cls, kind="stable")
        self._members = users[order].astype(np.int32)  # person ids fit int32
        sorted_cls = cls[order]
        starts = np.flatnonzero(np.r_[True, sorted_cls[1:] != sorted_cls[:-1]])[: len(users)]
        self._offsets = np.r_[starts.astype(np.int64), len(users)]
        member_rate = rate[order]
        class_max = np.maximum.reduceat(member_rate, starts) if len(users) else np.empty(0)
        self._class_max = class_max.astype(np.float64)
        # Per member: the chance a candidate drawn at the class maximum is kept.
        self._accept = (member_rate / np.repeat(class_max, np.diff(self._offsets))).astype(
            np.float32
        )

        g = sim.population.graph
        cum = np.r_[0, np.cumsum(g.online, dtype=np.int64)]
        self._online_degree = (cum[g.indptr[1:]] - cum[g.indptr[:-1]]).astype(np.int32)

    def _online_degree_of(self, sim: Simulation, people: np.ndarray) -> np.ndarray:
        """Active online ties of each person (reads only their tie lists if ties are off)."""
        if sim.ties_active is None:
            return self._online_degree[people]
        g = sim.population.graph
        start, stop = g.indptr[people], g.indptr[people + 1]
        lens = stop - start
        pos = np.repeat(start - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
        live = g.online[pos] & sim.ties_active[pos]
        owner = np.repeat(np.arange(len(people)), lens)
        return np.bincount(owner, weights=live, minlength=len(people)).astype(np.int64)

    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        record = p.record_every_event
        for stance, kind in STANCES.items():
            # A stream per stance: chilling one stance never shifts another's draws.
            rng = sim.rng(f"{self.name}/{kind}", day)
            who = self._posts(rng, p.stance_shares[stance] * p.rate_multiplier, sim, kind)
            if not len(who):
                continue
            if record:
                degree = self._online_degree_of(sim, who)
                got = rng.binomial(degree, p.interaction_probability).astype(np.int32)
                sim.acts.add(day, self.name, kind, who, interactions=got)
                receivers = who
            else:
                sim.aggregates.add(kind, who)
                # All of a person's posts today at once: one binomial draw per poster.
                receivers, n_posts = np.unique(who, return_counts=True)
                trials = n_posts * self._online_degree_of(sim, receivers)
                got = rng.binomial(trials, p.interaction_probability)
            if got.sum():
                sim.aggregates.add(INTERACTIONS, np.repeat(receivers, got))

    def _posts(
        self, rng: np.random.Generator, share: float, sim: Simulation, kind: str
    ) -> np.ndarray:
        """One entry per post of ``kind`` today (authors repeat)."""
        prop = propensity(sim, kind)
        big_m = 1.0 if prop is None else (float(prop.max()) if len(prop) else 0.0)
        sizes = np.diff(self._offsets)
        if share <= 0.0 or big_m <= 0.0 or not len(sizes):
            return np.empty(0, dtype=np.int64)
        totals = rng.poisson(sizes * self._class_max * share * big_m)
        cls = np.repeat(np.arange(len(sizes)), totals)
        pos = self._offsets[cls] + rng.integers(0, sizes[cls])
        keep = self._accept[pos]
        who = self._members[pos]
        if prop is not None:
            keep = keep * (prop[who].astype(np.float64) / big_m)
        return who[rng.random(len(who)) < keep].astype(np.int64)

    def finish(self, sim: Simulation) -> None:
        """Nothing to flush: posts are already in the aggregates or the act log."""
