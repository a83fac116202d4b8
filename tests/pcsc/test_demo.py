"""The README's main job, `fxmlsim demo`, end to end through the real stack: a card
27 days from expiry is renewed through the bank, the platform and the engine, the
proof sheet is printed, and everything stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pcsc]

STEPS = (
    "步驟1、登入個人網路銀行（A123456789 / wang2015），點選「設定及申請/憑證」>「憑證管理」，進入憑證管理平台",
    "步驟2、[憑證更新]→[確定]",
    "步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]：Common Name A123456789-00-2015，憑證儲存媒體 憑證晶片卡(小卡)",
    "步驟4、審閱憑證晶片卡用戶約定條款後，點選[更新]",
    "步驟5、[確定]，正式進入憑證更新作業",
    "步驟6、憑證下載成功!",
    "步驟7、憑證下載頁：憑證下載成功",
    "步驟8、憑證證明單列印",
)


def test_demo_renews_a_card_prints_the_proof_sheet_and_cleans_up(tmp_path: Path) -> None:
    home = tmp_path / "h"
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "--home", str(home), "demo", "--no-wait"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env={**os.environ, "FXMLSIM_CLOCK": "system"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for expected in STEPS:
        assert expected in out, out
    assert "憑證狀態：正常" in out and "憑證發行者：C=TW O=TWCA OU=User CA CN=TWCA Financial User CA" in out
    serial = re.search(r"新憑證 ([0-9A-F]+)", out)
    assert serial, out
    pdf = tmp_path / f"憑證證明單-{serial.group(1)}.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "憑證證明單" in text and "合作金庫憑證管理平台" in text and serial.group(1) in text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk and all(" yes yes " in line for line in cjk), fonts  # embedded and subset, not Type 3
    status = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "--home", str(home), "status"],
        capture_output=True, text=True, timeout=60,
    )
    assert '"running": true' not in status.stdout, status.stdout
