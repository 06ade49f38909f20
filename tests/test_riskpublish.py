"""The risk publisher (zkmargin.riskpublish): statistics, rounding against the trader,
Black-76, refusals, and the published file parsed back by zkmargin.riskfile."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from zkmargin.errors import InputError
from zkmargin.jsonio import read_json_file
from zkmargin.riskfile import parse_risk_file, parse_time, risk_commitment
from zkmargin.riskpublish import (
    IvSeries,
    Publication,
    black76,
    black76_greeks,
    ewma_covariance,
    parse_duration_hours,
    parse_iv_file,
    parse_market_map,
    parse_percent,
    publish,
    summarize,
)
from zkmargin.volatility import PriceHistory, ewma_variance, load_history

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "data" / "sp500_nasdaq_daily.csv"
TEMPLATE = ROOT / "examples" / "risk.json"
IV = ROOT / "examples" / "iv.json"
NOW = parse_time("2026-12-01T00:00:00Z", "now")
MAP = "ETH-USD=NASDAQ,BTC-USD=SP500"


@pytest.fixture(scope="module")
def history() -> PriceHistory:
    return load_history(HISTORY)


@pytest.fixture(scope="module")
def template() -> Any:
    return read_json_file(TEMPLATE, "template")


@pytest.fixture(scope="module")
def iv() -> dict[str, IvSeries]:
    return parse_iv_file(read_json_file(IV, "iv file"))


@pytest.fixture(scope="module")
def pub(history: PriceHistory, template: Any, iv: dict[str, IvSeries]) -> Publication:
    mapping = parse_market_map(MAP, ["ETH-USD", "BTC-USD"], history)
    return publish(history, template, iv, mapping=mapping, now=NOW)


def test_published_file_parses_back_and_commits(pub: Publication) -> None:
    again = parse_risk_file(pub.document)
    assert again == pub.risk
    assert risk_commitment(again) == risk_commitment(pub.risk)
    assert list(pub.risk.options) == list(parse_iv_file(read_json_file(IV, "iv")))
    # the template's tables and lambdas are kept
    base = parse_risk_file(read_json_file(TEMPLATE, "t"))
    assert pub.risk.markets == base.markets and pub.risk.collateral == base.collateral
    assert pub.risk.prices == base.prices
    assert (pub.risk.lambda_mm_bps, pub.risk.lambda_im_bps) == (10_000, 15_000)


def test_ewma_covariance_diagonal_is_the_univariate_filter(history: PriceHistory) -> None:
    r = np.column_stack([history.returns("SP500"), history.returns("NASDAQ")])
    cov = ewma_covariance(r, 0.94)
    for k, name in enumerate(("SP500", "NASDAQ")):
        assert math.isclose(cov[k, k], ewma_variance(history.returns(name), 0.94)[-1])
    assert cov[0, 1] == cov[1, 0] and 0 < cov[0, 1] < math.sqrt(cov[0, 0] * cov[1, 1])


def test_stress_and_covariance(pub: Publication) -> None:
    rho = pub.correlation[0, 1]
    assert math.isclose(pub.stressed[0, 1], 0.5 * rho + 0.5)
    assert math.isclose(pub.z, 2.3263478740408408)
    sd = np.array(pub.period_vol)
    expected = pub.z**2 * np.outer(sd, sd) * pub.stressed * 1e8
    assert np.allclose(pub.covariance_bps2, expected)


def test_rounded_cholesky_covers_the_covariance(pub: Publication) -> None:
    """L̂L̂ᵀ − A is positive semi-definite: the rounded move set contains the exact one, so
    λ‖L̂ᵀx‖ ≥ λ‖chol(A)ᵀx‖ for every exposure x (rounding against the trader)."""
    k = len(pub.cholesky_bps)
    rounded = np.array(
        [[pub.cholesky_bps[i][j] if j <= i else 0 for j in range(k)] for i in range(k)], float
    )
    assert np.linalg.eigvalsh(rounded @ rounded.T - pub.covariance_bps2).min() >= 0
    exact = np.linalg.cholesky(pub.covariance_bps2)
    rng = np.random.default_rng(1)
    for x in rng.normal(size=(200, k)):
        assert np.linalg.norm(rounded.T @ x) >= np.linalg.norm(exact.T @ x)


def test_black76_matches_the_formula() -> None:
    from scipy.stats import norm

    f, k, t, s = 1900.0, 2000.0, 0.1, 0.6
    d1 = (math.log(f / k) + s * s * t / 2) / (s * math.sqrt(t))
    d2 = d1 - s * math.sqrt(t)
    call = f * norm.cdf(d1) - k * norm.cdf(d2)
    assert math.isclose(black76("call", f, k, t, s), call, rel_tol=1e-9)
    put = k * norm.cdf(-d2) - f * norm.cdf(-d1)
    assert math.isclose(black76("put", f, k, t, s), put, rel_tol=1e-9)
    delta, gamma, vega = black76_greeks("call", f, k, t, s)
    assert math.isclose(delta, norm.cdf(d1), rel_tol=1e-9)
    assert math.isclose(gamma, norm.pdf(d1) / (f * s * math.sqrt(t)), rel_tol=1e-9)
    assert math.isclose(vega, f * norm.pdf(d1) * math.sqrt(t), rel_tol=1e-9)
    assert math.isclose(black76_greeks("put", f, k, t, s)[0], norm.cdf(d1) - 1, rel_tol=1e-9)


def test_option_rounding_against_the_trader(pub: Publication) -> None:
    for q in pub.options:
        series = pub.risk.options[q.series]
        assert abs(series.mark - q.value * 1e8) <= 0.5 + 1e-3  # nearest
        assert abs(series.delta_bps - q.delta * 1e4) <= 0.5 + 1e-9
        quad = 0.5 * abs(q.gamma) * (q.forward * q.move) ** 2
        assert series.gamma_charge >= max(q.gamma_loss, quad) * 1e8  # up
        assert series.vega_charge >= (q.vega_loss + q.delta_allowance) * 1e8
        assert q.delta_allowance <= 1.5 * 0.5e-4 * q.forward * 0.1  # tiny: ½ bps of λ‖L‖P
        # the move is the λ_IM set's extent along the underlying's axis
        k = pub.risk.market_index(q.underlying)
        axis = math.sqrt(sum(v * v for v in pub.cholesky_bps[k]))
        assert math.isclose(q.move, 1.5 * axis / 1e4)


def test_summary_extent(pub: Publication) -> None:
    s = summarize(pub.risk)
    assert s.markets == ("ETH-USD", "BTC-USD")
    assert math.isclose(s.correlation[0][1], s.correlation[1][0])
    assert 0.9 < s.correlation[0][1] < 1
    assert math.isclose(s.lambda_im_extent[0], 1.5 * s.lambda_mm_extent[0])
    # the set's axis extent covers the z-sigma move
    for i in range(2):
        assert s.axis_bps[i] >= pub.z * pub.period_vol[i] * 1e4


def test_margin_period_scales_the_set(
    history: PriceHistory, template: Any, iv: dict[str, IvSeries]
) -> None:
    mapping = parse_market_map(MAP, ["ETH-USD", "BTC-USD"], history)
    day = publish(history, template, {}, mapping=mapping, now=NOW)
    week = publish(history, template, {}, mapping=mapping, now=NOW, period_h=24 * 4)
    assert math.isclose(week.period_vol[0], 2 * day.period_vol[0])
    assert abs(week.cholesky_bps[0][0] - 2 * day.cholesky_bps[0][0]) <= 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"stress_weight": 1.0}, "--stress-weight"),
        ({"decay": 1.0}, "--decay"),
        ({"now": parse_time("2026-12-26T00:00:00Z", "t")}, "expired at 2026-12-25T08:00:00Z"),
        ({"period_h": 24 * 1000.0}, "wider than 100%"),
    ],
)
def test_publish_refusals(
    history: PriceHistory,
    template: Any,
    iv: dict[str, IvSeries],
    change: dict[str, Any],
    expected: str,
) -> None:
    mapping = parse_market_map(MAP, ["ETH-USD", "BTC-USD"], history)
    kw: dict[str, Any] = {"mapping": mapping, "now": NOW, **change}
    with pytest.raises(InputError, match=expected.replace("+", r"\+")) as info:
        publish(history, template, iv, **kw)
    assert "\n" not in str(info.value)


def test_identical_series_refused_as_not_positive_definite(template: Any) -> None:
    prices = np.exp(np.cumsum(np.random.default_rng(3).normal(0, 0.01, 200)))
    hist = PriceHistory(dates=tuple(str(i) for i in range(200)), series={"A": prices, "B": prices})
    mapping = {"ETH-USD": "A", "BTC-USD": "B"}
    with pytest.raises(InputError, match="not positive definite"):
        publish(hist, template, {}, mapping=mapping, now=NOW, stress_weight=0.0)


def test_market_map(history: PriceHistory) -> None:
    markets = ["ETH-USD", "BTC-USD"]
    assert parse_market_map(None, markets, history) == {"ETH-USD": "SP500", "BTC-USD": "NASDAQ"}
    assert parse_market_map(MAP, markets, history) == {"ETH-USD": "NASDAQ", "BTC-USD": "SP500"}
    for text, expected in [
        ("ETH-USD=NASDAQ", "'BTC-USD' of the template is not mapped"),
        ("ETH-USD=DOW,BTC-USD=SP500", "not a series of the history"),
        ("SOL-USD=SP500", "not a market of the template"),
        ("ETH-USD", "not MARKET=SERIES"),
    ]:
        with pytest.raises(InputError, match=expected):
            parse_market_map(text, markets, history)


def test_small_parsers() -> None:
    assert parse_duration_hours("1d") == 24 and parse_duration_hours("8h") == 8
    assert parse_percent("99%", "c", low=0.5, high=1) == 0.99
    assert parse_percent("0.975", "c", low=0.5, high=1) == 0.975
    for bad in ("1w", "-1d", "d"):
        with pytest.raises(InputError, match="--margin-period"):
            parse_duration_hours(bad)
    with pytest.raises(InputError, match="--confidence"):
        parse_percent("100%", "--confidence", low=0.5, high=1)
    with pytest.raises(InputError, match="kind"):
        parse_iv_file(
            {
                "X": {
                    "underlying": "ETH-USD",
                    "strike": "1",
                    "expiry": "2027-01-01T00:00:00Z",
                    "kind": "straddle",
                    "iv": "0.5",
                }
            }
        )
    with pytest.raises(InputError, match="iv"):
        parse_iv_file(
            {
                "X": {
                    "underlying": "ETH-USD",
                    "strike": "1",
                    "expiry": "2027-01-01T00:00:00Z",
                    "kind": "call",
                    "iv": "-0.5",
                }
            }
        )
