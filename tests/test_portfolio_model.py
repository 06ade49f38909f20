"""Reference model of portfolio margin (zkmargin.portfolio).

Properties of the claim E >= λ·‖Lᵀx‖ + G + F: hedges on correlated markets need less
than the sum of their isolated requirements, collateral that carries the market's risk
needs more, negative correlations reward same-direction books, the boundary balance is
exact, and the proven (rounded) statement implies the exact one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from math import isqrt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zkmargin.errors import InputError
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    PortfolioPosition,
    evaluate,
    load_portfolio_account,
    parse_portfolio_account,
    portfolio_account_to_json,
)
from zkmargin.riskfile import (
    OptionSeries,
    PortfolioCollateral,
    PortfolioMarket,
    RiskFile,
    load_risk_file,
)
from zkmargin.units import Balance, Bps, Price, Size

ROOT = Path(__file__).resolve().parent.parent
USDC, WETH = "USDC", "WETH"
ONE = 10**8  # one unit of price or size
TOKEN = 10**18  # one token of balance


def make_risk(
    prices: Sequence[int],
    cholesky: Sequence[Sequence[int]],
    *,
    floors: Sequence[int] | None = None,
    lambdas: tuple[int, int] = (10000, 15000),
    options: dict[str, OptionSeries] | None = None,
    weth_haircut: int = 1000,
) -> RiskFile:
    k = len(prices)
    names = [f"M{i}" for i in range(k)]
    return RiskFile(
        markets={
            n: PortfolioMarket(Bps(500), Bps(1000), Bps((floors or [0] * k)[i]))
            for i, n in enumerate(names)
        },
        collateral={
            USDC: PortfolioCollateral(Bps(0), 6, None),
            WETH: PortfolioCollateral(Bps(weth_haircut), 18, "M0"),
        },
        prices={
            **{n: Price(p) for n, p in zip(names, prices, strict=True)},
            USDC: Price(ONE),
            WETH: Price(prices[0]),
        },
        cholesky_bps=tuple(tuple(row) for row in cholesky),
        lambda_mm_bps=lambdas[0],
        lambda_im_bps=lambdas[1],
        options=options or {},
    )


def perp(market: str, long: bool, size: int, entry: int) -> PortfolioPosition:
    return PortfolioPosition(market, False, long, Size(size), Price(entry))


def book(*positions: PortfolioPosition, **collateral: int) -> PortfolioAccount:
    return PortfolioAccount(
        address=0xA11CE,
        salt=1,
        collateral={k: Balance(v) for k, v in collateral.items()},
        positions=positions,
    )


def with_usdc(account: PortfolioAccount, balance: int) -> PortfolioAccount:
    return replace(account, collateral={**account.collateral, USDC: Balance(balance)})


def min_usdc(account: PortfolioAccount, risk: RiskFile, mode: PortfolioMode) -> int | None:
    """The smallest USDC balance (1e-18 units) with which ``account`` is solvent."""

    def solvent(balance: int) -> bool:
        return evaluate(with_usdc(account, balance), risk, mode).solvent

    high = 2**96 - 1
    if not solvent(high):
        return None
    low = -1  # invariant: solvent(high), not solvent(low) (or low = -1)
    while high - low > 1:
        mid = (low + high) // 2
        if solvent(mid):
            high = mid
        else:
            low = mid
    return high


def sqrt_up(n: int) -> int:
    return 0 if n == 0 else isqrt(n - 1) + 1


# ================================================================ example and units


def test_example_report() -> None:
    risk = load_risk_file(ROOT / "examples" / "risk.json")
    account = book(
        perp("ETH-USD", True, 2 * ONE, 1800 * ONE),
        perp("BTC-USD", False, ONE // 10, 61000 * ONE),
        PortfolioPosition("ETH-20261225-2500-C", True, False, Size(5 * ONE), Price(40 * ONE)),
        PortfolioPosition("BTC-20261225-55000-P", True, True, Size(ONE // 10), Price(1300 * ONE)),
        USDC=3000 * TOKEN,
        WETH=TOKEN,
    )
    report = evaluate(account, risk, PortfolioMode.MAINTENANCE)
    # x_ETH = 2·1900 − 5·0.271·1900 + 1 WETH·1900; x_BTC = −0.1·60000 − 0.1·0.285·60000
    assert report.exposure_display() == {"ETH-USD": "3125.5", "BTC-USD": "-7710"}
    # E = 3000 + 0.9·1900 + 2·100 + 0.1·1000 + 5·(40 − 41.2) + 0.1·(1210.5 − 1300)
    assert report.equity_display() == "4995.05"
    # G = 5·(9.8 + 6.1) + 0.1·145; F = 2·1900·0.005 + 0.1·60000·0.004 + 5·1900·0.005 + ...
    assert report.addon_display() == "94"
    assert report.floor_display() == "114.5"
    assert report.solvent and report.solvent_exact
    withdrawal = evaluate(account, risk, PortfolioMode.WITHDRAWAL)
    # no unrealized gain: 200 (ETH perp) + 100 (BTC perp) are dropped
    assert withdrawal.equity_display() == "4695.05"
    assert withdrawal.requirement == evaluate(account, risk, PortfolioMode.INITIAL).requirement


def test_single_perp_risk_is_lambda_sigma_notional() -> None:
    """One market, L = [[900]]: R = λ·0.09·|q·P| exactly."""
    risk = make_risk([2000 * ONE], [[900]])
    report = evaluate(book(perp("M0", True, 3 * ONE, 2000 * ONE)), risk, PortfolioMode.INITIAL)
    assert report.risk_display() == "810"  # 1.5 · 0.09 · 6000


# ================================================================ properties


prices = st.integers(ONE // 100, 10**6 * ONE)
sizes = st.integers(1, 10**4 * ONE)


@settings(max_examples=200, deadline=None)
@given(
    pa=prices,
    pb=prices,
    qa=sizes,
    qb=sizes,
    sd=st.tuples(st.integers(1, 10000), st.integers(1, 10000)),
    rho=st.integers(1, 10000),
    floors=st.tuples(st.integers(0, 10000), st.integers(0, 10000)),
    mode=st.sampled_from(list(PortfolioMode)),
)
def test_hedge_needs_less_than_isolated(
    pa: int,
    pb: int,
    qa: int,
    qb: int,
    sd: tuple[int, int],
    rho: int,
    floors: tuple[int, int],
    mode: PortfolioMode,
) -> None:
    """Long A, short B with correlation ρ > 0: less than the two isolated requirements."""
    # L = [[σa, 0], [σb·ρ, σb·√(1 − ρ²)]] in bps, ρ in bps (rounded: any L is valid)
    sa, sb = sd
    b0 = sb * rho // 10000
    b1 = max(1, isqrt(sb * sb - b0 * b0))
    risk = make_risk([pa, pb], [[sa], [b0, b1]], floors=list(floors))
    long_a = perp("M0", True, qa, pa)
    short_b = perp("M1", False, qb, pb)
    both = evaluate(book(long_a, short_b), risk, mode)
    alone_a = evaluate(book(long_a), risk, mode)
    alone_b = evaluate(book(short_b), risk, mode)
    assert both.requirement < alone_a.requirement + alone_b.requirement
    assert both.correlated_risk < alone_a.correlated_risk + alone_b.correlated_risk
    # strictly, on the exact norms: ‖y_ab‖ < ‖y_a‖ + ‖y_b‖ (the exposures oppose)
    qab, qa_, qb_ = both.norm_squared, alone_a.norm_squared, alone_b.norm_squared
    cross = qab - qa_ - qb_
    assert cross < 0 or cross * cross < 4 * qa_ * qb_
    assert both.floor == alone_a.floor + alone_b.floor


@settings(max_examples=200, deadline=None)
@given(
    price=prices,
    size=sizes,
    tokens=st.integers(1, 10**6),
    sigma=st.integers(1, 10000),
    haircut=st.integers(0, 10000),
    mode=st.sampled_from(list(PortfolioMode)),
)
def test_weth_backing_long_eth_needs_more_than_usdc(
    price: int, size: int, tokens: int, sigma: int, haircut: int, mode: PortfolioMode
) -> None:
    """Same collateral value: WETH adds to the ETH exposure (and loses its haircut)."""
    risk = make_risk([price], [[sigma]], weth_haircut=haircut)
    position = perp("M0", True, size, price)
    usdc_value = tokens * TOKEN * price // ONE  # the same value in USDC (price 1)
    weth = evaluate(book(position, WETH=tokens * TOKEN), risk, mode)
    usdc = evaluate(book(position, USDC=usdc_value), risk, mode)
    assert weth.collateral_value * 10000 == usdc.collateral_value * (10000 - haircut)
    assert weth.requirement > usdc.requirement
    assert weth.equity <= usdc.equity
    assert weth.d - weth.correlated_risk < usdc.d - usdc.correlated_risk
    # so the USDC still to add on top is larger with WETH than with the same value in USDC
    need_weth = min_usdc(book(position, WETH=tokens * TOKEN), risk, mode)
    need_plain = min_usdc(book(position), risk, mode)
    assert need_weth is not None and need_plain is not None
    assert need_weth >= max(0, need_plain - usdc_value)


@settings(max_examples=200, deadline=None)
@given(
    pa=prices,
    pb=prices,
    qa=sizes,
    qb=sizes,
    entries=st.lists(st.integers(1, 2**40), min_size=2, max_size=2),
    l10=st.integers(1, 10000),
    l11=st.integers(1, 10000),
    l00=st.integers(1, 10000),
)
def test_negative_correlation_rewards_same_direction(
    pa: int, pb: int, qa: int, qb: int, entries: list[int], l10: int, l11: int, l00: int
) -> None:
    """Long A and long B: a negative L_10 needs strictly less risk than the positive one."""
    account = book(perp("M0", True, qa, entries[0]), perp("M1", True, qb, entries[1]))
    neg = evaluate(account, make_risk([pa, pb], [[l00], [-l10, l11]]), PortfolioMode.MAINTENANCE)
    pos = evaluate(account, make_risk([pa, pb], [[l00], [l10, l11]]), PortfolioMode.MAINTENANCE)
    assert neg.norm_squared < pos.norm_squared
    assert neg.correlated_risk <= pos.correlated_risk
    assert neg.equity == pos.equity


def option_series(underlying: str, delta: int, mark: int, gamma: int, vega: int) -> OptionSeries:
    return OptionSeries(
        underlying=underlying,
        strike=Price(ONE),
        expiry=1798185600,
        kind="call" if delta >= 0 else "put",
        mark=Price(mark),
        delta_bps=delta,
        gamma_charge=Price(gamma),
        vega_charge=Price(vega),
    )


@st.composite
def books(draw: st.DrawFn) -> tuple[PortfolioAccount, RiskFile]:
    """Random books of perps and options over 1..4 markets, L with negative entries."""
    k = draw(st.integers(1, 4))
    market_prices = draw(st.lists(st.integers(1, 2**40), min_size=k, max_size=k))
    cholesky = [
        [draw(st.integers(-10000, 10000)) for _ in range(r)] + [draw(st.integers(1, 10000))]
        for r in range(k)
    ]
    lam_mm = draw(st.integers(1, 65535))
    lam_im = draw(st.integers(lam_mm, 65535))
    n_options = draw(st.integers(0, 8))
    options = {
        f"O{j}": option_series(
            f"M{draw(st.integers(0, k - 1))}",
            draw(st.integers(-10000, 10000)),
            draw(st.integers(0, 2**40)),
            draw(st.integers(0, 2**30)),
            draw(st.integers(0, 2**30)),
        )
        for j in range(n_options)
    }
    floors = draw(st.lists(st.integers(0, 10000), min_size=k, max_size=k))
    risk = make_risk(
        market_prices, cholesky, floors=floors, lambdas=(lam_mm, lam_im), options=options
    )
    instruments = [(f"M{i}", False) for i in range(k)] + [(o, True) for o in options]
    positions = draw(
        st.lists(
            st.builds(
                PortfolioPosition,
                st.sampled_from(instruments).map(lambda t: t[0]),
                st.just(False),
                st.booleans(),
                st.integers(0, 2**40).map(Size),
                st.integers(0, 2**40).map(Price),
            ),
            max_size=8,
        )
    )
    # fix the option flag from the instrument name
    positions = [replace(p, option=p.instrument in options) for p in positions]
    weth = draw(st.integers(0, 2**70))
    account = book(*positions, WETH=weth)
    return account, risk


@settings(max_examples=150, deadline=None)
@given(case=books(), mode=st.sampled_from(list(PortfolioMode)))
def test_boundary_balance_is_exact(
    case: tuple[PortfolioAccount, RiskFile], mode: PortfolioMode
) -> None:
    """The smallest USDC balance that passes passes; one unit (1e-18 USDC) less does not."""
    account, risk = case
    need = min_usdc(account, risk, mode)
    assume(need is not None)
    assert need is not None
    at = evaluate(with_usdc(account, need), risk, mode)
    assert at.solvent
    if need > 0:
        below = with_usdc(account, need - 1)
        assert not evaluate(below, risk, mode).solvent


@settings(max_examples=300, deadline=None)
@given(case=books(), mode=st.sampled_from(list(PortfolioMode)), usdc=st.integers(0, 2**90))
def test_proven_statement_implies_exact_claim(
    case: tuple[PortfolioAccount, RiskFile], mode: PortfolioMode, usdc: int
) -> None:
    account, risk = case
    report = evaluate(with_usdc(account, usdc), risk, mode)
    if report.solvent:
        assert report.solvent_exact
        assert report.equity >= report.requirement - 1  # R is rounded up by < 1 unit
    if report.solvent_exact:
        # the exact claim in its square-root form
        assert report.d * 10000 >= sqrt_up(report.lambda_bps**2 * report.norm_squared) - 1
    if report.equity >= report.requirement:
        assert report.solvent_exact
    # maintenance never needs more than initial; withdrawal never counts more equity
    initial = evaluate(with_usdc(account, usdc), risk, PortfolioMode.INITIAL)
    maint = evaluate(
        with_usdc(account, usdc),
        risk,
        PortfolioMode.MAINTENANCE,
    )
    withdrawal = evaluate(
        with_usdc(account, usdc),
        risk,
        PortfolioMode.WITHDRAWAL,
    )
    assert maint.requirement <= initial.requirement == withdrawal.requirement
    assert withdrawal.equity <= initial.equity == maint.equity
    assert withdrawal.solvent <= initial.solvent <= maint.solvent


def test_withdrawal_counts_no_unrealized_gain() -> None:
    risk = make_risk([2000 * ONE], [[900]])
    winner = perp("M0", True, ONE, 1900 * ONE)  # +100 unrealized; R = 1.5·0.09·2000 = 270
    initial = min_usdc(book(winner), risk, PortfolioMode.INITIAL)
    withdrawal = min_usdc(book(winner), risk, PortfolioMode.WITHDRAWAL)
    assert initial is not None and withdrawal is not None
    assert abs(initial - 170 * TOKEN) < 10**7  # up to the rounding of the comparison
    assert abs(withdrawal - 270 * TOKEN) < 10**7


def test_short_option_pays_gamma_long_does_not() -> None:
    series = option_series("M0", 5000, 10 * ONE, 3 * ONE, 2 * ONE)
    risk = make_risk([2000 * ONE], [[900]], options={"C": series})
    short = PortfolioPosition("C", True, False, Size(4 * ONE), Price(10 * ONE))
    long = replace(short, long=True)
    assert evaluate(book(short), risk, PortfolioMode.MAINTENANCE).addon_display() == "20"
    assert evaluate(book(long), risk, PortfolioMode.MAINTENANCE).addon_display() == "8"
    # delta 0.5: a short call is short 2 units of underlying
    assert evaluate(book(short), risk, PortfolioMode.MAINTENANCE).exposure_display() == {
        "M0": "-4000"
    }


def test_unlisted_names_refused() -> None:
    risk = make_risk([2000 * ONE], [[900]])
    with pytest.raises(InputError, match="not listed"):
        evaluate(book(perp("M9", True, 1, 1)), risk, PortfolioMode.MAINTENANCE)
    with pytest.raises(InputError, match="option series is not listed"):
        evaluate(
            book(PortfolioPosition("C", True, True, Size(1), Price(1))),
            risk,
            PortfolioMode.MAINTENANCE,
        )
    with pytest.raises(InputError, match=r"collateral\.DAI"):
        evaluate(book(DAI=1), risk, PortfolioMode.MAINTENANCE)


# ================================================================ account files


ACCOUNT: dict[str, Any] = {
    "account": "0x" + "ab" * 20,
    "salt": "12345",
    "collateral": {"USDC": "3000", "WETH": "1"},
    "positions": [
        {"market": "ETH-USD", "side": "long", "size": "2", "entry_price": "1800"},
        {"option": "ETH-20261225-2500-C", "side": "short", "size": "5", "entry_price": "40"},
        {"option": "ETH-20261225-2500-C", "side": "long", "size": "1", "entry_price": "0"},
    ],
}


def test_account_file_round_trip(tmp_path: Path) -> None:
    risk = load_risk_file(ROOT / "examples" / "risk.json")
    path = tmp_path / "account.json"
    path.write_text(json.dumps(ACCOUNT))
    account = load_portfolio_account(path, risk)
    assert account.positions[1].option and account.positions[1].entry == 40 * ONE
    assert account.collateral[USDC] == 3000 * TOKEN
    assert parse_portfolio_account(portfolio_account_to_json(account), risk) == account


def _with_position(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = copy.deepcopy(ACCOUNT)
    change(data["positions"][0])
    return data


ACCOUNT_REFUSALS: list[tuple[str, dict[str, Any], str]] = [
    ("both", _with_position(lambda p: p.update(option="ETH-20261225-2500-C")), "exactly one"),
    ("neither", _with_position(lambda p: p.pop("market")), "exactly one"),
    ("unknown market", _with_position(lambda p: p.update(market="SOL-USD")), "positions[0].market"),
    (
        "unknown option",
        _with_position(lambda p: (p.pop("market"), p.update(option="X"))),
        "positions[0].option: unknown option series",
    ),
    ("perp entry 0", _with_position(lambda p: p.update(entry_price="0")), "entry_price"),
    ("side", _with_position(lambda p: p.update(side="buy")), "positions[0].side"),
    ("extra", _with_position(lambda p: p.update(leverage="2")), "unknown field 'leverage'"),
    ("size", _with_position(lambda p: p.update(size="-1")), "positions[0].size"),
    ("collateral", {**ACCOUNT, "collateral": {"DAI": "1"}}, "collateral.DAI"),
    ("usdc decimals", {**ACCOUNT, "collateral": {"USDC": "0.0000001"}}, "collateral.USDC"),
]


@pytest.mark.parametrize(
    ("label", "data", "expected"), ACCOUNT_REFUSALS, ids=[r[0] for r in ACCOUNT_REFUSALS]
)
def test_account_refusal_names_the_field(label: str, data: dict[str, Any], expected: str) -> None:
    risk = load_risk_file(ROOT / "examples" / "risk.json")
    with pytest.raises(InputError) as info:
        parse_portfolio_account(data, risk)
    message = str(info.value)
    assert "\n" not in message and message.startswith("account file"), message
    assert expected in message, message
