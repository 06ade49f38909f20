"""Tools for constraint-level soundness tests (not a test module itself).

The witness program circom generates checks every ``===`` as it runs, so it refuses to
produce a witness for an insolvent account; that says nothing about the *constraints*.
To test the constraints we need the witness an attacker would hand the prover:

* ``assertless`` builds compile a copy of the circuit sources in which every ``===``
  line is commented out (line numbers kept, so component names stay identical). Its
  witness program computes every signal honestly and never refuses, so it yields the
  "honest witness for an insolvent account".
* ``mutant`` builds replace the right-hand side of one ``<--`` hint (ours or circomlib's)
  with 0, 1, p-1 or honest+1.
* Witnesses of those builds are mapped by signal name (the ``.sym`` file) onto the wires
  of the real --O2 circuit and checked against its R1CS (``tooling.constraints``).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooling.constraints import R1cs, load_r1cs
from tooling.wtns_files import read_sym

from prover.witness import WitnessCalculator
from zkmargin.paths import build_dir, circomlib_dir, project_root
from zkmargin.toolrun import run_tool

ROOT = project_root()
CIRCOMLIB_FILES = ("bitify.circom", "comparators.circom")  # the ones with hints we use
_HINT = re.compile(r"^(?P<indent>\s*)(?P<lhs>[^/]*?)\s*<--\s*(?P<rhs>.*?);\s*$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
REPLACEMENTS = {"zero": "0", "one": "1", "minus_one": "-1", "honest_plus_one": "({rhs}) + 1"}


@dataclass(frozen=True)
class Hint:
    """One ``<--`` statement: where it is and what it computes."""

    path: str  # relative: "circuits/lib/select.circom" or "circomlib/circuits/bitify.circom"
    line: int  # 1-based
    lhs: str
    rhs: str

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line} {self.lhs} <-- {self.rhs}"


def _sources() -> dict[str, str]:
    """Every source file of the margin circuits, by the path a mutant tree uses."""
    files = {
        str(p.relative_to(ROOT)): p.read_text()
        for p in sorted((ROOT / "circuits").rglob("*.circom"))
    }
    for p in sorted(circomlib_dir().glob("*.circom")):
        files[f"circomlib/circuits/{p.name}"] = p.read_text()
    return files


def find_hints(circuit_files_only: bool = True) -> list[Hint]:
    """The ``<--`` hints of our circuits and of the circomlib templates they use."""
    hints = []
    for path, text in _sources().items():
        ours = path.startswith("circuits/")
        if not ours and Path(path).name not in CIRCOMLIB_FILES:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            code = line.split("//", 1)[0]
            match = _HINT.match(code)
            if match is None:
                continue
            if not ours and "Num2BitsNeg" in _template_of(text, number):
                continue  # not instantiated by the margin circuits
            hints.append(Hint(path, number, match["lhs"].strip(), match["rhs"].strip()))
    return hints


def _template_of(text: str, line: int) -> str:
    name = ""
    for number, row in enumerate(text.splitlines(), start=1):
        if number > line:
            break
        found = re.match(r"\s*template\s+(\w+)", row)
        if found:
            name = found[1]
    return name


def strip_asserts(text: str) -> str:
    """Comment out every ``===`` statement, keeping the line count."""
    out = []
    for line in text.splitlines():
        code = line.split("//", 1)[0]
        out.append(f"// stripped: {line.strip()}" if "===" in code else line)
    return "\n".join(out) + "\n"


def mutate(text: str, hint: Hint, replacement: str) -> str:
    lines = text.splitlines()
    code = lines[hint.line - 1].split("//", 1)[0]
    match = _HINT.match(code)
    assert match is not None, hint
    rhs = REPLACEMENTS[replacement].format(rhs=match["rhs"])
    lines[hint.line - 1] = f"{match['indent']}{match['lhs']} <-- {rhs};"
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Build:
    r1cs: Path | None
    wasm: Path | None
    sym: Path
    log: Path  # what circom printed (warnings of --inspect)

    def witness_by_name(self, inputs: dict[str, Any]) -> dict[str, int]:
        assert self.wasm is not None
        witness = WitnessCalculator(self.wasm, sym_path=self.sym).calculate(inputs)
        return {name: witness[wire] for name, wire in read_sym(self.sym).items()}


def build_variant(
    circuit: str,
    *,
    hint: Hint | None = None,
    replacement: str | None = None,
    assertless: bool = False,
    flags: tuple[str, ...] = ("--O2",),
    outputs: tuple[str, ...] = ("--r1cs", "--wasm", "--sym"),
) -> Build:
    """Compile a variant of ``circuits/<circuit>.circom`` (cached by content)."""
    sources = _sources()
    if hint is not None:
        assert replacement is not None
        sources[hint.path] = mutate(sources[hint.path], hint, replacement)
    if assertless:
        sources = {path: strip_asserts(text) for path, text in sources.items()}
    digest = hashlib.sha256(repr((sorted(sources.items()), flags, outputs, circuit)).encode())
    out = build_dir() / "soundness" / f"{circuit}-{digest.hexdigest()[:16]}"
    if not (out / "done").exists():
        _compile(circuit, sources, flags, outputs, out)
    return Build(
        r1cs=out / "circuit.r1cs" if "--r1cs" in outputs else None,
        wasm=out / "circuit.wasm" if "--wasm" in outputs else None,
        sym=out / "circuit.sym",
        log=out / "circom.log",
    )


def _compile(
    circuit: str,
    sources: dict[str, str],
    flags: tuple[str, ...],
    outputs: tuple[str, ...],
    out: Path,
) -> None:
    # circom runs in a WASI sandbox that sees only the working directory: build the tree
    # inside the project, with relative paths
    tree = Path(tempfile.mkdtemp(dir=ROOT, prefix=".soundness-"))
    try:
        for path, text in sources.items():
            target = tree / ("libs/" + path if path.startswith("circomlib/") else path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        rel = tree.relative_to(ROOT)
        (tree / "out").mkdir()
        proc = run_tool(
            "circom2",
            [
                rel / "circuits" / f"{circuit}.circom",
                *outputs,
                "--sym",
                *flags,
                "-l",
                rel / "libs",
                "-o",
                rel / "out",
            ],
            timeout=600,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent))
        for suffix in ("r1cs", "sym"):
            if (tree / "out" / f"{circuit}.{suffix}").exists():
                shutil.move(tree / "out" / f"{circuit}.{suffix}", staging / f"circuit.{suffix}")
        wasm = tree / "out" / f"{circuit}_js" / f"{circuit}.wasm"
        if wasm.exists():
            shutil.move(wasm, staging / "circuit.wasm")
        (staging / "circom.log").write_text(_ANSI.sub("", proc.stdout + proc.stderr))
        (staging / "done").write_text("ok\n")
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def on_wires(values: dict[str, int], sym: Path, r1cs: R1cs) -> list[int]:
    """Place a witness given by signal name onto the wires of the circuit of ``sym``."""
    witness = [0] * r1cs.header.n_wires
    witness[0] = 1
    for name, wire in read_sym(sym).items():
        witness[wire] = values[name]
    return witness


def prove_any_witness(
    zkey: Path, witness: list[int], tmp: Path
) -> tuple[dict[str, Any], list[int]]:
    """`snarkjs groth16 prove` on any witness: snarkjs does not check the constraints, so
    a witness they reject still yields a proof (which must then fail verification)."""
    import json

    from tooling.wtns_files import write_wtns

    from zkmargin.units import SNARK_SCALAR_FIELD

    write_wtns(tmp / "bad.wtns", witness, SNARK_SCALAR_FIELD)
    run_tool(
        "snarkjs",
        ["groth16", "prove", zkey, tmp / "bad.wtns", tmp / "proof.json", tmp / "public.json"],
        timeout=300,
    )
    proof = json.loads((tmp / "proof.json").read_text())
    public = [int(s) for s in json.loads((tmp / "public.json").read_text())]
    return proof, public


def real_circuit(circuit: str) -> tuple[R1cs, Path]:
    """The production --O2 constraint system and its symbol file."""
    from zkmargin.artifacts import load_manifest

    art = load_manifest().circuit(circuit)
    return load_r1cs(art.r1cs), art.sym
