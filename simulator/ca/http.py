"""The CA's HTTP API: JSON for people's operations, DER for relying parties.

Why asyncio and not ``http.server.ThreadingHTTPServer``: the OCSP goal (p50
under 5 ms with 50 concurrent clients on a 2-core machine) needs several
thousand answers a second. ThreadingHTTPServer spends most of its time
parsing headers and switching threads (measured: ~6,500 trivial answers/s,
p99 48 ms); an event loop with a small HTTP/1.1 parser serves cached OCSP
answers inline at several times that, and hands everything that signs or
writes (issuance, renewal, status changes, fresh OCSP and CRL signatures)
to a pool of worker threads. Only the standard library is used.

The parser is deliberately strict and small: HTTP/1.0 and 1.1, keep-alive,
``Content-Length`` bodies up to 1 MiB (``Expect: 100-continue`` honoured),
no chunked request bodies (answered 411). Requests on one connection are
answered in order.

Endpoints (JSON unless noted; see docs/ca.md):

================================================  ==========================================
``GET  /``                                        service description
``POST /holders``                                 用戶登錄 (register a holder / CN suffix)
``GET  /holders/{holder_id}``                     a holder and its certificates
``POST /certificates``                            申請: issue from a PKCS#10 request
``GET  /certificates?holder_id=&cn=&serial=``     查詢
``GET  /certificates/{serial}``                   下載 (``.cer``: DER, ``.pem``: PEM)
``GET  /certificates/{serial}/proof``             憑證證明單
``POST /certificates/{serial}/renew``             更新(展期)
``POST /certificates/{serial}/suspend``           暫禁
``POST /certificates/{serial}/resume``            解除暫禁
``POST /certificates/{serial}/revoke``            廢止
``GET  /crl/TWCA-Financial-User-CA.crl``          the CRL (DER)
``POST /ocsp``, ``GET /ocsp/{base64}``            OCSP (RFC 6960)
``GET  /ca/TWCA-Financial-User-CA.cer``           issuing CA certificate (DER); ``/ca/root.cer``
``GET  /ca/chain.pem``                            issuing CA then root (PEM)
``GET  /audit?limit=N``                           the audit log's last entries
================================================  ==========================================
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import re
import signal
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

from cryptography.hazmat.primitives import serialization

from fxml.clock import TAIWAN, ClockError, parse_instant
from fxml.display import display_name
from simulator.ca import errors
from simulator.ca.profile import ServiceUrls
from simulator.ca.service import CertificateAuthority, Holder, IssuedCertificate, Operation

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
IDLE_SECONDS = 60.0
_CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")

JSON_TYPE = "application/json; charset=utf-8"
CERT_TYPE = "application/pkix-cert"
CRL_TYPE = "application/pkix-crl"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
PEM_TYPE = "application/x-pem-file"

#: What the JSON answer says when an operation succeeds, in the bank's words.
DONE = {
    Operation.REGISTER: "用戶登錄成功",
    Operation.APPLY: "憑證申請成功",
    Operation.DOWNLOAD: "憑證下載成功",
    Operation.RENEW: "憑證更新成功",
    Operation.SUSPEND: "憑證暫禁成功",
    Operation.RESUME: "憑證解除暫禁成功",
    Operation.REVOKE: "憑證廢止成功",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client: str

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            # ValueError: bad UTF-8, bad JSON, an integer over 4300 digits;
            # RecursionError: arrays or objects nested thousands deep.
            raise errors.BadRequestError("請求內容不是有效的 JSON。", reason=str(exc)[:200]) from None
        if not isinstance(data, dict):
            raise errors.BadRequestError("請求內容須為 JSON 物件。")
        return data

    def actor(self, body: dict[str, Any]) -> str:
        """Who acts, for the audit log: the body's "actor", the X-Actor header (UTF-8), or the client address."""
        actor = body.get("actor")
        if not actor and self.headers.get("x-actor"):
            actor = self.headers["x-actor"].encode("latin-1").decode("utf-8", "replace")
        return str(actor) if actor else f"http:{self.client}"


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any) -> Response:
        return cls(status, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8") + b"\n")

    @classmethod
    def error(cls, err: errors.CaError) -> Response:
        return cls.json(err.status, {"error": err.to_json()})


Handler = Callable[..., Response]


def _field(body: dict[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and required:
        raise errors.BadRequestError(f"缺少必要欄位 {name}。", field=name)
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


class CaApi:
    """The routes of the HTTP API over one :class:`CertificateAuthority`."""

    def __init__(self, ca: CertificateAuthority):
        self.ca = ca
        # Any path segment: the service itself refuses a serial that is not
        # hexadecimal, with its own code and message.
        s = r"(?P<serial>[^/.]{1,128})"
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"/"), self.info),
            ("POST", re.compile(r"/holders"), self.register_holder),
            ("GET", re.compile(r"/holders/(?P<holder_id>[^/]+)"), self.holder),
            ("POST", re.compile(r"/certificates"), self.apply),
            ("GET", re.compile(r"/certificates"), self.query),
            ("GET", re.compile(rf"/certificates/{s}\.(?P<fmt>cer|der|pem)"), self.download_file),
            ("GET", re.compile(rf"/certificates/{s}"), self.download),
            ("GET", re.compile(rf"/certificates/{s}/proof"), self.proof),
            ("POST", re.compile(rf"/certificates/{s}/renew"), self.renew),
            ("POST", re.compile(rf"/certificates/{s}/suspend"), self.suspend),
            ("POST", re.compile(rf"/certificates/{s}/resume"), self.resume),
            ("POST", re.compile(rf"/certificates/{s}/revoke"), self.revoke),
            ("GET", re.compile(r"/crl(?:/[^/]+\.crl)?"), self.crl),
            ("POST", re.compile(r"/ocsp/?"), self.ocsp_post),
            ("GET", re.compile(r"/ocsp/(?P<encoded>.+)"), self.ocsp_get),
            ("GET", re.compile(r"/ca/root\.cer"), self.root_cert),
            ("GET", re.compile(r"/ca/[^/]+\.cer"), self.issuer_cert),
            ("GET", re.compile(r"/ca/chain\.pem"), self.chain),
            ("GET", re.compile(r"/audit"), self.audit),
        ]

    # -- dispatch ---------------------------------------------------------------
    def _route(self, request: Request) -> tuple[Handler, dict[str, str]]:
        method = "GET" if request.method == "HEAD" else request.method
        allowed = False
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                if route_method == method:
                    return handler, match.groupdict()
                allowed = True
        raise errors.MethodNotAllowedError(method=request.method) if allowed else errors.NotFoundError(path=request.path)

    def handle(self, request: Request) -> Response:
        """Answer a request (blocking: signs, reads and writes the registry)."""
        try:
            handler, params = self._route(request)
            return handler(request, **params)
        except errors.CaError as err:
            return Response.error(err)
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return Response.error(errors.InternalError())

    def fast(self, request: Request) -> Response | None:
        """An answer that needs no signature and no write (cached OCSP), or None."""
        if request.method == "POST" and request.path.rstrip("/") == ServiceUrls.OCSP_PATH:
            der = self.ca.ocsp_cached(request.body)
            if der is not None:
                return Response(200, der, OCSP_RESPONSE_TYPE)
        return None

    # -- the service --------------------------------------------------------------
    def info(self, request: Request) -> Response:
        urls = self.ca.urls
        return Response.json(200, {
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
        })

    def register_holder(self, request: Request) -> Response:
        body = request.json()
        kwargs = {k: body[k] for k in ("branch_code", "bank_name") if body.get(k) is not None}
        holder = self.ca.register_holder(
            _field(body, "holder_id"), _field(body, "name"), _field(body, "cn_suffix"),
            actor=request.actor(body), **kwargs,
        )
        return Response.json(201, {
            "result": DONE[Operation.REGISTER], "operation": Operation.REGISTER.value, "holder": _holder_json(holder),
        })

    def holder(self, request: Request, holder_id: str) -> Response:
        holder = self.ca.holder(unquote(holder_id))
        certs = self.ca.query(holder_id=holder.holder_id)
        return Response.json(200, {"holder": _holder_json(holder), "certificates": [c.to_json() for c in certs]})

    def apply(self, request: Request) -> Response:
        body = request.json()
        not_after = body.get("not_after")
        if not_after is not None:
            try:
                not_after = parse_instant(str(not_after))
            except ClockError as exc:
                raise errors.BadValidityError(reason=str(exc)) from exc
        issued = self.ca.apply(
            _field(body, "request_id"), _field(body, "holder_id"), _csr_bytes(body.get("csr")),
            actor=request.actor(body), not_after=not_after,
        )
        return self._issued(Operation.APPLY, issued)

    def renew(self, request: Request, serial: str) -> Response:
        body = request.json()
        issued = self.ca.renew(
            _field(body, "request_id"), serial, _csr_bytes(body.get("csr")), actor=request.actor(body)
        )
        return self._issued(Operation.RENEW, issued)

    def _issued(self, operation: Operation, issued: IssuedCertificate) -> Response:
        return Response.json(200 if issued.replayed else 201, {
            "result": DONE[operation],
            "operation": operation.value,
            "certificate": issued.to_json(),
            "chain": self.ca.chain_pem().decode("ascii"),
        })

    def query(self, request: Request) -> Response:
        unknown = sorted(set(request.query) - {"holder_id", "cn", "serial"})
        if unknown:
            raise errors.BadRequestError(f"不支援的查詢條件 {unknown[0]}。", field=unknown[0])
        found = self.ca.query(
            holder_id=request.query.get("holder_id"), cn=request.query.get("cn"), serial=request.query.get("serial")
        )
        return Response.json(200, {
            "operation": "查詢", "count": len(found), "certificates": [c.to_json() for c in found],
        })

    def download(self, request: Request, serial: str) -> Response:
        issued = self.ca.download(serial, actor=request.actor({}))
        return Response.json(200, {
            "result": DONE[Operation.DOWNLOAD],
            "operation": Operation.DOWNLOAD.value,
            "certificate": issued.to_json(),
            "chain": self.ca.chain_pem().decode("ascii"),
        })

    def download_file(self, request: Request, serial: str, fmt: str) -> Response:
        issued = self.ca.download(serial, actor=request.actor({}))
        if fmt == "pem":
            return Response(200, issued.pem.encode("ascii"), PEM_TYPE)
        return Response(200, issued.der, CERT_TYPE)

    def proof(self, request: Request, serial: str) -> Response:
        return Response.json(200, {"憑證證明單": self.ca.proof_sheet(serial)})

    def suspend(self, request: Request, serial: str) -> Response:
        body = request.json()
        return self._changed(Operation.SUSPEND, self.ca.suspend(serial, actor=request.actor(body)))

    def resume(self, request: Request, serial: str) -> Response:
        body = request.json()
        return self._changed(Operation.RESUME, self.ca.resume(serial, actor=request.actor(body)))

    def revoke(self, request: Request, serial: str) -> Response:
        body = request.json()
        reason = body.get("reason", "unspecified")
        return self._changed(Operation.REVOKE, self.ca.revoke(serial, str(reason), actor=request.actor(body)))

    def _changed(self, operation: Operation, issued: IssuedCertificate) -> Response:
        return Response.json(200, {
            "result": DONE[operation], "operation": operation.value, "certificate": issued.to_json(),
        })

    # -- relying parties -------------------------------------------------------------
    def crl(self, request: Request) -> Response:
        return Response(200, self.ca.crl_der(), CRL_TYPE)

    def ocsp_post(self, request: Request) -> Response:
        return Response(200, self.ca.ocsp_response(request.body), OCSP_RESPONSE_TYPE)

    def ocsp_get(self, request: Request, encoded: str) -> Response:
        # RFC 6960 appendix A.1: the DER request, base64, then URL-encoded.
        try:
            der = base64.b64decode(unquote(encoded), validate=True)
        except (binascii.Error, ValueError):
            der = b""  # answered malformedRequest by the responder
        return Response(200, self.ca.ocsp_response(der), OCSP_RESPONSE_TYPE)

    def root_cert(self, request: Request) -> Response:
        return Response(200, self.ca.root_certificate.public_bytes(serialization.Encoding.DER), CERT_TYPE)

    def issuer_cert(self, request: Request) -> Response:
        return Response(200, self.ca.issuer_certificate.public_bytes(serialization.Encoding.DER), CERT_TYPE)

    def chain(self, request: Request) -> Response:
        return Response(200, self.ca.chain_pem(), PEM_TYPE)

    def audit(self, request: Request) -> Response:
        try:
            limit = int(request.query.get("limit", "100"))
        except ValueError:
            raise errors.BadRequestError("limit 須為整數。", field="limit") from None
        entries = self.ca.audit_log(max(1, min(limit, 10_000)))
        return Response.json(200, {"audit": [
            {"id": e.id, "at": e.at.astimezone(TAIWAN).isoformat(), "actor": e.actor, "action": e.action, "target": e.target,
             "result": e.result, "detail": e.detail}
            for e in entries
        ]})


