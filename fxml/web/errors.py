"""The web layer's own refusals, and the one place a refusal becomes an answer.

Every error a web app of the project answers is a :class:`~fxml.errors.CodedError`
(each part's codes, statuses and zh-TW messages live beside that part). This module
turns one into what a client gets:

- :func:`error_body`, the JSON ``{"error": {"code", "status", "message", "details"}}``
  (the only place it is made; the HTTP layer's own answers, before an app runs, use it too);
- :func:`error_response`, that body as an answer;
- :func:`error_page`, the zh-TW page a person reads (a template of the bank's frame).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fxml.errors import CodedError

JSON_TYPE: Final = "application/json; charset=utf-8"


@enum.unique
class WebErrorCode(enum.StrEnum):
    """The codes of what the web layer itself refuses (any app may answer them)."""

    BAD_REQUEST = "BAD_REQUEST"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    BUSY = "BUSY"
    CSRF_FAILED = "CSRF_FAILED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


#: The HTTP status of each of the web layer's codes.
STATUS: Final[dict[WebErrorCode, int]] = {
    WebErrorCode.BAD_REQUEST: 400,
    WebErrorCode.NOT_FOUND: 404,
    WebErrorCode.METHOD_NOT_ALLOWED: 405,
    WebErrorCode.PAYLOAD_TOO_LARGE: 413,
    WebErrorCode.REQUEST_TIMEOUT: 408,
    WebErrorCode.BUSY: 503,
    WebErrorCode.CSRF_FAILED: 403,
    WebErrorCode.INTERNAL_ERROR: 500,
}
#: What a person reads, per code.
MESSAGES: Final[dict[WebErrorCode, str]] = {
    WebErrorCode.BAD_REQUEST: "請求格式錯誤。",
    WebErrorCode.NOT_FOUND: "查無此頁面。",
    WebErrorCode.METHOD_NOT_ALLOWED: "此頁面不接受此操作方式。",
    WebErrorCode.PAYLOAD_TOO_LARGE: "請求內容過大。",
    WebErrorCode.REQUEST_TIMEOUT: "請求傳送逾時。",
    WebErrorCode.BUSY: "服務忙碌中，請稍後再試。",
    WebErrorCode.CSRF_FAILED: "表單已失效或來源不明，請重新操作。",
    WebErrorCode.INTERNAL_ERROR: "系統發生錯誤，請稍後再試。",
}


class WebError(CodedError):
    """A refusal of the web layer's (the HTTP server's, the app factory's, the sessions')."""

    STATUS = STATUS
    MESSAGES = MESSAGES


class BodyTooLargeError(WebError):
    """A request body over the app's limit (:class:`fxml.web.app.BodyLimit`); every app answers it
    as it is (PAYLOAD_TOO_LARGE, 413, the limit in its details)."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(WebErrorCode.PAYLOAD_TOO_LARGE, details={"limit": limit})


def error_body(error: CodedError) -> bytes:
    """The JSON error body of ``error``: ``{"error": {"code", "status", "message", "details"}}``
    (and what a part adds to its errors' JSON, such as a renewal's record)."""
    return json.dumps({"error": error.to_json()}, ensure_ascii=False).encode("utf-8")


def error_response(error: CodedError, *, status: int | None = None,
                   headers: Mapping[str, str] | None = None) -> Response:
    """``error`` answered as JSON, with its status (or ``status``); never cached. An error without an
    HTTP status of its own (0: a client's, whose other side did not answer) is answered 502."""
    answered = status or (error.status if 400 <= error.status < 600 else 502)
    return Response(error_body(error), answered, media_type=JSON_TYPE,
                    headers={"cache-control": "no-store", **(headers or {})})


def error_page(templates: Jinja2Templates, request: Request, error: CodedError, *, title: str,
               template: str = "message.html", back_url: str | None = None, back_label: str = "",
               status: int | None = None, **context: Any) -> Response:
    """The zh-TW page of ``error``: ``title`` as its heading, the message a person reads, the code
    in small print (``data-code``, which the tests and features read); a link back when given."""
    return templates.TemplateResponse(request, template, {
        "title": title, "message": error.message, "code": str(error.code), "kind": "error",
        "back_url": back_url, "back_label": back_label, **context,
    }, status_code=status or error.status)
