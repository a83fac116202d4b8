"""憑證申請 at the bank: the platform files a customer's application, the branch approves or refuses it.

- **Filing** (``POST /api/platform/applications``, the platform → bank contract of
  :mod:`fxml.platform.bankapi`): the application goes to the inbox of the customer's 申辦分行 with
  the time it arrived. Refused: a customer the bank does not know as the ticket named them, a name
  (CN suffix) one of the customer's certificates has already (``BANK_API_CN_TAKEN``), a name another
  application still awaits the branch for (``BANK_API_APPLICATION_PENDING``). Sent again with the same
  id: the same receipt.
- **The branch** (``/branch/applications``, behind the back office's door: an officer of the customer's
  branch, 電金經辦 or EOI經辦): 憑證申請審核 lists the branch's applications; **核准** registers the holder's
  new name at the CA and has the CA issue a one-time **授權碼** bound to it (the bank is the registration
  authority: it holds the CA's admin token, the customer's machine never does), binds the name to the
  customer in the bank's records (the certificate the card will get is the customer's: docs/bank.md,
  *Certificates bound to customers*), and shows the officer the code once, to tell the customer; the
  bank keeps only its expiry. **不核准** records the officer's reason. Another branch's application is
  answered as none; a decided one cannot be decided again. Every decision and every refusal is a line of
  the audit log (never the code).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.ca.api import ErrorCode as CaCode
from fxml.ca.client import AuthorizationGrant, CaError
from fxml.clock import TAIWAN, Clock
from fxml.display import roc_date, taiwan_text, time_text
from fxml.platform.bankapi import Application, ApplicationReceipt, BankApiError, ErrorCode
from fxml.web import ids
from fxml.web.handlers import form, principal, texts
from simulator.bank.auth import BankError
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.certificates import ca_unavailable
from simulator.bank.customers import Certificate, Customer
from simulator.bank.store import BankStore
from simulator.card.image import Carrier

SYSTEM: Final = "branch"
#: The heading of a refused decision.
DECISION_REFUSED: Final = "無法完成憑證申請審核"
APPROVED: Final = "approved"
REFUSED: Final = "refused"
#: What an application's state reads in the branch's words.
STATUS: Final = {None: "待審核", APPROVED: "已核准", REFUSED: "未核准"}
_MAX_REASON: Final = 200


class Registrar(Protocol):
    """The CA as the bank's registration authority uses it (``CaClient`` with the admin token has these)."""

    def register_holder(self, holder_id: str, name: str, cn_suffix: str, branch_code: str | None = None,
                        bank_name: str | None = None) -> dict[str, Any]: ...

    def authorize(self, holder_id: str, cn_suffix: str, *, expires_at: datetime | None = None
                  ) -> tuple[str, AuthorizationGrant]: ...


@dataclass(frozen=True)
class ApplicationRow:
    id: int
    application_id: str
    branch_code: str
    id_number: str
    system: str
    user_code: str
    customer_name: str
    cn_suffix: str
    cn: str
    carrier: str
    submitted_at: datetime
    received_at: datetime
    decision: str | None
    decided_at: datetime | None
    officer_code: str | None
    reason: str
    code_expires_at: datetime | None

    @property
    def status(self) -> str:
        return STATUS.get(self.decision, "待審核")

    @property
    def received_text(self) -> str:
        return f"{roc_date(self.received_at)} {time_text(self.received_at)}"

    @property
    def decided_text(self) -> str:
        return f"{roc_date(self.decided_at)} {time_text(self.decided_at)}" if self.decided_at else ""


_COLUMNS: Final = ("id, application_id, branch_code, id_number, system, user_code, customer_name, cn_suffix, cn,"
                   " carrier, submitted_at, received_at, decision, decided_at, officer_code, reason, code_expires_at")
_SELECT: Final = f"SELECT {_COLUMNS} FROM applications"  # noqa: S608 - our columns


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _row(row: tuple[Any, ...]) -> ApplicationRow:
    return ApplicationRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
                          datetime.fromisoformat(row[10]), datetime.fromisoformat(row[11]), row[12],
                          _when(row[13]), row[14], row[15], _when(row[16]))


def applications_of(store: BankStore, branch_code: str) -> list[ApplicationRow]:
    """A branch's applications: those awaiting it first, then the newest."""
    rows = store.connection().execute(f"{_SELECT} WHERE branch_code = ? ORDER BY decision IS NOT NULL, id DESC",
                                      (branch_code,)).fetchall()
    return [_row(r) for r in rows]


