"""zkmargin benchmarks: `make bench`. Prints medians; not part of the test suite.

    python -m benchmarks.bench [--runs N] [--skip-cold-setup | --skip-setup]

Measures, per circuit (isolated and cross on examples/markets.json; portfolio on the
covered-call book of examples/portfolio/ under a risk file published from the shipped
history): constraints, public inputs, witness time (in-process wasm); prove time through
the library once warm (model + witness + proof + self-check) for each installed backend
(arkworks, snarkjs-worker) with its resident memory, the one-shot ``snarkjs groth16 prove``
baseline, ``zkmargin prove`` in a fresh process (and the prove command alone; both proving
in-process, then answered by a running ``zkmargin serve``; serve answers rate-based
accounts only, so portfolio has no served rows), Python (py_ecc) and snarkjs verify; and
setup time, cold (a fresh build directory: compile, ceremony, keys) and warm (everything
cached). The proving numbers also go to ``build/bench/prove.json`` (other keys in that
file, e.g. batch numbers, are kept): per circuit ``library_warm_ms`` (default backend),
``snarkjs_cli_ms``, ``speedup_vs_snarkjs_cli``, ``cli_ms``, ``verify_ms``, constraints,
public inputs and each backend's warm time and memory (``rss_mb``, measured in this
process; ``fresh_*``: one prover in a fresh interpreter, :func:`memory_probe`).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import portfolio_book
from benchmarks.portfolio_book import covered_call
from benchmarks.results import update_results
from prover.backends import backend_name, installed_backends
from prover.backends.snarkjs_cli import SnarkjsCliBackend
from prover.backends.snarkjs_worker import SnarkjsWorkerBackend
from prover.prove import Prover
from prover.setup import run_setup
from verifier.bundle import verify_bundle
from zkmargin.accounts import account_to_json, load_market_data, new_account
from zkmargin.artifacts import Manifest
from zkmargin.encoding import Binding
from zkmargin.model import Account, MarketData, Position
from zkmargin.paths import build_dir
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    portfolio_account_to_json,
)
from zkmargin.portfolio_encoding import PORTFOLIO_CIRCUIT, encode_portfolio
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import RiskFile
from zkmargin.toolrun import run_tool
from zkmargin.units import Balance, Price, Size

ROOT = Path(__file__).resolve().parent.parent
ZKMARGIN = Path(sys.executable).parent / "zkmargin"


def median_time(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


@dataclass
class Case:
    """One benchmarked circuit: an account, its market or risk file, and how to prove it."""

    circuit: str
    account: Account | PortfolioAccount
    data: MarketData | RiskFile
    data_file: Path
    cli_args: list[str] = field(default_factory=list)  # extra `zkmargin prove` arguments
    served: bool = True  # `zkmargin serve` answers it
    now: int | None = None

    def prove(self, prover: Prover) -> ProofBundle:
        return prover.prove(self.account, self.data, circuit=self.circuit, now=self.now)

    def inputs(self, prover: Prover) -> dict[str, Any]:
        if isinstance(self.account, PortfolioAccount):
            assert isinstance(self.data, RiskFile)
            mode = PortfolioMode.MAINTENANCE
            return encode_portfolio(self.account, self.data, mode=mode, binding=Binding()).inputs
        assert isinstance(self.data, MarketData)
        return prover.encode(self.account, self.data, circuit=self.circuit).inputs

    def account_json(self) -> dict[str, Any]:
        if isinstance(self.account, PortfolioAccount):
            return portfolio_account_to_json(self.account)
        return account_to_json(self.account)


def cases(tmp: Path) -> list[Case]:
    markets = ROOT / "examples" / "markets.json"
    data = load_market_data(markets)
    isolated = new_account(
        0x1111,
        {"USDC": Balance(2000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )
    cross = new_account(
        0x2222,
        {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
        (
            Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),
            Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),
        ),
    )
    book, risk, risk_file = covered_call(tmp)
    return [
        Case("isolated", isolated, data, markets),
        Case("cross", cross, data, markets),
        Case(
            PORTFOLIO_CIRCUIT,
            book,
            risk,
            risk_file,
            ["--circuit", PORTFOLIO_CIRCUIT, "--now", portfolio_book.NOW_TEXT],
            served=False,
            now=portfolio_book.NOW,
        ),
    ]


def status_kib(field_name: str, pid: int | str = "self") -> int:
    """A ``VmRSS``/``VmHWM`` line of /proc/PID/status in KiB (0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field_name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process (Linux /proc), 0 where unavailable."""
    return status_kib("VmRSS", pid) * 1024


def memory_probe(backend: str, circuit: str) -> dict[str, float]:
    """Run in a fresh interpreter (``--memory-probe``): what one prover with `backend`
    costs in memory for `circuit`, from a process that has imported everything but holds no
    key. ``process_mb``: this process' RSS after one proof (the Python side, the wasm
    witness calculator and, in-process, the keys); ``worker_mb``: the Node worker's RSS
    (0 for an in-process backend); ``backend_mb``: what proving added to the process
    (RSS growth, plus the worker); ``peak_mb``: this process' peak RSS."""
    manifest = run_setup().manifest
    with tempfile.TemporaryDirectory(prefix="zkmargin-bench-") as tmp:
        case = next(c for c in cases(Path(tmp)) if c.circuit == circuit)
        before = status_kib("VmRSS")
        with Prover(manifest, backend=backend) as prover:
            case.prove(prover)
            case.prove(prover)
            after = status_kib("VmRSS")
            impl = prover.backend_impl()
            worker = (impl.rss_bytes() or 0) if isinstance(impl, SnarkjsWorkerBackend) else 0
        peak = status_kib("VmHWM")
    mb = 1024.0
    return {
        "process_mb": after / mb,
        "worker_mb": worker / 2**20,
        "backend_mb": max(0, after - before) / mb + worker / 2**20,
        "peak_mb": peak / mb,
    }


