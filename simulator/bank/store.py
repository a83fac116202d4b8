"""The bank's records in one SQLite file, ``<state_dir>/bank.sqlite3``.

Customers are kept as the model's JSON (:mod:`simulator.bank.customers`)
without their passwords; each user is a row of its own with the argon2 hash
of the password and the last login. Every change is one transaction, and
every login, refusal and hand-over to the platform is a line of the audit log.

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

Schema 4 moves the lockout out of the accounts' rows (docs/bank.md, *Logins*):
``lockouts`` counts wrong passwords per login code **as typed**, whether or not
such a user or officer exists (so that an unknown code is answered as a known
one), and per client: the browsers a good login made trusted (``devices``, by the
SHA-256 of their cookie's token) each have a count of their own, every other
client shares one (``client`` = ``''``). A file of schema 1 to 3 is upgraded in
place: the counts and locks of ``users`` and ``officers`` become the shared
records of ``lockouts``, and those two columns are dropped.

The applications (憑證申請) the platform files for a branch's approval
(``applications``: ``simulator/bank/applications.py``) are a table added beside
schema 4's, as every table is, by the idempotent script: a file made before it
gets the table when it is opened, and nothing else changes.
"""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from fxml.web.sqlite import SqliteFile, expiry_to_unix_time, first_use
from simulator.bank.customers import Certificate, Company, Customer, Person, customer_from_json
from simulator.errors import SimulatorError

STORE_FILE = "bank.sqlite3"
SCHEMA_VERSION = 4
#: Every table of the bank's records (what :meth:`BankStore.dump` compares; sessions are not records).
TABLES = ("meta", "customers", "users", "audit", "officers", "faxes", "filings", "bindings", "renewal_notices",
          "transfers", "api_nonces", "lockouts", "devices", "applications")
#: How long a browser stays trusted for an account after its last good login there.
DEVICE_DAYS: Final = 180

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
-- Schema 4: consecutive wrong passwords per login code as typed (an account or not) and per client.
CREATE TABLE IF NOT EXISTS lockouts (
    realm TEXT NOT NULL,        -- 'user' (the three systems) or 'officer' (the branch)
    owner TEXT NOT NULL,        -- the id number or the branch code, as typed
    code_key TEXT NOT NULL,     -- the user or officer code, as typed, in capitals
    client TEXT NOT NULL,       -- '' (every client without a device of the account) or a device
    failed INTEGER NOT NULL,
    locked_at TEXT,
    PRIMARY KEY (realm, owner, code_key, client)
);
-- 憑證申請, filed for the approval of the customer's 申辦分行 (decision NULL: awaiting it).
CREATE TABLE IF NOT EXISTS applications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id TEXT NOT NULL UNIQUE,
    digest TEXT NOT NULL,
    branch_code TEXT NOT NULL,
    id_number TEXT NOT NULL,
    system TEXT NOT NULL,
    user_code TEXT NOT NULL,
    customer_name TEXT NOT NULL,
    cn_suffix TEXT NOT NULL,
    cn TEXT NOT NULL,
    carrier TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    decision TEXT,               -- 'approved' or 'refused'
    decided_at TEXT,
    officer_code TEXT,
    reason TEXT NOT NULL DEFAULT '',
    code_expires_at TEXT         -- approved: until when the 授權碼 (never stored here) may be used
);
CREATE INDEX IF NOT EXISTS applications_by_branch ON applications(branch_code, id);
-- One application awaiting the branch per customer and certificate name.
CREATE UNIQUE INDEX IF NOT EXISTS applications_one_pending ON applications(id_number, cn_suffix)
    WHERE decision IS NULL;
