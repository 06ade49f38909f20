"""Batch proving: one proof file per account, resumable, on N local workers.

``prove_many`` turns a directory of account files (``alice.account.json`` ->
``alice.proof.json``) or a list of :class:`Job` into proofs: rate-based accounts against a
market file's :class:`MarketData`, or portfolio accounts (perpetuals and options,
docs/portfolio.md) against a :class:`RiskFile` - the batch is a portfolio batch when
``Settings.circuit`` is ``"portfolio"`` or, with no circuit named, when the data is a risk
file (as :meth:`Prover.prove` decides); a mismatch is refused before any proof. A
portfolio batch checks expiries against one clock, ``Settings.now`` (default: the time the
batch starts), on every worker. The pieces are split so that
:mod:`prover.distributed` (Ray) runs the very same batch on other workers:

* the *driver* (:class:`BatchRun`) reads account files and any existing proof files,
  writes each proof the moment it arrives (atomically: :meth:`ProofBundle.save`) and
  keeps the tally. Since nothing is written anywhere else, a crashed worker - or a killed
  driver - loses no finished proof, and a re-run skips what is already done;
* a *worker* runs :func:`work`, a pure function of (its own ``Prover``, one
  :class:`Task`) -> :class:`Result`. Every account's error becomes a result, so one bad
  account never stops the batch.

An existing proof is kept (``skipped``) only if it still proves what this run would
prove: its public signals equal the re-encoded statement (same salt, positions, prices,
rates, binding; for a portfolio account the risk file's commitment too) and it verifies.
A portfolio account is first checked as a fresh proof would be (expiries at this run's
clock, margin), so no proof is kept for an account that could not be proved now. The
verify callable is a parameter because ``prover`` must not import ``verifier`` (the
checker stays independent of the code it checks); None uses the worker's proving backend,
the pairing check every fresh proof passes before it is returned (with arkworks ~5 ms,
against ~0.4 s for py_ecc's ``verify_bundle``, which would make resuming slower than
proving again).

Local workers are threads (default) or processes, each owning a ``Prover``. On 2 shared
cores (``benchmarks/bench_batch.py``, 300 isolated proofs, arkworks, other jobs loading
the machine) they tie within the noise: 2 threads 45-69k proofs/hour, 2 processes
44-63k, interleaved runs 50k vs 46k on average; 1 worker 40-62k. Proving is CPU-bound
native code outside the GIL: one proof already spreads over both cores (rayon), and a
second worker only fills the gaps while the other is in its Python part (encoding,
witness, JSON, ~10%). So the cores are the ceiling, and threads win on the rest: no
start-up (a spawned process imports and loads keys for 1-2 s), nothing to pickle.
Processes (each with ``RAYON_NUM_THREADS`` = cores / workers) are there for a backend
that holds the GIL.
"""

from __future__ import annotations

import enum
import multiprocessing
import multiprocessing.util
import os
import pickle
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from prover.prove import Prover
from zkmargin.accounts import load_account
from zkmargin.encoding import PORTFOLIO_TEMPLATE, Binding, circuit_template
from zkmargin.errors import InputError, InsufficientMargin, ZkMarginError
from zkmargin.model import Account, MarketData, Mode
from zkmargin.portfolio import PortfolioAccount, PortfolioMode, load_portfolio_account
from zkmargin.portfolio_encoding import PORTFOLIO_CIRCUIT, encode_portfolio
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import RiskFile

ACCOUNT_SUFFIX = ".account.json"
PROOF_SUFFIX = ".proof.json"
MAX_ATTEMPTS = 3  # tries per task when its Ray actor dies (prover.distributed retries it)

Verify = Callable[[ProofBundle], bool]
"""Does a proof bundle verify? ``verifier.verify_bundle(b).valid`` or a faster check."""

WorkerVerify = Verify | None
"""A :data:`Verify`, or None for the worker's own proving backend's check."""

ExecutorKind = Literal["thread", "process"]

