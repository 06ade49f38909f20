"""The keeper daemon (chain.keeper.Keeper) on the session's anvil, with real proofs.

Two traders open isolated long-ETH accounts. ETH then falls 6% (past the 4.75% shrunk
move set of a 5% MMR with a 5% penalty): the healthy trader proves again at the new
price, the other has "crashed" and does not. The keeper flags only the crashed account,
liquidates it once its grace period passed, and never touches the healthy one. A
restarted keeper resumes from its cursor and does not send again for a transaction it
had in flight; an unreachable RPC endpoint for one loop does not stop it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from tooling.cli_run import run_cli as run_main_in_process

from chain.client import EngineClient
from chain.deploy import parse_price
from chain.keeper import Keeper, KeeperConfig, read_accounts_file
from chain.local import LocalSystem
from chain.rpc import Chain
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.model import Account, Position
from zkmargin.units import Price, Size

ADMIN, HEALTHY, CRASHED, KEEPER = dev_signer(0), dev_signer(4), dev_signer(5), dev_signer(6)


@dataclass(frozen=True)
class Setup:
    system: LocalSystem
    accounts: dict[str, Account]  # address -> private account


def _open(client: EngineClient, prover: Prover, signer: Signer, salt: int) -> Account:
    client.deposit(signer, "USDC", 2_000 * 10**6)
    account = Account(
        address=int(signer.address, 16),
        salt=salt,
        collateral={},
        positions=(Position("ETH-USD", True, Size(10**8), Price(1)),),
    )
    plan = client.plan_open(account)
    client.open(signer, plan, prover)
    return plan.account


@pytest.fixture(scope="module")
def setup(prover: Prover, chain_system: LocalSystem) -> Iterator[Setup]:
    client = chain_system.client
    accounts = {
        s.address: _open(client, prover, s, 1000 + i) for i, s in enumerate((HEALTHY, CRASHED))
    }
    yield Setup(chain_system, accounts)


def refresh(client: EngineClient, eth: str) -> None:
    for feed, price in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        client.set_price(ADMIN, feed, parse_price(price))


def make_keeper(
    client: EngineClient, state: Path, lines: list[str], *, risk_sync: bool = True
) -> Keeper:
    return Keeper(
        client,
        KEEPER,
        KeeperConfig(state_file=state, interval=0.01, metrics_every=1, risk_sync=risk_sync),
        log=lines.append,
    )


def test_flags_then_liquidates_the_crashed_account_and_spares_the_healthy_one(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client, chain = setup.system.client, setup.system.chain
    lines: list[str] = []
    keeper = make_keeper(client, tmp_path / "keeper.json", lines)
    assert keeper.step() == []  # both accounts proven at the current price: nothing to do
    assert set(keeper.state.accounts) >= {HEALTHY.address, CRASHED.address}
    assert stat.S_IMODE(os.stat(tmp_path / "keeper.json").st_mode) == 0o600

    refresh(client, "1880")  # ETH -6%: both accounts left their proven move sets
    client.prove_margin(HEALTHY, setup.accounts[HEALTHY.address], prover)  # its guardian
    assert keeper.step() == [("flag", CRASHED.address)]
    assert client.account_state(CRASHED.address).shock_at != 0
    assert client.account_state(HEALTHY.address).shock_at == 0
    assert keeper.step() == []  # flagged once; nothing else to send during the grace period

    grace = int(client.engine.call("gracePeriod"))
    chain.advance_time(grace + 1)
    refresh(client, "1880")
    before = client.wallet_balance(KEEPER.address, "USDC")
    assert keeper.step() == [("liquidate", CRASHED.address)]
    reward = client.wallet_balance(KEEPER.address, "USDC") - before
    assert reward > 0
    assert not client.account_state(CRASHED.address).open
    assert client.account_state(HEALTHY.address).open
    assert keeper.step() == []
    m = keeper.state.metrics
    assert (m.flags, m.liquidations, m.reward["USDC"], m.rpc_errors) == (1, 1, reward, 0)
    assert any(line.startswith(f"flagged {CRASHED.address}") for line in lines)
    assert any(line.startswith(f"liquidated {CRASHED.address}") for line in lines)
    assert not any(HEALTHY.address in line for line in lines if not line.startswith("watching"))
    keeper.run(max_iterations=1)
    assert "flags 1, liquidations 1" in lines[-1]


def test_a_restarted_keeper_resumes_from_its_cursor_and_never_sends_twice(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client, chain = setup.system.client, setup.system.chain
    state = tmp_path / "keeper.json"
    # account transactions only: the volatility update (not recorded in the state file) is
    # covered by test_the_keeper_keeps_volatility_margin_current
    keeper = make_keeper(client, state, [], risk_sync=False)
    keeper.discover()
    cursor = keeper.state.cursor
    refresh(client, "1880")
    client.prove_margin(HEALTHY, setup.accounts[HEALTHY.address], prover)  # only CRASHED left

    class Crash(Exception):
        pass

    def crash(tx_hash: str, action: str) -> NoReturn:
        raise Crash(tx_hash)

    # the keeper sends the flag, records its hash, and dies before the receipt
    real_wait = client.chain.wait_receipt
    chain.request("evm_setAutomine", [False])
    try:
        client.chain.wait_receipt = crash  # type: ignore[method-assign]
        with pytest.raises(Crash):
            keeper.step()
        client.chain.wait_receipt = real_wait  # type: ignore[method-assign]
        sent = chain.nonce(KEEPER.address)  # counts the pending transaction

        lines: list[str] = []
        restarted = make_keeper(client, state, lines, risk_sync=False)
        assert restarted.state.cursor >= cursor
        [key] = restarted.state.sent
        assert key.startswith(f"flag:{CRASHED.address}:")
        assert restarted.state.sent[key]["status"] == "pending"
        assert restarted.step() == []  # still in the pool: not sent again
        assert chain.nonce(KEEPER.address) == sent
    finally:
        client.chain.wait_receipt = real_wait  # type: ignore[method-assign]
        chain.request("evm_setAutomine", [True])
    chain.request("evm_mine", [])
    assert restarted.step() == []  # mined: recorded, and the account is flagged
    assert restarted.state.sent[key]["status"] == "mined"
    assert client.account_state(CRASHED.address).shock_at != 0
    assert chain.nonce(KEEPER.address) == sent  # one flag transaction in all
    assert not any(line.startswith("watching") for line in lines)  # resumed, no rescan


def test_an_unreachable_rpc_in_one_loop_does_not_kill_the_keeper(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    client = setup.system.client
    lines: list[str] = []
    keeper = make_keeper(client, tmp_path / "keeper.json", lines)
    keeper.client = EngineClient(Chain("http://127.0.0.1:9", timeout=2), client.deployment)
    keeper.run(max_iterations=2)  # two loops against a dead port: logged, backed off
    assert keeper.state.metrics.rpc_errors == 2
    assert sum("loop error" in line and "cannot reach" in line for line in lines) == 2
    keeper.client = client
    refresh(client, "1880")
    keeper.run(max_iterations=1)
    assert keeper.state.metrics.flags == 2  # back on the live chain: both accounts flagged
    assert "rpc errors 2" in lines[-1]


def test_a_transaction_over_the_gas_cap_is_skipped(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    client, chain = setup.system.client, setup.system.chain
    lines: list[str] = []
    config = KeeperConfig(state_file=tmp_path / "k.json", interval=0.01, max_gas=21_000)
    keeper = Keeper(client, KEEPER, config, log=lines.append)
    refresh(client, "1880")
    sent = chain.nonce(KEEPER.address)
    assert keeper.step() == []
    assert chain.nonce(KEEPER.address) == sent
    assert keeper.step() == []  # the same states: no second line
    assert keeper.state.metrics.skipped_gas == 2
    assert sum("needs more than --max-gas 21,000" in line for line in lines) == 2


def test_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.txt"
    path.write_text(f"# watch\n{HEALTHY.address.lower()}\n\n{CRASHED.address}  # b\n")
    assert read_accounts_file(path) == [HEALTHY.address, CRASHED.address]


def run_cli(*args: object) -> tuple[int, str, str]:
    """The real entry point ``main()`` in-process."""
    result = run_main_in_process(*args)
    return result.code, result.out, result.err


def test_keeper_run_command(setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    setup.system.deployment.save(deployment)
    (tmp_path / "more.txt").write_text(f"{dev_signer(9).address}\n")
    refresh(setup.system.client, "1880")
    args = ["keeper", "run", "--deployment", deployment, "--from", "6", "--interval", "0.1"]
    args += ["--state", tmp_path / "k.json", "--accounts", tmp_path / "more.txt"]
    code, out, err = run_cli(*args, "--max-iterations", "2", "--metrics-every", "1")
    assert code == 0, err
    lines = out.splitlines()
    engine = setup.system.deployment.engine
    assert lines[0].startswith(f"keeper {KEEPER.address} on engine {engine}")
    assert sum(line.startswith("flagged ") for line in lines) == 2
    assert "metrics: accounts 3, flags 2, liquidations 0" in lines[-1]
    code, out, err = run_cli(*args, "--max-iterations", "1")  # restarted: nothing more to do
    assert code == 0 and not any(line.startswith("flagged") for line in out.splitlines())
    code, out, err = run_cli("keeper", "run", "--deployment", deployment, "--max-gas", "10")
    assert code == 2 and "--max-gas" in err


def test_keeper_stops_cleanly_on_sigterm(setup: Setup, tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    setup.system.deployment.save(deployment)
    state = tmp_path / "k.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ZKMARGIN_PRIVATE_KEY", None)
    cmd = [sys.executable, "-c", "from cli.main import main; main()", "keeper", "run"]
    cmd += ["--deployment", str(deployment), "--from", "6", "--state", str(state)]
    cmd += ["--metrics-every", "1", "--interval", "0.2"]
    proc = subprocess.Popen(
        [*cmd, "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith(f"keeper {KEEPER.address}"), first
        line = first
        while line and not line.startswith("metrics:"):  # one whole loop done
            line = proc.stdout.readline()
        assert line.startswith("metrics: accounts 2"), line
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGTERM: stopping after this step" in err
    assert out.splitlines()[-1].startswith("keeper stopped; metrics: accounts 2")
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
