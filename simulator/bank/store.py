"""The bank's records in one SQLite file, ``<state_dir>/bank.sqlite3``.

Customers are kept as the model's JSON (:mod:`simulator.bank.customers`)
without their passwords; each user's login state is a row of its own: the
argon2 hash of the password, the count of consecutive wrong passwords and
when the user was locked. Every change is one transaction, and every login,
refusal and hand-over to the platform is a line of the audit log.

Schema 2 adds step 9 and the transfers: the branches' officers (their
logins, as the users'), the faxes in each branch's inbox, the 憑證展期建檔
filings, the certificates bound to customers, the renewal notices the
platform sent, the transfers done, and the nonces of the platform's signed
requests. The tables are read and written by the modules that own them
(``branch.py``, ``binding.py``, ``transfers.py``, ``platform_api.py``), each
change in one :meth:`BankStore.transaction`.

Schema 3 keeps the expiry of those nonces as Unix time (an INTEGER): the ISO
texts of schema 2 carried the clock's UTC offset, and two texts with different
offsets do not compare as the instants they name. A file of schema 1 or 2 is
upgraded in place when it is opened (schema 2's nonces converted).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from fxml.web.sqlite import SqliteFile, expiry_to_unix_time, first_use
from simulator.bank.customers import Company, Customer, Person, customer_from_json
from simulator.errors import SimulatorError

STORE_FILE = "bank.sqlite3"
SCHEMA_VERSION = 3
#: Every table of the bank's records (what :meth:`BankStore.dump` compares; sessions are not records).
TABLES = ("meta", "customers", "users", "audit", "officers", "faxes", "filings", "bindings", "renewal_notices",
          "transfers", "api_nonces")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS customers (
    id_number TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    system TEXT NOT NULL,
    customer_type INTEGER,
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id_number TEXT NOT NULL REFERENCES customers(id_number),
    user_code TEXT NOT NULL,
    user_code_key TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_at TEXT,
    last_login_at TEXT,
    PRIMARY KEY (id_number, user_code_key)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    system TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS officers (
    branch_code TEXT NOT NULL,
    branch_name TEXT NOT NULL,
    officer_code TEXT NOT NULL,
    officer_code_key TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_at TEXT,
    last_login_at TEXT,
    PRIMARY KEY (branch_code, officer_code_key)
);
-- The proof sheets faxed to a branch (step 9), with the time each arrived.
CREATE TABLE IF NOT EXISTS faxes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fax_id TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    branch_code TEXT NOT NULL,
    id_number TEXT NOT NULL,
    system TEXT NOT NULL,
    user_code TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    serial TEXT NOT NULL,
    sheet TEXT NOT NULL,
    pdf BLOB NOT NULL,
    sent_at TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS faxes_by_branch ON faxes(branch_code, id);
-- 憑證展期建檔: one per certificate, ever.
CREATE TABLE IF NOT EXISTS filings (
    filing_id TEXT PRIMARY KEY,
    fax INTEGER NOT NULL REFERENCES faxes(id),
    branch_code TEXT NOT NULL,
    officer_code TEXT NOT NULL,
    id_number TEXT NOT NULL,
    serial TEXT NOT NULL UNIQUE,
    old_serial TEXT,
    relationship_codes TEXT,
    filed_at TEXT NOT NULL
);
-- Certificates bound to customers by a move (a renewal's notice, a filing) and the ones they replaced.
CREATE TABLE IF NOT EXISTS bindings (
    id_number TEXT NOT NULL,
    serial TEXT NOT NULL,
    cn TEXT NOT NULL,
    source TEXT NOT NULL,
    ref TEXT NOT NULL DEFAULT '',
    relationship_codes TEXT,
    bound_at TEXT NOT NULL,
    superseded_at TEXT,
    superseded_by TEXT,
    PRIMARY KEY (id_number, serial)
);
CREATE TABLE IF NOT EXISTS renewal_notices (
    renewal_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    id_number TEXT NOT NULL,
    old_serial TEXT NOT NULL,
    new_serial TEXT NOT NULL,
    done_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    binding TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    transfer_id TEXT PRIMARY KEY,
    system TEXT NOT NULL,
    id_number TEXT NOT NULL,
    user_code TEXT NOT NULL,
    payer TEXT NOT NULL,
    from_account TEXT NOT NULL,
    to_bank TEXT NOT NULL,
    to_account TEXT NOT NULL,
    amount INTEGER NOT NULL,
    memo TEXT NOT NULL,
    signed_data TEXT NOT NULL,
    signature TEXT NOT NULL,
    serial TEXT NOT NULL,
    executed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_nonces (
    nonce TEXT PRIMARY KEY,
    expires INTEGER NOT NULL  -- Unix time (schema 3; an ISO text in schema 2)
);
"""


