"""Stress proofs: a maintenance proof at shocked oracle prices, shareable and checkable.

``zkmargin prove ACCOUNT -m MARKETS --stress "ETH-USD=-30%,BTC-USD=-25%"`` proves, without
revealing positions, that the account still meets maintenance margin if every named
market's price moves by its shock at once. The statement is the ordinary ``MarginProof``
maintenance statement (no new circuit); only its prices are the shocked ones.

Shock semantics (``StressCheck.stressInputs`` computes the same integers):

* a shock is given per market, in percent with at most two decimals (1 bp), greater
  than -100% and at most +327.67% (the engine takes ``int16`` basis points);
* shocked price = floor(price x (10000 + bps) / 10000), in 1e-8 quote units;
* it applies to the market's price and to every collateral asset priced by the same
  feed (``risk_factor`` in the market file: WETH moves with ETH-USD); a market left out
  of the spec, collateral on its own feed and unused slots keep their price.

The proof file records the shocks and, per price slot, the base price and the market it
moves with (:class:`StressInfo`); :func:`check_stress` recomputes every shocked price
from them and refuses a file whose signals say otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.encoding import Statement
from zkmargin.errors import InputError
from zkmargin.model import MarketData
from zkmargin.units import BPS_ONE, PRICE_BITS, PRICE_DECIMALS, Price

MIN_SHOCK_BPS = -(BPS_ONE - 1)  # -99.99%: a price never falls to zero
MAX_SHOCK_BPS = 2**15 - 1  # +327.67%: int16 basis points at the engine
_PERCENT = re.compile(r"^([+-]?)(\d+)(?:\.(\d+))?%$")


def shocked_price(price: int, bps: int) -> int:
    """floor(price x (10000 + bps) / 10000): the one rounding rule (down) of a shock."""
    return price * (BPS_ONE + bps) // BPS_ONE


def percent_text(bps: int) -> str:
    """-3000 -> ``-30%``, 125 -> ``+1.25%``."""
    sign = "-" if bps < 0 else "+"
    return f"{sign}{format_fixed(abs(bps), 2)}%"


def parse_shock(text: str, name: str) -> int:
    """``-30%`` -> -3000 basis points; one-line InputError otherwise."""
    where = f"--stress: {name}={text}"
    match = _PERCENT.match(text)
    if match is None and _PERCENT.match(text + "%"):
        raise InputError(f"{where}: expected a percentage such as -30% (the % is missing)")
    if match is None:
        raise InputError(f"{where}: expected a percentage such as -30% or +12.5%")
    sign, whole, frac = match.groups()
    frac = frac or ""
    if len(frac) > 2 and frac[2:].strip("0"):
        raise InputError(f"{where}: finer than 1 bp (0.01%); shocks are whole basis points")
    bps = int(whole) * 100 + int((frac + "00")[:2])
    bps = -bps if sign == "-" else bps
    if bps < MIN_SHOCK_BPS:
        raise InputError(f"{where}: a shock must be greater than -100% (a price stays positive)")
    if bps > MAX_SHOCK_BPS:
        raise InputError(f"{where}: at most +327.67% (the engine takes int16 basis points)")
    return bps


@dataclass(frozen=True)
class StressSpec:
    """Shocks in basis points, per market name (markets not named: 0)."""

    shocks: Mapping[str, int]

    def shock_of(self, market: str | None) -> int:
        return self.shocks.get(market, 0) if market else 0

    def text(self) -> str:
        return ", ".join(f"{n} {percent_text(b)}" for n, b in self.shocks.items())


def parse_stress(spec: str, data: MarketData) -> StressSpec:
    """``"ETH-USD=-30%,BTC-USD=-25%"`` against the market file's markets."""
    items = [item.strip() for item in spec.split(",")]
    if not spec.strip() or any(not item for item in items):
        raise InputError(f"--stress {spec!r}: expected MARKET=PCT[,MARKET=PCT...]")
    shocks: dict[str, int] = {}
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name or not value.strip():
            raise InputError(f"--stress: {item!r}: expected MARKET=PCT, e.g. ETH-USD=-30%")
        if name not in data.markets:
            if name in data.collateral:
                raise InputError(
                    f"--stress: {name} is a collateral asset; shock the market whose feed "
                    "prices it (collateral on that feed moves with it)"
                )
            raise InputError(
                f"--stress: unknown market {name!r} (markets: {', '.join(data.markets)})"
            )
        if name in shocks:
            raise InputError(f"--stress: {name} is shocked twice")
        shocks[name] = parse_shock(value.strip(), name)
    return StressSpec(shocks)


def moves_with(data: MarketData, name: str) -> str | None:
    """The market whose shock applies to price slot ``name`` (itself for a market)."""
    if name in data.markets:
        return name
    params = data.collateral.get(name)
    return params.risk_factor if params is not None else None


def apply_stress(spec: StressSpec, data: MarketData) -> MarketData:
    """``data`` with every price shocked; a shocked price outside 1 .. 2^64 - 1 is refused."""
    prices: dict[str, Price] = {}
    for name, price in data.prices.items():
        bps = spec.shock_of(moves_with(data, name))
        new = shocked_price(price, bps)
        if not 0 < new < 2**PRICE_BITS:
            raise InputError(
                f"--stress: {name}: {format_fixed(price, PRICE_DECIMALS)} shocked by "
                f"{percent_text(bps)} is {format_fixed(new, PRICE_DECIMALS)}, not a valid "
                "price (1e-8 .. 2^64 - 1 units)"
            )
        prices[name] = Price(new)
    return replace(data, prices=prices)


def stressed_market_json(raw: Mapping[str, Any], stressed: MarketData) -> dict[str, Any]:
    """The market file's JSON with the shocked prices (for ``zkmargin serve``)."""
    prices = {n: format_fixed(p, PRICE_DECIMALS) for n, p in stressed.prices.items()}
    return {**raw, "prices": prices}


