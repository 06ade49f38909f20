"""Constraint-level soundness: insolvent accounts have no accepted witness.

The honest witness of an insolvent account comes from an "assertless" build (every
``===`` commented out, see tests/soundness.py), mapped by signal name onto the real
--O2 circuit and checked against its R1CS. Each class of internal signal is then
tampered to try to make it pass; every attempt must break a constraint, and the test
names which. Mutants of every ``<--`` hint must leave the R1CS unchanged and still
produce no accepted witness. The cross- and portfolio-circuit mutant sweeps are in
`make audit`.

The same is done for a withdrawal (withdrawal flag set): an account solvent only on its
unrealized gain has no accepted witness, however the new signals (the price comparison,
each position's profit, the withheld sum, the flag's bit) are tampered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from soundness import (
    REPLACEMENTS,
    Hint,
    build_variant,
    find_hints,
    on_wires,
    prove_any_witness,
    real_circuit,
)
from tooling.constraints import R1cs
from tooling.wtns_files import read_sym

from prover.prove import Prover
from verifier.groth16 import Proof, VerifyingKey, verify
from zkmargin.accounts import load_market_data, new_account
from zkmargin.encoding import Binding, encode
from zkmargin.model import Mode, Position, evaluate
from zkmargin.toolrun import run_tool
from zkmargin.units import SNARK_SCALAR_FIELD, Balance, Price, Size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
P = SNARK_SCALAR_FIELD


def account_inputs(circuit: str, usdc: int) -> tuple[dict[str, Any], bool]:
    """Circuit inputs of an account with `usdc` of collateral, and the model's verdict."""
    data = load_market_data(EXAMPLES / "markets.json")
    legs = [Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8))]
    if circuit == "cross":
        legs.append(Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)))
    account = new_account(0x5EED, {"USDC": Balance(usdc * 10**18)}, tuple(legs))
    enc = encode(account, data, circuit=circuit, mode=Mode.MAINTENANCE, binding=Binding())
    return enc.inputs, evaluate(account, data, Mode.MAINTENANCE).solvent


def withdrawal_inputs(circuit: str, usdc: int) -> tuple[dict[str, Any], bool, bool]:
    """Circuit inputs of a withdrawal leaving `usdc` of collateral, from an account whose
    positions are all in profit; the model's verdict with and without the gain."""
    data = load_market_data(EXAMPLES / "markets.json")  # ETH 1,900, BTC 60,000
    legs = [Position("ETH-USD", True, Size(5 * 10**8), Price(1500 * 10**8))]  # +2,000
    if circuit == "cross":
        legs.append(Position("BTC-USD", False, Size(10**7), Price(61000 * 10**8)))  # +100
    account = new_account(0x5EED, {"USDC": Balance(usdc * 10**18)}, tuple(legs))
    enc = encode(account, data, circuit=circuit, mode=Mode.WITHDRAWAL, binding=Binding())
    assert enc.statement.withdrawal
    return (
        enc.inputs,
        evaluate(account, data, Mode.WITHDRAWAL).solvent,
        evaluate(account, data, Mode.INITIAL).solvent,
    )


@pytest.fixture(scope="module", params=["isolated", "cross"])
def setting(request: pytest.FixtureRequest, manifest: Any) -> dict[str, Any]:
    circuit = request.param
    r1cs, sym = real_circuit(circuit)
    honest = build_variant(circuit, assertless=True, flags=("--O0",), outputs=("--wasm",))
    insolvent_inputs, solvent = account_inputs(circuit, usdc=100)
    assert not solvent
    solvent_inputs, solvent = account_inputs(circuit, usdc=5000)
    assert solvent
    values = honest.witness_by_name(insolvent_inputs)
    return {
        "circuit": circuit,
        "r1cs": r1cs,
        "sym": sym,
        "names": read_sym(sym),
        "values": values,  # every signal of the honest insolvent witness, by name
        "insolvent": on_wires(values, sym, r1cs),
        "solvent": on_wires(honest.witness_by_name(solvent_inputs), sym, r1cs),
    }


