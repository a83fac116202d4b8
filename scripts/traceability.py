"""docs/traceability.md: every step and instruction of the bank's manual, the scenarios that cover it,
and their result in the last run. Generated; CI checks that the committed file is what this makes.

    .venv/bin/python scripts/traceability.py             # write docs/traceability.md (results: reports/features.json)
    .venv/bin/python scripts/traceability.py --check     # fail on a difference, or an instruction without a scenario
    .venv/bin/python scripts/traceability.py --check --mapping-only   # the same, the results left out

The mapping comes from the feature files alone: a scenario covers an instruction when it carries the
instruction's tag (on the scenario, its feature, its outline or its Examples block). The manual's
instructions are :data:`MANUAL` below, in the manual's words; a step of the manual (tag ``@步驟N``) is
covered by the scenarios of its own tag and of its instructions' tags. The results come from behave's JSON report
of the last run (``reports/features.json``, which ``scripts/test_all.py`` writes), matched by the
scenario's place in its file.

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

from simulator.procedure import MANUAL, STEP_TITLES, Instruction

ROOT = Path(__file__).resolve().parent.parent
FEATURES = ROOT / "features"
DOC = ROOT / "docs" / "traceability.md"
REPORT = ROOT / "reports" / "features.json"
RESULTS_HEADING = "## Results of the last run"
#: Tags that group scenarios but name no instruction of the manual.
OTHER_TAGS = frozenset({"browser", "步驟2至8", "黃金流程", "線上更新"})
#: A tag that looks like one of the manual's (步驟…, …步驟8 …) must be one.
LOOKS_LIKE_MANUAL = re.compile(r"步驟|EOI繼續")


RESULT_WORDS = {"passed": "passed", "failed": "FAILED", "error": "FAILED", "hook_error": "FAILED",
                "skipped": "skipped", "untested": "not run", None: "not run"}


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


def render(found: list[Scenario], status: dict[str, str] | None) -> str:
    """The document; ``status`` None leaves the results out (the part --mapping-only compares)."""
    lines = [
        "# Traceability: the manual's steps and instructions → the features",
        "",
        "Generated by `python scripts/traceability.py` from the tags of `features/*.feature` and the results",
        "of the last run (`reports/features.json`). Do not edit by hand: `scripts/test_all.py` regenerates it",
        "and fails the build when the committed file differs, or when an instruction has no scenario.",
        "",
        "The manual is the bank's 憑證更新(展期)流程 (nine steps). A scenario covers an instruction when it",
        "carries the instruction's tag (on itself, its feature, its outline or its Examples block); a step is",
        "covered by the scenarios of its own tag and of its instructions' tags.",
        "",
        "## The nine steps",
        "",
        "| step | what | scenarios |",
        "| --- | --- | --- |",
    ]
    for step in range(1, 10):
        lines.append(f"| 步驟{step} | {_cell(STEP_TITLES[step])} | {len(step_scenarios(step, found))} |")
    lines += ["", "## Instructions", "", "| tag | the manual's words | scenarios |", "| --- | --- | --- |"]
    for instruction in MANUAL:
        lines.append(f"| `@{instruction.tag}` | {_cell(instruction.words)} | {len(covering(instruction, found))} |")
    for instruction in MANUAL:
        lines += ["", f"### @{instruction.tag}", "", f"> {instruction.words}", "",
                  "| scenario | where |", "| --- | --- |"]
        for scenario in covering(instruction, found):
            lines.append(f"| {_cell(scenario.name)} | `{scenario.location}` |")
    unmapped = [s for s in found if not s.tags & _manual_tags()]
    if unmapped:
        lines += ["", "### Scenarios tied to no instruction", "", "| scenario | where |", "| --- | --- |"]
        lines += [f"| {_cell(s.name)} | `{s.location}` |" for s in unmapped]
    if status is None:
        return "\n".join(lines) + "\n"
    lines += ["", RESULTS_HEADING, ""]
    if not status:
        lines += ["No report of a run was found (`reports/features.json`): every result below is \"not run\".", ""]
    def counts(covered: list[Scenario]) -> str:
        words = [RESULT_WORDS.get(status.get(s.location), "not run") for s in covered]
        passed, failed = words.count("passed"), words.count("FAILED")
        return f"{len(words)} | {passed} | {failed} | {len(words) - passed - failed}"

    lines += ["| step | scenarios | passed | failed | not run or skipped |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| 步驟{step} | {counts(step_scenarios(step, found))} |" for step in range(1, 10)]
    lines += ["", "| tag | scenarios | passed | failed | not run or skipped |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `@{instruction.tag}` | {counts(covering(instruction, found))} |" for instruction in MANUAL]
    lines += ["", "| where | scenario | result |", "| --- | --- | --- |"]
    for scenario in found:
        if scenario.tags & _manual_tags():
            word = RESULT_WORDS.get(status.get(scenario.location), "not run")
            lines.append(f"| `{scenario.location}` | {_cell(scenario.name)} | {word} |")
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
