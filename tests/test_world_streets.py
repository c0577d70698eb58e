"""Streets: intersections, cameras, crossings and jaywalks (acts only where captured).

Sensors see the streets only through the places they publish (``sim.places``, the
engine's :class:`~sclab.engine.places.WatchedPlaces`): the test watcher below watches them
that way; the tests read the source's own attributes to check its model.

Statistical tolerances: every count tested is a Poisson (or binomial) total, so it is
compared with its expectation within 5 standard errors (sqrt of the expected count, or the
binomial/delta-method SE for shares and ratios). A correct model fails such a check with
probability below 1e-6 per assertion; a rate off by 10% on these volumes (tens to hundreds
of thousands of crossings, thousands of captured jaywalks) fails it with near certainty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats
from tests.conftest import small_scenario

import sclab.world.streets  # registers the component
from sclab.engine import Simulation, register
from sclab.engine.places import WatchedPlaces
from sclab.engine.propensity import set_propensity, update_propensity
from sclab.errors import ScenarioError
from sclab.population import generate_population
from sclab.population.citizens import OCCUPATIONS
from sclab.rng import Streams
from sclab.targets import load_scenario
from sclab.world.streets import (
    Streets,
    alias_tables,
    land_alias,
)

N_PEOPLE = 40_000
DAYS = 30
CAPTURE = 0.5  # watched runs: half the jaywalks at camera intersections are captured
CAMERAS = 0.3  # watched runs: camera_share, so that captures are numerous


@register("sensors", "test-streets-collector")
class ActCollector:
    """Test sensor: keeps a copy of each day's jaywalk acts (ActLog forgets them daily)."""

    def __init__(self, name: str, params: Any) -> None:
        self.name = name
        self.params = params
        self.batches: list[dict[str, np.ndarray]] = []

    def setup(self, sim: Simulation) -> None:
        pass

    def step(self, sim: Simulation, day: int) -> None:
        for acts in sim.acts.of_kind("jaywalk"):
            self.batches.append({"actor": acts.actor.copy(), **acts.extra})

    def finish(self, sim: Simulation) -> None:
        pass

    def joined(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([b[k] for b in self.batches]) for k in self.batches[0]}


class WatcherParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capture: float = Field(CAPTURE)


@register("sensors", "test-streets-watcher", WatcherParams)
class Watcher(ActCollector):
    """Test sensor: watches the streets like the cameras do, and keeps the acts it gets."""

    def setup(self, sim: Simulation) -> None:
        self.precaptured = jaywalk_places(sim).watch(self.params.capture)


def build(
    tmp: Path,
    n: int = N_PEOPLE,
    days: int = DAYS,
    seed: int = 7,
    watch: float | None = None,
    **params: Any,
) -> Simulation:
    """A simulation of the streets plus a collector (``watch``: a watcher at that capture)."""
    sensor = (
        {"use": "test-streets-collector"}
        if watch is None
        else {"use": "test-streets-watcher", "params": {"capture": watch}}
    )
    doc = small_scenario(
        seed=seed,
        days=days,
        population={"size": n},
        sources=[{"use": "streets", "params": params}],
        sensors=[sensor],
    )
    path = tmp / f"scenario-{seed}-{n}-{days}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    scenario = load_scenario(str(path))
    population = generate_population(scenario, Streams(scenario.seed))
    return Simulation.build(scenario, Streams(scenario.seed), population)


def streets_of(sim: Simulation) -> Streets:
    return next(c for _, c in sim.components if isinstance(c, Streets))


def jaywalk_places(sim: Simulation) -> WatchedPlaces:
    return sim.places.of("jaywalk")


def collector(sim: Simulation) -> ActCollector:
    return next(c for _, c in sim.components if isinstance(c, ActCollector))


def person_counts(sim: Simulation, kind: str) -> np.ndarray:
    return sim.aggregates.counts[("person", kind)].astype(np.int64)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Simulation:
    """Nobody watches: no jaywalk acts, everything is counted."""
    sim = build(tmp_path_factory.mktemp("streets"))
    sim.run()
    return sim


@pytest.fixture(scope="module")
def watched(tmp_path_factory) -> Simulation:
    """A watcher captures CAPTURE of the jaywalks at camera intersections."""
    sim = build(tmp_path_factory.mktemp("watched"), watch=CAPTURE, camera_share=CAMERAS)
    sim.run()
    return sim


def _within(observed: float, expected: float, se: float, label: str) -> None:
    assert abs(observed - expected) < 5 * se, f"{label}: {observed} vs {expected} ± 5×{se:.3g}"


