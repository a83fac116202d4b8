"""憑證暫禁: the customer suspends one of their own certificates at the CA.

The manual shows no screen of it (beyond the manual, in the style of the screens it shows).

- ``GET /suspend``: the customer's certificates (the CA's, the newest first); those 正常 may be
  chosen. [暫禁] asks first, in the page's own window (a ``<dialog>`` in the bank's style, as the
  renewal's prompt: ``static/suspend.js``); [取消] there changes nothing.
- ``POST /suspend`` (a form, with its CSRF token): the platform, the registration authority of its
  signed-in customer, asks the CA to suspend the certificate (``CaClient.suspend`` with the CA's
  admin token, :class:`~fxml.platform.certificates.Registration`). Only the customer's own
  certificates: another's serial is answered as none. The CA records certificateHold (OCSP then
  answers revoked, reason certificateHold, the CRL lists it, the bank refuses transfers signed with
  it); its refusals (already suspended, revoked, expired) are shown in its words. Every request is
  a line of the platform's audit log (``憑證暫禁``, OK or the refusal's code), and the CA's audit
  names the customer.
- ``GET /suspend/{serial}``: the certificate as it is now: 憑證暫禁成功 and what to do next (解除暫禁
  is the 申辦分行's: the branch back office, docs/bank.md).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.errors import CodedError
from fxml.platform.certificates import (
    CertificateError,
    CertificateErrorCode,
    CertificateRow,
    CustomerCertificates,
    Registration,
)
from fxml.platform.pages import PlatformPages
from fxml.platform.store import PlatformStore
from fxml.platform.tickets import Ticket
from fxml.web import labels
from fxml.web.handlers import form, principal, texts

#: The platform's audit log's action for a 暫禁 asked.
AUDIT_ACTION = "憑證暫禁"


class Suspension:
    """憑證暫禁, behind the platform's door."""

    def __init__(self, pages: PlatformPages, certificates: CustomerCertificates, store: PlatformStore,
                 registration: Registration | None):
        self.pages = pages
        self.certificates = certificates
        self.store = store
        self.registration = registration

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        page: dict[str, Any] = {"back": "/suspend", "title": labels.MENU_SUSPEND}
        return [
            Route("/suspend", door.page(self.list_page, back="/", title=labels.MENU_SUSPEND), methods=["GET"]),
            Route("/suspend", door.page(self.suspend, **page), methods=["POST"]),
            Route("/suspend/{serial:str}", door.page(self.result, **page), methods=["GET"]),
        ]

    async def list_page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        rows = [CertificateRow.of(c) for c in await self.certificates.newest_first(customer)]
        chosen = next((r.serial for r in rows if r.status == "正常"), None)
        return self.pages.render(request, "suspend.html", rows=rows, chosen=chosen)

    async def suspend(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        serial = texts(await form(request, max_fields=10)).get("serial", "").strip()
        try:
            if not serial:
                raise CertificateError(CertificateErrorCode.CERT_NOT_SELECTED)
            record = await self.certificates.one(customer, serial)
            if self.registration is None:
                raise CertificateError(CertificateErrorCode.RA_NOT_CONFIGURED)
            done = await run_in_threadpool(self.registration.client(customer).suspend, record.serial)
        except CodedError as exc:
            self.store.audit(self.pages.clock.now(), customer.actor, AUDIT_ACTION, str(exc.code), serial[:64])
            raise
        self.store.audit(self.pages.clock.now(), customer.actor, AUDIT_ACTION, "OK", f"{done.serial} {done.cn}")
        return RedirectResponse(f"/suspend/{done.serial}", status_code=303)

    async def result(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        record = await self.certificates.one(customer, request.path_params["serial"])
        row = CertificateRow.of(record)
        if row.status == "暫禁":
            said = labels.SUSPENDED_TEXT.format(cn=row.cn, at=row.suspended_at)
        else:
            said = labels.STATUS_NOW.format(cn=row.cn, status=row.status)
        return self.pages.render(request, "suspend_done.html", row=row, said=said, suspended=row.status == "暫禁")


__all__ = ["AUDIT_ACTION", "Suspension"]
