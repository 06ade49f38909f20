"""Account and market files (zkmargin.accounts): every refusal names its field.

Each refusal is an InputError whose one-line message starts with the file's role and
names the JSON path at fault (``account file: positions[0].size: ...``).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eth_utils import to_checksum_address

from zkmargin.accounts import (
    account_to_json,
    format_address,
    fresh_salt,
    load_account,
    load_market_data,
    new_account,
    parse_account,
    parse_address,
    parse_market_data,
)
from zkmargin.errors import InputError
from zkmargin.jsonio import MAX_FILE_BYTES, parse_json, read_json_file
from zkmargin.units import SNARK_SCALAR_FIELD

R = SNARK_SCALAR_FIELD
BIG_JSON_INT = 2**53 + 1
ADDRESS_LOWER = "0x" + "ab" * 20
ADDRESS_CHECKSUM = to_checksum_address(ADDRESS_LOWER)  # mixed case

MARKETS: dict[str, Any] = {
    "markets": {
        "ETH-USD": {"mmr_bps": 500, "imr_bps": 1000},
        "BTC-USD": {"mmr_bps": 400, "imr_bps": 800},
    },
    "collateral": {
        "USDC": {"haircut_bps": 0, "decimals": 6},
        "WETH": {"haircut_bps": 1000, "decimals": 18},
    },
    "prices": {"ETH-USD": "1900", "BTC-USD": "60000", "USDC": "1", "WETH": "1900"},
}

ACCOUNT: dict[str, Any] = {
    "account": ADDRESS_CHECKSUM,
    "salt": "12345",
    "collateral": {"USDC": "10000", "WETH": "1.5"},
    "positions": [
        {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "2000"},
        {"market": "BTC-USD", "side": "short", "size": "0.1", "entry_price": "61000.5"},
    ],
}


def markets() -> dict[str, Any]:
    return copy.deepcopy(MARKETS)


def account() -> dict[str, Any]:
    return copy.deepcopy(ACCOUNT)


MARKET_DATA = parse_market_data(MARKETS)


def with_value(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Copy of ``base`` with ``value`` at dotted ``path`` (list indices as digits)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def without(base: dict[str, Any], path: str) -> dict[str, Any]:
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[last]
    return data


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    return message


# ================================================================ market file: valid


def test_example_market_file_loads() -> None:
    root = Path(__file__).resolve().parent.parent
    data = load_market_data(root / "examples" / "markets.json")
    assert list(data.markets) == ["ETH-USD", "BTC-USD"]
    assert data.prices["ETH-USD"] == 1900 * 10**8
    assert data.collateral["USDC"].decimals == 6


def test_market_data_values() -> None:
    data = parse_market_data(MARKETS)
    assert data.markets["ETH-USD"].mmr_bps == 500
    assert data.markets["ETH-USD"].imr_bps == 1000
    assert data.collateral["WETH"].haircut_bps == 1000
    assert data.prices["BTC-USD"] == 60000 * 10**8
    assert data.prices["USDC"] == 10**8


def test_market_bps_bounds_accepted() -> None:
    data = with_value(MARKETS, "markets.ETH-USD", {"mmr_bps": 1, "imr_bps": 1})
    data = with_value(data, "markets.BTC-USD", {"mmr_bps": 10000, "imr_bps": 10000})
    data = with_value(data, "collateral.USDC.haircut_bps", 10000)
    parsed = parse_market_data(data)
    assert parsed.markets["BTC-USD"].imr_bps == 10000
    assert parsed.markets["ETH-USD"].mmr_bps == 1
    assert parsed.collateral["USDC"].haircut_bps == 10000


def test_market_imr_equal_mmr_accepted() -> None:
    data = with_value(MARKETS, "markets.ETH-USD", {"mmr_bps": 700, "imr_bps": 700})
    assert parse_market_data(data).markets["ETH-USD"].imr_bps == 700


def test_collateral_decimals_default_to_18() -> None:
    data = without(MARKETS, "collateral.WETH.decimals")
    assert parse_market_data(data).collateral["WETH"].decimals == 18


def test_price_at_64_bit_bound() -> None:
    ok = with_value(MARKETS, "prices.BTC-USD", "184467440737.09551615")
    assert parse_market_data(ok).prices["BTC-USD"] == 2**64 - 1
    bad = with_value(MARKETS, "prices.BTC-USD", "184467440737.09551616")
    assert "prices.BTC-USD" in refusal(lambda: parse_market_data(bad))


# ================================================================ market file: refused

MARKET_REFUSALS: list[tuple[str, Callable[[], Any], str]] = [
    ("root-array", lambda: [], "market file: expected a JSON object"),
    ("root-string", lambda: "markets", "market file: expected a JSON object"),
    ("missing-prices", lambda: without(MARKETS, "prices"), "missing field 'prices'"),
    ("missing-markets", lambda: without(MARKETS, "markets"), "missing field 'markets'"),
    ("unknown-root", lambda: {**markets(), "extra": 1}, "unknown field 'extra'"),
    ("markets-array", lambda: with_value(MARKETS, "markets", []), "markets: expected a JSON"),
    ("markets-empty", lambda: with_value(MARKETS, "markets", {}), "markets: at least one"),
    (
        "market-name-space",
        lambda: {**markets(), "markets": {"ETH USD": {"mmr_bps": 1, "imr_bps": 1}}},
        "markets.ETH USD",
    ),
    (
        "market-name-empty",
        lambda: {**markets(), "markets": {"": {"mmr_bps": 1, "imr_bps": 1}}},
        "not a valid name",
    ),
    (
        "market-name-too-long",
        lambda: {**markets(), "markets": {"X" * 33: {"mmr_bps": 1, "imr_bps": 1}}},
        "markets." + "X" * 33,
    ),
    (
        "market-params-not-object",
        lambda: with_value(MARKETS, "markets.ETH-USD", [500, 1000]),
        "markets.ETH-USD: expected a JSON object",
    ),
    (
        "market-missing-imr",
        lambda: without(MARKETS, "markets.ETH-USD.imr_bps"),
        "markets.ETH-USD: missing field 'imr_bps'",
    ),
    (
        "market-unknown-field",
        lambda: with_value(MARKETS, "markets.ETH-USD.leverage", 10),
        "markets.ETH-USD: unknown field 'leverage'",
    ),
    (
        "mmr-10001",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", 10001),
        "markets.ETH-USD.mmr_bps: 10001 is out of range",
    ),
    (
        # a zero rate marks an unused circuit slot, so a listed market needs mmr >= 1
        "mmr-0",
        lambda: with_value(MARKETS, "markets.ETH-USD", {"mmr_bps": 0, "imr_bps": 0}),
        "markets.ETH-USD.mmr_bps",
    ),
    (
        "mmr-negative",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", -1),
        "markets.ETH-USD.mmr_bps: -1 is out of range",
    ),
    (
        "mmr-big-int",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", BIG_JSON_INT),
        "markets.ETH-USD.mmr_bps",
    ),
    (
        "mmr-string",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", "500"),
        "markets.ETH-USD.mmr_bps: expected an integer",
    ),
    (
        "mmr-float",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", 500.0),
        "markets.ETH-USD.mmr_bps: expected an integer",
    ),
    (
        "mmr-bool",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", True),
        "markets.ETH-USD.mmr_bps: expected an integer",
    ),
    (
        "mmr-null",
        lambda: with_value(MARKETS, "markets.ETH-USD.mmr_bps", None),
        "markets.ETH-USD.mmr_bps",
    ),
    (
        "imr-10001",
        lambda: with_value(MARKETS, "markets.BTC-USD.imr_bps", 10001),
        "markets.BTC-USD.imr_bps: 10001 is out of range",
    ),
    (
        "imr-below-mmr",
        lambda: with_value(MARKETS, "markets.ETH-USD.imr_bps", 499),
        "markets.ETH-USD: imr_bps (499) must be at least mmr_bps (500)",
    ),
    (
        "collateral-array",
        lambda: with_value(MARKETS, "collateral", ["USDC"]),
        "collateral: expected a JSON object",
    ),
    (
        "collateral-empty",
        lambda: with_value(MARKETS, "collateral", {}),
        "collateral: at least one",
    ),
    (
        "collateral-also-market",
        lambda: with_value(MARKETS, "collateral.ETH-USD", {"haircut_bps": 0}),
        "collateral.ETH-USD: 'ETH-USD' is listed both as a market and as collateral",
    ),
    (
        "collateral-missing-haircut",
        lambda: without(MARKETS, "collateral.USDC.haircut_bps"),
        "collateral.USDC: missing field 'haircut_bps'",
    ),
    (
        "collateral-unknown-field",
        lambda: with_value(MARKETS, "collateral.USDC.symbol", "USDC"),
        "collateral.USDC: unknown field 'symbol'",
    ),
    (
        "haircut-10001",
        lambda: with_value(MARKETS, "collateral.USDC.haircut_bps", 10001),
        "collateral.USDC.haircut_bps: 10001 is out of range",
    ),
    (
        "haircut-negative",
        lambda: with_value(MARKETS, "collateral.WETH.haircut_bps", -1),
        "collateral.WETH.haircut_bps: -1 is out of range",
    ),
    (
        "decimals-19",
        lambda: with_value(MARKETS, "collateral.USDC.decimals", 19),
        "collateral.USDC.decimals: expected an integer 0..18",
    ),
    (
        "decimals-negative",
        lambda: with_value(MARKETS, "collateral.USDC.decimals", -1),
        "collateral.USDC.decimals",
    ),
    (
        "decimals-string",
        lambda: with_value(MARKETS, "collateral.USDC.decimals", "6"),
        "collateral.USDC.decimals",
    ),
    (
        "decimals-bool",
        lambda: with_value(MARKETS, "collateral.USDC.decimals", True),
        "collateral.USDC.decimals",
    ),
    (
        "prices-array",
        lambda: with_value(MARKETS, "prices", ["1900"]),
        "prices: expected a JSON object",
    ),
    (
        "price-unknown-name",
        lambda: with_value(MARKETS, "prices.DOGE-USD", "0.1"),
        "prices.DOGE-USD: unknown market or collateral asset 'DOGE-USD'",
    ),
    (
        "price-missing",
        lambda: without(MARKETS, "prices.BTC-USD"),
        "prices: missing price for 'BTC-USD'",
    ),
    (
        "price-missing-collateral",
        lambda: without(MARKETS, "prices.WETH"),
        "prices: missing price for 'WETH'",
    ),
    ("price-zero", lambda: with_value(MARKETS, "prices.BTC-USD", "0"), "prices.BTC-USD: must be"),
    ("price-negative", lambda: with_value(MARKETS, "prices.BTC-USD", "-1"), "prices.BTC-USD"),
    ("price-json-int", lambda: with_value(MARKETS, "prices.BTC-USD", 60000), "prices.BTC-USD"),
    ("price-float", lambda: with_value(MARKETS, "prices.BTC-USD", 60000.5), "prices.BTC-USD"),
    (
        "price-big-json-int",
        lambda: with_value(MARKETS, "prices.BTC-USD", BIG_JSON_INT),
        "prices.BTC-USD: expected a decimal string",
    ),
    ("price-exponent", lambda: with_value(MARKETS, "prices.BTC-USD", "6e4"), "prices.BTC-USD"),
    (
        "price-9-decimals",
        lambda: with_value(MARKETS, "prices.ETH-USD", "1900.000000001"),
        "prices.ETH-USD: 1900.000000001 has more than 8 decimals",
    ),
    ("price-null", lambda: with_value(MARKETS, "prices.USDC", None), "prices.USDC"),
]


@pytest.mark.parametrize(
    ("build", "fragment"),
    [pytest.param(build, fragment, id=name) for name, build, fragment in MARKET_REFUSALS],
)
def test_market_file_refusals_name_the_field(build: Callable[[], Any], fragment: str) -> None:
    message = refusal(lambda: parse_market_data(build()))
    assert message.startswith("market file"), message
    assert fragment in message, message


def test_market_file_message_carries_path(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(with_value(MARKETS, "markets.ETH-USD.mmr_bps", 10001)))
    message = refusal(lambda: load_market_data(path))
    assert message.startswith(f"market file {path}: markets.ETH-USD.mmr_bps:"), message


# ================================================================ account file: valid


def test_account_values() -> None:
    acct = parse_account(ACCOUNT, MARKET_DATA)
    assert acct.address == int(ADDRESS_LOWER, 16)
    assert acct.salt == 12345
    assert acct.collateral == {"USDC": 10000 * 10**18, "WETH": 15 * 10**17}
    eth, btc = acct.positions
    assert (eth.market, eth.long, eth.size, eth.entry_price) == (
        "ETH-USD",
        True,
        5 * 10**8,
        2000 * 10**8,
    )
    assert (btc.market, btc.long, btc.size, btc.entry_price) == (
        "BTC-USD",
        False,
        10**7,
        6_100_050_000_000,
    )


def test_account_round_trips_through_json() -> None:
    acct = parse_account(ACCOUNT, MARKET_DATA)
    again = parse_account(account_to_json(acct), MARKET_DATA)
    assert again == acct
    assert account_to_json(acct)["account"] == ADDRESS_CHECKSUM


def test_account_without_positions_or_collateral() -> None:
    data = with_value(with_value(ACCOUNT, "positions", []), "collateral", {})
    acct = parse_account(data, MARKET_DATA)
    assert acct.positions == () and dict(acct.collateral) == {}


def test_account_zero_size_position_accepted() -> None:
    data = with_value(ACCOUNT, "positions.0.size", "0")
    assert parse_account(data, MARKET_DATA).positions[0].size == 0


@pytest.mark.parametrize("salt", ["1", "2", str(R - 1), str(R - 2), str(2**253)])
def test_salt_accepted(salt: str) -> None:
    assert parse_account(with_value(ACCOUNT, "salt", salt), MARKET_DATA).salt == int(salt)


def test_without_market_data_names_are_not_checked() -> None:
    data = with_value(ACCOUNT, "collateral", {"DAI": "1.000000000000000001"})
    data = with_value(data, "positions.0.market", "DOGE-USD")
    acct = parse_account(data, None)
    assert acct.collateral == {"DAI": 10**18 + 1}
    assert acct.positions[0].market == "DOGE-USD"
    assert "collateral.DAI" in refusal(lambda: parse_account(data, MARKET_DATA))


def test_token_decimals() -> None:
    """USDC has 6 decimals: 1e-6 is the smallest amount, 1e-7 cannot exist."""
    ok = parse_account(with_value(ACCOUNT, "collateral.USDC", "0.000001"), MARKET_DATA)
    assert ok.collateral["USDC"] == 10**12
    trailing = parse_account(with_value(ACCOUNT, "collateral.USDC", "0.0000010"), MARKET_DATA)
    assert trailing.collateral["USDC"] == 10**12
    message = refusal(
        lambda: parse_account(with_value(ACCOUNT, "collateral.USDC", "0.0000001"), MARKET_DATA)
    )
    assert "account file: collateral.USDC:" in message
    assert "more than 6 decimals" in message


def test_balance_at_96_bit_bound() -> None:
    max18 = "79228162514.264337593543950335"  # (2**96 - 1) * 1e-18
    at18 = "79228162514.264337593543950336"  # 2**96 * 1e-18
    acct = parse_account(with_value(ACCOUNT, "collateral.WETH", max18), MARKET_DATA)
    assert acct.collateral["WETH"] == 2**96 - 1
    message = refusal(
        lambda: parse_account(with_value(ACCOUNT, "collateral.WETH", at18), MARKET_DATA)
    )
    assert "collateral.WETH" in message and "out of range" in message


def test_balance_bound_after_normalising_token_decimals() -> None:
    """6-decimal tokens are scaled by 1e12 to 1e-18 units; the 2^96 bound applies after."""
    below = "79228162514.264337"  # * 1e18 < 2**96
    above = "79228162514.264338"  # * 1e18 > 2**96, though only ~2**56 token units
    acct = parse_account(with_value(ACCOUNT, "collateral.USDC", below), MARKET_DATA)
    assert acct.collateral["USDC"] == 79228162514264337 * 10**12
    assert acct.collateral["USDC"] < 2**96
    message = refusal(
        lambda: parse_account(with_value(ACCOUNT, "collateral.USDC", above), MARKET_DATA)
    )
    assert "collateral.USDC" in message and "out of range" in message


@pytest.mark.parametrize(
    "address", [ADDRESS_LOWER, ADDRESS_CHECKSUM, "0x" + "AB" * 20, "0x" + "00" * 20]
)
def test_address_accepted(address: str) -> None:
    assert parse_address(address, "account") == int(address[2:], 16)


def test_format_address_is_checksummed() -> None:
    assert format_address(int(ADDRESS_LOWER, 16)) == ADDRESS_CHECKSUM
    assert format_address(0) == "0x" + "0" * 40


# ================================================================ account file: refused


def _bad_checksum() -> str:
    # flip the case of one letter of a valid mixed-case checksummed address
    body = list(ADDRESS_CHECKSUM[2:])
    i = next(i for i, ch in enumerate(body) if ch.isalpha())
    body[i] = body[i].swapcase()
    return "0x" + "".join(body)


ACCOUNT_REFUSALS: list[tuple[str, Callable[[], Any], str]] = [
    ("root-array", lambda: [ACCOUNT], "account file: expected a JSON object"),
    ("root-null", lambda: None, "account file: expected a JSON object"),
    ("missing-salt", lambda: without(ACCOUNT, "salt"), "account file: missing field 'salt'"),
    ("missing-account", lambda: without(ACCOUNT, "account"), "missing field 'account'"),
    ("missing-positions", lambda: without(ACCOUNT, "positions"), "missing field 'positions'"),
    ("unknown-root", lambda: {**account(), "nonce": "1"}, "unknown field 'nonce'"),
    # account (address)
    ("address-short", lambda: with_value(ACCOUNT, "account", "0x1234"), "account: expected"),
    (
        "address-41-hex",
        lambda: with_value(ACCOUNT, "account", ADDRESS_LOWER + "a"),
        "account: expected a 0x-prefixed 20-byte hex address",
    ),
    (
        "address-39-hex",
        lambda: with_value(ACCOUNT, "account", ADDRESS_LOWER[:-1]),
        "account: expected a 0x-prefixed 20-byte hex address",
    ),
    ("address-no-0x", lambda: with_value(ACCOUNT, "account", "ab" * 20), "account: expected"),
    ("address-0X", lambda: with_value(ACCOUNT, "account", "0X" + "ab" * 20), "account: expected"),
    ("address-not-hex", lambda: with_value(ACCOUNT, "account", "0x" + "zz" * 20), "account:"),
    ("address-int", lambda: with_value(ACCOUNT, "account", 123), "account: expected"),
    (
        "address-spaces",
        lambda: with_value(ACCOUNT, "account", " " + ADDRESS_LOWER),
        "account: expected",
    ),
    (
        "address-bad-checksum",
        lambda: with_value(ACCOUNT, "account", _bad_checksum()),
        "account: " + _bad_checksum() + " has a wrong EIP-55 checksum",
    ),
    # salt
    ("salt-0", lambda: with_value(ACCOUNT, "salt", "0"), "salt: must be greater than zero"),
    ("salt-r", lambda: with_value(ACCOUNT, "salt", str(R)), "salt: must be below the field"),
    ("salt-r+1", lambda: with_value(ACCOUNT, "salt", str(R + 1)), "salt: must be below"),
    ("salt-2^254", lambda: with_value(ACCOUNT, "salt", str(2**254)), "salt:"),
    ("salt-negative", lambda: with_value(ACCOUNT, "salt", "-1"), "salt: expected a decimal"),
    ("salt-json-int", lambda: with_value(ACCOUNT, "salt", 12345), "salt: expected a decimal"),
    (
        "salt-big-json-int",
        lambda: with_value(ACCOUNT, "salt", BIG_JSON_INT),
        "salt: expected a decimal",
    ),
    ("salt-exponent", lambda: with_value(ACCOUNT, "salt", "1e5"), "salt: expected a decimal"),
    ("salt-leading-zero", lambda: with_value(ACCOUNT, "salt", "012"), "salt: expected"),
    ("salt-hex", lambda: with_value(ACCOUNT, "salt", "0x10"), "salt: expected"),
    ("salt-fraction", lambda: with_value(ACCOUNT, "salt", "1.0"), "salt: expected"),
    ("salt-null", lambda: with_value(ACCOUNT, "salt", None), "salt: expected"),
    # collateral
    ("collateral-array", lambda: with_value(ACCOUNT, "collateral", []), "collateral: expected"),
    (
        "collateral-unknown-asset",
        lambda: with_value(ACCOUNT, "collateral.DAI", "1"),
        "collateral.DAI: unknown collateral asset 'DAI'",
    ),
    (
        "collateral-market-name",
        lambda: with_value(ACCOUNT, "collateral.ETH-USD", "1"),
        "collateral.ETH-USD: unknown collateral asset",
    ),
    ("collateral-negative", lambda: with_value(ACCOUNT, "collateral.USDC", "-5"), "ral.USDC:"),
    (
        "collateral-json-int",
        lambda: with_value(ACCOUNT, "collateral.USDC", 10000),
        "collateral.USDC: expected a decimal string",
    ),
    (
        "collateral-big-json-int",
        lambda: with_value(ACCOUNT, "collateral.USDC", BIG_JSON_INT),
        "collateral.USDC: expected a decimal string",
    ),
    (
        "collateral-float",
        lambda: with_value(ACCOUNT, "collateral.WETH", 1.5),
        "collateral.WETH: expected a decimal string",
    ),
    ("collateral-exponent", lambda: with_value(ACCOUNT, "collateral.USDC", "1e4"), "al.USDC:"),
    (
        "collateral-7-decimals-usdc",
        lambda: with_value(ACCOUNT, "collateral.USDC", "1.0000001"),
        "collateral.USDC: 1.0000001 has more than 6 decimals",
    ),
    (
        "collateral-19-decimals-weth",
        lambda: with_value(ACCOUNT, "collateral.WETH", "0.0000000000000000001"),
        "collateral.WETH",
    ),
    # positions
    ("positions-object", lambda: with_value(ACCOUNT, "positions", {}), "positions: expected"),
    ("positions-null", lambda: with_value(ACCOUNT, "positions", None), "positions: expected"),
    (
        "position-not-object",
        lambda: with_value(ACCOUNT, "positions.0", "ETH-USD"),
        "positions[0]: expected a JSON object",
    ),
    (
        "position-missing-side",
        lambda: without(ACCOUNT, "positions.0.side"),
        "positions[0]: missing field 'side'",
    ),
    (
        "position-unknown-field",
        lambda: with_value(ACCOUNT, "positions.1.leverage", "10"),
        "positions[1]: unknown field 'leverage'",
    ),
    (
        "position-unknown-market",
        lambda: with_value(ACCOUNT, "positions.0.market", "XRP-USD"),
        "positions[0].market: unknown market 'XRP-USD'",
    ),
    (
        "position-collateral-as-market",
        lambda: with_value(ACCOUNT, "positions.1.market", "USDC"),
        "positions[1].market: unknown market 'USDC'",
    ),
    (
        "position-market-int",
        lambda: with_value(ACCOUNT, "positions.0.market", 1),
        "positions[0].market",
    ),
    (
        "position-side-upper",
        lambda: with_value(ACCOUNT, "positions.0.side", "LONG"),
        'positions[0].side: expected "long" or "short"',
    ),
    ("position-side-buy", lambda: with_value(ACCOUNT, "positions.1.side", "buy"), "[1].side"),
    ("position-side-bool", lambda: with_value(ACCOUNT, "positions.0.side", True), "[0].side"),
    ("position-side-list", lambda: with_value(ACCOUNT, "positions.0.side", ["long"]), "].side"),
    (
        "size-negative",
        lambda: with_value(ACCOUNT, "positions.0.size", "-1"),
        "positions[0].size: '-1' is not a plain decimal",
    ),
    (
        "size-json-int",
        lambda: with_value(ACCOUNT, "positions.0.size", 5),
        "positions[0].size: expected a decimal string",
    ),
    (
        "size-big-json-int",
        lambda: with_value(ACCOUNT, "positions.0.size", BIG_JSON_INT),
        "positions[0].size: expected a decimal string",
    ),
    (
        "size-float",
        lambda: with_value(ACCOUNT, "positions.1.size", 0.1),
        "positions[1].size: expected a decimal string",
    ),
    ("size-exponent", lambda: with_value(ACCOUNT, "positions.0.size", "5e0"), "[0].size:"),
    (
        "size-9-decimals",
        lambda: with_value(ACCOUNT, "positions.1.size", "0.100000001"),
        "positions[1].size: 0.100000001 has more than 8 decimals",
    ),
    (
        "size-2^64-units",
        lambda: with_value(ACCOUNT, "positions.0.size", "184467440737.09551616"),
        "positions[0].size: 184467440737.09551616 is out of range",
    ),
    (
        "entry-zero",
        lambda: with_value(ACCOUNT, "positions.0.entry_price", "0"),
        "positions[0].entry_price: must be greater than zero",
    ),
    (
        "entry-2^64-units",
        lambda: with_value(ACCOUNT, "positions.1.entry_price", "184467440737.09551616"),
        "positions[1].entry_price",
    ),
    (
        "entry-json-int",
        lambda: with_value(ACCOUNT, "positions.0.entry_price", 2000),
        "positions[0].entry_price: expected a decimal string",
    ),
]


@pytest.mark.parametrize(
    ("build", "fragment"),
    [pytest.param(build, fragment, id=name) for name, build, fragment in ACCOUNT_REFUSALS],
)
def test_account_file_refusals_name_the_field(build: Callable[[], Any], fragment: str) -> None:
    message = refusal(lambda: parse_account(build(), MARKET_DATA))
    assert message.startswith("account file"), message
    assert fragment in message, message


def test_account_file_message_carries_path(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    path.write_text(json.dumps(with_value(ACCOUNT, "positions.0.size", "5e0")))
    message = refusal(lambda: load_account(path, MARKET_DATA))
    assert message.startswith(f"account file {path}: positions[0].size:"), message


def test_account_huge_salt_is_input_error() -> None:
    """Bug: a 5000-digit salt raises CPython's ValueError, not an InputError naming salt."""
    message = refusal(lambda: parse_account(with_value(ACCOUNT, "salt", "9" * 5000), None))
    assert "salt" in message


