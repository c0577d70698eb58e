"""Finding, reading, overriding and validating scenarios.

Core objects:
    :func:`read_scenario`: a built-in name or a file path (plus command-line overrides) to a
        :class:`~sclab.scenario.schema.Scenario` validated by the schema, with its
        document (whose key lines later checks report against).
    :func:`apply_overrides`: command-line options applied to a scenario and validated.
    :func:`builtin_scenarios`: the names and one-line descriptions of shipped scenarios.

The schema is all this package checks. Whether the components a scenario names exist and
accept their parameters is a question for the registry, which sits above the scenario:
:func:`sclab.targets.load_scenario` asks it.

Command-line overrides are validated by the same schema as the file, but an error in one
is reported against the option (``--population``), not the file, because that is what the
user has to change.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sclab.errors import ScenarioError
from sclab.scenario.schema import Scenario
from sclab.yamlfile import LocatedYAML, load_yaml, read_yaml, validate

BUILTIN_PACKAGE = "sclab.scenario.builtin"

# option name -> path in the scenario document
OVERRIDES: dict[str, tuple[str, ...]] = {
    "--population": ("population", "size"),
    "--days": ("days",),
    "--seed": ("seed",),
}


def builtin_scenarios() -> dict[str, str]:
    """Names of the built-in scenarios mapped to their one-line descriptions."""
    out: dict[str, str] = {}
    for entry in sorted(resources.files(BUILTIN_PACKAGE).iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".yaml"):
            doc = load_yaml(entry.read_text(encoding="utf-8"), entry.name, ScenarioError)
            desc = " ".join(str(doc.data.get("description", "")).split())
            out[entry.name.removesuffix(".yaml")] = desc
    return out


def names_a_file(name_or_path: str) -> bool:
    """Whether a scenario argument is read as a file (a YAML suffix, a path separator, or
    an existing path) rather than as a built-in name."""
    path = Path(name_or_path)
    return path.suffix in (".yaml", ".yml") or path.exists() or "/" in name_or_path


def is_builtin_scenario(name: str) -> bool:
    """Whether ``name`` is a built-in scenario's name."""
    return (resources.files(BUILTIN_PACKAGE) / f"{name}.yaml").is_file()


def _locate(name_or_path: str) -> LocatedYAML:
    if names_a_file(name_or_path):
        return read_yaml(Path(name_or_path), ScenarioError)
    entry = resources.files(BUILTIN_PACKAGE) / f"{name_or_path}.yaml"
    if not entry.is_file():
        names = ", ".join(builtin_scenarios())
        raise ScenarioError(
            f"no built-in scenario '{name_or_path}' and no such file; "
            f"built-in scenarios are: {names}",
            source=name_or_path,
        )
    return load_yaml(entry.read_text(encoding="utf-8"), f"{name_or_path} (built-in)", ScenarioError)


def read_scenario(
    name_or_path: str, overrides: dict[str, Any] | None = None
) -> tuple[Scenario, LocatedYAML]:
    """Read, validate and override a scenario (the schema only, not the components).

    Args:
        name_or_path: A built-in scenario name (``demo``, ``nanjing``) or a YAML file path.
        overrides: Command-line options, keyed as in :data:`OVERRIDES` (e.g.
            ``{"--population": 1000}``); ``None`` values are ignored.

    Returns:
        The validated scenario and the document it was read from.

    Raises:
        ScenarioError: with file, line, field and what was expected.
    """
    doc = _locate(name_or_path)
    return apply_overrides(validate(doc, Scenario, ScenarioError), overrides), doc


def apply_overrides(scenario: Scenario, overrides: dict[str, Any] | None) -> Scenario:
    """Apply command-line overrides and validate them (an error names the option)."""
    applied = {k: v for k, v in (overrides or {}).items() if v is not None}
    if not applied:
        return scenario
    data = scenario.model_dump()
    for option, value in applied.items():
        if option not in OVERRIDES:
            raise ScenarioError(f"unknown override; expected one of {', '.join(OVERRIDES)}")
        target = data
        *parents, leaf = OVERRIDES[option]
        for key in parents:
            target = target[key]
        target[leaf] = value
        try:
            Scenario.model_validate(data)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            msg = err["msg"].replace("Input should be ", "expected ")
            raise ScenarioError(f"{msg} (got {value!r})", source=option) from None
    return Scenario.model_validate(data)
