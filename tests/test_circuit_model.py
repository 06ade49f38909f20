"""The circuit accepts exactly the accounts the reference model calls solvent.

Inputs go through the real encoding and circom's witness program: a `===` or range
check that fails aborts witness generation, so "accepts" means every constraint the
witness program checks holds. (tests/test_prove.py proves and verifies a sample.)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from prover.prove import Prover
from zkmargin.encoding import Binding, encode
from zkmargin.errors import InputError, ProverError
from zkmargin.model import (
    Account,
    CollateralParams,
    MarketData,
    MarketParams,
    Mode,
    Position,
    evaluate,
)
from zkmargin.poseidon import poseidon
from zkmargin.units import (
    BPS_ONE,
    COMMITMENT_DOMAIN_TAG,
    SNARK_SCALAR_FIELD,
    Balance,
    Bps,
    Price,
    Size,
)

MARKETS = ["M0", "M1", "M2", "M3"]
# FINE: price 1e-8 and haircut 9999 bps, so one unit of balance is one margin unit.
# BULK: a large price and no haircut, to carry most of the collateral value.
FINE, BULK = "FINE", "BULK"
BULK_PRICE = 2**62


def accepts(prover: Prover, circuit: str, inputs: dict[str, Any]) -> bool:
    try:
        prover.witness_calculator(circuit).calculate(inputs)
    except ProverError:
        return False
    return True


def market_data(prices: list[int], mmr: list[int], imr: list[int]) -> MarketData:
    k = len(prices)
    return MarketData(
        markets={MARKETS[i]: MarketParams(Bps(mmr[i]), Bps(imr[i])) for i in range(k)},
        collateral={
            FINE: CollateralParams(Bps(BPS_ONE - 1), 18),
            BULK: CollateralParams(Bps(0), 18),
        },
        prices={
            **{MARKETS[i]: Price(prices[i]) for i in range(k)},
            FINE: Price(1),
            BULK: Price(BULK_PRICE),
        },
    )


def fund_to_slack(
    account: Account, data: MarketData, mode: Mode, slack: int, fine_only: bool
) -> Account | None:
    """Set collateral so that equity - requirement == slack exactly (None if impossible)."""
    bare = evaluate(replace(account, collateral={}), data, mode)
    need = bare.requirement - bare.equity + slack  # collateral value to reach the slack
    if need < 0:
        return None
    if fine_only:
        bulk, fine = 0, need
    else:
        bulk, fine = divmod(need, BULK_PRICE * BPS_ONE)
    if bulk >= 2**96 or fine >= 2**96:
        return None
    collateral = {FINE: Balance(fine)} if fine_only else {FINE: Balance(fine), BULK: Balance(bulk)}
    return replace(account, collateral=collateral)


def positions(n: int, k: int, size_bits: int, price_bits: int) -> st.SearchStrategy[list[Position]]:
    position = st.builds(
        Position,
        market=st.sampled_from(MARKETS[:k]),
        long=st.booleans(),
        size=st.integers(0, 2**size_bits - 1).map(Size),
        entry_price=st.integers(1, 2**price_bits - 1).map(Price),
    )
    return st.lists(position, min_size=0, max_size=n)


@st.composite
def cases(draw: st.DrawFn, circuit: str) -> tuple[Account, MarketData, Mode, int]:
    n, k = (4, 4) if circuit == "cross" else (1, 1)
    size_bits, price_bits = (58, 58) if circuit == "cross" else (20, 20)
    prices = draw(st.lists(st.integers(1, 2**price_bits - 1), min_size=k, max_size=k))
    mmr = draw(st.lists(st.integers(1, BPS_ONE), min_size=k, max_size=k))
    imr = [draw(st.integers(m, BPS_ONE)) for m in mmr]
    data = market_data(prices, mmr, imr)
    account = Account(
        address=draw(st.integers(0, 2**160 - 1)),
        salt=draw(st.integers(1, SNARK_SCALAR_FIELD - 1)),
        collateral={},
        positions=tuple(draw(positions(n, k, size_bits, price_bits))),
    )
    mode = draw(st.sampled_from(list(Mode)))
    slack = draw(st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-(2**80), 2**80)))
    return account, data, mode, slack


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_circuit_agrees_with_model(prover: Prover, circuit: str, data: st.DataObject) -> None:
    account, mdata, mode, slack = data.draw(cases(circuit))
    funded = fund_to_slack(account, mdata, mode, slack, fine_only=circuit == "isolated")
    assume(funded is not None)
    assert funded is not None
    if circuit == "isolated":
        # the isolated circuit has one collateral slot: keep only the fine asset listed
        mdata = replace(
            mdata,
            collateral={FINE: mdata.collateral[FINE]},
            prices={k: v for k, v in mdata.prices.items() if k != BULK},
        )
    report = evaluate(funded, mdata, mode)
    assert report.excess == slack
    enc = encode(funded, mdata, circuit=circuit, mode=mode, binding=Binding())
    assert enc.statement.withdrawal is (mode is Mode.WITHDRAWAL)
    event("solvent" if report.solvent else "insolvent")
    event(f"{mode.value}, gain withheld" if report.withheld_gain else mode.value)
    assert accepts(prover, circuit, enc.inputs) == report.solvent


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(data=st.data())
def test_withdrawal_with_gains_agrees_with_model(
    prover: Prover, circuit: str, data: st.DataObject
) -> None:
    """The withdrawal rule where it differs from the initial one: at least one position
    in profit, funded to the withdrawal rule's slack (so solvent when the gain counts,
    whatever the slack's sign once it exceeds the gain)."""
    account, mdata, _, slack = data.draw(cases(circuit))
    mode = Mode.WITHDRAWAL
    # a first position in profit (the others keep their drawn sides)
    bits = 58 if circuit == "cross" else 20
    lead = data.draw(
        st.builds(
            Position,
            market=st.sampled_from(sorted(mdata.markets)),
            long=st.just(True),
            size=st.integers(1, 2**bits - 1).map(Size),
            entry_price=st.integers(1, 2**bits - 1).map(Price),
        )
    )
    lead = replace(lead, long=mdata.prices[lead.market] > lead.entry_price)
    account = replace(account, positions=(lead, *account.positions[1:]))
    assume(evaluate(account, mdata, mode).withheld_gain > 0)  # not entry == price
    funded = fund_to_slack(account, mdata, mode, slack, fine_only=circuit == "isolated")
    assume(funded is not None)
    assert funded is not None
    if circuit == "isolated":
        mdata = replace(
            mdata,
            collateral={FINE: mdata.collateral[FINE]},
            prices={k: v for k, v in mdata.prices.items() if k != BULK},
        )
    report = evaluate(funded, mdata, mode)
    assert report.excess == slack
    initial = evaluate(funded, mdata, Mode.INITIAL)
    assert initial.excess == slack + report.withheld_gain
    enc = encode(funded, mdata, circuit=circuit, mode=mode, binding=Binding())
    event("solvent" if report.solvent else "insolvent")
    if initial.solvent and not report.solvent:
        event("insolvent only without the gain")
    assert accepts(prover, circuit, enc.inputs) == report.solvent


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
@pytest.mark.parametrize("mode", list(Mode))
def test_exact_boundary(prover: Prover, circuit: str, mode: Mode) -> None:
    """Equity exactly at the requirement passes; one margin unit below fails."""
    data = market_data(
        [2000_00000000, 3_00000000, 7, 2**63][: 1 if circuit == "isolated" else 4],
        [500, 300, 1, 1][: 1 if circuit == "isolated" else 4],
        [1000, 600, 2, 10000][: 1 if circuit == "isolated" else 4],
    )
    if circuit == "isolated":
        data = replace(
            data,
            collateral={FINE: data.collateral[FINE]},
            prices={k: v for k, v in data.prices.items() if k != BULK},
        )
        # one collateral slot of one margin unit per balance unit: keep the loss tiny
        legs = (Position("M0", True, Size(100), Price(2100_00000000)),)
    else:
        legs = (
            Position("M0", True, Size(5_00000000), Price(2100_00000000)),
            Position("M1", False, Size(123_45678901), Price(2_50000000)),
            Position("M2", True, Size(2**64 - 1), Price(9)),
            Position("M3", False, Size(1), Price(2**64 - 1)),
        )
    base = Account(address=0xA11CE, salt=12345, collateral={}, positions=legs)
    for slack, expect in ((0, True), (-1, False), (1, True)):
        funded = fund_to_slack(base, data, mode, slack, fine_only=circuit == "isolated")
        assert funded is not None
        assert evaluate(funded, data, mode).excess == slack
        enc = encode(funded, data, circuit=circuit, mode=mode, binding=Binding())
        assert accepts(prover, circuit, enc.inputs) is expect, slack


