"""Pictures of a forecast: per market, equity and requirement across price moves (exact
model), the liquidation point and the proven move set; and the forecast's fan of prices.

matplotlib (Agg backend, no display) is imported inside :func:`render_png`, which returns
the PNG's bytes; the caller writes them atomically. Equity and requirement are computed
with :func:`zkmargin.model.evaluate` at integer prices and only converted to floats to be
drawn.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from zkmargin.forecast import Forecast, LiquidationPrice, moved_with
from zkmargin.model import Account, MarketData, Mode, evaluate
from zkmargin.units import MARGIN_UNIT_DECIMALS, PRICE_DECIMALS

WIDTH_IN = 12.0
ROW_HEIGHT_IN = 4.0
DPI = 100
CURVE_POINTS = 201


def image_size(markets: int) -> tuple[int, int]:
    """(width, height) in pixels of the PNG for ``markets`` rows."""
    return int(WIDTH_IN * DPI), int(ROW_HEIGHT_IN * DPI * markets)


def price_range(lp: LiquidationPrice, rate_bps: int) -> tuple[int, int]:
    """Integer price range of the curve: the proven set three times over, widened to show
    the liquidation price with a margin."""
    p0 = lp.price
    half = max(3 * p0 * rate_bps // 10_000, p0 // 20, 1)
    lo, hi = p0 - half, p0 + half
    if lp.liquidation is not None and lp.direction != "now":
        span = abs(lp.liquidation - p0) * 6 // 5 + 1
        if lp.liquidation < p0:
            lo = min(lo, p0 - span)
        else:
            hi = max(hi, p0 + span)
    return max(lo, 1), max(hi, 2)


def curve(
    account: Account, data: MarketData, market: str, lo: int, hi: int, points: int = CURVE_POINTS
) -> tuple[list[int], list[int], list[int]]:
    """Prices and exact (equity, maintenance requirement) in margin units at each (collateral
    on the market's feed moving with it, as for the liquidation price)."""
    step = max((hi - lo) // (points - 1), 1)
    prices = list(range(lo, hi + 1, step))
    equity: list[int] = []
    requirement: list[int] = []
    for p in prices:
        report = evaluate(account, moved_with(data, market, p), Mode.MAINTENANCE)
        equity.append(report.equity)
        requirement.append(report.requirement)
    return prices, equity, requirement


def _quote(units: Sequence[int], decimals: int) -> list[float]:
    scale = 10.0**decimals
    return [u / scale for u in units]


def render_png(account: Account, data: MarketData, fc: Forecast) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(fc.markets)
    fig, axes = plt.subplots(
        rows, 2, figsize=(WIDTH_IN, ROW_HEIGHT_IN * rows), dpi=DPI, squeeze=False
    )
    try:
        for row, lp in enumerate(fc.liquidation_prices):
            market = lp.market
            rate = fc.rates_bps[market]
            p0 = lp.price / 10.0**PRICE_DECIMALS
            set_lo, set_hi = p0 * (1 - rate / 10_000), p0 * (1 + rate / 10_000)
            liq = None if lp.liquidation is None else lp.liquidation / 10.0**PRICE_DECIMALS

            ax = axes[row][0]
            lo, hi = price_range(lp, rate)
            prices, equity, requirement = curve(account, data, market, lo, hi)
            xs = _quote(prices, PRICE_DECIMALS)
            ax.plot(xs, _quote(equity, MARGIN_UNIT_DECIMALS), label="equity", color="tab:blue")
            ax.plot(
                xs,
                _quote(requirement, MARGIN_UNIT_DECIMALS),
                label="maintenance requirement",
                color="tab:orange",
            )
            ax.axvspan(set_lo, set_hi, color="tab:green", alpha=0.12, label="proven move set")
            ax.axvline(p0, color="grey", linestyle=":", label="oracle price")
            if liq is not None:
                ax.axvline(liq, color="tab:red", linestyle="--", label=f"liquidation {liq:,.2f}")
            ax.axhline(0.0, color="black", linewidth=0.6)
            ax.set_title(f"{market}: equity and requirement (others fixed, exact model)")
            ax.set_xlabel(f"{market} price")
            ax.set_ylabel("quote")
            ax.legend(fontsize=7, loc="best")

            ax = axes[row][1]
            fan = fc.fan[market] * p0  # (Q, G): 5, 25, 50, 75, 95 %
            t = [0.0, *(float(x) for x in fc.fan_times)]
            band = [[p0, *row_q] for row_q in fan.tolist()]
            ax.fill_between(t, band[0], band[4], color="tab:blue", alpha=0.15, label="5-95%")
            ax.fill_between(t, band[1], band[3], color="tab:blue", alpha=0.3, label="25-75%")
            ax.plot(t, band[2], color="tab:blue", label="median")
            ax.axhspan(set_lo, set_hi, color="tab:green", alpha=0.12, label="proven move set")
            if liq is not None:
                ax.axhline(liq, color="tab:red", linestyle="--", label="liquidation price")
            ax.set_xscale("symlog", linthresh=24.0)
            ax.set_xlim(0.0, t[-1])
            ax.set_title(f"{market}: forecast fan ({fc.method}, {fc.samples:,} paths)")
            ax.set_xlabel("hours ahead")
            ax.set_ylabel(f"{market} price")
            ax.legend(fontsize=7, loc="upper left")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()
    finally:
        plt.close(fig)
