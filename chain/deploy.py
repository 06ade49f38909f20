"""Deploy the whole system and describe it in a deployment file.

:func:`deploy_system` deploys, in order: one MockAggregator per price feed (with its
decimals and a first answer), one MockERC20 per collateral asset, the OracleAdapter
(and ``setFeed`` with each feed's heartbeat), the two generated Groth16 verifiers,
circomlibjs' Poseidon(4) from its bytecode, and the MarginEngine (proof lifetime, grace
period, liquidation penalty); then lists the markets (with their close fee) and
collateral assets (ids follow the listing order), deploys one MarginPool vault per asset
(ERC-4626, delayed exits; docs/pool.md) and wires it (``setEngine``, ``setPool``), makes
the deployer the first LP of each vault, and on anvil mints tokens to the dev accounts
1..9 so that traders can deposit.

The deployment file (JSON, default ``<build>/chain/deployment.json``) records the chain
id, RPC URL, every address, market and asset names -> ids, token decimals, feeds and
the engine's parameters; every later command reads it::

    {"zkmargin_deployment": 1, "chain_id": 31337, "rpc_url": "http://127.0.0.1:39187",
     "contracts": {"MarginEngine": "0x…", "OracleAdapter": "0x…", …},
     "feeds": [{"name": "ETH/USD", "address": "0x…", "decimals": 8, "heartbeat": 3600}, …],
     "markets": [{"id": 0, "name": "ETH-USD", "feed": "ETH/USD"}, …],
     "assets": [{"id": 0, "name": "USDC", "token": "0x…", "decimals": 6, "feed": "USDC/USD",
                 "pool": "0x…"}, …],
     "params": {"proof_lifetime": 3600, …}, "mock": true, "deploy_gas": {…}}

The mocks let anyone set prices and mint tokens: local and test chains only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from chain.anvil import chain_dir
from chain.artifacts import (
    PORTFOLIO_CIRCUIT,
    VERIFIED_CIRCUITS,
    ContractArtifact,
    ensure_built,
    load_artifact,
)
from chain.errors import ChainError
from chain.governance import (
    LOCAL_GOVERNANCE,
    ZERO_SALT,
    GovernanceSpec,
    deploy_governance,
)
from chain.markets import AssetListing, MarketListing, build_market_data
from chain.rpc import Chain, Contract, TxResult, deploy_contract
from chain.signers import Signer, dev_signers
from prover.solidity import verifier_name
from zkmargin.amounts import parse_fixed
from zkmargin.errors import InputError
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.model import MarketData
from zkmargin.paths import project_root
from zkmargin.riskfile import (
    DEFAULT_SHAPE,
    KIND_CALL,
    KIND_PUT,
    RiskFile,
    load_risk_file,
    risk_words,
)
from zkmargin.units import PRICE_BITS, PRICE_DECIMALS

DEPLOYMENT_FORMAT = 1


def default_deployment_file() -> Path:
    return chain_dir() / "deployment.json"


# ---------------------------------------------------------------- what to deploy


@dataclass(frozen=True)
class FeedSpec:
    name: str  # "ETH/USD"
    decimals: int  # the aggregator's decimals (normalised to 8 by the adapter)
    price: str  # first answer, decimal string in quote units
    heartbeat: int  # seconds


@dataclass(frozen=True)
class MarketSpec:
    name: str
    feed: str
    mmr_bps: int
    imr_bps: int
    # fee on the notional at close, sized to the feed's deviation threshold (Chainlink's
    # ETH/USD and BTC/USD: 0.5%): a round trip against a known next round then never
    # profits (SECURITY.md, "Oracle latency")
    close_fee_bps: int = 50


@dataclass(frozen=True)
class AssetSpec:
    name: str  # token symbol
    decimals: int
    feed: str
    haircut_bps: int
    pool: str  # tokens the deployer deposits as the first LP of the asset's vault
    faucet: str  # tokens minted to each dev account 1..9 (anvil only)


@dataclass(frozen=True)
class SystemSpec:
    feeds: tuple[FeedSpec, ...]
    markets: tuple[MarketSpec, ...]
    assets: tuple[AssetSpec, ...]
    # A safety net, not the risk control: keepers flag an account as soon as prices leave
    # its proof's move set (docs/protocol.md, "Engine rules"), so a calm account proves
    # rarely. Stale feeds stop this clock and the grace clock.
    proof_lifetime: int = 3 * 86400
    grace_period: int = 600  # time to prove again after a flag
    # Not an engine parameter any more (the engine flags at the edge of each proof's move
    # set); kept for callers that still pass it (cli deploy, stress heuristics).
    shock_threshold_bps: int = 1000
    liquidation_penalty_bps: int = 500  # 5% of seized collateral to the liquidator
    # LP exits wait past a proof's lifetime and grace (docs/pool.md, "Exits through a
    # delay"): a loss that has happened settles before a request made after it executes
    pool_window: int = 86400

    @property
    def pool_delay(self) -> int:
        """The vaults' withdrawal delay: proof lifetime + grace period + one hour of keeper
        latency, within the vault's bounds (1 hour .. 30 days)."""
        return max(3600, min(30 * 86400, self.proof_lifetime + self.grace_period + 3600))

    def market_data(self, prices: Mapping[str, int], *, haircuts: bool = True) -> MarketData:
        """The model's view of this system at ``prices`` (feed name -> 1e-8 quote)."""
        return build_market_data(
            (MarketListing(m.name, m.feed, m.mmr_bps, m.imr_bps) for m in self.markets),
            (AssetListing(a.name, a.feed, a.haircut_bps, a.decimals) for a in self.assets),
            lambda feed: prices[feed],
            haircuts=haircuts,
        )


