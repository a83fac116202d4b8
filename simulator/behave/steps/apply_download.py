"""Steps of 憑證申請 and 憑證下載 (beyond the manual, features/憑證申請與憑證下載.feature), in chromium.

The customer's pages are the platform's; the officer's (憑證申請審核) are the branch back office's, in a
browser of their own, shown in the report as the step-9 steps show theirs (``context.shown_page``).
What a page says is compared with the feature's words; what happened is read from where it happened:
the card through PC/SC, the CA through its API, the bank's and the platform's records from their files.
A blank card is made here from the customer's records (its holder, its name; the cards' test PIN).
The later stages of 憑證下載 (the PIN, the terms, the prompt, 「憑證下載成功!」) are 憑證更新's steps
(steps/renewal_steps.py): the same page objects and words, on the download's pages.
"""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Any

from behave import given, then, when
from behave.runner import Context
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml import env
from fxml.ca.client import CaClient
from fxml.card.client import PivCardClient
from fxml.card.pcsc import PcscConnection
from fxml.platform.store import STORE_FILE as PLATFORM_FILE
from fxml.web import labels
from simulator.applying import Officer, apply
from simulator.bank.cards import CARD_PIN, CARD_PUK
from simulator.bank.customers import Customer, persona
from simulator.bank.officers import load_officers
from simulator.behave.apply_pages import Apply, Desk, Download
from simulator.behave.bank_support import as_customer, bank_store, in_peoples_words, new_browser
from simulator.behave.frame_support import assert_in_frame
from simulator.behave.pages import Message, Platform, Renewal, Screen
from simulator.customer import Customer as AtTheKeyboard
from simulator.services import PLATFORM

#: A 授權碼 of the right form that the CA never issued.
NEVER_ISSUED = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"


def _ca(context: Context) -> CaClient:
    return CaClient.from_env(context.stack_env, actor="features")


def _bank_url(context: Context) -> str:
    return str(context.stack_env[env.BANK_URL])


def _platform_url(context: Context) -> str:
    return str(context.stack_env[env.PLATFORM_URL])


def _customer(context: Context) -> Customer:
    who: Customer = getattr(context, "applicant", None) or context.customer
    return who


# -- the customer's blank card --------------------------------------------------------------------------
@given("「{customer}」有一張空白的憑證晶片卡({carrier})，已插入讀卡機")
def blank_card(context: Context, customer: str, carrier: str) -> None:
    """A card as the branch hands it out: the customer's holder id and name, the test PIN, no key, no certificate."""
    who = persona(customer).customer
    home = context.home
    profile = {"holder_id": who.holder_id, "holder_name": who.name,
               "card_serial": f"TWCA-BLANK-{who.holder_id[-8:]}", "carrier": carrier, "pin": CARD_PIN,
               "puk": CARD_PUK, "certificates": []}
    path = home.root / f"blank-{who.id_number}.json"
    path.write_text(json.dumps(profile, ensure_ascii=False, indent=2), encoding="utf-8")
    image = home.create_card(path, name=f"blank-{who.id_number}", replace=True)
    reader = home.stack.insert(image)
    context.card = {"image": image, "reader": reader["name"], "index": reader["index"], "pin": CARD_PIN,
                    "before": [], "holder_id": who.holder_id}
    assert _card_certificates(context) == [], "空白的憑證載具不應存有憑證"


def _card_certificates(context: Context) -> list[Any]:
    with PcscConnection(context.card["reader"]) as connection:
        card = PivCardClient(connection)
        card.select()
        return list(card.list_certificates())


# -- the frame of the manual's screens -------------------------------------------------------------------
@then("畫面依操作手冊畫面的格式：頁首、左方選單、進度列「{stages}」、查詢日期與查詢時間、頁尾")
def in_the_manuals_frame(context: Context, stages: str) -> None:
    """The frame the manual's screenshots show (procedure.FRAME, MENU, FOOTER), the page's stages in the
    renewal's style (the first one marked) and its 查詢日期/查詢時間 line written as step 3's."""
    page = context.page
    assert_in_frame(page)
    line = page.get_by_test_id("renewal-steps")
    shown = [str(t).strip() for t in line.locator("li").all_inner_texts()]
    expected = [f"{n} {label}" for n, label in enumerate(stages.split("、"), start=1)]
    assert shown == expected, f"進度列應為 {expected}，畫面為 {shown}"
    assert line.locator('li[aria-current="step"]').inner_text().strip() == expected[0], "進度列應標示第 1 步"
    query = page.get_by_test_id("query-time").inner_text().strip()
    assert re.fullmatch(r"查詢日期: \d{3}/\d{2}/\d{2}　查詢時間: \d{2}:\d{2}:\d{2}", query), \
        f"查詢日期與查詢時間應如操作手冊步驟3的畫面，畫面為「{query}」"
    in_peoples_words(Screen(page).main_text())


