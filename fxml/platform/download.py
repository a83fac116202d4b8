"""The platform's 憑證下載: the certificate a branch approved, with the key made on the customer's card.

The manual names the page (its step 7's 憑證下載頁 ends every renewal) but shows no screen of the
download itself; its pages follow the style of 憑證更新's, four stages as the renewal's four::

    1 輸入授權碼 → 2 確認下載資訊 → 3 下載約定條款 → 4 憑證下載結果

- ``GET /download``: the 授權碼 the branch's officer gave the customer (and the downloads not
  finished yet, to go on with); ``POST /download``: the platform asks the CA what the code allows
  (``check_authorization``: nothing is used) for this customer's holder id — an unknown, used,
  expired or another customer's code is refused with the CA's message and nothing changes — and
  opens the download's record (kind ``download`` in the book: docs/engine.md) with the Common Name,
  the subject and the code, or the one already open for that name;
- ``GET /download/{id}``: 確認下載資訊 (the Common Name, the card's 憑證儲存媒體 as the card agent
  reads it, the 憑證載具密碼, which goes to the agent only), then [確定]: the page tells the
  platform which card (``POST /download/{id}/confirm``), which checks it is the customer's (or
  names no holder: a blank card) and chooses the container the key goes to (one without a
  certificate, or with an expired one; never one with a valid certificate); 下載約定條款 with [下載],
  the page's prompt, then the platform's token (``POST /download/{id}/accept``) for the agent, which
  runs the download engine on the card (the record's kind picks it) and the page shows its progress
  and, at the end, 「憑證下載成功!」 as the renewal's does;
- ``GET /download/{id}/done``: 憑證下載成功, the certificate now on the card.

These are :class:`~fxml.platform.wizard.Wizard`'s pages for another kind of record: the same
door, record, token and script (``static/renewal.js``, told by the page that it downloads).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.ca.api import normal_code
from fxml.ca.client import CaError
from fxml.platform.tickets import Ticket
from fxml.platform.wizard import Wizard, WizardError, WizardErrorCode, certificate_facts, terms_text
from fxml.renewal.model import Kind, RenewalRecord, State
from fxml.web import labels
from fxml.web.handlers import form, principal, texts

Code = WizardErrorCode
#: The key containers a new key may go into, in the order they are offered.
CONTAINERS = ("9A", "9C")


def container_for_download(card_certificates: Any, now: datetime) -> str:
    """The container a download's key goes to: the first without a certificate, else the first whose
    certificate has expired; NO_FREE_CONTAINER when both hold a valid one (never removed)."""
    if not isinstance(card_certificates, list) or not all(isinstance(c, dict) for c in card_certificates):
        raise WizardError(Code.BAD_REQUEST, "憑證載具資料格式錯誤。")
    held = {str(c.get("container", "")).upper(): c for c in card_certificates}
    for name in CONTAINERS:
        if name not in held:
            return name
    for name in CONTAINERS:
        try:
            if datetime.fromisoformat(str(held[name].get("not_after"))) < now:
                return name
        except ValueError:
            continue
    raise WizardError(Code.NO_FREE_CONTAINER)


class Downloads(Wizard):
    """憑證下載's pages: the wizard's, for records of kind ``download``."""

    kind: ClassVar[Kind] = Kind.DOWNLOAD
    unknown: ClassVar[str] = Code.DOWNLOAD_UNKNOWN

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        download: dict[str, Any] = {"back": "/download", "title": labels.MENU_DOWNLOAD}
        one = "/download/{renewal_id:str}"
        return [
            Route("/download", door.page(self.code_page, back="/", title=labels.MENU_DOWNLOAD), methods=["GET"]),
            Route("/download", door.page(self.open_download, **download), methods=["POST"]),
            Route(one, door.page(self.download_page, **download), methods=["GET"]),
            Route(f"{one}/confirm", door.json(self.download_confirm), methods=["POST"]),
            Route(f"{one}/accept", door.json(self.download_accept), methods=["POST"]),
            Route(f"{one}/status", door.json(self.renew_status), methods=["GET"]),
            Route(f"{one}/cancel", door.page(self.download_cancel, **download), methods=["POST"]),
            Route(f"{one}/done", door.page(self.download_done, **download), methods=["GET"]),
        ]

    def _render(self, request: Request, name: str, *, status: int = 200, **context: Any) -> Response:
        return self.pages.render(request, name, status=status, stages=labels.DOWNLOAD_STAGES, **context)

    # -- 1 輸入授權碼 -------------------------------------------------------------------------------------
    async def code_page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        unfinished = [r for r in self.book.for_holder(customer.holder_id, Kind.DOWNLOAD)
                      if r.state not in (State.DONE, State.CANCELLED)]
        return self._render(request, "download_code.html", stage=1, unfinished=unfinished)

    async def open_download(self, request: Request) -> Response:
        """The code, checked at the CA for this customer (nothing used), opens the download's record."""
        customer = principal(request, Ticket)
        typed = texts(await form(request, max_fields=10)).get("authorization_code", "")
        if not typed.strip():
            raise WizardError(Code.DOWNLOAD_CODE_MISSING)
        code = normal_code(typed)
        try:
            grant = await run_in_threadpool(self.ca.check_authorization, code or typed[:64], customer.holder_id)
        except CaError as exc:
            self.store.audit(self.clock.now(), customer.actor, "憑證下載：輸入授權碼", exc.code, "")
            raise WizardError(exc.code, exc.message, exc.status or 502) from exc
        record = self.book.create_download(customer.holder_id, grant.cn, grant.subject.rfc4514_string(), code)
        self._audit(customer, "憑證下載：輸入授權碼", f"{record.renewal_id} {grant.cn}")
        return RedirectResponse(f"/download/{record.renewal_id}", status_code=303)

    # -- 2 確認下載資訊, 3 下載約定條款 --------------------------------------------------------------------
    async def download_page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        record = self._record(customer, request.path_params["renewal_id"])
        if record.state is State.DONE:
            return RedirectResponse(f"/download/{record.renewal_id}/done", status_code=303)
        if record.state is State.CANCELLED:
            raise WizardError(Code.DOWNLOAD_CANCELLED)
        common: dict[str, Any] = {"record": record, "agent_url": self.agent_url, "state_label": record.state.label,
                                  "agent_missing": labels.AGENT_MISSING, "holder_id": customer.holder_id}
        if record.state is State.SELECTED:
            return self._render(request, "download_confirm.html", stage=2,
                                instruction=labels.DOWNLOAD_CONFIRM_INSTRUCTION, **common)
        return self._render(request, "download_terms.html", stage=3, terms_title=labels.TERMS_TITLE,
                            terms=terms_text("download_terms.txt"), prompt=labels.DOWNLOAD_PROMPT,
                            downloaded=labels.DOWNLOADED,
                            cancelled=labels.DOWNLOAD_CANCELLED,
                            started=record.state.rank > State.TERMS_ACCEPTED.rank, **common)

    async def download_confirm(self, request: Request) -> Response:
        """確認下載資訊 done: the card (the agent read it, the PIN verified there) is the customer's or a
        blank one; the container its key goes to is recorded (CONFIRMED)."""
        customer = principal(request, Ticket)
        body = await self._json_call(request)
        record = self._record(customer, request.path_params["renewal_id"])
        card = body.get("card")
        if not isinstance(card, dict) or not isinstance(card.get("card_serial"), str):
            raise WizardError(Code.BAD_REQUEST, "缺少憑證載具資料。")
        if card.get("holder_id") not in (None, customer.holder_id):
            raise WizardError(Code.CARD_NOT_CUSTOMERS)
        if record.state is not State.SELECTED:
            if record.card_serial == card["card_serial"]:
                return JSONResponse({"record": record.to_json()})  # a repeated click: already confirmed
            raise WizardError(Code.DOWNLOAD_STALE)
        container = container_for_download(card.get("certificates"), self.clock.now())
        record = self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED,
                                   card_serial=card["card_serial"], container=container)
        self._audit(customer, "憑證下載：確認下載資訊", record.renewal_id)
        return JSONResponse({"record": record.to_json()})

    async def download_accept(self, request: Request) -> Response:
        """下載約定條款 accepted ([下載], then [確定] on the prompt): a token for the agent."""
        return await self._accept(request, "憑證下載：同意約定條款", Code.DOWNLOAD_STALE)

    async def download_cancel(self, request: Request) -> Response:
        return await self._cancel(request, "/download")

    # -- 4 憑證下載結果 -----------------------------------------------------------------------------------
    async def download_done(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        record: RenewalRecord = self._record(customer, request.path_params["renewal_id"])
        if record.state is not State.DONE:
            return RedirectResponse(f"/download/{record.renewal_id}", status_code=303)
        return self._render(request, "renew_done.html", stage=4, record=record, message=labels.DOWNLOAD_PAGE,
                            certificate=certificate_facts(record), next_step=labels.DOWNLOAD_NEXT, query_line=True)


__all__ = ["CONTAINERS", "Downloads", "container_for_download"]
