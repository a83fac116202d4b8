"""Steps of 憑證更新 (the manual's steps 2 to 7) and 憑證證明單列印 (step 8), in chromium.

The browser talks to the platform and, for the card, to the local card agent;
the card is a virtual TWCA card in the private pcscd's reader. The steps check
what the pages show, and afterwards what the card and the CA hold, through
PC/SC and the CA's API, never through the page's own claims.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from typing import Any

from bank_support import bank_store
from behave import given, then, when
from behave.runner import Context
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pages import Message, Proof, Renewal

from fxml import env
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.display import display_name, roc_date, taiwan_text, time_text
from fxml.platform.wizard import FAX_NEXT
from simulator.bank.cards import write_card_profile
from simulator.bank.customers import persona
from simulator.home import FIXTURES, Home


def _ca(context: Context) -> CaClient:
    return CaClient.from_env(context.stack_env, actor="features")


def _insert(context: Context, profile_path: Any, name: str) -> None:
    home: Home = context.home
    image = home.create_card(profile_path, name=name, replace=True)
    reader = home.stack.insert(image)
    context.card = {"image": image, "reader": reader["name"], "index": reader["index"],
                    "pin": json.loads(profile_path.read_text(encoding="utf-8"))["pin"]}
    with PcscConnection(reader["name"]) as connection:
        card = PivCardClient(connection)
        card.select()
        context.card["before"] = [(int(c.container), c.certificate) for c in card.list_certificates()]
    # The certificate each customer's card of this scenario holds, by holder id.
    holder = json.loads(profile_path.read_text(encoding="utf-8"))["holder_id"]
    if not hasattr(context, "cards_of"):
        context.cards_of = {}
    context.cards_of[holder] = f"{context.card['before'][0][1].serial_number:X}"


@given("「{customer}」的憑證載具已插入讀卡機，憑證於 {days:d} 天後到期")
def persona_card(context: Context, customer: str, days: int) -> None:
    who = persona(customer).customer
    path = write_card_profile(who, context.clock.now(), context.home.root / f"card-{who.id_number}.json",
                              days_left=days)
    _insert(context, path, f"card-{who.id_number}")


@given("「{customer}」的另一張憑證載具也插入讀卡機")
def another_card(context: Context, customer: str) -> None:
    """A second card in another reader; the scenario's card stays the first one."""
    first = context.card
    persona_card(context, customer, 27)
    context.card = first


@given("憑證載具「{profile}」已插入讀卡機")
def fixture_card(context: Context, profile: str) -> None:
    _insert(context, FIXTURES / "cards" / f"{profile}.json", profile)


@given("憑證載具已準備好")
def card_ready(context: Context) -> None:
    readers = {r["index"]: r["card"] for r in context.home.stack.readers()}
    assert readers.get(context.card["index"]), "憑證載具不在讀卡機內"


@when("移除憑證載具")
@given("移除憑證載具")
def remove_card(context: Context) -> None:
    context.home.stack.remove(context.card["index"])


@when("輸入憑證載具密碼後點選「確定」")
def pin_then_confirm(context: Context) -> None:
    Renewal(context.page).enter_pin_and_confirm(context.card["pin"])


@then("憑證管理平台顯示以「{prefix}」開頭的訊息")
def platform_says_prefix(context: Context, prefix: str) -> None:
    text, code = Message(context.page).text()
    assert text.startswith(prefix), f"訊息應以「{prefix}」開頭，實際為「{text}」"
    context.shown_code = code


@given("該憑證已於憑證中心暫禁")
def suspended(context: Context) -> None:
    cert = context.card["before"][0][1]
    _ca(context).suspend(f"{cert.serial_number:X}")


@given("該憑證已於憑證中心廢止")
def revoked(context: Context) -> None:
    cert = context.card["before"][0][1]
    _ca(context).revoke(f"{cert.serial_number:X}", "keyCompromise")


@given("完成線上憑證更新（步驟2至7）")
@when("完成線上憑證更新（步驟2至7）")
def renewed_online(context: Context) -> None:
    """Steps 2 to 7 as features/步驟2至8_憑證更新與憑證證明單.feature runs them, one after another."""
    context.execute_steps("""
        當 點選憑證管理平台的「憑證更新」
        而且 在選擇更新清單點選「確定」
        而且 輸入憑證載具密碼並點選「確定」
        而且 點選「更新」，並於提示訊息點選「確定」
        那麼 出現「憑證下載成功!」訊息，點選「確定」
        而且 憑證下載頁顯示「憑證下載成功」
        而且 憑證載具內有憑證中心簽發的新憑證，舊憑證仍可簽章
    """)

