"""The proving backends (arkworks, snarkjs worker, snarkjs CLI): real proofs, real keys.

Every backend's proofs must pass the independent py_ecc verifier (``zkmargin verify``),
snarkjs with the same verification key, and the Solidity verifiers behind the engine on
anvil. Faults: a worker killed mid-request is replaced and the request retried once; a
zkey or wasm that is not the manifest's is refused in one line; no witness is left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tooling.cli_run import run_cli

from chain.client import Kind, OpenPlan
from chain.local import LocalSystem
from chain.signers import dev_signer
from prover.backends import BACKENDS, ENV_VAR, backend_name, installed_backends, scratch
from prover.backends.codec import (
    proof_from_eth_bytes,
    proof_to_eth_bytes,
    public_signals_from_wtns,
)
from prover.backends.snarkjs_worker import SnarkjsWorkerBackend
from prover.prove import Prover
from verifier.bundle import verify_bundle
from verifier.groth16 import Proof, VerifyingKey, verify
from zkmargin.accounts import account_to_json, load_market_data, new_account
from zkmargin.artifacts import Manifest
from zkmargin.encoding import Binding
from zkmargin.errors import ArtifactError, InputError, ProverError
from zkmargin.model import Account, MarketData, Position
from zkmargin.proofs import ProofBundle
from zkmargin.toolrun import run_tool
from zkmargin.units import SNARK_SCALAR_FIELD as R
from zkmargin.units import Balance, Price, Size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FAST = [b for b in ("arkworks", "snarkjs-worker") if b in installed_backends()]


def isolated_account() -> Account:
    return new_account(
        0x1111,
        {"USDC": Balance(1000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )


def cross_account() -> Account:
    return new_account(
        0x2222,
        {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
        (
            Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),
            Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),
        ),
    )


ACCOUNTS = {"isolated": isolated_account, "cross": cross_account}


@pytest.fixture(scope="module")
def data() -> MarketData:
    return load_market_data(EXAMPLES / "markets.json")


@pytest.fixture(scope="module", params=FAST)
def fast_prover(request: pytest.FixtureRequest, manifest: Manifest) -> Iterator[Prover]:
    with Prover(manifest, backend=request.param) as prover:
        yield prover


@pytest.fixture
def private_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every private scratch directory a backend makes during the test."""
    made: list[Path] = []
    original = scratch.private_tmpdir

    def recording() -> Path:
        path = original()
        made.append(path)
        return path

    monkeypatch.setattr(scratch, "private_tmpdir", recording)
    return made


# ------------------------------------------------------------------------- selection


def test_arkworks_is_installed_for_the_test_suite() -> None:
    """`make test` installs the dev extra, which includes groth16py: no silent skip."""
    assert "arkworks" in installed_backends()


def test_backend_selection(monkeypatch: pytest.MonkeyPatch, manifest: Manifest) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert backend_name() == "arkworks"
    assert Prover(manifest).backend_name == "arkworks"
    monkeypatch.setenv(ENV_VAR, "snarkjs-cli")
    assert Prover(manifest).backend_name == "snarkjs-cli"
    assert Prover(manifest, backend="snarkjs-worker").backend_name == "snarkjs-worker"
    monkeypatch.setenv(ENV_VAR, "rapidsnark")
    with pytest.raises(InputError, match=r"^unknown proving backend 'rapidsnark' \(from \$"):
        Prover(manifest)
    with pytest.raises(InputError, match="known: " + ", ".join(BACKENDS)):
        Prover(manifest, backend="nope")


def test_without_groth16py(monkeypatch: pytest.MonkeyPatch, manifest: Manifest) -> None:
    """Without the fast extra the default is the snarkjs worker, and asking for arkworks
    says how to install it, in one line."""
    import prover.backends as backends

    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setattr(backends, "arkworks_installed", lambda: False)
    assert backend_name() == "snarkjs-worker"
    monkeypatch.setitem(sys.modules, "groth16py", None)  # import groth16py -> ImportError
    with pytest.raises(ProverError, match=r"^the arkworks backend needs groth16py: pip install"):
        Prover(manifest, backend="arkworks").backend_impl()


