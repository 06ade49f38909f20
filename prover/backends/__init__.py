"""Proving backends: one interface (:class:`Backend`), three implementations.

=================  =====================================================  ==================
name               how                                                    warm proof
=================  =====================================================  ==================
``arkworks``       groth16py (Rust) in-process; ``pip install zkmargin[fast]``  fastest
``snarkjs-worker`` one long-lived Node process running snarkjs            ~10x the CLI
``snarkjs-cli``    one ``snarkjs groth16 prove`` process per proof        the baseline
=================  =====================================================  ==================

:func:`backend_name` picks one: an explicit name, else ``$ZKMARGIN_BACKEND``, else the
fastest installed (arkworks when groth16py imports, else snarkjs-worker). Every backend
produces snarkjs-format proofs that the same verification keys, ``zkmargin verify`` and the
Solidity verifiers accept.
"""

from __future__ import annotations

import os

from prover.backends.base import Backend, ProofJson
from zkmargin.artifacts import Manifest
from zkmargin.errors import InputError

BACKENDS = ("arkworks", "snarkjs-worker", "snarkjs-cli")
ENV_VAR = "ZKMARGIN_BACKEND"


def arkworks_installed() -> bool:
    from prover.backends.arkworks import installed

    return installed()


def installed_backends() -> list[str]:
    return [b for b in BACKENDS if b != "arkworks" or arkworks_installed()]


def backend_name(requested: str | None = None) -> str:
    """The backend to use: ``requested``, else ``$ZKMARGIN_BACKEND``, else the fastest
    installed. Unknown names are refused in one line naming the known ones."""
    name = requested or os.environ.get(ENV_VAR) or ""
    if not name:
        return "arkworks" if arkworks_installed() else "snarkjs-worker"
    if name not in BACKENDS:
        source = "" if requested else f" (from ${ENV_VAR})"
        raise InputError(f"unknown proving backend {name!r}{source}; known: {', '.join(BACKENDS)}")
    return name


def make_backend(name: str, manifest: Manifest) -> Backend:
    """Construct backend ``name`` (cheap: keys and processes come at first use)."""
    if name == "arkworks":
        from prover.backends.arkworks import ArkworksBackend

        return ArkworksBackend(manifest)
    if name == "snarkjs-worker":
        from prover.backends.snarkjs_worker import SnarkjsWorkerBackend

        return SnarkjsWorkerBackend(manifest)
    if name == "snarkjs-cli":
        from prover.backends.snarkjs_cli import SnarkjsCliBackend

        return SnarkjsCliBackend(manifest)
    raise InputError(f"unknown proving backend {name!r}; known: {', '.join(BACKENDS)}")


__all__ = [
    "BACKENDS",
    "ENV_VAR",
    "Backend",
    "ProofJson",
    "backend_name",
    "installed_backends",
    "make_backend",
]
