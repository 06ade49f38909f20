"""The keeper bot: liquidates whatever the engine calls liquidatable, flags every account
the engine calls flaggable (prices left its proven move set), and classifies each
liquidation.

It reads the proven price words from the account's storage (public), as any keeper can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.stress.context import Context, Trader
from benchmarks.stress.results import Liquidation, ScenarioResult
from benchmarks.stress.timing import RETRY, STEP
from benchmarks.stress.valuation import asset_value, valuation
from chain.client import AccountState
from chain.deploy import SystemSpec
from chain.errors import RevertError
from zkmargin.units import BPS_ONE

UNLISTED = 0  # the proven price the engine stores for a slot unlisted at proof time
# Cross circuit slots: 4 market slots then 2 collateral slots (IMarginEngine.sol).
SLOT_FEEDS: tuple[str | None, ...] = ("ETH/USD", "BTC/USD", None, None, "USDC/USD", "ETH/USD")
SLOT_EXPOSURE: tuple[str | None, ...] = ("ETH-USD", "BTC-USD", None, None, "USDC", "WETH")
SPLIT_IDENTITY = "liquidation split = balance, reward = floor(balance * penalty)"
SET_RULE_IDENTITY = "exact move-set rule (keeper) = engine flaggable() at every keeper read"


def slot_rate_bps(slot: int, spec: SystemSpec) -> tuple[int, bool]:
    """The slot's rate in the move-set rule and whether it is a market (both ways) or a
    collateral (drops only): MMR for a market slot, haircut for a collateral slot."""
    name = SLOT_EXPOSURE[slot]
    for m in spec.markets:
        if m.name == name:
            return m.mmr_bps, True
    for a in spec.assets:
        if a.name == name:
            return a.haircut_bps, False
    raise KeyError(name)


def outside_set(proven: Sequence[int], prices: Mapping[str, int], spec: SystemSpec) -> list[int]:
    """Listed slots whose price at ``prices`` (1e-8 quote, per feed) lies outside the
    account's proven move set shrunk by the penalty: exactly the engine's flag rule
    (docs/protocol.md, "Flags at the edge of the proven move set"), on integers:

        market k:      |P' - P| * 1e4 * 1e4  >  mmr_k * (1e4 - pen) * P
        collateral c:  (P - P') * 1e4 * 1e4  >  h_c * (1e4 - pen) * P   (drops only)
    """
    keep = BPS_ONE - spec.liquidation_penalty_bps
    out = []
    for slot, (feed, at_proof) in enumerate(zip(SLOT_FEEDS, proven, strict=True)):
        if at_proof == UNLISTED or feed is None:
            continue
        rate, market = slot_rate_bps(slot, spec)
        move = prices[feed] - at_proof  # a rise is positive
        moved = abs(move) if market else -move  # collateral: only a drop counts
        if moved * BPS_ONE * BPS_ONE > rate * keep * at_proof:
            out.append(slot)
    return out


def moved_slots(state: AccountState, oracle: Mapping[str, int], threshold_bps: int) -> list[int]:
    """Listed slots whose price moved strictly more than ``threshold_bps`` since the proof."""
    out = []
    for slot, (feed, proven) in enumerate(zip(SLOT_FEEDS, state.proven_prices, strict=True)):
        if proven == UNLISTED or feed is None:
            continue
        current = oracle[feed]
        if abs(current - proven) * BPS_ONE > threshold_bps * proven:
            out.append(slot)
    return out


# Refusal reasons of the prover: the account is below MMR at the engine's (oracle) prices.
# ``SHORTFALL``: below MMR at the market price too, the account's own shortfall, which the
# grace period is for; ``ORACLE_LAG``: it meets MMR at the market price, the oracle lags.
SHORTFALL = "insufficient margin"
ORACLE_LAG = "insufficient margin at the oracle, solvent at the market"


def margin_refusal(*, solvent_at_market: bool) -> str:
    """The refusal reason recorded when the prover finds no proof at the oracle's prices."""
    return ORACLE_LAG if solvent_at_market else SHORTFALL


def kept_trying(*, diligent: bool, refusals: Sequence[str], since_attempt: int) -> bool:
    """The owner kept trying to prove: it reacts within the grace period, at least one
    attempt since its last accepted proof was refused for a reason that is not its own
    shortfall (a stale feed, the engine, or the prover at an oracle price the market has
    left), and its last attempt is at most one retry interval and a step old. A refusal
    because the account is below MMR at the market price too is not blocked trying: no
    proof exists because none should, and the grace period is the time to top up."""
    blocked = [r for r in refusals if r != SHORTFALL]
    return diligent and bool(blocked) and since_attempt <= RETRY + STEP


def classify(*, solvent: bool, within_rules: bool, refusals: Sequence[str], diligent: bool) -> str:
    """Why an account was liquidated (exactly one class; see the report's definitions)."""
    if not solvent:
        return "insolvent"
    if within_rules:
        return "solvent_within_rules"  # the engine's own promise broken
    if any(r.startswith(("OracleAdapter", "PortfolioEngine__FeedsStale")) for r in refusals):
        return "solvent_oracle_stale"
    if ORACLE_LAG in refusals:
        return "solvent_oracle_lag"
    if SHORTFALL in refusals:
        return "solvent_recovered"
    if not diligent:
        return "solvent_slow"
    return "solvent_late"


def within_engine_rules(
    at: int, *, proven_at: int, lifetime: int, shock_at: int, grace: int
) -> bool:
    """At ``at`` the account was still within the engine's promise: its proof unexpired
    and no flag unanswered past the grace period (both engines' liquidation rule)."""
    return at <= proven_at + lifetime and (shock_at == 0 or at <= shock_at + grace)


def keeper_step(
    ctx: Context, opened: Sequence[Trader], true: Mapping[str, int], t0: int, res: ScenarioResult
) -> None:
    oracle = ctx.oracle_prices()
    for t in opened:
        assert t.state is not None
        if t.liquidatable:
            liquidate(ctx, t, true, oracle, t0, res)
            continue
        if t.state.shock_at:
            continue
        try:
            flaggable = ctx.client.flaggable(t.signer.address)
        except RevertError as exc:  # the view reads prices: a stale feed refuses, no flag
            res.flags_refused[exc.name or "unknown revert"] += 1
            continue
        res.check(
            SET_RULE_IDENTITY,
            flaggable == bool(outside_set(t.state.proven_prices, oracle, ctx.spec)),
        )
        if not flaggable:
            continue
        moved = moved_slots(t.state, oracle, 0)  # for the "unrelated flag" statistic
        try:
            ctx.client.flag_shock(ctx.keeper, t.signer.address)
        except RevertError as exc:
            res.flags_refused[exc.name or "unknown revert"] += 1
            continue
        res.flags += 1
        exposure = {p.market for p in t.account.positions} | {a for a, v in t.balances.items() if v}
        if not any(SLOT_EXPOSURE[s] in exposure for s in moved):
            res.flags_unrelated += 1
        t.state = ctx.client.account_state(t.signer.address)


def liquidate(
    ctx: Context,
    t: Trader,
    true: Mapping[str, int],
    oracle: Mapping[str, int],
    t0: int,
    res: ScenarioResult,
) -> None:
    """Liquidate, check the engine's split against the balances, value it at the true
    prices and record it; the account's balances all leave it."""
    assert t.state is not None
    state, spec = t.state, ctx.spec
    now = ctx.chain.timestamp()
    before = dict(t.balances)
    try:
        result = ctx.client.liquidate(ctx.keeper, t.signer.address)
    except RevertError as exc:  # the record reads prices: refused while a feed is stale
        res.liquidations_refused[exc.name or "unknown revert"] += 1
        return
    at = ctx.block_time(result)
    args = ctx.event_args(result, "Liquidated")
    reward, to_pool = ctx.per_asset(args["reward"]), ctx.per_asset(args["toPool"])
    penalty = spec.liquidation_penalty_bps
    res.check(
        SPLIT_IDENTITY,
        all(
            reward[a] + to_pool[a] == before.get(a, 0)
            and reward[a] == before.get(a, 0) * penalty // BPS_ONE
            for a in reward
        ),
    )
    res.rewards.update(reward)
    res.to_pool.update(to_pool)
    val = valuation(t.account.positions, before, true, spec)
    at_oracle = valuation(t.account.positions, before, oracle, spec)
    loss = -val.raw.pnl
    # the proof's own lifetime and grace (per-proof snapshots); the stored times are
    # shifted by recorded stale time, which only makes this test more lenient
    lifetime = state.lifetime or spec.proof_lifetime
    grace = state.grace or spec.grace_period
    within_rules = within_engine_rules(
        at, proven_at=state.last_proof_at, lifetime=lifetime, shock_at=state.shock_at, grace=grace
    )
    record_liquidation(
        res,
        t,
        at=at,
        t0=t0,
        now=now,
        solvent=val.solvent,
        solvent_oracle=at_oracle.solvent,
        raw_equity=val.raw_equity,
        loss=loss,
        pool_received=asset_value(to_pool, true, spec),
        reward=asset_value(reward, true, spec),
        within_rules=within_rules,
        proven_at=state.last_proof_at,
        shock_at=state.shock_at,
    )


def record_liquidation(
    res: ScenarioResult,
    t: Any,
    *,
    at: int,
    t0: int,
    now: int,
    solvent: bool,
    solvent_oracle: bool,
    raw_equity: int,
    loss: int,
    pool_received: int,
    reward: int,
    within_rules: bool,
    proven_at: int,
    shock_at: int,
    kind: str = "rate-based",
) -> None:
    """Classify and record a mined liquidation of trader ``t`` (a cross or a portfolio
    trader: both carry the portfolio's behaviour, refusals, last attempt and balances);
    the account's balances all leave it and the owner reclaims next."""
    trying = kept_trying(
        diligent=t.portfolio.diligent, refusals=t.refusals, since_attempt=at - t.last_attempt
    )
    record = Liquidation(
        trader=t.portfolio.index,
        at=at - t0,
        cls=classify(
            solvent=solvent,
            within_rules=within_rules,
            refusals=t.refusals,
            diligent=t.portfolio.diligent,
        ),
        solvent_true=solvent,
        wrongful=solvent and trying,
        solvent_oracle=solvent_oracle,
        raw_equity=raw_equity,
        bad_debt=max(0, -raw_equity),
        loss=loss,
        pool_received=pool_received,
        seized=max(0, raw_equity),
        reward=reward,
        insolvent_for=None if t.insolvent_since is None else now - t.insolvent_since,
        proof_age=at - proven_at,
        shock_age=None if not shock_at else at - shock_at,
        refusals=sorted(set(t.refusals)),
        kind=kind,
    )
    res.liquidations.append(record)
    t.to_reclaim = record
    t.open = False
    t.balances = dict.fromkeys(t.balances, 0)