@dataclass(frozen=True)
class PortfolioSpec:
    """The portfolio engine beside the rate-based one (docs/portfolio.md, "On-chain").

    Its markets and collateral are the system's (same feeds, same ids: the risk file must
    list them in the same order); its series are the risk file's options that have not
    expired at deployment; the risk file's floors, haircuts, diagonal entries of L and λ_MM
    become the listed minimums (a publication may tighten them, never loosen them); and
    the file's words are published as the first risk epoch.
    """

    risk_file: Path = Path("examples") / "risk.json"
    proof_lifetime: int = 86400
    grace_period: int = 600
    liquidation_penalty_bps: int = 500
    publisher: str | None = None  # default: the deployer


# Feeds with different decimals on purpose (BTC/USD has 18, as some Chainlink feeds do):
# the adapter normalises them all to 8. WETH is priced by the ETH/USD feed.
DEFAULT_SPEC = SystemSpec(
    feeds=(
        FeedSpec("ETH/USD", 8, "2000", 3600),
        FeedSpec("BTC/USD", 18, "60000", 3600),
        FeedSpec("USDC/USD", 8, "1", 86400),
    ),
    markets=(
        MarketSpec("ETH-USD", "ETH/USD", mmr_bps=500, imr_bps=1000),
        MarketSpec("BTC-USD", "BTC/USD", mmr_bps=400, imr_bps=800),
    ),
    assets=(
        AssetSpec("USDC", 6, "USDC/USD", haircut_bps=0, pool="1000000", faucet="1000000"),
        AssetSpec("WETH", 18, "ETH/USD", haircut_bps=1000, pool="500", faucet="1000"),
    ),
)


# ---------------------------------------------------------------- what was deployed


@dataclass(frozen=True)
class FeedInfo:
    name: str
    address: str
    decimals: int
    heartbeat: int


@dataclass(frozen=True)
class MarketInfo:
    id: int
    name: str
    feed: str


@dataclass(frozen=True)
class AssetInfo:
    id: int
    name: str
    token: str
    decimals: int
    feed: str
    pool: str  # the asset's MarginPool vault


