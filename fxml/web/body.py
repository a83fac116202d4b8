"""Request bodies: the one limit every app's bodies are read under, and reading them as JSON.

:class:`BodyLimit` is the only place a body's size is checked: every app made by
:func:`fxml.web.app.create_app` has it, with its own limit as data
(``WebSettings.max_body``). A ``Content-Length`` over the limit is answered at once,
before a byte of the body is read (and before ``100 Continue`` is sent); a chunked body
is counted as it arrives and refused as it passes the limit. Below it a handler simply
reads the body (``await request.body()``, or :func:`read_body` for a bare ASGI callable).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fxml.errors import CodedError, FxmlError
from fxml.web.errors import BodyTooLargeError
from fxml.web.ids import number

__all__ = ["BadJsonError", "BodyLimit", "BodyTooLargeError", "declared_length", "parse_json", "read_body"]


class BadJsonError(FxmlError, ValueError):
    """A request body that is not one JSON value the server can read; ``reason`` says why (English,
    for logs and tests; each app answers in its own words)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def parse_json(raw: bytes) -> Any:
    """The JSON value of a request body, or :class:`BadJsonError`: not UTF-8, not JSON, or arrays
    and objects nested deeper than Python's stack (``[`` × 100,000 makes the decoder raise
    RecursionError, which is no ValueError: caught here once, for every app)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadJsonError("the body is not UTF-8") from None
    except RecursionError:
        raise BadJsonError("the body nests arrays or objects too deep") from None
    except ValueError:
        raise BadJsonError("the body is not JSON") from None


def declared_length(headers: Any) -> int | None:
    """The Content-Length header as a number (the HTTP parser has checked its form)."""
    return number(headers.get("content-length"))


Answer = Callable[[Request, CodedError], Awaitable[Response]]


class BodyLimit:
    """Request bodies over ``max_body`` bytes are refused (:class:`BodyTooLargeError`, 413): a
    declared length at once, answered with ``answer`` (the app's way of answering an error); a
    chunked body as it passes the limit, raised from ``receive`` to the app's error handlers. The
    connection closes after either answer (the rest of the body is never read)."""

    def __init__(self, app: ASGIApp, max_body: int, answer: Answer):
        self.app = app
        self.max_body = max_body
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length({k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])
                                    if k == b"content-length"})
        if declared is not None and declared > self.max_body:
            response = await self.answer(Request(scope), BodyTooLargeError(self.max_body))
            await response(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLargeError(self.max_body)
            return message

        await self.app(scope, counted, send)


async def read_body(receive: Receive) -> bytes:
    """The whole body of a request, from a bare ASGI ``receive`` (under :class:`BodyLimit`, which
    counts it); ConnectionResetError if the client goes away first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client went away before sending its body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
