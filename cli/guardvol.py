"""``zkmargin guard``'s volatility options: a fitted history, the oracle, or constants.

The work is in :mod:`zkmargin.feedrisk`; this module maps names the user types (a feed,
a market, a collateral asset) to the deployment's feeds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chain.deploy import Deployment
from zkmargin.errors import InputError
from zkmargin.feedrisk import FeedRisk, fit_feed_risk
from zkmargin.forecast import map_series, parse_percent
from zkmargin.volatility import load_history

F = TypeVar("F", bound=Callable[..., Any])


def vol_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--daily-vol",
                "daily_vol",
                multiple=True,
                metavar="FEED-or-MARKET=PCT",
                help="Explicit daily volatility of a feed (e.g. ETH-USD=4%); overrides any "
                "fit for that feed. Without --history or enough observed prices: 5% for a "
                "feed that prices a market, 0 for the others, uncorrelated.",
            ),
            click.option(
                "--history",
                "history_file",
                type=click.Path(path_type=Path, dir_okay=False),
                default=None,
                help="Fit each feed's volatility and the feeds' correlations to this price "
                "history (CSV date,SERIES,..., oldest first; e.g. data/sp500_nasdaq_daily.csv).",
            ),
            click.option(
                "--series",
                "series_pairs",
                multiple=True,
                metavar="NAME=SERIES",
                help="Which history series stands for a feed, market or asset (default: "
                "same name, else the remaining series in order for market feeds).",
            ),
            click.option(
                "--vol-model",
                type=click.Choice(["ewma", "garch"]),
                default="ewma",
                show_default=True,
                help="Model fitted to the history: EWMA, or GARCH(1,1) with Student-t.",
            ),
            click.option(
                "--observe-every",
                type=click.FloatRange(0),
                default=60.0,
                show_default=True,
                help="Sample the oracle's prices every S seconds and, once 30 returns are "
                "seen, fit them instead of the history (0: never).",
            ),
        ]
    ):
        func = option(func)
    return func


def feed_of(dep: Deployment, name: str, option: str) -> str:
    """A feed name, or the feed of a market or collateral asset."""
    if name in {f.name for f in dep.feeds}:
        return name
    for m in dep.markets:
        if m.name == name:
            return m.feed
    for a in dep.assets:
        if a.name == name:
            return a.feed
    known = [f.name for f in dep.feeds] + [m.name for m in dep.markets]
    raise InputError(f"{option}: unknown feed or market {name!r} (known: {', '.join(known)})")


def explicit_vols(dep: Deployment, pairs: list[tuple[str, str]]) -> dict[str, float]:
    return {feed_of(dep, n, "--daily-vol"): parse_percent(p, "--daily-vol") for n, p in pairs}


def history_risk(
    dep: Deployment, history_file: Path, pairs: list[tuple[str, str]], method: str
) -> FeedRisk:
    """Fits of the market feeds (and of any feed named in ``--series``) on the history."""
    history = load_history(history_file)
    names = list(history.series)
    explicit: dict[str, str] = {}
    for name, series in pairs:
        if series not in names:
            raise InputError(f"--series: the history has no series {series!r} ({', '.join(names)})")
        explicit[feed_of(dep, name, "--series")] = series
    market_feeds = list(dict.fromkeys(m.feed for m in dep.markets))
    by_market = {m.feed: m.name for m in dep.markets}
    auto = [f for f in market_feeds if f not in explicit]
    # a series of the feed's own name, else of its market's, else the next unused one
    renamed = [f if f in names else by_market[f] for f in auto]
    spare = [n for n in names if n not in explicit.values()]
    mapping = map_series(renamed, spare) if auto else {}
    feed_series = {**explicit, **{f: mapping[r] for f, r in zip(auto, renamed, strict=True)}}
    return fit_feed_risk(history, feed_series, method=method, source=f"history {history_file.name}")
