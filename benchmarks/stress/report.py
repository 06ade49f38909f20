"""The Markdown report, rendered from the JSON report alone (data in, text out).

Nothing here touches a chain or a prover, so a canned report renders in a unit test.
Money arrives as USD decimal strings and moves as integer millionths; both are formatted
with integer arithmetic (:mod:`benchmarks.stress.money`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.stress.money import bps_percent, fixed, minutes, round_div, usd_grouped

HEADLINE = [
    "scenario",
    "within proven set",
    "accounts",
    "proofs accepted",
    "proofs refused (why)",
    "flags (refused attempts)",
    "liquidations",
    "solvent liquidated (why)",
    "wrongful",
    "closes",
    "bad debt USD",
    "pool shortfall USD",
    "max below-MMR not liquidatable, min",
]


def _row(r: Mapping[str, Any]) -> list[str]:
    refused = ", ".join(f"{v} {k}" for k, v in r["proofs_refused"].items())
    refused = f"{r['accounts_with_refused_proofs']} accounts: {refused}"
    flag_ref = sum(r["flags_refused"].values())
    classes = {k: v for k, v in r["liquidations_by_class"].items() if k != "insolvent"}
    solvent = ", ".join(f"{v} {k.removeprefix('solvent_')}" for k, v in classes.items())
    return [
        r["name"],
        "yes" if r["within_proven_set"] else "no",
        str(r["accounts"]),
        str(r["proofs_accepted"]),
        f"{r['proofs_refused_total']}" + (f" ({refused})" if r["proofs_refused_total"] else ""),
        f"{r['flags']}" + (f" ({flag_ref})" if flag_ref else ""),
        str(r["liquidations"]),
        solvent or "0",
        str(r["wrongful_liquidations"]),
        str(r["closes"]),
        usd_grouped(r["bad_debt_usd"]),
        usd_grouped(r["pool_shortfall_usd"]),
        minutes(r["insolvent_not_liquidatable"]["max_s"]),
    ]


def table_markdown(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The headline table: one row per scenario."""
    return [
        "| " + " | ".join(HEADLINE) + " |",
        "|" + "|".join("---" for _ in HEADLINE) + "|",
        *("| " + " | ".join(_row(r)) + " |" for r in results),
    ]


def tenths_of_minutes(ms: int) -> str:
    """Wall-clock milliseconds as minutes to one decimal ("10.4")."""
    return fixed(round_div(ms, 6_000), 1, 1)


def pct(micro: int | None, places: int = 4) -> str:
    """A threshold in millionths as a percent ("any": no threshold found)."""
    return "any" if micro is None else fixed(micro, 4, places) + "%"


def _engine_line(p: Mapping[str, Any]) -> str:
    return (
        f"Engine: proof lifetime {p['proof_lifetime']} s, grace period {p['grace_period']} s, "
        f"shock threshold {bps_percent(p['shock_threshold_bps'])}%, liquidation penalty "
        f"{bps_percent(p['liquidation_penalty_bps'])}%; "
        + "; ".join(
            f"{m['name']} MMR {bps_percent(m['mmr_bps'])}% IMR {bps_percent(m['imr_bps'])}%"
            for m in p["markets"]
        )
        + "; "
        + ", ".join(f"{a['name']} haircut {bps_percent(a['haircut_bps'])}%" for a in p["assets"])
        + "."
    )


