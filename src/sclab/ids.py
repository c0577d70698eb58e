"""Identifiers for synthetic citizens and companies, generated with NumPy.

Two national identifier formats are reproduced here so that synthetic populations look
structurally realistic. Every identifier produced by this module belongs to a synthetic
person or company; nothing here looks up, stores or derives anything from real persons.

Core objects:
    Resident identity number (GB 11643-1999): 18 characters, ``RRRRRRYYYYMMDDSSSC``.
        ``RRRRRR`` is the 6-digit region code, ``YYYYMMDD`` the birth date, ``SSS`` a
        sequence number whose parity encodes sex (odd = male) and ``C`` the check character
        ``RESIDENT_ID_CHECK_TABLE[sum(w_i * d_i) mod 11]`` with ``RESIDENT_ID_WEIGHTS``.
        See :func:`is_valid_resident_id`, :func:`assign_sequence_numbers` and
        :func:`make_resident_ids`.
    Unified social credit code, USCC (GB 32100-2015): 18 characters over
        ``USCC_ALPHABET`` (31 symbols; I, O, S, V and Z are excluded). Positions 1-2 are the
        registration authority and entity type, 3-8 the region code, 9-17 an organisation
        code (GB 11714-1997: 8 body characters plus its own mod-11 check character) and 18
        the mod-31 check character. See :func:`is_valid_uscc`,
        :func:`is_valid_organization_code` and :func:`make_usccs`.
    Fixed-width byte arrays: generators return NumPy arrays of dtype ``S18`` (ASCII bytes,
        18 bytes per row, no per-row Python objects), which :func:`ids_to_arrow` turns into a
        ``pyarrow.StringArray`` without copying and :func:`decode` into ``str`` for small
        outputs and tests.

Generation is vectorised: the cost per identifier is a fixed number of array operations, so
populations of ten million are handled without per-person Python loops. The validators check
one string at a time and are plain Python; they never raise, whatever they are given.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pyarrow is imported lazily at run time: most callers never need it.
    import pyarrow as pa

__all__ = [
    "RESIDENT_ID_CHECK_TABLE",
    "RESIDENT_ID_WEIGHTS",
    "USCC_ALPHABET",
    "assign_sequence_numbers",
    "decode",
    "ids_to_arrow",
    "is_valid_organization_code",
    "is_valid_resident_id",
    "is_valid_uscc",
    "make_resident_ids",
    "make_usccs",
]

# --------------------------------------------------------------------------------------
# Resident identity number (GB 11643-1999)
# --------------------------------------------------------------------------------------

#: Weights of positions 1-17; w_i = 2**(18 - i) mod 11. All are non-zero mod 11 and 11 is
#: prime, so any single-digit error changes the weighted sum mod 11 and is detected.
RESIDENT_ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)

#: Check character indexed by ``sum(w_i * d_i) mod 11`` (equivalently (12 - sum) mod 11,
#: with 10 written as ``X``).
RESIDENT_ID_CHECK_TABLE: str = "10X98765432"

_DIGITS = frozenset("0123456789")
_MIN_PROVINCE, _MAX_PROVINCE = 11, 82
_MIN_BIRTH_YEAR = 1800
# YYYYMMDD has four year digits, hence the upper bound.
_MIN_DATE = np.datetime64(f"{_MIN_BIRTH_YEAR}-01-01", "D")
_MAX_DATE = np.datetime64("9999-12-31", "D")
# A 3-digit sequence has 500 odd values (001..999) and 499 non-zero even ones (002..998);
# 000 is reserved, so women get one slot fewer per (region, birth date).
_MAX_MALES, _MAX_FEMALES = 500, 499

# Lookup table for the vectorised path: check byte indexed by (weighted sum mod 11).
_RESIDENT_TABLE_BYTES = np.frombuffer(RESIDENT_ID_CHECK_TABLE.encode("ascii"), dtype=np.uint8)
_ASCII_ZERO = ord("0")


def _resident_check_char(body: str) -> str:
    """Return the check character for 17 ASCII digits (caller guarantees the format)."""
    total = sum(w * (ord(c) - _ASCII_ZERO) for w, c in zip(RESIDENT_ID_WEIGHTS, body, strict=True))
    return RESIDENT_ID_CHECK_TABLE[total % 11]


def is_valid_resident_id(s: object) -> bool:
    """Check a resident identity number against GB 11643-1999.

    Args:
        s: Candidate identifier; anything that is not a ``str`` is rejected.

    Returns:
        True iff ``s`` has 18 characters, the first 17 ASCII digits, a region code with a
        province prefix in 11..82, a real calendar birth date (year >= 1800), a sequence
        other than ``000`` and the correct check character (digit or uppercase ``X``).
        Never raises.
    """
    if not isinstance(s, str) or len(s) != 18:
        return False
    body = s[:17]
    # Explicit ASCII set: str.isdigit() would also accept e.g. Arabic-Indic or superscript
    # digits, which int() happily parses.
    if not all(c in _DIGITS for c in body):
        return False
    if not _MIN_PROVINCE <= int(body[:2]) <= _MAX_PROVINCE:
        return False
    year, month, day = int(body[6:10]), int(body[10:12]), int(body[12:14])
    if year < _MIN_BIRTH_YEAR:
        return False
    try:
        _dt.date(year, month, day)
    except ValueError:
        return False
    if body[14:17] == "000":
        return False
    # Plain comparison: lowercase 'x' never equals the table's 'X', so it is rejected.
    return s[17] == _resident_check_char(body)


def _as_1d_int64(values: np.ndarray, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D int64 array, rejecting non-integer dtypes."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must have an integer dtype, got {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _as_1d_bool(values: np.ndarray, name: str) -> np.ndarray:
    """Return ``values`` as a 1-D bool array; integers are accepted only if they are 0/1."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        return arr
    if arr.size == 0:
        return arr.astype(np.bool_)
    if not np.issubdtype(arr.dtype, np.integer) or not np.isin(arr, (0, 1)).all():
        raise TypeError(f"{name} must be boolean (or integer 0/1), got dtype {arr.dtype}")
    return arr.astype(np.bool_)


