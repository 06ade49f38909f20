"""Verify a zkmargin proof file off-chain: shape, canonical signals, pairing."""

from __future__ import annotations

from dataclasses import dataclass

from verifier.groth16 import Proof, VerifyingKey, parse_public_signals, verify
from zkmargin.artifacts import Manifest, load_manifest
from zkmargin.encoding import Statement, circuit_entries
from zkmargin.errors import InputError, VerifierError
from zkmargin.portfolio_encoding import PortfolioStatement
from zkmargin.proofs import ProofBundle


@dataclass(frozen=True)
class Verdict:
    valid: bool
    reason: str


def verify_bundle(bundle: ProofBundle, manifest: Manifest | None = None) -> Verdict:
    """Check a proof file against the verification key of its circuit.

    Invalid (never an exception) for: an unknown circuit, a wrong number of public
    signals, a signal >= r, words that do not decode to a statement, a malformed or
    off-curve proof point, and a failed pairing check.
    """
    if bundle.circuit not in circuit_entries():
        return Verdict(False, f"unknown circuit {bundle.circuit!r}")
    manifest = manifest or load_manifest()
    vk = VerifyingKey.load(manifest.circuit(bundle.circuit).vkey)
    try:
        signals = parse_public_signals([str(s) for s in bundle.public_signals], vk.n_public)
        statement = ProofBundle(bundle.circuit, bundle.mode, bundle.proof, signals).statement
        proof = Proof.from_json(bundle.proof)
    except (VerifierError, InputError) as exc:
        return Verdict(False, str(exc))
    if not verify(vk, proof, signals):
        return Verdict(False, "pairing check failed: the proof does not match its public signals")
    return Verdict(True, f"{bundle.circuit} proof verifies ({_bound(statement)})")


def _bound(statement: Statement | PortfolioStatement) -> str:
    """What the proof binds, in words. The file's "mode" label is not repeated for a
    rate-based proof (the rates in the signals are bound, the label is not); a portfolio
    proof binds its mode (the modeWord) and the risk parameters by their commitment."""
    where = f"nonce {statement.nonce}, chain {statement.chain_id}"
    if isinstance(statement, PortfolioStatement):
        risk = str(statement.risk_commitment)
        mode = f"{statement.mode.value}{' (opening)' if statement.opening else ''}"
        return f"{mode}, risk commitment {risk[:12]}…, {where}"
    flags = ("opening, " if statement.opening else "") + (
        "withdrawal, " if statement.withdrawal else ""
    )
    return f"{flags}rates {list(statement.rates)} bps, {where}"
