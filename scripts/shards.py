"""Shards of the whole run (``scripts/test_all.py --shard I/N``) and their merge (``scripts/merge.py``).

A shard runs a deterministic part of every group: the pytest files and the feature files are
each dealt to the N shards by weight, heaviest first, each to the shard with the least weight so
far (ties: the lower shard, then the file's name), so that every machine that runs shard I of N
with the same files and the same durations file runs the same part. The features are dealt by
scenario (``file:line`` of each scenario, and of each scenario outline with all its examples), each
weighing its share of its file's seconds. The weights are the seconds
each file took in the run that wrote the durations file (``tests/durations.json``, committed: every
machine of a CI pipeline must read the same one; ``scripts/run merge`` writes the new figures in
its folder's ``durations.json`` to copy there); a file it does not know weighs its number of tests
times the median seconds of a test it knows. The checks (ruff, mypy, the import contracts, the
traceability's mapping) and the benchmarks' ratio goals run in shard 1 only, whose pytest part
starts with their seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "tests" / "durations.json"
#: The groups of a durations file; ``fixed`` holds the seconds of the parts shard 1 alone runs.
GROUPS = ("pytest", "features", "fixed")
SHARD = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``I/N`` with 1 <= I <= N (ValueError otherwise)."""
        match = SHARD.fullmatch(text.strip())
        if not match or not 1 <= int(match[1]) <= int(match[2]):
            raise ValueError(f"{text!r}: give the shard as I/N, 1 <= I <= N (1/4, 2/4, ...)")
        return cls(int(match[1]), int(match[2]))

    @property
    def first(self) -> bool:
        return self.index == 1

    @property
    def name(self) -> str:
        """The folder of its reports: ``shard-I-of-N``."""
        return f"shard-{self.index}-of-{self.count}"


def deal(weights: Mapping[str, float], count: int, start: Sequence[float] = ()) -> list[list[str]]:
    """The items dealt to ``count`` bins, heaviest first, each to the lightest bin so far
    (``start``: the bins' weights before the first); each bin's items in name order."""
    loads = [float(start[i]) if i < len(start) else 0.0 for i in range(count)]
    bins: list[list[str]] = [[] for _ in range(count)]
    for item in sorted(weights, key=lambda name: (-weights[name], name)):
        lightest = min(range(count), key=lambda i: (loads[i], i))
        bins[lightest].append(item)
        loads[lightest] += weights[item]
    return [sorted(b) for b in bins]


def feature_units(files: Iterable[str]) -> dict[str, int]:
    """The scenarios of the feature files as behave runs them one by one: ``file:line`` of each
    scenario, and of each scenario outline (all its examples at once), with how many scenarios
    each unit is (an outline: its examples)."""
    from behave.parser import parse_file

    units: dict[str, int] = {}
    for file in files:
        feature = parse_file(str(ROOT / file), language="zh-TW")
        if feature is None:
            continue
        for scenario in feature.scenarios:
            examples = len(list(getattr(scenario, "scenarios", [])))
            units[f"{file}:{scenario.line}"] = max(1, examples)
    return units


def unit_weights(units: Mapping[str, int], known: Mapping[str, float]) -> dict[str, float]:
    """Each unit's share of its feature file's seconds in ``known`` (by its scenarios), else its
    scenarios times the median seconds of a scenario of a known file (1 s when none is known)."""
    per_file: dict[str, int] = {}
    for unit, count in units.items():
        file = unit.rsplit(":", 1)[0]
        per_file[file] = per_file.get(file, 0) + count
    rates = [known[f] / n for f, n in per_file.items() if f in known and n]
    unit_rate = statistics.median(rates) if rates else 1.0
    weights = {}
    for unit, count in units.items():
        file = unit.rsplit(":", 1)[0]
        rate = known[file] / per_file[file] if file in known else unit_rate
        weights[unit] = count * rate
    return weights


def read_durations(path: Path | None = None) -> dict[str, dict[str, float]]:
    path = path or DURATIONS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return {group: {str(k): float(v) for k, v in dict(data.get(group) or {}).items()} for group in GROUPS}


TEST_DEF = re.compile(r"^\s*(?:async\s+)?def\s+test_", re.MULTILINE)
SCENARIO = re.compile(r"^\s*(?:Scenario|Scenario Outline|場景|劇本|場景大綱|劇本大綱)\s*:", re.MULTILINE)


def weights(items: Iterable[str], known: Mapping[str, float], count_pattern: re.Pattern[str]) -> dict[str, float]:
    """Each item's seconds in ``known``, else its tests (``count_pattern`` in its text) times the median
    seconds a test of a known item took (1 s when none is known)."""
    items = list(items)
    per_test = []
    for item in items:
        if item in known:
            tests = _count(item, count_pattern)
            if tests:
                per_test.append(known[item] / tests)
    unit = statistics.median(per_test) if per_test else 1.0
    return {item: known[item] if item in known else max(1, _count(item, count_pattern)) * unit for item in items}


def _count(item: str, pattern: re.Pattern[str]) -> int:
    try:
        return len(pattern.findall((ROOT / item.split("::", 1)[0]).read_text(encoding="utf-8")))
    except OSError:
        return 0


