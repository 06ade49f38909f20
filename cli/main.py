"""Root of the ``zkmargin`` CLI; every subcommand lives in its own module."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from cli.sections import SectionedGroup
from zkmargin.errors import InsufficientMargin, ZkMarginError

EXIT_FAILED = 1  # the claim does not hold: insufficient margin, invalid proof
EXIT_ERROR = 2  # bad input or a tool failure (also click's usage errors)
EXIT_INTERNAL = 70


# name -> "module:object". Commands load when used, so `zkmargin prove` never imports
# web3 or py_ecc; the order and headings of `zkmargin --help` come from cli.sections.
COMMANDS: dict[str, str] = {
    "account": "cli.account:account",
    "setup": "cli.setup:setup",
    "commit": "cli.commit:commit",
    "margin": "cli.margin:margin",
    "prove": "cli.prove:prove",
    "prove-batch": "cli.batch:prove_batch",
    "verify": "cli.verify:verify",
    "serve": "cli.serve:serve",
    "demo": "cli.demo:demo",
    "chain": "cli.chain:chain",
    "time": "cli.chain:time_group",
    "deploy": "cli.deploy:deploy",
    "oracle": "cli.oracle:oracle",
    "faucet": "cli.trader:faucet",
    "deposit": "cli.trader:deposit",
    "open": "cli.trader:open_account",
    "submit": "cli.trader:submit",
    "withdraw": "cli.trader:withdraw",
    "close": "cli.trader:close",
    "reclaim": "cli.trader:reclaim",
    "portfolio": "cli.portfolio_chain:portfolio",
    "pool": "cli.pool:pool",
    "status": "cli.keeper:status",
    "flag-shock": "cli.keeper:flag_shock",
    "liquidate": "cli.keeper:liquidate",
    "stress-check": "cli.stresscheck:stress_check",
    "forecast": "cli.forecast:forecast",
    "plot": "cli.plot:plot",
    "risk": "cli.risk:risk",
    "risk-admin": "cli.risk_admin:risk_admin",
    "dashboard": "cli.dashboard:dashboard",
    "keeper": "cli.keeper_run:keeper",
    "guard": "cli.guard:guard",
}


@click.group(
    cls=SectionedGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="zkmargin")
def cli() -> None:
    """zkmargin: prove, without revealing positions, that an account meets its margin.

    DEVELOPMENT SOFTWARE: not audited; `zkmargin setup` makes development-only keys.
    """


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
