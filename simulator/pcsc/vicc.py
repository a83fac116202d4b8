"""The card side of vpcd's socket protocol, tuned for low latency.

vpcd (vsmartcard's IFD handler inside pcscd) talks to a virtual ICC over TCP:
every message is a 2-byte big-endian length followed by the payload. A
payload of one byte is a control code (power off/on, reset, ATR request);
anything longer is a command APDU that must be answered with a response APDU.

vpcd frames a 1-byte command APDU exactly like a control code (vpcd.c:
``vicc_transmit`` and ``vicc_reset`` both call ``sendToVICC`` with the bytes
as they are), and so does virtualsmartcard's own loop, which reads every
1-byte message as a control code: nothing on this socket tells them apart.
The stack's reader driver guard (``ifd_guard.c``) therefore answers every
command shorter than 4 bytes itself (6700), so that a 1-byte message here is
always vpcd's control code.

virtualsmartcard ships a loop for this (``VirtualICC``), but it calls
``sys.exit`` on errors and, through delayed ACKs on the socket, costs about
48 ms per APDU. This link keeps the same protocol and the same
``SmartcardOS`` interface, sets TCP_NODELAY, and re-arms TCP_QUICKACK before
every receive, which brings a round trip through pcscd to a fraction of a
millisecond.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
from collections.abc import Callable

from simulator.card.os import CardOs
from simulator.errors import SimulatorError

log = logging.getLogger(__name__)

CTRL_OFF = 0
CTRL_ON = 1
CTRL_RESET = 2
CTRL_ATR = 4

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class LinkError(SimulatorError, ConnectionError):
    """vpcd could not be reached or broke the protocol."""


class VirtualCardLink:
    """One virtual card plugged into one vpcd slot.

    ``connect()`` is the moment of insertion as vpcd sees it; ``close()`` is
    the removal. The card OS runs in a daemon thread owned by the link.
    ``on_drop`` is called (from that thread) when vpcd ends the link itself,
    as it does when it cannot carry a message: pcscd then sees the reader
    empty, and so must whoever keeps the list of cards.
    """

    def __init__(
        self, card: CardOs, port: int, host: str = "127.0.0.1", on_drop: Callable[[], None] | None = None
    ):
        self.card = card
        self.host = host
        self.port = port
        self.on_drop = on_drop
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.apdu_count = 0

    # -- lifecycle -------------------------------------------------------
    def connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=5)
        except OSError as exc:
            raise LinkError(f"vpcd is not listening on {self.host}:{self.port}: {exc}") from exc
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._thread = threading.Thread(
            target=self._serve, name=f"vicc-{self.port}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Pull the card out: vpcd sees the connection drop."""
        self._closing.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):  # already disconnected by vpcd
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.card.powerDown()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- protocol --------------------------------------------------------
    def _recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            if _QUICKACK is not None:
                sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            chunk = sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _serve(self) -> None:
        sock = self._sock
        assert sock is not None
        try:
            while True:
                head = self._recv_exact(sock, 2)
                if head is None:
                    break
                (size,) = struct.unpack("!H", head)
                msg = self._recv_exact(sock, size) if size else b""
                if msg is None:
                    break
                answer = self._handle(msg)
                if answer is not None:
                    sock.sendall(struct.pack("!H", len(answer)) + answer)
        except OSError as exc:
            if not self._closing.is_set():
                log.warning("vpcd link on port %d broke: %s", self.port, exc)
        finally:
            if not self._closing.is_set():
                log.warning("vpcd closed the link on port %d: the card is out of its reader", self.port)
                self._dropped()

    def _dropped(self) -> None:
        """vpcd ended the link: free the socket, power the card down, tell the owner."""
        self._closing.set()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        self.card.powerDown()
        if self.on_drop is not None:
            try:
                self.on_drop()
            except Exception:
                log.exception("the link's on_drop callback failed")

    def _handle(self, msg: bytes) -> bytes | None:
        if len(msg) == 1:
            code = msg[0]
            if code == CTRL_ATR:
                return bytes(self.card.getATR())
            if code == CTRL_ON:
                self.card.powerUp()
            elif code == CTRL_OFF:
                self.card.powerDown()
            elif code == CTRL_RESET:
                self.card.reset()
            else:
                log.warning("unknown vpcd control code %d", code)
            return None
        self.apdu_count += 1
        try:
            return bytes(self.card.execute(msg))
        except Exception:
            # A card answers every command; a bug in the card OS must not
            # silence the link (pcscd would see a dead card): 6F00, no
            # precise diagnosis, and the traceback in the daemon's log.
            log.exception("the card OS failed on a command; answering 6F00")
            return b"\x6f\x00"
