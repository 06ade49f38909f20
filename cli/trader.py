"""Trader commands: ``deposit``, ``open``, ``submit``, ``withdraw``, ``close``, ``reclaim``,
``faucet``.

Each signs as the account file's address: with --key-file / ZKMARGIN_PRIVATE_KEY, or on
anvil with the dev account of that address (create the file with
``zkmargin account new --address <dev address>``; `zkmargin chain accounts` lists them).
Proofs are built from the chain's state and checked against the engine's own public
inputs before anything is sent.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from chain.client import EngineClient, Kind, OpenPlan, ProofTx
from cli.chainopts import (
    Connection,
    connection_options,
    from_option,
    load_account_file,
    parse_amount,
    price_text,
    tokens,
    when,
    who,
)
from cli.common import account_argument
from cli.values import SignedArgsCommand
from prover.prove import Prover
from zkmargin.accounts import format_address, save_account
from zkmargin.amounts import format_fixed
from zkmargin.encoding import Binding, encode
from zkmargin.errors import InputError, InsufficientMargin
from zkmargin.model import Mode, evaluate

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


@click.command(cls=SignedArgsCommand, number_arg="AMOUNT", number_what="an amount")
@click.argument("target", metavar="ACCOUNT")
@click.argument("asset")
@click.argument("amount")
@connection_options
def deposit(
    target: str,
    asset: str,
    amount: str,
    conn: Connection,
) -> None:
    """Deposit AMOUNT of ASSET (in tokens, like 2000.5) for ACCOUNT (file or address)."""
    client = conn.client
    address = who(client, target)
    units = parse_amount(client, asset, amount)
    signer = conn.signer(address)
    have = client.wallet_balance(address, asset)
    if have < units:
        hint = (
            f"; mint mock tokens with `zkmargin faucet {address} {asset} {amount}`"
            if client.deployment.mock
            else ""
        )
        raise InputError(
            f"{address} holds {tokens(client, asset, have)} {asset} in its wallet, "
            f"cannot deposit {amount} {asset}{hint}"
        )
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
    conn: Connection,
    kind: str,
    asset: str | None,
) -> None:
    """Open ACCOUNT at the engine with an opening proof (initial margin).

    Every position's entry price becomes the current oracle price and the salt is drawn
    afresh. ACCOUNT itself changes only once the opening transaction is mined: until
    then the new entries and salt wait in ACCOUNT.opening (mode 0600), which then
    replaces ACCOUNT atomically; if opening fails, ACCOUNT is untouched.
    """
    client = conn.client
    account = load_account_file(client, account_file)
    address = format_address(account.address)
    signer = conn.signer(address)
    pending = pending_file(account_file)
    if pending.exists():
        raise InputError(
            f"{pending} exists: an earlier `open` did not finish. If `zkmargin status "
            f"{address}` shows an open account, that file holds its salt: move it over "
            f"{account_file}; otherwise delete it"
        )
    balances = client.balances(address)
    if not any(balances.values()):
        first = client.deployment.assets[0].name
        raise InputError(
            f"{address} has no collateral at the engine; deposit first, e.g. "
            f"`zkmargin deposit {account_file} {first} 2000`"
        )
    chosen = None if kind == "auto" else Kind[kind.upper()]
    plan = client.plan_open(account, chosen, asset=asset)
    expected = _check_opening(client, plan, balances, account_file)
    save_account(pending, plan.account, overwrite=True)
    try:
        tx = client.open(signer, plan, Prover())
    except BaseException:
        _settle_pending(client, address, expected, pending, account_file)
        raise
    os.replace(pending, account_file)
    entries = ", ".join(f"{p.market} {price_text(p.entry_price)}" for p in plan.account.positions)
    click.echo(_proof_line(client, tx, f"opened {plan.kind.name.lower()} account"))
    click.echo(
        f"updated {account_file}: entries at the oracle ({entries or 'no positions'}), "
        "fresh salt (mode 0600)"
    )
    click.echo(
        f"the engine stores commitment {expected}; positions and salt stay in {account_file}"
    )
    click.echo(_deadline(client, signer.address))


def pending_file(account_file: Path) -> Path:
    """Where ``open`` keeps the planned account until the opening transaction is mined."""
    return account_file.with_name(account_file.name + ".opening")


def _check_opening(
    client: EngineClient, plan: OpenPlan, balances: dict[str, int], account_file: Path
) -> int:
    """The model's verdict at initial margin before any file is written; the commitment.

    Without this a short deposit shows up only as the prover's refusal, after the plan
    was saved; here it comes first, in one line that says what to do.
    """
    data = client.market_data(plan.kind, plan.market, plan.asset)
    chain_account = client.chain_account(plan.account, data, balances)
    report = evaluate(chain_account, data, Mode.INITIAL)
    if not report.solvent:
        short = InsufficientMargin(report.equity_display(), report.requirement_display())
        short.args = (
            f"{short} (initial margin, at the oracle prices): deposit more with "
            f"`zkmargin deposit {account_file} ASSET AMOUNT` or open smaller positions",
        )
        raise short
    enc = encode(
        chain_account,
        data,
        circuit=plan.kind.circuit,
        mode=Mode.INITIAL,
        binding=Binding(),
        opening=True,
    )
    return enc.statement.commitment


def _settle_pending(
    client: EngineClient, address: str, expected: int, pending: Path, account_file: Path
) -> None:
    """After a failed ``open``: keep the plan only if the engine holds its commitment.

    A failure after the transaction was sent (a lost connection, say) may still have
    opened the account; then the pending file is the only copy of the new salt and
    replaces ACCOUNT. If the chain cannot be asked, the pending file stays for the user.
    """
    try:
        state = client.account_state(address)
    except Exception:  # the chain is unreachable: never delete what may be the only salt
        click.echo(f"note: kept {pending}; check `zkmargin status {address}`", err=True)
        return
    if state.open and state.commitment == expected:
        os.replace(pending, account_file)
        click.echo(f"note: the account did open; {account_file} updated", err=True)
    else:
        pending.unlink(missing_ok=True)


@click.command()
@account_argument
@connection_options
def submit(account_file: Path, conn: Connection) -> None:
    """Prove ACCOUNT's maintenance margin at the current prices, on-chain."""
    client = conn.client
    account = load_account_file(client, account_file)
    signer = conn.signer(f"0x{account.address:040x}")
    tx = client.prove_margin(signer, account, Prover())
    click.echo(
        _proof_line(client, tx, f"maintenance margin proven (nonce {tx.bundle.statement.nonce})")
    )
    click.echo(_deadline(client, signer.address))


