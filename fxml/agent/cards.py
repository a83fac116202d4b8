"""What a card says, and how the agent answers what went wrong: a card's JSON (its serial,
carrier, holder, certificates and PIN state), the card's rules for a PIN change, and the
translation of the card's, the reader's, the CA's and the platform's errors into the agent's
coded errors (docs/agent.md, *Errors*)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from smartcard import scard

from fxml.agent.api import STATUS, AgentError, CardJson, CertificateJson, ErrorCode
from fxml.card.apdu import SW
from fxml.card.client import CardCertificate, PivCardClient, check_pin_format
from fxml.card.errors import AuthenticationError, CardError, InvalidPinFormatError, PinBlockedError, WrongPinError
from fxml.card.pcsc import NoCardError, PcscError, PcscUnavailableError, ReaderNotFoundError
from fxml.clock import TAIWAN
from fxml.errors import FxmlError
from fxml.renewal.model import RecordError

log = logging.getLogger(__name__)


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[-1].value if names else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def certificate_json(entry: CardCertificate) -> CertificateJson:
    cert = entry.certificate
    return {
        "container": f"{int(entry.container):02X}",
        "common_name": common_name(cert),
        "serial": f"{cert.serial_number:X}",
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc.astimezone(TAIWAN).isoformat(),
        "not_after": cert.not_valid_after_utc.astimezone(TAIWAN).isoformat(),
        "pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
    }


def read_card(client: PivCardClient, atr: bytes) -> CardJson:
    """What the card says about itself (SELECT, 5FFF01, the certificates, the PIN's state)."""
    with client.transaction():
        try:
            client.select()
        except CardError as exc:
            raise AgentError(ErrorCode.CARD_NOT_SUPPORTED, details={"sw": f"{exc.sw:04X}"}) from exc
        info = client.card_info()
        certificates = [certificate_json(c) for c in client.list_certificates()]
        pin = client.pin_status()
    return {
        "atr": atr.hex(" ").upper(),
        "card_serial": info.card_serial,
        "carrier": info.carrier,
        "holder_id": info.holder_id,
        "certificates": certificates,
        "pin_tries_left": pin.tries_left,
        "pin_verified": pin.verified,
        "pin_blocked": pin.blocked,
    }


def _wrong_pin(exc: WrongPinError) -> AgentError:
    if exc.tries_left == 0:
        return AgentError(ErrorCode.PIN_BLOCKED, details={"tries_left": 0})
    return AgentError(ErrorCode.PIN_INCORRECT, details={"tries_left": exc.tries_left})


def check_pin_change(old_pin: object, new_pin: object) -> None:
    """The card's rules for a PIN change, before anything is sent: the old PIN as VERIFY takes it
    (PIN_FORMAT: it cannot be the card's), the new one 6 to 8 ASCII letters or digits
    (NEW_PIN_FORMAT), and not the old one (PIN_UNCHANGED)."""
    for value, code in ((old_pin, ErrorCode.PIN_FORMAT), (new_pin, ErrorCode.NEW_PIN_FORMAT)):
        try:
            if not isinstance(value, str):
                raise InvalidPinFormatError("not text")
            check_pin_format(value)
        except InvalidPinFormatError:
            raise AgentError(code) from None
    if old_pin == new_pin:
        raise AgentError(ErrorCode.PIN_UNCHANGED)


def _pcsc(exc: PcscError) -> AgentError:
    if exc.code == scard.SCARD_E_SHARING_VIOLATION & 0xFFFFFFFF:
        return AgentError(ErrorCode.CARD_BUSY)
    return AgentError(ErrorCode.CARD_ERROR, details={"pcsc": f"0x{exc.code:08X}", "reason": str(exc)})


def _refused_proof(exc: AuthenticationError) -> AgentError:
    if exc.sw == SW.OK:
        # The card said yes but its proof did not hold: a signature that does not verify
        # with the container's certificate (the key is not the certificate's).
        return AgentError(ErrorCode.CARD_ERROR, details={"sw": "9000", "reason": str(exc)})
    return AgentError(ErrorCode.MANAGEMENT_KEY_REFUSED, details={"sw": f"{exc.sw:04X}"})


#: The card's and the reader's errors, in the order they are tried (a subclass before its base).
_CARD_ANSWERS: tuple[tuple[type[Exception], Callable[[Any], AgentError]], ...] = (
    (WrongPinError, _wrong_pin),
    (PinBlockedError, lambda exc: AgentError(ErrorCode.PIN_BLOCKED, details={"tries_left": 0})),
    (InvalidPinFormatError, lambda exc: AgentError(ErrorCode.PIN_FORMAT)),
    (NoCardError, lambda exc: AgentError(ErrorCode.CARD_REMOVED)),
    (ReaderNotFoundError, lambda exc: AgentError(ErrorCode.READER_NOT_FOUND, details={"reason": str(exc)})),
    (PcscUnavailableError, lambda exc: AgentError(ErrorCode.PCSC_UNAVAILABLE, details={"reason": str(exc)})),
    (PcscError, _pcsc),
    (AuthenticationError, _refused_proof),
    (CardError, lambda exc: AgentError(ErrorCode.CARD_ERROR, details={"sw": f"{exc.sw:04X}", "reason": str(exc)})),
)


def _passed_on(exc: BaseException, code: str, message: str) -> AgentError:
    """The CA's, the platform's or the engine's own refusal: passed on as it is (the platform's
    record refusals with 502: a refusal of the agent's upstream, not of the page's request)."""
    status = None if isinstance(exc, RecordError) else getattr(exc, "status", None)
    extra = getattr(exc, "details", None)
    details: dict[str, Any] = {"source": type(exc).__module__, **(extra if isinstance(extra, dict) else {})}
    retryable = getattr(exc, "retryable", None)
    if isinstance(retryable, bool):
        details["retryable"] = retryable
    if code in STATUS:  # one of the agent's own codes (the engine's CARD_REMOVED ...)
        status = STATUS[ErrorCode(code)]
    elif not (isinstance(status, int) and 400 <= status < 600):
        status = 502
    return AgentError(code, message, status=status, details=details)


def translate(exc: BaseException) -> AgentError:
    """The agent's answer for what went wrong with a card, a reader, the CA or the platform."""
    if isinstance(exc, AgentError):
        return exc
    for kind, answer in _CARD_ANSWERS:
        if isinstance(exc, kind):
            return answer(exc)
    code, message = getattr(exc, "code", None), getattr(exc, "message", None)
    if isinstance(code, str) and isinstance(message, str):
        return _passed_on(exc, code, message)
    if isinstance(exc, FxmlError):
        return AgentError(ErrorCode.RENEWAL_FAILED, details={"reason": str(exc)})
    log.error("unexpected error", exc_info=exc)
    return AgentError(ErrorCode.INTERNAL_ERROR)


__all__ = ["certificate_json", "check_pin_change", "common_name", "read_card", "translate"]
