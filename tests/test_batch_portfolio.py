"""Batch proving of portfolio accounts (prover.batch, cli.batch with ``--circuit
portfolio``): real proofs against the risk file published from the shipped history (the
``risk_path`` fixture of tests/test_portfolio_cli.py), at ``--now 2026-12-01T00:00:00Z``.

What must hold, as for rate-based batches (tests/test_batch.py): one verifying proof file
per good account file (``NAME.account.json``); insufficient margin and bad input sorted
apart without stopping the batch; a re-run keeps only a proof whose public signals equal
the re-encoded portfolio statement and that verifies; and, since a portfolio statement
does not hold the clock, a re-run at a time past a series' expiry keeps no proof of it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_portfolio_cli import BOOKS, NOW_TEXT, risk, risk_path
from tooling.cli_run import run_cli

from cli.batch import prove_batch
from prover.batch import Job, Settings, Status, prove_many
from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.accounts import load_market_data
from zkmargin.artifacts import Manifest
from zkmargin.encoding import Binding
from zkmargin.errors import InputError
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.model import Mode
from zkmargin.portfolio import PortfolioMode, load_portfolio_account
from zkmargin.portfolio_encoding import PortfolioStatement, encode_portfolio
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import RiskFile, parse_time, risk_commitment

__all__ = ["risk", "risk_path"]  # fixtures shared with tests/test_portfolio_cli.py

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ROOT / "examples" / "markets.json"
NOW = parse_time(NOW_TEXT, "now")
AFTER_EXPIRY = parse_time("2026-12-26T00:00:00Z", "now")  # the ETH-20261225 series are gone
GOOD = {"hedge": 0xA1, "covered": 0xC0}  # name -> the account address in its book
AT_NOW = Settings(now=NOW)


def book_json(name: str, address: int = GOOD["hedge"]) -> dict[str, Any]:
    """A worked example's book (all are owned by 0xa1), owned by ``address``."""
    data = copy.deepcopy(read_json_file(BOOKS / f"{name}.book.json", "book"))
    data["account"] = f"0x{address:040x}"
    return data


@pytest.fixture
def books_dir(tmp_path: Path) -> Path:
    """Two good portfolio accounts (a perp hedge; a covered call, which holds an option
    expiring 2026-12-25), a naked call short of margin, a malformed file, a stray file."""
    folder = tmp_path / "books"
    folder.mkdir()
    write_json(folder / "hedge.account.json", book_json("hedge"), mode=0o600)
    write_json(
        folder / "covered.account.json", book_json("covered-call", GOOD["covered"]), mode=0o600
    )
    poor = book_json("naked-call")
    poor["collateral"]["USDC"] = "1000"
    write_json(folder / "poor.account.json", poor, mode=0o600)
    (folder / "broken.account.json").write_text('{"account": "0x01"}')
    (folder / "hedge.book.json").write_text("not a job: only NAME.account.json files are")
    return folder


def py_ecc(manifest: Manifest) -> Callable[[ProofBundle], bool]:
    return lambda bundle: verify_bundle(bundle, manifest).valid


def check_proof(path: Path, address: int, risk: RiskFile, manifest: Manifest) -> ProofBundle:
    bundle = ProofBundle.load(path)
    verdict = verify_bundle(bundle, manifest)
    assert verdict.valid, (path, verdict.reason)
    statement = bundle.statement
    assert bundle.circuit == "portfolio" and isinstance(statement, PortfolioStatement)
    assert statement.account == address
    assert statement.risk_commitment == risk_commitment(risk)
    return bundle


def statuses(summary: Any) -> dict[str, Status]:
    return {o.name: o.status for o in summary.outcomes}


def test_a_directory_of_portfolio_accounts_becomes_verifying_proofs(
    books_dir: Path, risk: RiskFile, manifest: Manifest
) -> None:
    out = books_dir.parent / "proofs"
    seen: list[str] = []
    with Prover(manifest) as prover:
        summary = prover.prove_many(
            books_dir,
            risk,
            out,
            workers=2,
            settings=Settings(binding=Binding(nonce=4), now=NOW),
            progress=lambda outcome: seen.append(outcome.name),
        )
    assert sorted(seen) == ["broken", "covered", "hedge", "poor"]
    assert statuses(summary) == {
        "broken": Status.INPUT,
        "covered": Status.PROVED,
        "hedge": Status.PROVED,
        "poor": Status.INSUFFICIENT,
    }
    broken = next(o for o in summary.outcomes if o.name == "broken")
    assert "broken.account.json" in broken.message and "\n" not in broken.message
    assert sorted(p.name for p in out.iterdir()) == ["covered.proof.json", "hedge.proof.json"]
    for name, address in GOOD.items():
        bundle = check_proof(out / f"{name}.proof.json", address, risk, manifest)
        assert bundle.mode is Mode.MAINTENANCE and bundle.statement.nonce == 4

    # a re-run keeps both (the backend's pairing check), proving nothing
    again = prove_many(books_dir, risk, out, settings=Settings(binding=Binding(nonce=4), now=NOW))
    assert again.skipped == 2 and again.proved == 0


