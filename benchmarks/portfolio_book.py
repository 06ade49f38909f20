"""The portfolio account the benchmarks prove: docs/portfolio.md's covered call (long 10
ETH, short 10 ETH 1700-C, 3,000 USDC) under the risk file published from the shipped
history, as in the worked examples (``zkmargin risk publish ... --now 2026-12-01``)."""

from __future__ import annotations

from pathlib import Path

from zkmargin.jsonio import read_json_file, write_json
from zkmargin.portfolio import PortfolioAccount, load_portfolio_account
from zkmargin.riskfile import RiskFile, load_risk_file, parse_time

ROOT = Path(__file__).resolve().parent.parent
NOW_TEXT = "2026-12-01T00:00:00Z"  # the publication time: before every series' expiry
NOW = parse_time(NOW_TEXT, "now")
BOOK = ROOT / "examples" / "portfolio" / "covered-call.book.json"


def published_risk_file(folder: Path) -> Path:
    """Publish the worked examples' risk file into ``folder``; its path."""
    from zkmargin.riskpublish import parse_iv_file, parse_market_map, publish
    from zkmargin.volatility import load_history

    history = load_history(ROOT / "data" / "sp500_nasdaq_daily.csv")
    pub = publish(
        history,
        read_json_file(ROOT / "examples" / "risk.json", "template"),
        parse_iv_file(read_json_file(ROOT / "examples" / "iv.json", "iv file")),
        mapping=parse_market_map("ETH-USD=NASDAQ,BTC-USD=SP500", ["ETH-USD", "BTC-USD"], history),
        now=NOW,
    )
    path = folder / "risk.published.json"
    write_json(path, pub.document)
    return path


def covered_call(folder: Path) -> tuple[PortfolioAccount, RiskFile, Path]:
    """The book, the parsed risk file and the risk file's path (written into ``folder``)."""
    path = published_risk_file(folder)
    risk = load_risk_file(path)
    return load_portfolio_account(BOOK, risk), risk, path