# -- 憑證申請 ----------------------------------------------------------------------------------------------
@then("申請人為「{name}」、{label}為「{number}」")
def applicant(context: Context, name: str, label: str, number: str) -> None:
    form = Apply(context.page)
    assert form.shown("applicant") == name, f"申請人應為「{name}」，畫面為「{form.shown('applicant')}」"
    row = context.page.get_by_test_id("applicant-id")
    shown_label = context.page.locator("tr", has=row).locator("th").inner_text().strip()
    assert (shown_label, form.shown("applicant-id")) == (label, number), f"應為{label}「{number}」"


@when("填寫憑證名稱「{suffix}」、選擇憑證儲存媒體「{carrier}」並點選「確定」")
def fill_application(context: Context, suffix: str, carrier: str) -> None:
    Apply(context.page).fill(suffix, carrier)


@then("確認申請資料：Common Name 為「{cn}」、憑證儲存媒體為「{carrier}」")
def application_confirmed(context: Context, cn: str, carrier: str) -> None:
    form = Apply(context.page)
    assert form.is_confirming(), f"應進入確認申請資料：{Screen(context.page).main_text()}"
    shown = form.confirmed()
    assert (shown.get("Common Name"), shown.get(labels.CARRIER)) == (cn, carrier), f"確認申請資料為 {shown}"
    context.applied_cn = cn


@when("於確認申請資料點選「確定」")
def send_application(context: Context) -> None:
    Apply(context.page).send()


@then("畫面顯示「{message}」，申辦分行為「{branch}」")
def application_sent(context: Context, message: str, branch: str) -> None:
    form = Apply(context.page)
    assert form.shown("apply-result") == message, f"應顯示「{message}」，畫面為「{form.shown('apply-result')}」"
    shown = form.sent()
    assert shown.get("申辦分行") == branch, f"申辦分行應為「{branch}」，畫面為 {shown}"
    assert shown.get("Common Name") == context.applied_cn


@then("畫面說明分行核准後，經辦將告知授權碼，請至「憑證下載」下載憑證")
def application_next(context: Context) -> None:
    said = Apply(context.page).shown("apply-next-step")
    for words in ("分行核准後", "授權碼", "[憑證下載]"):
        assert words in said, f"畫面應說明「{words}」：{said}"


@when("填寫憑證名稱「{suffix}」並送出申請")
def apply_and_send(context: Context, suffix: str) -> None:
    """填寫申請資料 (the carrier as proposed) and, if the platform takes it, 確認申請資料's [確定]."""
    context.applications_before = _applications(context, suffix)
    form = Apply(context.page)
    form.fill(suffix, "憑證晶片卡(大卡)")
    if form.is_confirming():
        form.send()


def _applications(context: Context, suffix: str) -> int:
    with bank_store(context) as store:
        found = store.connection().execute("SELECT count(*) FROM applications WHERE id_number = ? AND cn_suffix = ?",
                                           (_customer(context).id_number, suffix)).fetchone()
    return int(found[0])


@then("銀行未收到憑證名稱「{suffix}」的新申請")
def no_new_application(context: Context, suffix: str) -> None:
    assert _applications(context, suffix) == context.applications_before, "銀行不應收到新的申請"
    in_peoples_words(Screen(context.page).main_text())


def _at_the_keyboard(context: Context, customer: str) -> AtTheKeyboard:
    """The customer in the platform over HTTP, as ``fxmlsim apply`` does (another computer than the scenario's)."""
    who = persona(customer).customer
    context.applicant = who
    person = AtTheKeyboard(who, who.users[0].user_code, _bank_url(context), _platform_url(context))
    person.log_in()
    person.enter_platform()
    return person


@given("「{customer}」已申請憑證名稱「{suffix}」，尚待申辦分行審核")
def applied_before(context: Context, customer: str, suffix: str) -> None:
    person = _at_the_keyboard(context, customer)
    if _applications(context, suffix) == 0:
        apply(person, suffix, "大卡", lambda said: None)
    context.applied_cn = f"{person.customer.holder_id}-00-{suffix}"


@given("「{customer}」已申請憑證名稱「{suffix}」，並經申辦分行核准，取得授權碼")
def approved_before(context: Context, customer: str, suffix: str) -> None:
    """憑證申請 (over HTTP) and its approval by an officer of the customer's branch (over HTTP): the 授權碼."""
    applied_before(context, customer, suffix)
    who = _customer(context)
    officer = next(o for o in load_officers() if o.branch.code == who.branch.code)
    desk = Officer(officer, _bank_url(context))
    desk.log_in()
    number = next(n for n, cn in desk.pending() if cn == context.applied_cn)
    context.authorization_code, _until = desk.approve(number)
    context.customer = who


