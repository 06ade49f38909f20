"""The engine-v2 acts of ``zkmargin demo`` (cli/demo.py tells the story in order).

Each act prints what it did and checks it against what the chain (or the verifier) says;
a chain that does not behave as told stops the demo with a ``ClickException``:

* :func:`lp_deposit` / :func:`lp_request` / :func:`lp_redeem`: an LP enters the USDC
  vault (ERC-4626), asks for its assets back, and redeems after the delay, at a share
  price that the traders' losses moved;
* :func:`calm_move`: a small move inside the proven sets: nothing to flag, no proof sent;
* :func:`outage`: the feeds go stale past their heartbeat; ``pokeStale`` stops the clocks,
  opening and withdrawing are refused, wall time passes the proof lifetime and nobody
  becomes liquidatable; the feeds resume and the trader proves;
* :func:`portfolio`: off-chain, a covered call's portfolio margin (correlated move set,
  options) proved and verified next to the naked call's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console

from chain.client import EngineClient
from chain.deploy import parse_price
from chain.errors import RevertError
from chain.pool import Pools
from chain.signers import Signer
from prover.prove import Prover
from zkmargin.amounts import format_fixed
from zkmargin.errors import ZkMarginError
from zkmargin.model import Account
from zkmargin.paths import project_root

LP_ASSET = "USDC"
LP_DEPOSIT = "100000"  # whole tokens


def _fail(message: str) -> click.ClickException:
    return click.ClickException(message)


def _usdc(client: EngineClient, units: int) -> str:
    return f"{format_fixed(units, client.deployment.asset(LP_ASSET).decimals)} {LP_ASSET}"


def _share_price(pools: Pools) -> str:
    """Assets per whole share (shares have the asset's decimals + 6), from the vault's
    ``convertToAssets``."""
    pool = pools.contracts[LP_ASSET]
    one_share = 10 ** (pools.deployment.asset(LP_ASSET).decimals + 6)
    return format_fixed(int(pool.call("convertToAssets", one_share)), 6)


# ---------------------------------------------------------------- the LP


@dataclass
class LpStory:
    signer: Signer
    shares: int = 0
    value_at_entry: int = 0


def lp_deposit(out: Console, client: EngineClient, lp: Signer) -> LpStory:
    pools = client.pools
    info = client.deployment.asset(LP_ASSET)
    amount = int(LP_DEPOSIT) * 10**info.decimals
    before = pools.state(LP_ASSET)
    price_before = _share_price(pools)
    _, tx = pools.deposit(lp, LP_ASSET, amount)
    after = pools.state(LP_ASSET)
    position = pools.position(LP_ASSET, lp.address)
    if after.total_assets - before.total_assets != amount or position.shares <= 0:
        raise _fail("the vault did not take the LP's deposit")
    out.print(
        f"   Carol deposits {_usdc(client, amount)} into the {LP_ASSET} vault at "
        f"{price_before} USDC a share: {format_fixed(position.shares, info.decimals + 6)} "
        f"zmpUSDC shares worth {_usdc(client, position.value)}, {tx.gas_used:,} gas"
    )
    out.print(
        f"   the vault now holds {_usdc(client, after.total_assets)} for its LPs (the deployer "
        "was the first); it pays trader profits and takes trader losses, fees and "
        "liquidation proceeds"
    )
    return LpStory(lp, position.shares, position.value)


def lp_request(out: Console, client: EngineClient, story: LpStory) -> None:
    pools = client.pools
    position = pools.position(LP_ASSET, story.signer.address)
    if position.value <= story.value_at_entry:
        raise _fail("the liquidation proceeds did not raise the LP's share value")
    gain = position.value - story.value_at_entry
    out.print(
        f"   Carol's shares are now worth {_usdc(client, position.value)} "
        f"([green]+{_usdc(client, gain)}[/]): Alice's seized collateral went to the vault; "
        f"share price {_share_price(pools)} USDC"
    )
    tx = pools.request_redeem(story.signer, LP_ASSET)
    pending = pools.position(LP_ASSET, story.signer.address)
    if pending.pending_shares != story.shares or pending.redeemable != 0:
        raise _fail("the redemption request did not escrow the LP's shares")
    delay = pending.matures_at - client.chain.timestamp()
    out.print(
        f"   Carol requests a redemption of all her shares ({tx.gas_used:,} gas): escrowed; "
        f"they execute after the vault's delay ({_hours(delay)}, longer than a proof's "
        "lifetime + grace, so a loss that has happened settles first), within a "
        f"{_hours(pending.expires_at - pending.matures_at)} window; redeemable now: "
        f"{pending.redeemable}"
    )


def lp_redeem(out: Console, client: EngineClient, story: LpStory) -> None:
    pools = client.pools
    position = pools.position(LP_ASSET, story.signer.address)
    now = client.chain.timestamp()
    if position.matures_at > now:
        client.chain.advance_time(position.matures_at - now)
        out.print(f"   ... {_hours(position.matures_at - now)} later the request has matured")
    wallet = client.wallet_balance(story.signer.address, LP_ASSET)
    tx = pools.redeem(story.signer, LP_ASSET)
    received = client.wallet_balance(story.signer.address, LP_ASSET) - wallet
    left = pools.position(LP_ASSET, story.signer.address)
    entered = int(LP_DEPOSIT) * 10 ** client.deployment.asset(LP_ASSET).decimals
    if left.pending_shares or left.shares or received <= entered:
        raise _fail("the LP's redemption did not pay out its grown shares")
    out.print(
        f"   Carol redeems ({tx.gas_used:,} gas): {_usdc(client, received)} back for "
        f"{_usdc(client, entered)} deposited ([green]+{_usdc(client, received - entered)}[/]: "
        "her share of the traders' losses); she holds no shares now"
    )


def _hours(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    return (
        " ".join(
            part
            for part in (
                f"{days} d" if days else "",
                f"{hours} h" if hours else "",
                f"{minutes} min" if minutes else "",
            )
            if part
        )
        or f"{seconds} s"
    )


# ---------------------------------------------------------------- a calm move


def calm_move(
    out: Console,
    client: EngineClient,
    admin: Signer,
    keeper: Signer,
    traders: list[tuple[str, Signer]],
    price: str,
    expect_revert: Callable[[str, str, Callable[[], object]], None],
) -> None:
    before = {name: client.account_state(s.address) for name, s in traders}
    client.set_price(admin, "ETH/USD", parse_price(price))
    flags = {name: client.flaggable(signer.address) for name, signer in traders}
    if any(flags.values()):
        raise _fail(f"a calm move to {price} left a proven set: flaggable {flags}")
    out.print(
        f"   flaggable({', '.join(flags)}): "
        f"{', '.join(str(f).lower() for f in flags.values())} (the engine's view): the move "
        "is inside the set each last proof covers"
    )
    name, signer = traders[-1]
    expect_revert(
        f"the keeper tries to flag {name}",
        "the price is inside his proven set",
        lambda: client.flag_shock(keeper, signer.address),
    )
    for who, s in traders:
        now = client.account_state(s.address)
        if (now.nonce, now.last_proof_at) != (before[who].nonce, before[who].last_proof_at):
            raise _fail(f"{who}'s account changed on a calm move")
    out.print("   no proof sent: both accounts' nonces and last proof times are unchanged on-chain")


# ---------------------------------------------------------------- an outage


FEEDS_AT_RESUME = {"ETH/USD": "1600", "BTC/USD": "60000", "USDC/USD": "1"}


def outage(
    out: Console,
    client: EngineClient,
    prover: Prover,
    admin: Signer,
    keeper: Signer,
    trader: tuple[str, Signer, Account],
    outsider: tuple[str, Signer, Account],
    expect_revert: Callable[[str, str, Callable[[], object]], None],
) -> None:
    """Every feed stops; the clocks of the cross accounts (clock 0) stop with them."""
    chain = client.chain
    name, signer, account = trader
    state = client.account_state(signer.address)
    lifetime = state.lifetime
    heartbeat = min(f.heartbeat for f in client.deployment.feeds)
    lapse_wall = state.last_proof_at + lifetime  # no outage yet: live time == block time
    first_block = int(chain.block()["number"], 16)
    out.print(
        f"   {name}'s last proof expires at chain time {lapse_wall} ({_hours(lifetime)} after "
        "it); the feeds stop updating"
    )
    chain.advance_time(heartbeat + 60)
    stale = [f.name for f in client.deployment.feeds if f.heartbeat == heartbeat]
    client.poke_stale(keeper, signer.address)
    total, since = client.stale_clock(0)
    if since == 0:
        raise _fail("pokeStale did not start an outage")
    out.print(
        f"   ... {_hours(heartbeat + 60)} later {' and '.join(stale)} are past their "
        f"{_hours(heartbeat)} heartbeat; the keeper calls pokeStale({name}): the cross "
        f"accounts' clock stopped at {since} ({_hours(chain.timestamp() - since)} ago), "
        "when the first feed went stale"
    )
    _refused(
        out,
        "Bob tries to withdraw 100 USDC",
        lambda: client.withdraw(signer, account, "USDC", 100 * 10**6, prover),
    )
    oname, osigner, oaccount = outsider
    _refused(
        out,
        f"{oname} tries to open a new account",
        lambda: client.open(osigner, client.plan_open(oaccount), prover),
    )
    target = lapse_wall + 3600
    chain.advance_time(target - chain.timestamp())
    now_ = chain.timestamp()
    if now_ <= lapse_wall:
        raise _fail("the outage did not outlast the proof's lifetime")
    liquidatable, at = client.liquidatable(signer.address)
    if liquidatable:
        raise _fail(f"{name} became liquidatable during an outage")
    out.print(
        f"   ... chain time {now_}: wall time is {_hours(now_ - lapse_wall)} past {name}'s "
        f"proof lifetime, yet liquidatable({name}) is false (the clock does not run while "
        "the feeds are stale)"
    )
    expect_revert(
        f"the keeper tries to liquidate {name}",
        "outage time counts toward no clock",
        lambda: client.liquidate(keeper, signer.address),
    )
    for feed, price in FEEDS_AT_RESUME.items():
        client.set_price(admin, feed, parse_price(price))
    client.poke_stale(keeper, signer.address)
    total, since = client.stale_clock(0)
    if since != 0 or total < now_ - lapse_wall:
        raise _fail("the outage was not counted when the feeds resumed")
    liquidatable, at = client.liquidatable(signer.address)
    if liquidatable or at is None:
        raise _fail(f"{name} is liquidatable after the outage")
    out.print(
        f"   the feeds resume (ETH 1600, BTC 60000, USDC 1); pokeStale ends the outage: "
        f"{_hours(total)} of stale time on the clock; {name}'s proof now lapses at "
        f"{at} ({_hours(at - chain.timestamp())} from now)"
    )
    tx = client.prove_margin(signer, account, prover)
    liquidated = _liquidations_since(client, first_block)
    if liquidated:
        raise _fail(f"accounts were liquidated during the outage: {liquidated}")
    out.print(
        f"   {name} proves at the resumed prices: accepted, nonce {tx.bundle.statement.nonce}, "
        f"{tx.result.gas_used:,} gas; [green]nobody was liquidated by the outage[/] (no "
        "Liquidated event since it began)"
    )


def _liquidations_since(client: EngineClient, block: int) -> list[str]:
    event = client.engine.web3.events.Liquidated()
    logs = client.chain.guarded(
        "MarginEngine Liquidated logs", lambda: list(event.get_logs(from_block=block))
    )
    return [str(log["args"]["account"]) for log in logs]


def _refused(out: Console, what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except (RevertError, ZkMarginError) as exc:
        text = getattr(exc, "name", None) or str(exc)
        if "Stale" not in str(exc) and "Stale" not in text:
            raise
        out.print(f"   {what}: refused, [yellow]{text}[/] (prices are stale)")
    else:
        raise _fail(f"the engine accepted during an outage: {what}")


# ---------------------------------------------------------------- portfolio margin


BOOK_NOW = "2026-12-01T00:00:00Z"  # valuation time of the example books (series expire 12-25)


def portfolio(out: Console, prover: Prover, work: Path) -> None:
    from cli.portfolio import load_portfolio_inputs
    from verifier.bundle import verify_bundle
    from zkmargin.jsonio import read_json_file, write_json
    from zkmargin.portfolio import PortfolioMode
    from zkmargin.portfolio import evaluate as evaluate_portfolio
    from zkmargin.riskfile import parse_risk_file, parse_time
    from zkmargin.riskpublish import parse_iv_file, parse_market_map, publish
    from zkmargin.volatility import load_history

    root = project_root()
    history = load_history(root / "data" / "sp500_nasdaq_daily.csv")
    template = read_json_file(root / "examples" / "risk.json", "template")
    iv = parse_iv_file(read_json_file(root / "examples" / "iv.json", "iv file"))
    markets = parse_risk_file(template, "template").market_names
    mapping = parse_market_map("ETH-USD=NASDAQ,BTC-USD=SP500", markets, history)
    pub = publish(history, template, iv, mapping=mapping, now=parse_time(BOOK_NOW, "now"))
    risk_file = work / "risk.published.json"
    write_json(risk_file, pub.document)
    out.print(
        "   a risk publisher fits a correlated move set (EWMA covariance, stressed "
        "correlations) and Black-76 option marks to a price history and implied vols: "
        f"{risk_file.name}"
    )
    books = root / "examples" / "portfolio"
    margins: dict[str, int] = {}
    for label, book in (("covered call", "covered-call"), ("naked call", "naked-call")):
        account, risk, now = load_portfolio_inputs(books / f"{book}.book.json", risk_file, BOOK_NOW)
        report = evaluate_portfolio(account, risk, PortfolioMode.MAINTENANCE)
        started = time.perf_counter()
        bundle = prover.prove_portfolio(account, risk, mode=PortfolioMode.MAINTENANCE, now=now)
        seconds = time.perf_counter() - started
        verdict = verify_bundle(bundle)
        if not verdict.valid or not report.solvent:
            raise _fail(f"the {label} book's portfolio proof: {verdict.reason}")
        margins[label] = report.requirement
        what = (
            "long 10 ETH, short 10 ETH 1700 calls"
            if book == "covered-call"
            else "short 10 ETH 1700 calls"
        )
        out.print(
            f"   {label} ({what}, 3,000 USDC): maintenance requirement "
            f"[bold]{report.requirement_display()}[/] USD, equity {report.equity_display()}; "
            f"proved in {seconds:.2f} s, {verdict.reason}"
        )
    if margins["covered call"] >= margins["naked call"]:
        raise _fail("the hedge did not lower the portfolio margin")
    out.print(
        "   the hedge is cheaper: the long ETH offsets the calls' delta inside the "
        "correlated move set. Now on-chain, on the [bold]PortfolioEngine[/]:"
    )
