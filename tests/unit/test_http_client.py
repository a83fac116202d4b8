"""The engine's one HTTP client (fxml/http.py): what it retries and what it does not, one connection
per call, no proxies, the bank API's attempts each signed anew, and server-sent events read with a
deadline per event. Against a bare socket server that answers, or drops, each request as told."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from fxml import http
from fxml.clock import TAIWAN, FixedClock
from fxml.platform import bankapi
from tests.support.raw_http import Handler, RawServer, read_request


def answer(status: int, body: bytes = b"{}", kind: str = "application/json", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


@pytest.fixture
def servers() -> Iterator[list[RawServer]]:
    made: list[RawServer] = []
    yield made
    for server in made:
        server.close()


def serve(servers: list[RawServer], handle: Handler) -> RawServer:
    servers.append(RawServer(handle))
    return servers[-1]


def drops_first(count: int, then: bytes) -> Handler:
    seen = [0]

    def handle(request: bytes) -> bytes | None:
        seen[0] += 1
        return None if seen[0] <= count else then

    return handle


def test_a_call_safe_to_repeat_is_repeated_while_no_answer_comes(servers: list[RawServer]) -> None:
    server = serve(servers, drops_first(2, answer(200, b'{"ok": true}')))
    got = http.HttpClient(server.url).call("GET", "/x", retry=http.Retry(2, 0.01))
    assert (got.status, got.json(), len(server.requests)) == (200, {"ok": True}, 3)


def test_a_call_is_sent_once_unless_marked_safe_to_repeat(servers: list[RawServer]) -> None:
    server = serve(servers, drops_first(1, answer(200)))
    with pytest.raises(http.UnreachableError) as caught:
        http.HttpClient(server.url).call("POST", "/suspend", json={})
    assert caught.value.url == f"{server.url}/suspend" and len(server.requests) == 1


def test_the_last_failure_is_raised_once_the_retries_are_spent(servers: list[RawServer]) -> None:
    server = serve(servers, drops_first(10, answer(200)))
    started = time.monotonic()
    with pytest.raises(http.UnreachableError):
        http.HttpClient(server.url).call("GET", "/x", retry=http.Retry(2, 0.05))
    assert len(server.requests) == 3
    assert time.monotonic() - started >= 0.05 + 0.10  # delay, then twice the delay


def test_an_answer_is_never_retried_not_even_a_5xx(servers: list[RawServer]) -> None:
    server = serve(servers, lambda _: answer(503, b'{"error": {"code": "BUSY"}}'))
    got = http.HttpClient(server.url).call("GET", "/x", retry=http.Retry(2, 0.01))
    assert got.status == 503 and got.json() == {"error": {"code": "BUSY"}} and len(server.requests) == 1


def test_one_connection_per_call_and_no_proxy_from_the_environment(
        servers: list[RawServer], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    server = serve(servers, lambda _: answer(200))
    client = http.HttpClient(server.url)
    assert client.send("GET", "/a").status == 200 and client.send("GET", "/b").status == 200
    assert [server.header(i, "connection") for i in (0, 1)] == ["close", "close"]
    assert server.requests[0].startswith(b"GET /a ")  # to the server itself, not through a proxy


def test_json_bodies_and_headers_as_sent(servers: list[RawServer]) -> None:
    server = serve(servers, lambda _: answer(201))
    http.HttpClient(server.url).send("POST", "/j", json={"名稱": "雲杉"}, headers={"X-Actor": "a"})
    body = server.requests[0].partition(b"\r\n\r\n")[2]
    assert json.loads(body) == {"名稱": "雲杉"} and "雲杉".encode() in body  # UTF-8, not \\u escapes
    assert server.header(0, "content-type") == "application/json" and server.header(0, "x-actor") == "a"
    assert server.header(0, "accept") == "application/json"


def test_the_bank_api_signs_each_attempt_anew(servers: list[RawServer]) -> None:
    receipt = {"fax": {"fax_id": "F-0000001", "branch": {"code": "0060", "name": "X"}, "received_at": "t"}}
    server = serve(servers, drops_first(1, answer(201, json.dumps(receipt).encode())))
    clock = FixedClock(datetime(2026, 3, 2, 10, 0, tzinfo=TAIWAN))
    client = bankapi.BankApiClient(server.url, b"k" * 32, clock, retry_delay=0.01)
    customer = bankapi.FaxCustomer("eoi", "63880571", "雲杉", "EOIADMIN05", "63880571")
    fax = bankapi.Fax("F-0000001", clock.now().isoformat(), customer, "6E567090", {"a": "b"}, b"%PDF-1.7")
    assert client.send_fax(fax).branch_code == "0060"
    nonces = [server.header(i, bankapi.HEADER_NONCE) for i in (0, 1)]
    assert nonces[0] and nonces[1] and nonces[0] != nonces[1]
    bodies = [r.partition(b"\r\n\r\n")[2] for r in server.requests]
    assert bodies[0] == bodies[1]  # the same message (the same fax id), signed twice


def test_the_bank_api_reports_a_bank_that_does_not_answer(servers: list[RawServer]) -> None:
    server = serve(servers, lambda _: None)
    clock = FixedClock(datetime(2026, 3, 2, 10, 0, tzinfo=TAIWAN))
    client = bankapi.BankApiClient(server.url, b"k" * 32, clock, retries=1, retry_delay=0.01)
    notice = bankapi.RenewalNotice("R-00000001", "63880571", "AB", "CD", clock.now().isoformat())
    with pytest.raises(bankapi.BankApiError) as caught:
        client.notify_renewal(notice)
    assert caught.value.code == bankapi.ErrorCode.BANK_UNREACHABLE and caught.value.retryable
    assert len(server.requests) == 2


class EventServer:
    """An event stream whose events the test sends when it wants, then ends."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.conn: socket.socket | None = None
        self.ready = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n"
                     b"Connection: close\r\n\r\nretry: 2000\nid: 1\nevent: hello\ndata: {}\n\n")
        self.conn = conn
        self.ready.set()

    def send(self, text: str) -> None:
        assert self.conn is not None
        self.conn.sendall(text.encode())

    def end(self) -> None:
        assert self.conn is not None
        self.conn.close()
        self.sock.close()


