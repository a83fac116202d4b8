"""How long the whole suite takes, whole and in four shards at once, and how long a stack takes to start.

    bash scripts/run bench suite            # all three (runs the whole suite twice: minutes)
    bash scripts/run bench suite --quick    # the stack's start only

1. The README's test command, ``bash scripts/run test``, whole: its wall time (setup.sh's check
   included, as a developer runs it) and its closing line.
2. Four shards at once on this machine, ``bash scripts/run test --shard I/4`` for I = 1..4 started
   together, each with its own reports folder: each one's wall time (the goal is the slowest's),
   then ``bash scripts/run merge`` of the four, whose closing line must be the whole run's. On one
   machine the four compete for its cores; CI gives each shard a machine of its own.
3. ``fxmlsim up`` in a new home (the user's caches warm: the argon2 hashes, the reader driver
   guard), ``fxmlsim down`` after: the median of several, and when each part of the last one was
   ready (its READY line, seconds after the start: ``pcsc_ready_seconds`` and each service's ``ready_seconds`` in
   ``<home>/run/services.json``).

The goals are absolute (the machine's speed and load weigh on them): reported, enforced by
``--check`` only. The CPU pressure (Linux's PSI) during each says how much else competed.
Run on a shared machine the figures say as much about the others' work as about this code.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import CpuPressure, Measured, print_goal_table, print_table

ROOT = Path(__file__).resolve().parent.parent
FXMLSIM = str(Path(sys.executable).parent / "fxmlsim")
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", re.MULTILINE)
SHARDS = 4
UP_ROUNDS = 7


def _closing(text: str) -> str:
    found = CLOSING.findall(text)
    return "{} passed, {} failed, {} skipped".format(*found[-1]) if found else "(no closing line)"


def _pressure(p: CpuPressure) -> str:
    share = p.share()
    return "" if share is None else f"CPU pressure {share:.0%}"


def stack_up(rounds: int = UP_ROUNDS) -> tuple[list[float], list[float], dict[str, float]]:
    """``fxmlsim up`` then ``down`` in a new home each round: the seconds of each, and when each part
    of the last one was ready (seconds after the start: ``ready_seconds`` of its services.json)."""
    ups, downs = [], []
    ready: dict[str, float] = {}
    env = {**os.environ}
    env.pop("FXMLSIM_HOME", None)
    for _ in range(rounds):
        home = Path(tempfile.mkdtemp(prefix="fxmlsim-bench-up-"))
        try:
            started = time.perf_counter()
            up = subprocess.run([FXMLSIM, "--home", str(home), "up"], env=env, capture_output=True, text=True)
            ups.append(time.perf_counter() - started)
            if up.returncode != 0:
                raise RuntimeError(f"fxmlsim up failed: {up.stderr[-2000:]}")
            services = json.loads((home / "run" / "services.json").read_text())
            ready = {"pcsc": services.get("pcsc_ready_seconds", 0)} | {
                name: info["ready_seconds"] for name, info in services.items()
                if isinstance(info, dict) and "ready_seconds" in info}
            started = time.perf_counter()
            subprocess.run([FXMLSIM, "--home", str(home), "down"], env=env, capture_output=True, check=True)
            downs.append(time.perf_counter() - started)
        finally:
            subprocess.run([FXMLSIM, "--home", str(home), "down"], env=env, capture_output=True)
            shutil.rmtree(home, ignore_errors=True)
    return ups, downs, ready


def run_whole() -> tuple[float, str, int]:
    started = time.perf_counter()
    done = subprocess.run(["bash", "scripts/run", "test"], cwd=ROOT, capture_output=True, text=True)
    return time.perf_counter() - started, _closing(done.stdout), done.returncode


def run_shards() -> tuple[list[float], list[str], str, int]:
    """The four shards at once; each one's seconds and closing line; the merge's closing line and status."""
    started = time.perf_counter()

    def shard(i: int) -> tuple[float, str]:
        done = subprocess.run(["bash", "scripts/run", "test", "--shard", f"{i}/{SHARDS}"], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return time.perf_counter() - started, _closing(done.stdout)

    with ThreadPoolExecutor(max_workers=SHARDS) as pool:
        ended = list(pool.map(shard, range(1, SHARDS + 1)))
    merged = subprocess.run(["bash", "scripts/run", "merge", *(str(ROOT / "reports" / f"shard-{i}-of-{SHARDS}")
                                                              for i in range(1, SHARDS + 1))],
                            cwd=ROOT, capture_output=True, text=True)
    return [s for s, _ in ended], [line for _, line in ended], _closing(merged.stdout), merged.returncode


def _tests(line: str) -> int:
    """How many tests a closing line counts (passed + failed + skipped)."""
    found = CLOSING.findall(line)
    return sum(int(n) for n in found[-1]) if found else -1


def _said(note: tuple[str, str, str]) -> tuple[str, str, str]:
    """A measured line, printed at once (the suite runs for minutes) and kept for the table."""
    print(f"  {note[0]}: {note[1]} {note[2]}", flush=True)
    return note


def suite(quick: bool = False) -> list[Measured]:
    print(f"The suite's benchmarks ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}):", flush=True)
    measured: list[Measured] = []
    rows: list[tuple[str, str, str, str]] = []
    notes: list[tuple[str, str, str]] = []
    if not quick:
        pressure = CpuPressure()
        whole, whole_line, code = run_whole()
        measured.append(Measured("suite.whole", whole))
        notes.append(_said(("bash scripts/run test", f"{whole:.0f} s",
                            f"{whole_line} (exit {code}); {_pressure(pressure)}")))
        pressure = CpuPressure()
        seconds, lines, merged_line, merged_code = run_shards()
        measured.append(Measured("suite.shards_at_once", max(seconds)))
        for i, (s, line) in enumerate(zip(seconds, lines, strict=True), start=1):
            notes.append(_said((f"bash scripts/run test --shard {i}/{SHARDS} (4 at once)", f"{s:.0f} s", line)))
        same = "the same" if merged_line == whole_line else "NOT the same"
        notes.append(_said(("bash scripts/run merge", "",
                            f"{merged_line} (exit {merged_code}); {same} as the whole run; {_pressure(pressure)}")))
        # The same tests counted (one that fails in one run and passes in the other: the machine's, not the merge's).
        measured.append(Measured("suite.merge_same_totals", abs(_tests(merged_line) - _tests(whole_line))))
    pressure = CpuPressure()
    ups, downs, ready = stack_up()
    up = statistics.median(ups)
    measured.append(Measured("suite.stack_up", up))
    spread = f"min {min(ups):.2f} s, max {max(ups):.2f} s; down median {statistics.median(downs):.2f} s"
    notes.append(_said((f"fxmlsim up, new home, median of {len(ups)}", f"{up:.2f} s",
                        f"{spread}; {_pressure(pressure)}")))
    notes.append(_said(("  the last one: each part ready after", "",
                        ", ".join(f"{name} {seconds:.2f} s" for name, seconds in ready.items()))))
    print_table("Measured", notes)
    for m in measured:
        rows.append((m.goal.name, m.goal.text(), m.shown(), "yes" if m.met else "NO"))
    print()
    print_goal_table(rows)
    return measured


if __name__ == "__main__":
    suite()
