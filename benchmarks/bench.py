"""zkmargin benchmarks: `make bench`. Prints medians; not part of the test suite.

    python benchmarks/bench.py [--runs N] [--skip-cold-setup]

Measures, per circuit: constraints, witness time (in-process wasm), prove time through
the library (model + witness + snarkjs + self-check) and through the CLI (a fresh
process), snarkjs-only prove, Python (py_ecc) and snarkjs verify; and setup time, cold
(a fresh build directory: compile, ceremony, keys) and warm (everything cached).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prover.prove import Prover
from prover.setup import run_setup
from verifier.bundle import verify_bundle
from zkmargin.accounts import account_to_json, load_market_data, new_account
from zkmargin.model import Account, Position
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


def accounts() -> dict[str, Account]:
    return {
        "isolated": new_account(
            0x1111,
            {"USDC": Balance(2000 * 10**18)},
            (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
        ),
        "cross": new_account(
            0x2222,
            {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
            (
                Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),
                Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),
            ),
        ),
    }


def bench_circuit(
    prover: Prover, circuit: str, account: Account, tmp: Path, runs: int
) -> list[tuple[str, str, str]]:
    manifest = prover.manifest
    markets = ROOT / "examples" / "markets.json"
    data = load_market_data(markets)
    art = manifest.circuit(circuit)
    rows = [
        (circuit, "constraints", f"{art.constraints:8d}"),
        (circuit, "public inputs", f"{art.n_public:8d}"),
    ]
    enc = prover.encode(account, data)
    calc = prover.witness_calculator(circuit)
    calc.calculate(enc.inputs)
    t = median_time(lambda: calc.calculate(enc.inputs), runs * 4)
    rows.append((circuit, "witness (wasm, in-process)", f"{t * 1000:8.1f} ms"))
    wtns = calc.wtns_bytes(enc.inputs)
    t = median_time(lambda: prover._snarkjs_prove(circuit, wtns), runs)
    rows.append((circuit, "prove: snarkjs groth16 prove only", f"{t * 1000:8.0f} ms"))
    bundle = prover.prove(account, data)
    t = median_time(lambda: prover.prove(account, data), runs)
    rows.append((circuit, "prove: library (incl. self-verify)", f"{t * 1000:8.0f} ms"))

    account_file = tmp / f"{circuit}.account.json"
    account_file.write_text(json.dumps(account_to_json(account)))
    proof_file = tmp / f"{circuit}.proof.json"
    cli = [str(ZKMARGIN), "prove", str(account_file), "-m", str(markets), "-o", str(proof_file)]
    t = median_time(lambda: subprocess.run(cli, check=True, capture_output=True), runs)
    rows.append((circuit, "prove: CLI (fresh process)", f"{t * 1000:8.0f} ms"))

    t = median_time(lambda: verify_bundle(bundle, manifest), runs)
    rows.append((circuit, "verify: Python (py_ecc)", f"{t * 1000:8.0f} ms"))
    (tmp / "proof.json").write_text(json.dumps(bundle.proof))
    (tmp / "public.json").write_text(json.dumps([str(s) for s in bundle.public_signals]))
    snark = ["groth16", "verify", art.vkey, tmp / "public.json", tmp / "proof.json"]
    t = median_time(lambda: run_tool("snarkjs", snark, timeout=120), runs)
    rows.append((circuit, "verify: snarkjs CLI", f"{t * 1000:8.0f} ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-cold-setup", action="store_true")
    args = parser.parse_args()
    runs = args.runs

    rows: list[tuple[str, str, str]] = []
    if not args.skip_cold_setup:
        with tempfile.TemporaryDirectory(prefix="zkmargin-bench-") as tmp:
            cold = run_setup(build=Path(tmp), export=False).seconds
        rows.append(("setup", "cold (compile + 2^12 ceremony + keys)", f"{cold:8.1f} s"))
    warm = median_time(run_setup, runs)
    rows.append(("setup", "warm (all cached)", f"{warm * 1000:8.1f} ms"))

    manifest = run_setup().manifest
    prover = Prover(manifest)
    with tempfile.TemporaryDirectory(prefix="zkmargin-bench-") as tmp_dir:
        for circuit, account in accounts().items():
            rows += bench_circuit(prover, circuit, account, Path(tmp_dir), runs)

    print(f"zkmargin benchmark: medians of {runs} runs, {os.cpu_count()} cores")
    for circuit, what, value in rows:
        print(f"  {circuit:9s} {what:40s} {value}")


if __name__ == "__main__":
    main()
