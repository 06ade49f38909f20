"""Exact conversion of decimal strings to fixed-point integers.

Amounts arrive as JSON strings such as ``"1900.5"``; floats, exponents, signs and
anything with more fractional digits than the unit allows are refused, never rounded.
"""

from __future__ import annotations

import re

from zkmargin.errors import InputError

_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_INTEGER = re.compile(r"0|[1-9][0-9]*")
MAX_DIGITS = 80  # far above any in-range value (2^254 has 77 digits); bounds int() work


def shorten(value: object, limit: int = 40) -> str:
    """``repr`` of a user value, cut to ``limit`` characters for one-line messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_fixed(value: object, decimals: int, *, field: str, bits: int, positive: bool) -> int:
    """Convert a decimal string to an integer count of ``10**-decimals`` units.

    Raises :class:`InputError` naming ``field`` unless ``value`` is a plain decimal string
    (no sign, exponent, spaces or leading zeros) that converts exactly and lies in
    ``[1 if positive else 0, 2**bits)``.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        kind = type(value).__name__
        raise InputError(f'{field}: expected a decimal string such as "12.5", got {kind}')
    match = _DECIMAL.fullmatch(value)
    if match is None:
        raise InputError(
            f"{field}: {shorten(value)} is not a plain decimal number "
            "(digits with an optional fraction; no sign, exponent or spaces)"
        )
    whole, frac = match.group(1), match.group(2) or ""
    if len(whole) > MAX_DIGITS:  # out of any range; also keeps int() away from huge strings
        raise InputError(f"{field}: {shorten(value)} is out of range ({len(whole)} digits)")
    if len(frac) > decimals:
        significant = frac.rstrip("0")
        if len(significant) > decimals:
            raise InputError(
                f"{field}: {value} has more than {decimals} decimals and cannot be "
                "represented exactly"
            )
        frac = significant
    units = int(whole) * 10**decimals + (int(frac.ljust(decimals, "0")) if decimals else 0)
    return check_range(units, field=field, bits=bits, positive=positive, shown=value)


def parse_uint(value: object, *, field: str, bits: int, positive: bool = False) -> int:
    """A non-negative integer given as a decimal string (e.g. a salt)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, str)
        or len(value) > MAX_DIGITS
        or not _INTEGER.fullmatch(value)
    ):
        raise InputError(f"{field}: expected a decimal integer string, got {shorten(value)}")
    return check_range(int(value), field=field, bits=bits, positive=positive, shown=value)


def check_range(units: int, *, field: str, bits: int, positive: bool, shown: object) -> int:
    if positive and units == 0:
        raise InputError(f"{field}: must be greater than zero, got {shown}")
    if units >= 2**bits:
        raise InputError(f"{field}: {shown} is out of range (the circuit allows < 2^{bits} units)")
    return units


def format_fixed(units: int, decimals: int) -> str:
    """Render ``units`` of ``10**-decimals`` as a decimal string (exact, sign kept)."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), 10**decimals)
    text = f"{whole}.{frac:0{decimals}d}".rstrip("0") if decimals else str(whole)
    if text.endswith("."):
        text = text[:-1]
    return sign + text
