"""Portfolio margin from the command line: the account file (perpetuals and options) and
the risk file of ``docs/portfolio.md``, loaded and checked the same way for ``zkmargin
margin``, ``zkmargin prove --circuit portfolio`` and ``zkmargin prove-batch --circuit
portfolio``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from zkmargin.encoding import Binding
from zkmargin.errors import InputError
from zkmargin.portfolio import (
    PortfolioAccount,
    PortfolioMode,
    check_opening,
    load_portfolio_account,
)
from zkmargin.portfolio_encoding import check_provable
from zkmargin.proofs import ProofBundle
from zkmargin.riskfile import DEFAULT_SHAPE, RiskFile, check_fits, load_risk_file, parse_time


def load_portfolio_inputs(
    account_file: Path, risk_file: Path, now_text: str | None
) -> tuple[PortfolioAccount, RiskFile, int]:
    """The account and the risk file, refused (one line naming the file and the field)
    where the portfolio circuit would refuse them besides the claim: a risk file larger
    than the circuit's slots, unlisted names, out-of-range values, too many positions, a
    series expired at ``now`` (``--now``, default the clock)."""
    now = clock(now_text)
    risk = load_provable_risk(risk_file)
    account = load_portfolio_account(account_file, risk)
    try:
        check_provable(account, risk, DEFAULT_SHAPE, now)
    except InputError as exc:
        raise InputError(f"account file {account_file}: {exc}") from None
    return account, risk, now


def clock(now_text: str | None) -> int:
    """``--now`` in unix seconds (one line if malformed), default the clock."""
    return int(time.time()) if now_text is None else parse_time(now_text, "--now")


def load_provable_risk(risk_file: Path) -> RiskFile:
    """The risk file, refused (one line) when it is larger than the circuit's slots."""
    risk = load_risk_file(risk_file)
    check_fits(risk, DEFAULT_SHAPE, f"risk file {risk_file}")
    return risk


def portfolio_mode(mode: str, opening: bool) -> PortfolioMode:
    """``--mode`` with ``--opening``: an opening proof is initial (the default maintenance
    mode becomes initial; a withdrawal is refused, one line)."""
    if not opening:
        return PortfolioMode(mode)
    if PortfolioMode(mode) is PortfolioMode.WITHDRAWAL:
        raise InputError(
            "--opening: a proof opens an account or withdraws from it, not both "
            "(an opening proof is initial: drop --mode withdrawal)"
        )
    return PortfolioMode.INITIAL


@dataclass(frozen=True)
class PortfolioInputs:
    """What ``zkmargin prove --circuit portfolio`` proves: checked, ready to prove."""

    account: PortfolioAccount
    risk: RiskFile
    now: int  # unix seconds: the time expiries were checked against
    mode: PortfolioMode  # an opening proof's is initial
    opening: bool


def checked_portfolio_inputs(
    account_file: Path, risk_file: Path, *, mode: str, now_text: str | None, opening: bool
) -> PortfolioInputs:
    """The account and risk file of ``zkmargin prove --circuit portfolio``, refused (one
    line naming the file and the field) before any proving, wherever it is then proved.
    ``opening``: an opening proof, which is initial (the default maintenance mode becomes
    initial; a withdrawal is refused) with every entry at its mark."""
    proof_mode = portfolio_mode(mode, opening)
    account, risk, now = load_portfolio_inputs(account_file, risk_file, now_text)
    if opening:
        try:
            check_opening(account, risk, proof_mode)
        except InputError as exc:
            raise InputError(f"account file {account_file}: {exc}") from None
    return PortfolioInputs(account, risk, now, proof_mode, opening)


def prove_portfolio_here(
    inputs: PortfolioInputs, *, binding: Binding, backend: str | None
) -> ProofBundle:
    """Prove ``inputs`` in this process (verified before returned)."""
    from prover.prove import Prover  # `zkmargin margin` needs only the loaders above

    prover = Prover(backend=backend) if backend else Prover()
    with prover:
        return prover.prove_portfolio(
            inputs.account,
            inputs.risk,
            mode=inputs.mode,
            binding=binding,
            now=inputs.now,
            opening=inputs.opening,
        )
