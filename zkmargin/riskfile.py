"""The public risk file of portfolio margin: strict parsing, typed objects, commitment.

Risk file (public, published by the risk publisher)::

    {"markets": {"ETH-USD": {"mmr_bps": 500, "imr_bps": 1000, "floor_bps": 50}},
     "collateral": {"USDC": {"haircut_bps": 0, "decimals": 6},
                    "WETH": {"haircut_bps": 1000, "decimals": 18, "risk_factor": "ETH-USD"}},
     "prices": {"ETH-USD": "1900", "USDC": "1", "WETH": "1900"},
     "portfolio": {"cholesky_bps": [[900]], "lambda_mm_bps": 10000, "lambda_im_bps": 15000},
     "options": {"ETH-20261225-2500-C": {"underlying": "ETH-USD", "strike": "2500",
        "expiry": "2026-12-25T08:00:00Z", "kind": "call", "mark": "41.2",
        "delta_bps": 2710, "gamma_charge": "9.8", "vega_charge": "6.1"}}}

``cholesky_bps`` is the lower-triangular factor L of the risk matrix A = L·Lᵀ over the
markets in file order (row k holds k + 1 entries, each within ±10,000 bps, the diagonal
positive). ``options`` is optional. Every refusal is one :class:`InputError` line naming
the JSON path at fault.

The risk parameters enter a proof as one public input, :func:`risk_commitment` (layout
in ``docs/portfolio.md``, "The risk commitment"). Prices are not part of it: the engine
takes them from its oracle, as for rate-based proofs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.errors import InputError
from zkmargin.jsonio import expect_mapping, expect_name, expect_object, read_json_file
from zkmargin.poseidon import poseidon
from zkmargin.units import (
    BALANCE_DECIMALS,
    BPS_ONE,
    PRICE_BITS,
    PRICE_DECIMALS,
    Bps,
    Price,
)

# ---------------------------------------------------------------- bounds and layout

LAMBDA_BITS: Final = 16  # lambda in bps: 1 <= lambda < 2^16 (at most 6.5535)
CHOLESKY_MAX_BPS: Final = BPS_ONE  # |L_km| <= 10,000 bps
DELTA_MAX_BPS: Final = BPS_ONE  # |delta| <= 10,000 bps (a delta of 1)
EXPIRY_BITS: Final = 40  # unix seconds
FIELD_WIDTH: Final = 16  # every small field of the packed risk words
CHOLESKY_OFFSET: Final = BPS_ONE  # L_km is committed as L_km + 10,000 in [0, 20,000]
KIND_CALL: Final = 1
KIND_PUT: Final = 2
RISK_DOMAIN_TAG: Final = int.from_bytes(b"zkmargin/risk/v1", "big")
OPTIONS_PER_CHUNK: Final = 4

_EXPIRY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass(frozen=True)
class RiskShape:
    """The slot counts of a ``PortfolioMargin(N, K, M, J)`` circuit."""

    positions: int = 8  # N
    markets: int = 4  # K
    collateral: int = 2  # M
    options: int = 8  # J

    def __post_init__(self) -> None:
        k, m, j = self.markets, self.collateral, self.options
        if not (1 <= k and 1 <= m and 1 <= j and 1 <= self.positions):
            raise InputError("circuit shape: every slot count must be at least 1")
        if (2 * k + 2 * m + 2) * FIELD_WIDTH > 253:
            raise InputError("circuit shape: K + M is too large for the parameter word")
        if k * (k + 1) // 2 * FIELD_WIDTH > 253:
            raise InputError("circuit shape: K is too large for the Cholesky word (K <= 5)")
        if j > OPTIONS_PER_CHUNK * 5 or self.positions > OPTIONS_PER_CHUNK * 5:
            raise InputError("circuit shape: at most 20 option series and 20 positions")
        if j % OPTIONS_PER_CHUNK or self.positions % OPTIONS_PER_CHUNK:
            raise InputError("circuit shape: N and J must be multiples of 4 (chunked hashes)")
        if k + j > 256:
            raise InputError("circuit shape: K + J instruments must fit 8 bits")

    @property
    def word(self) -> int:
        """The shape as committed: K | M << 8 | J << 16."""
        return self.markets | self.collateral << 8 | self.options << 16


DEFAULT_SHAPE: Final = RiskShape()


# ---------------------------------------------------------------- typed objects


@dataclass(frozen=True)
class PortfolioMarket:
    mmr_bps: Bps  # rate-based margin (kept so one file serves both); not in the statement
    imr_bps: Bps
    floor_bps: Bps  # floor F: q * P * floor_bps per position on this underlying


@dataclass(frozen=True)
class PortfolioCollateral:
    haircut_bps: Bps
    decimals: int
    risk_factor: str | None  # market whose price moves this asset (WETH -> ETH-USD)


@dataclass(frozen=True)
class OptionSeries:
    underlying: str
    strike: Price
    expiry: int  # unix seconds, UTC
    kind: str  # "call" | "put"
    mark: Price  # V_j, premium per unit of underlying (1e-8 quote)
    delta_bps: int  # signed, -10,000 .. 10,000
    gamma_charge: Price  # worst loss per unit short from gamma over the move set
    vega_charge: Price  # loss per unit from the vol shock


@dataclass(frozen=True)
class RiskFile:
    markets: Mapping[str, PortfolioMarket]  # file order = risk-factor order
    collateral: Mapping[str, PortfolioCollateral]
    prices: Mapping[str, Price]
    cholesky_bps: tuple[tuple[int, ...], ...]  # row k has k + 1 entries
    lambda_mm_bps: int
    lambda_im_bps: int
    options: Mapping[str, OptionSeries]

    @property
    def market_names(self) -> tuple[str, ...]:
        return tuple(self.markets)

    def market_index(self, name: str) -> int:
        return self.market_names.index(name)

    def cholesky_entry(self, k: int, m: int) -> int:
        """L_km (0 above the diagonal)."""
        return self.cholesky_bps[k][m] if m <= k else 0


# ---------------------------------------------------------------- parsing helpers


def _int(value: Any, field: str, low: int, high: int, what: str = "basis points") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{field}: expected an integer number of {what}, got {value!r}")
    if not low <= value <= high:
        raise InputError(f"{field}: {value} is out of range ({low}..{high} {what})")
    return value


def _price(value: Any, field: str, *, positive: bool) -> Price:
    return Price(
        parse_fixed(value, PRICE_DECIMALS, field=field, bits=PRICE_BITS, positive=positive)
    )


TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(text: str, field: str) -> int:
    """``YYYY-MM-DDTHH:MM:SSZ`` -> unix seconds."""
    try:
        moment = datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        raise InputError(f'{field}: expected a UTC time such as "2026-12-25T08:00:00Z"') from None
    return int(moment.timestamp())


def format_time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime(TIME_FORMAT)


def _expiry(value: Any, field: str) -> int:
    if not isinstance(value, str) or not _EXPIRY.fullmatch(value):
        raise InputError(f'{field}: expected a UTC time such as "2026-12-25T08:00:00Z"')
    try:
        moment = datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"{field}: {value!r} is not a valid date and time") from None
    seconds = int(moment.timestamp())
    if not 0 < seconds < 2**EXPIRY_BITS:
        raise InputError(f"{field}: {value} is out of range (after 1970, < 2^{EXPIRY_BITS} s)")
    return seconds


# ---------------------------------------------------------------- the file


def parse_risk_file(data: Any, what: str = "risk file") -> RiskFile:
    """Validate a risk file (already parsed JSON) into a :class:`RiskFile`."""
    root = expect_object(
        data, what, {"markets", "collateral", "prices", "portfolio"}, frozenset({"options"})
    )
    markets = _parse_markets(root["markets"], what)
    collateral = _parse_collateral(root["collateral"], markets, what)
    prices = _parse_prices(root["prices"], markets, collateral, what)
    cholesky, lam_mm, lam_im = _parse_portfolio(root["portfolio"], markets, what)
    options = _parse_options(root.get("options", {}), markets, collateral, what)
    return RiskFile(
        markets=markets,
        collateral=collateral,
        prices=prices,
        cholesky_bps=cholesky,
        lambda_mm_bps=lam_mm,
        lambda_im_bps=lam_im,
        options=options,
    )


def load_risk_file(path: Path) -> RiskFile:
    return parse_risk_file(read_json_file(path, "risk file"), f"risk file {path}")


def risk_file_to_json(risk: RiskFile) -> dict[str, Any]:
    """The risk file as JSON (:func:`parse_risk_file` reads it back to ``risk``)."""

    def price(value: int) -> str:
        return format_fixed(value, PRICE_DECIMALS)

    return {
        "markets": {
            n: {"mmr_bps": m.mmr_bps, "imr_bps": m.imr_bps, "floor_bps": m.floor_bps}
            for n, m in risk.markets.items()
        },
        "collateral": {
            n: {
                "haircut_bps": c.haircut_bps,
                "decimals": c.decimals,
                **({} if c.risk_factor is None else {"risk_factor": c.risk_factor}),
            }
            for n, c in risk.collateral.items()
        },
        "prices": {n: price(p) for n, p in risk.prices.items()},
        "portfolio": {
            "cholesky_bps": [list(row) for row in risk.cholesky_bps],
            "lambda_mm_bps": risk.lambda_mm_bps,
            "lambda_im_bps": risk.lambda_im_bps,
        },
        "options": {
            n: {
                "underlying": o.underlying,
                "strike": price(o.strike),
                "expiry": format_time(o.expiry),
                "kind": o.kind,
                "mark": price(o.mark),
                "delta_bps": o.delta_bps,
                "gamma_charge": price(o.gamma_charge),
                "vega_charge": price(o.vega_charge),
            }
            for n, o in risk.options.items()
        },
    }


def _parse_markets(raw: Any, what: str) -> dict[str, PortfolioMarket]:
    raw_markets = expect_mapping(raw, f"{what}: markets")
    if not raw_markets:
        raise InputError(f"{what}: markets: at least one market is required")
    markets: dict[str, PortfolioMarket] = {}
    for name, params in raw_markets.items():
        field = f"{what}: markets.{name}"
        expect_name(name, field)
        entry = expect_object(params, field, {"mmr_bps", "imr_bps", "floor_bps"})
        mmr = _int(entry["mmr_bps"], f"{field}.mmr_bps", 0, BPS_ONE)
        imr = _int(entry["imr_bps"], f"{field}.imr_bps", 0, BPS_ONE)
        floor = _int(entry["floor_bps"], f"{field}.floor_bps", 0, BPS_ONE)
        if mmr == 0:
            raise InputError(
                f"{field}.mmr_bps: must be at least 1 (a zero rate marks an unused slot)"
            )
        if imr < mmr:
            raise InputError(f"{field}.imr_bps: {imr} must be at least mmr_bps ({mmr})")
        markets[name] = PortfolioMarket(Bps(mmr), Bps(imr), Bps(floor))
    return markets


def _parse_collateral(
    raw: Any, markets: Mapping[str, PortfolioMarket], what: str
) -> dict[str, PortfolioCollateral]:
    raw_coll = expect_mapping(raw, f"{what}: collateral")
    if not raw_coll:
        raise InputError(f"{what}: collateral: at least one collateral asset is required")
    collateral: dict[str, PortfolioCollateral] = {}
    for name, params in raw_coll.items():
        field = f"{what}: collateral.{name}"
        expect_name(name, field)
        if name in markets:
            raise InputError(f"{field}: {name!r} is listed both as a market and as collateral")
        entry = expect_object(
            params, field, {"haircut_bps"}, frozenset({"decimals", "risk_factor"})
        )
        decimals = _int(
            entry.get("decimals", BALANCE_DECIMALS), f"{field}.decimals", 0, 18, "decimals"
        )
        factor = entry.get("risk_factor")
        if factor is not None:
            if not isinstance(factor, str):
                raise InputError(f"{field}.risk_factor: expected a market name string")
            if factor not in markets:
                raise InputError(f"{field}.risk_factor: {factor!r} is not a listed market")
        collateral[name] = PortfolioCollateral(
            haircut_bps=Bps(_int(entry["haircut_bps"], f"{field}.haircut_bps", 0, BPS_ONE)),
            decimals=decimals,
            risk_factor=factor,
        )
    return collateral


def _parse_prices(
    raw: Any,
    markets: Mapping[str, PortfolioMarket],
    collateral: Mapping[str, PortfolioCollateral],
    what: str,
) -> dict[str, Price]:
    raw_prices = expect_mapping(raw, f"{what}: prices")
    prices: dict[str, Price] = {}
    for name, value in raw_prices.items():
        field = f"{what}: prices.{name}"
        if name not in markets and name not in collateral:
            raise InputError(f"{field}: unknown market or collateral asset {name!r}")
        prices[name] = _price(value, field, positive=True)
    for name in [*markets, *collateral]:
        if name not in prices:
            raise InputError(f"{what}: prices: missing price for {name!r}")
    return prices


def _parse_portfolio(
    raw: Any, markets: Mapping[str, PortfolioMarket], what: str
) -> tuple[tuple[tuple[int, ...], ...], int, int]:
    field = f"{what}: portfolio"
    entry = expect_object(raw, field, {"cholesky_bps", "lambda_mm_bps", "lambda_im_bps"})
    lam_limit = 2**LAMBDA_BITS - 1
    lam_mm = _int(entry["lambda_mm_bps"], f"{field}.lambda_mm_bps", 1, lam_limit)
    lam_im = _int(entry["lambda_im_bps"], f"{field}.lambda_im_bps", 1, lam_limit)
    if lam_im < lam_mm:
        raise InputError(
            f"{field}.lambda_im_bps: {lam_im} must be at least lambda_mm_bps ({lam_mm})"
        )
    rows = entry["cholesky_bps"]
    k_count = len(markets)
    where = f"{field}.cholesky_bps"
    if not isinstance(rows, list):
        raise InputError(f"{where}: expected a JSON array of rows")
    if len(rows) != k_count:
        raise InputError(
            f"{where}: expected {k_count} rows (one per market, in file order), got {len(rows)}"
        )
    cholesky: list[tuple[int, ...]] = []
    for k, row in enumerate(rows):
        if not isinstance(row, list):
            raise InputError(f"{where}[{k}]: expected a JSON array")
        if len(row) != k + 1:
            raise InputError(
                f"{where}[{k}]: row {k} of a lower-triangular factor has {k + 1} "
                f"entries, got {len(row)}"
            )
        values = tuple(
            _int(v, f"{where}[{k}][{m}]", -CHOLESKY_MAX_BPS, CHOLESKY_MAX_BPS)
            for m, v in enumerate(row)
        )
        if values[k] <= 0:
            raise InputError(f"{where}[{k}][{k}]: the diagonal must be positive, got {values[k]}")
        cholesky.append(values)
    return tuple(cholesky), lam_mm, lam_im


def _parse_options(
    raw: Any,
    markets: Mapping[str, PortfolioMarket],
    collateral: Mapping[str, PortfolioCollateral],
    what: str,
) -> dict[str, OptionSeries]:
    raw_options = expect_mapping(raw, f"{what}: options")
    options: dict[str, OptionSeries] = {}
    keys = {
        "underlying",
        "strike",
        "expiry",
        "kind",
        "mark",
        "delta_bps",
        "gamma_charge",
        "vega_charge",
    }
    for name, params in raw_options.items():
        field = f"{what}: options.{name}"
        expect_name(name, field)
        if name in markets or name in collateral:
            raise InputError(f"{field}: {name!r} is already a market or collateral name")
        entry = expect_object(params, field, keys)
        underlying = entry["underlying"]
        if not isinstance(underlying, str):
            raise InputError(f"{field}.underlying: expected a market name string")
        if underlying not in markets:
            raise InputError(f"{field}.underlying: {underlying!r} is not a listed market")
        kind = entry["kind"]
        if kind not in ("call", "put"):
            raise InputError(f'{field}.kind: expected "call" or "put", got {kind!r}')
        delta = _int(entry["delta_bps"], f"{field}.delta_bps", -DELTA_MAX_BPS, DELTA_MAX_BPS)
        if kind == "call" and delta < 0:
            raise InputError(f"{field}.delta_bps: a call's delta cannot be negative ({delta})")
        if kind == "put" and delta > 0:
            raise InputError(f"{field}.delta_bps: a put's delta cannot be positive ({delta})")
        options[name] = OptionSeries(
            underlying=underlying,
            strike=_price(entry["strike"], f"{field}.strike", positive=True),
            expiry=_expiry(entry["expiry"], f"{field}.expiry"),
            kind=kind,
            mark=_price(entry["mark"], f"{field}.mark", positive=False),
            delta_bps=delta,
            gamma_charge=_price(entry["gamma_charge"], f"{field}.gamma_charge", positive=False),
            vega_charge=_price(entry["vega_charge"], f"{field}.vega_charge", positive=False),
        )
    return options


# ---------------------------------------------------------------- commitment


@dataclass(frozen=True)
class RiskWords:
    """The field elements the risk commitment hashes (and the circuit re-hashes)."""

    params: int  # G1: floors, listed flags, haircuts, risk factors, lambdas (16 bits each)
    cholesky: int  # G2: L_km + 10,000 for k = 0..K-1, m = 0..k (16 bits each)
    option_values: tuple[int, ...]  # A_j: mark | gamma << 64 | vega << 128
    option_params: tuple[int, ...]  # B_j: |delta| | (delta < 0) << 16 | underlying << 32
    #                                        | listed << 48
    option_keys: tuple[int, ...]  # S_j: strike | expiry << 64 | kind << 104

    def commitment(self, shape: RiskShape) -> int:
        leaves = [
            poseidon([a, b, s])
            for a, b, s in zip(
                self.option_values, self.option_params, self.option_keys, strict=True
            )
        ]
        chunks = [
            poseidon(leaves[start : start + OPTIONS_PER_CHUNK])
            for start in range(0, len(leaves), OPTIONS_PER_CHUNK)
        ]
        options_digest = poseidon(chunks)
        return poseidon([RISK_DOMAIN_TAG, shape.word, self.params, self.cholesky, options_digest])

    def publish_args(self) -> tuple[int, int, list[int], list[int], list[int]]:
        """The arguments of ``PortfolioEngine.publishRisk`` (riskParams, riskCholesky,
        optionValues, optionParams, optionKeys): the engine recomputes :meth:`commitment`
        from exactly these words."""
        return (
            self.params,
            self.cholesky,
            list(self.option_values),
            list(self.option_params),
            list(self.option_keys),
        )


def intrinsic_value(series: OptionSeries, price: int) -> Price:
    """A series' value at expiry (1e-8 quote) at the underlying's settlement ``price``."""
    if series.kind == "call":
        return Price(max(price - series.strike, 0))
    return Price(max(series.strike - price, 0))


def settle_series(risk: RiskFile, name: str, price: int) -> RiskFile:
    """``risk`` with series ``name`` published settled at ``price`` (1e-8 quote): the mark
    is the intrinsic value, δ, gamma and vega charges are 0 (what the engine requires of
    an expired series once ``settleSeries`` has fixed its price)."""
    if name not in risk.options:
        raise InputError(f"options.{name}: unknown option series")
    if not 0 < price < 2**PRICE_BITS:
        raise InputError(f"settlement price: {price} is out of range (0 < price < 2^64)")
    series = risk.options[name]
    settled = replace(
        series,
        mark=intrinsic_value(series, price),
        delta_bps=0,
        gamma_charge=Price(0),
        vega_charge=Price(0),
    )
    return replace(risk, options={**risk.options, name: settled})


def pack_fields(values: Sequence[int], width: int) -> int:
    """values[0] | values[1] << width | ... (each value must fit ``width`` bits)."""
    word = 0
    for j, value in enumerate(values):
        assert 0 <= value < 2**width, (value, width)
        word |= value << (j * width)
    return word


def check_risk_ranges(risk: RiskFile, what: str = "risk file") -> None:
    """Every range :func:`parse_risk_file` enforces, for a :class:`RiskFile` built in code
    (the circuit refuses any value outside them; this names the field instead)."""
    names = risk.market_names
    if not names or not risk.collateral:
        raise InputError(f"{what}: at least one market and one collateral asset are required")

    def bounded(field: str, value: int, low: int, high: int) -> None:
        if not low <= value <= high:
            raise InputError(f"{what}: {field}: {value} is out of range ({low}..{high})")

    for name, market in risk.markets.items():
        bounded(f"markets.{name}.floor_bps", market.floor_bps, 0, BPS_ONE)
    for name, coll in risk.collateral.items():
        bounded(f"collateral.{name}.haircut_bps", coll.haircut_bps, 0, BPS_ONE)
        if coll.risk_factor is not None and coll.risk_factor not in risk.markets:
            raise InputError(f"{what}: collateral.{name}.risk_factor: not a listed market")
    for name in [*names, *risk.collateral]:
        if name not in risk.prices:
            raise InputError(f"{what}: prices: missing price for {name!r}")
        bounded(f"prices.{name}", risk.prices[name], 1, 2**PRICE_BITS - 1)
    lam_limit = 2**LAMBDA_BITS - 1
    bounded("portfolio.lambda_mm_bps", risk.lambda_mm_bps, 1, lam_limit)
    bounded("portfolio.lambda_im_bps", risk.lambda_im_bps, risk.lambda_mm_bps, lam_limit)
    if len(risk.cholesky_bps) != len(names):
        raise InputError(f"{what}: portfolio.cholesky_bps: expected {len(names)} rows")
    for k, row in enumerate(risk.cholesky_bps):
        if len(row) != k + 1:
            raise InputError(f"{what}: portfolio.cholesky_bps[{k}]: expected {k + 1} entries")
        for m, value in enumerate(row):
            low = 1 if m == k else -CHOLESKY_MAX_BPS
            bounded(f"portfolio.cholesky_bps[{k}][{m}]", value, low, CHOLESKY_MAX_BPS)
    for name, series in risk.options.items():
        field = f"options.{name}"
        if series.underlying not in risk.markets:
            raise InputError(f"{what}: {field}.underlying: not a listed market")
        if series.kind not in ("call", "put"):
            raise InputError(f"{what}: {field}.kind: expected call or put")
        bounded(f"{field}.delta_bps", series.delta_bps, -DELTA_MAX_BPS, DELTA_MAX_BPS)
        bounded(f"{field}.strike", series.strike, 1, 2**PRICE_BITS - 1)
        bounded(f"{field}.expiry", series.expiry, 1, 2**EXPIRY_BITS - 1)
        for label, value in (
            ("mark", series.mark),
            ("gamma_charge", series.gamma_charge),
            ("vega_charge", series.vega_charge),
        ):
            bounded(f"{field}.{label}", value, 0, 2**PRICE_BITS - 1)


def check_fits(risk: RiskFile, shape: RiskShape, what: str = "risk file") -> None:
    """The risk file must fit the circuit's slots (every slot is committed)."""
    for label, count, slots in (
        ("markets", len(risk.markets), shape.markets),
        ("collateral", len(risk.collateral), shape.collateral),
        ("options", len(risk.options), shape.options),
    ):
        if count > slots:
            raise InputError(
                f"{what}: {label}: lists {count}; the portfolio circuit has {slots} slot(s)"
            )


