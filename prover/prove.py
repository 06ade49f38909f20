"""The proving pipeline: account -> model check -> encoding -> witness -> proof -> self-check.

Private values exist in three places only: the caller's objects, the witness in memory,
and a witness file that snarkjs reads. That file lives in a fresh 0700 directory (in
RAM under /dev/shm when the system has it) and is deleted before :meth:`Prover.prove`
returns or raises.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from prover.witness import WitnessCalculator
from verifier.groth16 import Proof, VerifyingKey, verify
from zkmargin.artifacts import Manifest, load_manifest
from zkmargin.encoding import Binding, Encoded, encode, pick_circuit
from zkmargin.errors import InsufficientMargin, ProverError
from zkmargin.model import Account, MarginReport, MarketData, Mode, evaluate
from zkmargin.proofs import ProofBundle
from zkmargin.toolrun import run_tool

PROVE_TIMEOUT = 300.0


def _private_tmpdir() -> Path:
    shm = Path("/dev/shm")  # noqa: S108 -- mkdtemp makes a fresh 0700 dir with a random name
    base = str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None
    return Path(tempfile.mkdtemp(prefix="zkmargin-", dir=base))  # mode 0700


@dataclass
class Prover:
    """Proves margin statements with the artifacts of one ``zkmargin setup``.

    Reuse one instance: it keeps each circuit's compiled wasm and verification key.
    """

    manifest: Manifest = field(default_factory=load_manifest)
    _witness: dict[str, WitnessCalculator] = field(default_factory=dict, repr=False)
    _vkeys: dict[str, VerifyingKey] = field(default_factory=dict, repr=False)

    def witness_calculator(self, circuit: str) -> WitnessCalculator:
        if circuit not in self._witness:
            self._witness[circuit] = WitnessCalculator(self.manifest.circuit(circuit).wasm)
        return self._witness[circuit]

    def verifying_key(self, circuit: str) -> VerifyingKey:
        if circuit not in self._vkeys:
            self._vkeys[circuit] = VerifyingKey.load(self.manifest.circuit(circuit).vkey)
        return self._vkeys[circuit]

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
    ) -> ProofBundle:
        """Prove that ``account`` meets the ``mode`` requirement at ``data``'s prices.

        The proof is verified (pairing check and public signals) before it is returned.
        """
        self.check(account, data, mode)
        enc = self.encode(
            account, data, mode=mode, binding=binding, circuit=circuit, opening=opening
        )
        circuit_name = enc.statement.circuit
        wtns = self.witness_calculator(circuit_name).wtns_bytes(enc.inputs)
        proof, public = self._snarkjs_prove(circuit_name, wtns)
        expected = enc.statement.public_signals()
        if public != expected:
            raise ProverError("snarkjs returned public signals that differ from the statement")
        bundle = ProofBundle(circuit=circuit_name, mode=mode, proof=proof, public_signals=public)
        if not verify(self.verifying_key(circuit_name), Proof.from_json(proof), public):
            raise ProverError("snarkjs produced a proof that does not verify; run `zkmargin setup`")
        return bundle

    def _snarkjs_prove(self, circuit: str, wtns: bytes) -> tuple[dict[str, object], list[int]]:
        tmp = _private_tmpdir()
        try:
            (tmp / "witness.wtns").write_bytes(wtns)
            run_tool(
                "snarkjs",
                [
                    "groth16",
                    "prove",
                    self.manifest.circuit(circuit).zkey,
                    tmp / "witness.wtns",
                    tmp / "proof.json",
                    tmp / "public.json",
                ],
                timeout=PROVE_TIMEOUT,
                error=ProverError,
            )
            proof = json.loads((tmp / "proof.json").read_text())
            public = [int(s) for s in json.loads((tmp / "public.json").read_text())]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return proof, public
