"""The ``zkmargin`` command line: exit codes, one-line errors, and no files left behind.

Three ways in:

* ``CliRunner().invoke(cli, ...)`` for the click layer;
* :func:`run_main`, the real ``main()`` wrapper in-process (exit codes, one-line errors);
* a few subprocess runs of the installed ``zkmargin`` script (real entry point, stderr
  must hold one line and no traceback).

Real proofs cost seconds each, so there are two, made once per session.
"""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tooling.cli_run import Run, run_cli

from cli.main import cli
from zkmargin.accounts import load_account, load_market_data
from zkmargin.proofs import ProofBundle
from zkmargin.units import SNARK_SCALAR_FIELD

R = SNARK_SCALAR_FIELD
ROOT = Path(__file__).resolve().parent.parent
ZKMARGIN = Path(sys.executable).parent / "zkmargin"

ADDRESS_A = "0x12ab12ab12AB12aB12Ab12ab12ab12AB12Ab12aB"
ADDRESS_B = "0xcd34CD34Cd34Cd34cd34cd34cD34Cd34cd34cd34"
ENGINE = "0x000000000000000000000000000000000000bEEF"

MARKETS: dict[str, Any] = json.loads((ROOT / "examples" / "markets.json").read_text())

# USDC 10000, long 5 ETH from 2000 at 1900: equity 9500, MMR 475, IMR 950
SOLVENT: dict[str, Any] = {
    "account": ADDRESS_A,
    "salt": "123456789",
    "collateral": {"USDC": "10000"},
    "positions": [{"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "2000"}],
}
# USDC 100: equity -400 < 475
INSOLVENT: dict[str, Any] = {**copy.deepcopy(SOLVENT), "collateral": {"USDC": "100"}}
# Cross account exactly at its initial requirement:
#   equity = 5 + 0.5 * 1900 * 0.9 = 860;  IMR = 2 * 1900 * 10% + 0.1 * 60000 * 8% = 860
CROSS: dict[str, Any] = {
    "account": ADDRESS_B,
    "salt": "987654321",
    "collateral": {"USDC": "5", "WETH": "0.5"},
    "positions": [
        {"market": "ETH-USD", "side": "long", "size": "2", "entry_price": "1900"},
        {"market": "BTC-USD", "side": "short", "size": "0.1", "entry_price": "60000"},
    ],
}


# ================================================================ helpers


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def run_main(*args: object) -> Run:
    """The console entry point ``main()`` in-process, output captured by click's runner."""
    # no deployment file at hand: `account new` then checks names only against -m
    return run_cli(*args, env={"ZKMARGIN_DEPLOYMENT": "/nonexistent/deployment.json"})


def run_script(*args: object, cwd: Path | None = None) -> Run:
    """The installed ``zkmargin`` script in a subprocess."""
    env = {k: v for k, v in os.environ.items() if k != "ZKMARGIN_DEBUG"}
    done = subprocess.run(
        [str(ZKMARGIN), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=cwd,
    )
    return Run(done.returncode, done.stdout, done.stderr)


def assert_one_error_line(run: Run, code: int, *fragments: str) -> str:
    assert run.code == code, (run.code, run.out, run.err)
    assert "Traceback" not in run.err, run.err
    assert len(run.err_lines) == 1, run.err
    line = run.err_lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def private_tmp_entries() -> set[Path]:
    """Prover scratch directories (zkmargin-*) in /dev/shm and the temp dir."""
    found: set[Path] = set()
    for base in {Path("/dev/shm"), Path(tempfile.gettempdir()), Path("/tmp")}:
        if base.is_dir():
            found.update(base.glob("zkmargin-*"))
    return found


def assert_no_new_tmp_entries(before: set[Path], wait: float = 20.0) -> None:
    """No scratch directory created since ``before`` survives.

    Other processes on this machine may be proving concurrently; their directories
    vanish within seconds, so poll before failing.
    """
    deadline = time.monotonic() + wait
    while True:
        left = private_tmp_entries() - before
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert not left, f"scratch files left behind: {sorted(map(str, left))}"


# ================================================================ session fixtures


@pytest.fixture(scope="session")
def cli_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="session")
def market_file(cli_dir: Path) -> Path:
    return write_json(cli_dir / "markets.json", MARKETS)


@pytest.fixture(scope="session")
def solvent_file(cli_dir: Path) -> Path:
    return write_json(cli_dir / "solvent.json", SOLVENT)


@pytest.fixture(scope="session")
def insolvent_file(cli_dir: Path) -> Path:
    return write_json(cli_dir / "insolvent.json", INSOLVENT)


@pytest.fixture(scope="session")
def cross_file(cli_dir: Path) -> Path:
    return write_json(cli_dir / "cross.json", CROSS)


@pytest.fixture(scope="session")
def built(request: pytest.FixtureRequest) -> None:
    """Make sure the trusted-setup artifacts match the circuits before proving.

    Uses the ``manifest`` fixture of tests/conftest.py when there is one (a warm cache
    takes milliseconds); otherwise the build under ZKMARGIN_BUILD_DIR is used as is.
    """
    try:
        request.getfixturevalue("manifest")
    except pytest.FixtureLookupError:
        pass


@dataclass
class ProofRun:
    run: Run
    path: Path
    listing_before: set[str]
    listing_after: set[str]
    tmp_before: set[Path]


@pytest.fixture(scope="session")
def solvent_proof(
    tmp_path_factory: pytest.TempPathFactory, solvent_file: Path, market_file: Path, built: None
) -> ProofRun:
    """One real isolated maintenance proof, made by the installed script."""
    out_dir = tmp_path_factory.mktemp("proof-isolated")
    before = set(os.listdir(out_dir))
    tmp_before = private_tmp_entries()
    path = out_dir / "proof.json"
    run = run_script("prove", solvent_file, "-m", market_file, "-o", path)
    return ProofRun(run, path, before, set(os.listdir(out_dir)), tmp_before)


@pytest.fixture(scope="session")
def cross_proof(
    tmp_path_factory: pytest.TempPathFactory, cross_file: Path, market_file: Path, built: None
) -> ProofRun:
    """One real cross-margin initial opening proof, bound to a chain, engine and nonce."""
    out_dir = tmp_path_factory.mktemp("proof-cross")
    before = set(os.listdir(out_dir))
    tmp_before = private_tmp_entries()
    path = out_dir / "cross-proof.json"
    run = run_script(
        "prove",
        cross_file,
        "-m",
        market_file,
        "-o",
        path,
        "--mode",
        "initial",
        "--opening",
        "--chain-id",
        "1",
        "--engine",
        ENGINE,
        "--nonce",
        "7",
    )
    return ProofRun(run, path, before, set(os.listdir(out_dir)), tmp_before)


@pytest.fixture(scope="session")
def proof_json(solvent_proof: ProofRun) -> dict[str, Any]:
    assert solvent_proof.run.code == 0, solvent_proof.run.err
    data: dict[str, Any] = json.loads(solvent_proof.path.read_text())
    return data


# ================================================================ general


def test_help_and_version() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("account", "setup", "commit", "margin", "prove", "verify"):
        assert command in result.output
    version = run_main("--version")
    assert version.code == 0 and "0.1.0" in version.out


def test_unknown_command_is_usage_error() -> None:
    run = run_main("frobnicate")
    assert run.code == 2
    assert "Traceback" not in run.err


# ================================================================ account new


def test_account_new_writes_private_file(tmp_path: Path, market_file: Path) -> None:
    path = tmp_path / "acct.json"
    result = CliRunner().invoke(
        cli,
        [
            "account",
            "new",
            str(path),
            "--address",
            ADDRESS_A.lower(),
            "--collateral",
            "USDC=10000.5",
            "--collateral",
            "WETH=0.000000000000000001",
            "--position",
            "ETH-USD:long:5@2000",
            "--position",
            "BTC-USD:short:0.00000001@60000.12345678",
            "-m",
            str(market_file),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {path} (mode 0600); keep it secret: it opens your commitment\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = json.loads(path.read_text())
    assert raw["account"] == ADDRESS_A  # EIP-55 checksummed
    assert raw["collateral"] == {"USDC": "10000.5", "WETH": "0.000000000000000001"}
    assert raw["positions"] == [
        {"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "2000"},
        {
            "market": "BTC-USD",
            "side": "short",
            "size": "0.00000001",
            "entry_price": "60000.12345678",
        },
    ]
    acct = load_account(path, load_market_data(market_file))
    assert 0 < acct.salt < R
    assert raw["salt"] != "1"


def test_account_new_fresh_salts_differ(tmp_path: Path) -> None:
    args = ["--address", ADDRESS_A, "--collateral", "USDC=1"]
    runner = CliRunner()
    for name in ("a.json", "b.json"):
        result = runner.invoke(cli, ["account", "new", str(tmp_path / name), *args])
        assert result.exit_code == 0, result.output
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["salt"] != b["salt"]
    assert {**a, "salt": ""} == {**b, "salt": ""}
    assert all(0 < int(x["salt"]) < R for x in (a, b))


def test_account_new_random_address_when_omitted(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a.json", "b.json"):
        assert runner.invoke(cli, ["account", "new", str(tmp_path / name)]).exit_code == 0
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["account"] != b["account"]
    assert a["collateral"] == {} and a["positions"] == []


def test_account_new_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "acct.json"
    path.write_text("do not touch\n")
    run = run_main("account", "new", path, "--collateral", "USDC=1")
    assert_one_error_line(run, 2, f"{path}: already exists; refusing to overwrite it")
    assert path.read_text() == "do not touch\n"


@pytest.mark.slow
def test_account_new_script_mode_and_refusal(tmp_path: Path) -> None:
    """The installed script: file mode 0600, then a one-line refusal to overwrite."""
    path = tmp_path / "acct.json"
    first = run_script("account", "new", path, "--collateral", "USDC=1")
    assert first.code == 0, first.err
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    second = run_script("account", "new", path, "--collateral", "USDC=2")
    assert_one_error_line(second, 2, "already exists")
    assert path.read_bytes() == content


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--collateral", "USDC"),
        ("--collateral", "=5"),
        ("--collateral", "USDC="),
        ("--collateral", ""),
        ("--position", "ETH-USD:long:5"),
        ("--position", "ETH-USD:long@5"),
        ("--position", "ETH-USD:long:5:1@2000"),
        ("--position", "ETH-USD:long:5@"),
        ("--position", "@2000"),
        ("--position", ""),
    ],
)
def test_account_new_bad_option_forms(tmp_path: Path, option: str, value: str) -> None:
    path = tmp_path / "acct.json"
    run = run_main("account", "new", path, option, value)
    assert run.code == 2, run
    assert "Traceback" not in run.err
    assert option in run.err_lines[-1], run.err
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_account_new_bad_option_form_is_one_line(tmp_path: Path) -> None:
    """Bug (cli/account.py _split/_position): a malformed --position/--collateral
    raises click.BadParameter, which prints three lines of usage plus "Error: ..." (4
    lines, capitalised differently from every other error). The issue asks for one clear
    line naming the field. Fix: raise InputError(f"--position: expected
    MARKET:SIDE:SIZE@ENTRY, got {item!r}") instead of click.BadParameter."""
    run = run_main("account", "new", tmp_path / "a.json", "--position", "ETH-USD:long:5")
    assert_one_error_line(run, 2, "--position", "MARKET:SIDE:SIZE@ENTRY")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--collateral", "USDC=1e3"], "new account: collateral.USDC: '1e3' is not a plain"),
        (["--collateral", "USDC=-1"], "collateral.USDC"),
        (["--collateral", "USDC=1.5.1"], "collateral.USDC"),
        (["--collateral", "USDC=0.0000001", "-M"], "collateral.USDC: 0.0000001 has more than 6"),
        (["--collateral", "DAI=1", "-M"], "--collateral: unknown asset 'DAI'"),
        (["--collateral", "bad name=1"], "collateral.bad name"),
        (["--position", "ETH-USD:up:5@2000"], 'positions[0].side: expected "long" or "short"'),
        (["--position", "XRP-USD:long:5@1", "-M"], "--position: unknown market 'XRP-USD'"),
        (["--position", "ETH-USD:long:5.123456789@2000"], "positions[0].size"),
        (["--position", "ETH-USD:long:-5@2000"], "positions[0].size"),
        (["--position", "ETH-USD:long:5@0"], "positions[0].entry_price: must be greater"),
        (["--position", "ETH-USD:long:5@2000@1"], "positions[0].entry_price"),
        (
            ["--position", "ETH-USD:long:1@1", "--position", "BTC-USD:short:1e2@1"],
            "positions[1].size",
        ),
        (["--address", "0x1234"], "--address: expected a 0x-prefixed 20-byte hex address"),
        (["--address", ""], "--address"),
    ],
)
def test_account_new_bad_values(
    tmp_path: Path, market_file: Path, args: list[str], fragment: str
) -> None:
    args = [x for a in args for x in (["-m", str(market_file)] if a == "-M" else [a])]
    path = tmp_path / "acct.json"
    run = run_main("account", "new", path, *args)
    assert_one_error_line(run, 2, fragment)
    assert list(tmp_path.iterdir()) == []


def test_account_new_bad_checksum_address(tmp_path: Path) -> None:
    bad = "0x00000000000000000000000000000000000000AA"  # all upper: fine
    ok = run_main("account", "new", tmp_path / "ok.json", "--address", bad)
    assert ok.code == 0, ok.err
    wrong = "0x52908400098527886E0F7030069857D2E4169EE7".replace("E7", "e7")
    run = run_main("account", "new", tmp_path / "bad.json", "--address", wrong)
    assert_one_error_line(run, 2, f"--address: {wrong} has a wrong EIP-55 checksum")
    assert not (tmp_path / "bad.json").exists()


def test_account_new_missing_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "acct.json"
    run = run_main("account", "new", path)
    assert_one_error_line(run, 2, f"{path}: cannot write (No such file or directory)")


def test_account_new_duplicate_collateral_refused(tmp_path: Path) -> None:
    """Bug (cli/account.py new): ``dict(_split(...) for item in collateral)`` keeps
    the last of ``--collateral USDC=1 --collateral USDC=2`` silently (the file says 2),
    while a duplicate key in an account file is refused. Fix: refuse a repeated asset
    ("--collateral: USDC given twice")."""
    path = tmp_path / "acct.json"
    run = run_main("account", "new", path, "--collateral", "USDC=1", "--collateral", "USDC=2")
    assert_one_error_line(run, 2, "USDC")
    assert not path.exists()


# ================================================================ margin


def test_margin_solvent(solvent_file: Path, market_file: Path) -> None:
    result = CliRunner().invoke(cli, ["margin", str(solvent_file), "-m", str(market_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "equity       9500",
        "requirement  475  (maintenance)",
        "solvent",
    ]


def test_margin_initial_mode(solvent_file: Path, market_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["margin", str(solvent_file), "-m", str(market_file), "--mode", "initial"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "requirement  950  (initial)"


def test_margin_insolvent(insolvent_file: Path, market_file: Path) -> None:
    run = run_main("margin", insolvent_file, "-m", market_file)
    assert run.out_lines == [
        "equity       -400",
        "requirement  475  (maintenance)",
        "INSUFFICIENT MARGIN",
    ]


def test_margin_cross_at_the_boundary(cross_file: Path, market_file: Path) -> None:
    run = run_main("margin", cross_file, "-m", market_file, "--mode", "initial")
    assert run.code == 0
    assert run.out_lines == ["equity       860", "requirement  860  (initial)", "solvent"]


def test_margin_one_unit_below_the_boundary(tmp_path: Path, market_file: Path) -> None:
    below = write_json(
        tmp_path / "below.json", {**CROSS, "collateral": {"USDC": "4.999999", "WETH": "0.5"}}
    )
    run = run_main("margin", below, "-m", market_file, "--mode", "initial")
    assert run.out_lines[-1] == "INSUFFICIENT MARGIN"


def test_margin_display_rounds_against_the_trader(tmp_path: Path) -> None:
    """Equity rounds down and requirement up to 1e-8 quote."""
    markets = write_json(
        tmp_path / "tiny-markets.json",
        {
            "markets": {"TINY": {"mmr_bps": 500, "imr_bps": 500}},
            "collateral": {"USDC": {"haircut_bps": 0, "decimals": 6}},
            "prices": {"TINY": "0.00000001", "USDC": "1"},
        },
    )
    acct = write_json(
        tmp_path / "tiny.json",
        {
            "account": ADDRESS_A,
            "salt": "1",
            "collateral": {},
            "positions": [
                {
                    "market": "TINY",
                    "side": "long",
                    "size": "0.00000001",
                    "entry_price": "0.00000002",
                }
            ],
        },
    )
    run = run_main("margin", acct, "-m", markets)
    # equity -1e-16 -> -0.00000001; requirement 5e-18 -> 0.00000001
    assert run.out_lines == [
        "equity       -0.00000001",
        "requirement  0.00000001  (maintenance)",
        "INSUFFICIENT MARGIN",
    ]


def test_margin_requires_market_file(solvent_file: Path) -> None:
    run = run_main("margin", solvent_file)
    assert run.code == 2
    assert "--market-file" in run.err
    assert "Traceback" not in run.err


# ================================================================ commit


def test_commit_is_deterministic(solvent_file: Path, market_file: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["commit", str(solvent_file), "-m", str(market_file)])
    second = runner.invoke(cli, ["commit", str(solvent_file), "-m", str(market_file)])
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    value = first.stdout.strip()
    assert value.isdigit() and 0 <= int(value) < R
    assert first.stdout == value + "\n"


def _commit(path: Path, market_file: Path, *extra: str) -> str:
    run = run_main("commit", path, "-m", market_file, *extra)
    assert run.code == 0, run.err
    return run.out.strip()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("salt", "123456790"),
        ("salt", str(R - 1)),
        ("account", ADDRESS_B),
        ("collateral", {"USDC": "99999"}),  # collateral is public: not in the commitment
        ("positions", []),
        (
            "positions",
            [{"market": "ETH-USD", "side": "short", "size": "5", "entry_price": "2000"}],
        ),
        (
            "positions",
            [{"market": "ETH-USD", "side": "long", "size": "5.00000001", "entry_price": "2000"}],
        ),
    ],
)
def test_commit_changes_with_private_values(
    tmp_path: Path, solvent_file: Path, market_file: Path, field: str, value: Any
) -> None:
    base = _commit(solvent_file, market_file)
    other = write_json(tmp_path / "other.json", {**SOLVENT, field: value})
    if field == "collateral":
        assert _commit(other, market_file) == base
    else:
        assert _commit(other, market_file) != base


def test_commit_market_binding(tmp_path: Path, solvent_file: Path, market_file: Path) -> None:
    """Isolated: slot 0 is the account's market, pinned publicly by the engine, so the
    commitment does not change with the market. Cross: slot k is market k of the file."""
    btc = copy.deepcopy(SOLVENT)
    btc["positions"][0]["market"] = "BTC-USD"
    other = write_json(tmp_path / "btc.json", btc)
    assert _commit(other, market_file) == _commit(solvent_file, market_file)
    cross = ("--circuit", "cross")
    assert _commit(other, market_file, *cross) != _commit(solvent_file, market_file, *cross)


def test_commit_depends_on_circuit(solvent_file: Path, market_file: Path) -> None:
    isolated = _commit(solvent_file, market_file, "--circuit", "isolated")
    assert _commit(solvent_file, market_file) == isolated  # auto picks isolated
    assert _commit(solvent_file, market_file, "--circuit", "cross") != isolated


def test_commit_bad_input(tmp_path: Path, market_file: Path) -> None:
    bad = write_json(tmp_path / "bad.json", {**SOLVENT, "salt": "0"})
    run = run_main("commit", bad, "-m", market_file)
    assert_one_error_line(run, 2, f"account file {bad}: salt: must be greater than zero")
    assert run.out == ""


# ================================================================ prove (real) and verify


def test_prove_solvent_writes_proof(solvent_proof: ProofRun) -> None:
    run = solvent_proof.run
    assert run.code == 0, run.err
    assert run.err == ""
    assert run.out.startswith(f"wrote {solvent_proof.path}: isolated maintenance proof")
    assert len(run.out_lines) == 1
    assert solvent_proof.path.is_file()
    # only the proof file appears in the output directory: no temp file left
    assert solvent_proof.listing_after - solvent_proof.listing_before == {"proof.json"}
    assert_no_new_tmp_entries(solvent_proof.tmp_before)


def test_proof_file_content(proof_json: dict[str, Any]) -> None:
    assert proof_json["zkmargin_proof"] == 1
    assert proof_json["circuit"] == "isolated"
    assert proof_json["mode"] == "maintenance"
    signals = proof_json["publicSignals"]
    assert all(isinstance(s, str) and s.isascii() and s.isdigit() for s in signals)
    assert all(int(s) < R for s in signals)
    st = proof_json["statement"]
    assert st["prices"] == ["1900", "1"]
    assert st["balances"] == ["10000"]
    assert st["rates_bps"] == [500]
    assert st["haircuts_bps"] == [0]
    assert st["account"] == ADDRESS_A
    assert st["chain_id"] == 31337 and st["nonce"] == 0
    assert st["opening"] is False


def test_proof_file_holds_no_private_value(solvent_proof: ProofRun) -> None:
    text = solvent_proof.path.read_text()
    assert SOLVENT["salt"] not in text
    for key in ('"salt"', '"positions"', '"size"', '"entry_price"', '"side"'):
        assert key not in text


def test_proof_commitment_matches_commit(
    proof_json: dict[str, Any], solvent_file: Path, market_file: Path, tmp_path: Path
) -> None:
    commitment = _commit(solvent_file, market_file)
    assert proof_json["publicSignals"][0] == commitment
    assert proof_json["statement"]["commitment"] == commitment
    # another account's commitment, or the same account with a wrong salt, differs
    other = write_json(tmp_path / "other.json", {**SOLVENT, "account": ADDRESS_B})
    salted = write_json(tmp_path / "salted.json", {**SOLVENT, "salt": "123456788"})
    assert _commit(other, market_file) != commitment
    assert _commit(salted, market_file) != commitment


def test_verify_valid_script(solvent_proof: ProofRun) -> None:
    assert solvent_proof.run.code == 0, solvent_proof.run.err
    run = run_script("verify", solvent_proof.path)
    assert run.code == 0, run.err
    assert run.err == ""
    assert run.out_lines == [
        "valid: isolated proof verifies (rates [500] bps, nonce 0, chain 31337)"
    ]


def test_verify_valid_in_process(solvent_proof: ProofRun) -> None:
    assert solvent_proof.run.code == 0, solvent_proof.run.err
    result = CliRunner().invoke(cli, ["verify", str(solvent_proof.path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("valid:")


def test_cross_proof_at_boundary_with_binding(cross_proof: ProofRun) -> None:
    """Equity exactly equals the initial requirement: the claim is >=, so it proves."""
    run = cross_proof.run
    assert run.code == 0, run.err
    assert run.out.startswith(f"wrote {cross_proof.path}: cross initial proof")
    assert cross_proof.listing_after - cross_proof.listing_before == {"cross-proof.json"}
    st = json.loads(cross_proof.path.read_text())["statement"]
    assert st["chain_id"] == 1 and st["nonce"] == 7
    assert st["engine"] == ENGINE
    assert st["account"] == ADDRESS_B
    assert st["opening"] is True
    assert st["rates_bps"][:2] == [1000, 800]  # IMR of ETH-USD and BTC-USD
    verified = run_main("verify", cross_proof.path)
    assert verified.code == 0, verified
    assert verified.out_lines == [
        "valid: cross proof verifies (opening, rates [1000, 800, 0, 0] bps, nonce 7, chain 1)"
    ]
    assert_no_new_tmp_entries(cross_proof.tmp_before)


def test_prove_insolvent_script(tmp_path: Path, insolvent_file: Path, market_file: Path) -> None:
    out = tmp_path / "proof.json"
    tmp_before = private_tmp_entries()
    run = run_script("prove", insolvent_file, "-m", market_file, "-o", out)
    assert run.code == 1, run
    assert run.err == "error: insufficient margin: equity -400 < requirement 475\n"
    assert run.out == ""
    assert list(tmp_path.iterdir()) == []
    assert_no_new_tmp_entries(tmp_before)


def test_prove_insolvent_in_initial_mode_only(tmp_path: Path, market_file: Path) -> None:
    acct = write_json(tmp_path / "a.json", {**SOLVENT, "collateral": {"USDC": "600"}})
    out = tmp_path / "proof.json"
    run = run_main("prove", acct, "-m", market_file, "-o", out, "--mode", "initial")
    assert run.code == 1
    assert run.err_lines == ["error: insufficient margin: equity 100 < requirement 950"]
    assert not out.exists()


def test_prove_one_unit_below_boundary(tmp_path: Path, market_file: Path) -> None:
    below = write_json(
        tmp_path / "below.json", {**CROSS, "collateral": {"USDC": "4.999999", "WETH": "0.5"}}
    )
    out = tmp_path / "proof.json"
    run = run_main("prove", below, "-m", market_file, "-o", out, "--mode", "initial")
    assert run.code == 1
    assert run.err_lines == ["error: insufficient margin: equity 859.999999 < requirement 860"]
    assert not out.exists()


BAD_ACCOUNT_TEXTS: list[tuple[str, str, str]] = [
    ("malformed-json", json.dumps(SOLVENT)[:-7], "not valid JSON (line 1"),
    (
        "unknown-market",
        json.dumps(SOLVENT).replace('"ETH-USD"', '"XRP-USD"'),
        "positions[0].market: unknown market 'XRP-USD'",
    ),
    (
        "float-amount",
        json.dumps(SOLVENT).replace('"10000"', "10000.0"),
        "JSON number 10000.0 is not allowed",
    ),
]


@pytest.mark.parametrize(
    ("text", "fragment"), [pytest.param(t, f, id=n) for n, t, f in BAD_ACCOUNT_TEXTS]
)
def test_prove_bad_input_script(
    tmp_path: Path, market_file: Path, text: str, fragment: str
) -> None:
    acct = tmp_path / "acct.json"
    acct.write_text(text)
    out = tmp_path / "proof.json"
    run = run_script("prove", acct, "-m", market_file, "-o", out)
    line = assert_one_error_line(run, 2, f"account file {acct}: ", fragment)
    assert line.count("\n") == 0
    assert run.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acct.json"]


BAD_ACCOUNTS: list[tuple[str, Any, str]] = [
    ("float-size", {"size": 5.5}, "JSON number 5.5"),
    ("big-json-int", {"size": 2**53 + 1}, "positions[0].size: expected a decimal string"),
    ("exponent", {"size": "5e0"}, "positions[0].size: '5e0' is not a plain decimal"),
    ("negative", {"size": "-5"}, "positions[0].size"),
    ("2^64", {"size": "184467440737.09551616"}, "positions[0].size: 184467440737.09551616"),
    ("entry-zero", {"entry_price": "0"}, "positions[0].entry_price: must be greater than zero"),
    ("side", {"side": "Long"}, "positions[0].side"),
]


@pytest.mark.parametrize(
    ("change", "fragment"), [pytest.param(c, f, id=n) for n, c, f in BAD_ACCOUNTS]
)
def test_prove_bad_position(
    tmp_path: Path, market_file: Path, change: dict[str, Any], fragment: str
) -> None:
    data = copy.deepcopy(SOLVENT)
    data["positions"][0].update(change)
    acct = tmp_path / "acct.json"
    acct.write_text(json.dumps(data))
    out = tmp_path / "proof.json"
    for command in (["prove", "-o", out], ["margin"], ["commit"]):
        run = run_main(command[0], acct, "-m", market_file, *command[1:])
        assert_one_error_line(run, 2, f"account file {acct}: ", fragment)
        assert run.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acct.json"]


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("empty", "", "file is empty"),
        ("truncated", json.dumps(SOLVENT)[:20], "not valid JSON"),
        ("not-object", "[]", "expected a JSON object"),
        ("duplicate", json.dumps(SOLVENT)[:-1] + ', "salt": "5"}', "duplicate key 'salt'"),
        ("salt-r", json.dumps({**SOLVENT, "salt": str(R)}), "salt: must be below"),
        ("salt-0", json.dumps({**SOLVENT, "salt": "0"}), "salt: must be greater than zero"),
        ("salt-neg", json.dumps({**SOLVENT, "salt": "-1"}), "salt: expected a decimal integer"),
        (
            "unknown-collateral",
            json.dumps({**SOLVENT, "collateral": {"DAI": "1"}}),
            "collateral.DAI: unknown collateral asset",
        ),
        (
            "usdc-7-decimals",
            json.dumps({**SOLVENT, "collateral": {"USDC": "1.0000001"}}),
            "collateral.USDC: 1.0000001 has more than 6 decimals",
        ),
        (
            "bad-checksum",
            json.dumps({**SOLVENT, "account": ADDRESS_A.replace("AB", "ab", 1)}),
            "account: 0x12ab12ab12ab12aB12Ab12ab12ab12AB12Ab12aB has a wrong EIP-55 checksum",
        ),
        ("unknown-field", json.dumps({**SOLVENT, "pin": "1"}), "unknown field 'pin'"),
    ],
)
def test_prove_bad_account_file(
    tmp_path: Path, market_file: Path, name: str, text: str, fragment: str
) -> None:
    acct = tmp_path / f"{name}.json"
    acct.write_text(text)
    out = tmp_path / "proof.json"
    run = run_main("prove", acct, "-m", market_file, "-o", out)
    assert_one_error_line(run, 2, f"account file {acct}: ", fragment)
    assert not out.exists()


def test_prove_non_utf8_account(tmp_path: Path, market_file: Path) -> None:
    acct = tmp_path / "acct.json"
    acct.write_bytes(json.dumps(SOLVENT).encode().replace(b"USDC", b"US\xffC"))
    run = run_main("prove", acct, "-m", market_file, "-o", tmp_path / "p.json")
    assert_one_error_line(run, 2, f"account file {acct}: not UTF-8 text")


def test_prove_missing_account(tmp_path: Path, market_file: Path) -> None:
    acct = tmp_path / "nope.json"
    run = run_main("prove", acct, "-m", market_file, "-o", tmp_path / "p.json")
    assert_one_error_line(run, 2, f"account file {acct}: no such file")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda m: m["prices"].__setitem__("ETH-USD", 1900.5), "JSON number 1900.5"),
        (lambda m: m["prices"].__setitem__("ETH-USD", 1900), "prices.ETH-USD: expected a decimal"),
        (lambda m: m["prices"].__setitem__("ETH-USD", "1.9e3"), "prices.ETH-USD"),
        (lambda m: m["prices"].__setitem__("ETH-USD", "0"), "prices.ETH-USD: must be greater"),
        (lambda m: m["prices"].__setitem__("DOGE", "1"), "prices.DOGE: unknown market"),
        (lambda m: m["prices"].pop("BTC-USD"), "prices: missing price for 'BTC-USD'"),
        (lambda m: m["markets"]["ETH-USD"].__setitem__("mmr_bps", 10001), "ETH-USD.mmr_bps"),
        (lambda m: m["markets"]["ETH-USD"].__setitem__("imr_bps", 100), "markets.ETH-USD: imr"),
        (lambda m: m["collateral"]["USDC"].__setitem__("haircut_bps", -1), "USDC.haircut_bps"),
    ],
)
def test_prove_bad_market_file(
    tmp_path: Path, solvent_file: Path, change: Any, fragment: str
) -> None:
    data = copy.deepcopy(MARKETS)
    change(data)
    markets = write_json(tmp_path / "m.json", data)
    out = tmp_path / "proof.json"
    run = run_main("prove", solvent_file, "-m", markets, "-o", out)
    assert_one_error_line(run, 2, f"market file {markets}: ", fragment)
    assert not out.exists()


def test_prove_account_too_big_for_isolated(tmp_path: Path, market_file: Path) -> None:
    acct = write_json(tmp_path / "two.json", {**CROSS, "collateral": {"USDC": "100000"}})
    out = tmp_path / "proof.json"
    run = run_main("prove", acct, "-m", market_file, "-o", out, "--circuit", "isolated")
    assert_one_error_line(run, 2, "isolated")
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--engine", "0x1234"], "--engine"),
        (["--nonce", "-1"], "--nonce"),
        (["--nonce", str(2**64)], "--nonce"),
        (["--chain-id", "abc"], "--chain-id"),
        (["--circuit", "huge"], "--circuit"),
        (["--mode", "liquidation"], "--mode"),
    ],
)
def test_prove_bad_options(
    tmp_path: Path, solvent_file: Path, market_file: Path, args: list[str], fragment: str
) -> None:
    out = tmp_path / "proof.json"
    run = run_main("prove", solvent_file, "-m", market_file, "-o", out, *args)
    assert run.code == 2, run
    assert fragment in run.err
    assert "Traceback" not in run.err
    assert not out.exists()


