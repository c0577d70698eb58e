"""The engine's observer of each day's truth (``Simulation.run(before_day_ends=...)``), which
``sclab explain`` uses to reproduce true acts: it sees every act and moment of the day
before they are dropped, and changes nothing."""

from __future__ import annotations

import numpy as np
from tests.conftest import small_scenario

from sclab.engine import Simulation
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_scenario


def build(write_scenario) -> Simulation:
    doc = small_scenario(
        days=6, sources=[{"use": "payments"}, {"use": "resources"}], sensors=[{"use": "records"}]
    )
    scenario = load_scenario(str(write_scenario(doc)))
    streams = Streams(scenario.seed)
    return Simulation.build(scenario, streams, generate_population(scenario, streams))


def test_observer_sees_every_act_of_every_day_and_changes_nothing(write_scenario) -> None:
    seen: dict[str, int] = {}
    days: list[int] = []
    moments = 0
    actors: list[np.ndarray] = []

    def observe(sim: Simulation) -> None:
        nonlocal moments
        days.append(sim.day)
        for batch in sim.acts.today:
            assert batch.day == sim.day
            if "occurred_day" in batch.extra:
                continue  # a warm start's acts from before the run: not the run's totals
            seen[batch.kind] = seen.get(batch.kind, 0) + len(batch)
            actors.append(batch.actor.copy())
        moments += sum(len(m) for m in sim.moments.today)

    watched = build(write_scenario)
    watched.run(finish=False, before_day_ends=observe)
    assert days == list(range(watched.scenario.days))
    assert watched.acts.today == []  # dropped after the observer saw them
    # Every act the run counted one by one was seen, on its day.
    each = {k: n for k, n in watched.acts.totals.items() if k in seen}
    assert seen == each and sum(seen.values()) > 0
    assert moments == sum(watched.moments.totals.values()) > 0
    # The same run without an observer makes the same acts and records.
    plain = build(write_scenario)
    plain.run(finish=False)
    assert plain.acts.totals == watched.acts.totals
    assert plain.events.next_id == watched.events.next_id
    assert plain.moments.totals == watched.moments.totals
