"""What the bank's steps share: the running bank's records as the steps read them (its SQLite file,
never through its pages), another browser (another person, another computer), and the check that
what a page says is in people's words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from behave.runner import Context

from simulator.bank.store import STORE_FILE, BankStore
from simulator.home import Home
from simulator.services import BANK


@contextmanager
def bank_store(context: Context) -> Iterator[BankStore]:
    home: Home = context.home
    store = BankStore(home.root / str(BANK.state_dir) / STORE_FILE)
    try:
        yield store
    finally:
        store.close()


def bank_dump(context: Context) -> dict[str, list[tuple[Any, ...]]]:
    with bank_store(context) as store:
        return store.dump()


def remember_bank(context: Context) -> None:
    """Keep the bank's records as they are before an action the bank may refuse."""
    context.bank_before = bank_dump(context)


def as_customer(context: Context) -> Any:
    """The customer's page (the scenario's own browser), after a step acted in another."""
    page = getattr(context, "customer_page", None)
    if page is not None:
        context.page = page
    return context.page


def new_browser(context: Context) -> Any:
    """A page in a new browser context (no cookies: another person, another computer), closed with the
    scenario; the scenario's own page stays the customer's."""
    browser_context = context.chromium["browser"].new_context(
        locale="zh-TW", timezone_id="Asia/Taipei", viewport={"width": 1280, "height": 900})
    browser_context.set_default_timeout(15_000)
    context.add_cleanup(browser_context.close)
    if getattr(context, "customer_page", None) is None:
        context.customer_page = context.page
    return browser_context.new_page()


#: What a customer or an officer must never read as the text of a page: a bare error code
#: (UPPER_CASE_WITH_UNDERSCORES) or a developer's command.
_NOT_FOR_PEOPLE = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|python -m|fxmlsim |\.py\b")


def in_peoples_words(text: str) -> None:
    """``text`` (what a page shows as its main text) has no error code and no developer's command."""
    found = _NOT_FOR_PEOPLE.findall(text)
    assert not found, f"畫面的說明文字不應出現錯誤代碼或程式指令：{found}（{text}）"
