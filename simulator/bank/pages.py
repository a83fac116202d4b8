"""The pages of the bank's three systems: each system's session cookie and door (who is logged
in: :class:`~simulator.bank.auth.LoggedIn`), how a page and a refusal look.

:mod:`simulator.bank.app` (login, menu, the way to the platform) and
:mod:`simulator.bank.transfers` (臺幣轉帳) both write their handlers behind these doors
(:mod:`fxml.web.handlers`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fxml.clock import Clock
from fxml.errors import CodedError
from fxml.platform.tickets import System
from fxml.web import labels
from fxml.web.errors import error_page
from fxml.web.handlers import Door, session
from fxml.web.sessions import CookiePolicy, Session, SessionStore
from simulator.bank.auth import BankError, BankErrorCode, DeviceCookie, LoggedIn
from simulator.bank.store import STORE_FILE, BankStore
from simulator.bank.systems import SYSTEMS, SystemPage

#: Where a system's session keeps who logged in.
LOGIN_KEY: Final = "login"
#: The headings of refusal pages: what happened, in the customer's words.
NOT_LOGGED_IN_HEADING: Final = "尚未登入"
PLATFORM_REFUSED: Final = "無法進入憑證管理平台"


class BankPages:
    """The three systems' sessions, doors and page drawing, over the bank's store."""

    def __init__(self, store: BankStore, templates: Jinja2Templates, state_dir: Path, clock: Clock):
        self.store = store
        self.templates = templates
        self.clock = clock
        session_file = state_dir / STORE_FILE
        self.sessions = {
            page.system: SessionStore(session_file, CookiePolicy(f"bank_{page.system.value}_session", path=page.prefix),
                                      clock=lambda: clock.now().timestamp())
            for page in SYSTEMS
        }
        #: Each system's device cookie (auth.DeviceCookie): where a user logged in before.
        self.devices = {system: DeviceCookie.beside(sessions.policy, f"bank_{system.value}_device")
                        for system, sessions in self.sessions.items()}
        self.doors: dict[System, Door[LoggedIn]] = {
            page.system: Door(
                identify=functools.partial(self._logged_in, page),
                stranger=functools.partial(self._stranger, page),
                refuse=functools.partial(self._refusal, page),
                sessions=self.sessions[page.system],
                login_url=f"{page.prefix}/login",
            )
            for page in SYSTEMS
        }

    def close(self) -> None:
        for sessions in self.sessions.values():
            sessions.close()

    def render(self, request: Request, page: SystemPage, name: str, status: int = 200, **context: Any) -> Response:
        """A page of ``page``'s system, with its session's CSRF token for the page's forms."""
        return self.templates.TemplateResponse(
            request, name, {"page": page, "csrf_token": session(request).csrf_token, **context}, status_code=status,
        )

    # -- the doors' pieces ----------------------------------------------------------------------------
    def _logged_in(self, page: SystemPage, request: Request, found: Session | None) -> LoggedIn | None:
        data = found.get(LOGIN_KEY) if found is not None else None
        if not isinstance(data, dict):
            return None
        customer = self.store.customer(str(data.get("id_number")))
        user = customer.user(str(data.get("user_code"))) if customer else None
        if customer is None or user is None or customer.system is not page.system:
            return None
        return LoggedIn(page.system, customer, user)

    @staticmethod
    def _stranger(page: SystemPage, request: Request) -> BankError:
        return BankError(BankErrorCode.NOT_LOGGED_IN, f"請先登入{page.title}。", 401)

    def _refusal(self, page: SystemPage, request: Request, error: CodedError, *, back: str | None,
                 title: str | None) -> Response:
        """The refusal's page: what happened as its heading (``title``, else 尚未登入 or the system's
        name), the message the customer reads, the code only in small print; the system in the header."""
        heading = title or (NOT_LOGGED_IN_HEADING if error.code == BankErrorCode.NOT_LOGGED_IN else page.title)
        return error_page(self.templates, request, error, title=heading, system=page.title, back_url=back,
                          back_label=labels.BACK)
