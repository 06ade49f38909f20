"""``zkmargin serve``: keep a prover warm so that ``zkmargin prove`` answers at once.

A fresh ``zkmargin prove`` spends most of its time before proving: importing, compiling
the witness wasm, loading keys (and, for snarkjs, starting Node). ``zkmargin serve`` does
that once and then proves for ``zkmargin prove`` processes over a unix socket.

Security: the socket is private to the user. It lives in a runtime directory that must be
the user's own and mode 0700 (``$ZKMARGIN_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/zkmargin``,
else ``/tmp/zkmargin.run-<uid>``), is created mode 0600, and the server also refuses a peer
whose uid (SO_PEERCRED) is not its own. The client checks the directory and the socket
before sending an account, and proves in-process instead whenever anything is off.

Staleness: a server proves only for the build it was started with: the client sends the
SHA-256 of its ``manifest.json`` and the backend it asked for; on any difference the
server declines and the client proves itself. One socket per build directory.

Protocol: one JSON line each way per connection: ``{"zkmargin_serve": 2, "manifest":
sha256, "backend": name|null, "account": {...}, "market": {...}, "mode", "circuit",
"opening", "binding": {"chain_id", "engine", "nonce"}}`` -> ``{"ok": true, "bundle":
{...proof file...}, "backend": name}`` or ``{"ok": false, "kind": "insufficient" |
"error" | "declined", ...}``. A portfolio request has ``"circuit": "portfolio"``, the
risk file as ``"risk"`` in place of ``"market"``, the portfolio account, the client's
clock as ``"now"`` (unix seconds: expiries are checked against the client's time, not
the server's) and a portfolio mode (an opening proof's already initial). Version 2 added
portfolio requests: a version-1 server declines them, and the client proves itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import socketserver
import stat
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from prover.backends import BACKENDS
from prover.prove import Prover
from zkmargin.accounts import parse_account, parse_market_data
from zkmargin.artifacts import MANIFEST_NAME, load_manifest
from zkmargin.encoding import Binding
from zkmargin.errors import InputError, InsufficientMargin, ZkMarginError
from zkmargin.jsonio import parse_json
from zkmargin.model import Mode
from zkmargin.paths import build_dir
from zkmargin.portfolio import PortfolioMode, parse_portfolio_account
from zkmargin.portfolio_encoding import PORTFOLIO_CIRCUIT
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import DEFAULT_SHAPE, check_fits, parse_risk_file

PROTOCOL = 2
MAX_MESSAGE = 4 << 20
CLIENT_TIMEOUT = 300.0


# ------------------------------------------------------------------ where the socket is


def runtime_dir() -> Path:
    env = os.environ.get("ZKMARGIN_RUNTIME_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "zkmargin"
    # not "zkmargin-*": that prefix is the prover's scratch directories, which must all vanish
    return Path("/tmp") / f"zkmargin.run-{os.getuid()}"  # noqa: S108 -- owner, 0700 checked


def socket_path(build: Path) -> Path:
    digest = hashlib.sha256(str(build.resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"prove-{digest}.sock"


def manifest_digest(build: Path) -> str:
    try:
        return hashlib.sha256((build / MANIFEST_NAME).read_bytes()).hexdigest()
    except OSError:
        return ""


def private_dir_problem(path: Path) -> str | None:
    """Why ``path`` is not a directory only this user can use (None if it is)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if not stat.S_ISDIR(info.st_mode):
        return f"{path} is not a directory"
    if info.st_uid != os.getuid():
        return f"{path} belongs to another user"
    if info.st_mode & 0o077:
        return f"{path} is open to other users (mode {stat.S_IMODE(info.st_mode):o}, need 700)"
    return None


def make_runtime_dir() -> Path:
    path = runtime_dir()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"runtime directory {path}: cannot create it ({exc.strerror})") from None
    problem = private_dir_problem(path)
    if problem:
        raise InputError(f"runtime directory: {problem}; set ZKMARGIN_RUNTIME_DIR")
    return path


