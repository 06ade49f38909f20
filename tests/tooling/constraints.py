"""An R1CS checker: which constraint of a circom ``.r1cs`` does a witness break?

Circuit tests that only run the witness generator test the generator, not the
constraints. This module checks a witness (honest or tampered) against the constraint
system itself, in the BN254 scalar field (galois), and names the broken constraints.

R1CS: for every constraint i, (A_i · w) * (B_i · w) = C_i · w, w[0] = 1.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import galois
import numpy as np

from prover.r1cs import R1csHeader, read_r1cs_header
from zkmargin.errors import ArtifactError, InputError
from zkmargin.units import SNARK_SCALAR_FIELD

# 5 generates the multiplicative group of the BN254 scalar field; giving it saves galois
# a search that takes minutes.
_PRIMITIVE_ELEMENT = 5


@cache
def field() -> Any:
    """galois GF(r) for the BN254 scalar field."""
    return galois.GF(SNARK_SCALAR_FIELD, primitive_element=_PRIMITIVE_ELEMENT, verify=False)


@dataclass(frozen=True)
class LinearCombinations:
    """One of A, B, C for every constraint, as flat sparse arrays."""

    constraint: np.ndarray[Any, Any]  # constraint index of each term
    wire: np.ndarray[Any, Any]  # wire index of each term
    coeff: Any  # GF array, coefficient of each term

    def evaluate(self, witness: Any, n_constraints: int) -> Any:
        out = field().Zeros(n_constraints)
        np.add.at(out, self.constraint, self.coeff * witness[self.wire])
        return out


@dataclass(frozen=True)
class R1cs:
    header: R1csHeader
    a: LinearCombinations
    b: LinearCombinations
    c: LinearCombinations

    @property
    def n_constraints(self) -> int:
        return self.header.n_constraints

    def violated(self, witness: Sequence[int]) -> list[int]:
        """Indices of the constraints ``witness`` breaks (empty: it satisfies them all)."""
        if len(witness) != self.header.n_wires:
            raise InputError(
                f"witness has {len(witness)} values, the circuit has {self.header.n_wires} wires"
            )
        if witness[0] != 1:
            return [-1]  # w[0] is the constant 1 every constraint relies on
        gf = field()
        try:
            w = gf(np.array([int(x) for x in witness], dtype=object))
        except (ValueError, TypeError) as exc:
            raise InputError(f"witness value outside the field: {exc}") from None
        n = self.n_constraints
        lhs = self.a.evaluate(w, n) * self.b.evaluate(w, n)
        rhs = self.c.evaluate(w, n)
        return [int(i) for i in np.nonzero(lhs != rhs)[0]]

    def satisfied(self, witness: Sequence[int]) -> bool:
        return not self.violated(witness)


def _read_lc(data: bytes, offset: int, n8: int, index: int, sink: list[list[int]]) -> int:
    (n_terms,) = struct.unpack_from("<I", data, offset)
    offset += 4
    for _ in range(n_terms):
        (wire,) = struct.unpack_from("<I", data, offset)
        coeff = int.from_bytes(data[offset + 4 : offset + 4 + n8], "little")
        offset += 4 + n8
        sink[0].append(index)
        sink[1].append(wire)
        sink[2].append(coeff)
    return offset


def read_r1cs(path: Path) -> R1cs:
    """Parse a circom ``.r1cs`` (format v1): header and every constraint."""
    header = read_r1cs_header(path)
    if header.prime != SNARK_SCALAR_FIELD:
        raise ArtifactError(f"{path}: not a BN254 circuit")
    data = path.read_bytes()
    (n_sections,) = struct.unpack_from("<I", data, 8)
    offset = 12
    body = None
    for _ in range(n_sections):
        kind, size = struct.unpack_from("<IQ", data, offset)
        offset += 12
        if kind == 2:
            body = data[offset : offset + size]
        offset += size
    if body is None:
        raise ArtifactError(f"{path}: no constraints section")
    n8 = 32
    sinks: list[list[list[int]]] = [[[], [], []] for _ in range(3)]
    pos = 0
    for i in range(header.n_constraints):
        for lc in range(3):
            pos = _read_lc(body, pos, n8, i, sinks[lc])
    gf = field()
    lcs = [
        LinearCombinations(
            constraint=np.array(s[0], dtype=np.int64),
            wire=np.array(s[1], dtype=np.int64),
            coeff=gf(np.array(s[2], dtype=object)) if s[2] else gf.Zeros(0),
        )
        for s in sinks
    ]
    return R1cs(header, lcs[0], lcs[1], lcs[2])


@cache
def load_r1cs(path: Path) -> R1cs:
    return read_r1cs(path)