AnyAccount = Account | PortfolioAccount
"""A rate-based account (isolated/cross circuits) or a portfolio account."""

Prices = MarketData | RiskFile
"""What a batch proves against: a market file's data, or a risk file (portfolio)."""


class Status(enum.Enum):
    """What became of one account. The last three are failures."""

    PROVED = "proved"
    SKIPPED = "skipped"  # its proof file already matched and verified
    INSUFFICIENT = "insufficient margin"  # zkmargin.errors.InsufficientMargin
    INPUT = "bad input"  # zkmargin.errors.InputError: the account file or its encoding
    ERROR = "prover error"  # anything else: a tool failure, a dead worker, a write error

    @property
    def failed(self) -> bool:
        return self not in (Status.PROVED, Status.SKIPPED)


@dataclass(frozen=True)
class Job:
    """One account to prove. ``account`` is a loaded account (rate-based or portfolio, as
    the batch) or the path of its file.

    ``name`` names the proof file (``<name>.proof.json``); ``binding`` overrides the
    batch's binding for this account (its own nonce, say).
    """

    name: str
    account: AnyAccount | Path
    binding: Binding | None = None

    def __post_init__(self) -> None:
        if not self.name or self.name.startswith(".") or "/" in self.name or "\0" in self.name:
            raise InputError(f"job name {self.name!r}: must be a plain file name")


@dataclass(frozen=True)
class Settings:
    """What every proof of the batch claims (as ``zkmargin prove``'s options).

    Portfolio: an opening proof is initial (``mode=Mode.INITIAL, opening=True``); ``now``
    (unix seconds) is the time option expiries are checked against, None for the clock
    when the batch starts (ignored by rate-based batches).
    """

    mode: Mode = Mode.MAINTENANCE
    binding: Binding = field(default_factory=Binding)
    circuit: str | None = None  # None: pick per account (a risk file: portfolio)
    opening: bool = False
    now: int | None = None


@dataclass(frozen=True)
class Task:
    """A job as a worker sees it: the account in memory, never a path to a private file."""

    index: int
    name: str
    account: AnyAccount
    binding: Binding
    existing: ProofBundle | None  # the proof file found at the output, if any
    attempt: int = 1


@dataclass(frozen=True)
class Result:
    """A worker's answer for one task (picklable: it crosses process/Ray boundaries)."""

    status: Status
    bundle: ProofBundle | None = None  # set when PROVED
    message: str = ""
    seconds: float = 0.0
    worker: str = ""  # who ran it: "pid 123/zkmargin-prove_0", "ray actor 1", ...
    stale: bool = False  # a failure while the output held a proof that did not match


@dataclass(frozen=True)
class Outcome:
    """One account's final result, as the driver recorded it."""

    name: str
    status: Status
    output: Path
    message: str = ""
    seconds: float = 0.0
    attempts: int = 1
    worker: str = ""


@dataclass(frozen=True)
class BatchSummary:
    outcomes: tuple[Outcome, ...]
    seconds: float
    workers: int
    how: str  # "thread", "process" or "ray"

    def by_status(self, status: Status) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is status]

    @property
    def proved(self) -> int:
        return len(self.by_status(Status.PROVED))

    @property
    def skipped(self) -> int:
        return len(self.by_status(Status.SKIPPED))

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status.failed]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def proofs_per_hour(self) -> float:
        """New proofs per hour of wall time (skipped files do not count)."""
        return self.proved * 3600 / self.seconds if self.seconds > 0 else 0.0


Progress = Callable[[Outcome], None]


# ---------------------------------------------------------------- jobs


