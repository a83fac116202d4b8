"""The platform's authoritative record of every renewal, and the record API.

:class:`RenewalBook` keeps the records (:class:`~fxml.renewal.model.RenewalRecord`)
in the platform's SQLite file, in a table of their own. Every move is one
transaction and a compare-and-set: the mover says which state it saw, and
the rules of :mod:`fxml.renewal.rules` decide (the same rules the in-memory
store of the tests applies). At most one renewal of a certificate is open at
a time (a partial unique index says so): :meth:`RenewalBook.create` answers
the open one if there is one, so a second tab, a reload or a retry resumes
the renewal instead of starting another.

Renewal tokens (:meth:`RenewalBook.token`) let the card agent, which runs the
engine where the card is, read and move one renewal's record through the
record API (:func:`renewal_routes`, the contract in :mod:`fxml.renewal.api`):
signed with the platform's own secret (not the ticket key it shares with the
bank), bound to the renewal and its holder, for the audience ``fxml-renewal``,
valid :data:`~fxml.renewal.api.TOKEN_MAX_AGE` seconds on the stack's clock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fxml.clock import Clock
from fxml.platform.checks import MoveCheck
from fxml.platform.store import STORE_FILE, PlatformStore
from fxml.renewal import api
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RenewalRecord, State
from fxml.renewal.rules import FIELDS, apply_failure, apply_move
from fxml.web.body import BadJsonError, parse_json
from fxml.web.handlers import Door, principal

log = logging.getLogger(__name__)

#: The platform's own secret for renewal tokens, in its state folder (0600).
SECRET_FILE: Final = "renewal-token.key"  # noqa: S105 - a file name, not a secret
SECRET_BYTES: Final = 32
_SALT: Final = "fxmlsim.renewal-token.v1"

_COLUMNS: Final = (
    "renewal_id", "request_id", "holder_id", "old_serial", "old_cn", "state", "created_at", "updated_at",
    "card_serial", "container", "public_key", "csr", "new_serial", "certificate", "chain",
    "error_code", "error_message", "kind", "subject", "authorization_code",
)
_SELECT: Final = f"SELECT {', '.join(_COLUMNS)} FROM renewals"  # noqa: S608 - constant column names
_SETS: Final = ", ".join(f"{c} = ?" for c in _COLUMNS[5:])
_UPDATE: Final = f"UPDATE renewals SET {_SETS} WHERE renewal_id = ?"  # noqa: S608 - constant column names
_MARKS: Final = ", ".join("?" * len(_COLUMNS))
_INSERT: Final = f"INSERT INTO renewals({', '.join(_COLUMNS)}) VALUES ({_MARKS})"  # noqa: S608 - constant names
_CLOSED: Final = (State.DONE.value, State.CANCELLED.value)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS renewals (
    renewal_id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    holder_id TEXT NOT NULL,
    old_serial TEXT NOT NULL,
    old_cn TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    card_serial TEXT, container TEXT, public_key TEXT, csr TEXT,
    new_serial TEXT, certificate TEXT, chain TEXT,
    error_code TEXT, error_message TEXT,
    kind TEXT NOT NULL DEFAULT 'renewal', subject TEXT, authorization_code TEXT
);
CREATE INDEX IF NOT EXISTS renewals_by_holder ON renewals(holder_id);
-- Every change of every renewal, in order (append only).
CREATE TABLE IF NOT EXISTS renewal_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    renewal_id TEXT NOT NULL REFERENCES renewals(renewal_id),
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER IF NOT EXISTS renewal_events_append_only_u BEFORE UPDATE ON renewal_events
    BEGIN SELECT RAISE(ABORT, 'renewal_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS renewal_events_append_only_d BEFORE DELETE ON renewal_events
    BEGIN SELECT RAISE(ABORT, 'renewal_events is append-only'); END;
"""
#: What a book written before downloads lacks: the three columns of a download, and an index of open
#: records that tells the two kinds apart (one open renewal per certificate; one open download per
#: Common Name: a download has no old certificate, its ``old_serial`` is '').
_DOWNLOAD_COLUMNS: Final = (("kind", "TEXT NOT NULL DEFAULT 'renewal'"), ("subject", "TEXT"),
                            ("authorization_code", "TEXT"))
