"""The card client's exceptions: one tree, each error carrying the card's status word.

``CardError`` (an :class:`~fxml.card.apdu.ApduError`) is what the engine
catches for anything the card refused; its subclasses say why, so the engine
can tell "wrong 憑證載具密碼, 2 tries left" from "this card cannot delete
keys" without looking at status words. :func:`error_for_sw` is the one place
that turns a status word into an exception.

Errors found before anything is sent (a PIN that breaks the policy) are
``ValueError``\\ s, not card errors: the card never saw them. Both are
:class:`~fxml.errors.FxmlError`\\ s.
"""

from __future__ import annotations

from fxml.card.apdu import SW, ApduError
from fxml.card.piv import KeyRef
from fxml.errors import FxmlError


class CardError(ApduError):
    """The card answered with a status word other than 9000, or with an
    answer the client cannot accept. ``sw`` is the card's status word."""


class WrongPinError(CardError):
    """A PIN (or PUK) the card rejected (63Cx). ``tries_left`` counts the
    attempts that remain; 0 means this attempt blocked it."""

    def __init__(self, sw: int, message: str | None = None, data: bytes = b"", *, reference: int = KeyRef.PIN):
        self.tries_left = sw & 0x0F
        self.reference = reference
        name = "PUK" if reference == KeyRef.PUK else "PIN"
        default = f"wrong {name}, {self.tries_left} {'try' if self.tries_left == 1 else 'tries'} left"
        if self.tries_left == 0:
            default = f"wrong {name}; the {name} is now blocked"
        super().__init__(sw, message or default, data)

    @property
    def blocked(self) -> bool:
        """True when this wrong attempt used up the last try."""
        return self.tries_left == 0


class WrongPukError(WrongPinError):
    """The PUK given to unblock the PIN was wrong (63Cx)."""


class PinBlockedError(CardError):
    """The PIN is blocked (6983): no attempt is counted; unblock it with the PUK."""


class PukBlockedError(PinBlockedError):
    """The PUK is blocked (6983): the PIN can no longer be unblocked."""


class SecurityStatusError(CardError):
    """The command needs a PIN or management-key authentication first (6982)."""


class NotFoundError(CardError):
    """The data object, key or reference does not exist on the card (6A82, 6A88)."""


class ConditionsNotSatisfiedError(CardError):
    """The card's state forbids the command (6985), e.g. a key container
    that already holds a key."""


class NotSupportedError(CardError):
    """The card does not implement the command or option (6D00, 6E00, 6A81, 688x)."""


class AuthenticationError(CardError):
    """A cryptographic proof failed: the card refused the management key, or
    the card's own answer (its management-key response, its signature) is
    wrong. ``sw`` is 9000 when the card claimed success but its proof failed."""


class InvalidResponseError(CardError):
    """The card answered 9000 with data the client cannot understand."""


class InvalidPinFormatError(FxmlError, ValueError):
    """A PIN or PUK that breaks the 憑證載具密碼 policy; refused before sending."""


_NOT_SUPPORTED = frozenset({
    SW.INS_NOT_SUPPORTED,
    SW.CLA_NOT_SUPPORTED,
    SW.FUNCTION_NOT_SUPPORTED,
    SW.LOGICAL_CHANNEL_NOT_SUPPORTED,
    SW.SECURE_MESSAGING_NOT_SUPPORTED,
    SW.CHAINING_NOT_SUPPORTED,
})

_BY_SW: dict[int, type[CardError]] = {
    SW.SECURITY_STATUS_NOT_SATISFIED: SecurityStatusError,
    SW.FILE_NOT_FOUND: NotFoundError,
    SW.REFERENCE_NOT_FOUND: NotFoundError,
    SW.CONDITIONS_NOT_SATISFIED: ConditionsNotSatisfiedError,
    **dict.fromkeys(_NOT_SUPPORTED, NotSupportedError),
}


def error_for_sw(sw: int, message: str | None = None, data: bytes = b"", *, reference: int = KeyRef.PIN) -> CardError:
    """The exception for status word ``sw`` (not raised: the caller raises it).

    ``reference`` names the secret a 63Cx or 6983 is about (the PIN unless
    the command checked the PUK). A status word the tree does not know gives a
    plain :class:`CardError`; 9000 is not an error and is refused.
    """
    sw = int(sw)
    if sw == SW.OK:
        raise ValueError("9000 is not an error status word")
    if sw & 0xFFF0 == SW.VERIFY_FAIL:
        kind = WrongPukError if reference == KeyRef.PUK else WrongPinError
        return kind(sw, message, data, reference=reference)
    if sw == SW.AUTH_METHOD_BLOCKED:
        if reference == KeyRef.PUK:
            return PukBlockedError(sw, message or "the PUK is blocked", data)
        return PinBlockedError(sw, message or "the PIN is blocked; unblock it with the PUK", data)
    return _BY_SW.get(sw, CardError)(sw, message, data)

