"""The engine's side of the portfolio statement, in Python: the 8 public inputs
``PortfolioEngine`` builds (IPortfolioEngine's order) from its storage and the oracle, and
the words ``publishRisk`` takes, checked against the circuit's own input encoding
(:func:`zkmargin.portfolio_encoding.encode_portfolio`), the layout the shared spec writes
out bit by bit, and the witness program of the compiled circuit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from test_portfolio_cli import book, risk, risk_path
from test_portfolio_prove import CALL, PUT, at_marks

from prover.prove import Prover
from zkmargin.encoding import Binding
from zkmargin.errors import InputError, ProverError
from zkmargin.portfolio import PortfolioMode
from zkmargin.portfolio_encoding import (
    ENGINE_MODES,
    PAD_PRICE,
    PortfolioStatement,
    encode_portfolio,
    engine_public_inputs,
    normalised_balance,
    portfolio_commitment,
)
from zkmargin.riskfile import (
    DEFAULT_SHAPE,
    RiskFile,
    intrinsic_value,
    risk_commitment,
    risk_words,
    settle_series,
)

__all__ = ["risk", "risk_path"]  # fixtures

BINDING = Binding(chain_id=31337, engine=0xE7F1725E7734CE288F8367E1BB143E90BB3F0512, nonce=9)
PUBLIC = ("commitment", "priceWords", "balanceWords", "riskCommitment", "modeWord",
          "accountNonce", "engineChain")  # fmt: skip


def flat_public(inputs: dict[str, Any]) -> list[int]:
    """The circuit input's public signals in declaration order (circuits/portfolio.circom)."""
    out: list[int] = []
    for key in PUBLIC:
        value = inputs[key]
        out += value if isinstance(value, list) else [value]
    return out


def engine_view(risk: RiskFile, name: str, entry: str) -> tuple[Any, list[int]]:
    """What the engine sees for ``name``'s book: its encoding, and the inputs built from the
    engine's own data (listed prices by id, unlisted slots left out, normalised balances)."""
    account = book(name, risk)
    if entry == "open":
        account = at_marks(account, risk)
    mode, opening = ENGINE_MODES[entry]
    enc = encode_portfolio(account, risk, mode=mode, binding=BINDING, opening=opening)
    built = engine_public_inputs(
        commitment=portfolio_commitment(account, risk),
        market_prices=[risk.prices[m] for m in risk.markets],
        collateral_prices=[risk.prices[c] for c in risk.collateral],
        balances=[account.collateral.get(c, 0) for c in risk.collateral],
        risk_commitment=risk_commitment(risk),
        mode=mode,
        opening=opening,
        account=account.address,
        nonce=BINDING.nonce,
        engine=BINDING.engine,
        chain_id=BINDING.chain_id,
    )
    return enc, built


@pytest.mark.parametrize("entry", sorted(ENGINE_MODES))
@pytest.mark.parametrize("name", ["covered-call", "weth-long-eth", "short-strangle"])
def test_engine_inputs_equal_the_circuit_encoding(risk: RiskFile, name: str, entry: str) -> None:
    enc, built = engine_view(risk, name, entry)
    assert built == flat_public(enc.inputs) == enc.statement.public_signals()
    assert built[5] == {"open": 5, "prove": 0, "withdraw": 3}[entry]


def test_engine_inputs_follow_the_spec_layout(risk: RiskFile) -> None:
    """Bit by bit as the shared spec writes it: two listed markets of four (slots 2, 3
    padded with price 1), two assets, balances at 96 bits, account | nonce << 160."""
    eth, btc, usdc, weth = (risk.prices[n] for n in ("ETH-USD", "BTC-USD", "USDC", "WETH"))
    assert list(risk.markets) == ["ETH-USD", "BTC-USD"] and list(risk.collateral) == [
        "USDC", "WETH"
    ]  # fmt: skip
    built = engine_public_inputs(
        commitment=123, market_prices=[eth, btc], collateral_prices=[usdc, weth],
        balances=[7 * 10**18, 5], risk_commitment=456, mode=PortfolioMode.INITIAL,
        opening=True, account=0xA1, nonce=9, engine=0xE0, chain_id=31337,
    )  # fmt: skip
    assert built == [
        123,
        eth | btc << 64 | PAD_PRICE << 128,
        PAD_PRICE | usdc << 64 | weth << 128,
        7 * 10**18 | 5 << 96,
        456,
        1 | 0 << 1 | 1 << 2,
        0xA1 | 9 << 160,
        0xE0 | 31337 << 160,
    ]
    # an unlisted slot in the middle (None) is padded the same way
    padded = engine_public_inputs(
        commitment=123, market_prices=[eth, None, btc], collateral_prices=[usdc],
        balances=[1], risk_commitment=456, mode=PortfolioMode.MAINTENANCE,
        account=0xA1, nonce=0, engine=0xE0, chain_id=1,
    )  # fmt: skip
    assert padded[1:4] == [eth | 1 << 64 | btc << 128, 1 | usdc << 64 | 1 << 128, 1]
    assert PortfolioStatement.from_public_signals(padded).prices == (eth, 1, btc, 1, usdc, 1)


