"""A :class:`~fxml.renewal.model.RecordStore` in memory, for tests and benchmarks.

It applies the same rules as the platform's store (:mod:`fxml.renewal.rules`)
and keeps every record it held, in order, in :attr:`MemoryRecords.history`.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from fxml.clock import Clock
from fxml.renewal.model import RenewalRecord, State
from fxml.renewal.rules import apply_failure, apply_move


class MemoryRecords:
    """One renewal's record, kept in this process."""

    def __init__(self, record: RenewalRecord, clock: Clock | None = None):
        self.clock = clock or Clock()
        self._record = record
        self._lock = threading.Lock()
        self.history: list[RenewalRecord] = [record]

    @classmethod
    def new(
        cls, holder_id: str, old_serial: str, old_cn: str, *, clock: Clock | None = None,
        state: State = State.TERMS_ACCEPTED, **fields: Any,
    ) -> MemoryRecords:
        """A new renewal record, already at ``state`` (the wizard's part done)."""
        clock = clock or Clock()
        now = clock.now().isoformat()
        renewal_id = uuid.uuid4().hex
        record = RenewalRecord(
            renewal_id=renewal_id, request_id=f"renewal-{renewal_id}", holder_id=holder_id,
            old_serial=old_serial, old_cn=old_cn, state=state, created_at=now, updated_at=now, **fields,
        )
        return cls(record, clock)

    def get(self) -> RenewalRecord:
        with self._lock:
            return self._record

    def advance(self, expected: State, to: State, **fields: Any) -> RenewalRecord:
        with self._lock:
            moved, changed = apply_move(self._record, expected, to, fields, self.clock.now())
            if changed:
                self._record = moved
                self.history.append(moved)
            return moved

    def fail(self, code: str, message: str) -> RenewalRecord:
        with self._lock:
            noted = apply_failure(self._record, code, message, self.clock.now())
            if noted is not self._record:
                self._record = noted
                self.history.append(noted)
            return noted
