"""``zkmargin margin``: the reference model's numbers, without proving anything."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import account_argument, load_inputs, market_option, mode_option
from zkmargin.model import Mode, evaluate


@click.command()
@account_argument
@market_option
@mode_option
def margin(account_file: Path, market_file: Path, mode: str) -> None:
    """Print equity and requirement of ACCOUNT at the market file's prices (quote units)."""
    account, data = load_inputs(account_file, market_file)
    report = evaluate(account, data, Mode(mode))
    click.echo(f"equity       {report.equity_display()}")
    click.echo(f"requirement  {report.requirement_display()}  ({mode})")
    click.echo("solvent" if report.solvent else "INSUFFICIENT MARGIN")