# ================================================================ parse_json: strict JSON


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": {"b": 1, "b": 1}}', "duplicate key 'b'"),
        ('[{"x": "1", "x": "1"}]', "duplicate key 'x'"),
        ('{"a": 1.5}', "JSON number 1.5 is not allowed"),
        ('{"a": 1.0}', "JSON number 1.0 is not allowed"),
        ('{"a": 1e3}', "JSON number 1e3 is not allowed"),
        ('{"a": 1E3}', "JSON number 1E3 is not allowed"),
        ('{"a": -0.0}', "JSON number -0.0 is not allowed"),
        ('{"a": NaN}', "NaN is not valid JSON"),
        ('{"a": Infinity}', "Infinity is not valid JSON"),
        ('{"a": -Infinity}', "-Infinity is not valid JSON"),
        ("", "file is empty"),
        ("   \n\t", "file is empty"),
        ('{"account": "0x', "not valid JSON (line 1"),
        ('{"a": 1,}', "not valid JSON"),
        ("{'a': 1}", "not valid JSON"),
        ('{"a": 1} {"b": 2}', "not valid JSON"),
        ('{"a": 01}', "not valid JSON"),
        ('{"a": +1}', "not valid JSON"),
        ('{"a": 0x10}', "not valid JSON"),
        ('{"a": "tab\there"}', "not valid JSON"),
        ('{"a": 1} // comment', "not valid JSON"),
        ("\ufeff{}", "not valid JSON"),
    ],
    ids=repr,
)
def test_parse_json_refusals(text: str, fragment: str) -> None:
    message = refusal(lambda: parse_json(text, "account file x.json"))
    assert message.startswith("account file x.json: "), message
    assert fragment in message, message


