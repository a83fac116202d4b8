"""docs/traceability.md: every step and instruction of the bank's manual, the scenarios that cover it,
and their result in the last run, in Traditional Chinese (the bank's staff read it). Generated; CI
checks that the committed file is what this makes.

    .venv/bin/python scripts/traceability.py             # write docs/traceability.md (results: reports/features.json)
    .venv/bin/python scripts/traceability.py --check     # fail on a difference, or an instruction without a scenario
    .venv/bin/python scripts/traceability.py --check --mapping-only   # the same, the results left out

The mapping comes from the feature files alone: a scenario covers an instruction when it carries the
instruction's tag (on the scenario, its feature, its outline or its Examples block). The manual's
instructions are ``MANUAL`` of simulator/procedure.py, in the manual's words; a step of the manual
(tag ``@步驟N``) is covered by the scenarios of its own tag and of its instructions' tags. The results
come from behave's JSON report of the last run (``reports/features.json``, which ``scripts/test_all.py``
writes), matched by the scenario's place in its file.

It fails (exit 1) when an instruction has no scenario, when a feature carries a tag that looks like
an instruction's but is none (a typo would silently drop a scenario), and, with ``--check``, when
docs/traceability.md is not what it would write now.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from simulator.procedure import MANUAL, STEP_TITLES, TITLE, Instruction
from simulator.reporting.sections import BEYOND_TAG, GOLDEN_TAG, PATHS
from simulator.reporting.words import scenario_name

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"
DOC = ROOT / "docs" / "traceability.md"
REPORT = ROOT / "reports" / "features.json"
RESULTS_HEADING = "## 最近一次執行的結果"
#: Tags that group scenarios but name no instruction of the manual (the golden runs' among them).
OTHER_TAGS = frozenset({"browser", "步驟2至8", "黃金流程", "線上更新", GOLDEN_TAG} | {p.tag for p in PATHS})
#: A tag that looks like one of the manual's (步驟…, …步驟8 …) must be one.
LOOKS_LIKE_MANUAL = re.compile(r"步驟|EOI繼續")


PASSED, FAILED, NOT_RUN = "通過", "失敗", "未執行"
RESULT_WORDS = {"passed": PASSED, "failed": FAILED, "error": FAILED, "hook_error": FAILED,
                "skipped": "略過", "untested": NOT_RUN, None: NOT_RUN}


@dataclass(frozen=True)
class Scenario:
    name: str
    location: str  # features/….feature:LINE, as behave's reports write it
    tags: frozenset[str]


def scenarios(folder: Path = FEATURES) -> list[Scenario]:
    """Every scenario of every feature (outlines expanded, one per Examples row), in file order."""
    from behave.parser import parse_file

    found: list[Scenario] = []
    for path in sorted(folder.glob("*.feature")):
        feature = parse_file(str(path))
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        for scenario in feature.walk_scenarios():
            found.append(Scenario(scenario.name.strip(), f"{where}:{scenario.location.line}",
                                  frozenset(scenario.effective_tags)))
    return found


def results(report: Path | None) -> dict[str, str]:
    """Each scenario's status in behave's JSON report (by location); empty without a report."""
    if report is None or not report.exists():
        return {}
    answer: dict[str, str] = {}
    for feature in json.loads(report.read_text(encoding="utf-8")):
        for element in feature.get("elements", []):
            if element.get("type") in ("scenario", "scenario_outline"):
                answer[str(element["location"])] = str(element.get("status"))
    return answer


def problems(found: Iterable[Scenario]) -> list[str]:
    """What makes the mapping unusable: an instruction without a scenario, an unknown manual-like tag."""
    found = list(found)
    known = {i.tag for i in MANUAL} | {f"步驟{step}" for step in range(1, 10)}
    said: list[str] = []
    for instruction in MANUAL:
        if not covering(instruction, found):
            said.append(f"no scenario covers @{instruction.tag}: {instruction.words}")
    for step in range(1, 10):
        if not step_scenarios(step, found):
            said.append(f"no scenario covers 步驟{step}")
    for scenario in found:
        for tag in sorted(scenario.tags - known - OTHER_TAGS):
            if LOOKS_LIKE_MANUAL.search(tag):
                said.append(f"{scenario.location}: @{tag} is not an instruction of the manual (a typo?)")
    return said


def covering(instruction: Instruction, found: Iterable[Scenario]) -> list[Scenario]:
    return [s for s in found if instruction.tag in s.tags]


def step_scenarios(step: int, found: Iterable[Scenario]) -> list[Scenario]:
    tags = {i.tag for i in MANUAL if i.step == step} | {f"步驟{step}"}
    return [s for s in found if s.tags & tags]


def _manual_tags() -> set[str]:
    return {i.tag for i in MANUAL} | {f"步驟{step}" for step in range(1, 10)}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _name(scenario: Scenario) -> str:
    """The scenario's name without behave's ``-- @1.2`` suffix: ``甲（例子「乙」第 2 列）``."""
    name = scenario_name(scenario.name)
    return _cell(f"{name.title}（{name.example_text}）" if name.example_text else name.title)


def _golden_runs(found: list[Scenario]) -> list[str]:
    """The section on the golden runs: each path of the manual and its scenarios."""
    lines = ["", "## 操作手冊的黃金場景", "",
             f"依操作手冊的時間執行、其畫面構成逐頁對照文件的場景（標籤 `@{GOLDEN_TAG}` 及路徑的標籤）。", "",
             "| 路徑 | 標籤 | 場景 | 位置 |", "| --- | --- | --- | --- |"]
    for path in PATHS:
        golden = [s for s in found if GOLDEN_TAG in s.tags and path.tag in s.tags]
        if not golden:
            lines.append(f"| {path.title} | `@{path.tag}` | （尚無黃金場景） | |")
        lines += [f"| {path.title} | `@{path.tag}` | {_name(s)} | `{s.location}` |" for s in golden]
    return lines


def render(found: list[Scenario], status: dict[str, str] | None) -> str:
    """The document; ``status`` None leaves the results out (the part --mapping-only compares)."""
    lines = [
        "# 操作手冊與行為規格的對照",
        "",
        "本文件由 `python scripts/traceability.py` 依 `features/*.feature` 的標籤及最近一次執行的結果",
        "（`reports/features.json`）產生，請勿手動修改：`scripts/test_all.py` 會重新產生並比對，",
        "文件與產生的內容不同、或操作手冊的某項指示沒有場景驗證時，建置即失敗。",
        "",
        f"操作手冊為合作金庫銀行的「{TITLE}」（共九個步驟）。場景帶有某項指示的標籤（標在場景本身、",
        "所屬功能、場景大綱或其例子上）即驗證該指示；一個步驟由帶有該步驟標籤及其各項指示標籤的場景驗證。",
        "逐步附上模擬環境畫面、可與操作手冊逐頁對照的文件，以及依步驟整理、附每一步畫面的行為規格報告，",
        "見 [docs/reports.md](reports.md)。",
        "",
        "## 九個步驟",
        "",
        "| 步驟 | 內容 | 場景數 |",
        "| --- | --- | --- |",
    ]
    for step in range(1, 10):
        lines.append(f"| 步驟{step} | {_cell(STEP_TITLES[step])} | {len(step_scenarios(step, found))} |")
    lines += ["", "## 各項指示", "", "| 標籤 | 操作手冊原文 | 場景數 |", "| --- | --- | --- |"]
    for instruction in MANUAL:
        lines.append(f"| `@{instruction.tag}` | {_cell(instruction.words)} | {len(covering(instruction, found))} |")
    for instruction in MANUAL:
        lines += ["", f"### @{instruction.tag}", "", f"> {instruction.words}", "",
                  "| 場景 | 位置 |", "| --- | --- |"]
        for scenario in covering(instruction, found):
            lines.append(f"| {_name(scenario)} | `{scenario.location}` |")
    beyond = [s for s in found if not s.tags & _manual_tags() and BEYOND_TAG in s.tags]
    if beyond:
        lines += ["", "### 操作手冊以外的功能", "",
                  f"操作手冊未附這些功能的畫面（`@{BEYOND_TAG}`）：其畫面依操作手冊所附畫面的樣式，不對應任何指示。",
                  "", "| 場景 | 位置 |", "| --- | --- |"]
        lines += [f"| {_name(s)} | `{s.location}` |" for s in beyond]
    unmapped = [s for s in found if not s.tags & _manual_tags() and BEYOND_TAG not in s.tags]
    if unmapped:
        lines += ["", "### 未對應任何指示的場景", "", "| 場景 | 位置 |", "| --- | --- |"]
        lines += [f"| {_name(s)} | `{s.location}` |" for s in unmapped]
    lines += _golden_runs(found)
    if status is None:
        return "\n".join(lines) + "\n"
    lines += ["", RESULTS_HEADING, ""]
    if not status:
        lines += [f"找不到執行結果（`reports/features.json`）：以下結果皆為「{NOT_RUN}」。", ""]
    def counts(covered: list[Scenario]) -> str:
        words = [RESULT_WORDS.get(status.get(s.location), NOT_RUN) for s in covered]
        passed, failed = words.count(PASSED), words.count(FAILED)
        return f"{len(words)} | {passed} | {failed} | {len(words) - passed - failed}"

    heads = "場景數 | 通過 | 失敗 | 未執行或略過 |"
    lines += [f"| 步驟 | {heads}", "| --- | --- | --- | --- | --- |"]
    lines += [f"| 步驟{step} | {counts(step_scenarios(step, found))} |" for step in range(1, 10)]
    lines += ["", f"| 標籤 | {heads}", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `@{instruction.tag}` | {counts(covering(instruction, found))} |" for instruction in MANUAL]
    lines += ["", "| 位置 | 場景 | 結果 |", "| --- | --- | --- |"]
    for scenario in found:
        if scenario.tags & _manual_tags():
            word = RESULT_WORDS.get(status.get(scenario.location), NOT_RUN)
            lines.append(f"| `{scenario.location}` | {_name(scenario)} | {word} |")
    return "\n".join(lines) + "\n"


def mapping_part(text: str) -> str:
    head, _, _ = text.partition(f"\n{RESULTS_HEADING}\n")
    return head.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with docs/traceability.md; write nothing")
    parser.add_argument("--mapping-only", action="store_true", help="leave the results out of the comparison")
    parser.add_argument("--report", type=Path, default=REPORT, help="behave's JSON report of the last run")
    parser.add_argument("--out", type=Path, default=None, help="also write the generated document here")
    args = parser.parse_args(argv)
    found = scenarios()
    wrong = problems(found)
    for problem in wrong:
        print(f"traceability: {problem}", file=sys.stderr)
    made = render(found, None if args.mapping_only else results(args.report))
    if args.out is not None:
        args.out.write_text(made, encoding="utf-8")
    if not args.check:
        if wrong:
            return 1
        DOC.write_text(made, encoding="utf-8")
        print(f"traceability: wrote {DOC.relative_to(ROOT)} ({len(found)} scenarios)")
        return 0
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    if args.mapping_only:
        committed = mapping_part(committed)
    if committed != made:
        diff = difflib.unified_diff(committed.splitlines(), made.splitlines(), "docs/traceability.md (committed)",
                                    "docs/traceability.md (generated)", lineterm="", n=1)
        print("\n".join(list(diff)[:80]), file=sys.stderr)
        print("traceability: docs/traceability.md is out of date: run `.venv/bin/python scripts/traceability.py` "
              "after a full run and commit it", file=sys.stderr)
        return 1
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
