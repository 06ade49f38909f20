"""The proof file: a Groth16 proof, its public signals and the statement they encode.

Written by ``zkmargin prove``, read by ``zkmargin verify`` and the chain client::

    {"zkmargin_proof": 1, "circuit": "cross", "mode": "maintenance",
     "proof": {...snarkjs proof.json...}, "publicSignals": ["…", …],
     "statement": {...decoded, for humans; never trusted by verifiers...},
     "stress": {...shocks and base prices, stress proofs only (zkmargin.stress)...}}

The statement block depends on the circuit's template: a rate-based statement
(``MarginProof``: rates, haircuts, opening and withdrawal flags) or a portfolio statement
(``PortfolioMargin``: the risk commitment and the mode; the rates live in the risk file).
Either way it must say exactly what the signals say.

A proof file holds no private value: only what the chain sees anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from zkmargin.accounts import format_address
from zkmargin.amounts import format_fixed
from zkmargin.encoding import PORTFOLIO_TEMPLATE, Statement, circuit_template
from zkmargin.errors import InputError
from zkmargin.jsonio import read_json_file, write_json
from zkmargin.model import Mode
from zkmargin.portfolio_encoding import PortfolioStatement
from zkmargin.stress import StressInfo, check_stress
from zkmargin.units import BALANCE_DECIMALS, PRICE_DECIMALS

PROOF_FORMAT = 1


@dataclass(frozen=True)
class ProofBundle:
    circuit: str
    mode: Mode
    proof: dict[str, Any]  # snarkjs proof.json
    public_signals: list[int]
    stress: StressInfo | None = None  # a stress proof: the shocks and base prices

    @property
    def portfolio(self) -> bool:
        """A portfolio-margin proof (template ``PortfolioMargin``)."""
        return circuit_template(self.circuit) == PORTFOLIO_TEMPLATE

    @property
    def statement(self) -> Statement | PortfolioStatement:
        if self.portfolio:
            return PortfolioStatement.from_public_signals(self.public_signals)
        return Statement.from_public_signals(self.circuit, self.public_signals)

    def to_json(self) -> dict[str, Any]:
        extra = {} if self.stress is None else {"stress": self.stress.to_json()}
        return {
            "zkmargin_proof": PROOF_FORMAT,
            "circuit": self.circuit,
            "mode": self.mode.value,
            "proof": self.proof,
            "publicSignals": [str(s) for s in self.public_signals],
            "statement": readable_statement(self.statement),
            **extra,
        }

    @classmethod
    def from_json(cls, data: Any, what: str = "proof file") -> ProofBundle:
        version = data.get("zkmargin_proof") if isinstance(data, dict) else None
        if type(version) is not int or version != PROOF_FORMAT:
            raise InputError(f"{what}: not a zkmargin proof file (format {PROOF_FORMAT})")
        for key in ("circuit", "mode", "proof", "publicSignals"):
            if key not in data:
                raise InputError(f"{what}: missing field {key!r}")
        try:
            mode = Mode(data["mode"])
        except ValueError:
            raise InputError(f"{what}: mode: unknown mode {data['mode']!r}") from None
        signals = data["publicSignals"]
        if not isinstance(signals, list) or not all(
            isinstance(s, str)
            and s.isascii()
            and s.isdigit()
            and len(s) <= 78
            and (s == "0" or not s.startswith("0"))
            for s in signals
        ):
            raise InputError(f"{what}: publicSignals: expected a list of decimal strings")
        if not isinstance(data["proof"], dict) or not isinstance(data["circuit"], str):
            raise InputError(f"{what}: proof: expected a snarkjs proof object")
        bundle = cls(
            circuit=data["circuit"],
            mode=mode,
            proof=data["proof"],
            public_signals=[int(s) for s in signals],
        )
        if "statement" in data:
            _check_readable_statement(bundle, data["statement"], what)
        if "stress" in data:
            info = StressInfo.from_json(data["stress"], what)
            if bundle.portfolio:
                raise InputError(f"{what}: stress: stress proofs use the rate-based circuits")
            try:
                statement = bundle.statement
            except (InputError, ValueError) as exc:
                raise InputError(f"{what}: publicSignals: {exc}") from None
            assert isinstance(statement, Statement)  # rate-based, checked above
            check_stress(info, statement, mode.value, what)
            bundle = replace(bundle, stress=info)
        return bundle

    @classmethod
    def load(cls, path: Path) -> ProofBundle:
        return cls.from_json(read_json_file(path, "proof file"), f"proof file {path}")

    def save(self, path: Path) -> None:
        """Write atomically: the file is complete or absent, never partial."""
        write_json(path, self.to_json())


def readable_statement(st: Statement | PortfolioStatement) -> dict[str, Any]:
    """The ``statement`` block of a proof file: the decoded signals, for humans."""
    if isinstance(st, PortfolioStatement):
        return {
            "commitment": str(st.commitment),
            "prices": [format_fixed(p, PRICE_DECIMALS) for p in st.prices],
            "balances": [format_fixed(b, BALANCE_DECIMALS) for b in st.balances],
            "risk_commitment": str(st.risk_commitment),
            "initial": st.mode.initial,
            "withdrawal": st.mode.withdrawal,
            "opening": st.opening,
            "account": format_address(st.account),
            "nonce": st.nonce,
            "engine": format_address(st.engine),
            "chain_id": st.chain_id,
        }
    return {
        "commitment": str(st.commitment),
        "prices": [format_fixed(p, PRICE_DECIMALS) for p in st.prices],
        "balances": [format_fixed(b, BALANCE_DECIMALS) for b in st.balances],
        "rates_bps": list(st.rates),
        "haircuts_bps": list(st.haircuts),
        "opening": st.opening,
        "withdrawal": st.withdrawal,
        "account": format_address(st.account),
        "nonce": st.nonce,
        "engine": format_address(st.engine),
        "chain_id": st.chain_id,
    }


def _check_readable_statement(bundle: ProofBundle, written: Any, what: str) -> None:
    """The human-readable ``statement`` block must say exactly what the signals say.

    A reader trusts the block; the proof binds only the signals. A file whose block was
    edited (a larger balance, another account) is refused, naming the first field that
    differs, so `zkmargin verify` never reports ``valid`` beside a false description.
    """
    try:
        derived = bundle.to_json()["statement"]
    except (InputError, ValueError) as exc:
        raise InputError(f"{what}: publicSignals: {exc}") from None
    if not isinstance(written, dict):
        raise InputError(f"{what}: statement: expected a JSON object")
    st = bundle.statement
    if isinstance(st, PortfolioStatement) and st.mode.value != bundle.mode.value:
        raise InputError(
            f"{what}: mode {bundle.mode.value!r} does not match the public signals "
            f"(modeWord: {st.mode.value}; the readable statement was altered)"
        )
    for key in sorted(set(derived) | set(written)):
        if written.get(key, _MISSING) != derived.get(key, _MISSING):
            raise InputError(
                f"{what}: statement.{key} does not match the public signals "
                f"(the proof binds the signals; the readable statement was altered)"
            )


_MISSING = object()

__all__ = ["ProofBundle"]
