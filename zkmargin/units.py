"""Fixed-point scales and bit budgets shared by Python, the circuit and Solidity.

Every amount is an integer in a named unit; no float ever touches a price or a balance.

==================  =========================  ==========================
quantity            unit (one integer step)    range (checked in circuit)
==================  =========================  ==========================
price               1e-8 quote per base unit   0 < p < 2**64
position size       1e-8 base unit             0 <= size < 2**64
collateral balance  1e-18 token (normalised)   0 <= bal < 2**96
rate / haircut      basis point (1e-4)         0 <= bps <= 10_000
==================  =========================  ==========================

The margin claim is compared exactly, with no division, in units of 1e-30 quote
("margin units"); see ``zkmargin.model``.
"""

from __future__ import annotations

from typing import Final, NewType

# BN254 scalar field (the circuit's field) and base field (curve coordinates).
SNARK_SCALAR_FIELD: Final = (
    21888242871839275222246405745257275088548364400416034343698204186575808495617
)
BN254_BASE_FIELD: Final = (
    21888242871839275222246405745257275088696311157297823662689037894645226208583
)

Price = NewType("Price", int)  # 1e-8 quote per base unit
Size = NewType("Size", int)  # 1e-8 base units
Balance = NewType("Balance", int)  # 1e-18 token units
Bps = NewType("Bps", int)  # basis points

PRICE_DECIMALS: Final = 8
SIZE_DECIMALS: Final = 8
BALANCE_DECIMALS: Final = 18
BPS_ONE: Final = 10_000

PRICE_BITS: Final = 64
SIZE_BITS: Final = 64
BALANCE_BITS: Final = 96
BPS_BITS: Final = 14  # 10_000 < 2**14
MARKET_INDEX_BITS: Final = 8
ADDRESS_BITS: Final = 160
NONCE_BITS: Final = 64
CHAIN_ID_BITS: Final = 64

# Scale factors that bring every term of the claim to margin units (1e-30 quote).
#   collateral: bal (1e-18) * price (1e-8) * (10_000 - haircut) (1e-4)       -> 1e-30
#   position:   size (1e-8) * price (1e-8) * POSITION_SCALE                  -> 1e-30
#   requirement size (1e-8) * price (1e-8) * rate (1e-4) * REQUIREMENT_SCALE -> 1e-30
MARGIN_UNIT_DECIMALS: Final = 30
POSITION_SCALE: Final = 10 ** (MARGIN_UNIT_DECIMALS - SIZE_DECIMALS - PRICE_DECIMALS)
REQUIREMENT_SCALE: Final = 10 ** (MARGIN_UNIT_DECIMALS - SIZE_DECIMALS - PRICE_DECIMALS - 4)

# Domain separation tag of the account commitment (ASCII "zkmargin/account/v1").
COMMITMENT_DOMAIN_TAG: Final = int.from_bytes(b"zkmargin/account/v1", "big")


def _check_constants() -> None:
    """Fail at import if a bit budget no longer fits the field (as py_ecc checks its curve)."""
    field_bits = SNARK_SCALAR_FIELD.bit_length()  # 254
    assert field_bits == 254
    assert POSITION_SCALE == 10**14 and REQUIREMENT_SCALE == 10**10
    assert BPS_ONE < 2**BPS_BITS
    term = BALANCE_BITS + PRICE_BITS + BPS_BITS  # largest single term of the claim
    assert POSITION_SCALE * 2 ** (SIZE_BITS + PRICE_BITS) < 2 ** (term + 1)
    assert REQUIREMENT_SCALE * BPS_ONE * 2 ** (SIZE_BITS + PRICE_BITS) < 2 ** (term + 2)
    # packed public words and the claim's slack must stay below 2**253 < r
    assert 2 * BALANCE_BITS <= 253 and 3 * PRICE_BITS <= 253
    assert ADDRESS_BITS + NONCE_BITS <= 253 and ADDRESS_BITS + CHAIN_ID_BITS <= 253
    assert COMMITMENT_DOMAIN_TAG < SNARK_SCALAR_FIELD


_check_constants()
