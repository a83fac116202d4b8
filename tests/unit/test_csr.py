"""PKCS#10 requests signed by an external signer, checked against cryptography's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from fxml.card.csr import CsrError, build_csr, certification_request_info
from tests.support.card import fixed_key, name
from tests.support.openssl import openssl_verifies

SUBJECT = name("99000001-00-2015")


def software_signer(index: int = 1):
    key = fixed_key(index)
    return lambda tbs: key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())


def test_request_is_byte_for_byte_what_cryptography_builds_with_the_key() -> None:
    key = fixed_key(1)
    ours = build_csr(SUBJECT, key.public_key(), software_signer(1))
    theirs = x509.CertificateSigningRequestBuilder().subject_name(SUBJECT).sign(key, hashes.SHA256())
    # PKCS#1 v1.5 signatures are deterministic, so the whole DER must agree.
    assert ours.public_bytes(serialization.Encoding.DER) == theirs.public_bytes(serialization.Encoding.DER)


def test_request_carries_subject_key_and_algorithm() -> None:
    key = fixed_key(1)
    csr = build_csr(SUBJECT, key.public_key(), software_signer(1))
    assert csr.is_signature_valid
    assert csr.subject == SUBJECT
    assert csr.public_key() == key.public_key()
    assert csr.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    assert csr.tbs_certrequest_bytes == certification_request_info(SUBJECT, key.public_key())


def test_signer_sees_exactly_the_request_info() -> None:
    seen: list[bytes] = []
    key = fixed_key(1)

    def signer(tbs: bytes) -> bytes:
        seen.append(tbs)
        return software_signer(1)(tbs)

    csr = build_csr(SUBJECT, key.public_key(), signer)
    assert seen == [csr.tbs_certrequest_bytes]


def test_signature_by_another_key_is_refused() -> None:
    with pytest.raises(CsrError, match="does not verify"):
        build_csr(SUBJECT, fixed_key(1).public_key(), software_signer(2))


def test_a_signer_returning_garbage_is_refused() -> None:
    with pytest.raises(CsrError):
        build_csr(SUBJECT, fixed_key(1).public_key(), lambda tbs: b"\x00" * 256)


def test_only_rsa_keys_are_accepted() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(TypeError, match="RSA public key"):
        build_csr(SUBJECT, ec_key, software_signer(1))  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_verifies_the_request_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    csr = build_csr(SUBJECT, fixed_key(1).public_key(), software_signer(1))
    assert openssl_verifies(csr, tmp_path)
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    der[-1] ^= 0x01  # the signature's last byte
    assert not openssl_verifies(x509.load_der_x509_csr(bytes(der)), tmp_path)
