"""Poseidon over the BN254 scalar field, equal to circomlib's ``Poseidon(nInputs)``.

``poseidon(inputs)`` returns what circomlib 2.0.5's ``Poseidon(n)`` template
(``circuits/poseidon.circom``) outputs for the same ``n`` inputs, ``1 <= n <= 16``: the
width is ``t = n + 1``, the state starts as ``[0, *inputs]``, and the result is ``state[0]``
after the permutation (x**5 S-box, 8 full rounds, ``N_ROUNDS_P[t - 2]`` partial rounds).

No constant is stored in this repository (circomlib is GPL). The round constants ``C``
and the MDS matrix ``M`` are parsed on first use from the installed
``node_modules/circomlib/circuits/poseidon_constants.circom`` and cached.

circomlib's ``POSEIDON_C(t)`` is *not* the Grain-LFSR constant list of the Poseidon paper
(``t * (R_F + R_P)`` entries) but its equivalent folded form from the paper's optimised
implementation (``t * R_F + R_P`` entries): a full round adds ``t`` constants, a partial
round adds one constant to ``state[0]`` only, and each is added after the S-box, before the
mix. With the dense ``M`` in every round this is the plain permutation below; the circuit
additionally factors the partial rounds' ``M`` into ``POSEIDON_P`` and the sparse
``POSEIDON_S`` matrices, which changes the constraint count but not the function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, TypeAlias

from zkmargin import paths
from zkmargin.errors import InputError, ToolError
from zkmargin.units import SNARK_SCALAR_FIELD

MAX_INPUTS: Final = 16
CONSTANTS_FILE: Final = "poseidon_constants.circom"

N_ROUNDS_F: Final = 8
# Partial rounds for t = 2..17 (index t - 2), as in circomlib's poseidon.circom (paper, table 2
# and 8, rounded up).
N_ROUNDS_P: Final[tuple[int, ...]] = (
    56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68,
)  # fmt: skip

_R: Final = SNARK_SCALAR_FIELD

_Literal: TypeAlias = "int | list[_Literal]"

_FUNCTION_RE: Final = re.compile(r"\bfunction\s+(\w+)\s*\(")
_BRANCH_RE: Final = re.compile(r"\bif\s*\(\s*t\s*==\s*(\d+)\s*\)\s*\{\s*return\b([^;]*);")
_TOKEN_RE: Final = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+|\S")
_COMMENT_RE: Final = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Params:
    """The tables of one width ``t``: folded round constants and the mix matrix."""

    t: int
    rounds_p: int
    c: tuple[int, ...]  # t * N_ROUNDS_F + rounds_p constants
    m_cols: tuple[tuple[int, ...], ...]  # m_cols[i][j] = M[j][i]: out[i] = sum_j M[j][i]*in[j]


def poseidon(inputs: Sequence[int]) -> int:
    """circomlib ``Poseidon(len(inputs))`` of field elements ``inputs`` (ints in ``[0, r)``).

    Raises :class:`InputError` for 0 or more than 16 inputs, a non-int or an out-of-range
    value, and :class:`ToolError` if circomlib's constants file is missing or unreadable.
    """
    values = _check_inputs(inputs)
    params = _load_constants()[len(values) + 1]
    return _permute([0, *values], params)[0]


def _check_inputs(inputs: Sequence[int]) -> list[int]:
    if isinstance(inputs, str | bytes) or not isinstance(inputs, Sequence):
        raise InputError(
            f"poseidon inputs: expected a sequence of ints, got {type(inputs).__name__}"
        )
    n = len(inputs)
    if not 1 <= n <= MAX_INPUTS:
        raise InputError(f"poseidon inputs: expected 1..{MAX_INPUTS} values, got {n}")
    values: list[int] = []
    for i, x in enumerate(inputs):
        if not isinstance(x, int) or isinstance(x, bool):
            raise InputError(f"poseidon inputs[{i}]: expected an int, got {type(x).__name__}")
        if not 0 <= x < _R:
            raise InputError(f"poseidon inputs[{i}]: {x} is not a field element in [0, r)")
        values.append(int(x))
    return values


def _sbox(x: int) -> int:
    x2 = x * x % _R
    return x2 * x2 % _R * x % _R


def _permute(state: list[int], params: _Params) -> list[int]:
    """The permutation in circomlib's layout: add C[0:t]; then each round is S-box, add the
    round's constants (t of them in a full round, one to state[0] in a partial round, none
    after the last round), mix with M."""
    c, cols = params.c, params.m_cols
    half = N_ROUNDS_F // 2
    n_rounds = N_ROUNDS_F + params.rounds_p
    t = len(state)
    state = [(x + k) % _R for x, k in zip(state, c[:t], strict=True)]
    pos = t
    for rnd in range(n_rounds):
        full = rnd < half or rnd >= half + params.rounds_p
        if full:
            state = [_sbox(x) for x in state]
        else:
            state[0] = _sbox(state[0])
        if rnd < n_rounds - 1:
            if full:
                state = [x + k for x, k in zip(state, c[pos : pos + t], strict=True)]
                pos += t
            else:
                state[0] += c[pos]
                pos += 1
        state = [sum(m * x for m, x in zip(col, state, strict=True)) % _R for col in cols]
    assert pos == len(c)
    return state


@lru_cache(maxsize=1)
def _load_constants() -> dict[int, _Params]:
    """Parse and check ``POSEIDON_C`` and ``POSEIDON_M`` for every t = 2..17 (cached)."""
    path = paths.circomlib_dir() / CONSTANTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolError(
            f"cannot read circomlib's Poseidon constants {path}: {exc.__class__.__name__}; "
            "run `make install` (npm ci)"
        ) from exc
    try:
        tables = _parse_functions(text, ("POSEIDON_C", "POSEIDON_M"))
        c_tables, m_tables = tables["POSEIDON_C"], tables["POSEIDON_M"]
        params: dict[int, _Params] = {}
        for t in range(2, MAX_INPUTS + 2):
            rounds_p = N_ROUNDS_P[t - 2]
            c = _vector(c_tables, "POSEIDON_C", t, t * N_ROUNDS_F + rounds_p)
            m = _matrix(m_tables, "POSEIDON_M", t)
            cols = tuple(tuple(m[j][i] for j in range(t)) for i in range(t))
            params[t] = _Params(t=t, rounds_p=rounds_p, c=c, m_cols=cols)
    except ValueError as exc:
        raise ToolError(f"cannot parse circomlib's Poseidon constants {path}: {exc}") from exc
    return params


def _vector(tables: dict[int, _Literal], name: str, t: int, length: int) -> tuple[int, ...]:
    value = tables.get(t)
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"{name}({t}) is not a list of {length} constants")
    return tuple(_element(x, name, t) for x in value)


def _matrix(tables: dict[int, _Literal], name: str, t: int) -> tuple[tuple[int, ...], ...]:
    value = tables.get(t)
    if not isinstance(value, list) or len(value) != t:
        raise ValueError(f"{name}({t}) is not a {t}x{t} matrix")
    rows: list[tuple[int, ...]] = []
    for row in value:
        if not isinstance(row, list) or len(row) != t:
            raise ValueError(f"{name}({t}) is not a {t}x{t} matrix")
        rows.append(tuple(_element(x, name, t) for x in row))
    return tuple(rows)


def _element(x: _Literal, name: str, t: int) -> int:
    if not isinstance(x, int) or not 0 <= x < _R:
        raise ValueError(f"{name}({t}) holds an entry that is not a field element")
    return x


def _parse_functions(text: str, names: Sequence[str]) -> dict[str, dict[int, _Literal]]:
    """For each circom function in ``names``: the array literal each of its
    ``if (t==N) { return [...]; }`` branches returns, keyed by N.

    Raises ValueError if a function is missing or duplicated or a literal is malformed.
    """
    text = _COMMENT_RE.sub(" ", text)
    starts = [(m.group(1), m.start()) for m in _FUNCTION_RE.finditer(text)]
    result: dict[str, dict[int, _Literal]] = {}
    for name in names:
        bodies = [
            text[start : starts[k + 1][1] if k + 1 < len(starts) else len(text)]
            for k, (fname, start) in enumerate(starts)
            if fname == name
        ]
        if len(bodies) != 1:
            raise ValueError(f"expected one function {name}, found {len(bodies)}")
        tables: dict[int, _Literal] = {}
        for branch in _BRANCH_RE.finditer(bodies[0]):
            t = int(branch.group(1))
            if t in tables:
                raise ValueError(f"{name}({t}) is defined twice")
            tables[t] = _parse_literal(branch.group(2), f"{name}({t})")
        if not tables:
            raise ValueError(f"function {name} returns no table")
        result[name] = tables
    return result


def _parse_literal(source: str, where: str) -> _Literal:
    """Parse a circom array literal of decimal/hex integers (``[[0x1, 2], [3, 4]]``)."""
    tokens = _TOKEN_RE.findall(source)

    def value(pos: int) -> tuple[_Literal, int]:
        tok = tokens[pos]
        if tok == "[":
            items: list[_Literal] = []
            pos += 1
            if tokens[pos] == "]":
                return items, pos + 1
            while True:
                item, pos = value(pos)
                items.append(item)
                sep = tokens[pos]
                pos += 1
                if sep == "]":
                    return items, pos
                if sep != ",":
                    raise ValueError(f"{where}: unexpected {sep!r} in array literal")
        if tok[0].isdigit():
            return int(tok, 0) if tok[:2].lower() == "0x" else int(tok, 10), pos + 1
        raise ValueError(f"{where}: unexpected {tok!r} in array literal")

    try:
        result, end = value(0)
    except IndexError:
        raise ValueError(f"{where}: array literal ends early") from None
    if end != len(tokens):
        raise ValueError(f"{where}: unexpected {tokens[end]!r} after array literal")
    return result