def expected_camera_jaywalks(sim: Simulation, mult: np.ndarray | float = 1.0) -> np.ndarray:
    """Per person, expected jaywalks a day at camera intersections (before capture)."""
    st_ = streets_of(sim)
    return st_.expected_jaywalks(mult=mult) * st_.exposure()


def expected_flows(st_: Streets, lam: np.ndarray) -> np.ndarray:
    """Per intersection, the expected flow of per-person daily rates ``lam`` along the
    routes: the home and second-place shares at those intersections, the rest over the
    home district by weight."""
    cls = st_._class_of
    k = len(st_.intersections)
    home, second = st_.routes()
    flow = np.bincount(home, weights=st_._home_part[cls] * lam, minlength=k + 1)[:k]
    flow += np.bincount(second, weights=st_._second_part[cls] * lam, minlength=k + 1)[:k]
    other = np.bincount(st_._district, weights=st_._other_part[cls] * lam,
                        minlength=st_._n_districts)  # fmt: skip
    places = st_.intersections
    return flow + places.weight * other[places.district]


def test_intersections_per_district_weights_and_busiest_get_cameras(run: Simulation) -> None:
    st_ = streets_of(run)
    places = st_.intersections
    p = st_.params
    residents = np.bincount(run.population.citizens.district)
    per_district = np.bincount(places.district, minlength=len(residents))
    expected = np.maximum(1, np.round(residents / p.residents_per_intersection))
    assert per_district.tolist() == expected.astype(int).tolist()
    assert np.array_equal(np.diff(places.first), per_district)
    assert places.district.dtype == np.uint8 and places.has_camera.dtype == bool
    assert places.weight.dtype == np.float32
    assert np.array_equal(places["district"], places.district)
    for d in range(len(residents)):
        block = places.district == d
        w, cam = places.weight[block], places.has_camera[block]
        assert w.sum() == pytest.approx(1.0, rel=1e-5)
        # Cameras in proportion to residents: the whole part, and the fraction at random.
        expected_cams = p.camera_share * residents[d] / p.residents_per_intersection
        assert cam.sum() in (np.floor(expected_cams), np.ceil(expected_cams))
        if cam.any() and (~cam).any():
            assert w[cam].min() > w[~cam].max()  # cameras on the busiest
        assert st_.camera_weight[d] == pytest.approx(w[cam].astype(float).sum(), abs=1e-9)


def test_district_overrides_and_unknown_codes(tmp_path: Path) -> None:
    sim = build(
        tmp_path,
        n=5000,
        days=1,
        intersections_by_district={320106: 20, 320118: 0},
        camera_share=0.5,
        camera_share_by_district={320106: 0.25},
    )
    places = streets_of(sim).intersections
    assert np.bincount(places.district, minlength=3).tolist() == [20, 1, 0]
    assert int(places.has_camera[places.district == 0].sum()) == 5
    assert int(places.has_camera[places.district == 1].sum()) in (0, 1)
    sim.run()
    gaochun = np.flatnonzero(sim.population.citizens.district == 2)
    assert sim.aggregates.counts[("person", "crossing")][gaochun].sum() == 0
    # A code outside the geography is refused when the scenario is validated.
    with pytest.raises(ScenarioError, match=r"intersections_by_district\[999999\]"):
        build(tmp_path, n=3000, days=1, intersections_by_district={999999: 3})


def test_without_streets_no_places_are_published(tmp_path: Path) -> None:
    doc = small_scenario(days=1)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    scenario = load_scenario(str(path))
    sim = Simulation.build(
        scenario, Streams(1), generate_population(scenario, Streams(scenario.seed))
    )
    assert sim.places.kinds() == []
    with pytest.raises(LookupError, match="'jaywalk' acts"):
        jaywalk_places(sim)


def test_published_places_are_the_intersections_and_count_todays_jaywalks(
    tmp_path: Path,
) -> None:
    sim = build(tmp_path, n=5000, days=4, watch=0.5, camera_share=0.5)
    st_ = streets_of(sim)
    places, table = jaywalk_places(sim), st_.intersections
    assert sim.places.kinds() == ["jaywalk"]
    assert places.kind == "jaywalk" and places.source == st_.name
    assert len(places) == len(table)
    assert np.array_equal(places.district, table.district)
    assert np.array_equal(places.camera, table.has_camera)
    with pytest.raises(ValueError, match="read-only"):
        places.camera[0] = not places.camera[0]  # only the source defines its places
    assert not places.today.any()  # before day 0
    total = np.zeros(len(table), np.int64)
    for _ in range(4):
        sim.step()
        assert np.array_equal(places.today, st_.jaywalks_today)
        total += places.today
    assert np.array_equal(total, st_.jaywalks_total) and total.sum() > 0
    # One source per act kind: a second publisher is refused.
    with pytest.raises(ValueError, match="already published by streets"):
        sim.places.publish(WatchedPlaces("jaywalk", "other", table.district,
                                         table.has_camera, bool, lambda rng, k: None))  # fmt: skip


