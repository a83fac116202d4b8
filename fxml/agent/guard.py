"""Who may talk to the agent: the Host check, the Origin check and CORS, JSON only.

:class:`Guard` wraps the agent's app (pure ASGI, before any routing) and,
for every HTTP request, in this order:

1. **Host** (DNS rebinding): the ``Host`` header must be ``127.0.0.1:<port>``,
   ``localhost:<port>`` or ``[::1]:<port>`` with the agent's own port. A page
   on ``evil.example`` whose name an attacker points at 127.0.0.1 sends
   ``Host: evil.example:<port>`` and is refused (``HOST_NOT_ALLOWED``).
2. **Origin**: a request with an ``Origin`` header is served only if it is one
   of the configured origins (the platform's), exactly; anything else,
   ``null`` included, is refused (``ORIGIN_NOT_ALLOWED``) with no CORS
   headers, so the browser gives the page nothing.
3. **No Origin**: a browser sends ``Origin`` with every CORS request (fetch,
   EventSource) and with every POST and DELETE; only a "simple" GET from an
   ``<img>``/``<script>`` tag or a navigation goes without it. Such a GET from
   another site carries ``Sec-Fetch-Site: cross-site`` and is refused
   (``CROSS_SITE_REFUSED``). Other requests without Origin come from local
   programs (the CLI, tests), which could talk to pcscd directly anyway, and
   are served; the session they open is bound to "no origin".
4. **Preflight**: ``OPTIONS`` from an allowed origin is answered 204 with the
   methods and headers the API uses (and ``Access-Control-Allow-Private-Network``
   when Chrome asks for it).
5. **JSON only**: a POST must say ``Content-Type: application/json``
   (``UNSUPPORTED_MEDIA_TYPE``). An HTML form cannot send that type, and a
   script on another origin cannot send it without a preflight, which step 2
   refuses.

Answers to an allowed origin carry ``Access-Control-Allow-Origin: <origin>``
and ``Vary: Origin``; no credentials are ever allowed (the agent uses no cookies).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fxml.agent.api import (
    ALLOWED_HEADERS,
    ALLOWED_METHODS,
    JSON_TYPE,
    AgentError,
    ErrorCode,
    Headers,
)
from fxml.web import guard
from fxml.web.errors import error_body
from fxml.web.guard import is_json, loopback_hosts, normalize_origin

__all__ = ["PREFLIGHT_MAX_AGE", "Guard", "allowed_hosts", "normalize_origin", "refusal"]

log = logging.getLogger(__name__)

#: Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600

#: The agent's code for each refusal of :func:`fxml.web.guard.check`.
_CODES = {
    guard.Refusal.DUPLICATE_HEADER: ErrorCode.BAD_REQUEST,
    guard.Refusal.HOST_NOT_ALLOWED: ErrorCode.HOST_NOT_ALLOWED,
    guard.Refusal.ORIGIN_NOT_ALLOWED: ErrorCode.ORIGIN_NOT_ALLOWED,
    guard.Refusal.CROSS_SITE_REFUSED: ErrorCode.CROSS_SITE_REFUSED,
}


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host header values the agent answers on ``port``."""
    return loopback_hosts(port)


def refusal(error: AgentError, extra: Iterable[tuple[bytes, bytes]] = ()) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = error_body(error)
    headers = [
        (b"content-type", JSON_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"vary", b"Origin"),
        *extra,
    ]
    return headers, body


class Guard:
    """The agent's front door (see the module's description)."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str], port: int):
        self.app = app
        self.origins = frozenset(normalize_origin(o) for o in origins)
        self.hosts = allowed_hosts(port)
        self.policy = guard.Policy(hosts=self.hosts, origins=self.origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        headers, twice = guard.request_headers(scope)
        refused = guard.check(self.policy, headers, twice)
        if refused is not None:
            why, details = refused
            if why is guard.Refusal.ORIGIN_NOT_ALLOWED:
                log.warning("refused %s %s from origin %r", method, scope["path"], details["origin"])
            else:
                log.warning("refused %s %s: %s %s (DNS rebinding? another site?)", method, scope["path"],
                            why.value, details)
            await self._refuse(send, AgentError(_CODES[why], details=details))
            return
        origin = headers.get(Headers.ORIGIN)
        cors = self._cors(origin)
        if method == "OPTIONS":
            await self._preflight(send, headers, cors)
            return
        if method == "POST" and not is_json(headers.get(Headers.CONTENT_TYPE, "")):
            await self._refuse(send, AgentError(ErrorCode.UNSUPPORTED_MEDIA_TYPE), cors)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and cors:
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in cors if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _cors(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        vary = (Headers.VARY.encode(), b"Origin")
        if origin is None:
            return [vary]
        return [
            (Headers.ALLOW_ORIGIN.encode(), origin.encode("latin-1")),
            (Headers.EXPOSE_HEADERS.encode(), b"Location"),
            vary,
        ]

    async def _preflight(self, send: Send, headers: dict[str, str], cors: list[tuple[bytes, bytes]]) -> None:
        extra = [
            (Headers.ALLOW_METHODS.encode(), ", ".join(ALLOWED_METHODS).encode()),
            (Headers.ALLOW_HEADERS.encode(), ", ".join(ALLOWED_HEADERS).encode()),
            (Headers.MAX_AGE.encode(), str(PREFLIGHT_MAX_AGE).encode()),
            (b"allow", ", ".join(("OPTIONS", *ALLOWED_METHODS)).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        if headers.get(Headers.REQUEST_PRIVATE_NETWORK) == "true" and headers.get(Headers.ORIGIN):
            extra.append((Headers.ALLOW_PRIVATE_NETWORK.encode(), b"true"))
        await send({"type": "http.response.start", "status": 204, "headers": [*cors, *extra]})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, send: Send, error: AgentError, cors: Iterable[tuple[bytes, bytes]] = ()) -> None:
        extra = [h for h in cors if h[0] != Headers.VARY.encode()]
        head, body = refusal(error, extra)
        await send({"type": "http.response.start", "status": error.status, "headers": head})
        await send({"type": "http.response.body", "body": body})