@dataclass(frozen=True)
class Deployment:
    chain_id: int
    rpc_url: str
    contracts: dict[str, str]  # MarginEngine, OracleAdapter, IsolatedVerifier, ...
    feeds: tuple[FeedInfo, ...]
    markets: tuple[MarketInfo, ...]  # id order
    assets: tuple[AssetInfo, ...]  # id order
    params: dict[str, int]
    owner: str
    block: int
    mock: bool = True
    deploy_gas: dict[str, int] = field(default_factory=dict)
    created: str = ""

    @property
    def engine(self) -> str:
        return self.contracts["MarginEngine"]

    @property
    def oracle(self) -> str:
        return self.contracts["OracleAdapter"]

    def verifier(self, circuit: str) -> str:
        """The address of ``circuit``'s Groth16 verifier."""
        return self.contracts[verifier_name(circuit)]

    def market(self, name: str) -> MarketInfo:
        for m in self.markets:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.markets)
        raise InputError(f"unknown market {name!r} (listed: {known})")

    def asset(self, name: str) -> AssetInfo:
        for a in self.assets:
            if a.name == name:
                return a
        known = ", ".join(a.name for a in self.assets)
        raise InputError(f"unknown collateral asset {name!r} (listed: {known})")

    def feed(self, name: str) -> FeedInfo:
        """A feed by its own name ("ETH/USD") or by a market or asset priced by it."""
        for f in self.feeds:
            if f.name == name:
                return f
        items: tuple[MarketInfo | AssetInfo, ...] = (*self.markets, *self.assets)
        for item in items:
            if item.name == name:
                return self.feed(item.feed)
        known = ", ".join([f.name for f in self.feeds] + [m.name for m in self.markets])
        raise InputError(f"unknown feed, market or asset {name!r} (known: {known})")

    def priced_by(self, feed: str) -> list[str]:
        items: tuple[MarketInfo | AssetInfo, ...] = (*self.markets, *self.assets)
        return [x.name for x in items if x.feed == feed]

    def labels(self) -> dict[str, str]:
        """Address -> name, for messages."""
        out = {addr: name for name, addr in self.contracts.items()}
        out.update({f.address: f"{f.name} feed" for f in self.feeds})
        out.update({a.token: f"{a.name} token" for a in self.assets})
        out.update({a.pool: f"{a.name} pool" for a in self.assets})
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "zkmargin_deployment": DEPLOYMENT_FORMAT,
            "chain_id": self.chain_id,
            "rpc_url": self.rpc_url,
            "created": self.created,
            "block": self.block,
            "owner": self.owner,
            "mock": self.mock,
            "contracts": self.contracts,
            "feeds": [vars(f) for f in self.feeds],
            "markets": [vars(m) for m in self.markets],
            "assets": [vars(a) for a in self.assets],
            "params": self.params,
            "deploy_gas": self.deploy_gas,
        }

    @classmethod
    def from_json(cls, data: Any, what: str = "deployment file") -> Deployment:
        if not isinstance(data, dict) or data.get("zkmargin_deployment") != DEPLOYMENT_FORMAT:
            raise InputError(f"{what}: not a zkmargin deployment file")
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                rpc_url=str(data["rpc_url"]),
                contracts={str(k): _address(v) for k, v in data["contracts"].items()},
                feeds=tuple(
                    FeedInfo(
                        str(f["name"]),
                        _address(f["address"]),
                        int(f["decimals"]),
                        int(f["heartbeat"]),
                    )
                    for f in data["feeds"]
                ),
                markets=tuple(
                    MarketInfo(int(m["id"]), str(m["name"]), str(m["feed"]))
                    for m in data["markets"]
                ),
                assets=tuple(
                    AssetInfo(
                        int(a["id"]),
                        str(a["name"]),
                        _address(a["token"]),
                        int(a["decimals"]),
                        str(a["feed"]),
                        _address(a["pool"]),
                    )
                    for a in data["assets"]
                ),
                params={str(k): int(v) for k, v in data["params"].items()},
                owner=_address(data["owner"]),
                block=int(data["block"]),
                mock=bool(data.get("mock", False)),
                deploy_gas={str(k): int(v) for k, v in data.get("deploy_gas", {}).items()},
                created=str(data.get("created", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{what}: malformed ({type(exc).__name__}: {exc})") from None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: Path | None = None) -> Deployment:
        path = path or default_deployment_file()
        if not path.exists():
            raise InputError(f"deployment file {path}: no such file; run `zkmargin deploy` first")
        return cls.from_json(read_json_file(path, "deployment file"), f"deployment file {path}")


def _address(value: Any) -> str:
    return str(to_checksum_address(str(value)))


# ---------------------------------------------------------------- deploying


def feed_answer(price: int, decimals: int) -> int:
    """A price in 1e-8 quote -> the aggregator's answer with ``decimals`` (exactly)."""
    if decimals >= PRICE_DECIMALS:
        return price * int(10 ** (decimals - PRICE_DECIMALS))
    unit = int(10 ** (PRICE_DECIMALS - decimals))
    if price % unit:
        raise InputError(f"price has more than the feed's {decimals} decimals")
    return price // unit


def parse_price(text: str, field: str = "price") -> int:
    """A decimal price string -> 1e-8 quote units (0 < p < 2^64)."""
    return parse_fixed(text, PRICE_DECIMALS, field=field, bits=PRICE_BITS, positive=True)


def _tokens(text: str, decimals: int, field: str) -> int:
    return parse_fixed(text, decimals, field=field, bits=200, positive=False)


def _quiet(_: str) -> None:
    pass


class _Deployer:
    def __init__(self, chain: Chain, signer: Signer, log: Callable[[str], None]):
        self.chain = chain
        self.signer = signer
        self.log = log
        self.gas: dict[str, int] = {}
        self.results: list[TxResult] = []

    def deploy(
        self,
        label: str,
        artifact: ContractArtifact,
        *args: Any,
        libraries: dict[str, str] | None = None,
    ) -> Contract:
        code = artifact.linked(libraries or {})
        contract, result = deploy_contract(
            self.chain, self.signer, artifact.abi, code, *args, name=label
        )
        self.gas[label] = result.gas_used
        self.results.append(result)
        self.log(f"{label:22s} {contract.address}  gas {result.gas_used:,}")
        return contract

    def tx(self, contract: Contract, fn: str, *args: Any) -> TxResult:
        result = contract.transact(self.signer, fn, *args)
        self.results.append(result)
        return result


def deploy_system(
    chain: Chain,
    deployer: Signer,
    spec: SystemSpec = DEFAULT_SPEC,
    *,
    log: Callable[[str], None] = _quiet,
    build: bool = True,
    governance: GovernanceSpec | None = LOCAL_GOVERNANCE,
    portfolio: PortfolioSpec | None = PortfolioSpec(),
) -> tuple[Deployment, list[TxResult]]:
    """Deploy everything in ``spec`` from ``deployer`` (the engine's owner).

    With ``governance`` (the default), a TimelockController, VolatilityMonitor and
    RiskGovernor follow, and the governor becomes the engine's owner (chain/governance.py;
    ``deployer`` is the timelock's proposer and the risk publisher). ``None``: the
    deployer keeps the engine. With ``portfolio`` (the default), the PortfolioEngine is
    deployed beside it by :func:`deploy_portfolio` (owner: the timelock when there is one).
    """
    if build:
        ensure_built(log)
    d = _Deployer(chain, deployer, log)
    start_block = int(chain.block()["number"], 16)
    feeds: dict[str, Contract] = {}
    feed_info = []
    for f in spec.feeds:
        answer = feed_answer(parse_price(f.price, f"feed {f.name}"), f.decimals)
        feeds[f.name] = d.deploy(
            f"MockAggregator {f.name}", load_artifact("MockAggregator"), f.decimals, answer, f.name
        )
        feed_info.append(FeedInfo(f.name, feeds[f.name].address, f.decimals, f.heartbeat))
    tokens: dict[str, Contract] = {}
    for a in spec.assets:
        tokens[a.name] = d.deploy(
            f"MockERC20 {a.name}", load_artifact("MockERC20"), f"Mock {a.name}", a.name, a.decimals
        )
    oracle = d.deploy("OracleAdapter", load_artifact("OracleAdapter"), deployer.address)
    for f in spec.feeds:
        d.tx(oracle, "setFeed", feeds[f.name].address, f.heartbeat)
    verifiers = {
        c: d.deploy(verifier_name(c), load_artifact(verifier_name(c))) for c in VERIFIED_CIRCUITS
    }
    poseidon = d.deploy("Poseidon4", load_artifact("Poseidon4"))
    # the engine's settlement arithmetic, an external library (EIP-170: the engine's size)
    settlement = d.deploy("Settlement", load_artifact("Settlement"))
    engine = d.deploy(
        "MarginEngine",
        load_artifact("MarginEngine"),
        deployer.address,
        oracle.address,
        *(verifiers[c].address for c in VERIFIED_CIRCUITS),
        poseidon.address,
        spec.proof_lifetime,
        spec.grace_period,
        spec.liquidation_penalty_bps,
        libraries={"Settlement": settlement.address},
    )
    # shareable stress proofs, checked by anyone (a periphery contract: views only)
    stress_check = d.deploy("StressCheck", load_artifact("StressCheck"), engine.address)
    markets = []
    for i, m in enumerate(spec.markets):
        d.tx(engine, "listMarket", feeds[m.feed].address, m.mmr_bps, m.imr_bps)
        if m.close_fee_bps:
            d.tx(engine, "setCloseFee", i, m.close_fee_bps)
        markets.append(MarketInfo(i, m.name, m.feed))
        log(
            f"listed market {i} {m.name} (MMR {m.mmr_bps} bps, IMR {m.imr_bps} bps, "
            f"close fee {m.close_fee_bps} bps)"
        )
    assets = []
    pools: dict[str, Contract] = {}
    for i, a in enumerate(spec.assets):
        d.tx(engine, "listCollateral", tokens[a.name].address, feeds[a.feed].address, a.haircut_bps)
        pools[a.name] = d.deploy(
            f"MarginPool {a.name}",
            load_artifact("MarginPool"),
            tokens[a.name].address,
            f"zkmargin {a.name} pool",
            f"zmp{a.name}",
            deployer.address,
            spec.pool_delay,
            spec.pool_window,
        )
        d.tx(pools[a.name], "setEngine", engine.address)
        d.tx(engine, "setPool", i, pools[a.name].address)
        assets.append(
            AssetInfo(i, a.name, tokens[a.name].address, a.decimals, a.feed, pools[a.name].address)
        )
        log(f"listed asset {i} {a.name} ({a.decimals} decimals, haircut {a.haircut_bps} bps)")
    if int(engine.call("marketCount")) != len(markets) or int(
        engine.call("collateralCount")
    ) != len(assets):
        raise ChainError("the engine's listing ids do not follow the listing order")
    for a in spec.assets:
        amount = _tokens(a.pool, a.decimals, f"asset {a.name} pool")
        if amount:
            d.tx(tokens[a.name], "mint", deployer.address, amount)
            d.tx(tokens[a.name], "approve", pools[a.name].address, amount)
            d.tx(pools[a.name], "deposit", amount, deployer.address)
            log(f"deposited {a.pool} {a.name} into its pool (the deployer is the first LP)")
    if chain.is_anvil:
        for a in spec.assets:
            amount = _tokens(a.faucet, a.decimals, f"asset {a.name} faucet")
            for dev in dev_signers()[1:]:
                d.tx(tokens[a.name], "mint", dev.address, amount)
        log(
            "minted "
            + ", ".join(f"{a.faucet} {a.name}" for a in spec.assets)
            + " to each dev account 1..9 (mock tokens)"
        )
    governed: dict[str, str] = {}
    # the handover comes last: every owner-only engine call above (listings, close fees,
    # setPool, which the engine takes once per asset) is made by the deployer before it;
    # afterwards the governor exposes each of them (docs/risk.md)
    if governance is not None:
        market_feeds = [feeds[m.feed].address for m in spec.markets]
        gov = deploy_governance(
            chain, deployer, engine, oracle.address, market_feeds, governance, log=log
        )
        governed = gov.addresses
        d.gas.update(gov.gas)
        d.results.extend(gov.results)
    portfolio_contracts: dict[str, str] = {}
    portfolio_params: dict[str, int] = {}
    if portfolio is not None:
        portfolio_contracts, portfolio_params = deploy_portfolio(
            d,
            spec,
            portfolio,
            oracle=oracle.address,
            feeds={name: c.address for name, c in feeds.items()},
            tokens={name: c.address for name, c in tokens.items()},
            poseidon4=poseidon.address,
            timelock=governed.get("TimelockController"),
        )
    deployment = Deployment(
        chain_id=chain.chain_id,
        rpc_url=chain.rpc_url,
        contracts={
            "MarginEngine": engine.address,
            "OracleAdapter": oracle.address,
            **{verifier_name(c): verifiers[c].address for c in VERIFIED_CIRCUITS},
            "Poseidon4": poseidon.address,
            "Settlement": settlement.address,
            "StressCheck": stress_check.address,
            **{f"MarginPool {name}": p.address for name, p in pools.items()},
            **governed,
            **portfolio_contracts,
        },
        feeds=tuple(feed_info),
        markets=tuple(markets),
        assets=tuple(assets),
        params={
            "proof_lifetime": spec.proof_lifetime,
            "grace_period": spec.grace_period,
            "liquidation_penalty_bps": spec.liquidation_penalty_bps,
            "pool_withdraw_delay": spec.pool_delay,
            "pool_execution_window": spec.pool_window,
            **({"timelock_delay": governance.timelock_delay} if governance else {}),
            **portfolio_params,
        },
        owner=governed.get("RiskGovernor", deployer.address),
        block=start_block + 1,
        mock=True,
        deploy_gas=d.gas,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return deployment, d.results


# ---------------------------------------------------------------- the portfolio engine


def portfolio_risk_for(spec: SystemSpec, pspec: PortfolioSpec, now: int) -> RiskFile:
    """The risk file of ``pspec`` checked against the system's listings (same markets and
    assets in the same order), without the series that expired at ``now``."""
    path = pspec.risk_file if pspec.risk_file.is_absolute() else project_root() / pspec.risk_file
    risk = load_risk_file(path)
    markets = [m.name for m in spec.markets]
    assets = [a.name for a in spec.assets]
    if list(risk.markets) != markets or list(risk.collateral) != assets:
        raise InputError(
            f"{path}: lists markets {list(risk.markets)} and collateral {list(risk.collateral)}; "
            f"the deployment lists {markets} and {assets} (same order needed: ids are shared)"
        )
    live = {name: s for name, s in risk.options.items() if s.expiry > now}
    return replace(risk, options=live)


def deploy_portfolio(
    d: _Deployer,
    spec: SystemSpec,
    pspec: PortfolioSpec,
    *,
    oracle: str,
    feeds: Mapping[str, str],
    tokens: Mapping[str, str],
    poseidon4: str,
    timelock: str | None,
) -> tuple[dict[str, str], dict[str, int]]:
    """Deploy the PortfolioEngine (docs/portfolio.md, "On-chain"): Poseidon2/3/5 (Poseidon4
    is shared), the generated PortfolioVerifier, its two libraries, the engine (owner the
    deployer until the end; publisher ``pspec.publisher`` or the deployer), its listings
    with the risk file's values as minimums, one MarginPool vault per asset (its own: LPs
    choose between the rate-based and the portfolio book), the first risk epoch; then the
    owner becomes ``timelock`` (transferOwnership, and acceptOwnership scheduled through
    the timelock and executed after its delay; on anvil the clock is advanced). Returns
    the contracts and parameters for the deployment file."""
    chain, deployer, log = d.chain, d.signer, d.log
    risk = portfolio_risk_for(spec, pspec, chain.timestamp())
    poseidons = {n: d.deploy(f"Poseidon{n}", load_artifact(f"Poseidon{n}")) for n in (2, 3, 5)}
    verifier = d.deploy(
        verifier_name(PORTFOLIO_CIRCUIT), load_artifact(verifier_name(PORTFOLIO_CIRCUIT))
    )
    libs = {
        n: d.deploy(n, load_artifact(n)).address for n in ("PortfolioRisk", "PortfolioSettlement")
    }
    publisher = pspec.publisher or deployer.address
    engine = d.deploy(
        "PortfolioEngine",
        load_artifact("PortfolioEngine"),
        deployer.address,
        oracle,
        verifier.address,
        [poseidons[2].address, poseidons[3].address, poseidon4, poseidons[5].address],
        publisher,
        pspec.proof_lifetime,
        pspec.grace_period,
        pspec.liquidation_penalty_bps,
        libraries=libs,
    )
    names = list(risk.markets)
    for k, m in enumerate(spec.markets):
        diag = risk.cholesky_bps[k][k]
        d.tx(
            engine,
            "listMarket",
            feeds[m.feed],
            m.close_fee_bps,
            risk.markets[m.name].floor_bps,
            diag,
        )
    for a in spec.assets:
        coll = risk.collateral[a.name]
        factor = 0 if coll.risk_factor is None else 1 + names.index(coll.risk_factor)
        d.tx(engine, "listCollateral", tokens[a.name], feeds[a.feed], factor, coll.haircut_bps)
    for series in risk.options.values():
        kind = KIND_CALL if series.kind == "call" else KIND_PUT
        d.tx(
            engine, "listSeries", names.index(series.underlying), series.strike, series.expiry, kind
        )
    d.tx(engine, "setMinLambdaMM", risk.lambda_mm_bps)
    pools: dict[str, Contract] = {}
    for i, a in enumerate(spec.assets):
        pools[a.name] = d.deploy(
            f"PortfolioPool {a.name}",
            load_artifact("MarginPool"),
            tokens[a.name],
            f"zkmargin portfolio {a.name} pool",
            f"zpp{a.name}",
            deployer.address,
            spec.pool_delay,
            spec.pool_window,
        )
        d.tx(pools[a.name], "setEngine", engine.address)
        d.tx(engine, "setPool", i, pools[a.name].address)
        amount = _tokens(a.pool, a.decimals, f"asset {a.name} pool")
        if amount:  # the deployer is the first LP here too (mock tokens)
            token = Contract(chain, tokens[a.name], load_artifact("MockERC20").abi, a.name)
            d.tx(token, "mint", deployer.address, amount)
            d.tx(token, "approve", pools[a.name].address, amount)
            d.tx(pools[a.name], "deposit", amount, deployer.address)
    words = risk_words(risk)
    if publisher == deployer.address:
        result = d.tx(engine, "publishRisk", *words.publish_args())
        published = engine.events(result, "RiskPublished")[0].args["commitment"]
        if int(published) != words.commitment(DEFAULT_SHAPE):
            raise ChainError("the engine's risk commitment differs from zkmargin's")
        log(f"published portfolio risk epoch 1 ({len(risk.options)} series)")
    owner = deployer.address
    if timelock is not None:
        d.tx(engine, "transferOwnership", timelock)
        _timelock_accept(d, timelock, engine)
        owner = timelock
    if _checksum(str(engine.call("owner"))) != _checksum(owner):
        raise ChainError("the portfolio engine's owner is not the timelock")
    log(f"PortfolioEngine owned by {'the timelock' if timelock else 'the deployer'}")
    contracts = {
        "PortfolioEngine": engine.address,
        verifier_name(PORTFOLIO_CIRCUIT): verifier.address,
        **{f"Poseidon{n}": c.address for n, c in poseidons.items()},
        **libs,
        **{f"PortfolioPool {name}": p.address for name, p in pools.items()},
    }
    params = {
        "portfolio_proof_lifetime": pspec.proof_lifetime,
        "portfolio_grace_period": pspec.grace_period,
        "portfolio_liquidation_penalty_bps": pspec.liquidation_penalty_bps,
        "portfolio_series": len(risk.options),
    }
    return contracts, params


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _timelock_accept(d: _Deployer, timelock_address: str, engine: Contract) -> None:
    """``acceptOwnership`` on ``engine`` through the timelock: scheduled by the deployer (the
    timelock's proposer), executed by anyone after the delay (advanced on anvil)."""
    timelock = Contract(
        d.chain, timelock_address, load_artifact("TimelockController").abi, "TimelockController"
    )
    data = engine.encode("acceptOwnership")
    delay = int(timelock.call("getMinDelay"))
    d.tx(timelock, "schedule", engine.address, 0, data, ZERO_SALT, ZERO_SALT, delay)
    if not d.chain.is_anvil:
        d.log(f"acceptOwnership scheduled on the timelock: execute it after {delay} s")
        return
    d.chain.advance_time(delay)
    d.tx(timelock, "execute", engine.address, 0, data, ZERO_SALT, ZERO_SALT)
