"""``zkmargin demo``: the whole on-chain story on an anvil that the demo starts and stops.

Cast (anvil's public dev accounts, see ``zkmargin chain accounts``):

* dev account 0 deploys the system and owns the engine and the oracle (the "admin");
* dev account 1 is Alice: an isolated account, 2,000 USDC, long 5 ETH (5x);
* dev account 2 is Bob: a cross account, 5,000 USDC + 1 WETH, long 2 ETH, short 0.1 BTC;
* dev account 3 is the keeper, who flags shocks and liquidates;
* dev account 4 is Carol, a liquidity provider in the USDC vault.

Story: deploy; Carol deposits into the USDC vault (ERC-4626); Alice and Bob deposit and
open private positions (the chain stores a commitment); both prove maintenance margin;
a calm 2% move stays inside both proven sets (nothing to flag, no proof sent); ETH falls
20%; Bob proves again, Alice cannot (the prover refuses: no proof exists); the keeper
flags the shock on Alice, waits out the grace period (anvil's clock moves) and
liquidates her; Carol's shares gained the seized collateral and she asks to redeem.
Every feed then stops: ``pokeStale`` stops the clocks, withdrawing and opening are
refused, wall time passes Bob's proof lifetime and nobody becomes liquidatable; the
feeds resume and Bob proves. Carol's request matures and she redeems more than she
put in. Off-chain, a covered call's portfolio margin is proved and verified next to the
naked call's; then on the PortfolioEngine the publisher re-marks the series, Dave opens the
covered call with an opening proof, a joint 2% fall stays inside its correlated move set
(the keeper's flag is refused), Dave proves and closes. Last act: ETH drifts down towards
the edge of the moves Bob's proof covers; Bob's guardian re-proves before the edge is
crossed, so when the price crosses it the keeper finds nothing to flag (without the
guardian, Bob would have been flagged).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from chain.anvil import LocalChain
from chain.client import EngineClient, Kind, make_decoder
from chain.deploy import DEFAULT_SPEC, Deployment, PortfolioSpec, deploy_system, parse_price
from chain.errors import RevertError
from chain.rpc import Chain
from chain.signers import Signer, dev_signer
from cli import demo_acts, demo_portfolio
from cli.deploy import build_contracts
from prover.prove import Prover
from prover.setup import run_setup
from zkmargin.accounts import load_account, new_account, save_account
from zkmargin.amounts import format_fixed, parse_fixed
from zkmargin.errors import InsufficientMargin
from zkmargin.model import Account, Mode, Position, evaluate
from zkmargin.units import PRICE_DECIMALS, SIZE_BITS, SIZE_DECIMALS, Price, Size


@dataclass
class Trader:
    name: str
    signer: Signer
    file: Path
    deposits: dict[str, str]  # asset -> whole tokens
    positions: tuple[Position, ...]  # entry prices are set by `open`


def _size(text: str) -> Size:
    return Size(parse_fixed(text, SIZE_DECIMALS, field="size", bits=SIZE_BITS, positive=False))


def _open_calldata_bytes(client: EngineClient, kind: Kind, commitment: int) -> int:
    """Size of the open transaction's calldata: all the chain ever receives from a trader."""
    proof = ((0, 0), ((0, 0), (0, 0)), (0, 0))
    if kind is Kind.ISOLATED:
        return len(client.engine.encode("openIsolated", commitment, 0, 0, proof))
    return len(client.engine.encode("openCross", commitment, proof))


