"""The platform's side of the link to the bank, in process: the renewal notices owed for every
renewal at DONE (derived from the book, so none is lost while the bank is away), sent when the book
says a renewal is done and again until the bank answers, backing off after a failure; an answer is
kept and the notice never sent again. Against the real bank process:
tests/integration/test_step9_processes.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fxml.clock import TAIWAN, FixedClock
from fxml.platform.bankapi import BankApiClient, BankApiError, Binding, ErrorCode, RenewalNotice
from fxml.platform.banklink import BankLink
from fxml.platform.renewals import RenewalBook
from fxml.renewal.model import RenewalRecord, State

NOW = datetime(2026, 3, 2, 10, 0, 0, tzinfo=TAIWAN)
MOVES: list[tuple[State, State, dict[str, str]]] = [
    (State.SELECTED, State.CONFIRMED, {}),
    (State.CONFIRMED, State.TERMS_ACCEPTED, {}),
    (State.TERMS_ACCEPTED, State.KEY_PENDING, {"card_serial": "TWCA-SIM-0000000001", "container": "9C"}),
    (State.KEY_PENDING, State.KEY_GENERATED, {"public_key": "MIIBIjANBgkq"}),
    (State.KEY_GENERATED, State.CSR_SIGNED, {"csr": "-----BEGIN CERTIFICATE REQUEST-----"}),
    (State.CSR_SIGNED, State.ISSUED, {"new_serial": "6E567090", "certificate": "-----BEGIN", "chain": "-----BEGIN"}),
    (State.ISSUED, State.WRITTEN, {}),
]


class FakeBank(BankApiClient):
    """Answers notices as told, and remembers them."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", b"k" * 32, FixedClock(NOW))
        self.answers: list[Binding | BankApiError] = []
        self.sent: list[RenewalNotice] = []
        self.called = threading.Event()

    def notify_renewal(self, notice: RenewalNotice) -> Binding:
        self.sent.append(notice)
        self.called.set()
        answer = self.answers.pop(0) if self.answers else Binding.BOUND
        if isinstance(answer, BankApiError):
            raise answer
        return answer


@pytest.fixture
def book(tmp_path: Path) -> Iterator[RenewalBook]:
    opened = RenewalBook.open(tmp_path, FixedClock(NOW))
    yield opened
    opened.close()


@pytest.fixture
def bank() -> FakeBank:
    return FakeBank()


@pytest.fixture
def link(book: RenewalBook, bank: FakeBank) -> Iterator[BankLink]:
    made = BankLink(book.store, bank, sweep_seconds=30)
    book.on_done.append(made.renewal_done)
    yield made
    made.stop()


def to_written(book: RenewalBook, serial: str) -> RenewalRecord:
    record = book.create("A123456789", serial, "A123456789-00-2015")
    for expected, to, fields in MOVES:
        record = book.advance(record.renewal_id, expected, to, **fields)
    return record


def test_only_renewals_at_done_are_owed_and_their_notice_says_what_was_renewed(book: RenewalBook,
                                                                               link: BankLink) -> None:
    record = to_written(book, "5ED369743F009022C86F81242EF662BD")
    assert link.owed() == []
    done = book.advance(record.renewal_id, State.WRITTEN, State.DONE)
    assert [r.renewal_id for r in link.owed()] == [done.renewal_id]
    assert link.deliver_owed() == 1
    assert link.owed() == [] and link.outcome(done.renewal_id) == ("bound", "")
    assert link.deliver_owed() == 0


def test_the_notice_carries_the_renewal(book: RenewalBook, link: BankLink, bank: FakeBank) -> None:
    record = to_written(book, "5ED369743F009022C86F81242EF662BD")
    done = book.advance(record.renewal_id, State.WRITTEN, State.DONE)
    link.deliver_owed()
    assert bank.sent == [RenewalNotice(done.renewal_id, "A123456789", "5ED369743F009022C86F81242EF662BD",
                                       "6E567090", done.updated_at)]


