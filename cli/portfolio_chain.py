"""``zkmargin portfolio ...``: portfolio accounts (perpetuals and listed options) at the
``PortfolioEngine``, the same way the rate-based trader commands work at the engine.

Every command takes the risk file of the engine's current epoch (``-m``): it names the
markets, collateral assets and option series in id order and is checked against the
engine's listings and stored commitment before anything is proved. The engine is
``--engine`` (or ``$ZKMARGIN_PORTFOLIO_ENGINE``), else the deployment file's
``PortfolioEngine``; the chain is ``--rpc-url``, else the deployment file's, else the
`zkmargin chain up` chain. Signing as in the trader commands: ``--key-file`` /
``$ZKMARGIN_PRIVATE_KEY``, or on anvil the dev account of the account file's address
(keepers and the publisher: ``--from``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from chain.deploy import Deployment, default_deployment_file
from chain.portfolio import PNL_DECIMALS, PortfolioClient, ProofTx
from chain.signers import Signer, resolve_signer
from cli.chainopts import deployment_option, from_option, key_option, local_rpc_url, rpc_option
from cli.common import account_argument
from cli.sections import WholeLinesGroup
from prover.prove import Prover
from zkmargin.accounts import format_address
from zkmargin.amounts import format_fixed, parse_fixed, shorten
from zkmargin.errors import InputError
from zkmargin.jsonio import PRIVATE, write_json
from zkmargin.portfolio import (
    PortfolioAccount,
    load_portfolio_account,
    portfolio_account_to_json,
)
from zkmargin.portfolio_encoding import portfolio_commitment
from zkmargin.riskfile import RiskFile, load_risk_file
from zkmargin.units import PRICE_DECIMALS

F = TypeVar("F", bound=Callable[..., Any])
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
ENGINE_ENV = "ZKMARGIN_PORTFOLIO_ENGINE"
MODES = {0: "maintenance", 1: "initial", 3: "withdrawal", 5: "opening"}


@dataclass
class PortfolioConnection:
    """The engine, the chain, the signer's key file and the risk file, from the options;
    the client connects on first use."""

    deployment_file: Path | None
    rpc_url: str | None
    engine: str | None
    key_file: Path | None
    risk_file: Path
    _client: PortfolioClient | None = None
    _risk: RiskFile | None = None

    @property
    def client(self) -> PortfolioClient:
        if self._client is None:
            self._client = _connect(self.deployment_file, self.rpc_url, self.engine)
        return self._client

    @property
    def risk(self) -> RiskFile:
        if self._risk is None:
            self._risk = load_risk_file(self.risk_file)
        return self._risk

    def signer(self, address: str | None, sender: str = "0") -> Signer:
        return resolve_signer(
            address=address,
            key_file=self.key_file,
            dev_chain=self.client.chain.is_anvil,
            dev_default=int(sender) if sender.isdigit() else sender,
        )

    def account(self, path: Path) -> PortfolioAccount:
        return load_portfolio_account(path, self.risk)

    def asset(self, name: str) -> int:
        """An asset id by its risk-file name (the risk file lists assets in id order)."""
        names = list(self.risk.collateral)
        if name not in names:
            raise InputError(
                f"ASSET: unknown asset {shorten(name)} (the risk file lists {', '.join(names)})"
            )
        return names.index(name)

    def units(self, asset: str, amount: str) -> int:
        decimals = self.risk.collateral[asset].decimals
        return parse_fixed(amount, decimals, field="AMOUNT", bits=200, positive=True)

    def tokens(self, asset: int, units: int) -> str:
        name = list(self.risk.collateral)[asset]
        return f"{format_fixed(units, self.risk.collateral[name].decimals)} {name}"


def _connect(
    deployment_file: Path | None, rpc_url: str | None, engine: str | None
) -> PortfolioClient:
    deployment = None
    path = deployment_file or default_deployment_file()
    if path.exists():
        deployment = Deployment.load(path)
    if engine is None:
        engine = deployment.contracts.get("PortfolioEngine") if deployment else None
        if engine is None:
            raise InputError(
                f"no portfolio engine: give --engine ADDRESS (or ${ENGINE_ENV}); "
                "the deployment file names none"
            )
    elif not _ADDRESS.fullmatch(engine):
        raise InputError(
            f"--engine: expected a 0x-prefixed 20-byte hex address, got {shorten(engine)}"
        )
    url = rpc_url or (deployment.rpc_url if deployment else None) or local_rpc_url(None)
    return PortfolioClient.connect(url, engine)


def portfolio_options(func: F) -> F:
    """``-m``, ``--engine``, ``--deployment``, ``--rpc-url``, ``--key-file`` as one ``conn``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conn = PortfolioConnection(
            kwargs.pop("deployment_file"),
            kwargs.pop("rpc_url"),
            kwargs.pop("engine"),
            kwargs.pop("key_file"),
            kwargs.pop("risk_file"),
        )
        return func(*args, conn=conn, **kwargs)

    wrapped = cast(F, wrapper)
    wrapped = click.option(
        "--risk-file",
        "-m",
        "risk_file",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="The risk file of the engine's current epoch (names in id order).",
    )(wrapped)
    wrapped = click.option(
        "--engine",
        envvar=ENGINE_ENV,
        default=None,
        help="PortfolioEngine address [default: the deployment file's].",
    )(wrapped)
    return deployment_option(rpc_option(key_option(wrapped)))


