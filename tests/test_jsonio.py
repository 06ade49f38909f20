"""zkmargin.jsonio: atomic writes with a mode, never a partial or over-permissive file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from zkmargin import jsonio
from zkmargin.errors import InputError
from zkmargin.jsonio import PRIVATE, write_json

ACCOUNT = {"account": "0x" + "ab" * 20, "salt": "1", "collateral": {}, "positions": []}


def refusal(action: Any) -> str:
    with pytest.raises(InputError) as info:
        action()
    return str(info.value)


def test_write_json_replaces_atomically_with_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old\n")
    write_json(path, {"a": 1}, mode=0o640)
    assert json.loads(path.read_text()) == {"a": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_json_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    assert _mode(path) == 0o600
    text = path.read_text()
    assert text.endswith("\n")
    assert json.loads(text) == ACCOUNT


def test_write_json_mode_0600_under_permissive_umask(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    old = os.umask(0)
    try:
        write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600


def test_write_json_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    path.write_text("precious\n")
    path.chmod(0o640)
    message = refusal(lambda: write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True))
    assert message == f"{path}: already exists; refusing to overwrite it"
    assert path.read_text() == "precious\n"
    assert _mode(path) == 0o640


@pytest.mark.parametrize("dangling", [False, True])
def test_write_json_does_not_follow_symlinks(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "target.json"
    if not dangling:
        target.write_text("keep\n")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert "already exists" in refusal(
        lambda: write_json(link, ACCOUNT, mode=PRIVATE, exclusive=True)
    )
    if dangling:
        assert not target.exists()
    else:
        assert target.read_text() == "keep\n"


def test_write_json_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "acct.json"
    message = refusal(lambda: write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True))
    assert message == f"{path}: cannot write (No such file or directory)"
    assert not path.parent.exists()


def test_write_json_unserialisable_payload_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    with pytest.raises(TypeError):
        write_json(path, {"salt": {1, 2}}, mode=PRIVATE, exclusive=True)
    assert list(tmp_path.iterdir()) == []


def test_write_json_dumps_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise RuntimeError("dumps failed")

    monkeypatch.setattr(jsonio.json, "dumps", boom)
    path = tmp_path / "acct.json"
    with pytest.raises(RuntimeError, match="dumps failed"):
        write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    assert list(tmp_path.iterdir()) == []


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_write_json_fdopen_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The half-created file is removed and the descriptor closed when ``os.fdopen`` raises."""

    def boom(*args: object, **kwargs: object) -> Any:
        raise OSError(24, "Too many open files")

    path = tmp_path / "acct.json"
    before = _open_fds()
    monkeypatch.setattr(jsonio.os, "fdopen", boom)
    with pytest.raises(InputError, match="Too many open files"):
        write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []
    leaked = _open_fds() - before
    assert not leaked, f"file descriptor(s) {sorted(leaked)} leaked"


def test_write_json_write_failure_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonio.os, "fsync", no_space)
    path = tmp_path / "acct.json"
    with pytest.raises(InputError, match="cannot write \\(No space left"):
        write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    assert list(tmp_path.iterdir()) == []


def test_write_json_interrupt_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jsonio.os, "fsync", interrupted)
    path = tmp_path / "acct.json"
    with pytest.raises(KeyboardInterrupt):
        write_json(path, ACCOUNT, mode=PRIVATE, exclusive=True)
    assert list(tmp_path.iterdir()) == []
