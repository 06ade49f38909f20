"""Volatility models for relative price moves: EWMA (RiskMetrics) and GARCH(1,1)-t.

Statistics only: every number here is a float (volatilities, correlations, degrees of
freedom) and none of them ever decides solvency; :mod:`zkmargin.forecast` turns them
into probabilities and leaves every verdict on an account to :func:`zkmargin.model.evaluate`.

A price history is a CSV file ``date,NAME1,NAME2,...`` of positive decimal prices, one
row per observation, oldest first (``data/sp500_nasdaq_daily.csv`` is shipped). Returns
are log returns per observation step; the step's length in hours is the caller's (a
daily file is 24 h per row unless told otherwise).

numpy is imported at module load (it is light); ``arch`` (GARCH fitting, which pulls in
scipy, pandas and statsmodels) only inside :func:`fit_garch`.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zkmargin.errors import InputError

FloatArray = npt.NDArray[np.float64]

RISKMETRICS_LAMBDA = 0.94
MIN_RETURNS = 30  # fewer returns than this cannot fit anything meaningful
NU_FLOOR = 2.1  # a Student-t needs nu > 2 for a finite variance


@dataclass(frozen=True)
class PriceHistory:
    """Prices by series name, oldest first (floats: a history is statistics input)."""

    dates: tuple[str, ...]
    series: dict[str, FloatArray]

    def returns(self, name: str) -> FloatArray:
        prices = self.series[name]
        return np.diff(np.log(prices))


def load_history(path: Path) -> PriceHistory:
    """Read ``date,NAME,...`` CSV; every refusal is one :class:`InputError` line."""
    what = f"history file {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{what}: cannot read ({exc})") from None
    return parse_history(text.splitlines(), what)


def parse_history(lines: Sequence[str], what: str = "history") -> PriceHistory:
    rows = list(csv.reader(lines))
    if not rows or len(rows[0]) < 2 or rows[0][0].strip().lower() != "date":
        raise InputError(f"{what}: expected a header 'date,NAME,...'")
    names = [name.strip() for name in rows[0][1:]]
    if len(set(names)) != len(names) or any(not n for n in names):
        raise InputError(f"{what}: series names must be non-empty and distinct")
    dates: list[str] = []
    values: list[list[float]] = [[] for _ in names]
    for lineno, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(names) + 1:
            raise InputError(f"{what}: line {lineno}: expected {len(names) + 1} fields")
        dates.append(row[0].strip())
        for j, cell in enumerate(row[1:]):
            try:
                price = float(cell)
            except ValueError:
                raise InputError(f"{what}: line {lineno}: {cell!r} is not a number") from None
            if not math.isfinite(price) or price <= 0:
                raise InputError(f"{what}: line {lineno}: prices must be positive and finite")
            values[j].append(price)
    if len(dates) < MIN_RETURNS + 1:
        raise InputError(f"{what}: needs at least {MIN_RETURNS + 1} rows, has {len(dates)}")
    if list(dates) != sorted(dates):
        raise InputError(f"{what}: dates must be in ascending order")
    return PriceHistory(
        dates=tuple(dates),
        series={n: np.asarray(v, dtype=np.float64) for n, v in zip(names, values, strict=True)},
    )


@dataclass(frozen=True)
class VolFit:
    """One series' conditional variance model, per observation step (log-return units).

    ``next_var`` is the variance of the next step's return. The term structure is
    ``E[var_{t+j}] = long_var + persistence**(j-1) * (next_var - long_var)``: EWMA has
    ``persistence = 1`` (a flat forecast), GARCH ``alpha + beta`` (a fit on the boundary
    ``alpha + beta = 1`` is integrated: ``E[var_{t+j}] = next_var + (j-1) * omega``).
    ``nu`` is the Student-t degrees of freedom of the innovations (``inf``: normal).
    """

    method: str
    next_var: float
    long_var: float
    persistence: float
    nu: float
    omega: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0

    def variance_path(self, steps: int) -> FloatArray:
        """Expected variance of each of the next ``steps`` step returns."""
        j = np.arange(steps, dtype=np.float64)
        if self.persistence >= 1.0:  # EWMA (omega 0: flat), or an integrated GARCH fit
            return self.next_var + self.omega * j
        return self.long_var + self.persistence**j * (self.next_var - self.long_var)

    @property
    def step_vol(self) -> float:
        return math.sqrt(self.next_var)


def _check_returns(returns: FloatArray) -> FloatArray:
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < MIN_RETURNS:
        raise InputError(f"volatility fit: needs at least {MIN_RETURNS} returns, has {r.size}")
    if not np.all(np.isfinite(r)):
        raise InputError("volatility fit: returns must be finite")
    return r


def ewma_variance(returns: FloatArray, lam: float = RISKMETRICS_LAMBDA) -> FloatArray:
    """Filtered variances: ``out[t]`` is the forecast of ``var(r_t)`` made after ``r_{t-1}``;
    ``out[n]`` forecasts the step after the last return. Seeded with the mean square of
    the first :data:`MIN_RETURNS` returns."""
    r = _check_returns(returns)
    out = np.empty(r.size + 1)
    out[0] = float(np.mean(r[:MIN_RETURNS] ** 2))
    for t in range(r.size):
        out[t + 1] = lam * out[t] + (1.0 - lam) * r[t] * r[t]
    return out


def fit_ewma(returns: FloatArray, lam: float = RISKMETRICS_LAMBDA) -> VolFit:
    """RiskMetrics EWMA (lambda 0.94), normal innovations, flat term structure."""
    var = float(ewma_variance(returns, lam)[-1])
    return VolFit(method="ewma", next_var=var, long_var=var, persistence=1.0, nu=math.inf)


def garch_filter(returns: FloatArray, omega: float, alpha: float, beta: float) -> FloatArray:
    """GARCH(1,1) filtered variances (same indexing as :func:`ewma_variance`), seeded with
    the sample variance, as ``arch`` backcasts approximately."""
    r = _check_returns(returns)
    out = np.empty(r.size + 1)
    out[0] = float(np.mean(r**2))
    for t in range(r.size):
        out[t + 1] = omega + alpha * r[t] * r[t] + beta * out[t]
    return out


def fit_garch(returns: FloatArray) -> VolFit:
    """GARCH(1,1), zero mean, Student-t innovations, fitted by maximum likelihood (``arch``).

    Returns are scaled by 100 for the optimizer (``arch``'s advice) and the parameters
    scaled back. A fit that does not converge, or that is not covariance-stationary, is
    an :class:`InputError` (the caller may fall back to EWMA).
    """
    r = _check_returns(returns)
    from arch import arch_model  # lazy: pulls in scipy, pandas and statsmodels

    scale = 100.0
    model = arch_model(r * scale, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    with warnings.catch_warnings():  # convergence is checked below, in one line
        warnings.simplefilter("ignore")
        result = model.fit(disp="off", show_warning=False)
    if result.convergence_flag != 0:
        raise InputError("GARCH fit did not converge (try --model ewma)")
    params = result.params
    omega = float(params["omega"]) / scale**2
    alpha = float(params["alpha[1]"])
    beta = float(params["beta[1]"])
    nu = max(float(params["nu"]), NU_FLOOR)
    persistence = min(alpha + beta, 1.0)
    if omega <= 0:
        raise InputError("GARCH fit has omega <= 0; try --model ewma")
    if persistence > 1.0 - 1e-6:  # on the stationarity boundary: integrated GARCH
        persistence = 1.0
    filtered = garch_filter(r, omega, alpha, beta)
    return VolFit(
        method="garch",
        next_var=float(filtered[-1]),
        long_var=math.inf if persistence >= 1.0 else omega / (1.0 - persistence),
        persistence=persistence,
        nu=nu,
        omega=omega,
        alpha=alpha,
        beta=beta,
    )


def refilter(fit: VolFit, returns: FloatArray) -> VolFit:
    """The same parameters, with the next-step variance updated through ``returns`` (the
    backtest refits every few weeks and filters every day in between)."""
    if fit.method == "ewma":
        return fit_ewma(returns)
    var = float(garch_filter(returns, fit.omega, fit.alpha, fit.beta)[-1])
    return VolFit(
        method=fit.method,
        next_var=var,
        long_var=fit.long_var,
        persistence=fit.persistence,
        nu=fit.nu,
        omega=fit.omega,
        alpha=fit.alpha,
        beta=fit.beta,
    )


def fit(returns: FloatArray, method: str) -> VolFit:
    if method == "ewma":
        return fit_ewma(returns)
    if method == "garch":
        return fit_garch(returns)
    raise InputError(f"unknown volatility model {method!r} (ewma or garch)")


def correlation(returns: Sequence[FloatArray]) -> FloatArray:
    """Pearson correlation of aligned return series (identity for one series), nudged to
    positive definite so its Cholesky factor exists."""
    k = len(returns)
    if k == 1:
        return np.ones((1, 1))
    corr: FloatArray = np.asarray(np.nan_to_num(np.corrcoef(np.vstack(returns)), nan=0.0))
    np.fill_diagonal(corr, 1.0)
    eigvals = np.linalg.eigvalsh(corr)
    if eigvals.min() < 1e-9:
        corr = corr + (1e-9 - eigvals.min()) * np.eye(k)
        d = np.sqrt(np.diag(corr))
        corr = corr / np.outer(d, d)
    return np.asarray(corr, dtype=np.float64)
