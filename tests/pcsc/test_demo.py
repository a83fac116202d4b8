"""The README's main job, `fxmlsim demo`, end to end through the real stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]


def test_demo_reads_the_card_through_pcsc_and_cleans_up(tmp_path: Path) -> None:
    home = tmp_path / "h"
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "--home", str(home), "demo"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in (
        "ATR              : 3B 8B 80 01 80 73 80 01 C0 55 54 57 43 41 4C A0",
        "憑證儲存媒體     : 憑證晶片卡(大卡)",
        "Common Name      : 99000001-00-2015",
        "憑證發行者       : C=TW O=TWCA OU=User CA CN=TWCA Financial User CA",
        "憑證生效日       : 2023-04-17 11:28:33",
        "憑證到期日       : 2025-05-14 23:59:59",
        "opensc-tool --name: Personal Identity Verification Card",
        "卡片以私密金鑰簽章, 以憑證公開金鑰驗證: 成功",
        "已停止虛擬讀卡機與憑證中心",
    ):
        assert expected in out, out
    status = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "--home", str(home), "status"],
        capture_output=True, text=True, timeout=60,
    )
    assert '"running": false' in status.stdout and '"running": true' not in status.stdout, status.stdout