def jobs_from_dir(accounts_dir: Path) -> list[Job]:
    """One job per ``<name>.account.json`` in ``accounts_dir`` (sorted; other files and
    hidden ones ignored)."""
    if not accounts_dir.is_dir():
        raise InputError(f"accounts directory {accounts_dir}: not a directory")
    files = sorted(
        p
        for p in accounts_dir.iterdir()
        if p.name.endswith(ACCOUNT_SUFFIX) and not p.name.startswith(".")  # hidden: skipped
    )
    jobs = [Job(p.name.removesuffix(ACCOUNT_SUFFIX), p) for p in files if p.is_file()]
    if not jobs:
        raise InputError(f"accounts directory {accounts_dir}: no *{ACCOUNT_SUFFIX} files")
    return jobs


def proof_path(out_dir: Path, name: str) -> Path:
    return out_dir / f"{name}{PROOF_SUFFIX}"


def is_portfolio(data: Prices, settings: Settings) -> bool:
    """Does this batch prove portfolio accounts? As :meth:`Prover.prove` decides: the
    named circuit's template, else the kind of data (a risk file)."""
    if settings.circuit is None:
        return isinstance(data, RiskFile)
    return circuit_template(settings.circuit) == PORTFOLIO_TEMPLATE


def checked_settings(data: Prices, settings: Settings) -> Settings:
    """Refuse a batch whose circuit and data disagree, or a portfolio opening batch that
    is not initial; fix a portfolio batch's clock (``now``) once for every worker."""
    portfolio = is_portfolio(data, settings)
    if portfolio and not isinstance(data, RiskFile):
        raise InputError("the portfolio circuit proves portfolio accounts against a risk file")
    if not portfolio and isinstance(data, RiskFile):
        raise InputError(
            f"the {settings.circuit} circuit proves rate-based accounts against a market file"
        )
    if not portfolio:
        return settings
    if settings.opening and settings.mode is not Mode.INITIAL:
        raise InputError(
            f"an opening portfolio proof is an initial proof, not {settings.mode.value}"
        )
    return settings if settings.now is not None else replace(settings, now=int(time.time()))


# ---------------------------------------------------------------- worker side


def work(
    prover: Prover, task: Task, data: Prices, settings: Settings, verify: WorkerVerify
) -> Result:
    """Prove one task (or keep its existing proof); never raises for the account's faults."""
    started = time.perf_counter()
    worker = f"pid {os.getpid()}/{threading.current_thread().name}"
    try:
        if task.existing is not None and still_matches(
            prover, task.existing, task, data, settings, verify
        ):
            return Result(Status.SKIPPED, seconds=time.perf_counter() - started, worker=worker)
        bundle = prover.prove(
            task.account,
            data,
            mode=settings.mode,
            binding=task.binding,
            circuit=settings.circuit,
            opening=settings.opening,
            now=settings.now,
        )
        return Result(Status.PROVED, bundle, seconds=time.perf_counter() - started, worker=worker)
    except InsufficientMargin as exc:
        status, message = Status.INSUFFICIENT, str(exc)
    except InputError as exc:
        status, message = Status.INPUT, str(exc)
    except ZkMarginError as exc:
        status, message = Status.ERROR, _one_line(str(exc))
    except Exception as exc:  # a bug or a broken backend: still one account's failure
        status, message = Status.ERROR, f"{type(exc).__name__}: {_one_line(str(exc))}"
    return Result(
        status,
        message=message,
        seconds=time.perf_counter() - started,
        worker=worker,
        stale=task.existing is not None,
    )


def still_matches(
    prover: Prover,
    bundle: ProofBundle,
    task: Task,
    data: Prices,
    settings: Settings,
    verify: WorkerVerify,
) -> bool:
    """Is ``bundle`` the proof this run would make (same statement) and does it verify?"""
    circuit, signals = expected_statement(prover, task, data, settings)
    return (
        bundle.circuit == circuit
        and bundle.mode is settings.mode
        and bundle.public_signals == signals
        and (
            verify(bundle)
            if verify is not None
            else prover.backend_impl().verify(bundle.circuit, bundle.proof, bundle.public_signals)
        )
    )


