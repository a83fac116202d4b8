"""The bank's side of the platform → bank contract (fxml/platform/bankapi.py).

- ``POST /api/platform/faxes``: a proof sheet faxed by an EOI customer's
  [列印]; filed in the inbox of the customer's 申辦分行 with the time it
  arrived (the bank's clock).
- ``POST /api/platform/applications``: 憑證申請, filed for the approval of the
  customer's 申辦分行 (simulator/bank/applications.py).
- ``POST /api/platform/renewals``: a renewal reached DONE. For 個人網路銀行 and
  企業網路銀行 the bank binds the new certificate to the customer now, once
  the CA confirms it renews the old one for this holder; for the EOI 系統 it
  notes it and waits for the branch's 憑證展期建檔.

Both refuse anything not signed with the shared key, out of time or
replayed (:func:`fxml.platform.bankapi.verify`), and answer a message sent
again with the answer it got the first time. They are plain endpoints (the
caller is known by the message's signature, not by a session): a refusal is a
:class:`~fxml.platform.bankapi.BankApiError`, audited, raised and answered by
the web layer (JSON).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fxml.clock import Clock
from fxml.platform import bankapi
from fxml.platform.bankapi import Application, BankApiError, Binding, ErrorCode, Fax, FaxReceipt, RenewalNotice
from fxml.platform.tickets import System
from fxml.web.body import BadJsonError, parse_json
from simulator.bank import binding
from simulator.bank.applications import file_application
from simulator.bank.auth import BankError
from simulator.bank.certificates import CertificateChecks
from simulator.bank.customers import Customer
from simulator.bank.store import BankStore

log = logging.getLogger(__name__)
SYSTEM = "platform-api"


class PlatformApi:
    def __init__(self, store: BankStore, clock: Clock, key: bytes, checks: CertificateChecks | None):
        self.store = store
        self.clock = clock
        self.key = key
        self.checks = checks

    async def _authenticated(self, action: str, request: Request) -> Any:
        """The request's JSON body, once its signature says it is the platform's (fresh, not
        replayed); a refusal is audited under ``action`` and raised (the web layer answers it)."""
        body = await request.body()  # at most bankapi.MAX_BODY: the bank app's body limit
        now = self.clock.now()
        try:
            await run_in_threadpool(
                bankapi.verify, self.key, request.method, request.url.path, body, request.headers, self.clock,
                lambda nonce, expires: self.store.first_use_nonce(nonce, expires, now),
            )
            try:
                return parse_json(body)
            except BadJsonError as exc:  # not JSON, or nested too deep to read
                raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, exc.reason) from None
        except BankApiError as exc:
            self._audit_refusal(action, exc)
            raise

    def _audit_refusal(self, action: str, exc: BankApiError) -> None:
        self.store.audit(self.clock.now(), SYSTEM, "fxml-platform", action, str(exc.code), exc.detail[:200])

    def _customer(self, id_number: str, holder_id: str) -> Customer:
        customer = self.store.customer(id_number)
        if customer is None or customer.holder_id != holder_id:
            raise BankApiError(ErrorCode.BANK_API_UNKNOWN_CUSTOMER, f"no customer {id_number} holding {holder_id}")
        return customer

    # -- the fax --------------------------------------------------------------------------------------
    async def fax(self, request: Request) -> Response:
        data = await self._authenticated("傳真收件", request)
        try:
            receipt, created = await run_in_threadpool(self._file_fax, Fax.from_json(data))
        except BankApiError as exc:
            self._audit_refusal("傳真收件", exc)
            raise
        return JSONResponse(receipt.to_json(), status_code=201 if created else 200)

    def _file_fax(self, fax: Fax) -> tuple[FaxReceipt, bool]:
        customer = self._customer(fax.customer.customer_id, fax.customer.holder_id)
        if customer.system.value != fax.customer.system:
            raise BankApiError(ErrorCode.BANK_API_UNKNOWN_CUSTOMER, "the customer is not of that system")
        branch = customer.branch
        digest = fax.digest()
        now = self.clock.now()
        with self.store.transaction() as conn:
            seen = conn.execute("SELECT digest, branch_code, received_at FROM faxes WHERE fax_id = ?",
                                (fax.fax_id,)).fetchone()
            if seen is not None:
                if seen[0] != digest:
                    raise BankApiError(ErrorCode.BANK_API_ID_REUSED, f"fax {fax.fax_id} had other content")
                return FaxReceipt(fax.fax_id, seen[1], branch.name, seen[2]), False
            conn.execute(
                "INSERT INTO faxes(fax_id, digest, branch_code, id_number, system, user_code, customer_name, serial,"
                " sheet, pdf, sent_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (fax.fax_id, digest, branch.code, customer.id_number, customer.system.value, fax.customer.user_code,
                 fax.customer.customer_name, fax.serial, json.dumps(fax.sheet, ensure_ascii=False), fax.pdf,
                 fax.sent_at, now.isoformat()),
            )
            conn.execute("INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         (now.isoformat(), SYSTEM, "fxml-platform", "傳真收件", "OK",
                          f"{fax.fax_id} {customer.id_number} {fax.serial} → {branch.code}"))
        log.info("fax %s of %s for %s filed in the inbox of %s", fax.fax_id, fax.serial, customer.id_number,
                 branch.code)
        return FaxReceipt(fax.fax_id, branch.code, branch.name, now.isoformat()), True

    # -- the application ----------------------------------------------------------------------------------
    async def application(self, request: Request) -> Response:
        data = await self._authenticated("憑證申請收件", request)
        try:
            application = Application.from_json(data)
            customer = self._customer(application.customer.customer_id, application.customer.holder_id)
            if customer.system.value != application.customer.system:
                raise BankApiError(ErrorCode.BANK_API_UNKNOWN_CUSTOMER, "the customer is not of that system")
            receipt, created = await run_in_threadpool(file_application, self.store, self.clock, application, customer)
        except BankApiError as exc:
            self._audit_refusal("憑證申請收件", exc)
            raise
        return JSONResponse(receipt.to_json(), status_code=201 if created else 200)

    # -- the renewal notice -------------------------------------------------------------------------------
    async def renewal(self, request: Request) -> Response:
        data = await self._authenticated("憑證更新完成通知", request)
        try:
            notice = RenewalNotice.from_json(data)
            outcome, created = await run_in_threadpool(self._note_renewal, notice)
        except BankApiError as exc:
            self._audit_refusal("憑證更新完成通知", exc)
            raise
        return JSONResponse({"renewal": {"renewal_id": notice.renewal_id, "binding": outcome.value}},
                            status_code=201 if created else 200)

    def _note_renewal(self, notice: RenewalNotice) -> tuple[Binding, bool]:
        digest = json.dumps(notice.to_json(), sort_keys=True)
        seen = self.store.connection().execute(
            "SELECT digest, binding FROM renewal_notices WHERE renewal_id = ?", (notice.renewal_id,)).fetchone()
        if seen is not None:
            if seen[0] != digest:
                raise BankApiError(ErrorCode.BANK_API_ID_REUSED, f"renewal {notice.renewal_id} had other content")
            return Binding(seen[1]), False
        customer = self._customer(notice.holder_id, notice.holder_id)
        if self.checks is None:
            raise BankApiError(ErrorCode.BANK_API_CA_UNAVAILABLE, "the bank has no CA configured")
        try:
            new = self.checks.record(notice.new_serial)
        except BankError:
            raise BankApiError(ErrorCode.BANK_API_CA_UNAVAILABLE, "the CA did not answer") from None
        if (new is None or new.holder_id != customer.holder_id or new.renewed_from != notice.old_serial
                or new.cn not in customer.cns):
            raise BankApiError(ErrorCode.BANK_API_NOT_A_RENEWAL,
                               f"{notice.new_serial} does not renew {notice.old_serial} of {customer.holder_id}")
        outcome = Binding.AWAITING_FILING if customer.system is System.EOI else Binding.BOUND
        now = self.clock.now()
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM renewal_notices WHERE renewal_id = ?", (notice.renewal_id,)).fetchone():
                raise BankApiError(ErrorCode.BANK_API_REPLAYED, "noted meanwhile")  # a concurrent twin: retried
            if outcome is Binding.BOUND and binding.row(conn, customer.id_number, new.serial) is None:
                codes = binding.codes_after_renewal(self.store, customer, notice.old_serial)
                binding.move(conn, customer, new, binding.RENEWAL, notice.renewal_id, codes, now)
            conn.execute(
                "INSERT INTO renewal_notices(renewal_id, digest, id_number, old_serial, new_serial, done_at,"
                " received_at, binding) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (notice.renewal_id, digest, customer.id_number, notice.old_serial, notice.new_serial,
                 notice.done_at, now.isoformat(), outcome.value),
            )
            conn.execute("INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         (now.isoformat(), customer.system.value, "fxml-platform", "憑證更新完成通知", outcome.value,
                          f"{notice.renewal_id} {notice.old_serial} → {notice.new_serial}"))
        log.info("renewal %s of %s: %s", notice.renewal_id, customer.id_number, outcome.value)
        return outcome, True

    def routes(self) -> list[Route]:
        return [
            Route(bankapi.Paths.FAXES, self.fax, methods=["POST"]),
            Route(bankapi.Paths.RENEWALS, self.renewal, methods=["POST"]),
            Route(bankapi.Paths.APPLICATIONS, self.application, methods=["POST"]),
        ]


__all__ = ["PlatformApi"]