def assign_sequence_numbers(
    group_key: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> npt.NDArray[np.uint16]:
    """Assign distinct 3-digit sequence numbers whose parity encodes sex.

    Within each (``group_key``, sex) pair, males receive distinct odd numbers from
    1, 3, ..., 999 and females distinct even numbers from 2, 4, ..., 998, in a random order
    drawn from ``rng``. Combined with a group key that identifies (region code, birth date),
    this makes the resulting resident identity numbers unique.

    Args:
        group_key: 1-D integer array; equal values share one sequence space.
        male: 1-D boolean array (or integer 0/1) of the same length; True = male.
        rng: Source of randomness for the order within each group.

    Returns:
        ``uint16`` array of sequence numbers in 1..999, aligned with the inputs.

    Raises:
        ValueError: If the inputs are not aligned, or some (group, sex) pair needs more than
            500 male or 499 female numbers (the 3-digit space is exhausted).
    """
    key = _as_1d_int64(group_key, "group_key")
    sex = _as_1d_bool(male, "male")
    n = key.shape[0]
    if sex.shape[0] != n:
        raise ValueError(f"group_key has {n} entries but male has {sex.shape[0]}")
    out = np.empty(n, dtype=np.uint16)
    if n == 0:
        return out

    # lexsort is stable, so sorting a random permutation by (key, sex) leaves the members of
    # each (key, sex) run in random order: this is the "random" third sort key, for free.
    perm = rng.permutation(n)
    order = perm[np.lexsort((sex[perm], key[perm]))]
    sorted_key = key[order]
    sorted_sex = sex[order]

    new_run = np.empty(n, dtype=np.bool_)
    new_run[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new_run[1:])
    new_run[1:] |= sorted_sex[1:] != sorted_sex[:-1]
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, n))
    run_male = sorted_sex[starts]

    capacity = np.where(run_male, _MAX_MALES, _MAX_FEMALES)
    over = lengths > capacity
    if over.any():
        # Report the worst pair: it tells the caller how far off the request is.
        worst = np.flatnonzero(over)[np.argmax(lengths[over] - capacity[over])]
        is_m = bool(run_male[worst])
        raise ValueError(
            f"3-digit sequence space exhausted: group_key {int(sorted_key[starts[worst]])} "
            f"requests {int(lengths[worst])} {'male' if is_m else 'female'} sequence numbers, "
            f"but only {_MAX_MALES if is_m else _MAX_FEMALES} distinct "
            f"{'odd (001..999)' if is_m else 'even (002..998)'} values exist; "
            f"{int(over.sum())} (group, sex) pair(s) overflow"
        )

    # Rank within run = position minus the start of the run containing it.
    run_index = np.cumsum(new_run) - 1
    rank = np.arange(n, dtype=np.int64) - starts[run_index]
    # rank r -> 2r + 1 (odd, male) or 2r + 2 (even, female); bounded by the check above.
    seq = 2 * rank + np.where(sorted_sex, 1, 2)
    out[order] = seq
    return out


