"""The branch back office's 解除暫禁 (``/branch/resume``): lifting a customer's 暫禁 at the CA.

A customer suspends a certificate on the FXML platform (憑證暫禁); only the customer's 申辦分行
lifts it, once an officer there has made sure of the customer. The officer looks the customer up
by 統一編號 or 身分證字號 (``GET /branch/resume?customer=…``): the customer's certificates as the
CA has them, each 暫禁 one with [解除暫禁] (``POST /branch/resume``, a form with its CSRF token),
which asks the CA to resume it with the CA's admin token (the registration authority's operation;
the CA's audit names the officer: ``branch:<branch>:<officer>``). OCSP answers good again, and the
bank accepts transfers signed with the certificate.

An officer of another branch is refused (the lookup and the action alike), as is a certificate
that is not the customer's or not suspended; every 解除暫禁 and every refusal is a line of the
bank's audit log (``解除暫禁``).
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.display import roc_date, taiwan_text, time_text
from fxml.web.handlers import form, principal, session, texts
from simulator.bank.auth import BankError
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.branch import PREFIX, SYSTEM, TITLE, BranchOffice, SignedInOfficer
from simulator.bank.certificates import ca_unavailable
from simulator.bank.customers import Customer

#: The page's heading, and the heading of its refusals.
RESUME_TITLE: Final = "憑證解除暫禁"
RESUME_REFUSED: Final = "無法解除暫禁"
#: The bank's audit log's action.
AUDIT_ACTION: Final = "解除暫禁"
#: The CA's refusals of a 解除暫禁 the bank names with its own codes (the same words).
_CA_REFUSALS: Final = {str(c): c for c in (Code.CERT_NOT_SUSPENDED, Code.CERT_REVOKED, Code.CERT_EXPIRED)}


class Resumption:
    """解除暫禁, behind the back office's door (its principal: the officer)."""

    def __init__(self, office: BranchOffice, ca_url: str | None, token: str | None):
        self.office = office
        self.store = office.store
        self.clock = office.clock
        self.ca_url = ca_url
        self.token = token

    def routes(self) -> list[BaseRoute]:
        door, back = self.office.door, f"{PREFIX}/resume"
        return [
            Route("/resume", door.page(self.page, back=back, title=RESUME_REFUSED), methods=["GET"]),
            Route("/resume", door.page(self.resume, back=back, title=RESUME_REFUSED), methods=["POST"]),
        ]

    # -- pieces -----------------------------------------------------------------------------------------
    def _render(self, request: Request, name: str, **context: Any) -> Response:
        page: Response = self.office.templates.TemplateResponse(
            request, name, {"title": TITLE, "prefix": PREFIX, "csrf_token": session(request).csrf_token,
                            "heading": RESUME_TITLE, **context})
        return page

    def _ca(self, officer: SignedInOfficer) -> CaClient:
        """The CA, as the registration authority acting for ``officer`` (the admin token)."""
        if not self.ca_url or not self.token:
            raise BankError(Code.RA_UNAVAILABLE, "分行作業系統目前無法向憑證中心辦理解除暫禁，請稍後再試或洽資訊處。",
                            503)
        return CaClient(self.ca_url, actor=f"branch:{officer.actor}", token=self.token)

    def _audit(self, officer: SignedInOfficer, result: str, detail: dict[str, Any]) -> None:
        self.store.audit(self.clock.now(), SYSTEM, officer.actor, AUDIT_ACTION, result,
                         json.dumps(detail, ensure_ascii=False))

    def _customer(self, officer: SignedInOfficer, typed: str) -> Customer:
        """The customer ``typed`` names, if the officer's branch is the customer's 申辦分行."""
        customer = self.store.customer(typed.strip().upper())
        if customer is None:
            raise BankError(Code.CUSTOMER_NOT_FOUND, f"查無此客戶（統一編號／身分證字號 {typed.strip()[:20]}）。", 404)
        if customer.branch.code != officer.branch_code:
            raise BankError(Code.RESUME_OTHER_BRANCH,
                            f"此客戶的申辦分行為 {customer.branch.code} {customer.branch.name}，"
                            f"解除暫禁須由申辦分行的經辦辦理（您是 {officer.branch_display} 的經辦）。", 403)
        return customer

    async def _certificates(self, officer: SignedInOfficer, customer: Customer) -> list[CertificateRecord]:
        try:
            records = await run_in_threadpool(self._ca(officer).query, customer.holder_id)
        except CaError as exc:
            raise ca_unavailable(exc) from None
        return list(reversed(records))

    # -- the pages ----------------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        """The lookup form, and with ``?customer=…`` the customer's certificates at the CA."""
        officer = principal(request, SignedInOfficer)
        typed = request.query_params.get("customer", "")
        if not typed.strip():
            return self._render(request, "branch_resume.html", officer=officer, typed="")
        try:
            customer = self._customer(officer, typed)
            records = await self._certificates(officer, customer)
        except BankError as exc:
            self._audit(officer, exc.code, {"customer": typed[:20], "step": "查詢"})
            raise
        return self._render(request, "branch_resume.html", officer=officer, typed=typed.strip(), customer=customer,
                            rows=[_row(r) for r in records])

    async def resume(self, request: Request) -> Response:
        officer = principal(request, SignedInOfficer)
        fields = texts(await form(request, max_fields=10))
        typed, serial = fields.get("customer", ""), fields.get("serial", "").strip().upper()
        try:
            customer = self._customer(officer, typed)
            mine = {r.serial: r for r in await self._certificates(officer, customer)}
            if serial not in mine:
                raise BankError(Code.CERT_NOT_CUSTOMERS,
                                f"此憑證（序號 {serial[:40]}）不屬於客戶 {customer.id_number}。", 422)
            record = await run_in_threadpool(self._resume, officer, serial)
        except BankError as exc:
            self._audit(officer, exc.code, {"customer": typed[:20], "serial": serial[:40]})
            raise
        now = self.clock.now()
        self._audit(officer, "OK", {"customer": customer.id_number, "serial": record.serial, "cn": record.cn})
        return self._render(request, "branch_resumed.html", officer=officer, customer=customer, row=_row(record),
                            resumed_at=f"{roc_date(now)} {time_text(now)}")

    def _resume(self, officer: SignedInOfficer, serial: str) -> CertificateRecord:
        try:
            return self._ca(officer).resume(serial)
        except CaError as exc:
            if exc.code in _CA_REFUSALS:
                raise BankError(_CA_REFUSALS[exc.code], exc.message, 409) from None
            raise ca_unavailable(exc) from None


def _row(record: CertificateRecord) -> dict[str, str]:
    return {"serial": record.serial, "cn": record.cn, "not_after": taiwan_text(record.not_after),
            "status": record.status,
            "suspended_at": taiwan_text(record.suspended_at) if record.suspended_at else ""}


__all__ = ["AUDIT_ACTION", "RESUME_TITLE", "Resumption"]
