"""Tampered and malleated proofs, off-chain and on the engine: one place that says who
refuses what, and by which check.

Three judges see every case: the Python verifier (``verifier.groth16``), snarkjs 0.7.6's
``groth16.verify`` (the function ``snarkjs groth16 verify`` calls; run in batches, and
checked against the CLI itself in ``test_the_batch_runner_agrees_with_the_snarkjs_cli``)
and the generated Solidity verifier on anvil, whose verdict is split by calling the
ecPairing precompile directly with the verifier's own input layout (``tampering_cases``).
Whatever the Solidity verifier refuses is then sent raw to ``MarginEngine.proveMargin``
(fixed gas, no client-side input check): it must be mined, revert with
``MarginEngine__InvalidProof()`` and leave the nonce alone.

1. Malleation (same statement, other bytes). ``(-A, -B, C)``, ``(rA, r^-1 B, C)`` and the
   full re-randomisation ``(r^-1 A, rB + rs delta, C + sA)`` need only the proof and the
   public delta: all three judges accept them. Non-canonical words split the judges:
   every coordinate + q is refused by the Python verifier (>= q), *accepted* by snarkjs
   (it reduces mod q) and refused by the ecPairing precompile (EIP-197: a coordinate >= p
   is invalid input; the Solidity verifier checks only the public inputs against r); and
   ``A.y + 2^256 - m q`` (m = 1..4) is refused by Python and snarkjs but *accepted* by the
   Solidity verifier, which negates A as ``mod(sub(q, A.y), q)`` with a wrapping ``sub``.
   The engine is safe anyway: replay is keyed on the nonce, so after one twin is accepted
   every other is refused (both orders, with real transactions).
2. Proof bytes: byte flips (low and top byte) in each of the 8 words, off-curve /
   off-twist / outside-G2 points, zero points (the precompile's point at infinity), swaps
   and partial negations; public signals +1 / +r / wrong count (Python and snarkjs, and
   the Solidity verifier for what a fixed-size ``uint[n]`` can express); and, since the
   engine builds its inputs itself, statements one public value away from the engine's:
   commitment (salt), each price word, a balance, a rate, IMR for MMR, a haircut, the
   opening flag, nonce + 1, chain id + 1, so that every public word of both circuits is
   covered. Each is checked at the encoding level (it differs from the engine's inputs in
   exactly that word, and the client refuses it before proving); three per circuit
   (commitment, balance word, params word) are also proved and sent to the engine, and
   test_chain_binding does the same for the nonce, the engine and the chain id.
3. A witness the circuit refuses, proved anyway with ``snarkjs groth16 prove`` (which
   does not check it): the honest witness of an account made insolvent by a real price
   crash on anvil (assertless build, tests/soundness.py), and a solvent account's witness
   with one internal wire changed. The R1CS names the broken check; every judge and the
   engine refuse the proof.

Cases that live elsewhere: tests/test_groth16.py (the Python verifier against snarkjs on a
toy circuit: JSON spellings, infinity with z = 0, the verifying key, pairing arithmetic);
tests/test_chain_binding.py (proofs for another account, nonce, engine, chain or circuit;
replay of the same bytes; a + q, a off the curve, a negated, B unswapped or swapped, all
zero; gas starvation); tests/test_soundness.py (the constraint-level side of item 1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from soundness import build_variant, on_wires, prove_any_witness, real_circuit
from tampering_cases import (
    ACCEPT,
    FIELD,
    JSON_NAMES,
    PAIRING,
    PRECOMPILE,
    REJECT,
    THROW,
    WORD_NAMES,
    SnarkjsBatch,
    Words,
    calldata_of,
    constraint_signals,
    negate_ab,
    python_verdict,
    replace_word,
    rerandomise,
    scale_ab,
    snarkjs_json,
    solidity_verdict,
    twist_point_outside_g2,
    words_of,
    wrap_ay,
)
from tooling.wtns_files import read_sym

from chain.artifacts import load_artifact
from chain.client import (
    EngineClient,
    Kind,
    OpenPlan,
    check_public_inputs,
    proof_calldata,
)
from chain.errors import PublicInputsMismatch, RevertError
from chain.local import LocalSystem
from chain.rpc import Contract
from chain.signers import Signer, dev_signer
from prover.prove import Prover
from prover.solidity import verifier_name
from verifier.groth16 import VerifyingKey
from zkmargin.encoding import Binding, circuit_shape, encode
from zkmargin.errors import InsufficientMargin
from zkmargin.model import Account, CollateralParams, MarketData, MarketParams, Mode, Position
from zkmargin.proofs import ProofBundle
from zkmargin.toolrun import run_tool
from zkmargin.units import BN254_BASE_FIELD as Q
from zkmargin.units import SNARK_SCALAR_FIELD as R
from zkmargin.units import Balance, Bps, Price, Size

RAW_GAS = 1_500_000  # fixed: skips eth_estimateGas, so a bad proof is mined and reverts
CIRCUITS = ("isolated", "cross")
ETH = 2000 * 10**8
CRASH = 1800 * 10**8  # -10%: the thin accounts fall below MMR, the others stay solvent


# ------------------------------------------------------------------------ the world


@dataclass(frozen=True)
class Trader:
    signer: Signer
    account: Account  # positions and salt (balances come from the engine)
    kind: Kind


@dataclass
class World:
    system: LocalSystem
    traders: dict[str, Trader]  # "<role>-<circuit>"
    verifiers: dict[str, Contract]  # circuit -> generated verifier
    vks: dict[str, VerifyingKey]
    vkey_paths: dict[str, Path]  # circuit -> verification_key.json (for snarkjs)

    @property
    def client(self) -> EngineClient:
        return self.system.client


ETH_LONG = Position("ETH-USD", True, Size(10**8), Price(ETH))
BTC_SHORT = Position("BTC-USD", False, Size(10**7), Price(60000 * 10**8))

# role -> (dev account, positions, deposits in token base units)
ROLES: dict[str, tuple[int, tuple[Position, ...], dict[str, int]]] = {
    "table-isolated": (1, (ETH_LONG,), {"USDC": 2000 * 10**6}),
    "table-cross": (2, (ETH_LONG, BTC_SHORT), {"USDC": 2000 * 10**6, "WETH": 10**18}),
    "twins-isolated": (3, (ETH_LONG,), {"USDC": 2000 * 10**6}),
    "twins-cross": (4, (ETH_LONG, BTC_SHORT), {"USDC": 2000 * 10**6, "WETH": 10**18}),
    # 210 USDC for 1 ETH: IMR 200 at 2000; at 1800 equity 10 < MMR 90
    "thin-isolated": (5, (ETH_LONG,), {"USDC": 210 * 10**6}),
    "thin-cross": (6, (ETH_LONG,), {"USDC": 210 * 10**6}),
}


@pytest.fixture(scope="module")
def world(prover: Prover, chain_system: LocalSystem) -> World:
    """The session's chain (reverted after this module) with six open accounts."""
    system = chain_system
    client = system.client
    traders = {}
    for role, (dev, positions, deposits) in ROLES.items():
        signer = dev_signer(dev)
        kind = Kind.ISOLATED if role.endswith("isolated") else Kind.CROSS
        account = Account(
            address=int(signer.address, 16),
            salt=1000 + dev,
            collateral={},
            positions=positions,
        )
        for asset, units in deposits.items():
            client.deposit(signer, asset, units)
        market = client.deployment.market(positions[0].market).id
        plan = OpenPlan(account, kind, market if kind is Kind.ISOLATED else 0, 0)
        client.open(signer, plan, prover)
        traders[role] = Trader(signer, account, kind)
    verifiers = {
        c: Contract(
            system.chain,
            system.deployment.verifier(c),
            load_artifact(verifier_name(c)).abi,
            verifier_name(c),
        )
        for c in CIRCUITS
    }
    vkey_paths = {c: prover.manifest.circuit(c).vkey for c in CIRCUITS}
    vks = {c: VerifyingKey.load(vkey_paths[c]) for c in CIRCUITS}
    return World(system, traders, verifiers, vks, vkey_paths)


