"""Steps of the branch back office (分行作業系統, step 9): the officer's login, the inbox of faxed proof
sheets, the check against the CA and 憑證展期建檔.

An officer works in a browser of their own (another chromium context: another person, another
computer); the customer's page stays where it was. Steps that act there show that browser in the
report (``context.shown_page``). What the bank recorded is read from its records.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bank_support import bank_store, remember_bank
from behave import then, when
from behave.runner import Context
from pages import Branch, Message

from fxml import env
from fxml.display import roc_date, time_text
from simulator.bank.officers import load_officers


def _new_browser(context: Context) -> Any:
    """A page in a new browser context (no cookies), closed with the scenario."""
    browser_context = context.chromium["browser"].new_context(
        locale="zh-TW", timezone_id="Asia/Taipei", viewport={"width": 1280, "height": 900})
    browser_context.set_default_timeout(15_000)
    context.add_cleanup(browser_context.close)
    if getattr(context, "customer_page", None) is None:
        context.customer_page = context.page
    return browser_context.new_page()


def _officer(branch: str, role: str, code: str) -> Any:
    for item in load_officers():
        if item.branch.name == f"{branch}分行" and item.role.label == f"{role}經辦" and item.officer_code == code:
            return item
    raise AssertionError(f"{branch}分行沒有{role}經辦「{code}」")


def _branch(context: Context, page: Any = None) -> Branch:
    page = page or context.officer_page
    context.shown_page = page
    return Branch(page, str(context.stack_env[env.BANK_URL]))


def _serial(context: Context) -> str:
    return f"{context.new_certificate.serial_number:X}"


@when("{branch}分行{role}經辦「{code}」登入分行作業系統")
def officer_logs_in(context: Context, branch: str, role: str, code: str) -> None:
    officer = _officer(branch, role, code)
    context.officer_page = _new_browser(context)
    office = _branch(context)
    office.log_in(officer.branch.code, officer.officer_code, officer.password)
    assert office.page.url.endswith("/branch/inbox"), f"經辦未能登入：{office.page.url}"
    assert office.page.get_by_test_id("branch-officer").inner_text().startswith(officer.branch.display)


@then("收件匣有此客戶的憑證證明單，記有收件時間，狀態為「{status}」")
def in_inbox(context: Context, status: str) -> None:
    rows = [r for r in _branch(context).inbox() if r["簽章憑證序號"] == _serial(context)]
    assert len(rows) == 1, f"收件匣應有一份此憑證的憑證證明單，實有 {len(rows)} 份"
    with bank_store(context) as store:
        received = store.connection().execute("SELECT received_at FROM faxes WHERE id = ?",
                                              (int(rows[0]["fax"]),)).fetchone()[0]
    at = datetime.fromisoformat(received)
    assert rows[0]["收件時間"] == f"{roc_date(at)} {time_text(at)}", rows[0]
    assert rows[0]["狀態"] == status, rows[0]


@then("{branch}分行{role}經辦「{code}」的收件匣沒有此憑證證明單")
def not_in_other_inbox(context: Context, branch: str, role: str, code: str) -> None:
    officer = _officer(branch, role, code)
    page = _new_browser(context)
    office = _branch(context, page)
    office.log_in(officer.branch.code, officer.officer_code, officer.password)
    serials = [r["簽章憑證序號"] for r in office.inbox()]
    assert _serial(context) not in serials, f"{branch}分行的收件匣不應看到其他分行的憑證證明單"
    page.context.close()
    context.shown_page = context.officer_page


@when("開啟收件匣中此客戶的憑證證明單")
def open_sheet(context: Context) -> None:
    office = _branch(context)
    rows = [r for r in office.inbox() if r["簽章憑證序號"] == _serial(context)]
    assert rows, "收件匣中沒有此客戶的憑證證明單"
    office.open(rows[0]["fax"])
    office.page.get_by_test_id("fax-check").wait_for()


@then("與憑證中心核對：簽章憑證序號、主旨(使用者識別名稱)、憑證狀態皆相符，且為客戶最新憑證")
def checked(context: Context) -> None:
    checks = _branch(context).checks()
    for label in ("簽章憑證序號", "主旨(使用者識別名稱)", "憑證狀態"):
        assert checks.get(label) == "相符", f"{label}應與憑證中心相符：{checks}"
    assert checks.get("客戶最新憑證") == "是", checks


@when("點選「憑證展期建檔」")
def file(context: Context) -> None:
    remember_bank(context)
    _branch(context).file()


@when("輸入關係戶之用戶代碼「{codes}」並點選「憑證展期建檔」")
def file_with_codes(context: Context, codes: str) -> None:
    remember_bank(context)
    _branch(context).file(codes.split("、"))
    if context.officer_page.get_by_test_id("message").count():
        context.shown_message, context.shown_code = Message(context.officer_page).text()


@then("分行作業系統顯示「憑證展期建檔完成」")
def filed(context: Context) -> None:
    page = _branch(context).page
    done = page.get_by_test_id("filing-done")
    assert done.count() == 1, f"建檔未完成：{page.get_by_test_id('message').all_inner_texts()}"
    assert done.get_by_role("heading").inner_text().strip() == "憑證展期建檔完成"
    with bank_store(context) as store:
        row = store.connection().execute("SELECT source FROM bindings WHERE serial = ? AND superseded_by IS NULL",
                                         (_serial(context),)).fetchone()
    assert row == ("憑證展期建檔",), f"新憑證未綁定客戶：{row}"


@then("建檔的關係戶之用戶代碼為「{codes}」")
def filed_codes(context: Context, codes: str) -> None:
    with bank_store(context) as store:
        row = store.connection().execute("SELECT relationship_codes FROM filings WHERE serial = ?",
                                         (_serial(context),)).fetchone()
    assert row is not None and json.loads(row[0]) == codes.split("、"), row


@then("分行作業系統拒絕建檔，顯示「{message}」")
def filing_refused(context: Context, message: str) -> None:
    _branch(context)
    assert context.shown_message == message, f"應顯示「{message}」，實際為「{context.shown_message}」"


@then("稽核紀錄有此筆憑證展期建檔")
def audited(context: Context) -> None:
    with bank_store(context) as store:
        entries = [a for a in store.audit_log(20) if a.action == "憑證展期建檔" and a.result == "OK"]
    assert entries and json.loads(entries[-1].detail)["serial"] == _serial(context), entries


@when("未登入即開啟分行作業系統的傳真收件匣")
def inbox_without_login(context: Context) -> None:
    context.page.goto(f"{context.stack_env[env.BANK_URL]}/branch/inbox")


@then("分行作業系統顯示「{message}」")
def branch_says(context: Context, message: str) -> None:
    text, code = Message(context.shown_page or context.page).text()
    assert text == message, f"應顯示「{message}」，實際為「{text}」"
    context.shown_code = code
