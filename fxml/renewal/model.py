"""The renewal's contract: its states, its record, the store that keeps the record.

A record is of one of two kinds (:class:`Kind`), on the same states, rules, store and record API:
**憑證更新** (a renewal: a new key and certificate beside the one being renewed) and **憑證下載**
(a download: the certificate a branch approved, authorized by the one-time 授權碼 the branch gave
the customer, onto a card that may hold none). Their engines differ only in the steps where the
old certificate or the 授權碼 matters (:mod:`fxml.renewal.engine`, :mod:`fxml.renewal.download`).

Three parties share this module: the platform's server (which keeps the
authoritative record of every renewal), the engine (which moves a renewal
from 更新約定條款 accepted to done, where the card is) and its callers (the
card agent for the browser, ``fxmlsim renew`` for scripts).

States, in order (docs/engine.md draws them)::

    SELECTED → CONFIRMED → TERMS_ACCEPTED → KEY_PENDING → KEY_GENERATED
      → CSR_SIGNED → ISSUED → WRITTEN → DONE

The platform's pages move a renewal through the first three (the wizard's
選擇更新清單, 確認更新資訊, 更新約定條款); the engine through the rest
(更新送審結果). Every move is a compare-and-set on the record: the mover says
which state it saw, and a record that moved meanwhile is refused, so two
tabs, a double click or a retry from the other side cannot both act.

What makes a crash at any point safe:

- the new key goes into the container that does not hold the current
  certificate, so that certificate and its key stay usable throughout;
- KEY_PENDING is recorded *before* the card generates, with the container:
  a key found there later is known to be this renewal's, never a stray;
- KEY_GENERATED records the public key, CSR_SIGNED the request itself, so a
  retry sends the CA exactly the same request under the same request id and
  the CA answers with the certificate it already issued (one issuance);
- ISSUED records the certificate, so writing it to the card can be repeated.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any, Final, Protocol

from fxml.errors import CodedError, ErrorJson


@enum.unique
class Kind(enum.StrEnum):
    """What a record's engine does."""

    #: 憑證更新(展期): the certificate ``old_serial`` is renewed for a new key on the same card.
    RENEWAL = "renewal"
    #: 憑證下載: the certificate a 授權碼 allows is issued for a new key made on the card.
    DOWNLOAD = "download"

    @property
    def label(self) -> str:
        return "憑證下載" if self is Kind.DOWNLOAD else "憑證更新"


@enum.unique
class State(enum.StrEnum):
    SELECTED = "selected"
    CONFIRMED = "confirmed"
    TERMS_ACCEPTED = "terms_accepted"
    KEY_PENDING = "key_pending"
    KEY_GENERATED = "key_generated"
    CSR_SIGNED = "csr_signed"
    ISSUED = "issued"
    WRITTEN = "written"
    DONE = "done"
    #: Given up by the customer before any key was made (a new renewal may start).
    CANCELLED = "cancelled"

    @property
    def rank(self) -> int:
        return ORDER.index(self) if self in ORDER else -1

    @property
    def label(self) -> str:
        """What the customer is told the renewal is doing."""
        return LABELS[self]


#: The states of a renewal that goes through, in order.
ORDER: Final = (
    State.SELECTED, State.CONFIRMED, State.TERMS_ACCEPTED, State.KEY_PENDING, State.KEY_GENERATED,
    State.CSR_SIGNED, State.ISSUED, State.WRITTEN, State.DONE,
)
#: The states the engine moves a renewal through (from TERMS_ACCEPTED on).
ENGINE_STATES: Final = ORDER[3:]

LABELS: Final = {
    State.SELECTED: "選擇更新清單",
    State.CONFIRMED: "確認更新資訊",
    State.TERMS_ACCEPTED: "更新約定條款",
    State.KEY_PENDING: "於憑證載具產生新金鑰",
    State.KEY_GENERATED: "新金鑰已產生",
    State.CSR_SIGNED: "憑證申請檔已由憑證載具簽章",
    State.ISSUED: "憑證中心已簽發新憑證",
    State.WRITTEN: "新憑證已寫入憑證載具",
    State.DONE: "憑證下載成功",
    State.CANCELLED: "已取消",
}


