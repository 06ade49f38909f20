"""Portfolio proofs end to end: ``Prover.prove(..., circuit="portfolio")`` on every backend,
the proof file and ``zkmargin verify`` (py_ecc), and ``zkmargin prove --circuit portfolio``
with its exit codes (0 proved, 1 insufficient margin, 2 bad input; nothing written unless
proved) and one line per refusal.

The books are the worked examples of docs/portfolio.md (examples/portfolio/) under the risk
file published from the shipped history (the ``risk_path`` fixture of
tests/test_portfolio_cli.py), at ``--now 2026-12-01T00:00:00Z``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from test_portfolio_cli import BOOKS, NOW_TEXT, book, risk, risk_path, run
from test_portfolio_model import min_usdc, with_usdc

from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.encoding import (
    PORTFOLIO_TEMPLATE,
    Binding,
    circuit_entries,
    circuit_shape,
    circuit_shapes,
    circuit_template,
)
from zkmargin.errors import InputError, InsufficientMargin, ProverError
from zkmargin.jsonio import read_json_file
from zkmargin.model import Account, Mode
from zkmargin.portfolio import PortfolioAccount, PortfolioMode, position_mark
from zkmargin.portfolio_encoding import (
    PORTFOLIO_CIRCUIT,
    PortfolioStatement,
    encode_portfolio,
    portfolio_commitment,
)
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import DEFAULT_SHAPE, RiskFile, parse_time, risk_commitment
from zkmargin.units import Price

__all__ = ["risk", "risk_path"]  # fixtures shared with tests/test_portfolio_cli.py

NOW = parse_time(NOW_TEXT, "now")
BINDING = Binding(chain_id=31337, engine=0xE1, nonce=3)
CALL = "ETH-20261225-1700-C"
PUT = "ETH-20261225-1700-P"


def prove_book(prover: Prover, name: str, risk: RiskFile, mode: Mode) -> ProofBundle:
    return prover.prove(
        book(name, risk), risk, mode=mode, binding=BINDING, circuit=PORTFOLIO_CIRCUIT, now=NOW
    )


# ---------------------------------------------------------------- library, every backend


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["arkworks", "snarkjs-worker", "snarkjs-cli"])
def test_prove_portfolio_on_every_backend(manifest: Any, risk: RiskFile, backend: str) -> None:
    """Each backend proves the covered call (a perp and a short option); the self-check
    passed inside ``prove``, and py_ecc verifies the result independently. arkworks (the
    fast one) in every mode, the snarkjs backends a withdrawal (the mode is a public input
    like any other; this keeps `make test-fast` short)."""
    account = book("covered-call", risk)
    modes = list(Mode) if backend == "arkworks" else [Mode.WITHDRAWAL]
    with Prover(manifest, backend=backend) as prover:
        for mode in modes:
            bundle = prove_book(prover, "covered-call", risk, mode)
            assert bundle.circuit == "portfolio" and bundle.mode is mode
            st = bundle.statement
            assert isinstance(st, PortfolioStatement)
            assert st.mode is PortfolioMode(mode.value)
            assert st.commitment == portfolio_commitment(account, risk)
            assert st.risk_commitment == risk_commitment(risk)
            assert (st.account, st.nonce, st.engine, st.chain_id) == (0xA1, 3, 0xE1, 31337)
            verdict = verify_bundle(bundle, manifest)
            assert verdict.valid, verdict.reason
            assert verdict.reason.startswith(f"portfolio proof verifies ({mode.value}, ")


def test_setup_lists_the_portfolio_circuit_with_the_encoders_shape(manifest: Any) -> None:
    """circuits.json's portfolio entry is the shape the encoder and the statement use, and
    the keys setup made have its 8 public inputs; the rate-based shapes exclude it."""
    entry = circuit_entries()[PORTFOLIO_CIRCUIT]
    assert entry["template"] == PORTFOLIO_TEMPLATE == circuit_template(PORTFOLIO_CIRCUIT)
    shape = DEFAULT_SHAPE
    assert entry["params"] == {
        "N": shape.positions, "K": shape.markets, "M": shape.collateral, "J": shape.options
    }  # fmt: skip
    art = manifest.circuit(PORTFOLIO_CIRCUIT)
    assert (art.constraints, art.n_public) == (13232, 8)
    sol = art.verifier_sol.read_text()
    assert "IC8x" in sol and "IC9x" not in sol  # one point per public input, plus IC0
    assert PORTFOLIO_CIRCUIT not in circuit_shapes()
    with pytest.raises(InputError, match=r"^circuit 'portfolio' is not a rate-based"):
        circuit_shape(PORTFOLIO_CIRCUIT)


def test_statement_round_trips_through_the_signals(risk: RiskFile) -> None:
    word = 5  # modeWord
    cases = [(mode, False) for mode in PortfolioMode] + [(PortfolioMode.INITIAL, True)]
    for mode, opening in cases:
        account = (
            at_marks(book("weth-long-eth", risk), risk) if opening else book("weth-long-eth", risk)
        )
        enc = encode_portfolio(account, risk, mode=mode, binding=BINDING, opening=opening)
        signals = enc.statement.public_signals()
        assert len(signals) == 8
        assert (
            signals[word]
            == {"maintenance": 0, "initial": 1, "withdrawal": 3}[mode.value] + 4 * opening
        )
        assert PortfolioStatement.from_public_signals(signals) == enc.statement
        assert enc.statement.opening is opening
    for bad in (2, 4, 6, 7, 8):
        with pytest.raises(InputError, match=rf"^modeWord: {bad} is not a mode"):
            PortfolioStatement.from_public_signals([*signals[:word], bad, *signals[word + 1 :]])
    with pytest.raises(InputError, match=r"^portfolio: expected 8 public signals, got 7"):
        PortfolioStatement.from_public_signals(signals[:7])


def test_exact_boundary_through_the_real_prover(prover: Prover, risk: RiskFile) -> None:
    """The smallest USDC balance the model accepts is proved and verifies; one unit of
    1e-18 USDC less is refused by the model check and, without it, by the circuit's claim."""
    mode = PortfolioMode.INITIAL
    account = book("short-strangle", risk)
    need = min_usdc(account, risk, mode)
    assert need is not None and need > 0
    bundle = prover.prove_portfolio(with_usdc(account, need), risk, mode=mode, now=NOW)
    assert verify_bundle(bundle, prover.manifest).valid
    poorer = with_usdc(account, need - 1)
    with pytest.raises(
        InsufficientMargin, match=r"^insufficient margin: equity [0-9.]+ < requirement [0-9.]+$"
    ):
        prover.prove_portfolio(poorer, risk, mode=mode, now=NOW)
    encoded = encode_portfolio(poorer, risk, mode=mode, binding=Binding())
    with pytest.raises(ProverError, match=r"Assert Failed") as info:
        prover.prove_portfolio_encoded(encoded)
    assert "AssertGreaterEqBits" in str(info.value)  # the claim D̂² >= Σ ẑ², nothing else


