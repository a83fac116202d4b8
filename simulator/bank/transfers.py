"""臺幣轉帳 in each of the three systems, signed on the customer's card.

1. ``GET {system}/transfer``: the form (轉出帳號, 轉入銀行代碼, 轉入帳號, 轉帳金額,
   附言; for a company with a shared certificate, 付款戶: the company itself or
   one of its relationship customers).
2. ``POST {system}/transfer``: the bank checks the form and keeps the transfer,
   pending, in the customer's session: a transfer id and the exact bytes to
   be signed (:func:`signed_bytes`, canonical JSON). Nothing is written to the
   bank's records yet.
3. ``GET {system}/transfer/sign``: the transfer and the 憑證載具密碼; the page
   (static/transfer.js) gives the PIN to the local card agent only, which
   signs the bytes on the card (PKCS#1 v1.5, SHA-256) and returns the
   signature with the signing certificate.
4. ``POST {system}/transfer/sign`` (JSON, CSRF header): the bank verifies, in
   this order, that the transfer is the pending one (not done before: a
   replay), the certificate's chain to the CA's root and its validity, the
   signature over the pending bytes, the certificate's status by OCSP at the
   CA, and that the certificate is bound to the customer (and to the
   relationship customer who pays) — :mod:`simulator.bank.binding`. Then the
   transfer is done: one row, one audit line. Any refusal changes nothing in
   the bank's records but one audit line, and leaves the transfer pending.
5. ``GET {system}/transfer/{id}``: 轉帳成功, with the certificate that signed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import sqlite3
import unicodedata
from datetime import datetime, timedelta
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fxml.clock import TAIWAN
from fxml.display import roc_date, taiwan_text, time_text
from fxml.errors import CodedError
from fxml.web import ids
from fxml.web.body import BadJsonError, parse_json
from fxml.web.handlers import csrf_header, form, principal, session, texts
from fxml.web.sessions import Session
from simulator.bank import binding
from simulator.bank.auth import BankError, LoggedIn
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.certificates import CertificateChecks, ca_unavailable, load_certificate, serial_of
from simulator.bank.customers import Company, Customer
from simulator.bank.pages import BankPages
from simulator.bank.systems import BY_SYSTEM, SystemPage

PENDING_KEY: Final = "transfer_pending"
SIGNED_FORMAT: Final = "fxmlsim-transfer"
#: How long a filled-in transfer waits for its signature.
PENDING_MINUTES: Final = 10
MAX_AMOUNT: Final = 2_000_000
MEMO_MAX: Final = 20
_TO_BANK: Final = re.compile(r"\d{3}", re.ASCII)
_TO_ACCOUNT: Final = re.compile(r"\d{10,16}", re.ASCII)
_AMOUNT: Final = re.compile(r"\d{1,3}(,\d{3})*|\d+", re.ASCII)
_TRANSFER_ID: Final = re.compile(r"T\d{8}[0-9A-F]{12}", re.ASCII)
BANK_CODE: Final = "006"


def signed_bytes(data: dict[str, Any]) -> bytes:
    """The exact bytes the card signs: canonical JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_form(customer: Customer, fields: dict[str, str]) -> dict[str, Any]:
    """The transfer the form describes, or the refusal that says which field is wrong."""
    labels = {"from_account": "轉出帳號", "to_bank": "轉入銀行代碼", "to_account": "轉入帳號", "amount": "轉帳金額"}
    values = {name: fields.get(name, "").strip() for name in (*labels, "memo", "payer")}
    for name, label in labels.items():
        if not values[name]:
            raise BankError(Code.MISSING_FIELD, f"請輸入{label}。")
    if values["from_account"] not in {a.number for a in customer.accounts}:
        raise BankError(Code.TRANSFER_FROM_ACCOUNT, "轉出帳號不是貴戶的帳戶，請由清單中選擇。")
    if not _TO_BANK.fullmatch(values["to_bank"]):
        raise BankError(Code.TRANSFER_TO_BANK, "轉入銀行代碼須為 3 位數字（合作金庫銀行為 006）。")
    if not _TO_ACCOUNT.fullmatch(values["to_account"]):
        raise BankError(Code.TRANSFER_TO_ACCOUNT, "轉入帳號須為 10 至 16 位數字。")
    if values["to_bank"] == BANK_CODE and values["to_account"] == values["from_account"]:
        raise BankError(Code.TRANSFER_SAME_ACCOUNT, "轉入帳號不可與轉出帳號相同。")
    amount = int(values["amount"].replace(",", "")) if _AMOUNT.fullmatch(values["amount"]) else 0
    if not 1 <= amount <= MAX_AMOUNT:
        raise BankError(Code.TRANSFER_AMOUNT, f"轉帳金額須為 1 至 {MAX_AMOUNT:,} 元的整數。")
    memo = values["memo"]
    if len(memo) > MEMO_MAX or any(unicodedata.category(c) in ("Cc", "Cf") for c in memo):
        raise BankError(Code.TRANSFER_MEMO, f"附言最多 {MEMO_MAX} 個字，且不可含控制字元。")
    payer = values["payer"]
    if payer:
        related = customer.relationship_customers if isinstance(customer, Company) else ()
        if payer not in {r.customer_code for r in related}:
            raise BankError(Code.TRANSFER_PAYER, "付款戶須為本公司或本公司的關係戶。")
    return {"from_account": values["from_account"], "to_bank": values["to_bank"], "to_account": values["to_account"],
            "amount": amount, "memo": memo, "payer": payer or None}


