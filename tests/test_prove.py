"""The library end to end: account -> proof -> verification, for both circuit instances."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prover.prove import Prover
from verifier.bundle import verify_bundle
from zkmargin.accounts import load_market_data, new_account
from zkmargin.encoding import Binding, Statement, circuit_shape, commitment
from zkmargin.errors import InsufficientMargin
from zkmargin.model import Mode, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Price, Size

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def data():  # type: ignore[no-untyped-def]
    return load_market_data(EXAMPLES / "markets.json")


def isolated_account():  # type: ignore[no-untyped-def]
    return new_account(
        0x1111,
        {"USDC": Balance(1000 * 10**18)},
        (Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )


def cross_account():  # type: ignore[no-untyped-def]
    return new_account(
        0x2222,
        {"USDC": Balance(20000 * 10**18), "WETH": Balance(3 * 10**18)},
        (
            Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),
            Position("BTC-USD", False, Size(10**7), Price(58000 * 10**8)),
        ),
    )


@pytest.fixture
def private_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every private temp directory the prover makes during the test (other processes on
    the machine may be proving at the same time, so /dev/shm itself is not compared)."""
    from prover.backends import scratch

    made: list[Path] = []
    original = scratch.private_tmpdir

    def recording() -> Path:
        path = original()
        made.append(path)
        return path

    monkeypatch.setattr(scratch, "private_tmpdir", recording)
    return made


@pytest.mark.parametrize(
    ("make", "circuit"), [(isolated_account, "isolated"), (cross_account, "cross")]
)
def test_prove_and_verify(prover: Prover, data, make, circuit: str, private_dirs) -> None:  # type: ignore[no-untyped-def]
    account = make()
    binding = Binding(chain_id=5, engine=0xE0, nonce=7)
    bundle = prover.prove(account, data, binding=binding)
    assert bundle.circuit == circuit
    # the default backend proves from an anonymous in-memory file (memfd): no directory at
    # all; a backend that needs one gets a fresh one in RAM, removed before returning
    for path in private_dirs:
        assert str(path).startswith(("/dev/shm", "/tmp"))
        assert not path.exists(), "the witness directory was left behind"
    if prover.backend_name != "snarkjs-cli":
        assert private_dirs == []

    st = bundle.statement
    shape = circuit_shape(circuit)
    assert len(bundle.public_signals) == shape.n_public
    assert (
        st.account == account.address and st.nonce == 7 and st.engine == 0xE0 and st.chain_id == 5
    )
    enc = prover.encode(account, data, binding=binding)
    assert enc.statement.public_signals() == bundle.public_signals
    assert st.commitment == commitment(account, shape, enc.statement.market_names)
    assert verify_bundle(bundle, prover.manifest).valid

    # round trip through the proof file
    again = ProofBundle.from_json(json.loads(json.dumps(bundle.to_json())))
    assert again == bundle
    # no private value in the proof file
    text = json.dumps(bundle.to_json())
    assert str(account.salt) not in text
    assert "positions" not in text


@pytest.mark.slow
def test_statement_binds_everything(prover: Prover, data) -> None:  # type: ignore[no-untyped-def]
    """Changing any public value (nonce, chain, engine, price) breaks the proof."""
    bundle = prover.prove(cross_account(), data, binding=Binding(nonce=1))
    st = bundle.statement
    variants = [
        Statement(**{**st.__dict__, "nonce": 2}),
        Statement(**{**st.__dict__, "chain_id": 1}),
        Statement(**{**st.__dict__, "engine": 1}),
        Statement(**{**st.__dict__, "account": st.account + 1}),
        Statement(**{**st.__dict__, "prices": (st.prices[0] + 1, *st.prices[1:])}),
        Statement(**{**st.__dict__, "balances": (st.balances[0] + 1, *st.balances[1:])}),
        Statement(**{**st.__dict__, "rates": (st.rates[0] - 1, *st.rates[1:])}),
        Statement(**{**st.__dict__, "opening": True}),
        Statement(**{**st.__dict__, "withdrawal": True}),
    ]
    for other in variants:
        forged = ProofBundle(bundle.circuit, bundle.mode, bundle.proof, other.public_signals())
        assert not verify_bundle(forged, prover.manifest).valid, other


def test_insolvent_account_is_refused_before_proving(prover: Prover, data, private_dirs) -> None:  # type: ignore[no-untyped-def]
    crashed = load_market_data(EXAMPLES / "markets.json")
    crashed = type(crashed)(
        crashed.markets, crashed.collateral, {**crashed.prices, "ETH-USD": Price(1850 * 10**8)}
    )
    with pytest.raises(InsufficientMargin, match=r"equity 250 < requirement 462\.5"):
        prover.prove(isolated_account(), crashed)
    assert private_dirs == []  # refused before any witness was written


def test_initial_mode_and_opening(prover: Prover, data) -> None:  # type: ignore[no-untyped-def]
    account = new_account(
        0x3333,
        {"USDC": Balance(1000 * 10**18)},
        (Position("ETH-USD", False, Size(5 * 10**8), data.prices["ETH-USD"]),),
    )
    bundle = prover.prove(account, data, mode=Mode.INITIAL, opening=True)
    assert bundle.statement.opening and bundle.statement.rates == (1000,)
    assert verify_bundle(bundle, prover.manifest).valid


@pytest.mark.parametrize(
    ("make", "circuit"), [(isolated_account, "isolated"), (cross_account, "cross")]
)
def test_witness_bytes_equal_snarkjs(
    prover: Prover, data, make, circuit: str, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The in-process witness of the real margin circuits is byte-identical to snarkjs'."""
    from zkmargin.toolrun import run_tool

    enc = prover.encode(make(), data, circuit=circuit)
    ours = prover.witness_calculator(circuit).wtns_bytes(enc.inputs)
    (tmp_path / "input.json").write_text(
        json.dumps(
            {
                k: [str(x) for x in v] if isinstance(v, list) else str(v)
                for k, v in enc.inputs.items()
            }
        )
    )
    wasm = prover.manifest.circuit(circuit).wasm
    run_tool(
        "snarkjs",
        ["wtns", "calculate", wasm, tmp_path / "input.json", tmp_path / "w.wtns"],
        timeout=120,
    )
    assert (tmp_path / "w.wtns").read_bytes() == ours
