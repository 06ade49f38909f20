"""Batch proving throughput: `python -m benchmarks.bench_batch`. Not part of the test suite.

    python -m benchmarks.bench_batch [--proofs N] [--ray-proofs N] [--cli-runs N] [--skip-ray]

Isolated-circuit proofs per hour, for:

* the serial baseline: ``zkmargin prove --local`` in a fresh process per proof (start-up,
  key loading and one proof each time), the way a shell loop over accounts would do it;
* :func:`prover.batch.prove_many` with 1 and 2 workers, as threads (one shared native
  thread pool) and as processes (``RAYON_NUM_THREADS`` = cores / workers each);
* :func:`prover.distributed.prove_many_ray` on a private local Ray instance with 1 and 2
  actors (one CPU each); every proof of the 2-actor run is then checked with py_ecc.

Each configuration runs in a fresh interpreter (``--one``) so the native thread pool is
sized for it alone. Batch times are wall clock from the call to the last file written:
Prover construction, key loading and (for Ray) actor start-up included, Ray's own
start-up excluded. Results update the ``batch`` and ``ray`` keys of
``build/bench/prove.json`` (other keys are kept).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results import update_results
from prover.batch import Job, prove_many
from zkmargin.accounts import account_to_json, load_market_data, new_account
from zkmargin.artifacts import load_manifest
from zkmargin.jsonio import PRIVATE, write_json
from zkmargin.model import Account, Position
from zkmargin.paths import build_dir
from zkmargin.units import Balance, Price, Size

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ROOT / "examples" / "markets.json"
ZKMARGIN = Path(sys.executable).parent / "zkmargin"
HOUR = 3600.0


def isolated_accounts(count: int) -> list[Job]:
    return [
        Job(
            f"acct{i:05d}",
            new_account(
                0x10000 + i,
                {"USDC": Balance((1000 + i) * 10**18)},
                (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
            ),
        )
        for i in range(count)
    ]


# ---------------------------------------------------------------- one configuration


def run_local(executor: str, workers: int, proofs: int) -> dict[str, Any]:
    data = load_market_data(MARKETS)
    jobs = isolated_accounts(proofs)
    manifest = load_manifest()
    with tempfile.TemporaryDirectory(prefix="zkbatch-") as out:
        summary = prove_many(
            jobs,
            data,
            Path(out),
            workers=workers,
            executor="process" if executor == "process" else "thread",
            manifest=manifest,
        )
    assert summary.ok and summary.proved == proofs, summary.failures[:3]
    return {"seconds": summary.seconds, "proved": summary.proved}


def run_ray(actor_counts: list[int], proofs: int) -> list[dict[str, Any]]:
    import ray

    from prover.distributed import prove_many_ray
    from verifier.bundle import verify_bundle
    from zkmargin.proofs import ProofBundle

    data = load_market_data(MARKETS)
    manifest = load_manifest()
    temp = Path(tempfile.mkdtemp(prefix="zkray-"))
    started = time.perf_counter()
    ray.init(
        num_cpus=os.cpu_count() or 2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _temp_dir=str(temp),
    )
    ray_start = time.perf_counter() - started
    rows = []
    try:
        for actors in actor_counts:
            with tempfile.TemporaryDirectory(prefix="zkbatch-") as out:
                summary = prove_many_ray(
                    isolated_accounts(proofs), data, Path(out), workers=actors, manifest=manifest
                )
                verified = None
                if actors == max(actor_counts):
                    verified = sum(
                        verify_bundle(ProofBundle.load(path), manifest).valid
                        for path in Path(out).glob("*.proof.json")
                    )
            rows.append(
                {
                    "actors": actors,
                    "seconds": summary.seconds,
                    "proved": summary.proved,
                    "verified": verified,
                    "ray_start_seconds": ray_start,
                }
            )
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
    return rows


def one(args: list[str]) -> None:
    """``--one KIND ...``: run one configuration in this fresh process; print JSON."""
    kind = args[0]
    if kind == "ray":
        proofs, counts = int(args[1]), [int(a) for a in args[2:]]
        print(json.dumps(run_ray(counts, proofs)))
    else:
        print(json.dumps(run_local(kind, int(args[1]), int(args[2]))))


def in_fresh_process(args: list[str], env: dict[str, str] | None = None) -> Any:
    command = [sys.executable, "-m", "benchmarks.bench_batch", "--one", *args]
    done = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- baseline


def serial_cli_seconds(runs: int) -> float:
    """Median wall time of one ``zkmargin prove --local`` in a fresh process."""
    account = isolated_accounts(1)[0].account
    assert isinstance(account, Account)
    samples = []
    with tempfile.TemporaryDirectory(prefix="zkbatch-") as tmp:
        account_file = Path(tmp) / "a.account.json"
        write_json(account_file, account_to_json(account), mode=PRIVATE)
        out = Path(tmp) / "a.proof.json"
        command = [str(ZKMARGIN), "prove", str(account_file), "-m", str(MARKETS), "-o", str(out)]
        if (
            "--local"
            in subprocess.run([*command[:2], "--help"], capture_output=True).stdout.decode()
        ):
            command.append("--local")  # no `zkmargin serve` shortcut: a true one-shot run
        for _ in range(runs):
            out.unlink(missing_ok=True)
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


# ---------------------------------------------------------------- main


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        one(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proofs", type=int, default=200, help="accounts per local batch")
    parser.add_argument("--ray-proofs", type=int, default=100, help="accounts per Ray batch")
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--prove-json", type=Path, default=build_dir() / "bench" / "prove.json")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))

    rows: list[tuple[str, int, float, str]] = []
    cli = serial_cli_seconds(args.cli_runs)
    serial_rate = HOUR / cli
    rows.append(("serial: zkmargin prove, fresh process each", 1, serial_rate, f"{cli:.2f} s each"))

    best: tuple[float, str, int] = (0.0, "", 0)
    configs = [
        ("thread", 1, {}),
        ("thread", 2, {}),
        ("thread", 2, {"RAYON_NUM_THREADS": "1"}),
        ("process", 1, {}),
        ("process", 2, {}),
    ]
    for executor, workers, env in configs:
        result = in_fresh_process([executor, str(workers), str(args.proofs)], env)
        rate = result["proved"] * HOUR / result["seconds"]
        label = f"prove_many: {executor} pool" + (" (RAYON_NUM_THREADS=1)" if env else "")
        rows.append((label, workers, rate, f"{result['seconds']:.1f} s / {result['proved']}"))
        if rate > best[0]:
            best = (rate, label, workers)

    updates: dict[str, Any] = {
        "batch": {
            "proofs_per_hour": round(best[0]),
            "workers": best[2],
            "circuit": "isolated",
            "how": best[1],
            "serial_cli_proofs_per_hour": round(serial_rate),
            "speedup_vs_serial_cli": round(best[0] / serial_rate, 1),
            "cores": cores,
        }
    }
    if not args.skip_ray:
        ray_rows = in_fresh_process(["ray", str(args.ray_proofs), "1", "2"])
        for row in ray_rows:
            rate = row["proved"] * HOUR / row["seconds"]
            note = f"{row['seconds']:.1f} s / {row['proved']}"
            if row["verified"] is not None:
                note += f", {row['verified']} verified (py_ecc)"
            rows.append(("Ray actors (local instance)", row["actors"], rate, note))
        top = ray_rows[-1]
        updates["ray"] = {
            "proofs": top["proved"],
            "verified": top["verified"],
            "workers": top["actors"],
            "proofs_per_hour": round(top["proved"] * HOUR / top["seconds"]),
            "ray_start_seconds": round(top["ray_start_seconds"], 1),
        }

    print(f"zkmargin batch benchmark: isolated circuit, {cores} cores")
    print(f"  {'configuration':48s} {'workers':>7s} {'proofs/hour':>12s} {'x serial':>8s}  notes")
    for label, workers, rate, note in rows:
        print(f"  {label:48s} {workers:7d} {rate:12,.0f} {rate / serial_rate:8.1f}  {note}")
    update_results(args.prove_json, updates)
    print(f"wrote {args.prove_json}")


if __name__ == "__main__":
    main()
