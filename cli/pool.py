"""``zkmargin pool``: the engine's vaults (one ERC-4626 MarginPool per collateral asset).

LPs deposit at once and leave in two steps (request, then redeem after the withdrawal
delay, within the execution window); traders draw IOUs the vault owed them at close.
Amounts are in tokens (2000.5), shares in share units (the asset's decimals + 6).
"""

from __future__ import annotations

import click

from chain.pool import SHARE_DECIMALS_OFFSET
from cli.chainopts import (
    Connection,
    connection_options,
    from_option,
    parse_amount,
    read_options,
    tokens,
    when,
    who,
)
from cli.sections import WholeLinesGroup
from cli.values import SignedArgsCommand
from zkmargin.amounts import format_fixed, parse_fixed


@click.group(cls=WholeLinesGroup)
def pool() -> None:
    """The vaults that take the other side of every trade (LP deposit and exit, IOUs)."""


def _shares_text(decimals: int, shares: int) -> str:
    return format_fixed(shares, decimals + SHARE_DECIMALS_OFFSET)


@pool.command("show")
@click.argument("address", required=False)
@read_options
def show(address: str | None, conn: Connection) -> None:
    """Each vault's assets, IOUs and flows; with ADDRESS, also its shares and requests."""
    client = conn.client
    now = client.chain.timestamp()
    for info in client.deployment.assets:
        st = client.pools.state(info.name)

        def t(units: int, name: str = info.name) -> str:
            return tokens(client, name, units)

        click.echo(f"{info.name} pool {st.address}")
        click.echo(
            f"  assets {t(st.total_assets)} {info.name} for "
            f"{_shares_text(info.decimals, st.total_supply)} shares "
            f"(held {t(st.held)}, IOUs owed {t(st.owed)})"
        )
        click.echo(
            f"  traders: losses and fees in {t(st.losses_received)}, penalties in "
            f"{t(st.penalties_received)}, profit paid {t(st.profits_paid)}, IOUs issued "
            f"{t(st.iou_issued)}, bad debt {t(st.bad_debt)}"
        )
        click.echo(
            f"  LPs: deposited {t(st.deposited)}, withdrawn {t(st.withdrawn)}, funded "
            f"{t(st.funded)}; exit delay {st.withdraw_delay} s, window {st.execution_window} s"
        )
        if address is None:
            continue
        pos = client.pools.position(info.name, who(client, address))
        line = (
            f"  {address}: {_shares_text(info.decimals, pos.shares)} free shares "
            f"(worth {t(pos.value)} {info.name})"
        )
        if pos.pending_shares:
            line += (
                f", {_shares_text(info.decimals, pos.pending_shares)} requested, executable "
                f"{when(now, pos.matures_at)} until {when(now, pos.expires_at)}"
            )
        if pos.iou:
            line += f", IOU {t(pos.iou)} {info.name}"
        click.echo(line)


@pool.command("deposit", cls=SignedArgsCommand, number_arg="AMOUNT", number_what="an amount")
@click.argument("asset")
@click.argument("amount")
@connection_options
@from_option(0)
def deposit(asset: str, amount: str, conn: Connection, sender: str) -> None:
    """Deposit AMOUNT of ASSET into its vault for shares (an LP enters at once)."""
    client = conn.client
    signer = conn.signer(None, sender)
    approve, result = client.pools.deposit(signer, asset, parse_amount(client, asset, amount))
    pos = client.pools.position(asset, signer.address)
    decimals = client.deployment.asset(asset).decimals
    click.echo(
        f"deposited {amount} {asset}: {signer.address} holds "
        f"{_shares_text(decimals, pos.shares)} shares worth {tokens(client, asset, pos.value)} "
        f"{asset} ({approve.gas_used:,} + {result.gas_used:,} gas)"
    )


@pool.command(
    "request-redeem", cls=SignedArgsCommand, number_arg="SHARES", number_what="a share amount"
)
@click.argument("asset")
@click.argument("shares", required=False)
@connection_options
@from_option(0)
def request_redeem(asset: str, shares: str | None, conn: Connection, sender: str) -> None:
    """Ask to leave ASSET's vault with SHARES (default: every free share); they keep
    bearing profit and loss and can be redeemed after the withdrawal delay."""
    client = conn.client
    signer = conn.signer(None, sender)
    decimals = client.deployment.asset(asset).decimals + SHARE_DECIMALS_OFFSET
    units = (
        None
        if shares is None
        else parse_fixed(shares, decimals, field="SHARES", bits=128, positive=True)
    )
    result = client.pools.request_redeem(signer, asset, units)
    pos = client.pools.position(asset, signer.address)
    now = client.chain.timestamp()
    click.echo(
        f"requested {_shares_text(decimals - SHARE_DECIMALS_OFFSET, pos.pending_shares)} "
        f"{asset} pool shares: executable {when(now, pos.matures_at)} until "
        f"{when(now, pos.expires_at)} ({result.gas_used:,} gas)"
    )


@pool.command("redeem")
@click.argument("asset")
@connection_options
@from_option(0)
def redeem(asset: str, conn: Connection, sender: str) -> None:
    """Execute the sender's matured request on ASSET's vault, at today's share price."""
    client = conn.client
    signer = conn.signer(None, sender)
    before = client.wallet_balance(signer.address, asset)
    result = client.pools.redeem(signer, asset)
    got = client.wallet_balance(signer.address, asset) - before
    click.echo(f"redeemed {tokens(client, asset, got)} {asset} ({result.gas_used:,} gas)")


@pool.command("claim")
@click.argument("asset")
@connection_options
@from_option(0)
def claim(asset: str, conn: Connection, sender: str) -> None:
    """Draw the sender's IOU from ASSET's vault (profit it could not pay at close)."""
    client = conn.client
    signer = conn.signer(None, sender)
    before = client.wallet_balance(signer.address, asset)
    result = client.pools.claim(signer, asset)
    got = client.wallet_balance(signer.address, asset) - before
    left = client.pools.position(asset, signer.address).iou
    click.echo(
        f"claimed {tokens(client, asset, got)} {asset}; still owed "
        f"{tokens(client, asset, left)} ({result.gas_used:,} gas)"
    )
