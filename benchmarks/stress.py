"""Stress simulation of the margin engine: `make audit` (not `make test`).

    python benchmarks/stress.py [--accounts 50] [--seed 7] [--scenarios a,b] [--no-confirm]

Starts a private anvil, deploys the default system (ETH-USD MMR 5% / IMR 10%, BTC-USD
4% / 8%, USDC and WETH collateral with a 10% WETH haircut; proof lifetime 3,600 s, grace
600 s, shock threshold 10%, penalty 5%), opens ``--accounts`` random cross-margin
accounts (seeded: the same seed gives the same portfolios, agents and transactions), takes
an anvil snapshot, and runs every scenario from that snapshot with real proofs:

* the oracle follows a scripted path (one-block crashes, a slow bleed, an oscillation,
  feeds that go stale during a crash); feeds are refreshed every 30 min of chain time
  unless the scenario freezes them;
* keepers (one bot) liquidate every account the engine calls ``liquidatable()`` and flag
  every account whose proven prices moved more than the threshold (they read the proven
  price words from storage: public);
* traders re-prove when a shock is flagged on them (after their reaction time) and
  before their proof expires (at age lifetime - 600 s); when the prover refuses
  (insufficient margin) a *defender* tops up USDC and proves, a *closer* closes the
  account if the engine still lets it, a *passive* trader waits;
* chain time moves only through anvil: one second per mined block
  (``anvil_setBlockTimestampInterval``), and each 60 s step starts with
  ``evm_setNextBlockTimestamp`` when the chain is behind the schedule.

Then it bisects, on the exact integer model, the one-block crash size at which bad debt
first appears for the same portfolios (and for the same portfolios scaled down to exactly
MMR, the weakest state a proving account can be in), and confirms the bracket on-chain.
The report (definitions included) goes to ``<build>/audit/stress-report.{md,json}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Any

from eth_account import Account as EthAccount
from eth_account.signers.local import LocalAccount
from rich.console import Console

from chain.client import AccountState, EngineClient, Kind
from chain.deploy import DEFAULT_SPEC, SystemSpec
from chain.errors import ChainError, RevertError
from chain.local import LocalSystem, local_system
from chain.rpc import TxResult
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from prover.setup import run_setup
from zkmargin.errors import InsufficientMargin, ZkMarginError
from zkmargin.model import (
    Account,
    CollateralParams,
    MarginReport,
    MarketData,
    MarketParams,
    Mode,
    Position,
    evaluate,
)
from zkmargin.paths import build_dir
from zkmargin.units import BALANCE_DECIMALS, BPS_ONE, Balance, Bps, Price, Size

STEP = 60  # seconds of chain time per simulation step
REFRESH_MARGIN = 600  # traders re-prove when their proof is this close to expiring
FEED_REFRESH = 1800  # unfrozen feeds publish at least this often (heartbeats are >= 3600)
RETRY = 60  # a trader attempts at most one proof per this many seconds
MARGIN_UNIT = 10**30  # 1e-30 quote per margin unit (zkmargin.model)
CLOSE_PNL_UNIT = 10**16  # the engine's PnL and badDebt at close are in 1e-16 quote
PAD_PRICE = 1
MICRO = 1_000_000  # crash sizes are searched in millionths (0.0001%)

BASE_PRICES: dict[str, int] = {  # 1e-8 quote; DEFAULT_SPEC's first answers
    "ETH/USD": 2_000 * 10**8,
    "BTC/USD": 60_000 * 10**8,
    "USDC/USD": 1 * 10**8,
}
# Cross circuit slots: 4 market slots then 2 collateral slots (IMarginEngine.sol).
SLOT_FEEDS: tuple[str | None, ...] = ("ETH/USD", "BTC/USD", None, None, "USDC/USD", "ETH/USD")
SLOT_EXPOSURE: tuple[str | None, ...] = ("ETH-USD", "BTC-USD", None, None, "USDC", "WETH")


# ---------------------------------------------------------------- population


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


def _size(units: float, decimals: int) -> Size:
    step = 10 ** (8 - decimals)
    return Size(max(1, round(units * 10**decimals)) * step)


def make_portfolios(count: int, seed: int, spec: SystemSpec = DEFAULT_SPEC) -> list[Portfolio]:
    """``count`` random cross portfolios; the same seed gives the same list."""
    rng = random.Random(seed)  # noqa: S311 -- a reproducible simulation, not a key
    imr = {m.name: m.imr_bps for m in spec.markets}
    feed_of = {m.name: m.feed for m in spec.markets}
    weth_haircut = next(a.haircut_bps for a in spec.assets if a.name == "WETH")
    out = []
    for index in range(count):
        legs = []
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            market = "ETH-USD" if rng.random() < 0.6 else "BTC-USD"
            legs.append((market, rng.random() < 0.6, rng.uniform(0.2, 1.0)))
        notional = math.exp(rng.uniform(math.log(5_000), math.log(150_000)))
        weights = sum(w for _, _, w in legs)
        positions = []
        requirement = 0.0  # USD at IMR
        for market, long, weight in legs:
            price = BASE_PRICES[feed_of[market]] / 1e8
            size = _size(notional * weight / weights / price, 6 if market == "ETH-USD" else 7)
            positions.append(Position(market, long, size, Price(1)))
            requirement += size / 1e8 * price * imr[market] / BPS_ONE
        draw = rng.random()
        tier, (low, high) = (
            ("tight", (1.03, 1.25))
            if draw < 0.35
            else ("medium", (1.25, 2.5))
            if draw < 0.75
            else ("safe", (2.5, 6.0))
        )
        target = requirement * rng.uniform(low, high)  # haircut value of the collateral, USD
        mix = rng.random()
        weth_share = 0.0 if mix < 0.45 else rng.uniform(0.2, 0.8) if mix < 0.8 else 1.0
        eth = BASE_PRICES["ETH/USD"] / 1e8
        deposits = {
            "USDC": math.ceil((1 - weth_share) * target * 100) * 10**4,
            "WETH": math.ceil(weth_share * target / (eth * (1 - weth_haircut / BPS_ONE)) * 1e6)
            * 10**12,
        }
        style = rng.choices(list(Style), weights=(25, 35, 40))[0]
        reaction = (
            rng.choice((30, 60, 120, 240, 420)) if rng.random() < 0.85 else rng.choice((900, 1500))
        )
        reserve = math.ceil(target * 0.5) * 10**6 if style is Style.DEFENDER else 0
        out.append(
            Portfolio(
                index=index,
                positions=tuple(positions),
                deposits={k: v for k, v in deposits.items() if v},
                style=style,
                reaction=reaction,
                reserve=reserve,
                tier=tier,
            )
        )
    return out


def trader_signer(seed: int, index: int) -> Signer:
    """A throwaway key derived from the seed (local anvil only; funded by the simulator)."""
    key = hashlib.sha256(f"zkmargin-stress/{seed}/{index}".encode()).hexdigest()
    account: LocalAccount = EthAccount.from_key(key)
    return Signer(str(account.address), f"stress trader {index}", account)


# ---------------------------------------------------------------- scenarios

Multipliers = Mapping[str, Fraction]  # feed -> price / base price


def _none(_: int) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    duration: int  # seconds of chain time
    path: Callable[[int], Multipliers]  # true price at scenario time t (seconds)
    frozen: Callable[[int], frozenset[str]] = _none  # feeds that publish nothing at t
    passive: bool = False  # every trader passive on insolvency (bisection confirmations)


def _flat() -> dict[str, Fraction]:
    return {feed: Fraction(1) for feed in BASE_PRICES}


def _frac(value: float) -> Fraction:
    return Fraction(round(value * MICRO), MICRO)


def crash_scenario(
    name: str, size: Fraction, duration: int, *, at: int = STEP, passive: bool = False
) -> Scenario:
    """ETH and BTC move by ``-size`` in one block at ``at`` and stay there."""

    def path(t: int) -> Multipliers:
        out = _flat()
        if t >= at:
            out["ETH/USD"] = out["BTC/USD"] = 1 - size
        return out

    pct = float(size) * 100
    return Scenario(
        name,
        f"ETH and BTC {-pct:+.4g}% in one block at t={at} s, then flat",
        duration,
        path,
        passive=passive,
    )


def _bleed(t: int) -> Multipliers:
    minutes = min(t, 3600) // 60
    out = _flat()
    out["ETH/USD"] = _frac(0.997**minutes)
    out["BTC/USD"] = _frac(0.998**minutes)
    return out


def _oscillation(t: int) -> Multipliers:
    out = _flat()
    out["ETH/USD"] = _frac(1 - 0.12 * math.sin(2 * math.pi * t / 2400))
    return out


def _stale_path(outage: int) -> Callable[[int], Multipliers]:
    def path(t: int) -> Multipliers:
        out = _flat()
        if t < STEP:
            return out
        # ETH: -25% at the crash, drifts to -35% over the first hour, back to -30% at the
        # end of the outage; BTC: -15% at the crash, then -25% more during the outage.
        if t < 3600:
            eth = 0.75 - 0.10 * (t - STEP) / (3600 - STEP)
        else:
            eth = 0.65 + 0.05 * min(1.0, (t - 3600) / max(1, outage + STEP - 3600))
        btc = 0.85 * (1 - 0.25 * min(1.0, (t - STEP) / outage))
        out["ETH/USD"] = _frac(eth)
        out["BTC/USD"] = _frac(btc)
        return out

    return path


def stale_scenario(name: str, outage: int, tail: int = 900) -> Scenario:
    """ETH crashes, then its feed publishes nothing for ``outage`` seconds."""

    def frozen(t: int) -> frozenset[str]:
        return frozenset({"ETH/USD"}) if STEP < t < STEP + outage else frozenset()

    heartbeat = 3600
    return Scenario(
        name,
        f"ETH -25%, BTC -15% at t={STEP} s; then the ETH/USD feed is silent for "
        f"{outage // 60} min (stale for the last {max(0, outage - heartbeat) // 60} min) "
        "while ETH drifts to -35% and back to -30% and BTC falls 25% more",
        STEP + outage + tail,
        _stale_path(outage),
        frozen,
    )


def default_scenarios() -> list[Scenario]:
    lifetime = DEFAULT_SPEC.proof_lifetime
    return [
        crash_scenario("crash-10", Fraction(10, 100), lifetime + 900),
        crash_scenario("crash-30", Fraction(30, 100), 1800),
        crash_scenario("crash-50", Fraction(50, 100), 1800),
        crash_scenario("crash-90", Fraction(90, 100), 1800),
        Scenario(
            "bleed",
            "ETH -0.3%/min and BTC -0.2%/min for 60 min (-16.5% / -11.3%), then flat",
            5400,
            _bleed,
        ),
        Scenario(
            "oscillation",
            "ETH 2000 * (1 - 12% sin(2 pi t / 40 min)) for 80 min; BTC flat",
            4800,
            _oscillation,
        ),
        stale_scenario("stale-short", 4500),
        stale_scenario("stale-long", 7200),
    ]


# ---------------------------------------------------------------- prices and model


def price_at(feed: str, mult: Fraction) -> int:
    return max(1, int(BASE_PRICES[feed] * mult))


def market_data(
    prices: Mapping[str, int], spec: SystemSpec, *, haircuts: bool = True
) -> MarketData:
    """The model's view at ``prices`` (feed -> 1e-8 quote); ``haircuts=False``: raw value."""
    return MarketData(
        markets={m.name: MarketParams(Bps(m.mmr_bps), Bps(m.imr_bps)) for m in spec.markets},
        collateral={
            a.name: CollateralParams(Bps(a.haircut_bps if haircuts else 0), a.decimals)
            for a in spec.assets
        },
        prices={
            **{m.name: Price(prices[m.feed]) for m in spec.markets},
            **{a.name: Price(prices[a.feed]) for a in spec.assets},
        },
    )