def test_engine_inputs_are_what_the_circuit_accepts(prover: Prover, risk: RiskFile) -> None:
    """The witness program accepts the engine-built public inputs beside the private ones
    of an opening, and refuses them for another account (the commitment binds it; the nonce
    and engine are bound by the proof alone, as public inputs)."""
    enc, built = engine_view(risk, "covered-call", "open")
    names = ["commitment", "priceWords", "priceWords", "balanceWords", "riskCommitment",
             "modeWord", "accountNonce", "engineChain"]  # fmt: skip
    inputs = dict(enc.inputs)
    inputs["priceWords"], inputs["balanceWords"] = built[1:3], built[3:4]
    for key, value in zip(names, built, strict=True):
        if key not in ("priceWords", "balanceWords"):
            inputs[key] = value
    calc = prover.witness_calculator("portfolio")
    calc.calculate(inputs)
    with pytest.raises(ProverError, match="Assert Failed") as info:
        calc.calculate({**inputs, "accountNonce": built[6] + 1})
    assert "line: " in str(info.value) and "PortfolioMargin" in str(info.value)


def test_normalised_balance() -> None:
    assert normalised_balance(1_500_000, 6) == 15 * 10**17  # 1.5 USDC
    assert normalised_balance(5, 18) == 5
    with pytest.raises(InputError, match=r"^decimals: 19 is outside 0\.\.18$"):
        normalised_balance(1, 19)


BASE: dict[str, Any] = dict(
    commitment=1, market_prices=[2], collateral_prices=[3], balances=[4], risk_commitment=5,
    mode=PortfolioMode.MAINTENANCE, account=6, nonce=7, engine=8, chain_id=9,
)  # fmt: skip
REFUSED = {
    "zero price": ({"market_prices": [0]}, r"^market_prices\[0\]: 0 is out of range"),
    "price 2^64": (
        {"collateral_prices": [2**64]},
        r"^collateral_prices\[0\]: 18446744073709551616",
    ),
    "five markets": ({"market_prices": [1] * 5}, r"^market_prices: 5 given; the circuit has 4"),
    "balance 2^96": ({"balances": [2**96]}, r"^balances\[0\]: 79228162514264337593543950336 is"),
    "three balances": ({"balances": [1, 2, 3]}, r"^balances: 3 given; the circuit has 2$"),
    "nonce 2^64": ({"nonce": 2**64}, r"^nonce: 18446744073709551616 is out of range$"),
    "account 2^160": ({"account": 2**160}, r"^account: \d+ is out of range$"),
    "opening maintenance": ({"opening": True}, r"^mode: an opening proof is an initial proof"),
}


@pytest.mark.parametrize("label", sorted(REFUSED))
def test_engine_inputs_refuse_out_of_range_values(label: str) -> None:
    change, message = REFUSED[label]
    with pytest.raises(InputError, match=message):
        engine_public_inputs(**{**BASE, **change})


# ---------------------------------------------------------------- publication words


def test_publish_args_are_the_committed_words(risk: RiskFile) -> None:
    words = risk_words(risk)
    params, chol, values, oparams, keys = words.publish_args()
    assert (params, chol) == (words.params, words.cholesky)
    assert len(values) == len(oparams) == len(keys) == 8
    rebuilt = replace(
        words, option_values=tuple(values), option_params=tuple(oparams), option_keys=tuple(keys)
    )
    assert rebuilt.commitment(DEFAULT_SHAPE) == risk_commitment(risk)
    # slot j is the j-th series of the file; the unused slots are all zero
    n = len(risk.options)
    assert values[n:] == oparams[n:] == keys[n:] == [0] * (8 - n)
    j = list(risk.options).index(CALL)
    call = risk.options[CALL]
    assert values[j] & (2**64 - 1) == call.mark and keys[j] & (2**64 - 1) == call.strike
    assert oparams[j] >> 48 == 1  # listed


@pytest.mark.parametrize(
    ("series", "price", "intrinsic"),
    [(CALL, 1900 * 10**8, 200 * 10**8), (CALL, 1600 * 10**8, 0),
     (PUT, 1600 * 10**8, 100 * 10**8), (PUT, 1700 * 10**8, 0)],
)  # fmt: skip
def test_settled_series_words(risk: RiskFile, series: str, price: int, intrinsic: int) -> None:
    """A series published settled: mark = intrinsic value at the settlement price (the
    1700 strike), δ = gamma = vega = 0 (the engine's rule: A >> 64 == 0, B & 0x1ffff == 0),
    its key and listed flag unchanged."""
    settled = settle_series(risk, series, price)
    assert intrinsic_value(risk.options[series], price) == intrinsic
    before, after = risk_words(risk), risk_words(settled)
    j = list(risk.options).index(series)
    assert after.option_values[j] == intrinsic
    assert after.option_params[j] & 0x1FFFF == 0
    assert after.option_params[j] >> 32 == before.option_params[j] >> 32  # underlying, listed
    assert after.option_keys == before.option_keys
    others = [i for i in range(8) if i != j]
    assert [after.option_values[i] for i in others] == [before.option_values[i] for i in others]
    assert after.commitment(DEFAULT_SHAPE) != before.commitment(DEFAULT_SHAPE)


def test_settle_refusals(risk: RiskFile) -> None:
    with pytest.raises(InputError, match=r"^options\.NOPE: unknown option series$"):
        settle_series(risk, "NOPE", 1)
    with pytest.raises(InputError, match=r"^settlement price: 0 is out of range"):
        settle_series(risk, CALL, 0)
