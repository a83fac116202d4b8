"""The platform's link to the bank: the fax of a proof sheet, and the renewal notices.

The fax is sent while the customer waits ([列印] on the proof sheet); the
page prints once the bank has it. The renewal notice is owed for every
renewal at DONE and must arrive even if the bank is down at that moment:
the notices still owed are *derived* from the renewal book (renewals at DONE
without an answer from the bank in ``bank_notices``), so there is no outbox
to keep in step with the book. A worker thread sends them when a renewal
reaches DONE (the book tells it) and every :data:`SWEEP_SECONDS` otherwise,
backing off per renewal after a failure. An answer the bank gives (bound,
awaiting the branch's filing, or a refusal that cannot pass) is recorded and
never sent again.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from fxml.platform.bankapi import BankApiClient, BankApiError, Binding, RenewalNotice
from fxml.platform.store import PlatformStore
from fxml.renewal.model import Kind, RenewalRecord, State

log = logging.getLogger(__name__)

#: Seconds between two looks for notices still owed.
SWEEP_SECONDS: Final = 2.0
#: The longest wait before a failed notice is tried again.
MAX_BACKOFF: Final = 60.0

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS bank_notices (
    renewal_id TEXT PRIMARY KEY,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    answered_at TEXT NOT NULL,
    attempts INTEGER NOT NULL
);
"""


def notice_for(record: RenewalRecord) -> RenewalNotice:
    assert record.state is State.DONE and record.new_serial
    return RenewalNotice(renewal_id=record.renewal_id, holder_id=record.holder_id, old_serial=record.old_serial,
                         new_serial=record.new_serial, done_at=record.updated_at)


class BankLink:
    """Sends the renewal notices the bank is owed (a worker thread) and faxes (on demand)."""

    def __init__(self, store: PlatformStore, client: BankApiClient, *, sweep_seconds: float = SWEEP_SECONDS):
        self.store = store
        self.client = client
        self.sweep_seconds = sweep_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: renewal id → (failed attempts, monotonic time of the next try)
        self._backoff: dict[str, tuple[int, float]] = {}
        self.store.connection().executescript(_SCHEMA)

    # -- the notices ---------------------------------------------------------------------------------
    def owed(self) -> list[RenewalRecord]:
        """Renewals at DONE the bank has not answered for yet, oldest first."""
        from fxml.platform.renewals import record_from_row, select_columns

        rows = self.store.connection().execute(
            f"{select_columns()} WHERE state = ? AND kind = ?"  # noqa: S608
            " AND renewal_id NOT IN (SELECT renewal_id FROM bank_notices)"
            # All (ones backing off must not hold back the rest), by the instant: not the ISO text.
            # Renewals only: a downloaded certificate was applied for, and the branch that approved
            # the application bound it to the customer then (docs/bank.md).
            " ORDER BY julianday(updated_at), rowid", (State.DONE.value, Kind.RENEWAL.value),
        ).fetchall()
        return [record_from_row(r) for r in rows]

    def outcome(self, renewal_id: str) -> tuple[str, str] | None:
        """What the bank answered for a renewal's notice (outcome, detail), if it did."""
        row = self.store.connection().execute(
            "SELECT outcome, detail FROM bank_notices WHERE renewal_id = ?", (renewal_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def deliver_owed(self) -> int:
        """Send every notice owed whose back-off has passed; how many the bank answered."""
        answered = 0
        for record in self.owed():
            attempts, next_try = self._backoff.get(record.renewal_id, (0, 0.0))
            if time.monotonic() < next_try:
                continue
            try:
                binding = self.client.notify_renewal(notice_for(record))
            except BankApiError as exc:
                if exc.retryable:
                    wait = min(MAX_BACKOFF, 2.0 ** attempts)
                    self._backoff[record.renewal_id] = (attempts + 1, time.monotonic() + wait)
                    log.warning("renewal notice %s not delivered (%s); again in %.0f s", record.renewal_id,
                                exc.code, wait)
                    continue
                self._answered(record, f"refused:{exc.code}", exc.detail, attempts + 1)
                log.error("the bank refused the renewal notice %s: %s", record.renewal_id, exc)
            else:
                self._answered(record, binding.value, "", attempts + 1)
                log.info("renewal notice %s: %s", record.renewal_id, binding.value)
            answered += 1
        return answered

    def _answered(self, record: RenewalRecord, outcome: str, detail: str, attempts: int) -> None:
        self._backoff.pop(record.renewal_id, None)
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO bank_notices(renewal_id, outcome, detail, answered_at, attempts)"
                " VALUES (?, ?, ?, ?, ?)",
                (record.renewal_id, outcome, detail[:500], self.client.clock.now().isoformat(), attempts),
            )

    def renewal_done(self, record: RenewalRecord) -> None:
        """The book's listener: a renewal just reached DONE; send its notice now."""
        if record.state is State.DONE and record.kind is Kind.RENEWAL:
            self._wake.set()

    # -- the worker ----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bank-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_owed()
            except Exception:  # the worker must outlive any one failure; logged with its trace
                log.exception("sending renewal notices to the bank failed")
            self._wake.wait(self.sweep_seconds)
            self._wake.clear()


__all__ = ["SWEEP_SECONDS", "BankLink", "Binding", "notice_for"]
