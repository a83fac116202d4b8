"""The renewal engine: moves one renewal from 更新約定條款 accepted to 憑證下載成功.

:class:`RenewalEngine` runs where the card is. It reads the renewal's record
from the platform (any :class:`~fxml.renewal.model.RecordStore`), looks at
the card, and does what the record's state says is next, recording each step
before the next one starts (docs/engine.md draws the machine)::

    TERMS_ACCEPTED  the CA confirms the certificate may be renewed now;
                    the target container is chosen and checked
      → KEY_PENDING     recorded with the container and card, before the card acts
      → KEY_GENERATED   the card generated RSA-2048 there; its public key recorded
      → CSR_SIGNED      PKCS#10 for it, signed by the card, recorded
      → ISSUED          the CA renewed under the record's request id; the
                        certificate, its serial and the chain recorded
      → WRITTEN         certificate and chain written to the card
      → DONE            the card's key there signs a fresh challenge the
                        recorded key verifies; its certificate read back and
                        compared

Run it again at any point (after a crash, a card pulled out, a service that
did not answer) and it goes on from the state the record is in; the CA sees
the same request under the same request id and issues at most once. The
certificate being renewed and its key are never touched: the new key goes
into the other container.

From KEY_GENERATED on, the renewal belongs to the card that holds its new
key: before any step, and before DONE is answered (a run on a DONE record
included), the card proves it holds the recorded key in the recorded
container. A card that cannot (another card with the same serial, a copy of
the card's image made before the key was) is refused with
``NEW_KEY_NOT_ON_CARD`` and nothing is done on it: a private key never
leaves its card, so no other card could use the new certificate.

Preconditions: the caller has selected the card's PIV application and
verified the PIN in the card session (the card agent keeps such a session,
the CLI verifies before ``run``). Without it :class:`~fxml.renewal.errors.PinNotVerifiedError`.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fxml.ca.api import renewal_proof_message
from fxml.ca.client import CaClient, CaError, CertificateRecord
from fxml.card.client import CardInfo, PivCardClient
from fxml.card.connection import TransportError
from fxml.card.csr import CsrError, build_csr
from fxml.card.errors import (
    AuthenticationError,
    CardError,
    ConditionsNotSatisfiedError,
    NotFoundError,
    SecurityStatusError,
)
from fxml.card.pcsc import CardResetError, NoCardError, PcscUnavailableError, ReaderNotFoundError
from fxml.card.piv import SIGNATURE_CONTAINERS, Algorithm, KeyRef
from fxml.clock import Clock
from fxml.renewal.errors import (
    CardFailureError,
    CardRemovedError,
    CaRefusedError,
    PinNotVerifiedError,
    RenewalError,
    RenewalErrorCode,
    RenewalStateError,
    UnreachableError,
    WrongCardError,
    from_record_error,
)
from fxml.renewal.model import RecordError, RecordErrorCode, RecordStore, RenewalRecord, State

log = logging.getLogger(__name__)

#: The CA's codes that mean "no answer", not "no".
_CA_UNREACHABLE: Final = frozenset({"CA_UNREACHABLE", "BUSY", "REQUEST_TIMEOUT"})
#: States whose remaining steps need the PIN: DELETE KEY, the CSR's signature, the old
#: key's signature over the request for the renewal (the CA requires it), the new key's
#: proof (from KEY_GENERATED on, DONE included) that this card holds it.
_NEEDS_PIN: Final = frozenset({
    State.TERMS_ACCEPTED, State.KEY_PENDING, State.KEY_GENERATED, State.CSR_SIGNED, State.ISSUED, State.WRITTEN,
    State.DONE,
})
#: What the card signs, with 32 random bytes after it, to prove it holds the new key.
_CHALLENGE: Final = b"fxmlsim renewal check "
#: How often a step may find the record moved by someone else before the engine gives up.
_MAX_STALE: Final = 8

Progress = Callable[[RenewalRecord], None]
T = TypeVar("T")


def container_name(ref: int) -> str:
    """``9A`` / ``9C``: a key container as the record names it."""
    return f"{int(ref):02X}"


def spki_text(key: rsa.RSAPublicKey) -> str:
    """The record's form of a public key: SubjectPublicKeyInfo DER, base64."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def public_key_of(text: str) -> rsa.RSAPublicKey:
    key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the recorded public key is not RSA")
    return key


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True)
class CardFacts:
    """What the engine found on the card at the start of a run."""

    card_serial: str
    #: The container the new key goes into.
    target: KeyRef
    #: The name the request (and the certificate) carries.
    subject: x509.Name
    #: A renewal's: the container of the certificate being renewed (never touched), whose key
    #: signs the request for the renewal.
    old_container: KeyRef | None = None


