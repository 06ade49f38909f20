"""A proof is usable only where it was made for, and a tampered proof is refused on-chain.

Each refused proof is a *valid* Groth16 proof of its own statement (the prover checks
it before returning it); it is sent raw, with a fixed gas limit and without the client's
input check, so the transaction is mined and reverts, and the reason decoded from the
chain is ``MarginEngine__InvalidProof()``. The engine builds every public input itself:
the caller has no way to supply the ones the proof was made for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from chain.client import (
    EngineClient,
    Kind,
    OpenPlan,
    ProofCalldata,
    check_public_inputs,
    proof_calldata,
)
from chain.deploy import deploy_system
from chain.errors import ChainError, PublicInputsMismatch, RevertError
from chain.local import LocalSystem
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from verifier.groth16 import Proof, VerifyingKey, verify
from zkmargin.encoding import Binding
from zkmargin.model import Account, Mode, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import BN254_BASE_FIELD, Price, Size

RAW_GAS = 1_500_000  # fixed: skips eth_estimateGas, so a bad proof is mined and reverts


@dataclass
class Trader:
    signer: Signer
    account: Account


@dataclass
class World:
    system: LocalSystem
    other: EngineClient  # a second engine on the same chain, same prices and parameters
    alice: Trader  # isolated, open at both engines with the same commitment
    bob: Trader  # isolated, open at the first engine
    carol: Trader  # cross, open at the first engine

    @property
    def client(self) -> EngineClient:
        return self.system.client


def _account(signer: Signer, salt: int, *positions: Position) -> Account:
    return Account(address=int(signer.address, 16), salt=salt, collateral={}, positions=positions)


def _open(
    client: EngineClient, prover: Prover, trader: Trader, kind: Kind, deposits: dict[str, int]
) -> None:
    for asset, units in deposits.items():
        client.deposit(trader.signer, asset, units)
    market = client.deployment.market(trader.account.positions[0].market).id
    plan = OpenPlan(trader.account, kind, market if kind is Kind.ISOLATED else 0, 0)
    client.open(trader.signer, plan, prover)


ETH_LONG = Position("ETH-USD", True, Size(10**8), Price(2000 * 10**8))


@pytest.fixture(scope="module")
def world(prover: Prover, chain_system: LocalSystem) -> Iterator[World]:
    system = chain_system  # the session's chain, reverted after this module
    second, _ = deploy_system(system.chain, dev_signer(0), build=False)
    other = EngineClient(system.chain, second)
    alice = Trader(dev_signer(1), _account(dev_signer(1), 111, ETH_LONG))
    bob = Trader(dev_signer(2), _account(dev_signer(2), 222, ETH_LONG))
    carol = Trader(
        dev_signer(4),
        _account(
            dev_signer(4),
            444,
            ETH_LONG,
            Position("BTC-USD", False, Size(10**7), Price(60000 * 10**8)),
        ),
    )
    usdc = 2000 * 10**6
    _open(system.client, prover, alice, Kind.ISOLATED, {"USDC": usdc})
    _open(other, prover, alice, Kind.ISOLATED, {"USDC": usdc})
    _open(system.client, prover, bob, Kind.ISOLATED, {"USDC": usdc})
    _open(system.client, prover, carol, Kind.CROSS, {"USDC": usdc, "WETH": 10**18})
    yield World(system, other, alice, bob, carol)


def prove(client: EngineClient, prover: Prover, trader: Trader, **binding: int) -> ProofBundle:
    """A valid maintenance proof for ``trader`` at ``client``'s state, binding overridden."""
    state = client.account_state(trader.signer.address)
    data = client.market_data_for(state)
    account = client.chain_account(trader.account, data)
    bound = replace(client.binding(state.nonce), **binding)
    bundle = prover.prove(
        account, data, mode=Mode.MAINTENANCE, binding=bound, circuit=state.kind.circuit
    )
    vk = VerifyingKey.load(prover.manifest.circuit(bundle.circuit).vkey)
    assert verify(vk, Proof.from_json(bundle.proof), bundle.public_signals)
    return bundle