def peer_uid(sock: socket.socket) -> int | None:
    """The connecting process' uid (Linux SO_PEERCRED), None where unsupported."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, 12))
    return int(uid)


# ------------------------------------------------------------------------- the server


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: Path, prover: Prover, digest: str) -> None:
        self.prover = prover
        self.digest = digest
        old = os.umask(0o177)  # the socket is created 0600
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        uid = peer_uid(self.connection)
        if uid is not None and uid != os.getuid():
            return  # another user (or root acting as one): say nothing
        line = self.rfile.readline(MAX_MESSAGE + 1)
        if not line:
            return
        if len(line) > MAX_MESSAGE:
            reply: dict[str, Any] = {"ok": False, "kind": "error", "message": "request too big"}
        else:
            reply = answer(self.server.prover, self.server.digest, line)
        try:
            self.wfile.write(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass  # the client went away; nothing to tell it


def answer(prover: Prover, digest: str, line: bytes) -> dict[str, Any]:
    """The reply to one request line (never raises)."""
    try:
        request = parse_json(line.decode("utf-8", errors="replace"), "request")
        if not isinstance(request, dict) or request.get("zkmargin_serve") != PROTOCOL:
            return {"ok": False, "kind": "declined", "message": "unknown protocol"}
        wanted = request.get("backend")
        if request.get("manifest") != digest or (wanted and wanted != prover.backend_name):
            return {"ok": False, "kind": "declined", "message": "other keys or backend"}
        if request.get("circuit") == PORTFOLIO_CIRCUIT:
            bundle = prove_portfolio_request(prover, request)
        else:
            bundle = prove_rate_request(prover, request)
    except InsufficientMargin as exc:
        return {
            "ok": False,
            "kind": "insufficient",
            "equity": exc.equity,
            "requirement": exc.requirement,
        }
    except ZkMarginError as exc:
        return {"ok": False, "kind": "error", "message": str(exc)}
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "kind": "error", "message": f"malformed request ({exc})"}
    except Exception as exc:  # keep serving; the client reports it in one line
        return {"ok": False, "kind": "error", "message": f"internal error: {exc!r}"}
    return {"ok": True, "bundle": bundle.to_json(), "backend": prover.backend_name}


def prove_rate_request(prover: Prover, request: dict[str, Any]) -> ProofBundle:
    """A rate-based account against the market file of the request."""
    data = parse_market_data(request["market"], "market file")
    account = parse_account(request["account"], data, "account file")
    return prover.prove(
        account,
        data,
        mode=Mode(request["mode"]),
        binding=request_binding(request),
        circuit=request.get("circuit"),
        opening=bool(request.get("opening")),
    )


def prove_portfolio_request(prover: Prover, request: dict[str, Any]) -> ProofBundle:
    """A portfolio account against the risk file of the request, at the client's clock."""
    risk = parse_risk_file(request["risk"], "risk file")
    check_fits(risk, DEFAULT_SHAPE, "risk file")
    account = parse_portfolio_account(request["account"], risk, "account file")
    now = request["now"]
    if not isinstance(now, int) or isinstance(now, bool):
        raise TypeError("now: expected unix seconds")
    return prover.prove_portfolio(
        account,
        risk,
        mode=PortfolioMode(request["mode"]),
        binding=request_binding(request),
        now=now,
        opening=bool(request.get("opening")),
    )


def request_binding(request: dict[str, Any]) -> Binding:
    raw = request["binding"]
    return Binding(chain_id=raw["chain_id"], engine=raw["engine"], nonce=raw["nonce"])


def _server_alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


@click.command()
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Proving backend (default: $ZKMARGIN_BACKEND, else the fastest installed).",
)
def serve(backend: str | None) -> None:
    """Keep a prover warm for `zkmargin prove` (until Ctrl-C or SIGTERM).

    Listens on a 0600 unix socket in a private runtime directory; `zkmargin prove` uses it
    when it is running for the same build and backend, and proves by itself otherwise.
    """
    build = build_dir()
    manifest = load_manifest(build)
    make_runtime_dir()
    path = socket_path(build)
    if path.exists() or path.is_symlink():
        if _server_alive(path):
            raise InputError(f"a zkmargin server is already running on {path}")
        path.unlink()  # left by a server that was killed
    started = time.perf_counter()
    prover = Prover(manifest, backend=backend) if backend else Prover(manifest)
    prover.warm()  # every circuit: rate-based and portfolio (~0.1 s each with arkworks)
    server = _Server(path, prover, manifest_digest(build))

    def stop(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    previous = signal.signal(signal.SIGTERM, stop)
    click.echo(
        f"serving {prover.backend_name} proofs on {path} "
        f"(warm in {time.perf_counter() - started:.2f} s); Ctrl-C stops",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        path.unlink(missing_ok=True)
        prover.close()
    click.echo("stopped", err=True)


# ------------------------------------------------------------------------- the client


def served_proof(request: dict[str, Any], build: Path) -> dict[str, Any] | None:
    """Ask a running ``zkmargin serve`` for this build to prove ``request``.

    None means "prove in-process": no server, a stale socket, a server for other keys or
    another backend, a runtime directory or socket that is not private, or a server that
    died mid-request. Otherwise the server's reply (``ok`` true or false).
    """
    path = socket_path(build)
    if private_dir_problem(path.parent) is not None:
        return None
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid():
        return None
    message = {"zkmargin_serve": PROTOCOL, "manifest": manifest_digest(build), **request}
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(CLIENT_TIMEOUT)
    try:
        conn.connect(str(path))
        conn.sendall(json.dumps(message).encode() + b"\n")
        chunks: list[bytes] = []
        while not chunks or not chunks[-1].endswith(b"\n"):
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        conn.close()
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        return None
    if not isinstance(reply, dict) or reply.get("kind") == "declined":
        return None
    return reply


def _main() -> None:  # `python -m cli.serve`, until `zkmargin serve` is registered
    try:
        serve.main(sys.argv[1:], prog_name="zkmargin serve", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except ZkMarginError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    _main()
