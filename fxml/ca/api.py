"""The CA's wire contract, once: paths, record fields, error codes, result words.

The simulated CA (:mod:`simulator.ca.app`) answers with these names and the
engine's client (:mod:`fxml.ca.client`) reads them; both import this module,
so the two sides cannot drift apart. docs/ca.md describes the same contract
for people; ``tests/unit/test_ca_contract.py`` checks the three agree.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Final, TypedDict

from fxml import env

#: The environment variable with the CA's base URL (what ``fxmlsim up`` exports).
ENV_URL: Final = env.CA_URL
#: The environment variable naming the file that holds the CA's admin token.
ENV_TOKEN_FILE: Final = env.CA_TOKEN_FILE
#: The file in the CA's state folder that holds its admin token (mode 0600).
TOKEN_FILE_NAME: Final = "admin.token"  # noqa: S105 - a file name, not a secret

JSON_TYPE: Final = "application/json; charset=utf-8"
CERT_TYPE: Final = "application/pkix-cert"
CRL_TYPE: Final = "application/pkix-crl"
OCSP_REQUEST_TYPE: Final = "application/ocsp-request"
OCSP_RESPONSE_TYPE: Final = "application/ocsp-response"
PEM_TYPE: Final = "application/x-pem-file"

#: The largest request body the CA reads (a PKCS#10 request is a few KB).
MAX_BODY: Final = 1024 * 1024
#: Certificates per page of ``GET /certificates``; a client asks for up to this many.
MAX_PAGE: Final = 1000


class Paths:
    """The API's paths; ``{serial}`` and ``{holder_id}`` are one percent-encoded segment each."""

    INFO: Final = "/"
    HOLDERS: Final = "/holders"
    HOLDER: Final = "/holders/{holder_id}"
    CERTIFICATES: Final = "/certificates"
    CERTIFICATE: Final = "/certificates/{serial}"
    CERTIFICATE_FILE: Final = "/certificates/{serial}.{fmt}"  # cer | der | pem
    PROOF: Final = "/certificates/{serial}/proof"
    RENEW: Final = "/certificates/{serial}/renew"
    RENEWAL_CHECK: Final = "/certificates/{serial}/renewal-check"
    SUSPEND: Final = "/certificates/{serial}/suspend"
    RESUME: Final = "/certificates/{serial}/resume"
    REVOKE: Final = "/certificates/{serial}/revoke"
    CRL: Final = "/crl/TWCA-Financial-User-CA.crl"
    CRL_SHORT: Final = "/crl"
    OCSP: Final = "/ocsp"
    ISSUER_CERT: Final = "/ca/TWCA-Financial-User-CA.cer"
    ROOT_CERT: Final = "/ca/root.cer"
    CHAIN: Final = "/ca/chain.pem"
    AUDIT: Final = "/audit"
    #: 核發授權碼 (the RA, with the admin token): a one-time code for one holder and Common Name.
    AUTHORIZATIONS: Final = "/authorizations"
    #: What a code allows, without using it (the platform's 憑證下載 asks before any key is made).
    AUTHORIZATION_CHECK: Final = "/authorizations/check"
    #: 申請 with a one-time code instead of the admin token: the card-signed request of 憑證下載.
    ENROLLMENTS: Final = "/enrollments"


@enum.unique
class ErrorCode(enum.StrEnum):
    """Every stable error code of the CA's answers (and the client's own two)."""

    CA_ERROR = "CA_ERROR"
    BAD_REQUEST = "BAD_REQUEST"
    BAD_CSR = "BAD_CSR"
    BAD_CSR_SIGNATURE = "BAD_CSR_SIGNATURE"
    KEY_NOT_RSA2048 = "KEY_NOT_RSA2048"
    SUBJECT_MISMATCH = "SUBJECT_MISMATCH"
    BAD_REVOCATION_REASON = "BAD_REVOCATION_REASON"
    BAD_VALIDITY = "BAD_VALIDITY"
    REQUEST_ID_REUSED = "REQUEST_ID_REUSED"
    UNKNOWN_HOLDER = "UNKNOWN_HOLDER"
    UNKNOWN_SERIAL = "UNKNOWN_SERIAL"
    HOLDER_EXISTS = "HOLDER_EXISTS"
    HOLDER_CONFLICT = "HOLDER_CONFLICT"
    RENEWAL_WINDOW_NOT_OPEN = "RENEWAL_WINDOW_NOT_OPEN"
    CERT_EXPIRED_APPLY_AT_BRANCH = "CERT_EXPIRED_APPLY_AT_BRANCH"
    ALREADY_RENEWED = "ALREADY_RENEWED"
    CERT_SUSPENDED = "CERT_SUSPENDED"
    CERT_REVOKED = "CERT_REVOKED"
    CERT_EXPIRED = "CERT_EXPIRED"
    CERT_NOT_SUSPENDED = "CERT_NOT_SUSPENDED"
    RENEWAL_NOT_AUTHORIZED = "RENEWAL_NOT_AUTHORIZED"
    AUTHORIZATION_UNKNOWN = "AUTHORIZATION_UNKNOWN"
    AUTHORIZATION_USED = "AUTHORIZATION_USED"
    AUTHORIZATION_EXPIRED = "AUTHORIZATION_EXPIRED"
    AUTHORIZATION_MISMATCH = "AUTHORIZATION_MISMATCH"
    ADMIN_TOKEN_REQUIRED = "ADMIN_TOKEN_REQUIRED"  # noqa: S105 - an error code, not a secret
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    CROSS_SITE_REFUSED = "CROSS_SITE_REFUSED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    BUSY = "BUSY"
    CA_STATE_ERROR = "CA_STATE_ERROR"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Found by the client, never sent by the CA:
    CA_UNREACHABLE = "CA_UNREACHABLE"
    CA_BAD_RESPONSE = "CA_BAD_RESPONSE"


