"""What every actor of a scenario shares: the deployed system, the published prices, the
traders; and the few raw chain reads the simulation needs beyond ``EngineClient``.

The raw reads (event arguments, token supply) are gathered here so that a change in how
``chain`` exposes contracts touches one function, not the actors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from benchmarks.stress.population import Portfolio
from benchmarks.stress.results import Liquidation
from benchmarks.stress.valuation import normalised
from chain.client import AccountState, EngineClient
from chain.deploy import SystemSpec
from chain.local import LocalSystem
from chain.rpc import Chain, TxResult
from chain.signers import Signer
from prover.prove import Prover
from zkmargin.model import Account


@dataclass
class Trader:
    """A trader during one scenario (reset from the snapshot for the next)."""

    portfolio: Portfolio
    signer: Signer
    account: Account  # positions with entries and the salt of the live commitment
    balances: dict[str, int]  # engine balances, token base units
    reserve: int  # wallet USDC available for top-ups
    open: bool = True
    state: AccountState | None = None
    liquidatable: bool = False
    last_attempt: int = -(10**9)
    refusals: list[str] = field(default_factory=list)  # since the last accepted proof
    insolvent_since: int | None = None
    sample: tuple[bool, bool, bool] = (False, False, False)  # insolvent, underwater, liq
    to_reclaim: Liquidation | None = None  # the liquidation its owner has yet to reclaim


@dataclass
class Context:
    """One deployment on one anvil, the prover, and the oracle as last published."""

    system: LocalSystem
    prover: Prover
    spec: SystemSpec
    admin: Signer
    keeper: Signer
    published: dict[str, tuple[int, int]] = field(default_factory=dict)  # feed -> (price, at)

    @property
    def client(self) -> EngineClient:
        return self.system.client

    @property
    def chain(self) -> Chain:
        return self.system.chain

    @property
    def assets(self) -> list[str]:
        return [a.name for a in self.system.deployment.assets]

    def publish(self, feed: str, price: int) -> None:
        self.client.set_price(self.admin, feed, price)
        self.published[feed] = (price, self.chain.timestamp())

    def oracle_prices(self) -> dict[str, int]:
        """The feeds' last answers (1e-8 quote), which a stale feed keeps returning."""
        return {feed: price for feed, (price, _) in self.published.items()}

    def block_time(self, result: TxResult) -> int:
        return int(self.chain.block(result.block_number)["timestamp"], 16)

    def chain_account(self, t: Trader) -> Account:
        """The trader's account with the balances the engine holds (what a proof uses)."""
        return replace(t.account, collateral=normalised(t.balances, self.spec))

    # ------------------------------------------------------------ raw reads

    def event_args(self, result: TxResult, name: str) -> Mapping[str, Any]:
        """The arguments of the engine's first ``name`` event in a transaction."""
        return self.client.engine.events(result, name)[0].args

    def per_asset(self, values: Any) -> dict[str, int]:
        """An event's per-asset-id array as asset name -> base units."""
        return {a.name: int(values[a.id]) for a in self.system.deployment.assets}

    def total_supply(self, asset: str) -> int:
        return int(self.client.tokens[asset].call("totalSupply"))
