"""Tools for tests/test_tampering.py (not a test module itself).

* A proof as the engine sees it: 8 calldata words ``A.x, A.y, B.x.c1, B.x.c0, B.y.c1,
  B.y.c0, C.x, C.y`` (:data:`WORD_NAMES`), and the same words as a snarkjs ``proof.json``
  (:func:`snarkjs_json`; B's Fq2 halves swapped back to snarkjs' ``(c0, c1)``).
* Groth16 malleations anyone can compute from a proof and the verifying key (no toxic
  waste): :func:`negate_ab`, :func:`scale_ab`, :func:`rerandomise`; and the non-canonical
  ``A.y`` encodings the generated Solidity verifier accepts (:func:`wrap_ay`).
* Three judges, each answering with a short verdict string:
  :func:`python_verdict` (``verifier.groth16``), :class:`SnarkjsBatch` (snarkjs 0.7.6's
  ``groth16.verify``, the function ``snarkjs groth16 verify`` calls, many cases per node
  process) and :func:`solidity_verdict` (the generated verifier contract via
  ``eth_call``, plus the ecPairing precompile called directly with the verifier's own
  input layout, which tells *which* check answered).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.optimized_bn128.optimized_curve import add, b2, is_inf, multiply, normalize

from chain.client import ProofCalldata
from chain.errors import ChainError
from chain.rpc import Chain, Contract
from verifier.groth16 import Proof, VerifyingKey, verify
from zkmargin.errors import VerifierError
from zkmargin.paths import project_root
from zkmargin.toolrun import minimal_env
from zkmargin.units import BN254_BASE_FIELD as Q
from zkmargin.units import SNARK_SCALAR_FIELD as R

Words = tuple[int, ...]  # the 8 calldata words of a proof

WORD_NAMES: Final = ("A.x", "A.y", "B.x.c1", "B.x.c0", "B.y.c1", "B.y.c0", "C.x", "C.y")
# where each calldata word sits in snarkjs' proof.json (our verifier names fields so)
JSON_NAMES: Final = (
    "pi_a[0]",
    "pi_a[1]",
    "pi_b[0][1]",
    "pi_b[0][0]",
    "pi_b[1][1]",
    "pi_b[1][0]",
    "pi_c[0]",
    "pi_c[1]",
)
WORD_LIMIT: Final = 2**256  # a calldata word; the field check is up to the verifier

PAIRING_PRECOMPILE: Final = "0x0000000000000000000000000000000000000008"

# verdicts
ACCEPT: Final = "accept"
PAIRING: Final = "pairing check fails"  # well-formed input, e(...) product != 1
REJECT: Final = "reject"  # snarkjs: groth16.verify returned false
THROW: Final = "throw"  # snarkjs: groth16.verify threw (the CLI exits 1)
PRECOMPILE: Final = "ecPairing precompile refuses the input"  # EIP-197 input check
FIELD: Final = "verifier's public-input field check"  # checkField: a signal >= r


# ------------------------------------------------------------------ proof encodings


def words_of(calldata: ProofCalldata) -> Words:
    a, b, c = calldata
    return (a[0], a[1], b[0][0], b[0][1], b[1][0], b[1][1], c[0], c[1])


def calldata_of(words: Words) -> ProofCalldata:
    assert len(words) == 8 and all(0 <= w < WORD_LIMIT for w in words), words
    return (
        (words[0], words[1]),
        ((words[2], words[3]), (words[4], words[5])),
        (words[6], words[7]),
    )


def snarkjs_json(words: Words) -> dict[str, Any]:
    """The proof.json snarkjs would read for these calldata words (affine, z = 1)."""
    ax, ay, bx1, bx0, by1, by0, cx, cy = (str(w) for w in words)
    return {
        "pi_a": [ax, ay, "1"],
        "pi_b": [[bx0, bx1], [by0, by1], ["1", "0"]],
        "pi_c": [cx, cy, "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }


def replace_word(words: Words, index: int, value: int) -> Words:
    out = list(words)
    out[index] = value
    return tuple(out)


# --------------------------------------------------------------- Groth16 algebra

_G1J = tuple[FQ, FQ, FQ]
_G2J = tuple[FQ2, FQ2, FQ2]


def _a(words: Words) -> _G1J:
    return (FQ(words[0]), FQ(words[1]), FQ.one())


def _c(words: Words) -> _G1J:
    return (FQ(words[6]), FQ(words[7]), FQ.one())


def _b(words: Words) -> _G2J:
    return (FQ2([words[3], words[2]]), FQ2([words[5], words[4]]), FQ2.one())


def _g1_words(p: _G1J) -> tuple[int, int]:
    assert not is_inf(p)
    x, y = normalize(p)
    return (int(x), int(y))


def _g2_words(p: _G2J) -> tuple[int, int, int, int]:
    assert not is_inf(p)
    x, y = normalize(p)
    return (int(x.coeffs[1]), int(x.coeffs[0]), int(y.coeffs[1]), int(y.coeffs[0]))


def _assemble(a: _G1J, b: _G2J, c: _G1J) -> Words:
    return (*_g1_words(a), *_g2_words(b), *_g1_words(c))


def negate_ab(words: Words) -> Words:
    """(-A, -B, C): e(-A, -B) = e(A, B), so the pairing equation is unchanged."""
    ax, ay, bx1, bx0, by1, by0, cx, cy = words
    return (ax, (Q - ay) % Q, bx1, bx0, (Q - by1) % Q, (Q - by0) % Q, cx, cy)


def scale_ab(words: Words, r: int) -> Words:
    """(rA, r^-1 B, C): e(rA, r^-1 B) = e(A, B)."""
    return _assemble(multiply(_a(words), r), multiply(_b(words), pow(r, -1, R)), _c(words))


def rerandomise(
    words: Words, delta: tuple[tuple[int, int], tuple[int, int]], r: int, s: int
) -> Words:
    """(r^-1 A, rB + rs delta, C + sA), from the public delta only.

    e(r^-1 A, rB + rs delta) = e(A, B) e(sA, delta) and e(C + sA, delta) =
    e(C, delta) e(sA, delta): both sides of e(A,B) = e(alpha,beta) e(vk_x,gamma)
    e(C,delta) gain the same factor. Any holder of a proof can make a fresh-looking one.
    """
    (dx0, dx1), (dy0, dy1) = delta
    d = (FQ2([dx0, dx1]), FQ2([dy0, dy1]), FQ2.one())
    a, b, c = _a(words), _b(words), _c(words)
    return _assemble(
        multiply(a, pow(r, -1, R)),
        add(multiply(b, r), multiply(d, r * s % R)),
        add(c, multiply(a, s)),
    )


def wrap_ay(words: Words, m: int) -> Words:
    """A.y + 2^256 - m q, for m in 1..4: in [q, 2^256) and congruent to A.y + 2^256.

    The generated verifier negates A as ``mod(sub(q, A.y), q)``; ``sub`` wraps modulo
    2^256, so it computes (2^256 + q - y') mod q = q - A.y for these y': the precompile
    sees the true -A and the proof verifies, with a word that is not a field element.
    """
    y = words[1] + WORD_LIMIT - m * Q
    assert Q <= y < WORD_LIMIT and 1 <= m <= 4
    return replace_word(words, 1, y)


def _fq2_sqrt(a: FQ2) -> FQ2 | None:
    """A square root in Fq2 (q = 3 mod 4; Adj & Rodriguez-Henriquez, algorithm 9)."""
    a1 = a ** ((Q - 3) // 4)
    alpha = a1 * a1 * a
    x0 = a1 * a
    minus_one = FQ2([Q - 1, 0])
    if alpha**Q * alpha == minus_one:
        return None
    root = FQ2([0, 1]) * x0 if alpha == minus_one else (alpha + FQ2.one()) ** ((Q - 1) // 2) * x0
    return root if root * root == a else None


def twist_point_outside_g2() -> tuple[int, int, int, int]:
    """B-words of a point on the twist curve whose order is not r (not in G2)."""
    for x0 in range(1, 100):
        x = FQ2([x0, 1])
        y = _fq2_sqrt(x * x * x + b2)
        if y is None:
            continue
        point = (x, y, FQ2.one())
        assert not is_inf(multiply(point, R))
        return _g2_words(point)
    raise AssertionError("no twist point found")


# ------------------------------------------------------------------------ judges


def python_verdict(vk: VerifyingKey, proof: Mapping[str, Any], public: Sequence[Any]) -> str:
    """ACCEPT, PAIRING or ``error: <VerifierError message>``."""
    try:
        return ACCEPT if verify(vk, Proof.from_json(proof), public) else PAIRING
    except VerifierError as exc:
        return f"error: {exc}"


_SNARKJS_BATCH_JS = r"""
const fs = require("fs");
const path = require("path");
const [root, jobFile] = process.argv.slice(2);
const snarkjs = require(path.join(root, "node_modules", "snarkjs"));
(async () => {
  const job = JSON.parse(fs.readFileSync(jobFile, "utf8"));
  const out = [];
  for (const c of job.cases) {
    try {
      const ok = await snarkjs.groth16.verify(job.keys[c.key], c.public, c.proof);
      out.push(ok ? "accept" : "reject");
    } catch (e) {
      out.push("throw: " + String((e && e.message) || e).slice(0, 200));
    }
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);  // ffjavascript keeps worker threads alive
})().catch((e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(2); });
"""


@dataclass
class SnarkjsBatch:
    """Collects (key, public, proof) cases and judges them all in one node process.

    It calls ``snarkjs.groth16.verify`` on the parsed JSON, exactly what the CLI's
    ``groth16 verify`` does after ``JSON.parse`` of its three files (snarkjs 0.7.6,
    build/cli.cjs); a throw is reported as ``throw: ...`` (the CLI then exits 1).
    """

    keys: dict[str, Any]  # name -> parsed verification_key.json
    cases: list[dict[str, Any]]

    @classmethod
    def for_keys(cls, keys: Mapping[str, Path]) -> SnarkjsBatch:
        return cls({k: json.loads(Path(p).read_text()) for k, p in keys.items()}, [])

    def add(self, key: str, public: Sequence[Any], proof: Mapping[str, Any]) -> int:
        """Queue a case; returns its index in :meth:`run`'s answer."""
        assert key in self.keys
        self.cases.append({"key": key, "public": [str(s) for s in public], "proof": proof})
        return len(self.cases) - 1

    def run(self) -> list[str]:
        node = shutil.which("node")
        assert node is not None, "node is not on PATH"
        work = Path(tempfile.mkdtemp(prefix="zkmargin-snarkjs-batch-"))
        try:
            (work / "batch.cjs").write_text(_SNARKJS_BATCH_JS)
            (work / "job.json").write_text(json.dumps({"keys": self.keys, "cases": self.cases}))
            proc = subprocess.run(
                [node, str(work / "batch.cjs"), str(project_root()), str(work / "job.json")],
                capture_output=True,
                text=True,
                timeout=300,
                env=minimal_env(),
                check=False,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        verdicts = json.loads(proc.stdout)
        assert len(verdicts) == len(self.cases)
        return [str(v) for v in verdicts]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _g2_bytes(point: tuple[tuple[int, int], tuple[int, int]]) -> bytes:
    (x0, x1), (y0, y1) = point
    return _word(x1) + _word(x0) + _word(y1) + _word(y0)


def vk_x(vk: VerifyingKey, inputs: Sequence[int]) -> tuple[int, int]:
    """IC[0] + sum(s_i IC[i+1]) as the verifier's ecMul/ecAdd chain computes it."""
    acc: _G1J = (FQ(vk.ic[0][0]), FQ(vk.ic[0][1]), FQ.one())
    for scalar, (x, y) in zip(inputs, vk.ic[1:], strict=True):
        acc = add(acc, multiply((FQ(x), FQ(y), FQ.one()), scalar))
    if is_inf(acc):
        return (0, 0)
    x_, y_ = normalize(acc)
    return (int(x_), int(y_))


def pairing_input(vk: VerifyingKey, inputs: Sequence[int], words: Words) -> bytes:
    """The 768 bytes the generated verifier hands the precompile, built the same way:
    (-A, B), (alpha, beta), (vk_x, gamma), (C, delta), with -A.y = (q - A.y) mod 2^256 mod q."""
    ax, ay, bx1, bx0, by1, by0, cx, cy = words
    neg_ay = ((Q - ay) % WORD_LIMIT) % Q
    vx, vy = vk_x(vk, inputs)
    return b"".join(
        [
            _word(ax),
            _word(neg_ay),
            _word(bx1),
            _word(bx0),
            _word(by1),
            _word(by0),
            _word(vk.alpha_1[0]),
            _word(vk.alpha_1[1]),
            _g2_bytes(vk.beta_2),
            _word(vx),
            _word(vy),
            _g2_bytes(vk.gamma_2),
            _word(cx),
            _word(cy),
            _g2_bytes(vk.delta_2),
        ]
    )


def solidity_verdict(
    chain: Chain, verifier: Contract, vk: VerifyingKey, inputs: Sequence[int], words: Words
) -> str:
    """The generated verifier's answer (eth_call), and which check gave it.

    ACCEPT; FIELD (a public input >= r: ``checkField`` answers false before any
    precompile); PRECOMPILE (ecPairing refuses its input: a coordinate >= q, a point off
    its curve or, for G2, outside the subgroup; the verifier turns the failed call into
    false); PAIRING (every point well formed, the product is not 1).
    """
    ok = bool(verifier.call("verifyProof", *calldata_of(words), list(inputs)))
    if any(v >= R for v in inputs):
        assert not ok
        return FIELD
    try:
        out = chain.call(PAIRING_PRECOMPILE, pairing_input(vk, inputs, words))
    except ChainError as exc:
        assert "PrecompileError" in str(exc) or "revert" in str(exc).lower(), str(exc)
        assert not ok
        return PRECOMPILE
    assert len(out) == 32
    assert ok == (int.from_bytes(out, "big") == 1), "the contract and the precompile disagree"
    return ACCEPT if ok else PAIRING


def constraint_signals(names: Mapping[str, int], r1cs: Any, index: int) -> set[str]:
    """Names of the signals constraint ``index`` touches (to say which check rejects)."""
    by_wire: dict[int, str] = {}
    for name, wire in names.items():
        by_wire.setdefault(wire, name)
    wires: set[int] = set()
    for lc in (r1cs.a, r1cs.b, r1cs.c):
        wires |= {int(w) for w, c in zip(lc.wire, lc.constraint, strict=True) if c == index}
    return {by_wire.get(w, "one" if w == 0 else f"wire{w}") for w in wires}
