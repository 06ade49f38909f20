"""Where zkmargin finds its project files, npm tools and build artifacts.

zkmargin runs from its source tree (``pip install -e .``): the circuits and the pinned npm
tools live beside the Python packages. ``ZKMARGIN_HOME`` points elsewhere if needed, and
``ZKMARGIN_BUILD_DIR`` moves the artifact cache (default ``<home>/build``).
"""

from __future__ import annotations

import os
from pathlib import Path

from zkmargin.errors import ToolError


def project_root() -> Path:
    """The zkmargin source tree (holds ``circuits/``, ``package.json``, ``node_modules/``)."""
    env = os.environ.get("ZKMARGIN_HOME")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def node_modules() -> Path:
    return project_root() / "node_modules"


def build_dir() -> Path:
    env = os.environ.get("ZKMARGIN_BUILD_DIR")
    return Path(env).resolve() if env else project_root() / "build"


def node_bin(name: str) -> Path:
    """Path of an npm-installed executable (``snarkjs``, ``circom2``, ``anvil``...)."""
    path = node_modules() / ".bin" / name
    if not path.exists():
        raise ToolError(f"{name} is not installed: run `make install` (npm ci) in {project_root()}")
    return path


def circomlib_dir() -> Path:
    path = node_modules() / "circomlib" / "circuits"
    if not path.is_dir():
        raise ToolError(f"circomlib is not installed: run `make install` in {project_root()}")
    return path
