"""The engine's side of the record API: the platform's record of one renewal, over HTTP.

:class:`PlatformRecords` is a :class:`~fxml.renewal.model.RecordStore` that
asks the platform (the engine's one HTTP client, :mod:`fxml.http`). Every
call is safe to repeat, so each is retried on a lost connection or a timeout
(:class:`fxml.http.Retry`):
a GET changes nothing; a move the platform already made is answered with the
record unchanged (the contract of ``advance``); noting the same refusal twice
changes nothing. A platform that does not answer is RecordError
``PLATFORM_UNREACHABLE``; a refusal is RecordError with the platform's code.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fxml.http import HttpClient, Retry, UnreachableError
from fxml.renewal import api
from fxml.renewal.model import RecordError, RecordErrorCode, RenewalRecord, State


class PlatformRecords:
    """The record of the renewal ``token`` names, kept by the platform at ``platform_url``.

    ``renewal_id`` defaults to the one the token names (the platform checks
    the token on every call; this side cannot and need not).
    """

    def __init__(
        self,
        platform_url: str,
        token: str,
        renewal_id: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        retry_delay: float = 0.2,
    ):
        if not platform_url.startswith(("http://", "https://")):
            raise RecordError(RecordErrorCode.UNREACHABLE, f"the platform's address is not an http(s) URL: "
                                                           f"{platform_url!r}")
        named = renewal_id or api.renewal_id_of(token)
        if not named:
            raise RecordError(RecordErrorCode.BAD_TOKEN, "the renewal token names no renewal")
        self.base_url = platform_url.rstrip("/")
        self.token = token
        self.renewal_id = named
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._http = HttpClient(self.base_url, timeout=timeout)

    def _path(self, template: str) -> str:
        return template.format(renewal_id=quote(self.renewal_id, safe=""))

    def _call(self, method: str, template: str, body: dict[str, Any] | None = None) -> RenewalRecord:
        path = self._path(template)
        try:
            answer = self._http.call(method, path, json=body, headers={api.HEADER: api.bearer(self.token)},
                                     retry=Retry(self.retries, self.retry_delay))
        except UnreachableError as exc:
            raise RecordError(RecordErrorCode.UNREACHABLE, f"the platform at {self.base_url} does not answer: "
                                                           f"{exc.reason}") from exc
        if answer.status >= 400:
            raise _error_of(answer.status, answer.content)
        return _record_of(answer.status, answer.content)

    # -- RecordStore ---------------------------------------------------------------------------------
    def get(self) -> RenewalRecord:
        return self._call("GET", api.Paths.RENEWAL)

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        body: api.AdvanceJson = {"expected": State(expected).value, "to": State(to).value, "fields": dict(fields)}
        return self._call("POST", api.Paths.ADVANCE, dict(body))

    def fail(self, code: str, message: str) -> RenewalRecord:
        body: api.FailJson = {"code": code, "message": message}
        return self._call("POST", api.Paths.FAIL, dict(body))


def _record_of(status: int, content: bytes) -> RenewalRecord:
    try:
        data = json.loads(content.decode("utf-8"))
        return RenewalRecord.from_json(data["renewal"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RecordError(RecordErrorCode.UNREACHABLE,
                          f"the platform's answer (HTTP {status}) is not a renewal record: {exc!r}") from exc


def _error_of(status: int, content: bytes) -> RecordError:
    try:
        error = json.loads(content.decode("utf-8"))["error"]
        code = RecordErrorCode(error["code"])
        message = str(error["message"])
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        # Not the record API's answer: a proxy's, or another program on the port.
        return RecordError(RecordErrorCode.UNREACHABLE, f"the platform answered HTTP {status} without a record "
                                                        f"API error: {content[:200]!r}")
    record = None
    if isinstance(error.get("renewal"), dict):
        try:
            record = RenewalRecord.from_json(error["renewal"])
        except RecordError:
            record = None
    return RecordError(code, message, record)
