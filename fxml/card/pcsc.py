"""Card connections through PC/SC (pyscard's low-level ``smartcard.scard``).

The same code reaches a physical reader through the system's pcscd and a
virtual reader through the simulator's private pcscd: pcsc-lite's client
library connects to the socket named by ``PCSCLITE_CSOCK_NAME`` when it is
set, so nothing here names a path. The library reads that variable once, at
the first PC/SC call of a process: a process talks to one pcscd for its life.

Waiting for readers and cards uses SCardGetStatusChange, which blocks in the
daemon until the state changes; nothing here sleeps or polls.

A connection shares its card with other applications (pcscd serves them
all). :meth:`PcscConnection.transaction` holds the card for one sequence of
commands; when another application resets the card in between,
:class:`CardResetError` says so and the connection is usable again at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from smartcard import scard

from fxml.card.apdu import CommandApdu, MalformedApduError
from fxml.card.connection import TransportError

SOCKET_ENV = "PCSCLITE_CSOCK_NAME"
#: The pseudo-reader whose state changes when a reader is added or removed.
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"


class PcscError(TransportError):
    """A PC/SC call failed. ``code`` is the PC/SC return code."""

    def __init__(self, code: int, message: str):
        self.code = code & 0xFFFFFFFF
        super().__init__(message)


class PcscUnavailableError(PcscError):
    """No PC/SC daemon answers (not running, or a different socket)."""


class ReaderNotFoundError(PcscError, LookupError):
    """No reader, or more than one, matches the name asked for."""


class NoCardError(PcscError):
    """The reader has no card, or it was removed during the session."""


class CardResetError(PcscError):
    """Another application reset the card (SCARD_W_RESET_CARD).

    The command was not sent. The card has lost its state: the PIV
    application is no longer selected and neither the PIN nor the management
    key counts as presented. The connection is re-established, so the caller
    can select, verify and go on with the same connection.
    """


def _socket_hint() -> str:
    where = os.environ.get(SOCKET_ENV)
    return f"{SOCKET_ENV}={where}" if where else f"{SOCKET_ENV} not set, the system pcscd's socket"


def _describe(code: int) -> str:
    return f"{scard.SCardGetErrorMessage(code).strip().rstrip('.')} (0x{code & 0xFFFFFFFF:08X})"


def _check(code: int, doing: str, reader: str | None = None) -> None:
    if code == scard.SCARD_S_SUCCESS:
        return
    where = f" on reader {reader!r}" if reader else ""
    text = f"{doing}{where}: {_describe(code)}"
    if code in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        raise PcscUnavailableError(code, f"{text}; is pcscd running? ({_socket_hint()})")
    if code in (scard.SCARD_E_NO_SMARTCARD, scard.SCARD_W_REMOVED_CARD):
        raise NoCardError(code, text)
    if code == scard.SCARD_W_RESET_CARD:
        raise CardResetError(
            code,
            f"{text}: another application reset the card; the command was not sent. "
            "Select the application and present the PIN and the management key again",
        )
    if code in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
        raise ReaderNotFoundError(code, text)
    raise PcscError(code, text)


class _Context:
    """A PC/SC resource-manager context, released on exit."""

    def __enter__(self) -> int:
        code, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(code, "cannot reach the PC/SC daemon")
        self.handle = int(handle)
        return self.handle

    def __exit__(self, *exc_info: object) -> None:
        scard.SCardReleaseContext(self.handle)


def _list(context: int) -> list[str]:
    code, readers = scard.SCardListReaders(context, [])
    if code == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    _check(code, "cannot list readers")
    return list(readers)


def list_readers() -> list[str]:
    """The names of the readers the PC/SC daemon knows; PcscUnavailableError
    if no daemon answers."""
    with _Context() as context:
        return _list(context)


def _match(name: str, readers: list[str]) -> str | None:
    """The reader called ``name``, or the only one whose name contains it
    (case-insensitive); None if there is none; ReaderNotFoundError if several."""
    if name in readers:
        return name
    found = [r for r in readers if name.lower() in r.lower()]
    if len(found) > 1:
        raise ReaderNotFoundError(
            scard.SCARD_E_UNKNOWN_READER, f"{name!r} matches {len(found)} readers: {', '.join(found)}"
        )
    return found[0] if found else None


def resolve_reader(name: str) -> str:
    """The full name of the reader ``name`` designates (exact, or a unique substring)."""
    with _Context() as context:
        return _resolve(context, name)


def _resolve(context: int, name: str) -> str:
    readers = _list(context)
    found = _match(name, readers)
    if found is None:
        known = ", ".join(repr(r) for r in readers) or "none"
        raise ReaderNotFoundError(scard.SCARD_E_UNKNOWN_READER, f"no reader matches {name!r} (readers: {known})")
    return found


def _milliseconds(deadline: float | None) -> int:
    if deadline is None:
        return int(scard.INFINITE)
    return max(0, int((deadline - time.monotonic()) * 1000))


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def wait_for_reader(name: str, timeout: float | None) -> str:
    """Wait until a reader matching ``name`` is attached; returns its full name.

    TimeoutError after ``timeout`` seconds (None waits for ever).
    """
    deadline = _deadline(timeout)
    with _Context() as context:
        daemon_count: int | None = None
        while True:
            readers = _list(context)
            found = _match(name, readers)
            if found is not None:
                return found
            # pcsc-lite reports a change on the PnP pseudo-reader as soon as
            # its reader count differs from the one in the high word we pass;
            # after a change we pass the count it reported, so that a
            # difference in how it counts cannot make this loop spin.
            count = len(readers) if daemon_count is None else daemon_count
            watched = [(PNP_NOTIFICATION, count << 16)]
            code, states = scard.SCardGetStatusChange(context, _milliseconds(deadline), watched)
            if code == scard.SCARD_E_TIMEOUT:
                raise TimeoutError(f"no reader matching {name!r} appeared within {timeout:g} s")
            _check(code, "waiting for readers")
            event = states[0][1]
            if event & scard.SCARD_STATE_CHANGED:
                daemon_count = event >> 16


def wait_for_card(reader: str, present: bool = True, timeout: float | None = 10.0) -> None:
    """Wait until a card is in ``reader`` (``present=True``) or gone from it.

    Returns at once if the reader is already in that state. TimeoutError
    naming the reader after ``timeout`` seconds (None waits for ever);
    ReaderNotFoundError if the reader does not exist or goes away.
    """
    deadline = _deadline(timeout)
    with _Context() as context:
        name = _resolve(context, reader)
        known = scard.SCARD_STATE_UNAWARE
        while True:
            code, states = scard.SCardGetStatusChange(context, _milliseconds(deadline), [(name, known)])
            if code == scard.SCARD_E_TIMEOUT:
                wanted = "no card was inserted into" if present else "the card was not removed from"
                raise TimeoutError(f"{wanted} reader {name!r} within {timeout:g} s")
            _check(code, "waiting for a card", name)
            _, event, _ = states[0]
            if event & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
                raise ReaderNotFoundError(scard.SCARD_E_READER_UNAVAILABLE, f"reader {name!r} went away")
            if bool(event & scard.SCARD_STATE_PRESENT) == present:
                return
            # Hand the daemon what we now know (its event counter included)
            # so the next call blocks until something changes.
            known = event & ~scard.SCARD_STATE_CHANGED


class PcscConnection:
    """A connection to the card in one PC/SC reader.

    ``reader`` is the reader's full name or a unique part of it. Use as a
    context manager, or call :meth:`connect` and :meth:`close`.
    """

    def __init__(self, reader: str, *, exclusive: bool = False):
        self.reader = reader
        self.exclusive = exclusive
        self._context: int | None = None
        self._card: int | None = None
        self._protocol = 0
        self._atr = b""
        self._transactions = 0

    @property
    def connected(self) -> bool:
        return self._card is not None

    @property
    def atr(self) -> bytes:
        """The card's answer to reset, as read when connecting."""
        self._require()
        return self._atr

    @property
    def protocol(self) -> str:
        """``T=0`` or ``T=1``: the protocol the reader negotiated."""
        self._require()
        return "T=1" if self._protocol == scard.SCARD_PROTOCOL_T1 else "T=0"

    @property
    def _share(self) -> int:
        return int(scard.SCARD_SHARE_EXCLUSIVE if self.exclusive else scard.SCARD_SHARE_SHARED)

    def connect(self) -> PcscConnection:
        """Connect to (and power up) the card; NoCardError if the reader is empty.

        After the card was removed (NoCardError from :meth:`transmit`) the
        connection is closed, and ``connect`` reaches the card inserted next.
        """
        if self._card is not None:
            return self
        code, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _check(code, "cannot reach the PC/SC daemon")
        try:
            self.reader = _resolve(context, self.reader)
            code, card, protocol = scard.SCardConnect(
                context, self.reader, self._share, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
            )
            _check(code, "cannot connect to the card", self.reader)
            try:
                code, _, _, _, atr = scard.SCardStatus(card)
                _check(code, "cannot read the card's status", self.reader)
            except BaseException:
                scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
                raise
        except BaseException:
            scard.SCardReleaseContext(context)
            raise
        self._context, self._card, self._protocol, self._atr = context, card, protocol, bytes(atr)
        return self

    def close(self, *, reset: bool = False) -> None:
        """Disconnect; ``reset=True`` resets the card (ending its PIN session)."""
        card, context = self._card, self._context
        self._card = self._context = None
        self._transactions = 0
        if card is not None:
            scard.SCardDisconnect(card, scard.SCARD_RESET_CARD if reset else scard.SCARD_LEAVE_CARD)
        if context is not None:
            scard.SCardReleaseContext(context)

    def _require(self) -> int:
        if self._card is None:
            raise PcscError(scard.SCARD_E_INVALID_HANDLE, f"not connected to the card in {self.reader!r}")
        return self._card

    def _after(self, code: int, doing: str) -> None:
        """Check the return code of a call on the card handle.

        A reset by another application is acknowledged (SCardReconnect
        without resetting again) before CardResetError is raised, so the
        handle works again; without it every later call fails the same way.
        A card or reader that is gone closes the connection.
        """
        try:
            if code == scard.SCARD_W_RESET_CARD and self._card is not None:
                self._transactions = 0  # a reset ends the transaction
                self._reconnect()
            _check(code, doing, self.reader)
        except (NoCardError, ReaderNotFoundError, PcscUnavailableError):
            self.close()
            raise

    def _reconnect(self) -> None:
        code, protocol = scard.SCardReconnect(
            self._card, self._share, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1, scard.SCARD_LEAVE_CARD
        )
        _check(code, "cannot reconnect to the card after a reset", self.reader)
        code, _, _, _, atr = scard.SCardStatus(self._card)
        _check(code, "cannot read the card's status", self.reader)
        self._protocol, self._atr = protocol, bytes(atr)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the card for this connection alone while the block runs
        (SCardBeginTransaction), so that no other application's command
        falls between chained commands, GET RESPONSEs or the steps of an
        authentication. Nested blocks share the outer transaction.
        """
        card = self._require()
        if self._transactions:
            self._transactions += 1
            try:
                yield
            finally:
                self._transactions = max(0, self._transactions - 1)
            return
        self._after(scard.SCardBeginTransaction(card), "cannot lock the card")
        self._transactions = 1
        try:
            yield
        finally:
            held, self._transactions = self._transactions, 0
            if held and self._card is not None:
                # Fails only when the card is already gone or was reset,
                # which ended the transaction anyway.
                scard.SCardEndTransaction(self._card, scard.SCARD_LEAVE_CARD)

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU; the response includes SW1 SW2.

        NoCardError if the card was removed (the connection is then closed),
        CardResetError if another application reset it.
        """
        card = self._require()
        code, answer = scard.SCardTransmit(card, self._protocol, list(self._for_protocol(bytes(apdu))))
        self._after(code, "transmit failed")
        if len(answer) < 2:
            raise PcscError(scard.SCARD_F_COMM_ERROR, f"the card in {self.reader!r} answered {len(answer)} bytes")
        return bytes(answer)

    def _for_protocol(self, apdu: bytes) -> bytes:
        """The command as the negotiated protocol carries it.

        T=0 (ISO/IEC 7816-3) has no room for Le in a command with data: a
        case 4 command goes without it and the card answers 61xx, which the
        client fetches with GET RESPONSE. T=0 carries no extended lengths.
        pcsc-lite passes commands to the reader unchanged, so this is done here.
        """
        if self._protocol != scard.SCARD_PROTOCOL_T0:
            return apdu
        try:
            cmd = CommandApdu.parse(apdu)
        except MalformedApduError:
            return apdu
        if cmd.extended:
            raise PcscError(
                scard.SCARD_E_INVALID_PARAMETER,
                f"the card in {self.reader!r} talks T=0, which has no extended APDUs; use short APDUs with chaining",
            )
        if cmd.data and cmd.le is not None:
            return apdu[:-1]
        return apdu

    def __enter__(self) -> PcscConnection:
        return self.connect()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
