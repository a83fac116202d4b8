"""Steps about the bank's three systems: logging in, their menus, their refusals.

Everything goes through chromium against the running bank (simulator/bank),
exactly as a customer would click. Customers are the personas of
fixtures/bank/personas.json, named as a feature names who they are: their zh-TW
title and a part of their name (「EOI 企業客戶 虛構雲杉企業」). What the customer
typed wrong is said in words (「輸入錯誤的密碼」); the values are made here. What a
page says is compared with the feature's words, and checked to be in people's
words: no error code, no developer's command (bank_support.in_peoples_words).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from behave import given, then, when
from behave.runner import Context

from fxml import env
from fxml.web import labels
from simulator.bank.customers import Customer, User, persona
from simulator.bank.store import BankStore
from simulator.bank.systems import by_title
from simulator.behave.bank_support import bank_dump, bank_store, in_peoples_words, new_browser
from simulator.behave.pages import BankLogin, BankMenu, BankUsers, Message, Screen
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


def log_in(context: Context, system_title: str, id_number: str, user_code: str, password: str,
           page: Any = None) -> None:
    """The login page of ``system_title``, filled in and sent, in the scenario's browser or in ``page``."""
    system = by_title(system_title)
    context.system = system
    login = BankLogin(page or context.page, _bank_url(context), system).open()
    login.log_in(id_number, user_code, password)
    _unlock_afterwards(context, id_number, user_code)


@given("「{customer}」以使用者代號「{user_code}」登入{system}")
@when("「{customer}」以使用者代號「{user_code}」登入{system}")
def persona_logs_in(context: Context, customer: str, user_code: str, system: str) -> None:
    who = persona(customer).customer
    user = who.user(user_code)
    assert user is not None, f"「{customer}」沒有使用者代號「{user_code}」"
    context.customer, context.user = who, user
    log_in(context, system, who.id_number, user.user_code, user.password)
    assert BankMenu(context.page, context.system).is_shown(), f"未能登入{system}：{context.page.url}"


# -- refused logins: what the customer typed wrong, in words (the values are made here) -----------------
#: A password that is no customer's.
WRONG_PASSWORD: Final = "Wrong1234"  # noqa: S105 - a wrong password on purpose, no one's
#: What the customer typed, by what the feature says went wrong: (id number, user code, password).
MISTYPED: Final[dict[str, Callable[[Customer, User], tuple[str, str, str]]]] = {
    "輸入錯誤的密碼": lambda c, u: (c.id_number, u.user_code, WRONG_PASSWORD),
    "輸入銀行沒有的使用者代號": lambda c, u: (c.id_number, _unknown_code(c), u.password),
    "身分證字號最後一碼打錯": lambda c, u: (_last_digit_off(c.id_number), u.user_code, u.password),
    "統一編號少輸入一碼": lambda c, u: (c.id_number[:-1], u.user_code, u.password),
    "使用者代號只輸入 4 個字": lambda c, u: (c.id_number, u.user_code[:4], u.password),
    "以身分證字號作為使用者代號": lambda c, u: (c.id_number, c.id_number, u.password),
    "輸入 EOI 系統的使用者代號與密碼": lambda c, u: (c.id_number, u.user_code, u.password),
}


def _unknown_code(customer: Customer) -> str:
    code = "NOUSER2015"
    assert customer.user(code) is None
    return code


def _last_digit_off(id_number: str) -> str:
    return f"{id_number[:-1]}{(int(id_number[-1]) + 1) % 10}"


@when("「{customer}」登入{system}時{mistake}")
def mistyped_login(context: Context, customer: str, system: str, mistake: str) -> None:
    assert mistake in MISTYPED, f"沒有「{mistake}」這種輸入錯誤（可用：{'、'.join(MISTYPED)}）"
    who = persona(customer).customer
    log_in(context, system, *MISTYPED[mistake](who, who.users[0]))


@then("未登入{system}")
def not_logged_in(context: Context, system: str) -> None:
    page = by_title(system)
    assert not BankMenu(context.page, page).is_shown(), f"不應登入{system}"
    menu = context.browser_context.request.get(f"{_bank_url(context)}{page.prefix}/menu", max_redirects=0)
    assert menu.status == 303 and menu.headers["location"].endswith(f"{page.prefix}/login"), \
        f"瀏覽器不應持有{system}的登入（HTTP {menu.status}）"


