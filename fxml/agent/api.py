"""The card agent's wire contract, once: paths, headers, request and answer shapes,
event types, error codes with their zh-TW messages, the default port.

The agent (:mod:`fxml.agent.app`) answers with these names and the Python
client (:mod:`fxml.agent.client`) reads them; the browser side
(``fxml/web/static/agent.js``, which every app of the web stack serves
at ``/static/agent.js``) repeats the paths, and
``tests/unit/test_agent_contract.py`` checks that it, this module and
docs/agent.md agree.

Times are ISO 8601 in Taiwan time (+08:00); binary data is base64 (standard
alphabet, with padding); certificates are PEM.
"""

from __future__ import annotations

import enum
from typing import Any, Final, NotRequired, TypedDict

from fxml.errors import CodedError, ErrorJson

#: The agent's port on 127.0.0.1 unless told otherwise (``--port``).
DEFAULT_PORT: Final = 61081
DEFAULT_HOST: Final = "127.0.0.1"
#: The API version: the first segment of every path.
API_VERSION: Final = "v1"
#: What ``GET /v1/status`` calls the service.
SERVICE_NAME: Final = "fxmlsim-card-agent"

JSON_TYPE: Final = "application/json; charset=utf-8"
EVENT_STREAM_TYPE: Final = "text/event-stream; charset=utf-8"

#: The largest request body the agent reads (data to sign is hashed by the agent).
MAX_BODY: Final = 1024 * 1024
#: Seconds a card session may stay unused before the agent closes it (``--idle-timeout``).
DEFAULT_IDLE_SECONDS: Final = 600.0
#: Seconds between comment lines on an idle event stream (they detect a page that went away).
HEARTBEAT_SECONDS: Final = 15.0
#: What an event stream tells EventSource to wait before reconnecting, in milliseconds.
RECONNECT_MILLISECONDS: Final = 2000


class Paths:
    """Every path of the API. ``{session}`` and ``{job}`` are ids the agent gave."""

    STATUS: Final = "/v1/status"
    READERS: Final = "/v1/readers"
    SESSIONS: Final = "/v1/sessions"
    SESSION: Final = "/v1/sessions/{session}"
    RENEWALS: Final = "/v1/renewals"
    RENEWAL: Final = "/v1/renewals/{job}"
    SIGNATURES: Final = "/v1/signatures"
    PIN_CHANGES: Final = "/v1/pin-changes"
    EVENTS: Final = "/v1/events"


def all_paths() -> dict[str, str]:
    """The paths by name, e.g. ``{"STATUS": "/v1/status", ...}``."""
    return {name: value for name, value in vars(Paths).items() if name.isupper()}


class Headers:
    """Header names the agent reads or sets (lowercase, as ASGI carries them)."""

    ORIGIN: Final = "origin"
    HOST: Final = "host"
    CONTENT_TYPE: Final = "content-type"
    SEC_FETCH_SITE: Final = "sec-fetch-site"
    LAST_EVENT_ID: Final = "last-event-id"
    ALLOW_ORIGIN: Final = "access-control-allow-origin"
    ALLOW_METHODS: Final = "access-control-allow-methods"
    ALLOW_HEADERS: Final = "access-control-allow-headers"
    EXPOSE_HEADERS: Final = "access-control-expose-headers"
    MAX_AGE: Final = "access-control-max-age"
    REQUEST_METHOD: Final = "access-control-request-method"
    REQUEST_PRIVATE_NETWORK: Final = "access-control-request-private-network"
    ALLOW_PRIVATE_NETWORK: Final = "access-control-allow-private-network"
    LOCATION: Final = "location"
    VARY: Final = "vary"


#: Methods a page may use (preflight answer).
ALLOWED_METHODS: Final = ("GET", "POST", "DELETE")
#: Request headers a page may send (preflight answer).
ALLOWED_HEADERS: Final = ("content-type", "last-event-id")


