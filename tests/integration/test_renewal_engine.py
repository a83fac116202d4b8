"""The renewal engine in process: the card OS through the engine's own card client,
the real CA service over HTTP (a subprocess on the stack's clock file), the
record in memory. The golden run, every refusal the customer can meet, and a
break at every move followed by a retry that completes with one issuance.
(tests/pcsc/test_renewal_crash.py does the same through pcscd with SIGKILL.)"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from fxml.ca.client import CaClient
from fxml.card.piv import KeyRef
from fxml.clock import TAIWAN, FileClock
from fxml.renewal.engine import RenewalEngine, container_name, spki_text
from fxml.renewal.errors import (
    CardFailureError,
    CaRefusedError,
    PinNotVerifiedError,
    RenewalError,
    RenewalErrorCode,
    RenewalStateError,
    UnreachableError,
    WrongCardError,
)
from fxml.renewal.memory import MemoryRecords
from fxml.renewal.model import ENGINE_STATES, RecordError, RenewalRecord, State
from tests.support.renewal import (
    GOLDEN_PROFILE,
    ISSUED_AT,
    MANAGEMENT_KEY,
    NEW_NOT_AFTER,
    OLD_NOT_AFTER,
    STEP3_AT,
    Breaks,
    assert_no_unrecorded_key,
    keys_on_card,
    make_card,
    old_certificate,
    old_key_signs,
    open_card,
    serial_of,
    served_ca,
)


@dataclass
class World:
    root: Path
    ca_dir: Path
    clock: FileClock
    ca: CaClient
    count: int = 0

    def card(self, profile: dict[str, Any] | None = None) -> Path:
        self.count += 1
        return make_card(self.root / f"card-{self.count}.json", self.ca_dir, profile)

    def copy(self, image: Path) -> Path:
        """A second card that is a copy of ``image`` as it is now: same serial, same keys."""
        self.count += 1
        return Path(shutil.copyfile(image, self.root / f"card-{self.count}.json"))

    def renewal(self, image: Path, **fields: Any) -> MemoryRecords:
        _, cert = old_certificate(image)
        holder = GOLDEN_PROFILE["holder_id"]
        return MemoryRecords.new(holder, serial_of(cert), f"{holder}-00-2015", clock=self.clock, **fields)

    def engine(self, image: Path, records: Any, *, pin: str | None = GOLDEN_PROFILE["pin"], ca: CaClient | None = None,
               progress: list[RenewalRecord] | None = None) -> RenewalEngine:
        return RenewalEngine(open_card(image, pin=pin), ca or self.ca, records, MANAGEMENT_KEY, clock=self.clock,
                             on_progress=progress.append if progress is not None else None)

    def renewals_of(self, serial: str) -> list[dict[str, Any]]:
        """The CA's audit entries of 更新 that issued (OK) or answered again (REPLAYED) for ``serial``."""
        entries = self.ca.audit(1000)
        return [e for e in entries if e["action"] == "更新" and e["result"] in ("OK", "REPLAYED")
                and e["detail"].get("renewed_from") == serial]


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with served_ca(request, tmp_path_factory, "renewal") as (root, ca_dir, clock, admin):
        yield World(root, ca_dir, clock, admin)


@pytest.fixture(autouse=True)
def golden_time(world: World) -> None:
    world.clock.write(fixed=ISSUED_AT)


