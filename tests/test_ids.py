"""Tests for sclab.ids: resident identity numbers (GB 11643) and USCCs (GB 32100).

The check-character rules are re-implemented here from the standards' formulas (weights
computed from powers, not copied from the module), so a typo in the module's tables fails.
All identifiers are synthetic.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sclab.ids import (
    RESIDENT_ID_CHECK_TABLE,
    RESIDENT_ID_WEIGHTS,
    USCC_ALPHABET,
    assign_sequence_numbers,
    decode,
    ids_to_arrow,
    is_valid_organization_code,
    is_valid_resident_id,
    is_valid_uscc,
    make_resident_ids,
    make_usccs,
)

# --------------------------------------------------------------------------------------
# Independent reference implementations (straight from the standards' formulas)
# --------------------------------------------------------------------------------------


def ref_resident_check(body: str) -> str:
    """GB 11643: w_i = 2**(18-i) mod 11; check value (12 - S mod 11) mod 11, 10 -> 'X'."""
    assert len(body) == 17 and body.isascii() and body.isdigit()
    total = sum((2 ** (17 - i) % 11) * int(c) for i, c in enumerate(body))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def ref_org_check(body: str) -> str:
    """GB 11714: weights 3 7 9 10 5 8 4 2; C = 11 - S mod 11; 10 -> 'X', 11 -> '0'."""
    values = [int(c, 36) for c in body]  # 0-9 then A=10 .. Z=35
    c = 11 - sum(w * v for w, v in zip((3, 7, 9, 10, 5, 8, 4, 2), values, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def ref_uscc_check(body: str) -> str:
    """GB 32100: w_i = 3**(i-1) mod 31; check value (31 - S mod 31) mod 31."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum((3**i % 31) * alphabet.index(c) for i, c in enumerate(body))
    return alphabet[(31 - total % 31) % 31]


def one_id(region: int, birth: dt.date, seq: int) -> str:
    out = make_resident_ids(
        np.array([region]), np.array([np.datetime64(birth, "D")]), np.array([seq])
    )
    return decode(out)[0]


# Province prefixes 11..82 are exactly the region codes 110000..829999.
regions = st.integers(110_000, 829_999)
birth_dates = st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31))
sequences = st.integers(1, 999)
resident_ids = st.builds(one_id, regions, birth_dates, sequences)
printable_ascii = st.characters(min_codepoint=32, max_codepoint=126)

# A USCC worked out by hand (and cross-checked by the reference functions below):
# organisation body 12345678: 3*1+7*2+9*3+10*4+5*5+8*6+4*7+2*8 = 201, 201 mod 11 = 3,
# C = 11 - 3 = 8 -> organisation code "123456788".
# USCC body "91" "320102" "123456788", weights 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28:
# 9+3+27+54+0+26+0+34+20+58+75+52+40+144+70+240+224 = 1076, 1076 mod 31 = 22,
# check value 31 - 22 = 9 -> "9".
HAND_USCC = "913201021234567889"


# --------------------------------------------------------------------------------------
# Resident identity numbers: constants and validator
# --------------------------------------------------------------------------------------


def test_resident_constants_follow_the_standard_formulas() -> None:
    assert tuple(2 ** (17 - i) % 11 for i in range(17)) == RESIDENT_ID_WEIGHTS
    # table[r] must be the character for check value (12 - r) mod 11.
    for r in range(11):
        value = (12 - r) % 11
        assert RESIDENT_ID_CHECK_TABLE[r] == ("X" if value == 10 else str(value))


def test_published_example_is_valid() -> None:
    # Weighted sum of 11010519491231002 is 167; 167 mod 11 = 2 -> 'X'.
    assert ref_resident_check("11010519491231002") == "X"
    assert is_valid_resident_id("11010519491231002X")


