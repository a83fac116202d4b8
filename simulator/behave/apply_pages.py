"""Page objects of 憑證申請, 憑證下載 and the branch's 憑證申請審核 (beyond the manual), as steps/pages.py's:
methods named after what a person does, the words read as the page shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fxml.web import labels

Page = Any  # playwright.sync_api.Page


@dataclass
class Apply:
    """憑證申請: 填寫申請資料, 確認申請資料, 申請送出結果."""

    page: Page

    def fill(self, suffix: str, carrier: str) -> None:
        """The certificate's name and the carrier (憑證晶片卡(大卡) or (小卡)), then [確定]."""
        self.page.get_by_label(labels.CN_SUFFIX, exact=True).fill(suffix)
        self.page.get_by_label(carrier, exact=True).check()
        self.page.get_by_test_id("apply-next").click()
        self.page.wait_for_load_state()

    def is_confirming(self) -> bool:
        return self.page.get_by_test_id("apply-confirm").count() == 1

    def confirmed(self) -> dict[str, str]:
        """確認申請資料's table, by the labels the page shows."""
        cells = self.page.get_by_test_id("apply-confirm").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}

    def send(self) -> None:
        self.page.get_by_test_id("apply-send").click()
        self.page.wait_for_load_state()

    def sent(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("apply-sent").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}

    def shown(self, testid: str) -> str:
        return str(self.page.get_by_test_id(testid).inner_text()).strip()


@dataclass
class Download:
    """憑證下載's first stage: the 授權碼 and [確定] (the later stages are 憑證更新's: steps/pages.py Renewal)."""

    page: Page

    def enter_code(self, code: str) -> None:
        self.page.get_by_label(labels.AUTHORIZATION_CODE, exact=True).fill(code)
        self.page.get_by_test_id("download-code-ok").click()
        self.page.wait_for_load_state()

    def certificate(self) -> dict[str, str]:
        """憑證下載結果: the certificate's table, by the labels the page shows."""
        rows = self.page.get_by_test_id("new-certificate").locator("tr").all()
        return {str(r.locator("th").inner_text()).strip(): str(r.locator("td").inner_text()).strip() for r in rows}


@dataclass
class Desk:
    """分行作業系統's 憑證申請審核: the branch's applications, one opened, 核准 or 不核准."""

    page: Page
    bank_url: str

    def applications(self) -> list[dict[str, str]]:
        """The list's rows: 收件時間, 證號, 客戶名稱, Common Name, 憑證儲存媒體, 狀態, and the application's number."""
        self.page.goto(f"{self.bank_url}/branch/applications")
        rows = []
        for row in self.page.get_by_test_id("application-row").all():
            cells = [str(c).strip() for c in row.locator("td").all_inner_texts()]
            rows.append({"收件時間": cells[0], "證號": cells[1], "客戶名稱": cells[2], "Common Name": cells[3],
                         "憑證儲存媒體": cells[4], "狀態": cells[5],
                         "application": str(row.get_attribute("data-application"))})
        return rows

    def open(self, application: str) -> None:
        self.page.goto(f"{self.bank_url}/branch/applications/{application}")

    def facts(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("application-facts").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}

    def approve(self) -> None:
        self.page.get_by_test_id("application-approve").click()
        self.page.wait_for_load_state()

    def refuse(self, reason: str) -> None:
        self.page.get_by_label("不核准原因（告知客戶）", exact=True).fill(reason)
        self.page.get_by_test_id("application-refuse").click()
        self.page.wait_for_load_state()

    def code(self) -> str:
        return str(self.page.get_by_test_id("authorization-code").inner_text()).strip()

    def approval(self) -> dict[str, str]:
        cells = self.page.get_by_test_id("approval-facts").locator("td[data-label]").all()
        return {str(c.get_attribute("data-label")): str(c.inner_text()).strip() for c in cells}