def _who(conn: PortfolioConnection, target: str) -> str:
    if _ADDRESS.fullmatch(target):
        return format_address(int(target, 16))
    return format_address(conn.account(Path(target)).address)


def _proof_line(tx: ProofTx, what: str) -> str:
    return (
        f"{what}: portfolio proof in {tx.prove_seconds:.2f} s, "
        f"{tx.result.gas_used:,} gas (block {tx.result.block_number})"
    )


@click.group(cls=WholeLinesGroup)
def portfolio() -> None:
    """Portfolio accounts (perpetuals and options) at the PortfolioEngine."""


@portfolio.command()
@click.argument("target", metavar="ACCOUNT")
@click.argument("asset")
@click.argument("amount")
@portfolio_options
def deposit(target: str, asset: str, amount: str, conn: PortfolioConnection) -> None:
    """Deposit AMOUNT of ASSET (in tokens, like 2000.5) for ACCOUNT (file or address)."""
    asset_id, units = conn.asset(asset), conn.units(asset, amount)
    address = _who(conn, target)
    client = conn.client
    have = client.wallet_balance(address, asset_id)
    if have < units:
        raise InputError(
            f"{address} holds {conn.tokens(asset_id, have)} in its wallet, cannot deposit "
            f"{amount} {asset}"
        )
    approve, result = client.deposit(conn.signer(address), asset_id, units)
    click.echo(
        f"deposited {amount} {asset} for {address}: engine balance "
        f"{conn.tokens(asset_id, client.balance(address, asset_id))} "
        f"({approve.gas_used:,} gas approve + {result.gas_used:,} gas deposit)"
    )


def pending_file(account_file: Path) -> Path:
    """Where ``open`` keeps the planned account until the opening transaction is mined."""
    return account_file.with_name(account_file.name + ".opening")


@portfolio.command("open")
@account_argument
@portfolio_options
def open_account(account_file: Path, conn: PortfolioConnection) -> None:
    """Open ACCOUNT with an opening proof (initial margin, every entry at its mark).

    Each perpetual's entry becomes the oracle price and each option's the epoch's mark;
    the salt is drawn afresh. ACCOUNT changes only once the transaction is mined: until
    then the plan waits in ACCOUNT.opening (mode 0600); if opening fails, ACCOUNT is
    untouched.
    """
    account = conn.account(account_file)
    address = format_address(account.address)
    pending = pending_file(account_file)
    if pending.exists():
        raise InputError(
            f"{pending} exists: an earlier `open` did not finish. If `zkmargin portfolio "
            f"status {address}` shows an open account, that file holds its salt: move it "
            f"over {account_file}; otherwise delete it"
        )
    client = conn.client
    signer = conn.signer(address)
    if not any(client.balances(address)):
        raise InputError(
            f"{address} has no collateral at the portfolio engine; deposit first, e.g. "
            f"`zkmargin portfolio deposit {account_file} {next(iter(conn.risk.collateral))} "
            "2000 -m RISK`"
        )
    planned = client.plan_open(account, conn.risk)
    expected = portfolio_commitment(planned, conn.risk)
    write_json(pending, portfolio_account_to_json(planned), mode=PRIVATE)
    try:
        tx = client.open(signer, planned, conn.risk, Prover())
    except BaseException:
        try:
            state = client.account_state(address)
        except Exception:  # the chain is unreachable: never delete what may be the only salt
            click.echo(f"note: kept {pending}; check `zkmargin portfolio status`", err=True)
            raise
        if state.open and state.commitment == expected:
            os.replace(pending, account_file)
            click.echo(f"note: the account did open; {account_file} updated", err=True)
        else:
            pending.unlink(missing_ok=True)
        raise
    os.replace(pending, account_file)
    entries = ", ".join(
        f"{p.instrument} {format_fixed(p.entry, PRICE_DECIMALS)}" for p in planned.positions
    )
    click.echo(_proof_line(tx, "opened portfolio account"))
    click.echo(
        f"updated {account_file}: entries at the marks ({entries or 'no positions'}), fresh "
        "salt (mode 0600)"
    )
    click.echo(f"the engine stores commitment {expected}; positions and salt stay in the file")