def _holder_json(holder: Holder) -> dict[str, Any]:
    return {
        "holder_id": holder.holder_id,
        "name": holder.name,
        "branch_code": holder.branch_code,
        "bank_name": holder.bank_name,
        "cn_suffixes": list(holder.cn_suffixes),
        "registered_at": holder.registered_at.astimezone(TAIWAN).isoformat(),
    }


# -- HTTP/1.1 over asyncio ------------------------------------------------------------------
class _HttpError(Exception):
    """A request that cannot be parsed: answer ``error`` and close."""

    def __init__(self, error: errors.CaError):
        self.error = error


class _LengthRequiredError(errors.BadRequestError):
    code = "LENGTH_REQUIRED"
    status = 411
    default_message = "請求須帶 Content-Length（不支援 chunked 傳輸）。"


class _Connection(asyncio.Protocol):
    def __init__(self, server: CaHttpServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.busy = False
        self.continued = False
        self.eof = False
        self.client = "?"
        self.idle: asyncio.TimerHandle | None = None

    # -- asyncio callbacks ------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.client = str(peer[0]) if peer else "?"
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self.idle:
            self.idle.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._arm_idle()
        if self.busy:
            if len(self.buffer) > MAX_HEAD + MAX_BODY and self.transport:
                self.transport.pause_reading()
            return
        self._process()

    def eof_received(self) -> bool:
        # A client that half-closes after its request (HTTP/1.0 tools, 'nc -N')
        # still gets its answers; the connection closes once they are sent.
        self.eof = True
        if not self.busy and self.transport:
            self.transport.close()  # everything complete was answered; the rest never will be
        return True

    # -- requests ---------------------------------------------------------------
    def _process(self) -> None:
        while not self.busy and self.transport and not self.transport.is_closing():
            try:
                parsed = self._parse()
            except _HttpError as exc:
                self._send(Response.error(exc.error), keep_alive=False)
                return
            except Exception:
                log.exception("cannot parse a request from %s", self.client)
                self._send(Response.error(errors.BadRequestError()), keep_alive=False)
                return
            if parsed is None:
                if self.eof:
                    self.transport.close()
                return
            request, keep_alive = parsed
            try:
                fast = self.server.api.fast(request)
            except Exception:
                log.exception("fast path failed; answering from a worker")
                fast = None
            if fast is not None:
                self._send(fast, keep_alive, head=request.method == "HEAD")
                continue
            self.busy = True
            future = self.server.loop.run_in_executor(self.server.pool, self.server.api.handle, request)
            future.add_done_callback(lambda f, r=request, k=keep_alive: self._answered(f, r, k))

    def _answered(self, future: asyncio.Future[Response], request: Request, keep_alive: bool) -> None:
        self.busy = False
        try:
            response = future.result()
        except Exception:
            log.exception("worker failed")
            response = Response.error(errors.InternalError())
        if self.transport is None or self.transport.is_closing():
            return
        self._send(response, keep_alive, head=request.method == "HEAD")
        self.transport.resume_reading()
        self._process()

    def _parse(self) -> tuple[Request, bool] | None:
        end = self.buffer.find(b"\r\n\r\n", 0, MAX_HEAD + 4)
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise _HttpError(errors.BadRequestError("請求標頭過大。"))
            return None
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1].startswith("/"):
            raise _HttpError(errors.BadRequestError("HTTP 請求行格式錯誤。"))
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _HttpError(errors.BadRequestError("只支援 HTTP/1.0 與 HTTP/1.1。"))
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise _HttpError(errors.BadRequestError("HTTP 標頭格式錯誤。"))
            key = name.lower()
            value = value.strip()
            if key in headers and key == "content-length" and headers[key] != value:
                raise _HttpError(errors.BadRequestError("Content-Length 不一致。"))
            headers[key] = value
        if "transfer-encoding" in headers:
            raise _HttpError(_LengthRequiredError())
        length_text = headers.get("content-length", "0")
        if not _CONTENT_LENGTH.fullmatch(length_text):  # ASCII digits only (str.isdigit takes '²')
            raise _HttpError(errors.BadRequestError("Content-Length 格式錯誤。"))
        length = int(length_text)
        if length > MAX_BODY:
            raise _HttpError(errors.PayloadTooLargeError(limit=MAX_BODY))
        if len(self.buffer) < end + 4 + length:
            if headers.get("expect", "").lower() == "100-continue" and not self.continued and self.transport:
                self.continued = True
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            return None
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        self.continued = False
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        # The origin form (RFC 9112 3.2.1): a path and a query. Not urlsplit,
        # which takes '//x/...' for an authority and refuses '//[x'.
        path, _, query_text = target.partition("#")[0].partition("?")
        query = {k: v[-1] for k, v in parse_qs(query_text, keep_blank_values=False).items()}
        request = Request(method.upper(), unquote(path), query, headers, body, self.client)
        return request, keep_alive

    def _send(self, response: Response, keep_alive: bool, *, head: bool = False) -> None:
        assert self.transport is not None
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [
            f"HTTP/1.1 {response.status} {reason}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-store",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers]
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.transport.write(head_bytes if head else head_bytes + response.body)
        if not keep_alive:
            self.transport.close()

    def _arm_idle(self) -> None:
        if self.idle:
            self.idle.cancel()
        self.idle = self.server.loop.call_later(IDLE_SECONDS, self._idle_timeout)

    def _idle_timeout(self) -> None:
        if not self.busy and self.transport:
            self.transport.close()


