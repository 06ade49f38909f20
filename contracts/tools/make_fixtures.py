"""Generate the real Groth16 proofs that the engine's forge tests submit.

Run from the repository root, after ``zkmargin setup``::

    .venv/bin/python contracts/tools/make_fixtures.py [--force]

Writes ``contracts/test/fixtures/generated/engine.json`` and, for the portfolio engine
(``contracts/test/utils/PortfolioBase.sol``), ``portfolio.json`` (both git-ignored).
Fixtures cannot be committed: every proof binds the engine address, the chain id (forge's
default 31337) and the account's nonce, and the zkey changes with every fresh setup.

The forge tests (``contracts/test/utils/MarginEngineBase.sol``) deploy the engine at a fixed
address, ``keccak256("zkmargin.test.engine")`` cut to 160 bits, and list the same markets
and collateral in the order of the scenario section below; they assert that the engine builds
exactly the public inputs recorded here (``inputs``), so any drift between Python and
Solidity fails loudly. Proofs are stored in the EVM's coordinate order (snarkjs ``pi_b``
``[[x0, x1], [y0, y1]]`` becomes ``b = [x1, x0, y1, y0]``, flattened), by the engine
client's own conversion (``chain.calldata``); the scenario's MarketData comes from
``chain.markets.build_market_data``, as the client's does from a live engine.

The output is cached: it is regenerated only when the proving keys (the manifest's hashes)
or this script changed since it was written, or when it is missing or unreadable;
``--force`` regenerates anyway. ``--jobs N`` proves N at a time (no gain on 2 cores:
snarkjs already uses both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_hash.auto import keccak

from chain.calldata import flat_words, proof_calldata
from chain.markets import AssetListing, MarketListing, build_market_data
from prover import Prover
from zkmargin import Account, Binding, MarketData, Mode, Position, load_manifest
from zkmargin.jsonio import write_json
from zkmargin.stress import shocked_price
from zkmargin.units import Balance, Price, Size

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "contracts" / "test" / "fixtures" / "generated" / "engine.json"
FORMAT = 1
CHAIN_ID = 31337

E8 = 10**8
E18 = 10**18


def fixed_address(name: str) -> int:
    """``address(uint160(uint256(keccak256(bytes(name)))))`` as the tests compute it."""
    return int.from_bytes(keccak(name.encode()), "big") & (2**160 - 1)


ENGINE = fixed_address("zkmargin.test.engine")
ALICE = fixed_address("zkmargin.test.alice")
BOB = fixed_address("zkmargin.test.bob")
# The attacker of the reentrancy test is a malicious ERC-20 listed as asset 0: its own
# address is the account (it calls the engine from inside its transfer hook).
EVE = fixed_address("zkmargin.test.eve")

# ---------------------------------------------------------------------------- scenario
# Listing order is the engine's id order: markets ETH-USD = 0, BTC-USD = 1; collateral
# USDC = 0 (6 decimals), WETH = 1 (18 decimals). test/utils/MarginEngineBase.sol holds the
# same numbers (drift shows up as different public inputs or a commitment mismatch).


def px(whole: int) -> Price:
    """A price of ``whole`` quote units, in 1e-8 quote."""
    return Price(whole * E8)


def size(base_e8: int) -> Size:
    return Size(base_e8)


def tokens(whole_e18: int) -> Balance:
    """A balance in normalised 1e-18 token units (the engine scales 6 -> 18 decimals)."""
    return Balance(whole_e18)


# The same listings as MarginEngineBase.sol: four feeds (WETH has its own), markets then
# collateral in id order. MarketData comes from chain.markets.build_market_data, the
# builder the engine client uses for a live engine.
MARKETS = (
    MarketListing("ETH-USD", "ETH/USD", mmr_bps=500, imr_bps=1000),
    MarketListing("BTC-USD", "BTC/USD", mmr_bps=400, imr_bps=800),
)
ASSETS = (
    AssetListing("USDC", "USDC/USD", haircut_bps=100, decimals=6),
    AssetListing("WETH", "WETH/USD", haircut_bps=1000, decimals=18),
)
PRICES: dict[str, Price] = {  # feed -> price
    "ETH/USD": px(2_000),
    "BTC/USD": px(60_000),
    "USDC/USD": px(1),
    "WETH/USD": px(2_000),
}
SHOCK_PRICES = {**PRICES, "ETH/USD": px(1_800)}  # -10%: beyond the 5% shock threshold
# Stress proofs (StressCheck.stressInputs / verifyStress): one shock per market id, in bps,
# applied with zkmargin.stress's rule (WETH has its own feed here, so it does not move).
STRESS_BPS = (-2_000, 1_000)  # ETH-USD -20%, BTC-USD +10%
STRESS_PRICES = {
    **PRICES,
    "ETH/USD": Price(shocked_price(PRICES["ETH/USD"], STRESS_BPS[0])),
    "BTC/USD": Price(shocked_price(PRICES["BTC/USD"], STRESS_BPS[1])),
}

ALICE_SALT = 0xA11CE_5A17
BOB_SALT = 0xB0B_5A17
EVE_SALT = 0xE7E_5A17
EVE_SALT2 = 0xE7E_5A17_2

ALICE_USDC = tokens(500 * E18)  # deposited before opening
ALICE_AFTER_WITHDRAW = tokens(300 * E18)  # after withdrawing 200 USDC
BOB_USDC = tokens(1_000 * E18)
BOB_USDC_AFTER_WITHDRAW = tokens(500 * E18)  # after withdrawing 500 USDC
BOB_WETH = tokens(E18 // 2)  # 0.5 WETH
EVE_TOKEN = tokens(1_000 * E18)
EVE_WETH = tokens(E18 // 2)

ALICE_POSITIONS = (Position("ETH-USD", True, size(1 * E8), px(2_000)),)
BOB_POSITIONS = (
    Position("ETH-USD", True, size(2 * E8), px(2_000)),
    Position("BTC-USD", False, size(E8 // 10), px(60_000)),
)
EVE_POSITIONS = (Position("ETH-USD", True, size(1 * E8), px(2_000)),)
EVE_POSITIONS2 = (Position("ETH-USD", True, size(2 * E8), px(2_000)),)


@dataclass(frozen=True)
class Job:
    name: str
    account: Account
    prices: dict[str, Price]
    mode: Mode
    nonce: int
    circuit: str
    opening: bool = False


def _acct(
    address: int, salt: int, collateral: dict[str, Balance], positions: tuple[Position, ...]
) -> Account:
    return Account(address=address, salt=salt, collateral=collateral, positions=positions)


def jobs() -> list[Job]:
    alice = _acct(ALICE, ALICE_SALT, {"USDC": ALICE_USDC}, ALICE_POSITIONS)
    alice_after = _acct(ALICE, ALICE_SALT, {"USDC": ALICE_AFTER_WITHDRAW}, ALICE_POSITIONS)
    bob = _acct(BOB, BOB_SALT, {"USDC": BOB_USDC, "WETH": BOB_WETH}, BOB_POSITIONS)
    bob_after = _acct(
        BOB, BOB_SALT, {"USDC": BOB_USDC_AFTER_WITHDRAW, "WETH": BOB_WETH}, BOB_POSITIONS
    )
    eve = _acct(EVE, EVE_SALT, {"USDC": EVE_TOKEN, "WETH": EVE_WETH}, EVE_POSITIONS)
    # reopened from inside the token hook, when asset 0 is already paid out (balance 0)
    eve2 = _acct(EVE, EVE_SALT2, {"WETH": EVE_WETH}, EVE_POSITIONS2)
    init, mmr, wd = Mode.INITIAL, Mode.MAINTENANCE, Mode.WITHDRAWAL
    return [
        Job("aliceOpen", alice, PRICES, init, 0, "isolated", opening=True),
        Job("aliceProve", alice, PRICES, mmr, 1, "isolated"),
        Job("aliceProveShock", alice, SHOCK_PRICES, mmr, 1, "isolated"),
        Job("aliceWithdraw", alice_after, PRICES, wd, 1, "isolated"),
        Job("bobOpen", bob, PRICES, init, 0, "cross", opening=True),
        Job("bobProve", bob, PRICES, mmr, 1, "cross"),
        Job("bobWithdraw", bob_after, PRICES, wd, 1, "cross"),
        Job("aliceStress", alice, STRESS_PRICES, mmr, 1, "isolated"),
        Job("bobStress", bob, STRESS_PRICES, mmr, 1, "cross"),
        Job("eveOpen", eve, PRICES, init, 0, "cross", opening=True),
        Job("eveReopen", eve2, PRICES, init, 1, "cross", opening=True),
    ]


def market_data(prices: dict[str, Price]) -> MarketData:
    """The model's view of the forge tests' engine at ``prices`` (feed -> price)."""
    return build_market_data(MARKETS, ASSETS, prices.__getitem__)


def evm_proof(proof: dict[str, Any]) -> dict[str, list[str]]:
    """snarkjs proof.json -> the verifier's calldata order, flattened for the JSON file."""
    words = [str(w) for w in flat_words(proof_calldata(proof))]
    return {"a": words[0:2], "b": words[2:6], "c": words[6:8]}


