"""``zkmargin plot``: a PNG of an account's margin curve and its forecast fan."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import account_argument, load_inputs, market_option
from cli.forecast import model_options
from zkmargin.errors import InputError
from zkmargin.forecast import forecast_from_history
from zkmargin.jsonio import write_atomic
from zkmargin.volatility import load_history


@click.command()
@account_argument
@market_option
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="PNG file to write (atomically; nothing is written on error).",
)
@model_options
def plot(
    account_file: Path,
    market_file: Path,
    output: Path,
    history_file: Path,
    series_pairs: tuple[str, ...],
    method: str,
    window: int,
    step_hours: float,
    samples: int,
    seed: int,
) -> None:
    """Draw, per market, equity and requirement across price moves and the forecast fan.

    Left: equity and maintenance requirement of ACCOUNT as one market's price moves (the
    others fixed), from the exact model, with the liquidation price and the proven move
    set marked. Right: quantile bands (5-95%, 25-75%, median) of the simulated price over
    the next 30 days, with the same marks.
    """
    if output.suffix.lower() != ".png":
        raise InputError(f"--output: {output} must end in .png")
    if not output.parent.is_dir():
        raise InputError(f"--output: directory {output.parent} does not exist")
    account, data = load_inputs(account_file, market_file)
    history = load_history(history_file)
    fc = forecast_from_history(
        account,
        data,
        history,
        method=method,
        window=window,
        step_hours=step_hours,
        samples=samples,
        seed=seed,
        series_pairs=series_pairs,
        target=None,
    )
    from zkmargin.plots import render_png

    write_atomic(output, render_png(account, data, fc))
    click.echo(f"wrote {output}")
