"""The card client against the virtual TWCA card OS, in process: every
command of the engine's renewal, from PIN to a stored certificate."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.card.client import CardCertificate, CardInfo, PinStatus, PivCardClient
from fxml.card.connection import TRAFFIC
from fxml.card.csr import build_csr
from fxml.card.errors import (
    AuthenticationError,
    CardError,
    ConditionsNotSatisfiedError,
    InvalidPinFormatError,
    NotFoundError,
    PinBlockedError,
    SecurityStatusError,
    WrongPinError,
    WrongPukError,
)
from fxml.card.piv import Algorithm, KeyRef, Obj
from simulator.card.image import Carrier, ManagementKey, load_image, save_image
from simulator.card.os import InProcessConnection, TwcaCardOS
from simulator.card.profile import CardProfile, blank_image
from tests.support.card import fixed_key, issue, name
from tests.support.openssl import openssl_verifies

PIN, PUK = "Fxml2015", "87654321"
MANAGEMENT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")
PROFILE = CardProfile(
    holder_id="99000001",
    holder_name="虛構測試貿易股份有限公司",
    card_serial="TWCA-TEST-0000000001",
    carrier=Carrier.LARGE,
    pin=PIN,
    puk=PUK,
)
AES_KEY = bytes(range(16))


@dataclass
class Card:
    path: Path
    os: TwcaCardOS
    client: PivCardClient

    def power_cycle(self) -> PivCardClient:
        """Pull the card and put it back: a new session on the same image."""
        self.os = TwcaCardOS.open(self.path, key_factory=self.os.applet._key_factory)
        self.client = PivCardClient(InProcessConnection(self.os))
        self.client.select()
        return self.client


def make_card(directory: Path, profile: CardProfile = PROFILE) -> Card:
    path = directory / "card.json"
    save_image(blank_image(profile), path)
    # The card "generates" pre-made keys in turn: 1, 2, 1, ... (fast and reproducible).
    keys = itertools.cycle([fixed_key(1), fixed_key(2)])
    card_os = TwcaCardOS.open(path, key_factory=lambda: next(keys))
    client = PivCardClient(InProcessConnection(card_os))
    client.select()
    return Card(path, card_os, client)


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return make_card(tmp_path)


@pytest.fixture
def admin(card: Card) -> PivCardClient:
    """A client with the PIN verified and the management key authenticated."""
    card.client.verify_pin(PIN)
    card.client.authenticate(MANAGEMENT_KEY)
    return card.client


# -- card information -------------------------------------------------------------
def test_card_info_comes_from_the_twca_object(card: Card) -> None:
    assert card.client.card_info() == CardInfo("TWCA-TEST-0000000001", "憑證晶片卡(大卡)", "99000001", "1")


def test_small_card_says_so(tmp_path: Path) -> None:
    small = make_card(tmp_path, replace(PROFILE, carrier=Carrier.SMALL))
    assert small.client.card_info().carrier == "憑證晶片卡(小卡)"


def test_select_returns_the_application_template(card: Card) -> None:
    assert card.client.select()[:1] == b"\x61"


def test_chuid_is_readable(card: Card) -> None:
    assert card.client.get_object(Obj.CHUID)[:2] == b"\x30\x19"


# -- PIN ------------------------------------------------------------------------------
def test_wrong_pin_counts_down_and_the_right_one_resets(card: Card) -> None:
    client = card.client
    assert client.pin_tries_left() == 3
    with pytest.raises(WrongPinError) as wrong:
        client.verify_pin("Wrong123")
    assert wrong.value.tries_left == 2 and wrong.value.sw == 0x63C2
    assert client.pin_tries_left() == 2
    client.verify_pin(PIN)
    assert client.pin_status() == PinStatus(True, None)
    assert card.power_cycle().pin_tries_left() == 3


def test_wrong_tries_survive_a_power_cycle(card: Card) -> None:
    with pytest.raises(WrongPinError):
        card.client.verify_pin("Wrong123")
    assert card.power_cycle().pin_tries_left() == 2
    assert load_image(card.path).pin.tries_left == 2


def test_third_wrong_pin_blocks_and_puk_unblocks(card: Card) -> None:
    client = card.client
    for left in (2, 1, 0):
        with pytest.raises(WrongPinError) as wrong:
            client.verify_pin("Wrong123")
        assert wrong.value.tries_left == left
    assert wrong.value.blocked
    with pytest.raises(PinBlockedError) as blocked:
        client.verify_pin(PIN)
    assert blocked.value.sw == 0x6983
    assert client.pin_status() == PinStatus(False, 0)

    with pytest.raises(WrongPukError) as wrong_puk:
        client.unblock_pin("12345678", "NewPin88")
    assert wrong_puk.value.tries_left == 2
    client.unblock_pin(PUK, "NewPin88")
    assert client.pin_tries_left() == 3
    with pytest.raises(WrongPinError):
        client.verify_pin(PIN)
    client.verify_pin("NewPin88")


def test_change_pin(card: Card) -> None:
    client = card.client
    client.change_pin(PIN, "Renew023")
    with pytest.raises(WrongPinError):
        client.verify_pin(PIN)
    client.verify_pin("Renew023")
    assert load_image(card.path).pin.value == "Renew023"


def test_change_pin_with_a_wrong_old_pin_changes_nothing_but_the_counter(card: Card) -> None:
    with pytest.raises(WrongPinError) as wrong:
        card.client.change_pin("Wrong123", "Renew023")
    assert wrong.value.tries_left == 2
    image = load_image(card.path)
    assert image.pin.value == PIN and image.pin.tries_left == 2


def test_pin_outside_the_policy_never_reaches_the_card(card: Card) -> None:
    with pytest.raises(InvalidPinFormatError):
        card.client.verify_pin("12345")
    assert card.client.pin_tries_left() == 3


def test_forget_pin_ends_the_verified_state(card: Card) -> None:
    card.client.verify_pin(PIN)
    card.client.forget_pin()
    assert card.client.pin_status() == PinStatus(False, 3)


# -- management key ---------------------------------------------------------------
def test_wrong_management_key_is_refused(card: Card) -> None:
    with pytest.raises(AuthenticationError, match="refused the management key") as refused:
        card.client.authenticate(bytes(24))
    assert refused.value.sw == 0x6982
    with pytest.raises(SecurityStatusError):
        card.client.generate_key(KeyRef.SIGNATURE)


def test_aes_management_key(tmp_path: Path) -> None:
    aes = make_card(tmp_path, replace(PROFILE, management=ManagementKey(Algorithm.AES_128, AES_KEY)))
    with pytest.raises(CardError, match="not TDEA_3KEY") as refused:
        aes.client.authenticate(MANAGEMENT_KEY)
    assert refused.value.sw == 0x6A86
    aes.client.authenticate(AES_KEY, Algorithm.AES_128)
    assert aes.os.applet.management_authenticated


# -- keys, signatures, certificates -----------------------------------------------
def test_key_generation_needs_the_management_key(card: Card) -> None:
    with pytest.raises(SecurityStatusError, match="management key"):
        card.client.generate_key(KeyRef.SIGNATURE)


def test_generate_sign_and_verify(admin: PivCardClient) -> None:
    public_key = admin.generate_key(KeyRef.SIGNATURE)
    assert public_key.public_numbers() == fixed_key(1).public_key().public_numbers()
    message = "合作金庫 FXML 憑證更新".encode()
    signature = admin.sign(KeyRef.SIGNATURE, message)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    digest = hashes.Hash(hashes.SHA384())
    digest.update(message)
    signature = admin.sign_digest(KeyRef.SIGNATURE, digest.finalize(), hashes.SHA384())
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA384())


def test_a_signature_checked_with_a_given_key_proves_the_container_holds_it(card: Card) -> None:
    """``sign(..., public_key=k)`` checks the card's signature with ``k`` (the renewal
    engine's proof that the card holds the recorded key) and leaves the client's own
    idea of the container's key as it was."""
    card.client.verify_pin(PIN)
    card.client.authenticate(MANAGEMENT_KEY)
    held = card.client.generate_key(KeyRef.SIGNATURE)  # key 1
    other = fixed_key(2).public_key()
    signature = card.client.sign(KeyRef.SIGNATURE, b"challenge", public_key=held)
    held.verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(AuthenticationError, match="does not verify") as refused:
        card.client.sign(KeyRef.SIGNATURE, b"challenge", public_key=other)
    assert refused.value.sw == 0x9000
    assert card.client.public_key(KeyRef.SIGNATURE).public_numbers() == held.public_numbers()
    # An empty container: the card says so (6A88), whatever key the caller expects.
    with pytest.raises(NotFoundError, match="holds no key"):
        card.client.sign(KeyRef.AUTHENTICATION, b"challenge", public_key=held)
    with pytest.raises(NotFoundError):
        card.client.public_key(KeyRef.AUTHENTICATION)  # not taken as the container's key


