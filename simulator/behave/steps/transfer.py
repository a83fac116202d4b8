"""Steps of 臺幣轉帳 in the bank's three systems, signed on the customer's card through the card agent.

The transfer goes through chromium like a customer's; what the bank did is read from its records
afterwards (steps/bank_support.py), and the certificate that signed from the card itself.
Tampering, another signature and a replay are made in the browser's own traffic to the bank
(Playwright's routes), with the card's real signatures.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from behave import given, then, when
from behave.runner import Context
from cryptography import x509

from fxml import env
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.clock import TAIWAN
from simulator.behave.bank_support import as_customer, bank_store, in_peoples_words, remember_bank
from simulator.behave.clock_support import set_now
from simulator.behave.pages import BankMenu, Platform, Screen, Transfer


def _transfer(context: Context) -> Transfer:
    return Transfer(as_customer(context))


def _sign_url(context: Context) -> str:
    return f"{context.stack_env[env.BANK_URL]}{context.system.prefix}/transfer/sign"


def _route_signed(context: Context, change: Any) -> None:
    """Change the signed transfer on its way from the page to the bank."""

    def handle(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        body = json.loads(route.request.post_data or "{}")
        route.continue_(post_data=json.dumps(change(body)))

    as_customer(context).route(_sign_url(context), handle)


def _keep_signed_requests(context: Context) -> None:
    context.signed_requests = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url == _sign_url(context):
            context.signed_requests.append((request.post_data, dict(request.headers)))

    as_customer(context).on("request", seen)


@when("客戶點選憑證管理平台的「{item}」")
def customer_platform_item(context: Context, item: str) -> None:
    Platform(as_customer(context), str(context.stack_env[env.PLATFORM_URL])).choose(item)


@when("回到選單後再點選「{group}」>「{item}」")
def back_to_menu(context: Context, group: str, item: str) -> None:
    page = as_customer(context)
    page.get_by_test_id("back-to-menu").click()
    page.wait_for_load_state()
    BankMenu(page, context.system).choose(group, item)


@when("填寫臺幣轉帳：轉入帳號「{account}」、金額「{amount}」")
def fill(context: Context, account: str, amount: str) -> None:
    _transfer(context).fill(account, amount)
    assert context.page.get_by_test_id("transfer-sign").count() == 1, "未進入簽章頁"


@when("填寫臺幣轉帳：付款戶為關係戶「{payer}」、轉入帳號「{account}」、金額「{amount}」")
def fill_for(context: Context, payer: str, account: str, amount: str) -> None:
    _transfer(context).fill(account, amount, payer=payer)
    assert context.page.get_by_test_id("transfer-sign").count() == 1, "未進入簽章頁"


def _sign(context: Context, serial: str | None = None) -> None:
    transfer = _transfer(context)
    if not hasattr(context, "signed_requests"):
        _keep_signed_requests(context)
    if serial is not None:
        transfer.choose_certificate(serial)
    remember_bank(context)
    transfer.sign(context.card["pin"])
    if context.page.get_by_test_id("transfer-error").is_visible():
        context.shown_message, context.shown_code = transfer.error()


@when("以憑證載具簽章：輸入憑證載具密碼並點選「確定」")
def sign(context: Context) -> None:
    _sign(context)


@when("選擇更新前的舊憑證簽章，輸入憑證載具密碼並點選「確定」")
def sign_with_old(context: Context) -> None:
    old = context.card["before"][0][1]
    offered = [serial for serial, _label in _transfer(context).certificates()]
    assert offered[0] == f"{context.new_certificate.serial_number:X}", f"預設應為新憑證：{offered}"
    _sign(context, f"{old.serial_number:X}")


def _done(context: Context, expected: x509.Certificate) -> None:
    transfer = _transfer(context)
    done = context.page.get_by_test_id("transfer-done")
    assert done.count() == 1, f"轉帳未成功：{transfer.error() if not done.count() else ''}"
    assert done.get_by_role("heading").inner_text().strip() == "轉帳成功"
    shown = transfer.result()
    serial = f"{expected.serial_number:X}"
    assert shown["簽章憑證序號"] == serial, f"簽章憑證應為 {serial}，畫面為 {shown['簽章憑證序號']}"
    context.transfer_shown = shown
    with bank_store(context) as store:
        row = store.connection().execute("SELECT serial, amount FROM transfers WHERE transfer_id = ?",
                                         (shown["交易序號"],)).fetchone()
    assert row is not None and row[0] == serial, f"銀行的轉帳紀錄不符：{row}"


@then("畫面顯示「轉帳成功」，簽章憑證為更新後的新憑證")
def done_with_new(context: Context) -> None:
    _done(context, context.new_certificate)


@then("畫面顯示「轉帳成功」，簽章憑證為憑證載具內的憑證")
def done_with_card(context: Context) -> None:
    _done(context, context.card["before"][0][1])


@then("轉帳的付款戶為「{payer}」")
def paid_by(context: Context, payer: str) -> None:
    assert context.transfer_shown.get("付款戶") == payer, f"付款戶應為「{payer}」，畫面為 {context.transfer_shown}"


def _not_done(context: Context) -> None:
    page = as_customer(context)
    assert page.get_by_test_id("transfer-done").count() == 0, "轉帳不應成功"
    in_peoples_words(Screen(page).main_text())


@then("轉帳被拒絕，畫面提示「{message}」")
def refused(context: Context, message: str) -> None:
    shown = getattr(context, "shown_message", None)
    assert shown == message, f"畫面應提示「{message}」，實際為「{shown}」"
    _not_done(context)


@then("轉帳被拒絕，畫面提示以「{prefix}」開頭的訊息")
def refused_with(context: Context, prefix: str) -> None:
    shown = getattr(context, "shown_message", None) or ""
    assert shown.startswith(prefix), f"畫面應提示以「{prefix}」開頭的訊息，實際為「{shown}」"
    _not_done(context)


@given("已過了憑證到期日")
def after_expiry(context: Context) -> None:
    """The stack's clock on the day after the card's certificate expired."""
    ends = context.card["before"][0][1].not_valid_after_utc
    set_now(context, (ends + timedelta(days=1)).astimezone(TAIWAN))


@when("簽章於送往銀行途中遭竄改")
def tampered(context: Context) -> None:
    def flip(body: dict[str, Any]) -> dict[str, Any]:
        signature = bytearray(base64.b64decode(body["signature"]))
        signature[len(signature) // 2] ^= 0x40
        return {**body, "signature": base64.b64encode(bytes(signature)).decode("ascii")}

    _route_signed(context, flip)


@when("送往銀行的是憑證載具對另一筆交易內容的簽章")
def other_data(context: Context) -> None:
    """The card's real signature, over another transfer's bytes (the page's card session has ended)."""

    def swap(body: dict[str, Any]) -> dict[str, Any]:
        cert = x509.load_pem_x509_certificate(body["certificate"].encode("ascii"))
        with PcscConnection(context.card["reader"]) as connection:
            card = PivCardClient(connection)
            card.select()
            container = next(c.container for c in card.list_certificates() if c.certificate == cert)
            card.verify_pin(context.card["pin"])
            other = json.dumps({"transfer_id": "T-another", "amount": 1_000_000}).encode()
            signature = card.sign(container, other)
        return {**body, "signature": base64.b64encode(signature).decode("ascii")}

    _route_signed(context, swap)


@when("再次送出同一筆已簽章的轉帳")
def replay(context: Context) -> None:
    assert context.signed_requests, "此情境尚未送出已簽章的轉帳"
    body, headers = context.signed_requests[-1]
    remember_bank(context)
    answer = as_customer(context).request.post(_sign_url(context), data=body, headers={
        "content-type": "application/json", "x-csrf-token": headers["x-csrf-token"]})
    error = answer.json().get("error", {})
    context.bank_answer = (answer.status, error.get("message"))
    context.shown_message, context.shown_code = error.get("message"), error.get("code")


@then("銀行回覆「{message}」")
def bank_answered(context: Context, message: str) -> None:
    status, said = context.bank_answer
    assert status == 409 and said == message, f"銀行應回覆「{message}」，實際為 HTTP {status}「{said}」"
