"""tox as a new contributor runs it: from a fresh copy of the repository, one
env built from nothing, every test module of every group collected in it and
one small test run. tox once failed at collection for months without anyone
noticing (the tests were not importable as a package under tox)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT, fresh_copy

pytestmark = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout to copy from"
)

#: A quick unit test; the run still collects (imports) every module of tests/unit.
SMALL_TEST = "test_reader_conf_gives_each_reader_its_own_port_and_driver_copy"


def tox(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # What the surrounding run set (an outer tox, the stack's socket) must not leak in.
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("TOX_") and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PCSCLITE_CSOCK_NAME")
    }
    return subprocess.run(
        [sys.executable, "-m", "tox", *args], cwd=copy, env=env, capture_output=True, text=True, timeout=1200
    )


def test_tox_unit_env_from_a_fresh_copy_collects_every_group_and_runs_a_test(tmp_path: Path) -> None:
    copy = fresh_copy(tmp_path / "fxmlsim")
    run = tox(copy, "-e", "unit", "--", "-q", "-k", SMALL_TEST)
    said = run.stdout + run.stderr
    assert run.returncode == 0, said[-4000:]
    assert re.search(r"\b1 passed\b", run.stdout), said[-4000:]
    # Every group's modules import in tox's environment (pcsc and integration too,
    # without starting anything: collection only).
    collected = tox(copy, "exec", "-e", "unit", "--", "pytest", "--collect-only", "-q", "tests")
    said = collected.stdout + collected.stderr
    assert collected.returncode == 0, said[-4000:]  # pytest exits 2 on a collection error
    assert re.search(r"^\d+ tests collected in ", collected.stdout, re.MULTILINE), said[-4000:]
