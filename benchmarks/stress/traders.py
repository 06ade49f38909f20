"""The traders: re-prove when due, and when the prover refuses, top up, close or wait.

A trader is due when a shock is flagged on it (after its reaction time) or when its proof
is ``REFRESH_MARGIN`` seconds from expiring; with a guardian (``guardian``), also whenever
:func:`benchmarks.stress.guardian.guardian_due` says so. It attempts at most once per
``RETRY``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.stress.context import Context, Trader
from benchmarks.stress.guardian import guardian_due, guardian_risk
from benchmarks.stress.keeper import margin_refusal
from benchmarks.stress.money import CLOSE_SCALE
from benchmarks.stress.population import Style
from benchmarks.stress.results import ScenarioResult
from benchmarks.stress.scenarios import Scenario
from benchmarks.stress.timing import REFRESH_MARGIN, RETRY
from benchmarks.stress.valuation import asset_value, valuation
from chain.client import Kind
from chain.errors import ChainError, RevertError
from zkmargin.errors import InsufficientMargin, ZkMarginError
from zkmargin.model import MarketData, Mode
from zkmargin.units import BALANCE_DECIMALS, BPS_ONE

TOPUP_TARGET = (3, 2)  # defenders top up to 1.5x the maintenance requirement
# a liquidatable account's close first returns the liquidation reward (CloseRewarded) out of
# the balance, then settles the rest: the identity holds with the reward in `returned`
CLOSE_IDENTITY = "close: balance - returned = AccountClosed toPool - fromPool (per asset)"
CLOSE_REWARD_IDENTITY = "close of a liquidatable account: CloseRewarded = floor(balance * penalty)"
RECLAIM_IDENTITY = "reclaim: owner's wallet gain = Reclaimed.paid (per asset)"


def traders_step(
    ctx: Context,
    order: Sequence[Trader],
    scenario: Scenario,
    res: ScenarioResult,
    *,
    guardian: bool = False,
) -> None:
    data: MarketData | None = None
    stale: str | None = None
    risk = guardian_risk(ctx) if guardian else None

    def read() -> None:
        nonlocal data, stale
        if data is None and stale is None:
            try:
                data = ctx.client.market_data(Kind.CROSS)
            except RevertError as exc:
                stale = exc.name or "unknown revert"

    for t in order:
        if not t.open or t.state is None:
            continue
        now = ctx.chain.timestamp()
        # the lifetime of the proof it holds (3 days by default), not an assumed hour
        lifetime = t.state.lifetime or ctx.spec.proof_lifetime
        due = t.state.last_proof_at + lifetime - REFRESH_MARGIN
        if t.state.shock_at:
            due = min(due, t.state.shock_at + t.portfolio.reaction)
        if risk is not None and now < due and now - t.last_attempt >= RETRY:
            read()
            if data is not None and guardian_due(ctx, t, data, risk, now):
                due = now
                res.guardian_triggers += 1
        if now < due or now - t.last_attempt < RETRY:
            continue
        t.last_attempt = now
        res.proof_attempts += 1
        read()
        if data is None:
            # The engine cannot read a price: no proof, no flag, no close. Depositing
            # works but cannot stop a lapse. A trader that would act tries to close
            # (its only way out); a passive one waits for the feed.
            refused(t, stale or "oracle", res)
            poke(ctx, t, res)
            if not scenario.passive and t.portfolio.style is not Style.PASSIVE:
                close(ctx, t, res)
            continue
        attempt(ctx, t, data, scenario, res)


def poke(ctx: Context, t: Trader, res: ScenarioResult) -> None:
    """Record the outage on the account's clock (``pokeStale``): its lapse and grace
    clocks stop while the feed is stale (docs/protocol.md)."""
    try:
        ctx.client.poke_stale(t.signer, t.signer.address)
    except RevertError as exc:
        res.pokes_refused[exc.name or "unknown revert"] += 1
        return
    res.stale_pokes += 1


def reclaim(ctx: Context, t: Trader, true: Mapping[str, int], res: ScenarioResult) -> None:
    """The owner of a liquidated account reveals it to get back its equity above the
    penalty (``reclaim``); what the vault paid is checked against the wallet."""
    record, t.to_reclaim = t.to_reclaim, None
    assets = ctx.assets
    wallet = {a: ctx.client.wallet_balance(t.signer.address, a) for a in assets}
    try:
        result = ctx.client.reclaim(t.signer, t.account)
    except (RevertError, ChainError) as exc:
        res.reclaims_refused[getattr(exc, "name", None) or type(exc).__name__] += 1
        return
    args = ctx.event_args(result, "Reclaimed")
    paid = ctx.per_asset(args["paid"])
    got = {a: ctx.client.wallet_balance(t.signer.address, a) - wallet[a] for a in assets}
    res.check(RECLAIM_IDENTITY, got == paid)
    res.reclaim_paid.update(got)
    value = asset_value(got, true, ctx.spec)
    res.reclaims += 1
    res.reclaimed_value += value
    res.reclaim_bad_debt += int(args["badDebt"]) * CLOSE_SCALE
    if record is not None:
        record.reclaimed = value


def refused(t: Trader, reason: str, res: ScenarioResult) -> None:
    res.proofs_refused[reason] += 1
    res.accounts_refused.add(t.portfolio.index)
    t.refusals.append(reason)


def attempt(
    ctx: Context, t: Trader, data: MarketData, scenario: Scenario, res: ScenarioResult
) -> None:
    try:
        ctx.prover.check(ctx.chain_account(t), data, Mode.MAINTENANCE)
    except InsufficientMargin:
        refused(t, margin_refusal(solvent_at_market=t.insolvent_since is None), res)
        if scenario.passive or t.portfolio.style is Style.PASSIVE:
            return
        if t.portfolio.style is Style.DEFENDER and top_up(ctx, t, data, res):
            res.proof_attempts += 1
            prove(ctx, t, res)
            return
        close(ctx, t, res)
        return
    prove(ctx, t, res)


def prove(ctx: Context, t: Trader, res: ScenarioResult) -> None:
    try:
        tx = ctx.client.prove_margin(t.signer, t.account, ctx.prover)
    except RevertError as exc:
        refused(t, exc.name or "unknown revert", res)
        return
    except InsufficientMargin:
        refused(t, margin_refusal(solvent_at_market=t.insolvent_since is None), res)
        return
    except ZkMarginError as exc:
        refused(t, type(exc).__name__, res)
        return
    res.proofs_accepted += 1
    res.prove_seconds += tx.prove_seconds
    t.refusals = []
    t.state = ctx.client.account_state(t.signer.address)


def topup_amount(deficit: int, usdc_price: int) -> int:
    """USDC base units (1e-6) whose value covers ``deficit`` margin units, rounded up."""
    unit: int = 10 ** (BALANCE_DECIMALS - 6) * usdc_price * BPS_ONE  # margin units / 1e-6 USDC
    return -(-deficit // unit)


def top_up(ctx: Context, t: Trader, data: MarketData, res: ScenarioResult) -> bool:
    """Deposit USDC so that equity reaches 1.5x MMR, if the account is worth saving
    (raw equity > 0) and the wallet reserve covers it."""
    oracle = ctx.oracle_prices()
    val = valuation(t.account.positions, t.balances, oracle, ctx.spec)
    if val.raw_equity <= 0:
        return False
    num, den = TOPUP_TARGET
    deficit = val.maintenance.requirement * num // den - val.maintenance.equity
    amount = topup_amount(deficit, data.prices["USDC"])
    if amount <= 0 or amount > t.reserve:
        return False
    ctx.client.deposit(t.signer, "USDC", amount)
    t.reserve -= amount
    t.balances["USDC"] = t.balances.get("USDC", 0) + amount
    res.topup_tokens["USDC"] += amount
    res.topups += 1
    res.topup_value += asset_value({"USDC": amount}, oracle, ctx.spec)
    return True


def close_reward(
    events: Sequence[Any], balances: Mapping[str, int], penalty_bps: int, per_asset: Any
) -> bool:
    """Whether a close's ``CloseRewarded`` (if any: the account was liquidatable) paid
    what ``liquidate`` would: floor(balance * penalty) of each asset."""
    if not events:
        return True
    reward = per_asset(events[0].args["reward"])
    return all(reward[a] == balances.get(a, 0) * penalty_bps // BPS_ONE for a in reward)


def close(ctx: Context, t: Trader, res: ScenarioResult) -> None:
    """Close the account (a liquidatable one gets the liquidation reward first); record
    what went back and to the pool."""
    assets = ctx.assets
    wallet = {a: ctx.client.wallet_balance(t.signer.address, a) for a in assets}
    try:
        result = ctx.client.close(t.signer, t.account)
    except RevertError as exc:
        res.closes_refused[exc.name or "unknown revert"] += 1
        return
    args = ctx.event_args(result, "AccountClosed")
    to_pool, from_pool = ctx.per_asset(args["toPool"]), ctx.per_asset(args["fromPool"])
    rewarded = ctx.client.engine.events(result, "CloseRewarded")
    res.check(
        CLOSE_REWARD_IDENTITY,
        close_reward(rewarded, t.balances, ctx.spec.liquidation_penalty_bps, ctx.per_asset),
    )
    for a in assets:
        returned = ctx.client.wallet_balance(t.signer.address, a) - wallet[a]
        res.close_returned[a] += returned
        res.close_to_pool[a] += t.balances.get(a, 0) - returned
        res.check(CLOSE_IDENTITY, t.balances.get(a, 0) - returned == to_pool[a] - from_pool[a])
    res.close_fee += int(args["fee"]) * CLOSE_SCALE
    res.closes += 1
    res.closed_pnl += int(args["pnl"]) * CLOSE_SCALE
    res.closed_bad_debt += int(args["badDebt"]) * CLOSE_SCALE
    t.open = False
    t.balances = dict.fromkeys(t.balances, 0)
