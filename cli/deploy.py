"""``zkmargin deploy``: the whole system on a chain, described in a deployment file.

Deploying again would replace the deployment file with a fresh system, and the accounts
opened on the old engine would seem to have vanished (their funds are still there, at
an address nobody wrote down). So ``deploy`` refuses while the file names an engine
that is live on its chain, unless ``--force``; a forced run names the engine it
replaces and keeps the old file next to the new one.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import click

from chain.artifacts import ensure_built, missing_or_stale
from chain.client import EngineClient, make_decoder
from chain.deploy import DEFAULT_SPEC, Deployment, default_deployment_file, deploy_system
from chain.errors import ChainError
from chain.rpc import Chain
from chain.signers import resolve_signer
from cli.chainopts import deployment_option, key_option, local_rpc_url, rpc_option
from cli.common import TimedLog
from prover.setup import run_setup
from zkmargin.errors import InputError
from zkmargin.jsonio import read_json_file, write_json


@click.command()
@rpc_option
@key_option
@deployment_option
@click.option(
    "--proof-lifetime",
    type=click.IntRange(1, 365 * 86400),
    default=DEFAULT_SPEC.proof_lifetime,
    show_default=True,
    help="Seconds an accepted proof keeps an account safe.",
)
@click.option(
    "--grace-period",
    type=click.IntRange(1, 365 * 86400),
    default=DEFAULT_SPEC.grace_period,
    show_default=True,
    help="Seconds to prove again after a price shock is flagged.",
)
@click.option(
    "--shock-bps",
    type=click.IntRange(1, 10_000),
    default=DEFAULT_SPEC.shock_threshold_bps,
    show_default=True,
    help="Price move (bps of the proven price) that counts as a shock.",
)
@click.option(
    "--penalty-bps",
    type=click.IntRange(0, 10_000),
    default=DEFAULT_SPEC.liquidation_penalty_bps,
    show_default=True,
    help="Share of seized collateral paid to the liquidator.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Deploy even though the deployment file names a live engine (which it then "
    "stops naming; the old file is kept as <file>.replaced-<engine>.json).",
)
def deploy(
    rpc_url: str | None,
    key_file: Path | None,
    deployment_file: Path | None,
    proof_lifetime: int,
    grace_period: int,
    shock_bps: int,
    penalty_bps: int,
    force: bool,
) -> None:
    """Deploy mock feeds and tokens, the oracle adapter, verifiers, Poseidon and the engine.

    Runs `zkmargin setup` and `forge build` first if anything changed (both cached).
    Signs with --key-file / ZKMARGIN_PRIVATE_KEY, or on anvil with dev account 0.
    The mocks let anyone set prices and mint: local and test chains only.
    The engine is then handed to a RiskGovernor behind a 60-second TimelockController
    (the signer proposes and publishes; docs/risk.md, `zkmargin risk-admin`).
    """
    path = deployment_file or default_deployment_file()
    live = live_engine(path)
    if live is not None and not force:
        raise InputError(
            f"{path} names engine {live}, live on its chain: deploying again would replace "
            "it (accounts there would seem lost); use that deployment, or --force"
        )
    with TimedLog() as log:
        run_setup(log=log)
    build_contracts()
    chain = Chain(local_rpc_url(rpc_url), decoder=make_decoder())
    signer = resolve_signer(key_file=key_file, dev_chain=chain.is_anvil, dev_default=0)
    spec = replace(
        DEFAULT_SPEC,
        proof_lifetime=proof_lifetime,
        grace_period=grace_period,
        shock_threshold_bps=shock_bps,
        liquidation_penalty_bps=penalty_bps,
    )
    if live is not None:
        click.echo(f"--force: replacing engine {live} in {path}")
    click.echo(f"deploying to {chain.rpc_url} (chain id {chain.chain_id}) from {signer.address}")
    started = time.perf_counter()
    deployment, results = deploy_system(chain, signer, spec, log=click.echo)
    if live is not None and path.exists():
        kept = path.with_name(f"{path.stem}.replaced-{live}.json")
        write_json(kept, read_json_file(path, "deployment file"))
        click.echo(f"kept the old deployment file as {kept} (engine {live})")
    deployment.save(path)
    total = sum(r.gas_used for r in results)
    click.echo(
        f"engine {deployment.engine}; {len(results)} transactions, {total:,} gas, "
        f"{time.perf_counter() - started:.1f} s"
    )
    click.echo(f"wrote {path}")


def live_engine(path: Path) -> str | None:
    """The engine address of the deployment file at ``path`` if it has code on the chain
    the file names; None when there is no file or its chain is gone or restarted.

    An unreadable file is refused (it may be the only record of a live engine).
    """
    if not path.exists():
        return None
    try:
        deployment = Deployment.load(path)
    except InputError as exc:
        raise InputError(f"{exc}; move it away to deploy afresh") from None
    try:
        EngineClient.connect(deployment)
    except ChainError:
        return None
    return deployment.engine


def build_contracts() -> None:
    """``forge build`` when an artifact is missing or stale, said out loud and timed.

    The first build compiles the engine, the verifiers and the mocks (about 30 s on two
    cores); without this line it looked like a slow deployment.
    """
    stale = missing_or_stale()
    if not stale:
        return
    click.echo("building contracts (forge, first run ~30 s)…", err=True)
    started = time.perf_counter()
    ensure_built()
    click.echo(f"  built in {time.perf_counter() - started:.1f} s", err=True)
