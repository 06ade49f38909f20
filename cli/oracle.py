"""``zkmargin oracle set|show``: the mock price feeds of a local deployment."""

from __future__ import annotations

import time

import click

from chain.deploy import parse_price
from cli.chainopts import Connection, connection_options, from_option, price_text, read_options
from cli.sections import WholeLinesGroup
from cli.values import SignedArgsCommand
from zkmargin.amounts import format_fixed


@click.group(cls=WholeLinesGroup)
def oracle() -> None:
    """Price feeds (the adapter's validated prices, 8 decimals)."""


@oracle.command("set", cls=SignedArgsCommand, number_arg="PRICE", number_what="a price")
@click.argument("name", metavar="MARKET")
@click.argument("price")
@connection_options
@from_option(0)
def set_price(
    name: str,
    price: str,
    conn: Connection,
    sender: str,
) -> None:
    """Write PRICE (quote units, e.g. 1600.5) as a new round of MARKET's mock feed.

    MARKET is a market (ETH-USD), a collateral asset (WETH) or a feed (ETH/USD); every
    market and asset priced by that feed moves.
    """
    client = conn.client
    units = parse_price(price, "PRICE")
    feed = client.deployment.feed(name)
    result = client.set_price(conn.signer(None, sender), feed.name, units)
    moved = ", ".join(client.deployment.priced_by(feed.name))
    click.echo(
        f"{feed.name} = {price_text(client.price(feed.name))} ({moved}); {result.gas_used:,} gas"
    )


@oracle.command("show")
@read_options
def show(conn: Connection) -> None:
    """Each feed's latest answer, its age and heartbeat."""
    client = conn.client
    now = client.chain.timestamp()
    for feed in client.deployment.feeds:
        _round, answer, _started, updated, _in_round = client.feeds[feed.name].call(
            "latestRoundData"
        )
        age = now - int(updated)
        state = "fresh" if age <= feed.heartbeat else "STALE"
        click.echo(
            f"{feed.name:9s} {format_fixed(int(answer), feed.decimals):>14s}  "
            f"updated {time.strftime('%H:%M:%S', time.gmtime(int(updated)))} "
            f"({age}s ago, heartbeat {feed.heartbeat}s: {state})"
        )
