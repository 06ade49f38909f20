"""The README's walk-through and library snippets, run as a new user would paste them.

Every shell block preceded by ``<!-- walkthrough -->`` runs in order, each command as
the installed ``zkmargin`` in a fresh working directory, against a real anvil that the
walk-through itself starts (``zkmargin chain up``) and stops (``zkmargin chain down``,
also run here if a command fails). Every Python block preceded by ``<!-- snippet -->``
runs afterwards in its own interpreter, as written.

The working directory gets a copy of ``examples/`` (the README runs from the repository
root) and its own build directory (``ZKMARGIN_BUILD_DIR``): the compiled circuits and
keys are links to the real cache, while ``chain/`` (the anvil state file and the
deployment file) is private to this test, so it never touches a developer's chain.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from zkmargin.artifacts import Manifest
from zkmargin.paths import build_dir

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
COMMAND_TIMEOUT = 600.0
SHARED_CACHE = ("manifest.json", "circuits", "keys", "ptau")


def marked_blocks(text: str, marker: str, language: str) -> list[str]:
    """The fenced ``language`` blocks that directly follow ``<!-- marker -->``."""
    pattern = re.compile(
        rf"<!-- {marker} -->\s*\n```{language}\n(.*?)\n```", re.DOTALL | re.MULTILINE
    )
    return pattern.findall(text)


def shell_commands(block: str) -> list[list[str]]:
    """One argv per command: continuation lines joined, comments and blanks dropped."""
    joined = re.sub(r"\\\n", " ", block)
    commands = []
    for line in joined.splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            commands.append(argv)
    return commands


def walkthrough() -> list[list[str]]:
    text = README.read_text()
    return [
        cmd for block in marked_blocks(text, "walkthrough", "sh") for cmd in shell_commands(block)
    ]


def snippets() -> list[str]:
    return marked_blocks(README.read_text(), "snippet", "python")


@dataclass
class Workdir:
    path: Path
    env: dict[str, str]

    def run(
        self, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.path,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )


@pytest.fixture(scope="module")
def workdir(manifest: Manifest, tmp_path_factory: pytest.TempPathFactory) -> Workdir:
    """A fresh working directory as a user's, with a private build directory."""
    path = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", path / "examples")
    build = path / "build"
    build.mkdir()
    for name in SHARED_CACHE:
        (build / name).symlink_to(build_dir() / name)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ZKMARGIN_") or k in ("ZKMARGIN_HOME", "ZKMARGIN_BACKEND")
    }
    env["ZKMARGIN_BUILD_DIR"] = str(build)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return Workdir(path, env)


def test_the_readme_marks_a_walkthrough_and_snippets() -> None:
    commands = walkthrough()
    assert commands[0][:2] == ["zkmargin", "setup"]
    assert ["zkmargin", "chain", "up"] in commands and commands[-1] == ["zkmargin", "chain", "down"]
    assert all(cmd[0] == "zkmargin" for cmd in commands), "every step is a zkmargin command"
    assert len(snippets()) == 2
    created = [cmd[3] for cmd in commands if cmd[1:3] == ["account", "new"]]
    assert created and len(created) == len(set(created)), "an account file is created once"
    assert all(name.endswith(".account.json") for name in created)
    text = README.read_text()
    assert "0x7099…" not in text and "alice.json" not in text


@pytest.fixture(scope="module")
def walked(workdir: Workdir) -> Iterator[list[tuple[list[str], str]]]:
    """Run the walk-through once; ``chain down`` always runs at the end."""
    outputs: list[tuple[list[str], str]] = []
    try:
        for argv in walkthrough():
            proc = workdir.run(argv)
            assert proc.returncode == 0, (
                f"README step failed: {shlex.join(argv)}\n{proc.stdout}{proc.stderr}"
            )
            outputs.append((argv, proc.stdout + proc.stderr))
        yield outputs
    finally:
        workdir.run(["zkmargin", "chain", "down"])


def output_of(walked: list[tuple[list[str], str]], *words: str) -> str:
    for argv, out in walked:
        if argv[1 : 1 + len(words)] == list(words):
            return out
    raise AssertionError(f"no step {' '.join(words)}")


def test_every_walkthrough_command_succeeds(
    walked: list[tuple[list[str], str]], workdir: Workdir
) -> None:
    assert len(walked) == len(walkthrough())
    assert "valid" in output_of(walked, "verify")
    statuses = [out for argv, out in walked if argv[1:3] == ["status", "alice.account.json"]]
    assert "can prove" in statuses[0] and "CANNOT prove" in statuses[-1]
    assert "liquidated 0x70997970C51812dc3A010C7d01b50e0d17dc79C8" in output_of(walked, "liquidate")
    assert "closed: PnL" in output_of(walked, "close")
    for argv, out in walked:
        assert "Traceback" not in out, argv
    state = workdir.path / "build" / "chain" / "anvil.json"
    assert not state.exists() or "stopped" in output_of(walked, "chain", "down")
    alice = workdir.path / "alice.account.json"
    assert alice.stat().st_mode & 0o777 == 0o600
    assert not (workdir.path / "alice.account.json.opening").exists()


def test_library_snippets_run_as_written(
    walked: list[tuple[list[str], str]], workdir: Workdir
) -> None:
    """After the walk-through (its anvil is down): each snippet in a fresh interpreter.

    The README runs them from the repository root, which puts the root first on
    ``sys.path``; PYTHONPATH does the same here while the files land in the workdir.
    """
    env = {**workdir.env, "PYTHONPATH": str(ROOT)}
    for i, code in enumerate(snippets()):
        script = workdir.path / f"snippet{i}.py"
        script.write_text(code + "\n")
        proc = workdir.run([sys.executable, script.name], env=env)
        assert proc.returncode == 0, f"README snippet {i} failed:\n{code}\n{proc.stderr}"
    assert (workdir.path / "carol-proof.json").exists()
    assert (workdir.path / "dave.account.json").stat().st_mode & 0o777 == 0o600
