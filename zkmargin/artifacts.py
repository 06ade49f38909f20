"""The build manifest: where ``zkmargin setup`` left each circuit's artifacts.

``<build>/manifest.json`` lists, per circuit, the compiled r1cs/wasm/sym, the proving key
(zkey), the verification key and the Solidity verifier, with their SHA-256, and where
the Powers of Tau came from. Paths in the manifest are relative to the build directory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zkmargin.errors import ArtifactError
from zkmargin.paths import build_dir

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CircuitArtifacts:
    name: str
    constraints: int
    n_public: int
    r1cs: Path
    wasm: Path
    sym: Path
    zkey: Path
    vkey: Path
    verifier_sol: Path
    sha256: dict[str, str]


@dataclass(frozen=True)
class Manifest:
    build: Path
    development_only: bool
    ptau: dict[str, Any]
    circuits: dict[str, CircuitArtifacts]

    def circuit(self, name: str) -> CircuitArtifacts:
        if name not in self.circuits:
            raise ArtifactError(
                f"circuit {name!r} is not in {self.build / MANIFEST_NAME}: run `zkmargin setup`"
            )
        return self.circuits[name]


def load_manifest(build: Path | None = None) -> Manifest:
    build = build or build_dir()
    path = build / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"no trusted setup found in {build}: run `zkmargin setup` first"
        ) from None
    except json.JSONDecodeError:
        raise ArtifactError(f"{path} is corrupt: run `zkmargin setup` again") from None
    if data.get("version") != MANIFEST_VERSION:
        raise ArtifactError(f"{path} has an unknown version: run `zkmargin setup` again")
    circuits = {}
    for name, entry in data["circuits"].items():
        files = {k: build / v for k, v in entry["files"].items()}
        for kind, file in files.items():
            if not file.exists():
                raise ArtifactError(
                    f"{kind} of circuit {name} is missing ({file}): run `zkmargin setup`"
                )
        circuits[name] = CircuitArtifacts(
            name=name,
            constraints=entry["constraints"],
            n_public=entry["n_public"],
            sha256=entry["sha256"],
            **files,
        )
    return Manifest(
        build=build,
        development_only=data["development_only"],
        ptau=data["ptau"],
        circuits=circuits,
    )
