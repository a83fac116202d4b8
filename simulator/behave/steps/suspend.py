"""Steps of 憑證暫禁 (beyond the manual: it shows no screen of it) and of the branch's 解除暫禁, in chromium.

The customer suspends in the platform's page; what the CA recorded is read through its API, and what
relying parties are told is asked with clients nobody here wrote: ``openssl ocsp`` against the CA's
OCSP responder, ``openssl crl`` on its CRL. The officer works in a browser of their own (another
person, another computer), shown in the report after each of their steps.
"""

from __future__ import annotations

import json
import subprocess

from behave import given, then, when
from behave.runner import Context
from cryptography.hazmat.primitives import serialization

from fxml import env
from fxml.display import taiwan_text
from simulator.bank.cards import card_profile
from simulator.bank.customers import persona
from simulator.bank.officers import load_officers
from simulator.behave.bank_support import as_customer, bank_store, in_peoples_words, remember_bank
from simulator.behave.pages import BranchResume, Message, Screen, Suspension
from simulator.behave.platform_support import ca, card_serial, platform_store

#: What a feature writes for the serial of the certificate on the card (the CA made it: unknown before).
THE_SERIAL = "（憑證序號）"


def _suspension(context: Context) -> Suspension:
    return Suspension(context.page)


def _statuses(context: Context, holder_id: str) -> dict[str, tuple[str, str | None]]:
    return {r.serial: (r.status, r.suspended_at.isoformat() if r.suspended_at else None)
            for r in ca(context).query(holder_id=holder_id)}


def _remember_ca(context: Context) -> None:
    """The customer's certificates at the CA (and another customer's, if the scenario has one) as they are."""
    holders = [context.customer.holder_id, *([context.other_holder] if hasattr(context, "other_holder") else [])]
    context.ca_before = {h: _statuses(context, h) for h in holders}


# -- the customer: 憑證暫禁 ----------------------------------------------------------------------------
@then("憑證暫禁已選取插入的憑證載具內的憑證「{cn}」")
def chosen(context: Context, cn: str) -> None:
    page = _suspension(context)
    assert page.chosen() == card_serial(context), f"應已選取憑證載具內的憑證 {card_serial(context)}：{page.chosen()}"
    label = context.page.locator('input[name="serial"]:checked').get_attribute("data-cn")
    assert label == cn, f"已選取的應為「{cn}」，畫面為「{label}」"


@when("點選「暫禁」")
def suspend_clicked(context: Context) -> None:
    """[暫禁]: the page's prompt shows (seen in the screenshot after this step)."""
    _remember_ca(context)
    context.prompt = _suspension(context).suspend()


@then("頁面跳出暫禁的提示訊息「{message}」，有「確定」與「取消」")
def prompt_said(context: Context, message: str) -> None:
    expected = message.replace(THE_SERIAL, card_serial(context))
    assert context.prompt == expected, f"提示訊息應為「{expected}」，實際為「{context.prompt}」"
    dialog = context.page.get_by_test_id("suspend-prompt")
    for button in ("確定", "取消"):
        assert dialog.get_by_role("button", name=button, exact=True).is_visible(), f"提示訊息應有[{button}]"


@when("於暫禁的提示訊息點選「確定」")
def prompt_ok(context: Context) -> None:
    _suspension(context).answer(True)


@when("於暫禁的提示訊息點選「取消」")
def prompt_cancel(context: Context) -> None:
    _suspension(context).answer(False)


@then("畫面說明已取消憑證暫禁：「{message}」")
def cancelled(context: Context, message: str) -> None:
    shown = _suspension(context).cancelled()
    assert shown == message, f"畫面應說明「{message}」，實際為「{shown}」"


@then("憑證暫禁頁顯示「{heading}」，說明憑證「{cn}」已暫禁及暫禁時間，並提醒「{reminder}」")
def suspended_page(context: Context, heading: str, cn: str, reminder: str) -> None:
    [record] = ca(context).query(serial=card_serial(context))
    assert record.suspended_at is not None, "憑證中心沒有此憑證的暫禁時間"
    shown_heading, text = _suspension(context).result()
    assert shown_heading == heading, f"應顯示「{heading}」，畫面為「{shown_heading}」"
    expected = f"憑證 {cn} 已暫禁（暫禁時間 {taiwan_text(record.suspended_at)}），{reminder}"
    assert text == expected, f"畫面應說明「{expected}」，實際為「{text}」"
    in_peoples_words(Screen(context.page).main_text())


@then("憑證中心記錄此憑證已暫禁，由此客戶於憑證管理平台辦理")
def ca_recorded(context: Context) -> None:
    serial = card_serial(context)
    [record] = ca(context).query(serial=serial)
    assert record.status == "暫禁" and record.suspended_at is not None, f"憑證中心的憑證狀態為「{record.status}」"
    entries = [e for e in ca(context).audit(50) if e.get("action") == "暫禁" and e.get("target") == serial]
    assert entries, "憑證中心的稽核紀錄沒有此筆暫禁"
    last = max(entries, key=lambda e: int(e["id"]))
    assert last.get("result") == "OK", f"憑證中心的稽核紀錄：{last}"
    actor = str(last.get("actor"))
    assert context.customer.id_number in actor and context.user.user_code in actor, f"暫禁應記為此客戶辦理：{actor}"


