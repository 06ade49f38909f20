"""``zkmargin --help`` grouped the way users think, with help lines that are never cut.

click lists subcommands alphabetically and cuts each summary at 45 characters, mid
sentence. :class:`SectionedGroup` lists them under the headings of :data:`SECTIONS`
(a table of names: registering a new command in a section is one line here) and shows
each command's whole first paragraph, wrapped instead of cut. Commands that no section
names still appear, under "Other", so a new command is never hidden. Subgroups
(``chain``, ``oracle``, ...) use :class:`WholeLinesGroup`: the same whole lines, in the
order the commands were defined.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Accounts and proofs (off-chain)",
        ("account", "margin", "commit", "prove", "prove-batch", "verify", "serve", "setup"),
    ),
    (
        "Trader (on-chain)",
        (
            "faucet",
            "deposit",
            "open",
            "status",
            "submit",
            "withdraw",
            "close",
            "reclaim",
            "portfolio",
            "guard",
        ),
    ),
    ("Keeper (on-chain)", ("flag-shock", "liquidate", "stress-check", "dashboard", "keeper")),
    ("Liquidity (on-chain)", ("pool",)),
    ("Admin and local chain", ("chain", "deploy", "oracle", "risk-admin", "time", "demo")),
    ("Risk (off-chain)", ("forecast", "plot", "risk")),
)
OTHER = "Other"


def summary(command: click.Command) -> str:
    """The command's ``short_help``, else the first paragraph of its help, whole."""
    if command.short_help:
        return command.short_help
    text = (command.help or "").strip()
    first = text.split("\n\n", 1)[0]
    return " ".join(first.split())


class WholeLinesGroup(click.Group):
    """A click group that lists its subcommands in the order they were added, each with
    its whole first paragraph (``zkmargin chain --help``: up, down, status, accounts)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, summary(command))
            for name, command in self.commands.items()
            if not command.hidden
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class SectionedGroup(click.Group):
    """A click group whose command list is split into the sections of :data:`SECTIONS`.

    ``lazy_commands`` maps a command name to ``"module:object"``; the module is imported
    only when that command runs (or ``--help`` lists it), so starting one command does
    not pay for every other command's imports (web3 alone takes over a second).
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.lazy_commands = dict(lazy_commands or {})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, _, attr = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def _names(self) -> list[str]:
        return [*self.lazy_commands, *(n for n in self.commands if n not in self.lazy_commands)]

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Section order, then any command no section names (alphabetically)."""
        names = self._names()
        ordered = [name for _, section in SECTIONS for name in section if name in names]
        rest = sorted(name for name in names if name not in ordered)
        return ordered + rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        listed: set[str] = set()
        sections = [*SECTIONS, (OTHER, tuple(sorted(self._names())))]
        for title, names in sections:
            rows = []
            for name in names:
                command = self.get_command(ctx, name) if name in self._names() else None
                if command is None or command.hidden or name in listed:
                    continue
                listed.add(name)
                rows.append((name, summary(command)))
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
