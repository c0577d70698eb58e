"""Override paths: any scenario field or component parameter, named as a researcher would.

Core objects:
    :func:`apply_paths`: a validated scenario and ``{"cameras.capture": 0.01, ...}`` to a
        validated scenario with those values, every component checked again.
    :class:`OverrideError`: an override that names nothing, or a value its field refuses:
        one line naming the path as it was given.

A path is either a scenario field by its dotted path (``population.size``,
``social_graph.degree.mean``, ``sources.2.params.rate``: list items by their index), or a
component parameter as ``COMPONENT.PARAM``, where ``COMPONENT`` is the ``use:`` name of
one of the scenario's sources, sensors, behaviour or policies and ``PARAM`` a field of its
parameter model (a nested model's fields one level down: ``cameras.matcher.fmr``). The
sweep grid of a scale-out runs the same paths.

Values are validated by the same models as a scenario file (the scenario's schema, then
each component's parameter model and checks, :func:`sclab.targets.check_components`), so
a bad value reads as it would in a file, with the override's path in place of the file's
line. Only the top-level fields an override touches are taken from the validated copy:
the rest of the scenario stays the very objects it was, so that an override of a sensor
never redraws the population (validating a whole scenario again may round its shares
differently). Cost: one validation of the scenario and its components per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from sclab.errors import ScenarioError
from sclab.scenario.schema import Scenario
from sclab.yamlfile import LocatedYAML, dotted, validate

#: The stages whose entries are components named by ``use:``.
COMPONENT_STAGES = ("sources", "sensors", "behaviour", "policies")
#: Where override errors say they come from.
SOURCE = "overrides"


class OverrideError(ScenarioError):
    """An override path that names no field or component parameter, or a value refused."""


def apply_paths(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """``scenario`` with each ``path: value`` of ``overrides`` set and validated.

    Raises:
        OverrideError: an unknown component or parameter (the message lists the valid
            names), or a value its field refuses (the message says what was expected).
    """
    if not overrides:
        return scenario
    data = scenario.model_dump()
    locations: dict[str, tuple[str | int, ...]] = {}
    for path, value in overrides.items():
        loc = locate(scenario, str(path))
        _set(data, loc, value)
        locations[str(path)] = loc
    # Every path of the document "located" (at no line), so that a refusal names the
    # field it refuses, as it would in a file.
    doc = LocatedYAML(data=data, source=SOURCE, lines=dict.fromkeys(_paths(data), 0))
    from sclab.targets import check_components

    try:
        checked = validate(doc, Scenario, ScenarioError)
        check_components(checked, doc)
    except ScenarioError as exc:
        raise _blame(exc, locations) from None
    touched = {loc[0] for loc in locations.values()}
    return scenario.model_copy(update={str(k): getattr(checked, str(k)) for k in touched})


def locate(scenario: Scenario, path: str) -> tuple[str | int, ...]:
    """Where ``path`` points in the scenario's document (``("sensors", 1, "params",
    "capture")`` for ``cameras.capture``).

    Raises:
        OverrideError: no such field, component or parameter.
    """
    parts = path.split(".")
    if not all(parts):
        raise OverrideError(
            "expected a dotted path such as cameras.capture", source=SOURCE, field=path
        )
    head = parts[0]
    if head in Scenario.model_fields:
        return _field_path(scenario, path, parts)
    return _component_path(scenario, path, parts)


def _field_path(scenario: Scenario, path: str, parts: list[str]) -> tuple[str | int, ...]:
    """A scenario field: each part a field of the model (or key of the mapping) there."""
    here: Any = scenario
    loc: list[str | int] = []
    for i, part in enumerate(parts):
        if isinstance(here, BaseModel):
            names = list(type(here).model_fields)
            if part not in names:
                raise _unknown(path, part, ".".join(parts[:i]) or "the scenario", names)
            here = getattr(here, part)
            loc.append(part)
        elif isinstance(here, list):
            if not part.isdigit() or int(part) >= len(here):
                raise OverrideError(
                    f"expected an index from 0 to {len(here) - 1} at '{part}'",
                    source=SOURCE,
                    field=path,
                )
            here = here[int(part)]
            loc.append(int(part))
        elif isinstance(here, dict):
            # A mapping (shares by group, a component's params): any key; the model that
            # reads it says whether the key is one it knows.
            here = here.get(part)
            loc.append(part)
        else:
            raise OverrideError(
                f"'{'.'.join(parts[:i])}' is a value, not a group of fields",
                source=SOURCE,
                field=path,
            )
    return tuple(loc)


def _component_path(scenario: Scenario, path: str, parts: list[str]) -> tuple[str | int, ...]:
    """``COMPONENT.PARAM...``: a component of the scenario and a field of its parameters."""
    from sclab.run import load_builtin_components

    name, params = parts[0], parts[1:]
    found = [
        (stage, i)
        for stage in COMPONENT_STAGES
        for i, spec in enumerate(getattr(scenario, stage))
        if spec.use == name
    ]
    if not found:
        used = sorted({s.use for st in COMPONENT_STAGES for s in getattr(scenario, st)})
        fields = ", ".join(Scenario.model_fields)
        raise OverrideError(
            f"no component '{name}' in scenario {scenario.name} and no such scenario field; "
            f"expected one of its components ({', '.join(used) or 'none'}) or a field "
            f"({fields})",
            source=SOURCE,
            field=path,
        )
    if len(found) > 1:
        where = ", ".join(f"{stage}.{i}.params" for stage, i in found)
        raise OverrideError(
            f"component '{name}' is listed {len(found)} times ({where}); give the one "
            "meant by its place, e.g. " + f"{found[0][0]}.{found[0][1]}.params.NAME",
            source=SOURCE,
            field=path,
        )
    stage, index = found[0]
    model: Any = load_builtin_components().entry(stage, name).params
    if not params:
        raise _unknown(path, "", f"{stage} component '{name}'", list(model.model_fields))
    for i, part in enumerate(params):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            break  # a mapping parameter: its keys are the parameter's to check
        names = list(model.model_fields)
        if part not in names:
            owner = ".".join([name, *params[:i]])
            raise _unknown(path, part, f"{stage} component '{owner}'", names)
        model = model.model_fields[part].annotation
    return (stage, index, "params", *params)


def _unknown(path: str, part: str, owner: str, names: list[str]) -> OverrideError:
    what = f"unknown parameter '{part}' of {owner}" if part else f"no parameter named for {owner}"
    return OverrideError(f"{what}; expected one of: {', '.join(names)}", source=SOURCE, field=path)


def _set(data: Any, loc: tuple[str | int, ...], value: Any) -> None:
    """Set ``value`` at ``loc`` in a plain document, making missing mappings on the way."""
    here = data
    for key in loc[:-1]:
        if isinstance(here, dict):
            nxt = here.get(key)
            if not isinstance(nxt, dict | list):
                nxt = {}
                here[key] = nxt
            here = nxt
        else:
            here = here[int(key)]
    if isinstance(here, list):
        here[int(loc[-1])] = value
    else:
        here[loc[-1]] = value


def _paths(data: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every path of a plain document: mapping keys and list indices, nested."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    out = []
    for key, value in items:
        here = (*prefix, key)
        out.append(here)
        if isinstance(value, dict | list):
            out += _paths(value, here)
    return out


def _blame(exc: ScenarioError, locations: dict[str, tuple[str | int, ...]]) -> OverrideError:
    """The error of a validation, said of the override whose value it refuses: the one at
    or above the field refused, else the only one below it."""
    field = exc.field or ""
    at = {path: dotted(loc) for path, loc in locations.items()}
    exact = [p for p, d in at.items() if field == d or field.startswith((f"{d}.", f"{d}["))]
    below = [p for p, d in at.items() if field and d.startswith((f"{field}.", f"{field}["))]
    for found in (exact, below):
        if len(found) == 1:
            return OverrideError(exc.message, source=SOURCE, field=found[0])
    heads = {p.split(".")[0] for p in below}
    if len(heads) == 1:  # several parameters of one component, refused together
        return OverrideError(exc.message, source=SOURCE, field=heads.pop())
    # A check across fields (two components, a share total): the message names them.
    return OverrideError(exc.message, source=SOURCE, field=exc.field)
