"""The report's definitions: what each counted quantity means, stated once."""

from __future__ import annotations

from benchmarks.stress.money import bps_percent
from benchmarks.stress.timing import REFRESH_MARGIN, RETRY, STEP
from chain.deploy import SystemSpec

CLASS_TEXT = {
    "insolvent": "below MMR at the true price (rightful)",
    "solvent_slow": "solvent, but the trader reacts slower than the grace period "
    "and had not proved",
    "solvent_recovered": "solvent again, but was below MMR at the market price when its "
    "proof was due (prover refused: its own shortfall through the grace period)",
    "solvent_oracle_lag": "solvent, but its proofs were refused at an oracle price the "
    "market had left",
    "solvent_oracle_stale": "solvent and diligent, but its proofs were refused: "
    "the oracle was stale",
    "solvent_late": "solvent and diligent, but its proof came too late (simulation timing)",
    "solvent_within_rules": "solvent AND within the engine's rules (unexpired proof, no "
    "unanswered shock past grace): the engine's own promise broken",
}


def definitions(spec: SystemSpec) -> list[str]:
    g, life = spec.grace_period, spec.proof_lifetime
    pen = bps_percent(spec.liquidation_penalty_bps)
    return [
        "- **Solvent** (model): the account meets maintenance margin (MMR, haircuts applied) "
        "at the *true* prices of the scenario path at that moment, with the balances the "
        "engine holds, computed exactly by `zkmargin.model.evaluate`. The true price equals the "
        "oracle's answer except while a feed is frozen (stale scenarios); the JSON records "
        "solvency at the oracle's last answer too.",
        "- **Proof accepted / refused**: an accepted `proveMargin` transaction; a refusal is a "
        "proof attempt that did not produce one: `insufficient margin` (the prover refuses: "
        "no proof exists at the oracle's prices; recorded as the account's own shortfall when "
        "it is below MMR at the market price too, else as oracle lag), or the decoded revert "
        "of the engine or oracle (`OracleAdapter__StalePrice`: the engine cannot build public "
        "inputs). Traders "
        f"attempt when a shock is flagged on them (after their reaction time) and when their "
        f"proof is {REFRESH_MARGIN} s from expiring (its own lifetime: {life} s by "
        f"default, far beyond every scenario), at most once per {RETRY} s. Scenario "
        "durations are explicit, independent of the lifetime.",
        "- **Liquidation classes** (each liquidation gets exactly one):",
        *(f"  - `{k}`: {v}" for k, v in CLASS_TEXT.items()),
        "- **Wrongful liquidation** (`wrongful_liquidations`, per scenario; must be 0): "
        "`Liquidated` for an account that at that block is solvent by the model at the true "
        "(market) prices AND whose owner kept trying to prove: it reacts within the grace "
        f"period, at least one of its proof attempts since its last accepted proof was "
        "refused for a reason other than its own shortfall (a refusal for a stale feed counts "
        "as trying, and so does the prover's `insufficient margin` at an oracle price while "
        "the account meets MMR at the market price; the prover's refusal while the account is "
        "below MMR at the market price too does not: no proof exists because none should, and "
        "the grace period is the owner's time to add collateral), and its last attempt is at most "
        f"{RETRY + STEP} s old. Independent of the class below (`wrongful_by_refusal` "
        "counts their refusal reasons).",
        f"- **Within the proven set** (`within_proven_set`): true iff for every account, "
        "every point of the scenario's price path, at every step from the start to the end "
        f"of the run (the moves, any outage, then at least the grace period, {g} s: "
        f"`Scenario.covers_grace`), lies inside the move set of the proof the account holds "
        "at the start (its opening proof), shrunk by the penalty: the engine's flag rule "
        "evaluated exactly on integers (market k: |P' - P| * 1e8 <= mmr_k * (1e4 - pen) * P; "
        "collateral c, drops only: (P - P') * 1e8 <= h_c * (1e4 - pen) * P; slots unlisted "
        "at proof time ignored). The same rule is compared with the engine's `flaggable()` "
        "view at every keeper read (identity). Inside the set the proof guarantees equity >= "
        "the penalty share of the proved margin, so such a scenario must show 0 bad debt.",
        "- **Outages**: a trader whose proof attempt is refused for a stale feed sends "
        "`pokeStale` for its account, so its lapse and grace clocks stop until the feed "
        "publishes again; `liquidate` reads prices (for the reclaim record) and is refused "
        "while a feed is stale (`liquidations_refused`).",
        "- **Reclaim**: the owner of a liquidated account reveals it at its next step "
        "(`reclaim`), getting back from the vault its equity above the penalty at the "
        "liquidation prices; equity seized above losses and the pool shortfall are net of it.",
        "- **Bad debt** of a liquidated account: the negative part of its raw equity at the "
        "true prices of the liquidation block, i.e. max(0, losses - collateral value), with "
        "collateral valued without haircut (as `close` values it); plus every "
        "`AccountClosed.badDebt` (uncovered loss at close, from the event).",
        f"- **Pool shortfall**: the pool is the counterparty of every position; at a "
        f"liquidation it receives the balances minus the {pen}% keeper penalty. Shortfall = "
        "max(0, losses - value of what the pool kept: received minus reclaim paid), at the "
        "same prices (from the `Liquidated` event amounts); plus `AccountClosed.badDebt`.",
        "- **Equity seized above losses**: for liquidated accounts with positive raw equity, "
        "what the trader lost beyond its losses (liquidation seizes every balance).",
        "- **Below MMR, not liquidatable**: time an open account spent below MMR (model, true "
        f"prices) while `liquidatable()` was false, sampled at every {STEP} s step; "
        "**underwater**: raw equity < 0.",
        "- **Portfolio account**: an account on the PortfolioEngine (docs/portfolio.md), one "
        "in five of the population: perpetuals on ETH/BTC and listed ETH/BTC option series "
        "(covered calls, protective puts, long-short perpetual hedges, short strangles) on "
        "USDC or USDC + WETH, opened with an opening proof (λ_IM, entries at the marks) with "
        "a buffer over the initial requirement drawn from the cross tiers. The run deploys the "
        "engine with a risk file whose series expire 30 days after the chain's clock (Black-76 "
        "marks, fitted covariance; one epoch, never re-published). It is judged like a cross "
        "account, with the portfolio model in place of the rate model: **solvent** = the "
        "maintenance statement of `zkmargin.portfolio.evaluate` (D = E - G - F >= λ_MM * "
        "||L^T x||, haircuts applied) at the true perpetual and collateral prices and the "
        "epoch's option marks (what a proof counts); raw equity (bad debt) = collateral "
        "without haircut + P&L as the engine settles a close, liquidation or reclaim: "
        "perpetuals at the true prices, an option long at min(cap, max(intrinsic, V + δΔP)) "
        "and a short at min(cap, max(intrinsic, V + δΔP + g)), ΔP the move since the "
        "publication (`zkmargin.settlement`). **Within the proven set**: the "
        "engine's rule `PortfolioRisk.outside` copied on integers: the markets' relative move "
        "Δ leaves the ellipsoid ||L^-1 Δ|| <= λ_MM * (1 - pen) (computed as the engine does, "
        "with its rounding margin), or a collateral drop exceeds h_c * (1 - pen) (relative to "
        "its risk factor when it has one); checked against `flaggable()` at every keeper "
        "read. A refusal for a stale feed pokes the engine-wide outage clock "
        "(`pokeStale()`). No guardian runs for portfolio accounts. Their money identities "
        "cover the PortfolioEngine and its own vaults (one MarginPool per asset). The "
        "bisection below is on the rate model (cross accounts) only.",
        "- **Money**: every amount is summed exactly in integer margin units (1e-30 USD) and "
        "shown rounded to the cent; moves are integer millionths.",
        "- **Largest move absorbed**: for a fixed set of portfolios that have just proved at "
        "the base prices (entries = base prices, balances as deposited), a one-block move of "
        "x on ETH and BTC together (USDC fixed); every account below MMR after the move is "
        "liquidated at the moved price (the price stays there: a flag + grace or a lapse later). "
        "bad_debt(x) and shortfall(x) are sums of per-account terms that are linear in x "
        "past the account's own threshold, so 'some bad debt' is monotone in x; the smallest "
        "such x is found by bisection on the exact integer model to 1e-6 (0.0001%). The "
        "'scaled to exactly MMR' set shrinks every account's collateral (same mix) until "
        "equity = MMR requirement: the weakest state in which a maintenance proof exists, "
        "so its threshold is what the parameters guarantee per proving window. The random "
        "set's bracket is then replayed on-chain with real proofs.",
    ]