_OPEN_INDEX: Final = f"""
DROP INDEX IF EXISTS renewals_one_open;
CREATE UNIQUE INDEX IF NOT EXISTS renewals_one_open_of_kind ON renewals(kind, holder_id, old_serial, old_cn)
    WHERE state NOT IN ('{_CLOSED[0]}', '{_CLOSED[1]}');
"""


def _record(row: tuple[Any, ...]) -> RenewalRecord:
    data = dict(zip(_COLUMNS, row, strict=True))
    return RenewalRecord.from_json(data)


def select_columns() -> str:
    """``SELECT <every record column> FROM renewals``, for readers of the table (the bank link)."""
    return _SELECT


def record_from_row(row: tuple[Any, ...]) -> RenewalRecord:
    """A record from a row of :func:`select_columns`."""
    return _record(row)


class _ClockSigner(TimestampSigner):
    clock: Clock

    def get_timestamp(self) -> int:
        return int(self.clock.now().timestamp())


def _sha256(data: bytes = b"") -> Any:
    return hashlib.sha256(data)


def load_secret(state_dir: Path) -> bytes:
    """The platform's renewal-token secret in ``state_dir``, made (0600) on first use."""
    path = Path(state_dir) / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_bytes()
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"{path}: a renewal-token secret is at least {SECRET_BYTES} bytes") from None
        return secret
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        os.write(fd, secret)
        os.fsync(fd)
    finally:
        os.close(fd)
    return secret


