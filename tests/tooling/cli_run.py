"""Test tooling: run the real ``zkmargin`` entry point in-process and capture what it says.

Every CLI test module used to carry its own copy of this; one copy now. ``main()`` is the
console script's entry point (exit codes and one-line errors included), run under click's
isolation so stdout/stderr are captured and the environment is controlled.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

from click.testing import CliRunner

from chain.signers import KEY_ENV
from cli.main import main

# variables a developer's shell may set that would change what a test sees
CLEAN_ENV: dict[str, str | None] = {
    "ZKMARGIN_DEBUG": None,
    KEY_ENV: None,
    "ZKMARGIN_RPC_URL": None,
}


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def out_lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


def run_cli(*args: object, env: Mapping[str, str | None] | None = None) -> Run:
    """``main(args)`` in-process with ``CLEAN_ENV`` plus ``env``; never raises SystemExit."""
    runner = CliRunner()
    with runner.isolation(env={**CLEAN_ENV, **(env or {})}) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        return Run(code, out.getvalue().decode(), err.getvalue().decode())


def one_line_error(result: Run, code: int = 2) -> str:
    """The single ``error:`` line of a refused command (and no traceback)."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    return result.err_lines[0]
