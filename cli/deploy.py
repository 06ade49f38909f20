"""``zkmargin deploy``: the whole system on a chain, described in a deployment file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from chain.client import make_decoder
from chain.deploy import DEFAULT_SPEC, default_deployment_file, deploy_system
from chain.rpc import Chain
from chain.signers import resolve_signer
from cli.chainopts import deployment_option, key_option, local_rpc_url, rpc_option
from prover.setup import run_setup


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
def deploy(
    rpc_url: str | None,
    key_file: Path | None,
    deployment_file: Path | None,
    proof_lifetime: int,
    grace_period: int,
    shock_bps: int,
    penalty_bps: int,
) -> None:
    """Deploy mock feeds and tokens, the oracle adapter, verifiers, Poseidon and the engine.

    Runs `zkmargin setup` and `forge build` first if anything changed (both cached).
    Signs with --key-file / ZKMARGIN_PRIVATE_KEY, or on anvil with dev account 0.
    The mocks let anyone set prices and mint: local and test chains only.
    """
    log = lambda line: click.echo(f"  {line}", err=True)  # noqa: E731
    run_setup(log=log)
    chain = Chain(local_rpc_url(rpc_url), decoder=make_decoder())
    signer = resolve_signer(key_file=key_file, dev_chain=chain.is_anvil, dev_default=0)
    spec = replace(
        DEFAULT_SPEC,
        proof_lifetime=proof_lifetime,
        grace_period=grace_period,
        shock_threshold_bps=shock_bps,
        liquidation_penalty_bps=penalty_bps,
    )
    click.echo(f"deploying to {chain.rpc_url} (chain id {chain.chain_id}) from {signer.address}")
    deployment, results = deploy_system(chain, signer, spec, log=click.echo)
    path = deployment_file or default_deployment_file()
    deployment.save(path)
    total = sum(r.gas_used for r in results)
    click.echo(f"engine {deployment.engine}; {len(results)} transactions, {total:,} gas")
    click.echo(f"wrote {path}")
