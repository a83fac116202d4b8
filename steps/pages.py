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
        """點選「group」>「item」: the item of that menu group (a form's button, or a link)."""
        menu = self.page.get_by_test_id("bank-menu")
        section = menu.locator(".menu-group").filter(has=self.page.get_by_text(group, exact=True))
        link = section.get_by_role("link", name=item, exact=True)
        (link if link.count() else section.get_by_role("button", name=item, exact=True)).click()
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
class Screen:
    """Any page, as a person reads it."""

    page: Page

    def main_text(self) -> str:
        """The visible text of the page's content (not its frame), without the small print of an
        error's code (``.message-code``): what a person reads as what the page says."""
        main = self.page.locator("main.content")
        text = str(main.inner_text())
        for small in main.locator(".message-code").all_inner_texts():
            text = text.replace(str(small), "")
        return text.strip()


@dataclass
class BankUsers:
    """使用者管理 (企業網路銀行) / 使用者維護 (EOI 系統): the company's user codes."""

    page: Page

    def rows(self) -> list[list[str]]:
        """The list's rows (使用者代號, 姓名, 身分), as the page shows them."""
        return [[str(t).strip() for t in row.locator("td").all_inner_texts()]
                for row in self.page.get_by_test_id("user-row").all()]

    def count(self) -> str:
        return str(self.page.get_by_test_id("user-count").inner_text()).strip()


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

    def print_and_fax(self) -> tuple[str, str]:
        """[列印]: for an EOI customer the sheet is faxed first; (what the page says, its error code)."""
        self.page.get_by_test_id("proof-print").click()
        sent, problem = self.page.get_by_test_id("proof-fax-sent"), self.page.get_by_test_id("proof-fax-error")
        self.page.locator('[data-testid="proof-fax"]:not([hidden]), [data-testid="proof-fax-error"]:not([hidden])'
                          ).first.wait_for(timeout=20_000)
        if problem.is_visible():
            return str(problem.inner_text()).strip(), problem.get_attribute("data-code") or ""
        return str(sent.inner_text()).strip(), ""


@dataclass
class Transfer:
    """臺幣轉帳: the form, then the sign page (certificate, 憑證載具密碼, [確定]), then 轉帳成功."""

    page: Page

    def fill(self, to_account: str, amount: str, payer: str | None = None, memo: str = "") -> None:
        form = self.page.get_by_test_id("transfer-form")
        if payer is not None:
            form.get_by_label("付款戶").select_option(payer)
        form.get_by_label("轉入帳號", exact=True).fill(to_account)
        form.get_by_label("轉帳金額", exact=True).fill(amount)
        form.get_by_label("附言", exact=True).fill(memo)
        self.page.get_by_test_id("transfer-next").click()
        self.page.wait_for_load_state()

    def certificates(self) -> list[tuple[str, str]]:
        """The certificates of the inserted card the page offers: (serial, label), newest first."""
        picker = self.page.get_by_test_id("transfer-certificate")
        self.page.wait_for_function("el => el.options.length > 0 && el.options[0].value !== ''",
                                    arg=picker.element_handle(), timeout=15_000)
        options = picker.locator("option").all()
        return [(str(o.get_attribute("data-serial")), str(o.inner_text())) for o in options]

    def choose_certificate(self, serial: str) -> None:
        self.certificates()
        picker = self.page.get_by_test_id("transfer-certificate")
        value = picker.locator(f'option[data-serial="{serial}"]').get_attribute("value")
        picker.select_option(value)

    def sign(self, pin: str) -> None:
        """[確定]: the PIN to the card agent, the card signs, the bank answers (a new page or a refusal)."""
        self.certificates()
        self.page.get_by_label("憑證載具密碼").fill(pin)
        self.page.get_by_test_id("transfer-sign").click()
        self.page.locator('[data-testid="transfer-done"], [data-testid="transfer-error"]:not([hidden])'
                          ).first.wait_for(timeout=20_000)

    def error(self) -> tuple[str, str]:
        box = self.page.get_by_test_id("transfer-error")
        return str(box.inner_text()).strip(), box.get_attribute("data-code") or ""

    def result(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("transfer-summary").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}


@dataclass
class Branch:
    """分行作業系統: the officer's login, the inbox, a faxed sheet and 憑證展期建檔."""

    page: Page
    bank_url: str

    def log_in(self, branch_code: str, officer_code: str, password: str) -> None:
        self.page.goto(f"{self.bank_url}/branch/login")
        self.page.get_by_label("分行代號", exact=True).fill(branch_code)
        self.page.get_by_label("員工代號", exact=True).fill(officer_code)
        self.page.get_by_label("密碼", exact=True).fill(password)
        self.page.get_by_role("button", name=labels.LOGIN).click()
        self.page.wait_for_load_state()

    def inbox(self) -> list[dict[str, str]]:
        """The inbox's rows: 收件時間, 簽章憑證序號, 狀態, and the fax's number."""
        self.page.goto(f"{self.bank_url}/branch/inbox")
        rows = []
        for row in self.page.get_by_test_id("inbox-row").all():
            cells = [str(c).strip() for c in row.locator("td").all_inner_texts()]
            rows.append({"收件時間": cells[0], "證號": cells[1], "簽章憑證序號": cells[3], "狀態": cells[4],
                         "fax": str(row.get_attribute("data-fax"))})
        return rows

    def open(self, fax: str) -> None:
        self.page.goto(f"{self.bank_url}/branch/fax/{fax}")

    def checks(self) -> dict[str, str]:
        """The comparison with the CA: label → 相符 / 不符 (and 客戶最新憑證 → 是 / 否)."""
        rows = self.page.get_by_test_id("fax-check").locator("tr[data-label]").all()
        return {str(r.get_attribute("data-label")): str(r.get_by_test_id("check-result").inner_text()).strip()
                for r in rows}

    def filing(self) -> dict[str, str]:
        """憑證展期建檔完成: the filing's facts by label (建檔編號, 新憑證序號, 經辦 ...)."""
        cells = self.page.get_by_test_id("filing-facts").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}

    def file(self, codes: list[str] | None = None) -> None:
        """憑證展期建檔, with the relationship customers' 用戶代碼 in the boxes, in order."""
        boxes = self.page.get_by_test_id("relationship-code").all()
        for box, code in zip(boxes, codes or [], strict=False):
            box.fill(code)
        self.page.get_by_test_id("filing-submit").click()
        self.page.wait_for_load_state()
