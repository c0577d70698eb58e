"""Social media: posts by stance and the likes and shares they draw over online ties.

Every person and every post here is synthetic; no text is generated, only counts.

Core objects:
    :class:`SocialMediaParams`: activity distribution, stance shares, interaction chance.
    :class:`SocialMediaSource`: the registered source ``social_media``.
    :data:`STANCES`: the act kinds, one per stance.
    :func:`posts_per_user_day`, :func:`critical_post_rate`: per-user daily posting rates
        since day 0, read back from the aggregates and act totals (for measuring chilling);
        they work at any point of a run (reading the aggregates draws what is pending).

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

    Aggregated posts are only ever per-person totals, and a sum of independent Poisson
    counts is Poisson with the summed rate: while every online tie is active, a day only
    adds to each stance's exposure (:class:`~sclab.world.sampling.LazyPoisson`), and the
    totals are drawn when the aggregates are read (at the end of the run, or when a
    component reads them earlier); interactions are then Binomial(posts × online degree,
    interaction_probability) per author, the sum of the per-post draws. Days on which some
    ties are switched off (``sim.ties_active``) are drawn daily, post by post. Same law
    either way.

Cost model (U social-media users, P posts today, D_on the mean online degree of posters):
    Setup is O(U log U) (activity classes) plus O(ties) once for the online degrees.
    Aggregated, with every tie active, a day costs O(1) per stance, or one float32 O(n)
    add for each stance whose multiplier a behaviour has created; reading the totals
    costs O(U) per stance (one Poisson draw per user, or O(posts) when they are fewer)
    plus O(U) binomial draws for interactions. Otherwise (``record_every_event``, or ties
    switched off) a day costs, per stance, O(classes + P_s) with about 4 classes per
    doubling of activity (a few dozen), thinning from each class's highest rate so that
    at least 84 % of candidates are kept; plus one O(n) maximum of each multiplier array;
    plus O(P) binomial draws for interactions. When some ties are switched off, a day
    adds one count of the active tie ends (a byte per stored tie, fast) and, on days
    when that count changed, an O(ties) recount of everyone's active online degree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, field_validator

from sclab.engine.registry import register
from sclab.world.base import SourceParams, propensity
from sclab.world.sampling import LazyPoisson, RateClasses

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
    records every event; reading the aggregates draws the posts still pending, so the
    value is realised posts, not an expectation, at any point of the run. NaN before the
    first day or without social-media users.
    """
    users = int(sim.population.citizens.social_media.sum())
    days = sim.day + 1
    if users == 0 or days <= 0:
        return float("nan")
    return _total(sim, kind) / (users * days)


def critical_post_rate(sim: Simulation) -> float:
    """Critical posts per social-media user per day so far (chilling shows as a fall)."""
    return posts_per_user_day(sim, STANCES["critical"])


