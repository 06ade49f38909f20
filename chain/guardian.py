"""A trader's guardian: keep each of the trader's accounts proven, before anyone can flag
or liquidate it.

For every account, each loop reads the engine's view (nonce, shock flag, the time it
becomes liquidatable, the prices of its last proof) and the oracle's prices, and
re-proves (``proveMargin``):

* at once when a shock is flagged, or when a price already left the proven move set;
* before the lapse: when ``now + lead`` reaches the time the engine says the account
  becomes liquidatable (``lead`` = proving time + block margin, at least the lapse margin);
* before prices are likely to leave the proven move set: when the probability that they
  leave it within the next proving time plus a block margin exceeds ``reprove_before``
  (5% by default). The probability comes from :func:`zkmargin.forecast.simulate`: joint,
  correlated paths of every feed the account's slots use, with the volatility and
  correlation of :class:`zkmargin.feedrisk.FeedRisk` (fitted to a price history, to the
  oracle prices the guardian observed, or explicit ``--daily-vol``), each path decided
  with the engine's own integer rule for the shrunk move set.

The decision itself is :func:`decide`, a pure function of those numbers.

When the account cannot prove (the exact model says equity < maintenance requirement),
the guardian computes the exact smallest top-up per asset (:func:`needed_top_up`,
bisection on token base units calling :func:`zkmargin.model.evaluate`), says so, and, if
the trader set a limit for that asset and enough of it is left (limits are a budget
across restarts), deposits it from the wallet and proves.

Never two proofs for one nonce: the engine's nonce is read before proving, and an
in-flight marker (nonce, wallet transaction count) is written to the state file before
proving and cleared after. A restarted guardian that finds a marker compares it with the
engine: the nonce moved on (the proof landed), a transaction of the wallet is still
pending (wait), or nothing happened (the marker is dropped and the account is judged
afresh).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chain.client import AccountState, EngineClient, Kind
from chain.daemon import run_loop
from chain.errors import ChainError
from chain.signers import Signer
from prover.prove import Prover
from zkmargin.amounts import format_fixed
from zkmargin.errors import InputError, InsufficientMargin
from zkmargin.feedrisk import FeedRisk, PriceObserver
from zkmargin.forecast import simulate
from zkmargin.jsonio import PRIVATE, read_json_file, write_json
from zkmargin.model import Account, MarketData, Mode, evaluate
from zkmargin.units import BALANCE_BITS, BALANCE_DECIMALS, BPS_ONE, PRICE_DECIMALS, Balance

STATE_VERSION = 1
DEFAULT_REPROVE_BEFORE = 0.05
DEFAULT_DAILY_VOL = 0.05  # a feed that prices a market, unless told otherwise
DEFAULT_BLOCK_MARGIN_S = 24.0  # two 12 s blocks
DEFAULT_LAPSE_MARGIN_S = 600.0
# Chainlink's usual deviation threshold for crypto feeds (0.5%): an answer may trail the
# market by that much, and the next one can step over the edge of the proven set
DEFAULT_ORACLE_LAG = 0.005
DEFAULT_PROVE_S = 5.0  # first guess of proving + sending time, then measured
SAMPLES = 4_000
SEED = 20_261_201

Log = Callable[[str], None]


# ---------------------------------------------------------------- the move set


@dataclass(frozen=True)
class Slot:
    """One price slot of an account as the engine checks it (see ``flagShock``)."""

    name: str  # market or asset name
    feed: str
    is_market: bool
    proven: int  # price of the last accepted proof, 1e-8 quote (0: ignored)
    limit: int  # rate-or-haircut bps × (10^4 − penalty bps): relative move × 10^8

    def outside(self, price: int) -> bool:
        """The engine's ``_outside``, exactly."""
        if self.proven == 0:
            return False
        if price >= self.proven:
            return self.is_market and (price - self.proven) * BPS_ONE * BPS_ONE > (
                self.limit * self.proven
            )
        return (self.proven - price) * BPS_ONE * BPS_ONE > self.limit * self.proven


