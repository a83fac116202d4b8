"""The behave step library as another project uses it: a small project in a temporary folder, whose
environment.py calls the library's hooks and whose steps/ imports the library's steps, runs a short zh-TW
feature with ``python -m behave`` (docs/pytest.md); it passes, and its screenshots go to its own reports/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pcsc, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

ENVIRONMENT = '''\
"""This project's hooks: fxmlsim's (the stack, chromium, the screenshots in ./reports)."""

from simulator.behave.hooks import after_all, after_scenario, after_step, before_all, before_scenario, before_step
'''

STEPS = '''\
"""This project's steps: fxmlsim's, for the bank, the platform and the card."""

from simulator.behave.steps import bank, card, platform  # noqa: F401
'''

FEATURE = '''\
# language: zh-TW
功能: 本公司的系統以合作金庫的 FXML 憑證管理平台及憑證晶片卡測試
  本公司的 ERP 以客戶的憑證晶片卡簽章，並引導客戶至 FXML 憑證管理平台辦理憑證更新。

  @browser
  場景: 個人網路銀行客戶登入個人網路銀行，進入 FXML 憑證管理平台
    假設 「個人網路銀行客戶 王小明」以使用者代號「wang2015」登入個人網路銀行
    當 點選「設定及申請/憑證」>「憑證管理」
    那麼 憑證管理平台顯示登入系統為「個人網路銀行」
    而且 憑證管理平台顯示使用者代號為「wang2015」

  場景: 讀卡機內的憑證晶片卡有憑證中心簽發的憑證
    假設 讀卡機已就緒
    而且 已製作一張憑證晶片卡(小卡)
    當 插入憑證載具
    那麼 讀卡機回報卡片已插入
    而且 憑證儲存媒體為「憑證晶片卡(小卡)」
    而且 卡片內附有簽發憑證的憑證鏈
'''


def _environment() -> dict[str, str]:
    """This process's environment without what would point the sample at this checkout or this run."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("PYTEST_", "FXMLSIM_")) and k not in ("PCSCLITE_CSOCK_NAME", "PYTHONPATH")}
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and not Path(p).resolve().is_relative_to(REPO)]
    if paths:
        environ["PYTHONPATH"] = os.pathsep.join(paths)
    return {**environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}


def test_a_project_uses_the_step_library(tmp_path: Path) -> None:
    features = tmp_path / "features"
    (features / "steps").mkdir(parents=True)
    (features / "environment.py").write_text(ENVIRONMENT, encoding="utf-8")
    (features / "steps" / "fxmlsim_steps.py").write_text(STEPS, encoding="utf-8")
    (features / "平台與晶片卡.feature").write_text(FEATURE, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "behave", "--no-color", "features"], cwd=tmp_path,
                          env=_environment(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 scenarios passed, 0 failed" in done.stdout, done.stdout
    # The library's steps ran, not this checkout's steps/ files.
    assert "simulator/behave/steps/bank.py" in done.stdout and "/steps/bank_steps.py" not in done.stdout
    manifest = json.loads((tmp_path / "reports" / "screenshots" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest, "no screenshot of the @browser scenario"
