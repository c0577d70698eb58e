"""The simulation engine: a daily clock over struct-of-arrays state and plug-in components.

Core objects:
    :class:`Component`: what a source, sensor, policy or behaviour implements.
    :class:`State`: named per-entity arrays that components share (rate multipliers,
        ages...), one array per quantity, index = person_id or company_id; every name is
        declared (:mod:`sclab.engine.statearrays`, :data:`ENGINE_STATE`).
    :class:`Simulation`: owns the population, the state, the event log and the components,
        and runs days in stage order (:data:`~sclab.engine.registry.STAGES`).

Components meet only through the simulation's logs and contracts: acts
(:class:`~sclab.engine.acts.ActLog`), events, decisions, :class:`State`, the places that
sources publish for sensors to watch (:class:`~sclab.engine.places.PlaceBoard`) and the
system view (:class:`~sclab.engine.feedback.SystemView`).

Each day, in order: sources produce true acts; sensors turn them into records (with
errors); policies decide on records; behaviour responds to what policies did, which shapes
the next day's acts. Metrics are never computed here: they are computed afterwards from the
recorded history in the database (the audit stage), as in ml-fairness-gym.

Randomness: a component asks ``sim.rng(self.name, day)`` (optionally per partition) and gets
its own stream, so switching one component on or off never changes another's draws.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sclab.engine.acts import OUTCOMES, ActLog, Aggregates, MomentLog, Moments
from sclab.engine.ages import AGE
from sclab.engine.avoidance import AVOIDED
from sclab.engine.catalogue import Catalogue, gather
from sclab.engine.decisions import DecisionLog
from sclab.engine.events import EventBatch, EventLog
from sclab.engine.feedback import SystemView
from sclab.engine.places import PlaceBoard
from sclab.engine.propensity import COMPANY_PROPENSITY, PROPENSITY
from sclab.engine.registry import REGISTRY, STAGES
from sclab.engine.statearrays import Declaration, StateDeclarations
from sclab.population import Population, SocialGraph
from sclab.population.bits import PackedBools
from sclab.rng import StreamKey, Streams
from sclab.scenario.schema import Scenario

DAYS_PER_YEAR = 365.0
"""Days in the simulation's year (one step a day): yearly rates are divided by it."""
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

ENGINE_STATE: tuple[Declaration, ...] = (AGE, PROPENSITY, COMPANY_PROPENSITY, AVOIDED)
"""The state arrays shared through the engine's contracts (each declared beside its
contract); every :class:`State` accepts them. ``docs/state.md`` lists them."""


class Component(Protocol):
    """A pluggable part of the model. ``setup`` once, ``step`` daily, ``finish`` at the end.

    A component that produces acts, events or resource moments declares their kinds
    with ``kinds()`` (or, recording acts under their own kind, ``records(act)``), see
    :mod:`sclab.engine.catalogue`. One that writes other text into the database's label
    columns (systems, rule ids...) also has ``labels() -> {label set: labels}``, listing
    every label it may write in this run. Both come from its parameters alone: they are
    called before ``setup``. The label sets are those of
    :func:`sclab.store.schema.label_columns`.

    A component that creates state arrays of its own (beyond the engine's shared ones,
    :data:`ENGINE_STATE`) declares them in a class attribute ``state_arrays``: a tuple of
    :class:`~sclab.engine.statearrays.StateArray` and
    :class:`~sclab.engine.statearrays.StateFamily` (``docs/state.md`` lists them).
    """

    name: str

    def setup(self, sim: Simulation) -> None: ...

    def step(self, sim: Simulation, day: int) -> None: ...

    def finish(self, sim: Simulation) -> None: ...


#: A watcher of a state array: ``fn(array, entities, old values)``, see :meth:`State.watch`.
Watcher = Callable[[np.ndarray, np.ndarray | None, np.ndarray], None]


