"""A withdrawal proof counts no unrealized gain.

The attack: after a favourable move a trader withdraws every unit of collateral against
the unrealized gain and keeps the position as a free option (if the price falls back,
liquidation seizes nothing; if it rises, the pool pays in full). The IMR statement as it
landed counted gains, so the proof went through. The fix: a withdrawal flag in the params
word (the engine sets it when it builds a withdrawal's public inputs); with it set, the
circuit counts each position's loss in full and its profit not at all.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.accounts import load_market_data, new_account
from zkmargin.encoding import Binding, Statement, circuit_shape, encode
from zkmargin.errors import InputError, InsufficientMargin, ProverError
from zkmargin.model import Account, MarketData, Mode, Position, check_provable, evaluate
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Price, Size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OPEN_PRICE = Price(1900 * 10**8)
UP_20 = Price(2280 * 10**8)


def moved_up() -> MarketData:
    data = load_market_data(EXAMPLES / "markets.json")
    return replace(data, prices={**data.prices, "ETH-USD": UP_20})


def long_eth(usdc: int) -> Account:
    """A long of 5 ETH opened at 1,900 (IMR 10%: 950 USDC), now worth 2,280 (+1,900)."""
    return new_account(
        0xA77AC4,
        {"USDC": Balance(usdc * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), OPEN_PRICE),),
    )


def test_attack_statement_without_the_flag_counts_the_gain(prover: Prover) -> None:
    """The attack, as it worked on what landed: every unit of collateral withdrawn
    (balance 0 after the withdrawal), the IMR statement without the withdrawal flag (what
    the engine built for a withdrawal) proves and verifies on the gain alone. It still
    does: an engine that does not set the flag keeps the hole."""
    data = moved_up()
    emptied = long_eth(0)
    report = evaluate(emptied, data, Mode.INITIAL)
    assert report.collateral_value == 0 and report.solvent  # solvent on the gain alone
    bundle = prover.prove(emptied, data, mode=Mode.INITIAL, binding=Binding(nonce=1))
    assert verify_bundle(bundle, prover.manifest).valid


def accepts(prover: Prover, circuit: str, inputs: dict[str, Any]) -> bool:
    """Does circom's witness program (every `===` and range check) accept these inputs?"""
    try:
        prover.witness_calculator(circuit).calculate(inputs)
    except ProverError:
        return False
    return True


def test_withdrawal_mode_refuses_the_attack(prover: Prover) -> None:
    """The same emptied account: refused in withdrawal mode, by the Python pre-check and
    by the circuit itself; still provable as maintenance (it is solvent, only not at the
    withdrawal rule)."""
    data = moved_up()
    emptied = long_eth(0)
    report = evaluate(emptied, data, Mode.WITHDRAWAL)
    assert report.pnl == 0 and report.withheld_gain == 1900 * 10**30
    assert report.equity == 0 and not report.solvent
    with pytest.raises(InsufficientMargin, match=r"equity 0 < requirement 1140\b"):
        prover.prove(emptied, data, mode=Mode.WITHDRAWAL, binding=Binding(nonce=1))
    enc = encode(emptied, data, circuit="isolated", mode=Mode.WITHDRAWAL, binding=Binding())
    assert enc.statement.withdrawal and not enc.statement.opening
    assert enc.statement.rates == (1000,)  # IMR
    assert not accepts(prover, "isolated", enc.inputs)
    maintenance = prover.prove(emptied, data, mode=Mode.MAINTENANCE, binding=Binding(nonce=1))
    assert verify_bundle(maintenance, prover.manifest).valid
    assert not maintenance.statement.withdrawal


