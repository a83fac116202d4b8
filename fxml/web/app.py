"""The app factory every web app of the project is made with.

:func:`create_app` gives a Starlette app with the routes listed in one place,
Jinja2 templates that inherit the bank's page frame (``frame.html``),
the shared static files under ``/static``, bounded request bodies and the
security headers a bank's pages carry. Settings come in as one typed object;
nothing below reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fxml.display import roc_date, time_text
from fxml.web import labels

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


def create_app(
    routes: Sequence[BaseRoute],
    *,
    settings: WebSettings | None = None,
    lifespan: Callable[[Starlette], Any] | None = None,
    exception_handlers: dict[Any, Any] | None = None,
) -> Starlette:
    """A Starlette app: ``routes``, the shared ``/static`` files, body limit, security headers."""
    chosen = settings or WebSettings()
    return Starlette(
        routes=[*routes, Mount("/static", StaticFiles(directory=STATIC), name="static")],
        middleware=[
            Middleware(SecurityHeaders, settings=chosen),
            Middleware(RequestBodyLimitMiddleware, max_body_size=chosen.max_body),
        ],
        lifespan=lifespan,
        exception_handlers=exception_handlers,
    )
