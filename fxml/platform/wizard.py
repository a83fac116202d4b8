"""The platform's 憑證更新 (steps 2 to 7 of the manual) and 憑證證明單列印 (step 8).

憑證更新 is a wizard of four stages, as the manual's screens number them::

    1 選擇更新清單 → 2 確認更新資訊 → 3 更新約定條款 → 4 更新送審結果

- ``GET /renew``: the customer's certificates (from the CA) to choose from; [確定]
  (``POST /renew``) asks the CA whether the chosen one may be renewed now and
  opens its renewal record (or the one already open: never a second).
- ``GET /renew/{id}``: the page of the record's stage. 確認更新資訊 asks for the
  card and the 憑證載具密碼: the page gives the PIN to the card agent only
  (static/renewal.js), which verifies it on the card and keeps that card
  session; the page then tells the platform which card and container
  (``POST /renew/{id}/confirm``). 更新約定條款 shows the terms; [更新], the
  browser's own prompt, [確定]: the platform notes the terms accepted and
  hands the page a renewal token (``POST /renew/{id}/accept``), which the
  page gives the agent with its card session; the agent runs the engine and
  the page shows its progress, then 「憑證下載成功!」. The prompt (step 5) and
  the message (step 6) are windows of the page itself, not the browser's
  dialogs, so that they look like the bank's pages and can be seen in a
  screenshot.
- ``GET /renew/{id}/done``: 憑證下載 — 憑證下載成功, the new certificate, and the
  manual's note for this customer: complete (個人網路銀行, 企業網路銀行), or go on
  with step 8 (EOI).

The platform keeps the authoritative record of each renewal (its state, its
request id at the CA); every move is a compare-and-set, so a double click,
a second tab, the back button or a reload cannot make a second renewal.

憑證證明單列印: ``GET /proof`` lists the customer's certificates by Common Name
(of each name the newest, neither replaced by a renewal nor revoked) with the newest
preselected; [確定] shows the proof sheet (憑證列印頁) with the CA's values — of
another certificate than the newest, with a warning that it is not the one to
file (the manual's 此部份請勿更改) and, for an EOI customer, no [列印]. [列印]
prints it — for an EOI customer after faxing it (its fields and its PDF) to the
申辦分行 through the bank's API (``POST /proof/{serial}/fax``, step 9,
fxml/platform/bankapi.py) — and ``/proof/{serial}.pdf`` is the same
sheet as a PDF with embedded CJK fonts (WeasyPrint).
"""

from __future__ import annotations

import enum
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.clock import Clock
from fxml.display import roc_date, taiwan_text, time_text
from fxml.errors import CodedError
from fxml.platform.bankapi import BankApiError, Fax, FaxCustomer
from fxml.platform.pages import PlatformPages
from fxml.platform.store import PlatformStore
from fxml.platform.tickets import System, Ticket
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RenewalRecord, State
from fxml.web import ids, labels
from fxml.web.body import BadJsonError, parse_json
from fxml.web.handlers import csrf_header, form, principal, texts

if TYPE_CHECKING:
    from fxml.platform.banklink import BankLink
    from fxml.platform.renewals import RenewalBook

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


@enum.unique
class WizardErrorCode(enum.StrEnum):
    """The wizard's refusals (a renewal's record and the CA refuse with their own codes)."""

    BAD_REQUEST = "BAD_REQUEST"
    CA_NOT_CONFIGURED = "CA_NOT_CONFIGURED"
    RENEWAL_UNKNOWN = "RENEWAL_UNKNOWN"
    RENEWAL_NOT_SELECTED = "RENEWAL_NOT_SELECTED"
    RENEWAL_CANCELLED = "RENEWAL_CANCELLED"
    RENEWAL_STALE = "RENEWAL_STALE"
    CARD_NOT_HOLDING_CERTIFICATE = "CARD_NOT_HOLDING_CERTIFICATE"
    PROOF_UNKNOWN_CERTIFICATE = "PROOF_UNKNOWN_CERTIFICATE"
    PROOF_NOT_NEWEST = "PROOF_NOT_NEWEST"
    FAX_NOT_NEEDED = "FAX_NOT_NEEDED"
    FAX_UNAVAILABLE = "FAX_UNAVAILABLE"
    FAX_FAILED = "FAX_FAILED"
    # 憑證下載 (fxml/platform/download.py): the wizard's pages for a download record.
    DOWNLOAD_UNKNOWN = "DOWNLOAD_UNKNOWN"
    DOWNLOAD_CANCELLED = "DOWNLOAD_CANCELLED"
    DOWNLOAD_STALE = "DOWNLOAD_STALE"
    DOWNLOAD_CODE_MISSING = "DOWNLOAD_CODE_MISSING"
    CARD_NOT_CUSTOMERS = "CARD_NOT_CUSTOMERS"
    NO_FREE_CONTAINER = "NO_FREE_CONTAINER"


