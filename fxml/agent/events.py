"""Events to the pages: a hub on the event loop, one queue per ``GET /v1/events`` stream.

Card and reader events go to every stream; a session's and a renewal's
events only to the streams of the origin the session is bound to. Each
event is a server-sent event (``id:``, ``event:``, ``data:`` one JSON
object), written by sse-starlette's ``EventSourceResponse``, which also
sends the heartbeat (:func:`heartbeat`) and ends a stream whose page went
away. A stream whose page reads too slowly to keep up with
:data:`QUEUE_LIMIT` events is ended (the page's EventSource reconnects and
gets a fresh ``hello``); so is every stream when the hub closes (the agent
stops). ``Last-Event-ID`` is not read: a reconnected page starts again
from a fresh ``hello``, which says how every reader is now.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from sse_starlette import ServerSentEvent
from sse_starlette.sse import AppStatus

from fxml.agent.api import HEARTBEAT_SECONDS, RECONNECT_MILLISECONDS, EventType

log = logging.getLogger(__name__)


def _leave_uvicorn_as_released() -> None:
    """Undo what importing sse-starlette does to uvicorn.

    It replaces ``uvicorn.Server.handle_exit`` with a function that sets a flag for the whole
    process (``AppStatus.should_exit``) which nothing resets, so that every stream of every
    later server in the process would end at once, and whose signature is no longer uvicorn's
    (tests/unit/test_uvicorn_private.py checks uvicorn's methods that fxml/web/server.py
    overrides). The agent ends its streams itself: ``serve``'s ``on_exit`` closes the hub
    (:meth:`EventHub.close`). sse-starlette still sees a stop through the server's own
    ``should_exit``, which it also watches.
    """
    original = AppStatus.original_handler
    if original is not None and uvicorn.Server.handle_exit is not original:
        uvicorn.Server.handle_exit = original  # type: ignore[method-assign]


_leave_uvicorn_as_released()

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class Event:
    type: EventType
    data: dict[str, Any]
    #: False: only streams of ``origin`` get it (a session's or a renewal's event).
    broadcast: bool = True
    origin: str | None = None


@dataclass(eq=False)
class Subscriber:
    origin: str | None
    queue: asyncio.Queue[tuple[int, Event] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT + 1)
    )


#: The line ends of the stream (sse-starlette's default is CRLF; EventSource reads either).
SEPARATOR = "\n"


def sse(seq: int, event: Event, retry: int | None = None) -> ServerSentEvent:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(data, event=event.type.value, id=str(seq), retry=retry, sep=SEPARATOR)


def heartbeat() -> ServerSentEvent:
    """The comment line a quiet stream gets every :data:`HEARTBEAT_SECONDS` (it finds pages that went away)."""
    return ServerSentEvent(comment="keep-alive", sep=SEPARATOR)


class EventHub:
    """Fan-out of events; every method runs on the event loop."""

    def __init__(self, heartbeat: float = HEARTBEAT_SECONDS):
        #: Seconds between heartbeats (:func:`heartbeat`) on every stream.
        self.heartbeat = heartbeat
        self._subscribers: set[Subscriber] = set()
        self._seq = 0
        self._closed = False

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, event: Event) -> None:
        self._seq += 1
        for sub in list(self._subscribers):
            if not (event.broadcast or sub.origin == event.origin):
                continue
            if sub.queue.qsize() >= QUEUE_LIMIT:
                log.warning("an event stream fell %d events behind; ending it", QUEUE_LIMIT)
                self._subscribers.discard(sub)
                sub.queue.put_nowait(None)
                continue
            sub.queue.put_nowait((self._seq, event))

    def subscribe(self, origin: str | None) -> Subscriber:
        sub = Subscriber(origin)
        if self._closed:
            sub.queue.put_nowait(None)
        else:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def close(self) -> None:
        """End every stream (the agent is stopping)."""
        self._closed = True
        for sub in self._subscribers:
            sub.queue.put_nowait(None)
        self._subscribers.clear()

    async def stream(self, sub: Subscriber, hello: Event) -> AsyncIterator[ServerSentEvent]:
        """The events of one stream: the hello event (with ``retry:``, the wait before the page's
        EventSource reconnects), then events as they come, until the hub ends the stream."""
        try:
            self._seq += 1
            yield sse(self._seq, hello, retry=RECONNECT_MILLISECONDS)
            while True:
                item = await sub.queue.get()
                if item is None:
                    return
                yield sse(*item)
        finally:
            self.unsubscribe(sub)
