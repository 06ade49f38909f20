"""``zkmargin prove``: a Groth16 proof that an account meets its margin."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cli.common import (
    account_argument,
    binding_options,
    circuit_choice,
    circuit_option,
    load_inputs,
    make_binding,
    market_option,
    mode_option,
)
from prover.prove import Prover
from zkmargin.errors import InputError
from zkmargin.model import Mode


@click.command()
@account_argument
@market_option
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the proof file (public data only).",
)
@mode_option
@circuit_option
@click.option(
    "--opening",
    is_flag=True,
    help="Opening proof: every position's entry price must equal the oracle price.",
)
@binding_options
def prove(
    account_file: Path,
    market_file: Path,
    output: Path,
    mode: str,
    circuit: str,
    opening: bool,
    chain_id: int,
    engine: str,
    nonce: int,
) -> None:
    """Prove that ACCOUNT meets the margin requirement at the market file's prices.

    Writes nothing and exits 1 if the account does not meet it.
    """
    check_output_path(output, account_file, market_file)
    account, data = load_inputs(account_file, market_file)
    binding = make_binding(chain_id, engine, nonce)
    started = time.perf_counter()
    bundle = Prover().prove(
        account,
        data,
        mode=Mode(mode),
        binding=binding,
        circuit=circuit_choice(circuit),
        opening=opening,
    )
    bundle.save(output)
    click.echo(
        f"wrote {output}: {bundle.circuit} {mode} proof, verified locally "
        f"({time.perf_counter() - started:.2f} s)"
    )


def check_output_path(output: Path, *inputs: Path) -> None:
    """Refuse before proving: a missing directory, or an output that is one of the inputs
    (replacing the account file would destroy the only copy of its salt)."""
    if not output.parent.resolve().is_dir():
        raise InputError(f"--output {output}: cannot write: no directory {output.parent}")
    for path in inputs:
        if output.resolve() == path.resolve() or (
            output.exists() and path.exists() and output.samefile(path)
        ):
            raise InputError(f"--output {output}: is an input file; choose another name")
