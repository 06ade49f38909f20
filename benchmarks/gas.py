"""Gas of every engine operation, from mined receipts, beside the Groth16 floor.

    python -m benchmarks.gas

Starts a private anvil, deploys the system, and for an isolated and a cross account runs
deposit, open, submit (proveMargin), withdraw, close, and a liquidation (flag a price
shock, wait out the grace period, liquidate). Open, submit and withdraw are measured
twice: in the same block as the keeper's ``pushPrices`` (mined just before them, so the
proof reads the engine's price cache: the headline "open", "submit", "withdraw"), and in
a block without a push (the engine reads the oracle adapter and every feed: the "not
pushed" rows, ``*_unpushed`` in the JSON); "push" is the keeper's ``pushPrices`` itself.
``submit_lone_bound`` is what no oracle path can undercut for a submission without a push:
the pushed submission less its cache reads, plus one cold ``latestRoundData`` of each feed
the account is priced by, measured alone on the deployed feeds (:func:`lone_bound`).
Every number is ``gasUsed`` of a mined
receipt: ``eth_estimateGas`` is not trusted for proofs (a snarkjs verifier starved of
gas returns false instead of reverting, so an estimate may sit at the failing amount).

A portfolio account (long ETH, short BTC on USDC) runs open, submit, withdraw and close
on the deployed PortfolioEngine, each proof both with and without the engine's own
``pushPrices`` in its block (a second account's open is the pushed one); then the
generated ``PortfolioVerifier``, deployed alone, verifies its submitted proof in a mined
transaction.

The operations table is printed, and the proof operations (open, submit, withdraw), the
verifier alone (``verify``) and the floor are written per circuit to
``build/bench/gas.json`` (``--json`` moves it; other keys of the file are kept)::

    {"isolated": {"submit": 274472, "open": 318091, "withdraw": 296748,
                  "submit_unpushed": …, "open_unpushed": …, "withdraw_unpushed": …,
                  "push": …, "verify": …, "floor": 246160},
     "cross": {…, "floor": 252820},
     "portfolio": {"submit": …, "open": …, "withdraw": …, "submit_unpushed": …, …,
                   "push": …, "verify": …, "floor": 259480}}

The floor of a Groth16 verification with k public inputs is 206,200 + 6,660·k gas
(isolated k = 6, cross k = 7, portfolio k = 8): four pairings (EIP-1108: 45,000 + 4·34,000) and the
verifier's own work and a transaction's intrinsic cost, then per public input one ecMul
(6,000) and one ecAdd (150) to fold it into vk_x, plus its calldata word and field check
(~510). The "verifyProof tx" row is a transaction straight to the generated verifier,
which is what the floor describes; "of which execution" leaves out the intrinsic 21,000
and the calldata.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from benchmarks.results import update_results
from chain.artifacts import FORGE_TIMEOUT, ContractArtifact, contracts_dir, load_artifact, out_dir
from chain.calldata import proof_calldata
from chain.client import Kind, ProofTx
from chain.deploy import DEFAULT_SPEC, PortfolioSpec, parse_price, portfolio_risk_for
from chain.local import LocalSystem, local_system
from chain.portfolio import PortfolioClient
from chain.portfolio import ProofTx as PortfolioProofTx
from chain.rpc import Contract, TxResult, deploy_contract
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from prover.setup import run_setup
from prover.solidity import verifier_contract_name, verifier_name
from zkmargin.model import Account, Position
from zkmargin.paths import build_dir
from zkmargin.portfolio import PortfolioAccount, PortfolioPosition
from zkmargin.portfolio_encoding import PORTFOLIO_CIRCUIT
from zkmargin.proofs import ProofBundle
from zkmargin.toolrun import run_tool
from zkmargin.units import Price, Size

# EIP-2929: the first touch of an account in a transaction (a contract's STATICCALL to a
# feed) and the first read of a storage slot
COLD_ACCOUNT = 2_600
COLD_SLOAD = 2_100
# the price-cache words a pushed proof reads (MarginEngine._cachedWords): isolated, the
# words of its market (id >> 1) and asset (id); cross, both words. The system's accounts
# trade ETH-USD (market 0) on USDC (asset 0): one word for isolated.
CACHE_WORDS = {"isolated": 1, "cross": 2}
# the feeds each benchmarked account's proof reads when nobody pushed
LONE_FEEDS = {"isolated": ("ETH-USD", "USDC"), "cross": ("ETH-USD", "BTC-USD", "USDC", "WETH")}
TARGET = 1.15
FLOOR_BASE = 206_200
FLOOR_PER_INPUT = 6_660
INTRINSIC = 21_000
PUBLIC_INPUTS = {"isolated": 6, "cross": 7, PORTFOLIO_CIRCUIT: 8}
# Public inputs each circuit would have without packing (one value per input):
#   commitment, K+M prices, M balances, K rates, M haircuts, opening flag,
#   account, nonce, engine, chain id; portfolio: commitment, K+M prices, M balances,
#   risk commitment, initial and withdrawal flags, account, nonce, engine, chain id
UNPACKED = {
    "isolated": 1 + 2 + 1 + 1 + 1 + 1 + 4,
    "cross": 1 + 6 + 2 + 4 + 2 + 1 + 4,
    PORTFOLIO_CIRCUIT: 1 + 6 + 2 + 1 + 2 + 4,
}
OPERATIONS = (
    "approve (ERC-20)",
    "deposit",
    "pushPrices (keeper, once a block)",
    "open",
    "submit (proveMargin)",
    "withdraw (with proof)",
    "open, not pushed",
    "submit, not pushed",
    "withdraw, not pushed",
    "close",
    "flagShock",
    "liquidate",
    "verifyProof tx (verifier alone)",
    "  of which execution",
)
PROOF_OPS = {
    "open",
    "submit (proveMargin)",
    "withdraw (with proof)",
    "open, not pushed",
    "submit, not pushed",
    "withdraw, not pushed",
    "verifyProof tx (verifier alone)",
}


# gas.json key -> operation row of the table. "submit", "open", "withdraw": mined in the
# same block as a pushPrices (the keeper's), so the proof reads the engine's price cache;
# "*_unpushed": no push in that block, so the engine reads the oracle adapter and feeds.
JSON_KEYS = {
    "submit": "submit (proveMargin)",
    "open": "open",
    "withdraw": "withdraw (with proof)",
    "submit_unpushed": "submit, not pushed",
    "open_unpushed": "open, not pushed",
    "withdraw_unpushed": "withdraw, not pushed",
    "push": "pushPrices (keeper, once a block)",
    "verify": "verifyProof tx (verifier alone)",
    "submit_lone_bound": "submit without a push, lower bound",
}
LONE_ROW = JSON_KEYS["submit_lone_bound"]
T = TypeVar("T")
VERIFY_ROWS = ("verifyProof tx (verifier alone)", "  of which execution")


def floor(circuit: str) -> int:
    return FLOOR_BASE + FLOOR_PER_INPUT * PUBLIC_INPUTS[circuit]


@dataclass
class Column:
    circuit: str
    gas: dict[str, int] = field(default_factory=dict)


def calldata_gas(data: bytes) -> int:
    return sum(4 if byte == 0 else 16 for byte in data)


def verifier_alone(
    system: LocalSystem, signer: Signer, circuit: str, tx: ProofTx
) -> tuple[int, int]:
    """verifyProof alone, as a mined transaction: (gas used, execution gas)."""
    name = verifier_name(circuit)
    verifier = Contract(
        system.chain, system.deployment.verifier(circuit), load_artifact(name).abi, name
    )
    return verify_tx(verifier, signer, tx.bundle)


def verify_tx(verifier: Contract, signer: Signer, bundle: ProofBundle) -> tuple[int, int]:
    """``verifyProof`` of ``bundle`` as a mined transaction: (gas used, execution gas)."""
    a, b, c = proof_calldata(bundle.proof)
    args = (a, b, c, list(bundle.public_signals))
    assert verifier.call("verifyProof", *args) is True  # gas of eth_call: the node's cap
    result = verifier.transact(signer, "verifyProof", *args, gas=1_000_000)
    data = verifier.encode("verifyProof", *args)
    return result.gas_used, result.gas_used - INTRINSIC - calldata_gas(data)


def _pending(system: LocalSystem) -> int:
    status = system.chain.request("txpool_status", [])
    return int(status["pending"], 16)


def _wait_pending(system: LocalSystem, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _pending(system) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} transactions reached the pool")
        time.sleep(0.02)


def pushed(
    system: LocalSystem,
    keeper: Signer,
    send: Callable[[], T],
    push_prices: Callable[[Signer], TxResult] | None = None,
) -> tuple[int, T]:
    """Mine the keeper's ``pushPrices`` (``push_prices``, default the MarginEngine's) and
    the transaction ``send`` makes (after proving) in one block, the push first: automine
    is off while both wait in the pool. Returns the push's gas and what ``send`` returned."""
    chain = system.chain
    chain.request("evm_setAutomine", [False])
    try:
        with ThreadPoolExecutor(2) as pool:
            push = pool.submit(push_prices or system.client.push_prices, keeper)
            _wait_pending(system, 1)
            op = pool.submit(send)
            _wait_pending(system, 2)
            chain.request("evm_mine", [])
            push_result, result = push.result(), op.result()
    finally:
        chain.request("evm_setAutomine", [True])
    mined = result.result if isinstance(result, (ProofTx, PortfolioProofTx)) else result
    assert isinstance(mined, TxResult)
    assert mined.block_number == push_result.block_number, "push and proof in different blocks"
    assert int(push_result.receipt["transactionIndex"]) < int(mined.receipt["transactionIndex"])
    return push_result.gas_used, result


