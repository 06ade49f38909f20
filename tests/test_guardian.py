"""The trader's guardian (chain.guardian): the pure decision and exact top-up, then the
daemon on the session's anvil with real proofs.

On-chain: it re-proves an account a keeper flagged, re-proves before the proof lapses
(and not before its margin), tops up within its limit when the account is short (the
exact top-up, checked against the model) and refuses beyond it with that amount in the
log line, and never proves twice for one nonce across a restart.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tooling.cli_run import run_cli as run_main_in_process

from chain.client import EngineClient
from chain.deploy import parse_price
from chain.guardian import (
    Decision,
    GuardConfig,
    Guarded,
    Guardian,
    Slot,
    decide,
    leave_probability,
    needed_top_up,
)
from chain.local import LocalSystem
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from zkmargin.accounts import save_account
from zkmargin.model import (
    Account,
    CollateralParams,
    MarketData,
    MarketParams,
    Mode,
    Position,
    evaluate,
)
from zkmargin.units import Balance, Bps, Price, Size

ADMIN, TRADER, KEEPER = dev_signer(0), dev_signer(7), dev_signer(8)

# ---------------------------------------------------------------- pure


def _decide(**kw: object) -> Decision:
    args: dict[str, object] = {
        "now": 1_000,
        "shock_at": 0,
        "liquidatable_at": 10_000,
        "outside_now": False,
        "p_leave": 0.0,
        "reprove_before": 0.05,
        "prove_s": 5.0,
        "block_margin_s": 24.0,
        "lapse_margin_s": 600.0,
    }
    args.update(kw)
    return decide(**args)  # type: ignore[arg-type]


def test_decide() -> None:
    assert _decide() == Decision(False, "safe")
    assert _decide(shock_at=990).prove
    assert "flagged" in _decide(shock_at=990, p_leave=0.0).reason
    assert "left the proven" in _decide(outside_now=True).reason
    assert not _decide(liquidatable_at=1_601).prove  # 601 s left, margin 600
    assert "lapses in 600 s" in _decide(liquidatable_at=1_600).reason
    # the lead is never shorter than proving + a block margin
    assert _decide(liquidatable_at=1_029, lapse_margin_s=0).prove
    assert not _decide(liquidatable_at=1_030, lapse_margin_s=0).prove
    assert not _decide(liquidatable_at=None).prove
    assert not _decide(p_leave=0.05).prove  # exceeds, not reaches
    assert "5.1% chance" in _decide(p_leave=0.051).reason


def _slot(proven: int, *, market: bool = True, limit: int = 500 * 9_500) -> Slot:
    return Slot("ETH-USD" if market else "WETH", "ETH/USD", market, proven, limit)


def test_slot_outside_is_the_engines_rule() -> None:
    s = _slot(2_000 * 10**8)  # 4.75%: 95 quote either way
    assert not s.outside(2_095 * 10**8) and s.outside(2_095 * 10**8 + 1)
    assert not s.outside(1_905 * 10**8) and s.outside(1_905 * 10**8 - 1)
    c = _slot(2_000 * 10**8, market=False, limit=1_000 * 9_500)  # collateral: drops only
    assert not c.outside(10**20) and c.outside(1_810 * 10**8 - 1)
    assert not _slot(0).outside(1)  # slot unlisted at the proof: ignored


def test_leave_probability() -> None:
    p0 = 2_000 * 10**8
    vol = {"ETH/USD": 0.05}
    assert leave_probability([_slot(p0)], {"ETH-USD": 1_900 * 10**8}, vol, 30) == 1.0
    assert leave_probability([_slot(p0)], {"ETH-USD": p0}, {"ETH/USD": 0.0}, 30) == 0.0
    assert leave_probability([_slot(p0)], {"ETH-USD": p0}, vol, 30) == 0.0  # 4.75% away
    near = {"ETH-USD": 2_095 * 10**8 - 10**7}  # 0.005% from the edge
    short, longer = (leave_probability([_slot(p0)], near, vol, h) for h in (30, 3_600))
    assert 0.05 < short < longer < 1.0


def test_oracle_lag_moves_the_edge_nearer() -> None:
    """0.4% from the edge at 5%/day, a 30 s horizon cannot get there (p = 0), but one
    0.5% oracle step can: with the lag the guardian re-proves (p = 1). A set narrower than
    twice the lag keeps its own edge (re-proving could not stay ahead of the oracle)."""
    p0 = 2_000 * 10**8
    vol = {"ETH/USD": 0.05}
    near = {"ETH-USD": 2_087 * 10**8}  # +4.35%: 0.4% inside the 4.75% edge
    assert leave_probability([_slot(p0)], near, vol, 30) == 0.0
    assert leave_probability([_slot(p0)], near, vol, 30, oracle_lag=0.005) > 0.99
    far = {"ETH-USD": 2_075 * 10**8}  # 1% inside: two steps away
    assert leave_probability([_slot(p0)], far, vol, 30, oracle_lag=0.005) == 0.0
    narrow = _slot(p0, limit=80 * 9_500)  # 0.76% set, under twice the 0.5% lag
    inside = {"ETH-USD": p0 + 3 * p0 // 1000}  # +0.3%: outside it if the lag applied
    assert leave_probability([narrow], inside, vol, 30, oracle_lag=0.005) == 0.0


def test_needed_top_up_is_exact() -> None:
    data = MarketData(
        markets={"ETH-USD": MarketParams(Bps(500), Bps(1000))},
        collateral={"USDC": CollateralParams(Bps(0), 6), "WETH": CollateralParams(Bps(1000), 18)},
        prices={
            "ETH-USD": Price(1_850 * 10**8),
            "USDC": Price(10**8),
            "WETH": Price(1_850 * 10**8),
        },
    )
    account = Account(
        1,
        7,
        {"USDC": Balance(1_000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2_000 * 10**8)),),
    )
    # equity 1000 - 750 = 250, maintenance 5 * 1850 * 5% = 462.5: short by 212.5 USDC
    assert needed_top_up(account, data, "USDC") == 212_500_000
    units = needed_top_up(account, data, "WETH")
    assert units is not None

    def solvent(asset: str, amount: int) -> bool:
        scale = 10**12 if asset == "USDC" else 1
        c = dict(account.collateral)
        c[asset] = Balance(c.get(asset, 0) + amount * scale)
        return evaluate(Account(1, 7, c, account.positions), data, Mode.MAINTENANCE).solvent

    assert solvent("WETH", units) and not solvent("WETH", units - 1)
    assert needed_top_up(Account(1, 7, account.collateral, ()), data, "USDC") == 0


# ---------------------------------------------------------------- on anvil


@dataclass(frozen=True)
class Setup:
    system: LocalSystem
    account: Account


@pytest.fixture(scope="module")
def setup(prover: Prover, chain_system: LocalSystem) -> Iterator[Setup]:
    """An isolated 5x long: 1 000 USDC, 5 ETH at 2 000 (IMR 10%: exactly met)."""
    client = chain_system.client
    client.deposit(TRADER, "USDC", 1_000 * 10**6)
    account = Account(
        address=int(TRADER.address, 16),
        salt=777,
        collateral={},
        positions=(Position("ETH-USD", True, Size(5 * 10**8), Price(1)),),
    )
    plan = client.plan_open(account)
    client.open(TRADER, plan, prover)
    yield Setup(chain_system, plan.account)


def refresh(client: EngineClient, eth: str) -> None:
    for feed, price in (("ETH/USD", eth), ("BTC/USD", "60000"), ("USDC/USD", "1")):
        client.set_price(ADMIN, feed, parse_price(price))


def guardian(
    setup: Setup,
    prover: Prover,
    state: Path,
    lines: list[str],
    signer: Signer = TRADER,
    **kw: object,
) -> Guardian:
    config = GuardConfig(state_file=state, interval=0.01, **kw)  # type: ignore[arg-type]
    return Guardian(
        setup.system.client, prover, [Guarded(setup.account, signer)], config, log=lines.append
    )


def test_reproves_a_flagged_account(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client = setup.system.client
    lines: list[str] = []
    g = guardian(setup, prover, tmp_path / "guard.json", lines)
    assert g.step() == {}  # just opened, prices unchanged: nothing to do
    refresh(client, "1900")  # -5%: outside the 4.75% set, still solvent at maintenance
    client.flag_shock(KEEPER, TRADER.address)
    nonce = client.account_state(TRADER.address).nonce
    assert g.step() == {TRADER.address: "proved"}
    after = client.account_state(TRADER.address)
    assert (after.nonce, after.shock_at) == (nonce + 1, 0)
    assert any(f"proved {TRADER.address} (nonce {nonce}; flagged" in line for line in lines)
    assert g.step() == {}
    assert stat.S_IMODE(os.stat(tmp_path / "guard.json").st_mode) == 0o600


def test_reproves_when_prices_are_likely_to_leave_the_set_soon(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    """Proven at 2 000, the shrunk set ends at 1 905 (4.75%); one 0.5% oracle step (the
    default lag) is 10. At 1 925, 20 from the edge, wait. At 1 914, one oracle update could
    step over the edge: prove before any keeper can flag."""
    client = setup.system.client
    lines: list[str] = []
    g = guardian(setup, prover, tmp_path / "guard.json", lines)
    refresh(client, "1925")
    assert g.step() == {}
    refresh(client, "1914")
    nonce = client.account_state(TRADER.address).nonce
    assert g.step() == {TRADER.address: "proved"}
    assert "chance of leaving the proven set within 29 s (> 5%)" in lines[-1]
    assert client.account_state(TRADER.address).nonce == nonce + 1
    assert client.account_state(TRADER.address).shock_at == 0


def test_reproves_before_the_lapse_and_not_earlier(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client, chain = setup.system.client, setup.system.chain
    st = client.status(TRADER.address)
    assert st.liquidatable_at is not None
    left = st.liquidatable_at - st.now
    lines: list[str] = []
    g = guardian(setup, prover, tmp_path / "guard.json", lines, lapse_margin_s=left - 100)
    assert g.step() == {}  # 100 s before its margin
    chain.advance_time(150)
    refresh(client, "2000")
    nonce = client.account_state(TRADER.address).nonce
    assert g.step() == {TRADER.address: "proved"}
    assert client.account_state(TRADER.address).nonce == nonce + 1
    assert "the proof lapses in" in lines[-1]
    assert g.step() == {}  # a fresh proof: its lapse is a whole lifetime away again


def test_tops_up_within_its_limit_and_refuses_beyond_it(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client = setup.system.client
    refresh(client, "1850")  # equity 250 < maintenance 462.5: short by exactly 212.5 USDC
    nonce = client.account_state(TRADER.address).nonce
    held = client.balance(TRADER.address, "USDC")

    lines: list[str] = []
    stingy = guardian(
        setup, prover, tmp_path / "a.json", lines, top_up_limits={"USDC": 100 * 10**6}
    )
    assert stingy.step() == {TRADER.address: "short"}
    assert "top-up needed: 212.5 USDC (212500000 base units)" in lines[-1]
    assert "100 USDC left: not topping up" in lines[-1]
    assert stingy.step() == {TRADER.address: "short"}
    assert len(lines) == 1  # said once, not every loop
    assert client.balance(TRADER.address, "USDC") == held
    assert client.account_state(TRADER.address).nonce == nonce

    lines = []
    ok = guardian(setup, prover, tmp_path / "b.json", lines, top_up_limits={"USDC": 300 * 10**6})
    assert ok.step() == {TRADER.address: "proved"}
    assert client.balance(TRADER.address, "USDC") == held + 212_500_000
    assert client.account_state(TRADER.address).nonce == nonce + 1
    assert lines[0].startswith(f"topped up {TRADER.address} with 212.5 USDC (212500000 base units)")
    assert "87.5 USDC of the limit left" in lines[0]
    saved = json.loads((tmp_path / "b.json").read_text())
    assert saved["accounts"][TRADER.address]["topped_up"] == {"USDC": "212500000"}


def test_never_proves_twice_for_one_nonce_across_a_restart(
    setup: Setup, chain_snapshot: LocalSystem, prover: Prover, tmp_path: Path
) -> None:
    client = setup.system.client
    state = tmp_path / "guard.json"
    refresh(client, "1900")
    client.flag_shock(KEEPER, TRADER.address)
    nonce = client.account_state(TRADER.address).nonce

    class Crash(BaseException):
        pass

    real = client.prove_margin

    def prove_then_crash(*args: object, **kw: object) -> object:
        real(*args, **kw)  # type: ignore[arg-type]
        raise Crash  # killed after the proof landed, before the marker was cleared

    client.prove_margin = prove_then_crash  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(Crash):
            guardian(setup, prover, state, []).step()
    finally:
        client.prove_margin = real  # type: ignore[method-assign]
    saved = json.loads(state.read_text())
    assert saved["accounts"][TRADER.address]["inflight"]["nonce"] == nonce
    assert client.account_state(TRADER.address).nonce == nonce + 1

    lines: list[str] = []
    restarted = guardian(setup, prover, state, lines)
    assert restarted.step() == {}
    assert f"nonce {nonce} was proven before a restart" in lines[-1]
    assert client.account_state(TRADER.address).nonce == nonce + 1  # one proof for the nonce
    assert json.loads(state.read_text())["accounts"][TRADER.address]["inflight"] is None

    # a marker whose proof never landed (the engine's nonce did not move) is dropped, and
    # the account judged afresh: due (a lapse margin longer than any lifetime), it proves
    # the new nonce exactly once
    saved = json.loads(state.read_text())
    saved["accounts"][TRADER.address]["inflight"] = {"nonce": nonce + 1, "since": 0}
    state.write_text(json.dumps(saved))
    lines = []
    due = guardian(setup, prover, state, lines, lapse_margin_s=10**9)
    assert due.step() == {TRADER.address: "proved"}
    assert "never landed" in lines[0]
    assert client.account_state(TRADER.address).nonce == nonce + 2


def run_cli(*args: object) -> tuple[int, str, str]:
    """The real entry point ``main()`` in-process."""
    result = run_main_in_process(*args)
    return result.code, result.out, result.err


def test_guard_command(setup: Setup, chain_snapshot: LocalSystem, tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    setup.system.deployment.save(deployment)
    account_file = tmp_path / "t.account.json"
    save_account(account_file, setup.account)
    client = setup.system.client
    refresh(client, "1900")
    client.flag_shock(KEEPER, TRADER.address)
    nonce = client.account_state(TRADER.address).nonce
    args = ["guard", account_file, "--deployment", deployment, "--state", tmp_path / "g.json"]
    code, out, err = run_cli(
        *args, "--top-up-limit", "USDC=50", "--reprove-before", "2%", "--max-iterations", "1"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"guarding {TRADER.address}: re-prove above 2% chance")
    assert lines[1] == (
        "volatility from the default 5% a day per market feed: daily BTC/USD 5.00%, ETH/USD 5.00%"
    )
    assert lines[2].startswith(f"proved {TRADER.address} (nonce {nonce}; flagged")
    assert client.account_state(TRADER.address).nonce == nonce + 1
    code, out, err = run_cli(*args, "--top-up-limit", "USDC", "--max-iterations", "1")
    assert code == 2 and err.strip() == "error: --top-up-limit: 'USDC' is not NAME=VALUE"
