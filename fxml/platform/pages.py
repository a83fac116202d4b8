"""The platform's pages: its session, its door (who came in: the :class:`~fxml.platform.tickets.Ticket`
a bank system handed them), its frame with the left menu, and how a refusal looks.

:mod:`fxml.platform.app` (the entrance, 回首頁) and :mod:`fxml.platform.wizard` (憑證更新,
憑證證明單列印) both write their handlers behind this door (:mod:`fxml.web.handlers`).
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from fxml.clock import Clock
from fxml.display import roc_date, time_text
from fxml.errors import CodedError
from fxml.platform import tickets
from fxml.platform.tickets import Ticket
from fxml.web import labels
from fxml.web.errors import error_page
from fxml.web.handlers import Door, session
from fxml.web.sessions import Session, SessionStore

COOKIE: Final = "fxml_platform_session"
#: Where the platform's session keeps who came in (the ticket's fields).
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


def signed_in(found: Session | None) -> Ticket | None:
    """The platform's principal: the ticket a session was opened with (who it let in, from which
    system), or None (no platform session, or not one the platform wrote)."""
    data = found.get(CUSTOMER_KEY) if found is not None else None
    if not isinstance(data, dict):
        return None
    try:
        return Ticket.from_json({k: v for k, v in data.items() if k != "system_label"})
    except tickets.TicketError:
        return None


def missing_ticket() -> tickets.TicketError:
    """The refusal of a platform page asked for without a platform session (401)."""
    return tickets.TicketError(tickets.TicketErrorCode.TICKET_MISSING, status=401)


class PlatformPages:
    """The platform's session, door and page drawing."""

    def __init__(self, templates: Jinja2Templates, sessions: SessionStore, clock: Clock):
        self.templates = templates
        self.sessions = sessions
        self.clock = clock
        self.door: Door[Ticket] = Door(
            identify=lambda request, found: signed_in(found),
            stranger=lambda request: missing_ticket(),
            refuse=self.refusal, sessions=sessions)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        """A page in the platform's frame: the menu, the customer, 查詢日期 and 查詢時間 (now)."""
        now = self.clock.now()
        context.setdefault("query_date", roc_date(now))
        context.setdefault("query_time", time_text(now))
        found = request.state.session
        return self.templates.TemplateResponse(request, name, {
            "menu": MENU, "customer": request.state.principal, "session": found,
            **({"csrf_token": found.csrf_token} if found is not None else {}), **context,
        }, status_code=status)

    def refusal(self, request: Request, error: CodedError, *, back: str | None = None,
                title: str | None = None) -> Response:
        """A refusal with a title (the wizard's: 憑證更新, 憑證證明單列印) in the platform's frame, the
        link back and the code; any other (no platform session, a refused ticket or form) on the bank's
        message page, titled FXML 憑證管理."""
        if title is None or request.state.principal is None:
            return error_page(self.templates, request, error, title=labels.PLATFORM_TITLE, back_label=labels.OK)
        now = self.clock.now()
        return error_page(self.templates, request, error, template="refusal.html", title=title, back_url=back,
                          back_label=labels.BACK, status=error.status or 409, menu=MENU,
                          customer=request.state.principal, session=session(request),
                          csrf_token=session(request).csrf_token, query_date=roc_date(now), query_time=time_text(now))
