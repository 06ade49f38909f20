"""Errors from the chain, as one clear line each.

web3 hands a revert over as ``ContractLogicError`` (``ContractCustomError`` for a custom
error) with the raw revert data; it cannot decode the error itself, because the revert
may come from any contract on the call path (the engine calls the oracle adapter, the
tokens, the verifiers). :class:`RevertDecoder` therefore knows the errors of every ABI
in ``contracts/out``.

A revert carries ABI-encoded data: a custom error (4-byte selector + arguments), the
standard ``Error(string)`` or ``Panic(uint256)``, or nothing. :class:`RevertDecoder`
knows every error declared in the project's forge artifacts and renders a revert as
``MarginEngine__InvalidProof()`` or ``OracleAdapter__StalePrice(feed=0x… [ETH/USD],
updatedAt=1700000000, heartbeat=3600)``, followed by a short hint for the common ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.exceptions import DecodingError
from eth_utils.abi import collapse_if_tuple
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from zkmargin.errors import ZkMarginError

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "invalid storage byte array",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}

# What to do about the reverts a user meets most; keyed by error name.
HINTS = {
    "MarginEngine__InvalidProof": "the verifier rejected the proof for the engine's public inputs",
    "MarginEngine__NotLiquidatable": "the account is still covered by a recent proof",
    "MarginEngine__InsideProvenSet": "every current price is inside the move set the account's "
    "last proof covers (shrunk by the liquidation penalty): nothing to flag",
    "MarginEngine__ShockPending": "a shock is already flagged on this account",
    "MarginEngine__AccountExists": "this address already has an open account",
    "MarginEngine__NoAccount": "this address has no open account",
    "MarginEngine__CommitmentMismatch": "the revealed positions and salt do not open the "
    "stored commitment",
    "OracleAdapter__StalePrice": "the feed's answer is older than its heartbeat; "
    "refresh it (`zkmargin oracle set`)",
    "ERC20InsufficientBalance": "the wallet does not hold enough tokens",
    "ERC20InsufficientAllowance": "the engine is not approved for that amount",
    "OwnableUnauthorizedAccount": "only the owner may do this",
}


class ChainError(ZkMarginError, RuntimeError):
    """A chain interaction failed: unreachable RPC, revert, missing deployment, bad signer."""


class RevertError(ChainError):
    """A call or transaction reverted; ``revert`` holds the decoded error, if known."""

    def __init__(self, action: str, revert: DecodedRevert | None, raw: bytes) -> None:
        self.action = action
        self.revert = revert
        self.raw = raw
        if revert is None:
            reason = f"unknown revert data 0x{raw.hex()}" if raw else "no revert data"
        else:
            reason = str(revert)
            if revert.name in HINTS:
                reason += f": {HINTS[revert.name]}"
        super().__init__(f"{action} reverted: {reason}")

    @property
    def name(self) -> str | None:
        return None if self.revert is None else self.revert.name


class PublicInputsMismatch(ChainError):
    """The public inputs the prover encoded differ from the ones the engine will build."""


@dataclass(frozen=True)
class DecodedRevert:
    name: str
    args: tuple[tuple[str, str, Any], ...]  # (name, abi type, value)
    labels: Mapping[str, str]  # checksum address -> human label

    def __str__(self) -> str:
        parts = []
        for name, typ, value in self.args:
            text = _format_value(typ, value, self.labels)
            parts.append(f"{name}={text}" if name else text)
        return f"{self.name}({', '.join(parts)})"


def _format_value(typ: str, value: Any, labels: Mapping[str, str]) -> str:
    if typ == "address":
        address = str(to_checksum_address(value))
        label = labels.get(address)
        return f"{address} [{label}]" if label else address
    if typ == "string":
        return repr(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


@dataclass(frozen=True)
class _ErrorAbi:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]


class RevertDecoder:
    """Selector -> custom error, from every ``{"type": "error"}`` entry of the given ABIs."""

    def __init__(
        self, abis: Iterable[Sequence[Mapping[str, Any]]], labels: Mapping[str, str] | None = None
    ) -> None:
        self.labels: dict[str, str] = dict(labels or {})
        self._errors: dict[bytes, _ErrorAbi] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = tuple(collapse_if_tuple(p) for p in entry.get("inputs", []))
                names = tuple(str(p.get("name", "")) for p in entry.get("inputs", []))
                signature = f"{entry['name']}({','.join(types)})"
                self._errors[keccak(text=signature)[:4]] = _ErrorAbi(entry["name"], types, names)

    def __len__(self) -> int:
        return len(self._errors)

    def decode(self, data: bytes) -> DecodedRevert | None:
        """The decoded revert, or None when the data matches nothing known."""
        if len(data) < 4:
            return None
        selector, body = data[:4], data[4:]
        try:
            if selector == ERROR_STRING_SELECTOR:
                (message,) = abi_decode(["string"], body)
                return DecodedRevert("Error", (("", "string", message),), self.labels)
            if selector == PANIC_SELECTOR:
                (code,) = abi_decode(["uint256"], body)
                meaning = PANIC_CODES.get(code, "unknown panic code")
                return DecodedRevert(
                    "Panic", (("", "uint256", f"0x{code:02x} {meaning}"),), self.labels
                )
            known = self._errors.get(selector)
            if known is None:
                return None
            values = abi_decode(list(known.types), body) if known.types else ()
        except (DecodingError, ValueError, OverflowError):
            return None
        args = tuple(zip(known.names, known.types, values, strict=True))
        return DecodedRevert(known.name, args, self.labels)