def engine_inputs(client: EngineClient, who: str) -> list[int]:
    return [int(v) for v in client.engine.call("publicInputs", who, False, 0, 0)]


def submit_raw(client: EngineClient, signer: Signer, calldata: ProofCalldata) -> None:
    client.engine.transact(signer, "proveMargin", calldata, gas=RAW_GAS)


def assert_refused_on_chain(client: EngineClient, signer: Signer, calldata: ProofCalldata) -> None:
    nonce = client.account_state(signer.address).nonce
    with pytest.raises(RevertError) as info:
        submit_raw(client, signer, calldata)
    assert info.value.name == "MarginEngine__InvalidProof", str(info.value)
    assert "(tx 0x" in str(info.value)  # mined and reverted, not just simulated
    assert client.account_state(signer.address).nonce == nonce


# ---------------------------------------------------------------- baseline


def test_the_right_proof_is_accepted_raw(world: World, prover: Prover) -> None:
    client, alice = world.client, world.alice
    bundle = prove(client, prover, alice)
    check_public_inputs(
        bundle.public_signals, engine_inputs(client, alice.signer.address), "isolated"
    )
    nonce = client.account_state(alice.signer.address).nonce
    submit_raw(client, alice.signer, proof_calldata(bundle.proof))
    assert client.account_state(alice.signer.address).nonce == nonce + 1


# ---------------------------------------------------------------- binding


def test_refused_for_another_account(world: World, prover: Prover) -> None:
    client = world.client
    # same engine, prices, balances and nonce: only the account (and its commitment) differ
    bob_nonce = client.account_state(world.bob.signer.address).nonce
    bundle = prove(client, prover, world.alice, nonce=bob_nonce)
    with pytest.raises(PublicInputsMismatch, match="commitment"):
        check_public_inputs(
            bundle.public_signals, engine_inputs(client, world.bob.signer.address), "isolated"
        )
    assert_refused_on_chain(client, world.bob.signer, proof_calldata(bundle.proof))


def test_refused_for_another_nonce_and_never_replayed(world: World, prover: Prover) -> None:
    client, alice = world.client, world.alice
    who = alice.signer.address
    nonce = client.account_state(who).nonce
    ahead = prove(client, prover, alice, nonce=nonce + 1)
    with pytest.raises(PublicInputsMismatch, match="accountNonce"):
        check_public_inputs(ahead.public_signals, engine_inputs(client, who), "isolated")
    assert_refused_on_chain(client, alice.signer, proof_calldata(ahead.proof))
    accepted = prove(client, prover, alice)
    submit_raw(client, alice.signer, proof_calldata(accepted.proof))
    assert_refused_on_chain(client, alice.signer, proof_calldata(accepted.proof))  # replay
    # the proof made for the next nonce is now usable: the nonce is the only replay key
    assert client.account_state(who).nonce == nonce + 1
    submit_raw(client, alice.signer, proof_calldata(ahead.proof))


def test_refused_by_another_engine(world: World, prover: Prover) -> None:
    alice = world.alice
    who = alice.signer.address
    # make both engines' states for Alice equal except the engine address
    while world.other.account_state(who).nonce < world.client.account_state(who).nonce:
        submit_raw(
            world.other, alice.signer, proof_calldata(prove(world.other, prover, alice).proof)
        )
    for_other = prove(world.other, prover, alice)
    here = engine_inputs(world.client, who)
    differing = [
        i for i, (a, b) in enumerate(zip(for_other.public_signals, here, strict=True)) if a != b
    ]
    assert differing == [len(here) - 1], "only engineChain should differ"
    assert_refused_on_chain(world.client, alice.signer, proof_calldata(for_other.proof))
    submit_raw(world.other, alice.signer, proof_calldata(for_other.proof))  # valid there


