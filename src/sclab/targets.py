"""What a run runs: a scenario checked against its components, or a policy pack on a world.

Core objects:
    :func:`load_scenario`: a built-in name or a file path (plus command-line overrides) to a
        validated :class:`~sclab.scenario.schema.Scenario` whose named components exist and
        accept their parameters.
    :func:`load_run_target`: what ``sclab run X`` runs: a scenario, or a policy pack or
        policy file on the built-in Nanjing world.
    :func:`looks_like_policy`: whether ``X`` names a policy rather than a scenario.
    :func:`check_components`: the component and parameter check, with the scenario's lines:
        every named component exists, accepts its parameters, is listed once, and names
        only kinds its scenario's catalogue has.
    :func:`builtin_catalogue`: what sclab's own components produce with their default
        parameters (what ``sclab check-policy`` checks a policy against);
        :func:`scenario_catalogue`: what a scenario's components produce.
    :func:`load_checked_policies`: a policy or bundle checked as ``sclab check-policy`` does.

This sits beside :mod:`sclab.run`, above both the scenario (which knows only its schema)
and the registry of components: checking a scenario's ``use:`` names needs the registry
filled with sclab's components, and a policy target needs the policy loader, neither of
which the scenario package may import.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sclab.engine.catalogue import Catalogue, gather
from sclab.engine.registry import STAGES, ParamsError
from sclab.errors import ScenarioError, SclabError
from sclab.run import BUILTIN_COMPONENTS, load_builtin_components
from sclab.scenario.loader import (
    apply_overrides,
    builtin_scenarios,
    is_builtin_scenario,
    names_a_file,
    read_scenario,
)
from sclab.scenario.schema import Scenario
from sclab.yamlfile import LocatedYAML, dotted, read_yaml, validate

if TYPE_CHECKING:
    from sclab.policy.schema import Bundle, Policy

BASE_FOR_PACKS = "nanjing"


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load, override and validate a scenario, components and their parameters included.

    Args:
        name_or_path: A built-in scenario name (``demo``, ``nanjing``) or a YAML file path.
        overrides: Command-line options, keyed as in
            :data:`~sclab.scenario.loader.OVERRIDES` (e.g. ``{"--population": 1000}``);
            ``None`` values are ignored.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: with file, line, field and what was expected.
    """
    scenario, doc = read_scenario(name_or_path, overrides)
    check_components(scenario, doc)
    return scenario


def check_components(scenario: Scenario, doc: LocatedYAML) -> None:
    """Every named source, sensor, behaviour and policy must be one sclab knows, with
    parameters its own schema accepts, listed once (twice, it would run twice and double
    its rows), and naming only kinds that the scenario's components produce (errors point
    at the line in ``doc``, or in the policy file that names the kind)."""
    registry = load_builtin_components()
    made: dict[str, list[tuple[int, Any]]] = {stage: [] for stage in STAGES}
    for stage in ("sources", "sensors", "behaviour", "policies"):
        for i, spec in enumerate(getattr(scenario, stage)):
            try:
                entry = registry.entry(stage, spec.use)
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
            try:
                if preflight is not None:
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
            if spec.enabled:
                made[stage].append((i, entry.factory(name=spec.use, params=validated)))
    _check_listed_once(made, doc)
    # The catalogue as the run will gather it (stage order), within what sclab knows.
    try:
        catalogue = gather((stage, c) for stage in STAGES for _, c in made[stage])
    except ValueError as exc:  # two of the scenario's components declare one kind
        raise ScenarioError(str(exc), source=doc.source) from None
    catalogue = catalogue.within(builtin_catalogue())
    # Policies that read other systems' lists: each must be a public list of a policy
    # that runs with them.
    from sclab.policy.vocabulary import published_lists

    policies = [c for _, c in made["policies"] if hasattr(c, "check_lists")]
    published = published_lists([c.policy for c in policies])
    for component in policies:
        component.check_lists(published, "this run")
    # Then what each component needs of the others and of the scenario (the kinds it
    # reads, the ethnic groups its parameters name...), before anything is generated.
    for stage in STAGES:
        for i, component in made[stage]:
            for hook, arg in (("check_kinds", catalogue), ("check_scenario", scenario)):
                check = getattr(component, hook, None)
                if check is None:
                    continue
                try:
                    check(arg)
                except ParamsError as exc:
                    path = (stage, i, "params", *exc.loc)
                    raise ScenarioError(
                        str(exc), source=doc.source, line=doc.line_of(path), field=dotted(path)
                    ) from None