Code = WizardErrorCode

#: The HTTP status of each code (409 unless said otherwise).
STATUS: Final = {
    Code.BAD_REQUEST: 400,
    Code.CA_NOT_CONFIGURED: 503,
    Code.RENEWAL_UNKNOWN: 404,
    Code.RENEWAL_NOT_SELECTED: 400,
    Code.PROOF_UNKNOWN_CERTIFICATE: 404,
    Code.FAX_UNAVAILABLE: 503,
    Code.FAX_FAILED: 502,
    Code.DOWNLOAD_UNKNOWN: 404,
    Code.DOWNLOAD_CODE_MISSING: 400,
}
#: What the customer reads, per code; ``{fields}`` come from the error's details.
MESSAGES: Final = {
    Code.BAD_REQUEST: "請求格式錯誤。",
    Code.CA_NOT_CONFIGURED: "憑證管理平台未設定憑證中心位址，請洽系統管理員。",
    Code.RENEWAL_UNKNOWN: "查無此筆憑證更新作業，請由「憑證更新」重新辦理。",
    Code.RENEWAL_NOT_SELECTED: "請選擇欲更新的憑證。",
    Code.RENEWAL_CANCELLED: "此筆憑證更新作業已取消，請由「憑證更新」重新辦理。",
    Code.RENEWAL_STALE: "此筆憑證更新作業的狀態已改變，請重新整理頁面。",
    Code.CARD_NOT_HOLDING_CERTIFICATE: "插入的憑證載具內沒有欲更新的憑證（{cn}），請確認插入的是您的憑證載具。",
    Code.PROOF_UNKNOWN_CERTIFICATE: "查無此憑證，請由「憑證證明單列印」重新選擇。",
    Code.PROOF_NOT_NEWEST: labels.NOT_NEWEST,
    Code.FAX_NOT_NEEDED: "個人網路銀行及企業網路銀行用戶於步驟7完成後即完成憑證更新作業，無須傳真憑證證明單。",
    Code.FAX_UNAVAILABLE: "憑證管理平台未設定銀行位址，無法傳真憑證證明單，請洽系統管理員。",
    Code.FAX_FAILED: "憑證證明單未能傳真至申辦分行（{reason}），請稍後再點選[列印]。",
    Code.DOWNLOAD_UNKNOWN: "查無此筆憑證下載作業，請由「憑證下載」重新輸入授權碼。",
    Code.DOWNLOAD_CANCELLED: "此筆憑證下載作業已取消，請由「憑證下載」重新輸入授權碼。",
    Code.DOWNLOAD_STALE: "此筆憑證下載作業的狀態已改變，請重新整理頁面。",
    Code.DOWNLOAD_CODE_MISSING: "請輸入申辦分行經辦告知的授權碼。",
    Code.CARD_NOT_CUSTOMERS: "插入的憑證載具不屬於您，請插入您的憑證載具。",
    Code.NO_FREE_CONTAINER: ("插入的憑證載具已存有有效憑證，沒有可存放新憑證的空間，請改用空白的憑證載具，"
                             "或洽申辦分行。"),
}


class WizardError(CodedError):
    """A refusal of the wizard's: a :class:`WizardErrorCode` (or the CA's, passed on), the zh-TW
    message, an HTTP status (409 unless the code says otherwise)."""

    STATUS = STATUS
    MESSAGES = MESSAGES
    default_status = 409


def terms_text(name: str = "terms.txt") -> list[str]:
    """The simulated 用戶約定條款 (the renewal's; ``download_terms.txt``: the download's): fxmlsim's own
    text, not TWCA's."""
    return [line for line in (HERE / "templates" / name).read_text(encoding="utf-8").splitlines() if line]


