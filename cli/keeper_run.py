"""``zkmargin keeper run``: the keeper daemon (flag accounts that left their proven set,
liquidate the ones past grace or lapse, keep volatility-driven margin current); the work
is in :mod:`chain.keeper`."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import click

from cli.chainopts import Connection, connection_options, from_option
from cli.sections import WholeLinesGroup


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` (the loop finishes its step and exits cleanly)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"{signal.Signals(signum).name}: stopping after this step", err=True)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def default_state(kind: str, engine: str) -> Path:
    from chain.anvil import chain_dir

    return chain_dir() / f"{kind}-{engine[2:10].lower()}.json"


def echo(line: str) -> None:
    click.echo(line)


@click.group(cls=WholeLinesGroup)
def keeper() -> None:
    """Keeper daemon: flag accounts whose prices left their proven set, liquidate the lapsed."""


@keeper.command("run")
@connection_options
@from_option(0)
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Seconds between two loops.",
)
@click.option(
    "--max-gas",
    type=click.IntRange(21_000),
    default=500_000,
    show_default=True,
    help="Gas limit cap per transaction (a flag or liquidation needing more is skipped).",
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Extra addresses to watch, one a line.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="State file (cursor, sent transactions, metrics) "
    "[default: <build>/chain/keeper-<engine>.json].",
)
@click.option(
    "--metrics-every",
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="Loops between two metrics lines.",
)
@click.option(
    "--risk-sync/--no-risk-sync",
    default=True,
    show_default=True,
    help="Fold new oracle rounds into the VolatilityMonitor and raise margin through "
    "RiskGovernor.syncMargin when volatility asks for it (docs/risk.md).",
)
@click.option(
    "--push-prices/--no-push-prices",
    default=False,
    show_default=True,
    help="Send pushPrices ahead of proofs waiting in the node's pool (once a block, at a "
    "higher gas price): they then read the engine's price cache instead of the oracle "
    '(docs/protocol.md, "Price cache"). The keeper pays each push (~111k gas).',
)
@click.option(
    "--portfolio/--no-portfolio",
    default=True,
    show_default=True,
    help="Also flag and liquidate the accounts of the deployment's PortfolioEngine "
    "(a deployment without one: nothing to do).",
)
@click.option("--max-iterations", type=click.IntRange(1), default=None, hidden=True)
def run(
    conn: Connection,
    sender: str,
    interval: float,
    max_gas: int,
    accounts_file: Path | None,
    state_file: Path | None,
    metrics_every: int,
    risk_sync: bool,
    push_prices: bool,
    portfolio: bool,
    max_iterations: int | None,
) -> None:
    """Watch every account the engine knows; flag and liquidate, until SIGINT or SIGTERM.

    Restart-safe: the last block scanned and every transaction sent are kept in the
    state file, so a restarted keeper neither rescans from the start nor sends twice.
    Each loop also updates the volatility monitor on a new oracle round and syncs a
    market's margin when its volatility target is above its rates (--no-risk-sync: not),
    and keeps the deployment's PortfolioEngine accounts too (--no-portfolio: not).
    """
    from chain.keeper import Keeper, KeeperConfig, read_accounts_file

    client = conn.client
    signer = conn.signer(None, sender)
    extra = tuple(read_accounts_file(accounts_file)) if accounts_file else ()
    config = KeeperConfig(
        state_file=state_file or default_state("keeper", client.deployment.engine),
        interval=interval,
        max_gas=max_gas,
        metrics_every=metrics_every,
        extra_accounts=extra,
        risk_sync=risk_sync,
        push_prices=push_prices,
        portfolio=portfolio,
    )
    stop = threading.Event()
    daemon = Keeper(client, signer, config, log=echo, stop=stop)
    with stop_on_signals(stop):
        daemon.run(max_iterations)