class BankStoreError(SimulatorError):
    """The bank's file cannot be used, or a customer cannot be added; the message says why."""


@dataclass(frozen=True)
class UserRow:
    id_number: str
    user_code: str
    role: str
    password_hash: str
    failed_logins: int
    locked_at: str | None
    last_login_at: str | None

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


@dataclass(frozen=True)
class OfficerRow:
    branch_code: str
    branch_name: str
    officer_code: str
    name: str
    role: str
    password_hash: str
    failed_logins: int
    locked_at: str | None
    last_login_at: str | None

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: str
    system: str
    actor: str
    action: str
    result: str
    detail: str


@dataclass(frozen=True)
class _Accounts:
    """A table of accounts that log in with a password and share one lockout
    (:meth:`BankStore._reserve`): whose account (``owner``) and its login code in
    capitals (``key``) name a row."""

    table: str
    owner: str
    key: str


_USERS: Final = _Accounts("users", "id_number", "user_code_key")
_OFFICERS: Final = _Accounts("officers", "branch_code", "officer_code_key")


class BankStore(SqliteFile):
    """The bank's SQLite file (:class:`~fxml.web.sqlite.SqliteFile`: WAL, one connection per
    thread, each change one transaction; SQLite's foreign keys on)."""

    def __init__(self, path: Path):
        super().__init__(path, foreign_keys=True)
        try:
            self.connection().executescript(_SCHEMA)
            with self.transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row[0] == "2":
                    expiry_to_unix_time(conn, "api_nonces", "nonce")
                if row[0] in ("1", "2"):
                    # Schema 1 had no tables of step 9 and the transfers: the script above made them
                    # (api_nonces as schema 3 has it).
                    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
                    row = (str(SCHEMA_VERSION),)
        except sqlite3.DatabaseError as exc:
            self.close()
            raise BankStoreError(f"{self.path}: not a bank file fxmlsim can use ({exc})") from exc
        if row[0] != str(SCHEMA_VERSION):
            self.close()
            raise BankStoreError(f"{self.path}: schema {row[0]}, this fxmlsim reads {SCHEMA_VERSION}")

    # -- customers ------------------------------------------------------------------------
    def add_customer(self, customer: Customer, password_hashes: dict[str, str], at: datetime) -> None:
        """Add a customer and its users (``password_hashes`` by user code); refused if the
        id number is taken. Passwords never reach the file in clear."""
        self.add_customers([(customer, password_hashes)], at)

    def add_customers(self, customers: Iterable[tuple[Customer, dict[str, str]]], at: datetime, *,
                      if_empty: bool = False) -> bool:
        """Add customers and their users in one transaction (all or none: a bank seeded with the
        personas never keeps some of them); refused if an id number is taken. With ``if_empty``,
        nothing is added to a bank that has customers already (another process seeded it): False."""
        with self.transaction() as conn:
            if if_empty and conn.execute("SELECT 1 FROM customers LIMIT 1").fetchone() is not None:
                return False
            for customer, password_hashes in customers:
                self._insert_customer(conn, customer, password_hashes, at)
        return True

    def _insert_customer(self, conn: sqlite3.Connection, customer: Customer, password_hashes: dict[str, str],
                         at: datetime) -> None:
        data = customer.to_json()
        for user in data.get("users", []):
            user.pop("password", None)
        customer_type = getattr(customer, "customer_type", None)
        try:
            conn.execute(
                "INSERT INTO customers(id_number, kind, system, customer_type, name, data, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (customer.id_number, customer.kind, customer.system.value, customer_type, customer.name,
                 json.dumps(data, ensure_ascii=False), at.isoformat()),
            )
            for user in customer.users:
                conn.execute(
                    "INSERT INTO users(id_number, user_code, user_code_key, role, password_hash)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (customer.id_number, user.user_code, user.user_code.upper(), user.role.value,
                     password_hashes[user.user_code]),
                )
        except sqlite3.IntegrityError as exc:
            raise BankStoreError(f"{customer.id_label} {customer.id_number} 已存在於銀行資料中") from exc

    def customer(self, id_number: str) -> Customer | None:
        """A customer by 身分證字號 or 統一編號 (passwords blanked), or None."""
        row = self.connection().execute("SELECT data FROM customers WHERE id_number = ?", (id_number,)).fetchone()
        return _customer(row[0]) if row else None

    def customers(self) -> list[Customer]:
        # By the instant added (julianday): ISO texts with different UTC offsets do not sort as text.
        rows = self.connection().execute(
            "SELECT data FROM customers ORDER BY julianday(added_at), id_number").fetchall()
        return [_customer(r[0]) for r in rows]

    def count(self) -> int:
        return int(self.connection().execute("SELECT count(*) FROM customers").fetchone()[0])

    # -- users ------------------------------------------------------------------------------
    def user(self, id_number: str, user_code: str) -> UserRow | None:
        row = self.connection().execute(
            "SELECT id_number, user_code, role, password_hash, failed_logins, locked_at, last_login_at"
            " FROM users WHERE id_number = ? AND user_code_key = ?", (id_number, user_code.upper()),
        ).fetchone()
        return UserRow(*row) if row else None

    def reserve_attempt(self, id_number: str, user_code: str, lock_after: int, at: datetime) -> UserRow | None:
        """Count one login attempt before its password is checked (one transaction).

        None if the user is unknown or locked (the password must not be checked); else
        the row after counting, locked if this attempt is the ``lock_after``-th in a row.
        A good password then clears the count and the lock (:meth:`record_success`).
        """
        if not self._reserve(_USERS, id_number, user_code, lock_after, at):
            return None
        return self.user(id_number, user_code)

    def release_attempt(self, id_number: str, user_code: str, lock_after: int) -> None:
        """Give back an attempt :meth:`reserve_attempt` counted for a password that was right."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE users SET failed_logins = MAX(failed_logins - 1, 0),"
                " locked_at = CASE WHEN failed_logins - 1 >= ? THEN locked_at ELSE NULL END"
                " WHERE id_number = ? AND user_code_key = ?",
                (lock_after, id_number, user_code.upper()),
            )

    def record_success(self, id_number: str, user_code: str, at: datetime, new_hash: str | None = None) -> None:
        """A good login: the count of wrong passwords starts again, the lock its own attempt
        may have set is lifted (and a hash made with weaker parameters is replaced)."""
        self._succeed(_USERS, id_number, user_code, at, new_hash)

    def unlock(self, id_number: str, user_code: str) -> None:
        """What the branch does for a locked user (and tests): the count starts again."""
        self._unlock(_USERS, id_number, user_code)

    # -- the lockout, one mechanism for users and officers ------------------------------------
    def _reserve(self, accounts: _Accounts, owner: str, code: str, lock_after: int, at: datetime) -> bool:
        """Count an attempt on an account that exists and is not locked (False otherwise),
        locking it at the ``lock_after``-th in a row; one transaction, so parallel attempts
        are counted one by one."""
        where = f" WHERE {accounts.owner} = ? AND {accounts.key} = ?"
        with self.transaction() as conn:
            row = conn.execute(f"SELECT locked_at FROM {accounts.table}{where}",  # noqa: S608 - our names
                               (owner, code.upper())).fetchone()
            if row is None or row[0] is not None:
                return False
            conn.execute(
                f"UPDATE {accounts.table} SET failed_logins = failed_logins + 1,"  # noqa: S608 - our names
                f" locked_at = CASE WHEN failed_logins + 1 >= ? THEN ? ELSE NULL END{where}",
                (lock_after, at.isoformat(), owner, code.upper()),
            )
        return True

    def _succeed(self, accounts: _Accounts, owner: str, code: str, at: datetime, new_hash: str | None) -> None:
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE {accounts.table} SET failed_logins = 0, locked_at = NULL, last_login_at = ?,"  # noqa: S608
                f" password_hash = COALESCE(?, password_hash) WHERE {accounts.owner} = ? AND {accounts.key} = ?",
                (at.isoformat(), new_hash, owner, code.upper()),
            )

    def _unlock(self, accounts: _Accounts, owner: str, code: str) -> None:
        with self.transaction() as conn:
            conn.execute(f"UPDATE {accounts.table} SET failed_logins = 0, locked_at = NULL"  # noqa: S608
                         f" WHERE {accounts.owner} = ? AND {accounts.key} = ?", (owner, code.upper()))

    # -- audit ------------------------------------------------------------------------------
    def audit(self, at: datetime, system: str, actor: str, action: str, result: str, detail: str = "") -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO audit(at, system, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
                         (at.isoformat(), system, actor, action, result, detail))

    def audit_log(self, limit: int = 100) -> list[AuditRow]:
        rows = self.connection().execute(
            "SELECT id, at, system, actor, action, result, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [AuditRow(*r) for r in reversed(rows)]

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (tests compare dumps to show nothing changed)."""
        conn = self.connection()
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()  # noqa: S608 - our table names
                for t in TABLES}

    # -- officers ----------------------------------------------------------------------------
    def add_officer(self, branch_code: str, branch_name: str, officer_code: str, name: str, role: str,
                    password_hash: str) -> None:
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO officers(branch_code, branch_name, officer_code, officer_code_key, name, role,"
                    " password_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (branch_code, branch_name, officer_code, officer_code.upper(), name, role, password_hash),
                )
        except sqlite3.IntegrityError as exc:
            raise BankStoreError(f"分行 {branch_code} 員工代號 {officer_code} 已存在") from exc

    def officer_keys(self) -> set[tuple[str, str]]:
        """(branch code, officer code in capitals) of every officer stored."""
        rows = self.connection().execute("SELECT branch_code, officer_code_key FROM officers").fetchall()
        return {(str(r[0]), str(r[1])) for r in rows}

    def add_missing_officers(self, officers: Iterable[tuple[str, str, str, str, str, str]]) -> int:
        """Add each of ``officers`` (branch code, branch name, officer code, name, role, password
        hash) the bank does not have yet, in one transaction; how many were added. An officer
        already stored is left as it is: its password, its count of wrong passwords, its lock."""
        with self.transaction() as conn:
            added = 0
            for branch_code, branch_name, officer_code, name, role, password_hash in officers:
                added += conn.execute(
                    "INSERT OR IGNORE INTO officers(branch_code, branch_name, officer_code, officer_code_key,"
                    " name, role, password_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (branch_code, branch_name, officer_code, officer_code.upper(), name, role, password_hash),
                ).rowcount
        return added

    def officer_count(self) -> int:
        return int(self.connection().execute("SELECT count(*) FROM officers").fetchone()[0])

    def officer(self, branch_code: str, officer_code: str) -> OfficerRow | None:
        row = self.connection().execute(
            "SELECT branch_code, branch_name, officer_code, name, role, password_hash, failed_logins, locked_at,"
            " last_login_at FROM officers WHERE branch_code = ? AND officer_code_key = ?",
            (branch_code, officer_code.upper()),
        ).fetchone()
        return OfficerRow(*row) if row else None

    def branch_name(self, branch_code: str) -> str | None:
        """The name of a branch that has officers (the branches the bank knows)."""
        row = self.connection().execute("SELECT branch_name FROM officers WHERE branch_code = ? LIMIT 1",
                                   (branch_code,)).fetchone()
        return str(row[0]) if row else None

    def reserve_officer_attempt(self, branch_code: str, officer_code: str, lock_after: int, at: datetime
                                ) -> OfficerRow | None:
        """:meth:`reserve_attempt` for an officer: None if unknown or locked, else the row after
        counting (a good password then calls :meth:`record_officer_success`)."""
        if not self._reserve(_OFFICERS, branch_code, officer_code, lock_after, at):
            return None
        return self.officer(branch_code, officer_code)

    def record_officer_success(self, branch_code: str, officer_code: str, at: datetime,
                               new_hash: str | None = None) -> None:
        """:meth:`record_success` for an officer."""
        self._succeed(_OFFICERS, branch_code, officer_code, at, new_hash)

    def unlock_officer(self, branch_code: str, officer_code: str) -> None:
        self._unlock(_OFFICERS, branch_code, officer_code)

    # -- the platform's signed requests -------------------------------------------------------------
    def first_use_nonce(self, nonce: str, expires: datetime, now: datetime) -> bool:
        """Record a nonce of the platform's API; False if it was seen (a replay). Old ones are forgotten.

        Expiry and now are compared as Unix times, whatever UTC offset the clock gave them."""
        return first_use(self, "api_nonces", "nonce", nonce, expires, now)


def _customer(text: str) -> Customer:
    data = json.loads(text)
    # The model requires a password; the file keeps none: a placeholder that no login accepts.
    for user in data.get("users", []):
        user["password"] = "Stored0nly"  # noqa: S105 - not a password: a placeholder the model's check accepts
    customer = customer_from_json(data)
    assert isinstance(customer, Person | Company)
    return customer