def account_slots(client: EngineClient, state: AccountState, data: MarketData) -> list[Slot]:
    """The account's slots, in the engine's order (isolated: market, asset; cross: 4 market
    slots then 2 asset slots), with proven prices and current rates and penalty."""
    dep = client.deployment
    penalty = int(client.engine.call("liquidationPenaltyBps"))
    keep = BPS_ONE - penalty
    if state.kind is Kind.ISOLATED:
        m, a = dep.markets[state.market], dep.assets[state.asset]
        proven = state.proven_prices
        return [
            Slot(m.name, m.feed, True, proven[0], data.markets[m.name].mmr_bps * keep),
            Slot(a.name, a.feed, False, proven[1], data.collateral[a.name].haircut_bps * keep),
        ]
    proven = state.proven_prices
    slots = [
        Slot(m.name, m.feed, True, proven[m.id], data.markets[m.name].mmr_bps * keep)
        for m in dep.markets
    ]
    slots += [
        Slot(a.name, a.feed, False, proven[4 + a.id], data.collateral[a.name].haircut_bps * keep)
        for a in dep.assets
    ]
    return slots


def engine_flaggable(client: EngineClient, who: str) -> bool:
    """The engine's own ``flaggable`` view (exact, with the account's policy epoch);
    False where the engine has no such view or the call fails (the local check stands)."""
    try:
        return bool(client.engine.call("flaggable", who))
    except ChainError:
        return False


def leave_probability(
    slots: Sequence[Slot],
    current: Mapping[str, int],
    risk: FeedRisk | Mapping[str, float],
    horizon_s: float,
    *,
    samples: int = SAMPLES,
    seed: int = SEED,
    oracle_lag: float = 0.0,
) -> float:
    """Probability that some slot's price leaves its shrunk proven set within
    ``horizon_s`` seconds (monitored at 8 times), starting from ``current`` (slot name ->
    price). Feeds move jointly with ``risk``'s volatilities and correlation (a mapping
    feed -> daily volatility: constant and uncorrelated); slots on one feed move
    together. 1.0 when a slot is outside already (exact).

    ``oracle_lag`` (a relative move, e.g. 0.005) is how far the oracle's answer may trail
    the market: a feed publishes only when the price moved by its deviation threshold, so
    one update can step over the edge from within that distance. A path counts as leaving
    once it comes within ``oracle_lag`` of the edge, on every slot whose set is wider than
    twice the lag (a narrower set cannot be kept ahead of the oracle's steps: re-proving
    would not help, and the lag is left out there)."""
    if not isinstance(risk, FeedRisk):
        risk = FeedRisk.constant(risk)
    live = [s for s in slots if s.proven]
    if any(s.outside(current[s.name]) for s in live):
        return 1.0
    feeds = sorted({s.feed for s in live if risk.daily_vol(s.feed) > 0})
    if not feeds or horizon_s <= 0:
        return 0.0
    hours = horizon_s / 3600.0
    times = np.linspace(hours / 8, hours, 8)
    fits, corr = risk.subset(feeds)
    paths = simulate(fits, corr, times, step_hours=risk.step_hours, samples=samples, seed=seed)
    out = np.zeros(samples, dtype=bool)
    for s in live:
        if s.feed not in feeds:
            continue
        ratio = paths.ratio[:, :, feeds.index(s.feed)]
        price = np.rint(ratio * float(current[s.name]))
        move = (price - s.proven) / s.proven  # statistics only: floats
        bound = s.limit / float(BPS_ONE * BPS_ONE)
        if bound > 2 * oracle_lag:
            bound -= oracle_lag
        hit = np.abs(move) > bound if s.is_market else -move > bound
        out |= hit.any(axis=1)
    return float(out.mean())


# ---------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Decision:
    prove: bool
    reason: str


def decide(
    *,
    now: int,
    shock_at: int,
    liquidatable_at: int | None,
    outside_now: bool,
    p_leave: float,
    reprove_before: float,
    prove_s: float,
    block_margin_s: float,
    lapse_margin_s: float,
) -> Decision:
    """Whether to re-prove now, and why. Pure: every input is a number the caller read."""
    if shock_at:
        return Decision(True, "flagged: a shock is pending")
    if outside_now:
        return Decision(True, "prices left the proven move set")
    lead = max(prove_s + block_margin_s, lapse_margin_s)
    if liquidatable_at is not None and now + lead >= liquidatable_at:
        return Decision(True, f"the proof lapses in {max(liquidatable_at - now, 0)} s")
    if p_leave > reprove_before:
        return Decision(
            True,
            f"{100 * p_leave:.1f}% chance of leaving the proven set within "
            f"{prove_s + block_margin_s:.0f} s (> {100 * reprove_before:g}%)",
        )
    return Decision(False, "safe")


# ---------------------------------------------------------------- top-ups


