"""Batch proving on Ray (prover.distributed): a real local Ray instance, real proofs.

One Ray instance for the module (start-up costs 10+ s): two CPUs, no dashboard, worker
logs kept out of the test output, and every file Ray writes under a private temp dir
that is removed afterwards.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray  # a dev dependency: `make test` must run these, never skip them
from click.testing import CliRunner
from test_portfolio_cli import BOOKS, NOW_TEXT, risk_path

from cli.batch import prove_batch
from prover.batch import Job, Outcome, Status
from prover.distributed import RayBatch, prove_many_ray
from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.accounts import load_market_data, new_account, save_account
from zkmargin.artifacts import Manifest
from zkmargin.errors import ProverError
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.model import Account, MarketData, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Price, Size

__all__ = ["risk_path"]  # a fixture of tests/test_portfolio_cli.py
pytestmark = pytest.mark.slow
MARKETS = Path(__file__).resolve().parent.parent / "examples" / "markets.json"


@pytest.fixture(scope="module")
def ray_session() -> Iterator[Path]:
    # short path: Ray's unix sockets live under it and must stay below ~100 characters
    temp = Path(tempfile.mkdtemp(prefix="zkray-"))
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=str(temp),
    )
    try:
        yield temp
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def data() -> MarketData:
    return load_market_data(MARKETS)


def isolated(address: int) -> Account:
    return new_account(
        address,
        {"USDC": Balance(1000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )


def assert_all_verify(out: Path, accounts: dict[str, Account], manifest: Manifest) -> None:
    for name, account in accounts.items():
        bundle = ProofBundle.load(out / f"{name}.proof.json")
        assert verify_bundle(bundle, manifest).valid, name
        assert bundle.statement.account == account.address


def test_a_batch_on_ray_actors_verifies(
    ray_session: Path, tmp_path: Path, data: MarketData, manifest: Manifest
) -> None:
    accounts = {f"r{i}": isolated(0x400 + i) for i in range(6)}
    seen: list[Outcome] = []
    summary = prove_many_ray(
        [Job(name, account) for name, account in accounts.items()],
        data,
        tmp_path,
        workers=2,
        progress=seen.append,
        manifest=manifest,
    )
    assert summary.ok and summary.proved == 6 and summary.workers == 2
    assert sorted(o.name for o in seen) == sorted(accounts)
    assert {o.worker.split(" (")[0] for o in seen} == {"ray actor 0.0", "ray actor 1.0"}
    assert_all_verify(tmp_path, accounts, manifest)
    assert ray.is_initialized()  # the module's session was used, and left running

    # the salts went to the actors in memory: none is in any file Ray wrote (logs,
    # spilled objects), neither as text nor as pickled bytes
    secrets = [str(a.salt).encode() for a in accounts.values()]
    secrets += [a.salt.to_bytes(a.salt.bit_length() // 8 + 1, "little") for a in accounts.values()]
    files = [p for p in ray_session.rglob("*") if p.is_file() and not p.is_symlink()]
    assert files, "Ray wrote nothing under its temp dir: the check would be vacuous"
    for path in files:
        content = path.read_bytes()
        assert not any(secret in content for secret in secrets), path


SLOW_ADDRESSES = {0x502, 0x503}


class SlowProver(Prover):
    """A real prover that waits a second before proving the accounts in SLOW_ADDRESSES,
    so the actor given them is surely still busy when the test kills it."""

    def prove(self, account: Account, *args: Any, **kwargs: Any) -> ProofBundle:
        if account.address in SLOW_ADDRESSES:
            time.sleep(1.0)
        return super().prove(account, *args, **kwargs)


def test_a_killed_actors_accounts_are_retried_on_another(
    ray_session: Path, tmp_path: Path, data: MarketData, manifest: Manifest
) -> None:
    # actor 0 is given k0 and k1, actor 1 (slow) k2 and k3; the first result comes from
    # actor 0, and then actor 1 is killed with both of its tasks in flight
    accounts = {f"k{i}": isolated(0x500 + i) for i in range(6)}
    batch: list[RayBatch] = []
    killed: list[str] = []

    def kill_actor_1(outcome: Outcome) -> None:
        if not killed:
            victim = batch[0].slots[1]
            killed.append(victim.name)
            ray.kill(victim.actor)

    # Ray's workers cannot import this test module (tests/ is not on their path): ship it
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]
    summary = prove_many_ray(
        [Job(name, account) for name, account in accounts.items()],
        data,
        tmp_path,
        workers=2,
        progress=kill_actor_1,
        started=batch.append,
        prover_factory=SlowProver,
        manifest=manifest,
    )
    assert killed == ["ray actor 1.0"]
    assert summary.ok and summary.proved == 6, [(o.name, o.message) for o in summary.outcomes]
    retried = {o.name: o for o in summary.outcomes if o.attempts > 1}
    assert set(retried) == {"k2", "k3"}
    assert all(not o.worker.startswith("ray actor 1.0") for o in retried.values())
    assert_all_verify(tmp_path, accounts, manifest)


def test_cli_runs_the_batch_on_ray_with_the_same_outcomes(
    ray_session: Path, tmp_path: Path, manifest: Manifest
) -> None:
    folder, out = tmp_path / "accounts", tmp_path / "proofs"
    folder.mkdir()
    accounts = {f"c{i}": isolated(0x600 + i) for i in range(3)}
    for name, account in accounts.items():
        save_account(folder / f"{name}.account.json", account)
    poor = new_account(0x6FF, {"USDC": Balance(10**18)}, isolated(1).positions)
    save_account(folder / "poor.account.json", poor)

    def run() -> Any:
        args = [str(folder), "-m", str(MARKETS), "-o", str(out), "--ray", "auto", "-j", "2"]
        return CliRunner().invoke(prove_batch, args, catch_exceptions=False)

    first = run()
    assert first.exit_code == 1, first.output
    assert "insufficient margin" in first.output and "poor" in first.output
    assert_all_verify(out, accounts, manifest)

    (folder / "poor.account.json").unlink()
    second = run()
    assert second.exit_code == 0, second.output
    assert Status.SKIPPED.value in second.output


def test_cli_runs_a_portfolio_batch_on_ray_at_one_clock(
    ray_session: Path, tmp_path: Path, risk_path: Path, manifest: Manifest
) -> None:
    """`--circuit portfolio --ray`: the risk file and the batch's clock travel to the
    actors (the same Task and work() as local workers): proofs at --now verify, and past
    the covered call's expiry the actors refuse it while the perp hedge stays proved."""
    folder, out = tmp_path / "books", tmp_path / "proofs"
    folder.mkdir()
    for name in ("hedge", "covered-call"):
        book = read_json_file(BOOKS / f"{name}.book.json", "book")
        write_json(folder / f"{name}.account.json", book, mode=0o600)

    def run(now: str) -> Any:
        args = [str(folder), "-m", str(risk_path), "-o", str(out), "--circuit", "portfolio"]
        args += ["--now", now, "--ray", "auto", "-j", "2"]
        return CliRunner().invoke(prove_batch, args, catch_exceptions=False)

    first = run(NOW_TEXT)
    assert first.exit_code == 0, first.output
    assert "2 Ray (auto) actors" in first.output
    for name in ("hedge", "covered-call"):
        bundle = ProofBundle.load(out / f"{name}.proof.json")
        assert bundle.circuit == "portfolio" and verify_bundle(bundle, manifest).valid

    later = run("2026-12-26T00:00:00Z")
    assert later.exit_code == 1, later.output
    assert "bad input" in later.output and "expired" in later.output
    assert sorted(p.name for p in out.iterdir()) == ["hedge.proof.json"]


def test_actors_that_cannot_start_are_one_line_and_removed(
    ray_session: Path, tmp_path: Path, data: MarketData, manifest: Manifest
) -> None:
    with pytest.raises(ProverError, match="could not start") as info:
        prove_many_ray(
            [Job("x", isolated(0x700))],
            data,
            tmp_path,
            workers=1,
            manifest=manifest,
            backend="no-such-backend",
        )
    message = str(info.value)
    assert "no-such-backend" in message and "\n" not in message, message
    assert not list(tmp_path.iterdir())
