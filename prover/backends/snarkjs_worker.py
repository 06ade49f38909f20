"""``snarkjs-worker``: one long-lived Node process running snarkjs, fed over a pipe.

A one-shot ``snarkjs groth16 prove`` spends most of its ~0.5 s starting Node, building the
curve and reading the zkey. The worker (``prover/js/prove_worker.cjs``) does that once and
then proves from a witness held in memory: the witness travels base64 in one JSON line on
the worker's stdin and is handed to snarkjs as ``{type: "mem"}``, so it never touches a file.

Lifetime: the worker is started at first use and ends when :meth:`close` runs, when this
object is garbage-collected, at interpreter exit (``weakref.finalize``), or -- should this
process die without any of those -- when its stdin pipe reaches EOF. If it dies during a
request, it is restarted and the request retried once; a second failure raises
:class:`ProverError` with the gist of the worker's stderr.

Thread-safety: requests are serialised by a lock (one Node process proves one thing at a
time; snarkjs uses its own worker threads for the multi-exponentiations). Threads may
share one backend; for parallel proofs give each thread its own ``Prover``.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import subprocess
import tempfile
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from prover.backends.base import ProofJson, checked_vkey
from zkmargin.artifacts import Manifest
from zkmargin.errors import ArtifactError, ProverError
from zkmargin.paths import node_modules, project_root
from zkmargin.toolrun import minimal_env

SCRIPT = Path(__file__).resolve().parent.parent / "js" / "prove_worker.cjs"
REQUEST_TIMEOUT = 300.0
STDERR_TAIL = 4096


class WorkerDied(Exception):
    """The worker process ended (or its pipe broke) before replying."""


def _terminate(proc: subprocess.Popen[bytes], stderr: IO[bytes]) -> None:
    """Close the pipe (the worker exits at EOF), then make sure it is gone."""
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    stderr.close()


class _Process:
    """One running worker: the pipe, a read buffer and its captured stderr."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()  # unnamed; holds error text, never witnesses
        try:
            self.proc = subprocess.Popen(
                ["node", str(SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                cwd=project_root(),
                env={**minimal_env(), "NODE_PATH": str(node_modules())},
                start_new_session=True,  # a Ctrl-C to the shell reaches Python, not the worker
            )
        except OSError as exc:
            self.stderr.close()
            raise ProverError(f"cannot start the snarkjs worker (node): {exc.strerror}") from None
        self.loaded: set[str] = set()
        self._buffer = b""
        self.finalizer = weakref.finalize(self, _terminate, self.proc, self.stderr)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(message).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise WorkerDied from None
        line = self._read_line(timeout)
        try:
            reply = json.loads(line)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise ProverError(f"the snarkjs worker sent a malformed reply: {line[:80]!r}")
        return reply

    def _read_line(self, timeout: float) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                if not sel.select(timeout):
                    self.close()
                    raise ProverError(f"the snarkjs worker did not answer in {timeout:.0f} s")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise WorkerDied
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def stderr_gist(self) -> str:
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - STDERR_TAIL))
            lines = [ln.strip() for ln in self.stderr.read().decode(errors="replace").splitlines()]
        except (OSError, ValueError):
            return ""
        errors = [ln for ln in lines if "error" in ln.lower()]
        pick = errors or [ln for ln in lines if ln]
        return pick[-1] if pick else ""

    def exit_description(self) -> str:
        code = self.proc.poll()
        if code is None:
            return "its pipe broke"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        self.finalizer()


class SnarkjsWorkerBackend:
    name = "snarkjs-worker"

    def __init__(self, manifest: Manifest, *, timeout: float = REQUEST_TIMEOUT) -> None:
        self.manifest = manifest
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: _Process | None = None
        self._vkeys: dict[str, dict[str, Any]] = {}
        self.restarts = 0
        """How many times a dead worker was replaced (tests and diagnostics)."""

    # -- the interface ---------------------------------------------------------------------

    def load(self, circuit: str) -> None:
        self._call(circuit, {"op": "ping"})

    def prove(self, circuit: str, wtns: bytes) -> tuple[ProofJson, list[int]]:
        reply = self._call(
            circuit, {"op": "prove", "circuit": circuit, "wtns": base64.b64encode(wtns).decode()}
        )
        try:
            public = [int(s) for s in reply["public"]]
            proof: ProofJson = reply["proof"]
        except (KeyError, TypeError, ValueError):
            raise ProverError("the snarkjs worker returned a malformed proof") from None
        return proof, public

    def verify(self, circuit: str, proof: ProofJson, public: Sequence[int]) -> bool:
        message = {
            "op": "verify",
            "circuit": circuit,
            "proof": proof,
            "public": [str(s) for s in public],
        }
        return self._call(circuit, message).get("valid") is True

    def close(self) -> None:
        with self._lock:
            if self._proc is not None:
                self._proc.close()
                self._proc = None

    # -- diagnostics -------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running worker's process id (None before first use or after close)."""
        return self._proc.pid if self._proc is not None else None

    def rss_bytes(self) -> int | None:
        """Resident memory of the worker process (Linux /proc), None if not running."""
        if self._proc is None:
            return None
        try:
            status = Path(f"/proc/{self._proc.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None

    # -- internals ---------------------------------------------------------------------------

    def _call(self, circuit: str, message: dict[str, Any]) -> dict[str, Any]:
        """Send ``message`` after making sure ``circuit`` is loaded; one restart and retry
        if the worker dies on the way."""
        with self._lock:
            for attempt in (1, 2):
                proc = self._running()
                try:
                    self._ensure_loaded(proc, circuit)
                    reply = proc.request(message, self.timeout)
                except WorkerDied:
                    why = f"{proc.exit_description()}; {proc.stderr_gist()}".rstrip("; ")
                    proc.close()
                    self._proc = None
                    if attempt == 2:
                        raise ProverError(f"the snarkjs worker died twice ({why})") from None
                    self.restarts += 1
                    continue
                return self._checked(reply)
        raise AssertionError("unreachable")  # pragma: no cover

    def _running(self) -> _Process:
        if self._proc is None or self._proc.proc.poll() is not None:
            if self._proc is not None:
                self._proc.close()
            self._proc = _Process()
        return self._proc

    def _ensure_loaded(self, proc: _Process, circuit: str) -> None:
        if circuit in proc.loaded:
            return
        art = self.manifest.circuit(circuit)
        if circuit not in self._vkeys:
            self._vkeys[circuit] = checked_vkey(self.manifest, circuit)
        reply = proc.request(
            {
                "op": "load",
                "circuit": circuit,
                "zkey": str(art.zkey),
                "sha256": art.sha256.get("zkey", ""),
                "vkey": self._vkeys[circuit],
            },
            self.timeout,
        )
        if not reply.get("ok"):
            raise ArtifactError(str(reply.get("error", "the snarkjs worker cannot load keys")))
        proc.loaded.add(circuit)

    @staticmethod
    def _checked(reply: dict[str, Any]) -> dict[str, Any]:
        if not reply.get("ok"):
            raise ProverError(f"snarkjs worker: {reply.get('error', 'unknown error')}")
        return reply
