"""What PIV stacks written elsewhere send to the card, in process: the
right-truncated SELECT of yubico-piv-tool, the challenge OpenSC's PIV driver
asks for when a PKCS#11 application wants random bytes, and the YubiKey-only
instructions libykpiv tries on every card (docs/card.md, "Other PIV stacks")."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest

from fxml.card.piv import PIV_AID, PIV_RID, Obj
from fxml.card.tlv import parse_tlv, tlv, unpack
from simulator.card.applet import SELECT_RESPONSE, PivApplet
from tests.support.card_os import PIN, Card

#: AIDs of other applications that the stacks probe for (none is on this card).
YUBICO_OTP_AID = bytes.fromhex("A000000527200101")
YUBICO_MGMT_AID = bytes.fromhex("A000000527471117")
OPENPGP_AID = bytes.fromhex("D27600012401")
PKCS15_AID = bytes.fromhex("A000000063504B43532D3135")

#: YubiKey-only instructions of libykpiv (ykpiv.h): set management key, import
#: key, get version, reset, set PIN retries, attest, get serial, get metadata;
#: and the OTP application's serial query (INS 01) sent after selecting it.
YUBIKEY_INS = (0xFF, 0xFE, 0xFD, 0xFB, 0xFA, 0xF9, 0xF8, 0xF7, 0x01)

#: OpenSC's C_GenerateRandom: GENERAL AUTHENTICATE, P1 00, key 9B, 7C { 81 00 }.
OPENSC_CHALLENGE = bytes.fromhex("0087009B047C02810000")


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return Card(tmp_path / "card.json")


def _snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


# -- SELECT by a right-truncated DF name ------------------------------------------
@pytest.mark.parametrize("length", range(len(PIV_RID), len(PIV_AID) + 1))
@pytest.mark.parametrize("p2", [0x00, 0x0C])
def test_every_prefix_from_the_rid_up_selects_piv(card: Card, length: int, p2: int) -> None:
    r = card.cmd(0xA4, 0x04, p2, PIV_AID[:length], le=256 if p2 == 0 else None)
    assert r.sw == 0x9000
    assert r.data == (SELECT_RESPONSE if p2 == 0 else b"")


def test_yubico_piv_tool_select_is_the_rid_without_le(card: Card) -> None:
    # yubico-piv-tool 2.2 sends exactly these bytes (lib/ykpiv.c, _ykpiv_select_application).
    r = card.send("00A4040005A000000308")
    assert (r.data, r.sw) == (SELECT_RESPONSE, 0x9000)


@pytest.mark.parametrize("length", range(len(PIV_RID), len(PIV_AID) + 1))
def test_a_prefix_whose_last_byte_differs_is_6a82(card: Card, length: int) -> None:
    aid = PIV_AID[: length - 1] + bytes([PIV_AID[length - 1] ^ 0x01])
    assert card.cmd(0xA4, 0x04, 0x00, aid).sw == 0x6A82


@pytest.mark.parametrize("length", range(1, len(PIV_RID)))
def test_shorter_than_the_rid_is_6a82(card: Card, length: int) -> None:
    assert card.cmd(0xA4, 0x04, 0x00, PIV_AID[:length]).sw == 0x6A82


@pytest.mark.parametrize("extra", [b"\x00", b"\x01", bytes(5)])
def test_longer_than_the_full_aid_is_6a82(card: Card, extra: bytes) -> None:
    assert card.cmd(0xA4, 0x04, 0x00, PIV_AID + extra).sw == 0x6A82


@pytest.mark.parametrize(
    "aid", [YUBICO_OTP_AID, YUBICO_MGMT_AID, OPENPGP_AID, PKCS15_AID], ids=["yk-otp", "yk-mgmt", "openpgp", "pkcs15"]
)
def test_another_application_is_6a82_and_the_session_survives(card: Card, aid: bytes) -> None:
    assert card.verify().sw == 0x9000
    assert card.cmd(0xA4, 0x04, 0x00, aid).sw == 0x6A82
    assert card.os.applet.pin_verified  # PIV stayed selected, PIN still verified
    assert card.get_data(Obj.DISCOVERY).sw == 0x9000


def test_truncated_select_with_an_unsupported_p2_is_still_6a86(card: Card) -> None:
    for p2 in (0x01, 0x02, 0x04):  # last / next occurrence, FCP
        assert card.cmd(0xA4, 0x04, p2, PIV_RID).sw == 0x6A86


# -- random bytes for OpenSC's C_GenerateRandom ----------------------------------
def test_opensc_challenge_request_answers_8_random_bytes(card: Card) -> None:
    seen = set()
    for _ in range(32):
        r = card.send(OPENSC_CHALLENGE)
        assert r.sw == 0x9000
        challenge = parse_tlv(unpack(0x7C, r.data))[0x81]
        assert len(challenge) == 8
        seen.add(challenge)
    assert len(seen) == 32  # 64-bit random values do not repeat


def test_the_card_draws_challenges_from_the_os_random_source() -> None:
    assert inspect.signature(PivApplet).parameters["random"].default is os.urandom


def test_random_bytes_keep_the_pin_verified(card: Card) -> None:
    assert card.verify(PIN).sw == 0x9000
    assert card.send(OPENSC_CHALLENGE).sw == 0x9000
    assert card.os.applet.pin_verified


def test_random_bytes_end_a_management_authentication(card: Card) -> None:
    # A challenge request starts an authentication of the 9B key, as SP 800-73-4
    # defines it; like every step on 9B it first drops an earlier one.
    assert card.admin().sw == 0x9000
    assert card.send(OPENSC_CHALLENGE).sw == 0x9000
    assert not card.os.applet.management_authenticated


# -- YubiKey-only instructions ---------------------------------------------------
@pytest.mark.parametrize("ins", YUBIKEY_INS, ids=lambda ins: f"{ins:02X}")
@pytest.mark.parametrize("apdu_tail", ["", "00", "0300", "05" + "00" * 5], ids=["case1", "case2", "p1p2", "data"])
def test_yubikey_only_instructions_are_6d00(card: Card, ins: int, apdu_tail: str) -> None:
    p1p2 = "0000" if apdu_tail != "0300" else "9A00"
    tail = "" if apdu_tail == "0300" else apdu_tail
    assert card.raw(f"00{ins:02X}{p1p2}{tail}") == b"\x6d\x00"


# -- none of this changes the card image -------------------------------------------
def test_what_other_stacks_send_leaves_the_image_file_untouched(card: Card) -> None:
    before = _snapshot(card.path)
    # yubico-piv-tool's connect, as traced against the card, then OpenSC's random.
    for apdu in ["00A4040005A000000308", "0020008000", "00FD000000", "00A4040008" + YUBICO_OTP_AID.hex(), "00F8000000"]:
        card.raw(apdu)
    for ins in YUBIKEY_INS:
        card.raw(bytes([0x00, ins, 0x00, 0x9A, 0x00]))
    for length in range(1, 13):
        card.cmd(0xA4, 0x04, 0x00, (PIV_AID + b"\x00")[:length])
    for _ in range(4):
        card.send(OPENSC_CHALLENGE)
    card.cmd(0x87, 0x00, 0x9B, tlv(0x7C, tlv(0x80, b"")))  # mutual-authentication step 1 with P1 00
    assert _snapshot(card.path) == before
