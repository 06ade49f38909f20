"""The keeper's price push (``push_prices``) on the session's anvil, with real proofs.

A trader's ``proveMargin`` waits in the pool (automine off); the keeper sees it, sends
``pushPrices`` at a higher gas price, and one block mines the push first and the proof
after it: the proof reads the engine's price cache, not the oracle (the trace of the
proof has no call to the adapter). The same for a portfolio trader's proof on the
PortfolioEngine, which gets that engine's push and only that one. Nothing waiting, or the
option off: no push.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from chain.client import EngineClient
from chain.deploy import DEFAULT_SPEC, PortfolioSpec, portfolio_risk_for
from chain.keeper import Keeper, KeeperConfig
from chain.local import LocalSystem
from chain.portfolio import PortfolioClient
from chain.rpc import Chain
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.model import Account, Position
from zkmargin.portfolio import PortfolioAccount, PortfolioPosition
from zkmargin.units import Price, Size

TRADER, KEEPER, PF_TRADER = dev_signer(7), dev_signer(8), dev_signer(9)
P = TypeVar("P")


def _open(client: EngineClient, prover: Prover, signer: Signer) -> Account:
    client.deposit(signer, "USDC", 2_000 * 10**6)
    account = Account(
        address=int(signer.address, 16),
        salt=77,
        collateral={},
        positions=(Position("ETH-USD", True, Size(10**8), Price(1)),),
    )
    plan = client.plan_open(account)
    client.open(signer, plan, prover)
    return plan.account


def _keeper(client: EngineClient, tmp_path: Path, lines: list[str], push: bool) -> Keeper:
    config = KeeperConfig(state_file=tmp_path / "keeper.json", risk_sync=False, push_prices=push)
    return Keeper(client, KEEPER, config, log=lines.append)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _calls_to(frame: dict[str, Any], address: str) -> int:
    own = int(str(frame.get("to", "")).lower() == address.lower())
    return own + sum(_calls_to(c, address) for c in frame.get("calls") or [])


def _proof_after_keeper_push(chain: Chain, keeper: Keeper, send: Callable[[], P]) -> tuple[P, Any]:
    """With automine off: ``send`` a proof, let the keeper see it in the pool and push,
    then mine one block; returns the proof's result and the keeper's pushes. Fails if the
    proof never reaches the pool or the keeper sends no transaction."""
    sent = chain.nonce(KEEPER.address)
    chain.request("evm_setAutomine", [False])
    try:
        with ThreadPoolExecutor(2) as pool:
            proof = pool.submit(send)
            _wait(lambda: keeper.proofs_pending() == 1, "the proof never reached the pool")
            push = pool.submit(keeper.push_step)
            _wait(lambda: chain.nonce(KEEPER.address) == sent + 1, "the push was not sent")
            chain.request("evm_mine", [])
            return proof.result(), push.result()
    finally:
        chain.request("evm_setAutomine", [True])


@pytest.fixture
def account(prover: Prover, chain_snapshot: LocalSystem) -> Iterator[Account]:
    yield _open(chain_snapshot.client, prover, TRADER)


def test_keeper_pushes_before_a_waiting_proof(
    account: Account, prover: Prover, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    client, chain = chain_snapshot.client, chain_snapshot.chain
    lines: list[str] = []
    keeper = _keeper(client, tmp_path, lines, push=True)
    sent = chain.nonce(KEEPER.address)
    assert keeper.push_step() == []  # no proof waits: nothing sent
    assert chain.nonce(KEEPER.address) == sent

    proved, pushes = _proof_after_keeper_push(
        chain, keeper, lambda: client.prove_margin(TRADER, account, prover)
    )

    assert len(pushes) == 1  # the MarginEngine's only: no portfolio proof waited
    pushed = pushes[0]
    assert pushed.receipt["to"].lower() == client.deployment.engine.lower()
    assert pushed.block_number == proved.result.block_number
    assert int(pushed.receipt["transactionIndex"]) < int(proved.result.receipt["transactionIndex"])
    trace = chain.request(
        "debug_traceTransaction", [proved.result.tx_hash, {"tracer": "callTracer"}]
    )
    assert _calls_to(trace, client.deployment.oracle) == 0  # the cache, not the adapter
    assert any(line.startswith("pushPrices: tx ") for line in lines)
    # the same block again: no second push
    assert keeper.push_step() == []


def test_without_a_push_the_proof_reads_the_adapter(
    account: Account, prover: Prover, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    client, chain = chain_snapshot.client, chain_snapshot.chain
    keeper = _keeper(client, tmp_path, [], push=False)
    sent = chain.nonce(KEEPER.address)
    chain.request("evm_setAutomine", [False])
    try:
        with ThreadPoolExecutor(1) as pool:
            proof = pool.submit(client.prove_margin, TRADER, account, prover)
            _wait(lambda: keeper.proofs_pending() == 1, "the proof never reached the pool")
            assert keeper.push_step() == []  # push_prices off
            chain.request("evm_mine", [])
            proved = proof.result()
    finally:
        chain.request("evm_setAutomine", [True])
    assert chain.nonce(KEEPER.address) == sent
    trace = chain.request(
        "debug_traceTransaction", [proved.result.tx_hash, {"tracer": "callTracer"}]
    )
    assert _calls_to(trace, client.deployment.oracle) == 1  # one getPrices


def test_keeper_pushes_the_portfolio_engine_before_its_waiting_proof(
    prover: Prover, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system, chain = chain_snapshot, chain_snapshot.chain
    engine = system.deployment.contracts["PortfolioEngine"]
    pf = PortfolioClient(chain, engine)
    risk = portfolio_risk_for(DEFAULT_SPEC, PortfolioSpec(), chain.timestamp())
    pf.deposit(PF_TRADER, 0, 3_000 * 10**6)
    book = PortfolioAccount(
        int(PF_TRADER.address, 16),
        5,
        {},
        (PortfolioPosition("ETH-USD", False, True, Size(10**8), Price(1)),),
    )
    planned = pf.plan_open(book, risk)
    pf.open(PF_TRADER, planned, risk, prover)
    lines: list[str] = []
    keeper = _keeper(system.client, tmp_path, lines, push=True)
    proved, pushes = _proof_after_keeper_push(
        chain, keeper, lambda: pf.prove_margin(PF_TRADER, planned, risk, prover)
    )

    assert [r.receipt["to"].lower() for r in pushes] == [engine.lower()]  # this engine only
    assert pushes[0].block_number == proved.result.block_number
    assert int(pushes[0].receipt["transactionIndex"]) < int(
        proved.result.receipt["transactionIndex"]
    )
    trace = chain.request(
        "debug_traceTransaction", [proved.result.tx_hash, {"tracer": "callTracer"}]
    )
    assert _calls_to(trace, system.client.deployment.oracle) == 0  # the cache, not the adapter
    assert any(line.startswith("portfolio pushPrices: tx ") for line in lines)
    assert keeper.push_step() == []
