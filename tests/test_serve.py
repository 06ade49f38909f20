"""``zkmargin serve``: a warm prover behind a private unix socket, used by ``zkmargin prove``.

Real server process, real proofs. The client must use the server only when it is safe
(own 0700 directory, own 0600 socket, same keys and backend) and prove by itself otherwise.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_portfolio_cli import BOOKS, NOW_TEXT, risk_path
from tooling.cli_run import run_cli

from cli.serve import PROTOCOL, answer, manifest_digest, socket_path
from verifier.bundle import verify_bundle
from zkmargin.accounts import account_to_json, new_account
from zkmargin.artifacts import Manifest
from zkmargin.jsonio import read_json_file
from zkmargin.model import Position
from zkmargin.paths import build_dir
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Price, Size

__all__ = ["risk_path"]  # a fixture of tests/test_portfolio_cli.py
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MARKETS = EXAMPLES / "markets.json"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    socket: Path
    env: dict[str, str]


def start_server(runtime: Path, *args: str) -> Server:
    env = {**os.environ, "ZKMARGIN_RUNTIME_DIR": str(runtime)}
    env.pop("ZKMARGIN_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.serve", *args],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    old = os.environ.get("ZKMARGIN_RUNTIME_DIR")
    os.environ["ZKMARGIN_RUNTIME_DIR"] = str(runtime)
    try:
        path = socket_path(build_dir())
    finally:
        if old is None:
            del os.environ["ZKMARGIN_RUNTIME_DIR"]
        else:
            os.environ["ZKMARGIN_RUNTIME_DIR"] = old
    deadline = time.monotonic() + 120
    while not path.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"server did not start: {proc.communicate()[1]}")
        time.sleep(0.05)
    return Server(proc, path, env)


def stop(server: Server) -> str:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    _out, err = server.proc.communicate(timeout=30)
    return err


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run") / "zk"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="module")
def server(runtime: Path, manifest: Manifest) -> Iterator[Server]:
    running = start_server(runtime, "--backend", "arkworks")
    yield running
    stop(running)


@pytest.fixture
def use_runtime(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ZKMARGIN_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("ZKMARGIN_BACKEND", raising=False)
    return runtime


def account_file(tmp_path: Path, usdc: int = 1000) -> Path:
    account = new_account(
        0x1111,
        {"USDC": Balance(usdc * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )
    path = tmp_path / "a.account.json"
    path.write_text(json.dumps(account_to_json(account)))
    return path


def run_prove(*args: object) -> tuple[int, str, str]:
    result = run_cli("prove", *args)
    return result.code, result.out, result.err


def test_socket_and_directory_are_private(server: Server, runtime: Path) -> None:
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    info = server.socket.lstat()
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()


def test_prove_uses_the_server(server: Server, use_runtime: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    code, text, err = run_prove(account_file(tmp_path), "-m", MARKETS, "-o", out)
    assert code == 0, err
    assert "verified by zkmargin serve, arkworks" in text
    bundle = ProofBundle.load(out)
    assert bundle.circuit == "isolated" and verify_bundle(bundle).valid
    # --local, or another backend than the server's: proved in this process
    code, text, err = run_prove(account_file(tmp_path), "-m", MARKETS, "-o", out, "--local")
    assert code == 0 and "verified locally" in text, err
    code, text, err = run_prove(
        account_file(tmp_path), "-m", MARKETS, "-o", out, "--backend", "snarkjs-worker"
    )
    assert code == 0 and "verified locally" in text, err


def test_served_refusal_is_the_same_one_line(
    server: Server, use_runtime: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    code, _text, err = run_prove(account_file(tmp_path, usdc=10), "-m", MARKETS, "-o", out)
    assert code == 1 and not out.exists()
    assert err.startswith("error: insufficient margin: equity ") and err.count("\n") == 1


def test_fresh_cli_process_with_server(server: Server, tmp_path: Path) -> None:
    """What a user sees: `zkmargin prove` in a new process, answered by the server. The
    time is printed, not asserted (shared 2-core machine); see benchmarks/bench.py."""
    out = tmp_path / "p.json"
    argv = [
        sys.executable,
        "-c",
        "import sys; from cli.prove import prove; prove.main(sys.argv[1:])",
        str(account_file(tmp_path)),
        "-m",
        str(MARKETS),
        "-o",
        str(out),
    ]
    started = time.perf_counter()
    done = subprocess.run(argv, env=server.env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert "by zkmargin serve" in done.stdout
    print(f"fresh `prove` process answered by the server: {seconds * 1000:.0f} ms")
    assert verify_bundle(ProofBundle.load(out)).valid


def test_a_directory_open_to_others_is_not_used(
    server: Server, use_runtime: Path, tmp_path: Path
) -> None:
    use_runtime.chmod(0o755)
    try:
        out = tmp_path / "p.json"
        code, text, err = run_prove(account_file(tmp_path), "-m", MARKETS, "-o", out)
        assert code == 0 and "verified locally" in text, err
    finally:
        use_runtime.chmod(0o700)


def test_server_refuses_an_open_directory_and_a_second_instance(
    server: Server, tmp_path: Path
) -> None:
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    done = subprocess.run(
        [sys.executable, "-m", "cli.serve"],
        env={**server.env, "ZKMARGIN_RUNTIME_DIR": str(open_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: runtime directory: ") and "need 700" in done.stderr
    assert done.stderr.count("\n") == 1
    second = subprocess.run(
        [sys.executable, "-m", "cli.serve"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert second.returncode == 2 and "already running" in second.stderr
    assert server.proc.poll() is None and server.socket.exists()


def test_answer_declines_other_keys_and_reports_bad_requests(prover_manifest_digest: str) -> None:
    from prover.prove import Prover

    prover = Prover(backend="arkworks")
    other_keys = {"zkmargin_serve": PROTOCOL, "manifest": "x"}
    declined = answer(prover, prover_manifest_digest, json.dumps(other_keys).encode())
    assert declined["kind"] == "declined"
    assert answer(prover, prover_manifest_digest, b"not json")["kind"] == "error"
    bad = json.dumps({"zkmargin_serve": PROTOCOL, "manifest": prover_manifest_digest}).encode()
    assert answer(prover, prover_manifest_digest, bad)["message"].startswith("malformed request")


def test_prove_portfolio_uses_the_server(
    server: Server, use_runtime: Path, tmp_path: Path, risk_path: Path
) -> None:
    """`prove --circuit portfolio` is answered by the server like a rate-based prove; the
    served proof is the one this process would make (same statement), and it verifies."""
    out, local = tmp_path / "served.json", tmp_path / "local.json"
    args = [BOOKS / "hedge.book.json", "-m", risk_path, "--circuit", "portfolio"]
    args += ["--now", NOW_TEXT, "--mode", "withdrawal", "--nonce", "5"]
    code, text, err = run_prove(*args, "-o", out)
    assert code == 0, err
    assert text.startswith(f"wrote {out}: portfolio withdrawal proof, verified by zkmargin serve")
    bundle = ProofBundle.load(out)
    assert bundle.circuit == "portfolio" and verify_bundle(bundle).valid
    assert bundle.statement.nonce == 5
    code, text, err = run_prove(*args, "-o", local, "--local")
    assert code == 0 and "verified locally" in text, err
    assert ProofBundle.load(local).public_signals == bundle.public_signals

    poor = tmp_path / "poor.book.json"
    book = read_json_file(BOOKS / "naked-call.book.json", "book")
    poor.write_text(json.dumps({**book, "collateral": {"USDC": "1000"}}))
    code, text, err = run_prove(poor, *args[1:], "-o", tmp_path / "poor.json")
    assert code == 1 and text == "" and not (tmp_path / "poor.json").exists()
    assert err.startswith("error: insufficient margin: equity ") and err.count("\n") == 1


def test_answer_proves_portfolio_at_the_clients_clock(
    prover_manifest_digest: str, risk_path: Path
) -> None:
    """The server checks expiries at the request's ``now``, not at its own clock; a
    request of the previous protocol version is declined (its client proves itself)."""
    from prover.prove import Prover

    request = {
        "zkmargin_serve": PROTOCOL,
        "manifest": prover_manifest_digest,
        "backend": None,
        "circuit": "portfolio",
        "account": read_json_file(BOOKS / "covered-call.book.json", "book"),
        "risk": read_json_file(risk_path, "risk file"),
        "now": 1796083200,  # 2026-12-01T00:00:00Z, before the series' expiry
        "mode": "maintenance",
        "opening": False,
        "binding": {"chain_id": 31337, "engine": 0, "nonce": 0},
    }
    with Prover(backend="arkworks") as prover:
        reply = answer(prover, prover_manifest_digest, json.dumps(request).encode())
        assert reply["ok"] is True, reply
        bundle = ProofBundle.from_json(reply["bundle"], "reply")
        assert bundle.circuit == "portfolio" and verify_bundle(bundle).valid
        late = {**request, "now": 1798243200}  # 2026-12-26: ETH-20261225-1700-C expired
        reply = answer(prover, prover_manifest_digest, json.dumps(late).encode())
        assert reply["kind"] == "error" and "expired" in reply["message"], reply
        old = {**request, "zkmargin_serve": 1}
        assert answer(prover, prover_manifest_digest, json.dumps(old).encode())["kind"] == (
            "declined"
        )


@pytest.fixture
def prover_manifest_digest() -> str:
    return manifest_digest(build_dir())


def test_sigterm_stops_and_cleans_up(runtime: Path, tmp_path: Path) -> None:
    private = tmp_path / "run"
    private.mkdir(mode=0o700)
    running = start_server(private, "--backend", "snarkjs-worker")
    assert running.socket.exists()
    err = stop(running)
    assert running.proc.returncode == 0, err
    assert not running.socket.exists()
    assert "stopped" in err
