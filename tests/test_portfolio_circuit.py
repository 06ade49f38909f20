"""``PortfolioMargin(8, 4, 2, 8)`` accepts exactly the accounts the reference model accepts.

The circuit (circuits/portfolio.circom) is compiled once per content hash by
tests/soundness.py's ``build_variant`` (cached under build/soundness/). "Accepts" means
circom's witness program computed a witness with every ``===`` holding; a constraint-level
check maps the honest witness of an insolvent account (from an assertless build) onto the
real R1CS and requires a violated constraint.

Books are random perps and options over up to 4 markets with Cholesky factors holding
negative entries, at small and at extreme values (sizes and prices near 2^64, balances
near 2^96), funded in USDC to the model's exact boundary ± 1 unit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from soundness import Build, build_variant, on_wires
from test_portfolio_model import (
    ONE,
    TOKEN,
    WETH,
    book,
    make_risk,
    min_usdc,
    option_series,
    perp,
    with_usdc,
)
from tooling.constraints import R1cs, load_r1cs

from prover.witness import WitnessCalculator
from zkmargin.encoding import Binding
from zkmargin.errors import ProverError
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    PortfolioPosition,
    evaluate,
)
from zkmargin.portfolio_encoding import (
    ENTRY_SHIFT,
    PORTFOLIO_DOMAIN_TAG,
    SIDE_SHIFT,
    SIZE_SHIFT,
    chunked_hash,
    encode_portfolio,
)
from zkmargin.poseidon import poseidon
from zkmargin.riskfile import DEFAULT_SHAPE, RiskFile, RiskWords
from zkmargin.units import SNARK_SCALAR_FIELD, Price, Size

P = SNARK_SCALAR_FIELD
CIRCUIT = "portfolio"
BINDING = Binding(chain_id=1, engine=0xE0, nonce=7)


@pytest.fixture(scope="module")
def build() -> Build:
    return build_variant(CIRCUIT, outputs=("--r1cs", "--wasm"))


@pytest.fixture(scope="module")
def calc(build: Build) -> WitnessCalculator:
    assert build.wasm is not None
    return WitnessCalculator(build.wasm, sym_path=build.sym)


def accepts(calc: WitnessCalculator, inputs: dict[str, Any]) -> bool:
    try:
        calc.calculate(inputs)
    except ProverError:
        return False
    return True


def inputs_for(
    account: PortfolioAccount, risk: RiskFile, mode: PortfolioMode, opening: bool = False
) -> dict[str, Any]:
    return encode_portfolio(account, risk, mode=mode, binding=BINDING, opening=opening).inputs


# ================================================================ random books


@st.composite
def books(draw: st.DrawFn) -> tuple[PortfolioAccount, RiskFile]:
    extreme = draw(st.booleans())
    top = 64 if extreme else 40
    k = draw(st.integers(1, 4))
    prices = draw(st.lists(st.integers(1, 2**top - 1), min_size=k, max_size=k))
    cholesky = [
        [draw(st.integers(-10000, 10000)) for _ in range(r)] + [draw(st.integers(1, 10000))]
        for r in range(k)
    ]
    lam_mm = draw(st.integers(1, 65535))
    lam_im = draw(st.integers(lam_mm, 65535))
    options = {
        f"O{j}": option_series(
            f"M{draw(st.integers(0, k - 1))}",
            draw(st.integers(-10000, 10000)),
            draw(st.integers(0, 2**top - 1)),
            draw(st.integers(0, 2**top - 1)),
            draw(st.integers(0, 2**top - 1)),
        )
        for j in range(draw(st.integers(0, 8)))
    }
    floors = draw(st.lists(st.integers(0, 10000), min_size=k, max_size=k))
    risk = make_risk(
        prices,
        cholesky,
        floors=floors,
        lambdas=(lam_mm, lam_im),
        options=options,
        weth_haircut=draw(st.integers(0, 10000)),
    )
    instruments = [(f"M{i}", False) for i in range(k)] + [(o, True) for o in options]
    positions = []
    for _ in range(draw(st.integers(0, 8))):
        name, option = draw(st.sampled_from(instruments))
        positions.append(
            PortfolioPosition(
                instrument=name,
                option=option,
                long=draw(st.booleans()),
                size=Size(draw(st.integers(0, 2**top - 1))),
                entry=Price(draw(st.integers(0 if option else 1, 2**top - 1))),
            )
        )
    weth = draw(st.integers(0, 2**96 - 1 if extreme else 2**70))
    return book(*positions, WETH=weth), risk


@pytest.mark.slow  # 250 witnesses of the 13k-constraint circuit: in `make test`, not test-fast
@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=books(),
    mode=st.sampled_from(list(PortfolioMode)),
    slack=st.one_of(st.sampled_from([-1, 0, 1]), st.integers(-(2**80), 2**80)),
)
def test_circuit_agrees_with_model(
    calc: WitnessCalculator,
    case: tuple[PortfolioAccount, RiskFile],
    mode: PortfolioMode,
    slack: int,
) -> None:
    account, risk = case
    need = min_usdc(account, risk, mode)
    if need is None:  # no USDC balance suffices: still compare at some balance
        usdc = 2**96 - 1 if slack < 0 else min(abs(slack), 2**96 - 1)
    else:
        usdc = min(max(need + slack, 0), 2**96 - 1)
    funded = with_usdc(account, usdc)
    solvent = evaluate(funded, risk, mode).solvent
    event("solvent" if solvent else "refused")
    assert accepts(calc, inputs_for(funded, risk, mode)) is solvent


# ================================================================ the exact boundary


def boundary_book() -> tuple[PortfolioAccount, RiskFile]:
    options = {
        "C": option_series("M0", 2710, 41 * ONE, 9 * ONE, 6 * ONE),
        "P": option_series("M1", -2850, 1210 * ONE, 310 * ONE, 145 * ONE),
    }
    risk = make_risk(
        [1900 * ONE, 60000 * ONE, 3 * ONE],
        [[900], [640, 480], [-300, 200, 1200]],
        floors=[50, 40, 100],
        options=options,
    )
    account = book(
        perp("M0", True, 2 * ONE, 1800 * ONE),
        perp("M1", False, ONE // 10, 61000 * ONE),
        perp("M2", True, 5000 * ONE, 3 * ONE),
        PortfolioPosition("C", True, False, Size(5 * ONE), Price(40 * ONE)),
        PortfolioPosition("P", True, True, Size(ONE // 10), Price(1300 * ONE)),
        WETH=TOKEN,
    )
    return account, risk


@pytest.mark.parametrize("mode", list(PortfolioMode))
def test_exact_boundary(calc: WitnessCalculator, mode: PortfolioMode) -> None:
    """The smallest USDC balance the model accepts is accepted; one unit less refused."""
    account, risk = boundary_book()
    need = min_usdc(account, risk, mode)
    assert need is not None and need > 0
    assert accepts(calc, inputs_for(with_usdc(account, need), risk, mode))
    assert not accepts(calc, inputs_for(with_usdc(account, need - 1), risk, mode))


def test_risk_free_book_boundary_is_d_zero(calc: WitnessCalculator) -> None:
    """No exposure: the claim is D >= 0 exactly (floor only), to the last unit."""
    risk = make_risk([2000 * ONE], [[900]], floors=[100])
    # long and short the same size: x = 0; F = 2·q·P·1% = 40; PnL = 0
    account = book(perp("M0", True, ONE, 2000 * ONE), perp("M0", False, ONE, 2000 * ONE))
    mode = PortfolioMode.MAINTENANCE
    need = min_usdc(account, risk, mode)
    assert need == 40 * TOKEN
    assert accepts(calc, inputs_for(with_usdc(account, need), risk, mode))
    assert not accepts(calc, inputs_for(with_usdc(account, need - 1), risk, mode))


# ================================================================ wrap-around attempts


MAX64 = 2**64 - 1


def maximal_book() -> tuple[PortfolioAccount, RiskFile]:
    """Maximal exposures of both signs, negative Cholesky entries, maximal λ and balances."""
    risk = make_risk(
        [MAX64, MAX64, MAX64 - 1],
        [[10000], [-10000, 1], [10000, -10000, 1]],
        lambdas=(65535, 65535),
        floors=[0, 0, 0],
    )
    account = book(
        perp("M0", True, MAX64, MAX64),
        perp("M1", True, MAX64, MAX64),
        perp("M2", False, MAX64, MAX64 - 1),
        WETH=2**96 - 1,
    )
    return with_usdc(account, 2**96 - 1), risk


def cancelling_book(variant: str) -> tuple[PortfolioAccount, RiskFile]:
    """Exposures of ~2^140 that cancel exactly in y_0 and y_1 (through opposite sides, or
    through negative Cholesky entries): only y_2 = x_2 remains."""
    q = 2**30
    if variant == "opposite sides":
        cholesky = [[10000], [10000, 1], [10000, 10000, 1]]
        legs = [(True, 9999 * q), (False, 10000 * q), (True, q)]
    else:
        cholesky = [[10000], [-10000, 1], [10000, -10000, 1]]
        legs = [(True, 9999 * q), (True, 10000 * q), (True, q)]
    risk = make_risk([MAX64] * 3, cholesky, lambdas=(65535, 65535), floors=[0, 0, 0])
    account = book(*(perp(f"M{k}", long, size, MAX64) for k, (long, size) in enumerate(legs)))
    return account, risk


@pytest.mark.parametrize("mode", list(PortfolioMode))
def test_huge_uncovered_exposures_refused(calc: WitnessCalculator, mode: PortfolioMode) -> None:
    """No balance covers the maximal book, and the circuit refuses even the largest one."""
    account, risk = maximal_book()
    assert not evaluate(account, risk, mode).solvent  # |x| ~ 2^128 * 1e10
    assert min_usdc(account, risk, mode) is None
    assert not accepts(calc, inputs_for(account, risk, mode))


@pytest.mark.parametrize("mode", list(PortfolioMode))
@pytest.mark.parametrize("variant", ["opposite sides", "negative cholesky"])
def test_huge_cancelling_exposures(
    calc: WitnessCalculator, mode: PortfolioMode, variant: str
) -> None:
    """The cancelling books agree with the model to the last unit, so no wrap-around helps
    or hurts."""
    account, risk = cancelling_book(variant)
    report = evaluate(account, risk, mode)
    assert report.rotated[0] == report.rotated[1] == 0
    assert report.rotated[2] == report.exposures["M2"] > 2**126
    assert max(abs(x) for x in report.exposures.values()) > 2**139
    need = min_usdc(account, risk, mode)
    assert need is not None and need > 0
    assert accepts(calc, inputs_for(with_usdc(account, need), risk, mode))
    assert not accepts(calc, inputs_for(with_usdc(account, need - 1), risk, mode))


def recommit(inputs: dict[str, Any]) -> dict[str, Any]:
    """Recompute both commitments from (possibly tampered) private inputs, mod p, so that
    only the circuit's range checks stand between them and a witness."""
    words = RiskWords(
        params=inputs["riskParams"],
        cholesky=inputs["riskCholesky"],
        option_values=tuple(inputs["optionValues"]),
        option_params=tuple(inputs["optionParams"]),
        option_keys=tuple(inputs["optionKeys"]),
    )
    slots = [
        (i + s * 2**SIDE_SHIFT + q * 2**SIZE_SHIFT + e * 2**ENTRY_SHIFT) % P
        for i, s, q, e in zip(
            inputs["instrument"], inputs["side"], inputs["size"], inputs["entry"], strict=True
        )
    ]
    account = inputs["accountNonce"] % 2**160
    return {
        **inputs,
        "riskCommitment": words.commitment(DEFAULT_SHAPE),
        "commitment": poseidon(
            [PORTFOLIO_DOMAIN_TAG, account, chunked_hash(slots), inputs["salt"]]
        ),
    }


