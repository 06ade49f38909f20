"""In-process witness generation (prover.witness) and .wtns/.sym IO (prover.wtns).

The fixture circuits in tests/fixtures/circuits/ are compiled once per session; snarkjs is
the reference: its `wtns calculate` output must match ours byte for byte and its
`wtns check` must accept what we write.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tooling.compile_cache import STAMP, is_current, mark_current, sources_digest, worker_suffix
from tooling.wtns_files import parse_wtns, read_sym, read_wtns, write_wtns

from prover.witness import WitnessCalculator, fnv1a64
from prover.wtns import wtns_bytes
from zkmargin.errors import InputError, ProverError
from zkmargin.paths import build_dir, node_bin, project_root

P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
CIRCUITS = ("wt_arrays", "wt_bus", "wt_chain")
FIXTURES = Path("tests") / "fixtures" / "circuits"


@dataclass(frozen=True)
class Built:
    name: str
    wasm: Path
    r1cs: Path
    sym: Path


def _out_rel() -> Path:
    """Output directory relative to the project root (circom runs in a WASI sandbox)."""
    # one directory per pytest-xdist worker: each session compiles (and first wipes) its own
    name = f"test-witness-{worker_suffix()}"
    rel = Path(os.path.relpath(build_dir() / name, project_root()))
    return rel if not rel.parts or rel.parts[0] != ".." else Path("build") / name


@pytest.fixture(scope="session")
def built() -> dict[str, Built]:
    root = project_root()
    out_rel = _out_rel()
    out = root / out_rel
    out.mkdir(parents=True, exist_ok=True)
    digest = sources_digest((root / FIXTURES).glob("*.circom"))
    if is_current(out, digest):
        return {
            name: Built(
                name,
                out / f"{name}_js" / f"{name}.wasm",
                out / f"{name}.r1cs",
                out / f"{name}.sym",
            )
            for name in CIRCUITS
        }
    (out / STAMP).unlink(missing_ok=True)
    circom = str(node_bin("circom2"))
    procs: dict[str, subprocess.Popen[str]] = {}
    for name in CIRCUITS:
        shutil.rmtree(out / f"{name}_js", ignore_errors=True)
        for ext in ("r1cs", "sym"):
            (out / f"{name}.{ext}").unlink(missing_ok=True)
        argv = [
            circom,
            str(FIXTURES / f"{name}.circom"),
            "--r1cs",
            "--wasm",
            "--sym",
            "--O2",
            "-l",
            "node_modules",
            "-o",
            str(out_rel),
        ]
        procs[name] = subprocess.Popen(
            argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    result: dict[str, Built] = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"circom {name} failed:\n{stdout}\n{stderr}"
        b = Built(
            name,
            out / f"{name}_js" / f"{name}.wasm",
            out / f"{name}.r1cs",
            out / f"{name}.sym",
        )
        assert b.wasm.is_file() and b.r1cs.is_file() and b.sym.is_file()
        result[name] = b
    mark_current(out, digest)
    return result


@pytest.fixture(scope="session")
def calcs(built: dict[str, Built]) -> dict[str, WitnessCalculator]:
    return {name: WitnessCalculator(b.wasm) for name, b in built.items()}


def snarkjs(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(node_bin("snarkjs")), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def snarkjs_wtns(wasm: Path, inputs: dict[str, Any], tmp: Path) -> bytes:
    """`snarkjs wtns calculate` on ``inputs`` (written with decimal strings)."""
    inp = tmp / "input.json"
    out = tmp / "ref.wtns"
    out.unlink(missing_ok=True)
    inp.write_text(json.dumps(_stringify(inputs)))
    proc = snarkjs("wtns", "calculate", wasm, inp, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out.read_bytes()


def _stringify(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _stringify(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_stringify(x) for x in v]
    return str(v)


def arrays_input(
    x: int = 5,
    size: tuple[int, ...] = (1, 2, 3),
    mat: tuple[tuple[int, int], ...] = ((1, 2), (3, 4), (5, 6)),
    limit: int | str = 100,
) -> dict[str, Any]:
    return {"x": x, "size": list(size), "mat": [list(r) for r in mat], "limit": limit}


BUS_SNARKJS = {"p": ["3", "4"], "q": [["5", "6"], ["7", "8"]], "k": [["1", "2"], ["3", "4"]]}


# ---------------------------------------------------------------------------------------
# agreement with snarkjs


def test_prime_and_sizes(calcs: dict[str, WitnessCalculator], built: dict[str, Built]) -> None:
    wc = calcs["wt_arrays"]
    assert wc.prime == P
    assert wc.n8 == 32
    assert wc.input_size == 11  # x + size[3] + mat[3][2] + limit
    proc = snarkjs("r1cs", "info", built["wt_arrays"].r1cs)
    assert proc.returncode == 0, proc.stderr
    assert f"# of Wires: {wc.witness_size}" in proc.stdout


def test_matches_snarkjs_fixed_inputs(calcs: dict[str, WitnessCalculator], tmp_path: Path) -> None:
    wc = calcs["wt_arrays"]
    inp = arrays_input()
    ours = wc.wtns_bytes(inp)
    assert ours == snarkjs_wtns(wc.wasm_path, inp, tmp_path)
    # the module-level writer produces the same file from the integer witness
    assert wtns_bytes(wc.calculate(inp), wc.prime) == ours


field = st.one_of(st.integers(0, P - 1), st.sampled_from([0, 1, P - 1, P // 2, 2**253]))


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    x=field,
    size=st.tuples(field, field, field),
    mat=st.tuples(*[st.tuples(field, field)] * 3),
    limit=st.integers(0, 2**32 - 1),
)
@pytest.mark.slow
def test_matches_snarkjs_random_inputs(
    calcs: dict[str, WitnessCalculator],
    tmp_path: Path,
    x: int,
    size: tuple[int, int, int],
    mat: tuple[tuple[int, int], ...],
    limit: int,
) -> None:
    wc = calcs["wt_arrays"]
    inp = arrays_input(x, size, mat, limit)
    assert wc.wtns_bytes(inp) == snarkjs_wtns(wc.wasm_path, inp, tmp_path)


def test_strings_and_ints_give_same_witness(calcs: dict[str, WitnessCalculator]) -> None:
    wc = calcs["wt_arrays"]
    as_ints = arrays_input(x=P - 1, limit=99)
    as_strs = _stringify(as_ints)
    assert wc.calculate(as_ints) == wc.calculate(as_strs)
    # a flat list for the 2-D input is accepted, as circom does
    flat = dict(as_ints, mat=[v for row in as_ints["mat"] for v in row])
    assert wc.calculate(flat) == wc.calculate(as_ints)


def test_reusable_and_input_dependent(calcs: dict[str, WitnessCalculator]) -> None:
    wc = calcs["wt_arrays"]
    a = wc.calculate(arrays_input(x=1))
    b = wc.calculate(arrays_input(x=2))
    assert a != b
    assert wc.calculate(arrays_input(x=1)) == a
    assert a[0] == 1
    assert len(a) == wc.witness_size


def test_bus_inputs_all_styles_match_snarkjs(
    calcs: dict[str, WitnessCalculator], tmp_path: Path
) -> None:
    wc = calcs["wt_bus"]
    ref = snarkjs_wtns(wc.wasm_path, BUS_SNARKJS, tmp_path)
    by_field = {
        "p": {"x": 3, "y": 4},
        "q": [{"x": 5, "y": 6}, {"x": 7, "y": 8}],
        "k": [[1, 2], [3, 4]],
    }
    mixed = {
        "p": {"x": 3, "y": 4},
        "q[0].x": 5,
        "q[0].y": 6,
        "q[1]": {"x": 7, "y": 8},
        "k": [1, 2, 3, 4],
    }
    for inp in (BUS_SNARKJS, by_field, mixed):
        assert wc.wtns_bytes(inp) == ref
        assert wc.messages == ["t = 12"]  # the circuit's log() line


def test_bus_input_errors(calcs: dict[str, WitnessCalculator]) -> None:
    wc = calcs["wt_bus"]
    base = {"p": {"x": 3, "y": 4}, "q": [[5, 6], [7, 8]], "k": [[1, 2], [3, 4]]}
    with pytest.raises(InputError, match=r"^p\.y: missing"):
        wc.calculate(dict(base, p={"x": 3}))
    with pytest.raises(InputError, match=r"^p\.z: unknown input signal"):
        wc.calculate(dict(base, p={"x": 3, "y": 4, "z": 5}))
    with pytest.raises(InputError, match=r"^p: set more than once"):
        wc.calculate(dict(base, p=[3, 4], **{"p.x": 3}))
    with pytest.raises(InputError, match=r"^p\.x: given more than once"):
        wc.calculate(dict(base, **{"p.x": 3}))


@pytest.mark.slow
def test_timing_few_thousand_constraints(
    calcs: dict[str, WitnessCalculator], built: dict[str, Built], tmp_path: Path
) -> None:
    wc = calcs["wt_chain"]
    proc = snarkjs("r1cs", "info", built["wt_chain"].r1cs)
    assert proc.returncode == 0, proc.stderr
    assert "# of Constraints: 3648" in proc.stdout
    inp = {"seed": 7, "xs": [(i * 0x9E3779B97F4A7C15) % 2**64 for i in range(12)]}
    assert wc.wtns_bytes(inp) == snarkjs_wtns(wc.wasm_path, inp, tmp_path)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        wc.calculate(inp)
        times.append(time.perf_counter() - t0)
    times.sort()
    median = times[len(times) // 2]
    print(f"\nwitness for 3648 constraints / {wc.witness_size} wires: {median * 1e3:.1f} ms")
    # word-by-word readout alone would take ~1 s here (9 calls x ~15 us x 3650 wires)
    assert median < 0.25


def test_range_check_in_chain_is_circuit_side(calcs: dict[str, WitnessCalculator]) -> None:
    wc = calcs["wt_chain"]
    bad = {"seed": 1, "xs": [2**64] + [0] * 11}  # in the field, but fails Num2Bits(64)
    with pytest.raises(ProverError, match="Assert Failed"):
        wc.calculate(bad)


# ---------------------------------------------------------------------------------------
# .wtns file IO and snarkjs' witness check


@pytest.mark.slow
def test_wtns_check_accepts_ours_rejects_flipped(
    calcs: dict[str, WitnessCalculator], built: dict[str, Built], tmp_path: Path
) -> None:
    wc = calcs["wt_arrays"]
    b = built["wt_arrays"]
    witness = wc.calculate(arrays_input(x=11, limit=12345))
    good = tmp_path / "good.wtns"
    write_wtns(good, witness, wc.prime)
    proc = snarkjs("wtns", "check", b.r1cs, good)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    idx = read_sym(b.sym)["main.inner.acc[1]"]  # an internal signal
    flipped = list(witness)
    flipped[idx] = (flipped[idx] + 1) % wc.prime
    bad = tmp_path / "bad.wtns"
    write_wtns(bad, flipped, wc.prime)
    proc = snarkjs("wtns", "check", b.r1cs, bad)
    assert proc.returncode == 1, proc.stdout + proc.stderr


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(witness=st.lists(st.integers(0, P - 1), max_size=40))
def test_wtns_roundtrip(tmp_path: Path, witness: list[int]) -> None:
    path = tmp_path / "w.wtns"
    write_wtns(path, witness, P)
    assert read_wtns(path) == (P, witness)


def test_read_wtns_of_snarkjs_file(calcs: dict[str, WitnessCalculator], tmp_path: Path) -> None:
    wc = calcs["wt_arrays"]
    inp = arrays_input(x=3)
    ref = snarkjs_wtns(wc.wasm_path, inp, tmp_path)
    assert parse_wtns(ref) == (P, wc.calculate(inp))


def test_wtns_rejects_bad_data(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"witness\[1\]"):
        wtns_bytes([1, P], P)
    with pytest.raises(InputError, match=r"witness\[0\]"):
        wtns_bytes([-1], P)
    good = wtns_bytes([1, 2, 3], P)
    with pytest.raises(InputError, match="magic"):
        parse_wtns(b"wtnx" + good[4:])
    with pytest.raises(InputError):
        parse_wtns(good[:-1])
    with pytest.raises(InputError, match="version"):
        parse_wtns(good[:4] + (1).to_bytes(4, "little") + good[8:])
    too_big = bytearray(good)
    too_big[-32:] = P.to_bytes(32, "little")  # last value == p
    with pytest.raises(InputError, match="not below the prime"):
        parse_wtns(bytes(too_big))


# ---------------------------------------------------------------------------------------
# .sym


def test_read_sym_names_and_values(
    calcs: dict[str, WitnessCalculator], built: dict[str, Built]
) -> None:
    wc = calcs["wt_arrays"]
    sym = read_sym(built["wt_arrays"].sym)
    size = (10, 20, 30)
    mat = ((1, 2), (3, 4), (5, P - 1))
    limit = 1000
    w = wc.calculate(arrays_input(x=42, size=size, mat=mat, limit=limit))
    assert w[sym["main.x"]] == 42
    for i in range(3):
        assert w[sym[f"main.size[{i}]"]] == size[i]
        for j in range(2):
            assert w[sym[f"main.mat[{i}][{j}]"]] == mat[i][j]
    assert w[sym["main.q"]] == limit // 7  # the <-- hints
    assert w[sym["main.r"]] == limit % 7
    a = [(size[i] + mat[i][0] * mat[i][1]) % P for i in range(3)]
    assert [w[sym[f"main.inner.a[{i}]"]] for i in range(3)] == a
    assert w[sym["main.inner.s"]] == sum(v * v for v in a) % P
    # main.limit is a linear combination of q and r: O2 removes it from the witness
    assert "main.limit" not in sym
    assert all(0 < idx < wc.witness_size for idx in sym.values())


def test_read_sym_rejects_malformed(tmp_path: Path) -> None:
    p = tmp_path / "bad.sym"
    p.write_text("1,1,0,main.a\n2,x,0,main.b\n")
    with pytest.raises(InputError, match=":2:"):
        read_sym(p)


# ---------------------------------------------------------------------------------------
# bad inputs and failing circuits


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"x": -1}, r"x"),
        ({"x": "-1"}, r"x"),
        ({"x": P}, r"x"),
        ({"x": str(P + 5)}, r"x"),
        ({"x": 2**256}, r"x"),
        ({"size": [1, -2, 3]}, r"size\[1\]"),
        ({"mat": [[1, 2], [3, P], [5, 6]]}, r"mat\[1\]\[1\]"),
        ({"size": [1, 2]}, r"size"),
        ({"size": [1, 2, 3, 4]}, r"size"),
        ({"size": 5}, r"size"),
        ({"mat": [[1, 2, 3], [4, 5, 6]]}, r"mat"),
        ({"mat": [[1, 2], [3], [4, 5, 6]]}, r"mat"),
        ({"y": 1}, r"y"),
        ({"x": 1.5}, r"x"),
        ({"x": True}, r"x"),
        ({"x": "0x10"}, r"x"),
        ({"x": " 1"}, r"x"),
        ({"x": None}, r"x"),
    ],
)
def test_bad_inputs_name_the_signal(
    calcs: dict[str, WitnessCalculator], change: dict[str, Any], name: str
) -> None:
    wc = calcs["wt_arrays"]
    with pytest.raises(InputError, match=rf"^{name}: "):
        wc.calculate({**arrays_input(), **change})


def test_missing_input_named(calcs: dict[str, WitnessCalculator]) -> None:
    wc = calcs["wt_arrays"]
    inp = arrays_input()
    del inp["limit"]
    with pytest.raises(InputError, match=r"^limit: missing input signal"):
        wc.calculate(inp)
    del inp["size"]
    with pytest.raises(InputError, match=r"size, limit: missing"):
        wc.calculate(inp)


def test_without_sym_file(built: dict[str, Built], tmp_path: Path) -> None:
    """Without a .sym only the wasm's hash map is known: names of missing inputs are not."""
    wasm = tmp_path / "c.wasm"
    shutil.copy(built["wt_arrays"].wasm, wasm)
    wc = WitnessCalculator(wasm)
    assert wc.inputs is None
    inp = arrays_input()
    assert wc.calculate(inp) == WitnessCalculator(built["wt_arrays"].wasm).calculate(inp)
    with pytest.raises(InputError, match=r"^y: unknown input signal"):
        wc.calculate({**inp, "y": 1})
    with pytest.raises(InputError, match=r"^size: expected 3 values, got 2"):
        wc.calculate({**inp, "size": [1, 2]})
    with pytest.raises(InputError, match=r"^x: .* negative"):
        wc.calculate({**inp, "x": -3})
    del inp["limit"]
    with pytest.raises(InputError, match=r"10 values given, the circuit takes 11"):
        wc.calculate(inp)


def test_failing_assert_raises_prover_error(
    calcs: dict[str, WitnessCalculator], tmp_path: Path
) -> None:
    wc = calcs["wt_arrays"]
    bad = arrays_input(limit=2**32)  # assert(limit < 2**32)
    with pytest.raises(ProverError) as info:
        wc.calculate(bad)
    msg = str(info.value)
    assert "Assert Failed" in msg
    assert "WtArrays" in msg and "line: 28" in msg  # circom's own location text
    # snarkjs fails on it too
    (tmp_path / "input.json").write_text(json.dumps(_stringify(bad)))
    proc = snarkjs("wtns", "calculate", wc.wasm_path, tmp_path / "input.json", tmp_path / "o.wtns")
    assert proc.returncode != 0
    # and the calculator still works afterwards
    assert wc.calculate(arrays_input())[0] == 1


def test_fnv_hash_vectors() -> None:
    assert fnv1a64("") == 0xCBF29CE484222325
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert fnv1a64("foobar") == 0x85944171F73967E8


def test_missing_wasm_is_artifact_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        WitnessCalculator(tmp_path / "nope.wasm")
