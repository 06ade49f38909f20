"""The keeper daemon keeps the PortfolioEngine too (chain.portfolio_keeper), on the
session's anvil with real proofs.

Two traders open portfolio accounts (long 1 ETH perpetual on 3,000 USDC) on the
PortfolioEngine deployed beside the rate-based engine. ETH then falls 6%: with the
deployment's risk file (L_ETH 9%, ρ 0.8 with BTC, λ_MM 1, 5% penalty) a lone ETH move
leaves the shrunk move set past about 5.1%. The healthy trader proves again at the new
price, the other does not: the keeper flags only the crashed account (the engine's
``Flagged`` event, by the keeper), liquidates it after the grace period (reward counted),
prunes it once closed and never touches the healthy one. A keeper restarted with a flag
in flight does not send it twice; an unreachable RPC endpoint in the portfolio part is one
line and the loop goes on; a liquidation refused for a stale feed pokes the outage clock
once; ``--no-portfolio`` and a deployment without a PortfolioEngine leave it alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NoReturn

import pytest
from tooling.cli_run import run_cli

from chain.client import EngineClient
from chain.deploy import DEFAULT_SPEC, PortfolioSpec, parse_price, portfolio_risk_for
from chain.keeper import Keeper, KeeperConfig
from chain.local import LocalSystem
from chain.portfolio import PortfolioClient
from chain.rpc import Chain
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.portfolio import PortfolioAccount, PortfolioPosition
from zkmargin.riskfile import RiskFile
from zkmargin.units import Price, Size

ADMIN, HEALTHY, CRASHED, KEEPER = dev_signer(0), dev_signer(4), dev_signer(5), dev_signer(6)
ONE = 10**8


@dataclass(frozen=True)
class Setup:
    system: LocalSystem
    client: PortfolioClient
    risk: RiskFile
    accounts: dict[str, PortfolioAccount]  # address -> private account


def _open(
    client: PortfolioClient, risk: RiskFile, prover: Prover, signer: Signer
) -> PortfolioAccount:
    client.deposit(signer, 0, 3_000 * 10**6)
    account = PortfolioAccount(
        int(signer.address, 16),
        1,
        {},
        (PortfolioPosition("ETH-USD", False, True, Size(ONE), Price(1)),),
    )
    planned = client.plan_open(account, risk)
    client.open(signer, planned, risk, prover)
    return planned


@pytest.fixture(scope="module")
def setup(prover: Prover, chain_system: LocalSystem) -> Iterator[Setup]:
    chain = chain_system.chain
    client = PortfolioClient(chain, chain_system.deployment.contracts["PortfolioEngine"])
    # the risk file the deployment published (the same series filter at the same clock)
    risk = portfolio_risk_for(DEFAULT_SPEC, PortfolioSpec(), chain.timestamp())
    accounts = {s.address: _open(client, risk, prover, s) for s in (HEALTHY, CRASHED)}
    yield Setup(chain_system, client, risk, accounts)


def refresh(client: EngineClient, eth: str) -> None:
    for feed, price in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        client.set_price(ADMIN, feed, parse_price(price))


def make_keeper(system: LocalSystem, state: Path, lines: list[str]) -> Keeper:
    config = KeeperConfig(state_file=state, interval=0.01, metrics_every=1, risk_sync=False)
    return Keeper(system.client, KEEPER, config, log=lines.append)


def test_flags_then_liquidates_the_crashed_portfolio_account_and_spares_the_healthy_one(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    system, client = setup.system, setup.client
    lines: list[str] = []
    keeper = make_keeper(system, tmp_path / "keeper.json", lines)
    assert keeper.step() == []  # both proven at the current prices: nothing to do
    assert keeper.portfolio is not None
    assert keeper.portfolio.watch.accounts == [HEALTHY.address, CRASHED.address]
    assert f"watching {CRASHED.address} (portfolio AccountOpened)" in lines

    refresh(system.client, "1880")  # ETH -6%: both accounts left their shrunk move sets
    assert client.flaggable(HEALTHY.address) and client.flaggable(CRASHED.address)
    client.prove_margin(HEALTHY, setup.accounts[HEALTHY.address], setup.risk, prover)
    assert not client.flaggable(HEALTHY.address)
    start = int(system.chain.block()["number"], 16)
    assert keeper.step() == [("portfolio flag", CRASHED.address)]
    assert flagged_events(client, start) == [(CRASHED.address, KEEPER.address)]
    assert client.account_state(CRASHED.address).shock_at != 0
    assert client.account_state(HEALTHY.address).shock_at == 0
    assert keeper.step() == []  # flagged once; nothing to send during the grace period
    assert not client.liquidatable(CRASHED.address)

    system.chain.advance_time(client.account_state(CRASHED.address).grace + 1)
    refresh(system.client, "1880")
    before = client.wallet_balance(KEEPER.address, 0)
    assert keeper.step() == [("portfolio liquidate", CRASHED.address)]
    reward = client.wallet_balance(KEEPER.address, 0) - before
    assert reward == 3_000 * 10**6 * 500 // 10_000  # the 5% penalty share of the balance
    assert not client.account_state(CRASHED.address).open
    assert client.account_state(HEALTHY.address).open
    assert keeper.step() == []
    m = keeper.portfolio.watch.metrics
    assert (m.flags, m.liquidations, m.reward, m.errors) == (1, 1, {"USDC": reward}, 0)
    assert keeper.portfolio.watch.accounts == [HEALTHY.address]  # the closed one is pruned
    assert not any(k.split(":")[1] == CRASHED.address for k in keeper.portfolio.watch.sent)
    assert any(
        line.startswith(f"flagged portfolio {CRASHED.address} (market moves)") for line in lines
    )
    assert "reward 150 USDC" in next(x for x in lines if x.startswith("liquidated portfolio"))
    assert not any(HEALTHY.address in line for line in lines if not line.startswith("watching"))
    keeper.run(max_iterations=1)
    assert "portfolio: accounts 1, flags 1, liquidations 1, reward 150 USDC" in lines[-1]
    state = json.loads((tmp_path / "keeper.json").read_text())
    assert state["portfolio"]["engine"] == client.engine.address
    assert state["portfolio"]["metrics"]["reward"] == {"USDC": str(reward)}


def flagged_events(client: PortfolioClient, from_block: int) -> list[tuple[str, str]]:
    """(account, by) of the engine's ``Flagged`` events from ``from_block`` on."""
    event = client.engine.web3.events.Flagged()
    return [
        (log["args"]["account"], log["args"]["by"]) for log in event.get_logs(from_block=from_block)
    ]


