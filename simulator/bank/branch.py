"""The branch back office (分行作業系統, ``/branch``): step 9 at the branch.

An officer (電金經辦 or EOI經辦, fixtures/bank/officers.json) logs in with the
branch's code, the officer's code and password (argon2, locked after three
wrong passwords like a customer, CSRF on every form, a session of its own),
and sees the inbox of that branch only: the proof sheets faxed by the
customers whose 申辦分行 it is, with the time each arrived. Opening a sheet
shows it beside what the CA says of the certificate now (serial, subject,
issuer, validity, status) and whether it is the customer's newest; then
**憑證展期建檔** binds the renewed certificate to the customer in the bank's
records (:mod:`simulator.bank.binding`). For a shared certificate (共用憑證)
the officer enters each relationship customer's 12-digit 用戶代碼 the customer
gave by phone. Every filing, and every refusal, is a line of the audit log.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.ca.client import CertificateRecord
from fxml.clock import TAIWAN
from fxml.display import roc_date, taiwan_text, time_text
from fxml.errors import CodedError
from fxml.platform.tickets import System
from fxml.web import ids, labels
from fxml.web.errors import error_page
from fxml.web.handlers import Door, form, principal, session, texts
from fxml.web.sessions import CookiePolicy, CsrfError, Session, SessionStore
from simulator.bank import binding
from simulator.bank.applications import ApplicationDesk, Registrar
from simulator.bank.auth import BankError, DeviceCookie, Logins, Verdict, device_id
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.certificates import CertificateChecks, ca_unavailable
from simulator.bank.customers import Company
from simulator.bank.officers import OFFICER_CODE, OfficerRole
from simulator.bank.store import STORE_FILE, BankStore, Realm

PREFIX: Final = "/branch"
TITLE: Final = "分行作業系統"
#: The heading of a refused 憑證展期建檔.
FILING_REFUSED: Final = "無法完成憑證展期建檔"
#: A certificate's status (the CA's words) that no 憑證展期建檔 accepts: the refusal's code and message.
_NOT_FILEABLE: Final = {
    "已廢止": (Code.CERT_REVOKED, "此憑證已廢止，不得辦理憑證展期建檔；請客戶至分行重新申請憑證。"),
    "暫禁": (Code.CERT_SUSPENDED, "此憑證已暫禁，不得辦理憑證展期建檔；請客戶先辦理解除暫禁。"),
    "已過期": (Code.CERT_EXPIRED, "此憑證已過期，不得辦理憑證展期建檔。"),
}
SYSTEM: Final = "branch"
OFFICER_KEY: Final = "officer"
_BRANCH_CODE: Final = re.compile(r"006\d{4}", re.ASCII)
_CUSTOMER_CODE: Final = re.compile(r"\d{12}", re.ASCII)
#: The sheet's rows the officer compares with the CA, in the sheet's order.
COMPARED: Final = ("簽章憑證序號", "主旨(使用者識別名稱)", "憑證發行者", "憑證生效日", "憑證到期日", "憑證狀態")


@dataclass(frozen=True)
class SignedInOfficer:
    branch_code: str
    branch_name: str
    officer_code: str
    name: str
    role: OfficerRole
    #: At login: the device cookie's token the browser keeps.
    device: str | None = field(default=None, compare=False, repr=False)

    @property
    def actor(self) -> str:
        return f"{self.branch_code}:{self.officer_code}"

    @property
    def branch_display(self) -> str:
        return f"{self.branch_code} {self.branch_name}"


@dataclass(frozen=True)
class FaxRow:
    id: int
    fax_id: str
    branch_code: str
    id_number: str
    system: str
    user_code: str
    customer_name: str
    serial: str
    sheet: dict[str, str]
    sent_at: datetime
    received_at: datetime
    filing_id: str | None

    @property
    def received_text(self) -> str:
        return f"{roc_date(self.received_at)} {time_text(self.received_at)}"


_FAX_COLUMNS: Final = ("f.id, f.fax_id, f.branch_code, f.id_number, f.system, f.user_code, f.customer_name, f.serial,"
                       " f.sheet, f.sent_at, f.received_at, g.filing_id")
_FAX_SELECT: Final = f"SELECT {_FAX_COLUMNS} FROM faxes f LEFT JOIN filings g ON g.serial = f.serial"  # noqa: S608


def _fax(row: tuple[Any, ...]) -> FaxRow:
    return FaxRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]),
                  datetime.fromisoformat(row[9]), datetime.fromisoformat(row[10]), row[11])


class OfficerLogins:
    """Officers' logins: the customers' rules and the same lockout (:meth:`Logins.attempt`: per code as
    typed, per client, argon2 for a known code or not, one answer for every wrong guess)."""

    def __init__(self, logins: Logins):
        self.logins = logins
        self.store = logins.store

    def login(self, branch_code: str, officer_code: str, password: str, device: str | None = None
              ) -> SignedInOfficer:
        """The officer, or a :class:`BankError` (recorded in the audit log); ``device`` is the token of
        the browser's device cookie, if it sent one."""
        now = self.logins.clock.now()
        try:
            return self._login(branch_code.strip(), officer_code.strip(), password, device, now)
        except BankError as exc:
            self.store.audit(now, SYSTEM, f"{branch_code}:{officer_code}"[:80], "分行經辦登入", exc.code)
            raise

    def _login(self, branch_code: str, officer_code: str, password: str, device: str | None, now: datetime
               ) -> SignedInOfficer:
        for value, label in ((branch_code, "分行代號"), (officer_code, "員工代號"), (password, "密碼")):
            if not value:
                raise BankError(Code.MISSING_FIELD, f"請輸入{label}。")
        if not _BRANCH_CODE.fullmatch(branch_code):
            raise BankError(Code.BAD_BRANCH_CODE, "分行代號須為 7 位數字（006 開頭）。")
        if not OFFICER_CODE.fullmatch(officer_code):
            raise BankError(Code.BAD_OFFICER_CODE, "員工代號須為 6 至 16 位英文字母或數字。")
        row = self.store.officer(branch_code, officer_code)
        attempt = self.logins.attempt(Realm.OFFICER, branch_code, officer_code, password,
                                      row.password_hash if row else None, device_id(device), now)
        if attempt.verdict is Verdict.LOCKED:
            raise self._locked()
        if attempt.verdict is Verdict.WRONG:
            raise BankError(Code.LOGIN_FAILED,
                            f"員工代號或密碼錯誤；密碼連續錯誤 {self.logins.lock_after} 次將暫停使用。", 401)
        assert row is not None
        token = self.logins.succeeded(attempt, now, row.password_hash, password, device)
        self.store.audit(now, SYSTEM, f"{row.branch_code}:{row.officer_code}", "分行經辦登入", "OK")
        return SignedInOfficer(row.branch_code, row.branch_name, row.officer_code, row.name, OfficerRole(row.role),
                               device=token)

    def _locked(self) -> BankError:
        return BankError(Code.USER_LOCKED, f"密碼連續錯誤 {self.logins.lock_after} 次，員工代號已暫停使用，"
                         "請洽資訊處辦理解除。", 403)


