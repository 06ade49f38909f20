"""``zkmargin margin``: the reference model's numbers, without proving anything.

With a market file, the rate-based model (isolated / cross margin). With a portfolio risk
file (``--circuit portfolio``, or auto-detected by its ``"portfolio"`` section), the
portfolio model of ``docs/portfolio.md``: E, R, G, F, D and the claim in every mode.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import account_argument, load_inputs, market_option, mode_option, now_option
from zkmargin.amounts import format_fixed
from zkmargin.jsonio import read_json_file
from zkmargin.model import Mode, evaluate
from zkmargin.units import PRICE_DECIMALS


@click.command()
@account_argument
@market_option
@mode_option
@click.option(
    "--circuit",
    type=click.Choice(["auto", "rate", "portfolio"]),
    default="auto",
    show_default=True,
    help="rate: a market file (isolated/cross margin); portfolio: a risk file; auto: "
    'portfolio when the file has a "portfolio" section.',
)
@now_option
def margin(account_file: Path, market_file: Path, mode: str, circuit: str, now: str | None) -> None:
    """Print equity and requirement of ACCOUNT at the market (or risk) file's prices (quote
    units)."""
    if circuit == "auto":
        raw = read_json_file(market_file, "market file")
        circuit = "portfolio" if isinstance(raw, dict) and "portfolio" in raw else "rate"
    if circuit == "portfolio":
        _portfolio(account_file, market_file, mode, now)
        return
    account, data = load_inputs(account_file, market_file)
    report = evaluate(account, data, Mode(mode))
    click.echo(f"equity       {report.equity_display()}")
    click.echo(f"requirement  {report.requirement_display()}  ({mode})")
    click.echo("solvent" if report.solvent else "INSUFFICIENT MARGIN")


def _up(units: int, decimals: int) -> str:
    """``units`` of 10^-decimals quote, shown rounded up to 1e-8."""
    step = 10 ** (decimals - PRICE_DECIMALS)
    return format_fixed(-(-units // step), PRICE_DECIMALS)


def _portfolio(account_file: Path, risk_file: Path, mode: str, now_text: str | None) -> None:
    from cli.portfolio import load_portfolio_inputs
    from zkmargin.portfolio import PortfolioMode
    from zkmargin.portfolio import evaluate as evaluate_portfolio

    account, risk, _ = load_portfolio_inputs(account_file, risk_file, now_text)
    click.echo(f"portfolio margin, risk file {risk_file} (quote units; R, G, F rounded up)")
    reports = {m: evaluate_portfolio(account, risk, m) for m in PortfolioMode}
    base = reports[PortfolioMode.MAINTENANCE]
    click.echo(
        f"  {'market':<10} {'exposure x':>18} {'net delta':>16} {'gamma ch.':>14} {'vega ch.':>14}"
    )
    for k, exposure in base.exposure_display().items():
        delta = gamma = vega = 0
        for pos in account.positions:
            sign = 1 if pos.long else -1
            if pos.option:
                series = risk.options[pos.instrument]
                if series.underlying != k:
                    continue
                delta += sign * pos.size * series.delta_bps
                gamma += 0 if pos.long else pos.size * series.gamma_charge
                vega += pos.size * series.vega_charge
            elif pos.instrument == k:
                delta += sign * pos.size * 10_000
        click.echo(
            f"  {k:<10} {exposure:>18} {format_fixed(delta, 12):>16} {_up(gamma, 16):>14} "
            f"{_up(vega, 16):>14}"
        )
    click.echo(
        "  (net delta: positions only, in units of the underlying; exposure x also "
        "counts collateral with a risk factor)"
    )
    click.echo(f"  {'mode':<12} {'E':>16} {'R':>16} {'G':>14} {'F':>12} {'D':>16}  claim")
    for m, report in reports.items():
        verdict = "holds" if report.solvent else "FAILS"
        click.echo(
            f"  {m.value:<12} {report.equity_display():>16} {report.risk_display():>16} "
            f"{report.addon_display():>14} {report.floor_display():>12} "
            f"{format_fixed(report.d // 10**22, PRICE_DECIMALS):>16}  E >= R + G + F {verdict}"
        )
    chosen = reports[PortfolioMode(mode)]
    click.echo(f"requirement  {chosen.requirement_display()}  ({mode})")
    click.echo("solvent" if chosen.solvent else "INSUFFICIENT MARGIN")
