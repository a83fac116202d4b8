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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fxml.ca.client import CaClient
from fxml.clock import Clock
from fxml.platform import tickets
from fxml.platform.apply import Applications
from fxml.platform.bankapi import BankApiClient, api_key
from fxml.platform.banklink import BankLink
from fxml.platform.certificates import CustomerCertificates, Registration
from fxml.platform.checks import move_checks
from fxml.platform.download import Downloads
from fxml.platform.pages import COOKIE, CUSTOMER_KEY, MENU, PlatformPages, missing_ticket
from fxml.platform.pin import PinChange
from fxml.platform.query import CertificateQuery
from fxml.platform.renewals import RenewalBook, renewal_routes
from fxml.platform.store import STORE_FILE, PlatformStore
from fxml.platform.suspend import Suspension
from fxml.platform.wizard import Wizard
from fxml.renewal import api as record_api
from fxml.web.app import WebSettings, create_app, templates
from fxml.web.handlers import form
from fxml.web.sessions import CookiePolicy, SessionStore

#: The largest form the platform's pages send.
FORM_BODY: Final = 64 * 1024

__all__ = ["COOKIE", "HERE", "MENU", "Platform", "PlatformSettings"]

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


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
    #: The CA's admin token's file (FXMLSIM_CA_TOKEN_FILE): the platform is the RA of its customers (憑證暫禁).
    ca_token_file: Path | None = None
    extra_routes: tuple[BaseRoute, ...] = field(default=())


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
        # 憑證暫禁 with the CA's admin token, read once now (an unreadable file stops the start).
        self.registration = Registration.from_file(settings.ca_url, settings.ca_token_file)
        self.sessions = SessionStore(settings.state_dir / STORE_FILE, CookiePolicy(COOKIE),
                                     clock=lambda: self.clock.now().timestamp())
        self.templates = templates([HERE / "templates"])
        self.pages = PlatformPages(self.templates, self.sessions, self.clock)
        self.door = self.pages.door
        # The fax of step 9 and the renewal notices, to the bank, signed with a key derived from the ticket key.
        self.bank: BankLink | None = None
        if settings.bank_url:
            client = BankApiClient(settings.bank_url, api_key(settings.ticket_key), settings.clock)
            self.bank = BankLink(self.store, client)
            self.book.on_done.append(self.bank.renewal_done)

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
            raise
        self.door.rotate(request)[CUSTOMER_KEY] = {**ticket.to_json(), "system_label": ticket.system.label}
        self.store.audit(now, f"{ticket.system}:{ticket.customer_id}:{ticket.user_code}", "進入憑證管理平台", "OK")
        return RedirectResponse("/", status_code=303)

    async def home(self, request: Request) -> Response:
        return self.pages.render(request, "home.html")

    async def back_home(self, request: Request) -> Response:
        """回首頁 (a form, with its CSRF token): close the platform session and return to the
        system's menu. A GET (a link, or a page elsewhere making the browser ask) only
        returns: ending a session is no GET's business."""
        customer = request.state.principal
        if request.method == "POST":
            await form(request, max_fields=5)
        response: Response
        if customer is not None and customer.return_url.startswith(("http://", "https://")):
            response = RedirectResponse(customer.return_url, status_code=303)
        else:
            response = self.pages.refusal(request, missing_ticket())
        if request.method == "POST":
            self.door.end(request, response)
        return response

    # -- the app -----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        wizard = Wizard(self.pages, self.book, self.store, self.clock, ca=self.ca, bank=self.bank,
                        agent_url=self.settings.agent_origin or "")
        agent = self.settings.agent_origin or ""
        certificates = CustomerCertificates(self.ca)
        # 憑證申請 and 憑證下載 (beyond the manual): the application to the branch, the download with its 授權碼.
        downloads = Downloads(self.pages, self.book, self.store, self.clock, ca=self.ca, bank=self.bank,
                              agent_url=agent)
        own: list[BaseRoute] = [
            *wizard.routes(), *Applications(self.pages, self.store, self.clock, self.bank).routes(),
            *downloads.routes(), *renewal_routes(self.book, move_checks(self.ca)), *self.settings.extra_routes,
            *CertificateQuery(self.pages, certificates, agent).routes(), *PinChange(self.pages, agent).routes(),
            *Suspension(self.pages, certificates, self.store, self.registration).routes(),
        ]
        served = {route.path for route in own if isinstance(route, Route)}
        door = self.door
        routes: list[BaseRoute] = [
            Route("/entry", door.page(self.entry, anyone=True), methods=["GET"]),
            Route("/", door.page(self.home), methods=["GET"]),
            Route("/home", door.page(self.back_home, anyone=True), methods=["GET", "POST"]),
            Mount("/assets", StaticFiles(directory=HERE / "static"), name="assets"),
            *own,
        ]
        unserved = [label for label, path in MENU if path not in ("/home", *served)]
        if unserved:  # every item of the manual's menu has its page
            raise RuntimeError(f"the platform's menu has items without a page: {unserved}")
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
        # Forms are small; the record API's bodies (fxml.renewal.api.MAX_BODY) are the largest the platform reads.
        web = WebSettings(connect_origins=origins, form_origins=self.settings.bank_origins,
                          max_body=max(FORM_BODY, record_api.MAX_BODY))
        return create_app(self.routes(), settings=web, lifespan=lifespan)
