"""Portfolio margin from the command line (``zkmargin risk publish|show``, ``zkmargin
margin`` on a risk file) and the worked examples of docs/portfolio.md, each inequality
asserted with the exact model (zkmargin.portfolio.evaluate, zkmargin.model.evaluate)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from zkmargin.accounts import parse_market_data
from zkmargin.jsonio import read_json_file
from zkmargin.model import Account, Mode, Position
from zkmargin.model import evaluate as evaluate_cross
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    PortfolioReport,
    evaluate,
    load_portfolio_account,
)
from zkmargin.riskfile import RiskFile, load_risk_file, parse_time, risk_commitment
from zkmargin.riskpublish import parse_iv_file, parse_market_map, publish
from zkmargin.volatility import load_history

ROOT = Path(__file__).resolve().parent.parent
BOOKS = ROOT / "examples" / "portfolio"
NOW_TEXT = "2026-12-01T00:00:00Z"
PUBLISH_ARGS = [
    "--history", str(ROOT / "data" / "sp500_nasdaq_daily.csv"),
    "--iv", str(ROOT / "examples" / "iv.json"),
    "--template", str(ROOT / "examples" / "risk.json"),
    "--markets", "ETH-USD=NASDAQ,BTC-USD=SP500",
    "--now", NOW_TEXT,
]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def risk_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk") / "risk.published.json"
    history = load_history(ROOT / "data" / "sp500_nasdaq_daily.csv")
    pub = publish(
        history,
        read_json_file(ROOT / "examples" / "risk.json", "template"),
        parse_iv_file(read_json_file(ROOT / "examples" / "iv.json", "iv")),
        mapping=parse_market_map("ETH-USD=NASDAQ,BTC-USD=SP500", ["ETH-USD", "BTC-USD"], history),
        now=parse_time(NOW_TEXT, "now"),
    )
    path.write_text(json.dumps(pub.document))
    return path


@pytest.fixture(scope="module")
def risk(risk_path: Path) -> RiskFile:
    return load_risk_file(risk_path)


def book(name: str, risk: RiskFile) -> PortfolioAccount:
    return load_portfolio_account(BOOKS / f"{name}.book.json", risk)


def report(name: str, risk: RiskFile, mode: PortfolioMode) -> PortfolioReport:
    return evaluate(book(name, risk), risk, mode)


MODES = (PortfolioMode.MAINTENANCE, PortfolioMode.INITIAL)


# ---------------------------------------------------------------- worked examples


def cross_requirement(account: PortfolioAccount, risk_path: Path, mode: Mode) -> int:
    """The same perp book under rate-based cross margin, at the risk file's prices."""
    doc = read_json_file(risk_path, "risk")
    market_file = {
        "markets": {
            k: {"mmr_bps": v["mmr_bps"], "imr_bps": v["imr_bps"]} for k, v in doc["markets"].items()
        },
        "collateral": {
            k: {key: v[key] for key in ("haircut_bps", "decimals") if key in v}
            for k, v in doc["collateral"].items()
        },
        "prices": doc["prices"],
    }
    data = parse_market_data(market_file)
    assert not any(p.option for p in account.positions)
    cross = Account(
        address=account.address,
        salt=account.salt,
        collateral=account.collateral,
        positions=tuple(
            Position(market=p.instrument, long=p.long, size=p.size, entry_price=p.entry)
            for p in account.positions
        ),
    )
    return evaluate_cross(cross, data, mode).requirement


@pytest.mark.parametrize("mode", MODES)
def test_hedge_needs_less_than_cross_margin(
    risk: RiskFile, risk_path: Path, mode: PortfolioMode
) -> None:
    account = book("hedge", risk)
    portfolio = evaluate(account, risk, mode)
    cross = cross_requirement(account, risk_path, Mode(mode.value))
    assert portfolio.requirement < cross
    assert 4 * portfolio.requirement < cross  # not a rounding effect: less than a quarter
    assert portfolio.solvent