def check_codes(customer: Company, given: list[str], others: Mapping[str, Company] | None = None
                ) -> tuple[str, ...] | None:
    """The relationship customers' 用戶代碼 the officer entered, checked; None for a company
    without a shared certificate (which must be given none). ``others`` maps the codes of other
    companies' relationship customers to their company, to say so."""
    boxes = [(index, code.strip()) for index, code in enumerate(given, start=1)]
    entered = [code for _, code in boxes if code]
    if not customer.shared_certificate:
        if entered:
            raise BankError(Code.REL_CODE_NOT_SHARED, "此客戶未申辦共用憑證，不需輸入關係戶之用戶代碼。")
        return None
    if not entered:
        raise BankError(Code.REL_CODE_REQUIRED, "此客戶申辦共用憑證，請輸入關係戶之用戶代碼(12位數)。")
    mine = {r.customer_code: r for r in customer.relationship_customers}
    seen: set[str] = set()
    for index, code in ((i, c) for i, c in boxes if c):  # numbered as the page numbers its boxes
        if not _CUSTOMER_CODE.fullmatch(code):
            if code.isascii() and code.isdigit():
                what = f"為 {len(code)} 碼"
            elif all("0" <= c <= "9" or "\uff10" <= c <= "\uff19" for c in code):  # full-width 0-9
                what = "含全形數字，請以半形數字輸入"
            else:
                what = "含數字以外的字元"
            raise BankError(Code.REL_CODE_FORMAT,
                            f"第 {index} 個關係戶之用戶代碼須為 12 位數字（輸入的代碼{what}）。")
        if code in seen:
            raise BankError(Code.REL_CODE_DUPLICATE, f"關係戶之用戶代碼 {code} 重複輸入，每個關係戶只須輸入一次。")
        seen.add(code)
        other = (others or {}).get(code)
        if code not in mine and other is not None:
            raise BankError(Code.REL_CODE_OTHER_COMPANY,
                            f"用戶代碼 {code} 是其他公司（{other.business_id}）的關係戶，"
                            f"不是本公司（{customer.business_id} {customer.name}）的關係戶。")
        if code not in mine:
            raise BankError(Code.REL_CODE_UNKNOWN,
                            f"用戶代碼 {code} 不是本公司（{customer.business_id} {customer.name}）的關係戶。")
    return tuple(entered)