def payer_label(customer: Customer, payer: str | None) -> str:
    if payer is None:
        return f"{customer.name}（本公司）" if isinstance(customer, Company) else customer.name
    related = customer.relationship_customers if isinstance(customer, Company) else ()
    name = next((r.name for r in related if r.customer_code == payer), "")
    return f"{name}（關係戶，用戶代碼 {payer}）"


class Transfers:
    """The transfer pages of the three systems, behind each system's door (:mod:`simulator.bank.pages`)."""

    def __init__(self, pages: BankPages, checks: CertificateChecks | None, agent_url: str | None):
        self.pages = pages
        self.store = pages.store
        self.clock = pages.clock
        self.checks = checks
        self.agent_url = agent_url or ""

    def routes(self, page: SystemPage) -> list[BaseRoute]:
        door = self.pages.doors[page.system]
        return [
            Route("/transfer", door.page(self.form_page), methods=["GET"]),
            Route("/transfer", door.page(self.fill, back=f"{page.prefix}/transfer"), methods=["POST"]),
            Route("/transfer/sign", door.page(self.sign_page), methods=["GET"]),
            Route("/transfer/sign", door.json(self.signed), methods=["POST"]),
            Route("/transfer/{transfer_id:str}", door.page(self.result, back=f"{page.prefix}/menu"), methods=["GET"]),
        ]

    # -- pieces ---------------------------------------------------------------------------------------
    def _summary(self, who: LoggedIn, data: dict[str, Any]) -> list[tuple[str, str]]:
        rows = [("交易序號", data["transfer_id"])]
        if isinstance(who.customer, Company) and who.customer.shared_certificate:
            rows.append(("付款戶", payer_label(who.customer, data["payer"])))
        rows += [("轉出帳號", data["from_account"]), ("轉入銀行代碼", data["to_bank"]),
                 ("轉入帳號", data["to_account"]), ("轉帳金額", f"新臺幣 {data['amount']:,} 元"),
                 ("附言", data["memo"] or "（無）")]
        return rows

    # -- the form -------------------------------------------------------------------------------------
    async def form_page(self, request: Request) -> Response:
        who = principal(request, LoggedIn)
        return self.pages.render(request, BY_SYSTEM[who.system], "transfer_form.html", who=who, values={})

    async def fill(self, request: Request) -> Response:
        who = principal(request, LoggedIn)
        page = BY_SYSTEM[who.system]
        fields = texts(await form(request))
        try:
            transfer = check_form(who.customer, fields)
        except BankError as exc:
            return self.pages.render(request, page, "transfer_form.html", status=exc.status, who=who, error=exc,
                                     values=fields)
        now = self.clock.now()
        data = {
            "format": SIGNED_FORMAT, "version": 1,
            "transfer_id": f"T{now.astimezone(TAIWAN).strftime('%Y%m%d')}{secrets.token_hex(6).upper()}",
            "bank": BANK_CODE, "system": page.system.value, "customer_id": who.customer.id_number,
            "user_code": who.user.user_code, **transfer, "currency": "TWD", "created_at": now.isoformat(),
        }
        session(request)[PENDING_KEY] = {"data": base64.b64encode(signed_bytes(data)).decode("ascii"),
                                         "created_at": now.isoformat()}
        return RedirectResponse(f"{page.prefix}/transfer/sign", status_code=303)

    async def sign_page(self, request: Request) -> Response:
        who = principal(request, LoggedIn)
        page = BY_SYSTEM[who.system]
        pending = session(request).get(PENDING_KEY)
        if not isinstance(pending, dict):
            return RedirectResponse(f"{page.prefix}/transfer", status_code=303)
        data = json.loads(base64.b64decode(pending["data"]))
        return self.pages.render(request, page, "transfer_sign.html", who=who, summary=self._summary(who, data),
                                 transfer_id=data["transfer_id"], to_sign=pending["data"], agent_url=self.agent_url)

    async def signed(self, request: Request) -> Response:
        """The signed transfer (JSON, CSRF header): checked, then done; every refusal audited."""
        who = principal(request, LoggedIn)
        page = BY_SYSTEM[who.system]
        transfer_id = "?"
        try:
            csrf_header(request)
            try:
                body = parse_json(await request.body() or b"{}")
            except BadJsonError:  # not JSON, or nested too deep to read
                body = None
            if not isinstance(body, dict):
                raise BankError(Code.SIGNATURE_MISSING, "請求內容須為已簽章的轉帳（JSON）。", 400)
            transfer_id = str(body.get("transfer_id", ""))[:40]
            done = await run_in_threadpool(self._execute, who, session(request), body)
        except CodedError as exc:
            self.store.audit(self.clock.now(), page.system.value, who.actor, "轉帳", exc.code, transfer_id)
            raise
        session(request).pop(PENDING_KEY)
        return JSONResponse({"transfer": {**done, "url": f"{page.prefix}/transfer/{done['transfer_id']}"}},
                            status_code=201)

    async def result(self, request: Request) -> Response:
        who = principal(request, LoggedIn)
        row = await run_in_threadpool(self._transfer, who,
                                      ids.matching(request.path_params["transfer_id"], _TRANSFER_ID))
        return self.pages.render(request, BY_SYSTEM[who.system], "transfer_done.html", who=who, **row)

    # -- the signed transfer --------------------------------------------------------------------------------
    def _execute(self, who: LoggedIn, session: Session, body: dict[str, Any]) -> dict[str, Any]:
        transfer_id = body.get("transfer_id")
        if not isinstance(transfer_id, str) or not _TRANSFER_ID.fullmatch(transfer_id):
            raise BankError(Code.TRANSFER_UNKNOWN, "查無此筆待簽章的轉帳，請重新填寫轉帳資料。", 404)
        if self.store.connection().execute("SELECT 1 FROM transfers WHERE transfer_id = ?",
                                           (transfer_id,)).fetchone():
            raise BankError(Code.TRANSFER_REPLAYED, "此筆轉帳已處理，不得重複送出。", 409)
        pending = session.get(PENDING_KEY)
        data_b64 = pending.get("data") if isinstance(pending, dict) else None
        data = json.loads(base64.b64decode(data_b64)) if isinstance(data_b64, str) else None
        if not isinstance(data, dict) or data.get("transfer_id") != transfer_id:
            raise BankError(Code.TRANSFER_UNKNOWN, "查無此筆待簽章的轉帳，請重新填寫轉帳資料。", 404)
        now = self.clock.now()
        if now - datetime.fromisoformat(str(pending["created_at"])) > timedelta(minutes=PENDING_MINUTES):
            raise BankError(Code.TRANSFER_EXPIRED,
                            f"此筆轉帳已逾 {PENDING_MINUTES} 分鐘未完成簽章，請重新填寫轉帳資料。", 409)
        signature_b64 = body.get("signature")
        try:
            if not isinstance(signature_b64, str) or not signature_b64:
                raise ValueError
            signature = base64.b64decode(signature_b64, validate=True)
        except (ValueError, binascii.Error):
            raise BankError(Code.SIGNATURE_MISSING, "缺少交易簽章，請以憑證載具簽章後再送出。", 400) from None
        cert = load_certificate(body.get("certificate"))
        checks = self.checks
        if checks is None:
            raise ca_unavailable()
        checks.check_chain(cert)
        checks.check_validity(cert, now)
        checks.check_signature(cert, signed_bytes(data), signature)
        checks.check_status(cert)
        record = checks.record(serial_of(cert))
        if record is None or record.certificate != cert:
            raise BankError(Code.CERT_UNKNOWN, "憑證中心查無此簽章憑證。", 422)
        bound = binding.check(self.store, who.customer, record, data.get("payer"))
        try:
            with self.store.transaction() as conn:
                conn.execute(
                    "INSERT INTO transfers(transfer_id, system, id_number, user_code, payer, from_account, to_bank,"
                    " to_account, amount, memo, signed_data, signature, serial, executed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (transfer_id, data["system"], who.customer.id_number, who.user.user_code,
                     data.get("payer") or who.customer.id_number, data["from_account"], data["to_bank"],
                     data["to_account"], data["amount"], data["memo"], data_b64, signature_b64, record.serial,
                     now.isoformat()),
                )
                conn.execute(
                    "INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                    (now.isoformat(), data["system"], who.actor, "轉帳", "OK",
                     f"{transfer_id} {data['amount']} {record.serial} ({bound.source})"),
                )
        except sqlite3.IntegrityError:
            raise BankError(Code.TRANSFER_REPLAYED, "此筆轉帳已處理，不得重複送出。", 409) from None
        return {"transfer_id": transfer_id, "serial": record.serial, "binding": bound.source}

    def _transfer(self, who: LoggedIn, transfer_id: str | None) -> dict[str, Any]:
        row = None if transfer_id is None else self.store.connection().execute(
            "SELECT signed_data, serial, executed_at FROM transfers WHERE transfer_id = ? AND id_number = ?",
            (transfer_id, who.customer.id_number)).fetchone()
        if row is None:
            raise BankError(Code.TRANSFER_UNKNOWN, "查無此筆轉帳。", 404)
        data = json.loads(base64.b64decode(row[0]))
        at = datetime.fromisoformat(row[2])
        record = self.checks.record(row[1]) if self.checks is not None else None
        return {"summary": self._summary(who, data), "serial": row[1], "executed_at": f"{roc_date(at)} {time_text(at)}",
                "certificate": {"cn": record.cn, "not_after": taiwan_text(record.not_after)} if record else None}