def needed_top_up(account: Account, data: MarketData, asset: str) -> int | None:
    """The smallest deposit of ``asset`` (token base units) after which ``account``
    meets maintenance margin at ``data``; 0 if it does, None if no deposit can."""
    unit = 10 ** (BALANCE_DECIMALS - data.collateral[asset].decimals)
    have = account.collateral.get(asset, 0)
    room = (2**BALANCE_BITS - 1 - have) // unit

    def ok(units: int) -> bool:
        collateral = dict(account.collateral)
        collateral[asset] = Balance(have + units * unit)
        acct = Account(account.address, account.salt, collateral, account.positions)
        return evaluate(acct, data, Mode.MAINTENANCE).solvent

    if ok(0):
        return 0
    hi = 1
    while hi < room and not ok(hi):
        hi *= 2
    hi = min(hi, room)
    if not ok(hi):
        return None
    lo = hi // 2  # not ok (or 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return int(hi)


# ---------------------------------------------------------------- state


@dataclass
class GuardState:
    engine: str
    chain_id: int
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    prove_s: float = DEFAULT_PROVE_S

    def entry(self, who: str) -> dict[str, Any]:
        return self.accounts.setdefault(who, {"inflight": None, "proven": [], "topped_up": {}})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "engine": self.engine,
            "chain_id": self.chain_id,
            "prove_ms": round(self.prove_s * 1000),
            "accounts": self.accounts,
        }

    @classmethod
    def load(cls, path: Path, engine: str, chain_id: int) -> GuardState:
        if not path.exists():
            return cls(engine, chain_id)
        data = read_json_file(path, "guardian state file")
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise InputError(f"guardian state file {path}: not a version {STATE_VERSION} state")
        if str(data["engine"]).lower() != engine.lower() or int(data["chain_id"]) != chain_id:
            raise InputError(
                f"guardian state file {path} is for engine {data['engine']} on chain "
                f"{data['chain_id']}: use another --state"
            )
        return cls(engine, chain_id, dict(data["accounts"]), int(data["prove_ms"]) / 1000)

    def save(self, path: Path) -> None:
        write_json(path, self.to_json(), mode=PRIVATE)


# ---------------------------------------------------------------- the daemon


@dataclass(frozen=True)
class GuardConfig:
    state_file: Path
    reprove_before: float = DEFAULT_REPROVE_BEFORE
    top_up_limits: Mapping[str, int] = field(default_factory=dict)  # asset -> base units
    daily_vol: Mapping[str, float] = field(default_factory=dict)  # feed -> daily vol
    # fitted to a price history (None: DEFAULT_DAILY_VOL per market feed, uncorrelated)
    feed_risk: FeedRisk | None = None
    observe_every_s: float = 0.0  # > 0: also fit the oracle prices seen, one per this
    interval: float = 5.0
    block_margin_s: float = DEFAULT_BLOCK_MARGIN_S
    lapse_margin_s: float = DEFAULT_LAPSE_MARGIN_S
    # how far an oracle answer may trail the market (its deviation threshold), relative
    oracle_lag: float = DEFAULT_ORACLE_LAG


@dataclass(frozen=True)
class Guarded:
    account: Account  # the private account file
    signer: Signer

    @property
    def address(self) -> str:
        return self.signer.address


