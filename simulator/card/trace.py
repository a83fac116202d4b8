"""APDU tracing for the virtual card, with secrets redacted.

The logger is ``simulator.card.trace`` at level :data:`TRAFFIC` (7, below
DEBUG): ``SEND <hex>`` for each command, ``RECV <hex> SW=xxxx`` for each
response. PIN, PUK, management-key witnesses, challenges and responses are
replaced by ``**``. The card uses the same redaction rules and line format as
the engine's own traffic log (:mod:`fxml.card.connection`), so a card-side and
a host-side trace of one session read alike. No handler is configured here;
the CLI or the stack daemon decides where the trace goes.
"""

from __future__ import annotations

import logging

from fxml.card.connection import REDACTED, TRAFFIC, describe_command, describe_response, is_secret

__all__ = ["REDACTED", "TRAFFIC", "command_is_secret", "enabled", "log_recv", "log_send", "redact_command"]

log = logging.getLogger(__name__)


def enabled() -> bool:
    """Cheap check the card OS makes before it formats anything."""
    return log.isEnabledFor(TRAFFIC)


def command_is_secret(ins: int, p2: int) -> bool:
    """True if the data of this command, and of its response, must not be logged."""
    return is_secret(bytes((0, ins, 0, p2)))


def redact_command(raw: bytes) -> str:
    """The command as hex, its data field replaced by ``**`` if it carries a secret."""
    return describe_command(raw)


def log_send(raw: bytes) -> None:
    log.log(TRAFFIC, "SEND %s", redact_command(raw))


def log_recv(response: bytes, secret: bool) -> None:
    log.log(TRAFFIC, "RECV %s", describe_response(response, secret))
