"""Page objects: one class per screen, methods named after what a person does.

The steps (steps/*_steps.py) read like the manual because they call these;
a changed selector is mended here, once. Buttons and menu items are found by
the labels the pages are rendered from (fxml.web.labels, simulator.bank.systems);
what a page *says* is read here as the page shows it, and the steps compare it
with the manual (simulator.procedure) or with the feature's own words.
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

    def chosen(self) -> str:
        """選擇更新清單: the Common Name of the certificate chosen."""
        return str(self.page.locator('input[name="serial"]:checked').get_attribute("aria-label") or "")

    def shown(self, testid: str) -> str:
        return str(self.page.get_by_test_id(testid).inner_text()).strip()

    def query_line(self) -> str:
        """The line with 查詢日期 and 查詢時間, as the page writes it."""
        return str(self.page.get_by_test_id("query-time").inner_text()).strip()

    def carrier(self) -> str:
        return self.shown("carrier")

    def wait_for_carrier(self, expected: str | None = None) -> str:
        """The 憑證儲存媒體 the card agent reported for the inserted card (or, given, that text)."""
        carrier = self.page.get_by_test_id("carrier")
        if expected is None:
            self.page.wait_for_function(
                "el => !el.textContent.startsWith('（')", arg=carrier.element_handle(), timeout=15_000)
        else:
            self.page.wait_for_function(
                "([el, text]) => el.textContent.trim() === text", arg=[carrier.element_handle(), expected],
                timeout=15_000)
        return self.carrier()

    def notes(self) -> list[str]:
        """確認更新資訊's numbered notes under the table, as the page shows them."""
        items = self.page.get_by_test_id("renew-confirm-notes").locator("li")
        return [str(t).strip() for t in items.all_inner_texts()]

    def fill_pin(self, pin: str) -> None:
        self.page.get_by_label("憑證載具密碼").fill(pin)

    def confirm(self) -> None:
        self.page.get_by_test_id("renew-confirm-button").click()

    def enter_pin_and_confirm(self, pin: str) -> None:
        """確認更新資訊: the 憑證載具密碼 (to the card agent only), [確定]."""
        self.fill_pin(pin)
        self.confirm()

    def nothing_below(self, testid: str) -> list[str]:
        """What the page shows below the element ``testid`` (its top under that element's bottom)."""
        found: list[str] = self.page.evaluate(
            """(testid) => {
                 const mark = document.querySelector(`[data-testid="${testid}"]`).getBoundingClientRect();
                 const main = document.querySelector("main.content");
                 return Array.from(main.querySelectorAll("*"))
                   .filter((el) => el.offsetParent !== null && el.getClientRects().length > 0)
                   .filter((el) => el.getBoundingClientRect().top >= mark.bottom - 1)
                   .filter((el) => (el.innerText || el.value || "").trim() !== "")
                   .map((el) => (el.innerText || el.value).trim());
               }""", testid)
        return found

    def alerts(self) -> list[str]:
        """The page's visible alerts (refusals and warnings) in the content, in page order."""
        boxes = self.page.locator('main.content [role="alert"]:visible')
        return [str(t).strip() for t in boxes.all_inner_texts()]

    def error(self, timeout: float = 15_000) -> tuple[str, str]:
        box = self.page.get_by_test_id("renew-error")
        box.wait_for(state="visible", timeout=timeout)
        return str(box.inner_text()).strip(), box.get_attribute("data-code") or ""

    def update(self) -> None:
        """更新約定條款: [更新] (the page's prompt follows)."""
        self.page.get_by_test_id("renew-update-button").click()

    def prompt(self) -> str:
        """Step 5: the page's prompt, once it shows."""
        box = self.page.get_by_test_id("renew-prompt")
        box.wait_for(state="visible")
        return str(self.page.get_by_test_id("renew-prompt-text").inner_text()).strip()

    def answer_prompt(self, ok: bool) -> None:
        self.page.get_by_test_id("renew-prompt-ok" if ok else "renew-prompt-cancel").click()
        self.page.get_by_test_id("renew-prompt").wait_for(state="hidden")

    def downloaded(self, timeout: float = 60_000) -> str:
        """Step 6: the page's message at the end of the renewal, once it shows."""
        self.page.get_by_test_id("renew-downloaded").wait_for(state="visible", timeout=timeout)
        return str(self.page.get_by_test_id("renew-downloaded-text").inner_text()).strip()

    def close_downloaded(self) -> None:
        """Step 6: the message's [確定], which opens the 憑證下載 page."""
        self.page.get_by_test_id("renew-downloaded-ok").click()
        self.page.wait_for_url("**/done", timeout=30_000)

    def new_certificate(self) -> dict[str, str]:
        """憑證下載: the new certificate's table, by the labels the page shows."""
        rows = self.page.get_by_test_id("new-certificate").locator("tr").all()
        return {str(r.locator("th").inner_text()).strip(): str(r.locator("td").inner_text()).strip() for r in rows}


