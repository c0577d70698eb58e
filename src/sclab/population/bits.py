"""One bit per flag: the tie graph's per-tie-end flags at an eighth of a bool array's memory.

Core objects:
    :class:`PackedBools`: a fixed-length sequence of bools stored eight to a byte. It reads
        like a 1-D bool array where the simulation reads tie flags (a slice ``flags[a:b]``
        or a gather ``flags[positions]`` returns a plain bool array) and switches flags off
        by position (``flags[positions] = False``).

Why. A population of 9.3 million people with about twelve ties each stores 112 million
tie ends. As bool arrays the graph's ``online`` flag and the simulation's ``ties_active``
flag would take a byte per tie end each, 24 bytes per person together, a sixth of the
memory budget of a whole run; packed they take 3. Reading costs a little more than a bool
array's: a gather is five vectorised passes over the positions instead of one, a slice
unpacks eight bits per byte (about a nanosecond per byte). The readers of tie flags gather few
positions (the ties of listed or low-scoring people) or walk the graph in bounded blocks,
so neither is on a hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, overload

import numpy as np
import numpy.typing as npt

_ORDER: Final = "little"  # bit i of a byte is flag 8 * byte + i


class PackedBools:
    """A fixed-length sequence of bools, eight to a byte (``numpy.packbits`` little order).

    Reading: ``flags[a:b]`` (step 1) and ``flags[positions]`` (non-negative int positions)
    return bool arrays; ``flags[i]`` returns a bool; ``numpy.asarray(flags)`` unpacks all.
    Writing: ``flags[positions] = value`` for an int array or a single position.

    Args:
        packed: uint8 bytes, at least ``ceil(size / 8)`` of them; bits past ``size`` are
            ignored.
        size: Number of flags.

    Raises:
        ValueError: If ``packed`` is not a 1-D uint8 array long enough for ``size`` flags.
    """

    __slots__ = ("_packed", "size")

    def __init__(self, packed: npt.NDArray[np.uint8], size: int) -> None:
        if not isinstance(packed, np.ndarray) or packed.ndim != 1 or packed.dtype != np.uint8:
            raise ValueError("packed must be a 1-D numpy array of dtype uint8")
        if size < 0 or packed.size * 8 < size:
            raise ValueError(f"{packed.size} bytes cannot hold {size} flags")
        self._packed = packed
        self.size = int(size)

    @classmethod
    def from_bools(cls, values: npt.ArrayLike) -> PackedBools:
        """Pack a 1-D bool array (any array of truth values)."""
        arr = np.asarray(values, dtype=bool).ravel()
        return cls(np.packbits(arr, bitorder=_ORDER), arr.size)

    @classmethod
    def full(cls, size: int, value: bool) -> PackedBools:
        """``size`` flags, all ``value``."""
        return cls(np.full((size + 7) // 8, 0xFF if value else 0, np.uint8), size)

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        """Bytes held (one per eight flags)."""
        return int(self._packed.nbytes)

    def freeze(self) -> None:
        """Make the flags read-only (writes then raise ValueError)."""
        self._packed.flags.writeable = False

    def copy(self) -> PackedBools:
        """An independent copy (a new object: readers that track identity see a new array)."""
        return PackedBools(self._packed.copy(), self.size)

    def count(self) -> int:
        """How many flags are True."""
        return int(np.count_nonzero(self[0 : self.size]))

    def __array__(self, dtype: npt.DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if copy is False:
            raise ValueError("packed flags are unpacked into a new array: a copy is needed")
        out = self[0 : self.size]
        return out if dtype is None else out.astype(dtype)

    def false_positions(self, start: int, stop: int) -> np.ndarray:
        """Positions in ``[start, stop)`` whose flag is False (sorted int64).

        One comparison per byte, then the bits of the bytes holding a False only: cheap
        when few flags are off (the tie ends switched off among all tie ends).
        """
        start, stop = max(start, 0), min(stop, self.size)
        if stop <= start:
            return np.empty(0, np.int64)
        first = start >> 3
        chunk = self._packed[first : (stop + 7) >> 3]
        holding = np.flatnonzero(chunk != 0xFF)
        bits = np.unpackbits(chunk[holding], bitorder=_ORDER).reshape(-1, 8)
        byte, bit = np.nonzero(bits == 0)
        pos = (holding[byte] + first) * 8 + bit
        return pos[(pos >= start) & (pos < stop)]

    @overload
    def __getitem__(self, key: slice) -> np.ndarray: ...
    @overload
    def __getitem__(self, key: int | np.integer) -> bool: ...
    @overload
    def __getitem__(self, key: np.ndarray | Sequence[int]) -> np.ndarray: ...
    def __getitem__(self, key: slice | int | np.integer | npt.ArrayLike) -> np.ndarray | bool:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                raise IndexError("PackedBools slices take step 1 only")
            if stop <= start:
                return np.zeros(0, dtype=bool)
            first = start >> 3
            bits = np.unpackbits(self._packed[first : (stop + 7) >> 3], bitorder=_ORDER)
            skip = start - 8 * first
            return bits[skip : skip + stop - start].view(bool)
        if isinstance(key, (int, np.integer)):
            i = self._check_one(int(key))
            return bool((self._packed[i >> 3] >> (i & 7)) & 1)
        pos = np.asarray(key)
        if pos.dtype.kind not in "iu":
            raise IndexError("PackedBools are indexed by a slice or by integer positions")
        byte = self._packed[pos >> 3]
        np.right_shift(byte, (pos & 7).astype(np.uint8), out=byte)
        np.bitwise_and(byte, 1, out=byte)
        return byte.view(bool)

    def __setitem__(self, key: int | npt.ArrayLike, value: bool) -> None:
        if not self._packed.flags.writeable:  # ufunc.at does not check it (NumPy 2.4)
            raise ValueError("these flags are read-only")
        if isinstance(key, (int, np.integer)):
            key = np.array([self._check_one(int(key))])
        pos = np.asarray(key)
        if pos.dtype.kind not in "iu":
            raise IndexError("PackedBools are written by integer positions")
        if not len(pos):
            return
        if pos.min() < 0 or pos.max() >= self.size:
            raise IndexError(f"positions out of range 0..{self.size - 1}")
        bit = np.left_shift(np.uint8(1), (pos & 7).astype(np.uint8))
        if value:
            np.bitwise_or.at(self._packed, pos >> 3, bit)
        else:
            np.bitwise_and.at(self._packed, pos >> 3, ~bit)

    def _check_one(self, i: int) -> int:
        if not 0 <= i < self.size:
            raise IndexError(f"position {i} is out of range 0..{self.size - 1}")
        return i

    def __repr__(self) -> str:
        return f"PackedBools(size={self.size}, true={self.count()})"
