"""The CA's refusals: one exception tree, each class one stable code of the
contract (:class:`fxml.ca.api.ErrorCode`) with its HTTP status and the message a
customer or bank officer reads (zh-TW).

The code is what programs compare (``RENEWAL_WINDOW_NOT_OPEN``); the message
is for people and may be reworded; ``details`` carries the data behind it
(dates, serials) for both. Every refusal is a :class:`~fxml.errors.CodedError`,
answered by the web layer (:func:`fxml.web.errors.error_response`); the engine-side
client reads it back as its :class:`fxml.ca.client.CaError`.
"""

from __future__ import annotations

from typing import Any

from fxml.ca.api import ErrorCode
from fxml.errors import CodedError
from simulator.errors import SimulatorError


class CaServiceError(CodedError, SimulatorError):
    """A request the CA refused. Nothing in the registry changed, except one
    audit-log entry that records the refusal. Each subclass is one code: its
    ``code``, ``status`` and ``default_message``."""

    code: str = ErrorCode.CA_ERROR
    status: int = 400
    default_message = "憑證中心無法處理此請求。"

    def __init__(self, message: str | None = None, **details: Any):
        super().__init__(type(self).code, message or self.default_message, type(self).status, details=details)


# -- the request itself -------------------------------------------------------
class BadRequestError(CaServiceError):
    code = ErrorCode.BAD_REQUEST
    status = 400
    default_message = "請求格式錯誤。"


class BadCsrError(CaServiceError):
    """The PKCS#10 request does not parse."""

    code = ErrorCode.BAD_CSR
    status = 400
    default_message = "憑證申請檔(PKCS#10)格式錯誤，無法解析。"


class BadCsrSignatureError(BadCsrError):
    """The request's signature does not verify with its own public key: no proof of possession."""

    code = ErrorCode.BAD_CSR_SIGNATURE
    default_message = "憑證申請檔的簽章驗證失敗，無法證明持有私密金鑰。"


class KeyNotRsa2048Error(BadCsrError):
    code = ErrorCode.KEY_NOT_RSA2048
    default_message = "憑證申請檔的金鑰不符規定：須為 RSA 2048 位元金鑰。"


class SubjectMismatchError(CaServiceError):
    """The request's subject is not the name registered for the holder."""

    code = ErrorCode.SUBJECT_MISMATCH
    status = 422
    default_message = "憑證申請檔的主旨(使用者識別名稱)與登記的用戶資料不符。"


class BadRevocationReasonError(CaServiceError):
    code = ErrorCode.BAD_REVOCATION_REASON
    status = 400
    default_message = "廢止原因不正確。"


class BadValidityError(CaServiceError):
    code = ErrorCode.BAD_VALIDITY
    status = 400
    default_message = "憑證到期日不正確。"


class RequestIdReusedError(CaServiceError):
    """A request id seen before with a different request: never two answers to one id."""

    code = ErrorCode.REQUEST_ID_REUSED
    status = 409
    default_message = "此申請編號已用於另一筆不同的申請，請使用新的申請編號。"


# -- what the request names -----------------------------------------------------
class UnknownHolderError(CaServiceError):
    code = ErrorCode.UNKNOWN_HOLDER
    status = 404
    default_message = "查無此用戶，請先至分行辦理憑證申請登記。"


class UnknownSerialError(CaServiceError):
    code = ErrorCode.UNKNOWN_SERIAL
    status = 404
    default_message = "查無此憑證序號。"


class HolderExistsError(CaServiceError):
    code = ErrorCode.HOLDER_EXISTS
    status = 409
    default_message = "此用戶及憑證名稱已登記。"


class HolderConflictError(CaServiceError):
    code = ErrorCode.HOLDER_CONFLICT
    status = 409
    default_message = "此用戶代號已登記為不同的用戶資料。"


# -- the certificate's state -------------------------------------------------------
class RenewalNotAuthorizedError(CaServiceError):
    """A renewal without the old key's signature over it (or with a wrong one)."""

    code = ErrorCode.RENEWAL_NOT_AUTHORIZED
    status = 403
    default_message = "憑證更新須以原憑證之私密金鑰簽章確認，簽章不符或缺少，無法受理。"


# -- a one-time authorization code (授權碼) -------------------------------------------------------
class AuthorizationUnknownError(CaServiceError):
    """A code the CA never issued (or not a code at all)."""

    code = ErrorCode.AUTHORIZATION_UNKNOWN
    status = 404
    default_message = "授權碼錯誤，請確認分行經辦告知的授權碼後重新輸入。"


class AuthorizationUsedError(CaServiceError):
    """A code already used for another request: one certificate per code."""

    code = ErrorCode.AUTHORIZATION_USED
    status = 409
    default_message = "此授權碼已使用過，不得重複下載憑證；如需另一張憑證，請洽申辦分行重新申請。"