def test_library_refusals(prover: Prover, risk: RiskFile) -> None:
    account = book("covered-call", risk)
    with pytest.raises(InputError, match=r"series expired at 2026-12-25T08:00:00Z"):
        prover.prove_portfolio(account, risk, now=parse_time("2026-12-25T08:00:00Z", "t"))
    with pytest.raises(
        InputError,
        match=rf"^positions\[1\] \(option {CALL}\): an opening proof needs the entry price "
        r"to equal the option mark \(230 != 247\.27839453\)$",
    ):
        prover.prove(account, risk, circuit="portfolio", opening=True, mode=Mode.INITIAL, now=NOW)
    for mode in (Mode.MAINTENANCE, Mode.WITHDRAWAL):
        with pytest.raises(
            InputError, match=rf"^mode: an opening proof is an initial proof, not {mode.value} "
        ):
            prover.prove(
                at_marks(account, risk), risk, circuit="portfolio", opening=True, mode=mode
            )
    with pytest.raises(InputError, match=r"^the cross circuit proves a rate-based account"):
        prover.prove(account, risk, circuit="cross")  # a portfolio account, a rate circuit
    rate_account = Account(address=0xA1, salt=1, collateral={}, positions=())
    with pytest.raises(InputError, match=r"^the portfolio circuit proves a portfolio account"):
        prover.prove(rate_account, risk, circuit="portfolio")
    lacking = replace(account, positions=(*account.positions[:1],) * 9)
    with pytest.raises(InputError, match=r"^positions: 9 positions; the portfolio circuit holds"):
        prover.prove_portfolio(lacking, risk, now=NOW)


def at_marks(account: PortfolioAccount, risk: RiskFile) -> PortfolioAccount:
    """``account`` with every entry at its mark (P_k, or the series' mark V_j)."""
    return replace(
        account,
        positions=tuple(replace(p, entry=position_mark(p, risk)) for p in account.positions),
    )


