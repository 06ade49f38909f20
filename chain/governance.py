"""Risk governance on chain: a TimelockController, the RiskGovernor and the VolatilityMonitor.

:func:`deploy_governance` deploys them next to an engine and hands the engine to the
governor (``transferOwnership`` by the engine's owner, then ``acceptEngineOwnership``).
From then on (docs/risk.md):

- loosening and listings go through the timelock: :meth:`GovernanceClient.schedule`,
  then, once the delay has passed, :meth:`GovernanceClient.execute`;
- the risk publisher tightens at once, within the governor's limits
  (``raiseMarketRisk``, ``raiseHaircut``, ``shortenProofLifetime``, ``raiseCloseFee``, ...);
- anyone folds the oracle's latest price into the volatility estimate
  (:meth:`GovernanceClient.update_volatility`) and raises a market's margin toward its
  volatility target (:meth:`GovernanceClient.sync_margin`); a lower target is announced
  (:meth:`GovernanceClient.propose_relax`) and applied after the delay
  (:meth:`GovernanceClient.execute_relax`).

Every governor function and its argument order is the Solidity one
(``contracts/src/risk/IRiskGovernor.sol``); a timelocked call is named the same way,
e.g. ``schedule(signer, "setMarketRisk", 0, 300, 600)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address

from chain.artifacts import load_artifact
from chain.errors import ChainError
from chain.rpc import Chain, Contract, TxResult, deploy_contract
from chain.signers import Signer

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_SALT = b"\x00" * 32

# Field order of IRiskGovernor.Limits.
LIMIT_FIELDS = (
    "max_step_bps",
    "cooldown",
    "relax_delay",
    "max_mmr_bps",
    "max_haircut_bps",
    "min_lifetime",
    "min_grace",
    "min_penalty_bps",
    "z_bps",
    "margin_period",
    "max_close_fee_step_bps",
    "max_close_fee_bps",
)

# RiskGovernor.PARAM_CLOSE_FEE: the cooldown clock of market k's close fee is this + k.
CLOSE_FEE_PARAM = 9

# Governor functions that only the timelock may call.
TIMELOCKED = (
    "listMarket",
    "listCollateral",
    "setMarketRisk",
    "setHaircut",
    "setProofLifetime",
    "setGracePeriod",
    "setLiquidationPenalty",
    "setCloseFee",
    "setPool",
    "setLimits",
    "transferEngineOwnership",
    "grantRole",
    "revokeRole",
)


@dataclass(frozen=True)
class Limits:
    """IRiskGovernor.Limits: what may change without the timelock (bps and seconds)."""

    max_step_bps: int = 250
    cooldown: int = 60
    relax_delay: int = 60
    max_mmr_bps: int = 5_000
    max_haircut_bps: int = 5_000
    min_lifetime: int = 600
    min_grace: int = 60
    min_penalty_bps: int = 100
    z_bps: int = 30_000  # 3 sigma
    margin_period: int = 3_600
    max_close_fee_step_bps: int = 50
    max_close_fee_bps: int = 150

    def as_tuple(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, name)) for name in LIMIT_FIELDS)

    @classmethod
    def from_tuple(cls, values: Any) -> Limits:
        return cls(**{name: int(v) for name, v in zip(LIMIT_FIELDS, values, strict=True)})


@dataclass(frozen=True)
class GovernanceSpec:
    """How :func:`deploy_governance` sets governance up.

    The defaults are for the local demo chain: a 60-second timelock and 60-second
    cooldowns, so a loosening can be shown in a minute of anvil time. A deployment for
    value wants days (docs/risk.md, "Parameters").
    """

    timelock_delay: int = 60
    limits: Limits = field(default_factory=Limits)
    horizon: int = 86_400  # EWMA horizon H, seconds
    # ~80% a year: 0.64 / 31,536,000 s, in WAD (1e18) per second
    seed_variance: int = 20_000_000_000
    publisher_is_deployer: bool = True


LOCAL_GOVERNANCE = GovernanceSpec()


@dataclass(frozen=True)
class GovernanceDeployment:
    addresses: dict[str, str]  # TimelockController, VolatilityMonitor, RiskGovernor
    results: list[TxResult]
    gas: dict[str, int]


def _quiet(_: str) -> None:
    pass


def deploy_governance(
    chain: Chain,
    deployer: Signer,
    engine: Contract,
    oracle: str,
    feeds: list[str],
    spec: GovernanceSpec = LOCAL_GOVERNANCE,
    *,
    log: Callable[[str], None] = _quiet,
) -> GovernanceDeployment:
    """Deploy the timelock (proposer: ``deployer``; executor: anyone), the monitor
    (tracking ``feeds``, owned by the timelock) and the governor, and make the governor
    the engine's owner. ``deployer`` must own the engine."""
    results: list[TxResult] = []
    gas: dict[str, int] = {}

    def deploy(name: str, *args: Any) -> Contract:
        contract, result = deploy_contract(
            chain, deployer, load_artifact(name).abi, load_artifact(name).bytecode, *args, name=name
        )
        results.append(result)
        gas[name] = result.gas_used
        log(f"{name:22s} {contract.address}  gas {result.gas_used:,}")
        return contract

    timelock = deploy(
        "TimelockController", spec.timelock_delay, [deployer.address], [ZERO_ADDRESS], ZERO_ADDRESS
    )
    monitor = deploy(
        "VolatilityMonitor",
        timelock.address,
        oracle,
        [_checksum(f) for f in feeds],
        spec.horizon,
        spec.seed_variance,
    )
    publisher = deployer.address if spec.publisher_is_deployer else ZERO_ADDRESS
    governor = deploy(
        "RiskGovernor",
        engine.address,
        monitor.address,
        timelock.address,
        publisher,
        spec.limits.as_tuple(),
    )
    results.append(engine.transact(deployer, "transferOwnership", governor.address))
    results.append(governor.transact(deployer, "acceptEngineOwnership"))
    if _checksum(str(engine.call("owner"))) != governor.address:
        raise ChainError("the governor did not take over the engine")
    log(
        f"engine owned by the RiskGovernor; loosening waits {spec.timelock_delay} s "
        "behind the TimelockController"
    )
    return GovernanceDeployment(
        {
            "TimelockController": timelock.address,
            "VolatilityMonitor": monitor.address,
            "RiskGovernor": governor.address,
        },
        results,
        gas,
    )