def _details(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        "| scenario | flags on accounts with no exposure to the moved price | closes "
        "(AccountClosed badDebt USD) | top-ups (USD) | equity seized above losses USD | "
        "keeper rewards USD | below MMR, not liquidatable: accounts / median min | "
        "underwater, not liquidatable: accounts / max min | open at end (below MMR) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in scenarios:
        inl, unl = r["insolvent_not_liquidatable"], r["underwater_not_liquidatable"]
        lines.append(
            f"| {r['name']} | {r['flags_unrelated']} | {r['closes']} "
            f"({usd_grouped(r['closed_bad_debt_usd'])}) | {r['topups']} "
            f"({usd_grouped(r['topup_usd'])}) | {usd_grouped(r['seized_excess_usd'])} | "
            f"{usd_grouped(r['keeper_rewards_usd'])} | "
            f"{inl['accounts']} / {minutes(inl['median_s'])} | {unl['accounts']} / "
            f"{minutes(unl['max_s'])} | {r['open_at_end']} ({r['insolvent_open_at_end']}) |"
        )
    return lines


def _thresholds(report: Mapping[str, Any]) -> list[str]:
    lines = [
        "| portfolio set | move | no pool shortfall (after penalty) up to | no bad debt up to "
        "| median account (pool) | tightest account |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["thresholds"]["rows"]:
        median = row["median_account_micro"]
        tightest = row["tightest_account"]
        lines.append(
            f"| {row['set']} | {row['move']} | {pct(row['no_shortfall_up_to_micro'])} | "
            f"{pct(row['no_bad_debt_up_to_micro'])} | "
            f"{'' if median is None else pct(median)} | "
            f"{'' if tightest is None else '#' + str(tightest)} |"
        )
    if report["confirmations"]:
        lines += [
            "",
            "On-chain confirmation (same portfolios, every trader passive; the cross "
            "accounts' figures, the bracket's subject):",
            "",
        ]
        for c in report["confirmations"]:
            pf = c.get("portfolio")
            lines.append(
                f"- {c['scenario']}: expected {c['expected']} bad debt; got bad debt "
                f"{usd_grouped(c['bad_debt_usd'])} USD, pool shortfall "
                f"{usd_grouped(c['pool_shortfall_usd'])} USD over {c['liquidations']} "
                f"liquidations: {'confirmed' if c['confirmed'] else 'NOT CONFIRMED'}"
                + (
                    f" (portfolio accounts beside them: {pf['liquidations']} liquidations, "
                    f"bad debt {usd_grouped(pf['bad_debt_usd'])} USD)"
                    if pf
                    else ""
                )
            )
    return lines


def merged_identities(scenarios: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """Each identity over all scenarios: true only if it held after every one."""
    ids: dict[str, bool] = {}
    for r in scenarios:
        for k, v in r["identities"].items():
            ids[k] = ids.get(k, True) and v
    return ids


def _guardian(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    """Liquidations with and without a guardian per trader (scenarios run both ways)."""
    rows = [r for r in scenarios if "avoided" in r]
    if not rows:
        return []
    return [
        "## The guardian",
        "",
        "Each scenario again, every trader running a guardian (re-prove at once when "
        "flagged or outside the proven set, and when the chance of leaving it before the "
        "next step exceeds 5%; `benchmarks/stress/guardian.py`):",
        "",
        "| scenario | liquidations without guardian | with guardian | avoided | "
        "early proof attempts | bad debt USD with guardian |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['name']} | {r['liquidations_without_guardian']} | "
            f"{r['liquidations_with_guardian']} | {r['avoided']} | "
            f"{r['with_guardian']['guardian_triggers']} | "
            f"{r['with_guardian']['bad_debt_usd']} |"
            for r in rows
        ),
        "",
    ]


KIND_HEADLINE = [
    "scenario",
    "accounts",
    "within proven set",
    "proofs accepted",
    "flags",
    "liquidations (insolvent)",
    "wrongful",
    "closes",
    "bad debt USD",
    "pool shortfall USD",
]


def _by_kind(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per scenario, the headline figures of each account kind (when portfolio accounts
    ran): the table above counts both."""
    if not any(r.get("by_kind", {}).get("portfolio", {}).get("accounts") for r in scenarios):
        return []
    lines = [
        "By account kind (rate-based: the cross accounts on the MarginEngine; portfolio: "
        "the PortfolioEngine accounts; the table above sums both):",
        "",
    ]
    for kind in ("rate-based", "portfolio"):
        lines += [
            f"**{kind}**:",
            "",
            "| " + " | ".join(KIND_HEADLINE) + " |",
            "|" + "|".join("---" for _ in KIND_HEADLINE) + "|",
        ]
        for r in scenarios:
            k = r["by_kind"][kind]
            insolvent = k["liquidations_by_class"].get("insolvent", 0)
            row = [
                r["name"],
                str(k["accounts"]),
                "yes" if k["within_proven_set"] else "no",
                str(k["proofs_accepted"]),
                str(k["flags"]),
                f"{k['liquidations']} ({insolvent})",
                str(k["wrongful_liquidations"]),
                str(k["closes"]),
                usd_grouped(k["bad_debt_usd"]),
                usd_grouped(k["pool_shortfall_usd"]),
            ]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return lines


def _accounts_text(population: Mapping[str, Any]) -> str:
    kinds = population.get("account_kinds")
    if not kinds or not kinds.get("portfolio"):
        return f"{population['accounts']} cross accounts"
    return (
        f"{population['accounts']} accounts ({kinds.get('cross', 0)} cross on the rate-based "
        f"engine, {kinds['portfolio']} portfolio on the PortfolioEngine)"
    )


def markdown(report: Mapping[str, Any]) -> str:
    """The whole Markdown report from the JSON report."""
    scenarios = report["scenarios"]
    lines = [
        "# zkmargin stress report",
        "",
        f"Generated by `python -m benchmarks.stress` (`make audit`): seed {report['seed']}, "
        f"{_accounts_text(report['population'])}, {len(scenarios)} "
        f"scenarios, {tenths_of_minutes(report['runtime_ms'])} min on this machine "
        f"({report['proofs_total']} proofs, "
        f"{tenths_of_minutes(report['prove_ms_total'])} min of proving).",
        "",
        _engine_line(report["parameters"]),
        "",
        "## Results",
        "",
        *table_markdown(scenarios),
        "",
        *_by_kind(scenarios),
        "Scenarios:",
        "",
        *(
            f"- **{r['name']}**: {r['description']}"
            + (" — every trader passive on insolvency." if r["all_passive"] else ".")
            for r in scenarios
        ),
        "",
        "More per scenario (JSON has every liquidation):",
        "",
        *_details(scenarios),
        "",
        *_guardian(scenarios),
        "## Largest one-block move absorbed with zero bad debt",
        "",
        *_thresholds(report),
        "",
        "## Definitions",
        "",
        *report["definitions"],
        "",
        "## Findings",
        "",
        *(f"- {f}" for f in report["findings"]),
        "",
        "## Checks",
        "",
        *(
            f"- [{'x' if c['holds'] else ' '}] {k}"
            + ("" if c["holds"] else " — broken in " + ", ".join(c["broken_in"]))
            for k, c in report.get("checks", {}).items()
        ),
        "",
        "## Accounting identities (checked after every scenario)",
        "",
        *(f"- [{'x' if v else ' '}] {k}" for k, v in merged_identities(scenarios).items()),
        "",
        "## Population",
        "",
        *report["population"]["lines"],
        "",
    ]
    return "\n".join(lines)
