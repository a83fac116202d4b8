"""The download engine (憑證下載) in process: a blank card through the engine's own card client, the
real CA service over HTTP (a subprocess on a clock file), the record in memory. The whole run, the
CA's refusals of the 授權碼 before any key is made, the card's, and a break at every move followed by
a retry that completes with one issuance. (tests/pcsc/test_download_crash.py does the same through
pcscd with SIGKILL.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from fxml.ca.client import CaClient, CaError
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, FileClock
from fxml.renewal.download import DownloadEngine, engine_for
from fxml.renewal.errors import CardFailureError, CaRefusedError, RenewalError, RenewalErrorCode, WrongCardError
from fxml.renewal.memory import MemoryRecords
from fxml.renewal.model import ENGINE_STATES, Kind, RenewalRecord, State
from tests.support.renewal import (
    GOLDEN_PROFILE,
    ISSUED_AT,
    MANAGEMENT_KEY,
    Breaks,
    assert_no_unrecorded_key,
    keys_on_card,
    make_card,
    old_key_signs,
    open_card,
    serial_of,
    served_ca,
)

HOLDER = "A123456789"
NAME = "王小明（虛構）"
SUFFIX = "2023"
CN = f"{HOLDER}-00-{SUFFIX}"
#: A card as the branch hands it out: the holder's, a PIN, no key, no certificate.
BLANK = {**GOLDEN_PROFILE, "holder_id": HOLDER, "holder_name": NAME, "card_serial": "TWCA-TEST-0000000777",
         "certificates": []}


@dataclass
class World:
    root: Path
    ca_dir: Path
    clock: FileClock
    ca: CaClient
    count: int = 0

    def card(self, profile: dict[str, Any] | None = None) -> Path:
        self.count += 1
        return make_card(self.root / f"card-{self.count}.json", self.ca_dir, profile or BLANK)

    def code(self, holder: str = HOLDER, suffix: str = SUFFIX) -> str:
        """The branch's approval: the holder registered (if not yet), a 授權碼 issued (the RA's admin token)."""
        try:
            self.ca.register_holder(holder, NAME, suffix)
        except CaError as exc:
            if exc.code != "HOLDER_EXISTS":
                raise
        code, _ = self.ca.authorize(holder, suffix)
        return code

    def download(self, code: str, *, card_serial: str = BLANK["card_serial"], container: str = "9A",
                 state: State = State.TERMS_ACCEPTED, holder: str = HOLDER, suffix: str = SUFFIX) -> MemoryRecords:
        """The platform's record at TERMS_ACCEPTED: the code checked, the card and container chosen."""
        grant = CaClient(self.ca.base_url).check_authorization(code, holder) if state is not State.SELECTED else None
        subject = grant.subject.rfc4514_string() if grant else ""
        now = self.clock.now().isoformat()
        return MemoryRecords(RenewalRecord(
            renewal_id=f"d{self.count}", request_id=f"fxml-download-test-{self.count}-{code[:4]}", holder_id=holder,
            old_serial="", old_cn=f"{holder}-00-{suffix}", state=state, created_at=now, updated_at=now,
            card_serial=card_serial, container=container, kind=Kind.DOWNLOAD, subject=subject,
            authorization_code=code), self.clock)

    def engine(self, image: Path, records: Any, *, pin: str | None = GOLDEN_PROFILE["pin"],
               progress: list[RenewalRecord] | None = None) -> DownloadEngine:
        engine = engine_for(open_card(image, pin=pin), CaClient(self.ca.base_url), records, MANAGEMENT_KEY,
                            clock=self.clock, on_progress=progress.append if progress is not None else None)
        assert isinstance(engine, DownloadEngine)  # the record's kind picks the engine
        return engine

    def issued_for(self, request_id: str) -> list[dict[str, Any]]:
        """The CA's audit entries of 授權碼申請 that issued (OK) or answered again (REPLAYED) for a request."""
        return [e for e in self.ca.audit(1000) if e["action"] == "授權碼申請" and e["target"] == request_id
                and e["result"] in ("OK", "REPLAYED")]


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with served_ca(request, tmp_path_factory, "download") as (root, ca_dir, clock, admin):
        yield World(root, ca_dir, clock, admin)


@pytest.fixture(autouse=True)
def issued_at(world: World) -> None:
    world.clock.write(fixed=ISSUED_AT)


