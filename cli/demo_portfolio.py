"""The portfolio acts of ``zkmargin demo``: the risk file the demo's PortfolioEngine is
deployed with, and a portfolio account with an option hedge on-chain.

* :func:`demo_risk_file`: the publisher's risk file for this chain: the example
  template (``examples/risk.json``) at the deployment's oracle prices, with the example
  option series (``examples/iv.json``) re-dated to expire 23 days after the chain's
  clock, so the demo works whatever the day; covariance and Black-76 marks from
  ``zkmargin.riskpublish.publish`` on the shipped history. The deployment publishes it
  as the first risk epoch.
* :func:`onchain`: the publisher re-marks the series at the current prices (a new risk
  epoch); a trader deposits into the portfolio engine, opens a covered call (long ETH,
  short ETH calls) with an opening proof, sees a keeper's flag refused after a joint 2%
  fall of ETH and BTC (inside the correlated ellipsoid), proves maintenance and closes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from chain.client import EngineClient
from chain.deploy import DEFAULT_SPEC
from chain.errors import RevertError
from chain.portfolio import PortfolioClient
from chain.signers import Signer
from prover.prove import Prover
from zkmargin.amounts import format_fixed
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.paths import project_root
from zkmargin.portfolio import PortfolioAccount, PortfolioMode, PortfolioPosition, evaluate
from zkmargin.portfolio_encoding import PortfolioStatement
from zkmargin.riskfile import RiskFile, load_risk_file
from zkmargin.settlement import option_values, settlement_pnl
from zkmargin.units import Balance, Price, Size

EXPIRY_DAYS = 23
ENGINE = "PortfolioEngine"
ONE = 10**8


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _series_name(underlying: str, expiry: int, strike: str, kind: str) -> str:
    day = dt.datetime.fromtimestamp(expiry, dt.UTC).strftime("%Y%m%d")
    return f"{underlying.split('-')[0]}-{day}-{strike}-{'C' if kind == 'call' else 'P'}"


def series_expiry(now: int) -> int:
    """08:00 UTC, ``EXPIRY_DAYS`` days after ``now``."""
    day = dt.datetime.fromtimestamp(now + EXPIRY_DAYS * 86_400, dt.UTC)
    return int(day.replace(hour=8, minute=0, second=0, microsecond=0).timestamp())


def demo_risk_file(
    now: int, expiry: int, prices: dict[str, str], path: Path
) -> tuple[Path, dict[str, str]]:
    """Write the demo's risk file at ``prices`` (market and asset name -> quote) to
    ``path`` (see the module docstring); returns the path and the example series' new
    names (old name -> new)."""
    from zkmargin.riskfile import parse_risk_file
    from zkmargin.riskpublish import parse_iv_file, parse_market_map, publish
    from zkmargin.volatility import load_history

    root = project_root()
    template: dict[str, Any] = read_json_file(root / "examples" / "risk.json", "template")
    iv_doc: dict[str, Any] = read_json_file(root / "examples" / "iv.json", "iv file")
    stamp = dt.datetime.fromtimestamp(expiry, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    names: dict[str, str] = {}
    iv_new: dict[str, Any] = {}
    for name, entry in iv_doc.items():
        new = _series_name(entry["underlying"], expiry, entry["strike"], entry["kind"])
        names[name] = new
        iv_new[new] = {**entry, "expiry": stamp}
    template = {**template, "prices": prices, "options": {}}
    history = load_history(root / "data" / "sp500_nasdaq_daily.csv")
    markets = parse_risk_file(template, "template").market_names
    mapping = parse_market_map("ETH-USD=NASDAQ,BTC-USD=SP500", markets, history)
    pub = publish(history, template, parse_iv_file(iv_new), mapping=mapping, now=now)
    write_json(path, pub.document)
    return path, names


def deployment_prices() -> dict[str, str]:
    """The deployment's initial oracle prices by market and asset name."""
    feeds = {f.name: f.price for f in DEFAULT_SPEC.feeds}
    prices = {m.name: feeds[m.feed] for m in DEFAULT_SPEC.markets}
    return prices | {a.name: feeds[a.feed] for a in DEFAULT_SPEC.assets}


def _account(address: str, call: str) -> PortfolioAccount:
    """Long 5 ETH perpetual, short 5 ETH 2,500 calls (entries set by plan_open)."""
    return PortfolioAccount(
        address=int(address, 16),
        salt=1,
        collateral={},
        positions=(
            PortfolioPosition("ETH-USD", False, True, Size(5 * ONE), Price(1)),
            PortfolioPosition(call, True, False, Size(5 * ONE), Price(1)),
        ),
    )


