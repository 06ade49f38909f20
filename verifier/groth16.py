"""Off-chain Groth16 verifier for snarkjs proofs on BN254 (snarkjs calls the curve ``bn128``).

Input formats are snarkjs' own JSON files:

* ``verification_key.json``: ``protocol`` "groth16", ``curve`` "bn128", ``nPublic``,
  ``vk_alpha_1``, ``vk_beta_2``, ``vk_gamma_2``, ``vk_delta_2``, ``IC`` (``nPublic + 1``
  points); other keys (``vk_alphabeta_12``) are ignored.
* ``proof.json``: ``pi_a``, ``pi_b``, ``pi_c`` (and optionally ``protocol``/``curve``).
* ``public.json``: the public signals, outputs first, as decimal strings.

Points are projective triples with ``z == 1``: G1 is ``[x, y, "1"]`` and G2 is
``[[x.c0, x.c1], [y.c0, y.c1], ["1", "0"]]`` where an Fq2 element is ``c0 + c1*u``
(``u^2 = -1``).  This is the same order as py_ecc's ``FQ2([c0, c1])``; only the EVM
precompile / Solidity calldata uses the swapped order ``(c1, c0)``.

Decisions (stricter than ``snarkjs groth16 verify``, see tests/test_groth16.py):

* Every number must be a JSON integer or a *canonical* decimal string: ASCII digits, no
  sign, no leading zeros, no exponent, no hex.  snarkjs accepts ``"03"`` and ``"0x3"``.
* Public signals must be ``< r`` and coordinates ``< q``; snarkjs silently reduces
  coordinates modulo q (and even modulo 2**256 first), which makes proofs malleable.
* The number of public signals must equal the key's ``nPublic``; snarkjs uses however
  many it is given, so a list with a trailing zero signal dropped still verifies there.
* Every point must be on its curve and G2 points must lie in the order-r subgroup
  (snarkjs only checks the curve equation).
* A point at infinity (``z == 0``) anywhere in the key or the proof raises
  :class:`VerifierError`: no honest setup or prover produces one.  snarkjs accepts it as a
  point and then fails the pairing check.
* Any ``z`` other than 1 (or 0) raises: snarkjs always writes affine points.

All of these raise :class:`~zkmargin.errors.VerifierError` naming the offending field;
:func:`verify` returns ``False`` only for a well-formed proof whose pairing check fails.

The check is ``e(A, B) == e(alpha, beta) * e(vk_x, gamma) * e(C, delta)`` with
``vk_x = IC[0] + sum(s_i * IC[i+1])``, computed as one product of three Miller loops
``ML(A, B) * ML(-vk_x, gamma) * ML(-C, delta)`` and one final exponentiation, compared
with the cached ``e(alpha, beta)``.  The Miller loop is py_ecc's optimal-ate loop
(same formulas, same result before the final exponentiation); the line functions for
the key's fixed G2 points are precomputed once per key, and the Frobenius maps and the
final exponentiation use the p-power Frobenius instead of py_ecc's generic powering.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

from py_ecc.fields import optimized_bn128_FQ as FQ
from py_ecc.fields import optimized_bn128_FQ2 as FQ2
from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128.optimized_curve import add, b2, curve_order, double, field_modulus
from py_ecc.optimized_bn128.optimized_curve import multiply as _py_ecc_multiply
from py_ecc.optimized_bn128.optimized_pairing import pseudo_binary_encoding

from zkmargin.errors import ArtifactError, VerifierError
from zkmargin.units import BN254_BASE_FIELD, SNARK_SCALAR_FIELD

__all__ = [
    "G1Affine",
    "G2Affine",
    "Proof",
    "VerifyingKey",
    "parse_public_signals",
    "verify",
]

Q: Final = BN254_BASE_FIELD  # base field prime (coordinates)
R: Final = SNARK_SCALAR_FIELD  # group order (public signals)
if field_modulus != Q or curve_order != R:  # pragma: no cover - guards a py_ecc upgrade
    raise ImportError("py_ecc's bn128 constants do not match zkmargin.units")

G1Affine: TypeAlias = tuple[int, int]
"""Affine G1 point ``(x, y)``, both in ``[0, q)``."""
Fq2Ints: TypeAlias = tuple[int, int]
"""Fq2 element ``c0 + c1*u`` as ``(c0, c1)``."""
G2Affine: TypeAlias = tuple[Fq2Ints, Fq2Ints]
"""Affine G2 point ``((x.c0, x.c1), (y.c0, y.c1))``."""

_G1J: TypeAlias = tuple[FQ, FQ, FQ]  # py_ecc homogeneous projective point
_G2J: TypeAlias = tuple[FQ2, FQ2, FQ2]
_Coeffs: TypeAlias = tuple[int, ...]  # the 12 coefficients of an FQ12 element (basis w^i)
_Line: TypeAlias = tuple[_Coeffs, _Coeffs, _Coeffs]  # (a, b, c): line(P) = a*x + b*y + c

_CURVE_NAMES: Final = frozenset({"bn128", "bn254", "altbn128"})
_DECIMAL: Final = re.compile(r"0|[1-9][0-9]*")
_Q_NAME: Final = "the base field prime q"
_R_NAME: Final = "the scalar field order r"


# --------------------------------------------------------------------------- parsing


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:18] + "..." + text[-18:]


def _uint(value: object, what: str, bound: int, bound_name: str) -> int:
    """A JSON integer or canonical decimal string in ``[0, bound)``; else VerifierError."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise VerifierError(
            f"{what}: expected a decimal integer string, got {type(value).__name__} {_short(value)}"
        )
    if isinstance(value, str):
        if _DECIMAL.fullmatch(value) is None:
            raise VerifierError(
                f"{what}: {_short(value)} is not a canonical decimal integer "
                "(ASCII digits only: no sign, leading zero, exponent, hex or spaces)"
            )
        if len(value) > len(str(bound)):
            raise VerifierError(f"{what}: {_short(value)} is >= {bound_name}")
        number = int(value)
    else:
        number = value
    if number < 0:
        raise VerifierError(f"{what}: {number} is negative")
    if number >= bound:
        raise VerifierError(f"{what}: {_short(number)} is >= {bound_name}")
    return number


