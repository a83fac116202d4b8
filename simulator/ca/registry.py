"""The CA's registry: one SQLite file holding holders, certificates, requests
and an append-only audit log.

WAL journal, so readers (OCSP, CRL, queries) never wait for a writer. Every
operation runs in one transaction (``BEGIN IMMEDIATE`` for writes, so two
writers serialize instead of failing on upgrade). Each thread gets its own
connection. Instants are stored as ISO 8601 in UTC, which sorts as text.

The audit log refuses UPDATE and DELETE (triggers), so an entry, once
written, stays as it was.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.ca.errors import StateError

SCHEMA_VERSION = 2
REGISTRY_FILE = "ca.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS holders (
    holder_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    branch_code TEXT NOT NULL,
    bank_name TEXT NOT NULL,
    registered_at TEXT NOT NULL
);
-- The certificate names (CN suffixes) registered for a holder.
CREATE TABLE IF NOT EXISTS holder_names (
    holder_id TEXT NOT NULL REFERENCES holders(holder_id),
    cn_suffix TEXT NOT NULL,
    cn TEXT NOT NULL UNIQUE,
    registered_at TEXT NOT NULL,
    PRIMARY KEY (holder_id, cn_suffix)
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,                 -- uppercase hex
    holder_id TEXT NOT NULL REFERENCES holders(holder_id),
    cn TEXT NOT NULL,
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    der BLOB NOT NULL,
    issued_at TEXT NOT NULL,
    renewed_from TEXT UNIQUE REFERENCES certificates(serial),  -- one renewal per certificate
    suspended_at TEXT,
    revoked_at TEXT,
    revocation_reason TEXT
);
CREATE INDEX IF NOT EXISTS certificates_holder ON certificates(holder_id);
CREATE INDEX IF NOT EXISTS certificates_cn ON certificates(cn);
CREATE INDEX IF NOT EXISTS certificates_withdrawn ON certificates(serial)
    WHERE revoked_at IS NOT NULL OR suspended_at IS NOT NULL;
-- Every request that produced a certificate, by the client's request id.
CREATE TABLE IF NOT EXISTS requests (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('apply', 'renew')),
    holder_id TEXT NOT NULL,
    csr_sha256 TEXT NOT NULL,
    renews_serial TEXT,
    serial TEXT NOT NULL UNIQUE REFERENCES certificates(serial),
    actor TEXT NOT NULL,
    received_at TEXT NOT NULL
);
-- Schema 2: the one-time authorization codes (授權碼) the RA issued on a branch's approval: only the
-- SHA-256 of each code is kept; used once, by one request (request_id, serial), before expires_at.
CREATE TABLE IF NOT EXISTS authorizations (
    code_sha256 TEXT PRIMARY KEY,
    holder_id TEXT NOT NULL REFERENCES holders(holder_id),
    cn_suffix TEXT NOT NULL,
    cn TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issued_by TEXT NOT NULL,
    request_id TEXT UNIQUE,
    serial TEXT UNIQUE REFERENCES certificates(serial),
    used_at TEXT,
    FOREIGN KEY (holder_id, cn_suffix) REFERENCES holder_names(holder_id, cn_suffix)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT OR IGNORE INTO meta(key, value) VALUES ('status_version', '0'), ('crl_number', '0');
"""

#: Tables in dependency order (for dumps and comparisons).
TABLES = ("meta", "holders", "holder_names", "certificates", "requests", "authorizations", "audit")


