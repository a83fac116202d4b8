"""Revocation status for relying parties: a signed CRL and an RFC 6960 OCSP responder.

Both are signed by the issuing CA itself (no delegated responder) and both
read the registry: a revoked certificate is listed with its reason, a
suspended one (暫禁) with reason certificateHold; lifting the suspension
drops it from the next CRL and makes OCSP answer good again.

Signed answers are cached. A cache entry is good while the registry's
status version (bumped by every issuance and every status change, by any
process) is the one it was made from, and while it is younger than the
configured refresh time by the CA's clock. OCSP answers to requests that
carry a nonce are always signed afresh, since the nonce is part of what
is signed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp

from simulator.ca.config import CaConfig
from simulator.ca.hierarchy import Hierarchy
from simulator.ca.registry import Registry, Withdrawn

log = logging.getLogger(__name__)

#: Reasons an officer may give to revoke (廢止); certificateHold is what 暫禁 uses.
REVOCATION_REASONS: dict[str, str] = {
    "unspecified": "未指定",
    "keyCompromise": "金鑰洩漏",
    "affiliationChanged": "用戶資料變更",
    "superseded": "憑證已被取代",
    "cessationOfOperation": "停止使用",
    "privilegeWithdrawn": "權限撤銷",
}
HOLD = "certificateHold"
#: Revoked without a reason: CRL entries and OCSP answers then carry no reason code.
UNSPECIFIED = "unspecified"

_OCSP_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (hashes.SHA1, hashes.SHA256, hashes.SHA384, hashes.SHA512)


@dataclass(frozen=True)
class _Signed:
    version: int
    this_update: datetime
    der: bytes

    def fresh(self, version: int, now: datetime, max_age: timedelta) -> bool:
        return self.version == version and timedelta(0) <= now - self.this_update < max_age


class CrlPublisher:
    """The full CRL of the issuing CA."""

    def __init__(self, hierarchy: Hierarchy, registry: Registry, config: CaConfig):
        self._hierarchy = hierarchy
        self._registry = registry
        self._config = config
        self._lock = threading.Lock()
        self._cached: _Signed | None = None
        self._aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            hierarchy.issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        )

    def crl_der(self, now: datetime) -> bytes:
        max_age = timedelta(seconds=self._config.crl_refresh_seconds)
        with self._lock:  # one signer at a time; the others take its result
            cached = self._cached
            if cached and cached.fresh(self._registry.status_version(), now, max_age):
                return cached.der
            with self._registry.read() as tx:
                version = tx.status_version()
                withdrawn = tx.withdrawn()
            with self._registry.write() as tx:
                number = tx.next_crl_number()
            der = self._sign(withdrawn, number, now)
            self._cached = _Signed(version, now, der)
            log.debug("signed CRL number %d with %d entries", number, len(withdrawn))
            return der

    def _sign(self, withdrawn: list[Withdrawn], number: int, now: datetime) -> bytes:
        reasons = {name: x509.CRLReason(x509.ReasonFlags(name)) for name in {w.reason for w in withdrawn}}
        entries = []
        for w in withdrawn:
            entry = x509.RevokedCertificateBuilder().serial_number(w.serial).revocation_date(w.since)
            if w.reason != UNSPECIFIED:  # RFC 5280 5.3.1: absent rather than unspecified (0)
                entry = entry.add_extension(reasons[w.reason], critical=False)
            entries.append(entry.build())
        # The builder's constructor takes the whole list at once; adding
        # entries one by one copies the list each time (quadratic at 100k).
        builder = x509.CertificateRevocationListBuilder(
            issuer_name=self._hierarchy.issuer_cert.subject,
            last_update=now,
            next_update=now + timedelta(hours=self._config.crl_validity_hours),
            extensions=[
                x509.Extension(x509.AuthorityKeyIdentifier.oid, False, self._aki),
                x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(number)),
            ],
            revoked_certificates=entries,
        )
        crl = builder.sign(self._hierarchy.issuer_key, hashes.SHA256())
        return crl.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class CertStatusInfo:
    """What OCSP says about one serial: good, revoked (with reason) or unknown."""

    status: ocsp.OCSPCertStatus
    since: datetime | None = None
    reason: str | None = None


#: Tells the status of a serial number of the issuing CA.
StatusLookup = Callable[[int], CertStatusInfo]
#: Signed answers kept at most (about 1.5 KB each: ~75 MB); then the cache starts over.
_CACHE_LIMIT = 50_000


class OcspResponder:
    """Answers OCSP requests about certificates of the issuing CA (RFC 6960).

    One certificate per request (the cryptography library parses no more); a
    request with several is answered malformedRequest.
    """

    def __init__(self, hierarchy: Hierarchy, registry: Registry, config: CaConfig):
        self._hierarchy = hierarchy
        self._registry = registry
        self._config = config
        issuer = hierarchy.issuer_cert
        name_der = issuer.subject.public_bytes()
        key_der = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
        self._issuer_hashes = {
            h.name: (_digest(h, name_der), _digest(h, key_der)) for h in (algo() for algo in _OCSP_HASHES)
        }
        self._cache: dict[tuple[int, str], _Signed] = {}

    def respond(self, request_der: bytes, now: datetime, status_of: StatusLookup) -> bytes:
        """The DER answer to a DER request; ``status_of`` tells a serial's status."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        request, nonce = parsed
        version = self._registry.status_version()  # before the lookup: a change in between only makes the entry stale
        if nonce is None:
            hit = self._lookup(request, version, now)
            if hit is not None:
                return hit
        der = self._sign(request, status_of(request.serial_number), nonce, now)
        if nonce is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[(request.serial_number, request.hash_algorithm.name)] = _Signed(version, now, der)
        return der

    def cached(self, request_der: bytes, now: datetime) -> bytes | None:
        """The answer if it needs no signing (cached, or unsuccessful), else None: cheap enough for an event loop."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        request, nonce = parsed
        return None if nonce is not None else self._lookup(request, self._registry.status_version(), now)

    def _lookup(self, request: ocsp.OCSPRequest, version: int, now: datetime) -> bytes | None:
        cached = self._cache.get((request.serial_number, request.hash_algorithm.name))
        if cached and cached.fresh(version, now, timedelta(seconds=self._config.ocsp_cache_seconds)):
            return cached.der
        return None

    def _parse(self, request_der: bytes) -> tuple[ocsp.OCSPRequest, bytes | None] | bytes:
        """The request and its nonce, or the DER of an unsuccessful answer."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            hashes_expected = self._issuer_hashes.get(request.hash_algorithm.name)
            nonce_ext = _nonce(request)
        except Exception as exc:  # noqa: BLE001 - any parse failure is a malformed request
            log.debug("malformed OCSP request: %s", exc)
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if hashes_expected != (request.issuer_name_hash, request.issuer_key_hash):
            # RFC 6960 2.3: a responder answers only for the CAs it serves.
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return request, nonce_ext

    def _sign(self, request: ocsp.OCSPRequest, info: CertStatusInfo, nonce: bytes | None, now: datetime) -> bytes:
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=info.status,
            this_update=now,
            next_update=now + timedelta(seconds=self._config.ocsp_validity_seconds),
            revocation_time=info.since,
            revocation_reason=x509.ReasonFlags(info.reason) if info.reason not in (None, UNSPECIFIED) else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self._hierarchy.issuer_cert)
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        response = builder.sign(self._hierarchy.issuer_key, hashes.SHA256())
        der = response.public_bytes(serialization.Encoding.DER)
        if response.produced_at_utc != now.replace(microsecond=0):  # producedAt has whole seconds
            # The library stamps producedAt with the machine's time; the CA's
            # clock (frozen or moved in tests) is the one that counts.
            der = _restamp_produced_at(der, now, self._hierarchy.issuer_key)
        return der


