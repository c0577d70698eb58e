"""Finding, reading and validating policies (built-in packs or YAML files).

Core objects:
    :func:`load_policy`: a pack name or a file path to a validated
        :class:`~sclab.policy.schema.Policy`, with one-line errors (file, line, field).
    :func:`builtin_packs`: names and titles of the shipped packs.
    :func:`pack_text`: the YAML of a built-in pack (for ``sclab packs show``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from sclab.errors import SclabError
from sclab.policy.schema import Policy
from sclab.yamlfile import load_yaml, read_yaml, validate

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


def load_policy(name_or_path: str) -> Policy:
    """Load and validate a built-in pack (by name) or a policy YAML file.

    Raises:
        PolicyError: naming file, line, field and what was expected.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path or path.exists():
        doc = read_yaml(path, PolicyError)
    else:
        doc = load_yaml(pack_text(name_or_path), f"{name_or_path} (built-in pack)", PolicyError)
    return validate(doc, Policy, PolicyError)
