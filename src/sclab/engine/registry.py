"""Where components register, so that scenarios can name them.

Core objects:
    :class:`Registry` and its one instance :data:`REGISTRY`.
    :func:`register`: class decorator that adds a component under a stage and a name.

This is the engine's extension point. A scenario's ``sources``, ``sensors``, ``behaviour``
and ``policies`` lists name registered components (``use: payments``) and give their
parameters, which each component validates with its own Pydantic model. The engine stays
generic: it knows stages and the order they run in, not what any component does, and it
names no component package. A component registers when its module is imported; sclab's
own are listed in :data:`sclab.run.BUILTIN_COMPONENTS` and imported by
:func:`sclab.run.load_builtin_components`, which whoever needs a filled registry calls
(the run, the command line, the docs generator, the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

STAGES = ("sources", "sensors", "policies", "behaviour")
"""Run order within a day: true acts, then records, then decisions, then responses."""


class ParamsError(ValueError):
    """A component's parameters do not fit the scenario it runs in (a kind nobody
    produces, an ethnic group the population does not have...).

    ``loc`` is the parameter's path below the component's ``params`` (e.g.
    ``("matcher", "ethnic_fmr", "uyghur")``), so that the scenario check can point at its
    line. Components raise it from ``check_kinds(catalogue)`` or
    ``check_scenario(scenario)``, which the scenario check calls before any work.
    """

    def __init__(self, message: str, loc: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


class NoParams(BaseModel):
    """Parameters of a component that takes none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Entry:
    """One registered component."""

    stage: str
    name: str
    factory: Callable[..., Any]
    params: type[BaseModel]
    summary: str


T = TypeVar("T", bound=Callable[..., Any])  # a component class


class Registry:
    """Registered components by stage and name."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}

    def register(
        self, stage: str, name: str, params: type[BaseModel] = NoParams
    ) -> Callable[[T], T]:
        """Decorator: ``@register("sources", "payments", PaymentParams)`` on a component class.

        The class is constructed as ``cls(name=..., params=validated_params)``.
        """
        if stage not in STAGES:
            raise ValueError(f"unknown stage '{stage}'; expected one of {', '.join(STAGES)}")

        def decorate(cls: T) -> T:
            key = (stage, name)
            if key in self._entries:
                raise ValueError(f"{stage} component '{name}' is registered twice")
            doc = (getattr(cls, "__doc__", None) or "").strip().splitlines()
            self._entries[key] = Entry(stage, name, cls, params, doc[0] if doc else "")
            return cls

        return decorate

    def available(self, stage: str) -> list[str]:
        """Names registered for a stage."""
        return sorted(name for (s, name) in self._entries if s == stage)

    def entry(self, stage: str, name: str) -> Entry:
        """The entry for (stage, name), or ValueError naming what is available."""
        try:
            return self._entries[(stage, name)]
        except KeyError:
            names = self.available(stage)
            hint = f"expected one of: {', '.join(names)}" if names else "none is available yet"
            raise ValueError(f"unknown {stage} component '{name}'; {hint}") from None

    def build(self, stage: str, name: str, params: dict[str, Any]) -> Any:
        """Construct the component with validated parameters."""
        entry = self.entry(stage, name)
        return entry.factory(name=name, params=entry.params.model_validate(params))


def _default_text(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump()
    text = f"`{value}`"
    return text if len(text) <= 70 else "see source"


def markdown(registry: Registry | None = None) -> str:
    """Every registered component with its parameters, defaults and their sources.

    ``docs/components.md`` is this text for sclab's own components (a test keeps them
    equal): fill the registry first (:func:`sclab.run.load_builtin_components`).
    """
    reg = registry or REGISTRY
    out = [
        "# Components",
        "",
        "Sources, sensors, policies and behaviour that a scenario can name "
        "(`sources: [{use: NAME, params: {...}}]`). Each parameter's description says where",
        "its default comes from; *Assumption* marks judgement rather than a published figure.",
        "Generated from the code: `sclab components` prints the same list.",
        "",
    ]
    for stage in STAGES:
        names = [n for n in reg.available(stage) if not n.startswith("test-")]
        if not names:
            continue
        out += [f"## {stage}", ""]
        for name in names:
            entry = reg.entry(stage, name)
            out += [f"### `{name}`", "", entry.summary, ""]
            fields = entry.params.model_fields
            if not fields:
                out += ["No parameters.", ""]
                continue
            out += ["| parameter | default | meaning |", "| --- | --- | --- |"]
            for pname, f in fields.items():
                doc = " ".join((f.description or "").split()).replace("|", "\\|")
                out.append(f"| `{pname}` | {_default_text(f)} | {doc} |")
            out.append("")
            # A component with nested parameters (the cameras' matcher and its presets)
            # documents them itself: ``markdown_notes()`` on its parameter model.
            notes = getattr(entry.params, "markdown_notes", None)
            if callable(notes):
                out += [notes(), ""]
    return "\n".join(out)


REGISTRY = Registry()
register = REGISTRY.register