def test_a_bank_away_is_tried_again_and_a_refusal_is_kept(book: RenewalBook, link: BankLink, bank: FakeBank) -> None:
    first = book.advance(to_written(book, "AA").renewal_id, State.WRITTEN, State.DONE)
    second = book.advance(to_written(book, "BB").renewal_id, State.WRITTEN, State.DONE)
    bank.answers = [BankApiError(ErrorCode.BANK_UNREACHABLE, "refused"),
                    BankApiError(ErrorCode.BANK_API_NOT_A_RENEWAL)]
    assert link.deliver_owed() == 1  # the second was refused for good; the first is owed still
    assert link.outcome(second.renewal_id) == ("refused:BANK_API_NOT_A_RENEWAL", "")
    assert [r.renewal_id for r in link.owed()] == [first.renewal_id]
    assert link.deliver_owed() == 0 and len(bank.sent) == 2  # backing off: not sent again at once
    link._backoff.clear()  # the back-off has passed
    assert link.deliver_owed() == 1 and link.outcome(first.renewal_id) == ("bound", "")
    assert [n.renewal_id for n in bank.sent] == [first.renewal_id, second.renewal_id, first.renewal_id]


def test_the_worker_sends_as_soon_as_a_renewal_is_done(book: RenewalBook, link: BankLink, bank: FakeBank) -> None:
    link.start()
    record = to_written(book, "5ED369743F009022C86F81242EF662BD")
    bank.called.clear()
    book.advance(record.renewal_id, State.WRITTEN, State.DONE)
    assert bank.called.wait(5), "the notice was not sent when the renewal reached DONE"
    assert bank.sent[-1].renewal_id == record.renewal_id


def test_a_failing_listener_does_not_undo_the_move(book: RenewalBook) -> None:
    def broken(record: RenewalRecord) -> None:
        raise RuntimeError("listener down")

    book.on_done.append(broken)
    record = to_written(book, "CC")
    done = book.advance(record.renewal_id, State.WRITTEN, State.DONE)
    assert done.state is State.DONE and book.get(record.renewal_id).state is State.DONE


def test_a_refused_authentication_is_owed_still_not_dropped(book: RenewalBook, link: BankLink,
                                                            bank: FakeBank) -> None:
    # The key out of step between platform and bank (one restarted with a new key): the notice waits.
    done = book.advance(to_written(book, "CC").renewal_id, State.WRITTEN, State.DONE)
    bank.answers = [BankApiError(ErrorCode.BANK_API_UNAUTHENTICATED)]
    assert link.deliver_owed() == 0 and link.outcome(done.renewal_id) is None
    assert [r.renewal_id for r in link.owed()] == [done.renewal_id]
    link._backoff.clear()
    assert link.deliver_owed() == 1 and link.outcome(done.renewal_id) == ("bound", "")


def test_notices_backing_off_do_not_hold_back_newer_ones(book: RenewalBook, link: BankLink, bank: FakeBank) -> None:
    waiting = [book.advance(to_written(book, f"{n:04X}").renewal_id, State.WRITTEN, State.DONE) for n in range(60)]
    for record in waiting:
        link._backoff[record.renewal_id] = (3, float("inf"))
    newest = book.advance(to_written(book, "FFFF").renewal_id, State.WRITTEN, State.DONE)
    assert link.deliver_owed() == 1 and link.outcome(newest.renewal_id) == ("bound", "")


def test_notices_owed_are_oldest_first_by_the_instant_whatever_the_utc_offset(book: RenewalBook,
                                                                            link: BankLink) -> None:
    """updated_at is the clock's ISO text; when the clock's UTC offset changes between two renewals,
    the one done first is still owed first."""
    clock = book.clock
    assert isinstance(clock, FixedClock)
    clock.set((NOW + timedelta(minutes=1)).astimezone(UTC))      # 02:01:00+00:00
    later = book.advance(to_written(book, "AA").renewal_id, State.WRITTEN, State.DONE)
    clock.set(NOW)                                               # 10:00:00+08:00: earlier, larger text
    earlier = book.advance(to_written(book, "BB").renewal_id, State.WRITTEN, State.DONE)
    assert [r.renewal_id for r in link.owed()] == [earlier.renewal_id, later.renewal_id]
