"""Tables as the frames a notebook wants: Arrow (as stored), pandas, or Polars.

Core objects:
    :data:`FrameKind`: ``"arrow"``, ``"pandas"`` or ``"polars"``.
    :func:`as_frame`: an Arrow table as one of them.

Polars is not a dependency of sclab: asking for it without it installed is a one-line
error saying how to get it. Cost: pandas copies the table once; Polars mostly shares
Arrow's buffers.
"""

from __future__ import annotations

import importlib
from typing import Any, Literal

import pyarrow as pa

from sclab.errors import SclabError

FrameKind = Literal["arrow", "pandas", "polars"]
KINDS = ("arrow", "pandas", "polars")


class FrameError(SclabError):
    """A frame kind sclab does not make, or one whose library is not installed."""


def as_frame(table: pa.Table, as_: str = "arrow") -> Any:
    """``table`` as an Arrow table, a pandas DataFrame or a Polars DataFrame.

    Raises:
        FrameError: another kind, or Polars asked for and not installed.

    Example:
        >>> import pyarrow as pa
        >>> from sclab.api.frames import as_frame
        >>> as_frame(pa.table({"x": [1, 2]}), "pandas")["x"].sum()
        np.int64(3)
        >>> as_frame(pa.table({"x": [1]}), "excel")
        Traceback (most recent call last):
        ...
        sclab.api.frames.FrameError: as_: expected one of arrow, pandas, polars (got 'excel')
    """
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    if as_ == "polars":
        try:
            polars = importlib.import_module("polars")  # optional: not a dependency
        except ImportError:
            raise FrameError(
                "Polars is not installed; `pip install polars` to get Polars frames",
                field="as_",
            ) from None
        return polars.from_arrow(table)
    raise FrameError(f"expected one of {', '.join(KINDS)} (got {as_!r})", field="as_")
