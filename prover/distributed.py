"""The batch of :mod:`prover.batch` on a Ray cluster: one ``Prover`` per actor.

Each actor builds its ``Prover`` once (keys and compiled wasm loaded once, reused for every
account it proves) and runs :func:`prover.batch.work`, exactly what a local worker runs.
The driver keeps a small window of tasks in flight per actor and takes results back as
they finish (``ray.wait``), so it writes each proof file and updates the progress bar at
once; only the driver touches the file system.

A dead actor (killed, its node lost, its process crashed) fails every task it had in
flight; those tasks go back in the queue and run on another actor, at most
``MAX_ATTEMPTS`` times each, and the dead actor is replaced while the restart budget
lasts. An account whose own proving fails (insufficient margin, a bad account) is not
retried: that failure is deterministic.

Private data: an account travels to its actor as a task argument, in memory (small
arguments are inlined in the task message; Ray's object store is shared memory). Nothing
private is written to disk by this module. The actors read the proving keys from the
paths of the driver's manifest, so every node of the cluster needs the same ``build/``.

Ray is imported lazily: the rest of zkmargin works without it installed.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prover.batch import (
    MAX_ATTEMPTS,
    BatchRun,
    BatchSummary,
    Job,
    Prices,
    Progress,
    Result,
    Settings,
    Status,
    Task,
    WorkerVerify,
    jobs_from_dir,
    limit_native_threads,
    work,
)
from prover.prove import Prover
from zkmargin.errors import ProverError, ZkMarginError

WINDOW_PER_ACTOR = 2  # one proving, one queued: the actor never waits for the driver
WAIT_SECONDS = 1.0  # ray.wait timeout, so Ctrl-C is seen promptly
READY_TIMEOUT = 120.0  # an actor must build its Prover within this time
CLOSE_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0  # ray.init retries an unreachable address for minutes; we do not


class ProverActor:
    """Ray actor body (wrapped with ``ray.remote`` at run time): a Prover kept warm."""

    def __init__(
        self,
        data: Prices,
        settings: Settings,
        verify: WorkerVerify,
        factory: Callable[..., Prover],
        prover_kwargs: dict[str, Any],
    ) -> None:
        limit_native_threads(1)  # the actor holds one CPU of the cluster (num_cpus=1)
        self.prover = factory(**prover_kwargs)
        self.data = data
        self.settings = settings
        self.verify = verify

    def ready(self) -> bool:
        return True

    def run(self, task: Task) -> Result:
        return work(self.prover, task, self.data, self.settings, self.verify)

    def close(self) -> None:
        self.prover.close()


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ProverError("Ray is not installed: pip install 'zkmargin[ray]'") from None
    return ray


def connect(address: str | None, **init_kwargs: Any) -> bool:
    """Join the Ray cluster at ``address``: "auto" is the one this machine runs, None or
    "local" starts a private local instance. Returns whether this call initialised Ray
    (then the caller shuts it down). An unreachable cluster is one :class:`ProverError`."""
    ray = _ray()
    if ray.is_initialized():
        return False
    if address == "local":
        address = None
    if address not in (None, "auto"):
        _check_reachable(address)
    options: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        "logging_level": logging.ERROR,
        **init_kwargs,
    }
    if address is None and "_temp_dir" not in options:
        # a local instance keeps its sockets, logs and spill files in a private temp dir
        # (short path: unix socket names are limited), removed by disconnect()
        _local_dirs.append(Path(tempfile.mkdtemp(prefix="zkray-")))
        options["_temp_dir"] = str(_local_dirs[-1])
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        disconnect()
        where = "a local Ray instance" if address is None else f"the Ray cluster at {address!r}"
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
        raise ProverError(f"cannot reach {where}: {first or type(exc).__name__}") from None
    return True


_local_dirs: list[Path] = []


def disconnect() -> None:
    """Leave the Ray session :func:`connect` started; a local instance stops and its temp
    dir goes."""
    _ray().shutdown()
    while _local_dirs:
        shutil.rmtree(_local_dirs.pop(), ignore_errors=True)


def _check_reachable(address: str) -> None:
    """Refuse an address nothing listens on in seconds (``ray.init`` would hang for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProverError(f"Ray address {address!r}: expected HOST:PORT, 'auto' or 'local'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ProverError(f"cannot reach the Ray cluster at {address!r}: {reason}") from None


@dataclass
class _Slot:
    """One actor position; ``generation`` tells a replaced actor's old failures apart."""

    index: int
    actor: Any
    generation: int = 0
    load: int = 0

    @property
    def name(self) -> str:
        return f"ray actor {self.index}.{self.generation}"


class RayBatch:
    """A batch run on Ray actors. ``actors`` is public so tests can kill one mid-batch."""

    def __init__(
        self,
        run: BatchRun,
        *,
        workers: int,
        verify: WorkerVerify,
        factory: Callable[..., Prover] = Prover,
        prover_kwargs: dict[str, Any] | None = None,
        max_restarts: int | None = None,
    ) -> None:
        self.ray = _ray()
        self.run = run
        self.workers = workers
        self.restarts_left = workers if max_restarts is None else max_restarts
        remote = self.ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)
        self._actor_class = remote(ProverActor)
        self._args = (run.data, run.settings, verify, factory, dict(prover_kwargs or {}))
        self.slots = [_Slot(i, self._start()) for i in range(workers)]
        self._await_ready()

    @property
    def actors(self) -> list[Any]:
        return [slot.actor for slot in self.slots if slot.actor is not None]

    def _start(self) -> Any:
        return self._actor_class.remote(*self._args)

    def _await_ready(self) -> None:
        """Fail fast, in one line, if actors cannot build a Prover (no keys on a node...)."""
        refs = [slot.actor.ready.remote() for slot in self.slots]
        try:
            self.ray.get(refs, timeout=READY_TIMEOUT)
        except BaseException as exc:
            self.shutdown(graceful=False)  # no actor left behind on the cluster
            if isinstance(exc, self.ray.exceptions.RayError):
                raise self._ready_error(exc) from None
            raise

    def _ready_error(self, exc: BaseException) -> ProverError:
        if isinstance(exc, self.ray.exceptions.GetTimeoutError):
            return ProverError(
                f"Ray actors did not start within {READY_TIMEOUT:.0f} s "
                "(does the cluster have a free CPU per worker?)"
            )
        cause = getattr(exc, "cause", None) or exc
        if isinstance(cause, ZkMarginError):
            return ProverError(f"a Ray actor could not start: {cause}")
        lines = [ln for ln in str(cause).splitlines() if ln.strip()]
        reason = lines[-1] if lines else type(cause).__name__
        return ProverError(f"a Ray actor could not start: {reason}")

    def execute(self, tasks: Iterable[Task]) -> None:
        ray = self.ray
        queue: deque[Task] = deque()
        source = iter(tasks)
        in_flight: dict[Any, tuple[_Slot, int, Task]] = {}
        try:
            while True:
                self._fill(queue, source, in_flight)
                if not in_flight:  # done, or every actor is gone: fail what is left
                    for task in [*queue, *source]:
                        self._give_up(task, "no live Ray actor is left to prove it")
                    break
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=WAIT_SECONDS)
                for ref in ready:
                    slot, generation, task = in_flight.pop(ref)
                    if slot.generation == generation:  # a replaced actor starts at load 0
                        slot.load -= 1
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayActorError:
                        self._actor_died(slot, generation)
                        if task.attempt < MAX_ATTEMPTS:
                            queue.append(replace(task, attempt=task.attempt + 1))
                        else:
                            self._give_up(task, f"its Ray actor died {task.attempt} times")
                        continue
                    except ray.exceptions.RayError as exc:  # object lost, task error...
                        result = Result(Status.ERROR, message=f"Ray: {type(exc).__name__}")
                    self.run.record(
                        task.index,
                        result,
                        attempts=task.attempt,
                        worker=f"{slot.name} ({result.worker})" if result.worker else slot.name,
                    )
        except BaseException:
            self.shutdown(graceful=False)  # Ctrl-C: stop proving now
            raise

    def _fill(
        self, queue: deque[Task], source: Any, in_flight: dict[Any, tuple[_Slot, int, Task]]
    ) -> None:
        """Top every live actor up to its window; retried tasks go first."""
        for slot in self.slots:
            while slot.actor is not None and slot.load < WINDOW_PER_ACTOR:
                task = queue.popleft() if queue else next(source, None)
                if task is None:
                    return
                in_flight[slot.actor.run.remote(task)] = (slot, slot.generation, task)
                slot.load += 1

    def _actor_died(self, slot: _Slot, generation: int) -> None:
        """Replace a dead actor once (its other in-flight tasks fail with the same death)."""
        if slot.generation != generation or slot.actor is None:
            return
        self.ray.kill(slot.actor, no_restart=True)
        if self.restarts_left > 0:
            self.restarts_left -= 1
            slot.actor, slot.generation, slot.load = self._start(), generation + 1, 0
        else:
            slot.actor, slot.load = None, 0

    def _give_up(self, task: Task, reason: str) -> None:
        self.run.record(task.index, Result(Status.ERROR, message=reason), attempts=task.attempt)

    def shutdown(self, *, graceful: bool = True) -> None:
        """End every actor; ``graceful`` first lets each close its Prover (a backend's
        worker process) once its queued tasks are done."""
        live = [slot.actor for slot in self.slots if slot.actor is not None]
        if graceful and live:
            try:
                self.ray.get([actor.close.remote() for actor in live], timeout=CLOSE_TIMEOUT)
            except self.ray.exceptions.RayError:
                pass  # a dead or stuck actor: killing it below ends its processes anyway
        for slot in self.slots:
            if slot.actor is not None:
                self.ray.kill(slot.actor, no_restart=True)
                slot.actor = None


