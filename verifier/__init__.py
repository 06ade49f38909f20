"""Off-chain verification of zkmargin proofs: Groth16 on py_ecc, independent of the prover."""

from verifier.bundle import Verdict, verify_bundle
from verifier.groth16 import Proof, VerifyingKey, parse_public_signals, verify

__all__ = ["Proof", "Verdict", "VerifyingKey", "parse_public_signals", "verify", "verify_bundle"]
