"""Finding, reading, overriding and validating scenarios.

Core objects:
    :func:`load_scenario`: a built-in name or a file path (plus command-line overrides) to a
        validated :class:`~sclab.scenario.schema.Scenario`.
    :func:`builtin_scenarios`: the names and one-line descriptions of shipped scenarios.

Command-line overrides are validated by the same schema as the file, but an error in one
is reported against the option (``--population``), not the file, because that is what the
user has to change.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sclab.errors import ScenarioError, SclabError
from sclab.scenario.schema import Scenario
from sclab.yamlfile import LocatedYAML, dotted, load_yaml, read_yaml, validate

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


def _locate(name_or_path: str) -> LocatedYAML:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in name_or_path:
        return read_yaml(path, ScenarioError)
    entry = resources.files(BUILTIN_PACKAGE) / f"{name_or_path}.yaml"
    if not entry.is_file():
        names = ", ".join(builtin_scenarios())
        raise ScenarioError(
            f"no built-in scenario '{name_or_path}' and no such file; "
            f"built-in scenarios are: {names}",
            source=name_or_path,
        )
    return load_yaml(entry.read_text(encoding="utf-8"), f"{name_or_path} (built-in)", ScenarioError)


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, override and validate a scenario.

    Args:
        name_or_path: A built-in scenario name (``demo``, ``nanjing``) or a YAML file path.
        overrides: Command-line options, keyed as in :data:`OVERRIDES` (e.g.
            ``{"--population": 1000}``); ``None`` values are ignored.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: with file, line, field and what was expected.
    """
    doc = _locate(name_or_path)
    scenario = validate(doc, Scenario, ScenarioError)
    return apply_overrides(scenario, doc, overrides)


def apply_overrides(
    scenario: Scenario, doc: LocatedYAML, overrides: dict[str, Any] | None
) -> Scenario:
    """Apply command-line overrides, validate them, and check the named components."""
    applied = {k: v for k, v in (overrides or {}).items() if v is not None}
    if applied:
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
        scenario = Scenario.model_validate(data)
    _check_components(scenario, doc)
    return scenario


def _check_components(scenario: Scenario, doc: LocatedYAML) -> None:
    """Every named source, sensor, behaviour and policy must be one sclab knows, with
    parameters its own schema accepts."""
    from sclab.engine.registry import REGISTRY

    for stage in ("sources", "sensors", "behaviour", "policies"):
        for i, spec in enumerate(getattr(scenario, stage)):
            try:
                entry = REGISTRY.entry(stage, spec.use)
            except ValueError as exc:
                path: tuple[str | int, ...] = (stage, i, "use")
                raise ScenarioError(
                    str(exc), source=doc.source, line=doc.line_of(path), field=dotted(path)
                ) from None
            params = LocatedYAML(
                data=spec.params,
                source=doc.source,
                lines={k[3:]: v for k, v in doc.lines.items() if k[:3] == (stage, i, "params")},
            )
            try:
                validated = validate(params, entry.params, ScenarioError)
            except ScenarioError as exc:
                prefix = dotted((stage, i, "params"))
                raise ScenarioError(
                    exc.message,
                    source=doc.source,
                    line=exc.line or doc.line_of((stage, i)),
                    field=f"{prefix}.{exc.field}" if exc.field else prefix,
                ) from None
            # Components whose parameters name other files (a policy pack) check them now,
            # so that an error there is reported before anything is generated.
            preflight = getattr(entry.factory, "check_params", None)
            if preflight is None:
                continue
            try:
                preflight(validated)
            except SclabError as exc:
                if exc.line is not None:
                    raise  # a line in the named file itself: that is where to look
                # Nothing there to point at (a pack that does not exist): point at the
                # scenario's parameter that names it.
                at = (stage, i, "params")
                raise ScenarioError(
                    exc.one_line(), source=doc.source, line=doc.line_of(at), field=dotted(at)
                ) from None


BASE_FOR_PACKS = "nanjing"


def looks_like_policy(name_or_path: str) -> bool:
    """True for a built-in pack name or a YAML file whose top level is a policy."""
    from sclab.policy.loader import is_pack

    if (
        is_pack(name_or_path)
        and not (resources.files(BUILTIN_PACKAGE) / f"{name_or_path}.yaml").is_file()
    ):
        return True
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        try:
            doc = read_yaml(path, ScenarioError)
        except ScenarioError:
            return False
        return (
            isinstance(doc.data, dict)
            and "geography" not in doc.data
            and ("rules" in doc.data or "scores" in doc.data or "lists" in doc.data)
        )
    return False


def load_run_target(name_or_path: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """What ``sclab run X`` runs: a scenario, or a policy pack/file on the Nanjing world.

    A pack runs on the built-in ``nanjing`` scenario (every source, sensor and behaviour)
    with that pack as its only policy, named after the pack.
    """
    if not looks_like_policy(name_or_path):
        return load_scenario(name_or_path, overrides)
    from sclab.policy.loader import is_bundle, load_bundle, load_policy

    # One-line errors come from the policy file itself, before the world is assembled.
    if is_bundle(name_or_path):
        bundle, _ = load_bundle(name_or_path)
        ident, title, packs = bundle.id, bundle.title, bundle.packs
    else:
        policy = load_policy(name_or_path)
        ident, title, packs = policy.id, policy.title, [name_or_path]
    base = load_scenario(BASE_FOR_PACKS).model_dump()
    base["name"] = ident
    base["description"] = f"{title} on the Nanjing world."
    base["policies"] = [{"use": "pack", "params": {"pack": p}} for p in packs]
    doc = LocatedYAML(data=base, source=f"{name_or_path} on {BASE_FOR_PACKS}")
    return apply_overrides(validate(doc, Scenario, ScenarioError), doc, overrides)
