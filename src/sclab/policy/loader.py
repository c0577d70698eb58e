"""Finding, reading and validating policies (built-in packs or YAML files).

Core objects:
    :func:`load_policy`: a pack name or a file path to a validated
        :class:`~sclab.policy.schema.Policy`, with one-line errors (file, line, field).
    :func:`read_policy`: the same, with the document (whose lines later checks cite).
    :func:`load_bundle`: a bundle of packs and its validated packs, distinct by id.
    :func:`builtin_packs`: names and titles of the shipped packs.
    :func:`pack_text`: the YAML of a built-in pack (for ``sclab packs show``).
    :func:`policy_text`: the YAML text :func:`load_policy` compiles for a name or path.
    :func:`pinned_policy_texts`: compile given texts instead of reading packs or files
        (a run records its policies' texts; rerunning it compiles the recorded ones).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from sclab.errors import SclabError
from sclab.policy.schema import Bundle, Policy
from sclab.yamlfile import LocatedYAML, load_yaml, read_yaml, validate

PACKAGE = "sclab.policy.packs"


class PolicyError(SclabError):
    """A policy file or pack name that does not validate."""


def _entries() -> dict[str, resources.abc.Traversable]:
    return {
        e.name.removesuffix(".yaml"): e
        for e in resources.files(PACKAGE).iterdir()
        if e.name.endswith(".yaml")
    }


def builtin_packs() -> dict[str, str]:
    """Built-in pack names mapped to their titles, in name order."""
    out = {}
    for name, entry in sorted(_entries().items()):
        doc = load_yaml(entry.read_text(encoding="utf-8"), entry.name, PolicyError)
        out[name] = " ".join(str(doc.data.get("title", "")).split())
    return out


def is_pack(name: str) -> bool:
    """True if ``name`` is a built-in pack."""
    return name in _entries()


def pack_text(name: str) -> str:
    """The YAML source of a built-in pack."""
    entries = _entries()
    if name not in entries:
        raise PolicyError(
            f"no built-in pack '{name}'; built-in packs are: {', '.join(sorted(entries))}",
            source=name,
        )
    return entries[name].read_text(encoding="utf-8")


#: Policy texts compiled instead of the named pack or file (see pinned_policy_texts).
_PINNED: dict[str, str] = {}


@contextmanager
def pinned_policy_texts(texts: Mapping[str, str]) -> Iterator[None]:
    """Within the block, a pack name or file path in ``texts`` compiles from its text there,
    not from the installed pack or the file.

    Why: a run records the text of every policy it compiled, and a rerun must compile
    those texts even if a pack was changed or a file was edited or moved since.
    """
    saved = dict(_PINNED)
    _PINNED.update(texts)
    try:
        yield
    finally:
        _PINNED.clear()
        _PINNED.update(saved)


def _is_builtin(name_or_path: str) -> bool:
    # A built-in name wins over a same-named directory in the working directory (e.g. an
    # earlier `--out nanjing`); anything that looks like a path is read as a file.
    path = Path(name_or_path)
    looks_like_file = path.suffix in (".yaml", ".yml") or "/" in name_or_path
    return not looks_like_file and (is_pack(name_or_path) or not path.is_file())


def policy_text(name_or_path: str) -> str:
    """The YAML text :func:`load_policy` compiles for a pack name or file path (a pinned
    text if there is one, see :func:`pinned_policy_texts`).

    Raises:
        PolicyError: no such pack, or the file cannot be read.
    """
    pinned = _PINNED.get(name_or_path)
    if pinned is not None:
        return pinned
    if _is_builtin(name_or_path):
        return pack_text(name_or_path)
    path = Path(name_or_path)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        read_yaml(path, PolicyError)  # raises the one-line error for an unreadable file
        raise


def _document(name_or_path: str) -> LocatedYAML:
    source = f"{name_or_path} (built-in pack)" if _is_builtin(name_or_path) else None
    return load_yaml(policy_text(name_or_path), source or str(Path(name_or_path)), PolicyError)


def is_bundle(name_or_path: str) -> bool:
    """True if ``name_or_path`` is a bundle of packs (a ``packs:`` list), like composite."""
    try:
        doc = _document(name_or_path)
    except PolicyError:
        return False
    return isinstance(doc.data, dict) and "packs" in doc.data


def load_bundle(name_or_path: str) -> tuple[Bundle, list[Policy]]:
    """A bundle and its validated packs.

    Raises:
        PolicyError: the bundle or a pack does not validate, or two packs share a policy
            id or system name (they would run twice and double their rows).
    """
    doc = _document(name_or_path)
    bundle = validate(doc, Bundle, PolicyError)
    packs = [load_policy(p) for p in bundle.packs]
    for j, policy in enumerate(packs):
        for i in range(j):
            clash = same_policy(packs[i], policy)
            if clash:
                raise PolicyError(
                    f"pack '{bundle.packs[j]}' has the {clash} of packs[{i}] "
                    f"'{bundle.packs[i]}' (line {doc.line_of(('packs', i))}); "
                    "they would run twice and double their rows",
                    source=doc.source,
                    line=doc.line_of(("packs", j)),
                    field=f"packs[{j}]",
                )
    return bundle, packs


def same_policy(a: Policy, b: Policy) -> str | None:
    """What two policies share that makes them one policy in a run (their id, or the
    system name their rows carry), as words for a message; None if nothing."""
    if a.id == b.id:
        return f"policy id '{a.id}'"
    if a.system_name == b.system_name:
        return f"system name '{a.system_name}'"
    return None


def read_policy(name_or_path: str) -> tuple[Policy, LocatedYAML]:
    """Load and validate a built-in pack (by name) or a policy YAML file; with its
    document, whose lines the checks against the catalogue cite.

    Raises:
        PolicyError: naming file, line, field and what was expected.
    """
    doc = _document(name_or_path)
    if isinstance(doc.data, dict) and "packs" in doc.data:
        names = ", ".join(map(str, doc.data.get("packs") or []))
        raise PolicyError(
            f"is a bundle of packs ({names}) that run side by side as separate policies; "
            "run it with `sclab run` or name its packs in a scenario's policies list",
            source=doc.source,
        )
    return validate(doc, Policy, PolicyError), doc


def load_policy(name_or_path: str) -> Policy:
    """Load and validate a built-in pack (by name) or a policy YAML file.

    Raises:
        PolicyError: naming file, line, field and what was expected.
    """
    return read_policy(name_or_path)[0]