# ---------------------------------------------------------------- prove output handling


@pytest.fixture
def fake_prover(monkeypatch: pytest.MonkeyPatch, solvent_proof: ProofRun) -> None:
    """Replace the real prover in the CLI by one returning the session's proof."""
    assert solvent_proof.run.code == 0, solvent_proof.run.err
    bundle = ProofBundle.load(solvent_proof.path)

    class FakeProver:
        def prove(self, *args: object, **kwargs: object) -> ProofBundle:
            return bundle

    monkeypatch.setattr("cli.prove.Prover", FakeProver)


@pytest.mark.usefixtures("fake_prover")
def test_prove_output_directory_missing(
    tmp_path: Path, solvent_file: Path, market_file: Path
) -> None:
    out = tmp_path / "missing" / "proof.json"
    run = run_main("prove", solvent_file, "-m", market_file, "-o", out)
    assert_one_error_line(run, 2, str(out), "cannot write")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("fake_prover")
def test_prove_write_failure_leaves_nothing(
    tmp_path: Path, solvent_file: Path, market_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("zkmargin.jsonio.os.fsync", no_space)
    out = tmp_path / "proof.json"
    run = run_main("prove", solvent_file, "-m", market_file, "-o", out)
    assert run.code != 0
    assert "Traceback" not in run.err
    assert len(run.err_lines) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("fake_prover")
def test_prove_fake_writes_complete_file(
    tmp_path: Path, solvent_file: Path, market_file: Path, solvent_proof: ProofRun
) -> None:
    out = tmp_path / "proof.json"
    run = run_main("prove", solvent_file, "-m", market_file, "-o", out)
    assert run.code == 0, run.err
    assert json.loads(out.read_text()) == json.loads(solvent_proof.path.read_text())
    assert [p.name for p in tmp_path.iterdir()] == ["proof.json"]


@pytest.mark.usefixtures("fake_prover")
def test_prove_refuses_to_overwrite_the_account_file(tmp_path: Path, market_file: Path) -> None:
    """Bug (cli/prove.py + zkmargin/proofs.py write_json_atomic): ``-o`` naming the
    account file itself replaces the private account file (the only copy of the salt)
    with the proof, via os.replace. Fix: refuse when the output resolves to the account
    or market file (``os.path.samefile``); consider refusing any existing output without
    --force, as write_private_json does."""
    acct = write_json(tmp_path / "acct.json", SOLVENT)
    before = acct.read_bytes()
    run = run_main("prove", acct, "-m", market_file, "-o", acct)
    assert acct.read_bytes() == before, "the private account file was overwritten"
    assert run.code == 2


# ---------------------------------------------------------------- verify: refusals


def _tampered(proof: dict[str, Any], edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(proof)
    edit(data)
    return data


def _bump(data: dict[str, Any], i: int, delta: int = 1) -> None:
    """Change one signal and the readable statement with it, so only the pairing check
    can tell (an edit that leaves the statement behind is refused earlier, by name)."""
    data["publicSignals"][i] = str(int(data["publicSignals"][i]) + delta)
    data.pop("statement", None)


def _set(path: Sequence[Any], value: Any) -> Any:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _coord(path: Sequence[Any], delta: int) -> Any:
    def edit(data: dict[str, Any]) -> None:
        node: Any = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = str(int(node[path[-1]]) + delta)

    return edit


def _swap_a_c(data: dict[str, Any]) -> None:
    p = data["proof"]
    p["pi_a"], p["pi_c"] = p["pi_c"], p["pi_a"]


def _negate_a(data: dict[str, Any]) -> None:
    q = 21888242871839275222246405745257275088696311157297823662689037894645226208583
    a = data["proof"]["pi_a"]
    a[1] = str(q - int(a[1]))


TAMPERS: list[tuple[str, Any]] = [
    ("commitment+1", lambda d: _bump(d, 0)),
    ("commitment-1", lambda d: _bump(d, 0, -1)),
    ("price-word+1", lambda d: _bump(d, 1)),
    ("balance-word+1", lambda d: _bump(d, 2)),
    ("params-word+1", lambda d: _bump(d, 3)),
    ("account-nonce+1", lambda d: _bump(d, -2)),
    ("engine-chain+1", lambda d: _bump(d, -1)),
    ("signal=r", lambda d: d["publicSignals"].__setitem__(0, str(R))),
    ("signal+r", lambda d: _bump(d, 0, R)),
    ("signal-negative", lambda d: d["publicSignals"].__setitem__(0, "-1")),
    ("signal-leading-zero", lambda d: d["publicSignals"].__setitem__(3, "0500")),
    ("signal-exponent", lambda d: d["publicSignals"].__setitem__(3, "5e2")),
    ("signal-int", lambda d: d["publicSignals"].__setitem__(3, 500)),
    ("signal-null", lambda d: d["publicSignals"].__setitem__(3, None)),
    ("signal-dropped", lambda d: d["publicSignals"].pop()),
    ("signal-added", lambda d: d["publicSignals"].append("0")),
    ("signals-empty", _set(["publicSignals"], [])),
    ("signals-not-list", _set(["publicSignals"], "0")),
    ("pi_a.x+1", _coord(["proof", "pi_a", 0], 1)),
    ("pi_a.y+1", _coord(["proof", "pi_a", 1], 1)),
    ("pi_a.negated", _negate_a),
    ("pi_b.x0+1", _coord(["proof", "pi_b", 0, 0], 1)),
    ("pi_b.y1+1", _coord(["proof", "pi_b", 1, 1], 1)),
    ("pi_c.x+1", _coord(["proof", "pi_c", 0], 1)),
    ("pi_a<->pi_c", _swap_a_c),
    ("pi_a.z=0", _set(["proof", "pi_a", 2], "0")),
    ("pi_a-missing", lambda d: d["proof"].pop("pi_a")),
    ("protocol", _set(["proof", "protocol"], "plonk")),
    ("curve", _set(["proof", "curve"], "bls12381")),
    ("proof-not-object", _set(["proof"], [])),
    ("circuit-cross", _set(["circuit"], "cross")),
    ("circuit-unknown", _set(["circuit"], "huge")),
    ("circuit-int", _set(["circuit"], 1)),
    ("mode-unknown", _set(["mode"], "liquidation")),
    ("format-2", _set(["zkmargin_proof"], 2)),
    ("format-missing", lambda d: d.pop("zkmargin_proof")),
    ("signals-missing", lambda d: d.pop("publicSignals")),
]


@pytest.mark.parametrize("edit", [pytest.param(e, id=n) for n, e in TAMPERS])
def test_verify_tampered_proof_is_invalid(
    tmp_path: Path, proof_json: dict[str, Any], edit: Any
) -> None:
    path = write_json(tmp_path / "tampered.json", _tampered(proof_json, edit))
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.err == ""
    assert len(run.out_lines) == 1, run.out
    assert run.out.startswith("invalid: "), run.out


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n", id="blank"),
        pytest.param("[]", id="array"),
        pytest.param("null", id="null"),
        pytest.param('{"zkmargin_proof": 1}', id="bare"),
    ],
)
def test_verify_malformed_proof_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "proof.json"
    path.write_text(text)
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.out_lines and run.out.startswith("invalid: ")
    assert len(run.out_lines) == 1


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_verify_truncated_proof_file(
    tmp_path: Path, solvent_proof: ProofRun, fraction: float
) -> None:
    assert solvent_proof.run.code == 0, solvent_proof.run.err
    text = solvent_proof.path.read_text().rstrip()
    path = tmp_path / "cut.json"
    path.write_text(text[: int(len(text) * fraction)])
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.out.startswith("invalid: ") and len(run.out_lines) == 1


