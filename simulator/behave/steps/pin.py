"""Steps of 憑證載具密碼變更 (beyond the manual: it shows no screen of it), in chromium.

The PINs are typed in the platform's page, which sends them to the local card agent only; what the
card holds afterwards is read from the card's image (the simulator's chip), and the new PIN is
proved by a client nobody here wrote: OpenSC's PKCS#11 module, through ``pkcs11-tool --login``.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

from behave import then, when
from behave.runner import Context

from simulator.behave.pages import PinChangePage
from simulator.card.image import CardImage, load_image

#: A 憑證載具密碼 that is not the card's (6 to 8 letters and digits, as the card takes them), each try another.
WRONG_PINS = ("Wrong123", "Wrong456", "Wrong789")
#: What a feature writes for the card's PIN as it is now (the value is the persona's card's, made here).
CURRENT_PIN = "（原憑證載具密碼）"
PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def _page(context: Context) -> PinChangePage:
    page = PinChangePage(context.page)
    page.wait_for_card()
    return page


def _image(context: Context) -> CardImage:
    return load_image(context.card["image"])


def _change(context: Context, old: str, new: str, again: str) -> None:
    """The three boxes filled and [確定]; the card as it was before is kept for the checks after."""
    context.card_before = Path(context.card["image"]).read_bytes()
    context.card_image_before = _image(context)
    page = _page(context)
    page.change(old, new.replace(CURRENT_PIN, context.card["pin"]), again.replace(CURRENT_PIN, context.card["pin"]))
    context.pin_change_typed = page.typed()


@then("憑證載具密碼變更頁顯示憑證儲存媒體「{carrier}」")
def carrier_shown(context: Context, carrier: str) -> None:
    page = _page(context)
    assert page.carrier() == carrier, f"憑證儲存媒體應為「{carrier}」，畫面為「{page.carrier()}」"


@when("輸入原憑證載具密碼，並兩次輸入新憑證載具密碼「{new}」後點選「確定」")
def change_pin(context: Context, new: str) -> None:
    _change(context, context.card["pin"], new, new)
    context.new_pin = new


@when("輸入原憑證載具密碼、新憑證載具密碼「{new}」，再次輸入「{again}」後點選「確定」")
def change_pin_typed(context: Context, new: str, again: str) -> None:
    _change(context, context.card["pin"], new, again)


@when("輸入錯誤的原憑證載具密碼，並兩次輸入新憑證載具密碼「{new}」後點選「確定」")
def change_pin_wrong(context: Context, new: str) -> None:
    tried = getattr(context, "wrong_old_pins", 0)
    context.wrong_old_pins = tried + 1
    wrong = WRONG_PINS[tried % len(WRONG_PINS)]
    assert wrong != context.card["pin"]
    _change(context, wrong, new, new)


@then("憑證載具密碼變更頁顯示「{message}」")
def change_said(context: Context, message: str) -> None:
    shown = PinChangePage(context.page).done()
    assert shown == message, f"畫面應顯示「{message}」，實際為「{shown}」"


@then("畫面上的三個密碼欄位都已清空")
def boxes_cleared(context: Context) -> None:
    assert context.pin_change_typed == ["", "", ""], f"送出後密碼欄位應清空：{context.pin_change_typed}"


@then("憑證載具的密碼已變更，可嘗試次數為 {tries:d} 次")
def pin_changed(context: Context, tries: int) -> None:
    """The card holds the new PIN with its counter full; nothing else on the card changed."""
    after, before = _image(context), context.card_image_before
    assert after.pin.value == context.new_pin, "憑證載具的密碼未變更為新密碼"
    assert after.pin.tries_left == tries, f"可嘗試次數應為 {tries} 次，憑證載具為 {after.pin.tries_left} 次"
    assert replace(after, pin=before.pin) == before, "憑證載具除密碼外不應有其他變更"
    context.card["pin"] = context.new_pin


@then("憑證載具的密碼與可嘗試次數皆未變更")
def card_unchanged(context: Context) -> None:
    assert Path(context.card["image"]).read_bytes() == context.card_before, "憑證載具不應有任何變更"


@then("憑證載具的密碼未變更，只少了這一次可嘗試的次數")
def one_try_counted(context: Context) -> None:
    after, before = _image(context), context.card_image_before
    expected = replace(before, pin=replace(before.pin, tries_left=before.pin.tries_left - 1))
    left = before.pin.tries_left
    assert after == expected, (f"憑證載具應只少一次可嘗試次數（{left} → {left - 1}），實為 {after.pin.tries_left} 次，"
                               f"密碼{'未' if after.pin.value == before.pin.value else '已'}變更")


def _pkcs11_login(context: Context, pin: str) -> subprocess.CompletedProcess[str]:
    """OpenSC's pkcs11-tool logs in to the card in the reader with ``pin`` and lists its private keys."""
    home = context.home.root / "opensc-home"
    home.mkdir(exist_ok=True)
    return subprocess.run(
        ["pkcs11-tool", "--module", PKCS11_MODULE, "--slot-description", context.card["reader"],
         "--login", "--pin", pin, "--list-objects", "--type", "privkey"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(home)})


@then("以通用的智慧卡工具登入憑證載具：新的憑證載具密碼可以登入，原憑證載具密碼被拒絕")
def opensc_login(context: Context) -> None:
    """OpenSC (pkcs11-tool --login), a client nobody here wrote: the new PIN opens the card's keys,
    the old one is refused by the card (CKR_PIN_INCORRECT: a counted try)."""
    accepted = _pkcs11_login(context, context.new_pin)
    said = accepted.stdout + accepted.stderr
    assert accepted.returncode == 0 and "Private Key Object" in accepted.stdout, f"新密碼應可登入：{said}"
    old = context.card_image_before.pin.value
    refused = _pkcs11_login(context, old)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "CKR_PIN_INCORRECT" in said, f"原密碼應被拒絕：{said}"
