"""Reading request bodies with a limit, chunked or not, and reading them as JSON."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.types import Receive

from fxml.errors import FxmlError
from fxml.web.ids import number


class BodyTooLargeError(FxmlError):
    """The request's body is over the server's limit."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(f"request body over {limit} bytes")


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


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole body of ``request``, refused as soon as it passes ``limit`` bytes.

    A Content-Length over the limit is refused before a byte of the body is
    read (and before ``100 Continue`` is sent); a chunked body is counted as
    it arrives.
    """
    length = declared_length(request.headers)
    if length is not None and length > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_limited(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    """The same for a bare ASGI callable (no Starlette request around it)."""
    raw = headers.get(b"content-length")
    if raw is not None and raw.isdigit() and int(raw) > limit:
        raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client went away before sending its body")
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
