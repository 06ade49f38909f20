"""The risk publisher: a public risk file from a price history and implied volatilities.

Pure functions; the CLI (``zkmargin risk publish``) reads the inputs and writes the file.
Statistics and option pricing are floats; every number that reaches the risk file is
converted to its fixed-point form rounding against the trader, as argued below, and the
document is validated by :func:`zkmargin.riskfile.parse_risk_file` before anyone writes it.

Steps (``docs/portfolio.md``, "The risk publisher"):

1. Log returns per history row of the series mapped to each market; EWMA (RiskMetrics)
   covariance with decay ``decay`` (default 0.94), seeded like
   :func:`zkmargin.volatility.ewma_variance` (whose variances are its diagonal).
2. Correlations stressed toward 1: ρ' = (1 − w)·ρ + w off the diagonal.
3. Covariance of relative moves at the margin period (variance × period / row step) and
   the confidence quantile z (one-sided normal: a linear book's loss exceeds
   λ·‖Lᵀx‖ with probability 1 − confidence when λ = 1): A = z²·D·ρ'·D, in bps².
4. L = cholesky(A + c·I), rounded to integer bps. c = 2‖L‖₂·e + e², with
   e = ½·√(K(K+1)/2) ≥ ‖L̂ − L'‖₂ the rounding error, makes ‖L̂ᵀx‖ ≥ ‖chol(A)ᵀx‖ for
   every x (the rounded set contains the exact one); checked numerically as well.
5. Black-76 with the perp price as forward and r = 0 (``vollib.black``): mark rounded to
   the nearest 1e-8; δ rounded to the nearest bps; gamma charge per unit short =
   max(½·|γ|·(P·r_k)², the worst revaluation loss beyond δ over moves in [−r_k, r_k]),
   r_k = λ_IM·√(L̂L̂ᵀ)_kk the set's extent along the underlying's axis; vega charge per
   unit = the worse revaluation loss of an implied-vol shock of ±``vol_shock`` (relative)
   plus λ_IM·‖L̂‖₂·|δ − δ̂|·P, which covers the δ rounding in R for any book (R is
   λ‖L̂ᵀx‖ and a δ error moves x by q·|δ − δ̂|·P). Charges are rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import numpy as np

from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.errors import InputError
from zkmargin.jsonio import expect_mapping, expect_object
from zkmargin.riskfile import (
    CHOLESKY_MAX_BPS,
    DEFAULT_SHAPE,
    RiskFile,
    check_fits,
    format_time,
    parse_risk_file,
    parse_time,
)
from zkmargin.units import BPS_ONE, PRICE_BITS, PRICE_DECIMALS
from zkmargin.volatility import (
    MIN_RETURNS,
    RISKMETRICS_LAMBDA,
    FloatArray,
    PriceHistory,
    ewma_variance,
)

DEFAULT_DECAY: Final = RISKMETRICS_LAMBDA
DEFAULT_STRESS_WEIGHT: Final = 0.5
DEFAULT_PERIOD_H: Final = 24.0
DEFAULT_STEP_H: Final = 24.0
DEFAULT_CONFIDENCE: Final = 0.99
DEFAULT_VOL_SHOCK: Final = 0.25  # implied vol ×(1 ± 0.25)
YEAR_SECONDS: Final = 365 * 86_400
GRID_POINTS: Final = 41  # revaluation grid over [−r, r] for the gamma charge


# ---------------------------------------------------------------- parsing helpers


def parse_duration_hours(text: str, field: str = "--margin-period") -> float:
    """``"1d"``, ``"8h"``, ``"30m"`` -> hours (positive, at most a year)."""
    item = text.strip().lower()
    unit = {"h": 1.0, "d": 24.0, "m": 1.0 / 60.0}.get(item[-1:])
    try:
        value = float(item[:-1]) if unit is not None else math.nan
    except ValueError:
        value = math.nan
    if unit is None or not math.isfinite(value) or value <= 0 or value * unit > 365 * 24:
        raise InputError(f"{field}: {text!r} is not a duration like 1d, 8h or 30m")
    return value * unit


def parse_percent(text: str, field: str, *, low: float, high: float) -> float:
    """``"99%"`` or ``"0.99"`` -> 0.99, within (low, high)."""
    item = text.strip()
    try:
        value = float(item[:-1]) / 100.0 if item.endswith("%") else float(item)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low < value < high):
        raise InputError(f"{field}: {text!r} must be a fraction or percentage in ({low}, {high})")
    return value


def parse_market_map(
    text: str | None, markets: Sequence[str], history: PriceHistory
) -> dict[str, str]:
    """``"ETH-USD=NASDAQ,BTC-USD=SP500"`` -> {market: history series}; every market of the
    template must be mapped. Without ``text``: markets in file order to series in column
    order (the CLI prints the mapping either way)."""
    columns = list(history.series)
    if text is None:
        if len(columns) < len(markets):
            raise InputError(
                f"--markets: the history has {len(columns)} series for {len(markets)} "
                "markets; map them explicitly (MARKET=SERIES,...)"
            )
        return dict(zip(markets, columns, strict=False))
    mapping: dict[str, str] = {}
    for part in text.split(","):
        market, sep, series = (s.strip() for s in part.partition("="))
        if not sep or not market or not series:
            raise InputError(f"--markets: {part.strip()!r} is not MARKET=SERIES")
        if market not in markets:
            raise InputError(f"--markets: {market!r} is not a market of the template")
        if series not in history.series:
            raise InputError(
                f"--markets: {series!r} is not a series of the history ({', '.join(columns)})"
            )
        if market in mapping:
            raise InputError(f"--markets: {market!r} is mapped twice")
        mapping[market] = series
    missing = [m for m in markets if m not in mapping]
    if missing:
        raise InputError(f"--markets: market {missing[0]!r} of the template is not mapped")
    return {m: mapping[m] for m in markets}


@dataclass(frozen=True)
class IvSeries:
    underlying: str
    strike: int  # 1e-8 quote
    expiry: int  # unix seconds
    kind: str
    iv: float  # annualized implied volatility


def parse_iv_file(data: Any, what: str = "iv file") -> dict[str, IvSeries]:
    """``{"SERIES": {"underlying", "strike", "expiry", "kind", "iv"}}``; strings only."""
    root = expect_mapping(data, what)
    out: dict[str, IvSeries] = {}
    for name, raw in root.items():
        field = f"{what}: {name}"
        entry = expect_object(raw, field, {"underlying", "strike", "expiry", "kind", "iv"})
        underlying = entry["underlying"]
        if not isinstance(underlying, str):
            raise InputError(f"{field}.underlying: expected a market name string")
        kind = entry["kind"]
        if kind not in ("call", "put"):
            raise InputError(f'{field}.kind: expected "call" or "put", got {kind!r}')
        strike = parse_fixed(
            entry["strike"], PRICE_DECIMALS, field=f"{field}.strike", bits=PRICE_BITS, positive=True
        )
        iv_text = entry["iv"]
        if not isinstance(iv_text, str):
            raise InputError(f'{field}.iv: expected a decimal string such as "0.65"')
        iv = parse_percent(iv_text, f"{field}.iv", low=0.0, high=10.0)
        out[name] = IvSeries(
            underlying=underlying,
            strike=strike,
            expiry=parse_time(entry["expiry"], f"{field}.expiry"),
            kind=kind,
            iv=iv,
        )
    return out


# ---------------------------------------------------------------- statistics


def ewma_covariance(returns: FloatArray, decay: float) -> FloatArray:
    """EWMA covariance of the step after the last row of ``returns`` (T × K), seeded with
    the mean outer product of the first :data:`MIN_RETURNS` rows (the diagonal equals
    :func:`zkmargin.volatility.ewma_variance`)."""
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < MIN_RETURNS:
        raise InputError(f"history: needs at least {MIN_RETURNS} returns per series")
    cov = r[:MIN_RETURNS].T @ r[:MIN_RETURNS] / MIN_RETURNS
    for row in r:
        cov = decay * cov + (1.0 - decay) * np.outer(row, row)
    for k in range(r.shape[1]):  # the univariate filter, reused as a cross-check
        assert math.isclose(cov[k, k], float(ewma_variance(r[:, k], decay)[-1]), rel_tol=1e-9)
    return np.asarray(cov, dtype=np.float64)


def round_bps_up(value: float) -> int:
    return math.ceil(Fraction(value) * BPS_ONE)


def price_units(value: float, *, up: bool) -> int:
    """Quote (float) -> 1e-8 quote: rounded up (a charge) or to the nearest (a mark)."""
    exact = Fraction(value) * 10**PRICE_DECIMALS
    units = math.ceil(exact) if up else round(exact)
    if not 0 <= units < 2**PRICE_BITS:
        raise InputError(f"option value {value!r} is out of range for the risk file")
    return units


# ---------------------------------------------------------------- Black-76


def black76(kind: str, forward: float, strike: float, years: float, iv: float) -> float:
    from vollib.black import black  # lazy: only the publisher prices options

    return float(black(kind[0], forward, strike, years, 0.0, iv))


def black76_greeks(
    kind: str, forward: float, strike: float, years: float, iv: float
) -> tuple[float, float, float]:
    """(delta, gamma, vega per 1.00 of vol) with r = 0."""
    from vollib.black.greeks import analytical

    flag = kind[0]
    delta = float(analytical.delta(flag, forward, strike, years, 0.0, iv))
    gamma = float(analytical.gamma(flag, forward, strike, years, 0.0, iv))
    vega = float(analytical.vega(flag, forward, strike, years, 0.0, iv)) * 100.0  # per 1%
    return delta, gamma, vega


# ---------------------------------------------------------------- the publisher


@dataclass(frozen=True)
class OptionQuote:
    series: str
    underlying: str
    kind: str
    forward: float
    strike: float
    years: float
    iv: float
    value: float
    delta: float
    gamma: float
    vega: float
    move: float  # r_k, the λ_IM set's extent along the underlying's axis
    gamma_loss: float  # worst revaluation loss beyond delta over [−r, r], per unit short
    vega_loss: float  # worse loss of the ±vol shock, per unit
    delta_allowance: float  # λ_IM·‖L̂‖₂·|δ − δ̂|·P
    mark: int  # 1e-8 quote
    delta_bps: int
    gamma_charge: int
    vega_charge: int


@dataclass(frozen=True)
class Publication:
    document: dict[str, Any]  # the risk file, as written
    risk: RiskFile  # the document, parsed back
    mapping: Mapping[str, str]  # market -> history series
    decay: float
    stress_weight: float
    period_h: float
    step_h: float
    confidence: float
    z: float
    vol_shock: float
    now: int
    step_vol: tuple[float, ...]  # σ per history row
    period_vol: tuple[float, ...]  # σ at the margin period
    correlation: FloatArray  # EWMA
    stressed: FloatArray
    covariance_bps2: FloatArray  # A = z²·D·ρ'·D
    inflation_bps2: float  # c
    cholesky_float: FloatArray  # chol(A + cI)
    cholesky_bps: tuple[tuple[int, ...], ...]
    options: tuple[OptionQuote, ...]


def publish(
    history: PriceHistory,
    template: Mapping[str, Any],
    iv: Mapping[str, IvSeries],
    *,
    mapping: Mapping[str, str],
    now: int,
    decay: float = DEFAULT_DECAY,
    stress_weight: float = DEFAULT_STRESS_WEIGHT,
    period_h: float = DEFAULT_PERIOD_H,
    step_h: float = DEFAULT_STEP_H,
    confidence: float = DEFAULT_CONFIDENCE,
    vol_shock: float = DEFAULT_VOL_SHOCK,
) -> Publication:
    """Build and validate the risk file; ``template`` is a parsed risk file (JSON) whose
    markets, collateral, prices and λ_MM / λ_IM are kept, and whose Cholesky factor and
    options are replaced."""
    if not 0.0 < decay < 1.0:
        raise InputError(f"--decay: {decay} must be in (0, 1)")
    if not 0.0 <= stress_weight < 1.0:
        raise InputError(
            f"--stress-weight: {stress_weight} must be in [0, 1) (1 makes every market one "
            "factor: the covariance is singular)"
        )
    if not 0.0 < vol_shock < 1.0:
        raise InputError(f"--vol-shock: {vol_shock} must be in (0, 1)")
    base = parse_risk_file(template, "template")
    markets = base.market_names
    if list(mapping) != list(markets):
        raise InputError("--markets: every template market must be mapped, in file order")
    lam_im = base.lambda_im_bps / BPS_ONE

    # 1-3: statistics
    returns = np.column_stack([history.returns(mapping[m]) for m in markets])
    if not np.all(np.isfinite(returns)):
        raise InputError("history: returns must be finite")
    cov = ewma_covariance(returns, decay)
    step_var = np.diag(cov)
    if np.any(step_var <= 0):
        raise InputError("history: a mapped series never moves (zero variance)")
    sd = np.sqrt(step_var)
    corr = cov / np.outer(sd, sd)
    np.fill_diagonal(corr, 1.0)
    stressed = (1.0 - stress_weight) * corr + stress_weight
    np.fill_diagonal(stressed, 1.0)
    period_sd = sd * math.sqrt(period_h / step_h)
    from scipy.stats import norm  # lazy: scipy is heavy

    z = float(norm.ppf(confidence))
    a = z * z * np.outer(period_sd, period_sd) * stressed * BPS_ONE**2

    # 4: Cholesky, inflated for the rounding to integer bps
    k = len(markets)
    try:
        exact = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise InputError(
            "covariance is not positive definite (identical series or a stress weight near 1)"
        ) from None
    err = 0.5 * math.sqrt(k * (k + 1) / 2)
    c = 2.0 * float(np.linalg.norm(exact, 2)) * err + err * err
    chol_f = np.linalg.cholesky(a + c * np.eye(k))
    chol = tuple(tuple(round(float(chol_f[i, j])) for j in range(i + 1)) for i in range(k))
    for i, row in enumerate(chol):
        if any(abs(v) > CHOLESKY_MAX_BPS for v in row):
            raise InputError(
                f"Cholesky factor row {markets[i]} exceeds 10,000 bps: the move set is wider "
                "than 100% (shorten --margin-period or lower --confidence)"
            )
    rounded = np.array([[chol[i][j] if j <= i else 0 for j in range(k)] for i in range(k)], float)
    slack = np.linalg.eigvalsh(rounded @ rounded.T - a)
    if slack.min() < -1e-9 * float(np.abs(a).max()):
        raise AssertionError("rounded Cholesky factor does not cover the covariance")
    l_norm = float(np.linalg.norm(rounded, 2)) * (1 + 1e-9) / BPS_ONE
    extent = [lam_im * math.sqrt(float((rounded @ rounded.T)[i, i])) / BPS_ONE for i in range(k)]

    # 5: options
    quotes: list[OptionQuote] = []
    for name, series in iv.items():
        if series.underlying not in markets:
            raise InputError(f"iv file: {name}.underlying: {series.underlying!r} is not listed")
        if series.expiry <= now:
            raise InputError(
                f"iv file: {name}: expired at {format_time(series.expiry)} (now {format_time(now)})"
            )
        quotes.append(
            _quote(
                name,
                series,
                forward=base.prices[series.underlying] / 10**PRICE_DECIMALS,
                years=(series.expiry - now) / YEAR_SECONDS,
                move=extent[markets.index(series.underlying)],
                lam_l_norm=lam_im * l_norm,
                vol_shock=vol_shock,
            )
        )

    document = {
        "markets": template["markets"],
        "collateral": template["collateral"],
        "prices": template["prices"],
        "portfolio": {
            "cholesky_bps": [list(row) for row in chol],
            "lambda_mm_bps": base.lambda_mm_bps,
            "lambda_im_bps": base.lambda_im_bps,
        },
        "options": {
            q.series: {
                "underlying": q.underlying,
                "strike": format_fixed(iv[q.series].strike, PRICE_DECIMALS),
                "expiry": format_time(iv[q.series].expiry),
                "kind": q.kind,
                "mark": format_fixed(q.mark, PRICE_DECIMALS),
                "delta_bps": q.delta_bps,
                "gamma_charge": format_fixed(q.gamma_charge, PRICE_DECIMALS),
                "vega_charge": format_fixed(q.vega_charge, PRICE_DECIMALS),
            }
            for q in quotes
        },
    }
    risk = parse_risk_file(document, "published risk file")
    check_fits(risk, DEFAULT_SHAPE, "published risk file")
    return Publication(
        document=document,
        risk=risk,
        mapping=dict(mapping),
        decay=decay,
        stress_weight=stress_weight,
        period_h=period_h,
        step_h=step_h,
        confidence=confidence,
        z=z,
        vol_shock=vol_shock,
        now=now,
        step_vol=tuple(float(s) for s in sd),
        period_vol=tuple(float(s) for s in period_sd),
        correlation=corr,
        stressed=stressed,
        covariance_bps2=a,
        inflation_bps2=c,
        cholesky_float=chol_f,
        cholesky_bps=chol,
        options=tuple(quotes),
    )


def _quote(
    name: str,
    series: IvSeries,
    *,
    forward: float,
    years: float,
    move: float,
    lam_l_norm: float,
    vol_shock: float,
) -> OptionQuote:
    strike = series.strike / 10**PRICE_DECIMALS
    kind, sigma = series.kind, series.iv
    value = black76(kind, forward, strike, years, sigma)
    delta, gamma, vega = black76_greeks(kind, forward, strike, years, sigma)
    delta_bps = round(delta * BPS_ONE)
    delta_bps = max(-BPS_ONE, min(BPS_ONE, delta_bps))
    # gamma: the short's worst loss beyond the delta hedge over moves in [−r, r]
    grid = np.linspace(-move, move, GRID_POINTS)
    revalued = [
        black76(kind, forward * (1.0 + m), strike, years, sigma) - value - delta * forward * m
        for m in grid
        if 1.0 + m > 0
    ]
    gamma_loss = max(0.0, *revalued)
    gamma_quad = 0.5 * abs(gamma) * (forward * move) ** 2
    # vega: the worse of the two shocked vols, for either side
    up = black76(kind, forward, strike, years, sigma * (1.0 + vol_shock))
    down = black76(kind, forward, strike, years, sigma * (1.0 - vol_shock))
    vega_loss = max(abs(up - value), abs(value - down))
    allowance = lam_l_norm * abs(delta * BPS_ONE - delta_bps) / BPS_ONE * forward
    return OptionQuote(
        series=name,
        underlying=series.underlying,
        kind=kind,
        forward=forward,
        strike=strike,
        years=years,
        iv=sigma,
        value=value,
        delta=delta,
        gamma=gamma,
        vega=vega,
        move=move,
        gamma_loss=gamma_loss,
        vega_loss=vega_loss,
        delta_allowance=allowance,
        mark=price_units(value, up=False),
        delta_bps=delta_bps,
        gamma_charge=price_units(max(gamma_loss, gamma_quad), up=True),
        vega_charge=price_units(vega_loss + allowance, up=True),
    )


# ---------------------------------------------------------------- reading a risk file back


@dataclass(frozen=True)
class RiskSummary:
    """What ``zkmargin risk show`` prints, from the file alone."""

    markets: tuple[str, ...]
    cholesky: tuple[tuple[int, ...], ...]
    covariance_bps2: tuple[tuple[int, ...], ...]  # L̂L̂ᵀ, exact
    correlation: tuple[tuple[float, ...], ...]
    axis_bps: tuple[float, ...]  # √(L̂L̂ᵀ)_kk: the set's extent along k at λ = 1
    lambda_mm_extent: tuple[float, ...]  # λ_MM·axis, as a fraction
    lambda_im_extent: tuple[float, ...]


def summarize(risk: RiskFile) -> RiskSummary:
    names = risk.market_names
    k = len(names)
    chol = [[risk.cholesky_entry(i, j) for j in range(k)] for i in range(k)]
    cov = tuple(
        tuple(sum(chol[i][m] * chol[j][m] for m in range(k)) for j in range(k)) for i in range(k)
    )
    axis = tuple(math.sqrt(cov[i][i]) for i in range(k))
    corr = tuple(tuple(cov[i][j] / (axis[i] * axis[j]) for j in range(k)) for i in range(k))
    return RiskSummary(
        markets=names,
        cholesky=risk.cholesky_bps,
        covariance_bps2=cov,
        correlation=corr,
        axis_bps=axis,
        lambda_mm_extent=tuple(risk.lambda_mm_bps * a / BPS_ONE**2 for a in axis),
        lambda_im_extent=tuple(risk.lambda_im_bps * a / BPS_ONE**2 for a in axis),
    )
