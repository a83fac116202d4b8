"""Steps of 憑證更新 (the manual's steps 2 to 7) and 憑證證明單列印 (step 8, and step 9's [列印]), in chromium.

The browser talks to the platform and, for the card, to the local card agent;
the card is a virtual TWCA card in the private pcscd's reader. The steps check
what the pages show against the manual (simulator/procedure.py) or against the
feature's own words, never against the table the pages are drawn from; and
afterwards what the card and the CA hold, through PC/SC and the CA's API, never
through the page's own claims.

A step after which the screen is the manual's step-N screen sets
``context.illustrates = N`` (the living manual takes that screenshot for step N).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from behave import given, then, when
from behave.runner import Context
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml import env
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.clock import TAIWAN
from fxml.display import display_name, roc_date, taiwan_text, time_text
from fxml.platform.tickets import System
from simulator import procedure
from simulator.bank.customers import persona
from simulator.behave.bank_support import bank_store
from simulator.behave.frame_support import assert_in_frame
from simulator.behave.pages import Proof, Renewal
from simulator.persona_cards import persona_card_profile

#: The step after which the screen is the manual's step-N screen (the living manual's screenshot).
MANUAL_SCREEN = "illustrates"

#: The buttons (and links that look like them) a screenshot of the manual shows, by their words.
BUTTONS = {"確定": "button", "回憑證管理": "link", "列印": "button"}

#: A 憑證載具密碼 that is not the card's (6 to 8 letters and digits, as the card takes them).
WRONG_PINS = ("Wrong123", "Wrong456", "Wrong789", "Wrong000")


def _ca(context: Context) -> CaClient:
    return CaClient.from_env(context.stack_env, actor="features")


def _illustrates(context: Context, step: int) -> None:
    setattr(context, MANUAL_SCREEN, step)


# -- the customer's card ------------------------------------------------------------------------
def _insert(context: Context, profile: dict[str, Any], name: str) -> None:
    home = context.home
    path = home.root / f"{name}.json"
    path.write_text(json.dumps(profile, ensure_ascii=False, indent=2), encoding="utf-8")
    image = home.create_card(path, name=name, replace=True)
    reader = home.stack.insert(image)
    context.card = {"image": image, "reader": reader["name"], "index": reader["index"], "pin": profile["pin"]}
    with PcscConnection(reader["name"]) as connection:
        card = PivCardClient(connection)
        card.select()
        context.card["before"] = [(int(c.container), c.certificate) for c in card.list_certificates()]
    # The certificate each customer's card of this scenario holds, by holder id.
    if not hasattr(context, "cards_of"):
        context.cards_of = {}
    context.cards_of[profile["holder_id"]] = f"{context.card['before'][0][1].serial_number:X}"


def _customer_card(context: Context, customer: str, **dated: Any) -> None:
    """The persona's card, its newest certificate due as ``dated`` says (simulator.persona_cards: what
    earlier scenarios issued to the customer and left valid is revoked first)."""
    who = persona(customer).customer
    profile = persona_card_profile(context.home, _ca(context), who, context.clock.now(), **dated)
    _insert(context, profile, f"card-{who.id_number}")


@given("「{customer}」的憑證載具已插入讀卡機，憑證於 {days:d} 天後到期")
def persona_card(context: Context, customer: str, days: int) -> None:
    _customer_card(context, customer, days_left=days)


@given("「{customer}」的憑證載具已插入讀卡機，憑證已於昨日到期")
def persona_card_expired(context: Context, customer: str) -> None:
    _customer_card(context, customer, days_left=-1)


@given("「{customer}」的憑證載具已插入讀卡機，憑證於 {days:d} 天後到期，且已於憑證中心暫禁")
def persona_card_suspended(context: Context, customer: str, days: int) -> None:
    _customer_card(context, customer, days_left=days)
    suspended(context)


@given("「{customer}」的憑證載具已插入讀卡機，憑證到期日為「{ends}」")
def persona_card_ending(context: Context, customer: str, ends: str) -> None:
    """The manual's example: a certificate ending 2023-05-14 23:59:59 (the day the renewed one is counted from)."""
    _customer_card(context, customer, not_after=datetime.fromisoformat(ends).replace(tzinfo=TAIWAN))


