"""Shards (scripts/test_all.py --shard I/N, scripts/shards.py) and their merge (scripts/merge.py).

- The four shards of the whole run: their pytest files and scenarios are disjoint and together
  are the unsharded run's; the test ids pytest collects from each shard's files are disjoint and
  together are what it collects unsharded; the same for the scenarios of the feature files.
- Four shards run at once on a part of the suite (some unit test files and two feature files,
  ``--shard`` applied to them as to the whole: their scenarios dealt to the four), each in its own
  reports folder with its own homes and stacks; merged, they end with the closing line of the same
  part run unsharded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from behave.parser import parse_file

from tests.support.paths import ROOT

TEST_ALL = [sys.executable, str(ROOT / "scripts" / "test_all.py")]
N = 4
CLOSING = re.compile(r"^(\d+) passed, (\d+) failed, (\d+) skipped$")


def listed(*args: str) -> dict[str, list[str]]:
    done = subprocess.run([*TEST_ALL, *args, "--list"], cwd=ROOT, capture_output=True, text=True, check=True)
    data: dict[str, list[str]] = json.loads(done.stdout)
    return data


def collected(files: list[str]) -> list[str]:
    """The test ids pytest collects from ``files``."""
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def scenarios(units: list[str]) -> list[str]:
    """``file:line`` of every scenario (each example of an outline) that the units run: a feature
    file, or a scenario or outline of one by its ``file:line``."""
    found = []
    for unit in units:
        file, _, line = unit.partition(":") if unit.rsplit(":", 1)[-1].isdigit() else (unit, "", "")
        feature = parse_file(str(ROOT / file), language="zh-TW")
        assert feature is not None
        for top in feature.scenarios:
            if not line or top.line == int(line):
                examples = list(getattr(top, "scenarios", [])) or [top]
                found += [f"{file}:{s.line}" for s in examples]
    return found


def disjoint_union(parts: list[list[str]]) -> set[str]:
    every = [item for part in parts for item in part]
    assert len(every) == len(set(every)), "an item is in two shards"
    return set(every)


def test_the_shards_of_the_whole_run_are_disjoint_and_together_the_whole_run() -> None:
    whole = listed()
    shards = [listed("--shard", f"{i}/{N}") for i in range(1, N + 1)]
    assert disjoint_union([s["pytest"] for s in shards]) == set(whole["pytest"])
    assert disjoint_union([s["features"] for s in shards]) == set(whole["features"])
    assert all(s["pytest"] for s in shards) and all(s["features"] for s in shards)
    # The same again, as the tools see them: pytest's test ids, behave's scenarios.
    with ThreadPoolExecutor(max_workers=2) as pool:
        ids = list(pool.map(collected, [whole["pytest"], *(s["pytest"] for s in shards)]))
    assert len(ids[0]) > 1000
    assert disjoint_union(ids[1:]) == set(ids[0])
    every_scenario = scenarios(sorted(str(f.relative_to(ROOT)) for f in (ROOT / "features").glob("*.feature")))
    assert len(every_scenario) > 90
    assert disjoint_union([scenarios(s["features"]) for s in shards]) == set(every_scenario)


def test_a_shard_is_the_same_on_every_machine_and_a_filter_shards_what_it_selects() -> None:
    """Dealt by the committed durations file, a shard's files are the same whenever it is asked; paths
    given to pytest are shared out, not added to."""
    assert listed("--shard", "2/3") == listed("--shard", "2/3")
    part = listed("--shard", "1/2", "tests/unit")["pytest"] + listed("--shard", "2/2", "tests/unit")["pytest"]
    assert sorted(part) == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "unit").glob("test_*.py"))


#: The part of the suite the four shards run: unit test files of several kinds, and two features.
PYTEST_FILES = ["tests/unit/test_bank_ids.py", "tests/unit/test_bank_customers.py", "tests/unit/test_ca_profile.py",
                "tests/unit/test_web_ids.py", "tests/unit/test_card_pin.py", "tests/unit/test_root_marker.py",
                "tests/unit/test_errors.py", "tests/unit/test_agent_guard.py"]
FEATURES = ["features/虛擬憑證晶片卡.feature", "features/憑證查詢.feature"]


def run_all(reports: Path, *args: str) -> tuple[int, tuple[int, ...], str]:
    cmd = [*TEST_ALL, "--no-checks", "--no-bench", "--jobs", "1", "--reports", str(reports), *args, *PYTEST_FILES,
           "--features", *FEATURES]
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    return done.returncode, closing(done.stdout), done.stdout[-4000:] + done.stderr[-4000:]


def closing(output: str) -> tuple[int, ...]:
    last = output.rstrip().splitlines()[-1] if output.strip() else ""
    match = CLOSING.match(last)
    assert match, f"no closing line: {last!r}"
    return tuple(int(n) for n in match.groups())


@pytest.mark.slow
def test_four_shards_at_once_merge_into_the_totals_of_the_unsharded_run(tmp_path: Path) -> None:
    def shard(i: int) -> tuple[int, tuple[int, ...], str]:
        return run_all(tmp_path / f"shard-{i}-of-{N}", "--shard", f"{i}/{N}")

    with ThreadPoolExecutor(max_workers=N) as pool:
        results = list(pool.map(shard, range(1, N + 1)))
    for code, _, said in results:
        assert code == 0, said
    infos: list[dict[str, Any]] = [json.loads((tmp_path / f"shard-{i}-of-{N}" / "shard.json").read_text())
                                   for i in range(1, N + 1)]
    assert sorted(f for info in infos for f in info["pytest"]) == sorted(PYTEST_FILES)
    assert sorted(scenarios([u for info in infos for u in info["features"]])) == sorted(scenarios(FEATURES))
    files_of = [{u.rsplit(":", 1)[0] for u in info["features"]} for info in infos]
    assert any(a & b for i, a in enumerate(files_of) for b in files_of[i + 1:])  # a feature file split up

    merged = subprocess.run([sys.executable, str(ROOT / "scripts" / "merge.py"), "--out", str(tmp_path / "merged"),
                             *(str(tmp_path / f"shard-{i}-of-{N}") for i in range(1, N + 1))],
                            cwd=ROOT, capture_output=True, text=True)
    assert merged.returncode == 0, merged.stdout[-4000:] + merged.stderr[-4000:]
    code, whole, said = run_all(tmp_path / "whole")
    assert code == 0, said
    assert closing(merged.stdout) == whole
    assert whole[0] > len(PYTEST_FILES) + 10  # the pytest tests, the scenarios and the report
    # The merged reports are one run's: every scenario in behave's JSON, every shard's JUnit suites.
    ran = json.loads((tmp_path / "merged" / "features.json").read_text(encoding="utf-8"))
    assert sorted(f["location"].rsplit(":", 1)[0] for f in ran) == sorted(FEATURES)
    assert (tmp_path / "merged" / "features.html").exists()
    def counts(folder: str) -> dict[str, tuple[int, int, int]]:
        summary = json.loads((tmp_path / folder / "summary.json").read_text())
        return {part: (c["passed"], c["failed"], c["skipped"]) for part, c in summary.items()}

    assert counts("merged") == counts("whole")
