"""The card edge outside PIN and keys: ATR, class byte, SELECT, GET DATA,
unknown instructions, malformed APDUs and power events."""

from __future__ import annotations

from pathlib import Path

import pytest

from fxml.card.piv import PIV_AID, Obj
from fxml.card.tlv import parse_tlv, tlv, unpack
from simulator.card.image import Carrier
from simulator.card.os import ATRS, NULL_ATR, InProcessConnection, NullCardOS
from simulator.card.profile import card_guid
from tests.support.card_os import PROFILE, Card


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return Card(tmp_path / "card.json")


def _tck_ok(atr: bytes) -> bool:
    x = 0
    for b in atr[1:]:
        x ^= b
    return x == 0


# -- ATR -------------------------------------------------------------------------
def test_atr_of_large_card_names_twca_and_t0_t1(card: Card) -> None:
    atr = card.os.getATR()
    assert atr == bytes.fromhex("3B 8B 80 01 80 73 80 01 C0 55 54 57 43 41 4C A0")
    assert atr[2:4] == b"\x80\x01"  # TD1: T=0 and TD2 follows; TD2: T=1
    assert b"TWCA" in atr and _tck_ok(atr)


def test_atr_of_small_card_differs_in_last_historical_byte(tmp_path: Path) -> None:
    from dataclasses import replace

    small = Card(tmp_path / "small.json", replace(PROFILE, carrier=Carrier.SMALL))
    large, small_atr = ATRS[Carrier.LARGE], small.os.getATR()
    assert small_atr == ATRS[Carrier.SMALL]
    assert large[:-2] == small_atr[:-2] and large[-2] != small_atr[-2]
    assert small_atr[-2:-1] == b"S" and _tck_ok(small_atr)


def test_null_card_answers_9000_to_anything() -> None:
    null = NullCardOS()
    assert null.getATR() == NULL_ATR and _tck_ok(NULL_ATR)
    assert null.execute(b"\xff") == b"\x90\x00"
    assert InProcessConnection(null).transmit(bytes.fromhex("00A40400")) == b"\x90\x00"


# -- SELECT ----------------------------------------------------------------------
APT = tlv(
    0x61,
    tlv(0x4F, bytes.fromhex("000010000100"))
    + tlv(0x79, tlv(0x4F, bytes.fromhex("A000000308")))
    + tlv(0x50, b"TWCA FXML")
    + tlv(0xAC, tlv(0x80, b"\x07") + tlv(0x80, b"\x08") + tlv(0x80, b"\x0C") + tlv(0x80, b"\x03") + tlv(0x06, b"")),
)


@pytest.mark.parametrize("aid", [PIV_AID[:n] for n in range(5, 12)], ids=lambda aid: f"{len(aid)}-bytes")
def test_select_piv_aid_or_prefix_returns_property_template(card: Card, aid: bytes) -> None:
    r = card.cmd(0xA4, 0x04, 0x00, aid, le=256)
    assert (r.data, r.sw) == (APT, 0x9000)


def test_select_without_le_still_answers_the_template(card: Card) -> None:
    assert card.cmd(0xA4, 0x04, 0x00, PIV_AID).data == APT


@pytest.mark.parametrize("aid", [PIV_AID[:4], bytes.fromhex("A0000000030000"), PIV_AID + b"\x00", b""])
def test_select_other_aid_is_6a82_and_piv_stays_selected(card: Card, aid: bytes) -> None:
    assert card.cmd(0xA4, 0x04, 0x00, aid).sw == 0x6A82
    assert card.get_data(Obj.DISCOVERY).sw == 0x9000


def test_select_by_file_id_is_6a82(card: Card) -> None:
    assert card.send("00A4000C023F00").sw == 0x6A82


@pytest.mark.parametrize("p1p2", ["0401", "0404", "0300", "8000"])
def test_select_unsupported_p1_p2_is_6a86(card: Card, p1p2: str) -> None:
    assert card.send(f"00A4{p1p2}0BA000000308000010000100").sw == 0x6A86


def test_select_p2_0c_answers_without_data(card: Card) -> None:
    r = card.send("00A4040C0BA000000308000010000100")
    assert (r.data, r.sw) == (b"", 0x9000)


def test_piv_is_selected_after_power_up_without_select(card: Card) -> None:
    card.os.powerUp()
    assert card.get_data(Obj.TWCA_CARD_INFO).sw == 0x9000