# -- answers ----------------------------------------------------------------------------------
class CertificateJson(TypedDict):
    """A certificate on the card."""

    #: The key container: "9A" or "9C".
    container: str
    #: The Common Name the bank's screens show (e.g. ``99000001-00-2015``).
    common_name: str
    #: Uppercase hex, no separators (as the CA and the proof sheet write it).
    serial: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    pem: str


class CardJson(TypedDict):
    """What the card says about itself (no PIN needed, except that a session's PIN is verified)."""

    atr: str
    #: TWCA card serial (object 5FFF01), or the CHUID's GUID on another PIV card.
    card_serial: str
    #: 憑證儲存媒體: 憑證晶片卡(大卡) or 憑證晶片卡(小卡); None on a card without the TWCA object.
    carrier: str | None
    holder_id: str | None
    certificates: list[CertificateJson]
    #: Tries left before the PIN blocks; None while the PIN is verified (the counter is then full).
    pin_tries_left: int | None
    pin_verified: bool
    pin_blocked: bool


class ReaderJson(TypedDict):
    name: str
    #: Position in the PC/SC daemon's reader list.
    index: int
    present: bool
    #: A session of this agent holds the card (its details come from the session).
    in_session: bool
    card: CardJson | None
    #: Why the card could not be read (the card is present but unusable or busy).
    error: ErrorJson | None


class ReadersJson(TypedDict):
    readers: list[ReaderJson]


class PcscJson(TypedDict):
    available: bool
    message: str | None


class StatusJson(TypedDict):
    service: str
    version: str
    api: str
    pcsc: PcscJson
    readers: int
    cards: int
    sessions: int
    renewals_running: int
    allowed_origins: list[str]
    #: The renewal engine the agent runs ("module:name"), or None when it has none.
    engine: str | None
    idle_timeout: float


class SessionRequest(TypedDict):
    #: The reader's full name (from ``GET /v1/readers``). Optional when exactly one card is inserted.
    reader: NotRequired[str]
    #: 憑證載具密碼: verified on the card and forgotten.
    pin: str


class SessionJson(TypedDict):
    session: str
    reader: str
    #: The Origin the session is bound to (None: a client without Origin, e.g. the CLI).
    origin: str | None
    idle_timeout: float
    card: CardJson


class RenewalRequest(TypedDict):
    session: str
    renewal_id: str
    #: The platform's token for this renewal's record (sent to the platform only).
    renewal_token: str
    #: The platform's base URL for the record (default: the session's origin).
    platform_url: NotRequired[str]


class ProgressJson(TypedDict):
    state: str
    label: str
    at: str


@enum.unique
class JobStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RenewalJson(TypedDict):
    job: str
    session: str
    reader: str
    renewal_id: str
    status: str
    #: The renewal's last state (fxml.renewal.model.State) and what the customer is told.
    state: str | None
    label: str | None
    progress: list[ProgressJson]
    #: The final renewal record (fxml.renewal.model.RenewalRecord.to_json), when done.
    record: dict[str, Any] | None
    error: ErrorJson | None


class SignatureRequest(TypedDict):
    session: str
    #: The data to sign, base64; the agent hashes it with SHA-256.
    data: str
    #: "9A" or "9C"; default: the container of the card's newest certificate.
    container: NotRequired[str]


class SignatureJson(TypedDict):
    #: PKCS#1 v1.5 signature, base64.
    signature: str
    algorithm: str
    container: str
    certificate: str
    serial: str
    common_name: str


SIGNATURE_ALGORITHM: Final = "sha256WithRSAEncryption"


class PinChangeRequest(TypedDict):
    """憑證載具密碼變更: CHANGE REFERENCE DATA on the card, with the old PIN and the new one."""

    #: The reader's full name; optional when exactly one card is inserted.
    reader: NotRequired[str]
    #: The 憑證載具密碼 now (a wrong one counts a try on the card).
    old_pin: str
    #: The new 憑證載具密碼: the card's rules (6 to 8 ASCII letters or digits), not the old one.
    new_pin: str


