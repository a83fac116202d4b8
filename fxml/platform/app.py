"""The FXML 憑證管理 platform as a web app (its own origin on loopback).

A customer arrives from one of the bank's systems with a ticket
(:mod:`fxml.platform.tickets`) at ``/entry``; the platform verifies it, opens
its own session and shows its frame: FXML 憑證管理 and the left menu of the
manual. Nothing else of the platform is reachable without that session.
回首頁 closes the platform session and returns to the system the customer
came from.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fxml.ca.client import CaClient
from fxml.clock import Clock
from fxml.display import roc_date, time_text
from fxml.errors import FxmlError
from fxml.platform import tickets
from fxml.platform.bankapi import BankApiClient, api_key
from fxml.platform.banklink import BankLink
from fxml.platform.checks import move_checks
from fxml.platform.renewals import RenewalBook, renewal_routes
from fxml.platform.store import STORE_FILE, PlatformStore
from fxml.platform.wizard import Wizard
from fxml.web import labels
from fxml.web.app import WebSettings, create_app, templates
from fxml.web.sessions import CookiePolicy, CsrfError, Session, SessionStore, check_csrf

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE: Final = "fxml_platform_session"
CUSTOMER_KEY: Final = "customer"

#: The left menu: label, path. The pages of 憑證更新 and 憑證證明單列印 come with
#: the renewal engine; the others say plainly that they are not available.
MENU: Final = (
    (labels.MENU_APPLY, "/apply"),
    (labels.MENU_DOWNLOAD, "/download"),
    (labels.MENU_RENEW, "/renew"),
    (labels.MENU_QUERY, "/query"),
    (labels.MENU_PROOF, "/proof"),
    (labels.MENU_PIN_CHANGE, "/pin-change"),
    (labels.MENU_SUSPEND, "/suspend"),
    (labels.MENU_HOME, "/home"),
)


@dataclass(frozen=True)
class PlatformSettings:
    state_dir: Path
    ticket_key: bytes
    clock: Clock
    #: The card agent's origin, which the pages call (CSP connect-src).
    agent_origin: str | None = None
    ca_url: str | None = None
    #: The bank's base URL: where proof sheets are faxed and renewal notices sent (fxml/platform/bankapi.py).
    bank_url: str | None = None
    #: The bank's systems' origins: 回首頁 (a form) leads back there (CSP form-action).
    bank_origins: tuple[str, ...] = ()
    extra_routes: tuple[BaseRoute, ...] = field(default=())


class NotSignedInError(FxmlError):
    """A platform page asked for without a platform session."""


class Platform:
    """The platform's state and pages; :meth:`app` is the ASGI application."""

    def __init__(self, settings: PlatformSettings):
        self.settings = settings
        self.clock = settings.clock
        settings.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = PlatformStore(settings.state_dir / STORE_FILE)
        # The authoritative record of every renewal, and the CA the wizard asks.
        self.book = RenewalBook.open(settings.state_dir, settings.clock)
        self.ca = CaClient(settings.ca_url, actor="fxml-platform") if settings.ca_url else None
        self.sessions = SessionStore(settings.state_dir / STORE_FILE, CookiePolicy(COOKIE),
                                     clock=lambda: self.clock.now().timestamp())
        self.templates = templates([HERE / "templates"])
        # The fax of step 9 and the renewal notices, to the bank, signed with a key derived from the ticket key.
        self.bank: BankLink | None = None
        if settings.bank_url:
            client = BankApiClient(settings.bank_url, api_key(settings.ticket_key), settings.clock)
            self.bank = BankLink(self.store, client)
            self.book.on_done.append(self.bank.renewal_done)

    # -- helpers ---------------------------------------------------------------------------
    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        now = self.clock.now()
        context.setdefault("query_date", roc_date(now))
        context.setdefault("query_time", time_text(now))
        return self.templates.TemplateResponse(request, name, {"menu": MENU, **context}, status_code=status)

    def message(self, request: Request, status: int, title: str, message: str, code: str = "",
                back_url: str | None = None, back_label: str = labels.OK, kind: str = "error") -> Response:
        return self.templates.TemplateResponse(request, "message.html", {
            "title": title, "message": message, "code": code, "kind": kind,
            "back_url": back_url, "back_label": back_label,
        }, status_code=status)

    def signed_in(self, request: Request) -> tuple[Session, dict[str, Any]]:
        session = self.sessions.load(request)
        customer = session.get(CUSTOMER_KEY)
        if not isinstance(customer, dict):
            raise NotSignedInError
        return session, customer

    def page(self, handler: Callable[[Request, Session, dict[str, Any]], Awaitable[Response]]
             ) -> Callable[[Request], Awaitable[Response]]:
        """A page that needs the platform session; saves the session after the handler."""

        async def endpoint(request: Request) -> Response:
            try:
                session, customer = self.signed_in(request)
            except NotSignedInError:
                error = tickets.TicketError(tickets.TicketErrorCode.TICKET_MISSING)
                return self.message(request, 401, labels.PLATFORM_TITLE, error.message, error.code)
            response = await handler(request, session, customer)
            self.sessions.save(session, response)
            return response

        endpoint.__name__ = handler.__name__
        return endpoint

    # -- the entrance ----------------------------------------------------------------------
    async def entry(self, request: Request) -> Response:
        now = self.clock.now()
        try:
            ticket = tickets.verify(
                request.query_params.get("ticket"), self.settings.ticket_key, self.clock,
                first_use=lambda tid, expires: self.store.first_use(tid, expires, now),
            )
        except tickets.TicketError as exc:
            self.store.audit(now, "?", "進入憑證管理平台", exc.code)
            return self.message(request, 403, labels.PLATFORM_TITLE, exc.message, exc.code)
        old = self.sessions.load(request)
        session = self.sessions.rotate(old)
        session.data.clear()
        session[CUSTOMER_KEY] = {**ticket.to_json(), "system_label": ticket.system.label}
        self.store.audit(now, f"{ticket.system}:{ticket.customer_id}:{ticket.user_code}", "進入憑證管理平台", "OK")
        response = RedirectResponse("/", status_code=303)
        self.sessions.save(session, response)
        return response

    async def home(self, request: Request, session: Session, customer: dict[str, Any]) -> Response:
        return self.render(request, "home.html", customer=customer, session=session)

    async def back_home(self, request: Request) -> Response:
        """回首頁 (a form, with its CSRF token): close the platform session and return to the
        system's menu. A GET (a link, or a page elsewhere making the browser ask) only
        returns: ending a session is no GET's business."""
        session = self.sessions.load(request)
        customer = session.get(CUSTOMER_KEY)
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=5)
            try:
                check_csrf(session, {k: v for k, v in form.items() if isinstance(v, str)})
            except CsrfError as exc:
                return self.message(request, 403, labels.PLATFORM_TITLE, exc.message, exc.code)
            self.sessions.delete(session)
        target = customer.get("return_url") if isinstance(customer, dict) else None
        if not isinstance(target, str) or not target.startswith(("http://", "https://")):
            error = tickets.TicketError(tickets.TicketErrorCode.TICKET_MISSING)
            response = self.message(request, 401, labels.PLATFORM_TITLE, error.message, error.code)
        else:
            response = RedirectResponse(target, status_code=303)
        if request.method == "POST":
            self.sessions.clear_cookie(response)
        return response

    def unavailable(self, label: str) -> Callable[[Request, Session, dict[str, Any]], Awaitable[Response]]:
        async def handler(request: Request, session: Session, customer: dict[str, Any]) -> Response:
            return self.render(request, "unavailable.html", status=200, customer=customer, session=session,
                               title=label)

        handler.__name__ = f"unavailable_{label}"
        return handler

    # -- the app -----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        own: list[BaseRoute] = [
            *Wizard(self).routes(), *renewal_routes(self.book, move_checks(self.ca)), *self.settings.extra_routes,
        ]
        served = {route.path for route in own if isinstance(route, Route)}
        routes: list[BaseRoute] = [
            Route("/entry", self.entry, methods=["GET"]),
            Route("/", self.page(self.home), methods=["GET"]),
            Route("/home", self.back_home, methods=["GET", "POST"]),
            Mount("/assets", StaticFiles(directory=HERE / "static"), name="assets"),
            *own,
        ]
        for label, path in MENU:
            if path not in ("/home", *served):
                routes.append(Route(path, self.page(self.unavailable(label)), methods=["GET"]))
        return routes

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            if self.bank is not None:
                self.bank.start()
            try:
                yield
            finally:
                if self.bank is not None:
                    self.bank.stop()
                self.store.close()
                self.sessions.close()
                self.book.close()

        origins = (self.settings.agent_origin,) if self.settings.agent_origin else ()
        web = WebSettings(connect_origins=origins, form_origins=self.settings.bank_origins)
        return create_app(self.routes(), settings=web, lifespan=lifespan)
