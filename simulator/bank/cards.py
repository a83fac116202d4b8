"""The chip card a customer of the bank holds: a card profile made from the customer.

The features and ``fxmlsim demo`` give each persona a virtual TWCA card whose
certificate is the customer's (holder id, name, CN suffix, carrier from the
bank's records), due for renewal on the stack's clock, so a renewal through
the platform finds the customer's certificate on the customer's card.
"""

from __future__ import annotations

import json
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from fxml.clock import TAIWAN
from simulator.bank.customers import Customer

#: The 憑證載具密碼 of the cards made here (test data; 6 to 8 letters and digits).
CARD_PIN: Final = "Fxml2015"
CARD_PUK: Final = "12345678"
#: Days left on the certificate: inside the CA's 30-day renewal window, as in the manual (27).
DAYS_LEFT: Final = 27


def card_profile(customer: Customer, now: datetime, *, days_left: int = DAYS_LEFT,
                 issued_at: datetime | None = None, pin: str = CARD_PIN) -> dict[str, Any]:
    """A card profile (fixtures/cards format) for the customer's first certificate, ending
    ``days_left`` days after ``now`` at 23:59:59 Taiwan time, issued two years before."""
    certificate = customer.certificates[0]
    ends = (now.astimezone(TAIWAN) + timedelta(days=days_left)).replace(hour=23, minute=59, second=59,
                                                                         microsecond=0)
    issued = issued_at or (ends - timedelta(days=730)).replace(hour=10, minute=0, second=0)
    serial_number = zlib.crc32(customer.id_number.encode()) % 10**10
    return {
        "holder_id": customer.holder_id,
        "holder_name": customer.name,
        "card_serial": f"TWCA-SIM-{serial_number:010d}",
        "carrier": certificate.carrier.value,
        "pin": pin,
        "puk": CARD_PUK,
        "certificates": [{
            "container": "9A", "cn_suffix": certificate.cn_suffix,
            "issued_at": issued.isoformat(), "not_after": ends.isoformat(),
        }],
    }


def write_card_profile(customer: Customer, now: datetime, target: Path, **kwargs: Any) -> Path:
    target.write_text(json.dumps(card_profile(customer, now, **kwargs), ensure_ascii=False, indent=2),
                      encoding="utf-8")
    return target
