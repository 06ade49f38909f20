"""Stress simulation of the margin engine: `make stress` / `make audit` (not `make test`).

    python -m benchmarks.stress [--accounts 50] [--seed 7] [--scenarios a,b] [--no-confirm]
                                [--no-guardian] [--no-portfolio]

Starts a private anvil, deploys the default system (ETH-USD MMR 5% / IMR 10%, BTC-USD
4% / 8%, USDC and WETH collateral with a 10% WETH haircut; proof lifetime 3 days, grace
600 s, penalty 5%) and the PortfolioEngine beside it (its risk file's option series
re-dated to expire 30 days after the chain's clock), opens ``--accounts`` random accounts
(seeded: the same seed gives the same portfolios, agents and transactions): one in five is
a portfolio account on the PortfolioEngine (covered calls, protective puts, long-short
perpetual hedges, short strangles on ETH/BTC; :mod:`benchmarks.stress.books`,
:mod:`benchmarks.stress.pfchain`; ``--no-portfolio``: cross accounts only), the rest cross
accounts on the rate-based engine; takes an anvil snapshot, and runs every scenario from
that snapshot with real proofs:

* the oracle follows a scripted path (one-block crashes, a slow bleed, an oscillation,
  feeds that go stale during a crash); feeds are refreshed every 30 min of chain time
  unless the scenario freezes them;
* keepers (one bot) liquidate every account the engine calls ``liquidatable()`` and flag
  every account the engine calls ``flaggable()`` (a price left its proven move set shrunk
  by the penalty; the keeper's exact integer copy of that rule is checked against the
  view at every read);
* traders re-prove when a shock is flagged on them (after their reaction time) and
  before their proof expires (at age lifetime - 600 s, the proof's own lifetime); when
  the prover refuses (insufficient margin) a *defender* tops up USDC and proves, a
  *closer* closes the account if the engine still lets it, a *passive* trader waits; a
  trader refused for a stale feed pokes its outage clock (``pokeStale``); the owner of a
  liquidated account reclaims its equity above the penalty.

Each scenario's duration is explicit (its moves, any outage, then at least the grace
period), independent of the proof lifetime.

Then it bisects, on the exact integer model, the one-block crash size at which bad debt
first appears for the same portfolios (and for the same portfolios scaled down to exactly
MMR, the weakest state a proving account can be in), and confirms the bracket on-chain.
The report (definitions included) goes to ``<build>/audit/stress-report.{md,json}``.

Portfolio accounts are judged by the same rules with the portfolio model
(``zkmargin.portfolio.evaluate`` at maintenance, options at the epoch's marks, as a proof
counts them; money, raw equity and bad debt as the engine settles options: from the oracle's
move since the publication, ``zkmargin.settlement``) and the engine's own move-set rule
(the ellipsoid ``PortfolioRisk.outside``, copied on integers and checked against
``flaggable()``); their money identities cover the PortfolioEngine and its own vaults; the
report gives every figure per account kind (``by_kind``) besides the totals. No guardian
for them; the bisection is on the rate model.

Modules, one idea each: ``money`` (integer units and their text), ``timing``,
``valuation`` (the model at feed prices), ``population``, ``scenarios`` (price paths),
``thresholds`` (bisection), ``context``/``driver``/``keeper``/``traders``/``identities``
(the chain side), ``results``, and the pure report side: ``summary``, ``definitions``,
``findings``, ``report``; ``run`` ties them together.
"""

from __future__ import annotations

from benchmarks.stress.population import Portfolio, Style, make_portfolios
from benchmarks.stress.run import simulate
from benchmarks.stress.scenarios import Scenario, crash_scenario, default_scenarios

__all__ = [
    "Portfolio",
    "Scenario",
    "Style",
    "crash_scenario",
    "default_scenarios",
    "make_portfolios",
    "simulate",
]