class State:
    """Named arrays over entities: the shared, mutable state of a run.

    Every name is declared once, with its entity type, dtype, initial value and meaning
    (:mod:`sclab.engine.statearrays`): the engine's shared arrays (:data:`ENGINE_STATE`)
    always, a component's own when the simulation is assembled (:meth:`declare`).
    :meth:`add`, :meth:`write`, :meth:`watch`, :meth:`get`, ``state[name]`` and
    ``name in state`` refuse a name nobody declared, saying how to declare it, so that a
    misspelt key fails instead of silently making a second array.

    Args:
        sizes: Number of entities per entity type, e.g. ``{"person": n, "company": m}``.
        declared: Declarations beyond :data:`ENGINE_STATE`, owned by ``owner``.
        owner: Who made ``declared`` (shown when two declarations disagree).
    """

    def __init__(
        self, sizes: dict[str, int], declared: Iterable[Declaration] = (), owner: str = "caller"
    ) -> None:
        self.sizes = dict(sizes)
        self.declarations = StateDeclarations()
        self.declarations.declare(ENGINE_STATE, owner="engine")
        self.declarations.declare(declared, owner=owner)
        self._arrays: dict[str, np.ndarray] = {}
        self._watchers: dict[str, list[Watcher]] = {}

    def declare(self, declared: Iterable[Declaration], owner: str) -> None:
        """Accept the arrays and families ``declared`` by ``owner`` (a component's name).

        Raises:
            ValueError: One of them is declared differently already.
        """
        self.declarations.declare(declared, owner)

    def add(
        self,
        name: str,
        entity_type: str | None = None,
        dtype: np.dtype | type | None = None,
        fill: float | None = None,
    ) -> np.ndarray:
        """Create (or return the existing) array ``name`` with one slot per entity.

        Its entity type, dtype and initial value are the declared ones; any given here
        must agree with them (they say what the caller relies on).

        Raises:
            KeyError: ``name`` is not declared.
            ValueError: ``entity_type``, ``dtype`` or ``fill`` differ from the declaration.
        """
        decl = self.declarations.lookup(name)
        asked: dict[str, object] = {
            "entity type": entity_type,
            "dtype": None if dtype is None else np.dtype(dtype),
            "fill": fill,
        }
        have = {"entity type": decl.entity, "dtype": decl.dtype, "fill": decl.fill}
        for what, value in asked.items():
            if value is None:
                continue
            if value != have[what]:
                raise ValueError(
                    f"state '{name}' is declared with {what} {have[what]} (by "
                    f"{self.declarations.owner(name)}), not {value}: use the declared "
                    "one, or change the declaration"
                )
        if name in self._arrays:
            return self._arrays[name]
        if decl.entity not in self.sizes:
            raise ValueError(
                f"state '{name}' is declared per {decl.entity}, and this state sizes "
                f"only {', '.join(self.sizes)}"
            )
        arr = np.full(self.sizes[decl.entity], decl.fill, dtype=decl.dtype)
        arr.flags.writeable = name not in self._watchers
        self._arrays[name] = arr
        return arr

    def watch(self, name: str, fn: Watcher) -> None:
        """Call ``fn(array, entities, old)`` after every :meth:`write` to ``name``.

        ``old`` holds the values of ``array[entities]`` before the write (``entities``
        None: a whole-array write, ``old`` a copy of the whole array). May be called
        before the array exists (not before it is declared). Watched arrays are read-only
        outside :meth:`write`, so a write that bypasses the watchers fails loudly.
        """
        self.declarations.lookup(name)
        self._watchers.setdefault(name, []).append(fn)
        if name in self._arrays:
            self._arrays[name].flags.writeable = False

    def write(self, name: str, values: Any, entities: np.ndarray | None = None) -> None:
        """Set ``name[entities] = values`` (the whole array if ``entities`` is None),
        then tell its watchers what the values were."""
        arr = self[name]
        watchers = self._watchers.get(name, [])
        where = slice(None) if entities is None else entities
        old = None
        if watchers:
            # Indexing by entities already copies; only the whole array's view needs one.
            old = arr.copy() if entities is None else arr[entities]
        arr.flags.writeable = True
        try:
            arr[where] = values
        finally:
            arr.flags.writeable = not watchers
        if old is None:  # nobody watches
            return
        for fn in watchers:
            fn(arr, entities, old)

    def __getitem__(self, name: str) -> np.ndarray:
        self.declarations.lookup(name)
        try:
            return self._arrays[name]
        except KeyError:
            raise KeyError(
                f"no state '{name}' yet; components create it with State.add in setup()"
            ) from None

    def get(self, name: str, default: np.ndarray | None = None) -> np.ndarray | None:
        """The array ``name``, or ``default`` if no component created it (it must be
        declared)."""
        self.declarations.lookup(name)
        return self._arrays.get(name, default)

    def __contains__(self, name: str) -> bool:
        """Whether the declared array ``name`` was created."""
        self.declarations.lookup(name)
        return name in self._arrays

    def names(self) -> list[str]:
        return sorted(self._arrays)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._arrays.values())