def test_the_golden_run(world: World) -> None:
    image = world.card()
    old_container, old_cert = old_certificate(image)
    assert old_cert.not_valid_after_utc.astimezone(TAIWAN) == OLD_NOT_AFTER
    assert (OLD_NOT_AFTER - STEP3_AT).days == 27  # the manual: 27 days before expiry
    records = world.renewal(image)
    progress: list[RenewalRecord] = []
    done = world.engine(image, records, progress=progress).run()

    assert done.state == State.DONE and done.error_code is None
    assert [r.state for r in progress] == list(ENGINE_STATES)
    assert done.container == "9C" and old_container == KeyRef.AUTHENTICATION
    assert done.card_serial == GOLDEN_PROFILE["card_serial"]
    new = x509.load_pem_x509_certificate(done.certificate.encode())  # type: ignore[union-attr]
    assert new.not_valid_before_utc.astimezone(TAIWAN) == ISSUED_AT
    assert new.not_valid_after_utc.astimezone(TAIWAN) == NEW_NOT_AFTER
    assert new.subject == old_cert.subject and serial_of(new) == done.new_serial
    # The card: old certificate untouched in 9A, the new one in 9C, both keys sign.
    client = open_card(image)
    assert [(c.container, c.certificate) for c in client.list_certificates()] == [
        (KeyRef.AUTHENTICATION, old_cert), (KeyRef.SIGNATURE, new)]
    old_key_signs(client, KeyRef.AUTHENTICATION, old_cert)
    old_key_signs(client, KeyRef.SIGNATURE, new)
    issuer, root = client.ca_chain()
    assert new.issuer == issuer.subject and issuer.issuer == root.subject
    assert len(world.renewals_of(serial_of(old_cert))) == 1
    # Running a finished renewal again changes nothing.
    assert world.engine(image, records).run() == done
    assert len(world.renewals_of(serial_of(old_cert))) == 1


@pytest.mark.parametrize("at", ENGINE_STATES)
@pytest.mark.parametrize("when", ["before", "after"])
def test_a_break_at_any_move_and_a_retry_complete_with_one_issuance(world: World, at: State, when: str) -> None:
    image = world.card()
    old_container, old_cert = old_certificate(image)
    records = world.renewal(image)
    with pytest.raises(RenewalError) as caught:
        world.engine(image, Breaks(records, at, when)).run()
    assert caught.value.code == "PLATFORM_UNREACHABLE" and caught.value.retryable
    stopped = records.get()
    # The old certificate still signs, no key without a record, at most one issuance.
    old_key_signs(open_card(image), old_container, old_cert)
    assert_no_unrecorded_key(image, stopped)
    assert len(world.renewals_of(serial_of(old_cert))) <= 1
    # A retry in a new card session completes it, with exactly one certificate issued.
    done = world.engine(image, records).run()
    assert done.state == State.DONE
    issued = [e for e in world.renewals_of(serial_of(old_cert)) if e["result"] == "OK"]
    assert len(issued) == 1 and issued[0]["detail"]["serial"] == done.new_serial
    assert keys_on_card(image) == {"9A": True, "9C": True}
    old_key_signs(open_card(image), old_container, old_cert)


def test_a_key_left_by_a_run_that_did_not_record_it_is_replaced(world: World) -> None:
    image = world.card()
    records = world.renewal(image)
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, State.KEY_GENERATED, "before")).run()
    assert records.get().state == State.KEY_PENDING and keys_on_card(image) == {"9A": True, "9C": False}
    done = world.engine(image, records).run()  # GENERATE answers 6985: the key is removed and made again
    assert done.state == State.DONE and keys_on_card(image) == {"9A": True, "9C": True}
    new = open_card(image).certificate(KeyRef.SIGNATURE)
    assert spki_text(new.public_key()) == done.public_key and serial_of(new) == done.new_serial  # type: ignore[arg-type]


def test_without_the_pin_nothing_happens(world: World) -> None:
    image = world.card()
    records = world.renewal(image)
    with pytest.raises(PinNotVerifiedError) as caught:
        world.engine(image, records, pin=None).run()
    assert caught.value.message == "請輸入憑證載具密碼。" and caught.value.retryable
    assert records.get().state == State.TERMS_ACCEPTED and records.get().error_code is None
    assert keys_on_card(image) == {"9A": True}


