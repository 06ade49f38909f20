"""Account and market files: strict JSON in, validated model objects out.

Account file (private, mode 0600)::

    {"account": "0x…", "salt": "<decimal>",
     "collateral": {"USDC": "10000"},
     "positions": [{"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "2000"}]}

Market file (public)::

    {"markets": {"ETH-USD": {"mmr_bps": 500, "imr_bps": 1000}},
     "collateral": {"USDC": {"haircut_bps": 0, "decimals": 6}},
     "prices": {"ETH-USD": "1900", "USDC": "1"}}

Every refusal is an :class:`InputError` whose message starts with the file's role and
the JSON path of the field at fault.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from Crypto.Hash import keccak

from zkmargin.amounts import format_fixed, parse_fixed, parse_uint
from zkmargin.errors import InputError
from zkmargin.jsonio import (
    PRIVATE,
    expect_mapping,
    expect_name,
    expect_object,
    read_json_file,
    write_json,
)
from zkmargin.model import Account, CollateralParams, MarketData, MarketParams, Position
from zkmargin.units import (
    ADDRESS_BITS,
    BALANCE_BITS,
    BALANCE_DECIMALS,
    BPS_ONE,
    PRICE_BITS,
    PRICE_DECIMALS,
    SIZE_BITS,
    SIZE_DECIMALS,
    SNARK_SCALAR_FIELD,
    Balance,
    Bps,
    Price,
    Size,
)

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _bps(value: Any, field: str) -> Bps:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{field}: expected an integer number of basis points, got {value!r}")
    if not 0 <= value <= BPS_ONE:
        raise InputError(f"{field}: {value} is out of range (0..{BPS_ONE} basis points)")
    return Bps(value)


# ---------------------------------------------------------------- addresses


def parse_address(value: Any, field: str) -> int:
    """A 20-byte hex address; mixed case must carry a valid EIP-55 checksum."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise InputError(f"{field}: expected a 0x-prefixed 20-byte hex address, got {value!r}")
    body = value[2:]
    address = int(body, 16)
    if body != body.lower() and body != body.upper() and value != format_address(address):
        raise InputError(f"{field}: {value} has a wrong EIP-55 checksum")
    return address


def format_address(address: int) -> str:
    """EIP-55 checksummed hex (pycryptodome's keccak: eth_utils costs ~0.1 s to import)."""
    lower = f"{address:040x}"
    digest = keccak.new(digest_bits=256, data=lower.encode("ascii")).hexdigest()
    return "0x" + "".join(
        c.upper() if c.isalpha() and int(d, 16) >= 8 else c
        for c, d in zip(lower, digest[:40], strict=True)
    )


# ---------------------------------------------------------------- market file


def parse_market_data(data: Any, what: str = "market file") -> MarketData:
    root = expect_object(data, what, {"markets", "collateral", "prices"})
    markets: dict[str, MarketParams] = {}
    raw_markets = expect_mapping(root["markets"], f"{what}: markets")
    if not raw_markets:
        raise InputError(f"{what}: markets: at least one market is required")
    for name, params in raw_markets.items():
        field = f"{what}: markets.{name}"
        expect_name(name, field)
        entry = expect_object(params, field, {"mmr_bps", "imr_bps"})
        mmr = _bps(entry["mmr_bps"], f"{field}.mmr_bps")
        imr = _bps(entry["imr_bps"], f"{field}.imr_bps")
        if mmr == 0:
            raise InputError(
                f"{field}.mmr_bps: must be at least 1 (a zero rate marks an unused slot)"
            )
        if imr < mmr:
            raise InputError(f"{field}: imr_bps ({imr}) must be at least mmr_bps ({mmr})")
        markets[name] = MarketParams(mmr_bps=mmr, imr_bps=imr)

    collateral: dict[str, CollateralParams] = {}
    raw_coll = expect_mapping(root["collateral"], f"{what}: collateral")
    if not raw_coll:
        raise InputError(f"{what}: collateral: at least one collateral asset is required")
    for name, params in raw_coll.items():
        field = f"{what}: collateral.{name}"
        expect_name(name, field)
        if name in markets:
            raise InputError(f"{field}: {name!r} is listed both as a market and as collateral")
        entry = expect_object(
            params, field, {"haircut_bps"}, frozenset({"decimals", "risk_factor"})
        )
        decimals = entry.get("decimals", BALANCE_DECIMALS)
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 18:
            raise InputError(f"{field}.decimals: expected an integer 0..18, got {decimals!r}")
        factor = entry.get("risk_factor")
        if factor is not None and (not isinstance(factor, str) or factor not in markets):
            raise InputError(
                f"{field}.risk_factor: expected the name of a listed market (the one whose "
                f"feed prices {name}), got {factor!r}"
            )
        collateral[name] = CollateralParams(
            haircut_bps=_bps(entry["haircut_bps"], f"{field}.haircut_bps"),
            decimals=decimals,
            risk_factor=factor,
        )

    raw_prices = expect_mapping(root["prices"], f"{what}: prices")
    prices: dict[str, Price] = {}
    for name, value in raw_prices.items():
        field = f"{what}: prices.{name}"
        if name not in markets and name not in collateral:
            raise InputError(f"{field}: unknown market or collateral asset {name!r}")
        prices[name] = Price(
            parse_fixed(value, PRICE_DECIMALS, field=field, bits=PRICE_BITS, positive=True)
        )
    for name in [*markets, *collateral]:
        if name not in prices:
            raise InputError(f"{what}: prices: missing price for {name!r}")
    return MarketData(markets=markets, collateral=collateral, prices=prices)


