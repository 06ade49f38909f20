"""How the PortfolioEngine settles a revealed book (``close``, the liquidation record,
``reclaim``), in integers: an exact copy of ``PortfolioSettlement.optionValues`` and of the
PnL the engine emits (docs/portfolio.md, "On-chain").

An option's epoch mark V_j does not move with the underlying between publications, so the
engine values a unit of an unsettled series from the move since publication,
ΔP = P − P⁰ (P⁰: the oracle price the engine read at ``publishRisk``)::

    t     = V·10⁴ + δ·ΔP                         (δ signed bps: 1e-12 quote)
    long  = min(cap, max(I(P), ⌊t / 10⁴⌋))       (the tangent, below the convex value)
    short = min(cap, max(I(P), ⌈t / 10⁴⌉ + g))   (g bounds the rise above the tangent
                                                  over the λ_IM move set)

I the intrinsic value, cap = P for a call and the strike for a put. A settled series is
worth its intrinsic value at the settlement price to both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zkmargin.portfolio import PortfolioPosition
from zkmargin.riskfile import OptionSeries, RiskFile, intrinsic_value
from zkmargin.units import BPS_ONE, Price


def option_values(series: OptionSeries, published: int, price: int) -> tuple[Price, Price]:
    """(long, short): what a unit of unsettled ``series`` is worth to a long holder and
    owes a short writer at the underlying's ``price``, the series published with the
    underlying at ``published`` (all 1e-8 quote). Rounded against the trader."""
    tangent = series.mark * BPS_ONE + series.delta_bps * (price - published)
    floor = intrinsic_value(series, price)
    cap = price if series.kind == "call" else series.strike
    long = min(cap, max(floor, tangent // BPS_ONE))
    short = min(cap, max(floor, -(-tangent // BPS_ONE) + series.gamma_charge))
    return Price(long), Price(short)


def settlement_value(
    pos: PortfolioPosition,
    risk: RiskFile,
    published: Mapping[str, int],
    settled: Mapping[str, int],
) -> int:
    """The engine's mark of ``pos`` (1e-8 quote): a perpetual at ``risk.prices``, an option
    by :func:`option_values` for its side, or its intrinsic value at the settlement price
    of a series in ``settled`` (series name -> settlement price)."""
    if not pos.option:
        return risk.prices[pos.instrument]
    series = risk.options[pos.instrument]
    if pos.instrument in settled:
        return intrinsic_value(series, settled[pos.instrument])
    long, short = option_values(
        series, published[series.underlying], risk.prices[series.underlying]
    )
    return long if pos.long else short


def settlement_pnl(
    positions: Sequence[PortfolioPosition],
    risk: RiskFile,
    published: Mapping[str, int],
    settled: Mapping[str, int] | None = None,
) -> int:
    """Σ ±size·(mark − entry) in 1e-16 quote, as ``AccountClosed``/``Reclaimed`` emit it:
    ``risk.prices`` are the settlement's oracle prices, ``published`` the epoch's
    publication prices by market name."""
    total = 0
    for pos in positions:
        mark = settlement_value(pos, risk, published, settled or {})
        total += (1 if pos.long else -1) * pos.size * (mark - pos.entry)
    return total
