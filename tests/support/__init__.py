"""Helpers shared by test groups (unit, pcsc, integration) and benchmarks."""
