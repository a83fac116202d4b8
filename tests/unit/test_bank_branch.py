"""The branch back office in process (step 9): officers' logins, each branch's inbox and nobody
else's, the sheet checked against the CA, 憑證展期建檔 with the relationship customers' 用戶代碼, and
every refusal with its code, its zh-TW message and the bank's records unchanged but for one audit
line. The same runs through chromium in features/步驟9_憑證展期建檔與轉帳.feature."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fxml.clock import FixedClock
from simulator.bank.auth import BankError
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.officers import OfficerRole, load_officers, officer, officer_of
from tests.support.bank import (
    NOW,
    Bank,
    Card,
    assert_only_refusal_recorded,
    code_of,
    csrf,
    customer,
)

YUNSHAN = officer_of("雲杉分行")        # the EOI persona's 申辦分行
MOON_LAKE = officer_of("月湖分行")      # the shared-certificate persona's


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def renewed(bank: Bank, name: str) -> tuple[Card, Card]:
    """A customer's applied certificate and its renewal (the renewal engine's work, done at the CA)."""
    who = customer(name)
    old = bank.apply(who)
    return old, bank.renew(old, f"{name}-renewed")


def faxed(bank: Bank, name: str, card: Card, fax_id: str = "F0000000000001", **kwargs: Any) -> int:
    answer = bank.fax(customer(name), card, fax_id=fax_id, **kwargs)
    assert answer.status_code == 201, answer.text
    row = bank.store.connection().execute("SELECT id FROM faxes WHERE fax_id = ?", (fax_id,)).fetchone()
    return int(row[0])


def file(bank: Bank, fax: int, codes: list[str] | None = None) -> Any:
    page = bank.client.get(f"/branch/fax/{fax}")
    data: dict[str, Any] = {"csrf_token": csrf(page.text)}
    if codes is not None:
        data["relationship_code"] = codes
    return bank.client.post(f"/branch/fax/{fax}/file", data=data)


def logged_in(bank: Bank, who: Any = YUNSHAN) -> None:
    answer = bank.officer_login(who)
    assert answer.status_code == 303 and answer.headers["location"] == "/branch/inbox", answer.text


# -- officers -------------------------------------------------------------------------------------------------
def test_every_officer_of_the_fixtures_is_in_the_bank_with_an_argon2_hash(bank: Bank) -> None:
    officers = load_officers()
    assert {o.branch.code for o in officers} >= {c.branch.code for c in map(customer, (
        "person", "corporate-2", "corporate-3", "corporate-4", "eoi", "shared-certificate", "shared-certificate-2"))}
    for item in officers:
        row = bank.store.officer(item.branch.code, item.officer_code)
        assert row is not None and row.password_hash.startswith("$argon2id$") and item.password not in row.password_hash
    assert "password" not in repr(officers[0]) and officers[0].password not in repr(officers[0])


def test_an_officer_logs_in_to_the_inbox_of_the_branch(bank: Bank) -> None:
    logged_in(bank)
    page = bank.client.get("/branch/inbox").text
    assert "0060040 雲杉分行" in page and YUNSHAN.name in page and "收件匣中沒有傳真" in page
    assert bank.store.audit_log()[-1].action == "分行經辦登入" and bank.store.audit_log()[-1].result == "OK"


@pytest.mark.parametrize(("branch", "code", "password", "expected", "phrase"), [
    ("0060040", "EO004001", "Wrong1234", Code.LOGIN_FAILED, "員工代號或密碼錯誤"),
    ("0060040", "EO999999", "Yun40eoi", Code.LOGIN_FAILED, "員工代號或密碼錯誤"),
    ("0060051", "EO004001", "Yun40eoi", Code.LOGIN_FAILED, "員工代號或密碼錯誤"),  # an officer of another branch
    ("006004", "EO004001", "Yun40eoi", Code.BAD_BRANCH_CODE, "分行代號須為 7 位數字"),
    ("0060040", "EO-40", "Yun40eoi", Code.BAD_OFFICER_CODE, "員工代號須為 6 至 16 位"),
    ("0060040", "EO004001", "", Code.MISSING_FIELD, "請輸入密碼。"),
])
def test_a_wrong_login_is_refused(bank: Bank, branch: str, code: str, password: str, expected: Code,
                                  phrase: str) -> None:
    token = csrf(bank.client.get("/branch/login").text)
    answer = bank.client.post("/branch/login", data={"csrf_token": token, "branch_code": branch,
                                                     "officer_code": code, "password": password})
    assert code_of(answer.text) == expected and phrase in answer.text
    assert bank.client.get("/branch/inbox").status_code == 401


def test_three_wrong_passwords_lock_the_officer_until_unlocked(bank: Bank) -> None:
    for _ in range(2):
        assert code_of(bank.officer_login(YUNSHAN, "Wrong1234").text) == Code.LOGIN_FAILED
    assert code_of(bank.officer_login(YUNSHAN, "Wrong1234").text) == Code.USER_LOCKED
    assert code_of(bank.officer_login(YUNSHAN).text) == Code.USER_LOCKED  # the right password too
    bank.store.unlock_officer(YUNSHAN.branch.code, YUNSHAN.officer_code)
    logged_in(bank)


def officer_rows_but(dump: dict[str, list[tuple[Any, ...]]], who: Any = YUNSHAN) -> dict[str, list[tuple[Any, ...]]]:
    """A dump without the audit log and without ``who``'s rows: of ``officers``, and (schema 4) its
    lockout records and its trusted devices."""
    key = (who.branch.code, who.officer_code.upper())
    rest = {table: rows for table, rows in dump.items() if table != "audit"}
    rest["officers"] = [r for r in dump["officers"] if (r[0], r[3]) != key]
    rest["lockouts"] = [r for r in dump["lockouts"] if (r[0], r[1], r[2]) != ("officer", *key)]
    rest["devices"] = [r for r in dump["devices"] if (r[1], r[2], r[3]) != ("officer", *key)]
    return rest


def test_the_third_attempt_with_the_right_password_signs_in_and_lifts_the_lock_it_set(bank: Bank) -> None:
    """The attempt is counted before its password is checked: the third one sets the lock, and a right
    password lifts it again (nothing else changes but the officer's row and the audit log)."""
    before = bank.store.dump()
    logins = bank.app.branch.logins
    for _ in range(2):
        with pytest.raises(BankError) as refused:
            logins.login(YUNSHAN.branch.code, YUNSHAN.officer_code, "Wrong1234")
        assert refused.value.code is Code.LOGIN_FAILED
    signed_in = logins.login(YUNSHAN.branch.code, YUNSHAN.officer_code, YUNSHAN.password)
    assert signed_in.actor == YUNSHAN.actor
    row = bank.store.officer(YUNSHAN.branch.code, YUNSHAN.officer_code)
    assert row is not None and not row.locked and row.failed_logins == 0
    assert row.last_login_at == NOW.isoformat()
    after = bank.store.dump()
    assert officer_rows_but(after) == officer_rows_but(before)
    assert [(a[3], a[5]) for a in after["audit"][len(before["audit"]):]] == [
        (YUNSHAN.actor, Code.LOGIN_FAILED), (YUNSHAN.actor, Code.LOGIN_FAILED), (YUNSHAN.actor, "OK")]


class GatedHasher:
    """The officers' argon2, counting the passwords it checks and holding each check until the test
    lets them all go: every guess of a burst reaches the lock check while the first are still hashing."""

    def __init__(self, real: Any):
        self.real = real
        self.checked: list[str] = []
        self.lock = threading.Lock()
        self.go = threading.Event()

    def verify(self, hash_: str, password: str) -> bool:
        with self.lock:
            self.checked.append(password)
        assert self.go.wait(10), "the test never let the checks go"
        return bool(self.real.verify(hash_, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_burst_of_officer_logins_checks_at_most_three_passwords(bank: Bank) -> None:
    """Ten guesses at once, the right password the last of them: each attempt is counted (BEGIN
    IMMEDIATE) before its password is checked, so three are checked, the rest are refused as locked
    without a check, and the right password gets in only if it was one of the three."""
    logins = bank.app.branch.logins
    gated = GatedHasher(logins.logins.hasher)
    logins.logins.hasher = gated  # type: ignore[assignment]
    lock_after = logins.logins.lock_after
    guesses = [f"Wrong{i:04d}" for i in range(9)] + [YUNSHAN.password]
    before = bank.store.dump()
    outcomes: list[str] = []
    start = threading.Barrier(len(guesses))

    def attempt(password: str) -> None:
        start.wait()
        try:
            logins.login(YUNSHAN.branch.code, YUNSHAN.officer_code, password)
            outcomes.append("OK")
        except BankError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(g,)) for g in guesses]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    # Every guess is either being checked or already answered: only then do the checks go on.
    while len(gated.checked) + sum(not t.is_alive() for t in threads) < len(guesses):
        assert time.monotonic() < deadline, "the burst did not settle"
        time.sleep(0.01)
    gated.go.set()
    for thread in threads:
        thread.join()
    assert len(gated.checked) == lock_after, f"{len(gated.checked)} passwords were checked"
    right_checked = YUNSHAN.password in gated.checked
    assert outcomes.count("OK") == (1 if right_checked else 0)
    assert outcomes.count(Code.USER_LOCKED) >= len(guesses) - lock_after
    row = bank.store.officer(YUNSHAN.branch.code, YUNSHAN.officer_code)
    assert row is not None
    if right_checked:  # its success lifted the lock the third attempt set
        assert not row.locked and row.failed_logins == 0 and row.last_login_at == NOW.isoformat()
    else:
        assert row.locked and row.failed_logins == lock_after and row.last_login_at is None
    after = bank.store.dump()
    assert officer_rows_but(after) == officer_rows_but(before), "the burst changed more than the officer's row"
    assert after["audit"][:len(before["audit"])] == before["audit"]
    added = after["audit"][len(before["audit"]):]
    assert sorted((a[3], a[4], a[5]) for a in added) == sorted((YUNSHAN.actor, "分行經辦登入", o) for o in outcomes)


def test_the_login_form_needs_its_token(bank: Bank) -> None:
    bank.client.get("/branch/login")
    answer = bank.client.post("/branch/login", data={"branch_code": "0060040", "officer_code": "EO004001",
                                                     "password": "Yun40eoi"})
    assert answer.status_code == 403 and code_of(answer.text) == Code.CSRF_FAILED


def test_the_branch_pages_without_an_officers_login_show_nothing(bank: Bank) -> None:
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    # A customer's session is no officer's.
    bank.log_in(customer("eoi"))
    before = bank.store.dump()
    for method, path in (("GET", "/branch/inbox"), ("GET", f"/branch/fax/{fax}"), ("GET", f"/branch/fax/{fax}.pdf"),
                         ("POST", f"/branch/fax/{fax}/file"), ("POST", "/branch/logout")):
        answer = bank.client.request(method, path)
        assert answer.status_code == 401, (path, answer.text)
        assert code_of(answer.text) == Code.NOT_LOGGED_IN and "請先以分行經辦的員工代號登入分行作業系統" in answer.text
        assert new.serial not in answer.text and "%PDF" not in answer.text
    after = bank.store.dump()
    assert after["filings"] == before["filings"] == [] and after["bindings"] == before["bindings"] == []
    assert bank.client.get("/branch/", follow_redirects=False).headers["location"] == "/branch/login"


def test_officers_see_only_their_branchs_inbox(bank: Bank) -> None:
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    logged_in(bank, MOON_LAKE)
    assert new.serial not in bank.client.get("/branch/inbox").text
    for method, path in (("GET", f"/branch/fax/{fax}"), ("GET", f"/branch/fax/{fax}.pdf")):
        answer = bank.client.request(method, path)
        assert answer.status_code == 404 and code_of(answer.text) == Code.FAX_NOT_FOUND
    token = csrf(bank.client.get("/branch/inbox").text)
    before = bank.store.dump()
    answer = bank.client.post(f"/branch/fax/{fax}/file", data={"csrf_token": token})
    assert answer.status_code == 404 and code_of(answer.text) == Code.FAX_NOT_FOUND
    assert_only_refusal_recorded(before, bank.store.dump(), Code.FAX_NOT_FOUND)
    bank.client.cookies.clear()
    logged_in(bank, YUNSHAN)
    inbox = bank.client.get("/branch/inbox").text
    assert new.serial in inbox and "待處理" in inbox and "虛構雲杉企業股份有限公司" in inbox
    assert bank.client.get(f"/branch/fax/{fax}.pdf").content.startswith(b"%PDF-")


def test_the_sheet_is_shown_beside_what_the_ca_says(bank: Bank) -> None:
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    logged_in(bank)
    page = bank.client.get(f"/branch/fax/{fax}").text
    assert page.count('data-testid="check-result">相符<') == 6 and 'data-testid="check-result">是<' in page
    assert "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank OU=FXML" in page
    bank.ca.suspend(new.serial)
    page = bank.client.get(f"/branch/fax/{fax}").text
    assert page.count('data-testid="check-result">相符<') == 5 and "暫禁" in page


# -- 憑證展期建檔 ----------------------------------------------------------------------------------------------------
def test_filing_binds_the_renewed_certificate_and_the_old_one_stops_signing(bank: Bank) -> None:
    who = customer("eoi")
    old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    prefix = bank.log_in(who)
    assert bank.transfer(prefix, who, new).json()["error"]["code"] == Code.CERT_NOT_FILED
    bank.client.cookies.clear()
    logged_in(bank)
    answer = file(bank, fax)
    assert answer.status_code == 200 and "憑證展期建檔完成" in answer.text and new.serial in answer.text
    filing = bank.store.connection().execute(
        "SELECT branch_code, officer_code, id_number, serial, old_serial, relationship_codes FROM filings").fetchall()
    assert filing == [("0060040", "EO004001", "63880571", new.serial, old.serial, None)]
    audit = bank.store.audit_log()[-1]
    assert (audit.system, audit.actor, audit.action) == ("branch", "0060040:EO004001", "憑證展期建檔")
    assert audit.result == "OK"
    assert json.loads(audit.detail)["serial"] == new.serial and json.loads(audit.detail)["old_serial"] == old.serial
    assert "已建檔" in bank.client.get("/branch/inbox").text
    bank.client.cookies.clear()
    prefix = bank.log_in(who)
    done = bank.transfer(prefix, who, new)
    assert done.status_code == 201 and done.json()["transfer"]["binding"] == "憑證展期建檔"
    stale = bank.transfer(prefix, who, old).json()["error"]
    assert stale["code"] == Code.CERT_SUPERSEDED and new.serial in stale["message"]


@pytest.mark.parametrize("role", [OfficerRole.EOI, OfficerRole.E_BANKING])
def test_either_kind_of_officer_files_the_renewal(bank: Bank, role: OfficerRole) -> None:
    """Step 9 has the customer phone 「分行電金/EOI經辦」: an EOI經辦 or a 電金經辦 of the branch files,
    and the filing, its page and its audit line name who did."""
    clerk = officer_of("雲杉分行", role)
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    logged_in(bank, clerk)
    answer = file(bank, fax)
    assert answer.status_code == 200 and "憑證展期建檔完成" in answer.text
    assert f"{role.label} {clerk.name}（{clerk.officer_code}）" in answer.text
    filed = bank.store.connection().execute("SELECT officer_code FROM filings WHERE serial = ?", (new.serial,))
    assert filed.fetchone() == (clerk.officer_code,) and bank.store.audit_log()[-1].actor == clerk.actor


def test_a_refused_filing_says_so_in_words_and_its_code_only_in_small_print(bank: Bank) -> None:
    _old, new = renewed(bank, "shared-certificate")
    fax = faxed(bank, "shared-certificate", new)
    logged_in(bank, MOON_LAKE)
    page = bank.client.get(f"/branch/fax/{fax}").text
    answer = bank.client.post(f"/branch/fax/{fax}/file", data={"csrf_token": csrf(page)})
    assert "<h1>無法完成憑證展期建檔</h1>" in answer.text
    assert '<p class="message-code">錯誤代碼：<code>REL_CODE_REQUIRED</code></p>' in answer.text
    assert answer.text.count("REL_CODE_REQUIRED") == 2  # the small print, and the attribute the tests read


def test_filing_twice_is_refused(bank: Bank) -> None:
    _old, new = renewed(bank, "eoi")
    first = faxed(bank, "eoi", new)
    second = faxed(bank, "eoi", new, fax_id="F0000000000002")  # printed twice: two faxes
    logged_in(bank)
    assert file(bank, first).status_code == 200
    for fax in (first, second):
        before = bank.store.dump()
        page = bank.client.get(f"/branch/fax/{fax}").text
        assert "完成憑證展期建檔" in page and 'data-testid="filing-form"' not in page
        answer = bank.client.post(f"/branch/fax/{fax}/file", data={"csrf_token": csrf(page)})
        assert answer.status_code == 409 and code_of(answer.text) == Code.FILING_DUPLICATE
        assert "不得重複建檔" in answer.text
        assert_only_refusal_recorded(before, bank.store.dump(), Code.FILING_DUPLICATE)


def refused_filing(bank: Bank, fax: int, code: Code, status: int, codes: list[str] | None = None) -> str:
    page = bank.client.get(f"/branch/fax/{fax}")
    data: dict[str, Any] = {"csrf_token": csrf(page.text)}
    if codes is not None:
        data["relationship_code"] = codes
    before = bank.store.dump()
    answer = bank.client.post(f"/branch/fax/{fax}/file", data=data)
    assert answer.status_code == status and code_of(answer.text) == code, answer.text
    assert_only_refusal_recorded(before, bank.store.dump(), code)
    found = answer.text.split('class="message-text" data-code="')[1]
    return found.split(">", 1)[1].split("</p>", 1)[0]


@pytest.mark.parametrize(("change", "code", "phrase"), [
    ("revoke", Code.CERT_REVOKED, "此憑證已廢止，不得辦理憑證展期建檔"),
    ("suspend", Code.CERT_SUSPENDED, "此憑證已暫禁，不得辦理憑證展期建檔"),
])
def test_a_revoked_or_suspended_certificate_is_not_filed(bank: Bank, change: str, code: Code, phrase: str) -> None:
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    getattr(bank.ca, change)(new.serial)
    logged_in(bank)
    assert refused_filing(bank, fax, code, 409).startswith(phrase)


@pytest.mark.parametrize("trial", range(6))
def test_a_renewal_issued_on_the_same_instant_as_its_old_certificate_is_filed(bank: Bank, trial: int) -> None:
    # A frozen clock (fxmlsim up --clock fixed:...) gives both certificates the same issuance time;
    # the newest is still the renewal (the CA lists in issuance order), whatever the random serials.
    who = customer("eoi")
    old = bank.apply(who)
    new = bank.renew(old, f"eoi-same-instant-{trial}", later=False)
    fax = faxed(bank, "eoi", new)
    logged_in(bank)
    assert 'data-testid="check-result">否<' not in bank.client.get(f"/branch/fax/{fax}").text
    answer = file(bank, fax)
    assert answer.status_code == 200, code_of(answer.text)
    assert "憑證展期建檔完成" in answer.text


def test_filing_and_transfer_ids_carry_taiwans_date_on_a_utc_clock(bank: Bank) -> None:
    # The system clock answers in UTC: at 07:30 in Taipei it is still yesterday there.
    bank.clock.set(datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    who = customer("eoi")
    old = bank.apply(who)
    transfer_id, _data, _token = bank.fill(bank.log_in(who), who)
    fax = faxed(bank, "eoi", bank.renew(old, "eoi-renewed"))
    logged_in(bank)
    assert file(bank, fax).status_code == 200
    filing_id = bank.store.connection().execute("SELECT filing_id FROM filings").fetchone()[0]
    assert transfer_id.startswith("T20260302") and filing_id.startswith("E20260302")


def test_a_sheet_whose_certificate_is_not_the_customers_newest_is_not_filed(bank: Bank) -> None:
    who = customer("eoi")
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    bank.clock.advance(timedelta(minutes=5))
    newer = bank.apply(who, key_name="eoi-new-card")  # a new card applied for at the branch since
    logged_in(bank)
    assert 'data-testid="check-result">否<' in bank.client.get(f"/branch/fax/{fax}").text
    message = refused_filing(bank, fax, Code.CERT_NOT_NEWEST, 409)
    assert new.serial in message and newer.serial in message and "請客戶重新列印最新憑證的憑證證明單" in message


def test_an_applied_certificate_a_personal_customer_or_an_altered_sheet_is_not_filed(bank: Bank) -> None:
    eoi = customer("eoi")
    applied = bank.apply(eoi, suffix="2015")
    fax = faxed(bank, "eoi", applied)
    logged_in(bank)
    assert "無須憑證展期建檔" in refused_filing(bank, fax, Code.FILING_NOT_RENEWAL, 409)
    _old, new = renewed(bank, "eoi")
    sheet = bank.ca.proof_sheet(new.serial)
    sheet["主旨(使用者識別名稱)"] = sheet["主旨(使用者識別名稱)"].replace("63880571", "63880572")
    altered = faxed(bank, "eoi", new, fax_id="F0000000000003", sheet=sheet)
    assert "主旨(使用者識別名稱)" in refused_filing(bank, altered, Code.SHEET_MISMATCH, 422)
    # 營業部 is the person's 申辦分行.
    _old, person_new = renewed(bank, "person")
    personal = faxed(bank, "person", person_new, fax_id="F0000000000004")
    bank.client.cookies.clear()
    logged_in(bank, officer("0060000", "EB000001"))
    assert "無須憑證展期建檔" in refused_filing(bank, personal, Code.FILING_NOT_EOI, 409)


# -- shared certificates: the relationship customers' 用戶代碼 ------------------------------------------------------
@pytest.mark.parametrize(("codes", "code", "phrase"), [
    (["82961223000"], Code.REL_CODE_FORMAT, "第 1 個關係戶之用戶代碼須為 12 位數字（輸入的代碼為 11 碼）"),
    (["829612230001", "96513242000A"], Code.REL_CODE_FORMAT,
     "第 2 個關係戶之用戶代碼須為 12 位數字（輸入的代碼含數字以外的字元）"),
    (["\uff18\uff12\uff19\uff16\uff11\uff12\uff12\uff13\uff10\uff10\uff10\uff11"], Code.REL_CODE_FORMAT,
     "第 1 個關係戶之用戶代碼須為 12 位數字（輸入的代碼含全形數字，請以半形數字輸入）"),  # full-width digits
    (["", "82961223000"], Code.REL_CODE_FORMAT,  # the first box left blank: the second is named
     "第 2 個關係戶之用戶代碼須為 12 位數字（輸入的代碼為 11 碼）"),
    (["282754860001"], Code.REL_CODE_OTHER_COMPANY, "用戶代碼 282754860001 是其他公司（24893970）的關係戶"),
    (["829612230009"], Code.REL_CODE_UNKNOWN,
     "用戶代碼 829612230009 不是本公司（06177834 虛構月湖物流股份有限公司）的關係戶"),
    (["829612230001", "829612230001"], Code.REL_CODE_DUPLICATE, "重複輸入"),
    (["", " "], Code.REL_CODE_REQUIRED, "此客戶申辦共用憑證，請輸入關係戶之用戶代碼(12位數)。"),
    ([], Code.REL_CODE_REQUIRED, "請輸入關係戶之用戶代碼"),
])
def test_wrong_relationship_codes_are_refused(bank: Bank, codes: list[str], code: Code, phrase: str) -> None:
    _old, new = renewed(bank, "shared-certificate")
    fax = faxed(bank, "shared-certificate", new)
    logged_in(bank, MOON_LAKE)
    assert phrase in refused_filing(bank, fax, code, 400, codes)


def test_a_company_without_a_shared_certificate_is_given_no_codes(bank: Bank) -> None:
    _old, new = renewed(bank, "eoi")
    fax = faxed(bank, "eoi", new)
    logged_in(bank)
    assert "未申辦共用憑證" in refused_filing(bank, fax, Code.REL_CODE_NOT_SHARED, 400, ["829612230001"])


def test_a_shared_certificate_serves_the_relationship_customers_filed(bank: Bank) -> None:
    who = customer("shared-certificate")
    old, new = renewed(bank, "shared-certificate")
    fax = faxed(bank, "shared-certificate", new)
    prefix = bank.log_in(who)
    # Before the filing the applied certificate serves every relationship customer.
    assert bank.transfer(prefix, who, old, payer="965132420002").status_code == 201
    bank.client.cookies.clear()
    logged_in(bank, MOON_LAKE)
    page = bank.client.get(f"/branch/fax/{fax}").text
    assert page.count('name="relationship_code"') == 2 and "829612230001" not in page  # the customer says them
    answer = file(bank, fax, ["829612230001", ""])
    assert answer.status_code == 200 and "829612230001" in answer.text
    row = bank.store.connection().execute("SELECT relationship_codes FROM bindings WHERE serial = ?",
                                          (new.serial,)).fetchone()
    assert json.loads(row[0]) == ["829612230001"]
    bank.client.cookies.clear()
    prefix = bank.log_in(who)
    assert bank.transfer(prefix, who, new, payer="829612230001").status_code == 201
    assert bank.transfer(prefix, who, new).status_code == 201  # the company itself
    refusal = bank.transfer(prefix, who, new, payer="965132420002").json()["error"]
    assert refusal["code"] == Code.PAYER_NOT_BOUND and "965132420002" in refusal["message"]


def test_filing_with_both_relationship_customers(bank: Bank) -> None:
    who = customer("shared-certificate")
    _old, new = renewed(bank, "shared-certificate")
    fax = faxed(bank, "shared-certificate", new)
    logged_in(bank, MOON_LAKE)
    assert file(bank, fax, ["965132420002", "829612230001"]).status_code == 200
    bank.client.cookies.clear()
    prefix = bank.log_in(who)
    for payer in ("829612230001", "965132420002"):
        assert bank.transfer(prefix, who, new, payer=payer).status_code == 201
