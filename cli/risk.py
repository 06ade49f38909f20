"""``zkmargin risk``: publish the portfolio-margin risk file, and show one."""

from __future__ import annotations

import time
from pathlib import Path

import click

from cli.sections import WholeLinesGroup
from zkmargin.amounts import format_fixed
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.riskfile import (
    format_time,
    load_risk_file,
    parse_risk_file,
    parse_time,
    risk_commitment,
)
from zkmargin.riskpublish import (
    DEFAULT_DECAY,
    DEFAULT_STRESS_WEIGHT,
    Publication,
    parse_duration_hours,
    parse_iv_file,
    parse_market_map,
    parse_percent,
    publish,
    summarize,
)
from zkmargin.units import PRICE_DECIMALS
from zkmargin.volatility import load_history

FilePath = click.Path(path_type=Path, dir_okay=False)


@click.group(cls=WholeLinesGroup)
def risk() -> None:
    """Portfolio-margin risk file: publish one from a price history, or show one."""


def _now(text: str | None) -> int:
    return int(time.time()) if text is None else parse_time(text, "--now")


@risk.command("publish")
@click.option(
    "--history",
    "history_file",
    required=True,
    type=FilePath,
    help="Price history CSV (date,NAME,...), oldest first.",
)
@click.option(
    "--iv",
    "iv_file",
    required=True,
    type=FilePath,
    help="Implied vols: series id -> underlying, strike, expiry, kind, iv.",
)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=FilePath,
    help="Risk file to write (atomically).",
)
@click.option(
    "--template",
    type=FilePath,
    default=Path("examples/risk.json"),
    show_default=True,
    help="Risk file whose markets, collateral, prices and lambdas are kept.",
)
@click.option(
    "--markets",
    "market_map",
    default=None,
    help="MARKET=SERIES,... (default: template markets to history columns in order).",
)
@click.option(
    "--decay",
    type=float,
    default=DEFAULT_DECAY,
    show_default=True,
    help="EWMA decay per history row.",
)
@click.option(
    "--stress-weight",
    type=float,
    default=DEFAULT_STRESS_WEIGHT,
    show_default=True,
    help="Correlations stressed toward 1: rho' = (1 - w) rho + w.",
)
@click.option(
    "--margin-period",
    default="1d",
    show_default=True,
    help="Horizon of the move set (variance scales with time).",
)
@click.option(
    "--step-hours", type=float, default=24.0, show_default=True, help="Hours per history row."
)
@click.option(
    "--confidence",
    default="99%",
    show_default=True,
    help="One-sided normal quantile of the lambda = 1 set.",
)
@click.option(
    "--vol-shock",
    default="25%",
    show_default=True,
    help="Relative implied-vol shock of the vega charge.",
)
@click.option("--now", default=None, help="Valuation time (UTC, YYYY-MM-DDTHH:MM:SSZ).")
def publish_cmd(
    history_file: Path,
    iv_file: Path,
    output: Path,
    template: Path,
    market_map: str | None,
    decay: float,
    stress_weight: float,
    margin_period: str,
    step_hours: float,
    confidence: str,
    vol_shock: str,
    now: str | None,
) -> None:
    """Build the public risk file: EWMA covariance, stressed correlations, Cholesky factor,
    Black-76 option marks, deltas and charges."""
    history = load_history(history_file)
    template_data = read_json_file(template, "template")
    iv = parse_iv_file(read_json_file(iv_file, "iv file"), f"iv file {iv_file}")
    markets = parse_risk_file(template_data, f"template {template}").market_names
    mapping = parse_market_map(market_map, markets, history)
    if step_hours <= 0:
        raise click.BadParameter("must be positive", param_hint="--step-hours")
    pub = publish(
        history,
        template_data,
        iv,
        mapping=mapping,
        now=_now(now),
        decay=decay,
        stress_weight=stress_weight,
        period_h=parse_duration_hours(margin_period),
        step_h=step_hours,
        confidence=parse_percent(confidence, "--confidence", low=0.5, high=1.0),
        vol_shock=parse_percent(vol_shock, "--vol-shock", low=0.0, high=1.0),
    )
    _print_publication(pub, history_file)
    write_json(output, pub.document)
    click.echo(f"wrote {output}")
    click.echo(f"risk commitment {risk_commitment(pub.risk)}")