@given("「{customer}」的另一張憑證載具也插入讀卡機")
def another_card(context: Context, customer: str) -> None:
    """A second card in another reader; the scenario's card stays the first one."""
    first = context.card
    persona_card(context, customer, 27)
    context.card = first


@given("憑證載具已準備好")
def card_ready(context: Context) -> None:
    readers = {r["index"]: r["card"] for r in context.home.stack.readers()}
    assert readers.get(context.card["index"]), "憑證載具不在讀卡機內"


@when("移除憑證載具")
@given("移除憑證載具")
def remove_card(context: Context) -> None:
    context.home.stack.remove(context.card["index"])


@when("重新插入憑證載具")
def reinsert_card(context: Context) -> None:
    context.home.stack.insert(context.card["image"], context.card["index"])


@given("該憑證已於憑證中心暫禁")
def suspended(context: Context) -> None:
    cert = context.card["before"][0][1]
    _ca(context).suspend(f"{cert.serial_number:X}")


@given("該憑證已於憑證中心廢止")
def revoked(context: Context) -> None:
    cert = context.card["before"][0][1]
    _ca(context).revoke(f"{cert.serial_number:X}", "keyCompromise")


@given("客戶電腦上的憑證元件未啟動")
def agent_down(context: Context) -> None:
    """The page's view of an agent that does not run: every connection to it refused."""
    agent = str(context.stack_env.get(env.AGENT_URL, "http://127.0.0.1:61081"))
    context.page.route(f"{agent}/**", lambda route: route.abort("connectionrefused"))


# -- steps 2 to 7, one after another (the step-9 feature's way here) ----------------------------------
@given("完成線上憑證更新（步驟2至7）")
@when("完成線上憑證更新（步驟2至7）")
def renewed_online(context: Context) -> None:
    """Steps 2 to 7 as features/步驟2至8_憑證更新與憑證證明單.feature runs them, one after another."""
    context.execute_steps("""
        當 點選憑證管理平台的「憑證更新」
        而且 在選擇更新清單點選「確定」
        而且 輸入憑證載具密碼並點選「確定」
        而且 審閱用戶約定條款後點選「更新」
        而且 於提示訊息點選「確定」
        那麼 出現「憑證下載成功!」訊息
        當 點選網頁視窗的「確定」
        那麼 憑證下載頁顯示「憑證下載成功」
        而且 憑證載具內有憑證中心簽發的新憑證，舊憑證仍可簽章
    """)


# -- step 2: 選擇更新清單 ----------------------------------------------------------------------------
@then("選擇更新清單已選取憑證「{cn}」")
def renew_list_chosen(context: Context, cn: str) -> None:
    chosen = Renewal(context.page).chosen()
    assert chosen == cn, f"選擇更新清單應已選取「{cn}」，實際為「{chosen}」"
    progress(context, 1)


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


# -- what a screen shows, against the manual -----------------------------------------------------------
def progress(context: Context, stage: int) -> None:
    """The progress line: the manual's four stages, in order, the current one marked."""
    line = context.page.get_by_test_id("renewal-steps")
    shown = [str(t).strip() for t in line.locator("li").all_inner_texts()]
    expected = [f"{n} {label}" for n, label in enumerate(procedure.PROGRESS, start=1)]
    assert shown == expected, f"進度列應為 {expected}，畫面為 {shown}"
    current = line.locator('li[aria-current="step"]')
    assert current.count() == 1 and current.inner_text().strip() == expected[stage - 1], \
        f"進度列應標示「{expected[stage - 1]}」"