def onchain(
    out: Console,
    engine_client: EngineClient,
    prover: Prover,
    trader: Signer,
    keeper: Signer,
    publisher: Signer,
    expiry: int,
    work: Path,
) -> None:
    """Act: a covered call on the PortfolioEngine, end to end (see the module docstring).
    The oracle prices are left as found."""
    chain, deployment = engine_client.chain, engine_client.deployment
    engine = deployment.contracts.get(ENGINE)
    if engine is None:
        raise _fail("the deployment has no PortfolioEngine")
    client = PortfolioClient(chain, engine)
    feeds = {m.name: m.feed for m in DEFAULT_SPEC.markets} | {
        a.name: a.feed for a in DEFAULT_SPEC.assets
    }
    start = {name: engine_client.price(feed) for name, feed in feeds.items()}
    eth = start["ETH-USD"]
    path, names = demo_risk_file(
        chain.timestamp(),
        expiry,
        {name: format_fixed(p, 8) for name, p in start.items()},
        work / "risk.portfolio-engine.json",
    )
    risk: RiskFile = load_risk_file(path)
    client.publish_risk(publisher, risk)
    call = names["ETH-20261225-2500-C"]
    out.print(
        f"   the risk publisher re-marks the listed series at ETH {format_fixed(eth, 8)} "
        f"(Black-76, fitted covariance): risk epoch {client.risk_epoch()}, its commitment "
        "computed on-chain from the published words"
    )
    client.deposit(trader, 0, 3_000 * 10**6)
    account = client.plan_open(_account(trader.address, call), risk)
    out.print(
        f"   Dave deposits 3,000 USDC into the [bold]portfolio engine[/] (its own vaults) and "
        f"opens long 5 ETH-USD at {format_fixed(account.positions[0].entry, 8)}, short 5 "
        f"{call} at the published mark {format_fixed(account.positions[1].entry, 8)}"
    )
    opened = client.open(trader, account, risk, prover)
    out.print(
        f"   opening proof (λ_IM, entries = marks) in {opened.prove_seconds:.2f} s, "
        f"{opened.result.gas_used:,} gas: the engine built all 8 public inputs itself, "
        "the risk commitment included"
    )
    btc = start["BTC-USD"]
    moved, moved_btc = eth * 98 // 100, btc * 98 // 100
    engine_client.set_price(publisher, "ETH/USD", moved)
    engine_client.set_price(publisher, "BTC/USD", moved_btc)
    try:
        client.flag(keeper, trader.address)
    except RevertError as e:
        out.print(
            f"   ETH and BTC both fall 2% (ETH {format_fixed(moved, 8)}): the keeper's flag is "
            f"refused ([yellow]{e.name or e}[/]): a joint move is inside the proof's "
            "correlated ellipsoid"
        )
    else:
        raise _fail("a joint 2% move flagged the covered call")
    proved = client.prove_margin(trader, account, risk, prover)
    inputs = client.public_inputs(trader.address, 0)
    priced = client.priced(risk, inputs)
    balances = PortfolioStatement.from_public_signals(inputs).balances
    held = {name: Balance(balances[c]) for c, name in enumerate(priced.collateral)}
    report = evaluate(replace(account, collateral=held), priced, PortfolioMode.MAINTENANCE)
    out.print(
        f"   Dave proves maintenance ({proved.prove_seconds:.2f} s, "
        f"{proved.result.gas_used:,} gas): requirement {report.requirement_display()} USD, "
        f"equity {report.equity_display()}"
    )
    published = client.publication_prices(risk)
    closed = client.close(trader, account, risk)
    (event,) = client.engine.events(closed, "AccountClosed")
    if int(event.args["pnl"]) != settlement_pnl(account.positions, priced, published):
        raise _fail("the engine's close PnL differs from zkmargin.settlement's")
    series = priced.options[call]
    _, owed = option_values(series, published[series.underlying], priced.prices[series.underlying])
    out.print(
        f"   Dave closes: the engine opens the commitment and settles ETH at "
        f"{format_fixed(moved, 8)} and the short call at {format_fixed(owed, 8)} (its mark "
        f"{format_fixed(series.mark, 8)} moved by δ since publication, plus its gamma charge), "
        f"less the close fee, through the portfolio vault ({closed.gas_used:,} gas)"
    )
    if client.account_state(trader.address).open:
        raise _fail("the portfolio account is still open after close")
    engine_client.set_price(publisher, "ETH/USD", eth)
    engine_client.set_price(publisher, "BTC/USD", btc)
