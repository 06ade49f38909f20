"""Contract artifacts: forge's build output and circomlibjs' Poseidon bytecode.

``forge build`` (``bash contracts/tools/forge-test.sh``) writes
``contracts/out/<File>.sol/<Contract>.json`` with ``abi`` and ``bytecode.object``.
``zkmargin setup`` writes ``contracts/src/generated/Poseidon{2,3,4,5}.json`` (bytecode + ABI)
and the Groth16 verifiers' Solidity, which forge then compiles.

Each artifact's metadata lists the keccak256 of every source it was compiled from;
:func:`ensure_built` compares them with the files on disk and runs ``forge build``
(offline, cached) when an artifact is missing or stale, e.g. after ``zkmargin setup``
made new keys. Deploying a stale verifier would reject every proof.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from prover.solidity import (
    POSEIDON_WIDTHS,
    poseidon_json_name,
    verifier_contract_name,
    verifier_name,
)
from zkmargin.errors import ArtifactError, ToolError
from zkmargin.paths import project_root
from zkmargin.toolrun import run_tool

FORGE_TIMEOUT = 900.0

# The circuits that have an on-chain verifier, in the order the engine's constructor
# takes them.
VERIFIED_CIRCUITS = ("isolated", "cross")
# the portfolio engine's circuit (its verifier is deployed beside the PortfolioEngine)
PORTFOLIO_CIRCUIT = "portfolio"


# name used in code -> (source file under contracts/src, contract name)
CONTRACTS: dict[str, tuple[str, str]] = {
    "MarginEngine": ("MarginEngine.sol", "MarginEngine"),
    "OracleAdapter": ("OracleAdapter.sol", "OracleAdapter"),
    "MarginPool": ("MarginPool.sol", "MarginPool"),
    "Settlement": ("Settlement.sol", "Settlement"),
    "StressCheck": ("StressCheck.sol", "StressCheck"),
    **{
        verifier_name(c): (f"{verifier_name(c)}.sol", verifier_contract_name(c))
        for c in VERIFIED_CIRCUITS
    },
    # portfolio margin (chain/deploy.py: deploy_portfolio)
    "PortfolioEngine": ("PortfolioEngine.sol", "PortfolioEngine"),
    "PortfolioRisk": ("PortfolioRisk.sol", "PortfolioRisk"),
    "PortfolioSettlement": ("PortfolioSettlement.sol", "PortfolioSettlement"),
    verifier_name(PORTFOLIO_CIRCUIT): (
        f"{verifier_name(PORTFOLIO_CIRCUIT)}.sol",
        verifier_contract_name(PORTFOLIO_CIRCUIT),
    ),
    "MockAggregator": ("MockAggregator.sol", "MockAggregator"),
    "MockERC20": ("MockERC20.sol", "MockERC20"),
    # risk governance (chain/governance.py)
    "RiskGovernor": ("RiskGovernor.sol", "RiskGovernor"),
    "VolatilityMonitor": ("VolatilityMonitor.sol", "VolatilityMonitor"),
    "TimelockController": ("TimelockController.sol", "TimelockController"),
}


def contracts_dir() -> Path:
    return project_root() / "contracts"


def out_dir() -> Path:
    return contracts_dir() / "out"


def poseidon_json(inputs: int = 4) -> Path:
    return contracts_dir() / "src" / "generated" / poseidon_json_name(inputs)


# artifact name -> width: "Poseidon2" .. "Poseidon5"
POSEIDON_ARTIFACTS = {f"Poseidon{n}": n for n in POSEIDON_WIDTHS}


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes  # library placeholders zeroed: deploy :meth:`linked` bytecode
    sources: dict[str, str]  # path relative to contracts/ -> keccak256 hex at compile time
    # library name -> byte offsets of its 20-byte address in the creation code
    link_references: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def linked(self, libraries: dict[str, str]) -> bytes:
        """The creation code with each linked library's address written in."""
        missing = set(self.link_references) - set(libraries)
        if missing:
            raise ArtifactError(f"{self.name}: library {', '.join(sorted(missing))} not given")
        code = bytearray(self.bytecode)
        for name, offsets in self.link_references.items():
            address = bytes.fromhex(libraries[name].removeprefix("0x"))
            for at in offsets:
                code[at : at + 20] = address
        return bytes(code)

    def stale_sources(self) -> list[str]:
        """Sources whose content changed since this artifact was compiled."""
        stale = []
        for rel, digest in self.sources.items():
            path = contracts_dir() / rel
            try:
                current = "0x" + keccak(path.read_bytes()).hex()
            except OSError:
                stale.append(rel)
                continue
            if current != digest:
                stale.append(rel)
        return stale


