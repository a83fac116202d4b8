"""What the steps of the platform's pages beyond the manual (憑證查詢, 憑證載具密碼變更, 憑證暫禁) share:
the CA as the steps ask it (its API, never the page), the card in the reader as PC/SC reads it, the
platform's audit log as its file holds it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from behave.runner import Context
from cryptography import x509

from fxml.ca.client import CaClient, CertificateRecord
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.platform.store import STORE_FILE, PlatformStore
from simulator.home import Home
from simulator.services import PLATFORM


def ca(context: Context) -> CaClient:
    """The CA as the steps ask it (the admin token too: a step may set up what a scenario needs)."""
    return CaClient.from_env(context.stack_env, actor="features")


def card_certificates(context: Context) -> list[x509.Certificate]:
    """The certificates on the card in the reader now, in container order (9A, then 9C)."""
    with PcscConnection(context.card["reader"]) as connection:
        card = PivCardClient(connection)
        card.select()
        return [c.certificate for c in card.list_certificates()]


def card_serials(context: Context) -> list[str]:
    return [f"{cert.serial_number:X}" for cert in card_certificates(context)]


def card_serial(context: Context) -> str:
    """The serial of the certificate the card held when it was inserted (the one the customer uses)."""
    return f"{context.card['before'][0][1].serial_number:X}"


def customer_records(context: Context) -> list[CertificateRecord]:
    """The signed-in customer's certificates at the CA, the newest issued first."""
    return list(reversed(ca(context).query(holder_id=context.customer.holder_id)))


@contextmanager
def platform_store(context: Context) -> Iterator[PlatformStore]:
    home: Home = context.home
    store = PlatformStore(home.root / str(PLATFORM.state_dir) / STORE_FILE)
    try:
        yield store
    finally:
        store.close()