-- The browsers a good login made trusted for an account (the SHA-256 of their cookie's token).
CREATE TABLE IF NOT EXISTS devices (
    device TEXT NOT NULL,
    realm TEXT NOT NULL,
    owner TEXT NOT NULL,
    code_key TEXT NOT NULL,
    trusted_at TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (device, realm, owner, code_key)
);
"""

#: The client of every attempt made without a device of the account (``lockouts.client``).
ANY_CLIENT: Final = ""


class BankStoreError(SimulatorError):
    """The bank's file cannot be used, or a customer cannot be added; the message says why."""


@dataclass(frozen=True)
class UserRow:
    """A user, and the shared lockout record of its code (clients without a device of the user)."""

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
    """An officer, and the shared lockout record of its code (clients without a device of the officer)."""

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


class Realm(enum.StrEnum):
    """Whose logins a lockout record counts: the three systems' users, or the branches' officers."""

    USER = "user"
    OFFICER = "officer"


@dataclass(frozen=True)
class Counted:
    """A login attempt counted on its record (:meth:`BankStore.reserve`): the consecutive wrong
    passwords so far, this one included, and whether this attempt set the lock."""

    failed: int
    locked: bool


@dataclass(frozen=True)
class _Accounts:
    """A table of accounts that log in with a password: whose account (``owner``) and its login
    code in capitals (``key``) name a row; ``realm`` names their records in ``lockouts``."""

    table: str
    owner: str
    key: str
    realm: Realm


_USERS: Final = _Accounts("users", "id_number", "user_code_key", Realm.USER)
_OFFICERS: Final = _Accounts("officers", "branch_code", "officer_code_key", Realm.OFFICER)
_ACCOUNTS: Final = {a.realm: a for a in (_USERS, _OFFICERS)}
_LOCKOUT: Final = " WHERE realm = ? AND owner = ? AND code_key = ? AND client = ?"


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
                if row[0] in ("1", "2", "3"):
                    # Schema 1 had no tables of step 9 and the transfers, schema 3 none of the lockout's:
                    # the script above made them (api_nonces as schema 3 has it).
                    for accounts in (_USERS, _OFFICERS):
                        _move_lockout(conn, accounts)
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

    def add_certificate(self, conn: sqlite3.Connection, id_number: str, certificate: Certificate) -> Customer:
        """Add a certificate (a name the branch approved) to the customer's records, inside the caller's
        transaction; the customer as it is now. A name the customer has already is left as it is."""
        row = conn.execute("SELECT data FROM customers WHERE id_number = ?", (id_number,)).fetchone()
        if row is None:
            raise BankStoreError(f"銀行查無客戶 {id_number}")
        customer = _customer(row[0])
        if certificate.cn_suffix in (c.cn_suffix for c in customer.certificates):
            return customer
        changed = customer_from_json({**customer.to_json(),
                                      "certificates": [*(c.to_json() for c in customer.certificates),
                                                       certificate.to_json()]})
        data = changed.to_json()
        for user in data.get("users", []):
            user.pop("password", None)
        conn.execute("UPDATE customers SET data = ? WHERE id_number = ?", (json.dumps(data, ensure_ascii=False),
                                                                            id_number))
        return changed

    def count(self) -> int:
        return int(self.connection().execute("SELECT count(*) FROM customers").fetchone()[0])

    # -- users ------------------------------------------------------------------------------
    def user(self, id_number: str, user_code: str) -> UserRow | None:
        row = self._account(_USERS, "id_number, user_code, role, password_hash", id_number, user_code)
        return UserRow(*row) if row else None

    def _account(self, accounts: _Accounts, columns: str, owner: str, code: str) -> tuple[Any, ...] | None:
        """The account's ``columns``, then the count and lock of its code's shared lockout record
        (clients without a device of the account), then its last login."""
        a = accounts
        row: tuple[Any, ...] | None = self.connection().execute(
            f"SELECT {columns}, COALESCE(l.failed, 0), l.locked_at, a.last_login_at FROM {a.table} a"  # noqa: S608
            f" LEFT JOIN lockouts l ON l.realm = ? AND l.owner = a.{a.owner} AND l.code_key = a.{a.key}"
            f" AND l.client = ? WHERE a.{a.owner} = ? AND a.{a.key} = ?",
            (a.realm.value, ANY_CLIENT, owner, code.upper()),
        ).fetchone()
        return row

    def unlock(self, id_number: str, user_code: str) -> None:
        """What the branch does for a locked user (and tests): every count of its code starts again."""
        self._unlock(_USERS, id_number, user_code)

    # -- the lockout, one mechanism for users and officers, known codes or not -------------------
    def reserve(self, realm: Realm, owner: str, code: str, client: str, lock_after: int, at: datetime
                ) -> Counted | None:
        """Count a login attempt on the record of the code as typed (an account's or not) and of
        ``client``, before its password is checked, in one transaction: parallel attempts are
        counted one by one. None if the record is locked (no password may be checked); else the
        count, locked if this attempt is the ``lock_after``-th in a row."""
        key = (realm.value, owner, code.upper(), client)
        with self.transaction() as conn:
            row = conn.execute(f"SELECT failed, locked_at FROM lockouts{_LOCKOUT}", key).fetchone()  # noqa: S608
            if row is not None and row[1] is not None:
                return None
            failed = (row[0] if row else 0) + 1
            locked = failed >= lock_after
            conn.execute(
                "INSERT INTO lockouts(realm, owner, code_key, client, failed, locked_at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (realm, owner, code_key, client) DO UPDATE SET failed = excluded.failed,"
                " locked_at = excluded.locked_at",
                (*key, failed, at.isoformat() if locked else None),
            )
        return Counted(failed, locked)

    def release(self, realm: Realm, owner: str, code: str, client: str, lock_after: int) -> None:
        """Give back an attempt :meth:`reserve` counted for a password that was right."""
        key = (realm.value, owner, code.upper(), client)
        with self.transaction() as conn:
            conn.execute(f"UPDATE lockouts SET failed = failed - 1, locked_at = CASE WHEN failed - 1 >= ?"  # noqa: S608
                         f" THEN locked_at ELSE NULL END{_LOCKOUT}", (lock_after, *key))
            conn.execute(f"DELETE FROM lockouts{_LOCKOUT} AND failed <= 0", key)  # noqa: S608

    def succeed(self, realm: Realm, owner: str, code: str, client: str, at: datetime, *,
                device: str | None = None, replacing: str | None = None, new_hash: str | None = None) -> None:
        """A good login, in one transaction: the record of its client starts again (a lock the
        attempts counted with it set is lifted), the account's last login (and a hash made with
        weaker parameters replaced), and ``device`` (a token's SHA-256) trusted for the account,
        taking over every account the browser's previous device (``replacing``) was trusted for."""
        accounts = _ACCOUNTS[realm]
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE {accounts.table} SET last_login_at = ?, password_hash = COALESCE(?, password_hash)"  # noqa: S608
                f" WHERE {accounts.owner} = ? AND {accounts.key} = ?", (at.isoformat(), new_hash, owner, code.upper()))
            conn.execute(f"DELETE FROM lockouts{_LOCKOUT}", (realm.value, owner, code.upper(), client))  # noqa: S608
            if device is not None and replacing is not None:
                conn.execute("UPDATE devices SET device = ? WHERE device = ?", (device, replacing))
            if device is not None:
                conn.execute(
                    "INSERT INTO devices(device, realm, owner, code_key, trusted_at, last_login_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, realm, owner, code_key)"
                    " DO UPDATE SET last_login_at = excluded.last_login_at",
                    (device, realm.value, owner, code.upper(), at.isoformat(), at.isoformat()),
                )

    def trusted(self, device: str, realm: Realm, owner: str, code: str, now: datetime) -> bool:
        """Whether ``device`` (a token's SHA-256) had a good login of the account within
        :data:`DEVICE_DAYS`."""
        row = self.connection().execute(
            "SELECT last_login_at FROM devices WHERE device = ? AND realm = ? AND owner = ? AND code_key = ?",
            (device, realm.value, owner, code.upper())).fetchone()
        return row is not None and now - datetime.fromisoformat(row[0]) < timedelta(days=DEVICE_DAYS)

    def _unlock(self, accounts: _Accounts, owner: str, code: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM lockouts WHERE realm = ? AND owner = ? AND code_key = ?",
                         (accounts.realm.value, owner, code.upper()))

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
        row = self._account(_OFFICERS, "branch_code, branch_name, officer_code, name, role, password_hash",
                            branch_code, officer_code)
        return OfficerRow(*row) if row else None

    def branch_name(self, branch_code: str) -> str | None:
        """The name of a branch that has officers (the branches the bank knows)."""
        row = self.connection().execute("SELECT branch_name FROM officers WHERE branch_code = ? LIMIT 1",
                                   (branch_code,)).fetchone()
        return str(row[0]) if row else None

    def unlock_officer(self, branch_code: str, officer_code: str) -> None:
        self._unlock(_OFFICERS, branch_code, officer_code)

    # -- the platform's signed requests -------------------------------------------------------------
    def first_use_nonce(self, nonce: str, expires: datetime, now: datetime) -> bool:
        """Record a nonce of the platform's API; False if it was seen (a replay). Old ones are forgotten.

        Expiry and now are compared as Unix times, whatever UTC offset the clock gave them."""
        return first_use(self, "api_nonces", "nonce", nonce, expires, now)