@pytest.mark.parametrize("mode", MODES)
def test_covered_call_needs_less_than_naked_call(risk: RiskFile, mode: PortfolioMode) -> None:
    covered = report("covered-call", risk, mode)
    naked = report("naked-call", risk, mode)
    assert covered.option_addon == naked.option_addon  # the same short call
    assert covered.requirement < naked.requirement
    assert covered.correlated_risk < naked.correlated_risk


def test_covered_otm_call_reverses(risk: RiskFile) -> None:
    """With δ < ½ the covered call carries more net delta than the naked one, so under a
    symmetric move set it needs more (docs/portfolio.md, worked examples)."""
    assert risk.options["ETH-20261225-2500-C"].delta_bps < 5_000
    covered = book("covered-call", risk)
    otm = tuple(
        type(p)(
            instrument="ETH-20261225-2500-C", option=True, long=False, size=p.size, entry=p.entry
        )
        if p.option
        else p
        for p in covered.positions
    )
    naked_otm = tuple(p for p in otm if p.option)
    mode = PortfolioMode.MAINTENANCE
    a = evaluate(type(covered)(covered.address, covered.salt, covered.collateral, otm), risk, mode)
    b = evaluate(
        type(covered)(covered.address, covered.salt, covered.collateral, naked_otm), risk, mode
    )
    assert a.requirement > b.requirement


@pytest.mark.parametrize("mode", [*MODES, PortfolioMode.WITHDRAWAL])
def test_weth_behind_long_eth_needs_more_than_usdc(risk: RiskFile, mode: PortfolioMode) -> None:
    weth = report("weth-long-eth", risk, mode)
    usdc = report("usdc-long-eth", risk, mode)
    # the same value at the risk file's prices
    w, u = book("weth-long-eth", risk), book("usdc-long-eth", risk)
    value = {a: sum(b * risk.prices[c] for c, b in acc.collateral.items()) for a, acc in
             (("w", w), ("u", u))}  # fmt: skip
    assert value["w"] == value["u"]
    assert weth.correlated_risk > usdc.correlated_risk  # WETH adds to the ETH exposure
    assert weth.requirement > usdc.requirement
    assert weth.equity < usdc.equity  # and is haircut
    assert weth.equity - weth.requirement < usdc.equity - usdc.requirement


@pytest.mark.parametrize("mode", MODES)
def test_short_strangle_is_dominated_by_gamma_and_vega(risk: RiskFile, mode: PortfolioMode) -> None:
    r = report("short-strangle", risk, mode)
    assert r.option_addon > r.correlated_risk + r.floor
    assert 2 * r.option_addon > r.requirement


def test_every_book_fits_and_is_solvent(risk: RiskFile) -> None:
    for path in sorted(BOOKS.glob("*.book.json")):
        account = load_portfolio_account(path, risk)
        assert len(account.positions) <= 8
        for mode in PortfolioMode:
            assert evaluate(account, risk, mode).solvent, (path.name, mode)


def test_book_files_are_not_ignored_account_files() -> None:
    names = [p.name for p in BOOKS.iterdir()]
    assert names and not any(n.endswith(".account.json") for n in names)


# ---------------------------------------------------------------- CLI