@dataclass
class Proof:
    """憑證證明單列印: the list (newest preselected), [確定], the sheet, [列印]."""

    page: Page

    def chosen(self) -> str:
        radio = self.page.locator('input[name="serial"]:checked')
        return str(radio.get_attribute("aria-label") or "")

    def rows(self) -> list[str]:
        """The list's Common Names, in the page's order, as the rows show them."""
        cells = self.page.get_by_test_id("proof-list").locator("tr td:nth-child(2)")
        return [str(t).strip() for t in cells.all_inner_texts()]

    def choose(self, common_name: str) -> None:
        self.page.get_by_test_id("proof-list").get_by_role("radio", name=common_name, exact=True).check()

    def confirm(self) -> None:
        self.page.get_by_test_id("proof-ok").click()
        self.page.wait_for_load_state()

    def sheet_rows(self) -> list[tuple[str, str]]:
        """The sheet's lines as the page shows them: (its label, its value), in order."""
        rows = self.page.get_by_test_id("proof-sheet").locator("tr").all()
        return [(str(r.locator("th").inner_text()).strip(), str(r.locator("td").inner_text()).strip()) for r in rows]

    def sheet(self) -> dict[str, str]:
        """The sheet's values by the CA's field names (for the steps of step 9)."""
        cells = self.page.get_by_test_id("proof-sheet").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}

    def watch_printing(self) -> None:
        """Count the page's calls to the browser's print (headless chromium prints nothing itself)."""
        self.page.evaluate("() => { window.fxmlPrinted = 0; window.print = () => { window.fxmlPrinted += 1; }; }")

    def printed(self) -> int:
        return int(self.page.evaluate("() => window.fxmlPrinted || 0"))

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


@dataclass
class Frame:
    """The bank's frame around a platform page, as a person reads it: header, menu, the query line, footer."""

    page: Page

    def header(self) -> str:
        return str(self.page.get_by_test_id("bank-header").inner_text())

    def menu(self) -> list[str]:
        return [str(t).strip() for t in self.page.get_by_test_id("platform-menu").locator("li").all_inner_texts()]

    def footer(self) -> str:
        return str(self.page.get_by_test_id("bank-footer").inner_text())

    def title(self) -> str:
        return str(self.page.locator("main.content h1").first.inner_text()).strip()

    def query_line(self) -> str:
        return str(self.page.get_by_test_id("query-time").inner_text()).strip()


@dataclass
class CertificateQuery:
    """憑證查詢 (beyond the manual): the customer's certificates, and which are on the inserted card."""

    page: Page

    def wait_for_card(self) -> None:
        """Until the page has asked the card agent about the inserted card."""
        self.page.locator('#query[data-card="read"]').wait_for(timeout=15_000)

    def rows(self) -> list[dict[str, str]]:
        """The list's rows, each by its column's label as the page writes it, with the row's serial."""
        found = []
        for row in self.page.get_by_test_id("query-row").all():
            cells = {str(c.get_attribute("data-label")): str(c.inner_text()).strip()
                     for c in row.locator("td[data-label]").all()}
            found.append({**cells, "serial": str(row.get_attribute("data-serial"))})
        return found

    def headings(self) -> list[str]:
        return [str(t).strip() for t in self.page.get_by_test_id("query-list").locator("th").all_inner_texts()]

    def card_line(self) -> str:
        box = self.page.get_by_test_id("query-card")
        return str(box.inner_text()).strip() if box.is_visible() else ""


