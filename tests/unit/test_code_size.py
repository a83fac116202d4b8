"""Size limits the codebase keeps (issue 17): no function over 60 lines and no file over 800 in
``fxml/`` and ``simulator/``. A longer one is split by what it does, not by where a line falls."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_LINES = 60
FILE_LINES = 800


def sources() -> list[Path]:
    return sorted(p for part in ("fxml", "simulator") for p in (ROOT / part).rglob("*.py"))


def test_there_is_code_to_measure() -> None:
    assert len(sources()) > 100


def test_no_file_is_over_800_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > FILE_LINES}
    assert long == {}


def test_no_function_is_over_60_lines() -> None:
    long = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long[f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"] = lines
    assert long == {}
