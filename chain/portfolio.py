"""The portfolio engine client: portfolio accounts (perpetuals and listed options) on-chain.

``PortfolioEngine`` (contracts/src/portfolio/IPortfolioEngine.sol) is a sibling of the
rate-based engine with its own listings, vaults and risk epochs. Everything a proof needs
comes from the engine and the risk file that its current epoch commits to:

* the risk file names the markets, collateral assets and option series in id order (slot
  k of the file is market id k, and so on); :meth:`PortfolioClient.check_risk_file`
  compares its counts, series keys, decimals and risk factors with the engine's listings
  and its commitment with the current epoch's, so a file that is not the published one is
  refused before anything is proved;
* prices come from the engine's own ``publicInputs`` / ``openingInputs`` views (the
  oracle's validated prices, packed as the circuit takes them), balances from the engine
  (normalised to 1e-18 token), the binding from the chain id, the engine and the nonce.

Before anything is sent, the eight public inputs the encoding produced are compared with
the ones the engine will verify; a difference raises
:class:`~chain.errors.PublicInputsMismatch` naming the field ("nonce 4 in the proof, 5 at
the engine"). The comparison runs before proving and again on the proof.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_utils.address import to_checksum_address

from chain.artifacts import load_abis, load_artifact
from chain.calldata import ProofCalldata, proof_calldata
from chain.errors import ChainError, PublicInputsMismatch, RevertDecoder
from chain.inputdiff import Pair, Slot, pair, statement_difference
from chain.rpc import PROOF_MIN_GAS, Chain, Contract, Event, TxResult
from chain.signers import Signer
from prover.prove import Prover
from zkmargin.accounts import format_address, fresh_salt
from zkmargin.amounts import format_fixed
from zkmargin.encoding import Binding
from zkmargin.errors import InputError
from zkmargin.portfolio import PortfolioAccount, check_expiries
from zkmargin.portfolio_encoding import (
    ENGINE_MODES,
    PortfolioStatement,
    encode_portfolio,
    instrument_index,
    portfolio_commitment,
)
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import (
    DEFAULT_SHAPE,
    KIND_CALL,
    KIND_PUT,
    RiskFile,
    risk_commitment,
    risk_words,
)
from zkmargin.units import PRICE_DECIMALS, Balance, Price

# modeWord of each engine entry point (IPortfolioEngine): the views take them as uint8
MODE_MAINTENANCE = 0
MODE_INITIAL = 1
MODE_WITHDRAWAL = 3
MODE_OPENING = 5
U64_MASK = 2**64 - 1
PNL_DECIMALS = 16  # AccountClosed.pnl / fee: 1e-16 quote
_INPUT_NAMES = (
    "commitment",
    "priceWords[0] (prices)",
    "priceWords[1] (prices)",
    "balanceWords (balances)",
    "riskCommitment (risk epoch)",
    "modeWord (mode)",
    "accountNonce (account, nonce)",
    "engineChain (engine, chain id)",
)


@dataclass(frozen=True)
class PortfolioState:
    """IPortfolioEngine.Account as stored (positions stay private)."""

    address: str
    commitment: int
    nonce: int
    epoch: int
    mode: int
    proven_at: int
    shock_at: int
    lifetime: int
    grace: int
    expiry_cap: int
    proven_price_words: tuple[int, int]

    @property
    def open(self) -> bool:
        return self.commitment != 0


@dataclass(frozen=True)
class ProofTx:
    """A proof-bearing transaction: the mined result and the proof it carried."""

    result: TxResult
    bundle: ProofBundle
    prove_seconds: float
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Liquidation:
    """A liquidation waiting for its reclaim (``LiquidationRecorded``)."""

    account: str
    nonce: int
    record: tuple[int, ...]  # nine words

    @property
    def deadline(self) -> int:
        """The last chain timestamp at which ``reclaim`` is accepted."""
        return self.record[1] & U64_MASK


# RiskEpoch fields: commitment, riskParams, riskCholesky, marks, deltaBps, gammaCharges, prices
_EPOCH_PRICES = 6


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


def _address_of(account: PortfolioAccount) -> str:
    return _checksum(format_address(account.address))


def check_portfolio_inputs(
    local: Sequence[int], engine: Sequence[int], risk: RiskFile | None = None
) -> None:
    """Raise :class:`PublicInputsMismatch` unless the two lists are equal, naming the first
    public input that differs and the field inside it, in units."""
    if list(local) == list(engine):
        return
    if len(local) != len(engine):
        raise PublicInputsMismatch(
            f"refusing to send: {len(local)} public inputs encoded, the engine builds {len(engine)}"
        )
    i = next(i for i, (a, b) in enumerate(zip(local, engine, strict=True)) if a != b)
    detail = _difference(local, engine, risk) or f"is {local[i]} in the proof but {engine[i]}"
    hint = (
        "the account file does not open the commitment stored on-chain (another file, or "
        "edited since `open`)"
        if i == 0
        else "the prover's view of the chain is out of date; try again"
    )
    raise PublicInputsMismatch(
        f"refusing to send: public input {i}, {_INPUT_NAMES[i]}, {detail}: {hint}"
    )


def _difference(local: Sequence[int], engine: Sequence[int], risk: RiskFile | None) -> str | None:
    try:
        ours = PortfolioStatement.from_public_signals(local)
        theirs = PortfolioStatement.from_public_signals(engine)
    except InputError:
        return None
    names: list[str] = []
    if risk is not None:
        names = [*risk.markets, *[""] * (DEFAULT_SHAPE.markets - len(risk.markets))]
        names += [*risk.collateral]

    def middle(slot: Slot, pair: Pair) -> str | None:
        if ours.risk_commitment != theirs.risk_commitment:
            return pair("risk commitment", ours.risk_commitment, theirs.risk_commitment)
        if (ours.mode, ours.opening) != (theirs.mode, theirs.opening):
            return pair("mode", _mode_text(ours), _mode_text(theirs))
        return None

    found = statement_difference(
        ours, theirs, markets=DEFAULT_SHAPE.markets, names=names, middle=middle
    )
    # the words differ (the caller checked), so some field must: name the last one
    return found or pair("chain id", ours.chain_id, theirs.chain_id)


def _mode_text(statement: PortfolioStatement) -> str:
    return "opening" if statement.opening else statement.mode.value


def revealed(account: PortfolioAccount, risk: RiskFile) -> list[tuple[int, bool, int, int]]:
    """The account's slots as the engine's ``Position[8]`` (instrument, long, size,
    entry), in the order the commitment hashes them, empty slots all zero."""
    slots = [
        (instrument_index(risk, DEFAULT_SHAPE, p.option, p.instrument), p.long, p.size, p.entry)
        for p in account.positions
    ]
    return slots + [(0, False, 0, 0)] * (DEFAULT_SHAPE.positions - len(slots))


class PortfolioClient:
    """One ``PortfolioEngine`` on one chain."""

    def __init__(self, chain: Chain, engine: str) -> None:
        self.chain = chain
        self.engine = Contract(
            chain, engine, load_artifact("PortfolioEngine").abi, "PortfolioEngine"
        )
        self._erc20_abi = load_artifact("MockERC20").abi
        self._feed_abi = load_artifact("MockAggregator").abi

    @classmethod
    def connect(cls, rpc_url: str, engine: str) -> PortfolioClient:
        """Connect and check that ``engine`` holds code on this chain."""
        chain = Chain(rpc_url, decoder=RevertDecoder(load_abis(), {engine: "PortfolioEngine"}))
        if not chain.code(engine):
            raise ChainError(f"no portfolio engine at {engine} on {rpc_url}")
        return cls(chain, engine)

    # ------------------------------------------------------------ reads

    def account_state(self, who: str) -> PortfolioState:
        raw = self.engine.call("account", _checksum(who))
        commitment, nonce, epoch, mode, proven, shock, lifetime, grace, cap, words = raw
        return PortfolioState(
            address=_checksum(who),
            commitment=int(commitment),
            nonce=int(nonce),
            epoch=int(epoch),
            mode=int(mode),
            proven_at=int(proven),
            shock_at=int(shock),
            lifetime=int(lifetime),
            grace=int(grace),
            expiry_cap=int(cap),
            proven_price_words=(int(words[0]), int(words[1])),
        )

    def counts(self) -> tuple[int, int, int]:
        """Listed markets, collateral assets and option series."""
        return (
            int(self.engine.call("marketCount")),
            int(self.engine.call("collateralCount")),
            int(self.engine.call("seriesCount")),
        )

    def collateral(self, asset: int) -> tuple[str, str, int, int, int]:
        """(token, feed, decimals, risk factor, min haircut) of asset id ``asset``."""
        token, feed, decimals, factor, minimum = self.engine.call("collateral", asset)
        return str(token), str(feed), int(decimals), int(factor), int(minimum)

    def series(self, j: int) -> tuple[int, int, int, int, bool, int]:
        """(underlying, kind, strike, expiry, settled, settlement price) of series ``j``."""
        underlying, kind, strike, expiry, settled, price = self.engine.call("series", j)
        return int(underlying), int(kind), int(strike), int(expiry), bool(settled), int(price)

    def balance(self, who: str, asset: int) -> int:
        """The engine's balance of ``who`` in asset ``asset`` (token base units)."""
        return int(self.engine.call("balanceOf", _checksum(who), asset))

    def balances(self, who: str) -> list[int]:
        return [self.balance(who, c) for c in range(self.counts()[1])]

    def token(self, asset: int) -> Contract:
        return Contract(self.chain, self.collateral(asset)[0], self._erc20_abi, f"asset {asset}")

    def wallet_balance(self, who: str, asset: int) -> int:
        return int(self.token(asset).call("balanceOf", _checksum(who)))

    def risk_epoch(self) -> int:
        return int(self.engine.call("riskEpoch"))

    def epoch_commitment(self, epoch: int | None = None) -> int:
        epoch = self.risk_epoch() if epoch is None else epoch
        if epoch == 0:
            raise ChainError("the portfolio engine has no risk epoch yet: publish a risk file")
        return int(self.engine.call("riskEpochOf", epoch)[0])

    def publication_prices(self, risk: RiskFile, epoch: int | None = None) -> dict[str, int]:
        """The oracle price of each market (by ``risk``'s names, in id order) that the engine
        read when it published ``epoch`` (default the current one): the P⁰ its option
        settlement starts from (``zkmargin.settlement``)."""
        epoch = self.risk_epoch() if epoch is None else epoch
        prices = self.engine.call("riskEpochOf", epoch)[_EPOCH_PRICES]
        return {name: int(prices[k]) for k, name in enumerate(risk.market_names)}

    def liquidatable(self, who: str) -> bool:
        return bool(self.engine.call("liquidatable", _checksum(who)))

    def flaggable(self, who: str) -> bool:
        return bool(self.engine.call("flaggable", _checksum(who)))

    def public_inputs(self, who: str, mode: int, asset: int = 0, amount: int = 0) -> list[int]:
        """What the engine verifies now for ``who``'s open account (``publicInputs``)."""
        return [
            int(v) for v in self.engine.call("publicInputs", _checksum(who), mode, asset, amount)
        ]

    def opening_inputs(self, who: str, commitment: int) -> list[int]:
        return [int(v) for v in self.engine.call("openingInputs", _checksum(who), commitment)]

    def binding(self, nonce: int) -> Binding:
        return Binding(
            chain_id=self.chain.chain_id, engine=int(self.engine.address, 16), nonce=nonce
        )

    # ------------------------------------------------------------ the risk file

    def check_listings(self, risk: RiskFile) -> None:
        """The risk file's slots are the engine's listings: as many markets, assets and
        series, each series with the listed underlying, strike, expiry and kind, each asset
        with the listed decimals and risk factor. One line naming the first difference."""
        markets, assets, series = self.counts()
        for label, here, there in (
            ("markets", len(risk.markets), markets),
            ("collateral assets", len(risk.collateral), assets),
            ("option series", len(risk.options), series),
        ):
            if here != there:
                raise InputError(
                    f"risk file: lists {here} {label}, the portfolio engine {there}: it is not "
                    "this engine's risk file"
                )
        names = list(risk.markets)
        for c, (name, coll) in enumerate(risk.collateral.items()):
            _token, _feed, decimals, factor, _min = self.collateral(c)
            want = 0 if coll.risk_factor is None else 1 + names.index(coll.risk_factor)
            if (decimals, factor) != (coll.decimals, want):
                raise InputError(
                    f"risk file: collateral.{name}: {coll.decimals} decimals, risk factor {want}; "
                    f"the engine's asset {c}: {decimals} decimals, risk factor {factor}"
                )
        for j, (name, s) in enumerate(risk.options.items()):
            underlying, kind, strike, expiry, _settled, _price = self.series(j)
            want_kind = KIND_CALL if s.kind == "call" else KIND_PUT
            ours = (names.index(s.underlying), want_kind, s.strike, s.expiry)
            if ours != (underlying, kind, strike, expiry):
                raise InputError(
                    f"risk file: options.{name} is not the engine's series {j} (underlying "
                    f"{underlying}, kind {kind}, strike {format_fixed(strike, PRICE_DECIMALS)}, "
                    f"expiry {expiry})"
                )

    def check_risk_file(self, risk: RiskFile) -> None:
        """:meth:`check_listings`, and the file's commitment is the current epoch's."""
        self.check_listings(risk)
        epoch = self.risk_epoch()
        stored = self.epoch_commitment(epoch)
        ours = risk_commitment(risk)
        if ours != stored:
            raise InputError(
                f"risk file: commitment {str(ours)[:12]}… is not the engine's risk epoch "
                f"{epoch} ({str(stored)[:12]}…): use the file that epoch published"
            )

    def priced(self, risk: RiskFile, inputs: Sequence[int]) -> RiskFile:
        """``risk`` at the prices of the engine's public inputs (its oracle prices)."""
        statement = PortfolioStatement.from_public_signals(inputs)
        k = DEFAULT_SHAPE.markets
        prices = dict(risk.prices)
        for i, name in enumerate(risk.markets):
            prices[name] = Price(statement.prices[i])
        for c, name in enumerate(risk.collateral):
            prices[name] = Price(statement.prices[k + c])
        return replace(risk, prices=prices)

    # ------------------------------------------------------------ trader: money

    def deposit(self, signer: Signer, asset: int, amount: int) -> tuple[TxResult, TxResult]:
        """approve + deposit of ``amount`` base units of asset ``asset``."""
        if amount <= 0:
            raise InputError("amount: must be greater than zero")
        have = self.wallet_balance(signer.address, asset)
        if have < amount:
            raise ChainError(
                f"cannot deposit {amount} base units of asset {asset}: the wallet "
                f"{signer.address} holds {have}"
            )
        approve = self.token(asset).transact(signer, "approve", self.engine.address, amount)
        return approve, self.engine.transact(signer, "deposit", asset, amount)

    # ------------------------------------------------------------ trader: proofs

    def plan_open(self, account: PortfolioAccount, risk: RiskFile) -> PortfolioAccount:
        """Entries at the current marks (a perpetual at the engine's oracle price, an option
        at the epoch's mark) and a fresh salt: what ``open`` commits to."""
        who = _address_of(account)
        state = self.account_state(who)
        if state.open:
            raise ChainError(f"{who} already has an open portfolio account; close it first")
        self.check_risk_file(risk)
        priced = self.priced(risk, self.opening_inputs(who, 1))
        positions = tuple(
            replace(
                p,
                entry=priced.options[p.instrument].mark
                if p.option
                else priced.prices[p.instrument],
            )
            for p in account.positions
        )
        return replace(account, salt=fresh_salt(), positions=positions)

    def open(
        self, signer: Signer, account: PortfolioAccount, risk: RiskFile, prover: Prover
    ) -> ProofTx:
        """Open with an opening proof (mode 5) of ``account`` as :meth:`plan_open` made it.

        Write the planned account to the account file before calling this: once the
        transaction is mined, only that file opens the commitment."""
        who = self._signer_is(signer, account)
        if self.account_state(who).open:
            raise ChainError(f"{who} already has an open portfolio account; close it first")
        self.check_risk_file(risk)

        def engine_inputs(commitment: int) -> list[int]:
            return self.opening_inputs(who, commitment)

        def send(commitment: int, proof: ProofCalldata) -> TxResult:
            return self.engine.transact(signer, "open", commitment, proof, min_gas=PROOF_MIN_GAS)

        return self._prove_and_send(
            prover, account, risk, "open", engine_inputs, send, event="AccountOpened"
        )

    def prove_margin(
        self, signer: Signer, account: PortfolioAccount, risk: RiskFile, prover: Prover
    ) -> ProofTx:
        """Prove maintenance margin (mode 0) at the current prices and epoch."""
        who = self._require_open(self._signer_is(signer, account))
        self.check_risk_file(risk)
        return self._prove_and_send(
            prover,
            account,
            risk,
            "prove",
            lambda _c: self.public_inputs(who, MODE_MAINTENANCE),
            lambda _c, proof: self.engine.transact(
                signer, "proveMargin", proof, min_gas=PROOF_MIN_GAS
            ),
            event="MarginProven",
        )

    def withdraw(
        self,
        signer: Signer,
        account: PortfolioAccount | None,
        risk: RiskFile | None,
        asset: int,
        amount: int,
        prover: Prover | None,
    ) -> ProofTx | TxResult:
        """Withdraw ``amount`` base units of asset ``asset``: with a withdrawal proof (mode 3:
        λ_IM, no unrealized gain) on the balances after it if an account is open, else
        ``withdrawIdle``."""
        if amount <= 0:
            raise InputError("amount: must be greater than zero")
        have = self.balance(signer.address, asset)
        if have < amount:
            raise ChainError(
                f"cannot withdraw {amount} base units of asset {asset}: the engine holds "
                f"{have} for {signer.address}"
            )
        if not self.account_state(signer.address).open:
            return self.engine.transact(signer, "withdrawIdle", asset, amount)
        if account is None or risk is None or prover is None:
            raise InputError("the account is open: withdrawing needs its account and risk files")
        who = self._signer_is(signer, account)
        self.check_risk_file(risk)
        return self._prove_and_send(
            prover,
            account,
            risk,
            "withdraw",
            lambda _c: self.public_inputs(who, MODE_WITHDRAWAL, asset, amount),
            lambda _c, proof: self.engine.transact(
                signer, "withdraw", asset, amount, proof, min_gas=PROOF_MIN_GAS
            ),
            event="Withdrawn",
        )

    def _prove_and_send(
        self,
        prover: Prover,
        account: PortfolioAccount,
        risk: RiskFile,
        entry: str,
        engine_inputs: Callable[[int], list[int]],
        send: Callable[[int, ProofCalldata], TxResult],
        *,
        event: str,
    ) -> ProofTx:
        """Encode at the engine's prices and balances, compare with the engine's inputs,
        check the model (one line if short), prove, compare again, send."""
        mode, opening = ENGINE_MODES[entry]
        # the engine's prices, balances (normalised) and nonce, from its own view (for
        # open, the view takes any commitment: the encoding's is compared below)
        first = engine_inputs(1)
        statement = PortfolioStatement.from_public_signals(first)
        priced = self.priced(risk, first)
        balances = {
            name: Balance(statement.balances[c]) for c, name in enumerate(priced.collateral)
        }
        chain_account = replace(account, collateral=balances)
        self._check_expiries(account, risk)
        prover.check_portfolio(chain_account, priced, mode, None, opening)
        encoded = encode_portfolio(
            chain_account,
            priced,
            mode=mode,
            binding=self.binding(statement.nonce),
            opening=opening,
        )
        commitment = encoded.statement.commitment
        check_portfolio_inputs(
            encoded.statement.public_signals(), engine_inputs(commitment), priced
        )
        started = time.perf_counter()
        bundle = prover.prove_portfolio_encoded(encoded)
        seconds = time.perf_counter() - started
        check_portfolio_inputs(bundle.public_signals, engine_inputs(commitment), priced)
        result = send(commitment, proof_calldata(bundle.proof))
        return ProofTx(result, bundle, seconds, tuple(self.engine.events(result, event)))

    def close(self, signer: Signer, account: PortfolioAccount, risk: RiskFile) -> TxResult:
        """Reveal the positions and salt: perpetuals settle at the oracle price, options by
        the engine's rule from the move since publication (``zkmargin.settlement``;
        intrinsic once settled), less the close fee, through the vaults."""
        who = self._require_open(self._signer_is(signer, account))
        self.check_listings(risk)
        state = self.account_state(who)
        if portfolio_commitment(account, risk) != state.commitment:
            raise PublicInputsMismatch(
                "refusing to send: the account file does not open the commitment stored "
                "on-chain (another file, or edited since `open`)"
            )
        return self.engine.transact(signer, "close", revealed(account, risk), account.salt)

    # ------------------------------------------------------------ after liquidation

    def liquidation(self, who: str) -> Liquidation | None:
        """The latest unreclaimed liquidation of ``who`` (``LiquidationRecorded`` logs,
        checked against the hash the engine stores), None if there is none."""
        event = self.engine.web3.events.LiquidationRecorded()
        who = _checksum(who)

        def fetch() -> list[Any]:
            return list(event.get_logs(from_block=0, argument_filters={"account": who}))

        for log in reversed(self.chain.guarded("PortfolioEngine LiquidationRecorded logs", fetch)):
            nonce, record = int(log["args"]["nonce"]), tuple(int(w) for w in log["args"]["record"])
            if bytes(self.engine.call("liquidationOf", who, nonce)) != b"\0" * 32:
                return Liquidation(who, nonce, record)
        return None

    def reclaim(self, signer: Signer, account: PortfolioAccount, risk: RiskFile) -> TxResult:
        who = self._signer_is(signer, account)
        found = self.liquidation(who)
        if found is None:
            raise ChainError(f"{who} has no liquidation left to reclaim")
        if self.chain.timestamp() > found.deadline:
            raise ChainError(
                f"the reclaim window of {who}'s liquidation closed at {found.deadline}; the "
                "vaults kept the rest"
            )
        return self.engine.transact(
            signer,
            "reclaim",
            found.nonce,
            list(found.record),
            revealed(account, risk),
            account.salt,
        )

    # ------------------------------------------------------------ anyone, publisher

    def flag(self, signer: Signer, who: str) -> TxResult:
        return self.engine.transact(signer, "flag", _checksum(who))

    def liquidate(self, signer: Signer, who: str) -> TxResult:
        return self.engine.transact(signer, "liquidate", _checksum(who))

    def poke_stale(self, signer: Signer) -> TxResult:
        return self.engine.transact(signer, "pokeStale")

    def push_prices(self, signer: Signer) -> TxResult:
        """Cache every listed price in the PortfolioEngine for this block's proofs (anyone):
        an open, proveMargin or withdraw mined in the same block then builds its price
        inputs from the cache instead of the oracle adapter and every feed. Reverts with
        the adapter's error if a feed is stale."""
        return self.engine.transact(signer, "pushPrices")

    def publish_risk(self, signer: Signer, risk: RiskFile) -> TxResult:
        """Publish ``risk`` as a new epoch (publisher only); its listings checked first."""
        self.check_listings(risk)
        return self.engine.transact(signer, "publishRisk", *risk_words(risk).publish_args())

    def settlement_round(self, series: int) -> int:
        """The underlying feed's first round at or after series ``series``' expiry."""
        underlying, _kind, _strike, expiry, settled, _price = self.series(series)
        if settled:
            raise ChainError(f"series {series} is already settled")
        feed_address = self.engine.call("market", underlying)[0]
        feed = Contract(self.chain, str(feed_address), self._feed_abi, f"market {underlying} feed")
        latest = feed.call("latestRoundData")
        round_id, updated = int(latest[0]), int(latest[3])
        if updated < expiry:
            raise ChainError(
                f"series {series} expires at {expiry}; the feed's latest round is at {updated}: "
                "no round at or after expiry yet"
            )
        while round_id > 1 and int(feed.call("getRoundData", round_id - 1)[3]) >= expiry:
            round_id -= 1
        return round_id

    def settle_series(self, signer: Signer, series: int, round_id: int | None = None) -> TxResult:
        if not 0 <= series < DEFAULT_SHAPE.options:
            raise InputError(
                f"series: {series} is not a series id (0..{DEFAULT_SHAPE.options - 1})"
            )
        round_id = self.settlement_round(series) if round_id is None else round_id
        return self.engine.transact(signer, "settleSeries", series, round_id)

    # ------------------------------------------------------------ helpers

    def _check_expiries(self, account: PortfolioAccount, risk: RiskFile) -> None:
        """No position in a series expired at the chain's time unless the engine settled it
        (a settled series is published with mark = intrinsic value and zero greeks)."""
        names = list(risk.options)
        unsettled = tuple(
            p
            for p in account.positions
            if not p.option or not self.series(names.index(p.instrument))[4]
        )
        check_expiries(replace(account, positions=unsettled), risk, self.chain.timestamp())

    def _signer_is(self, signer: Signer, account: PortfolioAccount) -> str:
        who = _address_of(account)
        if signer.address != who:
            raise ChainError(
                f"the account is {who} but the transaction would be signed by {signer.address}"
            )
        return who

    def _require_open(self, who: str) -> str:
        if not self.account_state(who).open:
            raise ChainError(f"{who} has no open portfolio account; open one first")
        return who


__all__ = [
    "MODE_INITIAL",
    "MODE_MAINTENANCE",
    "MODE_OPENING",
    "MODE_WITHDRAWAL",
    "Liquidation",
    "PortfolioClient",
    "PortfolioState",
    "ProofTx",
    "check_portfolio_inputs",
    "revealed",
]
