"""Exact decimal-string <-> fixed-point conversion (zkmargin.amounts).

Amounts and prices are decimal strings converted exactly; everything else is an
InputError that names the field.
"""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from zkmargin.amounts import format_fixed, parse_fixed, parse_uint
from zkmargin.errors import InputError
from zkmargin.units import SNARK_SCALAR_FIELD as R

FIELD = "positions[0].size"
MAX64 = 2**64 - 1
# 2**64 - 1 units of 1e-8
MAX64_AS_8_DECIMALS = "184467440737.09551615"
TWO64_AS_8_DECIMALS = "184467440737.09551616"


def fixed(value: object, decimals: int = 8, *, bits: int = 64, positive: bool = False) -> int:
    return parse_fixed(value, decimals, field=FIELD, bits=bits, positive=positive)


def refused(value: object, decimals: int = 8, *, bits: int = 64, positive: bool = False) -> str:
    with pytest.raises(InputError) as info:
        fixed(value, decimals, bits=bits, positive=positive)
    message = str(info.value)
    assert message.startswith(FIELD + ":"), message
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- parse_fixed: accepted


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("0", 0),
        ("1", 10**8),
        ("0.00000001", 1),
        ("0.5", 50_000_000),
        ("0.50", 50_000_000),
        ("1900", 1900 * 10**8),
        ("1900.5", 190_050_000_000),
        ("12.34567891", 1_234_567_891),
        (MAX64_AS_8_DECIMALS, MAX64),
        # trailing zeros beyond the unit's decimals are exact, so accepted
        ("1.000000000", 10**8),
        ("1.00000000000000000000000000", 10**8),
        ("0.000000010", 1),
        ("0." + "0" * 200, 0),
    ],
)
def test_parse_fixed_accepts_exact_values(text: str, units: int) -> None:
    assert fixed(text) == units


def test_parse_fixed_zero_decimals() -> None:
    assert fixed("5", 0) == 5
    assert fixed("5.000", 0) == 5
    assert "more than 0 decimals" in refused("5.1", 0)


def test_parse_fixed_eighteen_decimals() -> None:
    assert fixed("0.000000000000000001", 18, bits=96) == 1
    assert fixed("1", 18, bits=96) == 10**18
    refused("0.0000000000000000001", 18, bits=96)


# ---------------------------------------------------------------- parse_fixed: refused


def test_parse_fixed_range_bounds() -> None:
    assert fixed(MAX64_AS_8_DECIMALS) == MAX64
    message = refused(TWO64_AS_8_DECIMALS)
    assert "out of range" in message and "2^64" in message
    refused("184467440738")  # whole number just above the bound
    refused("9" * 40)


def test_parse_fixed_positive_refuses_zero() -> None:
    assert "greater than zero" in refused("0", positive=True)
    assert "greater than zero" in refused("0.000000000", positive=True)
    assert fixed("0.00000001", positive=True) == 1


def test_parse_fixed_nine_significant_decimals_refused() -> None:
    message = refused("1.000000001")
    assert "more than 8 decimals" in message
    refused("0.000000001")
    refused("0.0000000010")
    refused("1.123456789")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-1",
        "-0",
        "+1",
        "1e3",
        "1E3",
        "1e-3",
        "1.5e2",
        " 1",
        "1 ",
        "1\n",
        "\t1",
        "01",
        "00",
        "00.5",
        "1.",
        "0.",
        ".5",
        ".",
        "1..5",
        "1.2.3",
        "1,5",
        "1_000",
        "0x10",
        "0b1",
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "1/2",
        "١",  # ARABIC-INDIC DIGIT ONE
        "١٢٣",
        "１",  # FULLWIDTH DIGIT ONE
        "²",  # SUPERSCRIPT TWO (str.isdigit() is True)
        "𝟏",  # MATHEMATICAL BOLD DIGIT ONE
        "1\u00a0",  # no-break space
        "\u200b1",  # zero-width space
        "1\x00",
    ],
)
def test_parse_fixed_refuses_non_plain_decimals(text: str) -> None:
    message = refused(text)
    assert "not a plain decimal number" in message


@pytest.mark.parametrize(
    "value",
    [1, 0, 1.0, 0.5, float("nan"), float("inf"), True, False, None, [], {}, ["1"], b"1"],
    ids=repr,
)
def test_parse_fixed_refuses_json_non_strings(value: object) -> None:
    message = refused(value)
    assert "expected a decimal string" in message
    assert type(value).__name__ in message


def test_parse_fixed_refuses_decimal_objects() -> None:
    assert "expected a decimal string" in refused(Decimal("1.5"))


def test_parse_fixed_refuses_big_json_int() -> None:
    # a JSON number above 2**53 arrives as a Python int: refused, never converted
    message = refused(2**53 + 1)
    assert "got int" in message


def test_parse_fixed_huge_strings_are_input_errors() -> None:
    """A 5000-digit amount must be an InputError, not CPython's int-digits ValueError.

    Bug (zkmargin/amounts.py parse_fixed): ``int(whole)`` raises a plain ValueError
    ("Exceeds the limit (4300 digits) ...") that is not an InputError, so the CLI reports an
    internal error (exit 70) instead of one line naming the field.
    """
    refused("9" * 2000)  # below CPython's digit limit: a range error
    refused("1" * 5000)
    refused("1" * 5000 + ".5")
    refused("1." + "5" * 5000)  # too many decimals: refused before any int()
    assert fixed("1." + "0" * 100_000) == 10**8  # zeros only: exact


