"""What one scenario produced: counters, liquidation records and token flows.

Money is kept in margin units (1e-30 quote, integers) and token flows in base units per
asset, so every sum is exact and the accounting identities compare integers; ``to_json``
is the only place money becomes text (USD to the cent).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.stress.money import median_int, usd


@dataclass
class Liquidation:
    trader: int
    at: int  # seconds since the scenario started (chain time)
    cls: str  # insolvent | solvent_slow | solvent_recovered | solvent_oracle_stale | ...
    solvent_true: bool  # meets MMR at the true prices
    wrongful: bool  # solvent at the true prices and the owner kept trying to prove
    solvent_oracle: bool  # meets MMR at the oracle's last answers
    raw_equity: int  # margin units, at the true prices, no haircut
    bad_debt: int  # max(0, -raw_equity)
    loss: int  # margin units: the positions' loss at the true prices (negative: a profit)
    pool_received: int  # value of the Liquidated toPool amounts at the true prices
    seized: int  # max(0, raw_equity): equity the liquidation took from the trader
    reward: int  # value of the keeper's reward
    insolvent_for: int | None  # seconds below MMR before liquidation (sampled per step)
    proof_age: int
    shock_age: int | None
    refusals: list[str]
    reclaimed: int = 0  # value the vault paid back by reclaim (at the true prices then)
    kind: str = "rate-based"  # or "portfolio" (the PortfolioEngine)

    @property
    def pool_shortfall(self) -> int:
        """max(0, losses - (what the pool received - what it paid back by reclaim))."""
        return max(0, self.loss - self.pool_received + self.reclaimed)

    @property
    def seized_excess(self) -> int:
        """Equity seized above losses that the trader did not get back by reclaim."""
        return max(0, self.seized - self.reclaimed)

    def to_json(self) -> dict[str, Any]:
        return {
            "trader": self.trader,
            "at": self.at,
            "cls": self.cls,
            "solvent_true": self.solvent_true,
            "wrongful": self.wrongful,
            "solvent_oracle": self.solvent_oracle,
            "raw_equity_usd": usd(self.raw_equity),
            "bad_debt_usd": usd(self.bad_debt),
            "bad_debt_margin_units": self.bad_debt,  # exact (1e-30 USD)
            "pool_shortfall_usd": usd(self.pool_shortfall),
            "seized_excess_usd": usd(self.seized_excess),
            "reclaimed_usd": usd(self.reclaimed),
            "reward_usd": usd(self.reward),
            "insolvent_for": self.insolvent_for,
            "proof_age": self.proof_age,
            "shock_age": self.shock_age,
            "refusals": self.refusals,
            "kind": self.kind,
        }


def _durations(by_trader: dict[int, int]) -> dict[str, int]:
    values = list(by_trader.values())
    return {
        "accounts": len(values),
        "max_s": max(values, default=0),
        "median_s": median_int(values),
    }


@dataclass
class ScenarioResult:
    name: str
    description: str
    duration: int
    passive: bool
    accounts: int = 0
    steps: int = 0
    proof_attempts: int = 0
    proofs_accepted: int = 0
    proofs_refused: Counter[str] = field(default_factory=Counter)
    accounts_refused: set[int] = field(default_factory=set)
    flags: int = 0
    flags_unrelated: int = 0  # no position or balance in any slot that moved
    flags_refused: Counter[str] = field(default_factory=Counter)
    liquidations: list[Liquidation] = field(default_factory=list)
    liquidations_refused: Counter[str] = field(default_factory=Counter)  # liquidatable, reverted
    within_proven_set: bool = True  # see the report's definitions
    outside_set_accounts: set[int] = field(default_factory=set)  # opening proof left by the path
    stale_pokes: int = 0  # accepted pokeStale transactions (traders refused for a stale feed)
    pokes_refused: Counter[str] = field(default_factory=Counter)
    reclaims_refused: Counter[str] = field(default_factory=Counter)
    reclaims: int = 0
    reclaimed_value: int = 0  # margin units, at the true prices when reclaimed
    reclaim_bad_debt: int = 0  # margin units, from Reclaimed.badDebt (informational)
    closes: int = 0
    closes_refused: Counter[str] = field(default_factory=Counter)
    closed_bad_debt: int = 0  # margin units, from AccountClosed.badDebt
    closed_pnl: int = 0  # margin units, from AccountClosed.pnl
    topups: int = 0
    topup_value: int = 0  # margin units, at the oracle price of the top-up
    open_at_end: int = 0
    insolvent_open_at_end: int = 0
    underwater_open_at_end: int = 0
    insolvent_not_liquidatable: dict[int, int] = field(default_factory=dict)  # trader -> s
    underwater_not_liquidatable: dict[int, int] = field(default_factory=dict)
    solvent_liquidatable_samples: int = 0
    identities: dict[str, bool] = field(default_factory=dict)
    # token flows (base units per asset), for the accounting identities
    rewards: Counter[str] = field(default_factory=Counter)
    to_pool: Counter[str] = field(default_factory=Counter)
    close_to_pool: Counter[str] = field(default_factory=Counter)
    close_returned: Counter[str] = field(default_factory=Counter)
    close_fee: int = 0  # margin units, from AccountClosed.fee
    reclaim_paid: Counter[str] = field(default_factory=Counter)  # vault -> trader, tokens
    topup_tokens: Counter[str] = field(default_factory=Counter)
    prove_seconds: float = 0.0  # wall clock (not money); integer milliseconds in the JSON
    guardian: bool = False  # traders ran a guardian (benchmarks.stress.guardian)
    guardian_triggers: int = 0  # attempts made earlier than the trader alone would have
    seconds: float = 0.0
    # portfolio accounts (the PortfolioEngine): their share of the counters above, and
    # their token flows (base units per asset) for the portfolio identities
    pf_accounts: int = 0
    pf: Counter[str] = field(default_factory=Counter)
    pf_refused: Counter[str] = field(default_factory=Counter)
    pf_outside_set: set[int] = field(default_factory=set)
    pf_closed_bad_debt: int = 0  # margin units, from AccountClosed.badDebt
    pf_rewards: Counter[str] = field(default_factory=Counter)
    pf_to_pool: Counter[str] = field(default_factory=Counter)
    pf_close_to_pool: Counter[str] = field(default_factory=Counter)
    pf_close_returned: Counter[str] = field(default_factory=Counter)
    pf_reclaim_paid: Counter[str] = field(default_factory=Counter)
    pf_topup_tokens: Counter[str] = field(default_factory=Counter)

    def count(self, cls: str) -> int:
        return sum(1 for x in self.liquidations if x.cls == cls)

    @property
    def wrongful(self) -> int:
        return sum(1 for x in self.liquidations if x.wrongful)

    @property
    def bad_debt(self) -> int:
        return (
            sum(x.bad_debt for x in self.liquidations)
            + self.closed_bad_debt
            + self.pf_closed_bad_debt
        )

    @property
    def pool_shortfall(self) -> int:
        return (
            sum(x.pool_shortfall for x in self.liquidations)
            + self.closed_bad_debt
            + self.pf_closed_bad_debt
        )

    def by_kind(self, kind: str) -> dict[str, Any]:
        """The headline figures of one account kind ("rate-based" or "portfolio")."""
        pf = kind == "portfolio"
        liq = [x for x in self.liquidations if x.kind == kind]
        closed_debt = self.pf_closed_bad_debt if pf else self.closed_bad_debt
        outside = self.pf_outside_set if pf else self.outside_set_accounts - self.pf_outside_set
        refused = self.pf_refused if pf else self.proofs_refused - self.pf_refused

        def own(name: str, total: int) -> int:
            return self.pf[name] if pf else total - self.pf[name]

        # with no portfolio account the rate-based accounts are all: the scenario's flag
        within = not outside if pf or self.pf_accounts else self.within_proven_set
        return {
            "accounts": self.pf_accounts if pf else self.accounts - self.pf_accounts,
            "within_proven_set": within,
            "accounts_outside_proven_set": len(outside),
            "proof_attempts": own("proof_attempts", self.proof_attempts),
            "proofs_accepted": own("proofs_accepted", self.proofs_accepted),
            "proofs_refused": dict(sorted(refused.items())),
            "flags": own("flags", self.flags),
            "liquidations": len(liq),
            "liquidations_by_class": dict(sorted(Counter(x.cls for x in liq).items())),
            "wrongful_liquidations": sum(1 for x in liq if x.wrongful),
            "closes": own("closes", self.closes),
            "topups": own("topups", self.topups),
            "reclaims": own("reclaims", self.reclaims),
            "bad_debt_usd": usd(sum(x.bad_debt for x in liq) + closed_debt),
            "bad_debt_margin_units": sum(x.bad_debt for x in liq) + closed_debt,
            "pool_shortfall_usd": usd(sum(x.pool_shortfall for x in liq) + closed_debt),
        }

    def check(self, identity: str, holds: bool) -> None:
        """Record an accounting identity; once false it stays false."""
        self.identities[identity] = self.identities.get(identity, True) and holds

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "within_proven_set": self.within_proven_set,
            "accounts_outside_proven_set": len(self.outside_set_accounts),
            "description": self.description,
            "duration_s": self.duration,
            "all_passive": self.passive,
            "guardian": self.guardian,
            "guardian_triggers": self.guardian_triggers,
            "steps": self.steps,
            "accounts": self.accounts,
            "proof_attempts": self.proof_attempts,
            "proofs_accepted": self.proofs_accepted,
            "proofs_refused": dict(sorted(self.proofs_refused.items())),
            "proofs_refused_total": sum(self.proofs_refused.values()),
            "accounts_with_refused_proofs": len(self.accounts_refused),
            "flags": self.flags,
            "flags_unrelated": self.flags_unrelated,
            "flags_refused": dict(sorted(self.flags_refused.items())),
            "liquidations": len(self.liquidations),
            "liquidations_by_class": dict(
                sorted(Counter(x.cls for x in self.liquidations).items())
            ),
            "wrongful_liquidations": self.wrongful,
            "wrongful_by_refusal": dict(
                sorted(
                    Counter(r for x in self.liquidations if x.wrongful for r in x.refusals).items()
                )
            ),
            "liquidations_refused": dict(sorted(self.liquidations_refused.items())),
            "stale_pokes": self.stale_pokes,
            "stale_pokes_refused": dict(sorted(self.pokes_refused.items())),
            "reclaims_refused": dict(sorted(self.reclaims_refused.items())),
            "reclaims": self.reclaims,
            "reclaimed_usd": usd(self.reclaimed_value),
            "close_fees_usd": usd(self.close_fee),
            "closes": self.closes,
            "closes_refused": dict(sorted(self.closes_refused.items())),
            "closed_bad_debt_usd": usd(self.closed_bad_debt),
            "closed_pnl_usd": usd(self.closed_pnl),
            "topups": self.topups,
            "topup_usd": usd(self.topup_value),
            "bad_debt_usd": usd(self.bad_debt),
            "bad_debt_margin_units": self.bad_debt,  # exact (1e-30 USD)
            "pool_shortfall_usd": usd(self.pool_shortfall),
            "seized_excess_usd": usd(sum(x.seized_excess for x in self.liquidations)),
            "reclaim_bad_debt_usd": usd(self.reclaim_bad_debt),
            "keeper_rewards_usd": usd(sum(x.reward for x in self.liquidations)),
            "open_at_end": self.open_at_end,
            "insolvent_open_at_end": self.insolvent_open_at_end,
            "underwater_open_at_end": self.underwater_open_at_end,
            "insolvent_not_liquidatable": _durations(self.insolvent_not_liquidatable),
            "underwater_not_liquidatable": _durations(self.underwater_not_liquidatable),
            "solvent_and_liquidatable_samples": self.solvent_liquidatable_samples,
            "identities": self.identities,
            "prove_ms": round(self.prove_seconds * 1000),
            "wall_ms": round(self.seconds * 1000),
            "liquidation_records": [x.to_json() for x in self.liquidations],
            "by_kind": {k: self.by_kind(k) for k in ("rate-based", "portfolio")},
        }