def engine_inputs(world: World, trader: Trader) -> list[int]:
    return [
        int(v) for v in world.client.engine.call("publicInputs", trader.signer.address, False, 0, 0)
    ]


def engine_view(world: World, trader: Trader) -> tuple[MarketData, Account, int]:
    """What the engine would prove this trader against: data, account, nonce."""
    client = world.client
    state = client.account_state(trader.signer.address)
    data = client.market_data_for(state)
    return data, client.chain_account(trader.account, data), state.nonce


@dataclass(frozen=True)
class Claim:
    """Everything a proof is about: what ``Prover.prove`` takes."""

    account: Account
    data: MarketData
    binding: Binding
    mode: Mode = Mode.MAINTENANCE
    opening: bool = False


def prove(
    world: World,
    prover: Prover,
    trader: Trader,
    change: Callable[[Claim], Claim] | None = None,
) -> ProofBundle:
    """A valid proof (``Prover.prove`` verifies it before returning) of the engine's
    statement for ``trader``, or of ``change(that statement)``."""
    data, account, nonce = engine_view(world, trader)
    claim = Claim(account, data, world.client.binding(nonce))
    if change is not None:
        claim = change(claim)
    return prover.prove(
        claim.account,
        claim.data,
        mode=claim.mode,
        binding=claim.binding,
        circuit=trader.kind.circuit,
        opening=claim.opening,
    )


def submit_raw(world: World, trader: Trader, words: Words) -> None:
    world.client.engine.transact(trader.signer, "proveMargin", calldata_of(words), gas=RAW_GAS)


