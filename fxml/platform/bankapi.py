"""The platform → bank contract: server to server, authenticated with the key the two share.

Both sides import this module: the platform sends, the bank's systems
(``simulator/bank``) receive. Two messages cross it:

- **the fax** (:class:`Fax`, ``POST /api/platform/faxes``): step 9's first
  sentence, 「點選[列印]後，憑證資料傳真至申辦分行」. [列印] on the proof sheet
  sends the sheet (its fields as the CA gave them, and the PDF) for the
  customer; the bank files it in the inbox of the customer's 申辦分行 and
  answers which branch and when it arrived (:class:`FaxReceipt`).
- **the renewal notice** (:class:`RenewalNotice`, ``POST /api/platform/renewals``):
  a renewal reached DONE (step 7): the card holds the new certificate. The
  bank's 個人網路銀行 and 企業網路銀行 bind it to the customer then; the EOI
  系統 records it and waits for the branch's 憑證展期建檔.
- **the application** (:class:`Application`, ``POST /api/platform/applications``):
  the platform's 憑證申請 sends what the CA will need (the customer, the Common
  Name suffix, the carrier); the bank files it for the approval of the customer's
  申辦分行 (the branch's back office issues the 授權碼 of 憑證下載 then) and answers
  which branch and when (:class:`ApplicationReceipt`), or refuses a name the customer
  already has, or one with an application still awaiting the branch.

**Authentication.** Every request carries the stack clock's time, a nonce and
an HMAC-SHA256 over the method, the path, both, and the SHA-256 of the body
(:func:`sign`), with a key derived from the ticket key the bank and the
platform already share (:func:`api_key`; a different purpose, so a different
key). The bank refuses a missing or wrong signature, a time more than
:data:`MAX_SKEW` seconds from its own clock, and a nonce it has seen
(:func:`verify`; it keeps nonces as long as their time would pass).

**Idempotence.** Each message has its own id (``fax_id``; a notice's is its
renewal id): sent again with the same content, the bank answers what it
answered the first time (HTTP 200 instead of 201); the same id with other
content is refused (``BANK_API_ID_REUSED``). The sender (the engine's one
HTTP client, :mod:`fxml.http`) retries on a lost connection with the same id,
signing each attempt anew: a new nonce and time.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from fxml.clock import Clock
from fxml.errors import CodedError
from fxml.http import HttpClient, Retry, UnreachableError, json_body
from fxml.web.ids import number


class Paths:
    FAXES: Final = "/api/platform/faxes"
    RENEWALS: Final = "/api/platform/renewals"
    APPLICATIONS: Final = "/api/platform/applications"


HEADER_TIMESTAMP: Final = "x-fxml-timestamp"
HEADER_NONCE: Final = "x-fxml-nonce"
HEADER_AUTHORIZATION: Final = "authorization"
SCHEME: Final = "FXML-HMAC-SHA256"
#: Seconds a request's time may differ from the receiver's clock.
MAX_SKEW: Final = 120
#: The largest body the bank reads (a proof sheet's PDF with its CJK font subset is ~60 KB).
MAX_BODY: Final = 1024 * 1024
_KEY_INFO: Final = b"fxmlsim.platform-bank-api.v1"
_NONCE: Final = re.compile(r"[0-9a-f]{32}")
_SIGNATURE: Final = re.compile(r"[0-9a-f]{64}")
_SERIAL: Final = re.compile(r"[0-9A-F]{1,40}")
_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
_HOLDER: Final = re.compile(r"[A-Za-z0-9]{1,20}")
_SYSTEMS: Final = ("personal", "corporate", "eoi")
#: A certificate's name, the last part of its Common Name (the CA's rule: 1 to 16 letters or digits).
CN_SUFFIX: Final = re.compile(r"[A-Za-z0-9]{1,16}", re.ASCII)
#: The carriers (憑證儲存媒體) a certificate may be applied for on.
CARRIERS: Final = ("大卡", "小卡")


@enum.unique
class ErrorCode(enum.StrEnum):
    BANK_API_UNAUTHENTICATED = "BANK_API_UNAUTHENTICATED"
    BANK_API_CLOCK_SKEW = "BANK_API_CLOCK_SKEW"
    BANK_API_REPLAYED = "BANK_API_REPLAYED"
    BANK_API_BAD_REQUEST = "BANK_API_BAD_REQUEST"
    BANK_API_ID_REUSED = "BANK_API_ID_REUSED"
    BANK_API_UNKNOWN_CUSTOMER = "BANK_API_UNKNOWN_CUSTOMER"
    BANK_API_NOT_A_RENEWAL = "BANK_API_NOT_A_RENEWAL"
    BANK_API_CA_UNAVAILABLE = "BANK_API_CA_UNAVAILABLE"
    #: An application for a Common Name the customer's certificates already have.
    BANK_API_CN_TAKEN = "BANK_API_CN_TAKEN"
    #: An application for a Common Name that another application awaits the branch's approval for.
    BANK_API_APPLICATION_PENDING = "BANK_API_APPLICATION_PENDING"
    #: The sender's own: no answer, or not the bank's.
    BANK_UNREACHABLE = "BANK_UNREACHABLE"
    BANK_BAD_RESPONSE = "BANK_BAD_RESPONSE"


STATUS: Final = {
    ErrorCode.BANK_API_UNAUTHENTICATED: 401,
    ErrorCode.BANK_API_CLOCK_SKEW: 401,
    ErrorCode.BANK_API_REPLAYED: 409,
    ErrorCode.BANK_API_BAD_REQUEST: 400,
    ErrorCode.BANK_API_ID_REUSED: 409,
    ErrorCode.BANK_API_UNKNOWN_CUSTOMER: 404,
    ErrorCode.BANK_API_NOT_A_RENEWAL: 422,
    ErrorCode.BANK_API_CA_UNAVAILABLE: 503,
    ErrorCode.BANK_API_CN_TAKEN: 409,
    ErrorCode.BANK_API_APPLICATION_PENDING: 409,
    ErrorCode.BANK_UNREACHABLE: 0,
    ErrorCode.BANK_BAD_RESPONSE: 0,
}

MESSAGES: Final = {
    ErrorCode.BANK_API_UNAUTHENTICATED: "銀行拒絕此請求：來源未經認證。",
    ErrorCode.BANK_API_CLOCK_SKEW: "銀行拒絕此請求：請求時間與銀行系統時間相差過大。",
    ErrorCode.BANK_API_REPLAYED: "銀行拒絕此請求：此請求已送達過（重送攻擊）。",
    ErrorCode.BANK_API_BAD_REQUEST: "銀行無法處理此請求：內容格式錯誤。",
    ErrorCode.BANK_API_ID_REUSED: "銀行拒絕此請求：此編號已用於內容不同的另一筆資料。",
    ErrorCode.BANK_API_UNKNOWN_CUSTOMER: "銀行查無此客戶。",
    ErrorCode.BANK_API_NOT_A_RENEWAL: "憑證中心的紀錄顯示此憑證不是該客戶原憑證的更新憑證。",
    ErrorCode.BANK_API_CA_UNAVAILABLE: "銀行暫時無法向憑證中心確認憑證資料，請稍後再試。",
    ErrorCode.BANK_API_CN_TAKEN: "您已有此憑證名稱的憑證，請改用其他憑證名稱（例如申請的年度）。",
    ErrorCode.BANK_API_APPLICATION_PENDING: "此憑證名稱已有一筆申請待申辦分行審核，請待分行核准後，"
                                            "以分行經辦告知的授權碼至[憑證下載]下載憑證。",
    ErrorCode.BANK_UNREACHABLE: "無法連線至銀行系統，請稍後再試。",
    ErrorCode.BANK_BAD_RESPONSE: "銀行系統的回應無法辨識。",
}

#: Refusals that a later attempt may get past (the sender keeps the message and retries). A refused
#: authentication is one: the key or the clock out of step between the two sides (a restart, a new key)
#: is an operator's to fix, and the notice is owed until then, never dropped.
RETRYABLE: Final = frozenset({
    ErrorCode.BANK_API_UNAUTHENTICATED,
    ErrorCode.BANK_API_CLOCK_SKEW, ErrorCode.BANK_API_REPLAYED, ErrorCode.BANK_API_CA_UNAVAILABLE,
    ErrorCode.BANK_UNREACHABLE, ErrorCode.BANK_BAD_RESPONSE,
})


class BankApiError(CodedError):
    """A refusal of the bank's API, or no answer: a stable ``code``, a zh-TW ``message``, and in
    ``detail`` (``details["detail"]``) what was wrong, in English, for the logs of both sides."""

    STATUS = STATUS
    MESSAGES = MESSAGES

    def __init__(self, code: ErrorCode, detail: str = "", status: int | None = None):
        super().__init__(code, status=status, details={"detail": detail} if detail else {})

    @property
    def detail(self) -> str:
        return str(self.details.get("detail", ""))

    def summary(self) -> str:
        return super().summary() + (f" ({self.detail})" if self.detail else "")

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE or self.status >= 500


# -- the key and the signature ---------------------------------------------------------------------
def api_key(ticket_key: bytes) -> bytes:
    """The key of this API, derived from the shared ticket key (never used for tickets)."""
    return hmac.new(ticket_key, _KEY_INFO, hashlib.sha256).digest()


def _text_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, method.upper(), path, timestamp, nonce, digest)).encode("ascii")


def sign(key: bytes, method: str, path: str, body: bytes, clock: Clock, nonce: str | None = None) -> dict[str, str]:
    """The headers that authenticate ``body`` sent to ``method path``, at the clock's now."""
    timestamp = str(int(clock.now().timestamp()))
    nonce = nonce or secrets.token_hex(16)
    mac = hmac.new(key, _text_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()
    return {HEADER_TIMESTAMP: timestamp, HEADER_NONCE: nonce, HEADER_AUTHORIZATION: f"{SCHEME} {mac}"}


def verify(key: bytes, method: str, path: str, body: bytes, headers: Mapping[str, str], clock: Clock,
           first_use: Callable[[str, datetime], bool]) -> None:
    """Refuse (:class:`BankApiError`) a request not signed with ``key``, out of time, or replayed.

    ``first_use(nonce, expires)`` records the nonce and answers False if it was seen:
    the receiver's store makes every signed request single use.
    """
    timestamp = headers.get(HEADER_TIMESTAMP, "")
    nonce = headers.get(HEADER_NONCE, "")
    authorization = headers.get(HEADER_AUTHORIZATION, "")
    scheme, _, given = authorization.partition(" ")
    given = given.strip().lower()
    sent = number(timestamp)  # ASCII digits, at most 18 of them
    if scheme != SCHEME or not _SIGNATURE.fullmatch(given) or sent is None or not _NONCE.fullmatch(nonce):
        raise BankApiError(ErrorCode.BANK_API_UNAUTHENTICATED, "missing or malformed authentication headers")
    expected = hmac.new(key, _text_to_sign(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise BankApiError(ErrorCode.BANK_API_UNAUTHENTICATED, "the signature is not the platform's")
    now = clock.now()
    if abs(now.timestamp() - sent) > MAX_SKEW:
        raise BankApiError(ErrorCode.BANK_API_CLOCK_SKEW, f"sent at {sent}, now {int(now.timestamp())}")
    expires = datetime.fromtimestamp(max(sent, int(now.timestamp())) + MAX_SKEW, tz=now.tzinfo)
    if not first_use(nonce, expires):
        raise BankApiError(ErrorCode.BANK_API_REPLAYED, "this nonce was seen before")


# -- the messages ------------------------------------------------------------------------------------
def _text(data: Mapping[str, Any], name: str, limit: int = 200, pattern: re.Pattern[str] | None = None) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or (pattern and not pattern.fullmatch(value)):
        raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, f"{name!r} is missing or not well formed")
    return value


def _instant(data: Mapping[str, Any], name: str) -> str:
    value = _text(data, name, 40)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, f"{name!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, f"{name!r} has no time zone")
    return value


def _object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, "the body is not a JSON object")
    return data


@dataclass(frozen=True)
class FaxCustomer:
    """Who the sheet is for, as the platform's ticket named them."""

    system: str
    customer_id: str
    customer_name: str
    user_code: str
    holder_id: str

    def to_json(self) -> dict[str, str]:
        return {"system": self.system, "customer_id": self.customer_id, "customer_name": self.customer_name,
                "user_code": self.user_code, "holder_id": self.holder_id}

    @classmethod
    def from_json(cls, data: Any) -> FaxCustomer:
        body = _object(data)
        system = _text(body, "system", 16)
        if system not in _SYSTEMS:
            raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, f"'system' is not one of {_SYSTEMS}")
        return cls(system, _text(body, "customer_id", 20, _HOLDER), _text(body, "customer_name", 100),
                   _text(body, "user_code", 16), _text(body, "holder_id", 20, _HOLDER))


