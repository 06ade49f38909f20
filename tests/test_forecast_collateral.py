"""The forecast moves collateral: WETH (priced by the ETH-USD feed) on the same draw as
ETH-USD, an asset with its own series on its own correlated volatility; a held-fixed
price only when nothing prices it. WETH behind a long ETH position is riskier than USDC
of the same margin value."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from tooling.cli_run import run_cli

from zkmargin import forecast as F
from zkmargin.accounts import parse_account, parse_market_data
from zkmargin.model import Account, MarketData, Mode, evaluate
from zkmargin.volatility import PriceHistory

ROOT = Path(__file__).resolve().parents[1]
MARKETS = json.loads((ROOT / "examples" / "markets.json").read_text())
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
# long 5 ETH @1900; the margin value of the collateral is 1200 either way:
# 1200 USDC (no haircut), or 1200 / (1900 * 0.9) WETH = 0.7017543859649122807...
USDC_SIDE = {"USDC": "1200"}
WETH_SIDE = {"WETH": "0.70175438596491228"}  # worth a hair under 1200, never more
KW = {"horizons": (24.0,), "window": 500, "samples": 4000, "target": None}


def history(vol: float = 0.04, n: int = 1200, seed: int = 11) -> PriceHistory:
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0.0, 0.0, 1.0]]))
    r = vol * rng.standard_normal((n, 3)) @ chol.T
    prices = 100.0 * np.exp(np.vstack([np.zeros(3), np.cumsum(r, axis=0)]))
    return PriceHistory(
        dates=tuple(f"d{i:05d}" for i in range(n + 1)),
        series={"ETH-USD": prices[:, 0], "BTC-USD": prices[:, 1], "OTHER": prices[:, 2]},
    )


def data_of(markets: dict[str, object]) -> MarketData:
    return parse_market_data(markets)


def acct(data: MarketData, collateral: dict[str, str]) -> Account:
    return parse_account(
        {
            "account": ADDRESS,
            "salt": "5",
            "collateral": collateral,
            "positions": [
                {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "1900"}
            ],
        },
        data,
    )


def test_weth_behind_long_eth_is_riskier_than_usdc_of_the_same_value() -> None:
    data = data_of(MARKETS)
    usdc, weth = acct(data, USDC_SIDE), acct(data, WETH_SIDE)
    now_u, now_w = (evaluate(a, data, Mode.MAINTENANCE) for a in (usdc, weth))
    assert now_w.equity <= now_u.equity and now_u.equity - now_w.equity < 10**19  # < 1e-11 quote
    h = history()
    fu = F.forecast_from_history(usdc, data, h, **KW)  # type: ignore[arg-type]
    fw = F.forecast_from_history(weth, data, h, **KW)  # type: ignore[arg-type]
    assert fu.collateral_moves == {} and fw.collateral_moves == {"WETH": "ETH-USD"}
    pu, pw = fu.horizons[0].liquidation, fw.horizons[0].liquidation
    assert 0.01 < pu < pw, (pu, pw)
    # and the liquidation price is closer: WETH loses value as ETH falls
    lu, lw = fu.liquidation_prices[0].liquidation, fw.liquidation_prices[0].liquidation
    assert lu is not None and lw is not None and lu < lw < data.prices["ETH-USD"]


def test_held_fixed_weth_is_exactly_usdc_of_the_same_value() -> None:
    """Without its feed link, WETH's price is held: the same paths decide the same way."""
    markets = copy.deepcopy(MARKETS)
    del markets["collateral"]["WETH"]["risk_factor"]
    data = data_of(markets)
    h = history()
    fu = F.forecast_from_history(acct(data, USDC_SIDE), data, h, **KW)  # type: ignore[arg-type]
    fw = F.forecast_from_history(acct(data, WETH_SIDE), data, h, **KW)  # type: ignore[arg-type]
    assert fw.collateral_moves == {}
    assert fw.horizons[0].liquidation == fu.horizons[0].liquidation


