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

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.display import roc_date, taiwan_text, time_text
from fxml.errors import FxmlError
from fxml.platform.bankapi import BankApiError, Fax, FaxCustomer
from fxml.renewal.model import RecordError, RecordErrorCode, RenewalRecord, State
from fxml.web import ids, labels
from fxml.web.body import BadJsonError, parse_json
from fxml.web.sessions import CsrfError, Session, check_csrf

if TYPE_CHECKING:
    from fxml.platform.app import Platform
    from fxml.platform.renewals import RenewalBook

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: The wizard's four stages, in the manual's words.
STAGES: Final = ("選擇更新清單", "確認更新資訊", "更新約定條款", "更新送審結果")
INSTRUCTION: Final = "請確認憑證的相關資訊，點選最下方「確定」按鈕。"
TERMS_TITLE: Final = "用戶約定條款"
#: The page's prompt before the renewal starts (step 5) and its message at the end (step 6).
CONFIRM_PROMPT: Final = "即將進行憑證更新作業，更新過程中請勿移除憑證載具，並請耐心等待一分鐘。確定要更新嗎？"
DOWNLOADED: Final = "憑證下載成功!"
DOWNLOAD_PAGE: Final = "憑證下載成功"
#: [取消] on the prompt: nothing started, nothing changed.
CANCELLED: Final = "您已取消憑證更新作業，原憑證未變更，仍可正常使用。如需更新，請再點選[更新]。"
#: The card agent does not answer: what the customer can do (no developer's commands on a customer's page).
AGENT_MISSING: Final = ("無法連線至本機的憑證元件（讀取憑證載具的程式），因此無法讀取憑證載具。"
                        "請確認憑證元件已啟動後，再重新整理本頁；如仍無法使用，請洽客服中心。")
#: The manual's notes after step 7, as the 憑證下載 page says them to each customer.
NEXT_STEP_DONE: Final = "您已完成憑證更新作業，無須列印憑證證明單或執行其他步驟，即可使用新憑證。"
NEXT_STEP_EOI: Final = ("EOI 用戶請繼續執行以下步驟：點選畫面左方之[憑證證明單列印]，列印憑證證明單並傳真至申辦分行，"
                        "辦理憑證展期建檔。")
PROOF_TITLE: Final = "憑證列印頁"
PROOF_PLATFORM: Final = "合作金庫憑證管理平台"
PROOF_SHEET: Final = "憑證證明單"
#: The sheet of a certificate other than the newest (the manual: 此部份請勿更改).
NOT_NEWEST: Final = ("您選擇的憑證 {chosen} 不是最新憑證，其憑證證明單不能用於憑證展期建檔。"
                     "請回[憑證證明單列印]，保留系統自動選取的最新憑證 {newest}，直接點選[確定]。")
CSRF_HEADER: Final = "x-csrf-token"
#: Step 9, after the fax reached the branch: what the customer does next (the manual's words).
FAX_NEXT: Final = ("請電話告知分行電金/EOI經辦需執行憑證展期建檔；"
                   "若有申辦共用憑證，則須另外告知分行關係戶之用戶代碼(12位數)。"
                   "待分行完成憑證資料更新作業後，即可正常使用轉帳功能。")

Page = Callable[[Request, Session, dict[str, Any]], Awaitable[Response]]


class WizardError(FxmlError):
    """A refusal of the wizard's: a stable code, the zh-TW message, an HTTP status."""

    def __init__(self, code: str, message: str, status: int = 409):
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"[{code}] {message}")


def terms_text() -> list[str]:
    """The simulated 用戶約定條款: fxmlsim's own text, not TWCA's."""
    return [line for line in (HERE / "templates" / "terms.txt").read_text(encoding="utf-8").splitlines() if line]


def container_for(record: RenewalRecord, card_certificates: Any) -> str:
    """The container the new key goes to: the one that does not hold the certificate being renewed."""
    if not isinstance(card_certificates, list) or not all(isinstance(c, dict) for c in card_certificates):
        raise WizardError("BAD_REQUEST", "憑證載具資料格式錯誤。", 400)
    holding = [c.get("container") for c in card_certificates if str(c.get("serial", "")).upper() == record.old_serial]
    if not holding:
        raise WizardError("CARD_NOT_HOLDING_CERTIFICATE",
                          f"插入的憑證載具內沒有欲更新的憑證（{record.old_cn}），請確認插入的是您的憑證載具。")
    return "9C" if str(holding[0]).upper() == "9A" else "9A"


