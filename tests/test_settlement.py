"""The engine's option settlement rule in Python (``zkmargin.settlement``): the worked
examples of ``contracts/test/PortfolioMarks.t.sol`` to the unit, and its properties on random
inputs (the anvil tests in ``test_chain_portfolio.py`` compare it with the engine's PnL)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from zkmargin.portfolio import PortfolioPosition
from zkmargin.riskfile import OptionSeries, RiskFile, intrinsic_value
from zkmargin.settlement import option_values, settlement_pnl
from zkmargin.units import BPS_ONE, Price, Size

ONE = 10**8
U64 = 2**64 - 1
# the forge fixture's series: published at ETH 2,000 and BTC 60,000
CALL = OptionSeries(
    "ETH-USD", Price(2500 * ONE), 1, "call", Price(4120 * 10**6), 2710, Price(980 * 10**6),
    Price(0),
)  # fmt: skip
PUT = OptionSeries(
    "BTC-USD", Price(55000 * ONE), 1, "put", Price(121050 * 10**6), -2850, Price(310 * ONE),
    Price(0),
)  # fmt: skip


def test_the_forge_examples() -> None:
    # a rally: the short call owes the tangent plus gamma, 41.2 + 81.3 + 9.8
    assert option_values(CALL, 2000 * ONE, 2300 * ONE) == (12250 * 10**6, 13230 * 10**6)
    # past the strike: intrinsic 300 beats the tangent
    assert option_values(CALL, 2000 * ONE, 2800 * ONE) == (300 * ONE, 300 * ONE)
    # a fall: long ⌊41.2 − 27.1⌋, short + 9.8
    assert option_values(CALL, 2000 * ONE, 1900 * ONE) == (1410 * 10**6, 2390 * 10**6)
    # the long put after a BTC rally: 1,210.5 − 0.285·4,000
    assert option_values(PUT, 60000 * ONE, 64000 * ONE)[0] == 7050 * 10**6
    # unchanged price: the long at its mark, the short at mark + gamma
    assert option_values(PUT, 60000 * ONE, 60000 * ONE) == (PUT.mark, PUT.mark + PUT.gamma_charge)


def test_rounding_is_against_the_trader() -> None:
    # δ·ΔP = 0.2710 of a price unit: the long rounds down, the short up
    short = CALL.mark + 1 + CALL.gamma_charge
    assert option_values(CALL, 2000 * ONE, 2000 * ONE + 1) == (CALL.mark, short)
    # a negative tangent (a deep fall): the long is the intrinsic value, never negative
    assert option_values(CALL, 2000 * ONE, 100 * ONE)[0] == 0


def test_settlement_pnl_of_carol() -> None:
    """Carol's close after a 15% rally (PortfolioMarks.t.sol): +300 − (132.3 − 41.2)."""
    risk = RiskFile(
        markets={}, collateral={}, prices={"ETH-USD": Price(2300 * ONE)}, cholesky_bps=(),
        lambda_mm_bps=1, lambda_im_bps=1, options={"C": CALL},
    )  # fmt: skip
    positions = (
        PortfolioPosition("ETH-USD", False, True, Size(ONE), Price(2000 * ONE)),
        PortfolioPosition("C", True, False, Size(ONE), CALL.mark),
    )
    assert settlement_pnl(positions, risk, {"ETH-USD": 2000 * ONE}) == 2089 * 10**15
    # settled at 2,600: the call owes its intrinsic value 100 whatever the price now
    assert (
        settlement_pnl(positions, risk, {"ETH-USD": 2000 * ONE}, {"C": 2600 * ONE})
        == (300 * ONE - (100 * ONE - CALL.mark)) * ONE
    )


@settings(max_examples=500, deadline=None)
@given(
    call=st.booleans(),
    strike=st.integers(1, U64),
    mark=st.integers(0, U64),
    delta=st.integers(0, BPS_ONE),
    gamma=st.integers(0, U64),
    published=st.integers(1, U64),
    price=st.integers(1, U64),
)
def test_long_never_above_short(
    call: bool, strike: int, mark: int, delta: int, gamma: int, published: int, price: int
) -> None:
    """As ``testFuzz_longNeverAboveShort``: intrinsic ≤ long ≤ short ≤ cap < 2^64, the long
    exactly the floored tangent, the short at least the tangent plus gamma (capped)."""
    series = OptionSeries(
        "ETH-USD", Price(strike), 1, "call" if call else "put", Price(mark),
        delta if call else -delta, Price(gamma), Price(0),
    )  # fmt: skip
    long, short = option_values(series, published, price)
    floor = intrinsic_value(series, price)
    cap = price if call else strike
    assert floor <= long <= short <= cap <= U64
    tangent = mark * BPS_ONE + series.delta_bps * (price - published)
    assert long == min(cap, max(floor, tangent // BPS_ONE))
    assert short >= min(Fraction(cap), Fraction(tangent, BPS_ONE) + gamma)
