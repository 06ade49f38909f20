"""Encoding for ``PortfolioMargin(N, K, M, J)``: account + risk file -> circuit inputs.

Public signals, in order (all < r):

=====  ==============  ===========================================================
index  name            content
=====  ==============  ===========================================================
0      commitment      Poseidon(PORTFOLIO_TAG, account, digest, salt); digest is
                       Poseidon(chunk_0, ...), chunk_c = Poseidon(slot_4c..slot_4c+3)
1..    priceWords      K market prices, then M collateral prices; 64 bits each,
                       3 per word, first price in the low bits
..     balanceWords    M balances (1e-18 token), 96 bits each, 2 per word
..     riskCommitment  :func:`zkmargin.riskfile.risk_commitment`
..     modeWord        initial | withdrawal << 1 | opening << 2 (opening: initial, not
                       withdrawal, every non-empty slot's entry equal to its mark)
..     accountNonce    account | nonce << 160
last   engineChain     engine address | chain id << 160
=====  ==============  ===========================================================

A slot packs ``instrument | side << 8 | size << 9 | entry << 73``; instrument k < K is the
perpetual on the k-th market of the risk file, K + j the j-th option series. Market,
collateral and option slots hold the risk file's entries in file order; unused market
and collateral slots get price 1 (prices must be non-zero) and balance 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from zkmargin.encoding import Binding, pack_words, unpack_words
from zkmargin.errors import InputError
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    check_expiries,
    check_names,
    check_opening,
    check_ranges,
)
from zkmargin.poseidon import poseidon
from zkmargin.riskfile import DEFAULT_SHAPE, RiskFile, RiskShape, check_fits, risk_words
from zkmargin.units import (
    ADDRESS_BITS,
    BALANCE_BITS,
    BALANCE_DECIMALS,
    PRICE_BITS,
    SIZE_BITS,
    SNARK_SCALAR_FIELD,
)

PORTFOLIO_DOMAIN_TAG: Final = int.from_bytes(b"zkmargin/portfolio/v1", "big")
# the circuit of circuits/circuits.json that proves this statement (shape DEFAULT_SHAPE)
PORTFOLIO_CIRCUIT: Final = "portfolio"
INSTRUMENT_BITS: Final = 8
SIDE_SHIFT: Final = INSTRUMENT_BITS
SIZE_SHIFT: Final = SIDE_SHIFT + 1
ENTRY_SHIFT: Final = SIZE_SHIFT + SIZE_BITS
PRICES_PER_WORD: Final = 3
BALANCES_PER_WORD: Final = 2
SLOTS_PER_CHUNK: Final = 4
PAD_PRICE: Final = 1


OPENING_BIT: Final = 1 << 2


def mode_word(mode: PortfolioMode, opening: bool = False) -> int:
    """``initial | withdrawal << 1 | opening << 2``; an opening proof is initial only."""
    if opening and mode is not PortfolioMode.INITIAL:
        raise InputError(f"mode: an opening proof is an initial proof, not {mode.value}")
    return int(mode.initial) | int(mode.withdrawal) << 1 | (OPENING_BIT if opening else 0)


def mode_from_word(word: int) -> tuple[PortfolioMode, bool]:
    """The mode and opening flag a ``modeWord`` encodes (the circuit refuses any other)."""
    for mode, opening in [(m, False) for m in PortfolioMode] + [(PortfolioMode.INITIAL, True)]:
        if mode_word(mode, opening) == word:
            return mode, opening
    raise InputError(
        f"modeWord: {word} is not a mode (0 maintenance, 1 initial, 3 withdrawal, "
        "5 opening; a withdrawal and an opening are also initial)"
    )


def instrument_index(risk: RiskFile, shape: RiskShape, option: bool, name: str) -> int:
    if option:
        return shape.markets + list(risk.options).index(name)
    return risk.market_index(name)


def slots(account: PortfolioAccount, risk: RiskFile, shape: RiskShape) -> list[int]:
    out = [
        instrument_index(risk, shape, p.option, p.instrument)
        | int(p.long) << SIDE_SHIFT
        | p.size << SIZE_SHIFT
        | p.entry << ENTRY_SHIFT
        for p in account.positions
    ]
    return out + [0] * (shape.positions - len(out))


def chunked_hash(leaves: list[int]) -> int:
    """Poseidon(Poseidon(leaves[0:4]), Poseidon(leaves[4:8]), ...), as ``ChunkedHash``."""
    assert len(leaves) % SLOTS_PER_CHUNK == 0
    return poseidon(
        [
            poseidon(leaves[start : start + SLOTS_PER_CHUNK])
            for start in range(0, len(leaves), SLOTS_PER_CHUNK)
        ]
    )


def portfolio_commitment(
    account: PortfolioAccount, risk: RiskFile, shape: RiskShape = DEFAULT_SHAPE
) -> int:
    digest = chunked_hash(slots(account, risk, shape))
    return poseidon([PORTFOLIO_DOMAIN_TAG, account.address, digest, account.salt])


def check_provable(
    account: PortfolioAccount,
    risk: RiskFile,
    shape: RiskShape,
    now: int | None = None,
    *,
    opening: PortfolioMode | None = None,
) -> None:
    """Refuse, one line naming the field, what the circuit would reject besides the claim:
    unlisted names, out-of-range values, more positions or listings than slots; given
    ``now`` (unix seconds), a position in an expired series; given ``opening`` (the mode of
    an opening proof), a mode other than initial or an entry that is not its mark."""
    check_names(account, risk)
    if opening is not None:
        check_opening(account, risk, opening)
    check_ranges(account)
    check_fits(risk, shape)
    if now is not None:
        check_expiries(account, risk, now)
    if len(account.positions) > shape.positions:
        raise InputError(
            f"positions: {len(account.positions)} positions; "
            f"the portfolio circuit holds {shape.positions}"
        )


@dataclass(frozen=True)
class PortfolioStatement:
    commitment: int
    prices: tuple[int, ...]  # K market prices then M collateral prices
    balances: tuple[int, ...]  # M
    risk_commitment: int
    mode: PortfolioMode
    opening: bool  # modeWord bit 2: entries at marks (mode initial)
    account: int
    nonce: int
    engine: int
    chain_id: int

    def public_signals(self) -> list[int]:
        signals = [self.commitment]
        signals += pack_words(list(self.prices), PRICE_BITS, PRICES_PER_WORD)
        signals += pack_words(list(self.balances), BALANCE_BITS, BALANCES_PER_WORD)
        signals += [
            self.risk_commitment,
            mode_word(self.mode, self.opening),
            self.account | self.nonce << ADDRESS_BITS,
            self.engine | self.chain_id << ADDRESS_BITS,
        ]
        return signals

    @classmethod
    def from_public_signals(
        cls, signals: Sequence[int], shape: RiskShape = DEFAULT_SHAPE
    ) -> PortfolioStatement:
        """Unpack the public signals (their count, every packed word and the mode word
        checked: what does not decode is refused, one line naming the word)."""
        k, m = shape.markets, shape.collateral
        price_words = -(-(k + m) // PRICES_PER_WORD)
        balance_words = -(-m // BALANCES_PER_WORD)
        expected = 1 + price_words + balance_words + 4
        if len(signals) != expected:
            raise InputError(
                f"{PORTFOLIO_CIRCUIT}: expected {expected} public signals, got {len(signals)}"
            )
        pos = 1
        prices = unpack_words(signals[pos : pos + price_words], k + m, PRICE_BITS, PRICES_PER_WORD)
        pos += price_words
        balances = unpack_words(
            signals[pos : pos + balance_words], m, BALANCE_BITS, BALANCES_PER_WORD
        )
        pos += balance_words
        risk_commitment, word, account_word, engine_word = signals[pos : pos + 4]
        mask = 2**ADDRESS_BITS - 1
        mode, opening = mode_from_word(word)
        return cls(
            commitment=signals[0],
            prices=tuple(prices),
            balances=tuple(balances),
            risk_commitment=risk_commitment,
            mode=mode,
            opening=opening,
            account=account_word & mask,
            nonce=account_word >> ADDRESS_BITS,
            engine=engine_word & mask,
            chain_id=engine_word >> ADDRESS_BITS,
        )


# the modeWord of each engine entry point (IPortfolioEngine): open, proveMargin, withdraw
ENGINE_MODES: Final = {
    "open": (PortfolioMode.INITIAL, True),
    "prove": (PortfolioMode.MAINTENANCE, False),
    "withdraw": (PortfolioMode.WITHDRAWAL, False),
}


def normalised_balance(amount: int, decimals: int) -> int:
    """A token amount in 1e-18 token (the engine's ``balanceWords``): amount·10^(18 − d)."""
    if not 0 <= decimals <= BALANCE_DECIMALS:
        raise InputError(f"decimals: {decimals} is outside 0..{BALANCE_DECIMALS}")
    scale: int = 10 ** (BALANCE_DECIMALS - decimals)
    return amount * scale


def engine_public_inputs(
    *,
    commitment: int,
    market_prices: Sequence[int | None],
    collateral_prices: Sequence[int | None],
    balances: Sequence[int],
    risk_commitment: int,
    mode: PortfolioMode,
    opening: bool = False,
    account: int,
    nonce: int,
    engine: int,
    chain_id: int,
    shape: RiskShape = DEFAULT_SHAPE,
) -> list[int]:
    """The public inputs ``PortfolioEngine`` verifies, in its order (IPortfolioEngine):
    commitment, priceWords[0..1], balanceWords, riskCommitment, modeWord, accountNonce,
    engineChain. Prices (1e-8 quote) by market id then asset id; an unlisted slot (``None``
    or past the end of the list) is padded with price 1; balances normalised to 1e-18
    token (:func:`normalised_balance`), 0 past the end. Every value out of its range is an
    :class:`InputError` naming it (the engine could not have built it)."""
    prices = _padded("market_prices", market_prices, shape.markets)
    prices += _padded("collateral_prices", collateral_prices, shape.collateral)
    if len(balances) > shape.collateral:
        raise InputError(f"balances: {len(balances)} given; the circuit has {shape.collateral}")
    padded_balances = [*balances, *([0] * (shape.collateral - len(balances)))]
    for c, bal in enumerate(padded_balances):
        if not 0 <= bal < 2**BALANCE_BITS:
            raise InputError(f"balances[{c}]: {bal} is out of range (0 <= balance < 2^96)")
    for label, value, bits in (
        ("account", account, ADDRESS_BITS),
        ("engine", engine, ADDRESS_BITS),
        ("nonce", nonce, 64),
        ("chain_id", chain_id, 64),
        ("commitment", commitment, SNARK_SCALAR_FIELD.bit_length()),
        ("risk_commitment", risk_commitment, SNARK_SCALAR_FIELD.bit_length()),
    ):
        if not 0 <= value < min(2**bits, SNARK_SCALAR_FIELD):
            raise InputError(f"{label}: {value} is out of range")
    statement = PortfolioStatement(
        commitment=commitment,
        prices=tuple(prices),
        balances=tuple(padded_balances),
        risk_commitment=risk_commitment,
        mode=mode,
        opening=opening,
        account=account,
        nonce=nonce,
        engine=engine,
        chain_id=chain_id,
    )
    return statement.public_signals()


def _padded(label: str, prices: Sequence[int | None], slots: int) -> list[int]:
    if len(prices) > slots:
        raise InputError(f"{label}: {len(prices)} given; the circuit has {slots} slots")
    out = [PAD_PRICE if p is None else p for p in prices] + [PAD_PRICE] * (slots - len(prices))
    for i, price in enumerate(out):
        if not 0 < price < 2**PRICE_BITS:
            raise InputError(f"{label}[{i}]: {price} is out of range (0 < price < 2^64)")
    return out


@dataclass(frozen=True)
class PortfolioEncoded:
    statement: PortfolioStatement
    inputs: dict[str, Any]


def encode_portfolio(
    account: PortfolioAccount,
    risk: RiskFile,
    *,
    mode: PortfolioMode,
    binding: Binding,
    shape: RiskShape = DEFAULT_SHAPE,
    precheck: bool = True,
    opening: bool = False,
) -> PortfolioEncoded:
    """The statement and the full circuit input of ``account`` at the risk file's prices;
    ``opening``: an opening proof (mode initial, every entry at its mark)."""
    if precheck:
        check_provable(account, risk, shape, opening=mode if opening else None)
    markets = list(risk.markets)
    assets = list(risk.collateral)
    prices = [risk.prices[n] for n in markets] + [PAD_PRICE] * (shape.markets - len(markets))
    prices += [risk.prices[n] for n in assets] + [PAD_PRICE] * (shape.collateral - len(assets))
    balances = [account.collateral.get(n, 0) for n in assets]
    balances += [0] * (shape.collateral - len(assets))
    words = risk_words(risk, shape)
    statement = PortfolioStatement(
        commitment=portfolio_commitment(account, risk, shape),
        prices=tuple(prices),
        balances=tuple(balances),
        risk_commitment=words.commitment(shape),
        mode=mode,
        opening=opening,
        account=account.address,
        nonce=binding.nonce,
        engine=binding.engine,
        chain_id=binding.chain_id,
    )
    pad = shape.positions - len(account.positions)
    inputs: dict[str, Any] = {
        "commitment": statement.commitment,
        "priceWords": pack_words(prices, PRICE_BITS, PRICES_PER_WORD),
        "balanceWords": pack_words(balances, BALANCE_BITS, BALANCES_PER_WORD),
        "riskCommitment": statement.risk_commitment,
        "modeWord": mode_word(mode, opening),
        "accountNonce": account.address | binding.nonce << ADDRESS_BITS,
        "engineChain": binding.engine | binding.chain_id << ADDRESS_BITS,
        "instrument": [
            instrument_index(risk, shape, p.option, p.instrument) for p in account.positions
        ]
        + [0] * pad,
        "side": [int(p.long) for p in account.positions] + [0] * pad,
        "size": [p.size for p in account.positions] + [0] * pad,
        "entry": [p.entry for p in account.positions] + [0] * pad,
        "salt": account.salt,
        "riskParams": words.params,
        "riskCholesky": words.cholesky,
        "optionValues": list(words.option_values),
        "optionParams": list(words.option_params),
        "optionKeys": list(words.option_keys),
    }
    assert all(0 <= v < SNARK_SCALAR_FIELD for v in statement.public_signals())
    return PortfolioEncoded(statement=statement, inputs=inputs)