@dataclass(frozen=True)
class Fax:
    """A proof sheet (憑證證明單) faxed to the customer's 申辦分行."""

    fax_id: str
    sent_at: str
    customer: FaxCustomer
    #: The sheet's 簽章憑證序號 (uppercase hex).
    serial: str
    #: The sheet's labels and values, as the CA gave them (證明單申請日期 … 憑證狀態).
    sheet: dict[str, str]
    pdf: bytes

    def to_json(self) -> dict[str, Any]:
        return {"fax_id": self.fax_id, "sent_at": self.sent_at, "customer": self.customer.to_json(),
                "serial": self.serial, "sheet": dict(self.sheet), "pdf": base64.b64encode(self.pdf).decode("ascii")}

    def digest(self) -> str:
        """What makes two sendings of one fax the same fax (the id aside)."""
        data = self.to_json()
        data.pop("sent_at")
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> Fax:
        body = _object(data)
        sheet = body.get("sheet")
        if (not isinstance(sheet, dict) or not sheet or len(sheet) > 20
                or not all(isinstance(k, str) and isinstance(v, str) and len(k) <= 40 and len(v) <= 400
                           for k, v in sheet.items())):
            raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, "'sheet' must be an object of short texts")
        try:
            pdf = base64.b64decode(_text(body, "pdf", MAX_BODY), validate=True)
        except (binascii.Error, ValueError):
            raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, "'pdf' is not base64") from None
        if not pdf.startswith(b"%PDF-"):
            raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, "'pdf' is not a PDF")
        return cls(_text(body, "fax_id", 64, _ID), _instant(body, "sent_at"),
                   FaxCustomer.from_json(body.get("customer")), _text(body, "serial", 40, _SERIAL), dict(sheet), pdf)


