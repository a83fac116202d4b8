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
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fxml.display import roc_date, time_text
from fxml.errors import CodedError
from fxml.web import labels
from fxml.web.body import BodyLimit
from fxml.web.errors import WebError, WebErrorCode, error_page, error_response

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def wants_json(request: Request) -> bool:
    """Whether an app with pages answers this request's errors as JSON (its APIs, or a client
    that asks for JSON) rather than as a page."""
    path = request.url.path
    return path.startswith(("/api/", "/v1/")) or "application/json" in request.headers.get("accept", "")


#: Starlette's own refusals by status (no route, another method), in the web layer's words.
_HTTP_CODES: dict[int, WebErrorCode] = {
    404: WebErrorCode.NOT_FOUND,
    405: WebErrorCode.METHOD_NOT_ALLOWED,
    413: WebErrorCode.PAYLOAD_TOO_LARGE,
    500: WebErrorCode.INTERNAL_ERROR,
}


def web_refusal(request: Request, status: int) -> CodedError:
    """The web layer's error for a refusal of Starlette's (404, 405 ...) or a bug's 500; any other
    status (a form Starlette could not read) is BAD_REQUEST with that status."""
    code = _HTTP_CODES.get(status)
    return WebError(code) if code is not None else WebError(WebErrorCode.BAD_REQUEST, status=status)


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
    #: Whether the app serves pages: its errors are pages unless a request asks for JSON. An API
    #: without pages (the CA, the card agent) answers every error as JSON.
    pages: bool = True
    #: Whether the app serves the shared static files under ``/static`` (agent.js, the frame's CSS).
    static: bool = True
    #: The app's error for a refusal of Starlette's by status (404, 405 ...) and for a bug (500).
    http_errors: Callable[[Request, int], CodedError] = web_refusal


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


class _App(Starlette):
    """Starlette with the security headers outside everything, error pages included
    (Starlette's own error middleware is otherwise the outermost layer)."""

    web_settings: WebSettings

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), self.web_settings)


def create_app(
    routes: Sequence[BaseRoute],
    *,
    settings: WebSettings | None = None,
    lifespan: Callable[[Starlette], Any] | None = None,
    front: Sequence[Middleware] = (),
    inner: Sequence[Middleware] = (),
) -> Starlette:
    """A Starlette app: ``routes`` (and the shared ``/static`` files unless told not to), the
    body limit, security headers on every answer, and every error answered one way: a
    :class:`~fxml.errors.CodedError` raised anywhere (and Starlette's 404, 405, a bug's 500, in the
    app's words: ``settings.http_errors``) as JSON for an API (:func:`wants_json`, or an app without
    pages) and as the bank's message page otherwise.

    ``front`` are ASGI middleware before the body limit (a service's front door, which refuses
    before a byte of the body is read), ``inner`` middleware behind it (a path that skips the router).
    """
    chosen = settings or WebSettings()

    async def answer(request: Request, error: CodedError) -> Response:
        if not chosen.pages or wants_json(request):
            response = error_response(error)
        else:
            response = error_page(_PAGES, request, error, title=labels.BANK_NAME, back_label=labels.OK)
        if error.status == 413:
            response.headers["connection"] = "close"  # the rest of the body is never read
        return response

    async def coded(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CodedError)
        return await answer(request, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 400
        return await answer(request, chosen.http_errors(request, status))

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return await answer(request, chosen.http_errors(request, 500))

    static = [Mount("/static", StaticFiles(directory=STATIC), name="static")] if chosen.static else []
    app = _App(
        routes=[*routes, *static],
        middleware=[*front, Middleware(BodyLimit, max_body=chosen.max_body, answer=answer), *inner],
        lifespan=lifespan,
        exception_handlers={CodedError: coded, HTTPException: http_error, Exception: internal_error},
    )
    app.web_settings = chosen
    return app


_PAGES = templates()
