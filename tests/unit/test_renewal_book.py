"""The platform's record of renewals (fxml/platform/renewals.py): compare-and-set
moves by the rules both stores share, one open renewal per certificate, renewal
tokens, and the record API in process (Starlette's TestClient)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.testclient import TestClient

from fxml.clock import TAIWAN, FixedClock
from fxml.platform.renewals import SECRET_FILE, RenewalBook, load_secret, renewal_routes
from fxml.platform.store import STORE_FILE
from fxml.renewal import api
from fxml.renewal.memory import MemoryRecords
from fxml.renewal.model import ENGINE_STATES, RecordError, RecordErrorCode, RenewalRecord, State

NOW = datetime(2023, 4, 17, 11, 24, 39, tzinfo=TAIWAN)
HOLDER, SERIAL, CN = "63880571", "5ED369743F009022C86F81242EF662BD", "63880571-00-2015"

#: Fields each engine move sets, as the engine sets them.
FIELDS: dict[State, dict[str, str]] = {
    State.KEY_PENDING: {"card_serial": "TWCA-TEST-0000000063", "container": "9C"},
    State.KEY_GENERATED: {"public_key": "MIIBIjANBgkq"},
    State.CSR_SIGNED: {"csr": "-----BEGIN CERTIFICATE REQUEST-----"},
    State.ISSUED: {"new_serial": "6E567090", "certificate": "-----BEGIN CERTIFICATE-----", "chain": "-----BEGIN"},
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def book(tmp_path: Path, clock: FixedClock) -> Iterator[RenewalBook]:
    opened = RenewalBook.open(tmp_path, clock)
    yield opened
    opened.close()


def to_terms(book: RenewalBook, record: RenewalRecord) -> RenewalRecord:
    record = book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED)
    return book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)


def refused(code: RecordErrorCode, call: Any, *args: Any, **kwargs: Any) -> RecordError:
    with pytest.raises(RecordError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


# -- the rules, in both stores ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["book", "memory"])
def test_a_renewal_moves_through_every_state_once(book: RenewalBook, clock: FixedClock, kind: str) -> None:
    if kind == "book":
        created = book.create(HOLDER, SERIAL, CN)
        store: Any = book.records(created.renewal_id)
        assert created.state == State.SELECTED and created.request_id.endswith(created.renewal_id)
        store.advance(State.SELECTED, State.CONFIRMED)
        record = store.advance(State.CONFIRMED, State.TERMS_ACCEPTED)
    else:
        store = MemoryRecords.new(HOLDER, SERIAL, CN, clock=clock)
        record = store.get()
    assert record.state == State.TERMS_ACCEPTED
    for to in ENGINE_STATES:
        clock.advance(timedelta(seconds=1))
        # Skipping a state, or moving from one the record is not in, is refused.
        if to != State.DONE:
            refused(RecordErrorCode.BAD_TRANSITION, store.advance, record.state, State.DONE)
        refused(RecordErrorCode.STALE, store.advance, State.SELECTED, State.CONFIRMED)
        moved = store.advance(record.state, to, **FIELDS.get(to, {}))
        assert moved.state == to and moved.updated_at == clock.now().isoformat()
        # The same move again (its answer lost) is answered with the record unchanged.
        assert store.advance(record.state, to, **FIELDS.get(to, {})) == moved
        record = moved
    assert store.get() == record and record.new_serial == "6E567090" and record.container == "9C"


@pytest.mark.parametrize("kind", ["book", "memory"])
def test_fields_belong_to_their_state_and_are_written_once(book: RenewalBook, clock: FixedClock, kind: str) -> None:
    if kind == "book":
        store: Any = book.records(to_terms(book, book.create(HOLDER, SERIAL, CN)).renewal_id)
    else:
        store = MemoryRecords.new(HOLDER, SERIAL, CN, clock=clock)
    refused(RecordErrorCode.BAD_RECORD, store.advance, State.TERMS_ACCEPTED, State.KEY_PENDING)  # no container
    refused(RecordErrorCode.BAD_RECORD, store.advance, State.TERMS_ACCEPTED, State.KEY_PENDING,
            card_serial="S", container="9B")
    refused(RecordErrorCode.BAD_RECORD, store.advance, State.TERMS_ACCEPTED, State.KEY_PENDING,
            card_serial="S", container="9C", csr="x")
    refused(RecordErrorCode.BAD_RECORD, store.advance, State.TERMS_ACCEPTED, State.KEY_PENDING,
            card_serial="S", container="9C", state="done")
    assert store.get().state == State.TERMS_ACCEPTED
    store.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, card_serial="S", container="9C")
    # The same move with other values is not a retry: someone else made it.
    refused(RecordErrorCode.STALE, store.advance, State.TERMS_ACCEPTED, State.KEY_PENDING,
            card_serial="S", container="9A")
    refused(RecordErrorCode.BAD_RECORD, store.advance, State.KEY_PENDING, State.KEY_GENERATED)


@pytest.mark.parametrize("kind", ["book", "memory"])
def test_a_refusal_is_noted_and_cleared_by_the_next_move(book: RenewalBook, clock: FixedClock, kind: str) -> None:
    if kind == "book":
        store: Any = book.records(to_terms(book, book.create(HOLDER, SERIAL, CN)).renewal_id)
    else:
        store = MemoryRecords.new(HOLDER, SERIAL, CN, clock=clock)
    noted = store.fail("RENEWAL_WINDOW_NOT_OPEN", "憑證尚未進入可更新期間")
    assert (noted.state, noted.error_code, noted.error_message) == (
        State.TERMS_ACCEPTED, "RENEWAL_WINDOW_NOT_OPEN", "憑證尚未進入可更新期間")
    assert store.fail("RENEWAL_WINDOW_NOT_OPEN", "憑證尚未進入可更新期間") == noted
    refused(RecordErrorCode.BAD_RECORD, store.fail, "", "x")
    refused(RecordErrorCode.BAD_RECORD, store.fail, "X" * 65, "x")
    moved = store.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, **FIELDS[State.KEY_PENDING])
    assert moved.error_code is None and moved.error_message is None


@pytest.mark.parametrize("kind", ["book", "memory"])
@pytest.mark.parametrize("final", [State.DONE, State.CANCELLED])
def test_a_final_record_takes_no_refusal(book: RenewalBook, clock: FixedClock, kind: str, final: State) -> None:
    """A card refused on a finished renewal (NEW_KEY_NOT_ON_CARD: it does not hold the new
    key) cannot mark the renewal: the note is answered with the record unchanged."""
    if kind == "book":
        record = to_terms(book, book.create(HOLDER, SERIAL, CN))
        store: Any = book.records(record.renewal_id)
    else:
        store = MemoryRecords.new(HOLDER, SERIAL, CN, clock=clock)
    if final == State.CANCELLED:
        store.advance(State.TERMS_ACCEPTED, State.CANCELLED)
    else:
        state = State.TERMS_ACCEPTED
        for to in ENGINE_STATES:
            store.advance(state, to, **FIELDS.get(to, {}))
            state = to
    at = store.get()
    clock.set(NOW + timedelta(minutes=5))
    assert store.fail("NEW_KEY_NOT_ON_CARD", "此憑證載具中沒有此筆憑證更新產生的新金鑰") == at
    assert store.get() == at and at.state == final and at.error_code is None
    if kind == "book":
        assert "fail" not in [e[1] for e in book.events(at.renewal_id)]


# -- the book ----------------------------------------------------------------------------------------
def test_one_open_renewal_per_certificate(book: RenewalBook) -> None:
    first = book.create(HOLDER, SERIAL.lower(), CN)
    assert first.old_serial == SERIAL
    assert book.create(HOLDER, SERIAL, CN) == first  # found and resumed, never a second
    assert book.open_for(HOLDER, SERIAL) == first
    assert book.open_for(HOLDER, "ABCDEF") is None
    other = book.create(HOLDER, "ABCDEF", CN)
    assert other.renewal_id != first.renewal_id and other.request_id != first.request_id
    book.advance(first.renewal_id, State.SELECTED, State.CANCELLED)
    assert book.open_for(HOLDER, SERIAL) is None
    again = book.create(HOLDER, SERIAL, CN)
    assert again.renewal_id != first.renewal_id
    assert [r.renewal_id for r in book.for_holder(HOLDER)] == [first.renewal_id, other.renewal_id, again.renewal_id]
    # The database itself refuses a second open renewal.
    conn = sqlite3.connect(book.store.path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE renewals SET state = 'selected' WHERE renewal_id = ?", (first.renewal_id,))
    conn.close()


def test_a_holders_renewals_are_listed_by_the_instant_they_began_whatever_the_utc_offset(
        book: RenewalBook, clock: FixedClock) -> None:
    """created_at is the clock's ISO text, whose UTC offset may change between two renewals (a
    FileClock from the system's UTC to a fixed +08:00): oldest first means the oldest instant."""
    clock.set(NOW)                                                # 10:00:00+08:00
    middle = book.create(HOLDER, "AA", CN)
    clock.set((NOW + timedelta(minutes=1)).astimezone(UTC))       # 02:01:00+00:00: later, smaller text
    last = book.create(HOLDER, "BB", CN)
    clock.set(NOW - timedelta(minutes=1))                         # 09:59:00+08:00: earlier, made last
    first = book.create(HOLDER, "CC", CN)
    before = book.store.connection().execute("SELECT * FROM renewals ORDER BY rowid").fetchall()
    assert [r.renewal_id for r in book.for_holder(HOLDER)] == [first.renewal_id, middle.renewal_id, last.renewal_id]
    assert book.store.connection().execute("SELECT * FROM renewals ORDER BY rowid").fetchall() == before