def test_parse_json_reports_line_and_column() -> None:
    message = refusal(lambda: parse_json('{\n  "a": "1",\n  "b": \n', "market file m.json"))
    assert "line 4" in message or "line 3" in message


def test_parse_json_big_ints_stay_exact_ints() -> None:
    # integers above 2**53 are parsed exactly (Python int), then refused by the field parser
    assert parse_json(f'{{"a": {2**64 + 1}}}', "x") == {"a": 2**64 + 1}


def test_duplicate_key_in_account_file_text() -> None:
    text = json.dumps(ACCOUNT).replace('"WETH": "1.5"', '"USDC": "1.5"')
    assert text.count('"USDC"') == 2
    message = refusal(lambda: parse_json(text, "account file"))
    assert "duplicate key 'USDC'" in message


def test_float_amount_in_account_file_text() -> None:
    text = json.dumps(ACCOUNT).replace('"size": "5"', '"size": 5.0')
    message = refusal(lambda: parse_json(text, "account file"))
    assert "5.0" in message and "decimal strings" in message


def test_parse_json_huge_int_literal_is_input_error() -> None:
    """Bug (zkmargin/jsonio.py parse_json): a JSON integer with >4300 digits makes
    ``json.loads`` raise a plain ValueError (CPython's int-digit limit) that escapes
    parse_json; the CLI then reports an internal error (exit 70). Catch ValueError too
    (or pass ``parse_int`` that refuses more than, say, 80 digits)."""
    text = '{"salt": ' + "1" * 5000 + "}"
    message = refusal(lambda: parse_json(text, "account file"))
    assert message.startswith("account file: ")


