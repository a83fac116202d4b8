"""The APDU trace: TRAFFIC level, SEND/RECV lines, secrets redacted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from fxml.card.piv import pad_pin
from simulator.card import trace
from simulator.card.trace import TRAFFIC, redact_command
from tests.support.card_os import MANAGEMENT_KEY, PIN, PUK, Card


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return Card(tmp_path / "card.json")


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    caplog.set_level(TRAFFIC, logger="simulator.card.trace")
    out: list[str] = []
    yield out
    out.extend(r.getMessage() for r in caplog.records if r.name == "simulator.card.trace")


def test_level_is_registered_below_debug() -> None:
    assert TRAFFIC == 7 < logging.DEBUG
    assert logging.getLevelName(TRAFFIC) == "TRAFFIC"
    assert trace.log.name == "simulator.card.trace"


def test_library_configures_no_handlers() -> None:
    assert logging.getLogger("simulator.card.trace").handlers == []
    assert logging.getLogger("simulator.card").handlers == []


def test_send_and_recv_lines(card: Card, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="simulator.card.trace")
    card.send("00CB3FFF035C017E00")
    msgs = [r.getMessage() for r in caplog.records if r.name == "simulator.card.trace"]
    assert msgs[0] == "SEND 00 CB 3F FF 03 5C 01 7E 00"
    assert msgs[1].startswith("RECV 7E 12 4F 0B A0") and msgs[1].endswith(" SW=9000")
    assert all(r.levelno == TRAFFIC for r in caplog.records if r.name == "simulator.card.trace")


def test_status_only_response(card: Card, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="simulator.card.trace")
    card.send("00CB3FFF035C0101")
    assert caplog.records[-1].getMessage() == "RECV SW=6A82"


def _secrets_absent(text: str, *secrets: bytes) -> None:
    for secret in secrets:
        assert secret.hex(" ").upper() not in text.upper(), secret
        assert secret.hex().upper() not in text.upper().replace(" ", ""), secret


def test_pin_puk_and_management_exchanges_are_redacted(card: Card, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="simulator.card.trace")
    card.verify()
    card.verify("Wrong123")
    card.cmd(0x24, 0x00, 0x80, pad_pin(PIN) + pad_pin("New2023x"))
    card.cmd(0x2C, 0x00, 0x80, pad_pin(PUK) + pad_pin("Reset123"))
    assert card.admin().sw == 0x9000
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "simulator.card.trace")
    assert "SEND 00 20 00 80 08 **" in text
    assert "SEND 00 24 00 80 10 **" in text and "SEND 00 2C 00 80 10 **" in text
    assert "SEND 00 87 03 9B 04 **" in text and "RECV ** SW=9000" in text
    _secrets_absent(text, PIN.encode(), PUK.encode(), b"New2023x", b"Reset123", b"Wrong123", MANAGEMENT_KEY[:8])
    # the card's challenge and the host's response are hidden too
    for record in caplog.records:
        msg = record.getMessage()
        if " 87 03 9B" in msg:
            assert msg.endswith("**")


def test_redaction_of_odd_commands() -> None:
    assert redact_command(bytes.fromhex("0020008008313233343536373800")) == "00 20 00 80 08 ** 00"
    assert redact_command(bytes.fromhex("0020008000000831323334353637FF")) == "00 20 00 80 00 00 08 **"
    assert redact_command(bytes.fromhex("00200080FF313233")) == "00 20 00 80 **"  # malformed: all hidden
    assert redact_command(bytes.fromhex("00200080")) == "00 20 00 80"
    assert redact_command(bytes.fromhex("1087039B0431323334")) == "10 87 03 9B 04 **"  # chained chunk
    assert redact_command(bytes.fromhex("0087079A037C0100")) == "00 87 07 9A 03 7C 01 00"  # signing input is not secret


def test_nothing_is_formatted_when_tracing_is_off(card: Card, monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("simulator.card.trace")
    logger.setLevel(logging.INFO)
    try:
        called: list[bytes] = []
        def redact(raw: bytes) -> str:
            called.append(raw)
            return ""

        monkeypatch.setattr(trace, "redact_command", redact)
        card.send("00A4040009A00000030800001000")
        assert called == []
    finally:
        logger.setLevel(logging.NOTSET)
