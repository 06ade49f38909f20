"""``zkmargin setup``: compile circuits and make (development) keys, cached."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import TimedLog
from prover.setup import run_setup


@click.command()
@click.option(
    "--ptau",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Use this Powers-of-Tau file (e.g. from a public ceremony) instead of a "
    "local development ceremony.",
)
def setup(ptau: Path | None) -> None:
    """Compile the circuits (circom --O2) and run the Groth16 trusted setup.

    Cached by content hash: the first run takes minutes on two cores (each step is
    shown with the time elapsed), later runs well under a second.
    """
    with TimedLog() as log:
        report = run_setup(ptau, log=log)
    man = report.manifest
    for name, art in man.circuits.items():
        click.echo(f"{name:9s} {art.constraints:6d} constraints  {art.n_public} public inputs")
    ptau_info = man.ptau
    click.echo(
        f"ptau      2^{ptau_info['power']} ({ptau_info['source']}, sha256 "
        f"{ptau_info['sha256'][:16]}…)"
    )
    done = ", ".join(report.steps_run) if report.steps_run else "nothing (all cached)"
    click.echo(f"setup     {report.seconds:.1f} s; built: {done}")
    if man.development_only:
        click.echo("WARNING: development keys from a one-party local ceremony; not for real funds.")
