"""The FXML certificate profile and the names of the CA hierarchy, as data.

Everything a certificate of the simulated TWCA Financial User CA says that
does not come from the request or the clock is in this module: the subject
layout the bank's screens show, key and signature algorithms, key usage,
validity rules, serial size, the issuer and root names, and where the
service publishes its CRL, OCSP responder and CA certificate. The service
(:mod:`simulator.ca.service`) only combines this data with a holder, a key
and an instant.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from fxml.ca.api import Paths
from fxml.clock import TAIWAN

_ATTRIBUTES = {
    "C": NameOID.COUNTRY_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "CN": NameOID.COMMON_NAME,
}
_SHORT = {oid: short for short, oid in _ATTRIBUTES.items()}

#: A distinguished name as data: (attribute, value) pairs from C down to CN.
NameSpec = tuple[tuple[str, str], ...]


def build_name(spec: NameSpec) -> x509.Name:
    return x509.Name([x509.NameAttribute(_ATTRIBUTES[attr], value) for attr, value in spec])


def name_pairs(name: x509.Name) -> NameSpec:
    """A name as (attribute, value) pairs in encoded order; unknown attributes by dotted OID."""
    return tuple((_SHORT.get(a.oid, a.oid.dotted_string), str(a.value)) for a in name)


@dataclass(frozen=True)
class FxmlProfile:
    """The FXML end-entity certificate: subject, keys, extensions and validity."""

    country: str = "TW"
    organization: str = "Finance"
    ca_unit: str = "TWCA Financial User CA"
    service_unit: str = "FXML"
    #: CN = <holder id>-00-<suffix>, e.g. 99000001-00-2015.
    cn_template: str = "{holder_id}-00-{suffix}"
    #: OU naming the bank and branch: 0060000-Taiwan Cooperative Bank.
    bank_unit_template: str = "{branch_code}-{bank_name}"
    key_bits: int = 2048
    signature_hash: type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = hashes.SHA256
    #: KeyUsage flags set (the rest are clear); the extension is critical.
    key_usage: frozenset[str] = field(default=frozenset({"digital_signature", "content_commitment"}))
    #: A new certificate (申請) runs this many years from its issuance date, a
    #: renewed one (更新) this many years from the old certificate's not-after.
    validity_years: int = 2
    #: Every certificate ends at this time of day, Taiwan time.
    end_of_day: time = time(23, 59, 59)
    #: Random bits in a serial number (plus one fixed top bit, so serials
    #: print as 32 hex digits and encode in 16 bytes).
    serial_random_bits: int = 126

    def cn(self, holder_id: str, suffix: str) -> str:
        return self.cn_template.format(holder_id=holder_id, suffix=suffix)

    def subject(self, holder_id: str, suffix: str, branch_code: str, bank_name: str) -> NameSpec:
        return (
            ("C", self.country),
            ("O", self.organization),
            ("OU", self.ca_unit),
            ("OU", self.bank_unit_template.format(branch_code=branch_code, bank_name=bank_name)),
            ("OU", self.service_unit),
            ("CN", self.cn(holder_id, suffix)),
        )

    def key_usage_extension(self) -> x509.KeyUsage:
        flags = {
            name: name in self.key_usage
            for name in (
                "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
            )
        }
        return x509.KeyUsage(**flags)

    def new_serial(self) -> int:
        return secrets.randbits(self.serial_random_bits) | (1 << self.serial_random_bits)

    def closing_time(self, day: date) -> datetime:
        """The instant a certificate ending on ``day`` (Taiwan date) ends."""
        return datetime.combine(day, self.end_of_day, TAIWAN)

    def initial_not_after(self, issued: datetime) -> datetime:
        """Not-after of a new certificate issued at ``issued``."""
        return self.closing_time(add_years(issued.astimezone(TAIWAN).date(), self.validity_years))

    def renewed_not_after(self, old_not_after: datetime) -> datetime:
        """Not-after of the certificate that renews one ending at ``old_not_after``."""
        return self.closing_time(add_years(old_not_after.astimezone(TAIWAN).date(), self.validity_years))


FXML = FxmlProfile()

#: The issuing CA, exactly as the proof sheet's 憑證發行者 shows it.
ISSUER_NAME: NameSpec = (("C", "TW"), ("O", "TWCA"), ("OU", "User CA"), ("CN", "TWCA Financial User CA"))
#: The simulated root: its own name, so nobody mistakes it for TWCA's.
ROOT_NAME: NameSpec = (
    ("C", "TW"),
    ("O", "fxmlsim"),
    ("OU", "SIMULATION ONLY - NOT TWCA"),
    ("CN", "fxmlsim Simulated TWCA Root CA"),
)
#: Both CA certificates span every date a test may set the clock to (the
#: reference's 2023 dates, today, past an expiry in 2027), independent of
#: the instant the hierarchy is made. Before 2050, so UTCTime encodes them.
CA_NOT_BEFORE = datetime(2010, 1, 1, 0, 0, 0, tzinfo=TAIWAN)
CA_NOT_AFTER = datetime(2049, 12, 31, 23, 59, 59, tzinfo=TAIWAN)
CA_KEY_BITS = 2048
#: Default bank and branch of a holder: Taiwan Cooperative Bank (合作金庫銀行).
DEFAULT_BRANCH_CODE = "0060000"
DEFAULT_BANK_NAME = "Taiwan Cooperative Bank"


@dataclass(frozen=True)
class ServiceUrls:
    """Where the service publishes what certificates point at."""

    base_url: str

    CRL_PATH = Paths.CRL
    OCSP_PATH = Paths.OCSP
    ISSUER_PATH = Paths.ISSUER_CERT
    ROOT_PATH = Paths.ROOT_CERT

    @property
    def crl(self) -> str:
        return self.base_url.rstrip("/") + self.CRL_PATH

    @property
    def ocsp(self) -> str:
        return self.base_url.rstrip("/") + self.OCSP_PATH

    @property
    def ca_issuers(self) -> str:
        return self.base_url.rstrip("/") + self.ISSUER_PATH


def end_entity_extensions(
    profile: FxmlProfile, subject_key: x509.SubjectKeyIdentifier, issuer: x509.Certificate, urls: ServiceUrls
) -> list[tuple[x509.ExtensionType, bool]]:
    """The extensions of an FXML certificate, each with its criticality."""
    issuer_ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return [
        (profile.key_usage_extension(), True),
        (x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), False),
        (subject_key, False),
        (x509.CRLDistributionPoints([
            x509.DistributionPoint([x509.UniformResourceIdentifier(urls.crl)], None, None, None)
        ]), False),
        (x509.AuthorityInformationAccess([
            x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)),
            x509.AccessDescription(
                AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(urls.ca_issuers)
            ),
        ]), False),
    ]


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def serial_hex(serial: int) -> str:
    """A serial number as the bank's screens show it: uppercase hex, no separators."""
    return f"{serial:X}"


def parse_serial(text: str) -> int:
    """Uppercase or lowercase hex, optionally with ':' or spaces between bytes; ValueError otherwise."""
    cleaned = text.replace(":", "").replace(" ", "")
    if not cleaned or len(cleaned) > 40 or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise ValueError(f"not a hexadecimal serial number: {text!r}")
    return int(cleaned, 16)


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)