@then("畫面與操作手冊步驟{step:d}的畫面相符")
def like_the_manual(context: Context, step: int) -> None:
    """The screen against the manual's screenshot of that step (procedure.SCREENS): the frame, the menu,
    the title, every label and fixed text, the progress line, and 查詢日期/查詢時間 as that screenshot
    writes them, on the manual's clock."""
    screen = procedure.SCREENS[step]
    page = context.page
    assert_in_frame(page)
    title = page.locator("main.content h1").first.inner_text().strip()
    assert title == screen.title, f"標題應為「{screen.title}」，畫面為「{title}」"
    content = page.locator("main.content").inner_text()
    for word in screen.words:
        if word in procedure.PROGRESS or word.startswith(("查詢日期", "查詢時間")):
            continue  # the progress line and the query line: checked whole below
        if word in BUTTONS:
            control = page.locator("main.content").get_by_role(BUTTONS[word], name=word, exact=True)
            assert control.is_visible(), f"畫面應有操作手冊步驟{step}畫面上的[{word}]"
            continue
        assert word in content, f"畫面應有操作手冊步驟{step}畫面上的「{word}」"
    if step in (3, 4):
        progress(context, {3: 2, 4: 3}[step])
    if screen.query_date is not None:
        shown = Renewal(page).query_line()
        date, time = screen.query_line()
        between = shown.removeprefix(date).removesuffix(time)
        assert shown.startswith(date) and shown.endswith(time) and not between.strip(), \
            f"應為「{date}」「{time}」（如操作手冊），畫面為「{shown}」"
    if step == 9:
        labels = [label for label, _value in Proof(page).sheet_rows()]
        assert labels == list(procedure.PROOF_LABELS), f"證明單欄位應為 {list(procedure.PROOF_LABELS)}，畫面為 {labels}"


@then("畫面於表格下方說明")
def confirm_notes(context: Context) -> None:
    shown = Renewal(context.page).notes()
    expected = [row[0] for row in context.table]
    assert shown == expected, f"說明應為 {expected}，畫面為 {shown}"
    assert shown == list(procedure.STEP3_NOTES), f"說明應如操作手冊 {list(procedure.STEP3_NOTES)}"


@then("「確定」是畫面最下方的按鈕，其下沒有任何內容")
def confirm_at_the_bottom(context: Context) -> None:
    below = Renewal(context.page).nothing_below("renew-confirm-button")
    assert below == [], f"「確定」下方不應有內容，實有 {below}"


@then("畫面說明「{text}」")
def instruction(context: Context, text: str) -> None:
    shown = context.page.locator(".instruction").inner_text().strip()
    assert shown == text, f"畫面應說明「{text}」，實際為「{shown}」"


@then("查詢日期與查詢時間為「{line}」")
def query_line(context: Context, line: str) -> None:
    shown = Renewal(context.page).query_line()
    assert shown == line, f"應為「{line}」，畫面為「{shown}」"


# -- step 3: 確認更新資訊 ---------------------------------------------------------------------------
@then("畫面顯示 Common Name「{cn}」、憑證儲存媒體「{carrier}」")
def confirm_facts(context: Context, cn: str, carrier: str) -> None:
    renewal = Renewal(context.page)
    assert renewal.shown("common-name") == cn, f"Common Name 應為 {cn}，畫面為 {renewal.shown('common-name')}"
    shown = renewal.wait_for_carrier()
    assert shown == carrier, f"憑證儲存媒體應為 {carrier}，畫面為 {shown}"


@then("憑證儲存媒體顯示「{carrier}」")
def carrier_shown(context: Context, carrier: str) -> None:
    shown = Renewal(context.page).wait_for_carrier(carrier)
    assert shown == carrier, f"憑證儲存媒體應為 {carrier}，畫面為 {shown}"


@when("輸入憑證載具密碼")
def pin_typed(context: Context) -> None:
    """[插入憑證載具]→[輸入憑證載具密碼]: the card is read (憑證儲存媒體 shown), the PIN typed: step 3's screen."""
    renewal = Renewal(context.page)
    renewal.wait_for_carrier()
    renewal.fill_pin(context.card["pin"])
    _illustrates(context, 3)