def tamper_base(calc: WitnessCalculator) -> dict[str, Any]:
    """A short perp and a short call, solvent with little room to spare."""
    risk = make_risk(
        [2000 * ONE, 100 * ONE],
        [[900], [-450, 700]],
        options={"C": option_series("M0", 5000, 50 * ONE, 5 * ONE, 3 * ONE)},
    )
    account = book(
        perp("M0", False, ONE, 2000 * ONE),
        PortfolioPosition("C", True, False, Size(ONE), Price(50 * ONE)),
    )
    mode = PortfolioMode.MAINTENANCE
    need = min_usdc(account, risk, mode)
    assert need is not None
    funded = with_usdc(account, need)
    inputs = inputs_for(funded, risk, mode)
    assert accepts(calc, inputs)
    assert accepts(calc, recommit(inputs))  # recommit is faithful
    return inputs


def _set(inputs: dict[str, Any], key: str, index: int | None, value: int) -> dict[str, Any]:
    out = dict(inputs)
    if index is None:
        out[key] = value % P
    else:
        out[key] = list(inputs[key])
        out[key][index] = value % P
    return out


def _field(word: int, index: int, value: int, width: int = 16) -> int:
    """``word`` with its ``index``-th field of ``width`` bits set to ``value`` (may overflow)."""
    shift: int = index * width
    mask: int = (2**width - 1) << shift
    return (word & ~mask) + value * (1 << shift)


