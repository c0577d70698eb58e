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

import sys
import types
import typing
from collections.abc import Hashable
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


# Limits on what a document may cost before any object is built. Scenarios and policies are
# small hand-written files; these bounds are far above any legitimate one and far below
# what would hurt the machine, so that a hostile or broken file (a "billion laughs" of
# nested aliases, thousands of nested brackets) costs a one-line error, not gigabytes.

#: Largest document read, in bytes (characters for text given directly). The largest
#: built-in document (the sesame pack) is about 10 KB, and a scenario listing all 255
#: districts the schema allows, with long names, about 40 KB: 1 MiB leaves 25 times that,
#: and keeps PyYAML's pure-Python parser to a few seconds on any such file.
MAX_DOCUMENT_BYTES = 1 << 20

#: Deepest nesting of mappings and lists, aliases expanded. No scenario or policy model is
#: recursive: the deepest field of either schema sits 10 levels down (a factor score's
#: weights in a policy; scenario fields go 5 levels down), so 32 is three times what any
#: valid document needs, and keeps the recursive composer and checks far from Python's
#: recursion limit (a few frames per level, against 1,000).
MAX_DEPTH = 32

#: Most aliases (``*name``) in one document. None of the built-in documents uses one; a
#: hand-written file reuses a block (the same component parameters twice, a shared list of
#: districts) a handful of times, so 1,000 is generous.
MAX_ALIASES = 1_000

#: Most nodes (each mapping, list, key and value) once every alias is expanded: what the
#: line tracking, the duplicate-key check and validation will visit. A scenario listing all
#: 255 districts has about 3,000; the largest built-in policy about 370. The bound is what
#: stops nested aliases from expanding exponentially (nine aliases of nine aliases... of
#: one value make 9**9 values from a few hundred bytes).
MAX_NODES = 50_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_INT_TAG = "tag:yaml.org,2002:int"