_local = threading.local()


def _prover() -> Prover:
    """One Prover per worker thread (each keeps its own wasm witness calculators)."""
    prover: Prover | None = getattr(_local, "prover", None)
    if prover is None:
        prover = _local.prover = Prover()
    return prover


def prove(job: Job) -> dict[str, Any]:
    prover = _prover()
    bundle = prover.prove(
        job.account,
        market_data(job.prices),
        mode=job.mode,
        binding=Binding(chain_id=CHAIN_ID, engine=ENGINE, nonce=job.nonce),
        circuit=job.circuit,
        opening=job.opening,
    )
    return {
        **evm_proof(bundle.proof),
        "inputs": [str(s) for s in bundle.public_signals],
        "commitment": str(bundle.public_signals[0]),
        "circuit": job.circuit,
        "nonce": job.nonce,
    }


def cache_key() -> str:
    manifest = load_manifest()
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    for name in ("isolated", "cross"):
        art = manifest.circuit(name)
        digest.update(json.dumps(art.sha256, sort_keys=True).encode())
    return digest.hexdigest()


def addr(value: int) -> str:
    return "0x" + format(value, "040x")


# ---------------------------------------------------------------------------- portfolio
# The portfolio engine's scenario (test/utils/PortfolioBase.sol holds the same numbers):
# markets ETH-USD 0, BTC-USD 1; collateral USDC 0 (6 decimals), WETH 1 (18 decimals, risk
# factor ETH-USD); series 0 the ETH 2500 call, 1 the BTC 55000 put, both expiring at
# PORTFOLIO_EXPIRY (T0 + 30 days; T0 = 1_700_000_000 as in the tests).
PORTFOLIO_OUT = OUT.parent / "portfolio.json"
PORTFOLIO_ENGINE = fixed_address("zkmargin.test.portfolio")
CAROL = fixed_address("zkmargin.test.carol")
DAVE = fixed_address("zkmargin.test.dave")
DAVE_SALT = 0xDA7E_5A17
T0 = 1_700_000_000
PORTFOLIO_EXPIRY = T0 + 30 * 86_400
CAROL_SALT = 0xCA401_5A17


