"""Minimal readers for the headers of circom's ``.r1cs`` and snarkjs' ``.ptau`` files."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from zkmargin.errors import ArtifactError


@dataclass(frozen=True)
class R1csHeader:
    prime: int
    n_wires: int
    n_public_outputs: int
    n_public_inputs: int
    n_private_inputs: int
    n_constraints: int

    @property
    def n_public(self) -> int:
        return self.n_public_outputs + self.n_public_inputs


def _sections(data: bytes, magic: bytes, path: Path) -> dict[int, bytes]:
    if data[:4] != magic:
        raise ArtifactError(f"{path}: not a {magic.decode()} file")
    (n_sections,) = struct.unpack_from("<I", data, 8)
    offset = 12
    out: dict[int, bytes] = {}
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, offset)
        offset += 12
        out.setdefault(kind, data[offset : offset + size])
        offset += size
    return out


def read_r1cs_header(path: Path) -> R1csHeader:
    header = _sections(path.read_bytes(), b"r1cs", path)[1]
    (n8,) = struct.unpack_from("<I", header, 0)
    prime = int.from_bytes(header[4 : 4 + n8], "little")
    n_wires, n_out, n_in, n_prv = struct.unpack_from("<IIII", header, 4 + n8)
    (n_constraints,) = struct.unpack_from("<I", header, 4 + n8 + 16 + 8)
    return R1csHeader(prime, n_wires, n_out, n_in, n_prv, n_constraints)


def read_ptau_power(path: Path) -> int:
    """The power (log2 of the largest supported domain) of a Powers-of-Tau file."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    header = _sections_prefix(head, path)
    (n8,) = struct.unpack_from("<I", header, 0)
    (power,) = struct.unpack_from("<I", header, 4 + n8)
    return int(power)


def _sections_prefix(head: bytes, path: Path) -> bytes:
    if head[:4] != b"ptau":
        raise ArtifactError(f"{path}: not a Powers-of-Tau (.ptau) file")
    kind, size = struct.unpack_from("<IQ", head, 12)
    if kind != 1:
        raise ArtifactError(f"{path}: unexpected .ptau layout (first section {kind})")
    return head[24 : 24 + size]
