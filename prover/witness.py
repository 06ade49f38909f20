"""In-process witness generation from circom's witness ``.wasm`` (wasmtime, no Node).

circom's witness module exports a small protocol, the one ``witness_calculator.js`` drives:

* ``getFieldNumLen32()`` words per field element, ``getRawPrime()`` puts p in the shared
  read/write buffer, read word by word with ``readSharedRWMemory(j)`` (least significant
  word first); ``writeSharedRWMemory(j, w)`` fills it the same way.
* ``init(sanity)`` resets the circuit; inputs are addressed by the 64-bit FNV-1a hash of
  their name (split in two i32), ``getInputSignalSize(hmsb, hlsb)`` gives an input's length
  and ``setInputSignal(hmsb, hlsb, i)`` stores the shared buffer as element ``i``. Setting
  the last input runs the whole circuit.
* ``getWitness(i)`` puts witness value ``i`` (normal form) in the shared buffer.
* Failures call the imported ``runtime.exceptionHandler(code)``; the text explaining
  them arrives before that through ``printErrorMessage`` + ``getMessageChar``.

Each Python -> WASM call costs ~10-18 µs, and the protocol needs ``n32 + 1`` calls per
value. So this module links a tiny helper module (hand-written WAT, compiled once) to the
circom instance: it loops over the protocol inside WASM, taking inputs from / leaving the
witness in its own memory, which Python reads or writes with one bulk copy per call.
"""

from __future__ import annotations

import logging
import re
import struct
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import prod
from pathlib import Path
from typing import Any, TypeAlias

import wasmtime

from prover.wtns import encode_wtns
from zkmargin.errors import ArtifactError, InputError, ProverError

log = logging.getLogger(__name__)

InputValue: TypeAlias = "int | str | Sequence[InputValue] | Mapping[str, InputValue]"
"""A signal value as in circom's ``input.json``: an int, a decimal string, or nested lists
(and, for bus inputs, mappings) of those."""

_CIRCOM_ERRORS = {
    1: "Signal not found.",
    2: "Too many signals set.",
    3: "Signal already set.",
    4: "Assert Failed.",
    5: "Not enough memory.",
    6: "Input signal array access exceeds the size.",
    7: "Out of bounds array access.",
}
_INPUT_ERROR_CODES = frozenset({1, 2, 3, 6})
_DECIMAL = re.compile(r"-?[0-9]+")
_INDEX_SUFFIX = re.compile(r"(?:\[[0-9]+\])+$")
_PAGE = 65536
_PLAIN_NAME = re.compile(r"[^.\[\]]+(?:\[[0-9]+\])*")
_ROOT = re.compile(r"[^.\[]*")

# The helper runs the per-value protocol loops inside WASM. Memory layout of "mem":
#   set_inputs(count, n32): `count` records at 0, each  i32 hmsb | i32 hlsb | i32 index |
#     n32 words (LE); the global "done" counts records stored (it names the failing one).
#   get_witness(n, n32): writes witness values 0..n-1, n32 LE words each, from offset 0.
_HELPER_WAT = """
(module
  (import "c" "writeSharedRWMemory" (func $wr (param i32 i32)))
  (import "c" "readSharedRWMemory" (func $rd (param i32) (result i32)))
  (import "c" "setInputSignal" (func $set (param i32 i32 i32)))
  (import "c" "getWitness" (func $gw (param i32)))
  (memory (export "mem") 1)
  (global $done (export "done") (mut i32) (i32.const 0))
  (func (export "set_inputs") (param $count i32) (param $n32 i32)
    (local $p i32) (local $j i32)
    (global.set $done (i32.const 0))
    (block $end
      (loop $rec
        (br_if $end (i32.ge_u (global.get $done) (local.get $count)))
        (local.set $j (i32.const 0))
        (block $wend
          (loop $word
            (br_if $wend (i32.ge_u (local.get $j) (local.get $n32)))
            (call $wr (local.get $j)
              (i32.load offset=12 (i32.add (local.get $p) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $word)))
        (call $set (i32.load (local.get $p)) (i32.load offset=4 (local.get $p))
                   (i32.load offset=8 (local.get $p)))
        (local.set $p (i32.add (local.get $p)
                               (i32.add (i32.const 12) (i32.shl (local.get $n32) (i32.const 2)))))
        (global.set $done (i32.add (global.get $done) (i32.const 1)))
        (br $rec))))
  (func (export "get_witness") (param $n i32) (param $n32 i32)
    (local $i i32) (local $j i32) (local $p i32)
    (block $end
      (loop $wit
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (call $gw (local.get $i))
        (local.set $j (i32.const 0))
        (block $wend
          (loop $word
            (br_if $wend (i32.ge_u (local.get $j) (local.get $n32)))
            (i32.store (local.get $p) (call $rd (local.get $j)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $word)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $wit)))))
"""


