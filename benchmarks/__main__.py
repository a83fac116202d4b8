"""Run the benchmarks, print their tables and every goal held to its limit.

    python -m benchmarks [SUITE ...]                     every suite (or those named); reports the goals
    python -m benchmarks --check                         exit 1 if any goal measured was missed
    python -m benchmarks --quick --check-ratios          what CI runs: the suites with a ratio goal, short
                                                         runs; exit 1 if a ratio goal was missed
    python -m benchmarks suite                           the whole suite's time, whole and in four shards at
                                                         once, and the stack's start (only when named)

The goals are data (benchmarks/common.py: GOALS). A ratio goal compares two medians
measured in the same run, interleaved, so the machine's speed and load weigh on
both; an absolute goal (a time, a rate) moves with them and is reported, with
YES/NO, but enforced only by ``--check``. An outcome goal (every concurrent
renewal done, every OCSP answer right) is always enforced: missing it is an error,
not a slow machine. ``--json FILE`` writes the goals measured, for scripts/test_all.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import GOALS, Goal, Kind, Measured, print_goals

SUITES = {
    "card": "benchmarks.bench_card",
    "ca": "benchmarks.bench_ca",
    "bank": "benchmarks.bench_bank",
    "renewal": "benchmarks.bench_renewal",
    "suite": "benchmarks.bench_suite",
}
#: Suites run only when named: ``suite`` runs the whole test suite twice (minutes).
ON_REQUEST = {"suite"}


def enforcement(check: bool, check_ratios: bool) -> Callable[[Goal], bool]:
    """Which goals a miss of fails the run."""
    def enforced(goal: Goal) -> bool:
        return goal.kind is Kind.OUTCOME or check or (check_ratios and goal.kind is Kind.RATIO)
    return enforced


def with_ratio_goals() -> list[str]:
    """The suites that measure a ratio goal."""
    return [name for name in SUITES if any(g.suite == name and g.kind is Kind.RATIO for g in GOALS.values())]


def verdict(measured: list[Measured], enforced: Callable[[Goal], bool]) -> int:
    """Print the goals; 1 (naming each) if an enforced one was missed, else 0."""
    missed = print_goals(measured, enforced)
    for m in missed:
        print(f"MISSED: {m.goal.name}: {m.shown()}, goal {m.goal.text()} ({m.goal.kind.value})", file=sys.stderr)
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="*",
                        help=f"one or more of {', '.join(SUITES)} "
                             f"(default: all but {', '.join(sorted(ON_REQUEST))}; with --check-ratios, "
                             f"those with a ratio goal: {', '.join(with_ratio_goals())})")
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument("--check", action="store_true", help="exit 1 if any goal measured was missed")
    checks.add_argument("--check-ratios", action="store_true",
                        help="exit 1 if a ratio goal was missed (absolute goals are reported only)")
    parser.add_argument("--quick", action="store_true",
                        help="short runs of the suites with ratio goals (card: no on-card RSA; renewal: "
                             "15 rounds, none at once, no browser); the others run in full")
    parser.add_argument("--json", type=Path, help="write the goals measured to this file")
    args = parser.parse_args(argv)
    unknown = set(args.suite) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}; choose from {', '.join(SUITES)}")
    names = args.suite or (with_ratio_goals() if args.check_ratios else [s for s in SUITES if s not in ON_REQUEST])
    measured: list[Measured] = []
    for name in names:
        measured += importlib.import_module(SUITES[name]).suite(quick=args.quick)
    enforced = enforcement(args.check, args.check_ratios)
    status = verdict(measured, enforced)
    if args.json is not None:
        args.json.write_text(json.dumps(
            [{**m.as_json(), "enforced": enforced(m.goal)} for m in measured], ensure_ascii=False, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
