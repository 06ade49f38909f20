"""The first field two unpacked statements disagree on, in words and units: what the
refusal names when the inputs a prover encoded differ from the ones the engine builds
(rate-based ``chain.client``, portfolio ``chain.portfolio``).

Both statements carry ``commitment``, ``prices``, ``balances``, ``account``, ``nonce``,
``engine`` and ``chain_id``; what lies between the balances and the account differs per
engine and is compared by the caller's ``middle``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eth_utils.address import to_checksum_address

from zkmargin.amounts import format_fixed
from zkmargin.units import BALANCE_DECIMALS, PRICE_DECIMALS

Slot = Callable[[int, str], str]
Pair = Callable[..., str]


def address_text(value: int) -> str:
    """An address word as a checksummed address."""
    return str(to_checksum_address(f"0x{value:040x}"))


def pair(what: str, a: object, b: object, unit: str = "") -> str:
    return f"{what} {a}{unit} in the proof, {b}{unit} at the engine"


def statement_difference(
    ours: Any,
    theirs: Any,
    *,
    markets: int,
    names: Sequence[str | None],
    middle: Callable[[Slot, Pair], str | None],
) -> str | None:
    """The first differing field of ``ours`` (the proof's) against ``theirs`` (the
    engine's): commitment, prices, balances, then ``middle(slot, pair)``, then account,
    nonce, engine, chain id; None if all agree. Slot j is named by ``names[j]`` (markets
    first, ``markets`` of them, then collateral), else "<kind> slot j"."""

    def slot(j: int, kind: str) -> str:
        named = names[j] if j < len(names) else None
        return f"{named} {kind}" if named else f"{kind} slot {j}"

    if ours.commitment != theirs.commitment:
        return pair("commitment", ours.commitment, theirs.commitment)
    for j, (a, b) in enumerate(zip(ours.prices, theirs.prices, strict=True)):
        if a != b:
            return pair(
                slot(j, "price"), format_fixed(a, PRICE_DECIMALS), format_fixed(b, PRICE_DECIMALS)
            )
    for j, (a, b) in enumerate(zip(ours.balances, theirs.balances, strict=True)):
        if a != b:
            return pair(
                slot(markets + j, "balance"),
                format_fixed(a, BALANCE_DECIMALS),
                format_fixed(b, BALANCE_DECIMALS),
                " tokens",
            )
    found = middle(slot, pair)
    if found is not None:
        return found
    if ours.account != theirs.account:
        return pair("account", address_text(ours.account), address_text(theirs.account))
    if ours.nonce != theirs.nonce:
        return pair("nonce", ours.nonce, theirs.nonce)
    if ours.engine != theirs.engine:
        return pair("engine", address_text(ours.engine), address_text(theirs.engine))
    if ours.chain_id != theirs.chain_id:
        return pair("chain id", ours.chain_id, theirs.chain_id)
    return None
