"""The cost-to-stay-safe benchmark's pieces: the oracle's publishing rule, the move-set
distance against the engine's own rule, and the guardian's week on hand-made paths."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from benchmarks.staysafe import (
    BLOCK_S,
    REGIMES,
    WEEK_S,
    account_kinds,
    cholesky_bps,
    fraction_of_edge,
    oracle_answers,
    run_week,
)
from zkmargin.units import BPS_ONE

CALM = REGIMES[0]
STEPS = WEEK_S // BLOCK_S


def _kind(name: str, haircut: int = 50):  # type: ignore[no-untyped-def]
    return next(k for k in account_kinds(haircut) if k.name == name)


def _flat() -> np.ndarray:
    out = np.empty((STEPS + 1, 3), dtype=np.int64)
    out[:, 0], out[:, 1], out[:, 2] = 2_000 * 10**8, 60_000 * 10**8, 10**8
    return out


def test_oracle_publishes_on_deviation_or_heartbeat() -> None:
    true = np.ones((STEPS + 1, 3))
    true[:, 0] = 2_000.0
    true[:, 1] = 60_000.0
    true[10:, 0] = 2_009.9  # 0.495%: under ETH's 0.5% threshold
    true[20:, 0] = 2_010.0  # 0.5%: published
    true[:, 2] = 1.0
    true[5:, 2] = 0.9999  # 1 bp: USDC waits for its 24 h heartbeat
    o = oracle_answers(true)
    assert o[19, 0] == 2_000 * 10**8 and o[20, 0] == 2_010 * 10**8
    day = 86_400 // BLOCK_S
    assert o[day - 1, 2] == 10**8 and o[day, 2] == 9_999 * 10**4
    hour = 3_600 // BLOCK_S
    assert o[hour, 1] == 60_000 * 10**8  # heartbeat republishes the same price


def test_fraction_of_edge_is_one_on_the_engines_edge() -> None:
    kind = _kind("isolated ETH on USDC")
    p0 = 2_000 * 10**8
    market = dataclasses.replace(kind.slots[0], proven=p0)
    edge = p0 + market.limit * p0 // (BPS_ONE * BPS_ONE)  # exactly on the shrunk edge
    proven = [p0, 10**8]
    assert not market.outside(edge) and market.outside(edge + 1)
    assert fraction_of_edge(kind, proven, [edge, 10**8], cholesky_bps()) == pytest.approx(1.0)
    assert fraction_of_edge(kind, proven, [edge + 10**4, 10**8], cholesky_bps()) > 1.0


def test_portfolio_edge_is_the_ellipsoid() -> None:
    kind = _kind("portfolio ETH/BTC hedge")
    lower = cholesky_bps()
    radius = kind.slots[0].limit / (BPS_ONE * BPS_ONE)
    # along ETH alone, u = (Δ/L00, -L10·Δ/(L00·L11)): the edge is where ‖u‖ = radius
    unit = np.linalg.norm(np.linalg.solve(lower, np.array([1.0, 0.0])))
    move = radius / unit
    proven = [2_000 * 10**8, 60_000 * 10**8, 10**8]
    inside = [round(2_000 * 10**8 * (1 + 0.99 * move)), 60_000 * 10**8, 10**8]
    outside = [round(2_000 * 10**8 * (1 + 1.01 * move)), 60_000 * 10**8, 10**8]
    assert (
        fraction_of_edge(kind, proven, inside, lower)
        < 1.0
        < fraction_of_edge(kind, proven, outside, lower)
    )


def test_a_flat_week_needs_only_the_lapse_proofs() -> None:
    kind = _kind("cross ETH+BTC")
    proofs, edge, lapse, flags = run_week(kind, _flat(), CALM, cholesky_bps(), 0.005)
    # lifetime 3 days, re-proved 600 s early: at ~3 days and ~6 days
    assert (proofs, edge, lapse, flags) == (2, 0, 2, 0)


def test_a_step_over_the_edge_is_a_flag_then_a_proof() -> None:
    kind = _kind("isolated ETH on USDC")
    o = _flat()
    o[100:, 0] = 2_200 * 10**8  # +10% in one oracle update: nobody can be ahead of it
    proofs, edge, _lapse, flags = run_week(kind, o, CALM, cholesky_bps(), 0.005)
    assert flags == 1 and edge == 0 and proofs == 3  # the re-proof after the flag + 2 lapses


def test_a_zero_haircut_stablecoin_flags_on_a_one_unit_wobble() -> None:
    o = _flat()
    o[200:, 2] = 10**8 - 1  # USDC answers 0.99999999
    zero = run_week(_kind("isolated ETH on USDC", haircut=0), o, CALM, cholesky_bps(), 0.005)
    wide = run_week(_kind("isolated ETH on USDC", haircut=50), o, CALM, cholesky_bps(), 0.005)
    assert zero[3] == 1 and wide[3] == 0