def test_events_wait_with_a_deadline_and_the_stream_stays_open() -> None:
    server = EventServer()
    with http.HttpClient(server.url).events("/v1/events") as stream:
        hello = stream.next(5)
        assert (hello.event, hello.id, hello.data, hello.retry) == ("hello", "1", "{}", 2000)
        assert server.ready.wait(5)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            stream.next(0.2)
        assert 0.15 < time.monotonic() - started < 2
        server.send(": keep-alive\n\nid: 2\nevent: card_inserted\ndata: {\"reader\":\"r\"}\n\n")
        event = stream.next(5)
        assert (event.event, event.id, json.loads(event.data)) == ("card_inserted", "2", {"reader": "r"})
        server.end()
        with pytest.raises(EOFError):
            stream.next(5)
        with pytest.raises(EOFError):
            stream.next(5)


def test_an_answer_that_is_no_event_stream_is_handed_back(servers: list[RawServer]) -> None:
    server = serve(servers, lambda _: answer(403, b'{"error": {"code": "ORIGIN_NOT_ALLOWED"}}'))
    with pytest.raises(http.NotAStreamError) as caught:
        http.HttpClient(server.url).events("/v1/events", headers={"Origin": "http://evil.example"})
    assert caught.value.answer.status == 403 and caught.value.answer.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert server.header(0, "origin") == "http://evil.example" and server.header(0, "accept") == "text/event-stream"


def test_closing_a_stream_ends_its_reading_thread() -> None:
    server = EventServer()
    stream = http.HttpClient(server.url).events("/v1/events")
    stream.next(5)
    before = threading.active_count()
    stream.close()
    assert threading.active_count() == before - 1
    server.end()


def test_no_cookie_is_kept_from_one_call_to_the_next(servers: list[RawServer]) -> None:
    server = serve(servers, lambda _: answer(200, extra="Set-Cookie: s=1; Path=/\r\n"))
    client = http.HttpClient(server.url)
    client.send("GET", "/a")
    client.send("GET", "/b")
    assert server.header(1, "cookie") is None
