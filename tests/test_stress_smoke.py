"""A tiny run of the stress simulator (benchmarks/stress.py; the full run is `make audit`).

Four hand-made cross accounts, one -30% crash of ETH and BTC, 15 minutes of chain time:
the underwater passive account is liquidated with a bad debt the model predicts to the
cent, the defender tops up and proves, the closer closes, the safe account proves; every
accounting identity holds and no liquidation is wrongful.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest

from prover.prove import Prover
from zkmargin.model import Position
from zkmargin.units import Price, Size

ROOT = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "zkmargin_stress", ROOT / "benchmarks" / "stress.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


stress = _load()
USDC = 10**6
ETH = 10**8  # 1e-8 base units


def _portfolios() -> list[object]:
    p = stress.Portfolio
    style = stress.Style

    def long(market: str, size: int) -> Position:
        return Position(market, True, Size(size), Price(1))

    return [
        # 1 ETH on 220 USDC: -30% loses 600, so 380 of bad debt (391 after the penalty)
        p(0, (long("ETH-USD", ETH),), {"USDC": 220 * USDC}, style.PASSIVE, 60, 0, "tight"),
        # 1 ETH on 650 USDC: equity 50 < MMR 70 after the crash; tops up to 1.5x MMR
        p(1, (long("ETH-USD", ETH),), {"USDC": 650 * USDC}, style.DEFENDER, 60, 500 * USDC, "t"),
        # 0.1 BTC on 1,900 USDC: equity 100 < MMR 168 after the crash; closes (no bad debt)
        p(2, (long("BTC-USD", ETH // 10),), {"USDC": 1_900 * USDC}, style.CLOSER, 120, 0, "t"),
        # long ETH, short BTC on USDC and WETH: solvent after the crash, proves again
        p(
            3,
            (long("ETH-USD", ETH), Position("BTC-USD", False, Size(ETH // 50), Price(1))),
            {"USDC": 2_000 * USDC, "WETH": 10**18},
            style.PASSIVE,
            30,
            0,
            "safe",
        ),
    ]


def test_stress_smoke(tmp_path: Path, prover: Prover) -> None:
    scenario = stress.crash_scenario("smoke-crash-30", Fraction(30, 100), 900)
    report = stress.simulate(
        _portfolios(), [scenario], seed=1, confirm=False, out_dir=tmp_path, prover=prover
    )
    (result,) = report["scenarios"]
    assert all(result["identities"].values()), result["identities"]
    assert result["accounts"] == 4
    assert result["wrongful_liquidations"] == 0
    assert result["flags"] == 4  # both markets moved 30%: every account is flagged
    assert result["proofs_accepted"] == 2  # the defender (after its top-up) and account 3
    assert result["proofs_refused"]["insufficient margin"] >= 3
    assert result["proof_attempts"] == result["proofs_accepted"] + result["proofs_refused_total"]
    assert result["topups"] == 1 and result["closes"] == 1
    assert result["closed_bad_debt_usd"] == 0
    (liq,) = result["liquidation_records"]
    assert liq["trader"] == 0 and liq["cls"] == "insolvent"
    assert liq["bad_debt_usd"] == pytest.approx(380, abs=0.01)
    assert liq["pool_shortfall_usd"] == pytest.approx(600 - 0.95 * 220, abs=0.01)
    assert liq["reward_usd"] == pytest.approx(11, abs=0.01)
    assert result["bad_debt_usd"] == pytest.approx(380, abs=0.01)
    assert result["open_at_end"] == 2 and result["insolvent_open_at_end"] == 0

    # the bisection on the model: one long ETH position at exactly MMR on USDC absorbs a
    # fall of MMR x (1 - penalty) = 4.75% before the pool loses, 5% before equity < 0
    rows = {(r["set"], r["move"]): r for r in report["thresholds"]["rows"]}
    row = rows[("one account at exactly MMR: long ETH on USDC", "fall")]
    assert row["no_shortfall_up_to_pct"] == pytest.approx(4.75)
    assert row["no_bad_debt_up_to_pct"] == pytest.approx(5.0)

    saved = json.loads((tmp_path / "stress-report.json").read_text())
    assert saved["scenarios"][0]["name"] == "smoke-crash-30"
    text = (tmp_path / "stress-report.md").read_text()
    assert "| smoke-crash-30 | 4 |" in text and "## Definitions" in text
