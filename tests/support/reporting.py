"""A small real run of behave for the report's and the living manual's tests: two features in zh-TW,
steps that draw their "screens" with Pillow instead of a browser, and the same hooks as the
features' environment.py (simulator/reporting/manifest.py), so behave's own JSON and the manifest
are what a run of the features writes.

The run has a golden EOI path (an outline's Examples block) with every part of the manual, a
golden 客戶別 2 path (a scenario) missing step 5 and with a wrong time on step 3, a failed step
(with its message and screen), a step that raises an error, a browser dialog, a table with a
DN, an error code and a command in the officer's sight, a PNG among the JPEGs, a scenario with no
screen at all, and a function beyond the manual (@操作手冊以外: a screen the manual does not show).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import ROOT

ENVIRONMENT = '''
import io, os
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from PIL import Image, ImageDraw
from simulator.reporting import manifest

def before_all(context):
    context.recorder = manifest.Recorder(Path(os.environ["FIXTURE_SHOTS"]))
    context.recorder.begin_run()
    context.colour = 0

def before_scenario(context, scenario):
    manifest.scenario_started(context, scenario)
    context.dialogs = []
    context.clock = datetime.fromisoformat("2023-04-17T11:10:00+08:00")
    context.browser = "browser" in scenario.effective_tags

def before_step(context, step):
    manifest.step_started(context)

def after_step(context, step):
    image, suffix = None, ".jpg"
    if context.browser:
        context.colour += 1
        picture = Image.new("RGB", (800, 560), ((context.colour * 53) % 256, (context.colour * 97) % 256, 180))
        ImageDraw.Draw(picture).rectangle((10, 10, 100, 40), fill=(255, 255, 255))
        out = io.BytesIO()
        suffix = ".png" if context.colour % 5 == 0 else ".jpg"
        picture.save(out, "PNG" if suffix == ".png" else "JPEG", quality=80)
        image = out.getvalue()
    manifest.step_ended(context, step, image, context.clock, suffix)

def after_scenario(context, scenario):
    manifest.scenario_ended(context)

def after_all(context):
    context.recorder.write(finished=True)
'''

STEPS = '''
from datetime import datetime
from types import SimpleNamespace
from behave import step

@step("現在是 {when}")
def now(context, when):
    context.clock = datetime.fromisoformat(when)

@step("「{who}」以使用者代號「{user}」登入{system}")
def log_in(context, who, user, system):
    context.system = SimpleNamespace(title=system)
    if "客戶別" in who:
        context.customer = SimpleNamespace(customer_type=int(who.rsplit(" ", 1)[1]))

@step("此畫面是操作手冊的步驟{n:d}")
def manual_step(context, n):
    context.illustrates = n

@step("此畫面是步驟7後的說明")
def manual_note(context):
    context.illustrates = "步驟7-個人企業完成"

@step("瀏覽器出現提示訊息「{message}」並點選確定")
def dialog(context, message):
    context.dialogs.append(("confirm", message))
    context.illustrates = 5

@step("完成兩個步驟")
def two_steps(context):
    context.execute_steps("""
        當 此畫面是操作手冊的步驟6
        而且 此畫面是操作手冊的步驟7
    """)

@step("畫面顯示「{text}」")
def shows(context, text):
    assert text == "憑證下載成功", f"畫面應顯示「憑證下載成功」，實際為「{text}」"

@step("錯誤代碼為「{code}」")
def code(context, code):
    pass

@step("執行 {command}")
def run(context, command):
    raise RuntimeError("boom: " + command)

@step("憑證證明單顯示")
def proof(context):
    assert context.table is not None

@step("什麼也沒有")
def nothing(context):
    pass
'''

GOLDEN = '''# language: zh-TW
@browser
功能: 依操作手冊更新憑證
  依操作手冊的畫面，以 OCSP 查詢憑證狀態。

  @操作手冊 @步驟2 @步驟3 @步驟4 @步驟5 @步驟6 @步驟7 @步驟8 @步驟9 @步驟9-傳真 @EOI繼續步驟8
  場景大綱: <系統>依操作手冊更新憑證
    假設 「<客戶>」以使用者代號「<使用者代號>」登入<系統>
    而且 此畫面是操作手冊的步驟1
    當 此畫面是操作手冊的步驟2
    而且 現在是 <查詢時間>
    而且 此畫面是操作手冊的步驟3
    而且 現在是 2023-04-17T11:24:39+08:00
    而且 此畫面是操作手冊的步驟4
    而且 瀏覽器出現提示訊息「即將進行憑證更新作業，確定要更新嗎？」並點選確定
    而且 完成兩個步驟
    而且 此畫面是步驟7後的說明
    而且 現在是 2023-04-17T11:38:36+08:00
    而且 此畫面是操作手冊的步驟8
    而且 此畫面是操作手冊的步驟9
    那麼 憑證證明單顯示
      | 欄位 | 內容 |
      | 主旨(使用者識別名稱) | {DN} |

    @操作手冊-EOI系統
    例子: EOI 系統
      | 系統     | 客戶         | 使用者代號 | 查詢時間                  |
      | EOI 系統 | EOI 企業客戶 | EOIADMIN05 | 2023-04-17T11:13:42+08:00 |

  @操作手冊 @操作手冊-企業網路銀行-客戶別2 @步驟2
  場景: 企業網路銀行客戶別 2 依操作手冊更新憑證，少了步驟5的畫面
    假設 「企業網路銀行客戶別 2」以使用者代號「qingchuan01」登入企業網路銀行
    而且 此畫面是操作手冊的步驟1
    當 此畫面是操作手冊的步驟2
    而且 現在是 2023-04-17T11:13:43+08:00
    而且 此畫面是操作手冊的步驟3
    而且 此畫面是操作手冊的步驟4
    而且 完成兩個步驟
    而且 此畫面是步驟7後的說明
'''

#: The proof sheet's subject in the golden run (tests/unit/test_reporting.py allows it by name).
DN = "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank OU=FXML CN=63880571-00-2015"
GOLDEN = GOLDEN.replace("{DN}", DN)

OTHERS = '''# language: zh-TW
@browser @步驟3
功能: 步驟3、插入憑證載具
  客戶插入憑證載具並輸入憑證載具密碼。

  場景: 憑證中心拒絕，顯示錯誤代碼
    假設 「企業網路銀行客戶別 4」以使用者代號「SUPER001」登入企業網路銀行
    那麼 錯誤代碼為「CERT_SUSPENDED」

  場景: 憑證下載頁的訊息不對
    假設 「個人網路銀行客戶」以使用者代號「wang2015」登入個人網路銀行
    那麼 畫面顯示「憑證下載失敗」
    而且 什麼也沒有

  場景: 憑證元件未啟動
    假設 「個人網路銀行客戶」以使用者代號「wang2015」登入個人網路銀行
    當 執行 python -m fxml.agent serve

  @步驟1 @步驟1-EOI系統
  場景: EOI 客戶由系統管理進入平台
    假設 什麼也沒有
'''

CARD = '''# language: zh-TW
功能: 虛擬憑證晶片卡

  場景: 卡片不需瀏覽器
    假設 什麼也沒有
'''

BEYOND = '''# language: zh-TW
@browser @操作手冊以外
功能: 憑證查詢（操作手冊以外的功能）
  操作手冊未附此畫面；此畫面依操作手冊所附畫面的樣式。

  場景: 客戶查詢憑證，最新的憑證在最上方
    假設 「EOI 企業客戶」以使用者代號「EOIADMIN05」登入EOI 系統
    那麼 什麼也沒有
'''


@dataclass(frozen=True)
class FixtureRun:
    folder: Path
    results: Path
    screenshots: Path


def behave_run(folder: Path) -> FixtureRun:
    """Run behave on the fixture's features in ``folder``; its JSON report and screenshots there."""
    (folder / "features" / "steps").mkdir(parents=True)
    (folder / "features" / "environment.py").write_text(ENVIRONMENT, encoding="utf-8")
    (folder / "features" / "steps" / "fixture_steps.py").write_text(STEPS, encoding="utf-8")
    (folder / "features" / "甲_黃金流程.feature").write_text(GOLDEN, encoding="utf-8")
    (folder / "features" / "乙_其他.feature").write_text(OTHERS, encoding="utf-8")
    (folder / "features" / "丙_憑證晶片卡.feature").write_text(CARD, encoding="utf-8")
    (folder / "features" / "丁_操作手冊以外.feature").write_text(BEYOND, encoding="utf-8")
    reports = folder / "reports"
    reports.mkdir()
    results, screenshots = reports / "features.json", reports / "screenshots"
    env = {**os.environ, "FIXTURE_SHOTS": str(screenshots), "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-m", "behave", "--no-color", "--lang", "zh-TW", "--format", "json",
         "--outfile", str(results), "--format", "null", "features"],
        cwd=folder, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1, f"the fixture run has two failures by design:\n{done.stdout}\n{done.stderr}"
    assert results.exists() and (screenshots / "manifest.json").exists(), done.stderr
    return FixtureRun(folder, results, screenshots)
