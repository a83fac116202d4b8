"""The ticket a bank system hands a logged-in customer to the FXML platform with.

Both sides import this module: the bank's systems issue tickets, the platform
verifies them. A ticket is signed (HMAC-SHA256 through itsdangerous, with a
key the two share), short-lived (:data:`MAX_AGE` seconds), single use (the
platform remembers each ticket's id until it would have expired anyway), and
bound to its audience (the platform), the system it comes from, the customer
and the user code. Time comes from the stack's one clock, so a frozen clock
freezes a ticket's age too.
"""

from __future__ import annotations

import enum
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.timed import TimestampSigner

from fxml.clock import Clock
from fxml.errors import CodedError, FxmlError

#: Seconds a ticket stays valid after it is issued.
MAX_AGE: Final = 30
#: Who a ticket is for.
AUDIENCE: Final = "fxml-platform"
_SALT: Final = "fxmlsim.platform-ticket.v1"
KEY_BYTES: Final = 32


@enum.unique
class System(enum.StrEnum):
    """The bank's three systems a customer enters the platform from (the manual's step 1)."""

    PERSONAL = "personal"
    CORPORATE = "corporate"
    EOI = "eoi"

    @property
    def label(self) -> str:
        """The system's name on the bank's pages."""
        return SYSTEM_TITLES[self]


SYSTEM_TITLES: Final = {
    System.PERSONAL: "個人網路銀行",
    System.CORPORATE: "企業網路銀行",
    System.EOI: "EOI 系統",
}


@enum.unique
class TicketErrorCode(enum.StrEnum):
    TICKET_MISSING = "TICKET_MISSING"
    TICKET_FORGED = "TICKET_FORGED"
    TICKET_EXPIRED = "TICKET_EXPIRED"
    TICKET_REPLAYED = "TICKET_REPLAYED"
    TICKET_WRONG_AUDIENCE = "TICKET_WRONG_AUDIENCE"


_MESSAGES: Final = {
    TicketErrorCode.TICKET_MISSING: "請由網路銀行或 EOI 系統登入後，再進入憑證管理平台。",
    TicketErrorCode.TICKET_FORGED: "登入憑證管理平台的連結無效，請重新由網路銀行或 EOI 系統進入。",
    TicketErrorCode.TICKET_EXPIRED: "登入憑證管理平台的連結已逾時，請重新由網路銀行或 EOI 系統進入。",
    TicketErrorCode.TICKET_REPLAYED: "此憑證管理平台登入連結已使用過，請重新由網路銀行或 EOI 系統進入。",
    TicketErrorCode.TICKET_WRONG_AUDIENCE: "此登入連結不是給憑證管理平台使用的，請重新由網路銀行或 EOI 系統進入。",
}


class TicketError(CodedError):
    """A ticket the platform refuses (403); ``code`` is stable, ``message`` is for the customer. The
    platform's pages say TICKET_MISSING with 401 to whoever comes without a platform session."""

    MESSAGES = _MESSAGES
    default_status = 403

    def __init__(self, code: TicketErrorCode, status: int | None = None):
        super().__init__(code, status=status)


@dataclass(frozen=True)
class Ticket:
    """Who the platform is asked to let in, and from where."""

    system: System
    #: 身分證字號 (a person) or 統一編號 (a company).
    customer_id: str
    customer_name: str
    user_code: str
    #: 客戶別 of a corporate customer; None for persons and EOI.
    customer_type: int | None
    #: The card holder id at the CA whose certificates the customer manages.
    holder_id: str
    #: Where 回首頁 leads: the system's menu the customer came from.
    return_url: str
    #: The ticket's own id (single use).
    ticket_id: str = ""
    audience: str = AUDIENCE

    @property
    def system_label(self) -> str:
        """The system's name on the bank's pages."""
        return self.system.label

    @property
    def actor(self) -> str:
        """Who acts on the platform, for its audit log: ``system:customer:user``."""
        return f"{self.system}:{self.customer_id}:{self.user_code}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["system"] = self.system.value
        return data

    @classmethod
    def from_json(cls, data: Any) -> Ticket:
        if not isinstance(data, dict):
            raise TicketError(TicketErrorCode.TICKET_FORGED)
        try:
            fields = dict(data)
            fields["system"] = System(fields["system"])
            ticket = cls(**fields)
        except (KeyError, TypeError, ValueError):
            raise TicketError(TicketErrorCode.TICKET_FORGED) from None
        text_fields = (ticket.customer_id, ticket.customer_name, ticket.user_code, ticket.holder_id,
                       ticket.return_url, ticket.ticket_id, ticket.audience)
        if not all(isinstance(v, str) for v in text_fields):
            raise TicketError(TicketErrorCode.TICKET_FORGED)
        if ticket.customer_type is not None and not isinstance(ticket.customer_type, int):
            raise TicketError(TicketErrorCode.TICKET_FORGED)
        return ticket


class _ClockSigner(TimestampSigner):
    clock: Clock

    def get_timestamp(self) -> int:
        return int(self.clock.now().timestamp())


def _serializer(key: bytes, clock: Clock) -> URLSafeTimedSerializer:
    signer = type("Signer", (_ClockSigner,), {"clock": clock})
    return URLSafeTimedSerializer(key, salt=_SALT, signer=signer, signer_kwargs={"digest_method": _sha256})


def _sha256(data: bytes = b"") -> Any:
    return hashlib.sha256(data)


def issue(ticket: Ticket, key: bytes, clock: Clock) -> str:
    """The signed, URL-safe ticket text (with a fresh id)."""
    data = ticket.to_json()
    data["ticket_id"] = secrets.token_urlsafe(16)
    return _serializer(key, clock).dumps(data)


def verify(
    text: str | None, key: bytes, clock: Clock, *, first_use: Callable[[str, datetime], bool],
    max_age: int = MAX_AGE,
) -> Ticket:
    """The ticket in ``text``, or :class:`TicketError`.

    ``first_use(ticket_id, expires)`` records the id and answers True the first
    time an id is seen, False after: the caller's store makes tickets single use.
    """
    if not text:
        raise TicketError(TicketErrorCode.TICKET_MISSING)
    serializer = _serializer(key, clock)
    try:
        data = serializer.loads(text, max_age=max_age)
    except SignatureExpired:
        raise TicketError(TicketErrorCode.TICKET_EXPIRED) from None
    except BadSignature:
        raise TicketError(TicketErrorCode.TICKET_FORGED) from None
    ticket = Ticket.from_json(data)
    if ticket.audience != AUDIENCE:
        raise TicketError(TicketErrorCode.TICKET_WRONG_AUDIENCE)
    if not ticket.ticket_id:
        raise TicketError(TicketErrorCode.TICKET_FORGED)
    expires = clock.now() + timedelta(seconds=max_age)
    if not first_use(ticket.ticket_id, expires):
        raise TicketError(TicketErrorCode.TICKET_REPLAYED)
    return ticket


def load_key(path: Path) -> bytes:
    """The shared ticket key from ``path`` (made by ``fxmlsim up``, 0600)."""
    key = Path(path).read_bytes()
    if len(key) < KEY_BYTES:
        raise FxmlError(f"{path}: a ticket key is at least {KEY_BYTES} bytes, not {len(key)}")
    return key


def make_key(path: Path) -> bytes:
    """Write a new random ticket key to ``path`` (0600) and return it."""
    key = secrets.token_bytes(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    return key
