"""A customer at the keyboard, without a browser: the manual's nine steps over HTTP.

:class:`Customer` logs in to one of the bank's systems, follows the menu item
into the FXML platform (the ticket), and walks the platform's pages as a
browser would (cookies, redirects; httpx2), through their forms: each page is
read with the standard library's HTML parser (:class:`Page`), and a form is
sent to its action with its hidden fields (the CSRF token) and the fields a
person fills, by their names (:meth:`Customer.submit`), so ``fxmlsim renew`` and
``fxmlsim demo`` exercise the same servers, rules and records the chromium
features do. What a browser page does through the card agent, this does with
the engine in process, through PC/SC (:func:`renew`): one engine, two callers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2

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

#: Elements that have no end tag.
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
                   "track", "wbr"})
#: A form's fields a person can fill or choose (a button sends nothing here: no form of ours names one).
_FIELDS = frozenset({"input", "select", "textarea"})


class CustomerError(SimulatorError):
    """A page refused what the customer did: its stable code and its message."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"[{code}] {message}")


@dataclass
class Element:
    """An element of a page: its tag, its attributes and its text (its descendants' with it)."""

    tag: str
    attrs: dict[str, str]
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts).strip()


@dataclass
class Form:
    """A form of a page, as a browser sends it: its action, its method, its fields by name."""

    action: str
    method: str
    attrs: dict[str, str]
    fields: list[Element] = field(default_factory=list)

    def names(self) -> set[str]:
        return {f.attrs["name"] for f in self.fields if f.attrs.get("name")}

    def options(self, name: str) -> list[str]:
        """The values a person may choose for the radio buttons ``name``."""
        return [f.attrs.get("value", "") for f in self.fields
                if f.attrs.get("name") == name and f.attrs.get("type") == "radio"]

    def values(self) -> dict[str, str]:
        """What the form sends as it is: its hidden and filled fields, its checked boxes and radios."""
        sent: dict[str, str] = {}
        for f in self.fields:
            name, kind = f.attrs.get("name"), f.attrs.get("type", "text")
            if not name or kind in ("submit", "button", "reset", "image", "file"):
                continue
            if kind in ("radio", "checkbox") and "checked" not in f.attrs:
                continue
            sent[name] = f.attrs.get("value", "on" if kind in ("radio", "checkbox") else "")
        return sent