def normalised(balances: Mapping[str, int], spec: SystemSpec) -> dict[str, Balance]:
    decimals = {a.name: a.decimals for a in spec.assets}
    return {
        name: Balance(amount * 10 ** (BALANCE_DECIMALS - decimals[name]))
        for name, amount in balances.items()
    }


def usd(margin_units: int | Fraction) -> float:
    return float(Fraction(margin_units) / MARGIN_UNIT)


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
    account = Account(0, 1, normalised(balances, spec), tuple(positions))
    return Valuation(
        evaluate(account, market_data(prices, spec), Mode.MAINTENANCE),
        evaluate(account, market_data(prices, spec, haircuts=False), Mode.MAINTENANCE),
    )


def asset_value(amounts: Mapping[str, int], prices: Mapping[str, int], spec: SystemSpec) -> int:
    """Raw value of token amounts in margin units."""
    feeds = {a.name: a.feed for a in spec.assets}
    return sum(b * prices[feeds[n]] * BPS_ONE for n, b in normalised(amounts, spec).items())


# ---------------------------------------------------------------- bisection


def _crash_prices(micro: int, direction: int) -> dict[str, int]:
    mult = Fraction(MICRO - direction * micro, MICRO)
    return {
        feed: price_at(feed, mult if feed != "USDC/USD" else Fraction(1)) for feed in BASE_PRICES
    }


