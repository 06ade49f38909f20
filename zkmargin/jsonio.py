"""JSON files: strict reading, atomic writing.

Every file zkmargin writes goes through :func:`write_json` (or :func:`write_atomic`): the
bytes land in a temporary file in the same directory, created with the final mode, are
flushed to disk and renamed over the target, so a reader sees the old file or the new
one, never a partial one, and a private file is never readable by others, not even for a
moment. Every file it reads goes through :func:`read_json_file`, which refuses duplicate
keys, floats, NaN, deep nesting and oversized input with one line naming the file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from zkmargin.errors import InputError

MAX_FILE_BYTES = 1 << 20
MAX_JSON_DEPTH = 32  # our files nest 4 deep; py_ecc raises the recursion limit, so a
# deeply nested file would overflow the C stack inside json.loads instead of raising
PRIVATE = 0o600
PUBLIC = 0o644


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise InputError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise InputError(f"JSON number {text} is not allowed: write amounts as decimal strings")


def _no_constant(text: str) -> Any:
    raise InputError(f"{text} is not valid JSON")


def _json_depth(text: str) -> int:
    """Deepest bracket nesting of ``text`` outside strings (stops counting past the limit)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break
        elif char in "]}":
            depth -= 1
    return deepest


def parse_json(text: str, what: str) -> Any:
    """Parse JSON refusing duplicate keys, floats, NaN/Infinity, deep nesting, empty input."""
    if not text.strip():
        raise InputError(f"{what}: file is empty")
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise InputError(f"{what}: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_no_float,
            parse_constant=_no_constant,
        )
    except InputError as exc:
        raise InputError(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (ValueError, RecursionError):  # e.g. an integer literal of > 4300 digits
        raise InputError(f"{what}: not valid JSON (a number or nesting beyond limits)") from None


def read_json_file(path: Path, what: str) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{what} {path}: larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a directory") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{what} {path}: cannot read ({exc.strerror})") from None
    return parse_json(text, f"{what} {path}")


def write_atomic(path: Path, data: bytes, *, mode: int = PUBLIC, exclusive: bool = False) -> None:
    """Write ``data`` to ``path`` atomically with permission bits ``mode``.

    ``exclusive`` refuses an existing ``path`` (checked atomically by the final link).
    The parent directory must exist. Failures raise :class:`InputError` with one line;
    no temporary file is left behind.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if exclusive and path.exists():
        raise InputError(f"{path}: already exists; refusing to overwrite it")
    try:
        fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror})") from None
    tmp = Path(tmp_name)
    try:
        try:
            try:
                os.fchmod(fd, mode)
                handle = os.fdopen(fd, "wb")
            except BaseException:
                os.close(fd)
                raise
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                os.link(tmp, path)  # fails if path appeared meanwhile
                tmp.unlink()
            else:
                os.replace(tmp, path)
        except FileExistsError:
            raise InputError(f"{path}: already exists; refusing to overwrite it") from None
        except IsADirectoryError:
            raise InputError(f"{path}: is a directory") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def dumps(payload: Any) -> str:
    """The one JSON layout zkmargin writes: two-space indent, trailing newline."""
    return json.dumps(payload, indent=2) + "\n"


def write_json(path: Path, payload: Any, *, mode: int = PUBLIC, exclusive: bool = False) -> None:
    """Write ``payload`` as JSON atomically (see :func:`write_atomic`)."""
    write_atomic(path, dumps(payload).encode("utf-8"), mode=mode, exclusive=exclusive)


# ---------------------------------------------------------------- shapes of parsed files

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,31}")


def expect_mapping(value: Any, field: str) -> dict[str, Any]:
    """``value`` as a JSON object, else one line naming ``field``."""
    if not isinstance(value, dict):
        raise InputError(f"{field}: expected a JSON object")
    return value


def expect_object(
    value: Any, field: str, keys: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A JSON object with exactly ``keys`` (and any of ``optional``): a missing or an
    unknown field is refused by name, so a typo never silently drops a value."""
    mapping = expect_mapping(value, field)
    missing = keys - mapping.keys()
    if missing:
        raise InputError(f"{field}: missing field {sorted(missing)[0]!r}")
    unknown = mapping.keys() - keys - optional
    if unknown:
        raise InputError(f"{field}: unknown field {sorted(unknown)[0]!r}")
    return mapping


def expect_name(value: str, field: str) -> str:
    """A market, asset or series name: 1-32 of letters, digits and ``. _ / -``."""
    if not _NAME.fullmatch(value):
        raise InputError(f"{field}: {value!r} is not a valid name (letters, digits, . _ / -)")
    return value


__all__ = [
    "MAX_FILE_BYTES",
    "MAX_JSON_DEPTH",
    "PRIVATE",
    "PUBLIC",
    "dumps",
    "expect_mapping",
    "expect_name",
    "expect_object",
    "parse_json",
    "read_json_file",
    "write_atomic",
    "write_json",
]
