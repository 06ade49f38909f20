"""The loop every zkmargin daemon runs (the keeper, the trader's guardian).

A daemon never dies on one bad block or RPC error: a loop that raises is logged in one
line and counted, and the next one waits longer (doubling from the interval up to a
minute); a loop that goes well resets the wait. Stopping is cooperative: the loop checks
``stop`` between steps and sleeps on it, so SIGINT/SIGTERM handlers just set the event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chain.errors import ChainError

MAX_BACKOFF_S = 60.0


def backoff_delay(interval: float, failures: int) -> float:
    """The wait after ``failures`` failed loops in a row (``interval`` when none)."""
    if failures <= 0:
        return interval
    return float(min(interval * 2 ** min(failures, 10), MAX_BACKOFF_S))


def run_loop(
    step: Callable[[], bool],
    *,
    stop: threading.Event,
    interval: float,
    log: Callable[[str], None],
    max_iterations: int | None = None,
    on_error: Callable[[], None] | None = None,
    after_step: Callable[[], None] | None = None,
) -> None:
    """Call ``step`` until ``stop`` is set (or ``max_iterations`` loops).

    ``step`` returns False when the loop failed without raising (it logged its own
    lines), which backs off like an exception does. ``on_error`` runs after an exception
    (metrics), ``after_step`` after every loop (state, periodic metrics).
    """
    failures = 0
    iterations = 0
    while not stop.is_set() and (max_iterations is None or iterations < max_iterations):
        iterations += 1
        try:
            ok = step()
        except Exception as exc:  # a daemon logs, backs off and carries on
            ok = False
            if on_error is not None:
                on_error()
            what = "" if isinstance(exc, ChainError) else f"unexpected {type(exc).__name__}: "
            log(
                f"loop error ({failures + 1} in a row; retry in "
                f"{backoff_delay(interval, failures + 1):g} s): {what}{exc}"
            )
        failures = 0 if ok else failures + 1
        if after_step is not None:
            after_step()
        if max_iterations is None or iterations < max_iterations:
            stop.wait(backoff_delay(interval, failures))