def test_parse_json_deep_nesting_does_not_crash() -> None:
    """Bug (zkmargin/jsonio.py parse_json): importing py_ecc raises the recursion limit to
    100000, so json.loads of a 100 KB file of ``[[[[…`` overflows the C stack and the
    process dies with SIGSEGV (CLI exit 139). Run in a subprocess so pytest survives.
    Fix: refuse nesting deeper than e.g. 64 before json.loads (scan brackets outside
    strings), or lower the recursion limit around json.loads and catch RecursionError."""
    script = (
        "from zkmargin.jsonio import parse_json\n"
        "from zkmargin.errors import InputError\n"
        "import py_ecc  # noqa: F401  (the CLI imports it; it raises the recursion limit)\n"
        "for text in ['[' * 100000, '{\"a\":' * 50000]:\n"
        "    try:\n"
        "        parse_json(text, 'account file')\n"
        "    except InputError as exc:\n"
        "        print('refused', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.count("refused account file:") == 2


# ================================================================ read_json_file


def test_read_json_file_ok(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps(ACCOUNT))
    assert read_json_file(path, "account file") == ACCOUNT


def test_read_json_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    assert refusal(lambda: read_json_file(path, "account file")) == (
        f"account file {path}: no such file"
    )


def test_read_json_file_directory(tmp_path: Path) -> None:
    assert "is a directory" in refusal(lambda: read_json_file(tmp_path, "account file"))


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe{}", b'{"salt": "\xe9"}', b'{"a": "\xc3"}', "{}".encode("utf-16")]
)
def test_read_json_file_not_utf8(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(raw)
    assert refusal(lambda: read_json_file(path, "account file")) == (
        f"account file {path}: not UTF-8 text"
    )


def test_read_json_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    assert refusal(lambda: read_json_file(path, "market file")) == (
        f"market file {path}: file is empty"
    )


@pytest.mark.parametrize("cut", [1, 10, 50, 100])
def test_read_json_file_truncated(tmp_path: Path, cut: int) -> None:
    text = json.dumps(ACCOUNT, indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[:cut])
    message = refusal(lambda: read_json_file(path, "account file"))
    assert message.startswith(f"account file {path}: not valid JSON (line ")


def test_read_json_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('"' + "a" * MAX_FILE_BYTES + '"')
    message = refusal(lambda: read_json_file(path, "account file"))
    assert message == f"account file {path}: larger than {MAX_FILE_BYTES} bytes"


def test_read_json_file_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.json"
    path.write_text("{}")

    def denied(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    message = refusal(lambda: read_json_file(path, "account file"))
    assert message == f"account file {path}: cannot read (Permission denied)"


def test_load_account_duplicate_key_file(tmp_path: Path) -> None:
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(ACCOUNT)[:-1] + ', "salt": "7"}')
    message = refusal(lambda: load_account(path, MARKET_DATA))
    assert message.startswith(f"account file {path}: ")
    assert "duplicate key 'salt'" in message


def test_load_market_float_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(MARKETS).replace('"60000"', "60000.0"))
    message = refusal(lambda: load_market_data(path))
    assert message.startswith(f"market file {path}: JSON number 60000.0 is not allowed")


