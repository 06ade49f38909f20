"""``zkmargin status``, ``liquidate`` and ``flag-shock``: anyone's view of an account."""

from __future__ import annotations

from pathlib import Path

import click

from chain.client import Kind
from cli.chainopts import (
    Connection,
    connection_options,
    from_option,
    load_account_file,
    read_options,
    span,
    tokens,
    when,
    who,
)
from zkmargin.errors import ZkMarginError
from zkmargin.model import Mode, evaluate


@click.command()
@click.argument("target", metavar="ACCOUNT-or-ADDRESS")
@read_options
def status(target: str, conn: Connection) -> None:
    """What the engine knows of an account; with an account file, also its margin now."""
    client = conn.client
    address = who(client, target)
    st = client.status(address)
    state = st.state
    click.echo(f"account      {address}")
    for name, amount in st.balances.items():
        click.echo(f"collateral   {tokens(client, name, amount)} {name}")
    if not state.open:
        click.echo(f"position     none open (nonce {state.nonce})")
        return
    kind = state.kind.name.lower()
    if state.kind is Kind.ISOLATED:
        dep = client.deployment
        kind += f" ({dep.markets[state.market].name} on {dep.assets[state.asset].name})"
    click.echo(f"kind         {kind}")
    click.echo(f"commitment   {state.commitment}")
    click.echo(f"nonce        {state.nonce}")
    click.echo(
        f"last proof   {span(st.now - state.last_proof_at)} ago "
        f"(lifetime {span(st.proof_lifetime)})"
    )
    if state.shock_at:
        click.echo(
            f"shock        flagged {span(st.now - state.shock_at)} ago "
            f"(grace {span(st.grace_period)})"
        )
    else:
        try:
            left = client.flaggable(address)
        except ZkMarginError as exc:  # e.g. a stale feed: prices cannot be read now
            click.echo(f"move set     unknown ({exc})")
        else:
            click.echo(
                "move set     LEFT: anyone may flag it now"
                if left
                else "move set     prices inside the set its last proof covers"
            )
    verdict = (
        "YES, now" if st.liquidatable else f"no; at the earliest {when(st.now, st.liquidatable_at)}"
    )
    click.echo(f"liquidatable {verdict}")
    if Path(target).is_file():
        try:
            data = client.market_data_for(state)
            account = client.chain_account(load_account_file(client, Path(target)), data)
            report = evaluate(account, data, Mode.MAINTENANCE)
        except ZkMarginError as exc:
            click.echo(f"margin       unknown ({exc})")
            return
        can = "can prove" if report.solvent else "CANNOT prove (insufficient margin)"
        click.echo(
            f"margin       equity {report.equity_display()} vs maintenance "
            f"{report.requirement_display()}: {can}"
        )


@click.command()
@click.argument("target", metavar="ADDRESS")
@connection_options
@from_option(0)
def liquidate(
    target: str,
    conn: Connection,
    sender: str,
) -> None:
    """Liquidate ADDRESS (its proof lapsed, or a flagged shock outlived the grace period)."""
    client = conn.client
    address = who(client, target)
    keeper = conn.signer(None, sender)
    result = client.liquidate(keeper, address)
    event = client.engine.events(result, "Liquidated")[0]
    click.echo(f"liquidated {address} by {keeper.address}, {result.gas_used:,} gas")
    for info in client.deployment.assets:
        reward, to_pool = int(event.args["reward"][info.id]), int(event.args["toPool"][info.id])
        if reward or to_pool:
            click.echo(
                f"  {info.name}: {tokens(client, info.name, reward)} to the keeper, "
                f"{tokens(client, info.name, to_pool)} to the pool"
            )
    found = client.liquidation(address)
    if found is not None:
        click.echo(
            f"  the trader may reclaim its equity above the penalty until "
            f"{when(client.chain.timestamp(), found.deadline)} (`zkmargin reclaim`)"
        )


@click.command("flag-shock")
@click.argument("target", metavar="ADDRESS")
@connection_options
@from_option(0)
def flag_shock(
    target: str,
    conn: Connection,
    sender: str,
) -> None:
    """Flag ADDRESS once a price left the move set its last proof covers (shrunk so the
    liquidation penalty stays covered): it must prove again within the grace period."""
    client = conn.client
    address = who(client, target)
    result = client.flag_shock(conn.signer(None, sender), address)
    st = client.status(address)
    for event in client.engine.events(result, "MoveSetLeft"):
        slot, proven, price = (int(event.args[k]) for k in ("slot", "proven", "price"))
        click.echo(f"slot {slot} left the proven move set: {proven} -> {price} (1e-8 quote)")
    click.echo(
        f"shock flagged on {address}, {result.gas_used:,} gas; liquidatable "
        f"{when(st.now, st.liquidatable_at)} unless it proves again"
    )