# -- what a run's reports say took how long ---------------------------------------------------
def pytest_durations(xml: Path) -> dict[str, float]:
    """Seconds per test file from pytest's JUnit XML (a test's ``classname`` is its module's dotted
    path, then its class)."""
    seconds: dict[str, float] = {}
    if not xml.exists():
        return seconds
    for case in ET.parse(xml).getroot().iter("testcase"):  # noqa: S314 - our own run's report
        file = module_file(case.get("classname") or "")
        if file is not None:
            seconds[file] = seconds.get(file, 0.0) + float(case.get("time") or 0)
    return {k: round(v, 2) for k, v in sorted(seconds.items())}


def module_file(classname: str) -> str | None:
    parts = classname.split(".")
    for end in range(len(parts), 0, -1):
        candidate = "/".join(parts[:end]) + ".py"
        if (ROOT / candidate).is_file():
            return candidate
    return None


def feature_durations(results: Path) -> dict[str, float]:
    """Seconds per feature file from behave's JSON (the sum of its steps' durations)."""
    seconds: dict[str, float] = {}
    for feature in _features(results):
        file = str(feature.get("location", "")).rsplit(":", 1)[0]
        total = sum(float((step.get("result") or {}).get("duration") or 0)
                    for element in feature.get("elements") or [] for step in element.get("steps") or [])
        seconds[file] = round(seconds.get(file, 0.0) + total, 2)
    return dict(sorted(seconds.items()))


def _features(results: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [f for f in data if isinstance(f, dict)] if isinstance(data, list) else []


# -- combining the outputs of several processes or shards ---------------------------------------
def merge_features_json(parts: Iterable[Path], out: Path) -> int:
    """behave's JSON reports of several processes as one (features in the order of their files);
    the number of features."""
    by_file: dict[str, dict[str, Any]] = {}
    for part in parts:
        for feature in _features(part):
            file = str(feature.get("location", "")).rsplit(":", 1)[0]
            if file not in by_file:
                by_file[file] = feature
                continue
            # The same feature file's scenarios from several processes: one feature, its scenarios in
            # their file's order, its background once, failed if a part of it failed.
            held = by_file[file]
            have = {(e.get("type"), e.get("location")) for e in held.get("elements") or []}
            held["elements"] = [*(held.get("elements") or []), *(e for e in feature.get("elements") or []
                                                                   if (e.get("type"), e.get("location")) not in have)]
            if feature.get("status") == "failed" or held.get("status") == "failed":
                held["status"] = "failed"
    for feature in by_file.values():
        feature["elements"] = sorted(feature.get("elements") or [], key=_line)
    features = [by_file[file] for file in sorted(by_file)]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(features, ensure_ascii=False, indent=2), encoding="utf-8")
    return len(features)


def _line(element: Mapping[str, Any]) -> tuple[int, int]:
    """An element's place in its file: its line (a background before the scenarios of its line)."""
    try:
        line = int(str(element.get("location", "")).rsplit(":", 1)[1])
    except (IndexError, ValueError):
        line = 0
    return line, 0 if element.get("type") == "background" else 1


def merge_junit(parts: Iterable[Path], out: Path) -> None:
    """pytest's JUnit XML files as one ``<testsuites>`` of every part's suites."""
    merged = ET.Element("testsuites")
    for part in parts:
        if not part.exists():
            continue
        root = ET.parse(part).getroot()  # noqa: S314 - our own run's reports
        merged.extend([root] if root.tag == "testsuite" else list(root.iter("testsuite")))
    out.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)


def merge_screenshots(parts: Iterable[Path], out: Path) -> int:
    """The screenshots folders of several processes (each with its manifest, simulator/reporting/
    manifest.py) as one: the images copied (each process ran other feature files, so their paths
    differ), the scenarios and shots of every manifest in one. How many shots."""
    from simulator.reporting import manifest

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    merged: dict[str, Any] = {"version": manifest.VERSION, "started": None, "finished": None,
                              "scenarios": {}, "shots": []}
    finished: list[str] = []
    every_finished = True
    for part in parts:
        if not (part / manifest.MANIFEST).exists():
            continue
        data = manifest.read(part)
        for shot in data["shots"]:
            target = out / shot["file"]
            if target.exists():
                raise ValueError(f"{shot['file']}: two parts took a screenshot of the same name")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(part / shot["file"], target)
        merged["scenarios"].update(data["scenarios"])
        merged["shots"] += data["shots"]
        if data.get("started") and (merged["started"] is None or data["started"] < merged["started"]):
            merged["started"] = data["started"]
        if data.get("finished"):
            finished.append(data["finished"])
        else:
            every_finished = False
    merged["finished"] = max(finished) if finished and every_finished else None
    (out / manifest.MANIFEST).write_text(json.dumps(merged, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(merged["shots"])


def write_durations(path: Path, pytest: Mapping[str, float], features: Mapping[str, float],
                    fixed: Mapping[str, float]) -> None:
    data = {"pytest": dict(sorted(pytest.items())), "features": dict(sorted(features.items())),
            "fixed": dict(sorted(fixed.items()))}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
