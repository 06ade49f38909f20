"""The keeper's portfolio part: flag and liquidate accounts of the ``PortfolioEngine``.

:class:`chain.keeper.Keeper` runs one :class:`PortfolioKeeper` per loop after its own
accounts when the deployment lists a ``PortfolioEngine`` (``--no-portfolio``: never). The
guarantees are the rate-based part's, with its own section of the keeper's state file
(:class:`PortfolioWatch`: cursor, accounts, sent transactions, metrics):

* discovery: ``AccountOpened`` events of the portfolio engine from the deployment's block
  on, in chunks (:func:`chain.daemon.opened_accounts_of`);
* per account: a pending transaction of the keeper's is looked up first (mined or failed:
  recorded; in the pool: nothing else is sent; dropped: forgotten); a closed account is
  pruned (it comes back with its next ``AccountOpened``) with its settled transactions,
  and so are settled transactions of older nonces;
* ``liquidatable(who)`` true: ``liquidate``, the reward read from the ``Liquidated``
  event; refused because a feed is stale (``OracleAdapter__StalePrice``: liquidate reads
  the prices), the keeper pokes the engine-wide outage clock (``pokeStale``) once, so the
  outage is on record and its time counts toward no account's lapse or grace;
* otherwise, no shock pending and ``flaggable(who)`` true (one read of the latest
  state), ``flag`` at once, so it lands in the block after the price that left the set;
* every transaction is keyed by the state it acts on
  (``action:account:nonce:provenAt:shockAt``), its hash written to the state file before
  the receipt is awaited, its gas capped at ``max_gas`` (more needed: skipped, one line).

Never raises :class:`~chain.errors.ChainError`: an RPC error or a revert is one line (once
per distinct message and subject) and a count in ``metrics.errors``; the loop goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from chain.daemon import opened_accounts_of, tx_status_on
from chain.errors import ChainError, RevertError
from chain.portfolio import PortfolioClient, PortfolioState
from chain.rpc import GasCapExceeded, TxResult
from chain.signers import Signer
from zkmargin.amounts import format_fixed

STALE_PRICE = "OracleAdapter__StalePrice"

Log = Callable[[str], None]


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


@dataclass
class PortfolioMetrics:
    flags: int = 0
    liquidations: int = 0
    stale_pokes: int = 0  # pokeStale sent after a liquidation refused for a stale feed
    skipped_gas: int = 0
    errors: int = 0  # RPC errors and reverts in the portfolio part (one line each)
    reward: dict[str, int] = field(default_factory=dict)  # asset -> token base units

    def to_json(self) -> dict[str, Any]:
        return {
            "flags": self.flags,
            "liquidations": self.liquidations,
            "stale_pokes": self.stale_pokes,
            "skipped_gas": self.skipped_gas,
            "errors": self.errors,
            "reward": {k: str(v) for k, v in self.reward.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PortfolioMetrics:
        return cls(
            flags=int(data.get("flags", 0)),
            liquidations=int(data.get("liquidations", 0)),
            stale_pokes=int(data.get("stale_pokes", 0)),
            skipped_gas=int(data.get("skipped_gas", 0)),
            errors=int(data.get("errors", 0)),
            reward={str(k): int(v) for k, v in dict(data.get("reward", {})).items()},
        )


@dataclass
class PortfolioWatch:
    """The portfolio section of the keeper's state file."""

    engine: str
    cursor: int  # last block scanned for the portfolio engine's AccountOpened
    accounts: list[str] = field(default_factory=list)
    # key "action:account:nonce:provenAt:shockAt" -> {"tx": hash, "status": ...}
    sent: dict[str, dict[str, str]] = field(default_factory=dict)
    metrics: PortfolioMetrics = field(default_factory=PortfolioMetrics)

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "cursor": self.cursor,
            "accounts": self.accounts,
            "sent": self.sent,
            "metrics": self.metrics.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PortfolioWatch:
        return cls(
            engine=_checksum(str(data["engine"])),
            cursor=int(data["cursor"]),
            accounts=[_checksum(str(a)) for a in data.get("accounts", [])],
            sent={str(k): {str(a): str(b) for a, b in v.items()} for k, v in data["sent"].items()},
            metrics=PortfolioMetrics.from_json(data.get("metrics", {})),
        )


