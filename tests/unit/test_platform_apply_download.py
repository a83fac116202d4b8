"""The platform's 憑證申請 and 憑證下載 in process (Starlette's TestClient), the bank and the CA stood in
for: the application's stages and refusals (a name of the wrong form, the bank's refusals said in
its words, another customer's application), the 授權碼 checked at the CA before a record is opened
(its refusals in the CA's words, nothing opened), the card a download may use and the container
its key goes to, and a download's pages refusing a renewal's id. The whole flows, with the real
bank, CA, card agent and card, run through chromium in features/憑證申請與憑證下載.feature."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from starlette.testclient import TestClient

from fxml.ca.client import AuthorizationGrant, CaError
from fxml.clock import TAIWAN, FixedClock
from fxml.platform import bankapi, tickets
from fxml.platform.app import Platform, PlatformSettings
from fxml.platform.download import container_for_download
from fxml.platform.wizard import WizardError
from fxml.renewal.model import Kind, State

KEY = b"k" * 32
NOW = datetime(2023, 4, 17, 11, 13, 42, tzinfo=TAIWAN)
HOLDER = "A123456789"
SUBJECT = f"CN={HOLDER}-00-2023,OU=FXML,OU=0060000-Taiwan Cooperative Bank,OU=TWCA Financial User CA,O=Finance,C=TW"
CODE = "7K2M-QX9D-4HTB-P8ZW"


class Bank:
    """The bank's API as the platform's link calls it: files applications, refuses on cue."""

    def __init__(self, clock: FixedClock):
        self.clock = clock
        self.received: list[bankapi.Application] = []
        self.refusal: bankapi.ErrorCode | None = None

    def apply(self, application: bankapi.Application) -> bankapi.ApplicationReceipt:
        if self.refusal is not None:
            raise bankapi.BankApiError(self.refusal, "refused", bankapi.STATUS[self.refusal])
        self.received.append(application)
        return bankapi.ApplicationReceipt(application.application_id, "0060000", "營業部", self.clock.now().isoformat())


class Ca:
    """The CA's check of a 授權碼: CODE is the customer's; others are the CA's refusals."""

    def check_authorization(self, code: str, holder_id: str) -> AuthorizationGrant:
        if code.replace("-", "") != CODE.replace("-", ""):
            raise CaError(404, "AUTHORIZATION_UNKNOWN", "授權碼錯誤，請確認分行經辦告知的授權碼後重新輸入。")
        if holder_id != HOLDER:
            raise CaError(403, "AUTHORIZATION_MISMATCH", "此授權碼不是核發給您的，請確認分行經辦告知的授權碼。")
        return AuthorizationGrant(HOLDER, f"{HOLDER}-00-2023", "CN=…", x509.Name.from_rfc4514_string(SUBJECT), NOW,
                                  NOW + timedelta(days=7))


class Link:
    """The platform's link to the bank, without its worker (no renewal notices here)."""

    def __init__(self, client: Bank):
        self.client = client

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def ticket(holder: str = HOLDER) -> tickets.Ticket:
    return tickets.Ticket(system=tickets.System.PERSONAL, customer_id=holder, customer_name="王小明（虛構）",
                          user_code="wang2015", customer_type=None, holder_id=holder,
                          return_url="http://127.0.0.1:9/personal/menu")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[tuple[Platform, Bank]]:
    clock = FixedClock(NOW)
    made = Platform(PlatformSettings(state_dir=tmp_path, ticket_key=KEY, clock=clock,
                                     agent_origin="http://127.0.0.1:61082"))
    bank = Bank(clock)
    made.bank = Link(bank)  # type: ignore[assignment]
    made.ca = Ca()  # type: ignore[assignment]
    yield made, bank
    for client in OPEN:
        client.__exit__(None, None, None)
    OPEN.clear()


#: The clients a test entered with (closed after it: their app's lifespan ends).
OPEN: list[TestClient] = []


def entered(platform: Platform, holder: str = HOLDER) -> TestClient:
    client = TestClient(platform.app(), base_url="http://127.0.0.1:8601")
    client.__enter__()
    OPEN.append(client)
    answer = client.get("/entry", params={"ticket": tickets.issue(ticket(holder), KEY, platform.clock)},
                        follow_redirects=False)
    assert answer.status_code == 303
    return client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"',
                                                                             html)
    assert found
    return found.group(1)


def code_of(html: str) -> str:
    found = re.search(r'data-code="([A-Z_]+)"', html)
    return found.group(1) if found else ""