@dataclass(frozen=True)
class FaxReceipt:
    """The bank's answer to a fax: where it went and when it arrived (the bank's clock)."""

    fax_id: str
    branch_code: str
    branch_name: str
    received_at: str

    def to_json(self) -> dict[str, Any]:
        return {"fax": {"fax_id": self.fax_id, "branch": {"code": self.branch_code, "name": self.branch_name},
                        "received_at": self.received_at}}

    @classmethod
    def from_json(cls, data: Any) -> FaxReceipt:
        try:
            fax = data["fax"]
            return cls(str(fax["fax_id"]), str(fax["branch"]["code"]), str(fax["branch"]["name"]),
                       str(fax["received_at"]))
        except (KeyError, TypeError):
            raise BankApiError(ErrorCode.BANK_BAD_RESPONSE, "not a fax receipt") from None


@dataclass(frozen=True)
class RenewalNotice:
    """A renewal reached DONE: the card holds ``new_serial``, renewed from ``old_serial``."""

    renewal_id: str
    holder_id: str
    old_serial: str
    new_serial: str
    done_at: str

    def to_json(self) -> dict[str, str]:
        return {"renewal_id": self.renewal_id, "holder_id": self.holder_id, "old_serial": self.old_serial,
                "new_serial": self.new_serial, "done_at": self.done_at}

    @classmethod
    def from_json(cls, data: Any) -> RenewalNotice:
        body = _object(data)
        return cls(_text(body, "renewal_id", 64, _ID), _text(body, "holder_id", 20, _HOLDER),
                   _text(body, "old_serial", 40, _SERIAL), _text(body, "new_serial", 40, _SERIAL),
                   _instant(body, "done_at"))


