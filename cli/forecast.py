"""``zkmargin forecast``: how likely an account is to be liquidated, and what would help.

Off-chain statistics over the exact model: a volatility model (EWMA or GARCH(1,1)-t) is
fitted to a price history, joint moves are simulated with the history's correlation, and
every path is decided by the margin model (``zkmargin.forecast``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.common import account_argument, load_inputs, market_option
from zkmargin.amounts import format_fixed
from zkmargin.forecast import (
    DEFAULT_SAMPLES,
    DEFAULT_SEED,
    Forecast,
    forecast_from_history,
    parse_horizons,
    parse_percent,
)
from zkmargin.units import BALANCE_DECIMALS, PRICE_DECIMALS
from zkmargin.volatility import load_history

F = TypeVar("F", bound=Callable[..., Any])

# the shipped history (data/README.md): S&P 500 and NASDAQ Composite daily closes
DEFAULT_HISTORY = Path(__file__).resolve().parents[1] / "data" / "sp500_nasdaq_daily.csv"


def model_options(func: F) -> F:
    """Options shared by ``forecast`` and ``plot``: history, model, simulation."""
    options = [
        click.option(
            "--history",
            "history_file",
            type=click.Path(path_type=Path, dir_okay=False),
            default=DEFAULT_HISTORY,
            show_default="data/sp500_nasdaq_daily.csv",
            help="CSV 'date,SERIES,...' of prices, oldest first.",
        ),
        click.option(
            "--series",
            "series_pairs",
            multiple=True,
            metavar="NAME=SERIES",
            help="Which history series stands for a market (default: same name, else in "
            "order), or for a collateral asset on its own feed (then it moves; else held).",
        ),
        click.option(
            "--model",
            "method",
            type=click.Choice(["ewma", "garch"]),
            default="ewma",
            show_default=True,
            help="EWMA (RiskMetrics, lambda 0.94) or GARCH(1,1) with Student-t innovations.",
        ),
        click.option(
            "--window",
            type=click.IntRange(30, 100_000),
            default=1000,
            show_default=True,
            help="Fit on this many trailing returns.",
        ),
        click.option(
            "--step-hours",
            type=float,
            default=24.0,
            show_default=True,
            help="Hours between two rows of the history (daily: 24).",
        ),
        click.option(
            "--samples",
            type=click.IntRange(100, 200_000),
            default=DEFAULT_SAMPLES,
            show_default=True,
            help="Monte Carlo paths.",
        ),
        click.option(
            "--seed", type=int, default=DEFAULT_SEED, show_default=True, help="Monte Carlo seed."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _percent(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{100 * p:.2f}%"


def _hours(h: float) -> str:
    return f"{h / 24:g}d" if h >= 24 and h % 24 == 0 else f"{h:g}h"


def render(fc: Forecast, console: Any) -> None:
    from rich.table import Table

    head = (
        f"model {fc.method}, {fc.samples:,} paths (seed {fc.seed}), "
        f"history step {fc.step_hours:g} h; series: "
        + ", ".join(f"{m} <- {s}" for m, s in fc.series.items())
    )
    console.print(head)
    moves = [
        f"{a} moves with {f}" if a != f else f"{a} on its own series"
        for a, f in fc.collateral_moves.items()
    ]
    console.print("collateral: " + ("; ".join(moves) if moves else "prices held fixed"))
    vol = Table(title="volatility (per history step)")
    for col in ("market", "series", "step vol", "long-run", "persistence", "t dof"):
        vol.add_column(col, justify="right" if col not in ("market", "series") else "left")
    for m, f in fc.fits.items():
        vol.add_row(
            m,
            fc.series[m],
            f"{100 * f.step_vol:.2f}%",
            "-" if math.isinf(f.long_var) else f"{100 * math.sqrt(f.long_var):.2f}%",
            f"{f.persistence:.4f}",
            "normal" if math.isinf(f.nu) else f"{f.nu:.1f}",
        )
    console.print(vol)

    risk = Table(title="probability within the horizon")
    for col in ("horizon", "leave proven set", "liquidatable", "insolvent"):
        risk.add_column(col, justify="right")
    for h in fc.horizons:
        risk.add_row(
            _hours(h.hours), _percent(h.leave_set), _percent(h.liquidation), _percent(h.insolvency)
        )
    console.print(risk)

    liq = Table(title="liquidation price (others fixed, collateral on its feed moves; exact)")
    for col in ("market", "price", "MMR", "liquidation price", "move"):
        liq.add_column(col, justify="right" if col != "market" else "left")
    for lp in fc.liquidation_prices:
        liq.add_row(
            lp.market,
            format_fixed(lp.price, PRICE_DECIMALS),
            f"{fc.rates_bps[lp.market] / 100:g}%",
            "none" if lp.liquidation is None else format_fixed(lp.liquidation, PRICE_DECIMALS),
            "now"
            if lp.direction == "now"
            else "-"
            if lp.distance is None
            else f"{100 * float(lp.distance):+.2f}%",
        )
    console.print(liq)

    cap = _hours(fc.cap_hours)
    if fc.expected_censored == 0:
        ttl = f"expected time to liquidation: {fc.expected_hours:.1f} h"
    else:
        ttl = (
            f"expected time to liquidation: > {fc.expected_hours:.1f} h "
            f"(mean capped at {cap}; {_percent(fc.expected_censored)} of paths not "
            f"liquidated by {cap})"
        )
    if fc.median_hours is not None:
        ttl += f"; median {fc.median_hours:.1f} h"
    console.print(ttl)

    a = fc.advice
    if a is not None:
        console.print(
            f"advice: keep the {_hours(a.horizon_hours)} liquidation chance <= {_percent(a.target)}"
        )
        if a.target < 10 / fc.samples:
            console.print(
                f"  (with {fc.samples:,} paths, chances below {_percent(10 / fc.samples)} are "
                "poorly resolved: raise --samples)"
            )
        if a.top_up is None:
            console.print("  top up: no top-up reaches the target")
        else:
            tokens = format_fixed(a.top_up, BALANCE_DECIMALS)
            console.print(f"  top up {tokens} {a.asset}  -> {_percent(a.top_up_probability)}")
        if a.reduce_bps is None:
            console.print("  reduce: closing every position does not reach the target")
        else:
            console.print(
                f"  or close {a.reduce_bps / 100:g}% of each position  -> "
                f"{_percent(a.reduce_probability)}"
            )


@click.command()
@account_argument
@market_option
@click.option(
    "--horizon",
    "horizon_text",
    default="1h,8h,24h",
    show_default=True,
    help="Comma-separated horizons: 30m, 8h, 5d.",
)
@model_options
@click.option(
    "--target",
    "target_text",
    default="1%",
    show_default=True,
    help="Advice: the 24 h liquidation chance to stay under.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def forecast(
    account_file: Path,
    market_file: Path,
    horizon_text: str,
    history_file: Path,
    series_pairs: tuple[str, ...],
    method: str,
    window: int,
    step_hours: float,
    samples: int,
    seed: int,
    target_text: str,
    as_json: bool,
) -> None:
    """Forecast the chance of leaving the proven move set, of liquidation and of insolvency.

    Fits a volatility model to a price history, simulates joint moves of the account's
    markets with the history's correlation, decides every path with the exact margin
    model, and prints per horizon the probabilities, each market's liquidation price,
    the expected time to liquidation, and the top-up or size reduction that keeps the
    24 h liquidation chance under --target. Statistics only: nothing here is proved.
    """
    horizons = parse_horizons(horizon_text)
    target = parse_percent(target_text)
    account, data = load_inputs(account_file, market_file)
    history = load_history(history_file)
    fc = forecast_from_history(
        account,
        data,
        history,
        method=method,
        horizons=horizons,
        window=window,
        step_hours=step_hours,
        samples=samples,
        seed=seed,
        series_pairs=series_pairs,
        target=target,
    )
    if as_json:
        click.echo(json.dumps(fc.to_json(), indent=2))
        return
    from rich.console import Console

    render(fc, Console())
