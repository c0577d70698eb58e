"""Tests for sclab.population.graph: CSR structure, degrees, homophily, online share.

The large-population tests share one synthetic population of 200 000 people in 5 districts
of unequal size, and cache the graphs they build, to keep the module well under 20 s.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sclab.population.bits import PackedBools
from sclab.population.graph import (
    DegreeSpec,
    GraphSpec,
    SocialGraph,
    build_social_graph,
    draw_degrees,
    expected_same_label_share_at_random,
    homophily_index,
)

BIG_N = 200_000
DISTRICT_SHARES = (0.35, 0.25, 0.2, 0.12, 0.08)


@functools.cache
def big_population() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """200 000 synthetic people: district (uint8), age in years, income decile."""
    rng = np.random.default_rng(20240601)
    district = rng.choice(len(DISTRICT_SHARES), size=BIG_N, p=DISTRICT_SHARES).astype(np.uint8)
    age = rng.integers(0, 111, size=BIG_N).astype(np.int16)
    income = rng.integers(0, 10, size=BIG_N).astype(np.int8)
    return district, age, income


@functools.cache
def big_graph(spec: GraphSpec, seed: int = 1) -> SocialGraph:
    district, age, income = big_population()
    return build_social_graph(district, age, income, spec, np.random.default_rng(seed))


def assert_valid_graph(g: SocialGraph, n: int) -> None:
    """Every structural promise of SocialGraph, checked from the raw arrays."""
    indptr, indices, online = g.indptr, g.indices, np.asarray(g.online)
    assert indptr.dtype in (np.int32, np.int64) and indices.dtype == np.int32
    assert online.dtype == np.bool_
    assert isinstance(g.online, PackedBools) and g.online.nbytes == (online.size + 7) // 8
    assert g.n == n and indptr.shape == (n + 1,)
    assert indptr[0] == 0 and indptr[-1] == indices.size == online.size
    assert np.all(np.diff(indptr) >= 0)
    if indices.size:
        assert indices.min() >= 0 and indices.max() < n
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    assert not np.any(rows == indices), "self loop"
    # Rows are non-decreasing, so strictly increasing row * n + col means each row's
    # neighbours are sorted ascending with no duplicates.
    fwd = rows * n + indices
    assert np.all(np.diff(fwd) > 0), "unsorted or duplicate neighbours"
    # Symmetry: the set of reversed entries equals the set of entries.
    rev = indices.astype(np.int64) * n + rows
    assert np.array_equal(np.sort(rev), fwd), "not symmetric"
    # Online symmetry: entry (i, j) and entry (j, i) carry the same flag.
    assert np.array_equal(online[np.searchsorted(fwd, rev)], online), "online not symmetric"
    assert g.n_ties * 2 == indices.size
    assert np.array_equal(g.degree(), np.diff(indptr))
    assert g.nbytes == indptr.nbytes + indices.nbytes + g.online.nbytes
    for i in range(min(n, 5)):
        assert np.array_equal(g.neighbours(i), indices[indptr[i] : indptr[i + 1]])


# --- structure on random small inputs ----------------------------------------------------


@st.composite
def graph_specs(draw: st.DrawFn) -> GraphSpec:
    max_degree = draw(st.integers(1, 60))
    degree = DegreeSpec(
        distribution=draw(st.sampled_from(["lognormal", "negative_binomial", "poisson"])),
        mean=draw(st.floats(0.05, min(30.0, max_degree))),
        dispersion=draw(st.floats(0.0, 2.0)),
        max_degree=max_degree,
    )
    share = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
    return GraphSpec(
        degree=degree,
        same_district=draw(share),
        age_band_years=draw(st.integers(1, 40)),
        age_homophily=draw(share),
        income_homophily=draw(share),
        online_share=draw(share),
    )


@st.composite
def populations(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 300))
    n_districts = draw(st.integers(1, 8))
    district = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, n_districts - 1)))
    age = draw(hnp.arrays(np.int16, n, elements=st.integers(0, 110)))
    income = draw(hnp.arrays(np.int8, n, elements=st.integers(0, 9)))
    return district, age, income


@settings(max_examples=150, deadline=None)
@given(pop=populations(), spec=graph_specs(), seed=st.integers(0, 2**32 - 1))
def test_structure_on_random_small_inputs(
    pop: tuple[np.ndarray, np.ndarray, np.ndarray], spec: GraphSpec, seed: int
) -> None:
    district, age, income = pop
    n = district.size
    g = build_social_graph(district, age, income, spec, np.random.default_rng(seed))
    assert_valid_graph(g, n)
    # The target degrees are the first draw from rng; a person never gets more ties than
    # stubs, so nobody with target 0 has a tie and max_degree holds.
    target = draw_degrees(n, spec.degree, np.random.default_rng(seed))
    assert np.all(g.degree() <= target)
    assert g.degree().max(initial=0) <= min(spec.degree.max_degree, n - 1)
    if spec.online_share == 0.0:
        assert g.online.count() == 0
    if spec.online_share == 1.0:
        assert g.online.count() == len(g.online)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_populations(n: int) -> None:
    rng = np.random.default_rng(3)
    g = build_social_graph(np.zeros(n, np.uint8), np.full(n, 30), np.full(n, 5), GraphSpec(), rng)
    assert_valid_graph(g, n)
    assert g.n_ties <= (1 if n == 2 else 0)


def test_nobody_wants_ties_gives_empty_graph() -> None:
    n = 1000
    spec = GraphSpec(degree=DegreeSpec("poisson", mean=1e-9, max_degree=5))
    g = build_social_graph(
        np.zeros(n, np.uint8), np.full(n, 40), np.full(n, 3), spec, np.random.default_rng(0)
    )
    assert_valid_graph(g, n)
    assert g.n_ties == 0


def test_full_homophily_keeps_ties_inside_cells() -> None:
    # With every stub matched in its fine cell, a tie can cross cells only where a cell
    # with an odd stub count hands its last stub to the next cell: at most one per cell
    # boundary, so fewer cross-cell ties than non-empty cells.
    rng = np.random.default_rng(11)
    n = 20_000
    district = rng.integers(0, 3, n).astype(np.uint8)
    age = rng.integers(0, 60, n)
    income = rng.integers(0, 10, n)
    spec = GraphSpec(same_district=1.0, age_homophily=1.0, income_homophily=1.0)
    g = build_social_graph(district, age, income, spec, np.random.default_rng(12))
    cell = (district.astype(np.int64) * 6 + age // 10) * 5 + income // 2
    a = np.repeat(np.arange(n), g.degree())  # each tie twice, once from each end
    b = g.indices
    n_cells = np.unique(cell).size
    assert g.n_ties > 50 * n_cells
    assert np.count_nonzero(cell[a] != cell[b]) < 2 * n_cells


# --- degree distribution -----------------------------------------------------------------


@pytest.mark.parametrize("distribution", ["lognormal", "negative_binomial", "poisson"])
def test_realised_mean_degree_close_to_target(distribution: str) -> None:
    # 5 % tolerance: the realised mean sits below the target because self loops and
    # duplicate ties are dropped (about 0.5 % here) and the draw itself has sampling noise
    # (standard error of the mean about 0.2 % at 200 000 people). A bug such as counting
    # ties once instead of twice (-50 %) or using log(mean) as the lognormal mu (+38 %)
    # is far outside it.
    spec = GraphSpec(degree=DegreeSpec(distribution=distribution, mean=12.0))
    g = big_graph(spec)
    realised = 2 * g.n_ties / g.n
    assert abs(realised - 12.0) <= 0.05 * 12.0
    assert realised <= 12.0 * 1.01  # losses only: it should not overshoot


def test_lognormal_degrees_vary_more_than_poisson() -> None:
    lognormal = big_graph(GraphSpec(degree=DegreeSpec("lognormal", mean=12.0, dispersion=0.8)))
    poisson = big_graph(GraphSpec(degree=DegreeSpec("poisson", mean=12.0)))
    var_lognormal = lognormal.degree().var()
    var_poisson = poisson.degree().var()
    # Theory: 12**2 * (exp(0.64) - 1) ~ 129 against 12.
    assert var_lognormal > 5 * var_poisson


@pytest.mark.parametrize(
    ("spec", "variance"),
    [
        (DegreeSpec("poisson", mean=12.0), 12.0),
        (DegreeSpec("negative_binomial", mean=12.0, dispersion=0.8), 12.0 + 0.8 * 144.0),
        (DegreeSpec("negative_binomial", mean=12.0, dispersion=0.0), 12.0),
        # Lognormal variance plus at most 0.25 from the stochastic rounding.
        (DegreeSpec("lognormal", mean=12.0, dispersion=0.8), 144.0 * math.expm1(0.64)),
    ],
)
def test_draw_degrees_mean_and_variance(spec: DegreeSpec, variance: float) -> None:
    d = draw_degrees(BIG_N, spec, np.random.default_rng(5))
    assert d.dtype == np.int32 and d.shape == (BIG_N,) and d.min() >= 0
    # Sampling error of the mean is below 0.3 % and of the variance below 2 % here.
    assert d.mean() == pytest.approx(12.0, rel=0.02)
    assert d.var() == pytest.approx(variance, rel=0.1)


def test_max_degree_is_respected() -> None:
    degree = DegreeSpec("lognormal", mean=10.0, dispersion=1.5, max_degree=25)
    target = draw_degrees(BIG_N, degree, np.random.default_rng(9))
    assert target.max() == 25  # the cap binds for this heavy tail
    g = big_graph(GraphSpec(degree=degree))
    assert 0 < g.degree().max() <= 25


def test_degrees_are_capped_at_n_minus_one() -> None:
    d = draw_degrees(5, DegreeSpec("poisson", mean=40.0, max_degree=100), np.random.default_rng(0))
    assert d.max() <= 4
    assert draw_degrees(0, DegreeSpec(), np.random.default_rng(0)).shape == (0,)


# --- homophily ---------------------------------------------------------------------------


def test_same_district_share_matches_spec() -> None:
    district, _, _ = big_population()
    g = big_graph(GraphSpec())
    observed = homophily_index(g, district)
    at_random = expected_same_label_share_at_random(district, g.degree())
    # Within-district stubs always land in the district; the rest do so by chance.
    expected = 0.7 + 0.3 * at_random
    assert abs(observed - expected) <= 0.02
    assert observed > at_random + 0.4
    assert 0.2 < at_random < 0.3  # unequal districts: sum of squared shares ~ 0.24


def test_no_district_homophily_gives_random_share() -> None:
    district, _, _ = big_population()
    g = big_graph(GraphSpec(same_district=0.0))
    at_random = expected_same_label_share_at_random(district, g.degree())
    assert abs(homophily_index(g, district) - at_random) <= 0.01


def test_age_homophily_raises_same_age_band_share() -> None:
    _, age, _ = big_population()
    band = age // 10
    g = big_graph(GraphSpec())
    control = big_graph(GraphSpec(age_homophily=0.0))
    observed = homophily_index(g, band)
    at_random = expected_same_label_share_at_random(band, g.degree())
    assert observed > homophily_index(control, band) + 0.25
    # Fine- and age-level stubs (0.7 * 0.6) stay in the band; the rest match by chance,
    # as age is independent of district in this population.
    assert abs(observed - (0.42 + 0.58 * at_random)) <= 0.02
    assert abs(homophily_index(control, band) - at_random) <= 0.01


def test_income_homophily_raises_same_income_band_share() -> None:
    _, _, income = big_population()
    band = income // 2
    g = big_graph(GraphSpec())
    control = big_graph(GraphSpec(income_homophily=0.0))
    observed = homophily_index(g, band)
    at_random = expected_same_label_share_at_random(band, g.degree())
    assert observed > homophily_index(control, band) + 0.1
    assert abs(observed - (0.21 + 0.79 * at_random)) <= 0.02


def test_homophily_diagnostics_on_a_hand_made_graph() -> None:
    # Path 0 - 1 - 2: one tie within label 0, one across.
    g = SocialGraph(
        indptr=np.array([0, 1, 3, 4], dtype=np.int64),
        indices=np.array([1, 0, 2, 1], dtype=np.int32),
        online=np.array([True, True, False, False]),
    )
    assert_valid_graph(g, 3)
    labels = np.array([0, 0, 1])
    assert homophily_index(g, labels) == pytest.approx(0.5)
    assert expected_same_label_share_at_random(labels) == pytest.approx(5 / 9)
    # Stub-weighted: label 0 holds 3 of the 4 stubs.
    assert expected_same_label_share_at_random(labels, g.degree()) == pytest.approx(10 / 16)
    assert math.isnan(homophily_index(SocialGraph(*_empty_arrays(3)), labels))
    with pytest.raises(ValueError, match="one value per person"):
        homophily_index(g, np.array([0, 1]))
    with pytest.raises(ValueError, match="degree"):
        expected_same_label_share_at_random(labels, np.array([1, 2]))


def _empty_arrays(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(n + 1, np.int64), np.empty(0, np.int32), np.empty(0, np.bool_)


# --- online ties -------------------------------------------------------------------------


def test_online_share_matches_spec() -> None:
    g = big_graph(GraphSpec(online_share=0.3))
    # Over 1.2 million ties the sampling standard error is about 0.0004.
    assert abs(g.online.count() / len(g.online) - 0.3) <= 0.01


# --- determinism -------------------------------------------------------------------------


def test_same_seed_same_graph_and_different_seed_different_graph() -> None:
    rng = np.random.default_rng(2)
    n = 5000
    district = rng.integers(0, 4, n).astype(np.uint8)
    age = rng.integers(0, 111, n)
    income = rng.integers(0, 10, n)
    spec = GraphSpec()

    def build(seed: int) -> SocialGraph:
        return build_social_graph(district, age, income, spec, np.random.default_rng(seed))

    first, again, other = build(42), build(42), build(43)
    assert first.indptr.dtype == np.int32  # offsets narrowed: far below 2**31 entries
    for name in ("indptr", "indices", "online"):
        assert np.array_equal(np.asarray(getattr(first, name)), np.asarray(getattr(again, name)))
    assert not np.array_equal(first.indptr, other.indptr) or not np.array_equal(
        first.indices, other.indices
    )


# --- validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"distribution": "pareto"}, "distribution"),
        ({"mean": 0.0}, "mean"),
        ({"mean": -3.0}, "mean"),
        ({"mean": math.nan}, "mean"),
        ({"mean": math.inf}, "mean"),
        ({"dispersion": -0.1}, "dispersion"),
        ({"dispersion": math.nan}, "dispersion"),
        ({"max_degree": 0}, "max_degree"),
        ({"max_degree": 2.5}, "max_degree"),
        ({"mean": 50.0, "max_degree": 20}, "max_degree"),
    ],
)
def test_invalid_degree_spec_raises(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DegreeSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"same_district": 1.1}, "same_district"),
        ({"same_district": -0.1}, "same_district"),
        ({"same_district": math.nan}, "same_district"),
        ({"age_homophily": 2.0}, "age_homophily"),
        ({"income_homophily": -1.0}, "income_homophily"),
        ({"online_share": 30.0}, "online_share"),
        ({"online_share": "0.3"}, "online_share"),
        ({"age_band_years": 0}, "age_band_years"),
        ({"age_band_years": 2.5}, "age_band_years"),
        ({"degree": {"mean": 12.0}}, "DegreeSpec"),
    ],
)
def test_invalid_graph_spec_raises(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GraphSpec(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("district", "age", "income", "match"),
    [
        ([0, 1], [30, 40, 50], [1, 2, 3], "one value per person"),
        ([0, 1, 2], [30, -1, 50], [1, 2, 3], "age_years"),
        ([0, 1, 2], [30, 40, 50], [1, 2, 10], "income_decile"),
        ([0.0, 1.0, 2.0], [30, 40, 50], [1, 2, 3], "integer"),
        ([[0, 1, 2]], [30, 40, 50], [1, 2, 3], "1-D"),
    ],
)
def test_invalid_population_raises(
    district: list[object], age: list[int], income: list[int], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        build_social_graph(
            np.array(district),
            np.array(age),
            np.array(income),
            GraphSpec(),
            np.random.default_rng(0),
        )


def test_social_graph_checks_its_arrays_and_is_read_only() -> None:
    indptr, indices, online = _empty_arrays(2)
    with pytest.raises(ValueError, match="indptr"):
        SocialGraph(indptr.astype(np.uint32), indices, online)
    with pytest.raises(ValueError, match="indices"):
        SocialGraph(indptr, indices.astype(np.int64), online)
    with pytest.raises(ValueError, match="equal"):
        SocialGraph(indptr, indices, np.zeros(2, np.bool_))
    g = big_graph(GraphSpec())
    with pytest.raises(ValueError, match="read-only"):
        g.indices[0] = 0
    with pytest.raises(ValueError, match="read-only"):
        g.online[np.array([0])] = False
    with pytest.raises(IndexError):
        g.neighbours(-1)