def test_a_cancelled_or_finished_renewal_stays_so(book: RenewalBook) -> None:
    record = to_terms(book, book.create(HOLDER, SERIAL, CN))
    book.advance(record.renewal_id, State.TERMS_ACCEPTED, State.CANCELLED)
    for to in (State.SELECTED, State.KEY_PENDING, State.DONE):
        refused(RecordErrorCode.BAD_TRANSITION, book.advance, record.renewal_id, State.CANCELLED, to)
    refused(RecordErrorCode.UNKNOWN, book.get, "nope")
    refused(RecordErrorCode.UNKNOWN, book.advance, "nope", State.SELECTED, State.CONFIRMED)


def test_concurrent_movers_one_wins(book: RenewalBook) -> None:
    """Two tabs, a double click: ten threads make the same move from the same state; one
    move is recorded, the others are refused or (same fields) answered the same record."""
    record = to_terms(book, book.create(HOLDER, SERIAL, CN))
    outcomes: list[str] = []

    def mover(i: int) -> None:
        try:
            book.advance(record.renewal_id, State.TERMS_ACCEPTED, State.KEY_PENDING, card_serial="S",
                         container="9C" if i % 2 else "9A")
            outcomes.append("moved")
        except RecordError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=mover, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winner = book.get(record.renewal_id)
    assert winner.state == State.KEY_PENDING
    same = 5  # the threads that asked for the winner's container
    assert outcomes.count("moved") == same and outcomes.count(RecordErrorCode.STALE) == 10 - same
    assert [e[1] for e in book.events(record.renewal_id)] == ["create", "advance", "advance", "advance"]