class PinChangeJson(TypedDict):
    reader: str
    #: The card after the change (its PIN not verified, its counter full).
    card: CardJson


# -- events -----------------------------------------------------------------------------------
@enum.unique
class EventType(enum.StrEnum):
    """The ``event:`` names of ``GET /v1/events``; each ``data:`` is one JSON object."""

    #: First event of every stream: the readers as the agent sees them now.
    HELLO = "hello"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    CARD_INSERTED = "card_inserted"
    CARD_REMOVED = "card_removed"
    #: A session of this stream's origin ended (details.reason: a SessionEnd).
    SESSION_CLOSED = "session_closed"
    #: A renewal of this stream's origin moved (a RenewalJson).
    RENEWAL = "renewal"
    #: The PC/SC daemon went away or came back.
    PCSC = "pcsc"


@enum.unique
class SessionEnd(enum.StrEnum):
    """Why a session ended."""

    CLOSED = "closed"
    CARD_REMOVED = "card_removed"
    IDLE_TIMEOUT = "idle_timeout"
    REPLACED = "replaced"
    SHUTDOWN = "shutdown"


# -- errors -----------------------------------------------------------------------------------
@enum.unique
class ErrorCode(enum.StrEnum):
    """Every stable error code of the agent's answers (and the client's own two).

    A renewal that fails on the CA's or the platform's side carries their code
    instead (docs/ca.md; fxml.renewal.model.RecordErrorCode).
    """

    BAD_REQUEST = "BAD_REQUEST"
    BAD_JSON = "BAD_JSON"
    FIELD_INVALID = "FIELD_INVALID"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    BUSY = "BUSY"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    CROSS_SITE_REFUSED = "CROSS_SITE_REFUSED"
    SESSION_ORIGIN_MISMATCH = "SESSION_ORIGIN_MISMATCH"
    PCSC_UNAVAILABLE = "PCSC_UNAVAILABLE"
    READER_NOT_FOUND = "READER_NOT_FOUND"
    NO_CARD = "NO_CARD"
    MULTIPLE_CARDS = "MULTIPLE_CARDS"
    CARD_NOT_SUPPORTED = "CARD_NOT_SUPPORTED"
    CARD_BUSY = "CARD_BUSY"
    CARD_REMOVED = "CARD_REMOVED"
    CARD_ERROR = "CARD_ERROR"
    PIN_FORMAT = "PIN_FORMAT"
    PIN_INCORRECT = "PIN_INCORRECT"
    PIN_BLOCKED = "PIN_BLOCKED"
    NEW_PIN_FORMAT = "NEW_PIN_FORMAT"
    PIN_UNCHANGED = "PIN_UNCHANGED"
    READER_IN_USE = "READER_IN_USE"
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    SESSION_CLOSED = "SESSION_CLOSED"
    SESSION_BUSY = "SESSION_BUSY"
    NO_CERTIFICATE = "NO_CERTIFICATE"
    MANAGEMENT_KEY_REFUSED = "MANAGEMENT_KEY_REFUSED"
    ENGINE_UNAVAILABLE = "ENGINE_UNAVAILABLE"
    PLATFORM_URL_REFUSED = "PLATFORM_URL_REFUSED"
    RENEWAL_NOT_FOUND = "RENEWAL_NOT_FOUND"
    #: The engine's (fxml.renewal.errors): the session's card does not hold the renewal's new key.
    NEW_KEY_NOT_ON_CARD = "NEW_KEY_NOT_ON_CARD"
    RENEWAL_FAILED = "RENEWAL_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Found by the clients (Python and JS), never sent by the agent:
    AGENT_UNREACHABLE = "AGENT_UNREACHABLE"
    AGENT_BAD_RESPONSE = "AGENT_BAD_RESPONSE"