SOURCE = Path(__file__).resolve().parent.parent / "circuits" / "lib" / "portfolio_margin.circom"
_FRAME = re.compile(r"Error in template (\w+?)_\d+ line: (\d+)")


def rejection(calc: WitnessCalculator, inputs: dict[str, Any]) -> tuple[str, str]:
    """Which check refuses ``inputs``: the innermost template that failed, and the
    statement of ``PortfolioMargin`` it was reached from (its source line, so the test
    names the check and survives line shifts)."""
    try:
        calc.calculate(inputs)
    except ProverError as exc:
        frames = _FRAME.findall(str(exc))
        assert frames and frames[-1][0] == "PortfolioMargin", str(exc)
        line = SOURCE.read_text().splitlines()[int(frames[-1][1]) - 1].strip()
        return frames[0][0], line
    raise AssertionError("accepted")


TAMPERS = {
    # label -> (tamper, the template that fails, the PortfolioMargin statement it serves)
    # the short perp turned into a negative-size long: a gain instead of a loss
    "negative size": (lambda i: _set(_set(i, "side", 0, 1), "size", 0, -ONE),
                      "Num2Bits", "sizeBits[i].in <== size[i];"),
    "size 2^64": (lambda i: _set(i, "size", 0, 2**64), "Num2Bits", "sizeBits[i].in <== size[i];"),
    "negative entry": (lambda i: _set(i, "entry", 0, -1),
                       "Num2Bits", "entryBits[i].in <== entry[i];"),
    "side 2": (lambda i: _set(i, "side", 0, 2), "AssertBool", "sideIsBit[i].in <== side[i];"),
    "side -1": (lambda i: _set(i, "side", 0, -1), "AssertBool", "sideIsBit[i].in <== side[i];"),
    "instrument K+J": (lambda i: _set(i, "instrument", 0, 12),
                       "OneHot", "instSel[i].index <== instrument[i];"),
    "instrument -1": (lambda i: _set(i, "instrument", 0, -1),
                      "OneHot", "instSel[i].index <== instrument[i];"),
    "unlisted option slot": (lambda i: _set(i, "instrument", 1, 5),
                             "PortfolioMargin", "size[i] * (1 - listedSel[i].out) === 0;"),
    "unlisted market slot": (lambda i: _set(i, "instrument", 0, 3),
                             "PortfolioMargin", "size[i] * (1 - listedSel[i].out) === 0;"),
    # L_10 committed as p - 450 instead of 10000 - 450 (skipping the offset)
    "negative L raw": (lambda i: _set(i, "riskCholesky", None, _field(i["riskCholesky"], 1, -450)),
                       "Num2Bits", "cholBound[e].in <== chol.out[e];"),
    "L above 20000": (lambda i: _set(i, "riskCholesky", None, _field(i["riskCholesky"], 0, 20001)),
                      "Num2Bits", "cholBound[e].in <== chol.out[e];"),
    "delta above 1": (lambda i: _set(i, "optionParams", 0, _field(i["optionParams"][0], 0, 10001)),
                      "Num2Bits", "deltaBound[j].in <== deltaMag[j];"),
    "delta sign 2": (lambda i: _set(i, "optionParams", 0, _field(i["optionParams"][0], 1, 2)),
                     "AssertBool", "deltaNegIsBit[j].in <== deltaNeg[j];"),
    "underlying K": (lambda i: _set(i, "optionParams", 0, _field(i["optionParams"][0], 2, 4)),
                     "OneHot", "marketSel[i].index <== perpIndex + underlyingSel[i].out;"),
    "floor above 1": (lambda i: _set(i, "riskParams", None, _field(i["riskParams"], 0, 10001)),
                      "Num2Bits", "floorBound[k].in <== floorBps[k];"),
    "haircut negative": (lambda i: _set(i, "riskParams", None, _field(i["riskParams"], 8, -1)),
                         "Num2Bits", "haircutBound[c].in <== haircut[c];"),
    "risk factor K+1": (lambda i: _set(i, "riskParams", None, _field(i["riskParams"], 10, 5)),
                        "OneHot", "factorSel[c].index <== params.out[2 * K + M + c];"),
    "listed 2": (lambda i: _set(i, "riskParams", None, _field(i["riskParams"], 4, 2)),
                 "AssertBool", "listedMarketIsBit[k].in <== listedMarket[k];"),
    "option values word negative": (lambda i: _set(i, "optionValues", 0, -1),
                                    "Num2Bits", "optValues[j].word <== optionValues[j];"),
    "gamma above 2^64": (lambda i: _set(i, "optionValues", 0, i["optionValues"][0] + 2**192),
                         "Num2Bits", "optValues[j].word <== optionValues[j];"),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(TAMPERS))
