"""Running the pinned npm tools (snarkjs, circom) as subprocesses.

Argument lists only (never a shell), a timeout, a minimal environment (so no secret in
the caller's environment reaches a child), stdout/stderr captured, return code checked.
Secrets go in on stdin, never on the command line (visible in ``ps``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from zkmargin.errors import ToolError
from zkmargin.paths import node_bin, project_root

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def minimal_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in _ENV_KEEP}


def run_tool(
    tool: str,
    args: Sequence[str | Path],
    *,
    timeout: float,
    stdin: str | None = None,
    cwd: Path | None = None,
    error: type[ToolError] = ToolError,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``node_modules/.bin/<tool> args``; raise ``error`` with stderr's gist on failure."""
    argv = [str(node_bin(tool)), *map(str, args)]
    try:
        proc = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or project_root(),
            env=minimal_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise error(f"{tool} {args[0] if args else ''} timed out after {timeout:.0f} s") from None
    except OSError as exc:
        raise error(f"cannot run {tool}: {exc.strerror}") from None
    if check and proc.returncode != 0:
        raise error(f"{tool} {' '.join(map(str, args[:2]))} failed: {gist(proc)}")
    return proc


def gist(proc: subprocess.CompletedProcess[str]) -> str:
    """The most telling line of a failed tool's output, without colour codes."""
    lines = [
        _ANSI.sub("", line).strip() for line in (proc.stderr + "\n" + proc.stdout).splitlines()
    ]
    errors = [ln for ln in lines if ln and ("error" in ln.lower() or "invalid" in ln.lower())]
    pick = errors or [ln for ln in lines if ln]
    return pick[0] if pick else f"exit code {proc.returncode}"
