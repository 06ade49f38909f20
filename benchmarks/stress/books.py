"""Portfolio accounts of the stress population (the PortfolioEngine): the risk file the
run deploys, the seeded books, their value at given prices and the engine's move-set rule.

* :func:`stress_risk_document`: the example template (``examples/risk.json``) at the
  simulation's base prices, with the example option series (``examples/iv.json``)
  re-dated to expire ``SERIES_DAYS`` after ``now`` (the chain's clock at deployment, so
  every scenario ends long before any expiry), Black-76 marks and the fitted covariance
  from ``zkmargin.riskpublish.publish`` (as cli/demo_portfolio.py does). Only the time to
  expiry enters the marks, so the file built at :data:`REFERENCE_NOW` (which sizes the
  population, a pure function of the seed) has the same marks as the deployed one.
* :func:`make_books`: seeded portfolio accounts: covered calls, protective puts, long-short
  perpetual hedges and short strangles on ETH and BTC, USDC or USDC + WETH collateral,
  a buffer over the initial requirement (λ_IM, ``zkmargin.portfolio.evaluate``) drawn
  from the same tiers as the cross accounts.
* :func:`book_value`: an account at given feed prices, options at the epoch's marks (what a
  proof counts; the simulation publishes no new epoch). What close, liquidation and reclaim
  realise is ``pfchain.settled_value``: options from the oracle's move since the
  publication (``zkmargin.settlement``, the engine's rule).
* :func:`pf_outside`: ``PortfolioRisk.outside`` on integers (ellipsoid ‖L⁻¹Δ‖ against
  λ_MM·(1 − penalty), collateral drops), compared with ``flaggable()`` at every keeper read.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from math import isqrt
from typing import Any

from benchmarks.stress.population import (
    FAST_REACTIONS,
    SLOW_REACTIONS,
    TIERS,
    Style,
    log_uniform,
    size_of,
    uniform,
)
from benchmarks.stress.timing import STEP
from benchmarks.stress.valuation import BASE_PRICES, normalised
from chain.deploy import DEFAULT_SPEC, SystemSpec
from zkmargin.amounts import format_fixed
from zkmargin.jsonio import read_json_file
from zkmargin.paths import project_root
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    PortfolioPosition,
    PortfolioReport,
    evaluate,
)
from zkmargin.riskfile import RiskFile, parse_risk_file
from zkmargin.units import BPS_ONE, PRICE_DECIMALS, Price, Size

SERIES_DAYS = 30  # series expire this long after the deployment's clock
REFERENCE_NOW = 1_767_225_600  # 2026-01-01: the population's risk file (same marks)
PORTFOLIO_GRACE = 600  # PortfolioSpec().grace_period
STRATEGIES = ("covered call", "protective put", "long-short hedge", "short strangle")
SHARE = 5  # one account in SHARE is a portfolio account


def series_name(underlying: str, strike: str, kind: str) -> str:
    return f"{underlying.split('-')[0]}-{strike}-{'C' if kind == 'call' else 'P'}"


def base_prices_by_name(spec: SystemSpec = DEFAULT_SPEC) -> dict[str, str]:
    """The base prices by market and asset name, as quote text (the risk file's prices)."""
    out = {m.name: format_fixed(BASE_PRICES[m.feed], PRICE_DECIMALS) for m in spec.markets}
    return out | {a.name: format_fixed(BASE_PRICES[a.feed], PRICE_DECIMALS) for a in spec.assets}


def stress_risk_document(now: int) -> dict[str, Any]:
    """The risk file (JSON) the stress deployment publishes (see the module docstring)."""
    from zkmargin.riskpublish import parse_iv_file, parse_market_map, publish
    from zkmargin.volatility import load_history

    root = project_root()
    template: dict[str, Any] = read_json_file(root / "examples" / "risk.json", "template")
    iv_doc: dict[str, Any] = read_json_file(root / "examples" / "iv.json", "iv file")
    expiry = now + SERIES_DAYS * 86_400
    stamp = dt.datetime.fromtimestamp(expiry, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    iv_new = {
        series_name(e["underlying"], e["strike"], e["kind"]): {**e, "expiry": stamp}
        for e in iv_doc.values()
    }
    template = {**template, "prices": base_prices_by_name(), "options": {}}
    history = load_history(root / "data" / "sp500_nasdaq_daily.csv")
    markets = parse_risk_file(template, "template").market_names
    mapping = parse_market_map("ETH-USD=NASDAQ,BTC-USD=SP500", markets, history)
    document: dict[str, Any] = publish(
        history, template, parse_iv_file(iv_new), mapping=mapping, now=now
    ).document
    return document


@cache
def reference_risk() -> RiskFile:
    return parse_risk_file(stress_risk_document(REFERENCE_NOW), "stress risk file")


# ---------------------------------------------------------------- the population


@dataclass(frozen=True)
class Book:
    """A portfolio account: positions (entries set at opening), deposits, behaviour.

    Same behaviour fields as :class:`benchmarks.stress.population.Portfolio`."""

    index: int
    strategy: str
    positions: tuple[PortfolioPosition, ...]
    deposits: Mapping[str, int]  # asset -> token base units
    style: Style
    reaction: int
    reserve: int  # USDC base units in the wallet (defenders)
    tier: str

    @property
    def diligent(self) -> bool:
        return self.reaction + STEP < PORTFOLIO_GRACE


def split_accounts(count: int) -> tuple[int, int]:
    """(cross, portfolio): one account in :data:`SHARE` is a portfolio account."""
    books = count // SHARE
    return count - books, books


def _pos(instrument: str, option: bool, long: bool, size: Size) -> PortfolioPosition:
    return PortfolioPosition(instrument, option, long, size, Price(1))


def _strategy(rng: random.Random, strategy: str, notional: Fraction) -> list[PortfolioPosition]:
    eth = uniform(rng) < Fraction(3, 5)
    market = "ETH-USD" if eth else "BTC-USD"
    feed = "ETH/USD" if eth else "BTC/USD"
    digits = 6 if eth else 7
    price = Fraction(BASE_PRICES[feed], 10**PRICE_DECIMALS)
    q = size_of(notional / price, digits)
    call, put = ("ETH-2500-C", "ETH-1700-P") if eth else ("BTC-65000-C", "BTC-55000-P")
    if strategy == "covered call":
        return [_pos(market, False, True, q), _pos(call, True, False, q)]
    if strategy == "protective put":
        return [_pos(market, False, True, q), _pos(put, True, True, q)]
    if strategy == "short strangle":
        return [_pos(call, True, False, q), _pos(put, True, False, q)]
    # long-short hedge: long one perpetual, short the other, similar notionals
    other, ofeed, odigits = ("BTC-USD", "BTC/USD", 7) if eth else ("ETH-USD", "ETH/USD", 6)
    oprice = Fraction(BASE_PRICES[ofeed], 10**PRICE_DECIMALS)
    ratio = uniform(rng, Fraction(1, 2), Fraction(3, 2))
    return [
        _pos(market, False, True, q),
        _pos(other, False, False, size_of(notional * ratio / oprice, odigits)),
    ]


def at_marks(
    positions: Sequence[PortfolioPosition], risk: RiskFile
) -> tuple[PortfolioPosition, ...]:
    """Entries at the risk file's marks (what ``plan_open`` does at the engine's)."""
    out = []
    for p in positions:
        entry = risk.options[p.instrument].mark if p.option else risk.prices[p.instrument]
        out.append(PortfolioPosition(p.instrument, p.option, p.long, p.size, entry))
    return tuple(out)


def make_books(count: int, seed: int, first_index: int) -> list[Book]:
    """``count`` seeded portfolio accounts, indices from ``first_index`` (after the cross
    accounts); a stream of their own, so the cross population is the same as without."""
    rng = random.Random(f"{seed}/portfolio")  # noqa: S311 -- a reproducible simulation
    risk = reference_risk()
    return [_book(rng, first_index + j, risk) for j in range(count)]


def _book(rng: random.Random, index: int, risk: RiskFile) -> Book:
    strategy = rng.choice(STRATEGIES)
    notional = log_uniform(rng, 5_000, 100_000)
    positions = at_marks(_strategy(rng, strategy, notional), risk)
    draw = uniform(rng)
    tier, low, high = next((n, lo, hi) for n, below, lo, hi in TIERS if draw < below)
    buffer = uniform(rng, low, high)
    weth_share = (
        uniform(rng, Fraction(1, 5), Fraction(4, 5)) if uniform(rng) < Fraction(2, 5) else 0
    )
    deposits = size_deposits(positions, buffer, Fraction(weth_share), risk)
    style = rng.choices(list(Style), weights=(25, 35, 40))[0]
    reaction = (
        rng.choice(FAST_REACTIONS)
        if uniform(rng) < Fraction(85, 100)
        else rng.choice(SLOW_REACTIONS)
    )
    requirement = book_report(positions, deposits, risk, PortfolioMode.INITIAL).requirement
    target = Fraction(requirement, 10**30) * buffer  # USD
    reserve = math.ceil(target / 2) * 10**6 if style is Style.DEFENDER else 0
    return Book(index, strategy, positions, deposits, style, reaction, reserve, tier)


def size_deposits(
    positions: Sequence[PortfolioPosition], buffer: Fraction, weth_share: Fraction, risk: RiskFile
) -> dict[str, int]:
    """Deposits whose equity at λ_IM is at least ``buffer`` x the initial requirement
    (exact: USDC adds equity and no exposure), ``weth_share`` of it first in WETH."""
    usdc_unit = 10 ** (30 - 6)  # margin units (1e-30 USD) per 1e-6 USDC at 1 USD
    deposits = {"USDC": 0, "WETH": 0}
    if weth_share:
        need = book_report(positions, deposits, risk, PortfolioMode.INITIAL).requirement * buffer
        haircut = risk.collateral["WETH"].haircut_bps
        per_weth = 10**12 * risk.prices["WETH"] * (BPS_ONE - haircut)  # margin units / 1e-6 WETH
        deposits["WETH"] = math.ceil(need * weth_share / per_weth) * 10**12
    report = book_report(positions, deposits, risk, PortfolioMode.INITIAL)
    short = math.ceil(report.requirement * buffer) - report.equity
    deposits["USDC"] = max(0, -(-short // usdc_unit))
    return {k: v for k, v in deposits.items() if v}


# ---------------------------------------------------------------- value


def priced(risk: RiskFile, prices: Mapping[str, int], spec: SystemSpec = DEFAULT_SPEC) -> RiskFile:
    """``risk`` with market and asset prices from the feeds (1e-8 quote); marks unchanged."""
    from dataclasses import replace

    new = {m.name: Price(prices[m.feed]) for m in spec.markets}
    new |= {a.name: Price(prices[a.feed]) for a in spec.assets}
    return replace(risk, prices=new)


def book_report(
    positions: Sequence[PortfolioPosition],
    balances: Mapping[str, int],
    risk: RiskFile,
    mode: PortfolioMode,
    spec: SystemSpec = DEFAULT_SPEC,
) -> PortfolioReport:
    account = PortfolioAccount(0, 1, normalised(balances, spec), tuple(positions))
    return evaluate(account, risk, mode)


@dataclass(frozen=True)
class BookValue:
    maintenance: PortfolioReport  # λ_MM, haircuts: what a maintenance proof claims
    raw_equity: int  # margin units: collateral without haircut + pnl at the marks

    @property
    def solvent(self) -> bool:
        return self.maintenance.solvent

    @property
    def pnl(self) -> int:
        return self.maintenance.gains - self.maintenance.losses


def book_value(
    positions: Sequence[PortfolioPosition],
    balances: Mapping[str, int],
    prices: Mapping[str, int],
    risk: RiskFile,
    spec: SystemSpec = DEFAULT_SPEC,
) -> BookValue:
    """The account at feed ``prices`` (options at ``risk``'s marks), at MAINTENANCE."""
    at = priced(risk, prices, spec)
    report = book_report(positions, balances, at, PortfolioMode.MAINTENANCE, spec)
    raw = sum(b * at.prices[name] * BPS_ONE for name, b in normalised(balances, spec).items())
    return BookValue(report, raw + report.gains - report.losses)


# ---------------------------------------------------------------- the move set

U64 = 2**64 - 1
S = 10**12
MAX_MOVE = 14 * S
MARKET_SLOTS = 4  # K in PortfolioRisk.sol


def word_price(words: Sequence[int], i: int) -> int:
    """Price slot ``i`` (markets 0..3, then assets) of two price words."""
    return (words[i // 3] >> (64 * (i % 3))) & U64


def _tdiv(a: int, b: int) -> int:
    """Solidity's int256 division: truncated toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _solve(ell: Sequence[Sequence[int]], n: int, d: int, v: Sequence[int]) -> list[int]:
    w = [0] * n
    for k in range(n):
        acc = v[k] * d
        for m in range(k):
            acc -= ell[k][m] * w[m]
        w[k] = _tdiv(acc, ell[k][k])
    return w


def _ceil_sqrt(x: int) -> int:
    r = isqrt(x)
    return r + (r * r < x)


def slot_prices(prices: Mapping[str, int], spec: SystemSpec = DEFAULT_SPEC) -> list[int]:
    """Feed prices in the engine's slot order: markets (4 slots), then assets."""
    markets = [prices[m.feed] for m in spec.markets]
    return markets + [0] * (MARKET_SLOTS - len(markets)) + [prices[a.feed] for a in spec.assets]


def pf_outside(
    proven_words: Sequence[int],
    prices: Mapping[str, int],
    risk: RiskFile,
    penalty_bps: int,
    spec: SystemSpec = DEFAULT_SPEC,
) -> bool:
    """``PortfolioRisk.outside``: the current feed prices left the move set the proof at
    ``proven_words`` certified, shrunk by the penalty (exact integer copy)."""
    shrink = BPS_ONE - penalty_bps
    current = slot_prices(prices, spec)
    proven = [word_price(proven_words, i) for i in range(len(current))]
    n = len(spec.markets)
    ell = risk.cholesky_bps
    delta = [0] * n
    d = 1
    for k in range(n):
        p, q = proven[k], current[k]
        if p == 0:
            continue
        delta[k] = _tdiv((q - p) * S, p)
        if delta[k] > MAX_MOVE:
            return True
        d *= ell[k][k]
    frob = 0
    for j in range(n):
        col = _solve(ell, n, d, [1 if i == j else 0 for i in range(n)])
        frob += sum(c * c for c in col)
    bound = risk.lambda_mm_bps * shrink * d + _ceil_sqrt(n * frob)
    w = _solve(ell, n, d, delta)
    if any(abs(x) > bound for x in w) or sum(x * x for x in w) > bound * bound:
        return True
    names = list(risk.markets)
    for c, coll in enumerate(risk.collateral.values()):
        p, q = proven[MARKET_SLOTS + c], current[MARKET_SLOTS + c]
        h = coll.haircut_bps * shrink
        if coll.risk_factor is None:
            if p > q and (p - q) * 10**8 > h * p:
                return True
            continue
        f = names.index(coll.risk_factor)
        pk, qk = proven[f], current[f]
        if qk * p > q * pk and (qk * p - q * pk) * 10**8 > h * p * pk:
            return True
    return False