def test_crossing_rates_by_group(run: Simulation) -> None:
    c = run.population.citizens
    p = streets_of(run).params
    age = c.age(run.scenario.start_date)
    crossings = person_counts(run, "crossing")
    jobs = ("civil_servant", "state_enterprise", "private", "self_employed")
    working = np.isin(c.occupation, [OCCUPATIONS.index(o) for o in jobs])
    mid = (age >= 30) & (age <= 59)
    groups = {
        "urban commuters 30-59": (mid & c.urban & working, p.commuter_multiplier),
        "rural commuters 30-59": (
            mid & ~c.urban & working,
            p.commuter_multiplier * p.rural_multiplier,
        ),
        "urban non-commuters 60+": (
            (age >= 60) & c.urban & ~working,
            p.crossing_age["60+"],
        ),
        "urban children 6-17": ((age >= 6) & (age <= 17) & c.urban, p.crossing_age["6-17"]),
    }
    for label, (mask, mult) in groups.items():
        expected = mask.sum() * DAYS * p.crossings_per_day * mult
        assert expected > 2000, label
        _within(crossings[mask].sum(), expected, np.sqrt(expected), label)


def test_unwatched_streets_count_every_jaywalk_without_acts(run: Simulation) -> None:
    st_ = streets_of(run)
    assert st_.capture is None and not st_.acts_are_captured
    assert collector(run).batches == []  # no watcher: no jaywalk is an act
    crossings = person_counts(run, "crossing")
    jay = person_counts(run, "jaywalk")
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    assert jay.sum() == st_.jaywalks_total.sum() == run.acts.totals["jaywalk"]
    assert np.all(jay <= crossings)  # nobody jaywalks more often than they cross
    # Per district too: the person split adds up to the intersection counts, once the
    # commuters from other districts are counted where they cross.
    c = run.population.citizens
    places = st_.intersections
    _, second = st_.routes()
    away = st_._away_c[st_._class_of]
    assert away.any()
    for counts, label in ((jay, "jaywalks"), (crossings - jay, "lawful")):
        total = st_.jaywalks_total if label == "jaywalks" else st_.lawful_total
        at_places = np.bincount(places.district, weights=total, minlength=3)
        assert np.bincount(c.district, weights=counts, minlength=3).sum() == at_places.sum()
        # Commuters' counts are split between their home and their work district: each
        # district's total lies between its residents' counts without and with them.
        staying = np.bincount(c.district[~away], weights=counts[~away], minlength=3)
        incoming = np.bincount(places.district[second[away]], weights=counts[away], minlength=3)
        outgoing = np.bincount(c.district[away], weights=counts[away], minlength=3)
        assert np.all(staying <= at_places) and np.all(at_places <= staying + incoming + outgoing)


def test_jaywalk_share_and_sex_ratio(run: Simulation) -> None:
    st_ = streets_of(run)
    c = run.population.citizens
    p = st_.params
    jay_total = st_.jaywalks_total.sum()
    crossings = person_counts(run, "crossing")
    n_cross = crossings.sum()
    # The share given the habits drawn, within binomial error; over the habit law the
    # crossing-weighted expectation is jaywalk_share exactly.
    share = st_.expected_jaywalks().sum() / st_.crossing_flow.sum()
    _within(jay_total / n_cross, share, np.sqrt(share * (1 - share) / n_cross), "share")
    cls = st_._class_of
    flow = np.bincount(cls, weights=st_.crossing_rate[cls], minlength=len(st_.crossing_rate))
    levels = st_.habit_levels
    by_class = np.minimum(1.0, st_.jaywalk_prob[:, None] * levels[None, :]).mean(axis=1)
    assert (flow * by_class).sum() / flow.sum() == pytest.approx(p.jaywalk_share, rel=1e-6)

    # Same age band and residence: the per-crossing jaywalk share of men over women is the
    # configured multiplier before habits and the clipping at 1 (the model's expectation
    # given the habits drawn). SE of the log ratio by the delta method.
    lam = st_.expected_jaywalks()
    cross = st_.crossing_rate[st_._class_of]
    jays = person_counts(run, "jaywalk")
    age = c.age(run.scenario.start_date)
    band = (age >= 30) & (age <= 59) & c.urban
    shares, expected, var_log = [], [], 0.0
    for male in (True, False):
        m = band & (c.male == male)
        k, n = jays[m].sum(), crossings[m].sum()
        shares.append(k / n)
        expected.append(lam[m].sum() / cross[m].sum())
        var_log += (1 - k / n) / k
    ratio = np.log(shares[0] / shares[1])
    _within(ratio, np.log(expected[0] / expected[1]), np.sqrt(var_log), "male/female")
    assert 1.0 < expected[0] / expected[1] <= p.jaywalk_male_multiplier