def test_a_blank_card_gets_the_approved_certificate(world: World) -> None:
    image = world.card()
    assert keys_on_card(image) == {} and open_card(image).list_certificates() == []
    code = world.code()
    records = world.download(code)
    progress: list[RenewalRecord] = []
    done = world.engine(image, records, progress=progress).run()

    assert done.state == State.DONE and done.error_code is None and done.kind is Kind.DOWNLOAD
    assert [r.state for r in progress] == list(ENGINE_STATES)
    new = x509.load_pem_x509_certificate(done.certificate.encode())  # type: ignore[union-attr]
    assert new.subject.rfc4514_string() == done.subject and serial_of(new) == done.new_serial
    assert new.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == CN
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    client = open_card(image)
    assert [(c.container, c.certificate) for c in client.list_certificates()] == [(KeyRef.AUTHENTICATION, new)]
    old_key_signs(client, KeyRef.AUTHENTICATION, new)
    issuer, root = client.ca_chain()
    assert new.issuer == issuer.subject and issuer.issuer == root.subject
    assert [e["result"] for e in world.issued_for(done.request_id)] == ["OK"]
    # Running a finished download again changes nothing; the code cannot serve another request.
    assert world.engine(image, records).run() == done
    assert [e["result"] for e in world.issued_for(done.request_id)] == ["OK"]
    again = world.download(code, state=State.SELECTED)
    with pytest.raises(CaRefusedError) as caught:
        world.engine(world.card(), MemoryRecords(again.get().moved(State.TERMS_ACCEPTED, world.clock.now(),
                                                                   subject=done.subject))).run()
    assert caught.value.code == "AUTHORIZATION_USED"


@pytest.mark.parametrize("at", ENGINE_STATES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_break_at_any_move_and_a_retry_complete_with_one_issuance(world: World, at: State, when: str) -> None:
    image = world.card()
    records = world.download(world.code())
    with pytest.raises(RenewalError) as caught:
        world.engine(image, Breaks(records, at, when)).run()
    assert caught.value.code == "PLATFORM_UNREACHABLE" and caught.value.retryable
    assert "憑證下載" in caught.value.message
    stopped = records.get()
    assert_no_unrecorded_key(image, stopped)
    assert len(world.issued_for(stopped.request_id)) <= 1
    done = world.engine(image, records).run()
    assert done.state == State.DONE
    issued = [e for e in world.issued_for(done.request_id) if e["result"] == "OK"]
    assert len(issued) == 1 and issued[0]["detail"]["serial"] == done.new_serial
    assert keys_on_card(image) == {"9A": True}


@pytest.mark.parametrize(("why", "code", "message"), [
    ("unknown", "AUTHORIZATION_UNKNOWN", "授權碼錯誤"),
    ("used", "AUTHORIZATION_USED", "此授權碼已使用過"),
    ("expired", "AUTHORIZATION_EXPIRED", "授權碼已於"),
    ("another holder's", "AUTHORIZATION_MISMATCH", "此授權碼不是核發給您的"),
])
def test_the_cas_refusals_of_the_code_come_before_any_key(world: World, why: str, code: str, message: str) -> None:
    image = world.card()
    issued = world.code()
    records = world.download(issued)
    if why == "unknown":
        records = MemoryRecords(records.get().moved(State.TERMS_ACCEPTED, world.clock.now(),
                                                    authorization_code="ZZZZ-ZZZZ-ZZZZ-ZZZZ"))
    elif why == "used":
        world.engine(world.card(), world.download(issued)).run()
    elif why == "expired":
        world.clock.write(fixed=ISSUED_AT + timedelta(days=8))
    else:
        theirs = world.code(holder="B223456789")
        records = MemoryRecords(records.get().moved(State.TERMS_ACCEPTED, world.clock.now(),
                                                    authorization_code=theirs))
    with pytest.raises(CaRefusedError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == code and message in caught.value.message
    assert records.get().state == State.TERMS_ACCEPTED and records.get().error_code == code
    assert keys_on_card(image) == {}


def test_a_card_of_another_holder_is_refused(world: World) -> None:
    image = world.card({**BLANK, "holder_id": "B223456789"})
    records = world.download(world.code())
    with pytest.raises(WrongCardError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == RenewalErrorCode.WRONG_CARD
    assert caught.value.message == "插入的憑證載具不是此筆憑證下載所使用的憑證載具，請插入原憑證載具。"
    assert keys_on_card(image) == {}


def test_a_valid_certificate_is_never_removed(world: World) -> None:
    full = {**BLANK, "card_serial": "TWCA-TEST-0000000778", "certificates": [
        {"container": "9A", "cn_suffix": "2021"}, {"container": "9C", "cn_suffix": "2022"}]}
    image = world.card(full)
    records = world.download(world.code(), card_serial=full["card_serial"], container="9C")
    with pytest.raises(CardFailureError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == RenewalErrorCode.NO_FREE_CONTAINER and "空白的憑證載具" in caught.value.message
    assert keys_on_card(image) == {"9A": True, "9C": True} and records.get().state == State.TERMS_ACCEPTED
