"""``arkworks``: Groth16 in-process through groth16py (Rust, arkworks), no Node.

Install with ``pip install 'zkmargin[fast]'``. Each circuit's zkey is imported once (a few
ms) from bytes whose SHA-256 was checked against the manifest (handed to groth16py as an
anonymous in-memory file, so the checked bytes are the used bytes). Proofs are ~10x faster
than a one-shot ``snarkjs groth16 prove``; the self-check is groth16py's prepared verifier
over the circuit's ``verification_key.json`` (the key the Python and Solidity verifiers use).

groth16py needs the witness as a path: it gets an in-memory file (see :mod:`scratch`).
Thread-safe: keys are immutable once loaded (loading is serialised by a lock), and
groth16py releases the GIL while proving, so threads sharing one backend prove in parallel.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from prover.backends import codec, scratch
from prover.backends.base import ProofJson, checked_bytes, checked_vkey
from zkmargin.artifacts import Manifest
from zkmargin.errors import ArtifactError, ProverError


def installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("groth16py") is not None


class ArkworksBackend:
    name = "arkworks"

    def __init__(self, manifest: Manifest) -> None:
        try:
            import groth16py
        except ImportError:
            raise ProverError(
                "the arkworks backend needs groth16py: pip install 'zkmargin[fast]'"
            ) from None
        self._g16: Any = groth16py
        self.manifest = manifest
        self._lock = threading.Lock()
        self._pk: dict[str, Any] = {}
        self._verifier: dict[str, Any] = {}

    def _load(self, circuit: str) -> tuple[Any, Any]:
        with self._lock:
            if circuit not in self._pk:
                zkey = checked_bytes(self.manifest, circuit, "zkey")
                vkey = checked_vkey(self.manifest, circuit)
                g16 = self._g16
                try:
                    with scratch.witness_path(zkey, "circuit.zkey") as path:
                        pk, _ = g16.import_zkey(str(path))
                    verifier = g16.Verifier(g16.VerifyingKey.from_snarkjs(json.dumps(vkey)))
                except (g16.EncodingError, g16.SetupError, ValueError) as exc:
                    raise ArtifactError(
                        f"keys of circuit {circuit}: groth16py cannot read them: {exc}"
                    ) from None
                self._verifier[circuit] = verifier
                self._pk[circuit] = pk
            return self._pk[circuit], self._verifier[circuit]

    def load(self, circuit: str) -> None:
        self._load(circuit)

    def prove(self, circuit: str, wtns: bytes) -> tuple[ProofJson, list[int]]:
        pk, _ = self._load(circuit)
        n_public = self.manifest.circuit(circuit).n_public
        public = codec.public_signals_from_wtns(wtns, n_public)
        g16 = self._g16
        try:
            with scratch.witness_path(wtns) as path:
                blob = g16.prove_wtns(pk, str(path))
        except (g16.WitnessError, g16.EncodingError, ValueError) as exc:
            raise ProverError(f"arkworks prover: {exc}") from None
        return codec.proof_from_eth_bytes(bytes(blob)), public

    def verify(self, circuit: str, proof: ProofJson, public: Sequence[int]) -> bool:
        _, verifier = self._load(circuit)
        try:
            blob = codec.proof_to_eth_bytes(proof)
            return bool(verifier.verify(blob, list(public)))
        except (ValueError, KeyError, IndexError, TypeError):
            return False
        except (self._g16.VerificationError, self._g16.EncodingError):
            return False

    def close(self) -> None:
        with self._lock:
            self._pk.clear()
            self._verifier.clear()
