"""zkmargin prover: witnesses, trusted setup and Groth16 proofs of margin statements.

Library use (see README, "Library")::

    from zkmargin import Binding, Mode, load_account, load_market_data
    from prover import Prover

    data = load_market_data(Path("examples/markets.json"))
    account = load_account(Path("alice.account.json"), data)
    bundle = Prover().prove(account, data, binding=Binding(chain_id=1, engine=..., nonce=0))
    bundle.save(Path("proof.json"))

DEVELOPMENT SOFTWARE: not audited.
"""

from prover.prove import Prover
from prover.setup import run_setup

__all__ = ["Prover", "run_setup"]
