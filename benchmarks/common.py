"""What the benchmarks share: percentiles, their printed tables, and behave's own
timings of feature scenarios run through chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ok(met: bool) -> str:
    """The "met" column of a goal table."""
    return "yes" if met else "NO"


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    """Rows of (measure, value, note) under ``title``."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n" + "-" * (width + 40))
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>12}  {note}")


def print_goal_table(rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (measure, goal, measured, met), in aligned columns under a header."""
    header = ("measure", "goal", "measured", "met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-+-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def run_features(args: list[str], *, what: str, timeout: float) -> tuple[float, list[dict[str, Any]]]:
    """behave with ``args`` (tags, feature paths) from the repository's root, under a UTF-8
    locale: the seconds the run took (the stack's start included) and its scenarios as
    behave's JSON report gives them. RuntimeError, naming ``what``, if any failed."""
    with tempfile.TemporaryDirectory() as out:
        report = Path(out) / "behave.json"
        environ = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        started = time.perf_counter()
        done = subprocess.run(
            [str(Path(sys.executable).parent / "behave"), "--no-color", "-f", "json", "-o", str(report),
             "-f", "null", *args],
            cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout,
        )
        total = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"the {what} failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
        data = json.loads(report.read_text())
    scenarios = [element for feature in data for element in feature.get("elements", [])
                 if element.get("type") == "scenario"]
    return total, scenarios


def scenario_seconds(scenario: dict[str, Any], step: Callable[[dict[str, Any]], bool] = lambda _: True) -> float:
    """behave's own time for a scenario's steps (those ``step`` keeps)."""
    return float(sum(s.get("result", {}).get("duration", 0.0) for s in scenario.get("steps", []) if step(s)))