class Guardian:
    """Keeps the trader's accounts proven; ``run`` loops until ``stop`` or ``max_iterations``."""

    def __init__(
        self,
        client: EngineClient,
        prover: Prover,
        accounts: Sequence[Guarded],
        config: GuardConfig,
        *,
        log: Log = print,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.prover = prover
        self.accounts = list(accounts)
        self.config = config
        self.log = log
        self.stop = stop or threading.Event()
        dep = client.deployment
        self.state = GuardState.load(config.state_file, dep.engine, dep.chain_id)
        market_feeds = sorted({m.feed for m in dep.markets})
        self.base_risk = config.feed_risk or FeedRisk.constant(
            dict.fromkeys(market_feeds, DEFAULT_DAILY_VOL),
            f"the default {100 * DEFAULT_DAILY_VOL:g}% a day per market feed",
        )
        self.observer = (
            PriceObserver(config.observe_every_s) if config.observe_every_s > 0 else None
        )
        self.risk = self.base_risk.with_vols(config.daily_vol)
        self._all_failed = False
        self._refused: dict[str, str] = {}

    def _save(self) -> None:
        self.state.save(self.config.state_file)

    # ---- markers

    def _resolve_inflight(self, g: Guarded, state: AccountState) -> bool:
        """Settle a marker left by an earlier attempt; True if the account must wait."""
        entry = self.state.entry(g.address)
        marker = entry.get("inflight")
        if not marker:
            return False
        nonce = int(marker["nonce"])
        if state.nonce > nonce:
            self.log(
                f"{g.address}: nonce {nonce} was proven before a restart; not proving it again"
            )
            entry["proven"] = sorted({*entry["proven"], nonce})[-16:]
        else:
            chain = self.client.chain
            latest = int(chain.request("eth_getTransactionCount", [g.address, "latest"]), 16)
            if chain.nonce(g.address) > latest:
                self.log(f"{g.address}: a transaction for nonce {nonce} is still pending; waiting")
                return True
            self.log(f"{g.address}: the attempt for nonce {nonce} never landed; judging afresh")
        entry["inflight"] = None
        self._save()
        return False

    # ---- volatility

    def _observe(self) -> None:
        """Record every feed's oracle price (one sample per ``observe_every_s``); once
        enough are seen, fit them (explicit ``--daily-vol`` still wins), and say so once.
        No sample while a feed cannot be read (stale, RPC error)."""
        if self.observer is None or not self.observer.due(time.time()):
            return
        prices: dict[str, int] = {}
        for feed in self.client.deployment.feeds:
            try:
                prices[feed.name] = self.client.price(feed.name)
            except ChainError:
                return  # no sample this time (a partial one would drop the feed)
        self.observer.observe(time.time(), prices)
        observed = self.observer.risk()
        if observed is None:
            return
        first = self.risk.source == self.base_risk.with_vols(self.config.daily_vol).source
        self.risk = observed.with_vols(self.config.daily_vol)
        if first:
            self.log(self.risk.describe())

    # ---- one account

    def check(self, g: Guarded) -> str | None:
        """Judge one account and act; returns what was done ("proved", "topped up", ...)."""
        client = self.client
        state = client.account_state(g.address)
        if not state.open:
            return None
        if self._resolve_inflight(g, state):
            return None
        status = client.status(g.address)
        data = client.market_data_for(state)
        slots = account_slots(client, state, data)
        current = {s.name: data.prices[s.name] for s in slots if s.name in data.prices}
        slots = [s for s in slots if s.name in current]
        outside = any(s.outside(current[s.name]) for s in slots) or engine_flaggable(
            client, g.address
        )
        horizon = self.state.prove_s + self.config.block_margin_s
        p = leave_probability(slots, current, self.risk, horizon, oracle_lag=self.config.oracle_lag)
        decision = decide(
            now=status.now,
            shock_at=state.shock_at,
            liquidatable_at=status.liquidatable_at,
            outside_now=outside,
            p_leave=p,
            reprove_before=self.config.reprove_before,
            prove_s=self.state.prove_s,
            block_margin_s=self.config.block_margin_s,
            lapse_margin_s=self.config.lapse_margin_s,
        )
        if not decision.prove:
            return None
        chain_acct = client.chain_account(g.account, data)
        report = evaluate(chain_acct, data, Mode.MAINTENANCE)
        if not report.solvent:
            if not self._top_up(
                g,
                state,
                chain_acct,
                data,
                report.equity_display(),
                report.requirement_display(),
                decision.reason,
            ):
                return "short"
        return self._prove(g, decision.reason)

    def _prove(self, g: Guarded, reason: str) -> str | None:
        client = self.client
        nonce = client.account_state(g.address).nonce  # read again: never twice per nonce
        entry = self.state.entry(g.address)
        if nonce in entry["proven"]:
            self.log(f"{g.address}: nonce {nonce} already proven by this guardian; skipping")
            return None
        entry["inflight"] = {"nonce": nonce, "since": int(time.time())}
        self._save()
        started = time.monotonic()
        try:
            tx = client.prove_margin(g.signer, g.account, self.prover)
        except InsufficientMargin as exc:
            entry["inflight"] = None
            self._save()
            self.log(f"{g.address}: cannot prove ({exc})")
            return "short"
        except BaseException:
            # leave the marker only if the proof may have reached the chain
            try:
                may_have_landed = client.account_state(g.address).nonce != nonce or self._pending(g)
            except Exception:  # cannot tell: keep the marker for the restart to settle
                may_have_landed = True
            if not may_have_landed:
                entry["inflight"] = None
                self._save()
            raise
        entry["inflight"] = None
        entry["proven"] = sorted({*entry["proven"], nonce})[-16:]
        took = time.monotonic() - started  # proving and sending: the lead a re-proof needs
        self.state.prove_s = 0.7 * self.state.prove_s + 0.3 * took
        self._save()
        self.log(
            f"proved {g.address} (nonce {nonce}; {reason}): tx {tx.result.tx_hash}, "
            f"{tx.result.gas_used:,} gas, proof {tx.prove_seconds:.2f} s"
        )
        return "proved"

    def _pending(self, g: Guarded) -> bool:
        try:
            chain = self.client.chain
            latest = int(chain.request("eth_getTransactionCount", [g.address, "latest"]), 16)
            return chain.nonce(g.address) > latest
        except ChainError:
            return True  # cannot tell: keep the marker

    def _top_up(
        self,
        g: Guarded,
        state: AccountState,
        account: Account,
        data: MarketData,
        equity: str,
        requirement: str,
        reason: str,
    ) -> bool:
        """Deposit the exact top-up within the limit; False (and a log line) if refused."""
        client = self.client
        dep = client.deployment
        assets = (
            [dep.assets[state.asset].name]
            if state.kind is Kind.ISOLATED
            else [a.name for a in dep.assets]
        )
        needs: dict[str, int] = {}
        for name in assets:
            units = needed_top_up(account, data, name)
            if units is not None:
                needs[name] = units
        entry = self.state.entry(g.address)
        spent: dict[str, int] = {k: int(v) for k, v in entry["topped_up"].items()}
        text = " or ".join(client.tokens_text(n, u) for n, u in needs.items()) or "none possible"
        for name, units in needs.items():
            limit = self.config.top_up_limits.get(name)
            if limit is None:
                continue
            left = limit - spent.get(name, 0)
            if units <= left and client.wallet_balance(g.address, name) >= units:
                client.deposit(g.signer, name, units)
                spent[name] = spent.get(name, 0) + units
                entry["topped_up"] = {k: str(v) for k, v in spent.items()}
                self._save()
                self.log(
                    f"topped up {g.address} with {client.tokens_text(name, units)} "
                    f"(equity {equity} < maintenance {requirement}; "
                    f"{format_fixed(left - units, dep.asset(name).decimals)} {name} of the "
                    "limit left)"
                )
                return True
        limits = (
            ", ".join(
                f"{format_fixed(v - spent.get(k, 0), dep.asset(k).decimals)} {k} left"
                for k, v in self.config.top_up_limits.items()
            )
            or "no --top-up-limit"
        )
        line = (
            f"CANNOT PROVE {g.address} ({reason}): equity {equity} < maintenance "
            f"{requirement}; top-up needed: {text}; {limits}: not topping up"
        )
        said = f"{state.nonce}:{text}:{limits}"
        if self._refused.get(g.address) != said:  # once per shortfall, not every loop
            self._refused[g.address] = said
            self.log(line)
        return False

    # ---- loop

    def step(self) -> dict[str, str]:
        """One loop over the accounts; an error on one account (a revert, a stale feed) is
        logged and the next account is still judged. Returns what was done, by address."""
        done: dict[str, str] = {}
        failed: list[ChainError] = []
        self._observe()
        for g in self.accounts:
            if self.stop.is_set():
                break
            try:
                action = self.check(g)
            except ChainError as exc:
                self.log(f"{g.address}: {exc}")
                failed.append(exc)
                continue
            if action:
                done[g.address] = action
        self._all_failed = bool(failed) and len(failed) == len(self.accounts)
        return done

    def _step_ok(self) -> bool:
        """One loop; False (back off) when every account's step failed (each logged)."""
        self.step()
        return not self._all_failed

    def run(self, max_iterations: int | None = None) -> None:
        names = ", ".join(g.address for g in self.accounts)
        self.log(
            f"guarding {names}: re-prove above {100 * self.config.reprove_before:g}% "
            f"chance of leaving the proven set, {self.config.lapse_margin_s:g} s before a lapse"
        )
        self.log(self.risk.describe())
        run_loop(
            self._step_ok,
            stop=self.stop,
            interval=self.config.interval,
            log=self.log,
            max_iterations=max_iterations,
        )
        self.log("guardian stopped")


def price_text(units: int) -> str:
    return format_fixed(units, PRICE_DECIMALS)
