"""The app factory every web app of the project is made with.

:func:`create_app` gives a Starlette app with the routes listed in one place,
Jinja2 templates that inherit the bank's page frame (``frame.html``),
the shared static files under ``/static``, bounded request bodies and the
security headers a bank's pages carry. Settings come in as one typed object;
nothing below reads the environment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fxml.display import roc_date, time_text
from fxml.web import labels

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass(frozen=True)
class WebSettings:
    """What differs between the apps made by :func:`create_app`."""

    #: Extra origins a page may connect to from script (the card agent, for the platform).
    connect_origins: tuple[str, ...] = ()
    #: Extra origins a form may post to.
    form_origins: tuple[str, ...] = ()
    #: The largest request body read (forms are small).
    max_body: int = 64 * 1024
    #: Folders searched for templates before the shared ones.
    template_dirs: tuple[Path, ...] = field(default=())


def templates(dirs: Sequence[Path] = ()) -> Jinja2Templates:
    """Jinja2 with autoescaping on, undefined names an error, the labels table as ``L``."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([*map(str, dirs), str(TEMPLATES)]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["L"] = labels
    env.filters["roc_date"] = roc_date
    env.filters["time_text"] = time_text
    return Jinja2Templates(env=env)


class SecurityHeaders:
    """Headers every answer carries: no caching of pages with customer data, no
    framing, no MIME sniffing, a strict content security policy (no inline script)."""

    def __init__(self, app: ASGIApp, settings: WebSettings):
        self.app = app
        connect = " ".join(("'self'", *settings.connect_origins))
        form = " ".join(("'self'", *settings.form_origins))
        csp = (
            f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; form-action {form}; frame-ancestors 'none'; base-uri 'none'"
        )
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []), *(h for h in self.headers if h[0] not in present)
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Request bodies over ``max_body`` are refused (413, in the project's words): a
    declared length at once, a chunked body as it passes the limit."""

    def __init__(self, app: ASGIApp, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body:
            response = await _http_error(Request(scope), HTTPException(413))
            response.headers["connection"] = "close"
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413)
            return message

        await self.app(scope, counted, send)


class _App(Starlette):
    """Starlette with the security headers outside everything, error pages included
    (Starlette's own error middleware is otherwise the outermost layer)."""

    web_settings: WebSettings

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.web_settings)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/v1/")) or "application/json" in request.headers.get("accept", "")


def _error_answer(request: Request, status: int, code: str, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": {"code": code, "status": status, "message": message, "details": {}}},
                            status_code=status)
    return _PAGES.TemplateResponse(request, "message.html", {
        "title": labels.BANK_NAME, "message": message, "code": code, "kind": "error",
        "back_url": None, "back_label": labels.OK,
    }, status_code=status)


#: Starlette's own refusals (no route, another method, a body over the limit), in the project's words.
_HTTP_ERRORS: dict[int, tuple[str, str]] = {
    404: ("NOT_FOUND", "查無此頁面。"),
    405: ("METHOD_NOT_ALLOWED", "此頁面不接受此操作方式。"),
    413: ("PAYLOAD_TOO_LARGE", "請求內容過大。"),
}


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 400
    code, message = _HTTP_ERRORS.get(status, ("BAD_REQUEST", "請求格式錯誤。"))
    return _error_answer(request, status, code, message)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _error_answer(request, 500, "INTERNAL_ERROR", "系統發生錯誤，請稍後再試。")


def create_app(
    routes: Sequence[BaseRoute],
    *,
    settings: WebSettings | None = None,
    lifespan: Callable[[Starlette], Any] | None = None,
    exception_handlers: dict[Any, Any] | None = None,
) -> Starlette:
    """A Starlette app: ``routes``, the shared ``/static`` files, body limit, security
    headers on every answer, errors (404, 405, 413, 500) as JSON for APIs and the
    bank's message page otherwise."""
    chosen = settings or WebSettings()
    handlers: dict[Any, Any] = {HTTPException: _http_error, Exception: _internal_error, **(exception_handlers or {})}
    app = _App(
        routes=[*routes, Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[Middleware(BodyLimit, max_body=chosen.max_body)],
        lifespan=lifespan,
        exception_handlers=handlers,
    )
    app.web_settings = chosen
    return app


_PAGES = templates()
