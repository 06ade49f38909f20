"""What a new user hit following the README, one test (or a few) per finding.

1. circuit asserts reached by user input        -> one line naming position and rule
2. README walk-through not pasteable            -> tests/test_readme.py runs it
3. account files git would track                -> ``account new`` warns (git only)
4. ``deploy`` twice replaced a live system      -> refused unless --force; names engine
5. a silent 30 s ``forge build``                -> said out loud; README states the cost
6. units, ``open`` without a deposit            -> tokens as typed; file untouched
7. bad names accepted by ``account new``        -> checked against deployment / -m
8. ``oracle set ETH-USD -5``, setup lines twice -> one clear line; each line once
9. ``--help`` alphabetical and cut off          -> sections, whole lines
10. README library snippets                     -> tests/test_readme.py runs them

On-chain tests share one anvil for the module; every command runs through the real
``main()`` in-process (exit code, stdout, stderr), with real proofs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from tooling.cli_run import Run, one_line_error, run_cli

import cli.deploy
from chain.anvil import LocalChain
from chain.client import EngineClient
from chain.deploy import Deployment
from chain.errors import ChainError
from chain.signers import dev_signer
from cli.common import TimedLog
from cli.main import cli as root_group
from cli.sections import SECTIONS, SectionedGroup
from prover.prove import Prover
from zkmargin.accounts import load_market_data
from zkmargin.artifacts import Manifest
from zkmargin.encoding import Binding, encode
from zkmargin.errors import InputError
from zkmargin.model import Account, MarketParams, Mode, Position, check_provable, evaluate
from zkmargin.units import Balance, Bps, Price, Size

ROOT = Path(__file__).resolve().parent.parent
MARKETS = ROOT / "examples" / "markets.json"
README = (ROOT / "README.md").read_text()


def run(*args: object, env: dict[str, str | None] | None = None) -> Run:
    """The real entry point ``main()`` in-process."""
    return run_cli(*args, env=env)


@dataclass
class Env:
    rpc_url: str
    deployment: Path
    work: Path

    @property
    def vars(self) -> dict[str, str | None]:
        return {"ZKMARGIN_DEPLOYMENT": str(self.deployment)}

    def run(self, *args: object) -> Run:
        return run(*args, env=self.vars)

    def ok(self, *args: object) -> str:
        result = self.run(*args)
        assert result.code == 0, (args, result.out, result.err)
        return result.out + result.err

    def account(self, name: str, dev: int, *positions: str) -> Path:
        path = self.work / f"{name}.account.json"
        argv: list[object] = ["account", "new", path, "--address", dev_signer(dev).address]
        for pos in positions:
            argv += ["--position", pos]
        self.ok(*argv)
        return path

    def client(self) -> EngineClient:
        return EngineClient.connect(Deployment.load(self.deployment))


@pytest.fixture(scope="module")
def env(manifest: Manifest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("newcomer")
    with LocalChain() as local:
        state = Env(local.rpc_url, work / "deployment.json", work)
        state.ok("deploy", "--rpc-url", local.rpc_url)
        yield state


# ---------------------------------------------------------------- 1. circuit asserts


def alice(entry: str = "2000") -> Account:
    return Account(
        address=int(dev_signer(1).address, 16),
        salt=12345,
        collateral={"USDC": Balance(2000 * 10**18)},
        positions=(Position("ETH-USD", True, Size(5 * 10**8), Price(int(entry) * 10**8)),),
    )


def test_opening_off_the_oracle_price_is_one_line_naming_the_position(tmp_path: Path) -> None:
    path = tmp_path / "alice.account.json"
    made = run(
        "account", "new", path, "-m", MARKETS, "--collateral", "USDC=2000",
        "--position", "BTC-USD:short:0.01@60000", "--position", "ETH-USD:long:5@2000",
    )  # fmt: skip
    assert made.code == 0, made.err
    result = run(
        "prove", path, "-m", MARKETS, "-o", tmp_path / "p.json", "--mode", "initial", "--opening"
    )
    line = one_line_error(result)
    assert line == (
        "error: positions[1] (ETH-USD): an opening proof needs the entry price to equal "
        "the oracle price (2000 != 1900)"
    )
    assert "Assert Failed" not in result.err and not (tmp_path / "p.json").exists()


def test_every_reachable_circuit_assert_is_checked_in_python_first() -> None:
    data = load_market_data(MARKETS)

    def refused(account: Account, *, mode: Mode = Mode.MAINTENANCE, opening: bool = False) -> str:
        with pytest.raises(InputError) as info:
            encode(account, data, circuit="cross", mode=mode, binding=Binding(), opening=opening)
        return str(info.value)

    base = alice("1900")
    encode(base, data, circuit="cross", mode=Mode.INITIAL, binding=Binding(), opening=True)

    unlisted = replace(base, positions=(replace(base.positions[0], market="ETH-USDT"),))
    assert refused(unlisted).startswith("positions[0] (ETH-USDT): market is not listed")
    with pytest.raises(InputError, match=r"positions\[0\] \(ETH-USDT\)"):
        evaluate(unlisted, data, Mode.MAINTENANCE)  # was a KeyError
    assert "collateral.DAI" in refused(replace(base, collateral={"DAI": Balance(1)}))

    zero_rate = replace(data, markets={**data.markets, "ETH-USD": MarketParams(Bps(0), Bps(0))})
    with pytest.raises(InputError, match=r"positions\[0\] \(ETH-USD\): the maintenance rate is 0"):
        check_provable(base, zero_rate, Mode.MAINTENANCE, opening=False)

    big = replace(base.positions[0], size=Size(2**64))
    assert refused(replace(base, positions=(big,))).startswith("positions[0] (ETH-USD).size")
    far = replace(base.positions[0], entry_price=Price(2**64))
    assert "entry_price" in refused(replace(base, positions=(far,)))
    assert refused(replace(base, collateral={"USDC": Balance(2**96)})).startswith("collateral.USDC")
    assert refused(replace(base, salt=0)).startswith("salt")
    assert refused(replace(base, address=2**160)).startswith("account")
    free = replace(data, prices={**data.prices, "BTC-USD": Price(0)})
    with pytest.raises(InputError, match=r"prices\.BTC-USD"):
        check_provable(base, free, Mode.MAINTENANCE, opening=False)
    # an empty slot (size 0) is free of the opening rule, as in the circuit
    empty = replace(base.positions[0], size=Size(0), entry_price=Price(1))
    check_provable(replace(base, positions=(empty,)), data, Mode.INITIAL, opening=True)


def test_the_prover_never_reaches_the_witness_assert(prover: Prover) -> None:
    data = load_market_data(MARKETS)
    with pytest.raises(InputError, match=r"positions\[0\] \(ETH-USD\): an opening proof"):
        prover.prove(alice("2000"), data, mode=Mode.INITIAL, opening=True)


# ---------------------------------------------------------------- 3. git would track it


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_account_new_warns_when_git_would_track_the_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", cwd=repo)
    (repo / ".gitignore").write_text("*.account.json\n")
    tracked = run("account", "new", repo / "alice.json")
    assert tracked.code == 0
    assert tracked.err_lines == [
        f"warning: git would track {repo / 'alice.json'}, which holds your salt; "
        "name it *.account.json or add it to .gitignore"
    ]
    ignored = run("account", "new", repo / "alice.account.json")
    assert ignored.code == 0 and ignored.err == ""
    outside = run("account", "new", tmp_path / "alice.json")  # no work tree: silent
    assert outside.code == 0 and outside.err == ""
    nogit = run("account", "new", repo / "bob.json", env={"PATH": str(tmp_path / "nowhere")})
    assert nogit.code == 0 and nogit.err == ""  # git missing: silent


def test_the_repository_ignores_account_files() -> None:
    ignore = (ROOT / ".gitignore").read_text().splitlines()
    assert "*.account.json" in ignore and "*.account.json.opening" in ignore


# ---------------------------------------------------------------- 4. deploy twice


def test_deploy_refuses_to_replace_a_live_engine(env: Env) -> None:
    engine = Deployment.load(env.deployment).engine
    before = env.deployment.read_bytes()
    line = one_line_error(env.run("deploy", "--rpc-url", env.rpc_url))
    assert line == (
        f"error: {env.deployment} names engine {engine}, live on its chain: deploying again "
        "would replace it (accounts there would seem lost); use that deployment, or --force"
    )
    assert env.deployment.read_bytes() == before


def test_deploy_force_names_the_engine_it_replaces_and_keeps_the_file(env: Env) -> None:
    old = Deployment.load(env.deployment).engine
    out = env.ok("deploy", "--rpc-url", env.rpc_url, "--force")
    new = Deployment.load(env.deployment).engine
    assert new != old
    assert f"--force: replacing engine {old} in {env.deployment}" in out
    kept = env.deployment.with_name(f"deployment.replaced-{old}.json")
    assert json.loads(kept.read_text())["contracts"]["MarginEngine"] == old
    assert f"kept the old deployment file as {kept}" in out


def test_deploy_over_a_dead_chain_needs_no_force(env: Env, tmp_path: Path) -> None:
    stale = json.loads(env.deployment.read_text())
    stale["rpc_url"] = "http://127.0.0.1:9"  # nothing listens: the chain is gone
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(stale))
    out = run("deploy", "--rpc-url", env.rpc_url, env={"ZKMARGIN_DEPLOYMENT": str(path)})
    assert out.code == 0, out.err
    assert "replacing" not in out.out


def test_deploy_over_an_unreadable_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    path.write_text("{}")
    line = one_line_error(run("deploy", "--force", env={"ZKMARGIN_DEPLOYMENT": str(path)}))
    assert line.endswith("not a zkmargin deployment file; move it away to deploy afresh")
    assert path.read_text() == "{}"


# ---------------------------------------------------------------- 5. forge build, said


def test_a_stale_contract_build_is_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[bool] = []
    monkeypatch.setattr(cli.deploy, "missing_or_stale", lambda: ["MarginEngine"])
    monkeypatch.setattr(cli.deploy, "ensure_built", lambda: built.append(True))
    runner = CliRunner()
    with runner.isolation() as (_out, err, _):
        cli.deploy.build_contracts()
        lines = err.getvalue().decode().splitlines()
    assert built == [True]
    assert lines[0] == "building contracts (forge, first run ~30 s)…"
    assert re.fullmatch(r"  built in \d+\.\d s", lines[1])


def test_a_fresh_build_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.deploy, "missing_or_stale", lambda: [])
    runner = CliRunner()
    with runner.isolation() as (out, err, _):
        cli.deploy.build_contracts()
        assert out.getvalue() == b"" and err.getvalue() == b""


def test_readme_states_the_first_run_cost() -> None:
    assert "about 10 s" in README and "first run ~30 s" in README
    # the first run's ceremony: Powers of Tau 2^14 since the portfolio circuit joined setup
    text = " ".join(README.split())
    assert "runs the ceremony (Powers of Tau 2^14 for the portfolio circuit: about 5–14" in text


# ---------------------------------------------------------------- 6. units and open


def test_open_without_a_deposit_suggests_one_and_leaves_the_file(env: Env) -> None:
    path = env.account("nodeposit", 4, "ETH-USD:long:1@1")
    before = path.read_bytes()
    line = one_line_error(env.run("open", path))
    address = dev_signer(4).address
    assert line == (
        f"error: {address} has no collateral at the engine; deposit first, e.g. "
        f"`zkmargin deposit {path} USDC 2000`"
    )
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".opening").exists()


def test_open_short_of_initial_margin_leaves_the_file(env: Env) -> None:
    path = env.account("short", 5, "ETH-USD:long:5@1")
    env.ok("deposit", path, "USDC", "10")
    before = path.read_bytes()
    line = one_line_error(env.run("open", path), code=1)
    assert line.startswith("error: insufficient margin: equity 10 < requirement 1000")
    assert "initial margin" in line and f"zkmargin deposit {path}" in line
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".opening").exists()


def test_open_that_fails_before_sending_keeps_the_file(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = env.account("unsent", 6, "ETH-USD:long:0.1@1")
    env.ok("deposit", path, "USDC", "100")
    before = path.read_bytes()

    def lost(self: EngineClient, *args: Any, **kwargs: Any) -> Any:
        raise ChainError("connection lost")  # as if the RPC dropped before the send

    monkeypatch.setattr(EngineClient, "open", lost)
    line = one_line_error(env.run("open", path))
    assert line == "error: connection lost"
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".opening").exists()


def test_open_that_fails_after_mining_still_saves_the_salt(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transaction went through but the client lost the receipt: the file must hold
    the new salt, or the account could never be closed."""
    path = env.account("mined", 7, "ETH-USD:long:0.1@1")
    env.ok("deposit", path, "USDC", "100")
    real = EngineClient.open

    def mined_then_lost(self: EngineClient, *args: Any, **kwargs: Any) -> Any:
        real(self, *args, **kwargs)
        raise ChainError("receipt lost")

    monkeypatch.setattr(EngineClient, "open", mined_then_lost)
    result = env.run("open", path)
    assert result.code == 2
    assert "note: the account did open" in result.err
    monkeypatch.undo()
    assert not path.with_name(path.name + ".opening").exists()
    env.ok("submit", path)  # the saved file opens the live commitment
    assert "can prove" in env.ok("status", path)