def test_jaywalks_and_lawful_crossings_follow_the_routes_flows(
    run: Simulation, watched: Simulation
) -> None:
    for sim in (run, watched):
        st_ = streets_of(sim)
        lam = st_.expected_jaywalks()
        jay_flow = expected_flows(st_, lam)
        assert np.allclose(st_.jaywalk_flow, jay_flow, rtol=1e-6)
        cross = st_.crossing_rate[st_._class_of]
        assert np.allclose(st_.crossing_flow, expected_flows(st_, cross), rtol=1e-6)
        for counts, flow in (
            (st_.jaywalks_total, jay_flow),
            (st_.lawful_total, st_.crossing_flow - jay_flow),
        ):
            expected = flow * DAYS
            assert stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 1e-6
            _within(counts.sum(), expected.sum(), np.sqrt(expected.sum()), "total")


def test_captured_acts_match_rate_times_camera_exposure_times_capture(
    watched: Simulation,
) -> None:
    st_ = streets_of(watched)
    assert st_.capture == CAPTURE and st_.acts_are_captured
    assert collector(watched).precaptured
    c = watched.population.citizens
    jay = collector(watched).joined()
    per_person = expected_camera_jaywalks(watched) * CAPTURE * DAYS
    for d in range(3):
        mine = c.district[jay["actor"]] == d
        e = per_person[c.district == d].sum()
        if e == 0:  # no camera on any resident's route: nothing to capture
            assert not mine.any()
            continue
        assert e > 500, d
        _within(int(mine.sum()), e, np.sqrt(e), f"captured jaywalks, district {d}")
    # Men against women of the same band: the act stream keeps the per-person law.
    age = c.age(watched.scenario.start_date)
    band = (age >= 30) & (age <= 59) & c.urban
    acts = np.bincount(jay["actor"], minlength=len(c))
    for male in (True, False):
        m = band & (c.male == male)
        e = per_person[m].sum()
        _within(acts[m].sum(), e, np.sqrt(e), f"captured jaywalks, male={male}")
    # Acts are a share of the jaywalks at cameras: given their sum, acts ~ Binomial(., c).
    at_cams = int(st_.jaywalks_total[st_.intersections.has_camera].sum())
    se = np.sqrt(at_cams * CAPTURE * (1 - CAPTURE))
    _within(len(jay["actor"]), CAPTURE * at_cams, se, "acts / camera jaywalks")


def test_captured_acts_are_at_cameras_on_the_routes_in_proportion_to_the_flows(
    watched: Simulation,
) -> None:
    st_ = streets_of(watched)
    places = st_.intersections
    jay = collector(watched).joined()
    c = watched.population.citizens
    assert jay["place_id"].dtype == np.int32 and jay["district"].dtype == np.uint8
    assert jay["camera"].dtype == bool and jay["camera"].all()
    assert places.has_camera[jay["place_id"]].all()
    assert np.array_equal(places.district[jay["place_id"]], jay["district"])
    # Each act is at the person's home or second intersection, or elsewhere in the home
    # district.
    home, second = st_.routes(jay["actor"])
    place = jay["place_id"]
    mine = (place == home) | (place == second)
    assert np.all(mine | (jay["district"] == c.district[jay["actor"]]))
    assert mine.mean() > 0.5
    # Every camera captures its share of the jaywalks crossing there.
    cams = np.flatnonzero(places.has_camera)
    observed = np.bincount(place, minlength=len(places))[cams]
    expected = st_.jaywalk_flow[cams] * observed.sum() / st_.jaywalk_flow[cams].sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-6


def test_watched_totals_agree_and_count_acts_once(watched: Simulation) -> None:
    st_ = streets_of(watched)
    jay = collector(watched).joined()
    crossings = person_counts(watched, "crossing")
    jays = person_counts(watched, "jaywalk")
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    assert jays.sum() == st_.jaywalks_total.sum() == watched.acts.totals["jaywalk"]
    # Every act is in the person's jaywalk and crossing totals.
    acts = np.bincount(jay["actor"], minlength=len(jays))
    assert np.all(acts <= jays) and np.all(jays <= crossings)
    # All jaywalks of everyone, acts or counted, match the configured rates.
    c = watched.population.citizens
    rate = st_.expected_jaywalks() * DAYS
    for d in range(3):
        m = c.district == d
        _within(jays[m].sum(), rate[m].sum(), np.sqrt(rate[m].sum()), f"jaywalks, district {d}")