class RenewalBook:
    """The renewals in the platform's SQLite file (``<state_dir>/platform.sqlite3``)."""

    def __init__(self, path: Path, clock: Clock, secret: bytes):
        if len(secret) < SECRET_BYTES:
            raise ValueError(f"a renewal-token secret is at least {SECRET_BYTES} bytes")
        self.clock = clock
        self.store = PlatformStore(path)
        self._durable = threading.local()
        #: Called (after the commit) with every renewal that reaches DONE: the bank's notice is owed.
        self.on_done: list[Callable[[RenewalRecord], None]] = []
        self._db().executescript(_SCHEMA)
        self._add_download_columns()
        signer = type("Signer", (_ClockSigner,), {"clock": clock})
        self._tokens = URLSafeTimedSerializer(secret, salt=_SALT, signer=signer,
                                              signer_kwargs={"digest_method": _sha256})

    def _add_download_columns(self) -> None:
        """A book of an earlier version gets the columns of downloads (its records are renewals)."""
        with self.store.transaction() as conn:
            have = {row[1] for row in conn.execute("PRAGMA table_info(renewals)")}
            for name, kind in _DOWNLOAD_COLUMNS:
                if name not in have:
                    conn.execute(f"ALTER TABLE renewals ADD COLUMN {name} {kind}")
        self._db().executescript(_OPEN_INDEX)

    @classmethod
    def open(cls, state_dir: Path, clock: Clock) -> RenewalBook:
        """The book of the platform whose state folder is ``state_dir``."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(state_dir / STORE_FILE, clock, load_secret(state_dir))

    def close(self) -> None:
        self.store.close()

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, committing with an fsync (synchronous=FULL).

        The platform's store commits with NORMAL (a commit survives the process
        being killed); a renewal's record is worth an fsync per move (a handful
        per renewal) so that it also survives an OS crash or a power cut: the
        record of KEY_PENDING, ISSUED ... must not be lost once the card or the
        CA acted on it.
        """
        conn = self.store.connection()
        if getattr(self._durable, "conn", None) is not conn:
            conn.execute("PRAGMA synchronous=FULL")
            self._durable.conn = conn
        return conn

    # -- reading ---------------------------------------------------------------------------------
    def get(self, renewal_id: str) -> RenewalRecord:
        """The record; RecordError UNKNOWN if there is none."""
        row = self._db().execute(f"{_SELECT} WHERE renewal_id = ?", (renewal_id,)).fetchone()
        if row is None:
            raise RecordError(RecordErrorCode.UNKNOWN, f"no renewal {renewal_id!r}")
        return _record(row)

    def open_for(self, holder_id: str, old_serial: str) -> RenewalRecord | None:
        """The unfinished renewal of this certificate, if there is one."""
        row = self._db().execute(
            f"{_SELECT} WHERE kind = ? AND holder_id = ? AND old_serial = ? AND state NOT IN (?, ?)",
            (Kind.RENEWAL.value, holder_id, old_serial.upper(), *_CLOSED),
        ).fetchone()
        return _record(row) if row else None

    def open_download(self, holder_id: str, cn: str) -> RenewalRecord | None:
        """The unfinished download of this Common Name, if there is one."""
        row = self._db().execute(
            f"{_SELECT} WHERE kind = ? AND holder_id = ? AND old_cn = ? AND state NOT IN (?, ?)",
            (Kind.DOWNLOAD.value, holder_id, cn, *_CLOSED),
        ).fetchone()
        return _record(row) if row else None

    def for_holder(self, holder_id: str, kind: Kind = Kind.RENEWAL) -> list[RenewalRecord]:
        """Every renewal (or download) of a holder, oldest first (by the instant: the ISO texts may
        carry different UTC offsets, so they are not compared as text)."""
        rows = self._db().execute(
            f"{_SELECT} WHERE holder_id = ? AND kind = ? ORDER BY julianday(created_at), rowid",
            (holder_id, kind.value),
        ).fetchall()
        return [_record(r) for r in rows]

    def events(self, renewal_id: str) -> list[tuple[str, str, str, str]]:
        """(at, kind, state, detail) of every change of a renewal, in order."""
        rows = self._db().execute(
            "SELECT at, kind, state, detail FROM renewal_events WHERE renewal_id = ? ORDER BY id", (renewal_id,)
        ).fetchall()
        return [tuple(r) for r in rows]

    # -- changing ----------------------------------------------------------------------------------
    def create(self, holder_id: str, old_serial: str, old_cn: str) -> RenewalRecord:
        """A new renewal of ``old_serial`` (SELECTED, with a new request id), or the
        one already open for it: never a second."""
        now = self.clock.now()
        serial = old_serial.upper()
        self._db()
        with self.store.transaction() as conn:
            row = conn.execute(f"{_SELECT} WHERE kind = ? AND holder_id = ? AND old_serial = ?"
                               " AND state NOT IN (?, ?)", (Kind.RENEWAL.value, holder_id, serial, *_CLOSED)).fetchone()
            if row is not None:
                return _record(row)
            renewal_id = uuid.uuid4().hex
            record = RenewalRecord(
                renewal_id=renewal_id, request_id=f"fxml-renewal-{renewal_id}", holder_id=holder_id,
                old_serial=serial, old_cn=old_cn, state=State.SELECTED,
                created_at=now.isoformat(), updated_at=now.isoformat(),
            )
            self._insert(conn, record)
        log.info("renewal %s of %s created", renewal_id, serial)
        return record

    def create_download(self, holder_id: str, cn: str, subject: str, authorization_code: str) -> RenewalRecord:
        """A new download of the certificate ``cn`` (SELECTED, with a new request id) with the 授權碼
        the CA's check accepted for it and the subject it named; or the download of ``cn`` already
        open. An open one with another code is replaced (cancelled) while no key exists yet; from
        KEY_PENDING on it is answered as it is: it finishes with the code it started with."""
        now = self.clock.now()
        self._db()
        with self.store.transaction() as conn:
            row = conn.execute(f"{_SELECT} WHERE kind = ? AND holder_id = ? AND old_cn = ? AND state NOT IN (?, ?)",
                               (Kind.DOWNLOAD.value, holder_id, cn, *_CLOSED)).fetchone()
            if row is not None:
                found = _record(row)
                if found.authorization_code == authorization_code or found.state.rank >= State.KEY_PENDING.rank:
                    return found
                cancelled = found.moved(State.CANCELLED, now)
                self._write(conn, found, cancelled)
                self._event(conn, cancelled, "advance", f"{found.state}→{cancelled.state} (another 授權碼)")
            download_id = uuid.uuid4().hex
            record = RenewalRecord(
                renewal_id=download_id, request_id=f"fxml-download-{download_id}", holder_id=holder_id,
                old_serial="", old_cn=cn, state=State.SELECTED, created_at=now.isoformat(),
                updated_at=now.isoformat(), kind=Kind.DOWNLOAD, subject=subject, authorization_code=authorization_code,
            )
            self._insert(conn, record)
        log.info("download %s of %s created", download_id, cn)
        return record

    def _insert(self, conn: sqlite3.Connection, record: RenewalRecord) -> None:
        data = record.to_json()
        conn.execute(_INSERT, [data[c] for c in _COLUMNS])
        self._event(conn, record, "create", "")

    def advance(self, renewal_id: str, expected: State, to: State, **fields: Any) -> RenewalRecord:
        """Compare-and-set: move the renewal from ``expected`` to ``to`` (see
        :meth:`fxml.renewal.model.RecordStore.advance`)."""
        self._db()
        with self.store.transaction() as conn:
            record = self._locked(conn, renewal_id)
            moved, changed = apply_move(record, State(expected), State(to), fields, self.clock.now())
            if changed:
                self._write(conn, record, moved)
                self._event(conn, moved, "advance", f"{record.state}→{moved.state}")
        if changed and moved.state is State.DONE:
            for listener in self.on_done:
                try:
                    listener(moved)
                except Exception:  # a listener never undoes or hides a committed move
                    log.exception("a listener of renewal %s failed", moved.renewal_id)
        return moved

    def fail(self, renewal_id: str, code: str, message: str) -> RenewalRecord:
        """Note the last refusal on the renewal (its state does not change)."""
        self._db()
        with self.store.transaction() as conn:
            record = self._locked(conn, renewal_id)
            noted = apply_failure(record, code, message, self.clock.now())
            if noted is not record:
                self._write(conn, record, noted)
                self._event(conn, noted, "fail", code)
        return noted

    def records(self, renewal_id: str) -> BookRecords:
        """This renewal's record as a RecordStore, in this process."""
        return BookRecords(self, renewal_id)

    def _locked(self, conn: sqlite3.Connection, renewal_id: str) -> RenewalRecord:
        row = conn.execute(f"{_SELECT} WHERE renewal_id = ?", (renewal_id,)).fetchone()
        if row is None:
            raise RecordError(RecordErrorCode.UNKNOWN, f"no renewal {renewal_id!r}")
        return _record(row)

    def _write(self, conn: sqlite3.Connection, before: RenewalRecord, after: RenewalRecord) -> None:
        data = after.to_json()
        cursor = conn.execute(f"{_UPDATE} AND state = ?", [*(data[c] for c in _COLUMNS[5:]), after.renewal_id,
                                                           before.state.value])
        if cursor.rowcount != 1:  # cannot happen inside BEGIN IMMEDIATE; refuse rather than guess
            raise RecordError(RecordErrorCode.STALE, "the renewal moved meanwhile", before)

    def _event(self, conn: sqlite3.Connection, record: RenewalRecord, kind: str, detail: str) -> None:
        conn.execute("INSERT INTO renewal_events(renewal_id, at, kind, state, detail) VALUES (?, ?, ?, ?, ?)",
                     (record.renewal_id, record.updated_at, kind, record.state.value, detail))

    # -- tokens --------------------------------------------------------------------------------------
    def token(self, renewal_id: str) -> str:
        """A renewal token for the card agent: this renewal, its holder, audience ``fxml-renewal``."""
        record = self.get(renewal_id)
        return self._tokens.dumps({"aud": api.TOKEN_AUDIENCE, "rid": record.renewal_id, "holder": record.holder_id})

    def check_token(self, token: str | None, renewal_id: str) -> RenewalRecord:
        """The renewal ``token`` allows access to; RecordError BAD_TOKEN (or UNKNOWN) otherwise."""
        if not token:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "no renewal token")
        try:
            data = self._tokens.loads(token, max_age=api.TOKEN_MAX_AGE)
        except SignatureExpired:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the renewal token has expired") from None
        except BadSignature:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the renewal token is not the platform's") from None
        if not isinstance(data, dict) or data.get("aud") != api.TOKEN_AUDIENCE:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the token is not a renewal token")
        if data.get("rid") != renewal_id:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the renewal token is for another renewal")
        record = self.get(renewal_id)
        if data.get("holder") != record.holder_id:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the renewal token is for another holder")
        return record