def test_tampered_inputs_refused(calc: WitnessCalculator, label: str) -> None:
    tamper, template, statement = TAMPERS[label]
    assert rejection(calc, recommit(tamper(tamper_base(calc)))) == (template, statement)


PUBLIC_TAMPERS = {
    "withdrawal without initial": ("modeWord", 2,
                                   "PortfolioMargin", "withdrawal * (1 - initial) === 0;"),
    "mode 8": ("modeWord", 8, "Num2Bits", "mode.word <== modeWord;"),
    "opening without initial": ("modeWord", 4, "PortfolioMargin",
                                "opening * (1 - initial + withdrawal) === 0;"),
    "opening with withdrawal": ("modeWord", 7, "PortfolioMargin",
                                "opening * (1 - initial + withdrawal) === 0;"),
    "balance word 2^192": ("balanceWords", [2**192],
                           "Num2Bits", "balanceWord[w].word <== balanceWords[w];"),
    "zero price": ("priceWords", None, "AssertNonZero", "priceNonZero[p].in <== price[p];"),
    "other risk commitment": ("riskCommitment", 1,
                              "PortfolioMargin", "riskCommitment === riskHash.out;"),
    "other account": ("accountNonce", 0xA11CF | 7 << 160,
                      "PortfolioMargin", "commitment === hash.out;"),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(PUBLIC_TAMPERS))
