"""Everything CI runs, in one command, ending with one plain line: ``N passed, N failed``.

    .venv/bin/python scripts/test_all.py            # checks, pytest, the zh-TW features
    .venv/bin/python scripts/test_all.py --no-features

1. The checks: ruff, mypy (strict for fxml/), the import contracts (lint-imports),
   and the traceability of the manual's steps to the features (docs/traceability.md
   as scripts/traceability.py makes it from the feature files; every instruction covered).
2. pytest (every group: unit, pcsc, opensc, yubico, integration), JUnit XML in reports/.
3. The Gherkin features (behave, zh-TW) through chromium: JUnit XML in
   reports/features/, behave's JSON in reports/features.json, the screenshots and their
   manifest in reports/screenshots/; from those, the report for the bank's staff
   (reports/features.html and .pdf, ``fxmlsim report``) and the living manual
   (reports/manual/, ``fxmlsim manual``). After a full run, two checks: the traceability
   with results (docs/traceability.md must be what this run makes of it; the run's own is
   kept as reports/traceability.md), and the living manual (every path's golden screens).

The closing line sums the three: each check counts as one test, each pytest
test as one, each behave scenario as one. The exit status is 0 only if nothing
failed. ``reports/summary.json`` keeps the counts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
REPORTS = ROOT / "reports"

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

    def add(self, other: Counts) -> None:
        self.passed += other.passed
        self.failed += other.failed
        self.skipped += other.skipped


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
    """Counts from JUnit XML files (pytest's one file, behave's one per feature)."""
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
    return counts


def run_pytest(args: list[str]) -> Counts:
    xml = REPORTS / "pytest.xml"
    xml.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={xml}", *args]
    say(f"[pytest] {' '.join(cmd[1:])}")
    done = subprocess.run(cmd, cwd=ROOT)
    if not xml.exists():
        return Counts(failed=1)  # pytest could not even collect
    counts = junit_counts([xml])
    if done.returncode not in (0, 1, 5) and counts.failed == 0:
        counts.failed += 1  # interrupted or an internal error
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
        *args,
    ]
    say(f"[features] {' '.join(cmd[1:])}")
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    counts = junit_counts(sorted(out.glob("TESTS-*.xml")))
    if done.returncode != 0 and counts.failed == 0:
        counts.failed += 1  # behave stopped before it could report a scenario
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
            counts.failed += 1
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
    parser.add_argument("--no-features", action="store_true")
    args, pytest_args = parser.parse_known_args()
    args.pytest_args = pytest_args
    REPORTS.mkdir(exist_ok=True)
    parts: dict[str, Counts] = {}
    if not args.no_checks:
        parts["checks"] = run_checks()
    if not args.no_pytest:
        parts["pytest"] = run_pytest(args.pytest_args)
    if not args.no_features:
        # With pytest off, extra arguments are behave's (bash scripts/run features --tags=...).
        behave_args = args.pytest_args if args.no_pytest else []
        parts["features"] = run_features(behave_args)
        if not behave_args:  # a whole run: its results are the ones docs/traceability.md must show
            parts["traceability"] = run_traceability()
        parts["documents"] = run_documents(whole=not behave_args)
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
    say(f"{total.passed} passed, {total.failed} failed")
    return 0 if total.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