def feed_reads(system: LocalSystem, signer: Signer) -> dict[str, int]:
    """What one ``latestRoundData()`` of each feed costs a contract that reads it cold, by
    feed name: the execution of a mined transaction to the feed (``gasUsed`` less the
    intrinsic 21,000 and the calldata) plus the cold account access, which a
    transaction's own target does not pay. Nothing else: no adapter, no checks, no ABI
    decoding, so it is a lower bound of any contract's read of that feed."""
    artifact = load_artifact("MockAggregator")
    reads = {}
    for feed in system.deployment.feeds:
        contract = Contract(system.chain, feed.address, artifact.abi, feed.name)
        result = contract.transact(signer, "latestRoundData")
        data = contract.encode("latestRoundData")
        reads[feed.name] = result.gas_used - INTRINSIC - calldata_gas(data) + COLD_ACCOUNT
    return reads


def lone_bound(system: LocalSystem, col: Column, reads: dict[str, int]) -> int:
    """A lower bound of a proof submitted in a block without a push: the pushed
    submission's gas, less its cold cache reads, plus one cold read of each distinct feed
    its account is priced by (``feed_reads``). Whatever path a contract takes to the
    feeds, it pays at least that."""
    feeds = {system.deployment.feed(name).name for name in LONE_FEEDS[col.circuit]}
    pushed = col.gas["submit (proveMargin)"]
    return pushed - COLD_SLOAD * CACHE_WORDS[col.circuit] + sum(reads[f] for f in feeds)


