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
        items = self.page.get_by_test_id("platform-menu").locator("li")
        return [str(t).strip() for t in items.all_inner_texts()]

    def signed_in(self) -> dict[str, str]:
        table = self.page.get_by_test_id("platform-customer")
        rows = {}
        for row in table.locator("tr").all():
            rows[row.locator("th").inner_text().strip()] = row.locator("td").inner_text().strip()
        return rows

    def choose(self, item: str) -> None:
        menu = self.page.get_by_test_id("platform-menu")
        if item == labels.MENU_HOME:  # a form: it ends the platform's session
            menu.get_by_test_id("platform-home").click()
        else:
            menu.get_by_role("link", name=item, exact=True).click()
        self.page.wait_for_load_state()


@dataclass
class Renewal:
    """The platform's 憑證更新 wizard: 選擇更新清單, 確認更新資訊, 更新約定條款, 憑證下載."""

    page: Page

    def choose_and_confirm(self, common_name: str | None = None) -> None:
        """選擇更新清單: keep the preselected certificate (or pick one by Common Name), [確定]."""
        if common_name:
            self.page.get_by_role("radio", name=common_name).first.check()
        elif self.page.locator('input[name="serial"]:checked').count() == 0:
            self.page.locator('input[name="serial"]').first.check()  # none preselected (none is 正常)
        self.page.get_by_test_id("renew-select").click()
        self.page.wait_for_load_state()

    def shown(self, testid: str) -> str:
        return str(self.page.get_by_test_id(testid).inner_text()).strip()

    def query_time(self) -> tuple[str, str]:
        return self.shown("query-date"), self.shown("query-clock")

    def wait_for_carrier(self) -> str:
        """The 憑證儲存媒體 the card agent reported for the inserted card."""
        carrier = self.page.get_by_test_id("carrier")
        self.page.wait_for_function(
            "el => !el.textContent.startsWith('（')", arg=carrier.element_handle(), timeout=15_000)
        return str(carrier.inner_text()).strip()

    def enter_pin_and_confirm(self, pin: str) -> None:
        """確認更新資訊: the 憑證載具密碼 (to the card agent only), [確定]."""
        self.page.get_by_label("憑證載具密碼").fill(pin)
        self.page.get_by_test_id("renew-confirm-button").click()

    def error(self, timeout: float = 15_000) -> tuple[str, str]:
        box = self.page.get_by_test_id("renew-error")
        box.wait_for(state="visible", timeout=timeout)
        return str(box.inner_text()).strip(), box.get_attribute("data-code") or ""

    def update(self) -> None:
        """更新約定條款: [更新] (the prompt that follows is answered by the dialog handler)."""
        self.page.get_by_test_id("renew-update-button").click()


@dataclass
class Proof:
    """憑證證明單列印: the list (newest preselected), [確定], the sheet, [列印]."""

    page: Page

    def chosen(self) -> str:
        radio = self.page.locator('input[name="serial"]:checked')
        return str(radio.get_attribute("aria-label") or "")

    def confirm(self) -> None:
        self.page.get_by_test_id("proof-ok").click()
        self.page.wait_for_load_state()

    def sheet(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("proof-sheet").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}
