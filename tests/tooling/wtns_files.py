"""Test tooling: read ``.wtns`` and ``.sym`` files and write ``.wtns`` files.

The runtime package only writes witnesses (:mod:`prover.wtns`); reading them back is for
tests that tamper with witnesses and for the constraint checker.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

from prover.wtns import _HEADER_SECTION, _WITNESS_SECTION, WTNS_MAGIC, WTNS_VERSION, wtns_bytes
from zkmargin.errors import InputError


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
