"""The largest one-block move a set of accounts absorbs with no bad debt (exact model).

bad_debt(x) and shortfall(x) are sums of per-account terms, each zero up to the account's
own threshold and growing past it, so "some bad debt" is monotone in the move x and a
bisection over integer millionths finds the threshold exactly to 1e-6 (0.0001 %).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from benchmarks.stress.money import MICRO, median_int, percent
from benchmarks.stress.population import Portfolio
from benchmarks.stress.scenarios import Scenario, crash_scenario
from benchmarks.stress.valuation import BASE_PRICES, asset_value, price_at, valuation
from chain.deploy import SystemSpec
from zkmargin.model import Position
from zkmargin.units import BPS_ONE, Price, Size

Holding = tuple[Sequence[Position], Mapping[str, int]]  # positions with entries, balances

CANONICAL: tuple[tuple[str, str, bool, str], ...] = (
    ("long ETH on USDC", "ETH-USD", True, "USDC"),
    ("long BTC on USDC", "BTC-USD", True, "USDC"),
    ("long ETH on WETH", "ETH-USD", True, "WETH"),
    ("short ETH on USDC", "ETH-USD", False, "USDC"),
    ("short BTC on USDC", "BTC-USD", False, "USDC"),
    ("short ETH on WETH", "ETH-USD", False, "WETH"),
)
FALL, RISE = 1, -1
CONFIRM_OFFSET = 5_000  # millionths: confirm 0.5 % inside and outside the bracket


def crash_prices(micro: int, direction: int) -> dict[str, int]:
    """Every feed but USDC/USD moved by ``micro`` millionths (down for FALL)."""
    mult = Fraction(MICRO - direction * micro, MICRO)
    return {
        feed: price_at(feed, mult if feed != "USDC/USD" else Fraction(1)) for feed in BASE_PRICES
    }


def bad_debt_at(
    holdings: Sequence[Holding], micro: int, direction: int, spec: SystemSpec
) -> tuple[int, int]:
    """(account bad debt, pool shortfall after the penalty) if every account that is below
    MMR after the move is liquidated at the moved price; margin units."""
    prices = crash_prices(micro, direction)
    penalty = spec.liquidation_penalty_bps
    debt = shortfall = 0
    for positions, balances in holdings:
        val = valuation(positions, balances, prices, spec)
        if val.solvent:
            continue
        debt += max(0, -val.raw_equity)
        to_pool = {k: v - v * penalty // BPS_ONE for k, v in balances.items()}
        shortfall += max(0, -val.raw.pnl - asset_value(to_pool, prices, spec))
    return debt, shortfall


def bisect_threshold(
    holdings: Sequence[Holding], direction: int, pool: bool, spec: SystemSpec
) -> int | None:
    """Largest move (millionths) with no bad debt (``pool``: no shortfall after the
    penalty): a fall for FALL, a rise for RISE. None: no bad debt up to a fall of
    99.9999 % or a rise of 900 %."""
    hi = MICRO - 1 if direction == FALL else 9 * MICRO

    def bad(micro: int) -> bool:
        debt, shortfall = bad_debt_at(holdings, micro, direction, spec)
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


def with_entries(p: Portfolio, spec: SystemSpec) -> Holding:
    """The portfolio as opened: entries at the base prices, balances as deposited."""
    feed = {m.name: m.feed for m in spec.markets}
    positions = tuple(
        replace(x, entry_price=Price(BASE_PRICES[feed[x.market]])) for x in p.positions
    )
    return positions, dict(p.deposits)


def _row(set_name: str, move: str, shortfall: int | None, bad_debt: int | None) -> dict[str, Any]:
    return {
        "set": set_name,
        "move": move,
        "no_shortfall_up_to_micro": shortfall,
        "no_bad_debt_up_to_micro": bad_debt,
        "no_shortfall_up_to_pct": None if shortfall is None else percent(shortfall),
        "no_bad_debt_up_to_pct": None if bad_debt is None else percent(bad_debt),
        "tightest_account": None,
        "median_account_micro": None,
        "median_account_pct": None,
    }


def thresholds(portfolios: Sequence[Portfolio], spec: SystemSpec) -> dict[str, Any]:
    """Bisect the one-block move at which bad debt first appears, per portfolio set."""
    as_opened = [with_entries(p, spec) for p in portfolios]
    scaled: list[Holding] = [(pos, at_mmr(pos, bal, spec)) for pos, bal in as_opened]
    feed = {m.name: m.feed for m in spec.markets}
    sets: list[tuple[str, Sequence[Holding]]] = [
        ("random set, as opened", as_opened),
        ("random set, each scaled to exactly MMR", scaled),
    ]
    rows = []
    for label, group in sets:
        for direction, name in ((FALL, "fall"), (RISE, "rise")):
            row = _row(
                label,
                name,
                bisect_threshold(group, direction, True, spec),
                bisect_threshold(group, direction, False, spec),
            )
            per = [bisect_threshold([x], direction, True, spec) for x in group]
            finite = [(m, i) for i, m in enumerate(per) if m is not None]
            if finite:
                median = median_int([m for m, _ in finite])
                row["tightest_account"] = min(finite)[1]
                row["median_account_micro"] = median
                row["median_account_pct"] = percent(median)
            rows.append(row)
    for label, market, long, asset in CANONICAL:
        price = BASE_PRICES[feed[market]]
        pos = (Position(market, long, Size(10**8), Price(price)),)
        unit = {"USDC": 10**6, "WETH": 10**18}[asset]
        holding: Holding = (pos, at_mmr(pos, {asset: unit}, spec))
        for direction, name in ((FALL, "fall"), (RISE, "rise")):
            rows.append(
                _row(
                    f"one account at exactly MMR: {label}",
                    name,
                    bisect_threshold([holding], direction, True, spec),
                    bisect_threshold([holding], direction, False, spec),
                )
            )
    return {"rows": rows, "resolution_pct": percent(1)}


def confirm_scenarios(th: Mapping[str, Any], spec: SystemSpec) -> list[tuple[Scenario, str]]:
    """One-block falls 0.5 % below the pool-shortfall threshold and 0.5 % above the
    bad-debt threshold of the random set (rounded to a basis point), with every trader
    passive on insolvency; each with the outcome it must show ("none" / "some")."""
    row = next(r for r in th["rows"] if r["set"] == "random set, as opened" and r["move"] == "fall")
    out = []
    for micro, delta, expect in (
        (row["no_shortfall_up_to_micro"], -CONFIRM_OFFSET, "none"),
        (row["no_bad_debt_up_to_micro"], +CONFIRM_OFFSET, "some"),
    ):
        if micro is None:
            continue
        bps = round(Fraction(micro + delta, MICRO // BPS_ONE))  # halves to even, as before
        if bps <= 0:
            continue
        size = Fraction(bps, BPS_ONE)
        # an explicit duration (the move plus the grace period), whatever the lifetime:
        # a move outside the proven sets is flagged and liquidated within it
        name = f"confirm-{bps // 100}.{bps % 100:02d}"
        out.append((crash_scenario(name, size, passive=True), expect))
    return out
