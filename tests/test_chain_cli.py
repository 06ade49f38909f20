"""Every on-chain CLI flow on the session's anvil, reverted after the module (real proofs).

deploy -> oracle set/show -> deposit -> open -> status -> submit -> withdraw -> close,
a cross account, a liquidation (flag-shock, time advance, liquidate), the errors a user
meets (each one line, the right exit code, no traceback, no key printed), and the demo.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tooling.cli_run import Run, run_cli

from chain.client import EngineClient, Kind
from chain.deploy import Deployment
from chain.local import LocalSystem
from chain.signers import KEY_ENV, dev_signer
from zkmargin.accounts import load_account
from zkmargin.artifacts import Manifest

ZKMARGIN = Path(sys.executable).parent / "zkmargin"
# anvil's dev account 7: a public, well-known key.
DEV7_KEY = "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356"


@dataclass
class Env:
    rpc_url: str
    deployment: Path
    work: Path

    def run(self, *args: object, env: dict[str, str | None] | None = None) -> Run:
        """The real entry point ``main()`` in-process: exit codes and one-line errors."""
        return run_cli(*args, env={"ZKMARGIN_DEPLOYMENT": str(self.deployment), **(env or {})})

    def ok(self, *args: object, env: dict[str, str | None] | None = None) -> str:
        run = self.run(*args, env=env)
        assert run.code == 0, (args, run.out, run.err)
        return run.out

    def fails(self, code: int, *args: object, env: dict[str, str | None] | None = None) -> str:
        run = self.run(*args, env=env)
        assert run.code == code, (args, run.code, run.out, run.err)
        assert "Traceback" not in run.err
        assert len(run.err_lines) == 1, run.err
        assert run.err_lines[0].startswith("error: ")
        return run.err_lines[0]

    def client(self) -> EngineClient:
        return EngineClient.connect(Deployment.load(self.deployment))

    def account(self, name: str, dev: int, *positions: str) -> Path:
        path = self.work / f"{name}.json"
        args = ["account", "new", path, "--address", dev_signer(dev).address]
        for pos in positions:
            args += ["--position", pos]
        self.ok(*args)
        return path


@pytest.fixture(scope="module")
def env(chain_system: LocalSystem, tmp_path_factory: pytest.TempPathFactory) -> Env:
    """The session's anvil (reverted after this module); `zkmargin deploy` puts a
    second system on it, which is the one these tests use."""
    work = tmp_path_factory.mktemp("chain-cli")
    return Env(chain_system.local.rpc_url, work / "deployment.json", work)


def file_json(path: Path) -> Any:
    return json.loads(path.read_text())


# ---------------------------------------------------------------- deploy and oracle


def test_deploy_writes_the_deployment_file(env: Env) -> None:
    out = env.ok("deploy", "--rpc-url", env.rpc_url)
    assert f"wrote {env.deployment}" in out
    data = file_json(env.deployment)
    assert data["chain_id"] == 31337 and data["rpc_url"] == env.rpc_url
    assert set(data["contracts"]) == {
        "MarginEngine",
        "OracleAdapter",
        "IsolatedVerifier",
        "CrossVerifier",
        "Poseidon4",
        "Settlement",
        "StressCheck",
        "MarginPool USDC",
        "MarginPool WETH",
        # risk governance (docs/risk.md): the governor owns the engine
        "RiskGovernor",
        "VolatilityMonitor",
        "TimelockController",
        # portfolio margin (docs/portfolio.md, "On-chain"): owned by the timelock
        "PortfolioEngine",
        "PortfolioVerifier",
        "Poseidon2",
        "Poseidon3",
        "Poseidon5",
        "PortfolioRisk",
        "PortfolioSettlement",
        "PortfolioPool USDC",
        "PortfolioPool WETH",
    }
    assert [(m["id"], m["name"]) for m in data["markets"]] == [(0, "ETH-USD"), (1, "BTC-USD")]
    assert [(a["id"], a["name"], a["decimals"]) for a in data["assets"]] == [
        (0, "USDC", 6),
        (1, "WETH", 18),
    ]
    assert {f["name"]: f["decimals"] for f in data["feeds"]} == {
        "ETH/USD": 8,
        "BTC/USD": 18,
        "USDC/USD": 8,
    }
    assert data["params"] == {
        "proof_lifetime": 3 * 86400,
        "grace_period": 600,
        "liquidation_penalty_bps": 500,
        "pool_withdraw_delay": 3 * 86400 + 600 + 3600,
        "pool_execution_window": 86400,
        "timelock_delay": 60,
        "portfolio_proof_lifetime": 86400,
        "portfolio_grace_period": 600,
        "portfolio_liquidation_penalty_bps": 500,
        "portfolio_series": 2,
    }
    assert [a["pool"] for a in data["assets"]] == [
        data["contracts"]["MarginPool USDC"],
        data["contracts"]["MarginPool WETH"],
    ]
    assert all(gas > 0 for gas in data["deploy_gas"].values())
    client = env.client()
    for address in data["contracts"].values():
        assert client.chain.code(address)
    assert client.pool("USDC") == 1_000_000 * 10**6


def test_oracle_set_and_show(env: Env) -> None:
    out = env.ok("oracle", "set", "ETH-USD", "2100.5")
    assert out.startswith("ETH/USD = 2100.5 (ETH-USD, WETH)")
    assert env.client().price("WETH") == 2100_5 * 10**7
    env.ok("oracle", "set", "BTC/USD", "61000")  # an 18-decimal feed, by its own name
    assert env.client().price("BTC-USD") == 61000 * 10**8
    env.ok("oracle", "set", "ETH-USD", "2000")
    env.ok("oracle", "set", "BTC-USD", "60000")
    shown = env.ok("oracle", "show")
    assert re.search(r"ETH/USD\s+2000 .*fresh", shown) and "BTC/USD" in shown
    assert "unknown feed, market or asset 'DOGE'" in env.fails(2, "oracle", "set", "DOGE", "1")
    assert "PRICE" in env.fails(2, "oracle", "set", "ETH-USD", "1e3")


# ---------------------------------------------------------------- isolated account, start to end


def test_isolated_account_flow(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    trader = dev_signer(4)
    path = env.account("iso", 4, "ETH-USD:long:2@1")
    salt_before = file_json(path)["salt"]
    out = env.ok("deposit", path, "USDC", "1000")
    assert "deposited 1000 USDC" in out and "engine balance 1000 USDC" in out

    seen_on_disk: list[list[dict[str, Any]]] = []
    real_open = EngineClient.open

    def spy(self: EngineClient, *args: Any, **kwargs: Any) -> Any:
        # what the account file (or the CLI's pending copy next to it) holds when the
        # proof starts
        files = sorted(path.parent.glob(f"{path.name}*"))
        seen_on_disk.append([file_json(f) for f in files])
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(EngineClient, "open", spy)
    out = env.ok("open", path)
    assert "opened isolated account" in out
    after = file_json(path)
    assert len(seen_on_disk) == 1
    assert after in seen_on_disk[0], "the new salt must be on disk BEFORE sending"
    assert after["positions"][0]["entry_price"] == "2000"
    assert after["salt"] != salt_before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(env.work.glob(".iso.json.*"))  # no temporary file left

    client = env.client()
    state = client.account_state(trader.address)
    assert state.kind is Kind.ISOLATED and state.nonce == 1
    assert f"the engine stores commitment {state.commitment}" in out
    # the commitment is the file's: the prover recomputes it from the chain's data
    account = load_account(path, client.names_data())
    data = client.market_data_for(state)
    from zkmargin.encoding import encode
    from zkmargin.model import Mode

    enc = encode(
        client.chain_account(account, data),
        data,
        circuit="isolated",
        mode=Mode.MAINTENANCE,
        binding=client.binding(state.nonce),
    )
    assert enc.statement.commitment == state.commitment

    status = env.ok("status", path)
    assert "kind         isolated (ETH-USD on USDC)" in status
    assert "nonce        1" in status and "liquidatable no; at the earliest in 3d" in status
    assert "equity 1000 vs maintenance 200: can prove" in status
    assert "collateral   1000 USDC" in env.ok("status", trader.address)

    out = env.ok("submit", path)
    assert "maintenance margin proven (nonce 1)" in out and "next proof due in 3d" in out
    assert client.account_state(trader.address).nonce == 2

    wallet = client.wallet_balance(trader.address, "USDC")
    out = env.ok("withdraw", path, "USDC", "100.5")
    assert "withdrew 100.5 USDC" in out and "engine balance 899.5 USDC" in out
    assert client.wallet_balance(trader.address, "USDC") == wallet + 100_500_000
    assert client.account_state(trader.address).nonce == 3
    # the rest must still meet initial margin (IMR 10% of 2 ETH at 2000 = 400)
    assert "insufficient margin" in env.fails(1, "withdraw", path, "USDC", "600")

    # a known next round of +0.5% (the feed's deviation threshold): the close fee (0.5% of
    # the 4020 notional at close) takes more than the move pays
    env.ok("oracle", "set", "ETH-USD", "2010")
    out = env.ok("close", path)
    assert "closed: PnL 20, close fee 20.1 (quote)" in out and "returned 899.4 USDC" in out
    assert client.account_state(trader.address).kind is Kind.NONE
    assert "position     none open (nonce 3)" in env.ok("status", path)
    env.ok("oracle", "set", "ETH-USD", "2000")


def test_withdraw_without_an_account_needs_no_proof(env: Env) -> None:
    path = env.account("idle", 8)
    out = env.ok("faucet", path, "WETH", "5")
    assert re.search(
        r"minted 5 WETH to 0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f: wallet 1005 WETH", out
    )
    env.ok("deposit", path, "WETH", "2")
    out = env.ok("withdraw", path, "WETH", "0.5")
    assert "no open account: no proof" in out and "engine balance 1.5 WETH" in out


# ---------------------------------------------------------------- cross account


def test_cross_account_flow(env: Env) -> None:
    path = env.account("cross", 5, "ETH-USD:long:1@1", "BTC-USD:short:0.05@1")
    env.ok("deposit", path, "USDC", "500")
    env.ok("deposit", dev_signer(5).address, "WETH", "0.5")
    assert "opened cross account" in env.ok("open", path)
    entries = [p["entry_price"] for p in file_json(path)["positions"]]
    assert entries == ["2000", "60000"]
    assert "kind         cross" in env.ok("status", path)
    assert "cross proof" in env.ok("submit", path)
    assert "withdrew 0.25 WETH" in env.ok("withdraw", path, "WETH", "0.25")
    out = env.ok("close", path)
    # the fee (0.5% of 2000 + 3000 notional = 25) is split by collateral value: 500 USDC
    # and 0.25 WETH at 2000 are worth 500 each
    assert "closed: PnL 0, close fee 25 (quote)" in out
    assert "returned 487.5 USDC" in out and "returned 0.24375 WETH" in out


# ---------------------------------------------------------------- liquidation


def test_crash_flag_wait_liquidate(env: Env) -> None:
    victim, keeper = dev_signer(6), dev_signer(3)
    path = env.account("victim", 6, "ETH-USD:long:5@1")
    env.ok("deposit", path, "USDC", "2000")
    env.ok("open", path)
    client = env.client()
    keeper_before = client.wallet_balance(keeper.address, "USDC")
    env.ok("oracle", "set", "ETH-USD", "1600")
    try:
        line = env.fails(1, "submit", path)
        assert line == "error: insufficient margin: equity 0 < requirement 400"
        status = env.ok("status", path)
        assert "CANNOT prove (insufficient margin)" in status
        line = env.fails(2, "liquidate", victim.address, "--from", "3")
        assert "MarginEngine__NotLiquidatable" in line
        out = env.ok("flag-shock", path, "--from", "3")
        assert "shock flagged" in out and "liquidatable in 10m 1s" in out
        assert "MarginEngine__ShockPending" in env.fails(2, "flag-shock", victim.address)
        assert "shock        flagged" in env.ok("status", path)
        assert "MarginEngine__NotLiquidatable" in env.fails(2, "liquidate", victim.address)
        env.ok("time", "advance", "601")
        assert "liquidatable YES, now" in env.ok("status", path)
        out = env.ok("liquidate", victim.address, "--from", "3")
        assert f"liquidated {victim.address} by {keeper.address}" in out
        assert "USDC: 100 to the keeper, 1900 to the pool" in out
        assert "may reclaim its equity above the penalty until in 1d" in out
        assert client.wallet_balance(keeper.address, "USDC") == keeper_before + 100 * 10**6
        assert client.account_state(victim.address).kind is Kind.NONE
        # at 1600 the 5 ETH long lost 2000 of its 2000 USDC: nothing above the penalty;
        # revealing records the uncovered 2000 + 50 (fee) - 1900 (escrow) as bad debt
        debt_before = client.pools.state("USDC").bad_debt
        wallet = client.wallet_balance(victim.address, "USDC")
        out = env.ok("reclaim", path)
        assert "reclaimed: PnL -2000, close fee 50 (quote)" in out and "pays back" not in out
        assert client.wallet_balance(victim.address, "USDC") == wallet
        assert client.pools.state("USDC").bad_debt == debt_before + 150 * 10**6
        assert "no liquidation left to reclaim" in env.fails(2, "reclaim", path)
    finally:
        env.ok("oracle", "set", "ETH-USD", "2000")


# ---------------------------------------------------------------- the vaults


def test_pool_lp_enters_and_leaves_after_the_delay(env: Env) -> None:
    lp = dev_signer(7)
    client = env.client()
    delay = client.pools.state("USDC").withdraw_delay
    out = env.ok("pool", "deposit", "USDC", "1000", "--from", "7")
    # earlier closes paid fees into the vault, so a share is worth more than 1e-6 USDC;
    # the deposit is priced at the share price, rounded against the LP by at most one unit
    assert re.search(r"deposited 1000 USDC: .* shares worth (999\.999999|1000) USDC", out)
    shown = env.ok("pool", "show", lp.address)
    assert "USDC pool" in shown and "free shares (worth" in shown
    assert f"exit delay {delay} s" in shown
    wallet = client.wallet_balance(lp.address, "USDC")
    out = env.ok("pool", "request-redeem", "USDC", "--from", "7")
    assert "requested" in out and "executable in 3d" in out
    early = env.fails(2, "pool", "redeem", "USDC", "--from", "7")
    assert f"the USDC request of {lp.address} executes from" in early  # checked before sending
    try:
        env.ok("time", "advance", str(delay))
        out = env.ok("pool", "redeem", "USDC", "--from", "7")
        assert re.search(r"redeemed (999\.99999\d|1000) USDC", out)
        got = client.wallet_balance(lp.address, "USDC") - wallet
        assert 1000 * 10**6 - 2 <= got <= 1000 * 10**6  # rounded against the LP, both ways
        assert client.pools.position("USDC", lp.address).shares == 0
    finally:
        for feed in ("ETH-USD", "BTC-USD", "USDC"):
            env.ok("oracle", "set", feed, {"ETH-USD": "2000", "BTC-USD": "60000"}.get(feed, "1"))


# ---------------------------------------------------------------- errors, one line each


def test_open_twice_is_refused_without_touching_the_file(env: Env) -> None:
    path = env.account("twice", 9, "ETH-USD:short:0.1@1")
    env.ok("deposit", path, "USDC", "100")
    env.ok("open", path)
    before = path.read_text()
    line = env.fails(2, "open", path)
    assert "already has an open isolated account" in line
    assert path.read_text() == before, "the file that opens the commitment was rewritten"
    env.ok("close", path)


def test_edited_account_file_is_refused_before_sending(env: Env) -> None:
    path = env.account("edited", 2, "ETH-USD:long:1@1")
    env.ok("deposit", path, "USDC", "1000")
    env.ok("open", path)
    data = file_json(path)
    nonce = env.client().account_state(dev_signer(2).address).nonce
    data["positions"][0]["size"] = "0.5"
    path.write_text(json.dumps(data))
    line = env.fails(2, "submit", path)
    assert "refusing to send: public input 0, commitment" in line
    assert "does not open the commitment stored on-chain" in line
    assert env.client().account_state(dev_signer(2).address).nonce == nonce  # nothing sent
    assert "refusing to send" in env.fails(2, "close", path)


def test_stale_oracle_reads_as_a_decoded_error(env: Env) -> None:
    path = env.work / "edited.json"  # open from the previous test; restore its size
    data = file_json(path)
    data["positions"][0]["size"] = "1"
    path.write_text(json.dumps(data))
    env.ok("time", "advance", "3601")
    line = env.fails(2, "submit", path)
    feed = Deployment.load(env.deployment).feed("ETH/USD").address
    assert re.fullmatch(
        rf"error: OracleAdapter\.getPrice reverted: OracleAdapter__StalePrice\(feed={feed} "
        r"\[ETH/USD feed\], updatedAt=\d+, heartbeat=3600\): the feed's answer is older than "
        r"its heartbeat; refresh it \(`zkmargin oracle set`\)",
        line,
    ), line
    for name, price in (("ETH/USD", "2000"), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        env.ok("oracle", "set", name, price)
    # the proof's lifetime is days, and stale time would not count toward it anyway
    assert "liquidatable no" in env.ok("status", path)
    env.ok("submit", path)
    assert "liquidatable no" in env.ok("status", path)
    env.ok("close", path)


def test_signer_errors(env: Env, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger.json"
    env.ok(
        "account", "new", stranger, "--address", "0x" + "12" * 20, "--position", "ETH-USD:long:1@1"
    )
    line = env.fails(2, "deposit", stranger, "USDC", "1")
    assert "is not one of anvil's dev accounts" in line
    # a key for another address is refused, and never printed
    mine = env.account("keyed", 7)
    line = env.fails(2, "deposit", env.work / "iso.json", "USDC", "1", env={KEY_ENV: DEV7_KEY})
    assert "signs for 0x14dC79964da2C08b23698B3D3cc7Ca32193d9955, but the account is" in line
    run = env.run("deposit", mine, "USDC", "3", env={KEY_ENV: DEV7_KEY})
    assert run.code == 0 and "deposited 3 USDC" in run.out
    assert DEV7_KEY[2:] not in run.out + run.err
    key_file = tmp_path / "dev7.key"
    key_file.write_text(DEV7_KEY)
    key_file.chmod(0o644)
    assert "readable by others" in env.fails(
        2, "deposit", mine, "USDC", "1", "--key-file", key_file
    )
    key_file.chmod(0o600)
    assert "deposited 1 USDC" in env.ok("deposit", mine, "USDC", "1", "--key-file", key_file)


def test_input_errors(env: Env, tmp_path: Path) -> None:
    mine = env.work / "keyed.json"
    assert "holds" in env.fails(2, "deposit", mine, "USDC", "2000000")
    assert "unknown collateral asset 'DAI'" in env.fails(2, "deposit", mine, "DAI", "1")
    assert "more than 6 decimals" in env.fails(2, "deposit", mine, "USDC", "0.0000001")
    assert "has no open account" in env.fails(2, "submit", mine)
    missing = tmp_path / "none.json"
    line = env.fails(2, "status", mine, env={"ZKMARGIN_DEPLOYMENT": str(missing)})
    assert "run `zkmargin deploy` first" in line
    assert "cannot reach the RPC endpoint" in env.fails(
        2, "status", mine, "--rpc-url", "http://127.0.0.1:9"
    )


# ---------------------------------------------------------------- the demo


def test_demo_tells_the_whole_story_and_leaves_no_anvil(manifest: Manifest) -> None:
    done = subprocess.run(
        [str(ZKMARGIN), "demo"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for needle in (
        "Alice opens an isolated account",
        "Bob opens a cross account",
        "what the chain sees vs what only Alice knows",
        "the prover refuses, no valid proof exists: insufficient margin",
        "MarginEngine__InsideProvenSet",
        "MarginEngine__NotLiquidatable",
        "liquidates Alice: 100 USDC reward, 1900 USDC to the USDC vault (escrow)",
        "by revealing her positions (`zkmargin reclaim`)",
        # the LP enters, gains the liquidation proceeds, and leaves after the delay
        "Carol deposits 100000 USDC into the USDC vault at 1 USDC a share: 100000 zmpUSDC",
        "Carol's shares are now worth 100172.727272 USDC (+172.727272 USDC)",
        "Carol requests a redemption of all her shares",
        "Carol redeems (",
        "100172.727272 USDC back for 100000 USDC deposited",
        # a calm move: nothing flaggable, no proof
        "flaggable(Alice, Bob): false, false",
        "the keeper tries to flag Bob: refused by the engine with MarginEngine__InsideProvenSet",
        "no proof sent: both accounts' nonces and last proof times are unchanged on-chain",
        # the outage
        "ETH/USD and BTC/USD are past their 1 h heartbeat; the keeper calls pokeStale(Bob)",
        "Bob tries to withdraw 100 USDC: refused, OracleAdapter__StalePrice",
        "Alice tries to open a new account: refused, OracleAdapter__StalePrice",
        "yet liquidatable(Bob) is false",
        "the keeper tries to liquidate Bob: refused by the engine with "
        "MarginEngine__NotLiquidatable",
        "nobody was liquidated by the outage",
        # portfolio margin, off-chain
        "covered call (long 10 ETH, short 10 ETH 1700 calls, 3,000 USDC): maintenance "
        "requirement 764.0616124 USD",
        "naked call (short 10 ETH 1700 calls, 3,000 USDC): maintenance requirement "
        "1171.2430124 USD",
        "portfolio proof verifies (maintenance",
        # portfolio margin, on the PortfolioEngine
        "the risk publisher re-marks the listed series at ETH 1600",
        "risk epoch 2, its commitment",
        "opening proof (λ_IM, entries = marks) in",
        "the keeper's flag is refused (PortfolioEngine__InsideProvenSet)",
        "Dave proves maintenance (",
        "Dave closes: the engine opens the commitment and settles ETH at 1568",
        "Token balances before the crash",
        "Token balances after the liquidation",
        "ETH 1526: guardian re-proves (",
        "ETH 1515 is past the edge of the 1600 proof: without the guardian a keeper would "
        "flag Bob now",
        "the keeper tries to flag Bob at ETH 1515: refused by the engine with "
        "MarginEngine__InsideProvenSet",
        "anvil stopped",
    ):
        assert needle in out, needle
    # the guardian acted once, before the edge, and not earlier
    assert out.count("guardian re-proves") == 1
    assert out.count("portfolio proof verifies") == 2
    # the acts come in the story's order
    order = [
        "Carol deposits",
        "A calm move",
        "ETH crashes",
        "liquidates Alice:",
        "Carol requests",
        "An oracle outage",
        "Carol redeems",
        "Portfolio margin",
        "guardian re-proves",
    ]
    at = [out.index(line) for line in order]
    assert at == sorted(at), order
    pid = int(re.search(r"\(pid (\d+)\)", out).group(1))  # type: ignore[union-attr]
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