def test_container_with_a_key_refuses_a_second_one(admin: PivCardClient) -> None:
    admin.generate_key(KeyRef.SIGNATURE)
    with pytest.raises(ConditionsNotSatisfiedError, match="already holds a key") as refused:
        admin.generate_key(KeyRef.SIGNATURE)
    assert refused.value.sw == 0x6985


def test_signing_needs_the_pin(card: Card) -> None:
    card.client.authenticate(MANAGEMENT_KEY)
    card.client.generate_key(KeyRef.SIGNATURE)
    with pytest.raises(SecurityStatusError, match="needs the PIN"):
        card.client.sign(KeyRef.SIGNATURE, b"x")


def test_csr_signed_by_the_card_key_verifies(admin: PivCardClient, tmp_path: Path) -> None:
    public_key = admin.generate_key(KeyRef.SIGNATURE)
    subject = name("99000001-00-2015")
    csr = build_csr(subject, public_key, lambda tbs: admin.sign(KeyRef.SIGNATURE, tbs))
    assert csr.is_signature_valid and csr.subject == subject
    assert isinstance(csr.public_key(), rsa.RSAPublicKey)
    assert openssl_verifies(csr, tmp_path)


def test_store_certificate_and_list_it_back(card: Card, admin: PivCardClient) -> None:
    assert admin.free_container() == KeyRef.AUTHENTICATION
    public_key = admin.generate_key(KeyRef.SIGNATURE)
    cert = issue(public_key)
    admin.store_certificate(KeyRef.SIGNATURE, cert)
    assert admin.list_certificates() == [CardCertificate(KeyRef.SIGNATURE, cert)]
    assert admin.certificate(KeyRef.SIGNATURE) == cert

    # A new session knows the key only through the certificate.
    client = card.power_cycle()
    assert client.list_certificates() == [CardCertificate(KeyRef.SIGNATURE, cert)]
    client.verify_pin(PIN)
    signature = client.sign(KeyRef.SIGNATURE, b"renewal")
    public_key.verify(signature, b"renewal", padding.PKCS1v15(), hashes.SHA256())