def test_an_application_in_three_stages(platform: tuple[Platform, Bank]) -> None:
    made, bank = platform
    client = entered(made)
    page = client.get("/apply")
    assert page.status_code == 200 and 'value="2023"' in page.text and "112/04/17" in page.text
    confirm = client.post("/apply", data={"csrf_token": csrf(page.text), "cn_suffix": "2023", "carrier": "小卡"})
    assert confirm.status_code == 200 and f"{HOLDER}-00-2023" in confirm.text
    application_id = re.search(r'name="application_id" value="([^"]+)"', confirm.text)
    assert application_id
    data = {"csrf_token": csrf(confirm.text), "cn_suffix": "2023", "carrier": "小卡",
            "application_id": application_id.group(1)}
    sent = client.post("/apply/confirm", data=data)
    assert sent.status_code == 200 and "憑證申請已送出" in sent.text and "0060000 營業部" in sent.text
    assert [a.cn_suffix for a in bank.received] == ["2023"]
    # A second click sends the same application (the bank answers it the same); the list shows it once.
    assert client.post("/apply/confirm", data=data).status_code == 200
    assert client.get("/apply").text.count('data-testid="application-sent"') == 1
    # Another customer does not see it.
    other = entered(made, "B223456789")
    assert other.get(f"/apply/{application_id.group(1)}").status_code == 404


@pytest.mark.parametrize(("suffix", "carrier", "code"), [
    ("20 23", "小卡", "APPLY_CN_FORMAT"), ("二〇二三", "小卡", "APPLY_CN_FORMAT"), ("", "大卡", "APPLY_CN_FORMAT"),
    ("2023", "中卡", "APPLY_CARRIER"),
])
def test_a_form_of_the_wrong_shape_is_refused(platform: tuple[Platform, Bank], suffix: str, carrier: str,
                                             code: str) -> None:
    made, bank = platform
    client = entered(made)
    answer = client.post("/apply", data={"csrf_token": csrf(client.get("/apply").text), "cn_suffix": suffix,
                                         "carrier": carrier})
    assert answer.status_code == 400 and code_of(answer.text) == code and bank.received == []


@pytest.mark.parametrize(("refusal", "message"), [
    (bankapi.ErrorCode.BANK_API_CN_TAKEN, "您已有此憑證名稱的憑證"),
    (bankapi.ErrorCode.BANK_API_APPLICATION_PENDING, "此憑證名稱已有一筆申請待申辦分行審核"),
    (bankapi.ErrorCode.BANK_UNREACHABLE, "憑證申請未能送達銀行"),
])
def test_the_banks_refusals_in_its_words(platform: tuple[Platform, Bank], refusal: bankapi.ErrorCode,
                                         message: str) -> None:
    made, bank = platform
    client = entered(made)
    bank.refusal = refusal
    confirm = client.post("/apply", data={"csrf_token": csrf(client.get("/apply").text), "cn_suffix": "2015",
                                          "carrier": "小卡"})
    answer = client.post("/apply/confirm", data={"csrf_token": csrf(confirm.text), "cn_suffix": "2015",
                                                 "carrier": "小卡", "application_id": "A" + "1" * 32})
    assert answer.status_code >= 400 and message in answer.text
    assert 'data-testid="application-sent"' not in client.get("/apply").text


def test_the_code_opens_a_download_and_a_wrong_one_opens_nothing(platform: tuple[Platform, Bank]) -> None:
    made, _ = platform
    client = entered(made)
    page = client.get("/download")
    token = csrf(page.text)
    for typed, code in (("", "DOWNLOAD_CODE_MISSING"), ("AAAA-BBBB-CCCC-DDDD", "AUTHORIZATION_UNKNOWN")):
        answer = client.post("/download", data={"csrf_token": token, "authorization_code": typed})
        assert answer.status_code >= 400 and code_of(answer.text) == code
    assert made.book.for_holder(HOLDER, Kind.DOWNLOAD) == []
    opened = client.post("/download", data={"csrf_token": token, "authorization_code": CODE.lower()})
    assert opened.status_code == 200 and f"{HOLDER}-00-2023" in opened.text and "確認下載資訊" in opened.text
    [record] = made.book.for_holder(HOLDER, Kind.DOWNLOAD)
    assert (record.state, record.subject, record.authorization_code) == (State.SELECTED, SUBJECT, CODE.replace("-", ""))
    # Another customer's card is refused; a blank one's container is chosen.
    confirm = f"/download/{record.renewal_id}/confirm"
    headers = {"x-csrf-token": token}
    refused = client.post(confirm, json={"card": {"card_serial": "C1", "holder_id": "B223456789",
                                                  "certificates": []}}, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CARD_NOT_CUSTOMERS"
    done = client.post(confirm, json={"card": {"card_serial": "C1", "holder_id": HOLDER, "certificates": []}},
                       headers=headers)
    assert done.status_code == 200 and made.book.get(record.renewal_id).container == "9A"
    # A renewal's pages know no download.
    assert client.get(f"/renew/{record.renewal_id}").status_code == 404


def test_the_container_of_a_downloads_key() -> None:
    def cert(container: str, days: int) -> dict[str, Any]:
        return {"container": container, "not_after": (NOW + timedelta(days=days)).isoformat()}

    assert container_for_download([], NOW) == "9A"
    assert container_for_download([cert("9A", 30)], NOW) == "9C"
    assert container_for_download([cert("9A", 30), cert("9C", -1)], NOW) == "9C"
    with pytest.raises(WizardError) as caught:
        container_for_download([cert("9A", 30), cert("9C", 1)], NOW)
    assert caught.value.code == "NO_FREE_CONTAINER" and "空白的憑證載具" in caught.value.message