@pytest.mark.parametrize(
    "candidate",
    [
        "11010519491231002x",  # lowercase check character
        "11010519491231002",  # 17 chars
        "11010519491231002X0",  # 19 chars
        "",
        "11010519491231002X ",
        " 11010519491231002X",
        "110105194912310021",  # wrong check digit
    ],
)
def test_malformed_resident_ids_are_invalid(candidate: str) -> None:
    assert not is_valid_resident_id(candidate)


@pytest.mark.parametrize(
    "value",
    [None, 11010519491231002, b"11010519491231002X", ["11010519491231002X"], 1.5, object()],
)
def test_non_str_resident_ids_are_invalid(value: object) -> None:
    assert is_valid_resident_id(value) is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("10010519491231002", "province prefix 10 < 11"),
        ("83010519491231002", "province prefix 83 > 82"),
        ("01010519491231002", "leading zero"),
        ("11010519490229002", "1949 is not a leap year"),
        ("11010519491301002", "month 13"),
        ("11010519491200002", "day 0"),
        ("11010517991231002", "year before 1800"),
        ("11010519491231000", "sequence 000"),
    ],
)
def test_structurally_wrong_ids_with_correct_check_char_are_invalid(body: str, reason: str) -> None:
    # The check character is right, so only the structural rule can reject these.
    assert not is_valid_resident_id(body + ref_resident_check(body)), reason


def test_structural_boundaries_that_are_valid() -> None:
    for body in ("11010518000101001", "82999920000229998", "11010519491231999"):
        assert is_valid_resident_id(body + ref_resident_check(body)), body


def test_non_ascii_digits_are_rejected_even_with_matching_checksum() -> None:
    # Arabic-Indic digit 2 (U+0662) has int() value 2, so a checksum computed with int()
    # would still match; only an explicit ASCII test rejects it.
    good = "11010519491231002X"
    assert int("\u0662") == 2
    assert not is_valid_resident_id(good[:16] + "\u0662" + good[17])
    fullwidth_one = "\uff11"  # FULLWIDTH DIGIT ONE
    assert not is_valid_resident_id(fullwidth_one + good[1:])


@settings(max_examples=300, deadline=None)
@given(resident_ids, st.data())
def test_every_single_character_substitution_is_invalid(rid: str, data: st.DataObject) -> None:
    assert is_valid_resident_id(rid)
    pos = data.draw(st.integers(0, 17), label="position")
    char = data.draw(printable_ascii.filter(lambda c: c != rid[pos]), label="char")
    assert not is_valid_resident_id(rid[:pos] + char + rid[pos + 1 :])


@settings(max_examples=100, deadline=None)
@given(resident_ids, st.integers(0, 17), st.characters())
def test_substitution_by_any_unicode_character_is_invalid_and_never_raises(
    rid: str, pos: int, char: str
) -> None:
    candidate = rid[:pos] + char + rid[pos + 1 :]
    assert is_valid_resident_id(candidate) == (candidate == rid)


# --------------------------------------------------------------------------------------
# Resident identity numbers: generation
# --------------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(regions, birth_dates, sequences), min_size=1, max_size=40))
def test_make_resident_ids_are_valid_and_decode_to_their_inputs(
    rows: list[tuple[int, dt.date, int]],
) -> None:
    region = np.array([r for r, _, _ in rows], dtype=np.int64)
    births = np.array([np.datetime64(b, "D") for _, b, _ in rows])
    seq = np.array([s for _, _, s in rows], dtype=np.int64)
    out = make_resident_ids(region, births, seq)
    assert out.dtype == np.dtype("S18")
    assert out.shape == (len(rows),)
    for text, (r, b, s) in zip(decode(out), rows, strict=True):
        assert is_valid_resident_id(text), text
        assert text[17] == ref_resident_check(text[:17])
        assert int(text[:6]) == r
        assert dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14])) == b
        assert int(text[14:17]) == s