def _der_children(data: bytes | bytearray, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The DER elements between ``start`` and ``end``: (tag, header start, content start, end) each."""
    out = []
    pos = start
    while pos < end:
        tag, length, first = data[pos], data[pos + 1], pos + 2
        if length & 0x80:
            count = length & 0x7F
            length, first = int.from_bytes(data[first:first + count], "big"), first + count
        out.append((tag, pos, first, first + length))
        pos = first + length
    return out


def _restamp_produced_at(der: bytes, produced_at: datetime, key: rsa.RSAPrivateKey) -> bytes:
    """A successful OCSP response with ``producedAt`` set to ``produced_at``, signed again.

    Both producedAt (GeneralizedTime ``YYYYMMDDHHMMSSZ``) and the RSA signature
    keep their length, so only their bytes change: OCSPResponse > [0]
    ResponseBytes > response OCTET STRING > BasicOCSPResponse >
    tbsResponseData ([0] version, responderID, producedAt, ...) and signature.
    """
    data = bytearray(der)
    (_, _, top, top_end), = _der_children(data, 0, len(data))
    _, explicit = _der_children(data, top, top_end)  # responseStatus, [0] responseBytes
    (_, _, rb, rb_end), = _der_children(data, explicit[2], explicit[3])
    _, octets = _der_children(data, rb, rb_end)  # responseType, response
    (_, _, basic, basic_end), = _der_children(data, octets[2], octets[3])
    tbs, _, signature = _der_children(data, basic, basic_end)[:3]
    produced = next(e for e in _der_children(data, tbs[2], tbs[3]) if e[0] == 0x18)
    stamp = produced_at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode("ascii")
    if produced[3] - produced[2] != len(stamp) or signature[0] != 0x03:
        raise ValueError("unexpected OCSP response encoding")
    data[produced[2]:produced[3]] = stamp
    new_signature = key.sign(bytes(data[tbs[1]:tbs[3]]), padding.PKCS1v15(), hashes.SHA256())
    if signature[3] - signature[2] != 1 + len(new_signature):
        raise ValueError("unexpected OCSP signature length")
    data[signature[2] + 1:signature[3]] = new_signature
    return bytes(data)


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
