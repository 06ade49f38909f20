"""The guardian's volatility on the session's anvil: `zkmargin guard --history` fits the
feeds (and their correlation) to a price history; a running guardian fits the oracle
prices it observed once it has enough; bad volatility options are one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tooling.cli_run import run_cli

from chain.guardian import GuardConfig, Guardian
from chain.local import LocalSystem
from chain.signers import dev_signer
from prover.prove import Prover
from zkmargin.volatility import MIN_RETURNS

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "data" / "sp500_nasdaq_daily.csv"
ADMIN = dev_signer(0)
ADDRESS = dev_signer(9).address


@pytest.fixture()
def files(chain_snapshot: LocalSystem, tmp_path: Path) -> tuple[Path, Path]:
    deployment = tmp_path / "deployment.json"
    chain_snapshot.deployment.save(deployment)
    account = tmp_path / "t.account.json"
    account.write_text(
        json.dumps({"account": ADDRESS, "salt": "5", "collateral": {}, "positions": []})
    )
    return account, deployment


def guard(files: tuple[Path, Path], tmp_path: Path, *extra: object) -> object:
    account, deployment = files
    return run_cli(
        "guard", account, "--deployment", deployment, "--state", tmp_path / "g.json",
        "--max-iterations", 1, *extra,
    )  # fmt: skip


def test_guard_fits_a_history_with_correlation(files: tuple[Path, Path], tmp_path: Path) -> None:
    run = guard(files, tmp_path, "--history", HISTORY, "--daily-vol", "BTC-USD=7%")
    assert run.code == 0, run.err  # type: ignore[attr-defined]
    line = run.out_lines[1]  # type: ignore[attr-defined]
    # ETH-USD's feed takes the first series, BTC-USD's the next; BTC's vol is overridden
    assert line.startswith(
        "volatility from history sp500_nasdaq_daily.csv (ewma), --daily-vol for BTC/USD: "
        "daily ETH/USD "
    )
    assert "BTC/USD 7.00%" in line and "correlation ETH/USD~BTC/USD +0.9" in line


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--series", "ETH-USD=SP500"), "error: --series: needs --history"),
        (
            ("--daily-vol", "FOO=5%"),
            "error: --daily-vol: unknown feed or market 'FOO' (known: ETH/USD, BTC/USD, "
            "USDC/USD, ETH-USD, BTC-USD)",
        ),
        (("--history", "/nonexistent.csv"), "error: history file /nonexistent.csv: no such file"),
        (
            ("--history", HISTORY, "--series", "ETH-USD=NOPE"),
            "error: --series: the history has no series 'NOPE' (SP500, NASDAQ)",
        ),
        (("--daily-vol", "ETH-USD=abc"), "error: --daily-vol: 'abc' is not a percentage like 1%"),
    ],
)
def test_bad_volatility_options(
    files: tuple[Path, Path], tmp_path: Path, extra: tuple[object, ...], message: str
) -> None:
    run = guard(files, tmp_path, *extra)
    assert run.code == 2 and run.err_lines == [message], run.err  # type: ignore[attr-defined]


def test_running_guardian_fits_the_oracle_prices_it_saw(
    chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client = chain_snapshot.client
    lines: list[str] = []
    config = GuardConfig(
        state_file=tmp_path / "g.json", observe_every_s=1e-6, daily_vol={"USDC/USD": 0.001}
    )
    daemon = Guardian(client, prover, [], config, log=lines.append)
    eth = 2_000 * 10**8
    for i in range(MIN_RETURNS):
        eth = eth * (1_000 + (13 if i % 2 else -11)) // 1_000  # ~1.2% a sample
        client.set_price(ADMIN, "ETH/USD", eth)
        daemon.step()
    assert lines == [], lines  # 30 samples, 29 returns: not yet
    daemon.step()
    assert len(lines) == 1 and lines[0].startswith(
        f"volatility from oracle prices ({MIN_RETURNS + 1} samples, 1e-06 s apart, ewma), "
        "--daily-vol for USDC/USD: daily "
    ), lines
    assert daemon.risk.daily_vol("USDC/USD") == pytest.approx(0.001)
    assert daemon.risk.daily_vol("BTC/USD") == 0.0  # its price never moved
    assert daemon.risk.daily_vol("ETH/USD") > 1.0  # ~1.2% per (sub-second) sample