def test_a_stray_pending_file_is_never_overwritten(env: Env) -> None:
    path = env.account("stray", 8, "ETH-USD:long:0.1@1")
    pending = path.with_name(path.name + ".opening")
    pending.write_text("the only copy of a salt\n")
    line = one_line_error(env.run("open", path))
    assert f"{pending} exists: an earlier `open` did not finish" in line
    assert pending.read_text() == "the only copy of a salt\n"


def test_amounts_in_errors_are_tokens_as_typed(env: Env) -> None:
    path = env.account("units", 9, "ETH-USD:long:0.1@1")
    line = one_line_error(env.run("deposit", path, "USDC", "1.0000001"))
    assert line == (
        "error: AMOUNT: 1.0000001 has more than 6 decimals and cannot be represented exactly"
    )
    address = dev_signer(9).address
    line = one_line_error(env.run("deposit", path, "USDC", "2000000.5"))
    assert line == (
        f"error: {address} holds 1000000 USDC in its wallet, cannot deposit 2000000.5 USDC; "
        f"mint mock tokens with `zkmargin faucet {address} USDC 2000000.5`"
    )
    line = one_line_error(env.run("withdraw", path, "USDC", "12.5"))
    assert line == f"error: the engine holds 0 USDC for {address}, cannot withdraw 12.5 USDC"


