"""PKCS#10 certificate requests signed by a key the host does not hold.

pyca/cryptography signs a request only with a private key it has in memory;
the card's key never leaves the card. So the CertificationRequestInfo is
encoded here (RFC 2986 section 4.1), the card signs it, and the finished
request is loaded back with cryptography and its signature checked before
anyone sends it to a CA.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.card.tlv import tlv
from fxml.errors import FxmlError

#: AlgorithmIdentifier of sha256WithRSAEncryption (1.2.840.113549.1.1.11), NULL parameters.
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")

_SEQUENCE, _INTEGER, _BIT_STRING, _ATTRIBUTES = 0x30, 0x02, 0x03, 0xA0

#: Signs the DER of a CertificationRequestInfo: SHA-256 and PKCS#1 v1.5, RSA.
Signer = Callable[[bytes], bytes]


class CsrError(FxmlError, ValueError):
    """The signer's signature does not make a valid request for this key."""


def certification_request_info(subject: x509.Name, public_key: rsa.RSAPublicKey) -> bytes:
    """DER of CertificationRequestInfo: version 0, subject, the key, no attributes."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return tlv(_SEQUENCE, tlv(_INTEGER, b"\x00") + subject.public_bytes() + spki + tlv(_ATTRIBUTES, b""))


def build_csr(subject: x509.Name, public_key: rsa.RSAPublicKey, sign: Signer) -> x509.CertificateSigningRequest:
    """A PKCS#10 request for ``public_key`` in the name of ``subject``, signed by ``sign``.

    ``sign`` receives the bytes to be signed and returns a sha256WithRSAEncryption
    signature, e.g. ``lambda tbs: client.sign(container, tbs)``. CsrError if
    the result does not verify with ``public_key``.
    """
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TypeError(f"public_key must be an RSA public key, not {type(public_key).__name__}")
    info = certification_request_info(subject, public_key)
    signature = bytes(sign(info))
    # A BIT STRING's first content byte counts unused bits: none here.
    der = tlv(_SEQUENCE, info + SHA256_WITH_RSA + tlv(_BIT_STRING, b"\x00" + signature))
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError as exc:
        raise CsrError(f"the request does not parse: {exc}") from exc
    if not csr.is_signature_valid:
        raise CsrError("the signer's signature does not verify with the request's public key")
    return csr