def test_tampered_public_inputs_refused(calc: WitnessCalculator, label: str) -> None:
    inputs = tamper_base(calc)
    key, value, template, statement = PUBLIC_TAMPERS[label]
    if value is None:
        value = [inputs["priceWords"][0] & ~(2**64 - 1), inputs["priceWords"][1]]
    assert rejection(calc, {**inputs, key: value}) == (template, statement)


# ================================================================ opening mode

OPENING_CHECK = ("PortfolioMargin", "opening * (value[i] - cost[i]) === 0;")


def opening_base(calc: WitnessCalculator) -> dict[str, Any]:
    """tamper_base's book (a short perp and a short call, both entered at their marks)
    funded for initial margin with 1,000 USDC to spare (so an entry moved off its mark
    still meets the claim) and encoded as an opening proof (modeWord 5)."""
    risk = make_risk(
        [2000 * ONE, 100 * ONE],
        [[900], [-450, 700]],
        options={"C": option_series("M0", 5000, 50 * ONE, 5 * ONE, 3 * ONE)},
    )
    account = book(
        perp("M0", False, ONE, 2000 * ONE),
        PortfolioPosition("C", True, False, Size(ONE), Price(50 * ONE)),
    )
    need = min_usdc(account, risk, PortfolioMode.INITIAL)
    assert need is not None
    funded = with_usdc(account, need + 1000 * TOKEN)
    inputs = inputs_for(funded, risk, PortfolioMode.INITIAL, opening=True)
    assert inputs["modeWord"] == 5
    assert accepts(calc, inputs) and accepts(calc, recommit(inputs))
    return inputs


