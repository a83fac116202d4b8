"""How ``fxmlsim renew``'s customer reads a page (simulator/customer.py): forms by their names,
what a form sends as it is, the page's refusal, its CSRF token, a table's labelled cells. The whole
walk through the real pages: tests/pcsc/test_cli_renew.py and tests/pcsc/test_demo.py."""

from __future__ import annotations

import pytest

from simulator.customer import Answer, CustomerError, Page

LOGIN = """<!doctype html><html><head><title>登入</title></head><body>
<p class="message error" role="alert" data-code="LOGIN_FAILED">使用者代號或密碼錯誤&#65292;請重新輸入。</p>
<form class="login" method="post" action="/personal/login" autocomplete="off" data-testid="login-form">
  <input type="hidden" name="csrf_token" value="t&amp;1">
  <label for="id_number">身分證字號</label><input type="text" id="id_number" name="id_number" value="A123456789">
  <input type="text" name="user_code" value="">
  <input type="password" name="password" required>
  <button type="submit">登入</button>
</form>
<form method="post" action="/personal/logout"><input type="hidden" name="csrf_token" value="t2"></form>
</body></html>"""

LIST = """<html><head><meta name="csrf-token" content="c-9"></head><body>
<form method="post" action="/proof" data-testid="proof-list">
  <input type="hidden" name="csrf_token" value="c-9">
  <table><tr><td><input type="radio" name="serial" value="6E567090" id="p1"></td></tr>
  <tr><td><input type="radio" name="serial" value="7B29A0" id="p2" checked/></td></tr></table>
  <input type="checkbox" name="agree" value="yes">
</form>
<table class="info"><tr><th>憑證序號</th><td data-label="簽章憑證序號">7B29A0</td></tr>
<tr><th>狀態</th><td data-label="憑證狀態"> 正常 </td></tr></table>
<p data-testid="download-result">憑證下載成功!<br>請記得列印</p>
</body></html>"""


def test_forms_by_their_test_id_or_action_and_what_they_send_as_they_are() -> None:
    page = Page("http://127.0.0.1:1/personal/login", LOGIN)
    login = page.form("login-form")
    assert login is not None and (login.action, login.method) == ("/personal/login", "POST")
    assert login.names() == {"csrf_token", "id_number", "user_code", "password"}
    assert login.values() == {"csrf_token": "t&1", "id_number": "A123456789", "user_code": "", "password": ""}
    logout = page.form(action="/personal/logout")
    assert logout is not None and logout.values() == {"csrf_token": "t2"}
    assert page.form("no-such-form") is None


def test_radios_checked_boxes_and_labelled_cells() -> None:
    page = Page("http://127.0.0.1:1/proof", LIST)
    form = page.form("proof-list")
    assert form is not None
    assert form.options("serial") == ["6E567090", "7B29A0"]
    assert form.values() == {"csrf_token": "c-9", "serial": "7B29A0"}  # the unchecked box is not sent
    assert {e.attrs["data-label"]: e.text for e in page.find("td", data_label=None)} == {
        "簽章憑證序號": "7B29A0", "憑證狀態": "正常"}
    assert page.meta("csrf-token") == "c-9"
    assert [e.text for e in page.find(data_testid="download-result")] == ["憑證下載成功!請記得列印"]


def test_a_refusal_is_the_page_s_code_and_words() -> None:
    refusal = Answer(200, "http://127.0.0.1:1/personal/login", {}, LOGIN.encode()).refusal()
    assert (refusal.code, refusal.message) == ("LOGIN_FAILED", "使用者代號或密碼錯誤，請重新輸入。")
    bare = Answer(502, "http://127.0.0.1:1/x", {}, b"<html><body>Bad gateway</body></html>").refusal()
    assert bare.code == "HTTP_502"


def test_a_page_without_the_form_or_token_is_said_so() -> None:
    empty = Answer(200, "http://127.0.0.1:1/renew", {}, b"<html><body><p>none</p></body></html>")
    with pytest.raises(CustomerError) as caught:
        empty.form("renew-list")
    assert caught.value.code == "NO_FORM"
    with pytest.raises(CustomerError):
        empty.csrf()