def test_another_card_is_refused(world: World) -> None:
    image = world.card()
    records = world.renewal(image, card_serial="TWCA-TEST-0000000999")
    with pytest.raises(WrongCardError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == RenewalErrorCode.WRONG_CARD
    assert "原憑證載具" in caught.value.message
    assert records.get().error_code == "WRONG_CARD" and records.get().state == State.TERMS_ACCEPTED
    # A card that does not hold the certificate being renewed.
    other = world.card()
    with pytest.raises(WrongCardError) as caught:
        world.engine(other, world.renewal(image)).run()
    assert caught.value.code == RenewalErrorCode.CERT_NOT_ON_CARD


@pytest.mark.parametrize(("moment", "code", "message"), [
    (OLD_NOT_AFTER - timedelta(days=31), "RENEWAL_WINDOW_NOT_OPEN",
     "憑證尚未進入可更新期間，請於憑證到期日前 30 天內（2023-04-14 23:59:59 起）辦理憑證更新。"),
    (OLD_NOT_AFTER + timedelta(seconds=1), "CERT_EXPIRED_APPLY_AT_BRANCH",
     "憑證已過期，無法線上更新，請攜帶相關證件至申辦分行重新申請憑證。"),
])
def test_the_cas_refusals_reach_the_customer_before_any_key_is_made(
    world: World, moment: Any, code: str, message: str
) -> None:
    image = world.card()
    records = world.renewal(image)
    world.clock.write(fixed=moment)
    with pytest.raises(CaRefusedError) as caught:
        world.engine(image, records).run()
    assert (caught.value.code, caught.value.message) == (code, message)
    assert (records.get().state, records.get().error_code, records.get().error_message) == (
        State.TERMS_ACCEPTED, code, message)
    assert keys_on_card(image) == {"9A": True}


def test_suspended_then_resumed_and_revoked(world: World) -> None:
    image = world.card()
    _, old_cert = old_certificate(image)
    records = world.renewal(image)
    world.ca.suspend(serial_of(old_cert))
    with pytest.raises(CaRefusedError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == "CERT_SUSPENDED" and caught.value.retryable
    world.ca.resume(serial_of(old_cert))
    assert world.engine(image, records).run().state == State.DONE

    image = world.card()
    _, old_cert = old_certificate(image)
    world.ca.revoke(serial_of(old_cert))
    with pytest.raises(CaRefusedError) as caught:
        world.engine(image, world.renewal(image)).run()
    assert caught.value.code == "CERT_REVOKED" and not caught.value.retryable
    assert "請至分行重新申請憑證" in caught.value.message


def test_a_refusal_after_the_request_was_signed_keeps_the_renewal_open(world: World) -> None:
    """Suspended between the check and the issuance: the record keeps the request; once
    the suspension is lifted the same request under the same id is issued."""
    image = world.card()
    _, old_cert = old_certificate(image)
    records = world.renewal(image)
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, State.CSR_SIGNED, "after")).run()
    world.ca.suspend(serial_of(old_cert))
    with pytest.raises(CaRefusedError):
        world.engine(image, records).run()
    assert records.get().state == State.CSR_SIGNED and records.get().error_code == "CERT_SUSPENDED"
    world.ca.resume(serial_of(old_cert))
    done = world.engine(image, records).run()
    assert done.state == State.DONE and done.error_code is None


def test_the_ca_down(world: World, tmp_path: Path) -> None:
    image = world.card()
    records = world.renewal(image)
    dead = CaClient("http://127.0.0.1:9", retries=0)
    with pytest.raises(UnreachableError) as caught:
        world.engine(image, records, ca=dead).run()
    assert caught.value.code == "CA_UNREACHABLE" and caught.value.retryable
    assert records.get().state == State.TERMS_ACCEPTED and keys_on_card(image) == {"9A": True}
    # Down after the request was signed: the record keeps it for the retry.
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, State.CSR_SIGNED, "after")).run()
    with pytest.raises(UnreachableError):
        world.engine(image, records, ca=dead).run()
    assert records.get().state == State.CSR_SIGNED
    assert world.engine(image, records).run().state == State.DONE


