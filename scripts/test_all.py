"""Everything CI runs, in one command, ending with one plain line: ``N passed, N failed, N skipped``.

    .venv/bin/python scripts/test_all.py            # checks, pytest, the zh-TW features
    .venv/bin/python scripts/test_all.py --no-features
    .venv/bin/python scripts/test_all.py --shard 2/4  # a part of every group (scripts/shards.py), then
    .venv/bin/python scripts/merge.py               # the shards' reports as one, the same closing line

Within a run (or a shard), pytest runs on ``--jobs`` workers (pytest-xdist, ``-n``; default: the
machine's cores, at most 4) and the features in as many behave processes, each with its own
fxmlsim home and stack (every port chosen free) and its own screenshots, the feature files dealt
to them by their last durations; their JSON and screenshots are merged into one run's.

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
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import shards
from shards import Shard

from fxml import env

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
#: This run's reports: reports/, or reports/shard-I-of-N/ for a shard (``--reports`` chooses another).
REPORTS = ROOT / "reports"
#: The environment variable behave's hooks (environment.py) take the screenshots' folder from.
SCREENSHOTS_ENV = env.SCREENSHOTS

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


def split_pytest_args(args: list[str]) -> tuple[list[str], list[str]]:
    """pytest's arguments as (options, paths): a path is an argument that is not an option and names
    a file or folder of the repository (``tests/unit``, ``tests/unit/test_x.py::test_y``)."""
    options: list[str] = []
    paths: list[str] = []
    for arg in args:
        if not arg.startswith("-") and arg.split("::", 1)[0] and (ROOT / arg.split("::", 1)[0]).exists():
            paths.append(arg)
        else:
            options.append(arg)
    return options, paths


def test_files(paths: list[str]) -> list[str]:
    """The test files under ``paths`` (default: pyproject's ``testpaths``, tests/), as pytest finds
    them (``test_*.py``, ``*_test.py``); a file or test id given is kept as given."""
    found: set[str] = set()
    for given in paths or ["tests"]:
        path = ROOT / given.split("::", 1)[0]
        if "::" in given or path.is_file():
            found.add(given)
            continue
        for pattern in ("test_*.py", "*_test.py"):
            found.update(f.relative_to(ROOT).as_posix() for f in path.rglob(pattern))
    return sorted(found)


def shard_pytest_files(paths: list[str], shard: Shard, durations: dict[str, dict[str, float]],
                       first_extra: float) -> list[str]:
    files = test_files(paths)
    weights = shards.weights(files, durations["pytest"], shards.TEST_DEF)
    return shards.deal(weights, shard.count, start=[first_extra])[shard.index - 1]


def xdist_options(options: list[str], jobs: int, files: int | None) -> list[str]:
    """``-n J`` unless one worker will do (one job, one file) or the arguments choose themselves;
    ``--dist worksteal``: each worker starts with a run of consecutive tests (a module's, mostly,
    so its fixtures start once per worker) and takes tests from the other when it runs out: one
    long file (tests/pcsc/test_lifecycle.py) does not hold up the run as it would on one worker."""
    if jobs < 2 or files == 1 or any(o.startswith(("-n", "--numprocesses", "--dist", "-p")) for o in options):
        return []
    return ["-n", str(jobs), "--dist", "worksteal"]


def run_pytest(args: list[str], jobs: int = 1, files: list[str] | None = None) -> Counts:
    """pytest on ``jobs`` workers; ``files``: only these (a shard's), with ``args``' options."""
    xml = REPORTS / "pytest.xml"
    xml.unlink(missing_ok=True)
    if files is not None:
        options, _ = split_pytest_args(args)
        args = [*options, *files]
    cmd = [sys.executable, "-m", "pytest", f"--junitxml={xml}",
           *xdist_options(args, jobs, len(files) if files is not None else None), *args]
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


BEHAVE_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}


def feature_files(given: list[str] | None) -> list[str]:
    """The feature files of a whole run (features/*.feature), or those given."""
    if given:
        return sorted({Path(f).resolve().relative_to(ROOT).as_posix() for f in given})
    return sorted(f.relative_to(ROOT).as_posix() for f in (ROOT / "features").glob("*.feature"))


def feature_weights(files: list[str], durations: dict[str, dict[str, float]]) -> dict[str, float]:
    """The scenarios (``file:line``; an outline with its examples) of ``files``, by weight."""
    return shards.unit_weights(shards.feature_units(files), durations["features"])


def shard_features(files: list[str], shard: Shard, durations: dict[str, dict[str, float]]) -> list[str]:
    """The scenarios of shard I of N (``file:line``)."""
    return shards.deal(feature_weights(files, durations), shard.count)[shard.index - 1]


def behave_targets(units: list[str]) -> tuple[list[str], bool]:
    """What a behave process is given for ``units``: a feature file whose every scenario is there as
    the file, the others' scenarios as ``file:line``; and whether some file is there in part
    (then ``--no-skipped``: what behave leaves out of it is not counted as skipped)."""
    by_file: dict[str, list[str]] = {}
    for unit in units:
        by_file.setdefault(unit.rsplit(":", 1)[0], []).append(unit)
    targets: list[str] = []
    partial = False
    for file, of_file in sorted(by_file.items()):
        if len(of_file) == len(shards.feature_units([file])):
            targets.append(file)
        else:
            targets += sorted(of_file, key=lambda u: int(u.rsplit(":", 1)[1]))
            partial = True
    return targets, partial


def run_features(args: list[str]) -> Counts:
    """behave with ``args`` (a filter: tags, names), in one process, as ``bash scripts/run features --tags=...``."""
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
    env = {**os.environ, **BEHAVE_ENV, SCREENSHOTS_ENV: str(REPORTS / "screenshots")}
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    return feature_counts(out, [done.returncode])


def feature_counts(out: Path, codes: list[int]) -> Counts:
    counts = junit_counts(sorted(out.glob("TESTS-*.xml")))
    root_skips_fail(counts)
    failed_code = next((code for code in codes if code != 0), 0)
    if ran_nothing(counts):
        counts.fail(f"behave ran no scenario (exit status {failed_code})")
    elif failed_code != 0 and counts.failed == 0:
        counts.fail(f"behave exited {failed_code} without a failed scenario")  # stopped before it reported
    return counts


def run_feature_pool(units: list[str], jobs: int, durations: dict[str, dict[str, float]]) -> Counts:
    """The scenarios (``file:line``) in ``jobs`` behave processes at once, each with its own fxmlsim
    home and stack (environment.py), its own JSON report, JUnit files and screenshots (merged into
    this run's afterwards) and its output in a log, printed when it ends; the scenarios dealt to
    them by their durations."""
    out = REPORTS / "features"
    parts_dir = REPORTS / "features-parts"
    for stale in (out, parts_dir):
        shutil.rmtree(stale, ignore_errors=True)
    out.mkdir(parents=True)
    weights = {u: w for u, w in feature_weights(sorted({u.rsplit(":", 1)[0] for u in units}), durations).items()
               if u in set(units)}
    groups = [g for g in shards.deal(weights, max(1, min(jobs, len(units)))) if g]
    running: list[tuple[Path, list[str], subprocess.Popen[bytes]]] = []
    for k, group in enumerate(groups, start=1):
        part = parts_dir / f"{k}"
        part.mkdir(parents=True)
        targets, partial = behave_targets(group)
        cmd = [str(VENV_BIN / "behave"), "--no-color", "--format", "json", "--outfile", str(part / "features.json"),
               "--format", "pretty", "--junit", "--junit-directory", str(part / "junit"),
               *(["--no-skipped"] if partial else []), *targets]
        say(f"[features] process {k} of {len(groups)}: {' '.join(cmd[1:])}")
        env = {**os.environ, **BEHAVE_ENV, SCREENSHOTS_ENV: str(part / "screenshots")}
        with open(part / "behave.log", "wb") as log:
            running.append((part, group, subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                                          stderr=subprocess.STDOUT)))
    codes = []
    for part, group, proc in running:
        codes.append(proc.wait())
        say(f"[features] process {part.name} ({len(group)} scenarios): exit status {proc.returncode}")
        sys.stdout.write((part / "behave.log").read_text(encoding="utf-8", errors="replace"))
        for xml in sorted((part / "junit").glob("TESTS-*.xml")):  # one per feature file, in each process
            shutil.copyfile(xml, out / f"{xml.stem}.{part.name}.xml")
    parts = [part for part, _, _ in running]
    shards.merge_features_json([p / "features.json" for p in parts], REPORTS / "features.json")
    shards.merge_screenshots([p / "screenshots" for p in parts], REPORTS / "screenshots")
    return feature_counts(out, codes)


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
           "--report", str(REPORTS / "features.json"), "--out", str(REPORTS / "traceability.md")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode == 0:
        say("[check] traceability with this run's results: ok")
        return Counts(passed=1)
    say("[check] traceability with this run's results: FAILED")
    say((done.stdout + done.stderr).rstrip())
    return Counts(failed=1)


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def main() -> int:
    global REPORTS  # the one run's folder, chosen once here
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--no-checks", action="store_true")
    parser.add_argument("--no-pytest", action="store_true")
    parser.add_argument("--no-bench", action="store_true")
    parser.add_argument("--no-features", action="store_true")
    parser.add_argument("--shard", type=Shard.parse, metavar="I/N",
                        help="a part of every group: pytest by file, the features by file; the checks and the "
                             "benchmarks in shard 1 only (scripts/shards.py); reports in reports/shard-I-of-N/")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="pytest's workers (xdist) and behave's processes (default: the cores, at most 4)")
    parser.add_argument("--reports", type=Path, help="this run's reports (default: reports/, or reports/shard-I-of-N/)")
    parser.add_argument("--durations", type=Path, default=shards.DURATIONS,
                        help="the seconds each file took, that the shards are dealt by (tests/durations.json)")
    parser.add_argument("--features", nargs="+", metavar="FILE", dest="feature_files",
                        help="these feature files only (of which a shard takes its part)")
    parser.add_argument("--list", action="store_true",
                        help="print the pytest files and feature files this run (or shard) would run, as JSON")
    args, pytest_args = parser.parse_known_args()
    args.pytest_args = pytest_args
    not_features = [f for f in args.feature_files or [] if not f.endswith(".feature")]
    if not_features:  # --features takes every argument after it: pytest's go before it
        parser.error(f"--features takes feature files, not {' '.join(not_features)} (give pytest's arguments first)")
    REPORTS = (args.reports or (ROOT / "reports" / args.shard.name if args.shard else ROOT / "reports")).resolve()
    return run(args)


def plan(args: argparse.Namespace, durations: dict[str, dict[str, float]]
         ) -> tuple[list[str] | None, list[str] | None]:
    """The pytest files (None: pytest's own collection of its arguments) and the feature files
    (None: behave's arguments choose) of this run or shard."""
    shard: Shard | None = args.shard
    pytest_files = features = None
    if shard is not None:
        fixed = durations["fixed"]
        extra = (0 if args.no_checks else fixed.get("checks", 0)) + (0 if args.no_bench else fixed.get("bench", 0))
        pytest_files = shard_pytest_files(split_pytest_args(args.pytest_args)[1], shard, durations, extra)
    if not (args.no_pytest and args.pytest_args):
        files = feature_files(args.feature_files)
        features = shard_features(files, shard, durations) if shard is not None else list(shards.feature_units(files))
    return pytest_files, features


def run(args: argparse.Namespace) -> int:
    durations = shards.read_durations(args.durations)
    shard: Shard | None = args.shard
    # With pytest off, extra arguments are behave's (bash scripts/run features --tags=...).
    behave_args = args.pytest_args if args.no_pytest else []
    first = shard is None or shard.first
    pytest_files, features = plan(args, durations)
    if args.list:
        listed = pytest_files if pytest_files is not None else test_files(split_pytest_args(args.pytest_args)[1])
        print(json.dumps({"pytest": [] if args.no_pytest else listed,
                          "features": [] if args.no_features else features or []}, ensure_ascii=False))
        return 0
    REPORTS.mkdir(parents=True, exist_ok=True)
    if shard is not None:
        say(f"[shard] {shard.index} of {shard.count}: {len(pytest_files or [])} pytest files, "
            f"{len(features or [])} scenarios of {len({u.rsplit(':', 1)[0] for u in features or []})} feature files"
            f"{'' if first else '; the checks and benchmarks run in shard 1'}; "
            f"reports in {REPORTS}")
        (REPORTS / "shard.json").write_text(json.dumps(
            {"index": shard.index, "count": shard.count, "pytest": pytest_files, "features": features,
             # Whether the shards together ran every feature: the merge checks the traceability and the manual then.
             "whole_features": not behave_args and not args.feature_files}, indent=1,
            ensure_ascii=False), encoding="utf-8")
    parts: dict[str, Counts] = {}
    took: dict[str, float] = {}
    if not args.no_checks and first:
        parts["checks"] = timed(took, "checks", run_checks)
    if not args.no_pytest and pytest_files != []:
        parts["pytest"] = run_pytest(args.pytest_args, args.jobs, pytest_files)
    if not args.no_bench and first:
        parts["bench"] = timed(took, "bench", run_bench)
    if not args.no_features and features != []:
        if behave_args:
            parts["features"] = run_features(behave_args)
        else:
            parts["features"] = run_feature_pool(features or [], args.jobs, durations)
        whole = not behave_args and not args.feature_files
        if shard is None:  # a shard's documents are the merge's (scripts/merge.py), of every shard's features
            if whole:  # a whole run: its results are the ones docs/traceability.md must show
                parts["traceability"] = run_traceability()
            parts["documents"] = run_documents(whole=whole)
    write_durations(took)
    return summarize(parts)


def timed(took: dict[str, float], name: str, part: Callable[[], Counts]) -> Counts:
    started = time.monotonic()
    counts = part()
    took[name] = round(time.monotonic() - started, 1)
    return counts


def write_durations(fixed: dict[str, float]) -> None:
    """What this run measured, in the durations file's shape (reports/durations.json): copied to
    tests/durations.json, it deals the next shards (scripts/run merge writes the shards' together)."""
    shards.write_durations(REPORTS / "durations.json", shards.pytest_durations(REPORTS / "pytest.xml"),
                           shards.feature_durations(REPORTS / "features.json"), fixed)


def summarize(parts: dict[str, Counts]) -> int:
    """Each part's counts, the skips and the other failures, then the closing line; the exit status."""
    total = Counts()
    for counts in parts.values():
        total.add(counts)
    (REPORTS / "summary.json").write_text(json.dumps({k: asdict(v) for k, v in parts.items()}, indent=2))
    say("")
    for name, counts in parts.items():
        say(f"  {name}: {counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped")
    if "documents" in parts:
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