def to_text(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat()


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class HolderRow:
    holder_id: str
    name: str
    branch_code: str
    bank_name: str
    registered_at: datetime
    cn_suffixes: tuple[str, ...]


@dataclass(frozen=True)
class CertificateRow:
    serial: str
    holder_id: str
    cn: str
    not_before: datetime
    not_after: datetime
    der: bytes
    issued_at: datetime
    renewed_from: str | None
    renewed_by: str | None
    suspended_at: datetime | None
    revoked_at: datetime | None
    revocation_reason: str | None


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    kind: str
    holder_id: str
    csr_sha256: str
    renews_serial: str | None
    serial: str
    actor: str
    received_at: datetime


@dataclass(frozen=True)
class AuthorizationRow:
    """A one-time authorization code (授權碼), known by its SHA-256 only."""

    code_sha256: str
    holder_id: str
    cn_suffix: str
    cn: str
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    request_id: str | None
    serial: str | None
    used_at: datetime | None


_AUTHORIZATION_COLUMNS = ("code_sha256, holder_id, cn_suffix, cn, issued_at, expires_at, issued_by, request_id,"
                          " serial, used_at")


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    result: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Withdrawn:
    """A revoked or suspended certificate, as a CRL lists it."""

    serial: int
    since: datetime
    reason: str  # RFC 5280 reason name; certificateHold for a suspension


_CERT_COLUMNS = (
    "c.serial, c.holder_id, c.cn, c.not_before, c.not_after, c.der, c.issued_at, c.renewed_from, "
    "(SELECT r.serial FROM certificates r WHERE r.renewed_from = c.serial), "
    "c.suspended_at, c.revoked_at, c.revocation_reason"
)


def _opt_time(text: str | None) -> datetime | None:
    return from_text(text) if text is not None else None


def _certificate(row: tuple[Any, ...]) -> CertificateRow:
    return CertificateRow(
        serial=row[0], holder_id=row[1], cn=row[2], not_before=from_text(row[3]), not_after=from_text(row[4]),
        der=bytes(row[5]), issued_at=from_text(row[6]), renewed_from=row[7], renewed_by=row[8],
        suspended_at=_opt_time(row[9]), revoked_at=_opt_time(row[10]), revocation_reason=row[11],
    )


class Transaction:
    """Typed statements on one connection inside one transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # -- meta -------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def status_version(self) -> int:
        """Changes with every issuance, suspension, resumption and revocation."""
        return int(self.meta("status_version") or 0)

    def bump_status_version(self) -> None:
        self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'status_version'")

    def next_crl_number(self) -> int:
        self.conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'crl_number'")
        return int(self.meta("crl_number") or 0)

    # -- holders ---------------------------------------------------------
    def holder(self, holder_id: str) -> HolderRow | None:
        row = self.conn.execute(
            "SELECT holder_id, name, branch_code, bank_name, registered_at FROM holders WHERE holder_id = ?",
            (holder_id,),
        ).fetchone()
        if row is None:
            return None
        suffixes = tuple(r[0] for r in self.conn.execute(
            "SELECT cn_suffix FROM holder_names WHERE holder_id = ? ORDER BY registered_at, cn_suffix", (holder_id,)
        ))
        return HolderRow(row[0], row[1], row[2], row[3], from_text(row[4]), suffixes)

    def insert_holder(self, holder_id: str, name: str, branch_code: str, bank_name: str, at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO holders(holder_id, name, branch_code, bank_name, registered_at) VALUES (?, ?, ?, ?, ?)",
            (holder_id, name, branch_code, bank_name, to_text(at)),
        )

    def insert_holder_name(self, holder_id: str, cn_suffix: str, cn: str, at: datetime) -> None:
        self.conn.execute(
            "INSERT INTO holder_names(holder_id, cn_suffix, cn, registered_at) VALUES (?, ?, ?, ?)",
            (holder_id, cn_suffix, cn, to_text(at)),
        )

    def holder_of_cn(self, cn: str) -> str | None:
        row = self.conn.execute("SELECT holder_id FROM holder_names WHERE cn = ?", (cn,)).fetchone()
        return row[0] if row else None

    # -- certificates ----------------------------------------------------
    def certificate(self, serial: str) -> CertificateRow | None:
        sql = f"SELECT {_CERT_COLUMNS} FROM certificates c WHERE c.serial = ?"  # noqa: S608 - our columns; the value is bound
        row = self.conn.execute(sql, (serial,)).fetchone()
        return _certificate(row) if row else None

    def certificates(
        self, *, holder_id: str | None = None, cn: str | None = None, serial: str | None = None,
        after: str | None = None, limit: int | None = None,
    ) -> list[CertificateRow]:
        """Certificates in issuance order; ``after`` a serial: the ones after it (a page's cursor)."""
        where: list[str] = []
        args: list[object] = []
        for column, value in (("holder_id", holder_id), ("cn", cn), ("serial", serial)):
            if value is not None:
                where.append(f"c.{column} = ?")
                args.append(value)
        if after is not None:
            where.append("(c.issued_at, c.rowid) > (SELECT issued_at, rowid FROM certificates WHERE serial = ?)")
            args.append(after)
        sql = f"SELECT {_CERT_COLUMNS} FROM certificates c"  # noqa: S608 - column names are ours; values are bound
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY c.issued_at, c.rowid"  # rowid: the order of insertion, on a frozen clock too
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_certificate(r) for r in self.conn.execute(sql, args)]

    def insert_certificate(
        self, *, serial: str, holder_id: str, cn: str, not_before: datetime, not_after: datetime, der: bytes,
        issued_at: datetime, renewed_from: str | None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO certificates(serial, holder_id, cn, not_before, not_after, der, issued_at, renewed_from)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (serial, holder_id, cn, to_text(not_before), to_text(not_after), der, to_text(issued_at), renewed_from),
        )
        self.bump_status_version()

    def serial_exists(self, serial: str) -> bool:
        return self.conn.execute("SELECT 1 FROM certificates WHERE serial = ?", (serial,)).fetchone() is not None

    def set_suspended(self, serial: str, at: datetime | None) -> None:
        self.conn.execute(
            "UPDATE certificates SET suspended_at = ? WHERE serial = ?", (to_text(at) if at else None, serial)
        )
        self.bump_status_version()

    def set_revoked(self, serial: str, at: datetime, reason: str) -> None:
        self.conn.execute(
            "UPDATE certificates SET revoked_at = ?, revocation_reason = ? WHERE serial = ?",
            (to_text(at), reason, serial),
        )
        self.bump_status_version()

    def withdrawn(self) -> list[Withdrawn]:
        """Revoked and suspended certificates (revocation wins over a suspension)."""
        out = []
        for serial, revoked_at, reason, suspended_at in self.conn.execute(
            "SELECT serial, revoked_at, revocation_reason, suspended_at FROM certificates"
            " WHERE revoked_at IS NOT NULL OR suspended_at IS NOT NULL"
        ):
            if revoked_at is not None:
                out.append(Withdrawn(int(serial, 16), from_text(revoked_at), reason))
            else:
                out.append(Withdrawn(int(serial, 16), from_text(suspended_at), "certificateHold"))
        return out

    # -- requests --------------------------------------------------------
    def request(self, request_id: str) -> RequestRow | None:
        row = self.conn.execute(
            "SELECT request_id, kind, holder_id, csr_sha256, renews_serial, serial, actor, received_at"
            " FROM requests WHERE request_id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        request_id, kind, holder_id, csr_sha256, renews_serial, serial, actor, received_at = row
        return RequestRow(request_id, kind, holder_id, csr_sha256, renews_serial, serial, actor, from_text(received_at))

    def insert_request(self, row: RequestRow) -> None:
        self.conn.execute(
            "INSERT INTO requests(request_id, kind, holder_id, csr_sha256, renews_serial, serial, actor, received_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.request_id, row.kind, row.holder_id, row.csr_sha256, row.renews_serial, row.serial, row.actor,
             to_text(row.received_at)),
        )

    # -- authorization codes ----------------------------------------------
    def authorization(self, code_sha256: str) -> AuthorizationRow | None:
        row = self.conn.execute(
            f"SELECT {_AUTHORIZATION_COLUMNS} FROM authorizations WHERE code_sha256 = ?",  # noqa: S608 - our columns
            (code_sha256,)).fetchone()
        if row is None:
            return None
        return AuthorizationRow(row[0], row[1], row[2], row[3], from_text(row[4]), from_text(row[5]), row[6],
                                row[7], row[8], _opt_time(row[9]))

    def insert_authorization(self, row: AuthorizationRow) -> None:
        self.conn.execute(
            f"INSERT INTO authorizations({_AUTHORIZATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",  # noqa: S608
            (row.code_sha256, row.holder_id, row.cn_suffix, row.cn, to_text(row.issued_at), to_text(row.expires_at),
             row.issued_by),
        )

    def use_authorization(self, code_sha256: str, request_id: str, serial: str, at: datetime) -> None:
        """Mark the code used by ``request_id`` for ``serial`` (once: a used code is never used again)."""
        changed = self.conn.execute(
            "UPDATE authorizations SET request_id = ?, serial = ?, used_at = ? WHERE code_sha256 = ?"
            " AND request_id IS NULL", (request_id, serial, to_text(at), code_sha256)).rowcount
        if changed != 1:
            raise StateError("授權碼已使用。")

    # -- audit -----------------------------------------------------------
    def audit(self, *, at: datetime, actor: str, action: str, target: str, result: str,
              detail: dict[str, Any] | None = None) -> None:
        self.conn.execute(
            "INSERT INTO audit(at, actor, action, target, result, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (to_text(at), actor, action, target, result, json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)),
        )

    def audit_log(self, limit: int | None = None) -> list[AuditRow]:
        sql = "SELECT id, at, actor, action, target, result, detail FROM audit ORDER BY id DESC"
        rows = self.conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
        return [AuditRow(r[0], from_text(r[1]), r[2], r[3], r[4], r[5], json.loads(r[6])) for r in reversed(rows)]


class Registry:
    """The SQLite file ``<state_dir>/ca.sqlite3``, one connection per thread."""

    def __init__(self, path: Path, *, durability: str = "full"):
        self.path = Path(path)
        self._synchronous = "FULL" if durability == "full" else "NORMAL"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self._create_schema()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StateError("憑證中心登錄資料庫已關閉。")
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _create_schema(self) -> None:
        # Idempotent statements in one script and one transaction, so two
        # processes opening a new registry at once both succeed.
        conn = self.connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version in (0, 1):
            # A new registry, or schema 1's (no authorizations): the script's statements are idempotent.
            conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        elif version != SCHEMA_VERSION:
            raise StateError(f"登錄資料庫版本 {version} 不受支援（本程式為 {SCHEMA_VERSION}）：{self.path}")

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A write transaction: committed if the block ends, rolled back if it raises."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield Transaction(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read transaction: one consistent snapshot for the whole block."""
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            yield Transaction(conn)
        finally:
            conn.execute("COMMIT")

    def bind_issuer(self, key_id: str, where: Path) -> None:
        """The registry belongs to the issuing key ``key_id`` (its SubjectKeyIdentifier, hex),
        remembered on first start; another key beside it stops the CA."""
        with self.read() as tx:
            stored = tx.meta("issuer_key_id")
        if stored is None:
            with self.write() as tx:
                stored = tx.meta("issuer_key_id") or key_id
                tx.set_meta("issuer_key_id", stored)
        if stored != key_id:
            raise StateError(f"登錄資料庫與發證金鑰不符：{where}")

    def status_version(self) -> int:
        return int(self.connection().execute("SELECT value FROM meta WHERE key = 'status_version'").fetchone()[0])

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, for comparisons (tests, audits)."""
        with self.read() as tx:
            # The table names are ours (TABLES), not input.
            return {t: tx.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in TABLES}  # noqa: S608

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