def test_an_expired_certificate_in_the_other_container_makes_room_two_years_later(world: World) -> None:
    image = world.card()
    first = world.engine(image, world.renewal(image)).run()
    # Two years on, the certificate in 9C is renewed; 9A holds the 2023 one, long expired.
    world.clock.write(fixed=NEW_NOT_AFTER - timedelta(days=10))
    holder = GOLDEN_PROFILE["holder_id"]
    records = MemoryRecords.new(holder, first.new_serial or "", first.old_cn, clock=world.clock)
    second = world.engine(image, records).run()
    assert second.container == "9A" and second.state == State.DONE
    certs = {container_name(c.container): serial_of(c.certificate) for c in open_card(image).list_certificates()}
    assert certs == {"9A": second.new_serial, "9C": first.new_serial}


def test_a_valid_certificate_in_the_other_container_is_never_removed(world: World) -> None:
    profile = {**GOLDEN_PROFILE, "certificates": [
        *GOLDEN_PROFILE["certificates"],
        {"container": "9C", "cn_suffix": "2015", "issued_at": "2022-01-03T10:00:00+08:00"},
    ]}
    image = world.card(profile)
    client = open_card(image)
    old = next(c for c in client.list_certificates() if c.container == KeyRef.AUTHENTICATION)
    records = MemoryRecords.new(GOLDEN_PROFILE["holder_id"], serial_of(old.certificate), "x", clock=world.clock)
    before = image.read_bytes()
    with pytest.raises(CardFailureError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == RenewalErrorCode.NO_FREE_CONTAINER and "另一組憑證仍有效" in caught.value.message
    assert records.get().state == State.TERMS_ACCEPTED
    assert image.read_bytes() == before


def test_the_engine_starts_only_after_the_terms(world: World) -> None:
    image = world.card()
    for state, code in ((State.CONFIRMED, RenewalErrorCode.NOT_READY), (State.CANCELLED, RenewalErrorCode.CANCELLED)):
        records = world.renewal(image, state=state)
        with pytest.raises(RenewalStateError) as caught:
            world.engine(image, records).run()
        assert caught.value.code == code
    assert keys_on_card(image) == {"9A": True}


def test_a_store_that_refuses_is_not_papered_over(world: World) -> None:
    image = world.card()
    records = world.renewal(image, container="9A")  # the certificate being renewed is in 9A
    with pytest.raises(RenewalStateError) as caught:
        world.engine(image, records).run()
    assert caught.value.code == "RENEWAL_BAD_RECORD"
    assert keys_on_card(image) == {"9A": True}
    with pytest.raises(RecordError):
        records.advance(State.TERMS_ACCEPTED, State.ISSUED)


# -- the card that holds the new key (issue 16, defect 4) --------------------------------------------
def _refused_for_the_new_key(caught: pytest.ExceptionInfo[WrongCardError]) -> None:
    assert caught.value.code == RenewalErrorCode.NEW_KEY_NOT_ON_CARD and caught.value.retryable
    assert caught.value.message == (
        "此憑證載具中沒有此筆憑證更新產生的新金鑰，新憑證僅能存放於產生該金鑰的憑證載具，請插入原憑證載具。")


def test_a_done_renewal_is_answered_only_to_the_card_that_holds_its_key(world: World) -> None:
    image = world.card()
    copy = world.copy(image)  # before the renewal: the old certificate and the old key, no new key
    other = world.card()  # another golden card: same serial and holder, its own key and certificate
    _, old_cert = old_certificate(image)
    records = world.renewal(image)
    done = world.engine(image, records).run()
    for card in (copy, other):
        before = card.read_bytes()
        with pytest.raises(WrongCardError) as caught:
            world.engine(card, records).run()
        _refused_for_the_new_key(caught)
        assert caught.value.details["container"] == "9C"
        assert card.read_bytes() == before and keys_on_card(card) == {"9A": True}
        # The record is final: it is as it was, no refusal noted on it.
        assert records.get() == done
    # The card that holds the new certificate and its key still sees DONE; one issuance.
    assert world.engine(image, records).run() == done
    assert len(world.renewals_of(serial_of(old_cert))) == 1
    old_key_signs(open_card(image), KeyRef.SIGNATURE, x509.load_pem_x509_certificate(done.certificate.encode()))  # type: ignore[union-attr]


@pytest.mark.parametrize("at", [State.KEY_GENERATED, State.CSR_SIGNED, State.ISSUED, State.WRITTEN])
def test_a_copy_made_before_the_key_gets_nothing_once_the_key_exists(world: World, at: State) -> None:
    image = world.card()
    copy = world.copy(image)
    _, old_cert = old_certificate(image)
    records = world.renewal(image)
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, at, "after")).run()
    stopped = records.get()
    assert stopped.state == at
    issued = len(world.renewals_of(serial_of(old_cert)))
    before = copy.read_bytes()
    with pytest.raises(WrongCardError) as caught:
        world.engine(copy, records).run()
    _refused_for_the_new_key(caught)
    # Nothing on the copy (no certificate written at ISSUED), nothing asked of the CA (at
    # CSR_SIGNED the copy's old key could sign the request for the renewal), the record
    # where it was with the refusal noted.
    assert copy.read_bytes() == before
    assert len(world.renewals_of(serial_of(old_cert))) == issued
    after = records.get()
    assert (after.state, after.public_key, after.certificate) == (stopped.state, stopped.public_key,
                                                                    stopped.certificate)
    assert after.error_code == "NEW_KEY_NOT_ON_CARD"
    # The card that holds the key finishes, with one issuance.
    done = world.engine(image, records).run()
    assert done.state == State.DONE and done.error_code is None
    assert [e["result"] for e in world.renewals_of(serial_of(old_cert))].count("OK") == 1
    assert keys_on_card(image) == {"9A": True, "9C": True} and keys_on_card(copy) == {"9A": True}