class AuthorizationExpiredError(CaServiceError):
    code = ErrorCode.AUTHORIZATION_EXPIRED
    status = 409
    default_message = "授權碼已逾期，請洽申辦分行重新核發授權碼。"


class AuthorizationMismatchError(CaServiceError):
    """A code of another holder (or a request naming another holder)."""

    code = ErrorCode.AUTHORIZATION_MISMATCH
    status = 403
    default_message = "此授權碼不是核發給您的，請確認分行經辦告知的授權碼。"


# -- who asks -------------------------------------------------------------------------
class AdminTokenRequiredError(CaServiceError):
    """An operation outside the renewal protocol without the CA's admin token (or with a wrong one)."""

    code = ErrorCode.ADMIN_TOKEN_REQUIRED
    status = 401
    default_message = "此作業限憑證中心管理者執行，請附上管理權杖。"


class HostNotAllowedError(CaServiceError):
    """A Host header that is not the CA's own name (DNS rebinding), or none."""

    code = ErrorCode.HOST_NOT_ALLOWED
    status = 421
    default_message = "拒絕連線：主機名稱不符，憑證中心僅接受本機位址。"


class OriginNotAllowedError(CaServiceError):
    """A request from a web page (it carries Origin) the CA was not told to allow."""

    code = ErrorCode.ORIGIN_NOT_ALLOWED
    status = 403
    default_message = "拒絕連線：網頁不得直接呼叫憑證中心。"


class CrossSiteRefusedError(CaServiceError):
    """A request without Origin that the browser marks as coming from another site or port."""

    code = ErrorCode.CROSS_SITE_REFUSED
    status = 403
    default_message = "拒絕連線：其他網站的請求不得呼叫憑證中心。"


class UnsupportedMediaTypeError(CaServiceError):
    """A POST whose body is not said to be JSON (a form or a no-cors fetch sends text/plain)."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status = 415
    default_message = "請以 JSON 格式（Content-Type: application/json）送出請求。"


class CertificateStateError(CaServiceError):
    """The certificate's status does not allow the operation."""

    status = 409


class RenewalWindowNotOpenError(CertificateStateError):
    code = ErrorCode.RENEWAL_WINDOW_NOT_OPEN
    default_message = "憑證尚未進入可更新期間，請於憑證到期日前 30 天內辦理憑證更新。"


class CertificateExpiredApplyAtBranchError(CertificateStateError):
    code = ErrorCode.CERT_EXPIRED_APPLY_AT_BRANCH
    default_message = "憑證已過期，無法線上更新，請攜帶相關證件至申辦分行重新申請憑證。"


class AlreadyRenewedError(CertificateStateError):
    code = ErrorCode.ALREADY_RENEWED
    default_message = "此憑證已完成更新，不得重複更新。"


class CertificateSuspendedError(CertificateStateError):
    code = ErrorCode.CERT_SUSPENDED
    default_message = "憑證已暫禁，無法辦理此作業。"


class CertificateRevokedError(CertificateStateError):
    code = ErrorCode.CERT_REVOKED
    default_message = "憑證已廢止，無法辦理此作業。"


class CertificateExpiredError(CertificateStateError):
    code = ErrorCode.CERT_EXPIRED
    default_message = "憑證已過期，無法辦理此作業。"


class CertificateNotSuspendedError(CertificateStateError):
    code = ErrorCode.CERT_NOT_SUSPENDED
    default_message = "憑證未暫禁，無須解除暫禁。"


# -- the service ---------------------------------------------------------------------
class PathNotFoundError(CaServiceError):
    code = ErrorCode.NOT_FOUND
    status = 404
    default_message = "查無此服務路徑。"


class MethodNotAllowedError(CaServiceError):
    code = ErrorCode.METHOD_NOT_ALLOWED
    status = 405
    default_message = "此服務路徑不接受此 HTTP 方法。"


class StateError(CaServiceError):
    """The state folder cannot be used (keys and registry disagree, files unreadable)."""

    code = ErrorCode.CA_STATE_ERROR
    status = 500
    default_message = "憑證中心資料異常，請洽系統管理員。"


class InternalError(CaServiceError):
    code = ErrorCode.INTERNAL_ERROR
    status = 500
    default_message = "憑證中心發生內部錯誤，請稍後再試。"


def _all_subclasses(cls: type[CaServiceError]) -> list[type[CaServiceError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


#: Every error class by its code (docs/ca.md lists them all; a test checks).
_CLASSES: list[type[CaServiceError]] = [CaServiceError, *_all_subclasses(CaServiceError)]
ERRORS: dict[str, type[CaServiceError]] = {cls.code: cls for cls in _CLASSES}

