"""Routes, habits and cameras at every size: who the cameras see, and how often.

Statistical tolerances: totals of Poisson counts are compared with their expectation
within 5 standard errors (a correct model fails such a check with probability below
1e-6); ratios by the delta method; sample variances with the standard error of a sample
variance estimated from the sample's fourth moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict
from tests.conftest import small_scenario

from sclab.engine import Simulation, register
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_scenario
from sclab.world.sampling import gamma_levels
from sclab.world.streets import _SHAPE, HABIT_LEVELS, ROUTINES, busiest_share, camera_weights


class _Capture(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capture: float = 1.0


@register("sensors", "test-routes-watcher", _Capture)
class RouteWatcher:
    """Test sensor: watches the streets' cameras and keeps every jaywalk act it gets."""

    def __init__(self, name: str, params: _Capture) -> None:
        self.name, self.params = name, params
        self.batches: list[dict[str, np.ndarray]] = []

    def setup(self, sim: Simulation) -> None:
        sim.places.of("jaywalk").watch(self.params.capture)

    def step(self, sim: Simulation, day: int) -> None:
        for acts in sim.acts.of_kind("jaywalk"):
            self.batches.append({"actor": acts.actor.copy(), **acts.extra})

    def finish(self, sim: Simulation) -> None:
        pass

    def joined(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.batches]) for k in self.batches[0]}


def build(
    tmp: Path, n: int, days: int, seed: int = 7, watch: float | None = None, **params: Any
) -> Simulation:
    """The streets alone (plus a watcher at capture ``watch``) over a small world."""
    sensors = (
        [] if watch is None else [{"use": "test-routes-watcher", "params": {"capture": watch}}]
    )
    doc = small_scenario(
        seed=seed, days=days, population={"size": n},
        sources=[{"use": "streets", "params": params}], sensors=sensors,
    )  # fmt: skip
    path = tmp / f"routes-{seed}-{n}-{days}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    population = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), population)


def streets_of(sim: Simulation) -> Any:
    from sclab.world.streets import Streets

    return next(c for _, c in sim.components if isinstance(c, Streets))


def collector(sim: Simulation) -> RouteWatcher:
    return next(c for _, c in sim.components if isinstance(c, RouteWatcher))


def person_counts(sim: Simulation, kind: str) -> np.ndarray:
    return sim.aggregates.counts[("person", kind)].astype(np.int64)


def _within(observed: float, expected: float, se: float, label: str) -> None:
    assert abs(observed - expected) < 5 * se, f"{label}: {observed} vs {expected} ± 5×{se:.3g}"