def portfolio_risk(prices: dict[str, str] | None = None) -> Any:
    """The scenario's risk file (prices: the oracle's at proving, default ETH 2000)."""
    from zkmargin.riskfile import format_time, parse_risk_file

    expiry = format_time(PORTFOLIO_EXPIRY)
    raw = {
        "markets": {
            "ETH-USD": {"mmr_bps": 500, "imr_bps": 1000, "floor_bps": 50},
            "BTC-USD": {"mmr_bps": 400, "imr_bps": 800, "floor_bps": 40},
        },
        "collateral": {
            "USDC": {"haircut_bps": 100, "decimals": 6},
            "WETH": {"haircut_bps": 1000, "decimals": 18, "risk_factor": "ETH-USD"},
        },
        "prices": prices or {"ETH-USD": "2000", "BTC-USD": "60000", "USDC": "1", "WETH": "2000"},
        "portfolio": {
            "cholesky_bps": [[900], [640, 480]],
            "lambda_mm_bps": 10000,
            "lambda_im_bps": 15000,
        },
        "options": {
            "ETH-C-2500": {
                "underlying": "ETH-USD",
                "strike": "2500",
                "expiry": expiry,
                "kind": "call",
                "mark": "41.2",
                "delta_bps": 2710,
                "gamma_charge": "9.8",
                "vega_charge": "6.1",
            },
            "BTC-P-55000": {
                "underlying": "BTC-USD",
                "strike": "55000",
                "expiry": expiry,
                "kind": "put",
                "mark": "1210.5",
                "delta_bps": -2850,
                "gamma_charge": "310",
                "vega_charge": "145",
            },
        },
    }
    return parse_risk_file(raw, "portfolio fixture risk")


