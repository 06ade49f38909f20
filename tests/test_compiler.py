"""Compiler checks: `circom --inspect` prints only allow-listed warnings, and the --O0
and --O2 builds of each circuit accept and reject the same corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from soundness import build_variant
from tooling.constraints import load_r1cs

from prover.prove import Prover
from prover.witness import WitnessCalculator
from zkmargin.errors import ProverError
from zkmargin.paths import project_root

ROOT = project_root()
ALLOWLIST = json.loads((ROOT / "circuits" / "inspect-allowlist.json").read_text())["allowed"]
ENTRIES = json.loads((ROOT / "circuits" / "circuits.json").read_text())


def compile_with(name: str, flags: tuple[str, ...]) -> tuple[Path, str]:
    """Compile circuit `name` with these flags (cached); return its directory and output."""
    build = build_variant(name, flags=flags, outputs=("--r1cs", "--wasm"))
    return build.sym.parent, build.log.read_text()


def warnings(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if line.lstrip().startswith("warning")]


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_inspect_has_no_unexplained_warning(name: str) -> None:
    _, output = compile_with(name, ("--O2", "--inspect"))
    unexplained = [w for w in warnings(output) if not any(a["match"] in w for a in ALLOWLIST)]
    assert unexplained == [], "\n".join(unexplained)


def test_every_allowlist_entry_is_still_needed() -> None:
    seen = "\n".join(
        w for name in ENTRIES for w in warnings(compile_with(name, ("--O2", "--inspect"))[1])
    )
    stale = [a["match"] for a in ALLOWLIST if a["match"] not in seen]
    assert stale == [], f"allow-list entries no warning matches any more: {stale}"
    assert all(a["reason"].strip() for a in ALLOWLIST)


def corpus(prover: Prover) -> list[tuple[str, dict[str, Any]]]:
    """Accepted and rejected inputs of the cross circuit (from the circuit tests)."""
    from test_circuit_model import _solvent_cross  # tests/ is on sys.path (rootdir)

    _, _, good = _solvent_cross(prover)
    bad_words = dict(good, paramsWord=good["paramsWord"] | 10001)
    poorer = dict(good, balanceWords=[1])
    return [
        ("solvent", good),
        ("rate above 10000 bps", bad_words),
        ("collateral too small", poorer),
        ("wrong salt", dict(good, salt=good["salt"] + 1)),
        ("size out of range", dict(good, size=[2**64, 0, 0, 0])),
    ]


def test_o0_and_o2_agree_on_the_corpus(prover: Prover) -> None:
    builds = {flag: compile_with("cross", (flag,))[0] for flag in ("--O0", "--O2")}
    calcs = {flag: WitnessCalculator(out / "circuit.wasm") for flag, out in builds.items()}
    r1cs = {flag: load_r1cs(out / "circuit.r1cs") for flag, out in builds.items()}
    assert r1cs["--O0"].n_constraints > r1cs["--O2"].n_constraints
    verdicts = {}
    for label, inputs in corpus(prover):
        for flag in builds:
            try:
                witness = calcs[flag].calculate(inputs)
            except ProverError:
                verdicts[label, flag] = False
                continue
            # an accepted witness must satisfy that build's own constraint system
            verdicts[label, flag] = r1cs[flag].satisfied(witness)
        assert verdicts[label, "--O0"] == verdicts[label, "--O2"], label
    assert verdicts["solvent", "--O2"] is True
    assert sum(verdicts.values()) == 2  # only the solvent case, in both builds
