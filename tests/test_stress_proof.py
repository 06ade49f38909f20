"""Stress proofs off-chain: ``prove --stress`` and ``verify`` (real prover, py_ecc verifier).

The shock rule (floor(P x (10000 + bps) / 10000), 1 bp steps, > -100%, collateral on a
market's feed moves with it), every refusal of a bad ``--stress`` spec (one line, exit 2,
no file), exit 1 with nothing written when the account fails at the shocked prices, and
``verify`` refusing a proof file whose stress block does not give its signals.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tooling.cli_run import one_line_error, run_cli

from zkmargin.accounts import parse_market_data
from zkmargin.errors import InputError
from zkmargin.stress import apply_stress, parse_stress, shocked_price

ROOT = Path(__file__).resolve().parent.parent
MARKETS: dict[str, Any] = json.loads((ROOT / "examples" / "markets.json").read_text())
E8 = 10**8
# USDC 1000 + 2 WETH; long 1 ETH @1900, short 0.01 BTC @60000. At ETH -30%, BTC +25%:
# equity 1000 + 2*1330*0.9 - 570 - 150 = 2674 >= 66.5 + 30; at ETH -90% it is negative.
BOB: dict[str, Any] = {
    "account": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "salt": "424242",
    "collateral": {"USDC": "1000", "WETH": "2"},
    "positions": [
        {"market": "ETH-USD", "side": "long", "size": "1", "entry_price": "1900"},
        {"market": "BTC-USD", "side": "short", "size": "0.01", "entry_price": "60000"},
    ],
}
SPEC = "ETH-USD=-30%,BTC-USD=+25%"


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "bob.account.json", BOB), write(tmp_path / "m.json", MARKETS)


@pytest.fixture(scope="module")
def stress_proof(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("stress")
    acct, markets = write(d / "bob.account.json", BOB), write(d / "m.json", MARKETS)
    out = d / "stress.json"
    run = run_cli("prove", acct, "-m", markets, "--stress", SPEC, "-o", out, "--local")
    assert run.code == 0, run.err
    data: dict[str, Any] = json.loads(out.read_text())
    return data


# ------------------------------------------------------------------ the rule


def test_shock_rounds_down_in_whole_bps() -> None:
    assert shocked_price(2000 * E8, -3000) == 1400 * E8
    assert shocked_price(60000 * E8 + 1, -1) == (60000 * E8 + 1) * 9999 // 10000
    assert shocked_price(3, -5000) == 1  # 1.5 -> 1: down, against the trader
    assert shocked_price(7, 1) == 7  # 7.0007 -> 7
    data = parse_market_data(MARKETS)
    spec = parse_stress("ETH-USD=-0.01%, BTC-USD=-99.99%", data)
    assert dict(spec.shocks) == {"ETH-USD": -1, "BTC-USD": -9999}
    assert dict(parse_stress("ETH-USD=+327.67%", data).shocks) == {"ETH-USD": 32767}
    assert dict(parse_stress("ETH-USD=12.50%", data).shocks) == {"ETH-USD": 1250}


def test_collateral_on_a_markets_feed_moves_with_it() -> None:
    data = parse_market_data(MARKETS)
    stressed = apply_stress(parse_stress(SPEC, data), data)
    assert stressed.prices == {
        "ETH-USD": 1330 * E8,
        "BTC-USD": 75000 * E8,
        "USDC": 1 * E8,  # its own feed: unchanged
        "WETH": 1330 * E8,  # risk_factor ETH-USD: the same shock
    }
    no_factor = copy.deepcopy(MARKETS)
    del no_factor["collateral"]["WETH"]["risk_factor"]
    data = parse_market_data(no_factor)
    assert apply_stress(parse_stress(SPEC, data), data).prices["WETH"] == 1900 * E8


BAD_SPECS = [
    ("FOO-USD=-10%", "--stress: unknown market 'FOO-USD' (markets: ETH-USD, BTC-USD)"),
    ("ETH-USD=-100%", "--stress: ETH-USD=-100%: a shock must be greater than -100%"),
    ("ETH-USD=-150%", "--stress: ETH-USD=-150%: a shock must be greater than -100%"),
    ("ETH-USD=abc", "--stress: ETH-USD=abc: expected a percentage such as -30% or +12.5%"),
    ("ETH-USD=-30%,ETH-USD=-1%", "--stress: ETH-USD is shocked twice"),
    ("ETH-USD=-30", "--stress: ETH-USD=-30: expected a percentage such as -30% (the % is missing)"),
    ("ETH-USD=-0.015%", "--stress: ETH-USD=-0.015%: finer than 1 bp (0.01%)"),
    ("ETH-USD=+400%", "--stress: ETH-USD=+400%: at most +327.67%"),
    ("WETH=-10%", "--stress: WETH is a collateral asset; shock the market whose feed prices it"),
    ("ETH-USD", "--stress: 'ETH-USD': expected MARKET=PCT, e.g. ETH-USD=-30%"),
    ("ETH-USD=-1%,", "--stress 'ETH-USD=-1%,': expected MARKET=PCT[,MARKET=PCT...]"),
]


@pytest.mark.parametrize(("spec", "message"), BAD_SPECS)
def test_bad_spec_is_one_line_exit_2_and_no_file(
    spec: str, message: str, files: tuple[Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(InputError) as exc:
        parse_stress(spec, parse_market_data(MARKETS))
    assert str(exc.value).startswith(message)
    out = tmp_path / "p.json"
    run = run_cli("prove", files[0], "-m", files[1], "--stress", spec, "-o", out, "--local")
    assert one_line_error(run, 2) == f"error: {exc.value}"
    assert not out.exists()


def test_stress_proof_is_maintenance_only(files: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    for extra in (["--mode", "initial"], ["--mode", "withdrawal"], ["--opening"]):
        run = run_cli("prove", *files[:1], "-m", files[1], "--stress", SPEC, "-o", out, *extra)
        assert one_line_error(run, 2) == (
            "error: --stress: a stress proof is a maintenance proof (drop --mode and --opening)"
        )
    assert not out.exists()


def test_shocked_price_that_is_not_a_price_is_refused(tmp_path: Path) -> None:
    markets = copy.deepcopy(MARKETS)
    markets["prices"]["BTC-USD"] = "0.00000001"
    acct, mfile = write(tmp_path / "a.json", BOB), write(tmp_path / "m.json", markets)
    run = run_cli("prove", acct, "-m", mfile, "--stress", "BTC-USD=-50%", "-o", tmp_path / "p")
    assert one_line_error(run, 2) == (
        "error: --stress: BTC-USD: 0.00000001 shocked by -50% is 0, not a valid price "
        "(1e-8 .. 2^64 - 1 units)"
    )


def test_risk_factor_must_name_a_market(tmp_path: Path) -> None:
    markets = copy.deepcopy(MARKETS)
    markets["collateral"]["WETH"]["risk_factor"] = "ETH"
    run = run_cli("margin", write(tmp_path / "a.json", BOB), "-m", write(tmp_path / "m", markets))
    assert "collateral.WETH.risk_factor: expected the name of a listed market" in one_line_error(
        run, 2
    )


# ------------------------------------------------------------------ prove and verify


def test_account_failing_at_the_shock_exits_1_and_writes_nothing(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "p.json"
    run = run_cli("prove", *files[:1], "-m", files[1], "--stress", "ETH-USD=-90%", "-o", out)
    assert one_line_error(run, 1).startswith("error: insufficient margin: equity -")
    assert set(tmp_path.iterdir()) == set(files)


def test_stress_proof_records_shocks_and_base_prices(stress_proof: dict[str, Any]) -> None:
    assert stress_proof["mode"] == "maintenance"
    # the statement's prices are the shocked ones: ETH, BTC, two unused slots, USDC, WETH
    assert stress_proof["statement"]["prices"] == [
        "1330", "75000", "0.00000001", "0.00000001", "1", "1330",
    ]  # fmt: skip
    assert stress_proof["stress"] == {
        "shocks_bps": {"ETH-USD": -3000, "BTC-USD": 2500},
        "slots": [
            {"name": "ETH-USD", "moves_with": "ETH-USD", "base_price": "1900"},
            {"name": "BTC-USD", "moves_with": "BTC-USD", "base_price": "60000"},
            {"name": None, "moves_with": None, "base_price": "0.00000001"},
            {"name": None, "moves_with": None, "base_price": "0.00000001"},
            {"name": "USDC", "moves_with": None, "base_price": "1"},
            {"name": "WETH", "moves_with": "ETH-USD", "base_price": "1900"},
        ],
    }
    assert "salt" not in json.dumps(stress_proof) and BOB["salt"] not in json.dumps(stress_proof)


def test_verify_prints_the_shocks_and_shocked_prices(
    stress_proof: dict[str, Any], tmp_path: Path
) -> None:
    run = run_cli("verify", write(tmp_path / "p.json", stress_proof))
    assert run.code == 0, run.out + run.err
    assert run.out_lines[0].startswith("valid: cross proof verifies (rates [500, 400, 0, 0] bps")
    assert run.out_lines[1] == (
        "stress: ETH-USD -30% (-3000 bps), BTC-USD +25% (2500 bps); shocked prices: "
        "ETH-USD 1900 -> 1330, BTC-USD 60000 -> 75000, WETH 1900 -> 1330 (with ETH-USD)"
    )


def _tampered(proof: dict[str, Any], edit: Any) -> dict[str, Any]:
    bad = copy.deepcopy(proof)
    edit(bad)
    return bad


TAMPERS = [
    (
        lambda p: p["stress"]["slots"][0].update(base_price="2000"),
        "stress.slots[0] (ETH-USD): the shock gives 1400, the public signals say 1330"
        " (the stress block was altered)",
    ),
    (
        lambda p: p["stress"]["shocks_bps"].update({"ETH-USD": -2000}),
        "stress.slots[0] (ETH-USD): the shock gives 1520, the public signals say 1330"
        " (the stress block was altered)",
    ),
    (  # claiming WETH kept its price (a milder stress than the one proved)
        lambda p: p["stress"]["slots"][5].update(moves_with=None),
        "stress.slots[5] (WETH): the shock gives 1900, the public signals say 1330"
        " (the stress block was altered)",
    ),
    (
        lambda p: p["stress"]["shocks_bps"].update({"BTC-USD": -10000}),
        "stress.shocks_bps.BTC-USD: expected whole bps in -9999..32767, got -10000",
    ),
    (
        lambda p: p["stress"]["slots"][1].update(moves_with="ETH-USD"),
        "stress.slots[1]: a market moves with its own shock",
    ),
    (  # a shock that moves no slot of the statement (it would read as stressed)
        lambda p: p["stress"]["shocks_bps"].update({"SOL-USD": 0}),
        "stress.shocks_bps.SOL-USD: no price slot moves with it",
    ),
    (
        lambda p: p.update(mode="initial"),
        "stress: a stress proof is a maintenance statement",
    ),
]


@pytest.mark.parametrize(("edit", "message"), TAMPERS)
def test_verify_refuses_a_stress_block_the_signals_do_not_give(
    stress_proof: dict[str, Any], edit: Any, message: str, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.json", _tampered(stress_proof, edit))
    run = run_cli("verify", path)
    assert run.code == 1, run.out + run.err
    assert run.out_lines == [f"invalid: proof file {path}: {message}"]


def test_plain_proof_at_shocked_prices_without_the_block_says_nothing_of_stress(
    stress_proof: dict[str, Any], tmp_path: Path
) -> None:
    plain = _tampered(stress_proof, lambda p: p.pop("stress"))
    run = run_cli("verify", write(tmp_path / "p.json", plain))
    assert run.code == 0
    assert len(run.out_lines) == 1 and "stress" not in run.out