def _move_lockout(conn: sqlite3.Connection, accounts: _Accounts) -> None:
    """Schema 1-3 to 4: an account's count and lock become the shared record of its code in
    ``lockouts``, and the two columns that held them go."""
    columns = {r[1] for r in conn.execute(f"PRAGMA table_info({accounts.table})")}
    if "failed_logins" not in columns:
        return
    conn.execute(
        f"INSERT INTO lockouts(realm, owner, code_key, client, failed, locked_at) SELECT ?, {accounts.owner},"  # noqa: S608
        f" {accounts.key}, ?, failed_logins, locked_at FROM {accounts.table}"
        " WHERE failed_logins > 0 OR locked_at IS NOT NULL", (accounts.realm.value, ANY_CLIENT))
    conn.execute(f"ALTER TABLE {accounts.table} DROP COLUMN failed_logins")
    conn.execute(f"ALTER TABLE {accounts.table} DROP COLUMN locked_at")


def _customer(text: str) -> Customer:
    data = json.loads(text)
    # The model requires a password; the file keeps none: a placeholder that no login accepts.
    for user in data.get("users", []):
        user["password"] = "Stored0nly"  # noqa: S105 - not a password: a placeholder the model's check accepts
    customer = customer_from_json(data)
    assert isinstance(customer, Person | Company)
    return customer