@when("點選「確定」")
def pin_confirmed(context: Context) -> None:
    """確認更新資訊's [確定]: the PIN goes to the card agent; the terms follow (step 4's screen)."""
    Renewal(context.page).confirm()
    context.page.get_by_test_id("terms").wait_for()
    _illustrates(context, 4)


@when("輸入憑證載具密碼並點選「確定」")
def pin_and_confirm(context: Context) -> None:
    Renewal(context.page).enter_pin_and_confirm(context.card["pin"])
    # The same URL shows the next stage: wait for the terms page itself.
    context.page.get_by_test_id("terms").wait_for()
    _illustrates(context, 4)


@when("輸入憑證載具密碼後點選「確定」")
def pin_then_confirm(context: Context) -> None:
    """The card's PIN and [確定], for a refusal that follows (no card, another customer's card, locked)."""
    Renewal(context.page).enter_pin_and_confirm(context.card["pin"])


@when("輸入錯誤的憑證載具密碼並點選「確定」")
def wrong_pin_and_confirm(context: Context) -> None:
    """A PIN that is not the card's; each time another one."""
    tried = getattr(context, "wrong_pins", 0)
    context.wrong_pins = tried + 1
    wrong = WRONG_PINS[tried % len(WRONG_PINS)]
    assert wrong != context.card["pin"]
    Renewal(context.page).enter_pin_and_confirm(wrong)


@then("畫面提示「{message}」")
def page_error(context: Context, message: str) -> None:
    """The page's alert (a refusal or a warning) says ``message``."""
    page = context.page
    page.locator('main.content [role="alert"]:visible').first.wait_for(timeout=15_000)
    shown = Renewal(page).alerts()
    assert shown == [message], f"畫面應提示「{message}」，實際為 {shown}"
    context.shown_code = page.locator('main.content [role="alert"]:visible').first.get_attribute("data-code") or ""


@then("畫面不出現程式指令")
def no_commands(context: Context) -> None:
    text = context.page.locator("main.content").inner_text()
    for command in ("python", "fxml.agent", "fxmlsim up", "serve"):
        assert command not in text, f"客戶的畫面不應出現程式指令「{command}」：{text}"


# -- step 4: 更新約定條款; step 5: the prompt; step 6: the message --------------------------------------
@then("進入「{title}」頁，顯示「{section}」")
def page_title(context: Context, title: str, section: str) -> None:
    page = context.page
    page.get_by_role("heading", name=title, exact=True).wait_for()
    assert page.get_by_role("heading", name=section, exact=True).count() == 1, f"頁面沒有「{section}」"


@when("審閱用戶約定條款後點選「更新」")
def update(context: Context) -> None:
    """[更新]: the page's prompt shows (step 5's screen)."""
    renewal = Renewal(context.page)
    renewal.update()
    context.prompt = renewal.prompt()
    _illustrates(context, 5)


@when("快速連按兩次「更新」")
def update_twice(context: Context) -> None:
    context.page.get_by_test_id("renew-update-button").dblclick()
    context.prompt = Renewal(context.page).prompt()
    _illustrates(context, 5)


@then("頁面跳出提示訊息「{message}」")
def prompt_said(context: Context, message: str) -> None:
    shown = Renewal(context.page).prompt()
    assert shown == message, f"提示訊息應為「{message}」，實際為「{shown}」"
    dialog = context.page.get_by_test_id("renew-prompt")
    for button in ("確定", "取消"):
        assert dialog.get_by_role("button", name=button, exact=True).is_visible(), f"提示訊息應有[{button}]"


@when("於提示訊息點選「確定」")
def prompt_ok(context: Context) -> None:
    """正式進入憑證更新作業: the renewal runs until the page's message shows (step 6's screen)."""
    renewal = Renewal(context.page)
    renewal.answer_prompt(True)
    context.downloaded = renewal.downloaded()
    _illustrates(context, 6)


