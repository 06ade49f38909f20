"""Options and loaders shared by several subcommands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from zkmargin.accounts import load_account, load_market_data, parse_address
from zkmargin.encoding import Binding
from zkmargin.model import Account, MarketData, Mode

F = TypeVar("F", bound=Callable[..., Any])

account_argument = click.argument(
    "account_file", metavar="ACCOUNT", type=click.Path(path_type=Path, dir_okay=False)
)
market_option = click.option(
    "--market-file",
    "-m",
    "market_file",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="JSON file with risk parameters and oracle prices.",
)
circuit_option = click.option(
    "--circuit",
    type=click.Choice(["auto", "isolated", "cross"]),
    default="auto",
    show_default=True,
    help="Circuit instance; auto picks isolated when the account fits it.",
)

prove_circuit_option = click.option(
    "--circuit",
    type=click.Choice(["auto", "isolated", "cross", "portfolio"]),
    default="auto",
    show_default=True,
    help="Circuit instance; auto picks isolated when the account fits it, else cross. "
    "portfolio: portfolio margin (perpetuals and options) against a risk file given as -m "
    "(docs/portfolio.md).",
)
now_option = click.option(
    "--now",
    default=None,
    help="Portfolio only: the time option expiries are checked against (UTC, "
    "YYYY-MM-DDTHH:MM:SSZ; default: the clock).",
)


def binding_options(func: F) -> F:
    """--chain-id, --engine, --nonce: where the proof may be used."""
    func = click.option(
        "--nonce",
        type=click.IntRange(0, 2**64 - 1),
        default=0,
        show_default=True,
        help="The account's proof nonce at the engine.",
    )(func)
    func = click.option(
        "--engine",
        default="0x" + "00" * 20,
        show_default=True,
        help="Engine contract address the proof is bound to.",
    )(func)
    func = click.option(
        "--chain-id",
        type=click.IntRange(0, 2**64 - 1),
        default=31337,
        show_default=True,
        help="Chain id the proof is bound to.",
    )(func)
    return func


def make_binding(chain_id: int, engine: str, nonce: int) -> Binding:
    return Binding(chain_id=chain_id, engine=parse_address(engine, "--engine"), nonce=nonce)


def load_inputs(account_file: Path, market_file: Path) -> tuple[Account, MarketData]:
    data = load_market_data(market_file)
    return load_account(account_file, data), data


def circuit_choice(value: str) -> str | None:
    return None if value == "auto" else value


def parse_mode(value: str) -> Mode:
    return Mode(value)


mode_option = click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.MAINTENANCE.value,
    show_default=True,
    help="maintenance uses each market's MMR, initial its IMR, withdrawal its IMR counting "
    "no unrealized gain.",
)


class TimedLog:
    """A progress logger for long steps: each line on stderr with the seconds elapsed.

    A cold ``zkmargin setup`` runs for minutes, most of it in one step (the
    phase-2 preparation of the Powers of Tau); a line per step with the running time
    shows where the time goes, and while one step runs longer than ``every`` seconds a
    "still …" line repeats, so a slow machine never looks hung. Use it as a context
    manager so the reminder thread stops with the work.
    """

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self.started = time.perf_counter()
        self._step = ""
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._thread = threading.Thread(target=self._remind, daemon=True)

    def __enter__(self) -> TimedLog:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._changed.set()
        self._thread.join()

    def __call__(self, line: str) -> None:
        self._step = line
        self._changed.set()
        self._echo(line)

    def _echo(self, line: str) -> None:
        click.echo(f"  [{time.perf_counter() - self.started:5.1f} s] {line}", err=True)

    def _remind(self) -> None:
        while not self._stop.is_set():
            if self._changed.wait(self.every):
                self._changed.clear()
                continue
            if self._step and not self._stop.is_set():
                self._echo(f"still {self._step}")