def test_construction_is_cheap(manifest: Manifest) -> None:
    """No key, wasm or process is loaded until the first proof (batch helpers make many)."""
    started = time.perf_counter()
    provers = [Prover(manifest, backend="snarkjs-worker") for _ in range(50)]
    assert time.perf_counter() - started < 0.5
    assert all(p._backend is None and not p._witness for p in provers)


# ---------------------------------------------------------- every verifier accepts


@pytest.mark.slow
@pytest.mark.parametrize("circuit", ["isolated", "cross"])
def test_proofs_pass_every_offchain_verifier(
    fast_prover: Prover, data: MarketData, circuit: str, tmp_path: Path, private_dirs: list[Path]
) -> None:
    account = ACCOUNTS[circuit]()
    bundle = fast_prover.prove(account, data, binding=Binding(chain_id=5, engine=0xE0, nonce=3))
    assert bundle.circuit == circuit
    assert private_dirs == [], "the witness went through a file in a directory"
    # py_ecc, the independent verifier
    assert verify_bundle(bundle, fast_prover.manifest).valid
    # `zkmargin verify` on the proof file
    path = tmp_path / "proof.json"
    bundle.save(path)
    verified = run_cli("verify", path)
    assert verified.code == 0, verified.out
    # snarkjs with the verification key of the manifest
    (tmp_path / "p.json").write_text(json.dumps(bundle.proof))
    (tmp_path / "s.json").write_text(json.dumps([str(s) for s in bundle.public_signals]))
    vkey = fast_prover.manifest.circuit(circuit).vkey
    run_tool(
        "snarkjs",
        ["groth16", "verify", vkey, tmp_path / "s.json", tmp_path / "p.json"],
        timeout=120,
    )
    # the backend's own verifier refuses another statement
    backend = fast_prover.backend_impl()
    assert backend.verify(circuit, bundle.proof, bundle.public_signals)
    first, *rest = bundle.public_signals
    for forged in ([first + 1, *rest], [first + R, *rest], rest):  # +1, aliased, short
        assert not backend.verify(circuit, bundle.proof, forged)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_no_descriptor_or_file_leaks(fast_prover: Prover, data: MarketData) -> None:
    fast_prover.prove(isolated_account(), data)  # warm: keys and any worker started
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        fast_prover.prove(isolated_account(), data)
    assert set(os.listdir("/proc/self/fd")) <= before


@pytest.mark.slow
def test_one_prover_shared_by_threads(manifest: Manifest, data: MarketData) -> None:
    """Documented as thread-safe: concurrent proofs on one instance are all valid."""
    from concurrent.futures import ThreadPoolExecutor

    with Prover(manifest) as prover, ThreadPoolExecutor(4) as pool:
        accounts = [isolated_account(), cross_account()] * 3
        bundles = list(pool.map(lambda a: prover.prove(a, data), accounts))
    assert [b.circuit for b in bundles] == ["isolated", "cross"] * 3
    assert all(verify_bundle(b, manifest).valid for b in bundles)


@pytest.mark.slow
def test_snarkjs_cli_backend_still_works(
    manifest: Manifest, data: MarketData, private_dirs: list[Path]
) -> None:
    """The baseline backend: files in a fresh 0700 directory, removed before returning."""
    with Prover(manifest, backend="snarkjs-cli") as prover:
        bundle = prover.prove(isolated_account(), data)
    assert verify_bundle(bundle, manifest).valid
    assert private_dirs, "snarkjs-cli reads its witness from a private directory"
    for path in private_dirs:
        assert str(path).startswith(("/dev/shm", "/tmp")) and not path.exists()


def test_backends_agree_on_the_statement(manifest: Manifest, data: MarketData) -> None:
    """Same input, every backend: same public signals; proofs differ (fresh randomness)."""
    account = cross_account()
    bundles = []
    for name in FAST:
        with Prover(manifest, backend=name) as prover:
            bundles.append(prover.prove(account, data))
    assert len({tuple(b.public_signals) for b in bundles}) == 1
    assert len({json.dumps(b.proof) for b in bundles}) == len(bundles)


# --------------------------------------------------------------------- codecs