def test_events_are_append_only(book: RenewalBook) -> None:
    record = book.create(HOLDER, SERIAL, CN)
    book.fail(record.renewal_id, "X", "y")
    assert [(e[1], e[2], e[3]) for e in book.events(record.renewal_id)] == [
        ("create", "selected", ""), ("fail", "selected", "X")]
    conn = sqlite3.connect(book.store.path)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM renewal_events")
    conn.close()


def test_the_secret_is_the_platforms_own(tmp_path: Path) -> None:
    secret = load_secret(tmp_path)
    assert load_secret(tmp_path) == secret and len(secret) == 32
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / STORE_FILE).exists() is False  # the secret is not in the database
    (tmp_path / SECRET_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="at least 32"):
        load_secret(tmp_path)


# -- tokens ---------------------------------------------------------------------------------------------
def test_tokens_are_bound_to_the_renewal_its_holder_and_their_minutes(
    book: RenewalBook, clock: FixedClock, tmp_path: Path
) -> None:
    record = book.create(HOLDER, SERIAL, CN)
    other = book.create("A123456789", SERIAL, "A123456789-00-2015")
    token = book.token(record.renewal_id)
    assert api.renewal_id_of(token) == record.renewal_id
    assert book.check_token(token, record.renewal_id) == record
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, token, other.renewal_id)
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, None, record.renewal_id)
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, token[:-2] + "xx", record.renewal_id)
    # Signed by another platform, or for another audience with this platform's key.
    stranger = RenewalBook.open(tmp_path / "other", clock)
    stranger_record = stranger.create(HOLDER, SERIAL, CN)
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, stranger.token(stranger_record.renewal_id),
            stranger_record.renewal_id)
    stranger.close()
    forged = book._tokens.dumps({"aud": "fxml-platform", "rid": record.renewal_id, "holder": HOLDER})
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, forged, record.renewal_id)
    other_holder = book._tokens.dumps({"aud": api.TOKEN_AUDIENCE, "rid": record.renewal_id, "holder": "X"})
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, other_holder, record.renewal_id)
    # A ticket-style serializer with the same key but not the renewal salt does not pass.
    assert isinstance(book._tokens, URLSafeTimedSerializer)
    clock.advance(timedelta(seconds=api.TOKEN_MAX_AGE))
    assert book.check_token(token, record.renewal_id) == record
    clock.advance(timedelta(seconds=1))
    refused(RecordErrorCode.BAD_TOKEN, book.check_token, token, record.renewal_id)