def _write_digits(
    buf: np.ndarray,
    first_col: int,
    values: np.ndarray,
    width: int,
    checksums: Sequence[tuple[Sequence[int], np.ndarray]],
) -> None:
    """Write ``values`` as ``width`` zero-padded ASCII digits into ``buf[:, first_col:...]``.

    For each ``(weights, total)`` in ``checksums``, ``weights[k] * digit_k`` is added to
    ``total`` in place, so checksums need no second pass over the matrix. ``values`` must be
    non-negative and below ``10**width`` (callers validate). The loop runs over digit
    positions (at most 17), never over rows.
    """
    # int32 halves memory traffic and divides faster than int64; every field written here
    # (at most 8 digits) fits. Peeling digits off the right needs one divmod per digit.
    rest = values.astype(np.int32)
    for k in range(width - 1, -1, -1):
        rest, digit = np.divmod(rest, 10)
        buf[:, first_col + k] = digit + _ASCII_ZERO
        for weights, total in checksums:
            # Python int weight: keeps the product int32 (a NumPy int64 scalar would upcast).
            total += int(weights[k]) * digit


def _date_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split datetime64[D] values (years 1800..9999) into (year, month, day) int32 arrays.

    Uses integer civil-from-days arithmetic (H. Hinnant's algorithm on the proleptic
    Gregorian calendar, which is what datetime64 uses) because ``astype("datetime64[M]")``
    converts element by element and is several times slower.
    """
    # Callers guarantee years 1800..9999, so z is positive and int32 suffices; int32
    # division is several times faster than int64 here.
    z = (dates.astype(np.int64) + 719_468).astype(np.int32)  # days since 0000-03-01
    era = z // 146_097  # 400-year eras
    doe = z - era * 146_097  # day of era, 0..146096
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365  # year of era
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of year counted from March 1
    mp = (5 * doy + 2) // 153  # month counted from March, 0..11
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)  # January and February belong to the next year
    return year, month, day


def make_resident_ids(
    region_codes: np.ndarray, birth_dates: np.ndarray, sequence: np.ndarray
) -> npt.NDArray[np.bytes_]:
    """Build resident identity numbers from their parts, fully vectorised.

    Args:
        region_codes: 1-D integer array of 6-digit region codes (province prefix 11..82,
            i.e. 110000..829999), e.g. 320102.
        birth_dates: 1-D ``datetime64`` array (converted to day precision) within
            1800-01-01..9999-12-31, no NaT.
        sequence: 1-D integer array of sequence numbers in 1..999 (odd = male), e.g. from
            :func:`assign_sequence_numbers`.

    Returns:
        Array of dtype ``S18`` (ASCII bytes), one identifier per row; each one passes
        :func:`is_valid_resident_id`.

    Raises:
        ValueError: If the inputs are misaligned or outside the ranges above.
        TypeError: If a dtype is wrong.
    """
    region = _as_1d_int64(region_codes, "region_codes")
    seq = _as_1d_int64(sequence, "sequence")
    dates = np.asarray(birth_dates)
    if dates.ndim != 1:
        raise ValueError(f"birth_dates must be 1-D, got shape {dates.shape}")
    if not np.issubdtype(dates.dtype, np.datetime64):
        raise TypeError(f"birth_dates must have a datetime64 dtype, got {dates.dtype}")
    dates = dates.astype("datetime64[D]")
    n = region.shape[0]
    if seq.shape[0] != n or dates.shape[0] != n:
        raise ValueError(
            f"length mismatch: region_codes {n}, birth_dates {dates.shape[0]}, "
            f"sequence {seq.shape[0]}"
        )

    # Validate up front so that everything produced is valid, instead of emitting
    # identifiers that silently fail is_valid_resident_id later.
    lo, hi = _MIN_PROVINCE * 10_000, _MAX_PROVINCE * 10_000 + 9_999
    if n and ((region < lo).any() or (region > hi).any()):
        raise ValueError(f"region_codes must lie in {lo}..{hi} (province prefix 11..82)")
    if n and ((seq < 1).any() or (seq > 999).any()):
        raise ValueError("sequence numbers must lie in 1..999")
    if np.isnat(dates).any():
        raise ValueError("birth_dates contains NaT")
    if n and ((dates < _MIN_DATE).any() or (dates > _MAX_DATE).any()):
        raise ValueError(f"birth_dates must lie in {_MIN_DATE}..{_MAX_DATE}")
    year, month, day = _date_parts(dates)
    ymd = year * 10_000 + month * 100 + day  # at most 99991231: fits int32

    # One C-contiguous (N, 18) uint8 matrix of ASCII codes; viewing it as S18 afterwards is
    # free, so the digits are never materialised as Python strings.
    buf = np.empty((n, 18), dtype=np.uint8)
    total = np.zeros(n, dtype=np.int32)  # at most 17 * 10 * 9, far below int32 limits
    w = RESIDENT_ID_WEIGHTS
    _write_digits(buf, 0, region, 6, [(w[0:6], total)])
    _write_digits(buf, 6, ymd, 8, [(w[6:14], total)])
    _write_digits(buf, 14, seq, 3, [(w[14:17], total)])
    buf[:, 17] = _RESIDENT_TABLE_BYTES[total % 11]
    return buf.view("S18").reshape(n)


# --------------------------------------------------------------------------------------
# Unified social credit code (GB 32100-2015) and organisation code (GB 11714-1997)
# --------------------------------------------------------------------------------------

#: The 31 USCC symbols; a symbol's value is its index. I, O, S, V and Z are left out
#: because they are easily confused with 1, 0, 5, U and 2.
USCC_ALPHABET: str = "0123456789ABCDEFGHJKLMNPQRTUWXY"

_USCC_VALUE: dict[str, int] = {c: i for i, c in enumerate(USCC_ALPHABET)}
# w_i = 3**(i-1) mod 31; 3 is a primitive root mod 31, so no weight is 0 mod 31 and every
# single-character substitution changes the checksum.
_USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
_USCC_ALPHABET_BYTES = np.frombuffer(USCC_ALPHABET.encode("ascii"), dtype=np.uint8)

_ORG_WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11714 body characters: digits 0-9 and uppercase letters A-Z with values 10-35.
_ORG_BODY_VALUE: dict[str, int] = {c: int(c, 36) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
# Check character indexed by (weighted sum mod 11): c = 11 - r, with 10 -> 'X', 11 -> '0'.
_ORG_CHECK_BY_REMAINDER = "0X987654321"
_ORG_CHECK_BYTES = np.frombuffer(_ORG_CHECK_BY_REMAINDER.encode("ascii"), dtype=np.uint8)
# Value of each of those check characters in the USCC alphabet (needed for the USCC sum).
_ORG_CHECK_USCC_VALUE = np.array([_USCC_VALUE[c] for c in _ORG_CHECK_BY_REMAINDER], np.int32)
_ORG_CODE_SPACE = 10**8  # 8-digit bodies 00000000..99999999


def _org_check_char(body: str) -> str:
    """Return the GB 11714 check character for 8 valid body characters."""
    total = sum(w * _ORG_BODY_VALUE[c] for w, c in zip(_ORG_WEIGHTS, body, strict=True))
    return _ORG_CHECK_BY_REMAINDER[total % 11]


def is_valid_organization_code(s: object) -> bool:
    """Check a 9-character organisation code against GB 11714-1997.

    Args:
        s: Candidate code (8 body characters, then the check character, no hyphen);
            anything that is not a ``str`` is rejected.

    Returns:
        True iff the body consists of ASCII digits or uppercase letters and the check
        character (digit or uppercase ``X``) matches. Never raises.
    """
    if not isinstance(s, str) or len(s) != 9:
        return False
    body = s[:8]
    if not all(c in _ORG_BODY_VALUE for c in body):
        return False
    return s[8] == _org_check_char(body)


def is_valid_uscc(s: object) -> bool:
    """Check a unified social credit code against GB 32100-2015.

    Args:
        s: Candidate code; anything that is not a ``str`` is rejected.

    Returns:
        True iff ``s`` has 18 characters, all in ``USCC_ALPHABET`` (uppercase only),
        positions 3-8 (the region code) are digits and the mod-31 check character matches.
        Never raises.
    """
    if not isinstance(s, str) or len(s) != 18:
        return False
    values = [_USCC_VALUE.get(c, -1) for c in s]
    if min(values) < 0:
        return False
    if not all(c in _DIGITS for c in s[2:8]):
        return False
    total = sum(w * v for w, v in zip(_USCC_WEIGHTS, values[:17], strict=True))
    return values[17] == (31 - total % 31) % 31


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D array.

    Same result as ``np.unique``, but always sort-based: on NumPy 2.4 ``np.unique`` of ten
    million int64 took over ten times as long as sorting them.
    """
    s = np.sort(values)
    if s.size == 0:
        return s
    keep = np.empty(s.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _distinct_integers(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """Draw ``n`` distinct integers uniformly from ``0..high-1``, in random order.

    Draws with replacement, oversampled so that de-duplication almost always leaves at least
    ``n`` values, then shuffles and truncates. Because the set of distinct values from i.i.d.
    uniform draws is a uniformly random subset given its size, the result is a uniform
    sample without replacement. The loop only repeats in the rare case of too few.
    """
    if n < 0 or n > high:
        raise ValueError(f"cannot draw {n} distinct values from a space of {high}")
    if n == 0:
        return np.empty(0, dtype=np.int64)
    if 4 * n > high:
        # Dense sample: rejection would collide constantly; permuting the space is cheaper.
        return rng.permutation(high)[:n].astype(np.int64, copy=False)
    target = n + n // 100 + 64  # small slack over the expectation: one round suffices
    pool = np.empty(0, dtype=np.int64)
    while pool.size < n:
        # Expected distinct count after m more draws is high - (high - k) * exp(-m / high);
        # solve for m reaching `target` (target < high holds since n <= high / 4).
        k = pool.size
        m = max(64, math.ceil(high * math.log((high - k) / (high - max(target, k + 1)))))
        pool = _sorted_unique(np.concatenate((pool, rng.integers(0, high, size=m))))
    rng.shuffle(pool)
    return pool[:n]


def make_usccs(
    region_codes: np.ndarray, rng: np.random.Generator, registration: str = "91"
) -> npt.NDArray[np.bytes_]:
    """Build unified social credit codes, unique within the call, fully vectorised.

    Layout: positions 1-2 ``registration`` (authority and entity type; ``"91"`` = industry
    and commerce, enterprise), 3-8 the region code, 9-16 a random 8-digit organisation code
    body, 17 its GB 11714 check character, 18 the GB 32100 check character.

    Args:
        region_codes: 1-D integer array of 6-digit region codes (100000..999999).
        rng: Source of randomness for the organisation codes.
        registration: Two characters from ``USCC_ALPHABET``.

    Returns:
        Array of dtype ``S18`` (ASCII bytes); each row passes :func:`is_valid_uscc`, and its
        characters 9-17 pass :func:`is_valid_organization_code`.

    Raises:
        ValueError: On a bad ``registration``, out-of-range region codes, or more than
            10**8 codes requested (the 8-digit space).
    """
    if (
        not isinstance(registration, str)
        or len(registration) != 2
        or not all(c in _USCC_VALUE for c in registration)
    ):
        raise ValueError(
            f"registration must be 2 characters from USCC_ALPHABET, got {registration!r}"
        )
    region = _as_1d_int64(region_codes, "region_codes")
    n = region.shape[0]
    if n and ((region < 100_000).any() or (region > 999_999).any()):
        raise ValueError("region_codes must be 6-digit integers (100000..999999)")

    # Distinct organisation codes make the USCCs distinct, whatever the region codes.
    org = _distinct_integers(rng, n, _ORG_CODE_SPACE)

    buf = np.empty((n, 18), dtype=np.uint8)
    # The registration characters are the same on every row: their share of the sum is a
    # constant. Sums stay below 17 * 30 * 30, far below int32 limits.
    total = np.full(
        n, sum(_USCC_WEIGHTS[i] * _USCC_VALUE[c] for i, c in enumerate(registration)), np.int32
    )
    for col, ch in enumerate(registration):
        buf[:, col] = ord(ch)
    _write_digits(buf, 2, region, 6, [(_USCC_WEIGHTS[2:8], total)])

    # The organisation body feeds two checksums at once, its own (mod 11) and the USCC's;
    # digits have the same value in both alphabets.
    org_total = np.zeros(n, dtype=np.int32)
    _write_digits(buf, 8, org, 8, [(_USCC_WEIGHTS[8:16], total), (_ORG_WEIGHTS, org_total)])
    remainder = org_total % 11
    buf[:, 16] = _ORG_CHECK_BYTES[remainder]
    total += _USCC_WEIGHTS[16] * _ORG_CHECK_USCC_VALUE[remainder]

    buf[:, 17] = _USCC_ALPHABET_BYTES[(31 - total % 31) % 31]
    return buf.view("S18").reshape(n)


# --------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------


def ids_to_arrow(ids: np.ndarray) -> pa.StringArray:
    """Wrap a fixed-width ASCII byte array as a ``pyarrow.StringArray`` without copying.

    Every row occupies exactly ``width`` bytes, so the Arrow offsets are simply
    ``0, width, 2 * width, ...`` and the NumPy buffer is reused as the Arrow data buffer.

    Args:
        ids: 1-D array of dtype ``S<width>`` whose rows all use the full width (no NUL
            padding) and contain ASCII only, e.g. the output of :func:`make_resident_ids`.

    Returns:
        A ``pyarrow.StringArray`` sharing memory with ``ids`` (kept alive by Arrow).

    Raises:
        TypeError: If ``ids`` is not a 1-D ``S`` array.
        ValueError: If rows are NUL-padded or non-ASCII, or the data exceed int32 offsets.
    """
    import pyarrow as pa  # optional heavy dependency: imported only when needed

    arr = np.asarray(ids)
    if arr.ndim != 1 or arr.dtype.kind != "S":
        raise TypeError(f"ids must be a 1-D bytes (S) array, got {arr.dtype} {arr.shape}")
    arr = np.ascontiguousarray(arr)
    n, width = arr.shape[0], arr.dtype.itemsize
    if width * n > np.iinfo(np.int32).max:
        raise ValueError("too much data for int32 offsets; split the array into chunks")
    raw = arr.view(np.uint8)
    if n and width:
        # NumPy pads short entries with NUL, which would leak into the strings; a padded row
        # always ends in NUL, so looking at the last byte of each row is enough.
        if (raw.reshape(n, width)[:, -1] == 0).any():
            raise ValueError("ids contains NUL-padded (shorter than the dtype width) entries")
        # Arrow does not validate UTF-8 in from_buffers; ASCII is trivially valid UTF-8.
        if (raw >= 0x80).any():
            raise ValueError("ids contains non-ASCII bytes")
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw))


def decode(ids: np.ndarray) -> list[str]:
    """Return a fixed-width ASCII byte array as a list of ``str`` (for tests, small outputs)."""
    arr = np.asarray(ids)
    if arr.dtype.kind == "U":
        return [str(x) for x in arr.ravel().tolist()]
    return [x.decode("ascii") for x in arr.ravel().tolist()]
