"""Calibration backtest of the liquidation forecast: `make backtest`.

    python benchmarks/backtest.py [--history FILE] [--window 1000] [--samples 2000]
                                  [--refit 20] [--stride 1] [--quick]

Rolling over the shipped daily history (S&P 500 and NASDAQ Composite, 1999-2018; see
data/README.md), at every origin day t it fits each model on the trailing ``--window``
returns (EWMA every day; GARCH(1,1)-t refitted every ``--refit`` days and filtered
daily in between), simulates with the forecast's own engine
(:func:`zkmargin.forecast.simulate`, daily monitoring), and predicts, for horizons of 1,
5 and 20 trading days (the history is daily, so the forecast's hours become days) and
for move-set extents of 200, 400 and 500 bps (400 and 500 are the MMRs of
examples/markets.json), the probability that

  * terminal: the relative move over the horizon leaves the set, |P_{t+h}/P_t - 1| > x;
  * touch:    the move leaves it at some daily close up to the horizon (what
    ``zkmargin forecast`` reports as "within the horizon").

Predictions are pooled over series and extents into probability buckets and compared
with the realized frequency. Horizons overlap from one origin to the next, so outcomes
are correlated and the counts overstate the effective sample size. Prints the tables and
writes them to build/bench/backtest.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from zkmargin.forecast import simulate
from zkmargin.jsonio import write_json
from zkmargin.volatility import FloatArray, VolFit, fit_ewma, fit_garch, load_history, refilter

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "data" / "sp500_nasdaq_daily.csv"
OUT = ROOT / "build" / "bench" / "backtest.json"
HORIZONS = (1, 5, 20)  # trading days
EXTENTS_BPS = (200, 400, 500)
BUCKETS = (0.0, 0.01, 0.05, 0.10, 0.25, 0.50, 1.0 + 1e-9)
KINDS = ("terminal", "touch")
MODELS = ("ewma", "garch")


def bucket_label(i: int) -> str:
    lo, hi = BUCKETS[i], min(BUCKETS[i + 1], 1.0)
    return f"{100 * lo:g}-{100 * hi:g}%"


def predict(fit: VolFit, samples: int, seed: int) -> dict[str, FloatArray]:
    """Per kind, (len(HORIZONS), len(EXTENTS)) predicted breach probabilities."""
    times = np.arange(1, max(HORIZONS) + 1, dtype=np.float64) * 24.0
    paths = simulate([fit], np.ones((1, 1)), times, step_hours=24.0, samples=samples, seed=seed)
    move = np.abs(paths.ratio[:, :, 0] - 1.0)  # (S, G)
    running = np.maximum.accumulate(move, axis=1)
    out = {k: np.empty((len(HORIZONS), len(EXTENTS_BPS))) for k in KINDS}
    for i, h in enumerate(HORIZONS):
        for j, x in enumerate(EXTENTS_BPS):
            out["terminal"][i, j] = float((move[:, h - 1] > x / 10_000).mean())
            out["touch"][i, j] = float((running[:, h - 1] > x / 10_000).mean())
    return out


def realized(prices: FloatArray, t: int) -> dict[str, FloatArray]:
    """Per kind, (H, X) booleans: did the move from day t leave the set."""
    p0 = prices[t]
    path = np.abs(prices[t + 1 : t + max(HORIZONS) + 1] / p0 - 1.0)
    running = np.maximum.accumulate(path)
    out = {k: np.empty((len(HORIZONS), len(EXTENTS_BPS))) for k in KINDS}
    for i, h in enumerate(HORIZONS):
        for j, x in enumerate(EXTENTS_BPS):
            out["terminal"][i, j] = float(path[h - 1] > x / 10_000)
            out["touch"][i, j] = float(running[h - 1] > x / 10_000)
    return out


def run(
    history: Path, window: int, samples: int, refit: int, stride: int, limit: int | None
) -> dict[str, Any]:
    hist = load_history(history)
    # records[model][kind] -> list of (horizon index, predicted, realized)
    preds: dict[str, dict[str, list[tuple[int, float, float]]]] = {
        m: {k: [] for k in KINDS} for m in MODELS
    }
    origins_total = 0
    for name, prices in hist.series.items():
        returns = np.diff(np.log(prices))
        origins = list(range(window, len(prices) - max(HORIZONS), stride))
        if limit is not None:
            origins = origins[-limit:]
        origins_total += len(origins)
        garch: VolFit | None = None
        for n, t in enumerate(origins):
            trailing = returns[t - window : t]  # returns up to the close of day t
            fits = {"ewma": fit_ewma(trailing)}
            if garch is None or n % max(refit // stride, 1) == 0:
                garch = fit_garch(trailing)
            else:
                garch = refilter(garch, trailing)
            fits["garch"] = garch
            truth = realized(prices, t)
            for model in MODELS:
                p = predict(fits[model], samples, seed=t)
                for kind in KINDS:
                    for i in range(len(HORIZONS)):
                        for j in range(len(EXTENTS_BPS)):
                            preds[model][kind].append((i, p[kind][i, j], truth[kind][i, j]))
        print(f"  {name}: {len(origins)} origins", file=sys.stderr)
    tables: dict[str, Any] = {}
    for model in MODELS:
        for kind in KINDS:
            rows = np.asarray(preds[model][kind])
            per_h = []
            for i, h in enumerate(HORIZONS):
                sel = rows[rows[:, 0] == i]
                p, y = sel[:, 1], sel[:, 2]
                buckets = []
                for b in range(len(BUCKETS) - 1):
                    mask = (p >= BUCKETS[b]) & (p < BUCKETS[b + 1])
                    count = int(mask.sum())
                    buckets.append(
                        {
                            "bucket": bucket_label(b),
                            "count": count,
                            "predicted": float(p[mask].mean()) if count else None,
                            "realized": float(y[mask].mean()) if count else None,
                        }
                    )
                per_h.append(
                    {
                        "horizon_days": h,
                        "count": int(p.size),
                        "predicted": float(p.mean()),
                        "realized": float(y.mean()),
                        "brier": float(np.mean((p - y) ** 2)),
                        "buckets": buckets,
                    }
                )
            tables[f"{model}/{kind}"] = per_h
    return {
        "history": str(history.relative_to(ROOT) if history.is_relative_to(ROOT) else history),
        "series": list(hist.series),
        "window": window,
        "samples": samples,
        "refit_days": refit,
        "stride_days": stride,
        "origins": origins_total,
        "horizons_days": list(HORIZONS),
        "extents_bps": list(EXTENTS_BPS),
        "tables": tables,
    }


def _fmt(p: float | None) -> str:
    return "     -" if p is None or math.isnan(p) else f"{100 * p:6.2f}"


def print_tables(result: dict[str, Any]) -> None:
    print(
        f"backtest: {result['series']} from {result['history']}, window {result['window']} d, "
        f"{result['samples']} paths/origin, {result['origins']} origins, extents "
        f"{result['extents_bps']} bps (pooled), horizons in trading days"
    )
    for key, per_h in result["tables"].items():
        print(f"\n{key}: predicted vs realized breach frequency (%)")
        print(f"  {'h':>3} {'bucket':>9} {'count':>7} {'pred':>6} {'real':>6}")
        for row in per_h:
            for b in row["buckets"]:
                if b["count"]:
                    print(
                        f"  {row['horizon_days']:>3} {b['bucket']:>9} {b['count']:>7} "
                        f"{_fmt(b['predicted'])} {_fmt(b['realized'])}"
                    )
            print(
                f"  {row['horizon_days']:>3} {'all':>9} {row['count']:>7} "
                f"{_fmt(row['predicted'])} {_fmt(row['realized'])}  brier {row['brier']:.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--refit", type=int, default=20)
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="last 200 origins per series")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = run(
        args.history,
        args.window,
        args.samples,
        args.refit,
        args.stride,
        200 if args.quick else None,
    )
    result["seconds"] = round(time.perf_counter() - started, 1)
    print_tables(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, json.loads(json.dumps(result)))
    print(f"\nwrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
