"""Encoding: model objects -> circuit inputs and packed public signals (and back).

Public signals of ``MarginProof(N, K, M)``, in order (all < r):

=====  ==============  ===========================================================
index  name            content
=====  ==============  ===========================================================
0      commitment      Poseidon(DOMAIN_TAG, account, digest, salt); digest is
                       slot_0 if N = 1, else Poseidon(slot_0..slot_{N-1})
1..    priceWords      K market prices, then M collateral prices; 64 bits each,
                       3 per word, first price in the low bits
..     balanceWords    M balances (1e-18 token), 96 bits each, 2 per word
..     paramsWord      K rates, M haircuts (bps), opening flag, withdrawal
                       flag: K + M + 2 fields of 14 bits, first rate in the low
                       bits; each flag 0 or 1, never both 1
..     accountNonce    account | nonce << 160
last   engineChain     engine address | chain id << 160
=====  ==============  ===========================================================

A commitment slot packs ``market | side << 8 | size << 9 | entry << 73``.
Market slot k of the circuit holds the k-th market of the market file; if the file
lists more markets than the circuit has slots, the slots hold the account's markets in
file order. The same rule picks collateral slots. Unused slots get price 1 (prices
must be non-zero) and rate, haircut and balance 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from zkmargin.errors import InputError
from zkmargin.model import Account, MarketData, Mode, check_provable
from zkmargin.paths import project_root
from zkmargin.poseidon import poseidon
from zkmargin.units import (
    ADDRESS_BITS,
    BALANCE_BITS,
    BPS_BITS,
    CHAIN_ID_BITS,
    COMMITMENT_DOMAIN_TAG,
    MARKET_INDEX_BITS,
    NONCE_BITS,
    PRICE_BITS,
    SIZE_BITS,
    SNARK_SCALAR_FIELD,
)

PRICES_PER_WORD = 3
BALANCES_PER_WORD = 2
SIDE_SHIFT = MARKET_INDEX_BITS
SIZE_SHIFT = SIDE_SHIFT + 1
ENTRY_SHIFT = SIZE_SHIFT + SIZE_BITS
PAD_PRICE = 1


@dataclass(frozen=True)
class CircuitShape:
    """One instance of ``MarginProof(N, K, M)`` from ``circuits/circuits.json``."""

    name: str
    positions: int  # N
    markets: int  # K
    collateral: int  # M

    @property
    def price_words(self) -> int:
        return -(-(self.markets + self.collateral) // PRICES_PER_WORD)

    @property
    def balance_words(self) -> int:
        return -(-self.collateral // BALANCES_PER_WORD)

    @property
    def n_public(self) -> int:
        return 1 + self.price_words + self.balance_words + 3


MARGIN_TEMPLATE = "MarginProof"
PORTFOLIO_TEMPLATE = "PortfolioMargin"


@cache
def circuit_entries() -> dict[str, dict[str, Any]]:
    """Every circuit of ``circuits/circuits.json`` (file, template, params), in file order."""
    entries: dict[str, dict[str, Any]] = json.loads(
        (project_root() / "circuits" / "circuits.json").read_text()
    )
    return entries


def circuit_template(name: str) -> str:
    """The template of circuit ``name`` (``MarginProof`` or ``PortfolioMargin``)."""
    entries = circuit_entries()
    if name not in entries:
        raise InputError(f"unknown circuit {name!r} (known: {', '.join(entries)})")
    return str(entries[name]["template"])


@cache
def circuit_shapes() -> dict[str, CircuitShape]:
    """The rate-based circuits (``MarginProof``); portfolio circuits have their own shape
    (:class:`zkmargin.riskfile.RiskShape`) and statement."""
    return {
        name: CircuitShape(name, entry["params"]["N"], entry["params"]["K"], entry["params"]["M"])
        for name, entry in circuit_entries().items()
        if entry["template"] == MARGIN_TEMPLATE
    }


def circuit_shape(name: str) -> CircuitShape:
    shapes = circuit_shapes()
    if name not in shapes:
        if circuit_template(name) != MARGIN_TEMPLATE:  # unknown names are refused there
            raise InputError(f"circuit {name!r} is not a rate-based (isolated/cross) circuit")
    return shapes[name]


@dataclass(frozen=True)
class Binding:
    """Where a proof may be used: chain, engine contract, and the account's nonce."""

    chain_id: int = 31337
    engine: int = 0
    nonce: int = 0

    def __post_init__(self) -> None:
        _check_bits("chain id", self.chain_id, CHAIN_ID_BITS)
        _check_bits("engine address", self.engine, ADDRESS_BITS)
        _check_bits("nonce", self.nonce, NONCE_BITS)


def _check_bits(name: str, value: int, bits: int) -> None:
    if not 0 <= value < 2**bits:
        raise InputError(f"{name}: {value} is out of range (0 <= value < 2^{bits})")


