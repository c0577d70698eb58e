"""Sampling events sparsely, and high-volume totals lazily: one implementation per law.

Every source draws through these helpers, so each sampling law is written (and tested, in
``tests/test_sampling.py``) once.

Core objects:
    :func:`bernoulli_sparse`: who, among n people, has an event at a common probability.
    :func:`thinned`: the same with per-person probabilities, by thinning from a bound.
    :func:`draw_with_multiplier`: who, in a pool, has an event at a common probability
        times a per-entity behaviour multiplier.
    :func:`poisson`, :func:`binomial`, :func:`binomial_each`: draws with a mean (trials,
        probabilities) per entry, by inversion for small means.
    :func:`binomial_inverted`: a binomial per entry, each from its own uniform alone (an
        entry's draw never moves with the others').
    :func:`hypergeometric`: successes in a sample drawn without replacement, per entry
        (splitting a drawn total between the items read and the rest).
    :func:`multinomial_split`: a total split over people in proportion to weights.
    :func:`thin`, :func:`bound_of`: keep candidates with given probabilities; the thinning
        bound of a multiplier array.
    :class:`RateClasses`: people grouped by rate class (optionally with a per-person
        acceptance, a rate below the class's): today's Poisson events (or their
        candidates before thinning), today's Bernoulli events, and Poisson totals over
        many days.
    :class:`LazyPoisson`: the exposure of an aggregated Poisson stream, accrued daily and
        drawn as per-person totals only when someone reads them (a source registers the
        draw with :meth:`sclab.engine.acts.Aggregates.defer`; reading the aggregates, or
        the source's ``finish``, runs it).
    :func:`lognormal_amounts`, :func:`lognormal_sums`: rounded log-normal amounts, and
        per-person sums of many of them.
    :class:`IdSorter`: person ids in increasing order (by marking when they are dense).
    :class:`BucketedSearch`: a sorted search of many keys over few edges, by table.
    :func:`gamma_levels`: a mean-1 gamma law as equally likely levels (a per-person
        multiplier kept in one byte).

Laws used, each exact (not an approximation):
    * Independent Bernoulli(p) trials over n people: the gaps between successive
      successes are independent Geometric(p) (trials up to and including the next one);
      equally, the number of successes is Binomial(n, p) and, given it, the successful set
      is uniform among sets of that size.
    * Thinning: candidates drawn at a bound B >= p_i and kept with probability p_i / B are
      Bernoulli(p_i); a Poisson stream at rate B thinned so is Poisson at rate p_i.
    * Poisson splitting and merging: the events of a class of m people at a common rate r
      number Poisson(m r), each on a uniform member; a sum of independent Poisson counts
      is Poisson with the summed rate, so a stream whose only output is per-person totals
      is drawn once for any number of days at the accumulated rate (its exposure).
    * Splitting a binomial: if X ~ Binomial(N, p) counts successes among N trials, the
      successes among any n of them chosen independently of the outcomes are, given X,
      Hypergeometric(X, N - X, n), and they are Binomial(n, p), independent of the other
      N - n trials' successes.

Cost model (n people, k events or candidates, C classes, E expected events):
    * ``bernoulli_sparse`` O(k) (geometric gaps); ``thinned`` and ``draw_with_multiplier``
      O(n · bound) candidates; :func:`bound_of` one O(n) maximum (about 0.05 ms per
      million float32).
    * ``RateClasses.events`` O(C + k); ``RateClasses.bernoulli`` O(C + k) plus a Python
      step per class; ``RateClasses.totals`` O(C + E) placed sparsely when the members
      outnumber E :data:`SPARSE_TOTALS` times, else one Poisson draw per person
      (:func:`poisson`), in fixed blocks spread over the cores (:mod:`sclab.parallel`),
      each block from its own spawned generator. A placed event costs about 60 to 120 ns
      (random reads of the member, acceptance and weight, one count), a drawn person about
      10 ns (measured at 9.3 million people, 6.5 million members).
    * ``LazyPoisson.accrue`` O(1) a day; O(k) for a change of k people's multiplier;
      ``LazyPoisson.draw`` as ``totals``.
    * ``hypergeometric`` about as ``binomial`` by inversion (a table of log-factorials
      up to the largest total), NumPy's sampler (about 150 ns) for means from
      :data:`SMALL_MEAN`; ``binomial_inverted`` by inversion at any mean (cost grows
      with the mean).
    * ``lognormal_sums`` O(events) in chunks; ``multinomial_split`` one Poisson draw per
      entry plus O(sqrt(total) · log n); ``binomial_blocks`` one draw per entry with
      trials, in blocks spread over the cores.
    * ``IdSorter`` O(k log k), or O(k) plus one n-byte scan when k > n / 16.
    * ``BucketedSearch`` O(k) for k keys, O(buckets) once for its table.
    * ``gamma_levels`` O(levels), once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sclab.arrays import stable_order
from sclab.draws import bernoulli_sparse
from sclab.parallel import block_generators, map_blocks, parallel_map
from sclab.rng import StreamKey

#: Largest number of values one vectorised chunk allocates (bounds transient memory).
CHUNK = 1 << 20


def thinned(rng: np.random.Generator, p: np.ndarray, p_max: float | None = None) -> np.ndarray:
    """Indices (sorted, distinct) with an event, person i independently with probability p[i].

    Candidates are drawn at the bound ``p_max`` (default: max of p) and kept with
    probability p[i] / p_max, which is exact for any bound ≥ max(p).
    """
    p = np.asarray(p)
    bound = float(p.max()) if p_max is None and len(p) else float(p_max or 0.0)
    if len(p) == 0 or bound <= 0.0:
        return np.empty(0, dtype=np.int64)
    if bound > 1.0:
        raise ValueError(f"probabilities must be at most 1, got {bound}")
    cand = bernoulli_sparse(rng, len(p), bound)
    keep = rng.random(len(cand)) * bound < p[cand]
    return cand[keep]


def draw_with_multiplier(
    rng: np.random.Generator,
    pool: np.ndarray,
    p: float,
    mult: np.ndarray | None,
    max_mult: float,
) -> np.ndarray:
    """Members of ``pool`` with an event, member i with probability min(1, p · mult[i]).

    Without a multiplier this is :func:`bernoulli_sparse` over the pool. With one,
    candidates are drawn at the bound min(1, p · max_mult) and kept with probability
    p · mult[i] / bound: exact while mult[i] ≤ max_mult (larger multipliers act as the
    bound), at O(pool size · bound) cost. The result keeps the pool's order (int64 ids).

    Args:
        rng: Today's stream.
        pool: Entity indices eligible for the event.
        p: Base probability per member.
        mult: Per-entity multiplier over all entities (indexed by entity id), or None.
        max_mult: Thinning bound on the multiplier.
    """
    if p <= 0.0 or len(pool) == 0:
        return np.empty(0, dtype=np.int64)
    if mult is None:
        return pool[bernoulli_sparse(rng, len(pool), min(p, 1.0))].astype(np.int64, copy=False)
    bound = min(p * max_mult, 1.0)
    cand = pool[bernoulli_sparse(rng, len(pool), bound)]
    # In float32 at least: a Python float times a float16 multiplier would stay float16.
    keep = rng.random(len(cand)) * bound < p * mult[cand].astype(np.float32, copy=False)
    return cand[keep].astype(np.int64, copy=False)


SMALL_MEAN = 4.0  # below it, Poisson draws by inversion; from it, NumPy's sampler
SPARSE_TOTALS = 8  # totals are placed sparsely when members outnumber events this much
_INVERSION_TERMS = 4  # CDF terms added per pass of the inversion search
_INVERSION_SLICE = 1 << 15  # entries searched together (see _invert)


def poisson(rng: np.random.Generator, lam: np.ndarray) -> np.ndarray:
    """Poisson(lam[i]) per entry (int32), exactly, about twice as fast as NumPy's for
    small means.

    Means below :data:`SMALL_MEAN` are drawn by inversion (see :func:`_invert`), with
    P(K = k) = P(K = k - 1) · lam / k. NumPy draws one call per entry and, below a mean
    of 10, about mean + 1 uniforms each; most of the means here (a person's posts or
    purchases of a kind in a month) are below 1. Larger means go to NumPy's sampler. The
    uniforms are drawn for every entry first, so the stream consumed depends on
    ``len(lam)`` and the large means only. A count needs a mean below 2e9 to fit int32.
    """
    lam = np.asarray(lam, dtype=np.float64)
    u = rng.random(len(lam))
    term = np.exp(-lam)  # P(K = 0)
    out = (u > term).astype(np.int32)
    large = lam >= SMALL_MEAN
    if large.any():
        out[large] = rng.poisson(lam[large])
    _invert(out, np.flatnonzero(out.astype(bool) & ~large), u, term, lam, 0.0, None)
    return out


def binomial(rng: np.random.Generator, trials: np.ndarray, p: float) -> np.ndarray:
    """Binomial(trials[i], p) per entry (int64), exactly; by inversion (see
    :func:`_invert`) where the mean trials · p is below :data:`SMALL_MEAN`, with
    P(K = k) = P(K = k - 1) · (trials - k + 1) / k · p / (1 - p); NumPy's sampler above.
    """
    trials = np.asarray(trials, dtype=np.int64)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if p == 0.0 or p == 1.0:
        return trials.copy() if p == 1.0 else np.zeros(len(trials), np.int64)
    u = rng.random(len(trials))
    term = np.exp(trials * np.log1p(-p))  # P(K = 0) = (1 - p) ** trials
    out = (u > term).astype(np.int64)
    large = trials * p >= SMALL_MEAN
    if large.any():
        out[large] = rng.binomial(trials[large], p)
    odds = p / (1.0 - p)
    _invert(out, np.flatnonzero(out.astype(bool) & ~large), u, term, trials * odds, odds, trials)
    return out


def binomial_each(rng: np.random.Generator, trials: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial(trials[i], p[i]) per entry (int64), p in [0, 1), exactly: as
    :func:`binomial`, with one probability per entry (by inversion below a mean of
    :data:`SMALL_MEAN`, several times faster than NumPy's sampler there)."""
    trials = np.asarray(trials, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    if len(p) and not (float(p.min()) >= 0.0 and float(p.max()) < 1.0):
        raise ValueError("p must be in [0, 1) for every entry")
    u = rng.random(len(trials))
    term = np.exp(trials * np.log1p(-p))  # P(K = 0) = (1 - p) ** trials
    out = (u > term).astype(np.int64)
    large = trials * p >= SMALL_MEAN
    if large.any():
        out[large] = rng.binomial(trials[large], p[large])
    odds = p / (1.0 - p)
    _invert(out, np.flatnonzero(out.astype(bool) & ~large), u, term, trials * odds, odds, trials)
    return out


def hypergeometric(
    rng: np.random.Generator, good: np.ndarray, bad: np.ndarray, sample: np.ndarray
) -> np.ndarray:
    """Hypergeometric(good[i], bad[i], sample[i]) per entry (int64), exactly: the successes
    among ``sample`` items drawn without replacement from ``good`` successes and ``bad``
    failures (all non-negative, sample <= good + bad).

    An entry drawing everything gets ``good`` and one drawing nothing 0, without a draw.
    Where the mean sample · good / (good + bad) is below :data:`SMALL_MEAN` and every count
    from 0 up is possible (sample <= bad), by inversion from one uniform, with P(K = 0) =
    C(bad, sample) / C(good + bad, sample) (from log-factorials) and P(K = k) = P(K = k -
    1) · (good - k + 1)(sample - k + 1) / (k (bad - sample + k)); NumPy's sampler (about
    150 ns a draw) elsewhere. The uniforms are drawn for every entry first.
    """
    good = np.asarray(good, dtype=np.int64)
    bad = np.asarray(bad, dtype=np.int64)
    sample = np.asarray(sample, dtype=np.int64)
    total = good + bad
    u = rng.random(len(good))
    # By inversion: a mean below SMALL_MEAN (sample · good < SMALL_MEAN · total, without a
    # division) and P(K = 0) > 0 (sample <= bad); nothing to draw (good or sample 0) falls
    # here too, with P(K = 0) = 1.
    small = sample <= bad
    small &= sample * good < SMALL_MEAN * total
    out = np.empty(len(good), np.int64)
    rest = np.flatnonzero(~small)
    if len(rest):
        g, b, n = good[rest], bad[rest], sample[rest]
        whole = n >= g + b  # everything drawn: every success, without a draw
        out[rest] = g
        draw = ~whole & (g > 0) & (n > 0)
        out[rest[draw]] = rng.hypergeometric(g[draw], b[draw], n[draw])
    if not len(rest):  # (the usual case: slices of the inputs, without copies)
        log_fact = _log_factorial(total)
        for lo in range(0, len(good), _INVERSION_SLICE):
            at = slice(lo, lo + _INVERSION_SLICE)
            out[at] = _invert_hypergeometric(good[at], bad[at], sample[at], u[at], log_fact)
        return out
    small_at = np.flatnonzero(small)
    log_fact = _log_factorial(total[small_at])
    # In slices that stay in a core's cache, several terms a pass (as _invert).
    for lo in range(0, len(small_at), _INVERSION_SLICE):
        at_ = small_at[lo : lo + _INVERSION_SLICE]
        out[at_] = _invert_hypergeometric(good[at_], bad[at_], sample[at_], u[at_], log_fact)
    return out


def _invert_hypergeometric(
    g: np.ndarray,
    b: np.ndarray,
    n: np.ndarray,
    u: np.ndarray,
    log_fact: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """:func:`hypergeometric`'s draws by inversion, one uniform each: the count is the
    first k with u <= P(K <= k), the CDF summed a few terms a pass over the entries still
    searching; a count stops at min(good, sample) (only rounding could pass it)."""
    out = np.empty(len(g), np.int64)
    slack = b - n
    term = log_fact(b)
    term -= log_fact(slack)
    term += log_fact(slack + g)
    term -= log_fact(b + g)
    np.exp(term, out=term)  # P(K = 0) = C(bad, sample) / C(good + bad, sample)
    cdf = term.copy()
    top = np.minimum(g, n)
    gf, nf, sf = g.astype(np.float64), n.astype(np.float64), slack.astype(np.float64)
    at = None  # positions still searching (None: every one)
    k = 0  # every entry still searching has a count of at least k
    while True:
        below = (u > cdf).astype(np.int32)  # CDF terms below u, from P(K <= k) on
        for step in range(1, _INVERSION_TERMS + 1):
            j = k + step
            term *= (gf - (j - 1)) * (nf - (j - 1)) / (j * (sf + j))
            cdf += term
            if step < _INVERSION_TERMS:
                below += u > cdf
        count = np.minimum(k + below, top)
        found = (below < _INVERSION_TERMS) | (count >= top)
        if at is None:
            out[:] = count  # (those still searching are overwritten below)
            at = np.arange(len(g))
        else:
            out[at[found]] = count[found]
        if found.all():
            return out
        more = ~found
        k += _INVERSION_TERMS  # term and cdf are now P(K = k), P(K <= k)
        at, u, term, cdf, top = at[more], u[more], term[more], cdf[more], top[more]
        gf, nf, sf = gf[more], nf[more], sf[more]


#: Largest total up to which :func:`_log_factorial` tabulates (a table of 32 MB at most).
_LOG_FACTORIAL_TABLE = 1 << 22
#: log(x!) for x = 0, 1, ...: grown (by doubling) as larger totals come, shared by every
#: call and thread (a replaced table is a new array; readers keep the one they took).
_log_factorials = np.zeros(1)


def _log_factorial(totals: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """log(x!) for 0 <= x <= max(totals): looked up in a table of cumulative logs when the
    largest total allows (a gather, against about 40 ns a log-gamma), else log-gamma."""
    global _log_factorials
    top = int(totals.max(initial=0))
    if top > _LOG_FACTORIAL_TABLE:
        from scipy.special import gammaln

        return lambda x: np.asarray(gammaln(np.asarray(x, np.float64) + 1.0))
    table = _log_factorials
    if len(table) <= top:
        size = min(max(top + 1, 2 * len(table), 1 << 16), _LOG_FACTORIAL_TABLE + 1)
        table = np.zeros(size)
        np.cumsum(np.log(np.arange(1, size, dtype=np.float64)), out=table[1:])
        _log_factorials = table
    return lambda x: table[x]


def binomial_inverted(rng: np.random.Generator, trials: np.ndarray, p: float) -> np.ndarray:
    """Binomial(trials[i], p) per entry (int64), each from its own uniform alone.

    Entry i's count depends on the i-th uniform and its own trials only, so an entry's
    draw does not move when other entries' trials differ (which :func:`binomial`, handing
    large means to NumPy's sampler in sequence, does not promise). By inversion at any
    mean, from the failures' side when p > 1/2; an entry whose P(K = 0) underflows (more
    than about 1,000 trials at p = 1/2) is drawn by NumPy's sampler after the others.
    Cost grows with the mean: for small means (a post's likes) about as :func:`binomial`.
    """
    trials = np.asarray(trials, dtype=np.int64)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if p == 0.0 or p == 1.0:
        return trials.copy() if p == 1.0 else np.zeros(len(trials), np.int64)
    flip = p > 0.5
    q = 1.0 - p if flip else p
    u = rng.random(len(trials))
    term = np.exp(trials * np.log1p(-q))  # P(K = 0)
    out = (u > term).astype(np.int64)
    odds = q / (1.0 - q)
    under = term == 0.0
    _invert(out, np.flatnonzero(out.astype(bool) & ~under), u, term, trials * odds, odds, trials)
    if under.any():
        out[under] = rng.binomial(trials[under], q)
    return trials - out if flip else out


def _invert(
    out: np.ndarray,
    searching: np.ndarray,
    u: np.ndarray,
    term: np.ndarray,
    a: np.ndarray,
    b: float | np.ndarray,
    cap: np.ndarray | None,
) -> None:
    """Finish draws by inversion: the count is the first k with u <= P(K <= k).

    Each entry has one uniform ``u``; ``term`` is P(K = 0) and the next terms follow as
    P(K = k) = P(K = k - 1) · (a - b · (k - 1)) / k (``b`` one value, or one per
    entry). The entries ``searching`` (those with u above P(K = 0)) are written into
    ``out``; the CDF is summed a few terms per pass, vectorised over the entries still
    searching. ``cap`` bounds a count (binomial trials) where only rounding could pass
    it.
    """
    # In slices that stay in a core's cache: the search makes a dozen passes over its
    # arrays, and over a block's 190,000 entries they spill to memory (a mean of 1, one
    # thread: 12 ns a draw in 32,768-entry slices, 22 ns in one). Each entry's count
    # depends on its own uniform alone, so slicing changes nothing.
    everyone, u_all, term_all, a_all = searching, u, term, a
    b_each = b if isinstance(b, np.ndarray) else None  # one per entry, or one for all
    each = b_each is not None
    for lo in range(0, len(everyone), _INVERSION_SLICE):
        searching = everyone[lo : lo + _INVERSION_SLICE]
        u, term, a = u_all[searching], term_all[searching], a_all[searching]
        if b_each is not None:
            b = b_each[searching]
        limit = None if cap is None else cap[searching]
        cdf = term.copy()
        k = 0  # every entry still searching has a count above k
        while len(searching):
            below = np.zeros(len(searching), np.int32)  # new CDF terms still below u
            for step in range(1, _INVERSION_TERMS + 1):
                if each or b:
                    term *= (a - b * (k + step - 1)) * (1.0 / (k + step))
                else:
                    term *= a * (1.0 / (k + step))
                cdf += term
                below += u > cdf
            found = below < _INVERSION_TERMS
            out[searching[found]] = k + 1 + below[found]
            k += _INVERSION_TERMS
            more = ~found
            if k > 1000:
                # Only a u within rounding of 1 (the summed CDF short of it by an ulp) gets
                # here, at any mean below SMALL_MEAN: stop at the count reached.
                out[searching[more]] = k if limit is None else np.minimum(k, limit[more])
                break
            searching, u, term, cdf, a = searching[more], u[more], term[more], cdf[more], a[more]
            if isinstance(b, np.ndarray):
                b = b[more]
            if limit is not None:
                limit = limit[more]


def multinomial_split(rng: np.random.Generator, total: int, weight: np.ndarray) -> np.ndarray:
    """Counts ~ Multinomial(total, weight / sum(weight)), one per entry of ``weight``.

    Exact, at about a third of the cost of ``rng.multinomial`` over many categories: X_i ~
    Poisson(lam · p_i) with lam = total - 3·sqrt(total) are, given their sum s, Multinomial
    (s, p); redrawn in the rare case s > total (rejection keeps that law); the remaining
    total - s (about 3·sqrt(total)) are placed one by one on category i with probability
    p_i, and the sum of the two independent multinomials is Multinomial(total, p).
    Cost: one Poisson draw per entry plus O(sqrt(total) · log n).
    """
    weight = np.asarray(weight, dtype=np.float64)
    out = np.zeros(len(weight), dtype=np.int64)
    w_sum = float(weight.sum())
    if total <= 0 or w_sum <= 0.0:
        return out
    p = weight / w_sum
    lam = max(0.0, total - 3.0 * np.sqrt(total))
    while lam > 0.0:
        out = rng.poisson(lam * p)
        if int(out.sum()) <= total:
            break
    rest = total - int(out.sum())
    if rest:
        cum = np.cumsum(p)
        cum /= cum[-1]
        pick = np.searchsorted(cum, rng.random(rest), side="right")
        out += np.bincount(np.minimum(pick, len(p) - 1), minlength=len(p))
    return out


def thin(
    rng: np.random.Generator, who: np.ndarray, accept: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep candidate i with probability ``accept[i]``; returns (kept, mask)."""
    keep = rng.random(len(who)) < accept
    return who[keep], keep


def bound_of(mult: np.ndarray | None) -> float:
    """Thinning bound of a multiplier array: its maximum (1 without an array, 0 if empty)."""
    if mult is None:
        return 1.0
    return float(mult.max()) if len(mult) else 0.0


class IdSorter:
    """Sorts person ids (repeats kept) by marking them in reusable per-person buffers.

    Marking k ids, scanning the n marks and clearing them costs O(k) plus one n-byte scan
    (about 0.7 ms per million people), against O(k log k) for a comparison sort, so it is
    used once k > n / 16. Repeats are counted in a second byte per person. Both buffers
    are kept between calls: a day touches no fresh memory.

    Args:
        n: Number of people (ids are 0..n-1).
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._mark: np.ndarray | None = None
        self._count: np.ndarray | None = None

    def __call__(self, who: np.ndarray) -> np.ndarray:
        """``who`` in increasing order, as int64."""
        who = np.asarray(who, dtype=np.int64)
        if len(who) * 16 <= self.n:
            return np.sort(who)
        if self._mark is None or self._count is None:  # made together, on first use
            self._mark = np.zeros(self.n, dtype=bool)
            self._count = np.zeros(self.n, dtype=np.uint8)
        mark, count = self._mark, self._count
        mark[who] = True
        present = np.flatnonzero(mark)  # a bool scan is several times faster than ints
        mark[present] = False
        if len(present) == len(who):
            return present
        np.add.at(count, who, np.uint8(1))  # a typed scalar keeps add.at on its fast path
        times = count[present].astype(np.intp)  # np.repeat is slow with narrow counts
        count[present] = 0
        if int(times.sum()) != len(who):  # some id came 256 times or more: wrapped
            return np.sort(who)
        return np.repeat(present, times)


class BucketedSearch:
    """``np.searchsorted(edges, keys, side="right")`` for keys in [lo, hi), by table.

    A categorical draw over a few hundred cells searches its cumulative edges once per
    draw; a binary search per key costs a branch miss per level. The key range is cut
    into equal buckets, and each bucket holds the answers of the lowest and highest keys
    that can land in it (widened by a bucket on each side, so rounding in the bucket's
    index never matters): where they agree that is the answer, read from the table; the
    few keys in a bucket that straddles an edge are searched. The result is the search's,
    exactly. Cost: O(k) a call for k keys (plus the straddling ones' searches), once
    O(buckets) for the table.
    """

    BUCKETS_PER_UNIT = 4096

    def __init__(self, edges: np.ndarray, lo: float, hi: float) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.lo = float(lo)
        self.scale = float(self.BUCKETS_PER_UNIT)
        self.n_buckets = max(int(np.ceil((float(hi) - self.lo) * self.scale)), 1)
        width = 1.0 / self.scale
        start = self.lo + np.arange(self.n_buckets + 1) * width
        self.first = np.searchsorted(self.edges, start[:-1] - width, side="right")
        self.last = np.searchsorted(self.edges, start[1:] + width, side="right")

    def __call__(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.float64)
        bucket = np.floor((keys - self.lo) * self.scale)
        outside = ~((bucket >= 0) & (bucket < self.n_buckets))  # NaN too: searched
        index = np.where(outside, 0, bucket).astype(np.intp)
        out = self.first[index]
        search = np.flatnonzero((out != self.last[index]) | outside)
        if len(search):
            out[search] = np.searchsorted(self.edges, keys[search], side="right")
        return out


class RateClasses:
    """People grouped by rate class, for sparse draws at per-class rates.

    Args:
        members: Person ids sorted by class (ids increasing within a class).
        offsets: Class c holds ``members[offsets[c]:offsets[c + 1]]`` (classes may be empty).
        n_people: Size of the population the ids index (per-person arrays have this length).
        accept: Optional per-person factor in [0, 1] over the population: person i of class
            c then has rate ``rate[c] × accept[i]``; draws are made at the class rate and
            thinned, so the class rate should be the class maximum (a tight bound).

    Attributes:
        start, size: Per class, the first position and the number of members.
        n_classes: Number of classes.
    """

    #: Classes with at least this many events today draw their members with one scalar
    #: bound (cheap); the others share one vectorised draw with per-event bounds.
    BIG_CLASS = 2048

    def __init__(
        self,
        members: np.ndarray,
        offsets: np.ndarray,
        n_people: int,
        accept: np.ndarray | None = None,
    ) -> None:
        self.members = np.asarray(members, dtype=np.int32 if n_people < 2**31 else np.int64)
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.start = self.offsets[:-1]
        self.size = np.diff(self.offsets)
        self.n_classes = len(self.size)
        self.n_people = int(n_people)
        if accept is not None and len(accept) != n_people:
            raise ValueError(f"accept has {len(accept)} values for {n_people} people")
        self.accept = accept
        self._class_of: np.ndarray | None = None  # per person, built on first need

    @classmethod
    def of(cls, class_of: np.ndarray, n_classes: int) -> RateClasses:
        """Everyone, person i in class ``class_of[i]`` (classes 0..n_classes-1, some empty)."""
        order = stable_order(class_of)
        size = np.bincount(class_of, minlength=n_classes).astype(np.int64)
        return cls(order, np.concatenate([[0], np.cumsum(size)]), len(class_of))

    @classmethod
    def group(
        cls,
        people: np.ndarray,
        key: np.ndarray,
        n_people: int,
        accept: np.ndarray | None = None,
    ) -> RateClasses:
        """``people`` (key aligned with them) with one class per distinct key, in key order."""
        order = stable_order(key)
        sorted_key = np.asarray(key)[order]
        if len(order):
            starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        else:
            starts = np.empty(0, dtype=np.int64)
        offsets = np.r_[starts.astype(np.int64), len(order)]
        return cls(np.asarray(people)[order], offsets, n_people, accept)

    def keys(self, key_of_person: np.ndarray) -> np.ndarray:
        """The key of each non-empty class, read from its first member (empty: -1)."""
        out = np.full(self.n_classes, -1, dtype=np.int64)
        full = self.size > 0
        out[full] = np.asarray(key_of_person)[self.members[self.start[full]]]
        return out

    def class_of(self) -> np.ndarray:
        """Per person, the class index (``n_classes`` for people in no class); cached."""
        if self._class_of is None:
            dtype = np.min_scalar_type(self.n_classes)
            out = np.full(self.n_people, self.n_classes, dtype=dtype)
            out[self.members] = np.repeat(np.arange(self.n_classes, dtype=dtype), self.size)
            self._class_of = out
        return self._class_of

    def _uniform_positions(
        self, rng: np.random.Generator, per_class: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions in ``members``, classes) of per_class[c] uniform picks in each class."""
        per_class = np.asarray(per_class, dtype=np.int64)
        cls = np.repeat(np.arange(self.n_classes), per_class)
        if not len(cls):
            return cls, cls
        big = per_class >= self.BIG_CLASS
        if not big.any():
            return self.start[cls] + rng.integers(0, self.size[cls]), cls
        pos = np.empty(len(cls), dtype=np.int64)
        ends = np.cumsum(per_class)
        for c in np.flatnonzero(big):
            lo, hi = int(ends[c] - per_class[c]), int(ends[c])
            pos[lo:hi] = self.start[c] + rng.integers(0, self.size[c], hi - lo)
        small = ~big[cls]
        pos[small] = self.start[cls[small]] + rng.integers(0, self.size[cls[small]])
        return pos, cls

    def candidates(
        self,
        rng: np.random.Generator,
        rate: np.ndarray,
        mult: np.ndarray | None = None,
        bound: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(candidates, their classes, the chance each is kept) of today's events: what
        :meth:`events` draws before it thins (None: every candidate is kept).

        Class c's candidates number Poisson(size × rate[c] × bound), each on a uniform
        member; member i's are kept with probability accept[i] × min(mult[i], bound) /
        bound. A caller that marks each candidate (a post's likes) before thinning gives a
        person the same marks whatever happened to other candidates.
        """
        m_bound = 1.0 if mult is None else (bound_of(mult) if bound is None else float(bound))
        if m_bound <= 0.0 or self.n_classes == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64), None
        totals = rng.poisson(self.size * np.asarray(rate, dtype=np.float64) * m_bound)
        pos, cls = self._uniform_positions(rng, totals)
        if not len(pos):
            return np.empty(0, np.int64), cls.astype(np.int64), None
        who = self.members[pos].astype(np.int64)
        keep = None if self.accept is None else self.accept[who].astype(np.float64)
        if mult is not None:
            share = np.minimum(mult[who].astype(np.float32, copy=False), m_bound) / m_bound
            keep = share if keep is None else keep * share
        return who, cls, keep

    def events(
        self,
        rng: np.random.Generator,
        rate: np.ndarray,
        mult: np.ndarray | None = None,
        bound: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(people, their classes) of today's events, one entry per event (people repeat).

        Person i of class c has Poisson(rate[c] × accept[i] × min(mult[i], bound)) events.
        Each class's total is drawn at rate × bound (default bound: max of ``mult``), each
        event lands on a uniform member and is kept with probability accept × mult / bound
        (:meth:`candidates`, then one uniform per candidate from ``rng``). People come in
        no particular order (see :class:`IdSorter`).
        """
        who, cls, keep = self.candidates(rng, rate, mult, bound)
        if keep is not None:
            mask = rng.random(len(who)) < keep
            who, cls = who[mask], cls[mask]
        return who, cls

    def bernoulli(
        self,
        rng: np.random.Generator,
        p: np.ndarray,
        mult: np.ndarray | None = None,
        bound: float | None = None,
    ) -> np.ndarray:
        """People with an event (at most one each): class c's member i w.p. min(1, p[c] × mult[i]).

        ``bound`` caps the multiplier (default: its maximum; larger multipliers act as the
        bound). Results come class by class, in member order within a class.
        """
        if self.accept is not None:
            raise ValueError("bernoulli draws need classes without per-person acceptance")
        m_bound = bound_of(mult) if bound is None else float(bound)
        parts = []
        for c in np.flatnonzero(self.size):
            lo, hi = int(self.start[c]), int(self.start[c] + self.size[c])
            who = draw_with_multiplier(rng, self.members[lo:hi], float(p[c]), mult, m_bound)
            if len(who):
                parts.append(who)
        return np.concatenate(parts).astype(np.int64) if parts else np.empty(0, np.int64)

    def totals(
        self,
        rng: np.random.Generator,
        rate: np.ndarray,
        weight: np.ndarray | Callable[[slice | np.ndarray], np.ndarray] | None = None,
        only: np.ndarray | None = None,
    ) -> np.ndarray:
        """Per person (length ``n_people``), a Poisson total of many days' events.

        Person i of class c gets Poisson(rate[c] × accept[i] × weight[i]); weight is per
        person (e.g. days of exposure), 1 if None; people in no class get 0. A callable
        weight gives the weights of the people it is passed (a slice or an index array):
        it is called block by block on the cores, so a weight computed from other arrays
        (:class:`LazyPoisson`'s exposure) never exists for everyone at once. ``only``
        (a per-person bool mask) draws those people alone, the others get 0 without a
        draw. Integer totals (int32 when drawn per person, int64 when placed sparsely).
        Sparse when the members outnumber the events expected at the bound
        :data:`SPARSE_TOTALS` times (placement on members, then thinning), else one
        Poisson draw per person in chunks, in person order.
        """
        rate = np.asarray(rate, dtype=np.float64)
        # One way to read weights: an array is read by indexing, like a callable's calls.
        weigh = weight.__getitem__ if isinstance(weight, np.ndarray) else weight
        if weigh is None:
            w_max = 1.0
        else:
            # The bound in parallel, block by block (maxima: the same bound in any order).
            maxima = map_blocks(
                lambda _, lo, hi: float(weigh(slice(lo, hi)).max(initial=0.0)), self.n_people
            )
            w_max = max(maxima, default=0.0)
        at_bound = self.size * rate * w_max
        if len(self.members) == 0 or w_max <= 0.0:
            return np.zeros(self.n_people, dtype=np.int64)
        if float(at_bound.sum()) * SPARSE_TOTALS <= len(self.members):
            pos, _ = self._uniform_positions(rng, rng.poisson(at_bound))
            who = self.members[pos]
            if self.accept is not None or weight is not None:
                keep = np.ones(len(who))
                if self.accept is not None:
                    keep *= self.accept[who]
                if weigh is not None:
                    keep *= weigh(who) / w_max
                who = who[rng.random(len(who)) < keep]
            if only is not None:
                who = who[only[who]]
            return np.bincount(who, minlength=self.n_people)  # int64 already: no copy
        class_of = self.class_of()
        # int32: half the bytes of NumPy's int64 draws (each block is cast on assignment);
        # a person's total would need a mean above 2e9 to overflow it.
        out = np.empty(self.n_people, dtype=np.int32)
        gens = block_generators(rng, self.n_people)

        def draw(i: int, lo: int, hi: int) -> None:
            # Members only: people in no class (a quarter or more: no smartphone, no app)
            # get 0 without a draw, which saves their uniforms and exponentials.
            cls = class_of[lo:hi]
            member = cls != self.n_classes
            if only is not None:
                member &= only[lo:hi]
            at = np.flatnonzero(member)
            lam = rate[cls[at]]
            if self.accept is not None:
                lam *= self.accept[lo:hi][at]
            if weigh is not None:
                lam *= weigh(slice(lo, hi))[at]
            block = out[lo:hi]
            block[:] = 0
            block[at] = poisson(gens[i], lam)

        map_blocks(draw, self.n_people)
        return out


def binomial_blocks(
    rng: np.random.Generator, trials: np.ndarray, p: float
) -> tuple[np.ndarray, np.ndarray]:
    """(entries, draws): Binomial(trials[i], p) for every entry i with trials (> 0), in
    fixed blocks on the cores (entries sorted, int64).

    Entries without trials draw nothing (their count is 0 whatever p), so a source can
    pass per-person trials with most people at 0. Each block draws from its own
    generator spawned from ``rng`` (see :func:`sclab.parallel.block_generators`): the
    same numbers on any number of cores.
    """
    gens = block_generators(rng, len(trials))

    def draw(i: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        at = np.flatnonzero(trials[lo:hi])
        return at + lo, binomial(gens[i], trials[lo:hi][at], p)

    parts = map_blocks(draw, len(trials))
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate([w for w, _ in parts]), np.concatenate([g for _, g in parts])


#: Days in one period of a lazily aggregated stream: the acts of each period are drawn as
#: per-person candidate totals keyed by the period (see :class:`LazyPoisson`).
PERIOD_DAYS = 365


class LazyPoisson:
    """Exposure of one aggregated Poisson stream since its last draw, drawn on common
    random numbers.

    Person i of class c has, on day d, Poisson(rate[c] × accept[i] × m_i(d)) events, m the
    behaviour multiplier (1 without one). Summed over the days accrued that is
    Poisson(rate[c] × accept[i] × E_i) with the exposure E_i = Σ_d m_i(d): :meth:`accrue`
    keeps it, :meth:`draw` draws the totals.

    *Common random numbers.* The draws do not depend on who reads the stream, or when.
    Days are cut into fixed periods of :data:`PERIOD_DAYS` days (the last one ending with
    the run, when the key knows the run's days), and each person's acts
    at multiplier 1 over a whole period (the *candidates*, Poisson(rate[c] × accept[i] ×
    period days)) are drawn from the generator keyed (component, stream, district,
    period), for everyone at once, whoever asks first. A read before the period ends
    takes the candidates of the days since the reader's last read out of those left, by a
    binomial split in proportion to days (a homogeneous Poisson process: given the count,
    the times are uniform); the rest stay for later reads. However the reads split a
    period, everyone's total at its end is its candidates. A person whose multiplier was
    not 1 keeps each candidate of a span with probability min(1, E_i / days) (thinning:
    exact, since the candidates' times are uniform over the span) and, where E_i exceeds
    the days, has Poisson(rate × (E_i - days)) more from a stream of its own. So two runs
    that differ only in their readers, or in behaviour that leaves a person's multiplier
    at 1, give that person the same total for every period that ends within both runs;
    where a multiplier differs, the person's acts are a thinning of the same candidates
    (fewer acts are a subset, as tight a coupling as the law allows). How the splits and
    thinnings of a period fall may depend on the reads (same law, another realisation):
    they only ever concern the days before a read, or people whose behaviour differed.

    Multipliers change rarely and for few people, so the exposure is kept as
    ``offset_i + days_i × m_i`` with ``m`` the multiplier array as it is now: a day costs
    O(1), and a change of ``m`` for k people O(k), credited by :meth:`changing` (a
    :meth:`sclab.engine.simulation.State.watch` callback, see :meth:`follow`): one read
    of the new values and one update of the offset per person changed. The
    offset is float32 (4 bytes per person, only while a change is pending): its
    rounding error stays below 1e-3 relative over 10,000 days.

    A *focus* group (:meth:`set_focus`: people whose totals someone reads often, e.g. a
    voluntary score's participants) can be drawn alone (:meth:`draw_focus`), the others
    accruing on: ``days_i`` is then the days since the last draw of i's group. A period's
    candidates left after a read are kept per person (2 or 4 bytes) until the period
    ends for both groups.

    A reader of the stream's candidates (:attr:`on_candidates`, :meth:`candidates_left`),
    of those a draw thinned away (:attr:`last_dropped`) and of the acts above multiplier 1
    (:attr:`last_extra`) can hand out marks of the candidates on the same common random
    numbers (social media's interactions).

    Cost: an unread run of at most one period draws once, as a single Poisson total per
    person; a read draws the candidates once per period (then keeps them) and one
    binomial per person of the group read; thinning adds one binomial per person with
    candidates and a multiplier below 1.

    Args:
        classes: Who may have events, grouped by rate class.
        rate: Per class, the daily rate.
        key: The stream's generators (component, stream; by period). Without one, the
            generator passed to each draw stands for it (for tests of the law).
    """

    def __init__(
        self, classes: RateClasses, rate: np.ndarray, key: StreamKey | None = None
    ) -> None:
        self.classes = classes
        self.rate = np.asarray(rate, dtype=np.float64)
        self.key = key
        #: Days accrued since the start.
        self.day = 0
        #: Days accrued since the last draw (of the people outside the focus group).
        self.days = 0
        #: Per person, whether in the focus group (None: no focus group).
        self.focus: np.ndarray | None = None
        #: Days accrued since the focus group's last draw.
        self.focus_days = 0
        #: The multiplier array the days accrued at (None: 1 for everyone).
        self.mult: np.ndarray | None = None
        #: Per person, exposure credited at earlier multipliers minus ``days_i`` × the
        #: earlier ones (None: zero for everyone).
        self.offset: np.ndarray | None = None
        #: Draws made so far.
        self.draws = 0
        # Per period begun but not ended for everyone, the candidates left per person.
        self._left: dict[int, np.ndarray] = {}
        self._drawn: set[int] = set()  # periods whose candidates have been drawn
        self._fallback: np.random.Generator | None = None
        #: Called with (period, candidates per person) when a period's candidates are
        #: drawn, before any is taken (the array must not be kept: it is taken from).
        self.on_candidates: Callable[[int, np.ndarray], None] | None = None
        #: The last draw's acts above multiplier 1, as (people, counts) (distinct people;
        #: None when the draw added none): the rest of each person's total are kept
        #: candidates.
        self.last_extra: tuple[np.ndarray, np.ndarray] | None = None
        #: The last draw's candidates thinned away, as (people, counts) (distinct people;
        #: None when none were): taken from the candidates left, but not acts.
        self.last_dropped: tuple[np.ndarray, np.ndarray] | None = None

    def _rng(self, purpose: str, period: int) -> np.random.Generator:
        if self.key is not None:
            return self.key.rng(purpose, period=period)
        if self._fallback is None:
            raise RuntimeError("a LazyPoisson without a key draws from the generator passed")
        return self._fallback.spawn(1)[0]

    def follow(self, state: Any, name: str) -> None:
        """Credit every write to the multiplier array ``name`` of ``state`` (a
        :class:`~sclab.engine.simulation.State`), which must then change by its
        ``write`` only."""
        state.watch(name, self.changing)

    @property
    def pending(self) -> bool:
        """Whether any exposure has accrued since the last draw (of either group)."""
        return self.days > 0 or self.focus_days > 0

    @property
    def focus_alone(self) -> bool:
        """Whether the focus group is best drawn alone now: there is one, and no multiplier
        change is pending. With changes pending, drawing everyone instead lets the
        per-person offsets go (4 bytes per person, else kept for the others until the
        end of the run)."""
        return self.focus is not None and self.offset is None

    def set_focus(self, focus: np.ndarray | None) -> None:
        """Make ``focus`` (a per-person bool mask, kept by reference) the group that
        :meth:`draw_focus` draws alone.

        A first group shares everyone's days so far.

        Raises:
            RuntimeError: The group changes while its members' days and the others'
                differ (draw everyone first).
        """
        if self.focus is not None and self.focus_days != self.days:
            raise RuntimeError("the focus group changes with draws pending: draw everyone first")
        self.focus = focus
        self.focus_days = self.days if focus is not None else 0

    def _days(self, people: np.ndarray | slice) -> np.ndarray | np.float32:
        """Days accrued since the last draw of each of ``people`` (float32; a scalar if
        everyone's are the same)."""
        if self.focus is None or self.focus_days == self.days:
            return np.float32(self.days)
        # The others' days plus, for members, the difference: whole days, exact in
        # float32, and no branch per person (a choice by a scattered mask, np.where's,
        # costs several times the arithmetic).
        days = np.multiply(
            self.focus[people].view(np.uint8),
            np.float32(self.focus_days - self.days),
            dtype=np.float32,
        )
        days += np.float32(self.days)
        return days

    def accrue(self, mult: np.ndarray | None = None) -> None:
        """One more day, at the multiplier ``mult`` (per person; None: 1 for everyone).

        The array must stay the same between days unless changed through :meth:`changing`
        (an array other than the last one is taken as a change of everyone: O(n) once).
        """
        if mult is not self.mult:
            self._switch(mult)
        self.day += 1
        self.days += 1
        if self.focus is not None:
            self.focus_days += 1

    def changing(self, mult: np.ndarray, people: np.ndarray | None, old: np.ndarray) -> None:
        """Credit a change of ``mult[people]`` (everyone if None) from ``old``, just made:
        the days accrued so far keep the old values."""
        if mult is not self.mult:
            # An array this stream has not accrued at yet: the days so far keep the
            # multiplier they accrued at, whatever the array held before this write.
            self._switch(mult)
            return
        if not self.pending:
            return
        if self.offset is None:
            self.offset = np.zeros(len(mult), np.float32)
        offset = self.offset

        def credit(_: int, lo: int, hi: int) -> None:
            # In blocks on the cores: a forgetting day changes millions of multipliers.
            # The people changed are distinct, so blocks touch distinct offsets.
            where = slice(lo, hi) if people is None else people[lo:hi]
            offset[where] += (old[lo:hi] - mult[where]) * self._days(where)

        map_blocks(credit, len(mult) if people is None else len(people))

    def _switch(self, mult: np.ndarray | None) -> None:
        """Accrue at ``mult`` from now on; the days so far keep the current multiplier."""
        if self.pending:
            one = np.float32(1.0)
            if self.offset is None:
                self.offset = np.zeros(self.classes.n_people, np.float32)
            offset, was = self.offset, self.mult

            def credit(_: int, lo: int, hi: int) -> None:
                # Block by block on the cores: no whole-population temporaries.
                people = slice(lo, hi)
                old = one if was is None else was[people]
                new = one if mult is None else mult[people]
                offset[people] += (old - new) * self._days(people)

            map_blocks(credit, len(offset))
        self.mult = mult

    def exposure(self, people: slice | np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """The exposure of ``people`` (a slice or an index array) since their last draw, in
        days at multiplier 1."""
        n = self.classes.n_people
        size = len(range(*people.indices(n))) if isinstance(people, slice) else len(people)
        out: np.ndarray = np.empty(size, dtype)
        out[:] = self._days(people)
        if self.mult is not None:
            out *= self.mult[people]
        if self.offset is not None:
            out += self.offset[people]
        return out

    def _bounds(self, day: int) -> tuple[int, int, int]:
        """(period, its first day, the day after its last) of the period holding ``day``:
        periods of :data:`PERIOD_DAYS` days, the last one ending with the run."""
        period = day // PERIOD_DAYS
        end = (period + 1) * PERIOD_DAYS
        last = None if self.key is None else self.key.days
        if last is not None and day < last:
            end = min(end, last)
        return period, period * PERIOD_DAYS, end

    def _candidates(self, period: int, days: int) -> np.ndarray:
        """Per person, the candidates of ``period`` (``days`` long) not yet taken (drawn on
        first need)."""
        left = self._left.get(period)
        if left is None:
            left = self.classes.totals(self._rng("candidates", period), self.rate * days)
            self._drawn.add(period)
            if self.on_candidates is not None:
                self.on_candidates(period, left)
        return left

    def candidates_left(self, period: int) -> np.ndarray | None:
        """Per person, the candidates of ``period`` not yet taken by any draw (drawn now if
        they never were, and kept for the draws to come); None once every one is taken.

        The array is the stream's own: read it, never write it."""
        if period in self._left:
            return self._left[period]
        if period in self._drawn:
            return None
        _, first, end = self._bounds(period * PERIOD_DAYS)
        left = self._candidates(period, end - first)
        self._left[period] = left
        return left

    def _take(
        self, only: np.ndarray | None, days: int, name: str, others_at: int | None = None
    ) -> np.ndarray:
        """Per person of ``only`` (everyone if None), the candidates of the last ``days``
        days, taken out of each period's; then thinned by the group's exposure.
        ``others_at``: the day up to which the people outside ``only`` have taken theirs
        (a period's candidates are kept until both groups are past its end).

        Block by block on the cores and in place: the candidates left are the only
        whole-population array besides the result."""
        n = self.classes.n_people
        taken = np.zeros(n, np.int32)
        at, now = self.day - days, self.day
        while at < now:
            period, first, end = self._bounds(at)
            upto = min(now, end)
            left = self._candidates(period, end - first)
            share = (upto - at) / (end - at)
            if share == 1 and only is None and at == self.day - days:
                # Everyone's candidates to the period's end, first: taken whole, no pass.
                taken = left.astype(np.int32, copy=False)  # the draw's own array
                self._left.pop(period, None)
                at = upto
                continue
            # Keyed by the day of the split (a split to the period's end takes them all).
            gens = block_generators(self._rng(f"split/{name}", upto), n) if share < 1 else None

            def take(
                i: int,
                lo: int,
                hi: int,
                left: np.ndarray = left,
                gens: list[np.random.Generator] | None = gens,
                share: float = share,
                taken: np.ndarray = taken,
            ) -> None:
                have = left[lo:hi]
                mine = have != 0
                if only is not None:
                    mine &= only[lo:hi]
                at_ = np.flatnonzero(mine)
                got = have[at_] if gens is None else binomial(gens[i], have[at_], share)
                taken[lo:hi][at_] += got.astype(np.int32, copy=False)
                have[at_] -= got.astype(have.dtype, copy=False)

            map_blocks(take, n)
            if upto == end and (only is None or (others_at is not None and others_at >= end)):
                self._left.pop(period, None)
            else:
                small = left.dtype != np.uint16 and int(left.max(initial=0)) < 1 << 16
                self._left[period] = left.astype(np.uint16) if small else left
            at = upto
        if self.mult is None and self.offset is None:
            return taken
        return self._thin(taken, only, days, name)

    def _thin(self, taken: np.ndarray, only: np.ndarray | None, days: int, name: str) -> np.ndarray:
        """Keep each candidate with probability min(1, E_i / days); add Poisson(rate ×
        (E_i - days)) where the exposure exceeds the days (members of ``only``, or
        everyone, in no class: none).

        One pass in fixed blocks on the cores, each block from its own generator: a person
        needs at most one draw (a thinning, or acts above multiplier 1)."""
        n = self.classes.n_people
        class_of = self.classes.class_of()
        outside = self.classes.n_classes
        accept = self.classes.accept
        gens = block_generators(self._rng(f"thin/{name}", self.day), n)
        span = np.float64(days)

        def block(i: int, lo: int, hi: int) -> tuple[np.ndarray, ...]:
            have = taken[lo:hi]
            exposure = self.exposure(slice(lo, hi))
            below = np.flatnonzero((have > 0) & (exposure < span))
            kept = None
            if len(below):
                share = np.maximum(exposure[below] / span, 0.0)
                kept = binomial_each(gens[i], have[below], share)
                dropped = have[below] - kept
                have[below] = kept
                some = np.flatnonzero(dropped)
                below, dropped = below[some] + lo, dropped[some]
            above = exposure > span
            if only is not None:
                above &= only[lo:hi]
            at = np.flatnonzero(above & (class_of[lo:hi] != outside))
            more = np.empty(0, np.int64)
            if len(at):
                lam = self.rate[class_of[lo:hi][at]] * (exposure[at] - span)
                if accept is not None:
                    lam *= accept[lo:hi][at]
                more = poisson(gens[i], lam)
                have[at] += more
                some = np.flatnonzero(more)
                at, more = at[some] + lo, more[some]
            if kept is None:
                below, dropped = np.empty(0, np.int64), np.empty(0, np.int64)
            return below, dropped, at, more

        parts = map_blocks(block, n)
        for got, at in ((self.last_dropped, 0), (self.last_extra, 2)):
            pieces = [(part[at], part[at + 1]) for part in parts if len(part[at])]
            if not pieces:
                continue
            if got is not None:  # the other group's, drawn first in this draw
                pieces.insert(0, got)
            joined = (
                np.concatenate([who for who, _ in pieces]).astype(np.int64, copy=False),
                np.concatenate([c for _, c in pieces]).astype(np.int64, copy=False),
            )
            if at == 0:
                self.last_dropped = joined
            else:
                self.last_extra = joined
        return taken

    def draw(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Per person, the total events since their last draw; then reset.

        ``rng`` is used only by a stream without a key (see the class)."""
        self._fallback = rng
        self.last_extra = self.last_dropped = None
        if self.focus is not None and self.focus_days != self.days:
            # Two groups with different days since their last draw: each its own span.
            counts = self._take(~self.focus, self.days, "others", self.day - self.focus_days)
            if self.focus_days:
                counts += self._take(self.focus, self.focus_days, "focus", self.day)
        elif self.days:
            counts = self._take(None, self.days, "all")
        else:
            counts = np.zeros(self.classes.n_people, np.int32)
        self.days = self.focus_days = 0
        self.offset = None
        self.draws += 1
        return counts

    def draw_focus(self, rng: np.random.Generator | None = None) -> np.ndarray:
        """Per person, the total events of the focus group since its last draw (0 for
        everyone else, whose exposure accrues on); then reset the group's.

        Raises:
            RuntimeError: No focus group (see :meth:`set_focus`).
        """
        if self.focus is None:
            raise RuntimeError("no focus group to draw: set_focus first")
        self._fallback = rng
        self.last_extra = self.last_dropped = None
        if self.focus_days:
            counts = self._take(self.focus, self.focus_days, "focus", self.day - self.days)
        else:
            counts = np.zeros(self.classes.n_people, np.int32)
        if self.offset is not None:
            if not self.days:  # nothing pending for anyone: the offsets all go
                self.offset = None
            else:
                offset, focus = self.offset, self.focus

                def reset(_: int, lo: int, hi: int) -> None:
                    offset[lo:hi][focus[lo:hi]] = 0.0

                map_blocks(reset, len(offset))
        self.focus_days = 0
        self.draws += 1
        return counts


def lognormal_amounts(
    rng: np.random.Generator,
    n: int,
    median: float | np.ndarray,
    sigma: float,
    decimals: int = 0,
) -> np.ndarray:
    """``n`` amounts ``median × exp(sigma × Z)`` rounded to ``decimals`` (0: whole yuan).

    ``median`` is a number or one value per amount.
    """
    x = rng.standard_normal(n)
    x *= sigma
    np.exp(x, out=x)
    x *= median
    return np.round(x, decimals, out=x)


def lognormal_sums(
    rng: np.random.Generator,
    counts: np.ndarray,
    median: float,
    sigma: float,
    decimals: int = 0,
) -> np.ndarray:
    """Per entry i, the sum of ``counts[i]`` independent :func:`lognormal_amounts`.

    O(sum of counts) draws, made in chunks of about :data:`CHUNK` values; the chunks are
    cut from ``counts`` alone and each draws from its own generator spawned from ``rng``,
    so they run concurrently (:mod:`sclab.parallel`) with the same result on any number of
    cores.
    """
    counts = np.asarray(counts)  # any integer type: only the non-zero entries are widened
    out = np.zeros(len(counts))
    present = np.flatnonzero(counts)
    if not len(present):
        return out
    ends = np.cumsum(counts[present], dtype=np.int64)
    cuts = [0]
    while cuts[-1] < len(present):
        i = cuts[-1]
        before = int(ends[i - 1]) if i else 0
        cuts.append(max(i + 1, int(np.searchsorted(ends, before + CHUNK, side="right"))))
    gens = rng.spawn(len(cuts) - 1)

    def chunk(c: int) -> None:
        i, j = cuts[c], cuts[c + 1]
        before = int(ends[i - 1]) if i else 0
        x = lognormal_amounts(gens[c], int(ends[j - 1]) - before, median, sigma, decimals)
        starts = np.r_[0, ends[i : j - 1] - before]
        out[present[i:j]] = np.add.reduceat(x, starts)

    parallel_map(chunk, len(cuts) - 1)
    return out


def gamma_levels(variance: float, n_levels: int = 256) -> np.ndarray:
    """A Gamma law of mean 1 and the given variance as ``n_levels`` equally likely values.

    Level l is the conditional mean of the law on its l-th quantile bin
    ``[F^-1(l / L), F^-1((l + 1) / L))``, so a uniform level has mean exactly 1 and the
    law's shape (a long right tail when the variance is large); its variance falls short
    of ``variance`` by the variance within the bins (mostly the top one's). With shape k =
    1 / variance and scale 1 / k, the mean over a bin [a, b) is L (P(k + 1, b k) - P(k +
    1, a k)), P the regularised lower incomplete gamma function. Increasing; all 1 when
    ``variance`` is 0. A person's level fits one byte (uint8) for up to 256 levels.
    """
    if variance < 0 or n_levels < 1:
        raise ValueError(f"need variance >= 0 and at least one level, got {variance}, {n_levels}")
    if variance == 0:
        return np.ones(n_levels)
    from scipy import special

    k = 1.0 / variance
    q = np.arange(n_levels + 1) / n_levels
    edges = special.gammaincinv(k, q) / k  # quantiles of Gamma(k, scale 1/k); last is inf
    upper = special.gammainc(k + 1.0, edges * k)
    upper[-1] = 1.0
    levels = (upper[1:] - upper[:-1]) * n_levels
    return np.asarray(levels / levels.mean(), dtype=np.float64)  # mean 1 up to rounding
