"""``zkmargin commit``: the account commitment the engine stores."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import (
    account_argument,
    circuit_choice,
    circuit_option,
    load_inputs,
    market_option,
)
from zkmargin.encoding import Binding, encode, pick_circuit
from zkmargin.model import Mode


@click.command()
@account_argument
@market_option
@circuit_option
def commit(account_file: Path, market_file: Path, circuit: str) -> None:
    """Print the Poseidon commitment of ACCOUNT (decimal field element).

    Market slots follow the market file, so give the same one you prove with.
    """
    account, data = load_inputs(account_file, market_file)
    name = circuit_choice(circuit) or pick_circuit(account)
    enc = encode(account, data, circuit=name, mode=Mode.MAINTENANCE, binding=Binding())
    click.echo(str(enc.statement.commitment))