class BookRecords:
    """One renewal of a :class:`RenewalBook` as a :class:`~fxml.renewal.model.RecordStore`."""

    def __init__(self, book: RenewalBook, renewal_id: str):
        self.book = book
        self.renewal_id = renewal_id

    def get(self) -> RenewalRecord:
        return self.book.get(self.renewal_id)

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        return self.book.advance(self.renewal_id, expected, to, **fields)

    def fail(self, code: str, message: str) -> RenewalRecord:
        return self.book.fail(self.renewal_id, code, message)


# -- the record API ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RenewalGrant:
    """The record API's principal: a renewal token's bearer, for the one renewal it names."""

    renewal_id: str


def _answer(record: RenewalRecord) -> JSONResponse:
    return JSONResponse({"renewal": record.to_json()})


async def _json_body(request: Request) -> Mapping[str, Any]:
    try:
        data = parse_json(await request.body())  # at most api.MAX_BODY: the platform's body limit
    except BadJsonError:
        raise RecordError(RecordErrorCode.BAD_RECORD, "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise RecordError(RecordErrorCode.BAD_RECORD, "the request body is not a JSON object")
    return data


def _state(value: Any, name: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise RecordError(RecordErrorCode.BAD_RECORD, f"{name!r} is not a renewal state") from None


#: Every field some move may set.
ALL_FIELDS: Final = frozenset().union(*FIELDS.values())


def renewal_routes(book: RenewalBook, check: MoveCheck | None = None) -> list[Route]:
    """The record API's routes (:mod:`fxml.renewal.api`), for ``PlatformSettings.extra_routes``: each
    behind a door whose principal is the renewal token's grant (a refused token: RENEWAL_BAD_TOKEN, 401)."""

    def grant(request: Request, _session: object) -> RenewalGrant:
        renewal_id = str(request.path_params["renewal_id"])
        book.check_token(api.token_from_header(request.headers.get(api.HEADER)), renewal_id)
        return RenewalGrant(renewal_id)

    door: Door[RenewalGrant] = Door(
        identify=grant, stranger=lambda request: RecordError(RecordErrorCode.BAD_TOKEN, "no renewal token"),
        challenge=f'{api.SCHEME} realm="{api.TOKEN_AUDIENCE}"')

    async def get(request: Request) -> Response:
        return _answer(await run_in_threadpool(book.get, principal(request, RenewalGrant).renewal_id))

    async def advance(request: Request) -> Response:
        renewal_id = principal(request, RenewalGrant).renewal_id
        body = await _json_body(request)
        fields = body.get("fields") or {}
        if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
            raise RecordError(RecordErrorCode.BAD_RECORD, "'fields' must be an object")
        unknown = sorted(set(fields) - ALL_FIELDS)
        if unknown:
            raise RecordError(RecordErrorCode.BAD_RECORD, f"no move sets {unknown[0]!r}")
        expected, to = _state(body.get("expected"), "expected"), _state(body.get("to"), "to")

        def move() -> RenewalRecord:
            if check is not None:
                check(book.get(renewal_id), to, fields)
            return book.advance(renewal_id, expected, to, **fields)

        return _answer(await run_in_threadpool(move))

    async def fail(request: Request) -> Response:
        renewal_id = principal(request, RenewalGrant).renewal_id
        body = await _json_body(request)
        code, message = body.get("code"), body.get("message")
        if not isinstance(code, str) or not isinstance(message, str):
            raise RecordError(RecordErrorCode.BAD_RECORD, "'code' and 'message' must be text")
        return _answer(await run_in_threadpool(book.fail, renewal_id, code, message))

    return [
        Route(api.Paths.RENEWAL, door.json(get), methods=["GET"]),
        Route(api.Paths.ADVANCE, door.json(advance), methods=["POST"]),
        Route(api.Paths.FAIL, door.json(fail), methods=["POST"]),
    ]
