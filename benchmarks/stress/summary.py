"""The report's description of its inputs: the population and the engine parameters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from benchmarks.stress.books import Book
from benchmarks.stress.population import Portfolio
from benchmarks.stress.timing import REFRESH_MARGIN, STEP
from chain.deploy import SystemSpec
from zkmargin.amounts import format_fixed
from zkmargin.units import SIZE_DECIMALS


def population_summary(portfolios: Sequence[Portfolio]) -> dict[str, Any]:
    styles = Counter(p.style.value for p in portfolios)
    tiers = Counter(p.tier for p in portfolios)
    legs = Counter(len(p.positions) for p in portfolios)
    mix = Counter("+".join(sorted(p.deposits)) for p in portfolios)
    slow = sum(not p.diligent for p in portfolios)
    lines = [
        f"- {len(portfolios)} cross accounts (rate-based MarginEngine); positions per account: "
        + ", ".join(f"{k}: {v}" for k, v in sorted(legs.items())),
        "- buffer over IMR at opening: "
        + ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
        + " (tight 1.03-1.25x, medium 1.25-2.5x, safe 2.5-6x)",
        "- collateral: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())),
        "- on insolvency: " + ", ".join(f"{k} {v}" for k, v in sorted(styles.items())),
        f"- reaction to a flag: {len(portfolios) - slow} within the grace period "
        f"(30-420 s), {slow} slower (900 or 1500 s)",
    ]
    return {
        "accounts": len(portfolios),
        "styles": dict(styles),
        "tiers": dict(tiers),
        "positions_per_account": {str(k): v for k, v in legs.items()},
        "collateral": dict(mix),
        "slow_traders": slow,
        "lines": lines,
        "portfolios": [
            {
                "index": p.index,
                "positions": [
                    f"{'long' if x.long else 'short'} {format_fixed(x.size, SIZE_DECIMALS)} "
                    f"{x.market}"
                    for x in p.positions
                ],
                "deposits": {k: str(v) for k, v in p.deposits.items()},
                "style": p.style.value,
                "reaction_s": p.reaction,
                "tier": p.tier,
            }
            for p in portfolios
        ],
    }


def parameters(spec: SystemSpec) -> dict[str, Any]:
    return {
        "proof_lifetime": spec.proof_lifetime,
        "grace_period": spec.grace_period,
        "shock_threshold_bps": spec.shock_threshold_bps,
        "liquidation_penalty_bps": spec.liquidation_penalty_bps,
        "markets": [
            {"name": m.name, "feed": m.feed, "mmr_bps": m.mmr_bps, "imr_bps": m.imr_bps}
            for m in spec.markets
        ],
        "assets": [{"name": a.name, "haircut_bps": a.haircut_bps} for a in spec.assets],
        "step_s": STEP,
        "refresh_margin_s": REFRESH_MARGIN,
    }


def books_summary(books: Sequence[Book]) -> dict[str, Any]:
    """The portfolio accounts (PortfolioEngine) of the population."""
    strategies = Counter(b.strategy for b in books)
    tiers = Counter(b.tier for b in books)
    styles = Counter(b.style.value for b in books)
    mix = Counter("+".join(sorted(b.deposits)) for b in books)
    slow = sum(not b.diligent for b in books)
    lines = [
        f"- {len(books)} portfolio accounts (PortfolioEngine, perpetuals and listed options): "
        + ", ".join(f"{k} {v}" for k, v in sorted(strategies.items())),
        "  - buffer over the initial requirement (λ_IM, zkmargin.portfolio.evaluate): "
        + ", ".join(f"{k} {v}" for k, v in sorted(tiers.items()))
        + "; collateral: "
        + ", ".join(f"{k} {v}" for k, v in sorted(mix.items()))
        + "; on insolvency: "
        + ", ".join(f"{k} {v}" for k, v in sorted(styles.items()))
        + f"; {slow} react slower than the grace period",
    ]
    return {
        "accounts": len(books),
        "strategies": dict(strategies),
        "tiers": dict(tiers),
        "styles": dict(styles),
        "collateral": dict(mix),
        "slow_traders": slow,
        "lines": lines if books else [],
        "books": [
            {
                "index": b.index,
                "strategy": b.strategy,
                "positions": [
                    f"{'long' if x.long else 'short'} {format_fixed(x.size, SIZE_DECIMALS)} "
                    f"{x.instrument}"
                    for x in b.positions
                ],
                "deposits": {k: str(v) for k, v in b.deposits.items()},
                "style": b.style.value,
                "reaction_s": b.reaction,
                "tier": b.tier,
            }
            for b in books
        ],
    }
