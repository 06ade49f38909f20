"""Root of the ``zkmargin`` CLI; every subcommand lives in its own module."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from cli.account import account
from cli.chain import chain, time_group
from cli.commit import commit
from cli.demo import demo
from cli.deploy import deploy
from cli.keeper import flag_shock, liquidate, status
from cli.margin import margin
from cli.oracle import oracle
from cli.prove import prove
from cli.setup import setup
from cli.trader import close, deposit, faucet, open_account, submit, withdraw
from cli.verify import verify
from zkmargin.errors import InsufficientMargin, ZkMarginError

EXIT_FAILED = 1  # the claim does not hold: insufficient margin, invalid proof
EXIT_ERROR = 2  # bad input or a tool failure (also click's usage errors)
EXIT_INTERNAL = 70


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zkmargin")
def cli() -> None:
    """zkmargin: prove, without revealing positions, that an account meets its margin.

    DEVELOPMENT SOFTWARE: not audited; `zkmargin setup` makes development-only keys.
    """


for command in (account, setup, commit, margin, prove, verify, demo):
    cli.add_command(command)

# On-chain commands (chain): a local anvil, deployment, trader and keeper actions.
for command in (
    chain,
    time_group,
    deploy,
    oracle,
    faucet,
    deposit,
    open_account,
    submit,
    withdraw,
    close,
    status,
    flag_shock,
    liquidate,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: one line per error, no traceback unless ZKMARGIN_DEBUG=1."""
    try:
        return cli.main(args=argv, prog_name="zkmargin", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except InsufficientMargin as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except ZkMarginError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except Exception as exc:
        if os.environ.get("ZKMARGIN_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} (ZKMARGIN_DEBUG=1 shows more)", err=True
        )
        sys.exit(EXIT_INTERNAL)
