"""The bank's three systems in process (Starlette's TestClient, argon2's cheapest
profile): logins and their refusals, the lockout, CSRF, escaping, and the
authorization matrix of step 1 (system × 客戶別 × user kind) down to the ticket
the platform receives. The same rules run through chromium in
features/步驟1_登入憑證管理平台.feature."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from fxml.clock import TAIWAN, FixedClock
from fxml.platform import tickets
from simulator.bank.app import BankApp, BankSettings
from simulator.bank.auth import BankErrorCode
from simulator.bank.customers import persona
from simulator.bank.service import open_bank
from simulator.bank.store import BankStore
from simulator.bank.systems import BY_SYSTEM, SystemPage

KEY = b"t" * 32
PLATFORM = "http://127.0.0.1:8602"
NOW = datetime(2023, 4, 17, 11, 13, 42, tzinfo=TAIWAN)


@dataclass
class Bank:
    client: TestClient
    store: BankStore
    clock: FixedClock

    def login_page(self, page: SystemPage) -> str:
        answer = self.client.get(f"{page.prefix}/login")
        assert answer.status_code == 200
        return csrf(answer.text)

    def login(self, page: SystemPage, id_number: str, user_code: str, password: str, *, token: str | None = None
              ) -> tuple[int, str]:
        token = self.login_page(page) if token is None else token
        answer = self.client.post(f"{page.prefix}/login", data={
            "csrf_token": token, "id_number": id_number, "user_code": user_code, "password": password,
        }, follow_redirects=False)
        return answer.status_code, answer.text

    def to_platform(self, page: SystemPage) -> tuple[int, str, str]:
        menu = self.client.get(f"{page.prefix}/menu")
        answer = self.client.post(f"{page.prefix}/fxml", data={"csrf_token": csrf(menu.text)},
                                  follow_redirects=False)
        return answer.status_code, answer.headers.get("location", ""), answer.text


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def code_of(html: str) -> str:
    found = re.search(r'data-code="([A-Z0-9_]+)"', html)
    return found.group(1) if found else ""


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank seeded once (hashing is the slow part); each test copies it."""
    folder = tmp_path_factory.mktemp("bank-seed")
    store, _ = open_bank(folder, FixedClock(NOW), hash_profile="cheapest")
    store.close()
    return folder


@pytest.fixture
def bank(bank_dir: Path, tmp_path: Path) -> Iterator[Bank]:
    state = tmp_path / "bank"
    state.mkdir()
    for f in bank_dir.iterdir():
        (state / f.name).write_bytes(f.read_bytes())
    clock = FixedClock(NOW)
    store, logins = open_bank(state, clock, hash_profile="cheapest")
    app = BankApp(BankSettings(state_dir=state, ticket_key=KEY, clock=clock, platform_url=PLATFORM), store, logins)
    with TestClient(app.app(), base_url="http://127.0.0.1:8603") as client:
        yield Bank(client, store, clock)


def who(name: str, user_index: int = 0) -> tuple[SystemPage, str, str, str]:
    customer = persona(name).customer
    user = customer.users[user_index]
    return BY_SYSTEM[customer.system], customer.id_number, user.user_code, user.password


# -- the authorization matrix (step 1) -------------------------------------------------------------
MATRIX = [
    # persona, user, expected: None (goes in) or the refusal's code and a phrase of its message
    ("person", 0, None, ""),
    ("hostile-name", 0, None, ""),
    ("corporate-2", 0, None, ""),
    ("corporate-3", 0, None, ""),  # ADMIN003, the 管理者代號
    ("corporate-3", 1, BankErrorCode.PLATFORM_ADMIN_ONLY, "客戶別 3 請以管理者代號 ADMIN003 登入操作"),
    ("corporate-4", 0, None, ""),  # SUPER001
    ("corporate-4", 1, BankErrorCode.PLATFORM_SUPER001_ONLY, "客戶別 4 請利用使用者代號 SUPER001 登入操作"),  # 管理經辦
    ("corporate-4", 2, BankErrorCode.PLATFORM_SUPER001_ONLY, "SUPER001"),  # 管理主管
    ("corporate-4", 3, BankErrorCode.PLATFORM_SUPER001_ONLY, "SUPER001"),  # 一般使用者
    ("corporate-1", 0, BankErrorCode.PLATFORM_CUSTOMER_TYPE, "客戶別 1 無法使用線上憑證管理平台"),
    ("eoi", 0, None, ""),
    ("eoi", 1, None, ""),
    ("shared-certificate", 0, None, ""),
]


