"""benchmarks.results: each benchmark updates its own keys of the shared results file."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.results import update_results


def test_updates_keep_other_keys_and_merge_entries_on_request(tmp_path: Path) -> None:
    path = tmp_path / "bench" / "prove.json"
    update_results(path, {"batch": {"workers": 2, "rate": 1}})
    update_results(path, {"isolated": {"library_warm_ms": 60.5}}, merge_entries=True)
    update_results(path, {"isolated": {"verify_ms": 280.0}}, merge_entries=True)
    update_results(path, {"batch": {"workers": 1}})  # replaced whole, not merged
    assert json.loads(path.read_text()) == {
        "batch": {"workers": 1},
        "isolated": {"library_warm_ms": 60.5, "verify_ms": 280.0},
    }


def test_an_unreadable_file_starts_empty(tmp_path: Path) -> None:
    path = tmp_path / "prove.json"
    path.write_text("not json")
    update_results(path, {"ray": {"proofs": 6}})
    assert json.loads(path.read_text()) == {"ray": {"proofs": 6}}