@dataclass
class PinChangePage:
    """憑證載具密碼變更 (beyond the manual): 原憑證載具密碼, 新憑證載具密碼 twice, [確定]."""

    page: Page

    def wait_for_card(self) -> None:
        self.page.locator('#pin-change[data-card="read"]').wait_for(timeout=15_000)

    def carrier(self) -> str:
        return str(self.page.get_by_test_id("carrier").inner_text()).strip()

    def change(self, old: str, new: str, again: str) -> None:
        self.page.get_by_label("原憑證載具密碼", exact=True).fill(old)
        self.page.get_by_label("新憑證載具密碼", exact=True).fill(new)
        self.page.get_by_label("再次輸入新憑證載具密碼", exact=True).fill(again)
        self.page.get_by_test_id("pin-change-confirm").click()
        self.page.locator('[data-testid="pin-change-done"]:not([hidden]), '
                          '[data-testid="pin-change-error"]:not([hidden]), '
                          '[data-testid="agent-missing"]:not([hidden])').first.wait_for(timeout=20_000)

    def done(self) -> str:
        box = self.page.get_by_test_id("pin-change-done")
        return str(box.inner_text()).strip() if box.is_visible() else ""

    def typed(self) -> list[str]:
        """What the three boxes hold now."""
        return [str(self.page.get_by_test_id(t).input_value()) for t in ("old-pin", "new-pin", "new-pin-again")]


@dataclass
class Suspension:
    """憑證暫禁 (beyond the manual): the list, [暫禁], the page's prompt, the result."""

    page: Page

    def chosen(self) -> str:
        radio = self.page.locator('input[name="serial"]:checked')
        return str(radio.get_attribute("value") or "") if radio.count() else ""

    def choose(self, serial: str) -> None:
        self.page.locator(f'input[name="serial"][value="{serial}"]').check()

    def suspend(self) -> str:
        """[暫禁]: the page's prompt, once it shows (its words)."""
        self.page.get_by_test_id("suspend-button").click()
        self.page.get_by_test_id("suspend-prompt").wait_for(state="visible")
        return str(self.page.get_by_test_id("suspend-prompt-text").inner_text()).strip()

    def answer(self, ok: bool) -> None:
        self.page.get_by_test_id("suspend-prompt-ok" if ok else "suspend-prompt-cancel").click()
        if ok:
            self.page.wait_for_load_state()
        else:
            self.page.get_by_test_id("suspend-prompt").wait_for(state="hidden")

    def result(self) -> tuple[str, str]:
        """The result page: its heading (憑證暫禁成功) and what it says."""
        box = self.page.get_by_test_id("suspend-result")
        heading = box.locator("h2")
        return (str(heading.inner_text()).strip() if heading.count() else "",
                str(self.page.get_by_test_id("suspend-result-text").inner_text()).strip())

    def cancelled(self) -> str:
        box = self.page.get_by_test_id("suspend-cancelled")
        box.wait_for(state="visible")
        return str(box.inner_text()).strip()


@dataclass
class BranchResume:
    """分行作業系統's 憑證解除暫禁: the lookup by 統一編號／身分證字號, the customer's certificates, [解除暫禁]."""

    page: Page
    bank_url: str

    def look_up(self, id_number: str) -> None:
        self.page.get_by_test_id("branch-menu").get_by_role("link", name="憑證解除暫禁", exact=True).click()
        self.page.wait_for_load_state()
        self.page.get_by_label("統一編號／身分證字號", exact=True).fill(id_number)
        self.page.get_by_test_id("resume-find").click()
        self.page.wait_for_load_state()

    def status(self, serial: str) -> str:
        row = self.page.locator(f'[data-testid="resume-row"][data-serial="{serial}"]')
        return str(row.get_by_test_id("resume-status").inner_text()).strip() if row.count() else ""

    def resume(self, serial: str) -> None:
        row = self.page.locator(f'[data-testid="resume-row"][data-serial="{serial}"]')
        row.get_by_test_id("resume-button").click()
        self.page.wait_for_load_state()

    def done(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("resume-facts").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}