def run_account(
    system: LocalSystem, prover: Prover, kind: Kind, trader: Signer, victim: Signer
) -> Column:
    client = system.client
    col = Column(kind.circuit)
    positions: tuple[Position, ...] = (Position("ETH-USD", True, Size(2 * 10**8), Price(1)),)
    deposits = {"USDC": 2_000 * 10**6}
    if kind is Kind.CROSS:
        positions += (Position("BTC-USD", False, Size(10**7), Price(1)),)
        deposits["WETH"] = 10**18

    def account(signer: Signer, salt: int) -> Account:
        return Account(int(signer.address, 16), salt, {}, positions)

    def deposit_all(signer: Signer) -> tuple[TxResult, TxResult]:
        """Deposit every asset; returns the first asset's approve and deposit receipts."""
        results = [client.deposit(signer, asset, amount) for asset, amount in deposits.items()]
        return results[0]

    approve, deposit = deposit_all(trader)
    col.gas["approve (ERC-20)"] = approve.gas_used
    col.gas["deposit"] = deposit.gas_used
    keeper = dev_signer(3)
    plan = client.plan_open(account(trader, 7), kind)
    opened = client.open(trader, plan, prover)
    col.gas["open, not pushed"] = opened.result.gas_used
    submitted = client.prove_margin(trader, plan.account, prover)
    col.gas["submit, not pushed"] = submitted.result.gas_used
    whole, execution = verifier_alone(system, trader, kind.circuit, submitted)
    col.gas["verifyProof tx (verifier alone)"] = whole
    col.gas["  of which execution"] = execution
    push, submitted = pushed(
        system, keeper, lambda: client.prove_margin(trader, plan.account, prover)
    )
    col.gas["submit (proveMargin)"] = submitted.result.gas_used
    col.gas["pushPrices (keeper, once a block)"] = push
    withdrawn = client.withdraw(trader, plan.account, "USDC", 100 * 10**6, prover)
    assert isinstance(withdrawn, ProofTx)
    col.gas["withdraw, not pushed"] = withdrawn.result.gas_used
    _, withdrawn = pushed(
        system, keeper, lambda: client.withdraw(trader, plan.account, "USDC", 100 * 10**6, prover)
    )
    assert isinstance(withdrawn, ProofTx)
    col.gas["withdraw (with proof)"] = withdrawn.result.gas_used
    col.gas["close"] = client.close(trader, plan.account).gas_used

    # the victim's open (a fresh account, as the trader's) is the pushed open
    deposit_all(victim)
    victim_plan = client.plan_open(account(victim, 8), kind)
    _, victim_open = pushed(system, keeper, lambda: client.open(victim, victim_plan, prover))
    col.gas["open"] = victim_open.result.gas_used
    admin = dev_signer(0)
    client.set_price(admin, "ETH/USD", parse_price("1600"))
    col.gas["flagShock"] = client.flag_shock(keeper, victim.address).gas_used
    system.chain.advance_time(int(client.engine.call("gracePeriod")) + 1)
    col.gas["liquidate"] = client.liquidate(keeper, victim.address).gas_used
    for feed, price in (("ETH/USD", "2000"), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        client.set_price(admin, feed, parse_price(price))
    return col


def portfolio_verifier_artifact() -> ContractArtifact:
    """forge's artifact of the generated ``PortfolioVerifier`` (the engine does not deploy
    it yet, so it is not in chain.artifacts.CONTRACTS); rebuilt when missing or stale."""
    name = verifier_name(PORTFOLIO_CIRCUIT)
    path = out_dir() / f"{name}.sol" / f"{verifier_contract_name(PORTFOLIO_CIRCUIT)}.json"

    def read() -> ContractArtifact | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        sources = {
            str(src): str(info.get("keccak256", ""))
            for src, info in (data.get("metadata") or {}).get("sources", {}).items()
        }
        code = bytes.fromhex(data["bytecode"]["object"].removeprefix("0x"))
        return ContractArtifact(name, data["abi"], code, sources)

    artifact = read()
    if artifact is None or artifact.stale_sources():
        run_tool("forge", ["build", "--offline"], cwd=contracts_dir(), timeout=FORGE_TIMEOUT)
        artifact = read()
    assert artifact is not None and not artifact.stale_sources(), path
    return artifact


def run_portfolio(system: LocalSystem, prover: Prover, signer: Signer) -> Column:
    """A portfolio account on the deployed PortfolioEngine (long 1 ETH, short 0.03 BTC on
    3,000 USDC, under the deployment's first risk epoch): open, submit, withdraw, close,
    each a mined receipt, pushed and not; then the generated PortfolioVerifier alone
    verifies the submitted proof."""
    client = PortfolioClient(system.chain, system.deployment.contracts["PortfolioEngine"])
    # the risk file the deployment published (the same series filter at the same clock)
    risk = portfolio_risk_for(DEFAULT_SPEC, PortfolioSpec(), system.chain.timestamp())
    col = Column(PORTFOLIO_CIRCUIT)
    keeper = dev_signer(3)
    # the first push ever creates the two cache words (2 x 22,100); the measured ones rewrite
    client.push_prices(keeper)
    client.deposit(signer, 0, 3_000 * 10**6)
    one = 10**8
    account = PortfolioAccount(
        int(signer.address, 16),
        1,
        {},
        (
            PortfolioPosition("ETH-USD", False, True, Size(one), Price(1)),
            PortfolioPosition("BTC-USD", False, False, Size(3 * one // 100), Price(1)),
        ),
    )
    planned = client.plan_open(account, risk)
    col.gas["open, not pushed"] = client.open(signer, planned, risk, prover).result.gas_used
    submitted = client.prove_margin(signer, planned, risk, prover)
    col.gas["submit, not pushed"] = submitted.result.gas_used
    push, pushed_proof = pushed(
        system,
        keeper,
        lambda: client.prove_margin(signer, planned, risk, prover),
        client.push_prices,
    )
    col.gas["pushPrices (keeper, once a block)"] = push
    col.gas["submit (proveMargin)"] = pushed_proof.result.gas_used
    withdrawn = client.withdraw(signer, planned, risk, 0, 100 * 10**6, prover)
    assert isinstance(withdrawn, PortfolioProofTx)
    col.gas["withdraw, not pushed"] = withdrawn.result.gas_used
    _, withdrawn = pushed(
        system,
        keeper,
        lambda: client.withdraw(signer, planned, risk, 0, 100 * 10**6, prover),
        client.push_prices,
    )
    assert isinstance(withdrawn, PortfolioProofTx)
    col.gas["withdraw (with proof)"] = withdrawn.result.gas_used
    col.gas["close"] = client.close(signer, planned, risk).gas_used
    # a second trader's open, in the block of a push (a fresh account, as the first)
    second = dev_signer(8)
    client.deposit(second, 0, 3_000 * 10**6)
    second_plan = client.plan_open(replace(account, address=int(second.address, 16)), risk)
    _, opened = pushed(
        system, keeper, lambda: client.open(second, second_plan, risk, prover), client.push_prices
    )
    col.gas["open"] = opened.result.gas_used
    artifact = portfolio_verifier_artifact()
    verifier, _ = deploy_contract(
        system.chain, signer, artifact.abi, artifact.bytecode, name=artifact.name
    )
    whole, execution = verify_tx(verifier, signer, submitted.bundle)
    col.gas[VERIFY_ROWS[0]] = whole
    col.gas[VERIFY_ROWS[1]] = execution
    return col


def report(
    out: Console,
    system: LocalSystem,
    columns: list[Column],
    seconds: float,
    reads: dict[str, int] | None = None,
) -> None:
    deploy = Table(title="Deployment (gas from mined receipts)")
    deploy.add_column("contract")
    deploy.add_column("gas", justify="right")
    for name, gas in system.deployment.deploy_gas.items():
        deploy.add_row(name, f"{gas:,}")
    total = sum(r.gas_used for r in system.deploy_results)
    deploy.add_row("all deployment transactions (listings, pool, faucet too)", f"{total:,}")
    out.print(deploy)

    engine_columns = [col for col in columns if col.circuit != PORTFOLIO_CIRCUIT]
    ops = Table(title="Operations (gas from mined receipts)")
    ops.add_column("operation")
    for col in engine_columns:
        ops.add_column(f"{col.circuit} (k={PUBLIC_INPUTS[col.circuit]})", justify="right")
        ops.add_column("above floor", justify="right")
    for name in OPERATIONS:
        cells = []
        for col in engine_columns:
            gas = col.gas[name]
            cells.append(f"{gas:,}")
            cells.append(f"{gas - floor(col.circuit):+,}" if name in PROOF_OPS else "")
        ops.add_row(name, *cells)
    floors = []
    for col in engine_columns:
        floors += [f"{floor(col.circuit):,}", ""]
    ops.add_row("[bold]Groth16 floor 206,200 + 6,660·k", *floors)
    out.print(ops)
    for col in columns:
        if col.circuit != PORTFOLIO_CIRCUIT:
            continue
        base = floor(col.circuit)
        pf = Table(title=f"PortfolioEngine (k={PUBLIC_INPUTS[col.circuit]}, mined)")
        for heading in ("operation", "gas", "above floor", "x floor"):
            pf.add_column(heading, justify="left" if heading == "operation" else "right")
        # the operations the portfolio account ran, in the engines' table order
        for name in (n for n in OPERATIONS if n in col.gas and n not in VERIFY_ROWS):
            gas = col.gas[name]
            proof = name in PROOF_OPS
            pf.add_row(
                name,
                f"{gas:,}",
                f"{gas - base:+,}" if proof else "",
                f"{gas / base:.3f}" if proof else "",
            )
        pf.add_row("[bold]Groth16 floor 206,200 + 6,660·k", f"{base:,}", "", "")
        out.print(pf)
    alone = Table(title="Verifiers alone: verifyProof in a mined transaction")
    for heading in ("circuit", "k", "verifyProof tx", "of which execution", "floor", "above"):
        alone.add_column(heading, justify="left" if heading == "circuit" else "right")
    for col in columns:
        whole, execution = (col.gas[row] for row in VERIFY_ROWS)
        k, base = PUBLIC_INPUTS[col.circuit], floor(col.circuit)
        alone.add_row(
            col.circuit, str(k), f"{whole:,}", f"{execution:,}", f"{base:,}", f"{whole - base:+,}"
        )
    out.print(alone)
    for col in columns:
        k, unpacked = PUBLIC_INPUTS[col.circuit], UNPACKED[col.circuit]
        out.print(
            f"{col.circuit}: {k} public inputs, packed from {unpacked} values; unpacked they "
            f"would cost {(unpacked - k) * FLOOR_PER_INPUT:,} gas more per verification "
            f"({unpacked - k} x {FLOOR_PER_INPUT:,})."
        )
    if reads:
        out.print(
            "A feed read alone, cold, from a contract (latestRoundData, no adapter): "
            + ", ".join(f"{name} {gas:,}" for name, gas in reads.items())
            + " gas."
        )
        for col in engine_columns:
            bound = col.gas[LONE_ROW]
            base = floor(col.circuit)
            out.print(
                f"{col.circuit}: a submission in a block without a push costs at least "
                f"{bound:,} gas ({bound / base:.3f} x floor; the target is {TARGET} x = "
                f"{round(TARGET * base):,}): the pushed submission less its cache reads, "
                f"plus one cold read of each feed its proof needs. Measured without a push: "
                f"{col.gas['submit, not pushed']:,} ({col.gas['submit, not pushed'] / base:.3f} x)."
            )
    by_circuit = {col.circuit: col.gas["  of which execution"] for col in columns}
    if {"isolated", "cross"} <= by_circuit.keys():
        measured = by_circuit["cross"] - by_circuit["isolated"]
        out.print(
            f"Measured here: the cross verifier (one more input) executes {measured:,} gas "
            "more than the isolated one."
        )
    out.print(
        "Each public input costs ~6,660 gas in the verifier: one ecMul (6,000, EIP-1108) "
        "and one ecAdd (150) to fold it into vk_x, its 32-byte word and a field check. "
        "The engine builds the inputs itself (from storage and the oracle), so they are not "
        "calldata; what a proof operation costs above the verifyProof transaction is the "
        "engine's work: oracle reads, building and checking the inputs, the nonce and "
        "proof-time writes, the event (and for open and withdraw, the commitment or transfer)."
    )
    out.print(f"[dim]measured in {seconds:.1f} s on a private anvil")


def gas_json(columns: list[Column]) -> dict[str, dict[str, int]]:
    """``{"<circuit>": {"submit": …, "open": …, "withdraw": …, "verify": …, "floor": …}}``
    and every other :data:`JSON_KEYS` row the circuit measured."""
    figures: dict[str, dict[str, int]] = {}
    for col in columns:
        entry = {key: col.gas[row] for key, row in JSON_KEYS.items() if row in col.gas}
        entry["floor"] = floor(col.circuit)
        figures[col.circuit] = entry
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--json",
        type=Path,
        default=build_dir() / "bench" / "gas.json",
        help="where to write the proof operations' gas and the floor (default: %(default)s)",
    )
    args = parser.parse_args()
    out = Console()
    started = time.perf_counter()
    prover = Prover(run_setup().manifest)
    with local_system() as system:
        # the first push ever creates the two cache words (2 x 22,100); every later push,
        # the one measured per column, rewrites them
        system.client.push_prices(dev_signer(3))
        columns = [
            run_account(system, prover, Kind.ISOLATED, dev_signer(1), dev_signer(2)),
            run_account(system, prover, Kind.CROSS, dev_signer(4), dev_signer(5)),
            run_portfolio(system, prover, dev_signer(6)),
        ]
        reads = feed_reads(system, dev_signer(7))
        for col in columns:
            if col.circuit in LONE_FEEDS:
                col.gas[LONE_ROW] = lone_bound(system, col, reads)
        report(out, system, columns, time.perf_counter() - started, reads)
    update_results(args.json, gas_json(columns))
    out.print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
