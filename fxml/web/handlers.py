"""One way to write a handler: a plain ``async def endpoint(request)`` behind its app's :class:`Door`.

A door is the way into one part of an app (each of the bank's systems, the branch back office,
the platform, the CA's API): the session cookie it reads, who a session (or a request) names —
the app's *principal*: a bank customer and user, a branch officer, the platform's customer, the
CA's administrator — and how it says no. Wrapping an endpoint with :meth:`Door.page` or
:meth:`Door.json`:

1. loads the session (:func:`session`) and puts the principal on ``request.state.principal``
   (:func:`principal` reads it back, typed);
2. refuses a request without one (unless the route is for ``anyone``) with the door's coded
   error, before the endpoint runs;
3. answers every :class:`~fxml.errors.CodedError` the endpoint raises (a CSRF check's
   :class:`~fxml.web.sessions.CsrfError` included: :func:`form`, :func:`csrf_header`) as the
   door's refusal page (with the route's ``back`` link and ``title``) or as JSON;
4. saves the session (:meth:`~fxml.web.sessions.SessionStore.save`: its data when it changed,
   its idle timeout always), unless the endpoint ended it (:meth:`Door.end`) or gave it a new
   id (:meth:`Door.rotate`, at login: the new one is saved).

A bug is no refusal: it goes on to the app's 500 answer (:func:`fxml.web.app.create_app`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from fxml.errors import CodedError
from fxml.web.errors import BodyTooLargeError, error_response
from fxml.web.sessions import Session, SessionStore, check_csrf

P = TypeVar("P")
T = TypeVar("T")

Endpoint = Callable[[Request], Awaitable[Response]]
#: The header a page's script sends its session's CSRF token in (a JSON call has no form).
CSRF_HEADER = "x-csrf-token"


class Refuse(Protocol):
    """How a door shows a refusal as a page: ``back`` is the link back, ``title`` the page's
    heading (None: the door's own for that error)."""

    def __call__(self, request: Request, error: CodedError, *, back: str | None, title: str | None) -> Response:
        ...


class Door(Generic[P]):
    """The way into one part of an app (see the module's description).

    ``identify(request, session)`` is the principal the request comes with, or None (or it raises
    the coded error that says why not: a token that is no longer valid); ``stranger`` the refusal
    of one without (called once per refusal: it may log or audit), shown with a link to
    ``login_url``; ``refuse`` draws a refusal's page. ``sessions`` is None for a door without
    sessions (the CA's, the record API's: their principal comes with a bearer token), and
    ``challenge`` the ``WWW-Authenticate`` of their 401 answers.
    """

    def __init__(self, *, identify: Callable[[Request, Session | None], P | None],
                 stranger: Callable[[Request], CodedError], refuse: Refuse | None = None,
                 sessions: SessionStore | None = None, login_url: str | None = None, challenge: str | None = None):
        self.identify = identify
        self.stranger = stranger
        self.refuse = refuse
        self.sessions = sessions
        self.login_url = login_url
        self.challenge = challenge

    def page(self, handler: Endpoint, *, anyone: bool = False, back: str | None = None,
             title: str | None = None) -> Endpoint:
        """``handler`` as a page: its refusals are the door's page, with a link to ``back`` (a
        path, formatted with the route's path parameters: ``"/branch/fax/{fax}"``) and ``title``."""

        def refused(request: Request, error: CodedError, stranger: bool) -> Response:
            assert self.refuse is not None, "a door with pages says how it refuses"
            if stranger:
                return self.refuse(request, error, back=self.login_url, title=None)
            link = back.format(**request.path_params) if back is not None else None
            return self.refuse(request, error, back=link, title=title)

        return self._wrap(handler, anyone, refused)

    def json(self, handler: Endpoint, *, anyone: bool = False) -> Endpoint:
        """``handler`` as a JSON endpoint: its refusals are the JSON error answer."""

        def refused(request: Request, error: CodedError, stranger: bool) -> Response:
            challenge = {"WWW-Authenticate": self.challenge} if self.challenge and error.status == 401 else None
            return error_response(error, headers=challenge)

        return self._wrap(handler, anyone, refused)

    def _wrap(self, handler: Endpoint, anyone: bool,
              refused: Callable[[Request, CodedError, bool], Response]) -> Endpoint:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            loaded = self.sessions.load(request) if self.sessions is not None else None
            request.state.session = loaded
            try:
                request.state.principal = self.identify(request, loaded)
            except CodedError as error:
                request.state.principal = None
                return refused(request, error, True)
            if request.state.principal is None and not anyone:
                response = refused(request, self.stranger(request), True)
            else:
                try:
                    response = await handler(request)
                except BodyTooLargeError:
                    raise  # the app's answer to its body limit (fxml.web.app), which closes the connection
                except CodedError as error:
                    response = refused(request, error, False)
            kept = request.state.session
            if self.sessions is not None and kept is not None:
                self.sessions.save(kept, response)
            return response

        return endpoint

    # -- the session's life -------------------------------------------------------------------------
    def rotate(self, request: Request) -> Session:
        """A new id for the request's session (at login; the old one is forgotten), emptied: the one
        saved with the answer."""
        assert self.sessions is not None
        fresh = self.sessions.rotate(session(request))
        fresh.data.clear()
        request.state.session = fresh
        return fresh

    def end(self, request: Request, response: Response) -> None:
        """Forget the request's session and its cookie (logout): nothing is saved."""
        assert self.sessions is not None
        self.sessions.delete(session(request))
        self.sessions.clear_cookie(response)
        request.state.session = None


def session(request: Request) -> Session:
    """The session of a request a :class:`Door` let in."""
    found = request.state.session
    assert isinstance(found, Session), "only an endpoint behind a door has a session"
    return found


def principal(request: Request, kind: type[T]) -> T:
    """Who the request comes from, as the door found them (a ``kind``: LoggedIn, an officer ...)."""
    found = request.state.principal
    if not isinstance(found, kind):
        raise TypeError(f"the request's principal is {type(found).__name__}, not {kind.__name__}")
    return found


async def form(request: Request, *, max_fields: int = 20) -> FormData:
    """The request's form (no files), once its CSRF token is the session's
    (:class:`~fxml.web.sessions.CsrfError` otherwise)."""
    data = await request.form(max_files=0, max_fields=max_fields)
    check_csrf(session(request), texts(data))
    return data


def texts(data: FormData) -> dict[str, str]:
    """A form's text fields (the last value of a repeated one)."""
    return {k: v for k, v in data.items() if isinstance(v, str)}


def csrf_header(request: Request) -> None:
    """Refuse a script's call (JSON) whose CSRF header is not its session's token."""
    check_csrf(session(request), {"csrf_token": request.headers.get(CSRF_HEADER, "")})


__all__ = ["CSRF_HEADER", "Door", "Endpoint", "Refuse", "csrf_header", "form", "principal", "session", "texts"]
