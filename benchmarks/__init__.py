"""Benchmarks: run with ``bash scripts/run bench`` (or ``python -m benchmarks``)."""