def fresh_memory(backend: str, circuit: str) -> dict[str, float]:
    """:func:`memory_probe` in a fresh interpreter (so no other backend's or circuit's
    allocations are counted)."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--memory-probe", backend, circuit],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout
    numbers: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return numbers


def warm_backend(manifest: Manifest, backend: str, case: Case, runs: int) -> tuple[float, float]:
    """Median seconds of ``Prover.prove`` once warm (model + witness + proof + self-check)
    and the backend's resident memory: the Node worker's RSS, or for an in-process backend
    the growth of this process' RSS while it loads keys and proves."""
    with Prover(manifest, backend=backend) as prover:
        prover.witness_calculator(case.circuit)
        before = rss_bytes()
        case.prove(prover)  # keys, worker start-up
        t = median_time(lambda: case.prove(prover), runs)
        impl = prover.backend_impl()
        if isinstance(impl, SnarkjsWorkerBackend):
            memory = impl.rss_bytes() or 0
        else:
            memory = max(0, rss_bytes() - before)
    return t, memory


def bench_prove(manifest: Manifest, case: Case, tmp: Path, runs: int) -> dict[str, Any]:
    """The per-circuit proving numbers of ``build/bench/prove.json`` (milliseconds)."""
    circuit = case.circuit
    backends: dict[str, dict[str, float]] = {}
    for name in installed_backends():
        if name == "snarkjs-cli":
            continue  # measured below as the bare one-shot baseline
        t, memory = warm_backend(manifest, name, case, runs)
        fresh = fresh_memory(name, circuit)
        backends[name] = {
            "library_warm_ms": t * 1000,
            "rss_mb": memory / 2**20,
            **{f"fresh_{key}": value for key, value in fresh.items()},
        }

    reference = Prover(manifest, backend="snarkjs-cli")
    wtns = reference.witness_calculator(circuit).wtns_bytes(case.inputs(reference))
    cli_backend = SnarkjsCliBackend(manifest)
    snarkjs_cli = median_time(lambda: cli_backend.prove(circuit, wtns), runs)

    account_file = tmp / f"{circuit}.account.json"
    account_file.write_text(json.dumps(case.account_json()))
    proof_file = tmp / f"{circuit}.proof.json"
    args = [str(account_file), "-m", str(case.data_file), "-o", str(proof_file), *case.cli_args]
    cli = median_time(
        lambda: subprocess.run(
            [str(ZKMARGIN), "prove", *args, "--local"], check=True, capture_output=True
        ),
        runs,
    )
    # the prove command alone, without importing every other command (what a lazily
    # loading `zkmargin` group would cost): in-process, then answered by `zkmargin serve`
    command_only = [sys.executable, "-c", PROVE_COMMAND_ONLY, *args]
    cli_command = median_time(
        lambda: subprocess.run([*command_only, "--local"], check=True, capture_output=True),
        runs,
    )
    served: dict[str, float] = {}
    if case.served:
        with prove_server(tmp) as env:
            served["cli_served_ms"] = median_time(
                lambda: subprocess.run(command_only, check=True, capture_output=True, env=env),
                runs,
            )
            served["cli_full_served_ms"] = median_time(
                lambda: subprocess.run(
                    [str(ZKMARGIN), "prove", *args], check=True, capture_output=True, env=env
                ),
                runs,
            )
    bundle = ProofBundle.load(proof_file)
    verify = median_time(lambda: verify_bundle(bundle, manifest), runs)

    default = backend_name()
    return {
        "backend": default,
        "constraints": manifest.circuit(circuit).constraints,
        "public_inputs": manifest.circuit(circuit).n_public,
        "library_warm_ms": round(backends[default]["library_warm_ms"], 1),
        "snarkjs_cli_ms": round(snarkjs_cli * 1000, 1),
        "speedup_vs_snarkjs_cli": round(
            snarkjs_cli * 1000 / backends[default]["library_warm_ms"], 1
        ),
        "cli_ms": round(cli * 1000, 1),
        "cli_command_only_ms": round(cli_command * 1000, 1),
        **{key: round(value * 1000, 1) for key, value in served.items()},
        "verify_ms": round(verify * 1000, 1),
        "backends": {
            name: {key: round(value, 1) for key, value in numbers.items()}
            for name, numbers in backends.items()
        },
    }