@dataclass(frozen=True)
class Statement:
    """The public statement of one proof, unpacked. ``public_signals`` packs it."""

    circuit: str
    commitment: int
    prices: tuple[int, ...]  # K market prices then M collateral prices
    balances: tuple[int, ...]  # M
    rates: tuple[int, ...]  # K
    haircuts: tuple[int, ...]  # M
    opening: bool
    account: int
    nonce: int
    engine: int
    chain_id: int
    # a withdrawal statement: IMR rates, no unrealized profit counted
    withdrawal: bool = False
    market_names: tuple[str | None, ...] = field(default=(), compare=False)
    collateral_names: tuple[str | None, ...] = field(default=(), compare=False)

    def public_signals(self) -> list[int]:
        shape = circuit_shape(self.circuit)
        signals = [self.commitment]
        signals += pack_words(self.prices, PRICE_BITS, PRICES_PER_WORD)
        signals += pack_words(self.balances, BALANCE_BITS, BALANCES_PER_WORD)
        flags = [int(self.opening), int(self.withdrawal)]
        signals += pack_words([*self.rates, *self.haircuts, *flags], BPS_BITS, 64)
        signals.append(self.account | self.nonce << ADDRESS_BITS)
        signals.append(self.engine | self.chain_id << ADDRESS_BITS)
        assert len(signals) == shape.n_public
        return signals

    @classmethod
    def from_public_signals(cls, circuit: str, signals: Sequence[int]) -> Statement:
        shape = circuit_shape(circuit)
        if len(signals) != shape.n_public:
            raise InputError(
                f"{circuit}: expected {shape.n_public} public signals, got {len(signals)}"
            )
        k, m = shape.markets, shape.collateral
        pos = 1
        prices = unpack_words(
            signals[pos : pos + shape.price_words], k + m, PRICE_BITS, PRICES_PER_WORD
        )
        pos += shape.price_words
        balances = unpack_words(signals[pos : pos + shape.balance_words], m, BALANCE_BITS, 2)
        pos += shape.balance_words
        params = unpack_words([signals[pos]], k + m + 2, BPS_BITS, k + m + 2)
        opening, withdrawal = params[k + m], params[k + m + 1]
        if opening not in (0, 1) or withdrawal not in (0, 1) or opening + withdrawal > 1:
            raise InputError(
                f"params word: opening flag {opening} and withdrawal flag {withdrawal} "
                "must each be 0 or 1, and not both 1"
            )
        account_word, engine_word = signals[pos + 1], signals[pos + 2]
        return cls(
            circuit=circuit,
            commitment=signals[0],
            prices=tuple(prices),
            balances=tuple(balances),
            rates=tuple(params[:k]),
            haircuts=tuple(params[k : k + m]),
            opening=bool(opening),
            withdrawal=bool(withdrawal),
            account=account_word & (2**ADDRESS_BITS - 1),
            nonce=account_word >> ADDRESS_BITS,
            engine=engine_word & (2**ADDRESS_BITS - 1),
            chain_id=engine_word >> ADDRESS_BITS,
        )


def pack_words(values: Sequence[int], width: int, per_word: int) -> list[int]:
    """``values`` of ``width`` bits each, ``per_word`` to a field element, first value in
    the low bits: the packing of every public word (prices, balances, params)."""
    words = []
    for start in range(0, len(values), per_word):
        word = 0
        for j, value in enumerate(values[start : start + per_word]):
            assert 0 <= value < 2**width, (value, width)
            word |= value << (j * width)
        words.append(word)
    return words


def unpack_words(words: Sequence[int], count: int, width: int, per_word: int) -> list[int]:
    """The ``count`` values that :func:`pack_words` packed into ``words`` (a word with bits
    beyond its fields is refused: it is not a packing of in-range values)."""
    out = []
    for w, word in enumerate(words):
        n = min(per_word, count - w * per_word)
        if not 0 <= word < 2 ** (n * width):
            raise InputError(f"public word {word} does not fit {n} fields of {width} bits")
        out += [(word >> (j * width)) & (2**width - 1) for j in range(n)]
    return out


def _choose_slots(
    listed: Sequence[str], used: Sequence[str], slots: int, kind: str, circuit: str
) -> list[str | None]:
    chosen = list(listed) if len(listed) <= slots else [n for n in listed if n in set(used)]
    if len(chosen) > slots:
        raise InputError(
            f"the account uses {len(chosen)} {kind}; the {circuit} circuit has {slots} slot(s)"
        )
    if not chosen and listed:
        chosen = [listed[0]]
    return [*chosen, *([None] * (slots - len(chosen)))]


