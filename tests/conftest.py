"""Shared fixtures: the trusted-setup artifacts (built once, cached by content hash)."""

from __future__ import annotations

import pytest

from prover.prove import Prover
from prover.setup import run_setup
from zkmargin.artifacts import Manifest


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    """Compile and set up every circuit (seconds when the build cache is warm)."""
    return run_setup().manifest


@pytest.fixture(scope="session")
def prover(manifest: Manifest) -> Prover:
    return Prover(manifest)