def fnv1a64(name: str) -> int:
    """64-bit FNV-1a of ``name`` as circom hashes input names (one step per UTF-16 unit)."""
    h = 0xCBF29CE484222325
    data = name.encode("utf-16-le")
    for k in range(0, len(data), 2):
        h ^= data[k] | (data[k + 1] << 8)
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class _CircomTrap(Exception):
    """Raised by our ``exceptionHandler`` import to unwind out of the circom instance."""

    def __init__(self, code: int, detail: str) -> None:
        reason = _CIRCOM_ERRORS.get(code, "Unknown error.")
        text = reason + ("\n" + detail if detail else "")
        super().__init__(text)
        self.code = code
        self.text = text


@dataclass(frozen=True)
class InputSignal:
    """An input of the main component, by its top-level key in ``input.json``.

    ``dims`` is the array shape of a plain signal (``()`` for a scalar) and ``None`` for a
    bus input; a bus input may be given whole (``"p": [x, y]``, snarkjs style) or field by
    field (``"p": {"x": .., "y": ..}``, keys ``fields`` such as ``"q[0].x"``).
    """

    name: str
    size: int
    dims: tuple[int, ...] | None
    fields: tuple[str, ...] = ()


@dataclass
class _Leaf:
    path: str
    value: object


@dataclass
class _Given:
    """Values given for one input key, flattened, plus the nesting shape (None if ragged)."""

    leaves: list[_Leaf]
    shape: tuple[int, ...] | None


