"""The local chain's lifecycle: free port, answers, clean stop, no orphan anvil ever."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.anvil import (
    LocalChain,
    read_state,
    rpc_answers,
    start_persistent,
    state_alive,
    stop_persistent,
)
from chain.errors import ChainError
from chain.rpc import Chain
from cli.main import cli

ROOT = Path(__file__).resolve().parent.parent


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may linger if init does not reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid)


def test_context_manager_starts_answers_and_stops() -> None:
    with LocalChain() as chain:
        pid = chain.pid
        assert pid is not None and running(pid)
        assert chain.port not in (0, 8545)
        assert rpc_answers(chain.rpc_url) == 31337
        assert Chain(chain.rpc_url).is_anvil
    assert not running(pid)
    assert not chain.running
    with pytest.raises(ChainError, match="not running"):
        _ = chain.rpc_url
    chain.stop()  # idempotent


def test_two_chains_get_their_own_ports() -> None:
    with LocalChain() as one, LocalChain() as two:
        assert one.port != two.port
        assert rpc_answers(one.rpc_url) == rpc_answers(two.rpc_url) == 31337


def test_an_exception_inside_stops_anvil() -> None:
    pid = None
    with pytest.raises(RuntimeError), LocalChain() as chain:
        pid = chain.pid
        raise RuntimeError("boom")
    assert pid is not None and not running(pid)


CHILD = """
import sys, time
import prover
from chain.anvil import LocalChain
with LocalChain() as chain:
    print(chain.pid, flush=True)
    time.sleep(120)
"""


PR_SET_CHILD_SUBREAPER = 36


def set_subreaper(on: bool) -> None:
    """Orphaned descendants come to this process (so the test can reap the dead anvil
    instead of leaving a zombie under an init that may not reap)."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on))


def default_sigint() -> None:
    """In the child before exec: SIGINT back to its default (see the callers)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def reap(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_orphan_when_python_is_interrupted_or_killed(sig: signal.Signals) -> None:
    """Ctrl-C runs the context manager's cleanup; SIGTERM/SIGKILL skip Python's cleanup,
    and the kernel's parent-death signal (PR_SET_PDEATHSIG) still stops anvil."""
    set_subreaper(True)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        # a parent started in the background without job control (`cmd &` in a script)
        # passes SIGINT down ignored, and Python then never raises KeyboardInterrupt:
        # give the child the default disposition, as a terminal would
        preexec_fn=default_sigint,
    )
    try:
        assert proc.stdout is not None
        anvil_pid = int(proc.stdout.readline())
        assert running(anvil_pid)
        proc.send_signal(sig)
        proc.wait(timeout=20)
        assert wait_gone(anvil_pid), f"anvil {anvil_pid} outlived its parent ({sig.name})"
        reap(anvil_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        set_subreaper(False)


def test_unreachable_rpc_is_one_clear_error() -> None:
    with LocalChain() as chain:
        url = chain.rpc_url
    with pytest.raises(ChainError, match=f"cannot reach the RPC endpoint {url}"):
        _ = Chain(url).chain_id


def test_time_moves_only_on_anvil_and_only_forward() -> None:
    with LocalChain() as local:
        chain = Chain(local.rpc_url)
        before = chain.timestamp()
        assert chain.advance_time(3600) >= before + 3600
        target = chain.timestamp() + 100
        assert chain.set_next_timestamp(target) == target
        with pytest.raises(ChainError, match="forward"):
            chain.advance_time(-1)


# ---------------------------------------------------------------- persistent mode (chain up/down)


def test_persistent_chain_up_status_down(tmp_path: Path) -> None:
    path = tmp_path / "anvil.json"
    state = start_persistent(path)
    try:
        assert json.loads(path.read_text())["rpc_url"] == state.rpc_url
        assert read_state(path) == state
        assert state_alive(state) and rpc_answers(state.rpc_url) == 31337
        assert start_persistent(path) == state  # idempotent: the same chain
    finally:
        stopped = stop_persistent(path)
    assert stopped == state
    assert not path.exists()
    assert wait_gone(state.pid)
    assert stop_persistent(path) is None


def test_cli_chain_up_status_advance_down(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "anvil.json"
    up = runner.invoke(cli, ["chain", "up", "--state-file", str(path)])
    assert up.exit_code == 0, up.output
    state = read_state(path)
    assert state is not None
    try:
        assert f"anvil running: {state.rpc_url} (pid {state.pid}" in up.output
        again = runner.invoke(cli, ["chain", "up", "--state-file", str(path)])
        assert "already running" in again.output
        status = runner.invoke(cli, ["chain", "status", "--state-file", str(path)])
        assert status.exit_code == 0 and f"running: {state.rpc_url}" in status.output
        advance = runner.invoke(cli, ["time", "advance", "90", "--rpc-url", state.rpc_url])
        assert advance.exit_code == 0 and "advanced 1m 30s" in advance.output
        accounts = runner.invoke(cli, ["chain", "accounts"])
        assert "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266" in accounts.output
        assert "ac0974bec39a17e36ba4a6b4d238ff944bacb478" not in accounts.output  # key 0
    finally:
        down = runner.invoke(cli, ["chain", "down", "--state-file", str(path)])
    assert down.exit_code == 0 and f"stopped anvil pid {state.pid}" in down.output
    assert wait_gone(state.pid)
    status = runner.invoke(cli, ["chain", "status", "--state-file", str(path)])
    assert "no chain recorded" in status.output


def test_stale_state_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "anvil.json"
    state = start_persistent(path)
    os.kill(state.pid, signal.SIGKILL)
    assert wait_gone(state.pid)
    out = CliRunner().invoke(cli, ["chain", "status", "--state-file", str(path)]).output
    assert "not running" in out
    restarted = start_persistent(path)  # up replaces a dead chain
    try:
        assert restarted.pid != state.pid and state_alive(restarted)
    finally:
        stop_persistent(path)
    assert wait_gone(restarted.pid)