def commitment(account: Account, shape: CircuitShape, market_slots: Sequence[str | None]) -> int:
    """Poseidon(DOMAIN_TAG, account, digest, salt), as the circuit computes it.

    digest = slot_0 when the circuit has one slot, else Poseidon(slot_0..slot_{N-1}).
    """
    slots = _slots(account, shape, market_slots)
    digest = slots[0] if len(slots) == 1 else poseidon(slots)
    return poseidon([COMMITMENT_DOMAIN_TAG, account.address, digest, account.salt])


def _slots(account: Account, shape: CircuitShape, market_slots: Sequence[str | None]) -> list[int]:
    index = {name: k for k, name in enumerate(market_slots) if name is not None}
    slots = []
    for pos in account.positions:
        slots.append(
            index[pos.market]
            | int(pos.long) << SIDE_SHIFT
            | pos.size << SIZE_SHIFT
            | pos.entry_price << ENTRY_SHIFT
        )
    return slots + [0] * (shape.positions - len(account.positions))


def pick_circuit(account: Account) -> str:
    """Isolated when the account fits one position and one collateral asset, else cross."""
    fits_isolated = len(account.positions) <= 1 and len(account.collateral) <= 1
    return "isolated" if fits_isolated else "cross"


@dataclass(frozen=True)
class Encoded:
    statement: Statement
    inputs: dict[str, Any]  # circuit input signals (private included)


def encode(
    account: Account,
    data: MarketData,
    *,
    circuit: str,
    mode: Mode,
    binding: Binding,
    opening: bool = False,
    precheck: bool = True,
) -> Encoded:
    """Build the statement and the full circuit input for ``account`` at ``data``'s prices.

    ``mode`` picks the rates (IMR for :attr:`Mode.INITIAL` and :attr:`Mode.WITHDRAWAL`)
    and, for a withdrawal, sets the statement's withdrawal flag (no unrealized profit
    counts); ``opening`` sets the opening flag (entries at the oracle price).

    ``precheck`` (the default) refuses, as a one-line :class:`InputError`, every value the
    circuit would reject (:func:`zkmargin.model.check_provable`), so user input never
    reaches a circuit assert. Only tests of the circuit's own checks turn it off.
    """
    if precheck:
        check_provable(account, data, mode, opening=opening)
    shape = circuit_shape(circuit)
    if len(account.positions) > shape.positions:
        raise InputError(
            f"the account has {len(account.positions)} positions; "
            f"the {circuit} circuit holds at most {shape.positions}"
        )
    used_markets = [p.market for p in account.positions]
    market_slots = _choose_slots(
        list(data.markets), used_markets, shape.markets, "markets", circuit
    )
    coll_slots = _choose_slots(
        list(data.collateral),
        list(account.collateral),
        shape.collateral,
        "collateral assets",
        circuit,
    )
    for asset in account.collateral:
        if asset not in coll_slots:
            raise InputError(f"collateral.{asset}: not among the {circuit} circuit's asset slots")

    prices = [data.prices[n] if n else PAD_PRICE for n in [*market_slots, *coll_slots]]
    statement = Statement(
        circuit=circuit,
        commitment=commitment(account, shape, market_slots),
        prices=tuple(prices),
        balances=tuple(account.collateral.get(n, 0) if n else 0 for n in coll_slots),
        rates=tuple(data.markets[n].rate(mode) if n else 0 for n in market_slots),
        haircuts=tuple(data.collateral[n].haircut_bps if n else 0 for n in coll_slots),
        opening=opening,
        withdrawal=mode is Mode.WITHDRAWAL,
        account=account.address,
        nonce=binding.nonce,
        engine=binding.engine,
        chain_id=binding.chain_id,
        market_names=tuple(market_slots),
        collateral_names=tuple(coll_slots),
    )
    index = {name: k for k, name in enumerate(market_slots) if name is not None}
    pad = shape.positions - len(account.positions)
    signals = statement.public_signals()
    assert all(0 <= v < SNARK_SCALAR_FIELD for v in signals)
    inputs: dict[str, Any] = {
        "commitment": statement.commitment,
        "priceWords": pack_words(statement.prices, PRICE_BITS, PRICES_PER_WORD),
        "balanceWords": pack_words(statement.balances, BALANCE_BITS, BALANCES_PER_WORD),
        "paramsWord": signals[1 + shape.price_words + shape.balance_words],
        "accountNonce": account.address | binding.nonce << ADDRESS_BITS,
        "engineChain": binding.engine | binding.chain_id << ADDRESS_BITS,
        "market": [index[p.market] for p in account.positions] + [0] * pad,
        "side": [int(p.long) for p in account.positions] + [0] * pad,
        "size": [p.size for p in account.positions] + [0] * pad,
        "entry": [p.entry_price for p in account.positions] + [0] * pad,
        "salt": account.salt,
    }
    return Encoded(statement=statement, inputs=inputs)
