"""The features' HTML report in Traditional Chinese: behave-html-pretty-formatter's own
words (Feature, Scenario, Started ...) put into zh-TW, so a bank officer reads one
language. Only text between tags is touched, never class names or script."""

from __future__ import annotations

import re
import sys
from pathlib import Path

#: The formatter's labels followed by a colon, and what a bank officer reads instead.
LABELS = {
    "Feature": "功能", "Scenario Outline": "場景大綱", "Scenario": "場景", "Background": "背景",
    "Started": "開始", "Finished": "結束", "Duration": "耗時", "Passed": "通過", "Failed": "失敗",
    "Skipped": "略過", "Undefined": "未定義", "Scenarios Filter": "場景篩選", "Features": "功能",
    "Scenarios": "場景", "Steps": "步驟",
}
#: Whole texts of buttons and headings.
TEXTS = {
    "Summary": "摘要", "Global Summary": "總覽", "Expand All": "全部展開", "Collapse All": "全部收合",
    "Expand All Failed": "展開失敗項目", "Return to the Top": "回到頁首", "High contrast toggle": "高對比",
    "Dark mode": "深色模式", "Download": "下載", "PASS": "通過", "FAIL": "失敗",
}
_LABEL = re.compile(r">(\s*)(" + "|".join(sorted(map(re.escape, LABELS), key=len, reverse=True)) + r"):\s")
_TEXT = re.compile(r">(\s*)(" + "|".join(sorted(map(re.escape, TEXTS), key=len, reverse=True)) + r")(\s*)<")


def localize(html: str) -> str:
    html = _LABEL.sub(lambda m: f">{m.group(1)}{LABELS[m.group(2)]}：", html)
    html = _TEXT.sub(lambda m: f">{m.group(1)}{TEXTS[m.group(2)]}{m.group(3)}<", html)
    html = html.replace("Scenario duration", "場景耗時")
    return html.replace('<html lang="en"', '<html lang="zh-Hant-TW"')


def main(path: str) -> None:
    report = Path(path)
    report.write_text(localize(report.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
