"""Helpers for the card client's tests: pre-generated keys, a scripted card,
and a test CA that certifies card keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.paths import repo_path

KEYS = repo_path("tests", "data", "keys")
#: A fixed instant for certificates, so no test depends on today's date.
NOW = datetime(2023, 4, 17, 3, 28, 33, tzinfo=UTC)


@cache
def fixed_key(index: int) -> rsa.RSAPrivateKey:
    """Pre-generated RSA-2048 key number ``index`` (1 to 3)."""
    pem = (KEYS / f"card-client-rsa2048-{index}.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def raw_rsa(key: rsa.RSAPrivateKey, block: bytes) -> bytes:
    """The bare private-key operation a card applies to a padded block."""
    numbers = key.private_numbers()
    n = numbers.public_numbers.n
    return pow(int.from_bytes(block, "big"), numbers.d, n).to_bytes(key.key_size // 8, "big")


def name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "TW"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "虛構測試貿易股份有限公司"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def issue(
    public_key: rsa.RSAPublicKey, cn: str = "99000001-00-2015", ca_key: rsa.RSAPrivateKey | None = None
) -> x509.Certificate:
    """A certificate for ``public_key`` from a throw-away test CA (key 3)."""
    ca_key = ca_key or fixed_key(3)
    return (
        x509.CertificateBuilder()
        .subject_name(name(cn))
        .issuer_name(name("fxmlsim test CA"))
        .public_key(public_key)
        .serial_number(0x1234_5678)
        .not_valid_before(NOW)
        .not_valid_after(NOW + timedelta(days=760))
        .sign(ca_key, hashes.SHA256())
    )


class ScriptedConnection:
    """A card that replays recorded exchanges and checks each command it gets."""

    def __init__(self, *exchanges: tuple[str, str]):
        self.script = [(bytes.fromhex(cmd), bytes.fromhex(resp)) for cmd, resp in exchanges]
        self.sent: list[bytes] = []

    def transmit(self, apdu: bytes) -> bytes:
        self.sent.append(bytes(apdu))
        index = len(self.sent) - 1
        assert index < len(self.script), f"unexpected command {apdu.hex(' ').upper()} after the script ended"
        expected, answer = self.script[index]
        assert apdu == expected, f"command {index}: sent {apdu.hex(' ').upper()}, expected {expected.hex(' ').upper()}"
        return answer

    @property
    def done(self) -> bool:
        return len(self.sent) == len(self.script)
