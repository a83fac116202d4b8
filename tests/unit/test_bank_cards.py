"""The personas' cards (simulator/bank/cards.py): the newest certificate on the card, due as asked;
the earlier ones on a card of their own, long expired, as the bank's records say."""

from __future__ import annotations

from datetime import datetime

from fxml.clock import TAIWAN
from simulator.bank.cards import card_profile, earlier_card_profile
from simulator.bank.customers import persona

#: The manual's day, before step 3.
NOW = datetime(2023, 4, 17, 11, 10, 0, tzinfo=TAIWAN)


def test_the_card_holds_the_newest_certificate_due_in_27_days_at_the_end_of_the_day() -> None:
    profile = card_profile(persona("eoi").customer, NOW)
    [certificate] = profile["certificates"]
    assert certificate["cn_suffix"] == "2015"  # of 2012 and 2015, as on the manual's step-8 screen
    assert certificate["not_after"] == "2023-05-14T23:59:59+08:00"
    assert certificate["issued_at"] == "2021-05-14T10:00:00+08:00"


def test_a_card_may_end_when_the_manual_says() -> None:
    ends = datetime(2023, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
    profile = card_profile(persona("person").customer, NOW, not_after=ends)
    assert profile["certificates"][0]["not_after"] == ends.isoformat()
    assert profile["carrier"] == "小卡" and profile["holder_id"] == "A123456789"


def test_the_earlier_certificates_are_on_a_card_of_their_own_long_expired() -> None:
    eoi = persona("eoi").customer
    earlier = earlier_card_profile(eoi)
    assert earlier is not None
    assert earlier["card_serial"] != card_profile(eoi, NOW)["card_serial"]
    assert earlier["certificates"] == [{
        "container": "9A", "cn_suffix": "2012",
        "issued_at": "2012-05-14T10:00:00+08:00", "not_after": "2014-05-14T23:59:59+08:00",
    }]


def test_a_customer_with_one_certificate_has_no_earlier_card() -> None:
    assert earlier_card_profile(persona("corporate-3").customer) is None