def engine_would_accept(world: World, trader: Trader, words: Words) -> bool:
    """Simulate proveMargin (eth_call): True if it would not revert. Moves nothing."""
    engine = world.client.engine
    try:
        world.system.chain.call(
            engine.address,
            engine.encode("proveMargin", calldata_of(words)),
            sender=trader.signer.address,
        )
    except RevertError as exc:
        assert exc.name == "MarginEngine__InvalidProof", str(exc)
        return False
    return True


def assert_refused_on_chain(world: World, trader: Trader, words: Words) -> None:
    """Mined, reverted with MarginEngine__InvalidProof(), nonce unchanged."""
    client, who = world.client, trader.signer.address
    nonce = client.account_state(who).nonce
    with pytest.raises(RevertError) as info:
        submit_raw(world, trader, words)
    assert info.value.name == "MarginEngine__InvalidProof", str(info.value)
    assert "(tx 0x" in str(info.value)  # mined and reverted, not just simulated
    assert client.account_state(who).nonce == nonce


def sol(world: World, circuit: str, inputs: list[int], words: Words) -> str:
    return solidity_verdict(
        world.system.chain, world.verifiers[circuit], world.vks[circuit], inputs, words
    )


@contextmanager
def eth_price(world: World, price: int) -> Iterator[None]:
    client, admin = world.client, dev_signer(0)
    before = client.price("ETH-USD")
    client.set_price(admin, "ETH-USD", price)
    try:
        yield
    finally:
        client.set_price(admin, "ETH-USD", before)


@dataclass(frozen=True)
class Baseline:
    trader: Trader
    bundle: ProofBundle
    words: Words
    inputs: list[int]  # the engine's public inputs for the trader, now


@pytest.fixture(scope="module")
def baselines(world: World, prover: Prover) -> dict[str, Baseline]:
    """One valid proof per circuit for the table traders (never submitted)."""
    out = {}
    for circuit in CIRCUITS:
        trader = world.traders[f"table-{circuit}"]
        bundle = prove(world, prover, trader)
        inputs = engine_inputs(world, trader)
        assert bundle.public_signals == inputs
        out[circuit] = Baseline(trader, bundle, words_of(proof_calldata(bundle.proof)), inputs)
    return out


def assert_python(outcome: str, expected: str) -> None:
    """``expected`` is ACCEPT, PAIRING or a fragment of the VerifierError message."""
    if expected in (ACCEPT, PAIRING):
        assert outcome == expected
    else:
        assert outcome.startswith("error: ") and expected in outcome, outcome


# ------------------------------------------------------- 1 + 2: the proof's bytes


@dataclass(frozen=True)
class Tamper:
    id: str
    change: Callable[[Words, VerifyingKey], Words]
    python: str  # ACCEPT, PAIRING or a fragment of the VerifierError message
    snarkjs: str  # ACCEPT, REJECT or THROW
    solidity: str  # ACCEPT, PAIRING or PRECOMPILE


def _word(i: int, f: Callable[[int], int]) -> Callable[[Words, VerifyingKey], Words]:
    return lambda words, _vk: replace_word(words, i, f(words[i]))


def _point(name: str) -> str:
    """The Python verifier's name of the point a JSON field belongs to."""
    return name[:4]


def _not_on_curve(i: int) -> str:
    return f"{_point(JSON_NAMES[i])} is not on the BN254"


def _zero(slice_: slice) -> Callable[[Words, VerifyingKey], Words]:
    def change(words: Words, _vk: VerifyingKey) -> Words:
        out = list(words)
        out[slice_] = [0] * len(out[slice_])
        return tuple(out)

    return change


