"""The build key of a circuit covers exactly its sources: the entry file and what it
includes from circuits/ (circomlib by its pinned version), nothing else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from prover import setup
from zkmargin.paths import project_root

ENTRY = {"file": "circuits/isolated.circom", "template": "MarginProof", "params": {}}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of circuits/ in a scratch project root (node_modules shared)."""
    shutil.copytree(project_root() / "circuits", tmp_path / "circuits")
    (tmp_path / "node_modules").symlink_to(project_root() / "node_modules")
    monkeypatch.setattr(setup, "project_root", lambda: tmp_path)
    monkeypatch.setattr(setup, "node_modules", lambda: tmp_path / "node_modules")
    return tmp_path


def test_sources_are_the_include_closure(project: Path) -> None:
    names = [p.relative_to(project).as_posix() for p in setup.circuit_sources(Path(ENTRY["file"]))]
    assert names == [
        "circuits/isolated.circom",
        "circuits/lib/pack.circom",
        "circuits/lib/range.circom",
        "circuits/lib/select.circom",
        "circuits/margin.circom",
    ]


def test_an_unrelated_circuit_keeps_the_key(project: Path) -> None:
    before = setup.circuit_sources_hash("isolated", ENTRY)
    (project / "circuits" / "lib" / "unrelated.circom").write_text("pragma circom 2.2.0;\n")
    (project / "circuits" / "other.circom").write_text('include "./lib/unrelated.circom";\n')
    assert setup.circuit_sources_hash("isolated", ENTRY) == before


def test_an_included_file_changes_the_key(project: Path) -> None:
    before = setup.circuit_sources_hash("isolated", ENTRY)
    select = project / "circuits" / "lib" / "select.circom"  # included by margin.circom
    select.write_text(select.read_text() + "\n// changed\n")
    assert setup.circuit_sources_hash("isolated", ENTRY) != before
