"""Off-chain verification of zkmargin proofs."""

from verifier.groth16 import Proof, VerifyingKey, parse_public_signals, verify

__all__ = ["Proof", "VerifyingKey", "parse_public_signals", "verify"]
