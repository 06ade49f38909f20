"""``zkmargin account new``: a fresh private account file.

Names are checked when the account is written, not first at ``open``: against the
market file (``-m``), else against the deployment file when one is at hand
(``--deployment``, ``$ZKMARGIN_DEPLOYMENT`` or the default ``zkmargin deploy`` writes).
The file holds the salt that opens the trader's commitment, so a name git would track
draws a one-line warning.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from chain.deploy import Deployment, default_deployment_file
from cli.chainopts import deployment_option
from cli.sections import WholeLinesGroup
from zkmargin.accounts import (
    load_market_data,
    new_account,
    parse_account,
    parse_address,
    save_account,
)
from zkmargin.amounts import shorten
from zkmargin.errors import InputError
from zkmargin.model import CollateralParams, MarketData, MarketParams
from zkmargin.units import Bps, Price

PRIVATE_SUFFIX = ".account.json"  # what the repository's .gitignore keeps out of git
GIT_TIMEOUT = 10.0


@click.group(cls=WholeLinesGroup)
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
    help="Check names and token decimals against this market file "
    "[default: against the deployment file, if there is one].",
)
@deployment_option
def new(
    path: Path,
    address: str | None,
    collateral: tuple[str, ...],
    positions: tuple[str, ...],
    market_file: Path | None,
    deployment_file: Path | None,
) -> None:
    """Write a new private account file at PATH (mode 0600, never overwritten).

    Name it *.account.json: git ignores that suffix here, and the file is a secret.
    """
    coll = _collateral(collateral)
    legs = [_position(item) for item in positions]
    raw = {
        "account": address or "0x" + f"{new_account().address:040x}",
        "salt": "1",
        "collateral": coll,
        "positions": legs,
    }
    if address is not None:
        parse_address(address, "--address")
    parse_account(raw, None, "new account")  # the shape and the numbers first
    data, source = _names_source(market_file, deployment_file)
    if data is not None:
        _check_names(legs, coll, data, source)
    parsed = parse_account(raw, data, "new account")  # now also token decimals
    fresh = new_account(parsed.address, parsed.collateral, parsed.positions)
    save_account(path, fresh)
    click.echo(f"wrote {path} (mode 0600); keep it secret: it opens your commitment")
    if data is None and (collateral or positions):
        click.echo("note: names not checked (no -m market file and no deployment file)", err=True)
    if git_would_track(path):
        click.echo(
            f"warning: git would track {path}, which holds your salt; name it "
            f"*{PRIVATE_SUFFIX} or add it to .gitignore",
            err=True,
        )


def _names_source(
    market_file: Path | None, deployment_file: Path | None
) -> tuple[MarketData | None, str]:
    """The names to check against: the market file, else a deployment file at hand."""
    if market_file is not None:
        return load_market_data(market_file), f"market file {market_file}"
    path = deployment_file or default_deployment_file()
    if not path.exists():  # accounts are often made before anything is deployed
        return None, ""
    deployment = Deployment.load(path)
    names = [*(m.name for m in deployment.markets), *(a.name for a in deployment.assets)]
    data = MarketData(
        markets={m.name: MarketParams(Bps(1), Bps(1)) for m in deployment.markets},
        collateral={a.name: CollateralParams(Bps(0), a.decimals) for a in deployment.assets},
        prices={name: Price(1) for name in names},
    )
    return data, f"deployment file {path}"


def _check_names(
    positions: list[dict[str, str]], collateral: dict[str, str], data: MarketData, source: str
) -> None:
    """The first unknown name, in one line listing the known ones (and the likely one)."""
    for item in positions:
        _known(item["market"], list(data.markets), "--position", "market", source)
    for asset in collateral:
        _known(asset, list(data.collateral), "--collateral", "asset", source)


def _known(name: str, listed: list[str], option: str, kind: str, source: str) -> None:
    if name in listed:
        return
    close = [known for known in listed if known.lower() == name.lower()]
    hint = f"; did you mean {close[0]}?" if close else ""
    raise InputError(
        f"{option}: unknown {kind} {shorten(name)} (the {source} lists {', '.join(listed)}){hint}"
    )


def git_would_track(path: Path) -> bool:
    """True when PATH lies in a git work tree and no ignore rule covers it.

    False outside a work tree, and when git is missing or fails: the warning is a
    courtesy, never a reason to fail.
    """
    where = path.resolve()
    try:
        inside = subprocess.run(
            ["git", "rev-parse", "--is-inside-work-tree"],
            cwd=where.parent,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", "--", str(where)],
            cwd=where.parent,
            capture_output=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return ignored.returncode == 1  # 0: ignored, 1: not ignored, 128: error


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
