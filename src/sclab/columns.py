"""Column values as the run database takes them, made cheaply by whoever records rows.

Core objects:
    :class:`ConstantLabels`: a label column holding one label (see :func:`constant_labels`).
    :func:`nullable`: ids as an int64 column, NULL where there is none.

This module sits in the base layer, below both the engine (whose logs build the columns)
and the store (which recognises a :class:`ConstantLabels` and writes it as one repeated
ENUM code): neither has to import the other for it.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa


@functools.lru_cache(maxsize=4096)
def _one_label(value: str) -> pa.Array:
    # Building a one-word Arrow dictionary costs far more than the rows it labels; a run
    # uses a few hundred distinct labels, so they are made once.
    return pa.array([value])


class ConstantLabels:
    """A label column of ``n`` copies of one label (a batch's kind, system, rule...).

    No array is made unless a reader asks for one (``pa.array(column)`` gives a dictionary
    array): the run database stores it as ``n`` copies of one ENUM code. A run writes
    about a hundred such columns a day, and building each as an Arrow dictionary array
    (then mapping it back to codes) cost more than the rows.
    """

    __slots__ = ("n", "value")

    def __init__(self, value: str, n: int) -> None:
        self.value, self.n = value, int(n)

    def __len__(self) -> int:
        return self.n

    def __arrow_array__(self, type: Any = None) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(self.n, np.int32)), _one_label(self.value)
        )

    def to_pylist(self) -> list[str]:
        return [self.value] * self.n


def constant_labels(value: str, n: int) -> ConstantLabels:
    """``n`` copies of the label ``value``, for a label column."""
    return ConstantLabels(value, n)


def nullable(event_id: np.ndarray | None, n: int) -> np.ndarray:
    """Ids as an int64 column, NULL (masked) where there is none (None, or an id < 0); a
    plain array when every row has one (most batches: the database's fastest path).

    A NumPy masked array rather than an Arrow array: the run database copies NumPy
    columns into its buffers as they come, and joins anything else later, on its writer
    thread, where the copies hold the GIL. Used for event ids and for the events' actors
    (``NO_ENTITY`` is -1).
    """
    if event_id is None:
        return np.ma.masked_all(n, np.int64)
    event_id = np.asarray(event_id, np.int64)
    null = event_id < 0
    return np.ma.MaskedArray(event_id, mask=null) if null.any() else event_id