class Page(HTMLParser):
    """A page read with the standard library's HTML parser: its elements and its forms."""

    def __init__(self, url: str, html: str):
        super().__init__(convert_charrefs=True)
        self.url = url
        self.elements: list[Element] = []
        self.forms: list[Form] = []
        self._open: list[Element] = []
        self._form: Form | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.elements.append(element)
        if tag == "form":
            self._form = Form(element.attrs.get("action", ""), element.attrs.get("method", "get").upper(),
                              element.attrs)
            self.forms.append(self._form)
        elif tag in _FIELDS and self._form is not None:
            self._form.fields.append(element)
        if tag not in _VOID:
            self._open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        for at in range(len(self._open) - 1, -1, -1):
            if self._open[at].tag == tag:
                del self._open[at:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.parts.append(data)

    @property
    def text(self) -> str:
        """What the page says (its ``<html>``'s text)."""
        return next((e.text for e in self.elements if e.tag == "html"), "")

    def find(self, tag: str | None = None, **attrs: str | None) -> list[Element]:
        """The elements of ``tag`` (any, if None) with these attributes (``data_testid`` is
        ``data-testid``); an attribute given as None need only be there."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [e for e in self.elements if (tag is None or e.tag == tag) and all(
            name in e.attrs and (value is None or e.attrs[name] == value) for name, value in wanted.items())]

    def form(self, testid: str | None = None, *, action: str | None = None) -> Form | None:
        """The form with this ``data-testid`` or this action, if the page has it."""
        return next((f for f in self.forms if (testid is None or f.attrs.get("data-testid") == testid)
                     and (action is None or f.action == action)), None)

    def meta(self, name: str) -> str | None:
        return next((e.attrs.get("content") for e in self.find("meta", name=name)), None)


@dataclass
class Answer:
    status: int
    url: str
    headers: dict[str, str]
    body: bytes

    @cached_property
    def page(self) -> Page:
        return Page(self.url, self.body.decode("utf-8", "replace"))

    def form(self, testid: str | None = None, *, action: str | None = None) -> Form:
        found = self.page.form(testid, action=action)
        if found is None:
            raise CustomerError("NO_FORM", f"{self.url}: the page has no form {testid or action}")
        return found

    def csrf(self) -> str:
        """The page's CSRF token for its scripts' calls (its ``csrf-token`` meta element)."""
        token = self.page.meta("csrf-token")
        if not token:
            raise CustomerError("NO_FORM", f"{self.url}: the page has no CSRF token")
        return token

    def refusal(self) -> CustomerError:
        said = self.page.find(data_code=None)
        if not said:
            return CustomerError(f"HTTP_{self.status}", f"{self.url} answered {self.status}")
        return CustomerError(said[0].attrs["data-code"] or f"HTTP_{self.status}",
                             said[0].text or f"{self.url} answered {self.status}")


class Browser:
    """Cookies, redirects followed by hand (to see each hop), nothing through a proxy."""

    def __init__(self) -> None:
        self.client = httpx2.Client(trust_env=False, follow_redirects=False, timeout=60)
        self.hops: list[str] = []

    def request(self, method: str, url: str, *, form: dict[str, str] | None = None, json_body: Any = None,
                headers: dict[str, str] | None = None, follow: bool = True) -> Answer:
        for _ in range(10):
            self.hops.append(url)
            try:
                response = self.client.request(method, url, data=form, json=json_body, headers=headers)
            except httpx2.RequestError as exc:
                raise CustomerError("UNREACHABLE", f"{url}: {exc}") from exc
            answer = Answer(response.status_code, url, dict(response.headers.items()), response.content)
            if follow and answer.status in (301, 302, 303, 307) and "location" in answer.headers:
                url = urljoin(url, answer.headers["location"])
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

    def submit(self, page: Answer, form: Form, **fields: str) -> Answer:
        """What a person does with a form: fills its fields by their names and sends it, its hidden
        fields (the CSRF token) with them, to its action."""
        unknown = set(fields) - form.names()
        if unknown:
            raise CustomerError("NO_FIELD", f"{page.url}: the form {form.action} has no field {sorted(unknown)}")
        return self.browser.request(form.method, urljoin(page.url, form.action), form={**form.values(), **fields})

    # -- step 1 --------------------------------------------------------------------------------------
    def log_in(self) -> None:
        page = self.browser.request("GET", f"{self.bank_url}{self.system.prefix}/login")
        answer = self.submit(page, page.form("login-form"), id_number=self.customer.id_number,
                             user_code=self.user.user_code, password=self.user.password)
        if not answer.url.endswith("/menu"):
            raise answer.refusal()
        self.menu = answer

    def enter_platform(self) -> Answer:
        answer = self.submit(self.menu, self.menu.form(action=f"{self.system.prefix}/fxml"))
        if not answer.url.startswith(self.platform_url) or answer.status != 200:
            raise answer.refusal()
        return answer

    # -- the platform's pages ----------------------------------------------------------------------------
    def get(self, path: str) -> Answer:
        answer = self.browser.request("GET", f"{self.platform_url}{path}")
        if answer.status >= 400:
            raise answer.refusal()
        return answer

    def post_form(self, page: Answer, form: Form, **fields: str) -> Answer:
        """:meth:`submit` on a platform page; a refusal raised as CustomerError."""
        answer = self.submit(page, form, **fields)
        if answer.status >= 400:
            raise answer.refusal()
        return answer

    def post_json(self, path: str, page: Answer, body: dict[str, Any]) -> dict[str, Any]:
        """What the page's script sends (with the page's CSRF token)."""
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
        form = listing.page.form("renew-list")
        offered = form.options("serial") if form is not None else []
        chosen = next((c["serial"] for c in on_card if c["serial"] in offered), None)
        if form is None or chosen is None:
            raise CustomerError("CARD_NOT_HOLDING_CERTIFICATE", "插入的憑證載具內沒有此客戶可更新的憑證。")
        say(f"步驟2、[憑證更新]→[確定]：選擇憑證 {chosen}")
        wizard = who.post_form(listing, form, serial=chosen)
        renewal_id = wizard.url.rstrip("/").rsplit("/", 1)[1]
        cn = [e.text for e in wizard.page.find(data_testid="common-name")]
        say(f"步驟3、[插入憑證載具]→[輸入憑證載具密碼]→[確定]：Common Name {cn[0] if cn else '?'}，"
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
    if not any("憑證下載成功" in e.text for e in page.page.find(data_testid="download-result")):
        raise CustomerError("NOT_DOWNLOADED", "憑證下載頁未顯示「憑證下載成功」")
    say(f"步驟7、憑證下載頁：憑證下載成功（新憑證 {done.new_serial}）")
    return done


def print_proof(who: Customer, serial: str | None, target: Path, say: Say) -> dict[str, str]:
    """Step 8: 憑證證明單列印 (the newest certificate preselected), [確定], the sheet as a PDF in ``target``."""
    listing = who.get("/proof")
    form = listing.form("proof-list")
    chosen = serial or form.values().get("serial")
    if not chosen:
        raise CustomerError("NO_CERTIFICATE", "憑證證明單列印：查無憑證")
    sheet = who.post_form(listing, form, serial=chosen)
    values = {e.attrs["data-label"]: e.text for e in sheet.page.find("td", data_label=None)}
    pdf = who.get(f"/proof/{chosen}.pdf")
    target.write_bytes(pdf.body)
    say(f"步驟8、憑證證明單列印：{target}")
    return values
