"""The portfolio accounts on the chain: opening, the keeper, the traders and the money
identities of the PortfolioEngine and its vaults, mirroring ``keeper``/``traders``/
``identities`` for the rate-based engine.

Same behaviour as the cross traders: due when a flag is raised on them (after their
reaction time) or ``REFRESH_MARGIN`` before their proof lapses, at most once per
``RETRY``; when the prover refuses (insufficient margin at the engine's prices) a defender
tops up USDC to 1.5x the maintenance requirement and proves, a closer closes, a passive
trader waits; a refusal for a stale feed pokes the engine-wide outage clock
(``pokeStale``); the owner of a liquidated account reclaims. The keeper flags whatever
``flaggable()`` allows (checked against :func:`benchmarks.stress.books.pf_outside` at
every read) and liquidates whatever ``liquidatable()`` allows. No guardian: in the
guardian runs portfolio traders behave as without one.

An account is judged solvent as a maintenance proof would claim it (options at the epoch's
marks: the proven statement), and its PnL and raw equity are what the engine realises at
close, liquidation and reclaim (:func:`settled_value`: options from the move since the
publication, ``zkmargin.settlement``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.stress.books import Book, book_value, pf_outside, priced
from benchmarks.stress.context import Context
from benchmarks.stress.keeper import (
    ORACLE_LAG,
    SHORTFALL,
    margin_refusal,
    record_liquidation,
    within_engine_rules,
)
from benchmarks.stress.money import CLOSE_SCALE
from benchmarks.stress.population import Style, trader_signer
from benchmarks.stress.results import Liquidation, ScenarioResult
from benchmarks.stress.scenarios import Scenario
from benchmarks.stress.timing import REFRESH_MARGIN, RETRY
from benchmarks.stress.traders import (
    CLOSE_IDENTITY,
    CLOSE_REWARD_IDENTITY,
    RECLAIM_IDENTITY,
    close_reward,
    topup_amount,
)
from benchmarks.stress.valuation import asset_value
from chain.artifacts import load_artifact
from chain.errors import ChainError, RevertError
from chain.portfolio import PortfolioClient, PortfolioState
from chain.rpc import Contract
from chain.signers import Signer
from zkmargin.errors import InsufficientMargin, ZkMarginError
from zkmargin.portfolio import PortfolioAccount, PortfolioPosition, PortfolioReport
from zkmargin.riskfile import RiskFile, load_risk_file
from zkmargin.settlement import settlement_pnl
from zkmargin.units import BPS_ONE

PF_SPLIT_IDENTITY = "portfolio liquidation split = balance, reward = floor(balance * penalty)"
PF_SET_RULE_IDENTITY = (
    "portfolio exact move-set rule (ellipsoid + collateral) = engine flaggable() at every "
    "keeper read"
)
STALE_REVERTS = ("OracleAdapter", "PortfolioEngine__FeedsStale")


@dataclass
class BookTrader:
    """A portfolio trader during one scenario (``portfolio``: its :class:`Book`)."""

    portfolio: Book
    signer: Signer
    account: PortfolioAccount
    balances: dict[str, int]
    reserve: int
    open: bool = True
    state: PortfolioState | None = None
    liquidatable: bool = False
    last_attempt: int = -(10**9)
    refusals: list[str] = field(default_factory=list)
    insolvent_since: int | None = None
    sample: tuple[bool, bool, bool] = (False, False, False)
    to_reclaim: Liquidation | None = None


@dataclass
class PfContext:
    """The PortfolioEngine of the deployment, its risk file (the only epoch), the oracle
    prices the engine read when it published it (by market name), and vaults."""

    client: PortfolioClient
    risk: RiskFile
    published: dict[str, int]
    penalty_bps: int
    pools: dict[str, Contract]
    asset_ids: dict[str, int]

    @classmethod
    def connect(cls, ctx: Context, risk_path: Path) -> PfContext:
        d = ctx.system.deployment
        client = PortfolioClient(ctx.chain, d.contracts["PortfolioEngine"])
        risk = load_risk_file(risk_path)
        client.check_risk_file(risk)
        abi = load_artifact("MarginPool").abi
        pools = {
            a.name: Contract(ctx.chain, d.contracts[f"PortfolioPool {a.name}"], abi, a.name)
            for a in d.assets
        }
        penalty = int(client.engine.call("liquidationPenaltyBps"))
        published = client.publication_prices(risk)
        return cls(client, risk, published, penalty, pools, {a.name: a.id for a in d.assets})

    @property
    def engine(self) -> str:
        return self.client.engine.address

    def per_asset(self, values: Any) -> dict[str, int]:
        return {name: int(values[i]) for name, i in self.asset_ids.items()}

    def event_args(self, result: Any, name: str) -> Any:
        return self.client.engine.events(result, name)[0].args


def open_book(ctx: Context, pf: PfContext, book: Book, seed: int, gas: str) -> BookTrader:
    signer = trader_signer(seed, book.index)
    ctx.chain.request("anvil_setBalance", [signer.address, gas])
    for asset, amount in book.deposits.items():
        ctx.client.mint(ctx.admin, signer.address, asset, amount)
        pf.client.deposit(signer, pf.asset_ids[asset], amount)
    if book.reserve:
        ctx.client.mint(ctx.admin, signer.address, "USDC", book.reserve)
    draft = PortfolioAccount(int(signer.address, 16), 1, {}, book.positions)
    account = pf.client.plan_open(draft, pf.risk)
    pf.client.open(signer, account, pf.risk, ctx.prover)
    return BookTrader(book, signer, account, dict(book.deposits), book.reserve)


def fresh(t: BookTrader) -> BookTrader:
    return replace(t, balances=dict(t.portfolio.deposits), reserve=t.portfolio.reserve, refusals=[])


def proven_set(
    pf: PfContext,
    traders: Sequence[BookTrader],
    paths: Sequence[Mapping[str, int]],
    res: ScenarioResult,
) -> None:
    """Each account's opening proof against every point of the path (the engine's rule)."""
    for t in traders:
        words = pf.client.account_state(t.signer.address).proven_price_words
        if any(pf_outside(words, true, pf.risk, pf.penalty_bps) for true in paths):
            res.outside_set_accounts.add(t.portfolio.index)
            res.pf_outside_set.add(t.portfolio.index)


@dataclass(frozen=True)
class SettledValue:
    """A portfolio account at given feed prices (margin units, 1e-30 quote)."""

    maintenance: PortfolioReport  # λ_MM, haircuts, options at the marks: what a proof claims
    raw_equity: int  # collateral without haircut + pnl
    pnl: int  # what close or reclaim realises (the engine's settlement rule)

    @property
    def solvent(self) -> bool:
        return self.maintenance.solvent


def settled_value(
    positions: Sequence[PortfolioPosition],
    balances: Mapping[str, int],
    prices: Mapping[str, int],
    risk: RiskFile,
    published: Mapping[str, int],
) -> SettledValue:
    """``books.book_value`` with the PnL the engine settles at ``prices`` (feed -> 1e-8
    quote): options valued from the move since the publication at ``published``."""
    proven = book_value(positions, balances, prices, risk)
    pnl = settlement_pnl(positions, priced(risk, prices), published) * CLOSE_SCALE
    return SettledValue(proven.maintenance, proven.raw_equity - proven.pnl + pnl, pnl)


def value(
    pf: PfContext, t: BookTrader, balances: Mapping[str, int], prices: Mapping[str, int]
) -> SettledValue:
    return settled_value(t.account.positions, balances, prices, pf.risk, pf.published)


def sample(
    ctx: Context,
    pf: PfContext,
    opened: Sequence[BookTrader],
    true: Mapping[str, int],
    now: int,
    last: int,
    res: ScenarioResult,
    *,
    final: bool = False,
) -> None:
    """As ``Simulation._sample`` for portfolio accounts (model: :func:`settled_value`)."""
    dt = now - last
    for t in opened:
        insolvent, underwater, liquidatable = t.sample
        i = t.portfolio.index
        if insolvent and not liquidatable:
            res.insolvent_not_liquidatable[i] = res.insolvent_not_liquidatable.get(i, 0) + dt
        if underwater and not liquidatable:
            res.underwater_not_liquidatable[i] = res.underwater_not_liquidatable.get(i, 0) + dt
        val = value(pf, t, t.balances, true)
        if final:
            res.open_at_end += 1
            res.insolvent_open_at_end += not val.solvent
            res.underwater_open_at_end += val.raw_equity < 0
            continue
        t.state = pf.client.account_state(t.signer.address)
        try:
            t.liquidatable = pf.client.liquidatable(t.signer.address)
        except RevertError as exc:
            res.flags_refused[f"portfolio liquidatable(): {exc.name or 'unknown revert'}"] += 1
            t.liquidatable = False
        t.sample = (not val.solvent, val.raw_equity < 0, t.liquidatable)
        if val.solvent:
            t.insolvent_since = None
            res.solvent_liquidatable_samples += t.liquidatable
        elif t.insolvent_since is None:
            t.insolvent_since = now


# ---------------------------------------------------------------- keeper


def keeper_step(
    ctx: Context,
    pf: PfContext,
    opened: Sequence[BookTrader],
    true: Mapping[str, int],
    t0: int,
    res: ScenarioResult,
) -> None:
    oracle = ctx.oracle_prices()
    for t in opened:
        assert t.state is not None
        if t.liquidatable:
            liquidate(ctx, pf, t, true, oracle, t0, res)
            continue
        if t.state.shock_at:
            continue
        try:
            flaggable = pf.client.flaggable(t.signer.address)
        except RevertError as exc:
            res.flags_refused[f"portfolio: {exc.name or 'unknown revert'}"] += 1
            continue
        rule = pf_outside(t.state.proven_price_words, oracle, pf.risk, pf.penalty_bps)
        res.check(PF_SET_RULE_IDENTITY, flaggable == rule)
        if not flaggable:
            continue
        try:
            pf.client.flag(ctx.keeper, t.signer.address)
        except RevertError as exc:
            res.flags_refused[f"portfolio: {exc.name or 'unknown revert'}"] += 1
            continue
        res.flags += 1
        res.pf["flags"] += 1
        t.state = pf.client.account_state(t.signer.address)


def liquidate(
    ctx: Context,
    pf: PfContext,
    t: BookTrader,
    true: Mapping[str, int],
    oracle: Mapping[str, int],
    t0: int,
    res: ScenarioResult,
) -> None:
    assert t.state is not None
    state = t.state
    now = ctx.chain.timestamp()
    before = dict(t.balances)
    try:
        result = pf.client.liquidate(ctx.keeper, t.signer.address)
    except RevertError as exc:
        res.liquidations_refused[f"portfolio: {exc.name or 'unknown revert'}"] += 1
        return
    at = ctx.block_time(result)
    args = pf.event_args(result, "Liquidated")
    reward, to_pool = pf.per_asset(args["reward"]), pf.per_asset(args["toPool"])
    res.check(
        PF_SPLIT_IDENTITY,
        all(
            reward[a] + to_pool[a] == before.get(a, 0)
            and reward[a] == before.get(a, 0) * pf.penalty_bps // BPS_ONE
            for a in reward
        ),
    )
    res.pf_rewards.update(reward)
    res.pf_to_pool.update(to_pool)
    val = value(pf, t, before, true)
    at_oracle = value(pf, t, before, oracle)
    within_rules = within_engine_rules(
        at,
        proven_at=state.proven_at,
        lifetime=state.lifetime,
        shock_at=state.shock_at,
        grace=state.grace,
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
        loss=-val.pnl,
        pool_received=asset_value(to_pool, true, ctx.spec),
        reward=asset_value(reward, true, ctx.spec),
        within_rules=within_rules,
        proven_at=state.proven_at,
        shock_at=state.shock_at,
        kind="portfolio",
    )


# ---------------------------------------------------------------- traders


def traders_step(
    ctx: Context,
    pf: PfContext,
    order: Sequence[BookTrader],
    scenario: Scenario,
    res: ScenarioResult,
    rng: random.Random,
) -> None:
    order = list(order)
    rng.shuffle(order)
    for t in order:
        if not t.open or t.state is None:
            continue
        now = ctx.chain.timestamp()
        due = t.state.proven_at + t.state.lifetime - REFRESH_MARGIN
        if t.state.shock_at:
            due = min(due, t.state.shock_at + t.portfolio.reaction)
        if now < due or now - t.last_attempt < RETRY:
            continue
        t.last_attempt = now
        attempt(ctx, pf, t, scenario, res)


def refused(t: BookTrader, reason: str, res: ScenarioResult) -> None:
    res.proofs_refused[reason] += 1
    res.pf_refused[reason] += 1
    res.accounts_refused.add(t.portfolio.index)
    t.refusals.append(reason)


def attempt(
    ctx: Context, pf: PfContext, t: BookTrader, scenario: Scenario, res: ScenarioResult
) -> None:
    outcome = prove(ctx, pf, t, res)
    if outcome in (SHORTFALL, ORACLE_LAG):
        if scenario.passive or t.portfolio.style is Style.PASSIVE:
            return
        if t.portfolio.style is Style.DEFENDER and top_up(ctx, pf, t, res):
            prove(ctx, pf, t, res)
            return
        close(ctx, pf, t, res)
    elif outcome is not None and outcome.startswith(STALE_REVERTS):
        poke(ctx, pf, t, res)
        if not scenario.passive and t.portfolio.style is not Style.PASSIVE:
            close(ctx, pf, t, res)


def prove(ctx: Context, pf: PfContext, t: BookTrader, res: ScenarioResult) -> str | None:
    """One attempt; returns the refusal reason (None: accepted)."""
    res.proof_attempts += 1
    res.pf["proof_attempts"] += 1
    try:
        tx = pf.client.prove_margin(t.signer, t.account, pf.risk, ctx.prover)
    except InsufficientMargin:
        reason = margin_refusal(solvent_at_market=t.insolvent_since is None)
    except RevertError as exc:
        reason = exc.name or "unknown revert"
    except ZkMarginError as exc:
        reason = type(exc).__name__
    else:
        res.proofs_accepted += 1
        res.pf["proofs_accepted"] += 1
        res.prove_seconds += tx.prove_seconds
        t.refusals = []
        t.state = pf.client.account_state(t.signer.address)
        return None
    refused(t, reason, res)
    return reason


def poke(ctx: Context, pf: PfContext, t: BookTrader, res: ScenarioResult) -> None:
    """The engine-wide outage clock (``pokeStale`` on the portfolio engine)."""
    try:
        pf.client.poke_stale(t.signer)
    except RevertError as exc:
        res.pokes_refused[f"portfolio: {exc.name or 'unknown revert'}"] += 1
        return
    res.stale_pokes += 1


def top_up(ctx: Context, pf: PfContext, t: BookTrader, res: ScenarioResult) -> bool:
    oracle = ctx.oracle_prices()
    val = value(pf, t, t.balances, oracle)
    if val.raw_equity <= 0:
        return False
    deficit = val.maintenance.requirement * 3 // 2 - val.maintenance.equity
    amount = topup_amount(deficit, oracle["USDC/USD"])
    if amount <= 0 or amount > t.reserve:
        return False
    pf.client.deposit(t.signer, pf.asset_ids["USDC"], amount)
    t.reserve -= amount
    t.balances["USDC"] = t.balances.get("USDC", 0) + amount
    res.pf_topup_tokens["USDC"] += amount
    res.topups += 1
    res.pf["topups"] += 1
    res.topup_value += asset_value({"USDC": amount}, oracle, ctx.spec)
    return True


def close(ctx: Context, pf: PfContext, t: BookTrader, res: ScenarioResult) -> None:
    wallet = {a: ctx.client.wallet_balance(t.signer.address, a) for a in pf.asset_ids}
    try:
        result = pf.client.close(t.signer, t.account, pf.risk)
    except (RevertError, ChainError) as exc:
        res.closes_refused[f"portfolio: {getattr(exc, 'name', None) or type(exc).__name__}"] += 1
        return
    args = pf.event_args(result, "AccountClosed")
    to_pool, from_pool = pf.per_asset(args["toPool"]), pf.per_asset(args["fromPool"])
    rewarded = pf.client.engine.events(result, "CloseRewarded")
    res.check(
        "portfolio " + CLOSE_REWARD_IDENTITY,
        close_reward(rewarded, t.balances, pf.penalty_bps, pf.per_asset),
    )
    for a in pf.asset_ids:
        returned = ctx.client.wallet_balance(t.signer.address, a) - wallet[a]
        res.pf_close_returned[a] += returned
        res.pf_close_to_pool[a] += t.balances.get(a, 0) - returned
        res.check(
            "portfolio " + CLOSE_IDENTITY,
            t.balances.get(a, 0) - returned == to_pool[a] - from_pool[a],
        )
    res.close_fee += int(args["fee"]) * CLOSE_SCALE
    res.closes += 1
    res.pf["closes"] += 1
    res.closed_pnl += int(args["pnl"]) * CLOSE_SCALE
    res.pf_closed_bad_debt += int(args["badDebt"]) * CLOSE_SCALE
    t.open = False
    t.balances = dict.fromkeys(t.balances, 0)


def reclaim(
    ctx: Context, pf: PfContext, t: BookTrader, true: Mapping[str, int], res: ScenarioResult
) -> None:
    record, t.to_reclaim = t.to_reclaim, None
    wallet = {a: ctx.client.wallet_balance(t.signer.address, a) for a in pf.asset_ids}
    try:
        result = pf.client.reclaim(t.signer, t.account, pf.risk)
    except (RevertError, ChainError) as exc:
        res.reclaims_refused[f"portfolio: {getattr(exc, 'name', None) or type(exc).__name__}"] += 1
        return
    args = pf.event_args(result, "Reclaimed")
    paid = pf.per_asset(args["paid"])
    got = {a: ctx.client.wallet_balance(t.signer.address, a) - wallet[a] for a in pf.asset_ids}
    res.check("portfolio " + RECLAIM_IDENTITY, got == paid)
    res.pf_reclaim_paid.update(got)
    got_value = asset_value(got, true, ctx.spec)
    res.reclaims += 1
    res.pf["reclaims"] += 1
    res.reclaimed_value += got_value
    res.reclaim_bad_debt += int(args["badDebt"]) * CLOSE_SCALE
    if record is not None:
        record.reclaimed = got_value


# ---------------------------------------------------------------- identities


@dataclass(frozen=True)
class PfTotals:
    engine: dict[str, int]
    pool: dict[str, int]


def totals(ctx: Context, pf: PfContext) -> PfTotals:
    return PfTotals(
        engine={a: ctx.client.wallet_balance(pf.engine, a) for a in pf.asset_ids},
        pool={a: int(pf.pools[a].call("accounts")[0]) for a in pf.asset_ids},
    )


def check_identities(
    ctx: Context,
    pf: PfContext,
    traders: Sequence[BookTrader],
    res: ScenarioResult,
    before: PfTotals,
) -> None:
    after = totals(ctx, pf)
    assets = list(pf.asset_ids)
    onchain = {
        t.portfolio.index: {
            a: pf.client.balance(t.signer.address, i) for a, i in pf.asset_ids.items()
        }
        for t in traders
    }
    ids = res.identities
    if traders:
        ids.setdefault(PF_SPLIT_IDENTITY, True)
    ids["portfolio engine tokens = sum of portfolio account balances"] = all(
        after.engine[a] == sum(b[a] for b in onchain.values()) for a in assets
    )
    ids["portfolio tracked balances = engine balances"] = all(
        onchain[t.portfolio.index][a] == t.balances.get(a, 0) for t in traders for a in assets
    )
    ids[
        "portfolio vault held change = liquidation escrow - reclaim paid + close (losses + fees "
        "- profits)"
    ] = all(
        after.pool[a] - before.pool[a]
        == res.pf_to_pool.get(a, 0) - res.pf_reclaim_paid.get(a, 0) + res.pf_close_to_pool.get(a, 0)
        for a in assets
    )
    ids[
        "portfolio engine + vault token change = top-ups - rewards - returned at close - "
        "reclaim paid"
    ] = all(
        after.engine[a] + after.pool[a] - before.engine[a] - before.pool[a]
        == res.pf_topup_tokens.get(a, 0)
        - res.pf_rewards.get(a, 0)
        - res.pf_close_returned.get(a, 0)
        - res.pf_reclaim_paid.get(a, 0)
        for a in assets
    )
    ids["portfolio closed or liquidated accounts hold nothing; open ones are open on-chain"] = all(
        pf.client.account_state(t.signer.address).open == t.open
        and (t.open or not any(onchain[t.portfolio.index].values()))
        for t in traders
    )