#: The renewal's proof that the old certificate's holder asks for it: the old key's
#: signature (PKCS#1 v1.5, SHA-256) over :func:`renewal_proof_message`, base64 in this field.
PROOF_FIELD: Final = "old_key_signature"
_PROOF_DOMAIN: Final = b"fxmlsim TWCA renewal v1\x00"


def renewal_proof_message(request_id: str, serial: str, csr_der: bytes) -> bytes:
    """What the old key signs to ask for a renewal: this request id, this certificate
    (its serial as a number, in uppercase hex) and this PKCS#10 request (its SHA-256)."""
    cleaned = serial.replace(":", "").replace(" ", "")
    try:
        canonical = f"{int(cleaned, 16):X}"
    except ValueError:
        canonical = cleaned  # not a serial: the CA refuses it as such before any proof is checked
    return b"\x00".join((
        _PROOF_DOMAIN, request_id.encode("utf-8"), canonical.encode("ascii", "replace"),
        hashlib.sha256(csr_der).digest(),
    ))


#: The field of a one-time authorization code (授權碼) in the JSON of ``/authorizations/check`` and
#: ``/enrollments``: a POST body, never a URL (a URL is logged; the code is a secret until used).
AUTHORIZATION_FIELD: Final = "authorization_code"
#: The letters of a 授權碼: Crockford's base32 (no I, L, O, U: nothing to misread on the phone).
CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: A 授權碼 is this many letters (80 bits), written in groups of four: ``7K2M-QX9D-...``.
CODE_LENGTH: Final = 16
_CODE_READS: Final = str.maketrans({"I": "1", "L": "1", "O": "0"})


def normal_code(text: str) -> str:
    """A 授權碼 as typed, compared as issued: capitals, without the hyphens and spaces that group it,
    I and L read as 1, O as 0 (Crockford's rule); '' for anything that cannot be one (the CA
    answers it as a code it never issued)."""
    if not isinstance(text, str) or len(text) > 4 * CODE_LENGTH:
        return ""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_CODE_READS)
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return ""
    return cleaned


def grouped_code(code: str) -> str:
    """A 授權碼 as people read it: groups of four joined by hyphens."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def code_digest(code: str) -> str:
    """What the CA keeps of a 授權碼: the SHA-256 of its normal form (hex). The code itself is shown
    once, to whoever asked for it, and never stored."""
    return hashlib.sha256(normal_code(code).encode("ascii")).hexdigest()


@enum.unique
class Operation(enum.StrEnum):
    """The bank's names of the CA's operations (the audit log's actions)."""

    REGISTER = "用戶登錄"
    APPLY = "申請"
    DOWNLOAD = "下載"
    RENEW = "更新"
    SUSPEND = "暫禁"
    RESUME = "解除暫禁"
    REVOKE = "廢止"
    #: The RA's approval of an application: a one-time 授權碼 for a holder's Common Name.
    AUTHORIZE = "核發授權碼"
    #: 申請 authorized by a 授權碼 (the customer's 憑證下載), not by the admin token.
    ENROLL = "授權碼申請"


#: What a JSON answer's "result" says when an operation succeeds, in the bank's words.
DONE: Final[dict[Operation, str]] = {
    Operation.REGISTER: "用戶登錄成功",
    Operation.APPLY: "憑證申請成功",
    Operation.DOWNLOAD: "憑證下載成功",
    Operation.RENEW: "憑證更新成功",
    Operation.SUSPEND: "憑證暫禁成功",
    Operation.RESUME: "憑證解除暫禁成功",
    Operation.REVOKE: "憑證廢止成功",
    Operation.AUTHORIZE: "授權碼核發成功",
    Operation.ENROLL: "憑證申請成功",
}


@enum.unique
class CertStatus(enum.StrEnum):
    """A certificate's status, as the bank's 憑證查詢 and 憑證證明單 show it."""

    NORMAL = "正常"
    SUSPENDED = "暫禁"
    REVOKED = "已廢止"
    EXPIRED = "已過期"


class CertificateJson(TypedDict):
    """A certificate record as the API sends it (times: ISO 8601, Taiwan time)."""

    serial: str
    holder_id: str
    cn: str
    subject: str
    issuer: str
    not_before: str
    not_after: str
    status: str
    issued_at: str
    renewed_from: str | None
    renewed_by: str | None
    suspended_at: str | None
    revoked_at: str | None
    revocation_reason: str | None
    replayed: bool
    certificate: str  # PEM


class HolderJson(TypedDict):
    holder_id: str
    name: str
    branch_code: str
    bank_name: str
    cn_suffixes: list[str]
    registered_at: str


class AuthorizationJson(TypedDict):
    """A 授權碼's grant as the API sends it (the code itself only in the answer that made it)."""

    holder_id: str
    cn: str
    #: The subject a request under this code must carry: as the bank's screens write it, and as
    #: RFC 4514 (what a client builds its PKCS#10 request from).
    subject: str
    subject_rfc4514: str
    issued_at: str
    expires_at: str
    #: When it was used, and for which certificate (None while it may still be used).
    used_at: str | None
    serial: str | None


#: The keys of a proof sheet (憑證證明單), in the manual's order and words.
PROOF_FIELDS: Final = (
    "證明單申請日期",
    "簽章憑證序號",
    "主旨(使用者識別名稱)",
    "憑證發行者",
    "憑證生效日",
    "憑證到期日",
    "憑證狀態",
)
PROOF_KEY: Final = "憑證證明單"