# -- filing (the platform's API) ---------------------------------------------------------------------
def file_application(store: BankStore, clock: Clock, application: Application, customer: Customer
                     ) -> tuple[ApplicationReceipt, bool]:
    """File ``application`` of ``customer`` for its 申辦分行; the receipt, and whether it is new."""
    branch = customer.branch
    digest = application.digest()
    now = clock.now()
    suffix = application.cn_suffix
    with store.transaction() as conn:
        seen = conn.execute("SELECT digest, branch_code, received_at FROM applications WHERE application_id = ?",
                            (application.application_id,)).fetchone()
        if seen is not None:
            if seen[0] != digest:
                raise BankApiError(ErrorCode.BANK_API_ID_REUSED, f"application {application.application_id} had"
                                   " other content")
            return ApplicationReceipt(application.application_id, seen[1], branch.name, seen[2]), False
        if suffix.upper() in (c.cn_suffix.upper() for c in customer.certificates):
            raise BankApiError(ErrorCode.BANK_API_CN_TAKEN, f"{customer.id_number} has a certificate named {suffix}")
        if conn.execute("SELECT 1 FROM applications WHERE id_number = ? AND upper(cn_suffix) = upper(?)"
                        " AND decision IS NULL", (customer.id_number, suffix)).fetchone():
            raise BankApiError(ErrorCode.BANK_API_APPLICATION_PENDING, f"{customer.id_number} {suffix} awaits")
        conn.execute(
            "INSERT INTO applications(application_id, digest, branch_code, id_number, system, user_code, customer_name,"
            " cn_suffix, cn, carrier, submitted_at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (application.application_id, digest, branch.code, customer.id_number, customer.system.value,
             application.customer.user_code, application.customer.customer_name, suffix,
             f"{customer.holder_id}-00-{suffix}", application.carrier, application.submitted_at, now.isoformat()),
        )
        _audit(conn, now, "fxml-platform", "憑證申請收件", "OK",
               {"application": application.application_id, "customer": customer.id_number, "cn_suffix": suffix,
                "branch": branch.code}, system="platform-api")
    return ApplicationReceipt(application.application_id, branch.code, branch.name, now.isoformat()), True