class Wizard:
    """憑證更新 and 憑證證明單列印 on a :class:`fxml.platform.app.Platform`."""

    def __init__(self, platform: Platform):
        self.platform = platform
        self.book: RenewalBook = platform.book
        self.clock = platform.clock

    # -- helpers -------------------------------------------------------------------------------
    @property
    def ca(self) -> CaClient:
        if self.platform.ca is None:
            raise WizardError("CA_NOT_CONFIGURED", "憑證管理平台未設定憑證中心位址，請洽系統管理員。", 503)
        return self.platform.ca

    def _render(self, request: Request, name: str, session: Session, customer: dict[str, Any], *,
                status: int = 200, **context: Any) -> Response:
        return self.platform.render(request, name, status=status, customer=customer, session=session,
                                    stages=STAGES, csrf_token=session.csrf_token, **context)

    def _refuse(self, request: Request, session: Session, customer: dict[str, Any], error: WizardError | CaError
                | RecordError, title: str = labels.MENU_RENEW, back: str = "/renew") -> Response:
        code = str(error.code)
        message = error.message
        status = getattr(error, "status", 409) or 409
        return self._render(request, "refusal.html", session, customer, status=status, title=title,
                            message=message, code=code, back_url=back)

    def _record(self, customer: dict[str, Any], renewal_id: str) -> RenewalRecord:
        try:
            record = self.book.get(renewal_id)
        except RecordError:
            raise WizardError("RENEWAL_UNKNOWN", "查無此筆憑證更新作業，請由「憑證更新」重新辦理。", 404) from None
        if record.holder_id != customer["holder_id"]:
            # Another customer's renewal: the same answer as none, so ids tell nothing.
            raise WizardError("RENEWAL_UNKNOWN", "查無此筆憑證更新作業，請由「憑證更新」重新辦理。", 404)
        return record

    async def _certificates(self, customer: dict[str, Any]) -> list[CertificateRecord]:
        records = await run_in_threadpool(self.ca.query, customer["holder_id"])
        return list(records)

    # -- 1 選擇更新清單 -----------------------------------------------------------------------------
    async def renew_list(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        try:
            certificates = await self._certificates(customer)
        except CaError as exc:
            return self._refuse(request, session, customer, exc, back="/")
        current = [c for c in certificates if c.renewed_by is None]
        renewable = [c for c in current if c.status == "正常"]
        chosen = renewable[-1].serial if renewable else None
        open_renewals = {r.old_serial: r for r in self.book.for_holder(customer["holder_id"])
                         if r.state not in (State.DONE, State.CANCELLED)}
        return self._render(request, "renew_list.html", session, customer, stage=1, certificates=current,
                            chosen=chosen, open_renewals=open_renewals, taiwan_text=taiwan_text)

    async def renew_select(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            check_csrf(session, fields)
        except CsrfError as exc:
            return self._refuse(request, session, customer, WizardError(exc.code, exc.message, 403))
        serial = fields.get("serial", "").upper()
        try:
            certificates = await self._certificates(customer)
            chosen = next((c for c in certificates if c.serial == serial), None)
            if chosen is None:
                raise WizardError("RENEWAL_NOT_SELECTED", "請選擇欲更新的憑證。", 400)
            open_one = self.book.open_for(customer["holder_id"], serial)
            if open_one is None:
                await run_in_threadpool(self.ca.renewal_check, serial)  # the CA's own refusal, if any
            record = self.book.create(customer["holder_id"], serial, chosen.cn)
        except (WizardError, CaError) as exc:
            return self._refuse(request, session, customer, exc)
        self.platform.store.audit(self.clock.now(), _actor(customer), "憑證更新：選擇更新清單", "OK",
                                  record.renewal_id)
        return RedirectResponse(f"/renew/{record.renewal_id}", status_code=303)

    # -- 2 確認更新資訊, 3 更新約定條款, 4 更新送審結果 ---------------------------------------------
    async def renew_page(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        try:
            record = self._record(customer, request.path_params["renewal_id"])
        except WizardError as exc:
            return self._refuse(request, session, customer, exc)
        if record.state is State.DONE:
            return RedirectResponse(f"/renew/{record.renewal_id}/done", status_code=303)
        if record.state is State.CANCELLED:
            return self._refuse(request, session, customer,
                                WizardError("RENEWAL_CANCELLED", "此筆憑證更新作業已取消，請由「憑證更新」重新辦理。"))
        common: dict[str, Any] = {"record": record, "agent_url": self.platform.settings.agent_origin or "",
                  "state_label": record.state.label}
        if record.state is State.SELECTED:
            return self._render(request, "renew_confirm.html", session, customer, stage=2,
                                instruction=INSTRUCTION, agent_missing=AGENT_MISSING, **common)
        return self._render(request, "renew_terms.html", session, customer, stage=3, terms_title=TERMS_TITLE,
                            terms=terms_text(), prompt=CONFIRM_PROMPT, downloaded=DOWNLOADED, cancelled=CANCELLED,
                            agent_missing=AGENT_MISSING, started=record.state.rank > State.TERMS_ACCEPTED.rank,
                            **common)

    async def _json_call(self, request: Request, session: Session) -> dict[str, Any]:
        token = request.headers.get(CSRF_HEADER, "")
        check_csrf(session, {"csrf_token": token})
        try:
            body = parse_json(await request.body() or b"{}")
        except BadJsonError:
            raise WizardError("BAD_REQUEST", "請求內容不是有效的 JSON。", 400) from None
        if not isinstance(body, dict):
            raise WizardError("BAD_REQUEST", "請求內容須為 JSON 物件。", 400)
        return body

    def _json_error(self, error: WizardError | RecordError | CsrfError) -> JSONResponse:
        status = getattr(error, "status", 409)
        if isinstance(error, CsrfError):
            status = 403
        return JSONResponse({"error": {"code": str(error.code), "message": error.message}}, status_code=status)

    async def renew_confirm(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        """確認更新資訊 done: the page says which card (the agent read it) holds the certificate."""
        try:
            body = await self._json_call(request, session)
            record = self._record(customer, request.path_params["renewal_id"])
            card = body.get("card")
            if not isinstance(card, dict) or not isinstance(card.get("card_serial"), str):
                raise WizardError("BAD_REQUEST", "缺少憑證載具資料。", 400)
            if record.state is not State.SELECTED:
                if record.card_serial == card["card_serial"]:
                    return JSONResponse({"record": record.to_json()})  # a repeated click: already confirmed
                raise WizardError("RENEWAL_STALE", "此筆憑證更新作業已進行至下一步驟，請重新整理頁面。")
            container = container_for(record, card.get("certificates"))
            record = self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED,
                                       card_serial=card["card_serial"], container=container)
        except (WizardError, RecordError, CsrfError) as exc:
            return self._json_error(exc)
        self.platform.store.audit(self.clock.now(), _actor(customer), "憑證更新：確認更新資訊", "OK",
                                  record.renewal_id)
        return JSONResponse({"record": record.to_json()})

    async def renew_accept(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        """更新約定條款 accepted ([更新], then [確定] on the prompt): a renewal token for the agent."""
        try:
            await self._json_call(request, session)
            record = self._record(customer, request.path_params["renewal_id"])
            if record.state is State.CONFIRMED:
                record = self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)
                self.platform.store.audit(self.clock.now(), _actor(customer), "憑證更新：同意約定條款", "OK",
                                          record.renewal_id)
            elif record.state.rank < State.TERMS_ACCEPTED.rank or record.state in (State.DONE, State.CANCELLED):
                raise WizardError("RENEWAL_STALE", "此筆憑證更新作業的狀態已改變，請重新整理頁面。")
            token = self.book.token(record.renewal_id)
        except RecordError as exc:
            if exc.code is RecordErrorCode.STALE:  # a double click: the other one moved it
                record = self.book.get(request.path_params["renewal_id"])
                return JSONResponse({"record": record.to_json(), "renewal_token": self.book.token(record.renewal_id)})
            return self._json_error(exc)
        except (WizardError, CsrfError) as exc:
            return self._json_error(exc)
        return JSONResponse({"record": record.to_json(), "renewal_token": token})

    async def renew_status(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        try:
            record = self._record(customer, request.path_params["renewal_id"])
        except WizardError as exc:
            return self._json_error(exc)
        return JSONResponse({"record": record.to_json(), "label": record.state.label})

    async def renew_cancel(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        try:
            check_csrf(session, {k: v for k, v in form.items() if isinstance(v, str)})
            record = self._record(customer, request.path_params["renewal_id"])
            if record.state.rank < State.KEY_PENDING.rank:
                self.book.advance(record.renewal_id, record.state, State.CANCELLED)
        except (WizardError, RecordError) as exc:
            return self._refuse(request, session, customer, exc)
        except CsrfError as exc:
            return self._refuse(request, session, customer, WizardError(exc.code, exc.message, 403))
        return RedirectResponse("/renew", status_code=303)

    async def renew_done(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        try:
            record = self._record(customer, request.path_params["renewal_id"])
        except WizardError as exc:
            return self._refuse(request, session, customer, exc)
        if record.state is not State.DONE:
            return RedirectResponse(f"/renew/{record.renewal_id}", status_code=303)
        next_step = NEXT_STEP_EOI if customer.get("system") == "eoi" else NEXT_STEP_DONE
        return self._render(request, "renew_done.html", session, customer, stage=4, record=record,
                            message=DOWNLOAD_PAGE, certificate=_certificate_facts(record), next_step=next_step)

    # -- 8 憑證證明單列印 --------------------------------------------------------------------------
    async def proof_list(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        """The customer's certificates by Common Name (:func:`_printable`), the newest last, preselected."""
        try:
            certificates = _printable(await self._certificates(customer))
        except CaError as exc:
            return self._refuse(request, session, customer, exc, title=labels.MENU_PROOF, back="/")
        newest = certificates[-1].serial if certificates else None
        return self._render(request, "proof_list.html", session, customer, certificates=certificates,
                            chosen=newest)

    async def proof_choose(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        form = await request.form(max_files=0, max_fields=10)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            check_csrf(session, fields)
        except CsrfError as exc:
            return self._refuse(request, session, customer, WizardError(exc.code, exc.message, 403),
                                title=labels.MENU_PROOF, back="/proof")
        return RedirectResponse(f"/proof/{fields.get('serial', '').upper()}", status_code=303)

    async def _sheet(self, customer: dict[str, Any], serial: str) -> tuple[dict[str, str], str | None]:
        """The proof sheet of the customer's certificate ``serial``, and what it says when that is
        not the newest certificate (the one the list preselects, the one a branch files: the
        manual's 此部份請勿更改), or None."""
        wanted = _serial(serial)
        certificates = await self._certificates(customer)
        chosen = next((c for c in certificates if c.serial == wanted), None)
        if chosen is None:
            raise _unknown_certificate()
        sheet: dict[str, str] = await run_in_threadpool(self.ca.proof_sheet, wanted)
        current = _printable(certificates)
        newest = current[-1] if current else chosen
        warning = None if newest.serial == chosen.serial else NOT_NEWEST.format(chosen=chosen.cn, newest=newest.cn)
        return sheet, warning

    async def proof_sheet(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        serial = request.path_params["serial"].upper()
        try:
            sheet, not_newest = await self._sheet(customer, serial)
        except (WizardError, CaError) as exc:
            return self._refuse(request, session, customer, exc, title=labels.MENU_PROOF, back="/proof")
        eoi = customer.get("system") == "eoi"
        return self._render(request, "proof_sheet.html", session, customer, sheet=sheet, serial=serial,
                            title=PROOF_TITLE, platform_name=PROOF_PLATFORM, sheet_title=PROOF_SHEET,
                            fax=eoi, not_newest=not_newest, can_print=not (eoi and not_newest))

    async def _pdf(self, customer: dict[str, Any], sheet: dict[str, str]) -> bytes:
        html = self.platform.templates.get_template("proof_print.html").render(
            sheet=sheet, platform_name=PROOF_PLATFORM, sheet_title=PROOF_SHEET, customer=customer, L=labels)
        pdf: bytes = await run_in_threadpool(render_pdf, html)
        return pdf

    async def proof_pdf(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        try:
            sheet, _warning = await self._sheet(customer, request.path_params["serial"])
        except (WizardError, CaError) as exc:
            return self._refuse(request, session, customer, exc, title=labels.MENU_PROOF, back="/proof")
        pdf = await self._pdf(customer, sheet)
        serial = request.path_params["serial"].upper()
        self.platform.store.audit(self.clock.now(), _actor(customer), "憑證證明單列印", "OK", serial)
        return Response(pdf, media_type="application/pdf", headers={
            "content-disposition": f'inline; filename="proof-{serial}.pdf"',
        })

    async def proof_fax(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        """Step 9: [列印] faxes the sheet (fields and PDF) to the customer's 申辦分行, then the page prints.

        EOI customers only: for 個人網路銀行 and 企業網路銀行 the renewal is complete at step 7."""
        serial = request.path_params["serial"].upper()
        try:
            await self._json_call(request, session)
            _serial(serial)  # a serial at all, before anything else is asked
            if customer.get("system") != "eoi":
                raise WizardError("FAX_NOT_NEEDED", "個人網路銀行及企業網路銀行用戶於步驟7完成後即完成憑證更新作業，"
                                  "無須傳真憑證證明單。")
            if self.platform.bank is None:
                raise WizardError("FAX_UNAVAILABLE", "憑證管理平台未設定銀行位址，無法傳真憑證證明單，"
                                  "請洽系統管理員。", 503)
            sheet, not_newest = await self._sheet(customer, serial)
            if not_newest is not None:
                raise WizardError("PROOF_NOT_NEWEST", not_newest)
            fax = Fax(
                fax_id=f"F{uuid.uuid4().hex}", sent_at=self.clock.now().isoformat(),
                customer=FaxCustomer(system=str(customer["system"]), customer_id=str(customer["customer_id"]),
                                     customer_name=str(customer["customer_name"]),
                                     user_code=str(customer["user_code"]), holder_id=str(customer["holder_id"])),
                serial=serial, sheet=sheet, pdf=await self._pdf(customer, sheet),
            )
            receipt = await run_in_threadpool(self.platform.bank.client.send_fax, fax)
        except BankApiError as exc:
            log.warning("fax of %s not delivered: %s", serial, exc)
            self.platform.store.audit(self.clock.now(), _actor(customer), "憑證證明單傳真", str(exc.code), serial)
            return self._json_error(WizardError("FAX_FAILED", f"憑證證明單未能傳真至申辦分行（{exc.message}），"
                                                "請稍後再點選[列印]。", 502))
        except (WizardError, CaError, CsrfError) as exc:
            if isinstance(exc, CaError):
                exc = WizardError(exc.code, exc.message, exc.status or 502)
            return self._json_error(exc)
        received = datetime.fromisoformat(receipt.received_at)
        self.platform.store.audit(self.clock.now(), _actor(customer), "憑證證明單傳真", "OK",
                                  f"{serial} {receipt.branch_code} {fax.fax_id}")
        return JSONResponse({"fax": {
            "fax_id": receipt.fax_id, "branch_code": receipt.branch_code, "branch_name": receipt.branch_name,
            "received_at": receipt.received_at,
            "message": f"憑證資料已傳真至申辦分行 {receipt.branch_code} {receipt.branch_name}"
                       f"（收件時間 {roc_date(received)} {time_text(received)}）。",
            "next": FAX_NEXT,
        }})

    # -- routes ------------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        page = self.platform.page
        return [
            Route("/renew", page(self.renew_list), methods=["GET"]),
            Route("/renew", page(self.renew_select), methods=["POST"]),
            Route("/renew/{renewal_id:str}", page(self.renew_page), methods=["GET"]),
            Route("/renew/{renewal_id:str}/confirm", page(self.renew_confirm), methods=["POST"]),
            Route("/renew/{renewal_id:str}/accept", page(self.renew_accept), methods=["POST"]),
            Route("/renew/{renewal_id:str}/status", page(self.renew_status), methods=["GET"]),
            Route("/renew/{renewal_id:str}/cancel", page(self.renew_cancel), methods=["POST"]),
            Route("/renew/{renewal_id:str}/done", page(self.renew_done), methods=["GET"]),
            Route("/proof", page(self.proof_list), methods=["GET"]),
            Route("/proof", page(self.proof_choose), methods=["POST"]),
            Route("/proof/{serial:str}.pdf", page(self.proof_pdf), methods=["GET"]),
            Route("/proof/{serial:str}/fax", page(self.proof_fax), methods=["POST"]),
            Route("/proof/{serial:str}", page(self.proof_sheet), methods=["GET"]),
        ]


def _unknown_certificate() -> WizardError:
    return WizardError("PROOF_UNKNOWN_CERTIFICATE", "查無此憑證，請由「憑證證明單列印」重新選擇。", 404)


def _serial(text: str) -> str:
    """A serial from a URL: ASCII hex digits (fxml.web.ids), in upper case; anything else
    (a superscript, full-width digits) is no certificate, refused before the CA is asked."""
    serial = ids.hex_id(text)
    if serial is None:
        raise _unknown_certificate()
    return serial


def _printable(certificates: list[CertificateRecord]) -> list[CertificateRecord]:
    """The certificates 憑證證明單列印 offers, in the CA's issuance order: of each Common Name the
    newest that is neither replaced by a renewal nor revoked (廢止), so that a customer tells the rows
    apart by their names (the manual's two rows, -00-2012 and -00-2015)."""
    kept = [c for c in certificates if c.renewed_by is None and c.status != "已廢止"]
    newest = {c.cn: c.serial for c in kept}  # the last of each CN wins
    return [c for c in kept if newest[c.cn] == c.serial]


def _actor(customer: dict[str, Any]) -> str:
    return f"{customer.get('system')}:{customer.get('customer_id')}:{customer.get('user_code')}"


def _certificate_facts(record: RenewalRecord) -> dict[str, str]:
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


__all__ = ["DOWNLOADED", "STAGES", "Wizard", "WizardError", "roc_date", "time_text"]
