"""APDU tracing for the virtual card, with secrets redacted.

The logger is ``simulator.card.trace`` at level :data:`TRAFFIC` (5, below
DEBUG): ``SEND <hex>`` for each command, ``RECV <hex> SW=xxxx`` for each
response. PIN, PUK, management-key witnesses, challenges and responses are
replaced by ``**``. No handler is configured here; the CLI or the stack daemon
decides where the trace goes.
"""

from __future__ import annotations

import logging

from fxml.card.apdu import CommandApdu, MalformedApdu
from fxml.card.piv import INS, KeyRef

TRAFFIC = 5
logging.addLevelName(TRAFFIC, "TRAFFIC")

log = logging.getLogger(__name__)

REDACTED = "**"

#: Instructions whose whole data field is a secret (PIN, PUK, or both).
_SECRET_DATA_INS = frozenset({INS.VERIFY, INS.CHANGE_REFERENCE_DATA, INS.RESET_RETRY_COUNTER})


def enabled() -> bool:
    """Cheap check the card OS makes before it formats anything."""
    return log.isEnabledFor(TRAFFIC)


def command_is_secret(ins: int, p2: int) -> bool:
    """True if the data of this command, and of its response, must not be logged."""
    return ins in _SECRET_DATA_INS or (ins == INS.GENERAL_AUTHENTICATE and p2 == KeyRef.MANAGEMENT)


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def redact_command(raw: bytes) -> str:
    """The command as hex, its data field replaced by ``**`` if it carries a secret."""
    if len(raw) < 4 or not command_is_secret(raw[1], raw[3]):
        return _hex(raw)
    try:
        cmd = CommandApdu.parse(raw)
    except MalformedApdu:
        # No trustworthy Lc: hide everything after the header.
        return _hex(raw[:4]) + (f" {REDACTED}" if len(raw) > 4 else "")
    if not cmd.data:
        return _hex(raw)
    lc = b"\x00" + len(cmd.data).to_bytes(2, "big") if cmd.extended else bytes([len(cmd.data)])
    tail = raw[4 + len(lc) + len(cmd.data) :]
    out = f"{_hex(raw[:4])} {_hex(lc)} {REDACTED}"
    return out + (f" {_hex(tail)}" if tail else "")


def log_send(raw: bytes) -> None:
    log.log(TRAFFIC, "SEND %s", redact_command(raw))


def log_recv(response: bytes, secret: bool) -> None:
    data, sw = response[:-2], response[-2:]
    shown = ((REDACTED if secret else _hex(data)) + " ") if data else ""
    log.log(TRAFFIC, "RECV %sSW=%s", shown, sw.hex().upper())