def test_opening_proof_through_the_real_prover(prover: Prover, risk: RiskFile) -> None:
    """The covered call entered at current marks (the perp at the oracle price, the short
    call at the published mark) proves as an opening: modeWord 5, verified by py_ecc; the
    perp one unit of 1e-8 off the price is refused by the model check and, without it, by
    the circuit's opening constraint."""
    account = at_marks(book("covered-call", risk), risk)
    bundle = prover.prove(
        account, risk, mode=Mode.INITIAL, binding=BINDING, circuit="portfolio",
        opening=True, now=NOW,
    )  # fmt: skip
    st = bundle.statement
    assert isinstance(st, PortfolioStatement) and bundle.mode is Mode.INITIAL
    assert st.opening and st.mode is PortfolioMode.INITIAL and bundle.public_signals[5] == 5
    assert st.commitment == portfolio_commitment(account, risk)
    assert bundle.to_json()["statement"]["opening"] is True
    verdict = verify_bundle(bundle, prover.manifest)
    assert verdict.valid and verdict.reason.startswith(
        "portfolio proof verifies (initial (opening), "
    ), verdict.reason
    perp = account.positions[0]
    off = replace(account, positions=(replace(perp, entry=Price(perp.entry + 1)),
                                      *account.positions[1:]))  # fmt: skip
    with pytest.raises(InputError, match=r"^positions\[0\] \(market ETH-USD\): an opening"):
        prover.prove_portfolio(off, risk, mode=PortfolioMode.INITIAL, now=NOW, opening=True)
    encoded = encode_portfolio(
        off, risk, mode=PortfolioMode.INITIAL, binding=BINDING, opening=True, precheck=False
    )
    with pytest.raises(ProverError, match=r"Assert Failed") as info:
        prover.prove_portfolio_encoded(encoded)
    assert "Error in template PortfolioMargin" in str(info.value)  # not a range check
    assert "AssertGreaterEqBits" not in str(info.value)  # nor the claim
    # the same account as a plain initial proof: the one-unit gain is fine
    assert verify_bundle(
        prover.prove_portfolio(off, risk, mode=PortfolioMode.INITIAL, now=NOW), prover.manifest
    ).valid


# ---------------------------------------------------------------- zkmargin prove / verify


def prove_args(account: Path, risk_file: Path, out: Path, *extra: str) -> list[str]:
    return ["prove", str(account), "-m", str(risk_file), "-o", str(out),
            "--circuit", "portfolio", "--now", NOW_TEXT, "--local", *extra]  # fmt: skip


def test_cli_prove_and_verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, risk_path: Path, manifest: Any
) -> None:
    out = tmp_path / "p.proof.json"
    code, stdout, err = run(
        capsys, *prove_args(BOOKS / "hedge.book.json", risk_path, out, "--mode", "withdrawal")
    )
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: portfolio withdrawal proof, verified locally")
    salt = read_json_file(BOOKS / "hedge.book.json", "book")["salt"]
    # the salt (1001) as a number of its own: four digits also occur by chance inside the
    # proof's 77-digit field elements, which is no leak
    secret = re.compile(rf"(?<![0-9]){salt}(?![0-9])")
    assert not secret.search(stdout + err) and not secret.search(out.read_text())
    doc = json.loads(out.read_text())
    assert doc["circuit"] == "portfolio" and doc["mode"] == "withdrawal"
    assert doc["statement"]["initial"] is True and doc["statement"]["withdrawal"] is True
    assert doc["statement"]["balances"] == ["12000", "0"]
    assert doc["statement"]["risk_commitment"] == str(risk_commitment(read_risk(risk_path)))
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 0 and stdout.startswith("valid: portfolio proof verifies (withdrawal, ")


def test_cli_opening_proof(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, risk_path: Path, manifest: Any
) -> None:
    """`--opening` (the default maintenance mode becomes initial) proves a book entered at
    current marks; the readable statement says opening, and `zkmargin verify` accepts it."""
    account = _variant(
        tmp_path, "covered-call", lambda b: b["positions"][1].update(entry_price="247.27839453")
    )
    out = tmp_path / "open.proof.json"
    code, stdout, err = run(capsys, *prove_args(account, risk_path, out, "--opening"))
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: portfolio initial (opening) proof, verified locally")
    doc = json.loads(out.read_text())
    assert doc["mode"] == "initial" and doc["publicSignals"][5] == "5"
    statement = doc["statement"]
    assert (statement["opening"], statement["initial"], statement["withdrawal"]) == (
        True, True, False
    )  # fmt: skip
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 0 and stdout.startswith("valid: portfolio proof verifies (initial (opening), ")
    doc["statement"]["opening"] = False
    out.write_text(json.dumps(doc))
    code, stdout, _ = run(capsys, "verify", str(out))
    assert code == 1 and "statement.opening does not match the public signals" in stdout