@pytest.mark.slow
def test_a_rerun_keeps_only_portfolio_proofs_that_still_match_verify_and_hold(
    books_dir: Path, risk: RiskFile, manifest: Manifest
) -> None:
    out = books_dir.parent / "proofs"
    first = prove_many(books_dir, risk, out, verify=py_ecc(manifest), settings=AT_NOW)
    assert first.proved == 2
    hedge_before = (out / "hedge.proof.json").stat().st_mtime_ns

    # covered's file now holds hedge's (valid) proof: another statement, never verified
    (out / "covered.proof.json").write_bytes((out / "hedge.proof.json").read_bytes())
    checked: list[int] = []

    def recording(bundle: ProofBundle) -> bool:
        checked.append(bundle.statement.account)
        return verify_bundle(bundle, manifest).valid

    second = prove_many(books_dir, risk, out, verify=recording, settings=AT_NOW)
    assert statuses(second)["hedge"] is Status.SKIPPED
    assert statuses(second)["covered"] is Status.PROVED
    assert checked == [GOOD["hedge"]]
    assert (out / "hedge.proof.json").stat().st_mtime_ns == hedge_before

    # the right statement with a corrupted proof: it does not verify, so it is proved again
    tampered = ProofBundle.load(out / "hedge.proof.json")
    pi_a = tampered.proof["pi_a"]
    bad = {**tampered.proof, "pi_a": [pi_a[1], pi_a[0], pi_a[2]]}
    write_json(out / "hedge.proof.json", {**tampered.to_json(), "proof": bad})
    assert not verify_bundle(ProofBundle.load(out / "hedge.proof.json"), manifest).valid
    third = prove_many(books_dir, risk, out, verify=py_ecc(manifest), settings=AT_NOW)
    assert (
        statuses(third)["hedge"] is Status.PROVED and statuses(third)["covered"] is Status.SKIPPED
    )
    for name, address in GOOD.items():
        check_proof(out / f"{name}.proof.json", address, risk, manifest)

    # another mode is another statement: the initial proofs replace the maintenance ones
    initial = prove_many(books_dir, risk, out, settings=Settings(mode=Mode.INITIAL, now=NOW))
    assert initial.proved == 2
    for name, address in GOOD.items():
        bundle = check_proof(out / f"{name}.proof.json", address, risk, manifest)
        assert bundle.mode is Mode.INITIAL

    # past the covered call's expiry the same statement cannot be proved: its proof goes,
    # the perp-only hedge's stays (skipped), and the message names the series
    later = prove_many(books_dir, risk, out, settings=Settings(mode=Mode.INITIAL, now=AFTER_EXPIRY))
    assert statuses(later)["hedge"] is Status.SKIPPED
    assert statuses(later)["covered"] is Status.INPUT
    covered = next(o for o in later.outcomes if o.name == "covered")
    assert "ETH-20261225-1700-C" in covered.message and "expired" in covered.message
    assert sorted(p.name for p in out.iterdir()) == ["hedge.proof.json"]


def test_the_batch_kind_is_checked_before_any_proof(
    tmp_path: Path, books_dir: Path, risk: RiskFile
) -> None:
    """As ``Prover.prove`` decides: the named circuit, else the data (a risk file)."""
    out = tmp_path / "out"
    data = load_market_data(MARKETS)
    with pytest.raises(InputError, match="portfolio circuit proves portfolio accounts"):
        prove_many(books_dir, data, out, settings=Settings(circuit="portfolio"))
    with pytest.raises(InputError, match="isolated circuit proves rate-based accounts"):
        prove_many(books_dir, risk, out, settings=Settings(circuit="isolated"))
    with pytest.raises(InputError, match="opening portfolio proof is an initial proof"):
        prove_many(books_dir, risk, out, settings=Settings(opening=True))
    assert not out.exists()

    # an in-memory job of the other kind is that job's bad input, not the batch's
    hedge = load_portfolio_account(BOOKS / "hedge.book.json", risk)
    summary = prove_many([Job("hedge", hedge)], data, out)
    assert statuses(summary) == {"hedge": Status.INPUT}
    assert "a portfolio account in a batch of rate-based ones" in summary.outcomes[0].message
    assert not list(out.iterdir())


