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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fxml.ca.client import CaClient
from fxml.clock import Clock
from fxml.platform import bankapi, tickets
from fxml.web.app import WebSettings, create_app, templates
from fxml.web.sessions import CookiePolicy, CsrfError, Session, SessionStore, check_csrf
from simulator.bank.auth import BankError, BankErrorCode, DeviceCookie, LoggedIn, Logins, check_platform_access
from simulator.bank.branch import PREFIX as BRANCH_PREFIX
from simulator.bank.branch import BranchOffice
from simulator.bank.certificates import CertificateChecks
from simulator.bank.platform_api import PlatformApi
from simulator.bank.store import STORE_FILE, BankStore
from simulator.bank.systems import SYSTEMS, SystemPage
from simulator.bank.transfers import Transfers

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
LOGIN_KEY: Final = "login"
#: The headings of refusal pages: what happened, in the customer's words.
NOT_LOGGED_IN_HEADING: Final = "尚未登入"
PLATFORM_REFUSED: Final = "無法進入憑證管理平台"


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


class BankApp:
    """The bank's state and its three systems; :meth:`app` is the ASGI application."""

    def __init__(self, settings: BankSettings, store: BankStore, logins: Logins,
                 checks: CertificateChecks | None = None):
        self.settings = settings
        self.clock = settings.clock
        self.store = store
        self.logins = logins
        self.templates = templates([HERE / "templates"])
        session_file = settings.state_dir / STORE_FILE
        self.sessions = {
            page.system: SessionStore(session_file, CookiePolicy(f"bank_{page.system.value}_session", path=page.prefix),
                                      clock=lambda: self.clock.now().timestamp())
            for page in SYSTEMS
        }
        #: Each system's device cookie (auth.DeviceCookie): where a user logged in before.
        self.devices = {system: DeviceCookie.beside(sessions.policy, f"bank_{system.value}_device")
                        for system, sessions in self.sessions.items()}
        if checks is None and settings.ca_url:
            checks = CertificateChecks(CaClient(settings.ca_url, actor="bank"))
        self.checks = checks
        agent = settings.agent_url.rstrip("/") if settings.agent_url else None
        self.transfers = Transfers(self, checks, agent)
        self.branch = BranchOffice(store, logins, checks, settings.state_dir, self.templates)
        self.platform_api = PlatformApi(store, self.clock, bankapi.api_key(settings.ticket_key), checks)

    # -- pieces -------------------------------------------------------------------------------
    def _render(self, request: Request, page: SystemPage, name: str, session: Session, status: int = 200,
                **context: Any) -> Response:
        response = self.templates.TemplateResponse(
            request, name, {"page": page, "csrf_token": session.csrf_token, **context}, status_code=status,
        )
        self.sessions[page.system].save(session, response)
        return response

    def _refusal(self, request: Request, page: SystemPage, session: Session, error: BankError,
                 back: str | None = None, heading: str | None = None) -> Response:
        """The refusal's page: what happened as its heading (``heading``, else 尚未登入 or the system's
        name), the message the customer reads, the code only in small print; the system in the header."""
        title = heading or (NOT_LOGGED_IN_HEADING if error.code is BankErrorCode.NOT_LOGGED_IN else page.title)
        response = self.templates.TemplateResponse(request, "message.html", {
            "title": title, "system": page.title, "message": error.message, "code": error.code, "kind": "error",
            "back_url": back, "back_label": "回上頁",
        }, status_code=error.status)
        self.sessions[page.system].save(session, response)
        return response

    def _not_logged_in(self, request: Request, page: SystemPage, session: Session) -> Response:
        error = BankError(BankErrorCode.NOT_LOGGED_IN, f"請先登入{page.title}。", 401)
        return self._refusal(request, page, session, error, f"{page.prefix}/login")

    def _logged_in(self, page: SystemPage, session: Session) -> LoggedIn | None:
        data = session.get(LOGIN_KEY)
        if not isinstance(data, dict):
            return None
        customer = self.store.customer(str(data.get("id_number")))
        user = customer.user(str(data.get("user_code"))) if customer else None
        if customer is None or user is None or customer.system is not page.system:
            return None
        return LoggedIn(page.system, customer, user)

    async def _form(self, request: Request, session: Session) -> dict[str, str]:
        form = await request.form(max_files=0, max_fields=20)
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        check_csrf(session, fields)
        return fields

    # -- the pages of one system --------------------------------------------------------------
    def system_routes(self, page: SystemPage) -> list[BaseRoute]:
        sessions = self.sessions[page.system]

        async def root(request: Request) -> Response:
            session = sessions.load(request)
            target = "menu" if self._logged_in(page, session) else "login"
            return RedirectResponse(f"{page.prefix}/{target}", status_code=303)

        async def login_page(request: Request) -> Response:
            session = sessions.load(request)
            return self._render(request, page, "login.html", session)

        async def login(request: Request) -> Response:
            session = sessions.load(request)
            try:
                form = await self._form(request, session)
            except CsrfError as exc:
                error = BankError(BankErrorCode.CSRF_FAILED, exc.message, 403)
                return self._render(request, page, "login.html", session, status=403, error=error)
            id_number = form.get("id_number", "")
            user_code = form.get("user_code", "")
            try:
                # argon2 takes ~0.1 s by design: in a worker thread, never on the event loop.
                who = await run_in_threadpool(self.logins.login, page.system, id_number, user_code,
                                              form.get("password", ""), self.devices[page.system].token(request))
            except BankError as exc:
                return self._render(request, page, "login.html", session, status=exc.status, error=exc,
                                    id_number=id_number, user_code=user_code)
            fresh = sessions.rotate(session)
            fresh.data.clear()
            fresh[LOGIN_KEY] = {"id_number": who.customer.id_number, "user_code": who.user.user_code}
            response = RedirectResponse(f"{page.prefix}/menu", status_code=303)
            sessions.save(fresh, response)
            if who.device is not None:
                self.devices[page.system].set(response, who.device)
            return response

        async def menu(request: Request) -> Response:
            session = sessions.load(request)
            who = self._logged_in(page, session)
            if who is None:
                return RedirectResponse(f"{page.prefix}/login", status_code=303)
            return self._render(request, page, "menu.html", session, who=who)

        async def to_platform(request: Request) -> Response:
            session = sessions.load(request)
            who = self._logged_in(page, session)
            if who is None:
                return self._not_logged_in(request, page, session)
            try:
                await self._form(request, session)
                check_platform_access(who)
            except CsrfError as exc:
                error = BankError(BankErrorCode.CSRF_FAILED, exc.message, 403)
                self.store.audit(self.clock.now(), page.system.value, who.actor, "進入憑證管理平台", error.code)
                return self._refusal(request, page, session, error, f"{page.prefix}/menu", PLATFORM_REFUSED)
            except BankError as exc:
                self.store.audit(self.clock.now(), page.system.value, who.actor, "進入憑證管理平台", exc.code)
                return self._refusal(request, page, session, exc, f"{page.prefix}/menu", PLATFORM_REFUSED)
            ticket = tickets.Ticket(
                system=page.system,
                customer_id=who.customer.id_number,
                customer_name=who.customer.name,
                user_code=who.user.user_code,
                customer_type=getattr(who.customer, "customer_type", None),
                holder_id=who.customer.holder_id,
                return_url=f"{self._base(request)}{page.prefix}/menu",
            )
            text = tickets.issue(ticket, self.settings.ticket_key, self.clock)
            self.store.audit(self.clock.now(), page.system.value, who.actor, "進入憑證管理平台", "OK")
            target = f"{self.settings.platform_url.rstrip('/')}/entry?{urlencode({'ticket': text})}"
            response = RedirectResponse(target, status_code=303)
            sessions.save(session, response)
            return response

        async def platform_page(request: Request) -> Response:
            """The platform's menu path typed as a URL: the same rules, then a button to go on."""
            session = sessions.load(request)
            who = self._logged_in(page, session)
            if who is None:
                return self._not_logged_in(request, page, session)
            try:
                check_platform_access(who)
            except BankError as exc:
                self.store.audit(self.clock.now(), page.system.value, who.actor, "進入憑證管理平台", exc.code)
                return self._refusal(request, page, session, exc, f"{page.prefix}/menu", PLATFORM_REFUSED)
            return self._render(request, page, "menu.html", session, who=who)

        async def users(request: Request) -> Response:
            """使用者管理 / 使用者維護: the company's user codes (read only), as the bank keeps them."""
            session = sessions.load(request)
            who = self._logged_in(page, session)
            if who is None:
                return self._not_logged_in(request, page, session)
            return self._render(request, page, "users.html", session, who=who)

        async def logout(request: Request) -> Response:
            session = sessions.load(request)
            try:
                await self._form(request, session)
            except CsrfError as exc:
                error = BankError(BankErrorCode.CSRF_FAILED, exc.message, 403)
                return self._refusal(request, page, session, error, f"{page.prefix}/menu")
            sessions.delete(session)
            response = RedirectResponse(f"{page.prefix}/login", status_code=303)
            sessions.clear_cookie(response)
            return response

        return [
            Route("/", root, methods=["GET"]),
            Route("/login", login_page, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/menu", menu, methods=["GET"]),
            Route("/fxml", to_platform, methods=["POST"]),
            Route("/fxml", platform_page, methods=["GET"]),
            Route("/logout", logout, methods=["POST"]),
            *([Route("/users", users, methods=["GET"])] if page.users_item else []),
            *self.transfers.routes(page),
        ]

    def _base(self, request: Request) -> str:
        """The bank's base URL: the configured one, else the address the request reached
        (its socket, never the Host header a client chose)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        server = request.scope.get("server")
        return f"http://{server[0]}:{server[1]}" if server else "http://127.0.0.1"

    async def index(self, request: Request) -> Response:
        return self.templates.TemplateResponse(request, "index.html", {"systems": SYSTEMS})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/", self.index, methods=["GET"]),
            *(Mount(page.prefix, routes=self.system_routes(page)) for page in SYSTEMS),
            Mount(BRANCH_PREFIX, routes=self.branch.routes()),
            *self.platform_api.routes(),
            Mount("/assets", StaticFiles(directory=HERE / "static"), name="assets"),
        ]

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            try:
                yield
            finally:
                for sessions in self.sessions.values():
                    sessions.close()
                self.branch.close()
                self.store.close()

        platform = self.settings.platform_url.rstrip("/")
        agent = (self.settings.agent_url.rstrip("/"),) if self.settings.agent_url else ()
        # The platform's faxes carry the proof sheet's PDF: the bank reads bodies up to bankapi.MAX_BODY.
        web = WebSettings(form_origins=(platform,), connect_origins=agent, max_body=bankapi.MAX_BODY)
        return create_app(self.routes(), settings=web, lifespan=lifespan)


Handler = Callable[[Request], Awaitable[Response]]
