"""``zkmargin prove-batch``: a proof for every account file of a directory.

Rate-based accounts against a market file, or with ``--circuit portfolio`` (as ``zkmargin
prove``) portfolio accounts against a risk file, checked against one clock (``--now``).
Local worker threads by default; ``--ray auto|local|HOST:PORT`` runs the same batch on a
Ray cluster (see :mod:`prover.distributed`). Proof files are written as they finish, so an
interrupted batch resumes where it stopped: a proof file that still matches its account
and verifies is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from cli.common import (
    binding_options,
    circuit_choice,
    make_binding,
    market_option,
    mode_option,
    now_option,
    prove_circuit_option,
)
from cli.portfolio import clock, load_provable_risk, portfolio_mode
from prover.backends import BACKENDS, ENV_VAR
from prover.batch import (
    BatchSummary,
    ExecutorKind,
    Job,
    Outcome,
    Prices,
    Settings,
    Status,
    WorkerVerify,
    jobs_from_dir,
    prove_many,
)
from prover.distributed import connect, disconnect, prove_many_ray
from zkmargin.accounts import load_market_data
from zkmargin.artifacts import Manifest, load_manifest
from zkmargin.model import Mode
from zkmargin.proofs import ProofBundle

MAX_LISTED_FAILURES = 20
EXECUTORS: dict[str, ExecutorKind] = {"thread": "thread", "process": "process"}


@dataclass(frozen=True)
class PythonCheck:
    """Verify an existing proof with the independent py_ecc verifier (picklable, so it
    travels to worker processes and Ray actors)."""

    manifest: Manifest

    def __call__(self, bundle: ProofBundle) -> bool:
        from verifier.bundle import verify_bundle

        return verify_bundle(bundle, self.manifest).valid


class RateColumn(ProgressColumn):
    """Proofs per second over the recent window rich keeps."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- /s" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


@click.command("prove-batch")
@click.argument(
    "accounts_dir",
    metavar="ACCOUNTS_DIR",
    type=click.Path(path_type=Path, file_okay=False),
)
@market_option
@click.option(
    "--output-dir",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Directory for the proof files (NAME.account.json -> NAME.proof.json); made if missing.",
)
@click.option(
    "--workers",
    "-j",
    type=click.IntRange(1, 4096),
    default=None,
    help="Parallel provers [default: one per CPU, or per CPU of the Ray cluster].",
)
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|local|HOST:PORT",
    default=None,
    help="Prove on Ray actors: 'auto' joins this machine's cluster, 'local' starts one.",
)
@click.option(
    "--executor",
    type=click.Choice(["thread", "process"]),
    default="thread",
    show_default=True,
    help="Local workers: threads (the proving backend releases the GIL) or processes "
    "(for a backend that does not).",
)
@mode_option
@prove_circuit_option
@now_option
@click.option(
    "--opening",
    is_flag=True,
    help="Opening proofs: every position's entry price must equal the oracle price "
    "(portfolio: its mark; the proofs are initial).",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help=f"Proving backend (default: ${ENV_VAR}, else the fastest installed).",
)
@click.option(
    "--recheck",
    type=click.Choice(["backend", "py_ecc"]),
    default="backend",
    show_default=True,
    help="How an existing proof file is verified before it is kept: the proving "
    "backend's pairing check (ms) or the independent py_ecc verifier (~0.4 s each).",
)
@binding_options
def prove_batch(
    accounts_dir: Path,
    market_file: Path,
    out_dir: Path,
    workers: int | None,
    ray_address: str | None,
    executor: str,
    mode: str,
    circuit: str,
    opening: bool,
    backend: str | None,
    recheck: str,
    chain_id: int,
    engine: str,
    nonce: int,
    now: str | None,
) -> None:
    """Prove that every ACCOUNTS_DIR/NAME.account.json meets its margin requirement.

    Writes OUT_DIR/NAME.proof.json for each; keeps an existing proof file that still
    matches its account and verifies. Exits 1 if any account failed. With --circuit
    portfolio, -m is a risk file and the accounts may hold options (docs/portfolio.md).
    """
    portfolio = circuit == "portfolio"
    data: Prices = load_provable_risk(market_file) if portfolio else load_market_data(market_file)
    jobs = jobs_from_dir(accounts_dir)
    manifest = load_manifest()
    settings = Settings(
        mode=Mode(portfolio_mode(mode, opening).value) if portfolio else Mode(mode),
        binding=make_binding(chain_id, engine, nonce),
        circuit=circuit_choice(circuit),
        opening=opening,
        now=clock(now) if portfolio else None,
    )
    verify: WorkerVerify = PythonCheck(manifest) if recheck == "py_ecc" else None
    kw: dict[str, Any] = {"manifest": manifest}
    if backend:
        kw["backend"] = backend

    owns_ray = False
    if ray_address is not None:  # before the progress bar: an unreachable cluster is one line
        if ray_address == "local":  # takes seconds; joining a running cluster does not
            click.echo("starting a local Ray instance...", err=True)
        owns_ray = connect(ray_address)
    try:
        summary = _run(jobs, data, out_dir, settings, verify, workers, executor, ray_address, kw)
    finally:
        if owns_ray:
            disconnect()
    Console().print(summary_table(summary, ray_address))
    if not summary.ok:
        click.get_current_context().exit(1)


