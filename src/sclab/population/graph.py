"""Social tie graph over synthetic people, built by vectorised stub matching.

Every person here is synthetic; the graph only links rows of a generated population.

Core objects:
    :class:`DegreeSpec`: how many ties people want (lognormal, negative binomial or Poisson
        target degrees, capped at ``max_degree``).
    :class:`GraphSpec`: the degree spec plus homophily by district, age band and income
        band, and the share of ties that are online.
    :class:`SocialGraph`: the undirected graph in compressed sparse row (CSR) form:
        ``indptr`` (int32, or int64 past 2**31 tie ends; ``n + 1``), ``indices`` (int32,
        each tie stored in both directions, neighbours sorted ascending) and ``online``
        (one bit per entry of ``indices``, :class:`~sclab.population.bits.PackedBools`).
        No self loops, no duplicate ties.
    :func:`build_social_graph`: draws target degrees and matches tie stubs within nested
        cells (a configuration model per cell), see below.
    :func:`draw_degrees`, :func:`homophily_index`,
        :func:`expected_same_label_share_at_random`: the degree draw and two diagnostics
        used to check homophily.

Algorithm (stub matching). Person ``i`` gets a target degree ``d_i`` and hence ``d_i``
stubs. Each stub independently picks a matching level: the person's fine cell (district,
age band, income band) with probability ``same_district * age_homophily *
income_homophily``; the (district, age band) cell with
``same_district * age_homophily * (1 - income_homophily)``; the district with
``same_district * (1 - age_homophily)``; the whole population with ``1 - same_district``.
Each (level, cell) gets its own code, the stubs are sorted by (code, random tie break,
random person rank) packed into one int64 key, and consecutive stubs are paired (0-1, 2-3,
...). Pairing within a sorted cell is a uniformly random matching of that cell's stubs (up
to the negligible chance that two stubs of one person draw the same tie-break value and so
end up adjacent). A cell with an odd number of stubs hands its last stub to the next cell,
which only blurs homophily by at most one tie per cell; if the total number of stubs is
odd, the last stub stays unmatched. Self loops are dropped and duplicate ties merged, then
each tie is marked online with probability ``online_share``, and the ties are written into
CSR twice (``i -> j`` and ``j -> i``).

Realised degrees: the realised mean degree ``2 * n_ties / n`` is a little below the mean
target degree, because self loops and duplicates are dropped. Both are rare when cells hold
many stubs (the mean is 0.5 % lower at 200 000 people in 5 districts with the default spec,
0.05 % at 9.3 million people in 40 districts) but grow when cells are small compared with
the degrees of the people in them; a cell with a single person can only produce self loops,
so its stubs are lost (apart from the one that may spill into the next cell). People with
target degree 0 get no ties.

Cost model, with ``n`` people, ``S = sum(d_i)`` stubs and ``E <= S / 2`` ties:
    Time is ``O(S log S)``, dominated by three in-place sorts of int64 keys (all ``S``
    stubs, then the ``S / 2`` candidate ties, then the ``E`` ties in reverse orientation);
    everything else is linear, vectorised NumPy over chunks of ``2**20`` items (the only
    Python loops are over those chunks, never over people or ties).
    Memory at rest is ``4 * (n + 1) + 4.125 * 2E`` bytes, about ``4 + 4.125 * mean_degree``
    bytes per person (int32 ``indptr`` below 2**31 stored directions, int32 ``indices``, one
    bit of ``online`` per stored direction). Construction peaks at about
    ``max(8 * S, 9 * 2E) + 16 * n`` bytes plus about 50 MB of chunk temporaries: one
    int64 key per stub, reused in place for the candidate ties and then shrunk in place to
    the ``E`` unique ties, which coexist with the CSR output at the end; no other
    full-size copy of the stub array exists at any time. For 9.3 million people and mean
    degree 12 that is about 1.15 GB (about 125 bytes per person), of which the finished
    graph keeps 0.50 GB (53.5 bytes per person).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Literal

import numpy as np
import numpy.typing as npt

from sclab.population.bits import PackedBools

__all__ = [
    "INCOME_BANDS",
    "DegreeSpec",
    "GraphSpec",
    "SocialGraph",
    "build_social_graph",
    "draw_degrees",
    "expected_same_label_share_at_random",
    "homophily_index",
]

DegreeDistribution = Literal["lognormal", "negative_binomial", "poisson"]
_DISTRIBUTIONS: tuple[str, ...] = ("lognormal", "negative_binomial", "poisson")

#: Income bands used for homophily: ``income_decile // 2``, so deciles 0-1, 2-3, ... 8-9.
INCOME_BANDS = 5
#: Highest accepted age; the population generator produces 0..110.
_MAX_AGE = 150
#: Highest accepted district code (the scenario schema allows at most 255 districts).
_MAX_DISTRICT = (1 << 16) - 1
#: Items per vectorised chunk. Bounds the temporaries (a few arrays of this many int64)
#: to tens of megabytes; fixed so results do not depend on the machine.
_CHUNK = 1 << 20
#: Chunk for per-person counting with np.bincount, which allocates an n-sized result per
#: call; larger chunks mean fewer such calls.
_COUNT_CHUNK = 1 << 23
#: ``indices`` are int32, so person ids must fit.
_MAX_PEOPLE = int(np.iinfo(np.int32).max)
#: Fewest random tie-break bits we accept in the sort key (see ``_key_layout``).
_MIN_TIE_BITS = 8


def _check_share(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(
            f"{name} must be a share between 0 and 1 (got {value!r}); use e.g. 0.3 for 30 %, not 30"
        )


def _check_int(name: str, value: object, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low} (got {value!r})")


@dataclass(frozen=True)
class DegreeSpec:
    """How many ties people want (their target degree).

    Attributes:
        distribution: ``"lognormal"`` (heavy right tail), ``"negative_binomial"``
            (overdispersed counts) or ``"poisson"``.
        mean: Mean target degree, before the cap at ``max_degree``.
        dispersion: Lognormal: the sigma of log-degree. Negative binomial: ``1 / shape``, so
            that the variance is ``mean + dispersion * mean**2`` (0 gives Poisson). Ignored
            for Poisson.
        max_degree: Cap on the target degree (also capped at ``n - 1``).

    Raises:
        ValueError: If a value is out of range; the message says which and what is allowed.
    """

    distribution: DegreeDistribution = "lognormal"
    mean: float = 12.0
    dispersion: float = 0.8
    max_degree: int = 500

    def __post_init__(self) -> None:
        if self.distribution not in _DISTRIBUTIONS:
            raise ValueError(
                f"degree.distribution must be one of {', '.join(_DISTRIBUTIONS)} "
                f"(got {self.distribution!r})"
            )
        if (
            isinstance(self.mean, bool)
            or not isinstance(self.mean, Real)
            or not math.isfinite(self.mean)
            or self.mean <= 0
        ):
            raise ValueError(
                f"degree.mean must be a finite number > 0, the mean ties per person "
                f"(got {self.mean!r})"
            )
        if (
            isinstance(self.dispersion, bool)
            or not isinstance(self.dispersion, Real)
            or not math.isfinite(self.dispersion)
            or self.dispersion < 0
        ):
            raise ValueError(
                f"degree.dispersion must be a finite number >= 0 (got {self.dispersion!r}); "
                "use 0 for no extra spread"
            )
        _check_int("degree.max_degree", self.max_degree, 1)
        if self.mean > self.max_degree:
            raise ValueError(
                f"degree.mean ({self.mean}) must not exceed degree.max_degree "
                f"({self.max_degree}); raise max_degree or lower mean"
            )


@dataclass(frozen=True)
class GraphSpec:
    """The tie graph: degrees, homophily and the online share.

    Attributes:
        degree: How many ties people want.
        same_district: Share of tie stubs matched within the person's own district; the
            rest are matched across the whole population (which may still land in the
            same district by chance).
        age_band_years: Width of the age bands used for homophily (``age // width``).
        age_homophily: Of the within-district stubs, the share matched within the same age
            band too.
        income_homophily: Of those, the share matched within the same income band too
            (bands are ``income_decile // 2``, so 5 bands).
        online_share: Share of ties marked online.

    Raises:
        ValueError: If a value is out of range; the message says which and what is allowed.
    """

    degree: DegreeSpec = field(default_factory=DegreeSpec)
    same_district: float = 0.7
    age_band_years: int = 10
    age_homophily: float = 0.6
    income_homophily: float = 0.5
    online_share: float = 0.3

    def __post_init__(self) -> None:
        if not isinstance(self.degree, DegreeSpec):
            raise ValueError(
                f"degree must be a DegreeSpec (got {type(self.degree).__name__}); "
                "build one with DegreeSpec(mean=..., ...)"
            )
        for name in ("same_district", "age_homophily", "income_homophily", "online_share"):
            _check_share(name, getattr(self, name))
        _check_int("age_band_years", self.age_band_years, 1)


@dataclass(frozen=True)
class SocialGraph:
    """An undirected tie graph in CSR form; each tie is stored in both directions.

    The arrays are made read-only on construction (the graph is immutable).

    Attributes:
        indptr: int32 or int64 (int32 whenever the stored entries number below 2**31),
            length ``n + 1``; the ties of person ``i`` are entries
            ``indptr[i]:indptr[i + 1]`` of ``indices`` and ``online``.
        indices: int32 neighbour ids, sorted ascending within each person, no self loops,
            no duplicates, symmetric (``j`` in row ``i`` iff ``i`` in row ``j``).
        online: one flag per entry of ``indices`` (packed eight to a byte; a bool array
            given here is packed), equal for both directions of a tie.

    Raises:
        ValueError: If the arrays have the wrong dtype, shape or do not fit together. Only
            these O(1) checks are made; the structural properties are guaranteed by
            :func:`build_social_graph`, not re-checked here.
    """

    indptr: npt.NDArray[np.int32] | npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    online: PackedBools

    def __post_init__(self) -> None:
        online = self.online
        if isinstance(online, np.ndarray) and online.ndim == 1 and online.dtype == np.bool_:
            object.__setattr__(self, "online", PackedBools.from_bools(online))
        elif not isinstance(online, PackedBools):
            raise ValueError("online must be a 1-D bool array or PackedBools")
        for name, dtypes in (("indptr", (np.int32, np.int64)), ("indices", (np.int32,))):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype not in dtypes:
                expected = " or ".join(str(np.dtype(d)) for d in dtypes)
                raise ValueError(f"{name} must be a 1-D numpy array of dtype {expected}")
        if self.indptr.size == 0 or self.indptr[0] != 0:
            raise ValueError("indptr must have length n + 1 and start at 0")
        if self.indptr[-1] != self.indices.size or self.online.size != self.indices.size:
            raise ValueError("indptr[-1], len(indices) and len(online) must all be equal")
        if self.indices.size % 2:
            raise ValueError("indices must hold every tie twice (once per direction)")
        for arr in (self.indptr, self.indices):
            arr.flags.writeable = False
        self.online.freeze()

    @property
    def n(self) -> int:
        """Number of people (nodes), including those without ties."""
        return int(self.indptr.size - 1)

    @property
    def n_ties(self) -> int:
        """Number of undirected ties (half the number of stored entries)."""
        return int(self.indices.size // 2)

    @property
    def nbytes(self) -> int:
        """Bytes held by the three arrays."""
        return int(self.indptr.nbytes + self.indices.nbytes + self.online.nbytes)

    def degree(self) -> npt.NDArray[np.int32]:
        """Realised number of ties per person (int32, length ``n``)."""
        return np.diff(self.indptr).astype(np.int32)

    def neighbours(self, i: int) -> npt.NDArray[np.int32]:
        """Sorted neighbour ids of person ``i`` (a read-only view).

        Raises:
            IndexError: If ``i`` is not in ``0..n-1`` (negative ids are not wrapped).
        """
        if not 0 <= i < self.n:
            raise IndexError(f"person {i} is out of range 0..{self.n - 1}")
        return self.indices[self.indptr[i] : self.indptr[i + 1]]


def _entry_rows(indptr: npt.NDArray[np.integer], lo: int, hi: int) -> npt.NDArray[np.int32]:
    """Row (person) of each stored entry ``lo..hi-1``; O(m log n) with no n-sized temp."""
    # Positions in indptr's own type: NumPy would otherwise search a widened copy of it.
    entries = np.arange(lo, hi, dtype=indptr.dtype)
    return (np.searchsorted(indptr, entries, side="right") - 1).astype(np.int32)


def draw_degrees(n: int, spec: DegreeSpec, rng: np.random.Generator) -> npt.NDArray[np.int32]:
    """Draw target degrees for ``n`` people.

    Lognormal draws use ``mu = log(mean) - sigma**2 / 2`` so that the mean is ``mean``,
    and are rounded stochastically (down, or up with probability equal to the fraction) so
    that rounding does not shift the mean. Negative binomial uses ``shape = 1 /
    dispersion``; with dispersion 0 (or below ``1e-9 / mean``) it is Poisson.

    Args:
        n: Number of people (>= 0).
        spec: The degree distribution.
        rng: Source of randomness.

    Returns:
        int32 array of length ``n``, clipped to ``[0, min(max_degree, n - 1)]`` (nobody can
        have more distinct neighbours than ``n - 1``). Clipping lowers the mean only when
        the cap bites, which the defaults make negligible.

    Raises:
        ValueError: If ``n`` is negative.
    """
    _check_int("n", n, 0)
    # Negative binomial tends to Poisson as dispersion -> 0; below this the shape 1 /
    # dispersion overflows or p rounds to 1, so draw Poisson instead.
    nb_as_poisson = spec.dispersion * spec.mean < 1e-9
    if spec.distribution == "poisson" or (
        spec.distribution == "negative_binomial" and nb_as_poisson
    ):
        raw = rng.poisson(spec.mean, size=n).astype(np.float64)
    elif spec.distribution == "negative_binomial":
        # p = shape / (shape + mean), written so that it stays finite for any dispersion.
        p = 1.0 / (1.0 + spec.dispersion * spec.mean)
        raw = rng.negative_binomial(1.0 / spec.dispersion, p, size=n).astype(np.float64)
    else:
        sigma = spec.dispersion
        raw = rng.lognormal(math.log(spec.mean) - sigma * sigma / 2.0, sigma, size=n)
        floor = np.floor(raw)
        raw = floor + (rng.random(n) < raw - floor)
    cap = min(spec.max_degree, max(n - 1, 0))
    return np.clip(raw, 0, cap).astype(np.int32)


def _int_codes(name: str, values: npt.ArrayLike, high: int) -> np.ndarray:
    """Check integer codes in ``0..high``; return them in a dtype that fits in int32.

    Narrow dtypes (uint8, int16, ...) are kept as they are rather than copied, which
    would cost up to 4 bytes per person for the whole build.
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array with one value per person")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"{name} must hold integer codes (got dtype {arr.dtype}); cast with .astype(int)"
        )
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > high:
            raise ValueError(f"{name} must lie in 0..{high} (got values {lo}..{hi})")
    return arr if np.can_cast(arr.dtype, np.int32) else arr.astype(np.int32)


def _key_layout(n: int, n_codes: int) -> tuple[int, int]:
    """Bits for the person rank and for the random tie break in the int64 sort key.

    The key is ``code << (tie_bits + rank_bits) | tie << rank_bits | rank`` and must stay
    below ``2**63``. Ties in ``tie`` are broken by ``rank``, a random permutation of
    people, so the order within a cell stays random even when tie bits run short; only
    stubs of one person that draw the same tie value end up adjacent.
    """
    rank_bits = max(1, (n - 1).bit_length())
    code_bits = max(1, (n_codes - 1).bit_length())
    tie_bits = 63 - rank_bits - code_bits
    if tie_bits < _MIN_TIE_BITS:
        raise ValueError(
            f"too many homophily cells ({n_codes}) for {n} people to fit the sort key; "
            "use wider age bands (age_band_years) or fewer districts"
        )
    return rank_bits, tie_bits


def build_social_graph(
    district: npt.ArrayLike,
    age_years: npt.ArrayLike,
    income_decile: npt.ArrayLike,
    spec: GraphSpec,
    rng: np.random.Generator,
) -> SocialGraph:
    """Build the tie graph for a synthetic population (see the module docstring).

    Args:
        district: District code per person, integers ``0..D-1`` (at most 65535).
        age_years: Age per person, integers ``0..150`` (the generator produces 0..110).
        income_decile: Income decile per person, integers ``0..9``.
        spec: Degrees, homophily and online share.
        rng: Source of randomness; the same seed gives identical arrays. Its first use
            is ``draw_degrees(n, spec.degree, rng)``, so the target degrees can be
            reproduced from the seed; no person gets more ties than their target.

    Returns:
        The graph. Its realised mean degree is a little below ``spec.degree.mean``
        because self loops and duplicate ties are dropped (about 0.5 % lower at 200 000
        people in 5 districts with the default spec, 0.05 % at 9.3 million in 40; more if
        homophily cells hold few people).

    Raises:
        ValueError: If the arrays differ in length, are not 1-D integer codes in range, or
            there are more people than int32 ids allow.
    """
    dist = _int_codes("district", district, _MAX_DISTRICT)
    age = _int_codes("age_years", age_years, _MAX_AGE)
    income = _int_codes("income_decile", income_decile, 9)
    n = int(dist.size)
    if age.size != n or income.size != n:
        raise ValueError(
            f"district, age_years and income_decile must have one value per person "
            f"(got lengths {n}, {age.size}, {income.size})"
        )
    if n > _MAX_PEOPLE:
        raise ValueError(f"at most {_MAX_PEOPLE} people fit int32 ids (got {n})")

    degrees = draw_degrees(n, spec.degree, rng)
    if n == 0:
        return _empty_graph(0)
    # Each helper below keeps its chunk temporaries local, so they are freed on return
    # and no stray view of the key array survives into the in-place shrink.
    keys, perm, rank_bits = _stub_keys(dist, age, income, degrees, spec, rng)
    del degrees
    if keys.size < 2:
        return _empty_graph(n)
    n_pairs = _pair_in_place(keys, perm, rank_bits)
    del perm
    n_ties = _dedup_in_place(keys, n_pairs, spec.online_share, rng)
    # Release the tail of `keys` in place (realloc) rather than copying the ties out,
    # which would briefly hold both. Needs that no view of `keys` is alive; if something
    # else holds a reference (a debugger, say), copy instead.
    try:
        keys.resize((n_ties,), refcheck=True)
        ties = keys
    except ValueError:
        ties = keys[:n_ties].copy()
    del keys
    return _ties_to_csr(ties, n)


def _stub_keys(
    dist: np.ndarray,
    age: np.ndarray,
    income: np.ndarray,
    degrees: npt.NDArray[np.int32],
    spec: GraphSpec,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], int]:
    """One sorted int64 key per stub: ``code << (T + R) | tie << R | rank``.

    ``code`` identifies the stub's (level, cell), ``tie`` is a random ``T``-bit tie break
    and ``rank`` the person's position in a random permutation, ``perm`` (returned with
    ``R``, the rank bit count), so the person id is ``perm[key & (2**R - 1)]``.
    """
    n = int(dist.size)
    # Cell codes. Level 0: fine cell (district, age band, income band); level 1:
    # (district, age band); level 2: district; level 3: everybody. Every level's codes
    # derive from the fine code by integer division, so only the fine code is stored.
    n_age = int(age.max()) // spec.age_band_years + 1
    n_dist = int(dist.max()) + 1
    n_fine = n_dist * n_age * INCOME_BANDS
    offsets = np.array([0, n_fine, n_fine + n_dist * n_age, n_fine + n_dist * n_age + n_dist])
    divisors = np.array([1, INCOME_BANDS, INCOME_BANDS * n_age, n_fine], dtype=np.int64)
    rank_bits, tie_bits = _key_layout(n, int(offsets[3]) + 1)
    # int32 is safe: the district (65535) and age (150) caps keep codes below 2**26.
    fine = dist.astype(np.int32) * n_age
    fine += age // spec.age_band_years
    fine *= INCOME_BANDS
    fine += income // 2
    # Stub level from a uniform draw u: level = number of thresholds <= u, so level 0 has
    # probability s*a*i, level 1 s*a*(1-i), level 2 s*(1-a) and level 3 1-s.
    s, a, i = spec.same_district, spec.age_homophily, spec.income_homophily
    thresholds = np.array([s * a * i, s * a, s])

    # People in random order: the key carries the rank in this order, so that stubs with
    # equal tie-break values are ordered randomly rather than by person id (ids often
    # follow district or household order).
    perm = rng.permutation(n).astype(np.int32)
    deg_perm = degrees[perm]
    fine_perm = fine[perm]
    del fine
    stub_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg_perm, out=stub_start[1:])
    n_stubs = int(stub_start[-1])
    # Person chunk boundaries holding about _CHUNK stubs each (at most max_degree more).
    cuts = np.searchsorted(stub_start, np.arange(_CHUNK, n_stubs, _CHUNK))
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    starts = stub_start[bounds]
    del stub_start

    keys = np.empty(n_stubs, dtype=np.int64)
    shift = tie_bits + rank_bits
    for p0, p1, s0, s1 in zip(bounds[:-1], bounds[1:], starts[:-1], starts[1:], strict=True):
        # Codes of this chunk's people at each level (a small table), then one gather
        # per stub; cheaper than a per-stub integer division by a per-stub divisor.
        fp = fine_perm[p0:p1]
        table = np.stack([fp, offsets[1] + fp // divisors[1], offsets[2] + fp // divisors[2]])
        table = np.vstack([table, np.full((1, fp.size), offsets[3])]).astype(np.int64)
        local = np.repeat(np.arange(p1 - p0, dtype=np.int64), deg_perm[p0:p1])
        u = rng.random(s1 - s0)
        level = (u >= thresholds[0]).view(np.int8) + (u >= thresholds[1]) + (u >= thresholds[2])
        tie = rng.integers(0, 1 << tie_bits, size=s1 - s0, dtype=np.int64)
        keys[s0:s1] = (table[level, local] << shift) | (tie << rank_bits) | (local + p0)
    del deg_perm, fine_perm
    keys.sort()
    return keys, perm, rank_bits


def _pair_in_place(keys: npt.NDArray[np.int64], perm: npt.NDArray[np.int32], rank_bits: int) -> int:
    """Pair sorted stubs 2k and 2k+1; write ``lo * n + hi`` (-1 for a self loop) to keys[k].

    Chunk ``[lo, hi)`` of pairs reads ``keys[2lo:2hi]`` into temporaries before writing
    ``keys[lo:hi]``, which never lies ahead of what has been read, so the key array is
    reused in place instead of allocating a second ``S / 2`` int64 array. An odd last
    stub is left unmatched. Returns the number of pairs.
    """
    n = int(perm.size)
    rank_mask = (1 << rank_bits) - 1
    n_pairs = keys.size // 2
    for lo in range(0, n_pairs, _CHUNK):
        hi = min(n_pairs, lo + _CHUNK)
        ids = perm[keys[2 * lo : 2 * hi] & rank_mask]
        x, y = ids[0::2], ids[1::2]
        pair = np.minimum(x, y).astype(np.int64) * n + np.maximum(x, y)
        pair[x == y] = -1  # self loop: sorts first and is skipped by _dedup_in_place
        keys[lo:hi] = pair
    return n_pairs


def _dedup_in_place(
    keys: npt.NDArray[np.int64], n_pairs: int, online_share: float, rng: np.random.Generator
) -> int:
    """Sort pair codes ``keys[:n_pairs]``, drop self loops (-1) and duplicates, in place.

    The unique ties are compacted to the front of ``keys`` with the online flag appended
    as bit 0: ``tie = (a * n + b) * 2 + online``, still sorted. Writes never overtake
    reads (at most as many items are written as have been read). Returns the tie count.
    """
    pairs = keys[:n_pairs]
    pairs.sort()
    n_ties = 0
    prev = -1
    for lo in range(int(np.searchsorted(pairs, 0)), n_pairs, _CHUNK):
        hi = min(n_pairs, lo + _CHUNK)
        chunk = pairs[lo:hi]
        new = np.empty(chunk.size, dtype=np.bool_)
        new[0] = chunk[0] != prev
        np.not_equal(chunk[1:], chunk[:-1], out=new[1:])
        prev = int(chunk[-1])
        kept = chunk[new]  # a copy, so overwriting keys[n_ties:...] below is safe
        online = rng.random(kept.size) < online_share
        keys[n_ties : n_ties + kept.size] = (kept << 1) | online
        n_ties += kept.size
    return n_ties


def _empty_graph(n: int) -> SocialGraph:
    return SocialGraph(
        np.zeros(n + 1, dtype=np.int64),
        np.empty(0, dtype=np.int32),
        PackedBools.full(0, False),
    )


def _row_starts(ties: npt.NDArray[np.int64], n: int, out: npt.NDArray[np.int64]) -> None:
    """``out[i]`` = index of the first tie of row ``i`` in sorted ``(row * n + col) * 2 + bit``.

    Chunked so that the probe values never exist as one n-sized temporary.
    """
    for lo in range(0, out.size, _CHUNK):
        hi = min(out.size, lo + _CHUNK)
        out[lo:hi] = np.searchsorted(ties, np.arange(lo, hi, dtype=np.int64) * (2 * n))


def _ties_to_csr(ties: npt.NDArray[np.int64], n: int) -> SocialGraph:
    """Write sorted unique ties ``(a * n + b) * 2 + online`` (``a < b``) into CSR.

    Row ``i`` holds first its smaller neighbours (ties ``(j, i)``, the reverse direction)
    and then its larger ones (ties ``(i, j)``), each block sorted. The forward block is
    already in order; the reverse block is made by rewriting ``ties`` in place as
    ``(b * n + a) * 2 + online`` and sorting it. Positions follow from the row offsets,
    so no int64 key per stored entry (2E of them) is ever needed, and besides the ties and
    the output only two n-sized arrays are alive at a time.
    """
    n_ties = ties.size
    fwd_start = np.empty(n, dtype=np.int64)
    _row_starts(ties, n, fwd_start)
    rev_count = np.zeros(n, dtype=np.int64)
    for lo in range(0, n_ties, _COUNT_CHUNK):
        rev_count += np.bincount((ties[lo : lo + _COUNT_CHUNK] >> 1) % n, minlength=n)
    # indptr[i] = fwd_start[i] + rev_start[i], with rev_start the exclusive cumsum of
    # rev_count. Forward entry k (row a) goes to indptr[a] + rev_count[a] + (k -
    # fwd_start[a]) = rev_start[a + 1] + k, so its base is the inclusive cumsum.
    base = np.cumsum(rev_count, out=rev_count)
    indptr = np.zeros(n + 1, dtype=np.int64)
    indptr[1:] = base
    indptr[:-1] += fwd_start
    indptr[-1] += n_ties
    del fwd_start, rev_count
    indices = np.empty(2 * n_ties, dtype=np.int32)
    online = np.empty(2 * n_ties, dtype=np.bool_)
    _scatter(ties, base, n, indices, online, reverse=False)
    ties.sort()
    # Reverse entry j (row b) goes to indptr[b] + (j - rev_start[b]).
    _row_starts(ties, n, base)
    np.subtract(indptr[:-1], base, out=base)
    _scatter(ties, base, n, indices, online, reverse=True)
    return SocialGraph(_narrow_offsets(indptr), indices, PackedBools.from_bools(online))


def _narrow_offsets(
    indptr: npt.NDArray[np.int64],
) -> npt.NDArray[np.int32] | npt.NDArray[np.int64]:
    """Row offsets as int32 when they fit, else unchanged.

    int32 halves their memory; 9.3M people store 112M tie ends, far below 2**31.
    """
    if indptr.size and indptr[-1] < np.iinfo(np.int32).max:
        return indptr.astype(np.int32)
    return indptr


def _scatter(
    ties: npt.NDArray[np.int64],
    base: npt.NDArray[np.int64],
    n: int,
    indices: npt.NDArray[np.int32],
    online: npt.NDArray[np.bool_],
    *,
    reverse: bool,
) -> None:
    """Write tie k, ``(row * n + col) * 2 + bit``, to position ``base[row] + k``.

    With ``reverse=False`` also rewrites ``ties`` in place to the reverse orientation
    ``(col * n + row) * 2 + bit``, ready to be sorted for the second pass.
    """
    for lo in range(0, ties.size, _CHUNK):
        hi = min(ties.size, lo + _CHUNK)
        t = ties[lo:hi]
        bit = t & 1
        row, col = np.divmod(t >> 1, n)
        pos = base[row] + np.arange(lo, hi)
        indices[pos] = col
        online[pos] = bit
        if not reverse:
            ties[lo:hi] = ((col * n + row) << 1) | bit


def homophily_index(graph: SocialGraph, labels: npt.ArrayLike) -> float:
    """Observed share of ties whose two ends share a label.

    Args:
        graph: The graph.
        labels: One label per person (any dtype that supports ``==``), e.g. district codes,
            ``age // 10`` or ``income_decile // 2``.

    Returns:
        Same-label ties divided by all ties; NaN if the graph has no ties. Compare with
        :func:`expected_same_label_share_at_random` to see how much homophily there is.

    Raises:
        ValueError: If ``labels`` does not have one entry per person.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.size != graph.n:
        raise ValueError(f"labels must have one value per person ({graph.n}), got {lab.shape}")
    total = graph.indices.size
    if total == 0:
        return math.nan
    same = 0
    # Over both stored directions: each tie counts twice in numerator and denominator.
    for lo in range(0, total, _CHUNK):
        hi = min(total, lo + _CHUNK)
        rows = _entry_rows(graph.indptr, lo, hi)
        same += int(np.count_nonzero(lab[rows] == lab[graph.indices[lo:hi]]))
    return same / total


def expected_same_label_share_at_random(
    labels: npt.ArrayLike, degree: npt.ArrayLike | None = None
) -> float:
    """Same-label tie share expected without homophily: ``sum_k p_k**2``.

    In a configuration model each stub is matched to a uniformly random other stub, so
    both ends of a tie carry label ``k`` with probability ``p_k**2``, where ``p_k`` is
    label ``k``'s share of all stubs, i.e. its degree-weighted share of people.

    Args:
        labels: One label per person.
        degree: Stubs per person used as weights, e.g. ``graph.degree()`` (the baseline
            for that realised graph) or target degrees. If omitted, every person counts
            once; that equals the degree-weighted value when degree does not depend on
            the label, as in :func:`build_social_graph`, up to sampling noise.

    Returns:
        The expected share in ``[0, 1]``; NaN if there are no people or all weights are 0.

    Raises:
        ValueError: If ``labels`` is not 1-D, or ``degree`` differs from it in length or is
            negative.
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError("labels must be a 1-D array with one value per person")
    weights = None
    if degree is not None:
        weights = np.asarray(degree, dtype=np.float64)
        if weights.shape != lab.shape:
            raise ValueError(
                f"degree must have one value per person ({lab.size}), got {weights.shape}"
            )
        if weights.size and weights.min() < 0:
            raise ValueError("degree must not be negative")
    if lab.size == 0:
        return math.nan
    _, inverse = np.unique(lab, return_inverse=True)
    mass = np.bincount(inverse.ravel(), weights=weights)
    total = float(mass.sum())
    if total <= 0:
        return math.nan
    p = mass / total
    return float(np.dot(p, p))