TAMPERS: list[Tamper] = [
    # -- 1. malleations: the same statement, other bytes -------------------------
    Tamper("(-A,-B,C)", lambda w, _vk: negate_ab(w), ACCEPT, ACCEPT, ACCEPT),
    Tamper("(7A,B/7,C)", lambda w, _vk: scale_ab(w, 7), ACCEPT, ACCEPT, ACCEPT),
    Tamper(
        "re-randomised (A/r, rB+rs.delta, C+sA)",
        lambda w, vk: rerandomise(w, vk.delta_2, 5, 11),
        ACCEPT,
        ACCEPT,
        ACCEPT,
    ),
    # non-canonical A.y that the generated verifier's wrapping "q - A.y" maps back
    *[
        Tamper(
            f"A.y+2^256-{m}q",
            lambda w, _vk, m=m: wrap_ay(w, m),
            "pi_a[1]: ",  # ... is >= the base field prime q
            REJECT,  # snarkjs reduces mod q: another y, off the curve
            ACCEPT,
        )
        for m in range(1, 5)
    ],
    # every word + q: the same point for snarkjs (it reduces), not a field element for
    # the precompile (and for A.y: the verifier's q - y wraps to another y)
    *[
        Tamper(f"{name}+q", _word(i, lambda v: v + Q), f"{JSON_NAMES[i]}: ", ACCEPT, PRECOMPILE)
        for i, name in enumerate(WORD_NAMES)
    ],
    # -- 2. byte flips in each word ---------------------------------------------------
    *[
        Tamper(
            f"{name} low byte flipped",
            _word(i, lambda v: v ^ 0xFF),
            _not_on_curve(i),
            REJECT,
            PRECOMPILE,
        )
        for i, name in enumerate(WORD_NAMES)
    ],
    *[
        Tamper(
            f"{name} top byte flipped",
            _word(i, lambda v: v ^ (0xFF << 248)),  # now >= q: snarkjs reduces it
            f"{JSON_NAMES[i]}: ",
            REJECT,
            PRECOMPILE,
        )
        for i, name in enumerate(WORD_NAMES)
    ],
    # -- off the curve, off the twist, outside G2 ---------------------------------
    Tamper(
        "A off the curve (x+1)",
        _word(0, lambda v: v + 1),
        "pi_a is not on the BN254 curve",
        REJECT,
        PRECOMPILE,
    ),
    Tamper(
        "C off the curve (x+1)",
        _word(6, lambda v: v + 1),
        "pi_c is not on the BN254 curve",
        REJECT,
        PRECOMPILE,
    ),
    Tamper(
        "C off the curve (y+1)",
        _word(7, lambda v: v + 1),
        "pi_c is not on the BN254 curve",
        REJECT,
        PRECOMPILE,
    ),
    Tamper(
        "B off the twist (x.c0+1)",
        _word(3, lambda v: v + 1),
        "pi_b is not on the BN254 twist curve",
        REJECT,
        PRECOMPILE,
    ),
    Tamper(
        "B on the twist, outside G2",
        lambda w, _vk: (*w[:2], *twist_point_outside_g2(), *w[6:]),
        "pi_b is on the twist curve but not in the order-r subgroup G2",
        REJECT,
        PRECOMPILE,
    ),
    # -- zero words: (0, 0) is the precompile's point at infinity ---------------------
    Tamper("A = (0,0)", _zero(slice(0, 2)), "pi_a is not on the BN254 curve", REJECT, PAIRING),
    Tamper(
        "B = (0,0,0,0)", _zero(slice(2, 6)), "pi_b is not on the BN254 twist curve", REJECT, PAIRING
    ),
    Tamper("C = (0,0)", _zero(slice(6, 8)), "pi_c is not on the BN254 curve", REJECT, PAIRING),
    # -- valid points in the wrong places ------------------------------------------
    Tamper(
        "-B only", lambda w, _vk: (*w[:2], *negate_ab(w)[2:6], *w[6:]), PAIRING, REJECT, PAIRING
    ),
    Tamper("-C", _word(7, lambda v: Q - v), PAIRING, REJECT, PAIRING),
    Tamper("A and C swapped", lambda w, _vk: (*w[6:], *w[2:6], *w[:2]), PAIRING, REJECT, PAIRING),
]
assert len({t.id for t in TAMPERS}) == len(TAMPERS)


@pytest.fixture(scope="module")
def snarkjs_on_tampers(world: World, baselines: dict[str, Baseline]) -> dict[tuple[str, str], str]:
    """snarkjs' verdict on every (circuit, tamper), in one node process."""
    batch = SnarkjsBatch.for_keys(world.vkey_paths)
    index = {}
    for circuit, base in baselines.items():
        for t in TAMPERS:
            words = t.change(base.words, world.vks[circuit])
            index[(circuit, t.id)] = batch.add(circuit, base.inputs, snarkjs_json(words))
    verdicts = batch.run()
    return {key: verdicts[i] for key, i in index.items()}


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize("tamper", TAMPERS, ids=[t.id for t in TAMPERS])
def test_tampered_proof_bytes(
    world: World,
    baselines: dict[str, Baseline],
    snarkjs_on_tampers: dict[tuple[str, str], str],
    circuit: str,
    tamper: Tamper,
) -> None:
    base = baselines[circuit]
    words = tamper.change(base.words, world.vks[circuit])
    assert words != base.words
    assert engine_inputs(world, base.trader) == base.inputs  # nothing moved since
    assert_python(
        python_verdict(world.vks[circuit], snarkjs_json(words), base.inputs), tamper.python
    )
    assert snarkjs_on_tampers[(circuit, tamper.id)] == tamper.snarkjs
    assert sol(world, circuit, base.inputs, words) == tamper.solidity
    if tamper.solidity == ACCEPT:
        # as good as the original: the engine would take it (simulated; the nonce-keyed
        # replay protection is exercised with real transactions below)
        assert engine_would_accept(world, base.trader, words)
    else:
        assert_refused_on_chain(world, base.trader, words)


