"""The engine's extension point, event log and random streams."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from sclab.engine import REGISTRY, Simulation, register
from sclab.engine.catalogue import Kind
from sclab.engine.events import NO_ENTITY
from sclab.engine.statearrays import StateArray
from sclab.rng import Streams, _name_key
from sclab.run import run_scenario
from sclab.targets import load_scenario


class CoinParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate: float = 0.01


@register("sources", "test-coin", CoinParams)
class CoinSource:
    """Test source: each person acts with probability ``rate`` per day; half are misattributed."""

    state_arrays = (StateArray("test/acts", "person", np.int32, 0, "Coin acts so far."),)

    def __init__(self, name: str, params: CoinParams) -> None:
        self.name, self.params = name, params

    def kinds(self) -> list[Kind]:
        # Records straight away (no act): an event standing for an act of the same name.
        return [Kind("coin", "event", "person", "civic", True, "a coin came up", of_act="coin")]

    def setup(self, sim: Simulation) -> None:
        self.acts = sim.state.add("test/acts", "person", np.int32)

    def step(self, sim: Simulation, day: int) -> None:
        rng = sim.rng(self.name, day)
        n = len(sim.population.citizens)
        who = np.flatnonzero(rng.random(n) < self.params.rate)
        self.acts[who] += 1
        wrong = rng.random(len(who)) < 0.5
        attributed = np.where(wrong, rng.integers(0, n, len(who)), who)
        attributed[::7] = NO_ENTITY
        sim.events.record(day, self.name, "coin", who, attributed, match_score=rng.random(len(who)))

    def finish(self, sim: Simulation) -> None:
        pass


def _scenario(write_scenario, **extra):
    from tests.conftest import small_scenario

    return load_scenario(str(write_scenario(small_scenario(**extra))))


def test_registered_component_runs_and_its_events_reach_the_database(
    write_scenario, tmp_path: Path
) -> None:
    scenario = _scenario(write_scenario, sources=[{"use": "test-coin", "params": {"rate": 0.05}}])
    result = run_scenario(scenario, tmp_path / "r")
    con = duckdb.connect(str(result.database), read_only=True)
    try:
        n, days, nulls, wrong = con.execute(
            "SELECT count(*), count(DISTINCT day), count(*) FILTER (WHERE attributed_to IS NULL),"
            " count(*) FILTER (WHERE attributed_to <> true_actor) FROM events"
        ).fetchone()
        rows = con.execute("SELECT event_id FROM events ORDER BY event_id").fetchall()
        ids = [r[0] for r in rows]
    finally:
        con.close()
    expected = 0.05 * 3000 * scenario.days
    assert abs(n - expected) < 5 * np.sqrt(expected)
    assert days == scenario.days
    assert abs(nulls - n / 7) <= 1 + days
    assert 0.3 * n < wrong < 0.6 * n
    assert ids == list(range(n))  # numbered densely in recording order
    assert result.row_counts["events"] == n


def test_unknown_params_of_a_component_are_rejected(write_scenario) -> None:
    from sclab.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"sources\[0\]\.params\.speed"):
        _scenario(write_scenario, sources=[{"use": "test-coin", "params": {"speed": 3}}])


def test_disabled_component_does_not_run(write_scenario, tmp_path: Path) -> None:
    scenario = _scenario(write_scenario, sources=[{"use": "test-coin", "enabled": False}])
    assert run_scenario(scenario, tmp_path / "r").row_counts["events"] == 0


def test_registry_rejects_duplicates_and_unknown_stages() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register("sources", "test-coin")(CoinSource)
    with pytest.raises(ValueError, match="unknown stage"):
        register("weather", "rain")
    assert "test-coin" in REGISTRY.available("sources")


def test_state_arrays() -> None:
    from sclab.engine import State

    score = StateArray("score", "person", np.int16, 600, "A test score.")
    state = State({"person": 4, "company": 2}, [score])
    a = state.add("score", "person", np.int16, fill=600)
    assert a.tolist() == [600] * 4 and state.add("score", "person", np.int16) is a
    with pytest.raises(ValueError, match="dtype"):
        state.add("score", "person", np.float64)
    with pytest.raises(ValueError, match="unknown entity type"):
        StateArray("x", "household", np.int8, 0, "A test flag.")
    with pytest.raises(KeyError, match=r"State\.add"):
        state["propensity/missing"]


@given(seed=st.integers(0, 2**63 - 1), name=st.text(min_size=1, max_size=20))
def test_streams_are_reproducible_and_keyed(seed: int, name: str) -> None:
    s = Streams(seed)
    a = s.get(name, partition=3, day=5).integers(0, 2**62, 4)
    assert np.array_equal(a, Streams(seed).get(name, partition=3, day=5).integers(0, 2**62, 4))
    for other in (
        s.get(name, partition=4, day=5),
        s.get(name, partition=3, day=6),
        s.get(name + "x", partition=3, day=5),
        s.get(name, day=5),
        Streams(seed ^ 1).get(name, partition=3, day=5),
        Streams(seed, city=320100).get(name, partition=3, day=5),
    ):
        assert not np.array_equal(a, other.integers(0, 2**62, 4))


@given(seed=st.integers(0, 2**63 - 1), city=st.integers(0, 999_999))
def test_a_city_slot_keys_a_city_apart_and_leaves_one_city_runs_alone(seed: int, city: int) -> None:
    one_city = Streams(seed).get("payments/bill", day=3).integers(0, 2**62, 4)
    mine = Streams(seed, city=city).get("payments/bill", day=3).integers(0, 2**62, 4)
    again = Streams(seed, city=city).get("payments/bill", day=3).integers(0, 2**62, 4)
    other = Streams(seed, city=city + 1).get("payments/bill", day=3).integers(0, 2**62, 4)
    assert np.array_equal(mine, again)  # whichever worker builds it
    assert not np.array_equal(mine, one_city) and not np.array_equal(mine, other)
    # A one-city run's keys are those it always had: (name, district + 1, day + 1).
    legacy = np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(_name_key("payments/bill"), 0, 4)))
    )
    assert np.array_equal(one_city, legacy.integers(0, 2**62, 4))


def test_adding_a_component_does_not_change_the_population(write_scenario, tmp_path) -> None:
    plain = run_scenario(_scenario(write_scenario), tmp_path / "a")
    with_source = run_scenario(
        _scenario(write_scenario, sources=[{"use": "test-coin"}]), tmp_path / "b"
    )
    q = "SELECT sum(hash(c)) FROM citizens c"
    got = [
        duckdb.connect(str(r.database), read_only=True).execute(q).fetchone()
        for r in (plain, with_source)
    ]
    assert got[0] == got[1]


def test_database_docs_match_the_schema() -> None:
    from sclab.reference import database_markdown

    docs = Path(__file__).resolve().parents[1] / "docs" / "database.md"
    assert docs.read_text(encoding="utf-8") == database_markdown(), "regenerate docs/database.md"


def test_scenario_docs_match_the_schema() -> None:
    from sclab.scenario.schema import markdown

    docs = Path(__file__).resolve().parents[1] / "docs" / "scenarios.md"
    assert docs.read_text(encoding="utf-8") == markdown(), "regenerate docs/scenarios.md"


def test_sanctions_reach_the_database_with_provenance(write_scenario, tmp_path: Path) -> None:
    @register("policies", "test-display")
    class Display:
        """Test policy: sanction everybody attributed a coin event, wrongful when misattributed."""

        def __init__(self, name: str, params: object) -> None:
            self.name = name

        def labels(self) -> dict[str, tuple[str, ...]]:
            return {
                "system": ("test",),
                "domain": ("display",),
                "sanction_kind": ("public_display",),
                "rule_id": ("r1",),
            }

        def setup(self, sim: Simulation) -> None:
            pass

        def step(self, sim: Simulation, day: int) -> None:
            for batch in sim.events.today:
                named = batch.attributed_to >= 0
                sim.decisions.sanction(
                    day,
                    batch.attributed_to[named],
                    system="test",
                    domain="display",
                    kind="public_display",
                    rule_id="r1",
                    event_id=batch.event_id[named],
                    wrongful=batch.attributed_to[named] != batch.true_actor[named],
                )

        def finish(self, sim: Simulation) -> None:
            pass

    scenario = _scenario(
        write_scenario,
        sources=[{"use": "test-coin", "params": {"rate": 0.02}}],
        policies=[{"use": "test-display"}],
    )
    result = run_scenario(scenario, tmp_path / "r")
    con = duckdb.connect(str(result.database), read_only=True)
    try:
        mismatched = con.execute(
            "SELECT count(*) FROM sanctions s JOIN events e USING (event_id)"
            " WHERE s.wrongful <> (e.attributed_to <> e.true_actor)"
            " OR s.entity_id <> e.attributed_to"
        ).fetchone()[0]
        n, wrongful, ids = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE wrongful), count(DISTINCT sanction_id)"
            " FROM sanctions"
        ).fetchone()
        named = con.execute(
            "SELECT count(*) FROM events WHERE attributed_to IS NOT NULL"
        ).fetchone()[0]
    finally:
        con.close()
    assert mismatched == 0 and n == named == ids and 0 < wrongful < n


def test_component_docs_match_the_code() -> None:
    from sclab.engine.registry import markdown
    from sclab.run import load_builtin_components

    docs = Path(__file__).resolve().parents[1] / "docs" / "components.md"
    text = markdown(load_builtin_components())
    assert docs.read_text(encoding="utf-8") == text, "regenerate docs/components.md"


def test_released_ties_free_the_graph_and_stop_further_days(write_scenario) -> None:
    from sclab.population import generate_population

    scenario = _scenario(write_scenario, sources=[{"use": "test-coin"}])
    streams = Streams(scenario.seed)
    population = generate_population(scenario, streams)
    sim = Simulation.build(scenario, streams, population)
    n, ties = population.graph.n, population.graph.n_ties
    assert ties > 0
    sim.run(finish=False)
    assert sim.day == scenario.days - 1
    sim.ties_active = np.ones(2 * ties, bool)
    sim.release_ties()
    assert sim.population.graph.n == n  # the people stay, the ties go
    assert sim.population.graph.n_ties == 0 and sim.ties_active is None
    assert sim.population.graph.indptr.strides == (0,)  # offsets that hold no memory
    sim.finish()
    with pytest.raises(RuntimeError, match="release_ties"):
        sim.step()


@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=40),
    st.integers(0, 1_000),
)
def test_a_bundle_is_one_event_id_shared_by_its_rows(sizes: list[int], first: int) -> None:
    """Bundled rows take one id per bundle, consecutive from the log's next id, and the
    next batch goes on from there; starts that do not begin at 0 and increase are
    refused."""
    from sclab.engine.events import EventLog

    log = EventLog(first_id=first)
    starts = np.cumsum([0, *sizes[:-1]])
    n = sum(sizes)
    who = np.arange(n)
    batch = log.record(0, "s", "k", who, who, bundle_starts=starts)
    assert batch.event_id.tolist() == [
        first + b for b, size in enumerate(sizes) for _ in range(size)
    ]
    assert log.record(0, "s", "k", np.array([1]), np.array([1])).event_id.tolist() == [
        first + len(sizes)
    ]
    if n > 1:
        with pytest.raises(ValueError, match="bundle_starts"):
            log.record(0, "s", "k", who, who, bundle_starts=np.array([1]))
    if len(sizes) > 1:
        with pytest.raises(ValueError, match="bundle_starts"):
            log.record(0, "s", "k", who, who, bundle_starts=starts[::-1].copy())


@given(st.lists(st.integers(1, 5), min_size=1, max_size=40), st.integers(-2_000, -1))
def test_a_bundle_made_on_its_act_days_is_stored_as_when_searched(
    sizes: list[int], last: int
) -> None:
    """A history recorded without delay passes one array as act and recording days; its
    bundles' rows (earliest recording day the first act day) equal those of a copy."""
    from sclab.engine.events import EventLog

    starts = np.cumsum([0, *sizes[:-1]])
    n = sum(sizes)
    who = np.repeat(np.arange(len(sizes)), sizes)
    days = (last - np.arange(n)[::-1]).astype(np.int32)  # act-day order within bundles
    shared = EventLog().record(
        0, "s", "k", who, who, bundle_starts=starts, act_day=days, recorded_day=days
    )
    copied = EventLog().record(
        0, "s", "k", who, who, bundle_starts=starts, act_day=days, recorded_day=days.copy()
    )
    for name, values in copied.columns().items():
        got = shared.columns()[name]
        if isinstance(values, np.ndarray):
            assert np.array_equal(got, values), name


