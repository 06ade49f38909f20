"""MarketData (the model's view of risk parameters and prices) from an engine's listings.

One builder serves every source of listings: the live engine (:meth:`EngineClient.market_data`),
a deployment spec before or without a chain (the stress simulation, proof fixtures), so that
the three can never disagree on how a listing becomes model parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from zkmargin.model import CollateralParams, MarketData, MarketParams
from zkmargin.units import Bps, Price


@dataclass(frozen=True)
class MarketListing:
    """A listed market: its name, the feed that prices it, and its margin rates."""

    name: str
    feed: str
    mmr_bps: int
    imr_bps: int


@dataclass(frozen=True)
class AssetListing:
    """A listed collateral asset: its name, feed, haircut and token decimals."""

    name: str
    feed: str
    haircut_bps: int
    decimals: int


def build_market_data(
    markets: Iterable[MarketListing],
    assets: Iterable[AssetListing],
    price_of_feed: Callable[[str], int],
    *,
    haircuts: bool = True,
) -> MarketData:
    """The model's MarketData for these listings, each feed priced once (1e-8 quote).

    ``haircuts=False`` values collateral at its raw price (what the pool would receive).
    An asset priced by the feed of a listed market gets that market (the first listed on
    the feed, as ``StressCheck.stressInputs`` picks it) as its ``risk_factor``.
    """
    by_feed: dict[str, Price] = {}

    def price(feed: str) -> Price:
        if feed not in by_feed:
            by_feed[feed] = Price(price_of_feed(feed))
        return by_feed[feed]

    market_params: dict[str, MarketParams] = {}
    collateral: dict[str, CollateralParams] = {}
    prices: dict[str, Price] = {}
    markets_list = list(markets)
    for m in markets_list:
        market_params[m.name] = MarketParams(mmr_bps=Bps(m.mmr_bps), imr_bps=Bps(m.imr_bps))
        prices[m.name] = price(m.feed)
    market_of_feed: dict[str, str] = {}
    for m in markets_list:
        market_of_feed.setdefault(m.feed, m.name)
    for a in assets:
        collateral[a.name] = CollateralParams(
            haircut_bps=Bps(a.haircut_bps if haircuts else 0),
            decimals=a.decimals,
            risk_factor=market_of_feed.get(a.feed),
        )
        prices[a.name] = price(a.feed)
    return MarketData(markets=market_params, collateral=collateral, prices=prices)


__all__ = ["AssetListing", "MarketListing", "build_market_data"]
