"""The liquidation forecast: volatility fits recover known volatilities, probabilities are
monotone in the horizon, liquidation prices are exact to one price unit, advice brings
the probability under the target, and the CLI refuses bad input in one line."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tooling.cli_run import run_cli

from zkmargin import forecast as F
from zkmargin.accounts import load_market_data, parse_account
from zkmargin.errors import InputError
from zkmargin.model import Account, MarketData, Mode, evaluate
from zkmargin.volatility import (
    PriceHistory,
    fit_ewma,
    fit_garch,
    load_history,
    parse_history,
)

ROOT = Path(__file__).resolve().parents[1]
MARKETS = ROOT / "examples" / "markets.json"
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def data() -> MarketData:
    return load_market_data(MARKETS)


def account(data: MarketData, collateral: dict[str, str], *positions: tuple[str, ...]) -> Account:
    return parse_account(
        {
            "account": ADDRESS,
            "salt": "5",
            "collateral": collateral,
            "positions": [
                {"market": m, "side": s, "size": z, "entry_price": e} for m, s, z, e in positions
            ],
        },
        data,
    )


def synthetic_history(vol: float, n: int = 1500, corr: float = 0.5, seed: int = 7) -> PriceHistory:
    """Two log-normal series with daily volatility ``vol`` and correlation ``corr``."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(np.array([[1.0, corr], [corr, 1.0]]))
    r = vol * rng.standard_normal((n, 2)) @ chol.T
    prices = 100.0 * np.exp(np.vstack([np.zeros(2), np.cumsum(r, axis=0)]))
    return PriceHistory(
        dates=tuple(f"d{i:05d}" for i in range(n + 1)),
        series={"ETH-USD": prices[:, 0], "BTC-USD": prices[:, 1]},
    )


# ---------------------------------------------------------------- volatility models


def test_ewma_recovers_a_known_volatility() -> None:
    rng = np.random.default_rng(1)
    returns = 0.02 * rng.standard_normal(3000)
    fit = fit_ewma(returns)
    assert fit.method == "ewma" and fit.persistence == 1.0 and math.isinf(fit.nu)
    assert abs(fit.step_vol / 0.02 - 1) < 0.3  # one EWMA reading: ~12% sampling error
    # averaged over the series, EWMA's variance is the true one
    from zkmargin.volatility import ewma_variance

    assert abs(math.sqrt(float(np.mean(ewma_variance(returns)[100:]))) / 0.02 - 1) < 0.03
    assert np.allclose(fit.variance_path(5), fit.next_var)


