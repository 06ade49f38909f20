"""``zkmargin account new``: a fresh private account file."""

from __future__ import annotations

from pathlib import Path

import click

from zkmargin.accounts import (
    load_market_data,
    new_account,
    parse_account,
    parse_address,
    save_account,
)
from zkmargin.amounts import shorten
from zkmargin.errors import InputError


@click.group()
def account() -> None:
    """Private account files."""


@account.command("new")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--address", help="The trader's EVM address (default: a random one).")
@click.option(
    "--collateral",
    "collateral",
    multiple=True,
    metavar="ASSET=AMOUNT",
    help="Collateral deposit, e.g. USDC=10000 (repeatable).",
)
@click.option(
    "--position",
    "positions",
    multiple=True,
    metavar="MARKET:SIDE:SIZE@ENTRY",
    help="A position, e.g. ETH-USD:long:5@2000 (repeatable).",
)
@click.option(
    "--market-file",
    "-m",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Check names and token decimals against this market file.",
)
def new(
    path: Path,
    address: str | None,
    collateral: tuple[str, ...],
    positions: tuple[str, ...],
    market_file: Path | None,
) -> None:
    """Write a new private account file at PATH (mode 0600, never overwritten)."""
    raw = {
        "account": address or "0x" + f"{new_account().address:040x}",
        "salt": "1",
        "collateral": _collateral(collateral),
        "positions": [_position(item) for item in positions],
    }
    if address is not None:
        parse_address(address, "--address")
    data = load_market_data(market_file) if market_file else None
    parsed = parse_account(raw, data, "new account")
    fresh = new_account(parsed.address, parsed.collateral, parsed.positions)
    save_account(path, fresh)
    click.echo(f"wrote {path} (mode 0600); keep it secret: it opens your commitment")


def _split(item: str, sep: str, option: str, form: str) -> tuple[str, str]:
    left, found, right = item.partition(sep)
    if not found or not left or not right:
        raise InputError(f"{option}: expected {form}, got {shorten(item)}")
    return left, right


def _collateral(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        asset, amount = _split(item, "=", "--collateral", "ASSET=AMOUNT")
        if asset in out:
            raise InputError(f"--collateral: asset {asset!r} given twice")
        out[asset] = amount
    return out


def _position(item: str) -> dict[str, str]:
    head, entry = _split(item, "@", "--position", "MARKET:SIDE:SIZE@ENTRY")
    parts = head.split(":")
    if len(parts) != 3:
        raise InputError(f"--position: expected MARKET:SIDE:SIZE@ENTRY, got {shorten(item)}")
    market, side, size = parts
    return {"market": market, "side": side, "size": size, "entry_price": entry}
