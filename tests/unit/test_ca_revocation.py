"""CRL and OCSP answers of the CA, read back with pyca/cryptography (openssl reads
them in tests/integration/test_ca_openssl.py)."""

# OCSP names certificates by SHA-1 hashes of the issuer's name and key (RFC 6960, RFC 5019).
# ruff: noqa: S303

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from fxml.clock import TAIWAN, FixedClock
from simulator.ca.service import CertificateAuthority, IssuedCertificate
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, make_csr
from tests.support.keys import rsa_public

DER = serialization.Encoding.DER
NOW = datetime(2023, 4, 17, 11, 28, 33, tzinfo=TAIWAN)


@pytest.fixture
def clock() -> FixedClock:
    """The CA of these tests stands on the proof sheet's renewal instant."""
    return FixedClock(NOW)


@pytest.fixture
def three(ca: CertificateAuthority, keys: KeyCache) -> list[IssuedCertificate]:
    subject = ca.subject_for(HOLDER_ID, CN_SUFFIX)
    return [ca.apply(f"r{i}", HOLDER_ID, make_csr(keys.rsa(f"holder-{i}"), subject)) for i in (1, 2, 3)]


def load_crl(ca: CertificateAuthority) -> x509.CertificateRevocationList:
    crl = x509.load_der_x509_crl(ca.crl_der())
    assert crl.is_signature_valid(ca.issuer_certificate.public_key())  # type: ignore[arg-type]
    return crl


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def reason(crl: x509.CertificateRevocationList, serial: str) -> x509.ReasonFlags | None:
    entry = crl.get_revoked_certificate_by_serial_number(int(serial, 16))
    if entry is None:
        return None
    return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason


def test_crl_lists_revoked_and_suspended_certificates(
    ca: CertificateAuthority, three: list[IssuedCertificate], clock: FixedClock
) -> None:
    good, revoked, held = three
    assert len(load_crl(ca)) == 0
    clock.advance(timedelta(minutes=1))
    ca.revoke(revoked.serial, "keyCompromise")
    ca.suspend(held.serial)
    crl = load_crl(ca)
    assert crl.issuer == ca.issuer_certificate.subject
    assert crl.last_update_utc == clock.now() and crl.next_update_utc == clock.now() + timedelta(hours=24)
    assert reason(crl, good.serial) is None
    assert reason(crl, revoked.serial) is x509.ReasonFlags.key_compromise
    assert reason(crl, held.serial) is x509.ReasonFlags.certificate_hold
    entry = crl.get_revoked_certificate_by_serial_number(int(revoked.serial, 16))
    assert entry is not None and entry.revocation_date_utc == clock.now()
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == x509.SubjectKeyIdentifier.from_public_key(ca.issuer_certificate.public_key()).digest


def test_lifting_a_suspension_drops_it_from_the_next_crl_and_numbers_increase(
    ca: CertificateAuthority, three: list[IssuedCertificate]
) -> None:
    held = three[2]
    ca.suspend(held.serial)
    first = load_crl(ca)
    assert load_crl(ca).public_bytes(DER) == first.public_bytes(DER)  # nothing changed: the same signed CRL
    ca.resume(held.serial)
    second = load_crl(ca)
    assert reason(second, held.serial) is None
    assert crl_number(second) > crl_number(first)


def test_crl_is_signed_anew_when_it_is_old(ca: CertificateAuthority, three: list, clock: FixedClock) -> None:
    first = load_crl(ca)
    clock.advance(timedelta(seconds=ca.config.crl_refresh_seconds))
    assert load_crl(ca).last_update_utc == first.last_update_utc + timedelta(seconds=ca.config.crl_refresh_seconds)


# -- OCSP -------------------------------------------------------------------------------------------
def ask(ca: CertificateAuthority, serial: str, *, nonce: bytes | None = None,
        algorithm: hashes.HashAlgorithm | None = None) -> ocsp.OCSPResponse:
    cert = ca.lookup(serial).certificate
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuer_certificate, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    der = builder.build().public_bytes(DER)
    response = ocsp.load_der_ocsp_response(ca.ocsp_response(der))
    if response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL:
        assert response.signature_hash_algorithm is not None
        rsa_public(ca.issuer_certificate.public_key()).verify(
            response.signature, response.tbs_response_bytes, padding.PKCS1v15(), response.signature_hash_algorithm
        )
        assert response.responder_key_hash == x509.SubjectKeyIdentifier.from_public_key(
            ca.issuer_certificate.public_key()).digest
    return response


def test_ocsp_good_revoked_and_on_hold(ca: CertificateAuthority, three: list[IssuedCertificate],
                                       clock: FixedClock) -> None:
    good, revoked, held = three
    ca.revoke(revoked.serial, "affiliationChanged")
    ca.suspend(held.serial)
    answer = ask(ca, good.serial)
    assert answer.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert answer.serial_number == int(good.serial, 16)
    assert answer.this_update_utc == clock.now() and answer.next_update_utc == clock.now() + timedelta(hours=1)
    r = ask(ca, revoked.serial)
    assert r.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert r.revocation_reason is x509.ReasonFlags.affiliation_changed and r.revocation_time_utc == clock.now()
    h = ask(ca, held.serial)
    assert h.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert h.revocation_reason is x509.ReasonFlags.certificate_hold
    ca.resume(held.serial)
    assert ask(ca, held.serial).certificate_status is ocsp.OCSPCertStatus.GOOD