def _garch_series(n: int, omega: float, alpha: float, beta: float, nu: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    z = rng.standard_t(nu, n) * math.sqrt((nu - 2) / nu)
    var = omega / (1 - alpha - beta)
    out = np.empty(n)
    for t in range(n):
        out[t] = math.sqrt(var) * z[t]
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def test_garch_recovers_known_parameters() -> None:
    omega, alpha, beta, nu = 2e-6, 0.08, 0.90, 6.0
    returns = _garch_series(4000, omega, alpha, beta, nu)
    fit = fit_garch(returns)
    long_vol = math.sqrt(omega / (1 - alpha - beta))  # 1% per step
    assert abs(math.sqrt(fit.long_var) / long_vol - 1) < 0.2
    assert abs(fit.persistence - (alpha + beta)) < 0.03
    assert 3.5 < fit.nu < 12
    path = fit.variance_path(400)
    assert abs(path[-1] / fit.long_var - 1) < 0.05  # mean-reverts to the long-run variance


def test_garch_term_structure_matches_arch() -> None:
    from arch import arch_model

    returns = _garch_series(3000, 2e-6, 0.08, 0.90, 6.0)
    fit = fit_garch(returns)
    res = arch_model(returns * 100, mean="Zero", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    theirs = res.forecast(horizon=10, reindex=False).variance.to_numpy()[-1] / 1e4
    assert np.allclose(fit.variance_path(10), theirs, rtol=1e-3)


def test_history_file_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="header"):
        parse_history(["day,A", "1,2"])
    rows = ["date,A"] + [f"2020-01-{i:02d},{100 + i}" for i in range(1, 32)]
    assert len(parse_history(rows).series["A"]) == 31
    with pytest.raises(InputError, match="line 3: prices must be positive"):
        parse_history([rows[0], rows[1], "2020-01-02,-1", *rows[3:]])
    with pytest.raises(InputError, match="at least 31 rows"):
        parse_history(rows[:10])
    with pytest.raises(InputError, match="no such file"):
        load_history(tmp_path / "missing.csv")
    shipped = load_history(ROOT / "data" / "sp500_nasdaq_daily.csv")
    assert set(shipped.series) == {"SP500", "NASDAQ"} and len(shipped.dates) == 5031


# ---------------------------------------------------------------- exact pieces


def test_linear_form_is_the_model(data: MarketData) -> None:
    bob = account(
        data,
        {"USDC": "1500", "WETH": "0.3"},
        ("ETH-USD", "long", "5", "1900"),
        ("BTC-USD", "short", "0.1", "61000"),
        ("ETH-USD", "short", "1.5", "2000"),
    )
    ex, eq = F.linear_forms(bob, data)
    rng = np.random.default_rng(0)
    for _ in range(50):
        prices = [int(x) for x in rng.integers(1, 10**14, size=2)]
        report = evaluate(
            bob, F.with_prices(data, dict(zip(ex.markets, prices, strict=True))), Mode.MAINTENANCE
        )
        assert ex.at(prices) == report.excess and eq.at(prices) == report.equity
        arr = np.asarray([[prices]], dtype=np.int64)
        assert bool(F.negative_mask(ex, arr)[0, 0]) == (report.excess < 0)


@pytest.mark.parametrize(
    "positions",
    [
        (("ETH-USD", "long", "5", "1900"),),
        (("ETH-USD", "short", "5", "1900"),),
        (("ETH-USD", "long", "5", "1900"), ("BTC-USD", "short", "0.1", "60000")),
        (("BTC-USD", "long", "0.33333333", "59000.5"),),
    ],
)
def test_liquidation_price_is_exact(
    data: MarketData, positions: tuple[tuple[str, ...], ...]
) -> None:
    acct = account(data, {"USDC": "2000"}, *positions)
    for market in F.account_markets(acct):
        lp = F.liquidation_price(acct, data, market)
        assert lp.liquidation is not None and lp.direction in ("down", "up")
        toward = 1 if lp.direction == "down" else -1

        def solvent(price: int, market: str = market) -> bool:
            return evaluate(acct, F.with_prices(data, {market: price}), Mode.MAINTENANCE).solvent

        assert not solvent(lp.liquidation)  # liquidatable at the price
        assert solvent(lp.liquidation + toward)  # one unit back toward the oracle: not
    alice = F.liquidation_price(account(data, {"USDC": "2000"}, positions[0]), data, "ETH-USD")
    if positions[0][1] == "long" and positions[0][0] == "ETH-USD":
        # 2000 + 5 (P - 1900) = 0.05 * 5 P  <=>  P = 7500 / 4.75 = 1578.947368421...
        assert alice.liquidation == 157894736842


def test_liquidation_price_now_and_none(data: MarketData) -> None:
    broke = account(data, {"USDC": "10"}, ("ETH-USD", "long", "5", "1900"))
    assert F.liquidation_price(broke, data, "ETH-USD").direction == "now"
    hedged = account(data, {"USDC": "2000"}, ("ETH-USD", "long", "0", "1900"))
    assert F.liquidation_price(hedged, data, "ETH-USD").direction == "none"


def test_horizon_and_percent_parsing() -> None:
    assert F.parse_horizons("24h,1h,8h,1d") == (1.0, 8.0, 24.0)
    assert F.parse_horizons("30m,5d") == (0.5, 120.0)
    for bad in ("", "8", "x h", "-1h", "2y", "400d"):
        with pytest.raises(InputError, match="--horizon"):
            F.parse_horizons(bad)
    assert F.parse_percent("1%") == 0.01 and F.parse_percent("0.05") == 0.05
    for bad in ("x", "100%", "-1%", "nan"):
        with pytest.raises(InputError, match="--target"):
            F.parse_percent(bad)


# ---------------------------------------------------------------- the forecast


@pytest.fixture(scope="module")
def volatile() -> PriceHistory:
    return synthetic_history(vol=0.04)


HORIZONS = (1.0, 8.0, 24.0, 72.0, 240.0, 720.0)


@pytest.mark.parametrize("method", ["ewma", "garch"])
def test_probabilities_are_monotone_in_horizon(
    data: MarketData, volatile: PriceHistory, method: str
) -> None:
    bob = account(
        data,
        {"USDC": "900"},
        ("ETH-USD", "long", "5", "1900"),
        ("BTC-USD", "long", "0.05", "60000"),
    )
    fc = F.forecast_from_history(
        bob, data, volatile, method=method, horizons=HORIZONS, window=500, samples=2000, target=None
    )
    for kind in ("leave_set", "liquidation", "insolvency"):
        series = [getattr(h, kind) for h in fc.horizons]
        assert series == sorted(series), (kind, series)
    assert all(h.insolvency <= h.liquidation for h in fc.horizons)
    assert fc.horizons[-1].liquidation > 0.2  # 4%/day, liquidation ~7% away: likely in 30 d
    assert fc.horizons[0].leave_set < fc.horizons[-1].leave_set
    assert 0 < fc.expected_hours <= fc.cap_hours
    doc = json.loads(json.dumps(fc.to_json()))
    assert [h["hours"] for h in doc["horizons"]] == list(HORIZONS)


def test_fit_through_the_forecast_recovers_volatility(
    data: MarketData, volatile: PriceHistory
) -> None:
    acct = account(data, {"USDC": "5000"}, ("ETH-USD", "long", "1", "1900"))
    fc = F.forecast_from_history(acct, data, volatile, window=1500, samples=200, target=None)
    assert abs(fc.fits["ETH-USD"].step_vol / 0.04 - 1) < 0.3
    both = account(
        data, {"USDC": "5000"}, ("ETH-USD", "long", "1", "1900"), ("BTC-USD", "long", "1", "1")
    )
    fc2 = F.forecast_from_history(both, data, volatile, window=1500, samples=200, target=None)
    assert abs(fc2.corr[0, 1] - 0.5) < 0.06


@pytest.mark.parametrize("method", ["ewma", "garch"])
def test_advice_brings_the_probability_under_target(
    data: MarketData, volatile: PriceHistory, method: str
) -> None:
    risky = account(data, {"USDC": "1000"}, ("ETH-USD", "long", "5", "1900"))
    kw = {"method": method, "horizons": (24.0,), "window": 500, "samples": 2000}
    fc = F.forecast_from_history(risky, data, volatile, target=0.01, **kw)  # type: ignore[arg-type]
    assert fc.horizons[0].liquidation > 0.01
    advice = fc.advice
    assert advice is not None and advice.top_up is not None and advice.reduce_bps is not None
    assert advice.asset == "USDC" and advice.top_up > 0 and 0 < advice.reduce_bps < 10_000

    topped = F.topped_up(risky, "USDC", advice.top_up)
    again = F.forecast_from_history(topped, data, volatile, target=None, **kw)  # type: ignore[arg-type]
    assert again.horizons[0].liquidation <= 0.01
    # the smallest: one token unit (1e-6 USDC) less misses the target
    less = F.topped_up(risky, "USDC", advice.top_up - 10**12)
    short = F.forecast_from_history(less, data, volatile, target=None, **kw)  # type: ignore[arg-type]
    assert short.horizons[0].liquidation > 0.01

    cut = F.reduced(risky, data, advice.reduce_bps)
    assert cut is not None
    again = F.forecast_from_history(cut, data, volatile, target=None, **kw)  # type: ignore[arg-type]
    assert again.horizons[0].liquidation <= 0.01
    less_cut = F.reduced(risky, data, advice.reduce_bps - 1)
    assert less_cut is not None
    short = F.forecast_from_history(less_cut, data, volatile, target=None, **kw)  # type: ignore[arg-type]
    assert short.horizons[0].liquidation > 0.01


def test_reduction_settles_realized_pnl(data: MarketData) -> None:
    winner = account(data, {"USDC": "1000"}, ("ETH-USD", "long", "2", "1800"))
    half = F.reduced(winner, data, 5000)
    assert half is not None
    assert half.positions[0].size == 100_000_000
    assert half.collateral["USDC"] == winner.collateral["USDC"] + 100 * 10**18  # 1 ETH x 100
    # closing at the oracle price realizes PnL without changing equity (USDC: no haircut)
    before = evaluate(winner, data, Mode.MAINTENANCE)
    after = evaluate(half, data, Mode.MAINTENANCE)
    assert after.equity == before.equity and after.requirement * 2 == before.requirement
    loser = account(data, {"USDC": "10"}, ("ETH-USD", "long", "2", "2000"))
    assert F.reduced(loser, data, 10_000) is None  # a 200 USDC loss exceeds the balance


def test_already_liquidatable_account(data: MarketData, volatile: PriceHistory) -> None:
    broke = account(data, {"USDC": "100"}, ("ETH-USD", "long", "5", "1900"))
    fc = F.forecast_from_history(
        broke, data, volatile, horizons=(1.0,), window=200, samples=500, target=0.01
    )
    assert fc.horizons[0].liquidation == 1.0 and fc.expected_hours == 0.0
    assert fc.advice is not None and fc.advice.top_up is not None
    fixed = F.topped_up(broke, "USDC", fc.advice.top_up)
    assert evaluate(fixed, data, Mode.MAINTENANCE).solvent


def test_series_mapping() -> None:
    assert F.map_series(["ETH-USD"], ["SP500", "NASDAQ"]) == {"ETH-USD": "SP500"}
    assert F.map_series(["A", "B"], ["B", "X"]) == {"A": "X", "B": "B"}
    assert F.map_series(["A", "B"], ["X", "Y"], ["B=X"]) == {"A": "Y", "B": "X"}
    with pytest.raises(InputError, match="no series left"):
        F.map_series(["A", "B"], ["X"])
    with pytest.raises(InputError, match="--series"):
        F.map_series(["A"], ["X"], ["A=Z"])


def test_no_positions_is_refused(data: MarketData, volatile: PriceHistory) -> None:
    empty = replace(account(data, {"USDC": "1"}), positions=())
    with pytest.raises(InputError, match="no positions"):
        F.forecast_from_history(empty, data, volatile)


# ---------------------------------------------------------------- CLI


def run_main(*args: object) -> tuple[int, str, str]:
    result = run_cli(*args)
    return result.code, result.out, result.err


@pytest.fixture
def alice_file(tmp_path: Path) -> Path:
    path = tmp_path / "alice.account.json"
    path.write_text(
        json.dumps(
            {
                "account": ADDRESS,
                "salt": "5",
                "collateral": {"USDC": "2000"},
                "positions": [
                    {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "1900"}
                ],
            }
        )
    )
    return path


def test_cli_forecast_json_and_table(alice_file: Path) -> None:
    code, out, err = run_main(
        "forecast", alice_file, "-m", MARKETS, "--samples", 500, "--json", "--horizon", "1h,1d"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["series"] == {"ETH-USD": "SP500"} and doc["samples"] == 500
    assert doc["markets"][0]["liquidation_price"] == "1578.94736842"
    assert doc["advice"]["top_up"]["asset"] == "USDC"
    code, out, err = run_main("forecast", alice_file, "-m", MARKETS, "--samples", 500)
    assert code == 0, err
    assert "liquidation price" in out and "1578.94736842" in out and "advice" in out


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--horizon", "soon"), "--horizon"),
        (("--target", "150%"), "--target"),
        (("--history", "/nonexistent/h.csv"), "no such file"),
        (("--series", "DOGE=SP500"), "--series"),
        (("--series", "ETH-USD=GOLD"), "no series 'GOLD'"),
    ],
)
def test_cli_forecast_errors_are_one_line(
    alice_file: Path, extra: tuple[str, ...], fragment: str
) -> None:
    code, _, err = run_main("forecast", alice_file, "-m", MARKETS, "--samples", 200, *extra)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and fragment in lines[0], (code, err)
    assert "Traceback" not in err


