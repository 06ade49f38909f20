"""Proof and witness encodings the backends translate between.

* snarkjs ``proof.json``: decimal strings, projective with z = 1; ``pi_b`` coordinates are
  ``[real, imaginary]`` pairs.
* the Ethereum layout (256 bytes, big-endian words): ``A.x A.y | B.x.im B.x.re B.y.im
  B.y.re | C.x C.y`` -- the order of the EIP-197 pairing precompile, imaginary part first,
  which is what arkworks (groth16py) returns. Swapping the G2 halves is the classic bug: a
  proof with swapped coordinates is off the curve, so tests verify with an independent
  verifier rather than round-trip only.
* public signals of a ``.wtns`` witness: values ``1..n_public`` (value 0 is the constant 1).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from prover.backends.base import ProofJson
from zkmargin.errors import ProverError

WORD = 32
PROOF_BYTES = 8 * WORD


def proof_from_eth_bytes(blob: bytes) -> ProofJson:
    if len(blob) != PROOF_BYTES:
        raise ProverError(f"proof: expected {PROOF_BYTES} bytes, got {len(blob)}")
    w = [str(int.from_bytes(blob[i : i + WORD], "big")) for i in range(0, PROOF_BYTES, WORD)]
    return {
        "pi_a": [w[0], w[1], "1"],
        "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
        "pi_c": [w[6], w[7], "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }


def proof_to_eth_bytes(proof: ProofJson) -> bytes:
    """The inverse of :func:`proof_from_eth_bytes`; raises ``ValueError`` on a malformed proof
    (callers treat that as "does not verify")."""
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    if [a[2], c[2]] != ["1", "1"] or b[2] != ["1", "0"]:
        raise ValueError("proof is not in affine form (z != 1)")
    words = [a[0], a[1], b[0][1], b[0][0], b[1][1], b[1][0], c[0], c[1]]
    return b"".join(_word(x) for x in words)


def _word(value: object) -> bytes:
    if not isinstance(value, str) or not value.isdigit():
        raise ValueError(f"proof coordinate {value!r} is not a decimal string")
    number = int(value)
    if number >= 1 << (8 * WORD):
        raise ValueError("proof coordinate does not fit 256 bits")
    return number.to_bytes(WORD, "big")


def public_signals_from_wtns(wtns: bytes, n_public: int) -> list[int]:
    """Witness values 1..n_public of a snarkjs ``.wtns`` (version 2) file."""
    try:
        if wtns[:4] != b"wtns":
            raise ValueError("not a .wtns file")
        (n_sections,) = struct.unpack_from("<I", wtns, 8)
        pos, n8, values = 12, 0, -1
        for _ in range(n_sections):
            kind, size = struct.unpack_from("<IQ", wtns, pos)
            pos += 12
            if kind == 1:
                (n8,) = struct.unpack_from("<I", wtns, pos)
            elif kind == 2:
                values = pos
            pos += size
        if not n8 or values < 0 or values + (n_public + 1) * n8 > len(wtns):
            raise ValueError("witness section missing or short")
    except (ValueError, struct.error) as exc:
        raise ProverError(f"witness: {exc}") from None
    return [
        int.from_bytes(wtns[values + i * n8 : values + (i + 1) * n8], "little")
        for i in range(1, n_public + 1)
    ]


def decimal_strings(values: Sequence[int]) -> list[str]:
    return [str(v) for v in values]