def test_the_untampered_baseline_is_accepted_by_every_judge(
    world: World, baselines: dict[str, Baseline]
) -> None:
    batch = SnarkjsBatch.for_keys(world.vkey_paths)
    for circuit, base in baselines.items():
        batch.add(circuit, base.inputs, base.bundle.proof)
        assert python_verdict(world.vks[circuit], base.bundle.proof, base.inputs) == ACCEPT
        assert sol(world, circuit, base.inputs, base.words) == ACCEPT
        assert engine_would_accept(world, base.trader, base.words)
    assert batch.run() == [ACCEPT, ACCEPT]


def test_the_batch_runner_agrees_with_the_snarkjs_cli(
    world: World,
    baselines: dict[str, Baseline],
    snarkjs_on_tampers: dict[tuple[str, str], str],
    tmp_path: Path,
) -> None:
    """The batch calls the same function as `snarkjs groth16 verify`; pin it on one case
    of each verdict: accept (untampered, and a word + q), reject (A.y wrapped), and a
    throw (one signal too many; the CLI exits 1)."""
    base = baselines["isolated"]
    vk_path = world.vkey_paths["isolated"]
    cases = [
        (base.inputs, base.bundle.proof, 0),
        (base.inputs, snarkjs_json(replace_word(base.words, 1, base.words[1] + Q)), 0),
        (base.inputs, snarkjs_json(wrap_ay(base.words, 1)), 1),
        ([*base.inputs, 0], base.bundle.proof, 1),
    ]
    assert snarkjs_on_tampers[("isolated", "A.y+q")] == ACCEPT
    assert snarkjs_on_tampers[("isolated", "A.y+2^256-1q")] == REJECT
    for public, proof, rc in cases:
        (tmp_path / "public.json").write_text(json.dumps([str(s) for s in public]))
        (tmp_path / "proof.json").write_text(json.dumps(proof))
        proc = run_tool(
            "snarkjs",
            ["groth16", "verify", vk_path, tmp_path / "public.json", tmp_path / "proof.json"],
            timeout=120,
            check=False,
        )
        assert proc.returncode == rc, (proc.stdout, proc.stderr)


# ------------------------------------------------- 1: twins on the engine, both orders


def _twins(words: Words, vk: VerifyingKey) -> dict[str, Words]:
    return {
        "(-A,-B,C)": negate_ab(words),
        "re-randomised": rerandomise(words, vk.delta_2, 3, 17),
        "A.y+2^256-q": wrap_ay(words, 1),
    }


def _nonce_index(circuit: str) -> int:
    return circuit_shape(circuit).n_public - 2  # accountNonce = account | nonce << 160


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_original_first_then_every_malleated_twin_is_refused(
    world: World, prover: Prover, circuit: str
) -> None:
    trader = world.traders[f"twins-{circuit}"]
    who = trader.signer.address
    bundle = prove(world, prover, trader)
    words = words_of(proof_calldata(bundle.proof))
    twins = _twins(words, world.vks[circuit])
    before = engine_inputs(world, trader)
    for twin in twins.values():
        assert twin != words
        assert sol(world, circuit, before, twin) == ACCEPT  # each twin verifies today
    nonce = world.client.account_state(who).nonce
    submit_raw(world, trader, words)
    assert world.client.account_state(who).nonce == nonce + 1
    after = engine_inputs(world, trader)
    differing = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert differing == [_nonce_index(circuit)]  # only the nonce moved
    for name, twin in twins.items():
        assert_refused_on_chain(world, trader, twin)
        # why: the twin is still a proof of the old statement, not of the new one
        assert sol(world, circuit, before, twin) == ACCEPT, name
        assert sol(world, circuit, after, twin) == PAIRING, name
    assert_refused_on_chain(world, trader, words)  # and the original itself (replay)


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize("first", ["(-A,-B,C)", "re-randomised", "A.y+2^256-q"])
def test_malleated_twin_first_then_the_original_is_refused(
    world: World, prover: Prover, circuit: str, first: str
) -> None:
    trader = world.traders[f"twins-{circuit}"]
    who = trader.signer.address
    bundle = prove(world, prover, trader)
    words = words_of(proof_calldata(bundle.proof))
    twins = _twins(words, world.vks[circuit])
    nonce = world.client.account_state(who).nonce
    submit_raw(world, trader, twins[first])  # accepted: same statement, other bytes
    state = world.client.account_state(who)
    assert state.nonce == nonce + 1
    assert_refused_on_chain(world, trader, words)
    for name, twin in twins.items():
        if name != first:
            assert_refused_on_chain(world, trader, twin)


# ------------------------------------------------------- 2: the public signals


SIGNAL_NAMES = {
    "isolated": (
        "commitment",
        "priceWord",
        "balanceWord",
        "paramsWord",
        "accountNonce",
        "engineChain",
    ),
    "cross": (
        "commitment",
        "priceWord0",
        "priceWord1",
        "balanceWord",
        "paramsWord",
        "accountNonce",
        "engineChain",
    ),
}