def test_make_resident_ids_date_digits_over_a_wide_span_of_days() -> None:
    # Every day from 1800 to 2100 (about 110k days) against datetime's own formatting:
    # catches off-by-one errors at month ends, leap days and century years.
    days = np.arange(np.datetime64("1800-01-01"), np.datetime64("2100-01-01"))
    out = make_resident_ids(np.full(days.size, 320102), days, np.ones(days.size, dtype=np.int64))
    texts = np.char.decode(out, "ascii")
    got = texts.astype("U14")  # truncates to the first 14 chars: region + date
    expected_dates = np.datetime_as_string(days, unit="D")
    expected = np.char.add("320102", np.char.replace(expected_dates, "-", ""))
    assert np.array_equal(got, expected)
    assert all(is_valid_resident_id(t) for t in texts[::997].tolist())


def test_make_resident_ids_accepts_coarser_datetime_units_and_small_int_dtypes() -> None:
    out = make_resident_ids(
        np.array([320102], dtype=np.int32),
        np.array(["1985-07-04T13:45:00"], dtype="datetime64[s]"),
        np.array([7], dtype=np.uint16),
    )
    text = decode(out)[0]
    assert text[:17] == "32010219850704007"
    assert is_valid_resident_id(text)


def test_make_resident_ids_empty() -> None:
    out = make_resident_ids(
        np.array([], dtype=np.int64), np.array([], dtype="datetime64[D]"), np.array([], int)
    )
    assert out.shape == (0,)
    assert out.dtype == np.dtype("S18")


@pytest.mark.parametrize(
    ("region", "birth", "seq", "exc", "match"),
    [
        (109_999, "1990-01-01", 1, ValueError, "region_codes"),
        (830_000, "1990-01-01", 1, ValueError, "region_codes"),
        (320102, "1990-01-01", 0, ValueError, "sequence"),
        (320102, "1990-01-01", 1000, ValueError, "sequence"),
        (320102, "NaT", 1, ValueError, "NaT"),
        (320102, "1799-12-31", 1, ValueError, "birth_dates"),
    ],
)
def test_make_resident_ids_rejects_out_of_range_inputs(
    region: int, birth: str, seq: int, exc: type[Exception], match: str
) -> None:
    with pytest.raises(exc, match=match):
        make_resident_ids(
            np.array([region]), np.array([birth], dtype="datetime64[D]"), np.array([seq])
        )


def test_make_resident_ids_rejects_misaligned_and_mistyped_inputs() -> None:
    births = np.array(["1990-01-01", "1991-01-01"], dtype="datetime64[D]")
    with pytest.raises(ValueError, match="length mismatch"):
        make_resident_ids(np.array([320102]), births, np.array([1, 2]))
    with pytest.raises(TypeError, match="datetime64"):
        make_resident_ids(np.array([320102]), np.array(["1990-01-01"]), np.array([1]))
    with pytest.raises(TypeError, match="integer"):
        make_resident_ids(np.array([320102.0]), births[:1], np.array([1]))


# --------------------------------------------------------------------------------------
# Sequence numbers
# --------------------------------------------------------------------------------------


