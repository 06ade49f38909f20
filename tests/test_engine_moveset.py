"""Flags exactly at the edge of the proven move set (docs/protocol.md, "Engine rules").

A maintenance proof at prices P shows equity ≥ Σ size·P·MMR, so the account stays solvent
for every move |Δ| ≤ MMR; the engine lets anyone flag it as soon as a price leaves that
box shrunk by the liquidation penalty (|Δ| > MMR·(1 − penalty)), never before.

The attack the old engine allowed: an isolated ETH account proven exactly at MMR (5%)
and a 6% fall. The account is then underwater (bad debt), yet the old global 10% shock
threshold refused every flag until the proof lapsed (an hour then, days now). Here the
same move is flaggable in the next block, and a move inside the shrunk set is refused.
All on anvil with real proofs (DEFAULT_SPEC: ETH MMR 5%, USDC haircut 0, penalty 5%).
"""

from __future__ import annotations

import pytest

from chain.client import EngineClient
from chain.deploy import parse_price
from chain.errors import RevertError
from chain.local import LocalSystem
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.model import Account, Position
from zkmargin.units import Price, Size

ADMIN, KEEPER = dev_signer(0), dev_signer(3)
E8 = 10**8


def refresh(client: EngineClient, eth: str) -> None:
    """Post every feed at the current time (ETH at ``eth``), so none is stale."""
    for feed, price in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        client.set_price(ADMIN, feed, parse_price(price))


def open_long_eth(
    client: EngineClient, prover: Prover, trader: Signer, usdc: int, size: int
) -> Account:
    """An isolated account: ``size`` (1e-8 ETH) long at the oracle price, ``usdc`` dollars."""
    client.deposit(trader, "USDC", usdc * 10**6)
    account = Account(
        address=int(trader.address, 16),
        salt=1,
        collateral={},
        positions=(Position("ETH-USD", True, Size(size), Price(1)),),
    )
    plan = client.plan_open(account)
    client.open(trader, plan, prover)
    return plan.account


def test_a_move_past_the_shrunk_set_is_flaggable_at_once(
    chain_snapshot: LocalSystem, prover: Prover
) -> None:
    client = chain_snapshot.client
    trader = dev_signer(4)
    refresh(client, "2000")
    # 1 ETH long at 2000 with 200 USDC: the opening proof at IMR 10% (equity 200 = 200)
    account = open_long_eth(client, prover, trader, usdc=200, size=E8)
    # ETH falls to 1895: equity 200 − 105 = 95 ≥ MMR 5% × 1895 = 94.75, proven at MMR
    refresh(client, "1895")
    client.prove_margin(trader, account, prover)
    assert not client.flaggable(trader.address)

    # inside the shrunk set, 1895 × (1 − 5% × 95%) = 1804.9875: refused, to the last unit
    for inside in ("1819.2", "1804.9875"):  # −4% and exactly the edge
        refresh(client, inside)
        assert not client.flaggable(trader.address)
        with pytest.raises(RevertError, match="MarginEngine__InsideProvenSet"):
            client.flag_shock(KEEPER, trader.address)
    # at the edge the account still holds the penalty share of its proven margin:
    # equity 200 + 1 × (1804.9875 − 2000) = 4.9875 ≥ 5% × 94.75 = 4.7375
    assert 200 * E8 + (parse_price("1804.9875") - 2000 * E8) >= 5 * 9475 * E8 // 10_000

    refresh(client, "1804.98749999")  # one unit past the edge
    assert client.flaggable(trader.address)

    # the attack: a 6% fall from the proven 1895 to 1781.30 leaves the account underwater
    refresh(client, "1781.3")
    equity = 200 * E8 + (parse_price("1781.3") - 2000 * E8)  # 1e-8 quote
    assert equity < 0, "the move creates bad debt"
    assert client.flaggable(trader.address)
    tx = client.flag_shock(KEEPER, trader.address)  # the old 10% threshold refused this
    (left,) = client.engine.events(tx, "MoveSetLeft")
    assert (left.args["slot"], left.args["proven"], left.args["price"]) == (
        0,
        parse_price("1895"),
        parse_price("1781.3"),
    )
    state = client.account_state(trader.address)
    assert state.shock_at == client.chain.timestamp()
    assert client.liquidatable(trader.address) == (False, state.shock_at + state.grace + 1)
    with pytest.raises(RevertError, match="MarginEngine__ShockPending"):
        client.flag_shock(KEEPER, trader.address)


def test_a_slot_proven_at_1e_8_is_a_real_price(chain_snapshot: LocalSystem, prover: Prover) -> None:
    """The old engine skipped every slot proven at exactly 1 (the pad price of unlisted
    slots), so a market trading at 1e-8 could never be flagged, however far it moved."""
    client = chain_snapshot.client
    trader = dev_signer(5)
    refresh(client, "0.00000001")
    open_long_eth(client, prover, trader, usdc=10, size=1000 * E8)
    state = client.account_state(trader.address)
    assert state.proven_price_words[0] & (2**64 - 1) == 1
    refresh(client, "0.00000002")  # +100%
    assert client.flaggable(trader.address)
    client.flag_shock(KEEPER, trader.address)
    assert client.account_state(trader.address).shock_at != 0