@dataclass(frozen=True)
class SignalCase:
    id: str
    change: Callable[[list[int]], list[int]]
    python: str
    snarkjs: str
    solidity: str | None  # None: a fixed-size uint[n] cannot express it


def _signal(i: int, f: Callable[[int], int]) -> Callable[[list[int]], list[int]]:
    def change(public: list[int]) -> list[int]:
        out = list(public)
        out[i] = f(out[i])
        return out

    return change


def signal_cases(circuit: str) -> list[SignalCase]:
    n = len(SIGNAL_NAMES[circuit])
    cases = []
    for i, name in enumerate(SIGNAL_NAMES[circuit]):
        cases.append(SignalCase(f"{name}+1", _signal(i, lambda v: v + 1), PAIRING, REJECT, PAIRING))
        cases.append(
            SignalCase(
                f"{name}+r", _signal(i, lambda v: v + R), f"public signal {i}: ", REJECT, FIELD
            )
        )
    cases.append(SignalCase("one signal too few", lambda p: p[:-1], f"expected {n}", REJECT, None))
    # snarkjs reads IC[n + 1], which does not exist, and throws (the CLI exits 1)
    cases.append(SignalCase("one signal too many", lambda p: [*p, 0], f"expected {n}", THROW, None))
    return cases


SIGNAL_CASES = [(c, case) for c in CIRCUITS for case in signal_cases(c)]


@pytest.fixture(scope="module")
def snarkjs_on_signals(world: World, baselines: dict[str, Baseline]) -> dict[tuple[str, str], str]:
    batch = SnarkjsBatch.for_keys(world.vkey_paths)
    index = {
        (c, case.id): batch.add(c, case.change(baselines[c].inputs), baselines[c].bundle.proof)
        for c, case in SIGNAL_CASES
    }
    verdicts = batch.run()
    return {key: verdicts[i] for key, i in index.items()}


@pytest.mark.parametrize(
    ("circuit", "case"), SIGNAL_CASES, ids=[f"{c}-{k.id}" for c, k in SIGNAL_CASES]
)
def test_tampered_public_signals(
    world: World,
    baselines: dict[str, Baseline],
    snarkjs_on_signals: dict[tuple[str, str], str],
    circuit: str,
    case: SignalCase,
) -> None:
    base = baselines[circuit]
    public = case.change(base.inputs)
    assert_python(python_verdict(world.vks[circuit], base.bundle.proof, public), case.python)
    assert snarkjs_on_signals[(circuit, case.id)].startswith(case.snarkjs)
    if case.solidity is not None:
        assert all(v < 2**256 for v in public)
        assert sol(world, circuit, public, base.words) == case.solidity


# --------------------------- 2: valid proofs of a statement one public value away


def _last(names: Any) -> str:
    return list(names)[-1]


def _salt(c: Claim) -> Claim:
    return replace(c, account=replace(c.account, salt=c.account.salt + 1))


def _price(which: Callable[[MarketData], str]) -> Callable[[Claim], Claim]:
    def change(c: Claim) -> Claim:
        name = which(c.data)
        prices = {**c.data.prices, name: Price(c.data.prices[name] + 1)}
        return replace(c, data=replace(c.data, prices=prices))

    return change


def _balance(c: Claim) -> Claim:
    name = _last(c.data.collateral)
    collateral = {**c.account.collateral, name: Balance(c.account.collateral[name] + 1)}
    return replace(c, account=replace(c.account, collateral=collateral))


def _mmr(c: Claim) -> Claim:
    name = _last(c.data.markets)
    old = c.data.markets[name]
    markets = {**c.data.markets, name: MarketParams(Bps(old.mmr_bps + 1), old.imr_bps)}
    return replace(c, data=replace(c.data, markets=markets))


def _haircut(c: Claim) -> Claim:
    name = _last(c.data.collateral)
    old = c.data.collateral[name]
    params = CollateralParams(Bps(old.haircut_bps + 1), old.decimals)
    return replace(c, data=replace(c.data, collateral={**c.data.collateral, name: params}))


# (id, change, the engine input that then differs: isolated, cross)
RESTATEMENTS: list[tuple[str, Callable[[Claim], Claim], str, str]] = [
    ("salt+1 (commitment)", _salt, "commitment", "commitment"),
    ("ETH-USD price +1e-8", _price(lambda d: "ETH-USD"), "priceWords[0]", "priceWords[0]"),
    (
        "last asset's price +1e-8",
        _price(lambda d: _last(d.collateral)),
        "priceWords[0]",
        "priceWords[1]",
    ),
    ("last asset's balance +1e-18", _balance, "balanceWords[0]", "balanceWords[0]"),
    ("last market's MMR +1 bps", _mmr, "paramsWord", "paramsWord"),
    ("IMR instead of MMR", lambda c: replace(c, mode=Mode.INITIAL), "paramsWord", "paramsWord"),
    ("last asset's haircut +1 bps", _haircut, "paramsWord", "paramsWord"),
    # entries still equal the oracle prices, so an opening proof exists
    ("opening flag set", lambda c: replace(c, opening=True), "paramsWord", "paramsWord"),
    (
        "nonce+1",
        lambda c: replace(c, binding=replace(c.binding, nonce=c.binding.nonce + 1)),
        "accountNonce",
        "accountNonce",
    ),
    (
        "chain id+1",
        lambda c: replace(c, binding=replace(c.binding, chain_id=c.binding.chain_id + 1)),
        "engineChain",
        "engineChain",
    ),
]


