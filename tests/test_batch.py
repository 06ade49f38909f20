"""Batch proving (prover.batch, cli.batch): real proofs, each checked by py_ecc.

What must hold: one verifying proof file per good account, named after its account file;
failures sorted into insufficient margin / bad input / prover error without stopping the
batch; a re-run keeps only proof files that still match and verify; a worker process
that dies costs only the account that killed it; a killed driver loses no finished proof.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import cli.main as cli_main
from cli.batch import prove_batch
from prover.batch import Job, Settings, Status, jobs_from_dir, prove_many
from prover.distributed import connect
from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.accounts import account_to_json, load_market_data, new_account, save_account
from zkmargin.artifacts import Manifest
from zkmargin.encoding import Binding
from zkmargin.errors import InputError, ProverError
from zkmargin.jsonio import write_json
from zkmargin.model import Account, MarketData, Mode, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Price, Size

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ROOT / "examples" / "markets.json"
CRASH_ADDRESS = 0xDEAD


@pytest.fixture(scope="module")
def data() -> MarketData:
    return load_market_data(MARKETS)


def isolated(address: int, usdc: int = 1000) -> Account:
    return new_account(
        address,
        {"USDC": Balance(usdc * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )


def cross(address: int) -> Account:
    return new_account(
        address,
        {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
        (
            Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),
            Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),
        ),
    )


def py_ecc(manifest: Manifest) -> Callable[[ProofBundle], bool]:
    return lambda bundle: verify_bundle(bundle, manifest).valid


def check_proof(path: Path, account: Account, manifest: Manifest) -> ProofBundle:
    bundle = ProofBundle.load(path)
    assert verify_bundle(bundle, manifest).valid, path
    assert bundle.statement.account == account.address
    return bundle


@pytest.fixture
def accounts_dir(tmp_path: Path) -> tuple[Path, dict[str, Account]]:
    """Three good accounts (one cross), one insolvent, one malformed file, two stray files."""
    folder = tmp_path / "accounts"
    folder.mkdir()
    good = {"alice": isolated(0xA1), "bob": isolated(0xB0B), "carol": cross(0xCA)}
    for name, account in good.items():
        save_account(folder / f"{name}.account.json", account)
    save_account(folder / "dave.account.json", isolated(0xDA, usdc=10))  # equity < MMR
    (folder / "eve.account.json").write_text('{"account": "0x01"}')
    (folder / "notes.txt").write_text("not an account file")
    (folder / ".account.json").write_text("hidden: not a job")
    return folder, good


def test_a_directory_becomes_one_verifying_proof_per_account(
    accounts_dir: tuple[Path, dict[str, Account]], data: MarketData, manifest: Manifest
) -> None:
    folder, good = accounts_dir
    out = folder.parent / "proofs"  # made by the batch
    seen: list[str] = []
    summary = prove_many(
        folder,
        data,
        out,
        verify=py_ecc(manifest),
        workers=2,
        progress=lambda outcome: seen.append(outcome.name),
        manifest=manifest,
    )
    assert sorted(seen) == ["alice", "bob", "carol", "dave", "eve"]
    assert summary.proved == 3 and summary.skipped == 0 and not summary.ok
    assert summary.how == "thread"
    status = {o.name: o.status for o in summary.outcomes}
    assert status["dave"] is Status.INSUFFICIENT
    assert status["eve"] is Status.INPUT
    eve = next(o for o in summary.outcomes if o.name == "eve")
    assert "eve.account.json" in eve.message and "\n" not in eve.message
    assert sorted(p.name for p in out.iterdir()) == [
        "alice.proof.json",
        "bob.proof.json",
        "carol.proof.json",
    ]
    for name, account in good.items():
        check_proof(out / f"{name}.proof.json", account, manifest)
    assert ProofBundle.load(out / "carol.proof.json").circuit == "cross"


@pytest.mark.slow
def test_a_rerun_keeps_only_proofs_that_still_match_and_verify(
    tmp_path: Path, data: MarketData, manifest: Manifest
) -> None:
    accounts = {f"u{i}": isolated(0x100 + i) for i in range(4)}
    jobs = [Job(name, account) for name, account in accounts.items()]
    out = tmp_path / "proofs"
    first = prove_many(jobs, data, out, verify=py_ecc(manifest), workers=2, manifest=manifest)
    assert first.proved == 4
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    # u1's file now holds u2's (valid) proof; u3's proof bytes are corrupted
    (out / "u1.proof.json").write_bytes((out / "u2.proof.json").read_bytes())
    tampered = ProofBundle.load(out / "u3.proof.json")
    pi_a = tampered.proof["pi_a"]
    bad_proof = {**tampered.proof, "pi_a": [pi_a[1], pi_a[0], pi_a[2]]}
    write_json(out / "u3.proof.json", {**tampered.to_json(), "proof": bad_proof})

    checked: list[str] = []

    def recording(bundle: ProofBundle) -> bool:
        checked.append(str(bundle.statement.account))
        return verify_bundle(bundle, manifest).valid

    second = prove_many(jobs, data, out, verify=recording, workers=2, manifest=manifest)
    result = {o.name: o.status for o in second.outcomes}
    assert result == {
        "u0": Status.SKIPPED,
        "u1": Status.PROVED,  # wrong statement: not even sent to the verifier
        "u2": Status.SKIPPED,
        "u3": Status.PROVED,  # right statement, proof does not verify
    }
    assert len(checked) == 3  # u0, u2, u3 reached the verify callable
    assert (out / "u0.proof.json").stat().st_mtime_ns == before["u0.proof.json"]
    for name, account in accounts.items():
        check_proof(out / f"{name}.proof.json", account, manifest)

    # another binding is another statement: nothing is kept
    third = prove_many(
        jobs,
        data,
        out,
        verify=py_ecc(manifest),
        settings=Settings(binding=Binding(nonce=1)),
        manifest=manifest,
    )
    assert third.proved == 4
    assert all(ProofBundle.load(p).statement.nonce == 1 for p in out.iterdir())

    # and the default check (the proving backend's pairing check) keeps them all
    assert (
        prove_many(
            jobs, data, out, settings=Settings(binding=Binding(nonce=1)), manifest=manifest
        ).skipped
        == 4
    )

    # at the initial rate (IMR) these accounts fall short: the outdated proofs go
    fourth = prove_many(jobs, data, out, settings=Settings(mode=Mode.INITIAL), manifest=manifest)
    assert {o.status for o in fourth.outcomes} == {Status.INSUFFICIENT}
    assert not list(out.iterdir())


def test_the_job_list_is_checked_before_any_proof(tmp_path: Path, data: MarketData) -> None:
    with pytest.raises(InputError, match="plain file name"):
        Job("../escape", isolated(1))
    with pytest.raises(InputError, match="named 'x'"):
        prove_many([Job("x", isolated(1)), Job("x", isolated(2))], data, tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        jobs_from_dir(tmp_path / "missing")
    with pytest.raises(InputError, match=r"no \*\.account\.json files"):
        jobs_from_dir(tmp_path)
    with pytest.raises(InputError, match="must pickle"):
        prove_many(
            [Job("x", isolated(1))], data, tmp_path, executor="process", verify=lambda b: True
        )
    assert not list(tmp_path.iterdir())


class CrashingProver(Prover):
    """A real prover whose process dies (as on a segfault or the OOM killer) when asked
    to prove one particular account."""

    def prove(self, account: Account, *args: Any, **kwargs: Any) -> ProofBundle:
        if account.address == CRASH_ADDRESS:
            os._exit(3)
        return super().prove(account, *args, **kwargs)


@pytest.mark.slow
def test_a_dead_worker_process_costs_only_its_own_account(
    tmp_path: Path, data: MarketData, manifest: Manifest
) -> None:
    accounts = {f"p{i}": isolated(0x200 + i) for i in range(6)}
    accounts["p2"] = isolated(CRASH_ADDRESS)
    jobs = [Job(name, account) for name, account in accounts.items()]
    out = tmp_path / "proofs"
    summary = prove_many(
        jobs,
        data,
        out,
        verify=None,
        workers=2,
        executor="process",
        prover_factory=CrashingProver,
        manifest=manifest,
    )
    assert summary.how == "process"
    result = {o.name: o for o in summary.outcomes}
    assert result["p2"].status is Status.ERROR
    assert "worker process died" in result["p2"].message
    assert summary.proved == 5, [(o.name, o.status, o.message) for o in summary.outcomes]
    for name, account in accounts.items():
        if name != "p2":
            check_proof(out / f"{name}.proof.json", account, manifest)
    assert not (out / "p2.proof.json").exists()


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(prove_batch, list(args), catch_exceptions=False)


@pytest.mark.slow
def test_cli_proves_a_directory_and_exits_1_on_any_failure(
    accounts_dir: tuple[Path, dict[str, Account]], manifest: Manifest
) -> None:
    folder, good = accounts_dir
    out = folder.parent / "out"
    result = run_cli(str(folder), "-m", str(MARKETS), "-o", str(out), "-j", "2", "--nonce", "9")
    assert result.exit_code == 1, result.output
    assert "insufficient margin" in result.output and "dave" in result.output
    assert "bad input" in result.output and "eve" in result.output
    for name, account in good.items():
        assert check_proof(out / f"{name}.proof.json", account, manifest).statement.nonce == 9

    for name in ("dave", "eve"):
        (folder / f"{name}.account.json").unlink()
    again = run_cli(str(folder), "-m", str(MARKETS), "-o", str(out), "--nonce", "9")
    assert again.exit_code == 0, again.output
    assert "skipped" in again.output


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: Any, *args: str) -> tuple[int, str]:
    """The real ``zkmargin`` entry point with ``prove-batch`` registered (as cli.main will)."""
    monkeypatch.setitem(cli_main.cli.commands, "prove-batch", prove_batch)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["prove-batch", *args])
    code = exit_info.value.code
    return code if isinstance(code, int) else 0, capsys.readouterr().err


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{missing}", "-m", "{markets}", "-o", "{out}"], "not a directory"),
        (["{accounts}", "-m", "{accounts}/x.json", "-o", "{out}"], "no such file"),
        (["{accounts}", "-m", "{markets}", "-o", "{out}", "--engine", "0x12"], "--engine"),
        (["{accounts}", "-m", "{markets}", "-o", "{out}", "--ray", "nohost"], "HOST:PORT"),
        (
            ["{accounts}", "-m", "{markets}", "-o", "{out}", "--ray", "127.0.0.1:{port}"],
            "cannot reach the Ray cluster",
        ),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    expected: str,
) -> None:
    accounts = tmp_path / "accounts"
    accounts.mkdir()
    save_account(accounts / "a.account.json", isolated(1))
    values = {
        "missing": str(tmp_path / "missing"),
        "markets": str(MARKETS),
        "accounts": str(accounts),
        "out": str(tmp_path / "out"),
        "port": str(closed_port()),
    }
    started = time.monotonic()
    code, err = run_main(monkeypatch, capsys, *(a.format(**values) for a in args))
    assert code == 2
    assert err.startswith("error: ") and expected in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert time.monotonic() - started < 30  # an unreachable cluster is refused quickly
    assert not (tmp_path / "out").exists()


def test_connect_refuses_an_address_nothing_listens_on() -> None:
    with pytest.raises(ProverError, match="cannot reach the Ray cluster"):
        connect(f"127.0.0.1:{closed_port()}")


@pytest.mark.slow
def test_a_killed_batch_loses_no_finished_proof_and_resumes(
    tmp_path: Path, manifest: Manifest
) -> None:
    """SIGKILL the driver once proofs are landing; every file it left is whole, and a
    re-run keeps them and proves the rest."""
    folder, out = tmp_path / "accounts", tmp_path / "proofs"
    folder.mkdir()
    accounts = {f"k{i:02d}": isolated(0x300 + i) for i in range(40)}
    for name, account in accounts.items():
        write_json(folder / f"{name}.account.json", account_to_json(account), mode=0o600)
    command = [
        sys.executable,
        "-c",
        "import sys; from cli.batch import prove_batch; prove_batch(sys.argv[1:])",
        str(folder),
        "-m",
        str(MARKETS),
        "-o",
        str(out),
        "-j",
        "1",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and len(list(out.glob("*.proof.json"))) >= 3:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    left = sorted(out.glob("*.proof.json"))
    assert 0 < len(left) < len(accounts), "the kill did not land mid-batch"
    for path in left:  # complete files only (atomic writes), each a valid proof
        check_proof(path, accounts[path.name.removesuffix(".proof.json")], manifest)

    result = run_cli(str(folder), "-m", str(MARKETS), "-o", str(out))
    assert result.exit_code == 0, result.output
    skipped = next(line for line in result.output.splitlines() if "skipped" in line)
    assert str(len(left)) in skipped
    for name, account in accounts.items():
        check_proof(out / f"{name}.proof.json", account, manifest)


def test_prover_prove_many_uses_the_provers_manifest_and_backend(
    accounts_dir: tuple[Path, dict[str, Account]], data: MarketData, manifest: Manifest
) -> None:
    """The library entry point: ``Prover.prove_many`` runs the same batch with its own
    manifest and backend (by name for threads, shared when the backend is an instance)."""
    folder, good = accounts_dir
    out = folder.parent / "library-proofs"
    with Prover(manifest) as prover:
        summary = prover.prove_many(folder, data, out, workers=2)
    assert summary.proved == 3 and not summary.ok
    for name, account in good.items():
        check_proof(out / f"{name}.proof.json", account, manifest)
