"""Reference margin model: the margin statement in plain integers.

This module is the specification the circuit is tested against (property tests compare
the circuit's accept/reject with :func:`evaluate`). It never touches the field: PnL may be
negative here, and the comparison is exact, in margin units of 1e-30 quote::

    equity      = sum_c bal_c * P_c * (10000 - haircut_c)  +  1e14 * sum_i ±size_i * (P_i - entry_i)
    requirement = 1e10 * sum_i size_i * P_i * rate_i          (rate = MMR, or IMR when opening)
    solvent    <=> equity >= requirement

Because the claim is compared with no division, nothing is rounded; only the human
display rounds against the trader (equity down, requirement up, to 1e-8 quote).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from zkmargin.amounts import format_fixed
from zkmargin.units import (
    BPS_ONE,
    MARGIN_UNIT_DECIMALS,
    POSITION_SCALE,
    PRICE_DECIMALS,
    REQUIREMENT_SCALE,
    Balance,
    Bps,
    Price,
    Size,
)


class Mode(enum.Enum):
    """Which rate the requirement uses."""

    MAINTENANCE = "maintenance"  # MMR: keep an account open
    INITIAL = "initial"  # IMR: open an account or withdraw collateral


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
        return self.imr_bps if mode is Mode.INITIAL else self.mmr_bps


@dataclass(frozen=True)
class CollateralParams:
    haircut_bps: Bps
    decimals: int  # token decimals, for refusing amounts finer than the token's unit


@dataclass(frozen=True)
class MarketData:
    """Public risk parameters and oracle prices (1e-8 quote)."""

    markets: Mapping[str, MarketParams]
    collateral: Mapping[str, CollateralParams]
    prices: Mapping[str, Price]


@dataclass(frozen=True)
class MarginReport:
    """The two sides of the claim, in margin units (1e-30 quote)."""

    collateral_value: int
    pnl: int
    requirement: int

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


def evaluate(account: Account, data: MarketData, mode: Mode) -> MarginReport:
    """Compute the margin claim exactly. Names must already be validated."""
    collateral_value = sum(
        balance * data.prices[asset] * (BPS_ONE - data.collateral[asset].haircut_bps)
        for asset, balance in account.collateral.items()
    )
    pnl = 0
    requirement = 0
    for pos in account.positions:
        price = data.prices[pos.market]
        move = price - pos.entry_price if pos.long else pos.entry_price - price
        pnl += POSITION_SCALE * pos.size * move
        requirement += REQUIREMENT_SCALE * pos.size * price * data.markets[pos.market].rate(mode)
    return MarginReport(collateral_value=collateral_value, pnl=pnl, requirement=requirement)