def test_assign_sequence_numbers_unique_and_parity_on_a_large_population() -> None:
    rng = np.random.default_rng(20240601)
    n = 200_000
    key = rng.integers(0, 3_000, size=n) * 1_000_003 - 7  # arbitrary, incl. negative keys
    male = rng.random(n) < 0.5
    seq = assign_sequence_numbers(key, male, np.random.default_rng(1))
    assert seq.dtype == np.uint16
    assert seq.shape == (n,)
    assert seq.min() >= 1
    assert seq.max() <= 999
    assert np.array_equal(seq % 2 == 1, male)
    # (key, seq) pairs are unique ...
    pairs = np.stack([key, seq.astype(np.int64)], axis=1)
    assert np.unique(pairs, axis=0).shape[0] == n
    # ... and dense: each (key, sex) run uses exactly the smallest numbers of its parity.
    order = np.lexsort((seq, male, key))
    k, m, s = key[order], male[order], seq[order].astype(np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = (k[1:] != k[:-1]) | (m[1:] != m[:-1])
    run_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    rank = np.arange(n) - run_start
    assert np.array_equal(s, 2 * rank + np.where(m, 1, 2))


def test_assign_sequence_numbers_order_is_random_but_reproducible() -> None:
    key = np.zeros(400, dtype=np.int64)
    male = np.arange(400) % 2 == 0
    a = assign_sequence_numbers(key, male, np.random.default_rng(5))
    b = assign_sequence_numbers(key, male, np.random.default_rng(5))
    c = assign_sequence_numbers(key, male, np.random.default_rng(6))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # Not simply in input order: a random order is not sorted.
    assert not np.array_equal(a[male], np.sort(a[male]))


def test_assign_sequence_numbers_fills_the_whole_space_exactly() -> None:
    key = np.full(999, 42, dtype=np.int64)
    male = np.arange(999) < 500
    seq = assign_sequence_numbers(key, male, np.random.default_rng(0))
    assert sorted(seq[male].tolist()) == list(range(1, 1000, 2))
    assert sorted(seq[~male].tolist()) == list(range(2, 999, 2))


@pytest.mark.parametrize(
    ("n_male", "n_female", "pattern"),
    [(501, 0, r"501 male"), (0, 500, r"500 female"), (700, 10, r"700 male")],
)
def test_assign_sequence_numbers_overflow_raises(n_male: int, n_female: int, pattern: str) -> None:
    key = np.concatenate([np.arange(50), np.full(n_male + n_female, 77)])
    male = np.concatenate([np.ones(50, bool), np.ones(n_male, bool), np.zeros(n_female, bool)])
    with pytest.raises(ValueError, match=pattern) as info:
        assign_sequence_numbers(key, male, np.random.default_rng(0))
    assert "group_key 77" in str(info.value)


def test_assign_sequence_numbers_edge_inputs() -> None:
    rng = np.random.default_rng(0)
    assert assign_sequence_numbers(np.array([], int), np.array([], bool), rng).shape == (0,)
    seq = assign_sequence_numbers(np.array([3, 3, 3]), np.array([1, 0, 1]), rng)
    assert sorted(seq.tolist()) == [1, 2, 3]
    with pytest.raises(ValueError, match="male has"):
        assign_sequence_numbers(np.array([1, 2]), np.array([True]), rng)
    with pytest.raises(TypeError):
        assign_sequence_numbers(np.array([1, 2]), np.array([0.5, 1.0]), rng)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(110_000, 110_004), birth_dates, st.booleans()),
        min_size=1,
        max_size=300,
    ),
    st.integers(0, 2**32 - 1),
)
def test_generated_ids_are_unique_and_encode_sex(
    people: list[tuple[int, dt.date, bool]], seed: int
) -> None:
    region = np.array([r for r, _, _ in people], dtype=np.int64)
    births = np.array([np.datetime64(b, "D") for _, b, _ in people])
    male = np.array([m for _, _, m in people])
    group = region * 100_000 + births.astype(np.int64)
    seq = assign_sequence_numbers(group, male, np.random.default_rng(seed))
    texts = decode(make_resident_ids(region, births, seq))
    assert len(set(texts)) == len(texts)
    for text, is_male in zip(texts, male.tolist(), strict=True):
        assert is_valid_resident_id(text)
        assert (int(text[16]) % 2 == 1) == is_male


# --------------------------------------------------------------------------------------
# USCC and organisation codes
# --------------------------------------------------------------------------------------


def test_uscc_alphabet_excludes_confusable_letters() -> None:
    assert len(USCC_ALPHABET) == 31
    assert len(set(USCC_ALPHABET)) == 31
    assert set("IOSVZ").isdisjoint(USCC_ALPHABET)
    letters = "".join(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in "IOSVZ")
    assert "0123456789" + letters == USCC_ALPHABET


def test_hand_computed_uscc_example() -> None:
    assert ref_org_check("12345678") == "8"
    assert ref_uscc_check(HAND_USCC[:17]) == "9"
    assert is_valid_organization_code(HAND_USCC[8:17])
    assert is_valid_uscc(HAND_USCC)
    for wrong in "0123456788ABCDEFGHJKLMNPQRTUWXY":
        assert not is_valid_uscc(HAND_USCC[:17] + wrong)


