"""``zkmargin verify``: check a proof file off-chain (Python, py_ecc)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from verifier.bundle import Verdict, verify_bundle
from zkmargin.errors import InputError
from zkmargin.proofs import ProofBundle


@click.command()
@click.argument("proof_file", metavar="PROOF", type=click.Path(path_type=Path, dir_okay=False))
def verify(proof_file: Path) -> None:
    """Exit 0 if PROOF is valid, 1 if it is not; one line says which and why."""
    if not proof_file.is_file():
        raise InputError(f"proof file {proof_file}: no such file")
    bundle = None
    try:
        bundle = ProofBundle.load(proof_file)
        verdict = verify_bundle(bundle)
    except InputError as exc:  # a malformed proof file is an invalid proof
        verdict = Verdict(False, str(exc))
    if verdict.valid:
        click.echo(f"valid: {verdict.reason}")
        if bundle is not None and bundle.stress is not None:
            click.echo(bundle.stress.describe())
    else:
        click.echo(f"invalid: {verdict.reason}")
        sys.exit(1)
