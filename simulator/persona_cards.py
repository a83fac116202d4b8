"""A persona's chip card, as the features and the pytest plugin make it (docs/pytest.md).

The CA outlives a scenario or a test: what earlier ones issued to the customer and left valid is revoked
first (the bank replaced that card), so the customer holds what the bank's records say and no more. The
customer's earlier certificates (the EOI company's 2012 one) were issued long ago, on a card of their own
that stays in the drawer; once a home, since they have long expired.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fxml.ca.client import CaClient
from simulator.bank.cards import card_profile, earlier_card_profile
from simulator.bank.customers import Customer
from simulator.home import Home


def persona_card_profile(home: Home, ca: CaClient, customer: Customer, now: datetime, **dated: Any) -> dict[str, Any]:
    """The card profile of ``customer``'s card, its newest certificate due as ``dated`` says
    (:func:`simulator.bank.cards.card_profile`'s ``days_left``, ``not_after`` ...), with the CA made ready
    for it: earlier cards' valid certificates revoked, the long-expired earlier ones issued once."""
    known = ca.query(holder_id=customer.holder_id)
    for record in known:
        if record.renewed_by is None and record.status not in ("已廢止", "已過期"):
            ca.revoke(record.serial, "superseded")
    earlier = earlier_card_profile(customer)
    kept = {r.cn for r in known if r.status == "已過期"}
    if earlier is not None and not all(f"{customer.holder_id}-00-{c['cn_suffix']}" in kept
                                       for c in earlier["certificates"]):
        path = home.root / f"earlier-{customer.id_number}.json"
        path.write_text(json.dumps(earlier, ensure_ascii=False, indent=2), encoding="utf-8")
        home.create_card(path, name=f"earlier-{customer.id_number}", replace=True)
    return card_profile(customer, now, **dated)