def prove_many_ray(
    jobs: Path | Iterable[Job],
    data: Prices,
    out_dir: Path,
    *,
    verify: WorkerVerify = None,
    address: str | None = "auto",
    workers: int | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
    prover_factory: Callable[..., Prover] = Prover,
    started: Callable[[RayBatch], None] | None = None,
    init_kwargs: dict[str, Any] | None = None,
    **prover_kwargs: Any,
) -> BatchSummary:
    """:func:`prover.batch.prove_many` on Ray actors (``workers`` of them; default: one per
    CPU of the cluster). Uses the Ray session already initialised in this process if any,
    else joins ``address`` (see :func:`connect`) and leaves it afterwards.

    ``started`` receives the :class:`RayBatch` once its actors are up (tests use it).
    """
    job_list = jobs_from_dir(jobs) if isinstance(jobs, Path) else list(jobs)
    run = BatchRun(job_list, data, out_dir, settings or Settings(), progress)
    owns_session = connect(address, **(init_kwargs or {}))
    ray = _ray()
    batch: RayBatch | None = None
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = max(1, min(workers or cpus, max(run.total, 1)))
        batch = RayBatch(
            run, workers=count, verify=verify, factory=prover_factory, prover_kwargs=prover_kwargs
        )
        if started is not None:
            started(batch)
        batch.execute(run.tasks())
        return run.summary(count, "ray")
    finally:
        if batch is not None:
            batch.shutdown()
        if owns_session:
            disconnect()


__all__ = ["ProverActor", "RayBatch", "connect", "disconnect", "prove_many_ray"]
