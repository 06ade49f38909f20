"""Volatility and correlation of oracle feeds, for the guardian's leave-the-set forecast.

Three sources, in the guardian's order of precedence (highest first):

* ``--daily-vol FEED=PCT``: an explicit constant daily volatility (replaces that feed's
  fit, keeps its correlations);
* the oracle's own prices, observed by the running guardian (:class:`PriceObserver`,
  one sample per ``every_s`` seconds), once at least :data:`MIN_RETURNS` returns exist:
  EWMA per feed and the Pearson correlation of the same returns;
* a price history CSV (``--history``): EWMA or GARCH-t per feed on the trailing window of
  the series mapped to it, and the correlation over that window
  (:func:`fit_feed_risk`, reusing :mod:`zkmargin.volatility`);

and else a constant 5% a day for a feed that prices a market (uncorrelated).
:class:`FeedRisk` holds the result; ``subset`` gives :func:`zkmargin.forecast.simulate`
its fits and correlation matrix.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from zkmargin.errors import InputError
from zkmargin.volatility import (
    MIN_RETURNS,
    FloatArray,
    PriceHistory,
    VolFit,
    correlation,
    fit,
)

DAY_H = 24.0


def constant_fit(daily_vol: float, step_hours: float) -> VolFit:
    """A flat EWMA-shaped fit with ``daily_vol`` a day, per step of ``step_hours``."""
    var = daily_vol**2 * step_hours / DAY_H
    return VolFit("ewma", var, var, 1.0, math.inf)


@dataclass(frozen=True)
class FeedRisk:
    """Per-feed volatility fits (per ``step_hours`` step) and their correlation."""

    feeds: tuple[str, ...]
    fits: tuple[VolFit, ...]
    corr: FloatArray
    step_hours: float = DAY_H
    source: str = "constant"
    series: Mapping[str, str] = field(default_factory=dict)  # feed -> history series

    @classmethod
    def constant(cls, daily_vol: Mapping[str, float], source: str = "constant") -> FeedRisk:
        feeds = tuple(sorted(daily_vol))
        fits = tuple(constant_fit(daily_vol[f], DAY_H) for f in feeds)
        return cls(feeds, fits, np.eye(len(feeds)), DAY_H, source)

    def daily_vol(self, feed: str) -> float:
        """The feed's next-step volatility scaled to a day (0 for an unknown feed)."""
        if feed not in self.feeds:
            return 0.0
        return math.sqrt(self.fits[self.feeds.index(feed)].next_var * DAY_H / self.step_hours)

    def with_vols(self, vols: Mapping[str, float], source: str | None = None) -> FeedRisk:
        """Explicit daily volatilities replace those feeds' fits (correlations kept; a feed
        not modelled yet joins uncorrelated)."""
        if not vols:
            return self
        feeds = list(self.feeds) + sorted(f for f in vols if f not in self.feeds)
        n, old = len(feeds), len(self.feeds)
        corr = np.eye(n)
        corr[:old, :old] = self.corr
        fits = [
            constant_fit(vols[f], self.step_hours) if f in vols else self.fits[self.feeds.index(f)]
            for f in feeds
        ]
        label = source or f"{self.source}, --daily-vol for {', '.join(sorted(vols))}"
        return FeedRisk(tuple(feeds), tuple(fits), corr, self.step_hours, label, self.series)

    def subset(self, feeds: Sequence[str]) -> tuple[list[VolFit], FloatArray]:
        """Fits and correlation matrix of ``feeds`` (each must be modelled)."""
        idx = [self.feeds.index(f) for f in feeds]
        return [self.fits[i] for i in idx], np.asarray(self.corr[np.ix_(idx, idx)])

    def describe(self) -> str:
        vols = ", ".join(f"{f} {100 * self.daily_vol(f):.2f}%" for f in self.feeds)
        text = f"volatility from {self.source}: daily {vols}"
        k = len(self.feeds)
        pairs = [
            f"{self.feeds[i]}~{self.feeds[j]} {self.corr[i, j]:+.2f}"
            for i in range(k)
            for j in range(i + 1, k)
            if self.corr[i, j] != 0
        ]
        return text + (f"; correlation {', '.join(pairs)}" if pairs else "")


def fit_feed_risk(
    history: PriceHistory,
    feed_series: Mapping[str, str],
    *,
    method: str = "ewma",
    window: int = 1000,
    step_hours: float = DAY_H,
    source: str = "history",
) -> FeedRisk:
    """EWMA or GARCH-t per feed on the trailing ``window`` returns of its series, and the
    correlation of those returns (rows of one CSV share dates, so they are aligned)."""
    if not feed_series:
        raise InputError("history: no feed is mapped to a series")
    feeds = tuple(feed_series)
    returns = []
    for feed in feeds:
        name = feed_series[feed]
        if name not in history.series:
            raise InputError(f"history: no series {name!r} ({', '.join(history.series)})")
        returns.append(history.returns(name)[-window:])
    fits = tuple(fit(r, method) for r in returns)
    return FeedRisk(
        feeds,
        fits,
        correlation(returns),
        step_hours,
        f"{source} ({method})",
        dict(feed_series),
    )


@dataclass
class PriceObserver:
    """Oracle prices seen by a daemon: at most one sample per ``every_s`` seconds, the
    last ``keep``; once :data:`MIN_RETURNS` returns exist, :meth:`risk` fits them."""

    every_s: float = 60.0
    keep: int = 2_000
    times: list[float] = field(default_factory=list)
    prices: list[dict[str, int]] = field(default_factory=list)

    def due(self, t: float) -> bool:
        """Whether a sample taken at ``t`` would be kept."""
        return not self.times or t - self.times[-1] >= self.every_s

    def observe(self, t: float, prices: Mapping[str, int]) -> bool:
        """Record a sample unless the last one is younger than ``every_s``; True if kept."""
        if not self.due(t):
            return False
        self.times.append(t)
        self.prices.append({f: int(p) for f, p in prices.items() if p > 0})
        del self.times[: -self.keep], self.prices[: -self.keep]
        return True

    @property
    def returns_count(self) -> int:
        return max(0, len(self.times) - 1)

    def risk(self) -> FeedRisk | None:
        """EWMA per feed and correlation over the samples (feeds present in all of them);
        None until there are :data:`MIN_RETURNS` returns."""
        if self.returns_count < MIN_RETURNS:
            return None
        feeds = sorted(set.intersection(*(set(p) for p in self.prices)))
        if not feeds:
            return None
        logs = np.log(np.asarray([[p[f] for f in feeds] for p in self.prices], dtype=np.float64))
        rets = np.diff(logs, axis=0)
        step_h = float(np.median(np.diff(self.times))) / 3600.0
        cols = [rets[:, j] for j in range(len(feeds))]
        with np.errstate(invalid="ignore", divide="ignore"):  # a feed that never moved
            corr = correlation(cols)
        return FeedRisk(
            tuple(feeds),
            tuple(fit(c, "ewma") for c in cols),
            corr,
            step_h,
            f"oracle prices ({len(self.times)} samples, {self.every_s:g} s apart, ewma)",
        )


__all__ = ["FeedRisk", "PriceObserver", "constant_fit", "fit_feed_risk"]
