"""What the benchmarks share: the goals (one table, :data:`GOALS`) and how a measured
value is held against one, percentiles, their printed tables, and behave's own timings
of feature scenarios run through chromium."""

from __future__ import annotations

import json
import operator
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Kind(Enum):
    """What a goal's value depends on, which says whether CI can hold a shared machine to it."""

    #: Two medians measured in the same run, interleaved: the machine's speed and load
    #: weigh on both alike. CI enforces these (``--check-ratios``).
    RATIO = "ratio"
    #: A time or a rate: it moves with the machine's speed and with what else runs on it.
    ABSOLUTE = "absolute"
    #: Whether something worked at all (every concurrent renewal done).
    OUTCOME = "outcome"


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">=": operator.ge, "==": operator.eq,
}


@dataclass(frozen=True)
class Goal:
    """A goal of the README's Benchmarks section: the measured value ``op`` ``limit``."""

    suite: str
    name: str
    op: str
    limit: float
    unit: str
    kind: Kind

    def met(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.limit)

    def text(self) -> str:
        """As the tables print it: ``<= 1.5x``, ``< 1 ms``, ``>= 200/s``."""
        return f"{self.op} {self.limit:g}{self.unit}"


#: Every goal the benchmarks hold a measure to, by key. The suites measure them; the
#: README's Benchmarks section states them.
GOALS: dict[str, Goal] = {
    "card.select_ratio": Goal("card", "SELECT through pcscd + vpcd: TWCA card / null card, medians", "<=", 1.5, "x",
                              Kind.RATIO),
    "card.select_median": Goal("card", "SELECT through pcscd + vpcd, TWCA card, median", "<", 1, " ms",
                               Kind.ABSOLUTE),
    "ca.issuance_in_process": Goal("ca", "CA issuance from ready CSRs, in process", ">=", 200, "/s", Kind.ABSOLUTE),
    "ca.issuance_http": Goal("ca", "CA issuance over the HTTP API, 8 clients", ">=", 200, "/s", Kind.ABSOLUTE),
    "ca.crl_cold": Goal("ca", "CRL of 100,000 revoked entries, cold", "<", 2, " s", Kind.ABSOLUTE),
    "ca.ocsp_p50": Goal("ca", "OCSP over HTTP, 50 clients, no nonce, p50", "<", 5, " ms", Kind.ABSOLUTE),
    "ca.ocsp_errors": Goal("ca", "OCSP over HTTP, 50 clients, no nonce: wrong answers", "==", 0, "", Kind.OUTCOME),
    "bank.login_rest": Goal("bank", "login + hand-over with argon2's cheapest profile, median", "<", 5, " ms",
                            Kind.ABSOLUTE),
    "renewal.engine_median": Goal("renewal", "renewal PIN to DONE via engine, median", "<", 1000, " ms",
                                  Kind.ABSOLUTE),
    "renewal.agent_median": Goal("renewal", "renewal PIN to DONE via agent, median", "<", 1000, " ms", Kind.ABSOLUTE),
    "renewal.engine_ratio": Goal("renewal", "renewal via engine / the same crypto in process, medians", "<=", 3, "x",
                                 Kind.RATIO),
    "renewal.agent_ratio": Goal("renewal", "renewal via agent / the same crypto in process, medians", "<=", 3, "x",
                                Kind.RATIO),
    "renewal.engine_at_once": Goal("renewal", "renewals at once via engine, one card each: failed", "==", 0, "",
                                   Kind.OUTCOME),
    "renewal.agent_at_once": Goal("renewal", "renewals at once via agent, one card each: failed", "==", 0, "",
                                  Kind.OUTCOME),
    # benchmarks/bench_suite.py (run only when named: it runs the whole suite twice).
    "suite.whole": Goal("suite", "bash scripts/run test, the whole suite", "<", 180, " s", Kind.ABSOLUTE),
    "suite.shards_at_once": Goal("suite", "bash scripts/run test --shard I/4, four at once: the slowest", "<", 90,
                                 " s", Kind.ABSOLUTE),
    "suite.merge_same_totals": Goal("suite", "the four shards merged: tests counted unlike the whole run's", "==",
                                    0, "", Kind.OUTCOME),
    "suite.stack_up": Goal("suite", "fxmlsim up in a new home, median", "<", 1, " s", Kind.ABSOLUTE),
}


@dataclass(frozen=True)
class Measured:
    """A goal's measured value, in the goal's unit."""

    key: str
    value: float

    @property
    def goal(self) -> Goal:
        return GOALS[self.key]

    @property
    def met(self) -> bool:
        return self.goal.met(self.value)

    def shown(self) -> str:
        if self.goal.kind is Kind.OUTCOME:
            return f"{self.value:g}{self.goal.unit}"
        size = abs(self.value)
        digits = 3 if size < 10 else 2 if size < 100 else 1 if size < 1000 else 0
        return f"{self.value:,.{digits}f}{self.goal.unit}"

    def as_json(self) -> dict[str, Any]:
        goal = self.goal
        return {"key": self.key, "suite": goal.suite, "name": goal.name, "kind": goal.kind.value,
                "goal": goal.text(), "value": self.value, "met": self.met}


def ok(measured: Measured) -> str:
    """The "met" column of a goal table."""
    return "yes" if measured.met else "NO"


def print_goals(results: list[Measured], enforced: Callable[[Goal], bool]) -> list[Measured]:
    """Every goal measured in this run, held to its limit; the enforced ones missed."""
    rows = [(m.goal.name, m.goal.kind.value, m.goal.text(), m.shown(), ok(m),
             "enforced" if enforced(m.goal) else "reported") for m in results]
    header = ("goal", "kind", "limit", "measured", "met", "this run")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    print("\nGoals (benchmarks/common.py: GOALS)", lines[0], "-+-".join("-" * w for w in widths), *lines[1:],
          sep="\n")
    return [m for m in results if enforced(m.goal) and not m.met]


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class CpuPressure:
    """The share of the wall time from its creation to :meth:`share` during which some task of
    the machine waited for a CPU (Linux's pressure stall information): how much other work
    competed with a measurement. None where the kernel does not tell."""

    PATH = Path("/proc/pressure/cpu")

    def __init__(self) -> None:
        self._start = (time.monotonic(), self._stalled())

    def _stalled(self) -> float | None:
        try:
            some = self.PATH.read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        return float(some.rsplit("total=", 1)[1]) / 1e6  # microseconds

    def share(self) -> float | None:
        started, stalled = self._start
        now = self._stalled()
        if stalled is None or now is None:
            return None
        return min(1.0, (now - stalled) / max(1e-9, time.monotonic() - started))


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
