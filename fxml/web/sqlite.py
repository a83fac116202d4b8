"""One SQLite file shared by a server's threads and by other processes.

The web servers keep their records in SQLite: the platform's used tickets and
renewals, the bank's customers and step 9, every app's sessions. They open it
the same way, here: WAL (readers never wait for a writer), ``synchronous=NORMAL``
(a commit survives the process being killed, the fault the tests make; only an
OS crash or power cut may lose the last ones; FULL costs an fsync per commit),
one autocommit connection per thread, and every change in one
``BEGIN IMMEDIATE`` transaction, so that two processes writing at once take
turns instead of failing half-way.

Also here: the single-use ids of signed requests (tickets, nonces), kept until
they expire, with expiries stored as Unix time.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class SqliteFile:
    """``path``, opened as the module describes; ``foreign_keys`` turns SQLite's checks on."""

    def __init__(self, path: Path, *, foreign_keys: bool = False):
        self.path = Path(path)
        self._foreign_keys = foreign_keys
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit), for reads and single statements."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if self._foreign_keys:
                conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection in a write transaction: committed at the end of the
        block, rolled back if it raises."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()


def unix_time(instant: datetime) -> int:
    """``instant`` as whole Unix seconds, rounded up (an expiry is never brought forward)."""
    return math.ceil(instant.timestamp())


def first_use(file: SqliteFile, table: str, column: str, value: str, expires: datetime, now: datetime) -> bool:
    """Record ``value`` in ``table`` (``column`` its primary key, ``expires`` Unix time) until
    ``expires``; False if it is there already (a replay). Expired values are forgotten first.
    Expiry and now are compared as Unix times, whatever UTC offset the clock gave them."""
    with file.transaction() as conn:
        conn.execute(f"DELETE FROM {table} WHERE expires < ?", (now.timestamp(),))  # noqa: S608 - our names
        try:
            conn.execute(f"INSERT INTO {table}({column}, expires) VALUES (?, ?)",  # noqa: S608 - our names
                         (value, unix_time(expires)))
        except sqlite3.IntegrityError:
            return False
    return True


def expiry_is_text(conn: sqlite3.Connection, table: str) -> bool:
    """Whether ``table.expires`` is still declared TEXT (an ISO time, as files once had it)."""
    row = conn.execute("SELECT type FROM pragma_table_info(?) WHERE name = 'expires'", (table,)).fetchone()
    return row is not None and str(row[0]).upper() == "TEXT"


def expiry_to_unix_time(conn: sqlite3.Connection, table: str, column: str) -> None:
    """``table`` (``column`` its primary key) rebuilt with ``expires`` as Unix time instead of ISO
    text, in the caller's transaction: ISO texts with different UTC offsets do not compare as
    the instants they name. A value that is not an ISO time with an offset (none was ever
    written) is dropped."""
    kept = []
    for value, expires in conn.execute(f"SELECT {column}, expires FROM {table}").fetchall():  # noqa: S608
        try:
            instant = datetime.fromisoformat(str(expires))
        except ValueError:
            continue
        if instant.tzinfo is not None:
            kept.append((value, unix_time(instant)))
    conn.execute(f"DROP TABLE {table}")
    conn.execute(f"CREATE TABLE {table} ({column} TEXT PRIMARY KEY, expires INTEGER NOT NULL)")
    conn.executemany(f"INSERT INTO {table}({column}, expires) VALUES (?, ?)", kept)  # noqa: S608
