"""The report's findings, derived from the JSON report alone (pure: data in, text out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from benchmarks.stress.money import fixed, minutes, usd_cents
from benchmarks.stress.timing import STEP
from chain.deploy import SystemSpec

STALE = "OracleAdapter__StalePrice"


def _lag_liquidations(r: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Liquidations of accounts below MMR at the true price but not at the oracle's."""
    return [x for x in r["liquidation_records"] if not x["solvent_true"] and x["solvent_oracle"]]


def _two(micro: int | None) -> str:
    return fixed(micro or 0, 4, 2)


def findings(report: Mapping[str, Any], spec: SystemSpec) -> list[str]:
    out = []
    scenarios = report["scenarios"]
    wrongful = sum(r["wrongful_liquidations"] for r in scenarios)
    total = sum(r["liquidations"] for r in scenarios)
    out.append(
        f"Wrongful liquidations (solvent at the true price, owner kept trying to prove): "
        f"{wrongful} over {total} liquidations in all scenarios"
        + (
            " ("
            + "; ".join(
                f"{r['name']}: {r['wrongful_liquidations']}, refusals "
                + ", ".join(f"{v} {k}" for k, v in r["wrongful_by_refusal"].items())
                for r in scenarios
                if r["wrongful_liquidations"]
            )
            + ")."
            if wrongful
            else "."
        )
    )
    for name, check in report.get("checks", {}).items():
        out.append(
            f"Check: {name}: "
            + ("holds." if check["holds"] else "BROKEN in " + ", ".join(check["broken_in"]) + ".")
        )
    inside = [r["name"] for r in scenarios if r["within_proven_set"]]
    out.append(
        "Scenarios whose whole path (plus grace) stays inside every opening proof's move set: "
        + (", ".join(inside) if inside else "none")
        + "."
    )
    classes: Counter[str] = Counter()
    for r in scenarios:
        classes.update(r["liquidations_by_class"])
    solvent = {k: v for k, v in classes.items() if k != "insolvent"}
    if solvent:
        seized = sum(usd_cents(r["seized_excess_usd"]) for r in scenarios)
        out.append(
            "Solvent but liquidated: "
            + ", ".join(f"{v} {k}" for k, v in sorted(solvent.items()))
            + ". Liquidation escrows every balance; the owner reclaims its equity above the "
            "penalty (settled as a close, close fee paid); equity seized above losses net "
            f"of reclaims totals {fixed(seized, 2, 0, group=True)} USD over all "
            "scenarios (keeper rewards and close fees included)."
        )
    for r in scenarios:
        inl, unl = r["insolvent_not_liquidatable"], r["underwater_not_liquidatable"]
        if r["flags"] == 0 and inl["max_s"] > spec.grace_period + STEP:
            out.append(
                f"{r['name']}: no price left any proven move set far enough to flag, so "
                f"{inl['accounts']} accounts stayed below MMR for up to {minutes(inl['max_s'])} "
                "min"
                + (
                    f", {unl['accounts']} of them underwater for up to {minutes(unl['max_s'])} min,"
                    if unl["accounts"]
                    else ""
                )
                + " without being liquidatable."
            )
    bleed = next((r for r in scenarios if r["name"] == "bleed"), None)
    if bleed and bleed["insolvent_not_liquidatable"]["max_s"]:
        inl = bleed["insolvent_not_liquidatable"]
        out.append(
            f"bleed: {inl['accounts']} accounts went below MMR and stayed unliquidatable "
            "(not yet flagged, or flagged and within the grace period) for up to "
            f"{minutes(inl['max_s'])} min (median {minutes(inl['median_s'])} min)."
        )
    rows = {(r["set"], r["move"]): r for r in report["thresholds"]["rows"]}
    mmr = rows.get(("random set, each scaled to exactly MMR", "fall"))
    opened = rows.get(("random set, as opened", "fall"))
    if mmr and opened:
        canon = ", ".join(
            f"{r['set'].split(': ')[1]} {_two(r['no_shortfall_up_to_micro'])}% ({r['move']})"
            for r in report["thresholds"]["rows"]
            if r["set"].startswith("one account") and r["no_shortfall_up_to_micro"] is not None
        )
        out.append(
            "Largest one-block fall absorbed with no pool shortfall: "
            f"{_two(opened['no_shortfall_up_to_micro'])}% for the random set as opened, "
            f"{_two(mmr['no_shortfall_up_to_micro'])}% if every account sits exactly at MMR "
            f"(single positions at MMR: {canon}); about MMR x (1 - penalty) for stablecoin "
            f"collateral. The engine flags an account as soon as a price leaves its proven "
            "move set shrunk by the penalty (ETH-USD MMR x (1 - penalty), BTC-USD likewise), "
            "so a move past these thresholds is flagged and, unanswered, liquidated after "
            "the grace period."
        )
    unrelated = sum(r["flags_unrelated"] for r in scenarios)
    if unrelated:
        out.append(
            f"{unrelated} flags hit accounts with no position and no balance in any moved "
            "price: every listed market slot of a cross account is public and compared, so "
            "it must re-prove on any listed market's shock (the cost of hiding which markets "
            "it trades)."
        )
    for r in scenarios:
        if not r["name"].startswith("stale"):
            continue
        stale = r["liquidations_by_class"].get("solvent_oracle_stale", 0)
        lag = _lag_liquidations(r)
        out.append(
            f"{r['name']}: {r['proofs_refused'].get(STALE, 0)} proof "
            f"attempts, {r['flags_refused'].get(STALE, 0)} flags and "
            f"{r['closes_refused'].get(STALE, 0)} closes refused for a "
            f"stale price; solvent, diligent accounts liquidated while unable to prove: {stale}"
            + (
                "; liquidated accounts below MMR at the true price but not at the oracle's "
                f"last answer (they had proved against the lagging feed): {len(lag)}"
                if lag
                else ""
            )
            + "."
        )
    for r in scenarios:
        if r["liquidations_refused"] or r["stale_pokes"]:
            out.append(
                f"{r['name']}: {r['stale_pokes']} pokeStale by traders refused for a stale "
                "feed (their lapse and grace clocks stop for the outage); liquidations "
                "refused while liquidatable: "
                + (", ".join(f"{v} {k}" for k, v in r["liquidations_refused"].items()) or "none")
                + "."
            )
    return out
