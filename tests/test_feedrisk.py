"""The guardian's feed volatility: fitted to a history (EWMA / GARCH-t via
zkmargin.volatility) with the feeds' correlation, or to oracle prices it observed, or
explicit; correlated feeds change the chance of leaving the proven set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from chain.guardian import Slot, leave_probability
from zkmargin.feedrisk import FeedRisk, PriceObserver, fit_feed_risk
from zkmargin.volatility import MIN_RETURNS, correlation, fit_ewma, fit_garch, load_history

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "data" / "sp500_nasdaq_daily.csv"
MAP = {"ETH/USD": "SP500", "BTC/USD": "NASDAQ"}


@pytest.fixture(scope="module")
def history_risk() -> FeedRisk:
    return fit_feed_risk(load_history(HISTORY), MAP, source="history")


def test_history_fit_is_the_volatility_modules(history_risk: FeedRisk) -> None:
    h = load_history(HISTORY)
    sp, nq = h.returns("SP500")[-1000:], h.returns("NASDAQ")[-1000:]
    assert history_risk.feeds == ("ETH/USD", "BTC/USD")
    assert history_risk.fits == (fit_ewma(sp), fit_ewma(nq))  # step = a day: no scaling
    assert history_risk.daily_vol("ETH/USD") == pytest.approx(math.sqrt(fit_ewma(sp).next_var))
    assert np.array_equal(history_risk.corr, correlation([sp, nq]))
    assert history_risk.corr[0, 1] > 0.8  # the two indices move together
    assert history_risk.describe().startswith("volatility from history (ewma): daily ETH/USD ")
    assert "correlation ETH/USD~BTC/USD +0.9" in history_risk.describe()


@pytest.mark.slow
def test_garch_history_fit() -> None:
    h = load_history(HISTORY)
    risk = fit_feed_risk(h, {"ETH/USD": "SP500"}, method="garch", window=400)
    assert risk.fits[0] == fit_garch(h.returns("SP500")[-400:])
    assert math.isfinite(risk.fits[0].nu) and risk.source == "history (garch)"


def test_explicit_vol_overrides_the_fit_and_keeps_correlation(history_risk: FeedRisk) -> None:
    risk = history_risk.with_vols({"ETH/USD": 0.08, "USDC/USD": 0.01})
    assert risk.daily_vol("ETH/USD") == pytest.approx(0.08, rel=1e-12)
    assert risk.daily_vol("BTC/USD") == history_risk.daily_vol("BTC/USD")
    assert risk.corr[0, 1] == history_risk.corr[0, 1]
    assert risk.feeds[2] == "USDC/USD" and risk.corr[2, 0] == 0 and risk.corr[2, 2] == 1


def _slot(name: str, feed: str, proven: int) -> Slot:
    return Slot(name, feed, True, proven, 500 * 9_500)  # 4.75% either way


def test_correlated_feeds_leave_the_set_together() -> None:
    """Both feeds 0.05% below the upper edge: with independent feeds either may cross, with
    correlated feeds they cross together, so the chance is lower."""
    p0 = 2_000 * 10**8
    slots = [_slot("ETH-USD", "ETH/USD", p0), _slot("BTC-USD", "BTC/USD", p0)]
    near = {"ETH-USD": 2_094 * 10**8, "BTC-USD": 2_094 * 10**8}
    indep = FeedRisk.constant({"ETH/USD": 0.05, "BTC/USD": 0.05})
    corr = FeedRisk(indep.feeds, indep.fits, np.array([[1.0, 0.95], [0.95, 1.0]]))
    p_indep = leave_probability(slots, near, indep, 600)
    p_corr = leave_probability(slots, near, corr, 600)
    assert 0.05 < p_corr < p_indep < 1.0
    # a plain mapping is the constant, uncorrelated model, path for path
    assert leave_probability(slots, near, {"ETH/USD": 0.05, "BTC/USD": 0.05}, 600) == p_indep


def test_observed_oracle_prices_are_fitted() -> None:
    obs = PriceObserver(every_s=60.0)
    rng = np.random.default_rng(5)
    sigma = 0.002  # per minute: 7.6% a day
    z = rng.standard_normal((400, 2)) @ np.linalg.cholesky([[1, 0.6], [0.6, 1]]).T
    logs = np.cumsum(sigma * z, axis=0)
    for i in range(MIN_RETURNS):
        assert obs.observe(60.0 * i, {"A": int(1e10 * math.exp(logs[i, 0])), "B": 10**8})
        assert not obs.observe(60.0 * i + 30, {"A": 1, "B": 1})  # too soon: not kept
    assert obs.risk() is None  # 29 returns
    for i in range(MIN_RETURNS, 400):
        price_b = int(1e10 * math.exp(logs[i, 1]))
        obs.observe(60.0 * i, {"A": int(1e10 * math.exp(logs[i, 0])), "B": price_b})
    risk = obs.risk()
    assert risk is not None and risk.feeds == ("A", "B")
    assert risk.step_hours == pytest.approx(1 / 60)
    assert abs(risk.daily_vol("A") / (sigma * math.sqrt(1440)) - 1) < 0.3
    assert risk.source.startswith("oracle prices (400 samples, 60 s apart")
