"""Where a witness goes when a prover insists on a path.

The witness holds every private value (positions, salt). :func:`witness_path` gives it a
path that no other user can open and that cannot outlive the call:

* on Linux, an anonymous ``memfd`` opened as ``/proc/self/fd/N``: RAM only, no name in any
  directory, freed by the kernel when closed, even if this process is killed;
* elsewhere, a file in a fresh 0700 directory (under /dev/shm when the system has it, so it
  stays in RAM), removed in ``finally``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_PROC_FD = Path("/proc/self/fd")


def private_tmpdir() -> Path:
    """A fresh 0700 directory with a random name, in RAM (/dev/shm) when possible."""
    shm = Path("/dev/shm")  # noqa: S108 -- mkdtemp makes a fresh 0700 dir with a random name
    base = str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None
    return Path(tempfile.mkdtemp(prefix="zkmargin-", dir=base))  # mode 0700


def memfd_supported() -> bool:
    return hasattr(os, "memfd_create") and _PROC_FD.is_dir()


@contextmanager
def witness_path(data: bytes, name: str = "witness.wtns") -> Iterator[Path]:
    """A readable path holding ``data`` for the duration of the ``with`` block (this
    process only: ``/proc/self`` means the reader must be this process)."""
    if memfd_supported():
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            yield _PROC_FD / str(fd)
        finally:
            os.close(fd)
        return
    tmp = private_tmpdir()
    try:
        path = tmp / name
        path.write_bytes(data)
        yield path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
