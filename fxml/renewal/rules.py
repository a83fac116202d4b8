"""The rules every record store applies to a move: one implementation, two stores.

The platform's :class:`~fxml.platform.renewals.RenewalBook` (SQLite) and the
in-memory store of the tests (:mod:`fxml.renewal.memory`) both call
:func:`apply_move` and :func:`apply_failure`, so they cannot disagree on
what a move may do:

- the move must be one of :data:`~fxml.renewal.model.TRANSITIONS`
  (``BAD_TRANSITION``);
- the record must be in ``expected`` (``STALE``, with the record as it is),
  except that a move the record has already made, with the same fields, is
  answered with the record unchanged: a retried request whose answer was
  lost is not an error;
- a move may set only the fields of its target state (:data:`FIELDS`), each
  at most once: a field that holds a value keeps it (``BAD_RECORD``);
- the fields a state promises are there once the record is in it
  (:data:`REQUIRED`): KEY_PENDING names the container and the card before
  any key is made, KEY_GENERATED the public key, CSR_SIGNED the request,
  ISSUED the certificate, its serial and the chain.

A successful move clears the last refusal noted on the record. A refusal is
noted only on an open record: a DONE or CANCELLED one is final, and a
refusal sent for it (a card shown to a finished renewal is not the one that
holds its key) is answered with the record unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from fxml.renewal.model import TRANSITIONS, RecordError, RecordErrorCode, RenewalRecord, State

#: The containers a new key may go into (PIV 9A and 9C).
CONTAINERS: Final = frozenset({"9A", "9C"})

#: The fields each target state may set.
FIELDS: Final[Mapping[State, frozenset[str]]] = {
    State.CONFIRMED: frozenset({"card_serial", "container"}),
    State.KEY_PENDING: frozenset({"card_serial", "container"}),
    State.KEY_GENERATED: frozenset({"public_key"}),
    State.CSR_SIGNED: frozenset({"csr"}),
    State.ISSUED: frozenset({"new_serial", "certificate", "chain"}),
}

#: The fields a record in each state must hold (set by this move or an earlier one).
REQUIRED: Final[Mapping[State, frozenset[str]]] = {
    State.KEY_PENDING: frozenset({"card_serial", "container"}),
    State.KEY_GENERATED: frozenset({"card_serial", "container", "public_key"}),
    State.CSR_SIGNED: frozenset({"card_serial", "container", "public_key", "csr"}),
    State.ISSUED: frozenset({"card_serial", "container", "public_key", "csr", "new_serial", "certificate", "chain"}),
    State.WRITTEN: frozenset({"card_serial", "container", "public_key", "csr", "new_serial", "certificate", "chain"}),
    State.DONE: frozenset({"card_serial", "container", "public_key", "csr", "new_serial", "certificate", "chain"}),
}

#: Longest text a field, an error code and an error message may hold.
MAX_FIELD: Final = 32 * 1024
MAX_CODE: Final = 64
MAX_MESSAGE: Final = 1024


def _already_made(record: RenewalRecord, to: State, fields: Mapping[str, Any]) -> bool:
    return record.state == to and all(getattr(record, name, object()) == value for name, value in fields.items())


def _check_fields(record: RenewalRecord, to: State, fields: Mapping[str, Any]) -> None:
    allowed = FIELDS.get(to, frozenset())
    for name, value in fields.items():
        if name not in allowed:
            raise RecordError(RecordErrorCode.BAD_RECORD, f"a move to {to} may not set {name!r}", record)
        if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
            raise RecordError(RecordErrorCode.BAD_RECORD, f"{name!r} must be non-empty text", record)
        current = getattr(record, name)
        if current is not None and current != value:
            raise RecordError(RecordErrorCode.BAD_RECORD, f"{name!r} is already set to another value", record)
    container = fields.get("container")
    if container is not None and container not in CONTAINERS:
        raise RecordError(RecordErrorCode.BAD_RECORD, f"container must be one of {sorted(CONTAINERS)}", record)


def apply_move(
    record: RenewalRecord, expected: State, to: State, fields: Mapping[str, Any], at: datetime
) -> tuple[RenewalRecord, bool]:
    """The record after moving it from ``expected`` to ``to`` with ``fields``,
    and whether it changed (False: the move was already made); RecordError if
    the move is refused."""
    if to not in TRANSITIONS.get(expected, frozenset()):
        raise RecordError(RecordErrorCode.BAD_TRANSITION, f"a renewal cannot move from {expected} to {to}", record)
    if record.state != expected:
        if _already_made(record, to, fields):
            return record, False
        raise RecordError(
            RecordErrorCode.STALE, f"the renewal is {record.state}, not {expected}: it moved meanwhile", record
        )
    _check_fields(record, to, fields)
    moved = record.moved(to, at, error_code=None, error_message=None, **dict(fields))
    missing = sorted(name for name in REQUIRED.get(to, ()) if getattr(moved, name) is None)
    if missing:
        raise RecordError(RecordErrorCode.BAD_RECORD, f"a renewal in {to} needs {', '.join(missing)}", record)
    return moved, True


#: States after which a renewal neither moves nor takes a refusal.
FINAL: Final = frozenset({State.DONE, State.CANCELLED})


def apply_failure(record: RenewalRecord, code: str, message: str, at: datetime) -> RenewalRecord:
    """The record with its last refusal noted (its state unchanged); a final record as it is."""
    if not isinstance(code, str) or not code or len(code) > MAX_CODE:
        raise RecordError(RecordErrorCode.BAD_RECORD, f"an error code is 1 to {MAX_CODE} characters", record)
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise RecordError(RecordErrorCode.BAD_RECORD, f"an error message is at most {MAX_MESSAGE} characters", record)
    if record.state in FINAL or (record.error_code == code and record.error_message == message):
        return record
    return record.moved(record.state, at, error_code=code, error_message=message)
