"""The local card agent as a real process on 127.0.0.1, against the real private pcscd
+ vpcd stack with virtual cards: readers and card status, card sessions (right,
wrong and blocked PIN, no card, two cards, unknown reader, removal, idle
timeout), CORS and the Host check, server-sent events on insertion and removal,
signatures, one command at a time per card, renewals through a stand-in engine
that does the card's and the CA's real work, and the PIN in no log.

Every refusal is checked for its stable code, its zh-TW message and, where a
card is involved, an image file left as it was.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.agent.api import MESSAGES, AgentError, ErrorCode, EventType, Paths, ReaderJson, SessionEnd
from fxml.agent.client import AgentClient, AgentEvent
from fxml.ca.client import CaClient
from simulator.card.image import load_image
from simulator.home import Home
from tests.support.agent import (
    OTHER_SITE,
    PLATFORM,
    PROFILES,
    STAND_IN_ENGINE,
    AgentProcess,
    follow_renewal,
    stand_in_env,
)

pytestmark = pytest.mark.pcsc

EOI = PROFILES / "eoi-large.json"
PERSONAL = PROFILES / "personal-small.json"
EOI_PIN = json.loads(EOI.read_text())["pin"]
PERSONAL_PIN = json.loads(PERSONAL.read_text())["pin"]
WRONG_PINS = ("Wrong999", "zzzzzz9")
#: A line of the agent's APDU trace, "<date> <time> <thread> fxml.card.connection TRAFFIC: SEND ...";
#: uvicorn names level 5 TRACE when it is loaded first.
TRAFFIC_LINE = re.compile(r"^\S+ \S+ (?P<thread>.+?) fxml\.card\.connection (?:TRAFFIC|TRACE): (?P<apdu>.*)$")


# -- the stack and the agent -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """A stack of our own with the card-side APDU trace on (for the PIN-in-no-log test)."""
    home = Home(tmp_path_factory.mktemp("agent-home"))
    home.up(readers=4, trace=True)
    try:
        yield home
    finally:
        home.down()


@pytest.fixture(scope="module")
def agent(home: Home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    log = tmp_path_factory.mktemp("agent-log") / "agent.log"
    process = AgentProcess(
        log, str(home.stack.socket_path),
        "--allow-origin", PLATFORM, "--allow-origin", "http://localhost:18444",
        "--ca-url", home.services()["ca"]["url"], "--engine", STAND_IN_ENGINE,
        "--log-level", "DEBUG", "--trace", env=stand_in_env(home),
    )
    with process:
        yield process


@pytest.fixture(autouse=True)
def empty(home: Home) -> Iterator[None]:
    yield
    for reader in home.stack.readers():
        if reader["card"]:
            home.stack.remove(reader["index"])


def card(home: Home, name: str, profile: Path = PERSONAL, reader: int = 0) -> tuple[Path, str]:
    image = home.create_card(profile, name=name, replace=True)
    return image, home.stack.insert(image, reader)["name"]


def refused(call: object, code: ErrorCode, *args: object, **kwargs: object) -> AgentError:
    assert callable(call)
    with pytest.raises(AgentError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    if code != ErrorCode.PIN_INCORRECT:
        assert info.value.message == MESSAGES[code]
    return info.value


def verifies(certificate_pem: str, signature_b64: str, data: bytes) -> bool:
    key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(base64.b64decode(signature_b64), data, padding.PKCS1v15(), hashes.SHA256())
    return True


# -- status and readers ----------------------------------------------------------------------------
def test_status_and_readers_show_the_card_as_the_bank_s_screens_need_it(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-status", EOI)
    before = image.read_bytes()
    client = agent.client()
    status = client.status()
    assert status["service"] == "fxmlsim-card-agent" and status["api"] == "v1"
    assert status["pcsc"] == {"available": True, "message": None}
    assert status["readers"] == 4 and status["cards"] == 1
    assert status["allowed_origins"] == [PLATFORM, "http://localhost:18444"]
    assert status["engine"] == STAND_IN_ENGINE
    readers = client.readers()
    assert [r["present"] for r in readers] == [True, False, False, False]
    first = readers[0]
    assert first["name"] == reader and first["index"] == 0 and not first["in_session"] and first["error"] is None
    info = first["card"]
    assert info is not None
    assert info["carrier"] == "憑證晶片卡(大卡)"
    assert info["card_serial"] == "TWCA-TEST-0000000001" and info["holder_id"] == "99000001"
    assert info["pin_tries_left"] == 3 and not info["pin_verified"] and not info["pin_blocked"]
    [cert] = info["certificates"]
    assert cert["container"] == "9A" and cert["common_name"] == "99000001-00-2015"
    assert cert["not_after"] == "2025-05-14T23:59:59+08:00"
    parsed = x509.load_pem_x509_certificate(cert["pem"].encode())
    assert cert["serial"] == f"{parsed.serial_number:X}"
    assert image.read_bytes() == before  # reading the card changes nothing


def test_the_agent_of_the_service_registry_runs_with_the_stack(home: Home) -> None:
    url = home.services()["agent"]["url"]
    status = AgentClient(url).status()
    assert status["pcsc"]["available"] and status["readers"] == 4
    assert status["engine"] == "fxml.renewal.download:engine_for"  # the real one: tests/pcsc/test_agent_engine.py


# -- sessions -----------------------------------------------------------------------------------------
def test_the_right_pin_opens_a_session_and_delete_resets_the_card(home: Home, agent: AgentProcess) -> None:
    _, reader = card(home, "agent-session")
    client = agent.client(PLATFORM)
    session = client.open_session(PERSONAL_PIN, reader)
    assert session["reader"] == reader and session["origin"] == PLATFORM
    assert session["card"]["pin_verified"] and session["card"]["pin_tries_left"] is None
    assert session["card"]["carrier"] == "憑證晶片卡(小卡)"
    assert client.session(session["session"])["card"]["card_serial"] == "TWCA-TEST-0000000002"
    [listed] = [r for r in client.readers() if r["name"] == reader]
    assert listed["in_session"] and listed["card"] == session["card"]
    client.close_session(session["session"])
    error = refused(client.session, ErrorCode.SESSION_CLOSED, session["session"])
    assert error.details == {"reason": "closed"} and error.status == 410
    # The card was reset when the session ended: its PIN is no longer verified.
    [after] = [r for r in client.readers() if r["name"] == reader]
    assert after["card"] is not None and not after["card"]["pin_verified"] and after["card"]["pin_tries_left"] == 3


def test_a_wrong_pin_says_the_tries_left_and_the_third_blocks_the_card(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-wrong-pin")
    client = agent.client(PLATFORM)
    for left in (2, 1):
        error = refused(client.open_session, ErrorCode.PIN_INCORRECT, WRONG_PINS[0], reader)
        assert error.status == 401 and error.details == {"tries_left": left}
        assert error.message == f"憑證載具密碼錯誤，尚可嘗試 {left} 次。"
        assert load_image(image).pin.tries_left == left
    error = refused(client.open_session, ErrorCode.PIN_BLOCKED, WRONG_PINS[1], reader)
    assert error.status == 423 and error.details == {"tries_left": 0}
    assert "已鎖定" in error.message and "申辦分行" in error.message
    blocked = image.read_bytes()
    # Now even the right PIN is refused, and the card is not touched.
    refused(client.open_session, ErrorCode.PIN_BLOCKED, PERSONAL_PIN, reader)
    assert image.read_bytes() == blocked
    [listed] = [r for r in client.readers() if r["name"] == reader]
    assert listed["card"] is not None and listed["card"]["pin_blocked"] and listed["card"]["pin_tries_left"] == 0
    assert client.status()["sessions"] == 0


def test_the_right_pin_after_a_wrong_one_restores_the_tries(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-retry-pin")
    client = agent.client(PLATFORM)
    refused(client.open_session, ErrorCode.PIN_INCORRECT, WRONG_PINS[0], reader)
    session = client.open_session(PERSONAL_PIN, reader)
    assert load_image(image).pin.tries_left == 3
    client.close_session(session["session"])


@pytest.mark.parametrize("pin", ["12345", "123456789", "abc-123", "密碼123456", ""])
def test_a_pin_that_breaks_the_policy_never_reaches_the_card(home: Home, agent: AgentProcess, pin: str) -> None:
    image, reader = card(home, "agent-pin-format")
    before = image.read_bytes()
    error = refused(agent.client(PLATFORM).open_session, ErrorCode.PIN_FORMAT, pin, reader)
    assert error.status == 400
    assert image.read_bytes() == before


def test_no_card_an_unknown_reader_and_two_cards(home: Home, agent: AgentProcess) -> None:
    client = agent.client(PLATFORM)
    refused(client.open_session, ErrorCode.NO_CARD, PERSONAL_PIN)
    readers = [r["name"] for r in client.readers()]
    error = refused(client.open_session, ErrorCode.NO_CARD, PERSONAL_PIN, readers[1])
    assert error.details == {"reader": readers[1]}
    error = refused(client.open_session, ErrorCode.READER_NOT_FOUND, PERSONAL_PIN, "no such reader")
    assert error.details["readers"] == readers
    first, reader0 = card(home, "agent-two-a", PERSONAL, 0)
    second, reader2 = card(home, "agent-two-b", EOI, 2)
    images = {p: p.read_bytes() for p in (first, second)}
    error = refused(client.open_session, ErrorCode.MULTIPLE_CARDS, PERSONAL_PIN)
    assert error.status == 409 and error.details == {"readers": [reader0, reader2]}
    assert all(p.read_bytes() == b for p, b in images.items())
    # Chosen by the page, each card gets its own session.
    one = client.open_session(PERSONAL_PIN, reader0)
    two = client.open_session(EOI_PIN, reader2)
    assert one["card"]["holder_id"] == "A123456789" and two["card"]["holder_id"] == "99000001"
    assert client.status()["sessions"] == 2


def test_a_session_belongs_to_its_origin(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-origin-bound")
    platform = agent.client(PLATFORM)
    session = platform.open_session(PERSONAL_PIN, reader)["session"]
    for other in (agent.client(), agent.client("http://localhost:18444")):
        refused(other.session, ErrorCode.SESSION_ORIGIN_MISMATCH, session)
        refused(other.sign, ErrorCode.SESSION_ORIGIN_MISMATCH, session, b"data")
        refused(other.close_session, ErrorCode.SESSION_ORIGIN_MISMATCH, session)
    # Another allowed origin cannot take the reader over either, and the card is not asked.
    before = image.read_bytes()
    refused(agent.client("http://localhost:18444").open_session, ErrorCode.READER_IN_USE, PERSONAL_PIN, reader)
    assert image.read_bytes() == before
    # The same origin opening again (a reload) replaces its session.
    again = platform.open_session(PERSONAL_PIN, reader)["session"]
    error = refused(platform.session, ErrorCode.SESSION_CLOSED, session)
    assert error.details == {"reason": "replaced"}
    refused(platform.session, ErrorCode.SESSION_NOT_FOUND, "no-such-session")
    platform.close_session(again)


def test_removing_the_card_ends_the_session_with_events(home: Home, agent: AgentProcess) -> None:
    _, reader = card(home, "agent-removal")
    client = agent.client(PLATFORM)
    with client.events() as stream:
        assert stream.next().type == EventType.HELLO
        session = client.open_session(PERSONAL_PIN, reader)["session"]
        home.stack.remove(0)
        assert stream.wait_for(EventType.CARD_REMOVED, reader=reader).data == {"reader": reader}
        closed = stream.wait_for(EventType.SESSION_CLOSED, session=session)
        assert closed.data == {"session": session, "reader": reader, "reason": SessionEnd.CARD_REMOVED}
    error = refused(client.sign, ErrorCode.SESSION_CLOSED, session, b"data")
    assert error.details == {"reason": "card_removed"}
    assert client.status()["sessions"] == 0


def test_another_origin_s_stream_does_not_hear_of_the_session(home: Home, agent: AgentProcess) -> None:
    _, reader = card(home, "agent-stream-origin")
    client = agent.client(PLATFORM)
    with agent.client("http://localhost:18444").events() as other, client.events() as mine:
        other.next(), mine.next()
        session = client.open_session(PERSONAL_PIN, reader)["session"]
        client.close_session(session)
        mine.wait_for(EventType.SESSION_CLOSED, session=session)
        home.stack.remove(0)
        # The other page hears the card go, and nothing of the session before it.
        heard: list[AgentEvent] = []
        while not heard or heard[-1].type != EventType.CARD_REMOVED or heard[-1].data["reader"] != reader:
            heard.append(other.next())
        assert not [e for e in heard if e.type in (EventType.SESSION_CLOSED, EventType.RENEWAL)]


def test_an_unused_session_ends_after_the_idle_timeout(home: Home, tmp_path: Path) -> None:
    _, reader = card(home, "agent-idle")
    with AgentProcess(tmp_path / "idle.log", str(home.stack.socket_path), "--allow-origin", PLATFORM,
                      "--idle-timeout", "0.5") as short:
        client = short.client(PLATFORM)
        with client.events() as stream:
            stream.next()
            session = client.open_session(PERSONAL_PIN, reader)
            assert session["idle_timeout"] == 0.5
            closed = stream.wait_for(EventType.SESSION_CLOSED, timeout=10, session=session["session"])
            assert closed.data["reason"] == SessionEnd.IDLE_TIMEOUT
        error = refused(client.sign, ErrorCode.SESSION_CLOSED, session["session"], b"x")
        assert error.details == {"reason": "idle_timeout"}


# -- events -------------------------------------------------------------------------------------------
def test_insertion_and_removal_reach_the_page_as_server_sent_events(home: Home, agent: AgentProcess) -> None:
    client = agent.client(PLATFORM)
    with client.events(timeout=10) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["access-control-allow-origin"] == PLATFORM
        hello = stream.next()
        assert hello.type == EventType.HELLO and hello.data["pcsc"]["available"]
        assert [r["present"] for r in hello.data["readers"]] == [False] * 4
        image, reader = card(home, "agent-events", EOI, 3)
        inserted = stream.wait_for(EventType.CARD_INSERTED, reader=reader)
        assert inserted.data == {"reader": reader, "atr": "3B 8B 80 01 80 73 80 01 C0 55 54 57 43 41 4C A0"}
        home.stack.remove(3)
        assert stream.wait_for(EventType.CARD_REMOVED, reader=reader).data == {"reader": reader}
        home.stack.insert(image, 3)
        assert stream.wait_for(EventType.CARD_INSERTED, reader=reader).data["reader"] == reader


# -- CORS, Origin, Host -------------------------------------------------------------------------------
def test_cors_preflight_from_the_platform_and_refusal_of_another_origin(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-cors")
    before = image.read_bytes()
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type",
           "Access-Control-Request-Private-Network": "true"}
    ok = agent.client(PLATFORM).request("OPTIONS", Paths.SESSIONS, headers=ask)
    assert ok.status == 204
    assert ok.headers["access-control-allow-origin"] == PLATFORM
    assert set(ok.headers["access-control-allow-methods"].split(", ")) == {"GET", "POST", "DELETE"}
    assert "content-type" in ok.headers["access-control-allow-headers"]
    assert ok.headers["access-control-allow-private-network"] == "true"
    assert "access-control-allow-credentials" not in ok.headers
    for origin in (OTHER_SITE, "null", "http://127.0.0.1:18443.evil.example", "https://127.0.0.1:18443"):
        other = agent.client(origin)
        for method, path, body in (("OPTIONS", Paths.SESSIONS, None), ("GET", Paths.READERS, None),
                                   ("GET", Paths.EVENTS, None),
                                   ("POST", Paths.SESSIONS, {"reader": reader, "pin": PERSONAL_PIN})):
            reply = other.request(method, path, body, headers=ask if method == "OPTIONS" else None)
            assert reply.status == 403, (origin, method, path)
            assert reply.json()["error"]["code"] == ErrorCode.ORIGIN_NOT_ALLOWED
            assert reply.json()["error"]["message"] == MESSAGES[ErrorCode.ORIGIN_NOT_ALLOWED]
            assert not any(h.startswith("access-control-") for h in reply.headers)
    assert image.read_bytes() == before  # the PIN never reached the card: its counter did not move
    answer = agent.client(PLATFORM).request("GET", Paths.STATUS)
    assert answer.headers["access-control-allow-origin"] == PLATFORM and "Origin" in answer.headers["vary"]


def test_state_changing_requests_must_be_json(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-json-only")
    before = image.read_bytes()
    form = f"reader={reader}&pin={PERSONAL_PIN}".encode()
    for origin in (PLATFORM, None):
        for kind in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None):
            headers = {"Content-Type": kind} if kind else {}
            reply = agent.client(origin).request("POST", Paths.SESSIONS, headers=headers, raw=form)
            assert reply.status == 415 and reply.json()["error"]["code"] == ErrorCode.UNSUPPORTED_MEDIA_TYPE
    bad = agent.client(PLATFORM).request("POST", Paths.SESSIONS, headers={"Content-Type": "application/json"},
                                         raw=b"[1, 2")
    assert bad.status == 400 and bad.json()["error"]["code"] == ErrorCode.BAD_JSON
    assert image.read_bytes() == before


def test_a_simple_request_from_another_site_without_origin_is_refused(agent: AgentProcess) -> None:
    # What an <img src="http://127.0.0.1:61081/v1/readers"> on another site sends.
    reply = agent.client().request("GET", Paths.READERS, headers={"Sec-Fetch-Site": "cross-site",
                                                                   "Sec-Fetch-Mode": "no-cors"})
    assert reply.status == 403 and reply.json()["error"]["code"] == ErrorCode.CROSS_SITE_REFUSED
    # Local programs (no Origin, no Sec-Fetch-Site) are served.
    assert agent.client().request("GET", Paths.READERS).status == 200


def test_the_host_header_must_name_the_loopback(agent: AgentProcess) -> None:
    client = agent.client(PLATFORM)
    port = agent.port
    for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "127.0.0.1", f"127.0.0.1:{port + 1}",
                 f"localhost.:{port}", f"0.0.0.0:{port}"):
        reply = client.request("GET", Paths.STATUS, headers={"Host": host})
        assert reply.status == 403, host
        body = reply.json()["error"]
        assert body["code"] == ErrorCode.HOST_NOT_ALLOWED and body["message"] == MESSAGES[ErrorCode.HOST_NOT_ALLOWED]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"LOCALHOST:{port}"):
        assert client.request("GET", Paths.STATUS, headers={"Host": host}).status == 200, host


def test_unknown_paths_and_methods_answer_the_json_error_shape(agent: AgentProcess) -> None:
    client = agent.client(PLATFORM)
    missing = client.request("GET", "/v1/nothing")
    assert missing.status == 404 and missing.json()["error"]["code"] == ErrorCode.NOT_FOUND
    assert missing.headers["access-control-allow-origin"] == PLATFORM  # the page can read why
    wrong = client.request("PUT", Paths.READERS)
    assert wrong.status == 405 and wrong.json()["error"]["code"] == ErrorCode.METHOD_NOT_ALLOWED


# -- signatures and serialization -------------------------------------------------------------------------
def test_a_signature_verifies_with_the_card_s_certificate(home: Home, agent: AgentProcess) -> None:
    _, reader = card(home, "agent-sign", EOI)
    client = agent.client(PLATFORM)
    session = client.open_session(EOI_PIN, reader)
    data = "轉帳 NT$1,000 to 0060000-12345678".encode()
    answer = client.sign(session["session"], data)
    [on_card] = session["card"]["certificates"]
    assert answer["container"] == "9A" and answer["algorithm"] == "sha256WithRSAEncryption"
    assert answer["serial"] == on_card["serial"] and answer["common_name"] == "99000001-00-2015"
    assert answer["certificate"] == on_card["pem"]
    assert verifies(answer["certificate"], answer["signature"], data)
    refused(client.sign, ErrorCode.NO_CERTIFICATE, session["session"], data, "9C")
    bad = client.request("POST", Paths.SIGNATURES, {"session": session["session"], "data": "not base64!"})
    assert bad.status == 400 and bad.json()["error"]["details"] == {"field": "data"}


def test_concurrent_requests_on_one_card_run_one_at_a_time(home: Home, agent: AgentProcess) -> None:
    _, reader = card(home, "agent-serial-a", EOI, 0)
    _, other_reader = card(home, "agent-serial-b", PERSONAL, 1)
    client = agent.client(PLATFORM)
    session = client.open_session(EOI_PIN, reader)["session"]
    other = client.open_session(PERSONAL_PIN, other_reader)["session"]
    mark = agent.log.read_text().count("\n")
    start = threading.Barrier(12)

    def sign(index: int) -> tuple[bytes, dict[str, Any]]:
        data = f"message {index}".encode()
        start.wait()
        target = other if index % 4 == 3 else session
        return data, dict(agent.client(PLATFORM).sign(target, data))

    def look(index: int) -> list[ReaderJson]:
        start.wait()
        listing: list[ReaderJson] = agent.client(PLATFORM).readers()
        return listing

    with ThreadPoolExecutor(12) as pool:
        signing = [pool.submit(sign, i) for i in range(10)]
        looking = [pool.submit(look, i) for i in range(2)]
        results = [f.result(timeout=60) for f in signing]
        listings = [f.result(timeout=60) for f in looking]
    assert all(verifies(s["certificate"], s["signature"], data) for data, s in results)
    assert all(len(listing) == 4 for listing in listings)
    # The agent's APDU trace: on each reader's worker, every chained GENERAL
    # AUTHENTICATE is followed at once by its last chunk and its GET RESPONSE.
    lines = agent.log.read_text().splitlines()[mark:]
    traffic: dict[str, list[str]] = {}
    for line in lines:
        found = TRAFFIC_LINE.match(line)
        if found:
            traffic.setdefault(found["thread"], []).append(found["apdu"])
    assert len(traffic) == 2  # one worker per reader, and no command from any other thread
    for sent in traffic.values():
        commands = [t for t in sent if t.startswith("SEND")]
        for i, command in enumerate(commands):
            if command.startswith("SEND 10 87 07 9A"):
                assert commands[i + 1].startswith("SEND 00 87 07 9A"), commands[i: i + 3]
                assert commands[i + 2].startswith("SEND 00 C0 00 00"), commands[i: i + 3]
    assert sum(t.startswith("SEND 10 87 07 9A") for sent in traffic.values() for t in sent) == 10


# -- renewals -----------------------------------------------------------------------------------------------
def test_a_renewal_runs_on_the_card_and_reports_its_progress(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-renew", EOI)
    client = agent.client(PLATFORM)
    session = client.open_session(EOI_PIN, reader)["session"]
    with client.events(timeout=30) as stream:
        stream.next()
        job = client.renew(session, "R-0001", "token-0001")
        assert job["status"] == "running" and job["renewal_id"] == "R-0001" and job["reader"] == reader
        states, final = follow_renewal(stream, job["job"])
    assert states == ["key_pending", "key_generated", "csr_signed", "issued", "written", "done"]
    assert final["status"] == "done" and final["error"] is None and final["label"] == "憑證下載成功"
    assert [p["state"] for p in final["progress"]] == states
    record = final["record"]
    assert record["state"] == "done" and record["container"] == "9C" and record["card_serial"] == "TWCA-TEST-0000000001"
    assert client.renewal(job["job"]) == final
    # The card holds the new certificate next to the old one, and the session sees it.
    containers = {c["container"]: c for c in client.session(session)["card"]["certificates"]}
    assert set(containers) == {"9A", "9C"} and containers["9C"]["serial"] == record["new_serial"]
    saved = load_image(image).containers[0x9C]
    assert saved.certificate_der == x509.load_pem_x509_certificate(record["certificate"].encode()).public_bytes(
        serialization.Encoding.DER)
    # The CA issued exactly that certificate to this holder.
    [issued] = CaClient(home.services()["ca"]["url"]).query(serial=record["new_serial"])
    assert issued.holder_id == "99000001" and issued.cn == "99000001-00-2015"
    # Both keys sign, each verified by its own certificate.
    for container in ("9A", "9C"):
        answer = client.sign(session, b"after the renewal", container)
        assert answer["serial"] == containers[container]["serial"]
        assert verifies(answer["certificate"], answer["signature"], b"after the renewal")


def test_the_card_removed_during_a_renewal_fails_it_and_the_old_certificate_still_signs(
    home: Home, agent: AgentProcess, tmp_path: Path
) -> None:
    image, reader = card(home, "agent-renew-pulled", EOI)
    client = agent.client(PLATFORM)
    session = client.open_session(EOI_PIN, reader)
    old = session["card"]["certificates"][0]
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    with client.events(timeout=30) as stream:
        stream.next()
        job = client.renew(session["session"], "R-0002", f"pause:{fifo}")["job"]
        stream.wait_for(EventType.RENEWAL, job=job, state="key_generated")
        refused(client.sign, ErrorCode.SESSION_BUSY, session["session"], b"during")
        refused(client.close_session, ErrorCode.SESSION_BUSY, session["session"])
        home.stack.remove(0)
        stream.wait_for(EventType.CARD_REMOVED, reader=reader)
        closed = stream.wait_for(EventType.SESSION_CLOSED, session=session["session"])
        assert closed.data["reason"] == "card_removed"
        with open(fifo, "wb") as go:
            go.write(b"1")
        failed = stream.wait_for(EventType.RENEWAL, job=job, status="failed")
    error = failed.data["error"]
    assert error["code"] == ErrorCode.CARD_REMOVED and error["message"] == MESSAGES[ErrorCode.CARD_REMOVED]
    assert failed.data["state"] == "key_generated"
    # Put back, the card still has its old certificate, whose key still signs.
    home.stack.insert(image, 0)
    again = client.open_session(EOI_PIN, reader)
    assert [c["serial"] for c in again["card"]["certificates"]] == [old["serial"]]
    answer = client.sign(again["session"], b"still usable", "9A")
    assert verifies(old["pem"], answer["signature"], b"still usable")


def test_renewal_refusals(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-renew-refused", EOI)
    client = agent.client(PLATFORM)
    session = client.open_session(EOI_PIN, reader)["session"]
    before = image.read_bytes()
    error = refused(client.renew, ErrorCode.PLATFORM_URL_REFUSED, session, "R-3", "t", "http://evil.example/records")
    assert error.status == 403
    refused(client.renew, ErrorCode.SESSION_NOT_FOUND, "nope", "R-3", "t")
    reply = client.request("POST", Paths.RENEWALS, {"session": session, "renewal_id": "R-3"})
    assert reply.status == 400 and reply.json()["error"]["details"] == {"field": "renewal_token"}
    refused(client.renewal, ErrorCode.RENEWAL_NOT_FOUND, "no-such-job")
    # An engine's refusal is passed on with its own code.
    failed = client.wait_renewal(client.renew(session, "R-4", "fail:RENEWAL_WINDOW_NOT_OPEN")["job"])
    assert failed["status"] == "failed" and failed["error"] is not None
    assert failed["error"]["code"] == "RENEWAL_WINDOW_NOT_OPEN" and failed["error"]["message"] == "模擬的更新拒絕。"
    assert image.read_bytes() == before
    # Another origin cannot see the job.
    refused(agent.client("http://localhost:18444").renewal, ErrorCode.SESSION_ORIGIN_MISMATCH, failed["job"])


# -- 憑證載具密碼變更 -------------------------------------------------------------------------------------------
#: New PINs the tests set (each within the card's rules); the no-log test looks for them too.
NEW_PINS = ("Chg2026a", "Chg2026b")


def test_a_pin_change_sets_the_new_pin_on_the_card(home: Home, agent: AgentProcess) -> None:
    image, reader = card(home, "agent-pin-change")
    before = load_image(image)
    client = agent.client(PLATFORM)
    changed = client.change_pin(PERSONAL_PIN, NEW_PINS[0], reader)
    assert changed["reader"] == reader
    assert changed["card"]["pin_tries_left"] == 3 and not changed["card"]["pin_verified"]
    assert changed["card"]["card_serial"] == "TWCA-TEST-0000000002"
    after = load_image(image)
    assert after.pin.value == NEW_PINS[0] and after.pin.tries_left == 3
    assert replace(after, pin=before.pin) == before  # nothing else on the card changed
    # No session stays open; the old PIN is now wrong (a counted try), the new one opens a session.
    assert client.status()["sessions"] == 0
    refused(client.open_session, ErrorCode.PIN_INCORRECT, PERSONAL_PIN, reader)
    client.close_session(client.open_session(NEW_PINS[0], reader)["session"])


def test_a_wrong_old_pin_counts_a_try_says_how_many_remain_and_the_third_locks(
    home: Home, agent: AgentProcess
) -> None:
    image, reader = card(home, "agent-pin-change-wrong")
    before = load_image(image)
    client = agent.client(PLATFORM)
    for left in (2, 1):
        error = refused(client.change_pin, ErrorCode.PIN_INCORRECT, WRONG_PINS[0], NEW_PINS[0], reader)
        assert error.status == 401 and error.details == {"tries_left": left}
        assert error.message == f"憑證載具密碼錯誤，尚可嘗試 {left} 次。"
        # Only the counted try changed: the PIN is the old one.
        assert load_image(image) == replace(before, pin=replace(before.pin, tries_left=left))
    error = refused(client.change_pin, ErrorCode.PIN_BLOCKED, WRONG_PINS[1], NEW_PINS[0], reader)
    assert error.status == 423 and "申辦分行" in error.message
    blocked = image.read_bytes()
    assert load_image(image) == replace(before, pin=replace(before.pin, tries_left=0))
    # A locked card refuses even the right old PIN, and nothing is written.
    refused(client.change_pin, ErrorCode.PIN_BLOCKED, PERSONAL_PIN, NEW_PINS[0], reader)
    assert image.read_bytes() == blocked


@pytest.mark.parametrize(("old", "new", "code"), [
    (PERSONAL_PIN, "12345", ErrorCode.NEW_PIN_FORMAT),
    (PERSONAL_PIN, "123456789", ErrorCode.NEW_PIN_FORMAT),
    (PERSONAL_PIN, "abc-1234", ErrorCode.NEW_PIN_FORMAT),
    (PERSONAL_PIN, "密碼123456", ErrorCode.NEW_PIN_FORMAT),
    (PERSONAL_PIN, "", ErrorCode.NEW_PIN_FORMAT),
    (PERSONAL_PIN, PERSONAL_PIN, ErrorCode.PIN_UNCHANGED),
    ("12345", NEW_PINS[0], ErrorCode.PIN_FORMAT),
], ids=["short", "long", "symbol", "chinese", "empty", "unchanged", "old-short"])
def test_a_pin_change_that_breaks_the_card_s_rules_never_reaches_the_card(
    home: Home, agent: AgentProcess, old: str, new: str, code: ErrorCode
) -> None:
    image, reader = card(home, "agent-pin-change-rules")
    before = image.read_bytes()
    error = refused(agent.client(PLATFORM).change_pin, code, old, new, reader)
    assert error.status == 400
    assert image.read_bytes() == before


def test_a_pin_change_needs_the_card_free_and_present(home: Home, agent: AgentProcess) -> None:
    client = agent.client(PLATFORM)
    refused(client.change_pin, ErrorCode.NO_CARD, PERSONAL_PIN, NEW_PINS[1])
    image, reader = card(home, "agent-pin-change-busy")
    other = agent.client("http://localhost:18444")
    session = other.open_session(PERSONAL_PIN, reader)["session"]
    before = image.read_bytes()
    refused(client.change_pin, ErrorCode.READER_IN_USE, PERSONAL_PIN, NEW_PINS[1], reader)
    assert image.read_bytes() == before
    other.close_session(session)
    # A page's own idle session on the card gives way (as a reload's would), and the change is made.
    mine = client.open_session(PERSONAL_PIN, reader)["session"]
    client.change_pin(PERSONAL_PIN, NEW_PINS[1], reader)
    assert refused(client.session, ErrorCode.SESSION_CLOSED, mine).details == {"reason": "replaced"}
    assert load_image(image).pin.value == NEW_PINS[1]


# -- the PIN ---------------------------------------------------------------------------------------------------
def test_the_pin_is_in_no_log(home: Home, agent: AgentProcess) -> None:
    """With the agent at DEBUG with its APDU trace and the card stack's trace on,
    after right and wrong PINs (and every test before this one), no log holds a PIN
    in any form; the trace shows the VERIFY commands, redacted."""
    _, reader = card(home, "agent-pin-log")
    client = agent.client(PLATFORM)
    refused(client.open_session, ErrorCode.PIN_INCORRECT, WRONG_PINS[0], reader)
    client.close_session(client.open_session(PERSONAL_PIN, reader)["session"])
    client.change_pin(PERSONAL_PIN, NEW_PINS[0], reader)
    client.change_pin(NEW_PINS[0], PERSONAL_PIN, reader)
    run = home.run_dir
    logs = {p: p.read_bytes() for p in (agent.log, run / "apdu.log", run / "pcscd.log", run / "daemon.log",
                                          run / "agent.log", run / "ca.log") if p.exists()}
    assert re.search(rb"(TRAFFIC|TRACE): SEND 00 20 00 80 08 \*\*", logs[agent.log])
    assert b"00 20 00 80 08 **" in logs[run / "apdu.log"]
    assert re.search(rb"(TRAFFIC|TRACE): SEND 00 24 00 80 10 \*\*", logs[agent.log])
    for pin in (PERSONAL_PIN, EOI_PIN, *WRONG_PINS, *NEW_PINS):
        raw = pin.encode()
        padded = raw.ljust(8, b"\xff")
        forms = {raw, raw.hex().encode(), raw.hex().upper().encode(), raw.hex(" ").upper().encode(),
                 padded.hex(" ").upper().encode(), padded.hex().upper().encode(), base64.b64encode(raw)}
        for path, content in logs.items():
            found = [f for f in forms if f in content]
            assert not found, f"{path} holds the PIN {pin!r} as {found}"


def test_the_management_key_comes_from_its_file_and_a_wrong_one_changes_nothing(
    home: Home, tmp_path: Path
) -> None:
    image, reader = card(home, "agent-wrong-key", EOI)
    key_file = tmp_path / "management-key.json"
    key_file.write_text(json.dumps({"algorithm": "3DES", "key": "0F" * 24}))
    with AgentProcess(tmp_path / "key.log", str(home.stack.socket_path), "--management-key-file", str(key_file),
                      "--ca-url", home.services()["ca"]["url"], "--engine", STAND_IN_ENGINE,
                      env=stand_in_env(home)) as keyed:
        client = keyed.client()
        session = client.open_session(EOI_PIN, reader)["session"]
        before = image.read_bytes()
        failed = client.wait_renewal(client.renew(session, "R-6", "t", "http://127.0.0.1:1")["job"])
        assert failed["status"] == "failed" and failed["error"] is not None
        assert failed["error"]["code"] == ErrorCode.MANAGEMENT_KEY_REFUSED
        assert failed["error"]["message"] == MESSAGES[ErrorCode.MANAGEMENT_KEY_REFUSED]
        assert image.read_bytes() == before
        client.close_session(session)
    assert "0F0F0F" not in (tmp_path / "key.log").read_text().upper()