OPENING_TAMPERS = {
    # label -> slot and new entry: one unit of 1e-8 quote off its mark, either way
    "perp entry above its price": (0, 2000 * ONE + 1),
    "perp entry below its price": (0, 2000 * ONE - 1),
    "option entry above its mark": (1, 50 * ONE + 1),
    "option entry zero (mark 50)": (1, 0),
}


@pytest.mark.parametrize("label", sorted(OPENING_TAMPERS))
def test_opening_entry_off_its_mark_refused(calc: WitnessCalculator, label: str) -> None:
    """An opening proof's entry must equal the mark (P_k for the perp, V_j for the option):
    one unit off is refused by the opening constraint (the commitment recomputed, so
    nothing else stands in the way); the same book as a plain initial proof is accepted."""
    slot, entry = OPENING_TAMPERS[label]
    tampered = recommit(_set(opening_base(calc), "entry", slot, entry))
    assert rejection(calc, tampered) == OPENING_CHECK
    assert accepts(calc, {**tampered, "modeWord": 1})


def test_opening_ignores_empty_slots(calc: WitnessCalculator) -> None:
    """An empty slot (size 0) may carry any entry in an opening proof: q·(mark − entry) = 0."""
    inputs = opening_base(calc)
    assert inputs["size"][2] == 0
    assert accepts(calc, recommit(_set(inputs, "entry", 2, 12345)))


def test_withdrawal_mode_drops_gain(calc: WitnessCalculator) -> None:
    """A book that passes at IM on its unrealized gain fails the withdrawal check."""
    risk = make_risk([2000 * ONE], [[900]])
    winner = book(perp("M0", True, ONE, 1000 * ONE), USDC=100 * TOKEN)
    assert evaluate(winner, risk, PortfolioMode.INITIAL).solvent
    assert not evaluate(winner, risk, PortfolioMode.WITHDRAWAL).solvent
    assert accepts(calc, inputs_for(winner, risk, PortfolioMode.INITIAL))
    assert not accepts(calc, inputs_for(winner, risk, PortfolioMode.WITHDRAWAL))


# ================================================================ constraint level


@pytest.fixture(scope="module")
def r1cs(build: Build) -> R1cs:
    assert build.r1cs is not None
    return load_r1cs(build.r1cs)


@pytest.fixture(scope="module")
def assertless() -> Build:
    return build_variant(CIRCUIT, assertless=True, flags=("--O0",), outputs=("--wasm",))


@pytest.mark.parametrize("mode", list(PortfolioMode))
def test_insolvent_honest_witness_breaks_the_r1cs(
    build: Build, r1cs: R1cs, assertless: Build, mode: PortfolioMode
) -> None:
    """The witness an attacker computes honestly for one unit below the boundary violates
    a constraint of the real (--O2) circuit; at the boundary it satisfies all of them."""
    account, risk = boundary_book()
    need = min_usdc(account, risk, mode)
    assert need is not None
    good = assertless.witness_by_name(inputs_for(with_usdc(account, need), risk, mode))
    assert not r1cs.violated(on_wires(good, build.sym, r1cs))
    bad = assertless.witness_by_name(inputs_for(with_usdc(account, need - 1), risk, mode))
    assert r1cs.violated(on_wires(bad, build.sym, r1cs))


