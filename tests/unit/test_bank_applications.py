"""憑證申請 at the bank, in process: the platform files an application for the customer's 申辦分行
(refused: a name the customer has, one awaiting the branch, an id reused with other content); the
branch's officer sees it (no other branch's officer does), approves it (the CA registers the name and
issues a 授權碼, shown once; the customer's records get the name) or refuses it with a reason; a decided
application cannot be decided again; every refusal with its zh-TW message and the bank's records
unchanged but for one audit line. The 授權碼 then lets the card's request have its certificate, bound to
the customer. The same runs through chromium in features/憑證申請與憑證下載.feature."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fxml.clock import FixedClock
from fxml.platform import bankapi
from simulator.bank import binding
from simulator.bank.auth import BankErrorCode as Code
from simulator.bank.officers import officer_of
from simulator.ca.testing import make_csr
from tests.support.bank import NOW, Bank, assert_only_refusal_recorded, code_of, csrf, customer

MAIN_OFFICE = officer_of("營業部")  # persona person's 申辦分行
OTHER_BRANCH = officer_of("雲杉分行")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def filed(bank: Bank, name: str = "person", suffix: str = "2023", application_id: str = "A0000000000001") -> int:
    answer = bank.application(customer(name), suffix, application_id)
    assert answer.status_code == 201, answer.text
    assert answer.json()["application"]["branch"] == {"code": "0060000", "name": "營業部"}
    row = bank.store.connection().execute("SELECT id FROM applications WHERE application_id = ?",
                                          (application_id,)).fetchone()
    return int(row[0])


def approve(bank: Bank, application: int) -> Any:
    page = bank.client.get(f"/branch/applications/{application}")
    return bank.client.post(f"/branch/applications/{application}/approve", data={"csrf_token": csrf(page.text)})


def refuse(bank: Bank, application: int, reason: str) -> Any:
    page = bank.client.get(f"/branch/applications/{application}")
    return bank.client.post(f"/branch/applications/{application}/refuse",
                            data={"csrf_token": csrf(page.text), "reason": reason})


def test_the_branch_approves_and_the_code_gets_the_card_its_certificate(bank: Bank) -> None:
    application = filed(bank)
    assert bank.officer_login(MAIN_OFFICE).status_code == 303
    listing = bank.client.get("/branch/applications").text
    assert "A123456789-00-2023" in listing and "待審核" in listing
    answer = approve(bank, application)
    assert answer.status_code == 200, answer.text
    code = re.search(r'data-testid="authorization-code">([0-9A-Z-]+)<', answer.text)
    assert code and re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code.group(1))
    assert "2026-03-09 10:00:00" in answer.text  # seven days
    # The bank binds the name to the customer, keeps no code, and says so in its audit log.
    person = bank.store.customer("A123456789")
    assert person is not None and "A123456789-00-2023" in person.cns
    assert code.group(1) not in repr(bank.store.dump())
    assert [(a.action, a.result) for a in bank.store.audit_log()][-1] == ("憑證申請核准", "OK")
    assert "已核准" in bank.client.get(f"/branch/applications/{application}").text
    # The code: the card's request (a key made on the card, here in software) gets the certificate.
    key = bank.keys.rsa("applied-2023")
    issued = bank.ca.enroll("download-1", "A123456789", code.group(1),
                            make_csr(key, bank.ca.subject_for("A123456789", "2023")))
    record = bank.lookup.query(serial=issued.serial)[0]
    assert binding.check(bank.store, person, record, None).source == binding.APPLICATION


def test_another_branch_sees_no_application_of_this_one(bank: Bank) -> None:
    application = filed(bank)
    assert bank.officer_login(OTHER_BRANCH).status_code == 303
    assert "A123456789" not in bank.client.get("/branch/applications").text
    before = bank.store.dump()
    page = bank.client.get(f"/branch/applications/{application}")
    assert page.status_code == 404 and code_of(page.text) == Code.APPLICATION_NOT_FOUND
    answer = bank.client.post(f"/branch/applications/{application}/approve",
                              data={"csrf_token": csrf(bank.client.get("/branch/inbox").text)})
    assert answer.status_code == 404 and "查無此憑證申請" in answer.text
    assert_only_refusal_recorded(before, bank.store.dump(), Code.APPLICATION_NOT_FOUND)


def test_a_decided_application_is_not_decided_again(bank: Bank) -> None:
    application = filed(bank)
    bank.officer_login(MAIN_OFFICE)
    assert approve(bank, application).status_code == 200
    for again in (lambda: approve(bank, application), lambda: refuse(bank, application, "重複")):
        before = bank.store.dump()
        answer = again()
        assert answer.status_code == 409 and code_of(answer.text) == Code.APPLICATION_DECIDED
        assert "此筆憑證申請已審核（已核准），不得重複審核。" in answer.text
        assert_only_refusal_recorded(before, bank.store.dump(), Code.APPLICATION_DECIDED)


def test_a_refusal_needs_its_reason_and_is_recorded(bank: Bank) -> None:
    application = filed(bank)
    bank.officer_login(MAIN_OFFICE)
    before = bank.store.dump()
    answer = refuse(bank, application, "  ")
    assert answer.status_code == 400 and "請輸入不核准的原因" in answer.text
    assert_only_refusal_recorded(before, bank.store.dump(), Code.APPLICATION_REASON)
    answer = refuse(bank, application, "身分證明文件不符")
    assert answer.status_code == 200 and "未核准" in answer.text and "身分證明文件不符" in answer.text
    assert bank.ca.registry.dump()["authorizations"] == []  # no code for a refused application
    person = bank.store.customer("A123456789")
    assert person is not None and "A123456789-00-2023" not in person.cns


def test_the_filings_refusals(bank: Bank) -> None:
    filed(bank)
    again = bank.application(customer("person"), "2023", "A0000000000001")  # the same: the same receipt
    assert again.status_code == 200 and again.json()["application"]["application_id"] == "A0000000000001"
    for suffix, application_id, code, message in (
        ("2015", "A0000000000002", bankapi.ErrorCode.BANK_API_CN_TAKEN, "您已有此憑證名稱的憑證"),
        ("2023", "A0000000000003", bankapi.ErrorCode.BANK_API_APPLICATION_PENDING,
         "此憑證名稱已有一筆申請待申辦分行審核"),
        ("2024", "A0000000000001", bankapi.ErrorCode.BANK_API_ID_REUSED, "此編號已用於內容不同的另一筆資料"),
    ):
        before = bank.store.dump()
        answer = bank.application(customer("person"), suffix, application_id)
        assert answer.json()["error"]["code"] == code, answer.text
        assert message in answer.json()["error"]["message"]
        after = bank.store.dump()
        assert {t: r for t, r in after.items() if t not in ("audit", "api_nonces")} == \
            {t: r for t, r in before.items() if t not in ("audit", "api_nonces")}
