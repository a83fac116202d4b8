"""Tests that need root say so with the ``root`` marker (tests/conftest.py), so a run
as root cannot skip them silently: no test skips on the effective uid by itself."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support.paths import ROOT


def _calls_geteuid(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr in ("geteuid", "getuid") for n in ast.walk(node))


def _is_skip(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    return name in ("skip", "skipif")


def test_no_test_skips_on_the_uid_without_the_root_marker() -> None:
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            # skipif(os.geteuid() != 0, ...), or pytest.skip() under an `if os.geteuid() ...:`
            on_uid = (_is_skip(node) and _calls_geteuid(node)) or (
                isinstance(node, ast.If) and _calls_geteuid(node.test) and any(map(_is_skip, ast.walk(node))))
            if on_uid:
                found.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    assert not found, f"use @pytest.mark.root('why') instead of a skip on the uid: {found}"


def _run_pytest(tmp_path: Path, body: str) -> tuple[int, str]:
    """pytest on one module in ``tmp_path`` that uses this project's conftest rule."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import pytest_collection_modifyitems, pytest_runtest_makereport  # noqa: F401\n")
    (tmp_path / "test_probe.py").write_text(textwrap.dedent(body))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    root(why): needs root\n")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return done.returncode, done.stdout


def test_a_root_test_skipped_as_root_is_an_error_and_without_root_is_skipped_as_such(tmp_path: Path) -> None:
    code, out = _run_pytest(tmp_path, """
        import pytest

        @pytest.mark.root("mounts things")
        @pytest.mark.skipif(True, reason="a tool is missing")
        def test_needs_root_and_a_tool():
            pass

        @pytest.mark.root("chowns a folder")
        def test_needs_root():
            pass

        @pytest.mark.skip(reason="not today")
        def test_other_skip():
            pass
    """)
    if os.geteuid() == 0:
        assert code == 1, out
        assert "test_needs_root_and_a_tool needs root and was skipped while running as root" in out, out
        assert "a tool is missing" in out
        assert "1 passed, 1 skipped, 1 error" in out, out
    else:
        assert code == 0, out
        assert "needs root (euid 0): chowns a folder" in out, out
        assert "1 passed" not in out and "3 skipped" in out, out
