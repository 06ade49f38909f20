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
    solvent_oracle: bool  # meets MMR at the oracle's last answers
    raw_equity: int  # margin units, at the true prices, no haircut
    bad_debt: int  # max(0, -raw_equity)
    pool_shortfall: int  # max(0, losses - value of what the pool received)
    seized_excess: int  # max(0, raw_equity): what the trader lost beyond its losses
    reward: int  # value of the keeper's reward
    insolvent_for: int | None  # seconds below MMR before liquidation (sampled per step)
    proof_age: int
    shock_age: int | None
    refusals: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "trader": self.trader,
            "at": self.at,
            "cls": self.cls,
            "solvent_true": self.solvent_true,
            "solvent_oracle": self.solvent_oracle,
            "raw_equity_usd": usd(self.raw_equity),
            "bad_debt_usd": usd(self.bad_debt),
            "pool_shortfall_usd": usd(self.pool_shortfall),
            "seized_excess_usd": usd(self.seized_excess),
            "reward_usd": usd(self.reward),
            "insolvent_for": self.insolvent_for,
            "proof_age": self.proof_age,
            "shock_age": self.shock_age,
            "refusals": self.refusals,
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
    topup_tokens: Counter[str] = field(default_factory=Counter)
    prove_seconds: float = 0.0  # wall clock (not money); integer milliseconds in the JSON
    guardian: bool = False  # traders ran a guardian (benchmarks.stress.guardian)
    guardian_triggers: int = 0  # attempts made earlier than the trader alone would have
    seconds: float = 0.0

    def count(self, cls: str) -> int:
        return sum(1 for x in self.liquidations if x.cls == cls)

    @property
    def wrongful(self) -> int:
        return self.count("wrongful")

    @property
    def bad_debt(self) -> int:
        return sum(x.bad_debt for x in self.liquidations) + self.closed_bad_debt

    @property
    def pool_shortfall(self) -> int:
        return sum(x.pool_shortfall for x in self.liquidations) + self.closed_bad_debt

    def check(self, identity: str, holds: bool) -> None:
        """Record an accounting identity; once false it stays false."""
        self.identities[identity] = self.identities.get(identity, True) and holds

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
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
            "closes": self.closes,
            "closes_refused": dict(sorted(self.closes_refused.items())),
            "closed_bad_debt_usd": usd(self.closed_bad_debt),
            "closed_pnl_usd": usd(self.closed_pnl),
            "topups": self.topups,
            "topup_usd": usd(self.topup_value),
            "bad_debt_usd": usd(self.bad_debt),
            "pool_shortfall_usd": usd(self.pool_shortfall),
            "seized_excess_usd": usd(sum(x.seized_excess for x in self.liquidations)),
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
        }
