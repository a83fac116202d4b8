"""The platform → bank contract (fxml/platform/bankapi.py) and the bank's side of it in process:
the signature over method, path, time, nonce and body; the fax filed in the inbox of the customer's
申辦分行 with the time it arrived; the renewal notice that binds the new certificate for 個人網路銀行
and 企業網路銀行 and waits for the branch's filing in the EOI 系統. Every refusal leaves the bank's
records as they were (one audit line aside). The same against real processes:
tests/integration/test_step9_processes.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fxml.clock import TAIWAN, FixedClock
from fxml.platform import bankapi
from fxml.platform.bankapi import BankApiError, ErrorCode
from tests.support.bank import NOW, Bank, assert_only_refusal_recorded, customer

KEY = bankapi.api_key(b"k" * 32)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


# -- the signature ------------------------------------------------------------------------------------------------
def verify(headers: dict[str, str], body: bytes = b"{}", path: str = "/api/platform/faxes", key: bytes = KEY,
           clock: FixedClock | None = None, seen: set[str] | None = None) -> None:
    nonces = set() if seen is None else seen

    def first_use(nonce: str, expires: datetime) -> bool:
        if nonce in nonces:
            return False
        nonces.add(nonce)
        return True

    bankapi.verify(key, "POST", path, body, headers, clock or FixedClock(NOW), first_use)


def test_a_signed_request_verifies_once() -> None:
    clock = FixedClock(NOW)
    headers = bankapi.sign(KEY, "POST", "/api/platform/faxes", b"{}", clock)
    assert headers[bankapi.HEADER_AUTHORIZATION].startswith("FXML-HMAC-SHA256 ")
    seen: set[str] = set()
    verify(headers, seen=seen)
    with pytest.raises(BankApiError) as replayed:
        verify(headers, seen=seen)
    assert replayed.value.code is ErrorCode.BANK_API_REPLAYED and replayed.value.status == 409


@pytest.mark.parametrize(("change", "code"), [
    ({"body": b'{"x":1}'}, ErrorCode.BANK_API_UNAUTHENTICATED),
    ({"path": "/api/platform/renewals"}, ErrorCode.BANK_API_UNAUTHENTICATED),
    ({"key": bankapi.api_key(b"o" * 32)}, ErrorCode.BANK_API_UNAUTHENTICATED),
    ({"clock": FixedClock(NOW + timedelta(seconds=bankapi.MAX_SKEW + 1))}, ErrorCode.BANK_API_CLOCK_SKEW),
    ({"clock": FixedClock(NOW - timedelta(seconds=bankapi.MAX_SKEW + 1))}, ErrorCode.BANK_API_CLOCK_SKEW),
])
def test_a_request_changed_or_out_of_time_is_refused(change: dict[str, object], code: ErrorCode) -> None:
    headers = bankapi.sign(KEY, "POST", "/api/platform/faxes", b"{}", FixedClock(NOW))
    with pytest.raises(BankApiError) as refused:
        verify(headers, **change)  # type: ignore[arg-type]
    assert refused.value.code is code and refused.value.status == 401


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": "Bearer x", "x-fxml-timestamp": "1", "x-fxml-nonce": "0" * 32},
    {"authorization": "FXML-HMAC-SHA256 00", "x-fxml-timestamp": "soon", "x-fxml-nonce": "0" * 32},
    {"authorization": "FXML-HMAC-SHA256 00", "x-fxml-timestamp": "1", "x-fxml-nonce": "short"},
    # header bytes are latin-1: a digit that is not ASCII, a signature that is not (compare_digest raises on it)
    {"authorization": "FXML-HMAC-SHA256 " + "0" * 64, "x-fxml-timestamp": "\u00b2", "x-fxml-nonce": "0" * 32},
    {"authorization": "FXML-HMAC-SHA256 \u00e9", "x-fxml-timestamp": "1", "x-fxml-nonce": "0" * 32},
    {"authorization": "FXML-HMAC-SHA256 " + "\u00e9" * 64, "x-fxml-timestamp": "1", "x-fxml-nonce": "0" * 32},
])
def test_malformed_authentication_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(BankApiError) as refused:
        verify(headers)
    assert refused.value.code is ErrorCode.BANK_API_UNAUTHENTICATED


def test_the_api_key_is_not_the_ticket_key() -> None:
    ticket_key = b"k" * 32
    assert bankapi.api_key(ticket_key) != ticket_key and len(bankapi.api_key(ticket_key)) == 32


# -- the fax --------------------------------------------------------------------------------------------------------
def test_a_fax_lands_in_the_inbox_of_the_customers_branch_with_its_arrival_time(bank: Bank) -> None:
    who = customer("eoi")
    card = bank.apply(who)
    bank.clock.advance(timedelta(seconds=7))
    answer = bank.fax(who, card)
    assert answer.status_code == 201
    assert answer.json() == {"fax": {"fax_id": "F0000000000001", "branch": {"code": "0060040", "name": "雲杉分行"},
                                     "received_at": bank.clock.now().isoformat()}}
    row = bank.store.connection().execute(
        "SELECT branch_code, id_number, serial, sheet, pdf, received_at FROM faxes").fetchone()
    assert row[:3] == ("0060040", "63880571", card.serial)
    assert json.loads(row[3]) == bank.ca.proof_sheet(card.serial) and bytes(row[4]).startswith(b"%PDF-")
    assert row[5] == bank.clock.now().isoformat()
    # The same fax again (an answer lost, a retry): the same receipt, one fax.
    again = bank.fax(who, card)
    assert again.status_code == 200 and again.json() == answer.json()
    assert bank.store.connection().execute("SELECT count(*) FROM faxes").fetchone()[0] == 1


@pytest.mark.parametrize(("send", "code", "status"), [
    ("unsigned", ErrorCode.BANK_API_UNAUTHENTICATED, 401),
    ("forged", ErrorCode.BANK_API_UNAUTHENTICATED, 401),
    ("replayed", ErrorCode.BANK_API_REPLAYED, 409),
    ("reused", ErrorCode.BANK_API_ID_REUSED, 409),
    ("unknown", ErrorCode.BANK_API_UNKNOWN_CUSTOMER, 404),
    ("not-json", ErrorCode.BANK_API_BAD_REQUEST, 400),
    ("no-pdf", ErrorCode.BANK_API_BAD_REQUEST, 400),
])
def test_a_fax_the_bank_cannot_trust_is_refused_and_changes_nothing(bank: Bank, send: str, code: ErrorCode,
                                                                     status: int) -> None:
    who = customer("eoi")
    card = bank.apply(who)
    first = bank.fax(who, card, fax_id="F0000000000009")
    assert first.status_code == 201
    fax = bankapi.Fax("F0000000000010", NOW.isoformat(), bankapi.FaxCustomer("eoi", who.id_number, who.name,
                      "EOIADMIN05", who.holder_id), card.serial, bank.ca.proof_sheet(card.serial), b"%PDF-1.7\n")
    body = fax.to_json()
    before = bank.store.dump()
    path = bankapi.Paths.FAXES
    if send == "unsigned":
        answer = bank.client.post(path, json=body)
    elif send == "forged":
        answer = bank.api(path, body, key=b"o" * 32)
    elif send == "replayed":
        assert bank.api(path, body, nonce="a" * 32).status_code == 201
        before = bank.store.dump()
        answer = bank.api(path, {**body, "fax_id": "F0000000000011"}, nonce="a" * 32)
    elif send == "reused":
        answer = bank.api(path, {**body, "fax_id": "F0000000000009"})
    elif send == "unknown":
        answer = bank.api(path, {**body, "customer": {**body["customer"], "customer_id": "04595257",
                                                      "holder_id": "04595257"}})
    elif send == "not-json":
        raw = b"fax?"
        answer = bank.client.post(path, content=raw, headers=bankapi.sign(KEY, "POST", path, raw, bank.clock))
    else:
        answer = bank.api(path, {**body, "pdf": "aGVsbG8="})
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"] == bankapi.MESSAGES[code]
    after = bank.store.dump()
    if send in ("replayed", "reused", "unknown", "not-json", "no-pdf"):
        after["api_nonces"] = before["api_nonces"]  # a nonce spent by a well-signed request is not a record
    assert_only_refusal_recorded(before, after, code)



# -- nonces across a change of the clock's UTC offset ----------------------------------------------------------
UTC_START = NOW.astimezone(UTC)  # 02:00:00+00:00, the instant NOW names, as a clock in UTC writes it


def signed_fax(bank: Bank) -> tuple[bytes, dict[str, str]]:
    """A fax of the EOI persona's certificate and its signed headers, at the clock's now."""
    who = customer("eoi")
    card = bank.apply(who)
    fax = bankapi.Fax("F0000000000001", bank.clock.now().isoformat(),
                      bankapi.FaxCustomer(who.system.value, who.id_number, who.name, who.users[0].user_code,
                                          who.holder_id),
                      card.serial, bank.ca.proof_sheet(card.serial), b"%PDF-1.7\n")
    raw = json.dumps(fax.to_json(), ensure_ascii=False).encode()
    return raw, {**bankapi.sign(KEY, "POST", bankapi.Paths.FAXES, raw, bank.clock),
                 "content-type": "application/json"}


@pytest.mark.parametrize(("first", "then"), [(UTC_START, TAIWAN), (NOW, UTC)])
def test_a_replay_within_the_window_is_refused_after_the_clock_changes_its_utc_offset(
        bank: Bank, first: datetime, then: timezone) -> None:
    """The clock writes its first time in one UTC offset and the next in another (a FileClock
    going from the system's UTC to a fixed +08:00 time, as the features do): nonces are kept
    and forgotten by the instant, so the same request 10 s later is a replay, not a new fax."""
    bank.clock.set(first)
    raw, headers = signed_fax(bank)
    assert bank.client.post(bankapi.Paths.FAXES, content=raw, headers=headers).status_code == 201
    sent = int(headers[bankapi.HEADER_TIMESTAMP])
    assert bank.store.dump()["api_nonces"] == [(headers[bankapi.HEADER_NONCE], sent + bankapi.MAX_SKEW)]
    bank.clock.set((first + timedelta(seconds=10)).astimezone(then))
    assert bank.api(bankapi.Paths.FAXES, {"not": "a fax"}).status_code == 400  # a signed request sweeps nonces
    before = bank.store.dump()
    assert len(before["api_nonces"]) == 2
    replay = bank.client.post(bankapi.Paths.FAXES, content=raw, headers=headers)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == ErrorCode.BANK_API_REPLAYED
    assert_only_refusal_recorded(before, bank.store.dump(), ErrorCode.BANK_API_REPLAYED)


@pytest.mark.parametrize(("first", "then"), [(UTC_START, TAIWAN), (NOW, UTC)])
def test_a_nonce_is_forgotten_once_its_window_has_passed_in_any_utc_offset(
        bank: Bank, first: datetime, then: timezone) -> None:
    bank.clock.set(first)
    raw, headers = signed_fax(bank)
    assert bank.client.post(bankapi.Paths.FAXES, content=raw, headers=headers).status_code == 201
    before = bank.store.dump()
    bank.clock.set((first + timedelta(seconds=bankapi.MAX_SKEW + 1)).astimezone(then))
    other = bank.api(bankapi.Paths.FAXES, {"not": "a fax"})
    assert other.status_code == 400
    after = bank.store.dump()
    assert [n for n, _ in after["api_nonces"]] == [other.request.headers[bankapi.HEADER_NONCE]]
    after["api_nonces"] = before["api_nonces"]  # the first nonce forgotten, the new one spent: nothing else
    assert_only_refusal_recorded(before, after, ErrorCode.BANK_API_BAD_REQUEST)
    # Out of its window the request is refused for its time, not taken again.
    late = bank.client.post(bankapi.Paths.FAXES, content=raw, headers=headers)
    assert late.status_code == 401 and late.json()["error"]["code"] == ErrorCode.BANK_API_CLOCK_SKEW

# -- the renewal notice ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["person", "corporate-4"])
def test_a_renewal_notice_binds_the_new_certificate_of_personal_and_corporate_banking(bank: Bank, name: str) -> None:
    who = customer(name)
    old = bank.apply(who)
    new = bank.renew(old, f"{name}-renewed")
    answer = bank.notify(who, old, new)
    assert answer.status_code == 201 and answer.json()["renewal"]["binding"] == "bound"
    rows = bank.store.connection().execute(
        "SELECT serial, source, superseded_by FROM bindings WHERE id_number = ? ORDER BY serial = ?",
        (who.id_number, new.serial)).fetchall()
    assert rows == [(old.serial, "更新前憑證", new.serial), (new.serial, "憑證更新", None)]
    again = bank.notify(who, old, new)
    assert again.status_code == 200 and again.json() == answer.json()
    assert bank.store.connection().execute("SELECT count(*) FROM bindings").fetchone()[0] == 2


def test_an_eoi_renewal_notice_waits_for_the_branch(bank: Bank) -> None:
    who = customer("eoi")
    old = bank.apply(who)
    new = bank.renew(old, "eoi-renewed")
    answer = bank.notify(who, old, new)
    assert answer.status_code == 201 and answer.json()["renewal"]["binding"] == "awaiting_filing"
    assert bank.store.connection().execute("SELECT count(*) FROM bindings").fetchone()[0] == 0
    assert bank.store.connection().execute("SELECT binding FROM renewal_notices").fetchone()[0] == "awaiting_filing"


def test_a_notice_the_ca_does_not_confirm_is_refused(bank: Bank) -> None:
    who, other = customer("person"), customer("corporate-2")
    old = bank.apply(who)
    not_renewal = bank.apply(who, key_name="person-second-card")
    before = bank.store.dump()
    answer = bank.notify(who, old, not_renewal)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == ErrorCode.BANK_API_NOT_A_RENEWAL
    after = bank.store.dump()
    after["api_nonces"] = before["api_nonces"]
    assert_only_refusal_recorded(before, after, ErrorCode.BANK_API_NOT_A_RENEWAL)
    others = bank.apply(other)
    new = bank.renew(others, "corporate-2-renewed")
    answer = bank.notify(who, others, new)  # another customer's renewal, sent as this customer's
    assert answer.status_code == 422 and answer.json()["error"]["code"] == ErrorCode.BANK_API_NOT_A_RENEWAL


def test_a_notice_while_the_ca_is_down_is_refused_for_a_retry(bank: Bank) -> None:
    who = customer("person")
    old = bank.apply(who)
    new = bank.renew(old, "person-renewed")
    bank.lookup.down = True
    answer = bank.notify(who, old, new)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == ErrorCode.BANK_API_CA_UNAVAILABLE
    assert BankApiError(ErrorCode.BANK_API_CA_UNAVAILABLE).retryable
    bank.lookup.down = False
    assert bank.notify(who, old, new).json()["renewal"]["binding"] == "bound"


def test_non_ascii_authentication_over_http_is_a_401_with_its_audit_line(bank: Bank) -> None:
    before = len(bank.store.audit_log(1000))
    answer = bank.client.post(bankapi.Paths.FAXES, content=b"{}", headers={
        b"authorization": "FXML-HMAC-SHA256 \u00e9".encode("latin-1"),
        b"x-fxml-timestamp": str(int(NOW.timestamp())).encode(), b"x-fxml-nonce": ("0" * 32).encode()})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "BANK_API_UNAUTHENTICATED"
    assert len(bank.store.audit_log(1000)) == before + 1