def test_organization_code_check_character_cases() -> None:
    # Find bodies whose check is 'X' (C = 10) and '0' (C = 11) to exercise both specials.
    bodies = {ref_org_check(f"{i:08d}"): f"{i:08d}" for i in range(200)}
    assert {"X", "0"} <= bodies.keys()
    for check, body in bodies.items():
        assert is_valid_organization_code(body + check)
        assert not is_valid_organization_code(body + ("1" if check != "1" else "2"))
    x_body = bodies["X"]
    assert not is_valid_organization_code(x_body + "x")
    assert not is_valid_organization_code(x_body + "10")
    # Letters are allowed in a GB 11714 body (A = 10 ... Z = 35), uppercase only.
    body = "MA1B2C3D"
    assert is_valid_organization_code(body + ref_org_check(body))
    assert not is_valid_organization_code(body.lower() + ref_org_check(body))
    for bad in (None, 123456788, b"123456788", "", "12345678", "1234567880"):
        assert not is_valid_organization_code(bad)


def test_uscc_with_letters_and_lowercase() -> None:
    body = "92" + "320102" + "MA1B2C3D"
    body += ref_org_check(body[8:])
    code = body + ref_uscc_check(body)
    assert is_valid_uscc(code)
    assert code.lower() != code
    assert not is_valid_uscc(code.lower())


def test_uscc_rejects_confusable_letters_and_bad_region() -> None:
    # In the region field (positions 3-8) letters are not allowed even with a right check.
    body = "91" + "3201A2" + "123456788"
    assert not is_valid_uscc(body + ref_uscc_check(body))
    for letter in "IOSVZ":
        for pos in (0, 8, 12, 17):
            candidate = HAND_USCC[:pos] + letter + HAND_USCC[pos + 1 :]
            assert not is_valid_uscc(candidate), candidate
            assert not is_valid_uscc(HAND_USCC[:pos] + letter.lower() + HAND_USCC[pos + 1 :])


@pytest.mark.parametrize(
    "value", [None, 913201021234567889, b"913201021234567889", "", HAND_USCC + "0", object()]
)
def test_uscc_non_str_and_wrong_length(value: object) -> None:
    assert is_valid_uscc(value) is False


uscc_codes = st.builds(
    lambda region, seed: decode(make_usccs(np.array([region]), np.random.default_rng(seed)))[0],
    st.integers(100_000, 999_999),
    st.integers(0, 2**32 - 1),
)


@settings(max_examples=300, deadline=None)
@given(uscc_codes, st.data())
def test_every_single_character_substitution_of_a_uscc_is_invalid(
    code: str, data: st.DataObject
) -> None:
    assert is_valid_uscc(code)
    pos = data.draw(st.integers(0, 17), label="position")
    char = data.draw(printable_ascii.filter(lambda c: c != code[pos]), label="char")
    assert not is_valid_uscc(code[:pos] + char + code[pos + 1 :])


@settings(max_examples=100, deadline=None)
@given(uscc_codes, st.integers(0, 17), st.characters())
def test_uscc_validator_never_raises_on_any_character(code: str, pos: int, char: str) -> None:
    candidate = code[:pos] + char + code[pos + 1 :]
    assert is_valid_uscc(candidate) == (candidate == code)


