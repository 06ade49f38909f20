"""``snarkjs-cli``: one ``snarkjs groth16 prove`` process per proof.

The baseline the faster backends are measured against (~0.5 s a proof, mostly Node
start-up and reading the zkey). The witness is written into a fresh 0700 directory in RAM
for snarkjs to read and removed, with the proof files, before :meth:`prove` returns.
Stateless, so safe to share across threads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence

from prover.backends import scratch
from prover.backends.base import ProofJson, artifact_path, check_digest
from zkmargin.artifacts import Manifest, sha256_file
from zkmargin.errors import ProverError
from zkmargin.toolrun import run_tool

PROVE_TIMEOUT = 300.0


class SnarkjsCliBackend:
    name = "snarkjs-cli"

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._checked: set[tuple[str, str]] = set()

    def _checked_path(self, circuit: str, kind: str) -> str:
        """The artifact's path, its SHA-256 checked once (snarkjs reads the file itself)."""
        art = self.manifest.circuit(circuit)
        path = artifact_path(art, kind)
        if (circuit, kind) not in self._checked:
            check_digest(art, kind, path, sha256_file(path))
            self._checked.add((circuit, kind))
        return str(path)

    def load(self, circuit: str) -> None:
        self._checked_path(circuit, "zkey")
        self._checked_path(circuit, "vkey")

    def prove(self, circuit: str, wtns: bytes) -> tuple[ProofJson, list[int]]:
        zkey = self._checked_path(circuit, "zkey")
        tmp = scratch.private_tmpdir()
        try:
            (tmp / "witness.wtns").write_bytes(wtns)
            run_tool(
                "snarkjs",
                [
                    "groth16",
                    "prove",
                    zkey,
                    tmp / "witness.wtns",
                    tmp / "proof.json",
                    tmp / "public.json",
                ],
                timeout=PROVE_TIMEOUT,
                error=ProverError,
            )
            proof: ProofJson = json.loads((tmp / "proof.json").read_text())
            public = [int(s) for s in json.loads((tmp / "public.json").read_text())]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return proof, public

    def verify(self, circuit: str, proof: ProofJson, public: Sequence[int]) -> bool:
        vkey = self._checked_path(circuit, "vkey")
        tmp = scratch.private_tmpdir()
        try:
            (tmp / "proof.json").write_text(json.dumps(proof))
            (tmp / "public.json").write_text(json.dumps([str(s) for s in public]))
            proc = run_tool(
                "snarkjs",
                ["groth16", "verify", vkey, tmp / "public.json", tmp / "proof.json"],
                timeout=PROVE_TIMEOUT,
                error=ProverError,
                check=False,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return proc.returncode == 0 and "OK" in proc.stdout

    def close(self) -> None:
        pass