def test_verify_non_utf8_proof_file(tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(b'{"zkmargin_proof": 1, "circuit": "\xff"}')
    run = run_main("verify", path)
    assert run.code == 1
    assert run.out.startswith("invalid: ") and "not UTF-8" in run.out


def test_verify_tampered_script(tmp_path: Path, proof_json: dict[str, Any]) -> None:
    """Real entry point: a pairing failure is exit 1 with one 'invalid:' line."""
    path = write_json(tmp_path / "t.json", _tampered(proof_json, lambda d: _bump(d, 0)))
    run = run_script("verify", path)
    assert run.code == 1, run
    assert run.err == ""
    assert run.out_lines == [
        "invalid: pairing check failed: the proof does not match its public signals"
    ]


def test_verify_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    run = run_main("verify", path)
    assert_one_error_line(run, 2, f"proof file {path}: no such file")
    assert run.out == ""


def test_verify_missing_file_script(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    run = run_script("verify", path)
    assert_one_error_line(run, 2, f"proof file {path}: no such file")


def test_verify_directory(tmp_path: Path) -> None:
    run = run_main("verify", tmp_path)
    assert run.code == 2
    assert "Traceback" not in run.err


# ---------------------------------------------------------------- verify: bugs found


def test_verify_non_ascii_digit_signal_is_invalid(
    tmp_path: Path, proof_json: dict[str, Any]
) -> None:
    """Bug (zkmargin/proofs.py ProofBundle.from_json): signals are checked with
    ``str.isdigit()``, which is True for "²"; ``int("²")`` then raises ValueError and the CLI
    reports "internal error" with exit 70 instead of "invalid:" with exit 1.
    Fix: check ``s.isascii() and s.isdigit()`` (or a ``[0-9]+`` fullmatch)."""
    data = _tampered(proof_json, lambda d: d["publicSignals"].__setitem__(3, "²"))
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.out.startswith("invalid: ")


def test_verify_arabic_indic_digits_are_invalid(tmp_path: Path, proof_json: dict[str, Any]) -> None:
    """Bug (zkmargin/proofs.py ProofBundle.from_json): a signal written in Arabic-Indic
    digits passes ``isdigit()`` and ``int()`` converts it, so a non-canonical proof file
    verifies as valid (the on-chain client and snarkjs would reject it). Same fix."""
    table = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
    data = _tampered(
        proof_json,
        lambda d: d["publicSignals"].__setitem__(0, d["publicSignals"][0].translate(table)),
    )
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.out.startswith("invalid: ")


def test_verify_huge_signal_is_invalid(tmp_path: Path, proof_json: dict[str, Any]) -> None:
    """Bug (zkmargin/proofs.py ProofBundle.from_json): ``int(s)`` of a 5000-digit signal raises
    CPython's int-digit-limit ValueError: "internal error", exit 70, instead of invalid.
    Fix: refuse signals longer than 78 digits (r has 77) before int()."""
    data = _tampered(proof_json, lambda d: d["publicSignals"].__setitem__(1, "1" * 5000))
    path = write_json(tmp_path / "p.json", data)
    run = run_main("verify", path)
    assert run.code == 1, run
    assert run.out.startswith("invalid: ")


def test_verify_does_not_trust_the_mode_label(tmp_path: Path, proof_json: dict[str, Any]) -> None:
    """Bug (verifier/bundle.py verify_bundle + zkmargin/proofs.py): the "mode" field is not
    bound to the proof, yet the verdict repeats it. Relabelling a maintenance (MMR) proof
    as "initial" prints "valid: isolated initial proof verifies", although the rates in
    the public signals are the MMR. Fix: do not print the unverified label (or print the
    rates from the public signals), or have verify take --market-file and check the
    rates against the claimed mode's MMR/IMR."""
    data = _tampered(proof_json, _set(["mode"], "initial"))
    path = write_json(tmp_path / "relabelled.json", data)
    run = run_main("verify", path)
    assert not (run.code == 0 and "initial" in run.out), run.out


def test_deep_nesting_does_not_crash_the_cli(tmp_path: Path, market_file: Path) -> None:
    """Bug (zkmargin/jsonio.py parse_json): py_ecc raises the recursion limit to 100000,
    so a 100 KB file of ``[[[[…`` (well under MAX_FILE_BYTES) overflows the C stack in
    json.loads and the process dies with SIGSEGV (exit -11/139), for account, market and
    proof files alike. Fix: bound the nesting depth before json.loads."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    margin = run_script("margin", deep, "-m", market_file)
    assert margin.code == 2, f"margin exit {margin.code}: {margin.err[-300:]}"
    assert_one_error_line(margin, 2, f"account file {deep}")
    verify = run_script("verify", deep)
    assert verify.code == 1, f"verify exit {verify.code}: {verify.err[-300:]}"
    assert verify.out.startswith("invalid: ")


def test_huge_json_int_is_a_clean_error(tmp_path: Path, market_file: Path) -> None:
    """Bug (zkmargin/jsonio.py parse_json): a JSON integer of >4300 digits makes json.loads
    raise a plain ValueError; the CLI prints "internal error: ValueError: Exceeds the
    limit (4300 digits) ..." with exit 70 instead of one line naming the file, exit 2."""
    acct = tmp_path / "acct.json"
    acct.write_text(json.dumps(SOLVENT).replace('"123456789"', "1" * 5000))
    run = run_main("margin", acct, "-m", market_file)
    assert_one_error_line(run, 2, f"account file {acct}")


# ---------------------------------------------------------------- no files behind


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


def test_failed_commands_leave_no_file_in_cwd(
    empty_cwd: Path, insolvent_file: Path, market_file: Path, tmp_path: Path
) -> None:
    bad = write_json(tmp_path / "bad.json", {**SOLVENT, "salt": "0"})
    runs = [
        run_main("prove", insolvent_file, "-m", market_file, "-o", "proof.json"),
        run_main("prove", bad, "-m", market_file, "-o", "proof.json"),
        run_main("account", "new", "acct.json", "--collateral", "USDC=1e3"),
        run_main("account", "new", "acct.json", "--position", "nonsense"),
        run_main("commit", bad, "-m", market_file),
        run_main("margin", bad, "-m", market_file),
    ]
    assert [r.code for r in runs] == [1, 2, 2, 2, 2, 2]
    assert list(empty_cwd.iterdir()) == []
