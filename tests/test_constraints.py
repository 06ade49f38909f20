"""The R1CS checker reads circom's constraint system and names the constraints a
witness breaks; honest witnesses satisfy it, tampered ones do not."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tooling.constraints import load_r1cs
from tooling.wtns_files import read_sym

from prover.prove import Prover
from zkmargin.accounts import load_market_data, new_account
from zkmargin.model import Position
from zkmargin.units import SNARK_SCALAR_FIELD, Balance, Price, Size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def honest_witness(prover: Prover, circuit: str) -> list[int]:
    data = load_market_data(EXAMPLES / "markets.json")
    account = new_account(
        0x2222,
        {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),)
        + (
            (Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),)
            if circuit == "cross"
            else ()
        ),
    )
    if circuit == "isolated":
        account = new_account(0x2222, {"USDC": Balance(20000 * 10**18)}, account.positions)
    enc = prover.encode(account, data, circuit=circuit)
    return prover.witness_calculator(circuit).calculate(enc.inputs)


@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_honest_witness_satisfies_every_constraint(prover: Prover, circuit: str) -> None:
    r1cs = load_r1cs(prover.manifest.circuit(circuit).r1cs)
    witness = honest_witness(prover, circuit)
    assert r1cs.header.n_constraints == prover.manifest.circuit(circuit).constraints
    assert r1cs.violated(witness) == []


@pytest.mark.slow
@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_single_wire_tampering_is_caught(prover: Prover, circuit: str) -> None:
    """Every wire of the optimised circuit is in some constraint: changing any one
    (by +1, or to p-1) breaks at least one. A sample of wires per run, all named ones."""
    art = prover.manifest.circuit(circuit)
    r1cs = load_r1cs(art.r1cs)
    witness = honest_witness(prover, circuit)
    named = sorted(set(read_sym(art.sym).values()) - {0})
    rng = random.Random(1)
    sample = sorted(set(rng.sample(named, min(120, len(named)))))
    for wire in sample:
        for value in ((witness[wire] + 1) % SNARK_SCALAR_FIELD, SNARK_SCALAR_FIELD - 1):
            if value == witness[wire]:
                continue
            tampered = list(witness)
            tampered[wire] = value
            assert r1cs.violated(tampered), f"wire {wire} can be changed freely"


def test_constant_wire_must_be_one(prover: Prover) -> None:
    r1cs = load_r1cs(prover.manifest.circuit("isolated").r1cs)
    witness = honest_witness(prover, "isolated")
    assert r1cs.violated([2, *witness[1:]]) == [-1]