def test_eth_layout_round_trip_and_g2_order(prover: Prover, data: MarketData) -> None:
    """arkworks' 256-byte proof puts each G2 coordinate imaginary part first: decoding it
    the other way round gives a point off the curve, which py_ecc refuses."""
    bundle = prover.prove(isolated_account(), data)
    blob = proof_to_eth_bytes(bundle.proof)
    assert len(blob) == 256 and proof_from_eth_bytes(blob) == bundle.proof
    vk = VerifyingKey.load(prover.manifest.circuit("isolated").vkey)
    assert verify(vk, Proof.from_json(bundle.proof), bundle.public_signals)
    swapped = json.loads(json.dumps(bundle.proof))
    swapped["pi_b"] = [[x[1], x[0]] for x in swapped["pi_b"][:2]] + [["1", "0"]]
    with pytest.raises(ValueError, match="twist"):
        verify(vk, Proof.from_json(swapped), bundle.public_signals)
    with pytest.raises(ValueError):
        proof_to_eth_bytes({**bundle.proof, "pi_a": [bundle.proof["pi_a"][0], "x", "1"]})


def test_public_signals_from_wtns(prover: Prover, data: MarketData) -> None:
    enc = prover.encode(cross_account(), data)
    wtns = prover.witness_calculator("cross").wtns_bytes(enc.inputs)
    n_public = prover.manifest.circuit("cross").n_public
    assert public_signals_from_wtns(wtns, n_public) == enc.statement.public_signals()
    with pytest.raises(ProverError, match=r"^witness: "):
        public_signals_from_wtns(wtns[:100], n_public)
    with pytest.raises(ProverError, match=r"^witness: not a \.wtns file"):
        public_signals_from_wtns(b"nope" + wtns[4:], n_public)


# ---------------------------------------------------------------- worker faults


def _worker(prover: Prover) -> SnarkjsWorkerBackend:
    backend = prover.backend_impl()
    assert isinstance(backend, SnarkjsWorkerBackend)
    return backend


