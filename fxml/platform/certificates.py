"""What the platform's 憑證查詢 and 憑證暫禁 share: the signed-in customer's certificates at the CA,
as a table's rows, and the platform as the customer's registration authority.

The CA is reached only through the engine's client (:class:`fxml.ca.client.CaClient`): reads with
no token, as any program of the machine may; the RA's operations (暫禁) with the CA's admin token,
which the platform reads once at its start from the file its settings name
(``FXMLSIM_CA_TOKEN_FILE``, exported by ``fxmlsim up``). Every change names the customer who asked
(the CA's ``actor``: ``fxml-platform:<system>:<customer>:<user>``), and only the customer's own
certificates are asked about: another's serial is answered as one that names nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from starlette.concurrency import run_in_threadpool

from fxml.ca.client import CaClient, CertificateRecord, read_token
from fxml.display import taiwan_text
from fxml.errors import CodedError
from fxml.platform.tickets import Ticket
from fxml.web import ids


@enum.unique
class CertificateErrorCode(enum.StrEnum):
    """The refusals of 憑證查詢 and 憑證暫禁 (the CA refuses with its own codes, passed on)."""

    CA_NOT_CONFIGURED = "CA_NOT_CONFIGURED"
    RA_NOT_CONFIGURED = "RA_NOT_CONFIGURED"
    CERT_NOT_SELECTED = "CERT_NOT_SELECTED"
    CERT_NOT_CUSTOMERS = "CERT_NOT_CUSTOMERS"


Code = CertificateErrorCode

STATUS: Final = {
    Code.CA_NOT_CONFIGURED: 503,
    Code.RA_NOT_CONFIGURED: 503,
    Code.CERT_NOT_SELECTED: 400,
    Code.CERT_NOT_CUSTOMERS: 404,
}
MESSAGES: Final = {
    Code.CA_NOT_CONFIGURED: "憑證管理平台未設定憑證中心位址，請洽系統管理員。",
    Code.RA_NOT_CONFIGURED: "憑證管理平台目前無法向憑證中心辦理憑證暫禁，請洽申辦分行辦理。",
    Code.CERT_NOT_SELECTED: "請選擇欲暫禁的憑證。",
    Code.CERT_NOT_CUSTOMERS: "查無此憑證，請由「憑證暫禁」重新選擇。",
}


class CertificateError(CodedError):
    """A refusal of 憑證查詢 or 憑證暫禁: a :class:`CertificateErrorCode`, its zh-TW message and status."""

    STATUS = STATUS
    MESSAGES = MESSAGES
    default_status = 409


@dataclass(frozen=True)
class Registration:
    """The platform as the registration authority of its signed-in customers: the CA's RA
    operations, with the admin token (never shown, never logged)."""

    ca_url: str
    token: str = field(repr=False)

    @classmethod
    def from_file(cls, ca_url: str | None, token_file: Path | None) -> Registration | None:
        """The RA of the platform whose CA is ``ca_url``, with the token in ``token_file``; None
        without either (暫禁 is then refused, RA_NOT_CONFIGURED). An unreadable file is the CA
        client's ADMIN_TOKEN_REQUIRED, raised at the platform's start."""
        if not ca_url or token_file is None:
            return None
        return cls(ca_url, read_token(token_file))

    def client(self, customer: Ticket) -> CaClient:
        """The CA's client acting for ``customer`` (the CA's audit names them)."""
        return CaClient(self.ca_url, actor=f"fxml-platform:{customer.actor}", token=self.token)


@dataclass(frozen=True)
class CertificateRow:
    """A certificate as 憑證查詢 and 憑證暫禁 show it."""

    serial: str
    cn: str
    not_before: str
    not_after: str
    status: str
    suspended_at: str | None

    @classmethod
    def of(cls, record: CertificateRecord) -> CertificateRow:
        return cls(record.serial, record.cn, taiwan_text(record.not_before), taiwan_text(record.not_after),
                   record.status, taiwan_text(record.suspended_at) if record.suspended_at else None)


class CustomerCertificates:
    """The signed-in customer's certificates at the CA (by the ticket's holder id)."""

    def __init__(self, ca: CaClient | None):
        self._ca = ca

    @property
    def ca(self) -> CaClient:
        if self._ca is None:
            raise CertificateError(Code.CA_NOT_CONFIGURED)
        return self._ca

    async def newest_first(self, customer: Ticket) -> list[CertificateRecord]:
        """Every certificate of the customer, the newest issued first."""
        records = await run_in_threadpool(self.ca.query, customer.holder_id)
        return list(reversed(records))

    async def one(self, customer: Ticket, serial: str) -> CertificateRecord:
        """The customer's certificate ``serial`` (ASCII hex, any case); CERT_NOT_CUSTOMERS for a
        serial that is no id at all (before the CA is asked), another customer's or none."""
        wanted = ids.hex_id(serial)
        if wanted is None:
            raise CertificateError(Code.CERT_NOT_CUSTOMERS)
        found = [c for c in await self.newest_first(customer) if c.serial == wanted]
        if not found:
            raise CertificateError(Code.CERT_NOT_CUSTOMERS)
        return found[0]


__all__ = ["CertificateError", "CertificateErrorCode", "CertificateRow", "CustomerCertificates", "Registration"]
