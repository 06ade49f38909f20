"""zkmargin.poseidon against circomlib's Poseidon(n) circuit, compiled from tests/fixtures/poseidon.

The fixture circuits (n = 1, 2, 4, 7, 16) are compiled once per session with circom2 into
build/test-poseidon/; their witnesses come from one long-lived Node worker (and once from the
snarkjs CLI, to check the worker). Arities without a circuit are checked against a
transcription of the circuit's optimised S/P form.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tooling.compile_cache import is_current, mark_current, sources_digest, worker_suffix

from zkmargin import paths
from zkmargin import poseidon as poseidon_mod
from zkmargin.errors import InputError, ToolError
from zkmargin.poseidon import N_ROUNDS_F, N_ROUNDS_P, poseidon
from zkmargin.units import SNARK_SCALAR_FIELD as R

ROOT = paths.project_root()
FIXTURES = "tests/fixtures/poseidon"  # relative to ROOT: circom2 runs in a WASI sandbox
OUT_DIR = f"build/test-poseidon-{worker_suffix()}"
ARITIES = (1, 2, 4, 7, 16)
COMPILE_FLAGS = ("-l", "node_modules", "-o", OUT_DIR)

# circomlibjs: poseidon([1, 2])
KNOWN_1_2 = 7853200120776062878684798364095072458815029376092732009249414926327459813530

field_elements = st.one_of(
    st.sampled_from([0, 1, 2, R - 1, R - 2, 2**64, 2**128, 2**253]),
    st.integers(min_value=0, max_value=R - 1),
)


# --- circuit oracle -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def circuit_wasm() -> dict[int, Path]:
    """Compile every fixture circuit (in parallel) and return n -> witness wasm path."""
    out = ROOT / OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    digest = sources_digest((ROOT / FIXTURES).glob("*.circom"))
    if is_current(out, digest):
        return {n: out / f"p{n}_js" / f"p{n}.wasm" for n in ARITIES}
    circom = str(paths.node_bin("circom2"))
    procs = {
        n: subprocess.Popen(
            [circom, f"{FIXTURES}/p{n}.circom", "--wasm", "--O2", *COMPILE_FLAGS],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in ARITIES
    }
    wasm: dict[int, Path] = {}
    for n, proc in procs.items():
        log, _ = proc.communicate(timeout=600)
        path = out / f"p{n}_js" / f"p{n}.wasm"
        assert proc.returncode == 0 and path.is_file(), f"circom2 p{n}.circom failed:\n{log}"
        wasm[n] = path
    mark_current(out, digest)
    return wasm


@pytest.fixture(scope="session")
def circuit_hash(circuit_wasm: dict[int, Path]) -> Iterator[Callable[[Sequence[int]], int]]:
    """Poseidon(len(inputs)) as computed by the compiled circuit's witness calculator."""
    worker = subprocess.Popen(
        ["node", f"{FIXTURES}/witness_worker.js"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert worker.stdin is not None and worker.stdout is not None
    stdin, stdout = worker.stdin, worker.stdout

    def run(inputs: Sequence[int]) -> int:
        request = {"wasm": str(circuit_wasm[len(inputs)]), "input": _circuit_input(inputs)}
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        reply = json.loads(stdout.readline())
        assert "error" not in reply, reply["error"]
        witness = reply["witness"]
        assert witness[0] == "1"
        return int(witness[1])  # the only output signal comes first

    yield run
    stdin.close()
    worker.wait(timeout=30)


def _circuit_input(inputs: Sequence[int]) -> dict[str, Any]:
    return {"inputs": [str(x) for x in inputs]}  # decimal strings: JSON numbers lose precision


def test_worker_agrees_with_snarkjs_cli(
    circuit_wasm: dict[int, Path], circuit_hash: Callable[[Sequence[int]], int], tmp_path: Path
) -> None:
    snarkjs = str(paths.node_bin("snarkjs"))
    for inputs in ([1, 2], [R - 1, 0]):
        (tmp_path / "input.json").write_text(json.dumps(_circuit_input(inputs)))
        subprocess.run(
            [snarkjs, "wtns", "calculate", str(circuit_wasm[2]), "input.json", "w.wtns"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [snarkjs, "wtns", "export", "json", "w.wtns", "w.json"],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )
        cli_out = int(json.loads((tmp_path / "w.json").read_text())[1])
        assert cli_out == circuit_hash(inputs) == poseidon(inputs)


# --- equality with the circuit --------------------------------------------------------------


def test_known_vector() -> None:
    assert poseidon([1, 2]) == KNOWN_1_2
    assert poseidon((1, 2)) == KNOWN_1_2


def _fixed_cases(n: int) -> list[list[int]]:
    return [
        [0] * n,
        [1] * n,
        [R - 1] * n,
        list(range(1, n + 1)),
        [(0, R - 1, 1)[i % 3] for i in range(n)],
        [pow(3, 100 + i, R) for i in range(n)],
    ]


@pytest.mark.parametrize("n", ARITIES)
def test_fixed_inputs_match_circuit(n: int, circuit_hash: Callable[[Sequence[int]], int]) -> None:
    for inputs in _fixed_cases(n):
        assert poseidon(inputs) == circuit_hash(inputs), inputs


@pytest.mark.parametrize("n", ARITIES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_random_inputs_match_circuit(
    n: int, data: st.DataObject, circuit_hash: Callable[[Sequence[int]], int]
) -> None:
    inputs = data.draw(st.lists(field_elements, min_size=n, max_size=n), label="inputs")
    assert poseidon(inputs) == circuit_hash(inputs)


def test_outputs_differ_across_arities_and_inputs() -> None:
    outputs = {poseidon([0] * n) for n in range(1, 17)} | {poseidon([1, 2]), poseidon([2, 1])}
    assert len(outputs) == 18
    assert all(0 <= h < R for h in outputs)


# --- every arity against the circuit's optimised S/P form -------------------------------------


@lru_cache(maxsize=1)
def _circuit_tables() -> dict[str, dict[int, Any]]:
    text = (paths.circomlib_dir() / poseidon_mod.CONSTANTS_FILE).read_text()
    names = ("POSEIDON_C", "POSEIDON_S", "POSEIDON_M", "POSEIDON_P")
    return poseidon_mod._parse_functions(text, names)


def _sparse_form(inputs: Sequence[int]) -> int:
    """circomlib's PoseidonEx(n, 1) with initialState 0, transcribed template by template."""
    t = len(inputs) + 1
    rp, half = N_ROUNDS_P[t - 2], N_ROUNDS_F // 2
    tables = _circuit_tables()
    c, s = tables["POSEIDON_C"][t], tables["POSEIDON_S"][t]
    m, p = tables["POSEIDON_M"][t], tables["POSEIDON_P"][t]
    assert len(c) == t * N_ROUNDS_F + rp and len(s) == rp * (2 * t - 1)
    assert len(m) == len(p) == t and all(len(row) == t for row in (*m, *p))

    def sigma(x: int) -> int:
        return pow(x, 5, R)

    def ark(state: list[int], r: int) -> list[int]:
        return [(x + c[i + r]) % R for i, x in enumerate(state)]

    def mix(state: list[int], mat: list[list[int]]) -> list[int]:
        return [sum(mat[j][i] * state[j] for j in range(t)) % R for i in range(t)]

    state = ark([0, *inputs], 0)
    for r in range(half - 1):
        state = mix(ark([sigma(x) for x in state], (r + 1) * t), m)
    state = mix(ark([sigma(x) for x in state], half * t), p)
    for r in range(rp):
        state = [(sigma(state[0]) + c[(half + 1) * t + r]) % R, *state[1:]]
        base = (2 * t - 1) * r
        out0 = sum(s[base + i] * state[i] for i in range(t)) % R
        state = [out0] + [(state[i] + state[0] * s[base + t + i - 1]) % R for i in range(1, t)]
    for r in range(half - 1):
        state = mix(ark([sigma(x) for x in state], (half + 1) * t + rp + r * t), m)
    state = [sigma(x) for x in state]
    return int(sum(m[j][0] * state[j] for j in range(t)) % R)


@pytest.mark.parametrize("n", range(1, 17))
def test_every_arity_matches_sparse_form(n: int) -> None:
    for inputs in _fixed_cases(n):
        assert poseidon(inputs) == _sparse_form(inputs), inputs


@settings(max_examples=60, deadline=None)
@given(inputs=st.lists(field_elements, min_size=1, max_size=16))
def test_random_inputs_match_sparse_form(inputs: list[int]) -> None:
    assert poseidon(inputs) == _sparse_form(inputs)


def test_sparse_form_matches_circuit(circuit_hash: Callable[[Sequence[int]], int]) -> None:
    # the transcription is itself checked against the circuit where one is compiled
    for n in ARITIES:
        inputs = [pow(5, 7 + i, R) for i in range(n)]
        assert _sparse_form(inputs) == circuit_hash(inputs)


# --- bad inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs",
    [
        [],
        (),
        [1] * 17,
        [0] * 100,
        [-1],
        [1, -5],
        [R],
        [0, R + 1],
        [2**256],
        [True, 1],
        [1.0],
        ["1"],
        [None],
        "12",
        iter([1, 2]),
    ],
    ids=lambda v: "iterator" if isinstance(v, Iterator) else repr(v)[:40],
)
def test_bad_inputs_raise_input_error(inputs: Any) -> None:
    with pytest.raises(InputError, match=r"^poseidon inputs"):
        poseidon(inputs)


def test_input_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"inputs\[1\]"):
        poseidon([1, R])


# --- the constants file ----------------------------------------------------------------------


@pytest.fixture
def fresh_constants() -> Iterator[None]:
    """Drop the cached tables before and after the test, so a broken file stays local to it."""
    poseidon_mod._load_constants.cache_clear()
    yield
    poseidon_mod._load_constants.cache_clear()


def _use_circomlib_dir(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(paths, "circomlib_dir", lambda: path)


def test_missing_constants_file_raises_tool_error(
    fresh_constants: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_circomlib_dir(monkeypatch, tmp_path)
    with pytest.raises(ToolError, match="cannot read circomlib's Poseidon constants") as exc:
        poseidon([1, 2])
    assert str(tmp_path) in str(exc.value) and "\n" not in str(exc.value)


def test_missing_circomlib_raises_tool_error(
    fresh_constants: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZKMARGIN_HOME", str(tmp_path))  # no node_modules there
    with pytest.raises(ToolError, match="circomlib is not installed"):
        poseidon([1, 2])


def _drop_first_entry_of(name: str, t: int) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        start = text.index(f"function {name}(t)")
        branch = re.compile(rf"if\s*\(\s*t\s*==\s*{t}\s*\)").search(text, start)
        assert branch is not None
        entry = re.compile(r"0x[0-9a-fA-F]+,\s*").search(text, branch.end())
        assert entry is not None
        return text[: entry.start()] + text[entry.end() :]

    return mutate


def _replace_first_constant(value: str) -> Callable[[str], str]:
    def mutate(text: str) -> str:
        entry = re.compile(r"0x[0-9a-fA-F]+").search(text, text.index("function POSEIDON_C"))
        assert entry is not None
        return text[: entry.start()] + value + text[entry.end() :]

    return mutate


BROKEN_FILES: dict[str, tuple[Callable[[str], str], str]] = {
    "garbage": (lambda text: "this is not circom\n", "expected one function POSEIDON_C"),
    "empty": (lambda text: "", "expected one function POSEIDON_C"),
    "no M": (lambda text: text.replace("POSEIDON_M", "POSEIDON_X"), "function POSEIDON_M"),
    "short C(3)": (_drop_first_entry_of("POSEIDON_C", 3), r"POSEIDON_C\(3\) is not a list"),
    "short C(17)": (_drop_first_entry_of("POSEIDON_C", 17), r"POSEIDON_C\(17\) is not a list"),
    "ragged M(5)": (_drop_first_entry_of("POSEIDON_M", 5), r"POSEIDON_M\(5\) is not a 5x5"),
    "no C(9)": (lambda text: text.replace("(t==9)", "(t==99)", 1), r"POSEIDON_C\(9\) is not"),
    "C >= r": (_replace_first_constant(hex(R)), "not a field element"),
    "bad token": (_replace_first_constant("0x12 + 1"), r"POSEIDON_C\(2\): unexpected '\+'"),
    "truncated": (lambda text: text[: text.index("function POSEIDON_M") + 5000], "POSEIDON_M"),
}


@pytest.mark.parametrize("case", BROKEN_FILES)
def test_malformed_constants_file_raises_tool_error(
    case: str, fresh_constants: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    mutate, message = BROKEN_FILES[case]
    text = (paths.circomlib_dir() / poseidon_mod.CONSTANTS_FILE).read_text()
    (tmp_path / poseidon_mod.CONSTANTS_FILE).write_text(mutate(text))
    _use_circomlib_dir(monkeypatch, tmp_path)
    with pytest.raises(ToolError, match=message) as exc:
        poseidon([1, 2])
    assert "cannot parse circomlib's Poseidon constants" in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unmodified_copy_of_constants_file_parses(
    fresh_constants: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # the mutations above are the only thing that breaks the copies
    text = (paths.circomlib_dir() / poseidon_mod.CONSTANTS_FILE).read_text()
    (tmp_path / poseidon_mod.CONSTANTS_FILE).write_text(text)
    _use_circomlib_dir(monkeypatch, tmp_path)
    assert poseidon([1, 2]) == KNOWN_1_2


def test_tables_are_parsed_once_and_have_expected_shapes(
    fresh_constants: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = poseidon_mod._load_constants()
    assert sorted(tables) == list(range(2, 18))
    for t, params in tables.items():
        assert params.t == t and params.rounds_p == N_ROUNDS_P[t - 2]
        assert len(params.c) == t * N_ROUNDS_F + params.rounds_p
        assert len(params.m_cols) == t and all(len(col) == t for col in params.m_cols)

    def unavailable() -> Path:
        raise AssertionError("constants re-read after the first load")

    monkeypatch.setattr(paths, "circomlib_dir", unavailable)
    assert poseidon([1, 2]) == KNOWN_1_2
    assert poseidon_mod._load_constants() is tables