def portfolio_book() -> Any:
    """Carol: long 1 ETH perp at 2000, short 1 ETH 2500 call at its mark, 3000 USDC."""
    from zkmargin.portfolio import PortfolioAccount, PortfolioPosition

    return PortfolioAccount(
        address=CAROL,
        salt=CAROL_SALT,
        collateral={"USDC": tokens(3_000 * E18)},
        positions=(
            PortfolioPosition("ETH-USD", False, True, size(E8), px(2_000)),
            PortfolioPosition("ETH-C-2500", True, False, size(E8), Price(4_120_000_000)),
        ),
    )


SHOCK_PORTFOLIO_PRICES = {"ETH-USD": "2200", "BTC-USD": "60000", "USDC": "1", "WETH": "2000"}
CAROL_WITHDRAW_USDC = 1_000  # whole USDC withdrawn in the withdrawal proof


def portfolio_proofs() -> dict[str, Any]:
    """Carol's real proofs (nonce order): open (opening, nonce 0), proveMargin (nonce 1) at
    the setup prices and after ETH +10% (the flag scenario), withdraw 1,000 USDC (nonce 1)."""
    from dataclasses import replace

    from zkmargin.portfolio import PortfolioMode

    prover = _prover()
    book = portfolio_book()
    after = replace(book, collateral={"USDC": tokens((3_000 - CAROL_WITHDRAW_USDC) * E18)})
    base, shock = portfolio_risk(), portfolio_risk(SHOCK_PORTFOLIO_PRICES)
    init, mm, wd = PortfolioMode.INITIAL, PortfolioMode.MAINTENANCE, PortfolioMode.WITHDRAWAL
    jobs = {
        "daveOpen": (dave_book(), base, init, 0, True),
        "carolOpen": (book, base, init, 0, True),
        "carolProve": (book, base, mm, 1, False),
        "carolProveShock": (book, shock, mm, 1, False),
        "carolWithdraw": (after, base, wd, 1, False),
    }
    out = {}
    for name, (account, risk, mode, nonce, opening) in jobs.items():
        bundle = prover.prove_portfolio(
            account,
            risk,
            mode=mode,
            binding=Binding(chain_id=CHAIN_ID, engine=PORTFOLIO_ENGINE, nonce=nonce),
            now=T0,
            opening=opening,
        )
        out[name] = {**evm_proof(bundle.proof), "inputs": [str(v) for v in bundle.public_signals]}
    return out


