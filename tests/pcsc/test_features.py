"""The Gherkin features (features/, zh-TW) run by behave against the real
stack: every scenario of every feature file must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import ROOT

pytestmark = pytest.mark.pcsc


def test_every_feature_scenario_passes(tmp_path: Path) -> None:
    report = tmp_path / "behave.json"
    done = subprocess.run(
        [sys.executable, "-m", "behave", "--no-color", "--format", "json", "--outfile", str(report),
         "--format", "plain"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    features = json.loads(report.read_text())
    files = sorted(p.name for p in (ROOT / "features").glob("*.feature"))
    assert sorted(Path(f["location"].split(":")[0]).name for f in features) == files
    scenarios = [e for f in features for e in f.get("elements", []) if e["type"] == "scenario"]
    assert scenarios and all(s["status"] == "passed" for s in scenarios), [
        (s["name"], s["status"]) for s in scenarios if s["status"] != "passed"
    ]