def _run(
    jobs: list[Job],
    data: Prices,
    out_dir: Path,
    settings: Settings,
    verify: WorkerVerify,
    workers: int | None,
    executor: str,
    ray_address: str | None,
    prover_kwargs: dict[str, Any],
) -> BatchSummary:
    """The batch under a progress bar on stderr (done, failed, rate, ETA)."""
    console = Console(stderr=True)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[red]{task.fields[failed]} failed"),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("proving", total=len(jobs), failed=0)
        failed = 0

        def advance(outcome: Outcome) -> None:
            nonlocal failed
            failed += outcome.status.failed
            progress.update(bar, advance=1, failed=failed)

        if ray_address is None:
            summary = prove_many(
                jobs,
                data,
                out_dir,
                verify=verify,
                workers=workers,
                executor=EXECUTORS[executor],
                progress=advance,
                settings=settings,
                **prover_kwargs,
            )
        else:
            progress.update(bar, description="starting Ray actors")
            summary = prove_many_ray(
                jobs,
                data,
                out_dir,
                verify=verify,
                address=ray_address,
                workers=workers,
                progress=advance,
                settings=settings,
                started=lambda _batch: progress.update(bar, description="proving"),
                **prover_kwargs,
            )
    return summary


def summary_table(summary: BatchSummary, ray_address: str | None) -> Group:
    """Counts per result, then the failed accounts with their one-line reasons."""
    where = f"Ray ({ray_address}) actors" if ray_address else f"local {summary.how} workers"
    rate = f", {summary.proofs_per_hour:,.0f} proofs/hour" if summary.proved else ""
    header = Text(
        f"{len(summary.outcomes)} accounts, {summary.workers} {where}, "
        f"{summary.seconds:.1f} s{rate}"
    )
    counts = Table()
    counts.add_column("result")
    counts.add_column("accounts", justify="right")
    for status in Status:
        count = len(summary.by_status(status))
        if count or not status.failed:
            counts.add_row(status.value, str(count), style="red" if status.failed else None)
    if not summary.failures:
        return Group(header, counts)
    failed = Table()
    failed.add_column("account")
    failed.add_column("result")
    failed.add_column("why")
    for outcome in summary.failures[:MAX_LISTED_FAILURES]:
        failed.add_row(outcome.name, outcome.status.value, outcome.message)
    hidden = len(summary.failures) - MAX_LISTED_FAILURES
    if hidden > 0:
        failed.add_row(f"... {hidden} more", "", "")
    return Group(header, counts, failed)