@pytest.fixture(scope="module", params=["isolated", "cross"])
def withdrawal_setting(request: pytest.FixtureRequest, manifest: Any) -> dict[str, Any]:
    """A withdrawal of an account solvent only if its unrealized gain counted."""
    circuit = request.param
    r1cs, sym = real_circuit(circuit)
    honest = build_variant(circuit, assertless=True, flags=("--O0",), outputs=("--wasm",))
    insolvent_inputs, solvent, with_gain = withdrawal_inputs(circuit, usdc=100)
    assert not solvent and with_gain
    solvent_inputs, solvent, _ = withdrawal_inputs(circuit, usdc=5000)
    assert solvent
    values = honest.witness_by_name(insolvent_inputs)
    assert values["main.withdrawal"] == 1 and values["main.withheld"] > 0
    return {
        "circuit": circuit,
        "r1cs": r1cs,
        "sym": sym,
        "names": read_sym(sym),
        "values": values,
        "insolvent": on_wires(values, sym, r1cs),
        "solvent": on_wires(honest.witness_by_name(solvent_inputs), sym, r1cs),
    }


def wires_named(names: dict[str, int], pattern: str) -> list[int]:
    regex = re.compile(pattern)
    found = sorted({wire for name, wire in names.items() if regex.search(name) and wire > 0})
    assert found, f"no signal matches {pattern}"
    return found


def constraint_signals(r1cs: R1cs, names: dict[str, int], index: int) -> set[str]:
    """Names of the signals constraint `index` touches (to say which check rejects)."""
    by_wire: dict[int, str] = {}
    for name, wire in names.items():
        by_wire.setdefault(wire, name)
    wires = set()
    for lc in (r1cs.a, r1cs.b, r1cs.c):
        wires |= {int(w) for w, c in zip(lc.wire, lc.constraint, strict=True) if c == index}
    return {by_wire.get(w, f"wire{w}") for w in wires}


def test_assertless_build_reproduces_honest_witnesses(setting: dict[str, Any]) -> None:
    """Sanity of the method: the mapped honest witness of a solvent account satisfies
    every constraint of the real circuit."""
    assert setting["r1cs"].violated(setting["solvent"]) == []


def test_honest_insolvent_witness_breaks_only_the_claim(setting: dict[str, Any]) -> None:
    r1cs, names = setting["r1cs"], setting["names"]
    broken = r1cs.violated(setting["insolvent"])
    assert broken
    # every broken constraint is the claim's range check (it involves the slack bits;
    # --O2 folds lhs and rhs into it, so it also names the PnL and collateral wires)
    for index in broken:
        assert any(".claim." in name for name in constraint_signals(r1cs, names, index)), index


def _bits_of(value: int, count: int) -> list[int]:
    return [(value >> i) & 1 for i in range(count)]


TamperFn = Callable[[list[int], dict[str, int], dict[str, int]], list[int]]


def _set(pattern: str, value: Callable[[int, int], int]) -> TamperFn:
    """Set every wire whose name matches `pattern` to value(old, position)."""

    def tamper(witness: list[int], names: dict[str, int], _values: dict[str, int]) -> list[int]:
        out = list(witness)
        for k, wire in enumerate(wires_named(names, pattern)):
            out[wire] = value(out[wire], k) % P
        return out

    return tamper


SLACK_BITS = r"\.claim\.slack\..*\.out\["


def _write_slack(out: list[int], names: dict[str, int], slack: int) -> None:
    bits = wires_named(names, SLACK_BITS)
    for wire, bit in zip(bits, _bits_of(slack % P, len(bits)), strict=True):
        out[wire] = bit


def _slack_bits_offset(
    witness: list[int], names: dict[str, int], values: dict[str, int]
) -> list[int]:
    """Write into the claim's bits lhs - rhs + 2^(B-1) (a comparator-style offset that
    makes a small negative slack look positive)."""
    out = list(witness)
    count = len(wires_named(names, SLACK_BITS))
    _write_slack(out, names, values["main.claim.lhs"] - values["main.claim.rhs"] + 2 ** (count - 1))
    return out


