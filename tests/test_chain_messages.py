"""What a user reads when the chain side refuses: amounts in tokens, not base units.

A newcomer typed ``withdraw … USDC 5000`` and read ``cannot withdraw 5000000000``; these
tests hold the client's messages to the units the user typed (base units only in
brackets), and point a wallet short of tokens on a local anvil at ``zkmargin faucet``.
"""

from __future__ import annotations

import pytest

from chain.errors import ChainError
from chain.local import LocalSystem
from chain.signers import dev_signer
from zkmargin.errors import InputError

USDC = 10**6


def test_withdrawing_more_than_the_engine_holds_says_tokens(chain_snapshot: LocalSystem) -> None:
    client, trader = chain_snapshot.client, dev_signer(7)
    client.deposit(trader, "USDC", 1000 * USDC)
    with pytest.raises(ChainError) as info:
        client.withdraw(trader, None, "USDC", 5000 * USDC, None)
    assert str(info.value) == (
        "cannot withdraw 5000 USDC (5000000000 base units): the engine holds "
        f"1000 USDC (1000000000 base units) for {trader.address}"
    )
    assert client.balance(trader.address, "USDC") == 1000 * USDC  # nothing was sent


def test_depositing_more_than_the_wallet_holds_points_at_the_faucet(
    chain_snapshot: LocalSystem,
) -> None:
    client, trader = chain_snapshot.client, dev_signer(7)
    have = client.wallet_balance(trader.address, "WETH")
    assert have == 1000 * 10**18  # what deploy_system mints to each dev account
    with pytest.raises(ChainError) as info:
        client.deposit(trader, "WETH", have + 10**18 // 2)
    text = str(info.value)
    assert text.startswith("cannot deposit 1000.5 WETH (")
    assert f"the wallet {trader.address} holds 1000 WETH (" in text
    assert f"`zkmargin faucet {trader.address} WETH 0.5`" in text
    assert "\n" not in text
    assert client.balance(trader.address, "WETH") == 0


def test_a_fractional_withdrawal_is_shown_exactly(chain_snapshot: LocalSystem) -> None:
    client, trader = chain_snapshot.client, dev_signer(7)
    client.deposit(trader, "WETH", 10**18 // 4)
    with pytest.raises(ChainError, match=r"cannot withdraw 0\.3 WETH \(300000000000000000 base"):
        client.withdraw(trader, None, "WETH", 3 * 10**17, None)


def test_a_zero_amount_is_an_input_error(chain_snapshot: LocalSystem) -> None:
    with pytest.raises(InputError, match="greater than zero"):
        chain_snapshot.client.withdraw(dev_signer(7), None, "USDC", 0, None)