def _artifact_path(name: str) -> Path:
    file, contract = CONTRACTS[name]
    return out_dir() / file / f"{contract}.json"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ArtifactError(
            f"{path}: missing; run `zkmargin setup` and `bash contracts/tools/forge-test.sh`"
        ) from None
    except (OSError, ValueError):
        raise ArtifactError(f"{path}: unreadable; rebuild with forge") from None


def load_artifact(name: str) -> ContractArtifact:
    """A forge artifact by its name in :data:`CONTRACTS` (no staleness check)."""
    if name in POSEIDON_ARTIFACTS:
        return poseidon_artifact(POSEIDON_ARTIFACTS[name])
    if name not in CONTRACTS:
        raise ArtifactError(f"unknown contract {name!r}")
    data = _read_json(_artifact_path(name))
    code = data.get("bytecode", {}).get("object", "")
    if not isinstance(code, str) or not code.removeprefix("0x"):
        raise ArtifactError(f"{_artifact_path(name)}: no bytecode (abstract contract?)")
    meta = data.get("metadata") or {}
    sources = {
        str(path): str(info.get("keccak256", "")) for path, info in meta.get("sources", {}).items()
    }
    refs: dict[str, tuple[int, ...]] = {}
    for libs in data.get("bytecode", {}).get("linkReferences", {}).values():
        for lib, spots in libs.items():
            refs[str(lib)] = tuple(int(spot["start"]) for spot in spots)
    # unlinked code holds `__$<hash>$__` placeholders (40 characters): zero them
    text = re.sub(r"__\$[0-9a-fA-F]{34}\$__", "0" * 40, code.removeprefix("0x"))
    return ContractArtifact(name, data["abi"], bytes.fromhex(text), sources, refs)


def poseidon_artifact(inputs: int = 4) -> ContractArtifact:
    """circomlibjs' Poseidon contract for ``inputs`` inputs (made by ``zkmargin setup``)."""
    if inputs not in POSEIDON_WIDTHS:
        raise ArtifactError(f"no Poseidon contract for {inputs} inputs (have {POSEIDON_WIDTHS})")
    data = _read_json(poseidon_json(inputs))
    code = str(data["bytecode"]).removeprefix("0x")
    # circomlibjs' ABI has two `poseidon` overloads (bytes32[n] and uint256[n]); keep uint256.
    abi = [
        entry
        for entry in data["abi"]
        if not any(i.get("type") == f"bytes32[{inputs}]" for i in entry.get("inputs", []))
    ]
    return ContractArtifact(f"Poseidon{inputs}", abi, bytes.fromhex(code), {})


def missing_or_stale() -> list[str]:
    """Names of the artifacts that are missing or older than their sources."""
    bad = []
    for name in CONTRACTS:
        path = _artifact_path(name)
        if not path.exists():
            bad.append(name)
            continue
        if load_artifact(name).stale_sources():
            bad.append(name)
    return bad


def _quiet(_: str) -> None:
    pass


def ensure_built(log: Callable[[str], None] = _quiet) -> None:
    """Run ``forge build`` (offline) if an artifact is missing or stale; check the result."""
    for inputs in POSEIDON_WIDTHS:
        if not poseidon_json(inputs).exists():
            raise ArtifactError(f"{poseidon_json(inputs)}: missing; run `zkmargin setup` first")
    bad = missing_or_stale()
    if not bad:
        return
    log(f"forge build (stale or missing: {', '.join(bad)})")
    run_tool("forge", ["build", "--offline"], cwd=contracts_dir(), timeout=FORGE_TIMEOUT)
    load_abis.cache_clear()
    still = missing_or_stale()
    if still:
        raise ToolError(f"forge build left stale artifacts: {', '.join(still)}")


def _all_artifact_files() -> Iterator[Path]:
    if out_dir().is_dir():
        yield from sorted(out_dir().glob("*.sol/*.json"))


@cache
def load_abis() -> tuple[tuple[dict[str, Any], ...], ...]:
    """Every ABI in ``contracts/out`` (for decoding reverts of any contract on the path)."""
    abis = []
    for path in _all_artifact_files():
        try:
            abi = json.loads(path.read_text()).get("abi", [])
        except (OSError, ValueError):
            continue
        abis.append(tuple(abi))
    return tuple(abis)
