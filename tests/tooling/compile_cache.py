"""Test tooling: skip recompiling test fixture circuits whose sources did not change.

Test sessions compile small fixture circuits with circom (seconds each). The output
directory carries a stamp: the SHA-256 of the sources and of the pinned circom and
circomlib versions; a session whose stamp matches reuses the outputs instead.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from zkmargin.paths import node_modules

STAMP = ".sources.sha256"


def worker_suffix() -> str:
    """A per-process name part: pytest-xdist workers must not share output directories."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def sources_digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for pkg in ("circom2", "circomlib"):
        digest.update((node_modules() / pkg / "package.json").read_bytes())
    for path in sorted(paths):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def is_current(out: Path, digest: str) -> bool:
    stamp = out / STAMP
    return stamp.is_file() and stamp.read_text() == digest


def mark_current(out: Path, digest: str) -> None:
    (out / STAMP).write_text(digest)