# ---------------------------------------------------------------- 7. names at account new


def test_account_new_checks_names_against_the_deployment(env: Env, tmp_path: Path) -> None:
    line = one_line_error(
        env.run("account", "new", tmp_path / "a.account.json", "--position", "eth-usd:long:1@1")
    )
    assert line == (
        f"error: --position: unknown market 'eth-usd' (the deployment file {env.deployment} "
        "lists ETH-USD, BTC-USD); did you mean ETH-USD?"
    )
    line = one_line_error(
        env.run("account", "new", tmp_path / "b.account.json", "--position", "ETH-USDT:long:1@1")
    )
    assert "unknown market 'ETH-USDT'" in line and "did you mean" not in line
    line = one_line_error(
        env.run("account", "new", tmp_path / "c.account.json", "--collateral", "usdc=5")
    )
    assert "unknown asset 'usdc'" in line and "did you mean USDC?" in line
    assert not list(tmp_path.iterdir()), "nothing is written for a bad name"


def test_account_new_checks_names_against_the_market_file(tmp_path: Path) -> None:
    argv = ["account", "new", tmp_path / "a.account.json", "-m", MARKETS]
    line = one_line_error(run(*argv, "--position", "ETH-USDT:long:1@1"))
    assert line.startswith("error: --position: unknown market 'ETH-USDT' (the market file")