@dataclass(frozen=True)
class RenewalRecord:
    """One renewal, as the platform keeps it (times ISO 8601, Taiwan time)."""

    renewal_id: str
    #: The request id the CA sees: a retry under it never issues twice.
    request_id: str
    #: The card holder id at the CA (身分證字號 or 統一編號).
    holder_id: str
    #: The certificate being renewed ("" for a download: none is).
    old_serial: str
    #: Its Common Name; for a download the one the 授權碼 names, which the new certificate gets.
    old_cn: str
    state: State
    created_at: str
    updated_at: str
    #: The card the certificate is on (TWCA card serial, object 5FFF01), from CONFIRMED on.
    card_serial: str | None = None
    #: Where the new key goes, from CONFIRMED on: "9A" or "9C", the container
    #: without the certificate being renewed.
    container: str | None = None
    #: SubjectPublicKeyInfo (DER, base64) of the new key, from KEY_GENERATED on.
    public_key: str | None = None
    #: The PKCS#10 request (PEM), from CSR_SIGNED on.
    csr: str | None = None
    #: The new certificate (PEM) and its serial, from ISSUED on.
    new_serial: str | None = None
    certificate: str | None = None
    #: The issuing CA's and the root's certificates (PEM), from ISSUED on.
    chain: str | None = None
    #: The stable code of the last refusal (e.g. the CA's), or None.
    error_code: str | None = None
    error_message: str | None = None
    #: Renewal or download (a record written before downloads existed is a renewal).
    kind: Kind = Kind.RENEWAL
    #: A download's: the subject its request must carry (RFC 4514, as the CA's check of the code
    #: gave it), and the one-time 授權碼 the CA issues it with (the branch's approval).
    subject: str | None = None
    authorization_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RenewalRecord:
        try:
            fields = dict(data)
            fields["state"] = State(fields["state"])
            fields["kind"] = Kind(fields.get("kind") or Kind.RENEWAL)
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(RecordErrorCode.BAD_RECORD, f"not a renewal record: {exc}") from exc

    def moved(self, state: State, at: datetime, **fields: Any) -> RenewalRecord:
        return replace(self, state=state, updated_at=at.isoformat(), **fields)

    @property
    def cn(self) -> str:
        """The Common Name of the certificate the record is about (renewed, or to be downloaded)."""
        return self.old_cn


@enum.unique
class RecordErrorCode(enum.StrEnum):
    #: The record moved since the caller read it (another tab, a double click, the other side).
    STALE = "RENEWAL_STALE"
    #: The move is not the next one allowed from the record's state.
    BAD_TRANSITION = "RENEWAL_BAD_TRANSITION"
    UNKNOWN = "RENEWAL_UNKNOWN"
    BAD_RECORD = "RENEWAL_BAD_RECORD"
    #: The renewal token is missing, forged, expired or for another renewal.
    BAD_TOKEN = "RENEWAL_BAD_TOKEN"  # noqa: S105 - an error code, not a secret
    #: The platform cannot be reached (the record cannot be kept: the engine stops).
    UNREACHABLE = "PLATFORM_UNREACHABLE"


#: The HTTP status of each refusal of the record API (fxml.renewal.api).
RECORD_STATUS: Final[dict[RecordErrorCode, int]] = {
    RecordErrorCode.STALE: 409,
    RecordErrorCode.BAD_TRANSITION: 409,
    RecordErrorCode.UNKNOWN: 404,
    RecordErrorCode.BAD_RECORD: 400,
    RecordErrorCode.BAD_TOKEN: 401,
    RecordErrorCode.UNREACHABLE: 503,
}


class RecordErrorJson(ErrorJson, total=False):
    """A record API refusal's ``error`` object: with the record as it is, when it concerns a known one."""

    renewal: dict[str, Any]


class RecordError(CodedError):
    """The record store refused a move, or cannot be asked; ``record`` is the record as it is
    when the refusal concerns a known one (a STALE move's, say)."""

    STATUS = RECORD_STATUS
    record: RenewalRecord | None = None

    def __init__(self, code: RecordErrorCode, message: str, record: RenewalRecord | None = None):
        self.record = record
        super().__init__(code, message)

    def to_json(self) -> RecordErrorJson:
        """The JSON error, with ``renewal``: the record as it is (never for a refused token)."""
        base = super().to_json()
        answer = RecordErrorJson(code=base["code"], status=base["status"], message=base["message"],
                                 details=base["details"])
        if self.record is not None and self.code != RecordErrorCode.BAD_TOKEN:
            answer["renewal"] = self.record.to_json()
        return answer


#: The moves allowed: from a state to the states that may follow it.
TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    State.SELECTED: frozenset({State.CONFIRMED, State.CANCELLED}),
    State.CONFIRMED: frozenset({State.TERMS_ACCEPTED, State.CANCELLED}),
    State.TERMS_ACCEPTED: frozenset({State.KEY_PENDING, State.CANCELLED}),
    State.KEY_PENDING: frozenset({State.KEY_GENERATED}),
    State.KEY_GENERATED: frozenset({State.CSR_SIGNED}),
    State.CSR_SIGNED: frozenset({State.ISSUED}),
    State.ISSUED: frozenset({State.WRITTEN}),
    State.WRITTEN: frozenset({State.DONE}),
    State.DONE: frozenset(),
    State.CANCELLED: frozenset(),
}


class RecordStore(Protocol):
    """Where one renewal's record is kept (the platform, over HTTP or in process)."""

    def get(self) -> RenewalRecord:
        """The record as it is now."""
        ...

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        """Move the record from ``expected`` to ``to``, setting ``fields``; the new record.

        :class:`RecordError` ``STALE`` if the record is no longer in
        ``expected`` (nothing changed), ``BAD_TRANSITION`` if ``to`` may not
        follow ``expected``. Moving to the state the record is already in, with
        the same fields, answers the record unchanged (a retried request whose
        answer was lost).
        """
        ...

    def fail(self, code: str, message: str) -> RenewalRecord:
        """Note the last refusal on the record (its state does not change)."""
        ...