def dave_book() -> Any:
    """Dave: long 1 BTC 55000 put at its mark, short 0.5 ETH perp at 2000; 1 WETH (risk
    factor ETH-USD) and 1,500 USDC: two assets, so close legs split between two vaults."""
    from zkmargin.portfolio import PortfolioAccount, PortfolioPosition

    return PortfolioAccount(
        address=DAVE,
        salt=DAVE_SALT,
        collateral={"USDC": tokens(1_500 * E18), "WETH": tokens(E18)},
        positions=(
            PortfolioPosition("BTC-P-55000", True, True, size(E8), Price(121_050_000_000)),
            PortfolioPosition("ETH-USD", False, False, size(E8 // 2), px(2_000)),
        ),
    )


def portfolio_payload() -> dict[str, Any]:
    """What needs no proof: the risk words and commitment, the book's slots and commitment
    (zkmargin's Python hashing, which the on-chain Poseidon must reproduce)."""
    from zkmargin.portfolio import PortfolioMode
    from zkmargin.portfolio_encoding import (
        chunked_hash,
        encode_portfolio,
        portfolio_commitment,
        slots,
    )
    from zkmargin.riskfile import DEFAULT_SHAPE, risk_words

    risk = portfolio_risk()
    words = risk_words(risk)
    book = portfolio_book()
    slot_words = slots(book, risk, DEFAULT_SHAPE)
    binding = Binding(chain_id=CHAIN_ID, engine=PORTFOLIO_ENGINE, nonce=0)
    initial = encode_portfolio(book, risk, mode=PortfolioMode.INITIAL, binding=binding)
    return {
        "engine": addr(PORTFOLIO_ENGINE),
        "carol": addr(CAROL),
        "expiry": PORTFOLIO_EXPIRY,
        "dave": addr(DAVE),
        "daveSalt": str(DAVE_SALT),
        "daveCommitment": str(portfolio_commitment(dave_book(), risk)),
        "risk": {
            "params": str(words.params),
            "cholesky": str(words.cholesky),
            "optionValues": [str(w) for w in words.option_values],
            "optionParams": [str(w) for w in words.option_params],
            "optionKeys": [str(w) for w in words.option_keys],
            "commitment": str(words.commitment(DEFAULT_SHAPE)),
        },
        "book": {
            "salt": str(CAROL_SALT),
            "slots": [str(w) for w in slot_words],
            "digest": str(chunked_hash(slot_words)),
            "commitment": str(portfolio_commitment(book, risk)),
            # the encoder's public signals of an initial-mode statement at nonce 0 (the
            # opening statement differs only in its modeWord, 5 instead of 1)
            "initialInputs": [str(w) for w in initial.statement.public_signals()],
        },
    }


def write_portfolio(force: bool) -> None:
    digest = hashlib.sha256(Path(__file__).read_bytes())
    manifest = load_manifest()
    if "portfolio" in manifest.circuits:
        digest.update(json.dumps(manifest.circuit("portfolio").sha256, sort_keys=True).encode())
    key = digest.hexdigest()
    if not force and PORTFOLIO_OUT.is_file():
        try:
            if json.loads(PORTFOLIO_OUT.read_text()).get("key") == key:
                print(f"make_fixtures: {PORTFOLIO_OUT.relative_to(REPO)} is up to date")
                return
        except json.JSONDecodeError:
            pass
    payload = {
        "format": FORMAT,
        "key": key,
        "chainId": CHAIN_ID,
        **portfolio_payload(),
        "proofs": portfolio_proofs(),
    }
    PORTFOLIO_OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(PORTFOLIO_OUT, payload)
    print(f"make_fixtures: portfolio -> {PORTFOLIO_OUT.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    parser.add_argument("--jobs", type=int, default=1, help="proofs made in parallel")
    args = parser.parse_args(argv)

    write_portfolio(args.force)
    key = cache_key()
    if not args.force and OUT.is_file():
        try:
            if json.loads(OUT.read_text()).get("key") == key:
                print(f"make_fixtures: {OUT.relative_to(REPO)} is up to date")
                return 0
        except json.JSONDecodeError:
            pass

    start = time.monotonic()
    todo = jobs()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(prove, todo))
    payload = {
        "format": FORMAT,
        "key": key,
        "chainId": CHAIN_ID,
        "engine": addr(ENGINE),
        "alice": addr(ALICE),
        "bob": addr(BOB),
        "eve": addr(EVE),
        "salts": {
            "alice": str(ALICE_SALT),
            "bob": str(BOB_SALT),
            "eve": str(EVE_SALT),
            "eve2": str(EVE_SALT2),
        },
        "stressBps": list(STRESS_BPS),
        "proofs": {job.name: res for job, res in zip(todo, results, strict=True)},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_json(OUT, payload)
    elapsed = time.monotonic() - start
    print(f"make_fixtures: {len(todo)} proofs -> {OUT.relative_to(REPO)} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