# Proved and sent on-chain; every other restatement is checked at the encoding level:
# the statement differs from the engine's in exactly the named word, so no proof of it
# can pass for the engine's inputs (a Groth16 proof fixes all its public inputs; the
# cases below show that with real proofs for the commitment, a balance word and the
# params word, and test_chain_binding does for the nonce, engine and chain id).
ON_CHAIN = ("salt+1 (commitment)", "last asset's balance +1e-18", "IMR instead of MMR")


def restated_claim(
    world: World, trader: Trader, change: Callable[[Claim], Claim]
) -> tuple[Claim, list[int]]:
    """The changed claim and the public signals it encodes to (nothing proved)."""
    data, account, nonce = engine_view(world, trader)
    claim = change(Claim(account, data, world.client.binding(nonce)))
    return claim, claim_signals(world, trader, claim)


def claim_signals(world: World, trader: Trader, claim: Claim) -> list[int]:
    encoded = encode(
        claim.account,
        claim.data,
        circuit=trader.kind.circuit,
        mode=claim.mode,
        binding=claim.binding,
        opening=claim.opening,
    )
    return encoded.statement.public_signals()


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize(
    ("rid", "field_isolated", "field_cross"),
    [(r[0], r[2], r[3]) for r in RESTATEMENTS],
    ids=[r[0] for r in RESTATEMENTS],
)
def test_a_statement_one_public_value_away_differs_in_that_word_only(
    world: World,
    baselines: dict[str, Baseline],
    circuit: str,
    rid: str,
    field_isolated: str,
    field_cross: str,
) -> None:
    """The engine builds every input itself, so the only way to "change a public input"
    is to bring a proof of another statement; each restatement differs from the engine's
    inputs in exactly the named word, and the client refuses it before proving."""
    base = baselines[circuit]
    change = next(r[1] for r in RESTATEMENTS if r[0] == rid)
    _claim, own = restated_claim(world, base.trader, change)
    engine = engine_inputs(world, base.trader)
    assert engine == base.inputs
    differing = [i for i, (a, b) in enumerate(zip(own, engine, strict=True)) if a != b]
    assert len(differing) == 1, differing
    field = field_isolated if circuit == "isolated" else field_cross
    with pytest.raises(
        PublicInputsMismatch, match=re.escape(f"public input {differing[0]}, {field}")
    ):
        check_public_inputs(own, engine, circuit)


def test_a_nonce_race_reads_as_nonces(world: World, baselines: dict[str, Baseline]) -> None:
    """A proof made for an old nonce names the nonces, not the packed field elements."""
    base = baselines["isolated"]
    nonce = world.client.account_state(base.trader.signer.address).nonce
    _claim, own = restated_claim(
        world,
        base.trader,
        lambda c: replace(c, binding=replace(c.binding, nonce=c.binding.nonce + 1)),
    )
    with pytest.raises(PublicInputsMismatch) as info:
        check_public_inputs(own, base.inputs, "isolated")
    assert f"nonce {nonce + 1} in the proof, {nonce} at the engine" in str(info.value)
    assert str(own[-2]) not in str(info.value)  # no packed account|nonce word


@dataclass(frozen=True)
class Restated:
    bundle: ProofBundle
    snarkjs_own: str  # snarkjs on the proof's own signals
    snarkjs_engine: str  # snarkjs on the engine's signals


@pytest.fixture(scope="module")
def restated(
    world: World, prover: Prover, baselines: dict[str, Baseline]
) -> dict[tuple[str, str], Restated]:
    bundles = {
        (c, rid): prove(world, prover, baselines[c].trader, change)
        for c in CIRCUITS
        for rid, change, *_ in RESTATEMENTS
        if rid in ON_CHAIN
    }
    batch = SnarkjsBatch.for_keys(world.vkey_paths)
    index = {
        key: (
            batch.add(key[0], b.public_signals, b.proof),
            batch.add(key[0], baselines[key[0]].inputs, b.proof),
        )
        for key, b in bundles.items()
    }
    verdicts = batch.run()
    return {key: Restated(bundles[key], verdicts[i], verdicts[j]) for key, (i, j) in index.items()}