class CardEngine:
    """What every record's engine does on the card (the base of :class:`RenewalEngine` and
    :class:`~fxml.renewal.download.DownloadEngine`): ``run()`` takes its record to DONE (or raises
    RenewalError), one recorded move at a time. A kind's engine says how it finds the card's facts
    (:meth:`_card_session`), what it asks before any key is made (:meth:`_reserve`) and how it has
    the CA issue the certificate (:meth:`_request_certificate`); generating the key, the request the
    card signs, writing the certificate and the proofs that the card holds the key are the same.

    ``card`` is a client of the card in a session where the PIV application
    is selected and the PIN verified; ``ca`` the CA's client; ``records`` the
    store of this record (the platform's, over HTTP, for real);
    ``management_key`` and ``management_algorithm`` the card's administration
    key (for generating the key and writing the certificate). ``on_progress``
    is called with the record after every move.
    """

    def __init__(
        self,
        card: PivCardClient,
        ca: CaClient,
        records: RecordStore,
        management_key: bytes,
        management_algorithm: Algorithm = Algorithm.TDEA_3KEY,
        clock: Clock | None = None,
        on_progress: Progress | None = None,
    ):
        self.card = card
        self.ca = ca
        self.records = records
        self.management_key = bytes(management_key)
        self.management_algorithm = management_algorithm
        self.clock = clock or Clock()
        self.on_progress = on_progress
        self._stale = 0
        #: The new key (the record's ``public_key``) this card has proven it holds, in this run.
        self._proven: str | None = None
        #: The certificate (PEM) this card has been found to hold with that key, in this run.
        self._confirmed: str | None = None

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> RenewalRecord:
        """Take the renewal from its current state to DONE; the record at DONE.

        Every error the customer can meet is a RenewalError (code, zh-TW
        message, ``retryable``); the record keeps the last refusal.
        """
        record: RenewalRecord | None = None
        try:
            record = self.records.get()
            return self._run(record)
        except RenewalError as exc:
            self._note(exc)
            raise
        except RecordError as exc:
            raise from_record_error(exc, record) from exc

    def _run(self, record: RenewalRecord) -> RenewalRecord:
        if record.state == State.DONE:
            # Done, but not necessarily on this card: DONE is answered only to the card
            # that holds the new certificate and its key (the certificate being renewed
            # need not be on it any more).
            return self._card_call(functools.partial(self._confirm, record), record)
        if record.state == State.CANCELLED:
            raise RenewalStateError(RenewalErrorCode.CANCELLED, record=record)
        if record.state.rank < State.TERMS_ACCEPTED.rank:
            raise RenewalStateError(RenewalErrorCode.NOT_READY, record=record)
        card = self._card_session(record)
        steps: dict[State, Callable[[RenewalRecord, CardFacts], RenewalRecord]] = {
            State.TERMS_ACCEPTED: self._reserve,
            State.KEY_PENDING: self._generate,
            State.KEY_GENERATED: self._sign_request,
            State.CSR_SIGNED: self._issue,
            State.ISSUED: self._write,
            State.WRITTEN: self._finish,
        }
        while True:
            step = steps.get(record.state)
            if step is None:
                return record  # DONE, checked on this card (a CANCELLED record cannot follow an engine state)
            log.debug("renewal %s: %s", record.renewal_id, record.state)
            if record.public_key is not None:
                # The new key exists: the rest is for the card that holds it, and no other.
                self._card_call(functools.partial(self._prove_new_key, record, card.target), record)
            record = self._card_call(functools.partial(step, record, card), record)
            if record.state == State.DONE and self._confirmed != record.certificate:
                # Another run finished it meanwhile (on this card or another): this card
                # was not checked for it yet (this run's WRITTEN → DONE checks it).
                record = self._card_call(functools.partial(self._confirm, record), record)

    # -- the card ------------------------------------------------------------------------------
    def _card_call(self, action: Callable[[], T], record: RenewalRecord) -> T:
        """Run ``action``, turning the card's and the transport's faults into RenewalErrors."""
        try:
            return action()
        except (NoCardError, ReaderNotFoundError) as exc:
            raise CardRemovedError(RenewalErrorCode.CARD_REMOVED, record=record, details={"reason": str(exc)}) from exc
        except CardResetError as exc:
            # Another application reset the card: its PIN session is gone.
            raise PinNotVerifiedError(record=record, details={"reason": str(exc)}) from exc
        except PcscUnavailableError as exc:
            raise CardRemovedError(RenewalErrorCode.CARD_UNREACHABLE, record=record,
                                   details={"reason": str(exc)}) from exc
        except TransportError as exc:
            raise CardRemovedError(RenewalErrorCode.CARD_REMOVED, record=record, details={"reason": str(exc)}) from exc
        except SecurityStatusError as exc:
            # The engine authenticates the management key itself: what is missing is the PIN.
            raise PinNotVerifiedError(record=record, details={"reason": str(exc)}) from exc
        except AuthenticationError as exc:
            # The management key's proof is checked in _authenticate: this is a signature
            # that does not verify with the recorded key.
            raise CardFailureError(RenewalErrorCode.CARD_KEY_MISMATCH, record=record,
                                   details={"reason": str(exc)}) from exc
        except CardError as exc:
            raise CardFailureError(RenewalErrorCode.CARD_ERROR, record=record, details={"reason": str(exc)}) from exc

    def _identify(self, record: RenewalRecord) -> CardInfo:
        """The card's serial and holder are the record's (WRONG_CARD if not)."""
        info = self.card.card_info()
        if record.card_serial is not None and info.card_serial != record.card_serial:
            raise WrongCardError(RenewalErrorCode.WRONG_CARD, record=record,
                                 details={"expected": record.card_serial, "found": info.card_serial})
        if info.holder_id is not None and info.holder_id != record.holder_id:
            raise WrongCardError(RenewalErrorCode.WRONG_CARD, record=record,
                                 details={"expected_holder": record.holder_id, "found_holder": info.holder_id})
        return info

    def _card_session(self, record: RenewalRecord) -> CardFacts:
        """Check the card is the record's and ready (:meth:`_check_pin` last); what the run needs of it."""
        raise NotImplementedError

    def _check_pin(self, record: RenewalRecord) -> None:
        if record.state in _NEEDS_PIN and not self.card.pin_status().verified:
            raise PinNotVerifiedError(record=record)

    def _prove_new_key(self, record: RenewalRecord, ref: KeyRef, *, fresh: bool = False) -> None:
        """The card holds the renewal's new key in ``ref``: it signs a fresh challenge that
        the recorded public key verifies (unless this run proved it already, or made the key
        itself, and ``fresh`` is false). NEW_KEY_NOT_ON_CARD if the container holds no key
        or another one; nothing is written either way (the client is not told the key)."""
        if not fresh and self._proven is not None and self._proven == record.public_key:
            return
        key = self._recorded_key(record)
        try:
            self.card.sign(ref, _CHALLENGE + os.urandom(32), public_key=key)
        except (NotFoundError, AuthenticationError) as exc:  # no key there (6A88), or another key
            raise WrongCardError(RenewalErrorCode.NEW_KEY_NOT_ON_CARD, record=record, details={
                "container": container_name(ref), "reason": str(exc)}) from exc
        self._proven = record.public_key

    def _confirm(self, record: RenewalRecord) -> RenewalRecord:
        """A DONE record, answered only to the card that holds its certificate and key.

        The card is the record's (serial, holder), its recorded container holds a
        key that signs for the recorded public key, and the certificate there is the
        recorded one; a card that proves the key but has no certificate in that
        container gets it (and the chain) written again.
        """
        self._identify(record)
        if not self.card.pin_status().verified:
            raise PinNotVerifiedError(record=record)
        self._holds_certificate(record, self._recorded_container(record))
        return record

    def _holds_certificate(self, record: RenewalRecord, ref: KeyRef) -> None:
        """What DONE needs of the card: the key in ``ref`` signs a fresh challenge for the
        recorded key, and ``ref`` holds the recorded certificate. An empty certificate
        object there is written again (the key is this card's); another certificate is a
        CARD_ERROR."""
        self._prove_new_key(record, ref, fresh=True)
        certificate, _ = self._recorded_certificates(record)
        occupant = self._occupant(ref)
        if occupant is None:
            log.info("renewal %s: %s holds the new key but not its certificate; writing it again",
                     record.renewal_id, container_name(ref))
            self._store(record, ref)
            occupant = self._occupant(ref)
        if occupant != certificate:
            raise CardFailureError(RenewalErrorCode.CARD_ERROR, record=record, details={
                "reason": f"container {container_name(ref)} does not hold the new certificate"})
        self._confirmed = record.certificate

    def _store(self, record: RenewalRecord, ref: KeyRef) -> None:
        """The recorded certificate into ``ref``, the chain into 5FFF02, in one card transaction."""
        certificate, chain = self._recorded_certificates(record)
        with self.card.transaction():
            self._authenticate(record)
            self.card.set_public_key(ref, self._recorded_key(record))
            self.card.store_certificate(ref, certificate)
            self.card.store_ca_chain(chain)

    def _authenticate(self, record: RenewalRecord) -> None:
        try:
            self.card.authenticate(self.management_key, self.management_algorithm)
        except AuthenticationError as exc:
            raise CardFailureError(RenewalErrorCode.CARD_MANAGEMENT_KEY, record=record,
                                   details={"reason": str(exc)}) from exc

    def _occupant(self, ref: KeyRef) -> x509.Certificate | None:
        try:
            return self.card.certificate(ref)
        except NotFoundError:
            return None

    def _check_room(self, record: RenewalRecord, card: CardFacts) -> bool:
        """Whether the target container must be cleared first; NO_FREE_CONTAINER if it
        holds a certificate that is still valid (never removed)."""
        occupant = self._occupant(card.target)
        if occupant is None:
            return False
        if occupant.not_valid_after_utc < self.clock.now():
            return True
        raise CardFailureError(RenewalErrorCode.NO_FREE_CONTAINER, record=record, details={
            "container": container_name(card.target), "serial": f"{occupant.serial_number:X}",
            "not_after": occupant.not_valid_after_utc.isoformat()})

    # -- the steps -----------------------------------------------------------------------------
    def _reserve(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """TERMS_ACCEPTED → KEY_PENDING: the kind's question to the CA (nothing issued), the room on
        the card; nothing on the card changes until the record names the container."""
        raise NotImplementedError

    def _reserved(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """KEY_PENDING recorded with the card and the container, once the target has room."""
        self._check_room(record, card)
        return self._advance(record, State.KEY_PENDING, card_serial=card.card_serial,
                             container=container_name(card.target))

    def _generate(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """KEY_PENDING → KEY_GENERATED, holding the card for the whole step.

        Whatever is in the target container now is this renewal's key (no
        certificate: made by an earlier run that did not live to record it)
        or an expired certificate with its key: both are removed. A valid
        certificate there is never removed (NO_FREE_CONTAINER).
        """
        with self.card.transaction():
            current = self.records.get()
            if current.state != State.KEY_PENDING:  # another run moved it while we waited for the card
                return current
            self._authenticate(current)
            if self._check_room(current, card):
                log.info("renewal %s: removing the expired certificate and key of %s", current.renewal_id,
                         container_name(card.target))
                self.card.remove_key(card.target)
            try:
                key = self.card.generate_key(card.target)
            except ConditionsNotSatisfiedError:
                log.info("renewal %s: %s holds this renewal's earlier key; generating again", current.renewal_id,
                         container_name(card.target))
                self.card.remove_key(card.target)
                key = self.card.generate_key(card.target)
            self._proven = spki_text(key)  # made on this card, now
            return self._advance(current, State.KEY_GENERATED, public_key=self._proven)

    def _sign_request(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """KEY_GENERATED → CSR_SIGNED: the card signs a PKCS#10 in the record's name (a renewal's: the
        old certificate's)."""
        key = self._recorded_key(record)
        self.card.set_public_key(card.target, key)
        try:
            csr = build_csr(card.subject, key, lambda tbs: self.card.sign(card.target, tbs))
        except CsrError as exc:
            raise CardFailureError(RenewalErrorCode.CARD_KEY_MISMATCH, record=record,
                                   details={"reason": str(exc)}) from exc
        text = csr.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return self._advance(record, State.CSR_SIGNED, csr=text)

    def _request_certificate(self, record: RenewalRecord, card: CardFacts) -> CertificateRecord:
        """The kind's call to the CA for the recorded request, under the recorded request id."""
        raise NotImplementedError

    def _issue(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """CSR_SIGNED → ISSUED: the recorded request, under the recorded request id."""
        assert record.csr is not None
        try:
            issued = self._request_certificate(record, card)
            chain = list(issued.chain) or self.ca.chain()
        except CaError as exc:
            self._ca_failed(exc, record)
        key = self._recorded_key(record)
        if spki_text(_rsa(issued.certificate.public_key(), record)) != spki_text(key) \
                or issued.certificate.subject != card.subject:
            raise CaRefusedError(RenewalErrorCode.CA_BAD_CERTIFICATE, record=record,
                                 details={"serial": issued.serial})
        if issued.replayed:
            log.info("renewal %s: the CA answered the certificate it issued before (%s)", record.renewal_id,
                     issued.serial)
        return self._advance(record, State.ISSUED, new_serial=issued.serial, certificate=pem(issued.certificate),
                             chain="".join(pem(c) for c in chain))

    def _write(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """ISSUED → WRITTEN: the certificate into the target container, the chain into 5FFF02
        (repeatable). The run proved first that the container holds the certificate's key."""
        self._store(record, card.target)
        return self._advance(record, State.WRITTEN)

    def _finish(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """WRITTEN → DONE: the target container signs a fresh challenge that the recorded key
        verifies (the key the certificate certifies: the CA's certificate was checked at
        ISSUED), and holds the new certificate (read back)."""
        self._holds_certificate(record, card.target)
        return self._advance(record, State.DONE)

    # -- the record ----------------------------------------------------------------------------
    def _advance(self, record: RenewalRecord, to: State, **fields: Any) -> RenewalRecord:
        """Record the move; a record that moved meanwhile is taken as it is (the loop goes on from there)."""
        try:
            moved = self.records.advance(record.state, to, **fields)
        except RecordError as exc:
            if exc.code != RecordErrorCode.STALE:
                raise
            self._stale += 1
            if self._stale > _MAX_STALE:
                raise
            moved = exc.record or self.records.get()
            log.info("renewal %s moved to %s meanwhile; going on from there", record.renewal_id, moved.state)
            return moved
        if self.on_progress is not None:
            self.on_progress(moved)
        return moved

    def _note(self, exc: RenewalError) -> None:
        """Note a refusal on the record, when the record can be reached and it is worth keeping
        (a DONE or CANCELLED record keeps none: the store answers it unchanged)."""
        if exc.code in (RenewalErrorCode.PIN_NOT_VERIFIED, *RecordErrorCode):
            return
        try:
            self.records.fail(exc.code, exc.message)
        except (RecordError, OSError) as noted:
            log.info("could not note %s on the record: %s", exc.code, noted)

    def _ca_failed(self, exc: CaError, record: RenewalRecord) -> NoReturn:
        details = {"status": exc.status, **exc.details}
        if exc.code in _CA_UNREACHABLE:
            raise UnreachableError(exc.code, exc.message, record=record, details=details) from exc
        raise CaRefusedError(exc.code, exc.message, record=record, details=details) from exc

    def _recorded_key(self, record: RenewalRecord) -> rsa.RSAPublicKey:
        try:
            assert record.public_key is not None
            return public_key_of(record.public_key)
        except (AssertionError, ValueError) as exc:
            raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record,
                                    details={"reason": f"public key: {exc}"}) from exc

    def _recorded_container(self, record: RenewalRecord) -> KeyRef:
        refs = {container_name(ref): ref for ref in SIGNATURE_CONTAINERS}
        if record.container not in refs:
            raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record,
                                    details={"reason": f"container: {record.container!r}"})
        return refs[record.container]

    def _recorded_certificates(self, record: RenewalRecord) -> tuple[x509.Certificate, list[x509.Certificate]]:
        try:
            assert record.certificate is not None and record.chain is not None
            certificate = x509.load_pem_x509_certificate(record.certificate.encode("ascii"))
            chain = x509.load_pem_x509_certificates(record.chain.encode("ascii"))
        except (AssertionError, ValueError) as exc:
            raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record,
                                    details={"reason": f"certificate: {exc}"}) from exc
        return certificate, chain


class RenewalEngine(CardEngine):
    """One renewal's engine (憑證更新): the new key beside the certificate being renewed, in the
    other container; the CA's renewal authorized by the old key's signature."""

    def _card_session(self, record: RenewalRecord) -> CardFacts:
        """Check the card is the renewal's and ready; where the old certificate and the new key are."""

        def look() -> CardFacts:
            info = self._identify(record)
            old = next((c for c in self.card.list_certificates() if _same_serial(c.certificate, record.old_serial)),
                       None)
            if old is None:
                raise WrongCardError(RenewalErrorCode.CERT_NOT_ON_CARD, record=record,
                                     details={"serial": record.old_serial})
            others = [ref for ref in SIGNATURE_CONTAINERS if ref != old.container]
            target = others[0]
            if record.container is not None and record.container != container_name(target):
                raise RenewalStateError(RecordErrorCode.BAD_RECORD, record=record, details={
                    "reason": f"the record names container {record.container}, which holds the certificate "
                              "being renewed"})
            self._check_pin(record)
            return CardFacts(info.card_serial, target, old.certificate.subject, old.container)

        return self._card_call(look, record)

    def _reserve(self, record: RenewalRecord, card: CardFacts) -> RenewalRecord:
        """TERMS_ACCEPTED → KEY_PENDING: the CA says the old certificate may be renewed now."""
        try:
            self.ca.renewal_check(record.old_serial)
        except CaError as exc:
            self._ca_failed(exc, record)
        return self._reserved(record, card)

    def _request_certificate(self, record: RenewalRecord, card: CardFacts) -> CertificateRecord:
        """更新: the old key (on the card, never leaving it) signs the request for the renewal: only
        the holder of the certificate being renewed may renew it."""
        assert record.csr is not None and card.old_container is not None
        csr_der = x509.load_pem_x509_csr(record.csr.encode("ascii")).public_bytes(serialization.Encoding.DER)
        proof = self.card.sign(card.old_container, renewal_proof_message(record.request_id, record.old_serial,
                                                                         csr_der))
        return self.ca.renew(record.request_id, record.old_serial, record.csr, proof)


def _same_serial(cert: x509.Certificate, serial: str) -> bool:
    try:
        return cert.serial_number == int(serial.replace(":", ""), 16)
    except ValueError:
        return False


def _rsa(key: object, record: RenewalRecord) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        raise CaRefusedError(RenewalErrorCode.CA_BAD_CERTIFICATE, record=record, details={"reason": "not RSA"})
    return key
