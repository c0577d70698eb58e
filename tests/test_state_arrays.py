"""Declared state: every name in ``sim.state`` is declared once, with its dtype and entity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sclab.engine import Simulation, State, register
from sclab.engine.ages import AGE
from sclab.engine.propensity import COMPANY_PROPENSITY, PROPENSITY, propensity_key
from sclab.engine.simulation import ENGINE_STATE
from sclab.engine.statearrays import MEMBER, StateArray, StateDeclarations, StateFamily
from sclab.population import generate_population
from sclab.rng import Streams
from sclab.targets import load_run_target, load_scenario

SIZES = {"person": 6, "company": 3}


def _not_declared(name: str) -> str:
    return rf"state '{name}' is not declared.*StateArray.*state_arrays.*ENGINE_STATE"


@pytest.mark.parametrize(
    "use",
    [
        lambda state, name: state.add(name, "person", np.float32),
        lambda state, name: state.write(name, 1.0),
        lambda state, name: state.watch(name, lambda arr, who, old: None),
        lambda state, name: state.get(name),
        lambda state, name: state[name],
        lambda state, name: name in state,
    ],
    ids=["add", "write", "watch", "get", "getitem", "contains"],
)
def test_an_undeclared_name_fails_and_says_how_to_declare_it(use) -> None:
    state = State(SIZES)
    with pytest.raises(KeyError, match=_not_declared("opinion/trust")) as error:
        use(state, "opinion/trust")
    assert "did you mean" not in str(error.value)  # nothing declared is close
    # A misspelt key of a declared array or family is pointed at the right one.
    with pytest.raises(KeyError, match=r"did you mean 'propensity/jaywalk'"):
        use(state, "propensty/jaywalk")
    with pytest.raises(KeyError, match=r"did you mean 'population/age'"):
        use(state, "population/ages")
    assert state.names() == []


def test_a_dtype_entity_or_fill_other_than_declared_fails() -> None:
    state = State(SIZES)
    key = propensity_key("jaywalk")
    for wrong, what in (
        ({"entity_type": "company"}, "entity type person"),
        ({"dtype": np.float64}, "dtype float32"),
        ({"fill": 0.0}, "fill 1.0"),
    ):
        with pytest.raises(ValueError, match=rf"'{key}' is declared with {what} \(by engine\)"):
            state.add(key, **wrong)
    mult = state.add(key, "person", np.float32, 1.0)
    assert mult.dtype == np.float32 and mult.tolist() == [1.0] * SIZES["person"]
    with pytest.raises(ValueError, match="dtype float32"):
        state.add(key, dtype=np.float16)  # also once the array exists
    with pytest.raises(ValueError, match="declared per company, and this state sizes only person"):
        State({"person": 4}).add(COMPANY_PROPENSITY.key("contract_breach"))


member_names = st.from_regex(MEMBER, fullmatch=True)


@given(kind=member_names)
def test_every_member_of_a_family_is_declared_alike(kind: str) -> None:
    state = State(SIZES)
    for family in (PROPENSITY, COMPANY_PROPENSITY):
        key = family.key(kind)
        assert key == f"{family.prefix}/{kind}" and key in state.declarations
        decl = state.declarations.lookup(key)
        assert (decl.entity, decl.dtype, decl.fill) == (family.entity, family.dtype, family.fill)
        assert state.declarations.owner(key) == "engine"
        arr = state.add(key)
        assert arr.dtype == family.dtype and len(arr) == SIZES[family.entity]
        assert (arr == family.fill).all() and state.get(key) is arr
    assert state.names() == sorted([PROPENSITY.key(kind), COMPANY_PROPENSITY.key(kind)])


@given(
    kind=st.text(min_size=0, max_size=12).filter(lambda s: not MEMBER.fullmatch(s)),
)
def test_a_name_outside_a_familys_rule_is_not_a_member(kind: str) -> None:
    with pytest.raises(ValueError, match=r"propensity/<act kind>: .* is not a valid act kind"):
        PROPENSITY.key(kind)
    with pytest.raises(KeyError, match="not declared"):
        State(SIZES).add(f"propensity/{kind}")


def test_declarations_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="unknown entity type 'household'"):
        StateArray("x", "household", np.int8, 0, "A flag.")
    with pytest.raises(ValueError, match="meaning is empty"):
        StateArray("x", "person", np.int8, 0, " ")
    with pytest.raises(ValueError, match="lower-case words"):
        StateArray("Scores/Sesame", "person", np.int16, 0, "A score.")
    with pytest.raises(ValueError, match="lower-case words"):
        StateFamily("perceived risk", "act kind", "person", np.float32, 0, "A risk.")
    declared = StateDeclarations()
    declared.declare(ENGINE_STATE, "engine")
    declared.declare(ENGINE_STATE, "engine")  # the same declarations again: accepted
    # A member of a family may be declared again only as the family declares it.
    declared.declare([PROPENSITY.array("jaywalk")], "streets")
    differs = r"'propensity/jaywalk' \(streets\) is declared differently by engine"
    with pytest.raises(ValueError, match=differs):
        declared.declare(
            [StateArray("propensity/jaywalk", "person", np.float64, 1.0, "A multiplier.")],
            "streets",
        )
    with pytest.raises(ValueError, match=r"'population/age' \(x\) is declared differently"):
        declared.declare([StateArray("population/age", "person", np.int32, 0, "Age.")], "x")
    fresh = StateDeclarations()
    fresh.declare([PROPENSITY.array("jaywalk")], "streets")
    fresh.declare([PROPENSITY], "engine")  # covers an array declared as it declares it
    assert fresh.owner("propensity/jaywalk") == "streets" and "propensity/walk" in fresh
    with pytest.raises(ValueError, match="covers 'population/age'"):
        declared.declare([StateFamily("population", "attribute", "person", np.int8, 0, "A.")], "x")


@register("sources", "test-owned-state")
class OwnedState:
    """Test source: keeps a count per person in an array it declares itself."""

    state_arrays = (
        StateArray("test/visits", "person", np.int32, 0, "Visits so far."),
        StateFamily("test/by_kind", "act kind", "company", np.int8, 0, "Flags per kind."),
    )

    def __init__(self, name: str, params: object) -> None:
        self.name = name

    def setup(self, sim: Simulation) -> None:
        self.visits = sim.state.add("test/visits")
        sim.state.add("test/by_kind/inspection")

    def step(self, sim: Simulation, day: int) -> None:
        self.visits[day % len(self.visits)] += 1

    def finish(self, sim: Simulation) -> None:
        pass


@register("sources", "test-clashing-state")
class ClashingState(OwnedState):
    """Test source: declares the engine's ages with another dtype."""

    state_arrays = (StateArray("population/age", "person", np.float64, 0, "Age in years."),)