def test_risk_publish_and_show(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_file = tmp_path / "risk.json"
    code, out, err = run(capsys, "risk", "publish", *PUBLISH_ARGS, "-o", str(out_file))
    assert code == 0, err
    assert "ETH-USD    <- NASDAQ" in out and "BTC-USD    <- SP500" in out
    assert "EWMA decay 0.94" in out and "stress weight 0.5" in out
    risk = load_risk_file(out_file)
    commitment = str(risk_commitment(risk))
    assert f"risk commitment {commitment}" in out
    code, out, err = run(capsys, "risk", "show", str(out_file))
    assert code == 0, err
    assert "implied correlation" in out and "lambda_MM" in out
    assert "ETH-20261225-1700-C" in out
    assert out.strip().endswith(f"risk commitment {commitment}")


def test_risk_publish_refuses_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "risk.json"
    args = [a if a != NOW_TEXT else "2027-01-01T00:00:00Z" for a in PUBLISH_ARGS]
    code, _, err = run(capsys, "risk", "publish", *args, "-o", str(out_file))
    assert code == 2 and err.count("\n") == 1 and "expired" in err
    assert not out_file.exists()
    code, _, err = run(capsys, "risk", "publish", *PUBLISH_ARGS, "--stress-weight", "1",
                       "-o", str(out_file))  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "--stress-weight" in err


def test_margin_portfolio(capsys: pytest.CaptureFixture[str], risk_path: Path) -> None:
    args = ["margin", str(BOOKS / "hedge.book.json"), "-m", str(risk_path), "--now", NOW_TEXT]
    code, out, err = run(capsys, *args)  # auto-detected
    assert code == 0, err
    assert "portfolio margin" in out
    for mode in ("maintenance", "initial", "withdrawal"):
        assert mode in out
    assert "-31.5" in out and "solvent" in out
    code2, out2, _ = run(capsys, *args, "--circuit", "portfolio")
    assert code2 == 0 and out2 == out


def test_margin_rate_based_unchanged(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    account = tmp_path / "a.json"
    account.write_text(json.dumps({
        "account": "0x12ab12ab12AB12aB12Ab12ab12ab12AB12Ab12aB", "salt": "123456789",
        "collateral": {"USDC": "10000"},
        "positions": [{"market": "ETH-USD", "side": "long", "size": "5", "entry_price": "2000"}],
    }))  # fmt: skip
    code, out, err = run(capsys, "margin", str(account), "-m", str(ROOT / "examples/markets.json"))
    assert code == 0, err
    assert out.splitlines() == ["equity       9500", "requirement  475  (maintenance)", "solvent"]


def _book_variant(tmp_path: Path, change: Any) -> Path:
    data = read_json_file(BOOKS / "covered-call.book.json", "book")
    data = copy.deepcopy(data)
    change(data)
    path = tmp_path / "variant.book.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("label", "change", "extra", "expected"),
    [
        ("unknown series",
         lambda d: d["positions"][1].update(option="ETH-20270101-9-C"), [],
         "unknown option series 'ETH-20270101-9-C'"),
        ("too many positions",
         lambda d: d["positions"].extend([d["positions"][0]] * 8), [],
         "10 positions; the portfolio circuit holds 8"),
        ("expired series", lambda d: None, ["--now", "2026-12-25T08:00:00Z"],
         "series expired at 2026-12-25T08:00:00Z"),
        ("unknown collateral", lambda d: d["collateral"].update(DAI="1"), [],
         "unknown collateral asset 'DAI'"),
    ],
)  # fmt: skip
def test_margin_portfolio_refusals(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    risk_path: Path,
    label: str,
    change: Any,
    extra: list[str],
    expected: str,
) -> None:
    path = _book_variant(tmp_path, change)
    now = extra or ["--now", NOW_TEXT]
    code, out, err = run(capsys, "margin", str(path), "-m", str(risk_path), *now)
    assert code == 2, (label, out, err)
    assert err.count("\n") == 1 and expected in err, (label, err)


def test_margin_portfolio_refuses_a_risk_file_too_large(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, risk_path: Path
) -> None:
    doc = read_json_file(risk_path, "risk")
    series = next(iter(doc["options"].values()))
    for i in range(9):
        doc["options"][f"ETH-X{i}"] = series
    big = tmp_path / "big.json"
    big.write_text(json.dumps(doc))
    code, _, err = run(
        capsys, "margin", str(BOOKS / "hedge.book.json"), "-m", str(big), "--now", NOW_TEXT
    )
    assert code == 2 and err.count("\n") == 1
    assert "options: lists 15; the portfolio circuit has 8 slot(s)" in err


def test_margin_portfolio_on_a_market_file_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys, "margin", str(BOOKS / "hedge.book.json"), "-m",
        str(ROOT / "examples" / "markets.json"), "--circuit", "portfolio",
    )  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "missing field 'portfolio'" in err