def test_event_log_joins_todays_batches_kind_by_kind() -> None:
    import pyarrow as pa

    from sclab.engine.events import EventLog

    log = EventLog()
    # Records of past acts come as one batch per act day, with their recording day.
    a1 = log.record(3, "state", "sued", [1, 2], [1, 2], recorded_day=np.array([5, 5], np.int32))
    log.record(5, "cams", "jaywalk_identified", [7], [8])  # another kind between them
    a2 = log.record(4, "state", "sued", [3], [4], recorded_day=np.array([5], np.int32))
    log.record(5, "state", "sued", [5], [5])  # today's: no recording day column
    log.record(5, "state", "sued", [6], [6], error=pa.array(["x"]))  # other columns
    # A history (records of acts from before the run, with their act days) stays apart.
    history = log.record(
        -3, "state", "sued", [10, 11], [10, 11],
        act_day=np.array([-3, -2], np.int32), recorded_day=np.array([-1, 0], np.int32),
    )  # fmt: skip
    joined = log.by_kind()
    assert log.by_kind() is joined  # computed once while nothing new is recorded
    assert [(b.kind, len(b)) for b in joined] == [
        ("sued", 4), ("jaywalk_identified", 1), ("sued", 1), ("sued", 2),
    ]  # fmt: skip
    assert joined[3] is history  # not copied
    sued = joined[0]
    assert sued.day == 3 and sued.attributed_to.tolist() == [1, 2, 4, 5]
    assert sued.event_id.tolist() == [*a1.event_id.tolist(), *a2.event_id.tolist(), 4]
    assert sued.extra["recorded_day"].tolist() == [5, 5, 5, 5]  # the act day where none
    assert len(log.today) == 6  # the sink still gets every batch as recorded
    log.record(5, "state", "sued", [9], [9])
    assert len(log.by_kind()[0]) == 5  # a new batch: joined again
    log.end_day()
    assert log.by_kind() == []


