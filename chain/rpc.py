"""JSON-RPC connection, transactions and contracts, with every failure as a ChainError.

web3.py does the Ethereum side: its contract objects, built from forge's ABI output,
encode calls, decode results and events, and build transactions; :class:`Contract` wraps
one of them so that callers name a function and its arguments and get plain values back.
Transactions are signed locally (:class:`~chain.signers.Signer`) and sent raw.

Reverts: web3 raises ``ContractLogicError`` (``ContractCustomError`` for a custom error)
carrying the revert data; :class:`~chain.errors.RevertDecoder` decodes it against the ABIs
of all our contracts (a call into the engine may revert in the oracle adapter or a token),
and the user sees one line such as ``OracleAdapter__StalePrice(feed=… [ETH/USD feed], …)``.

Gas: ``eth_estimateGas`` runs first, which also surfaces a revert before anything is
sent. The limit sent is the estimate plus a margin, and never below ``min_gas``: a
snarkjs verifier returns ``false`` instead of reverting when the pairing precompile runs
out of gas (the engine turns that into ``MarginEngine__InvalidProof``), so proof-bearing
transactions get a generous floor. Gas is always reported from the mined receipt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, cast

from eth_utils.abi import abi_to_signature
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractLogicError,
    MismatchedABI,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
    Web3TypeError,
    Web3ValidationError,
    Web3ValueError,
)
from web3.logs import DISCARD
from web3.types import BlockIdentifier, Nonce, TxParams, TxReceipt, Wei

from chain.errors import ChainError, RevertDecoder, RevertError
from chain.signers import Signer

RPC_TIMEOUT = 60.0
RECEIPT_TIMEOUT = 120.0
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 13, 10  # estimate * 1.3
GAS_MARGIN_ADD = 30_000
PROOF_MIN_GAS = 1_000_000  # proof-bearing calls: far above a verification's ~300k

T = TypeVar("T")
_UNUSED_MIDDLEWARE = ("validation", "ens_name_to_address", "gas_price_strategy", "gas_estimate")


class GasCapExceeded(ChainError):
    """A transaction would need more gas than the caller's cap; nothing was sent."""

    def __init__(self, action: str, estimate: int, cap: int) -> None:
        super().__init__(f"{action}: needs {estimate:,} gas, more than the cap {cap:,}")
        self.estimate = estimate