class _Instance:
    """One wasmtime store holding the circom instance and the linked helper."""

    def __init__(self, engine: wasmtime.Engine, module: wasmtime.Module, helper: wasmtime.Module):
        self.store = wasmtime.Store(engine)
        store = self.store
        self.errors: list[str] = []
        self.message_parts: list[str] = []
        self.messages: list[str] = []
        self._exports: Any = None

        v = wasmtime.FuncType([], [])
        i32 = wasmtime.FuncType([wasmtime.ValType.i32()], [])
        imports = [
            wasmtime.Func(store, i32, self._exception_handler, access_caller=True),
            wasmtime.Func(store, v, self._print_error_message, access_caller=True),
            wasmtime.Func(store, v, self._write_buffer_message, access_caller=True),
            wasmtime.Func(store, v, self._show_shared_rw_memory, access_caller=True),
        ]
        by_name = {
            "exceptionHandler": imports[0],
            "printErrorMessage": imports[1],
            "writeBufferMessage": imports[2],
            "showSharedRWMemory": imports[3],
        }
        externs: list[wasmtime.Func] = []
        for imp in module.imports:
            if imp.module != "runtime" or imp.name not in by_name:
                raise ArtifactError(f"witness wasm imports unknown {imp.module}.{imp.name}")
            externs.append(by_name[imp.name])
        try:
            circom = wasmtime.Instance(store, module, externs)
        except wasmtime.WasmtimeError as exc:
            raise ArtifactError(f"cannot instantiate witness wasm: {exc}") from exc
        ex = circom.exports(store)
        self._exports = ex
        self.init = _func(ex, "init")
        self.get_input_signal_size = _func(ex, "getInputSignalSize")
        self.get_input_size = _func(ex, "getInputSize")
        self.get_raw_prime = _func(ex, "getRawPrime")
        self.read_shared = _func(ex, "readSharedRWMemory")
        self.n32: int = _func(ex, "getFieldNumLen32")(store)
        self.witness_size: int = _func(ex, "getWitnessSize")(store)

        linked = wasmtime.Instance(
            store,
            helper,
            [
                _func(ex, "writeSharedRWMemory"),
                self.read_shared,
                _func(ex, "setInputSignal"),
                _func(ex, "getWitness"),
            ],
        )
        hx = linked.exports(store)
        mem = hx["mem"]
        done = hx["done"]
        assert isinstance(mem, wasmtime.Memory) and isinstance(done, wasmtime.Global)
        self.mem: wasmtime.Memory = mem
        self.done: wasmtime.Global = done
        self.set_inputs = _func(hx, "set_inputs")
        self.get_witness = _func(hx, "get_witness")

    # -- imports -------------------------------------------------------------------------

    def _message(self, caller: wasmtime.Caller) -> str:
        get_char = self._exports["getMessageChar"]
        chars: list[str] = []
        c = get_char(caller)
        while c != 0:
            chars.append(chr(c))
            c = get_char(caller)
        return "".join(chars)

    def _exception_handler(self, caller: wasmtime.Caller, code: int) -> None:
        raise _CircomTrap(code, "\n".join(self.errors))

    def _print_error_message(self, caller: wasmtime.Caller) -> None:
        self.errors.append(self._message(caller))

    def _write_buffer_message(self, caller: wasmtime.Caller) -> None:
        msg = self._message(caller)
        if msg == "\n":  # circom's log() ends every line with a lone "\n" message
            line = " ".join(self.message_parts)
            self.message_parts.clear()
            self.messages.append(line)
            log.info("circuit log: %s", line)
        else:
            self.message_parts.append(msg)

    def _show_shared_rw_memory(self, caller: wasmtime.Caller) -> None:
        words = [self.read_shared(caller, j) & 0xFFFFFFFF for j in range(self.n32)]
        self.message_parts.append(str(sum(w << (32 * j) for j, w in enumerate(words))))

    # -- helpers -------------------------------------------------------------------------

    def shared_value(self) -> int:
        words = [self.read_shared(self.store, j) & 0xFFFFFFFF for j in range(self.n32)]
        return sum(w << (32 * j) for j, w in enumerate(words))

    def ensure_mem(self, nbytes: int) -> None:
        have = self.mem.data_len(self.store)
        if nbytes > have:
            self.mem.grow(self.store, (nbytes - have + _PAGE - 1) // _PAGE)


def _func(exports: Any, name: str) -> wasmtime.Func:
    try:
        f = exports[name]
    except KeyError:
        raise ArtifactError(
            f"witness wasm does not export {name}: not a circom 2 witness"
        ) from None
    if not isinstance(f, wasmtime.Func):
        raise ArtifactError(f"witness wasm export {name} is not a function")
    return f


def _engine_config() -> wasmtime.Config:
    """wasmtime's own compilation cache (keyed and checked by wasmtime) saves ~1 s per
    process; if it cannot be enabled (read-only home), compile without it."""
    config = wasmtime.Config()
    try:
        config.cache = True
    except wasmtime.WasmtimeError as exc:  # pragma: no cover - depends on the machine
        log.debug("wasmtime cache unavailable: %s", exc)
    return config


def _parse_decimal(text: str, path: str) -> int:
    if not _DECIMAL.fullmatch(text):
        raise InputError(f"{path}: {text!r} is not a decimal integer")
    return int(text)


class WitnessCalculator:
    """Runs a circom witness ``.wasm`` in-process; compile once, then call many times.

    ``sym_path`` (default: ``<out>/<name>.sym`` beside circom's ``<out>/<name>_js/``) lets
    error messages name missing inputs and lets nested values be checked against each
    input's shape; without it only lengths are checked. Not reentrant: calls are
    serialised with a lock.
    """

    def __init__(self, wasm_path: Path, sym_path: Path | None = None) -> None:
        self.wasm_path = Path(wasm_path)
        if not self.wasm_path.is_file():
            raise ArtifactError(f"witness wasm not found: {self.wasm_path}")
        self._engine = wasmtime.Engine(_engine_config())
        try:
            self._module = wasmtime.Module(self._engine, self.wasm_path.read_bytes())
        except wasmtime.WasmtimeError as exc:
            raise ArtifactError(f"{self.wasm_path}: not a valid wasm module: {exc}") from exc
        self._helper = wasmtime.Module(self._engine, bytes(wasmtime.wat2wasm(_HELPER_WAT)))
        self._lock = threading.Lock()
        self._inst = _Instance(self._engine, self._module, self._helper)
        inst = self._inst

        self.n32: int = inst.n32
        self.n8: int = 4 * inst.n32
        self.witness_size: int = inst.witness_size
        inst.get_raw_prime(inst.store)
        self.prime: int = inst.shared_value()
        self.input_size: int = inst.get_input_size(inst.store)
        self.messages: list[str] = []
        """Lines the circuit printed with ``log()`` during the last call."""

        if sym_path is None:
            guess = self._default_sym_path()
            sym_path = guess if guess is not None and guess.is_file() else None
        elif not Path(sym_path).is_file():
            raise ArtifactError(f"symbol file not found: {sym_path}")
        self.inputs: dict[str, InputSignal] | None = (
            self._inputs_from_sym(Path(sym_path)) if sym_path is not None else None
        )
        """Inputs of the main component by name, if a matching ``.sym`` was found."""

    # -- public API ----------------------------------------------------------------------

    def calculate(self, inputs: Mapping[str, InputValue]) -> list[int]:
        """Compute the full witness (``witness[0] == 1``) for ``inputs``."""
        raw = self._calculate_raw(inputs)
        n8 = self.n8
        return [int.from_bytes(raw[k : k + n8], "little") for k in range(0, len(raw), n8)]

    def wtns_bytes(self, inputs: Mapping[str, InputValue]) -> bytes:
        """Compute the witness and serialise it as a ``.wtns`` file (as snarkjs writes it)."""
        raw = self._calculate_raw(inputs)
        return encode_wtns(self.prime, self.n8, self.witness_size, raw)

    # -- internals -----------------------------------------------------------------------

    def _default_sym_path(self) -> Path | None:
        parent = self.wasm_path.parent
        if parent.name.endswith("_js"):
            return parent.parent / f"{self.wasm_path.stem}.sym"
        return None

    def _signal_size(self, name: str) -> int:
        h = fnv1a64(name)
        inst = self._inst
        size: int = inst.get_input_signal_size(inst.store, _i32(h >> 32), _i32(h & 0xFFFFFFFF))
        # For an unknown hash circom reads a size from a fixed, zero-filled address: 0.
        return size if size > 0 else 0

    def _inputs_from_sym(self, path: Path) -> dict[str, InputSignal] | None:
        """Input names and shapes: the main component's signals the wasm knows as inputs."""
        entries: list[tuple[int, str]] = []
        with path.open("r", encoding="utf-8") as fh:
            for line in fh:
                fields = line.strip().split(",", 3)
                if len(fields) == 4 and fields[3].startswith("main."):
                    try:
                        entries.append((int(fields[2]), fields[3][5:]))
                    except ValueError:
                        continue
        # Only the main component's own signals have names without a further dot
        # (bus fields excepted); their component id picks out all of main's signals.
        main_ids = {comp for comp, name in entries if _PLAIN_NAME.fullmatch(name)}
        if len(main_ids) != 1:
            return None
        (main_id,) = main_ids
        groups: dict[str, list[tuple[int, ...]]] = {}
        for comp, name in entries:
            if comp != main_id:
                continue
            m = _INDEX_SUFFIX.search(name)
            key = name[: m.start()] if m else name
            idx = tuple(int(x) for x in re.findall(r"[0-9]+", m.group(0))) if m else ()
            groups.setdefault(key, []).append(idx)
        found: dict[str, InputSignal] = {}
        bus_fields: dict[str, list[str]] = {}
        for key, idxs in groups.items():
            root = _root(key)
            if root != key:
                bus_fields.setdefault(root, []).append(key)
                continue
            size = self._signal_size(key)
            if size == 0:
                continue
            dims = tuple(max(ix[d] for ix in idxs) + 1 for d in range(len(idxs[0])))
            if size != len(idxs) or prod(dims) != size:
                return None
            found[key] = InputSignal(key, size, dims)
        for root, keys in bus_fields.items():
            size = self._signal_size(root)
            if size == 0:
                continue
            known = tuple(k for k in keys if self._signal_size(k) > 0)
            if sum(len(groups[k]) for k in known) != size:
                return None
            found[root] = InputSignal(root, size, None, known)
        if sum(s.size for s in found.values()) != self.input_size:
            log.warning("%s does not match %s; input names unavailable", path, self.wasm_path)
            return None
        return found

    def _flatten(self, inputs: Mapping[str, InputValue]) -> dict[str, _Given]:
        if not isinstance(inputs, Mapping):
            raise InputError(f"inputs: expected a mapping of signal names, got {type(inputs)}")
        out: dict[str, _Given] = {}

        def put(key: str, given: _Given) -> None:
            if key in out:
                raise InputError(f"{key}: given more than once")
            out[key] = given

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, Mapping):
                for sub, v in value.items():
                    if not isinstance(sub, str):
                        raise InputError(f"{prefix}: field names must be strings, got {sub!r}")
                    walk(f"{prefix}.{sub}" if prefix else sub, v)
            elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
                leaves: list[_Leaf] = []
                shape = _collect(prefix, value, leaves)
                kinds = {isinstance(leaf.value, Mapping) for leaf in leaves}
                if kinds == {True, False}:
                    raise InputError(f"{prefix}: mixes objects and numbers")
                if kinds == {True}:  # array of buses: "b[0].x", ...
                    for leaf in leaves:
                        walk(leaf.path, leaf.value)
                else:
                    put(prefix, _Given(leaves, shape))
            else:
                put(prefix, _Given([_Leaf(prefix, value)], ()))

        for key, value in inputs.items():
            if not isinstance(key, str) or not key:
                raise InputError(f"inputs: signal names must be non-empty strings, got {key!r}")
            walk(key, value)
        return out

    def _encode(self, given: Mapping[str, _Given]) -> tuple[bytes, list[str]]:
        """Validate every value; build the helper's input records and their value paths."""
        prime = self.prime
        records: list[bytes] = []
        paths: list[str] = []
        known = self.inputs
        covered: dict[str, int] = {}
        for key, g in given.items():
            root = _root(key)
            spec = known.get(root) if known is not None else None
            size = self._signal_size(key)
            if size == 0 or (
                known is not None and (spec is None or (key != root and key not in spec.fields))
            ):
                hint = f" (inputs: {', '.join(known)})" if known else ""
                raise InputError(f"{key}: unknown input signal{hint}")
            if len(g.leaves) != size:
                raise InputError(f"{key}: expected {size} values, got {len(g.leaves)}")
            if spec is not None and key == root and spec.dims is not None:
                if g.shape is None:
                    raise InputError(f"{key}: ragged array, expected shape {_fmt(spec.dims)}")
                if len(g.shape) > 1 and g.shape != spec.dims:
                    raise InputError(
                        f"{key}: expected shape {_fmt(spec.dims)}, got {_fmt(g.shape)}"
                    )
            covered[root] = covered.get(root, 0) + size
            h = fnv1a64(key)
            prefix = struct.pack("<II", h >> 32, h & 0xFFFFFFFF)
            for i, leaf in enumerate(g.leaves):
                value = leaf.value
                if isinstance(value, bool) or not isinstance(value, int | str):
                    raise InputError(
                        f"{leaf.path}: expected an integer or decimal string, "
                        f"got {type(value).__name__}"
                    )
                n = value if isinstance(value, int) else _parse_decimal(value, leaf.path)
                if n < 0:
                    raise InputError(f"{leaf.path}: {n} is negative; values must be in [0, p)")
                if n >= prime:
                    raise InputError(f"{leaf.path}: {n} is not below the field prime p")
                records.append(prefix + struct.pack("<I", i) + n.to_bytes(self.n8, "little"))
                paths.append(leaf.path)
        if known is not None:
            missing: list[str] = []
            for root, spec in known.items():
                got = covered.get(root, 0)
                if got > spec.size:
                    raise InputError(f"{root}: set more than once (whole and by field)")
                if got == 0:
                    missing.append(root)
                elif got < spec.size:
                    missing.extend(f for f in spec.fields if f not in given)
            if missing:
                raise InputError(f"{', '.join(missing)}: missing input signal")
        if len(records) != self.input_size:
            raise InputError(
                f"inputs: {len(records)} values given, the circuit takes {self.input_size}"
            )
        return b"".join(records), paths

    def _calculate_raw(self, inputs: Mapping[str, InputValue]) -> bytes:
        with self._lock:
            given = self._flatten(inputs)
            data, paths = self._encode(given)
            inst = self._inst
            store = inst.store
            try:
                inst.errors.clear()
                inst.message_parts.clear()
                inst.messages = []
                inst.init(store, 0)
                inst.ensure_mem(len(data))
                inst.mem.write(store, data, 0)
                inst.set_inputs(store, len(paths), self.n32)
                nbytes = self.witness_size * self.n8
                inst.ensure_mem(nbytes)
                inst.get_witness(store, self.witness_size, self.n32)
                raw = bytes(inst.mem.read(store, 0, nbytes))
            except BaseException as exc:
                # The circuit stopped half-way: start the next call from a fresh instance.
                self.messages = list(inst.messages)
                self._reset()
                err = _translate(exc, inst, paths)
                if err is None:
                    raise
                raise err from None
            self.messages = list(inst.messages)
            return raw

    def _reset(self) -> None:
        """Start from a fresh instance after a trap (the circuit stopped half-way)."""
        self._inst = _Instance(self._engine, self._module, self._helper)


