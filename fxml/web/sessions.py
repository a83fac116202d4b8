"""Server-side sessions in SQLite, with cookies a bank would set, and CSRF tokens.

The browser holds only a random session id (256 bits) in a cookie that is
``HttpOnly`` and ``SameSite=Lax``, scoped to the app's path; the data stays
on the server. :meth:`SessionStore.rotate` gives a logged-in user a new id
(the old one is deleted), so an id planted before login is worth nothing
after it. Every session carries a CSRF token (synchronizer token pattern):
forms embed it, and :func:`check_csrf` compares it in constant time.

Cookies do not separate ports: the bank's systems and the platform, all on
127.0.0.1, would see each other's cookies, so every app names its own.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fxml.web.errors import WebError, WebErrorCode
from fxml.web.sqlite import SqliteFile

CSRF_FIELD = "csrf_token"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    id TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL
)
"""


class CsrfError(WebError):
    """A form without its session's CSRF token (or with another one): CSRF_FAILED, 403."""

    def __init__(self) -> None:
        super().__init__(WebErrorCode.CSRF_FAILED)


@dataclass
class Session:
    """One browser's session: its id, its data, whether it is stored yet (``new``: not) and whether
    its data changed since it was loaded (``dirty``: :meth:`SessionStore.save` writes it then)."""

    id: str
    data: dict[str, Any] = field(default_factory=dict)
    new: bool = False
    dirty: bool = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.dirty = True

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def pop(self, key: str, default: Any = None) -> Any:
        self.dirty = True
        return self.data.pop(key, default)

    @property
    def csrf_token(self) -> str:
        token = self.data.get(CSRF_FIELD)
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            self[CSRF_FIELD] = token
        return token


@dataclass(frozen=True)
class CookiePolicy:
    name: str
    path: str = "/"
    max_age: int = 20 * 60  # the bank's idle timeout
    same_site: str = "lax"
    secure: bool = False  # loopback HTTP; a TLS deployment sets True


class SessionStore(SqliteFile):
    """Sessions of one app in a SQLite file (its own table; :class:`~fxml.web.sqlite.SqliteFile`:
    WAL, one connection per thread)."""

    def __init__(self, path: Path, policy: CookiePolicy, clock: Any = time.time):
        super().__init__(path)
        self.policy = policy
        self._clock = clock
        self.connection().execute(_SCHEMA)

    # -- load and save --------------------------------------------------------------------
    def load(self, request: Request) -> Session:
        """The request's session, or a new, empty one (not stored until it gets data)."""
        sid = request.cookies.get(self.policy.name)
        if sid:
            row = self.connection().execute(
                "SELECT data FROM web_sessions WHERE id = ? AND expires > ?", (sid, self._clock())
            ).fetchone()
            if row is not None:
                return Session(sid, json.loads(row[0]))
        return Session(secrets.token_urlsafe(32), new=True)

    def save(self, session: Session, response: Response) -> None:
        """Set the session's cookie, renewing its idle timeout; its data is written when it changed
        (or is not stored yet). A session without data is neither stored nor given a cookie."""
        if not session.data:
            return
        now = self._clock()
        expires = now + self.policy.max_age
        conn = self.connection()
        touched = not (session.dirty or session.new) and conn.execute(
            "UPDATE web_sessions SET expires = ? WHERE id = ?", (expires, session.id)).rowcount == 1
        if not touched:
            conn.execute(
                "INSERT INTO web_sessions(id, data, created, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data, expires = excluded.expires",
                (session.id, json.dumps(session.data, ensure_ascii=False), now, expires),
            )
            session.new = session.dirty = False
        self._set_cookie(response, session.id)

    def rotate(self, session: Session) -> Session:
        """The same data under a new id (at login); the old id is forgotten."""
        self.delete(session)
        return Session(secrets.token_urlsafe(32), dict(session.data), new=True, dirty=True)

    def delete(self, session: Session) -> None:
        self.connection().execute("DELETE FROM web_sessions WHERE id = ?", (session.id,))

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(self.policy.name, path=self.policy.path, httponly=True,
                               samesite=self.policy.same_site)  # type: ignore[arg-type]

    def purge(self) -> int:
        """Forget expired sessions; how many."""
        return self.connection().execute("DELETE FROM web_sessions WHERE expires <= ?", (self._clock(),)).rowcount

    def _set_cookie(self, response: Response, sid: str) -> None:
        response.set_cookie(
            self.policy.name, sid, max_age=self.policy.max_age, path=self.policy.path, httponly=True,
            samesite=self.policy.same_site, secure=self.policy.secure,  # type: ignore[arg-type]
        )


def check_csrf(session: Session, form: Mapping[str, Any]) -> None:
    """Refuse a form whose CSRF token is missing or not its session's."""
    expected = session.get(CSRF_FIELD)
    given = form.get(CSRF_FIELD)
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(expected, given):
        raise CsrfError
