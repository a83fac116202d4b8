"""憑證下載: the engine of a download record, and the engine of any record by its kind.

A download is a record of kind ``download`` in the platform's book (:mod:`fxml.renewal.model`):
the same states, rules, record API and tokens as a renewal, and the same crash safety (a key is
made only once the record names its container; the request is recorded before the CA is asked;
the CA answers a retried request id with the certificate it issued). What differs
(docs/engine.md, *憑證下載*):

- **the card**: it need hold no certificate (a blank card). The new key goes into the container
  the platform recorded at 確認下載資訊: one without a certificate, or with an expired one; a valid
  certificate is never removed (``NO_FREE_CONTAINER``). The card must be the record's (its serial
  from CONFIRMED on) and, if it names a holder, the record's holder (``WRONG_CARD``);
- **the name**: the request carries the subject the CA's check of the 授權碼 gave (recorded when
  the platform opened the download), not an old certificate's;
- **the CA**: before any key, :meth:`~fxml.ca.client.CaClient.check_authorization` (an unknown,
  used, expired or another holder's code is refused with nothing on the card changed); then
  :meth:`~fxml.ca.client.CaClient.enroll` with the recorded request, request id and code. The
  engine never holds the CA's admin token: the branch's approval made the code.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509

from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.card.client import PivCardClient
from fxml.renewal.engine import CardEngine, CardFacts, RenewalEngine
from fxml.renewal.errors import RenewalStateError, from_record_error
from fxml.renewal.model import Kind, RecordError, RecordErrorCode, RecordStore, RenewalRecord


class DownloadEngine(CardEngine):
    """One download's engine: ``run()`` takes its record to DONE, 「憑證下載成功」 (or raises RenewalError)."""

    def _card_session(self, record: RenewalRecord) -> CardFacts:
        """The card is the record's (serial, holder); the recorded container, the recorded subject."""

        def look() -> CardFacts:
            info = self._identify(record)
            target = self._recorded_container(record)
            subject = self._recorded_subject(record)
            self._check_pin(record)
            return CardFacts(info.card_serial, target, subject)

        return self._card_call(look, record)

    def _reserve(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """TERMS_ACCEPTED → KEY_PENDING: the CA says the 授權碼 may still be used (nothing is used)."""
        try:
            self.ca.check_authorization(self._code(record), record.holder_id)
        except CaError as exc:
            self._ca_failed(exc, record)
        return self._reserved(record, card)

    def _request_certificate(self, record: RenewalRecord, card: CardFacts) -> CertificateRecord:
        """申請 with the 授權碼: one certificate per code, a retry under the request id answered the same."""
        assert record.csr is not None
        return self.ca.enroll(record.request_id, record.holder_id, self._code(record), record.csr)

    def _code(self, record: RenewalRecord) -> str:
        if not record.authorization_code:
            raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record,
                                    details={"reason": "a download without its authorization code"})
        return record.authorization_code

    def _recorded_subject(self, record: RenewalRecord) -> x509.Name:
        try:
            return x509.Name.from_rfc4514_string(record.subject or "")
        except ValueError as exc:
            raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record,
                                    details={"reason": f"subject: {exc}"}) from exc


#: The engine of each kind of record.
ENGINES: dict[Kind, type[CardEngine]] = {Kind.RENEWAL: RenewalEngine, Kind.DOWNLOAD: DownloadEngine}


def engine_for(card: PivCardClient, ca: CaClient, records: RecordStore, management_key: bytes,
               *args: Any, **kwargs: Any) -> CardEngine:
    """The engine of the record ``records`` keeps, by its kind (asked of the store once); the
    arguments are :class:`~fxml.renewal.engine.CardEngine`'s. A store that cannot be asked is the
    RenewalError ``run()`` would raise."""
    try:
        kind = records.get().kind
    except RecordError as exc:
        raise from_record_error(exc) from exc
    return ENGINES[kind](card, ca, records, management_key, *args, **kwargs)


__all__ = ["ENGINES", "DownloadEngine", "engine_for"]