def bad_debt_at(
    portfolios: Sequence[tuple[Sequence[Position], Mapping[str, int]]],
    micro: int,
    direction: int,
    spec: SystemSpec,
) -> tuple[int, int]:
    """(account bad debt, pool shortfall after the penalty) if every account that is below
    MMR after the crash is liquidated at the crash price; margin units."""
    prices = _crash_prices(micro, direction)
    penalty = spec.liquidation_penalty_bps
    debt = shortfall = 0
    for positions, balances in portfolios:
        val = valuation(positions, balances, prices, spec)
        if val.solvent:
            continue
        debt += max(0, -val.raw_equity)
        to_pool = {k: v - v * penalty // BPS_ONE for k, v in balances.items()}
        shortfall += max(0, -val.raw.pnl - asset_value(to_pool, prices, spec))
    return debt, shortfall


def bisect_threshold(
    portfolios: Sequence[tuple[Sequence[Position], Mapping[str, int]]],
    direction: int,
    pool: bool,
    spec: SystemSpec,
) -> int | None:
    """Largest move (millionths) with no bad debt (``pool``: no shortfall after the
    penalty): a fall for ``direction`` 1, a rise for -1. None: no bad debt up to a fall of
    99.9999% or a rise of 900%."""
    hi = MICRO - 1 if direction == 1 else 9 * MICRO

    def bad(micro: int) -> bool:
        debt, shortfall = bad_debt_at(portfolios, micro, direction, spec)
        return (shortfall if pool else debt) > 0

    if not bad(hi):
        return None
    lo = 0  # invariant: not bad(lo), bad(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bad(mid):
            hi = mid
        else:
            lo = mid
    return lo


def at_mmr(
    positions: Sequence[Position], balances: Mapping[str, int], spec: SystemSpec
) -> dict[str, int]:
    """The same collateral mix scaled so the account sits exactly at MMR (rounded up to
    the token unit): the weakest state in which a maintenance proof still exists."""
    prices = dict(BASE_PRICES)
    val = valuation(positions, balances, prices, spec)
    coll = val.maintenance.collateral_value
    need = val.maintenance.requirement - val.maintenance.pnl  # pnl is 0 at entry prices
    out = {k: -(-v * need // coll) for k, v in balances.items()}
    assert valuation(positions, out, prices, spec).solvent
    return out


# ---------------------------------------------------------------- results


@dataclass
class Liquidation:
    trader: int
    at: int  # seconds since the scenario started (chain time)
    cls: str  # insolvent | solvent_slow | solvent_recovered | solvent_oracle_stale | ...
    solvent_true: bool  # meets MMR at the true prices
    solvent_oracle: bool  # meets MMR at the oracle's last answers
    raw_equity_usd: float
    bad_debt_usd: float
    pool_shortfall_usd: float
    seized_excess_usd: float
    reward_usd: float
    insolvent_for: int | None  # seconds below MMR before liquidation (sampled per step)
    proof_age: int
    shock_age: int | None
    refusals: list[str]

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class ScenarioResult:
    name: str
    description: str
    duration: int
    passive: bool
    accounts: int = 0
    steps: int = 0
    proof_attempts: int = 0
    proofs_accepted: int = 0
    proofs_refused: Counter[str] = field(default_factory=Counter)
    accounts_refused: set[int] = field(default_factory=set)
    flags: int = 0
    flags_unrelated: int = 0  # no position or balance in any slot that moved
    flags_refused: Counter[str] = field(default_factory=Counter)
    liquidations: list[Liquidation] = field(default_factory=list)
    closes: int = 0
    closes_refused: Counter[str] = field(default_factory=Counter)
    closed_bad_debt_usd: float = 0.0
    closed_pnl_usd: float = 0.0
    topups: int = 0
    topup_usd: float = 0.0
    open_at_end: int = 0
    insolvent_open_at_end: int = 0
    underwater_open_at_end: int = 0
    insolvent_not_liquidatable: dict[int, int] = field(default_factory=dict)  # trader -> s
    underwater_not_liquidatable: dict[int, int] = field(default_factory=dict)
    solvent_liquidatable_samples: int = 0
    identities: dict[str, bool] = field(default_factory=dict)
    # token flows (base units per asset), for the accounting identities
    rewards: Counter[str] = field(default_factory=Counter)
    to_pool: Counter[str] = field(default_factory=Counter)
    close_to_pool: Counter[str] = field(default_factory=Counter)
    close_returned: Counter[str] = field(default_factory=Counter)
    topup_tokens: Counter[str] = field(default_factory=Counter)
    prove_seconds: float = 0.0
    seconds: float = 0.0

    def count(self, cls: str) -> int:
        return sum(1 for x in self.liquidations if x.cls == cls)

    @property
    def wrongful(self) -> int:
        return self.count("wrongful")

    @property
    def bad_debt_usd(self) -> float:
        return sum(x.bad_debt_usd for x in self.liquidations) + self.closed_bad_debt_usd

    @property
    def pool_shortfall_usd(self) -> float:
        return sum(x.pool_shortfall_usd for x in self.liquidations) + self.closed_bad_debt_usd

    def to_json(self) -> dict[str, Any]:
        durations = sorted(self.insolvent_not_liquidatable.values())
        under = sorted(self.underwater_not_liquidatable.values())
        return {
            "name": self.name,
            "description": self.description,
            "duration_s": self.duration,
            "all_passive": self.passive,
            "steps": self.steps,
            "accounts": self.accounts,
            "proof_attempts": self.proof_attempts,
            "proofs_accepted": self.proofs_accepted,
            "proofs_refused": dict(sorted(self.proofs_refused.items())),
            "proofs_refused_total": sum(self.proofs_refused.values()),
            "accounts_with_refused_proofs": len(self.accounts_refused),
            "flags": self.flags,
            "flags_unrelated": self.flags_unrelated,
            "flags_refused": dict(sorted(self.flags_refused.items())),
            "liquidations": len(self.liquidations),
            "liquidations_by_class": dict(
                sorted(Counter(x.cls for x in self.liquidations).items())
            ),
            "wrongful_liquidations": self.wrongful,
            "closes": self.closes,
            "closes_refused": dict(sorted(self.closes_refused.items())),
            "closed_bad_debt_usd": round(self.closed_bad_debt_usd, 2),
            "closed_pnl_usd": round(self.closed_pnl_usd, 2),
            "topups": self.topups,
            "topup_usd": round(self.topup_usd, 2),
            "bad_debt_usd": round(self.bad_debt_usd, 2),
            "pool_shortfall_usd": round(self.pool_shortfall_usd, 2),
            "seized_excess_usd": round(sum(x.seized_excess_usd for x in self.liquidations), 2),
            "keeper_rewards_usd": round(sum(x.reward_usd for x in self.liquidations), 2),
            "open_at_end": self.open_at_end,
            "insolvent_open_at_end": self.insolvent_open_at_end,
            "underwater_open_at_end": self.underwater_open_at_end,
            "insolvent_not_liquidatable": {
                "accounts": len(durations),
                "max_s": durations[-1] if durations else 0,
                "median_s": int(statistics.median(durations)) if durations else 0,
            },
            "underwater_not_liquidatable": {
                "accounts": len(under),
                "max_s": under[-1] if under else 0,
                "median_s": int(statistics.median(under)) if under else 0,
            },
            "solvent_and_liquidatable_samples": self.solvent_liquidatable_samples,
            "identities": self.identities,
            "prove_seconds": round(self.prove_seconds, 1),
            "seconds": round(self.seconds, 1),
            "liquidation_records": [x.to_json() for x in self.liquidations],
        }


# ---------------------------------------------------------------- the simulator


@dataclass
class Trader:
    """A trader during one scenario (reset from the snapshot for the next)."""

    portfolio: Portfolio
    signer: Signer
    account: Account  # positions with entries and the salt of the live commitment
    balances: dict[str, int]  # engine balances, token base units
    reserve: int  # wallet USDC available for top-ups
    open: bool = True
    state: AccountState | None = None
    liquidatable: bool = False
    last_attempt: int = -(10**9)
    refusals: list[str] = field(default_factory=list)  # since the last accepted proof
    insolvent_since: int | None = None
    sample: tuple[bool, bool, bool] = (False, False, False)  # insolvent, underwater, liq


class Simulation:
    """One deployment, one population, many scenarios (each from the same snapshot)."""

    def __init__(
        self,
        system: LocalSystem,
        prover: Prover,
        portfolios: Sequence[Portfolio],
        seed: int,
        *,
        spec: SystemSpec = DEFAULT_SPEC,
        log: Callable[[str], None] = print,
    ) -> None:
        self.system = system
        self.client: EngineClient = system.client
        self.chain = system.chain
        self.prover = prover
        self.portfolios = list(portfolios)
        self.seed = seed
        self.spec = spec
        self.log = log
        self.admin = dev_signer(0)
        self.keeper = dev_signer(9)
        self.lifetime = spec.proof_lifetime
        self.grace = spec.grace_period
        self.threshold = spec.shock_threshold_bps
        self.penalty = spec.liquidation_penalty_bps
        self.traders: list[Trader] = []
        self.published: dict[str, tuple[int, int]] = {}  # feed -> (price, updatedAt)
        self.snapshot: str | None = None
        self.open_seconds = 0.0

    # ------------------------------------------------------------ setup

    def setup(self) -> None:
        """Fund, deposit and open every portfolio, then snapshot the chain."""
        started = time.perf_counter()
        self.chain.request("anvil_setBlockTimestampInterval", [1])
        for feed, price in BASE_PRICES.items():
            self._publish(feed, price)
        for p in self.portfolios:
            signer = trader_signer(self.seed, p.index)
            self.chain.request("anvil_setBalance", [signer.address, hex(10**21)])
            for asset, amount in p.deposits.items():
                self.client.mint(self.admin, signer.address, asset, amount)
                self.client.deposit(signer, asset, amount)
            if p.reserve:
                self.client.mint(self.admin, signer.address, "USDC", p.reserve)
            draft = Account(int(signer.address, 16), 1, {}, p.positions)
            plan = self.client.plan_open(draft, Kind.CROSS)
            self.client.open(signer, plan, self.prover)
            self.traders.append(
                Trader(p, signer, plan.account, dict(p.deposits), p.reserve, state=None)
            )
        for feed, price in BASE_PRICES.items():
            self._publish(feed, price)
        self.snapshot = str(self.chain.request("evm_snapshot", []))
        self.open_seconds = time.perf_counter() - started
        self.log(
            f"opened {len(self.traders)} cross accounts in {self.open_seconds:.0f} s; "
            f"snapshot at t={self.chain.timestamp()}"
        )

    def _publish(self, feed: str, price: int) -> None:
        self.client.set_price(self.admin, feed, price)
        self.published[feed] = (price, self.chain.timestamp())

    @contextmanager
    def _fresh(self) -> Iterator[dict[str, tuple[int, int]]]:
        """Revert to the snapshot; yields the published prices as of the snapshot."""
        if self.snapshot is None:
            raise ChainError("setup() first")
        if not self.chain.request("evm_revert", [self.snapshot]):
            raise ChainError("evm_revert failed")
        self.snapshot = str(self.chain.request("evm_snapshot", []))
        self.chain.request("anvil_setBlockTimestampInterval", [1])
        saved = dict(self.published)
        try:
            yield self.published
        finally:
            self.published = saved

    # ------------------------------------------------------------ one scenario

    def run(self, scenario: Scenario) -> ScenarioResult:
        started = time.perf_counter()
        res = ScenarioResult(
            scenario.name, scenario.description, scenario.duration, scenario.passive
        )
        rng = random.Random(f"{self.seed}/{scenario.name}")  # noqa: S311
        with self._fresh():
            traders = [
                replace(t, balances=dict(t.portfolio.deposits), reserve=t.portfolio.reserve)
                for t in self.traders
            ]
            for t in traders:
                t.refusals = []
            supply0, engine0, pool0, keeper0 = self._totals(traders)
            t0 = self.chain.timestamp()
            res.accounts = len(traders)
            last_sample = t0
            for k in range(scenario.duration // STEP + 1):
                if self.chain.timestamp() < t0 + k * STEP:
                    self.chain.set_next_timestamp(t0 + k * STEP)
                true = {f: price_at(f, m) for f, m in scenario.path(k * STEP).items()}
                self._oracle(true, scenario.frozen(k * STEP))
                now = self.chain.timestamp()
                opened = [t for t in traders if t.open]
                self._sample(opened, true, now, last_sample, res)
                last_sample = now
                self._keeper(opened, true, t0, res)
                order = [t for t in opened if t.open]
                rng.shuffle(order)
                self._traders(order, scenario, res)
                res.steps += 1
            now = self.chain.timestamp()
            self._sample([t for t in traders if t.open], true, now, last_sample, res, final=True)
            self._identities(traders, res, supply0, engine0, pool0, keeper0)
        res.seconds = time.perf_counter() - started
        return res

    def _oracle(self, true: Mapping[str, int], frozen: frozenset[str]) -> None:
        now = self.chain.timestamp()
        for feed, price in true.items():
            if feed in frozen:
                continue
            last, updated = self.published[feed]
            if price != last or now - updated >= FEED_REFRESH:
                self._publish(feed, price)

    def _oracle_prices(self) -> dict[str, int]:
        return {feed: price for feed, (price, _) in self.published.items()}

    def _sample(
        self,
        opened: Sequence[Trader],
        true: Mapping[str, int],
        now: int,
        last: int,
        res: ScenarioResult,
        *,
        final: bool = False,
    ) -> None:
        """Read each open account's state; add the time since the last sample to the
        durations of the conditions that held at the last sample."""
        dt = now - last
        for t in opened:
            insolvent, underwater, liquidatable = t.sample
            i = t.portfolio.index
            if insolvent and not liquidatable:
                res.insolvent_not_liquidatable[i] = res.insolvent_not_liquidatable.get(i, 0) + dt
            if underwater and not liquidatable:
                res.underwater_not_liquidatable[i] = res.underwater_not_liquidatable.get(i, 0) + dt
            val = valuation(t.account.positions, t.balances, true, self.spec)
            if final:
                res.open_at_end += 1
                res.insolvent_open_at_end += not val.solvent
                res.underwater_open_at_end += val.raw_equity < 0
                continue
            t.state = self.client.account_state(t.signer.address)
            t.liquidatable, _ = self.client.liquidatable(t.signer.address)
            t.sample = (not val.solvent, val.raw_equity < 0, t.liquidatable)
            if val.solvent:
                t.insolvent_since = None
                res.solvent_liquidatable_samples += t.liquidatable
            elif t.insolvent_since is None:
                t.insolvent_since = now

    # ------------------------------------------------------------ keeper

    def _keeper(
        self, opened: Sequence[Trader], true: Mapping[str, int], t0: int, res: ScenarioResult
    ) -> None:
        oracle = self._oracle_prices()
        for t in opened:
            assert t.state is not None
            if t.liquidatable:
                self._liquidate(t, true, oracle, t0, res)
                continue
            if t.state.shock_at:
                continue
            moved = self._moved(t.state, oracle)
            if not moved:
                continue
            try:
                self.client.flag_shock(self.keeper, t.signer.address)
            except RevertError as exc:
                res.flags_refused[exc.name or "unknown revert"] += 1
                continue
            res.flags += 1
            exposure = {p.market for p in t.account.positions} | {
                a for a, v in t.balances.items() if v
            }
            if not any(SLOT_EXPOSURE[s] in exposure for s in moved):
                res.flags_unrelated += 1
            t.state = self.client.account_state(t.signer.address)

    def _moved(self, state: AccountState, oracle: Mapping[str, int]) -> list[int]:
        """Slots whose price moved more than the threshold since the last proof."""
        out = []
        for slot, feed in enumerate(SLOT_FEEDS):
            word = state.proven_price_words[slot // 3]
            proven = (word >> (64 * (slot % 3))) & (2**64 - 1)
            current = PAD_PRICE if feed is None else oracle[feed]
            if proven == PAD_PRICE:
                continue
            if abs(current - proven) * BPS_ONE > self.threshold * proven:
                out.append(slot)
        return out

    def _liquidate(
        self,
        t: Trader,
        true: Mapping[str, int],
        oracle: Mapping[str, int],
        t0: int,
        res: ScenarioResult,
    ) -> None:
        assert t.state is not None
        state = t.state
        now = self.chain.timestamp()
        before = dict(t.balances)
        result = self.client.liquidate(self.keeper, t.signer.address)
        at = self._block_time(result)
        event = self.client.engine.events(result, "Liquidated")[0]
        reward = {a.name: int(event.args["reward"][a.id]) for a in self.system.deployment.assets}
        to_pool = {a.name: int(event.args["toPool"][a.id]) for a in self.system.deployment.assets}
        ok = all(
            reward[a] + to_pool[a] == before.get(a, 0)
            and reward[a] == before.get(a, 0) * self.penalty // BPS_ONE
            for a in reward
        )
        res.identities["liquidation split = balance, reward = floor(balance * penalty)"] = (
            res.identities.get(
                "liquidation split = balance, reward = floor(balance * penalty)", True
            )
            and ok
        )
        res.rewards.update(reward)
        res.to_pool.update(to_pool)
        val = valuation(t.account.positions, before, true, self.spec)
        at_oracle = valuation(t.account.positions, before, oracle, self.spec)
        loss = -val.raw.pnl
        proof_ok = at <= state.last_proof_at + self.lifetime
        shock_ok = state.shock_at == 0 or at <= state.shock_at + self.grace
        if not val.solvent:
            cls = "insolvent"
        elif proof_ok and shock_ok:
            cls = "wrongful"  # the engine's own promise broken
        elif any(r.startswith("OracleAdapter") for r in t.refusals):
            cls = "solvent_oracle_stale"
        elif "insufficient margin" in t.refusals:
            cls = "solvent_recovered"
        elif not t.portfolio.diligent:
            cls = "solvent_slow"
        else:
            cls = "solvent_late"
        res.liquidations.append(
            Liquidation(
                trader=t.portfolio.index,
                at=at - t0,
                cls=cls,
                solvent_true=val.solvent,
                solvent_oracle=at_oracle.solvent,
                raw_equity_usd=usd(val.raw_equity),
                bad_debt_usd=usd(max(0, -val.raw_equity)),
                pool_shortfall_usd=usd(max(0, loss - asset_value(to_pool, true, self.spec))),
                seized_excess_usd=usd(max(0, val.raw_equity)),
                reward_usd=usd(asset_value(reward, true, self.spec)),
                insolvent_for=None if t.insolvent_since is None else now - t.insolvent_since,
                proof_age=at - state.last_proof_at,
                shock_age=None if not state.shock_at else at - state.shock_at,
                refusals=sorted(set(t.refusals)),
            )
        )
        t.open = False
        t.balances = dict.fromkeys(t.balances, 0)

    def _block_time(self, result: TxResult) -> int:
        return int(self.chain.block(result.block_number)["timestamp"], 16)

    # ------------------------------------------------------------ traders

    def _traders(self, order: Sequence[Trader], scenario: Scenario, res: ScenarioResult) -> None:
        data: MarketData | None = None
        stale: str | None = None
        for t in order:
            if not t.open or t.state is None:
                continue
            now = self.chain.timestamp()
            due = t.state.last_proof_at + self.lifetime - REFRESH_MARGIN
            if t.state.shock_at:
                due = min(due, t.state.shock_at + t.portfolio.reaction)
            if now < due or now - t.last_attempt < RETRY:
                continue
            t.last_attempt = now
            res.proof_attempts += 1
            if data is None and stale is None:
                try:
                    data = self.client.market_data(Kind.CROSS)
                except RevertError as exc:
                    stale = exc.name or "unknown revert"
            if data is None:
                # The engine cannot read a price: no proof, no flag, no close. Depositing
                # works but cannot stop a lapse. A trader that would act tries to close
                # (its only way out); a passive one waits for the feed.
                self._refused(t, stale or "oracle", res)
                if not scenario.passive and t.portfolio.style is not Style.PASSIVE:
                    self._close(t, res)
                continue
            self._attempt(t, data, scenario, res)

    def _refused(self, t: Trader, reason: str, res: ScenarioResult) -> None:
        res.proofs_refused[reason] += 1
        res.accounts_refused.add(t.portfolio.index)
        t.refusals.append(reason)

    def _chain_account(self, t: Trader) -> Account:
        return replace(t.account, collateral=normalised(t.balances, self.spec))

    def _attempt(
        self, t: Trader, data: MarketData, scenario: Scenario, res: ScenarioResult
    ) -> None:
        try:
            self.prover.check(self._chain_account(t), data, Mode.MAINTENANCE)
        except InsufficientMargin:
            self._refused(t, "insufficient margin", res)
            if scenario.passive or t.portfolio.style is Style.PASSIVE:
                return
            if t.portfolio.style is Style.DEFENDER and self._top_up(t, data, res):
                res.proof_attempts += 1
                self._prove(t, res)
                return
            self._close(t, res)
            return
        self._prove(t, res)

    def _prove(self, t: Trader, res: ScenarioResult) -> None:
        try:
            tx = self.client.prove_margin(t.signer, t.account, self.prover)
        except RevertError as exc:
            self._refused(t, exc.name or "unknown revert", res)
            return
        except InsufficientMargin:
            self._refused(t, "insufficient margin", res)
            return
        except ZkMarginError as exc:
            self._refused(t, type(exc).__name__, res)
            return
        res.proofs_accepted += 1
        res.prove_seconds += tx.prove_seconds
        t.refusals = []
        t.state = self.client.account_state(t.signer.address)

    def _top_up(self, t: Trader, data: MarketData, res: ScenarioResult) -> bool:
        """Deposit USDC so that equity reaches 1.5x MMR, if the account is worth saving
        (raw equity > 0) and the wallet reserve covers it."""
        oracle = {feed: price for feed, (price, _) in self.published.items()}
        val = valuation(t.account.positions, t.balances, oracle, self.spec)
        if val.raw_equity <= 0:
            return False
        deficit = val.maintenance.requirement * 3 // 2 - val.maintenance.equity
        unit = 10 ** (BALANCE_DECIMALS - 6) * data.prices["USDC"] * BPS_ONE  # per 1e-6 USDC
        amount = -(-deficit // unit)
        if amount <= 0 or amount > t.reserve:
            return False
        self.client.deposit(t.signer, "USDC", amount)
        t.reserve -= amount
        t.balances["USDC"] = t.balances.get("USDC", 0) + amount
        res.topup_tokens["USDC"] += amount
        res.topups += 1
        res.topup_usd += amount / 1e6
        return True

    def _close(self, t: Trader, res: ScenarioResult) -> None:
        if t.liquidatable:
            res.closes_refused["liquidatable"] += 1
            return
        assets = [a.name for a in self.system.deployment.assets]
        wallet = {a: self.client.wallet_balance(t.signer.address, a) for a in assets}
        try:
            result = self.client.close(t.signer, t.account)
        except RevertError as exc:
            res.closes_refused[exc.name or "unknown revert"] += 1
            return
        for a in assets:
            returned = self.client.wallet_balance(t.signer.address, a) - wallet[a]
            res.close_returned[a] += returned
            res.close_to_pool[a] += t.balances.get(a, 0) - returned
        event = self.client.engine.events(result, "AccountClosed")[0]
        res.closes += 1
        res.closed_pnl_usd += int(event.args["pnl"]) / CLOSE_PNL_UNIT
        res.closed_bad_debt_usd += int(event.args["badDebt"]) / CLOSE_PNL_UNIT
        t.open = False
        t.balances = dict.fromkeys(t.balances, 0)

    # ------------------------------------------------------------ accounting identities

    def _totals(
        self, traders: Sequence[Trader]
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int], dict[str, int]]:
        c = self.client
        assets = [a.name for a in self.system.deployment.assets]
        supply = {a: int(c.tokens[a].call("totalSupply")) for a in assets}
        engine = {a: c.wallet_balance(self.system.deployment.engine, a) for a in assets}
        pool = {a: c.pool(a) for a in assets}
        keeper = {a: c.wallet_balance(self.keeper.address, a) for a in assets}
        return supply, engine, pool, keeper

    def _identities(
        self,
        traders: Sequence[Trader],
        res: ScenarioResult,
        supply0: Mapping[str, int],
        engine0: Mapping[str, int],
        pool0: Mapping[str, int],
        keeper0: Mapping[str, int],
    ) -> None:
        supply, engine, pool, keeper = self._totals(traders)
        c = self.client
        assets = list(supply)
        onchain = {t.portfolio.index: c.balances(t.signer.address) for t in traders}
        ids = res.identities
        ids.setdefault("liquidation split = balance, reward = floor(balance * penalty)", True)
        ids["token supply unchanged (no mint during a scenario)"] = supply == supply0
        ids["engine tokens = pool + sum of account balances"] = all(
            engine[a] == pool[a] + sum(b.get(a, 0) for b in onchain.values()) for a in assets
        )
        ids["tracked balances = engine balances"] = all(
            onchain[t.portfolio.index].get(a, 0) == t.balances.get(a, 0)
            for t in traders
            for a in assets
        )
        ids["keeper wallet gain = sum of liquidation rewards"] = all(
            keeper[a] - keeper0[a] == res.rewards.get(a, 0) for a in assets
        )
        ids["pool change = liquidations to pool + losses taken at close - profits paid"] = all(
            pool[a] - pool0[a] == res.to_pool.get(a, 0) + res.close_to_pool.get(a, 0)
            for a in assets
        )
        ids["engine token change = top-ups - rewards - returned at close"] = all(
            engine[a] - engine0[a]
            == res.topup_tokens.get(a, 0) - res.rewards.get(a, 0) - res.close_returned.get(a, 0)
            for a in assets
        )
        ids["closed or liquidated accounts hold nothing; open ones are open on-chain"] = all(
            (c.account_state(t.signer.address).open == t.open)
            and (t.open or not any(onchain[t.portfolio.index].values()))
            for t in traders
        )
        ids["proof attempts = accepted + refused"] = res.proof_attempts == (
            res.proofs_accepted + sum(res.proofs_refused.values())
        )
        ids["liquidations = sum of classes"] = len(res.liquidations) == sum(
            Counter(x.cls for x in res.liquidations).values()
        )
        ids["no wrongful liquidation"] = res.wrongful == 0
        ids["bad debt >= 0, pool shortfall >= bad debt - penalty share"] = all(
            x.bad_debt_usd >= 0 and x.pool_shortfall_usd >= x.bad_debt_usd - 1e-9
            for x in res.liquidations
        )


# ---------------------------------------------------------------- thresholds


def with_entries(p: Portfolio) -> tuple[tuple[Position, ...], dict[str, int]]:
    """The portfolio as opened: entries at the base prices, balances as deposited."""
    feed = {m.name: m.feed for m in DEFAULT_SPEC.markets}
    positions = tuple(
        replace(x, entry_price=Price(BASE_PRICES[feed[x.market]])) for x in p.positions
    )
    return positions, dict(p.deposits)


CANONICAL: tuple[tuple[str, str, bool, str], ...] = (
    ("long ETH on USDC", "ETH-USD", True, "USDC"),
    ("long BTC on USDC", "BTC-USD", True, "USDC"),
    ("long ETH on WETH", "ETH-USD", True, "WETH"),
    ("short ETH on USDC", "ETH-USD", False, "USDC"),
    ("short BTC on USDC", "BTC-USD", False, "USDC"),
    ("short ETH on WETH", "ETH-USD", False, "WETH"),
)


def _pct(micro: int | None) -> float | None:
    return None if micro is None else round(micro / MICRO * 100, 4)


def thresholds(portfolios: Sequence[Portfolio], spec: SystemSpec) -> dict[str, Any]:
    """Bisect the one-block move at which bad debt first appears (model, exact integers)."""
    as_opened = [with_entries(p) for p in portfolios]
    scaled = [(pos, at_mmr(pos, bal, spec)) for pos, bal in as_opened]
    feed = {m.name: m.feed for m in spec.markets}
    canon = []
    for label, market, long, asset in CANONICAL:
        price = BASE_PRICES[feed[market]]
        pos = (Position(market, long, Size(10**8), Price(price)),)
        unit = {"USDC": 10**6, "WETH": 10**18}[asset]
        canon.append((label, pos, at_mmr(pos, {asset: unit}, spec)))
    sets: list[tuple[str, Sequence[tuple[Sequence[Position], Mapping[str, int]]]]] = [
        ("random set, as opened", as_opened),
        ("random set, each scaled to exactly MMR", scaled),
    ]
    rows = []
    for label, group in sets:
        for direction, name in ((1, "fall"), (-1, "rise")):
            per = [bisect_threshold([x], direction, True, spec) for x in group]
            finite = [(m, i) for i, m in enumerate(per) if m is not None]
            rows.append(
                {
                    "set": label,
                    "move": name,
                    "no_shortfall_up_to_pct": _pct(bisect_threshold(group, direction, True, spec)),
                    "no_bad_debt_up_to_pct": _pct(bisect_threshold(group, direction, False, spec)),
                    "tightest_account": min(finite)[1] if finite else None,
                    "median_account_pct": _pct(int(statistics.median(m for m, _ in finite)))
                    if finite
                    else None,
                }
            )
    for label, pos, bal in canon:
        for direction, name in ((1, "fall"), (-1, "rise")):
            rows.append(
                {
                    "set": f"one account at exactly MMR: {label}",
                    "move": name,
                    "no_shortfall_up_to_pct": _pct(
                        bisect_threshold([(pos, bal)], direction, True, spec)
                    ),
                    "no_bad_debt_up_to_pct": _pct(
                        bisect_threshold([(pos, bal)], direction, False, spec)
                    ),
                    "tightest_account": None,
                    "median_account_pct": None,
                }
            )
    return {"rows": rows, "resolution_pct": 100 / MICRO}


def confirm_scenarios(th: Mapping[str, Any], spec: SystemSpec) -> list[tuple[Scenario, str]]:
    """One-block falls just below the pool-shortfall threshold and just above the
    bad-debt threshold of the random set, with every trader passive on insolvency."""
    row = next(r for r in th["rows"] if r["set"] == "random set, as opened" and r["move"] == "fall")
    out = []
    for pct, delta, expect in (
        (row["no_shortfall_up_to_pct"], -0.5, "none"),
        (row["no_bad_debt_up_to_pct"], +0.5, "some"),
    ):
        if pct is None:
            continue
        size = Fraction(round((pct + delta) * 100), 10_000)
        if size <= 0:
            continue
        flaggable = size * BPS_ONE > spec.shock_threshold_bps
        duration = 1800 if flaggable else spec.proof_lifetime + 900
        name = f"confirm-{float(size) * 100:.2f}"
        out.append((crash_scenario(name, size, duration, passive=True), expect))
    return out


# ---------------------------------------------------------------- the report

CLASS_TEXT = {
    "insolvent": "below MMR at the true price (rightful)",
    "solvent_slow": "solvent, but the trader reacts slower than the grace period "
    "and had not proved",
    "solvent_recovered": "solvent again, but was below MMR when its proof was due (prover refused)",
    "solvent_oracle_stale": "solvent and diligent, but its proofs were refused: "
    "the oracle was stale",
    "solvent_late": "solvent and diligent, but its proof came too late (simulation timing)",
    "wrongful": "solvent AND within the rules (unexpired proof, no unanswered shock past grace)",
}


def _mins(seconds: int) -> str:
    return f"{seconds / 60:.0f}"


def table_rows(results: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    head = [
        "scenario",
        "accounts",
        "proofs accepted",
        "proofs refused (why)",
        "flags (refused attempts)",
        "liquidations",
        "solvent liquidated (why)",
        "wrongful",
        "closes",
        "bad debt USD",
        "pool shortfall USD",
        "max below-MMR not liquidatable, min",
    ]
    rows = []
    for r in results:
        refused = ", ".join(f"{v} {k}" for k, v in r["proofs_refused"].items())
        refused = f"{r['accounts_with_refused_proofs']} accounts: {refused}"
        flag_ref = sum(r["flags_refused"].values())
        classes = {k: v for k, v in r["liquidations_by_class"].items() if k != "insolvent"}
        solvent = ", ".join(f"{v} {k.removeprefix('solvent_')}" for k, v in classes.items())
        rows.append(
            [
                r["name"],
                str(r["accounts"]),
                str(r["proofs_accepted"]),
                f"{r['proofs_refused_total']}"
                + (f" ({refused})" if r["proofs_refused_total"] else ""),
                f"{r['flags']}" + (f" ({flag_ref})" if flag_ref else ""),
                str(r["liquidations"]),
                solvent or "0",
                str(r["wrongful_liquidations"]),
                str(r["closes"]),
                f"{r['bad_debt_usd']:,.2f}",
                f"{r['pool_shortfall_usd']:,.2f}",
                _mins(r["insolvent_not_liquidatable"]["max_s"]),
            ]
        )
    return head, rows


def table_markdown(results: Sequence[Mapping[str, Any]]) -> list[str]:
    head, rows = table_rows(results)
    return [
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def markdown(report: Mapping[str, Any]) -> str:
    p = report["parameters"]
    lines = [
        "# zkmargin stress report",
        "",
        f"Generated by `benchmarks/stress.py` (`make audit`): seed {report['seed']}, "
        f"{report['population']['accounts']} cross accounts, {len(report['scenarios'])} "
        f"scenarios, {report['runtime_s'] / 60:.1f} min on this machine "
        f"({report['proofs_total']} proofs, "
        f"{report['prove_seconds_total'] / 60:.1f} min of proving).",
        "",
        f"Engine: proof lifetime {p['proof_lifetime']} s, grace period {p['grace_period']} s, "
        f"shock threshold {p['shock_threshold_bps'] / 100:g}%, liquidation penalty "
        f"{p['liquidation_penalty_bps'] / 100:g}%; "
        + "; ".join(
            f"{m['name']} MMR {m['mmr_bps'] / 100:g}% IMR {m['imr_bps'] / 100:g}%"
            for m in p["markets"]
        )
        + "; "
        + ", ".join(f"{a['name']} haircut {a['haircut_bps'] / 100:g}%" for a in p["assets"])
        + ".",
        "",
        "## Results",
        "",
        *table_markdown(report["scenarios"]),
        "",
        "Scenarios:",
        "",
        *(
            f"- **{r['name']}**: {r['description']}"
            + (" — every trader passive on insolvency." if r["all_passive"] else ".")
            for r in report["scenarios"]
        ),
        "",
        "More per scenario (JSON has every liquidation):",
        "",
        "| scenario | flags on accounts with no exposure to the moved price | closes "
        "(AccountClosed badDebt USD) | top-ups (USD) | equity seized above losses USD | "
        "keeper rewards USD | below MMR, not liquidatable: accounts / median min | "
        "underwater, not liquidatable: accounts / max min | open at end (below MMR) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["scenarios"]:
        inl, unl = r["insolvent_not_liquidatable"], r["underwater_not_liquidatable"]
        lines.append(
            f"| {r['name']} | {r['flags_unrelated']} | {r['closes']} "
            f"({r['closed_bad_debt_usd']:,.2f}) | {r['topups']} ({r['topup_usd']:,.2f}) | "
            f"{r['seized_excess_usd']:,.2f} | {r['keeper_rewards_usd']:,.2f} | "
            f"{inl['accounts']} / {_mins(inl['median_s'])} | {unl['accounts']} / "
            f"{_mins(unl['max_s'])} | {r['open_at_end']} ({r['insolvent_open_at_end']}) |"
        )
    lines += ["", "## Largest one-block move absorbed with zero bad debt", ""]
    lines += [
        "| portfolio set | move | no pool shortfall (after penalty) up to | no bad debt up to "
        "| median account (pool) | tightest account |",
        "|---|---|---|---|---|---|",
    ]

    def pct(v: float | None) -> str:
        return "any" if v is None else f"{v:.4f}%"

    for row in report["thresholds"]["rows"]:
        lines.append(
            f"| {row['set']} | {row['move']} | {pct(row['no_shortfall_up_to_pct'])} | "
            f"{pct(row['no_bad_debt_up_to_pct'])} | "
            f"{'' if row['median_account_pct'] is None else pct(row['median_account_pct'])} | "
            f"{'' if row['tightest_account'] is None else '#' + str(row['tightest_account'])} |"
        )
    if report["confirmations"]:
        lines += ["", "On-chain confirmation (same portfolios, every trader passive):", ""]
        for c in report["confirmations"]:
            lines.append(
                f"- {c['scenario']}: expected {c['expected']} bad debt; got bad debt "
                f"{c['bad_debt_usd']:,.2f} USD, pool shortfall {c['pool_shortfall_usd']:,.2f} "
                f"USD over {c['liquidations']} liquidations: "
                f"{'confirmed' if c['confirmed'] else 'NOT CONFIRMED'}"
            )
    lines += ["", "## Definitions", "", *report["definitions"], ""]
    lines += ["## Findings", "", *(f"- {f}" for f in report["findings"]), ""]
    ids: dict[str, bool] = {}
    for r in report["scenarios"]:
        for k, v in r["identities"].items():
            ids[k] = ids.get(k, True) and v
    lines += ["## Accounting identities (checked after every scenario)", ""]
    lines += [f"- [{'x' if v else ' '}] {k}" for k, v in ids.items()]
    lines += ["", "## Population", "", *report["population"]["lines"], ""]
    return "\n".join(lines)


def definitions(spec: SystemSpec) -> list[str]:
    g, life = spec.grace_period, spec.proof_lifetime
    pen = spec.liquidation_penalty_bps / 100
    return [
        "- **Solvent** (model): the account meets maintenance margin (MMR, haircuts applied) "
        "at the *true* prices of the scenario path at that moment, with the balances the "
        "engine holds, computed exactly by `zkmargin.model.evaluate`. The true price equals the "
        "oracle's answer except while a feed is frozen (stale scenarios); the JSON records "
        "solvency at the oracle's last answer too.",
        "- **Proof accepted / refused**: an accepted `proveMargin` transaction; a refusal is a "
        "proof attempt that did not produce one: `insufficient margin` (the prover refuses: "
        "no proof exists), or the decoded revert of the engine or oracle "
        "(`OracleAdapter__StalePrice`: the engine cannot build public inputs). Traders "
        f"attempt when a shock is flagged on them (after their reaction time) and when their "
        f"proof is {REFRESH_MARGIN} s from expiring, at most once per {RETRY} s.",
        "- **Liquidation classes** (each liquidation gets exactly one):",
        *(f"  - `{k}`: {v}" for k, v in CLASS_TEXT.items()),
        f"- **Wrongful liquidation**: `Liquidated` for an account that at that block is "
        f"solvent by the model AND had kept proving within the rules: its last accepted proof "
        f"is at most {life} s old and every flagged shock since then is at most {g} s old "
        "(checked from the account state read before the liquidation, independently of "
        "`liquidatable()`). Must be 0. Solvent accounts liquidated for other reasons are "
        "counted in the other `solvent_*` classes, never hidden.",
        "- **Bad debt** of a liquidated account: the negative part of its raw equity at the "
        "true prices of the liquidation block, i.e. max(0, losses - collateral value), with "
        "collateral valued without haircut (as `close` values it); plus every "
        "`AccountClosed.badDebt` (uncovered loss at close, from the event).",
        f"- **Pool shortfall**: the pool is the counterparty of every position; at a "
        f"liquidation it receives the balances minus the {pen:g}% keeper penalty. Shortfall = "
        "max(0, losses - value of what the pool received), at the same prices (from the "
        "`Liquidated` event amounts); plus `AccountClosed.badDebt`. It is >= bad debt.",
        "- **Equity seized above losses**: for liquidated accounts with positive raw equity, "
        "what the trader lost beyond its losses (liquidation seizes every balance).",
        "- **Below MMR, not liquidatable**: time an open account spent below MMR (model, true "
        f"prices) while `liquidatable()` was false, sampled at every {STEP} s step; "
        "**underwater**: raw equity < 0.",
        "- **Largest move absorbed**: for a fixed set of portfolios that have just proved at "
        "the base prices (entries = base prices, balances as deposited), a one-block move of "
        "x on ETH and BTC together (USDC fixed); every account below MMR after the move is "
        "liquidated at the moved price (the price stays there: a flag + grace or a lapse later). "
        "bad_debt(x) and shortfall(x) are sums of per-account terms that are linear in x "
        "past the account's own threshold, so 'some bad debt' is monotone in x; the smallest "
        "such x is found by bisection on the exact integer model to 1e-6 (0.0001%). The "
        "'scaled to exactly MMR' set shrinks every account's collateral (same mix) until "
        "equity = MMR requirement: the weakest state in which a maintenance proof exists, "
        "so its threshold is what the parameters guarantee per proving window. The random "
        "set's bracket is then replayed on-chain with real proofs.",
    ]


def _lag_liquidations(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Liquidations of accounts below MMR at the true price but not at the oracle's."""
    return [x for x in r["liquidation_records"] if not x["solvent_true"] and x["solvent_oracle"]]


def findings(report: Mapping[str, Any], spec: SystemSpec) -> list[str]:
    out = []
    scenarios = report["scenarios"]
    threshold = spec.shock_threshold_bps / 100
    wrongful = sum(r["wrongful_liquidations"] for r in scenarios)
    total = sum(r["liquidations"] for r in scenarios)
    out.append(f"Wrongful liquidations: {wrongful} over {total} liquidations in all scenarios.")
    classes: Counter[str] = Counter()
    for r in scenarios:
        classes.update(r["liquidations_by_class"])
    solvent = {k: v for k, v in classes.items() if k != "insolvent"}
    if solvent:
        out.append(
            "Solvent but liquidated: "
            + ", ".join(f"{v} {k}" for k, v in sorted(solvent.items()))
            + ". Liquidation seizes every balance, so a solvent (or barely insolvent) account "
            "loses its whole collateral, not just its deficit; equity seized above losses "
            f"totals {sum(r['seized_excess_usd'] for r in scenarios):,.0f} USD over all "
            "scenarios (keeper rewards included)."
        )
    for r in scenarios:
        inl, unl = r["insolvent_not_liquidatable"], r["underwater_not_liquidatable"]
        if r["flags"] == 0 and inl["max_s"] > spec.grace_period + STEP:
            out.append(
                f"{r['name']}: no flag was possible (a move of at most {threshold:g}% is no "
                f"shock: the engine needs strictly more), so {inl['accounts']} accounts stayed "
                f"below MMR for up to {inl['max_s'] / 60:.0f} min"
                + (
                    f", {unl['accounts']} of them underwater for up to {unl['max_s'] / 60:.0f} min,"
                    if unl["accounts"]
                    else ""
                )
                + " without being liquidatable, until their proofs lapsed."
            )
    bleed = next((r for r in scenarios if r["name"] == "bleed"), None)
    if bleed and bleed["insolvent_not_liquidatable"]["max_s"]:
        inl = bleed["insolvent_not_liquidatable"]
        out.append(
            f"bleed: {inl['accounts']} accounts went below MMR before the price had moved "
            f"{threshold:g}% from their last proof and stayed unliquidatable for up to "
            f"{inl['max_s'] / 60:.0f} min (median {inl['median_s'] / 60:.0f} min)."
        )
    rows = {(r["set"], r["move"]): r for r in report["thresholds"]["rows"]}
    mmr = rows.get(("random set, each scaled to exactly MMR", "fall"))
    opened = rows.get(("random set, as opened", "fall"))
    if mmr and opened:
        canon = ", ".join(
            f"{r['set'].split(': ')[1]} {r['no_shortfall_up_to_pct']:.2f}% ({r['move']})"
            for r in report["thresholds"]["rows"]
            if r["set"].startswith("one account") and r["no_shortfall_up_to_pct"] is not None
        )
        out.append(
            "Largest one-block fall absorbed with no pool shortfall: "
            f"{opened['no_shortfall_up_to_pct'] or 0:.2f}% for the random set as opened, "
            f"{mmr['no_shortfall_up_to_pct'] or 0:.2f}% if every account sits exactly at MMR "
            f"(single positions at MMR: {canon}); about MMR x (1 - penalty) for stablecoin "
            f"collateral. The shock threshold is {threshold:g}%, above every one of these: a "
            "move between them and the threshold can create bad debt that no keeper can "
            "flag; it is realised only when the proof lapses "
            f"(up to {spec.proof_lifetime // 60} min later)."
        )
    unrelated = sum(r["flags_unrelated"] for r in scenarios)
    if unrelated:
        out.append(
            f"{unrelated} flags hit accounts with no position and no balance in any moved "
            "price: every listed market slot of a cross account is public and compared, so "
            "it must re-prove on any listed market's shock (the cost of hiding which markets "
            "it trades)."
        )
    for r in scenarios:
        if not r["name"].startswith("stale"):
            continue
        stale = r["liquidations_by_class"].get("solvent_oracle_stale", 0)
        lag = _lag_liquidations(r)
        out.append(
            f"{r['name']}: {r['proofs_refused'].get('OracleAdapter__StalePrice', 0)} proof "
            f"attempts, {r['flags_refused'].get('OracleAdapter__StalePrice', 0)} flags and "
            f"{r['closes_refused'].get('OracleAdapter__StalePrice', 0)} closes refused for a "
            f"stale price; solvent, diligent accounts liquidated while unable to prove: {stale}"
            + (
                "; liquidated accounts below MMR at the true price but not at the oracle's "
                f"last answer (they had proved against the lagging feed): {len(lag)}"
                if lag
                else ""
            )
            + "."
        )
    if any(r["liquidations_by_class"].get("solvent_oracle_stale") for r in scenarios):
        out.append(
            "`liquidate()` reads no price, while `proveMargin`, `flagShock` and `close` all "
            "read every slot's price: once a feed is stale, proof lapses and old flags keep "
            "maturing into liquidations that no trader can prevent. An outage longer than "
            "the time left on the proofs (at most the proof lifetime) liquidates solvent, "
            "diligent accounts."
        )
    return out


def population(portfolios: Sequence[Portfolio]) -> dict[str, Any]:
    styles = Counter(p.style.value for p in portfolios)
    tiers = Counter(p.tier for p in portfolios)
    legs = Counter(len(p.positions) for p in portfolios)
    mix = Counter("+".join(sorted(p.deposits)) for p in portfolios)
    slow = sum(not p.diligent for p in portfolios)
    lines = [
        f"- {len(portfolios)} cross accounts; positions per account: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(legs.items())),
        "- buffer over IMR at opening: "
        + ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
        + " (tight 1.03-1.25x, medium 1.25-2.5x, safe 2.5-6x)",
        "- collateral: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())),
        "- on insolvency: " + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())),
        f"- reaction to a flag: {len(portfolios) - slow} within the grace period "
        f"(30-420 s), {slow} slower (900 or 1500 s)",
    ]
    return {
        "accounts": len(portfolios),
        "styles": dict(styles),
        "tiers": dict(tiers),
        "positions_per_account": {str(k): v for k, v in legs.items()},
        "collateral": dict(mix),
        "slow_traders": slow,
        "lines": lines,
        "portfolios": [
            {
                "index": p.index,
                "positions": [
                    f"{'long' if x.long else 'short'} {x.size / 1e8:g} {x.market}"
                    for x in p.positions
                ],
                "deposits": {k: str(v) for k, v in p.deposits.items()},
                "style": p.style.value,
                "reaction_s": p.reaction,
                "tier": p.tier,
            }
            for p in portfolios
        ],
    }


def parameters(spec: SystemSpec) -> dict[str, Any]:
    return {
        "proof_lifetime": spec.proof_lifetime,
        "grace_period": spec.grace_period,
        "shock_threshold_bps": spec.shock_threshold_bps,
        "liquidation_penalty_bps": spec.liquidation_penalty_bps,
        "markets": [vars(m) for m in spec.markets],
        "assets": [{"name": a.name, "haircut_bps": a.haircut_bps} for a in spec.assets],
        "step_s": STEP,
        "refresh_margin_s": REFRESH_MARGIN,
    }


# ---------------------------------------------------------------- entry points


def simulate(
    portfolios: Sequence[Portfolio],
    scenarios: Sequence[Scenario],
    *,
    seed: int,
    confirm: bool = True,
    out_dir: Path | None = None,
    console: Console | None = None,
    prover: Prover | None = None,
) -> dict[str, Any]:
    """Run everything and write the report; returns the JSON report."""
    started = time.perf_counter()
    spec = DEFAULT_SPEC
    out = console or Console(stderr=True)

    def log(line: str) -> None:
        out.print(f"[dim]{line}")

    prover = prover or Prover(run_setup().manifest)
    th = thresholds(portfolios, spec)
    log("thresholds bisected on the model")
    results: list[dict[str, Any]] = []
    confirmations = []
    with local_system(spec) as system:
        sim = Simulation(system, prover, portfolios, seed, spec=spec, log=log)
        sim.setup()
        planned = [(s, None) for s in scenarios]
        extra = confirm_scenarios(th, spec) if confirm else []
        for scenario, expect in [*planned, *extra]:
            res = sim.run(scenario).to_json()
            results.append(res)
            log(
                f"{scenario.name}: {res['proofs_accepted']} proofs, {res['liquidations']} "
                f"liquidations, bad debt {res['bad_debt_usd']:,.2f} USD in {res['seconds']:.0f} s"
            )
            if expect is not None:
                got = res["pool_shortfall_usd"] > 0 or res["bad_debt_usd"] > 0
                confirmations.append(
                    {
                        "scenario": scenario.name,
                        "expected": expect,
                        "bad_debt_usd": res["bad_debt_usd"],
                        "pool_shortfall_usd": res["pool_shortfall_usd"],
                        "liquidations": res["liquidations"],
                        "confirmed": got == (expect == "some"),
                    }
                )
        open_seconds = sim.open_seconds
    report: dict[str, Any] = {
        "zkmargin_stress_report": 1,
        "seed": seed,
        "parameters": parameters(spec),
        "population": population(portfolios),
        "scenarios": results,
        "thresholds": th,
        "confirmations": confirmations,
        "open_seconds": round(open_seconds, 1),
        "proofs_total": len(portfolios) + sum(r["proofs_accepted"] for r in results),
        "prove_seconds_total": round(sum(r["prove_seconds"] for r in results), 1),
    }
    report["definitions"] = definitions(spec)
    report["findings"] = findings(report, spec)
    report["runtime_s"] = round(time.perf_counter() - started, 1)
    directory = out_dir or build_dir() / "audit"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "stress-report.json").write_text(json.dumps(report, indent=2) + "\n")
    (directory / "stress-report.md").write_text(markdown(report))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scenarios",
        help="comma-separated names (default: all): "
        + ", ".join(s.name for s in default_scenarios()),
    )
    parser.add_argument("--no-confirm", action="store_true", help="skip the on-chain bracket")
    parser.add_argument("--out", type=Path, help="report directory (default <build>/audit)")
    args = parser.parse_args(argv)
    scenarios = default_scenarios()
    if args.scenarios:
        wanted = args.scenarios.split(",")
        unknown = set(wanted) - {s.name for s in scenarios}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        scenarios = [s for s in scenarios if s.name in wanted]
    out = Console()
    report = simulate(
        make_portfolios(args.accounts, args.seed),
        scenarios,
        seed=args.seed,
        confirm=not args.no_confirm,
        out_dir=args.out,
        console=out,
    )
    print("\n".join(table_markdown(report["scenarios"])))
    print()
    for line in report["findings"]:
        print(f"- {line}")
    directory = args.out or build_dir() / "audit"
    out.print(
        f"report: {directory / 'stress-report.md'} and .json ({report['runtime_s'] / 60:.1f} min)"
    )
    ok = all(all(r["identities"].values()) for r in report["scenarios"]) and all(
        c["confirmed"] for c in report["confirmations"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
