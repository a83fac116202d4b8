"""What a renewal can meet, as typed errors with stable codes and zh-TW messages.

Every error :meth:`fxml.renewal.engine.RenewalEngine.run` raises on purpose
is a :class:`RenewalError`: ``code`` is stable (the CA's own code for the
CA's refusals, the record store's for its own), ``message`` is what the
customer reads, ``retryable`` says whether running the renewal again (after
the customer did what the message asks) can complete it. The subclasses let
a caller act without comparing codes: :class:`PinNotVerifiedError` means
"ask for the 憑證載具密碼", :class:`CardRemovedError` "ask for the card".
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final

from fxml.errors import CodedError, ErrorJson
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RenewalRecord


@enum.unique
class RenewalErrorCode(enum.StrEnum):
    """The engine's own codes (the CA's and the record store's are kept as they are)."""

    #: The PIN is not verified in the card session (or the card was reset meanwhile).
    PIN_NOT_VERIFIED = "PIN_NOT_VERIFIED"
    #: The card left the reader.
    CARD_REMOVED = "CARD_REMOVED"
    #: The reader or the PC/SC service cannot be reached.
    CARD_UNREACHABLE = "CARD_UNREACHABLE"
    #: The card is not the one the renewal started with (serial or holder differ).
    WRONG_CARD = "WRONG_CARD"
    #: The card does not hold the certificate being renewed.
    CERT_NOT_ON_CARD = "CERT_NOT_ON_CARD"
    #: The renewal's new key exists (KEY_GENERATED on), and this card does not hold it in the
    #: renewal's container: the new certificate belongs to the card that does (another card,
    #: or the copy of an image made before the key was), nothing is done on this one.
    NEW_KEY_NOT_ON_CARD = "NEW_KEY_NOT_ON_CARD"
    #: The other key container holds a certificate still valid: no room for a new key.
    NO_FREE_CONTAINER = "NO_FREE_CONTAINER"
    #: The card refused the management key, or failed its proof.
    CARD_MANAGEMENT_KEY = "CARD_MANAGEMENT_KEY"
    #: The key in the container is not the one the record holds.
    CARD_KEY_MISMATCH = "CARD_KEY_MISMATCH"
    #: Any other refusal or fault of the card.
    CARD_ERROR = "CARD_ERROR"
    #: The renewal is not (yet) for the engine: the wizard's steps are not done.
    NOT_READY = "RENEWAL_NOT_READY"
    #: The renewal was cancelled.
    CANCELLED = "RENEWAL_CANCELLED"
    #: The CA's certificate is not for the recorded key or subject.
    CA_BAD_CERTIFICATE = "CA_BAD_CERTIFICATE"


MESSAGES: Final[Mapping[str, str]] = {
    RenewalErrorCode.PIN_NOT_VERIFIED: "請輸入憑證載具密碼。",
    RenewalErrorCode.CARD_REMOVED: (
        "憑證載具已移除。請重新插入憑證載具，輸入憑證載具密碼後再執行憑證更新，系統將接續完成。"
    ),
    RenewalErrorCode.CARD_UNREACHABLE: "無法存取讀卡機。請確認讀卡機已連接後再試一次。",
    RenewalErrorCode.WRONG_CARD: "插入的憑證載具不是此筆憑證更新所使用的憑證載具，請插入原憑證載具。",
    RenewalErrorCode.CERT_NOT_ON_CARD: "此憑證載具中沒有要更新的憑證，請插入存放該憑證的憑證載具。",
    RenewalErrorCode.NEW_KEY_NOT_ON_CARD: (
        "此憑證載具中沒有此筆憑證更新產生的新金鑰，新憑證僅能存放於產生該金鑰的憑證載具，請插入原憑證載具。"
    ),
    RenewalErrorCode.NO_FREE_CONTAINER: "憑證載具中已沒有可存放新金鑰的空間（另一組憑證仍有效），請洽申辦分行。",
    RenewalErrorCode.CARD_MANAGEMENT_KEY: "憑證載具拒絕寫入（管理金鑰不符），請洽申辦分行。",
    RenewalErrorCode.CARD_KEY_MISMATCH: "憑證載具中的新金鑰與更新紀錄不符，請洽申辦分行。",
    RenewalErrorCode.CARD_ERROR: "憑證載具發生錯誤，請重新插入憑證載具後再試一次。",
    RenewalErrorCode.NOT_READY: "請先完成確認更新資訊及同意更新約定條款，再進行憑證更新。",
    RenewalErrorCode.CANCELLED: "此筆憑證更新已取消，請重新點選[憑證更新]。",
    RenewalErrorCode.CA_BAD_CERTIFICATE: "憑證中心簽發的憑證與申請內容不符，請洽客服中心。",
    RecordErrorCode.UNREACHABLE: "無法連線至憑證管理平台，請稍後再試，系統將接續完成憑證更新。",
    RecordErrorCode.BAD_TOKEN: "憑證更新作業已逾時，請重新進入憑證更新。",
    RecordErrorCode.STALE: "此筆憑證更新正在其他視窗進行中，請重新整理頁面。",
    RecordErrorCode.UNKNOWN: "查無此筆憑證更新紀錄，請重新進入憑證更新。",
    RecordErrorCode.BAD_TRANSITION: "憑證更新紀錄異常，請洽客服中心。",
    RecordErrorCode.BAD_RECORD: "憑證更新紀錄異常，請洽客服中心。",
}

