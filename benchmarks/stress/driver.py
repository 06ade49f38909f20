"""Drives the engine on a private anvil: opens the population once, snapshots, and runs
each scenario from that snapshot with real proofs, step by step of chain time.

Chain time moves only through anvil: one second per mined block
(``anvil_setBlockTimestampInterval``), and each ``STEP`` starts with
``evm_setNextBlockTimestamp`` when the chain is behind the schedule.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from benchmarks.stress import pfchain
from benchmarks.stress.books import Book
from benchmarks.stress.context import Context, Trader
from benchmarks.stress.identities import check_identities, totals
from benchmarks.stress.keeper import keeper_step, outside_set
from benchmarks.stress.population import Portfolio, trader_signer
from benchmarks.stress.results import ScenarioResult
from benchmarks.stress.scenarios import Scenario
from benchmarks.stress.timing import FEED_REFRESH, STEP
from benchmarks.stress.traders import reclaim, traders_step
from benchmarks.stress.valuation import BASE_PRICES, price_at, valuation
from chain.client import Kind
from chain.deploy import DEFAULT_SPEC, SystemSpec
from chain.errors import ChainError, RevertError
from chain.local import LocalSystem
from chain.signers import dev_signer
from prover.prove import Prover
from zkmargin.model import Account

GAS_MONEY = hex(10**21)  # wei given to each trader's throwaway key


class Simulation:
    """One deployment, one population, many scenarios (each from the same snapshot)."""

    def __init__(
        self,
        system: LocalSystem,
        prover: Prover,
        portfolios: Sequence[Portfolio],
        seed: int,
        *,
        spec: SystemSpec = DEFAULT_SPEC,
        log: Callable[[str], None] = print,
        books: Sequence[Book] = (),
        risk_path: Path | None = None,
    ) -> None:
        self.ctx = Context(system, prover, spec, admin=dev_signer(0), keeper=dev_signer(9))
        self.portfolios = list(portfolios)
        self.books = list(books)
        self.risk_path = risk_path
        self.pf: pfchain.PfContext | None = None
        self.book_traders: list[pfchain.BookTrader] = []
        self.seed = seed
        self.log = log
        self.traders: list[Trader] = []
        self.snapshot: str | None = None
        self.open_seconds = 0.0
        self.kinds: Counter[str] = Counter()  # on-chain kind of every opened account

    def setup(self) -> None:
        """Fund, deposit and open every portfolio, then snapshot the chain."""
        started = time.perf_counter()
        ctx, client = self.ctx, self.ctx.client
        ctx.chain.request("anvil_setBlockTimestampInterval", [1])
        for feed, price in BASE_PRICES.items():
            ctx.publish(feed, price)
        for p in self.portfolios:
            signer = trader_signer(self.seed, p.index)
            ctx.chain.request("anvil_setBalance", [signer.address, GAS_MONEY])
            for asset, amount in p.deposits.items():
                client.mint(ctx.admin, signer.address, asset, amount)
                client.deposit(signer, asset, amount)
            if p.reserve:
                client.mint(ctx.admin, signer.address, "USDC", p.reserve)
            draft = Account(int(signer.address, 16), 1, {}, p.positions)
            plan = client.plan_open(draft, Kind.CROSS)
            client.open(signer, plan, ctx.prover)
            self.traders.append(Trader(p, signer, plan.account, dict(p.deposits), p.reserve))
        if self.books:
            if self.risk_path is None:
                raise ChainError("portfolio accounts need the deployment's risk file")
            self.pf = pfchain.PfContext.connect(ctx, self.risk_path)
            for book in self.books:
                self.book_traders.append(
                    pfchain.open_book(ctx, self.pf, book, self.seed, GAS_MONEY)
                )
        for feed, price in BASE_PRICES.items():
            ctx.publish(feed, price)
        self.kinds = Counter(
            client.account_state(t.signer.address).kind.name.lower() for t in self.traders
        )
        if self.pf is not None:
            self.kinds["portfolio"] = sum(
                self.pf.client.account_state(t.signer.address).open for t in self.book_traders
            )
        self.snapshot = str(ctx.chain.request("evm_snapshot", []))
        self.open_seconds = time.perf_counter() - started
        self.log(
            f"opened {len(self.traders)} cross and {len(self.book_traders)} portfolio accounts "
            f"in {self.open_seconds:.0f} s; "
            f"snapshot at t={ctx.chain.timestamp()}"
        )

    @contextmanager
    def _fresh(self) -> Iterator[None]:
        """Revert to the snapshot (and take it again); restore the published prices after."""
        chain = self.ctx.chain
        if self.snapshot is None:
            raise ChainError("setup() first")
        if not chain.request("evm_revert", [self.snapshot]):
            raise ChainError("evm_revert failed")
        self.snapshot = str(chain.request("evm_snapshot", []))
        chain.request("anvil_setBlockTimestampInterval", [1])
        saved = dict(self.ctx.published)
        try:
            yield
        finally:
            self.ctx.published = saved

    def run(self, scenario: Scenario, *, guardian: bool = False) -> ScenarioResult:
        """One scenario from the snapshot; ``guardian``: every trader runs a guardian."""
        started = time.perf_counter()
        ctx = self.ctx
        res = ScenarioResult(
            scenario.name, scenario.description, scenario.duration, scenario.passive
        )
        res.guardian = guardian
        rng = random.Random(f"{self.seed}/{scenario.name}")  # noqa: S311 -- trader order
        pf_rng = random.Random(f"{self.seed}/{scenario.name}/portfolio")  # noqa: S311
        pf = self.pf
        with self._fresh():
            traders = [
                replace(
                    t,
                    balances=dict(t.portfolio.deposits),
                    reserve=t.portfolio.reserve,
                    refusals=[],
                )
                for t in self.traders
            ]
            books = [pfchain.fresh(t) for t in self.book_traders]
            before = totals(ctx)
            pf_before = pfchain.totals(ctx, pf) if pf is not None else None
            t0 = ctx.chain.timestamp()
            res.accounts = len(traders) + len(books)
            res.pf_accounts = len(books)
            self._proven_set(traders, scenario, res)
            if pf is not None:
                paths = [
                    {f: price_at(f, m) for f, m in scenario.path(k * STEP).items()}
                    for k in range(scenario.duration // STEP + 1)
                ]
                pfchain.proven_set(pf, books, paths, res)
                res.within_proven_set = not res.outside_set_accounts
            last_sample = t0
            true: dict[str, int] = dict(BASE_PRICES)
            for k in range(scenario.duration // STEP + 1):
                if ctx.chain.timestamp() < t0 + k * STEP:
                    ctx.chain.set_next_timestamp(t0 + k * STEP)
                true = {f: price_at(f, m) for f, m in scenario.path(k * STEP).items()}
                self._oracle(true, scenario.frozen(k * STEP))
                now = ctx.chain.timestamp()
                opened = [t for t in traders if t.open]
                self._sample(opened, true, now, last_sample, res)
                pf_open = [t for t in books if t.open]
                if pf is not None:
                    pfchain.sample(ctx, pf, pf_open, true, now, last_sample, res)
                last_sample = now
                keeper_step(ctx, opened, true, t0, res)
                if pf is not None:
                    pfchain.keeper_step(ctx, pf, pf_open, true, t0, res)
                order = [t for t in opened if t.open]
                rng.shuffle(order)
                traders_step(ctx, order, scenario, res, guardian=guardian)
                if pf is not None:
                    pf_order = [t for t in pf_open if t.open]
                    pfchain.traders_step(ctx, pf, pf_order, scenario, res, pf_rng)
                for t in traders:
                    if t.to_reclaim is not None:
                        reclaim(ctx, t, true, res)
                for b in books:
                    if b.to_reclaim is not None and pf is not None:
                        pfchain.reclaim(ctx, pf, b, true, res)
                res.steps += 1
            now = ctx.chain.timestamp()
            self._sample([t for t in traders if t.open], true, now, last_sample, res, final=True)
            if pf is not None:
                pf_final = [t for t in books if t.open]
                pfchain.sample(ctx, pf, pf_final, true, now, last_sample, res, final=True)
            check_identities(ctx, traders, res, before)
            if pf is not None and pf_before is not None:
                pfchain.check_identities(ctx, pf, books, res, pf_before)
        res.seconds = time.perf_counter() - started
        return res

    def _proven_set(
        self, traders: Sequence[Trader], scenario: Scenario, res: ScenarioResult
    ) -> None:
        """Whether the move set of the proof each account holds at the start contains
        every point of the price path, at every step of the scenario (its moves plus at
        least the grace period): the engine's flag rule, evaluated exactly."""
        proven = {
            t.portfolio.index: self.ctx.client.account_state(t.signer.address).proven_prices
            for t in traders
        }
        for k in range(scenario.duration // STEP + 1):
            true = {f: price_at(f, m) for f, m in scenario.path(k * STEP).items()}
            for i, at_proof in proven.items():
                if outside_set(at_proof, true, self.ctx.spec):
                    res.outside_set_accounts.add(i)
        res.within_proven_set = not res.outside_set_accounts

    def _oracle(self, true: Mapping[str, int], frozen: frozenset[str]) -> None:
        """Publish the true price of every unfrozen feed that moved or is due a heartbeat."""
        now = self.ctx.chain.timestamp()
        for feed, price in true.items():
            if feed in frozen:
                continue
            last, updated = self.ctx.published[feed]
            if price != last or now - updated >= FEED_REFRESH:
                self.ctx.publish(feed, price)

    def _sample(
        self,
        opened: Sequence[Trader],
        true: Mapping[str, int],
        now: int,
        last: int,
        res: ScenarioResult,
        *,
        final: bool = False,
    ) -> None:
        """Read each open account's state; add the time since the last sample to the
        durations of the conditions that held at the last sample."""
        ctx, dt = self.ctx, now - last
        for t in opened:
            insolvent, underwater, liquidatable = t.sample
            i = t.portfolio.index
            if insolvent and not liquidatable:
                res.insolvent_not_liquidatable[i] = res.insolvent_not_liquidatable.get(i, 0) + dt
            if underwater and not liquidatable:
                res.underwater_not_liquidatable[i] = res.underwater_not_liquidatable.get(i, 0) + dt
            val = valuation(t.account.positions, t.balances, true, ctx.spec)
            if final:
                res.open_at_end += 1
                res.insolvent_open_at_end += not val.solvent
                res.underwater_open_at_end += val.raw_equity < 0
                continue
            t.state = ctx.client.account_state(t.signer.address)
            try:
                t.liquidatable, _ = ctx.client.liquidatable(t.signer.address)
            except RevertError as exc:  # in case the view reads a stale price
                res.flags_refused[f"liquidatable(): {exc.name or 'unknown revert'}"] += 1
                t.liquidatable = False
            t.sample = (not val.solvent, val.raw_equity < 0, t.liquidatable)
            if val.solvent:
                t.insolvent_since = None
                res.solvent_liquidatable_samples += t.liquidatable
            elif t.insolvent_since is None:
                t.insolvent_since = now