def test_a_copy_at_key_pending_goes_on_and_the_renewal_is_then_the_copy_s(world: World) -> None:
    """Before any key exists nothing ties the renewal to one of two identical cards: the copy
    generates the key and finishes; the first card, which never had the key, is then refused."""
    image = world.card()
    copy = world.copy(image)
    records = world.renewal(image)
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, State.KEY_PENDING, "after")).run()
    done = world.engine(copy, records).run()
    assert done.state == State.DONE and keys_on_card(copy) == {"9A": True, "9C": True}
    before = image.read_bytes()
    with pytest.raises(WrongCardError) as caught:
        world.engine(image, records).run()
    _refused_for_the_new_key(caught)
    assert image.read_bytes() == before and keys_on_card(image) == {"9A": True}


def test_a_card_that_holds_the_key_but_not_the_certificate_gets_it_written(world: World) -> None:
    """A copy made after the key was generated holds the key (a real card could not be copied):
    it proves the key, so writing the certificate there is sound; DONE then, one issuance."""
    image = world.card()
    _, old_cert = old_certificate(image)
    records = world.renewal(image)
    with pytest.raises(RenewalError):
        world.engine(image, Breaks(records, State.KEY_GENERATED, "after")).run()
    copy = world.copy(image)
    done = world.engine(image, records).run()
    assert keys_on_card(copy) == {"9A": True, "9C": False}
    assert world.engine(copy, records).run() == done
    new = x509.load_pem_x509_certificate(done.certificate.encode())  # type: ignore[union-attr]
    client = open_card(copy)
    assert client.certificate(KeyRef.SIGNATURE) == new
    old_key_signs(client, KeyRef.SIGNATURE, new)
    assert client.ca_chain() == open_card(image).ca_chain()
    assert [e["result"] for e in world.renewals_of(serial_of(old_cert))].count("OK") == 1


def test_a_done_renewal_needs_the_pin_to_prove_the_key(world: World) -> None:
    image = world.card()
    records = world.renewal(image)
    done = world.engine(image, records).run()
    with pytest.raises(PinNotVerifiedError):
        world.engine(image, records, pin=None).run()
    assert records.get() == done
