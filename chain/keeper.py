"""A keeper daemon: watch every account the engine knows, flag the ones whose prices left
their proven move set, liquidate the ones past grace or lapse.

Discovery: ``AccountOpened`` events from the deployment's block on (in chunks), then each
new block range as it comes; ``--accounts FILE`` adds addresses by hand. The last block
scanned (the *cursor*) and every transaction sent are kept in a JSON state file, written
atomically after every change, so a restarted keeper resumes where it stopped and never
sends twice for the same account state.

Per loop and account (one ``step``):

* a transaction recorded as pending is looked up first (mined: recorded; still in the
  mempool: nothing else is sent for that account; dropped: forgotten);
* ``liquidatable(who)`` true → ``liquidate``; else, no shock pending and ``flagShock``
  would succeed (``eth_estimateGas`` simulates it: a revert means "not flaggable now")
  → ``flagShock``. Nothing is sent for a state (account, nonce, proof time, action) that
  already has a transaction.

Before the accounts, unless ``risk_sync`` is off (``--no-risk-sync``), the keeper keeps
volatility-driven margin current (docs/risk.md), unless a transaction of the keeper's is
still in the node's pool: for each market feed the
``VolatilityMonitor`` tracks, ``update(feed)`` when the oracle has a round newer than the
monitor's last observation (``isCurrent`` false); then, for each market,
``RiskGovernor.syncMargin(market)`` when the governor's volatility target is above the
engine's rates, the market's cooldown has passed and the sync would not stop at the
ceiling (the governor's own rule, mirrored by :func:`sync_would_raise`). Views first, a
transaction only when it changes something, each capped at ``max_gas``; an error on one
is one log line (once per distinct message) and a counter, never fatal.

With ``push_prices`` on, each loop first looks at the node's pool (``txpool_content``):
when a proof transaction to the engine (open, proveMargin, withdraw) is waiting and the
keeper has not pushed in the current block, it sends ``pushPrices`` (docs/protocol.md,
"Price cache"): the proofs mined in the same block after it read one or two engine words
instead of the oracle. The keeper pays the push (~111k gas with 3 feeds); it pays off
from about 2 proofs in the block (isolated) or 1.5 (cross). The PortfolioEngine's proofs
(open, proveMargin, withdraw) get their own engine's push the same way (~115k; it saves
each ~75k). Proofs in other blocks read the oracle as before: the push is an
optimisation, never needed for safety or liveness.

Transactions are built here (not with :meth:`chain.rpc.Chain.transact`) so that the hash
is on disk before the keeper waits for the receipt; gas is the estimate plus a margin and
never above ``max_gas`` (a transaction that would need more is skipped, with a log line).
Any :class:`~chain.errors.ChainError` in a loop (RPC down, a bad block) is one log line,
counted in the metrics, and the loop backs off (doubling, capped) and carries on.

The PortfolioEngine's accounts, when the deployment lists one (``portfolio`` off:
``--no-portfolio``), are kept by :class:`chain.portfolio_keeper.PortfolioKeeper` after
the rate-based ones in each loop, with the same guarantees and its own section of the
state file.

Reads written here on top of ``client.engine`` / ``client.chain``: :func:`opened_accounts`
(``AccountOpened`` logs) and :func:`tx_status`; sends go through the engine contract's
``transact`` with ``max_gas`` and ``on_sent`` (the hash is recorded before the wait).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

from eth_utils.abi import function_abi_to_4byte_selector
from eth_utils.address import to_checksum_address

from chain.client import EngineClient
from chain.daemon import opened_accounts_of, run_loop, tx_status_on
from chain.errors import ChainError, RevertError
from chain.governance import GovernanceClient, Limits
from chain.portfolio import PortfolioClient
from chain.portfolio_keeper import PortfolioKeeper, PortfolioWatch
from chain.rpc import Contract, GasCapExceeded, TxResult
from chain.signers import Signer
from zkmargin.amounts import format_fixed
from zkmargin.errors import InputError
from zkmargin.jsonio import PRIVATE, read_json_file, write_json

STATE_VERSION = 1
# Engine functions whose proofs read the price cache: openIsolated, openCross, proveMargin,
# withdraw (with a proof); the PortfolioEngine's open, proveMargin, withdraw. Their selectors
# come from each engine's ABI.
PROOF_FUNCTIONS: tuple[str, ...] = ("openIsolated", "openCross", "proveMargin", "withdraw")
PORTFOLIO_PROOF_FUNCTIONS: tuple[str, ...] = ("open", "proveMargin", "withdraw")
DEFAULT_MAX_GAS = 500_000

Log = Callable[[str], None]


def _pending_proofs(
    content: Mapping[str, Any], engine: Contract, functions: tuple[str, ...]
) -> list[Mapping[str, Any]]:
    """The pending transactions of a ``txpool_content`` answer that call one of
    ``functions`` on ``engine``."""
    address = engine.address.lower()
    selectors = {
        "0x" + function_abi_to_4byte_selector(cast(Any, entry)).hex()
        for entry in engine.abi
        if entry.get("type") == "function" and entry.get("name") in functions
    }
    found: list[Mapping[str, Any]] = []
    for by_nonce in (content.get("pending") or {}).values():
        for tx in by_nonce.values():
            data = str(tx.get("input") or tx.get("data") or "")
            if str(tx.get("to") or "").lower() == address and data[:10] in selectors:
                found.append(tx)
    return found


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


# ---------------------------------------------------------------- client helpers


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def latest_block(client: EngineClient) -> int:
    return int(client.chain.block()["number"], 16)


def opened_accounts(client: EngineClient, from_block: int, to_block: int) -> list[str]:
    """Addresses of ``AccountOpened`` events in ``[from_block, to_block]``, in log order."""
    return opened_accounts_of(client.chain, client.engine, from_block, to_block)


def estimate(client: EngineClient, signer: Signer, name: str, *args: Any) -> int:
    """``eth_estimateGas`` of an engine call: raises RevertError if it would revert."""
    fn = client.engine.web3.functions[name](*args)
    return int(
        client.chain.guarded(
            f"MarginEngine.{name}", lambda: fn.estimate_gas({"from": signer.address})
        )
    )


def tx_status(client: EngineClient, tx_hash: str) -> str:
    """``mined``, ``failed``, ``pending`` (in the node's pool) or ``dropped``."""
    return tx_status_on(client.chain, tx_hash)


# ---------------------------------------------------------------- state


@dataclass
class Metrics:
    loops: int = 0
    flags: int = 0
    liquidations: int = 0
    rpc_errors: int = 0
    skipped_gas: int = 0
    vol_updates: int = 0  # VolatilityMonitor.update sent
    margin_syncs: int = 0  # RiskGovernor.syncMargin sent
    risk_errors: int = 0  # an update or sync that failed (one log line each)
    reward: dict[str, int] = field(default_factory=dict)  # asset -> token base units

    def to_json(self) -> dict[str, Any]:
        return {
            "loops": self.loops,
            "flags": self.flags,
            "liquidations": self.liquidations,
            "rpc_errors": self.rpc_errors,
            "skipped_gas": self.skipped_gas,
            "vol_updates": self.vol_updates,
            "margin_syncs": self.margin_syncs,
            "risk_errors": self.risk_errors,
            "reward": {k: str(v) for k, v in self.reward.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metrics:
        return cls(
            loops=int(data.get("loops", 0)),
            flags=int(data.get("flags", 0)),
            liquidations=int(data.get("liquidations", 0)),
            rpc_errors=int(data.get("rpc_errors", 0)),
            skipped_gas=int(data.get("skipped_gas", 0)),
            vol_updates=int(data.get("vol_updates", 0)),
            margin_syncs=int(data.get("margin_syncs", 0)),
            risk_errors=int(data.get("risk_errors", 0)),
            reward={str(k): int(v) for k, v in dict(data.get("reward", {})).items()},
        )


@dataclass
class KeeperState:
    """What survives a restart: where discovery stopped, whom to watch, what was sent."""

    engine: str
    chain_id: int
    cursor: int  # last block scanned for AccountOpened
    accounts: list[str] = field(default_factory=list)
    # key "action:account:nonce:lastProofAt" -> {"tx": hash, "status": pending|mined|failed}
    sent: dict[str, dict[str, str]] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
    portfolio: PortfolioWatch | None = None  # the PortfolioEngine's accounts, once watched

    def to_json(self) -> dict[str, Any]:
        out = {
            "version": STATE_VERSION,
            "engine": self.engine,
            "chain_id": self.chain_id,
            "cursor": self.cursor,
            "accounts": self.accounts,
            "sent": self.sent,
            "metrics": self.metrics.to_json(),
        }
        if self.portfolio is not None:
            out["portfolio"] = self.portfolio.to_json()
        return out

    @classmethod
    def load(cls, path: Path, engine: str, chain_id: int, start: int) -> KeeperState:
        if not path.exists():
            return cls(engine=_checksum(engine), chain_id=chain_id, cursor=start - 1)
        data = read_json_file(path, "keeper state file")
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise InputError(f"keeper state file {path}: not a version {STATE_VERSION} state")
        if _checksum(str(data["engine"])) != _checksum(engine) or int(data["chain_id"]) != chain_id:
            raise InputError(
                f"keeper state file {path} is for engine {data['engine']} on chain "
                f"{data['chain_id']}, not {engine} on chain {chain_id}: use another --state"
            )
        return cls(
            engine=_checksum(engine),
            chain_id=chain_id,
            cursor=int(data["cursor"]),
            accounts=[_checksum(str(a)) for a in data.get("accounts", [])],
            sent={str(k): {str(a): str(b) for a, b in v.items()} for k, v in data["sent"].items()},
            metrics=Metrics.from_json(data.get("metrics", {})),
            portfolio=PortfolioWatch.from_json(data["portfolio"]) if "portfolio" in data else None,
        )

    def watch_portfolio(self, engine: str, start: int) -> PortfolioWatch:
        """The portfolio section for ``engine`` (new: discovery from block ``start``)."""
        if self.portfolio is None:
            self.portfolio = PortfolioWatch(engine=_checksum(engine), cursor=start - 1)
        elif self.portfolio.engine != _checksum(engine):
            raise InputError(
                f"keeper state file: its portfolio section is for engine "
                f"{self.portfolio.engine}, the deployment's PortfolioEngine is {engine}: use "
                "another --state"
            )
        return self.portfolio

    def save(self, path: Path) -> None:
        write_json(path, self.to_json(), mode=PRIVATE)


def read_accounts_file(path: Path) -> list[str]:
    """Addresses, one a line (``#`` comments and blank lines ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"accounts file {path}: cannot read ({exc.strerror})") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        item = line.split("#", 1)[0].strip()
        if not item:
            continue
        try:
            out.append(_checksum(item))
        except ValueError:
            raise InputError(f"accounts file {path}: line {lineno}: not an address") from None
    return out


# ---------------------------------------------------------------- the daemon


@dataclass(frozen=True)
class KeeperConfig:
    state_file: Path
    interval: float = 2.0  # seconds between loops
    max_gas: int = DEFAULT_MAX_GAS  # gas limit cap per transaction
    max_tx_per_loop: int = 20
    metrics_every: int = 30  # loops between metrics lines
    extra_accounts: tuple[str, ...] = ()
    risk_sync: bool = True  # update volatility and sync margin (RiskGovernor deployments)
    push_prices: bool = False  # pushPrices when a proof to the engine waits in the pool
    portfolio: bool = True  # also keep the deployment's PortfolioEngine, if it has one


def sync_would_raise(mmr: int, imr: int, target_mmr: int, target_imr: int, limits: Limits) -> bool:
    """Whether ``RiskGovernor.syncMargin`` would change a market's rates (its rule,
    docs/risk.md): toward the target by at most one step each, MMR not past the ceiling."""
    ceiling = max(mmr, limits.max_mmr_bps)
    new_mmr = min(max(mmr, target_mmr), mmr + limits.max_step_bps, ceiling)
    new_imr = min(max(imr, target_imr, new_mmr), imr + limits.max_step_bps)
    return (new_mmr, new_imr) != (mmr, imr)


class Keeper:
    """Flags and liquidates; ``run`` loops until ``stop`` is set or ``max_iterations``."""

    def __init__(
        self,
        client: EngineClient,
        signer: Signer,
        config: KeeperConfig,
        *,
        log: Log = print,
        stop: threading.Event | None = None,
    ) -> None:
        self.client = client
        self.signer = signer
        self.config = config
        self.log = log
        self.stop = stop or threading.Event()
        dep = client.deployment
        self.state = KeeperState.load(config.state_file, dep.engine, dep.chain_id, dep.block)
        for who in config.extra_accounts:
            self._watch(_checksum(who))
        self._skipped: set[str] = set()
        self._gov: GovernanceClient | None = None
        self._risk_logged: dict[str, str] = {}  # what -> the last error logged for it
        self.last_risk_actions: list[tuple[str, str]] = []
        self._pushed_block: dict[str, int] = {}  # engine -> the block of its last push
        self.portfolio = self._portfolio_keeper()

    def _portfolio_keeper(self) -> PortfolioKeeper | None:
        """The portfolio part, when on and the deployment lists a ``PortfolioEngine``
        (its asset ids are the deployment's: chain.deploy.deploy_portfolio)."""
        dep = self.client.deployment
        address = dep.contracts.get("PortfolioEngine")
        if not self.config.portfolio or address is None:
            return None
        watch = self.state.watch_portfolio(address, dep.block)
        return PortfolioKeeper(
            PortfolioClient(self.client.chain, address),
            self.signer,
            watch,
            max_gas=self.config.max_gas,
            assets={a.id: (a.name, a.decimals) for a in dep.assets},
            save=self._save,
            log=self.log,
        )

    # ---- bookkeeping

    def _save(self) -> None:
        self.state.save(self.config.state_file)

    def _watch(self, who: str) -> bool:
        if who in self.state.accounts:
            return False
        self.state.accounts.append(who)
        return True

    def metrics_line(self) -> str:
        m = self.state.metrics
        reward = ", ".join(
            f"{format_fixed(v, self.client.deployment.asset(k).decimals)} {k}"
            for k, v in sorted(m.reward.items())
            if v
        )
        return (
            f"metrics: accounts {len(self.state.accounts)}, flags {m.flags}, liquidations "
            f"{m.liquidations}, reward {reward or '0'}, volatility updates {m.vol_updates}, "
            f"margin syncs {m.margin_syncs}, risk errors {m.risk_errors}, rpc errors "
            f"{m.rpc_errors}, loops {m.loops}"
            + (f"; {self.portfolio.metrics_text()}" if self.portfolio else "")
        )

    # ---- one loop

    def discover(self) -> int:
        """Scan new blocks for AccountOpened; returns how many accounts were added."""
        latest = latest_block(self.client)
        if latest <= self.state.cursor:
            return 0
        new = 0
        for who in opened_accounts(self.client, self.state.cursor + 1, latest):
            if self._watch(who):
                new += 1
                self.log(f"watching {who} (AccountOpened)")
        self.state.cursor = latest
        self._save()
        return new

    def _key(self, action: str, who: str) -> str | None:
        """The state an action is for; None when the account is not open."""
        state = self.client.account_state(who)
        if not state.open:
            return None
        return f"{action}:{who}:{state.nonce}:{state.last_proof_at}:{state.shock_at}"

    def _settle_pending(self, who: str) -> bool:
        """Look up this account's pending transactions; True if one is still in flight."""
        busy = False
        for key, entry in self.state.sent.items():
            if entry.get("status") != "pending" or key.split(":")[1] != who:
                continue
            status = tx_status(self.client, entry["tx"])
            if status == "pending":
                busy = True
                continue
            if status == "dropped":
                self.log(f"{key.split(':')[0]} {who}: tx {entry['tx']} was dropped; may resend")
            entry["status"] = status
            self._save()
        self.state.sent = {k: v for k, v in self.state.sent.items() if v.get("status") != "dropped"}
        return busy

    def _send(self, action: str, who: str, key: str) -> TxResult | None:
        def record(tx_hash: str) -> None:
            self.state.sent[key] = {"tx": tx_hash, "status": "pending"}
            self._save()

        fn = "flagShock" if action == "flag" else "liquidate"
        try:
            result: TxResult | None = self.client.engine.transact(
                self.signer, fn, who, max_gas=self.config.max_gas, on_sent=record
            )
        except GasCapExceeded:
            result = None
        if result is None:
            if key not in self._skipped:  # one line per account state, not per loop
                self._skipped.add(key)
                self.state.metrics.skipped_gas += 1
                self.log(
                    f"{action} {who}: skipped, needs more than --max-gas {self.config.max_gas:,}"
                )
            return None
        self.state.sent[key]["status"] = "mined"
        return result

    def _prune(self, who: str, nonce: int) -> None:
        """Forget settled transactions of proofs older than ``nonce`` (nonces never repeat)."""
        stale = [
            k
            for k, v in self.state.sent.items()
            if v.get("status") != "pending"
            and k.split(":")[1] == who
            and int(k.split(":")[2]) < nonce
        ]
        for k in stale:
            del self.state.sent[k]

    def check(self, who: str) -> str | None:
        """Act on one account if it needs it; returns the action taken, if any."""
        if self._settle_pending(who):
            return None
        self._prune(who, self.client.account_state(who).nonce)
        liquidatable, _at = self.client.liquidatable(who)
        if liquidatable:
            key = self._key("liquidate", who)
            if key is None or key in self.state.sent:
                return None
            result = self._send("liquidate", who, key)
            if result is None:
                return None
            self._count_reward(result)
            self.state.metrics.liquidations += 1
            self._save()
            self.log(
                f"liquidated {who}: tx {result.tx_hash}, {result.gas_used:,} gas, "
                f"reward {self._reward_text(result)}"
            )
            return "liquidate"
        state = self.client.account_state(who)
        if not state.open or state.shock_at:
            return None
        key = self._key("flag", who)
        if key is None or key in self.state.sent:
            return None
        try:
            estimate(self.client, self.signer, "flagShock", who)
        except RevertError:
            return None  # inside its proven set (or a shock pending): not flaggable now
        result = self._send("flag", who, key)
        if result is None:
            return None
        self.state.metrics.flags += 1
        self._save()
        moved = [e for e in self.client.engine.events(result, "MoveSetLeft")]
        detail = ""
        if moved:
            a = moved[0].args
            detail = (
                f" (slot {a['slot']}: {format_fixed(int(a['proven']), 8)} -> "
                f"{format_fixed(int(a['price']), 8)})"
            )
        self.log(f"flagged {who}{detail}: tx {result.tx_hash}, {result.gas_used:,} gas")
        return "flag"

    def _reward(self, result: TxResult) -> dict[str, int]:
        events = self.client.engine.events(result, "Liquidated")
        if not events:
            return {}
        reward = events[0].args["reward"]
        return {a.name: int(reward[a.id]) for a in self.client.deployment.assets}

    def _count_reward(self, result: TxResult) -> None:
        for name, amount in self._reward(result).items():
            self.state.metrics.reward[name] = self.state.metrics.reward.get(name, 0) + amount

    def _reward_text(self, result: TxResult) -> str:
        parts = [
            f"{format_fixed(v, self.client.deployment.asset(k).decimals)} {k}"
            for k, v in self._reward(result).items()
            if v
        ]
        return ", ".join(parts) or "0"

    # ---- volatility and margin (RiskGovernor deployments)

    def governance(self) -> GovernanceClient | None:
        """The deployment's governor and monitor; None when risk sync is off or the
        deployment has none (logged once)."""
        if not self.config.risk_sync:
            return None
        if self._gov is None:
            contracts = self.client.deployment.contracts
            if "RiskGovernor" not in contracts or "VolatilityMonitor" not in contracts:
                self.log("risk sync off: this deployment has no RiskGovernor / VolatilityMonitor")
                self.config = replace(self.config, risk_sync=False)
                return None
            self._gov = GovernanceClient.of(self.client)
        return self._gov

    def _risk_error(self, what: str, exc: ChainError) -> None:
        self.state.metrics.risk_errors += 1
        text = str(exc)
        if self._risk_logged.get(what) != text:  # one line per distinct error, not per loop
            self._risk_logged[what] = text
            self.log(f"{what}: {text}")

    def _risk_send(self, what: str, contract: Any, fn: str, *args: Any) -> TxResult | None:
        try:
            result: TxResult = contract.transact(
                self.signer, fn, *args, max_gas=self.config.max_gas
            )
        except ChainError as exc:  # GasCapExceeded included: nothing was sent
            self._risk_error(what, exc)
            return None
        self._risk_logged.pop(what, None)
        return result

    def risk_step(self) -> list[tuple[str, str]]:
        """Fold new oracle rounds into the monitor, then raise margin where volatility
        asks for it. Returns the actions sent, e.g. ``("update", "ETH/USD")``,
        ``("sync", "ETH-USD")``. Never raises ChainError (each failure: a line, a count)."""
        done: list[tuple[str, str]] = []
        try:
            gov = self.governance()
        except ChainError as exc:
            self._risk_error("risk sync", exc)
            return done
        if gov is None:
            return done
        chain = self.client.chain
        try:
            mined = chain.request("eth_getTransactionCount", [self.signer.address, "latest"])
            in_flight = chain.nonce(self.signer.address) > int(str(mined), 0)
        except ChainError as exc:
            self._risk_error("risk sync", exc)
            return done
        if in_flight:  # a transaction of ours is still in the pool: do not add another
            return done
        dep = self.client.deployment
        for name in dict.fromkeys(m.feed for m in dep.markets):  # each market feed once
            if self.stop.is_set():
                return done
            what = f"volatility update {name}"
            feed = dep.feed(name).address
            try:
                stale = int(gov.monitor.call("horizon", feed)) != 0 and not bool(
                    gov.monitor.call("isCurrent", feed)
                )
            except ChainError as exc:
                self._risk_error(what, exc)
                continue
            if not stale:
                continue
            result = self._risk_send(what, gov.monitor, "update", feed)
            if result is None:
                continue
            self.state.metrics.vol_updates += 1
            done.append(("update", name))
            self.log(f"volatility {name} updated: tx {result.tx_hash}, {result.gas_used:,} gas")
        limits: Limits | None = None
        for m in dep.markets:
            if self.stop.is_set():
                return done
            what = f"margin sync {m.name}"
            try:
                limits = limits or gov.limits()
                market = gov.engine.call("market", m.id)
                mmr, imr = int(market[1]), int(market[2])
                t_mmr, t_imr, _vol = gov.governor.call("targetRates", m.id)
                ready = int(gov.governor.call("readyAt", m.id))
                now = self.client.chain.timestamp()
            except ChainError as exc:
                self._risk_error(what, exc)
                continue
            if ready > now or not sync_would_raise(mmr, imr, int(t_mmr), int(t_imr), limits):
                continue
            result = self._risk_send(what, gov.governor, "syncMargin", m.id)
            if result is None:
                continue
            self.state.metrics.margin_syncs += 1
            done.append(("sync", m.name))
            after = gov.engine.call("market", m.id)
            self.log(
                f"margin {m.name} synced to volatility: MMR {mmr} -> {int(after[1])}, IMR "
                f"{imr} -> {int(after[2])} bps (target {int(t_mmr)}): tx {result.tx_hash}, "
                f"{result.gas_used:,} gas"
            )
        return done

    def _push_targets(self) -> list[tuple[Contract, tuple[str, ...], str]]:
        """Each engine with a price cache: (contract, its proof functions, log prefix)."""
        targets: list[tuple[Contract, tuple[str, ...], str]] = [
            (self.client.engine, PROOF_FUNCTIONS, "")
        ]
        if self.portfolio is not None:
            targets.append((self.portfolio.client.engine, PORTFOLIO_PROOF_FUNCTIONS, "portfolio "))
        return targets

    def proofs_pending(self) -> int:
        """Proof transactions to the engines waiting in the node's pool (``txpool_content``)."""
        content = self.client.chain.request("txpool_content", [])
        return sum(len(_pending_proofs(content, e, f)) for e, f, _ in self._push_targets())

    def push_step(self) -> list[TxResult]:
        """``pushPrices`` on each engine for which a proof waits in the pool and the keeper
        has not pushed for the block being built; returns the mined pushes. A refused push
        (a stale feed) is one log line: the proofs then read the oracle and fail or pass on
        their own."""
        if not self.config.push_prices:
            return []
        block = latest_block(self.client)
        targets = [t for t in self._push_targets() if self._pushed_block.get(t[0].address) != block]
        if not targets:
            return []
        content = self.client.chain.request("txpool_content", [])
        pushes = []
        for engine, functions, prefix in targets:
            waiting = _pending_proofs(content, engine, functions)
            if not waiting:
                continue
            self._pushed_block[engine.address] = block
            result = self._push(engine, waiting, prefix)
            if result is not None:
                pushes.append(result)
        return pushes

    def _push(
        self, engine: Contract, waiting: list[Mapping[str, Any]], prefix: str
    ) -> TxResult | None:
        # the push must be mined before the proofs: a gas price above theirs (blocks are
        # ordered by fee; equal fees keep arrival order, and the proofs arrived first)
        price = max(_int(tx.get("gasPrice") or tx.get("maxFeePerGas") or 0) for tx in waiting)
        fn = engine.web3.functions.pushPrices()
        try:
            result = self.client.chain.transact(
                self.signer,
                action=f"{engine.name}.pushPrices",
                estimate=fn.estimate_gas,
                build=lambda tx: fn.build_transaction(
                    {**tx, "gasPrice": max(_int(tx["gasPrice"]), price + price // 10 + 1)}
                ),
                max_gas=self.config.max_gas,
            )
        except (RevertError, GasCapExceeded) as exc:
            self.log(f"{prefix}pushPrices: {exc}")
            return None
        self.log(f"{prefix}pushPrices: tx {result.tx_hash}, {result.gas_used:,} gas")
        return result

    def step(self) -> list[tuple[str, str]]:
        """One loop: push prices if proofs wait (``push_prices``), discover, keep
        volatility and margin current (those actions go to ``last_risk_actions``), then act
        on each watched account, then the PortfolioEngine's (:mod:`chain.portfolio_keeper`,
        which logs and counts its own errors); returns the account actions. Raises
        ChainError (not for the portfolio part)."""
        self.push_step()
        self.discover()
        self.last_risk_actions = self.risk_step()
        if self.last_risk_actions:
            self._save()
        done: list[tuple[str, str]] = []
        for who in list(self.state.accounts):
            if self.stop.is_set() or len(done) >= self.config.max_tx_per_loop:
                break
            try:
                action = self.check(who)
            except RevertError as exc:
                # the state changed under us (someone else flagged or liquidated first)
                self.log(f"{who}: {exc}")
                continue
            if action:
                done.append((action, who))
        if self.portfolio is not None and not self.stop.is_set():
            budget = self.config.max_tx_per_loop - len(done)
            done += self.portfolio.step(budget, self.stop)
        return done

    def run(self, max_iterations: int | None = None) -> None:
        """Loop until stopped or ``max_iterations`` loops; never dies on an error in a loop
        (one line, counted, then a backoff that doubles up to a minute)."""
        self.log(
            f"keeper {self.signer.address} on engine {self.client.deployment.engine}: "
            f"{len(self.state.accounts)} accounts known, from block {self.state.cursor + 1}"
        )
        if self.portfolio is not None:
            w = self.portfolio.watch
            self.log(
                f"portfolio engine {w.engine}: {len(w.accounts)} accounts known, from block "
                f"{w.cursor + 1}"
            )
        else:
            why = "--no-portfolio" if not self.config.portfolio else "no PortfolioEngine"
            self.log(f"portfolio engine: not watched ({why})")
        run_loop(
            self._step_ok,
            stop=self.stop,
            interval=self.config.interval,
            log=self.log,
            max_iterations=max_iterations,
            on_error=self._count_error,
            after_step=self._after_step,
        )
        self.log(f"keeper stopped; {self.metrics_line()}")

    def _step_ok(self) -> bool:
        self.step()
        return True

    def _count_error(self) -> None:
        self.state.metrics.rpc_errors += 1

    def _after_step(self) -> None:
        self.state.metrics.loops += 1
        self._save_quietly()
        if self.state.metrics.loops % self.config.metrics_every == 0:
            self.log(self.metrics_line())

    def _save_quietly(self) -> None:
        try:
            self._save()
        except OSError as exc:
            self.log(f"cannot write the state file {self.config.state_file}: {exc.strerror}")