@pytest.mark.parametrize(("name", "user_index", "refusal", "phrase"), MATRIX)
def test_who_reaches_the_platform(bank: Bank, name: str, user_index: int, refusal: BankErrorCode | None,
                                  phrase: str) -> None:
    page, id_number, user_code, password = who(name, user_index)
    status, _ = bank.login(page, id_number, user_code, password)
    assert status == 303
    before = bank.store.dump()
    status, location, text = bank.to_platform(page)
    if refusal is None:
        assert status == 303 and location.startswith(f"{PLATFORM}/entry?ticket=")
        text_ticket = parse_qs(urlsplit(location).query)["ticket"][0]
        ticket = tickets.verify(text_ticket, KEY, bank.clock, first_use=lambda *_: True)
        customer = persona(name).customer
        assert (ticket.system, ticket.customer_id, ticket.user_code) == (page.system, id_number, user_code)
        assert ticket.holder_id == customer.holder_id
        assert ticket.customer_type == getattr(customer, "customer_type", None)
        assert ticket.return_url == f"http://127.0.0.1:8603{page.prefix}/menu"
    else:
        assert status == 403 and code_of(text) == refusal and phrase in text
        # the same refusal for the path typed as a URL and for a replayed form
        typed = bank.client.get(f"{page.prefix}/fxml")
        assert typed.status_code == 403 and code_of(typed.text) == refusal
        replay = bank.client.post(f"{page.prefix}/fxml", data={"csrf_token": csrf(bank.client.get(
            f"{page.prefix}/menu").text)}, follow_redirects=False)
        assert replay.status_code == 403 and code_of(replay.text) == refusal
    after = bank.store.dump()
    assert {t: after[t] for t in after if t != "audit"} == {t: before[t] for t in before if t != "audit"}
    assert after["audit"][-1][5] == (refusal or "OK")


def test_the_platform_needs_a_login_first(bank: Bank) -> None:
    for page in BY_SYSTEM.values():
        answer = bank.client.post(f"{page.prefix}/fxml", data={"csrf_token": "x"}, follow_redirects=False)
        assert answer.status_code == 401 and code_of(answer.text) == BankErrorCode.NOT_LOGGED_IN
        assert bank.client.get(f"{page.prefix}/menu", follow_redirects=False).status_code == 303


def test_every_system_has_the_manuals_login_fields_and_menu_path(bank: Bank) -> None:
    for page, label in ((BY_SYSTEM[tickets.System.PERSONAL], "身分證字號"),
                        (BY_SYSTEM[tickets.System.CORPORATE], "統一編號"), (BY_SYSTEM[tickets.System.EOI], "統一編號")):
        html = bank.client.get(f"{page.prefix}/login").text
        assert f'<label for="id_number">{label}</label>' in html
        assert '<label for="user_code">使用者代號</label>' in html and '<label for="password">密碼</label>' in html
        for words in ("大家的銀行", "合作金庫銀行", "TAIWAN COOPERATIVE BANK", "連結政策", "隱私權聲明", "安全宣告",
                      "合作金庫銀行版權所有 2008TCB Bank. All Rights Reserved.",
                      "客服中心電話：0800-033-175 (04)2227-3131"):
            assert words in html
    assert BY_SYSTEM[tickets.System.PERSONAL].platform_path == "「設定及申請/憑證」>「憑證管理」"
    assert BY_SYSTEM[tickets.System.CORPORATE].platform_path == "「管理設定」>「憑證管理平台」"
    assert BY_SYSTEM[tickets.System.EOI].platform_path == "「系統管理」>「憑證管理作業」"


