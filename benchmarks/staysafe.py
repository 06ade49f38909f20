"""The cost to stay safe: proofs and gas per account-day, in a calm and a volatile week.

    python -m benchmarks.staysafe [--paths 4] [--seed 7] [--json build/bench/staysafe.json]

A trader who keeps an account proven before anyone can flag it runs the guardian
(``zkmargin guard``). This benchmark replays the guardian's own decision on simulated
weeks and counts what it costs:

* **Prices.** True prices move every 12 s block for 7 days: ETH and BTC jointly
  (log-normal, correlation ρ; Student-t innovations in the volatile week), USDC as a
  mean-reverting wobble around 1. The **oracle** publishes like Chainlink: when the
  price deviates from its last answer by the feed's threshold (ETH/BTC 0.5%, USDC 0.25%),
  or when the heartbeat (1 h, USDC 24 h) runs out. The engine and the guardian only see
  oracle answers.
* **Accounts** are the deployed system's kinds (``chain.deploy.DEFAULT_SPEC``: rates,
  haircuts, penalty, proof lifetime; the PortfolioEngine's 1-day lifetime): isolated ETH
  and BTC on USDC, isolated ETH on WETH, a cross account (every listed market and asset
  is a slot), and a portfolio account (the ellipsoid of ``examples/risk.json``:
  ‖L⁻¹Δ‖ ≤ λ_MM·(1 − penalty)).
* **The guardian** (:func:`chain.guardian.decide`, :func:`chain.guardian.leave_probability`
  with the week's true volatilities) re-proves when its proof is about to lapse, or when
  the chance of leaving the shrunk move set within the proving time plus two blocks
  exceeds 5%. An oracle jump can still leave the set between two blocks: the keeper flags
  in that block (a **flag**), and the guardian re-proves within the grace period (the
  account is solvent: these are accounts far above margin; only the proving cost is
  measured here). Far from the edge (less than 40% of the way) the probability is not
  computed: over a 29 s horizon at these volatilities it is below 1e-12.
* **Gas** per proof is the mined ``proveMargin`` receipt of ``make bench-gas``
  (``build/bench/gas.json``): "submit_unpushed" where the file has it (a guardian's proof
  lands in whatever block it lands, with no keeper's price push before it), else
  "submit" (an older file, from before the PortfolioEngine's push).

The set a proof certifies does not depend on how much margin the account has above the
requirement (a rate-based proof covers |Δ_k| ≤ rate_k·(1 − penalty), a portfolio proof
the ellipsoid of λ_MM): a very safe account pays the same to stay proven as a tight one.

Prints a table and writes ``build/bench/staysafe.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks.results import update_results
from chain.deploy import DEFAULT_SPEC, PortfolioSpec
from chain.guardian import (
    DEFAULT_BLOCK_MARGIN_S,
    DEFAULT_LAPSE_MARGIN_S,
    DEFAULT_ORACLE_LAG,
    DEFAULT_PROVE_S,
    DEFAULT_REPROVE_BEFORE,
    Slot,
    decide,
    leave_probability,
)
from zkmargin.feedrisk import FeedRisk
from zkmargin.paths import build_dir
from zkmargin.units import BPS_ONE

ROOT = Path(__file__).resolve().parents[1]
RISK_FILE = ROOT / "examples" / "risk.json"
BLOCK_S = 12
WEEK_S = 7 * 86_400
DAY_S = 86_400
FAR = 0.40  # fraction of the way to the edge below which the guardian's probability is ~0
PRICE_SCALE = 10**8
HORIZON_S = DEFAULT_PROVE_S + DEFAULT_BLOCK_MARGIN_S


@dataclass(frozen=True)
class Regime:
    name: str
    eth_vol: float  # daily
    btc_vol: float
    rho: float
    nu: float  # Student-t degrees of freedom (inf: normal)
    usdc_bps: float  # stationary standard deviation of the USDC wobble
    text: str


REGIMES = (
    Regime("calm", 0.025, 0.020, 0.80, math.inf, 3.0, "ETH 2.5%/day, BTC 2%/day, ρ 0.8"),
    Regime(
        "volatile",
        0.080,
        0.065,
        0.90,
        4.0,
        10.0,
        "ETH 8%/day, BTC 6.5%/day, ρ 0.9, t(4) jumps",
    ),
)


@dataclass(frozen=True)
class Feed:
    name: str
    deviation_bps: int
    heartbeat_s: int


FEEDS = (Feed("ETH/USD", 50, 3600), Feed("BTC/USD", 50, 3600), Feed("USDC/USD", 25, 86_400))
FEED_INDEX = {f.name: i for i, f in enumerate(FEEDS)}


@dataclass(frozen=True)
class AccountKind:
    name: str
    circuit: str  # gas.json key
    slots: tuple[Slot, ...]  # proven 0 here: set at each proof
    ellipsoid: bool = False  # portfolio: the market slots form one ellipsoid
    lifetime: int = DEFAULT_SPEC.proof_lifetime  # seconds a proof keeps the account safe


@dataclass
class Tally:
    proofs: list[int] = field(default_factory=list)
    edge: list[int] = field(default_factory=list)
    lapse: list[int] = field(default_factory=list)
    flags: list[int] = field(default_factory=list)


def account_kinds(usdc_haircut_bps: int) -> list[AccountKind]:
    spec = DEFAULT_SPEC
    keep = BPS_ONE - spec.liquidation_penalty_bps
    mmr = {m.name: m.mmr_bps for m in spec.markets}
    feed = {m.name: m.feed for m in spec.markets} | {a.name: a.feed for a in spec.assets}
    haircut = {a.name: a.haircut_bps for a in spec.assets} | {"USDC": usdc_haircut_bps}

    def market(name: str) -> Slot:
        return Slot(name, feed[name], True, 0, mmr[name] * keep)

    def asset(name: str) -> Slot:
        return Slot(name, feed[name], False, 0, haircut[name] * keep)

    risk = json.loads(RISK_FILE.read_text())["portfolio"]
    lam = risk["lambda_mm_bps"] * keep  # λ_MM·(1 − pen), bps × bps
    return [
        AccountKind("isolated ETH on USDC", "isolated", (market("ETH-USD"), asset("USDC"))),
        AccountKind("isolated ETH on WETH", "isolated", (market("ETH-USD"), asset("WETH"))),
        AccountKind("isolated BTC on USDC", "isolated", (market("BTC-USD"), asset("USDC"))),
        AccountKind(
            "cross ETH+BTC",
            "cross",
            (market("ETH-USD"), market("BTC-USD"), asset("USDC"), asset("WETH")),
        ),
        AccountKind(
            "portfolio ETH/BTC hedge",
            "portfolio",
            # the ellipsoid's radius is carried in `limit` of the first market slot
            (
                Slot("ETH-USD", feed["ETH-USD"], True, 0, lam),
                Slot("BTC-USD", feed["BTC-USD"], True, 0, lam),
                asset("USDC"),
            ),
            ellipsoid=True,
            lifetime=PortfolioSpec().proof_lifetime,
        ),
    ]


def cholesky_bps() -> np.ndarray:
    rows = json.loads(RISK_FILE.read_text())["portfolio"]["cholesky_bps"]
    lower = np.zeros((len(rows), len(rows)))
    for k, row in enumerate(rows):
        lower[k, : len(row)] = row
    return lower / BPS_ONE


# ---------------------------------------------------------------- prices


def true_paths(regime: Regime, rng: np.random.Generator) -> np.ndarray:
    """(steps + 1, 3) true prices (float, USD) every block: ETH, BTC, USDC."""
    steps = WEEK_S // BLOCK_S
    dt = BLOCK_S / DAY_S
    corr = np.array([[1.0, regime.rho], [regime.rho, 1.0]])
    z = rng.standard_normal((steps, 2)) @ np.linalg.cholesky(corr).T
    if math.isfinite(regime.nu):
        # one variance mix per hour: volatility clusters, the tails are t(nu)
        hours = steps * BLOCK_S // 3600 + 1
        w = rng.chisquare(regime.nu, size=hours)
        mix = np.sqrt((regime.nu - 2.0) / w)[(np.arange(steps) * BLOCK_S) // 3600]
        z = z * mix[:, None]
    vols = np.array([regime.eth_vol, regime.btc_vol]) * math.sqrt(dt)
    log = np.vstack([np.zeros(2), np.cumsum(z * vols - 0.5 * vols**2, axis=0)])
    prices = np.empty((steps + 1, 3))
    prices[:, 0] = 2000.0 * np.exp(log[:, 0])
    prices[:, 1] = 60_000.0 * np.exp(log[:, 1])
    # USDC: Ornstein-Uhlenbeck around 1 with a one-hour half-life
    theta = math.log(2) / 3600 * BLOCK_S
    sd = regime.usdc_bps / BPS_ONE
    noise = rng.standard_normal(steps) * sd * math.sqrt(1 - math.exp(-2 * theta))
    u = np.zeros(steps + 1)
    for t in range(steps):
        u[t + 1] = u[t] * math.exp(-theta) + noise[t]
    prices[:, 2] = 1.0 + u
    return prices


def oracle_answers(true: np.ndarray) -> np.ndarray:
    """(steps + 1, 3) integer oracle answers (1e-8): a feed publishes the true price when
    it deviates by its threshold from the last answer, or at its heartbeat."""
    out = np.empty(true.shape, dtype=np.int64)
    for j, f in enumerate(FEEDS):
        last = round(float(true[0, j]) * PRICE_SCALE)
        last_t = 0
        col = true[:, j]
        for t in range(col.size):
            p = round(float(col[t]) * PRICE_SCALE)
            if (
                abs(p - last) * BPS_ONE >= f.deviation_bps * last
                or (t - last_t) * BLOCK_S >= f.heartbeat_s
            ):
                last, last_t = p, t
            out[t, j] = last
    return out


# ---------------------------------------------------------------- the move sets


def fraction_of_edge(
    kind: AccountKind, proven: Sequence[int], now: Sequence[int], lower: np.ndarray
) -> float:
    """How far along to the edge of the shrunk set the current prices are (1 = on it)."""
    worst = 0.0
    markets = [i for i, s in enumerate(kind.slots) if s.is_market]
    if kind.ellipsoid:
        delta = np.array([(now[i] - proven[i]) / proven[i] for i in markets])
        u = np.linalg.solve(lower, delta)
        radius = kind.slots[markets[0]].limit / float(BPS_ONE * BPS_ONE)
        worst = float(np.linalg.norm(u)) / radius
    for i, s in enumerate(kind.slots):
        if kind.ellipsoid and s.is_market:
            continue
        move = (now[i] - proven[i]) / proven[i]
        bound = s.limit / float(BPS_ONE * BPS_ONE)
        away = abs(move) if s.is_market else max(-move, 0.0)
        if bound == 0:
            worst = max(worst, math.inf if away > 0 else 0.0)
        else:
            worst = max(worst, away / bound)
    return worst


def ellipsoid_leave_probability(
    kind: AccountKind,
    proven: Sequence[int],
    now: Sequence[int],
    regime: Regime,
    lower: np.ndarray,
    lag: float,
) -> float:
    """The guardian's question for the portfolio set, by the same Monte Carlo shape as
    :func:`chain.guardian.leave_probability` (8 monitoring times, correlated moves); the
    oracle lag shrinks the radius by the most a move of that size can stretch in L⁻¹
    units (lag / the smallest singular value of L)."""
    rng = np.random.default_rng(20_261_201)
    samples, times = 4_000, 8
    dt = HORIZON_S / times / DAY_S
    vols = np.array([regime.eth_vol, regime.btc_vol]) * math.sqrt(dt)
    corr = np.array([[1.0, regime.rho], [regime.rho, 1.0]])
    z = rng.standard_normal((samples, times, 2)) @ np.linalg.cholesky(corr).T
    paths = np.exp(np.cumsum(z * vols, axis=1))  # (S, T, 2)
    hit = np.zeros(samples, dtype=bool)
    markets = [i for i, s in enumerate(kind.slots) if s.is_market]
    base = np.array([now[i] for i in markets], dtype=np.float64)
    p0 = np.array([proven[i] for i in markets], dtype=np.float64)
    delta = (paths * base - p0) / p0  # (S, T, 2)
    u = np.linalg.solve(lower, delta.reshape(-1, 2).T).T.reshape(samples, times, 2)
    radius = kind.slots[markets[0]].limit / float(BPS_ONE * BPS_ONE)
    stretch = lag / float(np.linalg.svd(lower, compute_uv=False).min())
    if radius > 2 * stretch:
        radius -= stretch
    hit |= (np.linalg.norm(u, axis=2) > radius).any(axis=1)
    return float(hit.mean())


# ---------------------------------------------------------------- one account-week


def run_week(
    kind: AccountKind, oracle: np.ndarray, regime: Regime, lower: np.ndarray, lag: float
) -> tuple[int, int, int, int]:
    """(proofs, edge proofs, lapse proofs, flags) of one guarded account over the week."""
    lifetime = kind.lifetime
    feeds = [FEED_INDEX[s.feed] for s in kind.slots]
    # what the guardian knows: the markets' volatility (collateral on its own feed is held,
    # as `zkmargin guard` holds a feed it has no volatility for)
    risk = FeedRisk.constant({"ETH/USD": regime.eth_vol, "BTC/USD": regime.btc_vol})

    def prices(t: int) -> list[int]:
        return [int(oracle[t, j]) for j in feeds]

    proven = prices(0)
    proven_at = 0
    proofs = edge = lapse = flags = 0
    flagged = False
    last_answer: tuple[int, ...] | None = None
    p_cached = 0.0
    for t in range(1, oracle.shape[0]):
        now_s = t * BLOCK_S
        now = prices(t)
        frac = fraction_of_edge(kind, proven, now, lower)
        if frac > 1.0 and not flagged:
            flags += 1  # the keeper flags in this block
            flagged = True
        answer = tuple(now)
        if answer != last_answer:
            last_answer = answer
            if frac < FAR or frac > 1.0:
                p_cached = 0.0 if frac < FAR else 1.0
            elif kind.ellipsoid:
                p_cached = ellipsoid_leave_probability(kind, proven, now, regime, lower, lag)
            else:
                slots = [
                    Slot(s.name, s.feed, s.is_market, proven[i], s.limit)
                    for i, s in enumerate(kind.slots)
                ]
                p_cached = leave_probability(
                    slots,
                    {s.name: now[i] for i, s in enumerate(kind.slots)},
                    risk,
                    HORIZON_S,
                    oracle_lag=lag,
                )
        d = decide(
            now=now_s,
            shock_at=1 if flagged else 0,
            liquidatable_at=proven_at + lifetime + 1,
            outside_now=frac > 1.0,
            p_leave=p_cached,
            reprove_before=DEFAULT_REPROVE_BEFORE,
            prove_s=DEFAULT_PROVE_S,
            block_margin_s=DEFAULT_BLOCK_MARGIN_S,
            lapse_margin_s=DEFAULT_LAPSE_MARGIN_S,
        )
        if d.prove:
            proofs += 1
            if d.reason.startswith("the proof lapses"):
                lapse += 1
            elif not flagged and frac <= 1.0:
                edge += 1
            proven, proven_at, flagged = now, now_s, False
            last_answer = None
    return proofs, edge, lapse, flags


# ---------------------------------------------------------------- report


def gas_per_proof(path: Path) -> dict[str, tuple[int | None, str]]:
    try:
        figures = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        figures = {}
    out: dict[str, tuple[int | None, str]] = {}
    for circuit in ("isolated", "cross", "portfolio"):
        f = figures.get(circuit, {}) if isinstance(figures, dict) else {}
        if isinstance(f, dict) and "submit_unpushed" in f:
            # a guardian's proof lands in whatever block it lands: no keeper push assumed
            out[circuit] = (int(f["submit_unpushed"]), "proveMargin, mined, no price push")
        elif isinstance(f, dict) and "submit" in f:
            out[circuit] = (int(f["submit"]), "proveMargin, mined")
        elif isinstance(f, dict) and "verify" in f:
            out[circuit] = (None, f"verifier alone {int(f['verify']):,}: no engine figure")
        else:
            out[circuit] = (None, "run make bench-gas")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.staysafe", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--paths", type=int, default=4, help="simulated weeks per regime")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", type=Path, default=build_dir() / "bench" / "staysafe.json")
    ap.add_argument("--gas", type=Path, default=build_dir() / "bench" / "gas.json")
    args = ap.parse_args(argv)
    if args.paths < 1:
        ap.error("--paths must be at least 1")
    out = Console(width=150)
    started = time.monotonic()
    gas = gas_per_proof(args.gas)
    lower = cholesky_bps()
    usdc_default = next(a.haircut_bps for a in DEFAULT_SPEC.assets if a.name == "USDC")
    # (USDC haircut, guardian's oracle lag): as deployed; the guardian without the lag;
    # a stablecoin haircut wider than the USDC feed's wobble
    variants = [(usdc_default, DEFAULT_ORACLE_LAG), (usdc_default, 0.0), (50, DEFAULT_ORACLE_LAG)]
    results: dict[str, Any] = {
        "paths": args.paths,
        "seed": args.seed,
        "block_s": BLOCK_S,
        "regimes": {},
    }
    rng = np.random.default_rng(args.seed)
    for regime in REGIMES:
        oracles = [oracle_answers(true_paths(regime, rng)) for _ in range(args.paths)]
        updates = [int((np.diff(o, axis=0) != 0).any(axis=1).sum()) for o in oracles]
        rows: list[dict[str, Any]] = []
        for haircut, lag in variants:
            for kind in account_kinds(haircut):
                if haircut != usdc_default and not any(s.name == "USDC" for s in kind.slots):
                    continue
                tally = Tally()
                for o in oracles:
                    p, e, lapse, f = run_week(kind, o, regime, lower, lag)
                    tally.proofs.append(p)
                    tally.edge.append(e)
                    tally.lapse.append(lapse)
                    tally.flags.append(f)
                per_day = float(np.mean(tally.proofs)) / 7
                g, g_text = gas[kind.circuit]
                rows.append(
                    {
                        "account": kind.name,
                        "usdc_haircut_bps": haircut,
                        "oracle_lag_bps": round(lag * BPS_ONE),
                        "circuit": kind.circuit,
                        "proofs_per_account_day": round(per_day, 3),
                        "edge_proofs_per_week": float(np.mean(tally.edge)),
                        "lapse_proofs_per_week": float(np.mean(tally.lapse)),
                        "flags_per_week": float(np.mean(tally.flags)),
                        "proofs_per_week_min_max": [min(tally.proofs), max(tally.proofs)],
                        "gas_per_proof": g,
                        "gas_per_account_day": None if g is None else round(per_day * g),
                        "gas_note": g_text,
                    }
                )
        results["regimes"][regime.name] = {
            "description": regime.text,
            "oracle_updates_per_day": round(float(np.mean(updates)) / 7, 1),
            "accounts": rows,
        }
        updates_day = np.mean(updates) / 7
        title = f"{regime.name} week: {regime.text}; {updates_day:.0f} oracle updates/day"
        table = Table(title=title)
        for col in (
            "account",
            "USDC haircut",
            "oracle lag",
            "proofs/day",
            "edge/wk",
            "lapse/wk",
            "flags/wk",
            "gas/day",
        ):
            table.add_column(col, justify="left" if col == "account" else "right")
        for r in rows:
            gd = r["gas_per_account_day"]
            table.add_row(
                r["account"],
                f"{r['usdc_haircut_bps']} bps",
                f"{r['oracle_lag_bps']} bps",
                f"{r['proofs_per_account_day']:.2f}",
                f"{r['edge_proofs_per_week']:.1f}",
                f"{r['lapse_proofs_per_week']:.1f}",
                f"{r['flags_per_week']:.1f}",
                f"{gd:,}" if gd is not None else r["gas_note"],
            )
        out.print(table)
    results["seconds"] = round(time.monotonic() - started, 1)
    update_results(args.json, results)
    out.print(f"wrote {args.json} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
