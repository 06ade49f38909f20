"""``zkmargin demo``: the off-chain story, start to finish, with nothing else running."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from prover.accounts import account_to_json, load_account, load_market_data, new_account
from prover.errors import InsufficientMargin
from prover.model import Mode, Position, evaluate
from prover.proofs import ProofBundle
from prover.prove import Prover
from prover.setup import run_setup
from prover.units import Balance, Price, Size
from verifier.bundle import verify_bundle

MARKETS = {
    "markets": {
        "ETH-USD": {"mmr_bps": 500, "imr_bps": 1000},
        "BTC-USD": {"mmr_bps": 400, "imr_bps": 800},
    },
    "collateral": {"USDC": {"haircut_bps": 0, "decimals": 6}},
    "prices": {"ETH-USD": "2000", "BTC-USD": "60000", "USDC": "1"},
}


def _write(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


@click.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the demo's files in this (new) directory instead of deleting them.",
)
def demo(keep: Path | None) -> None:
    """Create an account, set up, prove at a safe price, verify, and watch a crash refuse."""
    out = Console()
    work = Path(tempfile.mkdtemp(prefix="zkmargin-demo-"))
    try:
        _story(out, work)
        if keep is not None:
            shutil.copytree(work, keep)
            out.print(f"\nfiles kept in {keep}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _story(out: Console, work: Path) -> None:
    out.rule("[bold]zkmargin demo: private margin, public proof")
    out.print("[yellow]Development keys from a local one-party ceremony: never use them for funds.")

    out.print("\n[bold]1. Trusted setup[/] (compiled circuits and keys are cached by content hash)")
    report = run_setup(log=lambda line: out.print(f"   [dim]{line}"))
    out.print(f"   done in {report.seconds:.1f} s")

    out.print("\n[bold]2. Alice opens a private account[/]: 2,000 USDC, long 5 ETH at 2,000 (5x)")
    markets = _write(work / "markets.json", MARKETS)
    data = load_market_data(markets)
    account = new_account(
        None,
        {"USDC": Balance(2_000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )
    account_file = work / "alice.account.json"
    _write(account_file, account_to_json(account))
    account_file.chmod(0o600)
    account = load_account(account_file, data)
    out.print(
        f"   account file {account_file.name} (mode 0600) holds positions and salt; "
        "only its commitment is ever published"
    )

    prover = Prover(report.manifest)
    safe = work / "markets-safe.json"
    _write(safe, {**MARKETS, "prices": {**MARKETS["prices"], "ETH-USD": "1900"}})
    crash = work / "markets-crash.json"
    _write(crash, {**MARKETS, "prices": {**MARKETS["prices"], "ETH-USD": "1600"}})
    table = Table(title="Alice's margin (what only Alice can compute)")
    for col in ("ETH price", "equity", "maintenance requirement", "solvent"):
        table.add_column(col, justify="right")
    for path in (safe, crash):
        margin = evaluate(account, load_market_data(path), Mode.MAINTENANCE)
        price = json.loads(path.read_text())["prices"]["ETH-USD"]
        table.add_row(
            price,
            margin.equity_display(),
            margin.requirement_display(),
            "yes" if margin.solvent else "[red]no",
        )
    out.print(table)

    out.print("\n[bold]3. ETH at 1,900: Alice proves maintenance margin[/]")
    started = time.perf_counter()
    bundle = prover.prove(account, load_market_data(safe))
    proof_file = work / "proof.json"
    bundle.save(proof_file)
    out.print(
        f"   proof written in {time.perf_counter() - started:.2f} s "
        f"({bundle.circuit} circuit, {len(bundle.public_signals)} public signals)"
    )
    out.print(
        "   the proof file reveals prices, balances, rates, account and commitment; "
        "not the side, size or entry price"
    )

    out.print("\n[bold]4. Anyone verifies it[/] (Python pairing check, no snarkjs)")
    started = time.perf_counter()
    verdict = verify_bundle(ProofBundle.load(proof_file), report.manifest)
    out.print(
        f"   {'valid' if verdict.valid else 'INVALID'}: {verdict.reason} "
        f"({time.perf_counter() - started:.2f} s)"
    )
    if not verdict.valid:
        raise click.ClickException("the demo proof did not verify")

    out.print("\n[bold]5. ETH falls 20% to 1,600: Alice tries again[/]")
    try:
        prover.prove(account, load_market_data(crash))
    except InsufficientMargin as exc:
        out.print(f"   refused, no proof exists: [red]{exc}")
    else:
        raise click.ClickException("an insolvent account produced a proof")
    out.print("\n[green]Done.[/] On-chain, an account that cannot prove in time is liquidated.")