# -- logins and their refusals ----------------------------------------------------------------------
def refused_login(bank: Bank, page: SystemPage, id_number: str, user_code: str, password: str, code: BankErrorCode,
                  phrase: str, *, token: str | None = None) -> None:
    before = bank.store.dump()
    status, html = bank.login(page, id_number, user_code, password, token=token)
    assert status in (400, 401, 403) and code_of(html) == code, html[-800:]
    assert phrase in html
    after = bank.store.dump()
    # A wrong password counts on the code as typed, whether a user has it or not (one record, the
    # clients without a device of the user); any other refusal changes nothing but the audit log.
    counted = [("user", id_number, user_code.upper(), "", 1, None)] if code == BankErrorCode.LOGIN_FAILED else []
    assert after["lockouts"] == before["lockouts"] + counted
    assert {t: after[t] for t in after if t not in ("audit", "lockouts")} == \
        {t: before[t] for t in before if t not in ("audit", "lockouts")}
    assert len(after["audit"]) == len(before["audit"]) + (0 if code == BankErrorCode.CSRF_FAILED else 1)


@pytest.mark.parametrize(("id_number", "user_code", "password", "code", "phrase"), [
    ("A12345678", "wang2015", "x", BankErrorCode.BAD_ID_NUMBER, "身分證字號"),
    ("a123456789", "wang2015", "x", BankErrorCode.BAD_ID_NUMBER, "小寫"),
    ("A123456780", "wang2015", "x", BankErrorCode.BAD_ID_NUMBER, "身分證字號"),
    ("A123456789", "wang", "x", BankErrorCode.BAD_USER_CODE, "使用者代號須為 6 至 16 位英文字母或數字。"),
    ("A123456789", "wang_2015", "x", BankErrorCode.BAD_USER_CODE, "6 至 16 位"),
    ("A123456789", "A123456789", "x", BankErrorCode.USER_CODE_IS_ID_NUMBER, "使用者代號不可與身分證字號相同。"),
    ("A123456789", "wang2015", "", BankErrorCode.MISSING_FIELD, "請輸入密碼。"),
    ("A123456789", "nobody99", "Xm2015ab", BankErrorCode.LOGIN_FAILED, "使用者代號或密碼錯誤"),
    ("B123456780", "wang2015", "Xm2015ab", BankErrorCode.LOGIN_FAILED, "使用者代號或密碼錯誤"),
])
def test_login_refusals_change_nothing(bank: Bank, id_number: str, user_code: str, password: str,
                                       code: BankErrorCode, phrase: str) -> None:
    refused_login(bank, BY_SYSTEM[tickets.System.PERSONAL], id_number, user_code, password, code, phrase)


def test_a_company_in_another_system_is_sent_to_its_own(bank: Bank) -> None:
    _, id_number, user_code, password = who("eoi")
    refused_login(bank, BY_SYSTEM[tickets.System.CORPORATE], id_number, user_code, password,
                  BankErrorCode.WRONG_SYSTEM, "您是EOI 系統客戶，請由EOI 系統登入。")
    refused_login(bank, BY_SYSTEM[tickets.System.PERSONAL], id_number, user_code, password,
                  BankErrorCode.BAD_ID_NUMBER, "身分證字號")
    # Without the password, the other system's page says no more than for a stranger.
    status, html = bank.login(BY_SYSTEM[tickets.System.CORPORATE], id_number, user_code, "Wrong1234")
    assert status == 401 and code_of(html) == BankErrorCode.LOGIN_FAILED


def test_a_login_form_without_its_csrf_token_is_refused(bank: Bank) -> None:
    page, id_number, user_code, password = who("person")
    refused_login(bank, page, id_number, user_code, password, BankErrorCode.CSRF_FAILED, "表單已失效", token="")
    refused_login(bank, page, id_number, user_code, password, BankErrorCode.CSRF_FAILED, "表單已失效",
                  token="forged-token")