@click.command()
@click.option(
    "--keep",
    type=click.Path(path_type=Path, file_okay=False),
    help="Keep the account files and the deployment file in this (new) directory.",
)
def demo(keep: Path | None) -> None:
    """The on-chain story on a private anvil: an LP, private positions, a calm move, a crash
    and a liquidation, an outage, portfolio margin (off-chain and on-chain), a guardian."""
    out = Console(highlight=False)
    work = Path(tempfile.mkdtemp(prefix="zkmargin-demo-"))
    started = time.perf_counter()
    try:
        with LocalChain() as local:
            _story(out, work, local)
        out.print(f"\n[dim]anvil stopped; demo took {time.perf_counter() - started:.1f} s")
        if keep is not None:
            shutil.copytree(work, keep)
            out.print(f"files kept in {keep}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _story(out: Console, work: Path, local: LocalChain) -> None:
    out.rule("[bold]zkmargin demo: private positions, public proofs, on-chain liquidation")
    out.print(
        "[yellow]Development keys (one-party local ceremony), mock oracle and tokens, "
        "a throwaway local chain: never for real funds."
    )

    out.print("\n[bold]1. Trusted setup[/] (circuits and keys are cached by content hash)")
    report = run_setup(log=lambda line: out.print(f"   [dim]{line}"))
    prover = Prover(report.manifest)
    out.print(f"   ready in {report.seconds:.1f} s")

    out.print(f"\n[bold]2. A local chain[/]: anvil at {local.rpc_url} (pid {local.pid})")
    chain = Chain(local.rpc_url, decoder=make_decoder())
    admin = dev_signer(0)
    build_contracts()
    deployed = time.perf_counter()
    expiry = demo_portfolio.series_expiry(chain.timestamp())
    risk_path, _ = demo_portfolio.demo_risk_file(
        chain.timestamp(), expiry, demo_portfolio.deployment_prices(), work / "risk.deploy.json"
    )
    deployment, results = deploy_system(
        chain, admin, DEFAULT_SPEC, portfolio=PortfolioSpec(risk_file=risk_path)
    )
    deployment.save(work / "deployment.json")
    client = EngineClient(chain, deployment)
    chain.decoder = make_decoder(deployment)
    out.print(
        f"   deployed in {time.perf_counter() - deployed:.1f} s ({len(results)} transactions): "
        "mock feeds and tokens, oracle adapter, both verifiers, Poseidon, engine; listed "
        "ETH-USD and BTC-USD, collateral USDC and WETH; funded the insurance pool"
    )
    _deployment_table(out, deployment, deployment.deploy_gas, sum(r.gas_used for r in results))
    spec = DEFAULT_SPEC
    out.print(
        f"   engine rules: a proof keeps an account safe for {spec.proof_lifetime // 3600} h at "
        "most; once a price leaves the moves its last proof covers (MMR, shrunk by the "
        "penalty) the account can be flagged, then the "
        f"account has {spec.grace_period // 60} min to prove again; a liquidator earns "
        f"{spec.liquidation_penalty_bps / 100:g}% of the seized collateral."
    )

    keeper = dev_signer(3)
    carol = dev_signer(4)
    alice = Trader(
        "Alice",
        dev_signer(1),
        work / "alice.account.json",
        {"USDC": "2000"},
        (Position("ETH-USD", True, _size("5"), Price(1)),),
    )
    bob = Trader(
        "Bob",
        dev_signer(2),
        work / "bob.account.json",
        {"USDC": "5000", "WETH": "1"},
        (
            Position("ETH-USD", True, _size("2"), Price(1)),
            Position("BTC-USD", False, _size("0.1"), Price(1)),
        ),
    )
    out.print(
        "   Cast: the admin deployed and owns the engine; [bold]Alice[/] will hold a 5x long "
        "ETH position on USDC (isolated); [bold]Bob[/] long ETH and short BTC on USDC and "
        "WETH (cross); a [bold]keeper[/] watches prices. Each signs with one of anvil's "
        "public dev accounts (keys never printed):"
    )
    cast = Table()
    for col in ("who", "dev account", "address"):
        cast.add_column(col)
    for name, index, signer in (
        ("admin", 0, admin),
        ("Alice", 1, alice.signer),
        ("Bob", 2, bob.signer),
        ("keeper", 3, keeper),
        ("Carol (LP)", 4, carol),
    ):
        cast.add_row(name, str(index), signer.address)
    out.print(cast)

    def expect(what: str, why: str, action: Callable[[], object]) -> None:
        _expect_revert(out, what, why, action)

    out.print("\n[bold]3. An LP enters the USDC vault[/] (ERC-4626, the traders' counterparty)")
    lp = demo_acts.lp_deposit(out, client, carol)

    out.print("\n[bold]4. Deposits and private positions[/]")
    accounts: dict[str, Account] = {}
    for trader in (alice, bob):
        for asset, amount in trader.deposits.items():
            units = int(amount) * 10 ** deployment.asset(asset).decimals
            client.deposit(trader.signer, asset, units)
            out.print(f"   {trader.name} deposits {amount} {asset} (public: the engine holds it)")
        account = new_account(int(trader.signer.address, 16), {}, trader.positions)
        save_account(trader.file, account)
        plan = client.plan_open(account)
        save_account(trader.file, plan.account, overwrite=True)
        accounts[trader.name] = load_account(trader.file, client.names_data())
        tx = client.open(trader.signer, plan, prover)
        state = client.account_state(trader.signer.address)
        calldata = _open_calldata_bytes(client, plan.kind, state.commitment)
        out.print(
            f"   {trader.name} opens {'an isolated' if plan.kind is Kind.ISOLATED else 'a cross'} "
            "account with an opening proof "
            f"(initial margin, entries = oracle price) in {tx.prove_seconds:.2f} s, "
            f"{tx.result.gas_used:,} gas"
        )
        _privacy_table(
            out, client, trader, accounts[trader.name], state.commitment, calldata, plan.kind
        )

    out.print(
        "\n[bold]5. Both prove maintenance margin on-chain[/] (any time; at least once "
        "per proof lifetime)"
    )
    for trader in (alice, bob):
        tx = client.prove_margin(trader.signer, accounts[trader.name], prover)
        out.print(
            f"   {trader.name}: accepted, nonce {tx.bundle.statement.nonce}, "
            f"{tx.prove_seconds:.2f} s to prove, {tx.result.gas_used:,} gas"
        )

    out.print("\n[bold]6. A calm move: ETH 2,000 -> 1,960 (-2%)[/]")
    demo_acts.calm_move(
        out, client, admin, keeper, [("Alice", alice.signer), ("Bob", bob.signer)], "1960", expect
    )

    before = _balances(client, [alice, bob], keeper)
    _balance_table(out, "Token balances before the crash", before, None)

    out.print(
        "\n[bold]7. ETH crashes 20% from 2,000: 1,960 -> 1,600[/] (the ETH/USD feed also "
        "prices WETH)"
    )
    client.set_price(admin, "ETH/USD", parse_price("1600"))
    _margin_table(out, client, [alice, bob], accounts)

    out.print("\n[bold]8. Bob proves again[/]: his collateral covers the loss")
    tx = client.prove_margin(bob.signer, accounts["Bob"], prover)
    out.print(f"   accepted at the new price, {tx.result.gas_used:,} gas; Bob is safe again")

    out.print("\n[bold]9. Alice tries[/]")
    try:
        client.prove_margin(alice.signer, accounts["Alice"], prover)
    except InsufficientMargin as exc:
        out.print(f"   the prover refuses, no valid proof exists: [red]{exc}")
    else:
        raise click.ClickException("an insolvent account produced a proof")

    out.print("\n[bold]10. The keeper[/] watches prices, not positions (it cannot see them)")
    _expect_revert(
        out,
        "flags Bob",
        "he proved at the new price",
        lambda: client.flag_shock(keeper, bob.signer.address),
    )
    client.flag_shock(keeper, alice.signer.address)
    status = client.status(alice.signer.address)
    wait = (status.liquidatable_at or status.now) - status.now
    out.print(
        f"   flags Alice: ETH moved 20% since her last proof; she has "
        f"{wait // 60} min {wait % 60} s to prove again"
    )
    _expect_revert(
        out,
        "liquidates Alice at once",
        "her grace period is running",
        lambda: client.liquidate(keeper, alice.signer.address),
    )
    chain.advance_time(wait)
    out.print(
        f"   ... {wait} s later on the chain's clock (anvil: evm_increaseTime), "
        "no new proof from Alice"
    )
    tx_result = client.liquidate(keeper, alice.signer.address)
    event = client.engine.events(tx_result, "Liquidated")[0]
    reward = format_fixed(int(event.args["reward"][0]), 6)
    to_pool = format_fixed(int(event.args["toPool"][0]), 6)
    out.print(
        f"   liquidates Alice: [green]{reward} USDC reward[/], {to_pool} USDC to the "
        f"USDC vault (escrow), {tx_result.gas_used:,} gas"
    )
    found = client.liquidation(alice.signer.address)
    if found is None or client.account_state(alice.signer.address).open:
        raise click.ClickException("the liquidation left Alice's account open or unrecorded")
    out.print(
        f"   Alice's account is closed; she may reclaim the escrow above the penalty "
        f"(less the close fee, at the liquidation prices) until chain time {found.deadline} "
        f"({(found.deadline - chain.timestamp()) // 3600} h) by revealing her positions "
        "(`zkmargin reclaim`)"
    )
    if client.liquidatable(bob.signer.address)[0]:
        raise click.ClickException("Bob, who kept proving, is liquidatable")
    out.print("   Bob is not liquidatable: his last proof covers him")

    after = _balances(client, [alice, bob], keeper)
    _balance_table(out, "Token balances after the liquidation (change)", after, before)

    out.print("\n[bold]11. The LP's side[/]")
    demo_acts.lp_request(out, client, lp)

    out.print(
        "\n[bold]12. An oracle outage[/]: the feeds stop; stale time counts toward no "
        "account's lifetime or grace"
    )
    retry = new_account(int(alice.signer.address, 16), {}, alice.positions)
    demo_acts.outage(
        out,
        client,
        prover,
        admin,
        keeper,
        ("Bob", bob.signer, accounts["Bob"]),
        ("Alice", alice.signer, retry),
        expect,
    )

    out.print("\n[bold]13. The LP leaves[/]")
    demo_acts.lp_redeem(out, client, lp)

    out.print(
        "\n[bold]14. Portfolio margin with an option hedge[/] (off-chain, then on the "
        "PortfolioEngine)"
    )
    demo_acts.portfolio(out, prover, work)
    demo_portfolio.onchain(out, client, prover, dev_signer(5), keeper, admin, expiry, work)

    _guardian_act(out, client, prover, bob, accounts["Bob"], keeper, work)
    out.print(
        "\n[green]Done.[/] The chain never saw a position: only commitments, balances, prices "
        "and proofs. A calm move needed no proof; Bob kept proving and stayed safe; Alice "
        "could not, and was liquidated; an outage liquidated no one; Carol's shares earned "
        "the traders' losses; a hedged book needs less margin, and Dave's covered call "
        "lived on-chain inside its correlated move set; Bob's guardian re-proved "
        "before a keeper could flag him."
    )


# ETH drifts from the 1,600 of Bob's last proof towards the edge of its move set (4.75%
# below: 1,524), then past it. Prices in quote units.
GUARDIAN_PATH = ("1590", "1570", "1550", "1535", "1526", "1515")


def _guardian_act(
    out: Console,
    client: EngineClient,
    prover: Prover,
    trader: Trader,
    account: Account,
    keeper: Signer,
    work: Path,
) -> None:
    """Act 9: the guardian (chain.guardian) re-proves before the price leaves the set."""
    from chain.guardian import GuardConfig, Guarded, Guardian

    out.print(
        f"\n[bold]15. {trader.name}'s guardian[/] (`zkmargin guard`) watches the oracle: it "
        "re-proves when the chance of leaving the proven set before a proof could land "
        "exceeds 5%, counting that one oracle update may step 0.5% at once"
    )
    admin = dev_signer(0)
    proven = client.account_state(trader.signer.address).proven_prices[0]
    mmr, pen = DEFAULT_SPEC.markets[0].mmr_bps, DEFAULT_SPEC.liquidation_penalty_bps
    edge = proven * (10_000 * 10_000 - mmr * (10_000 - pen)) // (10_000 * 10_000)
    out.print(
        f"   {trader.name}'s last proof was at ETH {format_fixed(proven, PRICE_DECIMALS)}; a "
        f"keeper may flag him below {format_fixed(edge, PRICE_DECIMALS)} (MMR "
        f"{mmr / 100:g}% shrunk by the {pen / 100:g}% penalty)"
    )
    lines: list[str] = []
    config = GuardConfig(state_file=work / "guard.json", interval=0.01)
    guardian = Guardian(client, prover, [Guarded(account, trader.signer)], config, log=lines.append)
    for price in GUARDIAN_PATH:
        client.set_price(admin, "ETH/USD", parse_price(price))
        lines.clear()
        action = guardian.step().get(trader.signer.address)
        if action == "proved":
            reason = lines[-1].split("; ", 1)[1].split("):", 1)[0]
            out.print(f"   ETH {price}: [green]guardian re-proves[/] ({reason})")
        else:
            out.print(f"   ETH {price}: guardian: safe, nothing to do")
    now = parse_price(GUARDIAN_PATH[-1])
    if now >= edge:
        raise click.ClickException("the demo's price path never leaves the first proof's set")
    out.print(
        f"   ETH {GUARDIAN_PATH[-1]} is past the edge of the {format_fixed(proven, 8)} proof: "
        "without the guardian a keeper would flag Bob now"
    )
    if client.flaggable(trader.signer.address):
        raise click.ClickException("the guardian did not keep Bob inside his proven set")
    _expect_revert(
        out,
        f"the keeper tries to flag {trader.name} at ETH {format_fixed(now, PRICE_DECIMALS)}",
        "his guardian's proof covers this price",
        lambda: client.flag_shock(keeper, trader.signer.address),
    )


# ---------------------------------------------------------------- tables


def _deployment_table(
    out: Console, deployment: Deployment, gas: dict[str, int], total: int
) -> None:
    table = Table(title="Deployed contracts (gas from mined receipts)")
    table.add_column("contract")
    table.add_column("address", no_wrap=True, min_width=42)
    table.add_column("gas", justify="right")
    addresses = {
        **{f"MockAggregator {f.name}": f.address for f in deployment.feeds},
        **{f"MockERC20 {a.name}": a.token for a in deployment.assets},
        **deployment.contracts,
    }
    for name, used in gas.items():
        address = addresses.get(name, "")
        table.add_row(name, address, f"{used:,}")
    table.add_row("[bold]all transactions", "incl. listings, pool, faucet", f"[bold]{total:,}")
    out.print(table)


def _privacy_table(
    out: Console,
    client: EngineClient,
    trader: Trader,
    account: Account,
    commitment: int,
    calldata: int,
    kind: Kind,
) -> None:
    table = Table(title=f"{trader.name}: what the chain sees vs what only {trader.name} knows")
    table.add_column("on-chain (public)")
    table.add_column(f"{trader.file.name} (private, mode 0600)")
    positions = [
        f"{'long' if p.long else 'short'} {format_fixed(p.size, 8)} {p.market} "
        f"@ {format_fixed(p.entry_price, PRICE_DECIMALS)}"
        for p in account.positions
    ]
    public = [
        f"commitment {str(commitment)[:20]}…",
        f"kind: {kind.name.lower()}"
        + (f" on {account.positions[0].market}" if kind is Kind.ISOLATED else ""),
        "balances: "
        + ", ".join(
            f"{format_fixed(v, client.deployment.asset(k).decimals)} {k}"
            for k, v in client.balances(trader.signer.address).items()
            if v
        ),
        f"calldata: {calldata} bytes (commitment, ids, 8 proof words)",
    ]
    private = [*positions, f"salt {str(account.salt)[:12]}… (random)"]
    for i in range(max(len(public), len(private))):
        table.add_row(public[i] if i < len(public) else "", private[i] if i < len(private) else "")
    out.print(table)


def _margin_table(
    out: Console, client: EngineClient, traders: list[Trader], accounts: dict[str, Account]
) -> None:
    table = Table(title="Margin at ETH 1,600 (only each trader can compute it)")
    for col in ("trader", "equity (USD)", "requirement (USD)", "can prove?"):
        table.add_column(col, justify="right")
    for trader in traders:
        state = client.account_state(trader.signer.address)
        data = client.market_data_for(state)
        report = evaluate(client.chain_account(accounts[trader.name], data), data, Mode.MAINTENANCE)
        table.add_row(
            trader.name,
            report.equity_display(),
            report.requirement_display(),
            "yes" if report.solvent else "[red]no",
        )
    out.print(table)


Balances = dict[str, dict[str, int]]


def _balances(client: EngineClient, traders: list[Trader], keeper: Signer) -> Balances:
    rows: Balances = {}
    for name, address in [
        *((t.name, t.signer.address) for t in traders),
        ("keeper", keeper.address),
    ]:
        rows[name] = {}
        for info in client.deployment.assets:
            rows[name][f"wallet {info.name}"] = client.wallet_balance(address, info.name)
            rows[name][f"engine {info.name}"] = client.balance(address, info.name)
    rows["insurance pool"] = {
        f"engine {info.name}": client.pool(info.name) for info in client.deployment.assets
    }
    return rows


def _balance_table(out: Console, title: str, after: Balances, before: Balances | None) -> None:
    decimals = {"USDC": 6, "WETH": 18}
    table = Table(title=title)
    columns = list(after["Alice"])
    table.add_column("who")
    for col in columns:
        table.add_column(col, justify="right")
    for who, row in after.items():
        cells = []
        for col in columns:
            if col not in row:
                cells.append("")
                continue
            asset = col.split()[1]
            new = row[col]
            old = new if before is None else before[who][col]
            text = format_fixed(new, decimals[asset])
            if new != old:
                delta = format_fixed(new - old, decimals[asset])
                text += f" [{'green' if new > old else 'red'}]({'+' if new > old else ''}{delta})"
            cells.append(text)
        table.add_row(who, *cells)
    out.print(table)


def _expect_revert(out: Console, what: str, why: str, action: Callable[[], object]) -> None:
    try:
        action()
    except RevertError as exc:
        out.print(f"   {what}: refused by the engine with [yellow]{exc.name}[/]: {why}")
    else:
        raise click.ClickException(f"the engine accepted: {what}")