@dataclass(frozen=True)
class Application:
    """憑證申請: the customer (as the ticket named them) asks for a certificate named ``cn_suffix``
    on a ``carrier``; the customer's 申辦分行 approves it (and issues the 授權碼) or refuses it."""

    application_id: str
    submitted_at: str
    customer: FaxCustomer
    cn_suffix: str
    carrier: str

    def to_json(self) -> dict[str, Any]:
        return {"application_id": self.application_id, "submitted_at": self.submitted_at,
                "customer": self.customer.to_json(), "cn_suffix": self.cn_suffix, "carrier": self.carrier}

    def digest(self) -> str:
        """What makes two sendings of one application the same (its time aside)."""
        data = self.to_json()
        data.pop("submitted_at")
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    @classmethod
    def from_json(cls, data: Any) -> Application:
        body = _object(data)
        carrier = _text(body, "carrier", 4)
        if carrier not in CARRIERS:
            raise BankApiError(ErrorCode.BANK_API_BAD_REQUEST, f"'carrier' is not one of {CARRIERS}")
        return cls(_text(body, "application_id", 64, _ID), _instant(body, "submitted_at"),
                   FaxCustomer.from_json(body.get("customer")), _text(body, "cn_suffix", 16, CN_SUFFIX), carrier)


@dataclass(frozen=True)
class ApplicationReceipt:
    """The bank's answer to an application: the branch that will approve it, and when it arrived."""

    application_id: str
    branch_code: str
    branch_name: str
    received_at: str

    def to_json(self) -> dict[str, Any]:
        return {"application": {"application_id": self.application_id,
                                "branch": {"code": self.branch_code, "name": self.branch_name},
                                "received_at": self.received_at}}

    @classmethod
    def from_json(cls, data: Any) -> ApplicationReceipt:
        try:
            found = data["application"]
            return cls(str(found["application_id"]), str(found["branch"]["code"]), str(found["branch"]["name"]),
                       str(found["received_at"]))
        except (KeyError, TypeError):
            raise BankApiError(ErrorCode.BANK_BAD_RESPONSE, "not an application receipt") from None


