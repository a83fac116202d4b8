"""The narrow connection the card client talks through, and its traffic log.

Anything with ``transmit(apdu) -> response`` is a card connection: a
physical or virtual reader through PC/SC (:mod:`fxml.card.pcsc`), or a card
OS in the same process (the simulator's ``InProcessConnection``). The client
never needs more, so the engine runs unchanged against all of them.

:class:`LoggedConnection` writes every exchange to the logger
``fxml.card.connection`` at level :data:`TRAFFIC` (7, below DEBUG) as
``SEND <hex>`` and ``RECV <hex> SW=xxxx``, with PIN, PUK and key material
replaced by ``**``. No handler is configured here; the CLI decides
where the log goes.
"""

from __future__ import annotations

import logging
from typing import Protocol, runtime_checkable

from fxml.card.apdu import CommandApdu, MalformedApduError
from fxml.card.piv import INS, KeyRef
from fxml.errors import FxmlError

TRAFFIC = 7  # below DEBUG; not 5, which uvicorn names TRACE
logging.addLevelName(TRAFFIC, "TRAFFIC")

log = logging.getLogger(__name__)

REDACTED = "**"


@runtime_checkable
class CardConnection(Protocol):
    """A channel to one card."""

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; return the whole response, status word included.

        Transport failures (card pulled out, daemon gone) raise
        :class:`TransportError`; status words are never turned into exceptions here.
        """
        ...


class TransportError(FxmlError):
    """The command could not be delivered or its answer not received."""


#: Vendor instructions that carry key material in their data: a caller may
#: send them with ``PivCardClient.transmit`` to a YubiKey.
YUBIKEY_IMPORT_KEY, YUBIKEY_SET_MANAGEMENT_KEY = 0xFE, 0xFF

#: Instructions whose command data is entirely secret.
_SECRET_COMMANDS = frozenset({
    INS.VERIFY,
    INS.CHANGE_REFERENCE_DATA,
    INS.RESET_RETRY_COUNTER,
    YUBIKEY_IMPORT_KEY,
    YUBIKEY_SET_MANAGEMENT_KEY,
})


def is_secret(header: bytes) -> bool:
    """True if a command with this header carries, or is answered with, secrets:
    PIN/PUK commands, management-key authentication (GENERAL AUTHENTICATE
    with key reference 9B: its witnesses and challenges decide the key's proof)
    and the YubiKey commands that import a private key or set the management key."""
    if len(header) < 4:
        return False
    ins, p2 = header[1], header[3]
    return ins in _SECRET_COMMANDS or (ins == INS.GENERAL_AUTHENTICATE and p2 == KeyRef.MANAGEMENT)


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def describe_command(apdu: bytes) -> str:
    """The command as hex for the log; a secret data field shows as ``**``."""
    if not is_secret(apdu):
        return _hex(apdu)
    try:
        cmd = CommandApdu.parse(apdu)
    except MalformedApduError:
        return _hex(apdu[:4]) + (f" {REDACTED}" if len(apdu) > 4 else "")
    if not cmd.data:
        return _hex(apdu)
    # Header and length stay visible; they tell a reader which step this is.
    length_field = len(apdu) - 4 - len(cmd.data) - _le_size(cmd)
    head = apdu[: 4 + length_field]
    tail = apdu[4 + length_field + len(cmd.data) :]
    return " ".join(filter(None, (_hex(head), REDACTED, _hex(tail))))


def _le_size(cmd: CommandApdu) -> int:
    if cmd.le is None:
        return 0
    return 2 if cmd.extended else 1


def describe_response(response: bytes, secret: bool) -> str:
    """The response as hex for the log: ``[data ]SW=xxxx``, data as ``**`` if secret."""
    data, sw = response[:-2], response[-2:]
    shown = (REDACTED if secret else _hex(data)) + " " if data else ""
    return f"{shown}SW={sw.hex().upper()}"


class LoggedConnection:
    """A :class:`CardConnection` that logs each exchange at :data:`TRAFFIC`.

    A GET RESPONSE that follows a secret command is itself treated as secret,
    so a management-key response fetched in parts is never logged.
    """

    def __init__(self, connection: CardConnection, logger: logging.Logger | None = None):
        self.connection = connection
        self.log = logger or log
        self._secret_exchange = False

    def transmit(self, apdu: bytes) -> bytes:
        apdu = bytes(apdu)
        if len(apdu) >= 2 and apdu[1] != INS.GET_RESPONSE:
            self._secret_exchange = is_secret(apdu)
        if not self.log.isEnabledFor(TRAFFIC):
            return self.connection.transmit(apdu)
        self.log.log(TRAFFIC, "SEND %s", describe_command(apdu))
        answer = self.connection.transmit(apdu)
        self.log.log(TRAFFIC, "RECV %s", describe_response(answer, self._secret_exchange))
        return answer

    def __getattr__(self, name: str) -> object:
        # atr, close, reader ... of the wrapped connection stay reachable.
        if name == "connection":
            raise AttributeError(name)
        return getattr(self.connection, name)
