"""Off-chain verification of zkmargin proofs, and the chain client (verifier.chain)."""

# prover first: prover.prove imports verifier.groth16, so loading prover from inside
# verifier.groth16's own import would find it half-initialised
import prover  # noqa: F401
from verifier.groth16 import Proof, VerifyingKey, parse_public_signals, verify

__all__ = ["Proof", "VerifyingKey", "parse_public_signals", "verify"]
