"""Which settings of a run differ from the defaults, and which values are assumptions.

Core objects:
    :func:`scenario_document`: the scenario as run (``run_info.scenario_yaml``) as data.
    :func:`differences`: every setting of the recorded scenario that differs from the
        scenario schema's default (:class:`sclab.scenario.Scenario`), from the built-in
        scenario of the same name if there is one (command-line overrides show here), and
        every component switched off or given its own parameters.
    :func:`assumptions`: the scenario fields whose default is documented as an
        Assumption rather than a published figure, with the value the run used.

Components' own defaults live with the components, which the report does not import
(it reads the run only): ``sclab report`` passes them in (:class:`ComponentParam`, from
the component registry). Without them, a parameter the scenario sets is flagged as set,
with its value, and ``docs/components.md`` gives the default and its source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from sclab.errors import SclabError
from sclab.scenario import Scenario, read_scenario
from sclab.scenario.loader import builtin_scenarios
from sclab.scenario.schema import COMPONENT_STAGES
from sclab.yamlfile import load_yaml

#: Scenario fields that describe rather than set anything.
DESCRIPTIVE = ("description", "source")


@dataclass(frozen=True)
class Difference:
    """One setting of the run that is not the default.

    Attributes:
        setting: Dotted path (``population.size``, ``sensors.cameras.params.capture``).
        value: The run's value, as text.
        default: The value it differs from, as text (``-`` when none).
        against: What the default is: ``schema default``, ``built-in scenario 'demo'``,
            ``component default``.
        note: Where the default comes from, or what the flag means.
    """

    setting: str
    value: str
    default: str
    against: str
    note: str

    def row(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "value": self.value,
            "default": self.default,
            "against": self.against,
            "note": self.note,
        }


def scenario_document(yaml_text: str) -> dict[str, Any]:
    """The recorded scenario as a dict (empty when the text is not a mapping)."""
    doc = load_yaml(yaml_text or "{}", "run_info.scenario_yaml", SclabError).data
    return doc if isinstance(doc, dict) else {}


def _text(value: Any, limit: int = 120) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _model_of(info: FieldInfo) -> type[BaseModel] | None:
    ann = info.annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _schema_walk(
    model: type[BaseModel], data: dict[str, Any], prefix: str, out: list[Difference]
) -> None:
    for name, info in model.model_fields.items():
        if name in COMPONENT_STAGES or name in DESCRIPTIVE:
            continue  # components: see _components; descriptions change no result
        path = f"{prefix}{name}"
        sub = _model_of(info)
        value = data.get(name)
        if sub is not None and isinstance(value, dict):
            _schema_walk(sub, value, path + ".", out)
            continue
        if info.is_required():
            continue
        default = _json(info.get_default(call_default_factory=True))
        if _json(value) != default:
            out.append(
                Difference(
                    path,
                    _text(value),
                    _text(default),
                    "schema default",
                    " ".join((info.description or "").split()),
                )
            )


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _against_builtin(doc: dict[str, Any], out: list[Difference]) -> None:
    name = doc.get("name")
    if not isinstance(name, str) or name not in builtin_scenarios():
        return
    try:
        builtin = read_scenario(name)[0].model_dump(mode="json")
    except SclabError:
        return
    skip = (*COMPONENT_STAGES, *DESCRIPTIVE)
    ours = _flatten({k: v for k, v in doc.items() if k not in skip}, "")
    theirs = _flatten({k: v for k, v in builtin.items() if k not in skip}, "")
    for path in sorted(set(ours) | set(theirs)):
        if path.rsplit(".", 1)[-1] in DESCRIPTIVE:
            continue
        if ours.get(path) != theirs.get(path):
            out.append(
                Difference(
                    path,
                    _text(ours.get(path, "-")),
                    _text(theirs.get(path, "-")),
                    f"built-in scenario '{name}'",
                    "changed from the built-in scenario (a command-line option such as "
                    "--population, --days or --seed, or an edited copy)",
                )
            )
    for stage in COMPONENT_STAGES:
        mine = [c.get("use") for c in doc.get(stage) or [] if isinstance(c, dict)]
        base = [c.get("use") for c in builtin.get(stage) or []]
        if mine != base:
            out.append(
                Difference(
                    stage,
                    ", ".join(map(str, mine)) or "none",
                    ", ".join(map(str, base)) or "none",
                    f"built-in scenario '{name}'",
                    "a different set of components",
                )
            )


@dataclass(frozen=True)
class ComponentParam:
    """A component parameter's default and documentation, as the registry declares it.

    Attributes:
        component: ``stage.name`` (``sensors.cameras``).
        param: Dotted path below the component's ``params`` (``matcher.fmr``).
        default: The default as JSON data (None when the parameter has none).
        description: Where the default comes from (a source, or "Assumption" and a range).
    """

    component: str
    param: str
    default: Any
    description: str


def _components(
    doc: dict[str, Any], out: list[Difference], known: list[ComponentParam] | None
) -> None:
    defaults = {(c.component, c.param): c for c in known or []}
    for stage in COMPONENT_STAGES:
        for spec in doc.get(stage) or []:
            if not isinstance(spec, dict):
                continue
            use = str(spec.get("use"))
            params = spec.get("params") or {}
            if stage == "policies" and set(params) <= {"pack"}:
                continue  # the pack named is the policy itself (see What ran)
            if spec.get("enabled") is False:
                out.append(
                    Difference(
                        f"{stage}.{use}.enabled", "false", "true", "component default",
                        "switched off: the component ran no part of this run",
                    )
                )  # fmt: skip
            for path, value in _flatten(params, "").items():
                param = defaults.get((f"{stage}.{use}", path))
                if param is None:  # not in the list given: compare with the docs
                    default, note = (
                        "see docs/components.md",
                        (
                            "set by the scenario; the component's default and its source are "
                            "in docs/components.md"
                        ),
                    )
                elif _json(value) == param.default:
                    continue  # set, but to the default
                else:
                    default, note = _text(param.default), param.description
                out.append(
                    Difference(
                        f"{stage}.{use}.params.{path}", _text(value), default,
                        "component default", note,
                    )
                )  # fmt: skip


def component_assumptions(doc: dict[str, Any], known: list[ComponentParam]) -> list[dict[str, Any]]:
    """The parameters of the run's components whose default is documented as an
    Assumption: component, parameter, the value the run used and the documentation."""
    used: dict[tuple[str, str], Any] = {}
    running: set[str] = set()
    for stage in COMPONENT_STAGES:
        for spec in doc.get(stage) or []:
            if isinstance(spec, dict) and spec.get("enabled", True) is not False:
                name = f"{stage}.{spec.get('use')}"
                running.add(name)
                for path, value in _flatten(spec.get("params") or {}, "").items():
                    used[(name, path)] = value
    out = []
    for c in known:
        if c.component in running and "Assumption" in c.description:
            value = used.get((c.component, c.param), c.default)
            shown = "the default the note names" if value is None else _text(value)
            out.append(
                {"component": c.component, "setting": c.param, "value": shown,
                 "why": " ".join(c.description.split())}
            )  # fmt: skip
    return out


def differences(
    doc: dict[str, Any], components: list[ComponentParam] | None = None
) -> list[Difference]:
    """Every setting of the recorded scenario ``doc`` that is not the default (see the
    module's docstring), schema defaults first, then the built-in scenario, then
    components (compared with ``components``' defaults where given)."""
    out: list[Difference] = []
    try:
        Scenario.model_validate(doc)
        valid = True
    except ValidationError:
        valid = False  # made by another sclab: compare what the schema still names
    _schema_walk(Scenario, doc, "", out)
    _against_builtin(doc, out)
    _components(doc, out, components)
    if not valid:
        out.append(
            Difference(
                "(scenario)",
                "-",
                "-",
                "schema",
                "the recorded scenario does not validate against this sclab's schema "
                "(made by another version?): the comparison is partial",
            )
        )
    return out


def assumptions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Scenario fields whose documented default is an Assumption (not a published
    figure): path, the run's value and the documentation (which states the range)."""
    out: list[dict[str, Any]] = []

    def walk(model: type[BaseModel], data: dict[str, Any], prefix: str) -> None:
        for name, info in model.model_fields.items():
            path = f"{prefix}{name}"
            sub = _model_of(info)
            value = data.get(name) if isinstance(data, dict) else None
            if sub is not None:
                walk(sub, value if isinstance(value, dict) else {}, path + ".")
                continue
            text = " ".join((info.description or "").split())
            if "Assumption" in text:
                if value is None and not info.is_required():
                    value = _json(info.get_default(call_default_factory=True))
                out.append({"setting": path, "value": _text(value), "why": text})

    walk(Scenario, doc, "")
    return out
