"""YAML documents that remember where each field came from.

Core objects:
    :class:`LocatedYAML`: the parsed document plus the line of every mapping key and list
        item, so that a schema error can point at ``file:line``.
    :func:`load_yaml`: safe-load a file or string into a :class:`LocatedYAML`.
    :func:`validate`: validate a :class:`LocatedYAML` against a Pydantic model and turn the
        first error into one :class:`~sclab.errors.SclabError` line.

Scenarios and policies share this so that every configuration error reads the same way:
``scenario.yaml:12: population.size: expected a value greater than 0 (got -5)``.
Only ``yaml.SafeLoader`` is used: configuration is data, never code.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sclab.errors import SclabError

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails

Path_ = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass
class LocatedYAML:
    """A parsed YAML document with the source line of each field.

    Attributes:
        data: The document as plain Python objects.
        source: A name for messages (usually the file path).
        lines: Maps a field path such as ``("population", "size")`` to its 1-based line.
    """

    data: Any
    source: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """Line of ``path`` or of its nearest ancestor that has one."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def dotted(path: Path_) -> str:
    """``("districts", 3, "code")`` → ``districts[3].code``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_yaml(text: str, source: str, error: type[SclabError] = SclabError) -> LocatedYAML:
    """Parse YAML text safely, recording lines and rejecting duplicate keys.

    PyYAML silently keeps the last of two equal keys; a scenario with ``seed`` twice is
    almost always a mistake, so it is reported instead.

    Raises:
        SclabError (or ``error``): malformed YAML or a duplicate key, with its line.
    """
    loader = yaml.SafeLoader(text)
    lines: dict[Path_, int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            raise error("the file is empty; expected a YAML mapping", source=source)

        def walk(n: yaml.Node, path: Path_) -> None:
            lines.setdefault(path, n.start_mark.line + 1)
            if isinstance(n, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, value_node in n.value:
                    key = loader.construct_object(key_node, deep=True)
                    if isinstance(key, list | dict):
                        raise error(
                            "expected a plain key",
                            source=source,
                            line=key_node.start_mark.line + 1,
                            field=dotted(path) or None,
                        )
                    if key in seen:
                        raise error(
                            f"duplicate key '{key}'; each field may appear once",
                            source=source,
                            line=key_node.start_mark.line + 1,
                            field=dotted((*path, key)),
                        )
                    seen.add(key)
                    lines[(*path, key)] = key_node.start_mark.line + 1
                    walk(value_node, (*path, key))
            elif isinstance(n, yaml.SequenceNode):
                for i, item in enumerate(n.value):
                    walk(item, (*path, i))

        walk(node, ())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "malformed YAML").strip()
        raise error(f"malformed YAML: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:  # e.g. a reader error on bad bytes
        raise error(f"malformed YAML: {exc}", source=source) from None
    finally:
        loader.dispose()
    return LocatedYAML(data=data, source=source, lines=lines)


def read_yaml(path: Path, error: type[SclabError] = SclabError) -> LocatedYAML:
    """Read and parse a YAML file, reporting unreadable files as one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", source=str(path)) from None
    except IsADirectoryError:
        raise error("is a directory; expected a YAML file", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read the file ({exc})", source=str(path)) from None
    return load_yaml(text, str(path), error)


def _model_at(model: type[BaseModel], path: Path_) -> type[BaseModel] | None:
    """The Pydantic model that owns the last element of ``path``, if it can be found."""
    current: Any = model
    for part in path:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if not isinstance(part, str) or part not in current.model_fields:
                return None
            current = current.model_fields[part].annotation
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any, part: str | int) -> Any:
    """Look through Optional, list[...] and dict[..., ...] to the element model."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(tp) if a is not type(None)]
        return models[0] if len(models) == 1 else None
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(tp)[0]
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0], part)
    return tp


def _describe(err: ErrorDetails, model: type[BaseModel], loc: Path_) -> str:
    kind = err.get("type", "")
    msg: str = err.get("msg", "invalid value")
    got = err.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(model, loc[:-1])
        allowed = ", ".join(owner.model_fields) if owner is not None else ""
        hint = f"; expected one of: {allowed}" if allowed else ""
        return f"unknown field '{loc[-1]}'{hint}"
    if kind == "missing":
        return "missing required field"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be ") :]
    elif msg.startswith("Assertion failed, "):
        msg = msg[len("Assertion failed, ") :]
    if got is not None and not isinstance(got, dict | list) and "got" not in msg:
        msg += f" (got {got!r})"
    return msg


def validate(doc: LocatedYAML, model: type[M], error: type[SclabError] = SclabError) -> M:
    """Validate ``doc`` against ``model``; report the first problem as one line.

    Raises:
        SclabError (or ``error``): naming file, line, field and what was expected.
    """
    if not isinstance(doc.data, dict):
        raise error(
            f"expected a YAML mapping of fields at the top level, got {type(doc.data).__name__}",
            source=doc.source,
            line=1,
        )
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A misspelt field is both unknown and (its correct name) missing: say "unknown".
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        raw: Path_ = tuple(p for p in first["loc"] if isinstance(p, str | int))
        # Pydantic puts tagged-union discriminators and function names into locations,
        # anywhere in the path; keep only the parts that exist in the document (and a last
        # part that is missing or unknown by nature).
        loc: Path_ = ()
        absent_by_nature = first["type"] in ("missing", "extra_forbidden")
        for i, part in enumerate(raw):
            if (*loc, part) in doc.lines or (i == len(raw) - 1 and absent_by_nature):
                loc = (*loc, part)
        # A validator may say which field below the model it is about (a cross-reference
        # names the referencing field); without that the error would point at the model.
        below = getattr((first.get("ctx") or {}).get("error"), "loc", None)
        if below:
            loc = (*loc, *below)
        raise error(
            _describe(first, model, loc),
            source=doc.source,
            line=doc.line_of(loc),
            field=dotted(loc) or None,
        ) from None