@contextmanager
def prove_server(tmp: Path) -> Iterator[dict[str, str]]:
    """A `zkmargin serve` (default backend) in a private runtime directory under ``tmp``;
    yields the environment that makes `zkmargin prove` find it."""
    runtime = tmp / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "ZKMARGIN_RUNTIME_DIR": str(runtime)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.serve"], env=env, stderr=subprocess.PIPE, cwd=ROOT
    )
    try:
        deadline = time.monotonic() + 120
        while not any(runtime.glob("*.sock")):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("zkmargin serve did not start")
            time.sleep(0.05)
        yield env
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


PROVE_COMMAND_ONLY = (
    "import sys; from cli.prove import prove; prove.main(sys.argv[1:], prog_name='zkmargin prove')"
)


def prove_rows(circuit: str, numbers: dict[str, Any]) -> list[tuple[str, str, str]]:
    def ms(key: str) -> str:
        return f"{numbers[key]:8.1f} ms"

    rows = [
        (circuit, f"prove: {name} warm (library)", f"{n['library_warm_ms']:8.1f} ms")
        for name, n in numbers["backends"].items()
    ]
    labels = {
        "snarkjs_cli_ms": "prove: snarkjs groth16 prove (one-shot)",
        "cli_ms": "prove: zkmargin prove (fresh process)",
        "cli_command_only_ms": "prove: prove command only (fresh)",
        "cli_served_ms": "prove: prove command only, served",
        "cli_full_served_ms": "prove: zkmargin prove, served",
        "verify_ms": "verify: Python (py_ecc)",
    }
    rows += [(circuit, label, ms(key)) for key, label in labels.items() if key in numbers]
    speedup = numbers["snarkjs_cli_ms"] / numbers["library_warm_ms"]
    rows.append((circuit, f"speed-up {numbers['backend']} vs one-shot", f"{speedup:8.1f} x"))
    for name, n in numbers["backends"].items():
        what = "worker RSS" if name == "snarkjs-worker" else "RSS growth"
        rows.append((circuit, f"memory: {name} ({what})", f"{n['rss_mb']:8.1f} MB"))
        if "fresh_process_mb" in n:
            rows.append(
                (
                    circuit,
                    f"memory: {name}, fresh process + worker",
                    f"{n['fresh_process_mb'] + n['fresh_worker_mb']:8.1f} MB",
                )
            )
            rows.append(
                (circuit, f"memory: {name}, added by proving", f"{n['fresh_backend_mb']:8.1f} MB")
            )
    return rows


