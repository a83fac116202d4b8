"""HTTP client for the CA's JSON API (docs/ca.md), on the engine's one HTTP client (:mod:`fxml.http`).

Every method returns typed values or raises :class:`CaError` carrying the
HTTP status, the CA's stable error code and its zh-TW message. A CA that
cannot be reached is ``CaError`` with status 0 and code ``CA_UNREACHABLE``.

Reads, issuance (申請) and renewal (更新) are retried on a lost connection
or a timeout (:class:`fxml.http.Retry`, ``retries`` more attempts after
``retry_delay``, twice that ...): 申請 and 更新 carry the caller's request
id, and the CA answers a retried request id with the certificate it already
issued, never a second one. Other changes (用戶登錄, 暫禁, 解除暫禁, 廢止) are
sent once, since their second attempt would be refused as already done.

The operations outside the renewal protocol (用戶登錄, 申請, 暫禁, 解除暫禁,
廢止) are the registration authority's: the CA asks for its
admin token (``token``, sent as ``Authorization: Bearer``). A renewal needs
none: the old key's signature authorizes it.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.ca.api import (
    AUTHORIZATION_FIELD,
    ENV_TOKEN_FILE,
    ENV_URL,
    MAX_PAGE,
    OCSP_REQUEST_TYPE,
    PROOF_FIELD,
    PROOF_KEY,
    ErrorCode,
    Paths,
)
from fxml.errors import CodedError
from fxml.http import ONCE, HttpClient, Retry, UnreachableError, json_body

UNREACHABLE = ErrorCode.CA_UNREACHABLE
BAD_RESPONSE = ErrorCode.CA_BAD_RESPONSE


class CaError(CodedError):
    """The CA refused a request, or could not be asked.

    ``status`` is the HTTP status (0 when no answer came), ``code`` the CA's
    stable error code, ``message`` the zh-TW text for people, ``details``
    the data behind it.
    """

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any] | None = None):
        super().__init__(code, message, status, details=details)


@dataclass(frozen=True)
class CertificateRecord:
    """A certificate as the CA reports it: its status in the bank's words
    (正常, 暫禁, 已廢止, 已過期) and the parsed certificate."""

    serial: str
    holder_id: str
    cn: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    status: str
    issued_at: datetime
    certificate: x509.Certificate
    renewed_from: str | None = None
    renewed_by: str | None = None
    suspended_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    replayed: bool = False
    #: The issuing CA's and the root's certificates, when the answer carried them.
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], chain_pem: str | None = None) -> CertificateRecord:
        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        try:
            return cls(
                serial=data["serial"],
                holder_id=data["holder_id"],
                cn=data["cn"],
                subject=data["subject"],
                issuer=data["issuer"],
                not_before=datetime.fromisoformat(data["not_before"]),
                not_after=datetime.fromisoformat(data["not_after"]),
                status=data["status"],
                issued_at=datetime.fromisoformat(data["issued_at"]),
                certificate=x509.load_pem_x509_certificate(data["certificate"].encode("ascii")),
                renewed_from=data.get("renewed_from"),
                renewed_by=data.get("renewed_by"),
                suspended_at=when("suspended_at"),
                revoked_at=when("revoked_at"),
                revocation_reason=data.get("revocation_reason"),
                replayed=bool(data.get("replayed", False)),
                chain=tuple(x509.load_pem_x509_certificates(chain_pem.encode("ascii"))) if chain_pem else (),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _bad_response({"reason": repr(exc)}) from exc


@dataclass(frozen=True)
class RenewalCheck:
    """The CA's answer that a certificate may be renewed now."""

    serial: str
    cn: str
    not_after: datetime
    #: The first instant a renewal is allowed.
    window_opens: datetime
    #: The not-after a certificate renewed now would get.
    renewed_not_after: datetime

    @classmethod
    def from_json(cls, data: Any) -> RenewalCheck:
        try:
            return cls(
                serial=str(data["serial"]),
                cn=str(data["cn"]),
                not_after=datetime.fromisoformat(data["not_after"]),
                window_opens=datetime.fromisoformat(data["window_opens"]),
                renewed_not_after=datetime.fromisoformat(data["renewed_not_after"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_response({"reason": repr(exc)}) from exc


@dataclass(frozen=True)
class AuthorizationGrant:
    """What a 授權碼 allows: one certificate for ``holder_id`` named ``subject`` until ``expires_at``."""

    holder_id: str
    cn: str
    #: As the bank's screens write it, and as an ``x509.Name`` to build the request from.
    subject_text: str
    subject: x509.Name
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    serial: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> AuthorizationGrant:
        try:
            return cls(
                holder_id=str(data["holder_id"]), cn=str(data["cn"]), subject_text=str(data["subject"]),
                subject=x509.Name.from_rfc4514_string(str(data["subject_rfc4514"])),
                issued_at=datetime.fromisoformat(data["issued_at"]),
                expires_at=datetime.fromisoformat(data["expires_at"]),
                used_at=datetime.fromisoformat(data["used_at"]) if data.get("used_at") else None,
                serial=data.get("serial"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_response({"reason": repr(exc)}) from exc


Csr = bytes | str | x509.CertificateSigningRequest


def _csr_text(csr: Csr) -> str:
    """PEM as it is; DER as base64 (the CA, not the client, judges whether it parses)."""
    if isinstance(csr, x509.CertificateSigningRequest):
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
    data = csr.encode("utf-8") if isinstance(csr, str) else bytes(csr)
    if data.lstrip().startswith(b"-----BEGIN"):
        return data.decode("ascii", errors="replace")
    return base64.b64encode(data).decode("ascii")


class CaClient:
    """The CA at ``base_url`` (e.g. ``http://127.0.0.1:8470``)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        actor: str | None = None,
        retries: int = 2,
        retry_delay: float = 0.2,
        token: str | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise CaError(0, UNREACHABLE, f"憑證中心位址須為 http(s) 網址：{base_url!r}。", {"url": base_url})
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.actor = actor
        self.retries = retries
        self.retry_delay = retry_delay
        self.token = token
        self._http = HttpClient(self.base_url, timeout=timeout)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> CaClient:
        """The CA named by ``FXMLSIM_CA_URL``, with the admin token of the file
        ``FXMLSIM_CA_TOKEN_FILE`` names, if set (what ``fxmlsim up`` exports)."""
        env = os.environ if environ is None else environ
        url = env.get(ENV_URL)
        if not url:
            raise CaError(0, UNREACHABLE, f"未設定憑證中心位址 ({ENV_URL})。")
        if env.get(ENV_TOKEN_FILE) and "token" not in kwargs:
            kwargs["token"] = read_token(env[ENV_TOKEN_FILE])
        return cls(url, **kwargs)

    # -- transport ----------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        retry: bool = False,
    ) -> tuple[bytes, str]:
        data = raw
        if body is not None:
            payload = dict(body)
            if self.actor and "actor" not in payload:
                payload["actor"] = self.actor
            data = json_body(payload)
        headers: dict[str, str] = {}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.actor:
            headers["X-Actor"] = self.actor.encode("utf-8").decode("latin-1")
        try:
            answer = self._http.call(method, path, content=data, headers=headers,
                                     retry=Retry(self.retries, self.retry_delay) if retry else ONCE)
        except UnreachableError as exc:
            raise CaError(0, UNREACHABLE, "無法連線至憑證中心，請稍後再試。",
                          {"url": self.base_url, "reason": exc.reason}) from exc
        if answer.status >= 400:
            raise _error_from(answer.status, answer.content)
        return answer.content, answer.headers.get("content-type", "")

    def _json(self, method: str, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False) -> Any:
        content, _ = self._call(method, path, body, retry=retry)
        try:
            return json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _bad_response({"reason": str(exc)}) from exc

    def _member(self, method: str, path: str, key: str, body: Mapping[str, Any] | None = None, *,
                retry: bool = False) -> Any:
        """``key`` of the JSON object the CA answers; CA_BAD_RESPONSE if the answer has no such member."""
        answer = self._json(method, path, body, retry=retry)
        if not isinstance(answer, dict) or key not in answer:
            raise _bad_response({"missing": key, "path": path})
        return answer[key]

    def _record(self, method: str, path: str, body: Mapping[str, Any] | None = None, *, retry: bool = False
                ) -> CertificateRecord:
        answer = self._json(method, path, body, retry=retry)
        if not isinstance(answer, dict) or not isinstance(answer.get("certificate"), dict):
            raise _bad_response({"missing": "certificate", "path": path})
        chain = answer.get("chain")
        return CertificateRecord.from_json(answer["certificate"], chain if isinstance(chain, str) else None)

    # -- the service -----------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        answer = self._json("GET", Paths.INFO, retry=True)
        if not isinstance(answer, dict):
            raise _bad_response({"path": "/"})
        return answer

    def register_holder(
        self,
        holder_id: str,
        name: str,
        cn_suffix: str,
        branch_code: str | None = None,
        bank_name: str | None = None,
    ) -> dict[str, Any]:
        """用戶登錄: a holder, or one more CN suffix of a holder. Returns the holder."""
        body = {"holder_id": holder_id, "name": name, "cn_suffix": cn_suffix,
                "branch_code": branch_code, "bank_name": bank_name}
        holder: dict[str, Any] = self._member("POST", Paths.HOLDERS, "holder",
                                              {k: v for k, v in body.items() if v is not None})
        return holder

    def holder(self, holder_id: str) -> dict[str, Any]:
        holder: dict[str, Any] = self._member("GET", Paths.HOLDER.format(holder_id=_segment(holder_id)), "holder",
                                             retry=True)
        return holder

    def apply(self, request_id: str, holder_id: str, csr: Csr, *, not_after: datetime | None = None
              ) -> CertificateRecord:
        """申請: a certificate for the holder from a PKCS#10 request (retried safely by request id)."""
        body: dict[str, Any] = {"request_id": request_id, "holder_id": holder_id, "csr": _csr_text(csr)}
        if not_after is not None:
            body["not_after"] = not_after.isoformat()
        return self._record("POST", Paths.CERTIFICATES, body, retry=True)

    def renew(self, request_id: str, serial: str, csr: Csr, old_key_signature: bytes) -> CertificateRecord:
        """更新(展期): a new certificate for the new key, replacing ``serial`` (retried safely by
        request id). ``old_key_signature``: the old key's signature over
        :func:`fxml.ca.api.renewal_proof_message` — only the old key's holder may renew."""
        return self._record("POST", _path(Paths.RENEW, serial),
                            {"request_id": request_id, "csr": _csr_text(csr),
                             PROOF_FIELD: base64.b64encode(old_key_signature).decode("ascii")}, retry=True)

    def renewal_check(self, serial: str) -> RenewalCheck:
        """Whether ``serial`` may be renewed now (nothing is issued): what a renewal
        would give, or the CaError the CA would refuse it with (RENEWAL_WINDOW_NOT_OPEN,
        CERT_EXPIRED_APPLY_AT_BRANCH, CERT_SUSPENDED, CERT_REVOKED, ALREADY_RENEWED ...)."""
        answer = self._json("GET", _path(Paths.RENEWAL_CHECK, serial), retry=True)
        return RenewalCheck.from_json(answer)

    def authorize(self, holder_id: str, cn_suffix: str, *, expires_at: datetime | None = None
                  ) -> tuple[str, AuthorizationGrant]:
        """核發授權碼 (the RA: needs the admin token): a one-time code for one certificate of the
        holder's registered ``cn_suffix``, as people read it (``7K2M-QX9D-...``), and what it allows.
        Not retried: a lost answer's code is lost, and another one is asked for."""
        body: dict[str, Any] = {"holder_id": holder_id, "cn_suffix": cn_suffix}
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        answer = self._json("POST", Paths.AUTHORIZATIONS, body)
        if not isinstance(answer, dict) or not isinstance(answer.get(AUTHORIZATION_FIELD), str):
            raise _bad_response({"missing": AUTHORIZATION_FIELD})
        return answer[AUTHORIZATION_FIELD], AuthorizationGrant.from_json(answer.get("authorization"))

    def check_authorization(self, code: str, holder_id: str) -> AuthorizationGrant:
        """What ``code`` allows ``holder_id`` now (nothing is used), or the CaError :meth:`enroll`
        would raise (AUTHORIZATION_UNKNOWN, _MISMATCH, _USED, _EXPIRED)."""
        return AuthorizationGrant.from_json(self._member(
            "POST", Paths.AUTHORIZATION_CHECK, "authorization", {AUTHORIZATION_FIELD: code, "holder_id": holder_id},
            retry=True))

    def enroll(self, request_id: str, holder_id: str, code: str, csr: Csr) -> CertificateRecord:
        """申請 authorized by the 授權碼 ``code`` (no admin token): retried safely by request id, and the
        CA answers a retry with the certificate it issued (even once the code is used)."""
        return self._record("POST", Paths.ENROLLMENTS, {"request_id": request_id, "holder_id": holder_id,
                                                        AUTHORIZATION_FIELD: code, "csr": _csr_text(csr)}, retry=True)

    def download(self, serial: str) -> CertificateRecord:
        """下載: the certificate ``serial`` with its chain."""
        return self._record("GET", _path(Paths.CERTIFICATE, serial), retry=True)

    def query(self, holder_id: str | None = None, cn: str | None = None, serial: str | None = None
              ) -> list[CertificateRecord]:
        """查詢: certificates of a holder, a CN or a serial, in issuance order (every page)."""
        params = {k: v for k, v in (("holder_id", holder_id), ("cn", cn), ("serial", serial)) if v is not None}
        params["limit"] = str(MAX_PAGE)
        records: list[CertificateRecord] = []
        while True:
            answer = self._json("GET", f"{Paths.CERTIFICATES}?{urlencode(params)}", retry=True)
            found = answer.get("certificates") if isinstance(answer, dict) else None
            if not isinstance(found, list) or not all(isinstance(c, dict) for c in found):
                raise _bad_response({"reason": "certificates is not a list of objects"})
            records += [CertificateRecord.from_json(c) for c in found]
            cursor = answer.get("next")
            if not isinstance(cursor, str) or not found:
                return records
            params["after"] = cursor

    def proof_sheet(self, serial: str) -> dict[str, str]:
        """憑證證明單: the bank's labels and values for ``serial``."""
        proof: dict[str, str] = self._member("GET", _path(Paths.PROOF, serial), PROOF_KEY, retry=True)
        return proof

    def suspend(self, serial: str) -> CertificateRecord:
        """暫禁."""
        return self._record("POST", _path(Paths.SUSPEND, serial), {})

    def resume(self, serial: str) -> CertificateRecord:
        """解除暫禁."""
        return self._record("POST", _path(Paths.RESUME, serial), {})

    def revoke(self, serial: str, reason: str = "unspecified") -> CertificateRecord:
        """廢止, with an RFC 5280 reason name (keyCompromise, superseded ...)."""
        return self._record("POST", _path(Paths.REVOKE, serial), {"reason": reason})

    def audit(self, limit: int = 100) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self._member("GET", f"{Paths.AUDIT}?limit={int(limit)}", "audit", retry=True)
        return entries

    # -- relying parties --------------------------------------------------------------
    def crl(self) -> x509.CertificateRevocationList:
        content, _ = self._call("GET", Paths.CRL, retry=True)
        try:
            return x509.load_der_x509_crl(content)
        except ValueError as exc:
            raise _bad_response({"reason": f"not a DER CRL: {exc}"}) from exc

    def ocsp(self, request_der: bytes) -> bytes:
        """The DER OCSP response to a DER OCSP request."""
        content, _ = self._call("POST", Paths.OCSP, raw=request_der, content_type=OCSP_REQUEST_TYPE,
                                retry=True)
        return content

    def chain(self) -> list[x509.Certificate]:
        """The issuing CA's certificate, then the root's."""
        content, _ = self._call("GET", Paths.CHAIN, retry=True)
        try:
            return x509.load_pem_x509_certificates(content)
        except ValueError as exc:
            raise _bad_response({"reason": f"not PEM certificates: {exc}"}) from exc


def read_token(path: str | os.PathLike[str]) -> str:
    """The admin token in the file at ``path`` (CaError ADMIN_TOKEN_REQUIRED if it cannot be read)."""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaError(0, ErrorCode.ADMIN_TOKEN_REQUIRED, f"無法讀取憑證中心管理權杖檔 {path}。",
                      {"path": str(path), "reason": str(exc)}) from exc


def _bad_response(details: dict[str, Any]) -> CaError:
    """CA_BAD_RESPONSE: the answer is not what the CA's API sends (another program on the port?)."""
    return CaError(0, BAD_RESPONSE, "憑證中心回應格式錯誤。", details)


def _path(template: str, serial: str) -> str:
    return template.format(serial=_segment(serial))


def _segment(text: str) -> str:
    """One path segment, percent-encoded: a serial typed as '1A 2B' or 'AB?' reaches the
    CA as written (and gets its answer) instead of breaking the URL."""
    return quote(str(text), safe="")


def _error_from(status: int, content: bytes) -> CaError:
    try:
        error = json.loads(content.decode("utf-8"))["error"]
        return CaError(status, str(error["code"]), str(error["message"]), error.get("details") or {})
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
        return CaError(status, BAD_RESPONSE, f"憑證中心回應錯誤 (HTTP {status})。",
                       {"body": content[:200].decode("utf-8", "replace")})
