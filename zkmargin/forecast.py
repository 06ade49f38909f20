"""Predictive liquidation: how likely an account is to leave its proven move set, to become
liquidatable or insolvent within a horizon, where each market's liquidation price lies,
and what top-up or size reduction keeps the 24 h liquidation chance under a target.

Exactness. Every verdict on the account (liquidatable: equity < maintenance requirement;
insolvent: equity < 0) comes from the exact model. :func:`zkmargin.model.evaluate` is
affine in the prices (each market's, and each collateral asset's), so :func:`linear_forms`
reads its integer coefficients off ``evaluate`` itself (one evaluation per moving price
plus one); on a simulated path, prices are rounded to the integer unit (1e-8 quote) and the
affine form is evaluated in floats only where the float's error bound cannot flip the sign,
and in exact Python integers everywhere else. Liquidation prices are found by bisection
on integer prices calling ``evaluate`` directly. Floats carry statistics only:
volatilities, correlations, simulated moves and the probabilities counted from them.

Model. Relative moves are log-normal (EWMA, normal innovations) or Student-t scale
mixtures (GARCH(1,1)-t: one chi-square mixing draw per sample and history step, shared by
every market, so each step's joint move is multivariate t with the fitted correlation).
Paths are monitored hourly up to 24 h and every 6 h after, so "within h" means "at some
monitored time up to h"; probabilities are therefore non-decreasing in the horizon.

Collateral. An asset priced by a market's feed (``risk_factor`` in the market file: WETH
by ETH-USD) moves with that market, on the same draw; an asset with its own feed moves
with its own fitted volatility, correlated with the markets, when the history has a
series for it (``--series USDC=SERIES``, or a series of its name); otherwise it is held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from zkmargin.amounts import format_fixed
from zkmargin.errors import InputError
from zkmargin.model import Account, MarketData, Mode, Position, evaluate
from zkmargin.units import (
    BALANCE_BITS,
    BALANCE_DECIMALS,
    BPS_ONE,
    POSITION_SCALE,
    PRICE_BITS,
    PRICE_DECIMALS,
    Balance,
    Price,
    Size,
)
from zkmargin.volatility import MIN_RETURNS, FloatArray, PriceHistory, VolFit, correlation

IntArray = npt.NDArray[np.int64]

DEFAULT_SAMPLES = 10_000
DEFAULT_SEED = 20_260_101
DEFAULT_HORIZONS_H: tuple[float, ...] = (1.0, 8.0, 24.0)
ADVICE_HORIZON_H = 24.0
TIME_CAP_H = 30 * 24.0  # expected time to liquidation is a mean restricted to 30 days
MAX_PRICE = 2**PRICE_BITS - 1
FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


# ---------------------------------------------------------------- the exact affine form


@dataclass(frozen=True)
class LinearForm:
    """``value(P) = const + sum_k slope[k] * P[k]`` in margin units (1e-30 quote), exact,
    for the prices named in ``markets`` (markets, and collateral assets that move) with
    every other price held at the market file's."""

    markets: tuple[str, ...]
    const: int
    slopes: tuple[int, ...]

    def at(self, prices: Sequence[int]) -> int:
        return self.const + sum(s * p for s, p in zip(self.slopes, prices, strict=True))


def account_markets(account: Account) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for pos in account.positions:
        seen.setdefault(pos.market, None)
    return tuple(seen)


def with_prices(data: MarketData, prices: Mapping[str, int]) -> MarketData:
    merged = dict(data.prices)
    merged.update({k: Price(v) for k, v in prices.items()})
    return replace(data, prices=merged)


def moving_prices(
    account: Account, data: MarketData, factors: Sequence[str]
) -> tuple[tuple[str, str], ...]:
    """(price name, simulated factor it moves with): the account's markets, then each held
    collateral asset priced by a factor's feed (``risk_factor``) or simulated on its own."""
    out = [(m, m) for m in account_markets(account)]
    for asset, balance in account.collateral.items():
        factor = data.collateral[asset].risk_factor
        if balance and factor is not None and factor in factors:
            out.append((asset, factor))
        elif balance and asset in factors:
            out.append((asset, asset))
    return tuple(out)


