"""scripts/traceability.py: the manual's instructions mapped to the scenarios that carry their tags,
the results of a run, and the refusals that fail the build (an instruction without a scenario, a tag
that looks like the manual's but is none, a committed document that is not the generated one)."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("traceability", ROOT / "scripts" / "traceability.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["traceability"] = module
    spec.loader.exec_module(module)
    return module


trace = load()


def feature(folder: Path, name: str, text: str) -> None:
    (folder / f"{name}.feature").write_text(f"# language: zh-TW\n{text}", encoding="utf-8")


def test_the_features_are_read_the_same_from_any_working_folder(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    here = trace.scenarios()
    monkeypatch.chdir(tmp_path)
    elsewhere = trace.scenarios()
    assert elsewhere == here and here[0].location.startswith("features/")


def test_every_instruction_of_the_manual_is_covered_by_the_features() -> None:
    found = trace.scenarios()
    assert trace.problems(found) == []
    for instruction in trace.MANUAL:
        assert trace.covering(instruction, found), instruction
    for step in range(1, 10):
        assert trace.step_scenarios(step, found), step


def test_the_committed_document_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "traceability.md").read_text(encoding="utf-8")
    assert trace.mapping_part(committed) == trace.render(trace.scenarios(), None)
    assert trace.RESULTS_HEADING in committed


def test_an_instruction_without_a_scenario_and_a_mistyped_tag_are_refused(tmp_path: Path) -> None:
    feature(tmp_path, "a", "@步驟1\n功能: 甲\n  @步驟9-傳填\n  場景: 乙\n    假設 有\n")
    found = trace.scenarios(tmp_path)
    said = trace.problems(found)
    assert any("no scenario covers @步驟2:" in p for p in said)
    assert any("no scenario covers 步驟9" in p for p in said)
    assert any("@步驟9-傳填 is not an instruction of the manual" in p for p in said)
    assert not any(p == "no scenario covers 步驟1" for p in said)


def test_results_come_from_behaves_json_report_by_place(tmp_path: Path) -> None:
    feature(tmp_path, "a", "@步驟9\n功能: 甲\n  @步驟9-傳真\n  場景: 乙\n    假設 有\n\n"
                           "  @步驟9-轉帳\n  場景: 丙\n    假設 有\n")
    found = trace.scenarios(tmp_path)
    report = tmp_path / "features.json"
    report.write_text(json.dumps([{"elements": [
        {"type": "scenario", "location": found[0].location, "status": "passed"},
        {"type": "scenario", "location": found[1].location, "status": "failed"},
    ]}]), encoding="utf-8")
    doc = trace.render(found, trace.results(report))
    assert f"| `{found[0].location}` | 乙 | 通過 |" in doc
    assert f"| `{found[1].location}` | 丙 | 失敗 |" in doc
    assert "| `@步驟9-傳真` | 1 | 1 | 0 | 0 |" in doc and "| `@步驟9-轉帳` | 1 | 0 | 1 | 0 |" in doc
    assert "| 步驟9 | 2 | 1 | 1 | 0 |" in doc
    assert trace.mapping_part(doc) == trace.render(found, None)
    assert "以下結果皆為「未執行」" in trace.render(found, {})


def test_check_fails_on_a_drift(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    drifted = tmp_path / "traceability.md"
    drifted.write_text("# something else\n", encoding="utf-8")
    monkeypatch.setattr(trace, "DOC", drifted)
    assert trace.main(["--check", "--mapping-only"]) == 1
    out = tmp_path / "made.md"
    assert trace.main(["--check", "--mapping-only", "--out", str(out)]) == 1
    drifted.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    assert trace.main(["--check", "--mapping-only"]) == 0


def test_the_document_speaks_traditional_chinese_and_names_the_golden_runs() -> None:
    doc = trace.render(trace.scenarios(), {})
    for line in doc.splitlines():
        if line.startswith(("#", "| ---", "| 步驟 |", "| 標籤 |")):
            words = [w for w in re.findall(r"[A-Za-z]{2,}", line) if w != "EOI"]
            assert words == [], line
    assert " -- @" not in doc  # outline rows by their Examples' names
    assert "（例子「EOI 系統：點選「系統管理」>「憑證管理作業」」第 2 列）" in doc
    golden = "依操作手冊，EOI 企業客戶 虛構雲杉企業於民國112年4月17日更新憑證並列印憑證證明單"
    assert f"| EOI 系統 | `@操作手冊-EOI系統` | {golden} |" in doc
    assert trace.problems(trace.scenarios()) == []  # the golden runs' tags are known, not typos
