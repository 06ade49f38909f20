"""The engine client: read accounts, and prove and transact for a trader or a keeper.

Everything the prover needs comes from the chain, never from a market file:

* :meth:`EngineClient.market_data` builds :class:`~zkmargin.model.MarketData` with the
  engine's markets and assets in id order (their rates and haircuts as the engine stores
  them) and the oracle adapter's validated prices; for an isolated account only its
  market and asset, which is what the isolated circuit's single slots hold.
* :meth:`EngineClient.chain_account` takes the positions and salt of the private account
  file and the balances the engine holds (normalised to 18 decimals).
* The binding is the chain's id, the engine's address and the account's nonce.

Before anything is sent, the public inputs the encoding produced are compared with the
ones the engine will verify (``publicInputs`` / ``openingInputs``); a difference raises
:class:`~chain.errors.PublicInputsMismatch` naming the field, and nothing is
sent. The comparison runs before proving (cheap, fails fast) and again on the proof.
Opening, proving margin and withdrawing all go through one path
(:meth:`EngineClient._prove_and_send`: encode, compare, prove, compare, send); they
differ only in the claim, the engine view that builds the inputs, and the function sent.
Messages speak the user's units: token amounts with their symbol (base units in
brackets), and a mismatch unpacked into the field that differs ("nonce 4 in the proof,
5 at the engine"), never the packed field elements.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address

from chain.artifacts import load_abis, load_artifact
from chain.calldata import ProofCalldata as ProofCalldata  # re-exported: callers import it here
from chain.calldata import proof_calldata as proof_calldata
from chain.deploy import Deployment, feed_answer
from chain.errors import ChainError, PublicInputsMismatch, RevertDecoder, RevertError
from chain.inputdiff import Pair, Slot, statement_difference
from chain.markets import AssetListing, MarketListing, build_market_data
from chain.pool import Pools
from chain.rpc import PROOF_MIN_GAS, Chain, Contract, Event, TxResult
from chain.signers import Signer
from chain.stresscheck import StressVerdict
from prover.prove import Prover
from zkmargin.accounts import fresh_salt
from zkmargin.amounts import format_fixed
from zkmargin.encoding import (
    PRICES_PER_WORD,
    Binding,
    Statement,
    circuit_shape,
    encode,
    unpack_words,
)
from zkmargin.errors import InputError
from zkmargin.model import Account, CollateralParams, MarketData, MarketParams, Mode, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import BALANCE_DECIMALS, PRICE_BITS, PRICE_DECIMALS, Balance, Bps, Price

U64_MAX = 2**64 - 1


class Kind(enum.IntEnum):
    """IMarginEngine.Kind."""

    NONE = 0
    ISOLATED = 1
    CROSS = 2

    @property
    def circuit(self) -> str:
        if self is Kind.NONE:
            raise ChainError("no account is open")
        return self.name.lower()


@dataclass(frozen=True)
class AccountState:
    """IMarginEngine.Account, as stored on-chain (positions stay private)."""

    address: str
    commitment: int
    kind: Kind
    market: int
    asset: int
    nonce: int
    # chain timestamps, shifted later by the time the account's feeds were stale since
    # (equal to the block times without an outage: stale time counts toward no clock)
    last_proof_at: int
    shock_at: int
    proven_price_words: tuple[int, int]  # a slot unlisted when it proved reads 0
    lifetime: int = 0  # proof lifetime in force when the last proof was accepted
    grace: int = 0  # grace period in force when the last proof was accepted

    @property
    def open(self) -> bool:
        return self.kind is not Kind.NONE

    @property
    def proven_prices(self) -> list[int]:
        """The prices of the last accepted proof, in the engine's slot order (isolated:
        market, asset; cross: 4 market slots, then 2 asset slots), 1e-8 quote."""
        count = 2 if self.kind is Kind.ISOLATED else 6
        words = self.proven_price_words[: -(-count // PRICES_PER_WORD)]
        return unpack_words(words, count, PRICE_BITS, PRICES_PER_WORD)


@dataclass(frozen=True)
class AccountStatus:
    state: AccountState
    balances: dict[str, int]  # asset name -> token base units held by the engine
    liquidatable: bool
    liquidatable_at: int | None  # chain timestamp; None: never (no account)
    now: int  # latest block timestamp
    proof_lifetime: int
    grace_period: int


@dataclass(frozen=True)
class OpenPlan:
    """What ``open`` will commit to: entries at the oracle price, a fresh salt."""

    account: Account  # as the account file will hold it
    kind: Kind
    market: int  # isolated: market id (0 for cross)
    asset: int  # isolated: asset id (0 for cross)


@dataclass(frozen=True)
class ProofTx:
    """A proof-bearing transaction: the mined result and the proof it carried."""

    result: TxResult
    bundle: ProofBundle
    prove_seconds: float
    events: tuple[Event, ...] = ()


def _input_name(circuit: str, index: int) -> str:
    shape = circuit_shape(circuit)
    if index == 0:
        return "commitment"
    index -= 1
    if index < shape.price_words:
        return f"priceWords[{index}] (prices)"
    index -= shape.price_words
    if index < shape.balance_words:
        return f"balanceWords[{index}] (balances)"
    index -= shape.balance_words
    return (
        "paramsWord (rates, haircuts, opening flag)",
        "accountNonce (account, nonce)",
        "engineChain (engine, chain id)",
    )[index]


_MISMATCH_HINT = {
    "commitment": "the account file does not open the commitment stored on-chain "
    "(another file, or edited since `open`)",
}


def check_public_inputs(
    local: Sequence[int],
    engine: Sequence[int],
    circuit: str,
    *,
    slot_names: Sequence[str | None] = (),
) -> None:
    """Raise PublicInputsMismatch unless the two lists are equal.

    The message names the public input and says what differs in words a user knows
    ("nonce 4 in the proof, 5 at the engine"), not as the packed field elements.
    ``slot_names`` are the circuit's price slots (markets, then collateral assets), as
    the encoding's :class:`~zkmargin.encoding.Statement` records them.
    """
    if list(local) == list(engine):
        return
    if len(local) != len(engine):
        raise PublicInputsMismatch(
            f"refusing to send: {len(local)} public inputs encoded, the engine builds {len(engine)}"
        )
    i = next(i for i, (a, b) in enumerate(zip(local, engine, strict=True)) if a != b)
    name = _input_name(circuit, i)
    hint = _MISMATCH_HINT.get(name, "the prover's view of the chain is out of date; try again")
    detail = _difference(circuit, local, engine, slot_names) or (
        f"is {local[i]} in the proof but {engine[i]} at the engine"
    )
    raise PublicInputsMismatch(f"refusing to send: public input {i}, {name}, {detail}: {hint}")


def _difference(
    circuit: str, local: Sequence[int], engine: Sequence[int], slot_names: Sequence[str | None]
) -> str | None:
    """The first field that differs, unpacked and in units; None if a side does not unpack."""
    try:
        ours = Statement.from_public_signals(circuit, local)
        theirs = Statement.from_public_signals(circuit, engine)
    except InputError:
        return None
    k = circuit_shape(circuit).markets

    def middle(slot: Slot, pair: Pair) -> str | None:
        for j, (a, b) in enumerate(zip(ours.rates, theirs.rates, strict=True)):
            if a != b:
                return pair(slot(j, "margin rate"), a, b, " bps")
        for j, (a, b) in enumerate(zip(ours.haircuts, theirs.haircuts, strict=True)):
            if a != b:
                return pair(slot(k + j, "haircut"), a, b, " bps")
        if ours.opening != theirs.opening:
            return pair("opening flag", int(ours.opening), int(theirs.opening))
        return None

    return statement_difference(ours, theirs, markets=k, names=slot_names, middle=middle)


@dataclass(frozen=True)
class _Claim:
    """What one proof states: the account at the engine's balances, data and binding."""

    account: Account
    data: MarketData
    mode: Mode
    binding: Binding
    circuit: str
    opening: bool


