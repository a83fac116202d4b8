"""Which certificate is bound to which customer, and how a renewed one comes to be.

The rules (docs/bank.md, *Certificates bound to customers*):

- **申請.** A certificate the CA issued by application (``renewed_from`` is
  null) for a customer's holder id and one of its registered Common Names is
  bound to that customer: applying happens at the branch, in person, and the
  branch binds what it applied for. The bank writes nothing for it until it
  is replaced.
- **The move.** A renewed certificate is bound by a *move*: for 個人網路銀行
  and 企業網路銀行, when the platform's renewal notice says the renewal
  reached DONE (step 7; the bank checks the lineage at the CA); for the EOI
  系統 only at the branch's 憑證展期建檔 (step 9). The move writes a row for
  the new certificate and marks the one it renews *superseded*.
- **Old certificates.** Until the move the old certificate stays bound (it
  is valid at the CA until its notAfter and still on the card); after it, the
  old certificate is refused for transfers (``CERT_SUPERSEDED``), although
  the CA still says 正常: one certificate per Common Name signs for a
  customer, the newest the bank has moved to.
- **Shared certificates (共用憑證).** An applied certificate serves every
  relationship customer (關係戶) of the company; a filing names the ones it
  serves by their 12-digit 用戶代碼 (a renewal notice keeps the old list).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from fxml.ca.client import CertificateRecord
from fxml.platform.tickets import System
from simulator.bank.auth import BankError
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.customers import Company, Customer
from simulator.bank.store import BankStore

#: How a certificate came to be bound.
APPLICATION = "申請"
RENEWAL = "憑證更新"
FILING = "憑證展期建檔"
#: A row written only to say that the certificate was replaced (its binding was never written).
REPLACED = "更新前憑證"


@dataclass(frozen=True)
class Bound:
    """A certificate bound to a customer: how, and (shared certificate) the relationship customers it serves."""

    serial: str
    source: str
    relationship_codes: tuple[str, ...] | None
    superseded_by: str | None = None


def all_codes(customer: Customer) -> tuple[str, ...] | None:
    if isinstance(customer, Company) and customer.shared_certificate:
        return tuple(r.customer_code for r in customer.relationship_customers)
    return None


def row(conn: sqlite3.Connection, id_number: str, serial: str) -> Bound | None:
    found = conn.execute(
        "SELECT serial, source, relationship_codes, superseded_by FROM bindings WHERE id_number = ? AND serial = ?",
        (id_number, serial),
    ).fetchone()
    if found is None:
        return None
    codes = tuple(json.loads(found[2])) if found[2] is not None else None
    return Bound(found[0], found[1], codes, found[3])


def bound(store: BankStore, customer: Customer, record: CertificateRecord) -> Bound | None:
    """How ``record`` is bound to ``customer`` now (None: not yet, or no longer — see :func:`check`)."""
    written = row(store.connection(), customer.id_number, record.serial)
    if written is not None:
        return None if written.superseded_by else written
    if record.renewed_from is None and record.holder_id == customer.holder_id and record.cn in customer.cns:
        return Bound(record.serial, APPLICATION, all_codes(customer))
    return None


def check(store: BankStore, customer: Customer, record: CertificateRecord, payer_code: str | None) -> Bound:
    """The binding that lets ``record`` sign for ``customer`` (and the relationship customer
    ``payer_code``), or the refusal that says why not."""
    if record.holder_id != customer.holder_id or record.cn not in customer.cns:
        raise BankError(Code.CERT_NOT_CUSTOMERS, f"此簽章憑證（{record.cn}）不屬於{customer.name}，"
                        "請以貴戶本人的憑證簽章。", 403)
    written = row(store.connection(), customer.id_number, record.serial)
    if written is not None and written.superseded_by:
        raise BankError(Code.CERT_SUPERSEDED, f"此憑證已更新（展期）為新憑證（序號 {written.superseded_by}），"
                        "舊憑證不得再用於交易；請以更新後的憑證簽章。", 403)
    found = bound(store, customer, record)
    if found is None:
        if customer.system is System.EOI:
            raise BankError(Code.CERT_NOT_FILED, not_filed_message(customer), 403)
        raise BankError(Code.CERT_NOT_BOUND, "銀行尚未收到此憑證的憑證更新完成通知，暫時無法以此憑證交易，"
                        "請稍後再試或洽客服中心。", 403)
    if payer_code is not None and (found.relationship_codes is None or payer_code not in found.relationship_codes):
        raise BankError(Code.PAYER_NOT_BOUND, f"關係戶（用戶代碼 {payer_code}）未綁定此憑證，無法代為轉帳；"
                        "請洽申辦分行於憑證展期建檔時告知此關係戶之用戶代碼(12位數)。", 403)
    return found


def not_filed_message(customer: Customer) -> str:
    """What an EOI customer reads when the renewed certificate signs before 憑證展期建檔: step 9 of the
    manual in its own words (to phone the 電金/EOI經辦, and the relationship customers' 用戶代碼 for a
    shared certificate), with the customer's 申辦分行."""
    shared = "若有申辦共用憑證，則須另外告知分行關係戶之用戶代碼(12位數)；" if all_codes(customer) is not None else ""
    return ("此憑證尚未完成憑證展期建檔，無法使用轉帳功能。請將憑證證明單傳真至"
            f"申辦分行 {customer.branch.display}，並電話告知分行電金/EOI經辦需執行憑證展期建檔；{shared}"
            "待分行完成憑證資料更新作業後，即可正常使用轉帳功能。")


def move(conn: sqlite3.Connection, customer: Customer, new: CertificateRecord, source: str, ref: str,
         codes: tuple[str, ...] | None, at: datetime) -> None:
    """Bind ``new`` to ``customer`` and supersede the certificate it renews (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO bindings(id_number, serial, cn, source, ref, relationship_codes, bound_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (customer.id_number, new.serial, new.cn, source, ref,
         json.dumps(list(codes)) if codes is not None else None, at.isoformat()),
    )
    old = new.renewed_from
    if old is None:
        return
    updated = conn.execute(
        "UPDATE bindings SET superseded_at = ?, superseded_by = ? WHERE id_number = ? AND serial = ?"
        " AND superseded_by IS NULL", (at.isoformat(), new.serial, customer.id_number, old),
    ).rowcount
    if not updated and row(conn, customer.id_number, old) is None:
        conn.execute(
            "INSERT INTO bindings(id_number, serial, cn, source, ref, relationship_codes, bound_at, superseded_at,"
            " superseded_by) VALUES (?, ?, ?, ?, '', NULL, ?, ?, ?)",
            (customer.id_number, old, new.cn, REPLACED, at.isoformat(), at.isoformat(), new.serial),
        )


def codes_after_renewal(store: BankStore, customer: Customer, old_serial: str) -> tuple[str, ...] | None:
    """The relationship customers a renewed certificate keeps: those of the one it renews."""
    written = row(store.connection(), customer.id_number, old_serial)
    if written is not None:
        return written.relationship_codes
    return all_codes(customer)