def test_weth_liquidation_price_is_exact_with_weth_moving() -> None:
    data = data_of(MARKETS)
    weth = acct(data, WETH_SIDE)
    lp = F.liquidation_price(weth, data, "ETH-USD")
    assert lp.direction == "down" and lp.liquidation is not None

    def solvent(price: int) -> bool:
        return evaluate(weth, F.moved_with(data, "ETH-USD", price), Mode.MAINTENANCE).solvent

    assert not solvent(lp.liquidation) and solvent(lp.liquidation + 1)
    assert F.moved_with(data, "ETH-USD", 950 * 10**8).prices["WETH"] == 950 * 10**8


def test_collateral_with_its_own_series_moves_on_its_own() -> None:
    data = data_of(MARKETS)
    usdc = acct(data, USDC_SIDE)
    h = history()
    held = F.forecast_from_history(usdc, data, h, **KW)  # type: ignore[arg-type]
    moving = F.forecast_from_history(
        usdc,
        data,
        h,
        series_pairs=("USDC=OTHER",),
        **KW,  # type: ignore[arg-type]
    )
    assert moving.collateral_moves == {"USDC": "USDC"} and moving.series["USDC"] == "OTHER"
    assert set(moving.fits) == {"ETH-USD", "USDC"} and moving.corr.shape == (2, 2)
    assert abs(moving.fits["USDC"].step_vol / 0.04 - 1) < 0.3  # its own volatility
    assert abs(moving.corr[0, 1]) < 0.1  # OTHER is independent of ETH-USD in the history
    # a moving USDC can leave the proven set (no haircut: any drop), a held one cannot
    assert moving.horizons[0].leave_set > held.horizons[0].leave_set + 0.3
    assert moving.horizons[0].liquidation != held.horizons[0].liquidation


def test_a_feed_market_the_account_does_not_trade_is_simulated() -> None:
    """Short BTC on WETH: ETH-USD is simulated for the WETH price alone."""
    data = data_of(MARKETS)
    a = parse_account(
        {
            "account": ADDRESS,
            "salt": "5",
            "collateral": {"WETH": "1"},
            "positions": [
                {"market": "BTC-USD", "side": "short", "size": "0.1", "entry_price": "60000"}
            ],
        },
        data,
    )
    fc = F.forecast_from_history(a, data, history(), **KW)  # type: ignore[arg-type]
    assert fc.markets == ("BTC-USD",) and set(fc.fits) == {"BTC-USD", "ETH-USD"}
    assert fc.collateral_moves == {"WETH": "ETH-USD"}
    assert [lp.market for lp in fc.liquidation_prices] == ["BTC-USD"]


def test_cli_prints_what_moves(tmp_path: Path) -> None:
    account_file = tmp_path / "a.json"
    account_file.write_text(
        json.dumps(
            {
                "account": ADDRESS,
                "salt": "5",
                "collateral": WETH_SIDE,
                "positions": [
                    {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "1900"}
                ],
            }
        )
    )
    run = run_cli(
        "forecast", account_file, "-m", ROOT / "examples" / "markets.json", "--samples", 300
    )
    assert run.code == 0, run.err
    assert "collateral: WETH moves with ETH-USD" in run.out


@pytest.mark.parametrize("pair", ["WETH=SP500", "NOPE=SP500"])
def test_series_for_an_asset_that_is_not_own_feed_is_refused(pair: str, tmp_path: Path) -> None:
    account_file = tmp_path / "a.json"
    account_file.write_text(
        json.dumps(
            {
                "account": ADDRESS,
                "salt": "5",
                "collateral": WETH_SIDE,
                "positions": [
                    {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "1900"}
                ],
            }
        )
    )
    run = run_cli(
        "forecast", account_file, "-m", ROOT / "examples" / "markets.json", "--series", pair
    )
    assert run.code == 2 and run.err_lines == [
        f"error: --series: {pair!r} is not MARKET=SERIES for a market or collateral asset "
        "of the account"
    ]
