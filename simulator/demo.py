"""``fxmlsim demo``: the whole story on one machine, then the stack left up for a person.

1. Starts the whole stack on embedded defaults in a throw-away home (or
   ``--home``): the private pcscd and readers, the CA, the FXML platform, the
   bank's three systems, the card agent.
2. Makes a virtual card for the personal-banking persona whose certificate
   ends in 27 days (inside the CA's 30-day renewal window), inserts it.
3. That customer logs in to 個人網路銀行, enters the platform, renews the
   certificate through the same engine and servers a browser uses (printing
   each numbered step of the manual as it happens), and prints the proof
   sheet (a PDF).
4. Then, unless ``--no-wait``, inserts a second card (the EOI persona's, also
   27 days from expiry) and prints the URLs and the login to renew it by hand
   in a browser, until interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fxml import env
from fxml.clock import TAIWAN, from_env
from simulator.bank.customers import persona
from simulator.customer import Customer, print_proof, renew
from simulator.home import Home
from simulator.resources import CARD_PROFILES

#: Days left on the demo cards' certificates: inside the 30-day window, as in the manual (27).
DAYS_LEFT = 27


def run_demo(home: Home | None, *, wait: bool = True, out: Callable[[str], None] = print) -> int:
    """Run the demo in ``home``, or in a throw-away home removed afterwards."""
    if home is not None:
        return _demo(home, wait, out)
    temporary = Path(tempfile.mkdtemp(prefix="fxmlsim-demo-"))
    try:
        return _demo(Home(temporary), wait, out)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def card_profile(base: Path, target: Path, days_left: int = DAYS_LEFT) -> Path:
    """``base`` with its first certificate ending ``days_left`` days from now (23:59:59 Taiwan
    time), issued two years before that: a card due for renewal."""
    profile: dict[str, Any] = json.loads(base.read_text(encoding="utf-8"))
    ends = (from_env().now().astimezone(TAIWAN) + timedelta(days=days_left)).replace(
        hour=23, minute=59, second=59, microsecond=0)
    issued = (ends - timedelta(days=730)).replace(hour=10, minute=0, second=0)
    first = dict(profile["certificates"][0])
    first.update(issued_at=issued.isoformat(), not_after=ends.isoformat())
    profile["certificates"] = [first]
    target.write_text(json.dumps(profile, ensure_ascii=False, indent=2), encoding="utf-8")
    return target


def _demo(home: Home, wait: bool, out: Callable[[str], None]) -> int:
    started = home.up(readers=2)
    os.environ.update(started)  # pcsc-lite reads PCSCLITE_CSOCK_NAME at this process's first call
    try:
        out("fxmlsim 模擬環境已啟動：")
        for name, variable in (("模擬 TWCA 憑證中心", env.CA_URL), ("FXML 憑證管理平台", env.PLATFORM_URL),
                               ("合作金庫銀行", env.BANK_URL), ("憑證元件（card agent）", env.AGENT_URL)):
            if variable in started:
                out(f"  {name}: {started[variable]}")
        person = persona("person").customer
        profile_file = card_profile(CARD_PROFILES / "personal-small.json", home.root / "demo-person.json")
        pin = json.loads(profile_file.read_text(encoding="utf-8"))["pin"]
        image = home.create_card(profile_file, name="demo-person", replace=True)
        reader = home.stack.insert(image, 0)["name"]
        out(f"已插入憑證載具（{person.name}，憑證 {DAYS_LEFT} 天後到期）：{reader}")
        who = Customer(person, person.users[0].user_code, started[env.BANK_URL], started[env.PLATFORM_URL])
        who.log_in()
        who.enter_platform()
        out(f"步驟1、登入個人網路銀行（{person.id_number} / {person.users[0].user_code}），"
            "點選「設定及申請/憑證」>「憑證管理」，進入憑證管理平台")
        done = renew(who, reader, pin, started[env.CA_URL], from_env(), out)
        # The sheet outlives a throw-away home: it goes to the current folder.
        proof = print_proof(who, done.new_serial, Path.cwd() / f"憑證證明單-{done.new_serial}.pdf", out)
        for label, value in proof.items():
            out(f"    {label}：{value}")
        if wait:
            _leave_up(home, started, out)
    finally:
        home.down()
        for key in started:
            os.environ.pop(key, None)
    out("已停止模擬環境。")
    return 0


def _leave_up(home: Home, started: dict[str, str], out: Callable[[str], None]) -> None:
    eoi = persona("eoi").customer
    profile_file = card_profile(CARD_PROFILES / "eoi-golden.json", home.root / "demo-eoi.json")
    pin = json.loads(profile_file.read_text(encoding="utf-8"))["pin"]
    image = home.create_card(profile_file, name="demo-eoi", replace=True)
    reader = home.stack.insert(image, 1)["name"]
    user = eoi.users[0]
    out("")
    out("請以瀏覽器操作同一流程（EOI 系統 → 系統管理 → 憑證管理作業 → 憑證更新）：")
    out(f"  EOI 系統登入：{started[env.BANK_URL]}/eoi/login")
    out(f"  統一編號 {eoi.id_number}　使用者代號 {user.user_code}　密碼 {user.password}")
    out(f"  憑證載具（{reader}）的憑證載具密碼：{pin}")
    out("按 Ctrl-C 結束。")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
