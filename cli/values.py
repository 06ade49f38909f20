"""Number arguments that a user may type with a minus sign.

click reads ``-5`` in ``zkmargin oracle set ETH-USD -5`` as an option and answers
``No such option: -5``, which tells the user nothing about prices. Commands built with
``cls=SignedArgsCommand`` take a negative number where it stands and refuse it with one
line naming the argument (``PRICE: -5 is negative; …``); every other unknown option is
still click's usual usage error, so a mistyped ``--form`` is not taken for a value.
"""

from __future__ import annotations

import re
from typing import Any

import click

from zkmargin.errors import InputError

NEGATIVE = re.compile(r"-(\d+(\.\d*)?|\.\d+)")


def refuse_negative(value: str, field: str, what: str) -> None:
    """One line for a value typed with a minus sign, before any other parsing."""
    if NEGATIVE.fullmatch(value):
        raise InputError(f"{field}: {value} is negative; {what} must be greater than zero")


class SignedArgsCommand(click.Command):
    """A command whose numeric argument (``number_arg``) may be typed as ``-5``.

    ``number_arg`` is the metavar shown in the refusal; ``number_what`` completes
    "… must be greater than zero".
    """

    def __init__(self, *args: Any, number_arg: str, number_what: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.number_arg = number_arg
        self.number_what = number_what

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        takes_value = {
            name
            for param in self.params
            if isinstance(param, click.Option) and not param.is_flag
            for name in param.opts
        }
        previous = ""
        for arg in args:
            if arg == "--":
                break
            if previous not in takes_value:  # an option's own value is click's to check
                refuse_negative(arg, self.number_arg, self.number_what)
            previous = arg
        return super().parse_args(ctx, args)