def test_cli_forecast_missing_account(tmp_path: Path) -> None:
    code, _, err = run_main("forecast", tmp_path / "none.account.json", "-m", MARKETS)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_zero_exposure_needs_no_path_by_path_work(data: MarketData) -> None:
    flat = account(data, {"USDC": "0"}, ("ETH-USD", "long", "0", "1900"))
    ex, _ = F.linear_forms(flat, data)
    assert ex.slopes == (0,) and ex.const == 0
    prices = np.ones((1000, 50, 1), dtype=np.int64)
    assert not F.negative_mask(ex, prices).any() and F.negative_mask(ex, prices).shape == (1000, 50)


def test_backtest_smoke(tmp_path: Path) -> None:
    from benchmarks.backtest import HORIZONS, print_tables, run

    result = run(ROOT / "data" / "sp500_nasdaq_daily.csv", 500, 200, 20, 1, limit=3)
    assert result["origins"] == 6 and set(result["tables"]) == {
        "ewma/terminal",
        "ewma/touch",
        "garch/terminal",
        "garch/touch",
    }
    for per_h in result["tables"].values():
        assert [row["horizon_days"] for row in per_h] == list(HORIZONS)
        for row in per_h:
            assert row["count"] == 6 * 3 == sum(b["count"] for b in row["buckets"])
            assert 0 <= row["predicted"] <= 1 and 0 <= row["realized"] <= 1
    print_tables(result)
