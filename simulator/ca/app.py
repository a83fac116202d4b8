"""The CA's HTTP API on the project's one web stack (Starlette on uvicorn).

JSON for people's operations, DER for relying parties; the paths, fields and
error codes are the wire contract of :mod:`fxml.ca.api` (docs/ca.md):

================================================  ==========================================
``GET  /``                                        service description
``POST /holders``                                 用戶登錄 (register a holder / CN suffix)
``GET  /holders/{holder_id}``                     a holder and its certificates
``POST /certificates``                            申請: issue from a PKCS#10 request
``GET  /certificates?holder_id=&cn=&serial=``     查詢 (paged: ``limit``, ``after``)
``GET  /certificates/{serial}``                   下載 (``.cer``/``.der``: DER, ``.pem``: PEM)
``GET  /certificates/{serial}/proof``             憑證證明單
``POST /certificates/{serial}/renew``             更新(展期)
``GET  /certificates/{serial}/renewal-check``     may it be renewed now? (the refusal renew would give)
``POST /certificates/{serial}/suspend``           暫禁
``POST /certificates/{serial}/resume``            解除暫禁
``POST /certificates/{serial}/revoke``            廢止
``GET  /crl/TWCA-Financial-User-CA.crl``          the CRL (DER)
``POST /ocsp``, ``GET /ocsp/{base64}``            OCSP (RFC 6960)
``GET  /ca/TWCA-Financial-User-CA.cer``           issuing CA certificate (DER); ``/ca/root.cer``
``GET  /ca/chain.pem``                            issuing CA then root (PEM)
``GET  /audit?limit=N``                           the audit log's last entries
``POST /authorizations``                          核發授權碼 (the RA): a one-time code for a holder's CN
``POST /authorizations/check``                    what a 授權碼 allows (nothing is used)
``POST /enrollments``                             申請 with a 授權碼 instead of the admin token
================================================  ==========================================

The app is made by the shared factory (:func:`fxml.web.app.create_app`): each
route a plain async endpoint behind the CA's :class:`~fxml.web.handlers.Door`
(its principal: the administrator, for the operations that need the token),
refusals answered by the web layer. Everything that signs, reads or writes the
registry runs in a worker thread (at most ``workers`` at once, :func:`work`);
the event loop only parses and answers. ``POST /ocsp`` answered from the
responder's cache skips Starlette's routing altogether (:class:`OcspFastPath`):
it is the one hot path relying parties hit.

Who may ask (:class:`Access`, docs/ca.md "Who may call the CA"): OCSP, the
CRL and the CA certificates are open to anyone, as a real CA's are. Everything
else answers only the CA's own host names (no DNS rebinding), no web page
(a request with an Origin the CA was not told to allow, or one the browser marks
as from another site or port), and, for a POST, only a JSON body. The operations
outside the renewal protocol (用戶登錄, 申請, 暫禁, 解除暫禁, 廢止) also need
the admin token of the CA's state folder (``Authorization: Bearer``); a
renewal is authorized by the old key's signature instead.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from fxml.ca.api import (
    AUTHORIZATION_FIELD,
    CERT_TYPE,
    CRL_TYPE,
    DONE,
    JSON_TYPE,
    MAX_BODY,
    MAX_PAGE,
    OCSP_RESPONSE_TYPE,
    PEM_TYPE,
    PROOF_FIELD,
    PROOF_KEY,
    CertificateJson,
    HolderJson,
    Operation,
    Paths,
    grouped_code,
)
from fxml.clock import TAIWAN, ClockError, parse_instant
from fxml.display import display_name
from fxml.web import guard, ids
from fxml.web.app import WebSettings, create_app
from fxml.web.body import BadJsonError, BodyTooLargeError, parse_json, read_body
from fxml.web.errors import error_response
from fxml.web.handlers import Door, Endpoint
from simulator.ca import errors
from simulator.ca.service import CertificateAuthority, Holder, IssuedCertificate

log = logging.getLogger(__name__)

NO_STORE = {"cache-control": "no-store"}


# -- who may ask -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """Who the service answers (see the module's description)."""

    #: Host header values of the service's own names (``127.0.0.1:<port>``, ...).
    hosts: frozenset[str]
    #: The admin token the operations outside the renewal protocol need.
    token: str
    #: Origins whose pages may call it (none by default: a CA has no web pages).
    origins: frozenset[str] = field(default=frozenset())

    @classmethod
    def for_url(cls, url: str, token: str, *, also: tuple[str, ...] = (), origins: tuple[str, ...] = ()) -> Access:
        """The access of a service listening at ``url`` (a loopback URL with a port),
        also answering to the hosts of the URLs in ``also`` (its base URL, say)."""
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        hosts = guard.loopback_hosts(port) | {guard.host_of(u) for u in (url, *also)}
        return cls(hosts=frozenset(hosts), token=token, origins=guard.origins_of(origins))


def _is_public(path: str) -> bool:
    """What relying parties fetch, open to anyone: OCSP, the CRL, the CA certificates."""
    return any(path == p or path.startswith(p + "/") for p in (Paths.OCSP, Paths.CRL_SHORT, "/ca"))


_GUARD_ERRORS: dict[guard.Refusal, type[errors.CaServiceError]] = {
    guard.Refusal.DUPLICATE_HEADER: errors.BadRequestError,
    guard.Refusal.HOST_NOT_ALLOWED: errors.HostNotAllowedError,
    guard.Refusal.ORIGIN_NOT_ALLOWED: errors.OriginNotAllowedError,
    guard.Refusal.CROSS_SITE_REFUSED: errors.CrossSiteRefusedError,
}


def refusal_of(access: Access, scope: Scope) -> errors.CaServiceError | None:
    """Why the CA refuses this request before any route sees it, or None."""
    if _is_public(scope["path"]):
        return None
    headers, twice = guard.request_headers(scope)
    refused = guard.check(guard.Policy(hosts=access.hosts, origins=access.origins, refuse_same_site=True),
                          headers, twice)
    if refused is not None:
        why, details = refused
        return _GUARD_ERRORS[why](**details)
    if scope["method"] == "POST" and not guard.is_json(headers.get("content-type", "")):
        return errors.UnsupportedMediaTypeError(content_type=headers.get("content-type", "")[:100])
    return None


class FrontDoor:
    """The CA's front door (ASGI, before the body is read): :func:`refusal_of`, answered and closed."""

    def __init__(self, app: ASGIApp, access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = refusal_of(self.access, scope) if scope["type"] == "http" else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        log.warning("refused %s %s: %s %s", scope["method"], scope["path"][:100], refused.code, refused.details)
        await _close(error_response(refused))(scope, receive, send)


# -- requests and answers ---------------------------------------------------------------------
#: Run a function of the service in a worker thread (signing, SQLite): the event loop never waits.
work = run_in_threadpool


@dataclass(frozen=True)
class Administrator:
    """The CA's principal for the operations outside the renewal protocol: whoever holds the
    admin token of its state folder."""


def bearer(request: Request) -> str:
    """The token of an ``Authorization: Bearer`` header ('' when there is none)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object ({} for no body); BadRequestError for anything else."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = parse_json(raw)
    except BadJsonError as exc:
        raise errors.BadRequestError("請求內容不是有效的 JSON。", reason=exc.reason) from None
    if not isinstance(data, dict):
        raise errors.BadRequestError("請求內容須為 JSON 物件。")
    return data


def actor_of(request: Request, body: dict[str, Any]) -> str:
    """Who acts, for the audit log: the body's "actor", the X-Actor header (UTF-8), or the client address."""
    actor = body.get("actor")
    if actor is not None and not isinstance(actor, str):
        raise errors.BadRequestError("actor 須為文字。", field="actor")
    header = request.headers.get("x-actor")
    if not actor and header:
        actor = header.encode("latin-1").decode("utf-8", "replace")
    return actor[:200] if actor else f"http:{request.client.host if request.client else '?'}"


def serial_param(request: Request) -> str:
    return str(request.path_params["serial"])


def query_of(request: Request) -> dict[str, str]:
    """The query's parameters: blank values count as absent; a repeated name keeps its last value."""
    return {k: v for k, v in request.query_params.multi_items() if v}


def json_answer(status: int, data: Any) -> Response:
    body = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8") + b"\n"
    return Response(body, status, headers=NO_STORE, media_type=JSON_TYPE)


def der_answer(data: bytes, media_type: str) -> Response:
    return Response(data, 200, headers=NO_STORE, media_type=media_type)


def _field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and required:
        raise errors.BadRequestError(f"缺少必要欄位 {name}。", field=name)
    return value


def _text_field(body: dict[str, Any], name: str) -> str:
    value = _field(body, name)
    if not isinstance(value, str):
        raise errors.BadRequestError(f"欄位 {name} 須為文字。", field=name)
    return value


def _csr_bytes(value: Any) -> bytes:
    """A PKCS#10 request given as PEM text or base64 DER."""
    if not isinstance(value, str) or not value.strip():
        raise errors.BadRequestError("缺少必要欄位 csr（PEM 或 base64 DER）。", field="csr")
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii", errors="replace")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.BadCsrError(reason="csr is neither PEM nor base64") from exc


def _holder_json(holder: Holder) -> HolderJson:
    return {
        "holder_id": holder.holder_id,
        "name": holder.name,
        "branch_code": holder.branch_code,
        "bank_name": holder.bank_name,
        "cn_suffixes": list(holder.cn_suffixes),
        "registered_at": holder.registered_at.astimezone(TAIWAN).isoformat(),
    }


def _record(issued: IssuedCertificate) -> CertificateJson:
    return issued.to_json()  # type: ignore[return-value]


# -- URL pieces ----------------------------------------------------------------------------------
class SerialConvertor(Convertor[str]):
    """One path segment without a dot (the service judges whether it is a serial)."""

    regex = r"[^/.]{1,128}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class FormatConvertor(SerialConvertor):
    regex = "cer|der|pem"


register_url_convertor("ca_serial", SerialConvertor())
register_url_convertor("ca_format", FormatConvertor())


# -- the API ---------------------------------------------------------------------------------------
class CaApi:
    """The routes of the HTTP API over one :class:`CertificateAuthority`; the
    operations outside the renewal protocol need ``token``."""

    def __init__(self, ca: CertificateAuthority, token: str = ""):
        self.ca = ca
        self.token = token
        self.door: Door[Administrator] = Door(identify=self._administrator, stranger=self._no_token)

    def routes(self) -> list[Route]:
        s = "{serial:ca_serial}"
        get, post = ["GET"], ["POST"]
        table: list[tuple[str, list[str], Endpoint]] = [
            (Paths.INFO, get, self.info),
            (Paths.HOLDERS, post, self.register_holder),
            ("/holders/{holder_id}", get, self.holder),
            (Paths.CERTIFICATES, post, self.apply),
            (Paths.CERTIFICATES, get, self.query),
            (f"/certificates/{s}.{{fmt:ca_format}}", get, self.download_file),
            (f"/certificates/{s}", get, self.download),
            (f"/certificates/{s}/proof", get, self.proof),
            (f"/certificates/{s}/renew", post, self.renew),
            (f"/certificates/{s}/renewal-check", get, self.renewal_check),
            (f"/certificates/{s}/suspend", post, self.suspend),
            (f"/certificates/{s}/resume", post, self.resume),
            (f"/certificates/{s}/revoke", post, self.revoke),
            (Paths.CRL_SHORT, get, self.crl),
            ("/crl/{name:str}", get, self.crl_named),
            (Paths.OCSP, post, self.ocsp_post),
            ("/ocsp/{encoded:path}", get, self.ocsp_get),
            (Paths.ROOT_CERT, get, self.root_cert),
            ("/ca/{name:str}", get, self.ca_file),
            (Paths.AUDIT, get, self.audit),
            (Paths.AUTHORIZATIONS, post, self.authorize),
            (Paths.AUTHORIZATION_CHECK, post, self.check_authorization),
            (Paths.ENROLLMENTS, post, self.enroll),
        ]
        admin = {self.register_holder, self.apply, self.suspend, self.resume, self.revoke, self.authorize}
        return [Route(path, self.door.json(handler, anyone=handler not in admin), methods=methods)
                for path, methods, handler in table]

    def _administrator(self, request: Request, _session: object) -> Administrator | None:
        """The administrator, for a request with the admin token (compared in constant time)."""
        if self.token and hmac.compare_digest(bearer(request).encode(), self.token.encode()):
            return Administrator()
        return None

    def _no_token(self, request: Request) -> errors.CaServiceError:
        endpoint = request.scope.get("endpoint")
        log.warning("refused %s %s without the admin token (client %s)", request.method,
                    getattr(endpoint, "__name__", request.url.path), request.client.host if request.client else "?")
        return errors.AdminTokenRequiredError()

    # -- the service --------------------------------------------------------------
    async def info(self, request: Request) -> Response:
        return json_answer(200, await work(self._about))

    def _about(self) -> dict[str, Any]:
        urls = self.ca.urls
        return {
            "service": "模擬 TWCA Financial User CA（fxmlsim 模擬環境，非正式憑證中心）",
            "simulation": True,
            "issuer": display_name(self.ca.issuer_certificate.subject),
            "root": display_name(self.ca.root_certificate.subject),
            "base_url": urls.base_url,
            "crl": urls.crl,
            "ocsp": urls.ocsp,
            "ca_issuers": urls.ca_issuers,
            "now": self.ca.now().astimezone(TAIWAN).isoformat(),
            "clock": self.ca.clock.describe(),
            "renewal_window_days": self.ca.config.renewal_window_days,
        }

    async def register_holder(self, request: Request) -> Response:
        body = await read_json(request)
        kwargs = {k: body[k] for k in ("branch_code", "bank_name") if body.get(k) is not None}
        holder = await work(functools.partial(
            self.ca.register_holder, _field(body, "holder_id"), _field(body, "name"), _field(body, "cn_suffix"),
            actor=actor_of(request, body), **kwargs))
        return json_answer(201, {
            "result": DONE[Operation.REGISTER], "operation": Operation.REGISTER.value, "holder": _holder_json(holder),
        })

    async def holder(self, request: Request) -> Response:
        def look_up() -> tuple[Holder, list[IssuedCertificate]]:
            holder = self.ca.holder(str(request.path_params["holder_id"]))
            return holder, self.ca.query(holder_id=holder.holder_id)

        holder, certs = await work(look_up)
        return json_answer(200, {"holder": _holder_json(holder), "certificates": [_record(c) for c in certs]})

    async def apply(self, request: Request) -> Response:
        body = await read_json(request)
        not_after = body.get("not_after")
        if not_after is not None:
            try:
                not_after = parse_instant(str(not_after))
            except ClockError as exc:
                raise errors.BadValidityError(reason=str(exc)) from exc
        issued = await work(functools.partial(
            self.ca.apply, _field(body, "request_id"), _field(body, "holder_id"), _csr_bytes(body.get("csr")),
            actor=actor_of(request, body), not_after=not_after))
        return await self._issued(Operation.APPLY, issued)

    async def authorize(self, request: Request) -> Response:
        """核發授權碼 (admin token): the code, once, with what it allows."""
        body = await read_json(request)
        expires = body.get("expires_at")
        try:
            expires_at = parse_instant(str(expires)) if expires is not None else None
        except ClockError as exc:
            raise errors.BadRequestError("授權碼有效期限格式不正確。", field="expires_at", reason=str(exc)) from exc
        code, grant = await work(functools.partial(
            self.ca.authorize, _field(body, "holder_id"), _field(body, "cn_suffix"), actor=actor_of(request, body),
            expires_at=expires_at))
        return json_answer(201, {"result": DONE[Operation.AUTHORIZE], "operation": Operation.AUTHORIZE.value,
                                 AUTHORIZATION_FIELD: grouped_code(code), "authorization": grant.to_json()})

    async def check_authorization(self, request: Request) -> Response:
        body = await read_json(request)
        grant = await work(self.ca.check_authorization, _text_field(body, AUTHORIZATION_FIELD),
                           _text_field(body, "holder_id"))
        return json_answer(200, {"usable": True, "authorization": grant.to_json()})

    async def enroll(self, request: Request) -> Response:
        """申請 authorized by the 授權碼 in the body (no admin token)."""
        body = await read_json(request)
        issued = await work(functools.partial(
            self.ca.enroll, _field(body, "request_id"), _field(body, "holder_id"),
            _text_field(body, AUTHORIZATION_FIELD), _csr_bytes(body.get("csr")), actor=actor_of(request, body)))
        return await self._issued(Operation.ENROLL, issued)

    async def renew(self, request: Request) -> Response:
        body = await read_json(request)
        proof = body.get(PROOF_FIELD)
        try:
            signature = base64.b64decode(proof, validate=True) if isinstance(proof, str) and proof else None
        except (binascii.Error, ValueError):
            signature = b""  # refused as not verifying
        issued = await work(functools.partial(
            self.ca.renew, _field(body, "request_id"), serial_param(request), _csr_bytes(body.get("csr")),
            actor=actor_of(request, body), old_key_signature=signature, require_proof=True))
        return await self._issued(Operation.RENEW, issued)

    async def renewal_check(self, request: Request) -> Response:
        return json_answer(200, {"renewable": True, **await work(self.ca.renewal_check, serial_param(request))})

    async def _issued(self, operation: Operation, issued: IssuedCertificate) -> Response:
        return json_answer(200 if issued.replayed else 201, {
            "result": DONE[operation],
            "operation": operation.value,
            "certificate": _record(issued),
            "chain": (await work(self.ca.chain_pem)).decode("ascii"),
        })

    async def query(self, request: Request) -> Response:
        query = query_of(request)
        unknown = sorted(set(query) - {"holder_id", "cn", "serial", "limit", "after"})
        if unknown:
            raise errors.BadRequestError(f"不支援的查詢條件 {unknown[0]}。", field=unknown[0])
        limit = _int_param(query, "limit", MAX_PAGE, 1, MAX_PAGE)
        found = await work(functools.partial(
            self.ca.query, holder_id=query.get("holder_id"), cn=query.get("cn"), serial=query.get("serial"),
            after=query.get("after"), limit=limit + 1))
        page, more = found[:limit], len(found) > limit
        answer: dict[str, Any] = {
            "operation": "查詢", "count": len(page), "certificates": [_record(c) for c in page],
        }
        if more:
            answer["next"] = page[-1].serial
        return json_answer(200, answer)

    async def download(self, request: Request) -> Response:
        issued = await work(functools.partial(self.ca.download, serial_param(request), actor=actor_of(request, {})))
        return json_answer(200, {
            "result": DONE[Operation.DOWNLOAD],
            "operation": Operation.DOWNLOAD.value,
            "certificate": _record(issued),
            "chain": (await work(self.ca.chain_pem)).decode("ascii"),
        })

    async def download_file(self, request: Request) -> Response:
        issued = await work(functools.partial(self.ca.download, serial_param(request), actor=actor_of(request, {})))
        if request.path_params["fmt"] == "pem":
            return der_answer(issued.pem.encode("ascii"), PEM_TYPE)
        return der_answer(issued.der, CERT_TYPE)

    async def proof(self, request: Request) -> Response:
        return json_answer(200, {PROOF_KEY: await work(self.ca.proof_sheet, serial_param(request))})

    async def suspend(self, request: Request) -> Response:
        body = await read_json(request)
        changed = await work(functools.partial(self.ca.suspend, serial_param(request), actor=actor_of(request, body)))
        return _changed(Operation.SUSPEND, changed)

    async def resume(self, request: Request) -> Response:
        body = await read_json(request)
        changed = await work(functools.partial(self.ca.resume, serial_param(request), actor=actor_of(request, body)))
        return _changed(Operation.RESUME, changed)

    async def revoke(self, request: Request) -> Response:
        body = await read_json(request)
        reason = str(body.get("reason", "unspecified"))
        revoked = await work(functools.partial(self.ca.revoke, serial_param(request), reason,
                                               actor=actor_of(request, body)))
        return _changed(Operation.REVOKE, revoked)

    # -- relying parties -------------------------------------------------------------
    async def crl(self, request: Request) -> Response:
        return der_answer(await work(self.ca.crl_der), CRL_TYPE)

    async def crl_named(self, request: Request) -> Response:
        if not str(request.path_params["name"]).endswith(".crl"):
            raise errors.PathNotFoundError(path=f"/crl/{request.path_params['name']}")
        return await self.crl(request)

    async def ocsp_post(self, request: Request) -> Response:
        return der_answer(await work(self.ca.ocsp_response, await request.body()), OCSP_RESPONSE_TYPE)

    async def ocsp_get(self, request: Request) -> Response:
        # RFC 6960 appendix A.1: the DER request, base64, then URL-encoded.
        try:
            der = base64.b64decode(unquote(str(request.path_params["encoded"])), validate=True)
        except (binascii.Error, ValueError):
            der = b""  # answered malformedRequest by the responder
        return der_answer(await work(self.ca.ocsp_response, der), OCSP_RESPONSE_TYPE)

    async def root_cert(self, request: Request) -> Response:
        return der_answer(await work(self.ca.root_certificate.public_bytes, serialization.Encoding.DER), CERT_TYPE)

    async def ca_file(self, request: Request) -> Response:
        name = str(request.path_params["name"])
        if name == Paths.CHAIN.rsplit("/", 1)[1]:
            return der_answer(await work(self.ca.chain_pem), PEM_TYPE)
        if name.endswith(".cer"):
            return der_answer(await work(self.ca.issuer_certificate.public_bytes, serialization.Encoding.DER),
                              CERT_TYPE)
        raise errors.PathNotFoundError(path=f"/ca/{name}")

    async def audit(self, request: Request) -> Response:
        limit = _int_param(query_of(request), "limit", 100, 1, 10_000)
        entries = await work(self.ca.audit_log, limit)
        return json_answer(200, {"audit": [
            {"id": e.id, "at": e.at.astimezone(TAIWAN).isoformat(), "actor": e.actor, "action": e.action,
             "target": e.target, "result": e.result, "detail": e.detail}
            for e in entries
        ]})


def _changed(operation: Operation, issued: IssuedCertificate) -> Response:
    return json_answer(200, {
        "result": DONE[operation], "operation": operation.value, "certificate": _record(issued),
    })


def _int_param(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    value = ids.number(text)  # ASCII digits only: int() would read full-width ones
    if value is None:
        raise errors.BadRequestError(f"{name} 須為整數。", field=name)
    return max(low, min(value, high))


def _close(response: Response) -> Response:
    """An answer after which the connection closes (the rest of the body is never read)."""
    response.headers["connection"] = "close"
    return response


def _http_error(request: Request, status: int) -> errors.CaServiceError:
    """Starlette's refusals and a bug's 500, in the CA's words."""
    if status == 404:
        return errors.PathNotFoundError(path=request.url.path)
    if status == 405:
        return errors.MethodNotAllowedError(method=request.method)
    if status == 500:
        return errors.InternalError()
    return errors.BadRequestError()


class OcspFastPath:
    """``POST /ocsp`` answered from the responder's cache, before Starlette routes it (the hot path
    relying parties hit); an answer to sign goes to a worker. Under the app's body limit."""

    def __init__(self, app: ASGIApp, ca: CertificateAuthority):
        self.app = app
        self.ca = ca

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != Paths.OCSP:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive)
        except BodyTooLargeError as exc:
            await _close(error_response(exc))(scope, receive, send)
            return
        except ConnectionResetError:
            return
        try:
            der = self.ca.ocsp_cached(body)
        except Exception:
            log.exception("the OCSP cache failed; answering from a worker")
            der = None
        if der is None:
            der = await run_in_threadpool(self._signed, body)
            if der is None:
                await error_response(errors.InternalError())(scope, receive, send)
                return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", OCSP_RESPONSE_TYPE.encode()),
            (b"content-length", str(len(der)).encode()),
            (b"cache-control", b"no-store"),
        ]})
        await send({"type": "http.response.body", "body": der})

    def _signed(self, body: bytes) -> bytes | None:
        try:
            return self.ca.ocsp_response(body)
        except Exception:
            log.exception("POST /ocsp failed")
            return None


class CaApp:
    """The ASGI application (:attr:`starlette`, made by the shared factory): the front door (Host,
    Origin, JSON only), the body limit, the cached-OCSP fast path, then the routes."""

    def __init__(self, ca: CertificateAuthority, access: Access, *, workers: int = 8):
        self.ca = ca
        self.access = access
        self.workers = workers
        self.api = CaApi(ca, access.token)
        self.starlette = create_app(
            self.api.routes(),
            settings=WebSettings(max_body=MAX_BODY, pages=False, static=False, http_errors=_http_error),
            lifespan=self._lifespan,
            front=[Middleware(FrontDoor, access=access)],
            inner=[Middleware(OcspFastPath, ca=ca)],
        )

    @asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        # Signing and SQLite writes run in at most this many threads at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.workers
        yield

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.starlette(scope, receive, send)
