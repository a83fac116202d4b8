"""Everything CI runs, in one command, ending with one plain line: ``N passed, N failed, N skipped``.

    .venv/bin/python scripts/test_all.py            # checks, pytest, the zh-TW features
    .venv/bin/python scripts/test_all.py --no-features

1. The checks: ruff, mypy (strict for fxml/), the import contracts (lint-imports),
   and the traceability of the manual's steps to the features (docs/traceability.md
   as scripts/traceability.py makes it from the feature files; every instruction covered).
2. pytest (every group: unit, pcsc, opensc, yubico, integration), JUnit XML in reports/.
3. The benchmarks' ratio goals, in their quick run (``python -m benchmarks --quick
   --check-ratios``, under a minute): each ratio goal counts as one test; the absolute
   goals (times, rates) are measured and printed but not counted: on a shared machine
   they say more about the machine than about the code (README, Benchmarks).
   reports/bench.json keeps every goal measured.
4. The Gherkin features (behave, zh-TW) through chromium: JUnit XML in
   reports/features/, behave's JSON in reports/features.json, the screenshots and their
   manifest in reports/screenshots/; from those, the report for the bank's staff
   (reports/features.html and .pdf, ``fxmlsim report``) and the living manual
   (reports/manual/, ``fxmlsim manual``). After a full run, two checks: the traceability
   with results (docs/traceability.md must be what this run makes of it; the run's own is
   kept as reports/traceability.md), and the living manual (every path's golden screens).

The closing line sums them: each check counts as one test, each pytest test as
one, each enforced benchmark goal as one, each behave scenario as one. Every
skipped test is counted and listed with its reason. A run fails (exit status 1)
if anything failed, and also:

- if pytest or behave ran no test at all (pytest's exit status 5, "no tests
  collected", or a filter that matched nothing);
- as root (euid 0), if a test that needs root was skipped: tests/conftest.py
  turns the skip of a test marked ``root`` into an error, and a skip whose
  reason begins with "needs root" counts as a failure here as well.

``reports/summary.json`` keeps the counts and the skips.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REPORTS = ROOT / "reports"

#: How the reason of a skip for want of root begins (tests/conftest.py: NEEDS_ROOT).
NEEDS_ROOT = "needs root"

#: The checks, each one command; mypy's targets and strictness are in pyproject.toml.
CHECKS = {
    "ruff": [str(VENV_BIN / "ruff"), "check", "."],
    "mypy": [str(VENV_BIN / "mypy"), "fxml", "simulator", "tests", "steps", "benchmarks", "scripts",
             "environment.py"],
    "import contracts": [str(VENV_BIN / "lint-imports")],
    # The mapping part only: the results need a run of the features (checked after it, run_traceability).
    "traceability": [sys.executable, str(ROOT / "scripts" / "traceability.py"), "--check", "--mapping-only"],
}


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    #: (test, reason) of each skipped test.
    skips: list[tuple[str, str]] = field(default_factory=list)
    #: What failed that pytest and behave do not report themselves: nothing collected, a crash,
    #: a root test skipped as root, a benchmark goal missed.
    problems: list[str] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped
        self.skips += other.skips
        self.problems += other.problems

    def fail(self, problem: str) -> None:
        """One failure pytest and behave do not report (counted as one failed test)."""
        self.failed += 1
        self.problems.append(problem)


def say(text: str) -> None:
    print(text, flush=True)


def run_checks() -> Counts:
    counts = Counts()
    for name, cmd in CHECKS.items():
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        took = time.monotonic() - started
        if done.returncode == 0:
            counts.passed += 1
            say(f"[check] {name}: ok ({took:.1f} s)")
        else:
            counts.failed += 1
            say(f"[check] {name}: FAILED ({took:.1f} s)")
            say((done.stdout + done.stderr).rstrip())
    return counts


def junit_counts(paths: list[Path]) -> Counts:
    """Counts from JUnit XML files (pytest's one file, behave's one per feature), with
    each skipped test and its reason."""
    counts = Counts()
    for path in paths:
        root = ET.parse(path).getroot()  # noqa: S314 - our own tools' reports, written by this run
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        for suite in suites:
            tests = int(suite.get("tests", 0))
            failed = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped = int(suite.get("skipped", suite.get("skips", 0)))
            counts.failed += failed
            counts.skipped += skipped
            counts.passed += tests - failed - skipped
            for case in suite.iter("testcase"):
                skip = case.find("skipped")
                if skip is not None:
                    name = "::".join(filter(None, (case.get("classname"), case.get("name"))))
                    counts.skips.append((name, (skip.get("message") or skip.text or "").strip()))
    return counts


def root_skips_fail(counts: Counts) -> None:
    """As root, a skip for want of root is a failure: CI runs as root, and must run them."""
    if os.geteuid() != 0:
        return
    for name, reason in list(counts.skips):
        if reason.lower().startswith(NEEDS_ROOT):
            counts.skips.remove((name, reason))
            counts.skipped -= 1
            counts.fail(f"{name} was skipped while running as root: {reason}")


def ran_nothing(counts: Counts) -> bool:
    return counts.passed + counts.failed == 0


def run_pytest(args: list[str]) -> Counts:
    xml = REPORTS / "pytest.xml"
    xml.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={xml}", *args]
    say(f"[pytest] {' '.join(cmd[1:])}")
    done = subprocess.run(cmd, cwd=ROOT)
    if not xml.exists():
        counts = Counts()
        counts.fail(f"pytest wrote no report (exit status {done.returncode})")  # could not even start
        return counts
    counts = junit_counts([xml])
    root_skips_fail(counts)
    if done.returncode == 5 or ran_nothing(counts):
        counts.fail(f"pytest ran no test (exit status {done.returncode}; 5 is 'no tests collected')")
    elif done.returncode not in (0, 1) and counts.failed == 0:
        counts.fail(f"pytest exited {done.returncode} (interrupted, or an internal or usage error)")
    return counts


#: The benchmarks CI runs: the suites with a ratio goal, short, the ratio goals enforced.
BENCH = [sys.executable, "-m", "benchmarks", "--quick", "--check-ratios"]


def run_bench() -> Counts:
    """The ratio goals: one test each (benchmarks/__main__.py says which goals are ratios)."""
    out = REPORTS / "bench.json"
    out.unlink(missing_ok=True)
    cmd = [*BENCH, "--json", str(out)]
    say(f"[bench] {' '.join(cmd[1:])}")
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT)
    took = time.monotonic() - started
    counts = Counts()
    if not out.exists():
        counts.fail(f"the benchmarks stopped before measuring their goals (exit status {done.returncode})")
        return counts
    goals = json.loads(out.read_text(encoding="utf-8"))
    enforced = [goal for goal in goals if goal["enforced"]]
    for goal in enforced:
        if goal["met"]:
            counts.passed += 1
        else:
            counts.fail(f"benchmark goal missed: {goal['name']}: {goal['value']:.3g}, goal {goal['goal']}")
    if not enforced:
        counts.fail("the benchmarks measured no goal to enforce")
    elif done.returncode != 0 and counts.failed == 0:
        counts.fail(f"the benchmarks exited {done.returncode} with every enforced goal met")
    reported = len(goals) - len(enforced)
    say(f"[bench] {counts.passed} of {len(enforced)} enforced goals met; {reported} more reported, "
        f"not enforced ({took:.0f} s)")
    return counts


def run_features(args: list[str]) -> Counts:
    out = REPORTS / "features"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("TESTS-*.xml"):
        old.unlink()
    cmd = [
        str(VENV_BIN / "behave"), "--no-color",
        # behave pairs --outfile with the --format before it; the rest print.
        "--format", "json", "--outfile", str(REPORTS / "features.json"),
        "--format", "pretty",
        "--junit", "--junit-directory", str(out),
        # With a filter (tags, names, files), what it leaves out is not counted as skipped.
        *(["--no-skipped"] if args else []),
        *args,
    ]
    say(f"[features] {' '.join(cmd[1:])}")
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    counts = junit_counts(sorted(out.glob("TESTS-*.xml")))
    root_skips_fail(counts)
    if ran_nothing(counts):
        counts.fail(f"behave ran no scenario (exit status {done.returncode})")
    elif done.returncode != 0 and counts.failed == 0:
        counts.fail(f"behave exited {done.returncode} without a failed scenario")  # stopped before it reported
    return counts


def run_documents(whole: bool) -> Counts:
    """The report and the living manual from this run's results (``fxmlsim report``, ``fxmlsim manual``):
    one check each. The manual's check is whether every path has its golden screens, after a whole run
    only; after a part of the features it is written and not counted."""
    counts = Counts()
    for name in ("report", "manual"):
        cmd = [str(VENV_BIN / "fxmlsim"), name, "--reports", str(REPORTS)]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        said = (done.stdout + done.stderr).rstrip()
        if name == "manual" and not whole and done.returncode == 1:
            say(f"[features] {said.splitlines()[0]} (a part of the features: not checked)")
        elif done.returncode == 0:
            counts.passed += 1
            say(f"[check] {name}: ok ({said.splitlines()[0] if said else ''})")
        else:
            counts.fail(f"fxmlsim {name}: {said.splitlines()[0] if said else f'exit status {done.returncode}'}")
            say(f"[check] {name}: FAILED\n{said}")
    return counts


def run_traceability() -> Counts:
    """docs/traceability.md against this run's results (reports/features.json): one check."""
    cmd = [sys.executable, str(ROOT / "scripts" / "traceability.py"), "--check",
           "--out", str(REPORTS / "traceability.md")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0:
        say("[check] traceability with this run's results: ok")
        return Counts(passed=1)
    say("[check] traceability with this run's results: FAILED")
    say((done.stdout + done.stderr).rstrip())
    return Counts(failed=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-checks", action="store_true")
    parser.add_argument("--no-pytest", action="store_true")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--no-features", action="store_true")
    args, pytest_args = parser.parse_known_args()
    args.pytest_args = pytest_args
    REPORTS.mkdir(exist_ok=True)
    parts: dict[str, Counts] = {}
    if not args.no_checks:
        parts["checks"] = run_checks()
    if not args.no_pytest:
        parts["pytest"] = run_pytest(args.pytest_args)
    if not args.no_bench:
        parts["bench"] = run_bench()
    if not args.no_features:
        # With pytest off, extra arguments are behave's (bash scripts/run features --tags=...).
        behave_args = args.pytest_args if args.no_pytest else []
        parts["features"] = run_features(behave_args)
        if not behave_args:  # a whole run: its results are the ones docs/traceability.md must show
            parts["traceability"] = run_traceability()
        parts["documents"] = run_documents(whole=not behave_args)
    return summarize(parts)


def summarize(parts: dict[str, Counts]) -> int:
    """Each part's counts, the skips and the other failures, then the closing line; the exit status."""
    total = Counts()
    for counts in parts.values():
        total.add(counts)
    (REPORTS / "summary.json").write_text(json.dumps({k: asdict(v) for k, v in parts.items()}, indent=2))
    say("")
    for name, counts in parts.items():
        say(f"  {name}: {counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped")
    if "features" in parts:
        say(f"  the features' report: {REPORTS / 'features.html'} (and .pdf); the living manual: "
            f"{REPORTS / 'manual' / 'index.html'}")
    if total.skips:
        say(f"skipped ({len(total.skips)}):")
        for name, reason in total.skips:
            say(f"  {name}: {reason}")
        for_root = sum(1 for _, reason in total.skips if reason.lower().startswith(NEEDS_ROOT))
        if for_root:
            say(f"  ({for_root} of them need root: CI runs as root, where a skip of them fails)")
    if total.problems:
        say("failed, besides the tests pytest and behave report above:")
        for problem in total.problems:
            say(f"  {problem}")
    say(f"{total.passed} passed, {total.failed} failed, {total.skipped} skipped")
    return 0 if total.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
