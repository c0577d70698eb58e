"""Declarations of the simulation state: every shared array named once, with its meaning.

Core objects:
    :class:`StateArray`: one named per-entity array (name, entity type, dtype, initial
        value, meaning).
    :class:`StateFamily`: arrays named ``<prefix>/<member>``, one per member (an act kind,
        for instance), all of the same entity type, dtype and initial value; the family is
        declared once with the rule its members follow.
    :class:`StateDeclarations`: what a run's :class:`~sclab.engine.simulation.State`
        accepts: each name resolved to its declaration, or refused with how to declare it.
    :func:`markdown`: the declared arrays as text (``docs/state.md``).

The state's keys are the contract between components that never import each other (a
behaviour component writes a rate multiplier, a source reads it the next day), so a
misspelt key would silently split one quantity in two. Declaring each key once, where its
owner lives, turns that into an error: the engine's shared arrays are declared beside the
engine contract that uses them and listed in
:data:`sclab.engine.simulation.ENGINE_STATE`; a component's own arrays are declared by its
class (``state_arrays``) and gathered when the simulation is assembled, like its labels.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sclab.engine.registry import STAGES

NAME = re.compile(r"[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*")
"""A state name: lower-case words joined by ``_``, grouped by ``/`` (``population/age``)."""

ENTITIES = ("person", "company")
"""The entity types a state array may be indexed by (person_id, company_id)."""

MEMBER = re.compile(r"[a-z][a-z0-9_]*")
"""A family member: one lower-case word with ``_`` (act kinds are spelt so)."""

HOW_TO_DECLARE = (
    "declare it once with its entity type, dtype and meaning: a StateArray or StateFamily "
    "(sclab.engine.statearrays) in the owning component's class attribute `state_arrays` "
    "(gathered when the simulation is assembled), or, for an array shared through the "
    "engine's contracts, beside that contract and in sclab.engine.simulation.ENGINE_STATE"
)


def _check_common(what: str, entity: str, dtype: Any, meaning: str) -> np.dtype:
    if entity not in ENTITIES:
        raise ValueError(
            f"{what}: unknown entity type {entity!r}; expected one of {', '.join(ENTITIES)}"
        )
    if not meaning.strip():
        raise ValueError(f"{what}: say what the array means (meaning is empty)")
    return np.dtype(dtype)


@dataclass(frozen=True)
class StateArray:
    """One named array with a slot per entity of ``entity`` type.

    Args:
        name: The key in the state, e.g. ``population/age``.
        entity: Entity type it is indexed by (``person`` or ``company``).
        dtype: Its NumPy dtype.
        fill: The value of every slot when it is created.
        meaning: What a slot holds, for readers of the code and of ``docs/state.md``.
    """

    name: str
    entity: str
    dtype: np.dtype
    fill: float
    meaning: str

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ValueError(
                f"state name {self.name!r}: expected lower-case words joined by '_' and "
                "grouped by '/', e.g. 'population/age'"
            )
        dtype = _check_common(f"state '{self.name}'", self.entity, self.dtype, self.meaning)
        object.__setattr__(self, "dtype", dtype)


@dataclass(frozen=True)
class StateFamily:
    """Arrays named ``<prefix>/<member>``: one per member, all declared alike.

    Args:
        prefix: What every member's name starts with, e.g. ``propensity``.
        member: What a member stands for, e.g. ``act kind`` (shown in errors and docs).
        entity, dtype, fill, meaning: As for :class:`StateArray`, shared by every member.

    A member is one lower-case word with ``_`` (:data:`MEMBER`): ``propensity/jaywalk``.
    """

    prefix: str
    member: str
    entity: str
    dtype: np.dtype
    fill: float
    meaning: str

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.prefix):
            raise ValueError(
                f"state family prefix {self.prefix!r}: expected lower-case words joined by "
                "'_' and grouped by '/', e.g. 'propensity'"
            )
        dtype = _check_common(
            f"state family '{self.pattern}'", self.entity, self.dtype, self.meaning
        )
        object.__setattr__(self, "dtype", dtype)

    @property
    def pattern(self) -> str:
        """The family's names as written in errors and docs: ``propensity/<act kind>``."""
        return f"{self.prefix}/<{self.member}>"

    def key(self, member: str) -> str:
        """The name of ``member``'s array, e.g. ``propensity/jaywalk``.

        Raises:
            ValueError: ``member`` does not follow the family's rule.
        """
        if not MEMBER.fullmatch(member):
            raise ValueError(
                f"{self.pattern}: {member!r} is not a valid {self.member} (expected one "
                "lower-case word with '_', e.g. 'jaywalk')"
            )
        return f"{self.prefix}/{member}"

    def array(self, member: str) -> StateArray:
        """The declaration of ``member``'s array."""
        return StateArray(self.key(member), self.entity, self.dtype, self.fill, self.meaning)


Declaration = StateArray | StateFamily


