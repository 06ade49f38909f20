"""Witness (``.wtns``) and symbol (``.sym``) files as written by circom and snarkjs.

``.wtns`` is snarkjs' binary container, version 2::

    "wtns"  u32 version=2  u32 n_sections=2
    section 1 (header):   u32 id=1  u64 size=8+n8 | u32 n8 | prime (n8 bytes LE) | u32 n_witness
    section 2 (witness):  u32 id=2  u64 size=n8*n_witness | n_witness values, n8 bytes LE each

All integers are little-endian; ``n8`` is the field element size in bytes (32 for BN254).

``.sym`` is circom's text map ``signal_id,witness_index,component_id,full.name``; a witness
index of ``-1`` marks a signal the optimiser removed from the witness.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from zkmargin.errors import InputError

WTNS_MAGIC = b"wtns"
WTNS_VERSION = 2
_HEADER_SECTION = 1
_WITNESS_SECTION = 2


def field_n8(prime: int) -> int:
    """Bytes per field element for ``prime``, as snarkjs computes it (whole 64-bit limbs)."""
    if prime < 2:
        raise InputError(f"prime: {prime} is not a field modulus")
    return ((prime.bit_length() - 1) // 64 + 1) * 8


def encode_wtns(prime: int, n8: int, n_witness: int, data: bytes) -> bytes:
    """Assemble a ``.wtns`` file from already-encoded witness ``data`` (``n_witness * n8`` bytes).

    No value checks: callers pass bytes they produced themselves (e.g. the witness
    calculator's memory). Use :func:`wtns_bytes` for a list of integers.
    """
    if len(data) != n8 * n_witness:
        raise InputError(f"witness: {len(data)} bytes given, expected {n8} * {n_witness}")
    header = struct.pack("<I", n8) + prime.to_bytes(n8, "little") + struct.pack("<I", n_witness)
    return b"".join(
        (
            WTNS_MAGIC,
            struct.pack("<II", WTNS_VERSION, 2),
            struct.pack("<IQ", _HEADER_SECTION, len(header)),
            header,
            struct.pack("<IQ", _WITNESS_SECTION, len(data)),
            data,
        )
    )


def wtns_bytes(witness: Sequence[int], prime: int, *, n8: int | None = None) -> bytes:
    """Serialise ``witness`` as a snarkjs ``.wtns`` (version 2) file.

    ``n8`` defaults to snarkjs' choice for ``prime``. Every value must be an ``int`` in
    ``[0, prime)``; otherwise :class:`InputError` names the offending ``witness[i]``.
    """
    size = field_n8(prime) if n8 is None else n8
    if prime.bit_length() > size * 8:
        raise InputError(f"n8: {size} bytes cannot hold the prime {prime}")
    parts: list[bytes] = []
    for i, value in enumerate(witness):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"witness[{i}]: expected an int, got {type(value).__name__}")
        if not 0 <= value < prime:
            raise InputError(f"witness[{i}]: {value} is outside [0, p)")
        parts.append(value.to_bytes(size, "little"))
    return encode_wtns(prime, size, len(parts), b"".join(parts))
