"""The card side of vpcd's socket protocol, against a vpcd stand-in on a real
loopback socket (the whole path through pcscd is in tests/pcsc)."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from simulator.pcsc.vicc import CTRL_ATR, CTRL_OFF, CTRL_ON, LinkError, VirtualCardLink


class EchoCard:
    """A SmartcardOS that answers 9000 after the command's INS, or fails on INS FF."""

    def __init__(self) -> None:
        self.powered = False

    def getATR(self) -> bytes:
        return bytes.fromhex("3B00")

    def powerUp(self) -> None:
        self.powered = True

    def powerDown(self) -> None:
        self.powered = False

    def reset(self) -> None:
        pass

    def execute(self, msg: bytes) -> bytes:
        if msg[1] == 0xFF:
            raise RuntimeError("a bug in the card OS")
        return bytes([msg[1]]) + b"\x90\x00"


@pytest.fixture
def vpcd() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    yield server
    server.close()


def send(conn: socket.socket, payload: bytes) -> None:
    conn.sendall(struct.pack("!H", len(payload)) + payload)


def recv(conn: socket.socket) -> bytes:
    head = conn.recv(2, socket.MSG_WAITALL)
    (size,) = struct.unpack("!H", head)
    return conn.recv(size, socket.MSG_WAITALL)


def test_link_speaks_vpcd_and_survives_a_failing_command(vpcd: socket.socket) -> None:
    card = EchoCard()
    link = VirtualCardLink(card, vpcd.getsockname()[1])
    link.connect()
    conn, _ = vpcd.accept()
    conn.settimeout(10)
    try:
        send(conn, bytes([CTRL_ATR]))
        assert recv(conn) == bytes.fromhex("3B00")
        send(conn, bytes([CTRL_ON]))  # control codes get no answer
        send(conn, bytes.fromhex("00A40400"))
        assert recv(conn) == bytes.fromhex("A49000")
        assert card.powered
        send(conn, bytes.fromhex("00FF0000"))
        assert recv(conn) == bytes.fromhex("6F00")  # a status word, not a dead link
        send(conn, bytes.fromhex("00CA0000"))
        assert recv(conn) == bytes.fromhex("CA9000")
        assert link.alive and link.apdu_count == 3
        send(conn, bytes([CTRL_OFF]))
        link.close()  # the card pulled out: vpcd sees the connection end
        assert conn.recv(1) == b""
        assert not link.alive and not card.powered
    finally:
        conn.close()


def test_no_vpcd_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(LinkError, match=f"vpcd is not listening on 127.0.0.1:{port}"):
            VirtualCardLink(EchoCard(), port).connect()