def test_account_new_says_when_it_cannot_check_names(tmp_path: Path) -> None:
    result = run(
        "account", "new", tmp_path / "a.account.json", "--position", "ETH-USDT:long:1@1",
        env={"ZKMARGIN_DEPLOYMENT": str(tmp_path / "none.json")},
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.err_lines == [
        "note: names not checked (no -m market file and no deployment file)"
    ]


# ---------------------------------------------------------------- 8. negatives, setup


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["oracle", "set", "ETH-USD", "-5"], "PRICE: -5 is negative; a price must be"),
        (["oracle", "set", "ETH-USD", "-0.5"], "PRICE: -0.5 is negative"),
        (["deposit", "x.account.json", "USDC", "-5"], "AMOUNT: -5 is negative; an amount"),
        (["withdraw", "x.account.json", "USDC", "-1.5"], "AMOUNT: -1.5 is negative"),
        (["faucet", "0x" + "11" * 20, "USDC", "-7"], "AMOUNT: -7 is negative"),
        (["time", "advance", "-60"], "SECONDS: -60 is negative"),
    ],
)
def test_negative_numbers_are_one_clear_line(argv: list[str], expected: str) -> None:
    line = one_line_error(run(*argv))
    assert line.startswith(f"error: {expected}")
    assert "No such option" not in line