@dataclass
class Simulation:
    """One run: population, state, components and the event log."""

    scenario: Scenario
    streams: Streams
    population: Population
    events: EventLog
    state: State
    acts: ActLog = field(default_factory=ActLog)
    moments: MomentLog = field(default_factory=MomentLog)
    view: SystemView = field(default_factory=lambda: SystemView(0))
    aggregates: Aggregates = field(default_factory=lambda: Aggregates({}))
    decisions: DecisionLog = field(default_factory=DecisionLog)
    places: PlaceBoard = field(default_factory=PlaceBoard)
    components: list[tuple[str, Component]] = field(default_factory=list)
    # One flag per CSR tie end (PackedBools; tests may assign a bool array); None: all active.
    ties_active: PackedBools | np.ndarray | None = None
    day: int = -1
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per component
    ties_released: bool = False  # see release_ties: no day may be stepped after
    # The catalogue and the number of components it was gathered from (see catalogue).
    _catalogue: tuple[int, Catalogue] | None = field(default=None, repr=False)

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        streams: Streams,
        population: Population,
        sink: Callable[[EventBatch], None] | None = None,
        moment_sink: Callable[[Moments, int], None] | None = None,
        decision_sink: Callable[[str, dict], None] | None = None,
    ) -> Simulation:
        """Assemble a simulation (see :meth:`assemble`) and set its components up.

        Args:
            scenario: The validated scenario.
            streams: The run's random streams.
            population: The generated population.
            sink: Receives recorded events at the end of each day.
            moment_sink: Receives resource moments (with outcomes) at the end of each day.
            decision_sink: Receives sanctions, score changes and list entries, daily.
        """
        sim = cls.assemble(scenario, streams, population, sink, moment_sink, decision_sink)
        sim.setup()
        return sim

    @classmethod
    def assemble(
        cls,
        scenario: Scenario,
        streams: Streams,
        population: Population,
        sink: Callable[[EventBatch], None] | None = None,
        moment_sink: Callable[[Moments, int], None] | None = None,
        decision_sink: Callable[[str, dict], None] | None = None,
    ) -> Simulation:
        """Make the components the scenario names, in stage order, without setting them up.

        Their :meth:`labels` are known from here; :meth:`setup` then allocates their state
        (the arguments are those of :meth:`build`).
        """
        sizes = {"person": len(population.citizens), "company": len(population.companies)}
        sim = cls(
            scenario,
            streams,
            population,
            # A region's cities number their events apart (2**40 ids each), so that a
            # decision in one city can name the event of another that it rests on.
            EventLog(
                sink,
                0 if scenario.city is None else scenario.city.index * EventLog.CITY_ID_STRIDE,
            ),
            State(sizes),
            moments=MomentLog(moment_sink),
            view=SystemView(sizes["person"]),
            aggregates=Aggregates(sizes),
            decisions=DecisionLog(decision_sink),
        )
        for stage in STAGES:
            for spec in getattr(scenario, stage):
                if spec.enabled:
                    sim.components.append((stage, REGISTRY.build(stage, spec.use, spec.params)))
        for _, component in sim.components:
            sim.state.declare(getattr(component, "state_arrays", ()), owner=component.name)
        return sim

    def setup(self) -> None:
        """Set every component up (allocate and initialise its state), in stage order."""
        for stage, component in self.components:
            t0 = time.perf_counter()
            component.setup(self)
            self._charge(f"{stage}:{component.name}:setup", t0)

    def catalogue(self) -> Catalogue:
        """What can happen in this run: the kinds its components declare, each with its
        producer (:mod:`sclab.engine.catalogue`), gathered once the components are made
        (again if a component was added since)."""
        if self._catalogue is None or self._catalogue[0] != len(self.components):
            self._catalogue = (len(self.components), gather(self.components))
        return self._catalogue[1]

    def labels(self) -> dict[str, set[str]]:
        """Label set → every label the run's components may write into label columns.

        The kinds of the run's :meth:`catalogue` (``act_kind``, ``moment_kind``), the
        components' own declarations, and what the engine writes itself: component
        names (the ``source`` of events) and the outcomes of resource moments.
        """
        out: dict[str, set[str]] = {
            "source": {component.name for _, component in self.components},
            "moment_outcome": set(OUTCOMES),
            **self.catalogue().labels(),
        }
        for _, component in self.components:
            declared = getattr(component, "labels", None)
            for name, values in (declared() if declared else {}).items():
                if name in ("act_kind", "moment_kind"):
                    raise ValueError(
                        f"{component.name} declares '{name}' labels; kinds are declared "
                        "once, with kinds() (see sclab.engine.catalogue)"
                    )
                out.setdefault(name, set()).update(values)
        return out

    def _charge(self, key: str, since: float) -> None:
        # Wall time is measured for the reader (manifest, bench), never used by the model.
        self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - since

    def date(self, day: int) -> dt.date:
        """Calendar date of a simulation day."""
        return self.scenario.start_date + dt.timedelta(days=day)

    def rng(
        self, name: str, day: int | None = None, partition: int | None = None
    ) -> np.random.Generator:
        """The random stream of component ``name`` for a day (and partition)."""
        return self.streams.get(name, day=day, partition=partition)

    def stream_key(self, component: str, stream: str) -> StreamKey:
        """The generators of one stream of a component, keyed by (district, period): see
        :mod:`sclab.rng` for the key layout."""
        return StreamKey(self.streams, component, stream, self.scenario.days)

    def step(self, before_day_ends: Callable[[Simulation], None] | None = None) -> None:
        """Advance one day through every stage.

        Args:
            before_day_ends: Called with the simulation after the last stage, while the
                day's true acts (``acts.today``) and decided resource moments
                (``moments.today``) are still held, before they are dropped. For a reader
                of the truth outside the model (``sclab explain``); it must not change
                anything.
        """
        if self.ties_released:
            raise RuntimeError(
                "the tie graph was released (release_ties) when the days ended; "
                "build a new simulation to step further"
            )
        self.day += 1
        for stage, component in self.components:
            t0 = time.perf_counter()
            component.step(self, self.day)
            self._charge(f"{stage}:{component.name}", t0)
        if before_day_ends is not None:
            before_day_ends(self)
        t0 = time.perf_counter()
        # Today's true acts first: nothing below reads them, and on day 0 they hold a
        # whole history, which is then gone before the day's rows are stored.
        self.acts.end_day()
        self.events.end_day()
        self.decisions.end_day()
        self.moments.end_day()
        self.view.end_day()
        self._charge("engine:end_of_day", t0)

    def run(
        self,
        on_day: Callable[[int], None] | None = None,
        finish: bool = True,
        before_day_ends: Callable[[Simulation], None] | None = None,
    ) -> None:
        """Run all scenario days; ``on_day(day)`` after each (for progress display).

        Args:
            on_day: Called with the day's number after each day.
            finish: Then let every component finish (see :meth:`finish`); False leaves
                that to the caller, e.g. to :meth:`release_ties` first.
            before_day_ends: Passed to every :meth:`step`: sees each day's true acts.
        """
        while self.day + 1 < self.scenario.days:
            self.step(before_day_ends)
            if on_day is not None:
                on_day(self.day)
        if finish:
            self.finish()

    def release_ties(self) -> None:
        """Drop the tie graph's arrays and the active-tie flags, once the days are over.

        Only the daily steps read the ties (the ``ties`` table is written before the run);
        finishing (settling lazy totals) and writing results need neither. At millions of
        people they are the largest arrays (about 60 bytes per person at a mean degree of
        12), so releasing them first keeps the end of a run below the peak of its days.
        The population keeps its size and loses its ties: no day can be stepped after.
        """
        n = self.population.graph.n
        # A stride-0 view: n + 1 zero offsets without n + 1 stored values.
        empty = np.broadcast_to(np.int64(0), (n + 1,))
        self.population.graph = SocialGraph(
            empty, np.empty(0, np.int32), PackedBools.full(0, False)
        )
        self.ties_active = None
        self.ties_released = True

    def finish(self) -> None:
        """Let every component finish (settle what is pending) after the last day."""
        for stage, component in self.components:
            t0 = time.perf_counter()
            component.finish(self)
            self._charge(f"{stage}:{component.name}:finish", t0)