def test_refused_on_another_chain(world: World, prover: Prover) -> None:
    client, alice = world.client, world.alice
    elsewhere = prove(client, prover, alice, chain_id=1)
    statement = elsewhere.statement
    assert statement.chain_id == 1 and statement.engine == int(client.deployment.engine, 16)
    with pytest.raises(PublicInputsMismatch, match="engineChain"):
        check_public_inputs(
            elsewhere.public_signals, engine_inputs(client, alice.signer.address), "isolated"
        )
    assert_refused_on_chain(client, alice.signer, proof_calldata(elsewhere.proof))


def test_a_cross_proof_does_not_pass_for_an_isolated_account(world: World, prover: Prover) -> None:
    carol = prove(world.client, prover, world.carol)
    assert carol.circuit == "cross"
    assert_refused_on_chain(world.client, world.alice.signer, proof_calldata(carol.proof))


def test_binding_default_is_not_the_engine(world: World) -> None:
    """Binding() defaults (engine 0) never match a deployed engine's inputs."""
    assert Binding().engine == 0 and int(world.client.deployment.engine, 16) != 0


# ---------------------------------------------------------------- tampered proofs


def _tampered(calldata: ProofCalldata) -> dict[str, ProofCalldata]:
    a, b, c = calldata
    q = BN254_BASE_FIELD
    return {
        "a off the curve": ((a[0], (a[1] + 1) % q), b, c),
        "a coordinate + q": ((a[0] + q, a[1]), b, c),
        "c replaced by a": (a, b, a),
        "a negated": ((a[0], q - a[1]), b, c),
        "b not swapped (snarkjs order)": (a, ((b[0][1], b[0][0]), (b[1][1], b[1][0])), c),
        "b coordinates swapped": (a, (b[1], b[0]), c),
        "all zero": ((0, 0), ((0, 0), (0, 0)), (0, 0)),
    }


@pytest.fixture(scope="module")
def good(world: World, prover: Prover) -> ProofCalldata:
    """One valid proof for Alice's current nonce (the tampered ones leave the nonce as is)."""
    return proof_calldata(prove(world.client, prover, world.alice).proof)


@pytest.mark.parametrize("how", list(_tampered(((1, 2), ((3, 4), (5, 6)), (7, 8)))))
def test_tampered_proof_is_refused_on_chain(world: World, good: ProofCalldata, how: str) -> None:
    assert_refused_on_chain(world.client, world.alice.signer, _tampered(good)[how])


def test_the_untampered_proof_still_passes(world: World, good: ProofCalldata) -> None:
    submit_raw(world.client, world.alice.signer, good)


def test_a_valid_proof_starved_of_gas_is_never_accepted(world: World, prover: Prover) -> None:
    """Too little gas for the pairing precompile would make the verifier return false; the
    engine refuses to start verifying without the verifier's full allowance, so the
    revert names the gas, not the proof."""
    client, alice = world.client, world.alice
    who = alice.signer.address
    nonce = client.account_state(who).nonce
    calldata = proof_calldata(prove(client, prover, alice).proof)
    with pytest.raises(RevertError, match="MarginEngine__InsufficientGas"):
        client.engine.transact(alice.signer, "proveMargin", calldata, gas=400_000)
    assert client.account_state(who).nonce == nonce
    submit_raw(client, alice.signer, calldata)
    assert client.account_state(who).nonce == nonce + 1


def test_open_refuses_when_the_price_moved_after_planning(world: World, prover: Prover) -> None:
    client, dave = world.client, dev_signer(6)
    client.deposit(dave, "USDC", 1000 * 10**6)
    plan = client.plan_open(_account(dave, 666, ETH_LONG))
    assert plan.kind is Kind.ISOLATED and plan.account.positions[0].entry_price == 2000 * 10**8
    client.set_price(dev_signer(0), "ETH-USD", 2001 * 10**8)
    try:
        with pytest.raises(
            ChainError, match=r"ETH-USD moved since the entries were set \(2000 -> 2001\)"
        ):
            client.open(dave, plan, prover)
    finally:
        client.set_price(dev_signer(0), "ETH-USD", 2000 * 10**8)
    assert client.account_state(dave.address).kind is Kind.NONE
