"""``python -m benchmarks.stress [--accounts 50] [--seed 7] [--scenarios a,b] [--no-confirm]``"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from benchmarks.stress.books import make_books, split_accounts
from benchmarks.stress.population import make_portfolios
from benchmarks.stress.report import table_markdown, tenths_of_minutes
from benchmarks.stress.run import passed, report_dir, simulate
from benchmarks.stress.scenarios import default_scenarios
from zkmargin.errors import ZkMarginError

DESCRIPTION = "Stress simulation of the margin engine on a private anvil (make stress)."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stress", description=DESCRIPTION)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scenarios",
        help="comma-separated names (default: all): "
        + ", ".join(s.name for s in default_scenarios()),
    )
    parser.add_argument("--no-confirm", action="store_true", help="skip the on-chain bracket")
    parser.add_argument(
        "--no-guardian", action="store_true", help="skip the runs with a guardian per trader"
    )
    parser.add_argument(
        "--no-portfolio",
        action="store_true",
        help="cross accounts only (default: one account in 5 is a portfolio account)",
    )
    parser.add_argument("--out", type=Path, help="report directory (default <build>/audit)")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error("--accounts must be at least 1")
    scenarios = default_scenarios()
    if args.scenarios:
        wanted = args.scenarios.split(",")
        unknown = set(wanted) - {s.name for s in scenarios}
        if unknown:
            parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
        scenarios = [s for s in scenarios if s.name in wanted]
    out = Console()
    cross, portfolio = (args.accounts, 0) if args.no_portfolio else split_accounts(args.accounts)
    try:
        report = simulate(
            make_portfolios(cross, args.seed),
            scenarios,
            seed=args.seed,
            confirm=not args.no_confirm,
            guardian=not args.no_guardian,
            out_dir=args.out,
            console=out,
            books=make_books(portfolio, args.seed, cross),
        )
    except ZkMarginError as exc:  # anvil, snarkjs or the report directory: one line
        print(f"stress: {exc}", file=sys.stderr)
        return 1
    print("\n".join(table_markdown(report["scenarios"])))
    print()
    for line in report["findings"]:
        print(f"- {line}")
    directory = report_dir(args.out)
    runtime = tenths_of_minutes(report["runtime_ms"])
    out.print(f"report: {directory / 'stress-report.md'} and .json ({runtime} min)")
    return 0 if passed(report) else 1


if __name__ == "__main__":
    sys.exit(main())
