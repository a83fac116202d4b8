"""Steps of the branch back office (分行作業系統, step 9): the officer's login, the inbox of faxed proof
sheets, the check against the CA and 憑證展期建檔.

An officer works in a browser of their own (another chromium context: another person, another
computer); the customer's page stays where it was. Steps that act there show that browser in the
report (``context.shown_page``). What the bank recorded is read from its records.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from behave import given, then, when
from behave.runner import Context

from fxml import env
from fxml.display import roc_date, time_text
from simulator import procedure
from simulator.bank.customers import persona
from simulator.bank.officers import load_officers
from simulator.bank.systems import BY_SYSTEM
from simulator.behave.bank_support import as_customer, bank_store, in_peoples_words, new_browser, remember_bank
from simulator.behave.pages import Branch, Message, Screen


def _officer(branch: str, role: str, name: str) -> Any:
    """An officer of the bank (fixtures/bank/officers.json) by branch, kind and name, as a feature names them."""
    for item in load_officers():
        if item.branch.name == f"{branch}分行" and item.role.label == f"{role}經辦" and item.name == name:
            return item
    raise AssertionError(f"{branch}分行沒有{role}經辦{name}")


def _branch(context: Context, page: Any = None) -> Branch:
    page = page or context.officer_page
    context.shown_page = page
    return Branch(page, str(context.stack_env[env.BANK_URL]))


def _serial(context: Context) -> str:
    return f"{context.new_certificate.serial_number:X}"


@when("{branch}分行的{role}經辦{name}登入分行作業系統")
def officer_logs_in(context: Context, branch: str, role: str, name: str) -> None:
    officer = _officer(branch, role, name)
    context.officer_page = new_browser(context)
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


@then("{branch}分行的{role}經辦{name}的收件匣沒有此憑證證明單")
def not_in_other_inbox(context: Context, branch: str, role: str, name: str) -> None:
    officer = _officer(branch, role, name)
    page = new_browser(context)
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


def _file_with(context: Context, codes: list[str]) -> None:
    remember_bank(context)
    _branch(context).file(codes)
    if context.officer_page.get_by_test_id("message").count():
        context.shown_message, context.shown_code = Message(context.officer_page).text()


@when("輸入關係戶之用戶代碼「{codes}」並點選「憑證展期建檔」")
def file_with_codes(context: Context, codes: str) -> None:
    _file_with(context, codes.split("、"))


@when("未輸入關係戶之用戶代碼即點選「憑證展期建檔」")
def file_without_codes(context: Context) -> None:
    boxes = _branch(context).page.get_by_test_id("relationship-code")
    assert boxes.count() > 0, "此憑證證明單沒有關係戶之用戶代碼的欄位"
    _file_with(context, [])


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


@then("分行作業系統顯示建檔經辦為「{who}」")
def filed_by(context: Context, who: str) -> None:
    """The filing page names the officer who filed, and so do the bank's records (filing and audit line)."""
    shown = _branch(context).filing().get("經辦")
    assert shown == who, f"建檔經辦應為「{who}」，畫面為「{shown}」"
    with bank_store(context) as store:
        row = store.connection().execute("SELECT branch_code, officer_code FROM filings WHERE serial = ?",
                                         (_serial(context),)).fetchone()
        audited = [a.actor for a in store.audit_log(20) if a.action == "憑證展期建檔" and a.result == "OK"]
    assert row is not None and who.endswith(f"（{row[1]}）"), f"銀行紀錄的建檔經辦為 {row}"
    assert audited and audited[-1] == f"{row[0]}:{row[1]}", audited


@then("建檔的關係戶之用戶代碼為「{codes}」")
def filed_codes(context: Context, codes: str) -> None:
    with bank_store(context) as store:
        row = store.connection().execute("SELECT relationship_codes FROM filings WHERE serial = ?",
                                         (_serial(context),)).fetchone()
    assert row is not None and json.loads(row[0]) == codes.split("、"), row


@then("分行作業系統拒絕建檔，顯示「{message}」")
def filing_refused(context: Context, message: str) -> None:
    office = _branch(context)
    assert office.page.get_by_test_id("filing-done").count() == 0, "不應完成憑證展期建檔"
    in_peoples_words(Screen(office.page).main_text())
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
    page = context.shown_page or context.page
    text, code = Message(page).text()
    in_peoples_words(Screen(page).main_text())
    assert text == message, f"應顯示「{message}」，實際為「{text}」"
    context.shown_code = code


# -- before the branch: the customer's part of step 9, and what the customer is told ------------------------
@given("「{customer}」已更新憑證，並將憑證證明單傳真至申辦分行「{branch}」")
def renewed_and_faxed(context: Context, customer: str, branch: str) -> None:
    """Steps 1 to 8 and step 9's [列印], as the scenarios before show them one by one."""
    who = persona(customer).customer
    system = BY_SYSTEM[who.system]
    context.execute_steps(f"""
        假設 「{customer}」的憑證載具已插入讀卡機，憑證於 27 天後到期
        而且 「{customer}」以使用者代號「{who.users[0].user_code}」登入{system.title}
        而且 點選「{system.platform_group}」>「{system.platform_item}」
        而且 完成線上憑證更新（步驟2至7）
        當 點選憑證管理平台的「憑證證明單列印」
        而且 於憑證證明單列印點選「確定」
        而且 於憑證證明單點選「列印」
        那麼 畫面顯示憑證資料已傳真至申辦分行「{branch}」及收件時間
    """)


@then("畫面依操作手冊步驟9提醒：{said}")
def told_as_the_manual_says(context: Context, said: str) -> None:
    """Each quoted sentence is the manual's own (simulator/procedure.py, to the character but for the
    comma or full stop that ends it there), and the customer's page says it."""
    sentences = re.findall(r"「([^」]+)」", said)
    assert sentences, f"請以「」列出操作手冊的句子：{said}"
    manual = [i.words.rstrip("，。") for i in procedure.instructions_of(9)]
    shown = Screen(as_customer(context)).main_text()
    for sentence in sentences:
        assert sentence in manual, f"「{sentence}」不是操作手冊步驟9的句子：{manual}"
        assert sentence in shown, f"畫面應提醒「{sentence}」，畫面為「{shown}」"
