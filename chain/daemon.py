"""The loop every zkmargin daemon runs (the keeper, the trader's guardian).

A daemon never dies on one bad block or RPC error: a loop that raises is logged in one
line and counted, and the next one waits longer (doubling from the interval up to a
minute); a loop that goes well resets the wait. Stopping is cooperative: the loop checks
``stop`` between steps and sleeps on it, so SIGINT/SIGTERM handlers just set the event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound

from chain.errors import ChainError
from chain.rpc import Chain, Contract

MAX_BACKOFF_S = 60.0
LOG_CHUNK = 5_000  # blocks per eth_getLogs request


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


# ---------------------------------------------------------------- reads keepers share


def opened_accounts_of(chain: Chain, engine: Contract, from_block: int, to_block: int) -> list[str]:
    """Addresses of ``engine``'s ``AccountOpened`` events in ``[from_block, to_block]``,
    in log order, fetched ``LOG_CHUNK`` blocks at a time."""
    found: list[str] = []
    start = from_block
    while start <= to_block:
        end = min(start + LOG_CHUNK - 1, to_block)
        event = engine.web3.events.AccountOpened()

        def fetch(a: int = start, b: int = end, ev: Any = event) -> list[Any]:
            return list(ev.get_logs(from_block=a, to_block=b))

        for log in chain.guarded(f"{engine.name} AccountOpened logs", fetch):
            found.append(str(to_checksum_address(str(log["args"]["account"]))))
        start = end + 1
    return found


def tx_status_on(chain: Chain, tx_hash: str) -> str:
    """``mined``, ``failed``, ``pending`` (in the node's pool) or ``dropped``."""

    def receipt() -> Any:
        try:
            return chain.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    found = chain.guarded("receipt", receipt)
    if found is not None:
        return "mined" if found["status"] == 1 else "failed"

    def pending() -> Any:
        try:
            return chain.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    return "pending" if chain.guarded("transaction", pending) is not None else "dropped"