def read_risk(path: Path) -> RiskFile:
    from zkmargin.riskfile import load_risk_file

    return load_risk_file(path)


def _bump_balance_word(doc: dict[str, Any], keep_statement: bool) -> None:
    """One more unit of 1e-18 USDC in the balance word (public signal 3)."""
    doc["publicSignals"][3] = str(int(doc["publicSignals"][3]) + 1)
    if not keep_statement:
        del doc["statement"]


EDITS = {
    # field of the file -> (edit, the one-line reason `zkmargin verify` gives)
    "balances": (
        lambda d: d["statement"]["balances"].__setitem__(0, "1200000"),
        "statement.balances does not match the public signals",
    ),
    "risk commitment": (
        lambda d: d["statement"].update(risk_commitment="1"),
        "statement.risk_commitment does not match the public signals",
    ),
    "withdrawal flag": (
        lambda d: d["statement"].update(withdrawal=False),
        "statement.withdrawal does not match the public signals",
    ),
    "mode label": (
        lambda d: d.update(mode="maintenance"),
        "mode 'maintenance' does not match the public signals (modeWord: withdrawal",
    ),
    "balance signal": (
        lambda d: _bump_balance_word(d, keep_statement=True),
        "statement.balances does not match the public signals",
    ),
    "balance signal, statement dropped": (
        lambda d: _bump_balance_word(d, keep_statement=False),
        "pairing check failed: the proof does not match its public signals",
    ),
}


@pytest.fixture(scope="module")
def withdrawal_proof(manifest: Any, risk: RiskFile) -> dict[str, Any]:
    with Prover(manifest) as prover:
        bundle = prove_book(prover, "hedge", risk, Mode.WITHDRAWAL)
    return bundle.to_json()


@pytest.mark.parametrize("label", sorted(EDITS))
def test_verify_refuses_an_edited_proof_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    withdrawal_proof: dict[str, Any],
    label: str,
) -> None:
    edit, reason = EDITS[label]
    doc = copy.deepcopy(withdrawal_proof)
    edit(doc)
    path = tmp_path / "edited.proof.json"
    path.write_text(json.dumps(doc))
    code, stdout, err = run(capsys, "verify", str(path))
    assert code == 1, (label, stdout, err)
    assert stdout.count("\n") == 1 and stdout.startswith("invalid: ") and reason in stdout


def test_cli_insufficient_margin_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, risk_path: Path
) -> None:
    poor = _variant(tmp_path, "naked-call", lambda b: b["collateral"].update(USDC="1000"))
    out = tmp_path / "p.proof.json"
    code, stdout, err = run(capsys, *prove_args(poor, risk_path, out))
    assert code == 1 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("error: insufficient margin: equity ")
    assert not out.exists() and list(tmp_path.iterdir()) == [poor]


def _variant(tmp_path: Path, name: str, change: Any) -> Path:
    data = copy.deepcopy(read_json_file(BOOKS / f"{name}.book.json", "book"))
    change(data)
    path = tmp_path / "variant.book.json"
    path.write_text(json.dumps(data))
    return path


def _many_series(doc: dict[str, Any]) -> None:
    series = doc["options"][CALL]
    for i in range(9):
        doc["options"][f"ETH-X{i}"] = series


