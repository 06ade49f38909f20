"""zkmargin core: the model, units, encodings and file formats every other package shares.

No proving, no verification, no chain here; the packages above import this one, never the
reverse (see README, "Layout")::

    from zkmargin import Mode, evaluate, load_account, load_market_data

    data = load_market_data(Path("examples/markets.json"))
    account = load_account(Path("alice.account.json"), data)
    report = evaluate(account, data, Mode.MAINTENANCE)      # equity, requirement

DEVELOPMENT SOFTWARE: not audited.
"""

from zkmargin.accounts import (
    account_to_json,
    load_account,
    load_market_data,
    new_account,
    parse_account,
    parse_market_data,
    save_account,
)
from zkmargin.artifacts import Manifest, load_manifest
from zkmargin.encoding import Binding, Encoded, Statement, encode, pick_circuit
from zkmargin.errors import (
    ArtifactError,
    InputError,
    InsufficientMargin,
    ProverError,
    SetupError,
    ToolError,
    VerifierError,
    ZkMarginError,
)
from zkmargin.model import (
    Account,
    CollateralParams,
    MarginReport,
    MarketData,
    MarketParams,
    Mode,
    Position,
    evaluate,
)
from zkmargin.proofs import ProofBundle

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
    "save_account",
]
