"""The output directory of a run: built aside, moved into place whole, and never replaced
over a file sclab did not write.

Core objects:
    :class:`OutputDirectory`: stages a run in a hidden directory beside the target and
        moves it into place only when complete, so a failed or interrupted run never leaves
        a half-written database where a good one was.
    :func:`check_replaceable`: whether ``--out`` may be written (or replaced with
        ``--force``): only an empty directory, or a run directory whose manifest lists
        every file in it, is ever replaced.
    :func:`remove_stale_staging`: staging directories left by runs that died (SIGKILL,
        power loss) are removed by the next run in the same parent directory.
    :func:`clear_resumable`: an unfinished run with checkpoints for the same target
        (:mod:`sclab.store.checkpoint`) is kept for ``sclab resume`` unless ``--force``
        discards it.

A staging directory is named ``.NAME.partial-PID@HOST-XXXXXXXX`` after the target ``NAME``,
the process and the machine that build it; while a finished run replaces an earlier one,
the earlier one is moved aside as ``.NAME.replaced-PID@HOST-XXXXXXXX`` for a moment. Such a
directory is stale when its process is no longer alive on this machine (a directory made
on another machine sharing the file system is left alone: its process cannot be checked).

A run with checkpoints is staged in ``.NAME.resumable/run`` instead
(:class:`~sclab.store.checkpoint.Resumable`): that directory outlives a killed process on
purpose, holding the last checkpoint for ``sclab resume``, and the stale-staging sweep
leaves it alone.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from sclab.errors import OutputError
from sclab.store.checkpoint import Resumable, ResumeError, fault_point
from sclab.store.manifest import Manifest, NotARunError

#: This machine's name as it appears in staging directory names.
HOST = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "localhost"

#: ``.NAME.partial-PID@HOST-XXXXXXXX`` (building) or ``.NAME.replaced-PID@HOST-XXXXXXXX``
#: (an earlier run moved aside); the tail is :func:`tempfile.mkdtemp`'s.
STAGING_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<what>partial|replaced)-(?P<pid>\d+)@(?P<host>[A-Za-z0-9._-]+)"
    r"-[a-z0-9_]{8}$"
)


def _staging_prefix(target: Path, what: str) -> str:
    return f".{target.name}.{what}-{os.getpid()}@{HOST}-"


def check_replaceable(target: Path, force: bool) -> None:
    """Refuse (one line) unless ``target`` may become a run directory.

    Allowed: no such path, an empty directory, and with ``force`` a run directory whose
    manifest lists every file in it (see :meth:`Manifest.foreign_paths`).

    Raises:
        OutputError: naming what is in the way, and the files sclab did not write.
    """
    where = str(target)
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink():
        raise OutputError(
            "is a symbolic link; give the directory it points to, or choose another --out",
            source=where,
        )
    if not target.is_dir():
        raise OutputError("exists and is not a directory", source=where)
    if not any(target.iterdir()):
        return  # an empty directory: nothing to lose
    if not force:
        raise OutputError(
            "already exists; pass --force to replace it or choose another --out", source=where
        )
    try:
        manifest = Manifest.read(target)
    except NotARunError as exc:
        foreign = sorted(p.name + ("/" if p.is_dir() else "") for p in target.iterdir())
        raise OutputError(
            f"{exc.message}, and holds {_named(foreign)}; refusing to replace it even with "
            "--force; choose another --out",
            source=where,
        ) from None
    foreign = manifest.foreign_paths()
    if foreign:
        raise OutputError(
            f"holds {_named(foreign)} that sclab did not write; refusing to replace it even "
            "with --force; move them out or choose another --out",
            source=where,
        )


def _named(paths: list[str], shown: int = 5) -> str:
    """``a.txt, b/ and 3 more`` (files) for a message."""
    head = ", ".join(paths[:shown])
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return f"{'file' if len(paths) == 1 else 'files'} {head}{more}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (a zombie, which has ended but was not
    yet reaped by its parent, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): alive as far as we can tell
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def remove_stale_staging(parent: Path, note: Callable[[str], None]) -> None:
    """Remove the staging directories in ``parent`` whose process has ended on this
    machine, telling ``note`` (one line each).

    An earlier run moved aside (``replaced``) is put back in place if its replacement never
    got there, and removed otherwise.
    """
    try:
        entries = list(parent.iterdir())
    except OSError:
        return
    for entry in entries:
        m = STAGING_NAME.match(entry.name)
        if m is None or m["host"] != HOST or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or process_alive(pid):
            continue
        target = parent / m["name"]
        if m["what"] == "replaced" and not (target.exists() or target.is_symlink()):
            os.replace(entry, target)
            note(f"restored {target}: process {pid} ended while replacing it")
            continue
        shutil.rmtree(entry, ignore_errors=True)
        what = "unfinished run" if m["what"] == "partial" else "replaced run"
        note(f"removed {entry}, the {what} left by process {pid}, which has ended")


def clear_resumable(target: Path, force: bool, note: Callable[[str], None]) -> None:
    """Make way for a new run in ``target`` where an unfinished run with checkpoints for it
    may wait (``.NAME.resumable``).

    Removed, with a note: what a finished run left (it was moved into place, its
    checkpoints not yet removed), an unfinished run without a complete checkpoint, and
    with ``force`` any unfinished run.

    Raises:
        OutputError: an unfinished run with a checkpoint, without ``force``; or one whose
            process still runs.
    """
    resumable = Resumable(target)
    if not resumable.exists():
        return
    try:
        resumable.lock()
    except ResumeError as exc:
        raise OutputError(exc.message, source=exc.source) from None
    try:
        record = resumable.read_record()
    except ResumeError:
        record = None
        damaged = True
    else:
        damaged = False
    if not resumable.run_dir.is_dir():
        what = "what a finished run with checkpoints left"
    elif record is None and not damaged:
        what = "an unfinished run stopped before its first checkpoint"
    elif force:
        day = "a damaged checkpoint" if record is None else f"its checkpoint of day {record.day}"
        what = f"the unfinished run with {day}, as --force asks"
    else:
        resumable.unlock()
        day = "a damaged checkpoint" if record is None else f"a checkpoint of day {record.day}"
        raise OutputError(
            f"has an unfinished run with {day} in {resumable.path.name}; "
            f"sclab resume {target} continues it, --force discards it",
            source=str(target),
        )
    resumable.remove()
    note(f"removed {resumable.path}: {what}")


class OutputDirectory:
    """Stage a run next to its target directory; move it into place when complete.

    Args:
        target: The directory the user asked for (``--out``).
        force: Replace an existing run there (see :func:`check_replaceable`).
        note: Receives one line per stale staging directory removed from the target's
            parent directory.
        resumable: Stage in ``.NAME.resumable/run``, beside the checkpoints, where a
            killed run waits for ``sclab resume`` (:class:`Resumable`).

    Raises:
        OutputError: the target may not be written, or its parent cannot be.
    """

    def __init__(
        self,
        target: Path,
        force: bool,
        note: Callable[[str], None] | None = None,
        resumable: bool = False,
    ) -> None:
        self.target = target
        self.force = force
        self.resumable: Resumable | None = None
        check_replaceable(target, force)
        self.parent = target.parent if str(target.parent) else Path(".")
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_staging(self.parent, note or (lambda _: None))
            clear_resumable(target, force, note or (lambda _: None))
            if resumable:
                self.resumable = Resumable(target)
                self.resumable.create()
                self.staging = self.resumable.run_dir
            else:
                self.staging = Path(
                    tempfile.mkdtemp(prefix=_staging_prefix(target, "partial"), dir=self.parent)
                )
        except OSError as exc:
            raise OutputError(
                f"cannot write here ({exc.strerror or exc}); choose another --out",
                source=str(target),
            ) from None

    @classmethod
    def reopen(cls, resumable: Resumable, force: bool) -> OutputDirectory:
        """The output directory of an unfinished run with checkpoints, to resume it (the
        caller holds ``resumable``'s lock)."""
        output = cls.__new__(cls)
        output.target = resumable.target
        output.force = force
        output.resumable = resumable
        output.parent = resumable.path.parent
        output.staging = resumable.run_dir
        return output

    def commit(self) -> None:
        """Put the staged run in place of the target.

        The target is checked again first: a file added to it while the run was computed
        is as much the user's as one that was there before.

        Raises:
            OutputError: the target now holds files sclab did not write (the staged run is
                left for :meth:`abort`).
        """
        old: Path | None = None
        if self.target.exists() or self.target.is_symlink():
            check_replaceable(self.target, self.force)
            old = Path(
                tempfile.mkdtemp(prefix=_staging_prefix(self.target, "replaced"), dir=self.parent)
            )
            os.rmdir(old)
            os.replace(self.target, old)
        os.replace(self.staging, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        if self.resumable is not None:
            # Killed here, the next run or resume finds no run/ and removes the rest.
            fault_point("end-commit")
            self.resumable.remove()

    def abort(self, keep_checkpoint: bool = False) -> None:
        """Remove the staging directory; the target is untouched.

        Args:
            keep_checkpoint: A run with checkpoints keeps its directory, its database and
                its last checkpoint for ``sclab resume`` (only its lock is released).
        """
        if self.resumable is not None:
            if keep_checkpoint:
                self.resumable.unlock()
            else:
                self.resumable.remove()
            return
        shutil.rmtree(self.staging, ignore_errors=True)