def linear_forms(
    account: Account, data: MarketData, names: Sequence[str] | None = None
) -> tuple[LinearForm, LinearForm]:
    """(excess = equity - maintenance requirement, equity), read off ``evaluate``, in the
    prices ``names`` (default: the account's markets)."""
    markets = tuple(names) if names is not None else account_markets(account)
    base = evaluate(account, data, Mode.MAINTENANCE)
    ex_slopes: list[int] = []
    eq_slopes: list[int] = []
    for m in markets:
        bumped = evaluate(account, with_prices(data, {m: data.prices[m] + 1}), Mode.MAINTENANCE)
        ex_slopes.append(bumped.excess - base.excess)
        eq_slopes.append(bumped.equity - base.equity)
    p0 = [data.prices[m] for m in markets]
    ex = LinearForm(
        markets,
        base.excess - sum(s * p for s, p in zip(ex_slopes, p0, strict=True)),
        tuple(ex_slopes),
    )
    eq = LinearForm(
        markets,
        base.equity - sum(s * p for s, p in zip(eq_slopes, p0, strict=True)),
        tuple(eq_slopes),
    )
    # the forms must reproduce evaluate off the base point too (the model is affine in each
    # market price in maintenance mode; fail loudly if that ever stops being true)
    probe = {m: 2 * data.prices[m] + 7 for m in markets}
    check = evaluate(account, with_prices(data, probe), Mode.MAINTENANCE)
    point = [probe[m] for m in markets]
    if ex.at(point) != check.excess or eq.at(point) != check.equity:
        raise AssertionError("the margin model is not affine in the market prices")
    return ex, eq


def negative_mask(form: LinearForm, prices: IntArray) -> npt.NDArray[np.bool_]:
    """``form(P) < 0`` for integer prices ``prices[..., k]``, exactly: floats where their
    error bound cannot flip the sign, Python integers elsewhere."""
    if not any(form.slopes):  # no exposure: the same verdict everywhere
        return np.full(prices.shape[:-1], form.const < 0, dtype=np.bool_)
    pf = prices.astype(np.float64)
    slopes = np.asarray([float(s) for s in form.slopes], dtype=np.float64)
    value = float(form.const) + pf @ slopes
    scale = abs(float(form.const)) + pf @ np.abs(slopes)
    tol = 1e-9 * scale + 1.0
    out = value < 0
    ambiguous = np.abs(value) <= tol
    if np.any(ambiguous):
        idx = np.argwhere(ambiguous)
        for pos in idx:
            row = prices[tuple(pos)]
            out[tuple(pos)] = form.at([int(x) for x in row]) < 0
    return out


# ---------------------------------------------------------------- liquidation prices


@dataclass(frozen=True)
class LiquidationPrice:
    market: str
    price: Price  # oracle price now
    liquidation: Price | None  # first integer price (others fixed) with equity < requirement
    direction: str  # "down", "up", "now" or "none"

    @property
    def distance(self) -> Fraction | None:
        if self.liquidation is None:
            return None
        return Fraction(self.liquidation - self.price, self.price)


