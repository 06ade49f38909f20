"""chain.daemon: the loop of the keeper and the guardian never dies on an error, backs off
(doubling up to a minute) while loops fail, and resets once one goes well."""

from __future__ import annotations

import threading

from chain.daemon import MAX_BACKOFF_S, backoff_delay, run_loop
from chain.errors import ChainError


class RecordingStop(threading.Event):
    """A stop event that records each wait instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(float(timeout or 0))
        return self.is_set()


def test_backoff_doubles_up_to_a_minute() -> None:
    assert backoff_delay(2.0, 0) == 2.0
    assert [backoff_delay(2.0, n) for n in (1, 2, 3)] == [4.0, 8.0, 16.0]
    assert backoff_delay(2.0, 50) == MAX_BACKOFF_S


def test_errors_are_logged_counted_and_backed_off_then_reset() -> None:
    outcomes: list[object] = [ChainError("rpc down"), ValueError("odd"), True, False, True]
    lines: list[str] = []
    errors: list[int] = []
    steps_after: list[int] = []
    stop = RecordingStop()

    def step() -> bool:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return bool(outcome)

    run_loop(
        step,
        stop=stop,
        interval=1.0,
        log=lines.append,
        max_iterations=5,
        on_error=lambda: errors.append(1),
        after_step=lambda: steps_after.append(1),
    )
    assert len(errors) == 2 and len(steps_after) == 5
    assert lines[0] == "loop error (1 in a row; retry in 2 s): rpc down"
    assert lines[1] == "loop error (2 in a row; retry in 4 s): unexpected ValueError: odd"
    # waits after loops 1-4 (none after the last): backoff, backoff, reset, backoff
    assert stop.waits == [2.0, 4.0, 1.0, 2.0]


def test_a_set_stop_ends_the_loop_before_the_next_step() -> None:
    stop = RecordingStop()
    calls: list[int] = []

    def step() -> bool:
        calls.append(1)
        stop.set()
        return True

    run_loop(step, stop=stop, interval=1.0, log=lambda _: None)
    assert calls == [1]