def _solvent_cross(prover: Prover) -> tuple[Account, MarketData, dict[str, Any]]:
    data = market_data([2000_00000000, 3_00000000, 7, 9], [500, 300, 1, 1], [1000, 600, 2, 1])
    account = Account(
        address=0xB0B,
        salt=777,
        collateral={BULK: Balance(10**12)},  # ~46,000 USD
        positions=(Position("M0", True, Size(5_00000000), Price(2000_00000000)),),
    )
    assert evaluate(account, data, Mode.INITIAL).solvent
    enc = encode(account, data, circuit="cross", mode=Mode.MAINTENANCE, binding=Binding())
    assert accepts(prover, "cross", enc.inputs)
    return account, data, enc.inputs


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("salt", 778),  # wrong salt: commitment no longer opens
        ("commitment", 1),  # another account's commitment
        ("side", [0, 0, 0, 0]),  # flip a long to a short
        ("size", [5_00000001, 0, 0, 0]),  # one unit more than committed
        ("entry", [2000_00000001, 0, 0, 0]),
        ("market", [1, 0, 0, 0]),  # same position in another market
        ("size", [2**64, 0, 0, 0]),  # out of the 64-bit range
        ("entry", [2**64, 0, 0, 0]),
        ("side", [2, 0, 0, 0]),  # not a bit
        ("market", [4, 0, 0, 0]),  # no such market slot
        ("size", [SNARK_SCALAR_FIELD - 1, 0, 0, 0]),  # "-1"
    ],
)
def test_tampered_private_inputs_rejected(prover: Prover, field: str, value: Any) -> None:
    _, _, inputs = _solvent_cross(prover)
    assert not accepts(prover, "cross", {**inputs, field: value})