def _array(value: object, length: int, what: str) -> Sequence[Any]:
    if isinstance(value, str | bytes | bytearray) or not isinstance(value, Sequence):
        raise VerifierError(f"{what}: expected a JSON array, got {type(value).__name__}")
    if len(value) != length:
        raise VerifierError(f"{what}: expected {length} elements, got {len(value)}")
    return value


def _object(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise VerifierError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _field(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data:
        raise VerifierError(f"{what}: missing {key!r}")
    return data[key]


def _check_header(data: Mapping[str, Any], what: str, *, required: bool) -> None:
    for key, ok in (("protocol", {"groth16"}), ("curve", _CURVE_NAMES)):
        if key not in data:
            if required:
                raise VerifierError(f"{what}: missing {key!r}")
            continue
        value = data[key]
        if not isinstance(value, str) or value.lower() not in ok:
            raise VerifierError(f"{what}: {key} {_short(value)} is not supported")


def _z_coordinate(z: Sequence[int], what: str) -> None:
    if not any(z):
        raise VerifierError(f"{what} is the point at infinity (z = 0)")
    if z[0] != 1 or any(z[1:]):
        raise VerifierError(f"{what}: z must be 1 (affine coordinates), got {list(z)}")


def _g1_from_json(value: object, what: str) -> G1Affine:
    x, y, z = (_uint(c, f"{what}[{i}]", Q, _Q_NAME) for i, c in enumerate(_array(value, 3, what)))
    _z_coordinate((z,), what)
    return (x, y)


def _fq2_from_json(value: object, what: str) -> Fq2Ints:
    c0, c1 = (_uint(c, f"{what}[{i}]", Q, _Q_NAME) for i, c in enumerate(_array(value, 2, what)))
    return (c0, c1)


def _g2_from_json(value: object, what: str) -> G2Affine:
    x, y, z = (_fq2_from_json(c, f"{what}[{i}]") for i, c in enumerate(_array(value, 3, what)))
    _z_coordinate(z, what)
    return (x, y)


def parse_public_signals(values: Sequence[Any], n_public: int) -> list[int]:
    """Strictly parse snarkjs public signals (``public.json``) into ints in ``[0, r)``.

    Accepts JSON integers and canonical decimal strings only.  Raises
    :class:`VerifierError` naming the signal on a wrong count, a non-canonical string
    (``"01"``, ``"1e3"``, ``"-1"``, ``"0x10"``, ``" 1"``), a float, a bool or a value >= r.
    """
    if isinstance(values, str | bytes | bytearray) or not isinstance(values, Sequence):
        raise VerifierError(f"public signals: expected a JSON array, got {type(values).__name__}")
    if len(values) != n_public:
        raise VerifierError(
            f"public signals: expected {n_public} (the key's nPublic), got {len(values)}"
        )
    return [_uint(v, f"public signal {i}", R, _R_NAME) for i, v in enumerate(values)]


# ------------------------------------------------------------------------ curve checks


def _g1_on_curve(p: G1Affine) -> bool:
    x, y = p
    return (y * y - x * x * x - 3) % Q == 0


def _g2_jacobian(p: G2Affine) -> _G2J:
    return (FQ2(list(p[0])), FQ2(list(p[1])), FQ2.one())


def _g2_in_subgroup(p: G2Affine) -> bool:
    """``[r] p == O``: the twist's group has order h*r with h > 1; pairings need G2."""
    return _py_ecc_multiply(_g2_jacobian(p), R)[2] == FQ2.zero()


def _validate_g1(p: object, what: str) -> G1Affine:
    pair = _array(p, 2, what)
    x, y = (_uint(c, f"{what}[{i}]", Q, _Q_NAME) for i, c in enumerate(pair))
    if not _g1_on_curve((x, y)):
        raise VerifierError(f"{what} is not on the BN254 curve y^2 = x^3 + 3")
    return (x, y)


def _validate_g2(p: object, what: str) -> G2Affine:
    x, y = (_array(c, 2, f"{what}[{i}]") for i, c in enumerate(_array(p, 2, what)))
    point = (
        (_uint(x[0], f"{what}.x.c0", Q, _Q_NAME), _uint(x[1], f"{what}.x.c1", Q, _Q_NAME)),
        (_uint(y[0], f"{what}.y.c0", Q, _Q_NAME), _uint(y[1], f"{what}.y.c1", Q, _Q_NAME)),
    )
    xj, yj, _ = _g2_jacobian(point)
    if yj * yj != xj * xj * xj + b2:
        raise VerifierError(f"{what} is not on the BN254 twist curve y^2 = x^3 + 3/(9+u)")
    if not _g2_in_subgroup(point):
        raise VerifierError(f"{what} is on the twist curve but not in the order-r subgroup G2")
    return point


# ------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class VerifyingKey:
    """A Groth16 verifying key; every point is checked on construction.

    ``ic[0]`` is the constant term, ``ic[i + 1]`` multiplies public signal ``i``.
    """

    alpha_1: G1Affine
    beta_2: G2Affine
    gamma_2: G2Affine
    delta_2: G2Affine
    ic: tuple[G1Affine, ...]

    def __post_init__(self) -> None:
        # Normalise to tuples of ints (hashable: the per-key cache is keyed on the key).
        object.__setattr__(self, "alpha_1", _validate_g1(self.alpha_1, "vk_alpha_1"))
        for name in ("beta_2", "gamma_2", "delta_2"):
            object.__setattr__(self, name, _validate_g2(getattr(self, name), f"vk_{name}"))
        if isinstance(self.ic, str) or not isinstance(self.ic, Sequence) or not self.ic:
            raise VerifierError("IC: expected a non-empty sequence of G1 points")
        ic = tuple(_validate_g1(point, f"IC[{i}]") for i, point in enumerate(self.ic))
        object.__setattr__(self, "ic", ic)

    @property
    def n_public(self) -> int:
        """Number of public signals (outputs first, then public inputs)."""
        return len(self.ic) - 1

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerifyingKey:
        """Build from a parsed snarkjs ``verification_key.json``."""
        what = "verification key"
        data = _object(data, what)
        _check_header(data, what, required=True)
        n_public = _field(data, "nPublic", what)
        if isinstance(n_public, bool) or not isinstance(n_public, int) or n_public < 0:
            raise VerifierError(f"{what}: nPublic must be a non-negative integer")
        ic_json = _field(data, "IC", what)
        if isinstance(ic_json, Sequence) and not isinstance(ic_json, str):
            if len(ic_json) != n_public + 1:
                raise VerifierError(
                    f"{what}: IC has {len(ic_json)} points but nPublic is {n_public} "
                    "(expected nPublic + 1)"
                )
        ic = _array(ic_json, n_public + 1, "IC")
        return cls(
            alpha_1=_g1_from_json(_field(data, "vk_alpha_1", what), "vk_alpha_1"),
            beta_2=_g2_from_json(_field(data, "vk_beta_2", what), "vk_beta_2"),
            gamma_2=_g2_from_json(_field(data, "vk_gamma_2", what), "vk_gamma_2"),
            delta_2=_g2_from_json(_field(data, "vk_delta_2", what), "vk_delta_2"),
            ic=tuple(_g1_from_json(p, f"IC[{i}]") for i, p in enumerate(ic)),
        )

    @classmethod
    def load(cls, path: Path) -> VerifyingKey:
        """Read and check a snarkjs ``verification_key.json``."""
        return cls.from_json(_load_json(path, "verification key"))


@dataclass(frozen=True)
class Proof:
    """A Groth16 proof ``(A, B, C)``; every point is checked on construction."""

    pi_a: G1Affine
    pi_b: G2Affine
    pi_c: G1Affine

    def __post_init__(self) -> None:
        object.__setattr__(self, "pi_a", _validate_g1(self.pi_a, "pi_a"))
        object.__setattr__(self, "pi_b", _validate_g2(self.pi_b, "pi_b"))
        object.__setattr__(self, "pi_c", _validate_g1(self.pi_c, "pi_c"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proof:
        """Build from a parsed snarkjs ``proof.json``."""
        data = _object(data, "proof")
        _check_header(data, "proof", required=False)
        return cls(
            pi_a=_g1_from_json(_field(data, "pi_a", "proof"), "pi_a"),
            pi_b=_g2_from_json(_field(data, "pi_b", "proof"), "pi_b"),
            pi_c=_g1_from_json(_field(data, "pi_c", "proof"), "pi_c"),
        )

    @classmethod
    def load(cls, path: Path) -> Proof:
        """Read and check a snarkjs ``proof.json``."""
        return cls.from_json(_load_json(path, "proof"))


def _load_json(path: Path, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ArtifactError(f"{what} not found: {path}") from exc
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VerifierError(f"{what} {path}: not valid JSON: {exc}") from exc


# ---------------------------------------------------------------- FQ12 and Frobenius
#
# py_ecc's FQ12 is Fq[w] / (w^12 - 18 w^6 + 82); an Fq2 element c0 + c1*u embeds as
# (c0 - 9 c1) + c1 w^6 (u = w^6 - 9), and the twist maps (x, y) to (x w^2, y w^3).

_FQ12_ONE: Final = FQ12.one()


def _fq12(coeffs: Sequence[int]) -> FQ12:
    return FQ12(list(coeffs))


def _ints(f: FQ12) -> _Coeffs:
    return tuple(int(c) for c in f.coeffs)


def _embed(x: FQ2, k: int) -> _Coeffs:
    """Coefficients of ``embed(x) * w^k`` for ``0 <= k <= 6``."""
    c0, c1 = int(x.coeffs[0]), int(x.coeffs[1])
    out = [0] * 12
    if k < 6:
        out[k] = (c0 - 9 * c1) % Q
        out[k + 6] = c1
    else:  # w^12 = 18 w^6 - 82
        out[0] = (-82 * c1) % Q
        out[6] = (c0 + 9 * c1) % Q
    return tuple(out)


_FrobTable: TypeAlias = tuple[tuple[tuple[int, int], ...], ...]


def _apply(table: _FrobTable, f: FQ12) -> FQ12:
    out = [0] * 12
    for coeff, row in zip(f.coeffs, table, strict=True):
        c = int(coeff)
        if c:
            for j, m in row:
                out[j] += c * m
    return _fq12([v % Q for v in out])


def _table_of(images: Sequence[FQ12]) -> _FrobTable:
    return tuple(tuple((j, int(c)) for j, c in enumerate(img.coeffs) if int(c)) for img in images)


@functools.cache
def _frobenius_table(k: int) -> _FrobTable:
    """Row i holds the nonzero coefficients of ``(w^i)^(q^k)``; linear since Fq is fixed."""
    if k == 1:
        wq = _fq12([0, 1] + [0] * 10) ** Q
        images = [_FQ12_ONE]
        for _ in range(11):
            images.append(images[-1] * wq)
        return _table_of(images)
    prev, one = _frobenius_table(k - 1), _frobenius_table(1)
    basis = [_fq12([int(i == j) for j in range(12)]) for i in range(12)]
    return _table_of([_apply(one, _apply(prev, e)) for e in basis])


def _frobenius(f: FQ12, k: int) -> FQ12:
    """``f ** (q ** k)`` by a precomputed linear map (py_ecc would compute the power)."""
    return _apply(_frobenius_table(k), f)


_HARD_EXPONENT, _rem = divmod(Q**4 - Q**2 + 1, R)
if _rem:  # pragma: no cover - r | Phi_12(q) for BN254
    raise ImportError("r does not divide q^4 - q^2 + 1")
_HARD_DIGITS: Final = tuple((_HARD_EXPONENT // Q**i) % Q for i in range(4))


def _final_exponentiation(f: FQ12) -> FQ12:
    """``f ** ((q^12 - 1) / r)``, equal to py_ecc's ``final_exponentiate`` but faster.

    Easy part ``(q^6 - 1)(q^2 + 1)`` with Frobenius maps; hard part
    ``(q^4 - q^2 + 1) / r = sum(l_i q^i)`` as a 4-base multi-exponentiation of
    ``f^(q^i)`` sharing one chain of squarings.
    """
    f = _frobenius(_frobenius(f, 3), 3) / f  # f^(q^6 - 1)
    f = _frobenius(f, 2) * f  # ^(q^2 + 1)
    bases = [f, _frobenius(f, 1), _frobenius(f, 2), _frobenius(f, 3)]
    table = [_FQ12_ONE] * 16
    for mask in range(1, 16):
        low = mask & -mask
        table[mask] = table[mask ^ low] * bases[low.bit_length() - 1]
    acc = _FQ12_ONE
    for bit in range(max(d.bit_length() for d in _HARD_DIGITS) - 1, -1, -1):
        acc = acc * acc
        mask = sum(((d >> bit) & 1) << i for i, d in enumerate(_HARD_DIGITS))
        if mask:
            acc = acc * table[mask]
    return acc


# ------------------------------------------------------------------------- Miller loop


def _twist(p: _G2J) -> tuple[FQ12, FQ12, FQ12]:
    return (_fq12(_embed(p[0], 2)), _fq12(_embed(p[1], 3)), _fq12(_embed(p[2], 0)))


def _tangent(r: _G2J) -> tuple[_Line, _Coeffs]:
    """Tangent at twist(r), as py_ecc's ``linefunc(R, R, P)``: ((a, b, c), den)."""
    x, y, z = r
    yz = y * z
    return (
        (_embed(3 * x * x * z, 4), _embed(-(2 * yz * z), 3), _embed(2 * y * yz - 3 * x * x * x, 6)),
        _embed(2 * yz * z, 3),
    )


def _chord(r: _G2J, s: _G2J) -> tuple[_Line, _Coeffs]:
    """Line through twist(r) and twist(s), as py_ecc's ``linefunc(R, S, P)``."""
    x1, y1, z1 = r
    x2, y2, z2 = s
    num = y2 * z1 - y1 * z2
    den = x2 * z1 - x1 * z2
    zero = FQ2.zero()
    if den != zero:
        return (
            (_embed(num * z1, 3), _embed(-(den * z1), 2), _embed(den * y1 - num * x1, 5)),
            _embed(den * z1, 2),
        )
    if num == zero:
        return _tangent(r)
    zeros = (0,) * 12
    return (_embed(z1, 0), zeros, _embed(-x1, 2)), _embed(z1, 0)  # vertical line


def _chord12(r: tuple[FQ12, FQ12, FQ12], s: tuple[FQ12, FQ12, FQ12]) -> tuple[_Line, FQ12]:
    """``linefunc(r, s, P)`` on FQ12 points with ``r != +-s`` (the two final lines)."""
    x1, y1, z1 = r
    x2, y2, z2 = s
    num = y2 * z1 - y1 * z2
    den = x2 * z1 - x1 * z2
    if den == FQ12.zero():  # pragma: no cover - impossible for Q in G2 (checked before)
        raise ArithmeticError("degenerate final Miller-loop line")
    a, b, c = num * z1, -(den * z1), den * y1 - num * x1
    return (_ints(a), _ints(b), _ints(c)), den * z1


@dataclass(frozen=True)
class _PreparedG2:
    """Line functions of py_ecc's Miller loop for one G2 point, in loop order.

    With ``P = (x, y, 1)`` each line's value is ``(a x + b y + c) / d`` where ``d`` does
    not depend on P, so all denominators are folded into ``den`` once.
    """

    lines: tuple[_Line, ...]
    den: FQ12


def _prepare(point: G2Affine) -> _PreparedG2:
    q_pt = _g2_jacobian(point)
    neg_q = (q_pt[0], -q_pt[1], q_pt[2])
    lines: list[_Line] = []
    den = _FQ12_ONE
    r = q_pt
    for v in pseudo_binary_encoding[63::-1]:
        line, d = _tangent(r)
        lines.append(line)
        den = den * den * _fq12(d)
        r = double(r)
        if v:
            line, d = _chord(r, q_pt if v == 1 else neg_q)
            lines.append(line)
            den = den * _fq12(d)
            r = add(r, q_pt if v == 1 else neg_q)
    tq = _twist(q_pt)
    q1 = (_frobenius(tq[0], 1), _frobenius(tq[1], 1), _frobenius(tq[2], 1))
    nq2 = (_frobenius(q1[0], 1), -_frobenius(q1[1], 1), _frobenius(q1[2], 1))
    tr = _twist(r)
    line, d12 = _chord12(tr, q1)
    lines.append(line)
    den = den * d12
    tr = add(tr, q1)
    line, d12 = _chord12(tr, nq2)
    lines.append(line)
    return _PreparedG2(lines=tuple(lines), den=den * d12)


def _eval_line(line: _Line, x: int, y: int) -> FQ12:
    a, b, c = line
    return _fq12([(ai * x + bi * y + ci) % Q for ai, bi, ci in zip(a, b, c, strict=True)])


def _miller_product(pairs: Sequence[tuple[G1Affine, _PreparedG2]]) -> FQ12:
    """``prod ML(P_i, Q_i)`` before the final exponentiation (one shared squaring chain)."""
    f = _FQ12_ONE
    index = 0
    for v in pseudo_binary_encoding[63::-1]:
        f = f * f
        for step in range(2 if v else 1):
            for (x, y), prepared in pairs:
                f = f * _eval_line(prepared.lines[index + step], x, y)
        index += 2 if v else 1
    den = _FQ12_ONE
    for (x, y), prepared in pairs:
        f = f * _eval_line(prepared.lines[index], x, y)
        f = f * _eval_line(prepared.lines[index + 1], x, y)
        den = den * prepared.den
    return f / den


def _pairing(p: G1Affine, q: G2Affine) -> FQ12:
    return _final_exponentiation(_miller_product([(p, _prepare(q))]))


# ----------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class _KeyCache:
    ic: tuple[_G1J, ...]
    gamma: _PreparedG2
    delta: _PreparedG2
    alpha_beta: FQ12


@functools.lru_cache(maxsize=32)
def _key_cache(vk: VerifyingKey) -> _KeyCache:
    return _KeyCache(
        ic=tuple((FQ(x), FQ(y), FQ.one()) for x, y in vk.ic),
        gamma=_prepare(vk.gamma_2),
        delta=_prepare(vk.delta_2),
        alpha_beta=_pairing(vk.alpha_1, vk.beta_2),
    )


def _linear_combination(points: Sequence[_G1J], scalars: Sequence[int]) -> _G1J:
    """``sum(s_i * P_i)`` with one shared doubling chain (Straus)."""
    acc: _G1J = (FQ.one(), FQ.one(), FQ.zero())
    for bit in range(max((s.bit_length() for s in scalars), default=0) - 1, -1, -1):
        acc = double(acc)
        for point, scalar in zip(points, scalars, strict=True):
            if (scalar >> bit) & 1:
                acc = add(acc, point)
    return acc


def verify(vk: VerifyingKey, proof: Proof, public_signals: Sequence[int | str]) -> bool:
    """Check a Groth16 proof against ``vk`` and the public signals (outputs first).

    Returns ``True`` iff the pairing equation holds and ``False`` for a well-formed proof
    that does not verify.  Raises :class:`VerifierError` for malformed signals (see
    :func:`parse_public_signals`); malformed points cannot reach here because
    :class:`Proof` and :class:`VerifyingKey` check them on construction.
    """
    signals = parse_public_signals(public_signals, vk.n_public)
    cache = _key_cache(vk)
    vk_x = add(_linear_combination(cache.ic[1:], signals), cache.ic[0])
    a_x, a_y = proof.pi_a
    c_x, c_y = proof.pi_c
    pairs: list[tuple[G1Affine, _PreparedG2]] = [
        ((a_x, a_y), _prepare(proof.pi_b)),
        ((c_x, (Q - c_y) % Q), cache.delta),
    ]
    if vk_x[2] != FQ.zero():  # e(O, gamma) = 1: the term drops out
        z_inv = FQ.one() / vk_x[2]
        pairs.append(((int(vk_x[0] * z_inv), (-int(vk_x[1] * z_inv)) % Q), cache.gamma))
    return _final_exponentiation(_miller_product(pairs)) == cache.alpha_beta
