"""The one HTTP client of the engine (docs/web.md, *The one client*).

Every call fxml makes to another service goes through :class:`HttpClient`:
the CA (:mod:`fxml.ca.client`), the platform's record API
(:mod:`fxml.renewal.records`), the bank's API (:mod:`fxml.platform.bankapi`)
and the card agent (:mod:`fxml.agent.client`, with its server-sent events):

- **the standard library's transport** (``http.client``), as the clients had
  before: measured on the renewal's path, httpx2 spent twice its CPU a call
  (0.5 to 0.8 ms against 0.25 to 0.35), ten calls a renewal, and the renewal's
  ratio goal (README, *Benchmarks*) has no room for that on a 2-core machine;
- **no proxies, no cookies, no redirects**: every service is on this machine's
  loopback and reached directly (no ``HTTP_PROXY``), nothing is kept from one
  call to the next, and no API of ours answers a redirect;
- **one connection per call** (``Connection: close``): nothing is reused, so a
  call never fails on a kept-alive connection the server has meanwhile closed;
- **timeouts**: ``timeout`` seconds for connecting and for each read and
  write; an event stream waits on its reads without limit (:class:`EventStream`
  has its own deadline per event);
- **answers as they came** (:class:`Answer`): the status, the headers and the
  body. Each contract's own code turns them into its typed values and its
  errors (``CertificateRecord.from_json``, ``RenewalRecord.from_json``,
  ``FaxReceipt.from_json`` ...). No answer at all is :class:`UnreachableError`;
- **one retry policy** (:class:`Retry`, tenacity): only a call the caller marks
  safe to repeat is repeated, only when no answer came (:class:`UnreachableError`),
  after ``delay``, ``2 × delay`` ... An answer, even a 5xx, is never retried
  here: what it means is the contract's business;
- **server-sent events** parsed by httpx2's ``EventSource`` (httpx-sse's
  parser, which httpx2 took in) over the same transport (:class:`EventStream`).

What each client retries is its contract's: the CA's reads, and its 申請 and
更新 by request id (the CA answers a repeated request id with the certificate it
issued); the record API's every call (a move already made is answered with the
record unchanged); the bank API's messages, each attempt signed anew (a fresh
nonce and time: the bank refuses a nonce it has seen). The CA's 暫禁, 解除暫禁,
廢止 and 用戶登錄 and every call to the card agent are sent once.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import logging
import queue
import socket
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import httpx2
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_incrementing

from fxml.errors import FxmlError

log = logging.getLogger(__name__)

T = TypeVar("T")

JSON_TYPE: Final = "application/json"
EVENT_STREAM_TYPE: Final = "text/event-stream"

HeaderMap = Mapping[str, str]


class UnreachableError(FxmlError):
    """No answer came from ``url``: refused, timed out, or the connection lost before the answer
    (the request may have been carried out: only a call safe to repeat is repeated)."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"no answer from {url}: {reason}")


class NotAStreamError(FxmlError):
    """An event stream was asked for and something else came back: ``answer`` is what did."""

    def __init__(self, answer: Answer):
        self.answer = answer
        super().__init__(f"HTTP {answer.status} instead of an event stream")


@dataclass(frozen=True)
class Answer:
    """An answer as it came: its status, its headers (lowercase names; a repeated header's
    values joined by commas) and its body."""

    status: int
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError (UnicodeDecodeError, JSONDecodeError) if it is none."""
        return json.loads(self.content.decode("utf-8"))


def json_body(data: Any) -> bytes:
    """``data`` as the JSON body every client of ours sends (UTF-8, not ASCII-escaped)."""
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Retry:
    """The retry policy: a call safe to repeat is tried ``1 + retries`` times in all while no
    answer comes (:class:`UnreachableError`), waiting ``delay``, ``2 × delay`` ... in between."""

    retries: int = 2
    delay: float = 0.2

    def call(self, attempt: Callable[[], T], what: str) -> T:
        """``attempt()``, again on UnreachableError as the policy says; the last one if none answered."""

        def note(state: RetryCallState) -> None:
            failed = state.outcome.exception() if state.outcome is not None else None
            log.info("%s failed (%s); retrying the same request", what, failed)

        retrying = Retrying(
            stop=stop_after_attempt(1 + max(0, self.retries)),
            wait=wait_incrementing(start=self.delay, increment=self.delay),
            retry=retry_if_exception_type(UnreachableError),
            before_sleep=note,
            reraise=True,
        )
        return retrying(attempt)


#: A call that is not safe to repeat: one attempt.
ONCE: Final = Retry(retries=0)


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's trust for https URLs (made once: it costs ~20 ms)."""
    return ssl.create_default_context()


def _headers_of(response: http.client.HTTPResponse) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found