def test_three_wrong_passwords_lock_the_user(bank: Bank) -> None:
    page, id_number, user_code, password = who("corporate-2")
    for attempt in (1, 2):
        status, html = bank.login(page, id_number, user_code, "Wrong1234")
        assert status == 401 and code_of(html) == BankErrorCode.LOGIN_FAILED
        assert bank.store.user(id_number, user_code).failed_logins == attempt  # type: ignore[union-attr]
    status, html = bank.login(page, id_number, user_code, "Wrong1234")
    assert status == 403 and code_of(html) == BankErrorCode.USER_LOCKED
    assert "密碼連續錯誤 3 次，使用者代號已暫停使用，請洽往來分行辦理解除。" in html
    status, html = bank.login(page, id_number, user_code, password)  # the right password no longer helps
    assert status == 403 and code_of(html) == BankErrorCode.USER_LOCKED
    bank.store.unlock(id_number, user_code)
    assert bank.login(page, id_number, user_code, password)[0] == 303


def test_a_good_login_resets_the_count(bank: Bank) -> None:
    page, id_number, user_code, password = who("person")
    bank.login(page, id_number, user_code, "Wrong1234")
    bank.login(page, id_number, user_code, "Wrong1234")
    assert bank.login(page, id_number, user_code, password)[0] == 303
    assert bank.store.user(id_number, user_code).failed_logins == 0  # type: ignore[union-attr]


def test_the_session_is_rotated_at_login_and_cookies_are_httponly(bank: Bank) -> None:
    page, id_number, user_code, password = who("person")
    first = bank.client.get(f"{page.prefix}/login")
    before = first.headers["set-cookie"].split(";")[0]
    answer = bank.client.post(f"{page.prefix}/login", data={
        "csrf_token": csrf(first.text), "id_number": id_number, "user_code": user_code, "password": password,
    }, follow_redirects=False)
    cookie = answer.headers["set-cookie"]
    assert cookie.split(";")[0] != before
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/personal" in cookie


def test_customer_data_is_escaped(bank: Bank) -> None:
    page, id_number, user_code, password = who("hostile-name")
    bank.login(page, id_number, user_code, password)
    html = bank.client.get(f"{page.prefix}/menu").text
    name = persona("hostile-name").customer.name
    assert "<script>" in name and "{{7*7}}" in name
    assert name not in html  # never as it is
    escaped = (name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")
               .replace("'", "&#39;"))
    assert escaped in html  # but as text, markup escaped, templates not evaluated
    assert "<script>" not in html and "alert(" not in html.replace(escaped, "")


def test_the_password_never_reaches_the_file(bank: Bank) -> None:
    text = bank.store.path.read_bytes()
    for name in ("person", "corporate-4", "eoi"):
        for user in persona(name).customer.users:
            assert user.password.encode() not in text


def test_a_burst_of_logins_checks_at_most_three_passwords(bank_dir: Path, tmp_path: Path) -> None:
    """Many guesses at once: each attempt is counted before its password is hashed,
    so the lock holds for a burst as for a sequence, and a right password inside
    the burst does not get in once the lock is set."""
    import threading

    from simulator.bank.auth import BankError
    from simulator.bank.service import open_bank

    state = tmp_path / "burst"
    state.mkdir()
    for f in bank_dir.iterdir():
        (state / f.name).write_bytes(f.read_bytes())
    store, logins = open_bank(state, FixedClock(NOW), hash_profile="cheapest")
    checked = []

    class Counting(type(logins.hasher)):  # type: ignore[misc]
        def verify(self, stored: str | bytes, password: str | bytes) -> bool:
            checked.append(password)
            return bool(super().verify(stored, password))

    logins.hasher = Counting.from_parameters(logins.hasher._parameters)
    page, id_number, user_code, password = who("corporate-3", 1)
    guesses = [f"Wrong{i:04d}" for i in range(40)]
    guesses[25] = password
    outcomes: list[str] = []
    start = threading.Barrier(len(guesses))

    def attempt(guess: str) -> None:
        start.wait()
        try:
            logins.login(page.system, id_number, user_code, guess)
            outcomes.append("OK")
        except BankError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(g,)) for g in guesses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store_row = store.user(id_number, user_code)
    store.close()
    # As in a sequence: at most three passwords checked per run of failures. A right password checked
    # before the lock is a login, which starts its record again (docs/bank.md, The lockout, rule 5), so
    # then at most three more: six at the most, the right one among them.
    assert len(checked) <= (6 if password in checked else 3), f"{len(checked)} passwords were checked: {checked}"
    assert outcomes.count("OK") <= (1 if password in checked else 0)
    assert store_row is not None and (store_row.locked or "OK" in outcomes)