# ---------------------------------------------------------------- using it


@dataclass(frozen=True)
class Operation:
    """A timelock operation on the governor."""

    id: str  # 0x… operation id
    function: str
    args: tuple[Any, ...]
    data: bytes
    ready_at: int  # chain timestamp from which it may execute (0: unknown)
    state: str  # Unset, Waiting, Ready, Done


@dataclass(frozen=True)
class MarketRisk:
    id: int
    name: str
    mmr_bps: int
    imr_bps: int
    floor_mmr_bps: int
    floor_imr_bps: int
    target_mmr_bps: int
    target_imr_bps: int
    vol_mmr_bps: int
    pending_mmr_bps: int
    pending_imr_bps: int
    pending_eta: int  # 0: no relax pending
    ready_at: int  # next immediate change allowed from (0: any time)
    tracked: bool
    current: bool  # the monitor has folded in the oracle's latest answer
    close_fee_bps: int = 0  # the engine's fee on the notional at close
    close_fee_ready_at: int = 0  # next immediate close-fee raise allowed from (0: any time)


_STATES = ("Unset", "Waiting", "Ready", "Done")


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


class GovernanceClient:
    """The governor, its timelock and the volatility monitor of one deployment."""

    def __init__(self, chain: Chain, addresses: dict[str, str], markets: list[tuple[int, str]]):
        missing = [
            n
            for n in ("RiskGovernor", "TimelockController", "VolatilityMonitor")
            if n not in addresses
        ]
        if missing:
            raise ChainError(
                f"this deployment has no risk governance ({', '.join(missing)} missing): "
                "deploy again with `zkmargin deploy`"
            )
        self.chain = chain
        self.markets = markets
        self.governor = Contract(
            chain, addresses["RiskGovernor"], load_artifact("RiskGovernor").abi, "RiskGovernor"
        )
        self.timelock = Contract(
            chain,
            addresses["TimelockController"],
            load_artifact("TimelockController").abi,
            "TimelockController",
        )
        self.monitor = Contract(
            chain,
            addresses["VolatilityMonitor"],
            load_artifact("VolatilityMonitor").abi,
            "VolatilityMonitor",
        )
        self.engine = Contract(
            chain,
            str(self.governor.call("engine")),
            load_artifact("MarginEngine").abi,
            "MarginEngine",
        )

    @classmethod
    def of(cls, client: Any) -> GovernanceClient:
        """From an :class:`chain.client.EngineClient`."""
        dep = client.deployment
        return cls(client.chain, dict(dep.contracts), [(m.id, m.name) for m in dep.markets])

    # ------------------------------------------------------------ timelock

    def min_delay(self) -> int:
        return int(self.timelock.call("getMinDelay"))

    def _encode(self, function: str, args: tuple[Any, ...]) -> bytes:
        if function not in TIMELOCKED:
            raise ChainError(
                f"{function} is not a timelocked governor function "
                f"(one of: {', '.join(TIMELOCKED)})"
            )
        return self.governor.encode(function, *args)

    def operation(self, function: str, *args: Any) -> Operation:
        data = self._encode(function, args)
        op_id = bytes(
            self.timelock.call(
                "hashOperation", self.governor.address, 0, data, ZERO_SALT, ZERO_SALT
            )
        )
        state = _STATES[int(self.timelock.call("getOperationState", op_id))]
        ready_at = int(self.timelock.call("getTimestamp", op_id))
        return Operation(
            "0x" + op_id.hex(), function, args, data, ready_at if ready_at > 1 else 0, state
        )

    def schedule(
        self, signer: Signer, function: str, *args: Any, delay: int | None = None
    ) -> tuple[Operation, TxResult]:
        """Schedule ``function(args)`` on the governor (the signer needs PROPOSER_ROLE)."""
        data = self._encode(function, args)
        result = self.timelock.transact(
            signer,
            "schedule",
            self.governor.address,
            0,
            data,
            ZERO_SALT,
            ZERO_SALT,
            self.min_delay() if delay is None else delay,
        )
        return self.operation(function, *args), result

    def execute(self, signer: Signer, function: str, *args: Any) -> TxResult:
        """Execute a scheduled operation whose delay has passed (anyone may)."""
        data = self._encode(function, args)
        return self.timelock.transact(
            signer, "execute", self.governor.address, 0, data, ZERO_SALT, ZERO_SALT
        )

    def run_timelocked(self, signer: Signer, function: str, *args: Any) -> TxResult:
        """Schedule, advance anvil's clock by the delay, execute (local chains only)."""
        op, _ = self.schedule(signer, function, *args)
        now = self.chain.timestamp()
        if op.ready_at > now:
            self.chain.advance_time(op.ready_at - now)
        return self.execute(signer, function, *args)

    def scheduled(self, from_block: int = 0) -> list[Operation]:
        """Every operation scheduled on the governor (from ``CallScheduled`` events)."""
        event = self.timelock.web3.events.CallScheduled()
        logs = self.chain.guarded(
            "TimelockController events",
            lambda: event.get_logs(from_block=from_block, to_block="latest"),
        )
        out: list[Operation] = []
        for log in logs:
            args = log["args"]
            if _checksum(args["target"]) != self.governor.address:
                continue
            data = bytes(args["data"])
            fn, params = self.governor.web3.decode_function_input(data)
            op_id = bytes(args["id"])
            state = _STATES[int(self.timelock.call("getOperationState", op_id))]
            ready_at = int(self.timelock.call("getTimestamp", op_id))
            out.append(
                Operation(
                    "0x" + op_id.hex(),
                    str(fn.fn_name),
                    tuple(params.values()),
                    data,
                    ready_at if ready_at > 1 else 0,
                    state,
                )
            )
        return out

    # ------------------------------------------------------------ publisher

    def publish(self, signer: Signer, function: str, *args: Any) -> TxResult:
        """An immediate, bounded tightening by the risk publisher (e.g. ``raiseMarketRisk``)."""
        return self.governor.transact(signer, function, *args)

    # ------------------------------------------------------------ anyone

    def feed_of(self, market: int) -> str:
        return str(self.engine.call("market", market)[0])

    def update_volatility(self, signer: Signer, market: int) -> TxResult:
        return self.monitor.transact(signer, "update", self.feed_of(market))

    def sync_margin(self, signer: Signer, market: int) -> TxResult:
        return self.governor.transact(signer, "syncMargin", market)

    def propose_relax(self, signer: Signer, market: int) -> TxResult:
        return self.governor.transact(signer, "proposeRelax", market)

    def execute_relax(self, signer: Signer, market: int) -> TxResult:
        return self.governor.transact(signer, "executeRelax", market)

    def close_fee(self, market: int) -> int:
        return int(self.engine.call("market", market)[3])

    # ------------------------------------------------------------ reads

    def limits(self) -> Limits:
        return Limits.from_tuple(self.governor.call("limits"))

    def market_risk(self, market: int) -> MarketRisk:
        name = dict(self.markets).get(market, f"market {market}")
        feed, mmr, imr, fee = self.engine.call("market", market)
        floor_mmr, floor_imr = self.governor.call("floorOf", market)
        tracked = int(self.monitor.call("horizon", feed)) != 0
        if tracked:
            t_mmr, t_imr, vol = self.governor.call("targetRates", market)
            current = bool(self.monitor.call("isCurrent", feed))
        else:
            t_mmr, t_imr, vol, current = floor_mmr, floor_imr, 0, False
        p_mmr, p_imr, eta = self.governor.call("pendingRelax", market)
        ready = int(self.governor.call("readyAt", market))
        fee_ready = int(self.governor.call("readyAt", CLOSE_FEE_PARAM + market))
        return MarketRisk(
            market,
            name,
            int(mmr),
            int(imr),
            int(floor_mmr),
            int(floor_imr),
            int(t_mmr),
            int(t_imr),
            int(vol),
            int(p_mmr),
            int(p_imr),
            int(eta),
            ready,
            tracked,
            current,
            int(fee),
            fee_ready,
        )


__all__ = [
    "LIMIT_FIELDS",
    "LOCAL_GOVERNANCE",
    "TIMELOCKED",
    "GovernanceClient",
    "GovernanceDeployment",
    "GovernanceSpec",
    "Limits",
    "MarketRisk",
    "Operation",
    "deploy_governance",
]
