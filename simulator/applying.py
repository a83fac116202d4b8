"""憑證申請 and 憑證下載 without a browser: the customer applies, the branch's officer approves, the
customer downloads, over the same HTTP pages the chromium features use.

- :func:`apply`: a :class:`~simulator.customer.Customer` in the platform fills 憑證申請 (the name,
  the carrier), confirms it, and the platform sends it to the bank: the application's id and branch;
- :class:`Officer`: an officer of a branch signs in to the back office (``/branch``) as a browser
  does (CSRF tokens, cookies) and approves an application: the 授權碼 the page shows once;
- :func:`download`: the customer's 憑證下載 — the 授權碼, the card (its serial and certificates, read
  through PC/SC), the PIN verified on the card, the terms — then the engine of the record's kind
  in process (what the page does through the card agent), to 「憑證下載成功」.

``fxmlsim apply``, ``fxmlsim approve`` and ``fxmlsim download`` are these (simulator/cli.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.clock import Clock
from fxml.renewal.download import engine_for
from fxml.renewal.model import RenewalRecord, State
from fxml.renewal.records import PlatformRecords
from fxml.renewal.run import DEFAULT_MANAGEMENT_KEY
from simulator.bank.officers import Officer as OfficerData
from simulator.customer import Answer, Browser, Customer, CustomerError, Form, Say


@dataclass(frozen=True)
class Applied:
    application_id: str
    cn: str
    branch: str


def apply(who: Customer, cn_suffix: str, carrier: str, say: Say) -> Applied:
    """憑證申請: 填寫申請資料, 確認申請資料, [確定]; what the platform says it sent."""
    page = who.get("/apply")
    say(f"憑證申請：憑證名稱 {cn_suffix}，憑證儲存媒體 憑證晶片卡({carrier})")
    confirm = who.post_form(page, page.form("apply-form"), cn_suffix=cn_suffix, carrier=carrier)
    send = confirm.form(action="/apply/confirm")
    application_id = send.values().get("application_id") or ""
    cn = _said(confirm, "NO_APPLICATION", data_testid="common-name")
    if not application_id:
        raise CustomerError("NO_APPLICATION", "頁面未顯示預期的內容")
    say(f"確認申請資料：Common Name {cn}")
    sent = who.post_form(confirm, send)
    branch = _said(sent, "NOT_SENT", data_label="申辦分行")
    say(f"憑證申請已送出：申請編號 {application_id}，申辦分行 {branch}")
    return Applied(application_id, cn, branch)


class Officer:
    """A branch officer at the back office, signed in."""

    def __init__(self, officer: OfficerData, bank_url: str):
        self.officer = officer
        self.bank_url = bank_url.rstrip("/")
        self.browser = Browser()

    def _submit(self, page: Answer, form: Form, **fields: str) -> Answer:
        """A person's use of a back-office form: its fields by name, its hidden ones (CSRF) with them."""
        return self.browser.request(form.method, urljoin(page.url, form.action), form={**form.values(), **fields})

    def log_in(self) -> None:
        page = self.browser.request("GET", f"{self.bank_url}/branch/login")
        answer = self._submit(page, page.form("login-form"), branch_code=self.officer.branch.code,
                              officer_code=self.officer.officer_code, password=self.officer.password)
        if not answer.url.endswith("/branch/inbox"):
            raise answer.refusal()

    def pending(self) -> list[tuple[str, str]]:
        """The branch's applications awaiting approval: (its number, its Common Name)."""
        page = self.browser.request("GET", f"{self.bank_url}/branch/applications")
        rows = page.page.find("tr", data_testid="application-row")
        statuses = [e.text for e in page.page.find("td", data_testid="application-status")]
        return [(row.attrs["data-application"], row.attrs["data-cn"])
                for row, status in zip(rows, statuses, strict=True) if status == "待審核"]

    def approve(self, application: str) -> tuple[str, str]:
        """核准並核發授權碼: the 授權碼 (shown once) and until when it may be used."""
        page = self.browser.request("GET", f"{self.bank_url}/branch/applications/{application}")
        if page.status >= 400:
            raise page.refusal()
        answer = self._submit(page, page.form(action=f"/branch/applications/{application}/approve"))
        if answer.status >= 400:
            raise answer.refusal()
        code = _said(answer, "NOT_APPROVED", data_testid="authorization-code")
        until = _said(answer, "NOT_APPROVED", data_label="授權碼有效期限")
        return code, until


def download(who: Customer, code: str, reader: str, pin: str, ca_url: str, clock: Clock, say: Say,
             *, management_key: bytes = DEFAULT_MANAGEMENT_KEY) -> RenewalRecord:
    """憑證下載 with the 授權碼 ``code`` onto the card in ``reader``; the record at DONE."""
    page = who.get("/download")
    opened = who.post_form(page, page.form("download-form"), authorization_code=code)
    download_id = opened.url.rstrip("/").rsplit("/", 1)[1]
    cn = _said(opened, "NO_DOWNLOAD", data_testid="common-name")
    say(f"憑證下載：授權碼已確認，Common Name {cn}")
    with PcscConnection(reader) as connection:
        card = PivCardClient(connection)
        card.select()
        info = card.card_info()
        on_card = [{"container": f"{int(c.container):02X}", "serial": f"{c.certificate.serial_number:X}",
                    "not_after": c.certificate.not_valid_after_utc.isoformat()} for c in card.list_certificates()]
        card.verify_pin(pin)
        say(f"確認下載資訊：憑證儲存媒體 {info.carrier}，輸入憑證載具密碼")
        who.post_json(f"/download/{download_id}/confirm", opened,
                      {"card": {"card_serial": info.card_serial, "holder_id": info.holder_id,
                                "certificates": on_card}})
        terms = who.get(f"/download/{download_id}")
        say("審閱用戶約定條款後，點選[下載]，[確定]（請耐心等待）")
        accepted = who.post_json(f"/download/{download_id}/accept", terms, {})
        records = PlatformRecords(who.platform_url, str(accepted["renewal_token"]))

        def progress(record: RenewalRecord) -> None:
            if record.state is not State.DONE:
                say(f"　　…{record.state.label}")

        engine = engine_for(card, CaClient(ca_url, actor="fxmlsim-download"), records, management_key, clock=clock,
                            on_progress=progress)
        done = engine.run()
    page = who.get(f"/download/{download_id}/done")
    if "憑證下載成功" not in page.page.text:
        raise CustomerError("NOT_DOWNLOADED", "憑證下載頁未顯示「憑證下載成功」")
    say(f"憑證下載成功!（憑證 {done.new_serial}）")
    return done


def _said(answer: Answer, code: str, **attrs: str) -> str:
    """The text of the page's first element with these attributes (``data_testid``, ``data_label``)."""
    found = answer.page.find(**attrs)
    if not found or not found[0].text:
        raise CustomerError(code, "頁面未顯示預期的內容")
    return found[0].text


__all__ = ["Applied", "Officer", "apply", "download"]
