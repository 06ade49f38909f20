"""The web3 contract layer on a real anvil: calls, transactions, events, reverts, gas.

``chain.rpc.Contract`` wraps a web3.py contract object built from forge's ABI; these
tests hold it to what the rest of the code relies on: plain values back, events decoded
in log order and only for the contract asked, every revert (raised by web3 as a
``ContractLogicError``) decoded against all our ABIs into one line, the estimate run
before sending, and the gas limit of a proof-bearing call never below its floor.
"""

from __future__ import annotations

import pytest

from chain.errors import RevertError
from chain.local import LocalSystem
from chain.rpc import PROOF_MIN_GAS
from chain.signers import dev_signer

USDC = 10**6
NO_PROOF = ((1, 2), ((3, 4), (5, 6)), (7, 8))


def test_views_return_plain_values(chain_snapshot: LocalSystem) -> None:
    engine = chain_snapshot.client.engine
    assert engine.call("marketCount") == 2
    feed, mmr, imr, fee = engine.call("market", 0)  # several outputs: a tuple
    assert (feed, mmr, imr, fee) == (chain_snapshot.deployment.feeds[0].address, 500, 1000, 50)
    assert chain_snapshot.client.liquidatable(dev_signer(1).address) == (False, None)


def test_events_are_decoded_per_contract_in_log_order(chain_snapshot: LocalSystem) -> None:
    client, trader = chain_snapshot.client, dev_signer(8)
    approve, deposit = client.deposit(trader, "USDC", 25 * USDC)
    [approval] = client.tokens["USDC"].events(approve)
    assert approval.name == "Approval"
    assert approval.args["value"] == 25 * USDC
    assert client.engine.events(approve) == []  # not the engine's log
    events = client.engine.events(deposit)
    assert [e.name for e in events] == ["Deposited"]
    assert events[0].args == {"account": trader.address, "asset": 0, "amount": 25 * USDC}
    assert client.engine.events(deposit, "Withdrawn") == []
    # the same receipt holds the token's Transfer (into the engine), decoded by the token
    assert [e.name for e in client.tokens["USDC"].events(deposit)] == ["Transfer"]


def test_a_revert_is_found_by_the_estimate_before_anything_is_sent(
    chain_snapshot: LocalSystem,
) -> None:
    client, trader = chain_snapshot.client, dev_signer(8)
    nonce = chain_snapshot.chain.nonce(trader.address)
    with pytest.raises(RevertError) as info:
        client.engine.transact(trader, "proveMargin", NO_PROOF)
    assert str(info.value) == (
        "MarginEngine.proveMargin reverted: "
        f"MarginEngine__NoAccount(account={trader.address}): this address has no open account"
    )
    assert "(tx 0x" not in str(info.value)  # simulated, never mined
    assert chain_snapshot.chain.nonce(trader.address) == nonce


def test_a_mined_revert_is_replayed_for_its_reason(chain_snapshot: LocalSystem) -> None:
    client, trader = chain_snapshot.client, dev_signer(8)
    nonce = chain_snapshot.chain.nonce(trader.address)
    with pytest.raises(RevertError) as info:
        client.engine.transact(trader, "proveMargin", NO_PROOF, gas=200_000)
    assert info.value.name == "MarginEngine__NoAccount"
    assert "MarginEngine.proveMargin (tx 0x" in str(info.value)
    assert chain_snapshot.chain.nonce(trader.address) == nonce + 1  # mined


def test_a_revert_inside_another_contract_is_decoded_from_its_abi(
    chain_snapshot: LocalSystem,
) -> None:
    """The engine calls the token: the token's ERC-20 error reaches the user decoded."""
    client, trader = chain_snapshot.client, dev_signer(8)
    with pytest.raises(RevertError) as info:  # deposit without approval
        client.engine.transact(trader, "deposit", 0, 5 * USDC)
    assert info.value.name == "ERC20InsufficientAllowance"
    assert f"{client.deployment.engine} [MarginEngine]" in str(info.value)


def test_the_gas_limit_has_a_margin_and_a_floor(chain_snapshot: LocalSystem) -> None:
    client, trader, chain = chain_snapshot.client, dev_signer(8), chain_snapshot.chain
    approve, _ = client.deposit(trader, "USDC", USDC)
    sent = chain.w3.eth.get_transaction(approve.tx_hash)  # type: ignore[arg-type]
    assert sent["gas"] > approve.gas_used * 13 // 10  # estimate * 1.3 + 30,000
    # a cheap call sent with a proof's floor still gets the whole floor
    result = client.tokens["USDC"].transact(
        trader, "approve", client.deployment.engine, 1, min_gas=PROOF_MIN_GAS
    )
    assert chain.w3.eth.get_transaction(result.tx_hash)["gas"] == PROOF_MIN_GAS  # type: ignore[arg-type]
    assert result.gas_used < PROOF_MIN_GAS // 10  # reported from the receipt
