"""Options and helpers shared by the on-chain commands (thin: the work is in chain).

Where the chain is: ``--deployment`` (default ``<build>/chain/deployment.json``, or
``$ZKMARGIN_DEPLOYMENT``) names the deployment file that ``zkmargin deploy`` wrote;
``--rpc-url`` (or ``$ZKMARGIN_RPC_URL``) overrides the URL it records.

Who signs: ``--key-file`` (or ``$ZKMARGIN_PRIVATE_KEY``); on anvil, without either, the
dev account whose address the account file holds (keepers and admins: ``--from``).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from chain.anvil import read_state, state_alive
from chain.client import EngineClient
from chain.deploy import Deployment, default_deployment_file
from chain.errors import ChainError
from chain.signers import Signer, resolve_signer
from zkmargin.accounts import format_address, load_account
from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.model import Account

F = TypeVar("F", bound=Callable[..., Any])
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def deployment_option(func: F) -> F:
    return click.option(
        "--deployment",
        "deployment_file",
        envvar="ZKMARGIN_DEPLOYMENT",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Deployment file written by `zkmargin deploy` "
        "[default: <build>/chain/deployment.json].",
    )(func)


def rpc_option(func: F) -> F:
    return click.option(
        "--rpc-url",
        envvar="ZKMARGIN_RPC_URL",
        default=None,
        help="JSON-RPC endpoint [default: the deployment file's, or the `chain up` chain].",
    )(func)


def key_option(func: F) -> F:
    return click.option(
        "--key-file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="File with the signer's private key (hex or JSON keystore, mode 0600). "
        "Or set ZKMARGIN_PRIVATE_KEY. Never pass a key on the command line.",
    )(func)


def from_option(default: int) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        return click.option(
            "--from",
            "sender",
            default=str(default),
            show_default=True,
            help="On anvil: the dev account (index 0..9 or address) that signs.",
        )(func)

    return wrap


@dataclass
class Connection:
    """Where the chain is and who signs, from ``--deployment``, ``--rpc-url`` and
    ``--key-file``; the client connects on first use."""

    deployment_file: Path | None
    rpc_url: str | None
    key_file: Path | None = None
    _client: EngineClient | None = None

    @property
    def client(self) -> EngineClient:
        if self._client is None:
            self._client = connect(self.deployment_file, self.rpc_url)
        return self._client

    def signer(self, address: str | None, sender: str = "0") -> Signer:
        """``--key-file``, else (on anvil) the dev account of ``address`` or ``--from``."""
        return signer_for(self.client, address, self.key_file, sender)


def _as_connection(func: F, *, with_key: bool) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        conn = Connection(
            kwargs.pop("deployment_file"),
            kwargs.pop("rpc_url"),
            kwargs.pop("key_file") if with_key else None,
        )
        return func(*args, conn=conn, **kwargs)

    return cast(F, wrapper)


def connection_options(func: F) -> F:
    """``--deployment``, ``--rpc-url``, ``--key-file``, passed on as one ``conn``."""
    return deployment_option(rpc_option(key_option(_as_connection(func, with_key=True))))


def read_options(func: F) -> F:
    """``--deployment`` and ``--rpc-url`` for commands that only read the chain."""
    return deployment_option(rpc_option(_as_connection(func, with_key=False)))


def connect(deployment_file: Path | None, rpc_url: str | None) -> EngineClient:
    deployment = Deployment.load(deployment_file or default_deployment_file())
    return EngineClient.connect(deployment, rpc_url)


def local_rpc_url(rpc_url: str | None) -> str:
    """``--rpc-url``, else the chain of ``zkmargin chain up``."""
    if rpc_url:
        return rpc_url
    state = read_state()
    if state is None or not state_alive(state):
        raise ChainError("no chain: run `zkmargin chain up` first, or give --rpc-url")
    return state.rpc_url


def signer_for(
    client: EngineClient, address: str | None, key_file: Path | None, sender: str = "0"
) -> Signer:
    dev_default: int | str = int(sender) if sender.isdigit() else sender
    return resolve_signer(
        address=address,
        key_file=key_file,
        dev_chain=client.chain.is_anvil,
        dev_default=dev_default,
    )


def load_account_file(client: EngineClient, path: Path) -> Account:
    """The private account file, its names and decimals checked against the deployment."""
    return load_account(path, client.names_data())


def who(client: EngineClient, target: str) -> str:
    """An 0x address as is, else the address inside an account file."""
    if _ADDRESS.fullmatch(target):
        return format_address(int(target, 16))
    return format_address(load_account_file(client, Path(target)).address)


def parse_amount(client: EngineClient, asset: str, amount: str) -> int:
    decimals = client.deployment.asset(asset).decimals
    return parse_fixed(amount, decimals, field="AMOUNT", bits=200, positive=True)


def tokens(client: EngineClient, asset: str, units: int) -> str:
    return format_fixed(units, client.deployment.asset(asset).decimals)


def price_text(units: int) -> str:
    return format_fixed(units, 8)


def when(now: int, at: int | None) -> str:
    """A chain timestamp relative to the chain's now, e.g. 'in 59m 59s'."""
    if at is None:
        return "never"
    delta = at - now
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return f"{'in ' + span(delta) if delta > 0 else span(-delta) + ' ago'} ({stamp})"


def span(seconds: int) -> str:
    minutes, secs = divmod(abs(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = (
        [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    )
    return " ".join([*parts, f"{secs}s"]) if secs or not parts else " ".join(parts)


def gas(result_gas: int) -> str:
    return f"{result_gas:,} gas"