def bench_circuit(prover: Prover, case: Case, tmp: Path, runs: int) -> list[tuple[str, str, str]]:
    """Constraints, witness time and snarkjs' own verify (the proving numbers are in
    :func:`bench_prove`)."""
    circuit = case.circuit
    art = prover.manifest.circuit(circuit)
    rows = [
        (circuit, "constraints", f"{art.constraints:8d}"),
        (circuit, "public inputs", f"{art.n_public:8d}"),
    ]
    inputs = case.inputs(prover)
    calc = prover.witness_calculator(circuit)
    calc.calculate(inputs)
    t = median_time(lambda: calc.calculate(inputs), runs * 4)
    rows.append((circuit, "witness (wasm, in-process)", f"{t * 1000:8.1f} ms"))
    bundle = case.prove(prover)
    (tmp / "proof.json").write_text(json.dumps(bundle.proof))
    (tmp / "public.json").write_text(json.dumps([str(s) for s in bundle.public_signals]))
    snark: list[str | Path] = [
        "groth16",
        "verify",
        art.vkey,
        tmp / "public.json",
        tmp / "proof.json",
    ]
    t = median_time(lambda: run_tool("snarkjs", snark, timeout=120), runs)
    rows.append((circuit, "verify: snarkjs CLI", f"{t * 1000:8.0f} ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold-setup", action="store_true")
    parser.add_argument("--skip-setup", action="store_true", help="no setup timings at all")
    parser.add_argument("--prove-json", type=Path, default=build_dir() / "bench" / "prove.json")
    parser.add_argument(
        "--memory-probe", nargs=2, metavar=("BACKEND", "CIRCUIT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.memory_probe:
        print(json.dumps(memory_probe(*args.memory_probe)))
        return
    runs = args.runs

    rows: list[tuple[str, str, str]] = []
    if not (args.skip_cold_setup or args.skip_setup):
        with tempfile.TemporaryDirectory(prefix="zkmargin-bench-") as tmp:
            cold_report = run_setup(build=Path(tmp), export=False)
        power = cold_report.manifest.ptau["power"]
        rows.append(
            (
                "setup",
                f"cold (compile + 2^{power} ceremony + keys)",
                f"{cold_report.seconds:8.1f} s",
            )
        )
    if not args.skip_setup:
        warm = median_time(run_setup, runs)
        rows.append(("setup", "warm (all cached)", f"{warm * 1000:8.1f} ms"))

    manifest = run_setup().manifest
    prover = Prover(manifest)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="zkmargin-bench-") as tmp_dir:
        work = Path(tmp_dir)
        for case in cases(work):
            results[case.circuit] = bench_prove(manifest, case, work, runs)
            rows += prove_rows(case.circuit, results[case.circuit])
            rows += bench_circuit(prover, case, work, runs)
    prover.close()
    update_results(args.prove_json, results, merge_entries=True)

    print(f"zkmargin benchmark: medians of {runs} runs, {os.cpu_count()} cores")
    for circuit, what, value in rows:
        print(f"  {circuit:9s} {what:44s} {value}")
    print(f"wrote {args.prove_json}")


if __name__ == "__main__":
    main()
