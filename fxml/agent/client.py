"""HTTP client for the card agent's API (docs/agent.md), on the engine's one HTTP client
(:mod:`fxml.http`): its calls, and its server-sent events parsed by httpx2's EventSource.

Used by the tests, ``fxmlsim``'s CLI and the features. Every method returns
the answer's JSON (typed as in :mod:`fxml.agent.api`) or raises
:class:`~fxml.agent.api.AgentError` with the agent's code and zh-TW message;
an agent that cannot be reached is ``AGENT_UNREACHABLE`` (status 0). No call
is repeated: opening a session verifies the PIN, and a second try would count.

``origin`` makes the client send an ``Origin`` header, as a page of that
origin would (the tests use it to act as the platform's pages, or as another
site's).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote, urlsplit

from fxml import http
from fxml.agent.api import (
    JSON_TYPE,
    AgentError,
    ErrorCode,
    EventType,
    Headers,
    Paths,
    PinChangeJson,
    ReaderJson,
    RenewalJson,
    SessionJson,
    SignatureJson,
    StatusJson,
)


@dataclass(frozen=True)
class Reply:
    """An answer as it came: status, headers (lowercase names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass(frozen=True)
class AgentEvent:
    """One server-sent event."""

    type: str
    data: dict[str, Any]
    id: str | None = None


class AgentClient:
    def __init__(self, base_url: str, *, origin: str | None = None, timeout: float = 30.0):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the agent's URL must be http://host:port, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.origin = origin
        self.timeout = timeout
        self._http = http.HttpClient(self.base_url, timeout=timeout)

    # -- transport ------------------------------------------------------------------------
    def _headers(self, headers: Mapping[str, str] | None = None) -> dict[str, str]:
        sent = {"Origin": self.origin} if self.origin is not None else {}
        return {**sent, **(headers or {})}

    def request(
        self, method: str, path: str, body: Any = None, *, headers: Mapping[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        """One request as it is (no error checking): for tests of refusals."""
        content = raw
        sent = self._headers()
        if body is not None:
            content = http.json_body(body)
            sent["Content-Type"] = JSON_TYPE
        try:
            answer = self._http.send(method, path, content=content, headers={**sent, **(headers or {})})
        except http.UnreachableError as exc:
            raise AgentError(ErrorCode.AGENT_UNREACHABLE, details={"url": self.base_url, "reason": exc.reason}) from exc
        return Reply(answer.status, answer.headers, answer.content)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The answer's JSON; AgentError for an error answer."""
        reply = self.request(method, path, body)
        try:
            data = reply.json()
        except ValueError:
            raise AgentError(ErrorCode.AGENT_BAD_RESPONSE, details={"status": reply.status}) from None
        if reply.status >= 400:
            raise AgentError.from_json(data, reply.status)
        return data

    # -- the API --------------------------------------------------------------------------
    def status(self) -> StatusJson:
        return cast(StatusJson, self.call("GET", Paths.STATUS))

    def readers(self) -> list[ReaderJson]:
        return cast(list[ReaderJson], self.call("GET", Paths.READERS)["readers"])

    def open_session(self, pin: str, reader: str | None = None) -> SessionJson:
        body: dict[str, str] = {"pin": pin}
        if reader is not None:
            body["reader"] = reader
        return cast(SessionJson, self.call("POST", Paths.SESSIONS, body))

    def session(self, session: str) -> SessionJson:
        return cast(SessionJson, self.call("GET", Paths.SESSION.format(session=quote(session, safe=""))))

    def close_session(self, session: str) -> None:
        self.call("DELETE", Paths.SESSION.format(session=quote(session, safe="")))

    def renew(
        self, session: str, renewal_id: str, renewal_token: str, platform_url: str | None = None
    ) -> RenewalJson:
        body = {"session": session, "renewal_id": renewal_id, "renewal_token": renewal_token}
        if platform_url is not None:
            body["platform_url"] = platform_url
        return cast(RenewalJson, self.call("POST", Paths.RENEWALS, body))

    def renewal(self, job: str) -> RenewalJson:
        return cast(RenewalJson, self.call("GET", Paths.RENEWAL.format(job=quote(job, safe=""))))

    def sign(self, session: str, data: bytes, container: str | None = None) -> SignatureJson:
        body = {"session": session, "data": base64.b64encode(data).decode("ascii")}
        if container is not None:
            body["container"] = container
        return cast(SignatureJson, self.call("POST", Paths.SIGNATURES, body))

    def change_pin(self, old_pin: str, new_pin: str, reader: str | None = None) -> PinChangeJson:
        """憑證載具密碼變更 on the card (the only card, or the one in ``reader``)."""
        body = {"old_pin": old_pin, "new_pin": new_pin}
        if reader is not None:
            body["reader"] = reader
        return cast(PinChangeJson, self.call("POST", Paths.PIN_CHANGES, body))

    def events(self, timeout: float = 10.0) -> EventStream:
        """The event stream (``GET /v1/events``); its first event is ``hello``."""
        try:
            stream = self._http.events(Paths.EVENTS, headers=self._headers())
        except http.UnreachableError as exc:
            raise AgentError(ErrorCode.AGENT_UNREACHABLE, details={"reason": exc.reason}) from exc
        except http.NotAStreamError as exc:
            try:
                data = exc.answer.json()
            except ValueError:
                data = None
            raise AgentError.from_json(data, exc.answer.status) from None
        return EventStream(self, stream, timeout)

    def wait_renewal(self, job: str, timeout: float = 60.0) -> RenewalJson:
        """Follow the renewal on the event stream until it is done or failed (no polling)."""
        with self.events(timeout) as stream:
            current = self.renewal(job)
            deadline = time.monotonic() + timeout
            while current["status"] == "running":
                event = stream.next(max(0.0, deadline - time.monotonic()))
                if event.type == EventType.RENEWAL and event.data.get("job") == job:
                    current = cast(RenewalJson, event.data)
            return current


class EventStream:
    """The agent's server-sent events as they come; :meth:`next` waits at most ``timeout`` seconds."""

    def __init__(self, client: AgentClient, stream: http.EventStream, timeout: float):
        self.client = client
        self.timeout = timeout
        self._stream = stream
        self.headers = stream.headers

    def next(self, timeout: float | None = None) -> AgentEvent:
        """The next event; TimeoutError if none comes in time, EOFError if the stream ended."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            try:
                event = self._stream.next(deadline - time.monotonic())
            except TimeoutError:
                raise TimeoutError(f"no event from the agent within {limit:g} s") from None
            except EOFError:
                raise EOFError("the agent ended the event stream") from None
            if event.data or event.event != "message":  # a block with only ``retry:`` is no event
                return AgentEvent(event.event, json.loads(event.data) if event.data else {}, event.id or None)

    def wait_for(self, kind: str, timeout: float | None = None, **match: Any) -> AgentEvent:
        """The next event of type ``kind`` whose data has the ``match`` values (others are skipped)."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind} event matching {match} within {limit:g} s")
            event = self.next(left)
            if event.type == kind and all(event.data.get(k) == v for k, v in match.items()):
                return event

    def __iter__(self) -> Iterator[AgentEvent]:
        while True:
            try:
                yield self.next()
            except EOFError:
                return

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["AgentClient", "AgentEvent", "EventStream", "Headers", "Reply"]
