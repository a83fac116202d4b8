"""The platform's 憑證申請: a customer asks for a certificate, for the approval of the 申辦分行.

The manual shows no screen of it (its procedure is the renewal's); the pages follow the style of
the ones it shows: the frame, the stages numbered as 憑證更新's, the 查詢日期/查詢時間 line, the
notes under the table and [確定] at the bottom::

    1 填寫申請資料 → 2 確認申請資料 → 3 申請送出結果

- ``GET /apply``: the data the CA will need: who applies (the ticket's customer and holder id),
  the certificate's name (its Common Name's last part, the CN suffix; the current year is
  proposed) and the carrier (憑證儲存媒體); below, the applications the customer sent;
- ``POST /apply``: the form checked (the CA's rule for a name: 1 to 16 letters or digits), then
  the data to confirm, with the application's id (made here, so a second click on [確定] sends
  the same application again and gets the same receipt);
- ``POST /apply/confirm``: the application sent to the bank (the platform → bank contract,
  :class:`fxml.platform.bankapi.Application`), which files it for the customer's 申辦分行 or
  refuses it (a name the customer has; one that awaits the branch): the bank's message, nothing
  kept; on its receipt the platform keeps its copy (``applications``) and shows
  ``GET /apply/{application_id}``: 憑證申請已送出, the branch, and what comes next (the branch's
  approval gives the customer a 授權碼 for 憑證下載, fxml/platform/download.py).

The customer's data go to the bank only; the CA hears of the application when the branch approves
it (the bank is the registration authority).
"""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.clock import Clock
from fxml.display import roc_date, time_text
from fxml.errors import CodedError
from fxml.platform.bankapi import CARRIERS, CN_SUFFIX, Application, BankApiError, FaxCustomer
from fxml.platform.pages import PlatformPages
from fxml.platform.store import PlatformStore
from fxml.platform.tickets import System, Ticket
from fxml.web import ids, labels
from fxml.web.handlers import form, principal, texts

if TYPE_CHECKING:
    from fxml.platform.banklink import BankLink

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS applications (
    application_id TEXT PRIMARY KEY,
    holder_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    cn_suffix TEXT NOT NULL,
    cn TEXT NOT NULL,
    carrier TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    branch_code TEXT NOT NULL,
    branch_name TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS applications_by_holder ON applications(holder_id);
"""
#: The id an application gets at 確認申請資料 (the bank's API takes 8 to 64 letters, digits, - and _).
_APPLICATION_ID: Final = re.compile(r"A[0-9a-f]{32}", re.ASCII)


@enum.unique
class ApplyErrorCode(enum.StrEnum):
    APPLY_CN_FORMAT = "APPLY_CN_FORMAT"
    APPLY_CARRIER = "APPLY_CARRIER"
    APPLY_UNKNOWN = "APPLY_UNKNOWN"
    APPLY_UNAVAILABLE = "APPLY_UNAVAILABLE"
    APPLY_FAILED = "APPLY_FAILED"


class ApplyError(CodedError):
    """A refusal of 憑證申請's (the bank's own refusals are passed on with their code and message)."""

    STATUS: ClassVar[Mapping[Any, int]] = {ApplyErrorCode.APPLY_UNKNOWN: 404, ApplyErrorCode.APPLY_UNAVAILABLE: 503,
                                            ApplyErrorCode.APPLY_FAILED: 502}
    MESSAGES: ClassVar[Mapping[Any, str]] = {
        ApplyErrorCode.APPLY_CN_FORMAT: "憑證名稱須為 1 至 16 位英文字母或數字（例如申請的年度 2023）。",
        ApplyErrorCode.APPLY_CARRIER: "請選擇憑證儲存媒體：憑證晶片卡(大卡)或憑證晶片卡(小卡)。",
        ApplyErrorCode.APPLY_UNKNOWN: "查無此筆憑證申請，請由「憑證申請」重新辦理。",
        ApplyErrorCode.APPLY_UNAVAILABLE: "憑證管理平台未設定銀行位址，無法送出憑證申請，請洽系統管理員。",
        ApplyErrorCode.APPLY_FAILED: "憑證申請未能送達銀行（{reason}），請稍後再點選[確定]。",
    }
    default_status = 409


@dataclass(frozen=True)
class SentApplication:
    """The platform's copy of an application the bank received."""

    application_id: str
    cn: str
    carrier: str
    submitted_at: datetime
    branch_code: str
    branch_name: str
    received_at: datetime

    @property
    def received_text(self) -> str:
        return f"{roc_date(self.received_at)} {time_text(self.received_at)}"

    @property
    def branch(self) -> str:
        return f"{self.branch_code} {self.branch_name}"


_COLUMNS: Final = "application_id, cn, carrier, submitted_at, branch_code, branch_name, received_at"


def _sent(row: tuple[Any, ...]) -> SentApplication:
    return SentApplication(row[0], row[1], row[2], datetime.fromisoformat(row[3]), row[4], row[5],
                           datetime.fromisoformat(row[6]))


