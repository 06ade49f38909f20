"""Guardian behaviour in the stress paths: a trader whose guardian runs re-proves as soon
as :func:`chain.guardian.decide` says so, instead of waiting for its reaction time:

* a shock is flagged (at once, not after the reaction time);
* a price is already outside the shrunk proven set;
* the proof lapses within the lapse margin (as every trader does);
* the chance of leaving the proven set before the next step plus a block margin
  exceeds 5% (:func:`chain.guardian.leave_probability`, 5% daily volatility per market
  feed, the guardian's default).

What it does when it cannot prove is the trader's own style (top up, close, wait).
"""

from __future__ import annotations

from benchmarks.stress.context import Context, Trader
from benchmarks.stress.timing import REFRESH_MARGIN, STEP
from chain.guardian import (
    DEFAULT_BLOCK_MARGIN_S,
    DEFAULT_DAILY_VOL,
    DEFAULT_REPROVE_BEFORE,
    account_slots,
    decide,
    leave_probability,
)
from zkmargin.feedrisk import FeedRisk
from zkmargin.model import MarketData

PROVE_S = 5.0  # the guardian's starting estimate of proving + sending


def guardian_risk(ctx: Context) -> FeedRisk:
    feeds = {m.feed for m in ctx.system.deployment.markets}
    return FeedRisk.constant(dict.fromkeys(sorted(feeds), DEFAULT_DAILY_VOL))


def guardian_due(ctx: Context, t: Trader, data: MarketData, risk: FeedRisk, now: int) -> bool:
    """Whether the trader's guardian would re-prove now."""
    state = t.state
    if state is None:
        return False
    slots = [s for s in account_slots(ctx.client, state, data) if s.name in data.prices]
    current = {s.name: data.prices[s.name] for s in slots}
    outside = any(s.outside(current[s.name]) for s in slots)
    p = 0.0 if outside else leave_probability(slots, current, risk, STEP + DEFAULT_BLOCK_MARGIN_S)
    return decide(
        now=now,
        shock_at=state.shock_at,
        liquidatable_at=state.last_proof_at + (state.lifetime or ctx.spec.proof_lifetime),
        outside_now=outside,
        p_leave=p,
        reprove_before=DEFAULT_REPROVE_BEFORE,
        prove_s=PROVE_S,
        block_margin_s=DEFAULT_BLOCK_MARGIN_S,
        lapse_margin_s=REFRESH_MARGIN,
    ).prove