# -- the lockout: per code as typed and per computer (docs/bank.md, The lockout) --------------------------
@given("「{customer}」曾在自己的電腦上以使用者代號「{user_code}」登入{system}，並已登出")
def logged_in_before(context: Context, customer: str, user_code: str, system: str) -> None:
    persona_logs_in(context, customer, user_code, system)
    context.page.get_by_test_id("bank-menu").get_by_role("button", name=labels.LOGOUT).click()
    context.page.wait_for_load_state()
    assert context.page.url.endswith(f"{context.system.prefix}/login"), f"未登出：{context.page.url}"


def _elsewhere(context: Context) -> Any:
    """The other computer's page (opened at its first use)."""
    if getattr(context, "other_page", None) is None:
        context.other_page = new_browser(context)
    context.shown_page = context.other_page
    return context.other_page


@when("有人在另一部電腦上以使用者代號「{user_code}」及錯誤的密碼登入{system} {times:d} 次")
def wrong_elsewhere(context: Context, user_code: str, system: str, times: int) -> None:
    for _ in range(times):
        log_in(context, system, context.customer.id_number, user_code, WRONG_PASSWORD, _elsewhere(context))


@when("在另一部電腦上以正確的密碼登入{system}")
def right_elsewhere(context: Context, system: str) -> None:
    user = context.user
    log_in(context, system, context.customer.id_number, user.user_code, user.password, _elsewhere(context))


@then("另一部電腦的畫面顯示「{message}」")
def elsewhere_says(context: Context, message: str) -> None:
    text, _code = BankLogin(_elsewhere(context), "", context.system).error()
    in_peoples_words(text)
    assert text == message, f"另一部電腦的畫面應顯示「{message}」，實際為「{text}」"


@when("客戶在自己的電腦上以正確的密碼登入{system}")
def right_at_home(context: Context, system: str) -> None:
    user = context.user
    log_in(context, system, context.customer.id_number, user.user_code, user.password)


@when("有人以銀行沒有的使用者代號登入「{customer}」的{system} {times:d} 次")
def unknown_code_times(context: Context, customer: str, system: str, times: int) -> None:
    who = persona(customer).customer
    context.login_answers = []
    for _ in range(times):
        log_in(context, system, who.id_number, _unknown_code(who), WRONG_PASSWORD)
        context.login_answers.append(BankLogin(context.page, "", context.system).error()[0])


@then("前 {count:d} 次畫面顯示「{message}」")
def first_answers(context: Context, count: int, message: str) -> None:
    shown = context.login_answers[:count]
    assert shown == [message] * count, f"前 {count} 次畫面應顯示「{message}」，實際為 {shown}"


@then("第 {number:d} 次畫面顯示「{message}」")
def nth_answer(context: Context, number: int, message: str) -> None:
    shown = context.login_answers[number - 1]
    in_peoples_words(shown)
    assert shown == message, f"第 {number} 次畫面應顯示「{message}」，實際為「{shown}」"


# -- 使用者管理 / 使用者維護 ------------------------------------------------------------------------------------
@then("{item}頁列出此客戶全部的使用者代號，共 {count:d} 個")
def user_list(context: Context, item: str, count: int) -> None:
    """The page's list is the feature's table, and the bank's own records of the customer hold exactly
    those user codes (the page tells the truth)."""
    page = context.page
    assert page.get_by_role("heading", name=item, exact=True).count() == 1, f"未進入「{item}」頁"
    users = BankUsers(page)
    shown = [[row[0], row[2]] for row in users.rows()]
    expected = [list(row.cells) for row in context.table]
    assert shown == expected, f"使用者清單應為 {expected}，畫面為 {shown}"
    assert users.count() == str(count) and len(shown) == count, f"使用者代號應共 {count} 個，畫面為 {users.count()}"
    with bank_store(context) as store:
        kept = store.customer(context.customer.id_number)
    assert kept is not None and [u.user_code for u in kept.users] == [row[0] for row in shown], \
        "畫面的使用者清單與銀行的紀錄不符"


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
    in_peoples_words(Screen(page).main_text())
    assert text == message, f"畫面應顯示「{message}」，實際為「{text}」"
    context.shown_code = code


@then("回到{system}的選單")
@then("進入{system}的選單")
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