def test_both_containers_full_leaves_no_free_container(admin: PivCardClient) -> None:
    for ref in (KeyRef.AUTHENTICATION, KeyRef.SIGNATURE):
        admin.store_certificate(ref, issue(admin.generate_key(ref), cn=f"cert-{int(ref):02X}"))
    assert [entry.container for entry in admin.list_certificates()] == [KeyRef.AUTHENTICATION, KeyRef.SIGNATURE]
    assert admin.free_container() is None


def test_certificate_for_another_key_is_refused_and_not_written(card: Card, admin: PivCardClient) -> None:
    admin.generate_key(KeyRef.SIGNATURE)  # key 1
    with pytest.raises(ValueError, match="not for the key generated in container 9C"):
        admin.store_certificate(KeyRef.SIGNATURE, issue(fixed_key(2).public_key()))
    assert load_image(card.path).containers[KeyRef.SIGNATURE].certificate_der is None


def test_storing_needs_the_management_key(card: Card) -> None:
    with pytest.raises(SecurityStatusError, match="needs the management key"):
        card.client.store_certificate(KeyRef.SIGNATURE, issue(fixed_key(1).public_key()))


def test_remove_key_empties_the_container(card: Card, admin: PivCardClient) -> None:
    admin.store_certificate(KeyRef.SIGNATURE, issue(admin.generate_key(KeyRef.SIGNATURE)))
    admin.remove_key(KeyRef.SIGNATURE)
    assert admin.list_certificates() == []
    assert load_image(card.path).containers[KeyRef.SIGNATURE].empty
    with pytest.raises(NotFoundError, match="no public key known"):
        admin.sign(KeyRef.SIGNATURE, b"x")
    with pytest.raises(NotFoundError, match="already empty"):
        admin.remove_key(KeyRef.SIGNATURE)
    assert admin.generate_key(KeyRef.SIGNATURE).public_numbers() == fixed_key(2).public_key().public_numbers()


def test_remove_key_needs_the_pin_too(card: Card) -> None:
    card.client.authenticate(MANAGEMENT_KEY)
    card.client.generate_key(KeyRef.SIGNATURE)
    with pytest.raises(SecurityStatusError, match="PIN and the management key"):
        card.client.remove_key(KeyRef.SIGNATURE)


def test_extended_apdus_work_end_to_end(card: Card) -> None:
    client = PivCardClient(InProcessConnection(card.os), extended_apdus=True)
    client.verify_pin(PIN)
    client.authenticate(MANAGEMENT_KEY)
    public_key = client.generate_key(KeyRef.SIGNATURE)
    client.store_certificate(KeyRef.SIGNATURE, issue(public_key))
    assert client.certificate(KeyRef.SIGNATURE).public_key() == public_key
    client.sign(KeyRef.SIGNATURE, b"extended")


def test_no_secret_reaches_the_traffic_log(card: Card, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC)
    client = card.client
    client.verify_pin(PIN)
    client.change_pin(PIN, "Renew023")
    client.authenticate(MANAGEMENT_KEY)
    client.unblock_pin(PUK, "Again023")
    text = caplog.text
    assert "SEND" in text and "RECV" in text
    for secret in (PIN, "Renew023", PUK, "Again023"):
        assert secret.encode().hex(" ").upper() not in text
        assert secret not in text
    assert MANAGEMENT_KEY.hex(" ").upper() not in text
    assert {r.levelno for r in caplog.records} == {TRAFFIC}
    assert logging.getLevelName(TRAFFIC) == "TRAFFIC"