def test_the_way_back_never_comes_from_the_host_header(bank: Bank) -> None:
    page, id_number, user_code, password = who("eoi")
    bank.login(page, id_number, user_code, password)
    menu = bank.client.get(f"{page.prefix}/menu")
    answer = bank.client.post(f"{page.prefix}/fxml", data={"csrf_token": csrf(menu.text)},
                              headers={"Host": "evil.example"}, follow_redirects=False)
    text_ticket = parse_qs(urlsplit(answer.headers["location"]).query)["ticket"][0]
    ticket = tickets.verify(text_ticket, KEY, bank.clock, first_use=lambda *_: True)
    assert "evil.example" not in ticket.return_url and ticket.return_url.startswith("http://127.0.0.1")


# -- 使用者管理 / 使用者維護: a company's user codes ----------------------------------------------------------
@pytest.mark.parametrize(("name", "item", "codes"), [
    ("corporate-2", "使用者管理", ["qingchuan01"]),  # 客戶別 2: 僅一個使用者代號
    ("corporate-3", "使用者管理", ["ADMIN003", "USER0031"]),
    ("corporate-4", "使用者管理", ["SUPER001", "CLERK004", "CHIEF004", "USER0041"]),
    ("eoi", "使用者維護", ["EOIADMIN05", "EOIUSER051"]),
])
def test_a_company_sees_its_user_codes_in_its_menu(bank: Bank, name: str, item: str, codes: list[str]) -> None:
    page, id_number, user_code, password = who(name)
    assert bank.login(page, id_number, user_code, password)[0] == 303
    menu = bank.client.get(f"{page.prefix}/menu").text
    assert f'href="{page.prefix}/users" data-testid="users-link">{item}</a>' in menu
    before = bank.store.dump()
    html = bank.client.get(f"{page.prefix}/users").text
    rows = re.findall(r'<tr data-testid="user-row"><td>([^<]+)</td>', html)
    assert rows == codes and f'<span data-testid="user-count">{len(codes)}</span>' in html
    assert password not in html
    assert bank.store.dump() == before  # read only


def test_the_user_list_needs_a_login_and_a_person_has_none(bank: Bank) -> None:
    for system in (tickets.System.CORPORATE, tickets.System.EOI):
        answer = bank.client.get(f"{BY_SYSTEM[system].prefix}/users", follow_redirects=False)
        assert answer.status_code == 401 and code_of(answer.text) == BankErrorCode.NOT_LOGGED_IN
    page, id_number, user_code, password = who("person")
    bank.login(page, id_number, user_code, password)
    assert bank.client.get(f"{page.prefix}/users").status_code == 404


def test_a_refusal_page_says_what_happened_and_its_code_only_in_small_print(bank: Bank) -> None:
    page, id_number, user_code, password = who("corporate-3", 1)
    bank.login(page, id_number, user_code, password)
    status, _location, html = bank.to_platform(page)
    assert status == 403 and "<h1>無法進入憑證管理平台</h1>" in html
    assert '<div class="bank-system">企業網路銀行</div>' in html
    assert '<p class="message-code">錯誤代碼：<code>PLATFORM_ADMIN_ONLY</code></p>' in html
    bank.client.cookies.clear()
    assert "<h1>尚未登入</h1>" in bank.client.get(f"{page.prefix}/users").text
