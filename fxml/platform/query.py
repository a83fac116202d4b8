"""憑證查詢: the signed-in customer's certificates at the CA, the newest first, and which of them
are on the card in the reader.

The manual shows no screen of it (beyond the manual, in the style of the screens it shows: the
frame, the menu, 查詢日期/查詢時間). ``GET /query`` lists each certificate the CA issued to the
customer (the ticket's holder id): 憑證 Common Name, 簽章憑證序號, 憑證儲存媒體, 憑證生效日,
憑證到期日 and 憑證狀態 (正常, 暫禁, 已廢止, 已過期: the CA's, on its clock). The card is read by the
page's script through the card agent (``static/query.js``, no PIN needed): the rows of the
certificates on the inserted card say so, with the card's own 憑證儲存媒體 (憑證晶片卡(大卡) or
(小卡)); the platform itself never reaches the card.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fxml.platform.certificates import CertificateRow, CustomerCertificates
from fxml.platform.pages import PlatformPages
from fxml.platform.tickets import Ticket
from fxml.web import labels
from fxml.web.handlers import principal


class CertificateQuery:
    """憑證查詢, behind the platform's door."""

    def __init__(self, pages: PlatformPages, certificates: CustomerCertificates, agent_url: str = ""):
        self.pages = pages
        self.certificates = certificates
        self.agent_url = agent_url

    def routes(self) -> list[BaseRoute]:
        door = self.pages.door
        return [Route("/query", door.page(self.query, back="/", title=labels.MENU_QUERY), methods=["GET"])]

    async def query(self, request: Request) -> Response:
        customer = principal(request, Ticket)
        rows = [CertificateRow.of(c) for c in await self.certificates.newest_first(customer)]
        return self.pages.render(request, "query.html", rows=rows, agent_url=self.agent_url,
                                 holder_id=customer.holder_id, agent_missing=labels.AGENT_MISSING)


__all__ = ["CertificateQuery"]