@pytest.mark.parametrize("circuit", CIRCUITS)
@pytest.mark.parametrize("rid", ON_CHAIN)
def test_a_valid_proof_one_public_value_away_is_refused(
    world: World,
    baselines: dict[str, Baseline],
    restated: dict[tuple[str, str], Restated],
    circuit: str,
    rid: str,
) -> None:
    """Each is valid for its own signals and refused for the engine's, by every judge."""
    base = baselines[circuit]
    made = restated[(circuit, rid)]
    own, engine = made.bundle.public_signals, engine_inputs(world, base.trader)
    assert engine == base.inputs
    change = next(r[1] for r in RESTATEMENTS if r[0] == rid)
    assert own == restated_claim(world, base.trader, change)[1]  # the encoding-level case
    words = words_of(proof_calldata(made.bundle.proof))
    # (valid for its own signals in Python too: Prover.prove checked it)
    assert python_verdict(world.vks[circuit], made.bundle.proof, engine) == PAIRING
    assert (made.snarkjs_own, made.snarkjs_engine) == (ACCEPT, REJECT)
    assert sol(world, circuit, own, words) == ACCEPT
    assert sol(world, circuit, engine, words) == PAIRING
    assert_refused_on_chain(world, base.trader, words)


# ------------------------------- 3 (item 1, on-chain end): witnesses the circuit refuses


def _prove_witness(
    prover: Prover, circuit: str, witness: list[int], tmp_path: Path
) -> tuple[dict[str, Any], list[int]]:
    """`snarkjs groth16 prove` on any witness: it does not check the constraints."""
    return prove_any_witness(prover.manifest.circuit(circuit).zkey, witness, tmp_path)


def _assert_every_judge_refuses(
    world: World, circuit: str, trader: Trader, proof: dict[str, Any], public: list[int]
) -> None:
    engine = engine_inputs(world, trader)
    assert public == engine  # the engine's own statement, not a stale or foreign one
    words = words_of(proof_calldata(proof))
    assert python_verdict(world.vks[circuit], proof, public) == PAIRING
    batch = SnarkjsBatch.for_keys(world.vkey_paths)
    batch.add(circuit, public, proof)
    assert batch.run() == [REJECT]
    assert sol(world, circuit, engine, words) == PAIRING  # well-formed points, wrong product
    assert_refused_on_chain(world, trader, words)


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_honest_witness_of_an_insolvent_account_is_refused_on_chain(
    world: World, prover: Prover, circuit: str, tmp_path: Path
) -> None:
    trader = world.traders[f"thin-{circuit}"]
    r1cs, sym = real_circuit(circuit)
    names = read_sym(sym)
    honest = build_variant(circuit, assertless=True, flags=("--O0",), outputs=("--wasm",))
    with eth_price(world, CRASH):
        data, account, nonce = engine_view(world, trader)
        with pytest.raises(InsufficientMargin):  # the honest client cannot even start
            world.client.prove_margin(trader.signer, trader.account, prover)
        encoded = prover.encode(
            account,
            data,
            mode=Mode.MAINTENANCE,
            binding=world.client.binding(nonce),
            circuit=circuit,
        )
        # the witness's public signals are exactly what the engine verifies against now
        check_public_inputs(
            encoded.statement.public_signals(), engine_inputs(world, trader), circuit
        )
        witness = on_wires(honest.witness_by_name(encoded.inputs), sym, r1cs)
        broken = r1cs.violated(witness)
        assert broken, "the constraints accept an insolvent account"
        for index in broken:  # only the claim's range check: equity >= requirement
            assert any(".claim." in s for s in constraint_signals(names, r1cs, index)), index
        proof, public = _prove_witness(prover, circuit, witness, tmp_path)
        _assert_every_judge_refuses(world, circuit, trader, proof, public)


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_solvent_witness_with_one_wire_changed_is_refused_on_chain(
    world: World, prover: Prover, circuit: str, tmp_path: Path
) -> None:
    trader = world.traders[f"table-{circuit}"]
    r1cs, sym = real_circuit(circuit)
    names = read_sym(sym)
    data, account, nonce = engine_view(world, trader)
    encoded = prover.encode(
        account, data, mode=Mode.MAINTENANCE, binding=world.client.binding(nonce), circuit=circuit
    )
    witness = prover.witness_calculator(circuit).calculate(encoded.inputs)
    assert len(witness) == r1cs.header.n_wires and r1cs.violated(witness) == []
    wire = names["main.requirement[0]"]
    assert wire > r1cs.header.n_public  # internal, not a public signal
    witness[wire] = (witness[wire] - 1) % R  # a smaller requirement
    broken = r1cs.violated(witness)
    assert broken
    assert any("main.requirement[0]" in constraint_signals(names, r1cs, i) for i in broken)
    proof, public = _prove_witness(prover, circuit, witness, tmp_path)
    _assert_every_judge_refuses(world, circuit, trader, proof, public)
