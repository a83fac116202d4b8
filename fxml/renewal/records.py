"""The engine's side of the record API: the platform's record of one renewal, over HTTP.

:class:`PlatformRecords` is a :class:`~fxml.renewal.model.RecordStore` that
asks the platform (standard library HTTP, like :mod:`fxml.ca.client`). Every
call is safe to repeat, so each is retried on a lost connection or a timeout:
a GET changes nothing; a move the platform already made is answered with the
record unchanged (the contract of ``advance``); noting the same refusal twice
changes nothing. A platform that does not answer is RecordError
``PLATFORM_UNREACHABLE``; a refusal is RecordError with the platform's code.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from http.client import HTTPException
from typing import Any
from urllib.parse import quote

from fxml.renewal import api
from fxml.renewal.model import RecordError, RecordErrorCode, RenewalRecord, State

log = logging.getLogger(__name__)


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
        # No proxies: the platform is reached directly (loopback in the simulation).
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _path(self, template: str) -> str:
        return template.format(renewal_id=quote(self.renewal_id, safe=""))

    def _call(self, method: str, template: str, body: dict[str, Any] | None = None) -> RenewalRecord:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json", api.HEADER: api.bearer(self.token)}
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + self._path(template)
        for attempt in range(1 + self.retries):
            # The scheme is http(s), checked in __init__.
            request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
            try:
                with self._opener.open(request, timeout=self.timeout) as answer:
                    return _record_of(answer.status, answer.read())
            except urllib.error.HTTPError as exc:
                raise _error_of(exc.code, exc.read()) from None
            except (urllib.error.URLError, HTTPException, ConnectionError, TimeoutError) as exc:
                if attempt < self.retries:
                    log.info("platform %s %s failed (%s); retrying the same request", method, url, exc)
                    time.sleep(self.retry_delay * (attempt + 1))
                    continue
                reason = getattr(exc, "reason", exc)
                raise RecordError(RecordErrorCode.UNREACHABLE, f"the platform at {self.base_url} does not answer: "
                                                               f"{reason}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

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