@pytest.mark.slow
def test_opening_batch_and_worker_processes(
    tmp_path: Path, risk: RiskFile, manifest: Manifest
) -> None:
    """An opening batch (mode initial, entries at marks) on spawned worker processes, with
    the clock given once: an entry off its mark is that account's bad input."""
    folder = tmp_path / "books"
    folder.mkdir()
    at_marks = book_json("covered-call", GOOD["covered"])
    at_marks["positions"][1]["entry_price"] = "247.27839453"  # the series' published mark
    write_json(folder / "opens.account.json", at_marks, mode=0o600)
    write_json(folder / "stale.account.json", book_json("covered-call"), mode=0o600)
    out = tmp_path / "proofs"
    summary = prove_many(
        folder,
        risk,
        out,
        workers=2,
        executor="process",
        settings=Settings(mode=Mode.INITIAL, opening=True, now=NOW),
        manifest=manifest,
    )
    assert summary.how == "process"
    assert statuses(summary) == {"opens": Status.PROVED, "stale": Status.INPUT}
    stale = next(o for o in summary.outcomes if o.name == "stale")
    assert "opening proof needs the entry price to equal the option mark" in stale.message
    bundle = check_proof(out / "opens.proof.json", GOOD["covered"], risk, manifest)
    assert bundle.statement.opening and bundle.statement.mode is PortfolioMode.INITIAL


# ---------------------------------------------------------------- CLI


def batch_cli(*args: object) -> Any:
    return CliRunner().invoke(prove_batch, [str(a) for a in args], catch_exceptions=False)


def test_cli_proves_portfolio_accounts_and_resumes(
    books_dir: Path, risk_path: Path, risk: RiskFile, manifest: Manifest
) -> None:
    out = books_dir.parent / "out"
    args = [books_dir, "-m", risk_path, "-o", out, "-j", 2, "--circuit", "portfolio"]
    args += ["--now", NOW_TEXT]
    result = batch_cli(*args, "--mode", "withdrawal", "--nonce", "7")
    assert result.exit_code == 1, result.output
    assert "\n4 accounts, 2 local thread workers, " in result.output
    for row in ("insufficient margin", "poor", "bad input", "broken"):
        assert row in result.output
    salt = read_json_file(books_dir / "hedge.account.json", "book")["salt"]
    assert not re.search(rf"(?<![0-9]){salt}(?![0-9])", result.output)  # 1001, as a number
    for name, address in GOOD.items():
        bundle = check_proof(out / f"{name}.proof.json", address, risk, manifest)
        assert bundle.mode is Mode.WITHDRAWAL and bundle.statement.nonce == 7

    for name in ("poor", "broken"):
        (books_dir / f"{name}.account.json").unlink()
    again = batch_cli(*args, "--mode", "withdrawal", "--nonce", "7")
    assert again.exit_code == 0, again.output
    skipped = next(line for line in again.output.splitlines() if "skipped" in line)
    assert skipped.split("│")[2].strip() == "2"


PORTFOLIO = ["{books}", "-m", "{risk}", "-o", "{out}", "--circuit", "portfolio"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (  # a risk file needs --circuit portfolio, as for `zkmargin prove`
            ["{books}", "-m", "{risk}", "-o", "{out}"],
            "market file {risk}: unknown field",
        ),
        (
            ["{books}", "-m", "{markets}", "-o", "{out}", "--circuit", "portfolio"],
            "risk file {markets}: missing field 'portfolio'",
        ),
        ([*PORTFOLIO, "--now", "2026"], "--now: expected a UTC time"),
        (
            [*PORTFOLIO, "--opening", "--mode", "withdrawal"],
            "--opening: a proof opens an account or withdraws from it, not both",
        ),
    ],
)
def test_cli_bad_portfolio_batch_is_one_line(
    tmp_path: Path, books_dir: Path, risk_path: Path, args: list[str], expected: str
) -> None:
    values = {
        "books": str(books_dir),
        "risk": str(risk_path),
        "markets": str(MARKETS),
        "out": str(tmp_path / "out"),
    }
    result = run_cli("prove-batch", *(a.format(**values) for a in args))
    assert result.code == 2
    assert result.err.startswith("error: ") and expected.format(**values) in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not (tmp_path / "out").exists()


def test_a_proof_file_is_the_re_encoded_statement(
    books_dir: Path, risk: RiskFile, manifest: Manifest
) -> None:
    """The kept-proof rule compares with exactly what ``encode_portfolio`` makes."""
    out = books_dir.parent / "proofs"
    prove_many([Job("hedge", books_dir / "hedge.account.json")], risk, out, settings=AT_NOW)
    account = load_portfolio_account(books_dir / "hedge.account.json", risk)
    expected = encode_portfolio(
        account, risk, mode=PortfolioMode.MAINTENANCE, binding=Binding()
    ).statement
    assert ProofBundle.load(out / "hedge.proof.json").public_signals == expected.public_signals()
    assert json.loads((out / "hedge.proof.json").read_text())["circuit"] == "portfolio"
