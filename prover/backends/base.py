"""The interface every proving backend implements, and the artifact checks they share.

A backend turns a circuit name and a ``.wtns`` witness into a snarkjs-format Groth16 proof
and its public signals, and checks a proof against the circuit's verification key. Keys
are loaded (and their SHA-256 checked against ``build/manifest.json``) at first use and kept
for the life of the backend, so a warm proof costs the proving work only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from zkmargin.artifacts import CircuitArtifacts, Manifest
from zkmargin.errors import ArtifactError
from zkmargin.jsonio import parse_json

ProofJson = dict[str, Any]
"""A proof as snarkjs writes ``proof.json``: ``pi_a``, ``pi_b``, ``pi_c`` (decimal strings,
projective with z = 1), ``protocol``, ``curve``."""


class Backend(Protocol):
    """A Groth16 prover for the circuits of one manifest."""

    name: str

    def load(self, circuit: str) -> None:
        """Load (and check) ``circuit``'s keys now rather than at the first proof."""
        ...

    def prove(self, circuit: str, wtns: bytes) -> tuple[ProofJson, list[int]]:
        """Prove with ``circuit``'s zkey from a ``.wtns`` witness; return the proof and the
        public signals it commits to."""
        ...

    def verify(self, circuit: str, proof: ProofJson, public: Sequence[int]) -> bool:
        """Pairing check of ``proof`` against ``circuit``'s verification key."""
        ...

    def close(self) -> None:
        """Release processes and memory; the backend may not be used afterwards."""
        ...


def checked_bytes(manifest: Manifest, circuit: str, kind: str) -> bytes:
    """The bytes of artifact ``kind`` (zkey, wasm, vkey) of ``circuit``, refused in one line
    unless their SHA-256 is the manifest's. Hashing the bytes that are then used (not the
    path) leaves no window for the file to change between check and use."""
    art = manifest.circuit(circuit)
    path = artifact_path(art, kind)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(
            f"{kind} of circuit {circuit}: cannot read {path}: {exc.strerror}"
        ) from None
    check_digest(art, kind, path, hashlib.sha256(data).hexdigest())
    return data


def check_digest(art: CircuitArtifacts, kind: str, path: Path, digest: str) -> None:
    expected = art.sha256.get(kind)
    if digest != expected:
        raise ArtifactError(
            f"{kind} of circuit {art.name} ({path}) has sha256 {digest[:16]}…, the manifest "
            f"says {(expected or 'nothing')[:16]}…: refusing it; run `zkmargin setup`"
        )


def artifact_path(art: CircuitArtifacts, kind: str) -> Path:
    path: Path = getattr(art, kind)
    return path


def checked_vkey(manifest: Manifest, circuit: str) -> dict[str, Any]:
    """``circuit``'s snarkjs ``verification_key.json``, SHA-256 checked."""
    data = checked_bytes(manifest, circuit, "vkey")
    what = f"verification key of circuit {circuit}"
    try:
        vkey = parse_json(data.decode("utf-8"), what)
    except UnicodeDecodeError:
        raise ArtifactError(f"{what}: not UTF-8 text") from None
    if not isinstance(vkey, dict):
        raise ArtifactError(f"{what}: not a snarkjs verification key")
    return vkey
