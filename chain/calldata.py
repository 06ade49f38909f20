"""A snarkjs Groth16 proof in the order the generated Solidity verifiers take it.

snarkjs writes G2 points as ``[[x.c0, x.c1], [y.c0, y.c1], [1, 0]]``; the EVM pairing
precompile (EIP-197), and so the generated verifier, takes each Fq2 element as
``(c1, c0)``: ``b = [[x1, x0], [y1, y0]]``. This is the only place that swaps them: the
engine client and the forge fixtures (``contracts/tools/make_fixtures.py``) both use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zkmargin.errors import InputError

# (a, b, c) as the verifier's verifyProof and the engine's Proof struct take them.
ProofCalldata = tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]], tuple[int, int]]


def proof_calldata(proof: Mapping[str, Any]) -> ProofCalldata:
    """snarkjs proof.json -> the verifier's (a, b, c), G2 coordinates swapped."""
    try:
        a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
        return (
            (int(a[0]), int(a[1])),
            ((int(b[0][1]), int(b[0][0])), (int(b[1][1]), int(b[1][0]))),
            (int(c[0]), int(c[1])),
        )
    except (KeyError, IndexError, TypeError, ValueError):
        raise InputError("proof: not a snarkjs Groth16 proof (pi_a, pi_b, pi_c)") from None


def flat_words(calldata: ProofCalldata) -> list[int]:
    """The 8 words in calldata order: a.x, a.y, b.x1, b.x0, b.y1, b.y0, c.x, c.y."""
    (ax, ay), ((bx1, bx0), (by1, by0)), (cx, cy) = calldata
    return [ax, ay, bx1, bx0, by1, by0, cx, cy]


__all__ = ["ProofCalldata", "flat_words", "proof_calldata"]
