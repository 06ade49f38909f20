"""``zkmargin chain up|down|status|accounts`` and ``zkmargin time advance``: a local anvil."""

from __future__ import annotations

import time
from pathlib import Path

import click

from chain.anvil import (
    default_state_file,
    read_state,
    rpc_answers,
    start_persistent,
    state_alive,
    stop_persistent,
)
from chain.deploy import Deployment, default_deployment_file
from chain.errors import ChainError
from chain.rpc import Chain
from chain.signers import dev_signers
from cli.chainopts import deployment_option, local_rpc_url, rpc_option, span
from cli.sections import WholeLinesGroup
from cli.values import SignedArgsCommand

# What the dev accounts are used for by `deploy` and `demo` (anvil's default mnemonic).
DEV_ROLES = {
    0: "deployer, timelock proposer, risk publisher, oracle admin",
    1: "trader (demo: Alice)",
    2: "trader (demo: Bob)",
    3: "keeper (demo)",
}

state_option = click.option(
    "--state-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where the running chain is recorded [default: <build>/chain/anvil.json].",
)


@click.group(cls=WholeLinesGroup)
def chain() -> None:
    """A local anvil chain that outlives the command (development only)."""


@chain.command("up")
@state_option
def up(state_file: Path | None) -> None:
    """Start anvil on a free port (unless one is already recorded and running)."""
    path = state_file or default_state_file()
    before = read_state(path)
    state = start_persistent(path)
    if before is not None and before.pid == state.pid:
        click.echo(f"already running: {state.rpc_url} (pid {state.pid})")
    else:
        click.echo(f"anvil running: {state.rpc_url} (pid {state.pid}, chain id {state.chain_id})")
    click.echo(f"state in {path}; stop it with `zkmargin chain down`")


@chain.command("down")
@state_option
@deployment_option
def down(state_file: Path | None, deployment_file: Path | None) -> None:
    """Stop the anvil that `chain up` started (SIGTERM, then SIGKILL)."""
    path = state_file or default_state_file()
    state = stop_persistent(path)
    if state is None:
        click.echo("no chain recorded; nothing to stop")
        return
    click.echo(f"stopped anvil pid {state.pid} ({state.rpc_url})")
    deployment = deployment_file or default_deployment_file()
    if deployment.exists():
        click.echo(f"note: {deployment} describes contracts on that chain; deploy again after up")


@chain.command("status")
@state_option
@deployment_option
def status(state_file: Path | None, deployment_file: Path | None) -> None:
    """Is the recorded chain running and answering? What is deployed?"""
    path = state_file or default_state_file()
    state = read_state(path)
    if state is None:
        click.echo("no chain recorded (`zkmargin chain up` starts one)")
        return
    if not state_alive(state):
        click.echo(f"not running: pid {state.pid} is gone (stale {path}; `chain up` restarts)")
        return
    chain_id = rpc_answers(state.rpc_url)
    if chain_id is None:
        click.echo(f"pid {state.pid} is alive but {state.rpc_url} does not answer")
        return
    rpc = Chain(state.rpc_url)
    block = rpc.block()
    click.echo(
        f"running: {state.rpc_url} (pid {state.pid}, chain id {chain_id}, "
        f"up {span(int(time.time() - state.started))})"
    )
    click.echo(
        f"block {int(block['number'], 16)}, chain time "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(int(block['timestamp'], 16)))}"
    )
    deployment = deployment_file or default_deployment_file()
    if deployment.exists():
        dep = Deployment.load(deployment)
        live = dep.rpc_url == state.rpc_url and bool(rpc.code(dep.engine))
        click.echo(f"engine {dep.engine}" + ("" if live else " (not on this chain: redeploy)"))


@chain.command("accounts")
def accounts() -> None:
    """anvil's dev accounts (addresses only; the keys are anvil's public defaults)."""
    for i, signer in enumerate(dev_signers()):
        role = DEV_ROLES.get(i, "trader")
        click.echo(f"{i}  {signer.address}  {role}")


@click.group("time", cls=WholeLinesGroup)
def time_group() -> None:
    """Move a local chain's clock (anvil only)."""


@time_group.command(
    "advance", cls=SignedArgsCommand, number_arg="SECONDS", number_what="a time step"
)
@click.argument("seconds", type=click.IntRange(0, 10 * 365 * 86400))
@rpc_option
@deployment_option
def advance(seconds: int, rpc_url: str | None, deployment_file: Path | None) -> None:
    """Advance the chain's time by SECONDS and mine a block.

    The chain: --rpc-url, else the deployment file's, else the `chain up` one.
    """
    url = rpc_url
    if url is None:
        deployment = deployment_file or default_deployment_file()
        url = Deployment.load(deployment).rpc_url if deployment.exists() else None
    rpc = Chain(local_rpc_url(url))
    if not rpc.is_anvil:
        raise ChainError(f"{rpc.rpc_url} is not anvil: time only moves on a local chain")
    now = rpc.advance_time(seconds)
    click.echo(
        f"advanced {span(seconds)}: chain time is now "
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(now))}"
    )