@when("於提示訊息點選「取消」")
def prompt_cancel(context: Context) -> None:
    Renewal(context.page).answer_prompt(False)


@then("出現「{message}」訊息")
def downloaded_said(context: Context, message: str) -> None:
    shown = Renewal(context.page).downloaded()
    assert shown == message, f"應出現「{message}」訊息，實際為「{shown}」"
    dialog = context.page.get_by_test_id("renew-downloaded")
    assert dialog.get_by_role("button", name="確定", exact=True).is_visible(), "訊息應有網頁視窗的[確定]"


@when("點選網頁視窗的「確定」")
def downloaded_ok(context: Context) -> None:
    """The message's [確定]: the 憑證下載 page (step 7's screen)."""
    Renewal(context.page).close_downloaded()
    _illustrates(context, 7)


@then("畫面說明已取消憑證更新：「{message}」")
def cancelled_said(context: Context, message: str) -> None:
    box = context.page.get_by_test_id("renew-cancelled")
    box.wait_for(state="visible")
    shown = box.inner_text().strip()
    assert shown == message, f"畫面應說明「{message}」，實際為「{shown}」"


@then("仍在「{title}」頁，可再點選「更新」")
def still_on_terms(context: Context, title: str) -> None:
    page = context.page
    assert page.get_by_role("heading", name=title, exact=True).is_visible(), f"應仍在「{title}」頁"
    assert not page.get_by_test_id("renew-prompt").is_visible(), "提示訊息應已關閉"
    assert not page.get_by_test_id("renew-progress").is_visible(), "不應開始憑證更新作業"
    button = page.get_by_role("button", name="更新", exact=True)
    assert button.is_visible() and button.is_enabled(), "應可再點選「更新」"
    progress(context, 3)


@then("憑證中心未簽發新憑證，原憑證的憑證狀態仍為「{status}」")
def nothing_renewed(context: Context, status: str) -> None:
    """At the CA (the card stays in the card agent's session on this page: the scenario's end reads it)."""
    old = context.card["before"][0][1]
    assert not _renewals_of(context, old), "憑證中心不應簽發新憑證"
    [record] = _ca(context).query(serial=f"{old.serial_number:X}")
    assert record.status == status and record.renewed_by is None, f"原憑證應為「{status}」：{record.status}"


# -- step 7: 憑證下載 ------------------------------------------------------------------------------
@then("憑證下載頁顯示「{message}」")
def download_page(context: Context, message: str) -> None:
    shown = Renewal(context.page).shown("download-result")
    assert shown == message, f"憑證下載頁應顯示「{message}」，實際為「{shown}」"
    progress(context, 4)


@then("憑證下載頁說明「{message}」")
def download_next(context: Context, message: str) -> None:
    shown = Renewal(context.page).shown("renew-next")
    assert shown == message, f"憑證下載頁應說明「{message}」，實際為「{shown}」"
    # The screen of the manual's note after step 7 for this customer's system (the living manual).
    eoi = getattr(context, "system", None) is not None and context.system.system is System.EOI
    context.illustrates = "EOI繼續步驟8" if eoi else "步驟7-個人企業完成"


@then("憑證下載頁顯示新憑證的憑證生效日「{start}」、憑證到期日「{end}」")
def download_dates(context: Context, start: str, end: str) -> None:
    shown = Renewal(context.page).new_certificate()
    dates = (shown.get("憑證生效日"), shown.get("憑證到期日"))
    assert dates == (start, end), f"新憑證的效期應為 {start} 至 {end}，畫面為 {shown}"
    card_after(context)
    cert = context.new_certificate
    assert (taiwan_text(cert.not_valid_before_utc), taiwan_text(cert.not_valid_after_utc)) == (start, end), \
        "憑證載具內新憑證的效期與畫面不符"


