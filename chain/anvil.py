"""A local anvil chain that zkmargin starts and stops itself.

Two lifetimes:

* :class:`LocalChain`, a context manager (``with LocalChain() as chain: ...``) for the
  demo and tests. anvil listens on a port the kernel picks (``--port 0``, so no race with
  another process, e.g. something already on 8545); the chain is up once it answers
  ``eth_chainId``. On exit anvil gets SIGTERM, then SIGKILL after a few seconds. It is
  also killed if Python dies first: the child asks the kernel for ``PR_SET_PDEATHSIG``
  (Linux), and an ``atexit`` hook stops it on a normal interpreter exit. (The kernel
  sends that signal when the *thread* that started anvil ends: start it from the main
  thread, or from a thread that outlives the chain.)
* :func:`start_persistent` / :func:`stop_persistent` for ``zkmargin chain up|down``:
  anvil runs in its own session and outlives the command; its pid, port and URL are
  kept in a state file under the build directory (``<build>/chain/anvil.json``), and
  ``down`` only signals that pid after checking it still is an anvil process.

The dev accounts are anvil's defaults (the public "test test … junk" mnemonic); see
:mod:`chain.signers`. Never use them on a public network.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from chain.errors import ChainError
from zkmargin.jsonio import write_json
from zkmargin.paths import build_dir, node_bin
from zkmargin.toolrun import minimal_env

ANVIL_CHAIN_ID = 31337
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 10
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
_LISTENING = re.compile(r"Listening on ([0-9.]+):([0-9]+)")
_PR_SET_PDEATHSIG = 1
# Detached anvils started by this process (so a later stop in the same process reaps them).
_DETACHED: dict[int, subprocess.Popen[bytes]] = {}


def chain_dir() -> Path:
    return build_dir() / "chain"


def default_state_file() -> Path:
    return chain_dir() / "anvil.json"


def anvil_argv(host: str, port: int) -> list[str]:
    return [
        str(node_bin("anvil")),
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        str(ANVIL_CHAIN_ID),
        "--accounts",
        str(DEV_ACCOUNT_COUNT),
        "--mnemonic",
        DEV_MNEMONIC,  # public, well known: anvil's own default
    ]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask the kernel to SIGTERM this process when its parent dies (Linux only)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def rpc_answers(url: str, timeout: float = 1.0) -> int | None:
    """The chain id if ``url`` answers JSON-RPC ``eth_chainId``, else None."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    request = urllib.request.Request(  # noqa: S310 -- http(s) URL given by the caller
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            reply = json.loads(response.read())
        return int(reply["result"], 16)
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        return None


def _file_reader(path: Path) -> Callable[[], str]:
    def read() -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""

    return read


def _fd_reader(fd: int) -> Callable[[], str]:
    """Read an (unlinked) log from its start without moving the offset anvil writes at."""

    def read() -> str:
        try:
            return os.pread(fd, 1 << 16, 0).decode(errors="replace")
        except OSError:
            return ""

    return read


def _wait_listening(
    proc: subprocess.Popen[bytes], log: Callable[[], str], timeout: float
) -> tuple[str, int, int]:
    """Wait until anvil prints its address and answers; return (host, port, chain id)."""
    deadline = time.monotonic() + timeout
    address: tuple[str, int] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ChainError(f"anvil exited with code {proc.returncode}: {_tail(log)}")
        if address is None:
            found = _LISTENING.search(log())
            if found:
                address = (found.group(1), int(found.group(2)))
        if address is not None:
            chain_id = rpc_answers(f"http://{address[0]}:{address[1]}")
            if chain_id is not None:
                return address[0], address[1], chain_id
        time.sleep(0.05)
    raise ChainError(f"anvil did not answer within {timeout:.0f} s: {_tail(log)}")