def test_parse_fixed_message_shows_value_and_is_one_line() -> None:
    message = refused("1e3")
    assert "'1e3'" in message
    assert message.count("\n") == 0


# ---------------------------------------------------------------- parse_uint


def uint(value: object, bits: int = 64, positive: bool = False) -> int:
    return parse_uint(value, field="salt", bits=bits, positive=positive)


def uint_refused(value: object, bits: int = 64, positive: bool = False) -> str:
    with pytest.raises(InputError) as info:
        uint(value, bits, positive)
    message = str(info.value)
    assert message.startswith("salt:"), message
    return message


def test_parse_uint_accepts() -> None:
    assert uint("0") == 0
    assert uint("1") == 1
    assert uint(str(MAX64)) == MAX64
    assert uint(str(2**254 - 1), bits=254) == 2**254 - 1


@pytest.mark.parametrize(
    "value",
    ["", "-1", "+1", "01", "1.0", "1.", "1e3", " 1", "1 ", "0x1", "١", "²", 1, True, None, 1.0],
    ids=repr,
)
def test_parse_uint_refuses(value: object) -> None:
    assert "expected a decimal integer string" in uint_refused(value)


def test_parse_uint_range() -> None:
    assert "out of range" in uint_refused(str(2**64))
    assert "greater than zero" in uint_refused("0", positive=True)
    assert uint("1", positive=True) == 1


@pytest.mark.parametrize(
    "value",
    [2**64, 2**253, R - 2, R - 1, R, R + 1, 2**254],
    ids=["2^64", "2^253", "r-2", "r-1", "r", "r+1", "2^254"],
)
def test_field_sized_values_out_of_range(value: int) -> None:
    """Values near the field modulus never wrap: they are out of a 64-bit range."""
    assert "out of range" in uint_refused(str(value))
    assert "out of range" in refused(str(value))  # as whole units of an amount
    assert "out of range" in refused(str(value) + ".5")


def test_parse_uint_huge_string_is_input_error() -> None:
    """Bug (zkmargin/amounts.py parse_uint): ``int(value)`` of >4300 digits raises ValueError."""
    uint_refused("7" * 5000, bits=254)


# ---------------------------------------------------------------- format_fixed


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (0, 8, "0"),
        (1, 8, "0.00000001"),
        (10**8, 8, "1"),
        (150_000_000, 8, "1.5"),
        (190_050_000_000, 8, "1900.5"),
        (MAX64, 8, MAX64_AS_8_DECIMALS),
        (-1, 8, "-0.00000001"),
        (-(10**8), 8, "-1"),
        (-150_000_000, 8, "-1.5"),
        (5, 0, "5"),
        (0, 0, "0"),
        (-5, 0, "-5"),
        (10**18, 18, "1"),
        (10**12, 18, "0.000001"),
        (1000, 2, "10"),
    ],
)
def test_format_fixed(units: int, decimals: int, text: str) -> None:
    assert format_fixed(units, decimals) == text


# ---------------------------------------------------------------- properties


def canonical(text: str) -> str:
    """The plain decimal form of ``text``: no trailing fractional zeros, no trailing dot."""
    with localcontext() as ctx:
        ctx.prec = 64  # normalize() rounds to the context's precision (28 by default)
        return format(Decimal(text).normalize(), "f")


@st.composite
def decimal_strings(draw: st.DrawFn) -> tuple[str, int]:
    decimals = draw(st.integers(0, 18))
    whole = draw(st.integers(0, 10**12))
    frac = draw(st.text("0123456789", max_size=decimals))
    zeros = draw(st.integers(0, 5))
    text = str(whole)
    if frac or zeros:
        text += "." + frac + "0" * zeros
    return text, decimals


@given(decimal_strings())
@example(("10000000000.000000000000000001", 18))  # 31 significant digits
def test_round_trip_to_canonical(case: tuple[str, int]) -> None:
    text, decimals = case
    bits = 128
    units = parse_fixed(text, decimals, field="x", bits=bits, positive=False)
    # the oracle itself must not round: 13 whole + 18 fractional digits exceed Decimal's
    # default 28-digit context (hypothesis found 10000000000.000000000000000001)
    with localcontext() as ctx:
        ctx.prec = 64
        assert Decimal(units) == Decimal(text).scaleb(decimals)  # exact, no rounding
    assert format_fixed(units, decimals) == canonical(text)


@given(st.integers(0, 2**64 - 1), st.integers(0, 18))
def test_parse_inverts_format(units: int, decimals: int) -> None:
    text = format_fixed(units, decimals)
    assert parse_fixed(text, decimals, field="x", bits=64, positive=False) == units


@given(st.integers(-(2**70), 2**70), st.integers(0, 18))
def test_format_fixed_is_exact(units: int, decimals: int) -> None:
    assert Decimal(format_fixed(units, decimals)) == Decimal(units).scaleb(-decimals)


@given(st.text(max_size=30))
def test_parse_fixed_only_raises_input_error(text: str) -> None:
    try:
        units = parse_fixed(text, 8, field="f", bits=64, positive=False)
    except InputError as exc:
        assert str(exc).startswith("f: ")
    else:
        assert 0 <= units < 2**64
        assert format_fixed(units, 8) == canonical(text)
