"""臺幣轉帳 in process: the form, the signed transfer and every check the bank makes of it (the
pending transfer, the chain, the validity, the signature, the status by OCSP at the CA, the binding
to the customer and the relationship customer), each refusal with its code, its zh-TW message and
the bank's records unchanged but for one audit line. Software keys stand in for cards here; the
features sign on the virtual card through the card agent (features/步驟9_憑證展期建檔與轉帳.feature)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from fxml.clock import FixedClock
from simulator import procedure
from simulator.bank.auth import BankErrorCode as Code
from tests.support.bank import (
    NOW,
    Bank,
    Card,
    assert_only_refusal_recorded,
    code_of,
    csrf,
    customer,
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def refused(bank: Bank, prefix: str, token: str, body: Mapping[str, object], code: Code, status: int) -> str:
    """Submit a signed transfer the bank must refuse with ``code``; its message."""
    before = bank.store.dump()
    answer = bank.submit(prefix, token, body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code, error
    assert_only_refusal_recorded(before, bank.store.dump(), code)
    return str(error["message"])


# -- what goes through ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["person", "corporate-2", "eoi"])
def test_a_transfer_signed_with_the_applied_certificate_goes_through(bank: Bank, name: str) -> None:
    who = customer(name)
    card = bank.apply(who)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who, amount="12,345", memo="貨款")
    signed = json.loads(data)
    assert signed["amount"] == 12345 and signed["customer_id"] == who.id_number and signed["memo"] == "貨款"
    answer = bank.submit(prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                         "certificate": card.pem})
    assert answer.status_code == 201, answer.text
    assert answer.json()["transfer"] == {"transfer_id": transfer_id, "serial": card.serial, "binding": "申請",
                                         "url": f"{prefix}/transfer/{transfer_id}"}
    row = bank.store.connection().execute(
        "SELECT id_number, amount, serial, signature FROM transfers WHERE transfer_id = ?", (transfer_id,)).fetchone()
    assert row == (who.id_number, 12345, card.serial, card.sign(data))
    assert bank.store.audit_log()[-1].action == "轉帳" and bank.store.audit_log()[-1].result == "OK"
    page = bank.client.get(f"{prefix}/transfer/{transfer_id}").text
    assert "轉帳成功" in page and card.serial in page and "新臺幣 12,345 元" in page


def test_the_menu_leads_to_the_transfer_of_each_system(bank: Bank) -> None:
    for name, path in (("person", "「轉帳」>「臺幣轉帳」"), ("corporate-3", "「轉帳」>「臺幣轉帳」"),
                       ("eoi", "「付款作業」>「臺幣轉帳」")):
        who = customer(name)
        prefix = bank.log_in(who)
        menu = bank.client.get(f"{prefix}/menu").text
        assert f'href="{prefix}/transfer" data-testid="transfer-link"' in menu
        assert path in html.unescape(bank.client.get(f"{prefix}/transfer").text)


def test_the_sign_page_asks_the_card_agent_and_allows_it_in_its_policy(bank: Bank) -> None:
    who = customer("person")
    prefix = bank.log_in(who)
    bank.fill(prefix, who)
    page = bank.client.get(f"{prefix}/transfer/sign")
    assert '<meta name="fxml-agent" content="http://127.0.0.1:8604">' in page.text
    assert "connect-src 'self' http://127.0.0.1:8604" in page.headers["content-security-policy"]
    assert 'name="pin"' not in page.text  # the PIN box has no name: it is never part of a form sent to the bank
    # An agent that does not answer is explained in the customer's words, with no developer's command.
    assert "無法連線至本機的憑證元件" in page.text and "python -m" not in page.text and "<code>" not in page.text


# -- the form ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value", "code", "phrase"), [
    ("from_account", "00172000000201", Code.TRANSFER_FROM_ACCOUNT, "轉出帳號不是貴戶的帳戶"),
    ("to_bank", "06", Code.TRANSFER_TO_BANK, "轉入銀行代碼須為 3 位數字"),
    ("to_account", "12345", Code.TRANSFER_TO_ACCOUNT, "轉入帳號須為 10 至 16 位數字"),
    ("to_account", "00001234567890", Code.TRANSFER_SAME_ACCOUNT, "轉入帳號不可與轉出帳號相同"),
    ("amount", "0", Code.TRANSFER_AMOUNT, "轉帳金額須為 1 至 2,000,000 元的整數"),
    ("amount", "2000001", Code.TRANSFER_AMOUNT, "轉帳金額須為 1 至 2,000,000 元的整數"),
    ("amount", "12.5", Code.TRANSFER_AMOUNT, "轉帳金額"),
    ("amount", "", Code.MISSING_FIELD, "請輸入轉帳金額。"),
    ("memo", "貨款\u202e", Code.TRANSFER_MEMO, "附言最多 20 個字"),
    ("payer", "829612230001", Code.TRANSFER_PAYER, "付款戶須為本公司或本公司的關係戶"),
])
def test_a_wrong_form_is_refused_with_what_is_wrong(bank: Bank, field: str, value: str, code: Code,
                                                    phrase: str) -> None:
    who = customer("person")
    prefix = bank.log_in(who)
    form = bank.client.get(f"{prefix}/transfer").text
    data = {"csrf_token": csrf(form), "from_account": who.accounts[0].number, "to_bank": "006",
            "to_account": "00170000000099", "amount": "1000", field: value}
    before = bank.store.dump()
    answer = bank.client.post(f"{prefix}/transfer", data=data, follow_redirects=False)
    assert answer.status_code == 400 and code_of(answer.text) == code and phrase in answer.text
    assert bank.store.dump() == before


def test_the_transfer_pages_need_a_login_and_the_form_its_token(bank: Bank) -> None:
    before = bank.store.dump()
    for prefix in ("/personal", "/corporate", "/eoi"):
        answer = bank.client.get(f"{prefix}/transfer")
        assert answer.status_code == 401 and code_of(answer.text) == Code.NOT_LOGGED_IN
        answer = bank.client.post(f"{prefix}/transfer/sign", json={})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == Code.NOT_LOGGED_IN
    assert bank.store.dump() == before  # no customer to name: nothing recorded
    who = customer("person")
    prefix = bank.log_in(who)
    answer = bank.client.post(f"{prefix}/transfer", data={"amount": "1"})
    assert answer.status_code == 403 and code_of(answer.text) == Code.CSRF_FAILED
    before = bank.store.dump()
    answer = bank.client.post(f"{prefix}/transfer/sign", json={}, headers={"x-csrf-token": "forged"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == Code.CSRF_FAILED
    assert_only_refusal_recorded(before, bank.store.dump(), Code.CSRF_FAILED)


# -- the signed transfer: tampering, other data, replays -------------------------------------------------------
def test_a_tampered_signature_is_refused_and_the_transfer_waits_for_a_good_one(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    signature = bytearray(base64.b64decode(card.sign(data)))
    signature[-1] ^= 0x01
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "certificate": card.pem,
                                            "signature": base64.b64encode(bytes(signature)).decode()},
                      Code.SIGNATURE_INVALID, 422)
    assert message.startswith("交易簽章驗證失敗")
    ok = bank.submit(prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data), "certificate": card.pem})
    assert ok.status_code == 201


def test_a_signature_over_other_data_is_refused(bank: Bank) -> None:
    who = customer("corporate-2")
    card = bank.apply(who)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who, amount="100")
    other = data.replace(b'"amount":100', b'"amount":100000')
    assert other != data
    refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(other), "certificate": card.pem},
            Code.SIGNATURE_INVALID, 422)


def test_a_signature_by_another_key_with_the_customers_certificate_is_refused(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    thief = Card(bank.keys.rsa("not-the-card"), card.certificate)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": thief.sign(data), "certificate": card.pem},
            Code.SIGNATURE_INVALID, 422)


def test_a_replayed_signed_transfer_is_refused_in_any_session(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    body = {"transfer_id": transfer_id, "signature": card.sign(data), "certificate": card.pem}
    assert bank.submit(prefix, token, body).status_code == 201
    message = refused(bank, prefix, token, body, Code.TRANSFER_REPLAYED, 409)
    assert message == "此筆轉帳已處理，不得重複送出。"
    # Another session of the same customer, with a transfer of its own pending: the old body is still a replay.
    bank.client.cookies.clear()
    prefix = bank.log_in(who)
    _other, _data, token = bank.fill(prefix, who)
    refused(bank, prefix, token, body, Code.TRANSFER_REPLAYED, 409)
    assert bank.store.connection().execute("SELECT count(*) FROM transfers").fetchone()[0] == 1


def test_a_transfer_that_is_not_the_pending_one_or_waited_too_long_is_refused(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    other_id = transfer_id[:-1] + ("0" if transfer_id[-1] != "0" else "1")
    refused(bank, prefix, token, {"transfer_id": other_id, "signature": card.sign(data), "certificate": card.pem},
            Code.TRANSFER_UNKNOWN, 404)
    refused(bank, prefix, token, {"transfer_id": transfer_id, "certificate": card.pem}, Code.SIGNATURE_MISSING, 400)
    refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data), "certificate": "PEM?"},
            Code.CERT_MALFORMED, 400)
    bank.clock.advance(timedelta(minutes=11))
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                            "certificate": card.pem}, Code.TRANSFER_EXPIRED, 409)
    assert "10 分鐘" in message


# -- the certificate -----------------------------------------------------------------------------------------------
def test_a_certificate_the_ca_did_not_issue_is_refused(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    key = bank.keys.rsa("self-made")
    forged = (x509.CertificateBuilder().subject_name(card.certificate.subject).issuer_name(card.certificate.issuer)
              .public_key(key.public_key()).serial_number(card.certificate.serial_number)
              .not_valid_before(card.certificate.not_valid_before_utc)
              .not_valid_after(card.certificate.not_valid_after_utc).sign(key, hashes.SHA256()))
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {
        "transfer_id": transfer_id, "signature": Card(key, forged).sign(data),
        "certificate": forged.public_bytes(serialization.Encoding.PEM).decode()}, Code.CERT_CHAIN_INVALID, 422)
    assert "TWCA Financial User CA" in message


@pytest.mark.parametrize(("change", "code", "phrase"), [
    ("suspend", Code.CERT_SUSPENDED, "簽章憑證已暫禁"),
    ("revoke", Code.CERT_REVOKED, "簽章憑證已廢止"),
    ("expire", Code.CERT_EXPIRED, "簽章憑證已過期"),
])
def test_a_suspended_revoked_or_expired_certificate_is_refused_with_its_reason(
    bank: Bank, change: str, code: Code, phrase: str
) -> None:
    who = customer("corporate-3")
    card = bank.apply(who, days_left=1)
    prefix = bank.log_in(who)
    if change == "suspend":
        bank.ca.suspend(card.serial)
    elif change == "revoke":
        bank.ca.revoke(card.serial, "keyCompromise")
    else:
        bank.clock.advance(timedelta(days=2))
        prefix = bank.log_in(who)  # the session of two days ago is long gone
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                            "certificate": card.pem}, code, 422)
    assert message.startswith(phrase), message


def test_another_customers_certificate_is_refused(bank: Bank) -> None:
    who, other = customer("corporate-2"), customer("corporate-4")
    card = bank.apply(other)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                            "certificate": card.pem}, Code.CERT_NOT_CUSTOMERS, 403)
    assert "39602297-00-2014" in message


def test_without_the_ca_nothing_is_transferred(bank: Bank) -> None:
    who = customer("person")
    card = bank.apply(who)
    assert bank.app.checks is not None
    bank.app.checks.anchors()  # fetched once and kept: what fails below is the question about this certificate
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    bank.lookup.down = True
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": card.sign(data),
                                            "certificate": card.pem}, Code.CA_UNAVAILABLE, 503)
    assert message == "暫時無法向憑證中心確認憑證資料，請稍後再試。"


# -- renewed certificates: the move, and the old certificate after it ------------------------------------------------
def test_personal_banking_binds_the_renewed_certificate_when_the_renewal_notice_arrives(bank: Bank) -> None:
    who = customer("person")
    old = bank.apply(who)
    new = bank.renew(old, "person-renewed")
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": new.sign(data),
                                            "certificate": new.pem}, Code.CERT_NOT_BOUND, 403)
    assert "憑證更新完成通知" in message
    # Until the move, the old certificate still signs.
    assert bank.submit(prefix, token, {"transfer_id": transfer_id, "signature": old.sign(data),
                                       "certificate": old.pem}).status_code == 201
    assert bank.notify(who, old, new).json() == {"renewal": {"renewal_id": "renewal-0001", "binding": "bound"}}
    answer = bank.transfer(prefix, who, new)
    assert answer.status_code == 201 and answer.json()["transfer"]["binding"] == "憑證更新"
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": old.sign(data),
                                            "certificate": old.pem}, Code.CERT_SUPERSEDED, 403)
    assert new.serial in message and "舊憑證不得再用於交易" in message


def test_the_eoi_system_refuses_the_renewed_certificate_until_the_branch_files_it(bank: Bank) -> None:
    who = customer("eoi")
    old = bank.apply(who)
    new = bank.renew(old, "eoi-renewed")
    assert bank.notify(who, old, new).json()["renewal"]["binding"] == "awaiting_filing"  # the notice binds nothing
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": new.sign(data),
                                            "certificate": new.pem}, Code.CERT_NOT_FILED, 403)
    assert message.startswith("此憑證尚未完成憑證展期建檔") and "0060040 雲杉分行" in message
    told = [i.words.rstrip("，。") for i in procedure.instructions_of(9) if i.tag != "步驟9-關係戶用戶代碼"][1:]
    assert all(words in message for words in told), message  # the manual's words, the phone call and the transfer
    assert "關係戶" not in message  # no shared certificate: nothing to say of relationship customers
    assert bank.submit(prefix, token, {"transfer_id": transfer_id, "signature": old.sign(data),
                                       "certificate": old.pem}).status_code == 201  # the old one, before the filing


def test_a_shared_certificate_customer_is_also_told_to_give_the_relationship_codes(bank: Bank) -> None:
    """The refusal before 憑證展期建檔 says step 9 of the manual in its words, the relationship customers'
    用戶代碼 included when the customer has a shared certificate (simulator/procedure.py)."""
    who = customer("shared-certificate")
    old = bank.apply(who)
    new = bank.renew(old, "shared-renewed")
    bank.notify(who, old, new)
    prefix = bank.log_in(who)
    transfer_id, data, token = bank.fill(prefix, who)
    message = refused(bank, prefix, token, {"transfer_id": transfer_id, "signature": new.sign(data),
                                            "certificate": new.pem}, Code.CERT_NOT_FILED, 403)
    for instruction in procedure.instructions_of(9)[1:]:  # all but the fax: the phone call, the codes, the transfer
        assert instruction.words.rstrip("，。") in message, (instruction.words, message)
    assert "0060051 月湖分行" in message