@click.command(cls=SignedArgsCommand, number_arg="AMOUNT", number_what="an amount")
@account_argument
@click.argument("asset")
@click.argument("amount")
@connection_options
def withdraw(
    account_file: Path,
    asset: str,
    amount: str,
    conn: Connection,
) -> None:
    """Withdraw AMOUNT of ASSET, proving the rest still meets initial margin."""
    client = conn.client
    account = load_account_file(client, account_file)
    signer = conn.signer(f"0x{account.address:040x}")
    units = parse_amount(client, asset, amount)
    held = client.balance(signer.address, asset)
    if held < units:
        raise InputError(
            f"the engine holds {tokens(client, asset, held)} {asset} for {signer.address}, "
            f"cannot withdraw {amount} {asset}"
        )
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
def close(account_file: Path, conn: Connection) -> None:
    """Close ACCOUNT: reveal its positions and salt; PnL settles against the pool."""
    client = conn.client
    account = load_account_file(client, account_file)
    signer = conn.signer(f"0x{account.address:040x}")
    before = {
        a.name: client.wallet_balance(signer.address, a.name) for a in client.deployment.assets
    }
    result = client.close(signer, account)
    events = client.engine.events(result, "AccountClosed")
    pnl = int(events[0].args["pnl"]) if events else 0
    fee = int(events[0].args["fee"]) if events else 0
    click.echo(
        f"closed: PnL {format_fixed(pnl, PNL_DECIMALS)}, close fee "
        f"{format_fixed(fee, PNL_DECIMALS)} (quote), {result.gas_used:,} gas; positions and "
        "salt are now public"
    )
    for rewarded in client.engine.events(result, "CloseRewarded"):
        paid = ", ".join(
            f"{tokens(client, a.name, int(rewarded.args['reward'][a.id]))} {a.name}"
            for a in client.deployment.assets
        )
        click.echo(f"  liquidatable: the liquidation reward came back first ({paid})")
    for info in client.deployment.assets:
        got = client.wallet_balance(signer.address, info.name) - before[info.name]
        if got:
            click.echo(f"  returned {tokens(client, info.name, got)} {info.name}")
        iou = client.pools.position(info.name, signer.address).iou
        if iou:
            click.echo(
                f"  the {info.name} pool owes {tokens(client, info.name, iou)} {info.name} "
                f"(short of funds): `zkmargin pool claim {info.name}` once it refills"
            )


@click.command()
@account_argument
@connection_options
def reclaim(account_file: Path, conn: Connection) -> None:
    """After a liquidation, reveal ACCOUNT's positions and salt (within the reclaim
    window) to get back the equity left above the penalty at the liquidation prices."""
    client = conn.client
    account = load_account_file(client, account_file)
    signer = conn.signer(f"0x{account.address:040x}")
    result = client.reclaim(signer, account)
    event = client.engine.events(result, "Reclaimed")[0]
    pnl, fee = int(event.args["pnl"]), int(event.args["fee"])
    click.echo(
        f"reclaimed: PnL {format_fixed(pnl, PNL_DECIMALS)}, close fee "
        f"{format_fixed(fee, PNL_DECIMALS)} (quote) at the liquidation prices, "
        f"{result.gas_used:,} gas; positions and salt are now public"
    )
    for info in client.deployment.assets:
        paid = int(event.args["paid"][info.id])
        if paid:
            click.echo(
                f"  the {info.name} pool pays back {tokens(client, info.name, paid)} {info.name}"
            )


@click.command(cls=SignedArgsCommand, number_arg="AMOUNT", number_what="an amount")
@click.argument("target", metavar="ACCOUNT")
@click.argument("asset")
@click.argument("amount")
@connection_options
@from_option(0)
def faucet(
    target: str,
    asset: str,
    amount: str,
    conn: Connection,
    sender: str,
) -> None:
    """Mint AMOUNT of a mock ASSET token to ACCOUNT's wallet (local deployments)."""
    client = conn.client
    address = who(client, target)
    units = parse_amount(client, asset, amount)
    client.mint(conn.signer(None, sender), address, asset, units)
    click.echo(
        f"minted {amount} {asset} to {address}: wallet "
        f"{tokens(client, asset, client.wallet_balance(address, asset))} {asset}"
    )
