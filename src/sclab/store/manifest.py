"""``manifest.json``: what marks a directory as an sclab run, and the list of what sclab
wrote there.

Core objects:
    :class:`Manifest`: the manifest of one run directory: its format, the files sclab wrote
        there (with content hashes), and a description of the run for the reader.
    :class:`NotARunError`: a directory that has no (readable, sclab) manifest.

Every command that writes into a run directory registers what it wrote
(:meth:`Manifest.add_file`) and writes the manifest again (:meth:`Manifest.write`). A
directory is replaced by ``--force`` only when every file in it is one its manifest lists
(:meth:`Manifest.foreign_paths`), so a user's own file is never deleted.

A file's entry holds its kind and size and:
    a DuckDB database (``.duckdb``): the content hash of every table
        (:func:`sclab.store.hashes.table_hashes`), which two runs share exactly when their
        tables hold the same rows, whatever the file's layout;
    another file: the SHA-256 of its bytes;
    a directory: the files inside it, each with its size and SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sclab.errors import OutputError
from sclab.store.hashes import METHOD, table_hashes

#: The manifest's file name in a run directory.
MANIFEST = "manifest.json"
#: The format name and version written into every manifest.
FORMAT = "sclab-run"
FORMAT_VERSION = 1


class NotARunError(OutputError):
    """A directory without a manifest sclab can read."""


@dataclass
class Manifest:
    """The manifest of a run directory.

    Attributes:
        directory: The run directory; file entries are relative to it.
        files: Relative path (with ``/``) → entry (see the module's docstring).
        info: Everything else: the run's description for the reader (scenario, versions,
            timings, row counts...). Keys ``format``, ``format_version`` and ``files`` are
            the manifest's own.
    """

    directory: Path
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        """The manifest of ``directory``.

        Raises:
            NotARunError: no manifest, or one that is not an sclab run manifest of a format
                version this sclab reads.

        A manifest sclab wrote before manifests had a format (it names an
        ``sclab_version`` and ``row_counts``) reads as listing ``run.duckdb`` and itself,
        the only files sclab then wrote, without table hashes.
        """
        path = Path(directory) / MANIFEST
        where = str(directory)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotARunError(f"is not an sclab run (no {MANIFEST})", source=where) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NotARunError(f"cannot read {MANIFEST} ({exc})", source=where) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NotARunError(f"{MANIFEST} is not valid JSON ({exc})", source=where) from None
        if isinstance(data, dict) and "format" not in data and _legacy(data):
            # A run made before manifests had a format wrote these two files, no others.
            legacy = {MANIFEST: {"kind": "manifest"}, "run.duckdb": {"kind": "database"}}
            return cls(Path(directory), legacy, data)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise NotARunError(
                f'{MANIFEST} is not an sclab run manifest (no "format": "{FORMAT}")',
                source=where,
            )
        version = data.get("format_version")
        if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise NotARunError(
                f"{MANIFEST} has format_version {version!r}; this sclab reads 1 to "
                f"{FORMAT_VERSION} (a newer sclab made it?)",
                source=where,
            )
        files = data.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in files.items()
        ):
            raise NotARunError(
                f'{MANIFEST}: expected "files" to map file names to entries', source=where
            )
        info = {k: v for k, v in data.items() if k not in ("format", "format_version", "files")}
        return cls(Path(directory), files, info)

    def add_file(self, path: Path | str, kind: str, **details: Any) -> dict[str, Any]:
        """Register a file or directory sclab wrote into the run directory.

        Args:
            path: The file or directory (e.g. ``manifest.directory / "audit.duckdb"``); it
                must exist and lie inside the run directory.
            kind: What it is, for the reader: ``database``, ``audit``, ``report``...
            details: More fields for the entry (JSON values).

        Returns:
            The entry (also stored in :attr:`files`), replacing any earlier one.
        """
        full = Path(path)
        name = self._relative(full)
        entry: dict[str, Any] = {"kind": kind}
        if full.is_dir() and not full.is_symlink():
            entry["files"] = {
                p.relative_to(full).as_posix(): _file_entry(p)
                for p in sorted(full.rglob("*"))
                if p.is_file() and not p.is_symlink()
            }
        elif full.suffix == ".duckdb":
            entry["bytes"] = full.stat().st_size
            entry["table_hash"] = METHOD
            entry["tables"] = {
                t: {"rows": h.rows, "sha256": h.sha256} for t, h in table_hashes(full).items()
            }
        else:
            entry.update(_file_entry(full))
        entry.update(details)
        self.files[name] = entry
        return entry

    def table_hashes(self, name: str = "run.duckdb") -> dict[str, str]:
        """Table → content hash of the database ``name`` as registered."""
        entry = self.files.get(name)
        if entry is None or "tables" not in entry:
            raise NotARunError(f"{MANIFEST} lists no database {name}", source=str(self.directory))
        return {t: v["sha256"] for t, v in entry["tables"].items()}

    def write(self) -> None:
        """Write ``manifest.json`` (listing itself), atomically: a reader sees the old
        manifest or the new one, never half of one."""
        self.files[MANIFEST] = {"kind": "manifest"}
        data = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "files": dict(sorted(self.files.items())),
            **self.info,
        }
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        tmp = self.directory / f".{MANIFEST}.writing"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.directory / MANIFEST)

    def sclab_paths(self) -> set[str]:
        """Every path (relative, with ``/``) sclab wrote: listed files and directories,
        the files inside listed directories, and the directories that hold them."""
        out: set[str] = set()
        for name, entry in self.files.items():
            paths = [name] + [f"{name}/{inner}" for inner in entry.get("files", {})]
            for p in paths:
                parts = p.split("/")
                out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    def foreign_paths(self) -> list[str]:
        """Paths in the run directory that sclab did not write (relative, sorted); a
        directory sclab did not write is named once, not file by file."""
        ours = self.sclab_paths()
        out = []
        for root, dirs, files in os.walk(self.directory):
            base = Path(root).relative_to(self.directory)
            for d in list(dirs):
                rel = (base / d).as_posix()
                if rel not in ours or Path(root, d).is_symlink():
                    out.append(rel + "/")
                    dirs.remove(d)
            out.extend(rel for f in files if (rel := (base / f).as_posix()) not in ours)
        return sorted(out)

    def _relative(self, path: Path) -> str:
        try:
            rel = path.resolve().relative_to(self.directory.resolve())
        except ValueError:
            raise ValueError(f"{path} is not inside the run directory {self.directory}") from None
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist; register files once written")
        return rel.as_posix()


def _legacy(data: dict[str, Any]) -> bool:
    """Whether a manifest without a format is one sclab wrote before manifests had one."""
    return isinstance(data.get("sclab_version"), str) and isinstance(data.get("row_counts"), dict)


def _file_entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