def test_a_restarted_keeper_does_not_send_a_pending_portfolio_flag_twice(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system, client, chain = setup.system, setup.client, setup.system.chain
    state = tmp_path / "keeper.json"
    keeper = make_keeper(system, state, [])
    keeper.discover()
    refresh(system.client, "1880")
    client.flag(ADMIN, CRASHED.address)  # someone else flagged this one first

    class Crash(Exception):
        pass

    def crash(tx_hash: str, action: str) -> NoReturn:
        raise Crash(tx_hash)

    # the keeper sends the flag, records its hash, and dies before the receipt
    real_wait = chain.wait_receipt
    chain.request("evm_setAutomine", [False])
    try:
        chain.wait_receipt = crash  # type: ignore[method-assign]
        with pytest.raises(Crash):
            keeper.step()
        chain.wait_receipt = real_wait  # type: ignore[method-assign]
        sent = chain.nonce(KEEPER.address)  # counts the pending transaction

        lines: list[str] = []
        restarted = make_keeper(system, state, lines)
        assert restarted.portfolio is not None
        [key] = restarted.portfolio.watch.sent
        assert key.startswith(f"flag:{HEALTHY.address}:")
        assert restarted.portfolio.watch.sent[key]["status"] == "pending"
        assert restarted.step() == []  # still in the pool: not sent again
        assert chain.nonce(KEEPER.address) == sent
    finally:
        chain.wait_receipt = real_wait  # type: ignore[method-assign]
        chain.request("evm_setAutomine", [True])
    chain.request("evm_mine", [])
    assert restarted.step() == []  # mined: recorded, and the account is flagged
    assert restarted.portfolio.watch.sent[key]["status"] == "mined"
    assert client.account_state(HEALTHY.address).shock_at != 0
    assert chain.nonce(KEEPER.address) == sent  # one flag transaction in all
    assert not any(line.startswith("watching") for line in lines)  # resumed, no rescan


def test_an_unreachable_rpc_in_the_portfolio_part_is_one_line_and_the_loop_goes_on(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system, client = setup.system, setup.client
    lines: list[str] = []
    keeper = make_keeper(system, tmp_path / "keeper.json", lines)
    assert keeper.portfolio is not None
    keeper.portfolio.client = PortfolioClient(
        Chain("http://127.0.0.1:9", timeout=2), client.engine.address
    )
    refresh(system.client, "1880")
    keeper.run(max_iterations=2)  # the rate-based part runs; the portfolio part cannot
    errors = [line for line in lines if line.startswith("portfolio: ")]
    assert len(errors) == 1 and "cannot reach" in errors[0], lines  # once, not per loop
    m = keeper.state.metrics
    assert (keeper.portfolio.watch.metrics.errors, m.rpc_errors, m.loops) == (2, 0, 2)
    assert not any("loop error" in line for line in lines)  # the loop itself went well
    keeper.portfolio.client = client
    keeper.run(max_iterations=1)
    assert keeper.portfolio.watch.metrics.flags == 2  # back on the live chain: both flagged
    assert client.account_state(HEALTHY.address).shock_at != 0
    assert (
        "portfolio: accounts 2, flags 2, liquidations 0, reward 0, stale pokes 0, errors 2"
        in lines[-1]
    )


def test_a_liquidation_refused_for_a_stale_feed_pokes_the_outage_clock_once(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system, client, chain = setup.system, setup.client, setup.system.chain
    lines: list[str] = []
    keeper = make_keeper(system, tmp_path / "keeper.json", lines)
    refresh(system.client, "1880")
    client.flag(ADMIN, CRASHED.address)
    chain.advance_time(client.account_state(CRASHED.address).grace + 1)
    refresh(system.client, "1880")
    heartbeat = system.deployment.feed("ETH/USD").heartbeat
    chain.advance_time(heartbeat + 60)  # ETH/USD and BTC/USD are past their heartbeat
    chain.request("evm_mine", [])
    assert client.liquidatable(CRASHED.address)  # past grace before the outage began
    start = int(chain.block()["number"], 16)
    assert keeper.step() == []  # liquidate refused: the prices cannot be read
    assert keeper.portfolio is not None
    assert keeper.portfolio.watch.metrics.stale_pokes == 1
    poke = [line for line in lines if "pokeStale recorded the outage" in line]
    assert len(poke) == 1 and poke[0].startswith(
        f"portfolio liquidation of {CRASHED.address} refused, a feed is stale"
    )
    assert any("OracleAdapter__StalePrice" in line for line in lines)  # the refusal, once
    clock = client.engine.web3.events.StaleClock().get_logs(from_block=start)
    assert len(clock) == 1 and int(clock[0]["args"]["staleSince"]) != 0  # on record
    assert keeper.step() == []  # the same outage: no second poke
    assert keeper.portfolio.watch.metrics.stale_pokes == 1
    refused = [line for line in lines if "OracleAdapter__StalePrice" in line]
    assert len(refused) == 1 and refused[0].startswith(f"portfolio {CRASHED.address}: ")
    assert keeper.portfolio.watch.metrics.errors == 2  # refused twice, one line
    refresh(system.client, "1880")  # the feeds resume: the liquidation goes through
    # (and HEALTHY, which never proved at 1880 in this test, is flagged)
    assert keeper.step() == [
        ("portfolio flag", HEALTHY.address),
        ("portfolio liquidate", CRASHED.address),
    ]


def test_no_portfolio_and_a_deployment_without_one(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system = setup.system
    refresh(system.client, "1880")  # both portfolio accounts are flaggable
    deployment = tmp_path / "deployment.json"
    system.deployment.save(deployment)
    args = ["keeper", "run", "--deployment", deployment, "--from", "6", "--interval", "0.1"]
    args += ["--no-risk-sync", "--max-iterations", "1", "--metrics-every", "1"]
    off = run_cli(*args, "--state", tmp_path / "off.json", "--no-portfolio")
    assert off.code == 0, off.err
    assert "portfolio engine: not watched (--no-portfolio)" in off.out.splitlines()
    assert "portfolio" not in off.out.splitlines()[-1]
    assert "portfolio" not in json.loads((tmp_path / "off.json").read_text())
    assert setup.client.account_state(CRASHED.address).shock_at == 0  # nobody flagged

    lines: list[str] = []
    contracts = dict(system.deployment.contracts)
    del contracts["PortfolioEngine"]
    bare = EngineClient(system.chain, replace(system.deployment, contracts=contracts))
    keeper = Keeper(
        bare,
        KEEPER,
        KeeperConfig(state_file=tmp_path / "bare.json", risk_sync=False),
        log=lines.append,
    )
    assert keeper.portfolio is None
    keeper.run(max_iterations=1)
    assert "portfolio engine: not watched (no PortfolioEngine)" in lines
    assert setup.client.account_state(CRASHED.address).shock_at == 0

    on = run_cli(*args, "--state", tmp_path / "on.json")
    assert on.code == 0, on.err
    out = on.out.splitlines()
    assert sum(line.startswith("flagged portfolio ") for line in out) == 2
    assert out[-1].endswith(
        "portfolio: accounts 2, flags 2, liquidations 0, reward 0, stale pokes 0, errors 0"
    )


def test_a_portfolio_transaction_over_the_gas_cap_is_skipped(
    setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    system, chain = setup.system, setup.system.chain
    lines: list[str] = []
    config = KeeperConfig(state_file=tmp_path / "k.json", max_gas=21_000, risk_sync=False)
    keeper = Keeper(system.client, KEEPER, config, log=lines.append)
    refresh(system.client, "1880")
    sent = chain.nonce(KEEPER.address)
    assert keeper.step() == []
    assert keeper.step() == []  # the same states: no second line
    assert chain.nonce(KEEPER.address) == sent
    assert keeper.portfolio is not None and keeper.portfolio.watch.metrics.skipped_gas == 2
    skipped = [line for line in lines if "needs more than --max-gas 21,000" in line]
    assert skipped == [
        f"portfolio flag {HEALTHY.address}: skipped, needs more than --max-gas 21,000",
        f"portfolio flag {CRASHED.address}: skipped, needs more than --max-gas 21,000",
    ]
