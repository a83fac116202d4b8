"""憑證載具密碼 (PIN) and PUK: policy, persistent retry counters, change and unblock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fxml.card.piv import pad_pin
from simulator.card import image as image_mod
from tests.support.card_os import PIN, PROFILE, PUK, Card


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return Card(tmp_path / "card.json")


# -- VERIFY ------------------------------------------------------------------------
def test_correct_pin_verifies_and_sets_session_flag(card: Card) -> None:
    assert card.verify().sw == 0x9000
    assert card.os.applet.pin_verified
    assert card.cmd(0x20, 0x00, 0x80).sw == 0x9000  # status query


def test_status_query_before_verify_reports_tries(card: Card) -> None:
    assert card.cmd(0x20, 0x00, 0x80).sw == 0x63C3


def test_wrong_pin_counts_down_then_blocks(card: Card) -> None:
    assert card.verify("Wrong123").sw == 0x63C2
    assert card.image.pin.tries_left == 2
    assert card.verify("Wrong123").sw == 0x63C1
    assert card.verify("Wrong123").sw == 0x63C0
    assert card.image.pin.tries_left == 0
    assert card.verify(PIN).sw == 0x6983  # even the right PIN
    assert card.cmd(0x20, 0x00, 0x80).sw == 0x6983
    assert not card.os.applet.pin_verified


def test_correct_pin_restores_the_counter(card: Card) -> None:
    card.verify("Wrong123")
    assert card.verify().sw == 0x9000
    assert card.image.pin.tries_left == 3


def test_counter_is_written_before_the_answer(card: Card, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    applet = card.os.applet
    original = applet._persist

    def spy(image):
        original(image)
        seen.append(image.pin.tries_left)

    monkeypatch.setattr(applet, "_persist", spy)
    assert card.verify("Wrong123").sw == 0x63C2
    assert seen == [2]


def test_counter_write_failure_answers_6581_and_counts_nothing(card: Card, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(image):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(card.os.applet, "_persist", fail)
    assert card.verify("Wrong123").sw == 0x6581
    assert card.os.image.pin.tries_left == 3 and card.image.pin.tries_left == 3


def test_counter_written_but_folder_sync_failed_is_not_forgotten(card: Card, monkeypatch: pytest.MonkeyPatch) -> None:
    # The image is renamed into place, then the folder fsync fails: the file holds
    # the decremented counter, so the card must hold it too, or the next wrong PIN
    # would write the same count again (a free try).
    def fail(directory: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(image_mod, "_fsync_dir", fail)
    assert card.verify("Wrong123").sw == 0x6581
    monkeypatch.undo()
    assert card.image.pin.tries_left == 2 and card.os.image.pin.tries_left == 2
    assert card.verify("Wrong123").sw == 0x63C1
    assert card.image.pin.tries_left == 1


@pytest.mark.parametrize("reopen", ["power_cycle", "reset", "reopen"])
def test_counter_survives_power_off_removal_and_restart(card: Card, reopen: str) -> None:
    card.verify("Wrong123")
    if reopen == "power_cycle":
        card.os.powerDown()
        card.os.powerUp()
    elif reopen == "reset":
        card.os.reset()
    else:
        card.reopen()
    assert card.cmd(0x20, 0x00, 0x80).sw == 0x63C2


@pytest.mark.parametrize("event", ["powerDown", "reset", "powerUp"])
def test_power_events_clear_verification(card: Card, event: str) -> None:
    card.verify()
    getattr(card.os, event)()
    assert card.cmd(0x20, 0x00, 0x80).sw == 0x63C3


def test_verify_p1_ff_clears_verification(card: Card) -> None:
    card.verify()
    assert card.send("0020FF80").sw == 0x9000
    assert not card.os.applet.pin_verified


@pytest.mark.parametrize("length", [0x07, 0x09, 0x10])
def test_pin_data_not_8_bytes_is_6700_and_counts_nothing(card: Card, length: int) -> None:
    assert card.cmd(0x20, 0x00, 0x80, b"1" * length).sw == 0x6700
    assert card.image.pin.tries_left == 3


@pytest.mark.parametrize(
    "field",
    [
        pad_pin("12345"),  # too short
        b"123456\xff1",  # data after padding
        b"12345\xff\xff\xff",  # 5 characters
        pad_pin("12 456"),  # not alphanumeric
        pad_pin("12345!"),
        b"\xff" * 8,
        "密碼12".encode()[:8],
        b"123456\x00\x00",  # zero padding instead of FF
    ],
)
def test_pin_not_meeting_policy_is_6a80_and_counts_nothing(card: Card, field: bytes) -> None:
    assert card.cmd(0x20, 0x00, 0x80, field).sw == 0x6A80
    assert card.image.pin.tries_left == 3


@pytest.mark.parametrize("pin", ["123456", "abcdEF12", "A1b2C3d"])
def test_policy_accepts_six_to_eight_letters_and_digits(tmp_path: Path, pin: str) -> None:
    card = Card(tmp_path / "p.json", replace(PROFILE, pin=pin))
    assert card.verify(pin).sw == 0x9000


@pytest.mark.parametrize("p2", [0x00, 0x9A, 0x9B, 0x82])
def test_verify_other_key_reference_is_6a88(card: Card, p2: int) -> None:
    assert card.cmd(0x20, 0x00, p2, pad_pin(PIN)).sw == 0x6A88


def test_verify_wrong_p1_is_6a86(card: Card) -> None:
    assert card.cmd(0x20, 0x01, 0x80, pad_pin(PIN)).sw == 0x6A86


def test_verify_does_not_take_the_puk_and_leaves_its_counter_alone(card: Card) -> None:
    # SP 800-73-4: VERIFY references the PIN only; the PUK is for 24 and 2C.
    before = card.path.read_bytes()
    assert card.cmd(0x20, 0x00, 0x81).sw == 0x6A88
    assert card.cmd(0x20, 0x00, 0x81, pad_pin("00000000")).sw == 0x6A88
    assert card.cmd(0x20, 0x00, 0x81, pad_pin(PUK)).sw == 0x6A88
    assert card.cmd(0x20, 0xFF, 0x81).sw == 0x6A88
    assert card.image.puk.tries_left == 3 and not card.os.applet.pin_verified
    assert card.path.read_bytes() == before


def test_wrong_pin_drops_an_earlier_verification(card: Card) -> None:
    card.verify()
    card.verify("Wrong123")
    assert not card.os.applet.pin_verified


# -- CHANGE REFERENCE DATA ------------------------------------------------------------
def change(card: Card, old: str, new: str, ref: int = 0x80) -> int:
    return card.cmd(0x24, 0x00, ref, pad_pin(old) + pad_pin(new)).sw


def test_change_pin(card: Card) -> None:
    assert change(card, PIN, "New2023x") == 0x9000
    assert card.image.pin.value == "New2023x"
    assert card.verify(PIN).sw == 0x63C2
    assert card.verify("New2023x").sw == 0x9000


def test_change_with_wrong_old_pin_counts_on_the_pin_counter(card: Card) -> None:
    assert change(card, "Wrong123", "New2023x") == 0x63C2
    assert card.image.pin.value == PIN and card.image.pin.tries_left == 2


def test_change_to_pin_violating_policy_is_6a80_and_counts_nothing(card: Card) -> None:
    assert change(card, "Wrong123", "12345") == 0x6A80
    assert card.cmd(0x24, 0x00, 0x80, pad_pin(PIN) + b"abc!def\xff").sw == 0x6A80
    assert card.image.pin.tries_left == 3 and card.image.pin.value == PIN


def test_change_wrong_length_is_6700(card: Card) -> None:
    assert card.cmd(0x24, 0x00, 0x80, pad_pin(PIN)).sw == 0x6700


def test_change_blocked_pin_is_6983(card: Card) -> None:
    for _ in range(3):
        card.verify("Wrong123")
    assert change(card, PIN, "New2023x") == 0x6983


def test_change_puk(card: Card) -> None:
    assert change(card, PUK, "PUK2023a", ref=0x81) == 0x9000
    assert card.image.puk.value == "PUK2023a"


def test_change_other_reference_is_6a88_and_wrong_p1_6a86(card: Card) -> None:
    assert change(card, PIN, "New2023x", ref=0x9B) == 0x6A88
    assert card.cmd(0x24, 0x01, 0x80, pad_pin(PIN) + pad_pin("New2023x")).sw == 0x6A86


# -- RESET RETRY COUNTER ---------------------------------------------------------------
def unblock(card: Card, puk: str, new_pin: str) -> int:
    return card.cmd(0x2C, 0x00, 0x80, pad_pin(puk) + pad_pin(new_pin)).sw


def test_puk_unblocks_and_sets_new_pin(card: Card) -> None:
    for _ in range(3):
        card.verify("Wrong123")
    assert unblock(card, PUK, "Reset123") == 0x9000
    image = card.image
    assert image.pin.value == "Reset123" and image.pin.tries_left == 3
    assert card.verify("Reset123").sw == 0x9000


def test_wrong_puk_counts_down_its_own_counter_then_blocks(card: Card) -> None:
    assert unblock(card, "00000000", "Reset123") == 0x63C2
    assert unblock(card, "00000000", "Reset123") == 0x63C1
    assert unblock(card, "00000000", "Reset123") == 0x63C0
    assert unblock(card, PUK, "Reset123") == 0x6983
    assert card.image.pin.tries_left == 3 and card.image.pin.value == PIN


def test_reset_retry_counter_rules(card: Card) -> None:
    assert unblock(card, PUK, "12") == 0x6A80
    assert card.cmd(0x2C, 0x00, 0x80, pad_pin(PUK)).sw == 0x6700
    assert card.cmd(0x2C, 0x00, 0x81, pad_pin(PUK) + pad_pin("Reset123")).sw == 0x6A88
    assert card.cmd(0x2C, 0x02, 0x80, pad_pin(PUK) + pad_pin("Reset123")).sw == 0x6A86
    assert card.image.puk.tries_left == 3
