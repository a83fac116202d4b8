"""The bank's three systems as one web app on loopback: 個人網路銀行 under
``/personal``, 企業網路銀行 under ``/corporate``, the EOI 系統 under ``/eoi``.

Each system has its login page, its menu, and its own session cookie scoped
to its path (cookies do not separate ports, and the platform shares the
host). Every form carries a CSRF token; the session is rotated at login.
The menu item that leads to the FXML platform is a form: the server checks
the manual's 客戶別 rules (:func:`simulator.bank.auth.check_platform_access`),
signs a ticket and sends the browser to the platform's ``/entry``.

Step 9 and after: each system's 臺幣轉帳 (:mod:`simulator.bank.transfers`),
signed on the card through the local card agent; the branch back office
under ``/branch`` (:mod:`simulator.bank.branch`); the platform's signed
requests under ``/api/platform`` (:mod:`simulator.bank.platform_api`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fxml.ca.client import CaClient, read_token
from fxml.clock import Clock
from fxml.errors import CodedError
from fxml.platform import bankapi, tickets
from fxml.web.app import WebSettings, create_app, templates
from fxml.web.handlers import form, principal, texts
from fxml.web.sessions import CsrfError
from simulator.bank.applications import Registrar
from simulator.bank.auth import BankError, LoggedIn, Logins, check_platform_access
from simulator.bank.branch import PREFIX as BRANCH_PREFIX
from simulator.bank.branch import BranchOffice
from simulator.bank.certificates import CertificateChecks
from simulator.bank.pages import LOGIN_KEY, PLATFORM_REFUSED, BankPages
from simulator.bank.platform_api import PlatformApi
from simulator.bank.resume import Resumption
from simulator.bank.store import BankStore
from simulator.bank.systems import SYSTEMS, SystemPage
from simulator.bank.transfers import Transfers

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BankSettings:
    state_dir: Path
    ticket_key: bytes
    clock: Clock
    #: The FXML platform's base URL (where tickets are sent).
    platform_url: str
    hash_profile: str = "default"
    lock_after: int = 3
    #: The CA the bank asks about certificates (transfers, 憑證展期建檔, renewal notices).
    ca_url: str | None = None
    #: The local card agent the transfer pages sign through (CSP connect-src).
    agent_url: str | None = None
    #: The bank's own base URL (where 回首頁 leads back to); never taken from the request's Host.
    public_url: str | None = None
    #: The CA's admin token's file (FXMLSIM_CA_TOKEN_FILE): the bank is the registration authority
    #: (the branch's 解除暫禁; its approval of an application registers the name and has the CA issue
    #: the 授權碼).
    ca_token_file: Path | None = None


class SystemSite:
    """One system's own pages (``/personal``, ``/corporate``, ``/eoi``): its login, its menu, the way
    into the platform (the manual's step 1), its users; each handler behind the system's door."""

    def __init__(self, page: SystemPage, pages: BankPages, logins: Logins, settings: BankSettings):
        self.page = page
        self.pages = pages
        self.door = pages.doors[page.system]
        self.device = pages.devices[page.system]
        self.logins = logins
        self.store = pages.store
        self.settings = settings
        self.clock = settings.clock

    def routes(self) -> list[BaseRoute]:
        door, menu = self.door, f"{self.page.prefix}/menu"
        return [
            Route("/", door.page(self.root, anyone=True), methods=["GET"]),
            Route("/login", door.page(self.login_page, anyone=True), methods=["GET"]),
            Route("/login", door.page(self.login, anyone=True), methods=["POST"]),
            Route("/menu", door.page(self.menu, anyone=True), methods=["GET"]),
            Route("/fxml", door.page(self.to_platform, back=menu, title=PLATFORM_REFUSED), methods=["POST"]),
            Route("/fxml", door.page(self.platform_page, back=menu, title=PLATFORM_REFUSED), methods=["GET"]),
            Route("/logout", door.page(self.logout, anyone=True, back=menu), methods=["POST"]),
            *([Route("/users", door.page(self.users), methods=["GET"])] if self.page.users_item else []),
        ]

    async def root(self, request: Request) -> Response:
        target = "menu" if request.state.principal else "login"
        return RedirectResponse(f"{self.page.prefix}/{target}", status_code=303)

    async def login_page(self, request: Request) -> Response:
        return self.pages.render(request, self.page, "login.html")

    async def login(self, request: Request) -> Response:
        try:
            fields = texts(await form(request))
        except CsrfError as exc:
            return self.pages.render(request, self.page, "login.html", status=403, error=exc)
        id_number, user_code = fields.get("id_number", ""), fields.get("user_code", "")
        try:
            # argon2 takes ~0.1 s by design: in a worker thread, never on the event loop.
            who = await run_in_threadpool(self.logins.login, self.page.system, id_number, user_code,
                                          fields.get("password", ""), self.device.token(request))
        except BankError as exc:
            return self.pages.render(request, self.page, "login.html", status=exc.status, error=exc,
                                     id_number=id_number, user_code=user_code)
        self.door.rotate(request)[LOGIN_KEY] = {"id_number": who.customer.id_number, "user_code": who.user.user_code}
        response = RedirectResponse(f"{self.page.prefix}/menu", status_code=303)
        if who.device is not None:
            self.device.set(response, who.device)
        return response

    async def menu(self, request: Request) -> Response:
        who = request.state.principal
        if who is None:
            return RedirectResponse(f"{self.page.prefix}/login", status_code=303)
        return self.pages.render(request, self.page, "menu.html", who=who)

    async def to_platform(self, request: Request) -> Response:
        """The menu item that leads to the platform (a form): the 客戶別 rules, then a signed ticket."""
        who = principal(request, LoggedIn)
        try:
            await form(request)
            check_platform_access(who)
        except CodedError as exc:
            self.store.audit(self.clock.now(), self.page.system.value, who.actor, "進入憑證管理平台", exc.code)
            raise
        ticket = tickets.Ticket(
            system=self.page.system,
            customer_id=who.customer.id_number,
            customer_name=who.customer.name,
            user_code=who.user.user_code,
            customer_type=getattr(who.customer, "customer_type", None),
            holder_id=who.customer.holder_id,
            return_url=f"{self._base(request)}{self.page.prefix}/menu",
        )
        text = tickets.issue(ticket, self.settings.ticket_key, self.clock)
        self.store.audit(self.clock.now(), self.page.system.value, who.actor, "進入憑證管理平台", "OK")
        target = f"{self.settings.platform_url.rstrip('/')}/entry?{urlencode({'ticket': text})}"
        return RedirectResponse(target, status_code=303)

    async def platform_page(self, request: Request) -> Response:
        """The platform's menu path typed as a URL: the same rules, then a button to go on."""
        who = principal(request, LoggedIn)
        try:
            check_platform_access(who)
        except BankError as exc:
            self.store.audit(self.clock.now(), self.page.system.value, who.actor, "進入憑證管理平台", exc.code)
            raise
        return self.pages.render(request, self.page, "menu.html", who=who)

    async def users(self, request: Request) -> Response:
        """使用者管理 / 使用者維護: the company's user codes (read only), as the bank keeps them."""
        return self.pages.render(request, self.page, "users.html", who=principal(request, LoggedIn))

    async def logout(self, request: Request) -> Response:
        await form(request)
        response = RedirectResponse(f"{self.page.prefix}/login", status_code=303)
        self.door.end(request, response)
        return response

    def _base(self, request: Request) -> str:
        """The bank's base URL: the configured one, else the address the request reached
        (its socket, never the Host header a client chose)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        server = request.scope.get("server")
        return f"http://{server[0]}:{server[1]}" if server else "http://127.0.0.1"


class BankApp:
    """The bank's state and its three systems; :meth:`app` is the ASGI application."""

    def __init__(self, settings: BankSettings, store: BankStore, logins: Logins,
                 checks: CertificateChecks | None = None, registrar: Registrar | None = None):
        self.settings = settings
        self.clock = settings.clock
        self.store = store
        self.logins = logins
        self.templates = templates([HERE / "templates"])
        self.pages = BankPages(store, self.templates, settings.state_dir, settings.clock)
        if checks is None and settings.ca_url:
            checks = CertificateChecks(CaClient(settings.ca_url, actor="bank"))
        self.checks = checks
        agent = settings.agent_url.rstrip("/") if settings.agent_url else None
        self.transfers = Transfers(self.pages, checks, agent)
        token = read_token(settings.ca_token_file) if settings.ca_url and settings.ca_token_file else None
        if registrar is None and settings.ca_url and token:
            registrar = CaClient(settings.ca_url, actor="bank-ra", retries=0, token=token)
        self.branch = BranchOffice(store, logins, checks, settings.state_dir, self.templates, registrar)
        self.resumption = Resumption(self.branch, settings.ca_url, token)
        self.platform_api = PlatformApi(store, self.clock, bankapi.api_key(settings.ticket_key), checks)

    async def index(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "index.html", {"systems": SYSTEMS})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET"]),
            *(Mount(page.prefix, routes=[*SystemSite(page, self.pages, self.logins, self.settings).routes(),
                                         *self.transfers.routes(page)]) for page in SYSTEMS),
            Mount(BRANCH_PREFIX, routes=[*self.branch.routes(), *self.resumption.routes()]),
            *self.platform_api.routes(),
            Mount("/assets", StaticFiles(directory=HERE / "static"), name="assets"),
        ]

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                self.pages.close()
                self.branch.close()
                self.store.close()

        platform = self.settings.platform_url.rstrip("/")
        agent = (self.settings.agent_url.rstrip("/"),) if self.settings.agent_url else ()
        # The platform's faxes carry the proof sheet's PDF: the bank reads bodies up to bankapi.MAX_BODY.
        web = WebSettings(form_origins=(platform,), connect_origins=agent, max_body=bankapi.MAX_BODY)
        return create_app(self.routes(), settings=web, lifespan=lifespan)