def test_make_usccs_large_batch() -> None:
    rng = np.random.default_rng(99)
    n = 100_000
    region = rng.integers(110_000, 830_000, size=n)
    out = make_usccs(region, rng)
    assert out.dtype == np.dtype("S18")
    assert out.shape == (n,)
    assert np.unique(out).size == n
    texts = decode(out)
    assert all(map(is_valid_uscc, texts))
    assert all(is_valid_organization_code(t[8:17]) for t in texts)
    assert all(t.startswith("91") for t in texts)
    assert np.array_equal(np.array([int(t[2:8]) for t in texts]), region)
    # Cross-check a sample against the reference formulas.
    for t in texts[::500]:
        assert t[16] == ref_org_check(t[8:16])
        assert t[17] == ref_uscc_check(t[:17])
    # Organisation codes are unique on their own, not just the full codes ...
    org = np.array([int(t[8:16]) for t in texts])
    assert np.unique(org).size == n
    # ... and a uniform sample of 00000000..99999999 in random order: the mean of 100k
    # uniform draws is within 1e6 of 5e7 (about 11 standard errors), the extremes reach
    # both ends, and the order is not sorted.
    assert abs(org.mean() - 49_999_999.5) < 1_000_000
    assert org.min() < 10_000
    assert org.max() > 99_990_000
    assert not (np.diff(org) > 0).all()


def test_make_usccs_reproducible_registration_and_edges() -> None:
    region = np.full(1_000, 320102)
    a = make_usccs(region, np.random.default_rng(3))
    b = make_usccs(region, np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert np.unique(a).size == a.size  # same region everywhere, still unique
    other = decode(make_usccs(region[:50], np.random.default_rng(4), registration="Y1"))
    assert all(t.startswith("Y1") and is_valid_uscc(t) for t in other)
    empty = make_usccs(np.array([], dtype=np.int64), np.random.default_rng(0))
    assert empty.shape == (0,)
    assert empty.dtype == np.dtype("S18")


@pytest.mark.parametrize("registration", ["9", "911", "9I", "9O", "9x", "9z", "", "٩1"])
def test_make_usccs_rejects_bad_registration(registration: str) -> None:
    with pytest.raises(ValueError, match="registration"):
        make_usccs(np.array([320102]), np.random.default_rng(0), registration=registration)


@pytest.mark.parametrize("region", [99_999, 1_000_000, -320102])
def test_make_usccs_rejects_bad_region(region: int) -> None:
    with pytest.raises(ValueError, match="region_codes"):
        make_usccs(np.array([region]), np.random.default_rng(0))


# --------------------------------------------------------------------------------------
# Arrow and decode helpers
# --------------------------------------------------------------------------------------


def test_ids_to_arrow_round_trip_zero_copy() -> None:
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(11)
    n = 5_000
    region = rng.integers(110_000, 830_000, size=n)
    births = np.datetime64("1950-01-01") + rng.integers(0, 25_000, size=n).astype("m8[D]")
    ids = make_resident_ids(region, births, rng.integers(1, 1000, size=n))
    arr = ids_to_arrow(ids)
    assert isinstance(arr, pa.StringArray)
    assert len(arr) == n
    arr.validate(full=True)
    assert arr.to_pylist() == decode(ids)
    # Zero copy: Arrow's data buffer is the NumPy memory itself.
    assert arr.buffers()[2].address == ids.ctypes.data
    usccs = make_usccs(region, rng)
    assert ids_to_arrow(usccs).to_pylist() == decode(usccs)


def test_ids_to_arrow_edges() -> None:
    pa = pytest.importorskip("pyarrow")
    empty = ids_to_arrow(np.array([], dtype="S18"))
    assert isinstance(empty, pa.StringArray)
    assert len(empty) == 0
    # A strided view is copied to contiguous memory first, and still round-trips.
    ids = np.array([b"AAAA", b"BBBB", b"CCCC"], dtype="S4")
    assert ids_to_arrow(ids[::2]).to_pylist() == ["AAAA", "CCCC"]
    with pytest.raises(ValueError, match="NUL"):
        ids_to_arrow(np.array([b"ABCD", b"AB"], dtype="S4"))
    with pytest.raises(ValueError, match="ASCII"):
        ids_to_arrow(np.array(["é".encode()], dtype="S2"))
    with pytest.raises(TypeError):
        ids_to_arrow(np.array(["ABCD"]))


def test_decode() -> None:
    assert decode(np.array([b"11010519491231002X"], dtype="S18")) == ["11010519491231002X"]
    assert decode(np.array([], dtype="S18")) == []
    assert decode(np.array(["abc"])) == ["abc"]