def _renewals_of(context: Context, old: x509.Certificate) -> list[Any]:
    holder = old.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    return [c for c in _ca(context).query(cn=str(holder)) if c.renewed_from == f"{old.serial_number:X}"]


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
    renewed = _renewals_of(context, context.card["before"][0][1])
    assert len(renewed) == 1, f"應只有一張更新憑證，實有 {len(renewed)} 張"


@when("重新整理頁面")
def reload(context: Context) -> None:
    context.page.reload(wait_until="load")


# -- step 8: 憑證證明單列印 -----------------------------------------------------------------------------
@when("點選畫面左方之「憑證證明單列印」")
def proof_menu(context: Context) -> None:
    context.page.get_by_test_id("platform-menu").get_by_role("link", name="憑證證明單列印", exact=True).click()
    context.page.wait_for_load_state()
    _illustrates(context, 8)


@then("憑證證明單列印列出「{first}」與「{second}」，已自動選取最新憑證「{cn}」")
def proof_rows(context: Context, first: str, second: str, cn: str) -> None:
    rows = Proof(context.page).rows()
    assert rows == [first, second], f"應列出 {[first, second]}，畫面為 {rows}"
    proof_preselected(context, cn)


@then("憑證證明單列印已自動選取最新憑證「{cn}」")
def proof_preselected(context: Context, cn: str) -> None:
    chosen = Proof(context.page).chosen()
    assert chosen == cn, f"應自動選取「{cn}」，實際為「{chosen}」"
    newest = context.page.locator('input[name="serial"]:checked').get_attribute("value")
    assert newest == f"{context.new_certificate.serial_number:X}", "自動選取的不是最新憑證"


@when("於憑證證明單列印點選「確定」")
def proof_confirm(context: Context) -> None:
    """[確定] on the list, its choice kept: the proof sheet with [列印] (step 9's screen)."""
    Proof(context.page).confirm()
    _illustrates(context, 9)


@when("改選憑證「{cn}」後點選「確定」")
def proof_other(context: Context, cn: str) -> None:
    proof = Proof(context.page)
    proof.choose(cn)
    proof.confirm()


@then("憑證證明單顯示")
def proof_sheet(context: Context) -> None:
    """The sheet line by line as the page shows it: the feature's labels (the manual's) and values.
    「（新憑證的序號）」 stands for the new certificate's serial, which the manual leaves blank."""
    shown = Proof(context.page).sheet_rows()
    expected = []
    for row in context.table:
        value = row[1]
        if value == "（新憑證的序號）":
            value = f"{context.new_certificate.serial_number:X}"
        expected.append((row[0], value))
    assert shown == expected, f"證明單應為 {expected}，畫面為 {shown}"
    cert = context.new_certificate
    values = dict(shown)
    assert values["主旨(使用者識別名稱)"] == display_name(cert.subject)
    assert values["憑證生效日"] == taiwan_text(cert.not_valid_before_utc)


@then("憑證證明單顯示的是「{cn}」的資料，憑證狀態為「{status}」")
def proof_of(context: Context, cn: str, status: str) -> None:
    values = dict(Proof(context.page).sheet_rows())
    subject = values.get("主旨(使用者識別名稱)", "")
    assert subject.endswith(f"CN={cn}"), f"證明單應為「{cn}」的資料，主旨為「{subject}」"
    assert values.get("憑證狀態") == status, f"憑證狀態應為「{status}」，證明單為「{values.get('憑證狀態')}」"
    record = next(c for c in _ca(context).query(cn=cn) if c.serial == values.get("* 簽章憑證序號"))
    assert record.status == status, f"憑證中心的憑證狀態為「{record.status}」"


@then("畫面沒有「列印」按鈕，憑證資料未傳真至申辦分行")
def no_print(context: Context) -> None:
    assert context.page.get_by_role("button", name="列印", exact=True).count() == 0, "畫面不應有「列印」按鈕"
    serial = dict(Proof(context.page).sheet_rows()).get("* 簽章憑證序號")
    with bank_store(context) as store:
        row = store.connection().execute("SELECT count(*) FROM faxes WHERE serial = ?", (serial,)).fetchone()
    assert row == (0,), "憑證資料不應傳真至申辦分行"