def load_market_data(path: Path) -> MarketData:
    return parse_market_data(read_json_file(path, "market file"), f"market file {path}")


# ---------------------------------------------------------------- account file


def parse_owner(root: dict[str, Any], what: str) -> tuple[int, int]:
    """An account file's ``account`` address and ``salt`` (in [1, r))."""
    address = parse_address(root["account"], f"{what}: account")
    salt = parse_uint(root["salt"], field=f"{what}: salt", bits=254, positive=True)
    if salt >= SNARK_SCALAR_FIELD:
        raise InputError(f"{what}: salt: must be below the field modulus r")
    return address, salt


def parse_collateral(raw: Any, decimals: Mapping[str, int] | None, what: str) -> dict[str, Balance]:
    """An account file's ``collateral``: token amounts normalised to 1e-18 (< 2^96).

    ``decimals`` maps each listed asset to its token decimals; with it, an unlisted asset
    is refused by name; without it, amounts are read at 18 decimals.
    """
    collateral: dict[str, Balance] = {}
    for asset, amount in expect_mapping(raw, f"{what}: collateral").items():
        field = f"{what}: collateral.{asset}"
        places = BALANCE_DECIMALS
        if decimals is not None:
            if asset not in decimals:
                raise InputError(f"{field}: unknown collateral asset {asset!r}")
            places = decimals[asset]
        tokens = parse_fixed(amount, places, field=field, bits=BALANCE_BITS, positive=False)
        balance = tokens * 10 ** (BALANCE_DECIMALS - places)
        if balance >= 2**BALANCE_BITS:
            raise InputError(f"{field}: {amount} is out of range (< 2^{BALANCE_BITS} x 1e-18)")
        collateral[expect_name(asset, field)] = Balance(balance)
    return collateral


def parse_account(data: Any, market_data: MarketData | None, what: str = "account file") -> Account:
    """Validate an account file; with ``market_data``, also check every name is listed."""
    root = expect_object(data, what, {"account", "salt", "collateral", "positions"})
    address, salt = parse_owner(root, what)
    decimals = (
        {a: c.decimals for a, c in market_data.collateral.items()}
        if market_data is not None
        else None
    )
    collateral = parse_collateral(root["collateral"], decimals, what)

    raw_positions = root["positions"]
    if not isinstance(raw_positions, list):
        raise InputError(f"{what}: positions: expected a JSON array")
    positions = []
    for i, raw in enumerate(raw_positions):
        field = f"{what}: positions[{i}]"
        entry = expect_object(raw, field, {"market", "side", "size", "entry_price"})
        market = entry["market"]
        if not isinstance(market, str):
            raise InputError(f"{field}.market: expected a market name string")
        if market_data is not None and market not in market_data.markets:
            raise InputError(f"{field}.market: unknown market {market!r}")
        side = entry["side"]
        if side not in ("long", "short"):
            raise InputError(f'{field}.side: expected "long" or "short", got {side!r}')
        positions.append(
            Position(
                market=expect_name(market, f"{field}.market"),
                long=side == "long",
                size=Size(
                    parse_fixed(
                        entry["size"],
                        SIZE_DECIMALS,
                        field=f"{field}.size",
                        bits=SIZE_BITS,
                        positive=False,
                    )
                ),
                entry_price=Price(
                    parse_fixed(
                        entry["entry_price"],
                        PRICE_DECIMALS,
                        field=f"{field}.entry_price",
                        bits=PRICE_BITS,
                        positive=True,
                    )
                ),
            )
        )
    return Account(address=address, salt=salt, collateral=collateral, positions=tuple(positions))


def load_account(path: Path, market_data: MarketData | None = None) -> Account:
    return parse_account(read_json_file(path, "account file"), market_data, f"account file {path}")


def account_to_json(account: Account) -> dict[str, Any]:
    return {
        "account": format_address(account.address),
        "salt": str(account.salt),
        "collateral": {
            asset: format_fixed(bal, BALANCE_DECIMALS) for asset, bal in account.collateral.items()
        },
        "positions": [
            {
                "market": p.market,
                "side": "long" if p.long else "short",
                "size": format_fixed(p.size, SIZE_DECIMALS),
                "entry_price": format_fixed(p.entry_price, PRICE_DECIMALS),
            }
            for p in account.positions
        ],
    }


def fresh_salt() -> int:
    """A uniformly random salt in [1, r) from the OS CSPRNG."""
    return 1 + secrets.randbelow(SNARK_SCALAR_FIELD - 1)


def new_account(
    address: int | None = None,
    collateral: Mapping[str, Balance] | None = None,
    positions: tuple[Position, ...] = (),
) -> Account:
    if address is None:
        address = secrets.randbits(ADDRESS_BITS)
    return Account(
        address=address, salt=fresh_salt(), collateral=dict(collateral or {}), positions=positions
    )


def save_account(path: Path, account: Account, *, overwrite: bool = False) -> None:
    """Write ``account`` to its private file (mode 0600, atomically).

    A new file by default: an existing one is refused, since it may hold the only copy of
    another account's salt. ``overwrite=True`` replaces it (after an ``open`` plan fixes
    the entry prices, say), never leaving a partial file.
    """
    write_json(path, account_to_json(account), mode=PRIVATE, exclusive=not overwrite)
