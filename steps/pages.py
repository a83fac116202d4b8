"""Page objects: one class per screen, methods named after what a person does.

The steps (steps/*_steps.py) read like the manual because they call these;
a changed selector is mended here, once. Labels come from the same tables the
pages are rendered from (fxml.web.labels, simulator.bank.systems).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fxml.web import labels
from simulator.bank.systems import SystemPage

Page = Any  # playwright.sync_api.Page (imported lazily: only browser features need it)


@dataclass
class BankLogin:
    """A system's login page (身分證字號 or 統一編號, 使用者代號, 密碼)."""

    page: Page
    bank_url: str
    system: SystemPage

    def open(self) -> BankLogin:
        self.page.goto(f"{self.bank_url}{self.system.prefix}/login")
        return self

    def log_in(self, id_number: str, user_code: str, password: str) -> None:
        self.page.get_by_label(self.system.id_label, exact=True).fill(id_number)
        self.page.get_by_label("使用者代號", exact=True).fill(user_code)
        self.page.get_by_label("密碼", exact=True).fill(password)
        self.page.get_by_role("button", name=labels.LOGIN).click()
        self.page.wait_for_load_state()

    def error(self) -> tuple[str, str]:
        """The refusal on the page: its message and its code."""
        box = self.page.get_by_test_id("login-error")
        return box.inner_text().strip(), box.get_attribute("data-code") or ""


@dataclass
class BankMenu:
    """A system's menu after login."""

    page: Page
    system: SystemPage

    def is_shown(self) -> bool:
        return self.page.url.endswith(f"{self.system.prefix}/menu")

    def choose(self, group: str, item: str) -> None:
        """點選「group」>「item」: the item of that menu group."""
        menu = self.page.get_by_test_id("bank-menu")
        section = menu.locator(".menu-group").filter(has=self.page.get_by_text(group, exact=True))
        section.get_by_role("button", name=item, exact=True).click()
        self.page.wait_for_load_state()


@dataclass
class Message:
    """A page that says one thing (a refusal, a notice)."""

    page: Page

    def text(self) -> tuple[str, str]:
        box = self.page.get_by_test_id("message")
        text = box.locator(".message-text")
        return text.inner_text().strip(), text.get_attribute("data-code") or ""


@dataclass
class Platform:
    """The FXML 憑證管理 platform's frame: title, left menu, who is signed in."""

    page: Page
    platform_url: str

    def is_shown(self) -> bool:
        return self.page.url.startswith(self.platform_url) and self.page.get_by_test_id("platform-menu").count() == 1

    def menu(self) -> list[str]:
        return [t.strip() for t in self.page.get_by_test_id("platform-menu").get_by_role("link").all_inner_texts()]

    def signed_in(self) -> dict[str, str]:
        table = self.page.get_by_test_id("platform-customer")
        rows = {}
        for row in table.locator("tr").all():
            rows[row.locator("th").inner_text().strip()] = row.locator("td").inner_text().strip()
        return rows

    def choose(self, item: str) -> None:
        self.page.get_by_test_id("platform-menu").get_by_role("link", name=item, exact=True).click()
        self.page.wait_for_load_state()
