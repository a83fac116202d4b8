"""What vpcd's socket protocol cannot carry, through the real pcscd and vpcd
(issue 7): commands shorter than 4 bytes (defect 1: a 1-byte command is
framed like vpcd's control messages), commands of 65,536 bytes or more and
a card link that vpcd drops (defect 7). The reader driver guard
(simulator/pcsc/ifd_guard.c) answers the first two; the stack daemon reports
the third as a removal."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from smartcard import scard

from fxml.card.pcsc import wait_for_card
from simulator.home import Home
from simulator.pcsc import layout
from tests.support.paths import ROOT

pytestmark = pytest.mark.pcsc

PROFILE = ROOT / "fixtures" / "cards" / "personal-small.json"
SELECT_PIV = "00A4040009A00000030800001000"

#: One PC/SC client connection; a command per stdin line, [rc, answer] per stdout line.
CLIENT = """
import json, sys
from smartcard import scard
rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
rc, card, proto = scard.SCardConnect(ctx, sys.argv[1], scard.SCARD_SHARE_SHARED,
                                     scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
print(json.dumps(["connect", rc & 0xFFFFFFFF]), flush=True)
for line in sys.stdin:
    rc, answer = scard.SCardTransmit(card, proto, list(bytes.fromhex(line.strip())))
    print(json.dumps([rc & 0xFFFFFFFF, bytes(answer).hex().upper() if rc == 0 else ""]), flush=True)
"""


def transmit_all(reader: str, apdus: list[str], env: dict[str, str], timeout: float = 15) -> list[tuple[int, str]]:
    """Send the commands on one connection, in a client process of its own
    (killed, and the test failed, if it hangs)."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CLIENT, reader], input="\n".join(apdus) + "\n",
            capture_output=True, text=True, timeout=timeout, env={**os.environ, **env},
        )
    except subprocess.TimeoutExpired as exc:
        answered = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"the PC/SC client hung after {answered.count(chr(10)) - 1} answers: {answered!r}")
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines and lines[0] == ["connect", 0], done.stdout + done.stderr
    return [(rc, answer) for rc, answer in lines[1:]]


def pin_block(pin: str) -> str:
    return pin.encode().hex().upper() + "FF" * (8 - len(pin))


def pcscd_sees_a_card(reader: str) -> bool:
    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert rc == scard.SCARD_S_SUCCESS
    try:
        rc, states = scard.SCardGetStatusChange(ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        assert rc == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(rc)
        return bool(states[0][1] & scard.SCARD_STATE_PRESENT)
    finally:
        scard.SCardReleaseContext(ctx)


def test_commands_shorter_than_4_bytes_are_answered_6700_and_reach_no_card(empty_readers: Home) -> None:
    home = empty_readers
    image = home.create_card(PROFILE, name="guard-short", replace=True)
    reader = home.stack.insert(image, 0)["name"]
    pin = json.loads(PROFILE.read_text())["pin"]
    short = ["00", "01", "02", "04", "FF", "0020", "002000"]
    answers = transmit_all(reader, [SELECT_PIV, f"0020008008{pin_block(pin)}", *short, "0020008000", SELECT_PIV],
                           home.stack.client_env())
    assert answers[1] == (0, "9000")  # PIN verified
    # Each short command: 6700, as docs/card.md says for fewer than 4 bytes.
    # Neither 04 answered with the ATR, nor 00/01/02 taken as power off/on
    # and reset by the card (vpcd then waited for ever for an answer).
    assert answers[2:-2] == [(0, "6700")] * len(short)
    assert answers[-2] == (0, "9000")  # still verified: the card was not reset
    assert answers[-1][0] == 0 and answers[-1][1].endswith("9000")
    # The reader serves new connections too.
    assert transmit_all(reader, [SELECT_PIV], home.stack.client_env())[0][1].endswith("9000")


def test_a_command_of_65536_bytes_or_more_leaves_the_card_in_its_reader(empty_readers: Home) -> None:
    home = empty_readers
    reader = home.stack.insert("null", 1)["name"]  # the null card answers 9000 to anything that reaches it
    longest = "00CB3FFF00FFF5" + "00" * 65525 + "0000"  # 65,534 bytes: vpcd carries it
    too_long = "00CB3FFF00FFF9" + "00" * 65529  # 65,536 bytes
    extended_max = "00CB3FFF00FFFF" + "00" * 65535 + "0000"  # 65,544 bytes, as the client library allows
    answers = transmit_all(reader, [longest, too_long, extended_max, "00A4040000"], home.stack.client_env())
    assert answers == [(0, "9000"), (0, "6700"), (0, "6700"), (0, "9000")]
    # The card is still in its reader, for pcscd and for the stack alike.
    assert pcscd_sees_a_card(reader)
    assert [r["card"] for r in home.stack.readers()][1] == "null"


@pytest.mark.skipif(shutil.which("nsenter") is None or shutil.which("ss") is None, reason="needs nsenter and ss")
def test_a_link_vpcd_drops_is_reported_as_a_removal(empty_readers: Home) -> None:
    home = empty_readers
    image = home.create_card(PROFILE, name="guard-drop", replace=True)
    reader = home.stack.insert(image, 3)["name"]
    state = home.stack.state()
    assert state is not None
    netns = f"--net=/proc/{state['daemon_pid']}/ns/net"
    port = layout.reader_port(3)
    # Kill the card's end of the TCP link inside the stack's namespace, as
    # vpcd's end is when it cannot carry a message.
    killed = subprocess.run(["nsenter", netns, "ss", "-K", "-tn", "dst", "127.0.0.1", "dport", "=", f":{port}"],
                            capture_output=True, text=True, timeout=10)
    left = subprocess.run(["nsenter", netns, "ss", "-tnH", "dst", "127.0.0.1", "dport", "=", f":{port}"],
                          capture_output=True, text=True, timeout=10)
    if killed.returncode != 0 or left.stdout.strip():
        pytest.skip(f"this kernel cannot destroy sockets (ss -K): {killed.stderr.strip()}")
    wait_for_card(reader, present=False, timeout=10)  # pcscd sees the reader empty ...
    # ... and so does the stack, once that same event reaches its daemon.
    deadline = time.monotonic() + 5
    while home.stack.readers()[3]["card"] is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert home.stack.readers()[3]["card"] is None
    assert home.stack.insert(image, 3)["name"] == reader  # the card goes back in
    assert transmit_all(reader, [SELECT_PIV], home.stack.client_env())[0][1].endswith("9000")