def risk_words(risk: RiskFile, shape: RiskShape = DEFAULT_SHAPE) -> RiskWords:
    """Slot k holds the k-th market of the file, and likewise for collateral and options;
    unused slots are zero (not listed; an unused market has an all-zero row of L)."""
    check_risk_ranges(risk)
    check_fits(risk, shape)
    k_slots, m_slots = shape.markets, shape.collateral
    names = risk.market_names
    floors = [risk.markets[n].floor_bps for n in names] + [0] * (k_slots - len(names))
    listed = [1] * len(names) + [0] * (k_slots - len(names))
    coll = list(risk.collateral.values())
    haircuts = [c.haircut_bps for c in coll] + [0] * (m_slots - len(coll))
    factors = [0 if c.risk_factor is None else 1 + names.index(c.risk_factor) for c in coll]
    factors += [0] * (m_slots - len(coll))
    params = pack_fields(
        [*floors, *listed, *haircuts, *factors, risk.lambda_mm_bps, risk.lambda_im_bps],
        FIELD_WIDTH,
    )
    chol = [
        risk.cholesky_entry(k, m) + CHOLESKY_OFFSET if k < len(names) else CHOLESKY_OFFSET
        for k in range(k_slots)
        for m in range(k + 1)
    ]
    cholesky = pack_fields(chol, FIELD_WIDTH)
    values: list[int] = []
    oparams: list[int] = []
    keys: list[int] = []
    for series in risk.options.values():
        values.append(
            series.mark | series.gamma_charge << PRICE_BITS | series.vega_charge << 2 * PRICE_BITS
        )
        oparams.append(
            pack_fields(
                [
                    abs(series.delta_bps),
                    int(series.delta_bps < 0),
                    names.index(series.underlying),
                    1,
                ],
                FIELD_WIDTH,
            )
        )
        kind = KIND_CALL if series.kind == "call" else KIND_PUT
        keys.append(
            series.strike | series.expiry << PRICE_BITS | kind << (PRICE_BITS + EXPIRY_BITS)
        )
    pad = shape.options - len(values)
    return RiskWords(
        params=params,
        cholesky=cholesky,
        option_values=(*values, *([0] * pad)),
        option_params=(*oparams, *([0] * pad)),
        option_keys=(*keys, *([0] * pad)),
    )


def risk_commitment(risk: RiskFile, shape: RiskShape = DEFAULT_SHAPE) -> int:
    """Poseidon commitment of the risk parameters for a circuit of ``shape``.

    ``Poseidon(RISK_TAG, shape, G1, G2, optionsDigest)`` with
    ``optionsDigest = Poseidon(chunk_0, ...)``, ``chunk_c = Poseidon(O_4c .. O_4c+3)`` and
    ``O_j = Poseidon(A_j, B_j, S_j)``: every Poseidon has at most 5 inputs.
    """
    return risk_words(risk, shape).commitment(shape)
