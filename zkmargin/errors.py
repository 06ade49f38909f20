"""Exceptions of zkmargin.

One root, :class:`ZkMarginError`; each subclass also derives from the builtin that fits,
so callers may catch ``ValueError`` for bad input without importing this module.
The CLI turns any ``ZkMarginError`` into one line on stderr and a non-zero exit code.
"""

from __future__ import annotations


class ZkMarginError(Exception):
    """Root of every error zkmargin raises on purpose."""


class InputError(ZkMarginError, ValueError):
    """A user-supplied file or value is malformed or out of range.

    The message names the offending field (``positions[0].size: ...``).
    """


class InsufficientMargin(ZkMarginError):
    """The account does not meet the requirement; no proof can exist."""

    def __init__(self, equity: str, requirement: str) -> None:
        super().__init__(f"insufficient margin: equity {equity} < requirement {requirement}")
        self.equity = equity
        self.requirement = requirement


class ToolError(ZkMarginError, RuntimeError):
    """An external tool (circom, snarkjs, node) failed or is missing."""


class ProverError(ToolError):
    """Witness generation or proving failed; carries snarkjs' stderr."""


class SetupError(ToolError):
    """Compiling the circuits or running the trusted setup failed."""


class ArtifactError(ZkMarginError, FileNotFoundError):
    """A build artifact (zkey, wasm, verification key) is missing or does not match."""


class VerifierError(ZkMarginError, ValueError):
    """A proof or its public signals are malformed (wrong count, value >= r, off curve)."""
