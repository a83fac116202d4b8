"""Run every benchmark and print its table. Goals are in README.md."""

from __future__ import annotations

import argparse
import importlib

SUITES = {
    "card": "benchmarks.bench_card",
    "ca": "benchmarks.bench_ca",
    "bank": "benchmarks.bench_bank",
    "renewal": "benchmarks.bench_renewal",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("suite", nargs="*", help=f"one or more of {', '.join(SUITES)} (default: all)")
    args = parser.parse_args()
    unknown = set(args.suite) - set(SUITES)
    if unknown:
        parser.error(f"unknown suite(s) {', '.join(sorted(unknown))}; choose from {', '.join(SUITES)}")
    for name in args.suite or list(SUITES):
        importlib.import_module(SUITES[name]).main()


if __name__ == "__main__":
    main()