def _tail(log: Callable[[], str]) -> str:
    lines = [ln.strip() for ln in log().splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


def _terminate(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class LocalChain:
    """An anvil child process for the lifetime of a ``with`` block."""

    def __init__(self, *, host: str = "127.0.0.1", startup_timeout: float = STARTUP_TIMEOUT):
        self.host = host
        self.startup_timeout = startup_timeout
        self.port = 0
        self.chain_id = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        if self._proc is None:
            raise ChainError("the local chain is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> LocalChain:
        if self._proc is not None:
            raise ChainError("the local chain is already running")
        # The log has no name on disk (unlinked at once): nothing is left behind even if
        # this process is killed; it is read through the descriptor with pread.
        fd, name = tempfile.mkstemp(prefix="anvil-zkmargin-", suffix=".log")
        os.unlink(name)
        self._log_handle = os.fdopen(fd, "w+b")
        try:
            self._proc = subprocess.Popen(
                anvil_argv(self.host, 0),
                stdin=subprocess.DEVNULL,
                stdout=self._log_handle,
                stderr=subprocess.STDOUT,
                env=minimal_env(),
                start_new_session=True,  # Ctrl-C reaches Python, which stops anvil cleanly
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            self._close_log()
            raise ChainError(f"cannot start anvil: {exc.strerror}") from None
        atexit.register(self.stop)
        try:
            host, self.port, self.chain_id = _wait_listening(
                self._proc, _fd_reader(fd), self.startup_timeout
            )
            self.host = host
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate anvil (then kill it) and close its log; idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _terminate(proc)
            atexit.unregister(self.stop)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> LocalChain:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------- persistent mode


@dataclass(frozen=True)
class ChainState:
    """What ``zkmargin chain up`` leaves in the state file."""

    pid: int
    host: str
    port: int
    chain_id: int
    started: float  # unix time
    log: str

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rpc_url": self.rpc_url}


def read_state(path: Path | None = None) -> ChainState | None:
    path = path or default_state_file()
    try:
        data = json.loads(path.read_text())
        return ChainState(
            pid=int(data["pid"]),
            host=str(data["host"]),
            port=int(data["port"]),
            chain_id=int(data["chain_id"]),
            started=float(data["started"]),
            log=str(data["log"]),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise ChainError(f"{path}: corrupt chain state file; delete it") from None


def _is_anvil(pid: int) -> bool:
    """True if ``pid`` is alive and runs anvil (guards against a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return sys.platform != "linux"  # no /proc: trust the state file
    if not cmdline:  # a zombie
        return False
    return Path(cmdline.split(b"\0", 1)[0].decode(errors="replace")).name == "anvil"


def state_alive(state: ChainState) -> bool:
    return _is_anvil(state.pid)


def start_persistent(path: Path | None = None, *, host: str = "127.0.0.1") -> ChainState:
    """Start a detached anvil (unless one from the state file still runs) and record it."""
    path = path or default_state_file()
    existing = read_state(path)
    if existing is not None:
        if state_alive(existing):
            return existing
        _reap(existing.pid)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = path.parent / "anvil.log"
    with log.open("wb") as handle:
        try:
            proc = subprocess.Popen(
                anvil_argv(host, 0),
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=minimal_env(),
                start_new_session=True,  # outlives this command and its terminal's Ctrl-C
            )
        except OSError as exc:
            raise ChainError(f"cannot start anvil: {exc.strerror}") from None
    try:
        host, port, chain_id = _wait_listening(proc, _file_reader(log), STARTUP_TIMEOUT)
    except BaseException:
        _terminate(proc)
        raise
    _DETACHED[proc.pid] = proc
    state = ChainState(proc.pid, host, port, chain_id, time.time(), str(log))
    write_json(path, state.to_json())
    return state


def _reap(pid: int) -> None:
    """Collect the exit status of a detached anvil started by this very process."""
    child = _DETACHED.pop(pid, None)
    if child is not None:
        _terminate(child)


def stop_persistent(path: Path | None = None) -> ChainState | None:
    """Stop the anvil of the state file (SIGTERM, then SIGKILL) and delete the file."""
    path = path or default_state_file()
    state = read_state(path)
    if state is None:
        return None
    if state_alive(state):
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while state_alive(state) and time.monotonic() < deadline:
            time.sleep(0.05)
        if state_alive(state):
            os.kill(state.pid, signal.SIGKILL)
            while state_alive(state) and time.monotonic() < deadline + STOP_TIMEOUT:
                time.sleep(0.05)
    _reap(state.pid)
    path.unlink(missing_ok=True)
    return state