def id_label(customer: Ticket) -> str:
    """身分證字號 (個人網路銀行) or 統一編號 (a company), as the bank's screens name the customer's number."""
    return labels.NATIONAL_ID if customer.system is System.PERSONAL else labels.BUSINESS_ID


class Applications:
    """憑證申請's pages, behind the platform's door."""

    def __init__(self, pages: PlatformPages, store: PlatformStore, clock: Clock, bank: BankLink | None):
        self.pages = pages
        self.store = store
        self.clock = clock
        self.bank = bank
        self.store.connection().executescript(_SCHEMA)

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        apply: dict[str, Any] = {"back": "/apply", "title": labels.MENU_APPLY}
        return [
            Route("/apply", door.page(self.form_page, back="/", title=labels.MENU_APPLY), methods=["GET"]),
            Route("/apply", door.page(self.check, **apply), methods=["POST"]),
            Route("/apply/confirm", door.page(self.send, **apply), methods=["POST"]),
            Route("/apply/{application_id:str}", door.page(self.sent_page, **apply), methods=["GET"]),
        ]

    def _render(self, request: Request, name: str, **context: Any) -> Response:
        customer = principal(request, Ticket)
        return self.pages.render(request, name, stages=labels.APPLY_STAGES, id_label=id_label(customer),
                                 **context)

    def sent(self, customer: Ticket) -> list[SentApplication]:
        rows = self.store.connection().execute(
            f"SELECT {_COLUMNS} FROM applications WHERE holder_id = ? ORDER BY julianday(submitted_at) DESC",  # noqa: S608
            (customer.holder_id,)).fetchall()
        return [_sent(r) for r in rows]

    # -- 1 填寫申請資料 ---------------------------------------------------------------------------------
    async def form_page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        return self._render(request, "apply_form.html", stage=1, suffix=str(self.clock.now_taiwan().year),
                            carrier=CARRIERS[0], carriers=CARRIERS, sent=self.sent(customer))

    def _fields(self, fields: dict[str, str]) -> tuple[str, str]:
        suffix, carrier = fields.get("cn_suffix", "").strip(), fields.get("carrier", "")
        if not CN_SUFFIX.fullmatch(suffix):
            raise ApplyError(ApplyErrorCode.APPLY_CN_FORMAT, status=400)
        if carrier not in CARRIERS:
            raise ApplyError(ApplyErrorCode.APPLY_CARRIER, status=400)
        return suffix, carrier

    # -- 2 確認申請資料 ---------------------------------------------------------------------------------
    async def check(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        suffix, carrier = self._fields(texts(await form(request, max_fields=10)))
        return self._render(request, "apply_confirm.html", stage=2, suffix=suffix, carrier=carrier,
                            cn=f"{customer.holder_id}-00-{suffix}", application_id=f"A{uuid.uuid4().hex}")

    # -- 3 申請送出結果 ---------------------------------------------------------------------------------
    async def send(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        fields = texts(await form(request, max_fields=10))
        suffix, carrier = self._fields(fields)
        application_id = ids.matching(fields.get("application_id", ""), _APPLICATION_ID)
        if application_id is None:
            raise ApplyError(ApplyErrorCode.APPLY_UNKNOWN)
        if self.bank is None:
            raise ApplyError(ApplyErrorCode.APPLY_UNAVAILABLE)
        now = self.clock.now()
        application = Application(
            application_id=application_id, submitted_at=now.isoformat(),
            customer=FaxCustomer(system=str(customer.system), customer_id=customer.customer_id,
                                 customer_name=customer.customer_name, user_code=customer.user_code,
                                 holder_id=customer.holder_id),
            cn_suffix=suffix, carrier=carrier)
        try:
            receipt = await run_in_threadpool(self.bank.client.apply, application)
        except BankApiError as exc:
            self.store.audit(self.clock.now(), customer.actor, "憑證申請", str(exc.code), suffix)
            if exc.retryable:
                raise ApplyError(ApplyErrorCode.APPLY_FAILED, details={"reason": exc.message}) from exc
            raise ApplyError(exc.code, exc.message, exc.status or 409) from exc
        with self.store.transaction() as conn:
            conn.execute(
                f"INSERT OR IGNORE INTO applications(holder_id, customer_id, cn_suffix, {_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (customer.holder_id, customer.customer_id, suffix, application_id, f"{customer.holder_id}-00-{suffix}",
                 carrier, now.isoformat(), receipt.branch_code, receipt.branch_name, receipt.received_at))
        self.store.audit(self.clock.now(), customer.actor, "憑證申請", "OK", f"{application_id} {suffix}")
        return RedirectResponse(f"/apply/{application_id}", status_code=303)

    async def sent_page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        wanted = request.path_params["application_id"]
        found = next((a for a in self.sent(customer) if a.application_id == wanted), None)
        if found is None:  # none, or another customer's: the same answer
            raise ApplyError(ApplyErrorCode.APPLY_UNKNOWN)
        return self._render(request, "apply_sent.html", stage=3, application=found,
                            next_step=labels.APPLY_NEXT.format(branch=found.branch))


__all__ = ["Applications", "ApplyError", "ApplyErrorCode", "id_label"]