@enum.unique
class Binding(enum.StrEnum):
    """What the bank did with a renewal notice."""

    #: 個人網路銀行, 企業網路銀行: the new certificate is the customer's from now on.
    BOUND = "bound"
    #: The EOI 系統: the branch binds it at 憑證展期建檔.
    AWAITING_FILING = "awaiting_filing"


# -- the sender ---------------------------------------------------------------------------------------
class BankApiClient:
    """The platform's side: sends signed messages to the bank (the engine's one HTTP client)."""

    def __init__(self, base_url: str, key: bytes, clock: Clock, *, timeout: float = 10.0, retries: int = 2,
                 retry_delay: float = 0.2):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.clock = clock
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._http = HttpClient(self.base_url, timeout=timeout)

    def send_fax(self, fax: Fax) -> FaxReceipt:
        return FaxReceipt.from_json(self._post(Paths.FAXES, fax.to_json()))

    def apply(self, application: Application) -> ApplicationReceipt:
        """憑證申請, filed for the customer's 申辦分行 (sent again with the same id: the same receipt)."""
        return ApplicationReceipt.from_json(self._post(Paths.APPLICATIONS, application.to_json()))

    def notify_renewal(self, notice: RenewalNotice) -> Binding:
        answer = self._post(Paths.RENEWALS, notice.to_json())
        try:
            return Binding(answer["renewal"]["binding"])
        except (KeyError, TypeError, ValueError):
            raise BankApiError(ErrorCode.BANK_BAD_RESPONSE, "not a renewal receipt") from None

    def _post(self, path: str, data: Mapping[str, Any]) -> Any:
        body = json_body(data)

        def attempt() -> Any:
            # Signed at each attempt: the bank refuses a nonce it has seen.
            headers = {"content-type": "application/json; charset=utf-8",
                       **sign(self.key, "POST", path, body, self.clock)}
            return self._http.send("POST", path, content=body, headers=headers)

        try:
            answer = Retry(self.retries, self.retry_delay).call(attempt, f"bank API {path}")
        except UnreachableError as exc:
            raise BankApiError(ErrorCode.BANK_UNREACHABLE, exc.reason) from None
        if answer.status >= 400:
            raise _refusal(answer.status, answer.content)
        try:
            return answer.json()
        except ValueError:
            raise BankApiError(ErrorCode.BANK_BAD_RESPONSE, "the answer is not JSON") from None


def _refusal(status: int, content: bytes) -> BankApiError:
    try:
        error = json.loads(content)["error"]
        return BankApiError(ErrorCode(error["code"]), str((error.get("details") or {}).get("detail", "")), status)
    except (ValueError, KeyError, TypeError, AttributeError):
        return BankApiError(ErrorCode.BANK_BAD_RESPONSE, f"HTTP {status}", status)


__all__ = [
    "CARRIERS", "CN_SUFFIX", "MAX_BODY", "MAX_SKEW", "Application", "ApplicationReceipt", "BankApiClient",
    "BankApiError", "Binding", "ErrorCode", "Fax", "FaxCustomer", "FaxReceipt", "Paths", "RenewalNotice", "api_key",
    "sign", "verify",
]
