"""The card's cryptographic primitives: on-card RSA keys and the management key cipher.

Kept apart from the applet so the applet reads as protocol logic, and so tests
can hand the card a cheap key factory instead of generating RSA-2048 keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from Crypto.Math.Numbers import Integer
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.card.crypto import MANAGEMENT_KEY_SIZES, ManagementCipher
from fxml.card.piv import Algorithm

RSA_BITS = 2048
RSA_EXPONENT = 65537

#: Produces a new RSA-2048 private key; the card calls it for GENERATE ASYMMETRIC KEY PAIR.
KeyFactory = Callable[[], rsa.RSAPrivateKey]

#: Block size and key length of each management-key algorithm the card
#: supports (those its image schema names and its SELECT answer lists). The
#: sizes and the cipher are the engine's client's; the client knows more
#: algorithms (AES-192) than this card implements.
MANAGEMENT_ALGORITHMS = {
    alg: MANAGEMENT_KEY_SIZES[alg] for alg in (Algorithm.TDEA_3KEY, Algorithm.AES_128, Algorithm.AES_256)
}


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh RSA-2048 key with e = 65537 (the card's default key factory)."""
    return rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)


def private_key_to_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#8 PEM, unencrypted: the form the card image stores."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parse a PKCS#8 PEM RSA-2048 key; ValueError if it is anything else."""
    # The expensive primality checks are skipped: the key was made by this
    # card (or the image is refused for its structure anyway).
    try:
        key = serialization.load_pem_private_key(
            pem.encode("ascii"), password=None, unsafe_skip_rsa_key_validation=True
        )
    except UnsupportedAlgorithm as exc:  # a key type cryptography does not know; not a ValueError
        raise ValueError(str(exc)) from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"expected an RSA private key, found {type(key).__name__}")
    if key.key_size != RSA_BITS:
        raise ValueError(f"expected an RSA-{RSA_BITS} key, found RSA-{key.key_size}")
    return key


@dataclass(frozen=True, slots=True)
class RsaCrtKey:
    """The private numbers the card needs for a raw RSA private-key operation."""

    n: int
    e: int
    p: int
    q: int
    dp: int
    dq: int
    qinv: int

    @classmethod
    def from_key(cls, key: rsa.RSAPrivateKey) -> RsaCrtKey:
        priv = key.private_numbers()
        pub = priv.public_numbers
        return cls(pub.n, pub.e, priv.p, priv.q, priv.dmp1, priv.dmq1, priv.iqmp)

    @property
    def size(self) -> int:
        """Modulus length in bytes."""
        return (self.n.bit_length() + 7) // 8

    def private_op(self, block: bytes) -> bytes:
        """m^d mod n by the Chinese remainder theorem; ``block`` must be < n."""
        m = int.from_bytes(block, "big")
        if m >= self.n:
            raise ValueError("input is not smaller than the modulus")
        # pycryptodome's native modular exponentiation: ~7x faster than pow() on ints.
        m1 = int(pow(Integer(m), self.dp, self.p))
        m2 = int(pow(Integer(m), self.dq, self.q))
        h = (self.qinv * (m1 - m2)) % self.p
        return (m2 + h * self.q).to_bytes(self.size, "big")

    def public_template_values(self) -> tuple[bytes, bytes]:
        """(modulus, public exponent) as unsigned big-endian bytes."""
        return self.n.to_bytes(self.size, "big"), self.e.to_bytes((self.e.bit_length() + 7) // 8, "big")


def encrypt_block(algorithm: Algorithm, key: bytes, block: bytes) -> bytes:
    """Encrypt one block (ECB) with the management key: the card's answer to
    a witness or challenge (the cipher is the engine's, fxml.card.crypto)."""
    return ManagementCipher(algorithm, key).encrypt(block)
