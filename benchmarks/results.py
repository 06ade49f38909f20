"""Benchmark results on disk: several benchmarks share ``build/bench/prove.json``.

Each benchmark updates its own keys and keeps every other key. The file is read with
plain ``json``: timings are floats, which the strict reader for user files refuses on
purpose; a missing or unreadable file starts empty.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from zkmargin.jsonio import write_json


def update_results(path: Path, updates: dict[str, Any], *, merge_entries: bool = False) -> None:
    """Set ``updates``' keys in ``path`` (atomically). With ``merge_entries``, a key whose
    old and new values are both objects keeps the old object's other fields."""
    try:
        existing = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        existing = {}
    if not isinstance(existing, dict):
        existing = {}
    for key, value in updates.items():
        old = existing.get(key)
        if merge_entries and isinstance(old, dict) and isinstance(value, dict):
            value = {**old, **value}
        existing[key] = value
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, existing)