def _print_publication(pub: Publication, history_file: Path) -> None:
    names = list(pub.mapping)
    click.echo(
        f"history {history_file}: market <- series (the history is not the market's "
        "own price; see data/README.md)"
    )
    for m, s in pub.mapping.items():
        click.echo(f"  {m:<10} <- {s}")
    click.echo(
        f"EWMA decay {pub.decay}; margin period {pub.period_h:g} h over {pub.step_h:g} h rows; "
        f"confidence {pub.confidence:.4%} one-sided (z = {pub.z:.4f}); "
        f"stress weight {pub.stress_weight}; vol shock ±{pub.vol_shock:.0%}"
    )
    for i, m in enumerate(names):
        click.echo(
            f"  {m:<10} sigma {pub.step_vol[i]:.4%} per row, {pub.period_vol[i]:.4%} per period"
        )
    _matrix("EWMA correlation", names, [[f"{v:.4f}" for v in row] for row in pub.correlation])
    _matrix("stressed correlation", names, [[f"{v:.4f}" for v in row] for row in pub.stressed])
    _matrix(
        "covariance at period and confidence (bps^2)",
        names,
        [[f"{v:.1f}" for v in row] for row in pub.covariance_bps2],
    )
    click.echo(f"rounding allowance c = {pub.inflation_bps2:.1f} bps^2 added to the diagonal")
    _matrix(
        "Cholesky factor (bps, rounded)",
        names,
        [
            [str(row[j]) if j < len(row) else "" for j in range(len(names))]
            for row in pub.cholesky_bps
        ],
    )
    if pub.options:
        click.echo("options (Black-76, forward = perp price, r = 0):")
        click.echo(
            f"  {'series':<22} {'F':>10} {'years':>7} {'iv':>6} {'value':>12} "
            f"{'delta':>8} {'gamma':>10} {'move r':>7} {'g charge':>11} {'v charge':>11}"
        )
        for q in pub.options:
            click.echo(
                f"  {q.series:<22} {q.forward:>10g} {q.years:>7.4f} {q.iv:>6.2%} "
                f"{format_fixed(q.mark, PRICE_DECIMALS):>12} {q.delta_bps:>8} {q.gamma:>10.3g} "
                f"{q.move:>7.2%} {format_fixed(q.gamma_charge, PRICE_DECIMALS):>11} "
                f"{format_fixed(q.vega_charge, PRICE_DECIMALS):>11}"
            )


def _matrix(title: str, names: list[str], rows: list[list[str]]) -> None:
    click.echo(f"{title}:")
    click.echo("  " + " " * 10 + "".join(f"{n:>14}" for n in names))
    for name, row in zip(names, rows, strict=True):
        click.echo(f"  {name:<10}" + "".join(f"{v:>14}" for v in row))


@risk.command("show")
@click.argument("risk_file", metavar="RISKFILE", type=FilePath)
@click.option(
    "--confidence",
    default="99%",
    show_default=True,
    help="The confidence the file was published at (the file does not record it): "
    "converts the set's extent to a 1-sigma move.",
)
def show(risk_file: Path, confidence: str) -> None:
    """Print the Cholesky factor, implied correlations, the move set's extent per market,
    the option table and the risk commitment."""
    from scipy.stats import norm

    z = float(norm.ppf(parse_percent(confidence, "--confidence", low=0.5, high=1.0)))
    riskf = load_risk_file(risk_file)
    s = summarize(riskf)
    names = list(s.markets)
    _matrix(
        "Cholesky factor L (bps)",
        names,
        [[str(row[j]) if j < len(row) else "" for j in range(len(names))] for row in s.cholesky],
    )
    _matrix(
        "implied correlation (L L^T)", names, [[f"{v:.4f}" for v in row] for row in s.correlation]
    )
    click.echo(
        f"move set per market (lambda_MM {riskf.lambda_mm_bps} bps, "
        f"lambda_IM {riskf.lambda_im_bps} bps; 1-sigma = extent at lambda 1 / z, "
        f"z = {z:.4f} for {confidence}):"
    )
    click.echo(f"  {'market':<10} {'1-sigma':>9} {'lambda_MM':>10} {'lambda_IM':>10}")
    for i, m in enumerate(names):
        click.echo(
            f"  {m:<10} {s.axis_bps[i] / 1e4 / z:>9.3%} {s.lambda_mm_extent[i]:>10.3%} "
            f"{s.lambda_im_extent[i]:>10.3%}"
        )
    if riskf.options:
        click.echo("options:")
        click.echo(
            f"  {'series':<22} {'underlying':<10} {'kind':<4} {'strike':>10} "
            f"{'expiry':<20} {'mark':>12} {'delta':>7} {'gamma ch.':>11} {'vega ch.':>11}"
        )
        for name, o in riskf.options.items():
            click.echo(
                f"  {name:<22} {o.underlying:<10} {o.kind:<4} "
                f"{format_fixed(o.strike, PRICE_DECIMALS):>10} {format_time(o.expiry):<20} "
                f"{format_fixed(o.mark, PRICE_DECIMALS):>12} {o.delta_bps:>7} "
                f"{format_fixed(o.gamma_charge, PRICE_DECIMALS):>11} "
                f"{format_fixed(o.vega_charge, PRICE_DECIMALS):>11}"
            )
    click.echo(f"risk commitment {risk_commitment(riskf)}")