def expected_statement(
    prover: Prover, task: Task, data: Prices, settings: Settings
) -> tuple[str, list[int]]:
    """The circuit and public signals this run would prove for ``task``. A portfolio
    account first passes the checks a fresh proof would (expiries at ``settings.now``,
    margin; raising like :meth:`Prover.prove`): its statement does not hold the clock."""
    if isinstance(task.account, PortfolioAccount) and isinstance(data, RiskFile):
        mode = PortfolioMode(settings.mode.value)
        prover.check_portfolio(task.account, data, mode, settings.now, settings.opening)
        portfolio = encode_portfolio(
            task.account, data, mode=mode, binding=task.binding, opening=settings.opening
        ).statement
        return PORTFOLIO_CIRCUIT, portfolio.public_signals()
    if isinstance(task.account, PortfolioAccount) or isinstance(data, RiskFile):
        raise InputError("a portfolio account is proved against a risk file, and only such")
    statement = prover.encode(
        task.account,
        data,
        mode=settings.mode,
        binding=task.binding,
        circuit=settings.circuit,
        opening=settings.opening,
    ).statement
    return statement.circuit, statement.public_signals()


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "failed"


# ---------------------------------------------------------------- driver side


class BatchRun:
    """The driver's half of a batch: plans tasks, writes proofs as they land, keeps score.

    Only the driver touches the file system, so a worker anywhere (thread, process, Ray
    actor on another machine) just returns results.
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        data: Prices,
        out_dir: Path,
        settings: Settings,
        progress: Progress | None = None,
    ) -> None:
        settings = checked_settings(data, settings)
        seen: set[str] = set()
        for job in jobs:
            if job.name in seen:
                raise InputError(f"two jobs are named {job.name!r}: their proof files would clash")
            seen.add(job.name)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                f"output directory {out_dir}: cannot create ({exc.strerror})"
            ) from None
        if not out_dir.is_dir():
            raise InputError(f"output directory {out_dir}: not a directory")
        self.jobs = list(jobs)
        self.data = data
        self.out_dir = out_dir
        self.settings = settings
        self.progress = progress
        self.outcomes: dict[int, Outcome] = {}
        self._lock = threading.Lock()
        self._started = time.perf_counter()

    @property
    def total(self) -> int:
        return len(self.jobs)

    def tasks(self) -> Iterator[Task]:
        """Load each job's account (a bad file is recorded at once) and its old proof."""
        for index, job in enumerate(self.jobs):
            try:
                account = self._account(job)
            except InputError as exc:
                self.record(index, Result(Status.INPUT, message=str(exc)))
                continue
            yield Task(
                index=index,
                name=job.name,
                account=account,
                binding=job.binding or self.settings.binding,
                existing=self._existing(job.name),
            )

    def _account(self, job: Job) -> AnyAccount:
        """The job's account: its file loaded as the batch's kind, or the one given (refused
        when it is not of the batch's kind)."""
        data = self.data
        if isinstance(job.account, Path):
            if isinstance(data, RiskFile):
                return load_portfolio_account(job.account, data)  # checked as it is proved
            return load_account(job.account, data)
        wanted = "portfolio" if isinstance(data, RiskFile) else "rate-based"
        given = "portfolio" if isinstance(job.account, PortfolioAccount) else "rate-based"
        if given != wanted:
            raise InputError(f"job {job.name!r}: a {given} account in a batch of {wanted} ones")
        return job.account

    def _existing(self, name: str) -> ProofBundle | None:
        path = proof_path(self.out_dir, name)
        if not path.exists():
            return None
        try:
            return ProofBundle.load(path)
        except InputError:
            return None  # unreadable or not a proof file: prove again and replace it

    def record(self, index: int, result: Result, *, attempts: int = 1, worker: str = "") -> Outcome:
        """Write a new proof (atomically), then report the outcome. Thread-safe."""
        job = self.jobs[index]
        output = proof_path(self.out_dir, job.name)
        status, message = result.status, result.message
        try:
            if result.bundle is not None:
                result.bundle.save(output)
            elif result.stale and status in (Status.INSUFFICIENT, Status.INPUT):
                # the old proof is for other prices, positions or binding, and this run
                # cannot replace it: remove it, so the directory never holds a proof
                # that this run found outdated next to the fresh ones
                output.unlink(missing_ok=True)
        except (InputError, OSError) as exc:
            status, message = Status.ERROR, _one_line(str(exc))
        outcome = Outcome(
            name=job.name,
            status=status,
            output=output,
            message=message,
            seconds=result.seconds,
            attempts=attempts,
            worker=worker or result.worker,
        )
        with self._lock:
            self.outcomes[index] = outcome
        if self.progress is not None:
            self.progress(outcome)
        return outcome

    def summary(self, workers: int, how: str) -> BatchSummary:
        outcomes = tuple(self.outcomes[i] for i in sorted(self.outcomes))
        return BatchSummary(outcomes, time.perf_counter() - self._started, workers, how)


