"""Accounts valued by the exact integer model at given feed prices (margin units).

Market parameters come from the deployment spec through ``SystemSpec.market_data`` (the
one builder the engine client uses too), so the simulation cannot drift from the engine's
listings; this module only adds what the stress accounting needs on top: the raw
(no-haircut) value that a close or a liquidation realises, and token amounts in value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from chain.deploy import SystemSpec
from zkmargin.model import Account, MarginReport, Mode, Position, evaluate
from zkmargin.units import BALANCE_DECIMALS, BPS_ONE, Balance

BASE_PRICES: dict[str, int] = {  # feed -> 1e-8 quote; DEFAULT_SPEC's first answers
    "ETH/USD": 2_000 * 10**8,
    "BTC/USD": 60_000 * 10**8,
    "USDC/USD": 1 * 10**8,
}


def price_at(feed: str, multiplier: Fraction) -> int:
    """The feed's base price times ``multiplier``, truncated to 1e-8 (at least 1)."""
    return max(1, int(BASE_PRICES[feed] * multiplier))


def normalised(balances: Mapping[str, int], spec: SystemSpec) -> dict[str, Balance]:
    """Token base units -> the model's 1e-18 token units."""
    decimals = {a.name: a.decimals for a in spec.assets}
    return {
        name: Balance(amount * 10 ** (BALANCE_DECIMALS - decimals[name]))
        for name, amount in balances.items()
    }


@dataclass(frozen=True)
class Valuation:
    """An account at some prices, in margin units (1e-30 quote)."""

    maintenance: MarginReport  # with haircuts: what a proof claims
    raw: MarginReport  # no haircut: what the collateral is worth (close, bad debt)

    @property
    def solvent(self) -> bool:
        return self.maintenance.solvent

    @property
    def raw_equity(self) -> int:
        return self.raw.equity


def valuation(
    positions: Sequence[Position],
    balances: Mapping[str, int],
    prices: Mapping[str, int],
    spec: SystemSpec,
) -> Valuation:
    """Value positions and token balances at ``prices`` (feed -> 1e-8 quote)."""
    account = Account(0, 1, normalised(balances, spec), tuple(positions))
    return Valuation(
        evaluate(account, spec.market_data(prices), Mode.MAINTENANCE),
        evaluate(account, spec.market_data(prices, haircuts=False), Mode.MAINTENANCE),
    )


def asset_value(amounts: Mapping[str, int], prices: Mapping[str, int], spec: SystemSpec) -> int:
    """Raw value of token amounts (base units) in margin units."""
    feeds = {a.name: a.feed for a in spec.assets}
    return sum(b * prices[feeds[n]] * BPS_ONE for n, b in normalised(amounts, spec).items())
