"""Errors that sclab reports to its users as one clear line.

Core object:
    :class:`SclabError`: the one exception type the command line turns into a single line
    on stderr and exit code 2. The command line does the same for an ``OSError`` (the
    operating system refusing a path the user gave: a name too long, a read-only file
    system), which is the user's environment, not sclab. Anything else that escapes is a
    bug in sclab and keeps its traceback, so that it gets reported rather than hidden.

Messages follow one pattern so that users can act on them without reading code:
``FILE:LINE: FIELD: what was expected (got what)``, or as much of that as is known.
"""

from __future__ import annotations


class SclabError(Exception):
    """A problem with the user's input or environment, reported without a traceback.

    Args:
        message: What was expected and, where it helps, how to fix it.
        source: The file (or command-line option) the problem is in, if any.
        line: 1-based line number in ``source``, if known.
        field: Dotted path of the offending field, e.g. ``population.size``.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message as it is shown to the user: ``file:line: field: message``."""
        where = ""
        if self.source:
            where = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [p for p in (where, self.field, self.message) if p]
        return ": ".join(parts).replace("\n", " ")


class ScenarioError(SclabError):
    """A scenario file or override that does not validate."""


class OutputError(SclabError):
    """An output directory that cannot be written, or would overwrite a run."""
