"""A tiny run of the stress simulator (``benchmarks.stress``; the full run is `make audit`).

Five hand-made cross accounts, one -30% crash of ETH and BTC, 15 minutes of chain time:
the underwater passive account is liquidated with a bad debt the model predicts to the
cent, the defender tops up and proves, the closer closes, the safe account proves, the
slow one (it reacts after the grace period) is liquidated though solvent; every
accounting identity holds and no liquidation is wrongful. Run again with a guardian per
trader, the slow account re-proves at once and is not liquidated: one avoided.

A sixth account is a portfolio account on the PortfolioEngine: long 1 ETH and short
1/30 BTC perpetuals (a hedge: the joint -30% crash costs the ETH leg 600 USD and pays the
BTC leg 600) on 2,000 USDC. The crash leaves its proof's ellipsoid, the keeper flags it
(the exact rule agreeing with ``flaggable()``), it proves again and stays open.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

from benchmarks.stress import Portfolio, Style, crash_scenario, simulate
from benchmarks.stress.books import Book
from prover.prove import Prover
from zkmargin.jsonio import read_json_file
from zkmargin.model import Position
from zkmargin.portfolio import PortfolioPosition
from zkmargin.units import Price, Size

USDC = 10**6
ETH = 10**8  # 1e-8 base units


def long(market: str, size: int) -> Position:
    return Position(market, True, Size(size), Price(1))


PORTFOLIOS = [
    # 1 ETH on 220 USDC: -30% loses 600, so 380 of bad debt (391 after the penalty)
    Portfolio(0, (long("ETH-USD", ETH),), {"USDC": 220 * USDC}, Style.PASSIVE, 60, 0, "tight"),
    # 1 ETH on 650 USDC: equity 50 < MMR 70 after the crash; tops up to 1.5x MMR
    Portfolio(
        1, (long("ETH-USD", ETH),), {"USDC": 650 * USDC}, Style.DEFENDER, 60, 500 * USDC, "t"
    ),
    # 0.1 BTC on 1,900 USDC: equity 100 < MMR 168 after the crash; closes (no bad debt)
    Portfolio(2, (long("BTC-USD", ETH // 10),), {"USDC": 1_900 * USDC}, Style.CLOSER, 120, 0, "t"),
    # long ETH, short BTC on USDC and WETH: solvent after the crash, proves again
    Portfolio(
        3,
        (long("ETH-USD", ETH), Position("BTC-USD", False, Size(ETH // 50), Price(1))),
        {"USDC": 2_000 * USDC, "WETH": 10**18},
        Style.PASSIVE,
        30,
        0,
        "safe",
    ),
    # 1 ETH on 2,000 USDC: solvent after the crash, but reacts after 900 s > grace 600 s
    Portfolio(4, (long("ETH-USD", ETH),), {"USDC": 2_000 * USDC}, Style.PASSIVE, 900, 0, "safe"),
]


HEDGE = Book(
    5,
    "long-short hedge",
    (
        PortfolioPosition("ETH-USD", False, True, Size(ETH), Price(1)),
        PortfolioPosition("BTC-USD", False, False, Size(ETH // 30), Price(1)),
    ),
    {"USDC": 2_000 * USDC},
    Style.PASSIVE,
    30,
    0,
    "safe",
)


def test_stress_smoke(tmp_path: Path, prover: Prover) -> None:
    scenario = crash_scenario("smoke-crash-30", Fraction(30, 100), 900)
    assert scenario.covers_grace(600)  # the crash at 60 s, then the grace period and a step
    report = simulate(
        PORTFOLIOS,
        [scenario],
        seed=1,
        confirm=False,
        out_dir=tmp_path,
        prover=prover,
        books=[HEDGE],
    )
    (result,) = report["scenarios"]
    assert all(result["identities"].values()), result["identities"]
    assert result["accounts"] == 6
    assert result["wrongful_liquidations"] == 0 and result["wrongful_by_refusal"] == {}
    # a 30% move leaves every account's opening move set (ETH 4.75%, BTC 3.8%)
    assert result["within_proven_set"] is False
    assert result["accounts_outside_proven_set"] == 6
    assert report["population"]["account_kinds"] == {"isolated": 0, "cross": 5, "portfolio": 1}
    assert all(c["holds"] for c in report["checks"].values()), report["checks"]
    # the keeper's exact move-set rule agreed with the engine's flaggable() at every read
    assert result["identities"][
        "exact move-set rule (keeper) = engine flaggable() at every keeper read"
    ]
    # the portfolio rule (ellipsoid + collateral) agreed with its engine's flaggable() too
    assert result["identities"][
        "portfolio exact move-set rule (ellipsoid + collateral) = engine flaggable() at every "
        "keeper read"
    ]
    assert result["flags"] == 6  # both markets moved 30%: every account is flagged
    # the defender (after its top-up), account 3, and the portfolio hedge
    assert result["proofs_accepted"] == 3
    hedge = result["by_kind"]["portfolio"]
    assert hedge["accounts"] == 1 and hedge["within_proven_set"] is False
    assert hedge["flags"] == 1 and hedge["proofs_accepted"] == 1
    assert hedge["liquidations"] == 0 and hedge["bad_debt_usd"] == "0"
    cross = result["by_kind"]["rate-based"]
    assert cross["accounts"] == 5 and cross["flags"] == 5 and cross["proofs_accepted"] == 2
    assert result["proofs_refused"]["insufficient margin"] >= 3
    assert result["proof_attempts"] == result["proofs_accepted"] + result["proofs_refused_total"]
    assert result["topups"] == 1 and result["closes"] == 1
    assert result["closed_bad_debt_usd"] == "0"
    # the defender needs 1.5 x MMR (105) - equity (50) = 55 USDC, exactly
    assert result["topup_usd"] == "55"
    liq, slow = result["liquidation_records"]
    assert liq["trader"] == 0 and liq["cls"] == "insolvent" and not liq["wrongful"]
    assert slow["trader"] == 4 and slow["cls"] == "solvent_slow" and not slow["wrongful"]
    # the slow owner reveals its positions and gets its equity above the penalty back
    assert result["reclaims"] >= 1 and slow["reclaimed_usd"] != "0"
    assert liq["reclaimed_usd"] == "0"  # underwater: nothing to give back
    # exact, to the cent: loss 600 - 220 deposited; the pool gets 95% of 220; reward 5%
    assert liq["bad_debt_usd"] == "380"
    assert liq["pool_shortfall_usd"] == "391"
    assert liq["reward_usd"] == "11"
    assert result["bad_debt_usd"] == "380" and result["pool_shortfall_usd"] == "391"
    assert result["open_at_end"] == 3 and result["insolvent_open_at_end"] == 0

    # with a guardian per trader: the slow account re-proves when flagged; the underwater
    # one still cannot prove (no proof exists) and is liquidated
    assert result["liquidations_without_guardian"] == 2
    assert result["liquidations_with_guardian"] == 1 and result["avoided"] == 1
    guarded = result["with_guardian"]
    assert guarded["guardian"] is True and all(guarded["identities"].values())
    assert [r["trader"] for r in guarded["liquidation_records"]] == [0]
    assert guarded["guardian_triggers"] >= 2  # account 4, and account 3 before its 30 s
    assert guarded["bad_debt_usd"] == "380"  # the guardian cannot save the underwater one

    # the bisection on the model: one long ETH position at exactly MMR on USDC absorbs a
    # fall of MMR x (1 - penalty) = 4.75% before the pool loses, 5% before equity < 0
    rows = {(r["set"], r["move"]): r for r in report["thresholds"]["rows"]}
    row = rows[("one account at exactly MMR: long ETH on USDC", "fall")]
    assert row["no_shortfall_up_to_micro"] == 47_500 and row["no_shortfall_up_to_pct"] == "4.75"
    assert row["no_bad_debt_up_to_micro"] == 50_000 and row["no_bad_debt_up_to_pct"] == "5"

    saved = read_json_file(tmp_path / "stress-report.json", "stress report")
    assert saved["scenarios"][0]["name"] == "smoke-crash-30"
    text = (tmp_path / "stress-report.md").read_text()
    assert "| smoke-crash-30 | no | 6 |" in text and "## Definitions" in text
    assert "## Checks" in text and "**Portfolio account**" in text
    assert "| smoke-crash-30 | 1 | no | 1 | 1 | 0 (0) | 0 | 0 | 0.00 | 0.00 |" in text
    assert "| smoke-crash-30 | 2 | 1 | 1 | 5 | 380 |" in text  # the guardian table
    assert "| 380.00 | 391.00 |" in text
