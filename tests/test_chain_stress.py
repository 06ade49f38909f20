"""Stress proofs on-chain, end to end on the session's anvil: ``zkmargin prove --stress``
with the real prover, then ``zkmargin stress-check`` (``stressInputs`` + ``verifyStress``
through web3.py) accepts it; a wrong shock, a moved oracle price and an advanced nonce
are refused, each naming why.

The deployment prices WETH with the ETH/USD feed, so the ETH-USD shock also moves the
account's WETH collateral, at the engine as in the proof.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tooling.cli_run import run_cli

from chain.calldata import proof_calldata
from chain.local import LocalSystem
from chain.signers import dev_signer
from chain.stresscheck import stress_check
from prover.prove import Prover
from zkmargin.accounts import format_address, new_account, save_account
from zkmargin.amounts import format_fixed
from zkmargin.model import Account, MarketData, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import PRICE_DECIMALS, Price, Size

TRADER = dev_signer(6)
SPEC = "ETH-USD=-30%,BTC-USD=+25%"
E8 = 10**8


def market_json(data: MarketData) -> dict[str, Any]:
    """A market file for the engine's listings and oracle prices (as `-m` takes it)."""
    return {
        "markets": {
            n: {"mmr_bps": p.mmr_bps, "imr_bps": p.imr_bps} for n, p in data.markets.items()
        },
        "collateral": {
            n: {"haircut_bps": c.haircut_bps, "decimals": c.decimals}
            | ({"risk_factor": c.risk_factor} if c.risk_factor else {})
            for n, c in data.collateral.items()
        },
        "prices": {n: format_fixed(p, PRICE_DECIMALS) for n, p in data.prices.items()},
    }


def account_file(path: Path, account: Account) -> Path:
    save_account(path, account, overwrite=True)
    return path