def _translate(exc: BaseException, inst: _Instance, paths: Sequence[str]) -> Exception | None:
    """The zkmargin error for a failure inside the witness wasm (None: not ours, re-raise)."""
    if isinstance(exc, _CircomTrap):
        if exc.code in _INPUT_ERROR_CODES:
            done = inst.done.value(inst.store)
            where = paths[done] if isinstance(done, int) and 0 <= done < len(paths) else "inputs"
            return InputError(f"{where}: {exc.text}")
        return ProverError(f"witness calculation failed: {exc.text}")
    if isinstance(exc, wasmtime.Trap):
        return ProverError(f"witness calculation trapped: {exc.message}")
    if isinstance(exc, wasmtime.WasmtimeError):
        return ProverError(f"witness calculation failed: {exc}")
    return None


def _collect(path: str, value: Sequence[object], leaves: list[_Leaf]) -> tuple[int, ...] | None:
    """Flatten nested sequences depth-first; return their shape, or None if ragged."""
    shapes: list[tuple[int, ...] | None] = []
    for i, item in enumerate(value):
        sub = f"{path}[{i}]"
        if isinstance(item, Sequence) and not isinstance(item, str | bytes):
            shapes.append(_collect(sub, item, leaves))
        else:
            leaves.append(_Leaf(sub, item))
            shapes.append(())
    if not shapes:
        return (0,)
    first = shapes[0]
    if first is None or any(s != first for s in shapes):
        return None
    return (len(value), *first)


def _root(key: str) -> str:
    """The top-level signal of an input key: ``q[0].x`` -> ``q``."""
    m = _ROOT.match(key)
    return m.group(0) if m else key


def _fmt(dims: tuple[int, ...]) -> str:
    return "".join(f"[{d}]" for d in dims) or "scalar"


def _i32(u: int) -> int:
    """An unsigned 32-bit value as the signed i32 wasmtime expects."""
    return u - (1 << 32) if u >= 1 << 31 else u
