"""The FXML certificate profile, the CA hierarchy and the dates the CA computes."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, SignatureAlgorithmOID

from fxml.clock import TAIWAN, FixedClock
from fxml.display import display_name, roc_date, taiwan_text
from simulator.ca.config import CaConfig, ConfigError
from simulator.ca.errors import StateError
from simulator.ca.hierarchy import FILES, ensure_hierarchy
from simulator.ca.profile import (
    FXML,
    ISSUER_NAME,
    ServiceUrls,
    add_years,
    build_name,
    parse_serial,
    serial_hex,
)
from simulator.ca.service import CertificateAuthority
from simulator.ca.testing import CN_SUFFIX, HOLDER_ID, KeyCache, make_csr, open_test_ca
from tests.support.ca import FIRST_ISSUE

ISSUED_AT = FIRST_ISSUE  # the instant of the ``ca`` fixture's clock


@pytest.fixture
def issued(ca: CertificateAuthority, keys: KeyCache) -> x509.Certificate:
    csr = make_csr(keys.rsa("holder-1"), ca.subject_for(HOLDER_ID, CN_SUFFIX))
    return ca.apply("profile-1", HOLDER_ID, csr).certificate


# -- names ---------------------------------------------------------------------------
def test_subject_is_the_proof_sheets_layout_for_taiwan_cooperative_bank(issued: x509.Certificate) -> None:
    oids = [(a.oid, a.value) for a in issued.subject]
    assert oids == [
        (NameOID.COUNTRY_NAME, "TW"),
        (NameOID.ORGANIZATION_NAME, "Finance"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "TWCA Financial User CA"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "0060000-Taiwan Cooperative Bank"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "FXML"),
        (NameOID.COMMON_NAME, "99000001-00-2015"),
    ]
    assert all(len(rdn) == 1 for rdn in issued.subject.rdns)
    assert display_name(issued.subject) == (
        "C=TW O=Finance OU=TWCA Financial User CA OU=0060000-Taiwan Cooperative Bank OU=FXML CN=99000001-00-2015"
    )


def test_issuer_is_exactly_the_proof_sheets_issuer(issued: x509.Certificate, ca: CertificateAuthority) -> None:
    assert display_name(issued.issuer) == "C=TW O=TWCA OU=User CA CN=TWCA Financial User CA"
    assert issued.issuer == build_name(ISSUER_NAME) == ca.issuer_certificate.subject
    assert issued.issuer.rfc4514_string() == "CN=TWCA Financial User CA,OU=User CA,O=TWCA,C=TW"


def test_root_is_marked_as_a_simulation(ca: CertificateAuthority) -> None:
    root = display_name(ca.root_certificate.subject)
    assert "SIMULATION" in root and "TWCA Root" in root and "O=fxmlsim" in root
    assert ca.root_certificate.subject != ca.issuer_certificate.subject


def test_other_bank_and_branch_in_the_subject(ca: CertificateAuthority) -> None:
    ca.register_holder("12345678", "另一家公司", "01", branch_code="0120345", bank_name="Example Bank")
    subject = display_name(ca.subject_for("12345678", "01"))
    assert subject == "C=TW O=Finance OU=TWCA Financial User CA OU=0120345-Example Bank OU=FXML CN=12345678-00-01"


# -- extensions, keys, algorithms, serials ----------------------------------------------
def test_algorithms_and_key(issued: x509.Certificate) -> None:
    assert issued.signature_algorithm_oid == SignatureAlgorithmOID.RSA_WITH_SHA256
    assert isinstance(issued.signature_hash_algorithm, hashes.SHA256)
    assert issued.public_key().key_size == 2048  # type: ignore[union-attr]
    assert issued.version == x509.Version.v3


def test_key_usage_is_digital_signature_and_non_repudiation_critical(issued: x509.Certificate) -> None:
    ext = issued.extensions.get_extension_for_class(x509.KeyUsage)
    assert ext.critical
    ku = ext.value
    assert ku.digital_signature and ku.content_commitment
    assert not (ku.key_encipherment or ku.data_encipherment or ku.key_agreement or ku.key_cert_sign or ku.crl_sign)


def test_key_identifiers(issued: x509.Certificate, ca: CertificateAuthority) -> None:
    ski = issued.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(issued.public_key())
    aki = issued.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    issuer_ski = ca.issuer_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == issuer_ski.digest


def test_crl_distribution_point_and_aia_point_at_the_service(
    issued: x509.Certificate, ca: CertificateAuthority
) -> None:
    base = ca.base_url
    dp = issued.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for n in dp[0].full_name] == [f"{base}/crl/TWCA-Financial-User-CA.crl"]
    aia = issued.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    by_method = {d.access_method: d.access_location.value for d in aia}
    assert by_method == {
        AuthorityInformationAccessOID.OCSP: f"{base}/ocsp",
        AuthorityInformationAccessOID.CA_ISSUERS: f"{base}/ca/TWCA-Financial-User-CA.cer",
    }


def test_base_url_set_by_a_service_is_used_by_the_next_open(tmp_path: Path, keys: KeyCache) -> None:
    with open_test_ca(tmp_path / "ca", keys, FixedClock(ISSUED_AT)) as ca:
        assert ca.base_url == "http://127.0.0.1:8470"  # nothing served yet: the documented default
        ca.set_base_url("http://127.0.0.1:40001/")
    with open_test_ca(tmp_path / "ca", keys, FixedClock(ISSUED_AT)) as again:
        assert again.base_url == "http://127.0.0.1:40001"
        csr = make_csr(keys.rsa("holder-1"), again.subject_for(HOLDER_ID, CN_SUFFIX))
        cert = again.apply("base-url", HOLDER_ID, csr).certificate
        dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert dp[0].full_name[0].value == "http://127.0.0.1:40001/crl/TWCA-Financial-User-CA.crl"
    config = CaConfig(base_url="http://127.0.0.1:9999")
    with open_test_ca(tmp_path / "ca", keys, FixedClock(ISSUED_AT), config=config) as configured:
        assert configured.urls == ServiceUrls("http://127.0.0.1:9999")


def test_serials_are_random_unique_at_least_64_bits_and_shown_as_uppercase_hex(
    ca: CertificateAuthority, keys: KeyCache
) -> None:
    csr = make_csr(keys.rsa("holder-1"), ca.subject_for(HOLDER_ID, CN_SUFFIX))
    records = [ca.apply(f"serial-{i}", HOLDER_ID, csr) for i in range(20)]
    serials = [r.certificate.serial_number for r in records]
    assert len(set(serials)) == 20
    assert all(s.bit_length() >= 64 for s in serials)
    assert all(r.serial == f"{r.certificate.serial_number:X}" and r.serial.upper() == r.serial for r in records)
    assert len({s >> 100 for s in serials}) > 1  # random, not counting up


def test_validity_of_a_new_certificate_ends_at_2359_59_taiwan_two_years_on(issued: x509.Certificate) -> None:
    assert issued.not_valid_before_utc == ISSUED_AT.astimezone(UTC)
    assert issued.not_valid_after_utc == datetime(2023, 5, 14, 23, 59, 59, tzinfo=TAIWAN)
    assert taiwan_text(issued.not_valid_after_utc) == "2023-05-14 23:59:59"


# -- dates -------------------------------------------------------------------------------
@pytest.mark.parametrize(("old", "new"), [
    ("2023-05-14T23:59:59+08:00", "2025-05-14T23:59:59+08:00"),  # the reference's renewal
    ("2024-02-29T23:59:59+08:00", "2026-02-28T23:59:59+08:00"),  # no 29 February in 2026
    ("2023-05-14T15:59:59+00:00", "2025-05-14T23:59:59+08:00"),  # the same instant given in UTC
])
def test_renewed_not_after(old: str, new: str) -> None:
    assert FXML.renewed_not_after(datetime.fromisoformat(old)) == datetime.fromisoformat(new)


def test_a_new_certificate_issued_after_1600_utc_ends_on_the_taiwan_date() -> None:
    late = datetime(2023, 4, 16, 17, 0, 0, tzinfo=UTC)  # already 17 April in Taiwan
    assert FXML.initial_not_after(late) == datetime(2025, 4, 17, 23, 59, 59, tzinfo=TAIWAN)


def test_add_years_and_roc_dates() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 2, 28)
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)
    assert roc_date(datetime(2023, 4, 17, 11, 38, 36, tzinfo=TAIWAN)) == "112/04/17"
    assert roc_date(datetime(2023, 4, 16, 16, 0, 0, tzinfo=UTC)) == "112/04/17"


def test_serial_text() -> None:
    assert serial_hex(0x1A2B) == "1A2B"
    assert parse_serial("1a:2b") == parse_serial("1A 2B") == 0x1A2B
    for bad in ("", "xyz", "1" * 41):
        with pytest.raises(ValueError, match="not a hexadecimal serial number"):
            parse_serial(bad)


# -- hierarchy -----------------------------------------------------------------------------
def test_first_start_makes_keys_0600_and_the_next_start_keeps_them(tmp_path: Path) -> None:
    state = tmp_path / "fresh"
    with CertificateAuthority.open(state, clock=FixedClock(ISSUED_AT)) as first:
        issuer = first.issuer_certificate
    for name in ("root.key.pem", "issuer.key.pem"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
    assert (state / "ca.sqlite3").exists()
    with CertificateAuthority.open(state, clock=FixedClock(ISSUED_AT)) as second:
        assert second.issuer_certificate == issuer
    basic = issuer.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca and basic.value.path_length == 0
    issuer.verify_directly_issued_by(second.root_certificate)


def test_pinned_keys_give_the_same_ca_in_every_state_folder(tmp_path: Path, keys: KeyCache) -> None:
    a = ensure_hierarchy(tmp_path / "a", keys.hierarchy())
    b = ensure_hierarchy(tmp_path / "b", keys.hierarchy())
    assert a.issuer_cert == b.issuer_cert and a.root_cert == b.root_cert
    assert stat.S_IMODE((tmp_path / "a" / "issuer.key.pem").stat().st_mode) == 0o600


def test_ca_certificates_cover_every_test_date(ca: CertificateAuthority) -> None:
    for cert in (ca.root_certificate, ca.issuer_certificate):
        assert cert.not_valid_before_utc <= datetime(2015, 1, 1, tzinfo=UTC)
        assert cert.not_valid_after_utc >= datetime(2040, 1, 1, tzinfo=UTC)


def test_incomplete_or_mismatched_state_is_refused(tmp_path: Path, keys: KeyCache) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / FILES[0]).write_bytes((keys.hierarchy() / FILES[0]).read_bytes())
    with pytest.raises(StateError, match="不完整"):
        CertificateAuthority.open(partial)

    other = tmp_path / "other"
    with CertificateAuthority.open(other, keys_dir=keys.hierarchy()):
        pass
    fresh = KeyCache(tmp_path / "fresh-keys").hierarchy("other")
    for name in FILES:  # same registry, a different issuing key
        (other / name).write_bytes((fresh / name).read_bytes())
    with pytest.raises(StateError) as err:
        CertificateAuthority.open(other)
    assert err.value.code == "CA_STATE_ERROR" and "不符" in err.value.message


# -- configuration ----------------------------------------------------------------------------
def test_config_file_is_read_and_unknown_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"renewal_window_days": 45}))
    assert CaConfig.load(tmp_path).renewal_window_days == 45
    assert CaConfig.load(tmp_path / "none") == CaConfig()
    with pytest.raises(ConfigError, match="unknown key 'renewal_days'"):
        CaConfig.from_mapping({"renewal_days": 3})
    with pytest.raises(ConfigError, match="non-negative integer"):
        CaConfig(renewal_window_days=-1)
    with pytest.raises(ConfigError, match="base URL"):
        CaConfig(base_url="ftp://x")
    assert timedelta(days=CaConfig().renewal_window_days) == timedelta(days=30)
