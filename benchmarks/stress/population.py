"""The seeded random population: cross portfolios, their traders' behaviour and keys.

Amounts are exact: each uniform draw is the generator's 53 random bits taken as a
``Fraction`` (``random()`` returns a multiple of 2**-53, so the conversion loses nothing),
and sizes, deposits and reserves are rounded once, to the token's or the size's unit, with
integer arithmetic. The draws are taken in the same order as the original float version,
so a seed still names the same population.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import Enum
from fractions import Fraction

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount

from benchmarks.stress.timing import STEP
from benchmarks.stress.valuation import BASE_PRICES
from chain.deploy import DEFAULT_SPEC, SystemSpec
from chain.signers import Signer
from zkmargin.model import Position
from zkmargin.units import BPS_ONE, PRICE_DECIMALS, SIZE_DECIMALS, Price, Size

NOTIONAL_LOW, NOTIONAL_HIGH = 5_000, 150_000  # USD, drawn log-uniformly
TIERS: tuple[tuple[str, Fraction, Fraction, Fraction], ...] = (  # name, P(draw <), buffer range
    ("tight", Fraction(35, 100), Fraction(103, 100), Fraction(125, 100)),
    ("medium", Fraction(75, 100), Fraction(125, 100), Fraction(5, 2)),
    ("safe", Fraction(1), Fraction(5, 2), Fraction(6)),
)
SIZE_DIGITS = {"ETH-USD": 6, "BTC-USD": 7}  # sizes are drawn to 1e-6 ETH, 1e-7 BTC
FAST_REACTIONS = (30, 60, 120, 240, 420)  # seconds; 85% of traders
SLOW_REACTIONS = (900, 1500)


class Style(Enum):
    """What a trader does when its prover refuses (insufficient margin)."""

    DEFENDER = "defender"  # tops up USDC from its wallet reserve, then proves
    CLOSER = "closer"  # closes the account while the engine lets it (not liquidatable)
    PASSIVE = "passive"  # waits (and retries) until it can prove or is liquidated


@dataclass(frozen=True)
class Portfolio:
    """A trader's positions (entry price set at opening), deposits and behaviour."""

    index: int
    positions: tuple[Position, ...]
    deposits: Mapping[str, int]  # asset -> token base units deposited before opening
    style: Style
    reaction: int  # seconds from a flagged shock to the trader's proof attempt
    reserve: int  # USDC base units kept in the wallet for top-ups (defenders)
    tier: str  # "tight", "medium", "safe": buffer over IMR at opening

    @property
    def diligent(self) -> bool:
        """Reacts within the grace period (600 s) with room for a step."""
        return self.reaction + STEP < DEFAULT_SPEC.grace_period


def uniform(
    rng: random.Random, low: Fraction = Fraction(0), high: Fraction = Fraction(1)
) -> Fraction:
    """A uniform draw in [low, high), exact (see the module docstring)."""
    return low + (high - low) * Fraction(rng.random())


def log_uniform(rng: random.Random, low: int, high: int) -> Fraction:
    """A log-uniform draw in [low, high): low * (high / low) ** u, to 40 digits."""
    u = uniform(rng)
    with localcontext() as ctx:
        ctx.prec = 40
        value = Decimal(low) * (Decimal(high) / Decimal(low)) ** (
            Decimal(u.numerator) / Decimal(u.denominator)
        )
    return Fraction(value)


def size_of(units: Fraction, digits: int) -> Size:
    """``units`` of the base asset rounded to ``digits`` decimals (at least one step)."""
    step = 10 ** (SIZE_DECIMALS - digits)
    return Size(max(1, round(units * 10**digits)) * step)


def make_portfolios(count: int, seed: int, spec: SystemSpec = DEFAULT_SPEC) -> list[Portfolio]:
    """``count`` random cross portfolios; the same seed gives the same list."""
    rng = random.Random(seed)  # noqa: S311 -- a reproducible simulation, not a key
    return [_portfolio(rng, index, spec) for index in range(count)]


def _portfolio(rng: random.Random, index: int, spec: SystemSpec) -> Portfolio:
    imr = {m.name: m.imr_bps for m in spec.markets}
    feed_of = {m.name: m.feed for m in spec.markets}
    weth_haircut = next(a.haircut_bps for a in spec.assets if a.name == "WETH")
    legs = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        market = "ETH-USD" if uniform(rng) < Fraction(3, 5) else "BTC-USD"
        legs.append((market, uniform(rng) < Fraction(3, 5), uniform(rng, Fraction(1, 5))))
    notional = log_uniform(rng, NOTIONAL_LOW, NOTIONAL_HIGH)  # USD
    weights = sum(w for _, _, w in legs)
    positions = []
    requirement = Fraction(0)  # USD at IMR
    for market, long, weight in legs:
        price = Fraction(BASE_PRICES[feed_of[market]], 10**PRICE_DECIMALS)  # USD
        size = size_of(notional * weight / weights / price, SIZE_DIGITS[market])
        positions.append(Position(market, long, size, Price(1)))
        requirement += Fraction(size, 10**SIZE_DECIMALS) * price * Fraction(imr[market], BPS_ONE)
    draw = uniform(rng)
    tier, low, high = next((n, lo, hi) for n, below, lo, hi in TIERS if draw < below)
    target = requirement * uniform(rng, low, high)  # haircut value of the collateral, USD
    mix = uniform(rng)
    weth_share = (
        Fraction(0)
        if mix < Fraction(45, 100)
        else uniform(rng, Fraction(1, 5), Fraction(4, 5))
        if mix < Fraction(4, 5)
        else Fraction(1)
    )
    eth = Fraction(BASE_PRICES["ETH/USD"], 10**PRICE_DECIMALS)
    weth_value = eth * (1 - Fraction(weth_haircut, BPS_ONE))  # USD per WETH after haircut
    deposits = {
        "USDC": math.ceil((1 - weth_share) * target * 100) * 10**4,  # whole cents
        "WETH": math.ceil(weth_share * target / weth_value * 10**6) * 10**12,  # 1e-6 WETH
    }
    style = rng.choices(list(Style), weights=(25, 35, 40))[0]
    reaction = (
        rng.choice(FAST_REACTIONS)
        if uniform(rng) < Fraction(85, 100)
        else rng.choice(SLOW_REACTIONS)
    )
    reserve = math.ceil(target / 2) * 10**6 if style is Style.DEFENDER else 0
    return Portfolio(
        index=index,
        positions=tuple(positions),
        deposits={k: v for k, v in deposits.items() if v},
        style=style,
        reaction=reaction,
        reserve=reserve,
        tier=tier,
    )


def trader_signer(seed: int, index: int) -> Signer:
    """A throwaway key derived from the seed (local anvil only; funded by the simulator)."""
    key = hashlib.sha256(f"zkmargin-stress/{seed}/{index}".encode()).hexdigest()
    account: LocalAccount = EthAccount.from_key(key)
    return Signer(str(account.address), f"stress trader {index}", account)