# ---------------------------------------------------------------- local workers

_process_worker: tuple[Prover, Prices, Settings, WorkerVerify] | None = None


def limit_native_threads(threads: int) -> None:
    """Cap the arkworks backend's own thread pool (rayon, sized once, at first use) for a
    worker process that shares the machine with ``cores / threads`` others; N workers of
    all-core pools would just contend. An explicit ``RAYON_NUM_THREADS`` wins."""
    os.environ.setdefault("RAYON_NUM_THREADS", str(max(1, threads)))


def _process_init(
    factory: Callable[..., Prover],
    kwargs: Mapping[str, Any],
    data: Prices,
    settings: Settings,
    verify: WorkerVerify,
    threads: int,
) -> None:
    global _process_worker
    limit_native_threads(threads)
    prover = factory(**kwargs)
    # stop the prover's own worker process (if any) when this one exits
    multiprocessing.util.Finalize(prover, prover.close, exitpriority=10)
    _process_worker = (prover, data, settings, verify)


def _process_work(task: Task) -> Result:
    assert _process_worker is not None, "worker process not initialised"
    prover, data, settings, verify = _process_worker
    return work(prover, task, data, settings, verify)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prove_many(
    jobs: Path | Iterable[Job],
    data: Prices,
    out_dir: Path,
    *,
    verify: WorkerVerify = None,
    workers: int | None = None,
    executor: ExecutorKind = "thread",
    progress: Progress | None = None,
    settings: Settings | None = None,
    prover_factory: Callable[..., Prover] = Prover,
    **prover_kwargs: Any,
) -> BatchSummary:
    """Prove every job (or every account file of the directory ``jobs``) into ``out_dir``.

    ``progress`` is called in the calling thread once per account, right after its
    proof file is written (or its failure known). ``prover_kwargs`` go to each worker's
    ``prover_factory`` (``Prover(manifest=…, backend=…)``); for processes they, ``verify``
    and the factory must pickle. Returns the summary; raises only for a bad batch (a
    missing directory, clashing names, an executor that cannot be used).
    """
    if executor not in ("thread", "process"):
        raise InputError(f"executor {executor!r}: expected 'thread' or 'process'")
    shipped = (prover_factory, prover_kwargs, verify)
    if executor == "process" and not _picklable(shipped):
        raise InputError("executor 'process': the prover factory, its kwargs, verify must pickle")
    job_list = jobs_from_dir(jobs) if isinstance(jobs, Path) else list(jobs)
    run = BatchRun(job_list, data, out_dir, settings or Settings(), progress)
    workers = max(1, min(workers or default_workers(), max(run.total, 1)))
    if executor == "process":
        _run_processes(run, workers, verify, prover_factory, prover_kwargs)
    else:
        _run_threads(run, workers, verify, lambda: prover_factory(**prover_kwargs))
    return run.summary(workers, executor)


