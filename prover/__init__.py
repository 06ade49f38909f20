"""zkmargin prover: prove, without revealing positions, that an account meets its margin.

Library use (see README, "Library")::

    from prover import Prover, load_account, load_market_data, Mode, Binding

    data = load_market_data(Path("markets.json"))
    account = load_account(Path("alice.account.json"), data)
    report = evaluate(account, data, Mode.MAINTENANCE)      # equity, requirement
    bundle = Prover().prove(account, data, binding=Binding(chain_id=1, engine=..., nonce=0))
    bundle.save(Path("proof.json"))

DEVELOPMENT SOFTWARE: not audited.
"""

from prover.accounts import (
    account_to_json,
    load_account,
    load_market_data,
    new_account,
    parse_account,
    parse_market_data,
    write_private_json,
)
from prover.artifacts import Manifest, load_manifest
from prover.encoding import Binding, Encoded, Statement, encode, pick_circuit
from prover.errors import (
    ArtifactError,
    InputError,
    InsufficientMargin,
    ProverError,
    SetupError,
    ToolError,
    VerifierError,
    ZkMarginError,
)
from prover.model import (
    Account,
    CollateralParams,
    MarginReport,
    MarketData,
    MarketParams,
    Mode,
    Position,
    evaluate,
)
from prover.proofs import ProofBundle
from prover.prove import Prover
from prover.setup import run_setup

__all__ = [
    "Account",
    "ArtifactError",
    "Binding",
    "CollateralParams",
    "Encoded",
    "InputError",
    "InsufficientMargin",
    "Manifest",
    "MarginReport",
    "MarketData",
    "MarketParams",
    "Mode",
    "Position",
    "ProofBundle",
    "Prover",
    "ProverError",
    "SetupError",
    "Statement",
    "ToolError",
    "VerifierError",
    "ZkMarginError",
    "account_to_json",
    "encode",
    "evaluate",
    "load_account",
    "load_manifest",
    "load_market_data",
    "new_account",
    "parse_account",
    "parse_market_data",
    "pick_circuit",
    "run_setup",
    "write_private_json",
]
