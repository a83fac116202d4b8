"""The platform's own records, in one SQLite file: tickets already used, and
(with the renewal engine) the authoritative record of every renewal.

A used ticket is kept until its expiry, Unix time (an INTEGER): a file whose
``used_tickets.expires`` is still the ISO text it once was (texts with different
UTC offsets do not compare as instants) is converted when it is opened."""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

STORE_FILE = "platform.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS used_tickets (
    ticket_id TEXT PRIMARY KEY,
    expires INTEGER NOT NULL  -- Unix time
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    result TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
"""


class PlatformStore:
    """``<state_dir>/platform.sqlite3``; WAL, one connection per thread, each change one transaction."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._conn().executescript(_SCHEMA)  # executescript commits on its own
        if _expiry_is_text(self._conn()):
            with self.transaction() as conn:
                if _expiry_is_text(conn):  # another process may have converted it meanwhile
                    _ticket_expiry_to_unix_time(conn)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives the process being killed (the fault the tests make);
            # only an OS crash or power cut may lose the last ones. FULL costs an fsync per commit.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit), for reads and for creating a table of one's own."""
        return self._conn()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def first_use(self, ticket_id: str, expires: datetime, now: datetime) -> bool:
        """Record a ticket id; False if it was seen before (a replay). Expired ids are forgotten
        (expiry and now compared as Unix times, whatever UTC offset the clock gave them)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM used_tickets WHERE expires < ?", (now.timestamp(),))
            try:
                conn.execute("INSERT INTO used_tickets(ticket_id, expires) VALUES (?, ?)",
                             (ticket_id, math.ceil(expires.timestamp())))
            except sqlite3.IntegrityError:
                return False
        return True

    def audit(self, at: datetime, actor: str, action: str, result: str, detail: str = "") -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO audit(at, actor, action, result, detail) VALUES (?, ?, ?, ?, ?)",
                         (at.isoformat(), actor, action, result, detail))

    def audit_log(self, limit: int = 100) -> list[tuple[str, str, str, str, str]]:
        rows = self._conn().execute(
            "SELECT at, actor, action, result, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [tuple(r) for r in reversed(rows)]


def _expiry_is_text(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT type FROM pragma_table_info('used_tickets') WHERE name = 'expires'").fetchone()
    return row is not None and str(row[0]).upper() == "TEXT"


def _ticket_expiry_to_unix_time(conn: sqlite3.Connection) -> None:
    """``used_tickets.expires`` from ISO text to Unix time, in the caller's transaction.
    A value that is not an ISO time with an offset (none was ever written) is dropped."""
    kept = []
    for ticket_id, expires in conn.execute("SELECT ticket_id, expires FROM used_tickets").fetchall():
        try:
            instant = datetime.fromisoformat(str(expires))
        except ValueError:
            continue
        if instant.tzinfo is not None:
            kept.append((ticket_id, math.ceil(instant.timestamp())))
    conn.execute("DROP TABLE used_tickets")
    conn.execute("CREATE TABLE used_tickets (ticket_id TEXT PRIMARY KEY, expires INTEGER NOT NULL)")
    conn.executemany("INSERT INTO used_tickets(ticket_id, expires) VALUES (?, ?)", kept)