# ================================================================ parse_address


@pytest.mark.parametrize(
    "value",
    ["", "0x", "0x1234", ADDRESS_LOWER + "00", ADDRESS_LOWER[:-2], "ab" * 20, None, 1, [], True],
    ids=repr,
)
def test_parse_address_refuses_shape(value: Any) -> None:
    message = refusal(lambda: parse_address(value, "--engine"))
    assert message.startswith("--engine: expected a 0x-prefixed 20-byte hex address")


def test_parse_address_refuses_bad_checksum() -> None:
    bad = _bad_checksum()
    assert bad.lower() == ADDRESS_LOWER
    assert refusal(lambda: parse_address(bad, "account")) == (
        f"account: {bad} has a wrong EIP-55 checksum"
    )


# ================================================================ new accounts and salts


def test_fresh_salt_range_and_uniqueness() -> None:
    salts = {fresh_salt() for _ in range(64)}
    assert len(salts) == 64
    assert all(0 < s < R for s in salts)


def test_new_account_has_fresh_salt_and_random_address() -> None:
    a, b = new_account(), new_account()
    assert a.salt != b.salt and a.address != b.address
    assert 0 <= a.address < 2**160
    # a new account's JSON parses back to itself
    assert parse_account(account_to_json(a), None) == a


EIP55_VECTORS = [  # the examples of EIP-55 itself
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


@pytest.mark.parametrize("address", EIP55_VECTORS)
def test_format_address_is_eip55(address: str) -> None:
    assert format_address(int(address, 16)) == address
    assert parse_address(address, "a") == int(address, 16)
    last = max(i for i, c in enumerate(address) if c.isalpha() and i > 1)
    flipped = address[:last] + address[last].swapcase() + address[last + 1 :]
    assert "wrong EIP-55 checksum" in refusal(lambda: parse_address(flipped, "a"))