@then("憑證管理平台的稽核紀錄有此筆憑證暫禁")
def platform_audited(context: Context) -> None:
    with platform_store(context) as store:
        rows = [r for r in store.audit_log(50) if r[2] == "憑證暫禁"]
    assert rows and rows[-1][3] == "OK" and rows[-1][4].startswith(card_serial(context)), rows[-1:]
    assert context.customer.id_number in rows[-1][1], rows[-1]


@then("憑證管理平台的稽核紀錄記下此筆被拒絕的憑證暫禁")
def platform_audited_refusal(context: Context) -> None:
    with platform_store(context) as store:
        rows = [r for r in store.audit_log(50) if r[2] == "憑證暫禁"]
    assert rows and rows[-1][3] == context.shown_code and rows[-1][3] != "OK", rows[-1:]


@then("憑證中心的憑證狀態皆未變更")
def ca_unchanged(context: Context) -> None:
    for holder, before in context.ca_before.items():
        assert _statuses(context, holder) == before, f"憑證中心的憑證（{holder}）不應變更"


@then("憑證「{cn}」的憑證狀態仍為「{status}」")
def still(context: Context, cn: str, status: str) -> None:
    [record] = ca(context).query(serial=card_serial(context))
    assert (record.cn, record.status) == (cn, status), f"「{cn}」應仍為「{status}」：{record.status}"


# -- the stale page, another customer's certificate --------------------------------------------------------
@given("「{customer}」也有一張有效的憑證")
def other_customer_certificate(context: Context, customer: str) -> None:
    """Another customer's certificate at the CA (issued on a card of theirs that stays in the drawer)."""
    who = persona(customer).customer
    path = context.home.root / f"other-{who.id_number}.json"
    path.write_text(json.dumps(card_profile(who, context.clock.now()), ensure_ascii=False), encoding="utf-8")
    context.home.create_card(path, name=f"other-{who.id_number}", replace=True)
    valid = [r for r in ca(context).query(holder_id=who.holder_id) if r.status == "正常"]
    assert valid, f"「{customer}」在憑證中心沒有有效的憑證"
    context.other_holder, context.other_serial = who.holder_id, valid[-1].serial


@when("將選取的憑證改為該客戶的憑證後點選「暫禁」")
def tampered(context: Context) -> None:
    """The page's form, changed in the browser (as a person with the browser's tools could)."""
    context.page.locator('input[name="serial"]:checked').evaluate("(el, serial) => { el.value = serial; }",
                                                                  context.other_serial)
    suspend_clicked(context)


@given("該憑證已於另一個視窗暫禁")
@when("該憑證已於另一個視窗暫禁")
def suspended_elsewhere(context: Context) -> None:
    """The same customer, in another tab of the same browser, suspends the certificate first."""
    other = context.browser_context.new_page()
    try:
        other.goto(f"{context.stack_env[env.PLATFORM_URL]}/suspend")
        page = Suspension(other)
        page.choose(card_serial(context))
        page.suspend()
        page.answer(True)
        assert page.result()[0] == "憑證暫禁成功", page.result()
    finally:
        other.close()


# -- what relying parties are told: OCSP and the CRL, asked with openssl ----------------------------------------
def _openssl(*args: str) -> str:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    said = done.stdout + done.stderr
    assert done.returncode == 0, f"openssl {args[0]} exited {done.returncode}: {said}"
    return said


def _ocsp(context: Context) -> str:
    """``openssl ocsp`` asks the CA's OCSP responder about the card's certificate (with a nonce) and
    checks the answer's signature against the CA's chain; what it says of the certificate."""
    folder = context.home.root / "ocsp"
    folder.mkdir(exist_ok=True)
    issuer, root = ca(context).chain()
    files = {}
    for name, cert in (("issuer", issuer), ("root", root), ("cert", context.card["before"][0][1])):
        files[name] = folder / f"{name}.pem"
        files[name].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    said = _openssl("ocsp", "-issuer", str(files["issuer"]), "-cert", str(files["cert"]), "-CAfile", str(files["root"]),
                    "-url", f"{context.stack_env[env.CA_URL]}/ocsp")
    assert "Response verify OK" in said, f"OCSP 回覆的簽章未通過驗證：{said}"
    return said


@then("以通用的憑證狀態查詢工具向憑證中心查詢此憑證，回覆已撤銷，原因為暫禁")
def ocsp_on_hold(context: Context) -> None:
    """openssl ocsp: ``revoked`` with ``Reason: certificateHold`` (RFC 5280's 暫禁)."""
    said = _ocsp(context)
    assert ": revoked" in said and "Reason: certificateHold" in said, f"應回覆已撤銷、原因為暫禁：{said}"