class StateDeclarations:
    """The declared arrays and families of one run, each with who declared it."""

    def __init__(self) -> None:
        self._arrays: dict[str, tuple[StateArray, str]] = {}
        self._families: dict[str, tuple[StateFamily, str]] = {}
        # Members of families resolved so far: state is read by name every day, and a
        # family, once declared, never changes.
        self._members: dict[str, tuple[StateArray, str]] = {}

    def declare(self, declarations: Iterable[Declaration], owner: str) -> None:
        """Add ``declarations`` made by ``owner`` (``engine`` or a component's name).

        The same declaration made twice (two components of one class) is accepted.

        Raises:
            ValueError: A name declared differently before (as an array, or as a member
                of a family).
        """
        for d in declarations:
            if isinstance(d, StateFamily):
                for name, (array, by) in self._arrays.items():
                    prefix, _, member = name.rpartition("/")
                    if prefix == d.prefix and MEMBER.fullmatch(member) and array != d.array(member):
                        raise ValueError(
                            f"state family '{d.pattern}' ({owner}) covers '{name}', "
                            f"declared otherwise as an array by {by}"
                        )
                before = self._families.get(d.prefix)
                if before is None:
                    self._families[d.prefix] = (d, owner)
                elif before[0] != d:
                    raise ValueError(
                        f"state family '{d.pattern}' ({owner}) is declared differently "
                        f"by {before[1]}"
                    )
                continue
            found = self._find(d.name)
            if found is None:
                self._arrays[d.name] = (d, owner)
            elif found[0] != d:
                raise ValueError(
                    f"state '{d.name}' ({owner}) is declared differently by {found[1]}"
                )

    def _find(self, name: str) -> tuple[StateArray, str] | None:
        found = self._arrays.get(name)
        if found is not None:
            return found
        found = self._members.get(name)
        if found is not None:
            return found
        prefix, _, member = name.rpartition("/")
        family = self._families.get(prefix)
        if family is None or not MEMBER.fullmatch(member):
            return None
        found = self._members[name] = (family[0].array(member), family[1])
        return found

    def __contains__(self, name: str) -> bool:
        return self._find(name) is not None

    def lookup(self, name: str) -> StateArray:
        """The declaration of ``name`` (an array, or a member of a family).

        Raises:
            KeyError: ``name`` is not declared; the message says how to declare it.
        """
        return self._resolve(name)[0]

    def owner(self, name: str) -> str:
        """Who declared ``name`` (``engine`` or a component's name)."""
        return self._resolve(name)[1]

    def _resolve(self, name: str) -> tuple[StateArray, str]:
        found = self._find(name)
        if found is None:
            prefix, _, member = name.rpartition("/")
            close = difflib.get_close_matches(name, self._arrays, n=1, cutoff=0.8) or [
                f"{p}/{member}"
                for p in difflib.get_close_matches(prefix, self._families, n=1, cutoff=0.8)
            ]
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise KeyError(f"state '{name}' is not declared{hint}; {HOW_TO_DECLARE}")
        return found

    def declared(self) -> list[tuple[Declaration, str]]:
        """Every declaration with its owner, arrays and families sorted by name."""
        items: list[tuple[Declaration, str]] = [*self._arrays.values(), *self._families.values()]
        return sorted(items, key=lambda item: _label(item[0]))


def _label(d: Declaration) -> str:
    return d.pattern if isinstance(d, StateFamily) else d.name


def _fill_text(d: Declaration) -> str:
    fill = d.fill
    return f"{fill:g}" if isinstance(fill, float) else str(fill)


def _table(declarations: Iterable[Declaration]) -> list[str]:
    out = ["| name | entity | dtype | initially | meaning |", "| --- | --- | --- | --- | --- |"]
    for d in sorted(declarations, key=_label):
        meaning = " ".join(d.meaning.split()).replace("|", "\\|")
        out.append(f"| `{_label(d)}` | {d.entity} | {d.dtype} | {_fill_text(d)} | {meaning} |")
    return out


def markdown(engine: Iterable[Declaration], registry: Any) -> str:
    """The declared state arrays: the engine's shared ones, then each component's own.

    ``docs/state.md`` is this text for :data:`~sclab.engine.simulation.ENGINE_STATE` and
    sclab's own components (a test keeps them equal): fill the registry first
    (:func:`sclab.run.load_builtin_components`).
    """
    out = [
        "# State arrays",
        "",
        "The named per-entity arrays that components share through `sim.state` "
        "(`sclab.engine.simulation.State`).",
        "Each is declared once, with its entity type, dtype, initial value and meaning; "
        "`State.add`, `write`,",
        "`watch` and `get` refuse a name nobody declared, or a dtype or entity type other "
        "than the declared one.",
        "A family (`prefix/<member>`) declares one array per member, created when first "
        "used. Generated from the",
        "code by `make docs`.",
        "",
        "## Shared through the engine",
        "",
        "Declared beside the engine contract that uses them, listed in "
        "`sclab.engine.simulation.ENGINE_STATE`.",
        "",
        *_table(engine),
        "",
        "## Owned by a component",
        "",
        "Declared by the component's class (`state_arrays`) and gathered when the "
        "simulation is assembled.",
        "",
    ]
    owned = []
    for stage in STAGES:
        for name in registry.available(stage):
            if name.startswith("test-"):
                continue
            declared = getattr(registry.entry(stage, name).factory, "state_arrays", ())
            if declared:
                owned += [f"### `{name}` ({stage})", "", *_table(declared), ""]
    out += owned or ["None of sclab's own components declares an array of its own.", ""]
    return "\n".join(out)