@dataclass(frozen=True)
class StressSlot:
    """One price slot of a stress statement: what it was before the shock."""

    name: str | None  # None: an unused slot
    moves_with: str | None  # the market whose shock applies (None: no shock)
    base_price: int


@dataclass(frozen=True)
class StressInfo:
    """What the proof file records about a stress statement (public, no position)."""

    shocks: Mapping[str, int]
    slots: tuple[StressSlot, ...]

    @classmethod
    def of(cls, spec: StressSpec, base: MarketData, statement: Statement) -> StressInfo:
        names = (*statement.market_names, *statement.collateral_names)
        slots = tuple(
            StressSlot(n, moves_with(base, n), base.prices[n])
            if n is not None
            else StressSlot(None, None, price)
            for n, price in zip(names, statement.prices, strict=True)
        )
        return cls(dict(spec.shocks), slots)

    def shocked(self) -> list[int]:
        return [
            shocked_price(s.base_price, self.shocks.get(s.moves_with or "", 0)) for s in self.slots
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "shocks_bps": dict(self.shocks),
            "slots": [
                {
                    "name": s.name,
                    "moves_with": s.moves_with,
                    "base_price": format_fixed(s.base_price, PRICE_DECIMALS),
                }
                for s in self.slots
            ],
        }

    @classmethod
    def from_json(cls, raw: Any, what: str) -> StressInfo:
        field = f"{what}: stress"
        if not isinstance(raw, dict) or set(raw) != {"shocks_bps", "slots"}:
            raise InputError(f"{field}: expected an object with shocks_bps and slots")
        shocks = raw["shocks_bps"]
        if not isinstance(shocks, dict) or not shocks:
            raise InputError(f"{field}.shocks_bps: expected a non-empty object")
        for name, bps in shocks.items():
            if type(bps) is not int or not MIN_SHOCK_BPS <= bps <= MAX_SHOCK_BPS:
                raise InputError(
                    f"{field}.shocks_bps.{name}: expected whole bps in "
                    f"{MIN_SHOCK_BPS}..{MAX_SHOCK_BPS}, got {bps!r}"
                )
        slots_raw = raw["slots"]
        if not isinstance(slots_raw, list):
            raise InputError(f"{field}.slots: expected a list")
        slots = []
        for j, s in enumerate(slots_raw):
            where = f"{field}.slots[{j}]"
            if not isinstance(s, dict) or set(s) != {"name", "moves_with", "base_price"}:
                raise InputError(f"{where}: expected name, moves_with and base_price")
            for key in ("name", "moves_with"):
                if s[key] is not None and not isinstance(s[key], str):
                    raise InputError(f"{where}.{key}: expected a name or null")
            base = parse_fixed(
                s["base_price"],
                PRICE_DECIMALS,
                field=f"{where}.base_price",
                bits=PRICE_BITS,
                positive=True,
            )
            slots.append(StressSlot(s["name"], s["moves_with"], base))
        return cls(dict(shocks), tuple(slots))

    def describe(self) -> str:
        """One line: the shocks, then each shocked slot's price before and after."""
        shocks = ", ".join(f"{n} {percent_text(b)} ({b} bps)" for n, b in self.shocks.items())
        moved = [
            f"{s.name} {format_fixed(s.base_price, PRICE_DECIMALS)} -> "
            f"{format_fixed(p, PRICE_DECIMALS)}"
            + (f" (with {s.moves_with})" if s.moves_with != s.name else "")
            for s, p in zip(self.slots, self.shocked(), strict=True)
            if s.name is not None and s.moves_with in self.shocks
        ]
        return f"stress: {shocks}; shocked prices: {', '.join(moved)}"


def check_stress(info: StressInfo, statement: Statement, mode_label: str, what: str) -> None:
    """Refuse (InputError naming the field) unless the signals are exactly the maintenance
    statement at the prices the recorded shocks give from the recorded base prices."""
    if mode_label != "maintenance" or statement.opening or statement.withdrawal:
        raise InputError(f"{what}: stress: a stress proof is a maintenance statement")
    if len(info.slots) != len(statement.prices):
        raise InputError(
            f"{what}: stress.slots: {len(info.slots)} slots, the statement has "
            f"{len(statement.prices)} prices"
        )
    k = len(statement.rates)
    for j, (slot, want, got) in enumerate(
        zip(info.slots, info.shocked(), statement.prices, strict=True)
    ):
        if j < k and slot.name is not None and slot.moves_with != slot.name:
            raise InputError(f"{what}: stress.slots[{j}]: a market moves with its own shock")
        if want != got:
            raise InputError(
                f"{what}: stress.slots[{j}] ({slot.name or 'unused'}): the shock gives "
                f"{format_fixed(want, PRICE_DECIMALS)}, the public signals say "
                f"{format_fixed(got, PRICE_DECIMALS)} (the stress block was altered)"
            )
    applied = {s.moves_with for s in info.slots}
    for name in info.shocks:
        if name not in applied:
            raise InputError(f"{what}: stress.shocks_bps.{name}: no price slot moves with it")


def engine_shocks(info: StressInfo, market_ids: Sequence[str]) -> list[int]:
    """The engine's ``shockBps`` argument: one shock per listed market id."""
    unknown = sorted(set(info.shocks) - set(market_ids))
    if unknown:
        raise InputError(f"stress: market {unknown[0]!r} is not listed at the engine")
    return [info.shocks.get(name, 0) for name in market_ids]


__all__ = [
    "StressInfo",
    "StressSlot",
    "StressSpec",
    "apply_stress",
    "check_stress",
    "engine_shocks",
    "parse_stress",
    "shocked_price",
]
