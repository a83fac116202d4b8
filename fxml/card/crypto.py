"""Host-side cryptography of the card edge: the management-key block cipher
and the PKCS#1 v1.5 signature block the card's raw RSA operation signs.
"""

from __future__ import annotations

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, algorithms, modes

from fxml.card.piv import Algorithm

#: (block size, key length) of each management-key algorithm.
MANAGEMENT_KEY_SIZES: dict[Algorithm, tuple[int, int]] = {
    Algorithm.TDEA_3KEY: (8, 24),
    Algorithm.AES_128: (16, 16),
    Algorithm.AES_192: (16, 24),
    Algorithm.AES_256: (16, 32),
}


class ManagementCipher:
    """One-block ECB encryption and decryption with a PIV management key.

    PIV's well-known default 3-key TDEA key (01..08 three times) has three
    equal parts, which makes TDEA single DES; cryptography (OpenSSL) accepts
    it as it is, as a card does.
    """

    def __init__(self, algorithm: Algorithm, key: bytes):
        if algorithm not in MANAGEMENT_KEY_SIZES:
            raise ValueError(f"unsupported management key algorithm {int(algorithm):02X}")
        self.algorithm = Algorithm(algorithm)
        self.block_size, key_length = MANAGEMENT_KEY_SIZES[self.algorithm]
        if len(key) != key_length:
            raise ValueError(f"a {self.algorithm.name} management key is {key_length} bytes, not {len(key)}")
        cipher: BlockCipherAlgorithm = TripleDES(key) if self.algorithm == Algorithm.TDEA_3KEY else algorithms.AES(key)
        self._cipher = Cipher(cipher, modes.ECB())  # noqa: S305 - one block: the card edge's challenge-response (SP 800-73-4)

    def _check(self, block: bytes) -> None:
        if len(block) != self.block_size:
            raise ValueError(f"{self.algorithm.name} blocks are {self.block_size} bytes, not {len(block)}")

    def encrypt(self, block: bytes) -> bytes:
        self._check(block)
        encryptor = self._cipher.encryptor()
        return encryptor.update(block) + encryptor.finalize()

    def decrypt(self, block: bytes) -> bytes:
        self._check(block)
        decryptor = self._cipher.decryptor()
        return decryptor.update(block) + decryptor.finalize()


#: DER of DigestInfo up to the digest (RFC 8017 section 9.2, note 1).
DIGEST_INFO_PREFIX: dict[str, bytes] = {
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
    "sha384": bytes.fromhex("3041300d060960864801650304020205000430"),
    "sha512": bytes.fromhex("3051300d060960864801650304020305000440"),
}


def pkcs1_v15_block(digest: bytes, key_size: int, algorithm: hashes.HashAlgorithm) -> bytes:
    """EMSA-PKCS1-v1_5 (RFC 8017 section 9.2): ``00 01 FF..FF 00 DigestInfo``,
    ``key_size`` bytes long, for the card's raw private-key operation."""
    prefix = DIGEST_INFO_PREFIX.get(algorithm.name)
    if prefix is None:
        raise ValueError(f"no PKCS#1 v1.5 DigestInfo for {algorithm.name}; use one of {sorted(DIGEST_INFO_PREFIX)}")
    if len(digest) != algorithm.digest_size:
        raise ValueError(f"a {algorithm.name} digest is {algorithm.digest_size} bytes, not {len(digest)}")
    info = prefix + digest
    padding = key_size - len(info) - 3
    if padding < 8:
        raise ValueError(f"a {key_size}-byte key is too short for a {algorithm.name} signature")
    return b"\x00\x01" + b"\xff" * padding + b"\x00" + info
