"""The card client without a card: status words to exceptions, chaining,
PKCS#1 encoding, management-key proofs and the traffic log, against scripted
exchanges."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from Crypto.Cipher import AES, DES, DES3
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from fxml.card.apdu import SW, ApduError
from fxml.card.client import CardInfo, PinStatus, PivCardClient, check_pin_format
from fxml.card.connection import TRAFFIC, LoggedConnection, describe_command
from fxml.card.crypto import ManagementCipher, pkcs1_v15_block
from fxml.card.errors import (
    AuthenticationError,
    CardError,
    ConditionsNotSatisfiedError,
    InvalidPinFormatError,
    InvalidResponseError,
    NotFoundError,
    NotSupportedError,
    PinBlockedError,
    PukBlockedError,
    SecurityStatusError,
    WrongPinError,
    WrongPukError,
    error_for_sw,
)
from fxml.card.piv import Algorithm, KeyRef, Obj
from fxml.card.tlv import tlv
from tests.support.card import ScriptedConnection, fixed_key, issue, raw_rsa

DEFAULT_KEY = bytes.fromhex("010203040506070801020304050607080102030405060708")


def h(data: bytes) -> str:
    return data.hex()


def client_for(*exchanges: tuple[str, str], **kwargs: object) -> tuple[PivCardClient, ScriptedConnection]:
    card = ScriptedConnection(*exchanges)
    return PivCardClient(card, **kwargs), card  # type: ignore[arg-type]


# -- status words -> exceptions ---------------------------------------------------
@pytest.mark.parametrize(
    ("sw", "kind"),
    [
        (0x6982, SecurityStatusError),
        (0x6983, PinBlockedError),
        (0x6A82, NotFoundError),
        (0x6A88, NotFoundError),
        (0x6985, ConditionsNotSatisfiedError),
        (0x6D00, NotSupportedError),
        (0x6E00, NotSupportedError),
        (0x6A81, NotSupportedError),
        (0x6884, NotSupportedError),
        (0x6A80, CardError),
        (0x6F00, CardError),
        (0x1234, CardError),
    ],
)
def test_status_word_maps_to_its_exception_and_keeps_the_sw(sw: int, kind: type[CardError]) -> None:
    error = error_for_sw(sw)
    assert type(error) is kind
    assert isinstance(error, ApduError)
    assert error.sw == sw
    assert f"{sw:04X}" in str(error) or kind is PinBlockedError


@pytest.mark.parametrize("left", range(16))
def test_63cx_is_a_wrong_pin_with_its_tries_left(left: int) -> None:
    error = error_for_sw(0x63C0 | left)
    assert type(error) is WrongPinError
    assert error.tries_left == left
    assert error.blocked == (left == 0)
    assert error.sw == 0x63C0 | left


def test_wrong_pin_message_counts_tries_and_says_when_it_blocks() -> None:
    assert str(error_for_sw(0x63C2)) == "wrong PIN, 2 tries left"
    assert str(error_for_sw(0x63C1)) == "wrong PIN, 1 try left"
    assert "now blocked" in str(error_for_sw(0x63C0))


def test_puk_status_words_name_the_puk() -> None:
    wrong = error_for_sw(0x63C1, reference=KeyRef.PUK)
    assert type(wrong) is WrongPukError and isinstance(wrong, WrongPinError)
    assert wrong.reference == KeyRef.PUK and "PUK" in str(wrong)
    blocked = error_for_sw(0x6983, reference=KeyRef.PUK)
    assert type(blocked) is PukBlockedError and isinstance(blocked, PinBlockedError)


def test_9000_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="9000"):
        error_for_sw(SW.OK)


# -- PIN policy, checked before anything is sent ----------------------------------
@pytest.mark.parametrize(
    "pin", ["12345", "123456789", "", "12 3456", "1234-56", "密碼123456", "１２３４５６"]  # noqa: RUF001 - full-width digits, refused
)
def test_pin_outside_the_policy_is_refused_before_sending(pin: str) -> None:
    client, card = client_for()
    with pytest.raises(InvalidPinFormatError, match="6 to 8 letters or digits"):
        client.verify_pin(pin)
    with pytest.raises(InvalidPinFormatError, match="new PIN"):
        client.change_pin("Fxml2015", pin)
    with pytest.raises(InvalidPinFormatError, match="PUK"):
        client.unblock_pin(pin, "Fxml2015")
    assert card.sent == []


@pytest.mark.parametrize("pin", ["123456", "12345678", "Fxml2015", "abcDEF"])
def test_pin_within_the_policy_is_ff_padded(pin: str) -> None:
    assert check_pin_format(pin) == pin.encode() + b"\xff" * (8 - len(pin))


def test_verify_sends_the_padded_pin_and_maps_the_answer() -> None:
    client, card = client_for(
        ("0020008008" + h(b"123456\xff\xff"), "63c2"),
        ("0020008008" + h(b"123456\xff\xff"), "6983"),
    )
    with pytest.raises(WrongPinError) as wrong:
        client.verify_pin("123456")
    assert wrong.value.tries_left == 2
    with pytest.raises(PinBlockedError):
        client.verify_pin("123456")
    assert card.done


@pytest.mark.parametrize(
    ("answer", "status"),
    [("9000", PinStatus(True, None)), ("63c2", PinStatus(False, 2)), ("6983", PinStatus(False, 0))],
)
def test_pin_status_reads_verify_without_data(answer: str, status: PinStatus) -> None:
    client, _ = client_for(("00200080", answer))
    assert client.pin_status() == status
    assert status.blocked == (status.tries_left == 0)


def test_pin_tries_left_of_a_blocked_pin_is_zero() -> None:
    client, _ = client_for(("00200080", "6983"))
    assert client.pin_tries_left() == 0


def test_unblock_with_a_wrong_puk_raises_wrong_puk() -> None:
    client, _ = client_for(("002c008010" + h(b"87654321" + b"NewPin1\xff"), "63c1"))
    with pytest.raises(WrongPukError) as wrong:
        client.unblock_pin("87654321", "NewPin1")
    assert wrong.value.tries_left == 1


# -- chaining -------------------------------------------------------------------------
INFO = tlv(0x01, b"TWCA-0001") + tlv(0x02, "憑證晶片卡(小卡)".encode()) + tlv(0x03, b"99000001") + tlv(0x04, b"1")
GET_INFO = "00cb3fff055c035fff0100"
GET_CHUID = "00cb3fff055c035fc10200"


def test_61xx_response_is_collected_with_get_response() -> None:
    whole = tlv(0x53, INFO)
    client, card = client_for((GET_INFO, h(whole[:10]) + "61" + f"{len(whole) - 10:02x}"),
                              (f"00c00000{len(whole) - 10:02x}", h(whole[10:]) + "9000"))
    assert client.card_info() == CardInfo("TWCA-0001", "憑證晶片卡(小卡)", "99000001", "1")
    assert card.done


def test_a_card_that_promises_more_data_and_sends_none_does_not_hang_the_client() -> None:
    client, card = client_for((GET_INFO, "6110"), ("00c0000010", "6110"))
    with pytest.raises(InvalidResponseError, match="GET RESPONSE with 6110 and no data") as broken:
        client.card_info()
    assert broken.value.sw == 0x6110
    assert card.done


def test_6cxx_resends_the_command_with_the_right_le() -> None:
    whole = tlv(0x53, INFO)
    client, card = client_for(
        (GET_INFO, f"6c{len(whole):02x}"), (GET_INFO[:-2] + f"{len(whole):02x}", h(whole) + "9000")
    )
    assert client.card_info().card_serial == "TWCA-0001"
    assert card.done


@pytest.mark.parametrize(
    ("sw", "name"),
    [(0x9000, "OK"), (0x6110, "MORE_DATA(16 bytes)"), (0x6C00, "WRONG_LE(256 bytes)"), (0x6C2A, "WRONG_LE(42 bytes)"),
     (0x63C2, "VERIFY_FAIL(2 tries left)"), (0x6A82, "FILE_NOT_FOUND"), (0x6F01, "UNKNOWN(6F01)")],
)
def test_status_words_are_described_with_their_families(sw: int, name: str) -> None:
    assert SW.describe(sw) == name


def test_long_command_is_chained_in_255_byte_chunks() -> None:
    content = bytes(range(256)) + bytes(44)  # 300 bytes
    data = tlv(0x5C, b"\x5f\xc1\x02") + tlv(0x53, content)  # 5 + 4 + 300 = 309 bytes
    client, card = client_for(("10db3fffff" + h(data[:255]), "9000"), ("00db3fff36" + h(data[255:]), "9000"))
    client.put_object(Obj.CHUID, content)
    assert card.done


def test_a_refused_chunk_ends_the_chain() -> None:
    data = tlv(0x5C, b"\x5f\xc1\x02") + tlv(0x53, bytes(300))
    client, card = client_for(("10db3fffff" + h(data[:255]), "6a84"))
    with pytest.raises(CardError) as refused:
        client.put_object(Obj.CHUID, bytes(300))
    assert refused.value.sw == 0x6A84 and "PUT DATA 5FC102" in str(refused.value)
    assert card.done


class TransactionCard(ScriptedConnection):
    """A scripted card that records when the client holds it (nesting like PC/SC)."""

    def __init__(self, *exchanges: tuple[str, str]):
        super().__init__(*exchanges)
        self.events: list[str] = []
        self.depth = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.events.append(f"{'held' if self.depth else 'FREE'} {apdu[:2].hex()}")
        return super().transmit(apdu)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if not self.depth:
            self.events.append("begin")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if not self.depth:
                self.events.append("end")


def test_chained_command_and_its_get_responses_run_in_one_transaction() -> None:
    data = tlv(0x5C, b"\x5f\xc1\x02") + tlv(0x53, bytes(300))
    card = TransactionCard(("10db3fffff" + h(data[:255]), "9000"), ("00db3fff36" + h(data[255:]), "6102"),
                           ("00c0000002", "abcd9000"))
    PivCardClient(card).put_object(Obj.CHUID, bytes(300))
    assert card.events == ["begin", "held 10db", "held 00db", "held 00c0", "end"]


def test_both_management_key_steps_run_in_one_transaction() -> None:
    card = TransactionCard(*auth_exchanges(h(tlv(0x7C, tlv(0x82, des(CHALLENGE)))) + "9000"))
    PivCardClient(card, random=lambda n: CHALLENGE[:n]).authenticate(DEFAULT_KEY)
    assert card.events == ["begin", "held 0087", "held 0087", "end"]


def test_extended_apdus_send_a_long_command_whole() -> None:
    data = tlv(0x5C, b"\x5f\xc1\x02") + tlv(0x53, bytes(300))
    client, card = client_for(("00db3fff000135" + h(data), "9000"), extended_apdus=True)
    client.put_object(Obj.CHUID, bytes(300))
    assert card.done


def test_extended_apdus_ask_for_a_whole_response() -> None:
    client, card = client_for(("00cb3fff0000055c035fff010000", h(tlv(0x53, INFO)) + "9000"), extended_apdus=True)
    assert client.card_info().holder_id == "99000001"
    assert card.done


# -- card information -------------------------------------------------------------
def test_card_without_twca_object_is_identified_by_its_chuid_guid() -> None:
    guid = bytes.fromhex("3c9a7c1f0e5d4b6f8a2b1c0d9e8f7a6b")
    chuid = tlv(0x30, bytes(25)) + tlv(0x34, guid) + tlv(0x35, b"20351231") + tlv(0x3E, b"") + tlv(0xFE, b"")
    client, _ = client_for((GET_INFO, "6a82"), (GET_CHUID, h(tlv(0x53, chuid)) + "9000"))
    assert client.card_info() == CardInfo(guid.hex().upper(), None, None, source=Obj.CHUID)


def test_card_with_a_zero_guid_is_identified_by_its_fasc_n() -> None:
    fascn = bytes(range(1, 26))
    chuid = tlv(0x30, fascn) + tlv(0x34, bytes(16))
    client, _ = client_for((GET_INFO, "6a80"), (GET_CHUID, h(tlv(0x53, chuid)) + "9000"))
    assert client.card_info().card_serial == fascn.hex().upper()


def test_card_with_neither_object_raises_not_found() -> None:
    client, _ = client_for((GET_INFO, "6a82"), (GET_CHUID, "6a82"))
    with pytest.raises(NotFoundError, match="5FC102"):
        client.card_info()


def test_other_refusals_of_the_twca_object_are_not_hidden() -> None:
    client, _ = client_for((GET_INFO, "6982"))
    with pytest.raises(SecurityStatusError):
        client.card_info()


def test_another_vendors_object_under_the_twca_tag_falls_back_to_the_chuid() -> None:
    # A YubiKey answers GET DATA 5FFF01 with its attestation certificate.
    attestation = issue(fixed_key(2).public_key(), cn="Yubico PIV Attestation").public_bytes(serialization.Encoding.DER)
    guid = bytes(range(16))
    client, card = client_for(
        (GET_INFO, h(tlv(0x53, tlv(0x70, attestation) + tlv(0x71, b"\x00") + tlv(0xFE, b""))) + "9000"),
        (GET_CHUID, h(tlv(0x53, tlv(0x30, bytes(25)) + tlv(0x34, guid))) + "9000"),
    )
    assert client.card_info() == CardInfo(guid.hex().upper(), None, None, source=Obj.CHUID)
    assert card.done


def test_twca_object_without_a_card_serial_is_an_invalid_response() -> None:
    client, _ = client_for((GET_INFO, h(tlv(0x53, tlv(0x02, "憑證晶片卡(大卡)".encode()))) + "9000"))
    with pytest.raises(InvalidResponseError, match="no card serial"):
        client.card_info()


def test_malformed_twca_object_is_an_invalid_response() -> None:
    client, _ = client_for((GET_INFO, "5303010501" + "9000"))
    with pytest.raises(InvalidResponseError):
        client.card_info()


# -- certificates -----------------------------------------------------------------
GET_9C = "00cb3fff055c035fc10a00"


def test_gzip_compressed_certificate_is_decompressed() -> None:
    cert = issue(fixed_key(1).public_key())
    der = cert.public_bytes(serialization.Encoding.DER)
    obj = tlv(0x70, gzip.compress(der)) + tlv(0x71, b"\x01") + tlv(0xFE, b"")
    client, _ = client_for((GET_9C, h(tlv(0x53, obj)) + "9000"))
    assert client.certificate(KeyRef.SIGNATURE) == cert


@pytest.mark.parametrize("answer", ["6a82", "53009000", "530270009000"])
def test_absent_or_emptied_certificate_is_not_found(answer: str) -> None:
    client, _ = client_for((GET_9C, answer))
    with pytest.raises(NotFoundError, match="container 9C has no certificate"):
        client.certificate(KeyRef.SIGNATURE)


def test_garbage_in_a_certificate_object_is_an_invalid_response() -> None:
    client, _ = client_for((GET_9C, h(tlv(0x53, tlv(0x70, b"not a certificate"))) + "9000"))
    with pytest.raises(InvalidResponseError, match="container 9C"):
        client.certificate(KeyRef.SIGNATURE)


def test_a_container_that_does_not_exist_is_refused_before_sending() -> None:
    client, card = client_for()
    with pytest.raises(ValueError, match="9B is not a key container"):
        client.certificate(KeyRef.MANAGEMENT)
    assert card.sent == []


# -- signatures -------------------------------------------------------------------
@pytest.mark.parametrize("algorithm", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_pkcs1_block_signed_raw_equals_cryptographys_signature(algorithm: hashes.HashAlgorithm) -> None:
    key = fixed_key(1)
    message = "合作金庫 FXML 憑證更新".encode()
    digest = hashes.Hash(algorithm)
    digest.update(message)
    block = pkcs1_v15_block(digest.finalize(), 256, algorithm)
    # PKCS#1 v1.5 is deterministic: the card's raw operation on our block
    # must give exactly the signature cryptography makes.
    assert raw_rsa(key, block) == key.sign(message, padding.PKCS1v15(), algorithm)


def test_pkcs1_block_refuses_a_digest_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="32 bytes, not 20"):
        pkcs1_v15_block(bytes(20), 256, hashes.SHA256())


def sign_exchanges(digest_block: bytes, signature: bytes) -> list[tuple[str, str]]:
    data = tlv(0x7C, tlv(0x82, b"") + tlv(0x81, digest_block))
    answer = tlv(0x7C, tlv(0x82, signature))
    return [("1087079cff" + h(data[:255]), "9000"), ("0087079c0b" + h(data[255:]) + "00", h(answer) + "9000")]


def test_signature_that_does_not_verify_raises_authentication_error() -> None:
    cert = issue(fixed_key(1).public_key())
    block = pkcs1_v15_block(hashes.Hash(hashes.SHA256()).finalize(), 256, hashes.SHA256())
    wrong = raw_rsa(fixed_key(2), block)  # the card signed with some other key
    client, card = client_for(
        (GET_9C, h(tlv(0x53, tlv(0x70, cert.public_bytes(serialization.Encoding.DER)))) + "9000"),
        *sign_exchanges(block, wrong),
    )
    with pytest.raises(AuthenticationError, match="does not verify") as failed:
        client.sign(KeyRef.SIGNATURE, b"")
    assert failed.value.sw == SW.OK
    assert card.done


def test_signature_is_checked_with_the_certificates_key() -> None:
    cert = issue(fixed_key(1).public_key())
    block = pkcs1_v15_block(hashes.Hash(hashes.SHA256()).finalize(), 256, hashes.SHA256())
    client, _ = client_for(
        (GET_9C, h(tlv(0x53, tlv(0x70, cert.public_bytes(serialization.Encoding.DER)))) + "9000"),
        *sign_exchanges(block, raw_rsa(fixed_key(1), block)),
    )
    assert client.sign(KeyRef.SIGNATURE, b"") == raw_rsa(fixed_key(1), block)


def test_signing_without_a_known_public_key_is_refused() -> None:
    client, card = client_for((GET_9C, "6a82"))
    with pytest.raises(NotFoundError, match="no public key known for container 9C"):
        client.sign(KeyRef.SIGNATURE, b"x")
    assert card.done


def test_remove_key_on_a_card_without_delete_key_is_not_supported() -> None:
    client, _ = client_for(("00e4009c", "6d00"))
    with pytest.raises(NotSupportedError, match="cannot delete keys") as refused:
        client.remove_key(KeyRef.SIGNATURE)
    assert refused.value.sw == 0x6D00


# -- management key -----------------------------------------------------------------
WITNESS = bytes.fromhex("a5a5a5a55a5a5a5a")
CHALLENGE = bytes(range(1, 9))


def des(block: bytes) -> bytes:
    # With three equal parts, 3-key TDEA is single DES under the first part.
    return DES.new(DEFAULT_KEY[:8], DES.MODE_ECB).encrypt(block)  # noqa: S304 - PIV's default; pycryptodome as a reference


def auth_exchanges(card_answer: str) -> list[tuple[str, str]]:
    step2 = tlv(0x7C, tlv(0x80, WITNESS) + tlv(0x81, CHALLENGE))
    return [
        ("0087039b047c02800000", h(tlv(0x7C, tlv(0x80, des(WITNESS)))) + "9000"),
        ("0087039b" + f"{len(step2):02x}" + h(step2) + "00", card_answer),
    ]


def test_mutual_authentication_checks_the_cards_answer() -> None:
    good = h(tlv(0x7C, tlv(0x82, des(CHALLENGE)))) + "9000"
    client, card = client_for(*auth_exchanges(good), random=lambda n: CHALLENGE[:n])
    client.authenticate(DEFAULT_KEY)
    assert card.done


def test_a_card_that_answers_the_challenge_wrongly_is_not_trusted() -> None:
    bad = h(tlv(0x7C, tlv(0x82, des(bytes(8))))) + "9000"
    client, _ = client_for(*auth_exchanges(bad), random=lambda n: CHALLENGE[:n])
    with pytest.raises(AuthenticationError, match="does not hold this key") as failed:
        client.authenticate(DEFAULT_KEY)
    assert failed.value.sw == SW.OK


def test_a_refused_management_key_is_an_authentication_error() -> None:
    client, _ = client_for(*auth_exchanges("6982"), random=lambda n: CHALLENGE[:n])
    with pytest.raises(AuthenticationError, match="refused the management key") as failed:
        client.authenticate(DEFAULT_KEY)
    assert failed.value.sw == 0x6982


def test_aes_192_management_key_of_newer_yubikeys() -> None:
    # YubiKey 5.7+ ships the well-known default key as AES-192 (algorithm 0A).
    aes = AES.new(DEFAULT_KEY, AES.MODE_ECB)
    witness, challenge = bytes(range(16)), bytes(range(16, 32))
    step2 = tlv(0x7C, tlv(0x80, witness) + tlv(0x81, challenge))
    client, card = client_for(
        ("00870a9b047c02800000", h(tlv(0x7C, tlv(0x80, aes.encrypt(witness)))) + "9000"),
        ("00870a9b" + f"{len(step2):02x}" + h(step2) + "00", h(tlv(0x7C, tlv(0x82, aes.encrypt(challenge)))) + "9000"),
        random=lambda n: challenge[:n],
    )
    client.authenticate(DEFAULT_KEY, Algorithm.AES_192)
    assert card.done


@pytest.mark.parametrize(
    ("algorithm", "length"),
    [(Algorithm.TDEA_3KEY, 16), (Algorithm.AES_128, 24), (Algorithm.AES_192, 16), (Algorithm.AES_256, 16)],
)
def test_management_key_of_the_wrong_length_is_refused_before_sending(algorithm: Algorithm, length: int) -> None:
    client, card = client_for()
    with pytest.raises(ValueError, match=f"not {length}"):
        client.authenticate(bytes(length), algorithm)
    assert card.sent == []


def test_tdea_takes_the_piv_default_key_whose_three_parts_are_equal() -> None:
    assert DEFAULT_KEY[:8] == DEFAULT_KEY[8:16] == DEFAULT_KEY[16:]
    cipher = ManagementCipher(Algorithm.TDEA_3KEY, DEFAULT_KEY)
    assert cipher.encrypt(WITNESS) == des(WITNESS)  # TDEA with k1 = k2 = k3 is single DES
    assert cipher.decrypt(des(WITNESS)) == WITNESS


def test_tdea_matches_pycryptodome_for_a_key_with_distinct_parts() -> None:
    key = bytes.fromhex("0123456789abcdef23456789abcdef01456789abcdef0123")
    block = b"witness!"
    cipher = ManagementCipher(Algorithm.TDEA_3KEY, key)
    assert cipher.encrypt(block) == DES3.new(key, DES3.MODE_ECB).encrypt(block)
    assert cipher.decrypt(cipher.encrypt(block)) == block


@pytest.mark.parametrize(
    ("algorithm", "length"), [(Algorithm.AES_128, 16), (Algorithm.AES_192, 24), (Algorithm.AES_256, 32)]
)
def test_aes_management_cipher_round_trips(algorithm: Algorithm, length: int) -> None:
    cipher = ManagementCipher(algorithm, bytes(range(length)))
    block = bytes(range(16))
    assert cipher.encrypt(block) == AES.new(bytes(range(length)), AES.MODE_ECB).encrypt(block)
    assert cipher.decrypt(cipher.encrypt(block)) == block != cipher.encrypt(block)


# -- traffic log ----------------------------------------------------------------------
def test_traffic_log_hides_the_pin(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="fxml.card.connection")
    client, _ = client_for(("0020008008" + h(b"Fxml2015"), "9000"), ("00200080", "9000"))
    client.verify_pin("Fxml2015")
    client.pin_status()
    text = caplog.text
    assert "SEND 00 20 00 80 08 **" in text
    assert "46 78 6D 6C" not in text
    assert "SEND 00 20 00 80\n" in text + "\n" and "RECV SW=9000" in text
    assert all(r.levelname == "TRAFFIC" for r in caplog.records)


def test_traffic_log_hides_management_key_exchanges_even_in_parts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="fxml.card.connection")
    witness = tlv(0x7C, tlv(0x80, des(WITNESS)))
    step2 = tlv(0x7C, tlv(0x80, WITNESS) + tlv(0x81, CHALLENGE))
    client, _ = client_for(
        ("0087039b047c02800000", h(witness[:4]) + "6106"),
        ("00c0000006", h(witness[4:]) + "9000"),
        ("0087039b16" + h(step2) + "00", h(tlv(0x7C, tlv(0x82, des(CHALLENGE)))) + "9000"),
        random=lambda n: CHALLENGE[:n],
    )
    client.authenticate(DEFAULT_KEY)
    text = caplog.text
    for secret in (des(WITNESS), WITNESS, des(CHALLENGE), CHALLENGE):
        assert secret.hex(" ").upper() not in text
    assert text.count("RECV ** SW=") == 3


def test_traffic_log_shows_ordinary_commands_whole(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(TRAFFIC, logger="fxml.card.connection")
    client, _ = client_for((GET_INFO, h(tlv(0x53, INFO)) + "9000"))
    client.card_info()
    assert "SEND 00 CB 3F FF 05 5C 03 5F FF 01 00" in caplog.text
    assert f"RECV {tlv(0x53, INFO).hex(' ').upper()} SW=9000" in caplog.text


def test_nothing_is_formatted_when_traffic_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fxml.card.connection")
    client, _ = client_for(("0020008008" + h(b"Fxml2015"), "9000"))
    client.verify_pin("Fxml2015")
    assert caplog.records == []


@pytest.mark.parametrize(
    ("apdu", "shown"),
    [
        ("002400801031323334353637383132333435363738", "00 24 00 80 10 **"),
        ("002c00801031323334353637383132333435363738", "00 2C 00 80 10 **"),
        ("0020008000000831323334353637380000", "00 20 00 80 00 00 08 ** 00 00"),
        ("00200080083132", "00 20 00 80 **"),  # malformed: everything after the header
        ("00879c07", "00 87 9C 07"),
        # YubiKey SET MANAGEMENT KEY (FF) and IMPORT ASYMMETRIC KEY (FE)
        ("00ffffff1b039b18" + DEFAULT_KEY.hex(), "00 FF FF FF 1B **"),
        ("00fe079a0a01" + "08" + "0102030405060708", "00 FE 07 9A 0A **"),
    ],
)
def test_describe_command_redacts_secret_data_fields(apdu: str, shown: str) -> None:
    assert describe_command(bytes.fromhex(apdu)) == shown


def test_logged_connection_passes_other_attributes_through() -> None:
    card = ScriptedConnection()
    card.atr = b"\x3b\x00"  # type: ignore[attr-defined]
    assert LoggedConnection(card).atr == b"\x3b\x00"
