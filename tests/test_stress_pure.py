"""Fast tests of the stress simulation's pure parts: no chain, no prover.

The population is a function of the seed, the price paths are exact, the bisection finds
the textbook threshold, and the report renders from a canned result with money to the
cent, so a wrong unit or a float creeping into the accounting shows up here in a second.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest

from benchmarks.stress import crash_scenario, default_scenarios, make_portfolios
from benchmarks.stress.books import (
    book_report,
    make_books,
    pf_outside,
    reference_risk,
    slot_prices,
    split_accounts,
)
from benchmarks.stress.definitions import definitions
from benchmarks.stress.findings import findings
from benchmarks.stress.keeper import (
    ORACLE_LAG,
    SHORTFALL,
    classify,
    kept_trying,
    margin_refusal,
    outside_set,
    within_engine_rules,
)
from benchmarks.stress.money import MARGIN_UNIT, fixed, round_div, usd, usd_cents, usd_grouped
from benchmarks.stress.population import Portfolio
from benchmarks.stress.report import markdown, table_markdown
from benchmarks.stress.results import Liquidation, ScenarioResult
from benchmarks.stress.run import NO_BAD_DEBT_CHECK, NO_WRONGFUL_CHECK, checks
from benchmarks.stress.scenarios import oscillation, sine, stale_scenario
from benchmarks.stress.summary import parameters, population_summary
from benchmarks.stress.thresholds import FALL, RISE, at_mmr, bisect_threshold
from benchmarks.stress.valuation import BASE_PRICES, normalised, price_at
from chain.deploy import DEFAULT_SPEC
from zkmargin.errors import InputError
from zkmargin.model import Account, Mode, Position, evaluate
from zkmargin.portfolio import PortfolioMode
from zkmargin.units import Price, Size

# make_portfolios(50, 7) as `make audit` uses it; the float version before it drew the
# same population (the draws are taken in the same order, exactly).
SEED7_FINGERPRINT = "af1e9d8ba2ee3f0ee60461a31e1dcd83386b23d78e774418e87bc7a67c6a2f20"


def fingerprint(portfolios: list[Portfolio]) -> str:
    rows = [
        [
            p.index,
            [[x.market, x.long, x.size] for x in p.positions],
            sorted(p.deposits.items()),
            p.style.value,
            p.reaction,
            p.reserve,
            p.tier,
        ]
        for p in portfolios
    ]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


# ---------------------------------------------------------------- population


def test_population_is_a_function_of_the_seed() -> None:
    assert fingerprint(make_portfolios(50, 7)) == SEED7_FINGERPRINT
    assert make_portfolios(20, 3) == make_portfolios(20, 3)
    assert make_portfolios(20, 3) != make_portfolios(20, 4)
    assert make_portfolios(10, 3) == make_portfolios(20, 3)[:10]  # a prefix, not a reshuffle


def test_population_opens_above_imr_in_integer_units() -> None:
    portfolios = make_portfolios(60, 11)
    data = DEFAULT_SPEC.market_data(BASE_PRICES)
    feed = {m.name: m.feed for m in DEFAULT_SPEC.markets}
    for p in portfolios:
        assert all(type(v) is int and v > 0 for v in p.deposits.values())
        assert p.deposits.get("USDC", 0) % 10**4 == 0  # whole cents
        assert p.deposits.get("WETH", 0) % 10**12 == 0  # 1e-6 WETH
        positions = tuple(
            Position(x.market, x.long, x.size, Price(BASE_PRICES[feed[x.market]]))
            for x in p.positions
        )
        balances = normalised(p.deposits, DEFAULT_SPEC)
        report = evaluate(Account(1, 1, balances, positions), data, Mode.INITIAL)
        assert report.solvent, p  # every tier is at least 1.03x IMR
    assert set(Counter(p.tier for p in portfolios)) == {"tight", "medium", "safe"}


# ---------------------------------------------------------------- scenarios


def test_crash_path_is_exact_and_stepwise() -> None:
    s = crash_scenario("c", Fraction(30, 100), 600, at=120)
    assert s.path(60) == {"ETH/USD": 1, "BTC/USD": 1, "USDC/USD": 1}
    assert s.path(120) == {"ETH/USD": Fraction(7, 10), "BTC/USD": Fraction(7, 10), "USDC/USD": 1}
    assert s.description == "ETH and BTC -30% in one block at t=120 s, then flat"
    small = crash_scenario("confirm-4.25", Fraction(425, 10_000), 600)
    assert "-4.25%" in small.description


def test_bleed_and_oscillation_paths() -> None:
    bleed = next(s for s in default_scenarios() if s.name == "bleed")
    hour = bleed.path(3600)
    assert hour["ETH/USD"] == Fraction(round(Fraction(997, 1000) ** 60 * 10**6), 10**6)
    assert bleed.path(5400) == hour  # flat after the first hour
    # a quarter period: sin = 1 exactly, so ETH is at 88% (to the millionth)
    assert oscillation(600)["ETH/USD"] == Fraction(88, 100)
    assert oscillation(1800)["ETH/USD"] == Fraction(112, 100)
    assert oscillation(0)["ETH/USD"] == oscillation(2400)["ETH/USD"] == 1
    assert abs(sine(Fraction(1, 12)) - Fraction(1, 2)) < Fraction(1, 10**30)


def test_stale_scenario_freezes_eth_only_during_the_outage() -> None:
    s = stale_scenario("s", 4500)
    assert s.frozen(60) == frozenset() and s.frozen(61) == {"ETH/USD"}
    assert s.frozen(4559) == {"ETH/USD"} and s.frozen(4560) == frozenset()
    assert s.path(60)["ETH/USD"] == Fraction(3, 4) and s.path(60)["BTC/USD"] == Fraction(85, 100)
    assert s.path(4560)["ETH/USD"] == Fraction(7, 10)  # back to -30% at the outage's end
    assert s.duration == 60 + 4500 + 900


# ---------------------------------------------------------------- model thresholds


def test_bisection_finds_mmr_times_one_minus_penalty() -> None:
    eth = Price(BASE_PRICES["ETH/USD"])
    long_eth = (Position("ETH-USD", True, Size(10**8), eth),)
    holding = (long_eth, at_mmr(long_eth, {"USDC": 10**6}, DEFAULT_SPEC))
    assert holding[1] == {"USDC": 100 * 10**6}  # 5% of 2,000 USD
    assert bisect_threshold([holding], FALL, True, DEFAULT_SPEC) == 47_500  # 4.75%
    assert bisect_threshold([holding], FALL, False, DEFAULT_SPEC) == 50_000  # 5%
    assert bisect_threshold([holding], RISE, True, DEFAULT_SPEC) is None  # a long never loses


# ---------------------------------------------------------------- money and report


def test_money_is_integer_text() -> None:
    assert round_div(5, 10) == 1 and round_div(-5, 10) == -1 and round_div(4, 10) == 0
    assert usd(380 * MARGIN_UNIT) == "380"
    assert usd(MARGIN_UNIT * 12345 // 10_000) == "1.23"  # 1.2345 -> 1.23
    assert usd(-MARGIN_UNIT * 5 // 1000) == "-0.01"  # a half cent rounds away from zero
    assert usd_cents("-1234.5") == -123_450
    assert usd_grouped("1234567.8") == "1,234,567.80"
    assert fixed(47_500, 4, 4) + "%" == "4.7500%"
    with pytest.raises(InputError, match="usd amount"):
        usd_cents("1.2e3")


def test_liquidation_classes() -> None:
    assert classify(solvent=False, within_rules=True, refusals=(), diligent=True) == "insolvent"
    assert (
        classify(solvent=True, within_rules=True, refusals=(), diligent=True)
        == "solvent_within_rules"
    )
    assert (
        classify(
            solvent=True,
            within_rules=False,
            refusals=("OracleAdapter__StalePrice",),
            diligent=True,
        )
        == "solvent_oracle_stale"
    )
    assert (
        classify(solvent=True, within_rules=False, refusals=("insufficient margin",), diligent=True)
        == "solvent_recovered"
    )
    assert classify(solvent=True, within_rules=False, refusals=(), diligent=False) == "solvent_slow"
    assert classify(solvent=True, within_rules=False, refusals=(), diligent=True) == "solvent_late"


def canned_result() -> ScenarioResult:
    res = ScenarioResult("canned", "a canned crash", 900, False, accounts=4, steps=16)
    res.proof_attempts, res.proofs_accepted = 6, 2
    res.proofs_refused["insufficient margin"] = 4
    res.accounts_refused = {0, 1, 2}
    res.flags, res.closes, res.topups = 4, 1, 1
    res.topup_value = 55 * MARGIN_UNIT
    res.closed_bad_debt = 1234 * MARGIN_UNIT + MARGIN_UNIT * 5678 // 10_000  # 1,234.5678
    res.insolvent_not_liquidatable = {0: 150, 2: 60}
    res.liquidations.append(
        Liquidation(
            trader=0,
            at=180,
            cls="insolvent",
            solvent_true=False,
            solvent_oracle=False,
            raw_equity=-380 * MARGIN_UNIT,
            wrongful=False,
            bad_debt=380 * MARGIN_UNIT,
            loss=600 * MARGIN_UNIT,
            pool_received=209 * MARGIN_UNIT,  # 95% of 220 deposited
            seized=0,
            reward=11 * MARGIN_UNIT,
            insolvent_for=120,
            proof_age=180,
            shock_age=120,
            refusals=["insufficient margin"],
        )
    )
    res.identities["keeper wallet gain = sum of liquidation rewards"] = True
    res.within_proven_set = False
    return res


def test_report_renders_from_a_canned_result() -> None:
    result = canned_result().to_json()
    assert result["bad_debt_usd"] == "1614.57"  # 380 + 1,234.5678, summed exactly
    assert result["pool_shortfall_usd"] == "1625.57"
    assert result["insolvent_not_liquidatable"] == {"accounts": 2, "max_s": 150, "median_s": 105}
    report: dict[str, Any] = {
        "seed": 1,
        "parameters": parameters(DEFAULT_SPEC),
        "population": population_summary(make_portfolios(3, 1)),
        "scenarios": [result],
        "thresholds": {
            "rows": [
                {
                    "set": "random set, as opened",
                    "move": "fall",
                    "no_shortfall_up_to_micro": 47_500,
                    "no_bad_debt_up_to_micro": None,
                    "tightest_account": 2,
                    "median_account_micro": 123_456,
                },
                {
                    "set": "random set, each scaled to exactly MMR",
                    "move": "fall",
                    "no_shortfall_up_to_micro": 40_000,
                    "no_bad_debt_up_to_micro": 50_000,
                    "tightest_account": None,
                    "median_account_micro": None,
                },
            ]
        },
        "confirmations": [],
        "proofs_total": 5,
        "prove_ms_total": 90_000,
        "runtime_ms": 624_000,
    }
    report["definitions"] = definitions(DEFAULT_SPEC)
    report["checks"] = checks([result])
    report["findings"] = findings(report, DEFAULT_SPEC)
    text = markdown(report)
    assert json.loads(json.dumps(report)) == report  # plain JSON, no float anywhere
    assert "10.4 min on this machine (5 proofs, 1.5 min of proving)" in text
    assert (
        "| canned | no | 4 | 2 | 4 (3 accounts: 4 insufficient margin) | 4 | 1 | 0 | 0 | 1 "
        "| 1,614.57 | 1,625.57 | 3 |"
    ) in text
    assert "| 1 (1,234.57) | 1 (55.00) | 0.00 | 11.00 | 2 / 2 |" in text
    assert "| random set, as opened | fall | 4.7500% | any | 12.3456% | #2 |" in text
    assert "shock threshold 10%, liquidation penalty 5%; ETH-USD MMR 5% IMR 10%" in text
    assert "- [x] keeper wallet gain = sum of liquidation rewards" in text
    assert "- [x] " + NO_WRONGFUL_CHECK in text
    assert "- [x] " + NO_BAD_DEBT_CHECK in text  # bad debt, but outside the proven set
    assert report["findings"][0] == (
        "Wrongful liquidations (solvent at the true price, owner kept trying to prove): "
        "0 over 1 liquidations in all scenarios."
    )
    assert any(
        "4.75% for the random set as opened, 4.00% if every" in f for f in report["findings"]
    )
    assert table_markdown([result])[2].startswith("| canned | no | 4 |")


def test_checks_name_the_scenarios_that_break_them() -> None:
    inside = canned_result()
    inside.within_proven_set = True  # bad debt inside the proven set: the check breaks
    wrong = canned_result()
    wrong.name = "wrong"
    wrong.liquidations[0].wrongful = True
    got = checks([inside.to_json(), wrong.to_json()])
    assert got[NO_BAD_DEBT_CHECK] == {"holds": False, "broken_in": ["canned"]}
    assert got[NO_WRONGFUL_CHECK] == {"holds": False, "broken_in": ["wrong"]}
    assert wrong.to_json()["wrongful_by_refusal"] == {"insufficient margin": 1}
    clean = canned_result()
    assert all(c["holds"] for c in checks([clean.to_json()]).values())


def test_kept_trying() -> None:
    assert kept_trying(diligent=True, refusals=["OracleAdapter__StalePrice"], since_attempt=60)
    assert kept_trying(diligent=True, refusals=[ORACLE_LAG], since_attempt=120)
    assert not kept_trying(diligent=True, refusals=[ORACLE_LAG], since_attempt=121)
    assert not kept_trying(diligent=False, refusals=[ORACLE_LAG], since_attempt=0)
    assert not kept_trying(diligent=True, refusals=[], since_attempt=0)
    # below MMR at the market price too: its own shortfall, the grace period's business
    assert not kept_trying(diligent=True, refusals=[SHORTFALL, SHORTFALL], since_attempt=0)
    assert kept_trying(diligent=True, refusals=[SHORTFALL, ORACLE_LAG], since_attempt=0)


def test_margin_refusal_names_whose_shortfall_it_is() -> None:
    assert margin_refusal(solvent_at_market=False) == SHORTFALL == "insufficient margin"
    assert margin_refusal(solvent_at_market=True) == ORACLE_LAG
    assert (
        classify(solvent=True, within_rules=False, refusals=(SHORTFALL, ORACLE_LAG), diligent=True)
        == "solvent_oracle_lag"
    )


def test_outside_set_is_the_engine_rule_to_one_unit() -> None:
    # ETH-USD MMR 5%, penalty 5%: the edge is a 4.75% move either way, inside included
    base = 2000 * 10**8
    edge = base * 475 // 10_000
    state = [base, 30_000 * 10**8, 0, 0, 10**8, base]  # cross: 4 markets, USDC, WETH
    prices = {"ETH/USD": base + edge, "BTC/USD": 30_000 * 10**8, "USDC/USD": 10**8}
    assert outside_set(state, prices, DEFAULT_SPEC) == []
    prices["ETH/USD"] = base + edge + 1
    assert outside_set(state, prices, DEFAULT_SPEC) == [0]
    prices["ETH/USD"] = base - edge
    assert outside_set(state, prices, DEFAULT_SPEC) == []
    prices["ETH/USD"] = base - edge - 1
    assert outside_set(state, prices, DEFAULT_SPEC) == [0]
    # USDC (haircut 0) leaves on any drop, never on a rise
    prices["ETH/USD"] = base
    prices["USDC/USD"] = 10**8 - 1
    assert outside_set(state, prices, DEFAULT_SPEC) == [4]
    prices["USDC/USD"] = 2 * 10**8
    assert outside_set(state, prices, DEFAULT_SPEC) == []


def test_scenarios_cover_their_moves_and_grace_not_the_lifetime() -> None:
    grace = DEFAULT_SPEC.grace_period
    for s in default_scenarios():
        assert s.covers_grace(grace), s.name
        assert s.duration < 3 * 3600, s.name  # nowhere near the 3-day lifetime
        # flat after it settles: the path's last move is at or before `settled`
        assert s.path(s.settled) == s.path(s.duration), s.name
        assert not s.frozen(s.settled) and not s.frozen(s.duration), s.name
    assert not crash_scenario("short", Fraction(1, 10), 600).covers_grace(grace)


# ---------------------------------------------------------------- portfolio accounts


def _words(prices: dict[str, int]) -> tuple[int, int]:
    """The engine's price words: markets ETH, BTC (slots 0, 1; 2, 3 unlisted), then USDC
    and WETH (slots 4, 5), 64 bits each, three to a word."""
    slots = slot_prices(prices)
    return (
        slots[0] | slots[1] << 64 | slots[2] << 128,
        slots[3] | slots[4] << 64 | slots[5] << 128,
    )


def test_portfolio_move_set_rule_is_the_ellipsoid() -> None:
    risk = reference_risk()
    words = _words(dict(BASE_PRICES))
    ell = risk.cholesky_bps

    def norm(eth: Fraction, btc: Fraction) -> float:  # ‖L⁻¹Δ‖, floats: an independent check
        u0 = float(eth) / (ell[0][0] / 1e4)
        u1 = (float(btc) - ell[1][0] / 1e4 * u0) / (ell[1][1] / 1e4)
        return float((u0 * u0 + u1 * u1) ** 0.5)

    radius = risk.lambda_mm_bps / 1e4 * 0.95
    checked = 0
    for eth_pm in range(-60, 61, 3):
        for btc_pm in range(-60, 61, 3):
            eth, btc = Fraction(eth_pm, 1000), Fraction(btc_pm, 1000)
            moved = dict(BASE_PRICES)
            moved["ETH/USD"] = int(BASE_PRICES["ETH/USD"] * (1 + eth))
            moved["BTC/USD"] = int(BASE_PRICES["BTC/USD"] * (1 + btc))
            n = norm(eth, btc)
            if abs(n - radius) < 1e-6:
                continue
            assert pf_outside(words, moved, risk, 500) == (n > radius), (eth, btc, n)
            checked += 1
    assert checked > 1000
    # the inside-set scenario's move is inside the ellipsoid (along the fitted correlation);
    # ETH -4.5% with BTC only -3.5% (off the correlation) leaves it
    inside = default_scenarios()[0]
    assert inside.name == "inside-set"
    moved = {f: price_at(f, m) for f, m in inside.path(inside.duration).items()}
    assert moved["ETH/USD"] == 1_910 * 10**8 and moved["BTC/USD"] == 57_780 * 10**8
    assert not pf_outside(words, moved, risk, 500)
    assert norm(Fraction(-45, 1000), Fraction(-37, 1000)) < radius
    off = {**BASE_PRICES, "ETH/USD": 1_910 * 10**8, "BTC/USD": 57_900 * 10**8}
    assert pf_outside(words, off, risk, 500)


def test_portfolio_books_open_above_the_initial_requirement() -> None:
    books = make_books(12, 7, 40)
    assert books == make_books(12, 7, 40)  # a function of the seed
    assert [b.index for b in books] == list(range(40, 52))
    assert split_accounts(20) == (16, 4) and split_accounts(4) == (4, 0)
    risk = reference_risk()
    for b in books:
        report = book_report(b.positions, b.deposits, risk, PortfolioMode.INITIAL)
        assert report.solvent and report.equity * 100 >= report.requirement * 103, b


def test_within_engine_rules_edges() -> None:
    rules = {"proven_at": 100, "lifetime": 50, "shock_at": 0, "grace": 10}
    assert within_engine_rules(150, **rules) and not within_engine_rules(151, **rules)
    flagged = {**rules, "shock_at": 120}
    assert within_engine_rules(130, **flagged) and not within_engine_rules(131, **flagged)
