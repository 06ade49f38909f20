"""The accounting identities checked after every scenario, all on integers.

Token flows are compared in base units per asset against the chain's own balances; the
scenario's counters must add up; money identities compare margin units exactly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.stress.context import Context, Trader
from benchmarks.stress.keeper import SPLIT_IDENTITY
from benchmarks.stress.results import ScenarioResult


@dataclass(frozen=True)
class Totals:
    """Per asset (base units): token supply, engine holdings, pool, keeper wallet."""

    supply: dict[str, int]
    engine: dict[str, int]
    pool: dict[str, int]
    keeper: dict[str, int]


def totals(ctx: Context) -> Totals:
    c, assets = ctx.client, ctx.assets
    engine = ctx.system.deployment.engine
    return Totals(
        supply={a: ctx.total_supply(a) for a in assets},
        engine={a: c.wallet_balance(engine, a) for a in assets},
        pool={a: c.pools.state(a).held for a in assets},  # tokens the vault accounts for
        keeper={a: c.wallet_balance(ctx.keeper.address, a) for a in assets},
    )


def check_identities(
    ctx: Context, traders: Sequence[Trader], res: ScenarioResult, before: Totals
) -> None:
    after = totals(ctx)
    c = ctx.client
    assets = list(after.supply)
    onchain = {t.portfolio.index: c.balances(t.signer.address) for t in traders}
    ids = res.identities
    ids.setdefault(SPLIT_IDENTITY, True)
    ids["no token created or destroyed: every token's supply unchanged"] = (
        after.supply == before.supply
    )
    ids["engine tokens = sum of account balances (the pool is the vault)"] = all(
        after.engine[a] == sum(b.get(a, 0) for b in onchain.values()) for a in assets
    )
    ids["tracked balances = engine balances"] = all(
        onchain[t.portfolio.index].get(a, 0) == t.balances.get(a, 0)
        for t in traders
        for a in assets
    )
    ids["keeper wallet gain = sum of liquidation rewards"] = all(
        after.keeper[a] - before.keeper[a] == res.rewards.get(a, 0) + res.pf_rewards.get(a, 0)
        for a in assets
    )
    # the vault's tokens move only through: liquidation escrow in (Liquidated.toPool, the
    # reclaimable part included), reclaim paid out, and at close the balance not returned
    # (loss + close fee in, profit out: AccountClosed toPool - fromPool, checked per close)
    ids[
        "vault held change = liquidation escrow - reclaim paid + close (losses + fees - profits)"
    ] = all(
        after.pool[a] - before.pool[a]
        == res.to_pool.get(a, 0) - res.reclaim_paid.get(a, 0) + res.close_to_pool.get(a, 0)
        for a in assets
    )
    ids["engine + vault token change = top-ups - rewards - returned at close - reclaim paid"] = all(
        after.engine[a] + after.pool[a] - before.engine[a] - before.pool[a]
        == res.topup_tokens.get(a, 0)
        - res.rewards.get(a, 0)
        - res.close_returned.get(a, 0)
        - res.reclaim_paid.get(a, 0)
        for a in assets
    )
    ids["closed or liquidated accounts hold nothing; open ones are open on-chain"] = all(
        (c.account_state(t.signer.address).open == t.open)
        and (t.open or not any(onchain[t.portfolio.index].values()))
        for t in traders
    )
    ids["proof attempts = accepted + refused"] = res.proof_attempts == (
        res.proofs_accepted + sum(res.proofs_refused.values())
    )
    ids["liquidations = sum of classes"] = len(res.liquidations) == sum(
        Counter(x.cls for x in res.liquidations).values()
    )
    ids["bad debt >= 0, pool shortfall >= bad debt (exact)"] = all(
        x.bad_debt >= 0 and x.pool_shortfall >= x.bad_debt for x in res.liquidations
    )
