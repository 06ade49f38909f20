"""Trader commands: ``deposit``, ``open``, ``submit``, ``withdraw``, ``close``, ``faucet``.

Each signs as the account file's address: with --key-file / ZKMARGIN_PRIVATE_KEY, or on
anvil with the dev account of that address (create the file with
``zkmargin account new --address <dev address>``; `zkmargin chain accounts` lists them).
Proofs are built from the chain's state and checked against the engine's own public
inputs before anything is sent.
"""

from __future__ import annotations

from pathlib import Path

import click

from chain.client import EngineClient, Kind, ProofTx
from cli.chainopts import (
    connect,
    connection_options,
    from_option,
    load_account_file,
    parse_amount,
    price_text,
    signer_for,
    tokens,
    when,
    who,
)
from cli.common import account_argument
from prover.prove import Prover
from zkmargin.accounts import save_account
from zkmargin.amounts import format_fixed

PNL_DECIMALS = 16  # AccountClosed.pnl is in 1e-16 quote (size 1e-8 * price 1e-8)


def _proof_line(client: EngineClient, tx: ProofTx, what: str) -> str:
    return (
        f"{what}: {tx.bundle.circuit} proof in {tx.prove_seconds:.2f} s, "
        f"{tx.result.gas_used:,} gas (block {tx.result.block_number})"
    )


def _deadline(client: EngineClient, address: str) -> str:
    status = client.status(address)
    return (
        f"next proof due {when(status.now, status.liquidatable_at)}; "
        "sooner if a price shock is flagged"
    )


@click.command()
@click.argument("target", metavar="ACCOUNT")
@click.argument("asset")
@click.argument("amount")
@connection_options
def deposit(
    target: str,
    asset: str,
    amount: str,
    deployment_file: Path | None,
    rpc_url: str | None,
    key_file: Path | None,
) -> None:
    """Deposit AMOUNT of ASSET (in tokens, like 2000.5) for ACCOUNT (file or address)."""
    client = connect(deployment_file, rpc_url)
    address = who(client, target)
    units = parse_amount(client, asset, amount)
    signer = signer_for(client, address, key_file)
    approve, result = client.deposit(signer, asset, units)
    click.echo(
        f"deposited {amount} {asset} for {address}: engine balance "
        f"{tokens(client, asset, client.balance(address, asset))} {asset} "
        f"({approve.gas_used:,} gas approve + {result.gas_used:,} gas deposit)"
    )


@click.command("open")
@account_argument
@connection_options
@click.option(
    "--kind",
    type=click.Choice(["auto", "isolated", "cross"]),
    default="auto",
    show_default=True,
    help="auto: isolated for one position on one collateral asset, else cross.",
)
@click.option(
    "--asset", default=None, help="Isolated: the collateral asset (default: the one deposited)."
)
def open_account(
    account_file: Path,
    deployment_file: Path | None,
    rpc_url: str | None,
    key_file: Path | None,
    kind: str,
    asset: str | None,
) -> None:
    """Open ACCOUNT at the engine with an opening proof (initial margin).

    Every position's entry price becomes the current oracle price and the salt is drawn
    afresh; ACCOUNT is rewritten (atomically, mode 0600) BEFORE anything is sent, since
    only that file can open the commitment afterwards.
    """
    client = connect(deployment_file, rpc_url)
    account = load_account_file(client, account_file)
    address = f"0x{account.address:040x}"
    signer = signer_for(client, address, key_file)
    chosen = None if kind == "auto" else Kind[kind.upper()]
    plan = client.plan_open(account, chosen, asset=asset)
    save_account(account_file, plan.account, overwrite=True)
    entries = ", ".join(f"{p.market} {price_text(p.entry_price)}" for p in plan.account.positions)
    click.echo(
        f"updated {account_file}: entries at the oracle ({entries or 'no positions'}), fresh salt"
    )
    tx = client.open(signer, plan, Prover())
    commitment = tx.bundle.public_signals[0]
    click.echo(_proof_line(client, tx, f"opened {plan.kind.name.lower()} account"))
    click.echo(
        f"the engine stores commitment {commitment}; positions and salt stay in {account_file}"
    )
    click.echo(_deadline(client, signer.address))


@click.command()
@account_argument
@connection_options
def submit(
    account_file: Path, deployment_file: Path | None, rpc_url: str | None, key_file: Path | None
) -> None:
    """Prove ACCOUNT's maintenance margin at the current prices, on-chain."""
    client = connect(deployment_file, rpc_url)
    account = load_account_file(client, account_file)
    signer = signer_for(client, f"0x{account.address:040x}", key_file)
    tx = client.prove_margin(signer, account, Prover())
    click.echo(
        _proof_line(client, tx, f"maintenance margin proven (nonce {tx.bundle.statement.nonce})")
    )
    click.echo(_deadline(client, signer.address))


@click.command()
@account_argument
@click.argument("asset")
@click.argument("amount")
@connection_options
def withdraw(
    account_file: Path,
    asset: str,
    amount: str,
    deployment_file: Path | None,
    rpc_url: str | None,
    key_file: Path | None,
) -> None:
    """Withdraw AMOUNT of ASSET, proving the rest still meets initial margin."""
    client = connect(deployment_file, rpc_url)
    account = load_account_file(client, account_file)
    signer = signer_for(client, f"0x{account.address:040x}", key_file)
    units = parse_amount(client, asset, amount)
    result = client.withdraw(signer, account, asset, units, Prover())
    if isinstance(result, ProofTx):
        click.echo(_proof_line(client, result, f"withdrew {amount} {asset}"))
    else:
        click.echo(
            f"withdrew {amount} {asset} (no open account: no proof), {result.gas_used:,} gas"
        )
    left = tokens(client, asset, client.balance(signer.address, asset))
    click.echo(f"engine balance {left} {asset}")


@click.command()
@account_argument
@connection_options
def close(
    account_file: Path, deployment_file: Path | None, rpc_url: str | None, key_file: Path | None
) -> None:
    """Close ACCOUNT: reveal its positions and salt; PnL settles against the pool."""
    client = connect(deployment_file, rpc_url)
    account = load_account_file(client, account_file)
    signer = signer_for(client, f"0x{account.address:040x}", key_file)
    before = {
        a.name: client.wallet_balance(signer.address, a.name) for a in client.deployment.assets
    }
    result = client.close(signer, account)
    events = client.engine.events(result, "AccountClosed")
    pnl = int(events[0].args["pnl"]) if events else 0
    click.echo(
        f"closed: PnL {format_fixed(pnl, PNL_DECIMALS)} (quote), "
        f"{result.gas_used:,} gas; positions and salt are now public"
    )
    for info in client.deployment.assets:
        got = client.wallet_balance(signer.address, info.name) - before[info.name]
        if got:
            click.echo(f"  returned {tokens(client, info.name, got)} {info.name}")


@click.command()
@click.argument("target", metavar="ACCOUNT")
@click.argument("asset")
@click.argument("amount")
@connection_options
@from_option(0)
def faucet(
    target: str,
    asset: str,
    amount: str,
    deployment_file: Path | None,
    rpc_url: str | None,
    key_file: Path | None,
    sender: str,
) -> None:
    """Mint AMOUNT of a mock ASSET token to ACCOUNT's wallet (local deployments)."""
    client = connect(deployment_file, rpc_url)
    address = who(client, target)
    units = parse_amount(client, asset, amount)
    client.mint(signer_for(client, None, key_file, sender), address, asset, units)
    click.echo(
        f"minted {amount} {asset} to {address}: wallet "
        f"{tokens(client, asset, client.wallet_balance(address, asset))} {asset}"
    )
