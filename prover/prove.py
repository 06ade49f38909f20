"""The proving pipeline: account -> model check -> encoding -> witness -> proof -> self-check.

The proof itself comes from a backend (:mod:`prover.backends`: arkworks in-process, a warm
snarkjs worker, or the one-shot snarkjs CLI); the self-check is the same backend's verifier
over the circuit's ``verification_key.json`` (this package never imports ``verifier``: the
independent py_ecc verifier stays independent of the code it checks).

Private values exist in three places only: the caller's objects, the witness in memory,
and -- only for a backend that insists on a path -- an anonymous in-memory file or a file
in a fresh 0700 directory in RAM, gone before :meth:`Prover.prove` returns or raises.

Every artifact is checked against ``build/manifest.json`` (SHA-256) when first loaded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.backends import Backend, backend_name, make_backend
from prover.backends.base import check_digest
from prover.witness import WitnessCalculator
from zkmargin.artifacts import Manifest, load_manifest, sha256_file
from zkmargin.encoding import Binding, Encoded, encode, pick_circuit
from zkmargin.errors import InsufficientMargin, ProverError
from zkmargin.model import Account, MarginReport, MarketData, Mode, evaluate
from zkmargin.poseidon import poseidon
from zkmargin.proofs import ProofBundle

if TYPE_CHECKING:  # prover.batch builds on Prover; Prover.prove_many loads it lazily
    from prover.batch import BatchSummary, Job


@dataclass
class Prover:
    """Proves margin statements with the artifacts of one ``zkmargin setup``.

    ``backend`` is a name from :data:`prover.backends.BACKENDS`, a :class:`Backend`
    instance, or None for ``$ZKMARGIN_BACKEND`` / the fastest installed. Construction is
    cheap: the witness wasm, keys and any worker process load at first use and stay for the
    life of the instance, so reuse one. :meth:`close` (or ``with Prover() as p``) frees them.

    Thread-safety: one instance may be shared by threads. Witness computation is serialised
    per circuit; with ``arkworks`` the proofs themselves run in parallel (the GIL is
    released), with ``snarkjs-worker`` they queue for the one Node process -- give each
    thread its own ``Prover`` to prove in parallel there.
    """

    manifest: Manifest = field(default_factory=load_manifest)
    backend: str | Backend | None = None
    _witness: dict[str, WitnessCalculator] = field(default_factory=dict, repr=False, compare=False)
    _backend: Backend | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.backend is None or isinstance(self.backend, str):
            self.backend = backend_name(self.backend)  # refuse an unknown name now
        else:
            self._backend = self.backend

    @property
    def backend_name(self) -> str:
        return self.backend if isinstance(self.backend, str) else self.backend_impl().name

    def backend_impl(self) -> Backend:
        """The backend instance (made at first use)."""
        with self._lock:
            if self._backend is None:
                assert isinstance(self.backend, str)
                self._backend = make_backend(self.backend, self.manifest)
            return self._backend

    def witness_calculator(self, circuit: str) -> WitnessCalculator:
        with self._lock:
            if circuit not in self._witness:
                art = self.manifest.circuit(circuit)
                check_digest(art, "wasm", art.wasm, sha256_file(art.wasm))
                self._witness[circuit] = WitnessCalculator(art.wasm)
            return self._witness[circuit]

    def warm(self, circuits: list[str] | None = None) -> None:
        """Load the witness wasm and keys of ``circuits`` (default: all) now, so that the
        first proof costs no more than the next (servers, benchmarks)."""
        poseidon([0, 0])  # parses circomlib's round constants once per process
        for circuit in circuits or list(self.manifest.circuits):
            self.witness_calculator(circuit)
            self.backend_impl().load(circuit)

    def check(self, account: Account, data: MarketData, mode: Mode) -> MarginReport:
        """The reference model's verdict; raises :class:`InsufficientMargin` if insolvent."""
        report = evaluate(account, data, mode)
        if not report.solvent:
            raise InsufficientMargin(report.equity_display(), report.requirement_display())
        return report

    def encode(
        self,
        account: Account,
        data: MarketData,
        *,
        mode: Mode = Mode.MAINTENANCE,
        binding: Binding | None = None,
        circuit: str | None = None,
        opening: bool = False,
    ) -> Encoded:
        return encode(
            account,
            data,
            circuit=circuit or pick_circuit(account),
            mode=mode,
            binding=binding or Binding(),
            opening=opening,
        )

    def prove(
        self,
        account: Account,
        data: MarketData,
        *,
        mode: Mode = Mode.MAINTENANCE,
        binding: Binding | None = None,
        circuit: str | None = None,
        opening: bool = False,
        encoded: Encoded | None = None,
    ) -> ProofBundle:
        """Prove that ``account`` meets the ``mode`` requirement at ``data``'s prices.

        ``encoded``: the result of :meth:`encode` for these same arguments, when the caller
        already has it (e.g. to compare the public inputs with the engine's first); it is
        then not computed again (commitment hashing included).

        The proof is verified (pairing check and public signals) before it is returned.
        """
        self.check(account, data, mode)
        if encoded is None:
            encoded = self.encode(
                account, data, mode=mode, binding=binding, circuit=circuit, opening=opening
            )
        return self.prove_encoded(encoded, mode)

    def prove_encoded(self, encoded: Encoded, mode: Mode) -> ProofBundle:
        """Prove an already encoded statement (no solvency pre-check: an insolvent input
        fails in the witness with the circuit's assertion instead of a clear message)."""
        circuit = encoded.statement.circuit
        wtns = self.witness_calculator(circuit).wtns_bytes(encoded.inputs)
        backend = self.backend_impl()
        proof, public = backend.prove(circuit, wtns)
        if public != encoded.statement.public_signals():
            raise ProverError(
                f"{backend.name} returned public signals that differ from the statement"
            )
        if not backend.verify(circuit, proof, public):
            raise ProverError(
                f"{backend.name} produced a proof that does not verify; run `zkmargin setup`"
            )
        return ProofBundle(circuit=circuit, mode=mode, proof=proof, public_signals=public)

    def prove_many(
        self, jobs: Path | Iterable[Job], data: MarketData, out_dir: Path, **options: Any
    ) -> BatchSummary:
        """Prove many accounts into ``out_dir`` (see :func:`prover.batch.prove_many`):
        one proof file each, written atomically, resumable; workers use this prover's
        manifest and backend (a backend given as an instance is shared by the threads)."""
        from prover.batch import prove_many  # batch builds on Prover

        backend = self.backend if isinstance(self.backend, str) else None
        kwargs: dict[str, Any] = {"manifest": self.manifest, "backend": backend}
        if not isinstance(self.backend, str):
            options.setdefault("prover_factory", lambda **_: self)
        return prove_many(jobs, data, out_dir, **options, **kwargs)

    def close(self) -> None:
        """Stop any worker process and drop loaded keys (a later proof loads them again)."""
        with self._lock:
            backend = self._backend
        if backend is not None:
            backend.close()

    def __enter__(self) -> Prover:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