class Setup:
    def __init__(self, system: LocalSystem, prover: Prover, tmp: Path) -> None:
        self.system, self.client, self.tmp = system, system.client, tmp
        client = self.client
        client.deposit(TRADER, "USDC", 1_000 * 10**6)
        client.deposit(TRADER, "WETH", 2 * 10**18)
        account = new_account(
            int(TRADER.address, 16),
            positions=(
                Position("ETH-USD", True, Size(1 * E8), Price(1)),
                Position("BTC-USD", False, Size(E8 // 100), Price(1)),
            ),
        )
        plan = client.plan_open(account)
        client.open(TRADER, plan, prover)
        self.account = plan.account
        self.deployment = tmp / "deployment.json"
        system.deployment.save(self.deployment)

    def prove(self, spec: str = SPEC, name: str = "stress.json", link: bool = True) -> Path:
        client = self.client
        state = client.account_state(TRADER.address)
        data = client.market_data(state.kind)
        acct = account_file(
            self.tmp / f"{name}.account.json", client.chain_account(self.account, data)
        )
        markets = self.tmp / f"{name}.markets.json"
        raw = market_json(data)
        if not link:  # a market file that does not say WETH is priced by ETH/USD
            del raw["collateral"]["WETH"]["risk_factor"]
        markets.write_text(json.dumps(raw))
        out = self.tmp / name
        run = run_cli(
            "prove", acct, "-m", markets, "--stress", spec, "-o", out, "--local",
            "--chain-id", client.chain.chain_id, "--engine", client.deployment.engine,
            "--nonce", state.nonce,
        )  # fmt: skip
        assert run.code == 0, run.err
        return out

    def check(self, proof: Path) -> Any:
        return run_cli(
            "stress-check", proof, "--deployment", self.deployment,
            "--rpc-url", self.system.local.rpc_url,
        )  # fmt: skip


@pytest.fixture(scope="module")
def setup(
    chain_system: LocalSystem, prover: Prover, tmp_path_factory: pytest.TempPathFactory
) -> Setup:
    return Setup(chain_system, prover, tmp_path_factory.mktemp("chain-stress"))


def test_stress_proof_verifies_on_chain(setup: Setup, chain_snapshot: LocalSystem) -> None:
    proof = setup.prove()
    bundle = ProofBundle.load(proof)
    # WETH (priced by ETH/USD at this deployment) moved with ETH-USD in the proof
    names = [s.name for s in bundle.stress.slots] if bundle.stress else []
    prices = bundle.statement.prices
    assert prices[names.index("WETH")] == prices[names.index("ETH-USD")] == 1_400 * E8
    run = setup.check(proof)
    assert run.code == 0, run.out + run.err
    assert run.out_lines[-2] == "engine shockBps [-3000, 2500] (per market id)"
    assert run.out_lines[-1] == (
        f"valid: the engine verifies it: {format_address(int(TRADER.address, 16))} meets "
        "maintenance margin at the shocked prices (nonce 1)"
    )
    assert "WETH 2000 -> 1400 (with ETH-USD)" in run.out_lines[0]


def test_engine_decides_which_collateral_moves(setup: Setup, chain_snapshot: LocalSystem) -> None:
    """A proof that kept WETH at its price (a milder stress) verifies off-chain (the file
    says so) but not at the engine, which shocks every asset on the ETH/USD feed."""
    proof = setup.prove(link=False, name="unlinked.json")
    assert run_cli("verify", proof).code == 0
    run = setup.check(proof)
    assert run.code == 1
    assert run.out_lines[-1] == (
        "invalid: the engine's stress statement differs: WETH price 2000 in the proof, "
        "1400 at the engine"
    )


def test_engine_refuses_a_wrong_shock(setup: Setup, chain_snapshot: LocalSystem) -> None:
    bundle = ProofBundle.load(setup.prove())
    engine = stress_check(setup.client)
    calldata = proof_calldata(bundle.proof)
    assert engine.call("verifyStress", TRADER.address, [-3000, 2500], calldata) is True
    assert engine.call("verifyStress", TRADER.address, [-2999, 2500], calldata) is False
    assert engine.call("verifyStress", TRADER.address, [-3000, 0], calldata) is False


def test_engine_refuses_minus_100_percent(setup: Setup, chain_snapshot: LocalSystem) -> None:
    from chain.errors import RevertError

    with pytest.raises(RevertError) as exc:
        stress_check(setup.client).call("stressInputs", TRADER.address, [-10_000, 0])
    assert exc.value.name == "StressCheck__ShockTooLow"


def test_moved_oracle_price_is_named(setup: Setup, chain_snapshot: LocalSystem) -> None:
    proof = setup.prove()
    setup.client.set_price(dev_signer(0), "BTC/USD", 61_000 * E8)
    run = setup.check(proof)
    assert run.code == 1, run.out + run.err
    assert run.out_lines[-1] == (
        "invalid: the engine's stress statement differs: BTC-USD price 75000 in the proof, "
        "76250 at the engine"
    )


def test_stress_proof_expires_with_the_next_accepted_proof(
    setup: Setup, prover: Prover, chain_snapshot: LocalSystem
) -> None:
    proof = setup.prove()
    setup.client.prove_margin(TRADER, setup.account, prover)  # nonce 1 -> 2
    run = setup.check(proof)
    assert run.code == 1
    assert run.out_lines[-1] == (
        "invalid: the engine's stress statement differs: nonce 1 in the proof, 2 at the engine"
    )


def test_plain_proof_is_not_a_stress_proof(setup: Setup, tmp_path: Path) -> None:
    bundle = ProofBundle.load(setup.prove())
    plain = tmp_path / "plain.json"
    ProofBundle(bundle.circuit, bundle.mode, bundle.proof, bundle.public_signals).save(plain)
    run = setup.check(plain)
    assert run.code == 2
    assert run.err_lines == [
        "error: proof file: not a stress proof (no stress block); `zkmargin verify` checks others"
    ]
