"""Integer units of the stress accounting and their decimal text.

Every amount the simulation decides on or sums is an integer: money in the model's margin
unit (1e-30 quote, exact for every product the model forms), price moves in millionths,
rates in basis points. Text is made only at the edge, for the JSON and Markdown reports:
JSON money is a decimal string rounded to the cent, never a float.
"""

from __future__ import annotations

from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.units import MARGIN_UNIT_DECIMALS

MARGIN_UNIT = 10**MARGIN_UNIT_DECIMALS  # margin units per quote unit (USD)
CENT = MARGIN_UNIT // 100
CLOSE_SCALE = 10**14  # AccountClosed pnl / badDebt are in 1e-16 quote: x 1e14 -> margin units
MICRO = 1_000_000  # price moves are searched and stated in millionths (1e-4 %)


def round_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, halves away from zero."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient = (abs(numerator) * 2 + denominator) // (2 * denominator)
    return -quotient if numerator < 0 else quotient


def cents(margin_units: int) -> int:
    return round_div(margin_units, CENT)


def usd(margin_units: int) -> str:
    """Margin units as a USD decimal string to the cent ("380", "-12.5"): JSON money."""
    return format_fixed(cents(margin_units), 2)


def usd_cents(text: str) -> int:
    """The cents of a :func:`usd` string (a report read back for rendering)."""
    negative = text.startswith("-")
    value = parse_fixed(text.removeprefix("-"), 2, field="usd amount", bits=256, positive=False)
    return -value if negative else value


def fixed(units: int, decimals: int, places: int, *, group: bool = False) -> str:
    """``units`` of ``10**-decimals`` rounded (halves away from zero) to ``places``
    decimals and padded to exactly that many; ``group``: thousands separators."""
    if places < decimals:
        units = round_div(units, 10 ** (decimals - places))
    else:
        units *= 10 ** (places - decimals)
    whole, frac = divmod(abs(units), 10**places)
    sign = "-" if units < 0 else ""
    head = f"{whole:,}" if group else str(whole)
    return sign + head + (f".{frac:0{places}d}" if places else "")


def usd_grouped(text: str, places: int = 2) -> str:
    """A :func:`usd` string as the Markdown shows money: "1,234.50"."""
    return fixed(usd_cents(text), 2, places, group=True)


def percent(micro: int) -> str:
    """A move in millionths as an exact percent string (47_500 -> "4.75")."""
    return format_fixed(micro, 4)


def bps_percent(bps: int) -> str:
    """Basis points as an exact percent string (500 -> "5", 1_050 -> "10.5")."""
    return format_fixed(bps, 2)


def minutes(seconds: int) -> str:
    """Whole minutes, rounded."""
    return str(round_div(seconds, 60))


def median_int(values: list[int]) -> int:
    """The median of integers, rounded down when it falls between two (0 when empty)."""
    ordered = sorted(values)
    if not ordered:
        return 0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2