def _build(write_scenario, sources: list[str]) -> Simulation:
    from tests.conftest import small_scenario

    doc = small_scenario(sources=[{"use": s} for s in sources], population={"size": 500})
    scenario = load_scenario(str(write_scenario(doc)))
    streams = Streams(scenario.seed)
    return Simulation.build(scenario, streams, generate_population(scenario, streams))


def test_a_components_own_arrays_are_gathered_when_assembled(write_scenario) -> None:
    sim = _build(write_scenario, ["test-owned-state"])
    assert sim.state.declarations.owner("test/visits") == "test-owned-state"
    assert sim.state.declarations.owner("test/by_kind/inspection") == "test-owned-state"
    assert sim.state.names() == ["test/by_kind/inspection", "test/visits"]
    sim.run()
    assert sim.state["test/visits"].sum() == sim.scenario.days
    with pytest.raises(ValueError, match=r"'population/age' \(test-clashing-state\)"):
        _build(write_scenario, ["test-clashing-state"])


def test_every_array_of_a_composite_run_is_declared_as_created() -> None:
    scenario = load_run_target("composite", {"--population": 20_000, "--days": 40})
    streams = Streams(scenario.seed)
    sim = Simulation.build(scenario, streams, generate_population(scenario, streams))
    sim.run()
    names = sim.state.names()
    # Ages, and the multipliers the behaviour components adjusted, whose kinds vary.
    assert AGE.name in names and sum(n.startswith("propensity/") for n in names) >= 3
    for name in names:
        decl = sim.state.declarations.lookup(name)
        arr = sim.state[name]
        assert arr.dtype == decl.dtype and len(arr) == sim.state.sizes[decl.entity], name


def test_state_docs_match_the_declarations() -> None:
    from sclab.engine.statearrays import markdown
    from sclab.run import load_builtin_components

    docs = Path(__file__).resolve().parents[1] / "docs" / "state.md"
    text = markdown(ENGINE_STATE, load_builtin_components())
    assert docs.read_text(encoding="utf-8") == text, "regenerate docs/state.md (make docs)"
    for decl in ENGINE_STATE:
        assert f"`{decl.pattern if isinstance(decl, StateFamily) else decl.name}`" in text
