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
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.backends import Backend, backend_name, make_backend
from prover.backends.base import check_digest
from prover.witness import WitnessCalculator
from zkmargin.artifacts import Manifest, load_manifest, sha256_file
from zkmargin.encoding import (
    PORTFOLIO_TEMPLATE,
    Binding,
    Encoded,
    circuit_template,
    encode,
    pick_circuit,
)
from zkmargin.errors import InputError, InsufficientMargin, ProverError
from zkmargin.model import Account, MarginReport, MarketData, Mode, evaluate
from zkmargin.portfolio import PortfolioAccount, PortfolioMode, PortfolioReport
from zkmargin.portfolio import evaluate as evaluate_portfolio
from zkmargin.portfolio_encoding import (
    PORTFOLIO_CIRCUIT,
    PortfolioEncoded,
    check_provable,
    encode_portfolio,
)
from zkmargin.poseidon import poseidon
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import DEFAULT_SHAPE, RiskFile

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
        account: Account | PortfolioAccount,
        data: MarketData | RiskFile,
        *,
        mode: Mode = Mode.MAINTENANCE,
        binding: Binding | None = None,
        circuit: str | None = None,
        opening: bool = False,
        encoded: Encoded | None = None,
        now: int | None = None,
    ) -> ProofBundle:
        """Prove that ``account`` meets the ``mode`` requirement at ``data``'s prices.

        ``circuit="portfolio"`` (or a :class:`PortfolioAccount`): portfolio margin of the
        account at the risk file ``data``, see :meth:`prove_portfolio` (``now``: the time
        expiries are checked against). ``encoded``: the result of :meth:`encode` for these
        same arguments, when the caller already has it (e.g. to compare the public inputs
        with the engine's first); it is then not computed again (commitment hashing
        included).

        The proof is verified (pairing check and public signals) before it is returned.
        """
        if circuit is None:
            portfolio = isinstance(account, PortfolioAccount)
        else:
            portfolio = circuit_template(circuit) == PORTFOLIO_TEMPLATE
        if portfolio:
            if not isinstance(account, PortfolioAccount) or not isinstance(data, RiskFile):
                raise InputError(
                    "the portfolio circuit proves a portfolio account against a risk file"
                )
            return self.prove_portfolio(
                account,
                data,
                mode=PortfolioMode(mode.value),
                binding=binding,
                now=now,
                opening=opening,
            )
        if isinstance(account, PortfolioAccount) or isinstance(data, RiskFile):
            raise InputError(
                f"the {circuit} circuit proves a rate-based account against a market file"
            )
        self.check(account, data, mode)
        if encoded is None:
            encoded = self.encode(
                account, data, mode=mode, binding=binding, circuit=circuit, opening=opening
            )
        return self.prove_encoded(encoded, mode)

    def check_portfolio(
        self,
        account: PortfolioAccount,
        risk: RiskFile,
        mode: PortfolioMode,
        now: int | None = None,
        opening: bool = False,
    ) -> PortfolioReport:
        """What the portfolio circuit would refuse besides the claim (one line naming the
        field, :class:`InputError`; ``opening``: also the mode and entries of an opening
        proof), then the model's verdict (:class:`InsufficientMargin`)."""
        check_provable(account, risk, DEFAULT_SHAPE, now, opening=mode if opening else None)
        report = evaluate_portfolio(account, risk, mode)
        if not report.solvent:
            raise InsufficientMargin(report.equity_display(), report.requirement_display())
        return report

    def prove_portfolio(
        self,
        account: PortfolioAccount,
        risk: RiskFile,
        *,
        mode: PortfolioMode = PortfolioMode.MAINTENANCE,
        binding: Binding | None = None,
        now: int | None = None,
        opening: bool = False,
    ) -> ProofBundle:
        """Prove that ``account`` meets portfolio margin (``docs/portfolio.md``) under the
        risk file ``risk`` in ``mode``; ``now`` (unix seconds, default the clock) must be
        before the expiry of every series the account holds; ``opening``: an opening proof
        (modeWord bit 2: mode initial, every non-empty entry at its mark). Verified before
        returned."""
        now = int(time.time()) if now is None else now
        self.check_portfolio(account, risk, mode, now, opening)
        encoded = encode_portfolio(
            account, risk, mode=mode, binding=binding or Binding(), opening=opening
        )
        return self.prove_portfolio_encoded(encoded)

    def prove_portfolio_encoded(self, encoded: PortfolioEncoded) -> ProofBundle:
        """Prove an already encoded portfolio statement (no model pre-check: an insolvent
        input fails in the witness with the circuit's assertion)."""
        statement = encoded.statement
        return self._prove(
            PORTFOLIO_CIRCUIT,
            encoded.inputs,
            statement.public_signals(),
            Mode(statement.mode.value),
        )

    def prove_encoded(self, encoded: Encoded, mode: Mode) -> ProofBundle:
        """Prove an already encoded statement (no solvency pre-check: an insolvent input
        fails in the witness with the circuit's assertion instead of a clear message)."""
        statement = encoded.statement
        return self._prove(statement.circuit, encoded.inputs, statement.public_signals(), mode)

    def _prove(
        self, circuit: str, inputs: dict[str, Any], expected: list[int], mode: Mode
    ) -> ProofBundle:
        wtns = self.witness_calculator(circuit).wtns_bytes(inputs)
        backend = self.backend_impl()
        proof, public = backend.prove(circuit, wtns)
        if public != expected:
            raise ProverError(
                f"{backend.name} returned public signals that differ from the statement"
            )
        if not backend.verify(circuit, proof, public):
            raise ProverError(
                f"{backend.name} produced a proof that does not verify; run `zkmargin setup`"
            )
        return ProofBundle(circuit=circuit, mode=mode, proof=proof, public_signals=public)

    def prove_many(
        self,
        jobs: Path | Iterable[Job],
        data: MarketData | RiskFile,
        out_dir: Path,
        **options: Any,
    ) -> BatchSummary:
        """Prove many accounts into ``out_dir`` (see :func:`prover.batch.prove_many`):
        one proof file each, written atomically, resumable; workers use this prover's
        manifest and backend (a backend given as an instance is shared by the threads).
        ``data``: a market file's data, or a risk file for portfolio accounts."""
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