@pytest.mark.parametrize(
    ("index", "value"),
    [
        (0, 2**192),  # price word wider than 3 x 64 bits
        (0, 0),  # zero prices
        (2, 2**192),  # balance word wider than 2 x 96 bits
        (3, 10001),  # rate above 10000 bps
        (3, 10001 << (14 * 4)),  # haircut above 10000 bps
        (3, 2 << (14 * 6)),  # opening flag not a bit
        (3, 2 << (14 * 7)),  # withdrawal flag not a bit
        (4, 2**224),  # account | nonce wider than 224 bits
        (5, 2**224),  # engine | chain id wider than 224 bits
    ],
)
def test_out_of_range_public_words_rejected(prover: Prover, index: int, value: int) -> None:
    _, _, inputs = _solvent_cross(prover)
    names = [
        "priceWords",
        "priceWords",
        "balanceWords",
        "paramsWord",
        "accountNonce",
        "engineChain",
    ]
    key = names[index]
    tampered = dict(inputs)
    if isinstance(inputs[key], list):
        tampered[key] = [value, *inputs[key][1:]]
    else:
        tampered[key] = value
    assert not accepts(prover, "cross", tampered)


def test_opening_proof_requires_entry_at_oracle_price(prover: Prover) -> None:
    account, data, _ = _solvent_cross(prover)
    at_price = encode(
        account, data, circuit="cross", mode=Mode.INITIAL, binding=Binding(), opening=True
    )
    assert accepts(prover, "cross", at_price.inputs)
    moved = replace(
        account, positions=(replace(account.positions[0], entry_price=Price(1999_00000000)),)
    )
    # the Python pre-check refuses it first; without it, the circuit refuses it too
    off_price = encode(
        moved,
        data,
        circuit="cross",
        mode=Mode.INITIAL,
        binding=Binding(),
        opening=True,
        precheck=False,
    )
    assert not accepts(prover, "cross", off_price.inputs)
    # the same off-price entry is fine in a maintenance proof
    plain = encode(moved, data, circuit="cross", mode=Mode.MAINTENANCE, binding=Binding())
    assert accepts(prover, "cross", plain.inputs)


def test_encoding_refuses_what_the_circuit_cannot_hold() -> None:
    data = market_data([1, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1])
    legs = tuple(Position("M0", True, Size(1), Price(1)) for _ in range(5))
    account = Account(address=1, salt=1, collateral={}, positions=legs)
    with pytest.raises(InputError, match="at most 4"):
        encode(account, data, circuit="cross", mode=Mode.MAINTENANCE, binding=Binding())
    with pytest.raises(InputError, match="nonce"):
        Binding(nonce=2**64)


def recommit(inputs: dict[str, Any]) -> dict[str, Any]:
    """Recompute the commitment for edited private inputs, as an honest prover would."""
    slots = [
        m | side << 8 | size << 9 | entry << 73
        for m, side, size, entry in zip(
            inputs["market"], inputs["side"], inputs["size"], inputs["entry"], strict=True
        )
    ]
    digest = slots[0] if len(slots) == 1 else poseidon(slots)
    account = inputs["accountNonce"] & (2**160 - 1)
    commitment = poseidon([COMMITMENT_DOMAIN_TAG, account, digest, inputs["salt"]])
    return {**inputs, "commitment": commitment}


def test_recommit_matches_encoding(prover: Prover) -> None:
    _, _, inputs = _solvent_cross(prover)
    assert recommit(inputs)["commitment"] == inputs["commitment"]


def test_position_in_unlisted_slot_rejected(prover: Prover) -> None:
    """A market file with 2 markets leaves cross slots 2 and 3 unused (price 1, rate 0):
    a position parked there, at the pad price, has no witness."""
    data = market_data([2000_00000000, 3_00000000], [500, 300], [1000, 600])
    account = Account(
        address=0xB0B,
        salt=777,
        collateral={BULK: Balance(10**12)},
        positions=(Position("M0", True, Size(5_00000000), Price(2000_00000000)),),
    )
    enc = encode(account, data, circuit="cross", mode=Mode.MAINTENANCE, binding=Binding())
    assert accepts(prover, "cross", enc.inputs)
    parked = recommit(
        {
            **enc.inputs,
            "market": [0, 3, 0, 0],
            "side": [1, 1, 0, 0],
            "size": [5_00000000, 1, 0, 0],
            "entry": [2000_00000000, 1, 0, 0],
        }
    )
    assert not accepts(prover, "cross", parked)
    # the same slot pointing at a listed market is fine, and an empty slot may point anywhere
    listed = recommit({**parked, "market": [0, 1, 0, 0]})
    assert accepts(prover, "cross", listed)
    empty = recommit({**parked, "size": [5_00000000, 0, 0, 0]})
    assert accepts(prover, "cross", empty)