#: HTTP status of each code.
STATUS: Final[dict[ErrorCode, int]] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.BAD_JSON: 400,
    ErrorCode.FIELD_INVALID: 400,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.REQUEST_TIMEOUT: 408,
    ErrorCode.BUSY: 503,
    ErrorCode.HOST_NOT_ALLOWED: 403,
    ErrorCode.ORIGIN_NOT_ALLOWED: 403,
    ErrorCode.CROSS_SITE_REFUSED: 403,
    ErrorCode.SESSION_ORIGIN_MISMATCH: 403,
    ErrorCode.PCSC_UNAVAILABLE: 503,
    ErrorCode.READER_NOT_FOUND: 404,
    ErrorCode.NO_CARD: 409,
    ErrorCode.MULTIPLE_CARDS: 409,
    ErrorCode.CARD_NOT_SUPPORTED: 422,
    ErrorCode.CARD_BUSY: 409,
    ErrorCode.CARD_REMOVED: 409,
    ErrorCode.CARD_ERROR: 502,
    ErrorCode.PIN_FORMAT: 400,
    ErrorCode.PIN_INCORRECT: 401,
    ErrorCode.PIN_BLOCKED: 423,
    ErrorCode.NEW_PIN_FORMAT: 400,
    ErrorCode.PIN_UNCHANGED: 400,
    ErrorCode.READER_IN_USE: 409,
    ErrorCode.SESSION_NOT_FOUND: 404,
    ErrorCode.SESSION_CLOSED: 410,
    ErrorCode.SESSION_BUSY: 409,
    ErrorCode.NO_CERTIFICATE: 409,
    ErrorCode.MANAGEMENT_KEY_REFUSED: 502,
    ErrorCode.ENGINE_UNAVAILABLE: 501,
    ErrorCode.PLATFORM_URL_REFUSED: 403,
    ErrorCode.RENEWAL_NOT_FOUND: 404,
    ErrorCode.NEW_KEY_NOT_ON_CARD: 409,
    ErrorCode.RENEWAL_FAILED: 502,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.AGENT_UNREACHABLE: 0,
    ErrorCode.AGENT_BAD_RESPONSE: 0,
}