def _check_listed_once(made: dict[str, list[tuple[int, Any]]], doc: LocatedYAML) -> None:
    """No component twice in a stage: the same ``use`` (a component's name), or for
    policies the same policy id or system name."""
    for stage, components in made.items():
        seen: dict[str, int] = {}
        for i, component in components:
            policy = getattr(component, "policy", None)
            keys = [component.name] if policy is None else [f"id:{policy.id}", component.name]
            for key in keys:
                if key not in seen:
                    seen[key] = i
                    continue
                first = seen[key]
                field: tuple[str, ...] = ("use",)
                what = f"{stage} component '{component.name}'"
                if policy is not None:
                    field = ("params", "pack")
                    what = (
                        f"policy id '{policy.id}'"
                        if key.startswith("id:")
                        else f"policy system '{policy.system_name}'"
                    )
                here: tuple[str | int, ...] = (stage, i, *field)
                there: tuple[str | int, ...] = (stage, first, *field)
                raise ScenarioError(
                    f"{what} is listed twice: here and at {dotted(there)} "
                    f"(line {doc.line_of(there)}); it would run twice and double its rows",
                    source=doc.source,
                    line=doc.line_of(here),
                    field=dotted(here),
                )


def scenario_catalogue(scenario: Scenario) -> Catalogue:
    """The catalogue of a validated scenario's enabled components (made from their
    parameters, without a population), within :func:`builtin_catalogue`: what a run of
    it gathers (:meth:`sclab.engine.simulation.Simulation.catalogue`)."""
    registry = load_builtin_components()
    made = [
        (stage, registry.build(stage, spec.use, spec.params))
        for stage in STAGES
        for spec in getattr(scenario, stage)
        if spec.enabled
    ]
    return gather(made).within(builtin_catalogue())


@functools.cache
def builtin_catalogue() -> Catalogue:
    """The catalogue of sclab's own components with their default parameters.

    Every registered component of :data:`sclab.run.BUILTIN_COMPONENTS` whose parameters
    all have defaults, in stage order. A scenario's catalogue is checked within it, so
    that a kind known to sclab but produced by none of the scenario's components is told
    apart from a misspelt one.
    """
    registry = load_builtin_components()
    made = []
    for stage in STAGES:
        for name in registry.available(stage):
            entry = registry.entry(stage, name)
            if not entry.factory.__module__.startswith(tuple(f"{p}." for p in BUILTIN_COMPONENTS)):
                continue
            try:
                params = entry.params.model_validate({})
            except ValidationError:
                continue  # needs parameters (a policy pack): declares no kind by default
            made.append((stage, entry.factory(name=name, params=params)))
    return gather(made)


def load_checked_policies(name_or_path: str) -> tuple[Bundle | None, list[Policy]]:
    """A policy file or pack (or a bundle and its packs), validated and with every name
    it uses checked against :func:`builtin_catalogue`, as ``sclab check-policy`` does.

    Raises:
        PolicyError: with file, line and field.
    """
    from sclab.policy.loader import is_bundle, load_bundle, read_policy
    from sclab.policy.vocabulary import check_list_references, check_names, published_lists

    bundle = None
    names = [name_or_path]
    if is_bundle(name_or_path):
        bundle, _ = load_bundle(name_or_path)
        names = list(bundle.packs)
    read = [read_policy(name) for name in names]
    # Other systems' lists: those of the policies checked together, else those of the
    # built-in packs (which `sclab run` adds to a pack that reads them).
    published = published_lists(builtin_policies()) | published_lists([p for p, _ in read])
    policies = []
    for policy, doc in read:
        check_names(policy, doc, builtin_catalogue())
        check_list_references(policy, doc, published, "this check or the built-in packs")
        policies.append(policy)
    return bundle, policies


def builtin_policies() -> list[Policy]:
    """Every built-in pack that is a policy (not a bundle)."""
    from sclab.policy.loader import builtin_packs, is_bundle, load_policy

    return [load_policy(name) for name in builtin_packs() if not is_bundle(name)]


