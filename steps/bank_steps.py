"""Steps about the bank's three systems: logging in, their menus, their refusals.

Everything goes through chromium against the running bank (simulator/bank),
exactly as a customer would click. Customers are the personas of
fixtures/bank/personas.json, named by their zh-TW title or their name.
"""

from __future__ import annotations

from bank_support import bank_dump
from behave import given, then, when
from behave.runner import Context
from pages import BankLogin, BankMenu, Message

from fxml import env
from simulator.bank.customers import persona
from simulator.bank.store import BankStore
from simulator.bank.systems import by_title
from simulator.home import Home
from simulator.services import BANK


def _bank_url(context: Context) -> str:
    return str(context.stack_env[env.BANK_URL])


def _unlock_afterwards(context: Context, id_number: str, user_code: str) -> None:
    """Wrong passwords count in the running bank: give the user a clean slate after the scenario."""
    home: Home = context.home

    def unlock() -> None:
        store = BankStore(home.root / str(BANK.state_dir) / "bank.sqlite3")
        try:
            store.unlock(id_number, user_code)
        finally:
            store.close()

    context.add_cleanup(unlock)


def log_in(context: Context, system_title: str, id_number: str, user_code: str, password: str) -> None:
    system = by_title(system_title)
    context.system = system
    login = BankLogin(context.page, _bank_url(context), system).open()
    login.log_in(id_number, user_code, password)
    _unlock_afterwards(context, id_number, user_code)


@given("「{customer}」以使用者代號「{user_code}」登入{system}")
@when("「{customer}」以使用者代號「{user_code}」登入{system}")
def persona_logs_in(context: Context, customer: str, user_code: str, system: str) -> None:
    who = persona(customer).customer
    user = who.user(user_code)
    assert user is not None, f"「{customer}」沒有使用者代號「{user_code}」"
    context.customer = who
    log_in(context, system, who.id_number, user.user_code, user.password)
    assert BankMenu(context.page, context.system).is_shown(), f"未能登入{system}：{context.page.url}"


@when("「{customer}」以使用者代號「{user_code}」及錯誤的密碼登入{system} {times:d} 次")
def wrong_password_times(context: Context, customer: str, user_code: str, system: str, times: int) -> None:
    who = persona(customer).customer
    for _ in range(times):
        log_in(context, system, who.id_number, user_code, "Wrong1234")


@when("「{customer}」以使用者代號「{user_code}」及正確的密碼登入{system}")
def right_password(context: Context, customer: str, user_code: str, system: str) -> None:
    who = persona(customer).customer
    user = who.user(user_code)
    assert user is not None
    log_in(context, system, who.id_number, user_code, user.password)


@when("在{system}登入頁輸入證號「{id_number}」、使用者代號「{user_code}」、密碼「{password}」")
def typed_login(context: Context, system: str, id_number: str, user_code: str, password: str) -> None:
    log_in(context, system, id_number, user_code, password)


@given("點選「{group}」>「{item}」")
@when("點選「{group}」>「{item}」")
def choose_menu(context: Context, group: str, item: str) -> None:
    system = context.system
    assert (group, item) == (system.platform_group, system.platform_item) or any(
        group == g.title and item in g.items for g in system.menu
    ), f"{system.title}的選單沒有「{group}」>「{item}」"
    BankMenu(context.page, system).choose(group, item)
    context.illustrates = 1 if (group, item) == (system.platform_group, system.platform_item) else None


@then("畫面顯示「{message}」")
def page_says(context: Context, message: str) -> None:
    page = context.page
    if page.get_by_test_id("login-error").count():
        text, code = BankLogin(page, "", context.system).error()
    else:
        text, code = Message(page).text()
    assert text == message, f"畫面應顯示「{message}」，實際為「{text}」"
    context.shown_code = code


@then("錯誤代碼為「{code}」")
def error_code_is(context: Context, code: str) -> None:
    assert context.shown_code == code, f"錯誤代碼應為 {code}，畫面為 {context.shown_code}"


@then("回到{system}的選單")
def back_at_menu(context: Context, system: str) -> None:
    page = by_title(system)
    assert BankMenu(context.page, page).is_shown(), f"應回到{system}的選單，實際在 {context.page.url}"


@then("銀行的資料未變更，僅多一筆稽核紀錄")
def bank_unchanged(context: Context) -> None:
    """The refusal changed nothing in the bank's records but one audit line, of the refusal's code."""
    before, after = context.bank_before, bank_dump(context)
    for table in before:
        if table not in ("audit", "api_nonces"):
            assert after[table] == before[table], f"銀行的資料表 {table} 有變更"
    added = after["audit"][len(before["audit"]):]
    assert after["audit"][:len(before["audit"])] == before["audit"], "稽核紀錄遭改寫"
    assert [row[5] for row in added] == [context.shown_code], f"應只多一筆 {context.shown_code} 的稽核紀錄：{added}"