def _inflate_gain(witness: list[int], names: dict[str, int], values: dict[str, int]) -> list[int]:
    """Raise gain[0] until lhs covers rhs and write the matching slack bits, so that
    the claim's own range check holds and only gain[0]'s definition can object.

    loss = notional + cost - gain is linear, so --O2 folds it into the claim: raising
    gain by x raises lhs by 1e14*x and lowers rhs by 1e14*x."""
    out = list(witness)
    deficit = values["main.claim.rhs"] - values["main.claim.lhs"]
    extra = -(-deficit // (2 * 10**14))
    out[names["main.gain[0]"]] = (out[names["main.gain[0]"]] + extra) % P
    slack = values["main.claim.lhs"] - values["main.claim.rhs"] + 2 * extra * 10**14
    _write_slack(out, names, slack)
    return out


def _shrink_position(
    witness: list[int], names: dict[str, int], _values: dict[str, int]
) -> list[int]:
    """Prove a smaller position than the committed one (size 0): the PnL and requirement
    vanish, but the commitment no longer opens."""
    out = list(witness)
    for name in (
        "main.size[0]",
        "main.notional[0]",
        "main.cost[0]",
        "main.gain[0]",
        "main.loss[0]",
        "main.requirement[0]",
    ):
        if name in names:
            out[names[name]] = 0
    return out


TAMPERS: dict[str, TamperFn] = {
    # comparator / zero-test outputs
    "IsZero outputs flipped": _set(r"rateIsZero\[\d+\]\.out$", lambda old, _: 1 - old),
    # range-check bits of the claim
    "claim bits all one": _set(SLACK_BITS, lambda _o, _k: 1),
    "claim bits all zero": _set(SLACK_BITS, lambda _o, _k: 0),
    "claim bits = offset slack": _slack_bits_offset,
    # PnL parts
    "gain inflated to cover the deficit": _inflate_gain,
    "cost zeroed": _set(r"^main\.cost\[0\]$", lambda _o, _k: 0),
    "requirement zeroed": _set(r"^main\.requirement\[\d+\]$", lambda _o, _k: 0),
    "collateral value inflated": _set(r"^main\.collateralValue\[0\]$", lambda old, _k: old * 1000),
    # the commitment
    "position shrunk under the same commitment": _shrink_position,
    # (the hash output itself is folded into the public commitment by --O2: change the
    # first internal Poseidon signal instead)
    "commitment hash internals changed": _set(
        r"^main\.hash\.", lambda old, k: old + 1 if k == 0 else old
    ),
    # <-- targets
    "OneHot hint moved": _set(r"marketSel\[0\]\.out\[0\]$", lambda old, _k: 1 - old),
    "non-zero inverse hint zeroed": _set(r"priceNonZero\[0\]\.inv$", lambda _o, _k: 0),
    "IsZero inverse hint zeroed": _set(r"rateIsZero\[0\]\..*inv$", lambda _o, _k: 0),
    "size bits hint flipped": _set(r"sizeBits\[0\]\..*\.out\[0\]$", lambda old, _k: 1 - old),
}


# isolated has one market slot: its one-hot selector is the constant 1 and --O2 removes it
NOT_IN = {"OneHot hint moved": {"isolated"}}


def _withhold_nothing(
    witness: list[int], names: dict[str, int], values: dict[str, int], *, profits: bool
) -> list[int]:
    """Set `withheld` (and with `profits` every profit[i]) to 0 and write the slack bits
    of the claim the gain then satisfies, so that only the definitions can object."""
    out = list(witness)
    out[names["main.withheld"]] = 0
    if profits:
        for wire in wires_named(names, r"^main\.profit\[\d+\]$"):
            out[wire] = 0
    withheld = values["main.withheld"]
    _write_slack(
        out, names, values["main.claim.lhs"] - values["main.claim.rhs"] + 10**14 * withheld
    )
    return out


def _prices_moved_against(
    witness: list[int], names: dict[str, int], values: dict[str, int]
) -> list[int]:
    """Flip every position's price comparison (entry < P) so that no position looks in
    profit: the comparison's output, the side product, the profits and the withheld sum
    all follow, and the claim's bits are rewritten; only the comparison's own bit
    decomposition (entry + 2^64 - P) can object."""
    out = _withhold_nothing(witness, names, values, profits=True)
    i = 0
    while f"main.side[{i}]" in values:
        up = 1 - values[f"main.priceUp[{i}].out"]
        for name, value in (
            (f"main.priceUp[{i}].n2b.out[64]", 1 - up),
            (f"main.priceUp[{i}].out", up),
            (f"main.sideUp[{i}]", values[f"main.side[{i}]"] * up),
        ):
            if name in names:
                out[names[name]] = value
        i += 1
    return out


def _flag_bit_cleared(
    witness: list[int], names: dict[str, int], values: dict[str, int]
) -> list[int]:
    """Clear the withdrawal flag's bit inside the circuit while the public params word
    keeps it: withheld follows (0) and the claim's bits are rewritten."""
    out = _withhold_nothing(witness, names, values, profits=False)
    width = 1 + max(
        int(m[1])
        for name in values
        if (m := re.fullmatch(r"main\.params\.bits\.out\[(\d+)\]", name))
    )
    flag = f"main.params.bits.out[{width - 14}]"  # the last 14-bit field's low bit
    assert values[flag] == 1 and values["main.withdrawal"] == 1
    out[names[flag]] = 0
    if "main.withdrawal" in names:
        out[names["main.withdrawal"]] = 0
    return out


# label -> (tamper, a signal of the definition that must object). --O2 substitutes the
# params word's linear unpacking into the rate/haircut bounds, so the flag's bit is
# caught by a constraint that names those.
WITHDRAWAL_TAMPERS: dict[str, tuple[TamperFn, str]] = {
    "withheld zeroed": (
        lambda w, n, v: _withhold_nothing(w, n, v, profits=False),
        r"^main\.withheld$",
    ),
    "profits and withheld zeroed": (
        lambda w, n, v: _withhold_nothing(w, n, v, profits=True),
        r"^main\.profit\[",
    ),
    "price comparisons flipped": (_prices_moved_against, r"^main\.priceUp\[\d+\]\.n2b\."),
    "withdrawal flag bit cleared under the public word": (
        _flag_bit_cleared,
        r"^main\.(params|bpsBound\[\d+\])\.",
    ),
}


def test_withdrawal_assertless_build_reproduces_honest_witnesses(
    withdrawal_setting: dict[str, Any],
) -> None:
    assert withdrawal_setting["r1cs"].violated(withdrawal_setting["solvent"]) == []


def test_withdrawal_honest_insolvent_witness_breaks_only_the_claim(
    withdrawal_setting: dict[str, Any],
) -> None:
    """Solvent if the gain counted, not under the withdrawal rule: the honest witness
    breaks the claim and nothing else."""
    r1cs, names = withdrawal_setting["r1cs"], withdrawal_setting["names"]
    broken = r1cs.violated(withdrawal_setting["insolvent"])
    assert broken
    for index in broken:
        assert any(".claim." in name for name in constraint_signals(r1cs, names, index)), index


@pytest.mark.parametrize("label", sorted(WITHDRAWAL_TAMPERS))
def test_tampered_withdrawal_witness_is_rejected(
    withdrawal_setting: dict[str, Any], label: str
) -> None:
    """Each attempt to count the gain anyway satisfies the claim's own range check (its
    bits are rewritten) and breaks a definition of the new signals instead."""
    r1cs, names = withdrawal_setting["r1cs"], withdrawal_setting["names"]
    tamper, objector = WITHDRAWAL_TAMPERS[label]
    tampered = tamper(withdrawal_setting["insolvent"], names, withdrawal_setting["values"])
    assert tampered != withdrawal_setting["insolvent"], "the tamper changed nothing"
    broken = r1cs.violated(tampered)
    assert broken, f"{label}: the constraints accept a withdrawal against the gain"
    touched = set().union(*(constraint_signals(r1cs, names, i) for i in broken))
    assert not any(".claim.slack" in name for name in touched), touched
    assert any(re.search(objector, name) for name in touched), sorted(touched)


@pytest.mark.parametrize("label", sorted(TAMPERS))
def test_tampered_insolvent_witness_is_rejected(setting: dict[str, Any], label: str) -> None:
    r1cs, names = setting["r1cs"], setting["names"]
    if setting["circuit"] in NOT_IN.get(label, set()):
        assert not any("marketSel" in name for name in names)  # nothing to tamper there
        return
    tampered = TAMPERS[label](setting["insolvent"], names, setting["values"])
    assert tampered != setting["insolvent"], "the tamper changed nothing"
    broken = r1cs.violated(tampered)
    assert broken, f"{label}: the constraints accept an insolvent account"
    if label == "gain inflated to cover the deficit":
        # the claim itself is satisfied: what rejects it is gain's definition
        touched = set().union(*(constraint_signals(r1cs, names, i) for i in broken))
        assert not any(".claim.slack" in name for name in touched), touched
    # record which checks reject it, for the audit report
    rejected_by = sorted(set().union(*(constraint_signals(r1cs, names, i) for i in broken[:3])))
    assert rejected_by


def test_tampered_witness_proof_fails_verification(
    setting: dict[str, Any], prover: Prover, tmp_path: Path
) -> None:
    """snarkjs proves whatever witness it is given (it does not check it); the proof of
    the insolvent account's witness then fails verification, in Python and in snarkjs."""
    circuit = setting["circuit"]
    art = prover.manifest.circuit(circuit)
    tampered = setting["insolvent"]  # the honest witness of an insolvent account
    proof, public = prove_any_witness(art.zkey, tampered, tmp_path)
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    (tmp_path / "public.json").write_text(json.dumps([str(x) for x in public]))
    assert not verify(VerifyingKey.load(art.vkey), Proof.from_json(proof), public)
    snark = run_tool(
        "snarkjs",
        ["groth16", "verify", art.vkey, tmp_path / "public.json", tmp_path / "proof.json"],
        timeout=120,
        check=False,
    )
    assert snark.returncode == 1


def test_every_hint_is_found() -> None:
    labels = [h.label for h in find_hints()]
    assert len(labels) == 4, labels  # OneHot, AssertNonZero, Num2Bits, IsZero
    assert any("select.circom" in h for h in labels) and any("range.circom" in h for h in labels)


MUTANTS = [(h, r) for h in find_hints() for r in REPLACEMENTS]


def _mutant_id(case: tuple[Hint, str]) -> str:
    hint, replacement = case
    return f"{Path(hint.path).name}:{hint.line}-{replacement}"


def margin_insolvent_inputs(circuit: str) -> list[dict[str, Any]]:
    """An account one step short of margin, and a withdrawal only its (uncounted) gain
    would cover."""
    inputs, solvent = account_inputs(circuit, usdc=100)
    assert not solvent
    withdrawal, solvent, with_gain = withdrawal_inputs(circuit, usdc=100)
    assert not solvent and with_gain
    return [inputs, withdrawal]


def portfolio_insolvent_inputs() -> list[dict[str, Any]]:
    """docs/portfolio.md's boundary book (perps and options on three markets, a Cholesky
    factor with a negative entry, WETH) one unit of 1e-18 USDC below its boundary, in each
    mode (maintenance, initial, withdrawal); and the same book entered at its marks, funded
    for initial margin with room to spare, as an opening proof with one option entry one
    unit of 1e-8 off its mark (only the opening constraint refuses it)."""
    from dataclasses import replace

    from test_portfolio_circuit import boundary_book, inputs_for, recommit
    from test_portfolio_model import TOKEN, min_usdc, with_usdc

    from zkmargin.portfolio import PortfolioMode, position_mark
    from zkmargin.riskfile import DEFAULT_SHAPE

    account, risk = boundary_book()
    cases = []
    for mode in PortfolioMode:
        need = min_usdc(account, risk, mode)
        assert need is not None and need > 0
        cases.append(inputs_for(with_usdc(account, need - 1), risk, mode))
    at_marks = replace(
        account,
        positions=tuple(replace(p, entry=position_mark(p, risk)) for p in account.positions),
    )
    need = min_usdc(at_marks, risk, PortfolioMode.INITIAL)
    assert need is not None
    opening = inputs_for(
        with_usdc(at_marks, need + 1000 * TOKEN), risk, PortfolioMode.INITIAL, opening=True
    )
    call = 3  # boundary_book's short call
    assert opening["instrument"][call] >= DEFAULT_SHAPE.markets and opening["size"][call] > 0
    opening["entry"][call] += 1
    cases.append(recommit(opening))
    return cases


def check_mutant(circuit: str, hint: Hint, replacement: str) -> None:
    r1cs, sym = real_circuit(circuit)
    original = build_variant(circuit, outputs=("--r1cs",))
    mutant = build_variant(circuit, hint=hint, replacement=replacement, outputs=("--r1cs",))
    assert original.r1cs is not None and mutant.r1cs is not None
    assert mutant.r1cs.read_bytes() == original.r1cs.read_bytes(), "a hint changed the R1CS"
    witness_build = build_variant(
        circuit,
        hint=hint,
        replacement=replacement,
        assertless=True,
        flags=("--O0",),
        outputs=("--wasm",),
    )
    if circuit == "portfolio":
        cases = portfolio_insolvent_inputs()
    else:
        cases = margin_insolvent_inputs(circuit)
    for case in cases:
        try:
            values = witness_build.witness_by_name(case)
        except Exception:  # the mutant cannot even compute a witness (e.g. 1/0): killed
            continue
        assert r1cs.violated(on_wires(values, sym, r1cs)), "mutant survived"


@pytest.mark.parametrize("case", MUTANTS, ids=_mutant_id)
def test_hint_mutant_is_killed_isolated(case: tuple[Hint, str], manifest: Any) -> None:
    check_mutant("isolated", *case)


@pytest.mark.audit
@pytest.mark.parametrize("case", MUTANTS, ids=_mutant_id)
def test_hint_mutant_is_killed_cross(case: tuple[Hint, str], manifest: Any) -> None:
    check_mutant("cross", *case)


@pytest.mark.audit
@pytest.mark.parametrize("case", MUTANTS, ids=_mutant_id)
def test_hint_mutant_is_killed_portfolio(case: tuple[Hint, str], manifest: Any) -> None:
    """The same sweep over the portfolio circuit (it uses Num2Bits, OneHot and
    AssertNonZero from the same files): no mutant changes the R1CS, and no mutant's
    witness of an account one unit short of portfolio margin satisfies it."""
    check_mutant("portfolio", *case)
