"""``--stress`` for ``zkmargin prove``: shocked prices in, a stress block on the proof out.

The logic lives in :mod:`zkmargin.stress`; this module only joins it to the command.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import click

from zkmargin.encoding import Binding, encode
from zkmargin.errors import InputError
from zkmargin.model import Account, MarketData, Mode
from zkmargin.proofs import ProofBundle
from zkmargin.stress import StressInfo, StressSpec, apply_stress, parse_stress, stressed_market_json

stress_option = click.option(
    "--stress",
    "stress_spec",
    default=None,
    metavar="MARKET=PCT,...",
    help="Stress proof: maintenance margin at the oracle prices moved by these shocks "
    '(e.g. "ETH-USD=-30%,BTC-USD=-25%"; 1 bp steps, > -100%); collateral priced by a '
    "market's feed moves with it.",
)


@dataclass(frozen=True)
class Stressed:
    """The shocked market data to prove at, and what to record in the proof file."""

    spec: StressSpec
    base: MarketData
    data: MarketData
    market_json: dict[str, Any]


def prepare_stress(
    spec_text: str, mode: str, opening: bool, market_raw: dict[str, Any], data: MarketData
) -> Stressed:
    """Refuse a bad spec or a non-maintenance stress proof; shock the prices."""
    if mode != Mode.MAINTENANCE.value or opening:
        raise InputError(
            "--stress: a stress proof is a maintenance proof (drop --mode and --opening)"
        )
    spec = parse_stress(spec_text, data)
    stressed = apply_stress(spec, data)
    return Stressed(spec, data, stressed, stressed_market_json(market_raw, stressed))


def attach_stress(
    bundle: ProofBundle, stressed: Stressed, account: Account, binding: Binding
) -> ProofBundle:
    """The bundle with its stress block (shocks, base price and feed of every slot)."""
    names = encode(
        account,
        stressed.data,
        circuit=bundle.circuit,
        mode=Mode.MAINTENANCE,
        binding=binding,
        precheck=False,
    ).statement
    info = StressInfo.of(stressed.spec, stressed.base, names)
    if info.shocked() != list(bundle.statement.prices):
        raise InputError("--stress: the proof's prices are not the shocked prices")
    return replace(bundle, stress=info)
