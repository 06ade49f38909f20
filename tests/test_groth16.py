"""Off-chain Groth16 verifier (verifier.groth16) against snarkjs.

A session fixture compiles tests/fixtures/verifier/mul.circom (public signals
[out, a, b]), runs a tiny *development-only* Groth16 setup with snarkjs (2^8 powers of
tau, local entropy) and makes proofs with `snarkjs groth16 fullprove`; everything is cached
under build/test-verifier/<content hash>/.  Each tampered proof or signal list is then
judged by our verifier and by `snarkjs groth16 verify` (exit 0 valid / 1 invalid), and the
test pins both answers, including where we are deliberately stricter than snarkjs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128.optimized_curve import (
    G1,
    G2,
    add,
    b2,
    is_inf,
    multiply,
    neg,
    normalize,
    twist,
)
from py_ecc.optimized_bn128.optimized_pairing import (
    cast_point_to_fq12,
    final_exponentiate,
    miller_loop,
)
from tooling.snarkjs_judge import SnarkjsJudge

from verifier import groth16 as g16
from verifier.groth16 import Proof, VerifyingKey, parse_public_signals, verify
from zkmargin.errors import ArtifactError, VerifierError
from zkmargin.paths import build_dir, node_bin, project_root
from zkmargin.units import BN254_BASE_FIELD as Q
from zkmargin.units import SNARK_SCALAR_FIELD as R

FIXTURES = Path("tests") / "fixtures" / "verifier"
CIRCUIT = "mul"
INPUTS = {"main": "input.json", "zero_b": "input_zero_b.json"}
RECIPE = "groth16-dev-ceremony-v1"  # bump to invalidate the cache when the steps change
ENTROPY_1 = "zkmargin test-verifier phase1 entropy (development only)"
ENTROPY_2 = "zkmargin test-verifier phase2 entropy (development only)"


# ----------------------------------------------------------------------------- fixture


@dataclass(frozen=True)
class Artifacts:
    vk_path: Path
    vk_json: dict[str, Any]
    proofs: dict[str, dict[str, Any]]  # name -> proof.json
    publics: dict[str, list[Any]]  # name -> public.json


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, cwd=project_root(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"{argv[:3]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    return proc


def _out_rel() -> Path:
    """Build dir relative to the project root (circom runs in a WASI sandbox)."""
    rel = Path(os.path.relpath(build_dir() / "test-verifier", project_root()))
    return rel if rel.parts and rel.parts[0] != ".." else Path("build") / "test-verifier"


def _cache_key() -> str:
    root = project_root()
    digest = hashlib.sha256(RECIPE.encode())
    for rel in [
        FIXTURES / f"{CIRCUIT}.circom",
        *(FIXTURES / f for f in INPUTS.values()),
        Path("node_modules/snarkjs/package.json"),
        Path("node_modules/circom2/package.json"),
    ]:
        digest.update(str(rel).encode() + b"\0" + (root / rel).read_bytes())
    return digest.hexdigest()[:16]


def _build(work_rel: Path) -> None:
    root = project_root()
    work = root / work_rel
    snarkjs = str(node_bin("snarkjs"))
    _run(
        [
            str(node_bin("circom2")),
            str(FIXTURES / f"{CIRCUIT}.circom"),
            "--r1cs",
            "--wasm",
            "--sym",
            "--O2",
            "-l",
            "node_modules",
            "-o",
            str(work_rel),
        ],
        timeout=300,
    )

    def sj(*args: str | Path, timeout: float = 600) -> None:
        _run([snarkjs, *map(str, args)], timeout=timeout)

    sj("powersoftau", "new", "bn128", "8", work / "pot_0.ptau")
    sj(
        "powersoftau",
        "contribute",
        work / "pot_0.ptau",
        work / "pot_1.ptau",
        "--name=dev",
        f"-e={ENTROPY_1}",
    )
    sj("powersoftau", "prepare", "phase2", work / "pot_1.ptau", work / "pot_final.ptau")
    sj("groth16", "setup", work / f"{CIRCUIT}.r1cs", work / "pot_final.ptau", work / "c_0.zkey")
    sj("zkey", "contribute", work / "c_0.zkey", work / "c_1.zkey", "--name=dev", f"-e={ENTROPY_2}")
    sj("zkey", "export", "verificationkey", work / "c_1.zkey", work / "verification_key.json")
    wasm = work / f"{CIRCUIT}_js" / f"{CIRCUIT}.wasm"
    for name, input_file in INPUTS.items():
        sj(
            "groth16",
            "fullprove",
            root / FIXTURES / input_file,
            wasm,
            work / "c_1.zkey",
            work / f"proof_{name}.json",
            work / f"public_{name}.json",
        )
    (work / "DEVELOPMENT-ONLY").write_text("local test ceremony; never use these keys\n")


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    root = project_root()
    final_rel = _out_rel() / _cache_key()
    final = root / final_rel
    if not (final / "DEVELOPMENT-ONLY").exists():
        work_rel = _out_rel() / f"tmp-{uuid.uuid4().hex[:12]}"
        (root / work_rel).mkdir(parents=True)
        try:
            _build(work_rel)
            try:
                os.rename(root / work_rel, final)  # atomic: a concurrent run may have won
            except OSError:
                if not (final / "DEVELOPMENT-ONLY").exists():
                    raise
        finally:
            shutil.rmtree(root / work_rel, ignore_errors=True)
    vk_path = final / "verification_key.json"
    return Artifacts(
        vk_path=vk_path,
        vk_json=json.loads(vk_path.read_text()),
        proofs={n: json.loads((final / f"proof_{n}.json").read_text()) for n in INPUTS},
        publics={n: json.loads((final / f"public_{n}.json").read_text()) for n in INPUTS},
    )


@pytest.fixture(scope="session")
def vk(artifacts: Artifacts) -> VerifyingKey:
    return VerifyingKey.load(artifacts.vk_path)


@pytest.fixture(scope="session")
def judge() -> Iterator[SnarkjsJudge]:
    with SnarkjsJudge() as running:
        yield running


def snarkjs_cli(vk_path: Path, public: Any, proof: Any, tmp_path: Path) -> int:
    """Exit code of the real `snarkjs groth16 verify` on JSON written to tmp_path."""
    pub_file, proof_file = tmp_path / "public.json", tmp_path / "proof.json"
    pub_file.write_text(json.dumps(public))
    proof_file.write_text(json.dumps(proof))
    proc = subprocess.run(
        [
            str(node_bin("snarkjs")),
            "groth16",
            "verify",
            str(vk_path),
            str(pub_file),
            str(proof_file),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    if proc.returncode == 0:
        assert "OK!" in proc.stdout
    return proc.returncode


def snarkjs_verify(judge: SnarkjsJudge, vk: Any, public: Any, proof: Any) -> int:
    """The exit code `snarkjs groth16 verify` gives these files (see tooling.snarkjs_judge)."""
    return judge.exit_code(json.dumps(vk), json.dumps(public), json.dumps(proof))


def ours(vk: VerifyingKey, public: Any, proof: Any) -> str:
    """'valid', 'invalid' or 'error: <message>' for our verifier on JSON input."""
    try:
        return "valid" if verify(vk, Proof.from_json(proof), public) else "invalid"
    except VerifierError as exc:
        return f"error: {exc}"


# ------------------------------------------------------------------- helper geometry


def fq2_sqrt(a: FQ2) -> FQ2 | None:
    """A square root in Fq2 (q = 3 mod 4; Adj & Rodriguez-Henriquez, algorithm 9)."""
    a1 = a ** ((Q - 3) // 4)
    alpha = a1 * a1 * a
    x0 = a1 * a
    minus_one = FQ2([Q - 1, 0])
    if alpha**Q * alpha == minus_one:
        return None
    root = FQ2([0, 1]) * x0 if alpha == minus_one else (alpha + FQ2.one()) ** ((Q - 1) // 2) * x0
    assert root * root == a
    return root


def twist_point_outside_g2() -> list[list[str]]:
    """A point on the twist curve whose order is not r (snarkjs JSON layout)."""
    for x0 in range(1, 100):
        x = FQ2([x0, 1])
        y = fq2_sqrt(x * x * x + b2)
        if y is None:
            continue
        point = (x, y, FQ2.one())
        assert y * y == x * x * x + b2
        assert not is_inf(multiply(point, R))
        return [[str(int(c)) for c in x.coeffs], [str(int(c)) for c in y.coeffs], ["1", "0"]]
    raise AssertionError("no twist point found")


def g1_json(point: tuple[FQ, FQ, FQ]) -> list[str]:
    x, y = normalize(point)
    return [str(int(x)), str(int(y)), "1"]


def g2_ints(point: tuple[FQ2, FQ2, FQ2]) -> g16.G2Affine:
    x, y = normalize(point)
    return ((int(x.coeffs[0]), int(x.coeffs[1])), (int(y.coeffs[0]), int(y.coeffs[1])))


def g1_ints(point: tuple[FQ, FQ, FQ]) -> g16.G1Affine:
    x, y = normalize(point)
    return (int(x), int(y))


# --------------------------------------------------------------------- tamper cases

Case = Callable[[list[Any], dict[str, Any]], tuple[list[Any], dict[str, Any]]]


def _sig(i: int, f: Callable[[int], Any]) -> Case:
    def case(pub: list[Any], proof: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        pub = list(pub)
        pub[i] = f(int(pub[i]))
        return pub, proof

    return case


def _pt(key: str, f: Callable[[Any], Any]) -> Case:
    def case(pub: list[Any], proof: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        proof = copy.deepcopy(proof)
        proof[key] = f(proof[key])
        return pub, proof

    return case


def _neg_y_g1(p: list[str]) -> list[str]:
    return [p[0], str(Q - int(p[1])), p[2]]


def _neg_y_g2(p: list[list[str]]) -> list[list[str]]:
    return [p[0], [str((Q - int(c)) % Q) for c in p[1]], p[2]]


def _swap_ac(pub: list[Any], proof: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    proof = copy.deepcopy(proof)
    proof["pi_a"], proof["pi_c"] = proof["pi_c"], proof["pi_a"]
    return pub, proof


def _drop(key: str) -> Case:
    return lambda pub, proof: (pub, {k: v for k, v in proof.items() if k != key})


VALID, INVALID = "valid", "invalid"
ACCEPT, REJECT = 0, 1  # snarkjs exit codes

# (id, tamper, our expected outcome: VALID / INVALID / error-message fragment, snarkjs rc)
# Public signals of the main proof: [out=1105, a=1000, b=3].
CASES: list[tuple[str, Case, str, int]] = [
    ("untampered", lambda pub, proof: (pub, proof), VALID, ACCEPT),
    *[(f"signal{i}+1", _sig(i, lambda v: str(v + 1)), INVALID, REJECT) for i in range(3)],
    *[
        (f"signal{i}+r", _sig(i, lambda v: str(v + R)), f"public signal {i}: ", REJECT)
        for i in range(3)
    ],
    ("signal0=r", _sig(0, lambda v: str(R)), "is >= the scalar field order r", REJECT),
    # non-canonical spellings of the right values (a = 1000, b = 3)
    ("signal2='03'", _sig(2, lambda v: "03"), "not a canonical decimal", ACCEPT),
    ("signal1='1e3'", _sig(1, lambda v: "1e3"), "not a canonical decimal", REJECT),
    ("signal1='0x3e8'", _sig(1, lambda v: "0x3e8"), "not a canonical decimal", ACCEPT),
    ("signal2=' 3'", _sig(2, lambda v: " 3"), "not a canonical decimal", REJECT),
    ("signal2='+3'", _sig(2, lambda v: "+3"), "not a canonical decimal", REJECT),
    ("signal1='-1'", _sig(1, lambda v: "-1"), "not a canonical decimal", REJECT),
    ("signal1=-1(int)", _sig(1, lambda v: -1), "public signal 1: -1 is negative", REJECT),
    ("signal1=1000.0", _sig(1, lambda v: 1000.0), "got float", ACCEPT),
    ("signal1=1000(int)", _sig(1, lambda v: 1000), VALID, ACCEPT),
    ("signal1=true", _sig(1, lambda v: True), "got bool", REJECT),
    # signal count
    ("too-few-signals", lambda pub, proof: (pub[:2], proof), "expected 3", REJECT),
    ("too-many-signals", lambda pub, proof: ([*pub, "0"], proof), "expected 3", REJECT),
    # A
    ("A-negated", _pt("pi_a", _neg_y_g1), INVALID, REJECT),
    (
        "A-x+1-off-curve",
        _pt("pi_a", lambda p: [str(int(p[0]) + 1), *p[1:]]),
        "pi_a is not on the BN254 curve",
        REJECT,
    ),
    ("A-(0,0)", _pt("pi_a", lambda p: ["0", "0", "1"]), "pi_a is not on the BN254 curve", REJECT),
    ("A-infinity", _pt("pi_a", lambda p: ["0", "1", "0"]), "pi_a is the point at infinity", REJECT),
    ("A-x+q", _pt("pi_a", lambda p: [str(int(p[0]) + Q), *p[1:]]), "pi_a[0]: ", ACCEPT),
    (
        "A-y+q",
        _pt("pi_a", lambda p: [p[0], str(int(p[1]) + Q), p[2]]),
        "is >= the base field prime q",
        ACCEPT,
    ),
    (
        "A-x+2^256",
        _pt("pi_a", lambda p: [str(int(p[0]) + 2**256), *p[1:]]),
        "is >= the base field prime q",
        ACCEPT,
    ),
    ("A-z=2", _pt("pi_a", lambda p: [*p[:2], "2"]), "pi_a: z must be 1", REJECT),
    ("A-affine-pair", _pt("pi_a", lambda p: p[:2]), "pi_a: expected 3 elements", ACCEPT),
    ("A-C-swapped", _swap_ac, INVALID, REJECT),
    # B
    ("B-negated", _pt("pi_b", _neg_y_g2), INVALID, REJECT),
    (
        "B-c0c1-swapped",
        _pt("pi_b", lambda p: [p[0][::-1], p[1][::-1], p[2]]),
        "pi_b is not on the BN254 twist curve",
        REJECT,
    ),
    (
        "B-x.c0+1",
        _pt("pi_b", lambda p: [[str(int(p[0][0]) + 1), p[0][1]], *p[1:]]),
        "pi_b is not on the BN254 twist curve",
        REJECT,
    ),
    (
        "B-not-in-G2",
        _pt("pi_b", lambda p: twist_point_outside_g2()),
        "pi_b is on the twist curve but not in the order-r subgroup G2",
        REJECT,
    ),
    (
        "B-infinity",
        _pt("pi_b", lambda p: [["0", "0"], ["1", "0"], ["0", "0"]]),
        "pi_b is the point at infinity",
        REJECT,
    ),
    (
        "B-x.c1+q",
        _pt("pi_b", lambda p: [[p[0][0], str(int(p[0][1]) + Q)], *p[1:]]),
        "pi_b[0][1]: ",
        ACCEPT,
    ),
    # C
    ("C-negated", _pt("pi_c", _neg_y_g1), INVALID, REJECT),
    (
        "C-y+1-off-curve",
        _pt("pi_c", lambda p: [p[0], str(int(p[1]) + 1), p[2]]),
        "pi_c is not on the BN254 curve",
        REJECT,
    ),
    ("C-infinity", _pt("pi_c", lambda p: ["0", "1", "0"]), "pi_c is the point at infinity", REJECT),
    # JSON shape
    ("no-pi_c", _drop("pi_c"), "proof: missing 'pi_c'", REJECT),
    (
        "A-coordinate-list",
        _pt("pi_a", lambda p: [p[:1], *p[1:]]),
        "pi_a[0]: expected a decimal",
        REJECT,
    ),
]


@pytest.mark.parametrize(
    ("tamper", "expected", "snarkjs_rc"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_tampering_ours_vs_snarkjs(
    artifacts: Artifacts,
    vk: VerifyingKey,
    judge: SnarkjsJudge,
    tamper: Case,
    expected: str,
    snarkjs_rc: int,
) -> None:
    assert artifacts.publics["main"] == ["1105", "1000", "3"]
    pub, proof = tamper(list(artifacts.publics["main"]), copy.deepcopy(artifacts.proofs["main"]))
    outcome = ours(vk, pub, proof)
    if expected in (VALID, INVALID):
        assert outcome == expected
    else:
        assert outcome.startswith("error: ") and expected in outcome, outcome
    assert snarkjs_verify(judge, artifacts.vk_json, pub, proof) == snarkjs_rc


def test_dropping_a_trailing_zero_signal(
    artifacts: Artifacts, vk: VerifyingKey, judge: SnarkjsJudge
) -> None:
    """snarkjs uses len(public) terms, so [out, a] verifies a proof of [out, a, 0]."""
    pub, proof = artifacts.publics["zero_b"], artifacts.proofs["zero_b"]
    assert pub == ["1000", "1000", "0"]
    assert ours(vk, pub, proof) == VALID
    assert snarkjs_verify(judge, artifacts.vk_json, pub, proof) == ACCEPT
    assert ours(vk, pub[:2], proof).startswith("error: public signals: expected 3")
    assert snarkjs_verify(judge, artifacts.vk_json, pub[:2], proof) == ACCEPT


def test_proof_for_other_signals_is_rejected(artifacts: Artifacts, vk: VerifyingKey) -> None:
    main = Proof.from_json(artifacts.proofs["main"])
    other = Proof.from_json(artifacts.proofs["zero_b"])
    assert verify(vk, main, artifacts.publics["main"])
    assert verify(vk, other, artifacts.publics["zero_b"])
    assert not verify(vk, main, artifacts.publics["zero_b"])
    assert not verify(vk, other, artifacts.publics["main"])


# ------------------------------------------------------------------ verifying key


def _vk_set(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def change(vk_json: dict[str, Any]) -> dict[str, Any]:
        vk_json = copy.deepcopy(vk_json)
        vk_json[key] = value(vk_json[key]) if callable(value) else value
        return vk_json

    return change


VK_CASES: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str, int]] = [
    ("nPublic-2", _vk_set("nPublic", 2), "IC has 4 points but nPublic is 2", ACCEPT),
    ("nPublic-'3'", _vk_set("nPublic", "3"), "nPublic must be a non-negative integer", ACCEPT),
    ("IC-extra", _vk_set("IC", lambda ic: [*ic, ic[0]]), "IC has 5 points", ACCEPT),
    ("protocol-plonk", _vk_set("protocol", "plonk"), "protocol 'plonk' is not supported", ACCEPT),
    (
        "alpha-off-curve",
        _vk_set("vk_alpha_1", lambda p: [p[0], str(int(p[1]) + 1), p[2]]),
        "vk_alpha_1 is not on the BN254 curve",
        REJECT,
    ),
    (
        "gamma-c0c1-swapped",
        _vk_set("vk_gamma_2", lambda p: [p[0][::-1], p[1][::-1], p[2]]),
        "vk_gamma_2 is not on the BN254 twist curve",
        REJECT,
    ),
    (
        "delta-not-in-G2",
        _vk_set("vk_delta_2", lambda p: twist_point_outside_g2()),
        "vk_delta_2 is on the twist curve but not in the order-r subgroup",
        REJECT,
    ),
    (
        "IC1-infinity",
        _vk_set("IC", lambda ic: [ic[0], ["0", "1", "0"], *ic[2:]]),
        "IC[1] is the point at infinity",
        REJECT,
    ),
    (
        "IC0-x+q",
        _vk_set("IC", lambda ic: [[str(int(ic[0][0]) + Q), *ic[0][1:]], *ic[1:]]),
        "IC[0][0]: ",
        ACCEPT,
    ),
]


@pytest.mark.parametrize(
    ("change", "message", "snarkjs_rc"), [c[1:] for c in VK_CASES], ids=[c[0] for c in VK_CASES]
)
def test_bad_verifying_key(
    artifacts: Artifacts,
    judge: SnarkjsJudge,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message: str,
    snarkjs_rc: int,
) -> None:
    bad = change(artifacts.vk_json)
    with pytest.raises(VerifierError, match=None) as info:
        VerifyingKey.from_json(bad)
    assert message in str(info.value)
    rc = snarkjs_verify(judge, bad, artifacts.publics["main"], artifacts.proofs["main"])
    assert rc == snarkjs_rc


def test_verifying_key_fields(artifacts: Artifacts, vk: VerifyingKey) -> None:
    assert vk.n_public == artifacts.vk_json["nPublic"] == 3
    assert len(vk.ic) == 4
    assert vk.gamma_2 == g2_ints(G2)  # snarkjs' gamma is the generator, in (c0, c1) order
    assert VerifyingKey.from_json(artifacts.vk_json) == vk
    assert hash(VerifyingKey.from_json(artifacts.vk_json)) == hash(vk)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="verification key not found"):
        VerifyingKey.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(VerifierError, match="not valid JSON"):
        Proof.load(tmp_path / "bad.json")
    with pytest.raises(VerifierError, match="proof: expected a JSON object, got list"):
        Proof.from_json([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(VerifierError, match="verification key: missing 'protocol'"):
        VerifyingKey.from_json({})


def test_direct_construction_is_checked() -> None:
    good_g1, good_g2 = g1_ints(G1), g2_ints(G2)
    Proof(pi_a=good_g1, pi_b=good_g2, pi_c=good_g1)
    with pytest.raises(VerifierError, match="pi_c is not on the BN254 curve"):
        Proof(pi_a=good_g1, pi_b=good_g2, pi_c=(1, 3))
    with pytest.raises(VerifierError, match=r"pi_a\[0\]: .* is >= the base field prime q"):
        Proof(pi_a=(1 + Q, 2), pi_b=good_g2, pi_c=good_g1)
    with pytest.raises(VerifierError, match="IC: expected a non-empty sequence"):
        VerifyingKey(good_g1, good_g2, good_g2, good_g2, ())
    # lists are normalised to tuples, so the key stays hashable for the per-key cache
    vk = VerifyingKey(good_g1, good_g2, good_g2, good_g2, [good_g1])  # type: ignore[arg-type]
    assert vk.ic == (good_g1,) and vk.n_public == 0
    hash(vk)


# -------------------------------------------------------------- public signal parsing


@pytest.mark.parametrize(
    ("value", "parsed"), [("0", 0), ("7", 7), (7, 7), (str(R - 1), R - 1), (R - 1, R - 1)]
)
def test_parse_public_signals_accepts(value: Any, parsed: int) -> None:
    assert parse_public_signals([value], 1) == [parsed]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("01", "not a canonical decimal"),
        ("00", "not a canonical decimal"),
        ("1e3", "not a canonical decimal"),
        ("-1", "not a canonical decimal"),
        ("0x10", "not a canonical decimal"),
        ("", "not a canonical decimal"),
        ("1_000", "not a canonical decimal"),
        ("\u0661", "not a canonical decimal"),  # ARABIC-INDIC DIGIT ONE: str.isdigit() is True
        ("1\n", "not a canonical decimal"),
        ("9" * 5000, "is >= the scalar field order r"),
        (str(R), "is >= the scalar field order r"),
        (R, "is >= the scalar field order r"),
        (-1, "is negative"),
        (1.0, "got float"),
        (None, "got NoneType"),
        (False, "got bool"),
        ([1], "got list"),
    ],
)
def test_parse_public_signals_rejects(value: Any, message: str) -> None:
    with pytest.raises(VerifierError, match="public signal 1: ") as info:
        parse_public_signals(["5", value], 2)
    assert message in str(info.value)


def test_parse_public_signals_shape() -> None:
    with pytest.raises(VerifierError, match=r"expected 2 .*nPublic.*, got 3"):
        parse_public_signals(["1", "2", "3"], 2)
    with pytest.raises(VerifierError, match="expected a JSON array, got str"):
        parse_public_signals("12", 2)
    with pytest.raises(VerifierError, match="expected a JSON array, got dict"):
        parse_public_signals({"0": "1"}, 1)  # type: ignore[arg-type]
    assert parse_public_signals((), 0) == []


# ------------------------------------------------------- pairing arithmetic vs py_ecc

scalars = st.integers(min_value=1, max_value=R - 1)


@settings(max_examples=4, deadline=None)
@given(scalars, scalars)
def test_miller_product_equals_py_ecc(s: int, t: int) -> None:
    p, q = multiply(G1, s), multiply(G2, t)
    ours_f = g16._miller_product([(g1_ints(p), g16._prepare(g2_ints(q)))])
    x, y = normalize(p)
    qx, qy = normalize(q)
    ref = miller_loop(
        twist((qx, qy, FQ2.one())), cast_point_to_fq12((x, y, FQ.one())), final_exponentiate=False
    )
    assert ours_f == ref


@settings(max_examples=4, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=Q - 1), min_size=12, max_size=12))
def test_final_exponentiation_equals_py_ecc(coeffs: list[int]) -> None:
    f = FQ12(coeffs)
    if f == FQ12.zero():
        return
    assert g16._final_exponentiation(f) == final_exponentiate(f)


@settings(max_examples=3, deadline=None)
@given(scalars, scalars)
def test_multi_pairing_bilinear(s: int, t: int) -> None:
    """e(sP, tQ) * e(-stP, Q) == 1, with one final exponentiation."""
    prepared_tq = g16._prepare(g2_ints(multiply(G2, t)))
    prepared_q = g16._prepare(g2_ints(G2))
    product = g16._miller_product(
        [
            (g1_ints(multiply(G1, s)), prepared_tq),
            (g1_ints(neg(multiply(G1, s * t % R))), prepared_q),
        ]
    )
    assert g16._final_exponentiation(product) == FQ12.one()
    # and a wrong scalar breaks it
    product = g16._miller_product(
        [
            (g1_ints(multiply(G1, s)), prepared_tq),
            (g1_ints(neg(multiply(G1, (s * t + 1) % R))), prepared_q),
        ]
    )
    assert g16._final_exponentiation(product) != FQ12.one()


@settings(max_examples=10, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=R - 1), min_size=0, max_size=4))
def test_linear_combination(ks: list[int]) -> None:
    points = [multiply(G1, i + 2) for i in range(len(ks))]
    expected = (FQ.one(), FQ.one(), FQ.zero())
    for k, point in zip(ks, points, strict=True):
        expected = add(expected, multiply(point, k))
    got = g16._linear_combination(points, ks)
    assert is_inf(got) == is_inf(expected)
    if not is_inf(got):
        assert normalize(got) == normalize(expected)


def test_subgroup_check() -> None:
    assert g16._g2_in_subgroup(g2_ints(G2))
    assert g16._g2_in_subgroup(g2_ints(multiply(G2, 12345)))
    outside = twist_point_outside_g2()
    point = tuple((int(c[0]), int(c[1])) for c in outside[:2])
    assert not g16._g2_in_subgroup(point)  # type: ignore[arg-type]


def test_random_points_do_not_verify(vk: VerifyingKey) -> None:
    rng = random.Random(1)
    for _ in range(2):
        fake = Proof(
            pi_a=g1_ints(multiply(G1, rng.randrange(1, R))),
            pi_b=g2_ints(multiply(G2, rng.randrange(1, R))),
            pi_c=g1_ints(multiply(G1, rng.randrange(1, R))),
        )
        assert verify(vk, fake, ["1105", "1000", "3"]) is False


def test_hand_made_key_and_vk_x_at_infinity() -> None:
    """A key with known logs: alpha = a G1, beta = b G2, gamma = G2, delta = d G2.

    With IC = (P, -P) and signal 1, vk_x = O and the gamma term drops out, so
    A = (ab + d) G1, B = G2, C = G1 satisfies e(A, B) = e(alpha, beta) e(C, delta).
    """
    a, b, d = 11, 13, 17
    p = g1_ints(multiply(G1, 5))
    key = VerifyingKey(
        alpha_1=g1_ints(multiply(G1, a)),
        beta_2=g2_ints(multiply(G2, b)),
        gamma_2=g2_ints(G2),
        delta_2=g2_ints(multiply(G2, d)),
        ic=(p, (p[0], Q - p[1])),
    )
    proof = Proof(pi_a=g1_ints(multiply(G1, a * b + d)), pi_b=g2_ints(G2), pi_c=g1_ints(G1))
    assert verify(key, proof, ["1"]) is True
    assert verify(key, proof, ["2"]) is False  # vk_x = -P, no longer cancels
    # and with signal 2 the matching proof carries e(-P, G2): A = (ab + d - 5) G1
    proof2 = Proof(pi_a=g1_ints(multiply(G1, a * b + d - 5)), pi_b=g2_ints(G2), pi_c=g1_ints(G1))
    assert verify(key, proof2, [2]) is True


# ------------------------------------------------------------------ cache and timing


def test_per_key_cache(artifacts: Artifacts, vk: VerifyingKey) -> None:
    proof = Proof.from_json(artifacts.proofs["main"])
    verify(vk, proof, artifacts.publics["main"])
    before = g16._key_cache.cache_info()
    assert verify(VerifyingKey.from_json(artifacts.vk_json), proof, artifacts.publics["main"])
    after = g16._key_cache.cache_info()
    assert after.hits == before.hits + 1 and after.misses == before.misses


AGREEMENT_CASES = ["untampered", "signal2='03'", "signal1=true", "signal1=1000.0", "A-negated"]


@pytest.mark.parametrize("case_id", AGREEMENT_CASES)
def test_the_judge_agrees_with_the_snarkjs_cli(
    artifacts: Artifacts, judge: SnarkjsJudge, tmp_path: Path, case_id: str
) -> None:
    """The in-process judge gives the CLI's exit code (so the cases above may use it)."""
    tamper = {c[0]: c[1] for c in CASES}.get(case_id)
    pub, proof = list(artifacts.publics["main"]), copy.deepcopy(artifacts.proofs["main"])
    if tamper is not None:
        pub, proof = tamper(pub, proof)
    judged = snarkjs_verify(judge, artifacts.vk_json, pub, proof)
    assert judged == snarkjs_cli(artifacts.vk_path, pub, proof, tmp_path)