def test_record_every_event_makes_every_jaywalk_an_act(tmp_path: Path) -> None:
    sim = build(tmp_path, n=20_000, days=10, watch=CAPTURE, record_every_event=True)
    sim.run()
    st_ = streets_of(sim)
    assert not collector(sim).precaptured and not st_.acts_are_captured
    jay = collector(sim).joined()
    c = sim.population.citizens
    places = st_.intersections
    assert len(jay["actor"]) == st_.jaywalks_total.sum() == sim.acts.totals["jaywalk"]
    assert np.array_equal(np.bincount(jay["place_id"], minlength=len(places)), st_.jaywalks_total)
    assert np.array_equal(jay["camera"], places.has_camera[jay["place_id"]])
    home, second = st_.routes(jay["actor"])
    on_route = (jay["place_id"] == home) | (jay["place_id"] == second)
    in_district = places.district[jay["place_id"]] == c.district[jay["actor"]]
    assert np.all(on_route | in_district)
    acts = np.bincount(jay["actor"], minlength=len(c))
    assert np.array_equal(acts, person_counts(sim, "jaywalk"))
    crossings = person_counts(sim, "crossing")
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    e = st_.expected_jaywalks().sum() * 10
    _within(len(jay["actor"]), e, np.sqrt(e), "every jaywalk")


def test_watch_rules(tmp_path: Path) -> None:
    sim = build(tmp_path, n=3000, days=2, watch=0.5)
    with pytest.raises(ValueError, match="already watched"):
        jaywalk_places(sim).watch(0.5)
    sim.step()
    other = build(tmp_path, n=3000, days=2)
    other.step()
    with pytest.raises(RuntimeError, match="setup"):
        jaywalk_places(other).watch(0.5)
    with pytest.raises(ValueError, match="capture"):
        jaywalk_places(build(tmp_path, n=3000, days=2)).watch(1.5)
    every = build(tmp_path, n=3000, days=2, record_every_event=True)
    assert jaywalk_places(every).watch(0.5) is False
    assert jaywalk_places(every).watch(0.2) is False  # every jaywalk is an act: any may watch


def test_propensity_scales_jaywalking_not_crossing(tmp_path: Path) -> None:
    days = 20
    results = {}
    for level in (1.0, 0.5, 0.0):
        sim = build(tmp_path, n=20_000, days=days)
        if level != 1.0:
            update_propensity(sim, "jaywalk", level)
        sim.run()
        st_ = streets_of(sim)
        results[level] = (int(st_.jaywalks_total.sum()), int(st_.lawful_total.sum()))
        crossings = sim.aggregates.counts[("person", "crossing")]
        assert crossings.sum() == sum(results[level])
        assert person_counts(sim, "jaywalk").sum() == results[level][0]
    jay1, lawful1 = results[1.0]
    assert results[0.0][0] == 0  # no jaywalks at all when deterred completely
    # Halving the multiplier halves the jaywalks except of habitual jaywalkers, whose
    # share was clipped at 1.
    st_ = streets_of(sim)
    half = st_.expected_jaywalks(mult=0.5).sum() / st_.expected_jaywalks().sum()
    assert 0.5 < half < 0.6
    _within(results[0.5][0], jay1 * half, np.sqrt(jay1), "half propensity")
    total1 = jay1 + lawful1
    for level in (0.5, 0.0):
        total = sum(results[level])
        _within(total, total1, np.sqrt(2 * total1), f"crossings at propensity {level}")


def test_propensity_zero_gives_no_acts(tmp_path: Path) -> None:
    sim = build(tmp_path, n=5000, days=5, watch=1.0, camera_share=1.0)
    update_propensity(sim, "jaywalk", 0.0)
    sim.run()
    assert sim.acts.totals.get("jaywalk", 0) == 0
    assert all(len(b["actor"]) == 0 for b in collector(sim).batches)


def test_same_seed_same_acts_other_seed_different(tmp_path: Path) -> None:
    def acts(seed: int) -> list[np.ndarray]:
        sim = build(tmp_path, n=5000, days=5, seed=seed, watch=0.5, camera_share=1.0)
        sim.run()
        jay = collector(sim).joined()
        st_ = streets_of(sim)
        return [
            jay["actor"],
            jay["place_id"],
            st_.jaywalks_total,
            st_.lawful_total,
            person_counts(sim, "crossing"),
            person_counts(sim, "jaywalk"),
        ]

    a, b, c = acts(3), acts(3), acts(4)
    assert len(a[0]) > 100
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[4], c[4])


