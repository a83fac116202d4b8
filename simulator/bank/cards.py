"""The chip card a customer of the bank holds: a card profile made from the customer.

The features and ``fxmlsim demo`` give each persona a virtual TWCA card whose
certificate is the customer's (holder id, name, CN suffix, carrier from the
bank's records), due for renewal on the stack's clock, so a renewal through
the platform finds the customer's certificate on the customer's card.

A customer with several certificates (persona ``eoi``: 2012 and 2015, as on the
manual's step-8 screen) holds the newest on the card; :func:`earlier_card_profile`
makes the card of the earlier ones, long expired, so that the CA knows them too.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from fxml.clock import TAIWAN
from simulator.bank.customers import Certificate, Customer

#: The 憑證載具密碼 of the cards made here (test data; 6 to 8 letters and digits).
CARD_PIN: Final = "Fxml2015"
CARD_PUK: Final = "12345678"
#: Days left on the certificate: inside the CA's 30-day renewal window, as in the manual (27).
DAYS_LEFT: Final = 27
#: How long a certificate is valid when first issued (the CA's two years).
VALIDITY: Final = timedelta(days=730)


def _card_serial(customer: Customer, salt: str = "") -> str:
    return f"TWCA-SIM-{zlib.crc32((customer.id_number + salt).encode()) % 10**10:010d}"


def card_certificate(customer: Customer) -> Certificate:
    """The certificate on the customer's card: the newest (the last of the bank's records)."""
    return customer.certificates[-1]


def card_profile(customer: Customer, now: datetime, *, days_left: int = DAYS_LEFT,
                 issued_at: datetime | None = None, pin: str = CARD_PIN,
                 not_after: datetime | None = None) -> dict[str, Any]:
    """A card profile (fixtures/cards format) for the customer's newest certificate, ending ``days_left``
    days after ``now`` at 23:59:59 Taiwan time (or at ``not_after``), issued two years before."""
    certificate = card_certificate(customer)
    if not_after is not None:
        ends = not_after.astimezone(TAIWAN)
    else:
        ends = (now.astimezone(TAIWAN) + timedelta(days=days_left)).replace(hour=23, minute=59, second=59,
                                                                             microsecond=0)
    issued = issued_at or (ends - VALIDITY).replace(hour=10, minute=0, second=0)
    return {
        "holder_id": customer.holder_id,
        "holder_name": customer.name,
        "card_serial": _card_serial(customer),
        "carrier": certificate.carrier.value,
        "pin": pin,
        "puk": CARD_PUK,
        "certificates": [{
            "container": "9A", "cn_suffix": certificate.cn_suffix,
            "issued_at": issued.isoformat(), "not_after": ends.isoformat(),
        }],
    }


def earlier_card_profile(customer: Customer) -> dict[str, Any] | None:
    """The card of the customer's earlier certificates (all but the newest), or None without any.

    Each was applied for in the year its CN suffix names (a year, as the bank's suffixes are) on
    05-14 and ended two years later, so it is long expired; a suffix that is no year counts as
    2012. The card itself is never inserted: it makes the CA hold those certificates."""
    earlier = customer.certificates[:-1]
    if not earlier:
        return None
    entries = []
    for index, certificate in enumerate(earlier[:2]):  # two containers, 9A and 9C
        year = int(certificate.cn_suffix) if certificate.cn_suffix.isdigit() and len(certificate.cn_suffix) == 4 \
            else 2012
        issued = datetime(year, 5, 14, 10, 0, 0, tzinfo=TAIWAN)
        ends = (issued + VALIDITY).replace(hour=23, minute=59, second=59)
        entries.append({"container": ("9A", "9C")[index], "cn_suffix": certificate.cn_suffix,
                        "issued_at": issued.isoformat(), "not_after": ends.isoformat()})
    return {
        "holder_id": customer.holder_id,
        "holder_name": customer.name,
        "card_serial": _card_serial(customer, "earlier"),
        "carrier": earlier[0].carrier.value,
        "pin": CARD_PIN,
        "puk": CARD_PUK,
        "certificates": entries,
    }


def write_card_profile(customer: Customer, now: datetime, target: Path, **kwargs: Any) -> Path:
    target.write_text(json.dumps(card_profile(customer, now, **kwargs), ensure_ascii=False, indent=2),
                      encoding="utf-8")
    return target
