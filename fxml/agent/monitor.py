"""Readers and cards as PC/SC itself reports them: one thread blocked in
``SCardGetStatusChange`` on every reader and on the PnP pseudo-reader.

The daemon wakes the call when a card comes or goes or a reader is attached
or detached; the thread turns each change into a :class:`ReaderChange` for
the agent. Nothing here sleeps or polls. :meth:`PcscMonitor.stop` wakes the
call with ``SCardCancel``.

When the daemon itself is gone (stopped, restarted) the thread reports
``available=False`` and tries to reach it again after a pause that doubles
up to :data:`RECONNECT_MAX` seconds: with no daemon there is nothing to wait
on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from smartcard import scard

from fxml.card.pcsc import PNP_NOTIFICATION, PcscError, PcscUnavailableError, ReaderNotFoundError

log = logging.getLogger(__name__)

RECONNECT_FIRST = 0.5
RECONNECT_MAX = 8.0
#: Reader states pcsc-lite accepts in one SCardGetStatusChange (PCSCLITE_MAX_READERS_CONTEXTS).
MAX_READER_STATES = 16


@dataclass(frozen=True)
class ReaderState:
    """A reader as the daemon last reported it."""

    name: str
    present: bool
    atr: bytes
    #: pcsc-lite's event counter (high word of the state): it moves on every insertion and removal.
    counter: int


@dataclass(frozen=True)
class ReaderChange:
    """One thing that happened, in the order it happened."""

    #: "snapshot" (the first view, or after the daemon came back), "reader_added",
    #: "reader_removed", "card_inserted", "card_removed", "pcsc".
    kind: str
    reader: ReaderState | None = None
    #: For "snapshot": every reader; for "pcsc": whether the daemon answers.
    readers: tuple[ReaderState, ...] = ()
    available: bool = True
    message: str | None = None


def _present(event: int, atr: bytes) -> bool:
    return bool(event & scard.SCARD_STATE_PRESENT) and not event & scard.SCARD_STATE_MUTE and bool(atr)


class PcscMonitor:
    """Watches every reader; calls ``on_change`` (on the monitor's thread) for each change."""

    def __init__(self, on_change: Callable[[ReaderChange], None]):
        self._on_change = on_change
        self._stop = threading.Event()
        self._context: int | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="pcsc-monitor", daemon=True)
        #: Set once the first snapshot (or the first failure) has been reported.
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            if self._context is not None:
                scard.SCardCancel(self._context)
        self._thread.join(timeout)

    # -- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        pause = RECONNECT_FIRST
        was_available: bool | None = None
        while not self._stop.is_set():
            code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if code != scard.SCARD_S_SUCCESS:
                if was_available is not False:
                    self._emit(ReaderChange("pcsc", available=False, message=_describe(code)))
                    was_available = False
                self.ready.set()
                self._stop.wait(pause)  # no daemon: nothing to block on but time
                pause = min(pause * 2, RECONNECT_MAX)
                continue
            with self._lock:
                self._context = context
            try:
                if was_available is False:
                    self._emit(ReaderChange("pcsc", available=True))
                was_available = True
                pause = RECONNECT_FIRST
                self._watch(context)
            except _DaemonGoneError as exc:
                if not self._stop.is_set():
                    log.warning("the PC/SC daemon went away: %s", exc)
                    self._emit(ReaderChange("pcsc", available=False, message=str(exc)))
                    was_available = False
                    self._stop.wait(pause)
            except Exception:  # a bug must not silently end card events
                log.exception("the PC/SC monitor failed; starting again")
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT_MAX)
            finally:
                with self._lock:
                    self._context = None
                scard.SCardReleaseContext(context)
        self.ready.set()

    def _emit(self, change: ReaderChange) -> None:
        try:
            self._on_change(change)
        except Exception:
            log.exception("handling a reader change failed")

    def _list(self, context: int) -> list[str]:
        code, names = scard.SCardListReaders(context, [])
        if code == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        if code != scard.SCARD_S_SUCCESS:
            raise _DaemonGoneError(_describe(code))
        return list(names)

    def _watch(self, context: int) -> None:
        known: dict[str, ReaderState] = {}
        #: The state each reader was last reported in, handed back so the daemon blocks until it changes.
        raw: dict[str, int] = {}
        first = True
        pnp_count: int | None = None
        while not self._stop.is_set():
            names = self._list(context)
            self._forget_gone(known, raw, names)
            # pcsc-lite takes at most 16 reader states per call (PCSCLITE_MAX_READERS_CONTEXTS,
            # 0x80100004 beyond): with 16 readers, which is also as many as it serves, no reader
            # can be added, so the PnP pseudo-reader is left out; a reader that goes still
            # shows in its own state.
            with_pnp = len(names) < MAX_READER_STATES
            query = [(PNP_NOTIFICATION, (len(names) if pnp_count is None else pnp_count) << 16)] if with_pnp else []
            query += [(n, raw.get(n, scard.SCARD_STATE_UNAWARE)) for n in names]
            code, states = scard.SCardGetStatusChange(context, 0 if first else scard.INFINITE, query)
            if code == scard.SCARD_E_CANCELLED or self._stop.is_set():
                return
            if code == scard.SCARD_E_TIMEOUT:
                # Only the first call (timeout 0) can time out, and only with no reader at all.
                states = [(name, state, []) for name, state in query]
            elif code in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                continue  # a reader went away between the list and the wait: list again
            elif code != scard.SCARD_S_SUCCESS:
                raise _DaemonGoneError(_describe(code))
            if with_pnp:
                pnp_event = states[0][1]
                if pnp_event & scard.SCARD_STATE_CHANGED:
                    pnp_count = pnp_event >> 16
            self._take(states[1:] if with_pnp else states, known, raw, report=not first)
            if first:
                first = False
                self._emit(ReaderChange("snapshot", readers=tuple(known[n] for n in names if n in known)))
                self.ready.set()

    def _forget_gone(self, known: dict[str, ReaderState], raw: dict[str, int], names: list[str]) -> None:
        """Readers no longer listed: their card, then they, reported gone."""
        for gone in [n for n in known if n not in names]:
            state = known.pop(gone)
            raw.pop(gone, None)
            if state.present:
                self._emit(ReaderChange("card_removed", reader=state))
            self._emit(ReaderChange("reader_removed", reader=state))

    def _take(self, states: list[tuple[str, int, list[int]]], known: dict[str, ReaderState], raw: dict[str, int],
              *, report: bool) -> None:
        """The readers' states pcscd answered, kept; with ``report``, what changed is emitted."""
        for name, event, atr in states:
            if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
                continue
            now = ReaderState(name, _present(event, bytes(atr)), bytes(atr), (event >> 16) & 0xFFFF)
            before = known.get(name)
            known[name] = now
            raw[name] = event & ~scard.SCARD_STATE_CHANGED
            if not report:
                continue
            if before is None:
                self._emit(ReaderChange("reader_added", reader=now))
                if now.present:
                    self._emit(ReaderChange("card_inserted", reader=now))
                continue
            self._report(before, now)

    def _report(self, before: ReaderState, now: ReaderState) -> None:
        """The card events between two views of one reader."""
        if before.present and not now.present:
            self._emit(ReaderChange("card_removed", reader=now))
        elif not before.present and now.present:
            self._emit(ReaderChange("card_inserted", reader=now))
        elif before.present and now.present and (now.counter != before.counter or now.atr != before.atr):
            # Removed and inserted again between two wake-ups: the counter moved twice.
            self._emit(ReaderChange("card_removed", reader=ReaderState(now.name, False, b"", now.counter)))
            self._emit(ReaderChange("card_inserted", reader=now))


