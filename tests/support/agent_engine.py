"""A stand-in for the renewal engine, for the card agent's own tests: ``python -m
fxml.agent serve --engine tests.support.agent_engine:factory`` (from the repository's
root). The real engine's run through the agent is tests/pcsc/test_agent_engine.py.

It does the renewal's real work, through the agent's card session and the real CA:
it authenticates with the management key, generates the new key on the card in
the container without a certificate, has the card sign the PKCS#10 request, has
the CA issue the certificate (申請, ``POST /certificates``: the fixture
certificates are outside the renewal window on the system clock) and writes it
into the card. Only the record is kept in memory instead of by the platform.

``renewal_token`` steers it, for the tests of faults:

- ``pause:<fifo>``: after KEY_GENERATED, wait until the test writes a byte
  into the named pipe ``<fifo>`` (the test removes the card meanwhile);
- ``fail:<CODE>``: refuse at once with that code (an engine's refusal).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization

from fxml import env
from fxml.agent.renewal import RenewalContext
from fxml.ca.client import CaClient, read_token
from fxml.card.csr import build_csr
from fxml.card.piv import KeyRef
from fxml.errors import FxmlError
from fxml.renewal.model import TRANSITIONS, RecordError, RecordErrorCode, RenewalRecord, State


class StandInError(FxmlError):
    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"[{code}] {message}")


class MemoryRecords:
    """A RecordStore in memory (compare-and-set, like the platform's)."""

    def __init__(self, record: RenewalRecord, clock: Any):
        self.record = record
        self.clock = clock

    def get(self) -> RenewalRecord:
        return self.record

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        if self.record.state != expected:
            raise RecordError(RecordErrorCode.STALE, "the record moved", self.record)
        if to not in TRANSITIONS[expected]:
            raise RecordError(RecordErrorCode.BAD_TRANSITION, f"{expected} -> {to}", self.record)
        self.record = self.record.moved(to, self.clock.now_taiwan(), **fields)
        return self.record

    def fail(self, code: str, message: str) -> RenewalRecord:
        self.record = self.record.moved(self.record.state, self.clock.now_taiwan(), error_code=code,
                                        error_message=message)
        return self.record


class StandInEngine:
    def __init__(self, context: RenewalContext):
        self.context = context

    def _advance(self, records: MemoryRecords, to: State, **fields: Any) -> None:
        record = records.advance(records.get().state, to, **fields)
        self.context.on_progress(record)

    def run(self) -> RenewalRecord:
        ctx = self.context
        token = ctx.renewal_token
        if token.startswith("fail:"):
            raise StandInError(token.removeprefix("fail:"), "模擬的更新拒絕。")
        card = ctx.card
        info = card.card_info()
        certificates = card.list_certificates()
        old = max(certificates, key=lambda c: c.certificate.not_valid_before_utc)
        container = card.free_container()
        if container is None:
            raise StandInError("NO_FREE_CONTAINER", "憑證載具已無可用的金鑰位置。")
        now = ctx.clock.now_taiwan().isoformat()
        records = MemoryRecords(RenewalRecord(
            renewal_id=ctx.renewal_id, request_id=f"agent-test-{uuid.uuid4().hex}", holder_id=info.holder_id or "",
            old_serial=f"{old.certificate.serial_number:X}", old_cn=old.certificate.subject.rfc4514_string(),
            state=State.TERMS_ACCEPTED, created_at=now, updated_at=now, card_serial=info.card_serial,
            container=f"{int(container):02X}",
        ), ctx.clock)
        self._advance(records, State.KEY_PENDING)
        card.authenticate(ctx.management_key.key, ctx.management_key.algorithm)
        public_key = card.generate_key(container)
        spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self._advance(records, State.KEY_GENERATED, public_key=spki.hex())
        if token.startswith("pause:"):
            with open(token.removeprefix("pause:"), "rb") as fifo:  # blocks until the test writes
                fifo.read(1)
        csr = build_csr(old.certificate.subject, public_key, lambda tbs: card.sign(container, tbs))
        self._advance(records, State.CSR_SIGNED, csr=csr.public_bytes(serialization.Encoding.PEM).decode())
        assert ctx.ca_url, "the stand-in needs the CA (--ca-url)"
        # The stand-in issues with 申請, an RA's operation: it needs the CA's admin token.
        ca = CaClient(ctx.ca_url, actor="agent-test", token=read_token(os.environ[env.CA_TOKEN_FILE]))
        issued = ca.apply(records.get().request_id, info.holder_id or "", csr)
        pem = issued.certificate.public_bytes(serialization.Encoding.PEM).decode()
        self._advance(records, State.ISSUED, new_serial=issued.serial, certificate=pem)
        card.authenticate(ctx.management_key.key, ctx.management_key.algorithm)
        card.store_certificate(KeyRef(container), issued.certificate)
        self._advance(records, State.WRITTEN)
        self._advance(records, State.DONE)
        return records.get()


def factory(context: RenewalContext) -> StandInEngine:
    return StandInEngine(context)