class _Refused(Exception):
    """A document over one of the limits above (or otherwise refused while composing), at
    a line."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _BadValue(Exception):
    """A scalar the YAML syntax accepts but that has no value (2019-02-30, an integer of
    ten thousand digits), raised with its node so that the error can name its field."""

    def __init__(self, node: yaml.Node, problem: str) -> None:
        super().__init__(problem)
        self.node = node
        self.problem = problem


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, checking the limits while it composes the node graph.

    The composer is where nesting and aliases become a graph; the checks run there, node
    by node as the parser reaches it, so a document over a limit is rejected as soon as it
    crosses it and before any Python object is constructed. An alias is its anchor's node,
    composed earlier, whose size and depth with aliases expanded are known by then: a
    billion laughs is counted with a few additions, not expanded.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._open = 0  # mappings and lists being composed around the current node
        self._aliases = 0
        self._nodes = 0  # nodes so far, aliases expanded
        # id(node) -> (nodes, depth) with aliases expanded, for the nodes composed so far;
        # they stay alive in the graph, so their ids stay valid.
        self._expanded: dict[int, tuple[int, int]] = {}

    def _count(self, nodes: int, depth: int, line: int) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _Refused(
                f"more than {MAX_NODES:,} values (aliases expanded); scenarios and policies "
                "have a few thousand at most",
                line,
            )
        if self._open + depth > MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep (aliases expanded); scenarios and "
                "policies need at most 10",
                line,
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(
                    f"more than {MAX_ALIASES:,} aliases; a scenario or policy needs at most a few",
                    line,
                )
            node = super().compose_node(parent, index)
            expanded = self._expanded.get(id(node))
            if expanded is None:  # its anchor is still open: the node would contain itself
                raise _Refused(
                    f"alias '*{event.anchor}' is used inside its own anchor; a scenario or "
                    "policy cannot refer to itself",
                    line,
                )
            self._count(*expanded, line)
            return node
        if event.anchor is not None and event.anchor in self.anchors:
            first = self.anchors[event.anchor].start_mark.line + 1
            raise _Refused(
                f"anchor '&{event.anchor}' is defined twice (first on line {first}); "
                "each anchor needs its own name",
                line,
            )
        self._count(1, 1, line)
        self._open += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._open -= 1
        if isinstance(node, yaml.MappingNode):
            children = [self._expanded[id(c)] for pair in node.value for c in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = [self._expanded[id(c)] for c in node.value]
        else:
            children = []
        self._expanded[id(node)] = (
            1 + sum(n for n, _ in children),
            1 + max((d for _, d in children), default=0),
        )
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:
            # PyYAML's resolver matches a date or an integer by its shape only; building
            # the value can still fail (no 30 February, Python's limit on integer digits).
            if node.tag == _TIMESTAMP_TAG:
                problem = f"expected a real calendar date as YYYY-MM-DD (got '{node.value}': {exc})"
            elif node.tag == _INT_TAG:
                problem = (
                    f"expected an integer of at most {sys.get_int_max_str_digits():,} digits "
                    f"(got {len(str(node.value)):,} characters)"
                )
            else:
                problem = f"cannot read the value '{_excerpt(node.value)}' ({exc})"
            raise _BadValue(node, problem) from None


def load_yaml(text: str, source: str, error: type[SclabError] = SclabError) -> LocatedYAML:
    """Parse YAML text safely, recording lines and rejecting duplicate keys.

    PyYAML silently keeps the last of two equal keys; a scenario with ``seed`` twice is
    almost always a mistake, so it is reported instead. Merge keys (``<<: *defaults``)
    work as in YAML 1.1: the mapping's own keys win over merged ones. Documents over
    :data:`MAX_DOCUMENT_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_ALIASES` or :data:`MAX_NODES`
    are refused before any object is built.

    Raises:
        SclabError (or ``error``): malformed YAML, a duplicate key, a value that cannot be
            read or a document over a limit, with its line.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise error(
            f"larger than {MAX_DOCUMENT_BYTES >> 10:,} KiB; scenarios and policies are a few KiB",
            source=source,
        )
    try:
        loader = _BoundedLoader(text)  # checks that every character may appear in YAML
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, source, error) from None
    lines: dict[Path_, int] = {}
    paths: dict[int, Path_] = {}  # id(node) -> the first field path it appears at
    try:
        node = loader.get_single_node()
        if node is None:
            raise error("the file is empty; expected a YAML mapping", source=source)

        def plain_key(key_node: yaml.Node, path: Path_) -> Any:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable) or isinstance(key, list | dict):
                raise error(
                    "expected a plain key",
                    source=source,
                    line=key_node.start_mark.line + 1,
                    field=dotted(path) or None,
                )
            return key

        def walk(n: yaml.Node, path: Path_) -> None:
            lines.setdefault(path, n.start_mark.line + 1)
            paths.setdefault(id(n), path)
            if isinstance(n, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in n.value:
                    if key_node.tag == _MERGE_TAG:
                        continue
                    key = plain_key(key_node, path)
                    if key in seen:
                        raise error(
                            f"duplicate key '{key}'; each field may appear once",
                            source=source,
                            line=key_node.start_mark.line + 1,
                            field=dotted((*path, key)),
                        )
                    seen.add(key)
                # Merged keys go first, the mapping's own after them (as PyYAML builds
                # the mapping): the last pair with a key is the one that counts.
                loader.flatten_mapping(n)
                pairs = {plain_key(k, path): (k, v) for k, v in n.value}
                for key, (key_node, value_node) in pairs.items():
                    lines[(*path, key)] = key_node.start_mark.line + 1
                    walk(value_node, (*path, key))
            elif isinstance(n, yaml.SequenceNode):
                for i, item in enumerate(n.value):
                    walk(item, (*path, i))

        walk(node, ())
        data = loader.construct_document(node)
    except _Refused as exc:
        raise error(exc.message, source=source, line=exc.line) from None
    except _BadValue as exc:
        path = paths.get(id(exc.node))
        raise error(
            exc.problem,
            source=source,
            line=exc.node.start_mark.line + 1,
            field=dotted(path) if path else None,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        # PyYAML splits some messages in two ("expected a single document in the stream",
        # "but found another document"): keep both halves when the second needs the first.
        parts = (
            [exc.context, exc.problem]
            if (exc.problem or "").startswith("but ")
            else [exc.problem or exc.context]
        )
        problem = " ".join(p.strip() for p in parts if p) or "malformed YAML"
        raise error(f"malformed YAML: {problem}", source=source, line=line) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, text, source, error) from None
    except yaml.YAMLError as exc:
        raise error(f"malformed YAML: {exc}", source=source) from None
    finally:
        loader.dispose()
    return LocatedYAML(data=data, source=source, lines=lines)


def _reader_error(
    exc: yaml.reader.ReaderError, text: str, source: str, error: type[SclabError]
) -> SclabError:
    """A character YAML does not allow (a NUL, a control character), with its line."""
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    return error(
        f"malformed YAML: character U+{code:04X} is not allowed in YAML ({exc.reason}); "
        "expected a text file",
        source=source,
        line=text.count("\n", 0, exc.position) + 1,
    )


def _excerpt(value: Any, limit: int = 40) -> str:
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def read_yaml(path: Path, error: type[SclabError] = SclabError) -> LocatedYAML:
    """Read and parse a YAML file, reporting unreadable or oversized files as one line.

    At most :data:`MAX_DOCUMENT_BYTES` (plus one) bytes are read, so that pointing sclab
    at a huge file (or a device that never ends) costs nothing.
    """
    source = str(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise error("file not found", source=source) from None
    except IsADirectoryError:
        raise error("is a directory; expected a YAML file", source=source) from None
    except OSError as exc:
        raise error(f"cannot read the file ({exc.strerror or exc})", source=source) from None
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise error(
            f"larger than {MAX_DOCUMENT_BYTES >> 10:,} KiB; scenarios and policies are a few KiB",
            source=source,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"not UTF-8 text (byte {exc.start}: {exc.reason}); expected a YAML file",
            source=source,
        ) from None
    return load_yaml(text, source, error)


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


def _is_tag(data: Any, here: Path_, after: str | int) -> bool:
    """Whether the location part at the end of ``here`` is a tagged union's tag that
    happens to be the name of a real field (a factor score's tag ``factors`` and its list
    of factors): the document's value there cannot hold the next part (a list has no
    field ``range``), so the next part belongs beside it, not below it."""
    value = data
    for key in here:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(value, dict):
        return False
    return not (isinstance(value, list) and isinstance(after, int))


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
            here = (*loc, part)
            if here in doc.lines and i + 1 < len(raw) and _is_tag(doc.data, here, raw[i + 1]):
                continue
            if here in doc.lines or (i == len(raw) - 1 and absent_by_nature):
                loc = here
        # A validator may say which field below the model it is about (a cross-reference
        # names the referencing field); without that the error would point at the model.
        ctx = first.get("ctx") or {}
        below = ctx.get("loc") or getattr(ctx.get("error"), "loc", None)
        if below:
            loc = (*loc, *below)
        raise error(
            _describe(first, model, loc),
            source=doc.source,
            line=doc.line_of(loc),
            field=dotted(loc) or None,
        ) from None
