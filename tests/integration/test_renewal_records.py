"""The engine's HTTP client of the record API (PlatformRecords) against the real
platform process (``python -m fxml.platform serve``): moves, refusals with their
codes, a platform that does not answer, and an answer lost after the platform
committed the move (the retry gets the record unchanged, not a refusal)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from fxml import env
from fxml.clock import TAIWAN, FileClock
from fxml.platform.renewals import RenewalBook
from fxml.platform.tickets import make_key
from fxml.renewal import api
from fxml.renewal.model import RecordError, RecordErrorCode, RenewalRecord, State
from fxml.renewal.records import PlatformRecords
from simulator.procs import spawn_ready, stop_pid
from tests.support.raw_http import RawServer

NOW = datetime(2023, 4, 17, 11, 24, 39, tzinfo=TAIWAN)
HOLDER, SERIAL, CN = "63880571", "5ED369743F009022C86F81242EF662BD", "63880571-00-2015"
KEY_PENDING = {"card_serial": "TWCA-TEST-0000000063", "container": "9C"}


class Platform:
    def __init__(self, root: Path):
        self.state_dir = root / "platform"
        self.clock = FileClock(root / "clock.json")
        self.clock.write(fixed=NOW)
        key = root / "ticket.key"
        make_key(key)
        self.pid, self.url = spawn_ready(
            [sys.executable, "-m", "fxml.platform", "serve", "--state-dir", str(self.state_dir),
             "--ticket-key", str(key), "--host", "127.0.0.1", "--port", "0"],
            root / "platform.log", what="platform", env={**os.environ, env.CLOCK: self.clock.describe()},
        )
        # The wizard's side: the same SQLite file and secret, in this process.
        self.book = RenewalBook.open(self.state_dir, self.clock)
        self.count = 0

    def renewal(self) -> RenewalRecord:
        """A renewal at TERMS_ACCEPTED, of a certificate of its own."""
        self.count += 1
        record = self.book.create(HOLDER, f"{SERIAL[:-4]}{self.count:04X}", CN)
        self.book.advance(record.renewal_id, State.SELECTED, State.CONFIRMED)
        return self.book.advance(record.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)

    def close(self) -> None:
        self.book.close()
        stop_pid(self.pid, "fxml.platform")


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    served = Platform(tmp_path_factory.mktemp("records"))
    yield served
    served.close()


def test_moves_and_refusals_over_http(platform: Platform) -> None:
    record = platform.renewal()
    records = PlatformRecords(platform.url, platform.book.token(record.renewal_id))
    assert records.renewal_id == record.renewal_id  # read from the token
    assert records.get() == record
    moved = records.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, **KEY_PENDING)
    assert moved.state == State.KEY_PENDING and platform.book.get(record.renewal_id) == moved
    assert records.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, **KEY_PENDING) == moved  # a retry
    with pytest.raises(RecordError) as caught:
        records.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, card_serial="X", container="9A")
    assert caught.value.code == RecordErrorCode.STALE and caught.value.record == moved
    with pytest.raises(RecordError) as caught:
        records.advance(State.KEY_PENDING, State.DONE)
    assert caught.value.code == RecordErrorCode.BAD_TRANSITION
    noted = records.fail("CARD_REMOVED", "憑證載具已移除。")
    assert (noted.state, noted.error_code) == (State.KEY_PENDING, "CARD_REMOVED")
    assert noted.error_message == "憑證載具已移除。"


def test_tokens_over_http(platform: Platform) -> None:
    record = platform.renewal()
    token = platform.book.token(record.renewal_id)
    for bad in (token[:-4] + "abcd", "not-a-token"):
        with pytest.raises(RecordError) as caught:
            PlatformRecords(platform.url, bad, record.renewal_id).get()
        assert caught.value.code == RecordErrorCode.BAD_TOKEN
    with pytest.raises(RecordError) as caught:
        PlatformRecords(platform.url, "not-a-token")
    assert caught.value.code == RecordErrorCode.BAD_TOKEN  # names no renewal
    with pytest.raises(RecordError) as caught:
        PlatformRecords(platform.url, token, "someone-elses").get()
    assert caught.value.code == RecordErrorCode.BAD_TOKEN
    platform.clock.write(fixed=NOW.replace(minute=NOW.minute + api.TOKEN_MAX_AGE // 60 + 1))
    try:
        with pytest.raises(RecordError) as caught:
            PlatformRecords(platform.url, token).get()
        assert caught.value.code == RecordErrorCode.BAD_TOKEN
    finally:
        platform.clock.write(fixed=NOW)


def test_a_platform_that_does_not_answer(platform: Platform) -> None:
    record = platform.renewal()
    records = PlatformRecords("http://127.0.0.1:9", platform.book.token(record.renewal_id), retries=1,
                              retry_delay=0.01)
    with pytest.raises(RecordError) as caught:
        records.get()
    assert caught.value.code == RecordErrorCode.UNREACHABLE


class LosesAnswers(RawServer):
    """A TCP relay to the platform that drops the connection, after the platform
    answered, for the first ``lose`` requests: the move is committed, its answer lost."""

    def __init__(self, target: str, lose: int):
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.lose = lose
        self.forwarded = 0
        super().__init__(self._relay)

    def _relay(self, request: bytes) -> bytes | None:
        with socket.create_connection(self.target) as upstream:
            upstream.sendall(request)
            answer = b""
            while chunk := upstream.recv(65536):
                answer += chunk
        self.forwarded += 1
        return answer if self.forwarded > self.lose else None


def test_a_lost_answer_is_retried_and_the_move_made_once(platform: Platform) -> None:
    record = platform.renewal()
    relay = LosesAnswers(platform.url, lose=1)
    try:
        records = PlatformRecords(relay.url, platform.book.token(record.renewal_id), retry_delay=0.01)
        moved = records.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, **KEY_PENDING)
    finally:
        relay.close()
    assert relay.forwarded == 2 and moved.state == State.KEY_PENDING
    assert [e[1] for e in platform.book.events(record.renewal_id)].count("advance") == 3  # confirmed, terms, key


def test_the_platform_believes_no_move_it_can_check(platform: Platform) -> None:
    """The record API is called from the customer's machine: a token holder cannot
    record a key that is no key, a request for another key, or a certificate the CA
    did not issue for this renewal (the review's forged 'done')."""
    import base64
    import datetime as dt
    import http.client
    import json
    from urllib.parse import urlsplit

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    record = platform.renewal()
    token = platform.book.token(record.renewal_id)
    records = PlatformRecords(platform.url, token)
    records.advance(State.TERMS_ACCEPTED, State.KEY_PENDING, **KEY_PENDING)

    def refused(expected: State, to: State, **fields: str) -> None:
        with pytest.raises(RecordError) as caught:
            records.advance(expected, to, **fields)
        assert caught.value.code == RecordErrorCode.BAD_RECORD, caught.value
        assert platform.book.get(record.renewal_id).state == expected  # nothing recorded

    refused(State.KEY_PENDING, State.KEY_GENERATED, public_key="not a key")
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the refusal under test
    spki = serialization.PublicFormat.SubjectPublicKeyInfo

    def b64(key: rsa.RSAPrivateKey) -> str:
        return base64.b64encode(key.public_key().public_bytes(serialization.Encoding.DER, spki)).decode()

    refused(State.KEY_PENDING, State.KEY_GENERATED, public_key=b64(small))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    records.advance(State.KEY_PENDING, State.KEY_GENERATED, public_key=b64(key))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CN)])
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def csr(signer: rsa.RSAPrivateKey) -> str:
        built = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(signer, hashes.SHA256())
        return built.public_bytes(serialization.Encoding.PEM).decode()

    refused(State.KEY_GENERATED, State.CSR_SIGNED, csr="not a request")
    refused(State.KEY_GENERATED, State.CSR_SIGNED, csr=csr(other))
    records.advance(State.KEY_GENERATED, State.CSR_SIGNED, csr=csr(key))
    now = dt.datetime.now(dt.UTC)
    forged = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
              .serial_number(0xDEADBEEF).not_valid_before(now).not_valid_after(now + dt.timedelta(days=730))
              .sign(other, hashes.SHA256()))
    pem = forged.public_bytes(serialization.Encoding.PEM).decode()
    refused(State.CSR_SIGNED, State.ISSUED, new_serial="DEADBEEF", certificate=pem, chain=pem)
    refused(State.CSR_SIGNED, State.ISSUED, new_serial="DEADBEEF", certificate="not a certificate", chain=pem)
    # Field names that are no move's, and JSON nested beyond the parser: refusals, never a 500.
    parts = urlsplit(platform.url)
    for body in (json.dumps({"expected": "csr_signed", "to": "issued", "fields": {"to": "x", "self": "y"}}).encode(),
                 b"[" * 60_000):
        conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=10)
        conn.request("POST", api.Paths.ADVANCE.format(renewal_id=record.renewal_id), body=body,
                     headers={api.HEADER: f"Bearer {token}", "Content-Type": "application/json"})
        answer = conn.getresponse()
        data = json.loads(answer.read())
        conn.close()
        assert answer.status == 400 and data["error"]["code"] == RecordErrorCode.BAD_RECORD, data
    assert platform.book.get(record.renewal_id).state == State.CSR_SIGNED