class HttpClient:
    """A service at ``base_url`` (``http(s)://host:port``, perhaps with a path)."""

    def __init__(self, base_url: str, *, timeout: float = 10.0):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout, context=_tls())
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def _open(self, method: str, path: str, content: bytes | None, json: Any, headers: HeaderMap | None,
              accept: str) -> tuple[http.client.HTTPConnection, socket.socket | None, http.client.HTTPResponse]:
        """A new connection, its socket and the answer's head (its body unread); UnreachableError
        if none came. (The connection lets go of its socket once the head says the server will
        close it, which it does: ``Connection: close``; the answer reads on.)"""
        sent = {"accept": accept, "connection": "close"}
        if json is not None:
            content = json_body(json)
            sent["content-type"] = JSON_TYPE
        sent.update({name.lower(): value for name, value in (headers or {}).items()})
        connection = self._connection(self.timeout)
        try:
            connection.request(method, self._prefix + path, body=content, headers=sent)
            sock = connection.sock
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise UnreachableError(self.base_url + path, str(exc) or type(exc).__name__) from exc
        return connection, sock if isinstance(sock, socket.socket) else None, response

    def send(self, method: str, path: str, *, content: bytes | None = None, json: Any = None,
             headers: HeaderMap | None = None) -> Answer:
        """One attempt: the answer, whatever its status; UnreachableError if none came.

        ``json`` is sent as ``application/json`` (``headers`` may name another type); ``content``
        as it is. ``headers`` may replace any header, ``Host`` included."""
        connection, _, response = self._open(method, path, content, json, headers, JSON_TYPE)
        try:
            return Answer(response.status, _headers_of(response), response.read())
        except (OSError, http.client.HTTPException) as exc:
            raise UnreachableError(self.base_url + path, str(exc) or type(exc).__name__) from exc
        finally:
            response.close()
            connection.close()

    def call(self, method: str, path: str, *, retry: Retry = ONCE, content: bytes | None = None,
             json: Any = None, headers: HeaderMap | None = None) -> Answer:
        """:meth:`send`, repeated as ``retry`` says while no answer comes."""
        return retry.call(lambda: self.send(method, path, content=content, json=json, headers=headers),
                          f"{method} {self.base_url}{path}")

    def events(self, path: str, *, headers: HeaderMap | None = None) -> EventStream:
        """``GET path`` as a server-sent event stream; NotAStreamError if the answer is not one."""
        connection, sock, response = self._open("GET", path, None, None, headers, EVENT_STREAM_TYPE)
        found = _headers_of(response)
        kind = found.get("content-type", "").partition(";")[0].strip().lower()
        if response.status != 200 or kind != EVENT_STREAM_TYPE or sock is None:
            try:
                content = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise UnreachableError(self.base_url + path, str(exc) or type(exc).__name__) from exc
            finally:
                response.close()
                connection.close()
            raise NotAStreamError(Answer(response.status, found, content))
        sock.settimeout(None)  # the reading thread waits as long as the stream lasts; next() has the deadline
        return EventStream(sock, response, found, self.base_url + path)


#: What the reading thread hands over: an event, or the end of the stream.
_Item = httpx2.ServerSentEvent | EOFError


class EventStream:
    """Server-sent events as they come, parsed by httpx2's EventSource (httpx-sse's parser).

    A thread of the stream's own reads it, so that :meth:`next` can wait for the next event
    with a deadline of its own while the connection stays usable; :meth:`close` ends the
    connection and the thread.
    """

    def __init__(self, sock: socket.socket, response: http.client.HTTPResponse, headers: dict[str, str],
                 url: str):
        self.url = url
        self.headers = headers
        self._sock = sock
        self._response = response
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._ended: EOFError | None = None
        self._thread = threading.Thread(target=self._read, name=f"events {url}", daemon=True)
        self._thread.start()

    def _chunks(self) -> Iterator[bytes]:
        while chunk := self._response.read1(65536):
            yield chunk

    def _read(self) -> None:
        ended = EOFError(f"{self.url} ended the event stream")
        source = httpx2.Response(200, headers=list(self.headers.items()), content=self._chunks(),
                                 request=httpx2.Request("GET", self.url))
        try:
            for event in httpx2.EventSource(source):
                self._items.put(event)
        except (OSError, http.client.HTTPException, httpx2.HTTPError, ValueError) as exc:
            ended = EOFError(f"the event stream from {self.url} ended: {exc or type(exc).__name__}")
        finally:
            self._items.put(ended)
            self._response.close()
            self._sock.close()

    def next(self, timeout: float) -> httpx2.ServerSentEvent:
        """The next event; TimeoutError if none comes within ``timeout`` seconds (the stream
        stays open), EOFError once the stream has ended."""
        if self._ended is not None:
            raise EOFError(*self._ended.args)
        try:
            item = self._items.get(timeout=max(timeout, 0.001))
        except queue.Empty:
            raise TimeoutError(f"no event from {self.url} within {timeout:g} s") from None
        if isinstance(item, EOFError):
            self._ended = item
            raise EOFError(*item.args)
        return item

    def close(self) -> None:
        """End the connection (the reading thread's read returns) and wait for the thread."""
        with contextlib.suppress(OSError):  # already closed: the thread has ended or is ending
            self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=10)

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


__all__ = ["ONCE", "Answer", "EventStream", "HttpClient", "NotAStreamError", "Retry", "UnreachableError",
           "json_body"]