def container_for(record: RenewalRecord, card_certificates: Any) -> str:
    """The container the new key goes to: the one that does not hold the certificate being renewed."""
    if not isinstance(card_certificates, list) or not all(isinstance(c, dict) for c in card_certificates):
        raise WizardError(Code.BAD_REQUEST, "憑證載具資料格式錯誤。")
    holding = [c.get("container") for c in card_certificates if str(c.get("serial", "")).upper() == record.old_serial]
    if not holding:
        raise WizardError(Code.CARD_NOT_HOLDING_CERTIFICATE, details={"cn": record.old_cn})
    return "9C" if str(holding[0]).upper() == "9A" else "9A"


class Wizard:
    """憑證更新 and 憑證證明單列印, behind the platform's door (:class:`~fxml.platform.pages.PlatformPages`)."""

    #: The kind of record the wizard's pages show (fxml/platform/download.py's shows downloads), and
    #: what a record of another kind, or of another customer, is answered with.
    kind: ClassVar[Kind] = Kind.RENEWAL
    unknown: ClassVar[str] = WizardErrorCode.RENEWAL_UNKNOWN

    def __init__(self, pages: PlatformPages, book: RenewalBook, store: PlatformStore, clock: Clock, *,
                 ca: CaClient | None = None, bank: BankLink | None = None, agent_url: str = ""):
        self.pages = pages
        self.book = book
        self.store = store
        self.clock = clock
        self._ca = ca
        self.bank = bank
        self.agent_url = agent_url

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        renew: dict[str, Any] = {"back": "/renew", "title": labels.MENU_RENEW}
        proof: dict[str, Any] = {"back": "/proof", "title": labels.MENU_PROOF}
        return [
            Route("/renew", door.page(self.renew_list, back="/", title=labels.MENU_RENEW), methods=["GET"]),
            Route("/renew", door.page(self.renew_select, **renew), methods=["POST"]),
            Route("/renew/{renewal_id:str}", door.page(self.renew_page, **renew), methods=["GET"]),
            Route("/renew/{renewal_id:str}/confirm", door.json(self.renew_confirm), methods=["POST"]),
            Route("/renew/{renewal_id:str}/accept", door.json(self.renew_accept), methods=["POST"]),
            Route("/renew/{renewal_id:str}/status", door.json(self.renew_status), methods=["GET"]),
            Route("/renew/{renewal_id:str}/cancel", door.page(self.renew_cancel, **renew), methods=["POST"]),
            Route("/renew/{renewal_id:str}/done", door.page(self.renew_done, **renew), methods=["GET"]),
            Route("/proof", door.page(self.proof_list, back="/", title=labels.MENU_PROOF), methods=["GET"]),
            Route("/proof", door.page(self.proof_choose, **proof), methods=["POST"]),
            Route("/proof/{serial:str}.pdf", door.page(self.proof_pdf, **proof), methods=["GET"]),
            Route("/proof/{serial:str}/fax", door.json(self.proof_fax), methods=["POST"]),
            Route("/proof/{serial:str}", door.page(self.proof_sheet, **proof), methods=["GET"]),
        ]

    # -- helpers -------------------------------------------------------------------------------
    @property
    def ca(self) -> CaClient:
        if self._ca is None:
            raise WizardError(Code.CA_NOT_CONFIGURED)
        return self._ca

    def _render(self, request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
        return self.pages.render(request, name, status=status, stages=labels.RENEWAL_STAGES, **context)

    def _record(self, customer: Ticket, renewal_id: str) -> RenewalRecord:
        try:
            record = self.book.get(renewal_id)
        except RecordError:
            raise WizardError(self.unknown) from None
        if record.holder_id != customer.holder_id or record.kind is not self.kind:
            # Another customer's renewal (or a download's id in a renewal's URL): the same answer as
            # none, so ids tell nothing.
            raise WizardError(self.unknown)
        return record

    async def _certificates(self, customer: Ticket) -> list[CertificateRecord]:
        records = await run_in_threadpool(self.ca.query, customer.holder_id)
        return list(records)

    def _audit(self, customer: Ticket, action: str, detail: str) -> None:
        self.store.audit(self.clock.now(), customer.actor, action, "OK", detail)

    # -- 1 選擇更新清單 -----------------------------------------------------------------------------
    async def renew_list(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        certificates = await self._certificates(customer)
        current = [c for c in certificates if c.renewed_by is None]
        renewable = [c for c in current if c.status == "正常"]
        chosen = renewable[-1].serial if renewable else None
        open_renewals = {r.old_serial: r for r in self.book.for_holder(customer.holder_id)
                         if r.state not in (State.DONE, State.CANCELLED)}
        return self._render(request, "renew_list.html", stage=1, certificates=current, chosen=chosen,
                            open_renewals=open_renewals, taiwan_text=taiwan_text)

    async def renew_select(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        serial = texts(await form(request, max_fields=10)).get("serial", "").upper()
        certificates = await self._certificates(customer)
        chosen = next((c for c in certificates if c.serial == serial), None)
        if chosen is None:
            raise WizardError(Code.RENEWAL_NOT_SELECTED)
        if self.book.open_for(customer.holder_id, serial) is None:
            await run_in_threadpool(self.ca.renewal_check, serial)  # the CA's own refusal, if any
        record = self.book.create(customer.holder_id, serial, chosen.cn)
        self._audit(customer, "憑證更新：選擇更新清單", record.renewal_id)
        return RedirectResponse(f"/renew/{record.renewal_id}", status_code=303)

    # -- 2 確認更新資訊, 3 更新約定條款, 4 更新送審結果 ---------------------------------------------
    async def renew_page(self, request: Request) -> Response:
        record = self._record(principal(request, Ticket), request.path_params["renewal_id"])
        if record.state is State.DONE:
            return RedirectResponse(f"/renew/{record.renewal_id}/done", status_code=303)
        if record.state is State.CANCELLED:
            raise WizardError(Code.RENEWAL_CANCELLED)
        common: dict[str, Any] = {"record": record, "agent_url": self.agent_url, "state_label": record.state.label,
                                  "agent_missing": labels.AGENT_MISSING}
        if record.state is State.SELECTED:
            return self._render(request, "renew_confirm.html", stage=2, instruction=labels.RENEWAL_INSTRUCTION,
                                **common)
        return self._render(request, "renew_terms.html", stage=3, terms_title=labels.TERMS_TITLE,
                            terms=terms_text(), prompt=labels.CONFIRM_PROMPT, downloaded=labels.DOWNLOADED,
                            cancelled=labels.RENEWAL_CANCELLED,
                            started=record.state.rank > State.TERMS_ACCEPTED.rank, **common)

    async def _json_call(self, request: Request) -> dict[str, Any]:
        """A page's script call: its CSRF header, then its JSON object."""
        csrf_header(request)
        try:
            body = parse_json(await request.body() or b"{}")
        except BadJsonError:
            raise WizardError(Code.BAD_REQUEST, "請求內容不是有效的 JSON。") from None
        if not isinstance(body, dict):
            raise WizardError(Code.BAD_REQUEST, "請求內容須為 JSON 物件。")
        return body

    async def renew_confirm(self, request: Request) -> Response:
        """確認更新資訊 done: the page says which card (the agent read it) holds the certificate."""
        customer = principal(request, Ticket)
        body = await self._json_call(request)
        record = self._record(customer, request.path_params["renewal_id"])
        card = body.get("card")
        if not isinstance(card, dict) or not isinstance(card.get("card_serial"), str):
            raise WizardError(Code.BAD_REQUEST, "缺少憑證載具資料。")
        if record.state is not State.SELECTED:
            if record.card_serial == card["card_serial"]:
                return JSONResponse({"record": record.to_json()})  # a repeated click: already confirmed
            raise WizardError(Code.RENEWAL_STALE, "此筆憑證更新作業已進行至下一步驟，請重新整理頁面。")
        container = container_for(record, card.get("certificates"))
        record = self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED,
                                   card_serial=card["card_serial"], container=container)
        self._audit(customer, "憑證更新：確認更新資訊", record.renewal_id)
        return JSONResponse({"record": record.to_json()})

    async def renew_accept(self, request: Request) -> Response:
        """更新約定條款 accepted ([更新], then [確定] on the prompt): a renewal token for the agent."""
        return await self._accept(request, "憑證更新：同意約定條款", Code.RENEWAL_STALE)

    async def _accept(self, request: Request, action: str, stale: Code) -> Response:
        """The terms accepted (a renewal's or a download's): the record at TERMS_ACCEPTED, audited as
        ``action``, and the token the card agent runs its engine with; a double click gets the same,
        a record past or before that step ``stale``."""
        customer = principal(request, Ticket)
        await self._json_call(request)
        record = self._record(customer, request.path_params["renewal_id"])
        try:
            if record.state is State.CONFIRMED:
                record = self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)
                self._audit(customer, action, record.renewal_id)
            elif record.state.rank < State.TERMS_ACCEPTED.rank or record.state in (State.DONE, State.CANCELLED):
                raise WizardError(stale)
        except RecordError as exc:
            if exc.code != RecordErrorCode.STALE:
                raise
            record = self.book.get(record.renewal_id)  # a double click: the other one moved it
        return JSONResponse({"record": record.to_json(), "renewal_token": self.book.token(record.renewal_id)})

    async def renew_status(self, request: Request) -> Response:
        record = self._record(principal(request, Ticket), request.path_params["renewal_id"])
        return JSONResponse({"record": record.to_json(), "label": record.state.label})

    async def renew_cancel(self, request: Request) -> Response:
        return await self._cancel(request, "/renew")

    async def _cancel(self, request: Request, back: str) -> Response:
        """[取消] (a renewal's or a download's): the record cancelled if no key was made yet, then
        the list at ``back``."""
        customer = principal(request, Ticket)
        await form(request, max_fields=10)
        record = self._record(customer, request.path_params["renewal_id"])
        if record.state.rank < State.KEY_PENDING.rank:
            self.book.advance(record.renewal_id, record.state, State.CANCELLED)
        return RedirectResponse(back, status_code=303)

    async def renew_done(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        record = self._record(customer, request.path_params["renewal_id"])
        if record.state is not State.DONE:
            return RedirectResponse(f"/renew/{record.renewal_id}", status_code=303)
        next_step = labels.NEXT_STEP_EOI if customer.system is System.EOI else labels.NEXT_STEP_DONE
        return self._render(request, "renew_done.html", stage=4, record=record, message=labels.DOWNLOAD_PAGE,
                            certificate=certificate_facts(record), next_step=next_step)

    # -- 8 憑證證明單列印 --------------------------------------------------------------------------
    async def proof_list(self, request: Request) -> Response:
        """The customer's certificates by Common Name (:func:`_printable`), the newest last, preselected."""
        certificates = _printable(await self._certificates(principal(request, Ticket)))
        newest = certificates[-1].serial if certificates else None
        return self._render(request, "proof_list.html", certificates=certificates, chosen=newest)

    async def proof_choose(self, request: Request) -> Response:
        serial = texts(await form(request, max_fields=10)).get("serial", "").upper()
        return RedirectResponse(f"/proof/{serial}", status_code=303)

    async def _sheet(self, customer: Ticket, serial: str) -> tuple[dict[str, str], str | None]:
        """The proof sheet of the customer's certificate ``serial``, and what it says when that is
        not the newest certificate (the one the list preselects, the one a branch files: the
        manual's 此部份請勿更改), or None."""
        wanted = _serial(serial)
        certificates = await self._certificates(customer)
        chosen = next((c for c in certificates if c.serial == wanted), None)
        if chosen is None:
            raise WizardError(Code.PROOF_UNKNOWN_CERTIFICATE)
        sheet: dict[str, str] = await run_in_threadpool(self.ca.proof_sheet, wanted)
        current = _printable(certificates)
        newest = current[-1] if current else chosen
        warning = None if newest.serial == chosen.serial else labels.NOT_NEWEST.format(chosen=chosen.cn,
                                                                                        newest=newest.cn)
        return sheet, warning

    async def proof_sheet(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        serial = request.path_params["serial"].upper()
        sheet, not_newest = await self._sheet(customer, serial)
        eoi = customer.system is System.EOI
        return self._render(request, "proof_sheet.html", sheet=sheet, serial=serial, title=labels.PROOF_TITLE,
                            platform_name=labels.PROOF_PLATFORM, sheet_title=labels.PROOF_SHEET, fax=eoi,
                            not_newest=not_newest, can_print=not (eoi and not_newest))

    async def _pdf(self, customer: Ticket, sheet: dict[str, str]) -> bytes:
        html = self.pages.templates.get_template("proof_print.html").render(
            sheet=sheet, platform_name=labels.PROOF_PLATFORM, sheet_title=labels.PROOF_SHEET, customer=customer,
            L=labels)
        pdf: bytes = await run_in_threadpool(render_pdf, html)
        return pdf

    async def proof_pdf(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        sheet, _warning = await self._sheet(customer, request.path_params["serial"])
        pdf = await self._pdf(customer, sheet)
        serial = request.path_params["serial"].upper()
        self._audit(customer, "憑證證明單列印", serial)
        return Response(pdf, media_type="application/pdf", headers={
            "content-disposition": f'inline; filename="proof-{serial}.pdf"',
        })

    async def proof_fax(self, request: Request) -> Response:
        """Step 9: [列印] faxes the sheet (fields and PDF) to the customer's 申辦分行, then the page prints.

        EOI customers only: for 個人網路銀行 and 企業網路銀行 the renewal is complete at step 7."""
        customer = principal(request, Ticket)
        serial = request.path_params["serial"].upper()
        await self._json_call(request)
        _serial(serial)  # a serial at all, before anything else is asked
        if customer.system is not System.EOI:
            raise WizardError(Code.FAX_NOT_NEEDED)
        if self.bank is None:
            raise WizardError(Code.FAX_UNAVAILABLE)
        try:
            sheet, not_newest = await self._sheet(customer, serial)
        except CaError as exc:  # the CA's refusal, as the page shows it (no answer: 502)
            raise WizardError(exc.code, exc.message, exc.status or 502) from exc
        if not_newest is not None:
            raise WizardError(Code.PROOF_NOT_NEWEST, not_newest)
        fax = Fax(
            fax_id=f"F{uuid.uuid4().hex}", sent_at=self.clock.now().isoformat(),
            customer=FaxCustomer(system=str(customer.system), customer_id=customer.customer_id,
                                 customer_name=customer.customer_name, user_code=customer.user_code,
                                 holder_id=customer.holder_id),
            serial=serial, sheet=sheet, pdf=await self._pdf(customer, sheet),
        )
        try:
            receipt = await run_in_threadpool(self.bank.client.send_fax, fax)
        except BankApiError as exc:
            log.warning("fax of %s not delivered: %s", serial, exc)
            self.store.audit(self.clock.now(), customer.actor, "憑證證明單傳真", str(exc.code), serial)
            raise WizardError(Code.FAX_FAILED, details={"reason": exc.message}) from exc
        received = datetime.fromisoformat(receipt.received_at)
        self._audit(customer, "憑證證明單傳真", f"{serial} {receipt.branch_code} {fax.fax_id}")
        return JSONResponse({"fax": {
            "fax_id": receipt.fax_id, "branch_code": receipt.branch_code, "branch_name": receipt.branch_name,
            "received_at": receipt.received_at,
            "message": labels.FAX_SENT.format(branch_code=receipt.branch_code, branch_name=receipt.branch_name,
                                              received=f"{roc_date(received)} {time_text(received)}"),
            "next": labels.FAX_NEXT,
        }})


def _serial(text: str) -> str:
    """A serial from a URL: ASCII hex digits (fxml.web.ids), in upper case; anything else
    (a superscript, full-width digits) is no certificate, refused before the CA is asked."""
    serial = ids.hex_id(text)
    if serial is None:
        raise WizardError(Code.PROOF_UNKNOWN_CERTIFICATE)
    return serial

def _printable(certificates: list[CertificateRecord]) -> list[CertificateRecord]:
    """The certificates 憑證證明單列印 offers, in the CA's issuance order: of each Common Name the
    newest that is neither replaced by a renewal nor revoked (廢止), so that a customer tells the rows
    apart by their names (the manual's two rows, -00-2012 and -00-2015)."""
    kept = [c for c in certificates if c.renewed_by is None and c.status != "已廢止"]
    newest = {c.cn: c.serial for c in kept}  # the last of each CN wins
    return [c for c in kept if newest[c.cn] == c.serial]


def certificate_facts(record: RenewalRecord) -> dict[str, str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from fxml.display import display_name

    if not record.certificate:
        return {}
    try:
        cert = x509.load_pem_x509_certificate(record.certificate.encode("ascii"))
    except ValueError:
        return {"簽章憑證序號": record.new_serial or ""}
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return {
        "Common Name": str(cn[0].value) if cn else "",
        "簽章憑證序號": record.new_serial or f"{cert.serial_number:X}",
        "主旨(使用者識別名稱)": display_name(cert.subject),
        "憑證發行者": display_name(cert.issuer),
        "憑證生效日": taiwan_text(cert.not_valid_before_utc),
        "憑證到期日": taiwan_text(cert.not_valid_after_utc),
    }


def render_pdf(html: str) -> bytes:
    """The proof sheet as a PDF: WeasyPrint, Debian's pango, fonts-noto-cjk (embedded, subset)."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=str(HERE)).write_pdf()
    return pdf


__all__ = ["Wizard", "WizardError", "WizardErrorCode", "certificate_facts", "container_for", "render_pdf", "terms_text"]
