"""Shared fixtures: the trusted-setup artifacts (built once, cached by content hash), and
one anvil with one deployment for the whole session.

Starting anvil and deploying the system costs seconds; every chain test module used to
pay it. Now the session starts one chain (``anvil_system``) and each module gets it
through ``chain_system``, which takes an ``evm_snapshot`` before the module and reverts
to it afterwards: the next module sees the freshly deployed system again (balances,
accounts, prices, and the clock: anvil's revert also undoes ``evm_increaseTime``).
``chain_snapshot`` does the same around a single test. Tests about anvil's own
lifecycle (tests/test_chain_anvil.py) and the demo still start their own chains.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.local import LocalSystem, local_system
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


@pytest.fixture(scope="session")
def anvil_system(manifest: Manifest) -> Iterator[LocalSystem]:
    """One anvil and one deployment (DEFAULT_SPEC) for the session; use ``chain_system``."""
    with local_system() as system:
        yield system


@pytest.fixture(scope="module")
def chain_system(anvil_system: LocalSystem) -> Iterator[LocalSystem]:
    """The session's system as deployed; whatever this module does is reverted after it."""
    chain = anvil_system.chain
    snapshot = chain.snapshot()
    try:
        yield anvil_system
    finally:
        chain.revert_to(snapshot)


@pytest.fixture
def chain_snapshot(chain_system: LocalSystem) -> Iterator[LocalSystem]:
    """The module's system, with this test's changes reverted after it."""
    chain = chain_system.chain
    snapshot = chain.snapshot()
    try:
        yield chain_system
    finally:
        chain.revert_to(snapshot)


# ---------------------------------------------------------------- selection (make test-fast)

# Modules whose tests start chains of their own; every other chain test reaches anvil
# through ``anvil_system`` and is found by its fixtures.
OWN_CHAIN_MODULES = frozenset(
    {"test_chain_anvil", "test_chain_cli", "test_newcomer", "test_readme", "test_stress_smoke"}
)
# Modules that compile circuit variants, start Ray, or run the README walk-through.
SLOW_MODULES = frozenset({"test_compiler", "test_soundness", "test_readme", "test_ray"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``chain`` and ``slow`` tests: `make test-fast` runs ``-m "not chain and not slow"``."""
    for item in items:
        module = item.module.__name__ if isinstance(item, pytest.Function) else ""
        fixtures = getattr(item, "fixturenames", ())
        if "anvil_system" in fixtures or module in OWN_CHAIN_MODULES:
            item.add_marker(pytest.mark.chain)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