def test_usdc_weth_example(calc: WitnessCalculator) -> None:
    """WETH backing a long ETH position needs more USDC on top than the same value in USDC."""
    risk = make_risk([1900 * ONE], [[900]])
    position = perp("M0", True, 10 * ONE, 1900 * ONE)
    mode = PortfolioMode.INITIAL
    need_weth = min_usdc(book(position, WETH=TOKEN), risk, mode)
    need_plain = min_usdc(book(position), risk, mode)
    assert need_weth is not None and need_plain is not None
    assert need_weth > need_plain - 1900 * TOKEN > 0
    funded = with_usdc(book(position, WETH=TOKEN), need_weth)
    assert accepts(calc, inputs_for(funded, risk, mode))
    assert not accepts(calc, inputs_for(with_usdc(funded, need_weth - 1), risk, mode))
    assert WETH in funded.collateral


SPLICES = {
    # the claim's subtree taken from the boundary account's witness
    "claim": ("main.d", "main.lhs", "main.claim."),
    # every risk term and the claim: only the collateral still says "one unit less"
    "risk and claim": ("main.d", "main.lhs", "main.claim.", "main.z", "main.y", "main.quad"),
    # everything except the public balance word and its unpacking
    "all but the balance word": ("main.",),
}


@pytest.mark.parametrize("label", sorted(SPLICES))
def test_spliced_insolvent_witness_breaks_the_r1cs(
    build: Build, r1cs: R1cs, assertless: Build, label: str
) -> None:
    """Splicing the boundary account's internal values into the witness of the account one
    unit below it (same book, one unit less USDC) still violates a constraint."""
    account, risk = boundary_book()
    mode = PortfolioMode.INITIAL
    need = min_usdc(account, risk, mode)
    assert need is not None
    good = assertless.witness_by_name(inputs_for(with_usdc(account, need), risk, mode))
    bad = assertless.witness_by_name(inputs_for(with_usdc(account, need - 1), risk, mode))
    keep_bad = ("main.balanceWords", "main.balanceWord[")
    spliced = {
        name: good[name]
        if name.startswith(SPLICES[label]) and not name.startswith(keep_bad)
        else value
        for name, value in bad.items()
    }
    assert spliced != bad
    assert r1cs.violated(on_wires(spliced, build.sym, r1cs))


def violated_signals(r1cs: R1cs, build: Build, values: dict[str, int]) -> set[str]:
    """Names of the signals the violated constraints of the real circuit touch (array
    indices dropped: ``main.zHatSq[2]`` is ``main.zHatSq``)."""
    from test_soundness import constraint_signals
    from tooling.wtns_files import read_sym

    names = read_sym(build.sym)
    signals: set[str] = set()
    for index in r1cs.violated(on_wires(values, build.sym, r1cs)):
        signals |= constraint_signals(r1cs, names, index)
    return {_INDICES.sub("", name) for name in signals}


_INDICES = re.compile(r"(\[\d+\])+$")
# D̂² >= Σ ẑ²: the constraint that decomposes its slack lhs − Σ ẑ² in 251 bits (main.claim)
CLAIM_SIGNALS = {"main.lhs", "main.zHatSq"}


@pytest.mark.parametrize(
    "case", ["maximal", "opposite sides, one unit short", "negative cholesky, one unit short"]
)
def test_wrap_around_attempts_break_only_the_claim(
    build: Build, r1cs: R1cs, assertless: Build, case: str
) -> None:
    """At the constraint level: the honest witness (assertless build) of the maximal
    uncovered book, and of each cancelling book one unit below its boundary, violates the
    real R1CS, and the only constraint it breaks is the claim's: no range check or
    wrap-around lets ~2^140 exposures through. At the boundary, nothing is violated."""
    mode = PortfolioMode.MAINTENANCE
    if case == "maximal":
        account, risk = maximal_book()
    else:
        account, risk = cancelling_book(case.split(",")[0])
        need = min_usdc(account, risk, mode)
        assert need is not None
        boundary = assertless.witness_by_name(inputs_for(with_usdc(account, need), risk, mode))
        assert not r1cs.violated(on_wires(boundary, build.sym, r1cs))
        account = with_usdc(account, need - 1)
    values = assertless.witness_by_name(inputs_for(account, risk, mode))
    assert len(r1cs.violated(on_wires(values, build.sym, r1cs))) == 1
    touched = violated_signals(r1cs, build, values)
    assert CLAIM_SIGNALS <= touched
    assert all(n in CLAIM_SIGNALS | {"wire0"} or n.startswith("main.claim.") for n in touched)