@when("點選「回憑證證明單列印」")
def back_to_proof_list(context: Context) -> None:
    context.page.get_by_role("link", name="回憑證證明單列印", exact=True).click()
    context.page.wait_for_load_state()


# -- step 9's first part: [列印] ---------------------------------------------------------------------
@when("於憑證證明單點選「列印」")
def proof_print(context: Context) -> None:
    """[列印]: an EOI customer's sheet is faxed to the 申辦分行 first (step 9), then printed."""
    proof = Proof(context.page)
    proof.watch_printing()
    if context.page.get_by_test_id("proof-print").get_attribute("data-fax-url"):
        context.fax_said, context.shown_code = proof.print_and_fax()
    else:
        context.page.get_by_test_id("proof-print").click()
        context.page.wait_for_function("() => window.fxmlPrinted > 0")


@then("列印後畫面顯示「{message}」")
def printed_said(context: Context, message: str) -> None:
    assert context.fax_said == message, f"畫面應顯示「{message}」，實際為「{context.fax_said}」"
    serial = f"{context.new_certificate.serial_number:X}"
    with bank_store(context) as store:
        row = store.connection().execute("SELECT count(*) FROM faxes WHERE serial = ?", (serial,)).fetchone()
    assert row == (1,), "申辦分行應收到一份此憑證的憑證證明單"


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


def _pdf_lines(pdf: bytes, where: Path) -> list[str]:
    where.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(where), "-"], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in text.splitlines() if line.strip()]


def _sheet_in(lines: list[str], rows: list[tuple[str, str]]) -> None:
    """Each line of the sheet in the printed text: its label exactly as on the page (a colon
    or an asterisk more or less does not pass), then, on the same line, the start of its value."""
    for label, value in rows:
        found = [line for line in lines if re.match(re.escape(label) + r"\s{2,}\S", line)]
        assert found, f"列印的憑證證明單應有「{label}」一列：{lines}"
        rest = re.sub(r"\s+", " ", found[0][len(label):]).strip()
        assert value.startswith(rest[:16]), f"「{label}」應為「{value}」，列印為「{rest}」"


@then("瀏覽器列印出憑證證明單，欄位名稱與畫面相同")
def printed_sheet(context: Context) -> None:
    """What [列印] gave the browser to print: the page in print media (the frame left out), as a PDF."""
    proof = Proof(context.page)
    assert proof.printed() == 1, f"點選「列印」應列印一次，實際 {proof.printed()} 次"
    rows = proof.sheet_rows()
    context.page.emulate_media(media="print")
    try:
        pdf = context.page.pdf(format="A4")
    finally:
        context.page.emulate_media(media="screen")
    lines = _pdf_lines(pdf, context.home.root / "printed.pdf")
    _sheet_in(lines, rows)
    for word in (procedure.FRAME[-1], procedure.MENU[0], procedure.FOOTER[0]):
        assert not any(word in line for line in lines), f"列印的應只有憑證證明單，卻有「{word}」"


@then("憑證證明單的 PDF 與畫面相同：欄位名稱如操作手冊，含中文字型，頁尾不在字詞中間斷行")
def proof_pdf(context: Context) -> None:
    link = context.page.get_by_test_id("proof-pdf").get_attribute("href")
    answer = context.browser_context.request.get(f"{context.stack_env[env.PLATFORM_URL]}{link}")
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    path = context.home.root / "proof.pdf"
    lines = _pdf_lines(answer.body(), path)
    rows = Proof(context.page).sheet_rows()
    assert [label for label, _ in rows] == list(procedure.PROOF_LABELS)
    _sheet_in(lines, rows)
    assert any(procedure.FOOTER[-1] in line for line in lines), f"頁尾應有完整的「{procedure.FOOTER[-1]}」：{lines}"
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert any("CJK" in line and " yes yes " in line for line in fonts.splitlines()), fonts

