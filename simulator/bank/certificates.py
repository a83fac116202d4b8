"""What the bank asks of a certificate before it accepts it: the CA's records, its chain, its
validity, its status by OCSP, a signature made with its key.

The bank talks to the CA as any relying party does, through the engine's CA
client (:class:`fxml.ca.client.CaClient`; tests may hand in anything with the
same three methods, :class:`CaLookup`). Every refusal is a
:class:`~simulator.bank.auth.BankError` with a stable code and the zh-TW
message a customer or an officer reads.

- **Chain.** The issuing CA's certificate and the root come from the CA once
  (``GET /ca/chain.pem``) and are kept for the life of the process: the root
  is the bank's trust anchor from then on. A certificate must be issued by
  that issuing CA (name and signature), the issuing CA by the root.
- **Validity** on the stack's clock: not before its notBefore, not after its notAfter.
- **Status** by OCSP at the CA, with a nonce (the answer is signed for this
  question, so it cannot be an old one): ``good``; ``revoked`` with reason
  ``certificateHold`` is the CA's 暫禁, any other reason 已廢止; ``unknown``
  is a certificate the CA never issued. The answer's signature is checked
  against the issuing CA's key, and its serial against the certificate's.
"""

from __future__ import annotations

import secrets
import threading
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from fxml.ca.client import CaError, CertificateRecord
from fxml.display import taiwan_text
from simulator.bank.auth import BankError
from simulator.bank.auth import BankErrorCode as Code


class CaLookup(Protocol):
    """The CA as the bank uses it (``CaClient`` has these)."""

    def query(self, holder_id: str | None = None, cn: str | None = None, serial: str | None = None
              ) -> list[CertificateRecord]: ...

    def ocsp(self, request_der: bytes) -> bytes: ...

    def chain(self) -> list[x509.Certificate]: ...


def ca_unavailable(exc: Exception | None = None) -> BankError:
    return BankError(Code.CA_UNAVAILABLE, "暫時無法向憑證中心確認憑證資料，請稍後再試。", 503)


def serial_of(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:X}"


class CertificateChecks:
    """The bank's questions about certificates, asked of one CA."""

    def __init__(self, ca: CaLookup):
        self.ca = ca
        self._lock = threading.Lock()
        self._anchors: tuple[x509.Certificate, x509.Certificate] | None = None

    # -- the CA's records -----------------------------------------------------------------------------
    def record(self, serial: str) -> CertificateRecord | None:
        """The CA's record of ``serial`` (查詢, not audited), or None if it issued no such certificate."""
        try:
            found = self.ca.query(serial=serial.upper())
        except CaError as exc:
            raise ca_unavailable(exc) from None
        return found[0] if found else None

    def of_cn(self, cn: str) -> list[CertificateRecord]:
        """Every certificate of a Common Name, in issuance order."""
        try:
            return self.ca.query(cn=cn)
        except CaError as exc:
            raise ca_unavailable(exc) from None

    # -- chain and validity ---------------------------------------------------------------------------
    def anchors(self) -> tuple[x509.Certificate, x509.Certificate]:
        """(issuing CA, root), asked of the CA once and kept."""
        with self._lock:
            if self._anchors is None:
                try:
                    chain = self.ca.chain()
                except CaError as exc:
                    raise ca_unavailable(exc) from None
                if len(chain) != 2:
                    raise ca_unavailable()
                issuer, root = chain
                try:
                    issuer.verify_directly_issued_by(root)
                    root.verify_directly_issued_by(root)
                except (ValueError, TypeError, InvalidSignature):
                    raise ca_unavailable() from None
                self._anchors = (issuer, root)
            return self._anchors

    def check_chain(self, cert: x509.Certificate) -> None:
        issuer, _root = self.anchors()
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise BankError(Code.CERT_CHAIN_INVALID,
                            "簽章憑證不是由 TWCA Financial User CA 簽發，無法驗證憑證鏈。", 422) from None

    @staticmethod
    def check_validity(cert: x509.Certificate, now: datetime) -> None:
        if now < cert.not_valid_before_utc:
            raise BankError(Code.CERT_NOT_YET_VALID,
                            f"簽章憑證尚未生效（生效日 {taiwan_text(cert.not_valid_before_utc)}）。", 422)
        if now > cert.not_valid_after_utc:
            raise BankError(Code.CERT_EXPIRED,
                            f"簽章憑證已過期（到期日 {taiwan_text(cert.not_valid_after_utc)}），無法交易；"
                            "請攜帶相關證件至申辦分行重新申請憑證。", 422)

    # -- status ---------------------------------------------------------------------------------------
    def check_status(self, cert: x509.Certificate) -> None:
        """OCSP at the CA: good, or the refusal that says why not."""
        issuer, _root = self.anchors()
        nonce = secrets.token_bytes(16)
        request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
                   .add_extension(x509.OCSPNonce(nonce), critical=False).build())
        try:
            der = self.ca.ocsp(request.public_bytes(Encoding.DER))
        except CaError as exc:
            raise ca_unavailable(exc) from None
        try:
            answer = ocsp.load_der_ocsp_response(der)
        except ValueError:
            raise ca_unavailable() from None
        if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise ca_unavailable()
        key = issuer.public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        hash_algorithm = answer.signature_hash_algorithm
        try:
            if hash_algorithm is None:
                raise InvalidSignature
            key.verify(answer.signature, answer.tbs_response_bytes, padding.PKCS1v15(), hash_algorithm)
            echoed = answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except (InvalidSignature, x509.ExtensionNotFound):
            raise ca_unavailable() from None
        if echoed != nonce or answer.serial_number != cert.serial_number:
            raise ca_unavailable()
        status = answer.certificate_status
        if status is ocsp.OCSPCertStatus.UNKNOWN:
            raise BankError(Code.CERT_UNKNOWN, "憑證中心查無此簽章憑證。", 422)
        if status is ocsp.OCSPCertStatus.REVOKED:
            when = answer.revocation_time_utc
            at = f"（{taiwan_text(when)}）" if when else ""
            if answer.revocation_reason is x509.ReasonFlags.certificate_hold:
                raise BankError(Code.CERT_SUSPENDED, f"簽章憑證已暫禁{at}，無法交易；請洽申辦分行辦理解除暫禁。", 422)
            raise BankError(Code.CERT_REVOKED, f"簽章憑證已廢止{at}，無法交易；請洽申辦分行重新申請憑證。", 422)

    # -- signatures -------------------------------------------------------------------------------------
    @staticmethod
    def check_signature(cert: x509.Certificate, data: bytes, signature: bytes) -> None:
        """PKCS#1 v1.5 over SHA-256 of ``data``, with the certificate's key (what the card makes)."""
        key = cert.public_key()
        try:
            if not isinstance(key, rsa.RSAPublicKey):
                raise InvalidSignature
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise BankError(Code.SIGNATURE_INVALID, "交易簽章驗證失敗：簽章與交易內容或簽章憑證不符，"
                            "交易內容可能遭竄改，請重新操作。", 422) from None


def load_certificate(pem: object) -> x509.Certificate:
    if not isinstance(pem, str) or len(pem) > 16_384:
        raise BankError(Code.CERT_MALFORMED, "簽章憑證格式錯誤。", 400)
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise BankError(Code.CERT_MALFORMED, "簽章憑證格式錯誤。", 400) from None
