"""Steps about the FXML 憑證管理 platform: its entrance, its frame and its menu."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from behave import then, when
from behave.runner import Context

from fxml import env
from fxml.web import labels
from simulator import procedure
from simulator.behave.clock_support import advance
from simulator.behave.pages import BankMenu, Message, Platform


def _platform(context: Context) -> Platform:
    return Platform(context.page, str(context.stack_env[env.PLATFORM_URL]))


@then("進入「FXML 憑證管理」，左方選單為「{items}」")
def platform_menu(context: Context, items: str) -> None:
    platform = _platform(context)
    assert platform.is_shown(), f"未進入憑證管理平台：{context.page.url}"
    heading = context.page.get_by_test_id("platform-menu").get_by_role("heading").inner_text()
    assert heading == procedure.FRAME[-1], f"左方選單的標題應為「{procedure.FRAME[-1]}」，畫面為「{heading}」"
    expected = items.split("、")
    assert platform.menu() == expected, f"左方選單應為 {expected}，實際為 {platform.menu()}"


@then("憑證管理平台顯示{label}為「{value}」")
def platform_shows(context: Context, label: str, value: str) -> None:
    shown = _platform(context).signed_in()
    assert shown.get(label) == value, f"{label}應為「{value}」，畫面為「{shown.get(label)}」"


@then("未進入憑證管理平台")
def not_in_platform(context: Context) -> None:
    assert not _platform(context).is_shown(), "不應進入憑證管理平台"
    # Nor did the browser get a platform session: the platform's home still turns it away.
    home = context.browser_context.request.get(f"{context.stack_env[env.PLATFORM_URL]}/")
    assert home.status == 401, f"瀏覽器不應持有憑證管理平台的工作階段（HTTP {home.status}）"


#: The manual's step whose screen a platform menu item opens (the living manual's screenshots).
ILLUSTRATES = {labels.MENU_RENEW: 2, labels.MENU_PROOF: 8}


@when("點選憑證管理平台的「{item}」")
def choose_platform_item(context: Context, item: str) -> None:
    _platform(context).choose(item)
    if item in ILLUSTRATES:
        context.illustrates = ILLUSTRATES[item]


@when("點選「{group}」>「{item}」，進入憑證管理平台")
def into_the_platform(context: Context, group: str, item: str) -> None:
    """Step 1's menu item of the customer's system: the platform's first page (step 1's screen)."""
    system = context.system
    assert (group, item) == (system.platform_group, system.platform_item), \
        f"{system.title}進入憑證管理平台的路徑是「{system.platform_group}」>「{system.platform_item}」"
    BankMenu(context.page, system).choose(group, item)
    assert _platform(context).is_shown(), f"未進入憑證管理平台：{context.page.url}"
    context.illustrates = 1


@when("登入連結於 {seconds:d} 秒後才送達憑證管理平台")
def ticket_arrives_late(context: Context, seconds: int) -> None:
    """The bank signs the ticket now; its answer is held before the browser follows
    it to the platform, and the clock moves on meanwhile."""
    held: list[str] = []

    def hold(route: Any) -> None:
        answer = route.fetch(max_redirects=0)  # the bank's 303 to the platform, ticket inside
        held.append(answer.headers["location"])
        route.fulfill(status=200, content_type="text/plain; charset=utf-8", body="（登入連結傳送中）")

    page = context.page
    system = context.system
    bank_item = f"{context.stack_env[env.BANK_URL]}{system.prefix}/fxml"
    page.route(bank_item, hold)
    BankMenu(page, system).choose(system.platform_group, system.platform_item)
    page.unroute(bank_item)
    assert held and "/entry?ticket=" in held[0], f"銀行未將客戶導向憑證管理平台：{held}"
    advance(context, seconds)
    page.goto(held[0])


@when("再次開啟同一個登入連結")
def reopen_ticket(context: Context) -> None:
    assert context.entry_urls, "此情境尚未經過憑證管理平台的登入連結"
    context.page.goto(context.entry_urls[-1])


@when("直接輸入憑證管理平台「{item}」的網址")
def typed_platform_url(context: Context, item: str) -> None:
    from fxml.platform.app import MENU

    path = dict(MENU)[item]
    context.page.goto(f"{context.stack_env[env.PLATFORM_URL]}{path}")


@when("以偽造的登入連結開啟憑證管理平台")
def forged_ticket(context: Context) -> None:
    url = f"{context.stack_env[env.PLATFORM_URL]}/entry?{urlencode({'ticket': 'eyJmb3JnZWQiOnRydWV9.forged.sig'})}"
    context.page.goto(url)


@then("憑證管理平台顯示「{message}」")
def platform_says(context: Context, message: str) -> None:
    text, code = Message(context.page).text()
    assert text == message, f"畫面應顯示「{message}」，實際為「{text}」"
    context.shown_code = code
