"""A solvent account that keeps proving is never liquidatable (docs/protocol.md, "Engine
rules").

The account proves at the last moments of each proof lifetime, oracles refreshed as a
live feed would be; between two rounds ETH drops 15% (out of the proven move set, 5% MMR
shrunk by the 5% penalty), a keeper flags it, and the account proves again inside the
grace period. At every step ``liquidatable()`` is false; the same account, once it stops
proving, becomes liquidatable exactly one second after its proof lapses.

Outages: the stress run's 60-minute stale feed liquidated traders who proved diligently
(proving needs fresh prices while the lapse clock ran). Now stale time counts toward no
clock: a trader who proves right after the feeds resume is safe; one who does not is
liquidated once the grace period after a flag has run (on fresh-price time).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chain.client import EngineClient, Kind
from chain.deploy import parse_price
from chain.errors import RevertError
from chain.governance import GovernanceClient
from chain.local import LocalSystem
from chain.signers import dev_signer
from prover.prove import Prover
from zkmargin.model import Account, Position
from zkmargin.units import Price, Size

TRADER, KEEPER, ADMIN = dev_signer(1), dev_signer(3), dev_signer(0)
MARGIN_S = 30  # prove this many seconds before a deadline (proving takes ~1 s of chain time)


@dataclass(frozen=True)
class Setup:
    system: LocalSystem
    account: Account  # the trader's private account, as its file would hold it


@pytest.fixture(scope="module")
def setup(prover: Prover, chain_system: LocalSystem) -> Iterator[Setup]:
    system = chain_system  # the session's chain, reverted after this module
    client = system.client
    client.deposit(TRADER, "USDC", 3_000 * 10**6)
    client.deposit(TRADER, "WETH", 10**18)
    account = Account(
        address=int(TRADER.address, 16),
        salt=424242,
        collateral={},
        positions=(
            Position("ETH-USD", True, Size(2 * 10**8), Price(1)),
            Position("BTC-USD", False, Size(5 * 10**6), Price(1)),
        ),
    )
    plan = client.plan_open(account)
    client.open(TRADER, plan, prover)
    yield Setup(system, plan.account)


def refresh_oracles(client: EngineClient, eth: str = "2000", btc: str = "60000") -> None:
    for feed, price in (("ETH/USD", eth), ("BTC/USD", btc), ("USDC/USD", "1")):
        client.set_price(ADMIN, feed, parse_price(price))


def assert_safe(client: EngineClient) -> int:
    """Not liquidatable now; returns the earliest time it could be."""
    now, at = client.liquidatable(TRADER.address)
    assert not now, f"liquidatable at {client.chain.timestamp()}"
    assert at is not None and at > client.chain.timestamp()
    return at


def test_a_solvent_account_that_keeps_proving_is_never_liquidatable(
    setup: Setup, prover: Prover
) -> None:
    client, chain = setup.system.client, setup.system.chain
    lifetime = int(client.engine.call("proofLifetime"))
    grace = int(client.engine.call("gracePeriod"))
    account = setup.account
    for round_ in range(4):
        state = client.account_state(TRADER.address)
        deadline = assert_safe(client)
        assert deadline == state.last_proof_at + lifetime + 1
        if round_ == 2:
            # a minute after the last proof ETH drops 15% (out of the 4.75% set): flagged
            chain.set_next_timestamp(state.last_proof_at + 60)
            refresh_oracles(client, eth="1700")
            client.flag_shock(KEEPER, TRADER.address)
            shocked = client.account_state(TRADER.address).shock_at
            assert assert_safe(client) == shocked + grace + 1 < deadline  # grace is shorter
            chain.set_next_timestamp(shocked + grace - MARGIN_S)  # grace about to run out
            refresh_oracles(client, eth="1700")
            assert_safe(client)
        else:
            # the proof is about to lapse (feeds posted just before: a stale feed would
            # stop the clocks, and liquidatable() would not know the deadline)
            chain.set_next_timestamp(deadline - MARGIN_S)
            refresh_oracles(client)
            assert_safe(client)
        tx = client.prove_margin(TRADER, account, prover)
        after = client.account_state(TRADER.address)
        assert after.nonce == state.nonce + 1 and after.shock_at == 0
        assert assert_safe(client) == after.last_proof_at + lifetime + 1
        assert tx.result.gas_used > 0
        if round_ == 2:
            with pytest.raises(RevertError, match="MarginEngine__InsideProvenSet"):
                client.flag_shock(KEEPER, TRADER.address)  # proven at the new price
    with pytest.raises(RevertError, match="MarginEngine__NotLiquidatable"):
        client.liquidate(KEEPER, TRADER.address)


def test_once_it_stops_proving_it_lapses_one_second_after_its_lifetime(setup: Setup) -> None:
    client, chain = setup.system.client, setup.system.chain
    lifetime = int(client.engine.call("proofLifetime"))
    last = client.account_state(TRADER.address).last_proof_at
    chain.set_next_timestamp(last + lifetime - 10)
    refresh_oracles(client)  # live feeds: no outage stops the clock
    chain.set_next_timestamp(last + lifetime)  # exactly `lifetime` old: still covered
    assert not client.liquidatable(TRADER.address)[0]
    chain.set_next_timestamp(last + lifetime + 1)
    assert client.liquidatable(TRADER.address) == (True, last + lifetime + 1)
    before = client.wallet_balance(KEEPER.address, "USDC")
    client.liquidate(KEEPER, TRADER.address)
    assert client.wallet_balance(KEEPER.address, "USDC") == before + 150 * 10**6  # 5% of 3000
    assert client.liquidatable(TRADER.address) == (False, None)


def test_an_outage_does_not_liquidate_a_trader_who_proves_when_it_ends(
    setup: Setup, prover: Prover
) -> None:
    """The stress run's 60-minute outage, with a 20-minute lifetime (short, as the stress
    run's was): both traders prove 10 minutes before the ETH and BTC feeds go stale."""
    client, chain = setup.system.client, setup.system.chain
    lifetime = 1200
    # the RiskGovernor owns the engine: a cut this deep (3 days to 20 minutes) is beyond
    # the publisher's per-update bound, so it goes through the timelock
    GovernanceClient.of(client).run_timelocked(ADMIN, "setProofLifetime", lifetime)
    grace = int(client.engine.call("gracePeriod"))
    diligent, idle = dev_signer(5), dev_signer(6)
    refresh_oracles(client)
    accounts = {}
    for trader in (diligent, idle):
        client.deposit(trader, "USDC", 3_000 * 10**6)
        plan = client.plan_open(
            Account(
                address=int(trader.address, 16),
                salt=1,
                collateral={},
                positions=(Position("ETH-USD", True, Size(2 * 10**8), Price(1)),),
            ),
            Kind.CROSS,
        )
        client.open(trader, plan, prover)
        accounts[trader.address] = plan.account
    start = chain.timestamp()
    refresh_oracles(client)
    posted = chain.timestamp()  # ETH/USD and BTC/USD (heartbeat 1 h) last posted here
    stale_from = posted + 3600 + 1
    chain.set_next_timestamp(stale_from - 600)
    for trader in (diligent, idle):
        client.prove_margin(trader, accounts[trader.address], prover)
        assert client.account_state(trader.address).lifetime == lifetime
    proven = chain.timestamp()
    assert proven + lifetime + 1 < stale_from + 3600, "the old engine lapsed them mid-outage"

    # the outage: the diligent trader tries to prove; the client records the outage
    # (pokeStale) before raising, and the stale time counts from stale_from
    chain.set_next_timestamp(stale_from + 60)
    assert client.stale_clock(0) == (0, stale_from)  # the view knows, nothing stored yet
    with pytest.raises(RevertError, match="OracleAdapter__StalePrice"):
        client.prove_margin(diligent, accounts[diligent.address], prover)
    # (stored: without it the resumption below would find no outage to close)
    chain.set_next_timestamp(proven + lifetime + 120)  # the old engine's lapse + 2 min
    for trader in (diligent, idle):
        assert client.liquidatable(trader.address) == (False, None)
        with pytest.raises(RevertError, match="MarginEngine__NotLiquidatable"):
            client.liquidate(KEEPER, trader.address)
        with pytest.raises(RevertError, match="OracleAdapter__StalePrice"):
            client.prove_margin(trader, accounts[trader.address], prover)

    # 60 minutes later the feeds resume, ETH 8% lower (out of the proven 4.75% set)
    resume = stale_from + 3600
    chain.set_next_timestamp(resume)
    refresh_oracles(client, eth="1840")
    client.poke_stale(KEEPER, idle.address)  # anyone closes it (liquidate would too)
    total, since = client.stale_clock(0)
    assert since == 0 and total >= 3600  # ends at the last feed's update, never earlier
    client.flag_shock(KEEPER, diligent.address)
    tx = client.flag_shock(KEEPER, idle.address)
    client.prove_margin(diligent, accounts[diligent.address], prover)  # right after
    flagged = client.account_state(idle.address)
    (event,) = client.engine.events(tx, "ShockFlagged")
    assert flagged.shock_at == event.args["at"]  # the flag's block time: no outage since
    # whichever comes first: the flag's grace, or the lapse of the proof (which kept the
    # 600 s it had left when the outage began: the two ends fall within seconds, so the
    # block times of the refresh, poke and flag decide which is first)
    grace_end = flagged.shock_at + grace + 1
    lapse_end = flagged.last_proof_at + lifetime + 1
    assert lapse_end >= proven + lifetime + 1 + 3600  # the outage did not count toward it
    due = min(grace_end, lapse_end)
    assert client.liquidatable(idle.address) == (False, due)

    chain.set_next_timestamp(due - 30)
    refresh_oracles(client, eth="1840")
    assert not client.liquidatable(diligent.address)[0]
    with pytest.raises(RevertError, match="MarginEngine__NotLiquidatable"):
        client.liquidate(KEEPER, idle.address)
    chain.set_next_timestamp(due)
    client.liquidate(KEEPER, idle.address)  # did not prove: liquidated after its grace
    assert not client.liquidatable(diligent.address)[0]
    assert client.account_state(diligent.address).open
    assert start <= proven
