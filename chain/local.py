"""A whole system on a private anvil in one ``with``: for the demo, tests and benchmarks.

with local_system() as system:
    system.client.deposit(dev_signer(1), "USDC", 2_000 * 10**6)
    ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from chain.anvil import LocalChain
from chain.client import EngineClient, make_decoder
from chain.deploy import DEFAULT_SPEC, Deployment, SystemSpec, deploy_system
from chain.rpc import Chain, TxResult
from chain.signers import dev_signer


@dataclass(frozen=True)
class LocalSystem:
    local: LocalChain
    chain: Chain
    deployment: Deployment
    client: EngineClient
    deploy_results: tuple[TxResult, ...]


def _quiet(_: str) -> None:
    pass


@contextmanager
def local_system(
    spec: SystemSpec = DEFAULT_SPEC, *, log: Callable[[str], None] = _quiet
) -> Iterator[LocalSystem]:
    """Start anvil, deploy ``spec`` from dev account 0, stop anvil on exit."""
    with LocalChain() as local:
        chain = Chain(local.rpc_url, decoder=make_decoder())
        deployment, results = deploy_system(chain, dev_signer(0), spec, log=log)
        chain.decoder = make_decoder(deployment)
        yield LocalSystem(local, chain, deployment, EngineClient(chain, deployment), tuple(results))