def test_honest_withdrawal_proves(prover: Prover) -> None:
    """Keeping the IMR requirement in collateral (1,140 USDC at 2,280), the withdrawal
    proves and verifies, its statement carrying the flag."""
    data = moved_up()
    kept = long_eth(1140)
    report = evaluate(kept, data, Mode.WITHDRAWAL)
    assert report.excess == 0
    bundle = prover.prove(kept, data, mode=Mode.WITHDRAWAL, binding=Binding(nonce=2))
    assert bundle.statement.withdrawal and bundle.mode is Mode.WITHDRAWAL
    assert verify_bundle(bundle, prover.manifest).valid


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_withdrawal_boundary(prover: Prover, circuit: str) -> None:
    """Exactly at the withdrawal requirement passes, one margin unit below fails; the
    gain is what separates the withdrawal rule from the initial one."""
    data = moved_up()
    legs = [Position("ETH-USD", True, Size(5 * 10**8), OPEN_PRICE)]  # +1,900 gain
    if circuit == "cross":
        legs.append(Position("BTC-USD", False, Size(3 * 10**7), Price(61000 * 10**8)))  # +300
        legs.append(Position("BTC-USD", True, Size(10**7), Price(60500 * 10**8)))  # -50
    bare = new_account(0xB0DA, {}, tuple(legs))
    need = evaluate(bare, data, Mode.WITHDRAWAL)
    gains = evaluate(bare, data, Mode.INITIAL).pnl - need.pnl
    assert need.withheld_gain == gains > 0
    # USDC (price 1e8, no haircut): one unit of balance is 1e8 * 1e4 = 1e12 margin units;
    # USDC's 6 decimals are a precheck on account files only, so whole margin units can be
    # reached with the fine asset
    unit = data.prices["USDC"] * 10_000
    deficit = need.requirement - need.equity
    assert deficit > 0 and deficit % unit == 0
    for balance, expect in ((deficit // unit, True), (deficit // unit - 1, False)):
        account = replace(bare, collateral={"USDC": Balance(balance)})
        assert evaluate(account, data, Mode.WITHDRAWAL).solvent is expect
        # the same balance is solvent when the gain counts: only the new rule refuses
        assert evaluate(account, data, Mode.INITIAL).solvent
        enc = encode(
            account, data, circuit=circuit, mode=Mode.WITHDRAWAL, binding=Binding(), precheck=False
        )
        assert accepts(prover, circuit, enc.inputs) is expect, balance


def test_withdrawal_counts_losses_per_position() -> None:
    """One position's profit offsets no other position's loss in a withdrawal."""
    data = moved_up()
    legs = (
        Position("ETH-USD", True, Size(10**8), Price(2000 * 10**8)),  # +280
        Position("BTC-USD", True, Size(10**8), Price(60100 * 10**8)),  # -100
    )
    account = new_account(0xC0DE, {"USDC": Balance(10**18)}, legs)
    full = evaluate(account, data, Mode.INITIAL)
    withdrawal = evaluate(account, data, Mode.WITHDRAWAL)
    assert full.pnl == 180 * 10**30
    assert withdrawal.pnl == -100 * 10**30 and withdrawal.withheld_gain == 280 * 10**30
    assert withdrawal.requirement == full.requirement  # both at IMR
    assert withdrawal.collateral_value == full.collateral_value
    # a losing account has no gain to withhold: withdrawal and initial agree
    down = replace(data, prices={**data.prices, "ETH-USD": Price(1800 * 10**8)})
    assert evaluate(account, down, Mode.WITHDRAWAL) == evaluate(account, down, Mode.INITIAL)


def _params_index(circuit: str) -> int:
    shape = circuit_shape(circuit)
    return 1 + shape.price_words + shape.balance_words


@pytest.mark.slow
@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_clearing_the_flag_changes_the_public_input(prover: Prover, circuit: str) -> None:
    """The engine builds the params word. A withdrawal statement with the flag cleared is
    another public input (the initial statement that counted the gain); a proof of one
    does not verify against the other, in either direction."""
    data = moved_up()
    account = long_eth(1140)
    binding = Binding(nonce=3)
    withdrawal = prover.prove(account, data, mode=Mode.WITHDRAWAL, binding=binding, circuit=circuit)
    cleared = replace(withdrawal.statement, withdrawal=False)
    ours, theirs = withdrawal.public_signals, cleared.public_signals()
    index = _params_index(circuit)
    assert [i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b] == [index]
    k, m = circuit_shape(circuit).markets, circuit_shape(circuit).collateral
    assert ours[index] - theirs[index] == 1 << (14 * (k + m + 1))  # exactly the flag
    forged = ProofBundle(circuit, Mode.INITIAL, withdrawal.proof, theirs)
    assert not verify_bundle(forged, prover.manifest).valid
    initial = prover.prove(account, data, mode=Mode.INITIAL, binding=binding, circuit=circuit)
    assert initial.public_signals == theirs
    forged = ProofBundle(circuit, Mode.WITHDRAWAL, initial.proof, ours)
    assert not verify_bundle(forged, prover.manifest).valid
    assert Statement.from_public_signals(circuit, ours) == withdrawal.statement


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_flag_values_the_circuit_refuses(prover: Prover, circuit: str) -> None:
    """withdrawal = 2, and opening = withdrawal = 1, have no witness; the statement parser
    and the pre-check refuse them too."""
    data = moved_up()
    # entries at the oracle price and enough collateral: the opening check and the claim
    # hold, so only the flags can object
    at_price = Position("ETH-USD", True, Size(5 * 10**8), UP_20)
    account = new_account(0xF1A6, {"USDC": Balance(5000 * 10**18)}, (at_price,))
    shape = circuit_shape(circuit)
    flag = 14 * (shape.markets + shape.collateral)  # bit offset of the opening flag
    opening = encode(
        account, data, circuit=circuit, mode=Mode.INITIAL, binding=Binding(), opening=True
    )
    assert accepts(prover, circuit, opening.inputs)
    withdrawal = encode(account, data, circuit=circuit, mode=Mode.WITHDRAWAL, binding=Binding())
    assert accepts(prover, circuit, withdrawal.inputs)
    plain = encode(account, data, circuit=circuit, mode=Mode.INITIAL, binding=Binding())
    word = plain.inputs["paramsWord"]
    assert opening.inputs["paramsWord"] == word | 1 << flag
    assert withdrawal.inputs["paramsWord"] == word | 1 << (flag + 14)
    signals = plain.statement.public_signals()
    index = _params_index(circuit)
    for bad in (word | 2 << (flag + 14), word | 1 << flag | 1 << (flag + 14)):
        assert not accepts(prover, circuit, {**plain.inputs, "paramsWord": bad}), bad
        with pytest.raises(InputError, match="withdrawal flag"):
            Statement.from_public_signals(circuit, [*signals[:index], bad, *signals[index + 1 :]])
    with pytest.raises(InputError, match="not both"):
        check_provable(account, data, Mode.WITHDRAWAL, opening=True)
    # without the pre-check, encode builds the statement with both flags: no witness
    both = encode(
        account,
        data,
        circuit=circuit,
        mode=Mode.WITHDRAWAL,
        binding=Binding(),
        opening=True,
        precheck=False,
    )
    assert both.statement.opening and both.statement.withdrawal
    assert not accepts(prover, circuit, both.inputs)
