"""The report's findings, derived from the JSON report alone (pure: data in, text out)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from benchmarks.stress.money import bps_percent, fixed, minutes, usd_cents
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
    threshold = bps_percent(spec.shock_threshold_bps)
    wrongful = sum(r["wrongful_liquidations"] for r in scenarios)
    total = sum(r["liquidations"] for r in scenarios)
    out.append(f"Wrongful liquidations: {wrongful} over {total} liquidations in all scenarios.")
    classes: Counter[str] = Counter()
    for r in scenarios:
        classes.update(r["liquidations_by_class"])
    solvent = {k: v for k, v in classes.items() if k != "insolvent"}
    if solvent:
        seized = sum(usd_cents(r["seized_excess_usd"]) for r in scenarios)
        out.append(
            "Solvent but liquidated: "
            + ", ".join(f"{v} {k}" for k, v in sorted(solvent.items()))
            + ". Liquidation seizes every balance, so a solvent (or barely insolvent) account "
            "loses its whole collateral, not just its deficit; equity seized above losses "
            f"totals {fixed(seized, 2, 0, group=True)} USD over all "
            "scenarios (keeper rewards included)."
        )
    for r in scenarios:
        inl, unl = r["insolvent_not_liquidatable"], r["underwater_not_liquidatable"]
        if r["flags"] == 0 and inl["max_s"] > spec.grace_period + STEP:
            out.append(
                f"{r['name']}: no flag was possible (a move of at most {threshold}% is no "
                f"shock: the engine needs strictly more), so {inl['accounts']} accounts stayed "
                f"below MMR for up to {minutes(inl['max_s'])} min"
                + (
                    f", {unl['accounts']} of them underwater for up to {minutes(unl['max_s'])} min,"
                    if unl["accounts"]
                    else ""
                )
                + " without being liquidatable, until their proofs lapsed."
            )
    bleed = next((r for r in scenarios if r["name"] == "bleed"), None)
    if bleed and bleed["insolvent_not_liquidatable"]["max_s"]:
        inl = bleed["insolvent_not_liquidatable"]
        out.append(
            f"bleed: {inl['accounts']} accounts went below MMR before the price had moved "
            f"{threshold}% from their last proof and stayed unliquidatable for up to "
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
            f"collateral. The shock threshold is {threshold}%, above every one of these: a "
            "move between them and the threshold can create bad debt that no keeper can "
            "flag; it is realised only when the proof lapses "
            f"(up to {spec.proof_lifetime // 60} min later)."
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
    if any(r["liquidations_by_class"].get("solvent_oracle_stale") for r in scenarios):
        out.append(
            "`liquidate()` reads no price, while `proveMargin`, `flagShock` and `close` all "
            "read every slot's price: once a feed is stale, proof lapses and old flags keep "
            "maturing into liquidations that no trader can prevent. An outage longer than "
            "the time left on the proofs (at most the proof lifetime) liquidates solvent, "
            "diligent accounts."
        )
    return out
