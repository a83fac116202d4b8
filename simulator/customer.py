"""A customer at the keyboard, without a browser: the manual's nine steps over HTTP.

:class:`Customer` logs in to one of the bank's systems, follows the menu item
into the FXML platform (the ticket), and walks the platform's pages as a
browser would (cookies, CSRF tokens, redirects), so ``fxmlsim renew`` and
``fxmlsim demo`` exercise the same servers, rules and records the chromium
features do. What a browser page does through the card agent, this does with
the engine in process, through PC/SC (:func:`renew`): one engine, two callers.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.clock import Clock
from fxml.renewal.engine import RenewalEngine
from fxml.renewal.model import RenewalRecord, State
from fxml.renewal.records import PlatformRecords
from fxml.renewal.run import DEFAULT_MANAGEMENT_KEY
from simulator.bank.customers import Customer as BankCustomer
from simulator.bank.systems import BY_SYSTEM
from simulator.errors import SimulatorError

Say = Callable[[str], None]


class CustomerError(SimulatorError):
    """A page refused what the customer did: its stable code and its message."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"[{code}] {message}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Answer:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def csrf(self) -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.text) or re.search(
            r'<meta name="csrf-token" content="([^"]+)"', self.text)
        if not found:
            raise CustomerError("NO_FORM", f"{self.url}: the page has no form")
        return found.group(1)

    def refusal(self) -> CustomerError:
        code = re.search(r'data-code="([A-Z0-9_]+)"', self.text)
        message = re.search(r'data-code="[A-Z0-9_]+"[^>]*>([^<]+)<', self.text)
        return CustomerError(code.group(1) if code else f"HTTP_{self.status}",
                             message.group(1).strip() if message else f"{self.url} answered {self.status}")