class BranchOffice:
    """The pages of ``/branch``, behind the back office's door (its principal: the officer)."""

    def __init__(self, store: BankStore, logins: Logins, checks: CertificateChecks | None, state_dir: Path,
                 templates: Any, registrar: Registrar | None = None):
        self.store = store
        self.logins = OfficerLogins(logins)
        self.clock = logins.clock
        self.checks = checks
        self.templates = templates
        policy = CookiePolicy("bank_branch_session", path=PREFIX)
        self.sessions = SessionStore(state_dir / STORE_FILE, policy, clock=lambda: self.clock.now().timestamp())
        self.device = DeviceCookie.beside(policy, "bank_branch_device")
        self.door: Door[SignedInOfficer] = Door(identify=self._officer, stranger=self._stranger,
                                                refuse=self._refusal, sessions=self.sessions,
                                                login_url=f"{PREFIX}/login")
        #: 憑證申請審核 (simulator/bank/applications.py): the branch's approvals of the platform's applications.
        self.applications = ApplicationDesk(self, SignedInOfficer, registrar)

    def close(self) -> None:
        self.sessions.close()

    def routes(self) -> list[BaseRoute]:
        door, inbox = self.door, f"{PREFIX}/inbox"
        return [
            Route("/", door.page(self.root, anyone=True), methods=["GET"]),
            Route("/login", door.page(self.login_page, anyone=True), methods=["GET"]),
            Route("/login", door.page(self.login, anyone=True), methods=["POST"]),
            Route("/logout", door.page(self.logout, back=inbox), methods=["POST"]),
            Route("/inbox", door.page(self.inbox_page), methods=["GET"]),
            Route("/fax/{fax:str}.pdf", door.page(self.fax_pdf, back=inbox), methods=["GET"]),
            Route("/fax/{fax:str}", door.page(self.fax_page, back=inbox), methods=["GET"]),
            Route("/fax/{fax:str}/file", door.page(self.file, back=PREFIX + "/fax/{fax}", title=FILING_REFUSED),
                  methods=["POST"]),
            *self.applications.routes(door, PREFIX),
        ]

    # -- pieces ---------------------------------------------------------------------------------------
    def page(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """A page of the back office (its frame, its CSRF token), for the desks beside the inbox."""
        return self._render(request, name, status, **context)

    def _render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        page: Response = self.templates.TemplateResponse(
            request, name, {"title": TITLE, "prefix": PREFIX, "csrf_token": session(request).csrf_token, **context},
            status_code=status,
        )
        return page

    def _refusal(self, request: Request, error: CodedError, *, back: str | None, title: str | None) -> Response:
        """The refusal's page: what happened as its heading (``title``, else 尚未登入 or the back
        office's name), the message the officer reads, the code only in small print."""
        heading = title or ("尚未登入" if error.code == Code.NOT_LOGGED_IN else TITLE)
        return error_page(self.templates, request, error, title=heading, system=TITLE, back_url=back,
                          back_label=labels.BACK)

    def _officer(self, request: Request, found: Session | None) -> SignedInOfficer | None:
        data = found.get(OFFICER_KEY) if found is not None else None
        if not isinstance(data, dict):
            return None
        # A session stands until logout or idle timeout: a lock that others' guesses set (on the clients
        # without this officer's device) says nothing of the officer who signed in (docs/bank.md).
        row = self.store.officer(str(data.get("branch_code")), str(data.get("officer_code")))
        if row is None:
            return None
        return SignedInOfficer(row.branch_code, row.branch_name, row.officer_code, row.name, OfficerRole(row.role))

    def _stranger(self, request: Request) -> BankError:
        """A page for signed-in officers only; anyone else is refused (nothing of a branch is shown), and audited."""
        error = BankError(Code.NOT_LOGGED_IN, "請先以分行經辦的員工代號登入分行作業系統。", 401)
        self.store.audit(self.clock.now(), SYSTEM, "?", f"{request.method} {request.url.path}"[:80], error.code)
        return error

    def fax(self, officer: SignedInOfficer, fax_id: str) -> FaxRow:
        """A fax of the officer's branch; another branch's is answered as none at all."""
        found = None
        number = ids.number(fax_id)  # ASCII digits only: a superscript or full-width digits name no fax
        if number is not None:
            found = self.store.connection().execute(f"{_FAX_SELECT} WHERE f.id = ? AND f.branch_code = ?",
                                                    (number, officer.branch_code)).fetchone()
        if found is None:
            raise BankError(Code.FAX_NOT_FOUND, "查無此傳真（本分行的收件匣中沒有這份憑證證明單）。", 404)
        return _fax(found)

    def inbox(self, branch_code: str) -> list[FaxRow]:
        rows = self.store.connection().execute(f"{_FAX_SELECT} WHERE f.branch_code = ? ORDER BY f.id DESC",
                                               (branch_code,)).fetchall()
        return [_fax(r) for r in rows]

    # -- login ----------------------------------------------------------------------------------------
    async def root(self, request: Request) -> Response:
        target = "inbox" if request.state.principal else "login"
        return RedirectResponse(f"{PREFIX}/{target}", status_code=303)

    async def login_page(self, request: Request) -> Response:
        return self._render(request, "branch_login.html")

    async def login(self, request: Request) -> Response:
        try:
            fields = texts(await form(request, max_fields=10))
        except CsrfError as exc:
            return self._render(request, "branch_login.html", status=403, error=exc)
        branch_code, officer_code = fields.get("branch_code", ""), fields.get("officer_code", "")
        try:
            officer = await run_in_threadpool(self.logins.login, branch_code, officer_code, fields.get("password", ""),
                                              self.device.token(request))
        except BankError as exc:
            return self._render(request, "branch_login.html", status=exc.status, error=exc,
                                branch_code=branch_code, officer_code=officer_code)
        self.door.rotate(request)[OFFICER_KEY] = {"branch_code": officer.branch_code,
                                                  "officer_code": officer.officer_code}
        response = RedirectResponse(f"{PREFIX}/inbox", status_code=303)
        if officer.device is not None:
            self.device.set(response, officer.device)
        return response

    async def logout(self, request: Request) -> Response:
        await form(request, max_fields=10)
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        self.door.end(request, response)
        return response

    # -- the inbox and a sheet --------------------------------------------------------------------------
    async def inbox_page(self, request: Request) -> Response:
        officer = principal(request, SignedInOfficer)
        return self._render(request, "branch_inbox.html", officer=officer, faxes=self.inbox(officer.branch_code))

    async def fax_page(self, request: Request) -> Response:
        officer = principal(request, SignedInOfficer)
        fax = self.fax(officer, request.path_params["fax"])
        facts = await run_in_threadpool(self._facts, fax)
        return self._render(request, "branch_fax.html", officer=officer, fax=fax, **facts)

    async def fax_pdf(self, request: Request) -> Response:
        fax = self.fax(principal(request, SignedInOfficer), request.path_params["fax"])
        pdf = self.store.connection().execute("SELECT pdf FROM faxes WHERE id = ?", (fax.id,)).fetchone()[0]
        return Response(bytes(pdf), media_type="application/pdf",
                        headers={"content-disposition": f'inline; filename="fax-{fax.id}-{fax.serial}.pdf"'})

    def _facts(self, fax: FaxRow) -> dict[str, Any]:
        """What the CA says of the sheet's certificate now, beside the sheet."""
        customer = self.store.customer(fax.id_number)
        record = self.checks.record(fax.serial) if self.checks is not None else None
        shown = _ca_values(record) if record else {}
        rows = [(label, fax.sheet.get(label, ""), shown.get(label, "（憑證中心查無此憑證）" if record is None else ""),
                 fax.sheet.get(label, "") == shown.get(label)) for label in COMPARED]
        newest = self._newest(record) if record is not None else None
        shared = isinstance(customer, Company) and customer.shared_certificate
        return {
            "customer": customer, "record": record, "rows": rows, "newest": newest,
            "is_newest": record is not None and newest is not None and newest.serial == record.serial,
            "shared": shared,
            "code_fields": max(len(customer.relationship_customers), 1) if isinstance(customer, Company) and shared
            else 0,
            "filing": self._filing(fax.serial),
        }

    def _newest(self, record: CertificateRecord) -> CertificateRecord | None:
        assert self.checks is not None
        same_cn = self.checks.of_cn(record.cn)
        return same_cn[-1] if same_cn else None

    def _filing(self, serial: str) -> dict[str, Any] | None:
        row = self.store.connection().execute(
            "SELECT filing_id, branch_code, officer_code, relationship_codes, filed_at FROM filings WHERE serial = ?",
            (serial,)).fetchone()
        if row is None:
            return None
        at = datetime.fromisoformat(row[4])
        return {"filing_id": row[0], "officer": f"{row[1]}:{row[2]}",
                "codes": json.loads(row[3]) if row[3] else None, "filed_at": f"{roc_date(at)} {time_text(at)}"}

    # -- 憑證展期建檔 -----------------------------------------------------------------------------------------
    async def file(self, request: Request) -> Response:
        officer = principal(request, SignedInOfficer)
        data = await form(request, max_fields=40)
        try:
            fax = self.fax(officer, request.path_params["fax"])
            codes = [v for v in data.getlist("relationship_code") if isinstance(v, str)]
            filing = await run_in_threadpool(self._file, officer, fax, codes)
        except BankError as exc:
            self.store.audit(self.clock.now(), SYSTEM, officer.actor, "憑證展期建檔", exc.code,
                             request.path_params["fax"][:20])
            raise
        return self._render(request, "branch_filed.html", officer=officer, fax=fax, **filing)

    def _file(self, officer: SignedInOfficer, fax: FaxRow, entered: list[str]) -> dict[str, Any]:
        """憑證展期建檔 of the sheet ``fax``: checked (:meth:`_fileable`), then one transaction."""
        customer, record, codes = self._fileable(fax, entered)
        return self._record_filing(officer, fax, customer, record, codes)

    def _fileable(self, fax: FaxRow, entered: list[str]
                  ) -> tuple[Company, CertificateRecord, tuple[str, ...] | None]:
        """The customer, the CA's record and the relationship codes of a filing of ``fax``, or the
        refusal that says why it cannot be filed."""
        customer = self.store.customer(fax.id_number)
        if customer is None or not isinstance(customer, Company) or customer.system is not System.EOI:
            raise BankError(Code.FILING_NOT_EOI, "個人網路銀行及企業網路銀行客戶於憑證更新完成（步驟7）時即生效，"
                            "無須憑證展期建檔。", 409)
        if self._filing(fax.serial) is not None:
            raise BankError(Code.FILING_DUPLICATE, f"憑證（序號 {fax.serial}）已完成憑證展期建檔，不得重複建檔。", 409)
        others = {r.customer_code: c for c in self.store.customers()
                  if isinstance(c, Company) and c.id_number != customer.id_number
                  for r in c.relationship_customers}
        codes = check_codes(customer, entered, others)
        return customer, self._renewed_record(fax, customer), codes

    def _renewed_record(self, fax: FaxRow, customer: Company) -> CertificateRecord:
        """The CA's record of the sheet's certificate: the customer's, as the sheet shows it, valid,
        a renewal, and the customer's newest; else the refusal that says why it cannot be filed."""
        if self.checks is None:
            raise ca_unavailable()
        record = self.checks.record(fax.serial)
        if record is None:
            raise BankError(Code.CERT_UNKNOWN, f"憑證中心查無此憑證（序號 {fax.serial}），"
                            "請客戶重新列印憑證證明單。", 422)
        if record.holder_id != customer.holder_id or record.cn not in customer.cns:
            raise BankError(Code.CERT_NOT_CUSTOMERS, f"此憑證（{record.cn}）不屬於客戶 {customer.business_id}。", 422)
        shown = _ca_values(record)
        for label in ("簽章憑證序號", "主旨(使用者識別名稱)"):
            if fax.sheet.get(label) != shown[label]:
                raise BankError(Code.SHEET_MISMATCH, f"傳真之憑證證明單與憑證中心資料不符（{label}），"
                                "請客戶重新列印憑證證明單。", 422)
        if record.status in _NOT_FILEABLE:
            code, message = _NOT_FILEABLE[record.status]
            raise BankError(code, message, 409)
        if record.renewed_from is None:
            raise BankError(Code.FILING_NOT_RENEWAL, "此憑證為申請（非更新）所得的憑證，已於申請時綁定，"
                            "無須憑證展期建檔。", 409)
        newest = self._newest(record)
        if record.renewed_by is not None or newest is None or newest.serial != record.serial:
            latest = f"（最新為 {newest.serial}）" if newest else ""
            raise BankError(Code.CERT_NOT_NEWEST, f"此證明單的憑證（序號 {record.serial}）不是客戶最新的憑證{latest}，"
                            "請客戶重新列印最新憑證的憑證證明單。", 409)
        return record

    def _record_filing(self, officer: SignedInOfficer, fax: FaxRow, customer: Company, record: CertificateRecord,
                       codes: tuple[str, ...] | None) -> dict[str, Any]:
        now = self.clock.now()
        filing_id = f"E{now.astimezone(TAIWAN).strftime('%Y%m%d')}{secrets.token_hex(4).upper()}"
        try:
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO filings(filing_id, fax, branch_code, officer_code, id_number, serial, old_serial,"
                    " relationship_codes, filed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (filing_id, fax.id, officer.branch_code, officer.officer_code, customer.id_number, record.serial,
                     record.renewed_from, json.dumps(list(codes)) if codes is not None else None, now.isoformat()),
                )
                if binding.row(conn, customer.id_number, record.serial) is None:
                    binding.move(conn, customer, record, binding.FILING, filing_id, codes, now)
                else:  # bound already (a renewal notice of another system): the filing names its relationship codes
                    conn.execute("UPDATE bindings SET relationship_codes = ?, ref = ?"
                                 " WHERE id_number = ? AND serial = ?",
                                 (json.dumps(list(codes)) if codes is not None else None, filing_id,
                                  customer.id_number, record.serial))
                conn.execute(
                    "INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    (now.isoformat(), SYSTEM, officer.actor, "憑證展期建檔", "OK",
                     json.dumps({"filing": filing_id, "fax": fax.fax_id, "customer": customer.id_number,
                                 "serial": record.serial, "old_serial": record.renewed_from,
                                 "relationship_codes": list(codes) if codes else None}, ensure_ascii=False)),
                )
        except sqlite3.IntegrityError:  # two officers at once: the other one filed it
            raise BankError(Code.FILING_DUPLICATE, f"憑證（序號 {fax.serial}）已完成憑證展期建檔，不得重複建檔。",
                            409) from None
        return {"filing_id": filing_id, "customer": customer, "record": record, "codes": codes,
                "filed_at": f"{roc_date(now)} {time_text(now)}"}


def _ca_values(record: CertificateRecord) -> dict[str, str]:
    return {
        "簽章憑證序號": record.serial,
        "主旨(使用者識別名稱)": record.subject,
        "憑證發行者": record.issuer,
        "憑證生效日": taiwan_text(record.not_before),
        "憑證到期日": taiwan_text(record.not_after),
        "憑證狀態": record.status,
    }
