"""A proof file's readable statement must say what its public signals say.

The proof binds only the signals; the ``statement`` block is for people. A file whose
block was edited (more collateral, another account, a flag) is refused by name, so
`zkmargin verify` never prints ``valid`` beside a false description.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from prover.prove import Prover
from zkmargin.errors import InputError
from zkmargin.model import Account, CollateralParams, MarketData, MarketParams, Position
from zkmargin.proofs import ProofBundle
from zkmargin.units import Balance, Bps, Price, Size


@pytest.fixture(scope="module")
def proof_json(prover: Prover) -> dict[str, Any]:
    data = MarketData(
        markets={"ETH-USD": MarketParams(Bps(500), Bps(1000))},
        collateral={"USDC": CollateralParams(Bps(0), 6)},
        prices={"ETH-USD": Price(2000 * 10**8), "USDC": Price(10**8)},
    )
    account = Account(
        address=0xABC,
        salt=99,
        collateral={"USDC": Balance(2000 * 10**18)},
        positions=(Position("ETH-USD", True, Size(5 * 10**8), Price(2000 * 10**8)),),
    )
    return prover.prove(account, data).to_json()


EDITS = [
    ("balances", lambda st: st.update(balances=["9000000"])),
    ("account", lambda st: st.update(account="0x" + "11" * 20)),
    ("withdrawal", lambda st: st.update(withdrawal=True)),
    ("prices", lambda st: st.update(prices=["1"])),
    ("extra", lambda st: st.update(extra="field")),
    ("nonce", lambda st: st.pop("nonce")),
]


@pytest.mark.parametrize(("field", "edit"), EDITS, ids=[e[0] for e in EDITS])
def test_an_edited_statement_is_refused_by_name(
    proof_json: dict[str, Any], field: str, edit: Any, tmp_path: Path
) -> None:
    data = copy.deepcopy(proof_json)
    edit(data["statement"])
    with pytest.raises(InputError, match=rf"statement\.{field} does not match the public signals"):
        ProofBundle.from_json(data)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", str(path)])
    assert exit_info.value.code != 0


def test_the_untouched_file_verifies(proof_json: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof_json))
    assert ProofBundle.from_json(proof_json).public_signals
    try:
        main(["verify", str(path)])
    except SystemExit as exc:
        assert exc.code in (0, None)