# -- the record API ----------------------------------------------------------------------------------------
@pytest.fixture
def http(book: RenewalBook) -> TestClient:
    return TestClient(Starlette(routes=renewal_routes(book)))


def test_the_record_api(book: RenewalBook, http: TestClient) -> None:
    record = to_terms(book, book.create(HOLDER, SERIAL, CN))
    auth = {api.HEADER: api.bearer(book.token(record.renewal_id))}
    path = api.Paths.RENEWAL.format(renewal_id=record.renewal_id)
    got = http.get(path, headers=auth)
    assert got.status_code == 200 and got.json() == {"renewal": record.to_json()}

    advance = api.Paths.ADVANCE.format(renewal_id=record.renewal_id)
    body = {"expected": "terms_accepted", "to": "key_pending", "fields": FIELDS[State.KEY_PENDING]}
    moved = http.post(advance, json=body, headers=auth)
    assert moved.status_code == 200 and moved.json()["renewal"]["state"] == "key_pending"
    assert http.post(advance, json=body, headers=auth).json() == moved.json()  # a retry

    stale = http.post(advance, json={**body, "fields": {"card_serial": "S", "container": "9A"}}, headers=auth)
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "RENEWAL_STALE"
    assert stale.json()["error"]["renewal"]["state"] == "key_pending"

    bad = http.post(advance, json={"expected": "key_pending", "to": "done", "fields": {}}, headers=auth)
    assert (bad.status_code, bad.json()["error"]["code"]) == (409, "RENEWAL_BAD_TRANSITION")
    for junk in ({"expected": "nope", "to": "done"}, {"expected": "key_pending", "to": "key_generated", "fields": []}):
        answer = http.post(advance, json=junk, headers=auth)
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "RENEWAL_BAD_RECORD")
    answer = http.post(advance, content=b"not json", headers=auth)
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "RENEWAL_BAD_RECORD")

    fail = api.Paths.FAIL.format(renewal_id=record.renewal_id)
    message = "無法連線至憑證中心，請稍後再試。"
    noted = http.post(fail, json={"code": "CA_UNREACHABLE", "message": message}, headers=auth)
    assert noted.status_code == 200 and noted.json()["renewal"]["error_message"] == message


def test_the_record_api_needs_the_renewals_token(book: RenewalBook, http: TestClient) -> None:
    record = book.create(HOLDER, SERIAL, CN)
    other = book.create(HOLDER, "ABCDEF", CN)
    path = api.Paths.RENEWAL.format(renewal_id=record.renewal_id)
    for headers in ({}, {api.HEADER: "Basic abc"}, {api.HEADER: api.bearer("forged")},
                    {api.HEADER: api.bearer(book.token(other.renewal_id))}):
        answer = http.get(path, headers=headers)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "RENEWAL_BAD_TOKEN"
        assert "renewal" not in answer.json()["error"]
        assert answer.headers["www-authenticate"].startswith("Bearer")
    moved = http.post(api.Paths.ADVANCE.format(renewal_id=record.renewal_id),
                      json={"expected": "selected", "to": "confirmed", "fields": {}})
    assert moved.status_code == 401 and book.get(record.renewal_id).state == State.SELECTED
    unknown = http.get(api.Paths.RENEWAL.format(renewal_id="nope"),
                       headers={api.HEADER: api.bearer(book.token(record.renewal_id))})
    assert unknown.status_code == 401  # the token names another renewal
