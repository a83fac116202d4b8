"""Downloads (憑證下載) in the platform's book: records of kind ``download`` beside the renewals, one
open download per Common Name, a new 授權碼 replacing an open one only before a key exists, the
record API's JSON, the checks of an ISSUED download against the CA, and a book written before
downloads existed, opened by this version."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.clock import TAIWAN, FixedClock
from fxml.platform.checks import move_checks
from fxml.platform.renewals import RenewalBook
from fxml.platform.store import STORE_FILE
from fxml.renewal.engine import spki_text
from fxml.renewal.errors import PinNotVerifiedError, RenewalErrorCode, UnreachableError
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RenewalRecord, State

NOW = datetime(2023, 4, 17, 11, 30, 0, tzinfo=TAIWAN)
HOLDER, CN = "A123456789", "A123456789-00-2023"
SUBJECT = "CN=A123456789-00-2023,OU=FXML,OU=0060000-Taiwan Cooperative Bank,OU=TWCA Financial User CA,O=Finance,C=TW"
CODE = "7K2M-QX9D-4HTB-P8ZW"


@pytest.fixture
def book(tmp_path: Path) -> Iterator[RenewalBook]:
    opened = RenewalBook.open(tmp_path, FixedClock(NOW))
    yield opened
    opened.close()


def test_a_download_is_a_record_of_its_own_kind(book: RenewalBook) -> None:
    record = book.create_download(HOLDER, CN, SUBJECT, CODE)
    assert (record.kind, record.state, record.old_serial, record.cn) == (Kind.DOWNLOAD, State.SELECTED, "", CN)
    assert record.request_id == f"fxml-download-{record.renewal_id}" and record.authorization_code == CODE
    assert RenewalRecord.from_json(record.to_json()) == record and record.to_json()["kind"] == "download"
    assert book.get(record.renewal_id) == record
    # Listed apart from the renewals; a renewal of the same holder is another matter.
    renewal = book.create(HOLDER, "5ED3", "A123456789-00-2015")
    assert book.for_holder(HOLDER) == [renewal]
    assert book.for_holder(HOLDER, Kind.DOWNLOAD) == [record]
    assert book.open_download(HOLDER, CN) == record and book.open_for(HOLDER, "") is None
    # The token is the record's, as a renewal's.
    assert book.check_token(book.token(record.renewal_id), record.renewal_id) == record


def test_one_open_download_per_common_name(book: RenewalBook) -> None:
    first = book.create_download(HOLDER, CN, SUBJECT, CODE)
    assert book.create_download(HOLDER, CN, SUBJECT, CODE) == first  # a second tab, a reload
    other = book.create_download(HOLDER, "A123456789-00-2024", SUBJECT.replace("2023", "2024"), "AAAA-BBBB-CCCC-DDDD")
    assert other.renewal_id != first.renewal_id
    # Another 授權碼 for the same name, while no key exists: the open one gives way.
    replaced = book.create_download(HOLDER, CN, SUBJECT, "EEEE-FFFF-GGGG-HHHH")
    assert replaced.renewal_id != first.renewal_id and book.get(first.renewal_id).state == State.CANCELLED
    assert [e[1] for e in book.events(first.renewal_id)] == ["create", "advance"]
    # From KEY_PENDING on the open download finishes with the code it started with.
    book.advance(replaced.renewal_id, State.SELECTED, State.CONFIRMED, card_serial="TWCA-1", container="9A")
    book.advance(replaced.renewal_id, State.CONFIRMED, State.TERMS_ACCEPTED)
    pending = book.advance(replaced.renewal_id, State.TERMS_ACCEPTED, State.KEY_PENDING)
    assert book.create_download(HOLDER, CN, SUBJECT, "JJJJ-KKKK-MMMM-NNNN") == pending


def test_a_downloads_refusals_say_download(book: RenewalBook) -> None:
    record = book.create_download(HOLDER, CN, SUBJECT, CODE)
    assert "憑證下載" in UnreachableError(RecordErrorCode.UNREACHABLE, record=record).message
    assert PinNotVerifiedError(record=record).message == "請輸入憑證載具密碼。"
    renewal = book.create(HOLDER, "5ED3", "A123456789-00-2015")
    assert "憑證更新" in UnreachableError(RenewalErrorCode.CARD_REMOVED, record=renewal).message


class _Ca:
    """The CA as the checks ask it: one certificate, as ``download`` answers it."""

    def __init__(self, issued: Any):
        self.issued = issued

    def download(self, serial: str) -> Any:
        return self.issued


def test_an_issued_download_must_be_the_cas_certificate_of_its_name(book: RenewalBook) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name.from_rfc4514_string(SUBJECT)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0xABC).not_valid_before(NOW).not_valid_after(datetime(2025, 4, 17, tzinfo=TAIWAN))
            .sign(key, hashes.SHA256()))
    record = book.create_download(HOLDER, CN, SUBJECT, CODE)
    record = record.moved(State.CSR_SIGNED, NOW, public_key=spki_text(key.public_key()))
    fields = {"new_serial": "ABC", "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
              "chain": "x"}

    class Issued:
        certificate, holder_id, cn, renewed_from = cert, HOLDER, CN, None

    move_checks(_Ca(Issued()))(record, State.ISSUED, fields)  # type: ignore[arg-type]  # the CA's certificate of the name: accepted
    for field, value in (("renewed_from", "5ED3"), ("holder_id", "B223456789"), ("cn", "A123456789-00-2015")):
        wrong = type("Wrong", (Issued,), {field: value})()
        with pytest.raises(RecordError) as caught:
            move_checks(_Ca(wrong))(record, State.ISSUED, fields)  # type: ignore[arg-type]
        assert caught.value.code == RecordErrorCode.BAD_RECORD


def test_a_book_of_an_earlier_version_gets_the_columns_of_downloads(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / STORE_FILE)
    conn.executescript("""
        CREATE TABLE renewals (renewal_id TEXT PRIMARY KEY, request_id TEXT NOT NULL UNIQUE, holder_id TEXT NOT NULL,
            old_serial TEXT NOT NULL, old_cn TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, card_serial TEXT, container TEXT, public_key TEXT, csr TEXT, new_serial TEXT,
            certificate TEXT, chain TEXT, error_code TEXT, error_message TEXT);
        CREATE UNIQUE INDEX renewals_one_open ON renewals(holder_id, old_serial)
            WHERE state NOT IN ('done', 'cancelled');
        INSERT INTO renewals VALUES ('r1', 'fxml-renewal-r1', '63880571', '5ED3', '63880571-00-2015', 'selected',
            '2023-04-17T11:13:42+08:00', '2023-04-17T11:13:42+08:00', NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL);
    """)
    conn.close()
    opened = RenewalBook.open(tmp_path, FixedClock(NOW))
    try:
        assert opened.get("r1").kind is Kind.RENEWAL and opened.open_for("63880571", "5ED3") is not None
        opened.create_download("63880571", "63880571-00-2023", SUBJECT, CODE)
        opened.create_download("63880571", "63880571-00-2024", SUBJECT, CODE)  # the old index would refuse this
    finally:
        opened.close()