@when("在選擇更新清單點選「確定」")
def choose(context: Context) -> None:
    """The customer picks the certificate of the card in the reader, else that of their own card."""
    card = getattr(context, "card", None)
    candidates = [f"{card['before'][0][1].serial_number:X}"] if card else []
    customer = getattr(context, "customer", None)
    if customer is not None and customer.holder_id in getattr(context, "cards_of", {}):
        candidates.append(context.cards_of[customer.holder_id])
    for serial in candidates:
        radio = context.page.locator(f'input[name="serial"][value="{serial}"]')
        if radio.count():
            radio.check()
            break
    Renewal(context.page).choose_and_confirm()
    context.illustrates = 3


@then("畫面說明「{text}」")
def instruction(context: Context, text: str) -> None:
    shown = context.page.locator(".instruction").inner_text().strip()
    assert shown == text, f"畫面應說明「{text}」，實際為「{shown}」"


@then("查詢日期為「{day}」、查詢時間為「{clock}」")
def query_time(context: Context, day: str, clock: str) -> None:
    shown = Renewal(context.page).query_time()
    assert shown == (day, clock), f"查詢日期、時間應為 {day} {clock}，畫面為 {shown[0]} {shown[1]}"


@then("畫面顯示 Common Name「{cn}」、憑證儲存媒體「{carrier}」")
def confirm_facts(context: Context, cn: str, carrier: str) -> None:
    renewal = Renewal(context.page)
    assert renewal.shown("common-name") == cn, f"Common Name 應為 {cn}，畫面為 {renewal.shown('common-name')}"
    shown = renewal.wait_for_carrier()
    assert shown == carrier, f"憑證儲存媒體應為 {carrier}，畫面為 {shown}"


@when("輸入憑證載具密碼並點選「確定」")
def pin_and_confirm(context: Context) -> None:
    Renewal(context.page).enter_pin_and_confirm(context.card["pin"])
    # The same URL shows the next stage: wait for the terms page itself.
    context.page.get_by_test_id("terms").wait_for()
    context.illustrates = 4


@when("於確認更新資訊輸入憑證載具密碼「{pin}」並點選「確定」")
def given_pin_and_confirm(context: Context, pin: str) -> None:
    Renewal(context.page).enter_pin_and_confirm(pin)


@then("畫面提示「{message}」")
def page_error(context: Context, message: str) -> None:
    text, code = Renewal(context.page).error()
    assert text == message, f"畫面應提示「{message}」，實際為「{text}」"
    context.shown_code = code


@then("進入「{title}」頁，顯示「{section}」")
def page_title(context: Context, title: str, section: str) -> None:
    page = context.page
    page.get_by_role("heading", name=title, exact=True).wait_for()
    assert page.get_by_role("heading", name=section, exact=True).count() == 1, f"頁面沒有「{section}」"


def _answer_dialogs(context: Context, accept: bool = True) -> None:
    def handle(dialog: Any) -> None:
        context.dialogs.append((dialog.type, dialog.message))
        if accept:
            dialog.accept()
        else:
            dialog.dismiss()

    context.page.on("dialog", handle)


@when("點選「更新」，並於提示訊息點選「確定」")
def update(context: Context) -> None:
    _answer_dialogs(context)
    Renewal(context.page).update()
    context.page.wait_for_url("**/done", timeout=60_000)


@when("快速連按兩次「更新」，並於提示訊息點選「確定」")
def update_twice(context: Context) -> None:
    _answer_dialogs(context)
    button = context.page.get_by_test_id("renew-update-button")
    button.dblclick()
    context.page.wait_for_url("**/done", timeout=60_000)


@when("點選「更新」，並於提示訊息點選「取消」")
def update_cancelled(context: Context) -> None:
    _answer_dialogs(context, accept=False)
    Renewal(context.page).update()
    context.page.wait_for_function("() => !document.querySelector('#update').disabled")


@when("重新整理頁面")
def reload(context: Context) -> None:
    context.page.reload(wait_until="load")


@then("提示訊息為「{message}」")
def prompt_said(context: Context, message: str) -> None:
    confirms = [text for kind, text in context.dialogs if kind == "confirm"]
    assert confirms and confirms[-1] == message, f"提示訊息應為「{message}」，實際為 {confirms}"


@then("出現「{message}」訊息，點選「確定」")
def alert_said(context: Context, message: str) -> None:
    alerts = [text for kind, text in context.dialogs if kind == "alert"]
    assert alerts == [message], f"應出現「{message}」訊息，實際為 {alerts}"


@then("憑證下載頁顯示「{message}」")
def download_page(context: Context, message: str) -> None:
    shown = Renewal(context.page).shown("download-result")
    assert shown == message, f"憑證下載頁應顯示「{message}」，實際為「{shown}」"
    context.illustrates = 7


