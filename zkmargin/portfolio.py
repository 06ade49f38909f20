"""Reference model of portfolio margin: the statement ``PortfolioMargin`` proves, in integers.

Notation as in ``docs/portfolio.md``. For positions i (instrument, side s_i = ±1, size
q_i, entry e_i), collateral balances bal_c and the public risk file::

    mark_i = P_k (perp on k) | V_j (option j on k);   Δ_i = 10,000 bps | δ_j
    E   = Σ_c bal_c·P_c·(10,000 − h_c)  +  1e14·Σ_i (gain_i − loss_i)   [1e-30 quote]
          (gain_i − loss_i = s_i·q_i·(mark_i − e_i); a withdrawal drops every gain_i)
    x_k = 1e6·Σ_{i on k} s_i·q_i·Δ_i·P_k  +  Σ_{c: φ(c)=k} bal_c·P_c     [1e-26 quote]
    y_m = Σ_{k ≥ m} L_km·x_k   (y = Lᵀx)                                  [1e-30 quote]
    G   = 1e14·Σ_i q_i·((short option ? g_j : 0) + (option ? v_j : 0))   [1e-30 quote]
    F   = 1e10·Σ_i q_i·P_{k(i)}·f_{k(i)}                                  [1e-30 quote]
    D   = E − G − F

The exact claim is ``D ≥ 0 and (1e4·D)² ≥ Σ_m (λ·y_m)²`` (λ in bps; 1e4·D and λ·y are
both in 1e-34 quote). Its squares reach ~2^400, beyond the BN254 field, so the proven
statement compares them at a resolution of 2^75 × 1e-34 quote (≈ 3.8e-12 quote), rounding
against the trader on both sides::

    D̂ = floor(1e4·D / 2^75),   ẑ_m = ceil(λ·|y_m| / 2^75)
    solvent  <=>  D ≥ 0  and  D̂² ≥ Σ_m ẑ_m²

(1e4·D ≥ 2^75·D̂ ≥ 2^75·‖ẑ‖ ≥ λ·‖y‖, so the proven claim implies the exact one; the
rounding costs the trader less than (1 + √K)·3.8e-12 quote.)
:attr:`PortfolioReport.solvent` is this statement, which the circuit checks;
:attr:`PortfolioReport.solvent_exact` is the unrounded comparison.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from math import isqrt
from pathlib import Path
from typing import Any, Final

from zkmargin.accounts import format_address, parse_collateral, parse_owner
from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.errors import InputError
from zkmargin.jsonio import expect_object, read_json_file
from zkmargin.riskfile import RiskFile, check_risk_ranges, format_time
from zkmargin.units import (
    ADDRESS_BITS,
    BALANCE_BITS,
    BALANCE_DECIMALS,
    BPS_ONE,
    MARGIN_UNIT_DECIMALS,
    POSITION_SCALE,
    PRICE_BITS,
    PRICE_DECIMALS,
    REQUIREMENT_SCALE,
    SIZE_BITS,
    SIZE_DECIMALS,
    SNARK_SCALAR_FIELD,
    Balance,
    Price,
    Size,
)

# x_k in 1e-26 quote: size (1e-8) * delta (1e-4) * price (1e-8) * EXPOSURE_SCALE
EXPOSURE_SCALE: Final = 10**6
EXPOSURE_DECIMALS: Final = 26
# the quadratic comparison's resolution: 2^ROUND_SHIFT units of 1e-34 quote
ROUND_SHIFT: Final = 75
PERP_DELTA_BPS: Final = BPS_ONE


class PortfolioMode(enum.Enum):
    """Which λ applies, and whether unrealized gains count."""

    MAINTENANCE = "maintenance"  # λ_MM
    INITIAL = "initial"  # λ_IM (an opening proof is initial, with entries at marks)
    WITHDRAWAL = "withdrawal"  # λ_IM, and no unrealized gain counts

    @property
    def initial(self) -> bool:
        return self is not PortfolioMode.MAINTENANCE

    @property
    def withdrawal(self) -> bool:
        return self is PortfolioMode.WITHDRAWAL


@dataclass(frozen=True)
class PortfolioPosition:
    """A perpetual on a market (``option`` False) or a position in a listed option series."""

    instrument: str  # market name (perp) or option series id
    option: bool
    long: bool
    size: Size
    entry: Price  # entry price (perp) or premium (option), 1e-8 quote


@dataclass(frozen=True)
class PortfolioAccount:
    address: int
    salt: int
    collateral: Mapping[str, Balance]
    positions: tuple[PortfolioPosition, ...]


@dataclass(frozen=True)
class PositionTerms:
    """One position's contribution (integers in the units of the module docstring)."""

    market: str  # underlying market k(i)
    gain: int  # max(pnl, 0), 1e-16 quote
    loss: int  # max(-pnl, 0), 1e-16 quote
    exposure: int  # signed s·q·Δ·P_k, 1e-20 quote
    addon: int  # q·(g + v), 1e-16 quote
    floor: int  # q·P_k·f_k, 1e-20 quote