def test_a_mistyped_option_is_still_a_usage_error() -> None:
    result = run("oracle", "set", "ETH-USD", "5", "--form", "3")
    assert result.code == 2 and "No such option '--form'" in result.err


def test_setup_prints_each_circuit_once(manifest: Manifest) -> None:
    result = run("setup")
    assert result.code == 0, result.err
    both = result.out + result.err
    for name in ("isolated", "cross"):
        assert len(re.findall(rf"^{name}\s+\d+ constraints", both, re.MULTILINE)) == 1


def test_setup_progress_lines_carry_the_elapsed_time() -> None:
    runner = CliRunner()
    with runner.isolation() as (_out, err, _), TimedLog(every=0.2) as log:
        log("compiling isolated.circom (circom --O2)")
        log("powers of tau 2^12: prepare phase 2 (the slow step)")
        time.sleep(0.5)  # a long step: the log says it is still working
        lines = err.getvalue().decode().splitlines()
    assert re.fullmatch(r"  \[\s*\d+\.\d s\] compiling isolated\.circom \(circom --O2\)", lines[0])
    assert lines[1].endswith("] powers of tau 2^12: prepare phase 2 (the slow step)")
    assert len(lines) >= 3
    assert all(
        line.endswith("] still powers of tau 2^12: prepare phase 2 (the slow step)")
        for line in lines[2:]
    )


# ---------------------------------------------------------------- 9. help in sections


def test_help_lists_commands_in_sections_with_whole_lines() -> None:
    result = CliRunner().invoke(root_group, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    text = result.output
    headings = [title for title, _ in SECTIONS]
    positions = [text.index(f"{title}:") for title in headings]
    assert positions == sorted(positions)
    assert not re.search(r"\w\.\.\.$", text, re.MULTILINE), "a help line was cut"
    assert "Commands:" not in text
    names = root_group.list_commands(click.Context(root_group))
    assert len(names) >= 22
    for name in names:
        assert len(re.findall(rf"^  {re.escape(name)}\s", text, re.MULTILINE)) == 1, name
    deposit = text[text.index("Trader (on-chain):") : text.index("Keeper (on-chain):")]
    assert "deposit" in deposit and "open" in deposit and "liquidate" not in deposit
    assert "Deposit AMOUNT of ASSET (in tokens, like 2000.5) for ACCOUNT (file or address)." in (
        " ".join(text.split())
    )


def test_a_new_command_lands_in_its_section_by_name() -> None:
    group = SectionedGroup(name="zkmargin")
    group.add_command(click.Command("verify", help="Check a proof."))
    group.add_command(click.Command("prove-batch", help="Prove many accounts at once."))
    group.add_command(click.Command("zzz", help="Something new."))
    text = CliRunner().invoke(group, ["--help"]).output
    proofs = text[text.index("Accounts and proofs (off-chain):") : text.index("Other:")]
    assert "prove-batch" in proofs and "verify" in proofs
    assert "zzz" in text[text.index("Other:") :]


def test_readme_documents_the_commands_it_left_out() -> None:
    for command in ("zkmargin faucet", "zkmargin oracle show", "zkmargin chain status"):
        assert command in README, command


def test_commands_load_lazily_and_all_resolve() -> None:
    """`zkmargin prove` must not pay for web3: each command's module loads on first use,
    and every name in the table resolves to a click command."""
    import subprocess

    probe = (
        "import sys; from cli.main import cli; import click; "
        "ctx = click.Context(cli); cli.get_command(ctx, 'prove'); "
        "print('web3' in sys.modules, 'py_ecc' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]
    ctx = click.Context(root_group)
    for name in root_group.list_commands(ctx):
        assert isinstance(root_group.get_command(ctx, name), click.Command), name
