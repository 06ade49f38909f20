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
from pathlib import Path

from prover.errors import InputError

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


def write_wtns(path: Path, witness: Sequence[int], prime: int) -> None:
    """Write ``witness`` to ``path`` as a ``.wtns`` file (atomically: temp file + rename)."""
    data = wtns_bytes(witness, prime)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def parse_wtns(data: bytes, *, source: str = "wtns") -> tuple[int, list[int]]:
    """Parse the bytes of a ``.wtns`` file into ``(prime, witness)``.

    Sections may appear in any order (as snarkjs' reader allows); unknown sections are
    skipped. Raises :class:`InputError` naming ``source`` if the file is malformed.
    """
    if len(data) < 12 or data[:4] != WTNS_MAGIC:
        raise InputError(f"{source}: not a .wtns file (bad magic)")
    version, n_sections = struct.unpack_from("<II", data, 4)
    if version != WTNS_VERSION:
        raise InputError(f"{source}: unsupported .wtns version {version} (expected 2)")
    sections: dict[int, tuple[int, int]] = {}
    pos = 12
    for _ in range(n_sections):
        if pos + 12 > len(data):
            raise InputError(f"{source}: truncated section table")
        sec_id, size = struct.unpack_from("<IQ", data, pos)
        pos += 12
        if pos + size > len(data):
            raise InputError(f"{source}: section {sec_id} runs past the end of the file")
        if sec_id in sections:
            raise InputError(f"{source}: duplicate section {sec_id}")
        sections[sec_id] = (pos, size)
        pos += size
    if pos != len(data):
        raise InputError(f"{source}: {len(data) - pos} trailing bytes after the last section")
    if _HEADER_SECTION not in sections or _WITNESS_SECTION not in sections:
        raise InputError(f"{source}: missing header or witness section")

    hpos, hsize = sections[_HEADER_SECTION]
    if hsize < 4:
        raise InputError(f"{source}: header section too short")
    (n8,) = struct.unpack_from("<I", data, hpos)
    if n8 == 0 or n8 % 8 or hsize != 8 + n8:
        raise InputError(f"{source}: bad header (n8={n8}, size={hsize})")
    prime = int.from_bytes(data[hpos + 4 : hpos + 4 + n8], "little")
    (n_witness,) = struct.unpack_from("<I", data, hpos + 4 + n8)
    if prime < 2:
        raise InputError(f"{source}: bad prime {prime}")

    wpos, wsize = sections[_WITNESS_SECTION]
    if wsize != n8 * n_witness:
        raise InputError(
            f"{source}: witness section has {wsize} bytes, header says {n_witness} x {n8}"
        )
    witness = [
        int.from_bytes(data[off : off + n8], "little") for off in range(wpos, wpos + wsize, n8)
    ]
    for i, value in enumerate(witness):
        if value >= prime:
            raise InputError(f"{source}: witness[{i}] = {value} is not below the prime")
    return prime, witness


def read_wtns(path: Path) -> tuple[int, list[int]]:
    """Read a ``.wtns`` file: ``(prime, witness)``."""
    return parse_wtns(path.read_bytes(), source=str(path))


def read_sym(path: Path) -> dict[str, int]:
    """Map each signal's full name (``main.x.y[2]``) to its witness index.

    Signals the optimiser removed (witness index ``-1``) are left out.
    """
    result: dict[str, int] = {}
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            fields = line.split(",", 3)
            if len(fields) != 4:
                raise InputError(f"{path}:{lineno}: expected 4 comma-separated fields")
            try:
                witness_index = int(fields[1])
            except ValueError:
                raise InputError(f"{path}:{lineno}: bad witness index {fields[1]!r}") from None
            if witness_index >= 0:
                result[fields[3]] = witness_index
    return result