def live_states() -> list[ReaderState]:
    """The readers as the daemon sees them this instant (``SCardGetStatusChange``
    with a zero timeout); the monitor's events may still be on their way.
    PcscUnavailableError if no daemon answers."""
    with _context() as context:
        for _ in range(3):  # a reader may go between the list and the question: ask again
            code, found = scard.SCardListReaders(context, [])
            if code == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            _check(code, "cannot list readers")
            code, states = scard.SCardGetStatusChange(context, 0, [(n, scard.SCARD_STATE_UNAWARE) for n in found])
            if code not in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                break
        _check(code, "cannot read the readers' state")
        return [
            ReaderState(name, _present(event, bytes(atr)), bytes(atr), (event >> 16) & 0xFFFF)
            for name, event, atr in states
            if not event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE)
        ]


@contextmanager
def _context() -> Iterator[int]:
    code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    _check(code, "cannot reach the PC/SC daemon")
    try:
        yield context
    finally:
        scard.SCardReleaseContext(context)


def _check(code: int, doing: str) -> None:
    if code == scard.SCARD_S_SUCCESS:
        return
    if code in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        raise PcscUnavailableError(code, f"{doing}: {_describe(code)}")
    if code in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
        raise ReaderNotFoundError(code, f"{doing}: {_describe(code)}")
    raise PcscError(code, f"{doing}: {_describe(code)}")


class _DaemonGoneError(Exception):
    pass


def _describe(code: int) -> str:
    return f"{scard.SCardGetErrorMessage(code).strip().rstrip('.')} (0x{code & 0xFFFFFFFF:08X})"
