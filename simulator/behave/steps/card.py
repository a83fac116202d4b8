"""Steps about the 憑證載具 (the chip card) and its reader.

Everything goes through the real stack: the private pcscd, vpcd, the virtual
card, and the engine's own PC/SC card client, exactly as the platform's card
agent will talk to a physical card.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise

from behave import given, then, when
from behave.runner import Context
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from fxml.card.client import CardCertificate, PivCardClient
from fxml.card.errors import PinBlockedError, WrongPinError
from fxml.card.pcsc import PcscConnection, wait_for_card
from fxml.display import display_name, taiwan_text
from simulator.home import Home
from simulator.resources import CARD_PROFILES

#: The card a scenario makes, by the 憑證儲存媒體 it names (the feature names no file).
CARDS = {"大卡": "eoi-large", "小卡": "personal-small"}
#: A 憑證載具密碼 that is not the card's.
WRONG_PIN = "Wrong123"


def _home(context: Context) -> Home:
    return context.home


def _client(context: Context) -> PivCardClient:
    """A PC/SC session to the inserted card, kept for the scenario."""
    if getattr(context, "client", None) is None:
        context.connection = PcscConnection(context.reader).connect()
        context.client = PivCardClient(context.connection)
        context.client.select()
        context.add_cleanup(_disconnect, context)
    return context.client


def _disconnect(context: Context) -> None:
    if getattr(context, "connection", None) is not None:
        context.connection.close()
    context.connection = context.client = None


def _only_certificate(context: Context) -> CardCertificate:
    certificates = _client(context).list_certificates()
    assert len(certificates) == 1, f"卡片內應有 1 張憑證，實有 {len(certificates)} 張"
    return certificates[0]


def _reinsert(context: Context) -> None:
    _disconnect(context)
    home = _home(context)
    home.stack.remove(context.reader_index)
    home.stack.insert(context.image, context.reader_index)


@given("讀卡機已就緒")
def stack_is_up(context: Context) -> None:
    assert _home(context).stack.running(), "讀卡機未就緒（模擬的讀卡機服務未啟動）"


@given("已製作一張憑證晶片卡({carrier})")
def card_made(context: Context, carrier: str) -> None:
    assert carrier in CARDS, f"沒有「憑證晶片卡({carrier})」（可用：{'、'.join(CARDS)}）"
    path = CARD_PROFILES / f"{CARDS[carrier]}.json"
    context.profile = json.loads(path.read_text(encoding="utf-8"))
    context.image = _home(context).create_card(path, replace=True)


@given("已插入憑證載具")
@when("插入憑證載具")
def card_inserted(context: Context) -> None:
    reader = _home(context).stack.insert(context.image)
    context.reader, context.reader_index = reader["name"], reader["index"]


@then("讀卡機回報卡片已插入")
def reader_reports_card(context: Context) -> None:
    wait_for_card(context.reader, present=True, timeout=0)  # already there: no waiting


@then("憑證儲存媒體為「{carrier}」")
def carrier_is(context: Context, carrier: str) -> None:
    actual = _client(context).card_info().carrier
    assert actual == carrier, f"憑證儲存媒體應為「{carrier}」，卡片顯示「{actual}」"


#: What the 憑證更新 screen and the proof sheet show of a certificate, by label.
CERTIFICATE_FIELDS: dict[str, Callable[[x509.Certificate], str]] = {
    "Common Name": lambda c: str(c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value),
    "憑證發行者": lambda c: display_name(c.issuer),
    "憑證生效日": lambda c: taiwan_text(c.not_valid_before_utc),
    "憑證到期日": lambda c: taiwan_text(c.not_valid_after_utc),
}


@then("卡片內憑證的{label}為「{value}」")
def certificate_field_is(context: Context, label: str, value: str) -> None:
    label = label.strip()
    assert label in CERTIFICATE_FIELDS, f"未知的憑證欄位「{label}」（可用：{'、'.join(CERTIFICATE_FIELDS)}）"
    actual = CERTIFICATE_FIELDS[label](_only_certificate(context).certificate)
    assert actual == value, f"{label}應為「{value}」，卡片內為「{actual}」"


@then("卡片內附有簽發憑證的憑證鏈")
def chain_on_card(context: Context) -> None:
    cert = _only_certificate(context).certificate
    chain = _client(context).ca_chain()
    assert chain, "卡片內沒有憑證鏈"
    issuer = chain[0]
    assert issuer.subject == cert.issuer, "憑證鏈的第一張不是簽發憑證的 CA"
    cert.verify_directly_issued_by(issuer)
    for child, parent in pairwise(chain):
        child.verify_directly_issued_by(parent)


def enter_pin(context: Context, pin: str) -> None:
    context.pin_error = None
    try:
        _client(context).verify_pin(pin)
    except (WrongPinError, PinBlockedError) as exc:
        context.pin_error = exc


@when("輸入正確的憑證載具密碼")
def enter_right_pin(context: Context) -> None:
    enter_pin(context, context.profile["pin"])


@when("輸入錯誤的憑證載具密碼")
def enter_wrong_pin(context: Context) -> None:
    assert context.profile["pin"] != WRONG_PIN
    enter_pin(context, WRONG_PIN)


@when("連續 {count:d} 次輸入錯誤的憑證載具密碼")
def enter_wrong_pins(context: Context, count: int) -> None:
    for _ in range(count):
        enter_wrong_pin(context)
        assert isinstance(context.pin_error, WrongPinError), "錯誤的憑證載具密碼未被拒絕"


@then("卡片拒絕憑證載具密碼，剩餘 {tries:d} 次")
def pin_refused(context: Context, tries: int) -> None:
    error = context.pin_error
    assert isinstance(error, WrongPinError), f"卡片應拒絕憑證載具密碼，結果為 {error!r}"
    assert error.tries_left == tries, f"剩餘次數應為 {tries}，卡片回報 {error.tries_left}"


@then("卡片接受憑證載具密碼")
def pin_accepted(context: Context) -> None:
    assert context.pin_error is None, f"卡片應接受憑證載具密碼，卻回報 {context.pin_error}"
    assert _client(context).pin_status().verified, "卡片未顯示憑證載具密碼已驗證"


@then("移除憑證載具後再插入，剩餘次數為 {tries:d} 次")
def tries_after_reinsert(context: Context, tries: int) -> None:
    _reinsert(context)
    actual = _client(context).pin_tries_left()
    assert actual == tries, f"重新插入後剩餘次數應為 {tries}，卡片回報 {actual}"


@then("卡片回報憑證載具密碼已鎖定")
def pin_blocked(context: Context) -> None:
    status = _client(context).pin_status()
    assert status.blocked, f"憑證載具密碼應已鎖定，卡片回報剩餘 {status.tries_left} 次"
    enter_right_pin(context)
    assert isinstance(context.pin_error, PinBlockedError), "鎖定後輸入正確密碼仍應被拒絕"


@then("移除憑證載具後再插入，卡片仍回報憑證載具密碼已鎖定")
def still_blocked_after_reinsert(context: Context) -> None:
    _reinsert(context)
    pin_blocked(context)


@when("以卡片內憑證的私密金鑰簽署「{text}」")
def sign_text(context: Context, text: str) -> None:
    """The key of the card's only certificate (PIV's 9A, the one a renewal starts from)."""
    container = _only_certificate(context).container
    context.signed = text.encode("utf-8")
    context.signature = _client(context).sign(container, context.signed)
    context.signed_container = container


@then("簽章可用卡片內憑證的公開金鑰驗證")
def signature_verifies(context: Context) -> None:
    cert = _client(context).certificate(context.signed_container)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(context.signature, context.signed, padding.PKCS1v15(), hashes.SHA256())