def _key(action: str, state: PortfolioState) -> str:
    return f"{action}:{state.address}:{state.nonce}:{state.proven_at}:{state.shock_at}"


class PortfolioKeeper:
    """Flags and liquidates the portfolio engine's accounts; ``step`` is one loop."""

    def __init__(
        self,
        client: PortfolioClient,
        signer: Signer,
        watch: PortfolioWatch,
        *,
        max_gas: int,
        assets: Mapping[int, tuple[str, int]],  # asset id -> (name, decimals)
        save: Callable[[], None],
        log: Log,
    ) -> None:
        self.client = client
        self.signer = signer
        self.watch = watch
        self.max_gas = max_gas
        self.assets = dict(assets)
        self.save = save
        self.log = log
        self._skipped: set[str] = set()
        self._logged: dict[str, str] = {}  # subject -> the last error logged for it
        self._poked = False  # an outage was recorded since the prices were last read

    # ---- lines

    def metrics_text(self) -> str:
        m = self.watch.metrics
        return (
            f"portfolio: accounts {len(self.watch.accounts)}, flags {m.flags}, liquidations "
            f"{m.liquidations}, reward {self._amounts(m.reward)}, stale pokes "
            f"{m.stale_pokes}, errors {m.errors}"
        )

    def _amounts(self, amounts: Mapping[str, int]) -> str:
        decimals = {name: d for name, d in self.assets.values()}
        parts = [
            f"{format_fixed(v, decimals.get(k, 0))} {k}" for k, v in sorted(amounts.items()) if v
        ]
        return ", ".join(parts) or "0"

    def _error(self, subject: str, exc: ChainError) -> None:
        """One line per distinct error of a subject (not one per loop), always counted."""
        self.watch.metrics.errors += 1
        text = str(exc)
        if self._logged.get(subject) != text:
            self._logged[subject] = text
            self.log(f"{subject}: {text}")

    # ---- one loop

    def step(self, budget: int, stop: threading.Event) -> list[tuple[str, str]]:
        """Discover, then act on each account (at most ``budget`` transactions); returns
        ``("portfolio flag" | "portfolio liquidate", account)`` per transaction. Never
        raises ChainError."""
        done: list[tuple[str, str]] = []
        try:
            self.discover()
            self._logged.pop("portfolio", None)
        except ChainError as exc:
            self._error("portfolio", exc)
            return done
        for who in list(self.watch.accounts):
            if stop.is_set() or len(done) >= budget:
                break
            try:
                action = self.check(who)
                self._logged.pop(f"portfolio {who}", None)
            except ChainError as exc:
                self._error(f"portfolio {who}", exc)
                continue
            if action:
                done.append((f"portfolio {action}", who))
        return done

    def discover(self) -> int:
        latest = int(self.client.chain.block()["number"], 16)
        if latest <= self.watch.cursor:
            return 0
        new = 0
        for who in opened_accounts_of(
            self.client.chain, self.client.engine, self.watch.cursor + 1, latest
        ):
            if who not in self.watch.accounts:
                self.watch.accounts.append(who)
                new += 1
                self.log(f"watching {who} (portfolio AccountOpened)")
        self.watch.cursor = latest
        self.save()
        return new

    def check(self, who: str) -> str | None:
        """Act on one account if it needs it; returns the action taken, if any."""
        if self._settle_pending(who):
            return None
        state = self.client.account_state(who)
        if not state.open:
            self._forget(who)
            return None
        self._prune(who, state.nonce)
        if self.client.liquidatable(who):
            return self._liquidate(state)
        if state.shock_at:
            return None  # flagged: its grace period is running
        try:
            flaggable = self.client.flaggable(who)  # reads the current prices
        except RevertError as exc:
            if exc.name == STALE_PRICE:
                return None  # no flag while a feed is stale
            raise
        self._poked = False  # the prices were read: every feed is fresh
        if not flaggable:
            return None
        key = _key("flag", state)
        if key in self.watch.sent:
            return None
        result = self._send("flag", who, key)
        if result is None:
            return None
        self.watch.metrics.flags += 1
        self.save()
        reason = ""
        flagged = self.client.engine.events(result, "Flagged")
        if flagged:
            r = int(flagged[0].args["reason"])
            reason = " (market moves)" if r == 0 else f" (collateral {self._name(r - 1)})"
        self.log(f"flagged portfolio {who}{reason}: tx {result.tx_hash}, {result.gas_used:,} gas")
        return "flag"

    def _liquidate(self, state: PortfolioState) -> str | None:
        who = state.address
        key = _key("liquidate", state)
        if key in self.watch.sent:
            return None
        try:
            result = self._send("liquidate", who, key)
        except RevertError as exc:
            if exc.name == STALE_PRICE and not self._poked:
                self._poke(who)
            raise
        if result is None:
            return None
        self._poked = False
        reward = self._reward(result)
        m = self.watch.metrics
        for name, amount in reward.items():
            m.reward[name] = m.reward.get(name, 0) + amount
        m.liquidations += 1
        self.save()
        self.log(
            f"liquidated portfolio {who}: tx {result.tx_hash}, {result.gas_used:,} gas, "
            f"reward {self._amounts(reward)}"
        )
        return "liquidate"

    def _poke(self, who: str) -> None:
        """A liquidation refused for a stale feed: record the outage (``pokeStale``,
        engine-wide) so its time counts toward no account's lapse or grace."""
        try:
            result = self.client.engine.transact(self.signer, "pokeStale", max_gas=self.max_gas)
        except ChainError as exc:  # GasCapExceeded included: nothing was sent
            self._error("portfolio pokeStale", exc)
            return
        self._poked = True
        self.watch.metrics.stale_pokes += 1
        self.save()
        self.log(
            f"portfolio liquidation of {who} refused, a feed is stale: pokeStale recorded "
            f"the outage: tx {result.tx_hash}, {result.gas_used:,} gas"
        )

    def _name(self, asset: int) -> str:
        return self.assets.get(asset, (f"asset {asset}", 0))[0]

    def _reward(self, result: TxResult) -> dict[str, int]:
        events = self.client.engine.events(result, "Liquidated")
        if not events:
            return {}
        reward = events[0].args["reward"]
        return {self._name(c): int(v) for c, v in enumerate(reward) if int(v)}

    # ---- transactions

    def _send(self, action: str, who: str, key: str) -> TxResult | None:
        def record(tx_hash: str) -> None:
            self.watch.sent[key] = {"tx": tx_hash, "status": "pending"}
            self.save()

        try:
            result: TxResult = self.client.engine.transact(
                self.signer, action, who, max_gas=self.max_gas, on_sent=record
            )
        except GasCapExceeded:
            if key not in self._skipped:  # one line per account state, not per loop
                self._skipped.add(key)
                self.watch.metrics.skipped_gas += 1
                self.log(
                    f"portfolio {action} {who}: skipped, needs more than --max-gas {self.max_gas:,}"
                )
            return None
        self.watch.sent[key]["status"] = "mined"
        return result

    def _settle_pending(self, who: str) -> bool:
        """Look up this account's pending transactions; True if one is still in flight."""
        busy = False
        for key, entry in self.watch.sent.items():
            if entry.get("status") != "pending" or key.split(":")[1] != who:
                continue
            status = tx_status_on(self.client.chain, entry["tx"])
            if status == "pending":
                busy = True
                continue
            if status == "dropped":
                self.log(f"portfolio {key.split(':')[0]} {who}: tx {entry['tx']} was dropped")
            entry["status"] = status
            self.save()
        self.watch.sent = {k: v for k, v in self.watch.sent.items() if v["status"] != "dropped"}
        return busy

    def _prune(self, who: str, nonce: int) -> None:
        """Forget settled transactions of proofs older than ``nonce`` (nonces never repeat)."""
        for k in [
            k
            for k, v in self.watch.sent.items()
            if v["status"] != "pending" and k.split(":")[1] == who and int(k.split(":")[2]) < nonce
        ]:
            del self.watch.sent[k]

    def _forget(self, who: str) -> None:
        """A closed account (closed by its trader, or liquidated): stop watching it and drop
        its settled transactions; a reopened account comes back with ``AccountOpened``."""
        self.watch.accounts.remove(who)
        self.watch.sent = {
            k: v
            for k, v in self.watch.sent.items()
            if k.split(":")[1] != who or v["status"] == "pending"
        }
        self.save()