# -- the branch: 憑證申請審核 --------------------------------------------------------------------------------
def _desk(context: Context, page: Any = None) -> Desk:
    page = page or context.officer_page
    context.shown_page = page
    return Desk(page, _bank_url(context))


@when("開啟憑證申請審核中此客戶的申請")
def open_application(context: Context) -> None:
    desk = _desk(context)
    rows = [r for r in desk.applications() if r["Common Name"] == context.applied_cn]
    assert rows, f"憑證申請審核中沒有 {context.applied_cn} 的申請"
    context.application = rows[0]["application"]
    desk.open(context.application)
    desk.page.get_by_test_id("application-facts").wait_for()


@then("申請的 Common Name 為「{cn}」、憑證儲存媒體為「{carrier}」，狀態為「{status}」")
def application_facts(context: Context, cn: str, carrier: str, status: str) -> None:
    facts = _desk(context).facts()
    shown = (facts.get("憑證 Common Name"), facts.get("憑證儲存媒體"), facts.get("狀態"))
    assert shown == (cn, carrier, status), f"申請應為 {(cn, carrier, status)}，畫面為 {facts}"


@then("{branch}分行的{role}經辦{name}的憑證申請審核中沒有此申請")
def not_at_another_branch(context: Context, branch: str, role: str, name: str) -> None:
    officer = next((o for o in load_officers() if o.branch.name == f"{branch}分行" and o.role.label == f"{role}經辦"
                    and o.name == name), None)
    assert officer is not None, f"{branch}分行沒有{role}經辦{name}"
    page = new_browser(context)
    page.goto(f"{_bank_url(context)}/branch/login")
    page.get_by_label("分行代號", exact=True).fill(officer.branch.code)
    page.get_by_label("員工代號", exact=True).fill(officer.officer_code)
    page.get_by_label("密碼", exact=True).fill(officer.password)
    page.get_by_role("button", name=labels.LOGIN).click()
    page.wait_for_load_state()
    shown = [r["Common Name"] for r in _desk(context, page).applications()]
    assert context.applied_cn not in shown, f"{branch}分行的憑證申請審核不應有此申請：{shown}"
    context.shown_page = page


@when("點選「核准並核發授權碼」")
def approve(context: Context) -> None:
    context.authorizations_before = _authorizations(context)
    _desk(context).approve()


@then("分行作業系統顯示「{title}」及授權碼，有效期限為「{until}」")
def approved(context: Context, title: str, until: str) -> None:
    desk = _desk(context)
    heading = desk.page.get_by_test_id("application-approved").get_by_role("heading").inner_text().strip()
    assert heading == title, f"應顯示「{title}」，畫面為「{heading}」"
    code = desk.code()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code), f"授權碼應為 16 碼英數字（每 4 碼一組）：{code}"
    assert desk.approval().get("授權碼有效期限") == until, desk.approval()
    in_peoples_words(Screen(desk.page).main_text().replace(code, ""))
    context.authorization_code = code


@then("稽核紀錄有此筆憑證申請核准，銀行未留存授權碼")
def approval_audited(context: Context) -> None:
    with bank_store(context) as store:
        entries = [a for a in store.audit_log(50) if a.action == "憑證申請核准" and a.result == "OK"]
        dump = repr(store.dump())
    assert entries and json.loads(entries[-1].detail)["cn"] == context.applied_cn, entries
    code = context.authorization_code
    assert code not in dump and code.replace("-", "") not in dump, "銀行不應留存授權碼"


@when("另開一個分頁開啟同一筆申請")
def second_tab(context: Context) -> None:
    context.second_tab = context.officer_page.context.new_page()
    Desk(context.second_tab, _bank_url(context)).open(context.application)


@when("點選「不核准」，原因為「{reason}」")
def refuse(context: Context, reason: str) -> None:
    context.authorizations_before = _authorizations(context)
    _desk(context).refuse(reason)


@then("申請狀態為「{status}」，不核准原因為「{reason}」")
def refused_application(context: Context, status: str, reason: str) -> None:
    facts = _desk(context).facts()
    assert (facts.get("狀態"), facts.get("不核准原因")) == (status, reason), facts


def _authorizations(context: Context) -> int:
    """The CA's 核發授權碼 for the applicant so far (its audit)."""
    who = _customer(context)
    return sum(1 for e in _ca(context).audit(10_000) if e["action"] == "核發授權碼" and e["target"] == who.holder_id)


@then("憑證中心未核發授權碼")
def no_authorization(context: Context) -> None:
    assert _authorizations(context) == context.authorizations_before, "憑證中心不應核發授權碼"


@when("於另一個分頁點選「核准並核發授權碼」")
def approve_in_second_tab(context: Context) -> None:
    context.shown_page = context.second_tab
    context.second_tab.get_by_test_id("application-approve").click()
    context.second_tab.wait_for_load_state()


