"""What the CA checks of a request before it touches the registry: the fields' forms, a PKCS#10
request (:func:`check_csr`), a renewal's proof that the old key asks for it
(:func:`check_renewal_proof`), a serial (:func:`normal_serial`). Each refusal is the CA's
(:mod:`simulator.ca.errors`)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fxml.ca.api import renewal_proof_message
from simulator.ca import errors
from simulator.ca.profile import parse_serial, serial_hex

HOLDER_ID = re.compile(r"[A-Za-z0-9]{1,20}")
SUFFIX = re.compile(r"[A-Za-z0-9]{1,16}")
BRANCH = re.compile(r"\d{7}")
BANK_NAME = re.compile(r"[A-Za-z0-9 .&()'-]{1,48}")
REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


@dataclass(frozen=True)
class CsrFacts:
    """A PKCS#10 request the CA checked: the request, its RSA key, the SHA-256 of its DER."""

    request: x509.CertificateSigningRequest
    public_key: rsa.RSAPublicKey
    sha256: str


def check_csr(csr: bytes | str | x509.CertificateSigningRequest, key_bits: int) -> CsrFacts:
    """The request, parsed: an RSA key of ``key_bits`` bits and a signature that verifies with it
    (proof of possession); BadCsrError (or a subclass) otherwise."""
    try:
        if isinstance(csr, x509.CertificateSigningRequest):
            request = csr
        else:
            data = csr.encode("ascii") if isinstance(csr, str) else bytes(csr)
            if data.lstrip().startswith(b"-----BEGIN"):
                request = x509.load_pem_x509_csr(data)
            else:
                request = x509.load_der_x509_csr(data)
        public_key = request.public_key()
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm) as exc:
        raise errors.BadCsrError(reason=str(exc)) from exc
    if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size != key_bits:
        size = getattr(public_key, "key_size", None)
        raise errors.KeyNotRsa2048Error(key=f"{type(public_key).__name__.removeprefix('_')} {size or ''}".strip())
    try:
        valid = request.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        valid = False
    if not valid:
        raise errors.BadCsrSignatureError()
    der = request.public_bytes(serialization.Encoding.DER)
    return CsrFacts(request, public_key, hashlib.sha256(der).hexdigest())


def require(pattern: re.Pattern[str], value: object, field: str, label: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise errors.BadRequestError(f"{label}格式不正確。", field=field, value=str(value)[:64])


def check_renewal_proof(old_der: bytes, request_id: str, serial: str, csr_der: bytes,
                         signature: bytes | None) -> None:
    if not signature:
        raise errors.RenewalNotAuthorizedError(reason="no old_key_signature")
    key = x509.load_der_x509_certificate(old_der).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise errors.RenewalNotAuthorizedError(reason="the old certificate's key is not RSA")
    try:
        key.verify(signature, renewal_proof_message(request_id, serial, csr_der), padding.PKCS1v15(),
                   hashes.SHA256())
    except InvalidSignature:
        raise errors.RenewalNotAuthorizedError(reason="the signature does not verify with the old key") from None


def normal_serial(serial: str) -> str:
    try:
        return serial_hex(parse_serial(str(serial)))
    except ValueError:
        raise errors.UnknownSerialError("憑證序號格式不正確(須為 16 進位)。", serial=str(serial)[:64]) from None
