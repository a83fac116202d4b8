"""The platform's own records, in one SQLite file: tickets already used, and
(with the renewal engine) the authoritative record of every renewal.

A used ticket is kept until its expiry, Unix time (an INTEGER): a file whose
``used_tickets.expires`` is still the ISO text it once was (texts with different
UTC offsets do not compare as instants) is converted when it is opened."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fxml.web.sqlite import SqliteFile, expiry_is_text, expiry_to_unix_time, first_use

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


class PlatformStore(SqliteFile):
    """``<state_dir>/platform.sqlite3`` (:class:`~fxml.web.sqlite.SqliteFile`: WAL, one
    connection per thread, each change one transaction)."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.connection().executescript(_SCHEMA)  # executescript commits on its own
        if expiry_is_text(self.connection(), "used_tickets"):
            with self.transaction() as conn:
                if expiry_is_text(conn, "used_tickets"):  # another process may have converted it meanwhile
                    expiry_to_unix_time(conn, "used_tickets", "ticket_id")

    def first_use(self, ticket_id: str, expires: datetime, now: datetime) -> bool:
        """Record a ticket id; False if it was seen before (a replay). Expired ids are forgotten
        (expiry and now compared as Unix times, whatever UTC offset the clock gave them)."""
        return first_use(self, "used_tickets", "ticket_id", ticket_id, expires, now)

    def audit(self, at: datetime, actor: str, action: str, result: str, detail: str = "") -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO audit(at, actor, action, result, detail) VALUES (?, ?, ?, ?, ?)",
                         (at.isoformat(), actor, action, result, detail))

    def audit_log(self, limit: int = 100) -> list[tuple[str, str, str, str, str]]:
        rows = self.connection().execute(
            "SELECT at, actor, action, result, detail FROM audit ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [tuple(r) for r in reversed(rows)]