@portfolio.command()
@account_argument
@portfolio_options
def submit(account_file: Path, conn: PortfolioConnection) -> None:
    """Prove ACCOUNT's maintenance margin at the current prices and risk epoch."""
    account = conn.account(account_file)
    signer = conn.signer(format_address(account.address))
    tx = conn.client.prove_margin(signer, account, conn.risk, Prover())
    nonce = tx.bundle.public_signals[6] >> 160
    click.echo(_proof_line(tx, f"maintenance margin proven (nonce {nonce})"))


@portfolio.command()
@account_argument
@click.argument("asset")
@click.argument("amount")
@portfolio_options
def withdraw(account_file: Path, asset: str, amount: str, conn: PortfolioConnection) -> None:
    """Withdraw AMOUNT of ASSET, proving the rest meets initial margin with no unrealized
    gain counted (no proof if no account is open)."""
    asset_id, units = conn.asset(asset), conn.units(asset, amount)
    account = conn.account(account_file)
    signer = conn.signer(format_address(account.address))
    client = conn.client
    held = client.balance(signer.address, asset_id)
    if held < units:
        raise InputError(
            f"the portfolio engine holds {conn.tokens(asset_id, held)} for {signer.address}, "
            f"cannot withdraw {amount} {asset}"
        )
    result = client.withdraw(signer, account, conn.risk, asset_id, units, Prover())
    if isinstance(result, ProofTx):
        click.echo(_proof_line(result, f"withdrew {amount} {asset}"))
    else:
        click.echo(
            f"withdrew {amount} {asset} (no open account: no proof), {result.gas_used:,} gas"
        )
    click.echo(f"engine balance {conn.tokens(asset_id, client.balance(signer.address, asset_id))}")


@portfolio.command()
@account_argument
@portfolio_options
def close(account_file: Path, conn: PortfolioConnection) -> None:
    """Close ACCOUNT: reveal its positions and salt; perpetuals settle at the oracle price,
    options from the epoch's mark moved by δ since publication (a short also pays its gamma
    charge; intrinsic once settled), less the close fee."""
    account = conn.account(account_file)
    signer = conn.signer(format_address(account.address))
    client = conn.client
    count = len(conn.risk.collateral)
    before = [client.wallet_balance(signer.address, c) for c in range(count)]
    result = client.close(signer, account, conn.risk)
    (event,) = client.engine.events(result, "AccountClosed")
    click.echo(
        f"closed: PnL {format_fixed(int(event.args['pnl']), PNL_DECIMALS)}, close fee "
        f"{format_fixed(int(event.args['fee']), PNL_DECIMALS)} (quote), {result.gas_used:,} "
        "gas; positions and salt are now public"
    )
    for rewarded in client.engine.events(result, "CloseRewarded"):
        paid = ", ".join(conn.tokens(c, int(rewarded.args["reward"][c])) for c in range(count))
        click.echo(f"  liquidatable: the liquidation reward came back first ({paid})")
    for c in range(count):
        got = client.wallet_balance(signer.address, c) - before[c]
        if got:
            click.echo(f"  returned {conn.tokens(c, got)}")