@dataclass(frozen=True)
class PortfolioReport:
    mode: PortfolioMode
    collateral_value: int  # Σ bal·P·(1 − h), 1e-30 quote
    gains: int  # 1e14·Σ gain_i, 1e-30 quote (counted unless withdrawal)
    losses: int  # 1e14·Σ loss_i, 1e-30 quote
    exposures: Mapping[str, int]  # x_k, 1e-26 quote, by market (file order)
    rotated: tuple[int, ...]  # y = Lᵀx, 1e-30 quote
    lambda_bps: int
    option_addon: int  # G, 1e-30 quote
    floor: int  # F, 1e-30 quote

    @property
    def equity(self) -> int:
        """E in 1e-30 quote (without unrealized gains for a withdrawal)."""
        gains = 0 if self.mode.withdrawal else self.gains
        return self.collateral_value + gains - self.losses

    @property
    def d(self) -> int:
        """D = E − G − F, 1e-30 quote."""
        return self.equity - self.option_addon - self.floor

    @property
    def norm_squared(self) -> int:
        """‖Lᵀx‖² in (1e-30 quote)²."""
        return sum(y * y for y in self.rotated)

    @property
    def solvent_exact(self) -> bool:
        """D ≥ 0 and D² ≥ (λ/1e4)²·‖Lᵀx‖², exactly."""
        d = self.d
        return d >= 0 and (BPS_ONE * d) ** 2 >= self.lambda_bps**2 * self.norm_squared

    @property
    def d_rounded(self) -> int:
        """D̂ = floor(1e4·D / 2^75) (D ≥ 0)."""
        return (BPS_ONE * self.d) >> ROUND_SHIFT

    @property
    def risk_rounded(self) -> tuple[int, ...]:
        """ẑ_m = ceil(λ·|y_m| / 2^75)."""
        return tuple(-((-self.lambda_bps * abs(y)) >> ROUND_SHIFT) for y in self.rotated)

    @property
    def solvent(self) -> bool:
        """The proven statement: D ≥ 0 and D̂² ≥ Σ ẑ_m²."""
        if self.d < 0:
            return False
        return self.d_rounded**2 >= sum(z * z for z in self.risk_rounded)

    @property
    def correlated_risk(self) -> int:
        """R = λ·‖Lᵀx‖ / 1e4 in 1e-30 quote, rounded up (against the trader)."""
        n = self.lambda_bps**2 * self.norm_squared
        root_up = 0 if n == 0 else isqrt(n - 1) + 1
        return -(-root_up // BPS_ONE)

    @property
    def requirement(self) -> int:
        """R + G + F in 1e-30 quote (R rounded up)."""
        return self.correlated_risk + self.option_addon + self.floor

    def equity_display(self) -> str:
        return format_fixed(_down(self.equity), PRICE_DECIMALS)

    def requirement_display(self) -> str:
        return format_fixed(-_down(-self.requirement), PRICE_DECIMALS)

    def risk_display(self) -> str:
        return format_fixed(-_down(-self.correlated_risk), PRICE_DECIMALS)

    def addon_display(self) -> str:
        return format_fixed(-_down(-self.option_addon), PRICE_DECIMALS)

    def floor_display(self) -> str:
        return format_fixed(-_down(-self.floor), PRICE_DECIMALS)

    def exposure_display(self) -> dict[str, str]:
        """x_k in quote, rounded toward zero to 1e-8 (display only)."""
        scale = 10 ** (EXPOSURE_DECIMALS - PRICE_DECIMALS)
        return {
            k: format_fixed((1 if x >= 0 else -1) * (abs(x) // scale), PRICE_DECIMALS)
            for k, x in self.exposures.items()
        }


_DISPLAY_STEP: Final[int] = 10 ** (MARGIN_UNIT_DECIMALS - PRICE_DECIMALS)


def _down(margin_units: int) -> int:
    """1e-30 quote -> 1e-8 quote, rounded down."""
    return margin_units // _DISPLAY_STEP


# ---------------------------------------------------------------- evaluation


def _where(i: int, pos: PortfolioPosition) -> str:
    return f"positions[{i}] ({'option' if pos.option else 'market'} {pos.instrument})"


def check_names(account: PortfolioAccount, risk: RiskFile) -> None:
    """Every instrument and collateral asset must be listed in the risk file."""
    for i, pos in enumerate(account.positions):
        table: Mapping[str, object] = risk.options if pos.option else risk.markets
        if pos.instrument not in table:
            kind = "option series" if pos.option else "market"
            raise InputError(f"{_where(i, pos)}: {kind} is not listed in the risk file")
    for asset in account.collateral:
        if asset not in risk.collateral:
            raise InputError(f"collateral.{asset}: asset is not listed in the risk file")


def check_expiries(account: PortfolioAccount, risk: RiskFile, now: int) -> None:
    """No position in a series whose expiry is at or before ``now`` (unix seconds): its
    mark and Greeks describe an option that no longer trades."""
    for i, pos in enumerate(account.positions):
        if pos.option and risk.options[pos.instrument].expiry <= now:
            expiry = format_time(risk.options[pos.instrument].expiry)
            raise InputError(
                f"{_where(i, pos)}: series expired at {expiry} (now {format_time(now)})"
            )


def check_ranges(account: PortfolioAccount) -> None:
    """Ranges the circuit enforces on the private account (files already pass them)."""
    if not 0 <= account.address < 2**ADDRESS_BITS:
        raise InputError(f"account: {account.address} is out of range (< 2^{ADDRESS_BITS})")
    if not 0 < account.salt < SNARK_SCALAR_FIELD:
        raise InputError("salt: must satisfy 1 <= salt < r (the BN254 scalar field)")
    for asset, bal in account.collateral.items():
        if not 0 <= bal < 2**BALANCE_BITS:
            raise InputError(f"collateral.{asset}: {bal} is out of range (< 2^{BALANCE_BITS})")
    for i, pos in enumerate(account.positions):
        if not 0 <= pos.size < 2**SIZE_BITS:
            raise InputError(f"{_where(i, pos)}.size: {pos.size} is out of range")
        if not 0 <= pos.entry < 2**PRICE_BITS:
            raise InputError(f"{_where(i, pos)}.entry_price: {pos.entry} is out of range")


def position_mark(pos: PortfolioPosition, risk: RiskFile) -> Price:
    """The mark of a position's instrument: P_k for a perpetual, V_j for an option."""
    if pos.option:
        return risk.options[pos.instrument].mark
    return risk.prices[pos.instrument]


def check_opening(account: PortfolioAccount, risk: RiskFile, mode: PortfolioMode) -> None:
    """What an opening proof adds (modeWord bit 2): the mode is initial (λ_IM) and not a
    withdrawal, and every non-empty position's entry equals its mark (P_k for a perpetual,
    the committed mark V_j for an option): an account opens at current marks, with no
    unrealized gain or loss. One line naming the mode or the position."""
    if mode is not PortfolioMode.INITIAL:
        raise InputError(
            f"mode: an opening proof is an initial proof, not {mode.value} "
            f"(opening requires {PortfolioMode.INITIAL.value!r} and excludes a withdrawal)"
        )
    check_names(account, risk)
    for i, pos in enumerate(account.positions):
        mark = position_mark(pos, risk)
        if pos.size != 0 and pos.entry != mark:
            what = "option mark" if pos.option else "oracle price"
            raise InputError(
                f"{_where(i, pos)}: an opening proof needs the entry price to equal the "
                f"{what} ({format_fixed(pos.entry, PRICE_DECIMALS)} != "
                f"{format_fixed(mark, PRICE_DECIMALS)})"
            )


def position_terms(pos: PortfolioPosition, risk: RiskFile) -> PositionTerms:
    if pos.option:
        series = risk.options[pos.instrument]
        market = series.underlying
        mark, delta = series.mark, series.delta_bps
        charge = series.vega_charge + (0 if pos.long else series.gamma_charge)
    else:
        market = pos.instrument
        mark, delta, charge = risk.prices[market], PERP_DELTA_BPS, 0
    price = risk.prices[market]
    sign = 1 if pos.long else -1
    pnl = sign * pos.size * (mark - pos.entry)
    return PositionTerms(
        market=market,
        gain=max(pnl, 0),
        loss=max(-pnl, 0),
        exposure=sign * pos.size * delta * price,
        addon=pos.size * charge,
        floor=pos.size * price * risk.markets[market].floor_bps,
    )


def evaluate(account: PortfolioAccount, risk: RiskFile, mode: PortfolioMode) -> PortfolioReport:
    """Every term of the claim, exactly; unlisted names and parameters out of range (in a
    :class:`RiskFile` built in code) are an :class:`InputError`."""
    check_risk_ranges(risk)
    check_names(account, risk)
    names = risk.market_names
    exposures = dict.fromkeys(names, 0)
    collateral_value = 0
    for asset, bal in account.collateral.items():
        params = risk.collateral[asset]
        notional = bal * risk.prices[asset]
        collateral_value += notional * (BPS_ONE - params.haircut_bps)
        if params.risk_factor is not None:
            exposures[params.risk_factor] += notional
    gains = losses = addon = floor = 0
    for pos in account.positions:
        terms = position_terms(pos, risk)
        gains += terms.gain
        losses += terms.loss
        addon += terms.addon
        floor += terms.floor
        exposures[terms.market] += EXPOSURE_SCALE * terms.exposure
    x = [exposures[n] for n in names]
    rotated = tuple(
        sum(risk.cholesky_entry(k, m) * x[k] for k in range(m, len(names)))
        for m in range(len(names))
    )
    return PortfolioReport(
        mode=mode,
        collateral_value=collateral_value,
        gains=POSITION_SCALE * gains,
        losses=POSITION_SCALE * losses,
        exposures=exposures,
        rotated=rotated,
        lambda_bps=risk.lambda_im_bps if mode.initial else risk.lambda_mm_bps,
        option_addon=POSITION_SCALE * addon,
        floor=REQUIREMENT_SCALE * floor,
    )


# ---------------------------------------------------------------- account file


def parse_portfolio_account(
    data: Any, risk: RiskFile | None, what: str = "account file"
) -> PortfolioAccount:
    """A portfolio account file: like a rate-based one, but each position names exactly one
    of ``"market"`` (a perpetual) or ``"option"`` (a listed series id); with ``risk``,
    every name must be listed there."""
    root = expect_object(data, what, {"account", "salt", "collateral", "positions"}, frozenset())
    address, salt = parse_owner(root, what)
    decimals = {a: c.decimals for a, c in risk.collateral.items()} if risk is not None else None
    collateral = parse_collateral(root["collateral"], decimals, what)
    raw_positions = root["positions"]
    if not isinstance(raw_positions, list):
        raise InputError(f"{what}: positions: expected a JSON array")
    positions = []
    for i, raw in enumerate(raw_positions):
        field = f"{what}: positions[{i}]"
        entry = expect_object(
            raw, field, {"side", "size", "entry_price"}, frozenset({"market", "option"})
        )
        if ("market" in entry) == ("option" in entry):
            raise InputError(f'{field}: name exactly one of "market" (perp) or "option"')
        option = "option" in entry
        key = "option" if option else "market"
        name = entry[key]
        if not isinstance(name, str):
            raise InputError(f"{field}.{key}: expected a name string")
        if risk is not None:
            table: Mapping[str, object] = risk.options if option else risk.markets
            if name not in table:
                kind = "option series" if option else "market"
                raise InputError(f"{field}.{key}: unknown {kind} {name!r}")
        side = entry["side"]
        if side not in ("long", "short"):
            raise InputError(f'{field}.side: expected "long" or "short", got {side!r}')
        size = parse_fixed(
            entry["size"], SIZE_DECIMALS, field=f"{field}.size", bits=SIZE_BITS, positive=False
        )
        entry_price = parse_fixed(
            entry["entry_price"],
            PRICE_DECIMALS,
            field=f"{field}.entry_price",
            bits=PRICE_BITS,
            positive=not option,  # an option premium may be 0; a perp price may not
        )
        positions.append(
            PortfolioPosition(
                instrument=name,
                option=option,
                long=side == "long",
                size=Size(size),
                entry=Price(entry_price),
            )
        )
    return PortfolioAccount(
        address=address, salt=salt, collateral=collateral, positions=tuple(positions)
    )


def load_portfolio_account(path: Path, risk: RiskFile | None = None) -> PortfolioAccount:
    return parse_portfolio_account(
        read_json_file(path, "account file"), risk, f"account file {path}"
    )


def portfolio_account_to_json(account: PortfolioAccount) -> dict[str, Any]:
    return {
        "account": format_address(account.address),
        "salt": str(account.salt),
        "collateral": {
            asset: format_fixed(bal, BALANCE_DECIMALS) for asset, bal in account.collateral.items()
        },
        "positions": [
            {
                "option" if p.option else "market": p.instrument,
                "side": "long" if p.long else "short",
                "size": format_fixed(p.size, SIZE_DECIMALS),
                "entry_price": format_fixed(p.entry, PRICE_DECIMALS),
            }
            for p in account.positions
        ],
    }


# ---------------------------------------------------------------- bit budgets


def bit_budgets(positions: int, markets: int) -> dict[str, int]:
    """The bit budgets ``PortfolioMargin(N, K, ...)`` computes (circuits/lib/
    portfolio_margin.circom); every bound is derived from the unit ranges, not measured."""
    terms = (positions + 2).bit_length()  # bits(N + M) for M = 2 collateral slots
    x_bits = 162 + terms
    y_bits = x_bits + (markets * BPS_ONE).bit_length()
    z_bits = y_bits + 16  # λ < 2^16
    d_bits = 176 + terms
    t_bits = d_bits + 14
    lhs = 2 * (t_bits - ROUND_SHIFT)
    rhs = 2 * (z_bits + 1 - ROUND_SHIFT) + markets.bit_length()
    return {"x": x_bits, "y": y_bits, "z": z_bits, "d": d_bits, "t": t_bits, "claim": max(lhs, rhs)}


def _check_budgets() -> None:
    """Fail at import if a budget of the default circuit no longer holds."""
    budgets = bit_budgets(8, 4)
    assert budgets == {"x": 166, "y": 182, "z": 198, "d": 180, "t": 194, "claim": 251}
    one_position = EXPOSURE_SCALE * (2**SIZE_BITS - 1) * PERP_DELTA_BPS * (2**PRICE_BITS - 1)
    assert one_position < 2**162 and (2**BALANCE_BITS - 1) * (2**PRICE_BITS - 1) < 2**162
    assert (2**BALANCE_BITS) * (2**PRICE_BITS) * BPS_ONE < 2**176
    assert POSITION_SCALE * 2 ** (SIZE_BITS + PRICE_BITS) < 2**176
    assert BPS_ONE * 2 ** budgets["d"] <= 2 ** budgets["t"]
    assert budgets["z"] + 1 <= 252 and budgets["claim"] <= 252


_check_budgets()