def _picklable(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # pickle raises several types (PicklingError, AttributeError...)
        return False
    return True


def _run_processes(
    run: BatchRun,
    workers: int,
    verify: WorkerVerify,
    factory: Callable[..., Prover],
    kwargs: Mapping[str, Any],
) -> None:
    """Worker processes (spawned: the driver may run threads, fork would copy their locks).

    A process that dies breaks the whole pool, and every task then in flight is a suspect.
    The suspects run again one at a time on a one-process pool, so a second crash names
    the account that causes it (recorded as a prover error); the other tasks go on in a
    fresh pool. A crash therefore costs no finished proof and no innocent account.
    """
    context = multiprocessing.get_context("spawn")

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            size,
            mp_context=context,
            initializer=_process_init,
            initargs=(
                factory,
                dict(kwargs),
                run.data,
                run.settings,
                verify,
                default_workers() // size,
            ),
        )

    queue: list[Task] = list(run.tasks())
    while queue:
        with pool(workers) as executor:
            suspects, queue = _drain(run, executor, queue, 2 * workers)
        while suspects:
            with pool(1) as executor:
                culprits, suspects = _drain(run, executor, suspects, 1)
            for task in culprits:
                run.record(
                    task.index,
                    Result(Status.ERROR, message="the worker process died while proving it"),
                    attempts=task.attempt,
                )


def _run_threads(
    run: BatchRun, workers: int, verify: WorkerVerify, factory: Callable[[], Prover]
) -> None:
    """``workers`` threads, ``workers`` Provers: a thread takes a free Prover per task, so
    no two proofs share one (a snarkjs-worker backend would serialise them)."""
    provers: queue.SimpleQueue[Prover] = queue.SimpleQueue()
    made: list[Prover] = []

    def on_thread(task: Task) -> Result:
        try:
            prover = provers.get_nowait()
        except queue.Empty:
            prover = factory()
            made.append(prover)
        try:
            return work(prover, task, run.data, run.settings, verify)
        finally:
            provers.put(prover)

    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="zkmargin-prove") as executor:
            _drain(run, executor, run.tasks(), 2 * workers, lambda t: executor.submit(on_thread, t))
    finally:
        for prover in made:
            prover.close()


def _drain(
    run: BatchRun,
    executor: Executor,
    tasks: Iterable[Task],
    window: int,
    submit: Callable[[Task], Future[Result]] | None = None,
) -> tuple[list[Task], list[Task]]:
    """Feed ``executor`` at most ``window`` tasks at a time; record results as they complete.

    The window keeps workers busy without queueing every account at once. If the pool
    breaks (a worker process died) it stops and returns (the tasks that were in flight,
    with their attempt counted, and the tasks not yet started); else two empty lists.
    """
    submit = submit or (lambda task: executor.submit(_process_work, task))
    source = iter(tasks)
    in_flight: dict[Future[Result], Task] = {}
    suspects: list[Task] = []
    unstarted: list[Task] = []
    broken = False
    try:
        while True:
            while not broken and len(in_flight) < window:
                task = next(source, None)
                if task is None:
                    break
                try:
                    in_flight[submit(task)] = task
                except BrokenProcessPool:  # a worker died since the last result came in
                    broken = True
                    unstarted.append(task)
            if not in_flight:
                break
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                task = in_flight.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    broken = True
                    suspects.append(replace(task, attempt=task.attempt + 1))
                    continue
                run.record(task.index, result, attempts=task.attempt)
    except BaseException:
        for future in in_flight:
            future.cancel()
        raise
    return suspects, [*unstarted, *source] if broken else []


__all__ = [
    "ACCOUNT_SUFFIX",
    "PROOF_SUFFIX",
    "AnyAccount",
    "BatchRun",
    "BatchSummary",
    "Job",
    "Outcome",
    "Prices",
    "Result",
    "Settings",
    "Status",
    "Task",
    "Verify",
    "WorkerVerify",
    "checked_settings",
    "expected_statement",
    "is_portfolio",
    "jobs_from_dir",
    "proof_path",
    "prove_many",
    "still_matches",
    "work",
]
