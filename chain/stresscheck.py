"""Check a stress proof on-chain: ``StressCheck.stressInputs`` and ``verifyStress``.

The periphery contract StressCheck (beside the engine; views only) builds the stress
statement from the engine's own maintenance statement (stored commitment, balances, MMRs,
haircuts, the account's current nonce, current oracle prices moved by the shocks); the
proof file supplies only the shocks (one per listed market id) and the proof. Before the
pairing check, the file's public signals are compared with the engine's inputs so that a
refusal names the field that differs (a price moved, the nonce advanced).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chain.artifacts import load_artifact
from chain.calldata import proof_calldata
from chain.rpc import Contract
from zkmargin.accounts import format_address
from zkmargin.errors import InputError
from zkmargin.proofs import ProofBundle
from zkmargin.stress import engine_shocks

if TYPE_CHECKING:
    from chain.client import EngineClient


def stress_check(client: EngineClient) -> Contract:
    """The deployment's StressCheck contract."""
    address = client.deployment.contracts.get("StressCheck")
    if address is None:
        raise InputError("deployment: no StressCheck contract (deployed before stress proofs)")
    return Contract(client.chain, address, load_artifact("StressCheck").abi, "StressCheck")


@dataclass(frozen=True)
class StressVerdict:
    valid: bool
    reason: str
    shocks_bps: tuple[int, ...]  # the engine's argument: one per listed market id


def check_stress(client: EngineClient, bundle: ProofBundle) -> StressVerdict:
    """Whether the engine accepts ``bundle`` as a stress proof of its account, now."""
    from chain.client import _difference  # the one unpacker of a public-input difference

    info = bundle.stress
    if info is None:
        raise InputError(
            "proof file: not a stress proof (no stress block); `zkmargin verify` checks others"
        )
    st = bundle.statement
    shocks = tuple(engine_shocks(info, [m.name for m in client.deployment.markets]))
    who = format_address(st.account)
    engine = int(client.deployment.engine, 16)
    if (st.engine, st.chain_id) != (engine, client.chain.chain_id):
        return StressVerdict(
            False,
            f"bound to engine {format_address(st.engine)} on chain {st.chain_id}, not "
            f"{client.deployment.engine} on chain {client.chain.chain_id}",
            shocks,
        )
    inputs = [int(v) for v in stress_check(client).call("stressInputs", who, list(shocks))]
    if inputs != list(bundle.public_signals):
        names = [s.name for s in info.slots]
        detail = (
            _difference(bundle.circuit, bundle.public_signals, inputs, names)
            if len(inputs) == len(bundle.public_signals)
            else None
        )
        return StressVerdict(
            False,
            "the engine's stress statement differs: "
            + (
                detail
                or f"{len(inputs)} inputs at the engine, {len(bundle.public_signals)} in the proof"
            ),
            shocks,
        )
    ok = bool(
        stress_check(client).call("verifyStress", who, list(shocks), proof_calldata(bundle.proof))
    )
    reason = (
        f"the engine verifies it: {who} meets maintenance margin at the shocked prices "
        f"(nonce {st.nonce})"
        if ok
        else "the engine's verifier rejects the proof (pairing check failed)"
    )
    return StressVerdict(ok, reason, shocks)


__all__ = ["StressVerdict", "check_stress"]
