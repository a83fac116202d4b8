"""憑證載具密碼變更: the customer changes the card's PIN, on the card, through the card agent.

The manual shows no screen of it (beyond the manual, in the style of the screens it shows). The
page (``GET /pin-change``) asks for 原憑證載具密碼, 新憑證載具密碼 and the new one again; its script
(``static/pin.js``) reads the inserted card through the card agent (憑證儲存媒體, whose card it is,
whether it is locked) and sends the two PINs to the agent only (``POST /v1/pin-changes``: CHANGE
REFERENCE DATA on the card, docs/agent.md). The platform never sees a PIN and never reaches the
card: it draws the page, and the card's rules are the card's (and the agent's, which checks them
before anything is sent): 6 to 8 ASCII letters or digits, not the old PIN. A wrong old PIN is
counted on the card, and the page says how many tries remain; a locked card says where to go
(the 申辦分行).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fxml.platform.pages import PlatformPages
from fxml.platform.tickets import Ticket
from fxml.web import labels
from fxml.web.handlers import principal


class PinChange:
    """憑證載具密碼變更, behind the platform's door."""

    def __init__(self, pages: PlatformPages, agent_url: str = ""):
        self.pages = pages
        self.agent_url = agent_url

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        return [Route("/pin-change", door.page(self.page, back="/", title=labels.MENU_PIN_CHANGE), methods=["GET"])]

    async def page(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        return self.pages.render(request, "pin_change.html", agent_url=self.agent_url, holder_id=customer.holder_id,
                                 agent_missing=labels.AGENT_MISSING)


__all__ = ["PinChange"]
