"""What the platform checks before it records a move the card's side reports.

The record API is called from the customer's machine (the card agent, or
``fxmlsim renew``) with a renewal token the page held: the platform keeps the
authoritative record, so it believes nothing it can check. A new key must be
an RSA-2048 public key; the request must be a PKCS#10 request for that key
with a valid signature and the old certificate's subject; the certificate
must be the one the CA issued for this renewal (asked of the CA itself), for
that key and renewing the old certificate — for a download, issued by application
(renewing nothing) to the record's holder with the record's Common Name and subject.
A move that fails a check is refused (``RENEWAL_BAD_RECORD``) and nothing is recorded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.ca.client import CaClient, CaError
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RenewalRecord, State

#: Checks a move before it is recorded; raises RecordError to refuse it.
MoveCheck = Callable[[RenewalRecord, State, Mapping[str, Any]], None]


def _refuse(record: RenewalRecord, reason: str) -> RecordError:
    return RecordError(RecordErrorCode.BAD_RECORD, reason, record)


def _spki(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _public_key(record: RenewalRecord, text: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise _refuse(record, f"public_key is not a DER SubjectPublicKeyInfo in base64: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != 2048:
        raise _refuse(record, "public_key is not an RSA-2048 key")
    return key


def move_checks(ca: CaClient | None) -> MoveCheck:
    """The checks of the platform whose CA is ``ca`` (without a CA, ISSUED cannot be checked
    against it and is refused)."""

    def check(record: RenewalRecord, to: State, fields: Mapping[str, Any]) -> None:
        if to is State.KEY_GENERATED and isinstance(fields.get("public_key"), str):
            _public_key(record, fields["public_key"])
        elif to is State.CSR_SIGNED and isinstance(fields.get("csr"), str) and record.public_key:
            try:
                csr = x509.load_pem_x509_csr(fields["csr"].encode("ascii"))
            except ValueError as exc:
                raise _refuse(record, f"csr is not a PEM PKCS#10 request: {exc}") from exc
            if not csr.is_signature_valid:
                raise _refuse(record, "the request's signature does not verify with its key")
            if _spki(csr.public_key()) != _spki(_public_key(record, record.public_key)):
                raise _refuse(record, "the request is not for the key the card made")
        elif to is State.ISSUED and isinstance(fields.get("certificate"), str):
            _check_issued(ca, record, fields)

    return check


def _check_issued(ca: CaClient | None, record: RenewalRecord, fields: Mapping[str, Any]) -> None:
    try:
        certificate = x509.load_pem_x509_certificate(str(fields["certificate"]).encode("ascii"))
    except ValueError as exc:
        raise _refuse(record, f"certificate is not a PEM certificate: {exc}") from exc
    if record.public_key is None or _spki(certificate.public_key()) != _spki(_public_key(record, record.public_key)):
        raise _refuse(record, "the certificate is not for the key the card made")
    serial = f"{certificate.serial_number:X}"
    if str(fields.get("new_serial", "")).upper() != serial:
        raise _refuse(record, "new_serial is not the certificate's serial")
    if ca is None:
        raise _refuse(record, "the platform has no CA to check the certificate with")
    try:
        issued = ca.download(serial)
    except CaError as exc:
        raise _refuse(record, f"the CA does not know certificate {serial}: [{exc.code}] {exc.message}") from exc
    if issued.certificate != certificate:
        raise _refuse(record, f"certificate {serial} is not the one the CA issued")
    if record.kind is Kind.DOWNLOAD:
        if (issued.renewed_from is not None or issued.holder_id != record.holder_id or issued.cn != record.cn
                or certificate.subject.rfc4514_string() != record.subject):
            raise _refuse(record, f"certificate {serial} is not the CA's certificate of {record.cn} for "
                                  f"{record.holder_id}")
    elif (issued.renewed_from or "").upper() != record.old_serial.upper():
        raise _refuse(record, f"certificate {serial} is not the CA's renewal of {record.old_serial}")
