"""``zkmargin guard``: keep a trader's accounts proven before anyone can flag or liquidate
them; the work is in :mod:`chain.guardian`."""

from __future__ import annotations

import threading
from pathlib import Path

import click

from cli.chainopts import Connection, connection_options, load_account_file, parse_amount
from cli.guardvol import explicit_vols, history_risk, vol_options
from cli.keeper_run import default_state, echo, stop_on_signals
from zkmargin.errors import InputError


def _pairs(values: tuple[str, ...], option: str) -> list[tuple[str, str]]:
    out = []
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputError(f"{option}: {item!r} is not NAME=VALUE")
        out.append((name.strip(), value.strip()))
    return out


@click.command()
@click.argument(
    "accounts",
    metavar="ACCOUNT [ACCOUNT...]",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
)
@connection_options
@click.option(
    "--top-up-limit",
    "top_up",
    multiple=True,
    metavar="ASSET=AMOUNT",
    help="Deposit at most AMOUNT of ASSET from the wallet (in total, across "
    "restarts) when an account cannot prove. Repeatable. Default: never top up.",
)
@click.option(
    "--reprove-before",
    default="5%",
    show_default=True,
    metavar="PROB",
    help="Re-prove when the chance of leaving the proven set within the next "
    "proving time plus the block margin exceeds PROB (5% or 0.05).",
)
@vol_options
@click.option(
    "--interval",
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Seconds between two loops.",
)
@click.option(
    "--block-margin",
    type=click.FloatRange(0),
    default=24.0,
    show_default=True,
    help="Seconds added to the proving time for the transaction to be mined.",
)
@click.option(
    "--oracle-lag",
    default="0.5%",
    show_default=True,
    metavar="MOVE",
    help="How far an oracle answer may trail the market (the feeds' deviation "
    "threshold): re-prove as if the edge of the proven set were that much nearer.",
)
@click.option(
    "--lapse-margin",
    type=click.FloatRange(0),
    default=600.0,
    show_default=True,
    help="Re-prove at least this many seconds before the proof lapses.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="State file (in-flight proofs, top-ups spent; mode 0600) "
    "[default: <build>/chain/guard-<engine>.json].",
)
@click.option("--backend", default=None, help="Proving backend [default: the fastest installed].")
@click.option("--max-iterations", type=click.IntRange(1), default=None, hidden=True)
def guard(
    accounts: tuple[Path, ...],
    conn: Connection,
    top_up: tuple[str, ...],
    reprove_before: str,
    daily_vol: tuple[str, ...],
    history_file: Path | None,
    series_pairs: tuple[str, ...],
    vol_model: str,
    observe_every: float,
    interval: float,
    block_margin: float,
    oracle_lag: str,
    lapse_margin: float,
    state_file: Path | None,
    backend: str | None,
    max_iterations: int | None,
) -> None:
    """Keep ACCOUNT(s) proven: re-prove when flagged, before the lapse, and before prices
    are likely to leave the proven set; top up within a limit when one cannot prove.

    Runs until SIGINT or SIGTERM; one line per action.
    """
    from chain.guardian import GuardConfig, Guarded, Guardian
    from prover.prove import Prover
    from zkmargin.forecast import parse_percent

    client = conn.client
    dep = client.deployment
    limits = {}
    for asset, amount in _pairs(top_up, "--top-up-limit"):
        dep.asset(asset)  # refuses an unknown asset
        limits[asset] = parse_amount(client, asset, amount)
    vols = explicit_vols(dep, _pairs(daily_vol, "--daily-vol"))
    if series_pairs and history_file is None:
        raise InputError("--series: needs --history")
    feed_risk = (
        None
        if history_file is None
        else history_risk(dep, history_file, _pairs(series_pairs, "--series"), vol_model)
    )
    guarded = []
    for path in accounts:
        account = load_account_file(client, path)
        address = f"0x{account.address:040x}"
        guarded.append(Guarded(account, conn.signer(address)))
    config = GuardConfig(
        state_file=state_file or default_state("guard", dep.engine),
        reprove_before=parse_percent(reprove_before, "--reprove-before"),
        top_up_limits=limits,
        daily_vol=vols,
        feed_risk=feed_risk,
        observe_every_s=observe_every,
        interval=interval,
        block_margin_s=block_margin,
        lapse_margin_s=lapse_margin,
        oracle_lag=parse_percent(oracle_lag, "--oracle-lag"),
    )
    stop = threading.Event()
    with Prover(backend=backend) as prover:
        daemon = Guardian(client, prover, guarded, config, log=echo, stop=stop)
        with stop_on_signals(stop):
            daemon.run(max_iterations)