def _with_lists_they_read(packs: list[str]) -> list[str]:
    """``packs`` and, after them, the built-in packs that publish the lists they read
    (transitively): a pack that reads the court's list runs with the court's pack."""
    from sclab.policy.loader import load_policy

    out = list(packs)
    systems = {load_policy(p).system_name for p in out}
    by_system = {p.system_name: p.id for p in builtin_policies()}
    i = 0
    while i < len(out):
        for name, _, _ in load_policy(out[i]).list_references():
            system = name.rsplit(".", 1)[0]
            if system not in systems and system in by_system:
                systems.add(system)
                out.append(by_system[system])
        i += 1
    return out


def looks_like_policy(name_or_path: str) -> bool:
    """True for a built-in pack name or a YAML file whose top level is a policy."""
    # Imported here, like every component module: importing the policy package registers
    # its component, and `import sclab` should leave the registry to whoever fills it.
    from sclab.policy.loader import is_pack

    if is_pack(name_or_path) and not is_builtin_scenario(name_or_path):
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
    with that pack as its policy, named after the pack, and the built-in packs that
    publish the other systems' lists it reads (Rongcheng's and Sesame's read the court's
    list of dishonest judgment debtors).
    """
    if not looks_like_policy(name_or_path):
        _refuse_unknown_name(name_or_path)
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
    base["policies"] = [
        {"use": "pack", "params": {"pack": p}} for p in _with_lists_they_read(list(packs))
    ]
    doc = LocatedYAML(data=base, source=f"{name_or_path} on {BASE_FOR_PACKS}")
    scenario = apply_overrides(validate(doc, Scenario, ScenarioError), overrides)
    check_components(scenario, doc)
    return scenario


def _refuse_unknown_name(name: str) -> None:
    """A bare name that names no built-in scenario: one line naming the scenarios and
    policy packs ``sclab run`` takes (regions, run on their own, are listed by
    ``sclab scenarios``).

    Raises:
        ScenarioError: ``name`` is no file and nothing built in.
    """
    if names_a_file(name) or is_builtin_scenario(name):
        return  # a file has its own errors
    from sclab.policy.loader import builtin_packs

    raise ScenarioError(
        f"no built-in scenario or policy pack '{name}' and no such file; scenarios: "
        f"{', '.join(builtin_scenarios())}; policy packs: {', '.join(builtin_packs())} "
        "(sclab scenarios lists them and the regions)",
        source=name,
    )


def twin_scenario(scenario: Scenario, twin: str) -> Scenario:
    """The scenario a run's twin runs: the same world and seed, with no policy (``none``),
    or with a baseline policy pack or policy file (and the built-in packs publishing the
    lists it reads) instead of the scenario's policies.

    Raises:
        SclabError: the baseline is neither ``none`` nor a pack or policy file.
    """
    return replace_policies(
        scenario, [] if twin == "none" else [twin], f"{scenario.name}-twin", "--twin"
    )


def replace_policies(
    scenario: Scenario, policies: list[str], name: str, option: str = "policies"
) -> Scenario:
    """The same world and seed named ``name``, with ``policies`` (packs, bundles or policy
    files, and the built-in packs publishing the lists they read) instead of the
    scenario's own; no policy at all for an empty list.

    Raises:
        SclabError: one of ``policies`` is not a pack or policy file (``option`` names
            where it was given).
    """
    from sclab.policy.loader import is_bundle, load_bundle, load_policy

    doc = scenario.model_dump()
    doc["name"] = name
    packs: list[str] = []
    for policy in policies:
        if not looks_like_policy(policy):
            expected = (
                "'none', a policy pack or a policy file"
                if option == "--twin"
                else ("a policy pack or a policy file")
            )
            raise SclabError(f"expected {expected}", source=option, field=policy)
        if is_bundle(policy):
            packs += load_bundle(policy)[0].packs
        else:
            load_policy(policy)  # a one-line error from the file itself
            packs.append(policy)
    doc["policies"] = [{"use": "pack", "params": {"pack": p}} for p in _with_lists_they_read(packs)]
    label = " + ".join(policies) or "none"
    located = LocatedYAML(data=doc, source=f"{scenario.name} with policies {label}")
    if option == "--twin":
        located.source = f"twin ({label}) of {scenario.name}"
    checked = validate(located, Scenario, ScenarioError)
    check_components(checked, located)
    # The policies validated, everything else the very objects of the run: validating a
    # scenario again may round its shares differently (renormalised floats), which would
    # draw another population.
    return scenario.model_copy(update={"name": checked.name, "policies": checked.policies})