def check_loopback(host: str) -> str:
    """``host`` if it is a loopback address ('localhost' becomes 127.0.0.1); ValueError otherwise."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"refusing to listen on {host!r}: give a loopback IP address (127.0.0.1)") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to listen on {host}: the CA service binds loopback addresses only (127.0.0.1)")
    return host


class CaHttpServer:
    """The HTTP API on a loopback address, in the running event loop."""

    def __init__(self, ca: CertificateAuthority, host: str = "127.0.0.1", port: int = 0, *, workers: int = 8):
        self.api = CaApi(ca)
        self.host = check_loopback(host)
        self.port = port
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ca-http")
        self.connections: set[_Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self.loop: asyncio.AbstractEventLoop

    async def start(self) -> str:
        """Bind and listen; OSError (errno EADDRINUSE) if the port is taken. Returns the URL."""
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True, backlog=512
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.url

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self.connections):
                if conn.transport:
                    conn.transport.close()
            await self._server.wait_closed()
        self.pool.shutdown(wait=True)


def serve(
    ca: CertificateAuthority,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    base_url: str | None = None,
    on_ready: Callable[[str], None] | None = None,
    workers: int = 8,
) -> None:
    """Serve until SIGTERM or SIGINT. Certificates issued meanwhile point at
    ``base_url`` (default: the URL listened on, remembered for this state folder)."""

    async def main() -> None:
        server = CaHttpServer(ca, host, port, workers=workers)
        await server.start()
        ca.set_base_url(base_url or server.url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if on_ready:
            on_ready(server.url)
        try:
            await stop.wait()
        finally:
            await server.close()

    asyncio.run(main())
