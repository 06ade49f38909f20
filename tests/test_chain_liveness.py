"""A solvent account that keeps proving is never liquidatable (DESIGN.md, "Liquidation").

The account proves at the last moments of each proof lifetime, oracles refreshed as a
live feed would be; between two rounds ETH drops 15% (past the 10% shock threshold), a
keeper flags the shock, and the account proves again inside the grace period. At every
step ``liquidatable()`` is false; the same account, once it stops proving, becomes
liquidatable exactly one second after its proof lapses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chain.client import EngineClient
from chain.deploy import parse_price
from chain.errors import RevertError
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


def refresh_oracles(client: EngineClient, eth: str = "2000") -> None:
    for feed, price in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
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
            # a minute after the last proof ETH drops 15% (threshold 10%): a keeper flags it
            chain.set_next_timestamp(state.last_proof_at + 60)
            refresh_oracles(client, eth="1700")
            client.flag_shock(KEEPER, TRADER.address)
            shocked = client.account_state(TRADER.address).shock_at
            assert assert_safe(client) == shocked + grace + 1 < deadline  # grace is shorter
            chain.set_next_timestamp(shocked + grace - MARGIN_S)  # grace about to run out
            assert_safe(client)
            refresh_oracles(client, eth="1700")
        else:
            chain.set_next_timestamp(deadline - MARGIN_S)  # the proof is about to lapse
            assert_safe(client)
            refresh_oracles(client)
        tx = client.prove_margin(TRADER, account, prover)
        after = client.account_state(TRADER.address)
        assert after.nonce == state.nonce + 1 and after.shock_at == 0
        assert assert_safe(client) == after.last_proof_at + lifetime + 1
        assert tx.result.gas_used > 0
        if round_ == 2:
            with pytest.raises(RevertError, match="MarginEngine__NoShock"):
                client.flag_shock(KEEPER, TRADER.address)  # proven at the new price
    with pytest.raises(RevertError, match="MarginEngine__NotLiquidatable"):
        client.liquidate(KEEPER, TRADER.address)


def test_once_it_stops_proving_it_lapses_one_second_after_its_lifetime(setup: Setup) -> None:
    client, chain = setup.system.client, setup.system.chain
    lifetime = int(client.engine.call("proofLifetime"))
    last = client.account_state(TRADER.address).last_proof_at
    chain.set_next_timestamp(last + lifetime)  # exactly `lifetime` old: still covered
    assert not client.liquidatable(TRADER.address)[0]
    chain.set_next_timestamp(last + lifetime + 1)
    assert client.liquidatable(TRADER.address) == (True, last + lifetime + 1)
    before = client.wallet_balance(KEEPER.address, "USDC")
    client.liquidate(KEEPER, TRADER.address)
    assert client.wallet_balance(KEEPER.address, "USDC") == before + 150 * 10**6  # 5% of 3000
    assert client.liquidatable(TRADER.address) == (False, None)
