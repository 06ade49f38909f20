"""JSON-RPC connection, transactions and ABI calls, with every failure as a ChainError.

web3.py supplies the HTTP provider; requests go through ``make_request`` so that a
revert's data reaches :class:`~chain.errors.RevertDecoder` untouched.
Transactions are signed locally (:class:`~chain.signers.Signer`) and sent raw.

Gas: ``eth_estimateGas`` runs first, which also surfaces a revert before anything is
sent. The limit sent is the estimate plus a margin, and never below ``min_gas``: a
snarkjs verifier returns ``false`` instead of reverting when the pairing precompile runs
out of gas (the engine turns that into ``MarginEngine__InvalidProof``), so proof-bearing
transactions get a generous floor. Gas is always reported from the mined receipt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.exceptions import Web3Exception

from chain.errors import ChainError, RevertDecoder, RevertError
from chain.signers import Signer

RPC_TIMEOUT = 60.0
RECEIPT_TIMEOUT = 120.0
GAS_MARGIN_NUM, GAS_MARGIN_DEN = 13, 10  # estimate * 1.3
GAS_MARGIN_ADD = 30_000
PROOF_MIN_GAS = 1_000_000  # proof-bearing calls: far above a verification's ~300k


class RpcError(ChainError):
    """The node answered with a JSON-RPC error that is not a revert."""


@dataclass(frozen=True)
class Log:
    address: str
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True)
class TxResult:
    """A mined, successful transaction."""

    action: str
    tx_hash: str
    gas_used: int
    block_number: int
    contract_address: str | None = None
    logs: tuple[Log, ...] = field(default=(), repr=False)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def _revert_data(error: Mapping[str, Any]) -> bytes | None:
    """The revert bytes of a JSON-RPC error, or None if it is not a revert."""
    data = error.get("data")
    if isinstance(data, Mapping):
        data = data.get("data")
    message = str(error.get("message", ""))
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return b""
    if "revert" in message.lower():
        return b""
    return None


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

    # ------------------------------------------------------------ raw requests

    def request(self, method: str, params: Sequence[Any], *, action: str | None = None) -> Any:
        """One JSON-RPC request; a revert raises RevertError (decoded), others RpcError."""
        try:
            reply = self.w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        except (OSError, Web3Exception) as exc:
            raise ChainError(
                f"cannot reach the RPC endpoint {self.rpc_url} ({type(exc).__name__}); "
                "is the chain running? (`zkmargin chain status`)"
            ) from None
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
        tx: dict[str, Any] = {"to": to, "data": _hex(data)}
        if sender is not None:
            tx["from"] = sender
        ref = block if isinstance(block, str) else hex(block)
        return bytes.fromhex(str(self.request("eth_call", [tx, ref], action=action))[2:])

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
        """Sign, send and wait for a transaction; a revert raises RevertError.

        Without ``gas``, ``eth_estimateGas`` first simulates the call (a revert is
        reported before anything is sent) and the limit is the estimate plus a margin.
        With ``gas``, the transaction is sent as is; if it reverts on-chain, the reason
        is recovered by replaying it as a call on the state before its block.
        """
        tx: dict[str, Any] = {"from": signer.address, "data": _hex(data), "value": value}
        if to is not None:
            tx["to"] = to
        if gas is None:
            estimate = _int(self.request("eth_estimateGas", [tx], action=action))
            gas = max(estimate * GAS_MARGIN_NUM // GAS_MARGIN_DEN + GAS_MARGIN_ADD, min_gas)
            gas = min(gas, _int(self.block()["gasLimit"]))
        tx.update(
            nonce=self.nonce(signer.address),
            gas=gas,
            gasPrice=_int(self.request("eth_gasPrice", [])),
            chainId=self.chain_id,
        )
        raw = signer.sign_transaction(tx)
        tx_hash = str(self.request("eth_sendRawTransaction", [_hex(raw)], action=action))
        receipt = self.wait_receipt(tx_hash, action)
        block_number = _int(receipt["blockNumber"])
        if _int(receipt["status"]) != 1:
            replay = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value", "gas")}
            replay = {k: (hex(v) if isinstance(v, int) else v) for k, v in replay.items()}
            where = f"{action} (tx {tx_hash}, gas used {_int(receipt['gasUsed'])})"
            try:
                self.request("eth_call", [replay, hex(block_number - 1)], action=action)
            except RevertError as exc:
                raise RevertError(where, exc.revert, exc.raw) from None
            except RpcError as exc:
                reason = str(exc).removeprefix(f"{action}: ")
                raise ChainError(f"{where} failed on-chain: {reason}") from None
            raise ChainError(f"{where} failed on-chain (out of gas?)")
        logs = tuple(
            Log(
                address=str(to_checksum_address(entry["address"])),
                topics=tuple(bytes.fromhex(t[2:]) for t in entry["topics"]),
                data=bytes.fromhex(entry["data"][2:]),
            )
            for entry in receipt.get("logs", [])
        )
        created = receipt.get("contractAddress")
        return TxResult(
            action=action,
            tx_hash=tx_hash,
            gas_used=_int(receipt["gasUsed"]),
            block_number=block_number,
            contract_address=str(to_checksum_address(created)) if created else None,
            logs=logs,
        )

    def wait_receipt(self, tx_hash: str, action: str) -> dict[str, Any]:
        deadline = time.monotonic() + RECEIPT_TIMEOUT
        delay = 0.01
        while True:
            receipt = self.request("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise ChainError(f"{action}: no receipt for {tx_hash} after {RECEIPT_TIMEOUT} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


# ---------------------------------------------------------------- ABI helpers


def abi_type(param: Mapping[str, Any]) -> str:
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


@dataclass(frozen=True)
class Event:
    name: str
    args: dict[str, Any]
    address: str


class Contract:
    """ABI encoding and decoding for one deployed contract."""

    def __init__(self, chain: Chain, address: str, abi: Sequence[Mapping[str, Any]], name: str):
        self.chain = chain
        self.address = str(to_checksum_address(address))
        self.name = name
        self._functions: dict[str, list[Mapping[str, Any]]] = {}
        self._events: dict[bytes, Mapping[str, Any]] = {}
        for entry in abi:
            if entry.get("type") == "function":
                self._functions.setdefault(str(entry["name"]), []).append(entry)
            elif entry.get("type") == "event" and not entry.get("anonymous"):
                types = ",".join(abi_type(p) for p in entry.get("inputs", []))
                self._events[keccak(text=f"{entry['name']}({types})")] = entry

    def _function(self, name: str, nargs: int) -> Mapping[str, Any]:
        candidates = [f for f in self._functions.get(name, []) if len(f["inputs"]) == nargs]
        if len(candidates) != 1:
            raise ChainError(f"{self.name} has no function {name} with {nargs} arguments")
        return candidates[0]

    def encode(self, name: str, *args: Any) -> bytes:
        fn = self._function(name, len(args))
        types = [abi_type(p) for p in fn["inputs"]]
        selector = keccak(text=f"{name}({','.join(types)})")[:4]
        try:
            return selector + abi_encode(types, list(args))
        except (EncodingError, TypeError, ValueError) as exc:
            raise ChainError(f"{self.name}.{name}: cannot encode arguments ({exc})") from None

    def call(self, name: str, *args: Any, sender: str | None = None) -> Any:
        """A view call; one output is returned as is, several as a tuple."""
        fn = self._function(name, len(args))
        raw = self.chain.call(
            self.address, self.encode(name, *args), sender=sender, action=f"{self.name}.{name}"
        )
        types = [abi_type(p) for p in fn["outputs"]]
        try:
            values = abi_decode(types, raw)
        except (DecodingError, ValueError):
            raise ChainError(
                f"{self.name}.{name} at {self.address}: unexpected return data "
                "(wrong address or ABI?)"
            ) from None
        return values[0] if len(values) == 1 else tuple(values)

    def transact(
        self, signer: Signer, name: str, *args: Any, gas: int | None = None, min_gas: int = 0
    ) -> TxResult:
        return self.chain.send(
            signer,
            self.encode(name, *args),
            to=self.address,
            action=f"{self.name}.{name}",
            gas=gas,
            min_gas=min_gas,
        )

    def events(self, result: TxResult, name: str | None = None) -> list[Event]:
        """Decode this contract's events in a transaction's logs."""
        out = []
        for log in result.logs:
            if log.address != self.address or not log.topics:
                continue
            entry = self._events.get(log.topics[0])
            if entry is None or (name is not None and entry["name"] != name):
                continue
            indexed = [p for p in entry["inputs"] if p.get("indexed")]
            plain = [p for p in entry["inputs"] if not p.get("indexed")]
            values: dict[str, Any] = {}
            for param, topic in zip(indexed, log.topics[1:], strict=False):
                (values[param["name"]],) = abi_decode([abi_type(param)], topic)
            decoded = abi_decode([abi_type(p) for p in plain], log.data)
            values.update({p["name"]: v for p, v in zip(plain, decoded, strict=True)})
            out.append(Event(str(entry["name"]), values, log.address))
        return out


def deploy_data(abi: Sequence[Mapping[str, Any]], bytecode: bytes, *args: Any) -> bytes:
    """Creation code: bytecode followed by the ABI-encoded constructor arguments."""
    ctor = next((e for e in abi if e.get("type") == "constructor"), None)
    types = [abi_type(p) for p in ctor["inputs"]] if ctor else []
    if len(types) != len(args):
        raise ChainError(f"constructor takes {len(types)} arguments, {len(args)} given")
    return bytecode + (abi_encode(types, list(args)) if types else b"")
