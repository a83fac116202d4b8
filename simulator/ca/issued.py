"""What the CA answers about a certificate and a 授權碼: an issued certificate with its status
at the time it was read, and what a one-time authorization code allows (:mod:`simulator.ca.service`
makes them; :mod:`simulator.ca.app` answers them as JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from fxml.ca.api import CertStatus
from fxml.clock import TAIWAN
from fxml.display import display_name


def _iso(instant: datetime | None) -> str | None:
    return instant.astimezone(TAIWAN).isoformat() if instant else None


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate of the registry with its status at the time it was read."""

    serial: str
    holder_id: str
    cn: str
    certificate: x509.Certificate
    status: CertStatus
    not_before: datetime
    not_after: datetime
    issued_at: datetime
    renewed_from: str | None = None
    renewed_by: str | None = None
    suspended_at: datetime | None = None
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    #: True when a retried request id returned the certificate it issued before.
    replayed: bool = False

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def subject(self) -> str:
        return display_name(self.certificate.subject)

    @property
    def issuer(self) -> str:
        return display_name(self.certificate.issuer)

    def to_json(self) -> dict[str, Any]:
        """The JSON the HTTP API answers with (times in Taiwan time, ISO 8601)."""
        return {
            "serial": self.serial,
            "holder_id": self.holder_id,
            "cn": self.cn,
            "subject": self.subject,
            "issuer": self.issuer,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "status": self.status.value,
            "issued_at": _iso(self.issued_at),
            "renewed_from": self.renewed_from,
            "renewed_by": self.renewed_by,
            "suspended_at": _iso(self.suspended_at),
            "revoked_at": _iso(self.revoked_at),
            "revocation_reason": self.revocation_reason,
            "replayed": self.replayed,
            "certificate": self.pem,
        }


@dataclass(frozen=True)
class Authorization:
    """What a 授權碼 allows: one certificate for ``holder_id`` named ``subject`` until ``expires_at``."""

    holder_id: str
    cn: str
    subject: x509.Name
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    serial: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"holder_id": self.holder_id, "cn": self.cn, "subject": display_name(self.subject),
                "subject_rfc4514": self.subject.rfc4514_string(), "issued_at": _iso(self.issued_at),
                "expires_at": _iso(self.expires_at), "used_at": _iso(self.used_at), "serial": self.serial}


__all__ = ["Authorization", "IssuedCertificate"]
