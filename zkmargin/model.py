"""Reference margin model: the margin statement in plain integers.

This module is the specification the circuit is tested against (property tests compare
the circuit's accept/reject with :func:`evaluate`). It never touches the field: PnL may be
negative here, and the comparison is exact, in margin units of 1e-30 quote::

    equity      = sum_c bal_c * P_c * (10000 - haircut_c)  +  1e14 * sum_i pnl_i
    pnl_i       = ±size_i * (P_i - entry_i)        (withdrawal: min(0, ±size_i * (P_i - entry_i)))
    requirement = 1e10 * sum_i size_i * P_i * rate_i  (rate = MMR, or IMR to open or withdraw)
    solvent    <=> equity >= requirement

A withdrawal counts each position's loss in full and its unrealized profit not at all
(per position: one position's profit offsets no other's loss), so collateral can never be
withdrawn against a gain that the next move may take back.

Because the claim is compared with no division, nothing is rounded; only the human
display rounds against the trader (equity down, requirement up, to 1e-8 quote).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from zkmargin.amounts import format_fixed
from zkmargin.errors import InputError
from zkmargin.units import (
    ADDRESS_BITS,
    BALANCE_BITS,
    BPS_ONE,
    MARGIN_UNIT_DECIMALS,
    POSITION_SCALE,
    PRICE_BITS,
    PRICE_DECIMALS,
    REQUIREMENT_SCALE,
    SIZE_BITS,
    SNARK_SCALAR_FIELD,
    Balance,
    Bps,
    Price,
    Size,
)


class Mode(enum.Enum):
    """Which rate the requirement uses, and whether unrealized profit counts."""

    MAINTENANCE = "maintenance"  # MMR: keep an account open
    INITIAL = "initial"  # IMR, profit counts: open an account
    WITHDRAWAL = "withdrawal"  # IMR, no profit counts: withdraw collateral

    @property
    def initial_rate(self) -> bool:
        """The requirement uses IMR (opening and withdrawal), not MMR."""
        return self is not Mode.MAINTENANCE

    @property
    def counts_gain(self) -> bool:
        """Unrealized profit counts towards equity (every mode but a withdrawal)."""
        return self is not Mode.WITHDRAWAL


@dataclass(frozen=True)
class Position:
    market: str
    long: bool
    size: Size
    entry_price: Price


@dataclass(frozen=True)
class Account:
    """A trader's private account: everything the commitment hides."""

    address: int  # 160-bit EVM address
    salt: int  # blinding factor, 0 < salt < r
    collateral: Mapping[str, Balance]  # asset -> 1e-18 token units (public on-chain)
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class MarketParams:
    mmr_bps: Bps
    imr_bps: Bps

    def rate(self, mode: Mode) -> Bps:
        return self.imr_bps if mode.initial_rate else self.mmr_bps


@dataclass(frozen=True)
class CollateralParams:
    haircut_bps: Bps
    decimals: int  # token decimals, for refusing amounts finer than the token's unit
    # the market whose price feed also prices this asset (WETH -> ETH-USD), or None: the
    # asset then moves with that market in stress proofs and forecasts
    risk_factor: str | None = None


@dataclass(frozen=True)
class MarketData:
    """Public risk parameters and oracle prices (1e-8 quote)."""

    markets: Mapping[str, MarketParams]
    collateral: Mapping[str, CollateralParams]
    prices: Mapping[str, Price]


@dataclass(frozen=True)
class MarginReport:
    """The two sides of the claim, in margin units (1e-30 quote).

    ``pnl`` is the PnL the claim counts; ``withheld_gain`` the unrealized profit it does
    not (non-zero only in a withdrawal): ``pnl + withheld_gain`` is the account's PnL.
    """

    collateral_value: int
    pnl: int
    requirement: int
    withheld_gain: int = 0

    @property
    def equity(self) -> int:
        return self.collateral_value + self.pnl

    @property
    def solvent(self) -> bool:
        return self.equity >= self.requirement

    @property
    def excess(self) -> int:
        return self.equity - self.requirement

    def equity_display(self) -> str:
        """Equity in quote units, rounded down to 1e-8 (against the trader)."""
        return format_fixed(_floor_to_price_units(self.equity), PRICE_DECIMALS)

    def requirement_display(self) -> str:
        """Requirement in quote units, rounded up to 1e-8 (against the trader)."""
        return format_fixed(-_floor_to_price_units(-self.requirement), PRICE_DECIMALS)


def _floor_to_price_units(margin_units: int) -> int:
    return margin_units // int(10 ** (MARGIN_UNIT_DECIMALS - PRICE_DECIMALS))


def _where(i: int, pos: Position) -> str:
    return f"positions[{i}] ({pos.market})"


