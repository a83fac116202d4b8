"""Which libraries each side may use."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.support.paths import repo_path


def imported_modules(path: str) -> set[str]:
    found = set()
    for file in repo_path(path).rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
    return found


def test_the_engine_uses_cryptography_not_pycryptodome() -> None:
    # pycryptodome is installed only because Debian's python3-virtualsmartcard needs it.
    modules = imported_modules("fxml")
    assert "cryptography" in {m.split(".")[0] for m in modules}
    assert not {m for m in modules if m.split(".")[0] == "Crypto"}


def test_the_installed_packages_are_the_locks_versions() -> None:
    """scripts/setup.sh and tox install requirements.lock; what runs the tests is what it pins."""
    done = subprocess.run([sys.executable, str(repo_path("scripts/check_lock.py"))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