def _row_counts(indptr: np.ndarray, flags: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """Per CSR row, how many of its entries are flagged (int32).

    ``flags(a, b)`` returns the bool flags of stored entries ``a:b``. Rows are taken in
    blocks so that temporaries stay bounded (a reduceat over each block's non-empty rows).
    """
    n = len(indptr) - 1
    out = np.zeros(n, np.int32)
    block = 1 << 20
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        a, b = int(indptr[lo]), int(indptr[hi])
        if b == a:
            continue
        rows = lo + np.flatnonzero(indptr[lo + 1 : hi + 1] > indptr[lo:hi])
        out[rows] = np.add.reduceat(flags(a, b), indptr[rows] - a, dtype=np.int32)
    return out


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
        classes = RateClasses.group(users, cls, len(c))
        member_rate = self.activity[classes.members]
        class_max = np.maximum.reduceat(member_rate, classes.start) if len(users) else np.empty(0)
        # Per user: the chance a candidate drawn at the class maximum is kept.
        accept = np.zeros(len(c), dtype=np.float32)
        accept[classes.members] = member_rate / np.repeat(class_max, classes.size)
        self._classes = RateClasses(classes.members, classes.offsets, len(c), accept)
        self._class_max = class_max.astype(np.float64)

        g = sim.population.graph
        self._online_degree = _row_counts(g.indptr, lambda a, b: g.online[a:b])
        # Active online degrees, recomputed only when ``sim.ties_active`` changes (ties
        # are switched off a few times a month, posts are drawn daily).
        self._active_degree: np.ndarray | None = None
        self._active_key: tuple[int, int] | None = None

        # Aggregated posts are only ever per-person totals: accrue, draw when read.
        self._lazy: dict[str, LazyPoisson] = {}
        if not p.record_every_event:
            for stance, kind in STANCES.items():
                self._lazy[kind] = LazyPoisson(self._classes, self._stance_rate(stance))
            kinds = [*STANCES.values(), INTERACTIONS]
            sim.aggregates.defer(kinds, lambda: self._settle(sim))

    def _stance_rate(self, stance: str) -> np.ndarray:
        """Per activity class, the daily rate of posts of ``stance`` at the class maximum."""
        p = self.params
        return self._class_max * (p.stance_shares[stance] * p.rate_multiplier)

    def _online_degree_of(self, sim: Simulation, people: np.ndarray) -> np.ndarray:
        """Active online ties of each person.

        With ties switched off, everyone's active online degree is recounted (O(ties))
        whenever ``sim.ties_active`` changed since the last call, and kept (4 bytes per
        person) until it changes again.
        """
        if sim.ties_active is None:
            return self._online_degree[people]
        active = sim.ties_active
        # Ties are only ever switched off, so the number still on identifies the state;
        # counting them is one fast pass over a byte per tie, against reading the tie
        # lists of every poster each day.
        key = (id(active), int(np.count_nonzero(active)))
        if self._active_degree is None or key != self._active_key:
            g = sim.population.graph
            self._active_degree = _row_counts(g.indptr, lambda a, b: g.online[a:b] & active[a:b])
            self._active_key = key
        return self._active_degree[people].astype(np.int64)

    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        record = p.record_every_event
        if not record and sim.ties_active is None:
            # Online degrees are those of setup: today only adds to each stance's exposure.
            for kind, lazy in self._lazy.items():
                lazy.accrue(propensity(sim, kind))
            return
        # One act per post, or ties switched off (degrees change): draw today's posts.
        for stance, kind in STANCES.items():
            # A stream per stance: chilling one stance never shifts another's draws.
            rng = sim.rng(f"{self.name}/{kind}", day)
            who, _ = self._classes.events(rng, self._stance_rate(stance), propensity(sim, kind))
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

    def _settle(self, sim: Simulation) -> None:
        """Draw the posts accrued since the last settle, then the interactions they drew.

        Over the accrued days every online tie was active, so a person's interactions
        are Binomial(posts × online degree, interaction_probability) in total.
        """
        if not any(lazy.pending for lazy in self._lazy.values()):
            return
        settle = self._lazy[STANCES["critical"]].draws  # the same for every stance
        posts = np.zeros(len(sim.population.citizens), dtype=np.int64)
        for kind, lazy in self._lazy.items():
            # A stream per stance, as for daily draws.
            counts = lazy.draw(sim.rng(f"{self.name}/{kind}/totals", partition=settle))
            sim.aggregates.add_counts(kind, counts)
            posts += counts
        rng = sim.rng(f"{self.name}/{INTERACTIONS}/totals", partition=settle)
        authors = np.flatnonzero(posts)
        trials = posts[authors] * self._online_degree[authors]
        got = rng.binomial(trials, self.params.interaction_probability)
        sim.aggregates.add_counts(INTERACTIONS, got, people=authors)

    def finish(self, sim: Simulation) -> None:
        """Draw the aggregated posts still pending (reading them would do it too)."""
        if self._lazy:
            self._settle(sim)