def _exposure_from_routes(st_: Any) -> np.ndarray:
    """Per person, the share of crossings at camera intersections, from the routes alone
    (not from the rate classes the source draws with)."""
    places = st_.intersections
    cam = np.append(places.has_camera, False)
    home, second = st_.routes()
    cls = st_._class_of
    return (
        st_._home_part[cls] * cam[home]
        + st_._second_part[cls] * cam[second]
        + st_._other_part[cls] * st_.camera_weight[st_._district]
    )


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Every jaywalk at a camera intersection captured; everyone alike (no habits)."""
    sim = build(
        tmp_path_factory.mktemp("routes"), n=30_000, days=20, watch=1.0, camera_share=0.2,
        habit_variance=0.0, residents_per_intersection=1000,
    )  # fmt: skip
    sim.run()
    return sim


def test_people_whose_home_intersection_has_a_camera_are_captured_several_times_as_often(
    captured: Any,
) -> None:
    st_ = streets_of(captured)
    c = captured.population.citizens
    home, _ = st_.routes()
    cam = np.append(st_.intersections.has_camera, False)
    lam = st_.expected_jaywalks()
    acts = np.bincount(collector(captured).joined()["actor"], minlength=len(c))
    # People without a second place, in the largest district: at home a share a = 0.7 of
    # their crossings, the rest over the district (a camera share W of it). Those with a
    # camera at home are exposed (a + (1 - a) W) / ((1 - a) W) times as much.
    alone = (st_._second_part[st_._class_of] == 0) & (c.district == 1) & (lam > 0)
    a, w = st_.params.own_share, st_.camera_weight[1]
    stated = (a + (1 - a) * w) / ((1 - a) * w)
    assert stated > 3
    with_cam, without = alone & cam[home], alone & ~cam[home]
    assert with_cam.sum() > 300 and without.sum() > 300
    rates = []
    var_log = 0.0
    for group in (with_cam, without):
        k, e = acts[group].sum(), (lam[group] * 20).sum()
        rates.append(k / e)
        var_log += 1.0 / k
    _within(np.log(rates[0] / rates[1]), np.log(stated), np.sqrt(var_log), "ratio")
    # Everyone's captured jaywalks follow the exposure computed from the routes.
    e = lam * _exposure_from_routes(st_) * 20
    for label, group in (("commuters", st_._second_part[st_._class_of] > 0), ("all", lam > 0)):
        _within(acts[group].sum(), e[group].sum(), np.sqrt(e[group].sum()), label)
    # A captured jaywalk of someone with a camera at home lands there w.p. (a + (1 - a)
    # w_home) / (a + (1 - a) W): their own crossings, or the district's by weight.
    jay = collector(captured).joined()
    mine = with_cam[jay["actor"]]
    own = home[jay["actor"][mine]]
    at_home = int((jay["place_id"][mine] == own).sum())
    w_home = st_.intersections.weight[own].astype(np.float64)
    p = (a + (1 - a) * w_home) / (a + (1 - a) * w)
    assert p.mean() < 0.95
    _within(at_home, p.sum(), np.sqrt((p * (1 - p)).sum()), "landed at home")


def test_commuters_cross_in_other_districts_at_the_stated_share(captured: Any) -> None:
    st_ = streets_of(captured)
    c = captured.population.citizens
    places = st_.intersections
    home, second = st_.routes()
    routine = np.unravel_index(st_._class_of, _SHAPE)[3]
    work = (routine == ROUTINES.index("work")) & (np.diff(places.first)[c.district] > 0)
    away = places.district[second[work]] != c.district[work]
    share = st_.params.cross_district_commute_share
    _within(away.mean(), share, np.sqrt(share * (1 - share) / work.sum()), "away")
    # Home intersections are drawn in proportion to the weights within the district.
    for d in range(3):
        block = np.flatnonzero(places.district == d)
        got = np.bincount(home[c.district == d], minlength=len(places))[block]
        p = places.weight[block].astype(np.float64)
        n_d = got.sum()
        assert np.all(np.abs(got - n_d * p) <= 5 * np.sqrt(n_d * p * (1 - p)) + 1)


def test_habits_overdisperse_jaywalk_counts_as_the_mixture_implies(tmp_path: Path) -> None:
    days = 60
    sim = build(tmp_path, n=30_000, days=days, habit_variance=2.0)
    sim.run()
    st_ = streets_of(sim)
    jay = person_counts(sim, "jaywalk")
    cls = st_._class_of
    # The largest class (same crossing rate and share for all its members).
    biggest = np.bincount(cls).argmax()
    group = cls == biggest
    r, s = st_.crossing_rate[biggest], st_.jaywalk_prob[biggest]
    p = np.minimum(1.0, s * st_.habit_levels)  # per level, equally likely
    mean = days * r * p.mean()
    var = mean + (days * r) ** 2 * p.var()  # Poisson noise plus the habits' variance
    x = jay[group].astype(np.float64)
    n = len(x)
    assert n > 2000 and var > 3 * mean  # clearly overdispersed
    _within(x.mean(), mean, np.sqrt(var / n), "mean")
    m4 = ((x - x.mean()) ** 4).mean()
    _within(x.var(ddof=1), var, np.sqrt((m4 - var**2) / n), "variance")


def test_without_habits_counts_are_poisson(tmp_path: Path) -> None:
    days = 40
    sim = build(tmp_path, n=20_000, days=days, habit_variance=0.0)
    sim.run()
    st_ = streets_of(sim)
    assert np.all(st_.habit_levels == 1.0)
    jay = person_counts(sim, "jaywalk")
    cls = st_._class_of
    biggest = np.bincount(cls).argmax()
    x = jay[cls == biggest].astype(np.float64)
    mean = days * st_.crossing_rate[biggest] * st_.jaywalk_prob[biggest]
    _within(x.var(ddof=1) / x.mean(), 1.0, np.sqrt(2.0 / len(x)), "index of dispersion")
    _within(x.mean(), mean, np.sqrt(mean / len(x)), "mean")


def test_habit_levels_have_mean_one_and_nearly_the_variance() -> None:
    for variance in (0.5, 2.0, 4.0):
        levels = gamma_levels(variance, HABIT_LEVELS)
        assert len(levels) == HABIT_LEVELS and np.all(np.diff(levels) > 0)
        assert levels.mean() == pytest.approx(1.0, abs=1e-12)
        # The within-bin variance lost is small (mostly the top bin's).
        assert 0.9 * variance < levels.var() <= variance
    # At variance 2 (Gamma(0.5), a chi-squared with one degree of freedom over 1) the
    # median person is at 0.45 of the mean, and 3.5% are at 4.5 times it or more.
    levels = gamma_levels(2.0)
    assert np.median(levels) == pytest.approx(0.455, abs=0.01)
    assert (levels >= 4.5).mean() == pytest.approx(0.035, abs=0.005)


def test_habits_and_routes_are_drawn_once_and_the_same_for_the_same_seed(tmp_path: Path) -> None:
    a, b, other = (build(tmp_path, n=8000, days=1, seed=s) for s in (5, 5, 6))
    sa, sb, so = (streets_of(x) for x in (a, b, other))
    assert np.array_equal(sa.habit_level, sb.habit_level)
    assert np.array_equal(sa.routes()[0], sb.routes()[0])
    assert np.array_equal(sa.routes()[1], sb.routes()[1])
    assert not np.array_equal(sa.habit_level, so.habit_level)
    assert sa.habit_level.dtype == np.uint8 and sa._home.dtype == np.uint16


def test_expected_cameras_per_person_are_kept_at_small_populations(tmp_path: Path) -> None:
    # 20,000 people in three districts: 4 intersections' worth of residents per district
    # or fewer, 0.4 cameras expected in all at camera_share 0.1 (rounding per district
    # would give none). Over many seeds the mean count is the expectation.
    sim = build(tmp_path, n=20_000, days=1)
    st_ = streets_of(sim)
    p = st_.params
    residents = np.bincount(sim.population.citizens.district)
    expected = p.camera_share * residents / p.residents_per_intersection
    assert np.all(np.round(expected) == 0)
    counts = []
    for seed in range(400):
        sim.streams = Streams(seed)
        counts.append(np.bincount(st_._places(sim).district[st_._places(sim).has_camera],
                                  minlength=3))  # fmt: skip
    counts = np.array(counts)
    for d in range(3):
        q = expected[d] - np.floor(expected[d])
        _within(counts[:, d].mean(), expected[d], np.sqrt(q * (1 - q) / 400), f"district {d}")


def test_a_small_run_with_a_camera_identifies_people(tmp_path: Path) -> None:
    # At 20,000 people the Nanjing world expects 0.4 cameras: most seeds place none (the
    # run's summary then names the cameras as inert), some place one. The first seed that
    # does must record identifications at the default capture.
    import duckdb

    from sclab.run import run_scenario
    from sclab.targets import load_run_target

    def has_camera(seed: int) -> bool:
        scenario = load_run_target("nanjing", {"--population": 20_000, "--days": 1, "--seed": seed})
        world = Simulation.build(
            scenario, Streams(seed), generate_population(scenario, Streams(seed))
        )
        return bool(streets_of(world).intersections.has_camera.any())

    seed = next(s for s in range(1, 50) if has_camera(s))
    scenario = load_run_target("nanjing", {"--population": 20_000, "--days": 30, "--seed": seed})
    run_scenario(scenario, tmp_path / "nj")
    con = duckdb.connect(str(tmp_path / "nj" / "run.duckdb"), read_only=True)
    try:
        named = con.execute(
            "SELECT count(*) FROM events WHERE kind = 'jaywalk_identified'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert named > 20


def test_camera_weights_keep_a_busiest_decile_flow_whatever_the_district_size() -> None:
    rng = np.random.default_rng(3)
    busiest = busiest_share(1.0, 0.1)
    assert busiest == pytest.approx(3.891, abs=1e-3)  # the busiest tenth: 39% of volume
    for k, m in ((10, 1), (40, 4), (300, 30)):
        shares = []
        for _ in range(200):
            volume = rng.lognormal(0.0, 1.0, k)
            cams = np.zeros(k, bool)
            cams[np.argsort(-volume)[:m]] = True
            w = camera_weights(volume, cams, busiest)
            assert w.sum() == pytest.approx(1.0) and np.all(w > 0)
            shares.append(w[cams].sum() / m * k)  # a camera's flow over the mean's
        assert np.mean(shares) == pytest.approx(busiest, rel=1e-9)
    # Natural draws agree at a large district: the busiest tenth of 3,000 carry ~39%.
    volume = rng.lognormal(0.0, 1.0, 3000)
    top = np.sort(volume)[-300:].sum() / volume.sum()
    assert top == pytest.approx(0.1 * busiest, rel=0.05)
    # A tiny district's cameras are capped below all of its crossings.
    w = camera_weights(np.ones(2), np.array([True, False]), busiest)
    assert w[0] == pytest.approx(0.9)