def check_names(account: Account, data: MarketData) -> None:
    """Every position's market and every collateral asset must be listed and priced.

    Files loaded with their market data already passed this; an :class:`Account` built in
    code may not have, and an unlisted market would otherwise surface as a ``KeyError``
    here or as a position parked in a rate-0 slot, which the circuit refuses.
    """
    for i, pos in enumerate(account.positions):
        if pos.market not in data.markets or pos.market not in data.prices:
            listed = ", ".join(data.markets) or "none"
            raise InputError(
                f"{_where(i, pos)}: market is not listed in the market data (listed: {listed})"
            )
    for asset in account.collateral:
        if asset not in data.collateral or asset not in data.prices:
            listed = ", ".join(data.collateral) or "none"
            raise InputError(
                f"collateral.{asset}: asset is not listed in the market data (listed: {listed})"
            )


def _check_bits(field: str, value: int, bits: int, *, positive: bool = False) -> None:
    low = 1 if positive else 0
    if not low <= value < 2**bits:
        raise InputError(f"{field}: {value} is out of range ({low} <= value < 2^{bits})")


def check_provable(account: Account, data: MarketData, mode: Mode, *, opening: bool) -> None:
    """Refuse, in one line naming the field, anything the circuit would reject on its own.

    Mirrors every ``assert``/``===`` of ``circuits/margin.circom`` and ``circuits/lib`` that
    a value from a user can reach, except the margin claim itself (:func:`evaluate`):
    ranges of prices, sizes, entries, balances, rates, haircuts, address and salt; a
    non-empty position only in a market with a non-zero rate (rate 0 marks an unused
    slot); in an opening proof, every non-empty position's entry equal to the oracle
    price; and no proof both opening and withdrawing (the circuit's flags exclude each
    other). Without this, the witness calculator fails with ``Assert Failed`` and a line
    number of the compiled template, which names neither the position nor the rule.
    """
    if opening and mode is Mode.WITHDRAWAL:
        raise InputError(
            "mode: a proof opens an account or withdraws from it, not both "
            f"(opening with mode {Mode.INITIAL.value!r}, withdrawing with "
            f"{Mode.WITHDRAWAL.value!r})"
        )
    check_names(account, data)
    _check_bits("account", account.address, ADDRESS_BITS)
    if not 0 < account.salt < SNARK_SCALAR_FIELD:
        raise InputError("salt: must satisfy 1 <= salt < r (the BN254 scalar field)")
    for asset, balance in account.collateral.items():
        _check_bits(f"collateral.{asset}", balance, BALANCE_BITS)
    for name, params in data.markets.items():
        for label, bps in (("mmr_bps", params.mmr_bps), ("imr_bps", params.imr_bps)):
            if not 0 <= bps <= BPS_ONE:
                raise InputError(f"markets.{name}.{label}: {bps} is outside 0..{BPS_ONE}")
    for name, coll in data.collateral.items():
        if not 0 <= coll.haircut_bps <= BPS_ONE:
            raise InputError(
                f"collateral.{name}.haircut_bps: {coll.haircut_bps} is outside 0..{BPS_ONE}"
            )
    for name, price in data.prices.items():
        _check_bits(f"prices.{name}", price, PRICE_BITS, positive=True)
    for i, pos in enumerate(account.positions):
        where = _where(i, pos)
        _check_bits(f"{where}.size", pos.size, SIZE_BITS)
        _check_bits(f"{where}.entry_price", pos.entry_price, PRICE_BITS)
        if pos.size == 0:
            continue  # an empty slot: the circuit ignores its market, rate and entry
        if data.markets[pos.market].rate(mode) == 0:
            raise InputError(
                f"{where}: the {mode.value} rate is 0 bps; a rate of 0 marks an unused "
                "slot, so a position cannot sit there"
            )
        price = data.prices[pos.market]
        if opening and pos.entry_price != price:
            raise InputError(
                f"{where}: an opening proof needs the entry price to equal the oracle "
                f"price ({format_fixed(pos.entry_price, PRICE_DECIMALS)} != "
                f"{format_fixed(price, PRICE_DECIMALS)})"
            )


def evaluate(account: Account, data: MarketData, mode: Mode) -> MarginReport:
    """Compute the margin claim exactly; unlisted names are an :class:`InputError`."""
    check_names(account, data)
    collateral_value = sum(
        balance * data.prices[asset] * (BPS_ONE - data.collateral[asset].haircut_bps)
        for asset, balance in account.collateral.items()
    )
    pnl = 0
    withheld = 0
    requirement = 0
    for pos in account.positions:
        price = data.prices[pos.market]
        move = price - pos.entry_price if pos.long else pos.entry_price - price
        position_pnl = POSITION_SCALE * pos.size * move
        if position_pnl > 0 and not mode.counts_gain:
            withheld += position_pnl
        else:
            pnl += position_pnl
        requirement += REQUIREMENT_SCALE * pos.size * price * data.markets[pos.market].rate(mode)
    return MarginReport(
        collateral_value=collateral_value,
        pnl=pnl,
        requirement=requirement,
        withheld_gain=withheld,
    )