def _audit(conn: sqlite3.Connection, at: datetime, actor: str, action: str, result: str, detail: dict[str, Any],
           system: str = SYSTEM) -> None:
    conn.execute("INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                 (at.isoformat(), system, actor, action, result, json.dumps(detail, ensure_ascii=False)))


# -- the branch's desk --------------------------------------------------------------------------------
class Office(Protocol):
    """What the desk needs of the back office (:class:`simulator.bank.branch.BranchOffice`)."""

    store: BankStore
    clock: Clock

    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...


class Officer(Protocol):
    """The officer signed in (:class:`simulator.bank.branch.SignedInOfficer`)."""

    @property
    def branch_code(self) -> str: ...

    @property
    def officer_code(self) -> str: ...

    @property
    def actor(self) -> str: ...


class ApplicationDesk:
    """憑證申請審核: the branch's applications, 核准 (the 授權碼, shown once) and 不核准."""

    def __init__(self, office: Office, officer_type: type[Officer], registrar: Registrar | None):
        self.office = office
        self.store = office.store
        self.clock = office.clock
        self.officer_type = officer_type
        self.registrar = registrar

    def routes(self, door: Any, prefix: str) -> list[BaseRoute]:
        one = prefix + "/applications/{application}"
        return [
            Route("/applications", door.page(self.list_page), methods=["GET"]),
            Route("/applications/{application:str}", door.page(self.one_page, back=f"{prefix}/applications"),
                  methods=["GET"]),
            Route("/applications/{application:str}/approve",
                  door.page(self.approve, back=one, title=DECISION_REFUSED), methods=["POST"]),
            Route("/applications/{application:str}/refuse",
                  door.page(self.refuse, back=one, title=DECISION_REFUSED), methods=["POST"]),
        ]

    def application(self, officer: Officer, application: str) -> ApplicationRow:
        """An application of the officer's branch; another branch's is answered as none at all."""
        number = ids.number(application)  # ASCII digits only
        found = None
        if number is not None:
            found = self.store.connection().execute(f"{_SELECT} WHERE id = ? AND branch_code = ?",
                                                    (number, officer.branch_code)).fetchone()
        if found is None:
            raise BankError(Code.APPLICATION_NOT_FOUND, "查無此憑證申請（本分行沒有這筆申請）。", 404)
        return _row(found)

    async def list_page(self, request: Request) -> Response:
        officer = principal(request, self.officer_type)
        return self.office.page(request, "branch_applications.html", officer=officer,
                                applications=applications_of(self.store, officer.branch_code))

    async def one_page(self, request: Request) -> Response:
        officer = principal(request, self.officer_type)
        row = self.application(officer, request.path_params["application"])
        return self.office.page(request, "branch_application.html", officer=officer, application=row,
                                customer=self.store.customer(row.id_number), decided_by=self._officer_name(row))

    def _officer_name(self, row: ApplicationRow) -> str:
        if row.officer_code is None:
            return ""
        found = self.store.officer(row.branch_code, row.officer_code)
        return f"{found.name}（{found.officer_code}）" if found else row.officer_code

    async def approve(self, request: Request) -> Response:
        officer = principal(request, self.officer_type)
        await form(request, max_fields=10)
        try:
            row = self.application(officer, request.path_params["application"])
            done = await run_in_threadpool(self._approve, officer, row)
        except BankError as exc:
            self.store.audit(self.clock.now(), SYSTEM, officer.actor, "憑證申請核准", exc.code,
                             request.path_params["application"][:20])
            raise
        return self.office.page(request, "branch_application_approved.html", officer=officer, **done)

    def _approve(self, officer: Officer, row: ApplicationRow) -> dict[str, Any]:
        """核准: the CA registers the name and issues the 授權碼; the bank records the decision and binds the
        name to the customer, in one transaction (a code of an approval that did not commit is never shown)."""
        if row.decision is not None:
            raise self._decided(row)
        customer = self.store.customer(row.id_number)
        if self.registrar is None or customer is None:
            raise ca_unavailable()
        try:
            self.registrar.register_holder(customer.holder_id, customer.name, row.cn_suffix)
        except CaError as exc:
            if exc.code == CaCode.HOLDER_CONFLICT:
                raise BankError(Code.APPLICATION_HOLDER_CONFLICT, "憑證中心登記的用戶資料與本行客戶資料不符，"
                                "請洽資訊處確認後再核准。", 409) from exc
            if exc.code != CaCode.HOLDER_EXISTS:
                raise ca_unavailable(exc) from exc
        try:
            code, grant = self.registrar.authorize(customer.holder_id, row.cn_suffix)
        except CaError as exc:
            raise ca_unavailable(exc) from exc
        now = self.clock.now()
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE applications SET decision = ?, decided_at = ?, officer_code = ?, code_expires_at = ?"
                " WHERE id = ? AND decision IS NULL",
                (APPROVED, now.isoformat(), officer.officer_code, grant.expires_at.isoformat(), row.id)).rowcount
            if changed != 1:  # another officer decided meanwhile: this code is never shown, and expires unused
                raise self._decided(row)
            named = Certificate(cn_suffix=row.cn_suffix, carrier=Carrier(row.carrier))
            self.store.add_certificate(conn, row.id_number, named)
            _audit(conn, now, officer.actor, "憑證申請核准", "OK",
                   {"application": row.application_id, "customer": row.id_number, "cn": grant.cn,
                    "code_expires_at": grant.expires_at.isoformat()})
        return {"application": self.application(officer, str(row.id)), "customer": customer, "code": code,
                "cn": grant.cn, "expires": taiwan_text(grant.expires_at.astimezone(TAIWAN))}

    async def refuse(self, request: Request) -> Response:
        officer = principal(request, self.officer_type)
        reason = texts(await form(request, max_fields=10)).get("reason", "").strip()
        try:
            row = self.application(officer, request.path_params["application"])
            await run_in_threadpool(self._refuse, officer, row, reason)
        except BankError as exc:
            self.store.audit(self.clock.now(), SYSTEM, officer.actor, "憑證申請不核准", exc.code,
                             request.path_params["application"][:20])
            raise
        return RedirectResponse(f"/branch/applications/{row.id}", status_code=303)

    def _refuse(self, officer: Officer, row: ApplicationRow, reason: str) -> None:
        if row.decision is not None:
            raise self._decided(row)
        if not reason or len(reason) > _MAX_REASON:
            raise BankError(Code.APPLICATION_REASON, f"請輸入不核准的原因（{_MAX_REASON} 字以內），以便告知客戶。", 400)
        now = self.clock.now()
        with self.store.transaction() as conn:
            changed = conn.execute(
                "UPDATE applications SET decision = ?, decided_at = ?, officer_code = ?, reason = ?"
                " WHERE id = ? AND decision IS NULL", (REFUSED, now.isoformat(), officer.officer_code, reason,
                                                        row.id)).rowcount
            if changed != 1:
                raise self._decided(row)
            _audit(conn, now, officer.actor, "憑證申請不核准", "OK",
                   {"application": row.application_id, "customer": row.id_number, "reason": reason})

    def _decided(self, row: ApplicationRow) -> BankError:
        current = self.store.connection().execute(f"{_SELECT} WHERE id = ?", (row.id,)).fetchone()
        status = _row(current).status if current else row.status
        return BankError(Code.APPLICATION_DECIDED, f"此筆憑證申請已審核（{status}），不得重複審核。", 409)


__all__ = ["APPROVED", "REFUSED", "ApplicationDesk", "ApplicationRow", "Registrar", "applications_of",
           "file_application"]
