"""Risk governance end to end on anvil (docs/risk.md): the RiskGovernor owns the engine,
realized volatility raises margin at once and permissionlessly, loosening waits for the
TimelockController, and the CLI drives both.

Runs on the session's anvil (``chain_snapshot``: every test's changes are reverted).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from chain.deploy import parse_price
from chain.errors import RevertError
from chain.governance import GovernanceClient
from chain.keeper import Keeper, KeeperConfig
from chain.local import LocalSystem
from chain.signers import dev_signer
from tests.tooling.cli_run import run_cli

ADMIN, STRANGER = dev_signer(0), dev_signer(7)
ETH = 0


def _gov(system: LocalSystem) -> GovernanceClient:
    return GovernanceClient.of(system.client)


def _spike(system: LocalSystem, gov: GovernanceClient) -> list[int]:
    """ETH ±20% three times, a minute apart, each folded in by a stranger; the gas of
    each update."""
    gas = []
    for price in ("2400", "1900", "2300"):
        system.chain.advance_time(60)
        for feed, p in (("ETH/USD", price), ("BTC/USD", "60000"), ("USDC/USD", "1")):
            system.client.set_price(ADMIN, feed, parse_price(p))
        gas.append(gov.update_volatility(STRANGER, ETH).gas_used)
    return gas


def _expected_target(gov: GovernanceClient, market: int) -> tuple[int, int]:
    """The volatility target recomputed in Python from the monitor's raw variance."""
    feed = gov.feed_of(market)
    _price, _at, variance = gov.monitor.call("observation", feed)
    limits = gov.limits()
    x = int(variance) * limits.margin_period * 10**18
    sigma = math.isqrt(x)
    sigma += sigma * sigma < x
    vol = min(-(-sigma * limits.z_bps // 10**18), 10_000)
    floor_mmr, floor_imr = gov.governor.call("floorOf", market)
    mmr = max(int(floor_mmr), vol)
    imr = max(int(floor_imr), min(10_000, -(-mmr * int(floor_imr) // int(floor_mmr))))
    return mmr, imr


def test_the_governor_owns_the_engine(chain_snapshot: LocalSystem) -> None:
    gov = _gov(chain_snapshot)
    assert gov.engine.call("owner") == gov.governor.address
    assert chain_snapshot.deployment.owner == gov.governor.address
    role = gov.governor.call("DEFAULT_ADMIN_ROLE")
    assert gov.governor.call("hasRole", role, gov.timelock.address)
    assert not gov.governor.call("hasRole", role, ADMIN.address)
    assert gov.min_delay() == chain_snapshot.deployment.params["timelock_delay"] == 60
    # the former owner cannot act on the engine directly
    with pytest.raises(RevertError) as err:
        gov.engine.transact(ADMIN, "setMarketRisk", ETH, 100, 200)
    assert err.value.name == "OwnableUnauthorizedAccount"


def test_a_volatility_spike_raises_margin_at_once(chain_snapshot: LocalSystem) -> None:
    gov = _gov(chain_snapshot)
    before = gov.market_risk(ETH)
    assert (before.mmr_bps, before.imr_bps) == (500, 1000)
    update_gas = _spike(chain_snapshot, gov)
    target_mmr, target_imr = _expected_target(gov, ETH)
    assert (gov.market_risk(ETH).target_mmr_bps, gov.market_risk(ETH).target_imr_bps) == (
        target_mmr,
        target_imr,
    )
    step = gov.limits().max_step_bps
    assert target_mmr > before.mmr_bps + step  # the spike implies more than one step
    epoch = int(gov.engine.call("policyEpoch"))
    result = gov.sync_margin(STRANGER, ETH)  # anyone
    after = gov.market_risk(ETH)
    assert after.mmr_bps == before.mmr_bps + step
    assert after.imr_bps == min(target_imr, before.imr_bps + step)
    assert int(gov.engine.call("policyEpoch")) == epoch + 1
    assert after.floor_mmr_bps == before.floor_mmr_bps  # volatility never moves the floor
    # the next step waits for the cooldown
    with pytest.raises(RevertError) as err:
        gov.sync_margin(STRANGER, ETH)
    assert err.value.name == "RiskGovernor__Cooldown"
    # mined receipts (docs/risk.md quotes them): an update reads one feed and writes one
    # slot; a sync also writes the engine's new policy epoch
    assert max(update_gas) < 70_000, update_gas
    assert result.gas_used < 200_000, result.gas_used


def test_a_loosening_waits_for_the_timelock(chain_snapshot: LocalSystem) -> None:
    gov = _gov(chain_snapshot)
    # the publisher cannot loosen at once
    with pytest.raises(RevertError) as err:
        gov.publish(ADMIN, "raiseMarketRisk", ETH, 300, 600)
    assert err.value.name == "RiskGovernor__NotTightening"
    op, _ = gov.schedule(ADMIN, "setMarketRisk", ETH, 300, 600)
    assert op.state == "Waiting"
    with pytest.raises(RevertError) as err:
        gov.execute(STRANGER, "setMarketRisk", ETH, 300, 600)
    assert err.value.name == "TimelockUnexpectedOperationState"
    chain_snapshot.chain.advance_time(op.ready_at - chain_snapshot.chain.timestamp() - 2)
    with pytest.raises(RevertError) as err:
        gov.execute(STRANGER, "setMarketRisk", ETH, 300, 600)
    assert err.value.name == "TimelockUnexpectedOperationState"
    assert gov.market_risk(ETH).mmr_bps == 500
    chain_snapshot.chain.advance_time(2)
    gov.execute(STRANGER, "setMarketRisk", ETH, 300, 600)  # anyone executes a due change
    risk = gov.market_risk(ETH)
    assert (risk.mmr_bps, risk.imr_bps, risk.floor_mmr_bps) == (300, 600, 300)
    assert [o.state for o in gov.scheduled(chain_snapshot.deployment.block)] == ["Done"]


def test_the_cli_schedules_executes_tightens_and_syncs(
    chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    chain_snapshot.deployment.save(tmp_path / "deployment.json")
    dep = ["--deployment", str(tmp_path / "deployment.json")]
    gov = _gov(chain_snapshot)
    r = run_cli("risk-admin", "schedule", "setGracePeriod", "1200", *dep)
    assert r.code == 0, r.err
    assert "scheduled setGracePeriod(1200)" in r.out
    r = run_cli("risk-admin", "execute", "setGracePeriod", "1200", *dep)
    assert r.code == 2
    assert "TimelockUnexpectedOperationState" in r.err
    r = run_cli("risk-admin", "list", *dep)
    assert "setGracePeriod(1200): Waiting" in r.out
    chain_snapshot.chain.advance_time(60)
    r = run_cli("risk-admin", "execute", "setGracePeriod", "1200", *dep, "--from", "7")
    assert r.code == 0, r.err
    assert int(gov.engine.call("gracePeriod")) == 1200
    r = run_cli("risk-admin", "tighten", "raiseMarketRisk", "ETH-USD", "600", "1100", *dep)
    assert r.code == 0, r.err
    assert gov.market_risk(ETH).mmr_bps == 600
    r = run_cli("risk-admin", "tighten", "raiseMarketRisk", "ETH-USD", "400", "1100", *dep)
    assert r.code == 2
    assert "RiskGovernor__NotTightening" in r.err
    r = run_cli("risk-admin", "tighten", "raiseMarketRisk", "eth-usd", "700", "1200", *dep)
    assert r.code == 2 and "unknown market" in r.err
    r = run_cli("risk-admin", "schedule", "setHaircut", "WETH", "10001", *dep)
    assert r.code == 2 and "outside 0..10000" in r.err
    _spike(chain_snapshot, gov)
    chain_snapshot.chain.advance_time(60)  # past the publisher's cooldown on ETH-USD
    for feed, p in (("ETH/USD", "2300"), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        chain_snapshot.client.set_price(ADMIN, feed, parse_price(p))
    r = run_cli("risk-admin", "sync", "ETH-USD", *dep, "--from", "7")
    assert r.code == 0, r.err
    assert "MMR 600 -> 850" in r.out
    r = run_cli("risk-admin", "status", *dep)
    assert r.code == 0, r.err
    assert "ETH-USD: MMR 850 / IMR 1350 bps (floor 600 / 1100)" in r.out


# ---------------------------------------------------------------- the keeper (docs/operations.md)

KEEPER = dev_signer(6)


def _keeper(system: LocalSystem, state: Path, lines: list[str], **kw: Any) -> Keeper:
    config = KeeperConfig(state_file=state, interval=0.01, metrics_every=1, **kw)
    return Keeper(system.client, KEEPER, config, log=lines.append)


def _new_round(system: LocalSystem, eth: str) -> None:
    system.chain.advance_time(60)
    for feed, p in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        system.client.set_price(ADMIN, feed, parse_price(p))


def test_the_keeper_keeps_volatility_margin_current(
    chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    gov = _gov(chain_snapshot)
    eth_feed = gov.feed_of(ETH)
    _new_round(chain_snapshot, "2400")  # ETH +20% in a minute, not folded in by anyone
    assert not gov.monitor.call("isCurrent", eth_feed)
    step = gov.limits().max_step_bps

    # --no-risk-sync: one loop sends nothing, the engine's margin stays where it was
    off_lines: list[str] = []
    off = _keeper(chain_snapshot, tmp_path / "off.json", off_lines, risk_sync=False)
    sent = chain_snapshot.chain.nonce(KEEPER.address)
    off.run(max_iterations=1)
    assert chain_snapshot.chain.nonce(KEEPER.address) == sent
    assert not gov.monitor.call("isCurrent", eth_feed)
    assert gov.market_risk(ETH).mmr_bps == 500
    assert "volatility updates 0, margin syncs 0, risk errors 0" in off_lines[-1]

    # on (the default): one loop folds the round in, and the sync raises MMR at once
    lines: list[str] = []
    keeper = _keeper(chain_snapshot, tmp_path / "on.json", lines)
    keeper.run(max_iterations=1)
    assert keeper.last_risk_actions == [
        ("update", "ETH/USD"),
        ("update", "BTC/USD"),  # a new round too (unchanged price); its target stays the floor
        ("sync", "ETH-USD"),
    ]
    assert gov.monitor.call("isCurrent", eth_feed)
    risk = gov.market_risk(ETH)
    assert risk.target_mmr_bps > 500 + step  # the spike asks for more than one step
    assert (risk.mmr_bps, risk.imr_bps) == (500 + step, 1000 + step)
    assert gov.market_risk(1).mmr_bps == 400  # BTC untouched
    m = keeper.state.metrics
    assert (m.vol_updates, m.margin_syncs, m.risk_errors) == (2, 1, 0)
    assert "volatility updates 2, margin syncs 1, risk errors 0" in lines[-2]  # before "stopped"
    synced = next(line for line in lines if line.startswith("margin ETH-USD synced"))
    assert f"MMR 500 -> {500 + step}" in synced
    # mined gas, from the keeper's own lines (docs/risk.md quotes them)
    gas = {
        " ".join(line.split()[:2]): int(m.group(1).replace(",", ""))
        for line in lines
        if (m := re.search(r"([\d,]+) gas$", line))
    }
    assert gas["volatility ETH/USD"] < 70_000 and gas["margin ETH-USD"] < 200_000, gas
    print(f"keeper risk gas: {gas}")

    # nothing new: views only, no transaction (monitor current, the market in its cooldown)
    sent = chain_snapshot.chain.nonce(KEEPER.address)
    keeper.run(max_iterations=1)
    assert keeper.last_risk_actions == []
    assert chain_snapshot.chain.nonce(KEEPER.address) == sent
    # after the cooldown, still spiking: the next step
    chain_snapshot.chain.advance_time(gov.limits().cooldown)
    _new_round(chain_snapshot, "2400")
    keeper.run(max_iterations=1)
    assert ("sync", "ETH-USD") in keeper.last_risk_actions
    assert gov.market_risk(ETH).mmr_bps == 500 + 2 * step


def test_a_failing_risk_call_is_one_line_and_not_fatal(
    chain_snapshot: LocalSystem, tmp_path: Path
) -> None:
    gov = _gov(chain_snapshot)
    _new_round(chain_snapshot, "2400")
    lines: list[str] = []
    keeper = _keeper(chain_snapshot, tmp_path / "k.json", lines, max_gas=21_000)
    sent = chain_snapshot.chain.nonce(KEEPER.address)
    keeper.run(max_iterations=2)  # each update needs more than the cap: skipped, twice
    assert chain_snapshot.chain.nonce(KEEPER.address) == sent
    assert keeper.state.metrics.risk_errors == 4  # ETH/USD and BTC/USD, two loops
    assert keeper.state.metrics.rpc_errors == 0  # the loops themselves went on
    update_lines = [line for line in lines if line.startswith("volatility update ETH/USD:")]
    assert len(update_lines) == 1 and "more than the cap 21,000" in update_lines[0]
    assert gov.market_risk(ETH).mmr_bps == 500
    assert keeper.state.metrics.loops == 2


def test_the_close_fee_through_the_governor(chain_snapshot: LocalSystem, tmp_path: Path) -> None:
    """After the handover the engine's owner-only setCloseFee is the governor's: the
    publisher raises a fee at once by at most one step, lowering waits for the timelock."""
    chain_snapshot.deployment.save(tmp_path / "deployment.json")
    dep = ["--deployment", str(tmp_path / "deployment.json")]
    gov = _gov(chain_snapshot)
    assert gov.close_fee(ETH) == 50  # the deployment's (DEFAULT_SPEC)
    with pytest.raises(RevertError) as err:
        gov.engine.transact(ADMIN, "setCloseFee", ETH, 10)  # the former owner, directly
    assert err.value.name == "OwnableUnauthorizedAccount"
    step = gov.limits().max_close_fee_step_bps
    r = run_cli("risk-admin", "tighten", "raiseCloseFee", "ETH-USD", str(50 + step + 1), *dep)
    assert r.code == 2 and "RiskGovernor__StepTooLarge" in r.err
    r = run_cli("risk-admin", "tighten", "raiseCloseFee", "ETH-USD", str(50 + step), *dep)
    assert r.code == 0, r.err
    assert gov.close_fee(ETH) == 50 + step
    r = run_cli("risk-admin", "tighten", "raiseCloseFee", "ETH-USD", "40", *dep)
    assert r.code == 2 and "RiskGovernor__NotTightening" in r.err
    r = run_cli("risk-admin", "schedule", "setCloseFee", "ETH-USD", "40", *dep)
    assert r.code == 0, r.err
    r = run_cli("risk-admin", "execute", "setCloseFee", "ETH-USD", "40", *dep)
    assert r.code == 2 and "TimelockUnexpectedOperationState" in r.err
    chain_snapshot.chain.advance_time(gov.min_delay())
    r = run_cli("risk-admin", "execute", "setCloseFee", "ETH-USD", "40", *dep, "--from", "7")
    assert r.code == 0, r.err
    assert gov.close_fee(ETH) == 40
    r = run_cli("risk-admin", "status", *dep)
    assert "ETH-USD: MMR 500 / IMR 1000 bps" in r.out and "close fee 40 bps" in r.out


def test_keeper_run_risk_sync_flag(chain_snapshot: LocalSystem, tmp_path: Path) -> None:
    chain_snapshot.deployment.save(tmp_path / "deployment.json")
    args = ["keeper", "run", "--deployment", str(tmp_path / "deployment.json"), "--from", "6"]
    args += ["--state", str(tmp_path / "k.json"), "--max-iterations", "1"]
    gov = _gov(chain_snapshot)
    _new_round(chain_snapshot, "2400")
    r = run_cli(*args, "--no-risk-sync")
    assert r.code == 0, r.err
    assert "volatility updates 0, margin syncs 0" in r.out.splitlines()[-1]
    assert gov.market_risk(ETH).mmr_bps == 500
    r = run_cli(*args)
    assert r.code == 0, r.err
    assert "volatility updates 2, margin syncs 1, risk errors 0" in r.out.splitlines()[-1]
    assert gov.market_risk(ETH).mmr_bps == 500 + gov.limits().max_step_bps
