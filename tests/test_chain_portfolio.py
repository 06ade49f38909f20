"""Portfolio accounts on anvil, end to end: ``PortfolioEngine`` deployed beside the
session's system (its own oracle adapter, feeds, tokens, vaults, Poseidon contracts and the
generated PortfolioVerifier), a risk epoch published from a risk file, and a trader who
opens with an option hedge (a long ETH perpetual and a long ETH put, entries at the
current marks), proves maintenance, is refused a withdrawal that only an unrealized gain
would cover, withdraws less, and closes. Every proof goes through the real prover and the
engine's verifier; the public inputs are compared with the engine's views first.

The deployment mirrors contracts/test/utils/PortfolioBase.sol (listing order = id order).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from test_portfolio_cli import ROOT, run

from chain.artifacts import load_artifact
from chain.errors import ChainError, PublicInputsMismatch, RevertError
from chain.local import LocalSystem
from chain.portfolio import MODE_MAINTENANCE, MODE_OPENING, PortfolioClient
from chain.rpc import Contract, deploy_contract
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.errors import InputError, InsufficientMargin
from zkmargin.jsonio import PRIVATE, write_json
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    PortfolioPosition,
    evaluate,
    load_portfolio_account,
    portfolio_account_to_json,
)
from zkmargin.portfolio_encoding import portfolio_commitment
from zkmargin.riskfile import (
    OptionSeries,
    PortfolioCollateral,
    PortfolioMarket,
    RiskFile,
    risk_commitment,
    risk_file_to_json,
    settle_series,
)
from zkmargin.settlement import settlement_pnl
from zkmargin.units import Balance, Bps, Price, Size

ONE = 10**8
USDC_UNIT = 10**6
DAY = 86_400
PUT, CALL = "ETH-20270101-1900-P", "ETH-20270101-2500-C"


@dataclass(frozen=True)
class Stack:
    client: PortfolioClient
    risk: RiskFile
    feeds: dict[str, Contract]
    tokens: dict[str, Contract]
    owner: Signer


def _deploy(chain: Any, signer: Signer, name: str, *args: Any, **libraries: str) -> Contract:
    artifact = load_artifact(name)
    contract, _ = deploy_contract(
        chain, signer, artifact.abi, artifact.linked(libraries), *args, name=name
    )
    return contract


def make_risk(expiry: int) -> RiskFile:
    """Two markets, USDC and WETH (risk factor ETH-USD), a put and a call on ETH."""
    return RiskFile(
        markets={
            "ETH-USD": PortfolioMarket(Bps(500), Bps(1000), Bps(50)),
            "BTC-USD": PortfolioMarket(Bps(500), Bps(1000), Bps(40)),
        },
        collateral={
            "USDC": PortfolioCollateral(Bps(0), 6, None),
            "WETH": PortfolioCollateral(Bps(1000), 18, "ETH-USD"),
        },
        prices={
            "ETH-USD": Price(2000 * ONE),
            "BTC-USD": Price(60000 * ONE),
            "USDC": Price(ONE),
            "WETH": Price(2000 * ONE),
        },
        cholesky_bps=((500,), (400, 300)),
        lambda_mm_bps=10000,
        lambda_im_bps=15000,
        options={
            PUT: OptionSeries(
                "ETH-USD", Price(1900 * ONE), expiry, "put", Price(60 * ONE), -3000,
                Price(10 * ONE), Price(15 * ONE),
            ),
            CALL: OptionSeries(
                "ETH-USD", Price(2500 * ONE), expiry, "call", Price(20 * ONE), 2000,
                Price(8 * ONE), Price(10 * ONE),
            ),
        },
    )  # fmt: skip


@pytest.fixture(scope="module")
def stack(chain_system: LocalSystem, manifest: Any) -> Iterator[Stack]:
    chain = chain_system.chain
    owner = dev_signer(0)
    expiry = chain.timestamp() + 30 * DAY
    risk = make_risk(expiry)
    feeds = {
        name: _deploy(chain, owner, "MockAggregator", 8, int(risk.prices[name]), name)
        for name in ("ETH-USD", "BTC-USD", "USDC", "WETH")
    }
    oracle = _deploy(chain, owner, "OracleAdapter", owner.address)
    for feed in feeds.values():
        oracle.transact(owner, "setFeed", feed.address, DAY)
    tokens = {
        "USDC": _deploy(chain, owner, "MockERC20", "Mock USDC", "USDC", 6),
        "WETH": _deploy(chain, owner, "MockERC20", "Mock WETH", "WETH", 18),
    }
    poseidons = [_deploy(chain, owner, f"Poseidon{n}").address for n in (2, 3, 4, 5)]
    verifier = _deploy(chain, owner, "PortfolioVerifier")
    libraries = {
        "PortfolioRisk": _deploy(chain, owner, "PortfolioRisk").address,
        "PortfolioSettlement": _deploy(chain, owner, "PortfolioSettlement").address,
    }
    engine = _deploy(
        chain, owner, "PortfolioEngine", owner.address, oracle.address, verifier.address,
        poseidons, owner.address, DAY, 3600, 250, **libraries,
    )  # fmt: skip
    engine.transact(owner, "listMarket", feeds["ETH-USD"].address, 10, 50, 100)
    engine.transact(owner, "listMarket", feeds["BTC-USD"].address, 10, 40, 100)
    engine.transact(owner, "listCollateral", tokens["USDC"].address, feeds["USDC"].address, 0, 0)
    engine.transact(owner, "listCollateral", tokens["WETH"].address, feeds["WETH"].address, 1, 1000)
    engine.transact(owner, "listSeries", 0, 1900 * ONE, expiry, 2)
    engine.transact(owner, "listSeries", 0, 2500 * ONE, expiry, 1)
    for c, name in enumerate(("USDC", "WETH")):
        pool = _deploy(
            chain, owner, "MarginPool", tokens[name].address, f"portfolio {name}", f"zp{name}",
            owner.address, DAY, 3600,
        )  # fmt: skip
        pool.transact(owner, "setEngine", engine.address)
        engine.transact(owner, "setPool", c, pool.address)
    # the vault's liquidity pays traders' profits
    liquidity = 100_000 * USDC_UNIT
    usdc_pool = Contract(
        chain, str(engine.call("pool", 0)), load_artifact("MarginPool").abi, "pool"
    )
    tokens["USDC"].transact(owner, "mint", owner.address, liquidity)
    tokens["USDC"].transact(owner, "approve", usdc_pool.address, liquidity)
    usdc_pool.transact(owner, "deposit", liquidity, owner.address)
    client = PortfolioClient(chain, engine.address)
    client.publish_risk(owner, risk)
    yield Stack(client, risk, feeds, tokens, owner)


def hedge(address: str) -> PortfolioAccount:
    """Long 1 ETH perpetual protected by a long 1 ETH 1900 put (entries set by plan_open)."""
    return PortfolioAccount(
        address=int(address, 16),
        salt=1,
        collateral={},
        positions=(
            PortfolioPosition("ETH-USD", False, True, Size(ONE), Price(1)),
            PortfolioPosition(PUT, True, True, Size(ONE), Price(1)),
        ),
    )


def test_publication_is_the_risk_files_commitment(stack: Stack) -> None:
    client = stack.client
    assert client.risk_epoch() == 1
    assert client.epoch_commitment() == risk_commitment(stack.risk)
    client.check_risk_file(stack.risk)
    other = replace(stack.risk, lambda_mm_bps=12000, lambda_im_bps=16000)
    with pytest.raises(InputError, match=r"^risk file: commitment \d+… is not the engine's risk "
                       r"epoch 1 \(\d+…\): use the file that epoch published$"):  # fmt: skip
        client.check_risk_file(other)
    fewer = replace(stack.risk, options={PUT: stack.risk.options[PUT]})
    with pytest.raises(InputError, match=r"^risk file: lists 1 option series, the portfolio "
                       r"engine 2: it is not this engine's risk file$"):  # fmt: skip
        client.check_risk_file(fewer)


def test_open_prove_withdraw_close(
    stack: Stack, prover: Prover, chain_snapshot: LocalSystem
) -> None:
    client, risk = stack.client, stack.risk
    trader = dev_signer(3)
    stack.tokens["USDC"].transact(stack.owner, "mint", trader.address, 3000 * USDC_UNIT)
    client.deposit(trader, 0, 3000 * USDC_UNIT)
    assert client.balances(trader.address) == [3000 * USDC_UNIT, 0]

    # open: entries at the marks (perp at the oracle's 2000, put at the epoch's 60)
    planned = client.plan_open(hedge(trader.address), risk)
    assert [p.entry for p in planned.positions] == [2000 * ONE, 60 * ONE]
    opened = client.open(trader, planned, risk, prover)
    state = client.account_state(trader.address)
    assert (
        state.commitment == portfolio_commitment(planned, risk) == opened.bundle.public_signals[0]
    )
    assert (state.mode, state.nonce, state.epoch) == (MODE_OPENING, 1, 1)
    assert [e.name for e in opened.events] == ["AccountOpened"]
    assert opened.bundle.public_signals[5] == 5 and opened.result.gas_used > 250_000

    # maintenance at the same prices
    proven = client.prove_margin(trader, planned, risk, prover)
    assert [e.name for e in proven.events] == ["MarginProven"]
    assert (client.account_state(trader.address).mode, proven.bundle.public_signals[5]) == (
        MODE_MAINTENANCE, 0
    )  # fmt: skip

    # ETH +30 %: the perp gains 600; a withdrawal counts no unrealized gain
    stack.feeds["ETH-USD"].transact(stack.owner, "updateAnswer", 2600 * ONE)
    stack.feeds["WETH"].transact(stack.owner, "updateAnswer", 2600 * ONE)
    big = 2900 * USDC_UNIT
    left = replace(planned, collateral={"USDC": Balance(100 * 10**18)})
    at_now = client.priced(risk, client.public_inputs(trader.address, MODE_MAINTENANCE))
    assert evaluate(left, at_now, PortfolioMode.INITIAL).solvent  # with the gain: enough
    assert not evaluate(left, at_now, PortfolioMode.WITHDRAWAL).solvent  # without: short
    nonce = client.account_state(trader.address).nonce
    with pytest.raises(InsufficientMargin, match=r"^insufficient margin: equity [0-9.]+ < "):
        client.withdraw(trader, planned, risk, 0, big, prover)
    assert client.account_state(trader.address).nonce == nonce  # nothing was sent
    assert client.balance(trader.address, 0) == 3000 * USDC_UNIT

    small = 500 * USDC_UNIT
    before = client.wallet_balance(trader.address, 0)
    withdrawn = client.withdraw(trader, planned, risk, 0, small, prover)
    assert [e.name for e in withdrawn.events] == ["Withdrawn"]  # type: ignore[union-attr]
    assert client.balance(trader.address, 0) == 2500 * USDC_UNIT
    assert client.wallet_balance(trader.address, 0) - before == small

    # close: the perp at the oracle (+600); the put is not paid its stale mark 60 but the
    # tangent from the publication price, 60 − 0.3·600 < 0, floored at intrinsic 0 (−60)
    published = client.publication_prices(risk)
    assert published["ETH-USD"] == 2000 * ONE
    before = client.wallet_balance(trader.address, 0)
    result = client.close(trader, planned, risk)
    (closed,) = client.engine.events(result, "AccountClosed")
    pnl = settlement_pnl(planned.positions, at_now, published)
    assert int(closed.args["pnl"]) == pnl == 540 * ONE * ONE  # 1e-16 quote
    fee = int(closed.args["fee"])
    assert fee > 0
    assert client.account_state(trader.address).commitment == 0
    # 2,500 USDC back plus the profit less the fee, in USDC (price 1), rounded down
    got = client.wallet_balance(trader.address, 0) - before
    assert got == 2500 * USDC_UNIT + (pnl - fee) // 10**10


def test_refusals_are_one_line(stack: Stack, prover: Prover, chain_snapshot: LocalSystem) -> None:
    client, risk = stack.client, stack.risk
    trader = dev_signer(4)
    stack.tokens["USDC"].transact(stack.owner, "mint", trader.address, 3000 * USDC_UNIT)
    client.deposit(trader, 0, 3000 * USDC_UNIT)
    account = hedge(trader.address)
    with pytest.raises(ChainError, match=r"has no open portfolio account; open one first$"):
        client.prove_margin(trader, account, risk, prover)
    planned = client.plan_open(account, risk)
    with pytest.raises(ChainError, match=r"^the account is 0x\w+ but the transaction would be "):
        client.open(dev_signer(5), planned, risk, prover)
    client.open(trader, planned, risk, prover)
    # another salt: the commitment the engine stores is not this file's
    with pytest.raises(
        PublicInputsMismatch,
        match=r"^refusing to send: public input 0, commitment, commitment \d+ in the proof, "
        r"\d+ at the engine: the account file does not open the commitment stored on-chain",
    ):
        client.prove_margin(trader, replace(planned, salt=planned.salt + 1), risk, prover)
    with pytest.raises(PublicInputsMismatch, match=r"^refusing to send: the account file does"):
        client.close(trader, replace(planned, salt=planned.salt + 1), risk)
    with pytest.raises(RevertError, match=r"PortfolioEngine__InsideProvenSet"):
        client.flag(stack.owner, trader.address)


# ---------------------------------------------------------------- zkmargin portfolio


def cli(capsys: pytest.CaptureFixture[str], stack: Stack, risk_file: Path, *argv: str) -> Any:
    engine = ["--engine", stack.client.engine.address, "--rpc-url", stack.client.chain.rpc_url]
    # the command's own arguments last: an --engine among them overrides the stack's
    return run(capsys, "portfolio", argv[0], *engine, "-m", str(risk_file), *argv[1:])


def test_cli_open_submit_withdraw_close(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stack: Stack, chain_snapshot: LocalSystem
) -> None:
    trader = dev_signer(6)
    stack.tokens["USDC"].transact(stack.owner, "mint", trader.address, 3000 * USDC_UNIT)
    risk_file = tmp_path / "risk.json"
    risk_file.write_text(json.dumps(risk_file_to_json(stack.risk)))
    account = tmp_path / "hedge.account.json"
    write_json(account, portfolio_account_to_json(hedge(trader.address)), mode=PRIVATE)

    code, out, err = cli(capsys, stack, risk_file, "deposit", str(account), "USDC", "3000")
    assert code == 0, err
    assert out.startswith(f"deposited 3000 USDC for {trader.address}: engine balance 3000 USDC")

    code, out, err = cli(capsys, stack, risk_file, "open", str(account))
    assert code == 0, err
    assert out.startswith("opened portfolio account: portfolio proof in ")
    assert f"entries at the marks (ETH-USD 2000, {PUT} 60)" in out
    saved = load_portfolio_account(account, stack.risk)
    assert [p.entry for p in saved.positions] == [2000 * ONE, 60 * ONE] and saved.salt != 1
    assert account.stat().st_mode & 0o777 == 0o600
    assert set(tmp_path.iterdir()) == {risk_file, account}  # no pending file left
    commitment = stack.client.account_state(trader.address).commitment
    assert commitment == portfolio_commitment(saved, stack.risk)

    code, out, _ = cli(capsys, stack, risk_file, "status", str(account))
    assert code == 0 and "open, commitment " in out and "nonce 1, last proof opening" in out

    code, out, err = cli(capsys, stack, risk_file, "submit", str(account))
    assert code == 0, err
    assert out.startswith("maintenance margin proven (nonce 1): portfolio proof in ")

    # all but 100 USDC: short of initial margin, refused before proving, one line, exit 1
    code, out, err = cli(capsys, stack, risk_file, "withdraw", str(account), "USDC", "2900")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: insufficient margin: equity ")

    code, out, err = cli(capsys, stack, risk_file, "withdraw", str(account), "USDC", "250")
    assert code == 0, err
    assert out.startswith("withdrew 250 USDC: portfolio proof in ")
    assert out.endswith("engine balance 2750 USDC\n")

    code, out, err = cli(capsys, stack, risk_file, "close", str(account))
    assert code == 0, err
    assert out.startswith("closed: PnL 0, close fee ")
    assert stack.client.account_state(trader.address).commitment == 0


CLI_BAD = {
    # label -> (args after the subcommand, the whole one-line message)
    "unknown asset": (["deposit", "{account}", "DAI", "1"],
                      "ASSET: unknown asset 'DAI' (the risk file lists USDC, WETH)"),
    "bad amount": (["deposit", "{account}", "USDC", "1e3"],
                   "AMOUNT: '1e3' is not a plain decimal number (digits with an optional "
                   "fraction; no sign, exponent or spaces)"),
    "more decimals than the token": (["deposit", "{account}", "USDC", "0.0000001"],
                                     "AMOUNT: 0.0000001 has more than 6 decimals and cannot be "
                                     "represented exactly"),
    "unknown series": (["settle-series", "ETH-X"],
                       "SERIES: unknown option series 'ETH-X' (the risk file lists "
                       f"{PUT}, {CALL})"),
    "no account open": (["submit", "{account}"],
                        f"{dev_signer(7).address} has no open portfolio account; open one first"),
    "bad engine address": (["status", "{account}", "--engine", "0x12"],
                           "--engine: expected a 0x-prefixed 20-byte hex address, got '0x12'"),
}  # fmt: skip


@pytest.mark.parametrize("label", sorted(CLI_BAD))
def test_cli_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, stack: Stack, label: str
) -> None:
    args, message = CLI_BAD[label]
    risk_file = tmp_path / "risk.json"
    risk_file.write_text(json.dumps(risk_file_to_json(stack.risk)))
    account = tmp_path / "a.account.json"
    write_json(account, portfolio_account_to_json(hedge(dev_signer(7).address)), mode=PRIVATE)
    argv = [a.format(account=account) for a in args]
    code, out, err = cli(capsys, stack, risk_file, *argv)
    assert code == 2 and out == "", (label, out, err)
    assert err == f"error: {message}\n", label


def test_cli_without_an_engine(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZKMARGIN_PORTFOLIO_ENGINE", raising=False)
    risk_file = tmp_path / "risk.json"
    risk_file.write_text(json.dumps(risk_file_to_json(make_risk(1_900_000_000))))
    code, out, err = run(
        capsys, "portfolio", "status", "0x" + "ab" * 20, "-m", str(risk_file),
        "--deployment", str(tmp_path / "none.json"),
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == (
        "error: no portfolio engine: give --engine ADDRESS (or $ZKMARGIN_PORTFOLIO_ENGINE); "
        "the deployment file names none\n"
    )


def _open_hedge(stack: Stack, prover: Prover, index: int, usdc: int) -> PortfolioAccount:
    trader = dev_signer(index)
    stack.tokens["USDC"].transact(stack.owner, "mint", trader.address, usdc * USDC_UNIT)
    stack.client.deposit(trader, 0, usdc * USDC_UNIT)
    planned = stack.client.plan_open(hedge(trader.address), stack.risk)
    stack.client.open(trader, planned, stack.risk, prover)
    return planned


def _refresh(stack: Stack, prices: dict[str, int]) -> None:
    """A new round on every feed (same answer unless given), at the current block."""
    for name, feed in stack.feeds.items():
        answer = prices.get(name, int(feed.call("latestRoundData")[1]))
        feed.transact(stack.owner, "updateAnswer", answer)


def test_settlement_publication_and_close_at_intrinsic(
    stack: Stack, prover: Prover, chain_snapshot: LocalSystem
) -> None:
    """Past expiry: the epoch refuses proofs, an unsettled publication is refused, the
    client finds each series' settlement round, the settled words (mark = intrinsic,
    greeks 0, from zkmargin.riskfile.settle_series) are accepted as epoch 2, and close pays
    the put at its intrinsic value."""
    client, risk = stack.client, stack.risk
    planned = _open_hedge(stack, prover, 8, 3000)
    trader = dev_signer(8)
    expiry = risk.options[PUT].expiry
    client.chain.advance_time(expiry - client.chain.timestamp() + 60)
    _refresh(stack, {"ETH-USD": 1800 * ONE, "WETH": 1800 * ONE})
    with pytest.raises(RevertError, match=r"PortfolioEngine__EpochExpired"):
        client.public_inputs(trader.address, MODE_MAINTENANCE)
    with pytest.raises(RevertError, match=r"PortfolioEngine__SeriesNotSettled"):
        client.publish_risk(stack.owner, risk)
    settled = risk
    for j, name in enumerate((PUT, CALL)):
        round_id = client.settlement_round(j)
        assert round_id == int(stack.feeds["ETH-USD"].call("latestRoundData")[0])
        result = client.settle_series(stack.owner, j)
        (event,) = client.engine.events(result, "SeriesSettled")
        assert (int(event.args["roundId"]), int(event.args["price"])) == (round_id, 1800 * ONE)
        settled = settle_series(settled, name, 1800 * ONE)
    with pytest.raises(ChainError, match=r"^series 0 is already settled$"):
        client.settlement_round(0)
    client.publish_risk(stack.owner, settled)
    assert client.risk_epoch() == 2 and client.epoch_commitment() == risk_commitment(settled)
    # the account proves again under the settled epoch, then closes
    client.prove_margin(trader, planned, settled, prover)
    result = client.close(trader, planned, settled)
    (closed,) = client.engine.events(result, "AccountClosed")
    # perp 1800 − 2000 = −200, put intrinsic 100 − premium 60 = +40
    at_close = replace(settled, prices={**settled.prices, "ETH-USD": Price(1800 * ONE)})
    pnl = settlement_pnl(
        planned.positions, at_close, client.publication_prices(settled), {PUT: 1800 * ONE}
    )
    assert int(closed.args["pnl"]) == pnl == -160 * ONE * ONE


def test_flag_liquidate_reclaim(stack: Stack, prover: Prover, chain_snapshot: LocalSystem) -> None:
    client, risk = stack.client, stack.risk
    planned = _open_hedge(stack, prover, 9, 400)
    trader, keeper = dev_signer(9), dev_signer(2)
    assert not client.flaggable(trader.address)
    _refresh(stack, {"ETH-USD": 1500 * ONE, "WETH": 1500 * ONE})  # −25 %
    assert client.flaggable(trader.address)
    (flagged,) = client.engine.events(client.flag(keeper, trader.address), "Flagged")
    assert flagged.args["account"] == trader.address
    client.chain.advance_time(3600 + 1)  # the grace period passes without a proof
    _refresh(stack, {})
    assert client.liquidatable(trader.address)
    result = client.liquidate(keeper, trader.address)
    assert [e.name for e in client.engine.events(result)] == ["LiquidationRecorded", "Liquidated"]
    found = client.liquidation(trader.address)
    assert found is not None and found.nonce == 1 and found.deadline > client.chain.timestamp()
    (reclaimed,) = client.engine.events(client.reclaim(trader, planned, risk), "Reclaimed")
    # at the liquidation prices: the perp lost 500; the put is worth max(intrinsic 400,
    # tangent 60 + 0.3·500 = 210) = 400 (entry 60): −160 in all
    at_liquidation = replace(risk, prices={**risk.prices, "ETH-USD": Price(1500 * ONE)})
    pnl = settlement_pnl(planned.positions, at_liquidation, client.publication_prices(risk))
    assert int(reclaimed.args["pnl"]) == pnl == -160 * ONE * ONE
    assert client.liquidation(trader.address) is None
    with pytest.raises(ChainError, match=r"has no liquidation left to reclaim$"):
        client.reclaim(trader, planned, risk)


def test_cli_finds_the_engine_in_the_deployment_file(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    chain_system: LocalSystem,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --engine, the deployment file's PortfolioEngine (chain/deploy.py deploys it
    beside the rate-based engine, with examples/risk.json's listings) and its RPC URL."""
    monkeypatch.delenv("ZKMARGIN_PORTFOLIO_ENGINE", raising=False)
    monkeypatch.delenv("ZKMARGIN_RPC_URL", raising=False)
    deployment = tmp_path / "deployment.json"
    chain_system.deployment.save(deployment)
    who = dev_signer(7).address
    code, out, err = run(
        capsys, "portfolio", "status", who, "-m", str(ROOT / "examples" / "risk.json"),
        "--deployment", str(deployment),
    )  # fmt: skip
    assert code == 0, err
    assert out == f"{who}: no open portfolio account (nonce 0); held 0 USDC, 0 WETH\n"