# -- class byte, instruction, malformed ------------------------------------------
@pytest.mark.parametrize("cla", [0x80, 0x84, 0x0C, 0x08, 0x04, 0xA0, 0x40, 0xFF])
def test_class_with_proprietary_or_secure_messaging_bits_is_6e00(card: Card, cla: int) -> None:
    assert card.raw(bytes([cla, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E])) == b"\x6e\x00"


@pytest.mark.parametrize("cla", [0x01, 0x02, 0x03])
def test_logical_channel_is_6881(card: Card, cla: int) -> None:
    assert card.raw(bytes([cla, 0xCB, 0x3F, 0xFF, 3, 0x5C, 1, 0x7E])) == b"\x68\x81"


@pytest.mark.parametrize("ins", [0x00, 0xB0, 0xD6, 0x84, 0xE2, 0xFD])
def test_unknown_instruction_is_6d00(card: Card, ins: int) -> None:
    assert card.raw(bytes([0x00, ins, 0x00, 0x00])) == b"\x6d\x00"


@pytest.mark.parametrize(
    "apdu", ["", "00", "00A404", "00A4040005A000", "00A404000BA0", "00CB3FFF0000", "00CB3FFF000005AABB"]
)
def test_malformed_apdu_is_6700(card: Card, apdu: str) -> None:
    assert card.raw(apdu) == b"\x67\x00"


def test_unexpected_exception_is_6f00_and_leaves_the_card_usable(
    card: Card, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(cmd: object) -> bytes:
        raise KeyError("bug")

    monkeypatch.setitem(card.os.applet._handlers, 0xCB, boom)
    before = card.path.read_bytes()
    assert card.raw("00CB3FFF035C017E") == b"\x6f\x00"
    assert "6F00" in caplog.text
    monkeypatch.undo()
    assert card.get_data(Obj.DISCOVERY).sw == 0x9000
    assert card.path.read_bytes() == before


# -- GET DATA --------------------------------------------------------------------
def test_discovery_object_is_pin_only(card: Card) -> None:
    r = card.send("00CB3FFF035C017E00")
    assert r.sw == 0x9000
    assert r.data == bytes.fromhex("7E124F0BA0000003080000100001005F2F024000")


def test_chuid_carries_fascn_guid_from_serial_and_expiry(card: Card) -> None:
    r = card.get_data(Obj.CHUID)
    fields = parse_tlv(unpack(0x53, r.data))
    assert len(fields[0x30]) == 25
    assert fields[0x34] == card_guid(PROFILE.card_serial) and len(fields[0x34]) == 16
    assert fields[0x35] == b"20351231"
    assert fields[0x3E] == b"" and fields[0xFE] == b""


def test_twca_card_info(card: Card) -> None:
    r = card.get_data(Obj.TWCA_CARD_INFO)
    fields = parse_tlv(unpack(0x53, r.data))
    assert fields[0x01].decode() == "TWCA-TEST-0000000001"
    assert fields[0x02].decode("utf-8") == "憑證晶片卡(大卡)"
    assert fields[0x03].decode() == "99000001"
    assert fields[0x04] == b"1"


def test_small_card_reports_small_carrier(tmp_path: Path) -> None:
    from dataclasses import replace

    small = Card(tmp_path / "s.json", replace(PROFILE, carrier=Carrier.SMALL))
    fields = parse_tlv(unpack(0x53, small.get_data(Obj.TWCA_CARD_INFO).data))
    assert fields[0x02].decode("utf-8") == "憑證晶片卡(小卡)"


@pytest.mark.parametrize(
    "tag",
    [Obj.CERT_9A, Obj.CERT_9C, Obj.CERT_9D, Obj.CERT_9E, Obj.CCC, Obj.KEY_HISTORY, Obj.BIOMETRIC_GROUP_TEMPLATE,
     0x5FC109],
)
def test_absent_objects_are_6a82(card: Card, tag: int) -> None:
    assert card.get_data(tag).sw == 0x6A82


@pytest.mark.parametrize("p1p2", ["0000", "3FFE", "FF3F"])
def test_get_data_wrong_p1p2_is_6a86(card: Card, p1p2: str) -> None:
    assert card.send(f"00CB{p1p2}035C017E").sw == 0x6A86


@pytest.mark.parametrize("data", ["", "5C00", "5C045FC10201", "5D017E", "5C017E00", "5C03"])
def test_get_data_malformed_field_is_6a80(card: Card, data: str) -> None:
    apdu = "00CB3FFF" + (f"{len(data) // 2:02X}{data}" if data else "")
    assert card.send(apdu).sw == 0x6A80


def test_get_data_needs_no_pin(card: Card) -> None:
    assert not card.os.applet.pin_verified
    assert card.get_data(Obj.CHUID).sw == 0x9000