@portfolio.command()
@account_argument
@portfolio_options
def reclaim(account_file: Path, conn: PortfolioConnection) -> None:
    """After a liquidation, reveal ACCOUNT's positions and salt (within the reclaim
    window) to get back the equity left above the penalty at the liquidation prices."""
    account = conn.account(account_file)
    signer = conn.signer(format_address(account.address))
    result = conn.client.reclaim(signer, account, conn.risk)
    (event,) = conn.client.engine.events(result, "Reclaimed")
    click.echo(
        f"reclaimed: PnL {format_fixed(int(event.args['pnl']), PNL_DECIMALS)}, close fee "
        f"{format_fixed(int(event.args['fee']), PNL_DECIMALS)} (quote), {result.gas_used:,} gas"
    )


@portfolio.command()
@click.argument("target", metavar="ACCOUNT")
@portfolio_options
def status(target: str, conn: PortfolioConnection) -> None:
    """ACCOUNT's portfolio account (file or address): commitment, nonce, balances, flags."""
    address = _who(conn, target)
    client = conn.client
    state = client.account_state(address)
    balances = ", ".join(conn.tokens(c, b) for c, b in enumerate(client.balances(address)))
    if not state.open:
        click.echo(f"{address}: no open portfolio account (nonce {state.nonce}); held {balances}")
        return
    click.echo(
        f"{address}: open, commitment {str(state.commitment)[:12]}…, nonce {state.nonce}, "
        f"last proof {MODES.get(state.mode, state.mode)} under risk epoch {state.epoch}; "
        f"held {balances}"
    )
    click.echo(
        f"flaggable {'yes' if client.flaggable(address) else 'no'}, liquidatable "
        f"{'yes' if client.liquidatable(address) else 'no'}"
    )


@portfolio.command()
@click.argument("target", metavar="ACCOUNT")
@portfolio_options
@from_option(0)
def flag(target: str, conn: PortfolioConnection, sender: str) -> None:
    """Flag ACCOUNT (file or address) when the current prices left its proven move set
    shrunk by the penalty; it then has its grace period to prove again."""
    address = _who(conn, target)
    result = conn.client.flag(conn.signer(None, sender), address)
    click.echo(f"flagged {address}, {result.gas_used:,} gas")


@portfolio.command()
@click.argument("target", metavar="ACCOUNT")
@portfolio_options
@from_option(0)
def liquidate(target: str, conn: PortfolioConnection, sender: str) -> None:
    """Liquidate ACCOUNT (file or address) after its grace period or lapse."""
    address = _who(conn, target)
    result = conn.client.liquidate(conn.signer(None, sender), address)
    click.echo(f"liquidated {address}, {result.gas_used:,} gas")


@portfolio.command("publish-risk")
@portfolio_options
@from_option(0)
def publish_risk(conn: PortfolioConnection, sender: str) -> None:
    """Publish the risk file (-m) as a new risk epoch (the publisher signs)."""
    client = conn.client
    result = client.publish_risk(conn.signer(None, sender), conn.risk)
    click.echo(
        f"published risk epoch {client.risk_epoch()} (commitment "
        f"{str(client.epoch_commitment())[:12]}…), {result.gas_used:,} gas"
    )


@portfolio.command("settle-series")
@click.argument("series")
@click.option(
    "--round", "round_id", type=int, default=None, help="The feed round [default: found]."
)
@portfolio_options
@from_option(0)
def settle_series(
    series: str, round_id: int | None, conn: PortfolioConnection, sender: str
) -> None:
    """Settle SERIES (its risk-file name) after expiry at the underlying feed's first round
    at or after the expiry (anyone may)."""
    names = list(conn.risk.options)
    if series not in names:
        raise InputError(
            f"SERIES: unknown option series {shorten(series)} (the risk file lists "
            f"{', '.join(names) or 'none'})"
        )
    j = names.index(series)
    result = conn.client.settle_series(conn.signer(None, sender), j, round_id)
    (event,) = conn.client.engine.events(result, "SeriesSettled")
    click.echo(
        f"settled {series} at {format_fixed(int(event.args['price']), PRICE_DECIMALS)} (round "
        f"{int(event.args['roundId'])}), {result.gas_used:,} gas; publish its settlement in "
        "the next risk epoch"
    )


__all__ = ["portfolio"]
