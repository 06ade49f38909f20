"""``zkmargin setup``: compile the circuits and run a development trusted setup.

Every step is cached by content hash under the build directory, so a second run with
nothing changed only re-hashes files:

* ``circuits/<name>-<src>/``   r1cs, sym, wasm   keyed by the circuit sources, circomlib
                                                 and circom versions and flags
* ``ptau/dev-<power>.ptau``    local Powers of Tau (or the user's ``--ptau`` file)
* ``keys/<name>-<key>/``       zkey, verification key, Solidity verifier, keyed by the
                               r1cs and ptau hashes

The local ceremony is for development only: one contributor (this machine) knows
nothing of the toxic waste only if this machine forgot it, which nobody else can check.
Randomness comes from :mod:`secrets` and reaches snarkjs on stdin, never argv or logs;
snarkjs mixes in its own.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.r1cs import read_ptau_power, read_r1cs_header
from prover.solidity import export_contracts
from zkmargin.artifacts import MANIFEST_NAME, MANIFEST_VERSION, Manifest, load_manifest, sha256_file
from zkmargin.errors import InputError, SetupError
from zkmargin.jsonio import write_json
from zkmargin.paths import build_dir, node_modules, project_root
from zkmargin.toolrun import run_tool

CIRCOM_FLAGS = ("--r1cs", "--wasm", "--sym", "--O2")
MIN_POWER = 8
COMPILE_TIMEOUT = 600.0
CEREMONY_TIMEOUT = 3600.0

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class SetupReport:
    manifest: Manifest
    seconds: float
    steps_run: list[str]


_INCLUDE = re.compile(r'^\s*include\s+"([^"]+)"\s*;', re.MULTILINE)


def circuit_sources(entry_file: Path) -> list[Path]:
    """The entry file and every project file it includes, transitively (sorted).

    Includes that resolve outside the project's circuits (circomlib through ``-l
    node_modules``) are covered by the pinned package version instead. Only this closure
    keys the build, so adding an unrelated circuit never invalidates a key.
    """
    root = project_root().resolve()
    seen: set[Path] = set()
    todo = [(root / entry_file).resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _INCLUDE.findall(path.read_text(encoding="utf-8")):
            target = (path.parent / name).resolve()
            if target.is_file() and target.is_relative_to(root / "circuits"):
                todo.append(target)
    return sorted(seen)


def circuit_sources_hash(name: str, entry: dict[str, Any]) -> str:
    """Hash of everything the compiled circuit depends on."""
    root = project_root()
    digest = hashlib.sha256()
    digest.update(json.dumps({"name": name, "entry": entry, "flags": CIRCOM_FLAGS}).encode())
    for pkg in ("circom2", "circomlib"):
        meta = json.loads((node_modules() / pkg / "package.json").read_text())
        digest.update(f"{pkg}@{meta['version']}".encode())
    for path in circuit_sources(Path(entry["file"])):
        digest.update(str(path.relative_to(root.resolve())).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _entropy() -> str:
    return secrets.token_hex(32) + "\n"


def compile_circuit(name: str, entry: dict[str, Any], build: Path, log: Log) -> tuple[Path, bool]:
    """Compile one circuit with circom --O2 into a content-addressed directory."""
    out = build / "circuits" / f"{name}-{circuit_sources_hash(name, entry)[:16]}"
    if (out / "done").exists():
        return out, False
    root = project_root()
    # circom runs in a WASI sandbox that only sees the working directory: compile into a
    # scratch directory inside the project with relative paths, then move the outputs.
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".circom-"))
    try:
        log(f"compiling {entry['file']} (circom --O2)")
        run_tool(
            "circom2",
            [entry["file"], *CIRCOM_FLAGS, "-l", "node_modules", "-o", scratch.relative_to(root)],
            timeout=COMPILE_TIMEOUT,
            error=SetupError,
        )
        stem = Path(entry["file"]).stem
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{name}-"))
        shutil.move(scratch / f"{stem}.r1cs", staging / "circuit.r1cs")
        shutil.move(scratch / f"{stem}.sym", staging / "circuit.sym")
        shutil.move(scratch / f"{stem}_js" / f"{stem}.wasm", staging / "circuit.wasm")
        (staging / "done").write_text("ok\n")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(staging, out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out, True


def required_power(n_constraints: int, n_public: int) -> int:
    """Smallest ptau power whose domain holds the circuit (snarkjs adds nPublic+1 rows)."""
    return max(MIN_POWER, math.ceil(math.log2(n_constraints + n_public + 1)))


def dev_ptau(power: int, build: Path, log: Log) -> tuple[Path, dict[str, Any], bool]:
    """A development Powers of Tau of ``power``, made here once and cached."""
    folder = build / "ptau"
    final = folder / f"dev-{power}.ptau"
    meta_path = folder / f"dev-{power}.json"
    if final.exists() and meta_path.exists():
        return final, json.loads(meta_path.read_text()), False
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=folder, prefix=".ceremony-"))
    try:
        log(f"powers of tau 2^{power}: new")
        run_tool(
            "snarkjs",
            ["powersoftau", "new", "bn128", str(power), work / "p0.ptau"],
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        log(f"powers of tau 2^{power}: contribute (fresh randomness, not kept)")
        run_tool(
            "snarkjs",
            [
                "powersoftau",
                "contribute",
                work / "p0.ptau",
                work / "p1.ptau",
                "--name=zkmargin development contribution",
            ],
            stdin=_entropy(),
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        log(f"powers of tau 2^{power}: prepare phase 2 (the slow step)")
        run_tool(
            "snarkjs",
            ["powersoftau", "prepare", "phase2", work / "p1.ptau", work / "final.ptau"],
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        os.replace(work / "final.ptau", final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = {
        "source": "development",
        "development_only": True,
        "power": power,
        "contributions": 1,
        "sha256": sha256_file(final),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    write_json(meta_path, meta)
    return final, meta, True


def external_ptau(path: Path, power: int) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"--ptau {path}: no such file")
    have = read_ptau_power(path)
    if have < power:
        raise InputError(f"--ptau {path}: power 2^{have} is too small; the circuits need 2^{power}")
    return {
        "source": "external",
        "development_only": False,
        "power": have,
        "path": str(path.resolve()),
        "sha256": sha256_file(path),
    }


def make_keys(
    name: str,
    r1cs: Path,
    ptau: Path,
    ptau_sha: str,
    build: Path,
    log: Log,
) -> tuple[Path, bool]:
    """Phase 2 for one circuit: zkey with one fresh contribution, vkey, Solidity verifier."""
    key_id = hashlib.sha256((sha256_file(r1cs) + ptau_sha).encode()).hexdigest()[:16]
    out = build / "keys" / f"{name}-{key_id}"
    if (out / "done").exists():
        return out, False
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{name}-"))
    try:
        log(f"{name}: groth16 setup")
        run_tool(
            "snarkjs",
            ["groth16", "setup", r1cs, ptau, staging / "c0.zkey"],
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        log(f"{name}: zkey contribute (fresh randomness, not kept)")
        run_tool(
            "snarkjs",
            [
                "zkey",
                "contribute",
                staging / "c0.zkey",
                staging / "circuit.zkey",
                f"--name=zkmargin {name} development contribution",
            ],
            stdin=_entropy(),
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        (staging / "c0.zkey").unlink()
        log(f"{name}: export verification key and Solidity verifier")
        run_tool(
            "snarkjs",
            [
                "zkey",
                "export",
                "verificationkey",
                staging / "circuit.zkey",
                staging / "verification_key.json",
            ],
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        run_tool(
            "snarkjs",
            [
                "zkey",
                "export",
                "solidityverifier",
                staging / "circuit.zkey",
                staging / "verifier.sol",
            ],
            timeout=CEREMONY_TIMEOUT,
            error=SetupError,
        )
        (staging / "done").write_text("ok\n")
        shutil.rmtree(out, ignore_errors=True)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out, True


def run_setup(
    ptau: Path | None = None,
    *,
    build: Path | None = None,
    log: Log = _quiet,
    export: bool = True,
) -> SetupReport:
    """Compile every circuit of ``circuits/circuits.json`` and make its keys; cached.

    ``export`` writes the Solidity verifiers of these keys into contracts/src/generated
    (off for throw-away builds such as the benchmark's cold setup).
    """
    started = time.perf_counter()
    build = build or build_dir()
    build.mkdir(parents=True, exist_ok=True)
    entries = json.loads((project_root() / "circuits" / "circuits.json").read_text())
    steps: list[str] = []

    compiled = {}
    for name, entry in entries.items():
        out, fresh = compile_circuit(name, entry, build, log)
        if fresh:
            steps.append(f"compile {name}")
        header = read_r1cs_header(out / "circuit.r1cs")
        compiled[name] = (out, header)

    power = max(required_power(h.n_constraints, h.n_public) for _, h in compiled.values())
    if ptau is None:
        ptau_path, ptau_meta, fresh = dev_ptau(power, build, log)
        if fresh:
            steps.append(f"ptau 2^{power}")
    else:
        ptau_path, ptau_meta = ptau, external_ptau(ptau, power)

    circuits: dict[str, Any] = {}
    for name, (out, header) in compiled.items():
        keys, fresh = make_keys(
            name, out / "circuit.r1cs", ptau_path, ptau_meta["sha256"], build, log
        )
        if fresh:
            steps.append(f"keys {name}")
        files = {
            "r1cs": out / "circuit.r1cs",
            "wasm": out / "circuit.wasm",
            "sym": out / "circuit.sym",
            "zkey": keys / "circuit.zkey",
            "vkey": keys / "verification_key.json",
            "verifier_sol": keys / "verifier.sol",
        }
        circuits[name] = {
            "constraints": header.n_constraints,
            "n_public": header.n_public,
            "params": entries[name]["params"],
            "files": {k: str(v.relative_to(build)) for k, v in files.items()},
            "sha256": {k: sha256_file(v) for k, v in files.items()},
        }
    write_json(
        build / MANIFEST_NAME,
        {
            "version": MANIFEST_VERSION,
            "development_only": bool(ptau_meta["development_only"]),
            "warning": "DEVELOPMENT KEYS: made by a one-party local ceremony; not for real funds"
            if ptau_meta["development_only"]
            else "keys made from an external Powers of Tau and one local phase-2 contribution",
            "ptau": ptau_meta,
            "circuits": circuits,
        },
    )
    manifest = load_manifest(build)
    if export:
        export_contracts(manifest)
    return SetupReport(manifest, time.perf_counter() - started, steps)