def test_component_is_registered_as_a_source() -> None:
    from sclab.engine import REGISTRY

    assert "streets" in REGISTRY.available("sources")
    assert REGISTRY.entry("sources", "streets").factory is Streets
    assert sclab.world.streets.JAYWALK == "jaywalk"


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=6),
    seed=st.integers(0, 2**32 - 1),
)
def test_alias_landing_stays_in_block_and_follows_weights(sizes: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    first = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    weight = rng.lognormal(0, 2, int(first[-1])).astype(np.float32)
    keep, alias = alias_tables(first, weight)
    inhabited = np.flatnonzero(np.diff(first) > 0)
    if len(inhabited) == 0:
        return
    district = rng.choice(inhabited, 20_000)
    u = np.concatenate([rng.random(19_998), [0.0, np.nextafter(1.0, 0.0)]])
    place = land_alias(first, keep, alias, district, u)
    assert place.dtype == np.int32
    assert np.all(place >= first[district]) and np.all(place < first[district + 1])
    # Exact probabilities of the tables: slot share keep/k plus what aliases send.
    for d in inhabited:
        lo, hi = int(first[d]), int(first[d + 1])
        k = hi - lo
        prob = keep[lo:hi] / k
        np.add.at(prob, alias[lo:hi] - lo, (1.0 - keep[lo:hi]) / k)
        w = weight[lo:hi].astype(np.float64)
        assert np.allclose(prob, w / w.sum(), atol=1e-9)
        n_d = int((district == d).sum())
        got = np.bincount(place[district == d] - lo, minlength=k)
        # Multinomial counts: each within 5 binomial standard errors.
        sd = np.sqrt(n_d * prob * (1 - prob))
        assert np.all(np.abs(got - n_d * prob) <= 5 * sd + 1)


def test_propensity_changing_mid_run_moves_jaywalks_and_lawful_crossings(tmp_path: Path) -> None:
    n, days, switch = 20_000, 20, 10
    sim = build(tmp_path, n=n, days=days)
    set_propensity(sim, "jaywalk")  # all 1: the tracker starts from the base flow
    st_ = streets_of(sim)
    for day in range(days):
        if day == switch:
            # Even ids stop jaywalking: all their crossings become lawful.
            update_propensity(sim, "jaywalk", 0.0, np.arange(0, n, 2))
        sim.step()
    crossings = person_counts(sim, "crossing")
    jay = person_counts(sim, "jaywalk")
    assert crossings.sum() == st_.jaywalks_total.sum() + st_.lawful_total.sum()
    assert jay.sum() == st_.jaywalks_total.sum()
    # Expected per person: jaywalks cross·s a day, lawful crossings cross·(1 - s); after
    # the switch even ids jaywalk no more and cross lawfully at the full rate.
    cross = st_.crossing_rate[st_._class_of]
    lam = st_.expected_jaywalks()
    even = np.arange(n) % 2 == 0
    after = days - switch
    jay_exp = lam * switch + np.where(even, 0.0, lam) * after
    lawful_exp = cross * days - jay_exp
    lawful = crossings - jay
    for label, m in (("even", even), ("odd", ~even)):
        for observed, expected, what in ((lawful, lawful_exp, "lawful"), (jay, jay_exp, "jay")):
            e = expected[m].sum()
            _within(observed[m].sum(), e, np.sqrt(e), f"{what} crossings, {label} ids")
    e = lawful_exp.sum()
    _within(st_.lawful_total.sum(), e, np.sqrt(e), "lawful crossings at intersections")


def test_running_bound_keeps_captures_exact_when_multipliers_rise(tmp_path: Path) -> None:
    # A twentieth of the people (a sparse change) double their jaywalking mid-run: the
    # thinning bound must rise with them. With capture 1 and cameras everywhere every
    # jaywalk is an act, so the acts of each group can be checked day by day.
    n, days, switch = 20_000, 16, 6
    sim = build(tmp_path, n=n, days=days, watch=1.0, camera_share=1.0)
    set_propensity(sim, "jaywalk")
    st_ = streets_of(sim)
    bold = np.arange(n) % 20 == 0
    for day in range(days):
        if day == switch:
            update_propensity(sim, "jaywalk", 2.0, np.flatnonzero(bold))
        sim.step()
    assert st_._bound == 2.0
    assert st_.jaywalks_total.sum() == sim.acts.totals["jaywalk"]  # nothing counted
    acts = collector(sim).batches
    rate = st_.expected_jaywalks(mult=np.where(bold, 2.0, 1.0))
    for label, group in (("bold", bold), ("others", ~bold)):
        seen = sum(int(group[b["actor"]].sum()) for b in acts[switch:])
        e = rate[group].sum() * (days - switch)
        _within(seen, e, np.sqrt(e), f"{label} after the rise")


def test_tracker_follows_every_multiplier_write(tmp_path: Path) -> None:
    # The tracker learns of changes from the writes alone (no daily comparison): after
    # sparse writes (repeated people, values unchanged, a whole-array write in between)
    # it must hold today's multipliers and the intersections' flows they give.
    n, days = 5_000, 8
    sim = build(tmp_path, n=n, days=days)
    mult = set_propensity(sim, "jaywalk")
    st_ = streets_of(sim)
    rng = np.random.default_rng(7)
    for day in range(days):
        if day == 4:
            update_propensity(sim, "jaywalk", rng.random(n) + 0.5)
        else:
            who = rng.integers(0, n, 200)
            update_propensity(sim, "jaywalk", rng.choice([0.5, 1.0, 1.5], 200), who)
            update_propensity(sim, "jaywalk", mult[who[:50]], who[:50])  # no change
        sim.step()
        t = st_._track
        assert t is not None and np.array_equal(t["seen"], mult)
        flow = expected_flows(st_, st_.expected_jaywalks(mult=mult))
        assert np.allclose(st_.jaywalk_flow, flow, rtol=1e-4)


@pytest.mark.parametrize("with_mult", [False, True])
def test_camera_jaywalkers_follow_expected_camera_jaywalks(tmp_path: Path, with_mult: bool) -> None:
    sim = build(tmp_path, n=20_000, days=1, watch=0.1, camera_share=CAMERAS)
    c = sim.population.citizens
    mult: np.ndarray | float = 1.0
    if with_mult:
        mult = set_propensity(sim, "jaywalk")
        update_propensity(sim, "jaywalk", np.random.default_rng(1).random(len(c)))
    sim.step()
    st_ = streets_of(sim)
    k = 100_000
    # What sensors draw through the published places is the source's own draw.
    who = jaywalk_places(sim).draw_watched_actors(np.random.default_rng(2), k)
    assert np.array_equal(who, st_.camera_jaywalkers(sim, np.random.default_rng(2), k))
    assert len(who) == k and who.dtype == np.int64
    w = expected_camera_jaywalks(sim, mult)
    assert np.all(w[who] > 0)
    age = c.age(sim.scenario.start_date)
    # Each group's share of the draws is binomial around its share of the expectation.
    groups = {f"district {d}": c.district == d for d in range(3)}
    groups |= {"men": c.male, "children": age < 18, "60+": age >= 60, "rural": ~c.urban}
    for label, m in groups.items():
        p = w[m].sum() / w.sum()
        _within(int(m[who].sum()), k * p, np.sqrt(k * p * (1 - p)) + 1e-9, label)


def test_camera_jaywalkers_fall_back_to_exact_weights_when_the_bound_is_loose(
    tmp_path: Path,
) -> None:
    sim = build(tmp_path, n=20_000, days=1, watch=0.1, camera_share=1.0)
    set_propensity(sim, "jaywalk")
    st_ = streets_of(sim)
    # One person still jaywalks, everyone else is deterred: the bound stays 1 while the
    # acceptance is about 1 in the class size, so the sampler must fall back.
    only = int(np.flatnonzero(st_.expected_jaywalks() * st_.exposure() > 0)[0])
    update_propensity(sim, "jaywalk", 0.0)
    update_propensity(sim, "jaywalk", 1.0, np.array([only]))
    sim.step()
    assert st_._bound == 1.0
    who = jaywalk_places(sim).draw_watched_actors(np.random.default_rng(3), 50)
    assert who.tolist() == [only] * 50


def test_multipliers_beyond_one_clip_the_share_at_every_crossing(tmp_path: Path) -> None:
    # Everyone's multiplier jumps to 5 mid-run (a refresh of the whole array): people
    # with s x habit x 5 > 1 then jaywalk at every crossing, the others 5 times as often
    # (crossings unchanged).
    n, days, switch, level = 20_000, 12, 4, 5.0
    sim = build(tmp_path, n=n, days=days, watch=CAPTURE, camera_share=CAMERAS)
    set_propensity(sim, "jaywalk")
    st_ = streets_of(sim)
    for day in range(days):
        if day == switch:
            update_propensity(sim, "jaywalk", level)
        sim.step()
    assert st_._bound == level
    cls = st_._class_of
    cross, share = st_.crossing_rate[cls], st_.jaywalk_prob[cls] * st_.habit()
    clipped = share * level > 1
    assert clipped.mean() > 0.2 and (~clipped & (cross > 0)).mean() > 0.05
    after = days - switch
    jay_exp = st_.expected_jaywalks() * switch + st_.expected_jaywalks(mult=level) * after
    lawful_exp = cross * days - jay_exp
    jay = person_counts(sim, "jaywalk")
    lawful = person_counts(sim, "crossing") - jay
    for label, m in (("clipped", clipped), ("not clipped", ~clipped)):
        for observed, expected, what in (
            (jay, jay_exp, "jaywalks"),
            (lawful, lawful_exp, "lawful"),
        ):
            e = expected[m].sum()
            _within(observed[m].sum(), e, np.sqrt(e), f"{what}, {label}")
    captured = sum(len(b["actor"]) for b in collector(sim).batches[switch:])
    e = (expected_camera_jaywalks(sim, level) * CAPTURE).sum() * after
    _within(captured, e, np.sqrt(e), "captured after the jump")


def test_people_out_of_district_order_use_the_general_sums(tmp_path: Path) -> None:
    # The population comes in district order, so district sums are contiguous; the
    # general path (bincount, sort by district) must give the same flows and totals.
    sims = [build(tmp_path, n=10_000, days=6, watch=1.0, camera_share=1.0) for _ in range(2)]
    streets_of(sims[1])._district_bounds = None
    rng = np.random.default_rng(5)
    level = rng.random(10_000).astype(np.float32)
    for sim in sims:
        set_propensity(sim, "jaywalk")
        for day in range(6):
            if day == 2:
                update_propensity(sim, "jaywalk", level)  # a refresh: district flows summed afresh
            sim.step()
    a, b = (streets_of(s) for s in sims)
    assert a._district_bounds is not None and b._district_bounds is None
    assert np.allclose(a.jaywalk_flow, b.jaywalk_flow, rtol=1e-9)
    jay = person_counts(sims[1], "jaywalk")
    lawful = person_counts(sims[1], "crossing") - jay
    assert jay.sum() == b.jaywalks_total.sum() and lawful.sum() == b.lawful_total.sum()
    assert np.array_equal(a.jaywalks_total, b.jaywalks_total)
    assert np.array_equal(person_counts(sims[0], "jaywalk").sum(), jay.sum())


def test_reading_totals_mid_run_keeps_the_law(tmp_path: Path) -> None:
    # Reading the aggregates settles what is pending; a refresh of every multiplier right
    # after (nothing accrued yet) and the rest of the run must still add up.
    n, days, read = 20_000, 12, 6
    sim = build(tmp_path, n=n, days=days)
    set_propensity(sim, "jaywalk")
    update_propensity(sim, "jaywalk", 0.5)
    st_ = streets_of(sim)
    for day in range(days):
        if day == read:
            mid = person_counts(sim, "jaywalk")
            assert mid.sum() == st_.jaywalks_total.sum()
            assert person_counts(sim, "crossing").sum() == mid.sum() + st_.lawful_total.sum()
            update_propensity(sim, "jaywalk", 1.0)
        sim.step()
    jay = person_counts(sim, "jaywalk")
    lawful = person_counts(sim, "crossing") - jay
    assert np.all(jay >= mid)
    cross = st_.crossing_rate[st_._class_of]
    jay_exp = st_.expected_jaywalks(mult=0.5) * read + st_.expected_jaywalks() * (days - read)
    lawful_exp = cross * days - jay_exp
    c = sim.population.citizens
    for label, m in (("urban", c.urban), ("rural", ~c.urban), ("men", c.male)):
        for observed, expected, what in (
            (jay, jay_exp, "jaywalks"),
            (lawful, lawful_exp, "lawful"),
        ):
            e = expected[m].sum()
            _within(observed[m].sum(), e, np.sqrt(e), f"{what}, {label}")


@settings(max_examples=40, deadline=None)
@given(
    size=st.sampled_from([0, 1, 5, (1 << 15) - 1, 1 << 15, (1 << 15) + 3, 3 * (1 << 15) + 7]),
    seed=st.integers(0, 2**31),
    wide=st.booleans(),
)
def test_sum_in_order_adds_as_bincount_does(size: int, seed: int, wide: bool) -> None:
    """The running sum is bincount's sum, bit for bit (other orders round otherwise)."""
    from sclab.world.streets import _sum_in_order

    values = np.random.default_rng(seed).lognormal(0.0, 3.0, size)
    values = values if wide else values.astype(np.float32)
    expected = np.bincount(np.zeros(size, np.intp), weights=values, minlength=1)[0]
    assert _sum_in_order(values) == expected
