"""The platform's entrance: tickets (signed, short-lived, single use, bound to their
audience) and the platform's own session, in process (Starlette's TestClient).
The same flows run through chromium in features/步驟1_登入憑證管理平台.feature."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer
from starlette.testclient import TestClient

from fxml.clock import TAIWAN, FixedClock
from fxml.platform import tickets
from fxml.platform.app import MENU, Platform, PlatformSettings
from fxml.platform.store import STORE_FILE, PlatformStore
from fxml.web import labels

KEY = b"k" * 32
NOW = datetime(2023, 4, 17, 11, 13, 42, tzinfo=TAIWAN)


def ticket(**changes: object) -> tickets.Ticket:
    fields: dict[str, object] = {
        "system": tickets.System.CORPORATE, "customer_id": "04595257", "customer_name": "虛構測試貿易股份有限公司",
        "user_code": "SUPER001", "customer_type": 4, "holder_id": "04595257",
        "return_url": "http://127.0.0.1:9/corporate/menu",
    }
    fields.update(changes)
    return tickets.Ticket(**fields)  # type: ignore[arg-type]


class Seen:
    def __init__(self) -> None:
        self.ids: set[str] = set()

    def __call__(self, ticket_id: str, expires: datetime) -> bool:
        if ticket_id in self.ids:
            return False
        self.ids.add(ticket_id)
        return True


def refused(text: str | None, code: tickets.TicketErrorCode, clock: FixedClock, seen: Seen | None = None) -> None:
    with pytest.raises(tickets.TicketError) as caught:
        tickets.verify(text, KEY, clock, first_use=seen or Seen())
    assert caught.value.code == code
    assert "憑證管理平台" in caught.value.message


def test_a_ticket_carries_who_and_from_where() -> None:
    clock = FixedClock(NOW)
    got = tickets.verify(tickets.issue(ticket(), KEY, clock), KEY, clock, first_use=Seen())
    assert (got.system, got.customer_id, got.user_code, got.customer_type) == ("corporate", "04595257", "SUPER001", 4)
    assert got.ticket_id and got.audience == tickets.AUDIENCE


def test_a_ticket_expires_after_its_seconds() -> None:
    clock = FixedClock(NOW)
    text = tickets.issue(ticket(), KEY, clock)
    clock.advance(timedelta(seconds=tickets.MAX_AGE))
    tickets.verify(text, KEY, clock, first_use=Seen())  # exactly MAX_AGE: still good
    clock.advance(timedelta(seconds=1))
    refused(text, tickets.TicketErrorCode.TICKET_EXPIRED, clock)


def test_a_ticket_is_used_once() -> None:
    clock = FixedClock(NOW)
    text = tickets.issue(ticket(), KEY, clock)
    seen = Seen()
    tickets.verify(text, KEY, clock, first_use=seen)
    refused(text, tickets.TicketErrorCode.TICKET_REPLAYED, clock, seen)


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"),  # the signature
    lambda t: "x" + t,  # the payload
    lambda t: t.split(".")[0],  # no signature
    lambda t: "",
])
def test_a_tampered_or_foreign_ticket_is_refused(tamper: object) -> None:
    clock = FixedClock(NOW)
    text = tamper(tickets.issue(ticket(), KEY, clock))  # type: ignore[operator]
    code = tickets.TicketErrorCode.TICKET_MISSING if not text else tickets.TicketErrorCode.TICKET_FORGED
    refused(text, code, clock)
    refused(tickets.issue(ticket(), b"z" * 32, clock), tickets.TicketErrorCode.TICKET_FORGED, clock)


def test_a_ticket_for_another_audience_is_refused() -> None:
    clock = FixedClock(NOW)
    refused(tickets.issue(ticket(audience="bank-transfer"), KEY, clock),
            tickets.TicketErrorCode.TICKET_WRONG_AUDIENCE, clock)


def test_a_signed_payload_of_the_wrong_shape_is_forged_not_a_crash() -> None:
    clock = FixedClock(NOW)
    serializer = tickets._serializer(KEY, clock)
    assert isinstance(serializer, URLSafeTimedSerializer)
    for payload in ([1, 2], {"system": "bank"}, {**ticket().to_json(), "customer_type": "4", "ticket_id": "x"}):
        refused(serializer.dumps(payload), tickets.TicketErrorCode.TICKET_FORGED, clock)


# -- the platform app -----------------------------------------------------------------------
@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[TestClient, FixedClock, Platform]]:
    clock = FixedClock(NOW)
    app = Platform(PlatformSettings(state_dir=tmp_path / "platform", ticket_key=KEY, clock=clock))
    with TestClient(app.app(), base_url="http://127.0.0.1:8601") as client:
        yield client, clock, app


def test_entry_opens_a_session_and_shows_the_frame(platform: tuple[TestClient, FixedClock, Platform]) -> None:
    client, clock, _ = platform
    answer = client.get("/entry", params={"ticket": tickets.issue(ticket(), KEY, clock)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "fxml_platform_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get("/")
    assert page.status_code == 200
    for label, _path in MENU:
        assert f">{label}</a>" in page.text or f">{label}</button>" in page.text
    assert labels.PLATFORM_TITLE in page.text and "虛構測試貿易股份有限公司" in page.text
    assert "112/04/17" in page.text and "11:13:42" in page.text


def test_every_item_of_the_manuals_menu_has_its_page(platform: tuple[TestClient, FixedClock, Platform]) -> None:
    """The manual's left menu, in its words: each item opens a page of that title in the frame (none
    says the simulation does not provide it). The CA and the bank are absent here: a page that needs
    them says so in the frame, under its title."""
    client, clock, _ = platform
    client.get("/entry", params={"ticket": tickets.issue(ticket(), KEY, clock)})
    home = client.get("/")
    manual = ("憑證申請", "憑證下載", "憑證更新", "憑證查詢", "憑證證明單列印", "憑證載具密碼變更", "憑證暫禁")
    links = dict(re.findall(r'<a href="(/[a-z-]*)"[^>]*>([^<]+)</a>', home.text))
    assert [links.get(path) for path in links if links[path] in manual] == list(manual)
    for path, label in links.items():
        if label not in manual:
            continue
        page = client.get(path)
        assert "尚未提供" not in page.text, label
        titled = re.search(rf"<h1[^>]*>[^<]*{label}", page.text) or f"<title>{label}" in page.text
        assert titled, (label, page.text[:2000])


def test_nothing_is_reachable_without_a_ticket(platform: tuple[TestClient, FixedClock, Platform]) -> None:
    client, _, _ = platform
    for _label, path in MENU[:-1]:
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert 'data-code="TICKET_MISSING"' in answer.text
        assert "請由網路銀行或 EOI 系統登入後，再進入憑證管理平台。" in answer.text


def test_a_replayed_entry_is_refused_and_opens_nothing(platform: tuple[TestClient, FixedClock, Platform]) -> None:
    client, clock, app = platform
    text = tickets.issue(ticket(), KEY, clock)
    client.get("/entry", params={"ticket": text})
    client.cookies.clear()
    again = client.get("/entry", params={"ticket": text}, follow_redirects=False)
    assert again.status_code == 403 and 'data-code="TICKET_REPLAYED"' in again.text
    assert "set-cookie" not in again.headers
    assert client.get("/").status_code == 401
    assert [row[3] for row in app.store.audit_log()] == ["OK", "TICKET_REPLAYED"]


def test_back_home_closes_the_session_and_returns_to_the_system(
    platform: tuple[TestClient, FixedClock, Platform],
) -> None:
    client, clock, _ = platform
    client.get("/entry", params={"ticket": tickets.issue(ticket(), KEY, clock)})
    peek = client.get("/home", follow_redirects=False)  # a GET only leads back
    assert peek.status_code == 303 and peek.headers["location"] == "http://127.0.0.1:9/corporate/menu"
    assert client.get("/").status_code == 200
    forged = client.post("/home", data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and client.get("/").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text)
    assert token is not None
    back = client.post("/home", data={"csrf_token": token.group(1)}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "http://127.0.0.1:9/corporate/menu"
    assert client.get("/renew").status_code == 401


def test_a_session_id_planted_before_entry_is_not_the_one_after(
    platform: tuple[TestClient, FixedClock, Platform],
) -> None:
    client, clock, _ = platform

    def enter(who: str) -> str:
        answer = client.get("/entry", params={"ticket": tickets.issue(ticket(user_code=who), KEY, clock)},
                            follow_redirects=False)
        return answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]

    planted = enter("ATTACKER1")  # a valid id, planted in the victim's browser
    victims = enter("SUPER001")  # the victim enters with that cookie present
    assert victims != planted
    client.cookies.clear()
    client.cookies.set("fxml_platform_session", planted, domain="127.0.0.1", path="/")
    assert client.get("/").status_code == 401  # the planted id was forgotten at entry


def test_pages_carry_the_security_headers(platform: tuple[TestClient, FixedClock, Platform]) -> None:
    client, _, _ = platform
    answer = client.get("/")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY" and answer.headers["cache-control"] == "no-store"


def test_errors_carry_the_security_headers_and_say_what_happened(tmp_path: Path) -> None:
    """A bug's 500, a missing page, a body over the limit: the project's answer, with the
    security headers (Starlette's error layer used to sit outside them)."""
    from starlette.requests import Request
    from starlette.routing import Route

    async def broken(request: Request) -> None:
        raise RuntimeError("a bug")

    async def reads(request: Request) -> None:
        await request.body()

    clock = FixedClock(NOW)
    app = Platform(PlatformSettings(state_dir=tmp_path / "p", ticket_key=KEY, clock=clock, extra_routes=(
        Route("/api/broken", broken), Route("/broken", broken), Route("/api/reads", reads, methods=["POST"]))))
    with TestClient(app.app(), base_url="http://127.0.0.1:8601", raise_server_exceptions=False) as client:
        api_error = client.get("/api/broken")
        page_error = client.get("/broken")
        missing = client.get("/nowhere")
        too_big = client.post("/api/reads", content=b"x" * (128 * 1024))
        wrong_method = client.post("/api/broken")
    assert api_error.status_code == 500 and api_error.json()["error"]["code"] == "INTERNAL_ERROR"
    assert page_error.status_code == 500 and 'data-code="INTERNAL_ERROR"' in page_error.text
    assert "a bug" not in page_error.text and "Traceback" not in page_error.text
    assert missing.status_code == 404 and 'data-code="NOT_FOUND"' in missing.text
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    for answer in (api_error, page_error, missing, too_big, wrong_method):
        assert answer.headers["x-frame-options"] == "DENY" and "script-src 'self'" in answer.headers[
            "content-security-policy"], answer


# -- used tickets across a change of the clock's UTC offset --------------------------------------------
@pytest.mark.parametrize(("first", "then"), [(NOW.astimezone(UTC), TAIWAN), (NOW, UTC)])
def test_a_ticket_replayed_after_the_clock_changes_its_utc_offset_is_refused(
        tmp_path: Path, first: datetime, then: timezone) -> None:
    """Used tickets are kept and forgotten by the instant: a clock that wrote the first entry in UTC
    and the next in +08:00 (or the other way round) does not make a used ticket new again."""
    clock = FixedClock(first)
    app = Platform(PlatformSettings(state_dir=tmp_path / "platform", ticket_key=KEY, clock=clock))
    with TestClient(app.app(), base_url="http://127.0.0.1:8601") as client:
        text = tickets.issue(ticket(), KEY, clock)
        assert client.get("/entry", params={"ticket": text}, follow_redirects=False).status_code == 303
        clock.set((first + timedelta(seconds=10)).astimezone(then))
        client.cookies.clear()
        other = tickets.issue(ticket(), KEY, clock)  # another entry sweeps the expired ids
        assert client.get("/entry", params={"ticket": other}, follow_redirects=False).status_code == 303
        client.cookies.clear()
        used = app.store.connection().execute("SELECT * FROM used_tickets ORDER BY rowid").fetchall()
        assert [expires for _, expires in used] == [int(first.timestamp()) + tickets.MAX_AGE,
                                                    int(first.timestamp()) + 10 + tickets.MAX_AGE]
        again = client.get("/entry", params={"ticket": text}, follow_redirects=False)
        assert again.status_code == 403 and 'data-code="TICKET_REPLAYED"' in again.text
        assert app.store.connection().execute("SELECT * FROM used_tickets ORDER BY rowid").fetchall() == used
        assert [row[3] for row in app.store.audit_log()] == ["OK", "OK", "TICKET_REPLAYED"]


def test_used_tickets_kept_as_iso_text_are_converted_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE used_tickets (ticket_id TEXT PRIMARY KEY, expires TEXT NOT NULL)")
        conn.executemany("INSERT INTO used_tickets VALUES (?, ?)", [
            ("kept", (NOW + timedelta(seconds=20)).isoformat()),
            ("utc", (NOW + timedelta(seconds=25)).astimezone(UTC).isoformat()),
            ("gone", (NOW - timedelta(seconds=1)).isoformat()),
            ("bad", "soon")])
        conn.execute("CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,"
                     " action TEXT NOT NULL, result TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')")
        conn.execute("INSERT INTO audit(at, actor, action, result) VALUES (?, 'x', 'entry', 'OK')", (NOW.isoformat(),))
    conn.close()
    store = PlatformStore(path)
    try:
        db = store.connection()
        assert db.execute("SELECT type FROM pragma_table_info('used_tickets') WHERE name = 'expires'"
                          ).fetchone()[0] == "INTEGER"
        assert db.execute("SELECT * FROM used_tickets ORDER BY rowid").fetchall() == [
            ("kept", int(NOW.timestamp()) + 20), ("utc", int(NOW.timestamp()) + 25), ("gone", int(NOW.timestamp()) - 1)]
        assert store.audit_log() == [(NOW.isoformat(), "x", "entry", "OK", "")]  # the rest as it was
        now = NOW.astimezone(UTC)
        assert not store.first_use("kept", now + timedelta(seconds=30), now)  # still refused as a replay
        assert not store.first_use("utc", now + timedelta(seconds=30), now)
        assert store.first_use("gone", now + timedelta(seconds=30), now)  # expired, forgotten: new again
    finally:
        store.close()