#: What the customer reads, per code. ``{name}`` fields come from the error's details.
MESSAGES: Final[dict[ErrorCode, str]] = {
    ErrorCode.BAD_REQUEST: "請求格式錯誤。",
    ErrorCode.BAD_JSON: "請求內容須為有效的 JSON 物件。",
    ErrorCode.FIELD_INVALID: "欄位 {field} 的內容不正確。",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "請以 JSON 格式（Content-Type: application/json）送出請求。",
    ErrorCode.PAYLOAD_TOO_LARGE: "請求內容過大。",
    ErrorCode.NOT_FOUND: "查無此功能。",
    ErrorCode.METHOD_NOT_ALLOWED: "不支援此請求方法。",
    ErrorCode.REQUEST_TIMEOUT: "請求傳送逾時。",
    ErrorCode.BUSY: "服務忙碌中，請稍後再試。",
    ErrorCode.HOST_NOT_ALLOWED: "拒絕連線：主機名稱不符，憑證元件僅接受 127.0.0.1、localhost 或 [::1]。",
    ErrorCode.ORIGIN_NOT_ALLOWED: "拒絕連線：此網站未獲授權使用憑證元件。",
    ErrorCode.CROSS_SITE_REFUSED: "拒絕連線：其他網站的請求須標明來源（Origin）。",
    ErrorCode.SESSION_ORIGIN_MISMATCH: "此憑證載具工作階段不屬於此網站。",
    ErrorCode.PCSC_UNAVAILABLE: "無法使用讀卡機服務，請確認讀卡機驅動程式與智慧卡服務（PC/SC）已啟動。",
    ErrorCode.READER_NOT_FOUND: "找不到指定的讀卡機，請確認讀卡機已連接。",
    ErrorCode.NO_CARD: "請插入憑證載具。",
    ErrorCode.MULTIPLE_CARDS: "偵測到多張憑證載具，請僅插入一張憑證載具，或選擇要使用的讀卡機。",
    ErrorCode.CARD_NOT_SUPPORTED: "無法識別此憑證載具，請確認插入的是合作金庫 FXML 憑證晶片卡。",
    ErrorCode.CARD_BUSY: "憑證載具正由其他程式使用中，請關閉該程式後再試。",
    ErrorCode.CARD_REMOVED: "憑證載具已被移除，請重新插入憑證載具並輸入憑證載具密碼。",
    ErrorCode.CARD_ERROR: "憑證載具回應異常，請重新插入憑證載具後再試。",
    ErrorCode.PIN_FORMAT: "憑證載具密碼須為 6 至 8 位英文字母或數字。",
    ErrorCode.PIN_INCORRECT: "憑證載具密碼錯誤，尚可嘗試 {tries_left} 次。",
    ErrorCode.PIN_BLOCKED: "憑證載具密碼錯誤次數已達上限，憑證載具已鎖定，請洽申辦分行辦理解鎖。",
    ErrorCode.NEW_PIN_FORMAT: "新憑證載具密碼須為 6 至 8 位英文字母或數字。",
    ErrorCode.PIN_UNCHANGED: "新憑證載具密碼不得與原憑證載具密碼相同。",
    ErrorCode.READER_IN_USE: "此讀卡機的憑證載具正由其他網頁使用中。",
    ErrorCode.SESSION_NOT_FOUND: "憑證載具工作階段不存在，請重新輸入憑證載具密碼。",
    ErrorCode.SESSION_CLOSED: "憑證載具工作階段已結束，請重新輸入憑證載具密碼。",
    ErrorCode.SESSION_BUSY: "憑證載具正在處理中，請稍候。",
    ErrorCode.NO_CERTIFICATE: "憑證載具中沒有可用的憑證。",
    ErrorCode.MANAGEMENT_KEY_REFUSED: "憑證載具拒絕管理金鑰，無法寫入憑證載具。",
    ErrorCode.ENGINE_UNAVAILABLE: "此版本的憑證元件尚未提供憑證更新功能。",
    ErrorCode.PLATFORM_URL_REFUSED: "憑證管理平台網址與此網站不符。",
    ErrorCode.RENEWAL_NOT_FOUND: "查無此憑證更新作業。",
    ErrorCode.NEW_KEY_NOT_ON_CARD: (
        "此憑證載具中沒有此筆憑證更新產生的新金鑰，新憑證僅能存放於產生該金鑰的憑證載具，請插入原憑證載具。"
    ),
    ErrorCode.RENEWAL_FAILED: "憑證更新未完成，原憑證仍可正常使用，請稍後再試。",
    ErrorCode.INTERNAL_ERROR: "憑證元件發生內部錯誤，請稍後再試。",
    ErrorCode.AGENT_UNREACHABLE: "無法連線至本機的憑證元件，請確認憑證元件已啟動後再試。",
    ErrorCode.AGENT_BAD_RESPONSE: "憑證元件的回應無法辨識。",
}


class AgentError(CodedError):
    """A refusal of the agent's, as it goes over the wire.

    ``code`` is stable (an :class:`ErrorCode`, or a code of the CA's or the
    platform's for a renewal that failed there: 502 and, without a message of
    its own, RENEWAL_FAILED's), ``message`` is for the customer (zh-TW),
    ``details`` the data behind it.
    """

    STATUS = STATUS
    MESSAGES = MESSAGES
    default_status = 502
    default_message = MESSAGES[ErrorCode.RENEWAL_FAILED]

    def __init__(self, code: ErrorCode | str, message: str | None = None, *, status: int | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(str(code), message, status, details=details)

    @classmethod
    def from_json(cls, data: Any, status: int = 0) -> AgentError:
        """The error an answer's ``{"error": {...}}`` carries; AGENT_BAD_RESPONSE if it is not one."""
        found = super().from_json(data, status)
        return found if found is not None else cls(ErrorCode.AGENT_BAD_RESPONSE, details={"status": status})