#: The same refusals of a download (憑證下載), in its words: the messages above that say 憑證更新.
DOWNLOAD_MESSAGES: Final[Mapping[str, str]] = {
    RenewalErrorCode.CARD_REMOVED: (
        "憑證載具已移除。請重新插入憑證載具，輸入憑證載具密碼後再執行憑證下載，系統將接續完成。"
    ),
    RenewalErrorCode.WRONG_CARD: "插入的憑證載具不是此筆憑證下載所使用的憑證載具，請插入原憑證載具。",
    RenewalErrorCode.NEW_KEY_NOT_ON_CARD: (
        "此憑證載具中沒有此筆憑證下載產生的新金鑰，新憑證僅能存放於產生該金鑰的憑證載具，請插入原憑證載具。"
    ),
    RenewalErrorCode.NO_FREE_CONTAINER: (
        "憑證載具中已沒有可存放新金鑰的空間（已存有有效憑證），請改用空白的憑證載具，或洽申辦分行。"
    ),
    RenewalErrorCode.CARD_KEY_MISMATCH: "憑證載具中的新金鑰與下載紀錄不符，請洽申辦分行。",
    RenewalErrorCode.NOT_READY: "請先完成確認下載資訊及同意約定條款，再進行憑證下載。",
    RenewalErrorCode.CANCELLED: "此筆憑證下載已取消，請重新點選[憑證下載]。",
    RecordErrorCode.UNREACHABLE: "無法連線至憑證管理平台，請稍後再試，系統將接續完成憑證下載。",
    RecordErrorCode.BAD_TOKEN: "憑證下載作業已逾時，請重新進入憑證下載。",
    RecordErrorCode.STALE: "此筆憑證下載正在其他視窗進行中，請重新整理頁面。",
    RecordErrorCode.UNKNOWN: "查無此筆憑證下載紀錄，請重新進入憑證下載。",
    RecordErrorCode.BAD_TRANSITION: "憑證下載紀錄異常，請洽客服中心。",
    RecordErrorCode.BAD_RECORD: "憑證下載紀錄異常，請洽客服中心。",
}

#: Codes after which running the renewal again can complete it.
RETRYABLE: Final = frozenset({
    RenewalErrorCode.PIN_NOT_VERIFIED, RenewalErrorCode.CARD_REMOVED, RenewalErrorCode.CARD_UNREACHABLE,
    RenewalErrorCode.WRONG_CARD, RenewalErrorCode.CERT_NOT_ON_CARD, RenewalErrorCode.NEW_KEY_NOT_ON_CARD,
    RenewalErrorCode.CARD_ERROR,
    RecordErrorCode.UNREACHABLE, RecordErrorCode.BAD_TOKEN, RecordErrorCode.STALE,
    # The CA's: unreachable, busy, a window that opens later, a suspension that can be lifted.
    "CA_UNREACHABLE", "BUSY", "REQUEST_TIMEOUT", "INTERNAL_ERROR", "RENEWAL_WINDOW_NOT_OPEN", "CERT_SUSPENDED",
})


class RenewalErrorJson(ErrorJson):
    """A renewal's refusal as JSON: with whether running it again can complete it."""

    retryable: bool


class RenewalError(CodedError):
    """A renewal that stopped; what to tell the customer and whether a retry can help.

    No HTTP status of its own (0): whoever answers it over HTTP (the card agent) gives it theirs."""

    MESSAGES = MESSAGES
    default_status = 0
    default_message = "憑證更新發生錯誤，請稍後再試。"
    record: RenewalRecord | None = None

    def __init__(
        self, code: str, message: str | None = None, *, record: RenewalRecord | None = None,
        details: Mapping[str, Any] | None = None,
    ):
        self.record = record
        if not message and record is not None and record.kind is Kind.DOWNLOAD:
            message = DOWNLOAD_MESSAGES.get(str(code))  # a download's refusal says 憑證下載
        super().__init__(str(code), message or None, details=details)

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE

    def to_json(self) -> RenewalErrorJson:
        return RenewalErrorJson(**super().to_json(), retryable=self.retryable)


class PinNotVerifiedError(RenewalError):
    """The caller must have the customer enter the 憑證載具密碼 (and verify it) first."""

    def __init__(self, **kwargs: Any):
        super().__init__(RenewalErrorCode.PIN_NOT_VERIFIED, **kwargs)


class CardRemovedError(RenewalError):
    """The card left the reader (or the reader went away)."""


class WrongCardError(RenewalError):
    """The card in the reader is not the renewal's (another card, without the certificate,
    or without the renewal's new key)."""


class CardFailureError(RenewalError):
    """The card refused something the renewal needs."""


class CaRefusedError(RenewalError):
    """The CA refused the renewal: ``code`` and ``message`` are the CA's own."""


class UnreachableError(RenewalError):
    """The CA or the platform did not answer; nothing was lost, a retry goes on."""


class RenewalStateError(RenewalError):
    """The record does not allow the engine to go on (not ready, cancelled, refused by the store)."""


def from_record_error(exc: RecordError, record: RenewalRecord | None = None) -> RenewalError:
    """The engine's error for a record store's refusal (about ``record``, when the refusal names none)."""
    kind: type[RenewalError] = UnreachableError if exc.code == RecordErrorCode.UNREACHABLE else RenewalStateError
    return kind(exc.code, record=exc.record or record, details={"reason": exc.message})
