"""The agent's HTTP API (docs/agent.md) on the project's one web stack.

==========================================  =====================================================
``GET    /v1/status``                       the agent: PC/SC, readers, sessions, allowed origins
``GET    /v1/readers``                      every reader and its card (Common Name(s), 憑證儲存媒體, tries left)
``POST   /v1/sessions``                     verify the PIN and keep the card for the page: a session id
``GET    /v1/sessions/{session}``           the session and its card
``DELETE /v1/sessions/{session}``           end the session (the card is reset: the PIN is no longer verified)
``POST   /v1/renewals``                     run the renewal on the session's card: 202 and a job id
``GET    /v1/renewals/{job}``               the renewal's progress, record or error
``POST   /v1/signatures``                   sign data with the card's key: signature and certificate
``POST   /v1/pin-changes``                  憑證載具密碼變更 on the card (CHANGE REFERENCE DATA)
``GET    /v1/events``                       server-sent events: cards, readers, sessions, renewals
==========================================  =====================================================

:class:`~fxml.agent.guard.Guard` stands in front of all of it (Host, Origin,
CORS, JSON only).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from fxml.agent.api import (
    JSON_TYPE,
    MAX_BODY,
    AgentError,
    ErrorCode,
    Headers,
    Paths,
)
from fxml.agent.core import CardAgent
from fxml.agent.events import SEPARATOR, heartbeat
from fxml.agent.guard import Guard
from fxml.web.app import WebSettings, create_app
from fxml.web.body import BadJsonError, parse_json

log = logging.getLogger(__name__)

#: The longest reader name, session id, renewal id or token the agent reads.
MAX_TEXT = 4096


def answer(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return Response(body, status, headers={"cache-control": "no-store", **(headers or {})}, media_type=JSON_TYPE)


def _origin(request: Request) -> str | None:
    """The page's origin (the guard has checked it is an allowed one), or None for a local program."""
    return request.headers.get(Headers.ORIGIN)


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = parse_json(await request.body())  # at most MAX_BODY bytes: the app's body limit
    except BadJsonError:
        raise AgentError(ErrorCode.BAD_JSON) from None
    if not isinstance(data, dict):
        raise AgentError(ErrorCode.BAD_JSON)
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise AgentError(ErrorCode.FIELD_INVALID, details={"field": name})
    return value


def _required(data: dict[str, Any], name: str) -> str:
    value = _text(data, name)
    assert value is not None
    return value


class AgentApi:
    def __init__(self, agent: CardAgent):
        self.agent = agent

    def routes(self) -> list[Route]:
        return [
            Route(Paths.STATUS, self.status, methods=["GET"]),
            Route(Paths.READERS, self.readers, methods=["GET"]),
            Route(Paths.SESSIONS, self.open_session, methods=["POST"]),
            Route(Paths.SESSION, self.get_session, methods=["GET"]),
            Route(Paths.SESSION, self.close_session, methods=["DELETE"]),
            Route(Paths.RENEWALS, self.start_renewal, methods=["POST"]),
            Route(Paths.RENEWAL, self.renewal, methods=["GET"]),
            Route(Paths.SIGNATURES, self.sign, methods=["POST"]),
            Route(Paths.PIN_CHANGES, self.change_pin, methods=["POST"]),
            Route(Paths.EVENTS, self.events, methods=["GET"]),
        ]

    async def status(self, request: Request) -> Response:
        return answer(200, await self.agent.status())

    async def readers(self, request: Request) -> Response:
        return answer(200, {"readers": await self.agent.readers()})

    async def open_session(self, request: Request) -> Response:
        data = await _body(request)
        reader = _text(data, "reader", required=False)
        pin = data.pop("pin", None)
        if not isinstance(pin, str):
            raise AgentError(ErrorCode.PIN_FORMAT)
        session = await self.agent.open_session(reader, pin, _origin(request))
        del pin
        location = Paths.SESSION.format(session=session["session"])
        return answer(201, session, {Headers.LOCATION: location})

    async def get_session(self, request: Request) -> Response:
        return answer(200, self.agent.session_json(request.path_params["session"], _origin(request)))

    async def close_session(self, request: Request) -> Response:
        await self.agent.close_session(request.path_params["session"], _origin(request))
        return Response(status_code=204, headers={"cache-control": "no-store"})

    async def start_renewal(self, request: Request) -> Response:
        data = await _body(request)
        job = await self.agent.start_renewal(
            _required(data, "session"), _origin(request), _required(data, "renewal_id"),
            _required(data, "renewal_token"), _text(data, "platform_url", required=False),
        )
        return answer(202, job, {Headers.LOCATION: Paths.RENEWAL.format(job=job["job"])})

    async def renewal(self, request: Request) -> Response:
        return answer(200, self.agent.renewal(request.path_params["job"], _origin(request)))

    async def sign(self, request: Request) -> Response:
        data = await _body(request)
        session = _required(data, "session")
        encoded = data.get("data")
        if not isinstance(encoded, str):
            raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "data"})
        try:
            payload = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "data"}) from None
        container = _text(data, "container", required=False)
        if container is not None:
            container = container.upper()
            if container not in ("9A", "9C"):
                raise AgentError(ErrorCode.FIELD_INVALID, details={"field": "container"})
        return answer(200, await self.agent.sign(session, _origin(request), payload, container))

    async def change_pin(self, request: Request) -> Response:
        data = await _body(request)
        reader = _text(data, "reader", required=False)
        old_pin, new_pin = data.pop("old_pin", None), data.pop("new_pin", None)
        changed = await self.agent.change_pin(reader, old_pin, new_pin, _origin(request))
        del old_pin, new_pin
        return answer(200, changed)

    async def events(self, request: Request) -> Response:
        hub = self.agent.hub
        subscriber = hub.subscribe(_origin(request))  # first, so that no event is missed
        return EventSourceResponse(
            hub.stream(subscriber, await self.agent.hello()),
            ping=hub.heartbeat,
            ping_message_factory=heartbeat,
            sep=SEPARATOR,
            # A HEAD never reads the stream: the subscriber goes with the answer all the same.
            background=BackgroundTask(hub.unsubscribe, subscriber),
        )


def _http_error(request: Request, status: int) -> AgentError:
    """Starlette's refusals (no such path, another method) and a bug's 500, in the agent's words."""
    code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 500: ErrorCode.INTERNAL_ERROR}.get(
        status, ErrorCode.BAD_REQUEST)
    return AgentError(code, details={"path": request.url.path} if status == 404 else {})


def agent_app(agent: CardAgent, *, monitor: bool = True) -> ASGIApp:
    """The ASGI app: the guard, then the routes; the agent starts and stops with it."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await agent.start(monitor=monitor)
        try:
            yield
        finally:
            await agent.stop()

    app = create_app(
        AgentApi(agent).routes(),
        settings=WebSettings(max_body=MAX_BODY, pages=False, http_errors=_http_error),
        lifespan=lifespan,
    )
    return Guard(app, origins=agent.settings.origins, port=agent.settings.port)