def moved_with(data: MarketData, market: str, price: int) -> MarketData:
    """``data`` with ``market`` at ``price`` and every collateral asset priced by its feed
    moved in proportion (rounded down, against the trader)."""
    p0 = data.prices[market]
    moved = {market: price}
    for asset, params in data.collateral.items():
        if params.risk_factor == market:
            moved[asset] = max(1, data.prices[asset] * price // p0)
    return with_prices(data, moved)


def _liquidatable(account: Account, data: MarketData, market: str, price: int) -> bool:
    return not evaluate(account, moved_with(data, market, price), Mode.MAINTENANCE).solvent


def liquidation_price(account: Account, data: MarketData, market: str) -> LiquidationPrice:
    """Bisection on integer prices with :func:`evaluate`: the price nearest the oracle's at
    which the account (other prices fixed, collateral on the market's feed moving with it,
    :func:`moved_with`) stops meeting maintenance margin."""
    p0 = data.prices[market]
    if _liquidatable(account, data, market, p0):
        return LiquidationPrice(market, p0, p0, "now")
    for direction, bound in (("down", 1), ("up", MAX_PRICE)):
        if not _liquidatable(account, data, market, bound):
            continue
        good: int = p0
        bad: int = bound  # invariant: good solvent, bad liquidatable
        while abs(bad - good) > 1:
            mid = (good + bad) // 2
            if _liquidatable(account, data, market, mid):
                bad = mid
            else:
                good = mid
        return LiquidationPrice(market, p0, Price(bad), direction)
    return LiquidationPrice(market, p0, None, "none")


# ---------------------------------------------------------------- simulation


def parse_horizons(text: str) -> tuple[float, ...]:
    """``"1h,8h,24h"`` or ``"1d,5d"`` -> hours, ascending, distinct."""
    out: list[float] = []
    for part in text.split(","):
        item = part.strip().lower()
        unit = {"h": 1.0, "d": 24.0, "m": 1.0 / 60.0}.get(item[-1:], None)
        try:
            value = float(item[:-1]) if unit is not None else float("nan")
        except ValueError:
            value = float("nan")
        if unit is None or not math.isfinite(value) or value <= 0:
            raise InputError(f"--horizon: {part.strip()!r} is not a duration like 8h or 5d")
        hours = value * unit
        if hours > 365 * 24:
            raise InputError(f"--horizon: {part.strip()!r} is longer than a year")
        out.append(hours)
    return tuple(sorted(set(out)))


def time_grid(horizons: Sequence[float], cap: float = TIME_CAP_H) -> FloatArray:
    end = max(cap, *horizons)
    points = set(np.arange(1.0, min(24.0, end) + 1e-9, 1.0).tolist())
    points.update(np.arange(24.0, end + 1e-9, 6.0).tolist())
    points.update(horizons)
    points.add(end)
    return np.asarray(sorted(p for p in points if p > 0), dtype=np.float64)


def _cumulative_variance(fit: VolFit, times: FloatArray, step_hours: float) -> FloatArray:
    """Expected cumulative variance of the log return from 0 to each time."""
    steps = math.ceil(float(times[-1]) / step_hours) + 1
    path = fit.variance_path(steps)
    cum = np.concatenate([[0.0], np.cumsum(path)])
    s = times / step_hours
    whole = np.floor(s).astype(np.int64)
    return np.asarray(cum[whole] + (s - whole) * path[whole], dtype=np.float64)


@dataclass(frozen=True)
class Paths:
    """Simulated relative prices ``ratio[s, g, k] = P_k(t_g) / P_k(0)``."""

    times: FloatArray
    ratio: FloatArray
    samples: int
    seed: int


def simulate(
    fits: Sequence[VolFit],
    corr: FloatArray,
    times: FloatArray,
    *,
    step_hours: float,
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> Paths:
    rng = np.random.default_rng(seed)
    k = len(fits)
    inc_var = np.stack(
        [np.diff(_cumulative_variance(f, times, step_hours), prepend=0.0) for f in fits], axis=-1
    )  # (G, K)
    chol = np.linalg.cholesky(corr)
    z = rng.standard_normal((samples, times.size, k)) @ chol.T
    nu = min(f.nu for f in fits)
    if math.isfinite(nu):
        starts = np.concatenate([[0.0], times[:-1]])
        step_index = np.floor(starts / step_hours + 1e-9).astype(np.int64)
        w = rng.chisquare(nu, size=(samples, int(step_index.max()) + 1))
        mix = np.sqrt((nu - 2.0) / w)[:, step_index]  # (S, G): unit-variance t scale
        z = z * mix[:, :, None]
    log_moves = np.cumsum(z * np.sqrt(np.maximum(inc_var, 0.0))[None, :, :], axis=1)
    return Paths(times=times, ratio=np.exp(log_moves), samples=samples, seed=seed)


def integer_prices(paths: Paths, base: Sequence[int]) -> IntArray:
    p0 = np.asarray(base, dtype=np.float64)
    prices = np.rint(paths.ratio * p0[None, None, :])
    return np.clip(prices, 1, float(2**63 - 1)).astype(np.int64)


def first_hit(mask: npt.NDArray[np.bool_], times: FloatArray) -> FloatArray:
    """Per sample, the first monitored time the mask holds (inf: never)."""
    hit = mask.any(axis=1)
    first = np.argmax(mask, axis=1)
    return np.where(hit, times[first], np.inf)


# ---------------------------------------------------------------- the forecast


@dataclass(frozen=True)
class HorizonRisk:
    hours: float
    leave_set: float
    liquidation: float
    insolvency: float


@dataclass(frozen=True)
class Advice:
    target: float
    horizon_hours: float
    asset: str | None
    top_up: Balance | None  # 1e-18 token units; None: no top-up can reach the target
    top_up_probability: float | None
    reduce_bps: int | None  # fraction of each position to close, in bps
    reduce_probability: float | None


@dataclass
class Forecast:
    method: str
    samples: int
    seed: int
    step_hours: float
    markets: tuple[str, ...]
    series: dict[str, str]
    fits: dict[str, VolFit]
    corr: FloatArray
    rates_bps: dict[str, int]
    horizons: list[HorizonRisk]
    liquidation_prices: list[LiquidationPrice]
    expected_hours: float  # E[min(tau, cap)]
    expected_censored: float  # share of samples not liquidated by the cap
    median_hours: float | None
    cap_hours: float
    advice: Advice | None
    fan_times: FloatArray
    fan: dict[str, FloatArray] = field(default_factory=dict)  # market -> (Q, G) price ratios
    # held collateral asset -> the simulated factor it moves with (absent: held fixed)
    collateral_moves: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def dec(p: int | None) -> str | None:
            return None if p is None else format_fixed(p, PRICE_DECIMALS)

        return {
            "model": self.method,
            "samples": self.samples,
            "seed": self.seed,
            "step_hours": self.step_hours,
            "series": self.series,
            "volatility": {
                m: {
                    "step_vol": f.step_vol,
                    "long_run_step_vol": None if math.isinf(f.long_var) else math.sqrt(f.long_var),
                    "persistence": f.persistence,
                    "nu": None if math.isinf(f.nu) else f.nu,
                }
                for m, f in self.fits.items()
            },
            "correlation": self.corr.tolist(),
            "collateral_moves_with": self.collateral_moves,
            "horizons": [
                {
                    "hours": h.hours,
                    "p_leave_set": h.leave_set,
                    "p_liquidation": h.liquidation,
                    "p_insolvent": h.insolvency,
                }
                for h in self.horizons
            ],
            "markets": [
                {
                    "market": lp.market,
                    "price": dec(lp.price),
                    "rate_bps": self.rates_bps[lp.market],
                    "liquidation_price": dec(lp.liquidation),
                    "direction": lp.direction,
                    "distance": None if lp.distance is None else float(lp.distance),
                }
                for lp in self.liquidation_prices
            ],
            "time_to_liquidation": {
                "restricted_mean_hours": self.expected_hours,
                "cap_hours": self.cap_hours,
                "share_not_liquidated_by_cap": self.expected_censored,
                "median_hours": self.median_hours,
            },
            "advice": None if self.advice is None else advice_json(self.advice),
        }


def advice_json(a: Advice) -> dict[str, Any]:
    return {
        "target": a.target,
        "horizon_hours": a.horizon_hours,
        "top_up": None
        if a.top_up is None or a.asset is None
        else {
            "asset": a.asset,
            "tokens": format_fixed(a.top_up, BALANCE_DECIMALS),
            "p": a.top_up_probability,
        },
        "reduce": None
        if a.reduce_bps is None
        else {"fraction": a.reduce_bps / BPS_ONE, "bps": a.reduce_bps, "p": a.reduce_probability},
    }


@dataclass(frozen=True)
class Scenario:
    """Everything the forecast needs besides the account: fits, correlation, paths."""

    markets: tuple[str, ...]
    fits: dict[str, VolFit]
    corr: FloatArray
    step_hours: float
    paths: Paths


def make_scenario(
    markets: Sequence[str],
    fits: Mapping[str, VolFit],
    returns: Mapping[str, FloatArray],
    horizons: Sequence[float],
    *,
    step_hours: float,
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    cap: float = TIME_CAP_H,
) -> Scenario:
    if samples < 100:
        raise InputError("--samples: at least 100")
    corr = correlation([returns[m] for m in markets])
    times = time_grid([*horizons, ADVICE_HORIZON_H], cap)
    paths = simulate(
        [fits[m] for m in markets], corr, times, step_hours=step_hours, samples=samples, seed=seed
    )
    return Scenario(tuple(markets), dict(fits), corr, step_hours, paths)


def path_prices(
    account: Account, data: MarketData, scenario: Scenario, upto: float | None = None
) -> tuple[tuple[str, ...], IntArray]:
    """The moving prices' names and their integer prices on every path (monitored times up
    to ``upto`` hours): each name's oracle price times its factor's simulated ratio."""
    moving = moving_prices(account, data, scenario.markets)
    missing = [m for m in account_markets(account) if m not in scenario.markets]
    if missing:
        raise InputError(f"the scenario simulates no path for market {missing[0]}")
    index = [scenario.markets.index(f) for _, f in moving]
    paths = scenario.paths
    keep = paths.times <= (upto if upto is not None else math.inf) + 1e-9
    ratio = paths.ratio[:, keep, :][:, :, index]
    base = [data.prices[n] for n, _ in moving]
    prices = integer_prices(Paths(paths.times[keep], ratio, paths.samples, paths.seed), base)
    return tuple(n for n, _ in moving), prices


def _hit_times(
    account: Account, data: MarketData, scenario: Scenario, prices: IntArray
) -> tuple[FloatArray, FloatArray]:
    names = tuple(n for n, _ in moving_prices(account, data, scenario.markets))
    ex, eq = linear_forms(account, data, names)
    return (
        first_hit(negative_mask(ex, prices), scenario.paths.times),
        first_hit(negative_mask(eq, prices), scenario.paths.times),
    )


def liquidation_probability(
    account: Account, data: MarketData, scenario: Scenario, hours: float = ADVICE_HORIZON_H
) -> float:
    """Share of the scenario's paths on which ``account`` is liquidatable by ``hours``."""
    if not evaluate(account, data, Mode.MAINTENANCE).solvent:
        return 1.0
    names, prices = path_prices(account, data, scenario, hours)
    ex, _ = linear_forms(account, data, names)
    return float(negative_mask(ex, prices).any(axis=1).mean())


def run_forecast(
    account: Account,
    data: MarketData,
    scenario: Scenario,
    horizons: Sequence[float],
    *,
    series: Mapping[str, str],
    target: float | None = 0.01,
) -> Forecast:
    markets = account_markets(account)
    if not markets:
        raise InputError("the account has no positions: nothing to forecast")
    paths = scenario.paths
    _, prices = path_prices(account, data, scenario)
    rates = {m: int(data.markets[m].mmr_bps) for m in markets}
    # the proven set: each market within its MMR, each moving collateral asset not down
    # by more than its haircut (the engine's rule, without the penalty's shrink)
    moving = moving_prices(account, data, scenario.markets)
    up = np.asarray([rates[n] / BPS_ONE if n in rates else math.inf for n, _ in moving])
    down = (
        np.asarray([rates[n] if n in rates else data.collateral[n].haircut_bps for n, _ in moving])
        / BPS_ONE
    )
    ratio = paths.ratio[:, :, [scenario.markets.index(f) for _, f in moving]]
    outside: npt.NDArray[np.bool_] = np.asarray(
        ((ratio - 1.0 > up[None, None, :]) | (1.0 - ratio > down[None, None, :])).any(axis=2)
    )
    t_out = first_hit(outside, paths.times)
    t_liq, t_ins = _hit_times(account, data, scenario, prices)
    now = evaluate(account, data, Mode.MAINTENANCE)
    if not now.solvent:
        t_liq = np.zeros_like(t_liq)
    if now.equity < 0:
        t_ins = np.zeros_like(t_ins)
    risks = [
        HorizonRisk(
            hours=h,
            leave_set=float((t_out <= h + 1e-9).mean()),
            liquidation=float((t_liq <= h + 1e-9).mean()),
            insolvency=float((t_ins <= h + 1e-9).mean()),
        )
        for h in horizons
    ]
    cap = float(paths.times[-1])
    capped = np.minimum(t_liq, cap)
    median = float(np.median(t_liq)) if np.isfinite(np.median(t_liq)) else None
    fan = {
        m: np.quantile(paths.ratio[:, :, scenario.markets.index(m)], FAN_QUANTILES, axis=0)
        for m in markets
    }
    return Forecast(
        method=next(iter(scenario.fits.values())).method,
        samples=paths.samples,
        seed=paths.seed,
        step_hours=scenario.step_hours,
        markets=markets,
        series=dict(series),
        fits=dict(scenario.fits),
        corr=scenario.corr,
        rates_bps=rates,
        horizons=risks,
        liquidation_prices=[liquidation_price(account, data, m) for m in markets],
        expected_hours=float(capped.mean()),
        expected_censored=float(np.isinf(t_liq).mean()),
        median_hours=median,
        cap_hours=cap,
        advice=None if target is None else advise(account, data, scenario, target),
        fan_times=paths.times,
        fan=fan,
        collateral_moves={n: f for n, f in moving if n not in rates},
    )


# ---------------------------------------------------------------- advice


def topped_up(account: Account, asset: str, amount: int) -> Account:
    collateral = dict(account.collateral)
    collateral[asset] = Balance(collateral.get(asset, 0) + amount)
    return replace(account, collateral=collateral)


def reduced(account: Account, data: MarketData, bps: int) -> Account | None:
    """Close ``bps`` of each position at the oracle price; the realized profit or loss
    settles in the first collateral asset (rounded down, against the trader, to the
    token's unit). ``None`` when the realized loss exceeds that balance."""
    asset = (
        next(iter(data.collateral)) if not account.collateral else next(iter(account.collateral))
    )
    unit = 10 ** (BALANCE_DECIMALS - data.collateral[asset].decimals)
    asset_value = data.prices[asset] * BPS_ONE  # margin units per 1e-18 token, before haircut
    realized = 0
    positions: list[Position] = []
    for pos in account.positions:
        closed = pos.size * bps // BPS_ONE
        price = data.prices[pos.market]
        move = price - pos.entry_price if pos.long else pos.entry_price - price
        realized += POSITION_SCALE * closed * move
        positions.append(replace(pos, size=Size(pos.size - closed)))
    delta = realized // asset_value
    delta = delta // unit * unit
    balance = account.collateral.get(asset, 0) + delta
    if balance < 0 or balance >= 2**BALANCE_BITS:
        return None
    collateral = dict(account.collateral)
    collateral[asset] = Balance(balance)
    return replace(account, collateral=collateral, positions=tuple(positions))


def advise(account: Account, data: MarketData, scenario: Scenario, target: float) -> Advice:
    """The smallest top-up of the first collateral asset (in its token unit) and the
    smallest fraction (bps) of every position to close that bring the scenario's 24 h
    liquidation probability to ``target`` or below; each found by bisection, each step
    re-deciding every path with the exact model's affine form."""
    if not 0 <= target < 1:
        raise InputError("--target: must be in [0%, 100%)")
    asset = next(iter(account.collateral), None) or next(iter(data.collateral), None)
    h = ADVICE_HORIZON_H

    def p_of(acct: Account) -> float:
        return liquidation_probability(acct, data, scenario, h)

    top_up: int | None = None
    p_top: float | None = None
    if asset is not None and data.collateral[asset].haircut_bps < BPS_ONE:
        unit = 10 ** (BALANCE_DECIMALS - data.collateral[asset].decimals)
        room = (2**BALANCE_BITS - 1 - account.collateral.get(asset, 0)) // unit
        if p_of(account) <= target:
            top_up, p_top = 0, p_of(account)
        else:
            hi = 1
            while hi <= room and p_of(topped_up(account, asset, hi * unit)) > target:
                hi *= 2
            if hi <= room or p_of(topped_up(account, asset, room * unit)) <= target:
                hi = min(hi, room)
                lo = hi // 2  # p(lo * unit) > target (or lo == 0, checked above)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if p_of(topped_up(account, asset, mid * unit)) > target:
                        lo = mid
                    else:
                        hi = mid
                top_up = hi * unit
                p_top = p_of(topped_up(account, asset, top_up))

    reduce_bps: int | None = None
    p_red: float | None = None

    def p_red_of(bps: int) -> float:
        acct = reduced(account, data, bps)
        return 1.0 if acct is None else p_of(acct)

    if p_red_of(0) <= target:
        reduce_bps, p_red = 0, p_red_of(0)
    elif p_red_of(BPS_ONE) <= target:
        lo, hi = 0, BPS_ONE
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if p_red_of(mid) > target:
                lo = mid
            else:
                hi = mid
        reduce_bps, p_red = hi, p_red_of(hi)
    return Advice(
        target=target,
        horizon_hours=h,
        asset=asset,
        top_up=None if top_up is None else Balance(top_up),
        top_up_probability=p_top,
        reduce_bps=reduce_bps,
        reduce_probability=p_red,
    )


def parse_percent(text: str, option: str = "--target") -> float:
    item = text.strip()
    try:
        value = float(item[:-1]) / 100 if item.endswith("%") else float(item)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a percentage like 1%") from None
    if not math.isfinite(value) or not 0 <= value < 1:
        raise InputError(f"{option}: {text!r} must be in [0%, 100%)")
    return value


# ---------------------------------------------------------------- from a price history


def map_series(
    markets: Sequence[str],
    names: Sequence[str],
    pairs: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> dict[str, str]:
    """Market -> history series: ``MARKET=SERIES`` pairs first, then a series of the
    market's own name, then the remaining series in file order (the output says which).
    An ``optional`` name (collateral with its own feed) is mapped only by a pair or a
    series of its own name; otherwise it is left out (its price is held)."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        market, sep, name = pair.partition("=")
        if not sep or (market not in markets and market not in optional):
            raise InputError(
                f"--series: {pair!r} is not MARKET=SERIES for a market or collateral asset "
                "of the account"
            )
        if name not in names:
            raise InputError(f"--series: the history has no series {name!r} ({', '.join(names)})")
        mapping[market] = name
    for m in [*markets, *optional]:
        if m not in mapping and m in names:
            mapping[m] = m
    spare = [n for n in names if n not in mapping.values()]
    for m in markets:
        if m not in mapping:
            if not spare:
                raise InputError(
                    f"history: no series left for market {m} (series: {', '.join(names)}; "
                    "map one with --series MARKET=SERIES)"
                )
            mapping[m] = spare.pop(0)
    return {m: mapping[m] for m in [*markets, *optional] if m in mapping}


def fit_markets(
    history_returns: Mapping[str, FloatArray],
    mapping: Mapping[str, str],
    method: str,
    window: int,
) -> tuple[dict[str, VolFit], dict[str, FloatArray]]:
    """Fit each market's series on its trailing ``window`` returns."""
    from zkmargin.volatility import fit

    fits: dict[str, VolFit] = {}
    rets: dict[str, FloatArray] = {}
    for market, name in mapping.items():
        r = history_returns[name][-window:]
        fits[market] = fit(r, method)
        rets[market] = r
    return fits, rets


def forecast_from_history(
    account: Account,
    data: MarketData,
    history: PriceHistory,
    *,
    method: str = "ewma",
    horizons: Sequence[float] = DEFAULT_HORIZONS_H,
    window: int = 1000,
    step_hours: float = 24.0,
    samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    series_pairs: Sequence[str] = (),
    target: float | None = 0.01,
) -> Forecast:
    """Fit ``method`` to the trailing ``window`` returns of the history's series mapped to
    the account's markets, simulate, and forecast (see :func:`run_forecast`)."""
    markets = account_markets(account)
    if not markets:
        raise InputError("the account has no positions: nothing to forecast")
    if window < MIN_RETURNS:
        raise InputError(f"--window: at least {MIN_RETURNS} returns")
    if not 0 < step_hours <= 24 * 31:
        raise InputError("--step-hours: must be in (0, 744]")
    held = [a for a, b in account.collateral.items() if b]
    factors = list(markets)  # markets whose feed prices held collateral are simulated too
    for asset in held:
        factor = data.collateral[asset].risk_factor
        if factor is not None and factor not in factors:
            factors.append(factor)
    own = [a for a in held if data.collateral[a].risk_factor is None]
    mapping = map_series(factors, list(history.series), series_pairs, optional=own)
    returns = {name: history.returns(name) for name in set(mapping.values())}
    fits, rets = fit_markets(returns, mapping, method, window)
    scenario = make_scenario(
        list(mapping), fits, rets, horizons, step_hours=step_hours, samples=samples, seed=seed
    )
    return run_forecast(account, data, scenario, horizons, series=mapping, target=target)
