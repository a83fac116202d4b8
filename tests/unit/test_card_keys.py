"""Management key, on-card key generation, signatures, certificate objects and
DELETE KEY: the commands of a renewal."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from Crypto.Cipher import DES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from fxml.card.piv import Algorithm, Obj
from fxml.card.tlv import parse_tlv, tlv, unpack
from simulator.card.image import ManagementKey
from simulator.card.keys import encrypt_block
from tests.support.card import fixed_key, issue
from tests.support.card_os import MANAGEMENT_KEY, PROFILE, Card, public_key_of
from tests.support.keys import rsa_private


@pytest.fixture
def card(tmp_path: Path) -> Card:
    return Card(tmp_path / "card.json")


@pytest.fixture
def admin(card: Card) -> Card:
    assert card.admin().sw == 0x9000
    return card


def pkcs1_block(message: bytes, size: int = 256) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(message)
    info = bytes.fromhex("3031300d060960864801650304020105000420") + digest.finalize()
    return b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info


def cert_object(der: bytes) -> bytes:
    return tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b"")


# -- management key ------------------------------------------------------------------
def test_challenge_response_authenticates(card: Card) -> None:
    assert card.admin().sw == 0x9000
    assert card.os.applet.management_authenticated


def test_wrong_management_key_is_6982(card: Card) -> None:
    assert card.admin(key=bytes(24)).sw == 0x6982
    assert not card.os.applet.management_authenticated


@pytest.mark.parametrize(
    ("p1", "data"),
    [(0x08, tlv(0x7C, tlv(0x81, b""))), (0x03, b"\x7c\x05"), (0x03, tlv(0x7C, tlv(0x85, b"")))],
    ids=["wrong-algorithm", "malformed-template", "unknown-step"],
)
def test_any_refused_management_attempt_drops_the_authentication(admin: Card, p1: int, data: bytes) -> None:
    assert admin.cmd(0x87, p1, 0x9B, data).sw in (0x6A86, 0x6A80)
    assert not admin.os.applet.management_authenticated
    assert admin.put_data(Obj.KEY_HISTORY, tlv(0xC1, b"\x00")).sw == 0x6982


def test_mutual_authentication(card: Card) -> None:
    r = card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, b"")))
    encrypted = parse_tlv(unpack(0x7C, r.data))[0x80]
    # The default key is k1 = k2 = k3: single DES; pycryptodome as an independent reference.
    witness = DES.new(MANAGEMENT_KEY[:8], DES.MODE_ECB).decrypt(encrypted)  # noqa: S304 - PIV's default key
    challenge = b"hostchal"
    r = card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, witness) + tlv(0x81, challenge)))
    assert r.sw == 0x9000
    assert parse_tlv(unpack(0x7C, r.data))[0x82] == encrypt_block(Algorithm.TDEA_3KEY, MANAGEMENT_KEY, challenge)
    assert card.os.applet.management_authenticated


def test_mutual_authentication_with_wrong_witness_is_6982(card: Card) -> None:
    card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, b"")))
    r = card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, bytes(8)) + tlv(0x81, b"hostchal")))
    assert r.sw == 0x6982 and not card.os.applet.management_authenticated


def test_another_command_between_the_steps_cancels_the_challenge(card: Card) -> None:
    r = card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x81, b"")))
    challenge = parse_tlv(unpack(0x7C, r.data))[0x81]
    card.send("00CB3FFF035C017E")
    r = card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, encrypt_block(Algorithm.TDEA_3KEY, MANAGEMENT_KEY, challenge))))
    assert r.sw == 0x6985 and not card.os.applet.management_authenticated


def test_management_p1_must_match_the_stored_algorithm(card: Card) -> None:
    assert card.cmd(0x87, 0x08, 0x9B, tlv(0x7C, tlv(0x81, b""))).sw == 0x6A86
    assert card.cmd(0x87, 0x0C, 0x9B, tlv(0x7C, tlv(0x81, b""))).sw == 0x6A86


def test_management_p1_00_is_the_deprecated_name_of_3des(card: Card) -> None:
    # SP 800-78 identifies 3-key TDEA by 03 and, deprecated, by 00 (OpenSC's
    # PIV driver asks for random bytes that way): the whole exchange works.
    r = card.cmd(0x87, 0x00, 0x9B, tlv(0x7C, tlv(0x81, b"")))
    challenge = parse_tlv(unpack(0x7C, r.data))[0x81]
    assert (r.sw, len(challenge)) == (0x9000, 8)
    response = encrypt_block(Algorithm.TDEA_3KEY, MANAGEMENT_KEY, challenge)
    assert card.cmd(0x87, 0x00, 0x9B, tlv(0x7C, tlv(0x82, response))).sw == 0x9000
    assert card.os.applet.management_authenticated


@pytest.mark.parametrize(("alg", "key"), [(Algorithm.AES_128, bytes(range(16))), (Algorithm.AES_256, bytes(range(32)))])
def test_aes_management_keys(tmp_path: Path, alg: Algorithm, key: bytes) -> None:
    card = Card(tmp_path / "aes.json", replace(PROFILE, management=ManagementKey(alg, key)))
    r = card.cmd(0x87, alg, 0x9B, tlv(0x7C, tlv(0x81, b"")))
    assert len(parse_tlv(unpack(0x7C, r.data))[0x81]) == 16
    assert card.admin(key=key, alg=alg).sw == 0x9000
    assert card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x81, b""))).sw == 0x6A86
    assert card.cmd(0x87, 0x00, 0x9B, tlv(0x7C, tlv(0x81, b""))).sw == 0x6A86  # 00 names 3DES only


@pytest.mark.parametrize(
    "data",
    [b"", b"\x7c\x00", tlv(0x7C, tlv(0x83, b"")), b"\x7c\x05\x81\x00", tlv(0x7C, tlv(0x81, b"") + tlv(0x81, b""))],
)
def test_malformed_management_template_is_6a80(card: Card, data: bytes) -> None:
    assert card.cmd(0x87, 0x03, 0x9B, data).sw == 0x6A80


def test_response_without_challenge_is_6985(card: Card) -> None:
    assert card.cmd(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, bytes(8)))).sw == 0x6985


def test_power_down_clears_management_authentication(admin: Card) -> None:
    admin.os.powerDown()
    admin.os.powerUp()
    assert admin.generate(0x9A).sw == 0x6982


# -- GENERATE ASYMMETRIC KEY PAIR ------------------------------------------------------
def test_generate_returns_public_key_and_stores_private_key(admin: Card) -> None:
    r = admin.generate(0x9A)
    assert r.sw == 0x9000
    assert r.data[:5] == bytes.fromhex("7F49820109") and len(r.data) == 5 + 0x109
    pub = public_key_of(r)
    assert pub.key_size == 2048 and pub.public_numbers().e == 65537
    pem = admin.image.containers[0x9A].private_key_pem
    assert pem is not None and "PRIVATE KEY" in pem
    stored = rsa_private(serialization.load_pem_private_key(pem.encode(), None))
    assert stored.public_key().public_numbers() == pub.public_numbers()


def test_generate_answers_in_61xx_parts_to_a_short_le(admin: Card) -> None:
    r = admin.cmd(0x47, 0x00, 0x9C, tlv(0xAC, tlv(0x80, b"\x07")), le=256)
    assert len(r.data) == 256 and r.sw == 0x610E
    rest = admin.cmd(0xC0, 0x00, 0x00, le=0x0E)
    assert len(rest.data) == 14 and rest.sw == 0x9000


def test_generate_needs_management_key(card: Card) -> None:
    card.verify()
    assert card.generate(0x9A).sw == 0x6982
    assert card.image.containers[0x9A].private_key_pem is None


def test_generate_into_occupied_container_is_6985(admin: Card) -> None:
    first = admin.generate(0x9A)
    assert admin.generate(0x9A).sw == 0x6985
    assert public_key_of(first).public_numbers() == admin.private_key(0x9A).public_key().public_numbers()


@pytest.mark.parametrize("alg", [b"\x06", b"\x11", b"\x14", b"\x03"])
def test_generate_other_algorithm_is_6a80(admin: Card, alg: bytes) -> None:
    assert admin.whole(0x47, 0x00, 0x9A, tlv(0xAC, tlv(0x80, alg))).sw == 0x6A80


@pytest.mark.parametrize("data", [b"", tlv(0xAC, b""), tlv(0xAB, tlv(0x80, b"\x07")), b"\xac\x03\x80\x01"])
def test_generate_malformed_template_is_6a80(admin: Card, data: bytes) -> None:
    assert admin.whole(0x47, 0x00, 0x9A, data).sw == 0x6A80


@pytest.mark.parametrize(("p1", "p2"), [(0x00, 0x9D), (0x00, 0x9E), (0x00, 0x9B), (0x01, 0x9A)])
def test_generate_other_key_reference_or_p1_is_6a86(admin: Card, p1: int, p2: int) -> None:
    assert admin.whole(0x47, p1, p2, tlv(0xAC, tlv(0x80, b"\x07"))).sw == 0x6A86


def test_no_apdu_returns_the_private_key(admin: Card) -> None:
    admin.generate(0x9A)
    admin.verify()
    key = admin.private_key(0x9A)
    secrets = [key.private_numbers().d, key.private_numbers().p, key.private_numbers().q]
    secret_bytes = [s.to_bytes((s.bit_length() + 7) // 8, "big") for s in secrets]
    for tag in (Obj.CERT_9A, Obj.CHUID, Obj.TWCA_CARD_INFO, Obj.DISCOVERY, 0x5FC10C, 0x9A):
        data = admin.get_data(tag).data
        assert not any(s in data for s in secret_bytes)


# -- signing ----------------------------------------------------------------------------
def test_sign_with_pin_verifies_under_pkcs1(admin: Card) -> None:
    pub = public_key_of(admin.generate(0x9C))
    admin.verify()
    r = admin.sign(0x9C, pkcs1_block(b"FXML renewal"))
    assert r.sw == 0x9000 and r.data[:8] == bytes.fromhex("7C82010482820100")
    signature = parse_tlv(unpack(0x7C, r.data))[0x82]
    pub.verify(signature, b"FXML renewal", padding.PKCS1v15(), hashes.SHA256())


def test_sign_needs_pin(admin: Card) -> None:
    admin.generate(0x9A)
    assert admin.sign(0x9A, pkcs1_block(b"x")).sw == 0x6982


def test_sign_with_empty_container_is_6a88(card: Card) -> None:
    card.verify()
    assert card.sign(0x9C, pkcs1_block(b"x")).sw == 0x6A88


@pytest.mark.parametrize("block", [b"\x00" * 255, b"\x00" * 257, b"\xff" * 256])
def test_sign_input_not_256_bytes_below_modulus_is_6a80(admin: Card, block: bytes) -> None:
    admin.generate(0x9A)
    admin.verify()
    assert admin.sign(0x9A, block).sw == 0x6A80


def test_sign_wrong_p1_is_6a86(admin: Card) -> None:
    admin.generate(0x9A)
    admin.verify()
    assert admin.whole(0x87, 0x06, 0x9A, tlv(0x7C, tlv(0x82, b"") + tlv(0x81, pkcs1_block(b"x")))).sw == 0x6A86


def test_sign_malformed_template_is_6a80(admin: Card) -> None:
    admin.generate(0x9A)
    admin.verify()
    assert admin.whole(0x87, 0x07, 0x9A, tlv(0x7C, tlv(0x81, pkcs1_block(b"x")))).sw == 0x6A80


def test_sign_keys_survive_reopening(admin: Card) -> None:
    pub = public_key_of(admin.generate(0x9A))
    admin.reopen()
    admin.verify()
    signature = parse_tlv(unpack(0x7C, admin.sign(0x9A, pkcs1_block(b"m")).data))[0x82]
    pub.verify(signature, b"m", padding.PKCS1v15(), hashes.SHA256())


# -- PUT DATA ------------------------------------------------------------------------------
def test_put_certificate_and_read_it_back(admin: Card) -> None:
    cert = issue(public_key_of(admin.generate(0x9A)))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert admin.put_data(Obj.CERT_9A, cert_object(der)).sw == 0x9000
    r = admin.get_data(Obj.CERT_9A)
    assert parse_tlv(unpack(0x53, r.data)) == {0x70: der, 0x71: b"\x00", 0xFE: b""}
    assert list(admin.image.certificates()) == [cert]
    assert "BEGIN CERTIFICATE" in json.loads(admin.path.read_text())["containers"]["9A"]["certificate"]


def test_put_data_needs_management_key(card: Card) -> None:
    card.verify()
    assert card.put_data(Obj.CHUID, tlv(0x34, bytes(16))).sw == 0x6982


def test_put_certificate_for_a_different_key_is_accepted(admin: Card) -> None:
    cert = issue(fixed_key(3).public_key())
    assert admin.put_data(Obj.CERT_9C, cert_object(cert.public_bytes(serialization.Encoding.DER))).sw == 0x9000


def test_empty_53_deletes_the_object(admin: Card) -> None:
    cert = issue(public_key_of(admin.generate(0x9A)))
    admin.put_data(Obj.CERT_9A, cert_object(cert.public_bytes(serialization.Encoding.DER)))
    assert admin.put_data(Obj.CERT_9A, b"").sw == 0x9000
    assert admin.get_data(Obj.CERT_9A).sw == 0x6A82
    assert admin.image.containers[0x9A].private_key_pem is not None  # the key stays


def test_put_chuid(admin: Card) -> None:
    content = tlv(0x34, bytes(range(16))) + tlv(0x35, b"20301231") + tlv(0xFE, b"")
    assert admin.put_data(Obj.CHUID, content).sw == 0x9000
    assert admin.get_data(Obj.CHUID).data == tlv(0x53, content)


@pytest.mark.parametrize(
    "content",
    [tlv(0x70, b"not a certificate"), tlv(0x71, b"\x00"), tlv(0x70, b"x") + tlv(0x71, b"\x01"), b"\x70\x05ab"],
)
def test_put_bad_certificate_object_is_6a80(admin: Card, content: bytes) -> None:
    assert admin.put_data(Obj.CERT_9A, content).sw == 0x6A80


@pytest.mark.parametrize("data", ["5C035FC102", "5301005C035FC102", "5C035FC1025301", "5C045FC102015300"])
def test_put_data_malformed_is_6a80(admin: Card, data: str) -> None:
    assert admin.whole(0xDB, 0x3F, 0xFF, bytes.fromhex(data), le=None).sw == 0x6A80


def test_put_data_read_only_and_unknown_objects(admin: Card) -> None:
    assert admin.put_data(Obj.TWCA_CARD_INFO, tlv(0x01, b"x")).sw == 0x6986
    assert admin.put_data(0x5FC109, tlv(0x01, b"x")).sw == 0x6A82


def test_put_data_wrong_p1p2_is_6a86(admin: Card) -> None:
    assert admin.cmd(0xDB, 0x3F, 0x00, tlv(0x5C, bytes.fromhex("5FC102")) + tlv(0x53, b"")).sw == 0x6A86


# -- DELETE KEY and the two-container renewal --------------------------------------------
def test_renewal_keeps_the_current_key_usable_until_explicit_delete(admin: Card) -> None:
    old_pub = public_key_of(admin.generate(0x9A))
    admin.put_data(Obj.CERT_9A, cert_object(issue(old_pub).public_bytes(serialization.Encoding.DER)))
    admin.verify()
    new_pub = public_key_of(admin.generate(0x9C))
    new_cert = issue(new_pub, cn="99000001-00-2023")
    admin.put_data(Obj.CERT_9C, cert_object(new_cert.public_bytes(serialization.Encoding.DER)))
    for ref, pub in ((0x9A, old_pub), (0x9C, new_pub)):
        sig = parse_tlv(unpack(0x7C, admin.sign(ref, pkcs1_block(b"both")).data))[0x82]
        pub.verify(sig, b"both", padding.PKCS1v15(), hashes.SHA256())
    assert admin.cmd(0xE4, 0x00, 0x9A).sw == 0x9000
    assert admin.get_data(Obj.CERT_9A).sw == 0x6A82
    assert admin.sign(0x9A, pkcs1_block(b"x")).sw == 0x6A88
    assert admin.image.containers[0x9A].empty
    assert admin.sign(0x9C, pkcs1_block(b"x")).sw == 0x9000


def test_delete_key_needs_pin_and_management_key(admin: Card) -> None:
    admin.generate(0x9A)
    assert admin.cmd(0xE4, 0x00, 0x9A).sw == 0x6982  # management key only
    admin.os.reset()
    admin.verify()
    assert admin.cmd(0xE4, 0x00, 0x9A).sw == 0x6982  # PIN only
    assert admin.image.containers[0x9A].private_key_pem is not None


def test_delete_key_rules(admin: Card) -> None:
    admin.verify()
    assert admin.cmd(0xE4, 0x00, 0x9C).sw == 0x6A88  # empty
    assert admin.cmd(0xE4, 0x00, 0x9B).sw == 0x6A86
    assert admin.cmd(0xE4, 0x01, 0x9A).sw == 0x6A86
    admin.generate(0x9A)
    assert admin.cmd(0xE4, 0x00, 0x9A, b"\x00").sw == 0x6700