def test_watched_places_forward_the_watch_and_the_draw_to_their_source() -> None:
    from sclab.engine.places import PlaceBoard, WatchedPlaces

    asked: list[float] = []

    def on_watch(capture: float) -> bool:
        asked.append(capture)
        return capture > 0.5  # the source decides what its acts will be

    def draw(rng: np.random.Generator, k: int) -> np.ndarray:
        return rng.integers(0, 10, k)

    district = np.array([0, 0, 1], np.uint8)
    places = WatchedPlaces("act", "src", district, [True, False, True], on_watch, draw)
    assert len(places) == 3 and places.camera.dtype == bool
    assert places.watch(1) is True and places.watch(0.25) is False
    assert asked == [1.0, 0.25] and isinstance(asked[0], float)
    with pytest.raises(ValueError, match=r"src: capture must be in \[0, 1\], got -0.1"):
        places.watch(-0.1)
    assert asked == [1.0, 0.25]  # refused before the source is asked
    # The caller's stream draws: the same generator state gives the same actors.
    a = places.draw_watched_actors(np.random.default_rng(4), 5)
    assert np.array_equal(a, np.random.default_rng(4).integers(0, 10, 5))
    district[0] = 1  # the source may change its array; the published view is read-only
    with pytest.raises(ValueError, match="read-only"):
        places.district[0] = 0
    with pytest.raises(ValueError, match="3 districts for 2 camera flags"):
        WatchedPlaces("act", "src", district, [True, False], on_watch, draw)

    board = PlaceBoard()
    with pytest.raises(LookupError, match=r"no source publishes the places of 'act' .*none"):
        board.of("act")
    board.publish(places)
    assert board.of("act") is places and board.kinds() == ["act"]
    with pytest.raises(LookupError, match=r"'other' acts \(published: act\)"):
        board.of("other")
