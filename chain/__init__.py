"""The on-chain side of zkmargin: a local anvil, deployment, and the engine client.

    from chain import Chain, Deployment, EngineClient, LocalChain, deploy_system
    from chain.signers import dev_signer

    with LocalChain() as local:                              # anvil on a free port
        chain = Chain(local.rpc_url, decoder=make_decoder())
        deployment, _ = deploy_system(chain, dev_signer(0))
        client = EngineClient(chain, deployment)
        client.deposit(dev_signer(1), "USDC", 2_000 * 10**6)
        plan = client.plan_open(account)                     # entries at the oracle price
        ...                                                  # write plan.account to its file
        client.open(dev_signer(1), plan, Prover())           # opening proof, checked inputs

Contracts are web3.py contract objects built from forge's ABIs (:class:`Contract` wraps
one). Every failure is a :class:`ChainError` (a ``ZkMarginError``) with one line of text;
reverts are decoded from the ABIs of all our contracts (:class:`RevertError`).
"""

from chain.anvil import LocalChain, start_persistent, stop_persistent
from chain.calldata import ProofCalldata, proof_calldata
from chain.client import (
    AccountState,
    AccountStatus,
    EngineClient,
    Kind,
    OpenPlan,
    ProofTx,
    check_public_inputs,
    make_decoder,
)
from chain.deploy import DEFAULT_SPEC, Deployment, SystemSpec, deploy_system
from chain.errors import ChainError, PublicInputsMismatch, RevertDecoder, RevertError
from chain.pool import LpPosition, Pools, PoolState
from chain.rpc import Chain, Contract, TxResult
from chain.signers import Signer, dev_signer, dev_signers, resolve_signer

__all__ = [
    "DEFAULT_SPEC",
    "AccountState",
    "AccountStatus",
    "Chain",
    "ChainError",
    "Contract",
    "Deployment",
    "EngineClient",
    "Kind",
    "LocalChain",
    "LpPosition",
    "OpenPlan",
    "PoolState",
    "Pools",
    "ProofCalldata",
    "ProofTx",
    "PublicInputsMismatch",
    "RevertDecoder",
    "RevertError",
    "Signer",
    "SystemSpec",
    "TxResult",
    "check_public_inputs",
    "deploy_system",
    "dev_signer",
    "dev_signers",
    "make_decoder",
    "proof_calldata",
    "resolve_signer",
    "start_persistent",
    "stop_persistent",
]
