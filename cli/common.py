"""Options and loaders shared by several subcommands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zkmargin.accounts import load_account, load_market_data, parse_address
from zkmargin.encoding import Binding
from zkmargin.model import Account, MarketData, Mode

F = TypeVar("F", bound=Callable[..., Any])

account_argument = click.argument(
    "account_file", metavar="ACCOUNT", type=click.Path(path_type=Path, dir_okay=False)
)
market_option = click.option(
    "--market-file",
    "-m",
    "market_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON file with risk parameters and oracle prices.",
)
circuit_option = click.option(
    "--circuit",
    type=click.Choice(["auto", "isolated", "cross"]),
    default="auto",
    show_default=True,
    help="Circuit instance; auto picks isolated when the account fits it.",
)


def binding_options(func: F) -> F:
    """--chain-id, --engine, --nonce: where the proof may be used."""
    func = click.option(
        "--nonce",
        type=click.IntRange(0, 2**64 - 1),
        default=0,
        show_default=True,
        help="The account's proof nonce at the engine.",
    )(func)
    func = click.option(
        "--engine",
        default="0x" + "00" * 20,
        show_default=True,
        help="Engine contract address the proof is bound to.",
    )(func)
    func = click.option(
        "--chain-id",
        type=click.IntRange(0, 2**64 - 1),
        default=31337,
        show_default=True,
        help="Chain id the proof is bound to.",
    )(func)
    return func


def make_binding(chain_id: int, engine: str, nonce: int) -> Binding:
    return Binding(chain_id=chain_id, engine=parse_address(engine, "--engine"), nonce=nonce)


def load_inputs(account_file: Path, market_file: Path) -> tuple[Account, MarketData]:
    data = load_market_data(market_file)
    return load_account(account_file, data), data


def circuit_choice(value: str) -> str | None:
    return None if value == "auto" else value


def parse_mode(value: str) -> Mode:
    return Mode(value)


mode_option = click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.MAINTENANCE.value,
    show_default=True,
    help="maintenance uses each market's MMR, initial its IMR.",
)