def _gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our child (a zombie still answers kill(pid, 0))
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_worker_killed_mid_request_is_restarted_and_retried(
    manifest: Manifest, data: MarketData, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Prover(manifest, backend="snarkjs-worker") as prover:
        prover.prove(isolated_account(), data)
        worker = _worker(prover)
        first = worker.pid
        assert first is not None
        from prover.backends import snarkjs_worker

        original = snarkjs_worker._Process._read_line
        kills: list[int] = []

        def killed_while_waiting(self: Any, timeout: float) -> bytes:
            # the prove request is written; the worker dies before it can reply
            if not kills:
                kills.append(self.pid)
                os.kill(self.pid, signal.SIGKILL)
            return original(self, timeout)

        monkeypatch.setattr(snarkjs_worker._Process, "_read_line", killed_while_waiting)
        bundle = prover.prove(isolated_account(), data)
        assert kills == [first] and worker.restarts == 1
        assert worker.pid not in (None, first)
        assert verify_bundle(bundle, manifest).valid
        assert _gone(first)


def test_worker_dying_twice_is_one_line(
    manifest: Manifest, data: MarketData, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prover.backends import snarkjs_worker

    original = snarkjs_worker._Process.request

    def always_killed(self: Any, message: dict[str, Any], timeout: float) -> Any:
        if message["op"] == "prove":
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        return original(self, message, timeout)

    monkeypatch.setattr(snarkjs_worker._Process, "request", always_killed)
    with Prover(manifest, backend="snarkjs-worker") as prover:
        died = r"^the snarkjs worker died twice \(killed by signal 9"
        with pytest.raises(ProverError, match=died) as err:
            prover.prove(isolated_account(), data)
        assert "\n" not in str(err.value)
        assert _worker(prover).restarts == 1


def test_worker_ends_with_close_and_with_its_owner(manifest: Manifest, data: MarketData) -> None:
    prover = Prover(manifest, backend="snarkjs-worker")
    prover.prove(isolated_account(), data)
    pid = _worker(prover).pid
    assert pid is not None
    prover.close()
    assert _gone(pid)
    # a Python process killed outright (no atexit) still takes its worker with it: EOF
    code = (
        "from prover.prove import Prover\n"
        "p = Prover(backend='snarkjs-worker')\n"
        "b = p.backend_impl()\n"
        "b._call('isolated', {'op': 'ping'})\n"
        "print(b.pid, flush=True)\n"
        "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert _gone(int(done.stdout.strip()))


def test_worker_reports_snarkjs_errors_in_one_line(manifest: Manifest) -> None:
    with Prover(manifest, backend="snarkjs-worker") as prover:
        worker = _worker(prover)
        with pytest.raises(ProverError, match=r"^snarkjs worker: ") as err:
            worker.prove("isolated", b"wtns" + b"\0" * 64)
        assert "\n" not in str(err.value)
        pid = worker.pid
        # the worker survives a bad request
        with pytest.raises(ProverError):
            worker.prove("isolated", b"garbage")
        assert worker.pid == pid and worker.restarts == 0


# ---------------------------------------------------------- artifacts are checked


def _tampered(manifest: Manifest, circuit: str, kind: str, tmp_path: Path) -> Manifest:
    art = manifest.circuit(circuit)
    original: Path = getattr(art, kind)
    copy = tmp_path / original.name
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    changes: dict[str, Any] = {kind: copy}
    bad = dataclasses.replace(art, **changes)
    return dataclasses.replace(manifest, circuits={**manifest.circuits, circuit: bad})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_zkey_not_in_the_manifest_is_refused(
    manifest: Manifest, data: MarketData, tmp_path: Path, backend: str
) -> None:
    bad = _tampered(manifest, "isolated", "zkey", tmp_path)
    with Prover(bad, backend=backend) as prover:
        with pytest.raises(ArtifactError, match=r"^zkey of circuit isolated .* refusing") as err:
            prover.prove(isolated_account(), data)
    assert "\n" not in str(err.value)


def test_a_wasm_not_in_the_manifest_is_refused(
    manifest: Manifest, data: MarketData, tmp_path: Path
) -> None:
    bad = _tampered(manifest, "isolated", "wasm", tmp_path)
    with pytest.raises(ArtifactError, match=r"^wasm of circuit isolated .* refusing"):
        Prover(bad).prove(isolated_account(), data)


def test_cli_backend_option_and_bad_name(
    tmp_path: Path, data: MarketData, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_file = tmp_path / "a.account.json"
    account_file.write_text(json.dumps(account_to_json(isolated_account())))
    out = tmp_path / "a.proof.json"

    def run(*args: str) -> tuple[int, str]:
        result = run_cli(*args)
        return result.code, result.err

    base = ["prove", str(account_file), "-m", str(EXAMPLES / "markets.json"), "-o", str(out)]
    code, err = run(*base, "--backend", "snarkjs-worker")
    assert code == 0, err
    assert verify_bundle(ProofBundle.load(out)).valid
    code, err = run(*base, "--backend", "fast")
    assert code == 2 and "fast" in err


# ------------------------------------------------------------------- on-chain


@pytest.mark.parametrize("backend", FAST)
def test_engine_accepts_every_backend(
    manifest: Manifest, backend: str, chain_snapshot: LocalSystem
) -> None:
    """Open (initial-margin opening proof) and prove maintenance on the engine, isolated and
    cross: the Solidity verifiers accept each backend's proofs."""
    eth = Position("ETH-USD", True, Size(10**8), Price(2000 * 10**8))
    btc = Position("BTC-USD", False, Size(10**7), Price(60000 * 10**8))
    with Prover(manifest, backend=backend) as prover:
        client = chain_snapshot.client
        for dev, kind, positions, deposits in (
            (1, Kind.ISOLATED, (eth,), {"USDC": 2000 * 10**6}),
            (2, Kind.CROSS, (eth, btc), {"USDC": 2000 * 10**6, "WETH": 10**18}),
        ):
            signer = dev_signer(dev)
            account = Account(
                address=int(signer.address, 16), salt=777 + dev, collateral={}, positions=positions
            )
            for asset, units in deposits.items():
                client.deposit(signer, asset, units)
            market = client.deployment.market(eth.market).id if kind is Kind.ISOLATED else 0
            opened = client.open(signer, OpenPlan(account, kind, market, 0), prover)
            assert opened.bundle.circuit == kind.circuit
            proved = client.prove_margin(signer, account, prover)
            assert proved.bundle.circuit == kind.circuit