class Browser:
    """Cookies, redirects followed by hand (to see each hop), nothing through a proxy."""

    def __init__(self) -> None:
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())
        self.hops: list[str] = []

    def request(self, method: str, url: str, *, form: dict[str, str] | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None, follow: bool = True) -> Answer:
        for _ in range(10):
            data = None
            sent = dict(headers or {})
            if form is not None:
                data = urllib.parse.urlencode(form).encode()
                sent["Content-Type"] = "application/x-www-form-urlencoded"
            elif json_body is not None:
                data = json.dumps(json_body).encode()
                sent["Content-Type"] = "application/json"
            request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310 - http(s) URLs of the stack
            self.hops.append(url)
            try:
                with self.opener.open(request, timeout=60) as response:
                    answer = Answer(response.status, url, {k.lower(): v for k, v in response.headers.items()},
                                    response.read())
            except urllib.error.HTTPError as exc:
                answer = Answer(exc.code, url, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
            if follow and answer.status in (301, 302, 303, 307) and "location" in answer.headers:
                url = urllib.parse.urljoin(url, answer.headers["location"])
                method, form, json_body = "GET", None, None
                continue
            return answer
        raise CustomerError("TOO_MANY_REDIRECTS", f"{url}: too many redirects")


class Customer:
    """One customer of the bank, logged in with one user code, later in the platform."""

    def __init__(self, customer: BankCustomer, user_code: str, bank_url: str, platform_url: str):
        user = customer.user(user_code)
        if user is None:
            raise CustomerError("UNKNOWN_USER", f"{customer.name} 沒有使用者代號 {user_code}")
        self.customer = customer
        self.user = user
        self.system = BY_SYSTEM[customer.system]
        self.bank_url = bank_url.rstrip("/")
        self.platform_url = platform_url.rstrip("/")
        self.browser = Browser()

    # -- step 1 --------------------------------------------------------------------------------------
    def log_in(self) -> None:
        page = self.browser.request("GET", f"{self.bank_url}{self.system.prefix}/login")
        answer = self.browser.request("POST", f"{self.bank_url}{self.system.prefix}/login", form={
            "csrf_token": page.csrf(), "id_number": self.customer.id_number,
            "user_code": self.user.user_code, "password": self.user.password,
        })
        if not answer.url.endswith("/menu"):
            raise answer.refusal()
        self.menu = answer

    def enter_platform(self) -> Answer:
        answer = self.browser.request("POST", f"{self.bank_url}{self.system.prefix}/fxml",
                                      form={"csrf_token": self.menu.csrf()})
        if not answer.url.startswith(self.platform_url) or answer.status != 200:
            raise answer.refusal()
        return answer

    # -- the platform's pages ----------------------------------------------------------------------------
    def get(self, path: str) -> Answer:
        answer = self.browser.request("GET", f"{self.platform_url}{path}")
        if answer.status >= 400:
            raise answer.refusal()
        return answer

    def post_form(self, path: str, page: Answer, fields: dict[str, str]) -> Answer:
        answer = self.browser.request("POST", f"{self.platform_url}{path}", form={"csrf_token": page.csrf(), **fields})
        if answer.status >= 400:
            raise answer.refusal()
        return answer

    def post_json(self, path: str, page: Answer, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.browser.request("POST", f"{self.platform_url}{path}", json_body=body,
                                      headers={"X-CSRF-Token": page.csrf()}, follow=False)
        data = json.loads(answer.body or b"{}")
        if answer.status >= 400:
            error = data.get("error", {})
            raise CustomerError(str(error.get("code", f"HTTP_{answer.status}")), str(error.get("message", "")))
        return dict(data)


def _certificates_on_card(card: PivCardClient) -> list[dict[str, str]]:
    return [{"container": f"{int(c.container):02X}", "serial": f"{c.certificate.serial_number:X}"}
            for c in card.list_certificates()]


def renew(who: Customer, reader: str, pin: str, ca_url: str, clock: Clock, say: Say,
          *, management_key: bytes = DEFAULT_MANAGEMENT_KEY) -> RenewalRecord:
    """Steps 2 to 7 of the manual for the certificate on the card in ``reader``; the record at DONE."""
    with PcscConnection(reader) as connection:
        card = PivCardClient(connection)
        card.select()
        info = card.card_info()
        on_card = _certificates_on_card(card)
        listing = who.get("/renew")
        chosen = next((c["serial"] for c in on_card if f'value="{c["serial"]}"' in listing.text), None)
        if chosen is None:
            raise CustomerError("CARD_NOT_HOLDING_CERTIFICATE", "插入的憑證載具內沒有此客戶可更新的憑證。")
        say(f"步驟2、[憑證更新]→[確定]：選擇憑證 {chosen}")
        wizard = who.post_form("/renew", listing, {"serial": chosen})
        renewal_id = wizard.url.rstrip("/").rsplit("/", 1)[1]
        cn = re.search(r'data-testid="common-name">([^<]+)<', wizard.text)
        say(f"步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]：Common Name {cn.group(1) if cn else '?'}，"
            f"憑證儲存媒體 {info.carrier}")
        card.verify_pin(pin)
        who.post_json(f"/renew/{renewal_id}/confirm", wizard,
                      {"card": {"card_serial": info.card_serial, "certificates": on_card}})
        terms = who.get(f"/renew/{renewal_id}")
        say("步驟4、審閱憑證晶片卡用戶約定條款後，點選[更新]")
        accepted = who.post_json(f"/renew/{renewal_id}/accept", terms, {})
        say("步驟5、[確定]，正式進入憑證更新作業（請耐心等待）")
        records = PlatformRecords(who.platform_url, str(accepted["renewal_token"]))

        def progress(record: RenewalRecord) -> None:
            if record.state not in (State.DONE,):
                say(f"　　…{record.state.label}")

        engine = RenewalEngine(card, CaClient(ca_url, actor="fxmlsim-renew"), records, management_key,
                               clock=clock, on_progress=progress)
        done = engine.run()
    say("步驟6、憑證下載成功!")
    page = who.get(f"/renew/{renewal_id}/done")
    if "憑證下載成功" not in page.text:
        raise CustomerError("NOT_DOWNLOADED", "憑證下載頁未顯示「憑證下載成功」")
    say(f"步驟7、憑證下載頁：憑證下載成功（新憑證 {done.new_serial}）")
    return done


def print_proof(who: Customer, serial: str | None, target: Path, say: Say) -> dict[str, str]:
    """Step 8: 憑證證明單列印 (the newest certificate preselected), [確定], the sheet as a PDF in ``target``."""
    listing = who.get("/proof")
    chosen = serial or _checked(listing.text)
    sheet = who.post_form("/proof", listing, {"serial": chosen})
    values = dict(re.findall(r'<td data-label="([^"]+)">([^<]*)</td>', sheet.text))
    pdf = who.get(f"/proof/{chosen}.pdf")
    target.write_bytes(pdf.body)
    say(f"步驟8、憑證證明單列印：{target}")
    return values


def _checked(html: str) -> str:
    found = re.search(r'name="serial" value="([0-9A-F]+)"[^>]*checked', html)
    if not found:
        raise CustomerError("NO_CERTIFICATE", "憑證證明單列印：查無憑證")
    return found.group(1)