def test_ocsp_echoes_the_nonce_and_supports_sha256_cert_ids(ca: CertificateAuthority, three: list) -> None:
    answer = ask(ca, three[0].serial, nonce=b"\x01" * 16, algorithm=hashes.SHA256())
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"\x01" * 16
    assert isinstance(answer.hash_algorithm, hashes.SHA256)


def test_ocsp_unknown_serial_unauthorized_issuer_and_malformed_request(
    ca: CertificateAuthority, keys: KeyCache, three: list
) -> None:
    foreign = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        b"\x11" * 20, b"\x00" * 20, 12345, hashes.SHA1(),  # hashes of a CA this responder does not serve
    ).build().public_bytes(DER)
    assert ocsp.load_der_ocsp_response(ca.ocsp_response(foreign)).response_status is (
        ocsp.OCSPResponseStatus.UNAUTHORIZED)
    assert ocsp.load_der_ocsp_response(ca.ocsp_response(b"\x30\x00")).response_status is (
        ocsp.OCSPResponseStatus.MALFORMED_REQUEST)

    cert = ca.lookup(three[0].serial).certificate
    ours = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuer_certificate, hashes.SHA1()).build()
    unknown = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        ours.issuer_name_hash, ours.issuer_key_hash, 0x7777, hashes.SHA1()
    ).build().public_bytes(DER)
    answer = ocsp.load_der_ocsp_response(ca.ocsp_response(unknown))
    assert answer.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_ocsp_answers_without_nonce_are_cached_until_a_status_changes(
    ca: CertificateAuthority, three: list[IssuedCertificate], clock: FixedClock
) -> None:
    cert = ca.lookup(three[0].serial).certificate
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuer_certificate, hashes.SHA1()).build().public_bytes(
        DER)
    assert ca.ocsp_cached(der) is None  # not signed yet
    first = ca.ocsp_response(der)
    assert ca.ocsp_cached(der) == first == ca.ocsp_response(der)
    ca.suspend(three[0].serial)
    assert ca.ocsp_cached(der) is None
    held = ocsp.load_der_ocsp_response(ca.ocsp_response(der))
    assert held.certificate_status is ocsp.OCSPCertStatus.REVOKED
    clock.advance(timedelta(seconds=ca.config.ocsp_cache_seconds))
    assert ca.ocsp_cached(der) is None  # too old


@pytest.mark.parametrize("nonce", [None, b"\x02" * 16], ids=["no_nonce", "nonce"])
def test_ocsp_produced_at_comes_from_the_cas_clock(
    ca: CertificateAuthority, three: list[IssuedCertificate], clock: FixedClock, tmp_path: Path,
    nonce: bytes | None,
) -> None:
    # The frozen clock stands in 2023; the library would stamp the machine's time.
    ca.suspend(three[1].serial)
    clock.advance(timedelta(minutes=3))
    for serial, status in ((three[0].serial, ocsp.OCSPCertStatus.GOOD), (three[1].serial, ocsp.OCSPCertStatus.REVOKED)):
        answer = ask(ca, serial, nonce=nonce)  # the signature is checked over the re-stamped data
        assert answer.certificate_status is status
        assert answer.produced_at_utc == answer.this_update_utc == clock.now()
    if shutil.which("openssl"):
        cert = ca.lookup(three[0].serial).certificate
        der = ocsp.OCSPRequestBuilder().add_certificate(cert, ca.issuer_certificate, hashes.SHA1()).build()
        (tmp_path / "resp.der").write_bytes(ca.ocsp_response(der.public_bytes(DER)))
        (tmp_path / "issuer.pem").write_bytes(ca.issuer_certificate.public_bytes(serialization.Encoding.PEM))
        done = subprocess.run(["openssl", "ocsp", "-respin", tmp_path / "resp.der", "-VAfile", tmp_path / "issuer.pem",
                               "-resp_text"], capture_output=True, text=True, timeout=30)
        assert "Response verify OK" in done.stdout + done.stderr, done.stdout + done.stderr
        assert "Produced At: Apr 17 03:31:33 2023 GMT" in done.stdout


def test_unspecified_revocation_carries_no_reason_code(
    ca: CertificateAuthority, three: list[IssuedCertificate]
) -> None:
    # RFC 5280 5.3.1: the reason code SHOULD be absent rather than unspecified (0).
    ca.revoke(three[0].serial)  # the default reason
    ca.revoke(three[1].serial, "superseded")
    crl = load_crl(ca)
    plain = crl.get_revoked_certificate_by_serial_number(int(three[0].serial, 16))
    assert plain is not None and len(plain.extensions) == 0
    assert reason(crl, three[1].serial) is x509.ReasonFlags.superseded
    answer = ask(ca, three[0].serial)
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED and answer.revocation_reason is None
    assert ask(ca, three[1].serial).revocation_reason is x509.ReasonFlags.superseded