RISK = "risk file {risk}: "
ACCOUNT = "account file {account}: "
BAD_INPUTS = {
    # label -> (risk edit, book edit, extra args, the whole one-line message)
    "Cholesky row too short": (
        lambda d: d["portfolio"].update(cholesky_bps=[[490], [405]]), None, [],
        RISK + "portfolio.cholesky_bps[1]: row 1 of a lower-triangular factor has 2 entries, "
        "got 1",
    ),
    "Cholesky row too long": (
        lambda d: d["portfolio"].update(cholesky_bps=[[490, 0], [405, 75]]), None, [],
        RISK + "portfolio.cholesky_bps[0]: row 0 of a lower-triangular factor has 1 entries, "
        "got 2",
    ),
    "Cholesky zero diagonal": (
        lambda d: d["portfolio"].update(cholesky_bps=[[490], [405, 0]]), None, [],
        RISK + "portfolio.cholesky_bps[1][1]: the diagonal must be positive, got 0",
    ),
    "Cholesky negative diagonal": (
        lambda d: d["portfolio"].update(cholesky_bps=[[-490], [405, 75]]), None, [],
        RISK + "portfolio.cholesky_bps[0][0]: the diagonal must be positive, got -490",
    ),
    "lambda_IM below lambda_MM": (
        lambda d: d["portfolio"].update(lambda_im_bps=9999), None, [],
        RISK + "portfolio.lambda_im_bps: 9999 must be at least lambda_mm_bps (10000)",
    ),
    "option on an unlisted market": (
        lambda d: d["options"][CALL].update(underlying="SOL-USD"), None, [],
        RISK + f"options.{CALL}.underlying: 'SOL-USD' is not a listed market",
    ),
    "expired series": (
        None, None, ["--now", "2026-12-25T08:00:00Z"],
        ACCOUNT + f"positions[1] (option {CALL}): series expired at 2026-12-25T08:00:00Z "
        "(now 2026-12-25T08:00:00Z)",
    ),
    "delta above 10000 bps": (
        lambda d: d["options"][CALL].update(delta_bps=10001), None, [],
        RISK + f"options.{CALL}.delta_bps: 10001 is out of range (-10000..10000 basis points)",
    ),
    "delta below -10000 bps": (
        lambda d: d["options"][PUT].update(delta_bps=-10001), None, [],
        RISK + f"options.{PUT}.delta_bps: -10001 is out of range (-10000..10000 basis points)",
    ),
    "negative gamma charge": (
        lambda d: d["options"][CALL].update(gamma_charge="-1"), None, [],
        RISK + f"options.{CALL}.gamma_charge: '-1' is not a plain decimal number (digits with "
        "an optional fraction; no sign, exponent or spaces)",
    ),
    "negative vega charge": (
        lambda d: d["options"][CALL].update(vega_charge="-0.5"), None, [],
        RISK + f"options.{CALL}.vega_charge: '-0.5' is not a plain decimal number (digits with "
        "an optional fraction; no sign, exponent or spaces)",
    ),
    "series the risk file lacks": (
        None, lambda b: b["positions"][1].update(option="ETH-20270101-9-C"), [],
        ACCOUNT + "positions[1].option: unknown option series 'ETH-20270101-9-C'",
    ),
    "more positions than slots": (
        None, lambda b: b["positions"].extend([b["positions"][0]] * 7), [],
        ACCOUNT + "positions: 9 positions; the portfolio circuit holds 8",
    ),
    "more series than slots": (
        _many_series, None, [],
        RISK + "options: lists 15; the portfolio circuit has 8 slot(s)",
    ),
    "opening proof, entry off the mark": (
        None, None, ["--opening"],
        ACCOUNT + f"positions[1] (option {CALL}): an opening proof needs the entry price to "
        "equal the option mark (230 != 247.27839453)",
    ),
    "opening proof, perp off the price": (
        None, lambda b: (b["positions"][0].update(entry_price="1900.5"),
                         b["positions"][1].update(entry_price="247.27839453")),
        ["--opening", "--mode", "initial"],
        ACCOUNT + "positions[0] (market ETH-USD): an opening proof needs the entry price to "
        "equal the oracle price (1900.5 != 1900)",
    ),
    "opening withdrawal": (
        None, None, ["--opening", "--mode", "withdrawal"],
        "--opening: a proof opens an account or withdraws from it, not both (an opening "
        "proof is initial: drop --mode withdrawal)",
    ),
    "a market file": (
        "markets.json", None, [],
        "risk file {risk}: missing field 'portfolio'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(BAD_INPUTS))
def test_cli_bad_input_is_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, risk_path: Path, label: str
) -> None:
    risk_edit, book_edit, extra, message = BAD_INPUTS[label]
    if risk_edit == "markets.json":
        risk_file = BOOKS.parent / "markets.json"
    else:
        doc = read_json_file(risk_path, "risk")
        if risk_edit is not None:
            risk_edit(doc)
        risk_file = tmp_path / "risk.json"
        risk_file.write_text(json.dumps(doc))
    account = _variant(tmp_path, "covered-call", book_edit or (lambda _: None))
    out = tmp_path / "p.proof.json"
    code, stdout, err = run(capsys, *prove_args(account, risk_file, out), *extra)
    assert code == 2, (label, stdout, err)
    expected = "error: " + message.format(risk=risk_file, account=account)
    assert err == expected + "\n", label
    assert not out.exists()