class RpcError(ChainError):
    """The node answered with a JSON-RPC error that is not a revert."""


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction (``receipt`` as web3 formats it, for its events)."""

    action: str
    tx_hash: str
    gas_used: int
    block_number: int
    contract_address: str | None = None
    receipt: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _revert_data(error: Mapping[str, Any]) -> bytes | None:
    """The revert bytes of a raw JSON-RPC error, or None if it is not a revert."""
    data = error.get("data")
    if isinstance(data, Mapping):
        data = data.get("data")
    message = str(error.get("message", ""))
    if isinstance(data, str) and data.startswith("0x"):
        return _hex_bytes(data)
    if "revert" in message.lower():
        return b""
    return None


def _hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        return b""


def _logic_error_data(exc: ContractLogicError) -> bytes:
    """The revert data web3 attached to a ContractLogicError (b"" when there is none)."""
    data: Any = exc.data
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str):
        # geth/ganache spell some reverts "Reverted 0x…"; anvil sends the bare hex
        return _hex_bytes(data.rsplit(" ", 1)[-1]) if "0x" in data else b""
    return b""


def _rpc_message(exc: Web3RPCError) -> str:
    response = exc.rpc_response or {}
    error = response.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return str(error["message"])
    return str(exc.message)


class Chain:
    """One JSON-RPC endpoint: calls, signed transactions, time control on anvil."""

    def __init__(
        self,
        rpc_url: str,
        *,
        decoder: RevertDecoder | None = None,
        timeout: float = RPC_TIMEOUT,
    ) -> None:
        self.rpc_url = rpc_url
        self.decoder = decoder or RevertDecoder([])
        self.w3 = Web3(
            Web3.HTTPProvider(
                rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
            )
        )
        # Every transaction is built complete (gas, gas price, nonce, chain id) and every
        # address is checksummed, so web3's filling, ENS and validation layers only cost
        # round trips: "validation" alone asks eth_chainId before each call, which made
        # a view call four times slower than the call itself.
        for name in _UNUSED_MIDDLEWARE:
            if name in self.w3.middleware_onion:
                self.w3.middleware_onion.remove(name)

    def _unreachable(self, exc: BaseException) -> ChainError:
        return ChainError(
            f"cannot reach the RPC endpoint {self.rpc_url} ({type(exc).__name__}); "
            "is the chain running? (`zkmargin chain status`)"
        )

    def guarded(self, action: str, run: Callable[[], T]) -> T:
        """Run a web3 call; any failure becomes one line (a revert: decoded)."""
        try:
            return run()
        except ContractLogicError as exc:
            data = _logic_error_data(exc)
            raise RevertError(action, self.decoder.decode(data), data) from None
        except BadFunctionCallOutput:
            raise ChainError(f"{action}: unexpected return data (wrong address or ABI?)") from None
        except Web3RPCError as exc:
            raise RpcError(f"{action}: {_rpc_message(exc)}") from None
        except (MismatchedABI, Web3ValidationError, Web3TypeError, Web3ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ChainError(f"{action}: cannot encode the arguments ({first})") from None
        except (OSError, Web3Exception) as exc:
            raise self._unreachable(exc) from None

    # ------------------------------------------------------------ raw requests

    def request(self, method: str, params: Sequence[Any], *, action: str | None = None) -> Any:
        """One raw JSON-RPC request (anvil's ``evm_*``, blocks); a revert raises RevertError."""
        try:
            reply = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        except (OSError, Web3Exception) as exc:
            raise self._unreachable(exc) from None
        error = reply.get("error")
        if error:
            if not isinstance(error, Mapping):
                raise RpcError(f"{method}: {error}")
            data = _revert_data(error)
            if data is not None:
                raise RevertError(action or method, self.decoder.decode(data), data)
            raise RpcError(f"{action or method}: {error.get('message', error)}")
        return reply.get("result")

    @cached_property
    def chain_id(self) -> int:
        return _int(self.request("eth_chainId", []))

    @cached_property
    def client_version(self) -> str:
        return str(self.request("web3_clientVersion", []))

    @property
    def is_anvil(self) -> bool:
        return self.client_version.lower().startswith("anvil")

    def block(self, tag: str | int = "latest") -> dict[str, Any]:
        """The block as the node sends it (numbers as hex strings)."""
        ref = tag if isinstance(tag, str) else hex(tag)
        block = self.request("eth_getBlockByNumber", [ref, False])
        if block is None:
            raise ChainError(f"block {tag} not found")
        return dict(block)

    def timestamp(self) -> int:
        """Timestamp of the latest block (what the next views compare against)."""
        return _int(self.block()["timestamp"])

    def code(self, address: str) -> bytes:
        return bytes.fromhex(str(self.request("eth_getCode", [address, "latest"]))[2:])

    def nonce(self, address: str) -> int:
        return _int(self.request("eth_getTransactionCount", [address, "pending"]))

    def balance(self, address: str) -> int:
        return _int(self.request("eth_getBalance", [address, "latest"]))

    # ------------------------------------------------------------ anvil only

    def _require_anvil(self, what: str) -> None:
        if not self.is_anvil:
            raise ChainError(f"{what} needs a local anvil chain; {self.rpc_url} is not one")

    def advance_time(self, seconds: int) -> int:
        """Move the chain's clock forward and mine a block; returns the new timestamp."""
        self._require_anvil("moving time")
        if seconds < 0:
            raise ChainError("time only moves forward")
        self.request("evm_increaseTime", [seconds])
        self.request("evm_mine", [])
        return self.timestamp()

    def set_next_timestamp(self, timestamp: int) -> int:
        """Mine a block at exactly ``timestamp`` (anvil); returns it."""
        self._require_anvil("setting the time")
        self.request("evm_setNextBlockTimestamp", [timestamp])
        self.request("evm_mine", [])
        return self.timestamp()

    def snapshot(self) -> str:
        """Save the whole chain state (anvil ``evm_snapshot``); returns the snapshot id."""
        self._require_anvil("a snapshot")
        return str(self.request("evm_snapshot", []))

    def revert_to(self, snapshot_id: str) -> None:
        """Restore a snapshot (which anvil then forgets: take a new one to revert again)."""
        self._require_anvil("reverting to a snapshot")
        if self.request("evm_revert", [snapshot_id]) is not True:
            raise ChainError(f"anvil has no snapshot {snapshot_id}")

    # ------------------------------------------------------------ calls and transactions

    def call(
        self,
        to: str,
        data: bytes,
        *,
        sender: str | None = None,
        block: str | int = "latest",
        action: str = "call",
    ) -> bytes:
        """A raw ``eth_call`` (e.g. a precompile); a revert raises RevertError."""
        tx: TxParams = {"to": _checksum(to), "data": HexBytes(data)}
        if sender is not None:
            tx["from"] = _checksum(sender)
        ref = cast(BlockIdentifier, block)
        return bytes(self.guarded(action, lambda: self.w3.eth.call(tx, ref)))

    def send(
        self,
        signer: Signer,
        data: bytes,
        *,
        to: str | None = None,
        action: str,
        value: int = 0,
        gas: int | None = None,
        min_gas: int = 0,
    ) -> TxResult:
        """Sign and send raw calldata (no ABI); see :meth:`transact`."""
        base: TxParams = {"data": HexBytes(data), "value": Wei(value)}
        if to is not None:
            base["to"] = _checksum(to)
        return self.transact(
            signer,
            action=action,
            estimate=lambda tx: self.w3.eth.estimate_gas({**base, **tx}),
            build=lambda tx: {**base, **tx},
            gas=gas,
            min_gas=min_gas,
        )

    def transact(
        self,
        signer: Signer,
        *,
        action: str,
        estimate: Callable[[TxParams], int],
        build: Callable[[TxParams], TxParams],
        gas: int | None = None,
        min_gas: int = 0,
        max_gas: int | None = None,
        on_sent: Callable[[str], None] | None = None,
    ) -> TxResult:
        """Estimate, build, sign, send and wait for a transaction; a revert raises RevertError.

        ``estimate`` and ``build`` get the sender's fields (from, nonce, gas, ...) and add
        the payload: a web3 contract function or constructor, or raw calldata.
        Without ``gas``, ``eth_estimateGas`` first simulates the call (a revert is
        reported before anything is sent) and the limit is the estimate plus a margin.
        With ``gas``, the transaction is sent as is; if it reverts on-chain, the reason
        is recovered by replaying it as a call on the state before its block.
        ``max_gas`` caps the limit (an estimate above it raises :class:`GasCapExceeded`,
        nothing sent); ``on_sent`` gets the hash once the node took the transaction, before
        the wait (a daemon records it, so a restart never sends the same thing twice).
        """
        sender: TxParams = {"from": signer.address}
        if gas is None:
            estimated = self.guarded(action, lambda: estimate(sender))
            if max_gas is not None and estimated > max_gas:
                raise GasCapExceeded(action, estimated, max_gas)
            gas = max(estimated * GAS_MARGIN_NUM // GAS_MARGIN_DEN + GAS_MARGIN_ADD, min_gas)
            gas = min(gas, _int(self.block()["gasLimit"]))
        if max_gas is not None:
            gas = min(gas, max_gas)
        fields: TxParams = {
            **sender,
            "nonce": Nonce(self.nonce(signer.address)),
            "gas": gas,
            "gasPrice": self.guarded(action, lambda: self.w3.eth.gas_price),
            "chainId": self.chain_id,
        }
        tx = self.guarded(action, lambda: build(fields))
        raw = signer.sign_transaction(cast(Mapping[str, Any], tx))
        tx_hash = (
            "0x" + bytes(self.guarded(action, lambda: self.w3.eth.send_raw_transaction(raw))).hex()
        )
        if on_sent is not None:
            on_sent(tx_hash)
        receipt = self.wait_receipt(tx_hash, action)
        if receipt["status"] != 1:
            self._explain_failure(tx, receipt, tx_hash, action)
        created = receipt.get("contractAddress")
        return TxResult(
            action=action,
            tx_hash=tx_hash,
            gas_used=int(receipt["gasUsed"]),
            block_number=int(receipt["blockNumber"]),
            contract_address=_checksum(created) if created else None,
            receipt=receipt,
        )

    def _explain_failure(self, tx: TxParams, receipt: TxReceipt, tx_hash: str, action: str) -> None:
        """Replay a mined, failed transaction as a call on its parent state; always raises."""
        replay = cast(
            TxParams, {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
        )
        where = f"{action} (tx {tx_hash}, gas used {receipt['gasUsed']})"
        try:
            self.guarded(action, lambda: self.w3.eth.call(replay, receipt["blockNumber"] - 1))
        except RevertError as exc:
            raise RevertError(where, exc.revert, exc.raw) from None
        except RpcError as exc:
            reason = str(exc).removeprefix(f"{action}: ")
            raise ChainError(f"{where} failed on-chain: {reason}") from None
        raise ChainError(f"{where} failed on-chain (out of gas?)")

    def wait_receipt(self, tx_hash: str, action: str) -> TxReceipt:
        """Poll for the receipt, quickly at first (anvil mines each transaction at once)."""
        deadline = time.monotonic() + RECEIPT_TIMEOUT
        delay = 0.01

        def fetch() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None  # not mined yet

        while True:
            receipt = self.guarded(action, fetch)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainError(f"{action}: no receipt for {tx_hash} after {RECEIPT_TIMEOUT} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _checksum(address: str) -> str:
    return str(to_checksum_address(address))


# ---------------------------------------------------------------- contracts


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    address: str


class Contract:
    """One deployed contract: a web3 contract object behind one-line errors.

    ``call`` and ``transact`` take the function's name and its arguments in ABI order
    (structs as tuples); ``call`` returns one output as is, several as a tuple.
    """

    def __init__(self, chain: Chain, address: str, abi: Sequence[Mapping[str, Any]], name: str):
        self.chain = chain
        self.address = _checksum(address)
        self.name = name
        self.abi = [dict(entry) for entry in abi]
        self._event_names = [
            str(e["name"]) for e in self.abi if e.get("type") == "event" and not e.get("anonymous")
        ]

    @cached_property
    def web3(self) -> Any:
        """The web3 contract object, made on first use (building one walks the whole ABI,
        and a client holds contracts it may never call)."""
        return self.chain.w3.eth.contract(address=self.address, abi=self.abi)  # type: ignore[call-overload]

    def _function(self, name: str, args: Sequence[Any]) -> Any:
        """web3's function object for ``name(args)``; wrong arguments: one line."""
        entries = [e for e in self.abi if e.get("type") == "function" and e.get("name") == name]
        if not entries:
            raise ChainError(f"{self.name} has no function {name}")
        try:
            return self.web3.functions[name](*args)
        except (MismatchedABI, Web3ValidationError, Web3TypeError, Web3ValueError):
            expected = " or ".join(abi_to_signature(cast(Any, e)) for e in entries)
            raise ChainError(f"{self.name}.{name}: the arguments do not match {expected}") from None

    def encode(self, name: str, *args: Any) -> bytes:
        """Calldata for ``name(args)``."""
        self._function(name, args)
        return bytes(
            HexBytes(
                self.chain.guarded(
                    f"{self.name}.{name}", lambda: self.web3.encode_abi(name, args=list(args))
                )
            )
        )

    def call(self, name: str, *args: Any, sender: str | None = None) -> Any:
        """A view call; one output is returned as is, several as a tuple."""
        fn = self._function(name, args)
        tx: TxParams = {} if sender is None else {"from": _checksum(sender)}
        result = self.chain.guarded(f"{self.name}.{name}", lambda: fn.call(tx))
        return (
            tuple(result) if isinstance(result, list) and _n_outputs(self.abi, name) > 1 else result
        )

    def transact(
        self,
        signer: Signer,
        name: str,
        *args: Any,
        gas: int | None = None,
        min_gas: int = 0,
        max_gas: int | None = None,
        on_sent: Callable[[str], None] | None = None,
    ) -> TxResult:
        fn = self._function(name, args)
        return self.chain.transact(
            signer,
            action=f"{self.name}.{name}",
            estimate=fn.estimate_gas,
            build=fn.build_transaction,
            gas=gas,
            min_gas=min_gas,
            max_gas=max_gas,
            on_sent=on_sent,
        )

    def _event(self, name: str) -> Any:
        return self.chain.guarded(f"{self.name} events", lambda: self.web3.events[name]())

    def events(self, result: TxResult, name: str | None = None) -> list[Event]:
        """This contract's events in a transaction's logs, in log order."""
        logs = [log for log in result.receipt.get("logs", []) if log["address"] == self.address]
        if not logs:
            return []
        found: list[tuple[int, Event]] = []
        for event_name in [name] if name is not None else self._event_names:
            event = self._event(event_name)
            for data in event.process_receipt({"logs": logs}, errors=DISCARD):
                found.append(
                    (
                        int(data["logIndex"]),
                        Event(str(data["event"]), dict(data["args"]), self.address),
                    )
                )
        return [event for _, event in sorted(found, key=lambda item: item[0])]


def _n_outputs(abi: Sequence[Mapping[str, Any]], name: str) -> int:
    return max(
        (
            len(e.get("outputs", []))
            for e in abi
            if e.get("type") == "function" and e["name"] == name
        ),
        default=0,
    )


def deploy_contract(
    chain: Chain,
    signer: Signer,
    abi: Sequence[Mapping[str, Any]],
    bytecode: bytes,
    *args: Any,
    name: str,
) -> tuple[Contract, TxResult]:
    """Deploy ``bytecode`` with constructor ``args`` (web3 encodes them); returns the contract."""
    action = f"deploy {name}"
    factory = chain.w3.eth.contract(abi=[dict(e) for e in abi], bytecode=HexBytes(bytecode))
    ctor = chain.guarded(action, lambda: factory.constructor(*args))
    result = chain.transact(
        signer, action=action, estimate=ctor.estimate_gas, build=ctor.build_transaction
    )
    if result.contract_address is None:
        raise ChainError(f"{action}: no contract address in the receipt")
    return Contract(chain, result.contract_address, abi, name), result


__all__ = [
    "PROOF_MIN_GAS",
    "Chain",
    "Contract",
    "Event",
    "RpcError",
    "TxResult",
    "deploy_contract",
]
