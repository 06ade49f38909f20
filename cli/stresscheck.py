"""``zkmargin stress-check PROOF``: anyone checks a stress proof against the engine."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.chainopts import Connection, read_options
from zkmargin.errors import InputError
from zkmargin.proofs import ProofBundle


@click.command("stress-check")
@click.argument("proof_file", metavar="PROOF", type=click.Path(path_type=Path, dir_okay=False))
@read_options
def stress_check(proof_file: Path, conn: Connection) -> None:
    """Check a stress proof on-chain: the engine rebuilds the statement from the account's
    commitment, balances and nonce and the oracle's prices moved by the proof's shocks.

    Exit 0 if the engine's verifier accepts it, 1 if not (one line says why).
    """
    if not proof_file.is_file():
        raise InputError(f"proof file {proof_file}: no such file")
    try:
        bundle = ProofBundle.load(proof_file)
    except InputError as exc:  # as `zkmargin verify`: a malformed proof file is invalid
        click.echo(f"invalid: {exc}")
        sys.exit(1)
    verdict = conn.client.check_stress(bundle)
    assert bundle.stress is not None  # check_stress refuses a plain proof
    click.echo(bundle.stress.describe())
    click.echo(f"engine shockBps {list(verdict.shocks_bps)} (per market id)")
    if not verdict.valid:
        click.echo(f"invalid: {verdict.reason}")
        sys.exit(1)
    click.echo(f"valid: {verdict.reason}")
