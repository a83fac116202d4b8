"""Command chaining (CLA 10) in and 61xx response chaining out."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from fxml.card.apdu import CommandApdu
from fxml.card.piv import Obj
from fxml.card.tlv import tlv
from simulator.card.chaining import MAX_COMMAND_SIZE, CommandChainer, ResponseChainer
from tests.support.card import issue
from tests.support.card_os import Card, public_key_of


@pytest.fixture
def admin(tmp_path: Path) -> Card:
    card = Card(tmp_path / "card.json")
    assert card.admin().sw == 0x9000
    return card


@pytest.fixture
def cert_card(admin: Card) -> tuple[Card, bytes]:
    """A card with a certificate longer than one APDU in 9A."""
    der = issue(public_key_of(admin.generate(0x9A))).public_bytes(serialization.Encoding.DER)
    assert admin.put_data(Obj.CERT_9A, tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b"")).sw == 0x9000
    return admin, tlv(0x53, tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))


GET_CERT = bytes.fromhex("00CB3FFF055C035FC105")


# -- response chaining ------------------------------------------------------------------
def test_long_object_comes_in_256_byte_parts_with_61xx(cert_card: tuple[Card, bytes]) -> None:
    card, whole = cert_card
    assert len(whole) > 512
    r = card.send(GET_CERT + b"\x00")
    got, parts = r.data, 1
    assert len(r.data) == 256 and r.sw == 0x6100  # 256 or more left
    while r.sw >> 8 == 0x61:
        left = r.sw & 0xFF
        r = card.send(bytes([0, 0xC0, 0, 0, left]))
        got += r.data
        parts += 1
        if r.sw >> 8 == 0x61:
            assert len(r.data) == (left or 256)
    assert r.sw == 0x9000 and got == whole and parts == (len(whole) + 255) // 256


def test_sw2_counts_the_bytes_left_when_under_256(cert_card: tuple[Card, bytes]) -> None:
    card, whole = cert_card
    r, sent = card.send(GET_CERT + b"\x00"), 256
    while r.sw == 0x6100:
        assert len(whole) - sent >= 256
        r, sent = card.send("00C0000000"), sent + 256
    assert 0 < len(whole) - sent < 256
    assert r.sw == 0x6100 | (len(whole) - sent)


def test_short_le_smaller_than_response(cert_card: tuple[Card, bytes]) -> None:
    card, whole = cert_card
    r = card.send(GET_CERT + b"\x08")
    assert r.data == whole[:8] and r.sw == 0x6100
    r = card.send("00C0000010")  # GET RESPONSE with a smaller Le than available
    assert r.data == whole[8:24] and r.sw == 0x6100


def test_extended_le_gets_everything_at_once(cert_card: tuple[Card, bytes]) -> None:
    card, whole = cert_card
    r = card.send(CommandApdu(0, 0xCB, 0x3F, 0xFF, bytes.fromhex("5C035FC105"), le=65536, extended=True))
    assert r.data == whole and r.sw == 0x9000


def test_get_response_without_pending_data_is_6985(admin: Card) -> None:
    assert admin.send("00C0000000").sw == 0x6985


def test_other_command_discards_the_pending_response(cert_card: tuple[Card, bytes]) -> None:
    card, _ = cert_card
    assert card.send(GET_CERT + b"\x00").sw == 0x6100
    card.send("00CB3FFF035C017E")
    assert card.send("00C0000000").sw == 0x6985


def test_get_response_wrong_p1p2_is_6a86(cert_card: tuple[Card, bytes]) -> None:
    card, _ = cert_card
    card.send(GET_CERT + b"\x00")
    assert card.send("00C0010000").sw == 0x6A86


def test_power_down_discards_the_pending_response(cert_card: tuple[Card, bytes]) -> None:
    card, _ = cert_card
    card.send(GET_CERT + b"\x00")
    card.os.powerDown()
    assert card.send("00C0000000").sw == 0x6985


# -- command chaining -------------------------------------------------------------------
def test_chunks_are_answered_9000_and_the_last_one_executes(admin: Card) -> None:
    content = tlv(0x34, bytes(16)) + tlv(0xFE, b"") + tlv(0x99, bytes(400))
    body = tlv(0x5C, bytes.fromhex("5FC102")) + tlv(0x53, content)
    before = admin.path.read_bytes()
    assert admin.cmd(0xDB, 0x3F, 0xFF, body[:200], cla=0x10).sw == 0x9000
    assert admin.cmd(0xDB, 0x3F, 0xFF, body[200:300], cla=0x10).sw == 0x9000
    assert admin.path.read_bytes() == before  # nothing executed yet
    assert admin.cmd(0xDB, 0x3F, 0xFF, body[300:]).sw == 0x9000
    assert admin.get_data(Obj.CHUID).data == tlv(0x53, content)


def test_chunk_with_different_header_is_6883_and_discards(admin: Card) -> None:
    assert admin.cmd(0xDB, 0x3F, 0xFF, b"\x5c", cla=0x10).sw == 0x9000
    assert admin.cmd(0x87, 0x07, 0x9A, b"\x7c", cla=0x10).sw == 0x6883
    # chain gone: a fresh command works
    assert admin.send("00CB3FFF035C017E").sw == 0x9000


def test_final_command_with_different_header_is_6883(admin: Card) -> None:
    assert admin.cmd(0xDB, 0x3F, 0xFF, b"\x5c", cla=0x10).sw == 0x9000
    assert admin.send("00CB3FFF035C017E").sw == 0x6883
    assert admin.send("00CB3FFF035C017E").sw == 0x9000


def test_chain_longer_than_limit_is_6a84(admin: Card) -> None:
    for _ in range(MAX_COMMAND_SIZE // 255):
        assert admin.cmd(0xDB, 0x3F, 0xFF, bytes(255), cla=0x10).sw == 0x9000
    assert admin.cmd(0xDB, 0x3F, 0xFF, bytes(255), cla=0x10).sw == 0x6A84
    assert admin.cmd(0xDB, 0x3F, 0xFF, bytes(5)).sw == 0x6A80  # a new, lone (malformed) command


def test_reset_discards_a_pending_chain(admin: Card) -> None:
    admin.cmd(0xDB, 0x3F, 0xFF, b"\x5c", cla=0x10)
    admin.os.reset()
    assert admin.send("00CB3FFF035C017E").sw == 0x9000


def test_signature_through_both_chainings(admin: Card) -> None:
    """OpenSC's way: 264 bytes of command in two CLA 10/00 chunks, 264 of answer in two parts."""
    admin.generate(0x9C)
    admin.verify()
    body = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, b"\x00\x01" + b"\xff" * 254))
    assert admin.cmd(0x87, 0x07, 0x9C, body[:255], cla=0x10).sw == 0x9000
    r = admin.cmd(0x87, 0x07, 0x9C, body[255:], le=256)
    assert r.sw == 0x6108 and len(r.data) == 256
    r2 = admin.send("00C0000008")
    assert r2.sw == 0x9000 and len(r.data + r2.data) == 264


# -- the processors alone -----------------------------------------------------------------
def test_command_chainer_keeps_the_final_le() -> None:
    chainer = CommandChainer(limit=10)
    assert chainer.feed(CommandApdu(0x10, 1, 2, 3, b"ab")) is None
    whole = chainer.feed(CommandApdu(0x00, 1, 2, 3, b"cd", le=7))
    assert whole == CommandApdu(0x00, 1, 2, 3, b"abcd", le=7)
    assert not chainer.pending


def test_response_chainer_exact_fit_needs_no_61xx() -> None:
    chainer = ResponseChainer()
    assert chainer.respond(bytes(256), CommandApdu(0, 0xCB, 0, 0, le=256)) == bytes(256) + b"\x90\x00"
    assert chainer.respond(bytes(300), CommandApdu(0, 0xCB, 0, 0)) == bytes(256) + b"\x61\x2c"
    assert chainer.get_response(CommandApdu(0, 0xC0, 0, 0, le=100)) == bytes(44) + b"\x90\x00"
