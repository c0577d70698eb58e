"""Social media: posts by stance and the likes and shares they draw over online ties.

Every person and every post here is synthetic; no text is generated, only counts.

Core objects:
    :class:`SocialMediaParams`: activity distribution, stance shares, interaction chance.
    :class:`SocialMediaSource`: the registered source ``social_media``.
    :data:`STANCES`: the act kinds, one per stance.
    :func:`posts_per_user_day`: per-user daily posting rate of a stance since day 0,
        read back from the aggregates and act totals (for measuring chilling); it works
        at any point of a run (reading the aggregates draws what is pending).

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
    counts is Poisson with the summed rate: a day only adds to each stance's exposure
    (:class:`~sclab.world.sampling.LazyPoisson`), and the totals are drawn when the
    aggregates are read (at the end of the run, or when a component reads them earlier).
    Each stance is drawn on its own: a score that reads positive energy posts every month
    draws that stance alone, the others accrue until something reads them. The posts
    drawn note their interaction trials (posts × degree), and the interactions are handed
    out when they are read (which draws every stance first) or at the end, so a read of
    posts alone never splits them. Per author they are Binomial(Σ over posts of the
    active online degree when posted, interaction_probability), the sum of the per-post
    draws, drawn on common random numbers:

    * *Interaction ledger.* Posts are drawn per fixed period as candidates at multiplier 1
      (:class:`~sclab.world.sampling.LazyPoisson`). For each period, everyone's
      interactions at multiplier 1 are drawn once, Binomial(the period's candidates of
      every stance × online degree, p), from the stream keyed (``social_media``,
      ``online_interactions``, period), with inputs no policy or reader changes (the
      degree before any tie was switched off). A handout gives each person the part
      belonging to the candidates taken since the last one: Hypergeometric(interactions
      left; candidates left × degree slots; candidates taken × degree), so by the
      period's end the period's draw is handed out whole, however the reads cut it.
    * *Thinning.* A person whose multiplier fell keeps k' of the k candidates taken; the
      kept posts' interactions are a hypergeometric draw of k' × degree slots out of the
      k candidates' (the matching subset's, the same law). Posts above multiplier 1
      (drawn from a stream of their own) draw Binomial(posts × degree, p) afresh.
    * *Changed degrees.* An author whose degree has changed (tie pruning, a recount)
      leaves the ledger for the rest of the run: their interactions are
      Binomial(trials, p) on the trials noted by epoch (below), the same law.

    So an author whose multipliers stayed 1 and whose degree never changed has the same
    interactions at the end of any run of the same world, whoever read them and when.

    Degrees change only when ties are pruned (the ``tie_pruning`` behaviour component,
    weekly, in the behaviour stage, after that day's posts), so for each author the run
    splits into epochs of constant degree. Active online degrees are kept per person
    (:attr:`SocialMediaSource.active_degree`) and brought up to date at the start of the
    first day after a round, from the tie ends the round switched off
    (:class:`~sclab.engine.ties.TieReader`): each dropped online tie end takes one
    from its owner's degree. Before that, for each author whose degree changes, the
    exposure accrued so far and the old degree are noted. When the totals are drawn, the
    posts of those authors are split over their epochs: given a Poisson total, its split
    over periods is multinomial in proportion to each period's exposure (drawn as a chain
    of binomials); the interaction trials are then Σ over epochs of posts × that epoch's
    degree. Same law as drawing every post daily, for any number of pruning rounds.

    When the noted entries would exceed :attr:`SocialMediaSource.epoch_cap` (a quarter of
    the users by default), everything pending is drawn at that round instead (with the
    old degrees), which keeps the notes' memory bounded; a ``sim.ties_active`` that the
    pruning record does not know (assigned by a test or another component) is drawn
    the same way and then recounted in full once.

Cost model (U social-media users, P posts today, k tie ends dropped in a round):
    Setup is O(U log U) (activity classes) plus O(ties) once for the online degrees.
    Aggregated, a day costs O(1) per stance, or one float32 O(n) add for each stance
    whose multiplier a behaviour has created; finding that the ties did not change is
    O(1). A pruning round costs, on the next day, O(k log k) to find the owners of the
    dropped ends and note their exposure (about 40 bytes per author and round until the
    next draw), never O(ties) or O(U). Drawing the totals (when read, at the end, or
    when the notes reach ``epoch_cap``) costs O(U) per stance drawn (one Poisson draw per user,
    or O(posts) when they are fewer), plus O(noted entries) for the split. Handing out
    interactions costs one pass over the trials and, per author with posts since the last
    handout, a read and a write of one ledger word and a hypergeometric draw (by
    inversion, about twice a binomial's cost; none where the handout takes every slot
    left, as an end-of-run read does for people nobody read before), plus, for the
    people thinned or with acts above multiplier 1, a second hypergeometric or binomial
    draw; each period adds one O(n) sum of its candidates and one binomial draw per user
    (its ledger: 8 bytes per person while the period is open). People whose degree
    changed are marked in one byte per person. The one O(ties) recount is
    for a ``sim.ties_active`` set outside the pruning record. With ``record_every_event`` a
    day costs, per stance, O(classes + P_s) with about 4 classes per doubling of activity
    (a few dozen), thinning from each class's highest rate so that at least 84 % of
    candidates are kept; plus one O(n) maximum of each multiplier array; plus one
    binomial draw per candidate for interactions (each by inversion from its own uniform,
    so that a candidate's likes never depend on the others': exact whenever the posts
    are, i.e. when the multipliers' bound is the same); degrees are kept up to date in
    the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, field_validator

from sclab.arrays import union_sorted
from sclab.engine.catalogue import Kind
from sclab.engine.propensity import propensity, propensity_key
from sclab.engine.registry import register
from sclab.engine.ties import TieReader
from sclab.parallel import block_generators, map_blocks
from sclab.world.base import SourceParams
from sclab.world.sampling import (
    LazyPoisson,
    RateClasses,
    binomial,
    binomial_inverted,
    hypergeometric,
)

if TYPE_CHECKING:
    from sclab.engine.simulation import Simulation

__all__ = [
    "STANCES",
    "SocialMediaParams",
    "SocialMediaSource",
    "posts_per_user_day",
]

#: Stance -> act kind.
STANCES: dict[str, str] = {
    "positive_energy": "post_positive_energy",
    "neutral": "post_neutral",
    "critical": "post_critical",
}
INTERACTIONS = "online_interactions"
_STANCE_MEANING = {
    "positive_energy": "a post in the 'positive energy' register the authorities promote",
    "neutral": "a post taking no stance",
    "critical": "a post critical of officials or policy",
}
#: Interactions are only ever per-person totals (see SocialMediaSource.kinds for posts).
INTERACTION_KIND = Kind.act(
    INTERACTIONS, "speech", True, "a like or share drawn by one's post over an online tie",
    kept="totals",
)  # fmt: skip
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

    def kinds(self) -> list[Kind]:
        """Act kinds this source may write: posts per stance (kept as per-person totals
        unless ``record_every_event``) and interactions. Posting breaks no law, whatever
        the stance."""
        kept = "each" if self.params.record_every_event else "totals"
        posts = [
            Kind.act(kind, "speech", True, _STANCE_MEANING[stance], kept=kept)
            for stance, kind in STANCES.items()
        ]
        return [*posts, INTERACTION_KIND]

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

        #: Active online ties of every person (int32), valid for the posts accruing now:
        #: updated at the start of a day when ties were switched off since the last day.
        self.active_degree = self._recount(sim)
        # An upper bound of every active degree (they only fall, but for a recount).
        self._max_degree = int(self.active_degree.max(initial=0))
        # Per person, the interaction trials (posts × degree) of the posts drawn so far
        # whose interactions are not: drawn when the interactions are read, or at the end,
        # so that a read of posts alone never splits the interactions' draw.
        self._trials: np.ndarray | None = None
        self._trials_bound = 0
        self._ties = TieReader()
        self._ties.changes(sim)  # the degrees above are those of the ties as they are now
        # Pending epochs: per pruning round, its sequence number, the authors whose degree
        # changed, their exposure so far per stance and their degree before the round. A
        # round is pending for a stance if noted after that stance's last draw (stances are
        # drawn separately: a reader of one stance need not draw the others).
        self._epochs: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._epoch_entries = 0
        self._next_epoch = 0
        self._first_epoch: dict[str, int] = {}  # per stance, its first pending round
        # With a focus group (a reader's, drawn alone: see Aggregates.focus), rounds are
        # pending per stance for the group and for the others separately; the first of
        # these pointers is then the group's (without one, the two stay equal).
        self._first_focus_epoch: dict[str, int] = {}
        #: Recorded (author, round) entries above which a round draws everything pending
        #: instead (bounds the record's memory at about the size of the user arrays).
        self.epoch_cap = max(1024, len(users) // 4)

        # Interactions on common random numbers (see _hand_out): per period, everyone's
        # candidates summed over the stances until the period's interactions are drawn;
        # then its ledger (see _open_ledger); the people whose degree has changed (their
        # interactions come from their trials instead); the candidates thinned away and
        # the acts above multiplier 1 drawn since the last handout.
        self._period_candidates: dict[int, np.ndarray] = {}
        self._ledger: dict[int, np.ndarray] = {}
        self._direct = np.zeros(0 if p.record_every_event else len(c), bool)
        self._extra: list[tuple[np.ndarray, np.ndarray]] = []
        self._dropped: list[tuple[np.ndarray, np.ndarray]] = []
        self._interactions_key = sim.stream_key(self.name, INTERACTIONS)
        self._handouts = (-1, 0)  # (day, handouts made that day): keys each handout

        # Aggregated posts are only ever per-person totals: accrue, draw when read.
        self._lazy: dict[str, LazyPoisson] = {}
        if not p.record_every_event:
            for stance, kind in STANCES.items():
                self._lazy[kind] = LazyPoisson(
                    self._classes, self._stance_rate(stance), sim.stream_key(self.name, kind)
                )
                self._lazy[kind].follow(sim.state, propensity_key(kind))
                self._lazy[kind].on_candidates = self._note_candidates
                self._first_epoch[kind] = self._first_focus_epoch[kind] = 0
                # Reading one stance draws that stance only (a score reading positive
                # energy monthly leaves the other stances to accrue until the end).
                sim.aggregates.defer(
                    [kind],
                    lambda focus_only=False, k=kind: self._settle(sim, (k,), focus_only),
                    on_focus=self._set_focus,
                )
            sim.aggregates.defer(
                [INTERACTIONS],
                lambda focus_only=False: self._settle(sim, None, focus_only, interactions=True),
                on_focus=self._set_focus,
            )

    def _set_focus(self, focus: np.ndarray) -> None:
        """Give every stance the reader's focus group (nothing is pending: see
        ``Aggregates.focus``)."""
        for kind, lazy in self._lazy.items():
            lazy.set_focus(focus)
            self._first_focus_epoch[kind] = self._first_epoch[kind]

    def _stance_rate(self, stance: str) -> np.ndarray:
        """Per activity class, the daily rate of posts of ``stance`` at the class maximum."""
        p = self.params
        return self._class_max * (p.stance_shares[stance] * p.rate_multiplier)

    @staticmethod
    def _recount(sim: Simulation) -> np.ndarray:
        """Everyone's active online degree, counted from the tie lists (O(ties))."""
        g = sim.population.graph
        active = sim.ties_active
        if active is None:
            return _row_counts(g.indptr, lambda a, b: g.online[a:b])
        return _row_counts(g.indptr, lambda a, b: g.online[a:b] & active[a:b])

    def _follow_ties(self, sim: Simulation) -> None:
        """Bring :attr:`active_degree` up to date with ``sim.ties_active``.

        Posts still pending accrued with the degrees before the change. For the authors
        whose degree changes, their exposure so far and their old degree are noted (a new
        epoch starts for them; :meth:`_settle` splits their posts by epoch); then each
        dropped online tie end takes one from its owner's degree. O(k log k) for k dropped
        ends, O(1) when nothing changed. A change the pruning record does not know, or a
        record grown past :attr:`epoch_cap`, draws everything pending first instead.
        """
        dropped = self._ties.changes(sim)
        if dropped is not None and not len(dropped):
            return
        if dropped is None:  # an array the pruning record does not know: count it
            if self._lazy:
                self._settle(sim)
            old, self.active_degree = self.active_degree, self._recount(sim)
            self._max_degree = int(self.active_degree.max(initial=0))
            if self._lazy:
                self._leave_ledger(np.flatnonzero(old != self.active_degree))
            return
        g = sim.population.graph
        dropped = dropped[g.online[dropped]]
        # Each end's owner is the CSR row holding it: a binary search in the row offsets.
        # (Positions in indptr's type: NumPy would otherwise search a widened copy.)
        owners = np.searchsorted(g.indptr, dropped.astype(g.indptr.dtype), side="right") - 1
        rows, lost = np.unique(owners, return_counts=True)
        if self._lazy and len(rows):
            if self._epoch_entries + len(rows) > self.epoch_cap:
                self._settle(sim)
            if any(lazy.pending for lazy in self._lazy.values()):
                exposure = self._exposure(rows)
                self._epochs.append((self._next_epoch, rows, exposure, self.active_degree[rows]))
                self._next_epoch += 1
                self._epoch_entries += len(rows)
        self.active_degree[rows] -= lost.astype(np.int32)
        if self._lazy:
            self._leave_ledger(rows)

    def _exposure(self, people: np.ndarray) -> np.ndarray:
        """Per stance (rows) and person, the exposure accrued since the last draw.

        In days at multiplier 1, as :class:`~sclab.world.sampling.LazyPoisson` accrues it
        (its ``exposure``): a person's pending posts of a stance are Poisson with mean
        proportional to it, the same factor on every day.
        """
        return np.stack([lazy.exposure(people) for lazy in self._lazy.values()])

    def _epoch_trials(
        self,
        rng: np.random.Generator,
        epochs: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
        authors: np.ndarray,
        posts: np.ndarray,
        total: np.ndarray,
    ) -> np.ndarray:
        """Per author whose degree changed, the sum over epochs of posts × degree (one stance).

        ``epochs`` are the rounds pending for the stance, in order, as (authors, their
        exposure of this stance when noted, their degree before the round); ``authors``
        every author they name (sorted); ``posts`` and ``total`` hold, per author, the
        posts just drawn and the exposure they were drawn at. Given its total, a Poisson
        count's split over epochs is multinomial in proportion to each epoch's exposure,
        drawn as a chain of binomials round by round; what remains after an author's last
        round had the current degree. Cost O(entries noted).
        """
        remaining = posts.copy()
        before = np.zeros_like(total)
        trials = np.zeros(len(authors), dtype=np.int64)
        for rows, exposure, degree in epochs:
            at = np.searchsorted(authors, rows)
            span = total[at] - before[at]
            share = np.zeros_like(span)
            np.divide(exposure - before[at], span, out=share, where=span > 0)
            in_epoch = rng.binomial(remaining[at], np.clip(share, 0.0, 1.0))
            trials[at] += in_epoch * degree.astype(np.int64)
            remaining[at] -= in_epoch
            before[at] = exposure
        return trials + remaining * self.active_degree[authors]

    def step(self, sim: Simulation, day: int) -> None:
        p = self.params
        record = p.record_every_event
        self._follow_ties(sim)
        if not record:
            # Degrees are constant within the epoch: today only adds to each exposure.
            for kind, lazy in self._lazy.items():
                lazy.accrue(propensity(sim, kind))
            return
        # One act per post: draw today's posts.
        for stance, kind in STANCES.items():
            # A stream per stance: chilling one stance never shifts another's draws.
            rng = sim.rng(f"{self.name}/{kind}", day)
            rate, mult = self._stance_rate(stance), propensity(sim, kind)
            who, _, keep = self._classes.candidates(rng, rate, mult)
            if not len(who):
                continue
            # Every candidate's likes, each from its own uniform of a stream of their own,
            # before thinning: a post someone else did not write moves nobody's likes.
            likes = sim.rng(f"{self.name}/{INTERACTIONS}/{kind}", day)
            got = binomial_inverted(likes, self.active_degree[who], p.interaction_probability)
            if keep is not None:
                mask = rng.random(len(who)) < keep
                who, got = who[mask], got[mask]
            if not len(who):
                continue
            got = got.astype(np.int32)
            sim.acts.add(day, self.name, kind, who, interactions=got)
            if got.sum():
                sim.aggregates.add(INTERACTIONS, np.repeat(who, got))

    def _settle(
        self,
        sim: Simulation,
        kinds: tuple[str, ...] | None = None,
        focus_only: bool = False,
        interactions: bool = False,
    ) -> None:
        """Draw the posts of ``kinds`` (default: every stance) accrued since their last
        draw, and note the interaction trials those posts hold; with ``interactions``,
        draw the interactions of every post drawn so far. With ``focus_only``, the posts
        of the focus group alone (the others' accrue on).

        A person's interactions on posts are Binomial(Σ over posts of the active online
        degree when posted, interaction_probability): Σ over epochs of posts × degree,
        one epoch at :attr:`active_degree` for most, several for the authors whose degree
        changed in a pruning round pending for the stance (their posts split by epoch, see
        :meth:`_epoch_trials`). The stances drawn together draw their interactions
        together, one binomial per author on the summed trials: the same law as one draw
        per stance or per post. Never follows a change of ties itself: posts read after a
        pruning round but before the next day were made before that round.
        """
        trials = self._trials  # per person, summed over the stances drawn
        bound = 0 if trials is None else self._trials_bound  # the largest count trials may hold
        for kind in self._lazy if kinds is None else kinds:
            counts, changed, by_epoch = self._settle_stance(sim, kind, focus_only)
            if counts is None:
                continue
            if trials is None:
                trials = np.zeros(len(counts), np.int32)
            # int32 halves the bytes; widened before any count could pass it.
            bound += int(counts.max(initial=0)) * self._max_degree
            if bound > np.iinfo(np.int32).max and trials.dtype == np.int32:
                trials = trials.astype(np.int64)
            _add_trials(trials, counts, self.active_degree)
            if len(changed):
                # Authors whose degree changed: their posts' trials by epoch instead.
                was = counts[changed].astype(np.int64) * self.active_degree[changed]
                trials[changed] += (by_epoch - was).astype(trials.dtype)
        self._trials, self._trials_bound = trials, bound
        if trials is not None and interactions:
            self._hand_out(sim, trials)
            self._trials, self._trials_bound = None, 0
        # Rounds no stance (of either group) still needs are forgotten.
        pointers = [*self._first_epoch.values(), *self._first_focus_epoch.values()]
        first = min(pointers, default=self._next_epoch)
        self._epochs = [e for e in self._epochs if e[0] >= first]
        self._epoch_entries = sum(len(rows) for _, rows, _, _ in self._epochs)

    def _settle_stance(
        self, sim: Simulation, kind: str, focus_only: bool = False
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """Draw one stance's pending posts (the focus group's alone with ``focus_only``)
        and count them; returns the counts (None if nothing was pending), the authors
        whose degree changed since their last draw (sorted) and, for them, Σ over epochs
        of posts × degree."""
        lazy = self._lazy[kind]
        focus_only = focus_only and lazy.focus_alone
        epochs = self._pending_epochs(kind, focus_only)
        if focus_only:
            self._first_focus_epoch[kind] = self._next_epoch
        else:
            self._first_epoch[kind] = self._first_focus_epoch[kind] = self._next_epoch
        none = np.empty(0, np.int64)
        if not (lazy.focus_days if focus_only else lazy.pending):
            return None, none, none
        changed = union_sorted(*(rows for rows, _, _ in epochs))
        total = lazy.exposure(changed)  # read before the draw resets it
        day = lazy.day  # keys the epochs' split: a stance's streams never shift another's
        counts = lazy.draw_focus() if focus_only else lazy.draw()
        if lazy.last_extra is not None:
            self._extra.append(lazy.last_extra)
        if lazy.last_dropped is not None:
            self._dropped.append(lazy.last_dropped)
        sim.aggregates.add_counts(kind, counts)
        if not len(changed):
            return counts, none, none
        split = sim.rng(f"{self.name}/epochs/{kind}/{'focus' if focus_only else 'all'}", day)
        by_epoch = self._epoch_trials(split, epochs, changed, counts[changed], total)
        return counts, changed, by_epoch

    def _pending_epochs(
        self, kind: str, focus_only: bool
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The pruning rounds pending for one stance, as (authors, their exposure of the
        stance when noted, their degree before the round): for the focus group alone with
        ``focus_only``, else for everyone (each group's rounds since its own last draw)."""
        j = list(self._lazy).index(kind)
        focus = self._lazy[kind].focus
        first, first_focus = self._first_epoch[kind], self._first_focus_epoch[kind]
        out = []
        for seq, rows, exposure, degree in self._epochs:
            if focus is None:
                if seq >= first:
                    out.append((rows, exposure[j], degree))
                continue
            inside = focus[rows]
            keep = inside if seq >= first_focus else np.zeros(len(rows), bool)
            if not focus_only and seq >= first:
                keep = keep | ~inside
            if keep.any():
                out.append((rows[keep], exposure[j][keep], degree[keep]))
        return out

    def _note_candidates(self, period: int, candidates: np.ndarray) -> None:
        """Add one stance's candidates of ``period`` to the period's sum (until the
        period's interactions are drawn, every stance's are in by then)."""
        total = self._period_candidates.get(period)
        if total is None:
            self._period_candidates[period] = candidates.astype(np.int32)
            return

        def add(_: int, lo: int, hi: int) -> None:
            total[lo:hi] += candidates[lo:hi]

        map_blocks(add, len(total))

    def _leave_ledger(self, people: np.ndarray) -> None:
        """``people``'s degree has just changed: from now on their interactions come from
        their trials (marked, and their entries in every open ledger void)."""
        self._direct[people] = True
        for ledger in self._ledger.values():
            ledger[people] = _VOID

    def _open_ledger(self, sim: Simulation, period: int) -> None:
        """Draw ``period``'s interactions at multiplier 1: per person, Binomial(slots, p)
        with slots = candidates × online degree, the candidates summed over the stances,
        the degree the one before any tie was switched off.

        Keyed by (component, ``online_interactions``, period) and drawn for everyone from
        inputs no policy or reader changes (the candidates; the degree as the population
        made it), so everyone's draw is the same in any run of the same world. The ledger
        keeps, per person, the slots not yet handed out and their interactions, packed in
        one 64-bit word (slots above, interactions below): one read and one write a
        person a handout. People whose degree changed hold :data:`_VOID` instead."""
        for lazy in self._lazy.values():
            lazy.candidates_left(period)  # every stance's candidates of the period, drawn
        candidates = self._period_candidates.pop(period)
        changed = np.flatnonzero(self._direct)
        first_degree = self._first_degree(sim, changed)
        n = len(candidates)
        gens = block_generators(self._interactions_key.rng("period", period=period), n)
        q = self.params.interaction_probability
        ledger = np.zeros(n, np.uint64)

        def draw(i: int, lo: int, hi: int) -> None:
            degree = self.active_degree[lo:hi].astype(np.int64)
            a, b = np.searchsorted(changed, (lo, hi))
            degree[changed[a:b] - lo] = first_degree[a:b]
            slots = candidates[lo:hi] * degree
            at = np.flatnonzero(slots)
            got = binomial(gens[i], slots[at], q)
            ledger[lo:hi][at] = _pack(slots[at], got)
            ledger[lo:hi][changed[a:b] - lo] = _VOID

        map_blocks(draw, n)
        self._ledger[period] = ledger

    @staticmethod
    def _first_degree(sim: Simulation, people: np.ndarray) -> np.ndarray:
        """Online ties of ``people`` (sorted) in the graph, before any was switched off
        (O(their ties))."""
        g = sim.population.graph
        starts = g.indptr[people].astype(np.int64)
        lengths = g.indptr[people + 1].astype(np.int64) - starts
        if not len(people) or not int(lengths.sum()):
            return np.zeros(len(people), np.int64)
        before = np.repeat(np.cumsum(lengths) - lengths, lengths)
        where = np.arange(int(lengths.sum()), dtype=np.int64) - before + np.repeat(starts, lengths)
        owner = np.repeat(np.arange(len(people)), lengths)
        online = np.asarray(g.online[where], dtype=np.float64)
        return np.bincount(owner, weights=online, minlength=len(people)).astype(np.int64)

    def _hand_out(self, sim: Simulation, trials: np.ndarray) -> None:
        """Add the interactions of every post drawn since the last handout.

        *Common random numbers.* For a person whose degree never changed, each period's
        interactions at multiplier 1 are drawn once (:meth:`_open_ledger`); a handout
        gives the part belonging to the candidates taken since the last one,
        Hypergeometric(interactions left; slots left; candidates taken × degree), which
        leaves the period's draw whole once every candidate is taken, however the reads
        cut it. Where thinning kept k' of the k candidates taken (a multiplier below 1),
        the kept posts' interactions are a hypergeometric draw of k' × degree slots out
        of those of the k; posts above multiplier 1 draw Binomial(posts × degree, p)
        afresh. Each is the per-post binomial law: a post's likes are independent of
        which posts were read when, or which were kept. For the people whose degree
        changed, Binomial(trials, p) on the trials noted by epoch.

        The candidates a person took since the last handout are their trials over their
        (constant) degree, plus those thinned away, less the acts above multiplier 1;
        when two periods are open (a read across a period's end) they are counted per
        period from the candidates the stances still hold instead. One pass over the
        trials in fixed blocks on the cores, each block from its own generator (keyed by
        the day and the handouts made that day), plus the sparse thinned and extras."""
        day, made = self._handouts
        made = made + 1 if day == sim.day else 0
        self._handouts = (sim.day, made)
        for period in sorted(self._period_candidates):
            self._open_ledger(sim, period)
        periods = sorted(self._ledger)
        held = {
            period: [
                left
                for left in (lazy.candidates_left(period) for lazy in self._lazy.values())
                if left is not None
            ]
            for period in periods
        }
        extra_who, extra = _summed(self._extra)
        dropped_who, dropped = _summed(self._dropped)
        self._extra, self._dropped = [], []
        degree, q = self.active_degree, self.params.interaction_probability
        gens = block_generators(
            self._interactions_key.rng(f"handout/{made}", period=sim.day), len(degree)
        )
        one = self._ledger[periods[0]] if len(periods) == 1 else None

        def block(i: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
            gen = gens[i]
            # The few people thinned or with acts above multiplier 1 in this block, marked.
            a, b = np.searchsorted(extra_who, (lo, hi))
            c, e = np.searchsorted(dropped_who, (lo, hi))
            ew, dw = extra_who[a:b] - lo, dropped_who[c:e] - lo
            plain = trials[lo:hi] != 0
            special = np.zeros(hi - lo, bool)
            special[ew] = special[dw] = True
            plain &= ~special
            who = np.flatnonzero(plain) + lo  # everyone else with posts
            if one is not None:
                got = _hand_out_plain(gen, one, who, trials[who], q)
            else:
                got = self._hand_out_periods(gen, periods, held, who, trials[who], 0, 0)
            if b > a or e > c:
                few = np.flatnonzero(special)
                x = np.zeros(len(few), np.int64)
                x[np.searchsorted(few, ew)] = extra[a:b]
                thinned = np.zeros(len(few), np.int64)
                thinned[np.searchsorted(few, dw)] = dropped[c:e]
                few += lo
                if one is not None:
                    got_few = _hand_out_few(gen, one, few, trials[few], degree[few], x, thinned, q)
                else:
                    got_few = self._hand_out_periods(
                        gen, periods, held, few, trials[few], x, thinned
                    )
                who, got = np.concatenate([who, few]), np.concatenate([got, got_few])
            return who, got  # (some 0: adding them costs less than leaving them out)

        parts = map_blocks(block, len(degree))
        if parts:
            authors = np.concatenate([who for who, _ in parts])
            sim.aggregates.add_counts(
                INTERACTIONS, np.concatenate([g for _, g in parts]), people=authors
            )
        for period in periods:
            if not held[period]:  # every candidate of the period handed out
                del self._ledger[period]

    def _hand_out_periods(
        self,
        gen: np.random.Generator,
        periods: list[int],
        held: dict[int, list[np.ndarray]],
        who: np.ndarray,
        trials: np.ndarray,
        extra: np.ndarray | int,
        dropped: np.ndarray | int,
    ) -> np.ndarray:
        """Interactions of ``who`` (sorted) since the last handout when several periods
        are open (a read across a period's end): candidates taken per period from the
        candidates the stances still hold, then thinning (``dropped``: candidates thinned
        away), acts above multiplier 1 (``extra``), and people whose degree changed."""
        t = trials.astype(np.int64)
        deg = self.active_degree[who].astype(np.int64)
        got = np.zeros(len(who), np.int64)
        taken = np.zeros(len(who), np.int64)  # candidates handed out, over the periods
        direct = self._direct[who]
        live = np.flatnonzero(~direct & (deg > 0))
        d = deg[live]
        x = np.broadcast_to(extra, len(who))[live]
        for period in periods:
            ledger = self._ledger[period]
            slots, left = _unpack(ledger[who[live]])
            k = slots // d
            for still in held[period]:
                k -= still[who[live]]
            j = np.flatnonzero(k > 0)
            if not len(j):
                continue
            h = hypergeometric(gen, left[j], slots[j] - left[j], k[j] * d[j])
            ledger[who[live[j]]] = _pack(slots[j] - k[j] * d[j], left[j] - h)
            got[live[j]] += h
            taken[live[j]] += k[j]
        kept = t[live] // d - x  # posts drawn at a constant degree, less extras
        if (kept < 0).any() or (kept > taken[live]).any() or (t[live] % d).any():
            raise RuntimeError("posts drawn and candidates taken disagree")
        thin = np.flatnonzero(kept < taken[live])
        if len(thin):
            j, dj = live[thin], d[thin]
            h = got[j]
            got[j] = hypergeometric(gen, h, taken[j] * dj - h, kept[thin] * dj)
        more = np.flatnonzero(x)
        if len(more):
            got[live[more]] += binomial(gen, x[more] * d[more], self.params.interaction_probability)
        j = np.flatnonzero(direct & (t > 0))
        if len(j):
            got[j] = binomial(gen, t[j], self.params.interaction_probability)
        return got

    def finish(self, sim: Simulation) -> None:
        """Draw the aggregated posts still pending, and their interactions (reading them
        would do it too)."""
        if self._lazy:
            self._settle(sim, interactions=True)


#: A ledger entry of a person whose degree changed: their interactions come from trials.
_VOID = np.uint64(2**64 - 1)
_LOW = np.uint64(2**32 - 1)


def _pack(slots: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Ledger words: slots not yet handed out (high 32 bits), their interactions (low)."""
    return (slots.astype(np.uint64) << np.uint64(32)) | left.astype(np.uint64)


def _unpack(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slots, interactions) of ledger words, as int64."""
    return (words >> np.uint64(32)).astype(np.int64), (words & _LOW).astype(np.int64)


def _hand_out_plain(
    gen: np.random.Generator, ledger: np.ndarray, who: np.ndarray, trials: np.ndarray, p: float
) -> np.ndarray:
    """Interactions of ``who`` (sorted), none thinned or above multiplier 1, one period
    open: the slots they took are their trials (candidates × a constant degree), so a
    read and a write of their ledger word each, and a hypergeometric draw where some
    interactions are left and some slots stay; Binomial(trials, p) for the people whose
    degree changed."""
    words = ledger[who]
    t = trials.astype(np.uint64)
    void = np.flatnonzero(words == _VOID)
    words[void] = t[void] << np.uint64(32)  # (as taking every slot, with none left)
    slots = words >> np.uint64(32)
    if (t > slots).any():
        raise RuntimeError("posts drawn and candidates taken disagree")
    got = (words & _LOW).astype(np.int64)  # taking every slot left: every interaction left
    split = np.flatnonzero((t < slots) & (got > 0))
    if len(split):
        s = got[split]
        got[split] = hypergeometric(gen, s, slots[split].astype(np.int64) - s, t[split])
    # Slots and interactions left: (slots - t) above, (left - got) below.
    words -= (t << np.uint64(32)) + got.astype(np.uint64)
    words[void] = _VOID
    ledger[who] = words
    if len(void):
        got[void] = binomial(gen, trials[void], p)
    return got


def _hand_out_few(
    gen: np.random.Generator,
    ledger: np.ndarray,
    who: np.ndarray,
    trials: np.ndarray,
    degree: np.ndarray,
    extra: np.ndarray,
    dropped: np.ndarray,
    p: float,
) -> np.ndarray:
    """Interactions of ``who`` (sorted), each thinned or with acts above multiplier 1,
    one period open: the slots they took are (trials + (dropped - extra) × degree), those
    of the posts kept (trials - extra × degree); the taken slots' interactions are drawn
    from the ledger, the kept ones' from those (hypergeometric), and the extras' afresh
    (Binomial(extra × degree, p)). People whose degree changed: Binomial(trials, p)."""
    words = ledger[who]
    t, d = trials.astype(np.int64), degree.astype(np.int64)
    void = np.flatnonzero(words == _VOID)
    live = np.flatnonzero(words != _VOID)
    slots, left = _unpack(words[live])
    t_l, d_l, x_l = t[live], d[live], extra[live]
    kept = t_l - x_l * d_l  # slots of the candidates kept
    taken = kept + dropped[live] * d_l
    if (kept < 0).any() or (taken > slots).any():
        raise RuntimeError("posts drawn and candidates taken disagree")
    got = left.copy()
    split = np.flatnonzero((taken < slots) & (left > 0))
    if len(split):
        s = left[split]
        got[split] = hypergeometric(gen, s, slots[split] - s, taken[split])
    ledger[who[live]] = _pack(slots - taken, left - got)
    thin = np.flatnonzero((kept < taken) & (got > 0))
    if len(thin):
        h = got[thin]
        got[thin] = hypergeometric(gen, h, taken[thin] - h, kept[thin])
    more = np.flatnonzero(x_l)
    if len(more):
        got[more] += binomial(gen, x_l[more] * d_l[more], p)
    out = np.zeros(len(who), np.int64)
    out[live] = got
    if len(void):
        out[void] = binomial(gen, t[void], p)
    return out


def _summed(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """(people, counts) of several (people, counts) lists, summed per person (people sorted)."""
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    who = np.concatenate([w for w, _ in parts])
    counts = np.concatenate([c for _, c in parts]).astype(np.int64)
    order = np.argsort(who, kind="stable")
    who, counts = who[order], counts[order]
    firsts = np.flatnonzero(np.r_[True, who[1:] != who[:-1]]) if len(who) else np.empty(0, int)
    return who[firsts], np.add.reduceat(counts, firsts) if len(firsts) else counts


def _add_trials(trials: np.ndarray, counts: np.ndarray, degree: np.ndarray) -> None:
    """``trials += counts × degree``, per person, in blocks on the cores."""

    def add(_: int, lo: int, hi: int) -> None:
        t = counts[lo:hi].astype(trials.dtype)
        t *= degree[lo:hi]
        trials[lo:hi] += t

    map_blocks(add, len(trials))