@then("分行作業系統拒絕審核，顯示「{message}」")
def decision_refused(context: Context, message: str) -> None:
    page = context.second_tab
    context.shown_page = page
    text, _code = Message(page).text()
    in_peoples_words(Screen(page).main_text())
    assert text == message, f"應顯示「{message}」，實際為「{text}」"


# -- 憑證下載 ----------------------------------------------------------------------------------------------
@when("經辦將授權碼告知客戶，客戶點選憑證管理平台的「{item}」")
def told_the_code(context: Context, item: str) -> None:
    Platform(as_customer(context), _platform_url(context)).choose(item)


def _downloads(context: Context) -> int:
    """The platform's download records of the customer (its file, read as it is)."""
    conn = sqlite3.connect(context.home.root / str(PLATFORM.state_dir) / PLATFORM_FILE)
    try:
        found = conn.execute("SELECT count(*) FROM renewals WHERE kind = 'download' AND holder_id = ?",
                             (_customer(context).holder_id,)).fetchone()
    finally:
        conn.close()
    return int(found[0])


@when("輸入分行經辦告知的授權碼並點選「確定」")
def enter_code(context: Context) -> None:
    context.downloads_before = _downloads(context)
    Download(context.page).enter_code(context.authorization_code)


@when("輸入錯誤的授權碼並點選「確定」")
def enter_wrong_code(context: Context) -> None:
    context.downloads_before = _downloads(context)
    Download(context.page).enter_code(NEVER_ISSUED)


@then("憑證載具未變更，憑證管理平台未開始憑證下載")
def nothing_started(context: Context) -> None:
    assert _card_certificates(context) == [], "憑證載具不應有憑證"
    assert _downloads(context) == context.downloads_before, "憑證管理平台不應開始憑證下載"


@then("憑證下載結果顯示「{message}」，Common Name 為「{cn}」")
def download_result(context: Context, message: str, cn: str) -> None:
    page = context.page
    shown = page.get_by_test_id("download-result").inner_text().strip()
    assert shown == message, f"應顯示「{message}」，畫面為「{shown}」"
    facts = Download(page).certificate()
    assert facts.get("Common Name") == cn, f"Common Name 應為 {cn}，畫面為 {facts}"
    current = page.get_by_test_id("renewal-steps").locator('li[aria-current="step"]').inner_text().strip()
    assert current == f"4 {labels.DOWNLOAD_STAGES[-1]}", f"進度列應標示第 4 步：{current}"


@then("憑證載具內有憑證中心簽發的「{cn}」憑證，其私密金鑰於憑證載具內產生")
def certificate_on_card(context: Context, cn: str) -> None:
    """The card holds one certificate, the CA's, named ``cn``, and its key on the card signs for it."""
    with PcscConnection(context.card["reader"]) as connection:
        card = PivCardClient(connection)
        card.select()
        [entry] = card.list_certificates()
        cert = entry.certificate
        names = [a.value for a in cert.subject if a.oid.dotted_string == "2.5.4.3"]
        assert names == [cn], f"憑證載具內的憑證應為 {cn}：{names}"
        issued = _ca(context).download(f"{cert.serial_number:X}")
        assert issued.certificate == cert and issued.renewed_from is None, "憑證應為憑證中心以申請簽發的憑證"
        card.verify_pin(context.card["pin"])
        data = "憑證下載簽章測試".encode()
        signature = card.sign(entry.container, data)
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    context.new_certificate = cert


@then("憑證中心以此授權碼只簽發了一張憑證")
def one_issuance(context: Context) -> None:
    cn = context.applied_cn
    issued = [e for e in _ca(context).audit(10_000) if e["action"] == "授權碼申請" and e["result"] == "OK"
              and e["detail"].get("cn") == cn]
    assert len(issued) == 1, f"憑證中心應只簽發一張 {cn} 的憑證，實有 {len(issued)} 張"
    assert [c.serial for c in _ca(context).query(cn=cn)] == [f"{context.new_certificate.serial_number:X}"]


@when("再次以同一授權碼點選「憑證下載」")
def download_again(context: Context) -> None:
    Platform(as_customer(context), _platform_url(context)).choose(labels.MENU_DOWNLOAD)
    Download(context.page).enter_code(context.authorization_code)


@then("憑證載具未變更，憑證中心未以此授權碼簽發憑證")
def nothing_issued(context: Context) -> None:
    assert _card_certificates(context) == [], "憑證載具不應有憑證"
    assert _ca(context).query(cn=context.applied_cn) == [], "憑證中心不應簽發憑證"





@when("審閱用戶約定條款後點選「下載」")
def download_button(context: Context) -> None:
    """[下載]: the page's prompt shows (as 憑證更新's [更新])."""
    renewal = Renewal(context.page)
    renewal.update()
    context.prompt = renewal.prompt()