class EngineClient:
    """One deployment on one chain."""

    def __init__(self, chain: Chain, deployment: Deployment) -> None:
        self.chain = chain
        self.deployment = deployment
        self.engine = Contract(
            chain, deployment.engine, load_artifact("MarginEngine").abi, "MarginEngine"
        )
        self.oracle = Contract(
            chain, deployment.oracle, load_artifact("OracleAdapter").abi, "OracleAdapter"
        )
        token_abi = load_artifact("MockERC20").abi
        feed_abi = load_artifact("MockAggregator").abi
        self.tokens = {
            a.name: Contract(chain, a.token, token_abi, a.name) for a in deployment.assets
        }
        self.feeds = {
            f.name: Contract(chain, f.address, feed_abi, f"{f.name} feed") for f in deployment.feeds
        }
        self.pools = Pools(chain, deployment)

    @classmethod
    def connect(cls, deployment: Deployment, rpc_url: str | None = None) -> EngineClient:
        """Connect and check that this chain holds this deployment."""
        chain = Chain(rpc_url or deployment.rpc_url, decoder=make_decoder(deployment))
        if chain.chain_id != deployment.chain_id:
            raise ChainError(
                f"{chain.rpc_url} is chain {chain.chain_id}, the deployment is on chain "
                f"{deployment.chain_id}"
            )
        if not chain.code(deployment.engine):
            raise ChainError(
                f"no engine at {deployment.engine} on {chain.rpc_url}: the chain was restarted "
                "or the deployment file is from elsewhere; run `zkmargin deploy`"
            )
        return cls(chain, deployment)

    # ------------------------------------------------------------ reads

    def account_state(self, who: str) -> AccountState:
        raw = self.engine.call("account", _checksum(who))
        commitment, kind, market, asset, nonce, last, shock, words, lifetime, grace = raw
        return AccountState(
            address=_checksum(who),
            commitment=int(commitment),
            kind=Kind(int(kind)),
            market=int(market),
            asset=int(asset),
            nonce=int(nonce),
            last_proof_at=int(last),
            shock_at=int(shock),
            proven_price_words=(int(words[0]), int(words[1])),
            lifetime=int(lifetime),
            grace=int(grace),
        )

    def balance(self, who: str, asset: str) -> int:
        """Engine balance of ``who`` in ``asset``'s token base units."""
        return int(self.engine.call("balanceOf", _checksum(who), self.deployment.asset(asset).id))

    def balances(self, who: str) -> dict[str, int]:
        return {a.name: self.balance(who, a.name) for a in self.deployment.assets}

    def wallet_balance(self, who: str, asset: str) -> int:
        return int(self.tokens[asset].call("balanceOf", _checksum(who)))

    def pool(self, asset: str) -> int:
        """What ``asset``'s vault holds for its LPs (``totalAssets()``: held − IOUs)."""
        return self.pools.total_assets(asset)

    def liquidatable(self, who: str) -> tuple[bool, int | None]:
        now, at = self.engine.call("liquidatable", _checksum(who))
        return bool(now), (None if int(at) == U64_MAX else int(at))

    def flaggable(self, who: str) -> bool:
        """Whether a current price left the account's proven move set, shrunk by the
        liquidation penalty (``flag_shock`` would succeed now)."""
        return bool(self.engine.call("flaggable", _checksum(who)))

    def stale_clock(self, clock: int) -> tuple[int, int]:
        """Outage clock ``clock`` (0: cross accounts, 1 + 2·market + asset: isolated) as a
        poke would leave it: (stale seconds counted, start of the current outage or 0)."""
        total, since = self.engine.call("staleClock", clock)
        return int(total), int(since)

    def status(self, who: str) -> AccountStatus:
        now_, at = self.liquidatable(who)
        state = self.account_state(who)
        # an open account keeps the lifetime and grace of its last proof
        lifetime = state.lifetime if state.open else int(self.engine.call("proofLifetime"))
        grace = state.grace if state.open else int(self.engine.call("gracePeriod"))
        return AccountStatus(
            state=state,
            balances=self.balances(who),
            liquidatable=now_,
            liquidatable_at=at,
            now=self.chain.timestamp(),
            proof_lifetime=lifetime,
            grace_period=grace,
        )

    def price(self, feed: str) -> int:
        """The adapter's validated price of a feed (or of a market or asset), 1e-8 quote."""
        price, _round, _updated = self.oracle.call("getPrice", self.deployment.feed(feed).address)
        return int(price)

    def market_data(self, kind: Kind = Kind.CROSS, market: int = 0, asset: int = 0) -> MarketData:
        """Risk parameters from the engine and prices from the oracle, in id order.

        Cross (and NONE): every listed market and asset. Isolated: only ``market`` and
        ``asset``, the isolated circuit's single slots.
        """
        dep = self.deployment
        n_markets = int(self.engine.call("marketCount"))
        n_assets = int(self.engine.call("collateralCount"))
        if n_markets != len(dep.markets) or n_assets != len(dep.assets):
            raise ChainError(
                f"the engine lists {n_markets} markets and {n_assets} assets; the deployment "
                f"file names {len(dep.markets)} and {len(dep.assets)}: the file is out of date"
            )
        market_ids = [market] if kind is Kind.ISOLATED else list(range(n_markets))
        asset_ids = [asset] if kind is Kind.ISOLATED else list(range(n_assets))
        markets = []
        for i in market_ids:
            _feed, mmr, imr, _fee = self.engine.call("market", i)
            info = dep.markets[i]
            markets.append(MarketListing(info.name, info.feed, int(mmr), int(imr)))
        assets = []
        for i in asset_ids:
            _token, _feed, haircut, decimals = self.engine.call("collateral", i)
            a = dep.assets[i]
            assets.append(AssetListing(a.name, a.feed, int(haircut), int(decimals)))
        return build_market_data(markets, assets, self.price)

    def names_data(self) -> MarketData:
        """Every listed market and asset with its token decimals, prices all 1.

        Only for checking an account file's names and amounts (no oracle read, so a stale
        feed does not stop ``status``); never for proving.
        """
        dep = self.deployment
        return MarketData(
            markets={m.name: MarketParams(Bps(1), Bps(1)) for m in dep.markets},
            collateral={a.name: CollateralParams(Bps(0), a.decimals) for a in dep.assets},
            prices={
                n: Price(1) for n in [*(m.name for m in dep.markets), *(a.name for a in dep.assets)]
            },
        )

    def check_stress(self, bundle: ProofBundle) -> StressVerdict:
        """A stress proof against the engine now (``stressInputs``, ``verifyStress``)."""
        from chain.stresscheck import check_stress

        return check_stress(self, bundle)

    def market_data_for(self, state: AccountState) -> MarketData:
        return self.market_data(state.kind, state.market, state.asset)

    def tokens_text(self, asset: str, amount: int) -> str:
        """``5000 USDC (5000000000 base units)``: token base units as a user typed them."""
        decimals = self.deployment.asset(asset).decimals
        return f"{format_fixed(amount, decimals)} {asset} ({amount} base units)"

    def normalised(self, asset: str, amount: int) -> Balance:
        return Balance(amount * 10 ** (BALANCE_DECIMALS - self.deployment.asset(asset).decimals))

    def chain_account(
        self,
        account: Account,
        data: MarketData,
        balances: Mapping[str, int] | None = None,
    ) -> Account:
        """The file's positions and salt with the engine's balances for ``data``'s assets."""
        if balances is None:
            balances = self.balances(_address_of(account))
        for pos in account.positions:
            if pos.market not in data.markets:
                raise InputError(
                    f"position in {pos.market}: this account's circuit slots hold "
                    f"{', '.join(data.markets)} only"
                )
        collateral = {
            name: self.normalised(name, balances.get(name, 0)) for name in data.collateral
        }
        return replace(account, collateral=collateral)

    def binding(self, nonce: int) -> Binding:
        return Binding(
            chain_id=self.chain.chain_id, engine=int(self.deployment.engine, 16), nonce=nonce
        )

    def _require_open(self, who: str) -> AccountState:
        state = self.account_state(who)
        if not state.open:
            raise ChainError(f"{who} has no open account at the engine; run `zkmargin open`")
        return state

    # ------------------------------------------------------------ trader: money

    def deposit(self, signer: Signer, asset: str, amount: int) -> tuple[TxResult, TxResult]:
        """approve + deposit of ``amount`` base units; returns both receipts."""
        info = self.deployment.asset(asset)
        if amount <= 0:
            raise InputError("amount: must be greater than zero")
        have = self.wallet_balance(signer.address, asset)
        if have < amount:
            hint = (
                f"; mint the missing {format_fixed(amount - have, info.decimals)} with "
                f"`zkmargin faucet {signer.address} {asset} "
                f"{format_fixed(amount - have, info.decimals)}`"
                if self.deployment.mock and self.chain.is_anvil
                else ""
            )
            raise ChainError(
                f"cannot deposit {self.tokens_text(asset, amount)}: the wallet "
                f"{signer.address} holds {self.tokens_text(asset, have)}{hint}"
            )
        approve = self.tokens[asset].transact(signer, "approve", self.deployment.engine, amount)
        deposit = self.engine.transact(signer, "deposit", info.id, amount)
        return approve, deposit

    # ------------------------------------------------------------ trader: proofs

    def plan_open(
        self, account: Account, kind: Kind | None = None, *, asset: str | None = None
    ) -> OpenPlan:
        """Choose the account kind and slots; entries at the oracle price, fresh salt."""
        who = _address_of(account)
        state = self.account_state(who)
        if state.open:
            raise ChainError(
                f"{who} already has an open {state.kind.name.lower()} account "
                f"(commitment {state.commitment}); close it first"
            )
        balances = self.balances(who)
        funded = [name for name, amount in balances.items() if amount]
        if kind is None:
            kind = Kind.ISOLATED if len(account.positions) == 1 and len(funded) <= 1 else Kind.CROSS
        market_id = asset_id = 0
        if kind is Kind.ISOLATED:
            if len(account.positions) != 1:
                raise InputError("an isolated account holds exactly one position")
            market_id = self.deployment.market(account.positions[0].market).id
            if asset is None:
                if len(funded) > 1:
                    raise InputError(
                        f"an isolated account has one collateral asset; {who} holds "
                        f"{' and '.join(funded)} at the engine: open a cross account"
                    )
                listed = funded or list(account.collateral) or [self.deployment.assets[0].name]
                asset = listed[0]
            asset_id = self.deployment.asset(asset).id
        elif kind is Kind.NONE:
            raise InputError("kind: isolated or cross")
        data = self.market_data(kind, market_id, asset_id)
        positions = tuple(
            Position(p.market, p.long, p.size, data.prices[p.market]) for p in account.positions
        )
        fresh = replace(account, salt=fresh_salt(), positions=positions)
        return OpenPlan(account=fresh, kind=kind, market=market_id, asset=asset_id)

    def open(self, signer: Signer, plan: OpenPlan, prover: Prover) -> ProofTx:
        """Prove initial margin with entries at the oracle price and open the account.

        Write ``plan.account`` to the account file before calling this: once the
        transaction is mined, only that file opens the commitment.
        """
        who = self._signer_is(signer, plan.account)
        nonce = self.account_state(who).nonce
        data = self.market_data(plan.kind, plan.market, plan.asset)
        for pos in plan.account.positions:
            if pos.entry_price != data.prices[pos.market]:
                raise ChainError(
                    f"the oracle price of {pos.market} moved since the entries were set "
                    f"({format_fixed(pos.entry_price, PRICE_DECIMALS)} -> "
                    f"{format_fixed(data.prices[pos.market], PRICE_DECIMALS)}); "
                    "plan the opening again"
                )
        account = self.chain_account(plan.account, data)

        def engine_inputs(commitment: int) -> list[int]:
            return [
                int(v)
                for v in self.engine.call(
                    "openingInputs", who, commitment, int(plan.kind), plan.market, plan.asset
                )
            ]

        def send(commitment: int, proof: ProofCalldata) -> TxResult:
            if plan.kind is Kind.ISOLATED:
                return self.engine.transact(
                    signer,
                    "openIsolated",
                    commitment,
                    plan.market,
                    plan.asset,
                    proof,
                    min_gas=PROOF_MIN_GAS,
                )
            return self.engine.transact(
                signer, "openCross", commitment, proof, min_gas=PROOF_MIN_GAS
            )

        claim = _Claim(account, data, Mode.INITIAL, self.binding(nonce), plan.kind.circuit, True)
        return self._prove_and_send(prover, claim, engine_inputs, send, event="AccountOpened")

    def prove_margin(self, signer: Signer, account: Account, prover: Prover) -> ProofTx:
        """Prove maintenance margin at the current prices (``proveMargin``).

        A feed of the account being stale (no proof is possible), the trader records the
        outage on-chain first (``pokeStale``, so its lapse and grace clocks stop from the
        moment the feed went stale), then the error is raised as it came."""
        who = self._signer_is(signer, account)
        try:
            return self._prove_open_account(
                who,
                account,
                prover,
                withdraw=None,
                send=lambda proof: self.engine.transact(
                    signer, "proveMargin", proof, min_gas=PROOF_MIN_GAS
                ),
            )
        except RevertError as exc:
            if exc.name == "OracleAdapter__StalePrice":
                self.poke_stale(signer, who)
            raise

    def withdraw(
        self,
        signer: Signer,
        account: Account | None,
        asset: str,
        amount: int,
        prover: Prover | None,
    ) -> ProofTx | TxResult:
        """Withdraw ``amount`` base units: with an initial-margin proof on the remaining
        balances if an account is open, else (no account) ``withdrawIdle``."""
        info = self.deployment.asset(asset)
        if amount <= 0:
            raise InputError("amount: must be greater than zero")
        state = self.account_state(signer.address)
        have = self.balance(signer.address, asset)
        if have < amount:
            raise ChainError(
                f"cannot withdraw {self.tokens_text(asset, amount)}: the engine holds "
                f"{self.tokens_text(asset, have)} for {signer.address}"
            )
        if not state.open:
            return self.engine.transact(signer, "withdrawIdle", info.id, amount)
        if account is None or prover is None:
            raise InputError("the account is open: withdrawing needs its account file")
        if state.kind is Kind.ISOLATED and info.id != state.asset:
            raise InputError(
                f"this isolated account's collateral is "
                f"{self.deployment.assets[state.asset].name}, not {asset}"
            )
        who = self._signer_is(signer, account)
        return self._prove_open_account(
            who,
            account,
            prover,
            withdraw=(info.id, amount),
            send=lambda proof: self.engine.transact(
                signer, "withdraw", info.id, amount, proof, min_gas=PROOF_MIN_GAS
            ),
        )

    def _prove_open_account(
        self,
        who: str,
        account: Account,
        prover: Prover,
        *,
        withdraw: tuple[int, int] | None,
        send: Callable[[ProofCalldata], TxResult],
    ) -> ProofTx:
        """Maintenance margin (no ``withdraw``) or initial margin on the balances left
        after withdrawing ``(asset id, amount)``, for an account that is open."""
        state = self._require_open(who)
        data = self.market_data_for(state)
        balances = self.balances(who)
        if withdraw is not None:
            name = self.deployment.assets[withdraw[0]].name
            balances[name] -= withdraw[1]
        initial = withdraw is not None
        asset_id, amount = withdraw or (0, 0)
        claim = _Claim(
            self.chain_account(account, data, balances),
            data,
            Mode.WITHDRAWAL if initial else Mode.MAINTENANCE,
            self.binding(state.nonce),
            state.kind.circuit,
            False,
        )

        def engine_inputs(_commitment: int) -> list[int]:
            return [
                int(v) for v in self.engine.call("publicInputs", who, initial, asset_id, amount)
            ]

        return self._prove_and_send(
            prover, claim, engine_inputs, lambda _commitment, proof: send(proof)
        )

    def _prove_and_send(
        self,
        prover: Prover,
        claim: _Claim,
        engine_inputs: Callable[[int], list[int]],
        send: Callable[[int, ProofCalldata], TxResult],
        *,
        event: str | None = None,
    ) -> ProofTx:
        """The one proving path: encode, compare with the engine's inputs, prove, compare
        again (the chain may have moved while proving), send.

        ``engine_inputs`` and ``send`` take the commitment the encoding produced (an
        opening commits to it; other proofs are checked against the stored one).
        """
        kwargs: dict[str, Any] = {
            "mode": claim.mode,
            "binding": claim.binding,
            "circuit": claim.circuit,
            "opening": claim.opening,
        }
        encoded = prover.encode(claim.account, claim.data, **kwargs)
        statement = encoded.statement
        names = (*statement.market_names, *statement.collateral_names)
        commitment = statement.commitment
        check_public_inputs(
            statement.public_signals(), engine_inputs(commitment), claim.circuit, slot_names=names
        )
        started = time.perf_counter()
        bundle = prover.prove(claim.account, claim.data, **kwargs, encoded=encoded)
        seconds = time.perf_counter() - started
        check_public_inputs(
            bundle.public_signals, engine_inputs(commitment), claim.circuit, slot_names=names
        )
        result = send(commitment, proof_calldata(bundle.proof))
        return ProofTx(result, bundle, seconds, tuple(self.engine.events(result, event)))

    def close(self, signer: Signer, account: Account) -> TxResult:
        """Open the commitment (positions + salt); PnL less the close fee settles against
        the vaults (profit paid by them, an IOU if one is short)."""
        who = self._signer_is(signer, account)
        state = self._require_open(who)
        data = self.market_data_for(state)
        chain_acct = self.chain_account(account, data)
        enc = encode(
            chain_acct,
            data,
            circuit=state.kind.circuit,
            mode=Mode.MAINTENANCE,
            binding=self.binding(state.nonce),
        )
        if enc.statement.commitment != state.commitment:
            raise PublicInputsMismatch(f"refusing to send: {_MISMATCH_HINT['commitment']}")
        return self.engine.transact(
            signer, "close", _revealed(account, state.kind, list(data.markets)), account.salt
        )

    # ------------------------------------------------------------ trader: after liquidation

    def liquidation(self, who: str) -> Liquidation | None:
        """The latest unreclaimed liquidation of ``who`` (from ``LiquidationRecorded``
        logs, checked against the hash the engine stores), None if there is none."""
        event = self.engine.web3.events.LiquidationRecorded()
        who = _checksum(who)

        def fetch() -> list[Any]:
            return list(
                event.get_logs(from_block=self.deployment.block, argument_filters={"account": who})
            )

        for log in reversed(self.chain.guarded("MarginEngine LiquidationRecorded logs", fetch)):
            nonce, record = int(log["args"]["nonce"]), tuple(int(w) for w in log["args"]["record"])
            if bytes(self.engine.call("liquidationOf", who, nonce)) != b"\0" * 32:
                return Liquidation(who, nonce, record)  # type: ignore[arg-type]
        return None

    def reclaim(self, signer: Signer, account: Account) -> TxResult:
        """Reveal a liquidated account's positions and salt to get back the equity left
        above the penalty at the liquidation prices (until the record's deadline)."""
        who = self._signer_is(signer, account)
        found = self.liquidation(who)
        if found is None:
            raise ChainError(f"{who} has no liquidation left to reclaim")
        if self.chain.timestamp() > found.deadline:
            raise ChainError(
                f"the reclaim window of {who}'s liquidation closed at {found.deadline}; the "
                "vault kept the rest"
            )
        kind = Kind(found.record[1] & 3)
        markets = (
            [self.deployment.markets[(found.record[1] >> 2) & 3].name]
            if kind is Kind.ISOLATED
            else [m.name for m in self.deployment.markets]
        )
        positions = _revealed(account, kind, markets)
        return self.engine.transact(
            signer, "reclaim", found.nonce, list(found.record), positions, account.salt
        )

    # ------------------------------------------------------------ keeper and admin

    def flag_shock(self, signer: Signer, who: str) -> TxResult:
        """Flag an account whose current prices left its proven move set (shrunk by the
        penalty); the engine refuses with ``MarginEngine__InsideProvenSet`` otherwise."""
        return self.engine.transact(signer, "flagShock", _checksum(who))

    def push_prices(self, signer: Signer) -> TxResult:
        """Cache every listed price in the engine for this block's proofs (anyone): an open,
        proveMargin or withdraw mined in the same block then reads the cache instead of the
        oracle adapter and its feeds. Reverts with the adapter's error if a feed is stale."""
        return self.engine.transact(signer, "pushPrices")

    def poke_stale(self, signer: Signer, who: str) -> TxResult:
        """Bring the account's outage clock up to date (anyone): during a feed outage this
        stops its lapse and grace clocks from the moment the feed went stale."""
        return self.engine.transact(signer, "pokeStale", _checksum(who))

    def liquidate(self, signer: Signer, who: str) -> TxResult:
        return self.engine.transact(signer, "liquidate", _checksum(who))

    def set_price(self, signer: Signer, feed: str, price: int) -> TxResult:
        """Write a new round to a mock feed (``price`` in 1e-8 quote)."""
        info = self.deployment.feed(feed)
        if not self.deployment.mock:
            raise ChainError("this deployment's feeds are not mocks; prices come from the oracle")
        return self.feeds[info.name].transact(
            signer, "updateAnswer", feed_answer(price, info.decimals)
        )

    def mint(self, signer: Signer, to: str, asset: str, amount: int) -> TxResult:
        if not self.deployment.mock:
            raise ChainError("this deployment's tokens are not mocks")
        return self.tokens[asset].transact(signer, "mint", _checksum(to), amount)

    def _signer_is(self, signer: Signer, account: Account) -> str:
        who = _address_of(account)
        if signer.address != who:
            raise ChainError(
                f"the account is {who} but the transaction would be signed by {signer.address}"
            )
        return who


@dataclass(frozen=True)
class Liquidation:
    """A liquidation waiting for its reclaim (IMarginEngine ``LiquidationRecorded``)."""

    account: str
    nonce: int
    record: tuple[int, int, int, int, int, int]

    @property
    def deadline(self) -> int:
        """Last chain timestamp at which ``reclaim`` is accepted."""
        return self.record[1] >> 8


def _revealed(account: Account, kind: Kind, markets: list[str]) -> list[tuple[int, bool, int, int]]:
    """The account's positions as the engine's ``Position[]``: slot index (the market's
    position in ``markets``), side, size, entry; padded to the circuit's slot count."""
    slots = circuit_shape(kind.circuit).positions
    index = {name: k for k, name in enumerate(markets)}
    positions = [(index[p.market], p.long, p.size, p.entry_price) for p in account.positions]
    return positions + [(0, False, 0, 0)] * (slots - len(positions))


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _address_of(account: Account) -> str:
    return _checksum(f"0x{account.address:040x}")


def make_decoder(deployment: Deployment | None = None) -> RevertDecoder:
    """A revert decoder over every ABI in contracts/out, labelling the deployment's addresses."""
    return RevertDecoder(load_abis(), deployment.labels() if deployment else None)