@then("以通用的憑證狀態查詢工具向憑證中心查詢此憑證，回覆有效")
def ocsp_good(context: Context) -> None:
    said = _ocsp(context)
    assert ": good" in said, f"應回覆有效：{said}"


def _crl_text(context: Context) -> str:
    path = context.home.root / "ocsp" / "ca.crl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(ca(context).crl().public_bytes(serialization.Encoding.DER))
    return _openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-text")


def _crl_entry(text: str, serial: str) -> str | None:
    """The CRL's entry of ``serial`` as ``openssl crl -text`` prints it, or None."""
    marker = f"Serial Number: {serial}"
    if marker not in text:
        return None
    entry = text.split(marker, 1)[1]
    return entry.split("Serial Number:", 1)[0]


@then("憑證中心的憑證廢止清冊列出此憑證，原因為暫禁")
def crl_lists(context: Context) -> None:
    entry = _crl_entry(_crl_text(context), card_serial(context))
    assert entry is not None and "Certificate Hold" in entry, f"憑證廢止清冊應列出此憑證、原因為暫禁：{entry}"


@then("憑證中心的憑證廢止清冊不再列出此憑證")
def crl_does_not_list(context: Context) -> None:
    assert _crl_entry(_crl_text(context), card_serial(context)) is None, "憑證廢止清冊不應再列出此憑證"


# -- the branch: 解除暫禁 --------------------------------------------------------------------------------------
def _branch(context: Context) -> BranchResume:
    context.shown_page = context.officer_page
    return BranchResume(context.officer_page, str(context.stack_env[env.BANK_URL]))


@when("於「憑證解除暫禁」查詢客戶「{id_number}」")
def look_up(context: Context, id_number: str) -> None:
    remember_bank(context)
    _branch(context).look_up(id_number)
    if context.officer_page.get_by_test_id("message").count():
        context.shown_message, context.shown_code = Message(context.officer_page).text()


@then("分行作業系統列出此憑證，憑證狀態為「{status}」")
def branch_lists(context: Context, status: str) -> None:
    shown = _branch(context).status(card_serial(context))
    assert shown == status, f"分行作業系統應列出此憑證、憑證狀態「{status}」，畫面為「{shown}」"


@when("點選此憑證的「解除暫禁」")
def resume_clicked(context: Context) -> None:
    remember_bank(context)
    _branch(context).resume(card_serial(context))


@then("分行作業系統顯示解除暫禁完成：「{message}」")
def resumed(context: Context, message: str) -> None:
    page = _branch(context).page
    done = page.get_by_test_id("resume-done")
    assert done.count() == 1, f"解除暫禁未完成：{page.get_by_test_id('message').all_inner_texts()}"
    heading = str(done.get_by_role("heading").inner_text()).strip()
    text = str(page.get_by_test_id("resume-result").inner_text()).strip()
    assert f"{heading}：{text}" == message.replace(THE_SERIAL, card_serial(context)), f"畫面為「{heading}：{text}」"
    in_peoples_words(Screen(page).main_text())


@then("憑證中心記錄此憑證已解除暫禁，稽核紀錄記下由{branch}分行的經辦{name}辦理")
def resume_audited(context: Context, branch: str, name: str) -> None:
    officer = next(o for o in load_officers() if o.branch.name == f"{branch}分行" and o.name == name)
    serial = card_serial(context)
    [record] = ca(context).query(serial=serial)
    assert record.status == "正常" and record.suspended_at is None, f"憑證中心的憑證狀態為「{record.status}」"
    entries = [e for e in ca(context).audit(50) if e.get("action") == "解除暫禁" and e.get("target") == serial]
    assert entries, "憑證中心的稽核紀錄沒有此筆解除暫禁"
    last = max(entries, key=lambda e: int(e["id"]))
    assert last.get("result") == "OK" and officer.officer_code in str(last.get("actor")), f"憑證中心的稽核紀錄：{last}"
    with bank_store(context) as store:
        mine = [r for r in store.audit_log(50) if r.action == "解除暫禁" and r.result == "OK"]
    assert mine and mine[-1].actor == f"{officer.branch.code}:{officer.officer_code}", mine[-1:]
    assert json.loads(mine[-1].detail)["serial"] == serial, mine[-1]
    shown = _branch(context).done().get("經辦", "")
    assert shown.endswith(f"{name}（{officer.officer_code}）"), f"畫面的經辦為「{shown}」"


@then("分行作業系統拒絕解除暫禁，顯示「{message}」")
def resume_refused(context: Context, message: str) -> None:
    page = _branch(context).page
    assert page.get_by_test_id("resume-done").count() == 0, "不應完成解除暫禁"
    in_peoples_words(Screen(page).main_text())
    assert context.shown_message == message, f"應顯示「{message}」，實際為「{context.shown_message}」"


@when("客戶於轉帳頁點選「重新填寫」")
def transfer_again(context: Context) -> None:
    """Back at the customer's computer: the refused transfer's page offers [重新填寫]."""
    page = as_customer(context)
    page.get_by_role("link", name="重新填寫", exact=True).click()
    page.wait_for_load_state()