@then("憑證載具內有憑證中心簽發的新憑證，舊憑證仍可簽章")
def card_after(context: Context) -> None:
    old_container, old = context.card["before"][0]
    with PcscConnection(context.card["reader"]) as connection:
        card = PivCardClient(connection)
        card.select()
        after = {int(c.container): c.certificate for c in card.list_certificates()}
        assert after.get(old_container) == old, "舊憑證應仍在原金鑰容器"
        new = [cert for container, cert in after.items() if container != old_container]
        assert len(new) == 1, f"憑證載具內應有 1 張新憑證，實有 {len(new)} 張"
        issued = _ca(context).download(f"{new[0].serial_number:X}")
        assert issued.certificate == new[0] and issued.renewed_from == f"{old.serial_number:X}"
        card.verify_pin(context.card["pin"])
        data = "舊憑證簽章測試".encode()
        signature = card.sign(old_container, data)
    key = old.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    context.new_certificate = new[0]


@then("憑證中心只簽發了一張新憑證")
def one_issuance(context: Context) -> None:
    old = context.card["before"][0][1]
    holder = old.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    renewed = [c for c in _ca(context).query(cn=str(holder)) if c.renewed_from == f"{old.serial_number:X}"]
    assert len(renewed) == 1, f"應只有一張更新憑證，實有 {len(renewed)} 張"


@then("憑證證明單列印已自動選取最新憑證「{cn}」")
def proof_preselected(context: Context, cn: str) -> None:
    chosen = Proof(context.page).chosen()
    assert chosen == cn, f"應自動選取「{cn}」，實際為「{chosen}」"
    newest = context.page.locator('input[name="serial"]:checked').get_attribute("value")
    assert newest == f"{context.new_certificate.serial_number:X}", "自動選取的不是最新憑證"


@when("於憑證證明單列印點選「確定」")
def proof_confirm(context: Context) -> None:
    Proof(context.page).confirm()
    context.illustrates = 9


@then("憑證證明單顯示")
def proof_sheet(context: Context) -> None:
    shown = Proof(context.page).sheet()
    for row in context.table:
        label, value = row[0], row[1]
        assert shown.get(label) == value, f"{label}應為「{value}」，證明單為「{shown.get(label)}」"
    serial = shown.get("簽章憑證序號")
    assert serial == f"{context.new_certificate.serial_number:X}", f"簽章憑證序號 {serial} 不是新憑證"
    cert = context.new_certificate
    assert shown["主旨(使用者識別名稱)"] == display_name(cert.subject)
    assert shown["憑證生效日"] == taiwan_text(cert.not_valid_before_utc)


@then("點選「列印」可得憑證證明單（含中文字型的 PDF）")
def proof_pdf(context: Context) -> None:
    link = context.page.get_by_test_id("proof-pdf").get_attribute("href")
    answer = context.browser_context.request.get(f"{context.stack_env[env.PLATFORM_URL]}{link}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    pdf = context.home.root / "proof.pdf"
    pdf.write_bytes(answer.body())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "憑證證明單" in text and f"{context.new_certificate.serial_number:X}" in text, text
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert any("CJK" in line and " yes yes " in line for line in fonts.splitlines()), fonts
    assert context.page.get_by_test_id("proof-print").is_visible()


@when("於憑證證明單點選「列印」")
def proof_print(context: Context) -> None:
    """[列印]: an EOI customer's sheet is faxed to the 申辦分行 first (step 9), then printed."""
    context.fax_said, context.shown_code = Proof(context.page).print_and_fax()


@then("畫面顯示憑證資料已傳真至申辦分行「{branch}」及收件時間")
def faxed(context: Context, branch: str) -> None:
    serial = f"{context.new_certificate.serial_number:X}"
    with bank_store(context) as store:
        row = store.connection().execute(
            "SELECT branch_code, received_at FROM faxes WHERE serial = ? ORDER BY id DESC", (serial,)).fetchone()
    assert row is not None, "銀行沒有收到傳真"
    received = datetime.fromisoformat(row[1])
    expected = f"憑證資料已傳真至申辦分行 {branch}（收件時間 {roc_date(received)} {time_text(received)}）。"
    assert context.fax_said == expected, f"畫面應顯示「{expected}」，實際為「{context.fax_said}」"
    assert branch.startswith(row[0])


@then("畫面提醒電話告知分行電金/EOI經辦需執行憑證展期建檔")
def fax_next(context: Context) -> None:
    shown = context.page.get_by_test_id("proof-fax-next").inner_text().strip()
    assert shown == FAX_NEXT, f"畫面應提醒「{FAX_NEXT}」，實際為「{shown}」"


@given("憑證元件未啟動")
def agent_down(context: Context) -> None:
    """The page's view of an agent that does not run: every connection to it refused."""
    agent = str(context.stack_env.get(env.AGENT_URL, "http://127.0.0.1:61081"))
    context.page.route(f"{agent}/**", lambda route: route.abort("connectionrefused"))


@then("畫面說明如何啟動憑證元件")
def agent_missing(context: Context) -> None:
    box = context.page.get_by_test_id("agent-missing")
    box.wait_for(state="visible")
    text = box.inner_text()
    assert "無法連線至憑證元件" in text and "python -m fxml.agent serve" in text, text
